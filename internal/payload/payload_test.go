package payload

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func testSite() *Site {
	return &Site{
		Config: Config{
			HTTPSAddr: ":8443", HTTPAddr: ":8080", HSTSMaxAge: 31536000, SPA: true, AccessLog: true,
			Hostnames: []string{"example.com", "192.0.2.1"}, IP: "10.0.0.2", Netmask: "24", Gateway: "10.0.0.1",
			ACMEEmail: "a@example.com", ACMEDomains: []string{"example.com"}, ACMEDirectory: "https://acme.test/dir",
			ACMEDirectoryCA: []byte("-----BEGIN CERTIFICATE-----"), KeysAtRuntimeDir: "/keys", ACMEStateDir: "/state", RedirectPort: 443,
		},
		CertPEM: []byte("cert"),
		KeyPEM:  []byte("key"),
		Files: []*File{
			{Path: "/", ContentType: "text/html; charset=utf-8", ETag: ETag(nil), Body: []byte{}},
			{Path: "/a.css", ContentType: "text/css; charset=utf-8", ETag: ETag([]byte("body{}")), ModTime: time.Unix(1700000000, 0).UTC(),
				Body: []byte("body{}"), Gzip: []byte("gz"), Brotli: []byte("br")},
			{Path: "/img/x.png", ContentType: "image/png", ETag: ETag([]byte{0x89}), Body: []byte{0x89}},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	s := testSite()
	data, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Errorf("round trip changed the site:\n got %+v\nwant %+v", got, s)
	}
	again, _ := Encode(got)
	if !bytes.Equal(again, data) {
		t.Error("re-encoding the decoded site gives different bytes")
	}
}

func TestDecodeAliasesInput(t *testing.T) {
	data, err := Encode(testSite())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	body := s.Files[1].Body
	if cap(body) != len(body) {
		t.Errorf("body capacity %d > length %d: appending would overwrite the payload", cap(body), len(body))
	}
	i := bytes.Index(data, []byte("body{}"))
	data[i] = 'B'
	if string(body) != "Body{}" {
		t.Errorf("body %q does not alias the payload bytes (copied?)", body)
	}
}

func TestEncodeRejectsUnsortedFiles(t *testing.T) {
	for _, files := range [][]*File{
		{{Path: "/b"}, {Path: "/a"}},
		{{Path: "/a"}, {Path: "/a"}},
		{{Path: "a"}},
	} {
		if _, err := Encode(&Site{Files: files}); err == nil {
			t.Errorf("Encode accepted %v", files)
		}
	}
}

func TestDecodeMalformed(t *testing.T) {
	data, _ := Encode(testSite())
	for n := 0; n < len(data); n++ {
		if _, err := Decode(data[:n]); err == nil {
			t.Fatalf("Decode accepted a payload truncated to %d of %d bytes", n, len(data))
		}
	}
	if _, err := Decode(append(data[:len(data):len(data)], 0)); err == nil {
		t.Error("Decode accepted trailing garbage")
	}
	// A huge file count must not allocate: it is bounded by the input.
	if _, err := Decode([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}); err == nil {
		t.Error("Decode accepted a file count larger than the input")
	}
}

func FuzzDecode(f *testing.F) {
	data, _ := Encode(testSite())
	f.Add(data)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode(data)
		if err != nil {
			return
		}
		again, err := Encode(s)
		if err != nil {
			t.Fatalf("decoded site does not encode: %v", err)
		}
		if _, err := Decode(again); err != nil {
			t.Fatalf("re-encoded site does not decode: %v", err)
		}
	})
}

func artifact(t *testing.T) []byte {
	t.Helper()
	p, err := Encode(testSite())
	if err != nil {
		t.Fatal(err)
	}
	a := append([]byte("#!/runtime bytes\x00\x01"), p...)
	return append(a, Trailer(p)...)
}

func TestLoad(t *testing.T) {
	s, err := Load(artifact(t))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, testSite()) {
		t.Error("Load returned a different site")
	}
}

func TestLoadRefusesDamage(t *testing.T) {
	good := artifact(t)
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 1
		return b
	}
	n := len(good)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"bare runtime", []byte("#!/runtime bytes"), "no sealed site"},
		{"truncated by one byte", good[:n-1], "no sealed site"},
		{"truncated to half", good[:n/2], "no sealed site"},
		{"payload byte flipped", flip(n - TrailerSize - 10), "checksum mismatch"},
		{"checksum flipped", flip(n - 1), "checksum mismatch"},
		{"version changed", flip(n - TrailerSize + len(Magic) + 3), "format version"},
		{"length too large", flip(n - TrailerSize + len(Magic) + 4), "claims"},
		{"runtime byte flipped", flip(0), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.data)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("damage outside the payload is not our business, got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "art")
	a := artifact(t)
	if err := os.WriteFile(p, a, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(s.Files[1].Body) != "body{}" {
		t.Errorf("body = %q", s.Files[1].Body)
	}
	if err := os.WriteFile(p, a[:len(a)-5], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(p); !errors.Is(err, ErrNoPayload) || !strings.Contains(err.Error(), p) {
		t.Errorf("Open of a truncated artifact: %v, want ErrNoPayload naming the file", err)
	}
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(p); !errors.Is(err, ErrNoPayload) {
		t.Errorf("Open of an empty file: %v", err)
	}
}

func TestContentType(t *testing.T) {
	tests := []struct {
		name         string
		want         string
		compressible bool
	}{
		{"/index.html", "text/html; charset=utf-8", true},
		{"/A.HTML", "text/html; charset=utf-8", true},
		{"/s.css", "text/css; charset=utf-8", true},
		{"/app.js", "text/javascript; charset=utf-8", true},
		{"/m.mjs", "text/javascript; charset=utf-8", true},
		{"/d.json", "application/json; charset=utf-8", true},
		{"/app.js.map", "application/json; charset=utf-8", true},
		{"/i.svg", "image/svg+xml; charset=utf-8", true},
		{"/site.webmanifest", "application/manifest+json; charset=utf-8", true},
		{"/x.wasm", "application/wasm", true},
		{"/p.png", "image/png", false},
		{"/p.jpg", "image/jpeg", false},
		{"/p.webp", "image/webp", false},
		{"/p.avif", "image/avif", false},
		{"/f.woff2", "font/woff2", false},
		{"/f.ttf", "font/ttf", true},
		{"/v.mp4", "video/mp4", false},
		{"/README.md", "text/markdown; charset=utf-8", true},
		{"/d.csv", "text/csv; charset=utf-8", true},
		{"/doc.pdf", "application/pdf", false},
		{"/favicon.ico", "image/x-icon", true},
		{"/Makefile", DefaultContentType, false},
		{"/x.unknownext", DefaultContentType, false},
	}
	for _, tt := range tests {
		got, c := ContentType(tt.name)
		if got != tt.want || c != tt.compressible {
			t.Errorf("ContentType(%q) = %q, %v; want %q, %v", tt.name, got, c, tt.want, tt.compressible)
		}
	}
}

func TestETag(t *testing.T) {
	a, b := ETag([]byte("a")), ETag([]byte("b"))
	if a == b {
		t.Error("different bodies, same ETag")
	}
	if a != ETag([]byte("a")) {
		t.Error("ETag is not deterministic")
	}
	if len(a) != 24 || a[0] != '"' || a[len(a)-1] != '"' || strings.ContainsAny(a[1:len(a)-1], `"+/=`) {
		t.Errorf("ETag %s is not a quoted 22-character base64url strong tag", a)
	}
	// The SHA-256 of "" starts e3b0c442 98fc1c14...
	if got := ETag(nil); got != `"47DEQpj8HBSa-_TImW-5JA"` {
		t.Errorf("ETag(empty) = %s", got)
	}
}
