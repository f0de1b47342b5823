package payload

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// An artifact is [runtime executable][payload][trailer]. The trailer is
// fixed-size so the runtime finds it by reading the end of its own file:
//
//	magic "CERTSEAL" (8) | format version (uint32 BE) | payload length (uint64 BE) | SHA-256 of payload (32)
const (
	Magic         = "CERTSEAL"
	FormatVersion = 1
	TrailerSize   = len(Magic) + 4 + 8 + sha256.Size
)

// Trailer returns the trailer that follows payload in an artifact.
func Trailer(payload []byte) []byte {
	t := make([]byte, 0, TrailerSize)
	t = append(t, Magic...)
	t = binary.BigEndian.AppendUint32(t, FormatVersion)
	t = binary.BigEndian.AppendUint64(t, uint64(len(payload)))
	sum := sha256.Sum256(payload)
	return append(t, sum[:]...)
}

// ErrNoPayload is returned by Load and Open for a file that does not end
// with a trailer: a bare runtime, a truncated artifact or another file.
var ErrNoPayload = errors.New("payload: no sealed site found (the file is truncated, damaged, or not made by seal)")

// CorruptError reports an artifact whose trailer is present but whose
// payload does not match it.
type CorruptError struct{ Reason string }

func (e *CorruptError) Error() string { return "payload: the sealed site is damaged: " + e.Reason }

// HasTrailer reports whether data ends with something that looks like an
// artifact trailer (the magic at the right place). It does not verify
// the checksum.
func HasTrailer(data []byte) bool {
	return len(data) >= TrailerSize && string(data[len(data)-TrailerSize:][:len(Magic)]) == Magic
}

// Load finds, verifies and decodes the payload at the end of an artifact.
// Decoded bodies alias artifact. It returns ErrNoPayload without a
// trailer, a *CorruptError when the version, length or checksum is wrong,
// and a *FormatError when the checksum matches but the payload does not
// decode (a seal bug rather than damage).
func Load(artifact []byte) (*Site, error) {
	p, err := verify(artifact)
	if err != nil {
		return nil, err
	}
	return Decode(p)
}

func verify(artifact []byte) ([]byte, error) {
	if !HasTrailer(artifact) {
		return nil, ErrNoPayload
	}
	t := artifact[len(artifact)-TrailerSize:]
	rest := t[len(Magic):]
	if v := binary.BigEndian.Uint32(rest); v != FormatVersion {
		return nil, &CorruptError{Reason: fmt.Sprintf("format version %d, but this runtime reads version %d; seal the site again with the matching seal", v, FormatVersion)}
	}
	n := binary.BigEndian.Uint64(rest[4:])
	avail := uint64(len(artifact) - TrailerSize)
	if n > avail {
		return nil, &CorruptError{Reason: fmt.Sprintf("it claims %d bytes but only %d precede the trailer (truncated?)", n, avail)}
	}
	p := artifact[avail-n : avail : avail]
	sum := sha256.Sum256(p)
	if !bytes.Equal(sum[:], rest[12:]) {
		return nil, &CorruptError{Reason: "SHA-256 checksum mismatch (the file was modified or truncated after sealing)"}
	}
	return p, nil
}

// Open maps the artifact at path read-only (or reads it, where mapping is
// not available) and returns its verified site. The mapping is never
// released: the returned Site's bodies point into it for the life of the
// process. Errors are those of Load, prefixed with the path, or the
// error opening the file.
func Open(path string) (*Site, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() < int64(TrailerSize) {
		return nil, fmt.Errorf("%s: %w", path, ErrNoPayload)
	}
	data, err := mapFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	s, err := Load(data)
	if err != nil {
		unmapFile(data)
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ETag returns the strong ETag for a body: the first 16 bytes of its
// SHA-256 in unpadded base64url, quoted.
func ETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
}
