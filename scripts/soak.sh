#!/usr/bin/env bash
# soak.sh: run the soak test (internal/e2e/soak) for DURATION (default 5m):
# sustained load with many unique tokens and a stream of revocation events,
# sampling RSS, goroutines, live heap and revocation entries every INTERVAL
# into $OUT/soak.csv and $OUT/soak.svg; fails if any keeps growing after
# warm-up. Not part of `make test`. No -race: it would dominate the memory
# profile being measured.
#
#   scripts/soak.sh                       # 5m
#   DURATION=30m RATE=5000 scripts/soak.sh
set -euo pipefail

GO=${GO:-go}
DURATION=${DURATION:-5m}
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/out/soak}

# go test's -timeout: the run plus 5 minutes (plain 90s/5m/2h values).
secs() {
	case "$1" in
	*h) echo $((${1%h} * 3600)) ;;
	*m) echo $((${1%m} * 60)) ;;
	*s) echo "${1%s}" ;;
	*) echo 86400 ;;
	esac
}
timeout=$(($(secs "$DURATION") + 300))s

env TW_SOAK_DURATION="$DURATION" TW_SOAK_OUT="$OUT" \
	${INTERVAL:+TW_SOAK_INTERVAL="$INTERVAL"} ${RATE:+TW_SOAK_RATE="$RATE"} ${EVENTS:+TW_SOAK_EVENTS="$EVENTS"} \
	$GO test -run '^TestSoak$' -count=1 -v -timeout "$timeout" ./internal/e2e/soak/
echo "soak: $OUT/soak.csv $OUT/soak.svg"
