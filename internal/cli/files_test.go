package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ucli "github.com/urfave/cli/v2"
)

func TestWriteOutputs(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "secrets", "deep", "server.key")
	cert := filepath.Join(dir, "secrets", "deep", "server.pem")
	if err := WriteOutputs(WriteOptions{}, Output{Path: cert, Data: []byte("cert")}, Output{Path: key, Data: []byte("key"), Secret: true}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path string
		mode os.FileMode
	}{{key, 0o600}, {cert, 0o644}, {filepath.Dir(key), 0o700}, {filepath.Join(dir, "secrets"), 0o700}} {
		st, err := os.Stat(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != tt.mode {
			t.Errorf("%s: mode %#o, want %#o", tt.path, st.Mode().Perm(), tt.mode)
		}
	}
	// No clobbering, and nothing changes when one of several outputs exists.
	other := filepath.Join(dir, "other.pem")
	err := WriteOutputs(WriteOptions{}, Output{Path: other, Data: []byte("x")}, Output{Path: key, Data: []byte("new"), Secret: true})
	if err == nil || !strings.Contains(err.Error(), "already exists; use --force") {
		t.Errorf("overwrite: %v", err)
	}
	if b, _ := os.ReadFile(key); string(b) != "key" {
		t.Errorf("key was changed to %q", b)
	}
	if _, err := os.Stat(other); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("other.pem was written although the write failed")
	}
	if err := WriteOutputs(WriteOptions{Force: true}, Output{Path: key, Data: []byte("new"), Secret: true}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(key); string(b) != "new" {
		t.Errorf("--force did not replace the key: %q", b)
	}
	// Stdout outputs, and no temporary file left anywhere.
	var buf bytes.Buffer
	Stdout = &buf
	defer func() { Stdout = os.Stdout }()
	if err := WriteOutputs(WriteOptions{}, Output{Path: "-", Data: []byte("to stdout")}); err != nil || buf.String() != "to stdout" {
		t.Errorf("stdout output: %q, %v", buf.String(), err)
	}
	filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error {
		if strings.Contains(p, ".tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

func TestCheckOutputs(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	for _, tt := range []struct {
		paths []string
		want  string
	}{
		{[]string{"-", "-"}, "only one output can go to standard output"},
		{[]string{a, a}, "named for two different outputs"},
		{[]string{""}, "empty"},
		{[]string{dir}, "is a directory"},
	} {
		if err := CheckOutputs(WriteOptions{}, tt.paths...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CheckOutputs(%q) = %v, want %q", tt.paths, err, tt.want)
		}
	}
}

func TestReadInput(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, MaxInputSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, want string }{
		{filepath.Join(dir, "missing"), "does not exist"},
		{dir, "is a directory"},
		{big, "larger than 16 MiB"},
	} {
		if _, err := ReadInput(tt.path); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ReadInput(%s) = %v, want %q", tt.path, err, tt.want)
		}
	}
	Stdin = strings.NewReader("from stdin")
	defer func() { Stdin = os.Stdin }()
	if b, err := ReadInput("-"); err != nil || string(b) != "from stdin" {
		t.Errorf("ReadInput(-) = %q, %v", b, err)
	}
}

func TestMainExitCodes(t *testing.T) {
	var stderr bytes.Buffer
	Stderr = &stderr
	defer func() { Stderr = os.Stderr }()
	app := func(action ucli.ActionFunc) *ucli.App {
		return &ucli.App{Name: "tool", Flags: []ucli.Flag{&ucli.StringFlag{Name: "o"}, &ucli.BoolFlag{Name: "quiet"}}, Action: action}
	}
	var got []string
	for _, tt := range []struct {
		name   string
		args   []string
		action ucli.ActionFunc
		code   int
		stderr string
	}{
		{"ok, flags after arguments", []string{"tool", "a", "-o", "x", "b", "--quiet"}, func(c *ucli.Context) error {
			got = append(c.Args().Slice(), c.String("o"))
			return nil
		}, 0, ""},
		{"error", []string{"tool"}, func(*ucli.Context) error { return errors.New("it broke") }, 1, "tool: error: it broke\n"},
		{"usage", []string{"tool"}, func(*ucli.Context) error { return Usagef("bad %s", "args") }, 2, "tool: error: bad args\ntool: run 'tool --help' for usage\n"},
		{"unknown flag", []string{"tool", "--nope"}, func(*ucli.Context) error { return nil }, 2, "tool: error: unknown flag -nope\n"},
		{"exit code", []string{"tool"}, func(*ucli.Context) error { return &ExitCodeError{Code: 3, Err: errors.New("three")} }, 3, "tool: error: three\n"},
		{"panic", []string{"tool"}, func(*ucli.Context) error { panic("boom") }, 1, "tool: error: internal error: boom\n"},
	} {
		stderr.Reset()
		if code := Main(app(tt.action), tt.args); code != tt.code {
			t.Errorf("%s: exit %d, want %d", tt.name, code, tt.code)
		}
		if !strings.HasPrefix(stderr.String(), tt.stderr) {
			t.Errorf("%s: stderr %q, want prefix %q", tt.name, stderr.String(), tt.stderr)
		}
	}
	if strings.Join(got, ",") != "a,b,x" {
		t.Errorf("reordered args: %v", got)
	}
}

func TestCheckOutputsParent(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := CheckOutputs(WriteOptions{}, filepath.Join(file, "sub", "out.pem"))
	if err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Errorf("output below a regular file: %v", err)
	}
	if err := CheckOutputs(WriteOptions{}, filepath.Join(dir, "new", "deeper", "out.pem")); err != nil {
		t.Errorf("output in directories still to be made: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); !os.IsNotExist(err) {
		t.Errorf("CheckOutputs created a directory: %v", err)
	}
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o555)
		err := CheckOutputs(WriteOptions{}, filepath.Join(ro, "out.pem"))
		if err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("read-only directory: %v", err)
		}
	}
}
