package main

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certseal/certseal/internal/acme/acmetest"
	"github.com/certseal/certseal/internal/cli"
	"github.com/certseal/certseal/internal/testutil"
	"github.com/certseal/certseal/pkg/x509util"
)

func startPebble(t *testing.T, opts acmetest.Options) *acmetest.Pebble {
	t.Helper()
	return acmetest.StartShared(t, opts)
}

// runACME runs the command in-process and returns its exit code and
// stderr. The pebble tests run one at a time, so swapping cli.Stderr is
// safe.
func runACME(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stderr bytes.Buffer
	old := cli.Stderr
	cli.Stderr = &stderr
	defer func() { cli.Stderr = old }()
	done := make(chan int, 1)
	go func() { done <- cli.Main(newApp(), append([]string{"acme"}, args...)) }()
	select {
	case code := <-done:
		t.Logf("acme %s\n%s", strings.Join(args, " "), stderr.String())
		return code, stderr.String()
	case <-time.After(60 * time.Second):
		t.Fatalf("acme did not finish in 60 s")
	}
	return 0, ""
}

type fixture struct {
	p        *acmetest.Pebble
	dir      string
	csr      string
	rootFile string
	root     *x509.Certificate
}

func setup(t *testing.T, opts acmetest.Options, names ...string) *fixture {
	t.Helper()
	f := &fixture{p: startPebble(t, opts), dir: t.TempDir()}
	key, err := x509util.GenerateKey(x509util.KeySpec{Type: x509util.ECDSA}, nil)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509util.CreateCSR(key, x509util.Options{Subject: x509util.Subject{CommonName: names[0]}, SANs: names[1:]})
	if err != nil {
		t.Fatal(err)
	}
	f.csr = filepath.Join(f.dir, "server.csr")
	f.rootFile = filepath.Join(f.dir, "pebble-root.pem")
	rootPEM := f.p.RootPEM(t)
	roots, err := x509util.ParseCertificates(rootPEM, "")
	if err != nil {
		t.Fatal(err)
	}
	f.root = roots[0]
	for name, data := range map[string][]byte{f.csr: x509util.EncodeCSRPEM(csr), f.rootFile: rootPEM} {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fixture) args(extra ...string) []string {
	return append([]string{
		"--csr", f.csr, "--email", "admin@example.com",
		"--directory", f.p.DirectoryURL, "--directory-ca", f.p.CAFile,
		"--roots", f.rootFile, "--timeout", "50s",
	}, extra...)
}

// checkChain verifies out with the chain code and with openssl.
func (f *fixture) checkChain(t *testing.T, out, host string) {
	t.Helper()
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := x509util.ParseCertificates(data, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) < 2 {
		t.Fatalf("%s holds %d certificates, want leaf + intermediate", out, len(certs))
	}
	for _, c := range certs {
		if c.Equal(f.root) {
			t.Fatal("the root is in the output")
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(f.root)
	res, err := x509util.OrderChain(certs, x509util.ChainOptions{Roots: pool, Now: time.Now(), Host: host})
	if err != nil || !res.InOrder || !res.Verified {
		t.Fatalf("OrderChain: %v (in order %v, verified %v)", err, res != nil && res.InOrder, res != nil && res.Verified)
	}

	openssl := testutil.RequireTool(t, "openssl")
	leaf := filepath.Join(f.dir, "leaf.pem")
	inter := filepath.Join(f.dir, "intermediates.pem")
	os.WriteFile(leaf, x509util.EncodeCertificatesPEM(certs[0]), 0o644)
	os.WriteFile(inter, x509util.EncodeCertificatesPEM(certs[1:]...), 0o644)
	cmd := exec.Command(openssl, "verify", "-CAfile", f.rootFile, "-untrusted", inter, "-purpose", "sslserver", leaf)
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), ": OK") {
		t.Fatalf("openssl verify: %v\n%s", err, b)
	}
}

func TestIssueHTTPListener(t *testing.T) {
	f := setup(t, acmetest.Options{NonceReject: -1}, "www.certseal.test", "certseal.test")
	out := filepath.Join(f.dir, "server.pem")
	listen := fmt.Sprintf("127.0.0.1:%d", f.p.HTTPPort)
	code, stderr := runACME(t, f.args("--http", listen, "-o", out)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	f.checkChain(t, out, "www.certseal.test")
	acct := filepath.Join(f.dir, "acme-account.key")
	if st, err := os.Stat(acct); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("account key beside the output: %v %v", st, err)
	}
	if !strings.Contains(stderr, "registered the account") {
		t.Errorf("no registration reported: %s", stderr)
	}

	// Again: the output exists, so nothing happens without --force.
	code, stderr = runACME(t, f.args("--http", listen, "-o", out)...)
	if code != 1 || !strings.Contains(stderr, "already exists; use --force") {
		t.Fatalf("rerun without --force: exit %d: %s", code, stderr)
	}
	// Renewal with --force reuses the account.
	before, _ := os.ReadFile(out)
	code, stderr = runACME(t, f.args("--http", listen, "-o", out, "--force")...)
	if code != 0 || !strings.Contains(stderr, "reusing the account") {
		t.Fatalf("renewal: exit %d: %s", code, stderr)
	}
	after, _ := os.ReadFile(out)
	if bytes.Equal(before, after) {
		t.Fatal("renewal did not replace the certificate")
	}
	f.checkChain(t, out, "certseal.test")
}

func TestIssueWebroot(t *testing.T) {
	f := setup(t, acmetest.Options{NonceReject: -1}, "site.certseal.test")
	webroot := filepath.Join(f.dir, "www")
	os.Mkdir(webroot, 0o755)
	os.WriteFile(filepath.Join(webroot, "index.html"), []byte("hello"), 0o644)
	serveDir(t, f.p.HTTPPort, webroot)
	out := filepath.Join(f.dir, "out", "server.pem")
	acct := filepath.Join(f.dir, "account.key")
	code, stderr := runACME(t, f.args("--webroot", webroot, "-o", out, "--account", acct)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	f.checkChain(t, out, "site.certseal.test")
	if _, err := os.Stat(filepath.Join(webroot, ".well-known")); !os.IsNotExist(err) {
		t.Errorf("the challenge directory was left in the webroot: %v", err)
	}
	if _, err := os.Stat(filepath.Join(webroot, "index.html")); err != nil {
		t.Errorf("the site was touched: %v", err)
	}
	if st, err := os.Stat(acct); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("--account key: %v %v", st, err)
	}
}

// serveDir serves dir as a static site on 127.0.0.1:port, as a web
// server the command does not control would.
func serveDir(t *testing.T, port int, dir string) {
	t.Helper()
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir)), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

func TestErrorsFromTheCA(t *testing.T) {
	f := setup(t, acmetest.Options{NonceReject: -1, BlockedDomains: []string{"blocked.test"}}, "unserved.certseal.test")
	out := filepath.Join(f.dir, "server.pem")

	// The webroot exists but nothing serves it: the CA's problem
	// document is in the message, with what to check.
	webroot := t.TempDir()
	code, stderr := runACME(t, f.args("--webroot", webroot, "-o", out)...)
	if code != 1 ||
		!strings.Contains(stderr, "acme: error: the CA could not validate unserved.certseal.test by http-01: connection: ") ||
		!strings.Contains(stderr, "must be served as http://unserved.certseal.test/") {
		t.Fatalf("unserved webroot: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("an output was written after a failure")
	}
	if entries, _ := os.ReadDir(webroot); len(entries) != 0 {
		t.Errorf("the webroot was not cleaned up: %v", entries)
	}

	// A name the CA refuses.
	key, _ := x509util.GenerateKey(x509util.KeySpec{Type: x509util.ECDSA}, nil)
	csr, _ := x509util.CreateCSR(key, x509util.Options{Subject: x509util.Subject{CommonName: "ok.certseal.test"}, SANs: []string{"www.blocked.test"}})
	os.WriteFile(f.csr, x509util.EncodeCSRPEM(csr), 0o644)
	code, stderr = runACME(t, f.args("--http", fmt.Sprintf("127.0.0.1:%d", f.p.HTTPPort), "-o", out)...)
	if code != 1 || !strings.Contains(stderr, "acme: error: creating the order: the CA refuses to issue for") ||
		!strings.Contains(stderr, "www.blocked.test") {
		t.Fatalf("blocked name: exit %d: %s", code, stderr)
	}

	// A wrong directory URL on the right server.
	code, stderr = runACME(t, append(f.args("--http", "127.0.0.1:0", "-o", out), "--directory", strings.TrimSuffix(f.p.DirectoryURL, "/dir")+"/wrong")...)
	if code != 1 || !strings.Contains(stderr, "it is not an ACME directory (HTTP 404)") {
		t.Fatalf("wrong directory: exit %d: %s", code, stderr)
	}

	// The directory's certificate is not trusted without --directory-ca.
	args := []string{"--csr", f.csr, "--email", "a@example.com", "--directory", f.p.DirectoryURL, "--http", "127.0.0.1:0", "-o", out, "--account", filepath.Join(f.dir, "acme-account.key")}
	code, stderr = runACME(t, args...)
	if code != 1 || !strings.Contains(stderr, "pass its root with --directory-ca FILE") {
		t.Fatalf("untrusted directory: exit %d: %s", code, stderr)
	}

	// The chain does not verify against the wrong roots.
	os.WriteFile(f.csr, f.csrFor(t, "roots.certseal.test"), 0o644)
	code, stderr = runACME(t, append(f.args("--http", fmt.Sprintf("127.0.0.1:%d", f.p.HTTPPort), "-o", out), "--roots", f.p.CAFile)...)
	if code != 1 || !strings.Contains(stderr, "the CA's chain does not verify") {
		t.Fatalf("wrong roots: exit %d: %s", code, stderr)
	}
}

func (f *fixture) csrFor(t *testing.T, names ...string) []byte {
	key, _ := x509util.GenerateKey(x509util.KeySpec{Type: x509util.ECDSA}, nil)
	csr, err := x509util.CreateCSR(key, x509util.Options{Subject: x509util.Subject{CommonName: names[0]}, SANs: names[1:]})
	if err != nil {
		t.Fatal(err)
	}
	return x509util.EncodeCSRPEM(csr)
}
