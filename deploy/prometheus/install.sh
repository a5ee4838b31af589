#!/usr/bin/env bash
# Install prometheus and promtool (Debian's `prometheus` package) for the tests, unless both are
# on PATH already. Idempotent and non-interactive; needs root (or passwordless sudo) on Debian
# or Ubuntu. `make tools` runs it; `make test` depends on that.
#
# When it cannot install: in CI (CI set) that is an error; elsewhere a warning, and the tests that
# need the binaries skip and say why.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    exit 0
fi

cannot() {
    echo "install.sh: prometheus/promtool missing: $1" >&2
    if [ -n "${CI:-}" ]; then
        exit 1
    fi
    echo "install.sh: the Prometheus rule and query tests will be skipped" >&2
    exit 0
}

command -v apt-get >/dev/null 2>&1 || cannot "no apt-get here: install Prometheus 2.x on PATH"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        cannot "not root: run apt-get install prometheus as root"
    fi
fi

export DEBIAN_FRONTEND=noninteractive
# The package's service must not start here (tests run their own Prometheus on a free port):
# policy-rc.d makes invoke-rc.d refuse, on machines that honour it.
POLICY=/usr/sbin/policy-rc.d
CREATED_POLICY=""
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod 755 "$POLICY"
    CREATED_POLICY=1
fi
cleanup() { if [ -n "$CREATED_POLICY" ]; then $SUDO rm -f "$POLICY"; fi; }
trap cleanup EXIT

$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null

command -v prometheus >/dev/null && command -v promtool >/dev/null
prometheus --version 2>&1 | head -1
