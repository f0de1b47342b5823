package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/certseal/certseal/internal/payload"
)

// absent and present are special wanted header values.
const (
	absent  = "<absent>"
	present = "<present>"
)

type httpCase struct {
	name   string
	method string // GET when empty
	path   string // request URI, sent as is
	hdr    map[string]string
	status int
	body   *string           // nil: not checked
	want   map[string]string // header → value, absent or present
}

func str(s string) *string { return &s }

func fileByPath(site *payload.Site, p string) *payload.File {
	for _, f := range site.Files {
		if f.Path == p {
			return f
		}
	}
	panic("no file " + p)
}

func runCases(t *testing.T, base string, cl *http.Client, cases []httpCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequest(method, base+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			resp, err := cl.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("status = %d, want %d (body %.80q)", resp.StatusCode, tc.status, body)
			}
			if tc.body != nil && string(body) != *tc.body {
				t.Errorf("body = %.80q (%d bytes), want %.80q (%d bytes)", body, len(body), *tc.body, len(*tc.body))
			}
			for k, v := range tc.want {
				got, ok := resp.Header[http.CanonicalHeaderKey(k)]
				switch v {
				case absent:
					if ok {
						t.Errorf("%s = %q, want absent", k, got)
					}
				case present:
					if !ok {
						t.Errorf("%s absent", k)
					}
				default:
					if len(got) != 1 || got[0] != v {
						t.Errorf("%s = %q, want %q", k, got, v)
					}
				}
			}
		})
	}
}

// siteCases are the behaviours of the HTTPS site, shared by HTTP/1.1 and
// HTTP/2.
func siteCases(site *payload.Site) []httpCase {
	index := fileByPath(site, "/index.html")
	big := fileByPath(site, "/big.bin")
	etag := index.ETag
	gzTag := strings.TrimSuffix(etag, `"`) + `-gz"`
	brTag := strings.TrimSuffix(etag, `"`) + `-br"`
	lastMod := "Wed, 01 May 2024 12:00:00 GMT"
	bigLen := strconv.Itoa(len(big.Body))
	empty := ""
	return []httpCase{
		{name: "root", path: "/", status: 200, body: str(indexBody), want: map[string]string{
			"Content-Type": htmlType, "Etag": etag, "Last-Modified": lastMod,
			"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
			"Strict-Transport-Security": "max-age=31536000", "Vary": "Accept-Encoding",
			"Accept-Ranges": "bytes", "Date": present, "Content-Encoding": absent,
		}},
		{name: "root query", path: "/?a=b", status: 200, body: str(indexBody)},
		{name: "index redirects", path: "/index.html", status: 301, want: map[string]string{"Location": "/", "X-Content-Type-Options": "nosniff"}},
		{name: "index redirect keeps query", path: "/index.html?x=1&y=2", status: 301, want: map[string]string{"Location": "/?x=1&y=2"}},
		{name: "dir without slash", path: "/docs", status: 301, want: map[string]string{"Location": "/docs/"}},
		{name: "dir without slash keeps query", path: "/docs?q=%20", status: 301, want: map[string]string{"Location": "/docs/?q=%20"}},
		{name: "dir index", path: "/docs/", status: 200, body: str("<h1>docs</h1>\n"), want: map[string]string{"Vary": absent}},
		{name: "dir index redirects", path: "/docs/index.html", status: 301, want: map[string]string{"Location": "/docs/"}},
		{name: "file", path: "/docs/a.txt", status: 200, body: str("hello, docs\n"), want: map[string]string{"Content-Type": textType, "Content-Length": "12"}},
		{name: "escaped space", path: "/with%20space.html", status: 200, body: str("<p>space</p>\n")},
		{name: "empty file", path: "/empty.txt", status: 200, body: &empty, want: map[string]string{"Content-Length": "0"}},
		{name: "404 page", path: "/nope", status: 404, body: str("<h1>not here</h1>\n"), want: map[string]string{
			"Content-Type": htmlType, "X-Content-Type-Options": "nosniff", "Etag": absent,
		}},
		{name: "404 for missing asset", path: "/nope.js", status: 404},
		{name: "file as dir", path: "/docs/a.txt/", status: 404},

		// Traversal and odd paths.
		{name: "dotdot", path: "/../docs/a.txt", status: 301, want: map[string]string{"Location": "/docs/a.txt"}},
		{name: "dotdot deep", path: "/docs/../../../etc/passwd", status: 301, want: map[string]string{"Location": "/etc/passwd"}},
		{name: "encoded dotdot", path: "/%2e%2e/%2E%2E/docs/a.txt", status: 301, want: map[string]string{"Location": "/docs/a.txt"}},
		{name: "encoded slash", path: "/docs%2fa.txt", status: 200, body: str("hello, docs\n")},
		{name: "double slash", path: "//docs/a.txt", status: 301, want: map[string]string{"Location": "/docs/a.txt"}},
		{name: "double slash host-like", path: "//evil.example/", status: 301, want: map[string]string{"Location": "/evil.example/"}},
		{name: "dot segment", path: "/docs/./a.txt?k", status: 301, want: map[string]string{"Location": "/docs/a.txt?k"}},
		{name: "NUL", path: "/docs/a.txt%00", status: 400},
		{name: "encoded backslash", path: "/docs%5ca.txt", status: 400},
		{name: "backslash dotdot", path: "/..%5c..%5cetc/passwd", status: 400},
		{name: "overlong", path: "/" + strings.Repeat("a", 5000), status: 414},

		// Conditional requests.
		{name: "INM match", path: "/", hdr: map[string]string{"If-None-Match": etag}, status: 304, body: &empty, want: map[string]string{
			"Etag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding", "Content-Type": absent,
		}},
		{name: "INM list", path: "/", hdr: map[string]string{"If-None-Match": `"x", ` + etag + `, "y"`}, status: 304},
		{name: "INM weak", path: "/", hdr: map[string]string{"If-None-Match": "W/" + etag}, status: 304},
		{name: "INM star", path: "/", hdr: map[string]string{"If-None-Match": "*"}, status: 304},
		{name: "INM other", path: "/", hdr: map[string]string{"If-None-Match": `"other"`}, status: 200, body: str(indexBody)},
		{name: "INM identity tag on gzip", path: "/", hdr: map[string]string{"If-None-Match": etag, "Accept-Encoding": "gzip"}, status: 200},
		{name: "INM gzip tag", path: "/", hdr: map[string]string{"If-None-Match": gzTag, "Accept-Encoding": "gzip"}, status: 304, want: map[string]string{"Etag": gzTag}},
		{name: "IMS equal", path: "/", hdr: map[string]string{"If-Modified-Since": lastMod}, status: 304},
		{name: "IMS later", path: "/", hdr: map[string]string{"If-Modified-Since": "Thu, 02 May 2024 12:00:00 GMT"}, status: 304},
		{name: "IMS earlier", path: "/", hdr: map[string]string{"If-Modified-Since": "Tue, 30 Apr 2024 12:00:00 GMT"}, status: 200},
		{name: "IMS bad date", path: "/", hdr: map[string]string{"If-Modified-Since": "yesterday"}, status: 200},
		{name: "INM wins over IMS", path: "/", hdr: map[string]string{"If-None-Match": `"other"`, "If-Modified-Since": lastMod}, status: 200},
		{name: "IM mismatch", path: "/", hdr: map[string]string{"If-Match": `"other"`}, status: 412},
		{name: "IM weak never matches", path: "/", hdr: map[string]string{"If-Match": "W/" + etag}, status: 412},
		{name: "IM match", path: "/", hdr: map[string]string{"If-Match": etag}, status: 200},
		{name: "IUS earlier", path: "/", hdr: map[string]string{"If-Unmodified-Since": "Tue, 30 Apr 2024 12:00:00 GMT"}, status: 412},
		{name: "IUS equal", path: "/", hdr: map[string]string{"If-Unmodified-Since": lastMod}, status: 200},

		// Ranges.
		{name: "range", path: "/big.bin", hdr: map[string]string{"Range": "bytes=0-9"}, status: 206, body: str("0123456789"), want: map[string]string{
			"Content-Range": "bytes 0-9/" + bigLen, "Content-Length": "10", "Etag": big.ETag,
		}},
		{name: "range suffix", path: "/big.bin", hdr: map[string]string{"Range": "bytes=-4"}, status: 206, body: str("cdef"), want: map[string]string{"Content-Range": "bytes 3145724-3145727/" + bigLen}},
		{name: "range open", path: "/big.bin", hdr: map[string]string{"Range": "bytes=3145720-"}, status: 206, body: str("89abcdef")},
		{name: "range past end clipped", path: "/docs/a.txt", hdr: map[string]string{"Range": "bytes=7-100"}, status: 206, body: str("docs\n"), want: map[string]string{"Content-Range": "bytes 7-11/12"}},
		{name: "range unsatisfiable", path: "/big.bin", hdr: map[string]string{"Range": "bytes=5000000-"}, status: 416, body: &empty, want: map[string]string{"Content-Range": "bytes */" + bigLen}},
		{name: "range zero suffix", path: "/docs/a.txt", hdr: map[string]string{"Range": "bytes=-0"}, status: 416, want: map[string]string{"Content-Range": "bytes */12"}},
		{name: "range on empty", path: "/empty.txt", hdr: map[string]string{"Range": "bytes=0-"}, status: 416, want: map[string]string{"Content-Range": "bytes */0"}},
		{name: "multiple ranges served whole", path: "/docs/a.txt", hdr: map[string]string{"Range": "bytes=0-1,5-6"}, status: 200, body: str("hello, docs\n")},
		{name: "bad range ignored", path: "/docs/a.txt", hdr: map[string]string{"Range": "bytes=x-y"}, status: 200, body: str("hello, docs\n")},
		{name: "other unit ignored", path: "/docs/a.txt", hdr: map[string]string{"Range": "items=0-1"}, status: 200},
		{name: "if-range etag match", path: "/docs/a.txt", hdr: map[string]string{"Range": "bytes=0-4", "If-Range": fileByPath(site, "/docs/a.txt").ETag}, status: 206, body: str("hello")},
		{name: "if-range etag mismatch", path: "/docs/a.txt", hdr: map[string]string{"Range": "bytes=0-4", "If-Range": `"old"`}, status: 200, body: str("hello, docs\n")},
		{name: "if-range date match", path: "/docs/a.txt", hdr: map[string]string{"Range": "bytes=0-4", "If-Range": lastMod}, status: 206},
		{name: "if-range date mismatch", path: "/docs/a.txt", hdr: map[string]string{"Range": "bytes=0-4", "If-Range": "Tue, 30 Apr 2024 12:00:00 GMT"}, status: 200},
		{name: "range ignores encodings", path: "/", hdr: map[string]string{"Range": "bytes=0-4", "Accept-Encoding": "br, gzip"}, status: 206, body: str(indexBody[:5]), want: map[string]string{
			"Content-Encoding": absent, "Vary": "Accept-Encoding", "Etag": etag,
		}},
		{name: "range with HEAD ignored", method: "HEAD", path: "/docs/a.txt", hdr: map[string]string{"Range": "bytes=0-4"}, status: 200, body: &empty, want: map[string]string{"Content-Length": "12"}},

		// Content codings.
		{name: "gzip", path: "/", hdr: map[string]string{"Accept-Encoding": "gzip"}, status: 200, body: str(string(index.Gzip)), want: map[string]string{
			"Content-Encoding": "gzip", "Vary": "Accept-Encoding", "Etag": gzTag, "Content-Length": strconv.Itoa(len(index.Gzip)), "Content-Type": htmlType,
		}},
		{name: "br preferred", path: "/", hdr: map[string]string{"Accept-Encoding": "gzip, deflate, br"}, status: 200, body: str(string(index.Brotli)), want: map[string]string{"Content-Encoding": "br", "Etag": brTag}},
		{name: "br refused", path: "/", hdr: map[string]string{"Accept-Encoding": "br;q=0, gzip"}, status: 200, want: map[string]string{"Content-Encoding": "gzip"}},
		{name: "q-values", path: "/", hdr: map[string]string{"Accept-Encoding": "br;q=0.5, gzip;q=0.8"}, status: 200, want: map[string]string{"Content-Encoding": "gzip"}},
		{name: "star", path: "/", hdr: map[string]string{"Accept-Encoding": "*"}, status: 200, want: map[string]string{"Content-Encoding": "br"}},
		{name: "gzip refused", path: "/", hdr: map[string]string{"Accept-Encoding": "gzip;q=0"}, status: 200, body: str(indexBody), want: map[string]string{"Content-Encoding": absent, "Vary": "Accept-Encoding"}},
		{name: "identity only", path: "/", hdr: map[string]string{"Accept-Encoding": "identity"}, status: 200, body: str(indexBody)},
		{name: "identity preferred", path: "/", hdr: map[string]string{"Accept-Encoding": "gzip;q=0.5, identity"}, status: 200, body: str(indexBody)},
		{name: "no variants", path: "/docs/a.txt", hdr: map[string]string{"Accept-Encoding": "gzip, br"}, status: 200, body: str("hello, docs\n"), want: map[string]string{"Content-Encoding": absent, "Vary": absent}},

		// Methods.
		{name: "HEAD", method: "HEAD", path: "/", status: 200, body: &empty, want: map[string]string{
			"Content-Length": strconv.Itoa(len(indexBody)), "Etag": etag, "Content-Type": htmlType, "Last-Modified": lastMod,
		}},
		{name: "HEAD gzip", method: "HEAD", path: "/", hdr: map[string]string{"Accept-Encoding": "gzip"}, status: 200, body: &empty, want: map[string]string{
			"Content-Length": strconv.Itoa(len(index.Gzip)), "Content-Encoding": "gzip",
		}},
		{name: "HEAD 404", method: "HEAD", path: "/nope", status: 404, body: &empty},
		{name: "POST", method: "POST", path: "/", status: 405, want: map[string]string{"Allow": "GET, HEAD, OPTIONS", "X-Content-Type-Options": "nosniff"}},
		{name: "DELETE", method: "DELETE", path: "/docs/a.txt", status: 405, want: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{name: "OPTIONS", method: "OPTIONS", path: "/", status: 204, want: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
	}
}

func TestServeHTTPS(t *testing.T) {
	site := testSite(t)
	r := start(t, site, Options{HTTPAddr: "-"})
	base := strings.TrimSuffix(r.addrs.URL(), "/")
	for name, cl := range clients(t) {
		t.Run(name, func(t *testing.T) {
			resp, err := cl.Get(base + "/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if want := map[string]int{"h1": 1, "h2": 2}[name]; resp.ProtoMajor != want {
				t.Fatalf("protocol %s, want HTTP/%d", resp.Proto, want)
			}
			runCases(t, base, cl, siteCases(site))
		})
	}
}

func TestSPAAndPlain404(t *testing.T) {
	site := testSite(t)
	site.Config.SPA = true
	var files []*payload.File
	for _, f := range site.Files {
		if f.Path != "/404.html" {
			files = append(files, f)
		}
	}
	site.Files = files
	r := start(t, site, Options{HTTPAddr: "-"})
	base := strings.TrimSuffix(r.addrs.URL(), "/")
	runCases(t, base, clients(t)["h2"], []httpCase{
		{name: "route", path: "/app/settings", status: 200, body: str(indexBody), want: map[string]string{"Content-Type": htmlType}},
		{name: "route with query", path: "/app?tab=2", status: 200, body: str(indexBody)},
		{name: "dir still redirects", path: "/docs", status: 301},
		{name: "asset is 404", path: "/missing.js", status: 404, body: str("404 page not found\n"), want: map[string]string{
			"Content-Type": textType, "X-Content-Type-Options": "nosniff",
		}},
		{name: "dotted dir route is 404", path: "/v1.2/x.png", status: 404},
		{name: "route conditional", path: "/deep/route", hdr: map[string]string{"If-None-Match": fileByPath(site, "/index.html").ETag}, status: 304},
	})
}

func TestNewHandlerErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		site  *payload.Site
		wants string
	}{
		{"nil site", nil, "no site"},
		{"relative", &payload.Site{Files: []*payload.File{{Path: "a.html"}}}, "not a clean"},
		{"unclean", &payload.Site{Files: []*payload.File{{Path: "/a/../b"}}}, "not a clean"},
		{"trailing slash", &payload.Site{Files: []*payload.File{{Path: "/a/"}}}, "not a clean"},
		{"root", &payload.Site{Files: []*payload.File{{Path: "/"}}}, "not a clean"},
		{"backslash", &payload.Site{Files: []*payload.File{{Path: `/a\b`}}}, "not a clean"},
		{"duplicate", &payload.Site{Files: []*payload.File{{Path: "/a"}, {Path: "/a"}}}, "twice"},
		{"nil file", &payload.Site{Files: []*payload.File{nil}}, "nil file"},
		{"negative HSTS", &payload.Site{Config: payload.Config{HSTSMaxAge: -1}}, "HSTS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewHandler(tc.site, HandlerOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.wants) || !strings.HasPrefix(err.Error(), "server: ") {
				t.Fatalf("err = %v, want one containing %q", err, tc.wants)
			}
		})
	}
}

// TestHandlerDefaults checks what only a handler test can see: no HSTS
// without TLS, a computed ETag and type for files lacking them, and the
// options.
func TestHandlerDefaults(t *testing.T) {
	site := &payload.Site{
		Config: payload.Config{HSTSMaxAge: 60},
		Files:  []*payload.File{{Path: "/x", Body: []byte("abc")}},
	}
	h, err := NewHandler(site, HandlerOptions{CacheControl: "public, max-age=60"})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	res := rec.Result()
	if res.StatusCode != 200 || rec.Body.String() != "abc" {
		t.Fatalf("got %d %q", res.StatusCode, rec.Body)
	}
	for k, want := range map[string]string{
		"Content-Type":              "application/octet-stream",
		"Cache-Control":             "public, max-age=60",
		"Strict-Transport-Security": "", // plain request: no HSTS
		"Last-Modified":             "",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if tag := res.Header.Get("Etag"); len(tag) < 10 || tag[0] != '"' {
		t.Errorf("computed ETag %q", tag)
	}

	// HSTS on TLS requests, unless NoHSTS.
	req := httptest.NewRequest("GET", "https://example.com/x", nil)
	for _, noHSTS := range []bool{false, true} {
		h, _ := NewHandler(site, HandlerOptions{NoHSTS: noHSTS})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got := rec.Result().Header.Get("Strict-Transport-Security")
		if want := map[bool]string{false: "max-age=60", true: ""}[noHSTS]; got != want {
			t.Errorf("NoHSTS=%v: HSTS %q, want %q", noHSTS, got, want)
		}
	}
}

// TestHeaderKeysCanonical guards the header map writes done without
// canonicalisation.
func TestHeaderKeysCanonical(t *testing.T) {
	for _, k := range []string{hAcceptRanges, hAllow, hCacheControl, hContentEncoding, hContentLength,
		hContentRange, hContentType, hETag, hLastModified, hLocation, hNosniff, hSTS, hVary} {
		if c := http.CanonicalHeaderKey(k); c != k {
			t.Errorf("%q is not canonical (%q)", k, c)
		}
	}
}

func TestRejectHTTP2ConnectionHeaders(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	h := rejectHTTP2ConnectionHeaders(ok)
	for _, tc := range []struct {
		proto  int
		key    string
		value  string
		status int
	}{
		{2, "", "", 200},
		{2, "Connection", "close", 400},
		{2, "Keep-Alive", "1", 400},
		{2, "Proxy-Connection", "x", 400},
		{2, "Transfer-Encoding", "chunked", 400},
		{2, "Upgrade", "websocket", 400},
		{2, "Te", "trailers", 200},
		{2, "Te", "gzip", 400},
		{1, "Connection", "close", 200},
		{1, "Te", "gzip", 200},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.ProtoMajor = tc.proto
		if tc.key != "" {
			req.Header.Set(tc.key, tc.value)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("HTTP/%d %s: %s → %d, want %d", tc.proto, tc.key, tc.value, rec.Code, tc.status)
		}
	}
}

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		in         string
		size       int64
		start, end int64
		ok         bool
	}{
		{"bytes=0-0", 10, 0, 1, true},
		{"bytes=0-9", 10, 0, 10, true},
		{"bytes=0-99", 10, 0, 10, true},
		{"bytes=9-", 10, 9, 10, true},
		{"bytes=10-", 10, -1, 0, true},
		{"bytes=-3", 10, 7, 10, true},
		{"bytes=-30", 10, 0, 10, true},
		{"bytes=-0", 10, -1, 0, true},
		{"bytes= 2 - 3 ", 10, 2, 4, true},
		{"bytes=3-2", 10, 0, 0, false},
		{"bytes=-", 10, 0, 0, false},
		{"bytes=+1-2", 10, 0, 0, false},
		{"bytes=1-+2", 10, 0, 0, false},
		{"bytes=-+2", 10, 0, 0, false},
		{"bytes=1", 10, 0, 0, false},
		{"bytes=0-1,3-4", 10, 0, 0, false},
		{"bytes=99999999999999999999-", 10, 0, 0, false},
		{"bits=0-1", 10, 0, 0, false},
		{"", 10, 0, 0, false},
	} {
		s, e, ok := parseRange(tc.in, tc.size)
		if ok != tc.ok || (ok && (s != tc.start || (s >= 0 && e != tc.end))) {
			t.Errorf("parseRange(%q, %d) = %d, %d, %v; want %d, %d, %v", tc.in, tc.size, s, e, ok, tc.start, tc.end, tc.ok)
		}
	}
}

func TestChooseEncoding(t *testing.T) {
	both := newEntry(file("/a", textType, "aaaa", true))
	gzOnly := newEntry(file("/b", textType, "bbbb", true))
	gzOnly.variants[encBrotli] = nil
	for _, tc := range []struct {
		ae   []string
		e    *entry
		want int
	}{
		{nil, both, encIdentity},
		{[]string{""}, both, encIdentity},
		{[]string{"gzip"}, both, encGzip},
		{[]string{"x-gzip"}, both, encGzip},
		{[]string{"GZIP"}, both, encGzip},
		{[]string{"br"}, both, encBrotli},
		{[]string{"gzip", "br"}, both, encBrotli},
		{[]string{"gzip;q=1.0, br;q=0.999"}, both, encGzip},
		{[]string{"br;q=0"}, both, encIdentity},
		{[]string{"br;q=0.000, gzip; q=0.001"}, both, encGzip},
		{[]string{"br;q=2"}, both, encIdentity},
		{[]string{"br;q=abc"}, both, encIdentity},
		{[]string{"*;q=0.5"}, both, encBrotli},
		{[]string{"*;q=0.5, identity"}, both, encIdentity},
		{[]string{"*, br;q=0"}, both, encGzip},
		{[]string{"identity;q=0"}, both, encIdentity},
		{[]string{"gzip;q=0.1"}, both, encGzip},
		{[]string{"gzip;q=0.1, identity;q=0.2"}, both, encIdentity},
		{[]string{"br, gzip"}, gzOnly, encGzip},
		{[]string{"br"}, gzOnly, encIdentity},
		{[]string{"deflate, compress"}, both, encIdentity},
		{[]string{",,, ;;,"}, both, encIdentity},
	} {
		if got := chooseEncoding(tc.ae, tc.e); got != tc.want {
			t.Errorf("chooseEncoding(%q) = %d, want %d", tc.ae, got, tc.want)
		}
	}
}

func TestETagListMatches(t *testing.T) {
	const tag = `"abc"`
	for _, tc := range []struct {
		lines       []string
		weak, match bool
	}{
		{[]string{`"abc"`}, false, true},
		{[]string{`"abc"`}, true, true},
		{[]string{`W/"abc"`}, true, true},
		{[]string{`W/"abc"`}, false, false},
		{[]string{`"x", "abc"`}, false, true},
		{[]string{`"x"`, `"abc"`}, true, true},
		{[]string{`"x",,"y"`}, true, false},
		{[]string{`*`}, false, true},
		{[]string{`abc`}, true, false},
		{[]string{``}, true, false},
	} {
		if got := etagListMatches(tc.lines, tag, tc.weak); got != tc.match {
			t.Errorf("etagListMatches(%q, weak=%v) = %v", tc.lines, tc.weak, got)
		}
	}
}
