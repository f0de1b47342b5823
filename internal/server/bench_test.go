package server

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certseal/certseal/internal/payload"
)

// discardWriter is a ResponseWriter that keeps headers (cleared per
// request, as net/http makes a fresh map) and drops the body.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(code int)        { d.status = code }
func (d *discardWriter) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }

// BenchmarkServe1KiB serves one 1 KiB file with the precomputed handler and
// with http.FileServer over an os.DirFS copy of the same file, so the two
// ns/op figures compare directly:
//
//	go test -run XXX -bench Serve1KiB -benchmem ./internal/server/
func BenchmarkServe1KiB(b *testing.B) {
	body := strings.Repeat("x", 1023) + "\n"
	site := &payload.Site{Files: []*payload.File{{
		Path: "/a.html", ContentType: "text/html; charset=utf-8", ETag: etagOf([]byte(body)),
		ModTime: testModTime, Body: []byte(body),
	}}}
	h, err := NewHandler(site, HandlerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.html"), []byte(body), 0o644); err != nil {
		b.Fatal(err)
	}
	os.Chtimes(filepath.Join(dir, "a.html"), testModTime, testModTime)
	fs := http.FileServerFS(os.DirFS(dir))

	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"certseal", h}, {"FileServer", fs}} {
		b.Run(tc.name, func(b *testing.B) {
			req, _ := http.NewRequest("GET", "http://example.com/a.html", nil)
			w := &discardWriter{h: make(http.Header, 8)}
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				clear(w.h)
				w.status, w.n = 0, 0
				tc.h.ServeHTTP(w, req)
			}
			if w.n != len(body) || (w.status != 200 && w.status != 0) {
				b.Fatalf("served %d bytes, status %d", w.n, w.status)
			}
		})
	}
}

// BenchmarkServeConditional measures the 304 path, the commonest response
// under the no-cache policy.
func BenchmarkServeConditional(b *testing.B) {
	site := testSite(b)
	h, err := NewHandler(site, HandlerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://example.com/", nil)
	req.Header.Set("If-None-Match", strings.TrimSuffix(fileByPath(site, "/index.html").ETag, `"`)+`-br"`)
	req.Header.Set("Accept-Encoding", "gzip, deflate, br, zstd")
	w := &discardWriter{h: make(http.Header, 8)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
	if w.status != 304 {
		b.Fatalf("status %d", w.status)
	}
}
