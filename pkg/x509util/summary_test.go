package x509util

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

func TestFingerprint(t *testing.T) {
	c, _ := testLeaf(t, p256Spec, "example.com")
	sum := sha256.Sum256(c.Raw)
	var parts []string
	for _, b := range sum {
		parts = append(parts, fmt.Sprintf("%02X", b))
	}
	if got, want := Fingerprint(c), strings.Join(parts, ":"); got != want {
		t.Errorf("Fingerprint = %s, want %s", got, want)
	}
}

func TestSummarize(t *testing.T) {
	ca, caKey := testCA(t, p256Spec, "summary")
	leaf := issueLeaf(t, ca, caKey, testKey(t, rsaSpec, "leaf"), "example.com", Options{SANs: []string{"192.0.2.1"}})
	s := Summarize(leaf)
	if s.CommonName != "example.com" || s.Subject != "CN=example.com" || !strings.Contains(s.Issuer, "Test CA summary") {
		t.Errorf("names: %+v", s)
	}
	if strings.Join(s.SANs, ",") != "example.com,192.0.2.1" {
		t.Errorf("SANs %v", s.SANs)
	}
	if s.KeyType != "RSA 2048" || s.IsCA || s.SelfSigned {
		t.Errorf("key %s CA %v self-signed %v", s.KeyType, s.IsCA, s.SelfSigned)
	}
	if !s.NotBefore.Equal(testNow.Add(-time.Minute)) || !s.NotAfter.Equal(testNow.Add(90*24*time.Hour)) {
		t.Errorf("validity %v .. %v", s.NotBefore, s.NotAfter)
	}
	if s.SHA256 != Fingerprint(leaf) || s.AuthorityKey != colonHex(ca.SubjectKeyId) || s.SubjectKeyID != colonHex(leaf.SubjectKeyId) {
		t.Errorf("ids: %+v", s)
	}
	if len(strings.ReplaceAll(s.Serial, ":", "")) < 16 {
		t.Errorf("serial %s", s.Serial)
	}
	cs := Summarize(ca)
	if !cs.IsCA || !cs.SelfSigned || cs.KeyType != "ECDSA P-256" {
		t.Errorf("CA summary %+v", cs)
	}
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"subject", "issuer", "common_name", "sans", "serial", "not_before", "not_after", "key_type", "is_ca", "self_signed", "subject_key_id", "authority_key_id", "sha256_fingerprint"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON summary lacks %q: %s", k, js)
		}
	}
	if m["not_after"] != "2026-06-12T15:09:26Z" {
		t.Errorf("not_after = %v", m["not_after"])
	}
}

func TestDescribe(t *testing.T) {
	key := testKey(t, p256Spec, "leaf")
	c, err := SelfSign(key, Options{Subject: Subject{CommonName: "example.com"}, SANs: []string{"a.example.com", "b.example.com", "c.example.com", "d.example.com", "192.0.2.1"}, Now: testNow, Validity: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	want := `"example.com" [example.com, a.example.com, b.example.com, c.example.com, +2 more], expires 2026-03-15`
	if got := Describe(c); got != want {
		t.Errorf("Describe = %s\nwant       %s", got, want)
	}
	if got := Describe(&x509.Certificate{NotAfter: testNow}); got != `"(no subject)", expires 2026-03-14` {
		t.Errorf("Describe(empty) = %s", got)
	}
}

func TestCSRNames(t *testing.T) {
	r, err := CreateCSR(testKey(t, p256Spec, "leaf"), Options{Subject: Subject{CommonName: "example.com"}, SANs: []string{"https://example.com/x", "ops@example.com", "2001:db8::1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(CSRNames(r), ","); got != "example.com,2001:db8::1,ops@example.com,https://example.com/x" {
		t.Errorf("CSRNames = %s", got)
	}
}
