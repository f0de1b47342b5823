// Package keydir is a certificate source that reads server.pem and
// server.key from a directory at run time and reloads them when they
// change: the OCI target's --keys-at-runtime mode, where the key stays out
// of the image and comes from a mounted Kubernetes Secret. Kubernetes
// updates a Secret volume by swapping its "..data" symlink, so a change is
// noticed by comparing file contents (by hash), not mtimes alone.
package keydir

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"
)

// File names read from the directory.
const (
	CertFile = "server.pem"
	KeyFile  = "server.key"
)

// Source is a CertSource (see internal/server) backed by a directory.
type Source struct {
	dir    string
	cur    atomic.Pointer[tls.Certificate]
	digest [32]byte
	logger *log.Logger
}

// Open reads the pair from dir and returns a Source presenting it. It
// returns an error when either file is missing or unreadable, or when they
// do not form a valid pair; errors never contain key material.
func Open(dir string, logger *log.Logger) (*Source, error) {
	if logger == nil {
		logger = log.New(os.Stderr, "", log.LstdFlags)
	}
	s := &Source{dir: dir, logger: logger}
	if _, err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// GetCertificate returns the current certificate.
func (s *Source) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cur.Load(), nil
}

// Reload rereads the files. It returns whether the certificate changed; on
// error the previous certificate stays in use.
func (s *Source) Reload() (bool, error) { return s.reload() }

func (s *Source) reload() (bool, error) {
	certPEM, err := readSmall(filepath.Join(s.dir, CertFile))
	if err != nil {
		return false, err
	}
	keyPEM, err := readSmall(filepath.Join(s.dir, KeyFile))
	if err != nil {
		return false, err
	}
	h := sha256.New()
	h.Write(certPEM)
	h.Write([]byte{0})
	h.Write(keyPEM)
	var d [32]byte
	copy(d[:], h.Sum(nil))
	if s.cur.Load() != nil && bytes.Equal(d[:], s.digest[:]) {
		return false, nil
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// X509KeyPair's errors name PEM types and mismatches, never key bytes.
		return false, fmt.Errorf("keys in %s: %v", s.dir, err)
	}
	s.digest = d
	s.cur.Store(&cert)
	return true, nil
}

func readSmall(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s does not exist (mount the directory holding %s and %s)", p, CertFile, KeyFile)
		}
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1<<20+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %v", p, err)
	}
	if len(b) > 1<<20 {
		return nil, fmt.Errorf("%s is larger than 1 MiB", p)
	}
	return b, nil
}

// Watch rereads the files every interval and on SIGHUP until stop is
// closed, logging each change and each failure (the old pair stays in
// use after a failure, e.g. halfway through an update).
func (s *Source) Watch(interval time.Duration, stop <-chan struct{}) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	t := time.NewTicker(interval)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		case <-hup:
		}
		changed, err := s.reload()
		switch {
		case err != nil:
			if err.Error() != lastErr {
				s.logger.Printf("keeping the current certificate: %v", err)
			}
			lastErr = err.Error()
		case changed:
			lastErr = ""
			leaf := s.cur.Load().Leaf
			if leaf != nil {
				s.logger.Printf("reloaded the certificate from %s (%s, expires %s)", s.dir, leaf.Subject, leaf.NotAfter.Format(time.RFC3339))
			} else {
				s.logger.Printf("reloaded the certificate from %s", s.dir)
			}
		}
	}
}
