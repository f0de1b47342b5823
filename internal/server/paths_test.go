package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	h, err := newHandler(testSite(t), HandlerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   string
		kind resolveKind
		to   string // file path served, or redirect location
	}{
		{"/", serveFile, "/index.html"},
		{"/docs/", serveFile, "/docs/index.html"},
		{"/docs/a.txt", serveFile, "/docs/a.txt"},
		{"/with space.html", serveFile, "/with space.html"},
		{"/docs", redirect, "/docs/"},
		{"/index.html", redirect, "/"},
		{"/docs/index.html", redirect, "/docs/"},
		{"/docs//a.txt", redirect, "/docs/a.txt"},
		{"/docs/../docs/a.txt", redirect, "/docs/a.txt"},
		{"/..", redirect, "/"},
		{"/../..//", redirect, "/"},
		{"//", redirect, "/"},
		{"///evil.example", redirect, "/evil.example"},
		{"/docs/.", redirect, "/docs"},
		{"/docs/./", redirect, "/docs/"},
		{"/a b/../with space.html", redirect, "/with%20space.html"},
		{"/nope", notFound, ""},
		{"/nope/", notFound, ""},
		{"/docs/a.txt/", notFound, ""},
		{"/.", redirect, "/"},
		{"/...", notFound, ""},
		{"", badRequest, ""},
		{"*", badRequest, ""},
		{"docs/a.txt", badRequest, ""},
		{"/docs/a.txt\x00", badRequest, ""},
		{"/docs\\a.txt", badRequest, ""},
		{"/..\\..\\etc\\passwd", badRequest, ""},
		{"/" + strings.Repeat("x", maxPathLen), tooLong, ""},
	} {
		res := h.resolve(tc.in)
		got := res.location
		if res.entry != nil {
			got = res.entry.file.Path
		}
		if res.kind != tc.kind || got != tc.to {
			t.Errorf("resolve(%q) = %d %q, want %d %q", tc.in, res.kind, got, tc.kind, tc.to)
		}
	}
}

// FuzzResolvePath checks that any decoded path maps to a file of the site
// (at its own URL or its directory's), a redirect to a clean local path
// that settles in a few hops, not-found, or a client error; never a panic,
// never anything outside the table.
func FuzzResolvePath(f *testing.F) {
	for _, s := range []string{
		"/", "/docs", "/docs/", "/docs/a.txt", "/../../etc/passwd", "/%2e%2e/x", "//evil.example/",
		"/a/./b/../../docs/index.html", "/docs\\a.txt", "/x\x00y", "/with space.html", "/.", "/..//..",
		"", "*", "/docs/a.txt/", "/\u2215etc", "/%c0%ae%c0%ae/",
	} {
		f.Add(s)
	}
	h, err := newHandler(testSite(f), HandlerOptions{})
	if err != nil {
		f.Fatal(err)
	}
	inTable := map[*entry]bool{}
	for _, e := range h.files {
		inTable[e] = true
	}
	f.Fuzz(func(t *testing.T, p string) {
		check := func(p string) resolution {
			res := h.resolve(p)
			switch res.kind {
			case serveFile:
				if !inTable[res.entry] {
					t.Fatalf("resolve(%q) served an entry outside the table", p)
				}
				if fp := res.entry.file.Path; fp != p && fp != p+"index.html" {
					t.Fatalf("resolve(%q) served %q", p, fp)
				}
			case redirect:
				loc := res.location
				if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") {
					t.Fatalf("resolve(%q) redirects off-site to %q", p, loc)
				}
			case badRequest:
				if strings.HasPrefix(p, "/") && !strings.ContainsAny(p, "\x00\\") {
					t.Fatalf("resolve(%q) = bad request", p)
				}
			case tooLong:
				if len(p) <= maxPathLen {
					t.Fatalf("resolve(%q) = too long", p)
				}
			case notFound:
			default:
				t.Fatalf("resolve(%q): kind %d", p, res.kind)
			}
			return res
		}
		res := check(p)
		for hop := 0; res.kind == redirect; hop++ {
			if hop == 3 {
				t.Fatalf("resolve(%q): redirect loop, last %q", p, res.location)
			}
			next, err := url.PathUnescape(res.location)
			if err != nil {
				t.Fatalf("resolve(%q): location %q does not unescape: %v", p, res.location, err)
			}
			for _, seg := range strings.Split(next, "/") {
				if seg == ".." || seg == "." {
					t.Fatalf("resolve(%q): location %q has dot segments", p, res.location)
				}
			}
			res = check(next)
		}

		// The whole handler, with the path as a client could send it.
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path = p
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 301, 400, 404, 414:
		default:
			t.Fatalf("GET %q: status %d", p, rec.Code)
		}
	})
}

// FuzzServeHeaders feeds arbitrary conditional, range and encoding fields
// to the handler: it must never panic, and a 206 must carry a slice of the
// identity body described by a valid Content-Range.
func FuzzServeHeaders(f *testing.F) {
	f.Add("bytes=0-9", "", "", "gzip, br")
	f.Add("bytes=-5", `"x"`, "", "")
	f.Add("bytes=5-1", "", `W/"a", *`, "br;q=0.5")
	f.Add("bytes=99999999999999999999-", "Wed, 01 May 2024 12:00:00 GMT", "", "*;q=0")
	f.Add("bytes=0-", "", "", ";q=,,gzip;q=1.0000")
	h, err := newHandler(testSite(f), HandlerOptions{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, rng, ifRange, inm, ae string) {
		for _, p := range []string{"/docs/a.txt", "/", "/empty.txt"} {
			req := httptest.NewRequest("GET", "/", nil)
			req.URL.Path = p
			req.Header = http.Header{
				"Range": {rng}, "If-Range": {ifRange}, "If-None-Match": {inm}, "Accept-Encoding": {ae},
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			switch rec.Code {
			case 200, 304:
			case 206:
				cr := rec.Header().Get("Content-Range")
				body := h.dirs["/"].file.Body
				if p != "/" {
					body = h.files[p].file.Body
				}
				if !strings.HasPrefix(cr, "bytes ") || !strings.Contains(string(body), rec.Body.String()) ||
					rec.Body.Len() == 0 || rec.Header().Get("Content-Encoding") != "" {
					t.Fatalf("206 with Content-Range %q, body %q", cr, rec.Body)
				}
			case 416:
				if !strings.HasPrefix(rec.Header().Get("Content-Range"), "bytes */") {
					t.Fatalf("416 without Content-Range")
				}
			default:
				t.Fatalf("status %d", rec.Code)
			}
		}
	})
}
