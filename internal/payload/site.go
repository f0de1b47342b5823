// Package payload is the sealed format: seal writes a site, its keys and
// its serving configuration into one checksummed blob appended to the
// runtime executable; the runtime reads and verifies it at start.
//
// Everything that can be computed once (content types, ETags, compressed
// variants, redirects) is computed at seal time and stored, so the server
// does no per-request work beyond a map lookup.
package payload

import "time"

// File is one servable file.
type File struct {
	// Path is the URL path, slash-separated and starting with "/",
	// e.g. "/docs/index.html".
	Path        string
	ContentType string // with "; charset=utf-8" for text types
	ETag        string // strong ETag, quoted: "\"<hash>\""
	ModTime     time.Time
	Body        []byte // identity encoding
	Gzip        []byte // gzip variant, nil when not worth it
	Brotli      []byte // brotli variant, nil when not worth it
}

// Config is the serving configuration baked in at seal time. The runtime's
// own flags may override the listen addresses and state directory.
type Config struct {
	HTTPSAddr  string // default ":443"
	HTTPAddr   string // default ":80"; "" disables the plain listener
	NoTLS      bool   // serve plain HTTP only on HTTPAddr
	HSTSMaxAge int    // seconds; 0 disables the header
	SPA        bool   // unknown paths fall back to /index.html
	AccessLog  bool
	Hostnames  []string // names the certificate covers, for logs
	// Network settings for VM targets; empty means DHCP.
	IP, Netmask, Gateway string
	// ACME settings (empty Email: no ACME).
	ACMEEmail        string
	ACMEDomains      []string
	ACMEDirectory    string
	ACMEDirectoryCA  []byte // PEM roots for a private ACME CA
	KeysAtRuntimeDir string // read server.pem/server.key from here instead
	// ACMEStateDir keeps the ACME account and certificates; a relative
	// path is relative to the artifact's directory. The runtime's --state
	// flag overrides it.
	ACMEStateDir string
	// RedirectPort is the public HTTPS port named in the plain-HTTP
	// listener's redirects when it differs from the listening port (a
	// container listening on 8443 behind a 443 → 8443 mapping); 0 means
	// the listening port.
	RedirectPort int
}

// Site is the whole sealed payload.
type Site struct {
	Config  Config
	CertPEM []byte // leaf first, then intermediates
	KeyPEM  []byte
	Files   []*File // sorted by Path
}
