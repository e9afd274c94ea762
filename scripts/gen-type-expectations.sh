#!/bin/sh
# gen-type-expectations.sh - print the expectation tables of
# tests/unit/test_types.c, captured from a running PostgreSQL 15 or later.
#
# Usage: scripts/gen-type-expectations.sh [psql connection options]
#   e.g. scripts/gen-type-expectations.sh -h /tmp/pgsock -p 5432 -U postgres
#
# Prints three C initializer lists (names, columns, typmods) on stdout; paste
# each over the table of the same name in test_types.c. Nothing is written to
# the database: the column shapes live in a temporary table inside a
# transaction that is rolled back. The test holds the output of PostgreSQL 18.
# Differences seen on other servers: 17 prints the same; 15 and 16 print
# json(5) and json(5)[] for the two json rows of "typmods" (17 made json
# ignore typmods like integer); 14 also lacks the three negative-scale and
# scale > precision numeric columns it cannot create, and reads numeric
# typmods 0-3 and 2147483647 the old way (no column can have them).
set -eu

run() {
    psql -X -q -At -v ON_ERROR_STOP=1 "$@"
}

# One C string literal per value.
cstr="create function pg_temp.cstr(s text) returns text language sql immutable
      as \$\$ select '\"' || replace(replace(s, '\\', '\\\\'), '\"', '\\\"') || '\"' \$\$;"

run "$@" <<SQL
begin;
$cstr

\echo /* names: format_type(oid, NULL), format_type(oid, -1) */
select format('    {%s, %s, %s},', oid, pg_temp.cstr(format_type(oid, NULL)),
              pg_temp.cstr(format_type(oid, -1)))
  from pg_type where oid < 10000 order by oid;

create temp table shapes (
    c_char character, c_char10 character(10), c_bpchar bpchar, c_char10_arr character(10)[],
    c_varchar character varying, c_varchar20 varchar(20), c_varchar20_arr varchar(20)[],
    c_varchar_max varchar(10485760),
    c_numeric numeric, c_numeric12_4 numeric(12,4), c_numeric10 numeric(10), c_numeric12_4_arr numeric(12,4)[],
    c_numeric1000 numeric(1000,1000),
    c_time time, c_time0 time(0), c_time6 time(6), c_time3_arr time(3)[],
    c_timetz timetz, c_timetz3 time(3) with time zone,
    c_ts timestamp, c_ts0 timestamp(0), c_ts3 timestamp(3) without time zone,
    c_tstz timestamptz, c_tstz3 timestamp(3) with time zone, c_tstz6_arr timestamptz(6)[],
    c_iv interval, c_iv0 interval(0), c_iv2 interval(2), c_iv_y interval year, c_iv_mo interval month,
    c_iv_d interval day, c_iv_h interval hour, c_iv_mi interval minute, c_iv_s interval second,
    c_iv_s3 interval second(3), c_iv_ytomo interval year to month, c_iv_dtoh interval day to hour,
    c_iv_dtomi interval day to minute, c_iv_dtos interval day to second, c_iv_dtos3 interval day to second(3),
    c_iv_htomi interval hour to minute, c_iv_htos interval hour to second, c_iv_htos0 interval hour to second(0),
    c_iv_mitos interval minute to second, c_iv_mitos6 interval minute to second(6),
    c_iv_arr interval[], c_iv_dtos3_arr interval day to second(3)[],
    c_bit bit, c_bit8 bit(8), c_bit_nomod "bit", c_bit8_arr bit(8)[],
    c_varbit bit varying, c_varbit8 bit varying(8), c_varbit8_arr varbit(8)[],
    c_int integer, c_int_arr int4[], c_int_arr2 int4[][], c_smallint smallint, c_bigint bigint,
    c_real float(24), c_double float(53), c_bool boolean, c_qchar "char", c_qchar_arr "char"[],
    c_text text, c_text_arr text[], c_bytea bytea, c_json json, c_jsonb jsonb, c_uuid uuid,
    c_inet inet, c_cidr cidr, c_macaddr macaddr, c_money money, c_date date, c_xml xml,
    c_int4range int4range, c_int4multirange int4multirange, c_tstzrange_arr tstzrange[],
    c_pg_lsn pg_lsn, c_tsvector tsvector, c_oid oid, c_name name, c_point point, c_xid8 xid8,
    c_oidvector oidvector, c_int2vector int2vector
);

-- Negative scale and scale > precision are new in PostgreSQL 15.
select current_setting('server_version_num')::int >= 150000 as pg15 \gset
\if :pg15
alter table shapes add column c_numeric5_neg2 numeric(5,-2), add column c_numeric3_5 numeric(3,5),
                   add column c_numeric1_neg1000 numeric(1,-1000);
\endif

\echo /* columns: atttypid, atttypmod, format_type(atttypid, atttypmod) */
select format('    {%s, %s, %s},', atttypid, atttypmod, pg_temp.cstr(format_type(atttypid, atttypmod)))
  from pg_attribute where attrelid = 'shapes'::regclass and attnum > 0 order by attnum;

\echo /* typmods no column has: format_type(oid, typmod) */
select format('    {%s, %s, %s},', o, m, pg_temp.cstr(format_type(o, m)))
  from (values
    (1042, 4), (1042, 5), (1042, 0), (1043, 4), (1043, 2), (1014, -1), (1015, 4),
    (1700, 0), (1700, 3), (1700, 4), (1700, 2147483647), (1700, -2),
    (1083, 7), (1266, 2147483647), (1114, -100), (1115, 12),
    (1186, 2147483647), (1186, 262144), (1186, 262151), (1187, 2147418112),
    (1560, -1), (1560, 0), (1561, -1), (1561, 3), (1562, -1), (1562, 0), (1563, 100),
    (23, 5), (1007, 5), (114, 5), (199, 5), (16, 0), (21, 1), (20, 2), (700, 3), (701, 4),
    (25, 5), (1009, 5), (18, 5), (1002, 0), (19, 64), (22, 2), (2276, 1), (2287, 3),
    (3802, 2147483647), (83, 1), (4451, 9)
  ) as v(o, m)
 order by o, m;
rollback;
SQL
