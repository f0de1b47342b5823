package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certseal/certseal/internal/cli"
	"github.com/certseal/certseal/pkg/x509util"
)

// runChain runs the command in-process and returns its exit code, stdout
// and stderr.
func runChain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	oldOut, oldErr := cli.Stdout, cli.Stderr
	cli.Stdout, cli.Stderr = &out, &errb
	defer func() { cli.Stdout, cli.Stderr = oldOut, oldErr }()
	code := cli.Main(newApp(), append([]string{"chain"}, args...))
	return code, out.String(), errb.String()
}

func TestFetch(t *testing.T) {
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	mk := func(tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ca := func(cn string, serial int64) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn}, NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(5, 0, 0),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	}
	rootKey, interKey, otherKey := newKey(), newKey(), newKey()
	root := mk(ca("Fetch Root", 1), ca("Fetch Root", 1), rootKey, rootKey)
	inter := mk(ca("Fetch Intermediate", 2), root, interKey, rootKey)
	// Same subject and key id as inter would claim, but another key.
	impostor := mk(ca("Fetch Intermediate", 3), root, otherKey, rootKey)

	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/inter.der":
			w.Write(inter.Raw)
		case "/inter.pem":
			w.Write(x509util.EncodeCertificatesPEM(inter))
		case "/impostor.der":
			w.Write(impostor.Raw)
		case "/big":
			w.Write(bytes.Repeat([]byte("A"), 2<<20))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("test server at %s, want loopback", srv.URL)
	}

	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rootFile := write("root.pem", x509util.EncodeCertificatesPEM(root))
	leafWith := func(name string, aia ...string) string {
		lt := &x509.Certificate{SerialNumber: big.NewInt(int64(10 + len(name))), Subject: pkix.Name{CommonName: "fetch.example.com"}, DNSNames: []string{"fetch.example.com"},
			NotBefore: now.AddDate(0, -1, 0), NotAfter: now.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IssuingCertificateURL: aia}
		return write(name, x509util.EncodeCertificatesPEM(mk(lt, inter, newKey(), interKey)))
	}
	at := "--at=" + now.Format(time.RFC3339)

	t.Run("fetches the missing intermediate", func(t *testing.T) {
		leaf := leafWith("ok.pem", srv.URL+"/inter.der")
		code, out, errs := runChain(t, at, "--roots", rootFile, "--fetch", leaf)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		certs, err := x509util.ParseCertificates([]byte(out), "")
		if err != nil || len(certs) != 2 || !certs[1].Equal(inter) {
			t.Fatalf("output %d certificates, %v", len(certs), err)
		}
		if !strings.Contains(errs, "fetched \"Fetch Intermediate\"") {
			t.Errorf("stderr: %s", errs)
		}
	})
	t.Run("PEM response", func(t *testing.T) {
		leaf := leafWith("pem.pem", srv.URL+"/inter.pem")
		if code, _, errs := runChain(t, at, "--roots", rootFile, "--fetch", leaf); code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
	})
	t.Run("without --fetch nothing is downloaded", func(t *testing.T) {
		leaf := leafWith("nofetch.pem", srv.URL+"/inter.der")
		before := hits.Load()
		code, out, errs := runChain(t, at, "--roots", rootFile, leaf)
		if code != 1 || out != "" || !strings.Contains(errs, "(or use --fetch)") || !strings.Contains(errs, srv.URL+"/inter.der") {
			t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errs)
		}
		if hits.Load() != before {
			t.Error("fetched without --fetch")
		}
	})
	t.Run("a certificate that did not sign the leaf is refused", func(t *testing.T) {
		leaf := leafWith("impostor.pem", srv.URL+"/impostor.der")
		code, _, errs := runChain(t, at, "--roots", rootFile, "--fetch", leaf)
		if code != 1 || !strings.Contains(errs, "did not sign") {
			t.Fatalf("exit %d: %s", code, errs)
		}
	})
	t.Run("https, oversized and missing", func(t *testing.T) {
		leaf := leafWith("bad.pem", "https://127.0.0.1:1/x.der", srv.URL+"/big", srv.URL+"/missing")
		code, _, errs := runChain(t, at, "--roots", rootFile, "--fetch", leaf)
		for _, want := range []string{"only http:// caIssuers URLs", "larger than 1024 KiB", "404 Not Found"} {
			if !strings.Contains(errs, want) {
				t.Errorf("stderr lacks %q", want)
			}
		}
		if code != 1 {
			t.Errorf("exit %d", code)
		}
	})
	t.Run("at most 5 fetches", func(t *testing.T) {
		var urls []string
		for range 8 {
			urls = append(urls, srv.URL+"/impostor.der")
		}
		leaf := leafWith("many.pem", urls...)
		before := hits.Load()
		code, _, errs := runChain(t, at, "--roots", rootFile, "--fetch", leaf)
		if n := hits.Load() - before; n != fetchMax {
			t.Errorf("%d fetches, want %d", n, fetchMax)
		}
		if code != 1 || !strings.Contains(errs, "stopped after 5 downloads") {
			t.Errorf("exit %d: %s", code, errs)
		}
	})
}
