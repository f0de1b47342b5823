package hardening

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// readHeaderTimeout is the sealed server's ReadHeaderTimeout, which also
// bounds the TLS handshake.
const readHeaderTimeout = 10 * time.Second

// dialTLS completes a TLS handshake with the server offering protos.
func (p *proc) dialTLS(t testing.TB, protos ...string) *tls.Conn {
	t.Helper()
	cfg := p.tlsConfig()
	cfg.NextProtos = protos
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", p.https, cfg)
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	return c
}

// waitClosed reads from c until the server closes it, and reports whether
// that happened within d.
func waitClosed(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// TestSlowloris holds 500 connections that send their request headers a
// byte at a time (HTTP/1.1 over TLS), never finish the TLS handshake, or
// never finish an HTTP/2 HEADERS block, and checks that normal clients are
// served quickly meanwhile, and that the server drops the slow HTTP/1.1
// and handshake clients once ReadHeaderTimeout has passed.
func TestSlowloris(t *testing.T) {
	// Mostly waiting: runs alongside the other scans, after the soak.
	t.Parallel()
	if testing.Short() {
		t.Skip("waits for the server's ReadHeaderTimeout")
	}
	p := start(t)
	const (
		slowHeaders   = 250
		slowHandshake = 200
		slowH2        = 50
	)
	var (
		wg      sync.WaitGroup
		dropped atomic.Int32 // slow clients the server closed
		kept    atomic.Int32 // slow clients still open at the end
		setupMu sync.Mutex
		conns   []net.Conn
	)
	keep := func(c net.Conn) {
		setupMu.Lock()
		conns = append(conns, c)
		setupMu.Unlock()
	}
	defer func() {
		setupMu.Lock()
		for _, c := range conns {
			c.Close()
		}
		setupMu.Unlock()
	}()
	// Connect everyone first (slow under the race detector), then start
	// the clock: the last connected must be dropped by the deadline.
	var slowH1, slowHello []net.Conn
	for range slowHeaders {
		c := p.dialTLS(t, "http/1.1")
		keep(c)
		slowH1 = append(slowH1, c)
	}
	for range slowHandshake {
		c, err := net.Dial("tcp", p.https)
		if err != nil {
			t.Fatal(err)
		}
		keep(c)
		c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}) // a ClientHello record that never completes
		slowHello = append(slowHello, c)
	}
	// HTTP/2: a HEADERS frame without END_HEADERS and no CONTINUATION.
	// These are not counted: an HTTP/2 connection is kept until its idle
	// timeout; they must just not get in the way.
	for range slowH2 {
		c := p.dialTLS(t, "h2")
		keep(c)
		io.WriteString(c, http2.ClientPreface)
		fr := http2.NewFramer(c, c)
		fr.WriteSettings()
		var buf bytes.Buffer
		enc := hpack.NewEncoder(&buf)
		enc.WriteField(hpack.HeaderField{Name: ":method", Value: "GET"})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: buf.Bytes()})
	}
	deadline := time.Now().Add(readHeaderTimeout + 8*time.Second)

	// Headers a byte every 500 ms: far too slow to finish in time.
	for _, c := range slowH1 {
		wg.Go(func() {
			req := "GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: slowloris\r\nX-Padding: " + strings.Repeat("a", 100) + "\r\n\r\n"
			for i := 0; i < len(req); i++ {
				c.SetWriteDeadline(time.Now().Add(2 * time.Second))
				if _, err := c.Write([]byte{req[i]}); err != nil {
					dropped.Add(1)
					return
				}
				if time.Now().After(deadline) {
					kept.Add(1)
					return
				}
				time.Sleep(500 * time.Millisecond)
			}
			kept.Add(1) // finished the request: should not happen
		})
	}
	for _, c := range slowHello {
		wg.Go(func() {
			if waitClosed(c, time.Until(deadline)) {
				dropped.Add(1)
			} else {
				kept.Add(1)
			}
		})
	}
	t.Logf("%d slow clients connected", slowHeaders+slowHandshake+slowH2)

	// Normal clients, each on a new connection, until the slow ones are
	// due to be dropped.
	var served, slowest, over500 int
	for time.Now().Before(deadline.Add(-6 * time.Second)) {
		for _, h2 := range []bool{false, true} {
			c := p.client(h2)
			begin := time.Now()
			resp, err := c.Get(p.url("/style.css"))
			if err != nil {
				t.Fatalf("a normal client failed while slow clients were connected: %v", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			c.CloseIdleConnections()
			if resp.StatusCode != 200 {
				t.Fatalf("normal client: status %d", resp.StatusCode)
			}
			ms := int(time.Since(begin).Milliseconds())
			slowest = max(slowest, ms)
			if ms > 500 {
				over500++
			}
			if ms > 3000 {
				t.Errorf("a normal request took %d ms while slow clients were connected", ms)
			}
			served++
		}
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	t.Logf("normal requests served meanwhile: %d, %d over 500 ms, slowest %d ms; slow clients dropped by the server: %d, still open: %d",
		served, over500, slowest, dropped.Load(), kept.Load())
	if n := kept.Load(); n != 0 {
		t.Errorf("%d slow HTTP/1.1 or handshake clients were still connected %s after connecting", n, readHeaderTimeout+8*time.Second)
	}
	p.alive(t)
}

// TestOversizedHeaders sends request headers over the 16 KiB limit over
// HTTP/1.1 (TLS and plain) and HTTP/2, and expects 431.
func TestOversizedHeaders(t *testing.T) {
	p := start(t)
	big := strings.Repeat("x", 20<<10)
	req := "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + big + "\r\n\r\n"
	status := func(c net.Conn) int {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		go io.WriteString(c, req) // the server may answer before reading it all
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("reading the response: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	t.Run("http1-tls", func(t *testing.T) {
		c := p.dialTLS(t, "http/1.1")
		defer c.Close()
		if s := status(c); s != 431 {
			t.Errorf("status %d, want 431", s)
		}
	})
	t.Run("http1-plain", func(t *testing.T) {
		c, err := net.Dial("tcp", p.http)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if s := status(c); s != 431 {
			t.Errorf("status %d, want 431", s)
		}
	})
	// HTTP/2 header lists over the limit get 431 like HTTP/1.1 when the
	// block fits in one frame (here a field repeated from the HPACK
	// table: 200 x 136 bytes decoded from a few hundred on the wire). Go
	// ends the connection instead (GOAWAY) when decoding would take more
	// than the bound: a single field longer than the whole limit
	// (COMPRESSION_ERROR), or CONTINUATION frames after the limit was
	// passed (PROTOCOL_ERROR, the CONTINUATION-flood defence).
	pseudo := [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "localhost"}, {":path", "/"}}
	var many, spread [][2]string
	for range 200 {
		many = append(many, [2]string{"x-repeated", strings.Repeat("y", 94)})
	}
	for i := range 40 {
		spread = append(spread, [2]string{fmt.Sprintf("x-field-%d", i), strings.Repeat("y", 512)})
	}
	t.Run("http2-continuation-past-limit", func(t *testing.T) {
		f := p.h2Request(t, append(pseudo, spread...))
		ga, ok := f.(*http2.GoAwayFrame)
		if !ok {
			t.Fatalf("got %v, want GOAWAY", f.Header())
		}
		if ga.ErrCode != http2.ErrCodeProtocol {
			t.Errorf("GOAWAY %v, want PROTOCOL_ERROR", ga.ErrCode)
		}
	})
	t.Run("http2-header-list", func(t *testing.T) {
		f := p.h2Request(t, append(pseudo, many...))
		mh, ok := f.(*http2.MetaHeadersFrame)
		if !ok {
			if ga, ok := f.(*http2.GoAwayFrame); ok {
				t.Fatalf("GOAWAY %v %q, want a 431 response", ga.ErrCode, ga.DebugData())
			}
			t.Fatalf("got %v, want a 431 response", f.Header())
		}
		if s := mh.PseudoValue("status"); s != "431" {
			t.Errorf(":status %s, want 431", s)
		}
	})
	t.Run("http2-one-huge-field", func(t *testing.T) {
		f := p.h2Request(t, append(pseudo, [2]string{"x-big", big}))
		ga, ok := f.(*http2.GoAwayFrame)
		if !ok {
			t.Fatalf("got %v, want GOAWAY", f.Header())
		}
		if ga.ErrCode != http2.ErrCodeCompression {
			t.Errorf("GOAWAY %v, want COMPRESSION_ERROR", ga.ErrCode)
		}
	})
	p.alive(t)
}

// h2Request sends one GET on a new HTTP/2 connection, splitting the header
// block into CONTINUATION frames as needed, and returns the first response
// HEADERS (decoded), RST_STREAM or GOAWAY.
func (p *proc) h2Request(t *testing.T, fields [][2]string) http2.Frame {
	t.Helper()
	c := p.dialTLS(t, "h2")
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, http2.ClientPreface)
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.WriteSettings()
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range fields {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	block := buf.Bytes()
	const frag = 16 << 10 // the server's SETTINGS_MAX_FRAME_SIZE
	first := block[:min(frag, len(block))]
	block = block[len(first):]
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: first, EndStream: true, EndHeaders: len(block) == 0})
	for len(block) > 0 {
		next := block[:min(frag, len(block))]
		block = block[len(next):]
		fr.WriteContinuation(1, len(block) == 0, next)
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading frames: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.MetaHeadersFrame, *http2.RSTStreamFrame, *http2.GoAwayFrame:
			return f
		}
	}
}

// TestBadTLSRecords sends malformed TLS to the HTTPS port: each connection
// must be closed promptly and the server must keep serving.
func TestBadTLSRecords(t *testing.T) {
	p := start(t)
	garbage := make([]byte, 4096)
	rand.Read(garbage)
	raw := map[string][]byte{
		"random-bytes":         garbage,
		"plain-http":           []byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
		"oversized-record":     append([]byte{0x16, 0x03, 0x01, 0xff, 0xff}, garbage...),
		"sslv2-hello":          {0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10, 0x07, 0x00, 0xc0, 0x05, 0x00, 0x80, 0x03, 0x00, 0x80, 0x01, 0x00, 0x80, 0x06, 0x00, 0x40, 0x04, 0x00, 0x80, 0x02, 0x00, 0x80, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
		"empty-records":        bytes.Repeat([]byte{0x16, 0x03, 0x01, 0x00, 0x00}, 1000),
		"alert-before-hello":   {0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28},
		"appdata-before-hello": append([]byte{0x17, 0x03, 0x03, 0x01, 0x00}, garbage[:256]...),
	}
	for name, data := range raw {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", p.https)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			c.Write(data) // may fail once the server has closed
			if !waitClosed(c, 5*time.Second) {
				t.Errorf("the server kept the connection open 5s after %s", name)
			}
		})
	}
	// Garbage after a completed handshake: a record that fails to
	// decrypt, and a record header claiming more than 2^14+256 bytes.
	for name, rec := range map[string][]byte{
		"forged-appdata":    append([]byte{0x17, 0x03, 0x03, 0x01, 0x00}, garbage[:256]...),
		"oversized-appdata": append([]byte{0x17, 0x03, 0x03, 0x48, 0x01}, garbage...),
	} {
		for _, proto := range []string{"http/1.1", "h2"} {
			t.Run(name+"-"+proto, func(t *testing.T) {
				tc := p.dialTLS(t, proto)
				defer tc.Close()
				raw := tc.NetConn()
				raw.SetWriteDeadline(time.Now().Add(5 * time.Second))
				raw.Write(rec)
				if !waitClosed(raw, 5*time.Second) {
					t.Errorf("the server kept the connection open 5s after %s", name)
				}
			})
		}
	}
	p.alive(t)
}

// TestHalfOpen leaves connections half-closed or reset at each stage and
// checks that the server still serves, answers a request whose client
// half-closed after sending it, and closes the idle ones.
func TestHalfOpen(t *testing.T) {
	p := start(t)
	const n = 50
	var wg sync.WaitGroup
	var open atomic.Int32
	check := func(c net.Conn, within time.Duration) {
		wg.Go(func() {
			defer c.Close()
			if !waitClosed(c, within) {
				open.Add(1)
			}
		})
	}
	for range n {
		// FIN before anything.
		c, err := net.Dial("tcp", p.https)
		if err != nil {
			t.Fatal(err)
		}
		c.(*net.TCPConn).CloseWrite()
		check(c, 5*time.Second)

		// Half a ClientHello, then FIN.
		c, err = net.Dial("tcp", p.https)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03})
		c.(*net.TCPConn).CloseWrite()
		check(c, 5*time.Second)

		// Reset in the middle of a handshake.
		c, err = net.Dial("tcp", p.https)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00})
		c.(*net.TCPConn).SetLinger(0)
		c.Close()

		// A handshake, then FIN without a request.
		tc := p.dialTLS(t, "http/1.1")
		tc.CloseWrite()
		check(tc.NetConn(), 5*time.Second)
	}
	// A request, then FIN: the answer must still come.
	for range 10 {
		tc := p.dialTLS(t, "http/1.1")
		io.WriteString(tc, "GET /style.css HTTP/1.1\r\nHost: localhost\r\n\r\n")
		tc.CloseWrite()
		tc.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
		if err != nil {
			t.Fatalf("no answer to a request followed by a half-close: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		tc.Close()
		if resp.StatusCode != 200 {
			t.Errorf("status %d after a half-close", resp.StatusCode)
		}
	}
	wg.Wait()
	if k := open.Load(); k != 0 {
		t.Errorf("%d half-closed connections were still open after 5s", k)
	}
	p.alive(t)
}

// TestVanishingClients starts 1 MiB downloads and drops the connection
// after a few KiB, over both HTTP versions, then checks that the server
// still serves the whole file correctly and has not grown.
func TestVanishingClients(t *testing.T) {
	p := start(t)
	before, _ := p.rssKiB()
	const rounds, perRound = 3, 100
	for range rounds {
		var wg sync.WaitGroup
		for i := range perRound {
			wg.Go(func() {
				proto := "http/1.1"
				if i%2 == 1 {
					proto = "h2"
				}
				vanish(t, p, proto)
			})
		}
		wg.Wait()
	}
	for _, h2 := range []bool{false, true} {
		c := p.client(h2)
		resp, err := c.Get(p.url("/big.bin"))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		c.CloseIdleConnections()
		if err != nil || !bytes.Equal(body, fixture.big) {
			t.Fatalf("GET /big.bin (h2=%v) after vanishing clients: %d bytes, %v", h2, len(body), err)
		}
	}
	after, _ := p.rssKiB()
	t.Logf("RSS before %d KiB, after %d vanished downloads %d KiB", before, rounds*perRound, after)
	p.alive(t)
}

// vanish requests /big.bin on a new connection, reads about 4 KiB of the
// body and closes the connection.
func vanish(t *testing.T, p *proc, proto string) {
	cfg := p.tlsConfig()
	cfg.NextProtos = []string{proto}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", p.https, cfg)
	if err != nil {
		t.Errorf("dial: %v", err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if proto == "http/1.1" {
		io.WriteString(c, "GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
		buf := make([]byte, 4096)
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Errorf("reading the start of /big.bin: %v", err)
		}
		return
	}
	io.WriteString(c, http2.ClientPreface)
	fr := http2.NewFramer(c, c)
	fr.WriteSettings()
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "localhost"}, {":path", "/big.bin"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: buf.Bytes(), EndStream: true, EndHeaders: true})
	got := 0
	for got < 4096 {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Errorf("reading the start of /big.bin over h2: %v", err)
			return
		}
		if d, ok := f.(*http2.DataFrame); ok {
			got += len(d.Data())
		}
	}
}

// TestSIGTERMDuringLoad sends SIGTERM while slow downloads are in flight
// and fast requests keep arriving: the downloads must complete intact and
// the process must exit 0.
func TestSIGTERMDuringLoad(t *testing.T) {
	p := start(t)
	const slow = 20
	// A small receive buffer and a slow reader keep each 1 MiB download
	// in flight for a few seconds.
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
		})
	}}
	slowClient := func(h2 bool) *http.Client {
		c := p.client(h2)
		c.Timeout = 30 * time.Second
		c.Transport.(*http.Transport).DialContext = dialer.DialContext
		return c
	}
	var (
		wg       sync.WaitGroup
		started  sync.WaitGroup
		complete atomic.Int32
	)
	for i := range slow {
		started.Add(1)
		wg.Go(func() {
			c := slowClient(i%2 == 1)
			defer c.CloseIdleConnections()
			resp, err := c.Get(p.url("/big.bin"))
			if err != nil {
				started.Done()
				t.Errorf("slow download %d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			var body bytes.Buffer
			chunk := make([]byte, 32<<10)
			once := false
			for {
				n, err := resp.Body.Read(chunk)
				body.Write(chunk[:n])
				if !once && body.Len() >= 64<<10 {
					once = true
					started.Done()
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					if !once {
						started.Done()
					}
					t.Errorf("slow download %d broke after %d bytes: %v", i, body.Len(), err)
					return
				}
				time.Sleep(100 * time.Millisecond) // about 320 KiB/s
			}
			if !bytes.Equal(body.Bytes(), fixture.big) {
				t.Errorf("slow download %d: %d bytes, not /big.bin", i, body.Len())
				return
			}
			complete.Add(1)
		})
	}
	// Fast requests from a few goroutines until the server goes away.
	ctx, cancel := context.WithCancel(context.Background())
	var fastOK, fastErr atomic.Int32
	var fast sync.WaitGroup
	for i := range 4 {
		fast.Go(func() {
			c := p.client(i%2 == 1)
			c.Timeout = 5 * time.Second
			for ctx.Err() == nil {
				resp, err := c.Get(p.url("/"))
				if err != nil {
					fastErr.Add(1)
					time.Sleep(20 * time.Millisecond)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				fastOK.Add(1)
			}
		})
	}
	started.Wait()
	time.Sleep(200 * time.Millisecond)
	if n := fastErr.Load(); n != 0 {
		t.Errorf("%d fast requests failed before SIGTERM", n)
	}
	okBefore := fastOK.Load()
	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("the server did not exit within 20s of SIGTERM\n%s", p.stderr)
	}
	exitAfter := time.Since(sent)
	cancel()
	fast.Wait()
	wg.Wait()
	if p.err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0\n%s", p.err, p.stderr)
	}
	if n := complete.Load(); n != slow {
		t.Errorf("%d of %d in-flight downloads completed", n, slow)
	}
	t.Logf("SIGTERM with %d downloads in flight and %d fast requests served before: exited 0 after %s, %d/%d downloads complete",
		slow, okBefore, exitAfter.Round(10*time.Millisecond), complete.Load(), slow)
	if _, err := net.DialTimeout("tcp", p.https, time.Second); err == nil {
		t.Error("the HTTPS port still accepts connections after exit")
	}
	if strings.Contains(p.stderr.String(), "panic") {
		t.Errorf("the server panicked:\n%s", p.stderr)
	}
}
