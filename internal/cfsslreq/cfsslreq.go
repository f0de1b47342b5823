// Package cfsslreq reads cfssl's JSON documents, certificate requests
// ({"CN", "hosts", "key", "names"}) and signing configurations
// ({"signing": {"default", "profiles"}}), with cfssl's own types and
// parsers, and maps them onto x509util options. cfssl never generates a key
// or signs anything here: x509util does. Settings certseal cannot honour
// are reported as errors rather than silently dropped.
//
// Only the csr and sign commands import this package; the library and the
// sealed runtime must never link cfssl.
package cfsslreq

import (
	"bytes"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/certseal/certseal/pkg/x509util"
	"github.com/cloudflare/cfssl/config"
	"github.com/cloudflare/cfssl/csr"
	cferr "github.com/cloudflare/cfssl/errors"
	"github.com/cloudflare/cfssl/log"
)

func init() {
	// cfssl logs through a package-global logger straight to stderr; our
	// commands print only their own one-line messages.
	log.Level = log.LevelFatal + 1
}

// Request is a cfssl certificate request mapped onto certseal's options.
type Request struct {
	// Options carries the subject and the hosts as SANs.
	Options x509util.Options
	// Key is the key the request asks for, or nil when it names none.
	Key *x509util.KeySpec
}

// ParseRequest reads a cfssl JSON certificate request. It returns an error
// for malformed JSON, unknown fields, and fields certseal does not support
// (a "ca" section, serial numbers, extensions, several "names" entries...).
func ParseRequest(data []byte) (*Request, error) {
	req := &csr.CertificateRequest{}
	if err := decodeStrict(data, req); err != nil {
		return nil, fmt.Errorf("cfssl request: %v", err)
	}
	var unsupported []string
	if req.CA != nil {
		unsupported = append(unsupported, `"ca" (make a CA with 'selfsign --ca')`)
	}
	if req.SerialNumber != "" {
		unsupported = append(unsupported, `"serialnumber"`)
	}
	if req.DelegationEnabled {
		unsupported = append(unsupported, `"delegation_enabled"`)
	}
	if len(req.Extensions) > 0 {
		unsupported = append(unsupported, `"extensions"`)
	}
	if req.CRL != "" {
		unsupported = append(unsupported, `"crl_url"`)
	}
	if len(req.Names) > 1 {
		unsupported = append(unsupported, fmt.Sprintf(`%d "names" entries (only one is supported)`, len(req.Names)))
	}
	var subj x509util.Subject
	subj.CommonName = req.CN
	if len(req.Names) == 1 {
		n := req.Names[0]
		if n.E != "" {
			unsupported = append(unsupported, `"names"."E" (put the address in "hosts" instead)`)
		}
		if n.SerialNumber != "" {
			unsupported = append(unsupported, `"names"."SerialNumber"`)
		}
		if len(n.OID) > 0 {
			unsupported = append(unsupported, `"names"."OID"`)
		}
		subj.Country, subj.Province, subj.Locality = n.C, n.ST, n.L
		subj.Organization, subj.OrganizationalUnit = n.O, n.OU
	}
	if len(unsupported) > 0 {
		return nil, fmt.Errorf("cfssl request: unsupported field(s): %s", strings.Join(unsupported, ", "))
	}
	if subj.Country != "" && len(subj.Country) != 2 {
		return nil, fmt.Errorf("cfssl request: \"C\" must be a two-letter country code, not %q", subj.Country)
	}
	if subj.CommonName == "" && len(req.Hosts) == 0 {
		return nil, errors.New(`cfssl request: neither "CN" nor "hosts" is set`)
	}
	r := &Request{Options: x509util.Options{Subject: subj, SANs: req.Hosts}}
	if req.KeyRequest != nil {
		spec, err := keySpec(req.KeyRequest)
		if err != nil {
			return nil, err
		}
		r.Key = &spec
	}
	return r, nil
}

func keySpec(kr *csr.KeyRequest) (x509util.KeySpec, error) {
	var t x509util.KeyType
	switch strings.ToLower(kr.Algo()) {
	case "rsa":
		t = x509util.RSA
	case "ecdsa":
		t = x509util.ECDSA
	case "ed25519":
		t = x509util.Ed25519
	default:
		return x509util.KeySpec{}, fmt.Errorf("cfssl request: unknown key algo %q (use rsa, ecdsa or ed25519)", kr.Algo())
	}
	spec := x509util.KeySpec{Type: t, Size: kr.Size()}
	switch {
	case t == x509util.RSA && spec.Size != 0 && spec.Size < x509util.MinRSABits:
		return spec, fmt.Errorf("cfssl request: RSA keys of %d bits are too weak; use a size of 2048 or more", spec.Size)
	case t == x509util.RSA && spec.Size > 8192:
		return spec, fmt.Errorf("cfssl request: RSA size %d is not supported; use 2048, 3072 or 4096", spec.Size)
	case t == x509util.ECDSA && spec.Size != 0 && spec.Size != 256 && spec.Size != 384:
		return spec, fmt.Errorf("cfssl request: ECDSA size %d is not supported; use 256 or 384", spec.Size)
	case t == x509util.Ed25519:
		spec.Size = 0
	}
	return spec, nil
}

// Profile is a cfssl signing profile mapped onto certseal's options.
type Profile struct {
	Name       string // "" for the default profile
	Validity   time.Duration
	IsCA       bool
	MaxPathLen *int // nil: no limit
	Server     bool
	Client     bool
	CRLURLs    []string
	OCSPURLs   []string
	IssuerURLs []string
	PolicyOIDs []string
}

// LoadProfile reads a cfssl signing configuration with cfssl's
// config.LoadConfig and returns the profile called name ("" for
// "default"). It returns an error when the configuration is invalid, the
// profile does not exist, or the profile uses settings certseal does not
// support (remote signers, lint levels, unknown usages...).
func LoadProfile(data []byte, name string) (*Profile, error) {
	// Decode once strictly to catch misspelt keys, which cfssl ignores.
	var strict config.Config
	if err := decodeStrict(data, &strict); err != nil {
		return nil, fmt.Errorf("cfssl config: %v", err)
	}
	// cfssl says only "invalid configuration" for these; name the culprit.
	if strict.Signing != nil {
		for n, sp := range strict.Signing.Profiles {
			switch {
			case sp == nil:
				return nil, fmt.Errorf("cfssl config: profile %q is empty", n)
			case len(sp.Usage) == 0:
				return nil, fmt.Errorf("cfssl config: profile %q has no \"usages\"", n)
			case sp.ExpiryString == "" && sp.RemoteName == "" && sp.AuthRemote.RemoteName == "":
				return nil, fmt.Errorf("cfssl config: profile %q has no \"expiry\" (such as \"8760h\")", n)
			}
		}
	}
	cfg, err := config.LoadConfig(data)
	if err != nil {
		return nil, fmt.Errorf("cfssl config: %s", cfsslMessage(err))
	}
	if len(cfg.AuthKeys) > 0 || len(cfg.Remotes) > 0 || cfg.OCSP != nil {
		return nil, errors.New(`cfssl config: "auth_keys", "remotes" and "ocsp" are not supported; certseal signs locally`)
	}
	sp := cfg.Signing.Default
	label := "default"
	if name != "" && name != "default" {
		p, ok := cfg.Signing.Profiles[name]
		if !ok {
			var names []string
			for n := range cfg.Signing.Profiles {
				names = append(names, n)
			}
			sort.Strings(names)
			if len(names) == 0 {
				return nil, fmt.Errorf("cfssl config: no profile %q (the file has only a default profile)", name)
			}
			return nil, fmt.Errorf("cfssl config: no profile %q (it has %s)", name, strings.Join(names, ", "))
		}
		sp, label = p, name
	}
	return mapProfile(sp, label)
}

func mapProfile(sp *config.SigningProfile, label string) (*Profile, error) {
	var unsupported []string
	check := func(set bool, field string) {
		if set {
			unsupported = append(unsupported, field)
		}
	}
	check(sp.RemoteName != "" || sp.AuthRemote.RemoteName != "" || sp.AuthKeyName != "", `"remote"/"auth_key"`)
	check(sp.BackdateString != "", `"backdate" (certseal always backdates one minute)`)
	check(!sp.NotBefore.IsZero() || !sp.NotAfter.IsZero(), `"not_before"/"not_after" (use "expiry")`)
	check(sp.NameWhitelistString != "", `"name_whitelist"`)
	check(len(sp.CTLogServers) > 0, `"ct_log_servers"`)
	check(sp.CopyExtensions || len(sp.AllowedExtensions) > 0, `"copy_extensions"/"allowed_extensions" (no extension is copied from a request)`)
	check(sp.OCSPNoCheck, `"ocsp_no_check"`)
	check(sp.LintErrLevel != 0 || len(sp.ExcludeLints) > 0 || len(sp.ExcludeLintSources) > 0, `"lint_error_level"/"ignored_lints"`)
	check(sp.CertStore != "", `"cert_store"`)
	check(sp.CSRWhitelist != nil, `"csr_whitelist"`)
	check(sp.ClientProvidesSerialNumbers, `"client_provides_serial_numbers"`)
	for _, pol := range sp.Policies {
		if len(pol.Qualifiers) > 0 {
			unsupported = append(unsupported, `policy "qualifiers"`)
			break
		}
	}
	if len(unsupported) > 0 {
		return nil, fmt.Errorf("cfssl profile %q: unsupported setting(s): %s", label, strings.Join(unsupported, ", "))
	}

	p := &Profile{Validity: sp.Expiry, IsCA: sp.CAConstraint.IsCA, IssuerURLs: sp.IssuerURL}
	if label != "default" {
		p.Name = label
	}
	if sp.OCSP != "" {
		p.OCSPURLs = []string{sp.OCSP}
	}
	if sp.CRL != "" {
		p.CRLURLs = []string{sp.CRL}
	}
	for _, pol := range sp.Policies {
		p.PolicyOIDs = append(p.PolicyOIDs, asn1.ObjectIdentifier(pol.ID).String())
	}
	if p.IsCA {
		switch c := sp.CAConstraint; {
		case c.MaxPathLen < 0:
			return nil, fmt.Errorf("cfssl profile %q: \"max_path_len\" must not be negative", label)
		case c.MaxPathLen > 0 || c.MaxPathLenZero:
			n := c.MaxPathLen
			p.MaxPathLen = &n
		}
	} else if sp.CAConstraint.MaxPathLen != 0 || sp.CAConstraint.MaxPathLenZero {
		return nil, fmt.Errorf("cfssl profile %q: \"max_path_len\" needs \"is_ca\": true", label)
	}

	var bad []string
	for _, u := range sp.Usage {
		switch strings.ToLower(u) {
		case "signing", "digital signature":
			// Always set.
		case "key encipherment":
			// Set for RSA keys, where it means something; ECDSA and
			// Ed25519 keys cannot encipher, so it is left out for them.
		case "server auth":
			p.Server = true
		case "client auth":
			p.Client = true
		case "cert sign", "crl sign":
			if !p.IsCA {
				bad = append(bad, fmt.Sprintf("%q (needs \"ca_constraint\": {\"is_ca\": true})", u))
			}
		default:
			bad = append(bad, fmt.Sprintf("%q", u))
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("cfssl profile %q: unsupported usage(s) %s; certseal issues TLS server and client certificates and CAs (usages: signing, digital signature, key encipherment, server auth, client auth, cert sign, crl sign)", label, strings.Join(bad, ", "))
	}
	if p.IsCA && (p.Server || p.Client) {
		return nil, fmt.Errorf("cfssl profile %q: a CA profile cannot have \"server auth\" or \"client auth\" usages", label)
	}
	if !p.IsCA && !p.Server && !p.Client {
		return nil, fmt.Errorf("cfssl profile %q: its usages name neither \"server auth\" nor \"client auth\"", label)
	}
	return p, nil
}

// Apply merges the profile into opts: the CA settings, usages and URLs
// always; the validity only when keepValidity is false (the user gave an
// explicit --days). It returns an error when opts.IsCA contradicts the
// profile.
func (p *Profile) Apply(opts *x509util.Options, keepValidity bool) error {
	label := p.Name
	if label == "" {
		label = "default"
	}
	if opts.IsCA && !p.IsCA {
		return fmt.Errorf("--ca contradicts cfssl profile %q, which is not a CA profile", label)
	}
	if !keepValidity {
		opts.Validity = p.Validity
	}
	if p.IsCA {
		opts.IsCA = true
		if opts.MaxPathLen == nil {
			opts.MaxPathLen = p.MaxPathLen
		}
	} else {
		opts.Server = opts.Server || p.Server
		opts.Client = opts.Client || p.Client
	}
	opts.CRLURLs = append(opts.CRLURLs, p.CRLURLs...)
	opts.OCSPURLs = append(opts.OCSPURLs, p.OCSPURLs...)
	opts.IssuerURLs = append(opts.IssuerURLs, p.IssuerURLs...)
	opts.PolicyOIDs = append(opts.PolicyOIDs, p.PolicyOIDs...)
	return nil
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON: %v", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return errors.New("invalid JSON: more than one document")
	}
	return nil
}

// cfsslMessage extracts the human part of cfssl's JSON-formatted errors.
func cfsslMessage(err error) string {
	var ce *cferr.Error
	if errors.As(err, &ce) && ce.Message != "" {
		return ce.Message
	}
	return err.Error()
}
