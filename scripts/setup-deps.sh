#!/usr/bin/env bash
# Install the Debian packages that the build and the tests need. As root,
# installs only what is missing (apt-get update first, once, only then). As
# another user, names what is missing and fails.
# Usage: setup-deps.sh [--demo]   (--demo: only what the README demo needs:
# the build and PostgreSQL 15, not the test toolchain)
set -euo pipefail

packages=(
    build-essential meson ninja-build pkg-config libpq-dev libuv1-dev check
    postgresql-15 postgresql-client-15
)
demo=0
if [[ ${1:-} == --demo ]]; then
    demo=1
else
    packages+=(
        clang llvm libclang-rt-dev # sanitizers and libFuzzer for clang
        postgresql-15-wal2json valgrind python3 openssl # openssl: the SSL test server's certificate
    )
fi

missing=()
for p in "${packages[@]}"; do
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) == installed ]] || missing+=("$p")
done
# Node.js may come from another source whose nodejs package bundles npm, so
# these two are checked as commands (pg-fetch.sh needs npm).
if [[ $demo == 0 ]]; then
    command -v node >/dev/null || missing+=(nodejs)
    command -v npm >/dev/null || missing+=(npm)
fi

if [[ ${#missing[@]} == 0 ]]; then
    exit 0
fi
if [[ $(id -u) != 0 ]]; then
    echo "setup-deps: missing packages: ${missing[*]}" >&2
    echo "setup-deps: install them as root: apt-get install ${missing[*]}" >&2
    exit 1
fi
echo "setup-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
