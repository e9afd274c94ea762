/*
 * Captured server streams (tests/fixtures/pg<MAJOR>/<scenario>.cap) decode
 * without error to their committed callback logs (<scenario>.log).
 *
 * With PGREPL_FIXTURES_WRITE=1 the logs are written instead of compared
 * (scripts/capture-fixtures.sh does this after capturing).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "declog.h"
#include "pgrepl/pgrepl.h"
#include "testutil.h"

#define CAPTURE_MAGIC "PGRCAP01"
#define MAX_FIXTURES 256
#define FIRST_MAJOR 14
#define LAST_MAJOR 18

/* What a scenario's capture must show, so that a bad capture cannot pass. */
typedef struct scenario {
    const char *name;
    int min_major, max_major;
    const char *types;          /* pgoutput message types that must appear */
    const char *const *needles; /* substrings the log must contain, NULL-terminated */
    const char *const *absent;  /* substrings it must not contain */
    bool whole_abort, sub_abort; /* Stream Abort with xid == subxid / xid != subxid */
} scenario;

static const char *const no_needles[] = {NULL};
static const char *const identity_needles[] = {"identity=d", "identity=f", "identity=i", "identity=n", "old=K[",
                                               "old=O[", NULL};
static const char *const toast_needles[] = {" u]", NULL};
/*
 * Type messages for the enum, its array, the composite and the domain (sent as
 * its base type int4); typmods of varchar(10), numeric(8,2), timestamptz(3).
 */
static const char *const types_needles[] = {"name=\"mood\"", "name=\"_mood\"", "name=\"pair\"", "name=\"int4\"",
                                            "typmod=14 ", "typmod=524294 ", "typmod=3 ", NULL};
static const char *const truncate_needles[] = {"options=3 nrelations=2", "options=0 nrelations=1", NULL};
static const char *const messages_needles[] = {"transactional=1", "transactional=0", NULL};
static const char *const binary_needles[] = {"[b:", NULL};
static const char *const stream_needles[] = {"first_segment=0", "streamed=1 transactional=1",
                                             "streamed=0 transactional=0", "streamed=1 options=0",
                                             "has_abort_info=0", NULL};
static const char *const parallel_needles[] = {"first_segment=0", "streamed=1 transactional=1",
                                               "streamed=0 transactional=0", "streamed=1 options=0",
                                               "has_abort_info=1", NULL};
static const char *const abort_info_present[] = {"has_abort_info=1", NULL};
static const char *const abort_info_absent[] = {"has_abort_info=0", NULL};
static const char *const twophase_needles[] = {"streamed=1", "first_segment=0", NULL};
static const char *const origin_needles[] = {"origin_lsn=0/ABCDEF01 name=\"fixture_origin\"", NULL};

static const scenario scenarios[] = {
    {"basic", 14, 18, "BCRIUD", no_needles, no_needles, false, false},
    {"basic-v2", 14, 14, "BCRIUD", no_needles, no_needles, false, false},
    {"basic-v3", 15, 15, "BCRIUD", no_needles, no_needles, false, false},
    {"basic-v4", 16, 18, "BCRIUD", no_needles, no_needles, false, false},
    {"identity", 14, 18, "BCRIUD", identity_needles, no_needles, false, false},
    {"toast", 14, 18, "BCRIUD", toast_needles, no_needles, false, false},
    {"types", 14, 18, "BCRYIU", types_needles, no_needles, false, false},
    {"truncate", 14, 18, "BCRIT", truncate_needles, no_needles, false, false},
    {"messages", 14, 18, "BCRIM", messages_needles, no_needles, false, false},
    {"binary", 14, 18, "BCRI", binary_needles, no_needles, false, false},
    {"stream", 14, 18, "SERIDTMYEcA", stream_needles, abort_info_present, true, true},
    {"stream-parallel", 16, 18, "SERIDTMYEcA", parallel_needles, abort_info_absent, true, true},
    {"twophase", 15, 18, "bRIPKrSEp", twophase_needles, no_needles, false, false},
    {"origin", 14, 18, "BCROI", origin_needles, no_needles, false, false},
};

typedef struct fixture {
    char *path; /* .../pg<major>/<scenario>.cap */
    int major;
} fixture;

static fixture fixtures[MAX_FIXTURES];
static int nfixtures;
static const char *scan_error;

static const scenario *find_scenario(const char *name)
{
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
        if (strcmp(scenarios[i].name, name) == 0)
            return &scenarios[i];
    return NULL;
}

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p == NULL)
        abort();
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void add_captures(const char *dir, int major)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!ends_with(e->d_name, ".cap"))
            continue;
        if (nfixtures == MAX_FIXTURES) {
            scan_error = "more fixtures than MAX_FIXTURES";
            break;
        }
        fixtures[nfixtures].path = path_join(dir, e->d_name);
        fixtures[nfixtures++].major = major;
    }
    closedir(d);
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(((const fixture *)a)->path, ((const fixture *)b)->path);
}

/* Collect every .cap before the suite runs, so each becomes one loop test. */
static void scan_fixtures(void)
{
    const char *root = getenv("PGREPL_SOURCE_ROOT");
    if (root == NULL) {
        scan_error = "PGREPL_SOURCE_ROOT is not set";
        return;
    }
    for (int major = FIRST_MAJOR; major <= LAST_MAJOR; major++) {
        char rel[64];
        snprintf(rel, sizeof rel, "tests/fixtures/pg%d", major);
        char *dir = path_join(root, rel);
        add_captures(dir, major);
        free(dir);
    }
    qsort(fixtures, (size_t)nfixtures, sizeof fixtures[0], cmp_path);
}

static bool have_fixture(int major, const char *name)
{
    char suffix[128];
    snprintf(suffix, sizeof suffix, "/%s.cap", name);
    for (int i = 0; i < nfixtures; i++)
        if (fixtures[i].major == major && ends_with(fixtures[i].path, suffix))
            return true;
    return false;
}

START_TEST(every_scenario_captured)
{
    ck_assert_msg(scan_error == NULL, "%s", scan_error);
    for (int major = FIRST_MAJOR; major <= LAST_MAJOR; major++)
        for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
            const scenario *sc = &scenarios[i];
            if (major >= sc->min_major && major <= sc->max_major)
                ck_assert_msg(have_fixture(major, sc->name), "no fixture pg%d/%s.cap", major, sc->name);
        }
}
END_TEST

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            uint8_t *p = realloc(buf, cap);
            if (p == NULL)
                free(buf);
            buf = p;
        }
    }
    fclose(f);
    if (buf == NULL)
        abort();
    *len = n;
    return buf;
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_msg(fwrite(text, 1, len, f) == len, "cannot write %s", path);
    ck_assert_msg(fclose(f) == 0, "cannot write %s", path);
}

/* The scenario named by ".../<name>.cap", or NULL. */
static const scenario *scenario_of(const char *path)
{
    const char *base = strrchr(path, '/') + 1;
    char name[64];
    size_t n = strlen(base) - strlen(".cap");
    ck_assert_msg(n < sizeof name, "fixture name too long: %s", path);
    memcpy(name, base, n);
    name[n] = '\0';
    return find_scenario(name);
}

typedef struct decoded {
    declog log;
    bool seen[256];  /* pgoutput message types that occurred */
    long messages;
} decoded;

/* Feed every record of a capture to a decoder; any decoding error fails the test. */
static void decode_capture(const char *path, const uint8_t *buf, size_t len, decoded *out)
{
    ck_assert_msg(len >= 8 && memcmp(buf, CAPTURE_MAGIC, 8) == 0, "%s: not a capture file", path);
    pgrepl_decoder *dec = pgrepl_decoder_new(&declog_callbacks, sizeof declog_callbacks, &out->log);
    ck_assert_ptr_nonnull(dec);
    size_t pos = 8;
    for (long rec = 0; pos < len; rec++) {
        ck_assert_msg(len - pos >= 4, "%s: record %ld: truncated length", path, rec);
        size_t n = ((size_t)buf[pos] << 24) | ((size_t)buf[pos + 1] << 16) | ((size_t)buf[pos + 2] << 8) | buf[pos + 3];
        pos += 4;
        ck_assert_msg(len - pos >= n, "%s: record %ld: truncated payload", path, rec);
        pgrepl_copydata cd;
        int rc = pgrepl_copydata_parse(buf + pos, n, &cd);
        ck_assert_msg(rc == 0, "%s: record %ld: CopyData: %s", path, rec, pgrepl_err_name(rc));
        pos += n;
        if (cd.kind == 'k') {
            declog_keepalive(&out->log, &cd);
            continue;
        }
        pgrepl_wal wal = {cd.wal_start, cd.wal_end, cd.send_time};
        rc = pgrepl_decoder_feed(dec, &wal, cd.data, cd.len);
        ck_assert_msg(rc == 0, "%s: record %ld: %s: %s", path, rec, pgrepl_err_name(rc), pgrepl_decoder_errmsg(dec));
        if (cd.len > 0)
            out->seen[cd.data[0]] = true;
        out->messages++;
    }
    ck_assert_msg(!pgrepl_decoder_in_stream(dec), "%s: ends inside a stream block", path);
    pgrepl_decoder_free(dec);
}

/* Count Stream Abort lines of whole transactions (xid == subxid) and of subtransactions. */
static void count_aborts(const char *log, int *whole, int *sub)
{
    *whole = *sub = 0;
    for (const char *line = log; *line != '\0';) {
        unsigned xid, subxid;
        if (line[0] == 'A' && line[1] == ' ') {
            const char *fields = strstr(line, " xid=");
            ck_assert_msg(fields != NULL && sscanf(fields, " xid=%u subxid=%u", &xid, &subxid) == 2,
                          "unexpected Stream Abort line");
            if (xid == subxid)
                (*whole)++;
            else
                (*sub)++;
        }
        const char *nl = strchr(line, '\n');
        if (nl == NULL)
            break;
        line = nl + 1;
    }
}

static void check_scenario(const char *path, const scenario *sc, const decoded *d)
{
    for (const char *t = sc->types; *t != '\0'; t++)
        ck_assert_msg(d->seen[(uint8_t)*t], "%s: no '%c' (%s) message", path, *t, pgrepl_message_type_name(*t));
    for (const char *const *needle = sc->needles; *needle != NULL; needle++)
        ck_assert_msg(strstr(d->log.text, *needle) != NULL, "%s: log lacks \"%s\"", path, *needle);
    for (const char *const *needle = sc->absent; *needle != NULL; needle++)
        ck_assert_msg(strstr(d->log.text, *needle) == NULL, "%s: log has \"%s\"", path, *needle);
    int whole, sub;
    count_aborts(d->log.text, &whole, &sub);
    if (sc->whole_abort)
        ck_assert_msg(whole > 0, "%s: no Stream Abort of a whole transaction", path);
    if (sc->sub_abort)
        ck_assert_msg(sub > 0, "%s: no Stream Abort of a subtransaction", path);
}

/* Fail with the first line where the logs differ. */
static void compare_logs(const char *log_path, const char *want, size_t want_len, const char *got)
{
    if (strlen(got) == want_len && memcmp(want, got, want_len) == 0)
        return;
    int line = 1;
    size_t i = 0;
    size_t line_start = 0;
    while (i < want_len && got[i] != '\0' && want[i] == got[i]) {
        if (want[i] == '\n') {
            line++;
            line_start = i + 1;
        }
        i++;
    }
    int wlen = (int)strcspn(want + line_start, "\n");
    if (line_start + (size_t)wlen > want_len)
        wlen = (int)(want_len - line_start);
    int glen = (int)strcspn(got + line_start, "\n");
    ck_abort_msg("%s differs at line %d:\n  expected: %.*s\n  decoded:  %.*s\n"
                 "(PGREPL_FIXTURES_WRITE=1 rewrites the logs)",
                 log_path, line, wlen, want + line_start, glen, got + line_start);
}

START_TEST(fixture_decodes_to_log)
{
    const char *path = fixtures[_i].path;
    int major = fixtures[_i].major;
    const scenario *sc = scenario_of(path);
    ck_assert_msg(sc != NULL, "%s: unknown scenario (add it to scenarios[])", path);
    ck_assert_msg(major >= sc->min_major && major <= sc->max_major, "%s: scenario not expected for PostgreSQL %d",
                  path, major);

    size_t len;
    uint8_t *cap = read_file(path, &len);
    ck_assert_msg(cap != NULL, "cannot read %s", path);
    decoded d = {0};
    declog_init(&d.log);
    decode_capture(path, cap, len, &d);
    free(cap);
    ck_assert_msg(d.messages > 0, "%s: no XLogData", path);
    check_scenario(path, sc, &d);

    char *log_path = strdup(path);
    ck_assert_ptr_nonnull(log_path);
    strcpy(log_path + strlen(log_path) - strlen("cap"), "log");
    const char *write_mode = getenv("PGREPL_FIXTURES_WRITE");
    if (write_mode != NULL && strcmp(write_mode, "1") == 0) {
        write_file(log_path, d.log.text, d.log.len);
    } else {
        size_t want_len;
        char *want = (char *)read_file(log_path, &want_len);
        ck_assert_msg(want != NULL, "cannot read %s (PGREPL_FIXTURES_WRITE=1 writes it)", log_path);
        compare_logs(log_path, want, want_len, d.log.text);
        free(want);
    }
    free(log_path);
    declog_free(&d.log);
}
END_TEST

static Suite *fixtures_suite(void)
{
    Suite *s = suite_create("fixtures");
    TCase *tc = tcase_create("captures");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, every_scenario_captured);
    tcase_add_loop_test(tc, fixture_decodes_to_log, 0, nfixtures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    scan_fixtures();
    int rc = pgrepl_test_run_suite(fixtures_suite());
    for (int i = 0; i < nfixtures; i++)
        free(fixtures[i].path);
    return rc;
}
