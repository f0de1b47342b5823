package image

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certseal/certseal/internal/testutil"
)

// hostKernel returns the host's kernel and modules, skipping (or failing
// under CERTSEAL_REQUIRE_TOOLS=1) when linux-image-amd64 is not installed.
func hostKernel(t *testing.T) *Kernel {
	t.Helper()
	k, err := LoadKernel("", "")
	if err != nil {
		if os.Getenv("CERTSEAL_REQUIRE_TOOLS") == "1" {
			t.Fatalf("a kernel is required (apt-get install linux-image-amd64): %v", err)
		}
		t.Skipf("no kernel: %v", err)
	}
	return k
}

func TestInitramfsExtractsWithCpio(t *testing.T) {
	cpio := testutil.RequireTool(t, "cpio")
	fs := NewInitramfs()
	must(t, fs.AddFile("init", 0o755, []byte("#!/bin/sh\necho hi\n")))
	must(t, fs.AddFile("lib/modules/x/a.ko", 0o644, []byte("odd")))
	must(t, fs.AddSymlink("bin/sh", "/init"))
	must(t, fs.AddDir("tmp", 0o1777))
	must(t, fs.AddFile("empty", 0o600, nil))
	var buf bytes.Buffer
	n, err := fs.WriteTo(&buf)
	must(t, err)
	if n != int64(buf.Len()) || n%4 != 0 {
		t.Fatalf("WriteTo returned %d for %d bytes", n, buf.Len())
	}
	dir := t.TempDir()
	cmd := exec.Command(cpio, "-i", "-d", "--no-absolute-filenames", "--quiet")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(buf.Bytes())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -i: %v\n%s", err, out)
	}
	checkFile := func(name, want string, perm os.FileMode) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
		st, _ := os.Lstat(filepath.Join(dir, name))
		if st != nil && st.Mode().Perm() != perm {
			t.Errorf("%s mode %v, want %v", name, st.Mode().Perm(), perm)
		}
	}
	checkFile("init", "#!/bin/sh\necho hi\n", 0o755)
	checkFile("lib/modules/x/a.ko", "odd", 0o644)
	checkFile("empty", "", 0o600)
	if l, err := os.Readlink(filepath.Join(dir, "bin/sh")); err != nil || l != "/init" {
		t.Errorf("bin/sh -> %q, %v", l, err)
	}
	// Listing: sorted, parents implied.
	list := exec.Command(cpio, "-t", "--quiet")
	list.Stdin = bytes.NewReader(buf.Bytes())
	out, err := list.Output()
	must(t, err)
	want := "bin\nbin/sh\nempty\ninit\nlib\nlib/modules\nlib/modules/x\nlib/modules/x/a.ko\ntmp\n"
	if string(out) != want {
		t.Errorf("cpio -t:\n%s\nwant:\n%s", out, want)
	}
}

func TestInitramfsErrors(t *testing.T) {
	fs := NewInitramfs()
	must(t, fs.AddFile("a", 0o644, nil))
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"dup", fs.AddFile("a", 0o644, nil)},
		{"below file", fs.AddFile("a/b", 0o644, nil)},
		{"empty", fs.AddFile("/", 0o644, nil)},
		{"nul", fs.AddFile("x\x00y", 0o644, nil)},
	} {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestKernelRelease(t *testing.T) {
	if _, err := KernelRelease([]byte("not a kernel")); err == nil {
		t.Error("KernelRelease accepted garbage")
	}
	img := make([]byte, 0x400)
	copy(img[0x202:], "HdrS")
	img[0x20E] = 0x00
	img[0x20F] = 0x01 // version at 0x100+0x200
	copy(img[0x300:], "6.9.9-test (builder) #1\x00")
	if rel, err := KernelRelease(img); err != nil || rel != "6.9.9-test" {
		t.Errorf("KernelRelease = %q, %v", rel, err)
	}
	k := hostKernel(t)
	if filepath.Base(k.ModulesDir) != k.Release {
		t.Errorf("release %q does not name modules dir %s", k.Release, k.ModulesDir)
	}
}

func TestVersionLess(t *testing.T) {
	for _, tc := range [][2]string{
		{"vmlinuz-6.1.0-9-amd64", "vmlinuz-6.1.0-57-amd64"},
		{"vmlinuz-5.10.0-1", "vmlinuz-6.1.0-1"},
		{"vmlinuz-6.1", "vmlinuz-6.1.1"},
	} {
		if !versionLess(tc[0], tc[1]) || versionLess(tc[1], tc[0]) {
			t.Errorf("order of %s and %s", tc[0], tc[1])
		}
	}
}

func TestLoadKernelErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadKernel(filepath.Join(dir, "nope"), ""); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing kernel: %v", err)
	}
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("junk"), 0o644)
	if _, err := LoadKernel(junk, ""); err == nil || !strings.Contains(err.Error(), "bzImage") {
		t.Errorf("junk kernel: %v", err)
	}
	hostKernel(t)
	kp, _ := FindKernel("/")
	if _, err := LoadKernel(kp, dir); err == nil || !strings.Contains(err.Error(), "modules.dep is missing") {
		t.Errorf("missing modules: %v", err)
	}
}

func TestBuildVMReproducibleWithModules(t *testing.T) {
	k := hostKernel(t)
	init := []byte("\x7fELF pretend init")
	a, err := BuildVM(init, k, nil)
	must(t, err)
	b, err := BuildVM(init, k, nil)
	must(t, err)
	if !bytes.Equal(a.Initramfs, b.Initramfs) {
		t.Fatal("two builds of the same input differ")
	}
	// Gzip header: no name, no mtime.
	if a.Initramfs[3]&0x08 != 0 || !bytes.Equal(a.Initramfs[4:8], []byte{0, 0, 0, 0}) {
		t.Errorf("gzip header carries a name or a time: % x", a.Initramfs[:10])
	}
	for _, m := range []string{"virtio_net", "virtio_pci", "xen_netfront"} {
		if !contains(a.Modules, m) {
			t.Errorf("module %s missing from %v", m, a.Modules)
		}
	}
	zr, err := gzip.NewReader(bytes.NewReader(a.Initramfs))
	must(t, err)
	var cp bytes.Buffer
	cp.ReadFrom(zr)
	for _, want := range []string{"init", "dev/console", "lib/modules/" + k.Release + "/modules.dep", "lib/modules/" + k.Release + "/modules.alias"} {
		if !bytes.Contains(cp.Bytes(), []byte(want+"\x00")) {
			t.Errorf("initramfs lacks %s", want)
		}
	}
	// The trimmed alias file names only included modules.
	if bytes.Contains(cp.Bytes(), []byte(" snd_hda_intel\n")) {
		t.Error("modules.alias was not trimmed")
	}
}

func TestAddModulesNeedsANIC(t *testing.T) {
	k := hostKernel(t)
	if _, err := AddModules(NewInitramfs(), k, []string{"virtio_rng"}); err == nil || !strings.Contains(err.Error(), "network drivers") {
		t.Errorf("no NIC: %v", err)
	}
}

func TestXLConfig(t *testing.T) {
	got := string(XLConfig(VMConfig{Name: "site", MemoryMB: 128, Cmdline: NetworkCmdline("10.0.0.5", "24", "10.0.0.1")}))
	keys := parseXL(t, got)
	want := map[string]string{
		"name": `"site"`, "type": `"pvh"`, "memory": "128", "vcpus": "1",
		"vif": "[ 'bridge=xenbr0' ]", "kernel": `"mir-seal.vmlinuz"`, "ramdisk": `"mir-seal.xen"`,
		"cmdline":  `"console=hvc0 panic=-1 quiet certseal.ip=10.0.0.5 certseal.nm=24 certseal.gw=10.0.0.1"`,
		"on_crash": `"destroy"`,
	}
	for k, v := range want {
		if keys[k] != v {
			t.Errorf("%s = %s, want %s", k, keys[k], v)
		}
	}
	if len(keys) != len(want) {
		t.Errorf("keys %v", keys)
	}
}

// parseXL reads the key = value lines of an xl config.
func parseXL(t *testing.T, s string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l == "" || l[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("bad xl line %q", l)
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return m
}

func TestQEMULauncherIsValidShell(t *testing.T) {
	sh := testutil.RequireTool(t, "sh")
	p := filepath.Join(t.TempDir(), "l.sh")
	os.WriteFile(p, QEMULauncher(VMConfig{Cmdline: "certseal.ip=1.2.3.4 certseal.nm=24"}), 0o755)
	if out, err := exec.Command(sh, "-n", p).CombinedOutput(); err != nil {
		t.Fatalf("sh -n: %v\n%s", err, out)
	}
	// With a fake qemu, the script passes the expected arguments.
	fake := filepath.Join(t.TempDir(), "qemu")
	os.WriteFile(fake, []byte("#!/bin/sh\nprintf '%s\\n' \"$@\"\n"), 0o755)
	cmd := exec.Command(p, "-extra")
	cmd.Env = append(os.Environ(), "QEMU="+fake, "CERTSEAL_HTTPS_PORT=1443", "CERTSEAL_QEMU_ACCEL=tcg")
	out, err := cmd.Output()
	must(t, err)
	for _, want := range []string{"tcg", "console=ttyS0 panic=-1 quiet certseal.ip=1.2.3.4 certseal.nm=24",
		"user,id=net0,hostfwd=tcp:127.0.0.1:1443-:443,hostfwd=tcp:127.0.0.1:8080-:80", "virtio-net-pci,netdev=net0", "-extra"} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("launcher args lack %q:\n%s", want, out)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
