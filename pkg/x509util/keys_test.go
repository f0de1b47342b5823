package x509util

import (
	"errors"
	"strings"
	"testing"
)

func TestGenerateKey(t *testing.T) {
	tests := []struct {
		spec KeySpec
		want string
		slow bool
	}{
		{KeySpec{}, "RSA 2048", false},
		{KeySpec{Type: RSA}, "RSA 2048", false},
		{KeySpec{Type: RSA, Size: 2048}, "RSA 2048", false},
		{KeySpec{Type: RSA, Size: 3072}, "RSA 3072", true},
		{KeySpec{Type: RSA, Size: 4096}, "RSA 4096", true},
		{KeySpec{Type: ECDSA}, "ECDSA P-256", false},
		{KeySpec{Type: ECDSA, Size: 256}, "ECDSA P-256", false},
		{KeySpec{Type: ECDSA, Size: 384}, "ECDSA P-384", false},
		{KeySpec{Type: Ed25519}, "Ed25519", false},
		{KeySpec{Type: Ed25519, Size: 999}, "Ed25519", false}, // size ignored
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if tt.slow && testing.Short() {
				t.Skip("slow RSA key generation")
			}
			key, err := GenerateKey(tt.spec, nil)
			if err != nil {
				t.Fatalf("GenerateKey(%+v): %v", tt.spec, err)
			}
			if got := DescribePublicKey(key.Public()); got != tt.want {
				t.Errorf("GenerateKey(%+v) made %s, want %s", tt.spec, got, tt.want)
			}
			// A written key reads back as the same key.
			pemKey, err := MarshalPrivateKeyPEM(key)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(pemKey), "-----BEGIN PRIVATE KEY-----\n") {
				t.Errorf("key is not PKCS#8 PEM: %.40q", pemKey)
			}
			back, err := ParsePrivateKey(pemKey, "")
			if err != nil {
				t.Fatalf("ParsePrivateKey: %v", err)
			}
			if !KeyMatches(back, key.Public()) {
				t.Error("the key read back does not match the one written")
			}
		})
	}
}

func TestGenerateKeyRefuses(t *testing.T) {
	tests := []struct {
		spec KeySpec
		want []string
	}{
		{KeySpec{Type: RSA, Size: 1024}, []string{"1024 bits are too weak", "at least 2048"}},
		{KeySpec{Type: RSA, Size: 2047}, []string{"too weak"}},
		{KeySpec{Type: RSA, Size: 512}, []string{"too weak"}},
		{KeySpec{Type: RSA, Size: 16384}, []string{"not supported"}},
		{KeySpec{Type: ECDSA, Size: 521}, []string{"ECDSA size 521", "256", "384"}},
		{KeySpec{Type: ECDSA, Size: 2048}, []string{"ECDSA size 2048"}},
		{KeySpec{Type: "dsa"}, []string{`unknown key type "dsa"`, "rsa, ecdsa or ed25519"}},
	}
	for _, tt := range tests {
		key, err := GenerateKey(tt.spec, nil)
		if err == nil {
			t.Errorf("GenerateKey(%+v) = %s, want an error", tt.spec, DescribePublicKey(key.Public()))
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("GenerateKey(%+v) error %q lacks %q", tt.spec, err, w)
			}
		}
	}
}

func TestParseKeyType(t *testing.T) {
	tests := []struct {
		in   string
		want KeyType
		ok   bool
	}{
		{"rsa", RSA, true}, {"RSA", RSA, true}, {"ecdsa", ECDSA, true}, {"EC", ECDSA, true},
		{"p-384", ECDSA, true}, {"ed25519", Ed25519, true}, {"Ed25519", Ed25519, true},
		{"dsa", "", false}, {"", "", false}, {"ed448", "", false},
	}
	for _, tt := range tests {
		got, err := ParseKeyType(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseKeyType(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestKeyMatches(t *testing.T) {
	specs := []KeySpec{rsaSpec, p256Spec, p384Spec, ed25519Spec}
	for _, a := range specs {
		for _, b := range specs {
			ka, kb := testKey(t, a, "1"), testKey(t, b, "2")
			if !KeyMatches(ka, ka.Public()) {
				t.Errorf("%v key does not match its own public key", a)
			}
			if KeyMatches(ka, kb.Public()) {
				t.Errorf("%v key matches another %v key", a, b)
			}
		}
	}
	cert, key := testLeaf(t, p256Spec, "example.com")
	if err := KeyMatchesCertificate(key, cert); err != nil {
		t.Errorf("KeyMatchesCertificate(own key) = %v", err)
	}
	other := testKey(t, p256Spec, "other")
	if err := KeyMatchesCertificate(other, cert); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("KeyMatchesCertificate(other key) = %v, want ErrKeyMismatch", err)
	}
}

func TestDescribePublicKeyUnknown(t *testing.T) {
	if got := DescribePublicKey(struct{}{}); got != "struct {}" {
		t.Errorf("DescribePublicKey(unknown) = %q", got)
	}
}
