package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"seal": func() { os.Exit(cliMain()) },
	})
}

func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			writeTestKeys(env.T().(testing.TB), env.WorkDir)
			env.Setenv("CERTSEAL_NOW", testNow.Format("2006-01-02T15:04:05Z"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// perm FILE MODE checks a file's permission bits (octal).
			"perm": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: perm FILE MODE")
				}
				st, err := os.Stat(ts.MkAbs(args[0]))
				ts.Check(err)
				got := st.Mode().Perm()
				var want os.FileMode
				for _, c := range args[1] {
					want = want*8 + os.FileMode(c-'0')
				}
				if (got == want) == neg {
					ts.Fatalf("%s has mode %o, want %s%o", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
				}
			},
		},
	})
}
