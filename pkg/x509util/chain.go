package x509util

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Purpose is what the leaf of a chain must be good for.
type Purpose int

// Purposes a chain can be checked for. The zero value is PurposeServer.
const (
	PurposeServer Purpose = iota // TLS server authentication (serverAuth)
	PurposeClient                // TLS client authentication (clientAuth)
	PurposeAny                   // no extended key usage check
)

// ParsePurpose maps "server", "client" or "any" to a Purpose. It returns an
// error naming the accepted values otherwise.
func ParsePurpose(s string) (Purpose, error) {
	switch strings.ToLower(s) {
	case "server", "sslserver", "serverauth", "":
		return PurposeServer, nil
	case "client", "sslclient", "clientauth":
		return PurposeClient, nil
	case "any":
		return PurposeAny, nil
	}
	return 0, fmt.Errorf("x509util: unknown purpose %q (use server, client or any)", s)
}

func (p Purpose) String() string {
	switch p {
	case PurposeServer:
		return "server"
	case PurposeClient:
		return "client"
	case PurposeAny:
		return "any"
	}
	return fmt.Sprintf("Purpose(%d)", int(p))
}

func (p Purpose) describe() string {
	switch p {
	case PurposeServer:
		return "TLS server authentication (serverAuth)"
	case PurposeClient:
		return "TLS client authentication (clientAuth)"
	}
	return "any purpose"
}

func (p Purpose) extKeyUsages() []x509.ExtKeyUsage {
	switch p {
	case PurposeServer:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case PurposeClient:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	return []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
}

// ChainOptions controls OrderChain. The zero value orders and verifies a
// server chain against the system roots at the zero time, so callers set
// Now at least.
type ChainOptions struct {
	// Key, when set, picks the leaf among several candidates and must
	// match the leaf's public key.
	Key crypto.Signer
	// Host, when set, picks the leaf among several candidates and must be
	// one of the leaf's names (checked unless NoVerify).
	Host string
	// Roots are the trust anchors. nil means the system roots, loaded by
	// crypto/x509 the first time they are needed.
	Roots *x509.CertPool
	// Now is the time at which validity is checked.
	Now time.Time
	// Purpose is what the leaf must be good for.
	Purpose Purpose
	// MaxDepth, when positive, is the most intermediate CAs allowed
	// between the leaf and the root (openssl's -verify_depth).
	MaxDepth int
	// IncludeRoot keeps the root at the end of ChainResult.Chain.
	IncludeRoot bool
	// NoVerify only orders: the chain ends at the last certificate whose
	// issuer is in the input, and nothing is checked against roots.
	// Validity problems found along the way become warnings.
	NoVerify bool
	// WarnWithin adds an "expires-soon" warning for each certificate of
	// the path that expires within this duration of Now.
	WarnWithin time.Duration
}

// Machine-readable problem codes, used in Problem.Code and VerifyError.Code.
const (
	CodeNoCertificates  = "no-certificates"
	CodeNoLeaf          = "no-leaf"
	CodeAmbiguousLeaf   = "ambiguous-leaf"
	CodeMissingIssuer   = "missing-issuer"
	CodeUntrustedRoot   = "untrusted-root"
	CodeNoSystemRoots   = "no-system-roots"
	CodeExpired         = "expired"
	CodeNotYetValid     = "not-yet-valid"
	CodeNotCA           = "not-ca"
	CodeCAKeyUsage      = "ca-key-usage"
	CodePathLength      = "path-length"
	CodeNameConstraint  = "name-constraint"
	CodeExtKeyUsage     = "ext-key-usage"
	CodeKeyUsage        = "key-usage"
	CodeHostname        = "hostname-mismatch"
	CodeKeyMismatch     = "key-mismatch"
	CodeMaxDepth        = "max-depth"
	CodeBadSignature    = "bad-signature"
	CodeInvalid         = "invalid"
	CodeExpiresSoon     = "expires-soon"
	CodeDropped         = "dropped"
	CodeDuplicate       = "duplicate"
	CodePathChosen      = "path-chosen"
	CodeIncompleteChain = "incomplete-chain"
)

// Problem is one finding about a chain, with a stable machine-readable Code.
type Problem struct {
	Code    string
	Message string
	// Cert is the certificate concerned, or nil.
	Cert *x509.Certificate
}

func (p Problem) String() string { return p.Message }

// ChainResult is what OrderChain found.
type ChainResult struct {
	// Chain is the leaf followed by each issuer in order, without the root
	// unless ChainOptions.IncludeRoot (a lone self-signed leaf is kept).
	Chain []*x509.Certificate
	// Root is the trust anchor the chain verified against, or with
	// NoVerify the self-signed certificate that ended the path in the
	// input; nil when there is none.
	Root *x509.Certificate
	// Dropped are input certificates that are not on the path.
	Dropped []*x509.Certificate
	// Duplicates counts input certificates that were repeated.
	Duplicates int
	// InOrder reports whether the input already was the chain in order:
	// the leaf first, each certificate followed by its issuer, nothing
	// else except an optional root at the end.
	InOrder bool
	// Verified reports whether the chain verified against the roots.
	Verified bool
	// MissingIssuer is set when the path ends at a certificate that is
	// not self-signed and whose issuer is neither in the input nor (when
	// verifying) among the roots.
	MissingIssuer *MissingIssuerError
	// Paths is how many candidate paths the input held from the leaf.
	Paths int
	// Problems are the reasons candidate paths were rejected; when
	// OrderChain fails, the reason for the failure is among them.
	Problems []Problem
	// Warnings are findings that do not make the chain fail: expiring
	// certificates, dropped certificates, which path was chosen, and with
	// NoVerify the validity problems found.
	Warnings []Problem
}

// Complete reports whether the chain reaches a root: one in the input, or
// one of the trust anchors when the chain was verified.
func (r *ChainResult) Complete() bool {
	return r != nil && r.MissingIssuer == nil && len(r.Chain) > 0
}

// Leaf returns the first certificate of the chain, or nil.
func (r *ChainResult) Leaf() *x509.Certificate {
	if r == nil || len(r.Chain) == 0 {
		return nil
	}
	return r.Chain[0]
}

// MissingIssuerError reports that a certificate's issuer is neither in the
// input nor among the trusted roots.
type MissingIssuerError struct {
	// Cert is the certificate whose issuer is missing.
	Cert *x509.Certificate
	// Subject is the missing issuer's distinguished name.
	Subject string
	// KeyID is the missing issuer's key identifier (Cert's authority key
	// identifier), possibly empty.
	KeyID []byte
	// AIA are the caIssuers URLs where the issuer may be downloaded.
	AIA []string
	// Mismatched is set when a certificate with the right subject was in
	// the input but did not sign Cert.
	Mismatched bool
}

func (e *MissingIssuerError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "x509util: the issuer of %s is missing: subject %q", Describe(e.Cert), e.Subject)
	if len(e.KeyID) > 0 {
		fmt.Fprintf(&sb, ", key id %s", colonHex(e.KeyID))
	}
	if e.Mismatched {
		sb.WriteString(" (a certificate with that subject is present but its key did not sign it)")
	}
	if len(e.AIA) > 0 {
		fmt.Fprintf(&sb, "; it can be downloaded from %s", strings.Join(e.AIA, ", "))
	}
	return sb.String()
}

// AmbiguousLeafError reports that several certificates could be the leaf.
type AmbiguousLeafError struct {
	Candidates []*x509.Certificate
}

func (e *AmbiguousLeafError) Error() string {
	var ds []string
	for _, c := range e.Candidates {
		ds = append(ds, Describe(c))
	}
	return fmt.Sprintf("x509util: %d certificates could be the leaf (choose with a key or host name): %s", len(e.Candidates), strings.Join(ds, "; "))
}

// VerifyError says why a chain is not valid. Code is one of the Code*
// constants; Err is the underlying crypto/x509 error, if any.
type VerifyError struct {
	Code   string
	Reason string
	Cert   *x509.Certificate
	Err    error
}

func (e *VerifyError) Error() string { return "x509util: " + e.Reason }
func (e *VerifyError) Unwrap() error { return e.Err }

// ProblemCode returns the machine-readable code of an error returned by
// OrderChain, or CodeInvalid for other errors.
func ProblemCode(err error) string {
	var ve *VerifyError
	var me *MissingIssuerError
	var ae *AmbiguousLeafError
	switch {
	case errors.As(err, &ve):
		return ve.Code
	case errors.As(err, &me):
		return CodeMissingIssuer
	case errors.As(err, &ae):
		return CodeAmbiguousLeaf
	}
	return CodeInvalid
}

// OrderChain finds the leaf among certs (given in any order, duplicates
// allowed), orders the path from it up to a root, and unless opts.NoVerify
// verifies it (RFC 5280 path validation by crypto/x509, plus key usage
// checks) against opts.Roots at opts.Now.
//
// The leaf is the certificate that issued no other one in certs; a
// self-signed certificate is the leaf only when it is alone, and non-CA
// certificates are preferred. opts.Key and opts.Host choose among several
// candidates. When certs hold several paths (cross-signed intermediates),
// OrderChain prefers one that verifies, then the shorter, then the one
// whose earliest expiry is latest, and says so in a "path-chosen" warning.
//
// It returns an *AmbiguousLeafError when the leaf cannot be chosen, a
// *MissingIssuerError when an issuer is neither in certs nor among the
// roots, and a *VerifyError for every other failure. Except for an empty
// input, it also returns a non-nil result holding the best path found and
// every problem, so callers can report them. It does no I/O beyond
// crypto/x509 loading the system roots when opts.Roots is nil.
func OrderChain(certs []*x509.Certificate, opts ChainOptions) (*ChainResult, error) {
	b := newChainBag(certs)
	res := &ChainResult{Duplicates: len(certs) - len(b.certs)}
	if len(b.certs) == 0 {
		return nil, &VerifyError{Code: CodeNoCertificates, Reason: "no certificates given"}
	}
	leaf, err := b.chooseLeaf(opts)
	if err != nil {
		res.Problems = append(res.Problems, problemFor(err))
		return res, err
	}
	paths := b.paths(leaf)
	res.Paths = len(paths)
	cands := make([]*candidate, len(paths))
	for i, p := range paths {
		cands[i] = b.evaluate(p, opts)
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].better(cands[j]) })
	best := cands[0]
	res.Chain = best.chain
	res.Root = best.root
	res.Verified = best.err == nil && !opts.NoVerify
	res.MissingIssuer = best.missing
	for _, c := range cands[1:] {
		if c.err != nil && !opts.NoVerify {
			res.Problems = append(res.Problems, Problem{Code: ProblemCode(c.err), Message: "rejected path " + describePath(c.fullPath) + ": " + trimPrefix(c.err), Cert: problemFor(c.err).Cert})
		}
	}
	if opts.NoVerify {
		res.Warnings = append(res.Warnings, best.problems...)
	}
	if len(cands) > 1 {
		res.Warnings = append(res.Warnings, Problem{
			Code:    CodePathChosen,
			Message: fmt.Sprintf("the input holds %d paths from the leaf; chose %s (%s)", len(cands), describePath(best.fullPath), best.whyBetter(cands[1])),
		})
	}
	// What is on the path (including an input root beyond the output) is
	// not dropped; the rest is.
	for _, c := range b.certs {
		if !containsCert(best.fullPath, c) {
			res.Dropped = append(res.Dropped, c)
		}
	}
	// Name the dropped certificates, but do not flood the report when a
	// whole trust store was passed in.
	for i, c := range res.Dropped {
		if i == maxDroppedWarnings && len(res.Dropped) > maxDroppedWarnings+1 {
			res.Warnings = append(res.Warnings, Problem{Code: CodeDropped, Message: fmt.Sprintf("dropped %d more certificates not on the path from the leaf", len(res.Dropped)-i)})
			break
		}
		res.Warnings = append(res.Warnings, Problem{Code: CodeDropped, Message: "dropped " + Describe(c) + ": not on the path from the leaf", Cert: c})
	}
	if res.Duplicates > 0 {
		res.Warnings = append(res.Warnings, Problem{Code: CodeDuplicate, Message: fmt.Sprintf("removed %d duplicate certificate(s)", res.Duplicates)})
	}
	if opts.WarnWithin > 0 {
		for _, c := range best.fullPath {
			if left := c.NotAfter.Sub(opts.Now); left >= 0 && left < opts.WarnWithin {
				res.Warnings = append(res.Warnings, Problem{Code: CodeExpiresSoon, Message: fmt.Sprintf("%s expires in %s", Describe(c), humanDuration(left)), Cert: c})
			}
		}
	}
	res.InOrder = inOrder(certs, best.fullPath)
	leafCert := b.certs[leaf]
	if opts.Key != nil && !KeyMatches(opts.Key, leafCert.PublicKey) {
		err := &VerifyError{Code: CodeKeyMismatch, Cert: leafCert, Reason: fmt.Sprintf("the private key (%s) does not match the leaf %s (%s)", describeSignerKey(opts.Key), Describe(leafCert), DescribePublicKey(leafCert.PublicKey)), Err: ErrKeyMismatch}
		res.Problems = append(res.Problems, problemFor(err))
		res.Verified = false
		return res, err
	}
	if best.err != nil && !opts.NoVerify {
		res.Problems = append([]Problem{problemFor(best.err)}, res.Problems...)
		return res, best.err
	}
	return res, nil
}

// maxDroppedWarnings is how many dropped certificates are named one by one.
const maxDroppedWarnings = 20

func containsCert(certs []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range certs {
		if x == c || bytes.Equal(x.Raw, c.Raw) {
			return true
		}
	}
	return false
}

func describeSignerKey(k crypto.Signer) string { return DescribePublicKey(k.Public()) }

func trimPrefix(err error) string { return strings.TrimPrefix(err.Error(), "x509util: ") }

func problemFor(err error) Problem {
	p := Problem{Code: ProblemCode(err), Message: trimPrefix(err)}
	var ve *VerifyError
	var me *MissingIssuerError
	if errors.As(err, &ve) {
		p.Cert = ve.Cert
	} else if errors.As(err, &me) {
		p.Cert = me.Cert
	}
	return p
}

func inOrder(input, path []*x509.Certificate) bool {
	if len(input) != len(path) && len(input) != len(path)-1 {
		return false
	}
	for i := range input {
		if !bytes.Equal(input[i].Raw, path[i].Raw) {
			return false
		}
	}
	// Without the root, only the root may be missing at the end.
	return len(input) == len(path) || isSelfIssued(path[len(path)-1])
}

func humanDuration(d time.Duration) string {
	days := int(d / (24 * time.Hour))
	switch {
	case days >= 2:
		return fmt.Sprintf("%d days", days)
	case d >= time.Hour:
		return fmt.Sprintf("%d hours", int(d/time.Hour))
	}
	return d.Round(time.Minute).String()
}

func describePath(certs []*x509.Certificate) string {
	var names []string
	for _, c := range certs {
		n := c.Subject.CommonName
		if n == "" {
			n = c.Subject.String()
		}
		names = append(names, fmt.Sprintf("%q", n))
	}
	return strings.Join(names, " → ")
}

// chainBag indexes the deduplicated input by subject so that finding the
// issuers of a certificate costs a map lookup, not a scan.
type chainBag struct {
	certs        []*x509.Certificate
	bySubject    map[string][]int
	bySubjectKey map[string][]int // subject + subject key id (empty if none)
	root         []bool           // self-issued with a matching (or absent) key id
	sigs         map[[2]int]bool
	sigFailed    map[int]bool // child index: a same-subject candidate did not sign it
}

func newChainBag(certs []*x509.Certificate) *chainBag {
	b := &chainBag{bySubject: map[string][]int{}, bySubjectKey: map[string][]int{}, sigs: map[[2]int]bool{}, sigFailed: map[int]bool{}}
	// Deduplicate by signature (short and unique in practice), confirming
	// with the whole encoding.
	bySig := make(map[string][]int, len(certs))
	for _, c := range certs {
		if c == nil || containsRaw(b.certs, bySig[string(c.Signature)], c) {
			continue
		}
		i := len(b.certs)
		bySig[string(c.Signature)] = append(bySig[string(c.Signature)], i)
		b.certs = append(b.certs, c)
		b.root = append(b.root, isSelfIssued(c))
		b.bySubject[string(c.RawSubject)] = append(b.bySubject[string(c.RawSubject)], i)
		sk := subjectKey(c.RawSubject, c.SubjectKeyId)
		b.bySubjectKey[sk] = append(b.bySubjectKey[sk], i)
	}
	return b
}

func containsRaw(certs []*x509.Certificate, idx []int, c *x509.Certificate) bool {
	for _, i := range idx {
		if bytes.Equal(certs[i].Raw, c.Raw) {
			return true
		}
	}
	return false
}

func subjectKey(subject, keyID []byte) string {
	return string(subject) + "\x00" + string(keyID)
}

// isSelfIssued is a cheap self-signed test (no signature check): issuer is
// subject and the key ids, when present, agree.
func isSelfIssued(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) &&
		(len(c.AuthorityKeyId) == 0 || len(c.SubjectKeyId) == 0 || bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId))
}

// signed reports whether certs[parent]'s key signed certs[child], caching
// the answer since signature checks dominate the cost.
func (b *chainBag) signed(child, parent int) bool {
	k := [2]int{child, parent}
	if ok, found := b.sigs[k]; found {
		return ok
	}
	c, p := b.certs[child], b.certs[parent]
	ok := p.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
	b.sigs[k] = ok
	if !ok {
		b.sigFailed[child] = true
	}
	return ok
}

// nameMatches lists the certificates whose subject is child's issuer and
// whose key id does not contradict child's authority key id.
func (b *chainBag) nameMatches(child int) (strong, weak []int) {
	c := b.certs[child]
	if b.root[child] {
		return nil, nil
	}
	if len(c.AuthorityKeyId) > 0 {
		// Look up by subject and key id, so that a crowd of certificates
		// sharing a subject costs nothing.
		for _, j := range b.bySubjectKey[subjectKey(c.RawIssuer, c.AuthorityKeyId)] {
			if j != child {
				strong = append(strong, j)
			}
		}
		for _, j := range b.bySubjectKey[subjectKey(c.RawIssuer, nil)] {
			if j != child {
				weak = append(weak, j)
			}
		}
		return strong, weak
	}
	for _, j := range b.bySubject[string(c.RawIssuer)] {
		if j != child {
			weak = append(weak, j)
		}
	}
	return nil, weak
}

// issuers returns the certificates in the bag that signed certs[i].
func (b *chainBag) issuers(i int) []int {
	strong, weak := b.nameMatches(i)
	var out []int
	for _, j := range append(strong, weak...) {
		if b.signed(i, j) {
			out = append(out, j)
		}
	}
	return out
}

func (b *chainBag) chooseLeaf(opts ChainOptions) (int, error) {
	if len(b.certs) == 1 {
		return 0, nil
	}
	// A certificate is an issuer if another one names it by subject and
	// key id; signatures are checked only when key ids are absent, which
	// keeps this linear for large bags.
	issued := make([]bool, len(b.certs))
	markedBucket := map[string]bool{}
	for i, c := range b.certs {
		if b.root[i] {
			continue
		}
		if len(c.AuthorityKeyId) > 0 {
			// Every certificate in the bucket has the subject and key id
			// c names; re-issues of one CA can fill a bucket, so mark it
			// once.
			sk := subjectKey(c.RawIssuer, c.AuthorityKeyId)
			if !markedBucket[sk] {
				markedBucket[sk] = true
				for _, j := range b.bySubjectKey[sk] {
					if j != i {
						issued[j] = true
					}
				}
			}
			for _, j := range b.bySubjectKey[subjectKey(c.RawIssuer, nil)] {
				if j != i && !issued[j] && b.signed(i, j) {
					issued[j] = true
				}
			}
			continue
		}
		for _, j := range b.bySubject[string(c.RawIssuer)] {
			if j != i && !issued[j] && b.signed(i, j) {
				issued[j] = true
			}
		}
	}
	var cands []int
	for i := range b.certs {
		if !issued[i] && !b.root[i] {
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		return 0, &VerifyError{Code: CodeNoLeaf, Reason: fmt.Sprintf("none of the %d certificates can be the leaf: each one is self-signed or issued another one", len(b.certs))}
	}
	filter := func(keep func(c *x509.Certificate) bool) []int {
		var out []int
		for _, i := range cands {
			if keep(b.certs[i]) {
				out = append(out, i)
			}
		}
		return out
	}
	if nonCA := filter(func(c *x509.Certificate) bool { return !c.IsCA }); len(nonCA) > 0 {
		cands = nonCA
	}
	if opts.Key != nil && len(cands) > 1 {
		m := filter(func(c *x509.Certificate) bool { return KeyMatches(opts.Key, c.PublicKey) })
		if len(m) == 0 {
			return 0, &VerifyError{Code: CodeKeyMismatch, Err: ErrKeyMismatch, Reason: fmt.Sprintf("the private key matches none of the %d candidate leaves: %s", len(cands), b.describe(cands))}
		}
		cands = m
	}
	if opts.Host != "" && len(cands) > 1 {
		if m := filter(func(c *x509.Certificate) bool { return c.VerifyHostname(opts.Host) == nil }); len(m) > 0 {
			cands = m
		}
	}
	if len(cands) > 1 {
		e := &AmbiguousLeafError{}
		for _, i := range cands {
			e.Candidates = append(e.Candidates, b.certs[i])
		}
		return 0, e
	}
	return cands[0], nil
}

func (b *chainBag) describe(idx []int) string {
	var ds []string
	for _, i := range idx {
		ds = append(ds, Describe(b.certs[i]))
	}
	return strings.Join(ds, "; ")
}

const (
	maxPathLen = 16 // certificates; real chains have 2 to 5
	maxPaths   = 64
)

// paths lists every path from leaf through the bag: each ends at a
// self-signed certificate or at one whose issuer is not in the bag.
func (b *chainBag) paths(leaf int) [][]int {
	var out [][]int
	var walk func(path []int)
	walk = func(path []int) {
		if len(out) >= maxPaths {
			return
		}
		last := path[len(path)-1]
		var next []int
		if len(path) < maxPathLen {
			for _, j := range b.issuers(last) {
				if !contains(path, j) {
					next = append(next, j)
				}
			}
		}
		if len(next) == 0 {
			out = append(out, append([]int(nil), path...))
			return
		}
		for _, j := range next {
			walk(append(path, j))
		}
	}
	walk([]int{leaf})
	return out
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// candidate is one path from the leaf, evaluated.
type candidate struct {
	bagPath  []int
	certs    []*x509.Certificate // the bag path
	fullPath []*x509.Certificate // leaf to anchor, as verified (or the bag path)
	chain    []*x509.Certificate // output
	root     *x509.Certificate
	err      error
	problems []Problem
	missing  *MissingIssuerError
	anchored bool // the path reached a root (in the bag or among the roots)
}

func (c *candidate) length() int { return len(c.fullPath) }

// expiry is the earliest NotAfter on the path: when the chain stops working.
func (c *candidate) expiry() time.Time {
	var t time.Time
	for i, x := range c.fullPath {
		if i == 0 || x.NotAfter.Before(t) {
			t = x.NotAfter
		}
	}
	return t
}

func (c *candidate) better(o *candidate) bool {
	if (c.err == nil) != (o.err == nil) {
		return c.err == nil
	}
	if len(c.problems) == 0 != (len(o.problems) == 0) {
		return len(c.problems) == 0
	}
	if c.reachedTrust() != o.reachedTrust() {
		return c.reachedTrust()
	}
	if c.anchored != o.anchored {
		return c.anchored
	}
	if c.length() != o.length() {
		return c.length() < o.length()
	}
	return c.expiry().After(o.expiry())
}

// reachedTrust reports whether a failing path failed for a reason other
// than not reaching a trusted root: its error is the more useful one.
func (c *candidate) reachedTrust() bool {
	if c.err == nil {
		return true
	}
	code := ProblemCode(c.err)
	return code != CodeMissingIssuer && code != CodeUntrustedRoot
}

func (c *candidate) whyBetter(o *candidate) string {
	switch {
	case c.err == nil && o.err != nil:
		return "it verifies; the other does not: " + trimPrefix(o.err)
	case len(c.problems) == 0 && len(o.problems) > 0:
		return "it has no problems; the other has: " + o.problems[0].Message
	case c.anchored && !o.anchored:
		return "it reaches a root"
	case c.length() < o.length():
		return "it is shorter"
	case c.expiry().After(o.expiry()):
		return "it stays valid longer, until " + c.expiry().UTC().Format(time.DateOnly)
	}
	return "the paths are equivalent"
}

func (b *chainBag) evaluate(path []int, opts ChainOptions) *candidate {
	c := &candidate{bagPath: path}
	for _, i := range path {
		c.certs = append(c.certs, b.certs[i])
	}
	leaf := c.certs[0]
	top := path[len(path)-1]
	topCert := b.certs[top]
	topIsRoot := b.root[top] && (len(path) > 1 || len(b.certs) == 1)
	missing := func() *MissingIssuerError {
		return &MissingIssuerError{Cert: topCert, Subject: topCert.Issuer.String(), KeyID: topCert.AuthorityKeyId, AIA: topCert.IssuingCertificateURL, Mismatched: b.sigFailed[top]}
	}
	vo := x509.VerifyOptions{
		Intermediates: x509.NewCertPool(),
		Roots:         opts.Roots,
		CurrentTime:   opts.Now,
		DNSName:       opts.Host,
		KeyUsages:     opts.Purpose.extKeyUsages(),
	}
	if opts.NoVerify {
		// Check everything but trust: anchor the path at its own top.
		vo.Roots = x509.NewCertPool()
		vo.Roots.AddCert(topCert)
		if len(c.certs) > 2 {
			for _, x := range c.certs[1 : len(c.certs)-1] {
				vo.Intermediates.AddCert(x)
			}
		}
	} else {
		for _, x := range c.certs[1:] {
			vo.Intermediates.AddCert(x)
		}
	}
	// crypto/x509 silently skips an issuer that may not sign (it reports
	// an unknown authority), so name the culprit first.
	verr := caChecks(c.certs)
	var chains [][]*x509.Certificate
	if verr == nil {
		chains, verr = leaf.Verify(vo)
	}
	if verr == nil {
		full := bestChain(chains)
		c.fullPath = full
		c.root = full[len(full)-1]
		c.anchored = !opts.NoVerify || topIsRoot
		if opts.NoVerify && !topIsRoot {
			c.root = nil
			c.missing = missing()
		}
		verr = extraChecks(full, opts)
	} else {
		c.fullPath = c.certs
		if topIsRoot {
			c.root = topCert
			c.anchored = true
		} else if opts.NoVerify || isUnknownAuthority(verr) {
			c.missing = missing()
		}
	}
	if verr != nil {
		verr = explain(verr, c, topIsRoot, opts)
		c.problems = append(c.problems, problemFor(verr))
		if !opts.NoVerify {
			c.err = verr
		}
	}
	c.chain = c.fullPath
	if !opts.IncludeRoot && c.root != nil && len(c.chain) > 1 && c.chain[len(c.chain)-1] == c.root {
		c.chain = c.chain[:len(c.chain)-1]
	}
	c.chain = append([]*x509.Certificate(nil), c.chain...)
	return c
}

func isUnknownAuthority(err error) bool {
	var ua x509.UnknownAuthorityError
	return errors.As(err, &ua)
}

// bestChain picks among the chains crypto/x509 built the shortest, then
// the one valid longest.
func bestChain(chains [][]*x509.Certificate) []*x509.Certificate {
	best := chains[0]
	exp := func(ch []*x509.Certificate) time.Time {
		t := ch[0].NotAfter
		for _, x := range ch {
			if x.NotAfter.Before(t) {
				t = x.NotAfter
			}
		}
		return t
	}
	for _, ch := range chains[1:] {
		if len(ch) < len(best) || (len(ch) == len(best) && exp(ch).After(exp(best))) {
			best = ch
		}
	}
	return best
}

// extraChecks adds what crypto/x509 leaves out: key usage bits of the CAs
// and of the leaf, and the depth limit.
func extraChecks(chain []*x509.Certificate, opts ChainOptions) error {
	if opts.MaxDepth > 0 && len(chain)-2 > opts.MaxDepth {
		return &VerifyError{Code: CodeMaxDepth, Reason: fmt.Sprintf("the chain has %d intermediate CAs, more than the maximum depth of %d", len(chain)-2, opts.MaxDepth)}
	}
	if err := caChecks(chain); err != nil {
		return err
	}
	leaf := chain[0]
	if leaf.KeyUsage != 0 && opts.Purpose != PurposeAny {
		const tlsUsages = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement
		if leaf.KeyUsage&tlsUsages == 0 {
			return &VerifyError{Code: CodeKeyUsage, Cert: leaf, Reason: fmt.Sprintf("the leaf %s has a key usage that does not allow TLS (needs digitalSignature, keyEncipherment or keyAgreement)", Describe(leaf))}
		}
	}
	return nil
}

// caChecks checks that every issuer on the path may issue certificates.
// A lone self-signed leaf is not used as an issuer.
func caChecks(path []*x509.Certificate) error {
	for _, ca := range path[1:] {
		if !ca.BasicConstraintsValid || !ca.IsCA {
			return &VerifyError{Code: CodeNotCA, Cert: ca, Reason: fmt.Sprintf("%s is used as an issuer but is not a CA certificate (no CA:TRUE basic constraint)", Describe(ca))}
		}
		if ca.KeyUsage != 0 && ca.KeyUsage&x509.KeyUsageCertSign == 0 {
			return &VerifyError{Code: CodeCAKeyUsage, Cert: ca, Reason: fmt.Sprintf("%s is used as a CA but its key usage does not allow signing certificates (no keyCertSign)", Describe(ca))}
		}
	}
	return nil
}

// explain turns a crypto/x509 error into a *VerifyError or
// *MissingIssuerError with a message a user can act on.
func explain(err error, c *candidate, topIsRoot bool, opts ChainOptions) error {
	var ve *VerifyError
	if errors.As(err, &ve) {
		return err
	}
	var cie x509.CertificateInvalidError
	var he x509.HostnameError
	var ua x509.UnknownAuthorityError
	var sre x509.SystemRootsError
	at := opts.Now.UTC().Format(time.RFC3339)
	switch {
	case errors.As(err, &cie):
		cert := cie.Cert
		d := "a certificate"
		if cert != nil {
			d = Describe(cert)
		}
		v := &VerifyError{Cert: cert, Err: err}
		switch cie.Reason {
		case x509.Expired:
			if cert != nil && opts.Now.Before(cert.NotBefore) {
				v.Code = CodeNotYetValid
				v.Reason = fmt.Sprintf("%s is not valid until %s (checked at %s)", d, cert.NotBefore.UTC().Format(time.RFC3339), at)
			} else {
				v.Code = CodeExpired
				v.Reason = fmt.Sprintf("%s has expired (checked at %s)", d, at)
			}
		case x509.NotAuthorizedToSign:
			v.Code = CodeNotCA
			v.Reason = fmt.Sprintf("%s is used as an issuer but is not a CA certificate (no CA:TRUE basic constraint)", d)
		case x509.TooManyIntermediates:
			v.Code = CodePathLength
			v.Reason = fmt.Sprintf("%s allows at most %d intermediate CA(s) below it (pathlen), and the chain has more", d, cert.MaxPathLen)
		case x509.CANotAuthorizedForThisName, x509.NameConstraintsWithoutSANs, x509.UnconstrainedName, x509.TooManyConstraints:
			v.Code = CodeNameConstraint
			v.Reason = fmt.Sprintf("name constraints forbid the chain: %s", strings.TrimPrefix(cie.Error(), "x509: "))
		case x509.IncompatibleUsage, x509.CANotAuthorizedForExtKeyUsage:
			v.Code = CodeExtKeyUsage
			v.Reason = fmt.Sprintf("the chain is not valid for %s: %s", opts.Purpose.describe(), extKeyUsageCulprit(c.certs, opts.Purpose))
		default:
			v.Code = CodeInvalid
			v.Reason = strings.TrimPrefix(cie.Error(), "x509: ")
		}
		return v
	case errors.As(err, &he):
		return &VerifyError{Code: CodeHostname, Cert: he.Certificate, Err: err, Reason: fmt.Sprintf("the leaf %s is not valid for the host name %q", Describe(he.Certificate), opts.Host)}
	case errors.As(err, &sre):
		return &VerifyError{Code: CodeNoSystemRoots, Err: err, Reason: "the system trust roots cannot be loaded; name the roots to trust or skip verification"}
	case errors.As(err, &ua):
		if c.missing != nil {
			return c.missing
		}
		top := c.certs[len(c.certs)-1]
		if topIsRoot {
			return &VerifyError{Code: CodeUntrustedRoot, Cert: top, Err: err, Reason: fmt.Sprintf("the chain ends at the root %s, which is not one of the trusted roots", Describe(top))}
		}
		return &VerifyError{Code: CodeUntrustedRoot, Cert: top, Err: err, Reason: fmt.Sprintf("the chain ends at %s, which is not a trusted root", Describe(top))}
	}
	return &VerifyError{Code: CodeInvalid, Err: err, Reason: strings.TrimPrefix(err.Error(), "x509: ")}
}

// extKeyUsageCulprit names the first certificate whose extended key usage
// excludes the purpose.
func extKeyUsageCulprit(certs []*x509.Certificate, p Purpose) string {
	want := p.extKeyUsages()[0]
	for i, c := range certs {
		if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
			continue
		}
		ok := false
		for _, u := range c.ExtKeyUsage {
			if u == want || u == x509.ExtKeyUsageAny {
				ok = true
			}
		}
		if !ok {
			role := "the CA"
			if i == 0 {
				role = "the leaf"
			}
			return fmt.Sprintf("%s %s allows only %s", role, Describe(c), describeEKUs(c))
		}
	}
	return "the extended key usages of the chain do not allow it"
}

func describeEKUs(c *x509.Certificate) string {
	names := map[x509.ExtKeyUsage]string{
		x509.ExtKeyUsageServerAuth: "serverAuth", x509.ExtKeyUsageClientAuth: "clientAuth",
		x509.ExtKeyUsageCodeSigning: "codeSigning", x509.ExtKeyUsageEmailProtection: "emailProtection",
		x509.ExtKeyUsageTimeStamping: "timeStamping", x509.ExtKeyUsageOCSPSigning: "OCSPSigning",
	}
	var out []string
	for _, u := range c.ExtKeyUsage {
		if n, ok := names[u]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("usage %d", int(u)))
		}
	}
	for _, o := range c.UnknownExtKeyUsage {
		out = append(out, o.String())
	}
	return strings.Join(out, ", ")
}
