package badinput

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certseal/certseal/internal/payload"
	"github.com/certseal/certseal/pkg/x509util"
)

// now is the clock of every command run here (CERTSEAL_NOW); the test
// certificates are valid around it.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// hugeSize is the size of the "huge" inputs: sparse files, so they cost
// no disk, far over cli.MaxInputSize.
const hugeSize = 100 << 20

// nobody is the uid/gid children run as when the test runs as root, so
// that unreadable files and read-only directories mean something.
const nobody = 65534

// fixtures is the directory of test inputs shared by every case, and the
// private keys in it, whose base64 lines must never appear in any output.
type fixtures struct {
	dir     string
	secrets []string // base64 lines of every private key the cases can see
	port    int      // a closed loopback port, for acme's directory URL
}

func mustWrite(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask
		t.Fatal(err)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func newKey(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keyPEM(t *testing.T, k crypto.Signer) []byte {
	t.Helper()
	b, err := x509util.MarshalPrivateKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func issue(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// base64Lines returns the body lines of every PEM block in data.
func base64Lines(data []byte) []string {
	var lines []string
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return lines
		}
		enc := pem.EncodeToMemory(&pem.Block{Type: b.Type, Bytes: b.Bytes})
		for _, l := range strings.Split(string(enc), "\n") {
			if len(l) >= 16 && !strings.HasPrefix(l, "-----") {
				lines = append(lines, l)
			}
		}
	}
}

// half returns the first half of data: a PEM file cut mid-body.
func half(data []byte) []byte { return bytes.Clone(data[:len(data)/2]) }

// closedPort returns a loopback port that was just free: nothing listens
// there, so connecting is refused at once.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// makeFixtures writes every input the cases use into dir:
//
//	ca.pem ca.key          a root CA
//	leaf.pem leaf.key      localhost, issued by the CA
//	chain.pem              leaf + CA
//	other.key              a key that matches nothing
//	csr.pem                a request for localhost
//	acct.key               an ACME account key
//	req.json               a valid cfssl JSON request
//	bundle.p12 pass.txt    PKCS#12 of leaf.key + chain.pem, and its password
//	wrongpass.txt          not its password
//	garbage empty random.bin huge.pem (sparse, 100 MB)
//	half-cert.pem half-key.pem half-csr.pem half.json wrongtype.json
//	adir/                  a directory
//	unreadable             mode 0000 (a copy of leaf.key)
//	site/                  a two-file site
//	keys-good/             server.pem + server.key for seal
//	art-*                  sealed artifacts, good and damaged (see makeArtifacts)
func makeFixtures(t *testing.T, dir string, bin string) *fixtures {
	fx := &fixtures{dir: dir, port: closedPort(t)}
	w := func(name string, data []byte, mode os.FileMode) { mustWrite(t, filepath.Join(dir, name), data, mode) }

	caKey, leafKey, otherKey, acctKey := newKey(t), newKey(t), newKey(t), newKey(t)
	ca := issue(t, &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Bad Input Test Root CA"},
		NotBefore:             now.AddDate(-1, 0, 0),
		NotAfter:              now.AddDate(10, 0, 0),
		BasicConstraintsValid: true,
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, nil, caKey.Public(), caKey)
	leaf := issue(t, &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.AddDate(0, -1, 0),
		NotAfter:     now.AddDate(0, 6, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}, ca, leafKey.Public(), caKey)
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"},
	}, leafKey)
	if err != nil {
		t.Fatal(err)
	}
	csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})
	certPEM := x509util.EncodeCertificatesPEM(leaf)
	chainPEM := x509util.EncodeCertificatesPEM(leaf, ca)
	leafKeyPEM := keyPEM(t, leafKey)
	for _, k := range []crypto.Signer{caKey, leafKey, otherKey, acctKey} {
		fx.secrets = append(fx.secrets, base64Lines(keyPEM(t, k))...)
	}
	p12, err := x509util.EncodePKCS12(leafKey, []*x509.Certificate{leaf, ca}, "right horse", x509util.PKCS12Options{})
	if err != nil {
		t.Fatal(err)
	}

	w("ca.pem", x509util.EncodeCertificatesPEM(ca), 0o644)
	w("ca.key", keyPEM(t, caKey), 0o600)
	w("leaf.pem", certPEM, 0o644)
	w("leaf.key", leafKeyPEM, 0o600)
	w("chain.pem", chainPEM, 0o644)
	w("other.key", keyPEM(t, otherKey), 0o600)
	w("acct.key", keyPEM(t, acctKey), 0o600)
	w("csr.pem", csrPEM, 0o644)
	w("req.json", []byte(`{"CN": "example.com", "hosts": ["example.com"], "key": {"algo": "ecdsa", "size": 256}}`+"\n"), 0o644)
	w("bundle.p12", p12, 0o600)
	w("pass.txt", []byte("right horse\n"), 0o600)
	w("wrongpass.txt", []byte("wrong horse\n"), 0o600)

	w("garbage", []byte("this is not a certificate, a key or a request\n"), 0o644)
	w("empty", nil, 0o644)
	rnd := make([]byte, 4096)
	r := mrand.NewChaCha8([32]byte{'b', 'a', 'd'})
	r.Read(rnd)
	w("random.bin", rnd, 0o644)
	w("huge.pem", nil, 0o644)
	if err := os.Truncate(filepath.Join(dir, "huge.pem"), hugeSize); err != nil {
		t.Fatal(err)
	}
	w("half-cert.pem", half(certPEM), 0o644)
	w("half-key.pem", half(leafKeyPEM), 0o600)
	w("half-csr.pem", half(csrPEM), 0o644)
	w("half.json", []byte(`{"CN": "example.com", "hosts": ["exa`), 0o644)
	w("wrongtype.json", []byte(`{"CN": 42, "hosts": "example.com"}`), 0o644)
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	w("unreadable", leafKeyPEM, 0o000)

	w("site/index.html", []byte("<!doctype html><title>t</title><p>hello</p>\n"), 0o644)
	w("site/style.css", []byte("body { color: #123456 }\n"), 0o644)
	mustSymlink(t, "../leaf.pem", filepath.Join(dir, "keys-good", "server.pem"))
	mustSymlink(t, "../leaf.key", filepath.Join(dir, "keys-good", "server.key"))

	good := filepath.Join(dir, "art-good")
	cmd := exec.Command(filepath.Join(bin, "seal"), "--data", filepath.Join(dir, "site"), "--keys", filepath.Join(dir, "keys-good"), "-o", good)
	cmd.Env = append(os.Environ(), "CERTSEAL_NOW="+now.Format(time.RFC3339))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sealing the test site: %v\n%s", err, out)
	}
	if len(fx.secrets) < 4*3 {
		t.Fatalf("only %d base64 lines in four private keys: the leak check would be blind", len(fx.secrets))
	}
	fx.secrets = append(fx.secrets, makeArtifacts(t, dir, good, []byte("not a PEM key\n"), keyPEM(t, otherKey), leafKeyPEM)...)
	return fx
}

// makeArtifacts writes damaged copies of the sealed artifact good, each
// named art-KIND (see artifactKinds), and returns the base64 lines of the
// keys sealed into them.
func makeArtifacts(t *testing.T, dir, good string, garbageKey, otherKeyPEM, leafKeyPEM []byte) []string {
	a, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	site, err := payload.Load(a)
	if err != nil {
		t.Fatalf("the good artifact does not load: %v", err)
	}
	n := len(a)
	trailer := a[n-payload.TrailerSize:]
	plen := int(binary.BigEndian.Uint64(trailer[len(payload.Magic)+4:]))
	runtime := a[:n-payload.TrailerSize-plen]
	flip := func(i int) []byte {
		b := bytes.Clone(a)
		b[i] ^= 0x40
		return b
	}
	reseal := func(p []byte) []byte {
		out := bytes.Clone(runtime)
		out = append(out, p...)
		return append(out, payload.Trailer(p)...)
	}
	resealSite := func(change func(s *payload.Site)) []byte {
		s, err := payload.Load(a) // a fresh copy to change
		if err != nil {
			t.Fatal(err)
		}
		change(s)
		p, err := payload.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		return reseal(p)
	}
	w := func(name string, data []byte) { mustWrite(t, filepath.Join(dir, "art-"+name), data, 0o755) }
	w("minus-one-byte", a[:n-1])
	w("no-trailer", a[:n-payload.TrailerSize])
	w("half-trailer", a[:n-payload.TrailerSize/2])
	w("half-payload", a[:n-payload.TrailerSize-plen/2])
	w("flipped-payload", flip(n-payload.TrailerSize-plen/2))
	w("flipped-checksum", flip(n-1))
	w("flipped-version", flip(n-payload.TrailerSize+len(payload.Magic)+3))
	w("flipped-length", flip(n-payload.TrailerSize+len(payload.Magic)+4))
	w("appended", append(bytes.Clone(a), "appended garbage\n"...))
	w("huge", a)
	if err := os.Truncate(filepath.Join(dir, "art-huge"), hugeSize); err != nil {
		t.Fatal(err)
	}
	rnd := make([]byte, 2048)
	mrand.NewChaCha8([32]byte{'p', 'a', 'y'}).Read(rnd)
	w("resealed-random", reseal(rnd))
	w("resealed-garbage-key", resealSite(func(s *payload.Site) { s.KeyPEM = garbageKey }))
	w("resealed-other-key", resealSite(func(s *payload.Site) { s.KeyPEM = otherKeyPEM }))
	w("resealed-garbage-cert", resealSite(func(s *payload.Site) { s.CertPEM = []byte("not a certificate\n") }))
	w("resealed-key-as-cert", resealSite(func(s *payload.Site) { s.CertPEM = leafKeyPEM }))
	w("resealed-no-cert", resealSite(func(s *payload.Site) { s.CertPEM, s.KeyPEM = nil, nil }))
	return base64Lines(site.KeyPEM)
}
