package x509util

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"
)

// FuzzParseBag checks that ParseBag never panics or hangs on any input, and
// that its errors never repeat the input's key material.
func FuzzParseBag(f *testing.F) {
	ca, caKey := testCA(f, p256Spec, "fuzz")
	key := testKey(f, ed25519Spec, "leaf")
	csr, err := CreateCSR(key, Options{Subject: Subject{CommonName: "fuzz.example"}})
	if err != nil {
		f.Fatal(err)
	}
	leaf, err := SignCSR(csr, ca, caKey, Options{Now: testNow, Validity: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	keyPEM, _ := MarshalPrivateKeyPEM(key)
	p12, _ := EncodePKCS12(key, []*x509.Certificate{leaf, ca}, "pw", PKCS12Options{})
	p12legacy, _ := EncodePKCS12(key, []*x509.Certificate{leaf}, "", PKCS12Options{Legacy: true})
	seeds := [][]byte{
		EncodeCertificatesPEM(leaf, ca),
		append([]byte("junk\n"), append(keyPEM, "\nmore junk"...)...),
		EncodeCSRPEM(csr),
		leaf.Raw,
		csr.Raw,
		buildPKCS7(leaf, ca),
		pemBlock("PKCS7", buildPKCS7(ca)),
		p12,
		p12legacy,
		[]byte("-----BEGIN CERTIFICATE-----\nMIIB\n"),
		[]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"),
		{},
	}
	for _, s := range seeds {
		f.Add(s, "pw")
	}
	f.Fuzz(func(t *testing.T, data []byte, password string) {
		bag, err := ParseBag(data, password)
		if err == nil {
			if bag == nil || bag.empty() {
				t.Fatal("ParseBag returned no error and nothing")
			}
			return
		}
		msg := err.Error()
		if strings.Contains(msg, "PRIVATE KEY-----") && !strings.Contains(string(data), "PRIVATE KEY-----") {
			t.Fatalf("error invents key text: %q", msg)
		}
		// No run of the input's PEM body may appear in the message.
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(msg, line) {
				t.Fatalf("error %q repeats input %q", msg, line)
			}
		}
	})
}
