package x509util

import (
	"bytes"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certseal/certseal/internal/testutil"
)

// openssl runs the real openssl with args in dir and returns its combined
// output, failing the test when it exits non-zero.
func openssl(t *testing.T, dir string, args ...string) string {
	t.Helper()
	bin := testutil.RequireTool(t, "openssl")
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func writeFile(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// The certificates are issued at the real current time here, since openssl
// verify has no portable way to set the clock to testNow.
func TestOpenSSLCrossCheck(t *testing.T) {
	testutil.RequireTool(t, "openssl")
	now := time.Now()
	for _, spec := range []KeySpec{rsaSpec, p256Spec, p384Spec, ed25519Spec} {
		name := DescribePublicKey(testKey(t, spec, "leaf").Public())
		t.Run(strings.ReplaceAll(name, " ", "-"), func(t *testing.T) {
			dir := t.TempDir()
			key := testKey(t, spec, "leaf")
			self, err := SelfSign(key, Options{Subject: Subject{CommonName: "selfsigned.example"}, SANs: []string{"192.0.2.1"}, Now: now, Validity: 24 * time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			caKey := testKey(t, spec, "ca")
			ca, err := SelfSign(caKey, Options{Subject: Subject{CommonName: "Cross-check CA"}, Now: now, Validity: 48 * time.Hour, IsCA: true})
			if err != nil {
				t.Fatal(err)
			}
			csr, err := CreateCSR(key, Options{Subject: Subject{CommonName: "issued.example", Organization: "Rad Unikernel Construction, Ltd."}, SANs: []string{"www.issued.example"}})
			if err != nil {
				t.Fatal(err)
			}
			issued, err := SignCSR(csr, ca, caKey, Options{Now: now, Validity: 24 * time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, dir, "self.pem", EncodeCertificatesPEM(self))
			writeFile(t, dir, "ca.pem", EncodeCertificatesPEM(ca))
			writeFile(t, dir, "issued.pem", EncodeCertificatesPEM(issued))
			writeFile(t, dir, "req.csr", EncodeCSRPEM(csr))

			text := openssl(t, dir, "x509", "-noout", "-text", "-in", "issued.pem")
			for _, want := range []string{
				"X509v3 Subject Key Identifier", "X509v3 Authority Key Identifier",
				"CA:FALSE", "TLS Web Server Authentication", "DNS:issued.example, DNS:www.issued.example",
				"Digital Signature",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("openssl x509 -text lacks %q:\n%s", want, text)
				}
			}
			if spec.Type == RSA != strings.Contains(text, "Key Encipherment") {
				t.Errorf("Key Encipherment present = %v for %s", !(spec.Type == RSA), name)
			}
			catext := openssl(t, dir, "x509", "-noout", "-text", "-in", "ca.pem")
			if !strings.Contains(catext, "CA:TRUE") || !strings.Contains(catext, "Certificate Sign, CRL Sign") {
				t.Errorf("CA text:\n%s", catext)
			}
			openssl(t, dir, "verify", "-CAfile", "self.pem", "-purpose", "sslserver", "-verify_hostname", "selfsigned.example", "self.pem")
			openssl(t, dir, "verify", "-CAfile", "self.pem", "-verify_ip", "192.0.2.1", "self.pem")
			openssl(t, dir, "verify", "-CAfile", "ca.pem", "-purpose", "sslserver", "-verify_hostname", "www.issued.example", "issued.pem")
			if out := openssl(t, dir, "req", "-in", "req.csr", "-noout", "-verify"); !strings.Contains(out, "verify OK") {
				t.Errorf("openssl req -verify: %s", out)
			}
			// A wrong hostname must fail: the checks above can fail.
			cmd := exec.Command("openssl", "verify", "-CAfile", "ca.pem", "-verify_hostname", "other.example", "issued.pem")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err == nil {
				t.Errorf("openssl verify accepted the wrong hostname:\n%s", out)
			}
		})
	}
}

func TestOpenSSLPKCS12(t *testing.T) {
	testutil.RequireTool(t, "openssl")
	ca, caKey := testCA(t, p256Spec, "p12")
	key := testKey(t, rsaSpec, "leaf")
	leaf := issueLeaf(t, ca, caKey, key, "p12.example", Options{})
	for _, tt := range []struct {
		name  string
		opts  PKCS12Options
		extra []string
	}{
		{"modern", PKCS12Options{}, nil},
		{"legacy", PKCS12Options{Legacy: true}, []string{"-legacy"}}, // OpenSSL 3 needs it for RC2
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p12, err := EncodePKCS12(key, []*x509.Certificate{leaf, ca}, "hunter2", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, dir, "bundle.p12", p12)
			args := append([]string{"pkcs12", "-info", "-in", "bundle.p12", "-passin", "pass:hunter2", "-nokeys"}, tt.extra...)
			out := openssl(t, dir, args...)
			if strings.Count(out, "-----BEGIN CERTIFICATE-----") != 2 {
				t.Errorf("openssl pkcs12 -info shows %d certificates:\n%s", strings.Count(out, "BEGIN CERTIFICATE"), out)
			}
			want := "PBES2"
			if tt.opts.Legacy {
				want = "pbeWithSHA1And40BitRC2-CBC"
			}
			if !strings.Contains(out, want) {
				t.Errorf("openssl pkcs12 -info lacks %q:\n%s", want, out)
			}
			// And openssl's own PKCS#12 files read back through ParseBag.
			openssl(t, dir, append([]string{"pkcs12", "-in", "bundle.p12", "-passin", "pass:hunter2", "-nodes", "-out", "all.pem"}, tt.extra...)...)
			openssl(t, dir, "pkcs12", "-export", "-in", "all.pem", "-passin", "pass:hunter2", "-passout", "pass:other", "-out", "openssl.p12")
			data, _ := os.ReadFile(filepath.Join(dir, "openssl.p12"))
			bag, err := ParseBag(data, "other")
			if err != nil || len(bag.Keys) != 1 || len(bag.Certificates) != 2 {
				t.Fatalf("ParseBag(openssl.p12) = %v", err)
			}
		})
	}
}

func TestOpenSSLPKCS7(t *testing.T) {
	testutil.RequireTool(t, "openssl")
	dir := t.TempDir()
	ca, caKey := testCA(t, p256Spec, "p7")
	leaf := issueLeaf(t, ca, caKey, testKey(t, p256Spec, "leaf"), "p7.example", Options{})
	writeFile(t, dir, "chain.pem", EncodeCertificatesPEM(leaf, ca))
	openssl(t, dir, "crl2pkcs7", "-nocrl", "-certfile", "chain.pem", "-out", "chain.p7b")
	openssl(t, dir, "crl2pkcs7", "-nocrl", "-certfile", "chain.pem", "-outform", "DER", "-out", "chain.p7b.der")
	for _, f := range []string{"chain.p7b", "chain.p7b.der"} {
		data, _ := os.ReadFile(filepath.Join(dir, f))
		certs, err := ParseCertificates(data, "")
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(certs) != 2 || !bytes.Equal(certs[0].Raw, leaf.Raw) || !bytes.Equal(certs[1].Raw, ca.Raw) {
			t.Errorf("%s: got %d certificates, not leaf then CA", f, len(certs))
		}
	}
	// And our Go-built bundle is one openssl reads.
	writeFile(t, dir, "go.p7b", buildPKCS7(leaf, ca))
	out := openssl(t, dir, "pkcs7", "-inform", "DER", "-in", "go.p7b", "-print_certs", "-noout")
	if !strings.Contains(out, "CN = p7.example") || !strings.Contains(out, "CN = Test CA p7") {
		t.Errorf("openssl pkcs7 -print_certs:\n%s", out)
	}
}
