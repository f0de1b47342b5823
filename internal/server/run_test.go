package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"github.com/certseal/certseal/internal/testutil"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certseal/certseal/internal/payload"
)

func plainClient() *http.Client {
	return &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func TestRedirectListener(t *testing.T) {
	site := testSite(t)
	r := start(t, site, Options{})
	httpsPort := portOf(r.addrs.HTTPS)
	base := "http://" + r.addrs.HTTP.String()
	cl := plainClient()
	for _, tc := range []struct {
		name, path, host, want string
	}{
		{"root", "/", "", "https://127.0.0.1:" + httpsPort + "/"},
		{"path and query", "/docs/a.txt?x=1&y=%20", "", "https://127.0.0.1:" + httpsPort + "/docs/a.txt?x=1&y=%20"},
		{"escaped path kept", "/with%20space.html", "", "https://127.0.0.1:" + httpsPort + "/with%20space.html"},
		{"host port stripped", "/a", "example.com:8080", "https://example.com:" + httpsPort + "/a"},
		{"host without port", "/a", "example.com", "https://example.com:" + httpsPort + "/a"},
		{"ipv6 host", "/a", "[::1]:80", "https://[::1]:" + httpsPort + "/a"},
		{"ipv6 host without port", "/a", "[::1]", "https://[::1]:" + httpsPort + "/a"},
		{"unclean path kept", "//evil.example/x", "example.com", "https://example.com:" + httpsPort + "//evil.example/x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", base+tc.path, nil)
			if tc.host != "" {
				req.Host = tc.host
			}
			resp, err := cl.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 301 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := resp.Header.Get("Location"); got != tc.want {
				t.Errorf("Location = %q, want %q", got, tc.want)
			}
			if resp.Header.Get("Strict-Transport-Security") != "" {
				t.Error("HSTS on a plain-HTTP response")
			}
		})
	}

	// RedirectPort replaces the listener's port.
	r2 := start(t, site, Options{RedirectPort: 443})
	resp, err := cl.Get("http://" + r2.addrs.HTTP.String() + "/x?y")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Location"); got != "https://127.0.0.1/x?y" {
		t.Errorf("with RedirectPort 443: Location %q", got)
	}

	// Following the redirect lands on the site.
	h1 := clients(t)["h1"]
	h1.CheckRedirect = nil
	h1.Transport.(*http.Transport).TLSClientConfig.ServerName = "localhost"
	resp, err = h1.Get(base + "/docs/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello, docs\n" || resp.TLS == nil {
		t.Fatalf("after redirect: %d %q", resp.StatusCode, body)
	}
}

func TestRedirectHandler(t *testing.T) {
	for _, tc := range []struct {
		name, port, host, target string
		hostnames                []string
		status                   int
		want                     string
	}{
		{"port 443 omitted", "443", "example.com:80", "/p?q", nil, 301, "https://example.com/p?q"},
		{"ipv6 on 443", "443", "[2001:db8::1]:80", "/", nil, 301, "https://[2001:db8::1]/"},
		{"other port", "8443", "example.com", "/", nil, 301, "https://example.com:8443/"},
		{"no host uses hostname", "443", "", "/x", []string{"site.example"}, 301, "https://site.example/x"},
		{"no host at all", "443", "", "/x", nil, 400, ""},
		{"options star", "443", "example.com", "*", nil, 301, "https://example.com/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rh := &redirectHandler{httpsPort: tc.port, hostnames: tc.hostnames}
			req := httptest.NewRequest("GET", "/", nil)
			req.Host = tc.host
			req.URL.Path, req.URL.RawQuery, _ = strings.Cut(tc.target, "?")
			rec := httptest.NewRecorder()
			rh.ServeHTTP(rec, req)
			if rec.Code != tc.status || rec.Header().Get("Location") != tc.want {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Header().Get("Location"), tc.status, tc.want)
			}
		})
	}
}

func TestNoTLS(t *testing.T) {
	site := testSite(t)
	site.Config.NoTLS = true
	site.CertPEM, site.KeyPEM = nil, nil
	var wrapped bool
	r := start(t, site, Options{HTTPHandlerWrap: func(h http.Handler) http.Handler {
		wrapped = true
		return h
	}})
	if r.addrs.HTTPS != nil || r.addrs.HTTP == nil {
		t.Fatalf("addrs = %+v, want HTTP only", r.addrs)
	}
	if !wrapped {
		t.Error("HTTPHandlerWrap not called")
	}
	if !strings.HasPrefix(r.addrs.URL(), "http://127.0.0.1:") {
		t.Errorf("URL() = %q", r.addrs.URL())
	}
	base := strings.TrimSuffix(r.addrs.URL(), "/")
	runCases(t, base, plainClient(), []httpCase{
		{name: "site served", path: "/", status: 200, body: str(indexBody), want: map[string]string{
			"Strict-Transport-Security": absent, "Location": absent, "X-Content-Type-Options": "nosniff",
		}},
		{name: "dir redirect is relative", path: "/docs", status: 301, want: map[string]string{"Location": "/docs/"}},
	})
}

func TestRunErrors(t *testing.T) {
	site := testSite(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	noKey := testSite(t)
	noKey.KeyPEM = nil
	badCert := testSite(t)
	badCert.CertPEM = []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	noTLSNoAddr := testSite(t)
	noTLSNoAddr.Config.NoTLS = true
	noTLSNoAddr.Config.HTTPAddr = ""
	for _, tc := range []struct {
		name  string
		site  *payload.Site
		opts  Options
		wants string
	}{
		{"address in use", site, Options{HTTPSAddr: busy.Addr().String()}, "address already in use"},
		{"bad address", site, Options{HTTPAddr: "127.0.0.1:99999"}, "invalid port"},
		{"no key", noKey, Options{}, "no certificate or key"},
		{"bad certificate", badCert, Options{}, "loading the certificate"},
		{"no TLS, no address", noTLSNoAddr, Options{}, "no HTTP address"},
		{"nil site", nil, Options{}, "no site"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ready := false
			tc.opts.Ready = func(Addrs) { ready = true }
			err := Run(ctx, tc.site, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wants) || !strings.HasPrefix(err.Error(), "server: ") {
				t.Fatalf("Run = %v, want an error containing %q", err, tc.wants)
			}
			if ready {
				t.Error("Ready called despite the error")
			}
		})
	}
}

// TestListenersAndCertSource runs on pre-opened listeners with a custom
// certificate source.
func TestListenersAndCertSource(t *testing.T) {
	site := testSite(t)
	p := testCert(t)
	static, err := StaticCertificate(p.certPEM, p.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	calls := make(chan string, 100)
	src := certFunc(func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		calls <- hello.ServerName
		return static.GetCertificate(hello)
	})
	lnS, _ := net.Listen("tcp", "127.0.0.1:0")
	lnH, _ := net.Listen("tcp", "127.0.0.1:0")
	site.CertPEM, site.KeyPEM = nil, nil // must not be needed
	r := start(t, site, Options{Listeners: Listeners{HTTPS: lnS, HTTP: lnH}, Certificates: src})
	if r.addrs.HTTPS.String() != lnS.Addr().String() || r.addrs.HTTP.String() != lnH.Addr().String() {
		t.Fatalf("addrs %v, listeners %v %v", r.addrs, lnS.Addr(), lnH.Addr())
	}
	resp, err := clients(t)["h2"].Get(r.addrs.URL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case name := <-calls:
		if name != "localhost" {
			t.Errorf("SNI %q", name)
		}
	default:
		t.Error("CertSource not consulted")
	}
	r.stop(t)
	if _, err := net.DialTimeout("tcp", lnS.Addr().String(), time.Second); err == nil {
		t.Error("HTTPS listener still open after Run returned")
	}
}

type certFunc func(*tls.ClientHelloInfo) (*tls.Certificate, error)

func (f certFunc) GetCertificate(h *tls.ClientHelloInfo) (*tls.Certificate, error) { return f(h) }

// TestGracefulShutdown: a request in flight when ctx is cancelled still
// completes; new connections are refused; Run returns nil afterwards.
func TestGracefulShutdown(t *testing.T) {
	site := testSite(t)
	entered := make(chan struct{})
	release := make(chan struct{})
	slow := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				close(entered)
				<-release
				io.WriteString(w, "finished")
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	r := start(t, site, Options{HTTPHandlerWrap: slow})
	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := plainClient().Get("http://" + r.addrs.HTTP.String() + "/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- result{string(b), err}
	}()
	<-entered
	r.cancel()
	// Run must wait for the request.
	select {
	case err := <-r.done:
		t.Fatalf("Run returned %v with a request in flight", err)
	case <-time.After(300 * time.Millisecond):
	}
	if c, err := net.DialTimeout("tcp", r.addrs.HTTPS.String(), time.Second); err == nil {
		c.Close()
		t.Error("new connections still accepted during shutdown")
	}
	close(release)
	res := <-got
	if res.err != nil || res.body != "finished" {
		t.Fatalf("in-flight request: %q, %v", res.body, res.err)
	}
	r.stop(t)
}

// TestShutdownTimeout: a request that never finishes does not hold Run
// beyond the shutdown timeout.
func TestShutdownTimeout(t *testing.T) {
	site := testSite(t)
	entered := make(chan struct{})
	block := make(chan struct{})
	defer close(block)
	to := defaultTimeouts
	to.shutdown = 200 * time.Millisecond
	var logs testutil.SyncBuffer
	r := start(t, site, Options{
		timeouts: &to,
		Logger:   log.New(&logs, "", 0),
		HTTPHandlerWrap: func(http.Handler) http.Handler {
			return http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				close(entered)
				<-block
			})
		},
	})
	go plainClient().Get("http://" + r.addrs.HTTP.String() + "/")
	<-entered
	startStop := time.Now()
	r.stop(t)
	if d := time.Since(startStop); d > 3*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	if !strings.Contains(logs.String(), "shutdown") {
		t.Errorf("no shutdown notice logged: %q", logs.String())
	}
}

// TestSlowClients: clients that never finish their headers, or never start
// the TLS handshake, are cut off by ReadHeaderTimeout without blocking
// anyone else.
func TestSlowClients(t *testing.T) {
	site := testSite(t)
	to := defaultTimeouts
	to.readHeader = 300 * time.Millisecond
	var logs testutil.SyncBuffer
	r := start(t, site, Options{timeouts: &to, Logger: log.New(&logs, "", 0)})
	p := testCert(t)

	// Slow headers after a completed handshake.
	slowTLS, err := tls.Dial("tcp", r.addrs.HTTPS.String(), &tls.Config{
		RootCAs: p.roots, ServerName: "localhost", NextProtos: []string{"http/1.1"},
		Time: func() time.Time { return testNow.Add(time.Hour) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer slowTLS.Close()
	io.WriteString(slowTLS, "GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
	// No handshake at all.
	silent, err := net.Dial("tcp", r.addrs.HTTPS.String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// Slow headers on the plain listener.
	slowPlain, err := net.Dial("tcp", r.addrs.HTTP.String())
	if err != nil {
		t.Fatal(err)
	}
	defer slowPlain.Close()
	io.WriteString(slowPlain, "GET / HTTP/1.1\r\nHost: x\r\n")

	// Others are served meanwhile.
	for name, cl := range clients(t) {
		resp, err := cl.Get(r.addrs.URL())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", name, resp.StatusCode)
		}
	}

	for name, c := range map[string]net.Conn{"slow headers over TLS": slowTLS, "no handshake": silent, "slow plain headers": slowPlain} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		_, err := io.Copy(io.Discard, c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s: connection still open after %v", name, time.Since(start))
		}
	}
}

func TestTLSParameters(t *testing.T) {
	site := testSite(t)
	r := start(t, site, Options{HTTPAddr: "-"})
	p := testCert(t)
	addr := r.addrs.HTTPS.String()
	base := func() *tls.Config {
		return &tls.Config{
			RootCAs: p.roots, ServerName: "localhost", NextProtos: []string{"h2", "http/1.1"},
			Time: func() time.Time { return testNow.Add(time.Hour) },
		}
	}
	for _, tc := range []struct {
		name   string
		mod    func(*tls.Config)
		ok     bool
		verify func(*testing.T, tls.ConnectionState)
	}{
		{"defaults: TLS 1.3, h2, hybrid PQ", func(*tls.Config) {}, true, func(t *testing.T, cs tls.ConnectionState) {
			if cs.Version != tls.VersionTLS13 || cs.NegotiatedProtocol != "h2" || cs.CurveID != tls.X25519MLKEM768 {
				t.Errorf("version %x, ALPN %q, group %v", cs.Version, cs.NegotiatedProtocol, cs.CurveID)
			}
		}},
		{"http/1.1 ALPN", func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }, true, func(t *testing.T, cs tls.ConnectionState) {
			if cs.NegotiatedProtocol != "http/1.1" {
				t.Errorf("ALPN %q", cs.NegotiatedProtocol)
			}
		}},
		{"TLS 1.2 ECDHE-ECDSA AES-GCM", func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
		}, true, func(t *testing.T, cs tls.ConnectionState) {
			if cs.Version != tls.VersionTLS12 || cs.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 {
				t.Errorf("version %x suite %v", cs.Version, tls.CipherSuiteName(cs.CipherSuite))
			}
		}},
		{"TLS 1.2 ChaCha20", func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}
		}, true, nil},
		{"TLS 1.2 CBC refused", func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
		}, false, nil},
		{"TLS 1.1 refused", func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 }, false, nil},
		{"X25519", func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.X25519} }, true, func(t *testing.T, cs tls.ConnectionState) {
			if cs.CurveID != tls.X25519 {
				t.Errorf("group %v", cs.CurveID)
			}
		}},
		{"P-256", func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.CurveP256} }, true, nil},
		{"P-384 only refused", func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.CurveP384} }, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.mod(cfg)
			c, err := tls.Dial("tcp", addr, cfg)
			if !tc.ok {
				if err == nil {
					c.Close()
					t.Fatal("handshake succeeded, want failure")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if tc.verify != nil {
				tc.verify(t, c.ConnectionState())
			}
		})
	}

	t.Run("session resumption", func(t *testing.T) {
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			cfg := base()
			cfg.MaxVersion = v
			cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			for i := range 2 {
				c, err := tls.Dial("tcp", addr, cfg)
				if err != nil {
					t.Fatal(err)
				}
				// TLS 1.3 tickets arrive after the handshake: read to get them.
				c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				c.Read(make([]byte, 1))
				if resumed := c.ConnectionState().DidResume; resumed != (i == 1) {
					t.Errorf("TLS %x connection %d: DidResume = %v", v, i, resumed)
				}
				c.Close()
			}
		}
	})
}

var accessLine = regexp.MustCompile(`^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000\] "([A-Z]+) (\S+) (HTTP/[\d.]+)" (\d{3}) (\d+) \d+\.\d{6}$`)

func TestAccessLog(t *testing.T) {
	site := testSite(t)
	var out testutil.SyncBuffer
	r := start(t, site, Options{AccessLog: &out})
	cl := clients(t)
	for _, p := range []string{"/", "/docs/a.txt", "/nope", "/q%22uote?a=%22&b=\"x"} {
		resp, err := cl["h2"].Get(r.addrs.URL() + strings.TrimPrefix(p, "/"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	resp, err := plainClient().Head("http://" + r.addrs.HTTP.String() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r.stop(t) // flushes

	want := []string{
		`"GET / HTTP/2.0" 200 ` + strconv.Itoa(len(indexBody)),
		`"GET /docs/a.txt HTTP/2.0" 200 12`,
		`"GET /nope HTTP/2.0" 404 18`,
		`"GET /q%22uote?a=%22&b=\x22x HTTP/2.0" 404`,
		`"HEAD /x HTTP/1.1" 301 0`,
	}
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, l := range lines {
		if !strings.Contains(l, want[i]) {
			t.Errorf("line %d = %q, want it to contain %q", i, l, want[i])
		}
		if i != 3 && !accessLine.MatchString(l) {
			t.Errorf("line %d = %q does not match the format", i, l)
		}
	}
}

func TestLimitedLogger(t *testing.T) {
	var out testutil.SyncBuffer
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	lg := newLimitedLogger(log.New(&out, "", 0), 1, 3)
	lg.Writer().(*limitedWriter).now = func() time.Time { return now }
	for range 10 {
		lg.Print("handshake error")
	}
	now = now.Add(2 * time.Second) // two more tokens
	lg.Print("later")
	lg.Print("later again")
	lg.Print("dropped")
	want := "handshake error\nhandshake error\nhandshake error\nserver: 7 log messages suppressed\nlater\nlater again\n"
	if got := out.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestLargeBodySlowReader: a large body read slowly outlives WriteTimeout,
// since its deadline is extended for its size; a small WriteTimeout still
// applies to everything else.
func TestLargeBodySlowReader(t *testing.T) {
	site := testSite(t)
	const size = 24 << 20 // more than loopback socket buffers hold
	site.Files = append(site.Files, &payload.File{
		Path: "/huge.bin", ContentType: "application/octet-stream", ETag: `"huge"`,
		Body: []byte(strings.Repeat("z", size)),
	})
	to := defaultTimeouts
	to.write = 150 * time.Millisecond
	r := start(t, site, Options{timeouts: &to, HTTPAddr: "-"})
	for name, cl := range clients(t) {
		t.Run(name, func(t *testing.T) {
			tr := cl.Transport.(*http.Transport)
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err == nil {
					c.(*net.TCPConn).SetReadBuffer(32 << 10)
				}
				return c, err
			}
			resp, err := cl.Get(r.addrs.URL() + "huge.bin")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			buf := make([]byte, 1<<20)
			var n int
			for {
				m, err := io.ReadFull(resp.Body, buf)
				n += m
				if err != nil {
					break
				}
				time.Sleep(40 * time.Millisecond) // about 25 MB/s: 1 s in all
			}
			if n != size || resp.ProtoMajor != map[string]int{"h1": 1, "h2": 2}[name] {
				t.Fatalf("%s: read %d of %d bytes: the write deadline cut the download", resp.Proto, n, size)
			}
		})
	}
}

// TestRunAlreadyCancelled: a context cancelled before serving makes Run
// return nil at once, with its listeners closed.
func TestRunAlreadyCancelled(t *testing.T) {
	lnS, _ := net.Listen("tcp", "127.0.0.1:0")
	lnH, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	err := Run(ctx, testSite(t), Options{Listeners: Listeners{HTTPS: lnS, HTTP: lnH}, Logger: log.New(io.Discard, "", 0)})
	if err != nil || time.Since(start) > 2*time.Second {
		t.Fatalf("Run = %v after %v", err, time.Since(start))
	}
	for _, ln := range []net.Listener{lnS, lnH} {
		if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
			c.Close()
			t.Errorf("%v still listening", ln.Addr())
		}
	}
}
