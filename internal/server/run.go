package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/certseal/certseal/internal/payload"
)

// Options adjusts Run. The zero value serves site as its Config says.
type Options struct {
	// HTTPSAddr and HTTPAddr override the site's listen addresses when
	// non-empty; HTTPAddr "-" turns the plain-HTTP listener off.
	HTTPSAddr, HTTPAddr string
	// Listeners, when set, are used instead of listening on the addresses
	// (tests, socket activation). They are plain TCP listeners: Run adds
	// TLS itself. Run closes them.
	Listeners Listeners
	// AccessLog receives one line per request; nil turns it off.
	AccessLog io.Writer
	// Logger receives errors and notices; nil means stderr.
	Logger *log.Logger
	// Certificates supplies the TLS certificate; nil means the site's own
	// CertPEM and KeyPEM.
	Certificates CertSource
	// HTTPHandlerWrap, when set, wraps the plain-HTTP handler (the
	// redirect, or the site with NoTLS), e.g. to answer ACME HTTP-01
	// challenges.
	HTTPHandlerWrap func(http.Handler) http.Handler
	// RedirectPort is the HTTPS port named in plain-HTTP redirects when
	// it differs from the listener's, e.g. behind port mapping; 0 means
	// the HTTPS listener's own port.
	RedirectPort int
	// Ready is called once every listener is bound, before serving.
	Ready func(Addrs)
	// Handler options for the site.
	Handler HandlerOptions

	timeouts *timeouts // tests shorten them
}

// Listeners are pre-opened listeners for Run.
type Listeners struct {
	HTTPS, HTTP net.Listener
}

// Addrs are the addresses Run listens on; a nil field is a listener that is
// off.
type Addrs struct {
	HTTPS, HTTP net.Addr
}

// URL returns the site's base URL, e.g. "https://127.0.0.1:8443/", or the
// plain-HTTP one when there is no HTTPS listener.
func (a Addrs) URL() string {
	switch {
	case a.HTTPS != nil:
		return "https://" + a.HTTPS.String() + "/"
	case a.HTTP != nil:
		return "http://" + a.HTTP.String() + "/"
	}
	return ""
}

// timeouts bound each phase of a connection.
type timeouts struct {
	// readHeader stops slowloris clients; it also bounds the TLS
	// handshake (net/http uses the smallest timeout for it).
	readHeader time.Duration
	// read covers the whole request; a static site reads no bodies.
	read time.Duration
	// write covers writing a response; bodies over largeBodySize extend
	// it per request at minWriteRate, so a 100 MiB file may take about
	// 53 minutes on a 256 kbit/s link while small responses stay bounded.
	write time.Duration
	// idle closes keep-alive connections nobody uses.
	idle time.Duration
	// shutdown bounds the wait for in-flight requests after cancellation.
	shutdown time.Duration
}

var defaultTimeouts = timeouts{
	readHeader: 10 * time.Second,
	read:       30 * time.Second,
	write:      60 * time.Second,
	idle:       120 * time.Second,
	shutdown:   10 * time.Second,
}

// maxHeaderBytes bounds request headers (and the HTTP/2 header list).
const maxHeaderBytes = 16 << 10

// Run serves site until ctx is cancelled, then stops accepting connections,
// lets in-flight requests finish (for at most ten seconds), and returns nil.
// It returns an error, without serving, when the site or its certificate
// is unusable or a listener cannot be opened, and the first serving error
// otherwise.
func Run(ctx context.Context, site *payload.Site, opts Options) error {
	logger := opts.Logger
	if logger == nil {
		logger = log.New(os.Stderr, "", log.LstdFlags)
	}
	to := defaultTimeouts
	if opts.timeouts != nil {
		to = *opts.timeouts
	}
	h, err := newHandler(site, opts.Handler)
	if err != nil {
		return err
	}
	h.writeTimeout = to.write

	cfg := site.Config
	httpsAddr := firstNonEmpty(opts.HTTPSAddr, cfg.HTTPSAddr, ":443")
	httpAddr := firstNonEmpty(opts.HTTPAddr, cfg.HTTPAddr)
	if httpAddr == "-" {
		httpAddr = ""
	}
	useTLS := !cfg.NoTLS

	var certs CertSource
	if useTLS {
		certs = opts.Certificates
		if certs == nil {
			if certs, err = StaticCertificate(site.CertPEM, site.KeyPEM); err != nil {
				return err
			}
		}
	} else if httpAddr == "" && opts.Listeners.HTTP == nil {
		return errors.New("server: the site is served without TLS but has no HTTP address")
	}

	// Open every listener before serving, so a bad address fails fast.
	var lnHTTPS, lnHTTP net.Listener
	closeAll := func() {
		for _, ln := range []net.Listener{lnHTTPS, lnHTTP, opts.Listeners.HTTPS, opts.Listeners.HTTP} {
			if ln != nil {
				ln.Close()
			}
		}
	}
	if useTLS {
		if lnHTTPS, err = listen(opts.Listeners.HTTPS, httpsAddr); err != nil {
			closeAll()
			return err
		}
	} else if opts.Listeners.HTTPS != nil {
		opts.Listeners.HTTPS.Close()
	}
	if httpAddr != "" || opts.Listeners.HTTP != nil {
		if lnHTTP, err = listen(opts.Listeners.HTTP, httpAddr); err != nil {
			closeAll()
			return err
		}
	}

	errLog := newLimitedLogger(logger, 1, 20)
	var access *accessLog
	stopFlush := make(chan struct{})
	var site2 http.Handler = rejectHTTP2ConnectionHeaders(h)
	if opts.AccessLog != nil {
		access = newAccessLog(opts.AccessLog)
		go access.flushEvery(time.Second, stopFlush)
	}
	logged := func(h http.Handler) http.Handler {
		if access == nil {
			return h
		}
		return access.wrap(h)
	}

	var servers []*http.Server
	var serve []func() error
	if lnHTTPS != nil {
		srv := newServer(logged(site2), to, errLog)
		srv.TLSConfig = TLSConfig(certs)
		servers = append(servers, srv)
		serve = append(serve, func() error { return srv.ServeTLS(lnHTTPS, "", "") })
	}
	if lnHTTP != nil {
		var ph http.Handler = site2
		if useTLS {
			port := portOf(lnHTTPS.Addr())
			if opts.RedirectPort != 0 {
				port = strconv.Itoa(opts.RedirectPort)
			}
			ph = &redirectHandler{httpsPort: port, hostnames: cfg.Hostnames}
		}
		if opts.HTTPHandlerWrap != nil {
			ph = opts.HTTPHandlerWrap(ph)
		}
		srv := newServer(logged(ph), to, errLog)
		var p http.Protocols
		p.SetHTTP1(true)
		srv.Protocols = &p
		servers = append(servers, srv)
		serve = append(serve, func() error { return srv.Serve(lnHTTP) })
	}

	if opts.Ready != nil {
		var a Addrs
		if lnHTTPS != nil {
			a.HTTPS = lnHTTPS.Addr()
		}
		if lnHTTP != nil {
			a.HTTP = lnHTTP.Addr()
		}
		opts.Ready(a)
	}

	errc := make(chan error, len(serve))
	for _, s := range serve {
		go func() { errc <- s() }()
	}
	var runErr error
	received := 0
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		// A listener failed: stop the others too.
		received = 1
	}

	shutCtx, cancel := context.WithTimeout(context.Background(), to.shutdown)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range servers {
		wg.Go(func() {
			if err := srv.Shutdown(shutCtx); err != nil {
				logger.Printf("server: shutdown: %v; closing remaining connections", err)
				srv.Close()
			}
		})
	}
	wg.Wait()
	// A server shut down before its Serve began never took its listener.
	closeAll()
	for range len(serve) - received {
		<-errc
	}
	close(stopFlush)
	if access != nil {
		access.flush()
	}
	if runErr != nil && !errors.Is(runErr, http.ErrServerClosed) {
		return fmt.Errorf("server: %v", runErr)
	}
	return nil
}

func newServer(h http.Handler, to timeouts, errLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: to.readHeader,
		ReadTimeout:       to.read,
		WriteTimeout:      to.write,
		IdleTimeout:       to.idle,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          errLog,
		HTTP2: &http.HTTP2Config{
			// Enough for a page's assets in parallel.
			MaxConcurrentStreams: 128,
			// Requests carry no bodies, so small receive windows and
			// frames cost nothing and bound per-connection memory.
			MaxReadFrameSize:              16 << 10,
			MaxReceiveBufferPerConnection: 64 << 10,
			MaxReceiveBufferPerStream:     16 << 10,
			MaxDecoderHeaderTableSize:     4 << 10,
			// A connection whose peer stops reading entirely is dropped.
			WriteByteTimeout: to.write,
			// Probe connections that go silent, then drop dead ones.
			SendPingTimeout: to.idle,
			PingTimeout:     15 * time.Second,
		},
	}
}

func listen(ln net.Listener, addr string) (net.Listener, error) {
	if ln != nil {
		return ln, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("server: %v", err)
	}
	return l, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func portOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return strconv.Itoa(ta.Port)
	}
	_, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "443"
	}
	return port
}

// redirectHandler answers every plain-HTTP request with a 301 to the same
// path and query over HTTPS, on the HTTPS listener's port.
type redirectHandler struct {
	httpsPort string
	hostnames []string
}

func (rh *redirectHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr[hNosniff] = valNosniff
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if host == "" && len(rh.hostnames) > 0 {
		host = rh.hostnames[0]
	}
	if host == "" || strings.ContainsAny(host, "/?#@\\ ") {
		plainError(w, http.StatusBadRequest)
		return
	}
	hostport := host
	if rh.httpsPort != "443" {
		hostport = net.JoinHostPort(host, rh.httpsPort)
	} else if strings.IndexByte(host, ':') >= 0 {
		hostport = "[" + host + "]"
	}
	uri := r.URL.RequestURI()
	if !strings.HasPrefix(uri, "/") {
		uri = "/" // "OPTIONS *"
	}
	hdr[hLocation] = []string{"https://" + hostport + uri}
	hdr[hContentLength] = valZero
	w.WriteHeader(http.StatusMovedPermanently)
}
