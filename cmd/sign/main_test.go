package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/certseal/certseal/internal/testutil"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"sign": main})
}

// TestScript runs the scripts with selfsign and csr built from this module
// on PATH, since a CA and a request come first in every signing session.
func TestScript(t *testing.T) {
	bin := t.TempDir()
	cmd := exec.Command("go", "build", "-o", bin, "../selfsign", "../csr")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building selfsign and csr: %v\n%s", err, out)
	}
	testscript.Run(t, testscript.Params{
		Dir:       "testdata",
		Cmds:      testutil.ScriptCmds(),
		Condition: testutil.ScriptCondition,
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", bin+string(filepath.ListSeparator)+os.Getenv("PATH"))
			return nil
		},
	})
}
