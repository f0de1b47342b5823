// Command chain puts certificates in order: the leaf first, then each
// issuer up to (not including) the root, and verifies the result.
package main

import (
	"os"

	"github.com/certseal/certseal/internal/cli"
)

func main() { os.Exit(cli.Main(newApp(), os.Args)) }
