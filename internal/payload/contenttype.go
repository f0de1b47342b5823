package payload

import (
	"path"
	"strings"
)

// typeInfo is one row of the content-type table.
type typeInfo struct {
	mime string
	// compressible marks formats that are not already compressed, so a
	// gzip or brotli variant is worth trying.
	compressible bool
}

// contentTypes is certseal's only content-type table, keyed by lower-case
// extension. Text types carry "; charset=utf-8": sites are written in
// UTF-8 today, and a missing charset makes browsers guess.
var contentTypes = map[string]typeInfo{
	".html":        {"text/html; charset=utf-8", true},
	".htm":         {"text/html; charset=utf-8", true},
	".css":         {"text/css; charset=utf-8", true},
	".js":          {"text/javascript; charset=utf-8", true},
	".mjs":         {"text/javascript; charset=utf-8", true},
	".cjs":         {"text/javascript; charset=utf-8", true},
	".json":        {"application/json; charset=utf-8", true},
	".map":         {"application/json; charset=utf-8", true},
	".jsonld":      {"application/ld+json; charset=utf-8", true},
	".webmanifest": {"application/manifest+json; charset=utf-8", true},
	".xml":         {"application/xml; charset=utf-8", true},
	".rss":         {"application/rss+xml; charset=utf-8", true},
	".atom":        {"application/atom+xml; charset=utf-8", true},
	".svg":         {"image/svg+xml; charset=utf-8", true},
	".txt":         {"text/plain; charset=utf-8", true},
	".md":          {"text/markdown; charset=utf-8", true},
	".csv":         {"text/csv; charset=utf-8", true},
	".ics":         {"text/calendar; charset=utf-8", true},
	".vtt":         {"text/vtt; charset=utf-8", true},
	".wasm":        {"application/wasm", true},
	".pdf":         {"application/pdf", false},
	".ico":         {"image/x-icon", true}, // BMP/PNG container; often compresses well
	".bmp":         {"image/bmp", true},
	".png":         {"image/png", false},
	".jpg":         {"image/jpeg", false},
	".jpeg":        {"image/jpeg", false},
	".gif":         {"image/gif", false},
	".webp":        {"image/webp", false},
	".avif":        {"image/avif", false},
	".woff":        {"font/woff", false},
	".woff2":       {"font/woff2", false},
	".ttf":         {"font/ttf", true},
	".otf":         {"font/otf", true},
	".eot":         {"application/vnd.ms-fontobject", true},
	".mp4":         {"video/mp4", false},
	".webm":        {"video/webm", false},
	".ogv":         {"video/ogg", false},
	".mp3":         {"audio/mpeg", false},
	".ogg":         {"audio/ogg", false},
	".oga":         {"audio/ogg", false},
	".opus":        {"audio/ogg", false},
	".wav":         {"audio/wav", true},
	".flac":        {"audio/flac", false},
	".zip":         {"application/zip", false},
	".gz":          {"application/gzip", false},
	".tar":         {"application/x-tar", true},
	".wat":         {"text/plain; charset=utf-8", true},
	".asc":         {"text/plain; charset=utf-8", true},
	".pem":         {"application/x-pem-file", true},
}

// DefaultContentType is served for extensions the table does not know.
const DefaultContentType = "application/octet-stream"

// ContentType returns the Content-Type for a file name from the built-in
// table, and whether the format is worth compressing. Unknown extensions
// give DefaultContentType and false: guessing from content would make the
// result depend on more than the name.
func ContentType(name string) (mime string, compressible bool) {
	if t, ok := contentTypes[strings.ToLower(path.Ext(name))]; ok {
		return t.mime, t.compressible
	}
	return DefaultContentType, false
}
