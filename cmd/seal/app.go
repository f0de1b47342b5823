package main

import (
	ucli "github.com/urfave/cli/v2"
)

// Targets seal can write, in the order they are listed to users.
var targets = []string{"unix"}

func newApp() *ucli.App {
	return &ucli.App{
		Name:      "seal",
		Usage:     "bake a static site and its certificate into one HTTPS server",
		UsageText: "seal --data DIR --keys DIR [options]",
		Description: `seal checks the certificate and key (key matches, chain complete and in
order, not expired), packs every file of the site with its content type,
ETag and gzip/brotli variants, and writes one executable that serves it.

Examples:
  seal --data public --keys secrets -o site-server
  seal --data examples/site --selfsign localhost --run
  seal --data public --acme admin@example.com --domain example.com -o site-server`,
		Flags: append([]ucli.Flag{
			&ucli.StringFlag{Name: "data", Aliases: []string{"d"}, Usage: "serve the site in `DIR`"},
			&ucli.StringFlag{Name: "keys", Aliases: []string{"k"}, Usage: "read the certificate and key from `DIR`"},
			&ucli.StringFlag{Name: "cert", Value: "server.pem", Usage: "certificate chain `FILE` inside --keys (leaf first)"},
			&ucli.StringFlag{Name: "key", Value: "server.key", Usage: "private key `FILE` inside --keys"},
			&ucli.StringFlag{Name: "selfsign", Usage: "seal a throw-away self-signed certificate for `NAME` instead of --keys (for demos)"},
			&ucli.StringFlag{Name: "target", Aliases: []string{"t"}, Value: "unix", Usage: "what to build: unix (a native executable), qemu or xen (kernel + initramfs), oci (container image)"},
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the result to `FILE` (default: mir-seal)"},
			&ucli.BoolFlag{Name: "no-tls", Usage: "serve plain HTTP only (no certificate needed)"},
			&ucli.StringFlag{Name: "https", Value: ":443", Usage: "default HTTPS listen `ADDR` baked in"},
			&ucli.IntFlag{Name: "redirect-port", Usage: "public HTTPS port `N` named in http→https redirects when it differs from the listening one (default: the listening port; 443 for -t oci)"},
			&ucli.StringFlag{Name: "http", Value: ":80", Usage: "default HTTP listen `ADDR` (redirects to HTTPS; '' disables it)"},
			&ucli.IntFlag{Name: "hsts-max-age", Value: 31536000, Usage: "Strict-Transport-Security max-age in `SECONDS` (0 disables; default 0 with --selfsign)"},
			&ucli.BoolFlag{Name: "spa", Usage: "single-page app: unknown paths without an extension serve /index.html"},
			&ucli.BoolFlag{Name: "access-log", Usage: "log every request on the server's standard output"},
			&ucli.BoolFlag{Name: "include-dotfiles", Usage: "also serve files and directories whose name starts with '.'"},
			&ucli.BoolFlag{Name: "allow-expired", Usage: "seal an expired certificate (with a warning)"},
			&ucli.StringFlag{Name: "ip", Usage: "VM targets: static IPv4 `ADDRESS` (default DHCP)"},
			&ucli.StringFlag{Name: "nm", Usage: "VM targets: `NETMASK` for --ip (255.255.255.0 or 24)"},
			&ucli.StringFlag{Name: "gw", Usage: "VM targets: default `GATEWAY`"},
			&ucli.StringFlag{Name: "runtime", Usage: "use the seal-runtime executable `FILE`"},
			&ucli.BoolFlag{Name: "run", Usage: "run the result after sealing (unix target)"},
			&ucli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "overwrite an existing output file"},
		}, append(imageFlags, acmeFlags...)...),
		Action: run,
	}
}
