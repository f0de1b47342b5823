package acme

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	xacme "golang.org/x/crypto/acme"
)

// Well-known directories.
const (
	LetsEncryptURL        = xacme.LetsEncryptURL
	LetsEncryptStagingURL = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

// Challenge types this package answers.
const (
	ChallengeHTTP01    = "http-01"
	ChallengeTLSALPN01 = "tls-alpn-01"
)

// Defaults for Config's zero values.
const (
	DefaultMaxRetries     = 5
	DefaultRequestTimeout = 30 * time.Second
	// maxRetryWait is the longest Retry-After a request waits for inside
	// one call; a longer one (a rate limit) is reported to the caller.
	maxRetryWait = 30 * time.Second
)

// Config describes how to talk to one ACME CA. The zero value of every
// field but AccountKey is usable.
type Config struct {
	// DirectoryURL is the CA's directory; empty means Let's Encrypt.
	DirectoryURL string
	// AccountKey signs every request; it identifies the account.
	AccountKey crypto.Signer
	// Contact is the account's contact URLs ("mailto:admin@example.com").
	Contact []string
	// RootCAs, when non-nil, are the roots trusted for the HTTPS
	// connection to the CA (a private ACME CA); nil means the system's.
	RootCAs *x509.CertPool
	// HTTPClient overrides the HTTP client (RootCAs is then ignored).
	HTTPClient *http.Client
	// MaxRetries bounds the retries of one request (badNonce, 5xx, a
	// short 429); 0 means DefaultMaxRetries.
	MaxRetries int
	// UserAgent is prepended to x/crypto/acme's User-Agent.
	UserAgent string
	// Logf, when set, receives one line per step (registration, orders,
	// challenges). It never receives key material.
	Logf func(format string, args ...any)
	// Now is the clock used in error messages (rate limit retry times);
	// nil means time.Now.
	Now func() time.Time
}

// Client obtains certificates from one CA with one account. Its methods
// are safe for concurrent use once Register has succeeded.
type Client struct {
	cfg Config
	ac  *xacme.Client
}

// NewClient returns a Client for cfg. It returns an error if the account
// key is missing. It makes no network request.
func NewClient(cfg Config) (*Client, error) {
	if cfg.AccountKey == nil {
		return nil, errors.New("acme: no account key")
	}
	if cfg.DirectoryURL == "" {
		cfg.DirectoryURL = LetsEncryptURL
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = DefaultMaxRetries
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
		tr.ResponseHeaderTimeout = DefaultRequestTimeout
		hc = &http.Client{Transport: tr, Timeout: DefaultRequestTimeout}
	}
	c := &Client{cfg: cfg}
	c.ac = &xacme.Client{
		Key:          cfg.AccountKey,
		HTTPClient:   hc,
		DirectoryURL: cfg.DirectoryURL,
		UserAgent:    strings.TrimSpace("certseal " + cfg.UserAgent),
		RetryBackoff: c.backoff,
	}
	return c, nil
}

func (c *Client) logf(format string, args ...any) {
	if c.cfg.Logf != nil {
		c.cfg.Logf(format, args...)
	}
}

// backoff bounds x/crypto/acme's retries: at most MaxRetries per request,
// exponential from 1 s to 10 s with jitter, the CA's Retry-After when it is
// short, and no retry at all when the wait would pass the context's
// deadline or the CA asks for more than maxRetryWait (then the CA's error,
// such as a rate limit, reaches the caller).
func (c *Client) backoff(n int, r *http.Request, res *http.Response) time.Duration {
	if n > c.cfg.MaxRetries {
		return 0
	}
	d := min(time.Second<<min(n-1, 4), 10*time.Second)
	if res != nil {
		if v := res.Header.Get("Retry-After"); v != "" {
			ra := parseRetryAfter(v, c.cfg.Now())
			if ra > maxRetryWait {
				return 0
			}
			d = max(ra, time.Second)
		}
	}
	if j, err := rand.Int(rand.Reader, big.NewInt(250)); err == nil {
		d += time.Duration(j.Int64()) * time.Millisecond
	}
	if r != nil {
		if dl, ok := r.Context().Deadline(); ok && c.cfg.Now().Add(d).After(dl) {
			return 0
		}
	}
	return d
}

func parseRetryAfter(v string, now time.Time) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now)
	}
	return 0
}

// Account is the CA's view of the client's account.
type Account struct {
	URL     string
	Created bool   // false: the key was already registered and is reused
	Terms   string // the CA's terms of service URL, if it has one
}

// Register fetches the CA's directory and registers the account key, or
// finds the account already registered for it. Registering agrees to the
// CA's terms of service (Account.Terms). It returns a *DirectoryError when
// the directory cannot be reached or is not an ACME directory, and the
// CA's problem otherwise.
func (c *Client) Register(ctx context.Context) (*Account, error) {
	dir, err := c.ac.Discover(ctx)
	if err != nil {
		return nil, c.directoryError(err)
	}
	if dir.OrderURL == "" || dir.RegURL == "" {
		return nil, &DirectoryError{URL: c.cfg.DirectoryURL, Err: errors.New("it is not an RFC 8555 directory (no newAccount or newOrder URL)")}
	}
	acct, err := c.ac.Register(ctx, &xacme.Account{Contact: c.cfg.Contact}, xacme.AcceptTOS)
	switch {
	case errors.Is(err, xacme.ErrAccountAlreadyExists):
		c.logf("reusing the account %s", c.ac.KID)
		return &Account{URL: string(c.ac.KID), Terms: dir.Terms}, nil
	case err != nil:
		return nil, step("registering the account", err, c.cfg.Now())
	}
	c.logf("registered the account %s", acct.URI)
	return &Account{URL: acct.URI, Created: true, Terms: dir.Terms}, nil
}

func (c *Client) directoryError(err error) error {
	var ae *xacme.Error
	if errors.As(err, &ae) {
		if ae.StatusCode == http.StatusNotFound || ae.ProblemType == "" {
			return &DirectoryError{URL: c.cfg.DirectoryURL, Err: fmt.Errorf("it is not an ACME directory (HTTP %d)", ae.StatusCode)}
		}
		return &DirectoryError{URL: c.cfg.DirectoryURL, Err: translate(err, c.cfg.Now())}
	}
	if strings.Contains(err.Error(), "acme: invalid response") || strings.Contains(err.Error(), "invalid character") {
		return &DirectoryError{URL: c.cfg.DirectoryURL, Err: errors.New("it is not an ACME directory (the answer is not a JSON directory)")}
	}
	return &DirectoryError{URL: c.cfg.DirectoryURL, Err: describeTransport(err)}
}

// Identifiers returns the names a CSR asks for, in the order ACME orders
// them: DNS names, then IP addresses. A common name not among the SANs is
// added, as CAs do. It returns an error for a CSR with no DNS or IP name or
// with names ACME cannot validate (e-mail addresses, URIs).
func Identifiers(csr *x509.CertificateRequest) ([]xacme.AuthzID, error) {
	if len(csr.EmailAddresses) > 0 || len(csr.URIs) > 0 {
		return nil, errors.New("acme: the CSR has e-mail or URI names; an ACME CA issues only for DNS names and IP addresses")
	}
	dns := slices.Clone(csr.DNSNames)
	var ips []string
	for _, ip := range csr.IPAddresses {
		ips = append(ips, ip.String())
	}
	if cn := csr.Subject.CommonName; cn != "" {
		if ip := net.ParseIP(cn); ip != nil {
			if !slices.Contains(ips, ip.String()) {
				ips = append(ips, ip.String())
			}
		} else if !slices.ContainsFunc(dns, func(d string) bool { return strings.EqualFold(d, cn) }) {
			dns = append(dns, cn)
		}
	}
	if len(dns)+len(ips) == 0 {
		return nil, errors.New("acme: the CSR names no DNS name or IP address")
	}
	ids := append(xacme.DomainIDs(dns...), xacme.IPIDs(ips...)...)
	return ids, nil
}

// Obtain orders a certificate for every name in csr, answers each pending
// authorization with the first solver that supports one of its challenge
// types, finalises the order with csr (so the private key stays with its
// owner), and returns the certificates the CA sent, leaf first as served.
// Register must have been called. It returns *RejectedIdentifierError,
// *ChallengeError, *RateLimitError or *ProblemError for the CA's refusals,
// and an error naming the step for everything else.
func (c *Client) Obtain(ctx context.Context, csr *x509.CertificateRequest, solvers ...Solver) ([]*x509.Certificate, error) {
	if len(solvers) == 0 {
		return nil, errors.New("acme: no challenge solver")
	}
	ids, err := Identifiers(csr)
	if err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("acme: the CSR's signature is invalid: %v", err)
	}
	now := c.cfg.Now
	order, err := c.ac.AuthorizeOrder(ctx, ids)
	if err != nil {
		return nil, step("creating the order", err, now())
	}
	c.logf("ordered a certificate for %s", idList(ids))
	for _, u := range order.AuthzURLs {
		if err := c.authorize(ctx, u, solvers); err != nil {
			return nil, err
		}
	}
	order, err = c.ac.WaitOrder(ctx, order.URI)
	if err != nil {
		return nil, step("waiting for the order", err, now())
	}
	ders, _, err := c.ac.CreateCertFromOrder(ctx, order, csr.Raw, true)
	if err != nil {
		return nil, step("finalising the order", err, now())
	}
	var certs []*x509.Certificate
	for _, der := range ders {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("acme: the CA sent an unparsable certificate: %v", err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("acme: the CA sent no certificate")
	}
	if !publicKeysEqual(certs[0].PublicKey, csr.PublicKey) {
		return nil, errors.New("acme: the CA's certificate is not for the CSR's key")
	}
	for _, id := range ids {
		if err := certs[0].VerifyHostname(id.Value); err != nil {
			return nil, fmt.Errorf("acme: the CA's certificate does not cover %s", id.Value)
		}
	}
	c.logf("the CA issued %s", describe(certs[0]))
	return certs, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ka, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ka.Equal(b)
}

func idList(ids []xacme.AuthzID) string {
	var s []string
	for _, id := range ids {
		s = append(s, id.Value)
	}
	return strings.Join(s, ", ")
}

// authorize answers one authorization, if it is still pending, and waits
// for the CA's verdict.
func (c *Client) authorize(ctx context.Context, url string, solvers []Solver) error {
	now := c.cfg.Now
	z, err := c.ac.GetAuthorization(ctx, url)
	if err != nil {
		return step("fetching an authorization", err, now())
	}
	name := z.Identifier.Value
	switch z.Status {
	case xacme.StatusValid:
		c.logf("%s is already authorised", name)
		return nil
	case xacme.StatusPending:
	default:
		return fmt.Errorf("acme: the authorization for %s is %s", name, z.Status)
	}
	solver, chal := pick(z, solvers)
	if solver == nil {
		var offered []string
		for _, ch := range z.Challenges {
			offered = append(offered, ch.Type)
		}
		return fmt.Errorf("acme: the CA offers %s for %s; none of them can be answered here", strings.Join(offered, ", "), name)
	}
	ch := Challenge{Type: chal.Type, Identifier: name, Token: chal.Token}
	switch chal.Type {
	case ChallengeHTTP01:
		if ch.KeyAuth, err = c.ac.HTTP01ChallengeResponse(chal.Token); err != nil {
			return err
		}
		ch.Path = c.ac.HTTP01ChallengePath(chal.Token)
	case ChallengeTLSALPN01:
		cert, err := c.ac.TLSALPN01ChallengeCert(chal.Token, name)
		if err != nil {
			return err
		}
		ch.Cert = &cert
	}
	if err := solver.Present(ctx, ch); err != nil {
		return &StepError{Step: fmt.Sprintf("preparing the %s answer for %s", chal.Type, name), Err: err}
	}
	defer func() {
		if err := solver.CleanUp(ch); err != nil {
			c.logf("warning: cleaning up the %s answer for %s: %v", chal.Type, name, err)
		}
	}()
	c.logf("answering %s for %s", chal.Type, name)
	if _, err := c.ac.Accept(ctx, chal); err != nil {
		return step(fmt.Sprintf("accepting the %s challenge for %s", chal.Type, name), err, now())
	}
	if _, err := c.ac.WaitAuthorization(ctx, z.URI); err != nil {
		var aerr *xacme.AuthorizationError
		if errors.As(err, &aerr) {
			return challengeError(name, chal.Type, aerr)
		}
		return step(fmt.Sprintf("waiting for the validation of %s", name), err, now())
	}
	c.logf("%s is validated", name)
	return nil
}

func challengeError(name, typ string, aerr *xacme.AuthorizationError) error {
	e := &ChallengeError{Identifier: name, ChallengeType: typ}
	var details []string
	for _, err := range aerr.Errors {
		var ae *xacme.Error
		if errors.As(err, &ae) {
			if e.ProblemType == "" {
				e.ProblemType = ae.ProblemType
			}
			details = append(details, ae.Detail)
		} else {
			details = append(details, err.Error())
		}
	}
	e.Detail = strings.Join(details, "; ")
	if e.Detail == "" {
		e.Detail = "the CA gave no reason"
	}
	return e
}

// pick returns the first solver, in the caller's order of preference,
// that can answer one of the authorization's challenges.
func pick(z *xacme.Authorization, solvers []Solver) (Solver, *xacme.Challenge) {
	for _, s := range solvers {
		for _, ch := range z.Challenges {
			if ch.Type == s.ChallengeType() {
				return s, ch
			}
		}
	}
	return nil, nil
}

// describe names a certificate in logs: its names, serial and expiry. It
// is here rather than x509util.Describe so that the sealed runtime, which
// links this package, does not link pkg/x509util and its dependencies.
func describe(cert *x509.Certificate) string {
	names := slices.Clone(cert.DNSNames)
	for _, ip := range cert.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		names = append(names, cert.Subject.CommonName)
	}
	return fmt.Sprintf("a certificate for %s (serial %x), expires %s",
		strings.Join(names, ", "), cert.SerialNumber, cert.NotAfter.UTC().Format(time.RFC3339))
}
