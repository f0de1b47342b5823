package browsertest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certseal/certseal/internal/testutil"
	"github.com/certseal/certseal/pkg/x509util"
)

// budget bounds everything the browser does in this test.
const budget = 60 * time.Second

// The example site's stylesheet sets this page background
// (--paper: #fbfaf7); without the stylesheet Chromium paints white.
var paper = color.RGBA{0xfb, 0xfa, 0xf7, 0xff}

// testPKI writes a root CA (root.pem) and a localhost certificate and key
// issued by it (keys/server.pem, keys/server.key) into dir. The browser
// checks validity against the real clock, so the times are relative to
// now.
func testPKI(t *testing.T, dir string) {
	t.Helper()
	now := time.Now()
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rootTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "certseal browser test root"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		BasicConstraintsValid: true,
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		t.Fatal(err)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}, root, leafKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := x509util.MarshalPrivateKeyPEM(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte, mode os.FileMode) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
	}
	write("root.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}), 0o644)
	write("keys/server.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), 0o644)
	write("keys/server.key", keyPEM, 0o600)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startSealed seals examples/site and runs it on 127.0.0.1:port with the
// access log on. It returns the access log, complete once stop returns.
func startSealed(t *testing.T, dir string, port int) (accessLog func() string, stop func()) {
	t.Helper()
	goTool := testutil.RequireTool(t, "go")
	bin := filepath.Join(dir, "bin")
	build := exec.Command(goTool, "build", "-trimpath", "-o", bin+string(filepath.Separator), "./cmd/seal", "./cmd/seal-runtime")
	build.Dir = filepath.Join("..", "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building seal: %v\n%s", err, out)
	}
	artifact := filepath.Join(dir, "site-server")
	seal := exec.Command(filepath.Join(bin, "seal"), "--data", filepath.Join("..", "..", "examples", "site"),
		"--keys", filepath.Join(dir, "keys"), "--hsts-max-age", "0", "-o", artifact)
	if out, err := seal.CombinedOutput(); err != nil {
		t.Fatalf("seal: %v\n%s", err, out)
	}

	var stdout, stderr testutil.SyncBuffer
	srv := exec.Command(artifact, "--https", "127.0.0.1:"+strconv.Itoa(port), "--http", "-", "--access-log")
	srv.Stdout, srv.Stderr = &stdout, &stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			srv.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { srv.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				srv.Process.Kill()
				<-done
			}
		})
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(stderr.String(), "serving") {
		if time.Now().After(deadline) {
			t.Fatalf("the sealed server did not start:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return stdout.String, stop
}

// trustRoot makes an NSS database under home/.pki/nssdb, where Chromium
// on Linux looks for user-trusted CAs, trusting root.pem for TLS servers.
func trustRoot(t *testing.T, home, rootPEM string) {
	t.Helper()
	certutil := testutil.RequireTool(t, "certutil")
	db := filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(db, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-d", "sql:" + db, "-N", "--empty-password"},
		{"-d", "sql:" + db, "-A", "-t", "C,,", "-n", "certseal-test", "-i", rootPEM},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// chromium runs headless Chromium with a fresh profile on url and returns
// its standard output.
func chromium(ctx context.Context, t *testing.T, bin, home, url string, extra ...string) string {
	t.Helper()
	profile, err := os.MkdirTemp(home, "profile-")
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + profile,
	}, extra...)
	args = append(args, url)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	t.Logf("chromium %s: %v", strings.Join(extra, " "), time.Since(start).Round(time.Millisecond))
	if ctx.Err() != nil {
		t.Fatalf("chromium did not finish within the %v budget\n%s", budget, stderr.String())
	}
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return stdout.String()
}

// dominantColor returns the most frequent fully opaque colour of img.
func dominantColor(img image.Image) color.RGBA {
	counts := map[color.RGBA]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			if c.A == 0xff {
				counts[c]++
			}
		}
	}
	var best color.RGBA
	for c, n := range counts {
		if n > counts[best] {
			best = c
		}
	}
	return best
}

func near(a, b color.RGBA, tol int) bool {
	d := func(x, y uint8) int {
		if x > y {
			return int(x - y)
		}
		return int(y - x)
	}
	return d(a.R, b.R) <= tol && d(a.G, b.G) <= tol && d(a.B, b.B) <= tol
}

// countNear counts the pixels of img within tol of c.
func countNear(img image.Image, c color.RGBA, tol int) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if near(color.RGBAModel.Convert(img.At(x, y)).(color.RGBA), c, tol) {
				n++
			}
		}
	}
	return n
}

func TestChromiumLoadsSealedSite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and seals the example site and runs a browser")
	}
	browser := testutil.RequireTool(t, "chromium")
	testutil.RequireTool(t, "certutil")
	start := time.Now()
	dir := t.TempDir()
	testPKI(t, dir)
	home := filepath.Join(dir, "home")
	trustRoot(t, home, filepath.Join(dir, "root.pem"))
	port := freePort(t)
	accessLog, stop := startSealed(t, dir, port)
	url := fmt.Sprintf("https://localhost:%d/", port)

	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()

	// The DOM: the page itself, not Chromium's interstitial.
	dom := chromium(ctx, t, browser, home, url, "--dump-dom")
	for _, bad := range []string{"ERR_CERT", "Your connection is not private", "chrome-error://", "interstitial"} {
		if strings.Contains(dom, bad) {
			t.Fatalf("Chromium shows a certificate error (%q) for %s:\n%s", bad, url, dom)
		}
	}
	for _, want := range []string{"<title>certseal example site</title>", "<h1>It works.</h1>", `href="/css/style.css"`} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered DOM lacks %s:\n%s", want, dom)
		}
	}

	// The control: without the root in its NSS database the same browser
	// refuses the site (headless Chromium then dumps an empty DOM), so the
	// check above really depends on trust.
	untrusted := filepath.Join(dir, "home-untrusted")
	if err := os.MkdirAll(untrusted, 0o700); err != nil {
		t.Fatal(err)
	}
	if dom := chromium(ctx, t, browser, untrusted, url, "--dump-dom"); strings.Contains(dom, "It works.") {
		t.Errorf("Chromium rendered the site without trusting the test root:\n%s", dom)
	}

	// The screenshot: the stylesheet's background and the logo are there.
	shot := filepath.Join(dir, "screenshot.png")
	chromium(ctx, t, browser, home, url, "--screenshot="+shot, "--window-size=1024,768", "--hide-scrollbars")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	t.Logf("screenshot: %s (%v)", shot, img.Bounds().Size())
	if keep := os.Getenv("CERTSEAL_SCREENSHOT"); keep != "" {
		// To look at it: CERTSEAL_SCREENSHOT=/tmp/shot.png go test ./internal/browsertest
		if data, err := os.ReadFile(shot); err == nil {
			os.WriteFile(keep, data, 0o644)
		}
	}
	if got := img.Bounds().Size(); got.X != 1024 || got.Y != 768 {
		t.Errorf("screenshot is %v, want 1024x768", got)
	}
	total := img.Bounds().Dx() * img.Bounds().Dy()
	// Sample the margins left and right of the centred text column.
	for _, p := range []image.Point{{5, 300}, {5, 600}, {1015, 300}, {1015, 600}, {512, 760}} {
		if c := color.RGBAModel.Convert(img.At(p.X, p.Y)).(color.RGBA); !near(c, paper, 1) {
			t.Errorf("pixel %v is %v, want the stylesheet's background %v (white means the CSS did not load)", p, c, paper)
		}
	}
	if n := countNear(img, paper, 1); n > total*98/100 {
		t.Errorf("%d of %d pixels are the background colour: the page is blank", n, total)
	} else if n < total/2 {
		t.Errorf("only %d of %d pixels are the background colour", n, total)
	}
	logoFile, err := os.Open(filepath.Join("..", "..", "examples", "site", "img", "logo.png"))
	if err != nil {
		t.Fatal(err)
	}
	logo, err := png.Decode(logoFile)
	logoFile.Close()
	if err != nil {
		t.Fatal(err)
	}
	logoColor := dominantColor(logo)
	if n := countNear(img, logoColor, 8); n < 200 {
		t.Errorf("only %d pixels of the logo's colour %v: the image did not load", n, logoColor)
	}

	// The server saw the browser fetch the stylesheet and the image.
	stop()
	log := accessLog()
	for _, path := range []string{"/", "/css/style.css", "/img/logo.png"} {
		re := regexp.MustCompile(`"GET ` + regexp.QuoteMeta(path) + ` HTTP/[0-9.]+" 200 `)
		if !re.MatchString(log) {
			t.Errorf("the access log has no 200 GET %s:\n%s", path, log)
		}
	}
	if strings.Contains(log, `HTTP/2.0" 200`) {
		t.Log("Chromium spoke HTTP/2")
	}
	t.Logf("browser test in %v", time.Since(start).Round(time.Millisecond))
}
