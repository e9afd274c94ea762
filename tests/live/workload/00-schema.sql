-- Schema for the live decoder test (tests/live/test_decode_live.c). Runs
-- before the slots are created, so none of it is decoded.

CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'it''s');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TYPE pair AS (a integer, b text);

-- One column per built-in type family, plus the enum, domain and composite.
CREATE TABLE all_types (
    id integer PRIMARY KEY,
    c_int2 smallint, c_int4 integer, c_int8 bigint, c_oid oid,
    c_numeric numeric, c_numeric_mod numeric(12, 4),
    c_float4 real, c_float8 double precision,
    c_text text, c_varchar varchar(20), c_char char(5), c_qchar "char", c_name name,
    c_bytea bytea, c_bool boolean, c_uuid uuid,
    c_date date, c_time time, c_timetz timetz, c_timestamp timestamp, c_timestamp3 timestamp(3),
    c_timestamptz timestamptz, c_interval interval, c_interval_mod interval day to second(2),
    c_json json, c_jsonb jsonb,
    c_inet inet, c_cidr cidr, c_macaddr macaddr, c_macaddr8 macaddr8,
    c_bit bit(4), c_varbit varbit(8), c_money money,
    c_point point, c_box box, c_circle circle, c_polygon polygon,
    c_tsvector tsvector, c_pg_lsn pg_lsn,
    c_int_arr integer[], c_text_arr text[], c_int_2d integer[][], c_numeric_arr numeric[],
    c_int4range int4range, c_tstzrange tstzrange, c_int4multirange int4multirange, c_datemultirange datemultirange,
    c_mood mood, c_posint posint, c_pair pair, c_mood_arr mood[],
    "MixedCase" text
);

-- Every replica identity.
CREATE TABLE rid_default (id integer PRIMARY KEY, v text, n integer);
CREATE TABLE rid_full (id integer, v text, n integer);
ALTER TABLE rid_full REPLICA IDENTITY FULL;
CREATE TABLE rid_index (a integer NOT NULL, b integer NOT NULL, v text);
CREATE UNIQUE INDEX rid_index_ab ON rid_index (a, b);
ALTER TABLE rid_index REPLICA IDENTITY USING INDEX rid_index_ab;
CREATE TABLE rid_nothing (v text, n integer);
ALTER TABLE rid_nothing REPLICA IDENTITY NOTHING;

-- A dropped column is neither sent by pgoutput nor printed by test_decoding.
CREATE TABLE dropped_col (id integer PRIMARY KEY, gone text, v text);
ALTER TABLE dropped_col DROP COLUMN gone;

-- Out-of-line values: EXTERNAL storage keeps them uncompressed.
CREATE TABLE toasted (id integer PRIMARY KEY, big text, n integer);
ALTER TABLE toasted ALTER COLUMN big SET STORAGE EXTERNAL;
CREATE TABLE toasted_full (id integer, big text, n integer);
ALTER TABLE toasted_full ALTER COLUMN big SET STORAGE EXTERNAL;
ALTER TABLE toasted_full REPLICA IDENTITY FULL;

CREATE TABLE trunc_parent (id serial PRIMARY KEY, v text);
CREATE TABLE trunc_child (id serial PRIMARY KEY, parent_id integer REFERENCES trunc_parent (id));
CREATE TABLE trunc_plain (id integer PRIMARY KEY);

-- Large transactions, streamed with logical_decoding_work_mem = 64kB.
CREATE TABLE big (id integer PRIMARY KEY, v text);

-- The last transaction of the workload.
CREATE TABLE done (id integer PRIMARY KEY);

CREATE PUBLICATION pub FOR ALL TABLES;

-- Block until some walsender has decoded the WAL up to target. An in-progress
-- transaction is streamed only if the walsender decodes its changes before
-- the abort record exists (17+ skip transactions already known to have
-- aborted); only WAL on completed pages is flushed before the abort, hence
-- the caller's target a page or two short of the insert position.
CREATE FUNCTION wait_decoded(target pg_lsn) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..1200 LOOP
        IF (SELECT max(sent_lsn) FROM pg_stat_replication) >= target THEN
            RETURN;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RAISE EXCEPTION 'no walsender decoded up to % within 60 s', target;
END
$$;
