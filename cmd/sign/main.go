// Command sign issues a certificate for a certificate signing request with
// your own CA (one made with 'selfsign --ca', for example).
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/certseal/certseal/internal/certcmd"
	"github.com/certseal/certseal/internal/cli"
	"github.com/certseal/certseal/pkg/x509util"
	ucli "github.com/urfave/cli/v2"
)

func main() { os.Exit(cli.Main(newApp(), os.Args)) }

func newApp() *ucli.App {
	flags := []ucli.Flag{
		&ucli.StringFlag{Name: "cain", Value: "cacert.pem", Usage: "the CA certificate `FILE`"},
		&ucli.StringFlag{Name: "keyin", Value: "key.pem", Usage: "the CA's private key `FILE`"},
		&ucli.StringFlag{Name: "csrin", Value: "csr.pem", Usage: "the certificate signing request `FILE` ('-' for stdin)"},
		&ucli.StringFlag{Name: "certificate", Aliases: []string{"c", "out"}, Value: "certificate.pem", Usage: "write the certificate to `FILE` ('-' for stdout)"},
		&ucli.IntFlag{Name: "days", Aliases: []string{"d"}, Value: 365, Usage: "validity in days (cut to the CA's own expiry)"},
		&ucli.BoolFlag{Name: "ca", Aliases: []string{"C"}, Usage: "issue an intermediate CA certificate"},
		&ucli.IntFlag{Name: "path-len", Value: -1, Usage: "for --ca: how many further intermediate CAs may follow (-1: no limit)"},
		&ucli.StringSliceFlag{Name: "name-constraint", Usage: "for --ca: only allow names under `DOMAIN` (or IP range in CIDR form); repeatable"},
		&ucli.BoolFlag{Name: "client", Usage: "issue a TLS client certificate (clientAuth) instead of a server one"},
		&ucli.StringSliceFlag{Name: "altname", Aliases: []string{"san"}, Usage: "add a subject alternative `NAME` to those of the request; repeatable"},
		&ucli.BoolFlag{Name: "bundle", Usage: "append the CA certificate after the issued one (when the CA is an intermediate)"},
		&ucli.BoolFlag{Name: "json", Usage: "print the certificate summary as JSON on stdout"},
		&ucli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "overwrite an existing output file"},
	}
	flags = append(flags, profileFlags()...)
	return &ucli.App{
		Name:      "sign",
		Usage:     "issue a certificate for a CSR with your own CA",
		UsageText: "sign [options]",
		Description: `The certificate keeps the request's subject and subject alternative names;
no other extension is copied from the request.

Examples:
  selfsign --ca -c cacert.pem -k cakey.pem -d 3650 "Example Root CA"
  csr -c server.csr -k server.key example.com
  sign --cain cacert.pem --keyin cakey.pem --csrin server.csr -c server.pem -d 90`,
		Flags:  flags,
		Action: run,
	}
}

func run(c *ucli.Context) error {
	if c.NArg() != 0 {
		return cli.Usagef("sign takes no arguments (name the request with --csrin), got %q", c.Args().First())
	}
	validity, err := certcmd.Days(c, "days")
	if err != nil {
		return err
	}
	opts := x509util.Options{
		SANs:             c.StringSlice("altname"),
		Now:              certcmd.Now(),
		Validity:         validity,
		IsCA:             c.Bool("ca"),
		Client:           c.Bool("client"),
		PermittedDomains: c.StringSlice("name-constraint"),
	}
	if err := applyProfile(c, &opts); err != nil {
		return err
	}
	if pl := c.Int("path-len"); pl >= 0 {
		if !opts.IsCA {
			return cli.Usagef("--path-len applies only to CA certificates (--ca)")
		}
		opts.MaxPathLen = &pl
	}
	if len(opts.PermittedDomains) > 0 && !opts.IsCA {
		return cli.Usagef("--name-constraint applies only to CA certificates (--ca)")
	}
	out := c.String("certificate")
	if c.Bool("json") && out == "-" {
		return cli.Usagef("--json prints to stdout, so the certificate cannot go there too")
	}
	wopts := cli.WriteOptions{Force: c.Bool("force")}
	if err := cli.CheckOutputs(wopts, out); err != nil {
		return err
	}
	ca, err := certcmd.LoadCertificate(c.String("cain"), "CA certificate")
	if err != nil {
		return err
	}
	caKey, err := certcmd.LoadKey(c.String("keyin"), "CA key", "")
	if err != nil {
		return err
	}
	csrData, err := cli.ReadInput(c.String("csrin"))
	if err != nil {
		return err
	}
	req, err := x509util.ParseCSR(csrData)
	if err != nil {
		name := c.String("csrin")
		if name == "-" {
			name = "standard input"
		}
		return fmt.Errorf("request %s: %s", name, certcmd.Reason(err))
	}
	cert, err := x509util.SignCSR(req, ca, caKey, opts)
	if err != nil {
		return certcmd.LibError(err)
	}
	if want := opts.Now.Add(opts.Validity); cert.NotAfter.Before(want.Add(-time.Minute)) {
		cli.Warnf("sign", "the certificate expires with the CA on %s, earlier than the %d days asked for", cert.NotAfter.UTC().Format(time.DateOnly), int(opts.Validity/(24*time.Hour)))
	}
	pemOut := x509util.EncodeCertificatesPEM(cert)
	if c.Bool("bundle") && !x509util.IsSelfSigned(ca) {
		pemOut = x509util.EncodeCertificatesPEM(cert, ca)
	}
	if err := cli.WriteOutputs(wopts, cli.Output{Path: out, Data: pemOut}); err != nil {
		return err
	}
	return certcmd.Report("sign", cert, out, "", nil, c.Bool("json"))
}
