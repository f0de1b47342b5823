package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// MaxInputSize bounds every certificate, key or CSR file we read. Real
// bundles are a few kilobytes; a 100 MB "certificate" is a mistake.
const MaxInputSize = 16 << 20

// Stdin is read for the input name "-". Tests may replace it.
var Stdin io.Reader = os.Stdin

// Stdout receives outputs named "-". Tests may replace it.
var Stdout io.Writer = os.Stdout

// ReadInput reads a whole input file, or stdin for "-", refusing files
// larger than MaxInputSize. Its errors name the file but never its content.
func ReadInput(name string) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		r = Stdin
		name = "standard input"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, describeOpenError(name, err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.IsDir() {
			return nil, fmt.Errorf("%s is a directory, not a file", name)
		}
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxInputSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %v", name, unwrapPath(err))
	}
	if len(data) > MaxInputSize {
		return nil, fmt.Errorf("%s is larger than %d MiB; it is not a certificate, key or CSR file", name, MaxInputSize>>20)
	}
	return data, nil
}

func describeOpenError(name string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist", name)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s is not readable (permission denied)", name)
	}
	return fmt.Errorf("opening %s: %v", name, unwrapPath(err))
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Output is one file a command wants to write.
type Output struct {
	Path string // "-" means stdout
	Data []byte
	// Secret marks private keys: written with mode 0600. Other outputs
	// get 0644.
	Secret bool
	// Mode, when non-zero, is the file's mode instead (seal writes
	// executables holding a private key with 0700).
	Mode os.FileMode
}

// WriteOptions controls WriteOutputs.
type WriteOptions struct {
	// Force allows replacing existing files.
	Force bool
}

// CheckOutputs reports an error if any output would overwrite an existing
// file without Force, or if two outputs name the same file. Commands call
// it before doing expensive or irreversible work (key generation), so a
// mistake is reported before anything is created.
func CheckOutputs(opts WriteOptions, paths ...string) error {
	seen := map[string]bool{}
	stdout := 0
	for _, p := range paths {
		if p == "" {
			return Usagef("an output file name is empty")
		}
		if p == "-" {
			stdout++
			if stdout > 1 {
				return Usagef("only one output can go to standard output ('-')")
			}
			continue
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		if err := checkParentWritable(p); err != nil {
			return err
		}
		if seen[abs] {
			return Usagef("%s is named for two different outputs", p)
		}
		seen[abs] = true
		st, err := os.Lstat(p)
		if err == nil {
			if st.IsDir() {
				return fmt.Errorf("%s is a directory; name a file to write", p)
			}
			if !opts.Force {
				return fmt.Errorf("%s already exists; use --force to overwrite it", p)
			}
		}
	}
	return nil
}

// WriteOutputs writes every output or none. Each file is written to a
// temporary file in its destination directory, synced, and then moved into
// place; without Force the move refuses to replace an existing file (hard
// link semantics), so a file that appeared since CheckOutputs is never
// clobbered. If a later output fails, the ones already placed are removed.
// Missing parent directories are created with mode 0700.
func WriteOutputs(opts WriteOptions, outs ...Output) (err error) {
	if err := CheckOutputs(opts, paths(outs)...); err != nil {
		return err
	}
	var temps []string
	defer func() {
		for _, t := range temps {
			os.Remove(t)
		}
	}()
	// Stage every file first so that a full disk or a read-only directory
	// is found before anything is visible.
	for _, o := range outs {
		if o.Path == "-" {
			temps = append(temps, "")
			continue
		}
		t, err := stage(o)
		if err != nil {
			return err
		}
		temps = append(temps, t)
	}
	var placed []string
	defer func() {
		if err != nil {
			for _, p := range placed {
				os.Remove(p)
			}
		}
	}()
	for i, o := range outs {
		if o.Path == "-" {
			continue
		}
		if err := place(temps[i], o.Path, opts.Force); err != nil {
			return err
		}
		placed = append(placed, o.Path)
	}
	for _, o := range outs {
		if o.Path == "-" {
			if _, err := Stdout.Write(o.Data); err != nil {
				return fmt.Errorf("writing to standard output: %v", err)
			}
		}
	}
	return nil
}

func paths(outs []Output) []string {
	var ps []string
	for _, o := range outs {
		ps = append(ps, o.Path)
	}
	return ps
}

func stage(o Output) (string, error) {
	dir := filepath.Dir(o.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating directory %s: %v", dir, unwrapPath(err))
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(o.Path)+".tmp-*")
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return "", fmt.Errorf("cannot write in %s (permission denied)", dir)
		}
		return "", fmt.Errorf("cannot write in %s: %v", dir, unwrapPath(err))
	}
	name := f.Name()
	mode := os.FileMode(0o644)
	if o.Secret {
		mode = 0o600
	}
	if o.Mode != 0 {
		mode = o.Mode
	}
	// CreateTemp makes the file 0600, so a key is never readable by others,
	// not even for an instant; public outputs are widened afterwards.
	_, werr := f.Write(o.Data)
	if werr == nil {
		werr = f.Sync()
	}
	if werr == nil {
		werr = f.Chmod(mode)
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(name)
		return "", fmt.Errorf("writing %s: %v", o.Path, unwrapPath(werr))
	}
	return name, nil
}

func place(tmp, path string, force bool) error {
	if force {
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("writing %s: %v", path, unwrapPath(err))
		}
	} else {
		// link fails with EEXIST instead of replacing: no-clobber and atomic.
		if err := os.Link(tmp, path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s already exists; use --force to overwrite it", path)
			}
			return fmt.Errorf("writing %s: %v", path, unwrapPath(err))
		}
		os.Remove(tmp)
	}
	syncDir(filepath.Dir(path))
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// checkParentWritable finds the nearest existing ancestor of the output
// path and reports an error if it is not a directory or cannot be
// written, so that a command fails before doing work it cannot save (a key
// generated, a certificate issued by a CA) rather than after.
func checkParentWritable(path string) error {
	dir := filepath.Dir(path)
	for {
		st, err := os.Stat(dir)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("cannot write %s: %s is not a directory", path, dir)
			}
			if !writable(dir) {
				return fmt.Errorf("cannot write in %s (permission denied)", dir)
			}
			return nil
		}
		// Not there (or below a file, ENOTDIR): look further up.
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}
