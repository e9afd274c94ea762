#!/usr/bin/env bash
# capture-fixtures.sh [MAJOR...]: capture real pgoutput byte streams into
# tests/fixtures/pg<MAJOR>/<scenario>.cap (default majors: 14 15 16 17 18),
# then write the expected callback logs (<scenario>.log) with the fixtures
# test. See tests/fixtures/README.md.
#
# For each major: start a throwaway server (scripts/pg-server.sh), create the
# schema, then per scenario create a fresh pgoutput slot, start
# pgrepl-capture on it, run the workload on a normal connection, and tell
# the capture where to stop (pg_current_wal_lsn() after a CHECKPOINT that
# flushes everything). The capture runs while the workload runs, so large
# transactions are streamed while still in progress, as they would be live.
#
# Environment: PGREPL_BUILD_DIR (default build-capture in the source tree) is
# the meson build directory used for pgrepl-capture and test_fixtures.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${PGREPL_BUILD_DIR:-$root/build-capture}
capture_bin=$build/tests/tools/pgrepl-capture
fixtures_test=$build/tests/unit/test_fixtures
# Fixtures above this size make the repository heavy; shrink the workload instead.
readonly MAX_FIXTURE_BYTES=$((256 * 1024))

server_dir=
capture_pid=
conninfo=
outdir=
major=

die() {
    echo "capture-fixtures: $*" >&2
    exit 1
}

cleanup() {
    [[ -n $capture_pid ]] && kill "$capture_pid" 2>/dev/null
    [[ -n $server_dir ]] && bash "$root/scripts/pg-server.sh" destroy "$server_dir"
    return 0
}
trap cleanup EXIT

build_tools() {
    [[ -f $build/build.ninja ]] || meson setup "$build" "$root" >/dev/null
    ninja -C "$build" tests/tools/pgrepl-capture tests/unit/test_fixtures >/dev/null
}

sql() {
    psql -X -q -At -v ON_ERROR_STOP=1 -d "$conninfo" "$@"
}

# capture NAME SLOT_KIND PLUGIN_OPTION...  (workload SQL on stdin)
# SLOT_KIND is "plain" or "twophase" (slot created with two_phase => true).
capture() {
    local name=$1 kind=$2
    shift 2
    local slot=fx_${name//-/_} endfile=$server_dir/endpos out=$outdir/$name.cap opt
    local -a opts=()
    for opt in publication_names=fixtures "$@"; do
        opts+=(-O "$opt")
    done
    # The two_phase argument exists from 15 on.
    local args="'$slot', 'pgoutput'"
    ((major < 15)) || args+=", false, $([[ $kind == twophase ]] && echo true || echo false)"
    sql -c "SELECT pg_create_logical_replication_slot($args)" >/dev/null
    rm -f "$endfile"
    "$capture_bin" -d "$conninfo" -S "$slot" -E "@$endfile" -o "$out" -t 120 "${opts[@]}" &
    capture_pid=$!
    sql -f - >/dev/null
    sql -c CHECKPOINT
    sql -c "SELECT pg_current_wal_lsn()" >"$endfile.tmp"
    mv "$endfile.tmp" "$endfile"
    wait "$capture_pid" || die "capture of $name on $major failed"
    capture_pid=
    sql -c "SELECT pg_drop_replication_slot('$slot')" >/dev/null
    echo "$name slot=$kind $*" >>"$outdir/manifest.txt"
    (($(stat -c %s "$out") <= MAX_FIXTURE_BYTES)) || die "$out is larger than $MAX_FIXTURE_BYTES bytes"
}

create_schema() {
    sql <<'SQL'
CREATE PUBLICATION fixtures FOR ALL TABLES;

CREATE TABLE basic (id int PRIMARY KEY, name text, n int);

CREATE TABLE id_default (id int PRIMARY KEY, v text);
CREATE TABLE id_full (id int, v text);
ALTER TABLE id_full REPLICA IDENTITY FULL;
CREATE TABLE id_index (a int NOT NULL, b int NOT NULL, c text);
CREATE UNIQUE INDEX id_index_ba ON id_index (b, a);
ALTER TABLE id_index REPLICA IDENTITY USING INDEX id_index_ba;
CREATE TABLE id_nothing (id int, v text);
ALTER TABLE id_nothing REPLICA IDENTITY NOTHING;

CREATE TABLE toasted (id int PRIMARY KEY, note text, big text);
-- Out of line and uncompressed, whatever pglz would make of the value.
ALTER TABLE toasted ALTER big SET STORAGE EXTERNAL;

CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);
CREATE TYPE pair AS (x int, label text);
CREATE TABLE typed (id int PRIMARY KEY, m mood, p posint, ms mood[], pr pair,
                    vc varchar(10), num numeric(8,2), ts timestamptz(3),
                    flag bool, big int8, f8 float8, d date, j jsonb, ia int4[]);

CREATE TABLE tr_parent (id serial PRIMARY KEY, v text);
CREATE TABLE tr_child (id serial PRIMARY KEY, parent int REFERENCES tr_parent);
CREATE TABLE tr_plain (id int);

CREATE TABLE bin (id int4, t text, num numeric, b bytea, u uuid, ts timestamptz, nul text);

CREATE TABLE streamed (id int);

CREATE TABLE prepared (id int PRIMARY KEY, v text);

SELECT pg_replication_origin_create('fixture_origin');
SQL
}

scenario_basic() {
    # Leaves the table empty, so it can run once per protocol version.
    capture "$1" plain "proto_version=$2" <<'SQL'
INSERT INTO basic VALUES (1, 'alice', 10), (2, 'bob', 20);
UPDATE basic SET n = n + 1 WHERE id = 1;
DELETE FROM basic WHERE id = 2;
BEGIN;
INSERT INTO basic VALUES (3, 'carol', NULL);
UPDATE basic SET name = E'tab\there "quoted" back\\slash new\nline caf\u00e9' WHERE id = 3;
COMMIT;
DELETE FROM basic;
SQL
}

scenario_identity() {
    capture identity plain proto_version=1 <<'SQL'
INSERT INTO id_default VALUES (1, 'a'), (2, 'b');
UPDATE id_default SET v = 'a2' WHERE id = 1;
UPDATE id_default SET id = 3 WHERE id = 2;
DELETE FROM id_default WHERE id = 1;
INSERT INTO id_full VALUES (1, 'x'), (2, 'y');
UPDATE id_full SET v = 'x2' WHERE id = 1;
DELETE FROM id_full WHERE id = 2;
INSERT INTO id_index VALUES (1, 2, 'c1'), (3, 4, 'c2');
UPDATE id_index SET c = 'c1b' WHERE a = 1;
UPDATE id_index SET b = 5 WHERE a = 3;
DELETE FROM id_index WHERE a = 1;
INSERT INTO id_nothing VALUES (1, 'n');
SQL
}

scenario_toast() {
    # 100 md5 digests: 3,200 bytes of hex, stored out of line.
    capture toast plain proto_version=1 <<'SQL'
INSERT INTO toasted SELECT 1, 'first', string_agg(md5(i::text), '') FROM generate_series(1, 100) i;
UPDATE toasted SET note = 'second' WHERE id = 1;
UPDATE toasted SET big = 'small now' WHERE id = 1;
DELETE FROM toasted WHERE id = 1;
SQL
}

scenario_types() {
    capture types plain proto_version=1 <<'SQL'
INSERT INTO typed VALUES (1, 'happy', 5, '{sad,ok}', '(7,"a b")', 'abcdefghij', 123456.78,
    '2024-02-29 12:34:56.789+00', true, 9007199254740993, 0.1, '2024-02-29', '{"k": [1, null]}', '{1,2,3}');
INSERT INTO typed (id) VALUES (2);
UPDATE typed SET m = 'ok', num = -0.5 WHERE id = 1;
SQL
}

scenario_truncate() {
    capture truncate plain proto_version=1 <<'SQL'
INSERT INTO tr_parent (v) VALUES ('p1'), ('p2');
INSERT INTO tr_child (parent) VALUES (1), (2);
INSERT INTO tr_plain VALUES (1);
TRUNCATE tr_parent, tr_child RESTART IDENTITY CASCADE;
TRUNCATE tr_plain;
SQL
}

scenario_messages() {
    capture messages plain proto_version=1 messages=true <<'SQL'
BEGIN;
INSERT INTO basic VALUES (100, 'with message', 1);
SELECT pg_logical_emit_message(true, 'fixture', 'transactional');
COMMIT;
SELECT pg_logical_emit_message(false, 'fixture', 'non-transactional');
SELECT pg_logical_emit_message(true, 'only', 'a transaction with nothing but this message');
SELECT pg_logical_emit_message(false, 'bytes', '\x00ff0a27'::bytea);
SQL
}

scenario_binary() {
    capture binary plain proto_version=1 binary=true <<'SQL'
INSERT INTO bin VALUES (42, 'text', 3.25, '\xdeadbeef', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    '2024-02-29 12:34:56.789012+00', NULL);
INSERT INTO bin VALUES (-1, '', 'NaN', '\x', '00000000-0000-0000-0000-000000000000', '-infinity', 'x');
SQL
}

# With logical_decoding_work_mem = 64kB a block holds about 500 one-column
# rows. A subtransaction rolled back after part of it was streamed (Stream
# Abort with subxid != xid); a transaction aborted while streamed (xid ==
# subxid): the sleep lets the walsender stream it before the abort record
# exists (18 drops a transaction already known to be aborted; 17 still streams it), and it is
# large enough for its completed WAL pages alone to fill a block (partial
# pages are not flushed before the abort); a committed one (Stream Commit)
# that also carries Type, Truncate, Delete and Messages inside its blocks and
# a non-transactional Message between them.
stream_workload() {
    cat <<'SQL'
BEGIN;
INSERT INTO streamed SELECT generate_series(1, 100);
SAVEPOINT sp;
INSERT INTO streamed SELECT generate_series(101, 650);
ROLLBACK TO SAVEPOINT sp;
INSERT INTO streamed SELECT generate_series(651, 660);
COMMIT;
BEGIN;
INSERT INTO streamed SELECT generate_series(1001, 1800);
SELECT pg_sleep(1);
ROLLBACK;
BEGIN;
INSERT INTO typed (id, m) VALUES (100, 'sad');
SELECT pg_logical_emit_message(true, 'stream', 'transactional, in a stream block');
INSERT INTO streamed SELECT generate_series(2001, 2500);
SELECT pg_logical_emit_message(false, 'stream', 'non-transactional, between blocks');
TRUNCATE tr_plain;
DELETE FROM typed WHERE id = 100;
COMMIT;
SQL
}

scenario_stream() {
    capture stream plain proto_version=2 streaming=on messages=true < <(stream_workload)
}

scenario_stream_parallel() {
    capture stream-parallel plain proto_version=4 streaming=parallel messages=true < <(stream_workload)
}

scenario_twophase() {
    capture twophase twophase proto_version=3 two_phase=true streaming=on <<'SQL'
BEGIN;
INSERT INTO prepared VALUES (1, 'committed');
PREPARE TRANSACTION 'fx commit';
COMMIT PREPARED 'fx commit';
BEGIN;
INSERT INTO prepared VALUES (2, 'rolled back');
PREPARE TRANSACTION 'fx rollback';
ROLLBACK PREPARED 'fx rollback';
BEGIN;
INSERT INTO streamed SELECT generate_series(1, 510);
PREPARE TRANSACTION 'fx ''streamed''';
COMMIT PREPARED 'fx ''streamed''';
SQL
}

scenario_origin() {
    capture origin plain proto_version=1 <<'SQL'
INSERT INTO basic VALUES (200, 'no origin', 0);
SELECT pg_replication_origin_session_setup('fixture_origin');
BEGIN;
SELECT pg_replication_origin_xact_setup('0/ABCDEF01', '2024-01-02 03:04:05+00');
INSERT INTO basic VALUES (201, 'with origin', 1);
COMMIT;
SELECT pg_replication_origin_session_reset();
SQL
}

max_proto() {
    case $1 in
        14) echo 2 ;;
        15) echo 3 ;;
        *) echo 4 ;;
    esac
}

capture_major() {
    major=$1
    [[ $major =~ ^1[4-8]$ ]] || die "unsupported major '$major' (14 to 18)"
    outdir=$root/tests/fixtures/pg$major
    server_dir=$(mktemp -d "${TMPDIR:-/tmp}/pgrepl-capture-$major.XXXXXX")
    conninfo=$(PGREPL_OWNER_PID=$$ bash "$root/scripts/pg-server.sh" start "$major" "$server_dir" \
        TimeZone=UTC autovacuum=off)
    rm -rf "$outdir"
    mkdir -p "$outdir"
    echo "# server $(sql -c 'SHOW server_version')" >"$outdir/manifest.txt"
    create_schema >/dev/null

    scenario_basic basic 1
    scenario_basic "basic-v$(max_proto "$major")" "$(max_proto "$major")"
    scenario_identity
    scenario_toast
    scenario_types
    scenario_truncate
    scenario_messages
    scenario_binary
    scenario_stream
    ((major < 16)) || scenario_stream_parallel
    ((major < 15)) || scenario_twophase
    scenario_origin

    bash "$root/scripts/pg-server.sh" destroy "$server_dir"
    server_dir=
    local caps=("$outdir"/*.cap)
    echo "capture-fixtures: PostgreSQL $major: ${#caps[@]} fixtures in $outdir" >&2
}

main() {
    local -a majors=("$@")
    ((${#majors[@]} > 0)) || majors=(14 15 16 17 18)
    build_tools
    local m
    for m in "${majors[@]}"; do
        capture_major "$m"
    done
    PGREPL_FIXTURES_WRITE=1 PGREPL_SOURCE_ROOT=$root "$fixtures_test" >/dev/null
    PGREPL_SOURCE_ROOT=$root "$fixtures_test"
}

main "$@"
