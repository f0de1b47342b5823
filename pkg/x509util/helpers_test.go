package x509util

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"sync"
	"testing"
	"time"
)

// testNow is the fixed issuing time of every test certificate.
var testNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

var (
	keyCacheMu sync.Mutex
	keyCache   = map[string]crypto.Signer{}
)

// testKey returns a key of the given spec, generated once per test binary
// and per tag (RSA generation is slow), so tests needing two distinct keys
// of one type pass different tags.
func testKey(t testing.TB, spec KeySpec, tag string) crypto.Signer {
	t.Helper()
	name := fmt.Sprintf("%s-%d-%s", spec.Type, spec.Size, tag)
	keyCacheMu.Lock()
	defer keyCacheMu.Unlock()
	if k, ok := keyCache[name]; ok {
		return k
	}
	k, err := GenerateKey(spec, nil)
	if err != nil {
		t.Fatalf("GenerateKey(%v): %v", spec, err)
	}
	keyCache[name] = k
	return k
}

var (
	rsaSpec     = KeySpec{Type: RSA, Size: 2048}
	p256Spec    = KeySpec{Type: ECDSA, Size: 256}
	p384Spec    = KeySpec{Type: ECDSA, Size: 384}
	ed25519Spec = KeySpec{Type: Ed25519}
)

// testCA makes a self-signed CA valid for ten years from testNow.
func testCA(t testing.TB, spec KeySpec, tag string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key := testKey(t, spec, "ca-"+tag)
	ca, err := SelfSign(key, Options{
		Subject:  Subject{CommonName: "Test CA " + tag, Organization: "certseal tests"},
		Now:      testNow,
		Validity: 10 * 365 * 24 * time.Hour,
		IsCA:     true,
	})
	if err != nil {
		t.Fatalf("SelfSign CA: %v", err)
	}
	return ca, key
}

// testLeaf makes a self-signed server leaf for name.
func testLeaf(t testing.TB, spec KeySpec, name string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key := testKey(t, spec, "leaf")
	cert, err := SelfSign(key, Options{Subject: Subject{CommonName: name}, Now: testNow, Validity: 90 * 24 * time.Hour})
	if err != nil {
		t.Fatalf("SelfSign leaf: %v", err)
	}
	return cert, key
}

// issueLeaf makes a CSR for name with key and has ca sign it.
func issueLeaf(t testing.TB, ca *x509.Certificate, caKey, key crypto.Signer, name string, opts Options) *x509.Certificate {
	t.Helper()
	csr, err := CreateCSR(key, Options{Subject: Subject{CommonName: name}})
	if err != nil {
		t.Fatalf("CreateCSR: %v", err)
	}
	if opts.Now.IsZero() {
		opts.Now = testNow
	}
	if opts.Validity == 0 {
		opts.Validity = 90 * 24 * time.Hour
	}
	cert, err := SignCSR(csr, ca, caKey, opts)
	if err != nil {
		t.Fatalf("SignCSR: %v", err)
	}
	return cert
}
