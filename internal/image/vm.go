package image

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strconv"
	"strings"
)

// File names written by the VM targets.
const (
	XenInitramfsName  = "mir-seal.xen"
	QEMUInitramfsName = "mir-seal.initrd"
	KernelName        = "mir-seal.vmlinuz"
	XLConfigName      = "seal.xl"
	QEMULauncherName  = "seal-qemu.sh"
)

// VMImage is a bootable kernel plus initramfs whose /init is the sealed
// server.
type VMImage struct {
	Kernel    []byte   // bzImage, as read
	Initramfs []byte   // gzip-compressed newc cpio
	Release   string   // kernel release
	Modules   []string // driver modules included
}

// BuildVM returns the image for the sealed executable init (runtime plus
// payload, which must be statically linked: see IsStatic) and kernel k,
// with the driver modules named (DefaultModules when nil) and their
// dependencies. The initramfs is reproducible: the same inputs give the
// same bytes. It returns an error from AddModules.
func BuildVM(init []byte, k *Kernel, modules []string) (*VMImage, error) {
	if modules == nil {
		modules = DefaultModules
	}
	fs := NewInitramfs()
	for _, d := range []string{"dev", "proc", "sys", "etc", "lib", "run"} {
		if err := fs.AddDir(d, 0o755); err != nil {
			return nil, err
		}
	}
	// The kernel opens /dev/console for init's stdio before devtmpfs is
	// mounted, so the node must be in the archive.
	if err := fs.AddCharDevice("dev/console", 0o600, 5, 1); err != nil {
		return nil, err
	}
	if err := fs.AddDir("tmp", 0o1777); err != nil {
		return nil, err
	}
	if err := fs.AddFile("init", 0o755, init); err != nil {
		return nil, err
	}
	mods, err := AddModules(fs, k, modules)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeGzip(&buf, fs); err != nil {
		return nil, err
	}
	return &VMImage{Kernel: k.Image, Initramfs: buf.Bytes(), Release: k.Release, Modules: mods}, nil
}

// writeGzip compresses the archive with a header that carries neither a
// name nor a time, so the output depends on the contents only.
func writeGzip(buf *bytes.Buffer, fs *Initramfs) error {
	zw, err := gzip.NewWriterLevel(buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := fs.WriteTo(zw); err != nil {
		return err
	}
	return zw.Close()
}

// VMConfig is what the xl config and the qemu launcher say about the VM.
type VMConfig struct {
	Name     string // VM name for xl; default "certseal"
	MemoryMB int    // default 256
	// Cmdline is appended to the kernel command line after the console
	// setting, e.g. "certseal.ip=10.0.0.5 certseal.nm=255.255.255.0".
	Cmdline string
}

func (c VMConfig) withDefaults() VMConfig {
	if c.Name == "" {
		c.Name = "certseal"
	}
	if c.MemoryMB == 0 {
		c.MemoryMB = 256
	}
	return c
}

// baseCmdline: panic=-1 reboots at once on a panic (with qemu -no-reboot
// or xl on_crash="destroy" the VM stops instead of hanging); quiet keeps
// the slow emulated console to init's own messages and errors.
const baseCmdline = "panic=-1 quiet"

// XLConfig returns an xl domain configuration for a PVH guest booting the
// kernel and initramfs named (relative to the config's directory).
func XLConfig(c VMConfig) []byte {
	c = c.withDefaults()
	cmdline := strings.TrimSpace("console=hvc0 " + baseCmdline + " " + c.Cmdline)
	var b strings.Builder
	fmt.Fprintf(&b, "# Xen domain for a certseal sealed server. Start it with: xl create %s\n", XLConfigName)
	fmt.Fprintf(&b, "name = %s\n", strconv.Quote(c.Name))
	b.WriteString("type = \"pvh\"\n")
	fmt.Fprintf(&b, "memory = %d\n", c.MemoryMB)
	b.WriteString("vcpus = 1\n")
	b.WriteString("vif = [ 'bridge=xenbr0' ]\n")
	fmt.Fprintf(&b, "kernel = %s\n", strconv.Quote(KernelName))
	fmt.Fprintf(&b, "ramdisk = %s\n", strconv.Quote(XenInitramfsName))
	fmt.Fprintf(&b, "cmdline = %s\n", strconv.Quote(cmdline))
	b.WriteString("on_crash = \"destroy\"\n")
	return []byte(b.String())
}

// QEMULauncher returns a POSIX shell script that boots the image under
// qemu-system-x86_64: KVM when /dev/kvm is usable, TCG otherwise, one
// virtio-net NIC on qemu's user network with 127.0.0.1:8443 → 443 and
// 127.0.0.1:8080 → 80 forwarded (CERTSEAL_HTTPS_PORT and
// CERTSEAL_HTTP_PORT change the host ports; CERTSEAL_QEMU_ACCEL=tcg forces
// emulation), the console on stdio.
// Arguments are passed on to qemu.
func QEMULauncher(c VMConfig) []byte {
	c = c.withDefaults()
	cmdline := strings.TrimSpace("console=ttyS0 " + baseCmdline + " " + c.Cmdline)
	return []byte(`#!/bin/sh
# Boots a certseal sealed server under qemu. Written by ` + "`seal -t qemu`" + `.
# The site is then at https://127.0.0.1:${CERTSEAL_HTTPS_PORT:-8443}/ (use
# curl --connect-to NAME:443:127.0.0.1:8443 so the name matches the
# certificate). Quit qemu with Ctrl-A X.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
https_port=${CERTSEAL_HTTPS_PORT:-8443}
http_port=${CERTSEAL_HTTP_PORT:-8080}
# CERTSEAL_QEMU_ACCEL=tcg forces emulation (e.g. where nested KVM fails).
accel=${CERTSEAL_QEMU_ACCEL:-}
if [ -z "$accel" ]; then
	if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then accel=kvm; else accel=tcg; fi
fi
case $accel in
kvm) accel="-accel kvm -cpu host" ;;
*) accel="-accel tcg -cpu max" ;;
esac
exec ${QEMU:-qemu-system-x86_64} $accel -m ` + strconv.Itoa(c.MemoryMB) + ` -smp 1 \
	-nographic -no-reboot \
	-kernel "$dir/` + KernelName + `" -initrd "$dir/` + QEMUInitramfsName + `" \
	-append ` + shellQuote(cmdline) + ` \
	-netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$https_port-:443,hostfwd=tcp:127.0.0.1:$http_port-:80" \
	-device virtio-net-pci,netdev=net0 \
	-device virtio-rng-pci \
	"$@"
`)
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// NetworkCmdline returns the kernel command-line settings for a static
// address (certseal.ip=, .nm=, .gw=), or "" for DHCP. The sealed payload
// carries the same settings; the command line lets an operator change
// them without resealing.
func NetworkCmdline(ip, nm, gw string) string {
	if ip == "" {
		return ""
	}
	s := "certseal.ip=" + ip + " certseal.nm=" + nm
	if gw != "" {
		s += " certseal.gw=" + gw
	}
	return s
}
