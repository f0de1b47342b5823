package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certseal/certseal/internal/cli"
	"github.com/certseal/certseal/internal/testutil"
)

// The image tests boot real VMs and run real containers' binaries; they
// need certificates valid by the wall clock, since curl checks them
// against it.

var (
	staticRuntimeOnce sync.Once
	staticRuntimePath string
	staticRuntimeErr  error
)

// staticRuntime builds seal-runtime without cgo, as the image targets
// require.
func staticRuntime(t *testing.T) string {
	staticRuntimeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "certseal-runtime")
		if err != nil {
			staticRuntimeErr = err
			return
		}
		staticRuntimePath = filepath.Join(dir, "seal-runtime")
		cmd := exec.Command("go", "build", "-trimpath", "-o", staticRuntimePath, "../seal-runtime")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			staticRuntimeErr = fmt.Errorf("building seal-runtime: %v\n%s", err, out)
		}
	})
	if staticRuntimeErr != nil {
		t.Fatal(staticRuntimeErr)
	}
	return staticRuntimePath
}

// sealImageForTest runs seal in-process and fails the test on a non-zero exit.
func sealImageForTest(t *testing.T, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	old := os.Stderr
	r, w, _ := os.Pipe()
	os.Stderr = w
	done := make(chan struct{})
	go func() { stderr.ReadFrom(r); close(done) }()
	code := cli.Main(newApp(), append([]string{"seal"}, args...))
	w.Close()
	<-done
	os.Stderr = old
	if code != 0 {
		t.Fatalf("seal %s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
	}
	return stderr.String()
}

// wallClockKeys writes keys/server.pem (localhost, valid now) and the CA
// that signed it, returning the keys dir and the CA file.
func wallClockKeys(t *testing.T) (keysDir, caFile string) {
	dir := t.TempDir()
	now := time.Now()
	root := issue(t, "Image Test Root", true, nil, now.Add(-time.Hour), now.Add(365*24*time.Hour))
	leaf := issue(t, "localhost", false, root, now.Add(-time.Hour), now.Add(90*24*time.Hour))
	keysDir = filepath.Join(dir, "keys")
	writeKeys(t, keysDir, pemOf(leaf), keyPEM(t, leaf.key))
	caFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pemOf(root), 0o644); err != nil {
		t.Fatal(err)
	}
	return keysDir, caFile
}

func freeImagePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// curl fetches url with the CA, sending every request for localhost to
// 127.0.0.1:port, and returns "CODE REDIRECT\nBODY".
func curl(t *testing.T, caFile, url string, port int) (string, error) {
	out, err := exec.Command("curl", "-sS", "--max-time", "5", "--cacert", caFile,
		"--connect-to", fmt.Sprintf("localhost::127.0.0.1:%d", port),
		"-w", "\n%{http_code} %{redirect_url}", url).Output()
	return string(out), err
}

// bootAndFetch boots a VM with cmd (already set up with the host ports),
// waits up to 120 s for the HTTPS page, checks it and the HTTP redirect,
// and returns the time to the first response and the console output.
func bootAndFetch(t *testing.T, cmd *exec.Cmd, caFile string, httpsPort, httpPort int) (time.Duration, string) {
	console := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = console, console
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	deadline := time.Now().Add(120 * time.Second)
	var body string
	for {
		out, err := curl(t, caFile, "https://localhost/", httpsPort)
		if err == nil {
			body = out
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("the VM stopped before serving (%v); console:\n%s", err, console.String())
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no HTTPS response within 120 s; console:\n%s", console.String())
		}
	}
	elapsed := time.Since(start)
	if !strings.Contains(body, "<h1>sealed in a VM</h1>") || !strings.HasSuffix(body, "\n200 ") {
		t.Errorf("https://localhost/ returned:\n%s", body)
	}
	redir, err := curl(t, caFile, "http://localhost/about/?x=1", httpPort)
	if err != nil || !strings.HasSuffix(redir, "\n301 https://localhost/about/?x=1") {
		t.Errorf("http://localhost/about/ returned %q, %v", redir, err)
	}
	missing, _ := curl(t, caFile, "https://localhost/missing", httpsPort)
	if !strings.Contains(missing, "\n404 ") {
		t.Errorf("https://localhost/missing returned %q", missing)
	}
	return elapsed, console.String()
}

func testSite(t *testing.T) string {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<!doctype html><h1>sealed in a VM</h1>\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "about"), 0o755)
	os.WriteFile(filepath.Join(dir, "about", "index.html"), []byte("<p>about</p>\n"), 0o644)
	return dir
}

func requireKernel(t *testing.T) {
	if m, _ := filepath.Glob("/boot/vmlinuz-*"); len(m) == 0 {
		if os.Getenv("CERTSEAL_REQUIRE_TOOLS") == "1" {
			t.Fatal("no kernel in /boot (apt-get install linux-image-amd64)")
		}
		t.Skip("no kernel in /boot")
	}
}

func TestQEMUBoot(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM")
	}
	testutil.RequireTool(t, "qemu-system-x86_64")
	testutil.RequireTool(t, "curl")
	requireKernel(t)
	runtime := staticRuntime(t)
	keys, ca := wallClockKeys(t)
	site := testSite(t)
	for _, tc := range []struct {
		name   string
		args   []string
		method string
	}{
		{"dhcp", nil, "10.0.2.15/24 via 10.0.2.2 (dhcp)"},
		{"static", []string{"--ip", "10.0.2.15", "--nm", "255.255.255.0", "--gw", "10.0.2.2"}, "10.0.2.15/24 via 10.0.2.2 (static)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			sealImageForTest(t, append([]string{"-t", "qemu", "--data", site, "--keys", keys, "--runtime", runtime, "-o", out}, tc.args...)...)
			hp, pp := freeImagePort(t), freeImagePort(t)
			cmd := exec.Command(filepath.Join(out, "seal-qemu.sh"))
			cmd.Env = append(os.Environ(), fmt.Sprintf("CERTSEAL_HTTPS_PORT=%d", hp), fmt.Sprintf("CERTSEAL_HTTP_PORT=%d", pp), "CERTSEAL_QEMU_ACCEL=tcg")
			elapsed, console := bootAndFetch(t, cmd, ca, hp, pp)
			if !strings.Contains(console, "init: network eth0: "+tc.method) {
				t.Errorf("console lacks the %s network line:\n%s", tc.name, console)
			}
			t.Logf("qemu TCG (%s): boot to first HTTPS response %v", tc.name, elapsed.Round(100*time.Millisecond))
		})
	}
}

// TestXenImageBootsUnderQEMU boots the xen target's kernel and initramfs
// under qemu (no Xen here: virtio-net stands in for the Xen NIC), with
// the kernel command line of seal.xl.
func TestXenImageBootsUnderQEMU(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM")
	}
	qemu := testutil.RequireTool(t, "qemu-system-x86_64")
	testutil.RequireTool(t, "curl")
	requireKernel(t)
	runtime := staticRuntime(t)
	keys, ca := wallClockKeys(t)
	out := t.TempDir()
	sealImageForTest(t, "-t", "xen", "--data", testSite(t), "--keys", keys, "--runtime", runtime, "-o", out, "--name", "web", "--memory", "256")
	xl, err := os.ReadFile(filepath.Join(out, "seal.xl"))
	if err != nil {
		t.Fatal(err)
	}
	keysOf := map[string]string{}
	for _, l := range strings.Split(string(xl), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			keysOf[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	for k, v := range map[string]string{"name": "web", "type": "pvh", "memory": "256", "vif": "[ 'bridge=xenbr0' ]",
		"kernel": "mir-seal.vmlinuz", "ramdisk": "mir-seal.xen", "cmdline": "console=hvc0 panic=-1 quiet"} {
		if keysOf[k] != v {
			t.Errorf("seal.xl %s = %q, want %q", k, keysOf[k], v)
		}
	}
	for _, f := range []string{keysOf["kernel"], keysOf["ramdisk"]} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("seal.xl names %s: %v", f, err)
		}
	}
	hp, pp := freeImagePort(t), freeImagePort(t)
	cmdline := strings.Replace(keysOf["cmdline"], "console=hvc0", "console=ttyS0", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 130*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, "-accel", "tcg", "-cpu", "max", "-m", "256", "-nographic", "-no-reboot",
		"-kernel", filepath.Join(out, keysOf["kernel"]), "-initrd", filepath.Join(out, keysOf["ramdisk"]), "-append", cmdline,
		"-netdev", fmt.Sprintf("user,id=n0,hostfwd=tcp:127.0.0.1:%d-:443,hostfwd=tcp:127.0.0.1:%d-:80", hp, pp),
		"-device", "virtio-net-pci,netdev=n0")
	elapsed, _ := bootAndFetch(t, cmd, ca, hp, pp)
	t.Logf("xen image under qemu TCG: boot to first HTTPS response %v", elapsed.Round(100*time.Millisecond))
}
