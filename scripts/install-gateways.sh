#!/bin/sh
# install-gateways.sh installs the real gateways the forward-auth end-to-end
# tests (internal/e2e/gateway) run against: Debian's nginx-light (built with
# the auth_request module) and caddy (2.6, forward_auth). Idempotent: it does
# nothing when both binaries are present, and runs `apt-get update` only when a
# package is missing. Needs root (or sudo) and Debian apt. Exits non-zero on
# failure, so `make test` stops instead of silently skipping the tests.
#
# The packages' services are not used: the tests start their own processes on
# 127.0.0.1 with their own prefix and config. (In containers policy-rc.d
# usually keeps apt from starting them at all.)
set -eu

missing=""
command -v nginx >/dev/null 2>&1 || missing="$missing nginx-light"
command -v caddy >/dev/null 2>&1 || missing="$missing caddy"
if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "install-gateways: need root to install:$missing" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-gateways: apt-get not found; install$missing by hand" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-gateways: installing$missing" >&2
# A fresh image has no package lists; update only when the install needs it.
# shellcheck disable=SC2086 # $missing is a word list on purpose
if ! $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1; then
	$SUDO apt-get update -qq >/dev/null
	$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

for bin in nginx caddy; do
	if ! command -v "$bin" >/dev/null 2>&1; then
		echo "install-gateways: $bin still missing after install" >&2
		exit 1
	fi
done
