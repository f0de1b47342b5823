// Package certcmd holds what selfsign, csr and sign share beyond generic CLI
// plumbing: subject and key flags, loading keys and certificates from user
// files, and the one-screen report of what was written.
package certcmd

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/certseal/certseal/internal/cli"
	"github.com/certseal/certseal/pkg/x509util"
	ucli "github.com/urfave/cli/v2"
)

// SubjectFlags are the distinguished-name flags every command takes.
func SubjectFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "org", Aliases: []string{"O"}, Usage: "organization (O)"},
		&ucli.StringFlag{Name: "ou", Usage: "organizational unit (OU)"},
		&ucli.StringFlag{Name: "country", Usage: "two-letter country code (C)"},
		&ucli.StringFlag{Name: "province", Usage: "state or province (ST)"},
		&ucli.StringFlag{Name: "locality", Usage: "city or locality (L)"},
	}
}

// Subject reads the subject flags; cn is the positional common name.
func Subject(c *ucli.Context, cn string) (x509util.Subject, error) {
	s := x509util.Subject{
		CommonName:         cn,
		Organization:       c.String("org"),
		OrganizationalUnit: c.String("ou"),
		Country:            c.String("country"),
		Province:           c.String("province"),
		Locality:           c.String("locality"),
	}
	if s.Country != "" && len(s.Country) != 2 {
		return s, cli.Usagef("--country must be a two-letter code such as GB or US, not %q", s.Country)
	}
	return s, nil
}

// KeyFlags choose the algorithm and size of a generated key.
func KeyFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "key-type", Value: "rsa", Usage: "key algorithm: rsa, ecdsa or ed25519"},
		&ucli.IntFlag{Name: "length", Aliases: []string{"l"}, Usage: "key size: RSA bits (2048, 3072, 4096; default 2048) or ECDSA curve (256, 384; default 256)"},
	}
}

// KeySpec reads the key flags.
func KeySpec(c *ucli.Context) (x509util.KeySpec, error) {
	t, err := x509util.ParseKeyType(c.String("key-type"))
	if err != nil {
		return x509util.KeySpec{}, cli.Usagef("unknown key type %q (use rsa, ecdsa or ed25519)", c.String("key-type"))
	}
	spec := x509util.KeySpec{Type: t, Size: c.Int("length")}
	if t == x509util.RSA && spec.Size != 0 && spec.Size < x509util.MinRSABits {
		return spec, fmt.Errorf("RSA keys of %d bits are too weak; use -l 2048 or more", spec.Size)
	}
	if t == x509util.Ed25519 && spec.Size != 0 {
		return spec, cli.Usagef("ed25519 keys have a fixed size; drop -l/--length")
	}
	return spec, nil
}

// Days converts a --days value to a validity period.
func Days(c *ucli.Context, name string) (time.Duration, error) {
	d := c.Int(name)
	if d < 1 {
		return 0, cli.Usagef("--%s must be at least 1, not %d", name, d)
	}
	if d > 100*366 {
		return 0, cli.Usagef("--%s %d is more than a hundred years", name, d)
	}
	return time.Duration(d) * 24 * time.Hour, nil
}

// LoadKey reads one private key from a user's file. password may be empty.
func LoadKey(path, what, password string) (crypto.Signer, error) {
	data, err := cli.ReadInput(path)
	if err != nil {
		return nil, err
	}
	k, err := x509util.ParsePrivateKey(data, password)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %s", what, path, Reason(err))
	}
	return k, nil
}

// LoadCertificate reads the first certificate of a user's file.
func LoadCertificate(path, what string) (*x509.Certificate, error) {
	data, err := cli.ReadInput(path)
	if err != nil {
		return nil, err
	}
	certs, err := x509util.ParseCertificates(data, "")
	if err != nil {
		return nil, fmt.Errorf("%s %s: %s", what, path, Reason(err))
	}
	return certs[0], nil
}

// Reason strips the library prefix from an error for user output.
func Reason(err error) string {
	msg := err.Error()
	for _, p := range []string{"x509util: ", "x509: "} {
		if len(msg) > len(p) && msg[:len(p)] == p {
			msg = msg[len(p):]
		}
	}
	return msg
}

// LibError converts a library error into a user-facing one.
func LibError(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s", Reason(err))
}

// Report prints what was written to stderr in a few lines, or the
// certificate summary as JSON to stdout when asJSON is set.
func Report(tool string, cert *x509.Certificate, certPath, keyPath string, key crypto.Signer, asJSON bool) error {
	if asJSON && cert != nil {
		enc := json.NewEncoder(cli.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(x509util.Summarize(cert))
	}
	if keyPath != "" && keyPath != "-" && key != nil {
		cli.Infof(tool, "wrote %s key to %s (mode 0600; keep it secret)", x509util.DescribePublicKey(key.Public()), keyPath)
	}
	if cert != nil && certPath != "-" {
		cli.Infof(tool, "wrote certificate to %s: %s", certPath, x509util.Describe(cert))
		cli.Infof(tool, "sha256 fingerprint %s", x509util.Fingerprint(cert))
	}
	return nil
}

// Now is the clock the commands use; tests may fix it through the
// CERTSEAL_NOW environment variable (RFC 3339).
func Now() time.Time {
	if s := os.Getenv("CERTSEAL_NOW"); s != "" {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t
		}
	}
	return time.Now()
}

// ObtainKey returns the key named by --keyin, or generates one from the key
// flags; newKey reports whether it was generated (and must be written).
func ObtainKey(c *ucli.Context) (key crypto.Signer, newKey bool, err error) {
	if in := c.String("keyin"); in != "" {
		if c.IsSet("key-type") || c.IsSet("length") {
			return nil, false, cli.Usagef("--keyin uses an existing key; drop --key-type and -l/--length")
		}
		k, err := LoadKey(in, "key", "")
		return k, false, err
	}
	spec, err := KeySpec(c)
	if err != nil {
		return nil, false, err
	}
	k, err := x509util.GenerateKey(spec, nil)
	if err != nil {
		return nil, false, LibError(err)
	}
	return k, true, nil
}
