#!/bin/sh
# hydra.sh builds Ory Hydra v2.3.0, the real OAuth2/OIDC issuer the interop
# tests (internal/e2e/hydra) run against, and prints the binary's path.
#
# Idempotent: when $REPO/.cache/hydra/hydra exists, answers `version` and is
# the pinned release, it only prints the path. Otherwise it builds Hydra (about 5 minutes cold on 2
# cores) in a throwaway Go module under the git-ignored .cache folder, so
# neither the project's go.mod nor a go.work is touched (GOWORK=off, and the
# build runs with the cache folder as working directory). The build log goes to
# .cache/hydra/build.log; on failure its tail is printed and the script exits
# non-zero, so `make test` stops instead of silently skipping the tests.
#
# Environment: TW_HYDRA_CACHE overrides the cache folder.
set -eu

HYDRA_VERSION=v2.3.0
# Hydra v2.3.0 pins a gobuffalo/pop that no longer matches its own code
# ("p.conn.Store.SQLDB undefined"); Ory's fork at this pseudo-version builds.
POP_REPLACE='replace github.com/gobuffalo/pop/v6 => github.com/ory/pop/v6 v6.2.1-0.20241121111754-e5dfc0f3344b'

REPO=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
CACHE=${TW_HYDRA_CACHE:-$REPO/.cache/hydra}
BIN=$CACHE/hydra
LOG=$CACHE/build.log

# usable: the binary runs and is the pinned release (its embedded module
# version, as `go version -m` reads it, so a bump of HYDRA_VERSION rebuilds).
usable() {
	[ -x "$BIN" ] && "$BIN" version >/dev/null 2>&1 &&
		go version -m "$BIN" 2>/dev/null |
		grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/ory/hydra/v2[[:space:]]+$HYDRA_VERSION([[:space:]]|\$)"
}

command -v go >/dev/null 2>&1 || { echo "hydra.sh: go not found in PATH" >&2; exit 1; }
if usable; then
	echo "$BIN"
	exit 0
fi

command -v gcc >/dev/null 2>&1 || command -v cc >/dev/null 2>&1 ||
	{ echo "hydra.sh: a C compiler is needed (CGO, sqlite)" >&2; exit 1; }

mkdir -p "$CACHE"

# Serialise concurrent callers (two make targets, two shells): the second one
# waits and then finds the finished binary.
if command -v flock >/dev/null 2>&1 && [ -z "${TW_HYDRA_LOCKED:-}" ]; then
	export TW_HYDRA_LOCKED=1
	exec flock "$CACHE/.lock" sh "$0" "$@"
fi
if usable; then
	echo "$BIN"
	exit 0
fi

# The throwaway module: fresh each time so a half-finished earlier attempt
# cannot leave a confusing go.mod behind.
MOD=$CACHE/build
rm -rf "$MOD"
mkdir -p "$MOD"

export GOWORK=off
export GOTOOLCHAIN=local
export GOFLAGS=-buildvcs=false
export CGO_ENABLED=1

fail() {
	echo "hydra.sh: $1 failed; last lines of $LOG:" >&2
	tail -n 40 "$LOG" >&2 || true
	exit 1
}

start=$(date +%s)
echo "hydra.sh: building Ory Hydra $HYDRA_VERSION into $BIN (log: $LOG; ~5 min cold)" >&2
: >"$LOG"
cd "$MOD"
go mod init hydra-build >>"$LOG" 2>&1 || fail "go mod init"
go get -tool "github.com/ory/hydra/v2@$HYDRA_VERSION" >>"$LOG" 2>&1 || fail "go get"
echo "$POP_REPLACE" >>go.mod
# Tidy the throwaway module (not the project's): the replace changes the graph.
go mod tidy >>"$LOG" 2>&1 || fail "go mod tidy"
go build -tags sqlite,sqlite_omit_load_extension -o "$BIN.tmp" github.com/ory/hydra/v2 >>"$LOG" 2>&1 ||
	fail "go build"
mv -f "$BIN.tmp" "$BIN"
usable || fail "running the built binary"
echo "hydra.sh: built in $(($(date +%s) - start))s" >&2
echo "$BIN"
