/*
 * Faults, end to end, against a real server of the major given as argv[1].
 *
 * A writer inserts a gap-free sequence of numbers in transactions of
 * varied sizes (one INSERT ... generate_series per transaction, 1 to 6000
 * rows) while pgrepl-stream writes the changes to a file. Under each fault
 * the stream must go on by itself, and a checker then proves from the
 * output files that
 *   - every committed number arrived at least once, in commit order (a
 *     transaction is either the next one or a replay of one already
 *     printed; partial transactions do not count);
 *   - the slot's confirmed_flush_lsn, sampled all along, never passed what
 *     pgrepl-stream had written out: every transaction ending at or before
 *     a sample was in the files when the sample was taken.
 * Faults: the walsender killed with pg_terminate_backend repeatedly; the
 * server restarted with -m fast and with -m immediate; pgrepl-stream killed
 * with SIGKILL mid-transaction and started again; the network path (a
 * proxy, tests/tools/tcpproxy.c) frozen longer than wal_sender_timeout,
 * then cut.
 *
 * Also: an invalidated slot is reported as such (the server's 57P01 is
 * retried, the check after reconnecting stops the stream), and every bad
 * input gives one clear error line and exit status 1 within a bounded time,
 * with nothing acknowledged.
 *
 * All of it runs on every major: about 40 s per major, under a minute with
 * the sanitizers.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <uv.h>

#include "harness.h"
#include "pgrepl/uv.h"
#include "testutil.h"

static int major;
static pgt_server srv;
static char hba_path[64];

/* wal_sender_timeout of the server: the network freeze outlasts it */
#define SENDER_TIMEOUT_S 3

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000;
}

static void sleep_ms(uint64_t ms)
{
    uv_sleep((unsigned)ms);
}

/*
 * A role with a password (for the wrong-password case) needs pg_hba.conf:
 * the harness takes server settings, so the file comes through hba_file.
 */
static void setup(void)
{
    static const char hba[] = "local all pwuser scram-sha-256\nlocal all all trust\nhost all all 127.0.0.1/32 trust\n";
    ck_assert_int_eq(pgt_write_temp("/tmp/pgrepl-faults-hba-XXXXXX", hba_path, sizeof hba_path, hba), 0);
    char hba_setting[96], timeout_setting[64];
    snprintf(hba_setting, sizeof hba_setting, "hba_file=%s", hba_path);
    snprintf(timeout_setting, sizeof timeout_setting, "wal_sender_timeout=%ds", SENDER_TIMEOUT_S);
    const char *const settings[] = {hba_setting, timeout_setting, NULL};
    ck_assert_msg(pgt_server_start(&srv, major, settings) == 0, "PostgreSQL %d did not start: %s", major, srv.errmsg);
}

static void teardown(void)
{
    pgt_server_stop(&srv);
    unlink(hba_path);
}

/* ---- SQL ------------------------------------------------------------------------- */

static PGconn *db_connect(const pgt_server *s, const char *db)
{
    char conninfo[sizeof s->conninfo + 2 * PGT_PATH_MAX];
    ck_assert_int_eq(pgt_conninfo(s, db, conninfo, sizeof conninfo), 0);
    return PQconnectdb(conninfo);
}

/* The first value of the first row into out (may be NULL); false on any error (the server may be down). */
static bool sql_try(const char *sql, char *out, size_t size)
{
    PGconn *c = db_connect(&srv, NULL);
    bool ok = PQstatus(c) == CONNECTION_OK;
    PGresult *r = ok ? PQexec(c, sql) : NULL;
    ok = ok && (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK);
    if (ok && out != NULL)
        snprintf(out, size, "%s", PQntuples(r) > 0 && PQnfields(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(c);
    return ok;
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static void sql(const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    char *out = NULL;
    int rc = pgt_psql(&srv, NULL, text, &out);
    free(out);
    ck_assert_msg(rc == 0, "psql exited %d for: %s", rc, text);
}

static bool confirmed_of(const char *slot, pgrepl_lsn *lsn)
{
    char q[256], v[64];
    snprintf(q, sizeof q, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '%s'", slot);
    return sql_try(q, v, sizeof v) && pgrepl_lsn_parse(v, lsn) == 0;
}

static int active_pid_of(const char *slot)
{
    char q[256], v[32] = "";
    snprintf(q, sizeof q, "SELECT coalesce(active_pid, 0) FROM pg_replication_slots WHERE slot_name = '%s'", slot);
    return sql_try(q, v, sizeof v) ? atoi(v) : 0;
}

static void wait_inactive(const char *slot)
{
    uint64_t until = now_ms() + 15000;
    while (active_pid_of(slot) != 0 && now_ms() < until)
        sleep_ms(50);
    ck_assert_int_eq(active_pid_of(slot), 0);
}

/* ---- processes ---------------------------------------------------------------------- */

/* Run argv with stdout and stderr to files (NULL: /dev/null); it gets SIGTERM when this process dies. */
static pid_t spawn(const char *const *argv, const char *out_path, const char *err_path, const char *const *env)
{
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(1);
    int out = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
    int err = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    int nul = open("/dev/null", O_RDONLY);
    dup2(nul, STDIN_FILENO);
    for (; env != NULL && *env != NULL; env++) {
        char name[64];
        const char *eq = strchr(*env, '=');
        snprintf(name, sizeof name, "%.*s", (int)(eq - *env), *env);
        setenv(name, eq + 1, 1);
    }
    union {
        const char *const *c;
        char *const *m;
    } args = {.c = argv};
    execv(argv[0], args.m);
    _exit(127);
}

/* Exit status, 128 + signal, or -1 if still running after timeout_ms (then it is killed). */
static int wait_exit(pid_t pid, uint64_t timeout_ms)
{
    uint64_t until = now_ms() + timeout_ms;
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (now_ms() >= until) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        sleep_ms(20);
    }
}

static bool running(pid_t pid)
{
    int status;
    return waitpid(pid, &status, WNOHANG) == 0;
}

static char *read_file(const char *path, size_t limit, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        *len = 0;
        return strdup("");
    }
    char *buf = malloc(limit + 1);
    ck_assert_ptr_nonnull(buf);
    *len = fread(buf, 1, limit, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : 0;
}

static int count_lines_with(const char *path, const char *what)
{
    size_t len;
    char *text = read_file(path, 1 << 20, &len);
    int n = 0;
    for (const char *p = strstr(text, what); p != NULL; p = strstr(p + 1, what))
        n++;
    free(text);
    return n;
}

/* Poll (without sampling) until path has n occurrences of what, for at most ms; returns the count. */
static int wait_lines(const char *path, const char *what, int n, uint64_t ms)
{
    for (uint64_t until = now_ms() + ms; count_lines_with(path, what) < n && now_ms() < until;)
        sleep_ms(50);
    return count_lines_with(path, what);
}

/* Wait up to 15 s until a consumer holds slot. */
static void wait_active(const char *slot)
{
    for (uint64_t until = now_ms() + 15000; active_pid_of(slot) == 0 && now_ms() < until;)
        sleep_ms(50);
    ck_assert_msg(active_pid_of(slot) != 0, "no consumer on slot %s", slot);
}

static const char *build_path(const char *rel)
{
    static char path[512];
    const char *root = getenv("PGREPL_BUILD_ROOT");
    ck_assert_msg(root != NULL, "PGREPL_BUILD_ROOT is not set (run with meson test)");
    snprintf(path, sizeof path, "%s/%s", root, rel);
    return path;
}

/*
 * Restart the server with pg_ctl as its own user, the way scripts/pg-server.sh
 * runs it (the embedded builds need their library directory).
 */
static void restart_server(const char *mode)
{
    char pg_ctl[PGT_PATH_MAX + 16], data[PGT_PATH_MAX + 16], log[PGT_PATH_MAX + 16], home[PGT_PATH_MAX + 8];
    char libdir[PGT_PATH_MAX + 16], ldpath[PGT_PATH_MAX + 32], libpq[PGT_PATH_MAX + 32];
    snprintf(pg_ctl, sizeof pg_ctl, "%s/pg_ctl", srv.bindir);
    snprintf(data, sizeof data, "%s/data", srv.dir);
    snprintf(log, sizeof log, "%s/server.log", srv.dir);
    snprintf(home, sizeof home, "HOME=%s", srv.dir);
    snprintf(libdir, sizeof libdir, "%s/../lib", srv.bindir);
    snprintf(libpq, sizeof libpq, "%s/libpq.so.5", libdir);
    snprintf(ldpath, sizeof ldpath, "LD_LIBRARY_PATH=%s", access(libpq, F_OK) == 0 ? libdir : "");
    const char *argv[] = {"/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "/usr/bin/env",
                          "LC_ALL=C", home, ldpath, pg_ctl, "-D", data, "-l", log, "-w", "-t", "60", "-m", mode,
                          "restart", NULL};
    const char *const *args = getuid() == 0 ? argv : argv + 4;
    pid_t pid = spawn(args, NULL, NULL, NULL);
    ck_assert_int_eq(wait_exit(pid, 90000), 0);
}

/* ---- the writer ------------------------------------------------------------------------ */

static volatile sig_atomic_t writer_stop;

static void on_writer_term(int sig)
{
    (void)sig;
    writer_stop = 1;
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/*
 * Mostly small transactions, some medium, a few larger than
 * logical_decoding_work_mem many times over; with big, half of them are
 * huge, so that pgrepl-stream spends most of its time inside one.
 */
static long txn_size(uint64_t *rng, bool big)
{
    uint64_t r = xorshift(rng) % 100;
    if (big)
        return r < 50 ? 1 + (long)(xorshift(rng) % 5) : 2000 + (long)(xorshift(rng) % 4000);
    if (r < 70)
        return 1 + (long)(xorshift(rng) % 5);
    if (r < 90)
        return 20 + (long)(xorshift(rng) % 80);
    if (r < 98)
        return 500 + (long)(xorshift(rng) % 1000);
    return 3000 + (long)(xorshift(rng) % 3000);
}

/*
 * One transaction per INSERT of the next numbers. After any error (the
 * server restarting), reconnect and continue after what is committed: a
 * commit whose answer was lost may or may not have happened.
 */
static void writer_main(const char *table, bool big)
{
    struct sigaction sa = {.sa_handler = on_writer_term};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    uint64_t rng = 0x9E3779B97F4A7C15u ^ (uint64_t)getpid();
    PGconn *c = NULL;
    long next = 0;
    char q[256];
    while (!writer_stop) {
        if (c == NULL) {
            c = db_connect(&srv, NULL);
            snprintf(q, sizeof q, "SELECT coalesce(max(n), 0) FROM %s", table);
            PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, q) : NULL;
            if (PQresultStatus(r) == PGRES_TUPLES_OK) {
                next = atol(PQgetvalue(r, 0, 0)) + 1;
            } else {
                PQfinish(c);
                c = NULL;
                sleep_ms(100);
            }
            PQclear(r);
            continue;
        }
        long n = txn_size(&rng, big);
        snprintf(q, sizeof q, "INSERT INTO %s SELECT generate_series(%ld, %ld)", table, next, next + n - 1);
        PGresult *r = PQexec(c, q);
        if (PQresultStatus(r) == PGRES_COMMAND_OK) {
            next += n;
        } else {
            PQfinish(c);
            c = NULL;
        }
        PQclear(r);
        sleep_ms(15 + xorshift(&rng) % 30);
    }
    PQfinish(c);
    _exit(0);
}

static pid_t writer_start(const char *table, bool big)
{
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        writer_main(table, big);
    }
    return pid;
}

/* ---- a run of pgrepl-stream under faults -------------------------------------------------- */

#define MAX_FILES 16
#define MAX_SAMPLES 4096

typedef struct sample {
    pgrepl_lsn confirmed;
    int file;  /* output files 1..file-1 whole, file `file` up to size: what was fsynced then */
    off_t size;
    long hi;   /* the checker: every number up to hi was in the files then */
} sample;

typedef struct run {
    char name[32];
    char dir[64];
    char conninfo[PGT_PATH_MAX + 128];
    const char *extra[8];  /* more pgrepl-stream arguments */
    bool big;              /* huge transactions (writer_main) */
    int nfiles;
    pid_t cli, writer;
    sample samples[MAX_SAMPLES];
    int nsamples;
    long committed;        /* the writer's last number */
    int transactions, replayed;
    long replayed_rows;
    uint64_t started;
} run;

static void path_of(const run *r, const char *what, int k, char *buf, size_t size)
{
    if (k > 0)
        snprintf(buf, size, "%s/%s.%d", r->dir, what, k);
    else
        snprintf(buf, size, "%s/%s", r->dir, what);
}

/*
 * pgrepl-stream runs with tests/tools/fsync_spy.c preloaded: every fsync of
 * its output logs the file's size then into the run's fsync.log.
 */
static void spy_env(const run *r, const char *env[4])
{
    static char preload[600], log[128], asan[512];
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", build_path("tests/tools/libfsync_spy.so"));
    path_of(r, "fsync.log", 0, log + 17, sizeof log - 17);
    memcpy(log, "PGREPL_FSYNC_LOG=", 17);
    /* a sanitizer build's runtime need not come first: the spy has no sanitizer symbols of its own */
    const char *opts = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof asan, "ASAN_OPTIONS=%s%sverify_asan_link_order=0", opts ? opts : "", opts ? ":" : "");
    env[0] = preload;
    env[1] = log;
    env[2] = asan;
    env[3] = NULL;
}

/* How much of the output file path was on disk at its last fsync so far (0 if none). */
static off_t fsynced_size(const run *r, const char *path)
{
    /* the run's directory is absolute and has no symbolic link: the path is the one /proc shows */
    const char *resolved = path;
    char log[128];
    path_of(r, "fsync.log", 0, log, sizeof log);
    FILE *f = fopen(log, "r");
    off_t size = 0;
    char line[4200];
    while (f != NULL && resolved != NULL && fgets(line, sizeof line, f) != NULL) {
        char *sp = strrchr(line, ' ');
        if (sp != NULL && (size_t)(sp - line) == strlen(resolved) && strncmp(line, resolved, (size_t)(sp - line)) == 0)
            size = (off_t)strtoll(sp + 1, NULL, 10);
    }
    if (f != NULL)
        fclose(f);
    return size;
}

/* Start pgrepl-stream appending to output file r->nfiles. */
static void cli_resume(run *r)
{
    char out[128], err[128], slot[48], pub[48];
    path_of(r, "out", r->nfiles, out, sizeof out);
    path_of(r, "stderr", 0, err, sizeof err);
    snprintf(slot, sizeof slot, "%s_slot", r->name);
    snprintf(pub, sizeof pub, "%s_pub", r->name);
    /* before argv: build_path's buffer is reused */
    const char *env[4];
    spy_env(r, env);
    const char *argv[32] = {build_path("examples/pgrepl-stream"), "-d", r->conninfo, "-S", slot, "-P", pub, "-f", out,
                            "-F", "0.1", "-s", "0.2", "--reconnect-delay=0.1,1"};
    int n = 14;
    for (int i = 0; i < 8 && r->extra[i] != NULL; i++)
        argv[n++] = r->extra[i];
    argv[n] = NULL;
    r->cli = spawn(argv, NULL, err, env);
}

/* Start pgrepl-stream writing into the next output file. */
static void cli_start(run *r)
{
    ck_assert_int_lt(r->nfiles, MAX_FILES);
    r->nfiles++;
    cli_resume(r);
}

/*
 * The slot's confirmed position, then how far the current output file was
 * fsynced: an fsync logged after the confirmation cannot have made it, but
 * every fsync that did is logged before pgrepl-stream acknowledged.
 */
static void take_sample(run *r)
{
    char slot[48];
    snprintf(slot, sizeof slot, "%s_slot", r->name);
    pgrepl_lsn c;
    if (r->nsamples == MAX_SAMPLES || !confirmed_of(slot, &c))
        return;
    char out[128];
    path_of(r, "out", r->nfiles, out, sizeof out);
    r->samples[r->nsamples++] = (sample){c, r->nfiles, fsynced_size(r, out), 0};
}

/* Wait ms, sampling all along; pgrepl-stream must stay up. */
static void watch(run *r, uint64_t ms)
{
    uint64_t until = now_ms() + ms;
    while (now_ms() < until) {
        take_sample(r);
        ck_assert_msg(running(r->cli), "%s: pgrepl-stream exited", r->name);
        sleep_ms(150);
    }
}

static void run_begin(run *r, const char *name, const char *conninfo)
{
    memset(r, 0, sizeof *r);
    r->started = now_ms();
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->dir, sizeof r->dir, "/tmp/pgrepl-faults-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(r->dir));
    snprintf(r->conninfo, sizeof r->conninfo, "%s", conninfo != NULL ? conninfo : srv.conninfo);
    sql("CREATE TABLE %s_t (n bigint PRIMARY KEY);\n"
        "CREATE PUBLICATION %s_pub FOR TABLE %s_t;\n"
        "SELECT 1 FROM pg_create_logical_replication_slot('%s_slot', 'pgoutput');",
        name, name, name, name);
}

/* What one output line says. */
typedef struct line_info {
    char action;
    long n;            /* I: the number */
    pgrepl_lsn next;   /* C: nextlsn */
} line_info;

static line_info parse_line(const char *line)
{
    line_info li = {0};
    if (strncmp(line, "{\"action\":\"", 11) != 0)
        return li;
    li.action = line[11];
    if (li.action == 'I') {
        const char *v = strstr(line, "\"value\":");
        ck_assert_ptr_nonnull(v);
        li.n = atol(v + 8);
    } else if (li.action == 'C') {
        const char *v = strstr(line, "\"nextlsn\":\"");
        ck_assert_ptr_nonnull(v);
        char lsn[32];
        ck_assert_int_eq(sscanf(v + 11, "%31[0-9A-F/]", lsn), 1);
        ck_assert_int_eq(pgrepl_lsn_parse(lsn, &li.next), 0);
    }
    return li;
}

typedef struct txn {
    long first, last;
    pgrepl_lsn end;
} txn;

typedef struct scan {
    long hi;          /* every number up to hi arrived in a complete transaction */
    txn *list;        /* new transactions in order (when recording) */
    int n, cap;
    int replayed;
    long replayed_rows;
} scan;

/* A complete transaction first..last: the next one, or a replay of one printed before. */
static void transaction_done(scan *s, const run *r, long first, long last, pgrepl_lsn end)
{
    if (first == 0)
        return; /* no change of ours: nothing to check */
    ck_assert_msg(first == s->hi + 1 || last <= s->hi,
                  "%s: transaction %ld..%ld after %ld: %s", r->name, first, last, s->hi,
                  first > s->hi + 1 ? "numbers were lost" : "a replay overlaps new numbers");
    if (last <= s->hi) {
        s->replayed++;
        s->replayed_rows += last - first + 1;
        return;
    }
    s->hi = last;
    if (s->cap < 0)
        return;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->list = realloc(s->list, (size_t)s->cap * sizeof *s->list);
        ck_assert_ptr_nonnull(s->list);
    }
    s->list[s->n++] = (txn){first, last, end};
}

/*
 * Walk the output files in order. Lines of a file after its last newline
 * were cut by a kill; a transaction without its commit (cut, or dropped
 * before a reconnection) does not count. Within a transaction the numbers
 * must be consecutive. On the way, each sample (in the order taken) gets
 * the hi of the files as they were when it was taken: the lines that had
 * ended within its size.
 */
static void scan_files(run *r, scan *s)
{
    int next = 0;
    for (int k = 1; k <= r->nfiles; k++) {
        char path[128];
        path_of(r, "out", k, path, sizeof path);
        size_t len;
        char *text = read_file(path, (size_t)file_size(path), &len);
        long first = 0, last = 0;
        bool open = false;
        for (size_t at = 0; at < len;) {
            char *nl = memchr(text + at, '\n', len - at);
            if (nl == NULL)
                break;
            for (; next < r->nsamples && r->samples[next].file == k && r->samples[next].size <= nl - text; next++)
                r->samples[next].hi = s->hi;
            *nl = '\0';
            line_info li = parse_line(text + at);
            at = (size_t)(nl - text) + 1;
            if (li.action == 'B') {
                open = true;
                first = last = 0;
            } else if (li.action == 'I' && open) {
                ck_assert_msg(first == 0 || li.n == last + 1, "%s: %ld after %ld inside a transaction", r->name,
                              li.n, last);
                first = first == 0 ? li.n : first;
                last = li.n;
            } else if (li.action == 'C' && open) {
                transaction_done(s, r, first, last, li.next);
                open = false;
            }
        }
        for (; next < r->nsamples && r->samples[next].file == k; next++)
            r->samples[next].hi = s->hi;
        free(text);
    }
}

/* The first new transaction with a number above hi, or NULL. */
static const txn *first_after(const scan *all, long hi)
{
    int lo = 0, up = all->n;
    while (lo < up) {
        int mid = (lo + up) / 2;
        if (all->list[mid].last > hi)
            up = mid;
        else
            lo = mid + 1;
    }
    return lo < all->n ? &all->list[lo] : NULL;
}

/*
 * The whole output (every number up to r->committed, in order), and each
 * sample of the slot's confirmed position against the files as they were
 * fsynced when it was taken. Returns how many samples found the output
 * behind the server.
 */
static int check_samples(run *r)
{
    scan all = {.cap = 0};
    scan_files(r, &all);
    ck_assert_msg(all.hi == r->committed, "%s: %ld of %ld numbers arrived", r->name, all.hi, r->committed);
    int behind = 0;
    for (int i = 0; i < r->nsamples; i++) {
        const sample *sm = &r->samples[i];
        /* the first transaction not yet fsynced must end after what the slot confirmed */
        const txn *t = first_after(&all, sm->hi);
        behind += t != NULL;
        ck_assert_msg(t == NULL || t->end > sm->confirmed,
                      "%s: sample %d: confirmed %llX passes transaction %ld..%ld (ends %llX), "
                      "not yet fsynced (file %d, %lld bytes fsynced)",
                      r->name, i, (unsigned long long)sm->confirmed, t->first, t->last, (unsigned long long)t->end,
                      sm->file, (long long)sm->size);
    }
    r->transactions = all.n;
    r->replayed = all.replayed;
    r->replayed_rows = all.replayed_rows;
    free(all.list);
    return behind;
}

/*
 * Stop the writer, let pgrepl-stream catch up, stop it (exit 0), and check
 * the output and every sample of the slot's confirmed position.
 */
static void run_end(run *r)
{
    kill(r->writer, SIGTERM);
    ck_assert_int_eq(wait_exit(r->writer, 30000), 0);
    char q[128], v[64];
    snprintf(q, sizeof q, "SELECT count(*) || ' ' || coalesce(max(n), 0) FROM %s_t", r->name);
    ck_assert(sql_try(q, v, sizeof v));
    long count = 0;
    ck_assert_int_eq(sscanf(v, "%ld %ld", &count, &r->committed), 2);
    ck_assert_msg(count == r->committed && count > 0, "%s: the table holds %ld rows up to %ld", r->name, count,
                  r->committed);
    /* catch up: the slot confirms everything, which pgrepl-stream does once it is written and fsynced */
    ck_assert(sql_try("SELECT pg_current_wal_lsn()", v, sizeof v));
    pgrepl_lsn end = 0;
    ck_assert_int_eq(pgrepl_lsn_parse(v, &end), 0);
    uint64_t until = now_ms() + 60000;
    while ((r->nsamples == 0 || r->samples[r->nsamples - 1].confirmed < end) && now_ms() < until)
        watch(r, 100);
    kill(r->cli, SIGTERM);
    ck_assert_int_eq(wait_exit(r->cli, 30000), 0);
    take_sample(r);
    int behind = check_samples(r);
    /* the check bit: the output was behind the server at some samples */
    ck_assert_int_gt(behind, 0);
    char err[128];
    path_of(r, "stderr", 0, err, sizeof err);
    fprintf(stderr,
            "faults-pg%d %s: %ld numbers in %d transactions, %d replayed (%ld rows); %d samples of "
            "confirmed_flush_lsn (%d while output was behind); %d reconnections logged; %d output files; %.1f s\n",
            major, r->name, r->committed, r->transactions, r->replayed, r->replayed_rows, r->nsamples, behind,
            count_lines_with(err, "reconnecting in"), r->nfiles, (double)(now_ms() - r->started) / 1000.0);
    char slot[48];
    snprintf(slot, sizeof slot, "%s_slot", r->name);
    wait_inactive(slot);
    sql("SELECT pg_drop_replication_slot('%s_slot')", r->name);
}

static void run_cleanup(run *r)
{
    for (int k = 0; k <= r->nfiles; k++) {
        char path[128];
        path_of(r, "out", k, path, sizeof path);
        unlink(path);
    }
    char err[128];
    path_of(r, "stderr", 0, err, sizeof err);
    unlink(err);
    path_of(r, "fsync.log", 0, err, sizeof err);
    unlink(err);
    rmdir(r->dir);
}

/* Start pgrepl-stream and the writer; wait until the stream shows the first rows. */
static void start_all(run *r)
{
    char table[48];
    snprintf(table, sizeof table, "%s_t", r->name);
    cli_start(r);
    r->writer = writer_start(table, r->big);
    char out[128];
    path_of(r, "out", r->nfiles, out, sizeof out);
    uint64_t until = now_ms() + 15000;
    while (file_size(out) == 0 && now_ms() < until)
        watch(r, 100);
    ck_assert_msg(file_size(out) > 0, "%s: nothing arrived", r->name);
}

static int reconnections(const run *r)
{
    char err[128];
    path_of(r, "stderr", 0, err, sizeof err);
    return count_lines_with(err, "reconnecting in");
}

/* ---- the faults -------------------------------------------------------------------------- */

START_TEST(walsender_terminated)
{
    run r;
    run_begin(&r, "term", NULL);
    start_all(&r);
    for (int i = 0; i < 5; i++) {
        watch(&r, 800);
        uint64_t until = now_ms() + 10000;
        while (active_pid_of("term_slot") == 0 && now_ms() < until)
            watch(&r, 50);
        sql("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'term_slot'");
    }
    /* bounded poll, not a fixed wait: the last reconnection follows a backoff with jitter */
    for (uint64_t until = now_ms() + 20000; reconnections(&r) < 5 && now_ms() < until;)
        watch(&r, 250);
    watch(&r, 500);
    ck_assert_int_ge(reconnections(&r), 5);
    run_end(&r);
    run_cleanup(&r);
}
END_TEST

/*
 * Lines written but not fsynced are never confirmed, across a terminated
 * walsender and a server restart: with -F 3600 nothing is fsynced until the
 * stop, so the slot must not pass the first transaction until then. Each
 * reconnection starts after what was written, so nothing comes twice.
 */
START_TEST(unsynced_never_confirmed)
{
    run r;
    run_begin(&r, "unsync", NULL);
    r.extra[0] = "-F";
    r.extra[1] = "3600";
    cli_start(&r);
    wait_active("unsync_slot");
    for (int i = 0; i < 30; i++)
        sql("INSERT INTO unsync_t SELECT g FROM generate_series(%d, %d) AS g", i * 100 + 1, i * 100 + 100);
    r.committed = 3000;
    char out[128];
    path_of(&r, "out", 1, out, sizeof out);
    for (uint64_t until = now_ms() + 30000; count_lines_with(out, "\"action\":\"C\"") < 30 && now_ms() < until;)
        watch(&r, 100);
    ck_assert_int_eq(count_lines_with(out, "\"action\":\"C\""), 30);
    watch(&r, 1000);
    int pid = active_pid_of("unsync_slot");
    sql("SELECT pg_terminate_backend(%d)", pid);
    for (uint64_t until = now_ms() + 20000; reconnections(&r) < 1 && now_ms() < until;)
        watch(&r, 100);
    ck_assert_int_ge(reconnections(&r), 1);
    watch(&r, 1500);
    restart_server("fast");
    for (uint64_t until = now_ms() + 20000; reconnections(&r) < 2 && now_ms() < until;)
        watch(&r, 100);
    ck_assert_int_ge(reconnections(&r), 2);
    watch(&r, 1500);
    ck_assert_msg(fsynced_size(&r, out) == 0, "the output was fsynced before the stop");
    /* the stop fsyncs, then confirms everything */
    kill(r.cli, SIGTERM);
    ck_assert_int_eq(wait_exit(r.cli, 30000), 0);
    take_sample(&r);
    int behind = check_samples(&r);
    ck_assert_int_eq(behind, r.nsamples - 1);
    ck_assert_int_eq(r.replayed, 0);
    char v[64];
    ck_assert(sql_try("SELECT pg_current_wal_lsn()", v, sizeof v));
    pgrepl_lsn end = 0;
    ck_assert_int_eq(pgrepl_lsn_parse(v, &end), 0);
    ck_assert_msg(r.samples[r.nsamples - 1].confirmed >= end - 0x100000 &&
                      r.samples[r.nsamples - 1].confirmed > 0,
                  "the stop did not confirm what it fsynced");
    wait_inactive("unsync_slot");
    sql("SELECT pg_drop_replication_slot('unsync_slot')");
    run_cleanup(&r);
}
END_TEST

/*
 * SIGTERM while the walsender sends a huge transaction: the walsender reads
 * CopyDone only after it, so pgrepl-stream confirms what it fsynced, closes
 * the connection after the library's stop timeout (5 s) and exits 0, within
 * seconds; the half-printed transaction is not confirmed. Sending the whole
 * transaction takes the walsender well over the bound here (6,000,000 rows;
 * the stop does not depend on the server version, so the other versions run
 * it with fewer rows, which only checks the exit).
 */
START_TEST(sigterm_inside_huge_transaction)
{
    run r;
    /* the server's usual wal_sender_timeout: this server's 3 s would end the connection for the walsender */
    char conninfo[PGT_PATH_MAX + 192];
    snprintf(conninfo, sizeof conninfo, "%s options='-c wal_sender_timeout=60s'", srv.conninfo);
    run_begin(&r, "huge", conninfo);
    cli_start(&r);
    wait_active("huge_slot");
    sql("INSERT INTO huge_t VALUES (0)");
    char out[128];
    path_of(&r, "out", 1, out, sizeof out);
    ck_assert_int_eq(wait_lines(out, "\"action\":\"C\"", 1, 15000), 1);
    long rows = major == 15 ? 6000000 : 1000000;
    sql("INSERT INTO huge_t SELECT g FROM generate_series(1, %ld) AS g", rows);
    char v[64];
    ck_assert(sql_try("SELECT pg_current_wal_lsn()", v, sizeof v));
    pgrepl_lsn big_end = 0;
    ck_assert_int_eq(pgrepl_lsn_parse(v, &big_end), 0);
    /* well inside the transaction's changes */
    wait_lines(out, "\"action\":\"B\"", 2, 60000);
    for (uint64_t until = now_ms() + 60000; file_size(out) < 4 * 1024 * 1024 && now_ms() < until;)
        sleep_ms(50);
    ck_assert_int_eq(count_lines_with(out, "\"action\":\"C\""), 1);
    uint64_t t0 = now_ms();
    kill(r.cli, SIGTERM);
    int rc = wait_exit(r.cli, 12000);
    uint64_t took = now_ms() - t0;
    char err[128];
    path_of(&r, "stderr", 0, err, sizeof err);
    size_t len;
    char *said = read_file(err, 1 << 14, &len);
    ck_assert_msg(rc == 0, "pgrepl-stream exited %d after %llu ms; it said:\n%s", rc, (unsigned long long)took, said);
    ck_assert_msg(strstr(said, "error:") == NULL, "pgrepl-stream said:\n%s", said);
    free(said);
    fprintf(stderr, "faults-pg%d huge: SIGTERM inside a %ld-row transaction: exit 0 after %llu ms\n", major, rows,
            (unsigned long long)took);
    pgrepl_lsn confirmed;
    ck_assert(confirmed_of("huge_slot", &confirmed));
    ck_assert_msg(confirmed < big_end && confirmed > 0, "confirmed %llX, the huge transaction ends at %llX",
                  (unsigned long long)confirmed, (unsigned long long)big_end);
    wait_inactive("huge_slot");
    sql("SELECT pg_drop_replication_slot('huge_slot'); DROP TABLE huge_t;");
    run_cleanup(&r);
}
END_TEST

/* ---- gaps and messages ------------------------------------------------------------------- */

/* pgrepl-stream with args (NULL-terminated) after -d conninfo, stderr into err_path; its pid. */
static pid_t cli_spawn(const char *const *args, const char *err_path)
{
    const char *argv[24] = {build_path("examples/pgrepl-stream"), "-d", srv.conninfo};
    int n = 3;
    for (; *args != NULL && n < 23; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    return spawn(argv, NULL, err_path, NULL);
}

static char *said(const char *err)
{
    size_t len;
    return read_file(err, 1 << 16, &len);
}

/*
 * A --temporary slot whose connection was lost is gone with the changes of
 * the outage: pgrepl-stream stops with an error naming the range, or with
 * --allow-gap warns with it and goes on.
 */
START_TEST(temporary_slot_lost)
{
    sql("CREATE TABLE tt_t (n int); CREATE PUBLICATION tt_pub FOR TABLE tt_t;");
    for (int allow = 0; allow < 2; allow++) {
        char err[64], out[64];
        snprintf(err, sizeof err, "/tmp/pgrepl-faults-tt-%d.err", (int)getpid());
        snprintf(out, sizeof out, "/tmp/pgrepl-faults-tt-%d.out", (int)getpid());
        const char *args[] = {"-S", "tt_slot", "-P", "tt_pub", "--create-slot", "--temporary", "-f", out,
                              "--reconnect-delay=0.5,1", allow ? "--allow-gap" : NULL, NULL};
        pid_t cli = cli_spawn(args, err);
        wait_active("tt_slot");
        sql("INSERT INTO tt_t VALUES (1)");
        ck_assert_int_eq(wait_lines(out, "\"action\":\"C\"", 1, 10000), 1);
        sql("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'tt_slot'");
        /* committed while no slot exists: these rows can never arrive */
        sql("INSERT INTO tt_t VALUES (2)");
        char *text;
        if (!allow) {
            int rc = wait_exit(cli, 20000);
            text = said(err);
            ck_assert_msg(rc == 1, "exit %d; pgrepl-stream said:\n%s", rc, text);
            ck_assert_msg(strstr(text, "pgrepl-stream: error: replication slot \"tt_slot\" was moved to ") != NULL &&
                              strstr(text, "would be skipped") != NULL && strstr(text, "--temporary") != NULL,
                          "%s", text);
        } else {
            wait_lines(err, "are skipped (--allow-gap)", 1, 20000);
            sql("INSERT INTO tt_t VALUES (3)");
            wait_lines(out, "\"action\":\"C\"", 2, 10000);
            kill(cli, SIGTERM);
            int rc = wait_exit(cli, 20000);
            text = said(err);
            ck_assert_msg(rc == 0 && strstr(text, "are skipped (--allow-gap)") != NULL, "exit %d:\n%s", rc, text);
            ck_assert_int_eq(count_lines_with(out, "\"action\":\"C\""), 2);
        }
        fprintf(stderr, "faults-pg%d temporary slot lost (%s):\n%s", major, allow ? "--allow-gap" : "default", text);
        free(text);
        unlink(err);
        unlink(out);
    }
    sql("DROP PUBLICATION tt_pub; DROP TABLE tt_t;");
}
END_TEST

/*
 * Two pgrepl-stream processes on one slot: each time the walsender is
 * terminated either may take the slot, and each one's output misses what
 * the other confirmed. The one that comes back to a slot moved past what it
 * confirmed stops with an error naming the range.
 */
START_TEST(two_consumers_on_one_slot)
{
    sql("CREATE TABLE two_t (n bigint PRIMARY KEY); CREATE PUBLICATION two_pub FOR TABLE two_t;\n"
        "SELECT 1 FROM pg_create_logical_replication_slot('two_slot', 'pgoutput');");
    pid_t writer = writer_start("two_t", false);
    char err[2][64], out[2][64];
    pid_t cli[2];
    for (int i = 0; i < 2; i++) {
        snprintf(err[i], sizeof err[i], "/tmp/pgrepl-faults-two%d-%d.err", i, (int)getpid());
        snprintf(out[i], sizeof out[i], "/tmp/pgrepl-faults-two%d-%d.out", i, (int)getpid());
        const char *args[] = {"-S", "two_slot", "-P", "two_pub", "-f", out[i], "-F", "0.1", "-s", "0.2",
                              "--reconnect-delay=0.1,0.3", NULL};
        cli[i] = cli_spawn(args, err[i]);
        wait_active("two_slot");
    }
    int gone = -1, rc = -1;
    for (uint64_t until = now_ms() + 30000; gone < 0 && now_ms() < until;) {
        sleep_ms(700);
        sql("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'two_slot'");
        for (int i = 0; i < 2 && gone < 0; i++) {
            int status;
            if (waitpid(cli[i], &status, WNOHANG) == cli[i]) {
                gone = i;
                rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
        }
    }
    kill(writer, SIGTERM);
    ck_assert_int_eq(wait_exit(writer, 30000), 0);
    ck_assert_msg(gone >= 0, "both consumers are still running after 30 s of terminations");
    char *text = said(err[gone]);
    ck_assert_msg(rc == 1 && strstr(text, "would be skipped") != NULL, "consumer %d exited %d:\n%s", gone, rc, text);
    fprintf(stderr, "faults-pg%d two consumers: consumer %d stopped:\n%s", major, gone, text);
    free(text);
    kill(cli[1 - gone], SIGTERM);
    ck_assert_int_eq(wait_exit(cli[1 - gone], 30000), 0);
    for (int i = 0; i < 2; i++) {
        unlink(err[i]);
        unlink(out[i]);
    }
    wait_inactive("two_slot");
    sql("SELECT pg_drop_replication_slot('two_slot'); DROP PUBLICATION two_pub; DROP TABLE two_t;");
}
END_TEST

/*
 * A publication dropped and created again after the slot's position: 14-17
 * cannot decode past the drop, and pgrepl-stream says so (not "create the
 * publication"); 18 warns that it skipped loading it.
 */
START_TEST(publication_recreated)
{
    sql("CREATE TABLE pr_t (n int); CREATE PUBLICATION pr_pub FOR TABLE pr_t;\n"
        "SELECT 1 FROM pg_create_logical_replication_slot('pr_slot', 'pgoutput');");
    sql("DROP PUBLICATION pr_pub; INSERT INTO pr_t VALUES (1);\n"
        "CREATE PUBLICATION pr_pub FOR TABLE pr_t; INSERT INTO pr_t VALUES (2);");
    char err[64];
    snprintf(err, sizeof err, "/tmp/pgrepl-faults-pr-%d.err", (int)getpid());
    const char *args[] = {"-S", "pr_slot", "-P", "pr_pub", "-f", "/dev/null", NULL};
    pid_t cli = cli_spawn(args, err);
    char *text;
    if (major < 18) {
        int rc = wait_exit(cli, 20000);
        text = said(err);
        ck_assert_msg(rc == 1, "exit %d:\n%s", rc, text);
        ck_assert_msg(count_lines_with(err, "pgrepl-stream: error: ") == 1 &&
                          strstr(text, "the publication was dropped (and created again) after the slot's position") !=
                              NULL &&
                          strstr(text, "hint: Advance the slot past") != NULL,
                      "%s", text);
    } else {
        wait_lines(err, "skipped loading publication", 1, 15000);
        kill(cli, SIGTERM);
        ck_assert_int_eq(wait_exit(cli, 20000), 0);
        text = said(err);
        ck_assert_msg(strstr(text, "pgrepl-stream: warning: skipped loading publication") != NULL, "%s", text);
    }
    fprintf(stderr, "faults-pg%d publication recreated:\n%s", major, text);
    free(text);
    unlink(err);
    wait_inactive("pr_slot");
    sql("SELECT pg_drop_replication_slot('pr_slot'); DROP PUBLICATION pr_pub; DROP TABLE pr_t;");
}
END_TEST

/*
 * Text arrives as UTF-8 whatever the database's encoding: a LATIN1
 * database's "café" prints as such. A SQL_ASCII database converts nothing:
 * bytes that are not UTF-8 print as U+FFFD, with one warning.
 */
START_TEST(encodings)
{
    const struct {
        const char *db, *encoding, *value, *expect;
        bool warns;
    } cases[] = {
        /* chr(233) is é in the database's own encoding, whatever psql's client encoding */
        {"enc_latin1", "LATIN1", "'caf' || chr(233)", "\"value\":\"café\"", false},
        {"enc_ascii", "SQL_ASCII", "convert_from('\\x636166e9'::bytea, 'SQL_ASCII')", "\"value\":\"caf\xEF\xBF\xBD\"",
         true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sql("CREATE DATABASE %s ENCODING '%s' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0", cases[i].db,
            cases[i].encoding);
        char text[512];
        snprintf(text, sizeof text,
                 "CREATE TABLE e (v text); CREATE PUBLICATION e_pub FOR TABLE e;\n"
                 "SELECT 1 FROM pg_create_logical_replication_slot('e_slot', 'pgoutput');\n"
                 "INSERT INTO e VALUES (%s);",
                 cases[i].value);
        char *o = NULL;
        ck_assert_int_eq(pgt_psql(&srv, cases[i].db, text, &o), 0);
        free(o);
        o = NULL;
        ck_assert_int_eq(pgt_psql(&srv, cases[i].db, "SELECT pg_current_wal_lsn()", &o), 0);
        char endpos[32];
        snprintf(endpos, sizeof endpos, "%.31s", o);
        endpos[strcspn(endpos, "\n")] = '\0';
        free(o);
        char conninfo[PGT_PATH_MAX + 160], dbname[64], err[64], out[64];
        snprintf(dbname, sizeof dbname, "dbname=%s", cases[i].db);
        snprintf(conninfo, sizeof conninfo, "%s %s", srv.conninfo, dbname);
        snprintf(err, sizeof err, "/tmp/pgrepl-faults-enc-%d.err", (int)getpid());
        snprintf(out, sizeof out, "/tmp/pgrepl-faults-enc-%d.out", (int)getpid());
        const char *argv[] = {build_path("examples/pgrepl-stream"), "-d", conninfo, "-S", "e_slot", "-P", "e_pub",
                              "-E", endpos, "-f", out, NULL};
        int rc = wait_exit(spawn(argv, NULL, err, NULL), 20000);
        char *lines = said(out), *errs = said(err);
        ck_assert_msg(rc == 0, "%s: exit %d:\n%s", cases[i].db, rc, errs);
        ck_assert_msg(strstr(lines, cases[i].expect) != NULL, "%s: output lacks %s:\n%s", cases[i].db,
                      cases[i].expect, lines);
        ck_assert_int_eq(count_lines_with(err, "database encoding is SQL_ASCII"), cases[i].warns ? 1 : 0);
        free(lines);
        free(errs);
        unlink(err);
        unlink(out);
        ck_assert_int_eq(pgt_psql(&srv, cases[i].db, "SELECT pg_drop_replication_slot('e_slot')", &o), 0);
        free(o);
        sql("DROP DATABASE %s", cases[i].db);
    }
}
END_TEST

/*
 * Chaos: five faults seconds apart under a steady writer (two walsender
 * terminations, a fast and an immediate server restart, pgrepl-stream
 * SIGKILLed and started again on the same file). Nothing is lost, nothing
 * is confirmed before it is fsynced, and almost nothing comes twice: each
 * reconnection starts after what was written, a restart on the file after
 * its last whole transaction (the cut-off one is cut from the file), and
 * the backoff starts small again after each recovery. At most 2 % of the
 * rows may repeat (pg_recvlogical repeated 6-21 % in this run).
 */
START_TEST(chaos_repeats)
{
    run r;
    run_begin(&r, "chaos", NULL);
    start_all(&r);
    for (int fault = 0; fault < 5; fault++) {
        watch(&r, 1500);
        switch (fault) {
        case 0:
        case 2:
            for (uint64_t until = now_ms() + 10000; active_pid_of("chaos_slot") == 0 && now_ms() < until;)
                watch(&r, 50);
            sql("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'chaos_slot'");
            break;
        case 1:
            restart_server("fast");
            break;
        case 3:
            restart_server("immediate");
            break;
        case 4:
            kill(r.cli, SIGKILL);
            ck_assert_int_eq(wait_exit(r.cli, 5000), 128 + SIGKILL);
            wait_inactive("chaos_slot");
            take_sample(&r);
            cli_resume(&r);
            break;
        }
    }
    watch(&r, 2000);
    run_end(&r);
    long rows = r.committed + r.replayed_rows;
    fprintf(stderr, "faults-pg%d chaos: %ld of %ld rows printed twice (%.2f %%)\n", major, r.replayed_rows, rows,
            100.0 * (double)r.replayed_rows / (double)rows);
    ck_assert_msg(r.replayed_rows * 50 <= rows, "%ld of %ld rows printed twice", r.replayed_rows, rows);
    run_cleanup(&r);
}
END_TEST

/* What a process that should have moved on is doing: /proc, twice a second apart, and gdb's backtrace if there is gdb. */
static char *process_report(pid_t pid)
{
    size_t cap = 1 << 15, n = 0;
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    out[0] = '\0';
    for (int round = 0; round < 2; round++) {
        static const char *const files[] = {"stat", "wchan", "syscall"};
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, files[i]);
            size_t len;
            char *text = read_file(path, 512, &len);
            n += (size_t)snprintf(out + n, cap - n, "%s: %s\n", files[i], text);
            free(text);
        }
        sleep_ms(1000);
    }
    if (access("/usr/bin/gdb", X_OK) == 0) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "/usr/bin/gdb -p %d -batch -ex bt 2>&1 | grep '^#'", (int)pid);
        FILE *p = popen(cmd, "r");
        if (p != NULL) {
            n += fread(out + n, 1, cap - n - 1, p);
            out[n] = '\0';
            pclose(p);
        }
    }
    return out;
}

static void restart_fault(const char *name, const char *mode)
{
    run r;
    run_begin(&r, name, NULL);
    r.extra[0] = "-v";
    start_all(&r);
    watch(&r, 1500);
    restart_server(mode);
    /* The reconnection comes after the restart and a backoff with jitter;
     * under the sanitizers on a loaded machine that can take longer than a
     * fixed wait, so poll for it, bounded. */
    for (uint64_t until = now_ms() + 20000; reconnections(&r) < 1 && now_ms() < until;)
        watch(&r, 250);
    watch(&r, 1000);
    if (reconnections(&r) < 1) {
        char err[128];
        path_of(&r, "stderr", 0, err, sizeof err);
        size_t len;
        char *text = read_file(err, 1 << 14, &len);
        char *where = process_report(r.cli);
        ck_assert_msg(false, "%s: no reconnection after the restart; pgrepl-stream said:\n%s\nits process:\n%s", r.name,
                      text, where);
    }
    /* a routine restart is a warning: the program goes on */
    char err[128];
    path_of(&r, "stderr", 0, err, sizeof err);
    ck_assert_int_eq(count_lines_with(err, "pgrepl-stream: error: "), 0);
    ck_assert_int_ge(count_lines_with(err, "pgrepl-stream: warning: "), 1);
    run_end(&r);
    run_cleanup(&r);
}

START_TEST(server_restart_fast)
{
    restart_fault("fast", "fast");
}
END_TEST

START_TEST(server_restart_immediate)
{
    restart_fault("immed", "immediate");
}
END_TEST

/* The last size - 1 bytes of a file, as a string (empty when it cannot be read). */
static void read_tail(const char *path, char *tail, size_t size)
{
    tail[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    off_t at = file_size(path);
    fseeko(f, at > (off_t)size - 1 ? at - (off_t)size + 1 : 0, SEEK_SET);
    size_t n = fread(tail, 1, size - 1, f);
    fclose(f);
    tail[n] = '\0';
}

/* The last complete line of the current output file is inside a transaction. */
static bool inside_transaction(const run *r)
{
    char out[128], tail[8192];
    path_of(r, "out", r->nfiles, out, sizeof out);
    read_tail(out, tail, sizeof tail);
    char *end = strrchr(tail, '\n');
    if (end == NULL)
        return false;
    *end = '\0';
    char *start = strrchr(tail, '\n');
    line_info li = parse_line(start != NULL ? start + 1 : tail);
    return li.action == 'B' || li.action == 'I';
}

/*
 * Poll until the output ends inside a transaction (usually within 100 ms:
 * half of the writer's transactions span several writes). pgrepl-stream
 * must keep running meanwhile; when the moment does not come, say what
 * every party was doing.
 */
static void wait_inside_transaction(run *r, int round)
{
    char out[128], err[128];
    path_of(r, "out", r->nfiles, out, sizeof out);
    path_of(r, "stderr", 0, err, sizeof err);
    off_t size_before = file_size(out);
    uint64_t start = now_ms();
    while (!inside_transaction(r) && now_ms() - start < 30000) {
        if (!running(r->cli)) {
            size_t len;
            char *text = read_file(err, 1 << 14, &len);
            ck_assert_msg(false, "%s: pgrepl-stream exited while waiting for a transaction (round %d); it said:\n%s",
                          r->name, round, text);
        }
        sleep_ms(1);
    }
    if (inside_transaction(r))
        return;
    char q[160], committed[64];
    snprintf(q, sizeof q, "SELECT coalesce(max(n), 0) FROM %s_t", r->name);
    if (!sql_try(q, committed, sizeof committed))
        snprintf(committed, sizeof committed, "(query failed)");
    size_t len;
    char *text = read_file(err, 1 << 14, &len);
    char last[600];
    read_tail(out, last, sizeof last);
    char *where = process_report(r->cli);
    ck_assert_msg(false,
                  "%s: round %d: the output did not end inside a transaction in 30 s; file %s went from %lld to "
                  "%lld bytes, the table holds numbers up to %s; its tail:\n%s\npgrepl-stream said:\n%s\nits "
                  "process:\n%s",
                  r->name, round, out, (long long)size_before, (long long)file_size(out), committed, last, text, where);
}

START_TEST(stream_killed)
{
    run r;
    run_begin(&r, "kill", NULL);
    r.big = true;
    start_all(&r);
    for (int i = 0; i < 3; i++) {
        watch(&r, 700);
        wait_inside_transaction(&r, i);
        kill(r.cli, SIGKILL);
        ck_assert_int_eq(wait_exit(r.cli, 5000), 128 + SIGKILL);
        /* the killed process wrote all it will ever write: the slot must not be past it */
        wait_inactive("kill_slot");
        take_sample(&r);
        cli_start(&r);
    }
    watch(&r, 1500);
    run_end(&r);
    run_cleanup(&r);
}
END_TEST

START_TEST(network_frozen_then_cut)
{
    char target[PGT_PATH_MAX + 32];
    snprintf(target, sizeof target, "unix:%s/.s.PGSQL.5432", srv.dir);
    int out[2];
    ck_assert_int_eq(pipe(out), 0);
    pid_t parent = getpid();
    pid_t proxy = fork();
    ck_assert_int_ge(proxy, 0);
    if (proxy == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execl(build_path("tests/tools/tcpproxy"), "tcpproxy", target, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char port[16] = {0};
    ck_assert_int_gt(read(out[0], port, sizeof port - 1), 0);
    close(out[0]);
    char conninfo[128];
    snprintf(conninfo, sizeof conninfo, "host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable",
             atoi(port));
    run r;
    run_begin(&r, "net", conninfo);
    r.extra[0] = "--receive-timeout=2";
    r.extra[1] = "--connect-timeout=1";
    start_all(&r);
    watch(&r, 1500);
    /* silence, longer than wal_sender_timeout: both ends give up on the connection */
    kill(proxy, SIGUSR1);
    watch(&r, (SENDER_TIMEOUT_S + 2) * 1000);
    kill(proxy, SIGUSR2);
    watch(&r, 300);
    kill(proxy, SIGHUP);
    char err[128];
    path_of(&r, "stderr", 0, err, sizeof err);
    watch(&r, 1000);
    for (uint64_t until = now_ms() + 20000; count_lines_with(err, "reconnected") < 1 && now_ms() < until;)
        watch(&r, 250);
    ck_assert_int_ge(count_lines_with(err, "nothing received from the server"), 1);
    ck_assert_int_ge(count_lines_with(err, "reconnected"), 1);
    run_end(&r);
    run_cleanup(&r);
    kill(proxy, SIGTERM);
    wait_exit(proxy, 5000);
}
END_TEST

/* ---- an invalidated slot ------------------------------------------------------------------- */

typedef struct inv {
    uv_loop_t loop;
    uv_timer_t wake;
    pgrepl_stream *s;
    int n_commit, n_error, closed;
    int code;
    bool fatal, retrying;
    char message[512], hint[256], states[256];
} inv;

static int inv_commit(void *ud, const pgrepl_msg_commit *m)
{
    inv *t = ud;
    (void)m;
    t->n_commit++;
    return 0;
}

static void inv_state(pgrepl_stream *s, pgrepl_stream_state state)
{
    inv *t = pgrepl_stream_get_data(s);
    size_t n = strlen(t->states);
    snprintf(t->states + n, sizeof t->states - n, "%s%s", n ? "," : "", pgrepl_stream_state_name(state));
}

static void inv_error(pgrepl_stream *s, const pgrepl_error *err)
{
    inv *t = pgrepl_stream_get_data(s);
    t->n_error++;
    t->code = err->code;
    t->fatal = err->fatal;
    t->retrying = err->retrying;
    snprintf(t->message, sizeof t->message, "%s", err->message);
    snprintf(t->hint, sizeof t->hint, "%s", err->hint != NULL ? err->hint : "");
}

static void inv_closed(pgrepl_stream *s)
{
    inv *t = pgrepl_stream_get_data(s);
    t->closed++;
}

static void inv_wake(uv_timer_t *h)
{
    (void)h;
}

static void inv_run(inv *t, uint64_t ms)
{
    uint64_t until = now_ms() + ms;
    while (now_ms() < until)
        uv_run(&t->loop, UV_RUN_ONCE);
}

/*
 * A slot that falls further behind than max_slot_wal_keep_size while it
 * streams: the checkpointer invalidates it and ends its walsender with the
 * same 57P01 as pg_terminate_backend. The stream retries that, and the check
 * after reconnecting says what happened; pgrepl-stream says so too.
 */
START_TEST(invalidated_slot)
{
    sql("CREATE TABLE inv_t (n int);\n"
        "CREATE PUBLICATION inv_pub FOR TABLE inv_t;\n"
        "SELECT 1 FROM pg_create_logical_replication_slot('inv_slot', 'pgoutput');\n"
        "ALTER SYSTEM SET max_slot_wal_keep_size = '1MB';\n"
        "SELECT pg_reload_conf();");
    inv t;
    memset(&t, 0, sizeof t);
    ck_assert_int_eq(uv_loop_init(&t.loop), 0);
    uv_timer_init(&t.loop, &t.wake);
    uv_timer_start(&t.wake, inv_wake, 20, 20);
    t.s = pgrepl_stream_new(&t.loop);
    ck_assert_ptr_nonnull(t.s);
    static const pgrepl_decoder_callbacks dcb = {.on_commit = inv_commit};
    static const pgrepl_stream_callbacks scb = {.on_state = inv_state, .on_error = inv_error};
    ck_assert_int_eq(pgrepl_stream_set_conninfo(t.s, srv.conninfo), 0);
    ck_assert_int_eq(pgrepl_stream_set_slot(t.s, "inv_slot"), 0);
    ck_assert_int_eq(pgrepl_stream_add_publication(t.s, "inv_pub"), 0);
    ck_assert_int_eq(pgrepl_stream_set_callbacks(t.s, &dcb, sizeof dcb, &scb, sizeof scb), 0);
    ck_assert_int_eq(pgrepl_stream_set_reconnect(t.s, 100, 200), 0);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_interval(t.s, 0), 0);
    pgrepl_stream_set_data(t.s, &t);
    ck_assert_int_eq(pgrepl_stream_start_replication(t.s), 0);
    uint64_t until = now_ms() + 15000;
    while (pgrepl_stream_get_state(t.s) != PGREPL_STREAM_STREAMING && now_ms() < until)
        inv_run(&t, 50);
    /* a transaction delivered and never acknowledged holds the slot back */
    sql("INSERT INTO inv_t VALUES (1)");
    until = now_ms() + 15000;
    while (t.n_commit == 0 && now_ms() < until)
        inv_run(&t, 50);
    ck_assert_int_eq(t.n_commit, 1);
    for (int i = 0; i < 20 && pgrepl_stream_get_state(t.s) != PGREPL_STREAM_STOPPED; i++) {
        sql("CREATE TABLE IF NOT EXISTS inv_filler (x int);\n"
            "INSERT INTO inv_filler VALUES (1);\n"
            "SELECT pg_switch_wal();\n"
            "CHECKPOINT;");
        inv_run(&t, 300);
    }
    until = now_ms() + 10000;
    while (pgrepl_stream_get_state(t.s) != PGREPL_STREAM_STOPPED && now_ms() < until)
        inv_run(&t, 50);
    fprintf(stderr, "faults-pg%d invalidated: %d errors, states %s, last: %s\n", major, t.n_error, t.states,
            t.message);
    /* the end of the connection was retried; what stopped the stream names the invalidation */
    ck_assert_int_ge(t.n_error, 2);
    ck_assert_ptr_nonnull(strstr(t.states, "streaming,reconnecting"));
    ck_assert_int_eq(pgrepl_stream_get_state(t.s), PGREPL_STREAM_STOPPED);
    ck_assert(t.fatal && !t.retrying);
    ck_assert_msg(strstr(t.hint, "invalidated") != NULL, "%s / %s", t.message, t.hint);
    ck_assert_msg(t.code == PGREPL_ESTATE || t.code == PGREPL_ESERVER, "%s", pgrepl_err_name(t.code));
    ck_assert_int_eq(pgrepl_stream_close(t.s, inv_closed), 0);
    inv_run(&t, 100);
    ck_assert_int_eq(t.closed, 1);
    uv_close((uv_handle_t *)&t.wake, NULL);
    uv_run(&t.loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&t.loop), 0);
    /* pgrepl-stream on the invalidated slot: one clear error, status 1 */
    char err[64];
    snprintf(err, sizeof err, "/tmp/pgrepl-faults-inv-%d.err", (int)getpid());
    const char *argv[] = {build_path("examples/pgrepl-stream"), "-d", srv.conninfo, "-S", "inv_slot", "-P", "inv_pub",
                          "-f", "/dev/null", NULL};
    ck_assert_int_eq(wait_exit(spawn(argv, NULL, err, NULL), 20000), 1);
    ck_assert_int_eq(count_lines_with(err, "pgrepl-stream: error: "), 1);
    ck_assert_int_eq(count_lines_with(err, major == 16 ? "\"inv_slot\" has been invalidated (PostgreSQL 16 does not "
                                                         "record why)"
                                                       : "\"inv_slot\" has been invalidated (wal_removed)"),
                     1);
    unlink(err);
    sql("ALTER SYSTEM RESET max_slot_wal_keep_size;\n"
        "SELECT pg_reload_conf();\n"
        "SELECT pg_drop_replication_slot('inv_slot');");
}
END_TEST

/* ---- bad inputs ------------------------------------------------------------------------------- */

typedef struct bad {
    const char *name;
    const char *conninfo; /* NULL: the test server, postgres database */
    const char *args[6];
    const char *env;
    const char *error_has;
} bad;

/* Run pgrepl-stream; it must print one error line with error_has and exit 1 within 15 s. */
static void expect_failure(const bad *b, const char *conninfo)
{
    char err[64];
    snprintf(err, sizeof err, "/tmp/pgrepl-faults-bad-%d.err", (int)getpid());
    unlink(err);
    const char *argv[16] = {build_path("examples/pgrepl-stream"), "-d", conninfo, "-f", "/dev/null"};
    int n = 5;
    for (int i = 0; i < 6 && b->args[i] != NULL; i++)
        argv[n++] = b->args[i];
    argv[n] = NULL;
    const char *env[] = {b->env, NULL};
    uint64_t started = now_ms();
    int status = wait_exit(spawn(argv, NULL, err, env), 15000);
    uint64_t took = now_ms() - started;
    size_t len;
    char *text = read_file(err, 1 << 16, &len);
    fprintf(stderr, "faults-pg%d bad input \"%s\": status %d after %llu ms: %s", major, b->name, status,
            (unsigned long long)took, text);
    ck_assert_msg(status == 1, "%s: exit status %d\n%s", b->name, status, text);
    ck_assert_msg(count_lines_with(err, "pgrepl-stream: error: ") == 1, "%s: not one error line\n%s", b->name, text);
    char line[2048];
    ck_assert_int_eq(sscanf(strstr(text, "pgrepl-stream: error: "), "%2047[^\n]", line), 1);
    ck_assert_msg(strstr(line, b->error_has) != NULL, "%s: the error line lacks \"%s\"\n%s", b->name, b->error_has,
                  text);
    free(text);
    unlink(err);
}

static void with_db(char *buf, size_t size, const pgt_server *s, const char *extra)
{
    snprintf(buf, size, "%s %s", s->conninfo, extra);
}

START_TEST(bad_inputs)
{
    sql("CREATE TABLE bad_t (n int);\n"
        "CREATE PUBLICATION bad_pub FOR TABLE bad_t;\n"
        "SELECT 1 FROM pg_create_logical_replication_slot('bad_slot', 'pgoutput');\n"
        "CREATE DATABASE other;\n"
        "CREATE ROLE norepl LOGIN;\n"
        "CREATE ROLE pwuser LOGIN REPLICATION PASSWORD 'secret';");
    char *out = NULL;
    ck_assert_int_eq(pgt_psql(&srv, "other", "SELECT 1 FROM pg_create_logical_replication_slot('other_slot', "
                                              "'pgoutput')", &out), 0);
    free(out);
    pgrepl_lsn before, after;
    ck_assert(confirmed_of("bad_slot", &before));
    char cs[4][PGT_PATH_MAX + 128];
    with_db(cs[0], sizeof cs[0], &srv, "dbname=nope");
    with_db(cs[1], sizeof cs[1], &srv, "user=pwuser");
    with_db(cs[2], sizeof cs[2], &srv, "user=norepl");
    const bad cases[] = {
        {"malformed conninfo", "host='oops", {"-S", "bad_slot", "-P", "bad_pub"}, NULL, "invalid connection string"},
        {"unknown host", "host=nohost.invalid user=postgres", {"-S", "bad_slot", "-P", "bad_pub"}, NULL,
         "could not translate host name"},
        {"refused port", "host=127.0.0.1 port=1 user=postgres", {"-S", "bad_slot", "-P", "bad_pub", "--no-loop"},
         NULL, "Connection refused"},
        {"wrong password", cs[1], {"-S", "bad_slot", "-P", "bad_pub", "-w"}, "PGPASSWORD=wrong",
         "password authentication failed for user \"pwuser\""},
        {"missing database", cs[0], {"-S", "bad_slot", "-P", "bad_pub"}, NULL, "database \"nope\" does not exist"},
        {"missing slot", NULL, {"-S", "nope", "-P", "bad_pub"}, NULL, "replication slot \"nope\" does not exist"},
        {"missing publication", NULL, {"-S", "bad_slot", "-P", "bad_pub,nope"}, NULL, "missing publication(s): nope"},
        {"slot of another database", NULL, {"-S", "other_slot", "-P", "bad_pub,nope"}, NULL,
         "replication slot \"other_slot\" belongs to database \"other\", not to \"postgres\""},
        {"role without REPLICATION", cs[2], {"-S", "bad_slot", "-P", "bad_pub"}, NULL,
         major >= 16 ? "permission denied to start WAL sender" : "must be superuser or replication role"},
        {"bad --startpos", NULL, {"-S", "bad_slot", "-P", "bad_pub", "-I", "12"}, NULL, "invalid start position"},
        {"--startpos beyond the server's WAL", NULL, {"-S", "bad_slot", "-P", "bad_pub", "-I", "FF/0"}, NULL,
         "cannot start at FF/0, the durable position (pgrepl_stream_set_durable_lsn): the server's WAL ends at"},
        {"slot name the server would truncate", NULL,
         {"-S", "s234567890123456789012345678901234567890123456789012345678901234", "-P", "bad_pub"}, NULL,
         "64 bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_failure(&cases[i], cases[i].conninfo != NULL ? cases[i].conninfo : srv.conninfo);
    /* the password is right: the same role streams (and it needed the password) */
    {
        const bad ok = {"right password, slot in use", cs[1], {"-S", "bad_slot", "-P", "bad_pub", "--no-loop", "-w"},
                        "PGPASSWORD=secret", "is active for PID"};
        /* slot in use by another consumer: a replication connection that holds it */
        char holder_ci[PGT_PATH_MAX + 128];
        with_db(holder_ci, sizeof holder_ci, &srv, "replication=database");
        PGconn *holder = PQconnectdb(holder_ci);
        ck_assert_int_eq(PQstatus(holder), CONNECTION_OK);
        PGresult *res = PQexec(holder, "START_REPLICATION SLOT bad_slot LOGICAL 0/0 (proto_version '1', "
                                       "publication_names 'bad_pub')");
        ck_assert_int_eq(PQresultStatus(res), PGRES_COPY_BOTH);
        PQclear(res);
        expect_failure(&ok, cs[1]);
        /* nothing of the above moved the slot */
        ck_assert(confirmed_of("bad_slot", &after));
        ck_assert_uint_eq(after, before);
        /* without --no-loop the busy slot is retried, each attempt logged, until it is free */
        char err[64];
        snprintf(err, sizeof err, "/tmp/pgrepl-faults-busy-%d.err", (int)getpid());
        unlink(err);
        const char *argv[] = {build_path("examples/pgrepl-stream"), "-d", srv.conninfo, "-S", "bad_slot", "-P",
                              "bad_pub", "-f", "/dev/null", "--reconnect-delay=0.2,0.4", NULL};
        pid_t cli = spawn(argv, NULL, err, NULL);
        uint64_t until = now_ms() + 15000;
        while (count_lines_with(err, "reconnecting in") < 3 && now_ms() < until)
            sleep_ms(50);
        ck_assert_int_ge(count_lines_with(err, "reconnecting in"), 3);
        ck_assert_int_ge(count_lines_with(err, "is active for PID"), 3);
        ck_assert(running(cli));
        PQfinish(holder);
        until = now_ms() + 15000;
        while (count_lines_with(err, "reconnected") == 0 && now_ms() < until)
            sleep_ms(50);
        ck_assert_int_eq(count_lines_with(err, "reconnected"), 1);
        kill(cli, SIGTERM);
        ck_assert_int_eq(wait_exit(cli, 15000), 0);
        unlink(err);
    }
    wait_inactive("bad_slot");
    /* a server with wal_level=replica, and one walsender that is taken */
    pgt_server rep;
    const char *const settings[] = {"wal_level=replica", "max_wal_senders=1", NULL};
    ck_assert_msg(pgt_server_start(&rep, major, settings) == 0, "%s", rep.errmsg);
    out = NULL;
    ck_assert_int_eq(pgt_psql(&rep, NULL, "CREATE TABLE bad_t (n int); CREATE PUBLICATION bad_pub FOR TABLE bad_t;",
                              &out),
                     0);
    free(out);
    const bad replica = {"wal_level=replica", NULL, {"-S", "bad_slot", "-P", "bad_pub"}, NULL, "wal_level"};
    expect_failure(&replica, rep.conninfo);
    char holder_ci[PGT_PATH_MAX + 128];
    with_db(holder_ci, sizeof holder_ci, &rep, "replication=database");
    PGconn *holder = PQconnectdb(holder_ci);
    ck_assert_int_eq(PQstatus(holder), CONNECTION_OK);
    const bad senders = {"max_wal_senders exhausted", NULL, {"-S", "bad_slot", "-P", "bad_pub", "--no-loop"}, NULL,
                         "max_wal_senders"};
    expect_failure(&senders, rep.conninfo);
    PQfinish(holder);
    pgt_server_stop(&rep);
    sql("SELECT pg_drop_replication_slot('bad_slot')");
}
END_TEST

int main(int argc, char **argv)
{
    major = pgt_major_from_args(argc, argv);
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("faults");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, walsender_terminated);
    tcase_add_test(tc, server_restart_fast);
    tcase_add_test(tc, server_restart_immediate);
    tcase_add_test(tc, unsynced_never_confirmed);
    tcase_add_test(tc, sigterm_inside_huge_transaction);
    tcase_add_test(tc, temporary_slot_lost);
    tcase_add_test(tc, two_consumers_on_one_slot);
    tcase_add_test(tc, publication_recreated);
    tcase_add_test(tc, encodings);
    tcase_add_test(tc, chaos_repeats);
    tcase_add_test(tc, stream_killed);
    tcase_add_test(tc, network_frozen_then_cut);
    tcase_add_test(tc, invalidated_slot);
    tcase_add_test(tc, bad_inputs);
    suite_add_tcase(s, tc);
    return pgrepl_test_run_suite(s);
}
