//go:build unix

package main

import (
	"os"
	"syscall"
)

// runArtifact replaces seal with the sealed server, so signals (Ctrl-C)
// and the exit status are the server's own.
func runArtifact(path string) error {
	return syscall.Exec(path, []string{path}, os.Environ())
}
