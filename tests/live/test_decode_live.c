/*
 * The decoder against a real walsender: a workload covering every built-in
 * type family, every replica identity, TOAST, truncate, messages,
 * savepoints, streamed and two-phase transactions (tests/live/workload/) is
 * decoded twice from the same point: by pgrepl from a pgoutput slot read
 * with tests/tools/pgrepl-capture, and by the server's test_decoding. The
 * pgoutput stream, rendered as test_decoding would print it (tdcompare.h),
 * must equal test_decoding's output line by line. A third slot, read in
 * binary mode, must give the same changes with binary values.
 *
 * The major is argv[1]; pgrepl-capture is found through $PGREPL_BUILD_ROOT.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "harness.h"
#include "pgrepl/pgrepl.h"
#include "tdcompare.h"
#include "testutil.h"

#define CAPTURE_MAGIC "PGRCAP01"
#define CAPTURE_TIMEOUT "120"
/* Types with OIDs below this are built in (FirstNormalObjectId). */
#define FIRST_NORMAL_OID 16384
/* The workload prints 8,000 to 11,500 lines, depending on the major. */
#define MIN_LINES 5000
#define CONTEXT_LINES 3
#define SHOW_CHARS 300

/* The workload, in order; a part runs only on servers from min_major to max_major. */
static const struct part {
    const char *file;
    int min_major, max_major;
} parts[] = {
    {"10-types.sql", 14, 99},
    {"20-identity.sql", 14, 99},
    {"30-toast.sql", 14, 99},
    {"40-truncate.sql", 14, 99},
    {"50-messages.sql", 14, 99},
    {"55-messages-flush.sql", 17, 99},
    {"60-savepoints.sql", 14, 99},
    {"70-stream.sql", 14, 99},
    {"75-stream-abort.sql", 14, 99},
    {"80-prepared.sql", 14, 99},
    {"85-prepared-big-rollback.sql", 14, 17},
    {"99-done.sql", 14, 99},
};

static int major;
static pgt_server srv;
static char workdir[PGT_PATH_MAX];
static char text_capture[PGT_PATH_MAX + 32];
static char endpos[64];

/* ---- files and processes ------------------------------------------------ */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    ck_assert_int_ge(size, 0);
    rewind(f);
    char *buf = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    buf[size] = '\0';
    *len = (size_t)size;
    return buf;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot create %s: %s", path, strerror(errno));
    ck_assert_int_ge(fputs(text, f), 0);
    ck_assert_int_eq(fclose(f), 0);
}

static const char *env_dir(const char *name)
{
    const char *dir = getenv(name);
    ck_assert_msg(dir != NULL && dir[0] != '\0', "%s is not set (run the suite with meson test)", name);
    return dir;
}

/* psql's output for SQL that must succeed (free it). */
static char *sql(const char *text)
{
    char *out = NULL;
    int rc = pgt_psql(&srv, NULL, text, &out);
    ck_assert_msg(rc == 0, "psql exited %d for:\n%s", rc, text);
    ck_assert_ptr_nonnull(out);
    return out;
}

static void run_part(const char *file)
{
    char path[PGT_PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/tests/live/workload/%s", env_dir("PGREPL_SOURCE_ROOT"), file);
    size_t len;
    char *text = read_file(path, &len);
    free(sql(text));
    free(text);
}

/*
 * Start pgrepl-capture on SLOT until END (an LSN or @FILE) into OUT, with the
 * newest protocol the server speaks, streaming, messages and (15+) two-phase.
 */
static pid_t start_capture(const char *slot, const char *end, const char *out, bool binary)
{
    char tool[PGT_PATH_MAX * 2];
    snprintf(tool, sizeof tool, "%s/tests/tools/pgrepl-capture", env_dir("PGREPL_BUILD_ROOT"));
    ck_assert_msg(access(tool, X_OK) == 0, "%s: %s", tool, strerror(errno));
    char proto[32];
    snprintf(proto, sizeof proto, "proto_version=%d", major >= 16 ? 4 : major == 15 ? 3 : 2);
    const char *opts[8] = {proto, "publication_names=pub", "messages=true",
                           /* 'on' is the 16+ spelling; 14 and 15 take only a boolean. */
                           major >= 16 ? "streaming=on" : "streaming=true"};
    size_t nopts = 4;
    if (major >= 15)
        opts[nopts++] = "two_phase=true";
    if (binary)
        opts[nopts++] = "binary=true";
    const char *argv[32] = {tool, "-d", srv.conninfo, "-S", slot, "-E", end, "-o", out, "-t", CAPTURE_TIMEOUT};
    size_t argc = 0;
    while (argv[argc] != NULL)
        argc++;
    for (size_t i = 0; i < nopts; i++) {
        argv[argc++] = "-O";
        argv[argc++] = opts[i];
    }
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* execv's prototype predates const; it does not write to the strings. */
        execv(tool, (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    return pid;
}

static void wait_capture(pid_t pid)
{
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "pgrepl-capture failed (wait status %d)", status);
}

/* ---- the workload: run once, in the parent, for every test -------------- */

/*
 * Both slots (and the binary one) are created after the schema, at the same
 * point, with two_phase on 15+ so that both decode prepared transactions at
 * PREPARE. The text-mode capture runs while the workload runs: an aborted
 * transaction is streamed only if the walsender decodes it before the abort
 * (75-stream-abort.sql waits for that).
 */
static void setup(void)
{
    ck_assert_msg(pgt_server_start(&srv, major, NULL) == 0, "PostgreSQL %d did not start: %s", major, srv.errmsg);
    snprintf(workdir, sizeof workdir, "/tmp/pgrepl-decode-live-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(workdir));
    snprintf(text_capture, sizeof text_capture, "%s/text.cap", workdir);

    run_part("00-schema.sql");
    const char *two_phase = major >= 15 ? "true" : "false";
    char slots[512];
    snprintf(slots, sizeof slots,
             "SELECT pg_create_logical_replication_slot('po', 'pgoutput', false, %s);\n"
             "SELECT pg_create_logical_replication_slot('po_bin', 'pgoutput', false, %s);\n"
             "SELECT pg_create_logical_replication_slot('td', 'test_decoding', false, %s);",
             two_phase, two_phase, two_phase);
    free(sql(slots));

    char endfile[PGT_PATH_MAX + 32], endarg[PGT_PATH_MAX + 64], tmp[PGT_PATH_MAX + 32];
    snprintf(endfile, sizeof endfile, "%s/endpos", workdir);
    snprintf(endarg, sizeof endarg, "@%s", endfile);
    snprintf(tmp, sizeof tmp, "%s/endpos.tmp", workdir);
    pid_t capture = start_capture("po", endarg, text_capture, false);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (major >= parts[i].min_major && major <= parts[i].max_major)
            run_part(parts[i].file);
    char *lsn = sql("SELECT pg_current_wal_lsn()");
    ck_assert_uint_lt(strlen(lsn), sizeof endpos);
    strcpy(endpos, lsn);
    free(lsn);
    /* Renamed into place: the capture must not read a partly written LSN. */
    write_file(tmp, endpos);
    ck_assert_int_eq(rename(tmp, endfile), 0);
    wait_capture(capture);
}

static void remove_workdir(void)
{
    static const char *const files[] = {"text.cap", "binary.cap", "endpos", "endpos.tmp"};
    if (workdir[0] == '\0')
        return;
    char path[PGT_PATH_MAX + 32];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", workdir, files[i]);
        unlink(path);
    }
    rmdir(workdir);
}

static void teardown(void)
{
    remove_workdir();
    pgt_server_stop(&srv);
}

/* ---- decoding ---------------------------------------------------------- */

static PGconn *connect_db(void)
{
    PGconn *conn = PQconnectdb(srv.conninfo);
    ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "connection failed: %s", PQerrorMessage(conn));
    return conn;
}

static PGresult *query(PGconn *conn, const char *text)
{
    PGresult *res = PQexec(conn, text);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s\nfailed: %s", text, PQerrorMessage(conn));
    return res;
}

/* The types of the workload's columns, with their format_type names. */
static const char types_query[] =
    "SELECT DISTINCT t.oid, format_type(t.oid, NULL)"
    " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_type t ON t.oid = a.atttypid"
    " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attnum > 0"
    " AND NOT a.attisdropped";

/*
 * test_decoding names a column's type by its own OID (format_type_be), while
 * pgoutput's Type message for a domain carries the base type's name under
 * the domain's OID; so the names of types that are not built in come from
 * the server, in one query. Built-in names come from pgrepl_type_name().
 */
static void add_type_names(tdcompare *t)
{
    PGconn *conn = connect_db();
    PGresult *res = query(conn, types_query);
    for (int i = 0; i < PQntuples(res); i++) {
        uint32_t oid = (uint32_t)strtoul(PQgetvalue(res, i, 0), NULL, 10);
        if (oid >= FIRST_NORMAL_OID)
            tdc_set_type_name(t, oid, PQgetvalue(res, i, 1));
    }
    PQclear(res);
    PQfinish(conn);
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decode every XLogData payload of a capture file through tdcompare. */
static tdcompare *decode_capture(const char *path, tdc_mode mode)
{
    tdcompare *t = tdc_new(mode, major);
    add_type_names(t);
    size_t len;
    char *file = read_file(path, &len);
    const unsigned char *buf = (const unsigned char *)file;
    ck_assert_msg(len >= 8 && memcmp(buf, CAPTURE_MAGIC, 8) == 0, "%s is not a capture file", path);
    pgrepl_decoder *dec = pgrepl_decoder_new(&tdc_callbacks, sizeof tdc_callbacks, t);
    ck_assert_ptr_nonnull(dec);
    size_t off = 8;
    while (off < len) {
        ck_assert_msg(len - off >= 4, "%s: truncated record header at %zu", path, off);
        uint32_t n = be32(buf + off);
        off += 4;
        ck_assert_msg(len - off >= n, "%s: truncated record at %zu", path, off);
        pgrepl_copydata cd;
        int rc = pgrepl_copydata_parse(buf + off, n, &cd);
        ck_assert_msg(rc == 0, "%s: CopyData at %zu: %s", path, off, pgrepl_strerror(rc));
        if (cd.kind == 'w') {
            pgrepl_wal wal = {cd.wal_start, cd.wal_end, cd.send_time};
            rc = pgrepl_decoder_feed(dec, &wal, cd.data, cd.len);
            ck_assert_msg(rc == 0, "%s: record at %zu: %s: %s", path, off, pgrepl_err_name(rc),
                          rc == PGREPL_ECALLBACK ? tdc_error(t) : pgrepl_decoder_errmsg(dec));
        }
        off += n;
    }
    ck_assert_msg(tdc_finish(t) == 0, "%s: %s", path, tdc_error(t));
    pgrepl_decoder_free(dec);
    free(file);
    return t;
}

/* ---- comparison -------------------------------------------------------- */

typedef struct lines {
    const char *name;
    const char **v;
    size_t n;
} lines;

static lines lines_of(const char *name, const tdcompare *t)
{
    lines l = {name, malloc((tdc_nlines(t) + 1) * sizeof(char *)), tdc_nlines(t)};
    ck_assert_ptr_nonnull(l.v);
    for (size_t i = 0; i < l.n; i++)
        l.v[i] = tdc_line(t, i);
    return l;
}

/* Line i shortened to SHOW_CHARS around byte offset 'from'. */
static void show_line(char mark, size_t i, const char *line, size_t from)
{
    size_t len = strlen(line);
    from = from > SHOW_CHARS / 3 ? from - SHOW_CHARS / 3 : 0;
    from = from < len ? from : len;
    fprintf(stderr, "%c%6zu: %s%.*s%s\n", mark, i + 1, from > 0 ? "..." : "", SHOW_CHARS, line + from,
            len - from > SHOW_CHARS ? "..." : "");
}

/* The lines around line 'at', the differing one shown around byte 'col'. */
static void show_context(const lines *l, size_t at, size_t col)
{
    size_t from = at > CONTEXT_LINES ? at - CONTEXT_LINES : 0;
    fprintf(stderr, "--- %s (%zu lines):\n", l->name, l->n);
    for (size_t i = from; i < l->n && i <= at + CONTEXT_LINES; i++)
        show_line(i == at ? '>' : ' ', i, l->v[i], i == at ? col : 0);
}

static void compare_lines(const lines *a, const lines *b)
{
    size_t i = 0;
    while (i < a->n && i < b->n && strcmp(a->v[i], b->v[i]) == 0)
        i++;
    if (i == a->n && i == b->n)
        return;
    size_t col = 0;
    while (i < a->n && i < b->n && a->v[i][col] == b->v[i][col])
        col++;
    fprintf(stderr, "PostgreSQL %d: %s and %s differ at line %zu, byte %zu\n", major, a->name, b->name, i + 1,
            col + 1);
    show_context(a, i, col);
    show_context(b, i, col);
    ck_abort_msg("%s and %s differ at line %zu, byte %zu (%zu and %zu lines)", a->name, b->name, i + 1, col + 1,
                 a->n, b->n);
}

/* The server's own decoding of the same WAL, up to the same position. */
static lines test_decoding_lines(PGconn *conn, PGresult **res)
{
    char text[512];
    snprintf(text, sizeof text,
             "SELECT data FROM pg_logical_slot_get_changes('td', '%s', NULL, 'include-xids', '0',"
             " 'skip-empty-xacts', '1', 'include-timestamp', '0')",
             endpos);
    *res = query(conn, text);
    lines l = {"test_decoding", malloc(((size_t)PQntuples(*res) + 1) * sizeof(char *)), (size_t)PQntuples(*res)};
    ck_assert_ptr_nonnull(l.v);
    for (size_t i = 0; i < l.n; i++)
        l.v[i] = PQgetvalue(*res, (int)i, 0);
    return l;
}

/* ---- tests ------------------------------------------------------------- */

START_TEST(text_mode_matches_test_decoding)
{
    tdcompare *t = decode_capture(text_capture, TDC_VALUES);
    PGconn *conn = connect_db();
    PGresult *res;
    lines td = test_decoding_lines(conn, &res);
    lines po = lines_of("pgoutput", t);
    compare_lines(&po, &td);

    /* The stream had everything the workload is meant to produce. */
    const tdc_stats *st = tdc_get_stats(t);
    const char *types = major >= 15 ? "BCRYIUDTMSEcAbPKrp" : "BCRYIUDTMSEcA";
    for (const char *p = types; *p; p++)
        ck_assert_msg(st->messages[(unsigned char)*p] > 0, "no '%c' (%s) message in the stream", *p,
                      pgrepl_message_type_name(*p));
    ck_assert_msg(st->old_tuples['K'] > 0, "no old key ('K')");
    ck_assert_msg(st->old_tuples['O'] > 0, "no old row ('O')");
    ck_assert_msg(st->values['u'] > 0, "no unchanged TOAST value ('u')");
    ck_assert_msg(st->values['t'] > 0 && st->values['b'] == 0, "text mode sent %ld binary values", st->values['b']);
    ck_assert_msg(st->truncate_both > 0, "no truncate with both CASCADE and RESTART IDENTITY");
    ck_assert_msg(st->whole_aborts > 0, "no Stream Abort of a whole transaction");
    ck_assert_msg(st->sub_aborts > 0, "no Stream Abort of a subtransaction");
    ck_assert_msg(po.n > MIN_LINES, "only %zu lines compared", po.n);

    free(po.v);
    free(td.v);
    PQclear(res);
    PQfinish(conn);
    tdc_free(t);
}
END_TEST

/*
 * binary 'true': the same changes of the same tables in the same order as
 * in text mode, every value binary (every column type has a send function).
 */
START_TEST(binary_mode_has_the_same_changes)
{
    PGconn *conn = connect_db();
    PGresult *res = query(conn, "SELECT count(*) FROM (" /* the workload's types without a send function */
                                "SELECT DISTINCT t.oid FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
                                " JOIN pg_type t ON t.oid = a.atttypid WHERE c.relnamespace = 'public'::regnamespace"
                                " AND c.relkind = 'r' AND a.attnum > 0 AND t.typsend::oid = 0) s");
    ck_assert_str_eq(PQgetvalue(res, 0, 0), "0");
    PQclear(res);
    PQfinish(conn);

    char binary_capture[PGT_PATH_MAX + 32];
    snprintf(binary_capture, sizeof binary_capture, "%s/binary.cap", workdir);
    wait_capture(start_capture("po_bin", endpos, binary_capture, true));

    tdcompare *text = decode_capture(text_capture, TDC_STRUCTURE);
    tdcompare *binary = decode_capture(binary_capture, TDC_STRUCTURE);
    lines lt = lines_of("text mode", text);
    lines lb = lines_of("binary mode", binary);
    compare_lines(&lb, &lt);
    const tdc_stats *st = tdc_get_stats(binary);
    ck_assert_msg(st->values['t'] == 0, "binary mode sent %ld text values", st->values['t']);
    ck_assert_msg(st->values['b'] > 0 && st->values['u'] > 0 && st->values['n'] > 0, "b %ld u %ld n %ld",
                  st->values['b'], st->values['u'], st->values['n']);
    ck_assert_msg(lb.n > MIN_LINES, "only %zu lines compared", lb.n);
    free(lt.v);
    free(lb.v);
    tdc_free(text);
    tdc_free(binary);
}
END_TEST

static Suite *decode_live_suite(void)
{
    static char name[32];
    snprintf(name, sizeof name, "decode-live-pg%d", major);
    Suite *s = suite_create(name);
    TCase *tc = tcase_create("workload");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, text_mode_matches_test_decoding);
    tcase_add_test(tc, binary_mode_has_the_same_changes);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    major = pgt_major_from_args(argc, argv);
    return pgrepl_test_run_suite(decode_live_suite());
}
