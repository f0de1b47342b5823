package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/certseal/certseal/internal/certcmd"
	"github.com/certseal/certseal/pkg/x509util"
)

// Limits on --fetch: AIA downloads are plain HTTP from URLs inside the
// certificates, so they are bounded in time, size and number.
const (
	fetchTimeout = 10 * time.Second
	fetchMaxSize = 1 << 20
	fetchMax     = 5
)

// fetcher downloads missing issuers from AIA caIssuers URLs.
type fetcher struct {
	client  *http.Client
	count   int
	lastURL string
}

func newFetcher() *fetcher {
	return &fetcher{client: &http.Client{
		Timeout: fetchTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Scheme != "http" {
				return fmt.Errorf("redirected to %s; only http is fetched", req.URL.Redacted())
			}
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}}
}

// fetchIssuer tries each AIA URL of mi in turn and returns the first
// certificate whose key signed mi.Cert.
func (f *fetcher) fetchIssuer(mi *x509util.MissingIssuerError) (*x509.Certificate, error) {
	var errs []error
	for _, u := range mi.AIA {
		if f.count >= fetchMax {
			return nil, fmt.Errorf("--fetch: stopped after %d downloads; the issuer of %s is still missing", fetchMax, x509util.Describe(mi.Cert))
		}
		c, err := f.fetch(u, mi.Cert)
		if err == nil {
			f.lastURL = u
			return c, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("--fetch: %s has no caIssuers URL", x509util.Describe(mi.Cert))
	}
	return nil, errors.Join(errs...)
}

func (f *fetcher) fetch(rawURL string, child *x509.Certificate) (*x509.Certificate, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("--fetch: not fetching %q: only http:// caIssuers URLs are fetched", rawURL)
	}
	f.count++
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("--fetch %s: %v", rawURL, err)
	}
	req.Header.Set("User-Agent", "certseal-chain")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("--fetch %s: %v", rawURL, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("--fetch %s: the server answered %s", rawURL, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, fetchMaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("--fetch %s: %v", rawURL, unwrapURLError(err))
	}
	if len(body) > fetchMaxSize {
		return nil, fmt.Errorf("--fetch %s: the response is larger than %d KiB; not a certificate", rawURL, fetchMaxSize>>10)
	}
	certs, err := x509util.ParseCertificates(body, "")
	if err != nil {
		return nil, fmt.Errorf("--fetch %s: %s", rawURL, certcmd.Reason(err))
	}
	for _, c := range certs {
		if child.CheckSignatureFrom(c) == nil {
			return c, nil
		}
	}
	return nil, fmt.Errorf("--fetch %s: the downloaded certificate did not sign %s; ignored", rawURL, x509util.Describe(child))
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
