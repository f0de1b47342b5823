package x509util

import (
	"errors"
	"strings"
	"testing"
)

func TestParseName(t *testing.T) {
	tests := []struct {
		in    string
		kind  NameKind
		value string
	}{
		{"example.com", DNSName, "example.com"},
		{"Example.COM.", DNSName, "example.com"},
		{"  www.example.com ", DNSName, "www.example.com"},
		{"localhost", DNSName, "localhost"},
		{"*.example.com", DNSName, "*.example.com"},
		{"*.sub.example.co.uk", DNSName, "*.sub.example.co.uk"},
		{"bücher.example", DNSName, "xn--bcher-kva.example"},
		{"BÜCHER.example", DNSName, "xn--bcher-kva.example"},
		{"*.bücher.example", DNSName, "*.xn--bcher-kva.example"},
		{"xn--bcher-kva.example", DNSName, "xn--bcher-kva.example"},
		{"日本.example", DNSName, "xn--wgv71a.example"},
		{"a-b.example", DNSName, "a-b.example"},
		{"192.0.2.1", IPAddress, "192.0.2.1"},
		{"2001:db8::1", IPAddress, "2001:db8::1"},
		{"[2001:DB8::1]", IPAddress, "2001:db8::1"},
		{"::ffff:192.0.2.1", IPAddress, "192.0.2.1"},
		{"admin@example.com", EmailAddress, "admin@example.com"},
		{"admin@bücher.example", EmailAddress, "admin@xn--bcher-kva.example"},
		{"https://example.com/path", URIName, "https://example.com/path"},
		{"spiffe://trust.example/ns/web", URIName, "spiffe://trust.example/ns/web"},
	}
	for _, tt := range tests {
		n, err := ParseName(tt.in)
		if err != nil {
			t.Errorf("ParseName(%q): %v", tt.in, err)
			continue
		}
		if n.Kind != tt.kind || n.Value != tt.value {
			t.Errorf("ParseName(%q) = %v %q, want %v %q", tt.in, n.Kind, n.Value, tt.kind, tt.value)
		}
		switch n.Kind {
		case IPAddress:
			if n.IP == nil || n.IP.String() != tt.value {
				t.Errorf("ParseName(%q).IP = %v", tt.in, n.IP)
			}
		case URIName:
			if n.URI == nil || n.URI.String() != tt.value {
				t.Errorf("ParseName(%q).URI = %v", tt.in, n.URI)
			}
		}
	}
}

func TestParseNameInvalid(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"foo*.example.com", "wildcard must be the whole left-most label"},
		{"www.*.example.com", "wildcard must be the whole left-most label"},
		{"*example.com", "wildcard must be the whole left-most label"},
		{"*.*.example.com", "wildcard"},
		{"*.com", "wildcard needs at least two labels"},
		{"*", "wildcard"},
		{"exa_mple.com", "not a valid host name"},
		{"exa mple.com", "not a valid host name"},
		{"-example.com", ""},
		{"example-.com", ""},
		{"a..example.com", ""},
		{strings.Repeat("a", 64) + ".example.com", "longer than 63"},
		{strings.Repeat("abcdefghi.", 26) + "com", "253"},
		{"fe80::1%eth0", "zone"},
		{"not an@email@example.com", "e-mail"},
		{"Joe <joe@example.com>", "e-mail"},
		{"joe@exa_mple.com", "e-mail domain is invalid"},
		{"://nohost", "URI"},
		{"https://", "URI"},
	}
	for _, tt := range tests {
		n, err := ParseName(tt.in)
		if err == nil {
			t.Errorf("ParseName(%q) = %v %q, want an error", tt.in, n.Kind, n.Value)
			continue
		}
		var ne *NameError
		if !errors.As(err, &ne) || ne.Name != tt.in {
			t.Errorf("ParseName(%q) error %v is not a *NameError naming the input", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseName(%q) error %q lacks %q", tt.in, err, tt.want)
		}
		if !strings.Contains(err.Error(), "x509util: invalid name ") {
			t.Errorf("ParseName(%q) error %q lacks the usual prefix", tt.in, err)
		}
	}
}

func TestNameKindString(t *testing.T) {
	for k, want := range map[NameKind]string{DNSName: "DNS", IPAddress: "IP", EmailAddress: "email", URIName: "URI"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q, want %q", k, k.String(), want)
		}
	}
}
