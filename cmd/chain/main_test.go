package main

import (
	"crypto"
	"crypto/x509"
	"github.com/certseal/certseal/internal/testutil"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certseal/certseal/internal/cli"
	"github.com/certseal/certseal/pkg/x509util"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"chain": func() { os.Exit(cli.Main(newApp(), os.Args)) },
	})
}

// pkiNow is when the test PKI is issued; scripts run at CERTSEAL_NOW.
var pkiNow = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(env *testscript.Env) error {
			env.Setenv("CERTSEAL_NOW", "2025-07-01T00:00:00Z")
			return nil
		},
		Cmds: chainCmds(),
	})
}

// genPKI writes a small PKI into the script's directory:
//
//	root.pem        "Test Root" (self-signed CA, 10 years)
//	inter.pem       "Test Intermediate", issued by the root (5 years)
//	leaf.pem        www.example.com, issued by the intermediate (1 year)
//	leaf.key        its key; wrong.key: another key
//	leaf2.pem       api.example.com, also issued by the intermediate
//	other.pem       "Unrelated Root", self-signed
//	expect.pem      leaf + inter; expect-root.pem: leaf + inter + root
//	server.p12      leaf.key + leaf + inter, password in pass.txt
func genPKI(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: genpki")
	}
	must := func(err error) {
		if err != nil {
			ts.Fatalf("genpki: %v", err)
		}
	}
	key := func() crypto.Signer {
		k, err := x509util.GenerateKey(x509util.KeySpec{Type: x509util.ECDSA}, nil)
		must(err)
		return k
	}
	year := 365 * 24 * time.Hour
	rootKey, interKey, leafKey, leaf2Key, otherKey := key(), key(), key(), key(), key()
	root, err := x509util.SelfSign(rootKey, x509util.Options{Subject: x509util.Subject{CommonName: "Test Root"}, IsCA: true, Now: pkiNow, Validity: 10 * year})
	must(err)
	other, err := x509util.SelfSign(otherKey, x509util.Options{Subject: x509util.Subject{CommonName: "Unrelated Root"}, IsCA: true, Now: pkiNow, Validity: 10 * year})
	must(err)
	sign := func(k crypto.Signer, parent *x509.Certificate, parentKey crypto.Signer, o x509util.Options) *x509.Certificate {
		o.Now = pkiNow
		csr, err := x509util.CreateCSR(k, o)
		must(err)
		c, err := x509util.SignCSR(csr, parent, parentKey, o)
		must(err)
		return c
	}
	inter := sign(interKey, root, rootKey, x509util.Options{Subject: x509util.Subject{CommonName: "Test Intermediate"}, IsCA: true, Validity: 5 * year})
	leaf := sign(leafKey, inter, interKey, x509util.Options{Subject: x509util.Subject{CommonName: "www.example.com"}, Validity: year})
	leaf2 := sign(leaf2Key, inter, interKey, x509util.Options{Subject: x509util.Subject{CommonName: "api.example.com"}, Validity: year})

	write := func(name string, data []byte) {
		must(os.WriteFile(filepath.Join(ts.Getenv("WORK"), name), data, 0o644))
	}
	pemOf := x509util.EncodeCertificatesPEM
	write("root.pem", pemOf(root))
	write("inter.pem", pemOf(inter))
	write("leaf.pem", pemOf(leaf))
	write("leaf2.pem", pemOf(leaf2))
	write("other.pem", pemOf(other))
	write("expect.pem", pemOf(leaf, inter))
	write("expect-root.pem", pemOf(leaf, inter, root))
	var der []byte
	for _, c := range []*x509.Certificate{leaf, inter} {
		der = append(der, c.Raw...)
	}
	write("expect.der", der)
	write("inter.der", inter.Raw)
	kp, err := x509util.MarshalPrivateKeyPEM(leafKey)
	must(err)
	write("leaf.key", kp)
	wk, err := x509util.MarshalPrivateKeyPEM(key())
	must(err)
	write("wrong.key", wk)
	p12, err := x509util.EncodePKCS12(leafKey, []*x509.Certificate{leaf, inter}, "s3cret", x509util.PKCS12Options{})
	must(err)
	write("server.p12", p12)
	write("pass.txt", []byte("s3cret\n"))
	write("wrongpass.txt", []byte("nope\n"))
}

// chainCmds are the shared script commands (exits, perm, notemp) plus genpki.
func chainCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	cmds := testutil.ScriptCmds()
	cmds["genpki"] = genPKI
	return cmds
}
