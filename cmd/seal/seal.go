package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/certseal/certseal/internal/certcmd"
	"github.com/certseal/certseal/internal/cli"
	"github.com/certseal/certseal/internal/image"
	"github.com/certseal/certseal/internal/payload"
	"github.com/certseal/certseal/internal/payload/pack"
	ucli "github.com/urfave/cli/v2"
)

// Listen addresses for demos (--selfsign or --run): unprivileged ports on
// the loopback name, so nothing needs root and nothing is exposed.
const (
	demoHTTPS = "localhost:8443"
	demoHTTP  = "localhost:8080"
)

func run(c *ucli.Context) error {
	if c.NArg() > 0 {
		return cli.Usagef("unexpected argument %q; name the site with --data DIR", c.Args().First())
	}
	target := c.String("target")
	if !slices.Contains(targets, target) {
		return cli.Usagef("unknown target %q; valid targets: %s", target, strings.Join(targets, ", "))
	}
	if target != "unix" {
		return runImage(c, target) // targets_image.go
	}
	dataDir := c.String("data")
	if dataDir == "" {
		return cli.Usagef("name the site to seal with --data DIR")
	}
	if err := pack.CheckDir(dataDir); err != nil {
		return err
	}
	noTLS, selfsign, keysDir := c.Bool("no-tls"), c.String("selfsign"), c.String("keys")
	switch {
	case noTLS && (selfsign != "" || keysDir != ""):
		return cli.Usagef("--no-tls seals no certificate; drop --keys and --selfsign")
	case selfsign != "" && keysDir != "":
		return cli.Usagef("use either --keys DIR or --selfsign NAME, not both")
	case !noTLS && selfsign == "" && keysDir == "" && c.String("acme") == "":
		return cli.Usagef("name the certificate directory with --keys DIR (or use --acme EMAIL, --selfsign NAME for a demo, or --no-tls)")
	}
	cfg, err := config(c)
	if err != nil {
		return err
	}
	modTime, err := sourceDateEpoch()
	if err != nil {
		return err
	}
	out := c.String("output")
	wopts := cli.WriteOptions{Force: c.Bool("force")}
	if out == "" {
		out = "mir-seal"
		if c.Bool("run") {
			// A demo run without -o: the throw-away artifact goes to the
			// user's cache (0700), replaced on every run, so the command
			// can be repeated as it is and leaves nothing in the checkout.
			dir, err := demoDir()
			if err != nil {
				return err
			}
			out, wopts.Force = filepath.Join(dir, "mir-seal"), true
		}
	}
	if err := cli.CheckOutputs(wopts, out); err != nil {
		return err
	}
	if out == "-" && c.Bool("run") {
		return cli.Usagef("--run needs an output file, not standard output")
	}

	site, err := newSite(c, cfg, target, noTLS, selfsign, keysDir)
	if err != nil {
		return err
	}

	runtimePath, err := findRuntime(c.String("runtime"))
	if err != nil {
		return err
	}
	artifact, packed, err := sealSite(c, site, dataDir, runtimePath, modTime)
	if err != nil {
		return err
	}
	// The artifact holds the private key: readable by its owner only.
	if err := cli.WriteOutputs(wopts, cli.Output{Path: out, Data: artifact, Mode: 0o700}); err != nil {
		return err
	}
	var gz, br int
	for _, f := range packed.Files {
		if f.Gzip != nil {
			gz++
		}
		if f.Brotli != nil {
			br++
		}
	}
	if out != "-" {
		cli.Infof("seal", "sealed %d files (%s; %d with gzip, %d with brotli) into %s (%s, mode 0700: it holds the private key)",
			len(packed.Files), humanBytes(packed.Bytes), gz, br, out, humanBytes(int64(len(artifact))))
	}
	if !c.Bool("run") {
		return nil
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cli.Infof("seal", "serving %s", serveURL(cfg))
	if err := runArtifact(abs); err != nil {
		return fmt.Errorf("running %s: %v", out, err)
	}
	return nil
}

// newSite starts the payload: the configuration, the checked certificate
// and key (none with --no-tls or when ACME brings them), and ACME settings.
func newSite(c *ucli.Context, cfg payload.Config, target string, noTLS bool, selfsign, keysDir string) (*payload.Site, error) {
	site := &payload.Site{Config: cfg}
	var km *keyMaterial
	if !noTLS && (selfsign != "" || keysDir != "") {
		var err error
		km, err = sealedKeys(c, selfsign, keysDir, certcmd.Now())
		if err != nil {
			return nil, err
		}
		site.CertPEM, site.KeyPEM = km.certPEM, km.keyPEM
		site.Config.Hostnames = km.hostnames
	}
	if err := applyACME(c, target, &site.Config, km); err != nil { // acme.go
		return nil, err
	}
	return site, nil
}

// sealedKeys makes the throw-away certificate for --selfsign, or loads the
// one in --keys, and checks it.
func sealedKeys(c *ucli.Context, selfsign, keysDir string, now time.Time) (*keyMaterial, error) {
	if selfsign != "" {
		certs, key, err := selfSigned(selfsign, now)
		if err != nil {
			return nil, err
		}
		return checkKeys(certs, key, "the self-signed certificate", "the generated key", now, false)
	}
	return loadKeys(keysDir, c.String("cert"), c.String("key"), now, c.Bool("allow-expired"))
}

// sealSite packs the site in dataDir into site and returns the runtime at
// runtimePath with the payload appended: the sealed server every target
// ships.
func sealSite(c *ucli.Context, site *payload.Site, dataDir, runtimePath string, modTime time.Time) ([]byte, *pack.Result, error) {
	runtimeBytes, err := os.ReadFile(runtimePath)
	if err != nil {
		return nil, nil, fmt.Errorf("reading runtime %s: %v", runtimePath, err)
	}
	bar := newProgress()
	packed, err := pack.Dir(dataDir, pack.Options{
		IncludeDotfiles: c.Bool("include-dotfiles"),
		ModTime:         modTime,
		Progress:        bar.update,
	})
	bar.finish()
	if err != nil {
		return nil, nil, err
	}
	if n := len(packed.Skipped); n > 0 {
		cli.Infof("seal", "skipped %d dotfile(s) and dot-directories (%s); use --include-dotfiles to serve them", n, summarizeNames(packed.Skipped))
	}
	site.Files = packed.Files
	encoded, err := payload.Encode(site)
	if err != nil {
		return nil, nil, err
	}
	sealed, err := image.Unix(runtimeBytes, encoded)
	if err != nil {
		return nil, nil, fmt.Errorf("runtime %s: %v", runtimePath, err)
	}
	return sealed, packed, nil
}

// config builds the baked-in serving configuration from the flags.
func config(c *ucli.Context) (payload.Config, error) {
	demo := c.String("selfsign") != "" || c.Bool("run")
	cfg := payload.Config{
		HTTPSAddr:    c.String("https"),
		HTTPAddr:     c.String("http"),
		NoTLS:        c.Bool("no-tls"),
		HSTSMaxAge:   c.Int("hsts-max-age"),
		SPA:          c.Bool("spa"),
		AccessLog:    c.Bool("access-log"),
		RedirectPort: c.Int("redirect-port"),
	}
	if cfg.RedirectPort < 0 || cfg.RedirectPort > 65535 {
		return cfg, cli.Usagef("--redirect-port %d is not a port number", cfg.RedirectPort)
	}
	if demo && !c.IsSet("https") {
		cfg.HTTPSAddr = demoHTTPS
	}
	if demo && !c.IsSet("http") {
		cfg.HTTPAddr = demoHTTP
	}
	// HSTS is per host name, not per port: pinning "localhost" to HTTPS
	// in a browser would break every other local development server.
	if c.String("selfsign") != "" && !c.IsSet("hsts-max-age") {
		cfg.HSTSMaxAge = 0
	}
	if cfg.HSTSMaxAge < 0 {
		return cfg, cli.Usagef("--hsts-max-age must be 0 (disabled) or a positive number of seconds")
	}
	if !cfg.NoTLS {
		if err := checkAddr("--https", cfg.HTTPSAddr, false); err != nil {
			return cfg, err
		}
	}
	if err := checkAddr("--http", cfg.HTTPAddr, !cfg.NoTLS); err != nil {
		return cfg, err
	}
	if cfg.NoTLS && cfg.HTTPAddr == "" {
		return cfg, cli.Usagef("--no-tls serves on --http, which cannot be empty")
	}
	ip, nm, gw := c.String("ip"), c.String("nm"), c.String("gw")
	if ip != "" {
		if p := net.ParseIP(ip); p == nil || p.To4() == nil {
			return cfg, cli.Usagef("--ip %q is not an IPv4 address", ip)
		}
		if nm == "" {
			return cfg, cli.Usagef("--ip needs --nm NETMASK (for example 255.255.255.0 or 24)")
		}
		if !validNetmask(nm) {
			return cfg, cli.Usagef("--nm %q is not a netmask (use 255.255.255.0 or a prefix length such as 24)", nm)
		}
	} else if nm != "" || gw != "" {
		return cfg, cli.Usagef("--nm and --gw need --ip ADDRESS (without --ip the VM uses DHCP)")
	}
	if gw != "" {
		if p := net.ParseIP(gw); p == nil || p.To4() == nil {
			return cfg, cli.Usagef("--gw %q is not an IPv4 address", gw)
		}
	}
	cfg.IP, cfg.Netmask, cfg.Gateway = ip, nm, gw
	return cfg, nil
}

func checkAddr(flag, addr string, mayBeEmpty bool) error {
	if addr == "" {
		if mayBeEmpty {
			return nil
		}
		return cli.Usagef("%s cannot be empty", flag)
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return cli.Usagef("%s %q is not HOST:PORT or :PORT", flag, addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return cli.Usagef("%s %q: port must be a number from 1 to 65535", flag, addr)
	}
	return nil
}

func validNetmask(nm string) bool {
	if n, err := strconv.Atoi(nm); err == nil {
		return n >= 0 && n <= 32
	}
	ip := net.ParseIP(nm).To4()
	if ip == nil {
		return false
	}
	ones, bits := net.IPMask(ip).Size()
	return bits == 32 && ones >= 0
}

// sourceDateEpoch returns the time stored as every file's modification
// time: SOURCE_DATE_EPOCH when set (the reproducible-builds convention),
// else none. File-system mtimes are deliberately not used: they change
// with every checkout, and the same site must seal to the same bytes.
func sourceDateEpoch() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds since 1970", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

func serveURL(cfg payload.Config) string {
	scheme, addr, def := "https", cfg.HTTPSAddr, "443"
	if cfg.NoTLS {
		scheme, addr, def = "http", cfg.HTTPAddr, "80"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return scheme + "://" + addr + "/"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	if port == def {
		return scheme + "://" + host + "/"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/"
}

func summarizeNames(names []string) string {
	const show = 3
	if len(names) <= show {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:show], ", ") + ", ..."
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// demoDir is where --run without -o puts its artifact.
func demoDir() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "certseal", "run")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating %s: %v", dir, err)
	}
	return dir, nil
}
