#!/usr/bin/env bash
# Compares the sealed server with nginx and Caddy on loopback: HTTP/1.1 and
# HTTP/2 on 1 KiB and 1 MiB files, full TLS handshakes, peak RSS, startup.
# Usage: bench/serve.sh [serverbench flags, e.g. -rounds 5 -d 10s]
# Installs nginx, caddy, wrk and h2load with apt when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nginx >/dev/null || need+=(nginx-light)
command -v caddy >/dev/null || need+=(caddy)
command -v wrk >/dev/null || need+=(wrk)
command -v h2load >/dev/null || need+=(nghttp2-client)
if ((${#need[@]})); then
	SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
	# The packages start system services on :80; stop them so only the server under test runs.
	$SUDO systemctl stop nginx caddy 2>/dev/null || $SUDO pkill -x nginx 2>/dev/null || true
	$SUDO pkill -x caddy 2>/dev/null || true
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CGO_ENABLED=0
go build -trimpath -o "$work/bin/" ./cmd/selfsign ./cmd/csr ./cmd/sign ./cmd/seal ./cmd/seal-runtime

# One ECDSA P-256 certificate for localhost from a throw-away CA, used by every server.
mkdir -p "$work/certs" "$work/site"
(
	cd "$work/certs"
	../bin/selfsign --ca --key-type ecdsa -c root.pem -k root.key "Bench Root CA" 2>/dev/null
	../bin/csr --key-type ecdsa --san 127.0.0.1 -c server.csr -k server.key localhost 2>/dev/null
	../bin/sign --cain root.pem --keyin root.key --csrin server.csr -c server.pem 2>/dev/null
	chmod 0644 server.key # nginx workers and caddy read it as the same user; throw-away key
)
cp -r examples/site/. "$work/site/"
head -c 1024 /dev/urandom >"$work/site/1k.bin"
head -c 1048576 /dev/urandom >"$work/site/1m.bin"
# nginx workers run as www-data: make the throw-away tree world-readable.
chmod -R a+rX "$work"
"$work/bin/seal" --runtime "$work/bin/seal-runtime" --data "$work/site" --keys "$work/certs" -o "$work/mir-seal" 2>/dev/null

go run ./bench/serverbench --work "$work" "$@"
