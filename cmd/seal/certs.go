package main

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/certseal/certseal/internal/certcmd"
	"github.com/certseal/certseal/internal/cli"
	"github.com/certseal/certseal/pkg/x509util"
)

// expiryWarning is how close to expiry a sealed certificate draws a
// warning: an artifact is often deployed and forgotten.
const expiryWarning = 30 * 24 * time.Hour

// keyMaterial is the checked certificate chain and key to seal.
type keyMaterial struct {
	certPEM, keyPEM []byte
	leaf            *x509.Certificate
	hostnames       []string
}

// loadKeys reads --keys/--cert/--key and checks everything a server
// needs, so that a bad certificate is found now and not at the first
// client connection. Warnings are printed; errors are returned.
func loadKeys(dir, certName, keyName string, now time.Time, allowExpired bool) (*keyMaterial, error) {
	certPath, keyPath := filepath.Join(dir, certName), filepath.Join(dir, keyName)
	certData, err := cli.ReadInput(certPath)
	if err != nil {
		return nil, err
	}
	keyData, err := cli.ReadInput(keyPath)
	if err != nil {
		return nil, err
	}
	certs, err := x509util.ParseCertificates(certData, "")
	if err != nil {
		return nil, fmt.Errorf("certificate file %s: %s", certPath, certcmd.Reason(err))
	}
	key, err := x509util.ParsePrivateKey(keyData, "")
	if err != nil {
		return nil, fmt.Errorf("key file %s: %s", keyPath, certcmd.Reason(err))
	}
	return checkKeys(certs, key, certPath, keyPath, now, allowExpired)
}

func checkKeys(certs []*x509.Certificate, key crypto.Signer, certPath, keyPath string, now time.Time, allowExpired bool) (*keyMaterial, error) {
	// Order without verifying against system roots: certificates from a
	// private CA are as sealable as public ones.
	res, err := x509util.OrderChain(certs, x509util.ChainOptions{
		Key:        key,
		Now:        now,
		Purpose:    x509util.PurposeServer,
		NoVerify:   true,
		WarnWithin: expiryWarning,
	})
	if err != nil {
		if errors.Is(err, x509util.ErrKeyMismatch) {
			return nil, fmt.Errorf("the key in %s does not match the certificate in %s (key: %s)", keyPath, certPath, x509util.DescribePublicKey(key.Public()))
		}
		return nil, fmt.Errorf("certificate file %s: %s", certPath, certcmd.Reason(err))
	}
	leaf := res.Leaf()
	if err := x509util.KeyMatchesCertificate(key, leaf); err != nil {
		return nil, fmt.Errorf("the key in %s does not match the certificate in %s (key: %s)", keyPath, certPath, x509util.DescribePublicKey(key.Public()))
	}
	if mi := res.MissingIssuer; mi != nil && !verifiesWithSystemRoots(res.Chain, now) {
		// A chain that stops below a root nobody sent is normal for a
		// private CA (clients have its root installed) but is the classic
		// "forgot the intermediate" mistake with a public one. Public CAs
		// name where their certificates live (AIA), and a certificate left
		// over in the file shows the gap is inside the chain.
		if len(mi.AIA) > 0 || len(res.Dropped) > 0 {
			return nil, fmt.Errorf("the chain in %s is incomplete: %s; add it after the leaf", certPath, certcmd.Reason(mi))
		}
		cli.Infof("seal", "the chain ends at %s, issued by %q, which is not included: clients must trust that CA already (normal for a private CA)", x509util.Describe(mi.Cert), mi.Subject)
	}
	if !res.InOrder {
		cli.Warnf("seal", "the certificates in %s were not in order (leaf first, then each issuer); sealing them re-ordered", certPath)
	}
	for _, w := range res.Warnings {
		switch w.Code {
		case x509util.CodeExpired, x509util.CodeNotYetValid:
			// handled below, with --allow-expired
		default:
			cli.Warnf("seal", "%s", w.Message)
		}
	}
	for _, c := range res.Chain {
		switch {
		case now.After(c.NotAfter):
			if !allowExpired {
				return nil, fmt.Errorf("the certificate %s expired on %s; renew it, or use --allow-expired to seal it anyway", certName(c), c.NotAfter.UTC().Format(time.DateOnly))
			}
			cli.Warnf("seal", "the certificate %s expired on %s; sealing it because of --allow-expired", certName(c), c.NotAfter.UTC().Format(time.DateOnly))
		case now.Before(c.NotBefore):
			cli.Warnf("seal", "the certificate %s is not valid until %s", certName(c), c.NotBefore.UTC().Format(time.RFC3339))
		}
	}
	keyPEM, err := x509util.MarshalPrivateKeyPEM(key)
	if err != nil {
		return nil, certcmd.LibError(err)
	}
	km := &keyMaterial{
		certPEM: x509util.EncodeCertificatesPEM(res.Chain...),
		keyPEM:  keyPEM,
		leaf:    leaf,
	}
	km.hostnames = append(km.hostnames, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		km.hostnames = append(km.hostnames, ip.String())
	}
	if len(km.hostnames) == 0 {
		return nil, fmt.Errorf("%s has no DNS names or IP addresses; browsers would reject it", x509util.Describe(leaf))
	}
	cli.Infof("seal", "certificate for %s, expires %s", strings.Join(km.hostnames, ", "), leaf.NotAfter.UTC().Format(time.DateOnly))
	return km, nil
}

func certName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return strconv.Quote(c.Subject.CommonName)
	}
	return strconv.Quote(c.Subject.String())
}

func verifiesWithSystemRoots(chain []*x509.Certificate, now time.Time) bool {
	if len(chain) == 0 {
		return false
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err == nil
}

// selfSigned makes a throw-away ECDSA P-256 certificate for name, valid
// for 90 days. "localhost" also covers 127.0.0.1 and ::1, so the demo URL
// works with either.
func selfSigned(name string, now time.Time) ([]*x509.Certificate, crypto.Signer, error) {
	key, err := x509util.GenerateKey(x509util.KeySpec{Type: x509util.ECDSA, Size: 256}, nil)
	if err != nil {
		return nil, nil, certcmd.LibError(err)
	}
	var sans []string
	if name == "localhost" {
		sans = []string{"127.0.0.1", "::1"}
	}
	cert, err := x509util.SelfSign(key, x509util.Options{
		Subject:  x509util.Subject{CommonName: name},
		SANs:     sans,
		Now:      now,
		Validity: 90 * 24 * time.Hour,
		Server:   true,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("--selfsign %s: %s", name, certcmd.Reason(err))
	}
	return []*x509.Certificate{cert}, key, nil
}
