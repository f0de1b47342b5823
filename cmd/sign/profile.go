package main

import (
	"fmt"

	"github.com/certseal/certseal/internal/cfsslreq"
	"github.com/certseal/certseal/internal/cli"
	"github.com/certseal/certseal/pkg/x509util"
	ucli "github.com/urfave/cli/v2"
)

// profileFlags are the flags for cfssl signing profiles.
func profileFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "config", Usage: "cfssl signing configuration JSON `FILE`"},
		&ucli.StringFlag{Name: "profile", Usage: "the signing profile `NAME` in --config (default: its \"default\" profile)"},
	}
}

// applyProfile merges the cfssl profile named by --profile/--config into
// opts. The profile's expiry replaces --days unless --days is given.
func applyProfile(c *ucli.Context, opts *x509util.Options) error {
	path, name := c.String("config"), c.String("profile")
	if path == "" {
		if name != "" {
			return cli.Usagef("--profile needs --config naming the cfssl configuration file")
		}
		return nil
	}
	if path == "-" && c.String("csrin") == "-" {
		return cli.Usagef("--config and --csrin cannot both read standard input")
	}
	data, err := cli.ReadInput(path)
	if err != nil {
		return err
	}
	p, err := cfsslreq.LoadProfile(data, name)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if c.IsSet("client") && p.IsCA {
		return cli.Usagef("--client contradicts the CA profile %q", name)
	}
	return p.Apply(opts, c.IsSet("days"))
}
