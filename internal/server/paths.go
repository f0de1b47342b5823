package server

import (
	"net/url"
	"path"
	"strings"
)

// maxPathLen bounds the decoded URL path; longer paths get 414. The request
// line is already bounded by MaxHeaderBytes, so this only keeps lookups and
// redirects small.
const maxPathLen = 4096

type resolveKind uint8

const (
	notFound   resolveKind = iota // no file: 404, SPA fallback or 404.html
	serveFile                     // res.entry
	redirect                      // 301 to res.location (already escaped)
	badRequest                    // NUL, backslash, not absolute: 400
	tooLong                       // 414
)

type resolution struct {
	kind     resolveKind
	entry    *entry
	location string // for redirect: an escaped absolute path, never "//..."
}

// resolve maps a decoded URL path (r.URL.Path) to what to serve. It never
// reads outside the file table: paths are only ever map keys, so ".." and
// friends can at worst miss. Unclean paths ("/a/../b", "//x", "/./") are
// redirected to their cleaned form so each file has one URL.
func (h *handler) resolve(p string) resolution {
	switch {
	case len(p) > maxPathLen:
		return resolution{kind: tooLong}
	case p == "" || p[0] != '/':
		return resolution{kind: badRequest}
	case strings.IndexByte(p, 0) >= 0 || strings.IndexByte(p, '\\') >= 0:
		// A backslash is a separator on Windows and in some URL parsers;
		// refusing it keeps every client's idea of the path the same.
		return resolution{kind: badRequest}
	}
	if e, ok := h.files[p]; ok {
		// The fast path: a clean, existing file (clean because table keys
		// are clean, checked by NewHandler).
		if e.isIndex {
			return resolution{kind: redirect, location: e.dirLocation}
		}
		return resolution{kind: serveFile, entry: e}
	}
	if e, ok := h.dirs[p]; ok {
		return resolution{kind: serveFile, entry: e}
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if clean != p {
		return resolution{kind: redirect, location: escapePath(clean)}
	}
	if e, ok := h.dirs[p+"/"]; ok {
		return resolution{kind: redirect, location: e.dirLocation}
	}
	return resolution{kind: notFound}
}

// escapePath returns the escaped form of a clean absolute path for a
// Location header.
func escapePath(p string) string {
	u := url.URL{Path: p}
	return u.EscapedPath()
}

// hasExtension reports whether the last segment of p has a dot, which is
// what separates asset requests from SPA routes.
func hasExtension(p string) bool {
	return strings.IndexByte(p[strings.LastIndexByte(p, '/')+1:], '.') >= 0
}
