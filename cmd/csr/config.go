package main

import (
	"fmt"

	"github.com/certseal/certseal/internal/cfsslreq"
	"github.com/certseal/certseal/internal/cli"
	"github.com/certseal/certseal/pkg/x509util"
	ucli "github.com/urfave/cli/v2"
)

// configFlags are the flags for cfssl JSON requests.
func configFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "config", Usage: "read the request (CN, hosts, key, names) from a cfssl JSON `FILE` ('-' for stdin)"},
	}
}

// runConfig makes a CSR from a cfssl JSON request. The request replaces
// the positional arguments and subject flags; --san adds names. Like
// cfssl, a request without a "key" section gets an ECDSA P-256 key unless
// --key-type says otherwise.
func runConfig(c *ucli.Context) error {
	if c.NArg() > 0 {
		return cli.Usagef("--config replaces the COMMON-NAME and ORGANIZATION arguments; drop %q", c.Args().First())
	}
	for _, f := range []string{"org", "ou", "country", "province", "locality"} {
		if c.IsSet(f) {
			return cli.Usagef("--config sets the subject; put --%s in the request's \"names\" instead", f)
		}
	}
	path := c.String("config")
	data, err := cli.ReadInput(path)
	if err != nil {
		return err
	}
	req, err := cfsslreq.ParseRequest(data)
	if err != nil {
		return fmt.Errorf("%s: %v", displayName(path), err)
	}
	spec := req.Key
	switch {
	case spec != nil && c.String("keyin") != "":
		return cli.Usagef("%s asks for a new key (\"key\") but --keyin names an existing one; drop one of them", displayName(path))
	case spec != nil && (c.IsSet("key-type") || c.IsSet("length")):
		return cli.Usagef("%s already chooses the key (\"key\"); drop --key-type and -l/--length", displayName(path))
	case spec == nil && c.String("keyin") == "" && !c.IsSet("key-type") && !c.IsSet("length"):
		spec = &x509util.KeySpec{Type: x509util.ECDSA, Size: 256} // cfssl's default
	}
	opts := req.Options
	opts.SANs = append(opts.SANs, c.StringSlice("san")...)
	return write(c, opts, spec)
}

func displayName(path string) string {
	if path == "-" {
		return "standard input"
	}
	return path
}
