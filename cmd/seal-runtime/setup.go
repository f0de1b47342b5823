package main

import (
	"context"
	"time"

	"github.com/certseal/certseal/internal/keydir"
	"github.com/certseal/certseal/internal/payload"
	"github.com/certseal/certseal/internal/server"
)

// keyReloadInterval is how often keys read at run time are checked for a
// change (SIGHUP checks at once).
const keyReloadInterval = 5 * time.Second

// setup does what the sealed configuration asks beyond serving: the VM's
// network, and keys read from a mounted directory (sealed with
// --keys-at-runtime), reloaded when they change until ctx ends.
func setup(ctx context.Context, site *payload.Site, opts *server.Options) error {
	if err := configureNetwork(ctx, site.Config); err != nil {
		return err
	}
	if dir := site.Config.KeysAtRuntimeDir; dir != "" && !site.Config.NoTLS {
		src, err := keydir.Open(dir, opts.Logger)
		if err != nil {
			return err
		}
		opts.Certificates = src
		go src.Watch(keyReloadInterval, ctx.Done())
	}
	return nil
}
