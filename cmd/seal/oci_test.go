package main

import (
	"archive/tar"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certseal/certseal/internal/testutil"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// servedSerial returns the serial of the certificate the server at addr
// presents.
func servedSerial(t *testing.T, addr string) string {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"})
	if err != nil {
		return ""
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// TestOCIKeysAtRuntime seals an OCI image without a key, takes the binary
// out of the docker tarball as a container runtime would, runs it with a
// keys directory laid out like a Kubernetes Secret volume (..data symlink),
// fetches a page, then swaps the Secret and checks the new certificate is
// served without a restart.
func TestOCIKeysAtRuntime(t *testing.T) {
	testutil.RequireTool(t, "curl")
	runtime := staticRuntime(t)
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	tarPath := filepath.Join(dir, "site.tar")
	sealImageForTest(t, "-t", "oci", "--data", testSite(t), "--keys-at-runtime", secret, "--runtime", runtime, "-o", tarPath)

	img, err := tarball.ImageFromPath(tarPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigFile()
	if cfg.Config.User != "65532:65532" || strings.Join(cfg.Config.Entrypoint, " ") != "/seal" {
		t.Errorf("config user %q entrypoint %v", cfg.Config.User, cfg.Config.Entrypoint)
	}
	tr := tar.NewReader(mutate.Extract(img))
	bin := filepath.Join(dir, "seal")
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no /seal in the image: %v", err)
		}
		if h.Name == "seal" {
			f, _ := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
			io.Copy(f, tr)
			f.Close()
			break
		}
	}
	if data, _ := os.ReadFile(bin); strings.Contains(string(data), "-----BEGIN PRIVATE KEY-----\n") || strings.Contains(string(data), "-----BEGIN EC PRIVATE KEY-----\n") {
		t.Fatal("the image holds a private key")
	}

	// A Secret volume: files are symlinks through ..data to a timestamped dir.
	keysA, caFile := wallClockKeys(t)
	keysB, _ := wallClockKeys(t)
	swap := func(src, stamp string) {
		ts := filepath.Join(secret, stamp)
		os.MkdirAll(ts, 0o755)
		for _, f := range []string{"server.pem", "server.key"} {
			b, _ := os.ReadFile(filepath.Join(src, f))
			os.WriteFile(filepath.Join(ts, f), b, 0o600)
		}
		tmp := filepath.Join(secret, "..data_tmp")
		os.Remove(tmp)
		if err := os.Symlink(stamp, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(secret, "..data")); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"server.pem", "server.key"} {
			os.Symlink(filepath.Join("..data", f), filepath.Join(secret, f))
		}
	}
	os.MkdirAll(secret, 0o755)
	swap(keysA, "..2025_01_01")

	hp, pp := freeImagePort(t), freeImagePort(t)
	cmd := exec.Command(bin, "--https", fmt.Sprintf("127.0.0.1:%d", hp), "--http", fmt.Sprintf("127.0.0.1:%d", pp))
	console := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = console, console
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	addr := fmt.Sprintf("127.0.0.1:%d", hp)
	var first string
	for deadline := time.Now().Add(20 * time.Second); first == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		first = servedSerial(t, addr)
	}
	if first == "" {
		t.Fatalf("the server did not start:\n%s", console.String())
	}
	body, err := curl(t, caFile, "https://localhost/", hp)
	if err != nil || !strings.Contains(body, "sealed in a VM") {
		t.Errorf("fetch: %q, %v", body, err)
	}
	// Behind the usual 443 → 8443 mapping, redirects name the public port.
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/about/?x=1", pp), nil)
	req.Host = "www.example.test"
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err := noFollow.Do(req); err != nil {
		t.Errorf("plain HTTP: %v", err)
	} else {
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusMovedPermanently || loc != "https://www.example.test/about/?x=1" {
			t.Errorf("redirect: %d %q, want 301 to the public port 443", resp.StatusCode, loc)
		}
	}
	swap(keysB, "..2025_01_02")
	var second string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if second = servedSerial(t, addr); second != "" && second != first {
			break
		}
	}
	if second == first || second == "" {
		t.Fatalf("certificate not reloaded (serial %s then %s); log:\n%s", first, second, console.String())
	}
	if !strings.Contains(console.String(), "reloaded the certificate") {
		t.Errorf("no reload logged:\n%s", console.String())
	}
}
