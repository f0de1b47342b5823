// Command selfsign makes a private key and a self-signed certificate (a
// server certificate, or a small CA with --ca) in one step.
package main

import (
	"os"

	"github.com/certseal/certseal/internal/certcmd"
	"github.com/certseal/certseal/internal/cli"
	"github.com/certseal/certseal/pkg/x509util"
	ucli "github.com/urfave/cli/v2"
)

func main() { os.Exit(cli.Main(newApp(), os.Args)) }

func newApp() *ucli.App {
	flags := []ucli.Flag{
		&ucli.StringFlag{Name: "certificate", Aliases: []string{"c", "out"}, Value: "certificate.pem", Usage: "write the certificate to `FILE` ('-' for stdout)"},
		&ucli.StringFlag{Name: "key", Aliases: []string{"k", "keyout"}, Value: "key.pem", Usage: "write the new private key to `FILE`"},
		&ucli.StringFlag{Name: "keyin", Usage: "use the existing private key in `FILE` instead of making one"},
		&ucli.IntFlag{Name: "days", Aliases: []string{"d"}, Value: 365, Usage: "validity in days"},
		&ucli.BoolFlag{Name: "ca", Aliases: []string{"C"}, Usage: "make a CA certificate that can sign others (see 'sign')"},
		&ucli.IntFlag{Name: "path-len", Value: -1, Usage: "for a CA: how many intermediate CAs may follow it (-1: no limit)"},
		&ucli.StringSliceFlag{Name: "name-constraint", Usage: "for a CA: only allow names under `DOMAIN` (or IP range in CIDR form); repeatable"},
		&ucli.StringSliceFlag{Name: "san", Usage: "add a subject alternative `NAME` (DNS name, IP, e-mail or URI); repeatable"},
		&ucli.BoolFlag{Name: "client", Usage: "make a TLS client certificate (clientAuth) instead of a server one"},
		&ucli.BoolFlag{Name: "json", Usage: "print the certificate summary as JSON on stdout"},
		&ucli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "overwrite existing output files"},
	}
	flags = append(flags, certcmd.KeyFlags()...)
	flags = append(flags, certcmd.SubjectFlags()...)
	return &ucli.App{
		Name:      "selfsign",
		Usage:     "make a private key and a self-signed certificate",
		UsageText: "selfsign [options] COMMON-NAME",
		Description: `The common name of a server certificate is a host name or IP address and
is always also put in the certificate's subject alternative names.

Examples:
  selfsign -c secrets/server.pem -k secrets/server.key -d 365 example.com
  selfsign --key-type ecdsa --san www.example.com --san 192.0.2.7 example.com
  selfsign --ca -c ca.pem -k ca.key -d 3650 "Example Root CA"`,
		Flags:  flags,
		Action: run,
	}
}

func run(c *ucli.Context) error {
	if c.NArg() != 1 {
		return cli.Usagef("expected exactly one COMMON-NAME argument, got %d", c.NArg())
	}
	subj, err := certcmd.Subject(c, c.Args().First())
	if err != nil {
		return err
	}
	validity, err := certcmd.Days(c, "days")
	if err != nil {
		return err
	}
	opts := x509util.Options{
		Subject:          subj,
		SANs:             c.StringSlice("san"),
		Now:              certcmd.Now(),
		Validity:         validity,
		IsCA:             c.Bool("ca"),
		Client:           c.Bool("client"),
		PermittedDomains: c.StringSlice("name-constraint"),
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
	certPath, keyPath := c.String("certificate"), c.String("key")
	if c.Bool("json") && certPath == "-" {
		return cli.Usagef("--json prints to stdout, so the certificate cannot go there too")
	}
	wopts := cli.WriteOptions{Force: c.Bool("force")}
	outputs := []string{certPath}
	if c.String("keyin") == "" {
		outputs = append(outputs, keyPath)
	}
	if err := cli.CheckOutputs(wopts, outputs...); err != nil {
		return err
	}

	key, newKey, err := certcmd.ObtainKey(c)
	if err != nil {
		return err
	}
	cert, err := x509util.SelfSign(key, opts)
	if err != nil {
		return certcmd.LibError(err)
	}
	outs := []cli.Output{{Path: certPath, Data: x509util.EncodeCertificatesPEM(cert)}}
	if newKey {
		keyPEM, err := x509util.MarshalPrivateKeyPEM(key)
		if err != nil {
			return certcmd.LibError(err)
		}
		outs = append(outs, cli.Output{Path: keyPath, Data: keyPEM, Secret: true})
	} else {
		keyPath = ""
	}
	if err := cli.WriteOutputs(wopts, outs...); err != nil {
		return err
	}
	return certcmd.Report("selfsign", cert, certPath, keyPath, key, c.Bool("json"))
}
