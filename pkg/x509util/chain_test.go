package x509util

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certseal/certseal/internal/testutil"
)

// chainNow is the fixed "now" of every chain test.
var chainNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

var serialCounter atomic.Int64

// node is a test certificate with its key.
type node struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func ecKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var (
	rsaOnce sync.Once
	rsaKeys [2]*rsa.PrivateKey
)

func rsaTestKeys(t testing.TB) [2]*rsa.PrivateKey {
	rsaOnce.Do(func() {
		for i := range rsaKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys[i] = k
		}
	})
	return rsaKeys
}

// caTmpl is a CA certificate valid from a year before chainNow for years.
func caTmpl(cn string, years int) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          big.NewInt(serialCounter.Add(1)),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Chain Test"}},
		NotBefore:             chainNow.AddDate(-1, 0, 0),
		NotAfter:              chainNow.AddDate(years, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		MaxPathLen:            -1,
	}
}

// leafTmpl is a serverAuth leaf for host valid from a month before chainNow.
func leafTmpl(host string) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          big.NewInt(serialCounter.Add(1)),
		Subject:               pkix.Name{CommonName: host},
		DNSNames:              []string{host},
		NotBefore:             chainNow.AddDate(0, -1, 0),
		NotAfter:              chainNow.AddDate(0, 6, 0),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
}

// issue signs tmpl for key with parent, or self-signs when parent is nil.
func issue(t testing.TB, tmpl *x509.Certificate, key crypto.Signer, parent *node) *node {
	t.Helper()
	if key == nil {
		key = ecKey(t)
	}
	p, pk := tmpl, key
	if parent != nil {
		p, pk = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p, key.Public(), pk)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &node{c, key}
}

// basePKI is root → inter1 → inter2 → leaf (www.example.com) plus an
// unrelated self-signed CA.
type basePKI struct {
	root, inter1, inter2, leaf, other *node
}

func newBasePKI(t testing.TB) *basePKI {
	p := &basePKI{}
	p.root = issue(t, caTmpl("Test Root", 10), nil, nil)
	p.inter1 = issue(t, caTmpl("Test Intermediate 1", 5), nil, p.root)
	p.inter2 = issue(t, caTmpl("Test Intermediate 2", 4), nil, p.inter1)
	lt := leafTmpl("www.example.com")
	lt.IssuingCertificateURL = []string{"http://ca.example/inter2.der"}
	p.leaf = issue(t, lt, nil, p.inter2)
	p.other = issue(t, caTmpl("Unrelated CA", 10), nil, nil)
	return p
}

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func certsOf(ns ...*node) []*x509.Certificate {
	var out []*x509.Certificate
	for _, n := range ns {
		out = append(out, n.cert)
	}
	return out
}

func cns(certs []*x509.Certificate) string {
	var s []string
	for _, c := range certs {
		s = append(s, c.Subject.CommonName)
	}
	return strings.Join(s, " > ")
}

func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

func TestOrderChainPermutations(t *testing.T) {
	p := newBasePKI(t)
	all := certsOf(p.leaf, p.inter2, p.inter1, p.root, p.other)
	want := cns(certsOf(p.leaf, p.inter2, p.inter1))
	perms := permutations(len(all))
	if len(perms) != 120 {
		t.Fatalf("got %d permutations", len(perms))
	}
	for _, perm := range perms {
		in := make([]*x509.Certificate, len(all))
		for i, j := range perm {
			in[i] = all[j]
		}
		for _, noVerify := range []bool{false, true} {
			res, err := OrderChain(in, ChainOptions{Roots: pool(p.root.cert), Now: chainNow, Host: "www.example.com", NoVerify: noVerify})
			if err != nil {
				t.Fatalf("%v (noverify=%v): %v", perm, noVerify, err)
			}
			if got := cns(res.Chain); got != want {
				t.Fatalf("%v: chain %q, want %q", perm, got, want)
			}
			if res.Root == nil || !res.Root.Equal(p.root.cert) {
				t.Fatalf("%v: root %v", perm, res.Root)
			}
			if len(res.Dropped) != 1 || !res.Dropped[0].Equal(p.other.cert) {
				t.Fatalf("%v: dropped %q", perm, cns(res.Dropped))
			}
			if res.InOrder {
				t.Fatalf("%v: InOrder with an unrelated certificate", perm)
			}
			if res.Verified == noVerify {
				t.Fatalf("%v: Verified = %v with NoVerify = %v", perm, res.Verified, noVerify)
			}
		}
	}
}

func TestOrderChainTutorialReversed(t *testing.T) {
	// The tutorial's `cat intermediate.pem cert.pem > server.pem`.
	root := issue(t, caTmpl("Root", 10), nil, nil)
	inter := issue(t, caTmpl("Intermediate", 5), nil, root)
	leaf := issue(t, leafTmpl("example.com"), nil, inter)
	res, err := OrderChain(certsOf(inter, leaf), ChainOptions{Roots: pool(root.cert), Now: chainNow})
	if err != nil {
		t.Fatal(err)
	}
	if got := cns(res.Chain); got != "example.com > Intermediate" {
		t.Errorf("chain %q", got)
	}
	if res.InOrder || !res.Verified || !res.Complete() {
		t.Errorf("InOrder=%v Verified=%v Complete=%v", res.InOrder, res.Verified, res.Complete())
	}
	res, err = OrderChain(certsOf(leaf, inter, root), ChainOptions{Roots: pool(root.cert), Now: chainNow, IncludeRoot: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.InOrder || cns(res.Chain) != "example.com > Intermediate > Root" {
		t.Errorf("InOrder=%v chain %q", res.InOrder, cns(res.Chain))
	}
	// Duplicates are removed.
	res, err = OrderChain(certsOf(leaf, inter, leaf, inter), ChainOptions{Roots: pool(root.cert), Now: chainNow})
	if err != nil || res.Duplicates != 2 || len(res.Chain) != 2 {
		t.Errorf("duplicates: %v, %d, %q", err, res.Duplicates, cns(res.Chain))
	}
}

// chainCase is one scenario, checked both by OrderChain and by openssl.
type chainCase struct {
	name    string
	bag     []*x509.Certificate
	leaf    *x509.Certificate // the leaf openssl is asked about
	roots   []*x509.Certificate
	host    string
	key     crypto.Signer
	purpose Purpose
	at      time.Time // zero: chainNow

	wantCode  string // "" for success
	wantChain string // CNs, for success
	wantMsg   string // substring of the error
	noOpenSSL bool   // openssl verify has no equivalent (key match)
	// opensslDiffers explains a known difference in openssl's verdict on
	// the whole bag; openssl must still accept the chain OrderChain chose.
	opensslDiffers string
}

func chainCases(t testing.TB) []chainCase {
	p := newBasePKI(t)
	var cs []chainCase
	ok := chainCase{name: "valid", bag: certsOf(p.leaf, p.inter2, p.inter1, p.root), leaf: p.leaf.cert, roots: certsOf(p.root), host: "www.example.com",
		wantChain: "www.example.com > Test Intermediate 2 > Test Intermediate 1"}
	cs = append(cs, ok)

	// Cross-signed intermediate: the same intermediate (subject and key)
	// issued by an expired root and by a valid one.
	{
		oldRoot := issue(t, func() *x509.Certificate {
			c := caTmpl("Old Root", 0)
			c.NotBefore = chainNow.AddDate(-10, 0, 0)
			c.NotAfter = chainNow.AddDate(0, -1, 0)
			return c
		}(), nil, nil)
		newRoot := issue(t, caTmpl("New Root", 10), nil, nil)
		ik := ecKey(t)
		iOld := issue(t, caTmpl("Cross Intermediate", 3), ik, oldRoot)
		iNew := issue(t, caTmpl("Cross Intermediate", 3), ik, newRoot)
		leaf := issue(t, leafTmpl("cross.example.com"), nil, iNew)
		cs = append(cs, chainCase{name: "cross-signed, one root expired", bag: certsOf(iOld, leaf, oldRoot, iNew, newRoot), leaf: leaf.cert,
			roots: certsOf(oldRoot, newRoot), host: "cross.example.com", wantChain: "cross.example.com > Cross Intermediate",
			opensslDiffers: "openssl takes the first matching intermediate in -untrusted (the one issued by the expired root) and does not try the other"})
		cs = append(cs, chainCase{name: "cross-signed, only the expired root trusted", bag: certsOf(iOld, leaf, oldRoot, iNew, newRoot), leaf: leaf.cert,
			roots: certsOf(oldRoot), host: "cross.example.com", wantCode: CodeExpired, wantMsg: `"Old Root"`})
	}
	// Expired intermediate with a valid re-issue of the same key.
	{
		ik := ecKey(t)
		exp := caTmpl("Reissued Intermediate", 0)
		exp.NotBefore, exp.NotAfter = chainNow.AddDate(-3, 0, 0), chainNow.AddDate(0, 0, -1)
		iOld := issue(t, exp, ik, p.root)
		iNew := issue(t, caTmpl("Reissued Intermediate", 3), ik, p.root)
		leaf := issue(t, leafTmpl("reissue.example.com"), nil, iNew)
		cs = append(cs, chainCase{name: "expired intermediate with a valid alternative", bag: certsOf(leaf, iOld, iNew), leaf: leaf.cert, roots: certsOf(p.root),
			wantChain: "reissue.example.com > Reissued Intermediate"})
		cs = append(cs, chainCase{name: "expired intermediate alone", bag: certsOf(leaf, iOld), leaf: leaf.cert, roots: certsOf(p.root),
			wantCode: CodeExpired, wantMsg: "has expired"})
	}
	cs = append(cs, chainCase{name: "missing intermediate", bag: certsOf(p.leaf, p.inter1, p.root), leaf: p.leaf.cert, roots: certsOf(p.root),
		wantCode: CodeMissingIssuer, wantMsg: `subject "CN=Test Intermediate 2,O=Chain Test", key id ` + colonHex(p.inter2.cert.SubjectKeyId) + `; it can be downloaded from http://ca.example/inter2.der`})
	{
		lt := leafTmpl("client.example.com")
		lt.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		leaf := issue(t, lt, nil, p.inter2)
		cs = append(cs, chainCase{name: "leaf without serverAuth", bag: certsOf(leaf, p.inter2, p.inter1), leaf: leaf.cert, roots: certsOf(p.root),
			wantCode: CodeExtKeyUsage, wantMsg: "allows only clientAuth"})
		cs = append(cs, chainCase{name: "client leaf for client purpose", bag: certsOf(leaf, p.inter2, p.inter1), leaf: leaf.cert, roots: certsOf(p.root),
			purpose: PurposeClient, wantChain: "client.example.com > Test Intermediate 2 > Test Intermediate 1", noOpenSSL: true})
	}
	cs = append(cs, chainCase{name: "hostname mismatch", bag: ok.bag, leaf: p.leaf.cert, roots: certsOf(p.root), host: "other.example.com",
		wantCode: CodeHostname, wantMsg: `not valid for the host name "other.example.com"`})
	{
		ct := caTmpl("Constrained CA", 5)
		ct.PermittedDNSDomains = []string{"example.org"}
		ct.PermittedDNSDomainsCritical = true
		ca := issue(t, ct, nil, p.root)
		leaf := issue(t, leafTmpl("www.example.com"), nil, ca)
		cs = append(cs, chainCase{name: "name constraint violation", bag: certsOf(leaf, ca), leaf: leaf.cert, roots: certsOf(p.root),
			wantCode: CodeNameConstraint, wantMsg: "www.example.com"})
	}
	{
		ct := caTmpl("Pathlen Zero CA", 5)
		ct.MaxPathLen, ct.MaxPathLenZero = 0, true
		ca := issue(t, ct, nil, p.root)
		sub := issue(t, caTmpl("Sub CA", 4), nil, ca)
		leaf := issue(t, leafTmpl("deep.example.com"), nil, sub)
		cs = append(cs, chainCase{name: "path length violation", bag: certsOf(leaf, sub, ca), leaf: leaf.cert, roots: certsOf(p.root),
			wantCode: CodePathLength, wantMsg: `"Pathlen Zero CA"`})
	}
	{
		nt := leafTmpl("notca.example.com")
		nt.Subject.CommonName = "Not A CA"
		ca := issue(t, nt, nil, p.root)
		leaf := issue(t, leafTmpl("victim.example.com"), nil, ca)
		cs = append(cs, chainCase{name: "non-CA intermediate", bag: certsOf(leaf, ca), leaf: leaf.cert, roots: certsOf(p.root),
			wantCode: CodeNotCA, wantMsg: `"Not A CA"`})
	}
	{
		keys := rsaTestKeys(t)
		leaf := issue(t, leafTmpl("rsa.example.com"), keys[0], p.inter2)
		cs = append(cs, chainCase{name: "RSA key does not match", bag: certsOf(leaf, p.inter2, p.inter1), leaf: leaf.cert, roots: certsOf(p.root), key: keys[1],
			wantCode: CodeKeyMismatch, wantMsg: "does not match the leaf", noOpenSSL: true})
		cs = append(cs, chainCase{name: "RSA key matches", bag: certsOf(leaf, p.inter2, p.inter1), leaf: leaf.cert, roots: certsOf(p.root), key: keys[0],
			wantChain: "rsa.example.com > Test Intermediate 2 > Test Intermediate 1"})
	}
	cs = append(cs, chainCase{name: "untrusted root", bag: ok.bag, leaf: p.leaf.cert, roots: certsOf(p.other),
		wantCode: CodeUntrustedRoot, wantMsg: `the root "Test Root"`})
	cs = append(cs, chainCase{name: "not yet valid", bag: ok.bag, leaf: p.leaf.cert, roots: certsOf(p.root), at: chainNow.AddDate(0, -2, 0),
		wantCode: CodeNotYetValid, wantMsg: "not valid until"})
	cs = append(cs, chainCase{name: "leaf expired", bag: ok.bag, leaf: p.leaf.cert, roots: certsOf(p.root), at: chainNow.AddDate(1, 0, 0),
		wantCode: CodeExpired, wantMsg: `"www.example.com"`})
	{
		kt := caTmpl("No CertSign CA", 5)
		kt.KeyUsage = x509.KeyUsageDigitalSignature
		ca := issue(t, kt, nil, p.root)
		leaf := issue(t, leafTmpl("ku.example.com"), nil, ca)
		cs = append(cs, chainCase{name: "CA without keyCertSign", bag: certsOf(leaf, ca), leaf: leaf.cert, roots: certsOf(p.root),
			wantCode: CodeCAKeyUsage, wantMsg: "keyCertSign"})
	}
	return cs
}

func (c chainCase) opts() ChainOptions {
	at := c.at
	if at.IsZero() {
		at = chainNow
	}
	return ChainOptions{Roots: pool(c.roots...), Now: at, Host: c.host, Key: c.key, Purpose: c.purpose}
}

func TestOrderChainCases(t *testing.T) {
	for _, c := range chainCases(t) {
		t.Run(c.name, func(t *testing.T) {
			res, err := OrderChain(c.bag, c.opts())
			if res == nil {
				t.Fatalf("nil result (err %v)", err)
			}
			if c.wantCode == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if got := cns(res.Chain); got != c.wantChain {
					t.Errorf("chain %q, want %q", got, c.wantChain)
				}
				if !res.Verified || !res.Complete() {
					t.Errorf("Verified=%v Complete=%v", res.Verified, res.Complete())
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, chain %q; want %s", cns(res.Chain), c.wantCode)
			}
			if got := ProblemCode(err); got != c.wantCode {
				t.Errorf("code %q, want %q (%v)", got, c.wantCode, err)
			}
			if !strings.Contains(err.Error(), c.wantMsg) {
				t.Errorf("error %q does not contain %q", err, c.wantMsg)
			}
			if res.Verified {
				t.Error("Verified set on failure")
			}
			if len(res.Problems) == 0 || res.Problems[0].Code != c.wantCode {
				t.Errorf("problems %v", res.Problems)
			}
		})
	}
}

func TestOrderChainMissingIssuerError(t *testing.T) {
	p := newBasePKI(t)
	res, err := OrderChain(certsOf(p.leaf, p.root), ChainOptions{Roots: pool(p.root.cert), Now: chainNow})
	var me *MissingIssuerError
	if !errors.As(err, &me) {
		t.Fatalf("error %v, want *MissingIssuerError", err)
	}
	if !me.Cert.Equal(p.leaf.cert) || me.Subject != p.inter2.cert.Subject.String() || string(me.KeyID) != string(p.inter2.cert.SubjectKeyId) || len(me.AIA) != 1 {
		t.Errorf("%+v", me)
	}
	if res.MissingIssuer == nil || res.Complete() {
		t.Error("result does not say the chain is incomplete")
	}
	// NoVerify orders what is there and reports the gap without failing.
	res, err = OrderChain(certsOf(p.root, p.leaf), ChainOptions{Now: chainNow, NoVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	if cns(res.Chain) != "www.example.com" || res.MissingIssuer == nil || res.Verified || len(res.Dropped) != 1 {
		t.Errorf("chain %q missing %v verified %v dropped %d", cns(res.Chain), res.MissingIssuer, res.Verified, len(res.Dropped))
	}
	// Top of the input is an intermediate whose root the roots hold: fine.
	res, err = OrderChain(certsOf(p.inter1, p.leaf, p.inter2), ChainOptions{Roots: pool(p.root.cert), Now: chainNow})
	if err != nil || res.MissingIssuer != nil || !res.Root.Equal(p.root.cert) {
		t.Errorf("err %v missing %v", err, res.MissingIssuer)
	}
}

func TestOrderChainLeafChoice(t *testing.T) {
	p := newBasePKI(t)
	second := issue(t, leafTmpl("api.example.com"), nil, p.inter2)
	bag := certsOf(p.inter2, p.leaf, second, p.inter1)
	_, err := OrderChain(bag, ChainOptions{Roots: pool(p.root.cert), Now: chainNow})
	var ae *AmbiguousLeafError
	if !errors.As(err, &ae) || len(ae.Candidates) != 2 {
		t.Fatalf("error %v, want *AmbiguousLeafError with 2 candidates", err)
	}
	if !strings.Contains(err.Error(), "api.example.com") || !strings.Contains(err.Error(), "expires 2025-12-01") {
		t.Errorf("message does not list candidates: %v", err)
	}
	res, err := OrderChain(bag, ChainOptions{Roots: pool(p.root.cert), Now: chainNow, Host: "api.example.com"})
	if err != nil || res.Chain[0] != second.cert {
		t.Fatalf("by host: %v %q", err, cns(res.Chain))
	}
	res, err = OrderChain(bag, ChainOptions{Roots: pool(p.root.cert), Now: chainNow, Key: p.leaf.key})
	if err != nil || res.Chain[0] != p.leaf.cert {
		t.Fatalf("by key: %v", err)
	}
	if len(res.Dropped) != 1 || res.Dropped[0] != second.cert {
		t.Errorf("dropped %q", cns(res.Dropped))
	}
	// A lone self-signed certificate is its own chain.
	res, err = OrderChain(certsOf(p.other), ChainOptions{Roots: pool(p.other.cert), Now: chainNow, Purpose: PurposeAny})
	if err != nil || len(res.Chain) != 1 {
		t.Errorf("lone self-signed: %v", err)
	}
	// Two roots and nothing else: no leaf.
	_, err = OrderChain(certsOf(p.root, p.other), ChainOptions{Now: chainNow, NoVerify: true})
	if ProblemCode(err) != CodeNoLeaf {
		t.Errorf("two roots: %v", err)
	}
	if _, err := OrderChain(nil, ChainOptions{}); ProblemCode(err) != CodeNoCertificates {
		t.Errorf("empty: %v", err)
	}
}

func TestOrderChainWarnings(t *testing.T) {
	p := newBasePKI(t)
	res, err := OrderChain(certsOf(p.leaf, p.inter2, p.inter1), ChainOptions{Roots: pool(p.root.cert), Now: p.leaf.cert.NotAfter.AddDate(0, 0, -10), WarnWithin: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var soon []string
	for _, w := range res.Warnings {
		if w.Code == CodeExpiresSoon {
			soon = append(soon, w.Message)
		}
	}
	if len(soon) != 1 || !strings.Contains(soon[0], "www.example.com") || !strings.Contains(soon[0], "10 days") {
		t.Errorf("expiry warnings %q", soon)
	}
	// MaxDepth counts intermediates.
	_, err = OrderChain(certsOf(p.leaf, p.inter2, p.inter1), ChainOptions{Roots: pool(p.root.cert), Now: chainNow, MaxDepth: 1})
	if ProblemCode(err) != CodeMaxDepth {
		t.Errorf("max depth: %v", err)
	}
	// Cross-signed choice is explained.
	for _, c := range chainCases(t) {
		if c.name != "cross-signed, one root expired" {
			continue
		}
		res, err := OrderChain(c.bag, c.opts())
		if err != nil {
			t.Fatal(err)
		}
		var chosen string
		for _, w := range res.Warnings {
			if w.Code == CodePathChosen {
				chosen = w.Message
			}
		}
		if !strings.Contains(chosen, "it verifies") || !strings.Contains(chosen, `"New Root"`) {
			t.Errorf("path-chosen warning %q", chosen)
		}
		if len(res.Problems) == 0 || res.Problems[0].Code != CodeExpired {
			t.Errorf("rejected path not reported: %v", res.Problems)
		}
	}
	// NoVerify turns validity problems into warnings.
	res, err = OrderChain(certsOf(p.leaf, p.inter2, p.inter1, p.root), ChainOptions{Now: chainNow.AddDate(2, 0, 0), NoVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, w := range res.Warnings {
		found = found || w.Code == CodeExpired
	}
	if !found || len(res.Chain) != 3 {
		t.Errorf("NoVerify warnings %v chain %q", res.Warnings, cns(res.Chain))
	}
}

func writePEM(t *testing.T, path string, certs []*x509.Certificate) {
	t.Helper()
	if err := os.WriteFile(path, EncodeCertificatesPEM(certs...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOrderChainAgreesWithOpenSSL runs `openssl verify` on the same files
// and expects the same verdict.
func TestOrderChainAgreesWithOpenSSL(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	for _, c := range chainCases(t) {
		if c.noOpenSSL {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var untrusted []*x509.Certificate
			for _, x := range c.bag {
				if !x.Equal(c.leaf) {
					untrusted = append(untrusted, x)
				}
			}
			writePEM(t, filepath.Join(dir, "root.pem"), c.roots)
			writePEM(t, filepath.Join(dir, "leaf.pem"), []*x509.Certificate{c.leaf})
			at := c.opts().Now
			args := []string{"verify", "-purpose", "sslserver", "-attime", strconv.FormatInt(at.Unix(), 10), "-CAfile", filepath.Join(dir, "root.pem")}
			if c.host != "" {
				args = append(args, "-verify_hostname", c.host)
			}
			if len(untrusted) > 0 {
				writePEM(t, filepath.Join(dir, "inter.pem"), untrusted)
				args = append(args, "-untrusted", filepath.Join(dir, "inter.pem"))
			}
			args = append(args, filepath.Join(dir, "leaf.pem"))
			out, oerr := exec.Command(openssl, args...).CombinedOutput()
			res, err := OrderChain(c.bag, c.opts())
			if (oerr == nil) != (err == nil) {
				if c.opensslDiffers == "" {
					t.Errorf("openssl %s:\n%s\nOrderChain: %v", strings.Join(args, " "), out, err)
				} else {
					t.Logf("known difference: %s", c.opensslDiffers)
				}
			}
			if err != nil {
				return
			}
			// openssl must accept exactly the chain OrderChain outputs.
			args = args[:len(args)-1]
			if len(res.Chain) > 1 {
				writePEM(t, filepath.Join(dir, "chosen.pem"), res.Chain[1:])
				if args[len(args)-2] == "-untrusted" {
					args = args[:len(args)-2]
				}
				args = append(args, "-untrusted", filepath.Join(dir, "chosen.pem"))
			}
			args = append(args, filepath.Join(dir, "leaf.pem"))
			if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
				t.Errorf("openssl rejects the chosen chain %q: %s\n%s", cns(res.Chain), strings.Join(args, " "), out)
			}
		})
	}
}
