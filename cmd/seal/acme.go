package main

import (
	"fmt"
	"net/mail"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/certseal/certseal/internal/acme"
	"github.com/certseal/certseal/internal/certcmd"
	"github.com/certseal/certseal/internal/cli"
	"github.com/certseal/certseal/internal/payload"
	"github.com/certseal/certseal/pkg/x509util"
	ucli "github.com/urfave/cli/v2"
)

// Default state directories of a server sealed with --acme, per target. A
// relative one is relative to the artifact's directory at run time.
const (
	stateDirUnix = "certseal-state"
	stateDirOCI  = "/state"            // mount a volume here
	stateDirVM   = "/var/lib/certseal" // in the initramfs: RAM, lost at reboot
)

// acmeFlags make the server obtain and renew its own certificate.
var acmeFlags = []ucli.Flag{
	&ucli.StringFlag{Name: "acme", Usage: "obtain and renew the certificate from an ACME CA (Let's Encrypt by default) for the account `EMAIL`; --keys becomes optional"},
	&ucli.StringSliceFlag{Name: "domain", Usage: "with --acme: a DNS `NAME` for the certificate (repeatable; the server must be reachable under it on ports 80 or 443)"},
	&ucli.StringFlag{Name: "acme-directory", Value: acme.LetsEncryptURL, Usage: "with --acme: the CA's directory `URL`"},
	&ucli.BoolFlag{Name: "acme-staging", Usage: "with --acme: use Let's Encrypt's staging directory (untrusted certificates, generous rate limits)"},
	&ucli.StringFlag{Name: "acme-directory-ca", Usage: "with --acme: trust the PEM root certificates in `FILE` for the directory's HTTPS (a private ACME CA)"},
	&ucli.StringFlag{Name: "state", Usage: "with --acme: keep the account and certificates in `DIR` (default: " + stateDirUnix + " next to the executable; oci: " + stateDirOCI + ", a volume; qemu/xen: " + stateDirVM + " in RAM); the server's --state overrides it"},
}

// applyACME checks the --acme flags and records them in cfg. km is the
// sealed certificate, if any: it is served until the CA's arrives.
func applyACME(c *ucli.Context, target string, cfg *payload.Config, km *keyMaterial) error {
	email := c.String("acme")
	if email == "" {
		for _, f := range []string{"domain", "acme-directory", "acme-staging", "acme-directory-ca", "state"} {
			if c.IsSet(f) {
				return cli.Usagef("--%s needs --acme EMAIL", f)
			}
		}
		return nil
	}
	switch {
	case cfg.NoTLS:
		return cli.Usagef("--no-tls serves no certificate; drop --acme or --no-tls")
	case c.String("selfsign") != "":
		return cli.Usagef("--selfsign is for demos; with --acme the certificate comes from the CA (--keys may give one to serve until then)")
	case c.String("keys-at-runtime") != "":
		return cli.Usagef("use either --acme or --keys-at-runtime, not both")
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" {
		return cli.Usagef("--acme %q is not an e-mail address (the CA's contact for the account, e.g. admin@example.com)", email)
	}
	domains, err := acmeDomains(c.StringSlice("domain"))
	if err != nil {
		return err
	}
	dir := c.String("acme-directory")
	if c.Bool("acme-staging") {
		if c.IsSet("acme-directory") {
			return cli.Usagef("use either --acme-staging or --acme-directory, not both")
		}
		dir = acme.LetsEncryptStagingURL
	}
	if u, err := url.Parse(dir); err != nil || u.Scheme != "https" || u.Host == "" {
		return cli.Usagef("--acme-directory %q is not an https:// URL", dir)
	}
	var roots []byte
	if f := c.String("acme-directory-ca"); f != "" {
		data, err := cli.ReadInput(f)
		if err != nil {
			return err
		}
		certs, err := x509util.ParseCertificates(data, "")
		if err != nil {
			return fmt.Errorf("--acme-directory-ca %s: %s", f, certcmd.Reason(err))
		}
		roots = x509util.EncodeCertificatesPEM(certs...)
	}
	state := c.String("state")
	switch {
	case state == "" && target == "oci":
		state = stateDirOCI
	case state == "" && (target == "qemu" || target == "xen"):
		state = stateDirVM
	case state == "":
		state = stateDirUnix
	case target != "unix" && !filepath.IsAbs(state):
		return cli.Usagef("--state %q must be an absolute path inside the %s image", state, target)
	}
	cfg.ACMEEmail, cfg.ACMEDomains, cfg.ACMEDirectory, cfg.ACMEDirectoryCA, cfg.ACMEStateDir = email, domains, dir, roots, state

	if km == nil {
		cfg.Hostnames = domains
	} else {
		var missing []string
		for _, d := range domains {
			if km.leaf.VerifyHostname(d) != nil {
				missing = append(missing, d)
			}
		}
		if len(missing) > 0 {
			cli.Warnf("seal", "the sealed certificate does not cover %s; the server orders one from the CA at start", strings.Join(missing, ", "))
		}
		for _, d := range domains {
			if !slices.Contains(cfg.Hostnames, d) {
				cfg.Hostnames = append(cfg.Hostnames, d)
			}
		}
	}
	switch target {
	case "qemu", "xen":
		cli.Warnf("seal", "a %s image has no persistent storage: the ACME account and certificate live in RAM (%s) and are ordered again at every boot; Let's Encrypt allows 5 certificates for the same names per week", target, state)
	case "oci":
		cli.Infof("seal", "the server keeps its ACME account and certificates in %s: mount a volume there, writable by user %s, or they are ordered again at every start", state, "65532")
	}
	if dir == acme.LetsEncryptURL {
		cli.Infof("seal", "the server will order certificates from Let's Encrypt for %s, accepting its terms of service; try --acme-staging first", strings.Join(domains, ", "))
	}
	return nil
}

// acmeDomains validates and normalises --domain names: DNS names only,
// no wildcards (HTTP-01 and TLS-ALPN-01 cannot validate them), no
// duplicates.
func acmeDomains(names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, cli.Usagef("--acme needs at least one --domain NAME")
	}
	var out []string
	for _, s := range names {
		n, err := x509util.ParseName(s)
		if err != nil {
			return nil, cli.Usagef("--domain %s", certcmd.Reason(err))
		}
		switch {
		case n.Kind != x509util.DNSName:
			return nil, cli.Usagef("--domain %q is an %s name; an ACME certificate here covers DNS names only", s, n.Kind)
		case strings.HasPrefix(n.Value, "*."):
			return nil, cli.Usagef("--domain %q is a wildcard, which needs the DNS-01 challenge; this server answers HTTP-01 and TLS-ALPN-01 only", s)
		case !strings.Contains(n.Value, "."):
			return nil, cli.Usagef("--domain %q is not a public name (no dot); a CA validates only names it can resolve", s)
		}
		if !slices.Contains(out, n.Value) {
			out = append(out, n.Value)
		}
	}
	return out, nil
}
