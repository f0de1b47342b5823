package pack

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/certseal/certseal/internal/payload"
)

func write(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func paths(files []*payload.File) []string {
	var ps []string
	for _, f := range files {
		ps = append(ps, f.Path)
	}
	return ps
}

var html = strings.Repeat("<p>Hello, sealed world.</p>\n", 50)

func TestDir(t *testing.T) {
	root := t.TempDir()
	random := make([]byte, 4096)
	rand.Read(random)
	write(t, root, map[string]string{
		"index.html":    html,
		"b/c/deep.css":  strings.Repeat("body { color: red }\n", 20),
		"tiny.txt":      "hi",
		"random.js":     string(random), // compressible type, incompressible content
		"logo.png":      html,           // compressible content, but PNG is never compressed
		"a b/x y.html":  "spaces",
		".well-known/x": "acme",
	})
	mod := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	res, err := Dir(root, Options{ModTime: mod, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/.well-known/x", "/a b/x y.html", "/b/c/deep.css", "/index.html", "/logo.png", "/random.js", "/tiny.txt"}
	if got := paths(res.Files); !reflect.DeepEqual(got, want) {
		t.Fatalf("paths = %q, want %q", got, want)
	}
	byPath := map[string]*payload.File{}
	for _, f := range res.Files {
		byPath[f.Path] = f
		if !f.ModTime.Equal(mod) {
			t.Errorf("%s: ModTime %v, want %v", f.Path, f.ModTime, mod)
		}
		if f.ETag != payload.ETag(f.Body) {
			t.Errorf("%s: ETag %s does not match its body", f.Path, f.ETag)
		}
	}
	idx := byPath["/index.html"]
	if idx.ContentType != "text/html; charset=utf-8" || string(idx.Body) != html {
		t.Errorf("index.html: %q, %q", idx.ContentType, idx.Body)
	}
	// Compressed variants must decompress to the body.
	zr, err := gzip.NewReader(bytes.NewReader(idx.Gzip))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(zr); string(got) != html {
		t.Error("gzip variant does not decompress to the body")
	}
	if got, _ := io.ReadAll(brotli.NewReader(bytes.NewReader(idx.Brotli))); string(got) != html {
		t.Error("brotli variant does not decompress to the body")
	}
	if len(idx.Brotli) >= len(idx.Gzip) {
		t.Logf("brotli (%d) not smaller than gzip (%d)", len(idx.Brotli), len(idx.Gzip))
	}
	for _, p := range []string{"/tiny.txt", "/random.js", "/logo.png"} {
		if f := byPath[p]; f.Gzip != nil || f.Brotli != nil {
			t.Errorf("%s got compressed variants (gzip %d, br %d bytes) that do not pay off", p, len(f.Gzip), len(f.Brotli))
		}
	}
	if byPath["/b/c/deep.css"].Gzip == nil {
		t.Error("repetitive CSS has no gzip variant")
	}
	if res.Bytes == 0 {
		t.Error("Bytes not counted")
	}
}

func TestDirDeterministic(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{}
	for i := range 200 {
		files[fmt.Sprintf("d%d/f%03d.html", i%7, i)] = strings.Repeat(fmt.Sprint(i), 100+i)
	}
	write(t, root, files)
	enc := func(workers int) []byte {
		res, err := Dir(root, Options{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		b, err := payload.Encode(&payload.Site{Files: res.Files})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a := enc(1)
	// Touching mtimes must not change anything.
	os.Chtimes(filepath.Join(root, "d0/f000.html"), time.Now(), time.Now())
	if b := enc(8); !bytes.Equal(a, b) {
		t.Error("two packs of the same site differ")
	}
}

func TestDirSkipsDotfiles(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{
		"index.html":               "x",
		".env":                     "SECRET=1",
		".git/config":              "[core]",
		"sub/.hidden.html":         "h",
		".well-known/security.txt": "Contact: mailto:a@example.com",
	})
	res, err := Dir(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := paths(res.Files), []string{"/.well-known/security.txt", "/index.html"}; !reflect.DeepEqual(got, want) {
		t.Errorf("paths = %q, want %q", got, want)
	}
	if want := []string{".env", ".git", "sub/.hidden.html"}; !reflect.DeepEqual(res.Skipped, want) {
		t.Errorf("Skipped = %q, want %q", res.Skipped, want)
	}
	res, err = Dir(root, Options{IncludeDotfiles: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 5 || len(res.Skipped) != 0 {
		t.Errorf("with IncludeDotfiles: %q, skipped %q", paths(res.Files), res.Skipped)
	}
}

func TestDirSymlinks(t *testing.T) {
	outside := t.TempDir()
	write(t, outside, map[string]string{"passwd": "root:x:0:0"})
	root := t.TempDir()
	write(t, root, map[string]string{"real/page.html": "p", "index.html": "i"})
	if err := os.Symlink("real", filepath.Join(root, "alias")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("index.html", filepath.Join(root, "home.html")); err != nil {
		t.Fatal(err)
	}
	res, err := Dir(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/alias/page.html", "/home.html", "/index.html", "/real/page.html"}
	if got := paths(res.Files); !reflect.DeepEqual(got, want) {
		t.Errorf("paths = %q, want %q", got, want)
	}

	for name, target := range map[string]string{
		"escape-file": filepath.Join(outside, "passwd"),
		"escape-dir":  outside,
		"escape-rel":  "", // relative path, computed below
	} {
		t.Run(name, func(t *testing.T) {
			r := t.TempDir()
			write(t, r, map[string]string{"index.html": "i"})
			link := filepath.Join(r, "sub", "link")
			os.MkdirAll(filepath.Dir(link), 0o755)
			if target == "" {
				target, _ = filepath.Rel(filepath.Dir(link), outside)
			}
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			_, err := Dir(r, Options{})
			if err == nil || !strings.Contains(err.Error(), link) || !strings.Contains(err.Error(), "outside the data directory") {
				t.Fatalf("err = %v, want a refusal naming %s", err, link)
			}
		})
	}

	t.Run("loop", func(t *testing.T) {
		r := t.TempDir()
		write(t, r, map[string]string{"a/index.html": "i"})
		os.Symlink("..", filepath.Join(r, "a", "up"))
		if _, err := Dir(r, Options{}); err == nil || !strings.Contains(err.Error(), "loop") {
			t.Fatalf("err = %v, want a loop error", err)
		}
	})
	t.Run("broken", func(t *testing.T) {
		r := t.TempDir()
		write(t, r, map[string]string{"index.html": "i"})
		os.Symlink("nowhere", filepath.Join(r, "dangling"))
		if _, err := Dir(r, Options{}); err == nil || !strings.Contains(err.Error(), "broken symbolic link") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestDirErrors(t *testing.T) {
	empty := t.TempDir()
	onlyDot := t.TempDir()
	write(t, onlyDot, map[string]string{".env": "x"})
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	tests := []struct{ dir, want string }{
		{filepath.Join(empty, "missing"), "does not exist"},
		{empty, "has no files to serve"},
		{onlyDot, "1 dotfiles skipped"},
		{file, "is not a directory"},
	}
	for _, tt := range tests {
		_, err := Dir(tt.dir, Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Dir(%s) = %v, want error containing %q", tt.dir, err, tt.want)
		}
	}
}

func TestProgress(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{"a": "1", "b": "2", "c": "3"})
	var calls []int
	if _, err := Dir(root, Options{Progress: func(done, total int) {
		if total != 3 {
			t.Errorf("total = %d", total)
		}
		calls = append(calls, done)
	}}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(calls, []int{1, 2, 3}) {
		t.Errorf("progress calls = %v", calls)
	}
}
