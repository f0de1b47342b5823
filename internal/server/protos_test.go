package server

import (
	"crypto/tls"
	"slices"
	"testing"
	"time"
)

// protoCerts is a CertSource that also asks for extra ALPN protocols, as
// an ACME certificate manager does for TLS-ALPN-01.
type protoCerts struct {
	certFunc
	protos []string
}

func (p protoCerts) NextProtos() []string { return p.protos }

func TestTLSConfigNextProtos(t *testing.T) {
	static := certFunc(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return nil, nil })
	for _, tc := range []struct {
		name string
		src  CertSource
		want []string
	}{
		{"plain source", static, []string{"h2", "http/1.1"}},
		{"extra protocol", protoCerts{static, []string{"acme-tls/1"}}, []string{"h2", "http/1.1", "acme-tls/1"}},
		{"duplicates and empty dropped", protoCerts{static, []string{"http/1.1", "", "acme-tls/1", "acme-tls/1"}}, []string{"h2", "http/1.1", "acme-tls/1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := TLSConfig(tc.src).NextProtos; !slices.Equal(got, tc.want) {
				t.Errorf("NextProtos = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestExtraProtoHandshake: a client offering only the extra protocol (as
// an ACME CA validating TLS-ALPN-01 does) negotiates it with Run's
// listener, and ordinary clients still get h2.
func TestExtraProtoHandshake(t *testing.T) {
	site := testSite(t)
	p := testCert(t)
	static, err := StaticCertificate(p.certPEM, p.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	src := protoCerts{certFunc(static.GetCertificate), []string{"acme-tls/1"}}
	r := start(t, site, Options{HTTPSAddr: "127.0.0.1:0", HTTPAddr: "-", Certificates: src})
	for _, tc := range []struct {
		offer []string
		want  string
	}{
		{[]string{"acme-tls/1"}, "acme-tls/1"},
		{[]string{"h2", "http/1.1"}, "h2"},
	} {
		conn, err := tls.Dial("tcp", r.addrs.HTTPS.String(), &tls.Config{RootCAs: p.roots, ServerName: "localhost", NextProtos: tc.offer, Time: func() time.Time { return testNow }})
		if err != nil {
			t.Fatalf("offering %q: %v", tc.offer, err)
		}
		if got := conn.ConnectionState().NegotiatedProtocol; got != tc.want {
			t.Errorf("offering %q negotiated %q, want %q", tc.offer, got, tc.want)
		}
		conn.Close()
	}
}
