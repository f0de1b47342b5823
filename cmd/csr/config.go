package main

import (
	"errors"

	ucli "github.com/urfave/cli/v2"
)

// configFlags are the flags for cfssl JSON requests.
func configFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "config", Usage: "read the request (CN, hosts, key, names) from a cfssl JSON `FILE`"},
	}
}

func runConfig(c *ucli.Context) error {
	return errors.New("--config is not implemented yet")
}
