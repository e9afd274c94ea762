#!/usr/bin/env bash
# run-latency.sh [options] [BUILD-DIR...]: commit-to-line latency of
# pgrepl-stream against pg_recvlogical under a paced load of single-row
# transactions. See bench/README.md "Latency".
#
#   BUILD-DIR  a meson build directory whose examples/pgrepl-stream is measured
#              (rebuilt with ninja first); several: each is measured, in turn,
#              against the same server and the same pg_recvlogical (to
#              compare two trees, e.g. before and after a change). Default:
#              build-bench in this source tree, configured
#              --buildtype=release if it does not exist
#   -m MAJOR   PostgreSQL major of the throwaway server (default 15)
#   -R LIST    target rates, transactions per second (default 1000,10000)
#   -t SECS    measured seconds per point (default 20)
#   -w SECS    warm-up seconds before each point, not measured (default 2)
#   -c CONNS   load generator connections (default 2)
#   -r ROUNDS  repetitions of every point, in alternating order (default 1)
#   -B DIR     build of this tree in which latency_load and latency_reader are
#              built (default build-bench here, as above)
#   -o DIR     where results go (default a new /tmp/pgrepl-lat.XXXXXX)
#   -N         the consumers connect over TCP to 127.0.0.1:5432 (the server
#              also listens there) instead of the server's Unix socket
#
# A point is one consumer at one rate: a fresh pgoutput slot; the consumer
# streams it (pg_recvlogical with -o proto_version=2, text mode;
# pgrepl-stream --proto-version=2 --heartbeat-interval=0 with its default
# read pause, then with --read-pause=0) into a FIFO read by
# bench/latency_reader; bench/latency_load commits single-row transactions
# at the rate (over the Unix socket); each row carries the inserting
# backend's clock_timestamp(), and the reader subtracts it from the time the
# row's line arrived. Client and walsender CPU are the growth of utime +
# stime in /proc/PID/stat over the load (10 ms resolution). A point takes
# about 24 s with the defaults: a run about 2.5 minutes with one build
# directory (6 points), 4 minutes with two (10 points).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
major=15
rates=1000,10000
secs=20
warm=2
conns=2
rounds=1
tools=$root/build-bench
out=
tcp=false
readonly PROTO=2

usage() {
    awk 'NR > 1 && !/^#/ { exit } NR > 1' "${BASH_SOURCE[0]}" >&2
    exit 2
}

die() {
    echo "run-latency: $*" >&2
    exit 1
}

say() {
    echo "run-latency: $*" >&2
}

while getopts m:R:t:w:c:r:B:o:N opt; do
    case $opt in
        m) major=$OPTARG ;;
        R) rates=$OPTARG ;;
        t) secs=$OPTARG ;;
        w) warm=$OPTARG ;;
        c) conns=$OPTARG ;;
        r) rounds=$OPTARG ;;
        B) tools=$OPTARG ;;
        o) out=$OPTARG ;;
        N) tcp=true ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
builds=()
for b in "${@:-$root/build-bench}"; do
    builds+=("$(readlink -m "$b")")
done
tools=$(readlink -m "$tools")
[[ $major =~ ^[0-9]+$ && $rates =~ ^[0-9]+(,[0-9]+)*$ && $rounds =~ ^[1-9][0-9]*$ ]] || usage
[[ $secs =~ ^[0-9]+(\.[0-9]+)?$ && $warm =~ ^[0-9]+(\.[0-9]+)?$ && $conns =~ ^[1-9][0-9]*$ ]] || usage
recvlogical=$(command -v pg_recvlogical) || die "needs pg_recvlogical"
[[ -n $out ]] || out=$(mktemp -d /tmp/pgrepl-lat.XXXXXX)
mkdir -p "$out"
results=$out/runs.tsv

server_dir=
conninfo=
client_conninfo=
clk_tck=$(getconf CLK_TCK)
consumer_pid=
reader_pid=

cleanup() {
    [[ -n $consumer_pid ]] && kill "$consumer_pid" 2>/dev/null
    [[ -n $reader_pid ]] && kill "$reader_pid" 2>/dev/null
    [[ -n $server_dir ]] && bash "$root/scripts/pg-server.sh" destroy "$server_dir"
    return 0
}
trap cleanup EXIT

sql() {
    psql -X -q -At -v ON_ERROR_STOP=1 -d "$conninfo" "$@"
}

# A meson build directory: configured --buildtype=release if it does not exist yet (only for this tree's).
ensure_build() {
    local dir=$1
    if [[ ! -f $dir/build.ninja ]]; then
        [[ $dir == "$root/build-bench" || $dir == "$tools" ]] || die "$dir is not a meson build directory"
        meson setup "$dir" "$root" --buildtype=release >/dev/null
    fi
}

build_tools() {
    local b
    ensure_build "$tools"
    ninja -C "$tools" bench/latency_load bench/latency_reader >/dev/null
    for b in "${builds[@]}"; do
        ensure_build "$b"
        ninja -C "$b" examples/pgrepl-stream >/dev/null
        [[ $("$b/examples/pgrepl-stream" --help) == *--read-pause=* ]] ||
            die "$b/examples/pgrepl-stream has no --read-pause option"
    done
}

start_server() {
    server_dir=$(mktemp -d /tmp/pgrepl-lat-server.XXXXXX)
    # synchronous_commit on: a logical walsender sends only flushed WAL, and
    # with it off a commit waits for the WAL writer (up to wal_writer_delay);
    # fsync stays off (pg-server.sh), so a flush is a write() and no disk wait
    conninfo=$(PGREPL_OWNER_PID=$$ bash "$root/scripts/pg-server.sh" start "$major" "$server_dir" \
        max_replication_slots=64 max_wal_senders=20 autovacuum=off synchronous_commit=on \
        max_wal_size=16GB checkpoint_timeout=1h shared_buffers=512MB \
        "listen_addresses=$($tcp && echo 127.0.0.1)")
    client_conninfo=$conninfo
    $tcp && client_conninfo="host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable"
    sql <<'EOF'
CREATE TABLE lat (id bigint PRIMARY KEY, ts bigint NOT NULL);
CREATE PUBLICATION lat_pub FOR TABLE lat;
EOF
    local i
    {
        echo "server: $(sql -c 'SELECT version()')"
        echo "pg_recvlogical: $("$recvlogical" --version)"
        for i in "${!builds[@]}"; do
            echo "pgrepl-stream #$((i + 1)): $(readlink -f "${builds[i]}")/examples/pgrepl-stream" \
                "($(git -C "$(meson_source "${builds[i]}")" describe --always --dirty 2>/dev/null || echo '?'))"
        done
        echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
        echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "consumers connect: $client_conninfo"
        echo "rates: $rates tx/s; $secs s measured after $warm s of warm-up; $conns generator connections;" \
            "rounds: $rounds"
        echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews everything)"
    } | tee "$out/info.txt" >&2
}

# The source directory of a meson build directory.
meson_source() {
    sed -n 's/.*"directories": *{"source": *"\([^"]*\)".*/\1/p' "$1/meson-info/meson-info.json"
}

# utime + stime of PID in seconds.
cpu_of() {
    awk -v hz="$clk_tck" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"
}

# Busy and total jiffies of the whole machine (all CPUs; iowait counts as idle).
machine_cpu() {
    awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat
}

# The walsender pid of SLOT once it streams (empty until then).
slot_walsender() {
    sql -c "SELECT s.active_pid FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid
        WHERE s.slot_name = '$1' AND r.state = 'streaming'"
}

# The consumer's command line for SLOT into the array cmd, its output format into fmt, its stop signal into sig.
client_cmd() {
    local client=$1 slot=$2 n
    case $client in
        recvlogical)
            cmd=("$recvlogical" -d "$client_conninfo" -S "$slot" --start -f - -o "proto_version=$PROTO"
                -o publication_names=lat_pub)
            fmt=pgoutput sig=INT
            ;;
        stream*)
            n=${client#stream}
            n=${n%-nopause}
            cmd=("${builds[n - 1]}/examples/pgrepl-stream" -d "$client_conninfo" -S "$slot" -P lat_pub
                --proto-version="$PROTO" --heartbeat-interval=0)
            [[ $client == *-nopause ]] && cmd+=(--read-pause=0)
            fmt=json sig=TERM
            ;;
    esac
    return 0
}

# The label printed for CLIENT.
client_label() {
    local client=$1 n
    [[ $client == recvlogical ]] && {
        echo pg_recvlogical
        return
    }
    n=${client#stream}
    n=${n%-nopause}
    local name=pgrepl-stream
    ((${#builds[@]} > 1)) && name="pgrepl-stream #$n"
    [[ $client == *-nopause ]] && name+=" --read-pause=0"
    echo "$name"
}

point_seq=0

# point CLIENT RATE ROUND: one measurement; appends a line to the results.
point() {
    local client=$1 rate=$2 round=$3 slot fifo ws i c0 c1 w0 w1 m0 m1 gen rdr status
    local -a cmd
    local fmt sig
    slot=lat_$((++point_seq))
    fifo=$out/pipe.$point_seq
    client_cmd "$client" "$slot"
    say "$(client_label "$client") at $rate tx/s (round $round)"
    sql -c 'TRUNCATE lat' -c CHECKPOINT
    sql -c "SELECT 1 FROM pg_create_logical_replication_slot('$slot', 'pgoutput')" >/dev/null
    mkfifo "$fifo"
    timeout "$(awk -v s="$secs" -v w="$warm" 'BEGIN { printf "%d", s + w + 60 }')" \
        "$tools/bench/latency_reader" -f "$fmt" <"$fifo" >"$out/reader.txt" 2>"$out/reader.err" &
    reader_pid=$!
    "${cmd[@]}" >"$fifo" 2>"$out/consumer.err" &
    consumer_pid=$!
    ws=
    for ((i = 0; i < 200; i++)); do
        ws=$(slot_walsender "$slot")
        [[ -n $ws ]] && break
        kill -0 "$consumer_pid" 2>/dev/null || break
        sleep 0.05
    done
    [[ -n $ws ]] || {
        cat "$out/consumer.err" >&2
        die "$client did not start streaming"
    }
    sleep 0.5
    c0=$(cpu_of "$consumer_pid")
    w0=$(cpu_of "$ws")
    m0=$(machine_cpu)
    "$tools/bench/latency_load" -d "$conninfo" -r "$rate" -t "$secs" -w "$warm" -c "$conns" >"$out/load.txt" ||
        die "latency_load failed"
    status=0
    wait "$reader_pid" || status=$?
    reader_pid=
    c1=$(cpu_of "$consumer_pid")
    w1=$(cpu_of "$ws")
    m1=$(machine_cpu)
    if ((status != 0)); then
        cat "$out/reader.err" "$out/consumer.err" >&2
        die "latency_reader failed (status $status) reading $client"
    fi
    kill -s "$sig" "$consumer_pid"
    status=0
    wait "$consumer_pid" || status=$?
    consumer_pid=
    ((status == 0)) || say "warning: $client exited with status $status after SIG$sig: $(tail -n 3 "$out/consumer.err")"
    rm -f "$fifo"
    for ((i = 0; i < 200; i++)); do
        [[ $(sql -c "SELECT active FROM pg_replication_slots WHERE slot_name = '$slot'") == f ]] && break
        sleep 0.05
    done
    sql -c "SELECT pg_drop_replication_slot('$slot')" >/dev/null
    gen=$(<"$out/load.txt")
    rdr=$(<"$out/reader.txt")
    # every measured row arrived, once
    awk -v g="$gen" -v r="$rdr" 'BEGIN {
        n = split(g " " r, kv, /[ =]/); for (i = 1; i < n; i += 2) v[kv[i]] = kv[i + 1]
        exit !(v["rows"] == v["measured"] && v["distinct"] == v["measured"] && v["max_id"] == v["measured"]) }' ||
        die "$client: the reader did not see each measured row once: load: $gen; reader: $rdr"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(client_label "$client")" "$rate" "$round" \
        "$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')" \
        "$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.2f", b - a }')" "$gen" "$rdr" \
        "$(awk -v a="$m0" -v b="$m1" 'BEGIN { split(a, x, " "); split(b, y, " ")
            printf "%.0f", 100 * (y[1] - x[1]) / (y[2] - x[2]) }')" | tee -a "$results" >&2
}

summary() {
    echo
    echo "Commit-to-line latency, microseconds: from the row's clock_timestamp() in the inserting backend to the"
    echo "arrival of its line at a reader of the consumer's stdout; $secs s per point after $warm s of warm-up;"
    echo "CPU in seconds over the warm-up and the measured time (user + sys, 10 ms resolution); machine busy: the"
    echo "share of all CPUs' time that was not idle meanwhile (the generator, server, consumer, reader and all else)."
    awk -F'\t' '
        function get(s, k,   n, kv, i) {
            n = split(s, kv, /[ =]/)
            for (i = 1; i < n; i += 2) if (kv[i] == k) return kv[i + 1]
            return "?"
        }
        BEGIN { fmt = "%-32s %8s %10s %8s %8s %8s %12s %15s %14s\n"
            printf fmt, "consumer", "target/s", "achieved/s", "p50 us", "p99 us", "max us", "client CPU s",
                "walsender CPU s", "machine busy %" }
        $2 ~ /^[0-9]+$/ {
            printf fmt, $1, $2, sprintf("%.0f", get($6, "achieved_rate")), get($7, "p50_us"), get($7, "p99_us"),
                get($7, "max_us"), $4, $5, $8
            if (get($6, "missed") > 0 || get($6, "achieved_rate") < 0.99 * $2)
                warn = warn sprintf("  %s at %s/s: %s slots missed, sends late by up to %s us\n", $1, $2,
                    get($6, "missed"), get($6, "late_max_us"))
        }
        END { if (warn != "") printf "\nWARNING: the load generator fell behind the schedule:\n%s", warn }'
}

build_tools
start_server
printf 'consumer\trate\tround\tclient_cpu_s\twalsender_cpu_s\tlatency_load\tlatency_reader\tmachine_busy_pct\n' \
    >"$results"
clients=(recvlogical)
for i in "${!builds[@]}"; do
    clients+=("stream$((i + 1))" "stream$((i + 1))-nopause")
done
for ((round = 1; round <= rounds; round++)); do
    for rate in ${rates//,/ }; do
        order=("${clients[@]}")
        if ((round % 2 == 0)); then
            order=()
            for ((i = ${#clients[@]} - 1; i >= 0; i--)); do
                order+=("${clients[i]}")
            done
        fi
        for client in "${order[@]}"; do
            point "$client" "$rate" "$round"
        done
    done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/info.txt" >&2
sort -t$'\t' -k2,2n -s "$results" | summary | tee "$out/summary.txt"
say "results in $out"
