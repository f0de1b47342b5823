package acme

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	xacme "golang.org/x/crypto/acme"
)

// ALPNProto is the ALPN protocol a CA offers when it validates by
// TLS-ALPN-01; a server adds it to tls.Config.NextProtos.
const ALPNProto = xacme.ALPNProto

// http01Prefix is where HTTP-01 answers live on a site.
const http01Prefix = "/.well-known/acme-challenge/"

// Challenge is one answer a Solver must make available while the CA
// validates.
type Challenge struct {
	Type       string // ChallengeHTTP01 or ChallengeTLSALPN01
	Identifier string // the DNS name or IP address being validated
	Token      string
	// KeyAuth is the HTTP-01 response body, served at Path.
	KeyAuth string
	Path    string
	// Cert is the TLS-ALPN-01 certificate for Identifier.
	Cert *tls.Certificate
}

// Solver makes challenge answers available to the CA and removes them
// afterwards.
type Solver interface {
	// ChallengeType is the one challenge type the solver answers.
	ChallengeType() string
	// Present makes ch's answer reachable by the CA; it returns an error
	// if it cannot.
	Present(ctx context.Context, ch Challenge) error
	// CleanUp removes what Present made.
	CleanUp(ch Challenge) error
}

// HTTPSolver answers HTTP-01 challenges from memory. It is an
// http.Handler for a server on port 80 (ServeHTTP answers only the
// challenge paths, 404 elsewhere), and Wrap puts it in front of a site's
// own handler. The zero value is ready to use.
type HTTPSolver struct {
	mu     sync.RWMutex
	tokens map[string]string // token → key authorization
}

// ChallengeType returns ChallengeHTTP01.
func (s *HTTPSolver) ChallengeType() string { return ChallengeHTTP01 }

// Present stores the key authorization for ch.Token.
func (s *HTTPSolver) Present(_ context.Context, ch Challenge) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tokens == nil {
		s.tokens = map[string]string{}
	}
	s.tokens[ch.Token] = ch.KeyAuth
	return nil
}

// CleanUp forgets ch.Token.
func (s *HTTPSolver) CleanUp(ch Challenge) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, ch.Token)
	return nil
}

func (s *HTTPSolver) answer(r *http.Request) (string, bool) {
	token, ok := strings.CutPrefix(r.URL.Path, http01Prefix)
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return "", false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ka, ok := s.tokens[token]
	return ka, ok
}

// ServeHTTP answers a pending challenge and 404s anything else.
func (s *HTTPSolver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.Wrap(http.NotFoundHandler()).ServeHTTP(w, r)
}

// Wrap returns a handler that answers pending challenges and passes every
// other request to next.
func (s *HTTPSolver) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ka, ok := s.answer(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte(ka))
	})
}

// WebrootSolver answers HTTP-01 challenges by writing
// Dir/.well-known/acme-challenge/TOKEN for a web server that serves Dir,
// and removing it (and the directories it made) afterwards.
type WebrootSolver struct {
	Dir string

	mu      sync.Mutex
	created []string // directories Present made, deepest last
}

// ChallengeType returns ChallengeHTTP01.
func (s *WebrootSolver) ChallengeType() string { return ChallengeHTTP01 }

// Present writes the key authorization file, readable by the web server
// (mode 0644). It returns an error if Dir does not exist or is not
// writable.
func (s *WebrootSolver) Present(_ context.Context, ch Challenge) error {
	st, err := os.Stat(s.Dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("the webroot %s does not exist", s.Dir)
		}
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("the webroot %s is not a directory", s.Dir)
	}
	if strings.ContainsAny(ch.Token, `/\`) || ch.Token == "" || ch.Token == "." || ch.Token == ".." {
		return fmt.Errorf("the CA sent an unusable token %q", ch.Token)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := s.Dir
	for _, part := range []string{".well-known", "acme-challenge"} {
		dir = filepath.Join(dir, part)
		if err := os.Mkdir(dir, 0o755); err == nil {
			s.created = append(s.created, dir)
		} else if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("creating %s: %v", dir, err)
		}
	}
	path := filepath.Join(dir, ch.Token)
	if err := os.WriteFile(path, []byte(ch.KeyAuth), 0o644); err != nil {
		return fmt.Errorf("writing %s: %v", path, err)
	}
	return nil
}

// CleanUp removes the token file and the directories Present created if
// they are empty.
func (s *WebrootSolver) CleanUp(ch Challenge) error {
	path := filepath.Join(s.Dir, ".well-known", "acme-challenge", ch.Token)
	err := os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.created) - 1; i >= 0; i-- {
		if os.Remove(s.created[i]) == nil {
			s.created = s.created[:i]
		} else {
			break // not empty: another challenge is still pending
		}
	}
	return err
}

// TLSALPNSolver answers TLS-ALPN-01 challenges from memory. Its
// GetCertificate serves the challenge certificate to a ClientHello that
// offers ALPNProto; a server calls it first from its own GetCertificate.
// The zero value is ready to use.
type TLSALPNSolver struct {
	mu    sync.RWMutex
	certs map[string]*tls.Certificate // identifier → challenge certificate
}

// ChallengeType returns ChallengeTLSALPN01.
func (s *TLSALPNSolver) ChallengeType() string { return ChallengeTLSALPN01 }

// Present stores the challenge certificate for ch.Identifier.
func (s *TLSALPNSolver) Present(_ context.Context, ch Challenge) error {
	if ch.Cert == nil {
		return errors.New("no TLS-ALPN-01 certificate")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.certs == nil {
		s.certs = map[string]*tls.Certificate{}
	}
	s.certs[strings.ToLower(ch.Identifier)] = ch.Cert
	return nil
}

// CleanUp forgets ch.Identifier's certificate.
func (s *TLSALPNSolver) CleanUp(ch Challenge) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.certs, strings.ToLower(ch.Identifier))
	return nil
}

// IsChallenge reports whether hello is a TLS-ALPN-01 validation
// connection: one offering only ALPNProto.
func IsChallenge(hello *tls.ClientHelloInfo) bool {
	return len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == ALPNProto
}

// GetCertificate returns the challenge certificate for a validation
// connection and (nil, nil) for any other ClientHello, so the caller goes
// on to its usual certificate. It returns an error for a validation
// connection for a name with no pending challenge.
func (s *TLSALPNSolver) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if !IsChallenge(hello) {
		return nil, nil
	}
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	s.mu.RLock()
	defer s.mu.RUnlock()
	if c, ok := s.certs[name]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("acme: no TLS-ALPN-01 challenge pending for %q", name)
}
