#!/usr/bin/env bash
# Runs every fuzz target in the module for a bounded time, one after
# another, and fails if any of them finds a crasher.
#
#   FUZZTIME=20s   time per target (go test -fuzztime syntax: 20s, 1m, 5000x)
#   FUZZ_ONLY=RE   run only the targets whose name matches RE (grep -E)
#   FUZZMINIMIZETIME=5s
#                  time go may spend minimizing each new input; go's default
#                  (60s) can run far past FUZZTIME
#
# Prints one summary line per target: target, package, time, execs, result.
# A crasher is saved by go under PKG/testdata/fuzz/TARGET/ and printed; add
# it to the repository as a regression seed once fixed.
set -uo pipefail
cd "$(dirname "$0")/.."

FUZZTIME="${FUZZTIME:-20s}"
FUZZ_ONLY="${FUZZ_ONLY:-.}"
FUZZMINIMIZETIME="${FUZZMINIMIZETIME:-5s}"
# Fuzzing wants every core; run this step alone.
PARALLEL="${FUZZ_PARALLEL:-$(nproc)}"

# target<TAB>package directory, from the test files themselves so that a
# new target is fuzzed without editing this script.
mapfile -t targets < <(
	grep -rHoE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+\(' . |
		sed -E 's#^\./(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]+)\($#\2\t\1#' |
		sort -t$'\t' -k2,2 -k1,1 | grep -E "^(${FUZZ_ONLY})" || true
)
if ((${#targets[@]} == 0)); then
	echo "fuzz: no fuzz targets found (FUZZ_ONLY=${FUZZ_ONLY})"
	exit 1
fi

log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT
failed=0
total_start=$(date +%s)
printf 'fuzz: %d targets, %s each\n' "${#targets[@]}" "$FUZZTIME"
for t in "${targets[@]}"; do
	name=${t%%$'\t'*}
	pkg=${t#*$'\t'}
	log="$log_dir/$name.log"
	start=$(date +%s)
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" -parallel "$PARALLEL" "./$pkg" >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	# The last progress line: "fuzz: elapsed: 20s, execs: 123456 (6172/sec), new interesting: ..."
	execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || true)
	elapsed=$(grep -oE 'elapsed: [0-9]+s, execs' "$log" | tail -1 | grep -oE '[0-9]+' || true)
	rate=""
	if [ -n "$execs" ] && [ -n "$elapsed" ] && ((elapsed > 0)); then
		rate="($((execs / elapsed))/s avg)"
	fi
	if ((rc == 0)); then
		result=ok
	else
		result=FAIL
		failed=1
	fi
	printf 'fuzz: %-18s %-22s %4ss  execs %-10s %-14s %s\n' "$name" "$pkg" "$secs" "${execs:-?}" "${rate:-}" "$result"
	if ((rc != 0)); then
		echo "---- $name output ----"
		tail -40 "$log"
		new=$(grep -oE 'testdata/fuzz/[A-Za-z0-9_]+/[0-9a-f]+' "$log" | tail -1)
		[ -n "$new" ] && echo "fuzz: crasher saved as $pkg/$new (rerun: go test -run '$name/${new##*/}' ./$pkg)"
		echo "----"
	fi
done
printf 'fuzz: total %ss\n' "$(($(date +%s) - total_start))"
if ((failed)); then
	echo "fuzz: FAILED"
	exit 1
fi
echo "fuzz: ok, no crashers"
