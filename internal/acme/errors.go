package acme

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	xacme "golang.org/x/crypto/acme"
)

// problemPrefix starts every RFC 8555 problem type; messages show the rest.
const problemPrefix = "urn:ietf:params:acme:error:"

// Problem types that callers branch on.
const (
	ProblemRateLimited        = problemPrefix + "rateLimited"
	ProblemRejectedIdentifier = problemPrefix + "rejectedIdentifier"
)

// DirectoryError reports that the ACME directory could not be used: the
// server is unreachable, its certificate is not trusted, or it did not
// answer with an ACME directory.
type DirectoryError struct {
	URL string
	Err error
}

func (e *DirectoryError) Error() string {
	return fmt.Sprintf("acme: cannot use the ACME directory %s: %v", e.URL, e.Err)
}

func (e *DirectoryError) Unwrap() error { return e.Err }

// RateLimitError reports that the CA refused a request because a rate
// limit was reached. RetryAfter is when the CA says to try again (zero if
// it did not say).
type RateLimitError struct {
	Detail     string
	RetryAfter time.Time
}

func (e *RateLimitError) Error() string {
	msg := "acme: the CA's rate limit was reached: " + e.Detail
	if !e.RetryAfter.IsZero() {
		msg += "; retry after " + e.RetryAfter.UTC().Format(time.RFC3339)
	}
	return msg
}

// ChallengeError reports that the CA could not validate control of an
// identifier. ProblemType and Detail are the CA's problem document.
type ChallengeError struct {
	Identifier    string
	ChallengeType string
	ProblemType   string
	Detail        string
}

func (e *ChallengeError) Error() string {
	return fmt.Sprintf("acme: the CA could not validate %s by %s: %s: %s",
		e.Identifier, e.ChallengeType, shortType(e.ProblemType), e.Detail)
}

// RejectedIdentifierError reports that the CA will not issue for some of
// the requested names (policy, blocked domain, unsupported identifier).
type RejectedIdentifierError struct {
	Identifiers []string // may be empty when the CA did not say which
	Detail      string
}

func (e *RejectedIdentifierError) Error() string {
	if len(e.Identifiers) == 0 {
		return "acme: the CA refuses to issue for these names: " + e.Detail
	}
	return fmt.Sprintf("acme: the CA refuses to issue for %s: %s", strings.Join(e.Identifiers, ", "), e.Detail)
}

// ProblemError is any other problem document the CA answered with.
type ProblemError struct {
	Status      int
	ProblemType string
	Detail      string
	Subproblems []string
}

func (e *ProblemError) Error() string {
	msg := fmt.Sprintf("acme: the CA answered %s: %s", shortType(e.ProblemType), e.Detail)
	if len(e.Subproblems) > 0 {
		msg += " (" + strings.Join(e.Subproblems, "; ") + ")"
	}
	return msg
}

func shortType(t string) string {
	if s, ok := strings.CutPrefix(t, problemPrefix); ok && s != "" {
		return s
	}
	if t == "" {
		return "error"
	}
	return t
}

// translate turns errors from x/crypto/acme into this package's types;
// what it does not know it returns with context.
func translate(err error, now time.Time) error {
	if err == nil {
		return nil
	}
	var ae *xacme.Error
	if errors.As(err, &ae) {
		switch strings.ToLower(ae.ProblemType) {
		case strings.ToLower(ProblemRateLimited):
			e := &RateLimitError{Detail: ae.Detail}
			if d, ok := xacme.RateLimit(ae); ok && d > 0 {
				e.RetryAfter = now.Add(d).Truncate(time.Second)
			}
			return e
		case strings.ToLower(ProblemRejectedIdentifier):
			e := &RejectedIdentifierError{Detail: ae.Detail}
			for _, sp := range ae.Subproblems {
				if sp.Identifier != nil {
					e.Identifiers = append(e.Identifiers, sp.Identifier.Value)
				}
			}
			return e
		}
		pe := &ProblemError{Status: ae.StatusCode, ProblemType: ae.ProblemType, Detail: ae.Detail}
		for _, sp := range ae.Subproblems {
			pe.Subproblems = append(pe.Subproblems, sp.String())
		}
		return pe
	}
	var oe *xacme.OrderError
	if errors.As(err, &oe) {
		if oe.Problem != nil {
			return translate(oe.Problem, now)
		}
		return fmt.Errorf("acme: the order became %s", oe.Status)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("acme: timed out waiting for the CA")
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("acme: cancelled")
	}
	return err
}

// describeTransport makes a connection error readable: no Go struct
// dumps, and a hint for the usual causes.
func describeTransport(err error) error {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return errors.New("timed out")
	case errors.As(err, &dnsErr):
		return fmt.Errorf("cannot resolve %s: %v", dnsErr.Name, dnsErr.Err)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		inner := opErr.Err
		var se *os.SyscallError
		if errors.As(inner, &se) {
			inner = se.Err
		}
		return fmt.Errorf("cannot connect: %v", inner)
	}
	msg := err.Error()
	if strings.Contains(msg, "certificate signed by unknown authority") ||
		strings.Contains(msg, "x509:") {
		return fmt.Errorf("%v (a private ACME CA's root must be trusted explicitly)", trimURLError(msg))
	}
	return errors.New(trimURLError(msg))
}

// trimURLError drops net/url's `Get "URL": ` prefix, since the callers
// name the URL themselves.
func trimURLError(msg string) string {
	if i := strings.Index(msg, "\": "); i >= 0 && (strings.HasPrefix(msg, "Get \"") || strings.HasPrefix(msg, "Post \"")) {
		return msg[i+3:]
	}
	return msg
}

// StepError says which step of an issuance failed; Err is the cause
// (one of this package's error types when the CA refused).
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string {
	return "acme: " + e.Step + ": " + strings.TrimPrefix(e.Err.Error(), "acme: ")
}

func (e *StepError) Unwrap() error { return e.Err }

// step wraps err, translated, with the step it failed in.
func step(name string, err error, now time.Time) error {
	return &StepError{Step: name, Err: translate(err, now)}
}
