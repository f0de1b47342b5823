package x509util

import (
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"

	"golang.org/x/net/idna"
)

// NameKind says which SubjectAltName field a name belongs in.
type NameKind int

// Kinds of names.
const (
	DNSName NameKind = iota
	IPAddress
	EmailAddress
	URIName
)

func (k NameKind) String() string {
	return [...]string{"DNS", "IP", "email", "URI"}[k]
}

// Name is one subject alternative name, normalised: DNS names in lower-case
// ASCII (punycode), IP addresses in canonical form.
type Name struct {
	Kind  NameKind
	Value string
	IP    net.IP   // for IPAddress
	URI   *url.URL // for URIName
}

// NameError reports a name that cannot go into a certificate.
type NameError struct {
	Name   string
	Reason string
}

func (e *NameError) Error() string {
	return fmt.Sprintf("x509util: invalid name %q: %s", e.Name, e.Reason)
}

// ParseName classifies s as an IP address, e-mail address (contains '@'),
// URI (contains "://") or DNS name, and validates it. Unicode DNS names are
// converted to punycode; a trailing dot is dropped; a wildcard is allowed
// only as the whole left-most label of a name with at least two more labels.
// It returns a *NameError naming s when the name is not valid.
func ParseName(s string) (Name, error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return Name{}, &NameError{orig, "the name is empty"}
	}
	if addr, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		if addr.Zone() != "" {
			return Name{}, &NameError{orig, "IP addresses with a zone cannot go in a certificate"}
		}
		addr = addr.Unmap()
		return Name{Kind: IPAddress, Value: addr.String(), IP: net.IP(addr.AsSlice())}, nil
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return Name{}, &NameError{orig, "not a valid URI (expected scheme://host/...)"}
		}
		return Name{Kind: URIName, Value: u.String(), URI: u}, nil
	}
	if strings.Contains(s, "@") {
		addr, err := mail.ParseAddress(s)
		if err != nil || addr.Address != s || addr.Name != "" {
			return Name{}, &NameError{orig, "not a valid e-mail address"}
		}
		i := strings.LastIndexByte(s, '@')
		domain, err := normaliseDNSName(s[i+1:], false)
		if err != nil {
			return Name{}, &NameError{orig, "the e-mail domain is invalid: " + err.Error()}
		}
		v := s[:i+1] + domain
		return Name{Kind: EmailAddress, Value: v}, nil
	}
	d, err := normaliseDNSName(s, true)
	if err != nil {
		return Name{}, &NameError{orig, err.Error()}
	}
	return Name{Kind: DNSName, Value: d}, nil
}

var idnaProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.StrictDomainName(true), idna.ValidateLabels(true))

func normaliseDNSName(s string, allowWildcard bool) (string, error) {
	s = strings.TrimSuffix(s, ".")
	wildcard := false
	if strings.HasPrefix(s, "*.") && allowWildcard {
		wildcard = true
		s = s[2:]
	}
	if strings.Contains(s, "*") {
		return "", fmt.Errorf("a wildcard must be the whole left-most label, as in *.example.com")
	}
	ascii, err := idnaProfile.ToASCII(s)
	if err != nil {
		return "", fmt.Errorf("not a valid host name (%v)", strings.TrimPrefix(err.Error(), "idna: "))
	}
	ascii = strings.ToLower(ascii)
	if len(ascii) > 253 {
		return "", fmt.Errorf("longer than 253 characters")
	}
	labels := strings.Split(ascii, ".")
	for _, l := range labels {
		if err := checkLabel(l); err != nil {
			return "", err
		}
	}
	if wildcard {
		if len(labels) < 2 {
			return "", fmt.Errorf("a wildcard needs at least two labels after it, as in *.example.com")
		}
		return "*." + ascii, nil
	}
	return ascii, nil
}

func checkLabel(l string) error {
	if l == "" {
		return fmt.Errorf("has an empty label")
	}
	if len(l) > 63 {
		return fmt.Errorf("label %q is longer than 63 characters", l)
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
		if !ok {
			return fmt.Errorf("label %q has the character %q; host names allow only letters, digits and '-'", l, c)
		}
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return fmt.Errorf("label %q starts or ends with '-'", l)
	}
	return nil
}
