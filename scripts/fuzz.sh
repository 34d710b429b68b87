#!/usr/bin/env bash
# fuzz.sh: run every native fuzz target of the module, one after the other,
# for FUZZTIME each (default 30s), and print a summary (execs, new corpus
# entries, result per target). Sequential on purpose: each `go test -fuzz`
# already uses every core (-parallel defaults to GOMAXPROCS; set
# FUZZPARALLEL to use fewer).
#
#   scripts/fuzz.sh                      # every target, 30s each
#   FUZZTIME=2m scripts/fuzz.sh          # longer
#   FUZZTIME=10s scripts/fuzz.sh ./strategy/ ./validator/   # some packages
#
# A failing input is written by Go under the package's
# testdata/fuzz/<FuzzName>/ and then runs as a regression test with
# `go test`. The script exits 1 if any target failed.
set -euo pipefail

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
FUZZPARALLEL=${FUZZPARALLEL:-}
# Minimizing a new interesting input may take up to 60s by default, which
# would eat a short FUZZTIME whole; crashers are still minimized.
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-5s}
cd "$(dirname "$0")/.."

pkgs=("$@")
[ ${#pkgs[@]} -eq 0 ] && pkgs=(./...)

# `go test -list` prints the matching names of each package, then its "ok" line.
targets=()
names=()
while IFS= read -r line; do
	case "$line" in
	Fuzz*) names+=("$line") ;;
	ok*)
		pkg=$(awk '{print $2}' <<<"$line")
		for n in "${names[@]}"; do targets+=("$pkg $n"); done
		names=()
		;;
	esac
done < <($GO test -list '^Fuzz' "${pkgs[@]}")

if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz.sh: no fuzz targets found" >&2
	exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, $FUZZTIME each"

par=()
[ -n "$FUZZPARALLEL" ] && par=(-parallel "$FUZZPARALLEL")
log=$(mktemp)
trap 'rm -f "$log"' EXIT
summary=()
failed=0
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	echo "=== $pkg $name"
	status=ok
	if ! $GO test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" "${par[@]}" "$pkg" 2>&1 | tee "$log"; then
		status=FAIL
		failed=1
	fi
	# Last progress line: "fuzz: elapsed: 30s, execs: 123456 (4115/sec), new interesting: 3 (total: 90)"
	last=$(grep -E '^fuzz: elapsed: .*execs:' "$log" | tail -n 1 || true)
	execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")
	newi=$(sed -nE 's/.*new interesting: ([0-9]+) \(total: ([0-9]+)\).*/\1 new, \2 total/p' <<<"$last")
	summary+=("$(printf '%-6s %-55s %-20s execs=%-10s corpus: %s' "$status" "$pkg" "$name" "${execs:-?}" "${newi:-?}")")
done

echo
echo "fuzz.sh summary (FUZZTIME=$FUZZTIME):"
printf '%s\n' "${summary[@]}"
exit $failed
