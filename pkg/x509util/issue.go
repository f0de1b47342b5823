package x509util

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Subject holds the distinguished-name fields users set.
type Subject struct {
	CommonName         string
	Organization       string
	OrganizationalUnit string
	Country            string
	Province           string
	Locality           string
}

func (s Subject) pkix() pkix.Name {
	n := pkix.Name{CommonName: s.CommonName}
	add := func(dst *[]string, v string) {
		if v != "" {
			*dst = append(*dst, v)
		}
	}
	add(&n.Organization, s.Organization)
	add(&n.OrganizationalUnit, s.OrganizationalUnit)
	add(&n.Country, s.Country)
	add(&n.Province, s.Province)
	add(&n.Locality, s.Locality)
	return n
}

// Backdate is how far before the issuing time a certificate's validity
// starts, so that clients whose clocks lag a little accept it at once.
const Backdate = time.Minute

// Options describes a certificate or certificate request. The zero value
// with a CommonName, a Now and a Validity makes a server leaf.
type Options struct {
	Subject Subject
	// SANs are extra subject alternative names; each one's kind (DNS, IP,
	// e-mail, URI) is detected by ParseName.
	SANs []string
	// Now is the issuing time; the library never reads the clock.
	Now time.Time
	// Validity is how long the certificate is valid from Now.
	Validity time.Duration

	// IsCA makes a CA certificate: CA:TRUE, keyCertSign and cRLSign, a
	// free-form CommonName and no automatic SAN.
	IsCA bool
	// MaxPathLen, when non-nil, limits how many intermediates may follow
	// this CA (0: it signs only leaves).
	MaxPathLen *int
	// PermittedDomains become critical name constraints of a CA: DNS
	// domains ("example.com", ".example.com") or IP ranges in CIDR form.
	PermittedDomains []string

	// Client makes a TLS client certificate (clientAuth) instead of a
	// server one (serverAuth). Server and Client together give both.
	Client bool
	Server bool

	// Optional revocation and issuer pointers for realistic leaves.
	CRLURLs       []string
	OCSPURLs      []string
	IssuerURLs    []string
	PolicyOIDs    []string
	SerialNumber  *big.Int // nil: 128 random bits
	Rand          io.Reader
	SkipNameCheck bool // for tests that need deliberately bad certificates
}

func (o *Options) random() io.Reader {
	if o.Rand != nil {
		return o.Rand
	}
	return rand.Reader
}

// names collects the SANs: for a leaf, the CommonName comes first.
func (o *Options) names() (dns []string, ips []net.IP, emails []string, uris []*url.URL, cn string, err error) {
	cn = o.Subject.CommonName
	all := o.SANs
	seen := map[string]bool{}
	add := func(n Name) {
		key := n.Kind.String() + ":" + n.Value
		if seen[key] {
			return
		}
		seen[key] = true
		switch n.Kind {
		case DNSName:
			dns = append(dns, n.Value)
		case IPAddress:
			ips = append(ips, n.IP)
		case EmailAddress:
			emails = append(emails, n.Value)
		case URIName:
			uris = append(uris, n.URI)
		}
	}
	if !o.IsCA {
		if cn == "" && len(all) == 0 {
			return nil, nil, nil, nil, "", errors.New("x509util: a certificate needs a common name or at least one subject alternative name")
		}
		if cn != "" {
			n, perr := ParseName(cn)
			if perr != nil || (n.Kind != DNSName && n.Kind != IPAddress) {
				return nil, nil, nil, nil, "", &NameError{Name: cn, Reason: "a leaf's common name must be a host name or IP address, since it is also used as a subject alternative name; use a host name as the CN and add other names with --san"}
			}
			cn = n.Value
			add(n)
		}
	}
	for _, s := range all {
		n, perr := ParseName(s)
		if perr != nil {
			return nil, nil, nil, nil, "", perr
		}
		add(n)
	}
	return dns, ips, emails, uris, cn, nil
}

// SelfSign makes a self-signed certificate for key. It returns an error for
// invalid names, a zero Now or a non-positive Validity.
func SelfSign(key crypto.Signer, opts Options) (*x509.Certificate, error) {
	tmpl, err := template(key.Public(), opts)
	if err != nil {
		return nil, err
	}
	return create(tmpl, tmpl, key.Public(), key, opts.random())
}

// CreateCSR makes a certificate signing request for key carrying the
// subject and, for a leaf, the common name and SANs as a SubjectAltName
// extension. It returns an error for invalid names.
func CreateCSR(key crypto.Signer, opts Options) (*x509.CertificateRequest, error) {
	dns, ips, emails, uris, cn, err := opts.names()
	if err != nil {
		return nil, err
	}
	subj := opts.Subject
	subj.CommonName = cn
	req := &x509.CertificateRequest{
		Subject:        subj.pkix(),
		DNSNames:       dns,
		IPAddresses:    ips,
		EmailAddresses: emails,
		URIs:           uris,
	}
	der, err := x509.CreateCertificateRequest(opts.random(), req, key)
	if err != nil {
		return nil, fmt.Errorf("x509util: creating CSR: %v", err)
	}
	return x509.ParseCertificateRequest(der)
}

// CAError says why a certificate cannot be used to issue others.
type CAError struct{ Reason string }

func (e *CAError) Error() string { return "x509util: cannot issue with this CA: " + e.Reason }

// SignCSR issues a certificate for csr signed by ca and caKey. The result
// keeps the CSR's subject and, for a leaf, its SubjectAltNames (plus
// opts.SANs); nothing else is copied from the request. opts.Subject is ignored. The validity is cut
// to end no later than the CA's. It returns a *CAError when ca is not a
// usable CA at opts.Now, ErrKeyMismatch when caKey is not ca's key, and an
// error when the CSR's signature does not verify.
func SignCSR(csr *x509.CertificateRequest, ca *x509.Certificate, caKey crypto.Signer, opts Options) (*x509.Certificate, error) {
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("x509util: the certificate request's signature is invalid: %v", trimX509(err))
	}
	if err := CheckCA(ca, opts.Now); err != nil {
		return nil, err
	}
	if err := KeyMatchesCertificate(caKey, ca); err != nil {
		return nil, fmt.Errorf("x509util: the CA key does not match the CA certificate; check that --keyin is the key of --cain")
	}
	// A leaf keeps the request's names (first) and gains the extras; a CA
	// certificate's name is its subject alone, as with SelfSign.
	var sans []string
	if !opts.IsCA {
		sans = CSRNames(csr)
	}
	sans = append(sans, opts.SANs...)
	o := opts
	o.SANs = sans
	o.Subject = Subject{CommonName: csr.Subject.CommonName}
	tmpl, err := template(csr.PublicKey, o)
	if err != nil {
		return nil, err
	}
	tmpl.RawSubject = csr.RawSubject
	if tmpl.NotAfter.After(ca.NotAfter) {
		tmpl.NotAfter = ca.NotAfter
	}
	return create(tmpl, ca, csr.PublicKey, caKey, o.random())
}

// CheckCA returns a *CAError unless cert is a CA certificate allowed to
// sign certificates and valid at now.
func CheckCA(cert *x509.Certificate, now time.Time) error {
	name := cert.Subject.String()
	switch {
	case !cert.BasicConstraintsValid || !cert.IsCA:
		return &CAError{fmt.Sprintf("%q is not a CA certificate (no CA:TRUE basic constraint); make one with 'selfsign --ca'", name)}
	case cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0:
		return &CAError{fmt.Sprintf("%q may not sign certificates (its key usage lacks keyCertSign)", name)}
	case now.After(cert.NotAfter):
		return &CAError{fmt.Sprintf("%q expired on %s", name, cert.NotAfter.UTC().Format(time.DateOnly))}
	case now.Before(cert.NotBefore):
		return &CAError{fmt.Sprintf("%q is not valid before %s", name, cert.NotBefore.UTC().Format(time.RFC3339))}
	}
	return nil
}

func template(pub crypto.PublicKey, opts Options) (*x509.Certificate, error) {
	if opts.Now.IsZero() {
		return nil, errors.New("x509util: no issuing time given")
	}
	if opts.Validity <= 0 {
		return nil, errors.New("x509util: the validity must be at least one day")
	}
	dns, ips, emails, uris, cn, err := opts.names()
	if err != nil {
		return nil, err
	}
	serial := opts.SerialNumber
	if serial == nil {
		if serial, err = RandomSerial(opts.random()); err != nil {
			return nil, err
		}
	}
	skid, err := SubjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	subj := opts.Subject
	subj.CommonName = cn
	t := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subj.pkix(),
		NotBefore:             opts.Now.Add(-Backdate).UTC().Truncate(time.Second),
		NotAfter:              opts.Now.Add(opts.Validity).UTC().Truncate(time.Second),
		BasicConstraintsValid: true,
		SubjectKeyId:          skid,
		DNSNames:              dns,
		IPAddresses:           ips,
		EmailAddresses:        emails,
		URIs:                  uris,
		CRLDistributionPoints: opts.CRLURLs,
		OCSPServer:            opts.OCSPURLs,
		IssuingCertificateURL: opts.IssuerURLs,
	}
	for _, p := range opts.PolicyOIDs {
		oid, err := x509.ParseOID(p)
		if err != nil {
			return nil, fmt.Errorf("x509util: invalid policy OID %q", p)
		}
		t.Policies = append(t.Policies, oid)
	}
	if opts.IsCA {
		t.IsCA = true
		t.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
		if opts.MaxPathLen != nil {
			if *opts.MaxPathLen < 0 {
				return nil, errors.New("x509util: the path length must not be negative")
			}
			t.MaxPathLen = *opts.MaxPathLen
			t.MaxPathLenZero = *opts.MaxPathLen == 0
		} else {
			t.MaxPathLen = -1
		}
		for _, d := range opts.PermittedDomains {
			if _, ipnet, err := net.ParseCIDR(d); err == nil {
				t.PermittedIPRanges = append(t.PermittedIPRanges, ipnet)
				continue
			}
			dom := strings.TrimPrefix(d, ".")
			n, err := ParseName(dom)
			if err != nil || n.Kind != DNSName || strings.HasPrefix(n.Value, "*") {
				return nil, &NameError{Name: d, Reason: "a name constraint must be a DNS domain (example.com) or an IP range (10.0.0.0/8)"}
			}
			t.PermittedDNSDomains = append(t.PermittedDNSDomains, n.Value)
		}
		t.PermittedDNSDomainsCritical = len(t.PermittedDNSDomains)+len(t.PermittedIPRanges) > 0
		return t, nil
	}
	if len(opts.PermittedDomains) > 0 || opts.MaxPathLen != nil {
		return nil, errors.New("x509util: name constraints and path length apply only to CA certificates")
	}
	t.KeyUsage = x509.KeyUsageDigitalSignature
	if _, ok := pub.(*rsa.PublicKey); ok {
		t.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	if opts.Server || !opts.Client {
		t.ExtKeyUsage = append(t.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if opts.Client {
		t.ExtKeyUsage = append(t.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	return t, nil
}

func create(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer, random io.Reader) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(random, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("x509util: creating certificate: %v", trimX509(err))
	}
	return x509.ParseCertificate(der)
}

// RandomSerial returns a positive serial number of up to 128 random bits.
func RandomSerial(random io.Reader) (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(random, limit)
		if err != nil {
			return nil, fmt.Errorf("x509util: generating serial number: %v", err)
		}
		if n.BitLen() > 64 { // at least 64 bits of entropy, as the CA/B rules ask
			return n, nil
		}
	}
}

// SubjectKeyID computes the key identifier of pub as RFC 7093 method 1:
// the left-most 160 bits of the SHA-256 hash of the subjectPublicKey bits.
func SubjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	switch pub.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("x509util: unsupported public key type %T", pub)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("x509util: encoding public key: %v", err)
	}
	s := cryptobyte.String(der)
	var spki cryptobyte.String
	var bits asn1.BitString
	if !s.ReadASN1(&spki, cbasn1.SEQUENCE) || !spki.SkipASN1(cbasn1.SEQUENCE) || !spki.ReadASN1BitString(&bits) {
		return nil, errors.New("x509util: malformed public key encoding")
	}
	sum := sha256.Sum256(bits.Bytes)
	return sum[:20], nil
}
