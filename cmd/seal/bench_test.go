package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeBenchSite writes n files shaped like a generated blog: HTML pages
// of 1-6 KiB with varied text, some CSS and JS, and incompressible images.
func writeBenchSite(b *testing.B, root string, n int) {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("seal static site certificate server payload brotli gzip index chain key sealed runtime request response header cache vary etag range")
	for i := range n {
		var name string
		var body []byte
		switch i % 10 {
		case 8:
			name = fmt.Sprintf("img/%03d/%d.png", i%100, i)
			body = make([]byte, 2048+r.IntN(8192))
			for j := range body {
				body[j] = byte(r.Uint32())
			}
		case 9:
			name = fmt.Sprintf("assets/%03d/%d.css", i%100, i)
			body = []byte(strings.Repeat(fmt.Sprintf(".c%d { margin: %dpx; color: #%06x }\n", i, i%17, r.IntN(1<<24)), 20+r.IntN(40)))
		default:
			name = fmt.Sprintf("posts/%03d/%d/index.html", i%100, i)
			var sb strings.Builder
			fmt.Fprintf(&sb, "<!doctype html><html><head><title>Post %d</title><link rel=stylesheet href=/assets/site.css></head><body><article>", i)
			for sb.Len() < 1024+r.IntN(5*1024) {
				sb.WriteString("<p>")
				for range 20 + r.IntN(40) {
					sb.WriteString(words[r.IntN(len(words))])
					sb.WriteByte(' ')
				}
				sb.WriteString("</p>\n")
			}
			sb.WriteString("</article></body></html>\n")
			body = []byte(sb.String())
		}
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeal10kFiles seals a generated 10,000-file site (about 30 MB)
// end to end: certificate checks, walking, hashing, gzip and brotli on all
// cores, encoding and writing the artifact.
func BenchmarkSeal10kFiles(b *testing.B) {
	dir := b.TempDir()
	site := filepath.Join(dir, "site")
	writeBenchSite(b, site, 10000)
	p := newPKI(b)
	writeKeys(b, filepath.Join(dir, "keys"), pemOf(p.leaf, p.inter), keyPEM(b, p.leaf.key))
	fakeRuntime := filepath.Join(dir, "runtime")
	os.WriteFile(fakeRuntime, make([]byte, 8<<20), 0o755) // the size of a real one
	b.Setenv("CERTSEAL_NOW", testNow.Format("2006-01-02T15:04:05Z"))
	out := filepath.Join(dir, "out")
	b.ResetTimer()
	for b.Loop() {
		sealForTest(b, "--data", site, "--keys", filepath.Join(dir, "keys"), "--runtime", fakeRuntime, "-o", out, "--force")
	}
	b.StopTimer()
	if st, err := os.Stat(out); err == nil {
		b.ReportMetric(float64(st.Size())/(1<<20), "MiB-artifact")
	}
}
