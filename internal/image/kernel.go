package image

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/certseal/certseal/internal/vminit/kmod"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// DefaultModules are the drivers copied into a VM image: network cards
// that qemu and Xen present (virtio_net over virtio_pci, which is itself a
// module on Debian's kernel; xen_netfront; Intel e1000/e1000e, qemu's
// default NIC), and virtio_rng so the kernel's random pool fills quickly.
// Those missing from the kernel's modules tree because they are built in
// are skipped.
var DefaultModules = []string{"virtio_pci", "virtio_net", "xen_netfront", "e1000", "e1000e", "virtio_rng"}

// nicModules are the drivers of which at least one must be available.
var nicModules = []string{"virtio_net", "xen_netfront", "e1000", "e1000e"}

// KernelRelease returns the release string ("6.1.0-57-amd64") of an x86
// bzImage, read from the version string its setup header points to. It
// returns an error when data is not a bzImage.
func KernelRelease(data []byte) (string, error) {
	// Boot protocol: "HdrS" at 0x202, kernel_version pointer at 0x20E
	// (relative to the 0x200 offset of the setup header).
	if len(data) < 0x210 || string(data[0x202:0x206]) != "HdrS" {
		return "", errors.New("not a Linux x86 bzImage kernel")
	}
	off := int(binary.LittleEndian.Uint16(data[0x20E:])) + 0x200
	if off >= len(data) || binary.LittleEndian.Uint16(data[0x20E:]) == 0 {
		return "", errors.New("the kernel image has no version string")
	}
	end := bytes.IndexAny(data[off:], " \x00")
	if end <= 0 {
		return "", errors.New("the kernel image has no version string")
	}
	return string(data[off : off+end]), nil
}

// FindKernel returns the newest /boot/vmlinuz-* under root ("/" on a host),
// by version order of the file suffix. It returns an error saying how to
// install one when there is none.
func FindKernel(root string) (string, error) {
	matches, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if len(matches) == 0 {
		return "", errors.New("no kernel found in /boot (install one with `apt-get install linux-image-amd64`, or pass --kernel)")
	}
	sort.Slice(matches, func(i, j int) bool {
		return versionLess(filepath.Base(matches[i]), filepath.Base(matches[j]))
	})
	return matches[len(matches)-1], nil
}

// versionLess compares strings piecewise, runs of digits numerically.
func versionLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitPrefix(a), digitPrefix(b)
		if da != "" && db != "" {
			na, _ := strconv.ParseUint(da, 10, 64)
			nb, _ := strconv.ParseUint(db, 10, 64)
			if na != nb {
				return na < nb
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitPrefix(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// Kernel is a kernel image and the modules tree that belongs to it.
type Kernel struct {
	Image      []byte // bzImage
	Release    string // from the image
	ModulesDir string // e.g. /lib/modules/6.1.0-57-amd64
}

// LoadKernel reads the kernel at kernelPath (FindKernel when empty) and
// checks that modulesDir (/lib/modules/RELEASE when empty) exists and has
// a modules.dep. It returns an error for a missing or unreadable kernel,
// a file that is not a bzImage, or a missing modules tree.
func LoadKernel(kernelPath, modulesDir string) (*Kernel, error) {
	if kernelPath == "" {
		p, err := FindKernel("/")
		if err != nil {
			return nil, err
		}
		kernelPath = p
	}
	img, err := os.ReadFile(kernelPath)
	if err != nil {
		return nil, fmt.Errorf("reading the kernel %s: %v", kernelPath, errors.Unwrap(err))
	}
	rel, err := KernelRelease(img)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", kernelPath, err)
	}
	if modulesDir == "" {
		modulesDir = filepath.Join("/lib/modules", rel)
	}
	if _, err := os.Stat(filepath.Join(modulesDir, "modules.dep")); err != nil {
		return nil, fmt.Errorf("no kernel modules for %s: %s/modules.dep is missing (install the kernel's package, or pass --modules DIR)", rel, modulesDir)
	}
	return &Kernel{Image: img, Release: rel, ModulesDir: modulesDir}, nil
}

// AddModules copies the modules named (and their dependencies) from the
// kernel's modules tree into fs under lib/modules/RELEASE/, decompressing
// .ko.xz, .ko.zst and .ko.gz files so the VM can load them with
// finit_module whatever the kernel's decompression support, and writes a
// modules.dep and modules.alias trimmed to the copied modules. Names found
// neither in modules.dep nor elsewhere are skipped (built in, or not built
// for this kernel); it returns an error when none of the network drivers
// is available either as a module or built in, or when a file cannot be
// read or decompressed. It returns the names of the modules copied.
func AddModules(fs *Initramfs, k *Kernel, names []string) ([]string, error) {
	depData, err := os.ReadFile(filepath.Join(k.ModulesDir, "modules.dep"))
	if err != nil {
		return nil, err
	}
	mods, err := kmod.ParseDep(bytes.NewReader(depData))
	if err != nil {
		return nil, err
	}
	aliasData, err := os.ReadFile(filepath.Join(k.ModulesDir, "modules.alias"))
	if err != nil {
		return nil, fmt.Errorf("kernel modules: %v", err)
	}
	aliases, err := kmod.ParseAlias(bytes.NewReader(aliasData))
	if err != nil {
		return nil, err
	}
	builtin := map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(k.ModulesDir, "modules.builtin")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			builtin[kmod.Name(l)] = true
		}
	}
	ix := &kmod.Index{Modules: mods, Aliases: aliases}

	var want []string
	haveNIC := false
	for _, n := range names {
		n = kmod.Name(n)
		if _, ok := mods[n]; ok {
			want = append(want, n)
		}
		if (mods[n] != nil || builtin[n]) && contains(nicModules, n) {
			haveNIC = true
		}
	}
	if !haveNIC {
		return nil, fmt.Errorf("kernel modules in %s: none of the network drivers %s is available", k.ModulesDir, strings.Join(nicModules, ", "))
	}
	order, err := ix.LoadOrder(want...)
	if err != nil {
		return nil, err
	}

	base := "lib/modules/" + k.Release
	included := map[string]*kmod.Module{}
	var copied []*kmod.Module
	var names2 []string
	for _, m := range order {
		data, err := readModule(filepath.Join(k.ModulesDir, filepath.FromSlash(m.Path)))
		if err != nil {
			return nil, fmt.Errorf("kernel module %s: %v", m.Name, err)
		}
		p := m.Path
		if i := strings.Index(p, ".ko"); i >= 0 {
			p = p[:i] + ".ko"
		}
		if err := fs.AddFile(base+"/"+p, 0o644, data); err != nil {
			return nil, err
		}
		nm := &kmod.Module{Name: m.Name, Path: p, Deps: m.Deps}
		included[m.Name] = nm
		copied = append(copied, nm)
		names2 = append(names2, m.Name)
	}
	var dep bytes.Buffer
	if err := kmod.WriteDep(&dep, copied, included); err != nil {
		return nil, err
	}
	var al bytes.Buffer
	for _, a := range aliases {
		if included[a.Module] != nil {
			fmt.Fprintf(&al, "alias %s %s\n", a.Pattern, a.Module)
		}
	}
	if err := fs.AddFile(base+"/modules.dep", 0o644, dep.Bytes()); err != nil {
		return nil, err
	}
	if err := fs.AddFile(base+"/modules.alias", 0o644, al.Bytes()); err != nil {
		return nil, err
	}
	sort.Strings(names2)
	return names2, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// readModule reads a module file, decompressing it by its extension.
func readModule(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	switch {
	case strings.HasSuffix(path, ".ko.xz"):
		xr, err := xz.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("decompressing xz: %v", err)
		}
		r = xr
	case strings.HasSuffix(path, ".ko.zst"):
		zr, err := zstd.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("decompressing zstd: %v", err)
		}
		defer zr.Close()
		r = zr
	case strings.HasSuffix(path, ".ko.gz"):
		gr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("decompressing gzip: %v", err)
		}
		r = gr
	}
	data, err := io.ReadAll(io.LimitReader(r, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %v", filepath.Base(path), err)
	}
	if len(data) < 4 || string(data[:4]) != "\x7fELF" {
		return nil, fmt.Errorf("%s is not an ELF module", filepath.Base(path))
	}
	return data, nil
}
