package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certseal/certseal/pkg/x509util"
)

// testNow is the clock of every seal test (CERTSEAL_NOW).
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

type testCert struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// serial is shared by parallel test scripts.
var serial atomic.Int64

func newKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// issue makes a certificate valid from nb to na, signed by parent (self-
// signed when parent is nil). Leaves cover localhost and 127.0.0.1.
func issue(t testing.TB, cn string, isCA bool, parent *testCert, nb, na time.Time, aia ...string) *testCert {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             nb,
		NotAfter:              na,
		BasicConstraintsValid: true,
		IsCA:                  isCA,
		IssuingCertificateURL: aia,
	}
	if isCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{cn}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	parentCert, parentKey := tmpl, key
	if parent != nil {
		parentCert, parentKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{cert: c, key: key}
}

// testPKI is a root, an intermediate, and leaves issued by the
// intermediate.
type testPKI struct {
	root, inter, leaf, expired, soon *testCert
}

func newPKI(t testing.TB) *testPKI { return newPKIAt(t, testNow) }

// newPKIAt makes the test PKI with testNow standing for now.
func newPKIAt(t testing.TB, testNow time.Time) *testPKI {
	y := 365 * 24 * time.Hour
	p := &testPKI{}
	p.root = issue(t, "Test Root CA", true, nil, testNow.Add(-2*y), testNow.Add(10*y))
	p.inter = issue(t, "Test Intermediate CA", true, p.root, testNow.Add(-2*y), testNow.Add(5*y))
	p.leaf = issue(t, "localhost", false, p.inter, testNow.Add(-24*time.Hour), testNow.Add(y))
	p.expired = issue(t, "localhost", false, p.inter, testNow.Add(-y), testNow.Add(-24*time.Hour))
	p.soon = issue(t, "localhost", false, p.inter, testNow.Add(-y), testNow.Add(10*24*time.Hour))
	return p
}

func pemOf(certs ...*testCert) []byte {
	var cs []*x509.Certificate
	for _, c := range certs {
		cs = append(cs, c.cert)
	}
	return x509util.EncodeCertificatesPEM(cs...)
}

func keyPEM(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	b, err := x509util.MarshalPrivateKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeKeys writes dir/server.pem and dir/server.key.
func writeKeys(t testing.TB, dir string, certPEM, keyPEM []byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "server.pem"), certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "server.key"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeTestKeys fills dir with one sub-directory per scenario used by the
// scripts and unit tests.
func writeTestKeys(t testing.TB, dir string) *testPKI {
	p := newPKI(t)
	other := newKey(t)
	writeKeys(t, filepath.Join(dir, "keys"), pemOf(p.leaf, p.inter), keyPEM(t, p.leaf.key))
	writeKeys(t, filepath.Join(dir, "keys-reversed"), pemOf(p.inter, p.leaf), keyPEM(t, p.leaf.key))
	writeKeys(t, filepath.Join(dir, "keys-leafonly"), pemOf(p.leaf), keyPEM(t, p.leaf.key))
	writeKeys(t, filepath.Join(dir, "keys-gap"), pemOf(p.leaf, p.root), keyPEM(t, p.leaf.key))
	writeKeys(t, filepath.Join(dir, "keys-mismatch"), pemOf(p.leaf, p.inter), keyPEM(t, other))
	writeKeys(t, filepath.Join(dir, "keys-expired"), pemOf(p.expired, p.inter), keyPEM(t, p.expired.key))
	writeKeys(t, filepath.Join(dir, "keys-soon"), pemOf(p.soon, p.inter), keyPEM(t, p.soon.key))
	writeKeys(t, filepath.Join(dir, "keys-badkey"), pemOf(p.leaf, p.inter), []byte("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"))
	writeKeys(t, filepath.Join(dir, "keys-nocert"), []byte("hello\n"), keyPEM(t, p.leaf.key))
	os.WriteFile(filepath.Join(dir, "ca.pem"), pemOf(p.root), 0o644)
	return p
}
