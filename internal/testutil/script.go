package testutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// ScriptCmds are testscript commands shared by the CLI tests:
//
//	perm MODE FILE   the file's permission bits are MODE (octal)
//	notemp [DIR]     no temporary output file (.NAME.tmp-*) is left in DIR
//	                 (default: the work directory), recursively
//	exits CODE PROG [ARGS...]
//	                 runs PROG, which must exit with status CODE; its
//	                 output is kept for stdout/stderr checks
func ScriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"perm": func(ts *testscript.TestScript, neg bool, args []string) {
			if len(args) != 2 {
				ts.Fatalf("usage: perm MODE FILE")
			}
			want, err := strconv.ParseUint(args[0], 8, 32)
			if err != nil {
				ts.Fatalf("bad mode %q", args[0])
			}
			st, err := os.Stat(ts.MkAbs(args[1]))
			ts.Check(err)
			got := st.Mode().Perm()
			if (got == fs.FileMode(want)) == neg {
				ts.Fatalf("%s has mode %#o; want %s%#o", args[1], got, map[bool]string{true: "not ", false: ""}[neg], want)
			}
		},
		"exits": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) < 2 {
				ts.Fatalf("usage: exits CODE PROG [ARGS...]")
			}
			want, err := strconv.Atoi(args[0])
			if err != nil {
				ts.Fatalf("bad exit code %q", args[0])
			}
			got := 0
			if err := ts.Exec(args[1], args[2:]...); err != nil {
				var ee *exec.ExitError
				if !errors.As(err, &ee) {
					ts.Fatalf("running %s: %v", args[1], err)
				}
				got = ee.ExitCode()
			}
			if got != want {
				ts.Fatalf("%s exited with status %d; want %d", args[1], got, want)
			}
		},
		"notemp": func(ts *testscript.TestScript, neg bool, args []string) {
			dir := ts.Getenv("WORK")
			if len(args) > 0 {
				dir = ts.MkAbs(args[0])
			}
			var found []string
			filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && strings.Contains(d.Name(), ".tmp-") {
					found = append(found, p)
				}
				return nil
			})
			if (len(found) > 0) != neg {
				ts.Fatalf("temporary files: %v", found)
			}
		},
	}
}

// ScriptCondition answers "[root]", "[openssl]" and the like: true when the program
// is installed. When it is missing and CERTSEAL_REQUIRE_TOOLS=1 it returns
// an error, so the script fails instead of skipping.
func ScriptCondition(cond string) (bool, error) {
	switch cond {
	case "root": // root reads files whatever their mode
		return os.Geteuid() == 0, nil
	case "openssl":
		if _, err := exec.LookPath(cond); err != nil {
			if os.Getenv("CERTSEAL_REQUIRE_TOOLS") == "1" {
				return false, fmt.Errorf("%s is required (CERTSEAL_REQUIRE_TOOLS=1) but not found in PATH", cond)
			}
			return false, nil
		}
		return true, nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}
