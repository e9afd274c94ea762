#!/usr/bin/env bash
# Install the build into a temporary DESTDIR, check that each installed
# library exports exactly the functions its installed headers declare
# (libpgrepl-uv: pgrepl/uv.h; libpgrepl: the others), then build and run a
# program against it with nothing but `pkg-config --cflags --libs MODULE`,
# linked to the shared libraries. The compiler's default C dialect is used, as a user
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

# The exported ABI is exactly what the installed headers declare: nothing
# internal (pgrepl__*, test helpers) is exported, nothing declared is missing.
includedir=$(pkg-config --variable=includedir pgrepl)
check_abi() {
    local name=$1
    shift
    local so extern_lines declared symbols exported
    so=$(find "$dest" -name "$name.so.*.*" -type f)
    [[ -n $so ]] || fail "no $name.so installed"
    extern_lines=$(grep -h '^PGREPL_EXTERN ' "$@")
    declared=$(sed -E -n 's/^PGREPL_EXTERN [^(]*[^a-z0-9_](pgrepl_[a-z0-9_]+)\(.*/\1/p' <<<"$extern_lines" | sort -u)
    [[ $(wc -l <<<"$extern_lines") -eq $(wc -l <<<"$declared") ]] ||
        fail "a PGREPL_EXTERN declaration this check cannot read"
    symbols=$(nm -D --defined-only "$so")
    exported=$(awk '$3 ~ /^pgrepl/ { print $3 }' <<<"$symbols" | sort -u)
    [[ $exported == "$declared" ]] ||
        fail "$name: exported symbols differ from the installed headers (< exported only, > declared only):
$(diff <(echo "$exported") <(echo "$declared") | grep '^[<>]')"
    echo "abi:    $name: $(wc -l <<<"$exported") functions, as declared"
}
core_headers=()
for h in "$includedir"/pgrepl/*.h; do
    [[ $h == */uv.h ]] || core_headers+=("$h")
done
check_abi libpgrepl "${core_headers[@]}"
check_abi libpgrepl-uv "$includedir/pgrepl/uv.h"

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
