package cfsslreq

import (
	"strings"
	"testing"
	"time"

	"github.com/certseal/certseal/pkg/x509util"
)

func TestParseRequest(t *testing.T) {
	r, err := ParseRequest([]byte(`{"CN":"example.com","hosts":["www.example.com","192.0.2.1"],"key":{"algo":"ecdsa","size":384},
		"names":[{"C":"GB","ST":"England","L":"London","O":"Ex","OU":"Web"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := x509util.Subject{CommonName: "example.com", Country: "GB", Province: "England", Locality: "London", Organization: "Ex", OrganizationalUnit: "Web"}
	if r.Options.Subject != want || strings.Join(r.Options.SANs, ",") != "www.example.com,192.0.2.1" {
		t.Errorf("got %+v", r.Options)
	}
	if r.Key == nil || *r.Key != (x509util.KeySpec{Type: x509util.ECDSA, Size: 384}) {
		t.Errorf("key %+v", r.Key)
	}
	if r, err := ParseRequest([]byte(`{"CN":"example.com"}`)); err != nil || r.Key != nil {
		t.Errorf("no key section: %+v, %v", r, err)
	}
	for in, want := range map[string]string{
		`{"CN":"a.example","names":[{"O":"a"},{"O":"b"}]}`:     `2 "names" entries`,
		`{"CN":"a.example","names":[{"E":"x@example.com"}]}`:   `"names"."E"`,
		`{"CN":"a.example","serialnumber":"1"}`:                `"serialnumber"`,
		`{"CN":"a.example","key":{"algo":"ecdsa","size":521}}`: "ECDSA size 521",
		`{"CN":"a.example","names":[{"C":"GBR"}]}`:             "two-letter",
		`{}`:                    "neither",
		`{"CN":"a"} {"CN":"b"}`: "more than one document",
		`[1]`:                   "invalid JSON",
	} {
		if _, err := ParseRequest([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseRequest(%s) = %v, want %q", in, err, want)
		}
	}
}

func TestLoadProfile(t *testing.T) {
	cfg := []byte(`{"signing":{"default":{"expiry":"24h","usages":["server auth"]},"profiles":{
		"both":{"expiry":"48h","usages":["signing","server auth","client auth"],"issuer_urls":["http://ca.example/ca.crt"]},
		"ca0":{"expiry":"8760h","usages":["cert sign","crl sign"],"ca_constraint":{"is_ca":true,"max_path_len_zero":true}},
		"ca":{"expiry":"8760h","usages":["cert sign"],"ca_constraint":{"is_ca":true}},
		"ca2":{"expiry":"8760h","usages":["cert sign"],"ca_constraint":{"is_ca":true,"max_path_len":2}},
		"leafpath":{"expiry":"1h","usages":["server auth"],"ca_constraint":{"max_path_len":1}},
		"leafsign":{"expiry":"1h","usages":["server auth","cert sign"]},
		"nousage":{"expiry":"1h","usages":["signing"]},
		"caeku":{"expiry":"1h","usages":["cert sign","server auth"],"ca_constraint":{"is_ca":true}},
		"backdate":{"expiry":"1h","backdate":"1h","usages":["server auth"]}}}}`)
	two := 2
	zero := 0
	for _, tt := range []struct {
		name string
		want Profile
		err  string
	}{
		{name: "", want: Profile{Validity: 24 * time.Hour, Server: true}},
		{name: "both", want: Profile{Name: "both", Validity: 48 * time.Hour, Server: true, Client: true, IssuerURLs: []string{"http://ca.example/ca.crt"}}},
		{name: "ca0", want: Profile{Name: "ca0", Validity: 8760 * time.Hour, IsCA: true, MaxPathLen: &zero}},
		{name: "ca", want: Profile{Name: "ca", Validity: 8760 * time.Hour, IsCA: true}},
		{name: "ca2", want: Profile{Name: "ca2", Validity: 8760 * time.Hour, IsCA: true, MaxPathLen: &two}},
		{name: "leafpath", err: `needs "is_ca"`},
		{name: "leafsign", err: `"cert sign" (needs "ca_constraint"`},
		{name: "nousage", err: `neither "server auth" nor "client auth"`},
		{name: "caeku", err: "a CA profile cannot have"},
		{name: "backdate", err: `"backdate"`},
		{name: "missing", err: `no profile "missing"`},
	} {
		p, err := LoadProfile(cfg, tt.name)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: %v, want %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.name, err)
			continue
		}
		if p.Name != tt.want.Name || p.Validity != tt.want.Validity || p.IsCA != tt.want.IsCA || p.Server != tt.want.Server ||
			p.Client != tt.want.Client || strings.Join(p.IssuerURLs, ",") != strings.Join(tt.want.IssuerURLs, ",") ||
			(p.MaxPathLen == nil) != (tt.want.MaxPathLen == nil) || (p.MaxPathLen != nil && *p.MaxPathLen != *tt.want.MaxPathLen) {
			t.Errorf("%q: got %+v, want %+v", tt.name, p, tt.want)
		}
	}
}

func TestApply(t *testing.T) {
	p := &Profile{Name: "www", Validity: 48 * time.Hour, Client: true, OCSPURLs: []string{"http://ocsp.example"}}
	opts := x509util.Options{Validity: time.Hour}
	if err := p.Apply(&opts, false); err != nil || opts.Validity != 48*time.Hour || !opts.Client || len(opts.OCSPURLs) != 1 {
		t.Errorf("Apply: %+v, %v", opts, err)
	}
	opts = x509util.Options{Validity: time.Hour}
	if err := p.Apply(&opts, true); err != nil || opts.Validity != time.Hour {
		t.Errorf("Apply keeping --days: %+v, %v", opts, err)
	}
	opts = x509util.Options{IsCA: true}
	if err := p.Apply(&opts, false); err == nil || !strings.Contains(err.Error(), "--ca contradicts") {
		t.Errorf("Apply(--ca, leaf profile) = %v", err)
	}
}
