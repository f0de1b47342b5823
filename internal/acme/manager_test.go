package acme_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certseal/certseal/internal/acme"
	"github.com/certseal/certseal/internal/acme/acmetest"
	"github.com/certseal/certseal/internal/payload"
	"github.com/certseal/certseal/internal/server"
	"github.com/certseal/certseal/pkg/x509util"
)

const siteBody = "<h1>sealed</h1>\n"

// syncLog collects a Manager's log lines for assertions.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
	t  *testing.T
}

func (s *syncLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.Logf("%s", bytes.TrimSpace(p))
	return s.b.Write(p)
}

func (s *syncLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newManager(t *testing.T, p *acmetest.Pebble, cfg acme.ManagerConfig) (*acme.Manager, *syncLog) {
	t.Helper()
	lg := &syncLog{t: t}
	if cfg.Email == "" {
		cfg.Email = "admin@example.com"
	}
	if cfg.StateDir == "" {
		cfg.StateDir = t.TempDir()
	}
	if p != nil {
		cfg.DirectoryURL, cfg.RootCAs = p.DirectoryURL, p.CAPool
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = time.Second
	}
	cfg.Logger = log.New(lg, "", log.Ltime|log.Lmicroseconds)
	m, err := acme.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, lg
}

// serveSealed runs server.Run with m on the ports pebble validates on, and
// m.Run once the listeners are bound, until the test ends. runErr
// receives m.Run's result.
func serveSealed(t *testing.T, p *acmetest.Pebble, m *acme.Manager) (httpsAddr string, runErr chan error) {
	t.Helper()
	lnS, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.TLSPort))
	if err != nil {
		t.Fatal(err)
	}
	lnH, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.HTTPPort))
	if err != nil {
		t.Fatal(err)
	}
	site := &payload.Site{Files: []*payload.File{{
		Path: "/index.html", ContentType: "text/html; charset=utf-8", ETag: `"1"`, Body: []byte(siteBody),
	}}}
	ctx, cancel := context.WithCancel(context.Background())
	runErr = make(chan error, 1)
	srvDone := make(chan error, 1)
	go func() {
		srvDone <- server.Run(ctx, site, server.Options{
			Listeners:       server.Listeners{HTTPS: lnS, HTTP: lnH},
			Certificates:    m,
			HTTPHandlerWrap: m.WrapHTTP,
			Logger:          log.New(io.Discard, "", 0),
			Ready:           func(server.Addrs) { go func() { runErr <- m.Run(ctx) }() },
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-srvDone:
			if err != nil {
				t.Errorf("server.Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("server.Run did not return")
		}
	})
	return lnS.Addr().String(), runErr
}

// httpsClient makes a new TLS connection for every request, verifying the
// server's certificate against pebble's issuing root.
func httpsClient(t *testing.T, p *acmetest.Pebble, addr string) *http.Client {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(p.RootPEM(t)) {
		t.Fatal("pebble's root does not parse")
	}
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots},
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
		},
	}
}

// fetch GETs the site as name and returns the serial of the certificate
// it was served with.
func fetch(c *http.Client, name string) (string, error) {
	res, err := c.Get("https://" + name + "/")
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusOK || string(body) != siteBody {
		return "", fmt.Errorf("HTTP %d %q", res.StatusCode, body)
	}
	return res.TLS.PeerCertificates[0].SerialNumber.Text(16), nil
}

// waitServed polls until the site answers with a certificate pebble
// issued, and returns its serial.
func waitServed(t *testing.T, c *http.Client, name string, runErr chan error, limit time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		serial, err := fetch(c, name)
		if err == nil {
			return serial
		}
		select {
		case err := <-runErr:
			t.Fatalf("Manager.Run returned %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no certificate served after %v: %v", limit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestManagerObtain: a server with no certificate gets one at start by
// each challenge type, saves it with private modes, and a restart serves
// it from the state directory without contacting the CA.
func TestManagerObtain(t *testing.T) {
	for _, typ := range []string{acme.ChallengeHTTP01, acme.ChallengeTLSALPN01} {
		t.Run(typ, func(t *testing.T) {
			p := startPebble(t, acmetest.Options{NonceReject: -1})
			state := t.TempDir()
			const name = "site.certseal.test"
			m, lg := newManager(t, p, acme.ManagerConfig{Domains: []string{name, "www." + name}, Challenges: []string{typ}, StateDir: state})
			if m.Certificate() != nil {
				t.Fatal("a certificate before the first order")
			}
			addr, runErr := serveSealed(t, p, m)
			start := time.Now()
			c := httpsClient(t, p, addr)
			serial := waitServed(t, c, name, runErr, 30*time.Second)
			t.Logf("served a certificate from pebble after %v", time.Since(start).Round(time.Millisecond))
			if _, err := fetch(c, "www."+name); err != nil {
				t.Errorf("www name: %v", err)
			}
			if !strings.Contains(lg.String(), "answering "+typ) {
				t.Errorf("the log does not show a %s answer", typ)
			}
			for f, mode := range map[string]os.FileMode{acme.AccountKeyFile: 0o600, acme.CertKeyFile: 0o600, acme.CertFile: 0o644} {
				st, err := os.Stat(filepath.Join(state, f))
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != mode {
					t.Errorf("%s has mode %v, want %v", f, st.Mode().Perm(), mode)
				}
			}
			if ents, _ := os.ReadDir(state); len(ents) != 3 {
				t.Errorf("state directory holds %d entries, want 3 (no temporary files left)", len(ents))
			}

			// Restart: the saved certificate is served, and the CA (here a
			// directory that counts requests) is not asked.
			var asked atomic.Int32
			ca := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { asked.Add(1); http.NotFound(w, r) }))
			defer ca.Close()
			m2, lg2 := newManager(t, nil, acme.ManagerConfig{Domains: []string{name, "www." + name}, StateDir: state, DirectoryURL: ca.URL})
			cur := m2.Certificate()
			if cur == nil || cur.Leaf.SerialNumber.Text(16) != serial {
				t.Fatalf("restart serves %v, want the saved serial %s", cur, serial)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			if err := m2.Run(ctx); err != nil {
				t.Fatal(err)
			}
			if n := asked.Load(); n != 0 {
				t.Errorf("the restarted manager made %d requests to the CA", n)
			}
			if !strings.Contains(lg2.String(), "loaded the saved") || !strings.Contains(lg2.String(), "next renewal at") {
				t.Errorf("restart log:\n%s", lg2)
			}
		})
	}
}

// TestManagerRenewal: with certificates living 30 s, the manager renews
// two thirds in, while a client making a new TLS connection for every
// request sees no failure, and the served serial changes.
func TestManagerRenewal(t *testing.T) {
	const validity = 30 * time.Second
	p := startPebble(t, acmetest.Options{NonceReject: -1, Validity: validity, NoAuthzReuse: true})
	const name = "renew.certseal.test"
	m, lg := newManager(t, p, acme.ManagerConfig{Domains: []string{name}, Challenges: []string{acme.ChallengeTLSALPN01, acme.ChallengeHTTP01}})
	addr, runErr := serveSealed(t, p, m)
	c := httpsClient(t, p, addr)
	first := waitServed(t, c, name, runErr, 30*time.Second)
	leaf := m.Certificate().Leaf
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got < validity-2*time.Second || got > validity {
		t.Fatalf("pebble issued a certificate for %v, want %v", got, validity)
	}
	renewAt := acme.RenewalTime(leaf)
	deadline := leaf.NotAfter.Add(-time.Second)
	var requests, changedAt int
	var second string
	for time.Now().Before(deadline) {
		serial, err := fetch(c, name)
		requests++
		if err != nil {
			t.Fatalf("request %d at %s failed: %v", requests, time.Now().Format("15:04:05.000"), err)
		}
		if serial != first {
			second, changedAt = serial, requests
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if second == "" {
		t.Fatalf("the serial did not change before the first certificate's expiry (renewal due %s)\n%s", renewAt.Format("15:04:05"), lg)
	}
	if now := time.Now(); now.Before(renewAt) {
		t.Errorf("renewed at %s, before the renewal time %s", now.Format("15:04:05.000"), renewAt.Format("15:04:05.000"))
	}
	// A few more requests on the new certificate.
	for i := range 20 {
		serial, err := fetch(c, name)
		if err != nil {
			t.Fatalf("request after renewal %d: %v", i, err)
		}
		if serial != second {
			t.Fatalf("served %s after renewal to %s", serial, second)
		}
	}
	if n := strings.Count(lg.String(), "answering "+acme.ChallengeTLSALPN01); n != 2 {
		t.Errorf("%d TLS-ALPN-01 validations, want 2 (the order and the renewal)", n)
	}
	t.Logf("%d requests, all succeeded; serial %s → %s at request %d, %v after the renewal time",
		requests+20, first, second, changedAt, time.Since(renewAt).Round(time.Millisecond))
}

// TestManagerRejected: names the CA refuses stop Run at once with the
// CA's reason when there is no certificate to serve.
func TestManagerRejected(t *testing.T) {
	p := startPebble(t, acmetest.Options{NonceReject: -1, BlockedDomains: []string{"blocked.test"}})
	m, _ := newManager(t, p, acme.ManagerConfig{Domains: []string{"www.blocked.test"}})
	_, runErr := serveSealed(t, p, m)
	select {
	case err := <-runErr:
		var rej *acme.RejectedIdentifierError
		if !errors.As(err, &rej) {
			t.Fatalf("Run returned %T %v, want a RejectedIdentifierError", err, err)
		}
		if !strings.Contains(err.Error(), "gave up after 1 attempt") {
			t.Errorf("error %q", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not give up on refused names")
	}
}

// TestManagerChallengeFailed: when the CA cannot reach the server, Run
// reports the CA's problem document and gives up after StartAttempts,
// waiting MinBackoff and more between attempts.
func TestManagerChallengeFailed(t *testing.T) {
	p := startPebble(t, acmetest.Options{NonceReject: -1})
	// Nothing listens on pebble's validation ports.
	m, _ := newManager(t, p, acme.ManagerConfig{Domains: []string{"unreachable.certseal.test"}, Challenges: []string{acme.ChallengeHTTP01}, StartAttempts: 2, MinBackoff: 500 * time.Millisecond})
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := m.Run(ctx)
	var ce *acme.ChallengeError
	if !errors.As(err, &ce) {
		t.Fatalf("Run returned %T %v, want a ChallengeError", err, err)
	}
	if ce.ProblemType != "urn:ietf:params:acme:error:connection" || ce.Detail == "" {
		t.Errorf("problem %q %q", ce.ProblemType, ce.Detail)
	}
	if !strings.Contains(err.Error(), "gave up after 2 attempt(s)") {
		t.Errorf("error %q", err)
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("two attempts within %v: no backoff", d)
	}
	t.Logf("error: %v", err)
}

// TestManagerUnreachableDirectory: a directory that drops every
// connection gets exactly StartAttempts connections, spaced by the
// backoff, and Run ends with a clear error.
func TestManagerUnreachableDirectory(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int32
	var times []time.Time
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			mu.Lock()
			times = append(times, time.Now())
			mu.Unlock()
			c.Close()
		}
	}()
	m, _ := newManager(t, nil, acme.ManagerConfig{
		Domains: []string{"a.certseal.test"}, DirectoryURL: "https://" + ln.Addr().String() + "/dir",
		StartAttempts: 3, MinBackoff: 200 * time.Millisecond, MaxBackoff: 300 * time.Millisecond,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = m.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "cannot use the ACME directory https://"+ln.Addr().String()+"/dir") ||
		!strings.Contains(err.Error(), "gave up after 3 attempt(s)") {
		t.Fatalf("Run returned %v", err)
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections to the directory, want 3", n)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < 200*time.Millisecond {
			t.Errorf("attempts %d and %d only %v apart", i, i+1, gap)
		}
	}
	t.Logf("error: %v", err)
}

// TestManagerRateLimit: after a rate limit the manager waits until the
// CA's Retry-After, however long, and asks again only then; with a
// usable certificate it never gives up.
func TestManagerRateLimit(t *testing.T) {
	var orders atomic.Int32
	srv := fakeCA(t, http.StatusTooManyRequests,
		`{"type":"urn:ietf:params:acme:error:rateLimited","detail":"too many certificates already issued"}`,
		"7200", &orders)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	// A usable certificate that does not cover the domain: an order is
	// due at once, but the manager must not give up.
	fb := selfSignedFallback(t, now)
	m, lg := newManager(t, nil, acme.ManagerConfig{
		Domains: []string{"rl.certseal.test"}, DirectoryURL: srv.URL + "/dir", HTTPClient: srv.Client(),
		Now: func() time.Time { return now }, Fallback: fb, StartAttempts: 1, MinBackoff: 10 * time.Second,
	})
	var waits []time.Duration
	acme.SetSleep(m, func(_ context.Context, d time.Duration) bool {
		waits = append(waits, d)
		return len(waits) < 3
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatalf("Run returned %v with a usable certificate", err)
	}
	if len(waits) != 3 || orders.Load() != 3 {
		t.Fatalf("waits %v, orders %d", waits, orders.Load())
	}
	for _, w := range waits {
		if w < 2*time.Hour || w > 2*time.Hour+10*time.Second/4 {
			t.Errorf("waited %v after a rate limit with Retry-After 7200", w)
		}
	}
	if !strings.Contains(lg.String(), "rate limit was reached: too many certificates already issued; retry after 2026-12-01T12:00:00Z") {
		t.Errorf("log:\n%s", lg)
	}
	if m.Certificate() != fb {
		// The fallback is copied; compare the leaf.
		if m.Certificate() == nil || !m.Certificate().Leaf.Equal(fb.Leaf) {
			t.Error("the fallback is no longer served")
		}
	}
}

func selfSignedFallback(t *testing.T, now time.Time) *tls.Certificate {
	t.Helper()
	key, err := x509util.GenerateKey(x509util.KeySpec{Type: x509util.ECDSA}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509util.SelfSign(key, x509util.Options{
		Subject: x509util.Subject{CommonName: "fallback.test"}, Now: now.Add(-time.Hour), Validity: 30 * 24 * time.Hour, Server: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// TestNewManagerErrors: configuration and state problems are reported
// before anything is served, and an unreadable account key is never
// replaced.
func TestNewManagerErrors(t *testing.T) {
	badKeyDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(badKeyDir, acme.AccountKeyFile), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	fileNotDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(fileNotDir, nil, 0o600)
	for _, tc := range []struct {
		name string
		cfg  acme.ManagerConfig
		want string
	}{
		{"no email", acme.ManagerConfig{Domains: []string{"a.test"}, StateDir: t.TempDir()}, "no account e-mail"},
		{"no domain", acme.ManagerConfig{Email: "a@b.test", StateDir: t.TempDir()}, "no domain"},
		{"no state", acme.ManagerConfig{Email: "a@b.test", Domains: []string{"a.test"}}, "no state directory"},
		{"bad challenge", acme.ManagerConfig{Email: "a@b.test", Domains: []string{"a.test"}, StateDir: t.TempDir(), Challenges: []string{"dns-01"}}, `unknown challenge type "dns-01"`},
		{"state is a file", acme.ManagerConfig{Email: "a@b.test", Domains: []string{"a.test"}, StateDir: fileNotDir}, "state directory"},
		{"bad account key", acme.ManagerConfig{Email: "a@b.test", Domains: []string{"a.test"}, StateDir: badKeyDir}, "account key " + filepath.Join(badKeyDir, acme.AccountKeyFile) + ": no PEM block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := acme.NewManager(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewManager: %v, want %q", err, tc.want)
			}
		})
	}
	if b, _ := os.ReadFile(filepath.Join(badKeyDir, acme.AccountKeyFile)); string(b) != "not a key" {
		t.Error("the unreadable account key was overwritten")
	}
}

// TestManagerSavedCertChecks: a saved certificate for other names, or a
// key that does not match it, is not served.
func TestManagerSavedCertChecks(t *testing.T) {
	now := time.Now()
	other := selfSignedFallback(t, now) // for fallback.test
	keyPEM, _ := x509util.MarshalPrivateKeyPEM(other.PrivateKey.(crypto.Signer))
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, acme.CertFile), x509util.EncodeCertificatesPEM(other.Leaf), 0o644)
	os.WriteFile(filepath.Join(dir, acme.CertKeyFile), keyPEM, 0o600)
	m, lg := newManager(t, nil, acme.ManagerConfig{Domains: []string{"a.test"}, StateDir: dir})
	if m.Certificate() != nil || !strings.Contains(lg.String(), "does not cover a.test") {
		t.Errorf("a certificate for other names was loaded; log:\n%s", lg)
	}
	m, _ = newManager(t, nil, acme.ManagerConfig{Domains: []string{"fallback.test"}, StateDir: dir})
	if m.Certificate() == nil {
		t.Fatal("a matching saved certificate was not loaded")
	}
	mismatch := selfSignedFallback(t, now)
	keyPEM, _ = x509util.MarshalPrivateKeyPEM(mismatch.PrivateKey.(crypto.Signer))
	os.WriteFile(filepath.Join(dir, acme.CertKeyFile), keyPEM, 0o600)
	m, lg = newManager(t, nil, acme.ManagerConfig{Domains: []string{"fallback.test"}, StateDir: dir})
	if m.Certificate() != nil || !strings.Contains(lg.String(), "ignoring the saved certificate") {
		t.Errorf("a certificate with the wrong key was loaded; log:\n%s", lg)
	}
}
