package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/certseal/certseal/internal/acme"
	"github.com/certseal/certseal/internal/payload"
	"github.com/certseal/certseal/internal/server"
)

// acmeRun is the state of the certificate manager of a site sealed with
// --acme.
type acmeRun struct {
	done chan error // receives Manager.Run's result once it has started
	ran  chan struct{}
}

// wait returns the manager's error, if it stopped on one. It waits at
// most a few seconds for a manager still ordering when the server stops.
func (a *acmeRun) wait() error {
	if a == nil {
		return nil
	}
	select {
	case <-a.ran:
	default:
		return nil // the server stopped before the manager started
	}
	select {
	case err := <-a.done:
		return err
	case <-time.After(5 * time.Second):
		return nil
	}
}

// setupACME makes a site sealed with --acme serve a certificate from its
// CA: opts gets the manager as its certificate source and HTTP-01
// handler, and the manager starts ordering once the listeners are bound
// (the CA connects to them). The returned context ends when the manager
// gives up, so the server stops and run reports the manager's error.
// Sites without ACME are left alone (nil acmeRun).
func setupACME(ctx context.Context, site *payload.Site, stateFlag, httpFlag string, opts *server.Options) (context.Context, *acmeRun, error) {
	cfg := site.Config
	if cfg.ACMEEmail == "" || cfg.NoTLS {
		return ctx, nil, nil
	}
	state, err := stateDir(stateFlag, cfg.ACMEStateDir)
	if err != nil {
		return ctx, nil, err
	}
	mc := acme.ManagerConfig{
		Email:        cfg.ACMEEmail,
		Domains:      cfg.ACMEDomains,
		DirectoryURL: cfg.ACMEDirectory,
		StateDir:     state,
		Logger:       opts.Logger,
	}
	if len(cfg.ACMEDirectoryCA) > 0 {
		mc.RootCAs = x509.NewCertPool()
		if !mc.RootCAs.AppendCertsFromPEM(cfg.ACMEDirectoryCA) {
			return ctx, nil, errors.New("the sealed ACME directory CA holds no PEM certificate")
		}
	}
	// Without a plain-HTTP listener only TLS-ALPN-01 can be answered.
	httpAddr := cfg.HTTPAddr
	if httpFlag != "" {
		httpAddr = httpFlag
	}
	if httpAddr == "" || httpAddr == "-" {
		mc.Challenges = []string{acme.ChallengeTLSALPN01}
	}
	// A certificate sealed with the site is served until the CA's.
	if len(site.CertPEM) > 0 && len(site.KeyPEM) > 0 {
		fb, err := tls.X509KeyPair(site.CertPEM, site.KeyPEM)
		if err != nil {
			return ctx, nil, fmt.Errorf("the sealed certificate: %v", err)
		}
		mc.Fallback = &fb
	}
	m, err := acme.NewManager(mc)
	if err != nil {
		return ctx, nil, err
	}
	opts.Certificates = m
	wrap := opts.HTTPHandlerWrap
	opts.HTTPHandlerWrap = m.WrapHTTP
	if wrap != nil {
		opts.HTTPHandlerWrap = func(h http.Handler) http.Handler { return m.WrapHTTP(wrap(h)) }
	}
	ctx, cancel := context.WithCancel(ctx)
	a := &acmeRun{done: make(chan error, 1), ran: make(chan struct{})}
	ready := opts.Ready
	opts.Ready = func(addrs server.Addrs) {
		if ready != nil {
			ready(addrs)
		}
		close(a.ran)
		go func() {
			err := m.Run(ctx)
			a.done <- err
			if err != nil {
				cancel() // no certificate and no hope of one: stop serving
			}
		}()
	}
	return ctx, a, nil
}

// stateDir returns the state directory: --state as given (relative to
// the working directory), else the sealed one, relative to the artifact's
// directory, so the same state is found whatever the working directory.
func stateDir(flag, sealed string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if sealed == "" {
		return "", errors.New("the site was sealed with --acme but no state directory; give one with --state DIR")
	}
	if filepath.IsAbs(sealed) {
		return sealed, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot find my own executable to place the state directory %s: %v; give one with --state DIR", sealed, err)
	}
	if p, err := filepath.EvalSymlinks(exe); err == nil {
		exe = p
	}
	return filepath.Join(filepath.Dir(exe), sealed), nil
}
