//go:build !unix

package main

import (
	"os"
	"os/exec"
)

func runArtifact(path string) error {
	cmd := exec.Command(path)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return cmd.Run()
}
