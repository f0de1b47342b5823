package hardening

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certseal/certseal/internal/image"
	"github.com/certseal/certseal/internal/payload"
	"github.com/certseal/certseal/internal/payload/pack"
	"github.com/certseal/certseal/internal/testutil"
	"github.com/certseal/certseal/pkg/x509util"
)

const (
	runtimePackage = "github.com/certseal/certseal/cmd/seal-runtime"
	// hstsMaxAge is seal's default --hsts-max-age.
	hstsMaxAge = 31536000
	// bigSize is the size of /big.bin, the file vanishing and slow clients
	// download.
	bigSize = 1 << 20
	// pkiBase is where the test PKI's CRLs, OCSP responder and issuer
	// certificates would live: loopback, never fetched by the tests
	// (testssl contacts them only with --phone-out).
	pkiBase = "http://127.0.0.1:8079"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture.dir != "" {
		os.RemoveAll(fixture.dir)
	}
	os.Exit(code)
}

// sealedFixture is one artifact shared by every test: building the
// runtime is the slow part, and each test starts its own process.
type sealedFixture struct {
	once     sync.Once
	err      error
	dir      string
	artifact string // the sealed executable, mode 0700
	caFile   string // the private root, PEM, for testssl and curl
	roots    *x509.CertPool
	index    []byte // /index.html
	big      []byte // /big.bin, incompressible
}

var fixture sealedFixture

// sealed returns the shared artifact, building it on first use: a test
// PKI (ECDSA root and intermediate, RSA-2048 leaf for localhost and
// 127.0.0.1 with CRL, OCSP and issuer URLs and the DV policy, as a public
// CA would issue it), a small site, seal-runtime built with
// CGO_ENABLED=0, and the payload appended as seal -t unix does.
func sealed(t testing.TB) *sealedFixture {
	t.Helper()
	goTool := testutil.RequireTool(t, "go")
	fixture.once.Do(func() { fixture.err = fixture.build(goTool) })
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
	return &fixture
}

func (f *sealedFixture) build(goTool string) error {
	dir, err := os.MkdirTemp("", "certseal-hardening-")
	if err != nil {
		return err
	}
	f.dir = dir

	runtimePath := filepath.Join(dir, "seal-runtime")
	cmd := exec.Command(goTool, "build", "-trimpath", "-o", runtimePath, runtimePackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building seal-runtime: %v\n%s", err, out)
	}

	certPEM, keyPEM, root, err := testPKI(time.Now())
	if err != nil {
		return err
	}
	f.roots = x509.NewCertPool()
	f.roots.AddCert(root)
	f.caFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(f.caFile, x509util.EncodeCertificatesPEM(root), 0o644); err != nil {
		return err
	}

	site := filepath.Join(dir, "site")
	var page strings.Builder
	page.WriteString("<!doctype html>\n<html><head><title>certseal hardening</title><link rel=stylesheet href=/style.css></head><body>\n")
	for i := range 200 {
		fmt.Fprintf(&page, "<p>Paragraph %d of a static page that compresses well.</p>\n", i)
	}
	page.WriteString("</body></html>\n")
	f.index = []byte(page.String())
	f.big = make([]byte, bigSize)
	rand.Read(f.big)
	files := map[string][]byte{
		"index.html":      f.index,
		"style.css":       []byte("body { font-family: sans-serif; margin: 2em; }\n"),
		"big.bin":         f.big,
		"docs/index.html": []byte("<!doctype html><title>docs</title>\n"),
	}
	for name, body := range files {
		p := filepath.Join(site, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			return err
		}
	}
	packed, err := pack.Dir(site, pack.Options{BrotliQuality: 5})
	if err != nil {
		return err
	}
	encoded, err := payload.Encode(&payload.Site{
		Config: payload.Config{
			HTTPSAddr:  "127.0.0.1:8443",
			HTTPAddr:   "127.0.0.1:8080",
			HSTSMaxAge: hstsMaxAge,
			Hostnames:  []string{"localhost", "127.0.0.1"},
		},
		CertPEM: certPEM,
		KeyPEM:  keyPEM,
		Files:   packed.Files,
	})
	if err != nil {
		return err
	}
	rt, err := os.ReadFile(runtimePath)
	if err != nil {
		return err
	}
	art, err := image.Unix(rt, encoded)
	if err != nil {
		return err
	}
	f.artifact = filepath.Join(dir, "mir-seal")
	return os.WriteFile(f.artifact, art, 0o700)
}

// testPKI returns a leaf-first chain (leaf, intermediate), the leaf's key
// and the root. The scanners judge certificates against the real clock,
// so the validity is centred on now rather than on a fixed date.
func testPKI(now time.Time) (chainPEM, keyPEM []byte, root *x509.Certificate, err error) {
	ecKey := func() (crypto.Signer, error) {
		return x509util.GenerateKey(x509util.KeySpec{Type: x509util.ECDSA}, nil)
	}
	rootKey, err := ecKey()
	if err != nil {
		return nil, nil, nil, err
	}
	root, err = x509util.SelfSign(rootKey, x509util.Options{
		Subject:  x509util.Subject{CommonName: "certseal Hardening Root", Organization: "certseal tests"},
		Now:      now,
		Validity: 10 * 365 * 24 * time.Hour,
		IsCA:     true,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	interKey, err := ecKey()
	if err != nil {
		return nil, nil, nil, err
	}
	zero := 0
	interCSR, err := x509util.CreateCSR(interKey, x509util.Options{
		Subject: x509util.Subject{CommonName: "certseal Hardening Intermediate", Organization: "certseal tests"},
		IsCA:    true,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	inter, err := x509util.SignCSR(interCSR, root, rootKey, x509util.Options{
		Now:        now,
		Validity:   5 * 365 * 24 * time.Hour,
		IsCA:       true,
		MaxPathLen: &zero,
		CRLURLs:    []string{pkiBase + "/root.crl"},
		IssuerURLs: []string{pkiBase + "/root.crt"},
	})
	if err != nil {
		return nil, nil, nil, err
	}
	leafKey, err := x509util.GenerateKey(x509util.KeySpec{Type: x509util.RSA, Size: 2048}, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	leafCSR, err := x509util.CreateCSR(leafKey, x509util.Options{
		Subject: x509util.Subject{CommonName: "localhost"},
		SANs:    []string{"127.0.0.1"},
	})
	if err != nil {
		return nil, nil, nil, err
	}
	leaf, err := x509util.SignCSR(leafCSR, inter, interKey, x509util.Options{
		Now:        now,
		Validity:   90 * 24 * time.Hour,
		Server:     true,
		CRLURLs:    []string{pkiBase + "/inter.crl"},
		OCSPURLs:   []string{pkiBase + "/ocsp"},
		IssuerURLs: []string{pkiBase + "/inter.crt"},
		PolicyOIDs: []string{"2.23.140.1.2.1"}, // CA/Browser Forum domain-validated
	})
	if err != nil {
		return nil, nil, nil, err
	}
	keyPEM, err = x509util.MarshalPrivateKeyPEM(leafKey)
	if err != nil {
		return nil, nil, nil, err
	}
	return x509util.EncodeCertificatesPEM(leaf, inter), keyPEM, root, nil
}

// proc is a running sealed artifact.
type proc struct {
	t      testing.TB
	cmd    *exec.Cmd
	https  string // 127.0.0.1:port
	http   string // 127.0.0.1:port
	stderr *testutil.SyncBuffer
	done   chan struct{}
	err    error // from Wait, once done is closed
	roots  *x509.CertPool
}

// freePort returns a loopback port that was free a moment ago: the
// artifact is a separate process, so it cannot be handed a listener.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs the sealed artifact on fresh loopback ports and waits until
// it accepts TLS connections. The process is stopped (SIGTERM, then
// SIGKILL after 15 s) when the test ends.
func start(t testing.TB) *proc {
	t.Helper()
	f := sealed(t)
	p := &proc{t: t, https: freePort(t), http: freePort(t), stderr: &testutil.SyncBuffer{}, done: make(chan struct{}), roots: f.roots}
	p.cmd = exec.Command(f.artifact, "--https", p.https, "--http", p.http)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
			t.Errorf("the sealed server did not stop within 15s of SIGTERM\n%s", p.stderr)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", p.https, p.tlsConfig())
		if err == nil {
			c.Close()
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("the sealed server exited before serving: %v\n%s", p.err, p.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sealed server is not ready after 20s: %v\n%s", err, p.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *proc) tlsConfig() *tls.Config {
	return &tls.Config{RootCAs: p.roots, ServerName: "localhost", NextProtos: []string{"h2", "http/1.1"}}
}

// client returns an HTTP client for the server; h2 chooses HTTP/2 or
// HTTP/1.1. Each client has its own connection pool.
func (p *proc) client(h2 bool) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:     p.tlsConfig(),
		ForceAttemptHTTP2:   h2,
		MaxIdleConnsPerHost: 8,
	}
	if !h2 {
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	var protos http.Protocols
	if h2 {
		protos.SetHTTP2(true)
	} else {
		protos.SetHTTP1(true)
	}
	tr.Protocols = &protos
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// url returns the HTTPS URL of path on the server.
func (p *proc) url(path string) string { return "https://localhost:" + portOf(p.https) + path }

func portOf(hostport string) string {
	_, port, _ := net.SplitHostPort(hostport)
	return port
}

// rssKiB returns the process's resident set size from /proc.
func (p *proc) rssKiB() (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				return strconv.Atoi(f[0])
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", p.cmd.Process.Pid)
}

// alive fails the test unless the process is still running and serves a
// normal request over both HTTP versions.
func (p *proc) alive(t testing.TB) {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("the sealed server exited: %v\n%s", p.err, p.stderr)
	default:
	}
	for _, h2 := range []bool{false, true} {
		c := p.client(h2)
		resp, err := c.Get(p.url("/"))
		if err != nil {
			t.Fatalf("GET / (h2=%v): %v\n%s", h2, err, p.stderr)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, fixture.index) {
			t.Fatalf("GET / (h2=%v) = %d, %d bytes, %v; want 200 and index.html", h2, resp.StatusCode, len(body), err)
		}
		c.CloseIdleConnections()
	}
}
