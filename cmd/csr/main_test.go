package main

import (
	"testing"

	"github.com/certseal/certseal/internal/testutil"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"csr": main})
}

func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:       "testdata",
		Cmds:      testutil.ScriptCmds(),
		Condition: testutil.ScriptCondition,
	})
}
