package keydir

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writePair(t *testing.T, dir string, serial int64) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	nb := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: nb, NotAfter: nb.Add(24 * time.Hour), DNSNames: []string{"localhost"},
	}, &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"}}, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(k)
	os.WriteFile(filepath.Join(dir, CertFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(filepath.Join(dir, KeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600)
}

func serialOf(t *testing.T, s *Source) int64 {
	c, _ := s.GetCertificate(nil)
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.SerialNumber.Int64()
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir, nil); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("empty dir: %v", err)
	}
	writePair(t, dir, 1)
	s, err := Open(dir, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := s.Reload(); changed || err != nil {
		t.Errorf("unchanged reload = %v, %v", changed, err)
	}
	writePair(t, dir, 2)
	if changed, err := s.Reload(); !changed || err != nil || serialOf(t, s) != 2 {
		t.Errorf("reload = %v, %v, serial %d", changed, err, serialOf(t, s))
	}
	// A half-written update (key not matching) keeps the old pair.
	os.WriteFile(filepath.Join(dir, KeyFile), []byte("garbage"), 0o600)
	if _, err := s.Reload(); err == nil {
		t.Error("bad key accepted")
	} else if strings.Contains(err.Error(), "garbage") {
		t.Errorf("error echoes key material: %v", err)
	}
	if serialOf(t, s) != 2 {
		t.Error("bad update replaced the certificate")
	}
}
