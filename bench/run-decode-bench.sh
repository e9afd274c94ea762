#!/usr/bin/env bash
# run-decode-bench.sh [options]: capture large real pgoutput streams and
# measure the decoder on them (bench/decode_bench.c). See bench/README.md.
#
#   -m MAJOR   PostgreSQL major of the throwaway server (default 18)
#   -n ROWS    narrow rows inserted (default 1000000); a tenth are then updated
#   -w ROWS    wide rows inserted (default 1000000)
#   -t SECS    minimum seconds per timed run (default 2)
#   -r RUNS    timed runs per capture; the median is reported (default 5)
#   -b DIR     meson build directory (default build-bench in the source tree,
#              configured --buildtype=release if it does not exist)
#   -c DIR     capture cache (default $PGREPL_BENCH_CACHE, else
#              /var/cache/pgrepl/bench as root, else
#              ${XDG_CACHE_HOME:-~/.cache}/pgrepl/bench)
#   -f         capture again even if the cache has the captures
#
# The server runs from scripts/pg-server.sh; one slot is captured four times
# with tests/tools/pgrepl-capture (which never advances the slot): narrow and
# wide table, each in text and binary mode. Captures are kept in the cache
# under pg<MAJOR>-n<ROWS>-w<ROWS>/ and reused.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
major=18
narrow_rows=1000000
wide_rows=1000000
secs=2
runs=5
build=$root/build-bench
force=0
if [[ -n ${PGREPL_BENCH_CACHE:-} ]]; then
    cache=$PGREPL_BENCH_CACHE
elif [[ $(id -u) == 0 ]]; then
    cache=/var/cache/pgrepl/bench
else
    cache=${XDG_CACHE_HOME:-$HOME/.cache}/pgrepl/bench
fi
readonly BATCH=10000
readonly CAPTURES="narrow-text narrow-binary wide-text wide-binary"

usage() {
    sed -n '2,20p' "${BASH_SOURCE[0]}" >&2
    exit 2
}

die() {
    echo "run-decode-bench: $*" >&2
    exit 1
}

while getopts m:n:w:t:r:b:c:f opt; do
    case $opt in
        m) major=$OPTARG ;;
        n) narrow_rows=$OPTARG ;;
        w) wide_rows=$OPTARG ;;
        t) secs=$OPTARG ;;
        r) runs=$OPTARG ;;
        b) build=$OPTARG ;;
        c) cache=$OPTARG ;;
        f) force=1 ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[[ $# == 0 && $major =~ ^[0-9]+$ && $narrow_rows =~ ^[0-9]+$ && $wide_rows =~ ^[0-9]+$ ]] || usage
((narrow_rows % BATCH == 0 && wide_rows % BATCH == 0)) || die "row counts must be multiples of $BATCH"

server_dir=
conninfo=
capdir=$cache/pg$major-n$narrow_rows-w$wide_rows

cleanup() {
    [[ -n $server_dir ]] && bash "$root/scripts/pg-server.sh" destroy "$server_dir"
    return 0
}
trap cleanup EXIT

build_tools() {
    [[ -f $build/build.ninja ]] || meson setup "$build" "$root" --buildtype=release >/dev/null
    ninja -C "$build" bench/decode_bench tests/tools/pgrepl-capture >/dev/null
}

sql() {
    psql -X -q -At -v ON_ERROR_STOP=1 -d "$conninfo" "$@"
}

create_schema() {
    sql <<'EOF'
CREATE TABLE narrow (id int PRIMARY KEY, v int, t text);
CREATE TABLE wide (
    id bigint PRIMARY KEY, i1 int, i2 int, s1 smallint, b1 bigint,
    n1 numeric(12,4), n2 numeric, t1 text, t2 text, vc varchar(40),
    ts1 timestamptz, ts2 timestamp, flag bool, u uuid, d1 double precision,
    r1 real, dt date, j jsonb, ip inet, ba bytea);
CREATE PUBLICATION bench_narrow FOR TABLE narrow;
CREATE PUBLICATION bench_wide FOR TABLE wide;
SELECT 1 FROM pg_create_logical_replication_slot('bench', 'pgoutput');
EOF
}

# Statements on stdin, one transaction of BATCH rows each.
narrow_workload() {
    local lo
    for ((lo = 1; lo <= narrow_rows; lo += BATCH)); do
        echo "INSERT INTO narrow SELECT g, g % 1000, left(repeat(md5(g::text), 2), 50)" \
            "FROM generate_series($lo, $((lo + BATCH - 1))) g;"
    done
    for ((lo = 1; lo <= narrow_rows; lo += 10 * BATCH)); do
        echo "UPDATE narrow SET v = v + 1 WHERE id BETWEEN $lo AND $((lo + 10 * BATCH - 1)) AND id % 10 = 0;"
    done
}

wide_workload() {
    local lo
    for ((lo = 1; lo <= wide_rows; lo += BATCH)); do
        cat <<EOF
INSERT INTO wide SELECT g, g % 100000, -g, (g % 30000)::smallint, g::bigint * 1000003,
    (g % 100000) / 7.0, g / 3.0, 'text value ' || g, md5(g::text), left(md5((g + 1)::text), 30),
    timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second', timestamp '2026-01-01' + g * interval '1 minute',
    g % 2 = 0, md5(g::text)::uuid, g / 7.0::double precision, (g % 1000) / 3.0::real,
    date '2000-01-01' + (g % 10000), jsonb_build_object('id', g, 'tag', 'w' || g % 100),
    ('10.' || g % 256 || '.' || (g / 256) % 256 || '.1')::inet, decode(md5(g::text), 'hex')
FROM generate_series($lo, $((lo + BATCH - 1))) g;
EOF
    done
}

# capture NAME PUBLICATION ENDPOS [binary=true]
capture_one() {
    local name=$1 pub=$2 endpos=$3 start end
    shift 3
    local -a opts=(-O proto_version=2 -O "publication_names=$pub")
    [[ $# == 0 ]] || opts+=(-O "$1")
    echo "run-decode-bench: capturing $name"
    start=$(date +%s%N)
    "$build/tests/tools/pgrepl-capture" -d "$conninfo" -S bench -E "$endpos" -o "$tmpdir/$name.cap" \
        -t 3600 "${opts[@]}" 2>"$tmpdir/$name.capture.log" || {
        cat "$tmpdir/$name.capture.log" >&2
        die "capture of $name failed"
    }
    end=$(date +%s%N)
    echo "$name: $(sed 's/^pgrepl-capture: .*: //' "$tmpdir/$name.capture.log") in $(((end - start) / 1000000)) ms" \
        >>"$tmpdir/info.txt"
}

capture_all() {
    local endpos
    tmpdir=$capdir.tmp
    rm -rf "$tmpdir"
    mkdir -p "$tmpdir"
    server_dir=$(mktemp -d /tmp/pgrepl-bench.XXXXXX)
    conninfo=$(bash "$root/scripts/pg-server.sh" start "$major" "$server_dir" \
        logical_decoding_work_mem=1GB max_wal_size=16GB checkpoint_timeout=1h shared_buffers=512MB \
        synchronous_commit=off)
    {
        echo "server: $(sql -c 'SELECT version()')"
        echo "captured: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    } >"$tmpdir/info.txt"
    create_schema >/dev/null
    echo "run-decode-bench: inserting $narrow_rows narrow rows (and updating a tenth), then $wide_rows wide rows"
    narrow_workload | sql
    wide_workload | sql
    sql -c CHECKPOINT
    endpos=$(sql -c 'SELECT pg_current_wal_lsn()')
    capture_one narrow-text bench_narrow "$endpos"
    capture_one narrow-binary bench_narrow "$endpos" binary=true
    capture_one wide-text bench_wide "$endpos"
    capture_one wide-binary bench_wide "$endpos" binary=true
    bash "$root/scripts/pg-server.sh" destroy "$server_dir"
    server_dir=
    rm -rf "$capdir"
    mv "$tmpdir" "$capdir"
}

have_captures() {
    local c
    for c in $CAPTURES; do
        [[ -f $capdir/$c.cap ]] || return 1
    done
}

# The value of KEY on decode_bench's "result" line in FILE, divided by DIV (default 1).
result() {
    awk -v key="$1" -v div="${3:-1}" '$1 == "result" {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) v = kv[2] }
    } END { if (div == 1) print v; else printf "%.2f", v / div }' "$2"
}

build_tools
if [[ $force == 1 ]] || ! have_captures; then
    capture_all
else
    echo "run-decode-bench: using the captures in $capdir"
fi
cat "$capdir/info.txt"

for c in $CAPTURES; do
    echo "==== $c"
    "$build/bench/decode_bench" -t "$secs" -r "$runs" "$capdir/$c.cap" | tee "$capdir/$c.result"
done

echo
echo "Summary (median of $runs runs of >= ${secs} s CPU time, one thread; per second of CPU time; MB = 10^6 bytes of CopyData payload)"
fmt='%-14s %10s %10s %8s %10s %12s %8s %7s\n'
# shellcheck disable=SC2059
printf "$fmt" capture messages changes MB "M msgs/s" "M changes/s" "MB/s" allocs
for c in $CAPTURES; do
    f=$capdir/$c.result
    # shellcheck disable=SC2059
    printf "$fmt" "$c" "$(result messages "$f")" "$(result changes "$f")" "$(result mb "$f")" \
        "$(result msgs_per_s "$f" 1000000)" "$(result changes_per_s "$f" 1000000)" "$(result mb_per_s "$f")" \
        "$(result allocs "$f")"
done
