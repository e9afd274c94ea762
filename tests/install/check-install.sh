#!/usr/bin/env bash
# Install the build into a temporary DESTDIR, check that the installed
# library exports exactly the functions its installed headers declare, then
# build and run a program against it with nothing but
# `pkg-config --cflags --libs pgrepl`, linked to the shared library. The
# compiler's default C dialect is used, as a user would: <uv.h> needs POSIX
# declarations that strict -std=c11 hides.
# Usage: check-install.sh SOURCE.c
# Environment (set by tests/install/meson.build): MESON, BUILD_ROOT, CC,
# EXTRA_CFLAGS (the build's sanitizer flags), EXPECT_VERSION.
set -euo pipefail

source_file=$1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# shellcheck disable=SC2086 # MESON and CC may be commands with arguments
$MESON install -C "$BUILD_ROOT" --destdir "$dest" --no-rebuild --quiet >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "meson install failed"; }
pc=$(find "$dest" -name pgrepl.pc)
[[ -n $pc ]] || fail "no pgrepl.pc installed"

# The .pc names the configured prefix; re-root its path variables in DESTDIR
# (PKG_CONFIG_SYSROOT_DIR would also re-root the system paths of libpq and
# libuv, which a real consumer finds where they are).
prefix=$(PKG_CONFIG_PATH=${pc%/*} pkg-config --variable=prefix pgrepl)
mkdir "$tmp/pc"
sed -E "s#^([A-Za-z_]+=)$prefix#\\1$dest$prefix#" "$pc" >"$tmp/pc/pgrepl.pc"
export PKG_CONFIG_PATH=$tmp/pc
cflags=$(pkg-config --cflags pgrepl) || fail "pkg-config --cflags pgrepl"
libs=$(pkg-config --libs pgrepl) || fail "pkg-config --libs pgrepl"
echo "cflags: $cflags"
echo "libs:   $libs"

# The exported ABI is exactly what the installed headers declare: nothing
# internal (pgrepl__*, test helpers) is exported, nothing declared is missing.
includedir=$(pkg-config --variable=includedir pgrepl)
so=$(find "$dest" -name 'libpgrepl.so.*.*' -type f)
[[ -n $so ]] || fail "no libpgrepl.so installed"
extern_lines=$(grep -h '^PGREPL_EXTERN ' "$includedir"/pgrepl/*.h)
declared=$(sed -E -n 's/^PGREPL_EXTERN [^(]*[^a-z0-9_](pgrepl_[a-z0-9_]+)\(.*/\1/p' <<<"$extern_lines" | sort -u)
[[ $(wc -l <<<"$extern_lines") -eq $(wc -l <<<"$declared") ]] ||
    fail "a PGREPL_EXTERN declaration this check cannot read"
symbols=$(nm -D --defined-only "$so")
exported=$(awk '$3 ~ /^pgrepl/ { print $3 }' <<<"$symbols" | sort -u)
[[ $exported == "$declared" ]] ||
    fail "exported symbols differ from the installed headers (< exported only, > declared only):
$(diff <(echo "$exported") <(echo "$declared") | grep '^[<>]')"
echo "abi:    $(wc -l <<<"$exported") functions, as declared"

# shellcheck disable=SC2086 # word splitting of the flags is intended
$CC $EXTRA_CFLAGS -Wall -Wextra -Wpedantic -Werror $cflags "$source_file" -o "$tmp/prog" $libs ||
    fail "cannot build against the installed library"

# Output is captured before grep: `cmd | grep -q` under pipefail fails when
# grep stops reading early and cmd gets SIGPIPE.
needed=$(readelf -d "$tmp/prog")
grep -q 'NEEDED.*libpgrepl\.so' <<<"$needed" || fail "not linked to the shared libpgrepl"
libdir=$(pkg-config --libs-only-L pgrepl)
libdir=${libdir#-L}
libdir=${libdir%% *}
loaded=$(LD_LIBRARY_PATH=$libdir ldd "$tmp/prog")
grep -q "libpgrepl\.so.* => $dest/" <<<"$loaded" ||
    fail "the program does not load libpgrepl from $dest"
out=$(LD_LIBRARY_PATH=$libdir "$tmp/prog") || fail "the program exited $?"
[[ $out == "$EXPECT_VERSION" ]] || fail "it printed '$out', want '$EXPECT_VERSION'"
echo "ok: printed $out"
