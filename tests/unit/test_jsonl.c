/*
 * The JSON line writer of pgrepl-stream (examples/jsonl.c): string escaping
 * against a byte-by-byte reference, number syntax, exact lines for every
 * action, and every captured fixture stream (tests/fixtures) rendered line by
 * line, each line parsed by a strict JSON parser and checked against the
 * decoded message it came from.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../examples/jsonl.h"
#include "minijson.h"
#include "testutil.h"

#define CAPTURE_MAGIC "PGRCAP01"
#define FFFD "\xEF\xBF\xBD"

/* ---- escaping ----------------------------------------------------------- */

static char *escaped(const char *s, size_t n)
{
    char *out = malloc(6 * n + 3);
    ck_assert_ptr_nonnull(out);
    size_t len = jl_escape(out, (const uint8_t *)s, n);
    out[len] = '\0';
    return out;
}

static void check_escape(const char *in, size_t n, const char *want)
{
    char *got = escaped(in, n);
    ck_assert_msg(strcmp(got, want) == 0, "escape of %zu bytes gave %s, want %s", n, got, want);
    free(got);
}

#define ESC(in, want) check_escape((in), sizeof(in) - 1, (want))

START_TEST(escape_ascii)
{
    ESC("", "\"\"");
    ESC("plain text /slash", "\"plain text /slash\"");
    ESC("\"", "\"\\\"\"");
    ESC("\\", "\"\\\\\"");
    ESC("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
    ESC("\x01\x1f\x7f", "\"\\u0001\\u001f\x7f\"");
    ESC("a\0b", "\"a\\u0000b\"");
}
END_TEST

START_TEST(escape_valid_utf8)
{
    ESC("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
    ESC("\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xF4\x8F\xBF\xBF",
        "\"\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xF4\x8F\xBF\xBF\"");
}
END_TEST

/* One U+FFFD per maximal invalid subsequence (Unicode's recommended practice). */
START_TEST(escape_invalid_utf8)
{
    ESC("\x80", "\"" FFFD "\"");
    ESC("a\xFF" "b", "\"a" FFFD "b\"");
    ESC("\xC0\x80", "\"" FFFD FFFD "\"");            /* overlong: C0 never starts a sequence */
    ESC("\xE0\x80\x80", "\"" FFFD FFFD FFFD "\"");   /* overlong three-byte form */
    ESC("\xED\xA0\x80", "\"" FFFD FFFD FFFD "\"");   /* a surrogate */
    ESC("\xF4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\""); /* above U+10FFFF */
    ESC("\xF5\x80", "\"" FFFD FFFD "\"");
    ESC("\xE2\x82", "\"" FFFD "\"");                 /* truncated at the end: one subpart */
    ESC("\xE2\x82" "A", "\"" FFFD "A\"");
    ESC("\xF0\x9F\x98", "\"" FFFD "\"");
    ESC("\xF0\x9F\x98\xF0\x9F\x98\x80", "\"" FFFD "\xF0\x9F\x98\x80\"");
}
END_TEST

/* A plain, slow reference: the same rules, one byte at a time. */
static size_t ref_utf8(const unsigned char *s, size_t n, bool *valid)
{
    unsigned char c = s[0];
    size_t need = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (need == 0) {
        *valid = false;
        return 1;
    }
    size_t i = 1;
    for (; i < need && i < n; i++) {
        unsigned char lo = 0x80, hi = 0xBF;
        if (i == 1 && c == 0xE0)
            lo = 0xA0;
        if (i == 1 && c == 0xED)
            hi = 0x9F;
        if (i == 1 && c == 0xF0)
            lo = 0x90;
        if (i == 1 && c == 0xF4)
            hi = 0x8F;
        if (s[i] < lo || s[i] > hi)
            break;
    }
    *valid = i == need;
    return i;
}

static size_t ref_escape(char *out, const unsigned char *s, size_t n)
{
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\t' ? "\\t"
                        : c == '\r' ? "\\r" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
        if (esc != NULL) {
            memcpy(out + o, esc, 2);
            o += 2;
            i++;
        } else if (c < 0x20) {
            o += (size_t)sprintf(out + o, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            out[o++] = (char)c;
            i++;
        } else {
            bool valid;
            size_t k = ref_utf8(s + i, n - i, &valid);
            memcpy(out + o, valid ? (const char *)s + i : FFFD, valid ? k : 3);
            o += valid ? k : 3;
            i += k;
        }
    }
    out[o++] = '"';
    return o;
}

/* Random mixes of ASCII, specials, valid and broken UTF-8, up to 64 kB. */
START_TEST(escape_matches_reference)
{
    static const char *const pieces[] = {"a", "xyz ", "\"", "\\", "\n", "\x01", "\x7f", "\xC3\xA9", "\xE2\x82\xAC",
                                         "\xF0\x9F\x98\x80", "\x80", "\xC0", "\xE2\x82", "\xED\xA0\x80", "\xF4\x90",
                                         "\xFF", ""};
    unsigned seed = 12345;
    for (int round = 0; round < 300; round++) {
        size_t target = round < 200 ? (size_t)round : 65536;
        char *in = malloc(target + 8);
        size_t n = 0;
        while (n < target) {
            seed = seed * 1103515245 + 12345;
            const char *p = pieces[(seed >> 16) % (sizeof pieces / sizeof pieces[0])];
            size_t k = strlen(p);
            if (p[0] == '\0')
                k = 1; /* a NUL byte */
            memcpy(in + n, p, k);
            n += k;
        }
        char *got = malloc(6 * n + 3), *want = malloc(6 * n + 3);
        size_t glen = jl_escape(got, (const uint8_t *)in, n);
        size_t wlen = ref_escape(want, (const unsigned char *)in, n);
        ck_assert_uint_eq(glen, wlen);
        ck_assert_msg(memcmp(got, want, glen) == 0, "round %d differs", round);
        char err[256];
        mj_value *v = mj_parse(got, glen, err, sizeof err);
        ck_assert_msg(v != NULL, "round %d: not valid JSON: %s", round, err);
        mj_free(v);
        free(in);
        free(got);
        free(want);
    }
}
END_TEST

/* Every byte value at every place of a plain run: the word-at-a-time scan must stop where the reference escapes. */
START_TEST(escape_every_byte_in_plain_runs)
{
    char in[40], got[6 * sizeof in + 3], want[6 * sizeof in + 3];
    for (int c = 0; c < 256; c++) {
        for (size_t at = 0; at < 24; at++) {
            for (size_t len = at + 1; len <= sizeof in; len += 7) {
                memset(in, 'q', sizeof in);
                in[at] = (char)c;
                size_t glen = jl_escape(got, (const uint8_t *)in, len);
                size_t wlen = ref_escape(want, (const unsigned char *)in, len);
                ck_assert_msg(glen == wlen && memcmp(got, want, glen) == 0, "byte 0x%02x at %zu of %zu", c, at, len);
            }
        }
    }
}
END_TEST

START_TEST(numbers)
{
    static const char *const good[] = {"0", "-0", "7", "1.50", "1e+40", "1E-5", "-123.456e7", "1e-45",
                                       "123456789012345678901234567890.123456789"};
    static const char *const bad[] = {"", "-", "01", "-01", "1.", ".5", "+1", "NaN", "Infinity", "-Infinity",
                                      "1e", "1e+", "0x1", " 1", "1 ", "1,5", "--1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(jl_is_json_number((const uint8_t *)good[i], strlen(good[i])), "%s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!jl_is_json_number((const uint8_t *)bad[i], strlen(bad[i])), "%s", bad[i]);
}
END_TEST

START_TEST(lsn_format)
{
    char buf[18];
    ck_assert_uint_eq(jl_format_lsn(buf, 0), 3);
    ck_assert_str_eq(buf, "0/0");
    jl_format_lsn(buf, UINT64_C(0x16B374D848));
    ck_assert_str_eq(buf, "16/B374D848");
    jl_format_lsn(buf, UINT64_MAX);
    ck_assert_str_eq(buf, "FFFFFFFF/FFFFFFFF");
    jl_format_lsn(buf, UINT64_C(0x10000000A));
    ck_assert_str_eq(buf, "1/A");
}
END_TEST

/* ---- exact lines ------------------------------------------------------------ */

#define TS 1234567 /* 2000-01-01T00:00:01.234567Z */
#define TS_TEXT "\"2000-01-01T00:00:01.234567Z\""

static const pgrepl_column t_columns[] = {
    {"id", PGREPL_INT4OID, -1, PGREPL_COLUMN_KEY, NULL, NULL},
    {"name", PGREPL_VARCHAROID, 24, 0, NULL, NULL},
    {"price", PGREPL_NUMERICOID, (12 << 16 | 4) + 4, 0, NULL, NULL},
    {"ok", PGREPL_BOOLOID, -1, 0, NULL, NULL},
    {"data", PGREPL_BYTEAOID, -1, 0, NULL, NULL},
    {"doc", PGREPL_JSONBOID, -1, 0, NULL, NULL},
    {"mood", 16390, -1, 0, "public", "mood"},
    {"other", 16391, -1, 0, "app", "thing"},
    {"f", PGREPL_FLOAT8OID, -1, 0, NULL, NULL},
    {"q", PGREPL_CHAROID, -1, 0, NULL, NULL},
};
static const pgrepl_relation t_rel = {16385, "public", "t", 'd', 10, t_columns, 0};

#define T_COLUMNS                                                                                                \
    "[{\"name\":\"id\",\"type\":\"integer\",\"value\":1},"                                                       \
    "{\"name\":\"name\",\"type\":\"character varying(20)\",\"value\":\"widget \\\"x\\\"\\n\"},"                 \
    "{\"name\":\"price\",\"type\":\"numeric(12,4)\",\"value\":1.5000},"                                          \
    "{\"name\":\"ok\",\"type\":\"boolean\",\"value\":true},"                                                     \
    "{\"name\":\"data\",\"type\":\"bytea\",\"value\":\"00ff\"},"                                                 \
    "{\"name\":\"doc\",\"type\":\"jsonb\",\"value\":\"{\\\"a\\\": 1}\"},"                                        \
    "{\"name\":\"mood\",\"type\":\"mood\",\"value\":\"happy\"},"                                                 \
    "{\"name\":\"other\",\"type\":\"app.thing\",\"value\":null},"                                                \
    "{\"name\":\"f\",\"type\":\"double precision\",\"value\":\"NaN\"},"                                         \
    "{\"name\":\"q\",\"type\":\"\\\"char\\\"\",\"value\":\"x\"}]"
#define T_PK "\"pk\":[{\"name\":\"id\",\"type\":\"integer\"}]"

#define TXT(s) {PGREPL_VALUE_TEXT, sizeof(s) - 1, (const uint8_t *)(s)}
#define NUL_V {PGREPL_VALUE_NULL, 0, NULL}
#define UNCH {PGREPL_VALUE_UNCHANGED, 0, NULL}

static const pgrepl_value row1[] = {TXT("1"), TXT("widget \"x\"\n"), TXT("1.5000"), TXT("t"), TXT("\\x00ff"),
                                    TXT("{\"a\": 1}"), TXT("happy"), NUL_V, TXT("NaN"), TXT("x")};
static const pgrepl_tuple tuple1 = {10, row1};
/* id changed to 2, name unchanged TOAST, the rest NULL */
static const pgrepl_value row2[] = {TXT("2"), UNCH, NUL_V, TXT("f"), NUL_V, NUL_V, NUL_V, NUL_V, TXT("-0"), NUL_V};
static const pgrepl_tuple tuple2 = {10, row2};
static const pgrepl_value key1[] = {TXT("1"), NUL_V, NUL_V, NUL_V, NUL_V, NUL_V, NUL_V, NUL_V, NUL_V, NUL_V};
static const pgrepl_tuple keytuple1 = {10, key1};

#define ROW2_COLUMNS                                                                                           \
    "[{\"name\":\"id\",\"type\":\"integer\",\"value\":2},"                                                      \
    "{\"name\":\"price\",\"type\":\"numeric(12,4)\",\"value\":null},"                                           \
    "{\"name\":\"ok\",\"type\":\"boolean\",\"value\":false},"                                                   \
    "{\"name\":\"data\",\"type\":\"bytea\",\"value\":null},"                                                    \
    "{\"name\":\"doc\",\"type\":\"jsonb\",\"value\":null},"                                                     \
    "{\"name\":\"mood\",\"type\":\"mood\",\"value\":null},"                                                     \
    "{\"name\":\"other\",\"type\":\"app.thing\",\"value\":null},"                                               \
    "{\"name\":\"f\",\"type\":\"double precision\",\"value\":-0},"                                              \
    "{\"name\":\"q\",\"type\":\"\\\"char\\\"\",\"value\":null}]"

static jl_writer *w;

static void setup_writer(void)
{
    w = jl_new();
    ck_assert_ptr_nonnull(w);
}

static void teardown_writer(void)
{
    jl_free(w);
}

/* The output so far, which must be exactly want; then empty it. */
static void expect(const char *want)
{
    size_t n = jl_len(w);
    ck_assert_msg(n == strlen(want) && memcmp(jl_data(w), want, n) == 0, "got:\n%.*s\nwant:\n%s", (int)n,
                  jl_data(w), want);
    jl_clear(w);
}

static pgrepl_msg_begin begin_750(void)
{
    return (pgrepl_msg_begin){{0x16B3700, 0x16B3700, 0}, 0x16B3800, TS, 750};
}

static pgrepl_msg_commit commit_750(void)
{
    return (pgrepl_msg_commit){{0x16B3800, 0x16B3800, 0}, 0, 0x16B3800, 0x16B3830, TS, 750};
}

static pgrepl_msg_change change(const pgrepl_tuple *new_tuple, char old_kind, const pgrepl_tuple *old_tuple)
{
    return (pgrepl_msg_change){{0x16B3748, 0x16B3748, 0}, 750, false, &t_rel, old_kind, old_tuple, new_tuple};
}

START_TEST(empty_transaction_prints_nothing)
{
    pgrepl_msg_begin b = begin_750();
    pgrepl_msg_commit c = commit_750();
    ck_assert_int_eq(jl_begin(w, &b), 0);
    ck_assert(jl_in_transaction(w));
    ck_assert_int_eq(jl_relation(w, &t_rel), 0);
    ck_assert_int_eq(jl_commit(w, &c), 0);
    ck_assert(!jl_in_transaction(w));
    expect("");
    ck_assert_uint_eq(jl_get_stats(w)->transactions, 0);
}
END_TEST

START_TEST(insert_line)
{
    pgrepl_msg_begin b = begin_750();
    pgrepl_msg_commit c = commit_750();
    pgrepl_msg_change ins = change(&tuple1, 0, NULL);
    ck_assert_int_eq(jl_begin(w, &b), 0);
    ck_assert_int_eq(jl_change(w, 'I', &ins), 0);
    ck_assert_int_eq(jl_commit(w, &c), 0);
    expect("{\"action\":\"B\",\"xid\":750,\"timestamp\":" TS_TEXT ",\"lsn\":\"0/16B3800\"}\n"
           "{\"action\":\"I\",\"xid\":750,\"timestamp\":" TS_TEXT ",\"lsn\":\"0/16B3748\",\"schema\":\"public\","
           "\"table\":\"t\",\"columns\":" T_COLUMNS "," T_PK "}\n"
           "{\"action\":\"C\",\"xid\":750,\"timestamp\":" TS_TEXT ",\"lsn\":\"0/16B3800\",\"nextlsn\":\"0/16B3830\"}\n");
    const jl_stats *st = jl_get_stats(w);
    ck_assert_uint_eq(st->lines, 3);
    ck_assert_uint_eq(st->changes, 1);
    ck_assert_uint_eq(st->transactions, 1);
}
END_TEST

#define PREFIX_I "{\"action\":\"%c\",\"xid\":750,\"timestamp\":" TS_TEXT ",\"lsn\":\"0/16B3748\",\"schema\":\"public\",\"table\":\"t\","

static void expect_change(char action, const char *rest)
{
    char want[4096];
    snprintf(want, sizeof want, PREFIX_I "%s\n", action, rest);
    expect(want);
}

/* Inside transaction 750, its B line already printed. */
static void open_transaction(void)
{
    pgrepl_msg_begin b = begin_750();
    pgrepl_msg_change ins = change(&keytuple1, 0, NULL);
    ck_assert_int_eq(jl_begin(w, &b), 0);
    ck_assert_int_eq(jl_change(w, 'I', &ins), 0);
    jl_clear(w);
}

/* Without an old tuple the identity is the new row's key; 'K' gives the old key, 'O' the whole old row. */
START_TEST(update_identity)
{
    open_transaction();
    pgrepl_msg_change u = change(&tuple1, 0, NULL);
    ck_assert_int_eq(jl_change(w, 'U', &u), 0);
    expect_change('U', "\"columns\":" T_COLUMNS ",\"identity\":[{\"name\":\"id\",\"type\":\"integer\",\"value\":1}],"
                       T_PK "}");
    u = change(&tuple2, 'K', &keytuple1);
    ck_assert_int_eq(jl_change(w, 'U', &u), 0);
    expect_change('U', "\"columns\":" ROW2_COLUMNS ",\"identity\":[{\"name\":\"id\",\"type\":\"integer\",\"value\":1}],"
                       T_PK "}");
    u = change(&tuple2, 'O', &tuple1);
    ck_assert_int_eq(jl_change(w, 'U', &u), 0);
    expect_change('U', "\"columns\":" ROW2_COLUMNS ",\"identity\":" T_COLUMNS "," T_PK "}");
}
END_TEST

START_TEST(delete_line)
{
    open_transaction();
    pgrepl_msg_change d = change(NULL, 'K', &keytuple1);
    ck_assert_int_eq(jl_change(w, 'D', &d), 0);
    expect_change('D', "\"identity\":[{\"name\":\"id\",\"type\":\"integer\",\"value\":1}]," T_PK "}");
    d = change(NULL, 'O', &tuple2);
    ck_assert_int_eq(jl_change(w, 'D', &d), 0);
    expect_change('D', "\"identity\":" ROW2_COLUMNS "," T_PK "}");
}
END_TEST

START_TEST(truncate_lines)
{
    static const pgrepl_column u_columns[] = {{"a b", PGREPL_TEXTOID, -1, 0, NULL, NULL}};
    static const pgrepl_relation u_rel = {16400, "My \"Schema\"", "u", 'n', 1, u_columns, 0};
    const pgrepl_relation *rels[] = {&t_rel, &u_rel};
    pgrepl_msg_begin b = begin_750();
    ck_assert_int_eq(jl_begin(w, &b), 0);
    pgrepl_msg_truncate t = {{0x16B3748, 0x16B3748, 0}, 750, false, PGREPL_TRUNCATE_CASCADE | PGREPL_TRUNCATE_RESTART_IDENTITY,
                         2, rels};
    ck_assert_int_eq(jl_truncate(w, &t), 0);
    expect("{\"action\":\"B\",\"xid\":750,\"timestamp\":" TS_TEXT ",\"lsn\":\"0/16B3800\"}\n"
           "{\"action\":\"T\",\"xid\":750,\"timestamp\":" TS_TEXT ",\"lsn\":\"0/16B3748\",\"schema\":\"public\","
           "\"table\":\"t\",\"cascade\":true,\"restart_identity\":true}\n"
           "{\"action\":\"T\",\"xid\":750,\"timestamp\":" TS_TEXT ",\"lsn\":\"0/16B3748\",\"schema\":\"My \\\"Schema\\\"\","
           "\"table\":\"u\",\"cascade\":true,\"restart_identity\":true}\n");
    t.options = 0;
    t.nrelations = 1;
    ck_assert_int_eq(jl_truncate(w, &t), 0);
    expect("{\"action\":\"T\",\"xid\":750,\"timestamp\":" TS_TEXT ",\"lsn\":\"0/16B3748\",\"schema\":\"public\","
           "\"table\":\"t\",\"cascade\":false,\"restart_identity\":false}\n");
    ck_assert_uint_eq(jl_get_stats(w)->changes, 3);
}
END_TEST

START_TEST(message_lines)
{
    static const uint8_t content[] = "bin\0\xff";
    pgrepl_msg_logical m = {{0x100, 0x100, 0}, 0, false, false, 0x16B3790, "nontx", content, 5};
    ck_assert_int_eq(jl_message(w, &m), 0);
    expect("{\"action\":\"M\",\"xid\":null,\"timestamp\":null,\"lsn\":\"0/16B3790\",\"transactional\":false,"
           "\"prefix\":\"nontx\",\"content\":\"bin\\u0000" FFFD "\"}\n");
    /* a transactional message is content: the B line comes first */
    pgrepl_msg_begin b = begin_750();
    ck_assert_int_eq(jl_begin(w, &b), 0);
    m = (pgrepl_msg_logical){{0x100, 0x100, 0}, 750, false, true, 0x16B37A0, "p\"x", (const uint8_t *)"", 0};
    ck_assert_int_eq(jl_message(w, &m), 0);
    expect("{\"action\":\"B\",\"xid\":750,\"timestamp\":" TS_TEXT ",\"lsn\":\"0/16B3800\"}\n"
           "{\"action\":\"M\",\"xid\":750,\"timestamp\":" TS_TEXT ",\"lsn\":\"0/16B37A0\",\"transactional\":true,"
           "\"prefix\":\"p\\\"x\",\"content\":\"\"}\n");
    ck_assert_uint_eq(jl_get_stats(w)->messages, 2);
}
END_TEST

/* Streamed changes carry their own (sub)transaction xid and no time; no B line. */
START_TEST(stream_lines)
{
    pgrepl_msg_stream_start ss = {{0, 0, 0}, 760, true};
    ck_assert_int_eq(jl_stream_start(w, &ss), 0);
    pgrepl_msg_change ins = change(&tuple1, 0, NULL);
    ins.xid = 761;
    ins.streamed = true;
    ck_assert_int_eq(jl_change(w, 'I', &ins), 0);
    pgrepl_msg_logical m = {{0, 0, 0}, 761, true, true, 0x16B37A0, "s", (const uint8_t *)"c", 1};
    ck_assert_int_eq(jl_message(w, &m), 0);
    pgrepl_msg_stream_stop se = {{0, 0, 0}, 760};
    ck_assert_int_eq(jl_stream_stop(w, &se), 0);
    ss.first_segment = false;
    ck_assert_int_eq(jl_stream_start(w, &ss), 0);
    pgrepl_msg_stream_abort sa = {{0, 0, 0}, 760, 761, false, 0, 0};
    ck_assert_int_eq(jl_stream_abort(w, &sa), 0);
    pgrepl_msg_commit sc = {{0, 0, 0}, 0, 0x16B3900, 0x16B3930, TS, 760};
    ck_assert_int_eq(jl_stream_commit(w, &sc), 0);
    expect("{\"action\":\"S\",\"xid\":760,\"first\":true}\n"
           "{\"action\":\"I\",\"xid\":761,\"timestamp\":null,\"lsn\":\"0/16B3748\",\"schema\":\"public\",\"table\":\"t\","
           "\"columns\":" T_COLUMNS "," T_PK "}\n"
           "{\"action\":\"M\",\"xid\":761,\"timestamp\":null,\"lsn\":\"0/16B37A0\",\"transactional\":true,"
           "\"prefix\":\"s\",\"content\":\"c\"}\n"
           "{\"action\":\"E\"}\n"
           "{\"action\":\"S\",\"xid\":760,\"first\":false}\n"
           "{\"action\":\"A\",\"xid\":760,\"subxid\":761}\n"
           "{\"action\":\"C\",\"xid\":760,\"timestamp\":" TS_TEXT ",\"lsn\":\"0/16B3900\",\"nextlsn\":\"0/16B3930\"}\n");
    ck_assert_uint_eq(jl_get_stats(w)->transactions, 1);
}
END_TEST

START_TEST(two_phase_lines)
{
    pgrepl_msg_prepare bp = {{0, 0, 0}, 0, 0x16B3800, 0x16B3830, TS, 770, "it's \"g\""};
    ck_assert_int_eq(jl_begin_prepare(w, &bp), 0);
    pgrepl_msg_change ins = change(&keytuple1, 0, NULL);
    ins.xid = 770;
    ck_assert_int_eq(jl_change(w, 'I', &ins), 0);
    ck_assert_int_eq(jl_prepare(w, &bp), 0);
    ck_assert(!jl_in_transaction(w));
    pgrepl_msg_commit_prepared cp = {{0, 0, 0}, 0, 0x16B3900, 0x16B3930, TS, 770, "g"};
    ck_assert_int_eq(jl_commit_prepared(w, &cp), 0);
    pgrepl_msg_rollback_prepared rp = {{0, 0, 0}, 0, 0x16B3830, 0x16B3A30, TS, TS, 771, "h"};
    ck_assert_int_eq(jl_rollback_prepared(w, &rp), 0);
    pgrepl_msg_prepare sp = {{0, 0, 0}, 0, 0x16B3B00, 0x16B3B30, TS, 772, "s"};
    ck_assert_int_eq(jl_stream_prepare(w, &sp), 0);
    expect("{\"action\":\"b\",\"xid\":770,\"timestamp\":" TS_TEXT ",\"lsn\":\"0/16B3800\",\"gid\":\"it's \\\"g\\\"\"}\n"
           "{\"action\":\"I\",\"xid\":770,\"timestamp\":" TS_TEXT ",\"lsn\":\"0/16B3748\",\"schema\":\"public\","
           "\"table\":\"t\",\"columns\":[{\"name\":\"id\",\"type\":\"integer\",\"value\":1},"
           "{\"name\":\"name\",\"type\":\"character varying(20)\",\"value\":null},"
           "{\"name\":\"price\",\"type\":\"numeric(12,4)\",\"value\":null},"
           "{\"name\":\"ok\",\"type\":\"boolean\",\"value\":null},{\"name\":\"data\",\"type\":\"bytea\",\"value\":null},"
           "{\"name\":\"doc\",\"type\":\"jsonb\",\"value\":null},{\"name\":\"mood\",\"type\":\"mood\",\"value\":null},"
           "{\"name\":\"other\",\"type\":\"app.thing\",\"value\":null},"
           "{\"name\":\"f\",\"type\":\"double precision\",\"value\":null},"
           "{\"name\":\"q\",\"type\":\"\\\"char\\\"\",\"value\":null}]," T_PK "}\n"
           "{\"action\":\"P\",\"xid\":770,\"timestamp\":" TS_TEXT ",\"lsn\":\"0/16B3800\",\"nextlsn\":\"0/16B3830\","
           "\"gid\":\"it's \\\"g\\\"\"}\n"
           "{\"action\":\"K\",\"xid\":770,\"timestamp\":" TS_TEXT ",\"lsn\":\"0/16B3900\",\"nextlsn\":\"0/16B3930\","
           "\"gid\":\"g\"}\n"
           "{\"action\":\"r\",\"xid\":771,\"timestamp\":" TS_TEXT ",\"nextlsn\":\"0/16B3A30\","
           "\"prepare_nextlsn\":\"0/16B3830\",\"gid\":\"h\"}\n"
           "{\"action\":\"p\",\"xid\":772,\"timestamp\":" TS_TEXT ",\"lsn\":\"0/16B3B00\",\"nextlsn\":\"0/16B3B30\","
           "\"gid\":\"s\"}\n");
}
END_TEST

/* Binary values print exactly as their text form would. */
START_TEST(binary_values)
{
    static const pgrepl_column columns[] = {
        {"i2", PGREPL_INT2OID, -1, PGREPL_COLUMN_KEY, NULL, NULL}, {"i4", PGREPL_INT4OID, -1, 0, NULL, NULL},
        {"i8", PGREPL_INT8OID, -1, 0, NULL, NULL},   {"b", PGREPL_BOOLOID, -1, 0, NULL, NULL},
        {"by", PGREPL_BYTEAOID, -1, 0, NULL, NULL},  {"t", PGREPL_TEXTOID, -1, 0, NULL, NULL},
        {"u", PGREPL_UUIDOID, -1, 0, NULL, NULL},    {"n", PGREPL_NUMERICOID, -1, 0, NULL, NULL},
    };
    static const pgrepl_relation rel = {16500, "s", "bin", 'd', 8, columns, 0};
    static const uint8_t i2[] = {0x80, 0x00}, i4[] = {0xFF, 0xFF, 0xFF, 0xFE},
                         i8[] = {0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, b[] = {1}, by[] = {0x00, 0xAB},
                         u[] = {0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11},
                         /* numeric NaN: ndigits 0, weight 0, sign 0xC000, dscale 0 */
                         n[] = {0, 0, 0, 0, 0xC0, 0, 0, 0};
#define BIN(a) {PGREPL_VALUE_BINARY, sizeof(a), (a)}
    const pgrepl_value values[] = {BIN(i2), BIN(i4), BIN(i8), BIN(b), BIN(by),
                                   {PGREPL_VALUE_BINARY, 3, (const uint8_t *)"a\"b"}, BIN(u), BIN(n)};
    const pgrepl_tuple tuple = {8, values};
    pgrepl_msg_change ins = {{0x10, 0x10, 0}, 9, false, &rel, 0, NULL, &tuple};
    ck_assert_int_eq(jl_change(w, 'I', &ins), 0);
    expect("{\"action\":\"I\",\"xid\":9,\"timestamp\":null,\"lsn\":\"0/10\",\"schema\":\"s\",\"table\":\"bin\","
           "\"columns\":[{\"name\":\"i2\",\"type\":\"smallint\",\"value\":-32768},"
           "{\"name\":\"i4\",\"type\":\"integer\",\"value\":-2},"
           "{\"name\":\"i8\",\"type\":\"bigint\",\"value\":9223372036854775807},"
           "{\"name\":\"b\",\"type\":\"boolean\",\"value\":true},{\"name\":\"by\",\"type\":\"bytea\",\"value\":\"00ab\"},"
           "{\"name\":\"t\",\"type\":\"text\",\"value\":\"a\\\"b\"},"
           "{\"name\":\"u\",\"type\":\"uuid\",\"value\":\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"},"
           "{\"name\":\"n\",\"type\":\"numeric\",\"value\":\"NaN\"}],"
           "\"pk\":[{\"name\":\"i2\",\"type\":\"smallint\"}]}\n");
}
END_TEST

/* Every digit count and its edges, both signs, the extremes, and random values: as printf prints them. */
START_TEST(binary_integers_in_decimal)
{
    static const pgrepl_column columns[] = {{"i8", PGREPL_INT8OID, -1, 0, NULL, NULL}};
    static const pgrepl_relation rel = {16501, "s", "ints", 'd', 1, columns, 0};
    int64_t cases[200];
    size_t n = 0;
    cases[n++] = 0;
    cases[n++] = INT64_MIN;
    cases[n++] = INT64_MAX;
    for (int64_t p = 1; p <= INT64_MAX / 10; p *= 10) {
        const int64_t around[] = {p - 1, p, p + 1, 10 * p - 1, -p, -(10 * p - 1)};
        for (size_t k = 0; k < 6; k++)
            cases[n++] = around[k];
    }
    uint64_t x = 88172645463325252u;
    while (n < sizeof cases / sizeof cases[0]) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        cases[n++] = (int64_t)(x >> (x % 60));
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t be[8];
        for (int k = 0; k < 8; k++)
            be[k] = (uint8_t)((uint64_t)cases[i] >> (56 - 8 * k));
        const pgrepl_value values[] = {{PGREPL_VALUE_BINARY, 8, be}};
        const pgrepl_tuple tuple = {1, values};
        pgrepl_msg_change ins = {{0x10, 0x10, 0}, 9, false, &rel, 0, NULL, &tuple};
        ck_assert_int_eq(jl_change(w, 'I', &ins), 0);
        char want[512];
        snprintf(want, sizeof want,
                 "{\"action\":\"I\",\"xid\":9,\"timestamp\":null,\"lsn\":\"0/10\",\"schema\":\"s\",\"table\":\"ints\","
                 "\"columns\":[{\"name\":\"i8\",\"type\":\"bigint\",\"value\":%lld}],\"pk\":[]}\n",
                 (long long)cases[i]);
        expect(want);
    }
}
END_TEST

/* A binary value that cannot be rendered fails the change and leaves no partial line. */
START_TEST(binary_failure_takes_the_line_back)
{
    static const pgrepl_column columns[] = {{"x", 16999, -1, 0, NULL, NULL}};
    static const pgrepl_relation rel = {16501, "public", "opaque", 'd', 1, columns, 0};
    const pgrepl_value values[] = {{PGREPL_VALUE_BINARY, 2, (const uint8_t *)"\x01\x02"}};
    const pgrepl_tuple tuple = {1, values};
    pgrepl_msg_begin b = begin_750();
    ck_assert_int_eq(jl_begin(w, &b), 0);
    pgrepl_msg_change ins = {{0x10, 0x10, 0}, 750, false, &rel, 0, NULL, &tuple};
    int rc = jl_change(w, 'I', &ins);
    ck_assert_int_lt(rc, 0);
    ck_assert_uint_eq(jl_len(w), 0);
    ck_assert_ptr_nonnull(strstr(jl_errmsg(w), "\"x\" of public.opaque"));
    /* the B line is still owed to the next change */
    pgrepl_msg_change ok = change(&keytuple1, 0, NULL);
    ck_assert_int_eq(jl_change(w, 'I', &ok), 0);
    ck_assert_int_eq(strncmp(jl_data(w), "{\"action\":\"B\"", 13), 0);
}
END_TEST

/* A new Relation message for the same OID replaces the cached pieces; reset forgets all. */
START_TEST(relation_changes)
{
    static const pgrepl_column c1[] = {{"a", PGREPL_INT4OID, -1, PGREPL_COLUMN_KEY, NULL, NULL}};
    static const pgrepl_column c2[] = {{"a", PGREPL_INT4OID, -1, 0, NULL, NULL}, {"b", PGREPL_INT8OID, -1, 0, NULL, NULL}};
    static const pgrepl_relation r1 = {17000, "public", "r", 'd', 1, c1, 0};
    static const pgrepl_relation r2 = {17000, "public", "r2", 'f', 2, c2, 0};
    static const pgrepl_value v[] = {TXT("5"), TXT("6")};
    const pgrepl_tuple t1 = {1, v}, t2 = {2, v};
    ck_assert_int_eq(jl_relation(w, &r1), 0);
    pgrepl_msg_change ins = {{0x10, 0x10, 0}, 9, false, &r1, 0, NULL, &t1};
    ck_assert_int_eq(jl_change(w, 'I', &ins), 0);
    expect("{\"action\":\"I\",\"xid\":9,\"timestamp\":null,\"lsn\":\"0/10\",\"schema\":\"public\",\"table\":\"r\","
           "\"columns\":[{\"name\":\"a\",\"type\":\"integer\",\"value\":5}],\"pk\":[{\"name\":\"a\",\"type\":\"integer\"}]}\n");
    ck_assert_int_eq(jl_relation(w, &r2), 0);
    ins.rel = &r2;
    ins.new_tuple = &t2;
    ck_assert_int_eq(jl_change(w, 'I', &ins), 0);
    expect("{\"action\":\"I\",\"xid\":9,\"timestamp\":null,\"lsn\":\"0/10\",\"schema\":\"public\",\"table\":\"r2\","
           "\"columns\":[{\"name\":\"a\",\"type\":\"integer\",\"value\":5},{\"name\":\"b\",\"type\":\"bigint\",\"value\":6}],"
           "\"pk\":[]}\n");
    /* many relations: the cache grows */
    pgrepl_column many_cols[1] = {{"a", PGREPL_INT4OID, -1, 0, NULL, NULL}};
    static pgrepl_relation many[300];
    for (int i = 0; i < 300; i++) {
        many[i] = (pgrepl_relation){(uint32_t)(20000 + i), "public", "m", 'd', 1, many_cols, 0};
        ck_assert_int_eq(jl_relation(w, &many[i]), 0);
    }
    ins.rel = &many[123];
    ins.new_tuple = &t1;
    ck_assert_int_eq(jl_change(w, 'I', &ins), 0);
    jl_clear(w);
    jl_reset(w);
    ck_assert_int_eq(jl_change(w, 'I', &ins), 0);
    ck_assert_uint_gt(jl_len(w), 0);
}
END_TEST

/* Values far larger than the initial buffer. */
START_TEST(large_values)
{
    size_t n = 3 * 1024 * 1024;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(i % 7 == 0 ? '"' : 'a' + (int)(i % 26));
    static const pgrepl_column columns[] = {{"v", PGREPL_TEXTOID, -1, 0, NULL, NULL}};
    static const pgrepl_relation rel = {16502, "public", "big", 'd', 1, columns, 0};
    const pgrepl_value values[] = {{PGREPL_VALUE_TEXT, (uint32_t)n, (const uint8_t *)big}};
    const pgrepl_tuple tuple = {1, values};
    pgrepl_msg_change ins = {{0x10, 0x10, 0}, 9, false, &rel, 0, NULL, &tuple};
    ck_assert_int_eq(jl_change(w, 'I', &ins), 0);
    char err[256];
    size_t len = jl_len(w);
    ck_assert(len > n && jl_data(w)[len - 1] == '\n');
    mj_value *v = mj_parse(jl_data(w), len - 1, err, sizeof err);
    ck_assert_msg(v != NULL, "%s", err);
    const mj_value *cols = mj_get(v, "columns");
    ck_assert_ptr_nonnull(cols);
    const mj_value *value = mj_get(&cols->items[0], "value");
    ck_assert(value->len == n && memcmp(value->str, big, n) == 0);
    mj_free(v);
    free(big);
}
END_TEST

/* ---- every fixture stream ------------------------------------------------------ */

typedef struct fixture_run {
    jl_writer *w;
    char *err;      /* first failure */
    long counts[256];
    pgrepl_buf text;
} fixture_run;

__attribute__((format(printf, 2, 3))) static void failf(fixture_run *r, const char *fmt, ...)
{
    if (r->err != NULL)
        return;
    r->err = malloc(512);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, 512, fmt, ap);
    va_end(ap);
}

/* The text a value stands for: its text, or its binary form rendered. */
static const char *value_text(fixture_run *r, const pgrepl_column *col, const pgrepl_value *v, size_t *len)
{
    if (v->kind == PGREPL_VALUE_TEXT) {
        *len = v->len;
        return (const char *)v->data;
    }
    r->text.len = 0;
    ck_assert_int_eq(pgrepl_value_to_text(&r->text, col, v), 0);
    *len = r->text.len;
    return r->text.data;
}

static bool is_number_type(uint32_t oid)
{
    return oid == PGREPL_INT2OID || oid == PGREPL_INT4OID || oid == PGREPL_INT8OID || oid == PGREPL_OIDOID ||
           oid == PGREPL_FLOAT4OID || oid == PGREPL_FLOAT8OID || oid == PGREPL_NUMERICOID;
}

/* The JSON value printed for a column must be what the decoded value says. */
static bool value_matches(fixture_run *r, const pgrepl_column *col, const pgrepl_value *v, const mj_value *j)
{
    if (v->kind == PGREPL_VALUE_NULL)
        return j->type == MJ_NULL;
    size_t n;
    const char *s = value_text(r, col, v, &n);
    if (col->type_oid == PGREPL_BOOLOID)
        return j->type == MJ_BOOL && j->b == (n == 1 && s[0] == 't');
    if (col->type_oid == PGREPL_BYTEAOID)
        return j->type == MJ_STRING && n >= 2 && j->len == n - 2 && memcmp(j->str, s + 2, n - 2) == 0;
    if (is_number_type(col->type_oid) && jl_is_json_number((const uint8_t *)s, n))
        return j->type == MJ_NUMBER && j->len == n && memcmp(j->str, s, n) == 0;
    return j->type == MJ_STRING && j->len == n && memcmp(j->str, s, n) == 0;
}

/* columns: every changed column of tuple (keys only if keys_only), in order. */
static void check_columns(fixture_run *r, const pgrepl_relation *rel, const pgrepl_tuple *t, bool keys_only,
                          const mj_value *arr, const char *what)
{
    if (arr == NULL || arr->type != MJ_ARRAY) {
        failf(r, "%s is missing", what);
        return;
    }
    size_t k = 0;
    for (int i = 0; i < rel->ncolumns; i++) {
        const pgrepl_column *col = &rel->columns[i];
        const pgrepl_value *v = &t->values[i];
        if (v->kind == PGREPL_VALUE_UNCHANGED || (keys_only && !(col->flags & PGREPL_COLUMN_KEY)))
            continue;
        if (k >= arr->n) {
            failf(r, "%s: column %s missing", what, col->name);
            return;
        }
        const mj_value *item = &arr->items[k++];
        if (!mj_is_str(mj_get(item, "name"), col->name) || mj_get(item, "type") == NULL ||
            mj_get(item, "value") == NULL || !value_matches(r, col, v, mj_get(item, "value")))
            failf(r, "%s: column %s printed wrongly", what, col->name);
    }
    if (k != arr->n)
        failf(r, "%s: %s has extra columns", what, rel->name);
}

/* Parse each complete line rendered since the last call. */
static mj_value *last_line(fixture_run *r, char action)
{
    const char *data = jl_data(r->w);
    size_t len = jl_len(r->w);
    ck_assert_msg(len > 0 && data[len - 1] == '\n', "no line for '%c'", action);
    size_t start = len - 1;
    while (start > 0 && data[start - 1] != '\n')
        start--;
    char err[256];
    mj_value *v = mj_parse(data + start, len - 1 - start, err, sizeof err);
    ck_assert_msg(v != NULL, "'%c' line is not valid JSON: %s\n%.*s", action, err, (int)(len - start), data + start);
    char act[2] = {action, '\0'};
    ck_assert_msg(mj_is_str(mj_get(v, "action"), act), "not a '%c' line", action);
    return v;
}

static int f_change(fixture_run *r, char action, const pgrepl_msg_change *m)
{
    ck_assert_int_eq(jl_change(r->w, action, m), 0);
    mj_value *v = last_line(r, action);
    char lsn[18];
    jl_format_lsn(lsn, m->wal.start);
    if (!mj_is_str(mj_get(v, "lsn"), lsn) || !mj_is_str(mj_get(v, "table"), m->rel->name) ||
        !mj_is_str(mj_get(v, "schema"), m->rel->schema))
        failf(r, "%s: bad lsn, schema or table", m->rel->name);
    if (action != 'D')
        check_columns(r, m->rel, m->new_tuple, false, mj_get(v, "columns"), "columns");
    if (action != 'I') {
        const pgrepl_tuple *id = m->old_tuple ? m->old_tuple : m->new_tuple;
        check_columns(r, m->rel, id, m->old_kind != 'O', mj_get(v, "identity"), "identity");
    }
    const mj_value *pk = mj_get(v, "pk");
    size_t keys = 0;
    for (int i = 0; i < m->rel->ncolumns; i++)
        keys += (m->rel->columns[i].flags & PGREPL_COLUMN_KEY) != 0;
    if (pk == NULL || pk->n != keys)
        failf(r, "%s: pk lists the wrong columns", m->rel->name);
    mj_free(v);
    r->counts[(unsigned char)action]++;
    return 0;
}

static int f_insert(void *ud, const pgrepl_msg_change *m) { return f_change(ud, 'I', m); }
static int f_update(void *ud, const pgrepl_msg_change *m) { return f_change(ud, 'U', m); }
static int f_delete(void *ud, const pgrepl_msg_change *m) { return f_change(ud, 'D', m); }

#define SIMPLE(name, type, fn, action)                                                                            \
    static int name(void *ud, const type *m)                                                                     \
    {                                                                                                            \
        fixture_run *r = ud;                                                                                     \
        size_t before = jl_len(r->w);                                                                            \
        ck_assert_int_eq(fn(r->w, m), 0);                                                                        \
        if (jl_len(r->w) > before)                                                                               \
            mj_free(last_line(r, action));                                                                       \
        r->counts[(unsigned char)(action)]++;                                                                    \
        return 0;                                                                                                \
    }

SIMPLE(f_begin, pgrepl_msg_begin, jl_begin, 'B')
SIMPLE(f_commit, pgrepl_msg_commit, jl_commit, 'C')
SIMPLE(f_message, pgrepl_msg_logical, jl_message, 'M')
SIMPLE(f_stream_start, pgrepl_msg_stream_start, jl_stream_start, 'S')
SIMPLE(f_stream_stop, pgrepl_msg_stream_stop, jl_stream_stop, 'E')
SIMPLE(f_stream_commit, pgrepl_msg_commit, jl_stream_commit, 'C')
SIMPLE(f_stream_abort, pgrepl_msg_stream_abort, jl_stream_abort, 'A')
SIMPLE(f_begin_prepare, pgrepl_msg_prepare, jl_begin_prepare, 'b')
SIMPLE(f_prepare, pgrepl_msg_prepare, jl_prepare, 'P')
SIMPLE(f_stream_prepare, pgrepl_msg_prepare, jl_stream_prepare, 'p')
SIMPLE(f_commit_prepared, pgrepl_msg_commit_prepared, jl_commit_prepared, 'K')
SIMPLE(f_rollback_prepared, pgrepl_msg_rollback_prepared, jl_rollback_prepared, 'r')

static int f_relation(void *ud, const pgrepl_relation *rel)
{
    fixture_run *r = ud;
    ck_assert_int_eq(jl_relation(r->w, rel), 0);
    return 0;
}

static int f_truncate(void *ud, const pgrepl_msg_truncate *m)
{
    fixture_run *r = ud;
    size_t lines = jl_get_stats(r->w)->lines;
    ck_assert_int_eq(jl_truncate(r->w, m), 0);
    mj_free(last_line(r, 'T'));
    ck_assert_uint_ge(jl_get_stats(r->w)->lines - lines, (uint64_t)m->nrelations);
    r->counts['T']++;
    return 0;
}

static const pgrepl_decoder_callbacks fixture_callbacks = {
    .on_begin = f_begin,
    .on_commit = f_commit,
    .on_relation = f_relation,
    .on_insert = f_insert,
    .on_update = f_update,
    .on_delete = f_delete,
    .on_truncate = f_truncate,
    .on_message = f_message,
    .on_stream_start = f_stream_start,
    .on_stream_stop = f_stream_stop,
    .on_stream_commit = f_stream_commit,
    .on_stream_abort = f_stream_abort,
    .on_begin_prepare = f_begin_prepare,
    .on_prepare = f_prepare,
    .on_commit_prepared = f_commit_prepared,
    .on_rollback_prepared = f_rollback_prepared,
    .on_stream_prepare = f_stream_prepare,
};

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    unsigned char *buf = malloc((size_t)size + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return buf;
}

/* Render one capture; returns the number of lines. */
static uint64_t render_capture(const char *path, long *counts)
{
    size_t len;
    unsigned char *buf = read_all(path, &len);
    ck_assert_msg(len >= 8 && memcmp(buf, CAPTURE_MAGIC, 8) == 0, "%s is not a capture", path);
    fixture_run r = {jl_new(), NULL, {0}, {0}};
    pgrepl_decoder *dec = pgrepl_decoder_new(&fixture_callbacks, sizeof fixture_callbacks, &r);
    for (size_t off = 8; off + 4 <= len;) {
        uint32_t n = (uint32_t)buf[off] << 24 | (uint32_t)buf[off + 1] << 16 | (uint32_t)buf[off + 2] << 8 | buf[off + 3];
        off += 4;
        ck_assert_uint_le(n, len - off);
        pgrepl_copydata cd;
        ck_assert_int_eq(pgrepl_copydata_parse(buf + off, n, &cd), 0);
        if (cd.kind == 'w') {
            pgrepl_wal wal = {cd.wal_start, cd.wal_end, cd.send_time};
            int rc = pgrepl_decoder_feed(dec, &wal, cd.data, cd.len);
            ck_assert_msg(rc == 0, "%s: %s", path, pgrepl_decoder_errmsg(dec));
        }
        off += n;
        ck_assert_msg(r.err == NULL, "%s: %s", path, r.err);
    }
    uint64_t lines = jl_get_stats(r.w)->lines;
    /* every rendered line is one object ending in a newline */
    const char *out = jl_data(r.w);
    uint64_t newlines = 0;
    for (size_t i = 0; i < jl_len(r.w); i++)
        newlines += out[i] == '\n';
    ck_assert_uint_eq(newlines, lines);
    memcpy(counts, r.counts, sizeof r.counts);
    pgrepl_decoder_free(dec);
    pgrepl_buf_free(&r.text);
    jl_free(r.w);
    free(buf);
    return lines;
}

START_TEST(fixtures_render)
{
    const char *root = getenv("PGREPL_SOURCE_ROOT");
    ck_assert_msg(root != NULL, "PGREPL_SOURCE_ROOT is not set (run with meson test)");
    int files = 0;
    long total[256] = {0};
    for (int major = 14; major <= 18; major++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/tests/fixtures/pg%d", root, major);
        DIR *d = opendir(dir);
        ck_assert_msg(d != NULL, "no %s", dir);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t n = strlen(e->d_name);
            if (n < 5 || strcmp(e->d_name + n - 4, ".cap") != 0)
                continue;
            char path[2048];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            long counts[256];
            ck_assert_uint_gt(render_capture(path, counts), 0);
            for (int i = 0; i < 256; i++)
                total[i] += counts[i];
            files++;
        }
        closedir(d);
    }
    ck_assert_int_ge(files, 50);
    /* the captures hold every kind of line */
    for (const char *a = "BCIUDTMSEAbPKrp"; *a; a++)
        ck_assert_msg(total[(unsigned char)*a] > 0, "no '%c' in any fixture", *a);
}
END_TEST

static Suite *jsonl_suite(void)
{
    Suite *s = suite_create("jsonl");
    TCase *tc = tcase_create("escape");
    tcase_add_test(tc, escape_ascii);
    tcase_add_test(tc, escape_valid_utf8);
    tcase_add_test(tc, escape_invalid_utf8);
    tcase_add_test(tc, escape_matches_reference);
    tcase_add_test(tc, escape_every_byte_in_plain_runs);
    tcase_add_test(tc, numbers);
    tcase_add_test(tc, lsn_format);
    suite_add_tcase(s, tc);

    tc = tcase_create("lines");
    tcase_add_checked_fixture(tc, setup_writer, teardown_writer);
    tcase_add_test(tc, empty_transaction_prints_nothing);
    tcase_add_test(tc, insert_line);
    tcase_add_test(tc, update_identity);
    tcase_add_test(tc, delete_line);
    tcase_add_test(tc, truncate_lines);
    tcase_add_test(tc, message_lines);
    tcase_add_test(tc, stream_lines);
    tcase_add_test(tc, two_phase_lines);
    tcase_add_test(tc, binary_values);
    tcase_add_test(tc, binary_integers_in_decimal);
    tcase_add_test(tc, binary_failure_takes_the_line_back);
    tcase_add_test(tc, relation_changes);
    tcase_add_test(tc, large_values);
    suite_add_tcase(s, tc);

    tc = tcase_create("fixtures");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fixtures_render);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgrepl_test_run_suite(jsonl_suite());
}
