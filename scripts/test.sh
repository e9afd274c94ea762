#!/usr/bin/env bash
# The test command: installs what is missing (as root), fetches the
# PostgreSQL servers, then builds and runs every suite twice, in `build`
# (default compiler) and in `build-san` (AddressSanitizer and
# UndefinedBehaviorSanitizer), and ends with one line `N passed, N failed`.
# Any arguments go to `meson test` (e.g. --suite unit).
#
# Environment: PGREPL_LIVE_MAJORS (default 14,15,16,17,18), the majors the
# live suites run against; PGREPL_FUZZ_SECONDS (default 60), how long the
# fuzz runs (the decoder's and the copy reader's) last in all.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
majors=${PGREPL_LIVE_MAJORS:-14,15,16,17,18}
passed=0
failed=0

bash scripts/setup-deps.sh || exit 1

for major in ${majors//,/ }; do
    bash scripts/pg-fetch.sh "$major" >/dev/null || {
        echo "test.sh: cannot get PostgreSQL $major" >&2
        exit 1
    }
done

# Configure DIR with OPTIONS, reusing an existing configuration.
configure() {
    local dir=$1
    shift
    if [[ -f $dir/meson-private/coredata.dat ]]; then
        meson setup --reconfigure "$dir" "$@" >/dev/null || meson setup --wipe "$dir" "$@"
    else
        meson setup "$dir" "$@"
    fi
}

# The count on meson's summary line LABEL ("Ok:", "Fail:", ...).
summary_count() {
    local n
    n=$(sed -n "s/^$1 *\([0-9][0-9]*\).*/\1/p" "$2" | tail -n 1)
    echo "${n:-0}"
}

# Build DIR and run its tests; add them to the totals. A skipped test counts
# as failed: live tests must never skip. A build or runner failure without
# any failed test counts as one failed test.
build_and_test() {
    local dir=$1 out=$1/test-output.txt ok bad rc
    shift
    echo "==== $dir"
    if ! ninja -C "$dir"; then
        echo "test.sh: $dir does not build" >&2
        failed=$((failed + 1))
        return
    fi
    meson test -C "$dir" --print-errorlogs --num-processes 2 "${test_args[@]}" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    ok=$(($(summary_count 'Ok:' "$out") + $(summary_count 'Expected Fail:' "$out")))
    bad=$(($(summary_count 'Fail:' "$out") + $(summary_count 'Timeout:' "$out") +
        $(summary_count 'Unexpected Pass:' "$out") + $(summary_count 'Skipped:' "$out")))
    if [[ $bad == 0 && ($rc != 0 || $ok == 0) ]]; then
        echo "test.sh: meson test in $dir exited $rc after $ok passing tests" >&2
        bad=1
    fi
    passed=$((passed + ok))
    failed=$((failed + bad))
}

test_args=("$@")
common=(-Dwerror=true "-Dlive_majors=$majors")

if configure build "${common[@]}"; then
    build_and_test build
else
    failed=$((failed + 1))
fi

san_cc=clang
command -v clang >/dev/null || san_cc=gcc
if CC=$san_cc configure build-san "${common[@]}" -Db_sanitize=address,undefined -Db_lundef=false; then
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 build_and_test build-san
else
    failed=$((failed + 1))
fi

# ---- Later steps go here. Each adds its own outcome to $passed / $failed so
# ---- that the closing line covers it.

# Bounded fuzz runs of the decoder and the copy reader (tests/fuzz/run-fuzz.sh,
# which shares the time out between them), counted as one test: a clang build
# in build-fuzz, PGREPL_FUZZ_SECONDS seconds in all (default 60).
if CC=clang configure build-fuzz -Dwerror=true -Dfuzz=true &&
    bash tests/fuzz/run-fuzz.sh build-fuzz "${PGREPL_FUZZ_SECONDS:-60}"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
