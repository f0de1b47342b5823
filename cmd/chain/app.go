package main

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/certseal/certseal/internal/certcmd"
	"github.com/certseal/certseal/internal/cli"
	"github.com/certseal/certseal/pkg/x509util"
	ucli "github.com/urfave/cli/v2"
)

const tool = "chain"

func newApp() *ucli.App {
	return &ucli.App{
		Name:      tool,
		Usage:     "order a certificate chain (leaf first) and verify it",
		UsageText: "chain [options] FILE...",
		Description: `Reads certificates in any order and format (PEM bundles, DER, PKCS#7 .p7b,
PKCS#12 with --password-file; '-' is standard input) and writes the chain a
server sends: the leaf first, then each issuer, without the root. Certificates
not on the path are dropped with a warning.

Exit status: 0 = ordered and verified against the roots in use (--roots,
else the system roots; with --no-verify: ordered, nothing checked against
roots); 1 = no valid chain or another error; 2 = usage error.

Examples:
  chain signed.pem intermediates.pem > server.pem
  chain -o server.pem intermediate.pem cert.pem
  chain --roots my-root.pem --host www.example.com server.pem
  chain --key server.key --p12 server.p12 --password-file pass.txt cert.pem ca.p7b`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the chain to `FILE` instead of standard output"},
			&ucli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "overwrite existing output files"},
			&ucli.BoolFlag{Name: "der", Usage: "write the chain as concatenated DER instead of PEM"},
			&ucli.StringFlag{Name: "p12", Usage: "also write the key and chain as a PKCS#12 `FILE` (needs --key or a key in the input, and a password)"},
			&ucli.StringFlag{Name: "key", Usage: "private key `FILE`: picks the leaf and must match it"},
			&ucli.StringFlag{Name: "host", Usage: "host `NAME` the leaf must be valid for (also picks the leaf)"},
			&ucli.StringFlag{Name: "roots", Usage: "trust the root certificates in `FILE` instead of the system roots"},
			&ucli.BoolFlag{Name: "system-roots", Usage: "with --roots, trust the system roots as well"},
			&ucli.StringFlag{Name: "at", Usage: "check validity at `TIME` (RFC 3339, e.g. 2025-06-01T00:00:00Z) instead of now"},
			&ucli.StringFlag{Name: "purpose", Value: "server", Usage: "what the leaf is for: server, client or any"},
			&ucli.IntFlag{Name: "max-depth", Usage: "allow at most `N` intermediate CAs (0: no limit)"},
			&ucli.IntFlag{Name: "warn-days", Value: 30, Usage: "warn about certificates expiring within `N` days"},
			&ucli.BoolFlag{Name: "include-root", Usage: "keep the root at the end of the chain"},
			&ucli.BoolFlag{Name: "no-verify", Usage: "only order: stop at the last certificate whose issuer is in the input, check nothing against roots"},
			&ucli.BoolFlag{Name: "fetch", Usage: "download missing issuers from the certificates' AIA caIssuers URLs (http only)"},
			&ucli.BoolFlag{Name: "json", Usage: "print a JSON report on standard output (the chain then goes only to --output)"},
			&ucli.StringFlag{Name: "password-file", Usage: "read the PKCS#12 password from `FILE` (first line)"},
			&ucli.StringFlag{Name: "password-env", Usage: "read the PKCS#12 password from the environment variable `VAR`"},
		},
		Action: run,
	}
}

type config struct {
	output, p12   string
	force, der    bool
	asJSON, fetch bool
	password      string
}

func run(c *ucli.Context) error {
	cfg := config{output: c.String("output"), p12: c.String("p12"), force: c.Bool("force"), der: c.Bool("der"), asJSON: c.Bool("json"), fetch: c.Bool("fetch")}
	inputs := c.Args().Slice()
	if len(inputs) == 0 {
		if st, err := os.Stdin.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return cli.Usagef("no input files; name certificate files, or '-' for standard input")
		}
		inputs = []string{"-"}
	}
	stdinUses := 0
	for _, in := range inputs {
		if in == "-" {
			stdinUses++
		}
	}
	if stdinUses > 1 {
		return cli.Usagef("standard input ('-') can be read only once")
	}
	opts := x509util.ChainOptions{
		Host:        c.String("host"),
		MaxDepth:    c.Int("max-depth"),
		IncludeRoot: c.Bool("include-root"),
		NoVerify:    c.Bool("no-verify"),
	}
	var err error
	if opts.Purpose, err = x509util.ParsePurpose(c.String("purpose")); err != nil {
		return cli.Usagef("--purpose: %s", certcmd.Reason(err))
	}
	if opts.MaxDepth < 0 {
		return cli.Usagef("--max-depth must not be negative")
	}
	if d := c.Int("warn-days"); d < 0 {
		return cli.Usagef("--warn-days must not be negative")
	} else {
		opts.WarnWithin = time.Duration(d) * 24 * time.Hour
	}
	opts.Now = certcmd.Now()
	if at := c.String("at"); at != "" {
		if opts.Now, err = time.Parse(time.RFC3339, at); err != nil {
			return cli.Usagef("--at %q is not an RFC 3339 time such as 2025-06-01T00:00:00Z", at)
		}
	}
	if c.Bool("system-roots") && c.String("roots") == "" {
		return cli.Usagef("--system-roots adds to --roots; without --roots the system roots are used anyway")
	}
	if opts.NoVerify && (c.String("roots") != "") {
		return cli.Usagef("--roots and --no-verify contradict each other")
	}
	if cfg.password, err = readPassword(c); err != nil {
		return err
	}
	if cfg.p12 != "" && cfg.password == "" {
		return cli.Usagef("--p12 needs a password: use --password-file FILE or --password-env VAR")
	}
	var outPaths []string
	if cfg.output != "" {
		outPaths = append(outPaths, cfg.output)
	}
	if cfg.p12 != "" {
		if cfg.p12 == "-" {
			return cli.Usagef("--p12 needs a file name; PKCS#12 is binary and does not go to standard output")
		}
		outPaths = append(outPaths, cfg.p12)
	}
	if cfg.asJSON && cfg.output == "-" {
		return cli.Usagef("--json prints the report on standard output, so the chain cannot go there too")
	}
	// Refuse to clobber before reading or fetching anything.
	if err := cli.CheckOutputs(cli.WriteOptions{Force: cfg.force}, outPaths...); err != nil {
		return err
	}

	bag := &x509util.Bag{}
	sources := map[*x509.Certificate]string{}
	for _, in := range inputs {
		data, err := cli.ReadInput(in)
		if err != nil {
			return err
		}
		b, err := x509util.ParseBag(data, cfg.password)
		if err != nil {
			return fmt.Errorf("%s: %s", displayName(in), certcmd.Reason(err))
		}
		if len(b.Certificates) == 0 {
			return fmt.Errorf("%s: holds no certificate", displayName(in))
		}
		for _, crt := range b.Certificates {
			sources[crt] = displayName(in)
		}
		bag.Add(b)
	}
	if kp := c.String("key"); kp != "" {
		if opts.Key, err = certcmd.LoadKey(kp, "key file", cfg.password); err != nil {
			return err
		}
	} else if len(bag.Keys) == 1 {
		opts.Key = bag.Keys[0]
	} else if len(bag.Keys) > 1 {
		return cli.Usagef("the input holds %d private keys; name the leaf's with --key FILE", len(bag.Keys))
	}
	if cfg.p12 != "" && opts.Key == nil {
		return cli.Usagef("--p12 needs the private key: use --key FILE")
	}
	if !opts.NoVerify {
		if opts.Roots, err = loadRoots(c.String("roots"), c.Bool("system-roots")); err != nil {
			return err
		}
	}

	certs := bag.Certificates
	res, err := x509util.OrderChain(certs, opts)
	if cfg.fetch {
		f := newFetcher()
		for {
			mi := missingIssuer(res, err)
			if mi == nil || len(mi.AIA) == 0 {
				break
			}
			issuer, ferr := f.fetchIssuer(mi)
			if ferr != nil {
				for _, line := range strings.Split(ferr.Error(), "\n") {
					cli.Warnf(tool, "%s", line)
				}
				break
			}
			cli.Infof(tool, "fetched %s from %s", x509util.Describe(issuer), f.lastURL)
			sources[issuer] = f.lastURL
			certs = append(certs, issuer)
			res, err = x509util.OrderChain(certs, opts)
		}
	}
	return finish(cfg, certs, sources, res, err, opts)
}

func missingIssuer(res *x509util.ChainResult, err error) *x509util.MissingIssuerError {
	var mi *x509util.MissingIssuerError
	if errors.As(err, &mi) {
		return mi
	}
	if err == nil && res != nil {
		return res.MissingIssuer
	}
	return nil
}

func displayName(in string) string {
	if in == "-" {
		return "standard input"
	}
	return in
}

func readPassword(c *ucli.Context) (string, error) {
	file, env := c.String("password-file"), c.String("password-env")
	switch {
	case file != "" && env != "":
		return "", cli.Usagef("use either --password-file or --password-env, not both")
	case file != "":
		data, err := cli.ReadInput(file)
		if err != nil {
			return "", err
		}
		pw, _, _ := strings.Cut(string(data), "\n")
		return strings.TrimSuffix(pw, "\r"), nil
	case env != "":
		pw, ok := os.LookupEnv(env)
		if !ok || pw == "" {
			return "", cli.Usagef("--password-env: the environment variable %s is not set or empty", env)
		}
		return pw, nil
	}
	return "", nil
}

func loadRoots(path string, withSystem bool) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil // crypto/x509 uses the system roots
	}
	data, err := cli.ReadInput(path)
	if err != nil {
		return nil, err
	}
	roots, err := x509util.ParseCertificates(data, "")
	if err != nil {
		return nil, fmt.Errorf("roots file %s: %s", path, certcmd.Reason(err))
	}
	pool := x509.NewCertPool()
	if withSystem {
		if pool, err = x509.SystemCertPool(); err != nil {
			return nil, fmt.Errorf("cannot load the system roots: %v", err)
		}
	}
	for _, r := range roots {
		pool.AddCert(r)
	}
	return pool, nil
}

// finish prints the report and writes the outputs, or nothing on failure.
func finish(cfg config, certs []*x509.Certificate, sources map[*x509.Certificate]string, res *x509util.ChainResult, err error, opts x509util.ChainOptions) error {
	if cfg.asJSON {
		if jerr := writeJSON(certs, sources, res, err); jerr != nil {
			return jerr
		}
	}
	if err != nil {
		if res != nil {
			for _, p := range res.Problems[min(1, len(res.Problems)):] {
				cli.Infof(tool, "%s", p.Message)
			}
		}
		return &cli.ExitCodeError{Code: cli.ExitError, Err: userError(err, opts, cfg.fetch)}
	}
	for _, w := range res.Warnings {
		cli.Warnf(tool, "%s", w.Message)
	}
	for _, p := range res.Problems {
		cli.Infof(tool, "%s", p.Message)
	}
	summarize(res, opts)

	chain := res.Chain
	var data []byte
	if cfg.der {
		for _, c := range chain {
			data = append(data, c.Raw...)
		}
	} else {
		data = x509util.EncodeCertificatesPEM(chain...)
	}
	var outs []cli.Output
	switch {
	case cfg.output != "":
		outs = append(outs, cli.Output{Path: cfg.output, Data: data})
	case !cfg.asJSON && cfg.p12 == "":
		outs = append(outs, cli.Output{Path: "-", Data: data})
	}
	if cfg.p12 != "" {
		p12, perr := x509util.EncodePKCS12(opts.Key, chain, cfg.password, x509util.PKCS12Options{})
		if perr != nil {
			return fmt.Errorf("making the PKCS#12 file: %s", certcmd.Reason(perr))
		}
		outs = append(outs, cli.Output{Path: cfg.p12, Data: p12, Secret: true})
	}
	if err := cli.WriteOutputs(cli.WriteOptions{Force: cfg.force}, outs...); err != nil {
		return err
	}
	for _, o := range outs {
		if o.Path != "-" {
			cli.Infof(tool, "wrote %s", o.Path)
		}
	}
	return nil
}

func summarize(res *x509util.ChainResult, opts x509util.ChainOptions) {
	var names []string
	for _, c := range res.Chain {
		names = append(names, x509util.Describe(c))
	}
	cli.Infof(tool, "chain of %d: %s", len(res.Chain), strings.Join(names, " → "))
	switch {
	case res.Verified && res.Root != nil:
		cli.Infof(tool, "verified against the root %s", x509util.Describe(res.Root))
	case opts.NoVerify && res.MissingIssuer != nil:
		cli.Infof(tool, "the chain ends at %s, issued by %q (not in the input; not checked: --no-verify)", x509util.Describe(res.MissingIssuer.Cert), res.MissingIssuer.Subject)
	case opts.NoVerify:
		cli.Infof(tool, "ordered only; not verified against any roots (--no-verify)")
	}
	if !res.InOrder {
		cli.Infof(tool, "the input was not in order; the output is")
	}
}

// userError rewords library errors with the flags that fix them.
func userError(err error, opts x509util.ChainOptions, fetched bool) error {
	var ae *x509util.AmbiguousLeafError
	if errors.As(err, &ae) {
		var sb strings.Builder
		fmt.Fprintf(&sb, "%d certificates could be the leaf; choose one with --key FILE or --host NAME:", len(ae.Candidates))
		for _, c := range ae.Candidates {
			fmt.Fprintf(&sb, "\n  %s", x509util.Describe(c))
		}
		return errors.New(sb.String())
	}
	msg := certcmd.Reason(err)
	switch x509util.ProblemCode(err) {
	case x509util.CodeMissingIssuer:
		var mi *x509util.MissingIssuerError
		switch {
		case errors.As(err, &mi) && len(mi.AIA) > 0 && !fetched:
			msg += " (or use --fetch)"
		case mi != nil && len(mi.AIA) == 0:
			msg += "; add it to the input"
		}
	case x509util.CodeUntrustedRoot:
		if opts.Roots != nil {
			msg += "; check --roots"
		} else {
			msg += "; name the root to trust with --roots FILE, or use --no-verify to only order"
		}
	case x509util.CodeExtKeyUsage:
		msg += fmt.Sprintf(" (--purpose %s)", opts.Purpose)
	case x509util.CodeNoSystemRoots:
		msg = "the system trust roots cannot be loaded; use --roots FILE or --no-verify"
	}
	return errors.New(msg)
}

type jsonProblem struct {
	Code        string `json:"code"`
	Message     string `json:"message"`
	Certificate *int   `json:"certificate,omitempty"`
}

type jsonCert struct {
	Index  int    `json:"index"`
	Source string `json:"source"`
	x509util.Summary
}

type jsonReport struct {
	OK           bool               `json:"ok"`
	Verified     bool               `json:"verified"`
	Complete     bool               `json:"complete"`
	InOrder      bool               `json:"in_order"`
	Certificates []jsonCert         `json:"certificates"`
	Path         []int              `json:"path"`
	Chain        []x509util.Summary `json:"chain"`
	Root         *x509util.Summary  `json:"root,omitempty"`
	Dropped      []int              `json:"dropped"`
	Error        *jsonProblem       `json:"error,omitempty"`
	Problems     []jsonProblem      `json:"problems"`
	Warnings     []jsonProblem      `json:"warnings"`
}

func writeJSON(certs []*x509.Certificate, sources map[*x509.Certificate]string, res *x509util.ChainResult, err error) error {
	rep := jsonReport{Certificates: []jsonCert{}, Path: []int{}, Chain: []x509util.Summary{}, Dropped: []int{}, Problems: []jsonProblem{}, Warnings: []jsonProblem{}}
	index := map[string]int{}
	for _, c := range certs {
		if _, dup := index[string(c.Raw)]; dup {
			continue
		}
		index[string(c.Raw)] = len(rep.Certificates)
		rep.Certificates = append(rep.Certificates, jsonCert{Index: len(rep.Certificates), Source: sources[c], Summary: x509util.Summarize(c)})
	}
	idx := func(c *x509.Certificate) *int {
		if c == nil {
			return nil
		}
		if i, ok := index[string(c.Raw)]; ok {
			return &i
		}
		return nil
	}
	conv := func(ps []x509util.Problem) []jsonProblem {
		out := []jsonProblem{}
		for _, p := range ps {
			out = append(out, jsonProblem{Code: p.Code, Message: p.Message, Certificate: idx(p.Cert)})
		}
		return out
	}
	if err != nil {
		rep.Error = &jsonProblem{Code: x509util.ProblemCode(err), Message: certcmd.Reason(err)}
	}
	if res != nil {
		rep.OK = err == nil
		rep.Verified, rep.Complete, rep.InOrder = res.Verified, res.Complete(), res.InOrder
		for _, c := range res.Chain {
			rep.Chain = append(rep.Chain, x509util.Summarize(c))
			i := -1
			if p := idx(c); p != nil {
				i = *p
			}
			rep.Path = append(rep.Path, i)
		}
		if res.Root != nil {
			s := x509util.Summarize(res.Root)
			rep.Root = &s
		}
		for _, c := range res.Dropped {
			if p := idx(c); p != nil {
				rep.Dropped = append(rep.Dropped, *p)
			}
		}
		rep.Problems, rep.Warnings = conv(res.Problems), conv(res.Warnings)
	}
	enc := json.NewEncoder(cli.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
