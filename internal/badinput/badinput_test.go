package badinput

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/certseal/certseal/internal/testutil"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A tcase runs one command on one bad input.
type tcase struct {
	name string
	// prog is the command: a name in the build directory, or a path
	// with $F (fixtures) or $W (the case's work directory).
	prog  string
	args  []string // $F and $W are expanded
	stdin string
	code  int    // the exit status wanted: 1, or 2 for usage errors
	want  string // regexp the error line must match ("" = any)
	// setup prepares the work directory beyond the standard contents.
	setup func(t *testing.T, work string)
}

// kind is one bad file for a slot, with what the error must say.
type kind struct {
	name, path, want string
}

// Messages that cli.ReadInput gives for every command.
const (
	wantMissing    = `does not exist`
	wantDir        = `is a directory`
	wantUnreadable = `not readable \(permission denied\)`
	wantHuge       = `is larger than 16 MiB`
)

// parseWants are what a slot's parser says about garbage (and random
// bytes), an empty file and a truncated one.
type parseWants struct{ garbage, empty, truncated string }

var (
	pemWants  = parseWants{`not a certificate, key or CSR in any known format`, `the input is empty`, `PEM block is truncated or malformed`}
	jsonWants = parseWants{`invalid JSON: invalid character`, `invalid JSON: EOF`, `invalid JSON: unexpected EOF`}
)

// common returns the bad files every input slot gets; halfFile is the
// slot's own kind of file cut in half.
func common(halfFile string, w parseWants) []kind {
	return []kind{
		{"garbage", "$F/garbage", w.garbage},
		{"empty", "$F/empty", w.empty},
		{"truncated", halfFile, w.truncated},
		{"binary", "$F/random.bin", w.garbage},
		{"huge", "$F/huge.pem", wantHuge},
		{"directory", "$F/adir", wantDir},
		{"missing", "$F/missing.pem", wantMissing},
		{"unreadable", "$F/unreadable", wantUnreadable},
	}
}

// Bad files for each kind of input slot.
var (
	certKinds = append(common("$F/half-cert.pem", pemWants),
		kind{"key-for-cert", "$F/leaf.key", `this is a private key, not a certificate|holds no certificate`},
		kind{"csr-for-cert", "$F/csr.pem", `this is a certificate request, not a certificate|holds no certificate`},
	)
	keyKinds = append(common("$F/half-key.pem", pemWants),
		kind{"cert-for-key", "$F/leaf.pem", `this is a certificate, not a private key`},
		kind{"csr-for-key", "$F/csr.pem", `this is a certificate request, not a private key`},
	)
	csrKinds = append(common("$F/half-csr.pem", pemWants),
		kind{"key-for-csr", "$F/leaf.key", `this is a private key, not a certificate request`},
		kind{"cert-for-csr", "$F/leaf.pem", `this is a certificate, not a certificate request`},
	)
	jsonKinds = append(common("$F/half.json", jsonWants),
		kind{"wrong-types", "$F/wrongtype.json", `invalid JSON: cannot unmarshal number`},
		kind{"key-for-json", "$F/leaf.key", `invalid JSON`},
	)
	passwordKinds = []kind{
		{"wrong-password", "$F/wrongpass.txt", `wrong password for the PKCS#12 file`},
		{"empty", "$F/empty", `wrong password for the PKCS#12 file`},
		{"huge", "$F/huge.pem", wantHuge},
		{"directory", "$F/adir", wantDir},
		{"missing", "$F/missing.pem", wantMissing},
		{"unreadable", "$F/unreadable", wantUnreadable},
	}
	otherKey = kind{"mismatched-key", "$F/other.key", `does not match`}
)

// slot is one input of one command: args with {X} where the file goes,
// the good file that makes the command pass the input stage (the
// control), and the bad files to try.
type slot struct {
	tool, name string
	args       []string
	good       string
	kinds      []kind
}

func without(ks []kind, name string) []kind {
	var out []kind
	for _, k := range ks {
		if k.name != name {
			out = append(out, k)
		}
	}
	return out
}

func (s slot) with(x string) []string {
	out := make([]string, len(s.args))
	for i, a := range s.args {
		out[i] = strings.ReplaceAll(a, "{X}", x)
	}
	return out
}

// acmeArgs is a complete acme command whose CA is a closed loopback port:
// it gets past every input check and fails at connecting.
func acmeArgs(port int, csr, dirCA, roots, account string) []string {
	args := []string{"--csr", csr, "--email", "a@example.com", "--http", "127.0.0.1:0",
		"--directory", "https://127.0.0.1:" + strconv.Itoa(port) + "/dir", "--account", account, "--timeout", "10s", "-o", "out.pem"}
	if dirCA != "" {
		args = append(args, "--directory-ca", dirCA)
	}
	if roots != "" {
		args = append(args, "--roots", roots)
	}
	return args
}

func slots(port int) []slot {
	signArgs := func(cain, keyin, csrin string) []string {
		return []string{"--cain", cain, "--keyin", keyin, "--csrin", csrin, "-c", "out.pem"}
	}
	return []slot{
		{"selfsign", "--keyin", []string{"--keyin", "{X}", "-c", "out.pem", "example.com"}, "$F/leaf.key", keyKinds},
		{"csr", "--keyin", []string{"--keyin", "{X}", "-c", "out.csr", "example.com"}, "$F/leaf.key", keyKinds},
		{"csr", "--config", []string{"--config", "{X}", "-c", "out.csr", "-k", "out.key"}, "$F/req.json", jsonKinds},
		{"sign", "--cain", signArgs("{X}", "$F/ca.key", "$F/csr.pem"), "$F/ca.pem", append(certKinds[:len(certKinds):len(certKinds)],
			kind{"leaf-as-ca", "$F/leaf.pem", `is not a CA certificate`})},
		{"sign", "--keyin", signArgs("$F/ca.pem", "{X}", "$F/csr.pem"), "$F/ca.key", append(keyKinds[:len(keyKinds):len(keyKinds)], otherKey)},
		{"sign", "--csrin", signArgs("$F/ca.pem", "$F/ca.key", "{X}"), "$F/csr.pem", csrKinds},
		{"chain", "input", []string{"--no-verify", "-o", "out.pem", "{X}"}, "$F/chain.pem", certKinds},
		{"chain", "--key", []string{"--no-verify", "--key", "{X}", "-o", "out.pem", "$F/chain.pem"}, "$F/leaf.key", append(keyKinds[:len(keyKinds):len(keyKinds)], otherKey)},
		{"chain", "--roots", []string{"--roots", "{X}", "-o", "out.pem", "$F/leaf.pem"}, "$F/ca.pem", certKinds},
		{"chain", "--password-file", []string{"--password-file", "{X}", "--no-verify", "-o", "out.pem", "$F/bundle.p12"}, "$F/pass.txt", passwordKinds},
		{"acme", "--csr", acmeArgs(port, "{X}", "", "", "$F/acct.key"), "$F/csr.pem", csrKinds},
		{"acme", "--directory-ca", acmeArgs(port, "$F/csr.pem", "{X}", "", "$F/acct.key"), "$F/ca.pem", certKinds},
		{"acme", "--roots", acmeArgs(port, "$F/csr.pem", "", "{X}", "$F/acct.key"), "$F/ca.pem", certKinds},
		// A missing account key is not an error: acme makes one.
		{"acme", "--account", acmeArgs(port, "$F/csr.pem", "", "", "{X}"), "$F/acct.key", without(keyKinds, "missing")},
		// seal reads KEYS/server.pem and KEYS/server.key: {X} is a
		// directory made per case whose server.pem (or .key) links to
		// the bad file.
		{"seal", "server.pem", []string{"--data", "$F/site", "--keys", "{X}", "-o", "out"}, "$F/leaf.pem", append(certKinds[:len(certKinds):len(certKinds)],
			kind{"ca-for-leaf", "$F/ca.pem", `does not match`})},
		{"seal", "server.key", []string{"--data", "$F/site", "--keys", "{X}", "-o", "out"}, "$F/leaf.key", append(keyKinds[:len(keyKinds):len(keyKinds)], otherKey)},
	}
}

// acmeControl is what acme says when every input was accepted and only
// the (closed) CA port is left.
const acmeControl = `connection refused`

// sealKeysDir makes WORK/keys with server.pem and server.key linking to
// the given files, for the seal slots.
func sealKeysDir(work, cert, key string) string {
	dir := filepath.Join(work, "keys")
	os.MkdirAll(dir, 0o755)
	os.Symlink(cert, filepath.Join(dir, "server.pem"))
	os.Symlink(key, filepath.Join(dir, "server.key"))
	return dir
}

// cases returns every bad-input case. fx.dir replaces $F in slot files
// for seal's key directories.
func cases(fx *fixtures) []tcase {
	var cs []tcase
	for _, s := range slots(fx.port) {
		for _, k := range s.kinds {
			c := tcase{name: s.tool + "/" + s.name + "/" + k.name, prog: s.tool, code: 1, want: k.want}
			if s.tool == "seal" {
				cert, key := fx.dir+"/leaf.pem", fx.dir+"/leaf.key"
				bad := strings.ReplaceAll(k.path, "$F", fx.dir)
				if s.name == "server.pem" {
					cert = bad
				} else {
					key = bad
				}
				c.args = s.with("$W/keys")
				c.setup = func(t *testing.T, work string) { sealKeysDir(work, cert, key) }
			} else {
				c.args = s.with(k.path)
			}
			cs = append(cs, c)
		}
	}
	cs = append(cs, stdinCases()...)
	cs = append(cs, outputCases(fx)...)
	cs = append(cs, sealDataCases()...)
	cs = append(cs, usageCases()...)
	cs = append(cs, artifactCases()...)
	return cs
}

func stdinCases() []tcase {
	return []tcase{
		{name: "sign/--csrin/stdin-garbage", prog: "sign", args: []string{"--cain", "$F/ca.pem", "--keyin", "$F/ca.key", "--csrin", "-", "-c", "out.pem"}, stdin: "garbage\n", code: 1, want: `request standard input: `},
		{name: "chain/input/stdin-binary", prog: "chain", args: []string{"--no-verify", "-o", "out.pem", "-"}, stdin: "\x00\x01\x02\xff\xfe", code: 1, want: `standard input: not a certificate`},
		{name: "csr/--config/stdin-half-json", prog: "csr", args: []string{"--config", "-", "-c", "out.csr", "-k", "out.key"}, stdin: `{"CN": "exa`, code: 1, want: `standard input`},
		{name: "acme/--csr/stdin-empty", prog: "acme", args: acmeArgs(0, "-", "", "", "$F/acct.key"), stdin: "", code: 1, want: `standard input: the input is empty`},
	}
}

// outputCases: an output that exists, is a directory, is under a file,
// or is in a read-only directory. The work directory holds existing.pem
// ("keep me"), a read-only directory ro/ and a file notadir.
func outputCases(fx *fixtures) []tcase {
	type writer struct {
		tool string
		args func(out, key string) []string
	}
	writers := []writer{
		{"selfsign", func(out, key string) []string { return []string{"-c", out, "-k", key, "example.com"} }},
		{"csr", func(out, key string) []string { return []string{"-c", out, "-k", key, "example.com"} }},
		{"sign", func(out, _ string) []string {
			return []string{"--cain", "$F/ca.pem", "--keyin", "$F/ca.key", "--csrin", "$F/csr.pem", "-c", out}
		}},
		{"chain", func(out, _ string) []string { return []string{"--no-verify", "-o", out, "$F/chain.pem"} }},
		{"seal", func(out, _ string) []string {
			return []string{"--data", "$F/site", "--keys", "$F/keys-good", "-o", out}
		}},
		{"acme", func(out, _ string) []string { return acmeArgs(fx.port, "$F/csr.pem", "", "", "$F/acct.key")[:12:12] }},
	}
	var cs []tcase
	for _, w := range writers {
		add := func(name, out, key, want string) {
			args := w.args(out, key)
			if w.tool == "acme" {
				args = append(args, "-o", out)
			}
			cs = append(cs, tcase{name: w.tool + "/output/" + name, prog: w.tool, args: args, code: 1, want: want})
		}
		add("exists", "existing.pem", "new.key", `existing.pem already exists; use --force`)
		add("is-directory", "ro", "new.key", `ro is a directory`)
		// Every writer checks where its outputs go before doing any work
		// (for acme: before contacting the CA, so an issued certificate is
		// never lost to an unwritable path).
		add("under-a-file", "notadir/out.pem", "new.key", `cannot write notadir/out.pem: notadir is not a directory`)
		if w.tool == "acme" {
			// Its account key defaults to beside the output.
			cs = append(cs, tcase{name: "acme/output/read-only-dir-account",
				prog: "acme", args: append(acmeArgs(fx.port, "$F/csr.pem", "", "", "ro/acme-account.key")[:12:12], "-o", "ro/out.pem"),
				code: 1, want: `cannot write in ro \(permission denied\)`})
			continue
		}
		add("read-only-dir", "ro/out.pem", "ro/new.key", `cannot write in ro \(permission denied\)`)
		if w.tool == "selfsign" || w.tool == "csr" {
			// The key exists: the certificate or request is not written
			// either, and the key is not generated for nothing.
			add("key-exists", "new.pem", "existing.pem", `existing.pem already exists; use --force`)
			add("key-in-read-only-dir", "new.pem", "ro/new.key", `cannot write in ro \(permission denied\)`)
		}
	}
	return cs
}

func sealDataCases() []tcase {
	seal := func(name, data, want string, setup func(*testing.T, string)) tcase {
		return tcase{name: "seal/--data/" + name, prog: "seal", args: []string{"--data", data, "--keys", "$F/keys-good", "-o", "out"}, code: 1, want: want, setup: setup}
	}
	return []tcase{
		seal("missing", "$F/missing", `does not exist`, nil),
		seal("a-file", "$F/garbage", `not a directory`, nil),
		seal("empty-dir", "$F/adir", `has no files to serve`, nil),
		seal("unreadable-dir", "$W/site", `permission denied`, func(t *testing.T, w string) {
			mustWrite(t, filepath.Join(w, "site", "index.html"), []byte("hi\n"), 0o644)
			os.Chmod(filepath.Join(w, "site"), 0)
		}),
		seal("unreadable-file", "$W/site", `permission denied`, func(t *testing.T, w string) {
			mustWrite(t, filepath.Join(w, "site", "index.html"), []byte("hi\n"), 0o644)
			mustWrite(t, filepath.Join(w, "site", "secret.html"), []byte("hi\n"), 0)
		}),
		seal("symlink-outside", "$W/site", `outside the data directory`, func(t *testing.T, w string) {
			mustWrite(t, filepath.Join(w, "site", "index.html"), []byte("hi\n"), 0o644)
			mustSymlink(t, filepath.Join(w, "..", "..", "fix", "leaf.key"), filepath.Join(w, "site", "key.html"))
		}),
	}
}

func usageCases() []tcase {
	u := func(tool, name, want string, args ...string) tcase {
		return tcase{name: tool + "/usage/" + name, prog: tool, args: args, code: 2, want: want}
	}
	return []tcase{
		u("selfsign", "unknown-flag", `unknown flag -bogus`, "--bogus", "example.com"),
		u("selfsign", "no-name", `expected exactly one COMMON-NAME`),
		u("selfsign", "bad-days", `invalid value "zero" for flag -d`, "-d", "zero", "example.com"),
		u("csr", "unknown-flag", `unknown flag -bogus`, "--bogus", "example.com"),
		u("csr", "no-name", `expected COMMON-NAME`),
		u("sign", "unknown-flag", `unknown flag -bogus`, "--bogus"),
		u("sign", "argument", `sign takes no arguments`, "stray"),
		u("chain", "unknown-flag", `unknown flag -bogus`, "--bogus", "$F/chain.pem"),
		u("chain", "two-stdin", `can be read only once`, "-", "-"),
		u("acme", "unknown-flag", `unknown flag -bogus`, "--bogus"),
		u("acme", "no-csr", `--csr FILE is required`, "--email", "a@example.com", "--http", ":0"),
		u("seal", "unknown-flag", `unknown flag -bogus`, "--bogus"),
		u("seal", "no-data", `name the site to seal with --data DIR`, "--keys", "$F/keys-good"),
		{name: "artifact/usage/argument", prog: "art-good", args: []string{"stray"}, code: 2, want: `unexpected argument "stray"`},
	}
}

// artifactCases run damaged copies of a sealed artifact (makeArtifacts).
// The runtime names itself after its file.
func artifactCases() []tcase {
	kinds := []struct{ name, want string }{
		{"minus-one-byte", `carries no sealed site`},
		{"no-trailer", `carries no sealed site`},
		{"half-trailer", `carries no sealed site`},
		{"half-payload", `carries no sealed site`},
		{"appended", `carries no sealed site`},
		{"huge", `carries no sealed site`},
		{"flipped-payload", `checksum mismatch`},
		{"flipped-checksum", `checksum mismatch`},
		{"flipped-version", `format version`},
		{"flipped-length", `claims .* bytes`},
		{"resealed-random", `malformed payload`},
		{"resealed-garbage-key", `loading the certificate and key: .*key`},
		{"resealed-other-key", `private key does not match`},
		{"resealed-garbage-cert", `loading the certificate and key: .*certificate`},
		{"resealed-key-as-cert", `loading the certificate and key: .*certificate`},
		{"resealed-no-cert", `no certificate or key`},
	}
	var cs []tcase
	for _, k := range kinds {
		cs = append(cs, tcase{name: "artifact/" + k.name, prog: "$F/art-" + k.name,
			args: []string{"--https", "127.0.0.1:0", "--http", "-"}, code: 1, want: k.want})
	}
	return cs
}

// env is what every case needs.
type env struct {
	bin   string // built commands
	fx    *fixtures
	cases string // parent of the work directories
	drop  bool   // run children as nobody (the test runs as root)
}

func buildCommands(t *testing.T, dir string) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not in PATH")
	}
	start := time.Now()
	cmd := exec.Command(goTool, "build", "-trimpath", "-o", dir+string(filepath.Separator), "./cmd/...")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the commands: %v\n%s", err, out)
	}
	t.Logf("built the commands in %v", time.Since(start).Round(time.Millisecond))
}

// accessibleTempDir returns a temporary directory that the nobody user
// can enter, removed at the end of the test even if cases left
// unreadable directories in it.
func accessibleTempDir(t *testing.T, pattern string) string {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if d != nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
		os.RemoveAll(dir)
	})
	return dir
}

// chownTree gives dir to nobody, so that the children (run as nobody)
// can read the fixtures that are meant to be readable.
func chownTree(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, nobody, nobody)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBadInput(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("uses Linux process credentials and sparse files")
	}
	if testing.Short() {
		t.Skip("builds every command and runs hundreds of processes")
	}
	start := time.Now()
	e := &env{bin: accessibleTempDir(t, "badinput-bin-"), drop: os.Geteuid() == 0}
	buildCommands(t, e.bin)
	base := accessibleTempDir(t, "badinput-")
	e.fx = makeFixtures(t, filepath.Join(base, "fix"), e.bin)
	e.cases = filepath.Join(base, "cases")
	if err := os.Mkdir(e.cases, 0o755); err != nil {
		t.Fatal(err)
	}
	if e.drop {
		chownTree(t, base)
	} else {
		t.Log("not root: the commands run as this user; unreadable files are unreadable to it")
	}
	// The good artifact's runtime is run by name in a usage case: copy it
	// where prog names resolve.
	if err := copyFile(filepath.Join(e.fx.dir, "art-good"), filepath.Join(e.bin, "art-good")); err != nil {
		t.Fatal(err)
	}

	t.Run("controls", func(t *testing.T) { testControls(t, e) })
	if t.Failed() {
		t.Fatal("the controls failed: the bad-input cases would prove nothing")
	}
	all := cases(e.fx)
	seen := map[string]bool{}
	for i, c := range all {
		if seen[c.name] {
			t.Fatalf("duplicate case name %s", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) { runCase(t, e, c, i) })
	}
	perTool := map[string]int{}
	for _, c := range all {
		perTool[strings.SplitN(c.name, "/", 2)[0]]++
	}
	var tools []string
	for k, n := range perTool {
		tools = append(tools, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(tools)
	t.Logf("%d bad-input cases (%s) in %v", len(all), strings.Join(tools, ", "), time.Since(start).Round(time.Second))
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o755)
}

// testControls runs each slot with its good file, and the good artifact:
// each must get past its input checks, or the cases test nothing.
func testControls(t *testing.T, e *env) {
	for i, s := range slots(e.fx.port) {
		t.Run(s.tool+"/"+s.name, func(t *testing.T) {
			work := newWork(t, e, fmt.Sprintf("control-%d", i))
			args := s.with(s.good)
			if s.tool == "seal" {
				args = s.with(sealKeysDir(work, e.fx.dir+"/leaf.pem", e.fx.dir+"/leaf.key"))
			}
			res := run(t, e, s.tool, expand(args, e.fx.dir, work), work, "", 30*time.Second)
			if s.tool == "acme" {
				if res.code != 1 || !strings.Contains(res.stderr, acmeControl) {
					t.Fatalf("acme with good inputs: exit %d, want 1 with %q (the only failure left is the closed CA port)\n%s", res.code, acmeControl, res.stderr)
				}
				return
			}
			if res.code != 0 {
				t.Fatalf("%s %s with the good file: exit %d\n%s", s.tool, strings.Join(args, " "), res.code, res.stderr)
			}
		})
	}
	t.Run("artifact", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(e.fx.dir, "art-good"), "--https", "127.0.0.1:0", "--http", "-")
		var stderr testutil.SyncBuffer // written by exec's copying goroutine while we poll
		cmd.Stderr = &stderr
		e.credentials(cmd)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		for !strings.Contains(stderr.String(), "serving") {
			if ctx.Err() != nil {
				t.Fatalf("the good artifact did not start serving:\n%s", stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func (e *env) credentials(cmd *exec.Cmd) {
	if e.drop {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
}

// newWork makes a case's work directory: existing.pem ("keep me"), a
// read-only directory ro/, a file notadir, and tmp/ (TMPDIR).
func newWork(t *testing.T, e *env, name string) string {
	t.Helper()
	work := filepath.Join(e.cases, name)
	mustWrite(t, filepath.Join(work, "existing.pem"), []byte("keep me\n"), 0o600)
	mustWrite(t, filepath.Join(work, "notadir"), []byte("a file\n"), 0o644)
	for _, d := range []string{"ro", "tmp"} {
		if err := os.Mkdir(filepath.Join(work, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if e.drop {
		chownTree(t, work)
	}
	os.Chmod(filepath.Join(work, "ro"), 0o555)
	return work
}

func expand(args []string, fix, work string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.NewReplacer("$F", fix, "$W", work).Replace(a)
	}
	return out
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, e *env, prog string, args []string, work, stdin string, timeout time.Duration) result {
	t.Helper()
	if !strings.Contains(prog, "/") {
		prog = filepath.Join(e.bin, prog)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = work
	cmd.Env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + work,
		"TMPDIR=" + filepath.Join(work, "tmp"),
		"CERTSEAL_NOW=" + now.Format(time.RFC3339),
		"LANG=C",
	}
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	e.credentials(cmd)
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within %v\nstderr:\n%s", filepath.Base(prog), timeout, stderr.String())
	}
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("running %s: %v", prog, err)
		}
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("%s was killed by %v\nstderr:\n%s", filepath.Base(prog), ws.Signal(), stderr.String())
		}
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func runCase(t *testing.T, e *env, c tcase, i int) {
	work := newWork(t, e, strconv.Itoa(i))
	if c.setup != nil {
		c.setup(t, work)
	}
	args := expand(c.args, e.fx.dir, work)
	prog := strings.NewReplacer("$F", e.fx.dir, "$W", work).Replace(c.prog)
	tool := filepath.Base(prog)
	before := snapshot(t, e.fx.dir, work)
	res := run(t, e, prog, args, work, c.stdin, 30*time.Second)
	after := snapshot(t, e.fx.dir, work)
	t.Logf("%s %s\nexit %d\n%s", tool, strings.Join(c.args, " "), res.code, res.stderr)

	if res.code != c.code {
		t.Errorf("exit status %d, want %d", res.code, c.code)
	}
	for _, s := range []string{res.stdout, res.stderr} {
		if strings.Contains(s, "panic:") || strings.Contains(s, "goroutine ") {
			t.Errorf("the command panicked")
		}
	}
	if res.stdout != "" {
		t.Errorf("stdout is not empty after a failure: %q", res.stdout)
	}
	checkStderr(t, tool, res.stderr, c.want)
	for _, line := range e.fx.secrets {
		if strings.Contains(res.stdout, line) || strings.Contains(res.stderr, line) {
			t.Errorf("a line of a private key appears in the output: %s", line)
		}
	}
	for _, d := range diff(before, after) {
		t.Errorf("file system changed: %s", d)
	}
}

// checkStderr asserts the error format: exactly one "tool: error: ..."
// line, at most one "tool: ..." line after it (a hint), and before it
// only the tool's own "tool: ..." lines.
func checkStderr(t *testing.T, tool, stderr, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	prefix := tool + ": error: "
	at := -1
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			if at >= 0 {
				t.Errorf("more than one error line:\n%s", stderr)
				return
			}
			at = i
		}
	}
	if at < 0 {
		t.Errorf("no %q line on stderr:\n%s", prefix, stderr)
		return
	}
	// Progress and warnings said before the failure are fine, as long as
	// they are the tool's own lines (no raw library or runtime output).
	for _, l := range lines[:at] {
		if !strings.HasPrefix(l, tool+": ") {
			t.Errorf("unexpected line before the error: %q", l)
		}
	}
	if rest := lines[at+1:]; len(rest) > 1 {
		t.Errorf("%d lines after the error line, want at most one hint:\n%s", len(rest), stderr)
	} else if len(rest) == 1 && !strings.HasPrefix(rest[0], tool+": ") {
		t.Errorf("the hint line does not start with %q: %q", tool+": ", rest[0])
	}
	if want != "" && !regexp.MustCompile(want).MatchString(lines[at]) {
		t.Errorf("error line %q does not match %q", lines[at], want)
	}
}

// snapshot records every file under the roots: type, mode, owner-visible
// content (hashed; by size and mtime for files over 1 MiB).
func snapshot(t *testing.T, roots ...string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, root := range roots {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				m[p] = "error: " + err.Error()
				return nil
			}
			info, err := d.Info()
			if err != nil {
				m[p] = "error: " + err.Error()
				return nil
			}
			desc := fmt.Sprintf("%v", info.Mode())
			switch {
			case info.Mode().IsRegular() && info.Size() > 1<<20:
				desc += fmt.Sprintf(" size %d mtime %v", info.Size(), info.ModTime().UnixNano())
			case info.Mode().IsRegular():
				data, err := os.ReadFile(p)
				if err != nil {
					desc += " unreadable: " + err.Error()
				} else {
					desc += fmt.Sprintf(" sha256 %x", sha256.Sum256(data))
				}
			case info.Mode()&fs.ModeSymlink != 0:
				target, _ := os.Readlink(p)
				desc += " -> " + target
			}
			m[p] = desc
			return nil
		})
	}
	return m
}

func diff(before, after map[string]string) []string {
	var d []string
	for p, b := range before {
		a, ok := after[p]
		switch {
		case !ok:
			d = append(d, "removed "+p)
		case a != b:
			d = append(d, fmt.Sprintf("changed %s: %s -> %s", p, b, a))
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			d = append(d, "new file "+p)
		}
	}
	sort.Strings(d)
	return d
}
