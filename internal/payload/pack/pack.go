// Package pack turns a directory into the sealed file index: it walks the
// site, reads every file and computes its content type, ETag and
// compressed variants once, at seal time.
//
// It is separate from package payload so that the sealed runtime, which
// only reads payloads, does not link the compressors.
package pack

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/bits"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/certseal/certseal/internal/payload"
)

// Options controls Dir. The zero value skips dotfiles and uses every CPU.
type Options struct {
	// IncludeDotfiles serves files and directories whose name starts with
	// "." (other than .well-known, which is always served).
	IncludeDotfiles bool
	// ModTime is stored as every file's modification time (and served as
	// Last-Modified). The zero time stores none; see Dir.
	ModTime time.Time
	// Workers bounds the parallel readers/compressors; 0 means GOMAXPROCS.
	Workers int
	// BrotliQuality is the brotli level (1-11); 0 chooses: 11 when the
	// compressible files total at most BrotliQ11Budget, else 9. The
	// pure-Go encoder manages under 1 MB/s at 11 but over 10 MB/s at 9,
	// so big sites trade ~15-20% of brotli size for a seal 10x faster.
	BrotliQuality int
	// Progress, when set, is called after each file is processed, from a
	// single goroutine, with the number done and the total.
	Progress func(done, total int)
}

// Result is a packed site.
type Result struct {
	Files []*payload.File // sorted by Path
	// Skipped lists the dotfiles and dot-directories left out, as paths
	// relative to the site root (a skipped directory counts once).
	Skipped []string
	// Bytes is the total size of the identity bodies.
	Bytes int64
}

// Dir packs the site in root. Symbolic links are followed when their
// target stays inside root and refused otherwise; special files (sockets,
// devices) are refused. It returns an error naming the offending path, and
// an error if root is missing, not a directory, or holds no servable file.
//
// The result depends only on the file names and contents and on Options:
// file-system modification times are ignored on purpose, because they
// change on every checkout and would make two seals of the same site
// differ. Callers wanting Last-Modified pass a fixed ModTime (seal uses
// SOURCE_DATE_EPOCH); without one the server relies on ETags alone.
func Dir(root string, opts Options) (*Result, error) {
	if err := CheckDir(root); err != nil {
		return nil, err
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %v", root, unwrapPath(err))
	}
	if realRoot, err = filepath.Abs(realRoot); err != nil {
		return nil, err
	}
	w := &walker{root: root, realRoot: realRoot, opts: opts, active: map[string]bool{}}
	if err := w.walk(realRoot, ""); err != nil {
		return nil, err
	}
	if len(w.entries) == 0 {
		msg := fmt.Sprintf("data directory %s has no files to serve", root)
		if len(w.skipped) > 0 {
			msg += fmt.Sprintf(" (%d dotfiles skipped; use --include-dotfiles to serve them)", len(w.skipped))
		}
		return nil, errors.New(msg)
	}
	sort.Slice(w.entries, func(i, j int) bool { return w.entries[i].urlPath < w.entries[j].urlPath })
	if opts.BrotliQuality == 0 {
		opts.BrotliQuality = autoQuality(w.entries)
	}
	files, total, err := process(w.entries, opts)
	if err != nil {
		return nil, err
	}
	return &Result{Files: files, Skipped: w.skipped, Bytes: total}, nil
}

type entry struct {
	urlPath  string // "/a/b.html"
	realPath string // what to read
	display  string // root-relative, for errors
	size     int64  // at walk time, for choosing the brotli quality
}

// BrotliQ11Budget is how many bytes of compressible files Dir compresses
// at brotli quality 11 by default (about half a minute of one core).
const BrotliQ11Budget = 16 << 20

func autoQuality(entries []entry) int {
	var total int64
	for _, e := range entries {
		if _, c := payload.ContentType(e.urlPath); c {
			total += e.size
		}
	}
	if total <= BrotliQ11Budget {
		return 11
	}
	return 9
}

type walker struct {
	root, realRoot string
	opts           Options
	entries        []entry
	skipped        []string
	active         map[string]bool // real directories being walked, for loop detection
}

// walk lists realDir, whose URL path below the root is rel ("" or "a/b").
func (w *walker) walk(realDir, rel string) error {
	w.active[realDir] = true
	defer delete(w.active, realDir)
	des, err := os.ReadDir(realDir)
	if err != nil {
		return fmt.Errorf("reading %s: %v", w.show(rel), unwrapPath(err))
	}
	for _, de := range des {
		name := de.Name()
		childRel := path.Join(rel, name)
		if strings.HasPrefix(name, ".") && name != ".well-known" && !w.opts.IncludeDotfiles {
			w.skipped = append(w.skipped, childRel)
			continue
		}
		real := filepath.Join(realDir, name)
		mode := de.Type()
		if mode&fs.ModeSymlink != 0 {
			target, err := filepath.EvalSymlinks(real)
			if err != nil {
				return fmt.Errorf("%s is a broken symbolic link", w.show(childRel))
			}
			if target, err = filepath.Abs(target); err != nil {
				return err
			}
			if !within(w.realRoot, target) {
				return fmt.Errorf("%s is a symbolic link to %s, outside the data directory; refusing to follow it", w.show(childRel), target)
			}
			st, err := os.Stat(target)
			if err != nil {
				return fmt.Errorf("%s: %v", w.show(childRel), unwrapPath(err))
			}
			real, mode = target, st.Mode().Type()
		}
		switch {
		case mode.IsDir():
			if w.active[real] {
				return fmt.Errorf("%s is a symbolic link loop", w.show(childRel))
			}
			if err := w.walk(real, childRel); err != nil {
				return err
			}
		case mode.IsRegular():
			var size int64
			if st, err := os.Stat(real); err == nil {
				size = st.Size()
			}
			w.entries = append(w.entries, entry{urlPath: "/" + childRel, realPath: real, display: w.show(childRel), size: size})
		default:
			return fmt.Errorf("%s is not a regular file or directory (%v)", w.show(childRel), mode)
		}
	}
	return nil
}

func (w *walker) show(rel string) string {
	return filepath.Join(w.root, filepath.FromSlash(rel))
}

func within(root, p string) bool {
	r, err := filepath.Rel(root, p)
	return err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) && !filepath.IsAbs(r)
}

// process reads and compresses the entries with a bounded pool of
// workers. Each result goes to its entry's index, so the output order
// (and therefore the payload) does not depend on scheduling.
func process(entries []entry, opts Options) ([]*payload.File, int64, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(entries))
	files := make([]*payload.File, len(entries))
	errs := make([]error, len(entries))
	jobs := make(chan int)
	done := make(chan int)
	for range workers {
		go func() {
			for i := range jobs {
				files[i], errs[i] = packFile(entries[i], opts.ModTime, opts.BrotliQuality)
				done <- i
			}
		}()
	}
	go func() {
		for i := range entries {
			jobs <- i
		}
		close(jobs)
	}()
	var firstErr = -1
	for n := 1; n <= len(entries); n++ {
		i := <-done
		if errs[i] != nil && (firstErr < 0 || i < firstErr) {
			firstErr = i
		}
		if opts.Progress != nil {
			opts.Progress(n, len(entries))
		}
	}
	if firstErr >= 0 {
		return nil, 0, errs[firstErr]
	}
	var total int64
	for _, f := range files {
		total += int64(len(f.Body))
	}
	return files, total, nil
}

func packFile(e entry, mod time.Time, brotliQuality int) (*payload.File, error) {
	body, err := os.ReadFile(e.realPath)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %v", e.display, unwrapPath(err))
	}
	ct, compressible := payload.ContentType(e.urlPath)
	f := &payload.File{
		Path:        e.urlPath,
		ContentType: ct,
		ETag:        payload.ETag(body),
		ModTime:     mod,
		Body:        body,
	}
	if compressible {
		f.Gzip = keepIfSmaller(body, Gzip(body))
		f.Brotli = keepIfSmaller(body, Brotli(body, brotliQuality))
	}
	return f, nil
}

// keepIfSmaller returns variant when it saves at least 8% of body:
// below that, the extra bytes in the artifact and the Vary complexity buy
// almost nothing.
func keepIfSmaller(body, variant []byte) []byte {
	if variant == nil || int64(len(variant))*100 > int64(len(body))*92 {
		return nil
	}
	return variant
}

// Gzip compresses body at gzip.BestCompression with an empty header (no
// name, zero time), so equal inputs give equal outputs.
func Gzip(body []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(body)/3 + 64)
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&buf)
	zw.Write(body)
	if zw.Close() != nil {
		return nil
	}
	return buf.Bytes()
}

// gzipWriters reuses compressors: each one holds about 800 KB of tables.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestCompression)
	return zw
}}

// brotliMaxQ11 is the largest body compressed at brotli quality 11; the
// pure-Go encoder manages under 1 MB/s at that level, so larger files use
// quality 9, which is more than ten times faster and 15-20% larger.
const brotliMaxQ11 = 2 << 20

// Brotli compresses body with brotli at quality q (at most 9 for bodies
// over 2 MiB).
func Brotli(body []byte, q int) []byte {
	if len(body) > brotliMaxQ11 {
		q = min(q, 9)
	}
	var buf bytes.Buffer
	buf.Grow(len(body)/3 + 64)
	// A window no larger than the body gives the same output size but
	// spares allocating (and clearing) tens of megabytes per small file.
	lgwin := min(max(bits.Len(uint(len(body))), 10), 24)
	key := brotliKey{q, lgwin}
	pool, _ := brotliWriters.LoadOrStore(key, &sync.Pool{New: func() any {
		return brotli.NewWriterOptions(io.Discard, brotli.WriterOptions{Quality: key.quality, LGWin: key.lgwin})
	}})
	bw := pool.(*sync.Pool).Get().(*brotli.Writer)
	defer pool.(*sync.Pool).Put(bw)
	bw.Reset(&buf)
	bw.Write(body)
	if bw.Close() != nil {
		return nil
	}
	return buf.Bytes()
}

// brotliWriters holds a *sync.Pool of writers per brotliKey: an encoder's
// tables are sized by quality and window, and allocating them per file
// dominated sealing small files.
var brotliWriters sync.Map

type brotliKey struct{ quality, lgwin int }

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// CheckDir returns the error Dir would give for a data directory that is
// missing or not a directory, so callers can fail before other work.
func CheckDir(root string) error {
	st, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("data directory %s does not exist", root)
	case err != nil:
		return fmt.Errorf("data directory %s: %v", root, unwrapPath(err))
	case !st.IsDir():
		return fmt.Errorf("data directory %s is not a directory", root)
	}
	return nil
}
