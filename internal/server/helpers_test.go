package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"log"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certseal/certseal/internal/payload"
	"github.com/certseal/certseal/pkg/x509util"
)

// testNow is the fixed time test certificates are issued at; clients
// verify them at testNow plus an hour.
var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

var testModTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

type testPKI struct {
	certPEM, keyPEM []byte
	roots           *x509.CertPool
}

var (
	pkiOnce sync.Once
	pki     testPKI
)

// testCert returns a self-signed P-256 certificate for localhost and
// 127.0.0.1, made once per test binary.
func testCert(t testing.TB) testPKI {
	t.Helper()
	pkiOnce.Do(func() {
		key, err := x509util.GenerateKey(x509util.KeySpec{Type: x509util.ECDSA}, nil)
		if err != nil {
			panic(err)
		}
		cert, err := x509util.SelfSign(key, x509util.Options{
			Subject:  x509util.Subject{CommonName: "localhost"},
			SANs:     []string{"127.0.0.1", "::1"},
			Now:      testNow,
			Validity: 90 * 24 * time.Hour,
		})
		if err != nil {
			panic(err)
		}
		keyPEM, err := x509util.MarshalPrivateKeyPEM(key)
		if err != nil {
			panic(err)
		}
		pki.certPEM = x509util.EncodeCertificatesPEM(cert)
		pki.keyPEM = keyPEM
		pki.roots = x509.NewCertPool()
		pki.roots.AddCert(cert)
	})
	return pki
}

func etagOf(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func file(p, ctype, body string, compress bool) *payload.File {
	f := &payload.File{
		Path:        p,
		ContentType: ctype,
		ETag:        etagOf([]byte(body)),
		ModTime:     testModTime,
		Body:        []byte(body),
	}
	if compress {
		f.Gzip = gz(f.Body)
		f.Brotli = append([]byte("fake-brotli:"), f.Body...)
	}
	return f
}

const (
	htmlType  = "text/html; charset=utf-8"
	textType  = "text/plain; charset=utf-8"
	indexBody = "<!doctype html><title>home</title><h1>home</h1>\n"
	bigSize   = 3 << 20
)

var bigBody = func() string {
	var b strings.Builder
	for i := 0; b.Len() < bigSize; i++ {
		b.WriteString("0123456789abcdef")
	}
	return b.String()[:bigSize]
}()

// testSite returns a small site exercising every lookup rule.
func testSite(t testing.TB) *payload.Site {
	p := testCert(t)
	return &payload.Site{
		Config: payload.Config{
			HTTPSAddr:  "127.0.0.1:0",
			HTTPAddr:   "127.0.0.1:0",
			HSTSMaxAge: 31536000,
		},
		CertPEM: p.certPEM,
		KeyPEM:  p.keyPEM,
		Files: []*payload.File{
			file("/404.html", htmlType, "<h1>not here</h1>\n", false),
			file("/app.js", "text/javascript; charset=utf-8", strings.Repeat("console.log(1);\n", 50), true),
			file("/big.bin", "application/octet-stream", bigBody, false),
			file("/docs/a.txt", textType, "hello, docs\n", false),
			file("/docs/index.html", htmlType, "<h1>docs</h1>\n", false),
			file("/empty.txt", textType, "", false),
			file("/index.html", htmlType, indexBody, true),
			file("/with space.html", htmlType, "<p>space</p>\n", false),
		},
	}
}

// clients returns HTTP/1.1 and HTTP/2 clients trusting the test
// certificate; they neither follow redirects nor decompress.
func clients(t testing.TB) map[string]*http.Client {
	p := testCert(t)
	mk := func(h2 bool) *http.Client {
		tr := &http.Transport{
			TLSClientConfig: &tls.Config{
				RootCAs:    p.roots,
				Time:       func() time.Time { return testNow.Add(time.Hour) },
				ServerName: "localhost",
			},
			DisableCompression: true,
		}
		var protos http.Protocols
		if h2 {
			protos.SetHTTP2(true)
		} else {
			protos.SetHTTP1(true)
		}
		tr.Protocols = &protos
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{
			Transport:     tr,
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return map[string]*http.Client{"h1": mk(false), "h2": mk(true)}
}

type running struct {
	addrs  Addrs
	cancel context.CancelFunc
	done   chan error
}

// start runs Run in the background and waits until it is ready; the
// server is stopped at the end of the test.
func start(t *testing.T, site *payload.Site, opts Options) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan Addrs, 1)
	opts.Ready = func(a Addrs) { ready <- a }
	if opts.Logger == nil {
		opts.Logger = log.New(io.Discard, "", 0)
	}
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- Run(ctx, site, opts) }()
	select {
	case r.addrs = <-ready:
	case err := <-r.done:
		cancel()
		t.Fatalf("Run: %v", err)
	case <-time.After(5 * time.Second):
		cancel()
		t.Fatal("Run did not become ready")
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run and checks it returns nil in time (idempotent).
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok && err != nil {
			t.Errorf("Run returned %v", err)
		}
		if ok {
			close(r.done)
		}
	case <-time.After(15 * time.Second):
		t.Error("Run did not return after cancel")
	}
}
