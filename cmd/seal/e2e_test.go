package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certseal/certseal/internal/cli"
	"github.com/certseal/certseal/internal/testutil"
)

// buildRuntime compiles seal-runtime into a temporary directory, as
// 'CGO_ENABLED=0 go install' would.
func buildTestRuntime(t testing.TB) string {
	t.Helper()
	goTool := testutil.RequireTool(t, "go")
	out := filepath.Join(t.TempDir(), "seal-runtime")
	cmd := exec.Command(goTool, "build", "-trimpath", "-o", out, runtimePackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building seal-runtime: %v\n%s", err, b)
	}
	return out
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
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// sealForTest runs seal in-process and fails the test on error.
func sealForTest(t testing.TB, args ...string) {
	t.Helper()
	var stderr bytes.Buffer
	old := cli.Stderr
	cli.Stderr = &stderr
	defer func() { cli.Stderr = old }()
	if code := cli.Main(newApp(), append([]string{"seal"}, args...)); code != 0 {
		t.Fatalf("seal %s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
	}
}

type curlResult struct {
	status  int
	headers http.Header
	body    []byte
}

func runCurl(t *testing.T, curl string, args ...string) curlResult {
	t.Helper()
	bodyFile := filepath.Join(t.TempDir(), "body")
	cmd := exec.Command(curl, append([]string{"-sS", "--max-time", "10", "-o", bodyFile, "-D", "-"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	r := curlResult{headers: http.Header{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(line, "HTTP/") {
			f := strings.Fields(line)
			r.status, _ = strconv.Atoi(f[1])
			r.headers = http.Header{}
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			r.headers.Add(k, strings.TrimSpace(v))
		}
	}
	r.body, _ = os.ReadFile(bodyFile)
	return r
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the sealed server")
	}
	curl := testutil.RequireTool(t, "curl")
	runtimePath := buildTestRuntime(t)
	dir := t.TempDir()
	pki := newPKIAt(t, time.Now())
	writeKeys(t, filepath.Join(dir, "keys"), pemOf(pki.leaf, pki.inter), keyPEM(t, pki.leaf.key))
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pemOf(pki.root), 0o644); err != nil {
		t.Fatal(err)
	}
	artifact := filepath.Join(dir, "mir-seal")
	sealForTest(t, "--data", "../../examples/site", "--keys", filepath.Join(dir, "keys"), "--runtime", runtimePath, "-o", artifact)

	httpsPort, httpPort := freePort(t), freePort(t)
	var stderr bytes.Buffer
	cmd := exec.Command(artifact, "--https", "127.0.0.1:"+httpsPort, "--http", "127.0.0.1:"+httpPort)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
	}()

	roots := x509.NewCertPool()
	roots.AddCert(pki.root.cert)
	tlsConf := &tls.Config{RootCAs: roots, ServerName: "localhost"}
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", "127.0.0.1:"+httpsPort, tlsConf)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("the sealed server exited before serving: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sealed server is not ready after 15s: %v\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	base := "https://localhost:" + httpsPort
	resolve := "localhost:" + httpsPort + ":127.0.0.1"
	c := func(args ...string) curlResult {
		return runCurl(t, curl, append([]string{"--cacert", caFile, "--resolve", resolve}, args...)...)
	}
	index, err := os.ReadFile("../../examples/site/index.html")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("page", func(t *testing.T) {
		r := c(base + "/")
		if r.status != 200 || !bytes.Equal(r.body, index) {
			t.Fatalf("GET / = %d, %d bytes; want 200 and index.html", r.status, len(r.body))
		}
		if ct := r.headers.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
		if r.headers.Get("Strict-Transport-Security") == "" {
			t.Error("no HSTS header on HTTPS")
		}
	})
	t.Run("etag-304", func(t *testing.T) {
		etag := c(base + "/css/style.css").headers.Get("Etag")
		if etag == "" {
			t.Fatal("no ETag")
		}
		if r := c("-H", "If-None-Match: "+etag, base+"/css/style.css"); r.status != 304 || len(r.body) != 0 {
			t.Errorf("conditional GET = %d with %d bytes, want 304 and no body", r.status, len(r.body))
		}
	})
	t.Run("range", func(t *testing.T) {
		r := c("-r", "0-14", base+"/")
		if r.status != 206 || !bytes.Equal(r.body, index[:15]) {
			t.Errorf("range GET = %d %q, want 206 %q", r.status, r.body, index[:15])
		}
	})
	for _, enc := range []string{"gzip", "br"} {
		t.Run("encoding-"+enc, func(t *testing.T) {
			r := c("-H", "Accept-Encoding: "+enc, base+"/")
			if got := r.headers.Get("Content-Encoding"); got != enc || r.status != 200 || len(r.body) >= len(index) {
				t.Errorf("Accept-Encoding %s: status %d, Content-Encoding %q, %d bytes (identity %d)", enc, r.status, got, len(r.body), len(index))
			}
			if !strings.Contains(r.headers.Get("Vary"), "Accept-Encoding") {
				t.Errorf("Vary = %q", r.headers.Get("Vary"))
			}
		})
	}
	t.Run("compressed-decodes", func(t *testing.T) {
		if r := c("--compressed", base+"/"); !bytes.Equal(r.body, index) {
			t.Error("curl --compressed did not get index.html back")
		}
	})
	t.Run("404", func(t *testing.T) {
		r := c(base + "/no-such-page")
		if r.status != 404 || !bytes.Contains(r.body, []byte("Page not found")) {
			t.Errorf("GET /no-such-page = %d %q, want 404 with 404.html", r.status, r.body)
		}
	})
	t.Run("http-redirect", func(t *testing.T) {
		r := runCurl(t, curl, "http://127.0.0.1:"+httpPort+"/about/")
		if r.status != 301 || !strings.HasPrefix(r.headers.Get("Location"), "https://") || !strings.HasSuffix(r.headers.Get("Location"), ":"+httpsPort+"/about/") {
			t.Errorf("plain HTTP = %d Location %q, want 301 to https://...:%s/about/", r.status, r.headers.Get("Location"), httpsPort)
		}
	})
	t.Run("go-http2", func(t *testing.T) {
		tr := &http.Transport{
			TLSClientConfig:   tlsConf,
			ForceAttemptHTTP2: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+httpsPort)
			},
		}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		resp, err := client.Get(base + "/blog/first-post/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 || resp.StatusCode != 200 || !bytes.Contains(body, []byte("First post")) {
			t.Errorf("Go client: %s %d, %d bytes", resp.Proto, resp.StatusCode, len(body))
		}
	})

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("after SIGTERM the server exited with %v, want status 0\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("the server did not stop within 15s of SIGTERM\n%s", stderr.String())
	}
}

// TestRuntimeRefusesDamage checks that a tampered or truncated artifact
// exits 1 with a one-line error instead of serving.
func TestRuntimeRefusesDamage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds seal-runtime")
	}
	runtimePath := buildTestRuntime(t)
	dir := t.TempDir()
	pki := newPKIAt(t, time.Now())
	writeKeys(t, filepath.Join(dir, "keys"), pemOf(pki.leaf, pki.inter), keyPEM(t, pki.leaf.key))
	good := filepath.Join(dir, "good")
	sealForTest(t, "--data", "../../examples/site", "--keys", filepath.Join(dir, "keys"), "--runtime", runtimePath, "-o", good)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(data)
	i := bytes.Index(tampered, []byte("It works."))
	if i < 0 {
		t.Fatal("index.html not found in the artifact")
	}
	tampered[i] = 'X'
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"tampered", tampered, "checksum mismatch"},
		{"truncated", data[:len(data)-100], "carries no sealed site"},
		{"bare runtime", nil, "carries no sealed site"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "art")
			if tt.data == nil {
				b, _ := os.ReadFile(runtimePath)
				tt.data = b
			}
			if err := os.WriteFile(p, tt.data, 0o700); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(p, "--https", "127.0.0.1:"+freePort(t), "--http", "-")
			out, err := cmd.CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit = %v, want status 1\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "art: error: ") || !strings.Contains(lines[0], tt.want) {
				t.Errorf("output %q, want one line 'art: error: ...%s...'", out, tt.want)
			}
		})
	}
}

// TestRuntimeDependencies keeps the sealed server small: it never links
// the tools' dependencies (certificate issuing, CLI and progress plumbing,
// compressors, image writers). The VM boot code (netlink, DHCP) is allowed:
// the runtime is PID 1 in VM images.
func TestRuntimeDependencies(t *testing.T) {
	goTool := testutil.RequireTool(t, "go")
	out, err := exec.Command(goTool, "list", "-deps", runtimePackage).Output()
	if err != nil {
		t.Fatal(err)
	}
	denied := []string{"cfssl", "urfave", "progressbar", "brotli", "pkcs12", "zlint", "containerregistry",
		modulePath + "/pkg/", modulePath + "/internal/cli", modulePath + "/internal/image", modulePath + "/internal/payload/pack"}
	for _, dep := range strings.Fields(string(out)) {
		for _, d := range denied {
			if strings.Contains(dep, d) {
				t.Errorf("seal-runtime links %s", dep)
			}
		}
	}
}
