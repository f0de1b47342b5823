package server

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2conn is a raw HTTP/2 client connection, for requests no well-behaved
// client library sends.
type h2conn struct {
	t  *testing.T
	c  net.Conn
	fr *http2.Framer
}

func dialH2(t *testing.T, addr string) *h2conn {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: testCert(t).roots, ServerName: "localhost", NextProtos: []string{"h2"}, Time: func() time.Time { return testNow.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		c.Close()
		t.Fatalf("ALPN = %q, want h2", p)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	h := &h2conn{t: t, c: c, fr: http2.NewFramer(c, c)}
	if err := h.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return h
}

func (h *h2conn) headers(streamID uint32, endStream bool, fields ...string) {
	h.t.Helper()
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: streamID, BlockFragment: buf.Bytes(), EndStream: endStream, EndHeaders: true})
	if err != nil {
		h.t.Fatal(err)
	}
}

// firstOnStream returns the first HEADERS or RST_STREAM frame the server
// sends on stream id (settings, pings and window updates are skipped), or
// the GOAWAY that ends the connection.
func (h *h2conn) firstOnStream(id uint32) http2.Frame {
	h.t.Helper()
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			h.t.Fatalf("reading frames: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				h.fr.WriteSettingsAck()
			}
		case *http2.GoAwayFrame:
			return f
		case *http2.HeadersFrame, *http2.RSTStreamFrame, *http2.DataFrame:
			if f.Header().StreamID == id {
				return f
			}
		}
	}
}

func wantReset(t *testing.T, f http2.Frame, code http2.ErrCode) {
	t.Helper()
	rst, ok := f.(*http2.RSTStreamFrame)
	if !ok {
		t.Fatalf("got %v, want RST_STREAM %v before any response", f.Header(), code)
	}
	if rst.ErrCode != code {
		t.Fatalf("RST_STREAM %v, want %v", rst.ErrCode, code)
	}
}

// TestHTTP2MalformedBodies checks that the server answers a request whose
// stream is still open only after its body, so stream errors in the body
// are reported as RFC 9113 asks (h2spec 8.1.2.6/1 and 6.9.1/3) instead of
// racing the response. Each case is repeated: without waiting, the
// response usually but not always wins.
func TestHTTP2MalformedBodies(t *testing.T) {
	r := start(t, testSite(t), Options{HTTPSAddr: "127.0.0.1:0", HTTPAddr: "-"})
	addr := r.addrs.HTTPS.String()
	base := []string{":method", "POST", ":scheme", "https", ":authority", "localhost", ":path", "/"}
	for i := range 10 {
		t.Run("content-length-mismatch-"+strconv.Itoa(i), func(t *testing.T) {
			h := dialH2(t, addr)
			h.headers(1, false, append(base, "content-length", "1")...)
			if err := h.fr.WriteData(1, true, []byte("test")); err != nil {
				t.Fatal(err)
			}
			wantReset(t, h.firstOnStream(1), http2.ErrCodeProtocol)
		})
		t.Run("window-overflow-"+strconv.Itoa(i), func(t *testing.T) {
			h := dialH2(t, addr)
			h.headers(1, false, ":method", "GET", ":scheme", "https", ":authority", "localhost", ":path", "/")
			h.fr.WriteWindowUpdate(1, 1<<31-1)
			h.fr.WriteWindowUpdate(1, 1<<31-1)
			wantReset(t, h.firstOnStream(1), http2.ErrCodeFlowControl)
		})
	}
	t.Run("well-formed-body-is-answered", func(t *testing.T) {
		h := dialH2(t, addr)
		h.headers(1, false, append(base, "content-length", "4")...)
		if err := h.fr.WriteData(1, true, []byte("test")); err != nil {
			t.Fatal(err)
		}
		f := h.firstOnStream(1)
		hf, ok := f.(*http2.HeadersFrame)
		if !ok {
			t.Fatalf("got %v, want a response", f.Header())
		}
		fields, err := hpack.NewDecoder(4096, nil).DecodeFull(hf.HeaderBlockFragment())
		if err != nil {
			t.Fatal(err)
		}
		if len(fields) == 0 || fields[0].Name != ":status" || fields[0].Value != "405" {
			t.Fatalf("response fields %v, want :status 405", fields)
		}
	})
}
