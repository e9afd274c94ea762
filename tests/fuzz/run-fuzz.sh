#!/usr/bin/env bash
# run-fuzz.sh BUILD_DIR SECONDS [TARGET...]: bounded libFuzzer runs of the
# decoder (decode) and the copy reader (copyreader), all of them by default.
#
# BUILD_DIR is a meson build configured with CC=clang -Dfuzz=true. SECONDS is
# the time of the whole run, shared out by weight: the decoder, which has far
# more code to cover, gets two shares, the copy reader one (40 s and 20 s of
# 60); a target run alone gets all of it. For each TARGET the script builds
# fuzz_TARGET and fuzz_seeds, writes its seed corpus afresh into
# BUILD_DIR/fuzz/TARGET/seeds (decode: protocol.md examples and
# tests/fixtures/pg*/*.cap; copyreader: message streams and the same captures
# framed as the server sends them), and runs it. Inputs that reach new code
# are kept in BUILD_DIR/fuzz/TARGET/corpus, so the next run goes on from
# there; a crash leaves its input in BUILD_DIR/fuzz/TARGET/artifacts/ (replay
# it with `fuzz_TARGET FILE`). The full libFuzzer log is
# BUILD_DIR/fuzz/TARGET/fuzz.log.
#
# Exit status: 0 when every run ended without a crash, leak, timeout or
# sanitizer report; 1 otherwise.
set -euo pipefail

usage() {
    echo "usage: $0 BUILD_DIR SECONDS [decode|copyreader ...]" >&2
    exit 2
}

declare -A weight=([decode]=2 [copyreader]=1)

[[ $# -ge 2 && $2 =~ ^[0-9]+$ && $2 -gt 0 ]] || usage
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(readlink -f "$1")
secs=$2
shift 2
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(decode copyreader)
shares=0
for t in "${targets[@]}"; do
    [[ -n ${weight[$t]:-} ]] || usage
    shares=$((shares + weight[$t]))
done
[[ $secs -ge ${#targets[@]} ]] || usage

ninja -C "$build" tests/fuzz/fuzz_seeds "${targets[@]/#/tests/fuzz/fuzz_}" >/dev/null

shopt -s nullglob
fixtures=("$root"/tests/fixtures/pg*/*.cap)

# fuzz TARGET SECONDS: one bounded run; 0 when it passed.
fuzz() {
    local target=$1 secs=$2 work=$build/fuzz/$1 rc=0
    local log=$work/fuzz.log
    rm -rf "$work/seeds"
    mkdir -p "$work/seeds" "$work/corpus" "$work/artifacts"
    if [[ $target == copyreader ]]; then
        "$build/tests/fuzz/fuzz_seeds" --copyreader "$work/seeds" "${fixtures[@]}"
    else
        "$build/tests/fuzz/fuzz_seeds" "$work/seeds" "${fixtures[@]}"
    fi
    # libFuzzer stops itself after -max_total_time; the outer timeout only
    # guards against a hang outside its control. Some whole-fixture seeds are
    # longer than -max_len; libFuzzer uses their first 16 KiB, which still hold
    # dozens of messages, and short inputs run several times faster.
    echo "run-fuzz: fuzz_$target for ${secs}s (log: $log)"
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
        timeout --kill-after=10 $((secs + 300)) \
        "$build/tests/fuzz/fuzz_$target" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len=16384 -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
        "$work/corpus" "$work/seeds" >"$log" 2>&1 || rc=$?
    if [[ $rc != 0 ]]; then
        tail -n 60 "$log" >&2
        echo "run-fuzz: fuzz_$target FAILED (exit status $rc); the crashing input is in $work/artifacts/" >&2
        return 1
    fi
    local runs speed cov
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    echo "run-fuzz: fuzz_$target passed: ${runs:-?} inputs in ${secs}s (${speed:-?}/s), $cov," \
        "corpus $(find "$work/corpus" -type f | wc -l) files"
}

# Each target its share of the seconds; the last one what is left, so that they add up.
failed=0
left=$secs
for i in "${!targets[@]}"; do
    t=${targets[$i]}
    if ((i == ${#targets[@]} - 1)); then
        s=$left
    else
        s=$((secs * weight[$t] / shares))
        ((s > 0)) || s=1
    fi
    left=$((left - s))
    fuzz "$t" "$s" || failed=1
done
exit $failed
