package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
)

// CertSource supplies the certificate for each TLS handshake. A static pair
// (StaticCertificate), ACME renewal and keys read at runtime all fit behind
// it; implementations must be safe for concurrent use.
type CertSource interface {
	GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error)
}

// ProtoSource is an optional interface of a CertSource whose handshakes
// need more ALPN protocols than HTTP's, such as "acme-tls/1" for ACME
// TLS-ALPN-01 validation. TLSConfig offers them after "h2" and
// "http/1.1", so ordinary clients still negotiate HTTP.
type ProtoSource interface {
	NextProtos() []string
}

type staticCert struct{ cert *tls.Certificate }

func (s staticCert) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cert, nil
}

// StaticCertificate returns a CertSource that always presents the chain in
// certPEM (leaf first) with the key in keyPEM. It returns an error when
// either does not parse or the key does not match the leaf; the error never
// contains key material.
func StaticCertificate(certPEM, keyPEM []byte) (CertSource, error) {
	if len(certPEM) == 0 || len(keyPEM) == 0 {
		return nil, errors.New("server: the site has no certificate or key")
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// X509KeyPair's errors describe PEM block types and mismatches,
		// never the key bytes.
		return nil, fmt.Errorf("server: loading the certificate and key: %v", err)
	}
	return staticCert{&cert}, nil
}

// tls12CipherSuites are the TLS 1.2 suites offered: ECDHE key exchange with
// an AEAD only, so every TLS 1.2 connection has forward secrecy. TLS 1.3
// suites are not configurable in Go and are all AEAD.
var tls12CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// curves lists the key exchanges offered, post-quantum hybrids first (Go
// offers them by default since 1.24 and 1.26), then X25519 and P-256, which
// every current client supports. P-384 and P-521 are left out: no client
// needs them, and each offered group is one more code path exposed.
var curves = []tls.CurveID{
	tls.X25519MLKEM768,
	tls.SecP256r1MLKEM768,
	tls.X25519,
	tls.CurveP256,
}

// TLSConfig returns the server TLS configuration: TLS 1.2 and 1.3, the
// suites and groups above, session tickets on, ALPN "h2" then "http/1.1",
// certificates from certs (and the extra protocols of a ProtoSource). Go
// servers never renegotiate.
func TLSConfig(certs CertSource) *tls.Config {
	protos := []string{"h2", "http/1.1"}
	if ps, ok := certs.(ProtoSource); ok {
		for _, p := range ps.NextProtos() {
			if p != "" && !slices.Contains(protos, p) {
				protos = append(protos, p)
			}
		}
	}
	return &tls.Config{
		MinVersion:       tls.VersionTLS12,
		MaxVersion:       tls.VersionTLS13,
		CipherSuites:     tls12CipherSuites,
		CurvePreferences: curves,
		NextProtos:       protos,
		GetCertificate:   certs.GetCertificate,
	}
}
