#!/usr/bin/env bash
# run-fuzz.sh BUILD_DIR SECONDS: a bounded libFuzzer run of the decoder.
#
# BUILD_DIR is a meson build configured with CC=clang -Dfuzz=true. The script
# builds fuzz_decode and fuzz_seeds there, writes the seed corpus afresh into
# BUILD_DIR/fuzz/seeds (protocol.md examples and tests/fixtures/pg*/*.cap),
# and runs fuzz_decode for SECONDS seconds. Inputs that reach new code are
# kept in BUILD_DIR/fuzz/corpus, so the next run goes on from there; a crash
# leaves its input in BUILD_DIR/fuzz/artifacts/ (replay it with
# `fuzz_decode FILE`). The full libFuzzer log is BUILD_DIR/fuzz/fuzz.log.
#
# Exit status: 0 when the run ended without a crash, leak, timeout or
# sanitizer report; 1 otherwise.
set -euo pipefail

usage() {
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 2
}

[[ $# == 2 && $2 =~ ^[0-9]+$ && $2 -gt 0 ]] || usage
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(readlink -f "$1")
secs=$2
work=$build/fuzz
log=$work/fuzz.log

ninja -C "$build" tests/fuzz/fuzz_decode tests/fuzz/fuzz_seeds >/dev/null

rm -rf "$work/seeds"
mkdir -p "$work/seeds" "$work/corpus" "$work/artifacts"
shopt -s nullglob
fixtures=("$root"/tests/fixtures/pg*/*.cap)
"$build/tests/fuzz/fuzz_seeds" "$work/seeds" "${fixtures[@]}"

# libFuzzer stops itself after -max_total_time; the outer timeout only
# guards against a hang outside its control. Some whole-fixture seeds are
# longer than -max_len; libFuzzer uses their first 16 KiB, which still hold
# dozens of messages, and short inputs run several times faster.
echo "run-fuzz: fuzz_decode for ${secs}s (log: $log)"
rc=0
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    timeout --kill-after=10 $((secs + 300)) \
    "$build/tests/fuzz/fuzz_decode" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -max_len=16384 -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
    "$work/corpus" "$work/seeds" >"$log" 2>&1 || rc=$?

if [[ $rc != 0 ]]; then
    tail -n 60 "$log" >&2
    echo "run-fuzz: FAILED (exit status $rc); the crashing input is in $work/artifacts/" >&2
    exit 1
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
echo "run-fuzz: passed: ${runs:-?} inputs in ${secs}s (${speed:-?}/s), $cov, corpus $(find "$work/corpus" -type f | wc -l) files"
