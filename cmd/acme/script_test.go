package main

import (
	"github.com/certseal/certseal/internal/acme/acmetest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/certseal/certseal/internal/cli"
	"github.com/certseal/certseal/pkg/x509util"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(cleanupM{m}, map[string]func(){
		"acme": func() { os.Exit(cli.Main(newApp(), os.Args)) },
	})
}

// cleanupM removes the pebble build once every test has run.
type cleanupM struct{ m *testing.M }

func (c cleanupM) Run() int {
	code := c.m.Run()
	acmetest.RemoveShared()
	return code
}

// TestScript covers flags and usage errors; nothing there reaches a CA
// other than a refused loopback port.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			key, err := x509util.GenerateKey(x509util.KeySpec{Type: x509util.ECDSA}, nil)
			if err != nil {
				return err
			}
			write := func(name string, opts x509util.Options) error {
				csr, err := x509util.CreateCSR(key, opts)
				if err != nil {
					return err
				}
				return os.WriteFile(filepath.Join(env.WorkDir, name), x509util.EncodeCSRPEM(csr), 0o644)
			}
			if err := write("server.csr", x509util.Options{Subject: x509util.Subject{CommonName: "example.com"}}); err != nil {
				return err
			}
			return write("email.csr", x509util.Options{Subject: x509util.Subject{CommonName: "example.com"}, SANs: []string{"admin@example.com"}})
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// perm FILE MODE checks a file's permission bits (octal).
			"perm": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: perm FILE MODE")
				}
				st, err := os.Stat(ts.MkAbs(args[0]))
				ts.Check(err)
				want, err := strconv.ParseUint(args[1], 8, 32)
				ts.Check(err)
				if got := st.Mode().Perm(); (got == os.FileMode(want)) == neg {
					ts.Fatalf("%s has mode %04o, want %s%04o", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
				}
			},
		},
	})
}
