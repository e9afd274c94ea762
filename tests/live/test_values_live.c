/*
 * Binary values against a real server of the major given as argv[1].
 *
 * Tables with one column each, of every built-in type family (and arrays,
 * ranges, multiranges, domains, enums, composites), are filled with edge
 * cases. The same inserts are read twice from one pgoutput slot with the SQL
 * function pg_logical_slot_peek_binary_changes: with binary 'true' and
 * without. pgoutput's text mode prints each value with the type's output
 * function in that very backend, under the session settings the library's
 * text is pinned to (DateStyle ISO, TimeZone UTC, IntervalStyle postgres,
 * extra_float_digits 3, bytea_output hex, lc_monetary C). Every binary value,
 * rendered by pgrepl_value_to_text, must equal the text-mode value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "pgrepl/pgrepl.h"
#include "testutil.h"

/* Column name for types the library cannot render without the catalog: PGREPL_ENOTFOUND expected. */
#define NOT_RENDERED "nr"
#define MAX_SHOWN 20

static int major;
static pgt_server srv;

/* One table: a column of type, filled with the rows of values (an SQL VALUES list). */
static const struct family {
    int min_major;
    const char *column; /* "v", or NOT_RENDERED */
    const char *type;
    const char *values;
} families[] = {
    {14, "v", "smallint", "(0),(-32768),(32767),(NULL)"},
    {14, "v", "integer", "(0),(-2147483648),(2147483647)"},
    {14, "v", "bigint", "(0),(-9223372036854775808),(9223372036854775807)"},
    {14, "v", "oid", "(0),(4294967295)"},
    {14, "v", "xid", "('0'),('4294967295')"},
    {14, "v", "cid", "('7')"},
    {14, "v", "xid8", "('0'),('18446744073709551615')"},
    {14, "v", "tid", "('(0,1)'),('(4294967295,65535)')"},
    {14, "v", "real",
     "('NaN'),('Infinity'),('-Infinity'),('-0'),('0'),('1e-45'),('3.4028235e38'),('0.1'),('1e6'),('123456'),"
     "('1e-5'),('16777217'),('111586816'),(1/3.0),('-3.14159'),('1.17549435e-38')"},
    {14, "v", "double precision",
     "('NaN'),('Infinity'),('-Infinity'),('-0'),('1e-320'),('1e+308'),('0.1'),(1/3.0),('123456789012345678'),"
     "('1e15'),('1e14'),('5e-324'),('1.7976931348623157e308'),('52990648348713776'),('1.5e-7'),('1e40'),"
     "('0.0001'),('-12.5'),('9007199254740993'),('2.2250738585072014e-308')"},
    {14, "v", "numeric",
     "('NaN'),('Infinity'),('-Infinity'),('0'),('0.000'),('-1.50'),('1e-1000'),('1e1000'),('10000'),"
     "('123456789012345678901234567890.123456789'),('-0.00012000'),('9999.9999'),(trunc(1/3.0, 200))"},
    {14, "v", "numeric(12,4)", "(12.5),(-0.0001)"},
    {14, "v", "boolean", "(true),(false)"},
    {14, "v", "text",
     "(''),('plain'),('quote''s \"dq\" back\\slash'),(E'tab\\there\\nnewline'),('ünïcödé ✓ 😀'),"
     "(repeat('long ', 20000))"},
    {14, "v", "character varying(10)", "('abc'),('')"},
    {14, "v", "character(5)", "('ab'),('')"},
    {14, "v", "name", "('nm'),('')"},
    {14, "v", "\"char\"", "('a'),(''),('\\')"},
    {15, "v", "\"char\"", "('é')"}, /* 14 prints the raw byte, not valid text in UTF-8 */
    {14, "v", "bytea", "('\\x'),('\\xdeadbeef'),(decode(repeat('ff00', 5000), 'hex'))"},
    {14, "v", "uuid", "('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),('00000000-0000-0000-0000-000000000000')"},
    {14, "v", "date",
     "('infinity'),('-infinity'),('4713-01-01 BC'),('5874897-12-31'),('2000-01-01'),('0044-03-15 BC'),"
     "('1999-12-31'),('0001-01-01')"},
    {14, "v", "time", "('00:00'),('24:00'),('13:56:47.017106'),('12:00:00.5')"},
    {14, "v", "time(2)", "('13:56:47.017106')"},
    {14, "v", "time with time zone",
     "('13:56:47.1+05:30'),('00:00:00-15:59:59'),('23:59:59.999999+14'),('12:00:00+05:30:15'),('12:00-08')"},
    {14, "v", "timestamp",
     "('infinity'),('-infinity'),('4713-01-01 00:00 BC'),('294276-12-31 23:59:59.999999'),"
     "('2026-11-21 13:56:47.017106'),('0044-03-15 12:00 BC'),('1969-07-20 20:17:40'),('2000-01-01'),"
     "('1999-12-31 23:59:59.99')"},
    {14, "v", "timestamp with time zone",
     "('infinity'),('-infinity'),('2026-11-21 13:56:47.017106+05:30'),('0044-03-15 12:00+00 BC'),"
     "('1900-01-01 00:00:00.1+00'),('294276-12-31 23:59:59.999999+00')"},
    {14, "v", "interval",
     "('1 year 2 mons 3 days 04:05:06.5'),('-1 days +02:03:00'),('0'),('-1 year -2 mons'),('1 day -1 second'),"
     "('-00:00:01.5'),('178000000 years'),('2 days 100:00:00'),('-2147483648 days'),"
     "('1 mon -1 day +1 microsecond'),('1 mon'),('-1 day'),('1 year')"},
    {17, "v", "interval", "('infinity'),('-infinity')"},
    {14, "v", "json", "('{\"a\": [1, 2]}'),('\"x\"'),('null'),('  [1,2]  ')"},
    {14, "v", "jsonb", "('{\"b\": [1, 2.50], \"a\": \"x\\u00e9\"}'),('[]'),('\"s\"'),('{}')"},
    {14, "v", "jsonpath", "('$.a[*] ? (@ > 1)'),('strict $')"},
    {14, "v", "xml", "('<a>x &amp; y</a>'),('text')"},
    {14, "v", "inet",
     "('192.168.1.1'),('10.0.0.0/8'),('::1'),('::'),('2001:db8::1/64'),('::ffff:1.2.3.4'),('::1.2.3.4'),"
     "('1:0:0:2:0:0:0:3'),('1:0:0:2:0:0:3:4'),('fe80::1:0:0:0'),('0.0.0.0/0')"},
    {14, "v", "cidr", "('10.0.0.0/8'),('192.168.1.1'),('2001:db8::/32'),('::/0')"},
    {14, "v", "macaddr", "('08:00:2b:01:02:03')"},
    {14, "v", "macaddr8", "('08:00:2b:01:02:03:04:05')"},
    {14, "v", "bit(5)", "(B'10101')"},
    {14, "v", "bit varying", "(B''),(B'1111111100'),(B'1')"},
    {14, "v", "money", "('1234.56'),('-1'),('0'),('-92233720368547758.08'),('92233720368547758.07'),('0.07')"},
    {14, "v", "point", "('(1.5,-0)'),('(NaN,Infinity)'),('(1e300,-1e-300)')"},
    {14, "v", "lseg", "('[(0,0),(1,1e300)]')"},
    {14, "v", "box", "('(1,1),(0,0)')"},
    {14, "v", "path", "('[(0,0),(1,1),(2,0)]'),('((0,0),(1,1),(2,0))')"},
    {14, "v", "polygon", "('((0,0),(1,1),(2,0))')"},
    {14, "v", "line", "('{1,-1,0.1}')"},
    {14, "v", "circle", "('<(0,0),2.5>')"},
    {14, "v", "pg_lsn", "('16/B374D848'),('0/0'),('FFFFFFFF/FFFFFFFF')"},
    {14, "v", "pg_snapshot", "('10:20:10,14,15'),('10:10:')"},
    {14, "v", "txid_snapshot", "('10:20:10,14,15')"},
    {14, "v", "int2vector", "('1 2 3'),('')"},
    {14, "v", "oidvector", "('1 4294967295'),('')"},
    {14, "v", "tsvector", "('a fat cat:1A,2 sat''s:3B on\\a:4C mat'),('')"},
    {14, "v", "tsquery",
     "('fat & (rat | cat)'),('!a & !(b | c)'),('a <-> b <2> c'),('a <-> (b <-> c)'),('sup:*AB & ''x''''y'''),"
     "('!(a <-> b)'),('(a | b) <-> c'),('')"},
    {14, "v", "integer[]", "('{1,2,NULL,4}'),('{}'),('[0:2]={1,2,3}'),('{{1,2},{3,4}}'),('[-1:0][2:3]={{1,2},{3,4}}')"},
    {14, "v", "text[]",
     "('{\"\",\"NULL\",\"null\",\"a b\",\"x\\\"y\",\"back\\\\slash\",\"{}\",plain,NULL,\"a,b\"}'),"
     "('{{a,b},{c,d}}'),(ARRAY[E'tab\\t', 'ünï', 'semi;colon'])"},
    {14, "v", "box[]", "('{(1,1),(0,0);(3,3),(2,2)}')"},
    {14, "v", "double precision[]", "('{NaN,-0,1e300,Infinity}')"},
    {14, "v", "numeric[]", "('{1.50,NaN,-0.001}')"},
    {14, "v", "timestamp with time zone[]", "('{\"2020-01-01 00:00:00+00\",infinity}')"},
    {14, "v", "bytea[]", "(ARRAY['\\x00'::bytea, NULL])"},
    {14, "v", "\"char\"[]", "(ARRAY['a'::\"char\", '\"'::\"char\"])"},
    {14, "v", "interval[]", "('{\"1 day\",\"-00:00:01\"}')"},
    {14, "v", "int4range", "('[1,5)'),('empty'),('(,5]'),('[3,)'),('(,)')"},
    {14, "v", "numrange", "('[1.5,2.50]'),('(,0)')"},
    {14, "v", "tsrange", "('[2020-01-01,2020-01-02)'),('[-infinity,infinity]')"},
    {14, "v", "tstzrange", "('(,infinity)'),('[2020-01-01 00:00+00,2020-01-01 12:00+00)')"},
    {14, "v", "daterange", "('[2020-01-01,2020-02-01)')"},
    {14, "v", "int8range", "('[-9223372036854775808,0)')"},
    {14, "v", "int4multirange", "('{[1,3),[5,7)}'),('{}')"},
    {14, "v", "tstzmultirange", "('{[2020-01-01 00:00+00,2020-01-02 00:00+00)}')"},
    {14, "v", "nummultirange", "('{(,1.5],[3,)}')"},
    {14, "v", "int4range[]", "('{\"[1,2)\",empty}')"},
    {14, "v", "vcomp",
     "(ROW(1, 'a b', -0, '{1,2}')),(ROW(NULL, '', NULL, NULL)),(ROW(2, 'x\"y\\z', 1e300, '{}')),(NULL)"},
    {14, "v", "vouter", "(ROW(ROW(1, 'x', 1, NULL), 'q(r)'))"},
    {14, "v", "vcomp[]", "(ARRAY[ROW(1, 'a', 2, '{3}')::vcomp, NULL])"},
    {14, "v", "vposint", "(1),(2147483647)"},
    {14, "v", "vtext", "('dom'),('')"},
    {14, "v", "vints", "('{1,2}')"},
    {14, "v", "vmood", "('sad'),('very happy')"},
    {14, NOT_RENDERED, "vmood[]", "('{sad,ok}')"},
    {14, NOT_RENDERED, "vmoodrow", "(ROW('ok'))"},
    {14, NOT_RENDERED, "regclass", "('pg_class')"},
};

#define NFAMILIES (sizeof families / sizeof families[0])

static const char session_settings[] =
    "SET DateStyle = ISO; SET TimeZone = 'UTC'; SET IntervalStyle = postgres; SET extra_float_digits = 3;\n"
    "SET bytea_output = hex; SET lc_monetary = 'C';\n";

static char *query(const char *sql)
{
    char *out = NULL;
    int rc = pgt_psql(&srv, NULL, sql, &out);
    ck_assert_msg(rc == 0, "psql exited %d for: %.300s", rc, sql);
    ck_assert_ptr_nonnull(out);
    return out;
}

static void run(const char *sql)
{
    free(query(sql));
}

/* Types, one table per family, a publication and a slot; then the rows. */
static void setup(void)
{
    ck_assert_msg(pgt_server_start(&srv, major, NULL) == 0, "PostgreSQL %d did not start: %s", major, srv.errmsg);
    run("SELECT 1 FROM pg_create_logical_replication_slot('vslot', 'pgoutput');\n"
        "CREATE TYPE vcomp AS (a int, b text, c float8, d int4[]);\n"
        "CREATE TYPE vouter AS (c vcomp, t text);\n"
        "CREATE TYPE vmood AS ENUM ('sad', 'ok', 'very happy');\n"
        "CREATE TYPE vmoodrow AS (m vmood);\n"
        "CREATE DOMAIN vposint AS int4 CHECK (VALUE > 0);\n"
        "CREATE DOMAIN vtext AS text;\n"
        "CREATE DOMAIN vints AS int4[];\n"
        "CREATE PUBLICATION vpub FOR ALL TABLES;");
    /* All tables in one psql run: one server round of process start-up instead of one per table. */
    size_t cap = 1 << 16, len = 0;
    char *sql = malloc(cap);
    ck_assert_ptr_nonnull(sql);
    for (size_t i = 0; i < NFAMILIES; i++) {
        if (families[i].min_major > major)
            continue;
        size_t need = 200 + strlen(families[i].type) + strlen(families[i].values);
        if (len + need > cap) {
            cap = 2 * (len + need);
            sql = realloc(sql, cap);
            ck_assert_ptr_nonnull(sql);
        }
        len += (size_t)snprintf(sql + len, cap - len,
                                "CREATE TABLE vt%03zu (id int GENERATED ALWAYS AS IDENTITY, %s %s);\n"
                                "INSERT INTO vt%03zu (%s) VALUES %s;\n",
                                i, families[i].column, families[i].type, i, families[i].column, families[i].values);
    }
    run(sql);
    free(sql);
}

static void teardown(void)
{
    pgt_server_stop(&srv);
}

/* ---- the two streams ------------------------------------------------------- */

/* One value of one inserted row, as text (or the rendering error). */
struct cell {
    char *table;
    char *column;
    char *type;
    char kind;
    int rc;
    char *text;
    size_t len;
};

struct stream {
    struct cell *cells;
    size_t n, cap;
    pgrepl_buf buf;
};

static char *dup_str(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    ck_assert_ptr_nonnull(d);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static int on_insert(void *ud, const pgrepl_msg_change *m)
{
    struct stream *st = ud;
    for (int j = 0; j < m->new_tuple->ncolumns; j++) {
        const pgrepl_column *col = &m->rel->columns[j];
        const pgrepl_value *v = &m->new_tuple->values[j];
        if (strcmp(col->name, "id") == 0)
            continue;
        if (st->n == st->cap) {
            st->cap = st->cap ? 2 * st->cap : 256;
            st->cells = realloc(st->cells, st->cap * sizeof *st->cells);
            ck_assert_ptr_nonnull(st->cells);
        }
        struct cell *c = &st->cells[st->n++];
        memset(c, 0, sizeof *c);
        c->table = dup_str(m->rel->name, strlen(m->rel->name));
        c->column = dup_str(col->name, strlen(col->name));
        char type[128];
        if (pgrepl_format_type(type, sizeof type, col->type_oid, col->typmod) < 0)
            snprintf(type, sizeof type, "%s", col->type_name ? col->type_name : "?");
        c->type = dup_str(type, strlen(type));
        c->kind = v->kind;
        if (v->kind == PGREPL_VALUE_NULL)
            continue;
        st->buf.len = 0;
        c->rc = pgrepl_value_to_text(&st->buf, col, v);
        if (c->rc == 0)
            c->text = dup_str(st->buf.data ? st->buf.data : "", st->buf.len);
        else
            c->text = dup_str(pgrepl_render_errmsg(), strlen(pgrepl_render_errmsg()));
        c->len = c->rc == 0 ? st->buf.len : strlen(c->text);
    }
    return 0;
}

static int hexval(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Peek the slot (binary or text) and decode every message into st. */
static void read_stream(struct stream *st, bool binary)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "%sSELECT encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('vslot', NULL, NULL,\n"
             "  'proto_version', '1', 'publication_names', 'vpub', 'binary', '%s');",
             session_settings, binary ? "true" : "false");
    char *out = query(sql);
    pgrepl_decoder_callbacks cbs = {.on_insert = on_insert};
    pgrepl_decoder *dec = pgrepl_decoder_new(&cbs, sizeof cbs, st);
    ck_assert_ptr_nonnull(dec);
    size_t messages = 0;
    for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        size_t hl = strlen(line);
        uint8_t *msg = malloc(hl / 2 + 1);
        ck_assert_ptr_nonnull(msg);
        for (size_t i = 0; i < hl / 2; i++)
            msg[i] = (uint8_t)(hexval(line[2 * i]) << 4 | hexval(line[2 * i + 1]));
        int rc = pgrepl_decoder_feed(dec, NULL, msg, hl / 2);
        ck_assert_msg(rc == 0, "feed: %s", pgrepl_decoder_errmsg(dec));
        free(msg);
        messages++;
    }
    ck_assert_uint_gt(messages, 0);
    pgrepl_decoder_free(dec);
    free(out);
}

static void free_stream(struct stream *st)
{
    for (size_t i = 0; i < st->n; i++) {
        free(st->cells[i].table);
        free(st->cells[i].column);
        free(st->cells[i].type);
        free(st->cells[i].text);
    }
    free(st->cells);
    pgrepl_buf_free(&st->buf);
}

static void show(const char *what, const struct cell *c)
{
    fprintf(stderr, "    %s: %.*s%s\n", what, (int)(c->len > 400 ? 400 : c->len), c->text ? c->text : "NULL",
            c->len > 400 ? "..." : "");
}

/* Compare the cells; print the mismatches (type and both spellings) and count them. */
static size_t compare(const struct stream *bin, const struct stream *txt, size_t *rendered)
{
    size_t bad = 0;
    *rendered = 0;
    for (size_t i = 0; i < bin->n; i++) {
        const struct cell *b = &bin->cells[i], *t = &txt->cells[i];
        bool expect_nr = strcmp(b->column, NOT_RENDERED) == 0;
        bool ok;
        if (b->kind == PGREPL_VALUE_NULL || t->kind == PGREPL_VALUE_NULL)
            ok = b->kind == t->kind;
        else if (expect_nr)
            ok = b->kind == PGREPL_VALUE_BINARY && b->rc == PGREPL_ENOTFOUND;
        else
            ok = b->kind == PGREPL_VALUE_BINARY && b->rc == 0 && b->len == t->len &&
                 memcmp(b->text, t->text, b->len) == 0;
        if (ok && b->kind == PGREPL_VALUE_BINARY && !expect_nr)
            (*rendered)++;
        if (ok)
            continue;
        if (bad++ < MAX_SHOWN) {
            fprintf(stderr, "pg%d %s (%s), value %zu: kind %c, rc %s\n", major, b->table, b->type, i, b->kind,
                    pgrepl_err_name(b->rc));
            show("server", t);
            show("pgrepl", b);
        }
    }
    return bad;
}

START_TEST(binary_renders_as_text)
{
    struct stream bin = {0}, txt = {0};
    read_stream(&bin, true);
    read_stream(&txt, false);
    ck_assert_uint_eq(bin.n, txt.n);
    size_t expected = 0;
    for (size_t i = 0; i < NFAMILIES; i++)
        expected += families[i].min_major <= major;
    ck_assert_uint_gt(bin.n, expected);
    size_t rendered;
    size_t bad = compare(&bin, &txt, &rendered);
    fprintf(stderr, "pg%d: %zu values, %zu rendered from binary and equal to text, %zu mismatches\n", major, bin.n,
            rendered, bad);
    ck_assert_msg(bad == 0, "%zu of %zu values differ (first ones above)", bad, bin.n);
    ck_assert_uint_gt(rendered, 200);
    free_stream(&bin);
    free_stream(&txt);
}
END_TEST

static Suite *values_suite(void)
{
    static char name[32];
    snprintf(name, sizeof name, "values-pg%d", major);
    Suite *s = suite_create(name);
    TCase *tc = tcase_create("server");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, binary_renders_as_text);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    major = pgt_major_from_args(argc, argv);
    return pgrepl_test_run_suite(values_suite());
}
