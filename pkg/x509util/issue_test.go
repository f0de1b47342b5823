package x509util

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

var (
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidNameConstraints  = asn1.ObjectIdentifier{2, 5, 29, 30}
	oidCustom           = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 55555, 1}
)

func extension(c *x509.Certificate, oid asn1.ObjectIdentifier) *pkix.Extension {
	for i := range c.Extensions {
		if c.Extensions[i].Id.Equal(oid) {
			return &c.Extensions[i]
		}
	}
	return nil
}

// checkCommon checks what every certificate we issue shares.
func checkCommon(t *testing.T, c *x509.Certificate, spec KeySpec) {
	t.Helper()
	if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 || c.SerialNumber.BitLen() <= 64 {
		t.Errorf("serial %x has %d bits; want a positive 65..128-bit number", c.SerialNumber, c.SerialNumber.BitLen())
	}
	if want := testNow.Add(-time.Minute); !c.NotBefore.Equal(want) {
		t.Errorf("NotBefore = %v, want %v (backdated one minute)", c.NotBefore, want)
	}
	want := map[KeyType]x509.SignatureAlgorithm{RSA: x509.SHA256WithRSA, Ed25519: x509.PureEd25519}[spec.Type]
	if spec.Type == ECDSA {
		want = x509.ECDSAWithSHA256
		if spec.Size == 384 {
			want = x509.ECDSAWithSHA384 // Go matches the hash to the curve
		}
	}
	if c.SignatureAlgorithm != want {
		t.Errorf("signature algorithm %v, want %v", c.SignatureAlgorithm, want)
	}
	skid, err := SubjectKeyID(c.PublicKey)
	if err != nil || !bytes.Equal(c.SubjectKeyId, skid) {
		t.Errorf("SubjectKeyId = %x, want %x (%v)", c.SubjectKeyId, skid, err)
	}
	if len(c.SubjectKeyId) != 20 {
		t.Errorf("SubjectKeyId has %d bytes, want 20", len(c.SubjectKeyId))
	}
	if bc := extension(c, oidBasicConstraints); bc == nil {
		t.Error("no basicConstraints extension")
	} else if c.IsCA && !bc.Critical {
		t.Error("a CA's basicConstraints is not critical")
	}
}

func TestSelfSignLeaf(t *testing.T) {
	for _, spec := range []KeySpec{rsaSpec, p256Spec, p384Spec, ed25519Spec} {
		t.Run(DescribePublicKey(testKey(t, spec, "leaf").Public()), func(t *testing.T) {
			key := testKey(t, spec, "leaf")
			c, err := SelfSign(key, Options{
				Subject:  Subject{CommonName: "Example.COM", Organization: "Example Ltd", Country: "GB"},
				SANs:     []string{"www.example.com", "192.0.2.7", "2001:db8::7", "ops@example.com", "https://example.com/", "example.com"},
				Now:      testNow,
				Validity: 365 * 24 * time.Hour,
			})
			if err != nil {
				t.Fatal(err)
			}
			checkCommon(t, c, spec)
			if !c.NotAfter.Equal(testNow.Add(365 * 24 * time.Hour)) {
				t.Errorf("NotAfter = %v", c.NotAfter)
			}
			if c.IsCA || !c.BasicConstraintsValid {
				t.Error("a leaf must carry CA:FALSE")
			}
			wantKU := x509.KeyUsageDigitalSignature
			if spec.Type == RSA {
				wantKU |= x509.KeyUsageKeyEncipherment
			}
			if c.KeyUsage != wantKU {
				t.Errorf("KeyUsage = %b, want %b", c.KeyUsage, wantKU)
			}
			if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
				t.Errorf("ExtKeyUsage = %v, want serverAuth", c.ExtKeyUsage)
			}
			if c.Subject.CommonName != "example.com" || c.Subject.Organization[0] != "Example Ltd" || c.Subject.Country[0] != "GB" {
				t.Errorf("subject = %v", c.Subject)
			}
			if got := strings.Join(c.DNSNames, ","); got != "example.com,www.example.com" {
				t.Errorf("DNSNames = %s (the CN comes first, no duplicates)", got)
			}
			if len(c.IPAddresses) != 2 || !c.IPAddresses[0].Equal(net.ParseIP("192.0.2.7")) {
				t.Errorf("IPAddresses = %v", c.IPAddresses)
			}
			if len(c.EmailAddresses) != 1 || len(c.URIs) != 1 {
				t.Errorf("emails %v, URIs %v", c.EmailAddresses, c.URIs)
			}
			if len(c.AuthorityKeyId) != 0 && !bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId) {
				t.Errorf("self-signed AuthorityKeyId %x differs from SubjectKeyId", c.AuthorityKeyId)
			}
			if !IsSelfSigned(c) {
				t.Error("IsSelfSigned = false")
			}
			pool := x509.NewCertPool()
			pool.AddCert(c)
			if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: "www.example.com", CurrentTime: testNow}); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestLeafUsages(t *testing.T) {
	key := testKey(t, p256Spec, "leaf")
	for _, tt := range []struct {
		client, server bool
		want           []x509.ExtKeyUsage
	}{
		{false, false, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
		{true, false, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		{true, true, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
		{false, true, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
	} {
		c, err := SelfSign(key, Options{Subject: Subject{CommonName: "example.com"}, Now: testNow, Validity: time.Hour, Client: tt.client, Server: tt.server})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.ExtKeyUsage) != len(tt.want) {
			t.Errorf("client=%v server=%v: EKU %v, want %v", tt.client, tt.server, c.ExtKeyUsage, tt.want)
			continue
		}
		for i := range tt.want {
			if c.ExtKeyUsage[i] != tt.want[i] {
				t.Errorf("client=%v server=%v: EKU %v, want %v", tt.client, tt.server, c.ExtKeyUsage, tt.want)
			}
		}
	}
}

func TestCommonNameIsSAN(t *testing.T) {
	key := testKey(t, p256Spec, "leaf")
	for _, tt := range []struct {
		cn, dns, ip string
		wantErr     string
	}{
		{cn: "example.com", dns: "example.com"},
		{cn: "bücher.example", dns: "xn--bcher-kva.example"},
		{cn: "*.example.com", dns: "*.example.com"},
		{cn: "192.0.2.1", ip: "192.0.2.1"},
		{cn: "My Server", wantErr: "--san"},
		{cn: "ops@example.com", wantErr: "--san"},
		{cn: "https://example.com", wantErr: "--san"},
		{cn: "foo*.example.com", wantErr: "--san"},
	} {
		opts := Options{Subject: Subject{CommonName: tt.cn}, Now: testNow, Validity: time.Hour}
		c, err := SelfSign(key, opts)
		r, rerr := CreateCSR(key, opts)
		if tt.wantErr != "" {
			var ne *NameError
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &ne) || ne.Name != tt.cn {
				t.Errorf("SelfSign(CN %q) = %v, want a *NameError mentioning %s", tt.cn, err, tt.wantErr)
			}
			if rerr == nil || !strings.Contains(rerr.Error(), tt.wantErr) {
				t.Errorf("CreateCSR(CN %q) = %v, want an error mentioning %s", tt.cn, rerr, tt.wantErr)
			}
			continue
		}
		if err != nil || rerr != nil {
			t.Errorf("CN %q: %v / %v", tt.cn, err, rerr)
			continue
		}
		if tt.dns != "" && (len(c.DNSNames) != 1 || c.DNSNames[0] != tt.dns || len(r.DNSNames) != 1 || r.DNSNames[0] != tt.dns) {
			t.Errorf("CN %q: cert DNS %v, CSR DNS %v; want [%s]", tt.cn, c.DNSNames, r.DNSNames, tt.dns)
		}
		if tt.ip != "" && (len(c.IPAddresses) != 1 || c.IPAddresses[0].String() != tt.ip || len(r.IPAddresses) != 1) {
			t.Errorf("CN %q: cert IPs %v, CSR IPs %v; want [%s]", tt.cn, c.IPAddresses, r.IPAddresses, tt.ip)
		}
		if c.Subject.CommonName != strings.TrimPrefix(tt.dns+tt.ip, "") {
			t.Errorf("CN %q stored as %q", tt.cn, c.Subject.CommonName)
		}
	}
	// No CN at all: the SANs alone are enough; nothing at all is an error.
	if c, err := SelfSign(key, Options{SANs: []string{"example.net"}, Now: testNow, Validity: time.Hour}); err != nil || c.DNSNames[0] != "example.net" {
		t.Errorf("SAN-only leaf: %v", err)
	}
	if _, err := SelfSign(key, Options{Now: testNow, Validity: time.Hour}); err == nil {
		t.Error("a leaf with no name at all was made")
	}
	if _, err := SelfSign(key, Options{Subject: Subject{CommonName: "example.com"}, SANs: []string{"bad_name.example"}, Now: testNow, Validity: time.Hour}); err == nil || !strings.Contains(err.Error(), `"bad_name.example"`) {
		t.Errorf("bad SAN: %v, want an error naming it", err)
	}
}

func TestSelfSignCA(t *testing.T) {
	zero, two := 0, 2
	for _, tt := range []struct {
		name        string
		pathLen     *int
		wantMax     int
		wantMaxZero bool
		permitted   []string
		dns         []string
		ips         []string
	}{
		{name: "unlimited", wantMax: -1},
		{name: "pathlen 0", pathLen: &zero, wantMax: 0, wantMaxZero: true},
		{name: "pathlen 2", pathLen: &two, wantMax: 2},
		{name: "name constraints", wantMax: -1, permitted: []string{"example.com", ".bücher.example", "10.0.0.0/8", "2001:db8::/32"},
			dns: []string{"example.com", "xn--bcher-kva.example"}, ips: []string{"10.0.0.0/8", "2001:db8::/32"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key := testKey(t, p256Spec, "ca")
			c, err := SelfSign(key, Options{
				Subject: Subject{CommonName: "Example Root CA (free form!)"}, Now: testNow, Validity: 3650 * 24 * time.Hour,
				IsCA: true, MaxPathLen: tt.pathLen, PermittedDomains: tt.permitted,
			})
			if err != nil {
				t.Fatal(err)
			}
			checkCommon(t, c, p256Spec)
			if !c.IsCA || !c.BasicConstraintsValid {
				t.Error("not CA:TRUE")
			}
			if c.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
				t.Errorf("KeyUsage %b lacks keyCertSign or cRLSign", c.KeyUsage)
			}
			if len(c.ExtKeyUsage) != 0 {
				t.Errorf("CA has EKU %v", c.ExtKeyUsage)
			}
			if len(SANs(c)) != 0 {
				t.Errorf("CA has SANs %v", SANs(c))
			}
			if c.Subject.CommonName != "Example Root CA (free form!)" {
				t.Errorf("CN = %q", c.Subject.CommonName)
			}
			if c.MaxPathLen != tt.wantMax || c.MaxPathLenZero != tt.wantMaxZero {
				t.Errorf("MaxPathLen = %d (zero %v), want %d (%v)", c.MaxPathLen, c.MaxPathLenZero, tt.wantMax, tt.wantMaxZero)
			}
			nc := extension(c, oidNameConstraints)
			if len(tt.permitted) == 0 {
				if nc != nil {
					t.Error("unexpected name constraints")
				}
				return
			}
			if nc == nil || !nc.Critical {
				t.Fatal("name constraints missing or not critical")
			}
			if strings.Join(c.PermittedDNSDomains, ",") != strings.Join(tt.dns, ",") {
				t.Errorf("PermittedDNSDomains = %v, want %v", c.PermittedDNSDomains, tt.dns)
			}
			var ips []string
			for _, n := range c.PermittedIPRanges {
				ips = append(ips, n.String())
			}
			if strings.Join(ips, ",") != strings.Join(tt.ips, ",") {
				t.Errorf("PermittedIPRanges = %v, want %v", ips, tt.ips)
			}
			// The constraint is enforced on issued leaves.
			leafKey := testKey(t, p256Spec, "leaf")
			ok := issueLeaf(t, c, key, leafKey, "www.example.com", Options{})
			bad := issueLeaf(t, c, key, leafKey, "www.example.org", Options{})
			pool := x509.NewCertPool()
			pool.AddCert(c)
			if _, err := ok.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: testNow}); err != nil {
				t.Errorf("permitted leaf: %v", err)
			}
			if _, err := bad.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: testNow}); err == nil {
				t.Error("a leaf outside the name constraints verified")
			}
		})
	}
}

func TestOptionsErrors(t *testing.T) {
	key := testKey(t, p256Spec, "leaf")
	one := 1
	neg := -1
	base := Options{Subject: Subject{CommonName: "example.com"}, Now: testNow, Validity: time.Hour}
	for _, tt := range []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"zero time", func(o *Options) { o.Now = time.Time{} }, "no issuing time"},
		{"zero validity", func(o *Options) { o.Validity = 0 }, "validity"},
		{"negative validity", func(o *Options) { o.Validity = -time.Hour }, "validity"},
		{"leaf path length", func(o *Options) { o.MaxPathLen = &one }, "only to CA certificates"},
		{"leaf name constraints", func(o *Options) { o.PermittedDomains = []string{"example.com"} }, "only to CA certificates"},
		{"negative path length", func(o *Options) { o.IsCA = true; o.MaxPathLen = &neg }, "negative"},
		{"wildcard constraint", func(o *Options) { o.IsCA = true; o.PermittedDomains = []string{"*.example.com"} }, "name constraint"},
		{"bad constraint", func(o *Options) { o.IsCA = true; o.PermittedDomains = []string{"not a domain"} }, "name constraint"},
		{"bad policy", func(o *Options) { o.PolicyOIDs = []string{"x.y"} }, "policy OID"},
	} {
		o := base
		tt.mod(&o)
		if _, err := SelfSign(key, o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", tt.name, err, tt.want)
		}
	}
}

func TestSignCSR(t *testing.T) {
	ca, caKey := testCA(t, rsaSpec, "sign")
	for _, spec := range []KeySpec{rsaSpec, p256Spec, ed25519Spec} {
		t.Run(string(spec.Type), func(t *testing.T) {
			key := testKey(t, spec, "leaf")
			// A request asking for far more than it should get.
			tmpl := &x509.CertificateRequest{
				Subject:        pkix.Name{CommonName: "app.example.com", Organization: []string{"App Ltd"}},
				DNSNames:       []string{"app.example.com", "api.example.com"},
				IPAddresses:    []net.IP{net.ParseIP("192.0.2.10")},
				EmailAddresses: []string{"ops@example.com"},
				ExtraExtensions: []pkix.Extension{
					{Id: oidBasicConstraints, Critical: true, Value: []byte{0x30, 0x03, 0x01, 0x01, 0xff}}, // CA:TRUE
					{Id: oidCustom, Value: []byte{0x05, 0x00}},
				},
			}
			der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
			if err != nil {
				t.Fatal(err)
			}
			csr, err := x509.ParseCertificateRequest(der)
			if err != nil {
				t.Fatal(err)
			}
			c, err := SignCSR(csr, ca, caKey, Options{Now: testNow, Validity: 90 * 24 * time.Hour, SANs: []string{"extra.example.com"}, Client: true, Server: true})
			if err != nil {
				t.Fatal(err)
			}
			checkCommon(t, c, rsaSpec) // signed by the RSA CA
			if c.IsCA {
				t.Error("the request's CA:TRUE was copied")
			}
			if extension(c, oidCustom) != nil {
				t.Error("the request's custom extension was copied")
			}
			if !bytes.Equal(c.AuthorityKeyId, ca.SubjectKeyId) {
				t.Errorf("AuthorityKeyId %x, want the CA's SubjectKeyId %x", c.AuthorityKeyId, ca.SubjectKeyId)
			}
			if !bytes.Equal(c.RawSubject, csr.RawSubject) || !bytes.Equal(c.RawIssuer, ca.RawSubject) {
				t.Errorf("subject %v issuer %v", c.Subject, c.Issuer)
			}
			if got := strings.Join(SANs(c), ","); got != "app.example.com,api.example.com,extra.example.com,192.0.2.10,ops@example.com" {
				t.Errorf("SANs = %s", got)
			}
			wantKU := x509.KeyUsageDigitalSignature
			if spec.Type == RSA {
				wantKU |= x509.KeyUsageKeyEncipherment
			}
			if c.KeyUsage != wantKU {
				t.Errorf("KeyUsage %b, want %b", c.KeyUsage, wantKU)
			}
			if IsSelfSigned(c) {
				t.Error("IsSelfSigned(issued) = true")
			}
			pool := x509.NewCertPool()
			pool.AddCert(ca)
			if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: "api.example.com", CurrentTime: testNow.Add(time.Hour)}); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestSignCSRValidityCutToCA(t *testing.T) {
	caKey := testKey(t, p256Spec, "ca")
	ca, err := SelfSign(caKey, Options{Subject: Subject{CommonName: "Short CA"}, Now: testNow, Validity: 30 * 24 * time.Hour, IsCA: true})
	if err != nil {
		t.Fatal(err)
	}
	c := issueLeaf(t, ca, caKey, testKey(t, p256Spec, "leaf"), "example.com", Options{Validity: 365 * 24 * time.Hour})
	if !c.NotAfter.Equal(ca.NotAfter) {
		t.Errorf("NotAfter %v, want the CA's %v", c.NotAfter, ca.NotAfter)
	}
}

func TestSignCSRIntermediate(t *testing.T) {
	ca, caKey := testCA(t, p256Spec, "root")
	ikey := testKey(t, p256Spec, "intermediate")
	csr, err := CreateCSR(ikey, Options{Subject: Subject{CommonName: "Example Intermediate"}, IsCA: true})
	if err != nil {
		t.Fatal(err)
	}
	zero := 0
	inter, err := SignCSR(csr, ca, caKey, Options{Now: testNow, Validity: 365 * 24 * time.Hour, IsCA: true, MaxPathLen: &zero})
	if err != nil {
		t.Fatal(err)
	}
	if !inter.IsCA || inter.MaxPathLen != 0 || !inter.MaxPathLenZero {
		t.Errorf("intermediate: IsCA %v MaxPathLen %d", inter.IsCA, inter.MaxPathLen)
	}
	if err := CheckCA(inter, testNow); err != nil {
		t.Errorf("CheckCA(intermediate) = %v", err)
	}
	leaf := issueLeaf(t, inter, ikey, testKey(t, ed25519Spec, "leaf"), "deep.example.com", Options{})
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(ca)
	inters.AddCert(inter)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, DNSName: "deep.example.com", CurrentTime: testNow}); err != nil {
		t.Errorf("Verify through the intermediate: %v", err)
	}
}

func TestSignCSRErrors(t *testing.T) {
	ca, caKey := testCA(t, p256Spec, "errors")
	key := testKey(t, p256Spec, "leaf")
	csr, err := CreateCSR(key, Options{Subject: Subject{CommonName: "example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Now: testNow, Validity: time.Hour}
	leaf, leafKey := testLeaf(t, p256Spec, "notaca.example")

	if _, err := SignCSR(csr, ca, testKey(t, p256Spec, "wrong"), opts); err == nil || !strings.Contains(err.Error(), "CA key does not match") {
		t.Errorf("wrong CA key: %v", err)
	}
	var cae *CAError
	if _, err := SignCSR(csr, leaf, leafKey, opts); !errors.As(err, &cae) || !strings.Contains(err.Error(), "not a CA certificate") {
		t.Errorf("non-CA issuer: %v", err)
	}
	late := opts
	late.Now = ca.NotAfter.Add(time.Hour)
	if _, err := SignCSR(csr, ca, caKey, late); !errors.As(err, &cae) || !strings.Contains(err.Error(), "expired on") {
		t.Errorf("expired CA: %v", err)
	}
	bad := *csr
	bad.Signature = bytes.Clone(csr.Signature)
	bad.Signature[5] ^= 1
	if _, err := SignCSR(&bad, ca, caKey, opts); err == nil || !strings.Contains(err.Error(), "signature is invalid") {
		t.Errorf("bad CSR signature: %v", err)
	}
}

func TestCheckCA(t *testing.T) {
	ca, _ := testCA(t, p256Spec, "check")
	leaf, _ := testLeaf(t, p256Spec, "leaf.example")
	key := testKey(t, p256Spec, "raw")
	// A CA:TRUE certificate whose key usage forbids signing certificates.
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "No CertSign"},
		NotBefore: testNow, NotAfter: testNow.Add(time.Hour),
		BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	noSign, _ := x509.ParseCertificate(der)
	for _, tt := range []struct {
		name string
		cert *x509.Certificate
		now  time.Time
		want string
	}{
		{"valid", ca, testNow, ""},
		{"leaf", leaf, testNow, "not a CA certificate"},
		{"no keyCertSign", noSign, testNow, "lacks keyCertSign"},
		{"expired", ca, ca.NotAfter.Add(time.Second), "expired on " + ca.NotAfter.Format(time.DateOnly)},
		{"not yet valid", ca, ca.NotBefore.Add(-time.Second), "not valid before"},
	} {
		err := CheckCA(tt.cert, tt.now)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		var cae *CAError
		if !errors.As(err, &cae) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want a *CAError with %q", tt.name, err, tt.want)
		}
	}
}

func TestRandomSerial(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		n, err := RandomSerial(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if n.Sign() <= 0 || n.BitLen() > 128 || n.BitLen() <= 64 {
			t.Fatalf("serial %x has %d bits", n, n.BitLen())
		}
		if seen[n.String()] {
			t.Fatal("repeated serial")
		}
		seen[n.String()] = true
	}
	if _, err := RandomSerial(bytes.NewReader(nil)); err == nil {
		t.Error("RandomSerial with an empty random source succeeded")
	}
	fixed := big.NewInt(42)
	c, err := SelfSign(testKey(t, p256Spec, "leaf"), Options{Subject: Subject{CommonName: "example.com"}, Now: testNow, Validity: time.Hour, SerialNumber: fixed})
	if err != nil || c.SerialNumber.Cmp(fixed) != 0 {
		t.Errorf("fixed serial: %v", err)
	}
}

func TestSubjectKeyID(t *testing.T) {
	if _, err := SubjectKeyID(struct{}{}); err == nil {
		t.Error("SubjectKeyID(unknown type) succeeded")
	}
	a, _ := SubjectKeyID(testKey(t, ed25519Spec, "1").Public())
	b, _ := SubjectKeyID(testKey(t, ed25519Spec, "2").Public())
	if len(a) != 20 || bytes.Equal(a, b) {
		t.Errorf("SubjectKeyIDs %x and %x", a, b)
	}
	// RFC 7093 method 1 over the raw Ed25519 key bits.
	pub := testKey(t, ed25519Spec, "1").Public().(ed25519.PublicKey)
	if !bytes.HasPrefix(sha256Sum(pub), a) {
		t.Error("Ed25519 key ID is not the SHA-256 of the key bits")
	}
}
