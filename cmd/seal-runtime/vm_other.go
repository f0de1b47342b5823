//go:build !linux

package main

import (
	"context"
	"os"

	"github.com/certseal/certseal/internal/payload"
)

func exit(code int) { os.Exit(code) }

func configureNetwork(context.Context, payload.Config) error { return nil }
