package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certseal/certseal/internal/acme"
	"github.com/certseal/certseal/internal/acme/acmetest"
	"github.com/certseal/certseal/internal/payload"
)

// lockedBuffer collects a child process's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startArtifact runs a sealed server until stop is called (or the test
// ends) and returns its stderr.
func startArtifact(t *testing.T, path string, args ...string) (stderr *lockedBuffer, stop func()) {
	t.Helper()
	stderr = &lockedBuffer{}
	cmd := exec.Command(path, args...)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cmd.Process.Signal(os.Interrupt)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Error("the artifact did not stop on SIGINT")
			}
		})
	}
	t.Cleanup(stop)
	return stderr, stop
}

// TestACMEEndToEnd seals a site with --acme and no certificate, runs the
// artifact against pebble on the ports pebble validates, and checks that
// it serves a certificate pebble issued, keeps its state in --state, and
// serves the saved certificate after a restart without ordering.
func TestACMEEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("pebble tests are skipped with -short")
	}
	pebbleDir := t.TempDir()
	bin, err := acmetest.BuildPebble(pebbleDir)
	if err != nil {
		acmetest.SkipOrFail(t, err)
	}
	p := acmetest.Start(t, bin, acmetest.Options{NonceReject: -1})
	runtimePath := buildTestRuntime(t)
	dir := t.TempDir()
	site := filepath.Join(dir, "site")
	os.MkdirAll(site, 0o755)
	os.WriteFile(filepath.Join(site, "index.html"), []byte("<h1>acme</h1>\n"), 0o644)
	out := filepath.Join(dir, "server")
	const name = "e2e.certseal.test"
	sealForTest(t, "--data", site, "--runtime", runtimePath, "-o", out,
		"--acme", "admin@example.com", "--domain", name,
		"--acme-directory", p.DirectoryURL, "--acme-directory-ca", p.CAFile,
		"--https", "127.0.0.1:"+strconv.Itoa(p.TLSPort), "--http", "127.0.0.1:"+strconv.Itoa(p.HTTPPort))

	s, err := payload.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Config
	if c.ACMEEmail != "admin@example.com" || strings.Join(c.ACMEDomains, ",") != name || c.ACMEDirectory != p.DirectoryURL ||
		c.ACMEStateDir != stateDirUnix || !bytes.Contains(c.ACMEDirectoryCA, []byte("BEGIN CERTIFICATE")) || len(s.KeyPEM) != 0 {
		t.Fatalf("sealed config %+v, key %d bytes", c, len(s.KeyPEM))
	}

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(p.RootPEM(t))
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+strconv.Itoa(p.TLSPort))
		},
	}}
	get := func() (string, error) {
		res, err := client.Get("https://" + name + "/")
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if string(b) != "<h1>acme</h1>\n" {
			return "", fmt.Errorf("HTTP %d %q", res.StatusCode, b)
		}
		return res.TLS.PeerCertificates[0].SerialNumber.Text(16), nil
	}
	waitSerial := func(stderr *lockedBuffer) string {
		t.Helper()
		deadline := time.Now().Add(40 * time.Second)
		for {
			serial, err := get()
			if err == nil {
				return serial
			}
			if time.Now().After(deadline) {
				t.Fatalf("no certificate served: %v\nartifact:\n%s", err, stderr)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// The sealed state directory is relative to the artifact.
	stderr, stop := startArtifact(t, out)
	start := time.Now()
	serial := waitSerial(stderr)
	t.Logf("the artifact served pebble's certificate %s after %v", serial, time.Since(start).Round(time.Millisecond))
	stop()
	state := filepath.Join(dir, stateDirUnix)
	for f, mode := range map[string]os.FileMode{acme.AccountKeyFile: 0o600, acme.CertKeyFile: 0o600, acme.CertFile: 0o644} {
		st, err := os.Stat(filepath.Join(state, f))
		if err != nil {
			t.Fatalf("%v\nartifact:\n%s", err, stderr)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", f, st.Mode().Perm(), mode)
		}
	}
	if !strings.Contains(stderr.String(), "acme: serving a certificate for "+name) {
		t.Errorf("artifact log:\n%s", stderr)
	}

	// Restart with --state elsewhere holding a copy: the same certificate
	// is served and nothing is ordered.
	other := filepath.Join(t.TempDir(), "st")
	if err := os.CopyFS(other, os.DirFS(state)); err != nil {
		t.Fatal(err)
	}
	stderr2, stop2 := startArtifact(t, out, "--state", other)
	if got := waitSerial(stderr2); got != serial {
		t.Errorf("after the restart the serial is %s, want the saved %s", got, serial)
	}
	stop2()
	if log := stderr2.String(); !strings.Contains(log, "loaded the saved") || strings.Contains(log, "ordering") {
		t.Errorf("restart log:\n%s", log)
	}
}
