package x509util

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"software.sslmate.com/src/go-pkcs12"
)

// Bag is everything found in one or more certificate files: certificates in
// the order met, private keys and certificate requests.
type Bag struct {
	Certificates []*x509.Certificate
	Keys         []crypto.Signer
	CSRs         []*x509.CertificateRequest
}

// Add appends other's contents to b.
func (b *Bag) Add(other *Bag) {
	b.Certificates = append(b.Certificates, other.Certificates...)
	b.Keys = append(b.Keys, other.Keys...)
	b.CSRs = append(b.CSRs, other.CSRs...)
}

// ErrIncorrectPassword is returned when a PKCS#12 file cannot be decrypted
// with the password given.
var ErrIncorrectPassword = errors.New("x509util: wrong password for the PKCS#12 file")

// FormatError says why some input is not a certificate, key or CSR.
type FormatError struct {
	Reason string
}

func (e *FormatError) Error() string { return "x509util: " + e.Reason }

func formatErrorf(format string, args ...any) error {
	return &FormatError{Reason: fmt.Sprintf(format, args...)}
}

// ParseBag reads certificates, private keys and CSRs from data in any of
// the formats CAs and tools hand out: PEM with any number of blocks (text
// between them is ignored), DER certificates (one or several
// concatenated), PKCS#7 certificate bundles (.p7b, PEM or DER), PKCS#12
// (.p12/.pfx, decrypted with password), and DER keys (PKCS#8, PKCS#1,
// SEC 1) and CSRs. It returns a *FormatError when nothing usable is found
// or a block is malformed, and ErrIncorrectPassword for PKCS#12 files that
// the password does not open. Errors never contain key material.
func ParseBag(data []byte, password string) (*Bag, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, formatErrorf("the input is empty")
	}
	if bytes.Contains(data, []byte("-----BEGIN ")) {
		return parsePEMBag(data, password)
	}
	return parseDERBag(data, password)
}

func parsePEMBag(data []byte, password string) (*Bag, error) {
	bag := &Bag{}
	var skipped []string
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if err := bag.addPEMBlock(block, n, password); err != nil {
			if errors.Is(err, errSkipBlock) {
				skipped = append(skipped, block.Type)
				continue
			}
			return nil, err
		}
	}
	if i := bytes.Index(rest, []byte("-----BEGIN ")); i >= 0 {
		return nil, formatErrorf("%s is truncated or malformed (no matching END line, or bad base64)", describeBegin(rest[i:]))
	}
	if bag.empty() {
		if len(skipped) > 0 {
			return nil, formatErrorf("found only %s PEM blocks; expected CERTIFICATE, PRIVATE KEY or CERTIFICATE REQUEST", strings.Join(uniq(skipped), ", "))
		}
		return nil, formatErrorf("no PEM block found")
	}
	return bag, nil
}

var errSkipBlock = errors.New("skip")

func (b *Bag) addPEMBlock(block *pem.Block, n int, password string) error {
	switch block.Type {
	case "CERTIFICATE", "X509 CERTIFICATE":
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return formatErrorf("PEM block %d (CERTIFICATE) is not a valid certificate: %v", n, trimX509(err))
		}
		b.Certificates = append(b.Certificates, c)
	case "TRUSTED CERTIFICATE":
		// OpenSSL's form: a certificate followed by trust settings.
		var raw asn1.RawValue
		if _, err := asn1.Unmarshal(block.Bytes, &raw); err != nil {
			return formatErrorf("PEM block %d (TRUSTED CERTIFICATE) is malformed", n)
		}
		c, err := x509.ParseCertificate(raw.FullBytes)
		if err != nil {
			return formatErrorf("PEM block %d (TRUSTED CERTIFICATE) is not a valid certificate: %v", n, trimX509(err))
		}
		b.Certificates = append(b.Certificates, c)
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
		if block.Headers["Proc-Type"] != "" {
			return formatErrorf("PEM block %d is an encrypted legacy private key; decrypt it first with 'openssl pkey -in FILE -out plain.key'", n)
		}
		k, err := ParsePrivateKeyDER(block.Bytes)
		if err != nil {
			return formatErrorf("PEM block %d (%s) is not a valid private key", n, block.Type)
		}
		b.Keys = append(b.Keys, k)
	case "ENCRYPTED PRIVATE KEY":
		return formatErrorf("PEM block %d is an encrypted private key; decrypt it first with 'openssl pkey -in FILE -out plain.key'", n)
	case "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
		r, err := x509.ParseCertificateRequest(block.Bytes)
		if err != nil {
			return formatErrorf("PEM block %d (CERTIFICATE REQUEST) is not a valid CSR: %v", n, trimX509(err))
		}
		b.CSRs = append(b.CSRs, r)
	case "PKCS7":
		certs, err := parsePKCS7(block.Bytes)
		if err != nil {
			return formatErrorf("PEM block %d (PKCS7): %v", n, err)
		}
		b.Certificates = append(b.Certificates, certs...)
	case "PKCS12":
		sub, err := parsePKCS12(block.Bytes, password)
		if err != nil {
			return err
		}
		b.Add(sub)
	default:
		return errSkipBlock
	}
	return nil
}

func parseDERBag(data []byte, password string) (*Bag, error) {
	if c, err := x509.ParseCertificate(data); err == nil {
		return &Bag{Certificates: []*x509.Certificate{c}}, nil
	}
	if cs, err := x509.ParseCertificates(data); err == nil && len(cs) > 0 {
		return &Bag{Certificates: cs}, nil
	}
	if certs, err := parsePKCS7(data); err == nil {
		return &Bag{Certificates: certs}, nil
	}
	if k, err := ParsePrivateKeyDER(data); err == nil {
		return &Bag{Keys: []crypto.Signer{k}}, nil
	}
	if r, err := x509.ParseCertificateRequest(data); err == nil {
		return &Bag{CSRs: []*x509.CertificateRequest{r}}, nil
	}
	if looksLikePKCS12(data) {
		return parsePKCS12(data, password)
	}
	return nil, formatErrorf("not a certificate, key or CSR in any known format (PEM, DER, PKCS#7 or PKCS#12)")
}

// looksLikePKCS12 checks for PFX's outer shape: SEQUENCE { INTEGER 3, ... }.
func looksLikePKCS12(data []byte) bool {
	s := cryptobyte.String(data)
	var pfx cryptobyte.String
	var version int
	return s.ReadASN1(&pfx, cbasn1.SEQUENCE) && pfx.ReadASN1Integer(&version) && version == 3
}

// MaxPKCS12Iterations bounds the key-derivation work a PKCS#12 file may
// ask for. Real files use 2,000 to 600,000 iterations; the count is read
// from the file itself, so without a bound a crafted file could make
// parsing take hours.
const MaxPKCS12Iterations = 1 << 21

func parsePKCS12(data []byte, password string) (*Bag, error) {
	if n := maxIterations(cryptobyte.String(data), false, 0); n > MaxPKCS12Iterations {
		return nil, formatErrorf("the PKCS#12 file asks for %d key-derivation iterations, more than the %d allowed", n, MaxPKCS12Iterations)
	}
	key, leaf, cas, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			if password == "" {
				return nil, fmt.Errorf("%w (it needs one: use --password-file)", ErrIncorrectPassword)
			}
			return nil, ErrIncorrectPassword
		}
		// DecodeChain insists on exactly one key; trust stores have none.
		if certs, terr := pkcs12.DecodeTrustStore(data, password); terr == nil {
			return &Bag{Certificates: certs}, nil
		}
		return nil, formatErrorf("the PKCS#12 file is not valid: %v", err)
	}
	bag := &Bag{Certificates: append([]*x509.Certificate{leaf}, cas...)}
	if s, ok := key.(crypto.Signer); ok {
		bag.Keys = append(bag.Keys, s)
	}
	return bag, nil
}

var oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

// parsePKCS7 extracts the certificates of a DER PKCS#7 SignedData, the
// certificate-only ("degenerate") form CAs use for .p7b bundles.
func parsePKCS7(der []byte) ([]*x509.Certificate, error) {
	s := cryptobyte.String(der)
	var ci, content, sd, certsField cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.ReadASN1ObjectIdentifier(&oid) {
		return nil, errors.New("not a DER PKCS#7 structure")
	}
	if !oid.Equal(oidSignedData) {
		return nil, fmt.Errorf("PKCS#7 content type %v is not SignedData", oid)
	}
	if !ci.ReadASN1(&content, cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!content.ReadASN1(&sd, cbasn1.SEQUENCE) ||
		!sd.SkipASN1(cbasn1.INTEGER) || // version
		!sd.SkipASN1(cbasn1.SET) || // digestAlgorithms
		!sd.SkipASN1(cbasn1.SEQUENCE) { // encapContentInfo
		return nil, errors.New("malformed PKCS#7 SignedData (BER-encoded bundles are not supported; convert with 'openssl pkcs7 -print_certs')")
	}
	var present bool
	if !sd.ReadOptionalASN1(&certsField, &present, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, errors.New("malformed PKCS#7 certificate list")
	}
	var certs []*x509.Certificate
	for !certsField.Empty() {
		var raw cryptobyte.String
		if !certsField.ReadASN1Element(&raw, cbasn1.SEQUENCE) {
			return nil, errors.New("malformed certificate in PKCS#7 bundle")
		}
		c, err := x509.ParseCertificate(raw)
		if err != nil {
			return nil, fmt.Errorf("invalid certificate in PKCS#7 bundle: %v", trimX509(err))
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("the PKCS#7 bundle holds no certificates")
	}
	return certs, nil
}

// ParsePrivateKeyDER parses a DER private key in PKCS#8, PKCS#1 (RSA) or
// SEC 1 (EC) form. Its error never includes the key bytes.
func ParsePrivateKeyDER(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, formatErrorf("unsupported private key type %T", k)
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, formatErrorf("not a PKCS#8, PKCS#1 or SEC 1 private key")
}

// ParsePrivateKey reads exactly one private key from data (PEM, DER or
// PKCS#12). It returns a *FormatError when there is no key or more than one.
func ParsePrivateKey(data []byte, password string) (crypto.Signer, error) {
	bag, err := ParseBag(data, password)
	if err != nil {
		return nil, err
	}
	switch len(bag.Keys) {
	case 0:
		if len(bag.Certificates) > 0 {
			return nil, formatErrorf("this is a certificate, not a private key")
		}
		if len(bag.CSRs) > 0 {
			return nil, formatErrorf("this is a certificate request, not a private key")
		}
		return nil, formatErrorf("no private key found")
	case 1:
		return bag.Keys[0], nil
	}
	return nil, formatErrorf("found %d private keys; expected one", len(bag.Keys))
}

// ParseCertificates reads every certificate in data, in any format
// ParseBag accepts. It returns a *FormatError when there is none.
func ParseCertificates(data []byte, password string) ([]*x509.Certificate, error) {
	bag, err := ParseBag(data, password)
	if err != nil {
		return nil, err
	}
	if len(bag.Certificates) == 0 {
		switch {
		case len(bag.Keys) > 0:
			return nil, formatErrorf("this is a private key, not a certificate")
		case len(bag.CSRs) > 0:
			return nil, formatErrorf("this is a certificate request, not a certificate")
		}
		return nil, formatErrorf("no certificate found")
	}
	return bag.Certificates, nil
}

// ParseCSR reads one certificate request (PEM or DER) and checks its
// signature. It returns a *FormatError when data holds no CSR and an error
// when the signature is invalid.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	bag, err := ParseBag(data, "")
	if err != nil {
		return nil, err
	}
	if len(bag.CSRs) != 1 {
		if len(bag.CSRs) == 0 {
			if len(bag.Certificates) > 0 {
				return nil, formatErrorf("this is a certificate, not a certificate request")
			}
			if len(bag.Keys) > 0 {
				return nil, formatErrorf("this is a private key, not a certificate request")
			}
			return nil, formatErrorf("no certificate request found")
		}
		return nil, formatErrorf("found %d certificate requests; expected one", len(bag.CSRs))
	}
	csr := bag.CSRs[0]
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("x509util: the certificate request's signature is invalid: %v", trimX509(err))
	}
	return csr, nil
}

// EncodeCertificatesPEM returns certs as consecutive CERTIFICATE blocks.
func EncodeCertificatesPEM(certs ...*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.Bytes()
}

// EncodeCSRPEM returns a CSR as a CERTIFICATE REQUEST block.
func EncodeCSRPEM(csr *x509.CertificateRequest) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr.Raw})
}

// PKCS12Options chooses the PKCS#12 encoding.
type PKCS12Options struct {
	// Legacy selects 3DES/RC2 and SHA-1 for software that cannot read the
	// modern AES-256 + PBKDF2 form (Windows before Server 2019, old Java).
	Legacy bool
}

// EncodePKCS12 packs key, the leaf and its chain into a password-protected
// PKCS#12 file. It returns an error when key does not match the leaf.
func EncodePKCS12(key crypto.Signer, chain []*x509.Certificate, password string, opts PKCS12Options) ([]byte, error) {
	if len(chain) == 0 {
		return nil, errors.New("x509util: PKCS#12 needs at least the leaf certificate")
	}
	if err := KeyMatchesCertificate(key, chain[0]); err != nil {
		return nil, err
	}
	enc := pkcs12.Modern
	if opts.Legacy {
		enc = pkcs12.LegacyRC2
	}
	return enc.Encode(key, chain[0], chain[1:], password)
}

// describeBegin names the PEM block starting at b by its type when that is
// one we know; the line itself is never repeated, since whatever follows
// "-----BEGIN " in a damaged file may be anything, key material included.
func describeBegin(b []byte) string {
	b = bytes.TrimPrefix(b, []byte("-----BEGIN "))
	if i := bytes.Index(b, []byte("-----")); i >= 0 {
		switch t := string(b[:i]); t {
		case "CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE", "PRIVATE KEY", "RSA PRIVATE KEY",
			"EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST", "PKCS7", "PKCS12":
			return "a " + t + " PEM block"
		}
	}
	return "a PEM block"
}

func trimX509(err error) string {
	return strings.TrimPrefix(err.Error(), "x509: ")
}

func uniq(ss []string) []string {
	m := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !m[s] {
			m[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func (b *Bag) empty() bool {
	return len(b.Certificates) == 0 && len(b.Keys) == 0 && len(b.CSRs) == 0
}

// maxIterations walks DER and returns the largest iteration count it
// finds: an INTEGER that directly follows an OCTET STRING (a salt) in a
// SEQUENCE, the shape of PKCS#12 MacData, PKCS#5 PBE parameters and PBKDF2
// parameters. It descends into OCTET STRINGs that hold DER, as PKCS#12
// nests its contents. Malformed input yields what was found so far.
func maxIterations(s cryptobyte.String, inSequence bool, depth int) int64 {
	if depth > 16 {
		return 0
	}
	var best int64
	prevOctet := false
	for !s.Empty() {
		var elem cryptobyte.String
		var tag cbasn1.Tag
		if !s.ReadAnyASN1(&elem, &tag) {
			return best
		}
		switch {
		case tag == cbasn1.INTEGER && prevOctet && inSequence:
			if n := derIntValue(elem); n > best {
				best = n
			}
		case tag&0x20 != 0: // constructed
			if n := maxIterations(elem, tag == cbasn1.SEQUENCE, depth+1); n > best {
				best = n
			}
		case tag == cbasn1.OCTET_STRING:
			if n := maxIterations(elem, false, depth+1); n > best {
				best = n
			}
		}
		prevOctet = tag == cbasn1.OCTET_STRING
	}
	return best
}

// derIntValue returns the value of a DER INTEGER's content octets, or a
// huge number when they do not fit in 62 bits.
func derIntValue(b []byte) int64 {
	if len(b) == 0 || b[0]&0x80 != 0 {
		return 0 // negative or empty: pkcs12 rejects it anyway
	}
	if len(b) > 8 {
		return 1 << 62
	}
	var n uint64
	for _, c := range b {
		n = n<<8 | uint64(c)
	}
	if n > 1<<62 {
		return 1 << 62
	}
	return int64(n)
}
