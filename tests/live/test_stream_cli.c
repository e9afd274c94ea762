/*
 * examples/pgrepl-stream against a real server of the major given as argv[1].
 *
 * The workload of the decoder's live test (tests/live/workload/) plus a table
 * of edge values for every built-in type family runs once; pgrepl-stream
 * reads it from slots created at the same point:
 *   - in text mode, and in binary mode: both outputs must be byte-identical
 *     and, turned back into decoded messages, must print through tdcompare
 *     exactly what test_decoding prints for a parallel slot (table,
 *     operation, column names, types, values, old key / identity);
 *   - with --streaming while the workload runs (so aborted transactions are
 *     streamed), stopped by SIGINT: the same after reassembly;
 *   - on 15, without two-phase, against the wal2json plugin (format-version
 *     2): the same objects apart from the documented differences.
 * The JSON "type" of every column is checked against the catalog, and "pk"
 * against the replica identity.
 *
 * Then, on a second server: --endpos, acknowledgement (only what is written,
 * for a file only what is fsynced, for a pipe, FIFO or socket only what its
 * reader took), SIGTERM (also while a reader stalls), SIGHUP, reconnecting,
 * a file resumed (a torn line, a transaction cut off by SIGKILL), a file
 * deleted while written, --create-slot [--if-not-exists] [--temporary],
 * --drop-slot, -v and --metrics-file, and bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "harness.h"
#include "minijson.h"
#include "pgrepl/pgrepl.h"
#include "pgrepl/uv.h"
#include "tdcompare.h"
#include "testutil.h"

#define FIRST_NORMAL_OID 16384
#define MIN_LINES 5000
#define EXIT_TIMEOUT_S 120

static int major;

/* ---- processes and files ----------------------------------------------- */

static const char *tool_path(void)
{
    static char path[PGT_PATH_MAX * 2];
    const char *root = getenv("PGREPL_BUILD_ROOT");
    ck_assert_msg(root != NULL, "PGREPL_BUILD_ROOT is not set (run with meson test)");
    snprintf(path, sizeof path, "%s/examples/pgrepl-stream", root);
    ck_assert_msg(access(path, X_OK) == 0, "%s: %s", path, strerror(errno));
    return path;
}

/* Run pgrepl-stream with args (NULL-terminated) in the background, stdout to out_fd, stderr to a file. */
static pid_t spawn_fd(const char *const *args, int out_fd, const char *err)
{
    const char *argv[64] = {tool_path()};
    int argc = 1;
    for (; args[argc - 1] != NULL && argc < 63; argc++)
        argv[argc] = args[argc - 1];
    argv[argc] = NULL;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (e < 0 || dup2(out_fd, STDOUT_FILENO) < 0 || dup2(e, STDERR_FILENO) < 0)
            _exit(126);
        /* a Check test child may block signals; the tool must see them as a user would */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        execv(argv[0], (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    return pid;
}

/* Run pgrepl-stream with args (NULL-terminated) in the background, stdout and stderr to files. */
static pid_t spawn(const char *const *args, const char *out, const char *err)
{
    int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_msg(o >= 0, "cannot open %s: %s", out, strerror(errno));
    pid_t pid = spawn_fd(args, o, err);
    close(o);
    return pid;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Exit status of pid, waiting up to secs; -1 (and the process killed) on timeout, -2 on a signal. */
static int wait_exit(pid_t pid, int secs)
{
    for (int i = 0; i < secs * 20; i++) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        ck_assert_int_ge(r, 0);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
        sleep_ms(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    buf[size] = '\0';
    if (len)
        *len = (size_t)size;
    return buf;
}

static bool file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return false;
    fclose(f);
    char *text = read_file(path, NULL);
    bool found = strstr(text, needle) != NULL;
    free(text);
    return found;
}

static size_t count_of(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Wait up to secs for path to contain needle. */
static bool wait_for_text(const char *path, const char *needle, int secs)
{
    for (int i = 0; i < secs * 20; i++) {
        if (file_contains(path, needle))
            return true;
        sleep_ms(50);
    }
    return false;
}

/* ---- SQL ------------------------------------------------------------------ */

static PGconn *connect_to(const pgt_server *s)
{
    PGconn *conn = PQconnectdb(s->conninfo);
    ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "connection failed: %s", PQerrorMessage(conn));
    return conn;
}

static PGresult *query(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    ck_assert_msg(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s\nfailed: %s", sql, PQerrorMessage(conn));
    return res;
}

/* The one value SQL returns (free it). */
__attribute__((format(printf, 2, 3))) static char *value_of(const pgt_server *s, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    PGconn *conn = connect_to(s);
    PGresult *res = query(conn, sql);
    ck_assert_msg(PQntuples(res) == 1, "%s: %d rows", sql, PQntuples(res));
    char *v = strdup(PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(conn);
    return v;
}

__attribute__((format(printf, 2, 3))) static void sql(const pgt_server *s, const char *fmt, ...)
{
    char text[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    char *out = NULL;
    int rc = pgt_psql(s, NULL, text, &out);
    ck_assert_msg(rc == 0, "psql exited %d for:\n%s", rc, text);
    free(out);
}

static pgrepl_lsn lsn_of(const char *text)
{
    pgrepl_lsn lsn = 0;
    ck_assert_msg(pgrepl_lsn_parse(text, &lsn) == 0, "not an LSN: \"%s\"", text);
    return lsn;
}

/* confirmed_flush_lsn of slot (0 when NULL). */
static pgrepl_lsn confirmed(const pgt_server *s, const char *slot)
{
    char *v = value_of(s, "SELECT coalesce(confirmed_flush_lsn, '0/0') FROM pg_replication_slots WHERE slot_name = '%s'",
                       slot);
    pgrepl_lsn lsn = lsn_of(v);
    free(v);
    return lsn;
}

static bool slot_exists(const pgt_server *s, const char *slot)
{
    char *v = value_of(s, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '%s'", slot);
    bool exists = strcmp(v, "1") == 0;
    free(v);
    return exists;
}

/* Wait until slot has confirmed at least lsn. */
static bool wait_confirmed(const pgt_server *s, const char *slot, pgrepl_lsn lsn, int secs)
{
    for (int i = 0; i < secs * 10; i++) {
        if (confirmed(s, slot) >= lsn)
            return true;
        sleep_ms(100);
    }
    return false;
}

/* The server prints every setting the stream pins differently from it. */
static const char *const unpinned_settings[] = {"timezone=America/New_York", "DateStyle=SQL, DMY",
                                                "IntervalStyle=sql_standard", "extra_float_digits=0",
                                                "bytea_output=escape", NULL};
/* What the stream pins, for the SQL sessions whose output is compared with it. */
static const char pinned_settings[] = "SET DateStyle = ISO; SET TimeZone = 'UTC'; SET IntervalStyle = postgres; "
                                      "SET extra_float_digits = 3; SET bytea_output = hex";

/* ---- the catalog: tables, their columns, what each column must print as ---- */

typedef struct tcol {
    char *name;
    uint32_t oid;
    int32_t typmod;
    char *json_type; /* what "type" must be: format_type for built-ins, the Type message's name otherwise */
    char *w2j_type;  /* what wal2json prints */
    bool key;        /* part of the replica identity */
} tcol;

typedef struct ttable {
    char *schema, *name;
    char ident;
    int ncols;
    tcol *cols;
    pgrepl_column *pcols;
    pgrepl_relation rel;
} ttable;

static ttable *tables;
static int ntables;

static const char catalog_query[] =
    "SELECT n.nspname, c.relname, c.relreplident, a.attname, a.atttypid, a.atttypmod,"
    "  CASE WHEN a.atttypid < 16384 THEN format_type(a.atttypid, a.atttypmod)"
    "  ELSE (SELECT CASE WHEN bn.nspname IN ('public', 'pg_catalog') THEN b.typname"
    "               ELSE bn.nspname || '.' || b.typname END"
    "        FROM pg_type b JOIN pg_namespace bn ON bn.oid = b.typnamespace"
    "        WHERE b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END) END,"
    "  format_type(a.atttypid, a.atttypmod),"
    "  CASE c.relreplident WHEN 'f' THEN true WHEN 'n' THEN false"
    "  ELSE EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND a.attnum = ANY (i.indkey)"
    "               AND CASE WHEN c.relreplident = 'i' THEN i.indisreplident ELSE i.indisprimary END) END"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " JOIN pg_attribute a ON a.attrelid = c.oid JOIN pg_type t ON t.oid = a.atttypid"
    " WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped"
    " ORDER BY c.relname, a.attnum";

/* wal2json prints a quoted type name ("char") without its quotes unless it is an array. */
static char *wal2json_spelling(const char *t)
{
    size_t n = strlen(t);
    if (n >= 2 && t[0] == '"' && t[n - 1] == '"')
        return strndup(t + 1, n - 2);
    return strdup(t);
}

static void load_catalog(const pgt_server *s)
{
    PGconn *conn = connect_to(s);
    PGresult *res = query(conn, catalog_query);
    for (int i = 0; i < PQntuples(res); i++) {
        const char *schema = PQgetvalue(res, i, 0), *name = PQgetvalue(res, i, 1);
        if (ntables == 0 || strcmp(tables[ntables - 1].name, name) != 0) {
            tables = realloc(tables, (size_t)(ntables + 1) * sizeof *tables);
            tables[ntables++] = (ttable){strdup(schema), strdup(name), PQgetvalue(res, i, 2)[0], 0, NULL, NULL, {0}};
        }
        ttable *t = &tables[ntables - 1];
        t->cols = realloc(t->cols, (size_t)(t->ncols + 1) * sizeof *t->cols);
        t->cols[t->ncols++] = (tcol){strdup(PQgetvalue(res, i, 3)), (uint32_t)strtoul(PQgetvalue(res, i, 4), NULL, 10),
                                     (int32_t)strtol(PQgetvalue(res, i, 5), NULL, 10), strdup(PQgetvalue(res, i, 6)),
                                     wal2json_spelling(PQgetvalue(res, i, 7)), PQgetvalue(res, i, 8)[0] == 't'};
    }
    PQclear(res);
    PQfinish(conn);
    for (int i = 0; i < ntables; i++) {
        ttable *t = &tables[i];
        t->pcols = calloc((size_t)t->ncols, sizeof *t->pcols);
        for (int j = 0; j < t->ncols; j++)
            t->pcols[j] = (pgrepl_column){t->cols[j].name, t->cols[j].oid, t->cols[j].typmod,
                                          t->cols[j].key ? PGREPL_COLUMN_KEY : 0, NULL, NULL};
        t->rel = (pgrepl_relation){(uint32_t)(100000 + i), t->schema, t->name, t->ident, t->ncols, t->pcols, 0};
    }
}

static const ttable *table_of(const mj_value *line)
{
    const mj_value *schema = mj_get(line, "schema"), *name = mj_get(line, "table");
    ck_assert_msg(schema != NULL && name != NULL, "a change without schema or table");
    for (int i = 0; i < ntables; i++)
        if (mj_is_str(schema, tables[i].schema) && mj_is_str(name, tables[i].name))
            return &tables[i];
    ck_abort_msg("no table %s.%s in the catalog", schema->str, name->str);
    return NULL;
}

/* test_decoding names types by format_type(oid, NULL); the names of non-built-in ones come from the server. */
static void add_type_names(const pgt_server *s, tdcompare *t)
{
    PGconn *conn = connect_to(s);
    PGresult *res = query(conn, "SELECT DISTINCT t.oid, format_type(t.oid, NULL) FROM pg_attribute a"
                                " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_type t ON t.oid = a.atttypid"
                                " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'"
                                " AND a.attnum > 0 AND NOT a.attisdropped");
    for (int i = 0; i < PQntuples(res); i++) {
        uint32_t oid = (uint32_t)strtoul(PQgetvalue(res, i, 0), NULL, 10);
        if (oid >= FIRST_NORMAL_OID)
            tdc_set_type_name(t, oid, PQgetvalue(res, i, 1));
    }
    PQclear(res);
    PQfinish(conn);
}

/* ---- JSON lines back into decoded messages ------------------------------------ */

typedef struct lines {
    char **v;
    size_t n;
} lines;

static lines split_lines(char *text)
{
    lines l = {NULL, 0};
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        ck_assert_msg(nl != NULL, "the output ends without a newline");
        *nl = '\0';
        l.v = realloc(l.v, (l.n + 1) * sizeof *l.v);
        l.v[l.n++] = p;
        p = nl + 1;
    }
    return l;
}

/* Every line of an output file, parsed. */
typedef struct doc {
    char *text;
    lines raw;
    mj_value **obj;
} doc;

static doc load_output(const char *path)
{
    doc d;
    size_t len;
    d.text = read_file(path, &len);
    char *copy = malloc(len + 1);
    memcpy(copy, d.text, len + 1);
    d.raw = split_lines(copy);
    d.obj = calloc(d.raw.n + 1, sizeof *d.obj);
    for (size_t i = 0; i < d.raw.n; i++) {
        char err[256];
        d.obj[i] = mj_parse(d.raw.v[i], strlen(d.raw.v[i]), err, sizeof err);
        ck_assert_msg(d.obj[i] != NULL, "%s line %zu is not valid JSON (%s): %.300s", path, i + 1, err, d.raw.v[i]);
    }
    return d;
}

static void free_doc(doc *d)
{
    for (size_t i = 0; i < d->raw.n; i++)
        mj_free(d->obj[i]);
    free(d->obj);
    if (d->raw.n > 0)
        free(d->raw.v[0]);
    free(d->raw.v);
    free(d->text);
}

static char action_of(const mj_value *o)
{
    const mj_value *a = mj_get(o, "action");
    ck_assert_msg(a != NULL && a->type == MJ_STRING && a->len == 1, "a line without a one-letter action");
    return a->str[0];
}

static uint32_t u32_of(const mj_value *o, const char *key)
{
    const mj_value *v = mj_get(o, key);
    ck_assert_msg(v != NULL && v->type == MJ_NUMBER, "\"%s\" is not a number", key);
    return (uint32_t)strtoul(v->str, NULL, 10);
}

static const char *str_of(const mj_value *o, const char *key)
{
    const mj_value *v = mj_get(o, key);
    ck_assert_msg(v != NULL && v->type == MJ_STRING, "\"%s\" is not a string", key);
    return v->str;
}

static pgrepl_lsn lsn_at(const mj_value *o, const char *key)
{
    return lsn_of(str_of(o, key));
}

/* Storage for the values of one line: texts pgoutput would have sent in text mode. */
typedef struct tuple_buf {
    pgrepl_value v[1700];
    char *text[1700];
    pgrepl_tuple t;
} tuple_buf;

static void tb_free(tuple_buf *b)
{
    for (int i = 0; i < b->t.ncolumns; i++)
        free(b->text[i]);
}

/*
 * Fill b from a JSON column array: each column's "type" must be what the
 * catalog says; columns missing from the array are unchanged TOAST values
 * (missing = 'u') or not part of the old key (missing = 'n').
 */
static void fill_tuple(tuple_buf *b, const ttable *t, const mj_value *arr, char missing)
{
    ck_assert_msg(arr != NULL && arr->type == MJ_ARRAY, "%s: a column array is missing", t->name);
    b->t = (pgrepl_tuple){t->ncols, b->v};
    size_t used = 0;
    for (int i = 0; i < t->ncols; i++) {
        const tcol *c = &t->cols[i];
        const mj_value *item = NULL;
        for (size_t k = 0; k < arr->n && item == NULL; k++)
            if (mj_is_str(mj_get(&arr->items[k], "name"), c->name))
                item = &arr->items[k];
        b->text[i] = NULL;
        if (item == NULL) {
            b->v[i] = (pgrepl_value){missing, 0, NULL};
            continue;
        }
        used++;
        const mj_value *type = mj_get(item, "type"), *value = mj_get(item, "value");
        ck_assert_msg(mj_is_str(type, c->json_type), "%s.%s: type \"%s\", want \"%s\"", t->name, c->name,
                      type && type->type == MJ_STRING ? type->str : "?", c->json_type);
        ck_assert_msg(value != NULL, "%s.%s: no value", t->name, c->name);
        if (value->type == MJ_NULL) {
            b->v[i] = (pgrepl_value){PGREPL_VALUE_NULL, 0, NULL};
            continue;
        }
        char *text;
        if (value->type == MJ_BOOL) {
            text = strdup(value->b ? "t" : "f");
        } else if (value->type == MJ_STRING && c->oid == PGREPL_BYTEAOID) {
            text = malloc(value->len + 3);
            memcpy(text, "\\x", 2);
            memcpy(text + 2, value->str, value->len + 1);
        } else {
            ck_assert_msg(value->type == MJ_STRING || value->type == MJ_NUMBER, "%s.%s: value of JSON type %d",
                          t->name, c->name, value->type);
            text = strndup(value->str, value->len);
        }
        b->text[i] = text;
        b->v[i] = (pgrepl_value){PGREPL_VALUE_TEXT, (uint32_t)strlen(text), (const uint8_t *)text};
    }
    ck_assert_msg(used == arr->n, "%s: %zu columns printed, %zu known", t->name, arr->n, used);
}

/* "pk" lists the replica identity columns, in table order. */
static void check_pk(const ttable *t, const mj_value *pk)
{
    ck_assert_msg(pk != NULL && pk->type == MJ_ARRAY, "%s: no pk", t->name);
    size_t k = 0;
    for (int i = 0; i < t->ncols; i++) {
        if (!t->cols[i].key)
            continue;
        ck_assert_msg(k < pk->n && mj_is_str(mj_get(&pk->items[k], "name"), t->cols[i].name) &&
                          mj_is_str(mj_get(&pk->items[k], "type"), t->cols[i].json_type),
                      "%s: pk should list %s", t->name, t->cols[i].name);
        k++;
    }
    ck_assert_msg(k == pk->n, "%s: pk lists %zu columns, the identity has %zu", t->name, pk->n, k);
}

/* An old tuple was sent when the identity is FULL, or when the key changed. */
static bool key_changed(const ttable *t, const tuple_buf *old, const tuple_buf *new)
{
    for (int i = 0; i < t->ncols; i++) {
        const pgrepl_value *a = &old->v[i], *b = &new->v[i];
        if (!t->cols[i].key)
            continue;
        if (a->kind != b->kind || a->len != b->len || (a->len > 0 && memcmp(a->data, b->data, a->len) != 0))
            return true;
    }
    return false;
}

typedef struct replay {
    tdcompare *tdc;
    long counts[256];
    long whole_aborts, sub_aborts;
    uint32_t streams[64];   /* open streamed transactions */
    int nstreams;
    bool in_block;          /* between S and E */
    /* consecutive T lines of one Truncate message */
    const pgrepl_relation *trunc_rels[64];
    int ntrunc;
    pgrepl_msg_truncate trunc;
    const char *where;
} replay;

static void call(replay *r, int rc)
{
    ck_assert_msg(rc == 0, "%s: %s", r->where, tdc_error(r->tdc) ? tdc_error(r->tdc) : "callback failed");
}

static void flush_truncate(replay *r)
{
    if (r->ntrunc == 0)
        return;
    r->trunc.nrelations = r->ntrunc;
    r->trunc.relations = r->trunc_rels;
    call(r, tdc_callbacks.on_truncate(r->tdc, &r->trunc));
    r->ntrunc = 0;
}

static bool stream_open(const replay *r, uint32_t xid)
{
    for (int i = 0; i < r->nstreams; i++)
        if (r->streams[i] == xid)
            return true;
    return false;
}

static void stream_close(replay *r, uint32_t xid)
{
    for (int i = 0; i < r->nstreams; i++)
        if (r->streams[i] == xid)
            r->streams[i] = r->streams[--r->nstreams];
}

static void replay_change(replay *r, char action, const mj_value *o)
{
    const ttable *t = table_of(o);
    static tuple_buf nb, ob;
    pgrepl_msg_change m = {{lsn_at(o, "lsn"), 0, 0}, u32_of(o, "xid"), r->in_block, &t->rel, 0, NULL, NULL};
    check_pk(t, mj_get(o, "pk"));
    nb.t.ncolumns = ob.t.ncolumns = 0;
    if (action != 'D') {
        fill_tuple(&nb, t, mj_get(o, "columns"), PGREPL_VALUE_UNCHANGED);
        m.new_tuple = &nb.t;
    }
    if (action != 'I') {
        bool full = t->ident == 'f';
        fill_tuple(&ob, t, mj_get(o, "identity"), full ? PGREPL_VALUE_UNCHANGED : PGREPL_VALUE_NULL);
        if (action == 'D' || full || key_changed(t, &ob, &nb)) {
            m.old_kind = full ? 'O' : 'K';
            m.old_tuple = &ob.t;
        }
    }
    if (action == 'I')
        call(r, tdc_callbacks.on_insert(r->tdc, &m));
    else if (action == 'U')
        call(r, tdc_callbacks.on_update(r->tdc, &m));
    else
        call(r, tdc_callbacks.on_delete(r->tdc, &m));
    tb_free(&nb);
    tb_free(&ob);
}

static void replay_truncate(replay *r, const mj_value *o)
{
    pgrepl_lsn lsn = lsn_at(o, "lsn");
    uint32_t xid = u32_of(o, "xid");
    const mj_value *cascade = mj_get(o, "cascade"), *restart = mj_get(o, "restart_identity");
    ck_assert(cascade && cascade->type == MJ_BOOL && restart && restart->type == MJ_BOOL);
    uint8_t options = (uint8_t)((cascade->b ? PGREPL_TRUNCATE_CASCADE : 0) |
                                (restart->b ? PGREPL_TRUNCATE_RESTART_IDENTITY : 0));
    if (r->ntrunc > 0 && (r->trunc.wal.start != lsn || r->trunc.xid != xid || r->trunc.options != options))
        flush_truncate(r);
    if (r->ntrunc == 0)
        r->trunc = (pgrepl_msg_truncate){{lsn, 0, 0}, xid, r->in_block, options, 0, NULL};
    ck_assert_int_lt(r->ntrunc, 64);
    r->trunc_rels[r->ntrunc++] = &table_of(o)->rel;
}

static void replay_message(replay *r, const mj_value *o)
{
    const mj_value *tx = mj_get(o, "transactional"), *content = mj_get(o, "content");
    ck_assert(tx && tx->type == MJ_BOOL && content && content->type == MJ_STRING);
    const mj_value *xid = mj_get(o, "xid");
    pgrepl_msg_logical m = {{0, 0, 0}, xid && xid->type == MJ_NUMBER ? u32_of(o, "xid") : 0, tx->b && r->in_block, tx->b,
                        lsn_at(o, "lsn"), str_of(o, "prefix"), (const uint8_t *)content->str, (uint32_t)content->len};
    ck_assert_msg(tx->b || (mj_get(o, "xid")->type == MJ_NULL && mj_get(o, "timestamp")->type == MJ_NULL),
                  "a non-transactional message with an xid or a time");
    call(r, tdc_callbacks.on_message(r->tdc, &m));
}

static void replay_unit(replay *r, char action, const mj_value *o)
{
    uint32_t xid = u32_of(o, "xid");
    switch (action) {
    case 'B': {
        pgrepl_msg_begin m = {{0, 0, 0}, lsn_at(o, "lsn"), 0, xid};
        call(r, tdc_callbacks.on_begin(r->tdc, &m));
        break;
    }
    case 'C': {
        pgrepl_msg_commit m = {{0, 0, 0}, 0, lsn_at(o, "lsn"), lsn_at(o, "nextlsn"), 0, xid};
        ck_assert_msg(m.end_lsn > m.commit_lsn, "nextlsn must follow lsn");
        if (stream_open(r, xid)) {
            stream_close(r, xid);
            call(r, tdc_callbacks.on_stream_commit(r->tdc, &m));
        } else {
            call(r, tdc_callbacks.on_commit(r->tdc, &m));
        }
        break;
    }
    case 'b':
    case 'P':
    case 'p': {
        pgrepl_msg_prepare m = {{0, 0, 0}, 0, lsn_at(o, "lsn"), 0, 0, xid, str_of(o, "gid")};
        if (action == 'b') {
            call(r, tdc_callbacks.on_begin_prepare(r->tdc, &m));
        } else if (action == 'P') {
            call(r, tdc_callbacks.on_prepare(r->tdc, &m));
        } else {
            stream_close(r, xid);
            call(r, tdc_callbacks.on_stream_prepare(r->tdc, &m));
        }
        break;
    }
    case 'K': {
        pgrepl_msg_commit_prepared m = {{0, 0, 0}, 0, lsn_at(o, "lsn"), lsn_at(o, "nextlsn"), 0, xid, str_of(o, "gid")};
        call(r, tdc_callbacks.on_commit_prepared(r->tdc, &m));
        break;
    }
    case 'r': {
        pgrepl_msg_rollback_prepared m = {{0, 0, 0}, 0, lsn_at(o, "prepare_nextlsn"), lsn_at(o, "nextlsn"), 0, 0, xid,
                                      str_of(o, "gid")};
        call(r, tdc_callbacks.on_rollback_prepared(r->tdc, &m));
        break;
    }
    default:
        ck_abort_msg("unit action '%c'", action);
    }
}

static void replay_stream(replay *r, char action, const mj_value *o)
{
    if (action == 'E') {
        r->in_block = false;
        pgrepl_msg_stream_stop m = {{0, 0, 0}, 0};
        call(r, tdc_callbacks.on_stream_stop(r->tdc, &m));
        return;
    }
    uint32_t xid = u32_of(o, "xid");
    if (action == 'S') {
        const mj_value *first = mj_get(o, "first");
        ck_assert(first && first->type == MJ_BOOL);
        if (!stream_open(r, xid)) {
            ck_assert_int_lt(r->nstreams, 64);
            r->streams[r->nstreams++] = xid;
        }
        r->in_block = true;
        pgrepl_msg_stream_start m = {{0, 0, 0}, xid, first->b};
        call(r, tdc_callbacks.on_stream_start(r->tdc, &m));
        return;
    }
    uint32_t subxid = u32_of(o, "subxid");
    if (subxid == xid) {
        stream_close(r, xid);
        r->whole_aborts++;
    } else {
        r->sub_aborts++;
    }
    pgrepl_msg_stream_abort m = {{0, 0, 0}, xid, subxid, false, 0, 0};
    call(r, tdc_callbacks.on_stream_abort(r->tdc, &m));
}

/* Feed every line of d to tdcompare as the decoded messages it stands for. */
static void replay_doc(replay *r, const doc *d, const char *name)
{
    char where[256];
    r->where = where;
    for (size_t i = 0; i < d->raw.n; i++) {
        const mj_value *o = d->obj[i];
        char action = action_of(o);
        snprintf(where, sizeof where, "%s line %zu ('%c')", name, i + 1, action);
        r->counts[(unsigned char)action]++;
        if (action != 'T')
            flush_truncate(r);
        switch (action) {
        case 'I':
        case 'U':
        case 'D': replay_change(r, action, o); break;
        case 'T': replay_truncate(r, o); break;
        case 'M': replay_message(r, o); break;
        case 'S':
        case 'E':
        case 'A': replay_stream(r, action, o); break;
        default: replay_unit(r, action, o); break;
        }
    }
    flush_truncate(r);
    ck_assert_msg(tdc_finish(r->tdc) == 0, "%s: %s", name, tdc_error(r->tdc));
}

/* ---- comparing lines ------------------------------------------------------------- */

static void compare_lines(const char *an, const char *const *a, size_t na, const char *bn, const char *const *b,
                          size_t nb)
{
    size_t i = 0;
    while (i < na && i < nb && strcmp(a[i], b[i]) == 0)
        i++;
    if (i == na && i == nb)
        return;
    fprintf(stderr, "PostgreSQL %d: %s and %s differ at line %zu\n", major, an, bn, i + 1);
    for (size_t k = i > 2 ? i - 2 : 0; k < i + 3; k++) {
        if (k < na)
            fprintf(stderr, "  %s %zu: %.400s\n", an, k + 1, a[k]);
        if (k < nb)
            fprintf(stderr, "  %s %zu: %.400s\n", bn, k + 1, b[k]);
    }
    ck_abort_msg("%s and %s differ at line %zu (%zu and %zu lines)", an, bn, i + 1, na, nb);
}

/* ============================================================================
 * The workload
 * ========================================================================== */

static pgt_server wsrv;
static char workdir[PGT_PATH_MAX];
static char endpos[64];
static char **td_lines;
static size_t td_n;
static char **w2j_lines;
static size_t w2j_n;
static int stream_status = -100;
static pgrepl_lsn stream_last_end;   /* nextlsn of the last C of the streamed run */
static pgrepl_lsn stream_confirmed;  /* the slot's confirmed_flush_lsn after the run */

/* The workload before the edge rows and 99-done.sql; a part runs only on servers from min_major to max_major. */
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
};

/* Every built-in type family with edge values, in a table of its own (two rows each). */
static const char edge_schema[] =
    "CREATE TABLE cli_types (id integer PRIMARY KEY,"
    " i2 smallint, i4 integer, i8 bigint, o oid, f4 real, f8 double precision, n numeric, n_mod numeric(20,10),"
    " t text, vc varchar(10), c char(3), qc \"char\", nm name, by bytea, b boolean, u uuid,"
    " d date, tm time(3), ttz timetz, ts timestamp, tstz timestamptz(2), iv interval,"
    " j json, jb jsonb, ip inet, cid cidr, mac macaddr, mac8 macaddr8, bt bit(5), vb varbit,"
    " ai integer[], at text[], a2 float8[], an numeric[], ab bool[], ats timestamptz[],"
    " e mood, dm posint, r4 int4range, r8 int8range, rn numrange, rd daterange,"
    " rts tsrange, rtz tstzrange, mr int4multirange);";

static const char edge_rows[] =
    "INSERT INTO cli_types VALUES (1, 32767, -2147483648, 9223372036854775807, 0,"
    " 'Infinity', 'NaN', '-Infinity', 9999999999.9999999999,"
    " E'tab\\there\\nnew \"q\" \\\\ \\u00e9\\u20ac\\U0001F600 \\x01\\x1f', 'ten chars!', 'a', '\"', 'nm',"
    " '\\x', false, '00000000-0000-0000-0000-000000000000',"
    " '-infinity', '23:59:59.999', '00:00:00-15:59', 'infinity', '0001-01-01 00:00:00 BC', '-1 year -2 mons +3 days -04:05:06.789',"
    " '[]', '{\"k\": \"\\u00e9\", \"n\": 1e3, \"a\": [true, null]}', '::1/128', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff',"
    " '00:00:00:00:00:00:00:01', B'10101', B'',"
    " '[0:2]={-1,0,1}', '{\"\",\" \",\"a,b\",\"{}\",\"\\\\\\\\\"}', '{{NaN,Infinity},{-Infinity,-0}}',"
    " '{0.000001,-1e-20,1e20}', '{t,f,NULL}', '{\"2024-02-29 23:59:59.999999+00\",infinity}',"
    " 'happy', 2147483647, '(,5]', '[-9223372036854775808,9223372036854775807)', '(0.5,1.5]',"
    " '[2024-01-01,)', '(,)', '[\"2024-01-01 12:00:00.5+05:30\",\"2024-01-02 00:00:00-08\")', '{[1,2),(5,)}');"
    "INSERT INTO cli_types VALUES (2, -32768, 0, -9223372036854775808, 4294967295,"
    " '-0', '5e-324', '1e-16383', -1e-16383::numeric(20,10),"
    " '', '', '   ', 'z', '', '\\x00ff10', true, 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',"
    " '5874897-12-31', '00:00', '24:00:00+15:59', '294276-12-31 23:59:59.999999', '4713-11-24 00:00:00+00 BC', '0',"
    " '\"just a string\"', '[]', '0.0.0.0/0', '255.255.255.255/32', '00:00:00:00:00:00',"
    " 'ff:ff:ff:ff:ff:ff:ff:ff', B'00000', B'1111111111111111111111111111111111111111',"
    " '{{{1}},{{NULL}}}', '{NULL}', '{1.7976931348623157e308,2.2250738585072014e-308}',"
    " '{NaN,Infinity,-Infinity,12345678901234567890.12345678901234567890}', '{}', '{-infinity}',"
    " 'it''s', 1, 'empty', 'empty', '[1e-10,1e10)', '[1999-12-31,2000-01-01]', 'empty',"
    " '[-infinity,infinity]', '{}');"
    "INSERT INTO cli_types (id) VALUES (3);"
    "UPDATE cli_types SET f8 = 'Infinity', n = 'NaN', t = repeat('x', 3000) WHERE id = 1;"
    "DELETE FROM cli_types WHERE id = 3;";

static void run_part(const char *file)
{
    char path[PGT_PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/tests/live/workload/%s", getenv("PGREPL_SOURCE_ROOT"), file);
    char *text = read_file(path, NULL);
    char *out = NULL;
    int rc = pgt_psql(&wsrv, NULL, text, &out);
    ck_assert_msg(rc == 0, "psql exited %d for %s", rc, file);
    free(out);
    free(text);
}

static void wpath(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", workdir, name);
}

/* Run pgrepl-stream on slot up to endpos with the given options; it must exit 0. */
static void run_to_endpos(const char *slot, const char *name, const char *opt1, const char *opt2, const char *opt3)
{
    char out[PGT_PATH_MAX + 64], err[PGT_PATH_MAX + 128];
    wpath(out, sizeof out, name);
    snprintf(err, sizeof err, "%s.err", out);
    const char *args[16] = {"-d", wsrv.conninfo, "-S", slot, "-P", "pub", "-E", endpos, "-F", "0"};
    int n = 10;
    const char *opts[] = {opt1, opt2, opt3};
    for (int i = 0; i < 3; i++)
        if (opts[i] != NULL)
            args[n++] = opts[i];
    args[n] = NULL;
    int rc = wait_exit(spawn(args, out, err), EXIT_TIMEOUT_S);
    char *errtext = read_file(err, NULL);
    ck_assert_msg(rc == 0, "pgrepl-stream on %s exited %d:\n%s", slot, rc, errtext);
    free(errtext);
}

static char **fetch_lines(const char *sql_text, size_t *n)
{
    PGconn *conn = connect_to(&wsrv);
    PQclear(query(conn, pinned_settings));
    PGresult *res = query(conn, sql_text);
    *n = (size_t)PQntuples(res);
    char **v = malloc((*n + 1) * sizeof *v);
    for (size_t i = 0; i < *n; i++)
        v[i] = strdup(PQgetvalue(res, (int)i, 0));
    PQclear(res);
    PQfinish(conn);
    return v;
}

/* nextlsn of the C line that follows the insert into "done". */
static pgrepl_lsn done_commit_end(const char *path)
{
    char *text = read_file(path, NULL);
    char *at = strstr(text, "\"table\":\"done\"");
    pgrepl_lsn end = 0;
    char *c = at ? strstr(at, "{\"action\":\"C\"") : NULL;
    char *next = c ? strstr(c, "\"nextlsn\":\"") : NULL;
    if (next != NULL) {
        next += 11;
        char *q = strchr(next, '"');
        *q = '\0';
        end = lsn_of(next);
    }
    free(text);
    return end;
}

/*
 * Slots for every reader at the same point, the streamed run in the
 * background during the workload, then the runs up to the end position.
 */
static void workload_setup(void)
{
    ck_assert_msg(pgt_server_start(&wsrv, major, unpinned_settings) == 0, "PostgreSQL %d did not start: %s", major,
                  wsrv.errmsg);
    /* the server's directory goes when the server is stopped */
    snprintf(workdir, sizeof workdir, "%s", wsrv.dir);
    run_part("00-schema.sql");
    /*
     * An array of an enum cannot be printed from its binary form (values.h:
     * the stream does not say what its elements are), so the binary run would
     * stop at it (binary_needs_the_catalog covers that error): here it holds
     * the same labels as text.
     */
    sql(&wsrv, "ALTER TABLE all_types ALTER COLUMN c_mood_arr TYPE text[]");
    sql(&wsrv, "%s", edge_schema);
    const char *tp = major >= 15 ? "true" : "false";
    sql(&wsrv,
        "SELECT pg_create_logical_replication_slot('cli_text', 'pgoutput', false, %s);"
        "SELECT pg_create_logical_replication_slot('cli_bin', 'pgoutput', false, %s);"
        "SELECT pg_create_logical_replication_slot('cli_stream', 'pgoutput', false, %s);"
        "SELECT pg_create_logical_replication_slot('cli_td', 'test_decoding', false, %s);",
        tp, tp, tp, tp);
    if (major == 15)
        sql(&wsrv, "SELECT pg_create_logical_replication_slot('cli_1p', 'pgoutput');"
                   "SELECT pg_create_logical_replication_slot('cli_w2j', 'wal2json');");
    load_catalog(&wsrv);

    char out[PGT_PATH_MAX + 64], err[PGT_PATH_MAX + 64];
    wpath(out, sizeof out, "stream.jsonl");
    wpath(err, sizeof err, "stream.err");
    const char *args[] = {"-d", wsrv.conninfo, "-S", "cli_stream", "-P", "pub", "-f", out, "-F", "0.2", "-s", "0.2",
                          "--messages", "--streaming", major >= 15 ? "--two-phase" : NULL, NULL};
    pid_t streamer = spawn(args, "/dev/null", err);

    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (major >= parts[i].min_major && major <= parts[i].max_major)
            run_part(parts[i].file);
    sql(&wsrv, "%s", edge_rows);
    run_part("99-done.sql");
    char *lsn = value_of(&wsrv, "SELECT pg_current_wal_lsn()");
    snprintf(endpos, sizeof endpos, "%s", lsn);
    free(lsn);

    /* the streamed run: everything out and acknowledged, then SIGINT */
    ck_assert_msg(wait_for_text(out, "\"table\":\"done\"", 120), "the streamed run never printed the last insert");
    for (int i = 0; i < 100 && (stream_last_end = done_commit_end(out)) == 0; i++)
        sleep_ms(100);
    ck_assert_msg(stream_last_end != 0, "no commit after the last insert");
    ck_assert_msg(wait_confirmed(&wsrv, "cli_stream", stream_last_end, 60), "the streamed run was never acknowledged");
    kill(streamer, SIGINT);
    stream_status = wait_exit(streamer, EXIT_TIMEOUT_S);
    stream_confirmed = confirmed(&wsrv, "cli_stream");

    run_to_endpos("cli_text", "text.jsonl", "--messages", major >= 15 ? "--two-phase" : NULL, NULL);
    run_to_endpos("cli_bin", "binary.jsonl", "--messages", "--binary", major >= 15 ? "--two-phase" : NULL);
    char q[512];
    snprintf(q, sizeof q,
             "SELECT data FROM pg_logical_slot_get_changes('cli_td', '%s', NULL, 'include-xids', '0',"
             " 'skip-empty-xacts', '1', 'include-timestamp', '0')",
             endpos);
    td_lines = fetch_lines(q, &td_n);
    if (major == 15) {
        run_to_endpos("cli_1p", "one-phase.jsonl", "--messages", NULL, NULL);
        snprintf(q, sizeof q,
                 "SELECT data FROM pg_logical_slot_get_changes('cli_w2j', '%s', NULL, 'format-version', '2',"
                 " 'include-xids', '1', 'include-timestamp', '1', 'include-lsn', '1', 'include-pk', '1',"
                 " 'include-transaction', '1')",
                 endpos);
        w2j_lines = fetch_lines(q, &w2j_n);
    }
}

static void workload_teardown(void)
{
    pgt_server_stop(&wsrv);
}

/* Replay an output through tdcompare and compare with test_decoding. */
static void check_against_test_decoding(const char *file, replay *r)
{
    char path[PGT_PATH_MAX + 64];
    wpath(path, sizeof path, file);
    doc d = load_output(path);
    ck_assert_msg(d.raw.n > MIN_LINES, "%s: only %zu lines", file, d.raw.n);
    r->tdc = tdc_new(TDC_VALUES, major);
    add_type_names(&wsrv, r->tdc);
    replay_doc(r, &d, file);
    size_t n = tdc_nlines(r->tdc);
    const char **mine = malloc((n + 1) * sizeof *mine);
    for (size_t i = 0; i < n; i++)
        mine[i] = tdc_line(r->tdc, i);
    compare_lines(file, mine, n, "test_decoding", (const char *const *)td_lines, td_n);
    free(mine);
    tdc_free(r->tdc);
    free_doc(&d);
}

START_TEST(text_mode_matches_test_decoding)
{
    replay r = {0};
    check_against_test_decoding("text.jsonl", &r);
    const char *must = major >= 15 ? "BCIUDTMbPKr" : "BCIUDTM";
    for (const char *a = must; *a; a++)
        ck_assert_msg(r.counts[(unsigned char)*a] > 0, "no '%c' line", *a);
    ck_assert_msg(r.counts['S'] == 0, "S lines without --streaming");
}
END_TEST

START_TEST(binary_mode_prints_like_text_mode)
{
    char a[PGT_PATH_MAX + 64], b[PGT_PATH_MAX + 64];
    wpath(a, sizeof a, "text.jsonl");
    wpath(b, sizeof b, "binary.jsonl");
    size_t na, nb;
    char *ta = read_file(a, &na), *tb = read_file(b, &nb);
    /* the edge rows are there */
    ck_assert_ptr_nonnull(strstr(ta, "\"table\":\"cli_types\""));
    lines la = split_lines(ta), lb = split_lines(tb);
    ck_assert_uint_gt(la.n, MIN_LINES);
    compare_lines("text mode", (const char *const *)la.v, la.n, "binary mode", (const char *const *)lb.v, lb.n);
    free(la.v);
    free(lb.v);
    free(ta);
    free(tb);
}
END_TEST

START_TEST(streaming_matches_test_decoding)
{
    ck_assert_msg(stream_status == 0, "the streamed run exited %d after SIGINT", stream_status);
    /* the final status update confirmed everything printed, and nothing beyond what the server sent */
    ck_assert_msg(stream_confirmed >= stream_last_end, "confirmed_flush_lsn is behind the last commit");
    replay r = {0};
    check_against_test_decoding("stream.jsonl", &r);
    for (const char *a = "SEAC"; *a; a++)
        ck_assert_msg(r.counts[(unsigned char)*a] > 0, "no '%c' line", *a);
    ck_assert_msg(r.whole_aborts > 0 && r.sub_aborts > 0, "aborts: %ld whole, %ld of subtransactions",
                  r.whole_aborts, r.sub_aborts);
    if (major >= 15)
        ck_assert_msg(r.counts['p'] > 0, "no 'p' (Stream Prepare) line");
}
END_TEST

/* ---- wal2json (PostgreSQL 15) ---------------------------------------------------- */

/* RFC 3339 UTC ("...T13:56:57.383134Z") or wal2json's "... 13:56:57.383134+00": the same text. */
static void normalize_time(mj_value *v)
{
    if (v == NULL || v->type != MJ_STRING)
        return;
    int y, mo, d, h, mi, s;
    char frac[16] = "";
    int n = sscanf(v->str, "%d-%d-%d%*[ T]%d:%d:%d.%15[0-9]", &y, &mo, &d, &h, &mi, &s, frac);
    ck_assert_msg(n >= 6, "not a timestamp: %s", v->str);
    ck_assert_msg(strstr(v->str, "Z") != NULL || strstr(v->str, "+00") != NULL, "not UTC: %s", v->str);
    while (strlen(frac) < 6)
        strcat(frac, "0");
    char buf[64];
    snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%s", y, mo, d, h, mi, s, frac);
    free(v->str);
    v->str = strdup(buf);
    v->len = strlen(buf);
}

static const tcol *column_of(const ttable *t, const char *name)
{
    for (int i = 0; i < t->ncols; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return &t->cols[i];
    ck_abort_msg("%s has no column %s", t->name, name);
    return NULL;
}

static bool number_type(uint32_t oid)
{
    return oid == PGREPL_INT2OID || oid == PGREPL_INT4OID || oid == PGREPL_INT8OID || oid == PGREPL_OIDOID ||
           oid == PGREPL_FLOAT4OID || oid == PGREPL_FLOAT8OID || oid == PGREPL_NUMERICOID;
}

/*
 * Our columns, as wal2json would print them. Documented: NaN and the
 * infinities are strings (wal2json: null). Not yet in output-format.md:
 * "type" follows the spec (format_type, or pgoutput's Type message for
 * types that are not built in: a domain's base type, "_mood" for mood[]);
 * wal2json prints format_type of the column's own type, "char" unquoted.
 */
static void ours_as_wal2json(const ttable *t, mj_value *arr)
{
    for (size_t i = 0; arr && i < arr->n; i++) {
        mj_value *item = &arr->items[i];
        const tcol *c = column_of(t, mj_get(item, "name")->str);
        mj_value *type = (mj_value *)(uintptr_t)mj_get(item, "type");
        ck_assert_msg(mj_is_str(type, c->json_type), "%s.%s: type %s", t->name, c->name, type->str);
        free(type->str);
        type->str = strdup(c->w2j_type);
        type->len = strlen(type->str);
        mj_value *value = (mj_value *)(uintptr_t)mj_get(item, "value");
        if (value != NULL && value->type == MJ_STRING && number_type(c->oid)) {
            ck_assert_msg(strcmp(value->str, "NaN") == 0 || strcmp(value->str, "Infinity") == 0 ||
                              strcmp(value->str, "-Infinity") == 0,
                          "%s.%s: number printed as \"%s\"", t->name, c->name, value->str);
            free(value->str);
            value->str = NULL;
            value->len = 0;
            value->type = MJ_NULL;
        }
    }
}

/* Apply the documented differences to a line of either side. */
static void normalize(mj_value *o, bool ours)
{
    char action = action_of(o);
    normalize_time((mj_value *)(uintptr_t)mj_get(o, "timestamp"));
    if (action == 'B' && !ours)
        mj_remove(o, "nextlsn");
    if (action == 'T' && ours) {
        mj_remove(o, "cascade");
        mj_remove(o, "restart_identity");
    }
    if (action != 'I' && action != 'U' && action != 'D')
        return;
    const ttable *t = table_of(o);
    /* pk: ours is the replica identity, wal2json's the primary key; they agree for the default identity */
    if (t->ident != 'd')
        mj_remove(o, "pk");
    if (ours) {
        ours_as_wal2json(t, (mj_value *)(uintptr_t)mj_get(o, "columns"));
        ours_as_wal2json(t, (mj_value *)(uintptr_t)mj_get(o, "identity"));
    }
}

START_TEST(wal2json_gives_the_same_objects)
{
    char path[PGT_PATH_MAX + 64];
    wpath(path, sizeof path, "one-phase.jsonl");
    doc ours = load_output(path);
    ck_assert_uint_gt(ours.raw.n, MIN_LINES);
    /* wal2json's lines, without the B/C pairs of transactions with nothing published */
    mj_value **theirs = calloc(w2j_n + 1, sizeof *theirs);
    size_t n = 0;
    for (size_t i = 0; i < w2j_n; i++) {
        char err[256];
        mj_value *v = mj_parse(w2j_lines[i], strlen(w2j_lines[i]), err, sizeof err);
        ck_assert_msg(v != NULL, "wal2json line %zu: %s", i + 1, err);
        if (action_of(v) == 'C' && n > 0 && action_of(theirs[n - 1]) == 'B') {
            mj_free(theirs[--n]);
            mj_free(v);
            continue;
        }
        theirs[n++] = v;
    }
    ck_assert_msg(n == ours.raw.n, "wal2json printed %zu lines, pgrepl-stream %zu", n, ours.raw.n);
    for (size_t i = 0; i < n; i++) {
        normalize(ours.obj[i], true);
        normalize(theirs[i], false);
        if (!mj_equal(ours.obj[i], theirs[i])) {
            char *a = mj_dump(ours.obj[i]), *b = mj_dump(theirs[i]);
            fprintf(stderr, "line %zu differs:\npgrepl-stream: %.2000s\nwal2json:      %.2000s\n", i + 1, a, b);
            ck_abort_msg("line %zu differs from wal2json", i + 1);
        }
    }
    for (size_t i = 0; i < n; i++)
        mj_free(theirs[i]);
    free(theirs);
    free_doc(&ours);
}
END_TEST

/* ============================================================================
 * Behaviour, on a server of its own
 * ========================================================================== */

static pgt_server bsrv;

static void behaviour_setup(void)
{
    ck_assert_msg(pgt_server_start(&bsrv, major, NULL) == 0, "PostgreSQL %d did not start: %s", major, bsrv.errmsg);
    sql(&bsrv, "CREATE TABLE items (id integer PRIMARY KEY, v text);"
               "CREATE PUBLICATION items_pub FOR TABLE items;");
}

static void behaviour_teardown(void)
{
    pgt_server_stop(&bsrv);
}

/* A file in the server's directory, which goes with the server. */
static void bpath(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", bsrv.dir, name);
}

#define BPATH(var, name)                                                                                        \
    char var[PGT_PATH_MAX + 64];                                                                                \
    bpath(var, sizeof var, name)

static char *current_lsn(const pgt_server *s)
{
    return value_of(s, "SELECT pg_current_wal_lsn()");
}

/* Run to completion with args; returns the exit status, stdout and stderr (free them). */
static int run_tool(const char *const *args, char **out, char **err)
{
    BPATH(o, "run.out");
    BPATH(e, "run.err");
    int rc = wait_exit(spawn(args, o, e), EXIT_TIMEOUT_S);
    *out = read_file(o, NULL);
    *err = read_file(e, NULL);
    unlink(o);
    unlink(e);
    return rc;
}

START_TEST(endpos_stops_before_later_transactions)
{
    sql(&bsrv, "SELECT pg_create_logical_replication_slot('ep', 'pgoutput')");
    sql(&bsrv, "INSERT INTO items VALUES (1, 'one')");
    char *l1 = current_lsn(&bsrv);
    sql(&bsrv, "INSERT INTO items VALUES (2, 'two')");
    char *l2 = current_lsn(&bsrv);
    sql(&bsrv, "INSERT INTO items VALUES (3, 'three')");
    char *out, *err;
    const char *a1[] = {"-d", bsrv.conninfo, "-S", "ep", "-P", "items_pub", "-E", l1, "-s", "0.2", NULL};
    ck_assert_msg(run_tool(a1, &out, &err) == 0, "%s", err);
    ck_assert_uint_eq(count_of(out, "\"action\":\"I\""), 1);
    ck_assert_ptr_nonnull(strstr(out, "\"value\":\"one\""));
    ck_assert_uint_eq(count_of(out, "\"action\":\"C\""), 1);
    free(out);
    free(err);
    /* the slot resumes after what was printed */
    const char *a2[] = {"-d", bsrv.conninfo, "-S", "ep", "-P", "items_pub", "-E", l2, NULL};
    ck_assert_msg(run_tool(a2, &out, &err) == 0, "%s", err);
    ck_assert_uint_eq(count_of(out, "\"action\":\"I\""), 1);
    ck_assert_ptr_nonnull(strstr(out, "\"value\":\"two\""));
    free(out);
    free(err);
    free(l1);
    free(l2);
    sql(&bsrv, "SELECT pg_drop_replication_slot('ep')");
}
END_TEST

/* Nothing to print: a keepalive past LSN ends the run. */
START_TEST(endpos_reached_while_idle)
{
    sql(&bsrv, "SELECT pg_create_logical_replication_slot('idle', 'pgoutput')");
    char *l = current_lsn(&bsrv);
    char *out, *err;
    const char *args[] = {"-d", bsrv.conninfo, "-S", "idle", "-P", "items_pub", "-E", l, "-v", NULL};
    time_t t0 = time(NULL);
    ck_assert_msg(run_tool(args, &out, &err) == 0, "%s", err);
    ck_assert_int_le(time(NULL) - t0, 30);
    ck_assert_str_eq(out, "");
    ck_assert_ptr_nonnull(strstr(err, "end position"));
    free(out);
    free(err);
    free(l);
    sql(&bsrv, "SELECT pg_drop_replication_slot('idle')");
}
END_TEST

START_TEST(create_slot_if_not_exists)
{
    char *l = current_lsn(&bsrv);
    char *out, *err;
    const char *args[] = {"-d", bsrv.conninfo, "-S", "made", "-P", "items_pub", "-E", l, "--create-slot", NULL};
    ck_assert_msg(run_tool(args, &out, &err) == 0, "%s", err);
    free(out);
    free(err);
    char *plugin = value_of(&bsrv, "SELECT plugin FROM pg_replication_slots WHERE slot_name = 'made'");
    ck_assert_str_eq(plugin, "pgoutput");
    free(plugin);
    /* again: the slot exists */
    ck_assert_int_eq(run_tool(args, &out, &err), 1);
    ck_assert_ptr_nonnull(strstr(err, "pgrepl-stream: error: cannot create slot \"made\""));
    ck_assert_ptr_nonnull(strstr(err, "pgrepl-stream: hint: Add --if-not-exists"));
    free(out);
    free(err);
    const char *again[] = {"-d", bsrv.conninfo, "-S", "made", "-P", "items_pub", "-E", l, "--create-slot",
                           "--if-not-exists", NULL};
    ck_assert_msg(run_tool(again, &out, &err) == 0, "%s", err);
    free(out);
    free(err);
    free(l);
    sql(&bsrv, "SELECT pg_drop_replication_slot('made')");
}
END_TEST

START_TEST(temporary_slot_is_gone_after_the_run)
{
    char *l = current_lsn(&bsrv);
    char *out, *err;
    const char *args[] = {"-d", bsrv.conninfo, "-S", "temp", "-P", "items_pub", "-E", l, "--temporary", NULL};
    ck_assert_msg(run_tool(args, &out, &err) == 0, "%s", err);
    ck_assert(!slot_exists(&bsrv, "temp"));
    free(out);
    free(err);
    free(l);
}
END_TEST

START_TEST(drop_slot)
{
    sql(&bsrv, "SELECT pg_create_logical_replication_slot('gone', 'pgoutput')");
    char *out, *err;
    const char *args[] = {"-d", bsrv.conninfo, "-S", "gone", "--drop-slot", NULL};
    ck_assert_msg(run_tool(args, &out, &err) == 0, "%s", err);
    ck_assert(!slot_exists(&bsrv, "gone"));
    free(out);
    free(err);
    ck_assert_int_eq(run_tool(args, &out, &err), 1);
    ck_assert_ptr_nonnull(strstr(err, "pgrepl-stream: error: cannot drop slot \"gone\""));
    ck_assert_ptr_nonnull(strstr(err, "does not exist"));
    free(out);
    free(err);
}
END_TEST

/* Start a long-running pgrepl-stream; returns its pid. */
static pid_t start_follower(const char *slot, const char *file, const char *err, const char *fsync_interval,
                            const char *extra)
{
    sql(&bsrv, "SELECT pg_create_logical_replication_slot('%s', 'pgoutput')", slot);
    const char *args[] = {"-d", bsrv.conninfo, "-S", slot, "-P", "items_pub", "-f", file, "-F", fsync_interval,
                          "-s", "0.2", extra, NULL};
    return spawn(args, "/dev/null", err);
}

/*
 * The nextlsn of the last complete C line in the first len bytes of text (0
 * when there is none); their number in *count when count is not NULL.
 */
static pgrepl_lsn commit_end_in(const char *text, size_t len, size_t *count)
{
    static const char c_line[] = "{\"action\":\"C\"", key[] = "\"nextlsn\":\"";
    pgrepl_lsn end = 0;
    size_t n = 0;
    for (const char *line = text, *nl; (nl = memchr(line, '\n', len - (size_t)(line - text))) != NULL; line = nl + 1) {
        if (strncmp(line, c_line, sizeof c_line - 1) != 0)
            continue;
        const char *next = strstr(line, key);
        ck_assert_msg(next != NULL && next < nl, "a C line without nextlsn: %.200s", line);
        char lsn[32];
        next += sizeof key - 1;
        size_t k = strcspn(next, "\"");
        ck_assert_uint_lt(k, sizeof lsn);
        memcpy(lsn, next, k);
        lsn[k] = '\0';
        end = lsn_of(lsn);
        n++;
    }
    if (count != NULL)
        *count = n;
    return end;
}

/* The nextlsn of the last C line in path. */
static pgrepl_lsn last_commit_end(const char *path)
{
    size_t len;
    char *text = read_file(path, &len);
    pgrepl_lsn end = commit_end_in(text, len, NULL);
    free(text);
    return end;
}

/*
 * Lines in a file are acknowledged only once fsynced: with an hour's fsync
 * interval the slot does not move; SIGTERM then writes, fsyncs and sends
 * the final status update, and exits 0.
 */
START_TEST(file_output_is_acknowledged_after_fsync)
{
    BPATH(file, "ack.jsonl");
    BPATH(err, "ack.err");
    pid_t pid = start_follower("ack", file, err, "3600", NULL);
    pgrepl_lsn start = confirmed(&bsrv, "ack");
    sql(&bsrv, "INSERT INTO items VALUES (10, 'ten')");
    ck_assert_msg(wait_for_text(file, "\"action\":\"C\"", 30), "nothing written");
    pgrepl_lsn end = last_commit_end(file);
    sleep_ms(1500); /* several status intervals */
    ck_assert_msg(confirmed(&bsrv, "ack") < end, "acknowledged before fsync");
    ck_assert_msg(confirmed(&bsrv, "ack") == start, "the slot moved");
    kill(pid, SIGTERM);
    int rc = wait_exit(pid, EXIT_TIMEOUT_S);
    char *e = read_file(err, NULL);
    ck_assert_msg(rc == 0, "exit %d after SIGTERM: %s", rc, e);
    free(e);
    ck_assert_msg(confirmed(&bsrv, "ack") >= end, "the final status update did not confirm the output");
    sql(&bsrv, "SELECT pg_drop_replication_slot('ack'); DELETE FROM items");
}
END_TEST

/* Without fsync (-F 0) a transaction is acknowledged once written. */
START_TEST(written_output_is_acknowledged)
{
    BPATH(file, "w.jsonl");
    BPATH(err, "w.err");
    pid_t pid = start_follower("written", file, err, "0", NULL);
    sql(&bsrv, "INSERT INTO items VALUES (20, 'twenty')");
    ck_assert_msg(wait_for_text(file, "\"action\":\"C\"", 30), "nothing written");
    pgrepl_lsn end = last_commit_end(file);
    ck_assert_msg(wait_confirmed(&bsrv, "written", end, 30), "never acknowledged");
    kill(pid, SIGINT);
    ck_assert_int_eq(wait_exit(pid, EXIT_TIMEOUT_S), 0);
    sql(&bsrv, "SELECT pg_drop_replication_slot('written'); DELETE FROM items");
}
END_TEST

/* n one-row transactions with ids from first, each row long enough that a few hundred fill a pipe. */
static void insert_transactions(int first, int n)
{
    sql(&bsrv,
        "DO $$ BEGIN FOR i IN %d..%d LOOP INSERT INTO items VALUES (i, repeat('x', 300)); COMMIT; END LOOP; END $$",
        first, first + n - 1);
}

/* What a reader of pgrepl-stream's output took. */
typedef struct taken {
    char *text; /* NUL-terminated */
    size_t len, cap;
} taken;

/*
 * Read fd in small pieces, as a slow reader does, until t holds ncommits
 * complete C lines; returns the nextlsn of the last. An end of file (a FIFO
 * whose writer has not opened it yet) is waited out for up to 60 s.
 */
static pgrepl_lsn read_commits(int fd, taken *t, size_t ncommits)
{
    size_t have = 0;
    pgrepl_lsn end = commit_end_in(t->text != NULL ? t->text : "", t->len, &have);
    for (int idle = 0; have < ncommits;) {
        if (t->len + 513 > t->cap) {
            t->cap = t->cap ? t->cap * 2 : 1 << 16;
            t->text = realloc(t->text, t->cap);
            ck_assert_ptr_nonnull(t->text);
        }
        ssize_t k = read(fd, t->text + t->len, 512);
        if (k < 0 && errno == EINTR)
            continue;
        ck_assert_msg(k >= 0, "read: %s", strerror(errno));
        if (k == 0) {
            ck_assert_msg(++idle < 1200, "no output for 60 s (%zu bytes so far)", t->len);
            sleep_ms(50);
            continue;
        }
        t->len += (size_t)k;
        t->text[t->len] = '\0';
        end = commit_end_in(t->text, t->len, &have);
    }
    return end;
}

/* The slot confirmed nothing past limit. */
static pgrepl_lsn assert_confirmed_at_most(const char *slot, pgrepl_lsn limit, const char *why)
{
    pgrepl_lsn c = confirmed(&bsrv, slot);
    ck_assert_msg(c <= limit, "%s: the slot confirmed %X/%X, past %X/%X", why, (unsigned)(c >> 32), (unsigned)c,
                  (unsigned)(limit >> 32), (unsigned)limit);
    return c;
}

/* The slot confirmed exactly want. */
static void assert_confirmed(const char *slot, pgrepl_lsn want, const char *why)
{
    pgrepl_lsn c = assert_confirmed_at_most(slot, want, why);
    ck_assert_msg(c == want, "%s: the slot confirmed %X/%X, not %X/%X", why, (unsigned)(c >> 32), (unsigned)c,
                  (unsigned)(want >> 32), (unsigned)want);
}

/*
 * A pipe's reader that takes a few transactions and goes, as head(1) does:
 * the slot is confirmed up to the last transaction it read whole, not up to
 * what it left unread in the pipe. pgrepl-stream fails on the broken pipe.
 */
START_TEST(pipe_output_is_acknowledged_as_read)
{
    BPATH(err, "pipe.err");
    sql(&bsrv, "SELECT pg_create_logical_replication_slot('piped', 'pgoutput')");
    insert_transactions(1000, 1000);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    /* pgrepl-stream must not hold the read end itself */
    ck_assert_int_eq(fcntl(p[0], F_SETFD, FD_CLOEXEC), 0);
    const char *args[] = {"-d", bsrv.conninfo, "-S", "piped", "-P", "items_pub", "-s", "0.2", NULL};
    pid_t pid = spawn_fd(args, p[1], err);
    close(p[1]);
    taken t = {0};
    pgrepl_lsn took = read_commits(p[0], &t, 3);
    free(t.text);
    sleep_ms(1000); /* several status intervals */
    close(p[0]);
    int rc = wait_exit(pid, EXIT_TIMEOUT_S);
    char *e = read_file(err, NULL);
    ck_assert_msg(rc == 1, "exit %d after the reader went: %s", rc, e);
    ck_assert_msg(strstr(e, "pgrepl-stream: error: cannot write to standard output: Broken pipe") != NULL, "%s", e);
    free(e);
    assert_confirmed("piped", took, "after the reader went");
    sql(&bsrv, "SELECT pg_drop_replication_slot('piped'); DELETE FROM items");
}
END_TEST

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* SIGTERM ends pid with status 0 within 5 s. */
static void terminate_promptly(pid_t pid, const char *err)
{
    uint64_t t0 = now_ms();
    kill(pid, SIGTERM);
    int rc = wait_exit(pid, 30);
    uint64_t took = now_ms() - t0;
    char *e = read_file(err, NULL);
    ck_assert_msg(rc == 0, "exit %d after SIGTERM: %s", rc, e);
    ck_assert_msg(took <= 5000, "SIGTERM took %llu ms: %s", (unsigned long long)took, e);
    free(e);
}

/*
 * A FIFO whose reader takes two transactions and stalls: pgrepl-stream
 * waits for it (a full FIFO is not an error), confirms what it took and
 * nothing more, and SIGTERM still ends it within seconds.
 */
START_TEST(stalled_fifo_reader)
{
    BPATH(fifo, "stall.fifo");
    BPATH(err, "stall.err");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    sql(&bsrv, "SELECT pg_create_logical_replication_slot('stall', 'pgoutput')");
    insert_transactions(3000, 1000);
    /* opened first, so that pgrepl-stream's open does not wait for a reader; then reads block */
    int r = open(fifo, O_RDONLY | O_NONBLOCK);
    ck_assert_int_ge(r, 0);
    ck_assert_int_eq(fcntl(r, F_SETFL, 0), 0);
    ck_assert_int_eq(fcntl(r, F_SETFD, FD_CLOEXEC), 0);
    const char *args[] = {"-d", bsrv.conninfo, "-S", "stall", "-P", "items_pub", "-f", fifo, "-s", "0.2", NULL};
    pid_t pid = spawn(args, "/dev/null", err);
    taken t = {0};
    pgrepl_lsn took = read_commits(r, &t, 2);
    free(t.text);
    ck_assert_msg(wait_confirmed(&bsrv, "stall", took, 30), "what the reader took was not acknowledged");
    sleep_ms(1000);
    assert_confirmed("stall", took, "while the reader stalls");
    terminate_promptly(pid, err);
    assert_confirmed("stall", took, "after SIGTERM");
    close(r);
    unlink(fifo);
    sql(&bsrv, "SELECT pg_drop_replication_slot('stall'); DELETE FROM items");
}
END_TEST

/*
 * A FIFO nobody opened for reading: pgrepl-stream waits to open it, nothing
 * connected yet, and SIGTERM ends it at once (as it ends any program).
 */
START_TEST(fifo_without_reader)
{
    BPATH(fifo, "noreader.fifo");
    BPATH(err, "noreader.err");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    const char *args[] = {"-d", bsrv.conninfo, "-S", "none", "-P", "items_pub", "-f", fifo, NULL};
    pid_t pid = spawn(args, "/dev/null", err);
    sleep_ms(500);
    kill(pid, SIGTERM);
    int rc = wait_exit(pid, 5);
    ck_assert_msg(rc != -1, "SIGTERM did not end pgrepl-stream waiting for a FIFO's reader");
    ck_assert_int_eq(rc, -2);
    unlink(fifo);
}
END_TEST

/*
 * A socket whose reader took one transaction and stalls while fifty more
 * arrive, written as they come and held by the kernel: nothing more is
 * confirmed (a Unix socket counts whole kernel buffers, so the slot
 * may trail the reader); once it has read everything, everything is.
 */
START_TEST(socket_output_is_acknowledged_as_read)
{
    BPATH(err, "sock.err");
    sql(&bsrv, "SELECT pg_create_logical_replication_slot('sock', 'pgoutput')");
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ck_assert_int_eq(fcntl(sv[0], F_SETFD, FD_CLOEXEC), 0);
    const char *args[] = {"-d", bsrv.conninfo, "-S", "sock", "-P", "items_pub", "-s", "0.2", NULL};
    pid_t pid = spawn_fd(args, sv[1], err);
    close(sv[1]);
    insert_transactions(5000, 1);
    taken t = {0};
    pgrepl_lsn took = read_commits(sv[0], &t, 1);
    insert_transactions(5001, 50);
    sleep_ms(1500);
    assert_confirmed_at_most("sock", took, "while the reader stalls");
    took = read_commits(sv[0], &t, 51);
    free(t.text);
    ck_assert_msg(wait_confirmed(&bsrv, "sock", took, 30), "what the reader took was not acknowledged");
    terminate_promptly(pid, err);
    close(sv[0]);
    sql(&bsrv, "SELECT pg_drop_replication_slot('sock'); DELETE FROM items");
}
END_TEST

/*
 * A run that stopped mid-write (a full disk, a crash) left a torn last line:
 * the next run on the file cuts it off, says so once, and appends whole lines.
 */
START_TEST(torn_last_line_is_cut_off)
{
    BPATH(file, "torn.jsonl");
    sql(&bsrv, "SELECT pg_create_logical_replication_slot('torn', 'pgoutput')");
    sql(&bsrv, "INSERT INTO items VALUES (60, 'before')");
    char *l1 = current_lsn(&bsrv);
    char *out, *err;
    const char *a1[] = {"-d", bsrv.conninfo, "-S", "torn", "-P", "items_pub", "-f", file, "-E", l1, NULL};
    ck_assert_msg(run_tool(a1, &out, &err) == 0, "%s", err);
    free(out);
    free(err);
    static const char torn[] = "{\"action\":\"I\",\"xid\":1234,\"timestamp\":\"2026-";
    int fd = open(file, O_WRONLY | O_APPEND);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, torn, sizeof torn - 1), (ssize_t)(sizeof torn - 1));
    close(fd);
    sql(&bsrv, "INSERT INTO items VALUES (61, 'after')");
    char *l2 = current_lsn(&bsrv);
    const char *a2[] = {"-d", bsrv.conninfo, "-S", "torn", "-P", "items_pub", "-f", file, "-E", l2, NULL};
    ck_assert_msg(run_tool(a2, &out, &err) == 0, "%s", err);
    doc d = load_output(file); /* every line is JSON */
    ck_assert_msg(count_of(err, "pgrepl-stream: warning: \"") == 1 && strstr(err, "ended inside a line") != NULL,
                  "%s", err);
    free(out);
    free(err);
    ck_assert_uint_eq(count_of(d.text, "\"value\":\"before\""), 1);
    ck_assert_uint_eq(count_of(d.text, "\"value\":\"after\""), 1);
    ck_assert_ptr_null(strstr(d.text, "1234"));
    free_doc(&d);
    free(l1);
    free(l2);
    sql(&bsrv, "SELECT pg_drop_replication_slot('torn'); DELETE FROM items");
}
END_TEST

/*
 * The output file is deleted while pgrepl-stream writes it: what goes into
 * the deleted file afterwards is never confirmed, and the program stops
 * with an error at its next fsync.
 */
START_TEST(deleted_file_is_not_acknowledged)
{
    BPATH(file, "del.jsonl");
    BPATH(err, "del.err");
    pid_t pid = start_follower("del", file, err, "0.3", NULL);
    sql(&bsrv, "INSERT INTO items VALUES (70, 'kept')");
    ck_assert_msg(wait_for_text(file, "\"action\":\"C\"", 30), "nothing written");
    ck_assert_msg(wait_confirmed(&bsrv, "del", last_commit_end(file), 30), "never acknowledged");
    ck_assert_int_eq(unlink(file), 0);
    char *gone = current_lsn(&bsrv);
    sql(&bsrv, "INSERT INTO items VALUES (71, 'lost')");
    int rc = wait_exit(pid, 10);
    assert_confirmed_at_most("del", lsn_of(gone), "after the file was deleted");
    char *e = read_file(err, NULL);
    ck_assert_msg(rc == 1, "exit %d: %s", rc, e);
    ck_assert_msg(strstr(e, "pgrepl-stream: error: ") != NULL && strstr(e, "was deleted") != NULL, "%s", e);
    free(e);
    free(gone);
    sql(&bsrv, "SELECT pg_drop_replication_slot('del'); DELETE FROM items");
}
END_TEST

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* How many values v holds (n of them), failing when one comes twice. */
static size_t distinct(uint64_t *v, size_t n, const char *what)
{
    qsort(v, n, sizeof *v, cmp_u64);
    for (size_t i = 1; i < n; i++)
        ck_assert_msg(v[i] != v[i - 1], "%s %llu is in the file twice", what, (unsigned long long)v[i]);
    return n;
}

/* Every row inserted (its id, the first column) and every transaction (its C line's xid) appear once in d. */
static void assert_each_once(const doc *d, size_t rows, size_t transactions)
{
    uint64_t *ids = malloc(d->raw.n * sizeof *ids), *xids = malloc(d->raw.n * sizeof *xids);
    ck_assert(ids != NULL && xids != NULL);
    size_t nids = 0, nxids = 0;
    for (size_t i = 0; i < d->raw.n; i++) {
        char action = action_of(d->obj[i]);
        if (action == 'I') {
            const mj_value *cols = mj_get(d->obj[i], "columns");
            ck_assert(cols != NULL && cols->type == MJ_ARRAY && cols->n > 0);
            ids[nids++] = strtoull(mj_get(&cols->items[0], "value")->str, NULL, 10);
        } else if (action == 'C') {
            xids[nxids++] = u32_of(d->obj[i], "xid");
        }
    }
    ck_assert_uint_eq(distinct(ids, nids, "row"), rows);
    ck_assert_uint_eq(distinct(xids, nxids, "transaction"), transactions);
    free(ids);
    free(xids);
}

/*
 * A run is killed (SIGKILL) inside a large transaction, after it wrote two
 * hundred transactions that it never fsynced (-F 3600), so the slot
 * confirmed none of them. The next run on the same file cuts off the lines
 * of the transaction that was cut off, fsyncs the file and starts after
 * the last whole transaction in it: in the end every transaction is in the
 * file exactly once.
 */
START_TEST(resumes_after_the_last_transaction_in_the_file)
{
    BPATH(file, "resume.jsonl");
    BPATH(err, "resume.err");
    sql(&bsrv, "SELECT pg_create_logical_replication_slot('resume', 'pgoutput')");
    insert_transactions(10000, 200);
    sql(&bsrv, "INSERT INTO items SELECT g, 'big' FROM generate_series(100000, 199999) g");
    insert_transactions(10200, 50);
    char *end = current_lsn(&bsrv);
    const char *args[] = {"-d", bsrv.conninfo, "-S", "resume", "-P", "items_pub", "-f", file, "-F", "3600",
                          "-E", end, NULL};
    pid_t pid = spawn(args, "/dev/null", err);
    /* the 200 take about 150 kB: at 2 MB the large transaction is being written */
    struct stat st;
    for (int i = 0; i < 6000 && (stat(file, &st) != 0 || st.st_size < 2 * 1024 * 1024); i++)
        sleep_ms(10);
    kill(pid, SIGKILL);
    ck_assert_int_eq(wait_exit(pid, 10), -2);
    size_t len, commits;
    char *text = read_file(file, &len);
    commit_end_in(text, len, &commits);
    ck_assert_msg(commits == 200 && strstr(text, "\"value\":\"big\"") != NULL,
                  "not killed inside the large transaction: %zu transactions written", commits);
    char *first = strstr(text, "{\"action\":\"C\"");
    pgrepl_lsn first_end = commit_end_in(text, (size_t)(strchr(first, '\n') + 1 - text), NULL);
    ck_assert_msg(confirmed(&bsrv, "resume") < first_end, "the slot confirmed what was not fsynced");
    free(text);
    char *out, *e;
    ck_assert_msg(run_tool(args, &out, &e) == 0, "%s", e);
    doc d = load_output(file);
    assert_each_once(&d, 200 + 100000 + 50, 200 + 1 + 50);
    free_doc(&d);
    ck_assert_msg(strstr(e, "pgrepl-stream: warning: ") != NULL && strstr(e, "ended inside a transaction") != NULL,
                  "%s", e);
    free(out);
    free(e);
    free(end);
    sql(&bsrv, "SELECT pg_drop_replication_slot('resume'); DELETE FROM items");
}
END_TEST

/* A file whose last transaction lies beyond the server's WAL (another cluster's) is refused, naming it. */
START_TEST(file_of_another_cluster_is_refused)
{
    BPATH(file, "other.jsonl");
    static const char text[] = "{\"action\":\"B\",\"xid\":7,\"timestamp\":\"2026-01-02T03:04:05.000006Z\","
                               "\"lsn\":\"FF/30\"}\n{\"action\":\"C\",\"xid\":7,\"timestamp\":"
                               "\"2026-01-02T03:04:05.000006Z\",\"lsn\":\"FF/30\",\"nextlsn\":\"FF/58\"}\n";
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    sql(&bsrv, "SELECT pg_create_logical_replication_slot('other', 'pgoutput')");
    pgrepl_lsn start = confirmed(&bsrv, "other");
    char *out, *err;
    const char *args[] = {"-d", bsrv.conninfo, "-S", "other", "-P", "items_pub", "-f", file, NULL};
    ck_assert_int_eq(run_tool(args, &out, &err), 1);
    ck_assert_msg(strstr(err, "pgrepl-stream: error: cannot start at FF/58") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "pgrepl-stream: detail: that is where the last transaction in \"") != NULL, "%s", err);
    free(out);
    free(err);
    ck_assert(confirmed(&bsrv, "other") == start);
    char *kept = read_file(file, NULL);
    ck_assert_str_eq(kept, text);
    free(kept);
    sql(&bsrv, "SELECT pg_drop_replication_slot('other')");
}
END_TEST

/*
 * A run ends while the publication is quiet and the rest of the database
 * writes: the slot is confirmed past the file's last transaction (idle
 * advance). The next run on the file says so with -v only.
 */
START_TEST(slot_ahead_of_the_file_is_said_with_verbose_only)
{
    BPATH(file, "quiet.jsonl");
    sql(&bsrv, "SELECT pg_create_logical_replication_slot('quiet', 'pgoutput')");
    sql(&bsrv, "INSERT INTO items VALUES (80, 'only')");
    sql(&bsrv, "CREATE TABLE unpublished (id integer); INSERT INTO unpublished SELECT generate_series(1, 1000)");
    char *l = current_lsn(&bsrv);
    char *out, *err;
    const char *args[] = {"-d", bsrv.conninfo, "-S", "quiet", "-P", "items_pub", "-f", file, "-E", l, NULL};
    ck_assert_msg(run_tool(args, &out, &err) == 0, "%s", err);
    free(out);
    free(err);
    ck_assert_msg(confirmed(&bsrv, "quiet") > last_commit_end(file), "no idle advance to test with");
    ck_assert_msg(run_tool(args, &out, &err) == 0, "%s", err);
    ck_assert_msg(strstr(err, "has confirmed") == NULL, "%s", err);
    free(out);
    free(err);
    const char *verbose[] = {"-d", bsrv.conninfo, "-S", "quiet", "-P", "items_pub", "-f", file, "-E", l, "-v", NULL};
    ck_assert_msg(run_tool(verbose, &out, &err) == 0, "%s", err);
    ck_assert_msg(strstr(err, "pgrepl-stream: slot \"quiet\" has confirmed ") != NULL, "%s", err);
    free(out);
    free(err);
    char *text = read_file(file, NULL);
    ck_assert_uint_eq(count_of(text, "\"value\":\"only\""), 1);
    free(text);
    free(l);
    sql(&bsrv, "SELECT pg_drop_replication_slot('quiet'); DELETE FROM items; DROP TABLE unpublished");
}
END_TEST

/* SIGHUP reopens the file: after a rename, new lines go to a new file at the old path. */
START_TEST(sighup_reopens_the_file)
{
    BPATH(filebuf, "rot.jsonl");
    BPATH(err, "rot.err");
    BPATH(oldbuf, "rot.jsonl.1");
    pid_t pid = start_follower("rot", filebuf, err, "1", NULL);
    sql(&bsrv, "INSERT INTO items VALUES (30, 'before')");
    ck_assert_msg(wait_for_text(filebuf, "\"value\":\"before\"", 30), "nothing written");
    ck_assert_int_eq(rename(filebuf, oldbuf), 0);
    kill(pid, SIGHUP);
    for (int i = 0; i < 100 && access(filebuf, F_OK) != 0; i++)
        sleep_ms(50);
    sql(&bsrv, "INSERT INTO items VALUES (31, 'after')");
    ck_assert_msg(wait_for_text(filebuf, "\"value\":\"after\"", 30), "nothing written after SIGHUP");
    kill(pid, SIGINT);
    ck_assert_int_eq(wait_exit(pid, EXIT_TIMEOUT_S), 0);
    ck_assert(!file_contains(oldbuf, "\"value\":\"after\""));
    ck_assert(!file_contains(filebuf, "\"value\":\"before\""));
    sql(&bsrv, "SELECT pg_drop_replication_slot('rot'); DELETE FROM items");
}
END_TEST

/* The connection is killed: pgrepl-stream reconnects and goes on, without repeating what it printed. */
START_TEST(reconnects_after_a_lost_connection)
{
    BPATH(filebuf, "re.jsonl");
    BPATH(errbuf, "re.err");
    pid_t pid = start_follower("re", filebuf, errbuf, "0", NULL);
    sql(&bsrv, "INSERT INTO items VALUES (40, 'first')");
    ck_assert_msg(wait_for_text(filebuf, "\"value\":\"first\"", 30), "nothing written");
    sql(&bsrv, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 're'");
    sql(&bsrv, "INSERT INTO items VALUES (41, 'second')");
    ck_assert_msg(wait_for_text(filebuf, "\"value\":\"second\"", 60), "nothing after the reconnect");
    kill(pid, SIGINT);
    ck_assert_int_eq(wait_exit(pid, EXIT_TIMEOUT_S), 0);
    char *text = read_file(filebuf, NULL), *e = read_file(errbuf, NULL);
    ck_assert_uint_eq(count_of(text, "\"value\":\"first\""), 1);
    ck_assert_uint_eq(count_of(text, "\"value\":\"second\""), 1);
    ck_assert_ptr_nonnull(strstr(e, "reconnecting"));
    free(text);
    free(e);
    sql(&bsrv, "SELECT pg_drop_replication_slot('re'); DELETE FROM items");
}
END_TEST

/* -v prints status lines; --metrics-file holds the counters in Prometheus text format. */
START_TEST(status_lines_and_metrics)
{
    BPATH(filebuf, "m.jsonl");
    BPATH(errbuf, "m.err");
    BPATH(mbuf, "m.prom");
    char mopt[PGT_PATH_MAX + 80];
    snprintf(mopt, sizeof mopt, "--metrics-file=%s", mbuf);
    sql(&bsrv, "SELECT pg_create_logical_replication_slot('met', 'pgoutput')");
    const char *args[] = {"-d", bsrv.conninfo, "-S", "met", "-P", "items_pub", "-f", filebuf, "-s", "0.2", "-v",
                          mopt, NULL};
    pid_t pid = spawn(args, "/dev/null", errbuf);
    sql(&bsrv, "INSERT INTO items SELECT g, 'm' FROM generate_series(100, 109) g; UPDATE items SET v = 'n';");
    ck_assert_msg(wait_for_text(mbuf, "pgrepl_stream_changes_total 20\n", 30), "metrics never showed 20 changes");
    ck_assert_msg(wait_for_text(errbuf, "changes/s", 30), "no status line");
    kill(pid, SIGTERM);
    ck_assert_int_eq(wait_exit(pid, EXIT_TIMEOUT_S), 0);
    char *m = read_file(mbuf, NULL);
    static const char *const names[] = {"# TYPE pgrepl_stream_changes_total counter",
                                        "pgrepl_stream_transactions_total 2\n",
                                        "# TYPE pgrepl_stream_lag_bytes gauge", "pgrepl_stream_lag_seconds ",
                                        "pgrepl_stream_output_bytes_total ", "pgrepl_stream_acknowledged_lsn_bytes "};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ck_assert_msg(strstr(m, names[i]) != NULL, "metrics lack \"%s\":\n%s", names[i], m);
    free(m);
    char *e = read_file(errbuf, NULL);
    ck_assert_ptr_nonnull(strstr(e, "pgrepl-stream: received "));
    ck_assert_ptr_nonnull(strstr(e, ", acknowledged "));
    free(e);
    char tmp[PGT_PATH_MAX + 80];
    snprintf(tmp, sizeof tmp, "%s.tmp", mbuf);
    ck_assert_int_ne(access(tmp, F_OK), 0);
    sql(&bsrv, "SELECT pg_drop_replication_slot('met'); DELETE FROM items");
}
END_TEST

/* An array of an enum prints in text mode; from its binary form it cannot, and the run says so. */
START_TEST(binary_needs_the_catalog)
{
    sql(&bsrv, "CREATE TYPE hue AS ENUM ('red', 'green');"
               "CREATE TABLE painted (id integer PRIMARY KEY, hues hue[]);"
               "CREATE PUBLICATION painted_pub FOR TABLE painted;"
               "SELECT pg_create_logical_replication_slot('paint_text', 'pgoutput');"
               "SELECT pg_create_logical_replication_slot('paint_bin', 'pgoutput');"
               "INSERT INTO painted VALUES (1, '{red,NULL,green}');");
    char *l = current_lsn(&bsrv);
    char *out, *err;
    const char *text[] = {"-d", bsrv.conninfo, "-S", "paint_text", "-P", "painted_pub", "-E", l, NULL};
    ck_assert_msg(run_tool(text, &out, &err) == 0, "%s", err);
    ck_assert_ptr_nonnull(strstr(out, "{\"name\":\"hues\",\"type\":\"_hue\",\"value\":\"{red,NULL,green}\"}"));
    free(out);
    free(err);
    const char *binary[] = {"-d", bsrv.conninfo, "-S", "paint_bin", "-P", "painted_pub", "-E", l, "--binary", NULL};
    pgrepl_lsn before = confirmed(&bsrv, "paint_bin");
    ck_assert_int_eq(run_tool(binary, &out, &err), 1);
    ck_assert_ptr_nonnull(strstr(err, "pgrepl-stream: error: cannot print column \"hues\" of public.painted"));
    ck_assert_ptr_nonnull(strstr(err, "pgrepl-stream: hint: Run without --binary"));
    ck_assert_str_eq(out, "");
    free(out);
    free(err);
    free(l);
    /* the transaction that failed was not acknowledged */
    ck_assert(confirmed(&bsrv, "paint_bin") == before);
    sql(&bsrv, "SELECT pg_drop_replication_slot('paint_text'); SELECT pg_drop_replication_slot('paint_bin')");
}
END_TEST

START_TEST(missing_slot_is_an_error_with_a_hint)
{
    char *out, *err;
    const char *args[] = {"-d", bsrv.conninfo, "-S", "nosuchslot", "-P", "items_pub", "-n", NULL};
    ck_assert_int_eq(run_tool(args, &out, &err), 1);
    ck_assert_ptr_nonnull(strstr(err, "pgrepl-stream: error: "));
    ck_assert_ptr_nonnull(strstr(err, "pgrepl-stream: hint: "));
    free(out);
    free(err);
    /* no server there: -n exits at once */
    const char *nohost[] = {"-h", "/nonexistent", "-p", "5999", "-S", "x", "-P", "p", "-n", NULL};
    ck_assert_int_eq(run_tool(nohost, &out, &err), 1);
    ck_assert_ptr_nonnull(strstr(err, "pgrepl-stream: error: "));
    ck_assert_ptr_nonnull(strstr(err, "pgrepl-stream: hint: Is the server running"));
    free(out);
    free(err);
}
END_TEST

/* Bad usage: exit 1, an error line and a hint, before connecting. */
START_TEST(bad_usage)
{
    static const char *const cases[][8] = {
        {NULL},
        {"-P", "p", NULL},
        {"-S", "s", NULL},
        {"-S", "s", "-P", "p", "--bogus", NULL},
        {"-S", "s", "-P", "p", "-x", NULL},
        {"-S", "s", "-P", "p", "-E", "nope", NULL},
        {"-S", "s", "-P", "p", "-I", "1/2/3", NULL},
        {"-S", "s", "-P", "p", "-F", "soon", NULL},
        {"-S", "s", "-P", "p", "-s", "0", NULL},
        {"-S", "s", "-P", "p", "--streaming=sometimes", NULL},
        {"-S", "s", "-P", "p", "--origin=local", NULL},
        {"-S", "s", "-P", "p", "--proto-version=5", NULL},
        {"-S", "s", "-P", "p", "--proto-version=1", "--streaming", NULL},
        {"-S", "s", "-P", "p", "--proto-version=2", "--two-phase", NULL},
        {"-S", "s", "-P", "p,", NULL},
        {"-S", "s", "--drop-slot", "--create-slot", NULL},
        {"-S", "s", "-P", "p", "--if-not-exists", NULL},
        {"-S", "s", "-P", "p", "-p", "99999", NULL},
        {"-S", "s", "-P", "p", "extra", NULL},
        {"-S", "s", "-P", "p", "-f", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out, *err;
        int rc = run_tool(cases[i], &out, &err);
        ck_assert_msg(rc == 1, "case %zu exited %d", i, rc);
        ck_assert_msg(strncmp(err, "pgrepl-stream: error: ", 22) == 0, "case %zu: %s", i, err);
        ck_assert_msg(strstr(err, "\npgrepl-stream: hint: ") != NULL, "case %zu has no hint: %s", i, err);
        ck_assert_str_eq(out, "");
        free(out);
        free(err);
    }
    char *out, *err;
    static const char *const help[] = {"--help", NULL}, *const qhelp[] = {"-?", NULL}, *const version[] = {"-V", NULL};
    ck_assert_int_eq(run_tool(help, &out, &err), 0);
    ck_assert_ptr_nonnull(strstr(out, "--publication"));
    free(out);
    free(err);
    ck_assert_int_eq(run_tool(qhelp, &out, &err), 0);
    ck_assert_ptr_nonnull(strstr(out, "Usage:"));
    free(out);
    free(err);
    ck_assert_int_eq(run_tool(version, &out, &err), 0);
    ck_assert_int_eq(strncmp(out, "pgrepl-stream (pgrepl) ", 23), 0);
    free(out);
    free(err);
}
END_TEST

static Suite *stream_cli_suite(void)
{
    static char name[32];
    snprintf(name, sizeof name, "stream-cli-pg%d", major);
    Suite *s = suite_create(name);

    TCase *tc = tcase_create("workload");
    tcase_add_unchecked_fixture(tc, workload_setup, workload_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, text_mode_matches_test_decoding);
    tcase_add_test(tc, binary_mode_prints_like_text_mode);
    tcase_add_test(tc, streaming_matches_test_decoding);
    /* Debian's postgresql-15-wal2json: the one major with the plugin */
    if (major == 15)
        tcase_add_test(tc, wal2json_gives_the_same_objects);
    suite_add_tcase(s, tc);

    tc = tcase_create("behaviour");
    tcase_add_unchecked_fixture(tc, behaviour_setup, behaviour_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, endpos_stops_before_later_transactions);
    tcase_add_test(tc, endpos_reached_while_idle);
    tcase_add_test(tc, create_slot_if_not_exists);
    tcase_add_test(tc, temporary_slot_is_gone_after_the_run);
    tcase_add_test(tc, drop_slot);
    tcase_add_test(tc, file_output_is_acknowledged_after_fsync);
    tcase_add_test(tc, written_output_is_acknowledged);
    tcase_add_test(tc, pipe_output_is_acknowledged_as_read);
    tcase_add_test(tc, stalled_fifo_reader);
    tcase_add_test(tc, fifo_without_reader);
    tcase_add_test(tc, socket_output_is_acknowledged_as_read);
    tcase_add_test(tc, torn_last_line_is_cut_off);
    tcase_add_test(tc, deleted_file_is_not_acknowledged);
    tcase_add_test(tc, resumes_after_the_last_transaction_in_the_file);
    tcase_add_test(tc, file_of_another_cluster_is_refused);
    tcase_add_test(tc, slot_ahead_of_the_file_is_said_with_verbose_only);
    tcase_add_test(tc, sighup_reopens_the_file);
    tcase_add_test(tc, reconnects_after_a_lost_connection);
    tcase_add_test(tc, status_lines_and_metrics);
    tcase_add_test(tc, binary_needs_the_catalog);
    tcase_add_test(tc, missing_slot_is_an_error_with_a_hint);
    tcase_add_test(tc, bad_usage);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    major = pgt_major_from_args(argc, argv);
    return pgrepl_test_run_suite(stream_cli_suite());
}
