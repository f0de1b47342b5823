// Package server serves a sealed site (a payload.Site) over HTTPS, with a
// plain-HTTP listener that redirects to it, or over plain HTTP only.
//
// Everything a response needs (paths, header values, lengths, compressed
// bodies) is computed once by NewHandler; a request is a map lookup, a few
// header comparisons and one Write of a slice held in memory.
//
// Choices worth knowing:
//   - Cache-Control is "no-cache" on every file: sealed sites carry no
//     knowledge of which assets are fingerprinted, so caches must revalidate
//     each use. Revalidation is a cheap 304 thanks to the strong ETags, and a
//     re-sealed site is visible at once.
//   - Range requests apply to the identity body only: when a GET carries
//     Range, the identity encoding is served (still with Vary), so byte
//     offsets mean the same thing to every client and cache.
//   - Multiple ranges are not combined into multipart/byteranges: the full
//     body is served with 200, which RFC 9110 permits.
//   - Each content coding has its own strong ETag (the payload's ETag with
//     "-gz" or "-br" added), since a strong validator must differ between
//     representations.
//   - "/dir" redirects to "/dir/", "/dir/index.html" redirects to "/dir/",
//     and unclean paths ("/a/../b", "//b") redirect to their clean form.
package server

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/certseal/certseal/internal/payload"
)

// Canonical header keys, so precomputed values can be stored into the
// header map directly.
const (
	hAcceptRanges    = "Accept-Ranges"
	hAllow           = "Allow"
	hCacheControl    = "Cache-Control"
	hContentEncoding = "Content-Encoding"
	hContentLength   = "Content-Length"
	hContentRange    = "Content-Range"
	hContentType     = "Content-Type"
	hETag            = "Etag"
	hLastModified    = "Last-Modified"
	hLocation        = "Location"
	hNosniff         = "X-Content-Type-Options"
	hSTS             = "Strict-Transport-Security"
	hVary            = "Vary"
)

// DefaultCacheControl is sent with every file unless
// HandlerOptions.CacheControl says otherwise.
const DefaultCacheControl = "no-cache"

// Header values shared by all responses. They are never modified: net/http
// only reads header slices, and each has cap == len so an Add by a wrapping
// handler copies instead of writing into them.
var (
	valBytes     = []string{"bytes"}
	valNosniff   = []string{"nosniff"}
	valVary      = []string{"Accept-Encoding"}
	valGzip      = []string{"gzip"}
	valBrotli    = []string{"br"}
	valTextPlain = []string{"text/plain; charset=utf-8"}
	valZero      = []string{"0"}
	valAllow     = []string{"GET, HEAD, OPTIONS"}
	plain404Body = []byte("404 page not found\n")
	plain404Len  = []string{strconv.Itoa(len(plain404Body))}
)

// Encodings, in order of preference when the client accepts several equally.
const (
	encBrotli = iota
	encGzip
	encIdentity
	numEncodings
)

// variant is one content coding of a file.
type variant struct {
	body     []byte
	length   []string // Content-Length
	encoding []string // Content-Encoding; nil for identity
	etag     []string
}

// entry is a file with its precomputed response headers.
type entry struct {
	file         *payload.File
	contentType  []string
	lastModified []string // nil when the payload has no ModTime
	modTime      time.Time
	etag         string // identity ETag, for If-Range
	vary         bool   // has compressed variants
	variants     [numEncodings]*variant
	// isIndex marks ".../index.html", which is served at its directory's
	// URL; dirLocation is that URL, escaped.
	isIndex     bool
	dirLocation string
}

// HandlerOptions adjusts NewHandler. The zero value takes everything from
// the site's Config.
type HandlerOptions struct {
	// CacheControl replaces DefaultCacheControl when non-empty.
	CacheControl string
	// NoHSTS suppresses Strict-Transport-Security even on HTTPS
	// responses, e.g. behind a TLS-terminating proxy that sets its own.
	NoHSTS bool
}

type handler struct {
	files    map[string]*entry // exact file paths
	dirs     map[string]*entry // "/dir/" → its index.html
	index    *entry            // "/index.html", for SPA fallback
	notFound *entry            // "/404.html"
	spa      bool
	hsts     []string // nil: no header
	cache    []string
	// writeTimeout is the server's WriteTimeout, which large bodies
	// extend (see extendWriteDeadline).
	writeTimeout time.Duration
}

// NewHandler builds an http.Handler serving site's files. It returns an
// error when site is nil or a file's path is not a clean absolute path or
// appears twice; it never reads the clock or the file system.
func NewHandler(site *payload.Site, opts HandlerOptions) (http.Handler, error) {
	return newHandler(site, opts)
}

func newHandler(site *payload.Site, opts HandlerOptions) (*handler, error) {
	if site == nil {
		return nil, errors.New("server: no site to serve")
	}
	h := &handler{
		files: make(map[string]*entry, len(site.Files)),
		dirs:  make(map[string]*entry),
		spa:   site.Config.SPA,
		cache: []string{DefaultCacheControl},

		writeTimeout: defaultTimeouts.write,
	}
	if opts.CacheControl != "" {
		h.cache = []string{opts.CacheControl}
	}
	if site.Config.HSTSMaxAge < 0 {
		return nil, fmt.Errorf("server: negative HSTS max-age %d", site.Config.HSTSMaxAge)
	}
	if site.Config.HSTSMaxAge > 0 && !opts.NoHSTS {
		h.hsts = []string{"max-age=" + strconv.Itoa(site.Config.HSTSMaxAge)}
	}
	for _, f := range site.Files {
		if f == nil {
			return nil, errors.New("server: the site has a nil file")
		}
		p := f.Path
		if p == "" || p[0] != '/' || path.Clean(p) != p || p == "/" ||
			strings.ContainsAny(p, "\x00\\") {
			return nil, fmt.Errorf("server: file path %q is not a clean absolute path", p)
		}
		if _, dup := h.files[p]; dup {
			return nil, fmt.Errorf("server: file path %q appears twice", p)
		}
		e := newEntry(f)
		h.files[p] = e
		if path.Base(p) == "index.html" {
			dir := strings.TrimSuffix(p, "index.html")
			e.isIndex = true
			e.dirLocation = escapePath(dir)
			h.dirs[dir] = e
		}
	}
	h.index = h.files["/index.html"]
	h.notFound = h.files["/404.html"]
	return h, nil
}

func newEntry(f *payload.File) *entry {
	ct := f.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	etag := f.ETag
	if etag == "" || !strings.HasSuffix(etag, `"`) {
		sum := sha256.Sum256(f.Body)
		etag = `"` + hex.EncodeToString(sum[:16]) + `"`
	}
	e := &entry{
		file:        f,
		contentType: []string{ct},
		etag:        etag,
	}
	if !f.ModTime.IsZero() {
		e.modTime = f.ModTime.UTC().Truncate(time.Second)
		e.lastModified = []string{e.modTime.Format(http.TimeFormat)}
	}
	mk := func(body []byte, enc []string, suffix string) *variant {
		tag := etag
		if suffix != "" {
			tag = etag[:len(etag)-1] + suffix + `"`
		}
		return &variant{
			body:     body,
			length:   []string{strconv.Itoa(len(body))},
			encoding: enc,
			etag:     []string{tag},
		}
	}
	e.variants[encIdentity] = mk(f.Body, nil, "")
	if f.Gzip != nil {
		e.variants[encGzip] = mk(f.Gzip, valGzip, "-gz")
		e.vary = true
	}
	if f.Brotli != nil {
		e.variants[encBrotli] = mk(f.Brotli, valBrotli, "-br")
		e.vary = true
	}
	return e
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr[hNosniff] = valNosniff
	if h.hsts != nil && r.TLS != nil {
		hdr[hSTS] = h.hsts
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		hdr[hAllow] = valAllow
		hdr[hContentLength] = valZero
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		hdr[hAllow] = valAllow
		plainError(w, http.StatusMethodNotAllowed)
		return
	}
	res := h.resolve(r.URL.Path)
	switch res.kind {
	case serveFile:
		h.serveEntry(w, r, res.entry, http.StatusOK)
	case redirect:
		loc := res.location
		if r.URL.RawQuery != "" {
			loc += "?" + r.URL.RawQuery
		}
		hdr[hLocation] = []string{loc}
		hdr[hContentLength] = valZero
		w.WriteHeader(http.StatusMovedPermanently)
	case notFound:
		if h.spa && h.index != nil && !hasExtension(r.URL.Path) {
			h.serveEntry(w, r, h.index, http.StatusOK)
			return
		}
		if h.notFound != nil {
			h.serveEntry(w, r, h.notFound, http.StatusNotFound)
			return
		}
		hdr[hContentType] = valTextPlain
		hdr[hContentLength] = plain404Len
		w.WriteHeader(http.StatusNotFound)
		if r.Method != http.MethodHead {
			w.Write(plain404Body)
		}
	case tooLong:
		plainError(w, http.StatusRequestURITooLong)
	default:
		plainError(w, http.StatusBadRequest)
	}
}

// plainError writes a short text/plain error response.
func plainError(w http.ResponseWriter, code int) {
	msg := strconv.Itoa(code) + " " + http.StatusText(code) + "\n"
	hdr := w.Header()
	hdr[hContentType] = valTextPlain
	hdr[hContentLength] = []string{strconv.Itoa(len(msg))}
	w.WriteHeader(code)
	w.Write([]byte(msg))
}

// serveEntry writes e with status (200, or 404 for 404.html), evaluating
// preconditions and ranges for 200 responses in the order of RFC 9110
// section 13.2.2.
func (h *handler) serveEntry(w http.ResponseWriter, r *http.Request, e *entry, status int) {
	hdr := w.Header()
	isGet := r.Method == http.MethodGet

	// Range applies to GET only (RFC 9110 section 14.2) and to the
	// identity body only (see the package comment).
	var rangeHdr string
	if status == http.StatusOK && isGet {
		rangeHdr = headerValue(r.Header, "Range")
		if rangeHdr != "" {
			if ir := headerValue(r.Header, "If-Range"); ir != "" && !e.ifRangeMatches(ir) {
				rangeHdr = ""
			}
		}
	}
	v := e.variants[encIdentity]
	if rangeHdr == "" && e.vary {
		v = e.variants[chooseEncoding(r.Header["Accept-Encoding"], e)]
	}

	if e.vary {
		hdr[hVary] = valVary
	}
	if status == http.StatusOK {
		hdr[hCacheControl] = h.cache
		hdr[hETag] = v.etag
		if code := e.checkPreconditions(r, v); code != 0 {
			if code == http.StatusNotModified {
				w.WriteHeader(code)
				return
			}
			hdr[hContentLength] = valZero
			w.WriteHeader(code)
			return
		}
		if e.lastModified != nil {
			hdr[hLastModified] = e.lastModified
		}
		hdr[hAcceptRanges] = valBytes
	}
	hdr[hContentType] = e.contentType
	if v.encoding != nil {
		hdr[hContentEncoding] = v.encoding
	}

	body := v.body
	if rangeHdr != "" {
		start, end, ok := parseRange(rangeHdr, int64(len(body)))
		switch {
		case !ok:
			// Invalid or multiple ranges: ignore Range, serve it all.
		case start < 0:
			hdr[hContentRange] = []string{"bytes */" + v.length[0]}
			hdr[hContentLength] = valZero
			delete(hdr, hContentType)
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		default:
			hdr[hContentRange] = []string{"bytes " + strconv.FormatInt(start, 10) + "-" +
				strconv.FormatInt(end-1, 10) + "/" + v.length[0]}
			hdr[hContentLength] = []string{strconv.FormatInt(end-start, 10)}
			w.WriteHeader(http.StatusPartialContent)
			if isGet {
				h.extendWriteDeadline(w, end-start)
				w.Write(body[start:end])
			}
			return
		}
	}
	hdr[hContentLength] = v.length
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		h.extendWriteDeadline(w, int64(len(body)))
		w.Write(body)
	}
}

// headerValue is Header.Get for a canonical key, without canonicalising.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// checkPreconditions returns 0 to go on, or 304 or 412.
func (e *entry) checkPreconditions(r *http.Request, v *variant) int {
	etag := v.etag[0]
	if im := r.Header["If-Match"]; len(im) > 0 {
		if !etagListMatches(im, etag, false) {
			return http.StatusPreconditionFailed
		}
	} else if ius := headerValue(r.Header, "If-Unmodified-Since"); ius != "" && e.lastModified != nil {
		if t, err := http.ParseTime(ius); err == nil && e.modTime.After(t) {
			return http.StatusPreconditionFailed
		}
	}
	if inm := r.Header["If-None-Match"]; len(inm) > 0 {
		if etagListMatches(inm, etag, true) {
			return http.StatusNotModified
		}
	} else if ims := headerValue(r.Header, "If-Modified-Since"); ims != "" && e.lastModified != nil {
		if t, err := http.ParseTime(ims); err == nil && !e.modTime.After(t) {
			return http.StatusNotModified
		}
	}
	return 0
}

// ifRangeMatches reports whether an If-Range value (a strong ETag or an
// HTTP date) validates the identity representation.
func (e *entry) ifRangeMatches(v string) bool {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, `"`) {
		return v == e.etag
	}
	if strings.HasPrefix(v, "W/") || e.lastModified == nil {
		return false
	}
	t, err := http.ParseTime(v)
	return err == nil && t.Equal(e.modTime)
}

// etagListMatches evaluates an If-Match (strong comparison) or
// If-None-Match (weak comparison) field, given as its field lines, against
// the current entity tag.
func etagListMatches(lines []string, etag string, weak bool) bool {
	for _, line := range lines {
		for line != "" {
			var item string
			item, line, _ = strings.Cut(line, ",")
			item = strings.TrimSpace(item)
			if item == "*" {
				return true
			}
			if strings.HasPrefix(item, "W/") {
				if !weak {
					continue
				}
				item = item[2:]
			}
			if item == etag {
				return true
			}
		}
	}
	return false
}

// chooseEncoding picks the variant of e to send for the Accept-Encoding
// field lines: the acceptable coding with the highest q-value, ties going
// to br, then gzip, then identity. Identity is the fallback even when the
// client refuses it, as a 406 would help no one.
func chooseEncoding(lines []string, e *entry) int {
	if len(lines) == 0 {
		return encIdentity
	}
	qBr, qGzip, qIdentity, qStar := -1, -1, -1, -1
	for _, line := range lines {
		for line != "" {
			var item string
			item, line, _ = strings.Cut(line, ",")
			name, params, _ := strings.Cut(item, ";")
			name = strings.TrimSpace(name)
			q := parseQ(params)
			switch {
			case strings.EqualFold(name, "br"):
				qBr = q
			case strings.EqualFold(name, "gzip"), strings.EqualFold(name, "x-gzip"):
				qGzip = max(qGzip, q)
			case strings.EqualFold(name, "identity"):
				qIdentity = q
			case name == "*":
				qStar = q
			}
		}
	}
	if qStar >= 0 {
		if qBr < 0 {
			qBr = qStar
		}
		if qGzip < 0 {
			qGzip = qStar
		}
		if qIdentity < 0 {
			qIdentity = qStar
		}
	}
	// Identity is the fallback: it competes on q only when the client
	// names it (or "*"), so "gzip;q=0.5" still means "gzip, please".
	best, bestQ := encIdentity, max(qIdentity, 0)
	if e.variants[encGzip] != nil && qGzip > 0 && qGzip >= bestQ {
		best, bestQ = encGzip, qGzip
	}
	if e.variants[encBrotli] != nil && qBr > 0 && qBr >= bestQ {
		best = encBrotli
	}
	return best
}

// parseQ returns the q parameter in thousandths (1000 when absent, 0 when
// malformed, which errs on the side of not sending that coding).
func parseQ(params string) int {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		val = strings.TrimSpace(val)
		if val == "" || (val[0] != '0' && val[0] != '1') {
			return 0
		}
		q := int(val[0]-'0') * 1000
		rest := val[1:]
		if rest == "" {
			return q
		}
		if rest[0] != '.' || len(rest) > 4 {
			return 0
		}
		scale := 100
		for _, c := range rest[1:] {
			if c < '0' || c > '9' {
				return 0
			}
			q += int(c-'0') * scale
			scale /= 10
		}
		return min(q, 1000)
	}
	return 1000
}

// parseRange parses a Range field for a body of size bytes. ok is false
// when the field is not a single byte range (then it is ignored); start < 0
// means the range is unsatisfiable (416). end is exclusive.
func parseRange(s string, size int64) (start, end int64, ok bool) {
	spec, found := strings.CutPrefix(s, "bytes=")
	if !found {
		return 0, 0, false
	}
	spec = strings.TrimSpace(spec)
	if strings.IndexByte(spec, ',') >= 0 {
		return 0, 0, false
	}
	first, last, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if first == "" {
		// Suffix range: the last n bytes.
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 || last[0] == '+' {
			return 0, 0, false
		}
		if n == 0 || size == 0 {
			return -1, 0, true
		}
		return max(size-n, 0), size, true
	}
	a, err := strconv.ParseInt(first, 10, 64)
	if err != nil || a < 0 || first[0] == '+' {
		return 0, 0, false
	}
	b := size - 1
	if last != "" {
		b, err = strconv.ParseInt(last, 10, 64)
		if err != nil || b < a || last[0] == '+' {
			return 0, 0, false
		}
	}
	if a >= size {
		return -1, 0, true
	}
	return a, min(b, size-1) + 1, true
}

// largeBodySize is the size from which a body's write deadline is
// extended.
const largeBodySize = 1 << 20

// minWriteRate is the slowest client a large download is allowed to take
// (32 KiB/s, about 256 kbit/s): big bodies get their write deadline moved to
// fit, so the server-wide WriteTimeout can stay short for everything else.
const minWriteRate = 32 << 10

// extendWriteDeadline lets a body of n bytes take as long as minWriteRate
// needs, plus the usual write timeout. Small bodies cost nothing.
func (h *handler) extendWriteDeadline(w http.ResponseWriter, n int64) {
	if n < largeBodySize {
		return
	}
	d := h.writeTimeout + time.Duration(n/minWriteRate)*time.Second
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
}

// rejectHTTP2ConnectionHeaders answers 400 to HTTP/2 requests carrying
// connection-specific fields, which RFC 9113 section 8.2.2 makes malformed.
// Go's HTTP/2 server already refuses them; this keeps the rule even if the
// server underneath changes.
func rejectHTTP2ConnectionHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			if r.ContentLength != 0 && !drainHTTP2Body(r) {
				return
			}
			for _, k := range [...]string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade"} {
				if _, ok := r.Header[k]; ok {
					plainError(w, http.StatusBadRequest)
					return
				}
			}
			if te, ok := r.Header["Te"]; ok && (len(te) != 1 || !strings.EqualFold(strings.TrimSpace(te[0]), "trailers")) {
				plainError(w, http.StatusBadRequest)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// maxDrainBody bounds how much of an HTTP/2 request body is read before
// answering: a static site uses no bodies, and the server's per-stream
// receive buffer (16 KiB) already keeps senders in small steps.
const maxDrainBody = 64 << 10

// drainHTTP2Body reads and discards up to maxDrainBody bytes of the body of
// an HTTP/2 request whose stream the client left open, and reports whether
// the request may still be answered. Answering before the body arrives
// would close the stream first, so a malformed body (more or less data
// than its Content-Length, RFC 9113 section 8.1.1) or a flow-control
// violation on that stream would be ignored instead of answered with
// RST_STREAM; waiting lets the HTTP/2 server reset the stream with the
// right error code, which also makes the read fail. The wait is bounded by
// the server's ReadTimeout.
func drainHTTP2Body(r *http.Request) bool {
	_, err := io.Copy(io.Discard, io.LimitReader(r.Body, maxDrainBody))
	return err == nil
}
