#!/usr/bin/env bash
# The pgrepl-stream demo, the first command in README.md.
#
# Installs the Debian packages that are missing (scripts/setup-deps.sh, as
# root), builds pgrepl-stream in build-demo, starts a throwaway PostgreSQL 15
# (scripts/pg-server.sh) with a table and a publication, runs pgrepl-stream on
# a temporary slot and makes a few inserts, updates and deletes: each
# statement is shown with the JSON lines it produced. Everything it started
# (pgrepl-stream, the server, its directory with the output) is removed at
# the end, also after Ctrl-C or an error; the build stays in build-demo.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly build=build-demo
readonly slot=demo_slot

dir=
stream_pid=

say() {
    printf '\n\033[1m%s\033[0m\n' "$*"
}

# Wait up to $1 tenths of a second for pgrepl-stream to exit.
stream_exits_within() {
    for _ in $(seq "$1"); do
        kill -0 "$stream_pid" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

# Stop pgrepl-stream: SIGINT makes it confirm what it printed and exit. After
# a Ctrl-C it normally has one already (it shares the terminal's process
# group), and a second would make it skip its final status update; unless it
# got the Ctrl-C before it could handle signals.
stop_stream() {
    local interrupted=$1
    if [[ $interrupted == no ]] || ! stream_exits_within 30; then
        kill -INT "$stream_pid" 2>/dev/null || true
    fi
    stream_exits_within 100 || kill -KILL "$stream_pid" 2>/dev/null || true
    wait "$stream_pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    # a second Ctrl-C must not cut the cleanup short
    trap '' INT TERM
    trap - EXIT
    if [[ -n $stream_pid ]]; then
        stop_stream "$([[ $rc == 130 ]] && echo yes || echo no)"
    fi
    if [[ -n $dir ]]; then
        bash scripts/pg-server.sh destroy "$dir" >/dev/null 2>&1 || true
    fi
    if [[ $rc == 0 ]]; then
        say "Done: the server, its slot and its files are gone. pgrepl-stream stays in $build/examples/."
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted, cleaning up" >&2; exit 130' INT
trap 'echo "demo: terminated, cleaning up" >&2; exit 143' TERM

say "Installing what is missing (if anything)..."
bash scripts/setup-deps.sh --demo

say "Building pgrepl-stream..."
if [[ ! -f $build/build.ninja ]]; then
    meson setup "$build" -Dtests=false >/dev/null
fi
ninja -C "$build" examples/pgrepl-stream >/dev/null
tool=$build/examples/pgrepl-stream

say "Starting a throwaway PostgreSQL 15..."
# Named first, made second: an interrupt in between leaves nothing behind.
dir=$(mktemp -u /tmp/pgrepl-demo-XXXXXX)
mkdir -m 755 "$dir"
conninfo=$(bash scripts/pg-server.sh start 15 "$dir")
echo "$conninfo"

# psql absorbs a Ctrl-C (it cancels the query and exits normally), so bash
# would not act on it; waiting for it in the background lets the trap run.
run_sql() {
    psql -X -q -v ON_ERROR_STOP=1 -d "$conninfo" -c "$1" &
    wait $!
}

say "Creating a table and a publication:"
schema="CREATE TABLE fruit (id integer PRIMARY KEY, name text, price numeric(6,2));
CREATE PUBLICATION demo_pub FOR TABLE fruit;"
echo "$schema"
run_sql "$schema"

# pgrepl-stream must still run (a Ctrl-C that psql absorbed still reached it).
stream_alive() {
    kill -0 "$stream_pid" 2>/dev/null && return 0
    local rc=0
    wait "$stream_pid" || rc=$?
    stream_pid=
    echo "demo: pgrepl-stream exited $rc" >&2
    exit 1
}

say "Starting pgrepl-stream on a temporary slot:"
out=$dir/stream.jsonl
echo "$tool -d \"$conninfo\" -S $slot --temporary -P demo_pub"
"$tool" -d "$conninfo" -S "$slot" --temporary -P demo_pub -f "$out" -F 0 -s 1 &
stream_pid=$!
for _ in $(seq 100); do
    active=$(psql -X -A -t -d "$conninfo" -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$slot' AND active")
    [[ $active == 1 ]] && break
    stream_alive
    sleep 0.1
done
[[ $active == 1 ]] || { echo "demo: pgrepl-stream did not start streaming" >&2; exit 1; }

shown=0
# Run one statement, then print the JSON lines it produced (each transaction ends with a C line).
change() {
    local want
    want=$(($(grep -c '"action":"C"' "$out" || true) + 1))
    say "$1"
    run_sql "$1"
    for _ in $(seq 100); do
        (($(grep -c '"action":"C"' "$out" || true) >= want)) && break
        stream_alive
        sleep 0.1
    done
    tail -n +$((shown + 1)) "$out"
    shown=$(wc -l <"$out")
}

change "INSERT INTO fruit VALUES (1, 'apple', 0.50), (2, 'pear', 0.75);"
change "UPDATE fruit SET price = 0.55 WHERE name = 'apple';"
change "UPDATE fruit SET id = 3 WHERE id = 2;"
change "DELETE FROM fruit WHERE id = 1;"
change "BEGIN; INSERT INTO fruit VALUES (4, 'fig \"Black Mission\"', NULL); TRUNCATE fruit; COMMIT;"

say "Stopping pgrepl-stream (SIGINT: it confirms what it printed and exits 0)..."
kill -INT "$stream_pid"
status=0
wait "$stream_pid" || status=$?
stream_pid=
echo "pgrepl-stream exited $status"
