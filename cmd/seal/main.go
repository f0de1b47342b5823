// Command seal bakes a static site and its TLS certificate and key into one
// self-contained HTTPS server: a native executable today, VM and OCI
// images later.
package main

import (
	"os"

	"github.com/certseal/certseal/internal/cli"
)

func main() { os.Exit(cliMain()) }

func cliMain() int { return cli.Main(newApp(), os.Args) }
