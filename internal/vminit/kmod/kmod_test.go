package kmod

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pat, s string
		want   bool
	}{
		{"pci:v00001AF4d00001000sv*sd*bc*sc*i*", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", true},
		{"pci:v00001AF4d00001000sv*sd*bc*sc*i*", "pci:v00001AF4d00001001sv00001AF4sd00000001bc02sc00i00", false},
		{"virtio:d00000001v*", "virtio:d00000001v00001AF4", true},
		{"xen:vif", "xen:vif", true},
		{"xen:vif", "xen:vbd", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"a?c", "abc", true},
		{"a[0-9]c", "a5c", true},
		{"a[!0-9]c", "a5c", false},
		{"a[!0]*", "a0", false}, // '!' negates, as in fnmatch (path.Match reads it as a literal)
		{"a[^0-9]c", "axc", true},
		{"a\\*c", "a*c", true},
		{"a\\*c", "abc", false},
		{"of:N*T*Cfoo/bar", "of:NxTyCfoo/bar", true}, // '*' crosses nothing special
		{"*", "", true},
		{"", "", true},
		{"", "x", false},
		{"a[", "a[", true}, // malformed class matches literally
	} {
		if got := Glob(tc.pat, tc.s); got != tc.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", tc.pat, tc.s, got, tc.want)
		}
	}
}

// FuzzGlob checks Glob against path.Match where their syntaxes agree.
func FuzzGlob(f *testing.F) {
	f.Add("pci:v*d*sv*", "pci:v1d2sv3")
	f.Add("a[b-d]?*", "ac12")
	f.Fuzz(func(t *testing.T, pat, s string) {
		got := Glob(pat, s)
		// Modaliases are ASCII and matched bytewise, as fnmatch does in
		// the C locale; path.Match works on runes.
		for _, r := range pat + s {
			if r >= 0x80 {
				return
			}
		}
		if strings.ContainsAny(pat+s, "/^\\") || strings.Contains(pat, "[!") || strings.Contains(pat, "[]") {
			return
		}
		want, err := path.Match(pat, s)
		if err != nil {
			return
		}
		if got != want {
			t.Errorf("Glob(%q, %q) = %v, path.Match says %v", pat, s, got, want)
		}
	})
}

const depSample = `kernel/drivers/virtio/virtio_pci.ko.xz: kernel/drivers/virtio/virtio_pci_legacy_dev.ko.xz kernel/drivers/virtio/virtio_pci_modern_dev.ko.xz kernel/drivers/virtio/virtio.ko.xz kernel/drivers/virtio/virtio_ring.ko.xz
kernel/drivers/virtio/virtio_pci_legacy_dev.ko.xz:
kernel/drivers/virtio/virtio_pci_modern_dev.ko.xz:
kernel/drivers/virtio/virtio.ko.xz:
kernel/drivers/virtio/virtio_ring.ko.xz:
kernel/drivers/net/virtio_net.ko.xz: kernel/drivers/net/net_failover.ko.xz kernel/net/core/failover.ko.xz kernel/drivers/virtio/virtio.ko.xz kernel/drivers/virtio/virtio_ring.ko.xz
kernel/drivers/net/net_failover.ko.xz: kernel/net/core/failover.ko.xz
kernel/net/core/failover.ko.xz:
kernel/drivers/net/xen-netfront.ko.xz:
`

const aliasSample = `# Aliases extracted from modules themselves.
alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci
alias virtio:d00000001v* virtio_net
alias xen:vif xen_netfront
alias pci:v00008086d0000100Esv*sd*bc*sc*i* e1000
`

func sampleIndex(t *testing.T) *Index {
	mods, err := ParseDep(strings.NewReader(depSample))
	if err != nil {
		t.Fatal(err)
	}
	al, err := ParseAlias(strings.NewReader(aliasSample))
	if err != nil {
		t.Fatal(err)
	}
	return &Index{Modules: mods, Aliases: al}
}

func names(ms []*Module) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Name)
	}
	return strings.Join(s, " ")
}

func TestLoadOrder(t *testing.T) {
	ix := sampleIndex(t)
	order, err := ix.LoadOrder("virtio_pci", "virtio_net", "xen-netfront")
	if err != nil {
		t.Fatal(err)
	}
	want := "virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net xen_netfront"
	if got := names(order); got != want {
		t.Errorf("order %s\nwant  %s", got, want)
	}
	if _, err := ix.LoadOrder("nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown module: %v", err)
	}
	if got := ix.Match("pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00"); strings.Join(got, " ") != "virtio_pci" {
		t.Errorf("Match virtio-net PCI = %v", got)
	}
	// e1000 is aliased but not in modules.dep (built in or trimmed).
	if got := ix.Match("pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00"); len(got) != 0 {
		t.Errorf("Match e1000 = %v", got)
	}
	if _, err := ParseDep(strings.NewReader("no colon here\n")); err == nil {
		t.Error("ParseDep accepted a line without ':'")
	}
}

// TestRealModulesTree runs the resolver against the host's kernel modules
// (Debian's linux-image-amd64): qemu's virtio-net device must resolve to
// virtio_pci and then virtio_net with their dependencies.
func TestRealModulesTree(t *testing.T) {
	dirs, _ := filepath.Glob("/lib/modules/*/modules.dep")
	if len(dirs) == 0 {
		if os.Getenv("CERTSEAL_REQUIRE_TOOLS") == "1" {
			t.Fatal("no /lib/modules/*/modules.dep (apt-get install linux-image-amd64)")
		}
		t.Skip("no kernel modules installed")
	}
	dir := filepath.Dir(dirs[len(dirs)-1])
	df, _ := os.Open(filepath.Join(dir, "modules.dep"))
	defer df.Close()
	mods, err := ParseDep(df)
	if err != nil {
		t.Fatal(err)
	}
	af, _ := os.Open(filepath.Join(dir, "modules.alias"))
	defer af.Close()
	al, err := ParseAlias(af)
	if err != nil {
		t.Fatal(err)
	}
	ix := &Index{Modules: mods, Aliases: al}
	if got := ix.Match("pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00"); !contains(got, "virtio_pci") {
		t.Errorf("virtio-net PCI device -> %v, want virtio_pci", got)
	}
	if got := ix.Match("virtio:d00000001v00001AF4"); !contains(got, "virtio_net") {
		t.Errorf("virtio net device -> %v, want virtio_net", got)
	}
	if got := ix.Match("xen:vif"); !contains(got, "xen_netfront") {
		t.Errorf("xen vif -> %v, want xen_netfront", got)
	}
	order, err := ix.LoadOrder("virtio_net")
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, m := range order {
		pos[m.Name] = i
	}
	for _, d := range mods["virtio_net"].Deps {
		if pos[d] >= pos["virtio_net"] {
			t.Errorf("dependency %s loads after virtio_net: %s", d, names(order))
		}
	}
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}
