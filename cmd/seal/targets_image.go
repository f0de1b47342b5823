package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/certseal/certseal/internal/cli"
	"github.com/certseal/certseal/internal/image"
	"github.com/certseal/certseal/internal/payload"
	"github.com/certseal/certseal/internal/payload/pack"
	ucli "github.com/urfave/cli/v2"
)

// The image targets: a kernel plus initramfs for qemu or Xen whose /init is
// the sealed server, and a FROM-scratch OCI image holding only it.
func init() {
	targets = append(targets, "qemu", "xen", "oci")
}

// imageFlags are the flags of the qemu, xen and oci targets.
var imageFlags = []ucli.Flag{
	&ucli.StringFlag{Name: "kernel", Usage: "qemu/xen: boot the Linux kernel `FILE` (default: the newest /boot/vmlinuz-*)"},
	&ucli.StringFlag{Name: "modules", Usage: "qemu/xen: take driver modules from `DIR` (default: /lib/modules/RELEASE of the kernel)"},
	&ucli.IntFlag{Name: "memory", Value: 256, Usage: "qemu/xen: VM memory in `MiB`"},
	&ucli.StringFlag{Name: "name", Value: "certseal", Usage: "xen: domain `NAME`"},
	&ucli.StringFlag{Name: "push", Usage: "oci: push the image to `REGISTRY/REPO:TAG` (docker credentials)"},
	&ucli.StringFlag{Name: "tag", Usage: "oci: name the image `REF` in a tarball or layout (default: the --push reference, else " + image.DefaultOCIRef + ")"},
	&ucli.StringFlag{Name: "keys-at-runtime", Usage: "oci: seal no key; read server.pem and server.key from `DIR` at run time (a mounted Secret), reloading on change"},
}

// runImage seals the site for the qemu, xen or oci target. Everything that
// can fail is checked before anything is written.
func runImage(c *ucli.Context, target string) error {
	vm := target == "qemu" || target == "xen"
	if !vm {
		for _, f := range []string{"kernel", "modules", "ip", "nm", "gw"} {
			if c.IsSet(f) {
				return cli.Usagef("--%s is for the qemu and xen targets", f)
			}
		}
	}
	if target != "oci" {
		for _, f := range []string{"push", "tag", "keys-at-runtime"} {
			if c.IsSet(f) {
				return cli.Usagef("--%s is for the oci target", f)
			}
		}
	}
	if c.Bool("run") {
		return cli.Usagef("--run is for the unix target; boot the %s image with its launcher", target)
	}
	dataDir := c.String("data")
	if dataDir == "" {
		return cli.Usagef("name the site to seal with --data DIR")
	}
	if err := pack.CheckDir(dataDir); err != nil {
		return err
	}
	noTLS, selfsign, keysDir, keysAtRuntime := c.Bool("no-tls"), c.String("selfsign"), c.String("keys"), c.String("keys-at-runtime")
	sources := 0
	for _, s := range []string{selfsign, keysDir, keysAtRuntime} {
		if s != "" {
			sources++
		}
	}
	switch {
	case noTLS && sources > 0:
		return cli.Usagef("--no-tls seals no certificate; drop --keys, --selfsign and --keys-at-runtime")
	case sources > 1:
		return cli.Usagef("use one of --keys DIR, --selfsign NAME and --keys-at-runtime DIR")
	case !noTLS && sources == 0 && c.String("acme") == "":
		return cli.Usagef("name the certificate directory with --keys DIR (or --selfsign NAME for a demo, or --no-tls)")
	}
	if keysAtRuntime != "" && !filepath.IsAbs(keysAtRuntime) {
		return cli.Usagef("--keys-at-runtime %q must be an absolute path inside the container", keysAtRuntime)
	}
	if c.Int("memory") < 64 {
		return cli.Usagef("--memory must be at least 64 (MiB)")
	}
	cfg, err := config(c)
	if err != nil {
		return err
	}
	// Listen addresses: a VM serves on 443 and 80 as root; the container
	// runs as an unprivileged user, which cannot bind below 1024. The
	// demo defaults (localhost:8443) would be unreachable from outside.
	https, http := ":443", ":80"
	if target == "oci" {
		https, http = image.OCIHTTPSAddr, image.OCIHTTPAddr
	}
	if !c.IsSet("https") {
		cfg.HTTPSAddr = https
	}
	if !c.IsSet("http") {
		cfg.HTTPAddr = http
	}
	if target == "oci" && !c.IsSet("redirect-port") {
		// The usual mapping is 443 → 8443 (docker -p, a Kubernetes
		// Service): redirect browsers to the public port, not ours.
		cfg.RedirectPort = 443
	}
	cfg.KeysAtRuntimeDir = keysAtRuntime
	modTime, err := sourceDateEpoch()
	if err != nil {
		return err
	}

	wopts := cli.WriteOptions{Force: c.Bool("force")}
	outs, err := imageOutputs(c, target)
	if err != nil {
		return err
	}
	if err := cli.CheckOutputs(wopts, outs.files()...); err != nil {
		return err
	}
	if outs.layout != "" {
		if ents, err := os.ReadDir(outs.layout); err == nil && len(ents) > 0 {
			return fmt.Errorf("%s exists and is not empty; name a new directory, or a FILE.tar for a docker tarball", outs.layout)
		}
	}
	var kernel *image.Kernel
	if vm {
		if kernel, err = image.LoadKernel(c.String("kernel"), c.String("modules")); err != nil {
			return err
		}
	}

	site, err := newSite(c, cfg, target, noTLS, selfsign, keysDir)
	if err != nil {
		return err
	}

	runtimePath, err := findRuntime(c.String("runtime"))
	if err != nil {
		return err
	}
	static, err := image.IsStatic(runtimePath)
	if err != nil {
		return fmt.Errorf("runtime: %v", err)
	}
	if !static {
		return fmt.Errorf("runtime %s is dynamically linked, and a %s image has no C library to load it; "+
			"rebuild it statically (CGO_ENABLED=0 go install ./cmd/...)", runtimePath, target)
	}
	sealed, packed, err := sealSite(c, site, dataDir, runtimePath, modTime)
	if err != nil {
		return err
	}

	var written []cli.Output
	var size int64
	switch target {
	case "qemu", "xen":
		img, err := image.BuildVM(sealed, kernel, nil)
		if err != nil {
			return err
		}
		vmc := image.VMConfig{
			Name:     c.String("name"),
			MemoryMB: c.Int("memory"),
			Cmdline:  image.NetworkCmdline(cfg.IP, cfg.Netmask, cfg.Gateway),
		}
		written = []cli.Output{
			{Path: outs.kernel, Data: img.Kernel, Mode: 0o644},
			// The initramfs holds the private key.
			{Path: outs.initramfs, Data: img.Initramfs, Mode: 0o600},
		}
		if target == "xen" {
			written = append(written, cli.Output{Path: outs.launcher, Data: image.XLConfig(vmc), Mode: 0o644})
		} else {
			written = append(written, cli.Output{Path: outs.launcher, Data: image.QEMULauncher(vmc), Mode: 0o755})
		}
		if err := cli.WriteOutputs(wopts, written...); err != nil {
			return err
		}
		size = int64(len(img.Kernel) + len(img.Initramfs))
		cli.Infof("seal", "kernel %s with modules %s", img.Release, strings.Join(img.Modules, " "))
	case "oci":
		created := modTime
		img, err := image.BuildOCI(sealed, image.OCIOptions{Created: created, Labels: ociLabels(created, site)})
		if err != nil {
			return err
		}
		ref := c.String("tag")
		if ref == "" {
			ref = c.String("push")
		}
		if outs.tarball != "" {
			var buf bytes.Buffer
			if err := image.WriteOCITarball(&buf, img, ref); err != nil {
				return err
			}
			written = []cli.Output{{Path: outs.tarball, Data: buf.Bytes(), Mode: 0o600}}
			if err := cli.WriteOutputs(wopts, written...); err != nil {
				return err
			}
		}
		if outs.layout != "" {
			if err := image.WriteOCILayout(outs.layout, img, ref); err != nil {
				return err
			}
		}
		if m, err := img.Manifest(); err == nil {
			for _, l := range m.Layers {
				size += l.Size
			}
			size += m.Config.Size
		}
		if ref := c.String("push"); ref != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			digest, err := image.PushOCI(ctx, img, ref)
			if err != nil {
				return err
			}
			cli.Infof("seal", "pushed %s@%s", ref, digest)
		}
		if keysAtRuntime != "" {
			cli.Infof("seal", "no key sealed: the container reads %s/server.pem and server.key at start (mount a Secret there)", keysAtRuntime)
		}
	}
	var where []string
	for _, o := range written {
		where = append(where, o.Path)
	}
	if outs.layout != "" {
		where = append(where, outs.layout+"/")
	}
	if len(where) == 0 {
		where = append(where, "the registry")
	}
	cli.Infof("seal", "sealed %d files (%s) into %s: image %s, %s more than the site",
		len(packed.Files), humanBytes(packed.Bytes), strings.Join(where, ", "), humanBytes(size), humanBytes(size-packed.Bytes))
	return nil
}

// ociLabels are the org.opencontainers.image.* annotations of the image.
func ociLabels(created time.Time, site *payload.Site) map[string]string {
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	l := map[string]string{
		"org.opencontainers.image.title":       "certseal sealed site",
		"org.opencontainers.image.description": "a static site and its TLS certificate sealed into one HTTPS server",
		"org.opencontainers.image.created":     created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.source":      "https://github.com/certseal/certseal",
	}
	if len(site.Config.Hostnames) > 0 {
		l["org.opencontainers.image.url"] = "https://" + site.Config.Hostnames[0] + "/"
	}
	return l
}

// imageTargetOutputs are the paths a target writes.
type imageTargetOutputs struct {
	kernel, initramfs, launcher string // qemu, xen
	tarball, layout             string // oci
}

func (o imageTargetOutputs) files() []string {
	var out []string
	for _, p := range []string{o.kernel, o.initramfs, o.launcher, o.tarball} {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// imageOutputs: -o is a directory for qemu and xen (default: the current
// one); for oci a FILE.tar (docker tarball, the default mir-seal.tar unless
// only pushing) or a directory (OCI layout).
func imageOutputs(c *ucli.Context, target string) (imageTargetOutputs, error) {
	o := c.String("output")
	if o == "-" {
		return imageTargetOutputs{}, cli.Usagef("the %s target writes several files or a tarball; name it with -o, not '-'", target)
	}
	switch target {
	case "qemu", "xen":
		if o == "" {
			o = "."
		}
		if st, err := os.Stat(o); err == nil && !st.IsDir() {
			return imageTargetOutputs{}, fmt.Errorf("%s is a file; -o names a directory for the %s target", o, target)
		}
		init := image.QEMUInitramfsName
		launcher := image.QEMULauncherName
		if target == "xen" {
			init, launcher = image.XenInitramfsName, image.XLConfigName
		}
		return imageTargetOutputs{
			kernel:    filepath.Join(o, image.KernelName),
			initramfs: filepath.Join(o, init),
			launcher:  filepath.Join(o, launcher),
		}, nil
	}
	switch {
	case o == "" && c.String("push") != "":
		return imageTargetOutputs{}, nil
	case o == "":
		return imageTargetOutputs{tarball: "mir-seal.tar"}, nil
	case strings.HasSuffix(o, ".tar"):
		return imageTargetOutputs{tarball: o}, nil
	}
	return imageTargetOutputs{layout: o}, nil
}
