// Command acme obtains a certificate from an ACME CA (Let's Encrypt by
// default) for a CSR made with csr: the private key never leaves this
// machine. It answers the CA's HTTP-01 challenge by a built-in listener
// (--http) or by files under a site's webroot (--webroot), and writes the
// chain, leaf first and verified, without the root.
package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/certseal/certseal/internal/acme"
	"github.com/certseal/certseal/internal/cli"
	"github.com/certseal/certseal/pkg/x509util"
	ucli "github.com/urfave/cli/v2"
)

const tool = "acme"

// defaultAccountName is the account key's file name beside the output.
const defaultAccountName = "acme-account.key"

func main() { os.Exit(cli.Main(newApp(), os.Args)) }

func newApp() *ucli.App {
	return &ucli.App{
		Name:      tool,
		Usage:     "obtain a certificate for a CSR from an ACME CA (Let's Encrypt)",
		UsageText: "acme --csr FILE --email ADDR (--http ADDR | --webroot DIR) [options]",
		Description: `The CSR's DNS names (and IP addresses, where the CA allows them) are ordered
in one certificate. The CA checks that you control each name by fetching
http://NAME/.well-known/acme-challenge/TOKEN on port 80:
  --http :80        answers from a listener this command starts for the run;
  --webroot DIR     writes the answer under DIR for the web server that serves
                    DIR as the site's root, and removes it afterwards.
The account key is created on first use (mode 0600) beside the output, or in
--account FILE, and reused afterwards.

Examples:
  csr -c server.csr -k server.key example.com
  acme --csr server.csr --email admin@example.com --http :80 -o server.pem
  acme --csr server.csr --email admin@example.com --webroot /var/www/html --staging
  acme --csr server.csr --email me@example.com --directory https://ca.internal/acme/directory \
       --directory-ca ca.pem --roots ca.pem --http :80`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "csr", Aliases: []string{"c"}, Usage: "the certificate signing request `FILE` ('-' for stdin)"},
			&ucli.StringFlag{Name: "email", Aliases: []string{"e"}, Usage: "the account's contact e-mail `ADDR`"},
			&ucli.StringFlag{Name: "out", Aliases: []string{"o"}, Value: "server.pem", Usage: "write the chain (leaf first, no root) to `FILE` ('-' for stdout)"},
			&ucli.StringFlag{Name: "http", Usage: "answer HTTP-01 on a built-in listener at `ADDR` (e.g. :80)"},
			&ucli.StringFlag{Name: "webroot", Usage: "answer HTTP-01 by files under the site root `DIR` served on port 80 elsewhere"},
			&ucli.StringFlag{Name: "directory", Usage: "the ACME directory `URL` (default: Let's Encrypt)"},
			&ucli.BoolFlag{Name: "staging", Usage: "use Let's Encrypt's staging directory (untrusted test certificates)"},
			&ucli.StringFlag{Name: "directory-ca", Usage: "trust the CA certificates in `FILE` for the HTTPS connection to the directory"},
			&ucli.StringFlag{Name: "roots", Usage: "verify the issued chain against the root(s) in `FILE` instead of the system roots"},
			&ucli.StringFlag{Name: "account", Usage: "the account key `FILE` (default: " + defaultAccountName + " beside the output)"},
			&ucli.DurationFlag{Name: "timeout", Value: 5 * time.Minute, Usage: "give up after `DURATION`"},
			&ucli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "overwrite an existing output (renewal)"},
		},
		Action: run,
	}
}

type options struct {
	csrPath, email, out, httpAddr, webroot string
	directory, directoryCA, roots, account string
	timeout                                time.Duration
	force                                  bool
}

func parseFlags(c *ucli.Context) (*options, error) {
	if c.NArg() > 0 {
		return nil, cli.Usagef("unexpected argument %q; the names come from the CSR", c.Args().First())
	}
	o := &options{
		csrPath: c.String("csr"), email: c.String("email"), out: c.String("out"),
		httpAddr: c.String("http"), webroot: c.String("webroot"),
		directory: c.String("directory"), directoryCA: c.String("directory-ca"),
		roots: c.String("roots"), account: c.String("account"),
		timeout: c.Duration("timeout"), force: c.Bool("force"),
	}
	switch {
	case o.csrPath == "":
		return nil, cli.Usagef("--csr FILE is required (make one with 'csr')")
	case o.email == "":
		return nil, cli.Usagef("--email ADDR is required: the CA writes to it about the account")
	case !strings.Contains(o.email, "@") || strings.ContainsAny(o.email, " \t,<>"):
		return nil, cli.Usagef("--email %q is not an e-mail address", o.email)
	case o.httpAddr == "" && o.webroot == "":
		return nil, cli.Usagef("say how to answer the CA's challenge: --http ADDR (a built-in listener, e.g. :80) or --webroot DIR")
	case o.httpAddr != "" && o.webroot != "":
		return nil, cli.Usagef("--http and --webroot are alternatives; give one")
	case c.Bool("staging") && o.directory != "":
		return nil, cli.Usagef("--staging and --directory are alternatives; give one")
	case o.timeout <= 0:
		return nil, cli.Usagef("--timeout must be positive")
	}
	if o.directory == "" {
		o.directory = acme.LetsEncryptURL
		if c.Bool("staging") {
			o.directory = acme.LetsEncryptStagingURL
		}
	} else if !strings.HasPrefix(o.directory, "https://") {
		return nil, cli.Usagef("--directory must be an https:// URL, not %q", o.directory)
	}
	if o.account == "" {
		dir := "."
		if o.out != "-" {
			dir = filepath.Dir(o.out)
		}
		o.account = filepath.Join(dir, defaultAccountName)
	}
	return o, nil
}

func run(c *ucli.Context) error {
	o, err := parseFlags(c)
	if err != nil {
		return err
	}
	data, err := cli.ReadInput(o.csrPath)
	if err != nil {
		return err
	}
	csrName := o.csrPath
	if csrName == "-" {
		csrName = "standard input"
	}
	csr, err := x509util.ParseCSR(data)
	if err != nil {
		return fmt.Errorf("%s: %v", csrName, strings.TrimPrefix(err.Error(), "x509util: "))
	}
	ids, err := acme.Identifiers(csr)
	if err != nil {
		return fmt.Errorf("%s: %v", csrName, strings.TrimPrefix(err.Error(), "acme: "))
	}
	wopts := cli.WriteOptions{Force: o.force}
	if err := cli.CheckOutputs(wopts, o.out); err != nil {
		return err
	}
	dirPool, err := loadPool(o.directoryCA)
	if err != nil {
		return err
	}
	roots, err := loadPool(o.roots)
	if err != nil {
		return err
	}
	if o.webroot != "" {
		if st, err := os.Stat(o.webroot); err != nil || !st.IsDir() {
			return fmt.Errorf("the webroot %s is not a directory", o.webroot)
		}
	}
	key, err := accountKey(o.account)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	var solver acme.Solver
	if o.httpAddr != "" {
		hs := &acme.HTTPSolver{}
		closeListener, err := listenHTTP(o.httpAddr, hs)
		if err != nil {
			return err
		}
		defer closeListener()
		solver = hs
	} else {
		solver = &acme.WebrootSolver{Dir: o.webroot}
	}

	client, err := acme.NewClient(acme.Config{
		DirectoryURL: o.directory,
		AccountKey:   key,
		Contact:      []string{"mailto:" + o.email},
		RootCAs:      dirPool,
		UserAgent:    "certseal-acme/" + cli.Version(),
		Logf:         func(f string, a ...any) { cli.Infof(tool, f, a...) },
	})
	if err != nil {
		return err
	}
	acct, err := client.Register(ctx)
	if err != nil {
		return describe(err, o)
	}
	if acct.Created && acct.Terms != "" {
		cli.Infof(tool, "the new account agreed to the CA's terms of service: %s", acct.Terms)
	}
	certs, err := client.Obtain(ctx, csr, solver)
	if err != nil {
		return describe(err, o)
	}
	res, err := x509util.OrderChain(certs, x509util.ChainOptions{Roots: roots, Now: time.Now(), Host: ids[0].Value})
	if err != nil {
		hint := "pass the CA's root with --roots FILE"
		if o.roots != "" {
			hint = "is " + o.roots + " the CA's root?"
		}
		return fmt.Errorf("the CA's chain does not verify: %s; %s", strings.TrimPrefix(err.Error(), "x509util: "), hint)
	}
	for _, w := range res.Warnings {
		if w.Code != x509util.CodeDropped && w.Code != x509util.CodePathChosen {
			cli.Warnf(tool, "%s", w.Message)
		}
	}
	if err := cli.WriteOutputs(wopts, cli.Output{Path: o.out, Data: x509util.EncodeCertificatesPEM(res.Chain...)}); err != nil {
		return err
	}
	if o.out != "-" {
		leaf := res.Chain[0]
		cli.Infof(tool, "wrote %s (leaf and %d intermediate(s), verified against %s) to %s",
			x509util.Describe(leaf), len(res.Chain)-1, res.Root.Subject.CommonName, o.out)
		cli.Infof(tool, "renew before %s: run the same command with --force", leaf.NotAfter.Add(-leaf.NotAfter.Sub(leaf.NotBefore)/3).UTC().Format("2006-01-02"))
	}
	return nil
}

// describe turns the CA's refusals into one readable line with what to do.
func describe(err error, o *options) error {
	msg := strings.TrimPrefix(err.Error(), "acme: ")
	var (
		ce *acme.ChallengeError
		rl *acme.RateLimitError
		de *acme.DirectoryError
	)
	switch {
	case errors.As(err, &ce):
		where := "the listener at " + o.httpAddr + " must receive port 80 of " + ce.Identifier
		if o.webroot != "" {
			where = o.webroot + " must be served as http://" + ce.Identifier + "/"
		}
		return fmt.Errorf("%s\n%s: %s", msg, tool, where)
	case errors.As(err, &rl):
		return errors.New(msg)
	case errors.As(err, &de):
		if strings.Contains(msg, "unknown authority") && o.directoryCA == "" {
			msg = strings.Replace(msg, "(a private ACME CA's root must be trusted explicitly)",
				"(for a private ACME CA pass its root with --directory-ca FILE)", 1)
		}
		return errors.New(msg)
	}
	return errors.New(msg)
}

func loadPool(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	data, err := cli.ReadInput(path)
	if err != nil {
		return nil, err
	}
	certs, err := x509util.ParseCertificates(data, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, strings.TrimPrefix(err.Error(), "x509util: "))
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// accountKey reads the account key, or makes one (ECDSA P-256) and
// writes it with mode 0600 on first use.
func accountKey(path string) (crypto.Signer, error) {
	if _, err := os.Lstat(path); err == nil {
		data, err := cli.ReadInput(path)
		if err != nil {
			return nil, err
		}
		key, err := x509util.ParsePrivateKey(data, "")
		if err != nil {
			return nil, fmt.Errorf("the account key %s: %v", path, strings.TrimPrefix(err.Error(), "x509util: "))
		}
		if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
			cli.Warnf(tool, "the account key %s is readable by others (mode %04o); chmod 600 it", path, st.Mode().Perm())
		}
		return key, nil
	}
	key, err := x509util.GenerateKey(x509util.KeySpec{Type: x509util.ECDSA, Size: 256}, nil)
	if err != nil {
		return nil, err
	}
	pemKey, err := x509util.MarshalPrivateKeyPEM(key)
	if err != nil {
		return nil, err
	}
	if err := cli.WriteOutputs(cli.WriteOptions{}, cli.Output{Path: path, Data: pemKey, Secret: true}); err != nil {
		return nil, err
	}
	cli.Infof(tool, "made a new account key in %s (mode 0600; keep it to reuse the account)", path)
	return key, nil
}

// listenHTTP starts the built-in HTTP-01 listener before anything is
// ordered, so a busy port is reported first.
func listenHTTP(addr string, h http.Handler) (func(), error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) {
			err = oe.Err
		}
		return nil, fmt.Errorf("cannot listen on %s for the HTTP-01 challenge: %v", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    8 << 10,
	}
	go srv.Serve(l)
	return func() { srv.Close() }, nil
}
