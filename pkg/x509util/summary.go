package x509util

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Fingerprint returns the SHA-256 fingerprint of cert's DER encoding as
// colon-separated upper-case hex, the form browsers and openssl show.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return colonHex(sum[:])
}

func colonHex(b []byte) string {
	h := strings.ToUpper(hex.EncodeToString(b))
	var sb strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(h[i : i+2])
	}
	return sb.String()
}

// Summary is what users want to know about a certificate, in a form that
// encodes cleanly as JSON.
type Summary struct {
	Subject      string    `json:"subject"`
	Issuer       string    `json:"issuer"`
	CommonName   string    `json:"common_name,omitempty"`
	SANs         []string  `json:"sans,omitempty"`
	Serial       string    `json:"serial"`
	NotBefore    time.Time `json:"not_before"`
	NotAfter     time.Time `json:"not_after"`
	KeyType      string    `json:"key_type"`
	IsCA         bool      `json:"is_ca"`
	SelfSigned   bool      `json:"self_signed"`
	SubjectKeyID string    `json:"subject_key_id,omitempty"`
	AuthorityKey string    `json:"authority_key_id,omitempty"`
	SHA256       string    `json:"sha256_fingerprint"`
}

// Summarize describes cert.
func Summarize(cert *x509.Certificate) Summary {
	return Summary{
		Subject:      cert.Subject.String(),
		Issuer:       cert.Issuer.String(),
		CommonName:   cert.Subject.CommonName,
		SANs:         SANs(cert),
		Serial:       colonHex(cert.SerialNumber.Bytes()),
		NotBefore:    cert.NotBefore.UTC(),
		NotAfter:     cert.NotAfter.UTC(),
		KeyType:      DescribePublicKey(cert.PublicKey),
		IsCA:         cert.IsCA,
		SelfSigned:   IsSelfSigned(cert),
		SubjectKeyID: colonHex(cert.SubjectKeyId),
		AuthorityKey: colonHex(cert.AuthorityKeyId),
		SHA256:       Fingerprint(cert),
	}
}

// SANs lists all subject alternative names of cert as strings, DNS names
// first, then IP addresses, e-mail addresses and URIs.
func SANs(cert *x509.Certificate) []string {
	var out []string
	out = append(out, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		out = append(out, ip.String())
	}
	out = append(out, cert.EmailAddresses...)
	for _, u := range cert.URIs {
		out = append(out, u.String())
	}
	return out
}

// IsSelfSigned reports whether cert's issuer is its own subject and its
// signature verifies with its own key.
func IsSelfSigned(cert *x509.Certificate) bool {
	if string(cert.RawIssuer) != string(cert.RawSubject) {
		return false
	}
	return cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) == nil
}

// Describe returns a one-line description: "CN (SANs), expires DATE".
func Describe(cert *x509.Certificate) string {
	name := cert.Subject.CommonName
	if name == "" {
		name = cert.Subject.String()
	}
	if name == "" {
		name = "(no subject)"
	}
	s := fmt.Sprintf("%q", name)
	if sans := SANs(cert); len(sans) > 0 {
		if len(sans) > 4 {
			sans = append(sans[:4:4], fmt.Sprintf("+%d more", len(sans)-4))
		}
		s += " [" + strings.Join(sans, ", ") + "]"
	}
	return s + ", expires " + cert.NotAfter.UTC().Format(time.DateOnly)
}

// CSRNames lists the subject alternative names a certificate request asks
// for, in the same order as SANs.
func CSRNames(req *x509.CertificateRequest) []string {
	var out []string
	out = append(out, req.DNSNames...)
	for _, ip := range req.IPAddresses {
		out = append(out, ip.String())
	}
	out = append(out, req.EmailAddresses...)
	for _, u := range req.URIs {
		out = append(out, u.String())
	}
	return out
}
