package acme

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Files a Manager keeps in its state directory.
const (
	AccountKeyFile = "account.key" // the ACME account key, PKCS#8 PEM, 0600
	CertFile       = "cert.pem"    // the served chain, leaf first, 0644
	CertKeyFile    = "cert.key"    // the served certificate's key, PKCS#8 PEM, 0600
)

// Defaults for ManagerConfig's zero values.
const (
	DefaultMinBackoff    = 30 * time.Second
	DefaultMaxBackoff    = time.Hour
	DefaultStartAttempts = 5
	DefaultObtainTimeout = 5 * time.Minute
)

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	// Email is the account's contact address (no "mailto:").
	Email string
	// Domains are the DNS names the certificate covers; the first is also
	// its common name.
	Domains []string
	// DirectoryURL is the CA's directory; empty means Let's Encrypt.
	DirectoryURL string
	// RootCAs are the roots trusted for the CA's HTTPS (a private CA);
	// nil means the system's.
	RootCAs *x509.CertPool
	// HTTPClient overrides the client used to talk to the CA.
	HTTPClient *http.Client
	// StateDir keeps the account key and the current certificate across
	// restarts. It is created (0700) if missing.
	StateDir string
	// Challenges are the challenge types answered, in order of
	// preference; nil means HTTP-01, then TLS-ALPN-01. The CA validates
	// by the first one it offers.
	Challenges []string
	// Fallback is served until the Manager has a certificate of its own
	// (a certificate sealed with the site). A fallback that covers every
	// domain, is not self-signed and is not due for renewal postpones the
	// first order until it is.
	Fallback *tls.Certificate
	// Logger receives one line per step; nil means stderr. Key material
	// is never logged.
	Logger *log.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MinBackoff and MaxBackoff bound the wait after a failed order; it
	// doubles from MinBackoff with each failure, with jitter.
	MinBackoff, MaxBackoff time.Duration
	// StartAttempts is how many failed orders Run tolerates while it has
	// no usable certificate before it gives up and returns the error.
	// With a usable certificate it retries until that one expires and
	// beyond.
	StartAttempts int
	// ObtainTimeout bounds one order, from the directory to the
	// certificate.
	ObtainTimeout time.Duration
	// MaxRetries bounds the retries of one request (see Config).
	MaxRetries int
}

// Manager obtains and renews a certificate for a server by ACME and
// serves it: it is a server.CertSource (GetCertificate, NextProtos) and
// answers TLS-ALPN-01 validations in its handshakes and HTTP-01 ones in
// the handler WrapHTTP returns. Run does the ordering and renewing in the
// background while the server keeps serving the current certificate.
type Manager struct {
	cfg     ManagerConfig
	logger  *log.Logger
	solvers []Solver
	http    *HTTPSolver
	alpn    *TLSALPNSolver

	cur      atomic.Pointer[tls.Certificate]
	ownCert  atomic.Bool // cur came from the CA (or the state), not Fallback
	clientMu sync.Mutex
	client   *Client // registered, nil until the first order

	// sleep waits for d or until ctx ends (false); tests replace it.
	sleep func(ctx context.Context, d time.Duration) bool
}

// NewManager checks cfg, creates the state directory and loads the
// account key and the certificate saved there. It makes no network
// request. It returns an error for a missing email, domain or state
// directory, an unknown challenge type, an unusable state directory or an
// account key file that does not parse (it is never overwritten). A saved
// certificate that does not load or does not cover the domains is
// reported in the log and replaced at the first order.
func NewManager(cfg ManagerConfig) (*Manager, error) {
	if cfg.Email == "" {
		return nil, errors.New("acme: no account e-mail address")
	}
	if len(cfg.Domains) == 0 {
		return nil, errors.New("acme: no domain to obtain a certificate for")
	}
	if cfg.StateDir == "" {
		return nil, errors.New("acme: no state directory")
	}
	if cfg.Challenges == nil {
		cfg.Challenges = []string{ChallengeHTTP01, ChallengeTLSALPN01}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.StartAttempts <= 0 {
		cfg.StartAttempts = DefaultStartAttempts
	}
	if cfg.ObtainTimeout <= 0 {
		cfg.ObtainTimeout = DefaultObtainTimeout
	}
	m := &Manager{cfg: cfg, logger: cfg.Logger, http: &HTTPSolver{}, alpn: &TLSALPNSolver{}, sleep: sleepCtx}
	if m.logger == nil {
		m.logger = log.New(os.Stderr, "", log.LstdFlags)
	}
	for _, c := range cfg.Challenges {
		switch c {
		case ChallengeHTTP01:
			m.solvers = append(m.solvers, m.http)
		case ChallengeTLSALPN01:
			m.solvers = append(m.solvers, m.alpn)
		default:
			return nil, fmt.Errorf("acme: unknown challenge type %q (want %s or %s)", c, ChallengeHTTP01, ChallengeTLSALPN01)
		}
	}
	if len(m.solvers) == 0 {
		return nil, errors.New("acme: no challenge type to answer")
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("acme: state directory: %v", err)
	}
	if _, err := m.loadAccountKey(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	now := cfg.Now()
	saved, err := m.loadCert()
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		m.logf("ignoring the saved certificate: %v; a new one will be ordered", err)
	case !m.covers(saved.Leaf):
		m.logf("ignoring the saved certificate: it does not cover %s; a new one will be ordered", strings.Join(cfg.Domains, ", "))
	case !now.Before(saved.Leaf.NotAfter):
		m.logf("the saved certificate expired at %s; a new one will be ordered", saved.Leaf.NotAfter.UTC().Format(time.RFC3339))
	default:
		m.cur.Store(saved)
		m.ownCert.Store(true)
		m.logf("loaded the saved %s", describe(saved.Leaf))
	}
	if m.cur.Load() == nil && cfg.Fallback != nil {
		fb := *cfg.Fallback
		if fb.Leaf == nil && len(fb.Certificate) > 0 {
			if leaf, err := x509.ParseCertificate(fb.Certificate[0]); err == nil {
				fb.Leaf = leaf
			}
		}
		if fb.Leaf != nil {
			m.cur.Store(&fb)
		}
	}
	return m, nil
}

func (m *Manager) logf(format string, args ...any) {
	m.logger.Printf("acme: "+format, args...)
}

// GetCertificate answers a TLS-ALPN-01 validation with its challenge
// certificate and every other handshake with the current certificate. It
// returns an error while there is none yet.
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c, err := m.alpn.GetCertificate(hello); c != nil || err != nil {
		return c, err
	}
	if c := m.cur.Load(); c != nil {
		return c, nil
	}
	return nil, errors.New("acme: no certificate yet: one is being ordered from the CA")
}

// NextProtos returns ALPNProto, which the server must offer for the CA's
// TLS-ALPN-01 validation connections.
func (m *Manager) NextProtos() []string { return []string{ALPNProto} }

// WrapHTTP returns a handler that answers HTTP-01 validations and passes
// every other request to next: for the server's plain-HTTP listener.
func (m *Manager) WrapHTTP(next http.Handler) http.Handler { return m.http.Wrap(next) }

// Certificate returns the certificate served now, nil if none.
func (m *Manager) Certificate() *tls.Certificate { return m.cur.Load() }

// RenewalTime returns when leaf is due for renewal: two thirds into its
// lifetime, so that a third of it is left to retry in.
func RenewalTime(leaf *x509.Certificate) time.Time {
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	return leaf.NotBefore.Add(life / 3 * 2)
}

// due returns when the next order should be made: now for no certificate,
// a fallback that does not do, or one past its renewal time.
func (m *Manager) due(now time.Time) time.Time {
	c := m.cur.Load()
	if c == nil || c.Leaf == nil {
		return now
	}
	if !m.ownCert.Load() && (!m.covers(c.Leaf) || selfSigned(c.Leaf)) {
		return now
	}
	return RenewalTime(c.Leaf)
}

// usable reports whether the current certificate can be served to
// clients at all (not expired).
func (m *Manager) usable(now time.Time) bool {
	c := m.cur.Load()
	return c != nil && c.Leaf != nil && now.Before(c.Leaf.NotAfter) && !now.Before(c.Leaf.NotBefore)
}

func (m *Manager) covers(leaf *x509.Certificate) bool {
	for _, d := range m.cfg.Domains {
		if leaf.VerifyHostname(d) != nil {
			return false
		}
	}
	return true
}

func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// Run orders a certificate when there is none (or the current one does
// not do) and renews it two thirds into its lifetime, until ctx ends; the
// server keeps serving the current certificate meanwhile. Start it once
// the server's listeners are bound, since the CA connects to them. A
// failed order is retried after MinBackoff, doubling up to MaxBackoff,
// or at the CA's Retry-After for a rate limit; never sooner. Run returns
// nil when ctx ends, and the last error when it has had no usable
// certificate since it started and the CA refused the names or
// StartAttempts orders failed.
func (m *Manager) Run(ctx context.Context) error {
	failures := 0
	// Run gives up only if the server has had nothing to serve since it
	// started; once it has served, it retries for as long as it runs.
	served := m.usable(m.cfg.Now())
	var last time.Time // the last order's end; the next is MinBackoff later at least
	for {
		now := m.cfg.Now()
		due := m.due(now)
		if !last.IsZero() {
			due = later(due, last.Add(m.cfg.MinBackoff))
		}
		if d := due.Sub(now); d > 0 {
			if failures == 0 {
				m.logf("next renewal at %s", due.UTC().Format(time.RFC3339))
			}
			if !m.sleep(ctx, d) {
				return nil
			}
		}
		err := m.obtain(ctx)
		last = m.cfg.Now()
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			failures, served = 0, true
			continue
		}
		failures++
		if !served && (permanent(err) || failures >= m.cfg.StartAttempts) {
			return fmt.Errorf("%w (gave up after %d attempt(s) with no usable certificate)", err, failures)
		}
		wait := m.backoff(failures)
		var rl *RateLimitError
		if errors.As(err, &rl) {
			wait = m.cfg.MaxBackoff
			if !rl.RetryAfter.IsZero() {
				wait = max(rl.RetryAfter.Sub(last), m.cfg.MinBackoff) + jitter(m.cfg.MinBackoff/4)
			}
		}
		m.logf("%v; retrying at %s", err, last.Add(wait).UTC().Format(time.RFC3339))
		// The wait is counted from now, not due: the retry must not come
		// sooner than the backoff says.
		if !m.sleep(ctx, wait) {
			return nil
		}
		last = time.Time{}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// backoff returns the wait after the n-th consecutive failure: MinBackoff
// doubled n-1 times, at most MaxBackoff, plus up to a quarter of it as
// jitter so that many servers do not retry in step.
func (m *Manager) backoff(n int) time.Duration {
	d := m.cfg.MinBackoff
	for i := 1; i < n && d < m.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, m.cfg.MaxBackoff)
	return d + jitter(d/4)
}

func jitter(limit time.Duration) time.Duration {
	if limit <= 0 {
		return 0
	}
	n, err := rand.Int(rand.Reader, big.NewInt(int64(limit)))
	if err != nil {
		return 0
	}
	return time.Duration(n.Int64())
}

// permanent reports errors that retrying soon will not fix: the CA
// refuses the names or the contact address.
func permanent(err error) bool {
	var rej *RejectedIdentifierError
	if errors.As(err, &rej) {
		return true
	}
	var pe *ProblemError
	if errors.As(err, &pe) {
		switch pe.ProblemType {
		case problemPrefix + "invalidContact", problemPrefix + "unsupportedContact":
			return true
		}
	}
	return false
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// obtain makes one order with a new key and, on success, saves and serves
// the certificate.
func (m *Manager) obtain(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.ObtainTimeout)
	defer cancel()
	client, err := m.registered(ctx)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("acme: generating the certificate key: %v", err)
	}
	tmpl := &x509.CertificateRequest{DNSNames: m.cfg.Domains}
	if len(m.cfg.Domains[0]) <= 64 { // the common name's upper bound
		tmpl.Subject = pkix.Name{CommonName: m.cfg.Domains[0]}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return fmt.Errorf("acme: making the certificate request: %v", err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return fmt.Errorf("acme: making the certificate request: %v", err)
	}
	m.logf("ordering a certificate for %s from %s", strings.Join(m.cfg.Domains, ", "), client.cfg.DirectoryURL)
	certs, err := client.Obtain(ctx, csr, m.solvers...)
	if err != nil {
		return err
	}
	cert := &tls.Certificate{PrivateKey: key, Leaf: certs[0]}
	var chainPEM []byte
	for _, c := range certs {
		cert.Certificate = append(cert.Certificate, c.Raw)
		chainPEM = append(chainPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if err := m.saveCert(chainPEM, key); err != nil {
		m.logf("warning: %v; the new certificate is served but will be ordered again at the next start", err)
	}
	m.cur.Store(cert)
	m.ownCert.Store(true)
	m.logf("serving %s", describe(certs[0]))
	return nil
}

// registered returns the client, registering the account (and creating
// its key) on first use.
func (m *Manager) registered(ctx context.Context) (*Client, error) {
	m.clientMu.Lock()
	defer m.clientMu.Unlock()
	if m.client != nil {
		return m.client, nil
	}
	key, err := m.loadAccountKey()
	if errors.Is(err, fs.ErrNotExist) {
		key, err = m.newAccountKey()
	}
	if err != nil {
		return nil, err
	}
	c, err := NewClient(Config{
		DirectoryURL: m.cfg.DirectoryURL,
		AccountKey:   key,
		Contact:      []string{"mailto:" + m.cfg.Email},
		RootCAs:      m.cfg.RootCAs,
		HTTPClient:   m.cfg.HTTPClient,
		MaxRetries:   m.cfg.MaxRetries,
		UserAgent:    "seal",
		Logf:         m.logf,
		Now:          m.cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	if _, err := c.Register(ctx); err != nil {
		return nil, err
	}
	m.client = c
	return c, nil
}

func (m *Manager) path(name string) string { return filepath.Join(m.cfg.StateDir, name) }

// loadAccountKey returns the saved account key, an error wrapping
// fs.ErrNotExist when there is none, or an error naming the file when it
// does not parse.
func (m *Manager) loadAccountKey() (crypto.Signer, error) {
	p := m.path(AccountKeyFile)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	key, err := parseKey(data)
	if err != nil {
		return nil, fmt.Errorf("acme: the account key %s: %v (move it away to register a new account)", p, err)
	}
	return key, nil
}

func (m *Manager) newAccountKey() (crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("acme: generating the account key: %v", err)
	}
	data, err := marshalKey(key)
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(m.path(AccountKeyFile), data, 0o600); err != nil {
		return nil, fmt.Errorf("acme: saving the account key: %v", err)
	}
	m.logf("created a new account key in %s", m.path(AccountKeyFile))
	return key, nil
}

// loadCert returns the saved certificate, an error wrapping
// fs.ErrNotExist when there is none, or why it cannot be used.
func (m *Manager) loadCert() (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(m.path(CertFile))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(m.path(CertKeyFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s has no %s next to it", m.path(CertFile), CertKeyFile)
		}
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM) // errors never contain key bytes
	if err != nil {
		return nil, fmt.Errorf("%s and %s: %v", m.path(CertFile), m.path(CertKeyFile), err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, err
		}
	}
	return &cert, nil
}

// saveCert writes the key, then the chain, each atomically. A crash in
// between leaves a pair that does not match, which loadCert rejects.
func (m *Manager) saveCert(chainPEM []byte, key crypto.Signer) error {
	keyPEM, err := marshalKey(key)
	if err != nil {
		return err
	}
	if err := writeAtomic(m.path(CertKeyFile), keyPEM, 0o600); err != nil {
		return fmt.Errorf("acme: saving the certificate key: %v", err)
	}
	if err := writeAtomic(m.path(CertFile), chainPEM, 0o644); err != nil {
		return fmt.Errorf("acme: saving the certificate: %v", err)
	}
	return nil
}

func marshalKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("acme: encoding a key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func parseKey(data []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	var k any
	var err error
	switch b.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("a %q PEM block is not a private key", b.Type)
	}
	if err != nil {
		return nil, errors.New("the private key does not parse")
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported key type %T", k)
	}
	return s, nil
}

// writeAtomic replaces path with data: a temporary file in the same
// directory with the final mode from the start, synced, renamed over
// path, and the directory synced, so that a crash leaves either the old
// or the new file, never a partial one.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
