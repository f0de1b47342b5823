package main

import (
	"errors"

	"github.com/certseal/certseal/pkg/x509util"
	ucli "github.com/urfave/cli/v2"
)

// profileFlags are the flags for cfssl signing profiles.
func profileFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "config", Usage: "cfssl signing configuration JSON `FILE`"},
		&ucli.StringFlag{Name: "profile", Usage: "the signing profile `NAME` in --config"},
	}
}

func applyProfile(c *ucli.Context, opts *x509util.Options) error {
	if c.String("config") != "" || c.String("profile") != "" {
		return errors.New("--config/--profile are not implemented yet")
	}
	return nil
}
