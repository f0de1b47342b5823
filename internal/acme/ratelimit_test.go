package acme_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certseal/certseal/internal/acme"
	"github.com/certseal/certseal/pkg/x509util"
)

// fakeCA is just enough of an ACME server to register an account and
// then answer every new order with the given status and problem.
func fakeCA(t *testing.T, orderStatus int, problem, retryAfter string, orders *atomic.Int32) *httptest.Server {
	var srv *httptest.Server
	mux := http.NewServeMux()
	nonce := func(w http.ResponseWriter) { w.Header().Set("Replay-Nonce", "n"+time.Now().Format("150405.000000000")) }
	mux.HandleFunc("/dir", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{
			"newNonce": srv.URL + "/nonce", "newAccount": srv.URL + "/acct", "newOrder": srv.URL + "/order",
		})
	})
	mux.HandleFunc("/nonce", func(w http.ResponseWriter, r *http.Request) { nonce(w) })
	mux.HandleFunc("/acct", func(w http.ResponseWriter, r *http.Request) {
		nonce(w)
		w.Header().Set("Location", srv.URL+"/acct/1")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"status":"valid"}`))
	})
	mux.HandleFunc("/order", func(w http.ResponseWriter, r *http.Request) {
		orders.Add(1)
		nonce(w)
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(orderStatus)
		w.Write([]byte(problem))
	})
	srv = httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func fakeClient(t *testing.T, srv *httptest.Server, now time.Time, retries int) *acme.Client {
	key, _ := x509util.GenerateKey(x509util.KeySpec{Type: x509util.ECDSA}, nil)
	c, err := acme.NewClient(acme.Config{
		DirectoryURL: srv.URL + "/dir", AccountKey: key, HTTPClient: srv.Client(),
		Now: func() time.Time { return now }, MaxRetries: retries,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRateLimit: a long Retry-After is not waited for; the error carries
// the CA's detail and the time to retry, and the CA was asked once.
func TestRateLimit(t *testing.T) {
	var orders atomic.Int32
	srv := fakeCA(t, http.StatusTooManyRequests,
		`{"type":"urn:ietf:params:acme:error:rateLimited","detail":"too many certificates already issued for certseal.test"}`,
		"3600", &orders)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	c := fakeClient(t, srv, now, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := c.Register(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := c.Obtain(ctx, newCSR(t, "certseal.test"), &acme.HTTPSolver{})
	var rl *acme.RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("got %v (%T), want *RateLimitError", err, err)
	}
	if want := now.Add(time.Hour); !rl.RetryAfter.Equal(want) {
		t.Errorf("RetryAfter %v, want %v", rl.RetryAfter, want)
	}
	if !strings.Contains(err.Error(), "too many certificates already issued") || !strings.Contains(err.Error(), "retry after 2026-12-01T11:00:00Z") {
		t.Errorf("message %q", err)
	}
	if n := orders.Load(); n != 1 {
		t.Errorf("the CA was asked %d times, want 1", n)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v; a long Retry-After must not be waited for", d)
	}
}

// TestServerErrorRetriesBounded: a CA that keeps failing is retried
// MaxRetries times with backoff, then its error is returned.
func TestServerErrorRetriesBounded(t *testing.T) {
	var orders atomic.Int32
	srv := fakeCA(t, http.StatusServiceUnavailable,
		`{"type":"urn:ietf:params:acme:error:serverInternal","detail":"the CA is down for maintenance"}`, "", &orders)
	c := fakeClient(t, srv, time.Now(), 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Register(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := c.Obtain(ctx, newCSR(t, "certseal.test"), &acme.HTTPSolver{})
	var pe *acme.ProblemError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "serverInternal: the CA is down for maintenance") {
		t.Fatalf("got %v (%T)", err, err)
	}
	if n := orders.Load(); n != 3 {
		t.Errorf("the CA was asked %d times, want 1 + 2 retries", n)
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("retries took %v: no backoff between them", d)
	}
}
