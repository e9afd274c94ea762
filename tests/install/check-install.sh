#!/usr/bin/env bash
# Install the build into a temporary DESTDIR, then build and run a program
# against it with nothing but `pkg-config --cflags --libs MODULE`, linked to
# the shared libraries. The compiler's default C dialect is used, as a user
# would: <uv.h> needs POSIX declarations that strict -std=c11 hides.
# Module pgrepl must name no libuv; pgrepl-uv must bring it.
# Usage: check-install.sh MODULE SOURCE.c
# Environment (set by tests/install/meson.build): MESON, BUILD_ROOT, CC,
# EXTRA_CFLAGS (the build's sanitizer flags), EXPECT_VERSION.
set -euo pipefail

module=$1
source_file=$2

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
[[ -f ${pc%/*}/pgrepl-uv.pc ]] || fail "no pgrepl-uv.pc installed"

# The .pc names the configured prefix; re-root its path variables in DESTDIR
# (PKG_CONFIG_SYSROOT_DIR would also re-root the system paths of libpq and
# libuv, which a real consumer finds where they are).
prefix=$(PKG_CONFIG_PATH=${pc%/*} pkg-config --variable=prefix pgrepl)
mkdir "$tmp/pc"
for f in pgrepl pgrepl-uv; do
    sed -E "s#^([A-Za-z_]+=)$prefix#\\1$dest$prefix#" "${pc%/*}/$f.pc" >"$tmp/pc/$f.pc"
done
export PKG_CONFIG_PATH=$tmp/pc
cflags=$(pkg-config --cflags "$module") || fail "pkg-config --cflags $module"
libs=$(pkg-config --libs "$module") || fail "pkg-config --libs $module"
core_libs=$(pkg-config --libs pgrepl)
[[ $core_libs != *-luv* ]] || fail "pkg-config --libs pgrepl names libuv: $core_libs"
echo "cflags: $cflags"
echo "libs:   $libs"

# shellcheck disable=SC2086 # word splitting of the flags is intended
$CC $EXTRA_CFLAGS -Wall -Wextra -Wpedantic -Werror $cflags "$source_file" -o "$tmp/prog" $libs ||
    fail "cannot build against the installed library"

# Output is captured before grep: `cmd | grep -q` under pipefail fails when
# grep stops reading early and cmd gets SIGPIPE.
needed=$(readelf -d "$tmp/prog")
grep -q 'NEEDED.*libpgrepl\.so' <<<"$needed" || fail "not linked to the shared libpgrepl"
if [[ $module == pgrepl ]]; then
    ! grep -q 'NEEDED.*libuv' <<<"$needed" || fail "a program of module pgrepl needs libuv"
else
    grep -q 'NEEDED.*libpgrepl-uv\.so' <<<"$needed" || fail "not linked to the shared libpgrepl-uv"
fi
libdir=$(pkg-config --libs-only-L pgrepl)
libdir=${libdir#-L}
libdir=${libdir%% *}
loaded=$(LD_LIBRARY_PATH=$libdir ldd "$tmp/prog")
grep -q "libpgrepl\.so.* => $dest/" <<<"$loaded" ||
    fail "the program does not load libpgrepl from $dest"
out=$(LD_LIBRARY_PATH=$libdir "$tmp/prog") || fail "the program exited $?"
[[ $out == "$EXPECT_VERSION" ]] || fail "it printed '$out', want '$EXPECT_VERSION'"
echo "ok: printed $out"
