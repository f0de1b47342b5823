package x509util

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
)

// KeyType names a public key algorithm.
type KeyType string

// Supported key types.
const (
	RSA     KeyType = "rsa"
	ECDSA   KeyType = "ecdsa"
	Ed25519 KeyType = "ed25519"
)

// MinRSABits is the smallest RSA modulus GenerateKey accepts.
const MinRSABits = 2048

// ParseKeyType maps a user's spelling ("rsa", "ECDSA", "ec", "ed25519") to a
// KeyType. It returns an error naming the accepted values otherwise.
func ParseKeyType(s string) (KeyType, error) {
	switch strings.ToLower(s) {
	case "rsa":
		return RSA, nil
	case "ecdsa", "ec", "p256", "p-256", "p384", "p-384":
		return ECDSA, nil
	case "ed25519":
		return Ed25519, nil
	}
	return "", fmt.Errorf("x509util: unknown key type %q (use rsa, ecdsa or ed25519)", s)
}

// KeySpec says which key GenerateKey makes. Size is the RSA modulus in
// bits (default 2048) or the ECDSA curve size (256, default, or 384); it is
// ignored for Ed25519.
type KeySpec struct {
	Type KeyType
	Size int
}

// GenerateKey makes a new private key from rand (crypto/rand when nil).
// It returns an error for RSA sizes under 2048 or over 8192 and for curve
// sizes other than 256 and 384.
func GenerateKey(spec KeySpec, random io.Reader) (crypto.Signer, error) {
	if random == nil {
		random = rand.Reader
	}
	switch spec.Type {
	case RSA, "":
		bits := spec.Size
		if bits == 0 {
			bits = 2048
		}
		if bits < MinRSABits {
			return nil, fmt.Errorf("x509util: RSA keys of %d bits are too weak; use at least %d (3072 or 4096 for long-lived keys)", bits, MinRSABits)
		}
		if bits > 8192 {
			return nil, fmt.Errorf("x509util: RSA keys of %d bits are not supported; use 2048, 3072 or 4096", bits)
		}
		return rsa.GenerateKey(random, bits)
	case ECDSA:
		var curve elliptic.Curve
		switch spec.Size {
		case 0, 256:
			curve = elliptic.P256()
		case 384:
			curve = elliptic.P384()
		default:
			return nil, fmt.Errorf("x509util: ECDSA size %d is not supported; use 256 (P-256) or 384 (P-384)", spec.Size)
		}
		return ecdsa.GenerateKey(curve, random)
	case Ed25519:
		_, priv, err := ed25519.GenerateKey(random)
		return priv, err
	}
	return nil, fmt.Errorf("x509util: unknown key type %q (use rsa, ecdsa or ed25519)", spec.Type)
}

// MarshalPrivateKeyPEM encodes key as an unencrypted PKCS#8 "PRIVATE KEY"
// PEM block.
func MarshalPrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("x509util: encoding private key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ErrKeyMismatch is returned by KeyMatchesCertificate when the private key
// does not belong to the certificate.
var ErrKeyMismatch = errors.New("x509util: the private key does not match the certificate's public key")

// KeyMatches reports whether priv is the private half of pub.
func KeyMatches(priv crypto.Signer, pub crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := priv.Public().(equaler)
	return ok && e.Equal(pub)
}

// KeyMatchesCertificate returns ErrKeyMismatch unless key belongs to cert.
func KeyMatchesCertificate(key crypto.Signer, cert *x509.Certificate) error {
	if !KeyMatches(key, cert.PublicKey) {
		return ErrKeyMismatch
	}
	return nil
}

// DescribePublicKey returns "RSA 2048", "ECDSA P-256", "Ed25519" and so on.
func DescribePublicKey(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}
