//go:build linux

package main

import (
	"context"
	"fmt"
	"os"

	"github.com/certseal/certseal/internal/payload"
	"github.com/certseal/certseal/internal/vminit"
)

// As the init of a VM image (PID 1), the pseudo filesystems must be
// mounted before anything else: finding our own executable to read the
// payload needs /proc.
func init() {
	if vminit.IsInit() {
		if err := vminit.Boot(); err != nil {
			vminit.Fatal(err)
		}
	}
}

// exit ends the process; as a VM's init it powers the VM off instead,
// since PID 1 exiting makes the kernel panic.
func exit(code int) {
	if vminit.IsInit() {
		vminit.Fatal(fmt.Errorf("the server stopped (exit status %d)", code))
	}
	os.Exit(code)
}

// configureNetwork sets up the VM's network (DHCP, or the sealed static
// address; the kernel command line may override either). Outside a VM it
// does nothing.
func configureNetwork(ctx context.Context, cfg payload.Config) error {
	if !vminit.IsInit() {
		return nil
	}
	n := vminit.CmdlineOverrides(vminit.Network{IP: cfg.IP, Netmask: cfg.Netmask, Gateway: cfg.Gateway})
	lease, err := vminit.ConfigureNetwork(ctx, n)
	if err != nil {
		return err
	}
	vminit.Logger.Printf("network %s", lease)
	return nil
}
