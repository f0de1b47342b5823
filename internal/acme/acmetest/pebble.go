// Package acmetest runs a real pebble ACME test CA on loopback for tests:
// pebble itself (built from the module's tool dependency), a tiny DNS
// server that resolves every name to 127.0.0.1 so validations reach the
// listeners under test, and helpers to fetch pebble's issuing root.
package acmetest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"github.com/certseal/certseal/internal/testutil"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// PebblePackage is the tool dependency recorded in go.mod.
const PebblePackage = "github.com/letsencrypt/pebble/v2/cmd/pebble"

// BuildPebble builds pebble into dir and returns its path. Call it once
// from TestMain; it takes a few seconds with a warm build cache.
func BuildPebble(dir string) (string, error) {
	bin := filepath.Join(dir, "pebble")
	cmd := exec.Command("go", "build", "-o", bin, PebblePackage)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building pebble: %v\n%s", err, out)
	}
	return bin, nil
}

// SkipOrFail skips t because pebble is unavailable, or fails it when
// CERTSEAL_REQUIRE_TOOLS=1 (CI), so the ACME tests never silently vanish.
func SkipOrFail(t testing.TB, why error) {
	t.Helper()
	if os.Getenv("CERTSEAL_REQUIRE_TOOLS") == "1" {
		t.Fatalf("pebble is required (CERTSEAL_REQUIRE_TOOLS=1): %v", why)
	}
	t.Skipf("pebble unavailable: %v", why)
}

// Options configures one pebble instance.
type Options struct {
	// BlockedDomains are refused with rejectedIdentifier.
	BlockedDomains []string
	// NonceReject is the percentage of valid nonces pebble rejects with
	// badNonce (pebble's default is 5; -1 keeps it).
	NonceReject int
	// Validity, when non-zero, is the lifetime of the certificates pebble
	// issues (whole seconds; its default is 90 days), to test renewal.
	Validity time.Duration
	// NoAuthzReuse makes every order validate again (pebble reuses a
	// valid authorization half of the time by default).
	NoAuthzReuse bool
}

// Pebble is a running pebble.
type Pebble struct {
	DirectoryURL  string
	ManagementURL string
	// CAFile is pebble's minica root, which signs its HTTPS listeners
	// (not the certificates it issues).
	CAFile string
	CAPool *x509.CertPool
	// HTTPPort and TLSPort are where pebble connects for HTTP-01 and
	// TLS-ALPN-01 validation, on 127.0.0.1.
	HTTPPort, TLSPort int

	log *testutil.SyncBuffer
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func moduleDir() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/letsencrypt/pebble/v2").Output()
	if err != nil {
		return "", fmt.Errorf("locating the pebble module: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("the pebble module is not downloaded")
	}
	return dir, nil
}

// Start runs pebble (the binary at bin) with a DNS server answering
// 127.0.0.1 for every name, waits until its directory answers, and stops
// both when t ends.
func Start(t testing.TB, bin string, opts Options) *Pebble {
	t.Helper()
	mod, err := moduleDir()
	if err != nil {
		SkipOrFail(t, err)
	}
	dnsAddr := startDNS(t)
	dir := t.TempDir()
	p := &Pebble{
		CAFile:   filepath.Join(mod, "test", "certs", "pebble.minica.pem"),
		HTTPPort: FreePort(t),
		TLSPort:  FreePort(t),
		log:      &testutil.SyncBuffer{},
	}
	listen := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	mgmt := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	p.DirectoryURL = "https://" + listen + "/dir"
	p.ManagementURL = "https://" + mgmt
	blocked := opts.BlockedDomains
	if blocked == nil {
		blocked = []string{}
	}
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  listen,
		"managementListenAddress":        mgmt,
		"certificate":                    filepath.Join(mod, "test", "certs", "localhost", "cert.pem"),
		"privateKey":                     filepath.Join(mod, "test", "certs", "localhost", "key.pem"),
		"httpPort":                       p.HTTPPort,
		"tlsPort":                        p.TLSPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"domainBlocklist":                blocked,
		"retryAfter":                     map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm":                   "ecdsa",
	}}
	if opts.Validity > 0 {
		cfg["pebble"].(map[string]any)["profiles"] = map[string]any{
			"default": map[string]any{"description": "short-lived for tests", "validityPeriod": int(opts.Validity / time.Second)},
		}
	}
	cfgJSON, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "pebble-config.json")
	if err := os.WriteFile(cfgPath, cfgJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(p.CAFile)
	if err != nil {
		SkipOrFail(t, err)
	}
	p.CAPool = x509.NewCertPool()
	p.CAPool.AppendCertsFromPEM(caPEM)

	cmd := exec.Command(bin, "-config", cfgPath, "-dnsserver", dnsAddr)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1")
	if opts.NonceReject >= 0 {
		cmd.Env = append(cmd.Env, fmt.Sprintf("PEBBLE_WFE_NONCEREJECT=%d", opts.NonceReject))
	}
	if opts.NoAuthzReuse {
		cmd.Env = append(cmd.Env, "PEBBLE_AUTHZREUSE=0")
	}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting pebble: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("pebble log:\n%s", p.log.String())
		}
	})
	if err := p.waitReady(15 * time.Second); err != nil {
		t.Fatalf("pebble did not start: %v\n%s", err, p.log.String())
	}
	return p
}

// Log returns what pebble printed so far.
func (p *Pebble) Log() string { return p.log.String() }

func (p *Pebble) client() *http.Client {
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.CAPool}},
	}
}

func (p *Pebble) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	c := p.client()
	for {
		res, err := c.Get(p.DirectoryURL)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", res.StatusCode)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// RootPEM returns pebble's issuing root (management /roots/0), which is
// new at every start.
func (p *Pebble) RootPEM(t testing.TB) []byte {
	t.Helper()
	res, err := p.client().Get(p.ManagementURL + "/roots/0")
	if err != nil {
		t.Fatalf("fetching pebble's root: %v", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("fetching pebble's root: HTTP %d %v", res.StatusCode, err)
	}
	return b
}

// startDNS answers A queries for any name with 127.0.0.1 and everything
// else with an empty NOERROR answer (pebble asks AAAA first and uses the
// first address it gets). Pebble's resolver speaks DNS over TCP.
func startDNS(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: l, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, qq := range q.Question {
			if qq.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 0},
					A:   net.IPv4(127, 0, 0, 1),
				})
			}
		}
		w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the test DNS server did not start")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.ShutdownContext(ctx)
	})
	return l.Addr().String()
}

var shared struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// StartShared starts a fresh pebble for t from a binary built once per
// test process (skipped with -short; SkipOrFail when it cannot be built).
// A TestMain should call RemoveShared after the tests.
func StartShared(t *testing.T, opts Options) *Pebble {
	t.Helper()
	if testing.Short() {
		t.Skip("pebble tests are skipped with -short")
	}
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "certseal-pebble-")
		if shared.err == nil {
			shared.bin, shared.err = BuildPebble(shared.dir)
		}
	})
	if shared.err != nil {
		SkipOrFail(t, shared.err)
	}
	return Start(t, shared.bin, opts)
}

// RemoveShared deletes the pebble binary StartShared built, if any.
func RemoveShared() {
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
}
