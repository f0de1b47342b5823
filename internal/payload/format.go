package payload

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// The payload encoding is a flat sequence of fields: uvarint lengths
// before every string and byte slice, single bytes for booleans, varints
// for numbers. It is written by hand (not gob) so that Decode can return
// file bodies as sub-slices of its input: the runtime maps its own
// executable read-only and serves straight from that mapping, without
// copying the site onto the heap.
//
// The encoding has no version field of its own; the trailer carries
// FormatVersion and the runtime refuses versions it does not know.

// FormatError reports a payload that does not decode.
type FormatError struct{ Reason string }

func (e *FormatError) Error() string { return "payload: malformed payload: " + e.Reason }

// Encode returns the binary encoding of site. It returns an error if the
// files are not sorted by path, a path is not absolute or appears twice.
// The same Site always encodes to the same bytes.
func Encode(site *Site) ([]byte, error) {
	if err := checkFiles(site.Files); err != nil {
		return nil, err
	}
	size := 1024 + len(site.CertPEM) + len(site.KeyPEM) + len(site.Config.ACMEDirectoryCA)
	for _, f := range site.Files {
		size += 64 + len(f.Path) + len(f.ContentType) + len(f.ETag) + len(f.Body) + len(f.Gzip) + len(f.Brotli)
	}
	e := encoder{buf: make([]byte, 0, size)}
	c := &site.Config
	e.str(c.HTTPSAddr)
	e.str(c.HTTPAddr)
	e.bool(c.NoTLS)
	e.int(int64(c.HSTSMaxAge))
	e.bool(c.SPA)
	e.bool(c.AccessLog)
	e.strs(c.Hostnames)
	e.str(c.IP)
	e.str(c.Netmask)
	e.str(c.Gateway)
	e.str(c.ACMEEmail)
	e.strs(c.ACMEDomains)
	e.str(c.ACMEDirectory)
	e.bytes(c.ACMEDirectoryCA)
	e.str(c.KeysAtRuntimeDir)
	e.str(c.ACMEStateDir)
	e.int(int64(c.RedirectPort))
	e.bytes(site.CertPEM)
	e.bytes(site.KeyPEM)
	e.uint(uint64(len(site.Files)))
	for _, f := range site.Files {
		e.str(f.Path)
		e.str(f.ContentType)
		e.str(f.ETag)
		if f.ModTime.IsZero() {
			e.bool(false)
		} else {
			e.bool(true)
			e.int(f.ModTime.Unix())
		}
		e.bytes(f.Body)
		e.bytes(f.Gzip)
		e.bytes(f.Brotli)
	}
	return e.buf, nil
}

func checkFiles(files []*File) error {
	for i, f := range files {
		if len(f.Path) == 0 || f.Path[0] != '/' {
			return fmt.Errorf("payload: file path %q does not start with /", f.Path)
		}
		if i > 0 && files[i-1].Path >= f.Path {
			if files[i-1].Path == f.Path {
				return fmt.Errorf("payload: file path %q appears twice", f.Path)
			}
			return fmt.Errorf("payload: files are not sorted by path (%q before %q)", files[i-1].Path, f.Path)
		}
	}
	return nil
}

// Decode parses a payload made by Encode. File bodies and the key and
// certificate are sub-slices of data (capacity-limited, so appending to
// them never writes into data): data must stay unchanged while the Site
// is in use. It returns a *FormatError for malformed input.
func Decode(data []byte) (*Site, error) {
	d := decoder{buf: data}
	s := &Site{}
	c := &s.Config
	c.HTTPSAddr = d.str()
	c.HTTPAddr = d.str()
	c.NoTLS = d.bool()
	hsts := d.int()
	if hsts < 0 || hsts > math.MaxInt32 {
		d.fail("HSTS max-age out of range")
	}
	c.HSTSMaxAge = int(hsts)
	c.SPA = d.bool()
	c.AccessLog = d.bool()
	c.Hostnames = d.strs()
	c.IP = d.str()
	c.Netmask = d.str()
	c.Gateway = d.str()
	c.ACMEEmail = d.str()
	c.ACMEDomains = d.strs()
	c.ACMEDirectory = d.str()
	c.ACMEDirectoryCA = d.bytes()
	c.KeysAtRuntimeDir = d.str()
	c.ACMEStateDir = d.str()
	rp := d.int()
	if rp < 0 || rp > 65535 {
		d.fail("redirect port out of range")
	}
	c.RedirectPort = int(rp)
	s.CertPEM = d.bytes()
	s.KeyPEM = d.bytes()
	// Every file takes at least 7 bytes, which bounds the allocation
	// below by the input size whatever the count claims.
	n := d.count(7)
	if d.err == nil {
		s.Files = make([]*File, 0, n)
		backing := make([]File, n)
		for i := 0; i < n && d.err == nil; i++ {
			f := &backing[i]
			f.Path = d.str()
			f.ContentType = d.str()
			f.ETag = d.str()
			if d.bool() {
				f.ModTime = time.Unix(d.int(), 0).UTC()
			}
			f.Body = d.bytes()
			if f.Body == nil {
				f.Body = data[:0:0]
			}
			f.Gzip = d.bytes()
			f.Brotli = d.bytes()
			s.Files = append(s.Files, f)
		}
	}
	if d.err == nil && d.off != len(data) {
		d.fail(fmt.Sprintf("%d unexpected bytes after the last file", len(data)-d.off))
	}
	if d.err != nil {
		return nil, d.err
	}
	if err := checkFiles(s.Files); err != nil {
		return nil, &FormatError{Reason: err.Error()[len("payload: "):]}
	}
	return s, nil
}

type encoder struct{ buf []byte }

func (e *encoder) uint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }
func (e *encoder) int(v int64)   { e.buf = binary.AppendVarint(e.buf, v) }
func (e *encoder) bool(b bool) {
	if b {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
}
func (e *encoder) str(s string) { e.uint(uint64(len(s))); e.buf = append(e.buf, s...) }
func (e *encoder) bytes(b []byte) {
	e.uint(uint64(len(b)))
	e.buf = append(e.buf, b...)
}
func (e *encoder) strs(ss []string) {
	e.uint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

// decoder reads fields until the first error, after which every read
// returns a zero value; callers check err once at the end.
type decoder struct {
	buf []byte
	off int
	err error
}

var errTruncated = errors.New("truncated")

func (d *decoder) fail(reason string) {
	if d.err == nil {
		d.err = &FormatError{Reason: reason}
	}
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf[d.off:])
	if n <= 0 {
		d.fail("bad or truncated number")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) int() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf[d.off:])
	if n <= 0 {
		d.fail("bad or truncated number")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) bool() bool {
	if d.err != nil {
		return false
	}
	if d.off >= len(d.buf) {
		d.fail(errTruncated.Error())
		return false
	}
	b := d.buf[d.off]
	d.off++
	if b > 1 {
		d.fail("bad boolean")
	}
	return b == 1
}

// count reads a length and checks that that many items of at least
// minSize bytes each can fit in what is left.
func (d *decoder) count(minSize int) int {
	n := d.uint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.buf)-d.off)/uint64(minSize) {
		d.fail("count larger than the payload")
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.count(1)
	if d.err != nil || n == 0 {
		return nil
	}
	b := d.buf[d.off : d.off+n : d.off+n]
	d.off += n
	return b
}

func (d *decoder) str() string { return string(d.bytes()) }

func (d *decoder) strs() []string {
	n := d.count(1)
	if d.err != nil || n == 0 {
		return nil
	}
	ss := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		ss = append(ss, d.str())
	}
	return ss
}
