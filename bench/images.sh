#!/usr/bin/env bash
# Sizes of every seal target for examples/site (image minus site), and the
# time from starting qemu (TCG: no KVM here) to the first HTTPS response of
# the -t qemu image, median of N boots.
# Usage: bench/images.sh [boots]   (needs linux-image-amd64, qemu-system-x86, curl)
set -euo pipefail
cd "$(dirname "$0")/.."
boots="${1:-3}"
work=$(mktemp -d)
trap 'pkill -f "$work/qemu/" 2>/dev/null || true; rm -rf "$work"' EXIT
# The install the README documents: static, stripped.
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/bin/" ./cmd/selfsign ./cmd/seal ./cmd/seal-runtime
site_bytes=$(find examples/site -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
mkdir -p "$work/keys"
"$work/bin/selfsign" --key-type ecdsa --san 127.0.0.1 -c "$work/keys/server.pem" -k "$work/keys/server.key" localhost 2>/dev/null
seal() { "$work/bin/seal" --runtime "$work/bin/seal-runtime" --data examples/site --keys "$work/keys" "$@" 2>/dev/null; }

seal -t unix -o "$work/unix/mir-seal"
seal -t qemu -o "$work/qemu/"
seal -t xen -o "$work/xen/"
seal -t oci -o "$work/oci.tar"
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b/1048576}'; }
size() { du -cb "$@" | tail -1 | cut -f1; }
echo "site: $site_bytes bytes in $(find examples/site -type f | wc -l) files"
echo "| target | size | minus site |"
echo "|---|---|---|"
row() { local s; s=$(size "${@:2}"); echo "| $1 | $(mib "$s") | $(mib $((s - site_bytes))) |"; }
row unix "$work/unix/mir-seal"
row "qemu (kernel + initramfs)" "$work"/qemu/*.vmlinuz "$work"/qemu/*.initrd
row "xen (kernel + initramfs)" "$work"/xen/*.vmlinuz "$work"/xen/*.xen
# The OCI tarball holds the layer gzip-compressed: its size is what a registry stores and a node pulls.
row "oci (docker tarball, compressed layer)" "$work/oci.tar"
echo "runtime alone: $(mib "$(size "$work/bin/seal-runtime")") (static, stripped)"
for f in "$work"/qemu/*.vmlinuz "$work"/qemu/*.initrd; do echo "$(basename "$f"): $(mib "$(size "$f")")"; done

echo
echo "qemu boot (TCG) → first HTTPS response, $boots boots:"
times=()
for i in $(seq "$boots"); do
	port=$((20000 + RANDOM % 20000))
	start=$(date +%s.%N)
	CERTSEAL_QEMU_ACCEL=tcg CERTSEAL_HTTPS_PORT=$port CERTSEAL_HTTP_PORT=$((port + 1)) \
		"$work/qemu/seal-qemu.sh" >"$work/console-$i.log" 2>&1 &
	pid=$!
	ok=""
	for _ in $(seq 1200); do
		if curl -s -o /dev/null --max-time 2 --cacert "$work/keys/server.pem" --connect-to "localhost:$port:127.0.0.1:$port" "https://localhost:$port/"; then
			ok=1; break
		fi
		sleep 0.1
	done
	end=$(date +%s.%N)
	kill "$pid" 2>/dev/null; pkill -f "hostfwd=tcp:127.0.0.1:$port-" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
	[ -n "$ok" ] || { echo "boot $i: no response in 120 s"; tail -20 "$work/console-$i.log"; exit 1; }
	t=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", b-a}')
	echo "  boot $i: $t s"
	times+=("$t")
done
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print "median: " a[int((NR+1)/2)] " s"}'
