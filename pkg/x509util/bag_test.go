package x509util

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"software.sslmate.com/src/go-pkcs12"
)

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// buildPKCS7 makes a degenerate (certificates-only) PKCS#7 SignedData, the
// shape of a CA's .p7b bundle.
func buildPKCS7(certs ...*x509.Certificate) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(1)
				b.AddASN1(cbasn1.SET, func(*cryptobyte.Builder) {})
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1})
				})
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					for _, c := range certs {
						b.AddBytes(c.Raw)
					}
				})
				b.AddASN1(cbasn1.SET, func(*cryptobyte.Builder) {}) // signerInfos
			})
		})
	})
	return b.BytesOrPanic()
}

func TestParseBagFormats(t *testing.T) {
	ca, caKey := testCA(t, rsaSpec, "bag")
	leafKey := testKey(t, p256Spec, "leaf")
	leaf := issueLeaf(t, ca, caKey, leafKey, "bag.example", Options{})
	rsaKey := testKey(t, rsaSpec, "1").(*rsa.PrivateKey)
	ecKey := testKey(t, p256Spec, "1").(*ecdsa.PrivateKey)
	edKey := testKey(t, ed25519Spec, "1")
	pkcs8 := func(k crypto.Signer) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := CreateCSR(leafKey, Options{Subject: Subject{CommonName: "bag.example"}})
	if err != nil {
		t.Fatal(err)
	}
	p7 := buildPKCS7(leaf, ca)
	modern, err := EncodePKCS12(leafKey, []*x509.Certificate{leaf, ca}, "s3cret", PKCS12Options{})
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := EncodePKCS12(leafKey, []*x509.Certificate{leaf, ca}, "s3cret", PKCS12Options{Legacy: true})
	if err != nil {
		t.Fatal(err)
	}
	trust, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{ca}, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	var junkPEM bytes.Buffer
	junkPEM.WriteString("Bag Attributes\n    friendlyName: server\nsubject=CN = bag.example\n")
	junkPEM.Write(pemBlock("CERTIFICATE", leaf.Raw))
	junkPEM.WriteString("\n\nissuer text in between\r\n")
	junkPEM.Write(pemBlock("CERTIFICATE", ca.Raw))
	junkPEM.WriteString("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n")
	junkPEM.Write(pemBlock("EC PRIVATE KEY", sec1))
	junkPEM.WriteString("trailing text\n")

	tests := []struct {
		name             string
		data             []byte
		password         string
		certs, keys, crs int
		key              crypto.Signer // when set, the one key must match it
	}{
		{"PEM with junk text", junkPEM.Bytes(), "", 2, 1, 0, ecKey},
		{"PEM PKCS#1", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), "", 0, 1, 0, rsaKey},
		{"PEM PKCS#8 RSA", pemBlock("PRIVATE KEY", pkcs8(rsaKey)), "", 0, 1, 0, rsaKey},
		{"PEM PKCS#8 ECDSA", pemBlock("PRIVATE KEY", pkcs8(ecKey)), "", 0, 1, 0, ecKey},
		{"PEM PKCS#8 Ed25519", pemBlock("PRIVATE KEY", pkcs8(edKey)), "", 0, 1, 0, edKey},
		{"PEM SEC1", pemBlock("EC PRIVATE KEY", sec1), "", 0, 1, 0, ecKey},
		{"PEM CSR", EncodeCSRPEM(csr), "", 0, 0, 1, nil},
		{"PEM NEW CERTIFICATE REQUEST", pemBlock("NEW CERTIFICATE REQUEST", csr.Raw), "", 0, 0, 1, nil},
		{"PEM chain", EncodeCertificatesPEM(leaf, ca), "", 2, 0, 0, nil},
		{"PEM CRLF", bytes.ReplaceAll(EncodeCertificatesPEM(leaf), []byte("\n"), []byte("\r\n")), "", 1, 0, 0, nil},
		{"DER certificate", leaf.Raw, "", 1, 0, 0, nil},
		{"DER certificates concatenated", append(append([]byte{}, leaf.Raw...), ca.Raw...), "", 2, 0, 0, nil},
		{"DER PKCS#8", pkcs8(edKey), "", 0, 1, 0, edKey},
		{"DER PKCS#1", x509.MarshalPKCS1PrivateKey(rsaKey), "", 0, 1, 0, rsaKey},
		{"DER SEC1", sec1, "", 0, 1, 0, ecKey},
		{"DER CSR", csr.Raw, "", 0, 0, 1, nil},
		{"PKCS#7 DER", p7, "", 2, 0, 0, nil},
		{"PKCS#7 PEM", pemBlock("PKCS7", p7), "", 2, 0, 0, nil},
		{"PKCS#12 Modern", modern, "s3cret", 2, 1, 0, leafKey},
		{"PKCS#12 Legacy", legacy, "s3cret", 2, 1, 0, leafKey},
		{"PKCS#12 trust store", trust, "s3cret", 1, 0, 0, nil},
		{"TRUSTED CERTIFICATE", pemBlock("TRUSTED CERTIFICATE", append(append([]byte{}, ca.Raw...), 0x30, 0x00)), "", 1, 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bag, err := ParseBag(tt.data, tt.password)
			if err != nil {
				t.Fatalf("ParseBag: %v", err)
			}
			if len(bag.Certificates) != tt.certs || len(bag.Keys) != tt.keys || len(bag.CSRs) != tt.crs {
				t.Fatalf("got %d certs, %d keys, %d CSRs; want %d, %d, %d",
					len(bag.Certificates), len(bag.Keys), len(bag.CSRs), tt.certs, tt.keys, tt.crs)
			}
			if tt.key != nil && !KeyMatches(bag.Keys[0], tt.key.Public()) {
				t.Error("the key read is not the key written")
			}
			if tt.certs == 2 && !bytes.Equal(bag.Certificates[1].Raw, ca.Raw) {
				t.Error("certificates are not in the order met (leaf, CA)")
			}
		})
	}
}

func TestParseBagErrors(t *testing.T) {
	cert, key := testLeaf(t, p256Spec, "example.com")
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	p12, err := EncodePKCS12(key, []*x509.Certificate{cert}, "right", PKCS12Options{})
	if err != nil {
		t.Fatal(err)
	}
	truncated := pemBlock("CERTIFICATE", cert.Raw)
	truncated = truncated[:len(truncated)-30]
	badKey := pemBlock("PRIVATE KEY", append(keyDER[:len(keyDER)-5:len(keyDER)-5], 1, 2, 3))
	tests := []struct {
		name     string
		data     []byte
		password string
		want     string
	}{
		{"empty", nil, "", "empty"},
		{"whitespace", []byte(" \n\t\n"), "", "empty"},
		{"garbage", []byte("hello, this is not a certificate"), "", "not a certificate, key or CSR in any known format"},
		{"random binary", []byte{0x30, 0x82, 0x01, 0x00, 0xde, 0xad}, "", "not a certificate, key or CSR"},
		{"truncated PEM", truncated, "", "truncated or malformed"},
		{"only other blocks", pemBlock("X509 CRL", []byte{1, 2, 3}), "", "found only X509 CRL PEM blocks"},
		{"bad certificate", pemBlock("CERTIFICATE", []byte{0x30, 0x03, 1, 2, 3}), "", "PEM block 1 (CERTIFICATE) is not a valid certificate"},
		{"bad key", badKey, "", "PEM block 1 (PRIVATE KEY) is not a valid private key"},
		{"bad CSR", pemBlock("CERTIFICATE REQUEST", []byte{0x30, 0}), "", "not a valid CSR"},
		{"bad PKCS7", pemBlock("PKCS7", []byte{0x30, 0}), "", "PKCS7"},
		{"encrypted PKCS#8", pemBlock("ENCRYPTED PRIVATE KEY", []byte{0x30, 0}), "", "encrypted private key; decrypt it first"},
		{"encrypted legacy", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{1}}), "", "encrypted legacy private key"},
		{"PKCS#12 no password", p12, "", "wrong password for the PKCS#12 file (it needs one"},
		{"PKCS#12 wrong password", p12, "wrong", "wrong password"},
		{"PKCS#7 no certificates", buildPKCS7(), "", "not a certificate, key or CSR"},
		{"PEM PKCS#7 no certificates", pemBlock("PKCS7", buildPKCS7()), "", "holds no certificates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bag, err := ParseBag(tt.data, tt.password)
			if err == nil {
				t.Fatalf("ParseBag = %+v, want an error", bag)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "x509util: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			// Errors never echo key material.
			for _, line := range strings.Split(string(badKey), "\n") {
				if len(line) > 16 && !strings.HasPrefix(line, "-----") && strings.Contains(err.Error(), line) {
					t.Errorf("error %q contains key material", err)
				}
			}
			if strings.Contains(err.Error(), base64.StdEncoding.EncodeToString(keyDER)[:24]) {
				t.Errorf("error %q contains key material", err)
			}
		})
	}
	if _, err := ParseBag(p12, "wrong"); !errors.Is(err, ErrIncorrectPassword) {
		t.Errorf("wrong PKCS#12 password: %v, want ErrIncorrectPassword", err)
	}
	if _, err := ParseBag(p12, ""); !errors.Is(err, ErrIncorrectPassword) {
		t.Errorf("missing PKCS#12 password: %v, want ErrIncorrectPassword", err)
	}
	var fe *FormatError
	if _, err := ParseBag([]byte("junk"), ""); !errors.As(err, &fe) {
		t.Errorf("junk: %v is not a *FormatError", err)
	}
}

func TestParsePrivateKey(t *testing.T) {
	cert, key := testLeaf(t, p256Spec, "example.com")
	keyPEM, _ := MarshalPrivateKeyPEM(key)
	other, _ := MarshalPrivateKeyPEM(testKey(t, ed25519Spec, "1"))
	csr, _ := CreateCSR(key, Options{Subject: Subject{CommonName: "example.com"}})
	if k, err := ParsePrivateKey(append(EncodeCertificatesPEM(cert), keyPEM...), ""); err != nil || !KeyMatches(k, key.Public()) {
		t.Errorf("ParsePrivateKey(cert+key) = %v", err)
	}
	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		{"certificate", EncodeCertificatesPEM(cert), "this is a certificate, not a private key"},
		{"CSR", EncodeCSRPEM(csr), "certificate request, not a private key"},
		{"two keys", append(append([]byte{}, keyPEM...), other...), "found 2 private keys"},
	} {
		if _, err := ParsePrivateKey(tt.data, ""); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParsePrivateKey(%s) = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestParseCertificatesAndCSR(t *testing.T) {
	cert, key := testLeaf(t, p256Spec, "example.com")
	keyPEM, _ := MarshalPrivateKeyPEM(key)
	csr, err := CreateCSR(key, Options{Subject: Subject{CommonName: "example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if cs, err := ParseCertificates(EncodeCertificatesPEM(cert, cert), ""); err != nil || len(cs) != 2 {
		t.Errorf("ParseCertificates = %d, %v", len(cs), err)
	}
	if _, err := ParseCertificates(keyPEM, ""); err == nil || !strings.Contains(err.Error(), "private key, not a certificate") {
		t.Errorf("ParseCertificates(key) = %v", err)
	}
	if _, err := ParseCertificates(EncodeCSRPEM(csr), ""); err == nil || !strings.Contains(err.Error(), "certificate request, not a certificate") {
		t.Errorf("ParseCertificates(csr) = %v", err)
	}
	if r, err := ParseCSR(EncodeCSRPEM(csr)); err != nil || r.Subject.CommonName != "example.com" {
		t.Errorf("ParseCSR = %v", err)
	}
	if _, err := ParseCSR(EncodeCertificatesPEM(cert)); err == nil || !strings.Contains(err.Error(), "certificate, not a certificate request") {
		t.Errorf("ParseCSR(cert) = %v", err)
	}
	if _, err := ParseCSR(append(EncodeCSRPEM(csr), EncodeCSRPEM(csr)...)); err == nil || !strings.Contains(err.Error(), "found 2 certificate requests") {
		t.Errorf("ParseCSR(two) = %v", err)
	}
	// Flip a bit of the signature: the request must be refused.
	bad := bytes.Clone(csr.Raw)
	bad[len(bad)-3] ^= 0x40
	if _, err := ParseCSR(bad); err == nil {
		t.Error("ParseCSR accepted a request with a broken signature")
	}
}

func TestEncodePKCS12(t *testing.T) {
	cert, key := testLeaf(t, rsaSpec, "example.com")
	if _, err := EncodePKCS12(testKey(t, rsaSpec, "other"), []*x509.Certificate{cert}, "pw", PKCS12Options{}); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("EncodePKCS12 with the wrong key = %v, want ErrKeyMismatch", err)
	}
	if _, err := EncodePKCS12(key, nil, "pw", PKCS12Options{}); err == nil {
		t.Error("EncodePKCS12 without certificates succeeded")
	}
	for _, legacy := range []bool{false, true} {
		p12, err := EncodePKCS12(key, []*x509.Certificate{cert}, "pw", PKCS12Options{Legacy: legacy})
		if err != nil {
			t.Fatal(err)
		}
		k, c, _, err := pkcs12.DecodeChain(p12, "pw")
		if err != nil {
			t.Fatalf("legacy=%v: go-pkcs12 cannot read it back: %v", legacy, err)
		}
		if !bytes.Equal(c.Raw, cert.Raw) || !KeyMatches(k.(crypto.Signer), cert.PublicKey) {
			t.Errorf("legacy=%v: contents differ", legacy)
		}
	}
}

func TestParseBagPKCS12IterationBound(t *testing.T) {
	cert, key := testLeaf(t, p256Spec, "example.com")
	for _, enc := range []*pkcs12.Encoder{pkcs12.Modern.WithIterations(65536), pkcs12.LegacyRC2.WithIterations(65536)} {
		p12, err := enc.Encode(key, cert, nil, "pw")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseBag(p12, "pw"); err != nil {
			t.Fatalf("65536 iterations: %v", err)
		}
		// 65536 is encoded 02 03 01 00 00; make it 02 03 7f ff ff (8388607).
		huge := bytes.ReplaceAll(p12, []byte{2, 3, 1, 0, 0}, []byte{2, 3, 0x7f, 0xff, 0xff})
		if bytes.Equal(huge, p12) {
			t.Fatal("iteration count not found in the encoding")
		}
		start := time.Now()
		_, err = ParseBag(huge, "pw")
		if err == nil || !strings.Contains(err.Error(), "8388607 key-derivation iterations") {
			t.Errorf("8388607 iterations: %v, want a refusal", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("refusal took %v", d)
		}
	}
}
