package server

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certseal/certseal/internal/testutil"
	"github.com/certseal/certseal/pkg/x509util"
)

// TestCurl cross-checks the server with curl (HTTP/2 over TLS, ranges,
// gzip, the redirect, refused old TLS). curl checks validity against the
// wall clock, so this one certificate is issued at time.Now.
func TestCurl(t *testing.T) {
	curl := testutil.RequireTool(t, "curl")
	key, err := x509util.GenerateKey(x509util.KeySpec{Type: x509util.ECDSA}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509util.SelfSign(key, x509util.Options{
		Subject: x509util.Subject{CommonName: "localhost"}, Now: time.Now(), Validity: 24 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	site := testSite(t)
	site.CertPEM = x509util.EncodeCertificatesPEM(cert)
	if site.KeyPEM, err = x509util.MarshalPrivateKeyPEM(key); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, site.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	r := start(t, site, Options{})
	_, port, _ := net.SplitHostPort(r.addrs.HTTPS.String())
	base := "https://localhost:" + port
	common := []string{"-sS", "--cacert", caFile, "--resolve", "localhost:" + port + ":127.0.0.1", "--max-time", "10"}

	for _, tc := range []struct {
		name    string
		args    []string
		fail    bool
		outputs []string // substrings of stdout
	}{
		{"h2 headers", []string{"--http2", "-D", "-", "-o", os.DevNull, base + "/"}, false, []string{
			"HTTP/2 200", "strict-transport-security: max-age=31536000", "x-content-type-options: nosniff", "vary: Accept-Encoding",
		}},
		{"h2 body", []string{"--http2", base + "/docs/a.txt"}, false, []string{"hello, docs\n"}},
		{"gzip decoded", []string{"--http2", "--compressed", "-H", "Accept-Encoding: gzip", base + "/"}, false, []string{indexBody}},
		{"range", []string{"--http1.1", "-r", "0-9", "-D", "-", base + "/big.bin"}, false, []string{"HTTP/1.1 206", "0123456789"}},
		{"redirect", []string{"-D", "-", "-o", os.DevNull, "http://" + r.addrs.HTTP.String() + "/docs?x=1"}, false, []string{
			"HTTP/1.1 301", "https://127.0.0.1:" + port + "/docs?x=1",
		}},
		{"follow redirects", []string{"-L", "http://localhost:" + portOf(r.addrs.HTTP) + "/docs", "--resolve", "localhost:" + portOf(r.addrs.HTTP) + ":127.0.0.1"}, false, []string{"<h1>docs</h1>"}},
		{"TLS 1.1 refused", []string{"--tlsv1.0", "--tls-max", "1.1", "--ciphers", "DEFAULT:@SECLEVEL=0", base + "/"}, true, nil},
		{"TLS 1.2 GCM", []string{"--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256", base + "/docs/a.txt"}, false, []string{"hello"}},
		{"TLS 1.2 CBC refused", []string{"--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES128-SHA", base + "/"}, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(curl, append(common, tc.args...)...).CombinedOutput()
			if tc.fail {
				if err == nil {
					t.Fatalf("curl succeeded:\n%s", out)
				}
				return
			}
			if err != nil {
				t.Fatalf("curl: %v\n%s", err, out)
			}
			for _, want := range tc.outputs {
				if !strings.Contains(string(out), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
