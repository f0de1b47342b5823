// Command csr makes a private key and a certificate signing request (CSR)
// to send to a certificate authority.
package main

import (
	"crypto"
	"os"
	"strings"

	"github.com/certseal/certseal/internal/certcmd"
	"github.com/certseal/certseal/internal/cli"
	"github.com/certseal/certseal/pkg/x509util"
	ucli "github.com/urfave/cli/v2"
)

func main() { os.Exit(cli.Main(newApp(), os.Args)) }

func newApp() *ucli.App {
	flags := []ucli.Flag{
		&ucli.StringFlag{Name: "csr", Aliases: []string{"c", "out"}, Value: "csr.pem", Usage: "write the request to `FILE` ('-' for stdout)"},
		&ucli.StringFlag{Name: "key", Aliases: []string{"k", "keyout"}, Value: "key.pem", Usage: "write the new private key to `FILE`"},
		&ucli.StringFlag{Name: "keyin", Usage: "make the request for the existing private key in `FILE` (renewal); no key is written"},
		&ucli.StringSliceFlag{Name: "san", Usage: "add a subject alternative `NAME` (DNS name, IP, e-mail or URI); repeatable"},
		&ucli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "overwrite existing output files"},
	}
	flags = append(flags, certcmd.KeyFlags()...)
	flags = append(flags, certcmd.SubjectFlags()...)
	flags = append(flags, configFlags()...)
	return &ucli.App{
		Name:      "csr",
		Usage:     "make a private key and a certificate signing request",
		UsageText: "csr [options] COMMON-NAME [ORGANIZATION]",
		Description: `The common name is a host name or IP address; it is always also put in the
request's subject alternative names, with any --san names.

Examples:
  csr -c server.csr -k server.key example.com "Example Ltd."
  csr --key-type ecdsa --san www.example.com -c server.csr -k server.key example.com
  csr --keyin server.key -c renew.csr example.com       (renew with the same key)`,
		Flags:  flags,
		Action: run,
	}
}

func run(c *ucli.Context) error {
	if c.String("config") != "" {
		return runConfig(c)
	}
	if c.NArg() < 1 || c.NArg() > 2 {
		return cli.Usagef("expected COMMON-NAME [ORGANIZATION], got %d arguments", c.NArg())
	}
	subj, err := certcmd.Subject(c, c.Args().Get(0))
	if err != nil {
		return err
	}
	if org := c.Args().Get(1); org != "" {
		if subj.Organization != "" && subj.Organization != org {
			return cli.Usagef("the organization is given twice (argument %q and -O %q)", org, subj.Organization)
		}
		subj.Organization = org
	}
	opts := x509util.Options{Subject: subj, SANs: c.StringSlice("san")}
	return write(c, opts, nil)
}

// write makes the key (from spec when non-nil, else from the key flags or
// --keyin) and the request, and writes them.
func write(c *ucli.Context, opts x509util.Options, spec *x509util.KeySpec) error {
	csrPath, keyPath := c.String("csr"), c.String("key")
	wopts := cli.WriteOptions{Force: c.Bool("force")}
	outputs := []string{csrPath}
	if c.String("keyin") == "" {
		outputs = append(outputs, keyPath)
	}
	if err := cli.CheckOutputs(wopts, outputs...); err != nil {
		return err
	}
	var key crypto.Signer
	var newKey bool
	var err error
	if spec != nil {
		key, err = x509util.GenerateKey(*spec, nil)
		if err != nil {
			return certcmd.LibError(err)
		}
		newKey = true
	} else if key, newKey, err = certcmd.ObtainKey(c); err != nil {
		return err
	}
	req, err := x509util.CreateCSR(key, opts)
	if err != nil {
		return certcmd.LibError(err)
	}
	outs := []cli.Output{{Path: csrPath, Data: x509util.EncodeCSRPEM(req)}}
	if newKey {
		keyPEM, err := x509util.MarshalPrivateKeyPEM(key)
		if err != nil {
			return certcmd.LibError(err)
		}
		outs = append(outs, cli.Output{Path: keyPath, Data: keyPEM, Secret: true})
	}
	if err := cli.WriteOutputs(wopts, outs...); err != nil {
		return err
	}
	if newKey {
		cli.Infof("csr", "wrote %s key to %s (mode 0600; keep it secret, it never goes to the CA)", x509util.DescribePublicKey(key.Public()), keyPath)
	}
	if csrPath != "-" {
		cli.Infof("csr", "wrote request to %s for \"%s\" with names %s", csrPath, req.Subject.String(), strings.Join(x509util.CSRNames(req), ", "))
		cli.Infof("csr", "send %s to your CA (or use 'acme' or 'sign'); keep the key", csrPath)
	}
	return nil
}
