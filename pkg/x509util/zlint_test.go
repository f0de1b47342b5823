package x509util

import (
	"crypto/x509"
	"sort"
	"testing"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
)

// zlintExempt lists the error-level lints that fire because these are
// certificates of a private CA, not because of a defect certseal could fix.
// Everything else at error or fatal level fails the test.
var zlintExempt = map[string]string{
	// The Baseline Requirements want every publicly-trusted subscriber
	// certificate to carry a reserved CA/B policy OID; a private CA has no
	// policy to assert.
	"e_sub_cert_certificate_policies_missing": "private CA: no CA/B certificate policy",
	"e_sub_cert_cert_policy_empty":            "private CA: no CA/B certificate policy",
	// Public subscriber certificates must point (AIA) at the issuer's
	// certificate on a server; a private CA has no such server, and its
	// users install the CA certificate by hand.
	"e_sub_cert_aia_missing": "private CA: no AIA server",
	// A CRL distribution point (or OCSP URL) is required of public CAs; a
	// CA made with 'selfsign --ca' runs no revocation server.
	"e_missing_crl_distrib_point": "private CA: no CRL or OCSP server",
	// Publicly-trusted CA subjects must name a country; a private CA's
	// subject is whatever its owner typed (--country is optional).
	"e_ca_country_name_missing": "private CA: subject country is optional",
}

// zlintExemptEd25519 lists lints that fire for every Ed25519 certificate:
// the Baseline Requirements allow only RSA and ECDSA, and the issue asks
// for Ed25519 support for private use regardless.
var zlintExemptEd25519 = map[string]string{
	"e_algorithm_identifier_improper_encoding": "Ed25519's algorithm identifier is not on the BR's allowed list",
	"e_signature_algorithm_not_supported":      "Ed25519 signatures are not on the BR's allowed list",
}

func TestZlintIssuedLeaves(t *testing.T) {
	for _, tt := range []struct {
		name    string
		ca, key KeySpec
	}{
		{"RSA leaf, RSA CA", rsaSpec, rsaSpec},
		{"ECDSA leaf, ECDSA CA", p256Spec, p256Spec},
		{"ECDSA P-384 leaf, RSA CA", rsaSpec, p384Spec},
		{"Ed25519 leaf, Ed25519 CA", ed25519Spec, ed25519Spec},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ca, caKey := testCA(t, tt.ca, "zlint")
			for _, client := range []bool{false, true} {
				leaf := issueLeaf(t, ca, caKey, testKey(t, tt.key, "leaf"), "zlint.example.com",
					Options{SANs: []string{"www.zlint.example.com"}, Client: client, Server: true})
				lintCert(t, leaf)
			}
			lintCert(t, ca)
		})
	}
}

func lintCert(t *testing.T, c *x509.Certificate) {
	t.Helper()
	zc, err := zx509.ParseCertificate(c.Raw)
	if err != nil {
		t.Fatalf("zcrypto cannot parse the certificate: %v", err)
	}
	rs := zlint.LintCertificate(zc)
	var names []string
	for name := range rs.Results {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r := rs.Results[name]
		if r.Status != lint.Error && r.Status != lint.Fatal {
			continue
		}
		if _, ok := zlintExempt[name]; ok {
			continue
		}
		if _, ok := zlintExemptEd25519[name]; ok && (c.PublicKeyAlgorithm == x509.Ed25519 || c.SignatureAlgorithm == x509.PureEd25519) {
			continue
		}
		t.Errorf("%s (CA %v): zlint %s: %s %s", c.Subject.CommonName, c.IsCA, name, r.Status, r.Details)
	}
}
