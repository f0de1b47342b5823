// Command seal-runtime is the server inside every artifact seal makes. On
// its own it does nothing: seal appends a site, its certificate and its
// configuration to a copy of this executable, and at start the copy reads
// that payload from its own file, verifies its checksum and serves it.
//
// It links only the payload reader, the server and the standard library
// (see TestRuntimeDependencies): its size and attack surface are part of
// what is sealed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/certseal/certseal/internal/payload"
	"github.com/certseal/certseal/internal/server"
)

func main() { exit(run(os.Args, os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	name := filepath.Base(args[0])
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	httpsAddr := fs.String("https", "", "listen for HTTPS on `ADDR` instead of the sealed default")
	httpAddr := fs.String("http", "", "listen for plain HTTP on `ADDR` instead of the sealed default ('-' turns it off)")
	stateDir := fs.String("state", "", "keep runtime state (ACME account and certificates) in `DIR`")
	redirectPort := fs.Int("redirect-port", -1, "name HTTPS port `N` in http→https redirects (0: the listening port; default: as sealed)")
	accessLog := fs.Bool("access-log", false, "log every request on standard output (also on when sealed with --access-log)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s [options]\n\nServes the site sealed into this executable.\n\n", name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: error: unexpected argument %q\n", name, fs.Arg(0))
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "%s: error: %v\n", name, err)
		return 1
	}

	exe, err := os.Executable()
	if err != nil {
		return fail(fmt.Errorf("cannot find my own executable: %v", err))
	}
	site, err := payload.Open(exe)
	if err != nil {
		if errors.Is(err, payload.ErrNoPayload) {
			return fail(fmt.Errorf("%s carries no sealed site: it is truncated or damaged, or it is the bare runtime (make a server with 'seal --data DIR --keys DIR')", exe))
		}
		return fail(err)
	}
	if *stateDir != "" {
		// Prepared now so that a wrong path is reported at start rather
		// than at the first renewal.
		if err := os.MkdirAll(*stateDir, 0o700); err != nil {
			return fail(fmt.Errorf("state directory: %v", err))
		}
	}

	opts := server.Options{
		HTTPSAddr: *httpsAddr,
		HTTPAddr:  *httpAddr,
		Logger:    log.New(stderr, name+": ", log.LstdFlags),
		Ready: func(a server.Addrs) {
			fmt.Fprintf(stderr, "%s: serving %d files on %s\n", name, len(site.Files), a.URL())
		},
	}
	opts.RedirectPort = site.Config.RedirectPort
	if *redirectPort >= 0 {
		if *redirectPort > 65535 {
			return fail(fmt.Errorf("--redirect-port %d is not a port number", *redirectPort))
		}
		opts.RedirectPort = *redirectPort
	}
	if *accessLog || site.Config.AccessLog {
		opts.AccessLog = stdout
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := setup(ctx, site, &opts); err != nil {
		return fail(err)
	}
	ctx, certs, err := setupACME(ctx, site, *stateDir, *httpAddr, &opts) // acme.go
	if err != nil {
		return fail(err)
	}
	if err := server.Run(ctx, site, opts); err != nil {
		return fail(err)
	}
	if err := certs.wait(); err != nil {
		return fail(err)
	}
	return 0
}
