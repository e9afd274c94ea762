/*
 * examples/pgrepl-slots against a real server of the major given as argv[1].
 *
 * The program is run as a separate process, as an operator or cron would run
 * it, from $PGREPL_BUILD_ROOT/examples/pgrepl-slots; the checks are on its
 * exit status and on what it prints. The slots are put in every state a
 * server can be put in here: active (held by a running pg_recvlogical),
 * inactive, temporary (held by a session of this process), physical, with
 * WAL retained after writes, in a database with a hostile name, and on a
 * second server extended, unreserved and lost (and idle_timeout on 18).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pgrepl/version.h>

#include "../../examples/slots.h"
#include "harness.h"
#include "testutil.h"

#define RECVLOGICAL "/usr/bin/pg_recvlogical"
/* A database name with every character the JSON and Prometheus renderings must escape. */
#define ODD_DB "odd \"db\"\\ x\ny"

static int major;
static char tool[1024];

/* ---- running the program ---- */

typedef struct result {
    int status; /* exit status, or 128 + signal */
    char *out, *err;
} result;

typedef struct buffer {
    char *data;
    size_t len, cap;
} buffer;

static void result_free(result *r)
{
    free(r->out);
    free(r->err);
}

/* Read what is there on FD into B; false at end of file. */
static bool drain(int fd, buffer *b)
{
    if (b->cap - b->len < 4096) {
        b->cap = b->cap * 2 + 4096;
        b->data = realloc(b->data, b->cap);
        ck_assert_ptr_nonnull(b->data);
        b->data[b->len] = '\0';
    }
    ssize_t n = read(fd, b->data + b->len, b->cap - b->len - 1);
    if (n < 0 && errno == EINTR)
        return true;
    if (n <= 0)
        return false;
    b->len += (size_t)n;
    b->data[b->len] = '\0';
    return true;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void exec_tool(const char *const *args, const char *const *env, int out, int err)
{
    const char *argv[64] = {tool};
    size_t n = 1;
    for (; args[n - 1] != NULL && n < 63; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    for (; env != NULL && *env != NULL; env++) {
        char *copy = strdup(*env);
        char *eq = strchr(copy, '=');
        *eq = '\0';
        setenv(copy, eq + 1, 1);
    }
    union {
        const char *const *c;
        char *const *m;
    } a = {.c = argv};
    execv(tool, a.m);
    _exit(127);
}

/* Called about every 50 ms while the program runs, with what it has printed on stdout so far. */
typedef void (*tick_fn)(const char *out, void *arg);

/*
 * Run the program with ARGS (NULL-terminated) and the NAME=VALUE settings of
 * ENV added to the environment. STOP_AFTER > 0 sends SIGTERM after that many
 * seconds (for --watch). TICK, when not NULL, is called with ARG while it
 * runs. Everything it prints is captured.
 */
static result run_ticking(const char *const *args, const char *const *env, double stop_after, tick_fn tick, void *arg)
{
    int out[2], err[2];
    ck_assert_int_eq(pipe(out), 0);
    ck_assert_int_eq(pipe(err), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(out[0]);
        close(err[0]);
        exec_tool(args, env, out[1], err[1]);
    }
    close(out[1]);
    close(err[1]);
    buffer bo = {0}, be = {0};
    struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    double start = now_seconds();
    bool signalled = false;
    while (fds[0].fd >= 0 || fds[1].fd >= 0) {
        if (stop_after > 0 && !signalled && now_seconds() - start >= stop_after) {
            kill(pid, SIGTERM);
            signalled = true;
        }
        if (poll(fds, 2, 50) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP)) && !drain(fds[i].fd, i == 0 ? &bo : &be)) {
                close(fds[i].fd);
                fds[i].fd = -1;
            }
        }
        if (tick != NULL)
            tick(bo.data != NULL ? bo.data : "", arg);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    result r = {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), bo.data, be.data};
    if (r.out == NULL)
        r.out = strdup("");
    if (r.err == NULL)
        r.err = strdup("");
    return r;
}

static result run_env(const char *const *args, const char *const *env, double stop_after)
{
    return run_ticking(args, env, stop_after, NULL, NULL);
}

/* The program with -d CONNINFO of S and ARGS. */
static result run_on(const pgt_server *s, const char *const *args)
{
    char conninfo[1024];
    const char *argv[48] = {"-d", conninfo};
    ck_assert_int_eq(pgt_conninfo(s, NULL, conninfo, sizeof conninfo), 0);
    size_t n = 2;
    for (; *args != NULL && n < 47; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    return run_env(argv, NULL, 0);
}

#define RUN(srv, ...) run_on((srv), (const char *const[]){__VA_ARGS__, NULL})

static void expect_status(const result *r, int want)
{
    ck_assert_msg(r->status == want, "exit status %d, want %d\nstdout:\n%.1500s\nstderr:\n%.1000s", r->status, want,
                  r->out, r->err);
}

static void expect_has(const char *text, const char *want)
{
    ck_assert_msg(strstr(text, want) != NULL, "missing \"%s\" in:\n%.3000s", want, text);
}

static void expect_lacks(const char *text, const char *unwanted)
{
    ck_assert_msg(strstr(text, unwanted) == NULL, "unexpected \"%s\" in:\n%.3000s", unwanted, text);
}

__attribute__((format(printf, 2, 3))) static void expect_hasf(const char *text, const char *fmt, ...)
{
    char want[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(want, sizeof want, fmt, ap);
    va_end(ap);
    expect_has(text, want);
}

/* The contents of PATH, or NULL when there is no such file. */
static char *file_text(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        ck_assert_msg(errno == ENOENT, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    buffer b = {0};
    while (drain(fd, &b))
        ;
    close(fd);
    return b.data != NULL ? b.data : strdup("");
}

/* Directory DIR holds NAME and nothing else. */
static void expect_only_file(const char *dir, const char *name)
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s: %s", dir, strerror(errno));
    int found = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        ck_assert_msg(strcmp(e->d_name, name) == 0, "%s holds %s besides %s", dir, e->d_name, name);
        found++;
    }
    closedir(d);
    ck_assert_msg(found == 1, "%s has no %s", dir, name);
}

/* ---- the server side ---- */

static char *query(const pgt_server *s, const char *dbname, const char *sql)
{
    char *out = NULL;
    int rc = pgt_psql(s, dbname, sql, &out);
    ck_assert_msg(rc == 0, "psql exited %d for: %s", rc, sql);
    ck_assert_ptr_nonnull(out);
    return out;
}

static void exec_sql(const pgt_server *s, const char *dbname, const char *sql)
{
    free(query(s, dbname, sql));
}

static long query_long(const pgt_server *s, const char *sql)
{
    char *out = query(s, NULL, sql);
    long v = strtol(out, NULL, 10);
    free(out);
    return v;
}

/* Poll SQL until it prints WANT, for up to 30 s. */
static void wait_for(const pgt_server *s, const char *sql, const char *want)
{
    const struct timespec tenth = {0, 100000000};
    char *out = NULL;
    for (int i = 0; i < 300; i++) {
        free(out);
        out = query(s, NULL, sql);
        if (strcmp(out, want) == 0)
            break;
        nanosleep(&tenth, NULL);
    }
    ck_assert_msg(strcmp(out, want) == 0, "%s\ngave \"%s\" for 30 s, want \"%s\"", sql, out, want);
    free(out);
}

static char *slot_names(const pgt_server *s)
{
    return query(s, NULL, "SELECT coalesce(string_agg(slot_name, ',' ORDER BY slot_name), '') FROM pg_replication_slots");
}

/* A consumer that keeps SLOT active: pg_recvlogical --start, until killed. */
static pid_t start_consumer(const pgt_server *s, const char *slot)
{
    char conninfo[1024];
    ck_assert_int_eq(pgt_conninfo(s, NULL, conninfo, sizeof conninfo), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, STDOUT_FILENO);
        const char *argv[] = {"pg_recvlogical", "-d", conninfo, "-S", slot, "--start", "--no-loop", "-f", "-", NULL};
        union {
            const char *const *c;
            char *const *m;
        } a = {.c = argv};
        execv(RECVLOGICAL, a.m);
        _exit(127);
    }
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT active FROM pg_replication_slots WHERE slot_name = '%s'", slot);
    wait_for(s, sql, "t");
    return pid;
}

static void stop_consumer(pid_t *pid)
{
    if (*pid <= 0)
        return;
    kill(*pid, SIGTERM);
    waitpid(*pid, NULL, 0);
    *pid = 0;
}

/* A session of this process that holds a temporary slot for as long as it lives. */
static PGconn *hold_temporary_slot(const pgt_server *s, const char *slot)
{
    char conninfo[1024], sql[256];
    ck_assert_int_eq(pgt_conninfo(s, NULL, conninfo, sizeof conninfo), 0);
    PGconn *conn = PQconnectdb(conninfo);
    ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "%s", PQerrorMessage(conn));
    snprintf(sql, sizeof sql, "SELECT pg_create_logical_replication_slot('%s', 'test_decoding', true)", slot);
    PGresult *res = PQexec(conn, sql);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s", PQerrorMessage(conn));
    PQclear(res);
    return conn;
}

/* ---- checking what it prints ---- */

static const char *ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static const char *json_value(const char *p);

static const char *json_string(const char *p)
{
    if (*p++ != '"')
        return NULL;
    for (; *p != '"'; p++) {
        if (*p == '\0' || (unsigned char)*p < 0x20)
            return NULL;
        if (*p != '\\')
            continue;
        p++;
        if (*p == 'u') {
            for (int i = 1; i <= 4; i++) {
                if (strchr("0123456789abcdefABCDEF", p[i]) == NULL || p[i] == '\0')
                    return NULL;
            }
            p += 4;
        } else if (*p == '\0' || strchr("\"\\/bfnrt", *p) == NULL) {
            return NULL;
        }
    }
    return p + 1;
}

static const char *digits(const char *p)
{
    if (*p < '0' || *p > '9')
        return NULL;
    while (*p >= '0' && *p <= '9')
        p++;
    return p;
}

static const char *json_number(const char *p)
{
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if ((p = digits(p)) == NULL)
        return NULL;
    if (*p == '.' && (p = digits(p + 1)) == NULL)
        return NULL;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        p = digits(p);
    }
    return p;
}

/* Members of an object (WANT_KEYS) or elements of an array, after the opening bracket. */
static const char *json_items(const char *p, char close, bool want_keys)
{
    p = ws(p);
    if (*p == close)
        return p + 1;
    for (;;) {
        if (want_keys) {
            if ((p = json_string(ws(p))) == NULL || *(p = ws(p)) != ':')
                return NULL;
            p++;
        }
        if ((p = json_value(p)) == NULL)
            return NULL;
        p = ws(p);
        if (*p == close)
            return p + 1;
        if (*p++ != ',')
            return NULL;
    }
}

static const char *json_value(const char *p)
{
    p = ws(p);
    if (*p == '{')
        return json_items(p + 1, '}', true);
    if (*p == '[')
        return json_items(p + 1, ']', false);
    if (*p == '"')
        return json_string(p);
    if (strncmp(p, "true", 4) == 0 || strncmp(p, "null", 4) == 0)
        return p + 4;
    if (strncmp(p, "false", 5) == 0)
        return p + 5;
    return json_number(p);
}

/* True if TEXT is one JSON value and a newline. */
static bool json_line_valid(const char *text, size_t len)
{
    char *copy = strndup(text, len);
    const char *end = json_value(copy);
    bool ok = end != NULL && *end == '\0';
    free(copy);
    return ok;
}

static void expect_json(const char *text)
{
    size_t len = strlen(text);
    ck_assert_msg(len > 0 && text[len - 1] == '\n' && strchr(text, '\n') == text + len - 1,
                  "not one line of JSON:\n%.3000s", text);
    ck_assert_msg(json_line_valid(text, len - 1), "not valid JSON:\n%.3000s", text);
}

static const char *metric_name(const char *p)
{
    if (!(*p == '_' || *p == ':' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        return NULL;
    while (*p == '_' || *p == ':' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
           (*p >= '0' && *p <= '9'))
        p++;
    return p;
}

static const char *prom_labels(const char *p)
{
    for (;;) {
        if ((p = metric_name(p)) == NULL || *p++ != '=' || *p++ != '"')
            return NULL;
        for (; *p != '"'; p++) {
            if (*p == '\0' || *p == '\n')
                return NULL;
            if (*p == '\\' && (*++p == '\0' || strchr("\\\"n", *p) == NULL))
                return NULL;
        }
        p++;
        if (*p == '}')
            return p + 1;
        if (*p++ != ',')
            return NULL;
    }
}

/* True if the metric name at P, ending at END, is FAMILY. */
static bool is_family(const char *p, const char *end, const char *family)
{
    return (size_t)(end - p) == strlen(family) && strncmp(p, family, (size_t)(end - p)) == 0;
}

/*
 * Prometheus text format as a scraper reads one file: each metric family
 * once, as its HELP line, its TYPE line, then all its samples; every sample
 * well formed. Empty lines are allowed, as the format allows them.
 */
static void expect_prometheus(const char *text)
{
    char seen[8192] = ",", family[128] = "", key[160];
    bool typed = false;
    for (const char *line = text; *line != '\0';) {
        const char *eol = strchr(line, '\n');
        ck_assert_msg(eol != NULL, "unterminated last line in:\n%.3000s", text);
        int len = (int)(eol - line);
        const char *p;
        if (strncmp(line, "# HELP ", 7) == 0) {
            p = metric_name(line + 7);
            ck_assert_msg(p != NULL && *p == ' ', "bad HELP line %.*s", len, line);
            snprintf(family, sizeof family, "%.*s", (int)(p - line - 7), line + 7);
            snprintf(key, sizeof key, "%s,", family);
            ck_assert_msg(strstr(seen, key) == NULL || strstr(seen, key)[-1] != ',',
                          "a second HELP line for %s in:\n%.3000s", family, text);
            strncat(seen, key, sizeof seen - strlen(seen) - 1);
            typed = false;
        } else if (strncmp(line, "# TYPE ", 7) == 0) {
            p = metric_name(line + 7);
            ck_assert_msg(p != NULL && strncmp(p, " gauge\n", 7) == 0, "bad TYPE line %.*s", len, line);
            ck_assert_msg(!typed && is_family(line + 7, p, family), "TYPE line not right after its HELP: %.*s", len,
                          line);
            typed = true;
        } else if (len > 0) {
            p = metric_name(line);
            ck_assert_msg(p != NULL, "bad sample %.*s", len, line);
            ck_assert_msg(typed && is_family(line, p, family),
                          "sample outside its family's HELP, TYPE, samples block: %.*s", len, line);
            if (*p == '{')
                p = prom_labels(p + 1);
            char *end = NULL;
            ck_assert_msg(p != NULL && *p == ' ', "bad labels in %.*s", len, line);
            strtod(p + 1, &end);
            ck_assert_msg(end == eol && end != p + 1, "bad value in %.*s", len, line);
        }
        line = eol + 1;
    }
}

/*
 * The cell of the table in OUT in the row of SLOT under the column TITLE,
 * found by the column's offset in the header line (cells are two blanks
 * apart). "" when there is no such row or column.
 */
static void table_cell(const char *out, const char *slot, const char *title, char *cell, size_t size)
{
    const char *header = strstr(out, "\nSLOT ");
    char row_start[80];
    snprintf(row_start, sizeof row_start, "\n%s ", slot);
    const char *row = strstr(out, row_start);
    cell[0] = '\0';
    if (header == NULL || row == NULL)
        return;
    header++;
    row++;
    const char *header_end = strchr(header, '\n');
    size_t tlen = strlen(title);
    const char *col = header;
    while ((col = strstr(col, title)) != NULL && col < header_end) {
        if ((col == header || col[-1] == ' ') && (col[tlen] == ' ' || col[tlen] == '\n'))
            break;
        col += tlen;
    }
    if (col == NULL || col >= header_end)
        return;
    const char *start = row + (col - header);
    const char *row_end = strchr(row, '\n');
    size_t n = 0;
    while (start + n < row_end && strncmp(start + n, "  ", 2) != 0 && n < size - 1)
        n++;
    memcpy(cell, start, n);
    cell[n] = '\0';
    while (n > 0 && cell[n - 1] == ' ')
        cell[--n] = '\0';
}

static void expect_cell(const char *out, const char *slot, const char *title, const char *want)
{
    char cell[256];
    table_cell(out, slot, title, cell, sizeof cell);
    ck_assert_msg(strcmp(cell, want) == 0, "slot %s, column %s: \"%s\", want \"%s\" in:\n%.3000s", slot, title, cell,
                  want, out);
}

/* The number in the first "(N)" of a table cell, -1 when there is none. */
static long long cell_bytes(const char *out, const char *slot, const char *title)
{
    char cell[256];
    table_cell(out, slot, title, cell, sizeof cell);
    const char *open = strchr(cell, '(');
    return open != NULL ? strtoll(open + 1, NULL, 10) : -1;
}

/* ---- the server with slots in every state ---- */

static pgt_server srv;
static pid_t consumer;
static PGconn *temp_session;

static void setup_states(void)
{
    ck_assert_msg(pgt_server_start(&srv, major, NULL) == 0, "PostgreSQL %d did not start: %s", major, srv.errmsg);
    /* The database first: creating one writes WAL, which the slots below would retain. */
    exec_sql(&srv, NULL, "CREATE DATABASE \"odd \"\"db\"\"\\ x\ny\"");
    exec_sql(&srv, NULL,
             "CREATE TABLE filler (id int, pad text);\n"
             "CREATE PUBLICATION pub FOR TABLE filler;\n"
             "SELECT pg_create_logical_replication_slot('s_retained', 'test_decoding');\n"
             "INSERT INTO filler SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g;\n"
             "SELECT pg_create_logical_replication_slot('s_inactive', 'pgoutput');\n"
             "SELECT pg_create_physical_replication_slot('s_phys', true);\n"
             "SELECT pg_create_logical_replication_slot('s_active', 'test_decoding');");
    exec_sql(&srv, ODD_DB, "SELECT pg_create_logical_replication_slot('s_odd', 'test_decoding')");
    consumer = start_consumer(&srv, "s_active");
    temp_session = hold_temporary_slot(&srv, "s_temp");
}

static void teardown_states(void)
{
    stop_consumer(&consumer);
    PQfinish(temp_session);
    temp_session = NULL;
    pgt_server_stop(&srv);
}

static long active_pid(const char *slot)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '%s'", slot);
    return query_long(&srv, sql);
}

static long long retained_now(const char *slot)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint FROM pg_replication_slots"
             " WHERE slot_name = '%s'",
             slot);
    return query_long(&srv, sql);
}

START_TEST(table_shows_every_slot)
{
    result r = RUN(&srv, "--inactive-warn", "off", "--inactive-crit", "off");
    expect_status(&r, 0);
    char pid[64];
    snprintf(pid, sizeof pid, "yes (pid %ld)", active_pid("s_active"));
    expect_cell(r.out, "s_active", "ACTIVE", pid);
    expect_cell(r.out, "s_active", "PLUGIN", "test_decoding");
    expect_cell(r.out, "s_active", "TEMP", "no");
    snprintf(pid, sizeof pid, "yes (pid %d)", PQbackendPID(temp_session));
    expect_cell(r.out, "s_temp", "ACTIVE", pid);
    expect_cell(r.out, "s_temp", "TEMP", "yes");
    expect_cell(r.out, "s_inactive", "ACTIVE", "no");
    expect_cell(r.out, "s_inactive", "PLUGIN", "pgoutput");
    expect_cell(r.out, "s_inactive", "DATABASE", "postgres");
    expect_cell(r.out, "s_phys", "TYPE", "physical");
    expect_cell(r.out, "s_phys", "PLUGIN", "-");
    expect_cell(r.out, "s_phys", "DATABASE", "-");
    expect_cell(r.out, "s_phys", "FLUSH_LAG", "-");
    expect_cell(r.out, "s_odd", "DATABASE", "odd \"db\"\\ x?y");
    const char *slots[] = {"s_active", "s_inactive", "s_odd", "s_phys", "s_retained", "s_temp"};
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        expect_cell(r.out, slots[i], "WAL_STATUS", "reserved");
        expect_cell(r.out, slots[i], "SAFE_WAL_SIZE", "-");
        expect_cell(r.out, slots[i], "TWO_PHASE", "no");
    }
    expect_has(r.out, "capacity: slots 6/20 used (max_replication_slots), walsenders 1/20 used (max_wal_senders),"
                      " max_slot_wal_keep_size unlimited (-1)");
    expect_has(r.out, "warning: max_slot_wal_keep_size is -1 (unlimited)");
    expect_has(r.out, "verdict: OK (exit 0)");
    /* What each major has, and only that. */
    bool has17 = major >= 17;
    ck_assert_int_eq(strstr(r.out, "  CONFLICTING") != NULL, major >= 16);
    ck_assert_int_eq(strstr(r.out, "  INACTIVE_SINCE") != NULL, has17);
    ck_assert_int_eq(strstr(r.out, "  FAILOVER  SYNCED") != NULL, has17);
    ck_assert_int_eq(strstr(r.out, "  INVALIDATION") != NULL, has17);
    ck_assert_int_eq(strstr(r.out, "idle_replication_slot_timeout 0 (off)") != NULL, major >= 18);
    if (has17) {
        expect_cell(r.out, "s_active", "INACTIVE_SINCE", "-");
        expect_cell(r.out, "s_inactive", "INVALIDATION", "-");
        expect_cell(r.out, "s_inactive", "FAILOVER", "no");
    }
    if (major < 17)
        expect_has(r.out, "note     [inactive] slot \"s_inactive\": inactive for an unknown time");
    result_free(&r);
}
END_TEST

/* The retained WAL printed lies between the server's own figure before and after the run. */
START_TEST(retained_wal_after_writes)
{
    long long before = retained_now("s_retained");
    result r = RUN(&srv, "--inactive-warn", "off", "--inactive-crit", "off");
    long long after = retained_now("s_retained");
    expect_status(&r, 0);
    long long shown = cell_bytes(r.out, "s_retained", "RETAINED_WAL");
    ck_assert_msg(before >= 4000000 && shown >= before && shown <= after, "retained %lld, server %lld..%lld", shown,
                  before, after);
    char pretty[SLOTS_SIZE_BUFSIZE], want[128];
    slots_format_size(shown, pretty);
    snprintf(want, sizeof want, "%s (%lld)", pretty, shown);
    expect_cell(r.out, "s_retained", "RETAINED_WAL", want);
    ck_assert_int_lt(cell_bytes(r.out, "s_inactive", "RETAINED_WAL"), before);
    ck_assert_int_ge(cell_bytes(r.out, "s_retained", "FLUSH_LAG"), 4000000);
    result_free(&r);

    r = RUN(&srv, "--json");
    expect_json(r.out);
    const char *at = strstr(r.out, "\"slot_name\":\"s_retained\"");
    ck_assert_ptr_nonnull(at);
    at = strstr(at, "\"retained_wal_bytes\":");
    ck_assert_ptr_nonnull(at);
    long long json_bytes = strtoll(at + strlen("\"retained_wal_bytes\":"), NULL, 10);
    ck_assert_msg(json_bytes >= before && json_bytes <= retained_now("s_retained"), "json retained %lld", json_bytes);
    result_free(&r);
}
END_TEST

START_TEST(json_reports_each_state)
{
    result r = RUN(&srv, "--json", "--inactive-warn", "off", "--inactive-crit", "off");
    expect_status(&r, 0);
    expect_json(r.out);
    expect_hasf(r.out,
                "\"slot_name\":\"s_active\",\"slot_type\":\"logical\",\"plugin\":\"test_decoding\","
                "\"database\":\"postgres\",\"active\":true,\"active_pid\":%ld,\"temporary\":false,",
                active_pid("s_active"));
    expect_hasf(r.out,
                "\"slot_name\":\"s_temp\",\"slot_type\":\"logical\",\"plugin\":\"test_decoding\","
                "\"database\":\"postgres\",\"active\":true,\"active_pid\":%d,\"temporary\":true,",
                PQbackendPID(temp_session));
    expect_has(r.out, "\"slot_name\":\"s_inactive\",\"slot_type\":\"logical\",\"plugin\":\"pgoutput\","
                      "\"database\":\"postgres\",\"active\":false,\"active_pid\":null,\"temporary\":false,");
    expect_has(r.out, "\"slot_name\":\"s_phys\",\"slot_type\":\"physical\",\"plugin\":null,\"database\":null,"
                      "\"active\":false,\"active_pid\":null,\"temporary\":false,");
    expect_has(r.out, "\"flush_lag_bytes\":null,\"flush_lag\":null,\"wal_status\":\"reserved\","
                      "\"safe_wal_size_bytes\":null,\"safe_wal_size\":null,\"two_phase\":false");
    expect_has(r.out, "\"slot_name\":\"s_odd\",\"slot_type\":\"logical\",\"plugin\":\"test_decoding\","
                      "\"database\":\"odd \\\"db\\\"\\\\ x\\ny\",");
    expect_has(r.out, "\"capacity\":{\"slots_used\":6,\"slots_max\":20,\"slots_free\":14,\"walsenders_used\":1,"
                      "\"walsenders_max\":20,\"walsenders_free\":19,\"max_slot_wal_keep_size_bytes\":-1,"
                      "\"max_slot_wal_keep_size_unlimited\":true");
    expect_hasf(r.out, "\"server_version_num\":%d", major);
    expect_has(r.out, "\"verdict\":{\"status\":\"ok\",\"exit_code\":0,\"reasons\":[]");
    ck_assert_int_eq(strstr(r.out, "\"conflicting\":false") != NULL, major >= 16);
    ck_assert_int_eq(strstr(r.out, "\"inactive_since\":") != NULL, major >= 17);
    ck_assert_int_eq(strstr(r.out, "\"failover\":false,\"synced\":false") != NULL, major >= 17);
    ck_assert_int_eq(strstr(r.out, "\"invalidation_reason\":null") != NULL, major >= 17);
    ck_assert_int_eq(strstr(r.out, "\"idle_replication_slot_timeout_seconds\":0}") != NULL, major >= 18);
    if (major >= 17)
        expect_has(r.out, "\"notes\":[]}}");
    else
        expect_has(r.out, "\"notes\":[{\"rule\":\"inactive\",\"slot\":\"s_inactive\",\"message\":\"slot \\\"s_inactive\\\":"
                          " inactive for an unknown time");
    result_free(&r);
}
END_TEST

START_TEST(prometheus_reports_each_state)
{
    result r = RUN(&srv, "--prometheus", "--inactive-warn", "off", "--inactive-crit", "off");
    expect_status(&r, 0);
    expect_prometheus(r.out);
    expect_has(r.out, "\npgrepl_slot_active{slot=\"s_active\",database=\"postgres\",type=\"logical\"} 1\n");
    expect_has(r.out, "\npgrepl_slot_active{slot=\"s_temp\",database=\"postgres\",type=\"logical\"} 1\n");
    expect_has(r.out, "\npgrepl_slot_active{slot=\"s_inactive\",database=\"postgres\",type=\"logical\"} 0\n");
    expect_has(r.out, "\npgrepl_slot_active{slot=\"s_phys\",database=\"\",type=\"physical\"} 0\n");
    expect_has(r.out, "\npgrepl_slot_temporary{slot=\"s_temp\",database=\"postgres\",type=\"logical\"} 1\n");
    expect_has(r.out, "\npgrepl_slot_temporary{slot=\"s_active\",database=\"postgres\",type=\"logical\"} 0\n");
    expect_has(r.out,
               "\npgrepl_slot_active{slot=\"s_odd\",database=\"odd \\\"db\\\"\\\\ x\\ny\",type=\"logical\"} 0\n");
    expect_has(r.out, "\npgrepl_slot_wal_status{slot=\"s_inactive\",database=\"postgres\",type=\"logical\","
                      "status=\"reserved\"} 1\n");
    expect_has(r.out, "\npgrepl_slot_wal_status{slot=\"s_inactive\",database=\"postgres\",type=\"logical\","
                      "status=\"lost\"} 0\n");
    expect_has(r.out, "\npgrepl_slot_invalidated{slot=\"s_inactive\",database=\"postgres\",type=\"logical\"} 0\n");
    expect_lacks(r.out, "pgrepl_slot_safe_wal_size_bytes{");
    expect_lacks(r.out, "pgrepl_slot_flush_lag_bytes{slot=\"s_phys\"");
    expect_has(r.out, "\npgrepl_slots_used 6\n");
    expect_has(r.out, "\npgrepl_slots_max 20\n");
    expect_has(r.out, "\npgrepl_walsenders_used 1\n");
    expect_has(r.out, "\npgrepl_walsenders_max 20\n");
    expect_has(r.out, "\npgrepl_max_slot_wal_keep_size_bytes -1\n");
    expect_has(r.out, "\npgrepl_slots_health_status 0\n");
    expect_has(r.out, "\npgrepl_slots_up 1\n");
    ck_assert_int_eq(strstr(r.out, "\npgrepl_idle_replication_slot_timeout_seconds 0\n") != NULL, major >= 18);
    ck_assert_int_eq(strstr(r.out, "\npgrepl_slot_inactive_seconds{slot=\"s_inactive\"") != NULL, major >= 17);
    expect_lacks(r.out, "pgrepl_slot_inactive_seconds{slot=\"s_active\"");
    const char *at = strstr(r.out, "\npgrepl_slot_retained_wal_bytes{slot=\"s_retained\",database=\"postgres\","
                                   "type=\"logical\"} ");
    ck_assert_ptr_nonnull(at);
    long long bytes = strtoll(strchr(at, '}') + 2, NULL, 10);
    ck_assert_int_ge(bytes, 4000000);
    ck_assert_int_le(bytes, retained_now("s_retained"));
    result_free(&r);
}
END_TEST

static void expect_reason(const result *r, const char *severity, const char *rule, const char *slot)
{
    char want[256];
    snprintf(want, sizeof want, "  %-8s [%s] slot \"%s\":", severity, rule, slot);
    expect_has(r->out, want);
}

/* Only the slot that retains more than the threshold is named; crit wins over warn. */
START_TEST(rule_retained_wal)
{
    result r = RUN(&srv, "--retained-warn", "2MB", "--inactive-warn", "off", "--inactive-crit", "off");
    expect_status(&r, 2);
    expect_has(r.out, "verdict: WARNING (exit 2)");
    expect_reason(&r, "warning", "retained_wal", "s_retained");
    expect_has(r.out, "more than --retained-warn 2048 kB");
    expect_lacks(r.out, "slot \"s_inactive\": retains");
    expect_lacks(r.out, "slot \"s_active\": retains");
    result_free(&r);
    r = RUN(&srv, "--retained-warn", "1kB", "--retained-crit", "2MB", "--inactive-warn", "off", "--inactive-crit",
            "off", "--json");
    expect_status(&r, 3);
    expect_json(r.out);
    expect_has(r.out, "{\"level\":\"critical\",\"rule\":\"retained_wal\",\"slot\":\"s_retained\",\"message\":");
    result_free(&r);
}
END_TEST

/* 17+ knows how long a slot has been inactive; 14-16 do not, and say so instead of guessing. */
START_TEST(rule_inactive)
{
    if (major >= 17)
        wait_for(&srv, "SELECT now() - inactive_since > '2 s' FROM pg_replication_slots WHERE slot_name = 's_inactive'",
                 "t");
    else
        sleep(2);
    result r = RUN(&srv, "--inactive-warn", "1s", "--inactive-crit", "off");
    if (major >= 17) {
        expect_status(&r, 2);
        expect_reason(&r, "warning", "inactive", "s_inactive");
        expect_reason(&r, "warning", "inactive", "s_phys");
        expect_has(r.out, "longer than --inactive-warn 1s");
    } else {
        expect_status(&r, 0);
        expect_hasf(r.out, "note     [inactive] slot \"s_inactive\": inactive for an unknown time: PostgreSQL %d has"
                           " no inactive_since", major);
    }
    expect_lacks(r.out, "slot \"s_active\": inactive");
    expect_lacks(r.out, "slot \"s_temp\": inactive");
    result_free(&r);
    r = RUN(&srv, "--inactive-warn", "1s", "--inactive-crit", "1s");
    expect_status(&r, major >= 17 ? 3 : 0);
    if (major >= 17)
        expect_reason(&r, "critical", "inactive", "s_inactive");
    result_free(&r);
    r = RUN(&srv, "--inactive-warn", "1h");
    expect_status(&r, 0);
    result_free(&r);
}
END_TEST

START_TEST(rule_capacity)
{
    result r = RUN(&srv, "--min-free-slots", "15", "--inactive-warn", "off", "--inactive-crit", "off");
    expect_status(&r, 2);
    expect_has(r.out, "  warning  [slot_capacity] 6 of 20 replication slots used (max_replication_slots): 14 free,"
                      " fewer than --min-free-slots 15");
    result_free(&r);
    r = RUN(&srv, "--min-free-walsenders", "20", "--inactive-warn", "off", "--inactive-crit", "off", "--prometheus");
    expect_status(&r, 2);
    expect_has(r.out, "\npgrepl_slots_health_status 1\n");
    result_free(&r);
    r = RUN(&srv, "--min-free-walsenders", "20", "--inactive-warn", "off", "--inactive-crit", "off");
    expect_has(r.out, "  warning  [walsender_capacity] 1 of 20 WAL senders used (max_wal_senders): 19 free");
    result_free(&r);
    r = RUN(&srv, "--warn-unlimited", "--inactive-warn", "off", "--inactive-crit", "off");
    expect_status(&r, 2);
    expect_has(r.out, "  warning  [wal_keep_unlimited] max_slot_wal_keep_size is -1 (unlimited)");
    result_free(&r);
}
END_TEST

/* The same server through -h/-p/-U, a URI, and the libpq environment alone. */
START_TEST(connection_options)
{
    const char *opts[] = {"-h", srv.dir, "-p", "5432", "-U", "postgres", "--json", NULL};
    result r = run_env(opts, NULL, 0);
    expect_status(&r, 0);
    expect_has(r.out, "\"slot_name\":\"s_active\"");
    result_free(&r);

    char uri[512];
    snprintf(uri, sizeof uri, "postgresql:///postgres?host=%s&port=5432&user=postgres", srv.dir);
    const char *by_uri[] = {"-d", uri, "--json", NULL};
    r = run_env(by_uri, NULL, 0);
    expect_has(r.out, "\"slot_name\":\"s_active\"");
    result_free(&r);

    char host[512];
    snprintf(host, sizeof host, "PGHOST=%s", srv.dir);
    const char *env[] = {host, "PGPORT=5432", "PGUSER=postgres", "PGDATABASE=postgres", NULL};
    const char *none[] = {"--json", NULL};
    r = run_env(none, env, 0);
    expect_has(r.out, "\"slot_name\":\"s_active\"");
    result_free(&r);

    /* -h overrides the host of -d. */
    const char *over[] = {"-d", "host=/nonexistent user=postgres dbname=postgres", "-h", srv.dir, "--json", NULL};
    r = run_env(over, NULL, 0);
    expect_has(r.out, "\"slot_name\":\"s_active\"");
    result_free(&r);

    const char *wrong_db[] = {"-h", srv.dir, "-U", "postgres", "-d", "no_such_db", "-w", NULL};
    r = run_env(wrong_db, NULL, 0);
    expect_status(&r, 1);
    expect_has(r.err, "pgrepl-slots: error: ");
    expect_has(r.err, "\"no_such_db\" does not exist");
    result_free(&r);
}
END_TEST

/* --watch reports until SIGTERM, one JSON line each time, and exits with the last verdict. */
START_TEST(watch_repeats)
{
    char conninfo[1024];
    ck_assert_int_eq(pgt_conninfo(&srv, NULL, conninfo, sizeof conninfo), 0);
    const char *args[] = {"-d", conninfo, "--json", "--watch", "1", "--retained-warn", "2MB", NULL};
    result r = run_env(args, NULL, 2.5);
    expect_status(&r, 2);
    int lines = 0;
    for (const char *line = r.out, *eol; (eol = strchr(line, '\n')) != NULL; line = eol + 1) {
        ck_assert_msg(json_line_valid(line, (size_t)(eol - line)), "not JSON: %.*s", (int)(eol - line), line);
        lines++;
    }
    ck_assert_msg(lines >= 2 && lines <= 4, "%d reports in 2.5 s:\n%.3000s", lines, r.out);
    result_free(&r);
}
END_TEST

/* What a reader of the --output file saw while --watch replaced it. */
typedef struct reader {
    const char *path;
    int reads, missing, complete;
    ino_t inodes[64];
    int ninodes;
    char *partial; /* the first read that was not a whole report */
} reader;

/* A scraper: read the whole file, as often as the test loop ticks. */
static void read_output(const char *out, void *arg)
{
    (void)out;
    reader *r = arg;
    struct stat st;
    char *text = file_text(r->path);
    r->reads++;
    if (text == NULL) {
        r->missing++;
        return;
    }
    size_t len = strlen(text);
    if (strncmp(text, "# HELP pgrepl_slots_up ", 23) == 0 && strstr(text, "\npgrepl_slots_health_status ") != NULL &&
        len > 0 && text[len - 1] == '\n')
        r->complete++;
    else if (r->partial == NULL)
        r->partial = strdup(text);
    free(text);
    if (stat(r->path, &st) == 0 && (r->ninodes == 0 || r->inodes[r->ninodes - 1] != st.st_ino) && r->ninodes < 64)
        r->inodes[r->ninodes++] = st.st_ino;
}

/*
 * --output FILE: each report replaces FILE through a temporary file in the
 * same directory, renamed over it; nothing on stdout, no temporary file left
 * behind, and a reader never sees half a report.
 */
START_TEST(output_replaces_the_file)
{
    char dir[] = "/tmp/pgrepl-slots-out.XXXXXX", path[256], conninfo[1024];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/slots.prom", dir);
    ck_assert_int_eq(pgt_conninfo(&srv, NULL, conninfo, sizeof conninfo), 0);

    result r = RUN(&srv, "--prometheus", "--output", path);
    expect_status(&r, 0);
    ck_assert_str_eq(r.out, "");
    result_free(&r);
    char *text = file_text(path);
    ck_assert_ptr_nonnull(text);
    expect_prometheus(text);
    expect_has(text, "\npgrepl_slots_up 1\n");
    free(text);
    mode_t mask = umask(0);
    umask(mask);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_msg((st.st_mode & 0777) == (0666 & ~mask), "mode %o, umask %o", st.st_mode & 0777, mask);

    /* Replaced while a scraper reads it, every 50 ms, ten reports a second. */
    reader rd = {.path = path};
    const char *watching[] = {"-d", conninfo, "--prometheus", "--watch", "0.1", "--output", path, NULL};
    r = run_ticking(watching, NULL, 3, read_output, &rd);
    expect_status(&r, 0);
    ck_assert_str_eq(r.out, "");
    ck_assert_msg(rd.partial == NULL, "a reader saw part of a report:\n%.3000s", rd.partial);
    ck_assert_msg(rd.missing == 0 && rd.complete == rd.reads && rd.reads >= 20, "%d reads, %d missing, %d complete",
                  rd.reads, rd.missing, rd.complete);
    ck_assert_msg(rd.ninodes >= 5, "the file was replaced %d times in 3 s, want a new file for each report",
                  rd.ninodes - 1);
    result_free(&r);
    free(rd.partial);

    /* Every format; a JSON report replaces the last one instead of adding a line. */
    const char *json_watch[] = {"-d", conninfo, "--json", "--watch", "0.2", "--output", path, NULL};
    r = run_env(json_watch, NULL, 1);
    expect_status(&r, 0);
    ck_assert_str_eq(r.out, "");
    result_free(&r);
    text = file_text(path);
    expect_json(text);
    free(text);
    r = RUN(&srv, "--output", path);
    expect_status(&r, 0);
    text = file_text(path);
    expect_has(text, "verdict: OK (exit 0)");
    free(text);
    result_free(&r);
    expect_only_file(dir, "slots.prom");

    /* Unreachable: the file says so. */
    const char *down[] = {"-h", "/nonexistent", "-w", "--prometheus", "--output", path, NULL};
    r = run_env(down, NULL, 0);
    expect_status(&r, 1);
    text = file_text(path);
    expect_prometheus(text);
    expect_has(text, "\npgrepl_slots_up 0\n");
    expect_lacks(text, "pgrepl_slots_used");
    free(text);
    result_free(&r);

    /* A directory that is not there: exit 1, the file named. */
    char missing[300];
    snprintf(missing, sizeof missing, "%s/no/such/dir/slots.prom", dir);
    r = RUN(&srv, "--prometheus", "--output", missing);
    expect_status(&r, 1);
    expect_hasf(r.err, "pgrepl-slots: error: cannot write \"%s\": cannot create a temporary file in its directory: "
                       "No such file or directory\n", missing);
    result_free(&r);

    unlink(path);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* A scraper that checks each read of the --output file as one exposition. */
static void scrape_output(const char *out, void *arg)
{
    (void)out;
    reader *r = arg;
    char *text = file_text(r->path);
    r->reads++;
    if (text == NULL) {
        r->missing++;
        return;
    }
    expect_prometheus(text);
    r->complete++;
    free(text);
}

/*
 * A Prometheus file holds one exposition: each family's HELP and TYPE once,
 * then its samples. --watch --prometheus therefore needs --output, whose file
 * each report replaces; on standard output the reports would follow one
 * another and repeat every HELP and TYPE line.
 */
START_TEST(watch_prometheus_once_per_file)
{
    char dir[] = "/tmp/pgrepl-slots-prom.XXXXXX", path[256], conninfo[1024];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/slots.prom", dir);
    ck_assert_int_eq(pgt_conninfo(&srv, NULL, conninfo, sizeof conninfo), 0);

    const char *to_stdout[] = {"-d", conninfo, "--prometheus", "--watch", "0.3", NULL};
    result r = run_env(to_stdout, NULL, 1.5);
    expect_status(&r, 1);
    ck_assert_str_eq(r.out, "");
    expect_has(r.err, "pgrepl-slots: error: --watch with --prometheus needs --output FILE (each report then replaces"
                      " FILE; on standard output the reports would follow one another, repeating every HELP and"
                      " TYPE line)\n");
    result_free(&r);

    reader rd = {.path = path};
    const char *to_file[] = {"-d", conninfo, "--prometheus", "--watch", "0.2", "--output", path, NULL};
    r = run_ticking(to_file, NULL, 1.5, scrape_output, &rd);
    expect_status(&r, 0);
    ck_assert_str_eq(r.out, "");
    ck_assert_msg(rd.complete >= 10, "%d reads, %d of them before the first report", rd.reads, rd.missing);
    result_free(&r);
    char *text = file_text(path);
    expect_prometheus(text);
    expect_has(text, "\npgrepl_slots_up 1\n");
    free(text);
    unlink(path);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* The sizes printed are pg_size_pretty's, to the byte, on every major. */
START_TEST(sizes_match_pg_size_pretty)
{
    static const int64_t sizes[] = {
        0,
        1,
        10239,
        10240,
        -10240,
        10751,
        10752,
        -10752,
        1048575,
        10485247,
        10485248,
        10485759,
        10485760,
        123456789,
        INT64_C(10737418239),
        INT64_C(10737418240),
        INT64_C(10994579406848),
        INT64_C(10995116277760),
        -INT64_C(10995116277760),
        INT64_C(11257898885799935),
    };
    char sql[2048] = "SELECT string_agg(pg_size_pretty(v), '|' ORDER BY i) FROM unnest(ARRAY[";
    char want[2048] = "";
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char pretty[SLOTS_SIZE_BUFSIZE];
        slots_format_size(sizes[i], pretty);
        snprintf(sql + strlen(sql), sizeof sql - strlen(sql), "%s%" PRId64 "::bigint", i ? "," : "", sizes[i]);
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", i ? "|" : "", pretty);
    }
    strcat(sql, "]) WITH ORDINALITY AS u(v, i)");
    char *got = query(&srv, NULL, sql);
    ck_assert_str_eq(want, got);
    free(got);
}
END_TEST

/* ---- extended, unreserved and lost, on a server of their own ---- */

static pgt_server wal_srv;

static void setup_wal(void)
{
    /* max_wal_size at its minimum (two segments) so that a few segment switches
     * take a slot past it; no timed checkpoint to move things in between. */
    static const char *const settings[] = {"max_wal_size=32MB", "min_wal_size=32MB", "checkpoint_timeout=1d",
                                           "max_replication_slots=1", NULL};
    ck_assert_msg(pgt_server_start(&wal_srv, major, settings) == 0, "PostgreSQL %d: %s", major, wal_srv.errmsg);
}

static void teardown_wal(void)
{
    pgt_server_stop(&wal_srv);
}

static void expect_wal_status(const char *status)
{
    wait_for(&wal_srv, "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'w'", status);
}

static const char *quiet[] = {"--inactive-warn", "off", "--inactive-crit", "off", "--retained-warn", "off",
                              "--retained-crit", "off", NULL};

/* The program on the wal server with the rules that are not under test off, and EXTRA. */
static result run_wal(const char *extra1, const char *extra2)
{
    const char *args[16];
    size_t n = 0;
    while (quiet[n] != NULL) {
        args[n] = quiet[n];
        n++;
    }
    args[n++] = extra1;
    args[n++] = extra2;
    args[n] = NULL;
    return run_on(&wal_srv, args);
}

START_TEST(wal_status_extended_unreserved_lost)
{
    exec_sql(&wal_srv, NULL,
             "CREATE TABLE t (x int);\n"
             "SELECT pg_create_logical_replication_slot('w', 'test_decoding');");

    /* The last free slot is taken: critical, whatever the slots look like. */
    result r = run_wal("--json", NULL);
    expect_status(&r, 3);
    expect_has(r.out, "{\"level\":\"critical\",\"rule\":\"slot_capacity\",\"slot\":null,\"message\":\"1 of 1"
                      " replication slots used (max_replication_slots): none free\"}");
    result_free(&r);

    for (int i = 0; i < 6; i++)
        exec_sql(&wal_srv, NULL, "INSERT INTO t SELECT generate_series(1, 1000);\nSELECT pg_switch_wal();");
    expect_wal_status("extended");
    r = run_wal("--min-free-slots", "0");
    expect_status(&r, 2);
    expect_reason(&r, "warning", "wal_status", "w");
    expect_has(r.out, "wal_status is extended");
    expect_cell(r.out, "w", "WAL_STATUS", "extended");
    result_free(&r);

    /* Finish any checkpoint the switches asked for before the limit shrinks,
     * and raise max_wal_size so that no other starts: the slot's WAL is then
     * beyond max_slot_wal_keep_size but still on disk. */
    exec_sql(&wal_srv, NULL,
             "CHECKPOINT;\n"
             "ALTER SYSTEM SET max_slot_wal_keep_size = '1MB';\n"
             "ALTER SYSTEM SET max_wal_size = '1GB';\n"
             "SELECT pg_reload_conf();");
    wait_for(&wal_srv, "SHOW max_slot_wal_keep_size", "1MB");
    expect_wal_status("unreserved");
    r = run_wal("--min-free-slots", "0");
    expect_status(&r, 3);
    expect_reason(&r, "critical", "wal_status", "w");
    expect_has(r.out, "wal_status is unreserved");
    expect_has(r.out, "max_slot_wal_keep_size 1024 kB");
    expect_lacks(r.out, "warning: max_slot_wal_keep_size is -1");
    result_free(&r);

    exec_sql(&wal_srv, NULL, "CHECKPOINT");
    expect_wal_status("lost");
    r = run_wal("--min-free-slots", "0");
    expect_status(&r, 3);
    expect_reason(&r, "critical", "wal_status", "w");
    expect_has(r.out, "wal_status is lost");
    expect_cell(r.out, "w", "WAL_STATUS", "lost");
    expect_cell(r.out, "w", "RETAINED_WAL", "-");
    expect_cell(r.out, "w", "SAFE_WAL_SIZE", "-");
    if (major >= 17) {
        expect_has(r.out, "(invalidation_reason wal_removed)");
        expect_cell(r.out, "w", "INVALIDATION", "wal_removed");
    }
    result_free(&r);

    r = run_wal("--prometheus", NULL);
    expect_status(&r, 3);
    expect_prometheus(r.out);
    expect_has(r.out, "\npgrepl_slot_wal_status{slot=\"w\",database=\"postgres\",type=\"logical\",status=\"lost\"} 1\n");
    expect_has(r.out,
               "\npgrepl_slot_wal_status{slot=\"w\",database=\"postgres\",type=\"logical\",status=\"reserved\"} 0\n");
    expect_has(r.out, "\npgrepl_slot_invalidated{slot=\"w\",database=\"postgres\",type=\"logical\"} 1\n");
    expect_has(r.out, "\npgrepl_max_slot_wal_keep_size_bytes 1048576\n");
    expect_has(r.out, "\npgrepl_slots_health_status 2\n");
    expect_lacks(r.out, "pgrepl_slot_retained_wal_bytes{slot=\"w\"");
    result_free(&r);
    r = run_wal("--json", NULL);
    expect_json(r.out);
    expect_has(r.out, "\"restart_lsn\":null,");
    expect_has(r.out, "\"retained_wal_bytes\":null,\"retained_wal\":null,");
    expect_has(r.out, "\"wal_status\":\"lost\",\"safe_wal_size_bytes\":null,");
    if (major >= 17)
        expect_has(r.out, "\"invalidation_reason\":\"wal_removed\"}");
    result_free(&r);
    exec_sql(&wal_srv, NULL, "SELECT pg_drop_replication_slot('w')");
}
END_TEST

/* 18's idle_replication_slot_timeout invalidates an idle slot at a checkpoint. */
START_TEST(idle_timeout_on_18)
{
    exec_sql(&wal_srv, NULL,
             "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots;\n"
             "SELECT pg_create_logical_replication_slot('w', 'test_decoding');\n"
             "ALTER SYSTEM SET idle_replication_slot_timeout = '1s';\n"
             "SELECT pg_reload_conf();");
    wait_for(&wal_srv, "SHOW idle_replication_slot_timeout", "1s");
    wait_for(&wal_srv, "SELECT now() - inactive_since > '1.5 s' FROM pg_replication_slots", "t");
    exec_sql(&wal_srv, NULL, "CHECKPOINT");
    wait_for(&wal_srv, "SELECT invalidation_reason FROM pg_replication_slots", "idle_timeout");
    result r = run_wal("--json", NULL);
    expect_status(&r, 3);
    expect_has(r.out, "\"idle_replication_slot_timeout_seconds\":1}");
    expect_has(r.out, "\"invalidation_reason\":\"idle_timeout\"}");
    expect_has(r.out, "(invalidation_reason idle_timeout)");
    result_free(&r);
    r = run_wal("--min-free-slots", "0");
    expect_has(r.out, ", idle_replication_slot_timeout 1s\n");
    result_free(&r);
}
END_TEST

/* ---- --drop-inactive, on a server of its own ---- */

static pgt_server drop_srv;
static pid_t drop_consumer;
static PGconn *drop_temp;

static void setup_drop_server(void)
{
    ck_assert_msg(pgt_server_start(&drop_srv, major, NULL) == 0, "PostgreSQL %d: %s", major, drop_srv.errmsg);
    exec_sql(&drop_srv, NULL,
             "CREATE DATABASE other;\n"
             "SELECT pg_create_logical_replication_slot('keep_active', 'test_decoding');");
    drop_consumer = start_consumer(&drop_srv, "keep_active");
    drop_temp = hold_temporary_slot(&drop_srv, "keep_temp");
}

static void teardown_drop_server(void)
{
    stop_consumer(&drop_consumer);
    PQfinish(drop_temp);
    drop_temp = NULL;
    pgt_server_stop(&drop_srv);
}

/* Before each test: the same candidates, made afresh. */
static void setup_candidates(void)
{
    exec_sql(&drop_srv, NULL,
             "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name NOT LIKE 'keep%';\n"
             "SELECT pg_create_logical_replication_slot('d_old1', 'test_decoding');\n"
             "SELECT pg_create_logical_replication_slot('d_old2', 'pgoutput');\n"
             "SELECT pg_create_physical_replication_slot('d_phys', true);\n"
             "SELECT pg_create_logical_replication_slot('x_other', 'test_decoding');");
    exec_sql(&drop_srv, "other", "SELECT pg_create_logical_replication_slot('d_otherdb', 'test_decoding')");
}

/*
 * The program on the drop server with ARGS; on 14-16 with --force-unknown-age
 * added when FORCE, and a short --observe (nothing moves the slots here).
 */
static result run_drop(bool force, const char *const *args)
{
    const char *all[24];
    size_t n = 0;
    for (; *args != NULL; args++)
        all[n++] = *args;
    if (force && major < 17) {
        all[n++] = "--force-unknown-age";
        all[n++] = "--observe";
        all[n++] = "300ms";
    }
    all[n] = NULL;
    return run_on(&drop_srv, all);
}

#define DROP(force, ...) run_drop((force), (const char *const[]){"--drop-inactive", __VA_ARGS__, NULL})

static void expect_slots(const char *want)
{
    char *names = slot_names(&drop_srv);
    ck_assert_str_eq(names, want);
    free(names);
}

static void expect_consumer_alive(void)
{
    ck_assert_int_eq(kill(drop_consumer, 0), 0);
    wait_for(&drop_srv, "SELECT active FROM pg_replication_slots WHERE slot_name = 'keep_active'", "t");
}

#define ALL_SLOTS "d_old1,d_old2,d_otherdb,d_phys,keep_active,keep_temp,x_other"

START_TEST(dry_run_changes_nothing)
{
    result r = DROP(true, "--older-than", "0s", "--dry-run");
    expect_status(&r, 0);
    expect_has(r.out, "would drop slot \"d_old1\" (logical, inactive for ");
    expect_has(r.out, "would drop slot \"d_old2\" (logical, inactive for ");
    expect_has(r.out, "would drop slot \"d_otherdb\" (logical, inactive for ");
    expect_has(r.out, "would drop slot \"x_other\" (logical, inactive for ");
    expect_has(r.out, "keep slot \"d_phys\": physical slot (--include-physical includes it)\n");
    expect_hasf(r.out, "keep slot \"keep_active\": active (pid %ld)\n",
                query_long(&drop_srv, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'keep_active'"));
    expect_hasf(r.out, "keep slot \"keep_temp\": active (pid %d)\n", PQbackendPID(drop_temp));
    expect_has(r.out, "dry run: would drop 4, keep 3; nothing was changed\n");
    expect_lacks(r.out, "dropped");
    result_free(&r);
    expect_slots(ALL_SLOTS);
}
END_TEST

START_TEST(drops_exactly_the_eligible)
{
    result r = DROP(true, "--older-than", "0s");
    expect_status(&r, 0);
    expect_has(r.out, "dropped slot \"d_old1\" (logical, inactive for ");
    expect_has(r.out, "dropped slot \"d_old2\" (logical, inactive for ");
    expect_has(r.out, "dropped slot \"d_otherdb\" (logical, inactive for ");
    expect_has(r.out, "dropped slot \"x_other\" (logical, inactive for ");
    expect_has(r.out, "dropped 4, skipped 0, kept 3, failed 0\n");
    result_free(&r);
    expect_slots("d_phys,keep_active,keep_temp");
    expect_consumer_alive();
}
END_TEST

START_TEST(drop_name_pattern_and_physical)
{
    result r = DROP(true, "--older-than", "0s", "--name-pattern", "x_*");
    expect_status(&r, 0);
    expect_has(r.out, "dropped slot \"x_other\"");
    expect_has(r.out, "keep slot \"d_old1\": name does not match --name-pattern\n");
    expect_has(r.out, "dropped 1, skipped 0, kept 6, failed 0\n");
    result_free(&r);
    expect_slots("d_old1,d_old2,d_otherdb,d_phys,keep_active,keep_temp");

    r = DROP(true, "--older-than", "0s", "--include-physical", "--name-pattern", "*_phys");
    expect_status(&r, 0);
    expect_has(r.out, "dropped slot \"d_phys\" (physical, inactive for ");
    result_free(&r);
    expect_slots("d_old1,d_old2,d_otherdb,keep_active,keep_temp");

    /* Everything, physical included: still never the active or the temporary slot. */
    r = DROP(true, "--older-than", "0s", "--include-physical");
    expect_status(&r, 0);
    expect_has(r.out, "dropped 3, skipped 0, kept 2, failed 0\n");
    result_free(&r);
    expect_slots("keep_active,keep_temp");
    expect_consumer_alive();
}
END_TEST

/* --older-than against inactive_since on 17+; on 14-16 the age is unknown and only --force-unknown-age drops. */
START_TEST(drop_older_than)
{
    sleep(2);
    exec_sql(&drop_srv, NULL, "SELECT pg_create_logical_replication_slot('d_new', 'test_decoding')");
    result r = DROP(false, "--older-than", "1s");
    expect_status(&r, 0);
    if (major >= 17) {
        expect_has(r.out, "dropped slot \"d_old1\"");
        expect_has(r.out, "keep slot \"d_new\": inactive for ");
        expect_has(r.out, ", less than --older-than 1s\n");
        expect_has(r.out, "dropped 4, skipped 0, kept 4, failed 0\n");
        expect_slots("d_new,d_phys,keep_active,keep_temp");
    } else {
        expect_hasf(r.out, "keep slot \"d_old1\": inactive for an unknown time: PostgreSQL %d has no inactive_since"
                           " (17+); --force-unknown-age drops it anyway\n", major);
        expect_has(r.out, "dropped 0, skipped 0, kept 8, failed 0\n");
        result_free(&r);
        r = DROP(true, "--older-than", "1d");
        expect_status(&r, 0);
        expect_has(r.out, "watching 5 inactive slots of unknown age for 300ms (--observe)");
        expect_has(r.out, "dropped slot \"d_new\" (logical, inactive for an unknown time, and neither active nor"
                          " moved while watched for 300ms, --force-unknown-age)\n");
        expect_has(r.out, "dropped 5, skipped 0, kept 3, failed 0\n");
        expect_slots("d_phys,keep_active,keep_temp");
    }
    result_free(&r);
    r = DROP(true, "--older-than", "1d");
    expect_status(&r, 0);
    if (major >= 17)
        expect_has(r.out, ", less than --older-than 1d\n");
    result_free(&r);
    expect_consumer_alive();
}
END_TEST

/* What the test does while --drop-inactive watches slots of unknown age. */
typedef struct comeback {
    bool acted;
    pid_t consumer;   /* r_back's consumer, back from its reconnect delay */
    long walsender;   /* the pid serving it */
} comeback;

static void come_back(const char *out, void *arg)
{
    comeback *c = arg;
    if (c->acted || strstr(out, "watching ") == NULL)
        return;
    c->acted = true;
    exec_sql(&drop_srv, NULL, "SELECT count(*) FROM pg_logical_slot_get_changes('r_moved', NULL, NULL)");
    c->consumer = start_consumer(&drop_srv, "r_back");
    c->walsender = query_long(&drop_srv, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'r_back'");
}

/*
 * 14-16 cannot say how long a slot has been inactive, so --force-unknown-age
 * watches the candidates for --observe and drops only those seen inactive
 * and unmoved throughout. r_back's consumer is in its reconnect delay when
 * the run starts and connects again while it watches; r_moved is consumed
 * (and released) in between two looks; r_gone is abandoned.
 */
START_TEST(drop_unknown_age_watches)
{
    exec_sql(&drop_srv, NULL,
             "CREATE TABLE IF NOT EXISTS t (x int);\n"
             "SELECT pg_create_logical_replication_slot('r_back', 'test_decoding');\n"
             "SELECT pg_create_logical_replication_slot('r_moved', 'test_decoding');\n"
             "SELECT pg_create_logical_replication_slot('r_gone', 'test_decoding');\n"
             "INSERT INTO t VALUES (1);");
    pid_t earlier = start_consumer(&drop_srv, "r_back");
    stop_consumer(&earlier);
    wait_for(&drop_srv, "SELECT active FROM pg_replication_slots WHERE slot_name = 'r_back'", "f");

    char conninfo[1024];
    ck_assert_int_eq(pgt_conninfo(&drop_srv, NULL, conninfo, sizeof conninfo), 0);
    const char *args[] = {"-d", conninfo, "--drop-inactive", "--older-than", "1d", "--force-unknown-age",
                          "--observe", "4s", "--name-pattern", "r_*", NULL};
    comeback cb = {0};
    result r = run_ticking(args, NULL, 0, come_back, &cb);
    char *names = slot_names(&drop_srv);
    stop_consumer(&cb.consumer);
    ck_assert_msg(strcmp(names, "d_old1,d_old2,d_otherdb,d_phys,keep_active,keep_temp,r_back,r_moved,x_other") == 0,
                  "slots left: %s\nits output:\n%.3000s", names, r.out);
    free(names);
    expect_status(&r, 0);
    ck_assert_msg(cb.acted, "it never said it was watching:\n%.3000s", r.out);
    expect_has(r.out, "watching 3 inactive slots of unknown age for 4s (--observe): one that becomes active or moves"
                      " is kept\n");
    expect_hasf(r.out, "keep slot \"r_back\": active while watched (pid %ld)\n", cb.walsender);
    expect_has(r.out, "keep slot \"r_moved\": confirmed_flush_lsn moved from ");
    expect_has(r.out, "dropped slot \"r_gone\" (logical, inactive for an unknown time, and neither active nor moved"
                      " while watched for 4s, --force-unknown-age)\n");
    expect_has(r.out, "dropped 1, skipped 0, kept 9, failed 0\n");
    result_free(&r);
    expect_consumer_alive();
}
END_TEST

/* ---- without a server ---- */

START_TEST(bad_usage_exits_1)
{
    static const struct {
        const char *args[8];
        const char *message;
    } cases[] = {
        {{"--drop-inactive"}, "error: --drop-inactive needs --older-than\n"},
        {{"--bogus"}, "error: unknown option \"--bogus\"\n"},
        {{"-x"}, "error: invalid option -x\n"},
        {{"--watch"}, "error: option --watch needs a value\n"},
        {{"--watch", "0"}, "error: invalid value \"0\" for --watch: expected more than 0 seconds\n"},
        {{"--retained-warn", "1XB"}, "error: invalid value \"1XB\" for --retained-warn"},
        {{"--retained-crit", "-1GB"}, "error: invalid value \"-1GB\" for --retained-crit"},
        {{"--inactive-warn", "1e3"}, "error: invalid value \"1e3\" for --inactive-warn"},
        {{"--min-free-slots", "two"}, "error: invalid value \"two\" for --min-free-slots"},
        {{"--json", "--prometheus"}, "error: --json and --prometheus cannot be used together\n"},
        {{"--drop-inactive", "--older-than", "1h", "--json"}, "error: --drop-inactive cannot be combined with"},
        {{"--drop-inactive", "--older-than", "1h", "--watch", "5"}, "error: --drop-inactive cannot be combined with"},
        {{"--drop-inactive", "--older-than", "1h", "--output", "f"}, "error: --drop-inactive cannot be combined with"},
        {{"--output", ""}, "error: invalid value \"\" for --output: expected a file name\n"},
        {{"--dry-run"}, "go with --drop-inactive\n"},
        {{"--observe", "5s"}, "go with --drop-inactive\n"},
        {{"--drop-inactive", "--older-than", "1h", "--observe", "5s"},
         "error: --observe goes with --force-unknown-age\n"},
        {{"--drop-inactive", "--older-than", "1h", "--force-unknown-age", "--observe", "0"},
         "error: invalid value \"0\" for --observe: expected more than 0 seconds\n"},
        {{"--older-than", "1h"}, "go with --drop-inactive\n"},
        {{"-w", "-W"}, "error: -w and -W cannot be used together\n"},
        {{"extra"}, "error: unexpected argument \"extra\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        result r = run_env(cases[i].args, NULL, 0);
        expect_status(&r, 1);
        expect_has(r.err, cases[i].message);
        expect_has(r.err, "pgrepl-slots: hint: Try \"pgrepl-slots --help\" for more information.\n");
        ck_assert_str_eq(r.out, "");
        result_free(&r);
    }
}
END_TEST

START_TEST(connection_failure_exits_1)
{
    const char *args[] = {"-h", "/nonexistent", "-w", NULL};
    result r = run_env(args, NULL, 0);
    expect_status(&r, 1);
    expect_has(r.err, "pgrepl-slots: error: connection to server on socket \"/nonexistent/.s.PGSQL.");
    ck_assert_str_eq(r.out, "");
    result_free(&r);
}
END_TEST

/* An outage is a metric too: pgrepl_slots_up 0 and nothing else, and exit 1. */
START_TEST(prometheus_when_unreachable)
{
    const char *args[] = {"-h", "/nonexistent", "-w", "--prometheus", NULL};
    result r = run_env(args, NULL, 0);
    expect_status(&r, 1);
    expect_prometheus(r.out);
    ck_assert_str_eq(r.out, "# HELP pgrepl_slots_up 1 if the server was reached and read, 0 if not (then no other"
                            " metric is written).\n"
                            "# TYPE pgrepl_slots_up gauge\n"
                            "pgrepl_slots_up 0\n");
    expect_has(r.err, "pgrepl-slots: error: connection to server on socket \"/nonexistent/.s.PGSQL.");
    result_free(&r);
}
END_TEST

START_TEST(help_and_version)
{
    const char *help_long[] = {"--help", NULL}, *help_short[] = {"-?", NULL}, *version[] = {"-V", NULL};
    result a = run_env(help_long, NULL, 0), b = run_env(help_short, NULL, 0), v = run_env(version, NULL, 0);
    expect_status(&a, 0);
    expect_status(&b, 0);
    ck_assert_str_eq(a.out, b.out);
    expect_has(a.out, "--drop-inactive");
    expect_has(a.out, "--force-unknown-age");
    expect_has(a.out, "--observe=DURATION");
    expect_has(a.out, "inactive_since is 17+");
    expect_has(a.out, "Exit status: 0 healthy, 1 error, 2 warning, 3 critical");
    expect_status(&v, 0);
    char want[64];
    snprintf(want, sizeof want, "pgrepl-slots (pgrepl) %s\n", pgrepl_version_string());
    ck_assert_str_eq(v.out, want);
    result_free(&a);
    result_free(&b);
    result_free(&v);
}
END_TEST

START_TEST(parse_units)
{
    uint64_t bytes;
    double secs;
    ck_assert_int_eq(slots_parse_size("1GB", &bytes), 0);
    ck_assert_uint_eq(bytes, UINT64_C(1) << 30);
    ck_assert_int_eq(slots_parse_size("512 mb", &bytes), 0);
    ck_assert_uint_eq(bytes, UINT64_C(512) << 20);
    ck_assert_int_eq(slots_parse_size("1.5kB", &bytes), 0);
    ck_assert_uint_eq(bytes, 1536);
    ck_assert_int_eq(slots_parse_size("100", &bytes), 0);
    ck_assert_uint_eq(bytes, 100);
    ck_assert_int_eq(slots_parse_size("7bytes", &bytes), 0);
    ck_assert_uint_eq(bytes, 7);
    ck_assert_int_eq(slots_parse_size("8191PB", &bytes), 0);
    ck_assert_uint_eq(bytes, UINT64_C(8191) << 50);
    static const char *const bad_sizes[] = {"", "GB", "-1", "1e3", "0x10", "1 G", "1GBs", "8192PB", " 1", "1.2.3"};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++)
        ck_assert_msg(slots_parse_size(bad_sizes[i], &bytes) == -1, "\"%s\" parsed", bad_sizes[i]);
    ck_assert_int_eq(slots_parse_duration("90", &secs), 0);
    ck_assert(secs == 90);
    ck_assert_int_eq(slots_parse_duration("15min", &secs), 0);
    ck_assert(secs == 900);
    ck_assert_int_eq(slots_parse_duration("1h", &secs), 0);
    ck_assert(secs == 3600);
    ck_assert_int_eq(slots_parse_duration("1.5d", &secs), 0);
    ck_assert(secs == 129600);
    ck_assert_int_eq(slots_parse_duration("2w", &secs), 0);
    ck_assert(secs == 1209600);
    ck_assert_int_eq(slots_parse_duration("250ms", &secs), 0);
    ck_assert(secs == 0.25);
    static const char *const bad_durations[] = {"", "h", "-1s", "1y", "inf", "nan", "1e3"};
    for (size_t i = 0; i < sizeof bad_durations / sizeof bad_durations[0]; i++)
        ck_assert_msg(slots_parse_duration(bad_durations[i], &secs) == -1, "\"%s\" parsed", bad_durations[i]);

    static const struct {
        double secs;
        const char *text;
    } durations[] = {{0, "0s"}, {-5, "0s"}, {0.25, "250ms"}, {1, "1s"}, {59.9, "59s"}, {61, "1m 1s"},
                     {3600, "1h"}, {3720, "1h 2m"}, {86400, "1d"}, {90061, "1d 1h"}};
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
        char buf[SLOTS_DURATION_BUFSIZE];
        slots_format_duration(durations[i].secs, buf);
        ck_assert_str_eq(buf, durations[i].text);
    }
}
END_TEST

static Suite *slots_suite(void)
{
    static char name[32];
    snprintf(name, sizeof name, "slots-pg%d", major);
    Suite *s = suite_create(name);

    TCase *tc = tcase_create("offline");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, bad_usage_exits_1);
    tcase_add_test(tc, connection_failure_exits_1);
    tcase_add_test(tc, prometheus_when_unreachable);
    tcase_add_test(tc, help_and_version);
    tcase_add_test(tc, parse_units);
    suite_add_tcase(s, tc);

    tc = tcase_create("states");
    tcase_add_unchecked_fixture(tc, setup_states, teardown_states);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, table_shows_every_slot);
    tcase_add_test(tc, retained_wal_after_writes);
    tcase_add_test(tc, json_reports_each_state);
    tcase_add_test(tc, prometheus_reports_each_state);
    tcase_add_test(tc, rule_retained_wal);
    tcase_add_test(tc, rule_inactive);
    tcase_add_test(tc, rule_capacity);
    tcase_add_test(tc, connection_options);
    tcase_add_test(tc, watch_repeats);
    tcase_add_test(tc, output_replaces_the_file);
    tcase_add_test(tc, watch_prometheus_once_per_file);
    tcase_add_test(tc, sizes_match_pg_size_pretty);
    suite_add_tcase(s, tc);

    tc = tcase_create("wal");
    tcase_add_unchecked_fixture(tc, setup_wal, teardown_wal);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, wal_status_extended_unreserved_lost);
    if (major >= 18)
        tcase_add_test(tc, idle_timeout_on_18);
    suite_add_tcase(s, tc);

    tc = tcase_create("drop");
    tcase_add_unchecked_fixture(tc, setup_drop_server, teardown_drop_server);
    tcase_add_checked_fixture(tc, setup_candidates, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, dry_run_changes_nothing);
    tcase_add_test(tc, drops_exactly_the_eligible);
    tcase_add_test(tc, drop_name_pattern_and_physical);
    tcase_add_test(tc, drop_older_than);
    if (major < 17)
        tcase_add_test(tc, drop_unknown_age_watches);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    major = pgt_major_from_args(argc, argv);
    const char *root = getenv("PGREPL_BUILD_ROOT");
    if (root == NULL || root[0] == '\0') {
        fprintf(stderr, "PGREPL_BUILD_ROOT is not set (run the suite through meson test)\n");
        return EXIT_FAILURE;
    }
    snprintf(tool, sizeof tool, "%s/examples/pgrepl-slots", root);
    return pgrepl_test_run_suite(slots_suite());
}
