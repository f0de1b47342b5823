#!/usr/bin/env bash
# Times the certificate tools against openssl (hyperfine, 100 runs each:
# key generation time varies a lot run to run) and runs the Go benchmarks
# behind BENCHMARKS.md: key generation and signing, ordering a 10,000-
# certificate bag, sealing a 10,000-file site.
# Usage: bench/tools.sh [runs]    (installs hyperfine with apt when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-100}"

if ! command -v hyperfine >/dev/null; then
	SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq hyperfine openssl
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -trimpath -o "$work/" ./cmd/selfsign
cd "$work"
# medians FILE.json: "name: median ms" for each command of a hyperfine export.
medians() {
	tr -d '\n ' <"$1" | grep -oE '"command":"[^"]*"|"median":[0-9.e-]+' |
		paste - - | sed -E 's/"command":"([^"]*)"\t"median":(.*)/\1 \2/' |
		awk '{m=$NF; $NF=""; printf "  %-28s median %.1f ms\n", $0, m*1000}'
}

echo "== self-signed certificate + new key: selfsign vs openssl req (median of $runs runs)"
hyperfine -N --runs "$runs" --warmup 3 --export-json p256.json \
	-n selfsign-ecdsa-p256 './selfsign --force --key-type ecdsa -c c.pem -k k.pem example.com' \
	-n openssl-req-ecdsa-p256 'openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k2.pem -out c2.pem -days 365 -subj /CN=example.com -addext subjectAltName=DNS:example.com' \
	>/dev/null
medians p256.json
hyperfine -N --runs "$runs" --warmup 3 --export-json rsa.json \
	-n selfsign-rsa2048 './selfsign --force -c c.pem -k k.pem example.com' \
	-n openssl-req-rsa2048 'openssl req -x509 -newkey rsa:2048 -nodes -keyout k2.pem -out c2.pem -days 365 -subj /CN=example.com -addext subjectAltName=DNS:example.com' \
	>/dev/null
medians rsa.json
cd - >/dev/null

echo "== go benchmarks"
go test -run '^$' -bench 'GenerateKey|SelfSign|SignCSR|ParseBag' -benchtime 2s ./pkg/x509util
go test -run '^$' -bench 'OrderChain10k' -benchtime 20x -count 5 -cpu 1 -benchmem ./pkg/x509util
go test -run '^$' -bench 'Seal10k' -benchtime 1x -count 3 -benchmem ./cmd/seal
go test -run '^$' -bench 'Serve' -benchmem ./internal/server
