#!/usr/bin/env bash
# run-vs-recvlogical.sh [options]: pgrepl-stream and a counting library
# consumer against pg_recvlogical, draining identical copies of one slot on
# the same server, alternately; then a concurrent-load test and a large
# transaction test. See bench/README.md.
#
#   -m MAJOR   PostgreSQL major of the throwaway server (default 15)
#   -n ROWS    rows inserted per table (default 1000000); a tenth are then updated
#   -r RUNS    alternations of the clients per table and mode (default 3)
#   -T LIST    tables, of narrow,wide (default both)
#   -M LIST    modes, of text,binary (default both)
#   -L SECS    concurrent pgbench load test duration (default 30; 0 skips it)
#   -X ROWS    rows of the single large transaction (default 2000000; 0 skips it)
#   -b DIR     meson build directory (default build-bench in the source tree,
#              configured --buildtype=release if it does not exist)
#   -o DIR     where results go (default a new /tmp/pgrepl-vs.XXXXXX)
#   -N         the clients connect over TCP to 127.0.0.1:5432 (the server
#              also listens there) instead of the server's Unix socket
#
# Slots: a template slot per table is created before its backlog; every run
# drains its own pg_copy_logical_replication_slot copy of it, up to an end
# position just before a one-row "fence" transaction after the backlog
# (pg_recvlogical -E and pgrepl-stream -E both stop at the fence). Client CPU
# and peak RSS come from /usr/bin/time; walsender CPU is the growth of the
# postmaster's reaped-children CPU time (cutime + cstime) over the run, with
# autovacuum off so that the walsender is the only child that exits.
# After the drains, bench/socket_floor measures, for each table and mode, what
# the kernel alone costs a reader of the same number of messages of the same
# average size arriving at count_consumer's pace ("floor" in the summary).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
major=15
rows=1000000
runs=3
tables=narrow,wide
modes=text,binary
load_secs=30
big_rows=2000000
build=$root/build-bench
out=
tcp=false
readonly BATCH=10000
readonly PROTO=2

usage() {
    sed -n '2,22p' "${BASH_SOURCE[0]}" >&2
    exit 2
}

die() {
    echo "run-vs-recvlogical: $*" >&2
    exit 1
}

say() {
    echo "run-vs-recvlogical: $*" >&2
}

while getopts m:n:r:T:M:L:X:b:o:N opt; do
    case $opt in
        m) major=$OPTARG ;;
        n) rows=$OPTARG ;;
        r) runs=$OPTARG ;;
        T) tables=$OPTARG ;;
        M) modes=$OPTARG ;;
        L) load_secs=$OPTARG ;;
        X) big_rows=$OPTARG ;;
        b) build=$OPTARG ;;
        o) out=$OPTARG ;;
        N) tcp=true ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[[ $# == 0 && $major =~ ^[0-9]+$ && $rows =~ ^[0-9]+$ && $runs =~ ^[1-9][0-9]*$ ]] || usage
[[ $load_secs =~ ^[0-9]+$ && $big_rows =~ ^[0-9]+$ ]] || usage
((rows % BATCH == 0 && rows > 0)) || die "-n must be a positive multiple of $BATCH"
[[ -x /usr/bin/time ]] || die "needs GNU time (/usr/bin/time: apt-get install time)"
recvlogical=$(command -v pg_recvlogical) || die "needs pg_recvlogical"
pgbench=$(command -v pgbench || echo "/usr/lib/postgresql/$major/bin/pgbench")
[[ -n $out ]] || out=$(mktemp -d /tmp/pgrepl-vs.XXXXXX)
mkdir -p "$out"
results=$out/runs.tsv
changes=$((rows + rows / 10))

server_dir=
conninfo=
client_conninfo=
pm_pid=
clk_tck=$(getconf CLK_TCK)

cleanup() {
    [[ -n $server_dir ]] && bash "$root/scripts/pg-server.sh" destroy "$server_dir"
    return 0
}
trap cleanup EXIT

sql() {
    psql -X -q -At -v ON_ERROR_STOP=1 -d "$conninfo" "$@"
}

build_tools() {
    [[ -f $build/build.ninja ]] || meson setup "$build" "$root" --buildtype=release >/dev/null
    ninja -C "$build" bench/count_consumer bench/socket_floor examples/pgrepl-stream >/dev/null
}

start_server() {
    server_dir=$(mktemp -d /tmp/pgrepl-vs-server.XXXXXX)
    conninfo=$(PGREPL_OWNER_PID=$$ bash "$root/scripts/pg-server.sh" start "$major" "$server_dir" \
        max_replication_slots=64 max_wal_senders=20 logical_decoding_work_mem=64MB autovacuum=off \
        synchronous_commit=off max_wal_size=16GB checkpoint_timeout=1h shared_buffers=512MB \
        "listen_addresses=$($tcp && echo 127.0.0.1)")
    client_conninfo=$conninfo
    $tcp && client_conninfo="host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable"
    pm_pid=$(head -n 1 "$server_dir/data/postmaster.pid")
    {
        echo "server: $(sql -c 'SELECT version()')"
        echo "pg_recvlogical: $("$recvlogical" --version)"
        echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
        echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "clients connect: $client_conninfo"
        echo "rows: $rows per table (+ $((rows / 10)) updates), runs: $runs, proto_version $PROTO"
        echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews wall times)"
    } | tee "$out/info.txt" >&2
}

# CPU seconds of the postmaster's reaped children so far.
children_cpu() {
    awk -v hz="$clk_tck" '{ printf "%.2f", ($16 + $17) / hz }' "/proc/$pm_pid/stat"
}

# Until every client backend and walsender has exited and been reaped (zombies count).
wait_backends_gone() {
    local i
    for ((i = 0; i < 600; i++)); do
        # shellcheck disable=SC2009 # pgrep cannot match zombies (state Z) and titles in one go
        if ! ps --ppid "$pm_pid" -o stat=,args= | grep -qE '^Z|\[local\]|walsender'; then
            return 0
        fi
        sleep 0.05
    done
    die "backends did not exit"
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
EOF
}

# Statements on stdin, one transaction of BATCH rows each, then the updates of every tenth row.
narrow_workload() {
    local lo
    for ((lo = 1; lo <= rows; lo += BATCH)); do
        echo "INSERT INTO narrow SELECT g, g % 1000, left(repeat(md5(g::text), 2), 50)" \
            "FROM generate_series($lo, $((lo + BATCH - 1))) g;"
    done
    for ((lo = 1; lo <= rows; lo += 10 * BATCH)); do
        echo "UPDATE narrow SET v = v + 1 WHERE id BETWEEN $lo AND $((lo + 10 * BATCH - 1)) AND id % 10 = 0;"
    done
}

wide_workload() {
    local lo
    for ((lo = 1; lo <= rows; lo += BATCH)); do
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
    for ((lo = 1; lo <= rows; lo += 10 * BATCH)); do
        echo "UPDATE wide SET i1 = i1 + 1 WHERE id BETWEEN $lo AND $((lo + 10 * BATCH - 1)) AND id % 10 = 0;"
    done
}

# make_backlog TABLE: template slot, backlog, end position, fence. Sets endpos_TABLE.
make_backlog() {
    local table=$1 start end
    sql -c "SELECT 1 FROM pg_create_logical_replication_slot('tpl_$table', 'pgoutput')" >/dev/null
    say "backlog: $rows inserts + $((rows / 10)) updates into $table"
    start=$(date +%s)
    "${table}_workload" | sql
    end=$(sql -c 'SELECT pg_current_wal_insert_lsn()')
    sql -c "INSERT INTO $table (id) VALUES (-1)"
    printf -v "endpos_$table" '%s' "$end"
    echo "backlog $table: $(($(date +%s) - start)) s, end position $end" | tee -a "$out/info.txt" >&2
}

# The command line of CLIENT for SLOT, PUBLICATION, ENDPOS and MODE, into the array cmd.
client_cmd() {
    local client=$1 slot=$2 pub=$3 endpos=$4 mode=$5
    case $client in
        recvlogical)
            cmd=("$recvlogical" -d "$client_conninfo" -S "$slot" --start -E "$endpos" -f /dev/null
                -o "proto_version=$PROTO" -o "publication_names=$pub")
            [[ $mode == binary ]] && cmd+=(-o binary=true)
            ;;
        pgrepl-stream)
            cmd=("$build/examples/pgrepl-stream" -d "$client_conninfo" -S "$slot" -P "$pub" -E "$endpos" -f /dev/null
                --proto-version="$PROTO")
            [[ $mode == binary ]] && cmd+=(--binary)
            ;;
        count)
            cmd=("$build/bench/count_consumer" -d "$client_conninfo" -S "$slot" -P "$pub" -E "$endpos" -V "$PROTO")
            [[ $mode == binary ]] && cmd+=(-b)
            ;;
    esac
    return 0
}

slot_seq=0

# measure LABEL TEMPLATE_SLOT EXPECTED_CHANGES -- COMMAND... (the slot name in COMMAND is @SLOT@):
# one run on a fresh copy of TEMPLATE_SLOT; appends a line to the results.
measure() {
    local label=$1 template=$2 expect=$3 slot ws0 ws1 t0 t1 cpu_user cpu_sys rss counted
    shift 4
    slot=run_$((++slot_seq))
    local -a run=("${@//@SLOT@/$slot}")
    sql -c "SELECT 1 FROM pg_copy_logical_replication_slot('$template', '$slot')" >/dev/null
    wait_backends_gone
    ws0=$(children_cpu)
    t0=$(date +%s%N)
    /usr/bin/time -f '%U %S %M' -o "$out/time.txt" "${run[@]}" >"$out/client.out" 2>"$out/client.err" || {
        cat "$out/client.err" >&2
        die "$label: ${run[0]} failed"
    }
    t1=$(date +%s%N)
    wait_backends_gone
    ws1=$(children_cpu)
    sql -c "SELECT pg_drop_replication_slot('$slot')" >/dev/null
    read -r cpu_user cpu_sys rss <"$out/time.txt"
    counted=-
    if [[ ${run[0]} == */count_consumer ]]; then
        counted=$(sed -n 's/.*changes=\([0-9]*\).*/\1/p' "$out/client.out")
        [[ $counted == "$expect" ]] || die "$label: count_consumer counted $counted changes, expected $expect"
    fi
    printf '%s\t%s\t%.3f\t%s\t%s\t%s\t%s\t%s\n' "$label" "$expect" "$(((t1 - t0) / 1000))e-6" "$cpu_user" \
        "$cpu_sys" "$rss" "$(awk -v a="$ws0" -v b="$ws1" 'BEGIN { printf "%.2f", b - a }')" "$counted" \
        | tee -a "$results" >&2
}

drain_runs() {
    local table mode r client
    local -a order
    for table in ${tables//,/ }; do
        for mode in ${modes//,/ }; do
            for ((r = 1; r <= runs; r++)); do
                # alternate, and reverse the order every other round
                order=(recvlogical pgrepl-stream count)
                ((r % 2 == 0)) && order=(count pgrepl-stream recvlogical)
                for client in "${order[@]}"; do
                    local endvar=endpos_$table
                    client_cmd "$client" @SLOT@ "bench_$table" "${!endvar}" "$mode"
                    measure "$table/$mode/$client" "tpl_$table" "$changes" -- "${cmd[@]}"
                done
            done
        done
    done
}

# The kernel's floor (bench/socket_floor.c): for each table and mode, the
# messages the walsender sent and their average size (counted by decoding a
# copy of the slot with pg_logical_slot_peek_binary_changes, plus the 30
# bytes of CopyData and XLogData headers per message), then socket_floor's
# writer sends as many messages of that size at the pace the walsender kept
# with count_consumer (its median wall time per message), over the same kind
# of socket, to a reader that reads with pgrepl's default pause and does
# nothing else. Its CPU per change is what any client pays the kernel at
# least; appended to the results as TABLE/MODE/floor.
floor_runs() {
    local table mode r endvar slot nmsg bytes size gap line binopt
    local -a sock=()
    $tcp && sock=(-t)
    for table in ${tables//,/ }; do
        endvar=endpos_$table
        for mode in ${modes//,/ }; do
            slot=floor_${table}_$mode
            binopt=
            [[ $mode == binary ]] && binopt=", 'binary', 'true'"
            sql -c "SELECT 1 FROM pg_copy_logical_replication_slot('tpl_$table', '$slot')" >/dev/null
            read -r nmsg bytes < <(sql -F ' ' -c "SELECT count(*), sum(octet_length(data))
                FROM pg_logical_slot_peek_binary_changes('$slot', '${!endvar}', NULL,
                    'proto_version', '$PROTO', 'publication_names', 'bench_$table'$binopt)")
            sql -c "SELECT pg_drop_replication_slot('$slot')" >/dev/null
            size=$(((bytes + nmsg / 2) / nmsg + 30))
            gap=$(runs_col "$table/$mode/count" 3 | median | awk -v n="$nmsg" '{ printf "%.3f", $1 * 1e6 / n }')
            echo "floor $table/$mode: $nmsg messages of $size bytes on average, one every $gap µs" \
                | tee -a "$out/info.txt" >&2
            for ((r = 1; r <= runs; r++)); do
                line=$("$build/bench/socket_floor" -n "$nmsg" -s "$size" -g "$gap" "${sock[@]}") ||
                    die "socket_floor failed"
                awk -v l="$table/$mode/floor" -v c="$changes" -v line="$line" 'BEGIN {
                    n = split(line, kv, /[ =]/); for (i = 1; i < n; i += 2) v[kv[i]] = kv[i + 1]
                    printf "%s\t%s\t%s\t%s\t%s\t-\t-\t-\n", l, c, v["wall_s"], v["reader_user_s"], v["reader_sys_s"] }' \
                    | tee -a "$results" >&2
            done
        done
    done
}

median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
        else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# column NUMBER of the runs whose label is LABEL, one per line
runs_col() {
    awk -F'\t' -v l="$1" -v c="$2" '$1 == l { print $c }' "$results"
}

# per-run CPU microseconds per change of LABEL (user + sys)
cpu_per_change() {
    awk -F'\t' -v l="$1" '$1 == l { printf "%.4f\n", ($4 + $5) * 1e6 / $2 }' "$results"
}

ws_per_change() {
    awk -F'\t' -v l="$1" '$1 == l { printf "%.4f\n", $7 * 1e6 / $2 }' "$results"
}

# wall ratio of each round: LABEL_A / LABEL_B, paired in order
wall_ratios() {
    paste <(runs_col "$1" 3) <(runs_col "$2" 3) | awk '{ printf "%.4f\n", $1 / $2 }'
}

summary() {
    local table mode fmt base
    fmt='%-16s %-14s %9s %10s %9s %11s %9s\n'
    echo
    echo "Medians of $runs runs each ($changes changes per run; CPU in microseconds per change, user + sys;"
    echo "floor: bench/socket_floor, the kernel's cost alone to a reader of the same messages at the same pace):"
    # shellcheck disable=SC2059
    printf "$fmt" table/mode client "wall s" "wall ratio" "client µs" "walsender µs" "RSS MB"
    for table in ${tables//,/ }; do
        for mode in ${modes//,/ }; do
            base=$table/$mode
            for client in recvlogical pgrepl-stream count floor; do
                local ratio=- ws=- rss=-
                if [[ $client != floor ]]; then
                    ws=$(ws_per_change "$base/$client" | median)
                    rss=$(runs_col "$base/$client" 6 | median | awk '{ printf "%.1f", $1 / 1024 }')
                    [[ $client != recvlogical ]] && ratio=$(wall_ratios "$base/$client" "$base/recvlogical" | median)
                fi
                # shellcheck disable=SC2059
                printf "$fmt" "$base" "$client" "$(runs_col "$base/$client" 3 | median)" "$ratio" \
                    "$(cpu_per_change "$base/$client" | median)" "$ws" "$rss"
            done
        done
    done
}

# ---- concurrent load ------------------------------------------------------------

# lag LABEL: one sample of the load slot's walsender: sent and client-flushed lag in bytes
lag_sample() {
    sql -F ' ' -c "SELECT round(extract(epoch FROM clock_timestamp())::numeric, 2),
        pg_current_wal_lsn() - r.sent_lsn, pg_current_wal_lsn() - r.flush_lsn
        FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid
        WHERE s.slot_name = 'load'"
}

load_test() {
    local stream_pid pgb_end caught_sent='' caught_flush='' now line i
    say "load test: pgbench -c 4 for $load_secs s while pgrepl-stream follows"
    "$pgbench" -i -s 10 -q -d "$conninfo" >/dev/null 2>&1 || die "pgbench -i failed"
    sql <<'EOF' >/dev/null
CREATE PUBLICATION bench_pgbench FOR TABLE pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history;
SELECT 1 FROM pg_create_logical_replication_slot('load', 'pgoutput');
EOF
    "$build/examples/pgrepl-stream" -d "$client_conninfo" -S load -P bench_pgbench -f /dev/null -s 1 \
        --proto-version="$PROTO" 2>"$out/load-stream.err" &
    stream_pid=$!
    sleep 2
    : >"$out/load-lag.txt"
    (
        while sleep 1; do lag_sample; done
    ) >>"$out/load-lag.txt" 2>/dev/null &
    local sampler=$!
    "$pgbench" -n -c 4 -j 2 -T "$load_secs" -d "$conninfo" >"$out/load-pgbench.txt" 2>&1 || die "pgbench failed"
    pgb_end=$(sql -c 'SELECT pg_current_wal_lsn()')
    local t_end
    t_end=$(date +%s%N)
    kill "$sampler"
    wait "$sampler" 2>/dev/null || true
    for ((i = 0; i < 600; i++)); do
        line=$(sql -c "SELECT r.sent_lsn >= '$pgb_end', r.flush_lsn >= '$pgb_end'
            FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid
            WHERE s.slot_name = 'load'")
        now=$(date +%s%N)
        [[ -z $caught_sent && $line == t\|* ]] && caught_sent=$(((now - t_end) / 1000000))
        [[ -z $caught_flush && $line == t\|t ]] && caught_flush=$(((now - t_end) / 1000000))
        [[ -n $caught_flush ]] && break
        sleep 0.05
    done
    # its CPU time and peak RSS, read before it ends
    awk -v hz="$clk_tck" '{ printf "%.2f %.2f ", $14 / hz, $15 / hz }' "/proc/$stream_pid/stat" >"$out/load-time.txt"
    awk '$1 == "VmHWM:" { print $2 }' "/proc/$stream_pid/status" >>"$out/load-time.txt"
    kill -TERM "$stream_pid"
    wait "$stream_pid" || die "pgrepl-stream failed in the load test: $(cat "$out/load-stream.err")"
    {
        echo "load test: pgbench -c 4 -j 2 -T $load_secs (scale 10), pgrepl-stream -s 1 text mode following"
        grep -E '^(tps|number of transactions actually processed)' "$out/load-pgbench.txt"
        awk '{ if ($2 > ms) ms = $2; if ($3 > mf) mf = $3; s += $3; n++ }
            END { printf "lag during load (%d samples, 1 s apart): sent lag max %d bytes; client flush lag max %d bytes, mean %d bytes\n",
                n, ms, mf, n ? s / n : 0 }' "$out/load-lag.txt"
        echo "after pgbench ended: walsender sent everything in ${caught_sent:-?} ms, client flush confirmed it in ${caught_flush:-?} ms (status interval 1 s)"
        read -r u s m <"$out/load-time.txt"
        echo "pgrepl-stream CPU during the test: user $u s, sys $s s, peak RSS $((m / 1024)) MB"
    } | tee "$out/load-summary.txt"
    sql -c "SELECT pg_drop_replication_slot('load')" >/dev/null
}

# ---- one large transaction ------------------------------------------------------

big_txn_test() {
    local end client
    say "large transaction: $big_rows rows in one transaction"
    sql <<'EOF' >/dev/null
CREATE TABLE big (id int, v int, t text);
CREATE PUBLICATION bench_big FOR TABLE big;
SELECT 1 FROM pg_create_logical_replication_slot('tpl_big', 'pgoutput');
EOF
    sql -c "INSERT INTO big SELECT g, g % 1000, left(repeat(md5(g::text), 2), 50) FROM generate_series(1, $big_rows) g"
    end=$(sql -c 'SELECT pg_current_wal_insert_lsn()')
    sql -c "INSERT INTO big VALUES (-1)"
    local -a c
    for client in "pgrepl-stream streaming" "pgrepl-stream" "count streaming" "count" "recvlogical streaming"; do
        read -r -a c <<<"$client"
        client_cmd "${c[0]}" @SLOT@ bench_big "$end" text
        if [[ ${c[1]:-} == streaming ]]; then
            case ${c[0]} in
                recvlogical) cmd+=(-o streaming=on) ;;
                pgrepl-stream) cmd+=(--streaming) ;;
                count) cmd+=(-s) ;;
            esac
        fi
        measure "big/${client// /-}" tpl_big "$big_rows" -- "${cmd[@]}"
    done
    {
        echo "large transaction: $big_rows rows in one transaction, logical_decoding_work_mem 64MB, text mode"
        printf '%-28s %9s %10s %9s %8s\n' client "wall s" "client µs" "walsender s" "RSS MB"
        awk -F'\t' '$1 ~ /^big\// { printf "%-28s %9.2f %10.3f %9.2f %8.1f\n", substr($1, 5), $3, ($4 + $5) * 1e6 / $2, $7, $6 / 1024 }' \
            "$results"
    } | tee "$out/big-summary.txt"
}

build_tools
start_server
create_schema
for t in ${tables//,/ }; do
    make_backlog "$t"
done
sql -c CHECKPOINT
printf 'label\tchanges\twall_s\tuser_s\tsys_s\tmaxrss_kb\twalsender_s\tcounted\n' >"$results"
drain_runs
floor_runs
echo "load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/info.txt" >&2
summary | tee "$out/summary.txt"
((load_secs > 0)) && load_test
((big_rows > 0)) && big_txn_test
say "results in $out"
