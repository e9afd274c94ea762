/*
 * Heartbeats against a real server of the major given as argv[1].
 *
 * The retention runs: the slot and its publication live in the database
 * "quiet"; while the stream runs, another database (or unpublished tables
 * of "quiet") writes PGREPL_HEARTBEAT_WAL_MB of WAL (default 512, at least
 * 128) with a CHECKPOINT every 16 MB, and the slot is sampled every 0.5 s.
 * With heartbeats (and the idle rule off, so that only heartbeats can move
 * the slot) the retained WAL (pg_current_wal_lsn() - restart_lsn) stays
 * under 64 MB at every sample and confirmed_flush_lsn is never more than
 * 3 s behind the server. The negative control, heartbeats and the idle rule
 * off, writes half of that plus 32 MB and must see the retention pass half
 * of it (256 MB by default), so the runs can fail (except for unpublished
 * tables on 14, which sends their transactions as empty ones: see there).
 * PGREPL_HEARTBEAT_WAL_MB smaller than 512 shortens the runs, e.g. on a
 * slow machine; the figures above scale with it, the 64 MB bound does not.
 *
 * Then the round trip: the stall error when the walsender is frozen with
 * SIGSTOP, no stall while the application pauses, the side connection's
 * errors (no EXECUTE, terminated) that leave the stream running, the ledger
 * rules with unacknowledged data, delivery on request, and pgrepl-stream's
 * --heartbeat-interval, --heartbeat-prefix and lag in -v and the metrics.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <uv.h>

#include "harness.h"
#include "pgrepl/uv.h"
#include "testutil.h"

#define MB (INT64_C(1) << 20)
#define RETAIN_LIMIT (64 * MB)
#define CONFIRM_LAG_MS 3000
#define SAMPLE_MS 500

static int major;
static pgt_server srv;
static int wal_mb;

static char *query(const char *db, const char *sql)
{
    char *out = NULL;
    int rc = pgt_psql(&srv, db, sql, &out);
    ck_assert_msg(rc == 0, "psql exited %d for: %s", rc, sql);
    ck_assert_ptr_nonnull(out);
    return out;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void exec(const char *db, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    free(query(db, sql));
}

static void setup(void)
{
    static const char *const settings[] = {"logical_decoding_work_mem=64MB", NULL};
    ck_assert_msg(pgt_server_start(&srv, major, settings) == 0, "PostgreSQL %d did not start: %s", major, srv.errmsg);
    exec(NULL, "CREATE DATABASE quiet; CREATE DATABASE busy;");
    /* churn: wide rows stored in line, so that WAL grows by about the data written */
    static const char churn[] = "CREATE TABLE churn (v text); ALTER TABLE churn ALTER COLUMN v SET STORAGE PLAIN;";
    exec("quiet", "CREATE TABLE pubt (id int PRIMARY KEY);\n"
                  "CREATE PUBLICATION quiet_pub FOR TABLE pubt;\n"
                  "%s\n"
                  "CREATE ROLE hb_user LOGIN REPLICATION;",
         churn);
    exec("busy", "%s", churn);
}

static void teardown(void)
{
    pgt_server_stop(&srv);
}

static void create_slot(const char *slot)
{
    exec("quiet", "SELECT 1 FROM pg_create_logical_replication_slot('%s', 'pgoutput')", slot);
}

static int active_pid_of(const char *slot)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT coalesce(active_pid, 0) FROM pg_replication_slots WHERE slot_name = '%s'",
             slot);
    char *out = query(NULL, sql);
    int pid = atoi(out);
    free(out);
    return pid;
}

static void drop_slot(const char *slot)
{
    for (int i = 0; i < 100 && active_pid_of(slot) != 0; i++)
        uv_sleep(50);
    exec(NULL, "SELECT pg_drop_replication_slot('%s')", slot);
}

static pgrepl_lsn confirmed_of(const char *slot)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '%s'", slot);
    char *out = query(NULL, sql);
    pgrepl_lsn lsn = 0;
    ck_assert_int_eq(pgrepl_lsn_parse(out, &lsn), 0);
    free(out);
    return lsn;
}

/* ---- the stream and what its callbacks saw -------------------------------- */

typedef struct ctx {
    uv_loop_t loop;
    uv_timer_t wake;
    pgrepl_stream *s;
    int n_closed;
    char states[256];
    int n_commit;
    pgrepl_lsn last_commit_end;
    int n_message;
    char message_prefix[64];
    char message_content[128];
    bool message_transactional;
    int n_stream_error; /* errors that stopped the stream */
    int n_hb_error;     /* heartbeat problems (on_warning) */
    int n_stall;
    int n_behind;
    int commit_sleep_ms; /* a slow consumer */
    uint64_t stall_at;
    int hb_code;
    char hb_sqlstate[6];
    char err_message[512];
} ctx;

static uint64_t now_ms(ctx *t)
{
    uv_update_time(&t->loop);
    return uv_now(&t->loop);
}

static int cb_commit(void *ud, const pgrepl_msg_commit *m)
{
    ctx *t = ud;
    t->n_commit++;
    t->last_commit_end = m->end_lsn;
    if (t->commit_sleep_ms > 0)
        uv_sleep((unsigned)t->commit_sleep_ms);
    return 0;
}

static int cb_message(void *ud, const pgrepl_msg_logical *m)
{
    ctx *t = ud;
    t->n_message++;
    t->message_transactional = m->transactional;
    snprintf(t->message_prefix, sizeof t->message_prefix, "%s", m->prefix);
    snprintf(t->message_content, sizeof t->message_content, "%.*s", (int)m->content_len,
             (const char *)m->content);
    return 0;
}

static void cb_state(pgrepl_stream *s, pgrepl_stream_state state)
{
    ctx *t = pgrepl_stream_get_data(s);
    size_t n = strlen(t->states);
    snprintf(t->states + n, sizeof t->states - n, "%s%s", n ? "," : "", pgrepl_stream_state_name(state));
}

static void cb_error(pgrepl_stream *s, const pgrepl_error *err)
{
    ctx *t = pgrepl_stream_get_data(s);
    snprintf(t->err_message, sizeof t->err_message, "%s", err->message);
    ck_assert_ptr_null(strchr(err->message, '\n'));
    t->n_stream_error++;
}

/* A heartbeat problem: the stream goes on as it was. */
static void cb_warning(pgrepl_stream *s, const pgrepl_error *err)
{
    ctx *t = pgrepl_stream_get_data(s);
    snprintf(t->err_message, sizeof t->err_message, "%s", err->message);
    ck_assert_ptr_null(strchr(err->message, '\n'));
    ck_assert(!err->retrying);
    ck_assert(!err->fatal);
    ck_assert_int_eq(pgrepl_stream_get_state(s), PGREPL_STREAM_STREAMING);
    ck_assert_msg(strncmp(err->message, "heartbeat: ", 11) == 0, "%s", err->message);
    ck_assert_msg(strstr(err->message, "the stream continues") != NULL, "%s", err->message);
    t->n_hb_error++;
    t->hb_code = err->code;
    snprintf(t->hb_sqlstate, sizeof t->hb_sqlstate, "%s", err->server != NULL ? err->server->sqlstate : "");
    if (err->code == PGREPL_ESTALLED) {
        t->n_stall++;
        t->stall_at = now_ms(t);
    }
    if (err->code == PGREPL_EBEHIND)
        t->n_behind++;
}

static const pgrepl_decoder_callbacks dcb = {
    .on_commit = cb_commit,
    .on_message = cb_message,
};

static const pgrepl_stream_callbacks scb = {
    .on_state = cb_state,
    .on_error = cb_error,
    .on_warning = cb_warning,
};

static void on_wake(uv_timer_t *h)
{
    (void)h;
}

/*
 * A stream on the quiet database's slot, acknowledging every unit, with
 * messages on, the idle rule off and heartbeats every interval_ms (0: none).
 * extra: more conninfo, or NULL.
 */
static void ctx_init(ctx *t, const char *slot, uint64_t interval_ms, const char *extra)
{
    memset(t, 0, sizeof *t);
    ck_assert_int_eq(uv_loop_init(&t->loop), 0);
    ck_assert_int_eq(uv_timer_init(&t->loop, &t->wake), 0);
    ck_assert_int_eq(uv_timer_start(&t->wake, on_wake, 20, 20), 0);
    t->s = pgrepl_stream_new(&t->loop);
    ck_assert_ptr_nonnull(t->s);
    char conninfo[512];
    ck_assert_int_eq(pgt_conninfo(&srv, "quiet", conninfo, sizeof conninfo), 0);
    if (extra != NULL) {
        size_t n = strlen(conninfo);
        snprintf(conninfo + n, sizeof conninfo - n, " %s", extra);
    }
    ck_assert_int_eq(pgrepl_stream_set_conninfo(t->s, conninfo), 0);
    ck_assert_int_eq(pgrepl_stream_set_callbacks(t->s, &dcb, sizeof dcb, &scb, sizeof scb), 0);
    pgrepl_stream_set_data(t->s, t);
    ck_assert_int_eq(pgrepl_stream_set_slot(t->s, slot), 0);
    ck_assert_int_eq(pgrepl_stream_add_publication(t->s, "quiet_pub"), 0);
    ck_assert_int_eq(pgrepl_stream_set_messages(t->s, true), 0);
    ck_assert_int_eq(pgrepl_stream_set_auto_ack(t->s, true), 0);
    ck_assert_int_eq(pgrepl_stream_set_idle_advance(t->s, false), 0);
    ck_assert_int_eq(pgrepl_stream_set_status_interval(t->s, 1000), 0);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_interval(t->s, interval_ms), 0);
}

#define RUN_UNTIL(t, cond, ms)                                                                                        \
    do {                                                                                                              \
        uint64_t until_ = now_ms(t) + (ms);                                                                           \
        while (!(cond) && now_ms(t) < until_)                                                                         \
            uv_run(&(t)->loop, UV_RUN_ONCE);                                                                          \
        ck_assert_msg((cond), "waited %d ms for %s; states %s; last error: %s", (int)(ms), #cond, (t)->states,       \
                      (t)->err_message);                                                                              \
    } while (0)

static void run_for(ctx *t, uint64_t ms)
{
    uint64_t until = now_ms(t) + ms;
    while (now_ms(t) < until)
        uv_run(&t->loop, UV_RUN_ONCE);
}

static void start_streaming(ctx *t)
{
    ck_assert_int_eq(pgrepl_stream_start_replication(t->s), 0);
    RUN_UNTIL(t, pgrepl_stream_get_state(t->s) == PGREPL_STREAM_STREAMING, 15000);
}

static void on_stream_closed(pgrepl_stream *s)
{
    ctx *t = pgrepl_stream_get_data(s);
    t->n_closed++;
}

/* Close the stream; every handle, the heartbeat's too, must be gone. */
static void ctx_fini(ctx *t)
{
    ck_assert_int_eq(pgrepl_stream_close(t->s, on_stream_closed), 0);
    RUN_UNTIL(t, t->n_closed > 0, 10000);
    t->s = NULL;
    uv_close((uv_handle_t *)&t->wake, NULL);
    ck_assert_int_eq(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(t->n_closed, 1);
    ck_assert_int_eq(uv_loop_close(&t->loop), 0);
}

/* ---- WAL churn in the background, and the slot sampled meanwhile ------------ */

/* A child process on the test's loop. */
typedef struct child {
    uv_process_t proc;
    bool exited;
    int64_t status;
    int term_signal;
} child;

static void on_child_exit(uv_process_t *p, int64_t status, int term_signal)
{
    child *c = p->data;
    c->exited = true;
    c->status = status;
    c->term_signal = term_signal;
    uv_close((uv_handle_t *)p, NULL);
}

/* Run argv (argv[0] a path) with stdin and stdout closed and stderr on err_fd. */
static void spawn(uv_loop_t *loop, child *c, const char *const *argv, int err_fd)
{
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE}, {.flags = UV_IGNORE}, {.flags = UV_INHERIT_FD, .data.fd = err_fd}};
    /* uv_spawn wants char **; it does not modify the strings */
    uv_process_options_t o = {.exit_cb = on_child_exit,
                              .file = argv[0],
                              .args = (char **)(uintptr_t)argv,
                              .stdio_count = 3,
                              .stdio = stdio};
    memset(c, 0, sizeof *c);
    c->proc.data = c;
    int rc = uv_spawn(loop, &c->proc, &o);
    ck_assert_msg(rc == 0, "cannot run %s: %s", argv[0], uv_strerror(rc));
}

/*
 * psql runs one DO block on db that inserts wide rows into churn until mb
 * of WAL were written, 4 MB per transaction, with a CHECKPOINT (a
 * running-xacts record: the only way restart_lsn moves) every 16 MB, and a
 * short sleep per transaction so that the stream keeps up on a small machine.
 */
static void churn_start(child *c, uv_loop_t *loop, const char *db, int mb)
{
    char conninfo[512];
    ck_assert_int_eq(pgt_conninfo(&srv, db, conninfo, sizeof conninfo), 0);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "DO $$ DECLARE s0 pg_lsn := pg_current_wal_lsn(); i int := 0; BEGIN "
             "WHILE pg_current_wal_lsn() - s0 < %d::numeric * 1048576 LOOP "
             "INSERT INTO churn SELECT repeat('x', 1900) FROM generate_series(1, 2000); COMMIT; "
             "i := i + 1; "
             "IF i %% 4 = 0 THEN TRUNCATE churn; COMMIT; CHECKPOINT; END IF; "
             "PERFORM pg_sleep(0.05); "
             "END LOOP; END $$",
             mb);
    const char *const argv[] = {"/usr/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql,
                                NULL};
    spawn(loop, c, argv, STDERR_FILENO);
}

typedef struct sample {
    uint64_t at;
    pgrepl_lsn current, restart, confirmed;
} sample;

#define MAX_SAMPLES 2000

typedef struct run_stats {
    int n;
    sample s[MAX_SAMPLES];
    int64_t max_retained;
    int max_at;                /* sample index of max_retained */
    int64_t worst_confirm_gap; /* bytes confirmed_flush was behind the server 3 s before */
    int worst_gap_at;
    int n_commit;              /* transactions the application was handed */
} run_stats;

static pgrepl_lsn lsn_col(const PGresult *r, int col)
{
    pgrepl_lsn lsn = 0;
    ck_assert_msg(!PQgetisnull(r, 0, col), "column %d is NULL", col);
    ck_assert_int_eq(pgrepl_lsn_parse(PQgetvalue(r, 0, col), &lsn), 0);
    return lsn;
}

static void take_sample(ctx *t, PGconn *mon, const char *slot, run_stats *st)
{
    const char *params[1] = {slot};
    PGresult *r = PQexecParams(mon,
                               "SELECT pg_current_wal_lsn(), restart_lsn, confirmed_flush_lsn "
                               "FROM pg_replication_slots WHERE slot_name = $1",
                               1, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "sample: %s", PQerrorMessage(mon));
    ck_assert_int_lt(st->n, MAX_SAMPLES);
    sample *x = &st->s[st->n];
    x->at = now_ms(t);
    x->current = lsn_col(r, 0);
    x->restart = lsn_col(r, 1);
    x->confirmed = lsn_col(r, 2);
    PQclear(r);
    int64_t retained = (int64_t)(x->current - x->restart);
    if (retained > st->max_retained) {
        st->max_retained = retained;
        st->max_at = st->n;
    }
    /* the server's position CONFIRM_LAG_MS ago must be confirmed by now */
    for (int j = st->n - 1; j >= 0; j--) {
        if (st->s[j].at + CONFIRM_LAG_MS > x->at)
            continue;
        int64_t gap = st->s[j].current > x->confirmed ? (int64_t)(st->s[j].current - x->confirmed) : 0;
        if (gap > st->worst_confirm_gap) {
            st->worst_confirm_gap = gap;
            st->worst_gap_at = st->n;
        }
        break;
    }
    st->n++;
}

/* Churn mb of WAL on db while the stream runs; sample the slot until the churn ends. */
static void churn_run(ctx *t, const char *slot, const char *db, int mb, run_stats *st)
{
    char conninfo[512];
    ck_assert_int_eq(pgt_conninfo(&srv, NULL, conninfo, sizeof conninfo), 0);
    PGconn *mon = PQconnectdb(conninfo);
    ck_assert_msg(PQstatus(mon) == CONNECTION_OK, "%s", PQerrorMessage(mon));
    memset(st, 0, sizeof *st);
    child c;
    churn_start(&c, &t->loop, db, mb);
    uint64_t next = now_ms(t);
    uint64_t until = next + 600000;
    while (!c.exited && now_ms(t) < until) {
        if (now_ms(t) >= next) {
            take_sample(t, mon, slot, st);
            next += SAMPLE_MS;
        }
        uv_run(&t->loop, UV_RUN_ONCE);
    }
    take_sample(t, mon, slot, st);
    PQfinish(mon);
    ck_assert_msg(c.exited && c.status == 0 && c.term_signal == 0, "churn: exited %d, status %d, signal %d",
                  c.exited, (int)c.status, c.term_signal);
    int64_t written = (int64_t)(st->s[st->n - 1].current - st->s[0].current);
    ck_assert_msg(written >= (int64_t)mb * MB, "only %lld MB of WAL written", (long long)(written / MB));
}

static void print_stats(const char *what, const run_stats *st)
{
    const sample *first = &st->s[0], *last = &st->s[st->n - 1];
    printf("pg%d %s: %lld MB in %.1f s, %d samples, max retained %.1f MB, worst confirm gap %.1f MB\n", major,
           what, (long long)((int64_t)(last->current - first->current) / MB), (double)(last->at - first->at) / 1000,
           st->n, (double)st->max_retained / (double)MB, (double)st->worst_confirm_gap / (double)MB);
    fflush(stdout);
}

/*
 * One retention run: a fresh slot in quiet, the stream with or without
 * heartbeats (idle rule off either way), churn on db.
 */
static void retention_run(const char *slot, const char *db, bool heartbeats, int mb, run_stats *st)
{
    create_slot(slot);
    ctx t;
    ctx_init(&t, slot, heartbeats ? 200 : 0, NULL);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_deadline(t.s, 10000), 0);
    start_streaming(&t);
    if (heartbeats)
        RUN_UNTIL(&t, pgrepl_stream_heartbeat_lag_us(t.s) >= 0, 5000);
    churn_run(&t, slot, db, mb, st);
    char what[96];
    snprintf(what, sizeof what, "%s, churn in %s, heartbeats %s", slot, db, heartbeats ? "on" : "off");
    print_stats(what, st);
    st->n_commit = t.n_commit;
    ck_assert_msg(t.n_stream_error == 0 && t.n_hb_error == 0, "%s", t.err_message);
    ck_assert_int_eq(pgrepl_stream_get_state(t.s), PGREPL_STREAM_STREAMING);
    /* heartbeats are not the application's business */
    ck_assert_int_eq(t.n_message, 0);
    if (heartbeats) {
        ck_assert_int_ge(pgrepl_stream_heartbeat_lag_us(t.s), 0);
        ck_assert_int_lt(pgrepl_stream_heartbeat_lag_us(t.s), 10000000);
    } else {
        ck_assert_int_eq(pgrepl_stream_heartbeat_lag_us(t.s), -1);
    }
    ctx_fini(&t);
    drop_slot(slot);
}

static void assert_kept_moving(const run_stats *st)
{
    const sample *m = &st->s[st->max_at];
    char cur[PGREPL_LSN_BUFSIZE], rs[PGREPL_LSN_BUFSIZE];
    pgrepl_lsn_format(m->current, cur);
    pgrepl_lsn_format(m->restart, rs);
    ck_assert_msg(st->max_retained < RETAIN_LIMIT, "retained %.1f MB (current %s, restart_lsn %s) at sample %d",
                  (double)st->max_retained / (double)MB, cur, rs, st->max_at);
    ck_assert_msg(st->worst_confirm_gap == 0, "confirmed_flush_lsn %.1f MB behind the server of %d ms before, at "
                  "sample %d", (double)st->worst_confirm_gap / (double)MB, CONFIRM_LAG_MS, st->worst_gap_at);
}

static void assert_pinned(const run_stats *st, int mb)
{
    ck_assert_msg(st->max_retained > (int64_t)mb * MB, "retained only %.1f MB, expected more than %d MB",
                  (double)st->max_retained / (double)MB, mb);
}

/* ---- retention: busy writes in another database ------------------------------ */

START_TEST(other_database_heartbeats_keep_slot_moving)
{
    run_stats *st = malloc(sizeof *st);
    ck_assert_ptr_nonnull(st);
    retention_run("hb_other_on", "busy", true, wal_mb, st);
    assert_kept_moving(st);
    free(st);
}
END_TEST

START_TEST(other_database_without_heartbeats_pins_wal)
{
    run_stats *st = malloc(sizeof *st);
    ck_assert_ptr_nonnull(st);
    retention_run("hb_other_off", "busy", false, wal_mb / 2 + 32, st);
    assert_pinned(st, wal_mb / 2);
    free(st);
}
END_TEST

/* ---- retention: busy writes in unpublished tables of the same database --------- */

START_TEST(same_database_heartbeats_keep_slot_moving)
{
    run_stats *st = malloc(sizeof *st);
    ck_assert_ptr_nonnull(st);
    retention_run("hb_same_on", "quiet", true, wal_mb, st);
    assert_kept_moving(st);
    free(st);
}
END_TEST

/*
 * 14 sends every transaction, also one whose changes are all filtered out,
 * as an empty Begin/Commit (15 started skipping them): the application
 * acknowledges those, so on 14 the slot is not pinned even without
 * heartbeats. The cross-database run is 14's negative control.
 */
START_TEST(same_database_without_heartbeats_pins_wal)
{
    run_stats *st = malloc(sizeof *st);
    ck_assert_ptr_nonnull(st);
    retention_run("hb_same_off", "quiet", false, wal_mb / 2 + 32, st);
    if (major == 14) {
        ck_assert_int_gt(st->n_commit, 0);
        ck_assert_int_lt(st->max_retained, (int64_t)(wal_mb / 2) * MB);
    } else {
        ck_assert_int_eq(st->n_commit, 0);
        assert_pinned(st, wal_mb / 2);
    }
    free(st);
}
END_TEST

/* ---- the round trip ------------------------------------------------------------- */

/*
 * A slow consumer behind a backlog: the heartbeat is not reached within its
 * deadline, but the stream moves all along: "behind", not "stalled".
 */
START_TEST(backlog_is_behind_not_stalled)
{
    create_slot("hb_behind");
    /* 120 transactions of 100 rows: more than the socket holds, so the walsender cannot run ahead */
    for (int k = 0; k < 4; k++)
        exec("quiet",
             "DO $$ BEGIN FOR i IN 1..30 LOOP INSERT INTO pubt SELECT %d + i * 100 + g FROM generate_series(1, 100) g; "
             "COMMIT; END LOOP; END $$",
             1000000 * (k + 1));
    ctx t;
    ctx_init(&t, "hb_behind", 200, NULL);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_deadline(t.s, 1000), 0);
    t.commit_sleep_ms = 40;
    start_streaming(&t);
    RUN_UNTIL(&t, t.n_commit == 120, 30000);
    t.commit_sleep_ms = 0;
    ck_assert_int_ge(t.n_behind, 1);
    ck_assert_int_eq(t.n_stall, 0);
    ck_assert_msg(strstr(t.err_message, "stream behind") != NULL && strstr(t.err_message, "bytes short of it") != NULL,
                  "%s", t.err_message);
    ctx_fini(&t);
    drop_slot("hb_behind");
}
END_TEST

/* A walsender frozen with SIGSTOP: the socket stays open and silent; the heartbeat cannot be seen. */
START_TEST(stall_is_reported_within_the_deadline)
{
    const uint64_t interval = 200, deadline = 2000;
    create_slot("hb_stall");
    ctx t;
    ctx_init(&t, "hb_stall", interval, NULL);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_deadline(t.s, deadline), 0);
    start_streaming(&t);
    RUN_UNTIL(&t, pgrepl_stream_heartbeat_lag_us(t.s) >= 0, 5000);
    run_for(&t, 1000);
    ck_assert_int_eq(t.n_stall, 0);
    int pid = active_pid_of("hb_stall");
    ck_assert_int_gt(pid, 0);
    uint64_t stopped_at = now_ms(&t);
    ck_assert_int_eq(kill(pid, SIGSTOP), 0);
    /* the heartbeat in flight (or the next one, an interval later) misses its deadline */
    RUN_UNTIL(&t, t.n_stall > 0, deadline + interval + 2000);
    uint64_t took = t.stall_at - stopped_at;
    ck_assert_msg(took >= deadline - interval && took <= deadline + interval + 1000, "stall reported after %llu ms",
                  (unsigned long long)took);
    ck_assert_int_eq(t.hb_code, PGREPL_ESTALLED);
    ck_assert_msg(strstr(t.err_message, "stream stalled") != NULL, "%s", t.err_message);
    /* once per heartbeat: no new one is emitted while it is pending */
    run_for(&t, deadline + 500);
    ck_assert_int_eq(t.n_stall, 1);
    ck_assert_int_eq(kill(pid, SIGCONT), 0);
    /* thawed: the late heartbeat is seen, its lag tells how late */
    RUN_UNTIL(&t, pgrepl_stream_heartbeat_lag_us(t.s) >= (int64_t)(2 * deadline) * 1000, 5000);
    ck_assert_int_eq(t.n_stream_error, 0);
    ck_assert_int_eq(pgrepl_stream_get_state(t.s), PGREPL_STREAM_STREAMING);
    ctx_fini(&t);
    drop_slot("hb_stall");
}
END_TEST

/* A pause is the application's own silence: no stall, and the lag covers it. */
START_TEST(pause_is_not_a_stall)
{
    create_slot("hb_pause");
    ctx t;
    ctx_init(&t, "hb_pause", 200, NULL);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_deadline(t.s, 1000), 0);
    start_streaming(&t);
    RUN_UNTIL(&t, pgrepl_stream_heartbeat_lag_us(t.s) >= 0, 5000);
    ck_assert_int_eq(pgrepl_stream_pause(t.s), 0);
    run_for(&t, 3000);
    ck_assert_int_eq(t.n_stall, 0);
    ck_assert_int_lt(pgrepl_stream_heartbeat_lag_us(t.s), 1000000);
    ck_assert_int_eq(pgrepl_stream_resume(t.s), 0);
    /* the heartbeat emitted before the pause is seen after it */
    RUN_UNTIL(&t, pgrepl_stream_heartbeat_lag_us(t.s) >= 2000000, 3000);
    run_for(&t, 1500);
    ck_assert_int_eq(t.n_stall, 0);
    ck_assert_int_eq(t.n_hb_error + t.n_stream_error, 0);
    ctx_fini(&t);
    drop_slot("hb_pause");
}
END_TEST

static const char set_emit_acl[] =
    "DO $$ DECLARE f regprocedure; BEGIN "
    "FOR f IN SELECT oid::regprocedure FROM pg_proc WHERE proname = 'pg_logical_emit_message' LOOP "
    "EXECUTE format('%s EXECUTE ON FUNCTION %%s %s', f); END LOOP; END $$";

/*
 * The side connection's problems leave the stream streaming and are
 * retried: no EXECUTE on pg_logical_emit_message, then the heartbeat's
 * backend terminated.
 */
START_TEST(side_connection_errors_leave_the_stream_running)
{
    create_slot("hb_side");
    exec("quiet", set_emit_acl, "REVOKE", "FROM PUBLIC");
    ctx t;
    ctx_init(&t, "hb_side", 200, "user=hb_user");
    start_streaming(&t);
    RUN_UNTIL(&t, t.n_hb_error > 0, 5000);
    ck_assert_int_eq(t.hb_code, PGREPL_ESERVER);
    ck_assert_str_eq(t.hb_sqlstate, "42501");
    ck_assert_msg(strstr(t.err_message, "pg_logical_emit_message") != NULL, "%s", t.err_message);
    ck_assert_int_eq(pgrepl_stream_heartbeat_lag_us(t.s), -1);
    /* data still flows */
    exec("quiet", "INSERT INTO pubt VALUES (1)");
    RUN_UNTIL(&t, t.n_commit == 1, 5000);
    /* granted again: the retry (after 1 s, then 2 s) succeeds */
    exec("quiet", set_emit_acl, "GRANT", "TO PUBLIC");
    RUN_UNTIL(&t, pgrepl_stream_heartbeat_lag_us(t.s) >= 0, 6000);
    ck_assert_int_le(t.n_hb_error, 3);

    /* the heartbeat's backend goes away */
    int errors = t.n_hb_error;
    exec(NULL, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgrepl-heartbeat'");
    RUN_UNTIL(&t, t.n_hb_error > errors, 5000);
    ck_assert_int_eq(t.hb_code, PGREPL_ECONNLOST);
    /* it comes back on its own, and heartbeats flow again */
    char *out = NULL;
    for (int i = 0; i < 100; i++) {
        run_for(&t, 100);
        free(out);
        out = query(NULL, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgrepl-heartbeat'");
        if (strcmp(out, "1") == 0)
            break;
    }
    ck_assert_str_eq(out, "1");
    free(out);
    pgrepl_lsn before = confirmed_of("hb_side");
    run_for(&t, 1500);
    ck_assert_uint_gt(confirmed_of("hb_side"), before);
    ck_assert_int_eq(t.n_hb_error, errors + 1);
    ck_assert_int_eq(t.n_stream_error, 0);
    ctx_fini(&t);
    drop_slot("hb_side");
}
END_TEST

/*
 * Heartbeats confirm nothing the application has not acknowledged: with a
 * delivered, unacknowledged transaction, the slot stays before it however
 * many heartbeats pass; once acknowledged, heartbeats move it on.
 */
START_TEST(heartbeats_respect_unacknowledged_data)
{
    create_slot("hb_ledger");
    ctx t;
    ctx_init(&t, "hb_ledger", 200, NULL);
    ck_assert_int_eq(pgrepl_stream_set_auto_ack(t.s, false), 0);
    start_streaming(&t);
    RUN_UNTIL(&t, pgrepl_stream_heartbeat_lag_us(t.s) >= 0, 5000);
    RUN_UNTIL(&t, pgrepl_stream_reported_lsn(t.s) > 0, 3000);
    exec("quiet", "INSERT INTO pubt VALUES (2)");
    RUN_UNTIL(&t, t.n_commit == 1, 5000);
    pgrepl_lsn end = t.last_commit_end;
    run_for(&t, 2000);
    pgrepl_lsn confirmed = confirmed_of("hb_ledger");
    ck_assert_uint_lt(confirmed, end);
    ck_assert_uint_lt(pgrepl_stream_reported_lsn(t.s), end);
    ck_assert_uint_lt(pgrepl_stream_acked_lsn(t.s), end);
    ck_assert_int_eq(pgrepl_stream_ack(t.s, end), 0);
    RUN_UNTIL(&t, confirmed_of("hb_ledger") > end, 3000);
    ck_assert_int_eq(t.n_message, 0);
    ck_assert_int_eq(t.n_hb_error + t.n_stream_error, 0);
    ctx_fini(&t);
    drop_slot("hb_ledger");
}
END_TEST

/*
 * Asked for, heartbeats reach on_message: non-transactional, the prefix, a
 * sequence number and a time. The side connection is a normal one even
 * when the conninfo asks for replication (it uses the extended protocol,
 * which a replication connection refuses).
 */
START_TEST(heartbeats_delivered_on_request)
{
    create_slot("hb_deliver");
    ctx t;
    ctx_init(&t, "hb_deliver", 200, "replication=database");
    ck_assert_int_eq(pgrepl_stream_set_deliver_heartbeats(t.s, true), 0);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_prefix(t.s, "test.hb"), 0);
    start_streaming(&t);
    RUN_UNTIL(&t, t.n_message >= 2, 5000);
    ck_assert_str_eq(t.message_prefix, "test.hb");
    ck_assert(!t.message_transactional);
    ck_assert_msg(strncmp(t.message_content, "{\"seq\":", 7) == 0 && strstr(t.message_content, "\"sent\":\"") != NULL,
                  "%s", t.message_content);
    ck_assert_int_ge(pgrepl_stream_heartbeat_lag_us(t.s), 0);
    ck_assert_int_eq(t.n_hb_error + t.n_stream_error, 0);
    ctx_fini(&t);
    drop_slot("hb_deliver");
}
END_TEST

/* ---- pgrepl-stream ---------------------------------------------------------------- */

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static bool file_has(const char *path, const char *needle)
{
    const char *text = read_text(path);
    return text != NULL && strstr(text, needle) != NULL;
}

/* The value of metric name in the Prometheus file path, or -1. */
static double metric_of(const char *path, const char *name)
{
    const char *text = read_text(path);
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *at = text != NULL ? strstr(text, key) : NULL;
    return at != NULL ? strtod(at + strlen(key), NULL) : -1;
}

/*
 * --heartbeat-interval and --heartbeat-prefix reach the library, -v and the
 * metrics show the lag. The acknowledged position is what the server
 * confirmed, and on this quiet slot the lag in bytes stays small (it was
 * the absolute WAL position when only acknowledged commits counted). A message with the default prefix is now ordinary
 * data and printed; the CLI's own heartbeats (cli.hb) are not.
 */
START_TEST(cli_heartbeat_options_and_lag)
{
    create_slot("hb_cli");
    char conninfo[512], out[PGT_PATH_MAX + 16], err[PGT_PATH_MAX + 16], prom[PGT_PATH_MAX + 16];
    char metrics[PGT_PATH_MAX + 32];
    ck_assert_int_eq(pgt_conninfo(&srv, "quiet", conninfo, sizeof conninfo), 0);
    snprintf(out, sizeof out, "%s/cli.jsonl", srv.dir);
    snprintf(err, sizeof err, "%s/cli.err", srv.dir);
    snprintf(prom, sizeof prom, "%s/cli.prom", srv.dir);
    snprintf(metrics, sizeof metrics, "--metrics-file=%s", prom);
    const char *root = getenv("PGREPL_BUILD_ROOT");
    ck_assert_msg(root != NULL, "PGREPL_BUILD_ROOT is not set (run with meson test)");
    char tool[PGT_PATH_MAX * 2];
    snprintf(tool, sizeof tool, "%s/examples/pgrepl-stream", root);
    const char *const argv[] = {tool, "-d", conninfo, "-S", "hb_cli", "-P", "quiet_pub", "-f", out, "-s", "0.2",
                                "-v", "--messages", metrics, "--heartbeat-interval=0.2", "--heartbeat-prefix=cli.hb",
                                NULL};
    int efd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(efd, 0);
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    child p;
    spawn(&loop, &p, argv, efd);
    close(efd);
    exec("quiet", "SELECT 1 FROM pg_logical_emit_message(false, 'pgrepl.heartbeat', 'not ours')");
    bool shown = false;
    for (int i = 0; i < 200 && !shown && !p.exited; i++) {
        uv_sleep(50);
        uv_run(&loop, UV_RUN_NOWAIT);
        shown = file_has(prom, "pgrepl_stream_heartbeat_lag_seconds 0.") && file_has(err, "heartbeat lag 0.") &&
                file_has(out, "not ours") && metric_of(prom, "pgrepl_stream_acknowledged_lsn_bytes") > 0 &&
                metric_of(prom, "pgrepl_stream_lag_bytes") >= 0 && metric_of(prom, "pgrepl_stream_lag_bytes") < 65536;
    }
    ck_assert_int_eq(uv_process_kill(&p.proc, SIGTERM), 0);
    for (int i = 0; i < 200 && !p.exited; i++) {
        uv_sleep(50);
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    ck_assert_msg(shown, "metrics:\n%s", read_text(prom));
    ck_assert_msg(p.exited && p.status == 0, "pgrepl-stream exited %d:\n%s", (int)p.status, read_text(err));
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_msg(!file_has(out, "cli.hb"), "%s", read_text(out));
    ck_assert_msg(!file_has(err, "heartbeat: "), "%s", read_text(err));
    drop_slot("hb_cli");
}
END_TEST

static Suite *heartbeat_suite(void)
{
    Suite *s = suite_create("heartbeat");
    TCase *rt = tcase_create("round trip");
    tcase_add_unchecked_fixture(rt, setup, teardown);
    tcase_set_timeout(rt, 60);
    tcase_add_test(rt, heartbeats_delivered_on_request);
    tcase_add_test(rt, heartbeats_respect_unacknowledged_data);
    tcase_add_test(rt, stall_is_reported_within_the_deadline);
    tcase_add_test(rt, backlog_is_behind_not_stalled);
    tcase_add_test(rt, pause_is_not_a_stall);
    tcase_add_test(rt, side_connection_errors_leave_the_stream_running);
    tcase_add_test(rt, cli_heartbeat_options_and_lag);
    suite_add_tcase(s, rt);
    TCase *ret = tcase_create("retention");
    tcase_add_unchecked_fixture(ret, setup, teardown);
    tcase_set_timeout(ret, 300);
    tcase_add_test(ret, other_database_heartbeats_keep_slot_moving);
    tcase_add_test(ret, other_database_without_heartbeats_pins_wal);
    tcase_add_test(ret, same_database_heartbeats_keep_slot_moving);
    tcase_add_test(ret, same_database_without_heartbeats_pins_wal);
    suite_add_tcase(s, ret);
    return s;
}

int main(int argc, char **argv)
{
    major = pgt_major_from_args(argc, argv);
    const char *mb = getenv("PGREPL_HEARTBEAT_WAL_MB");
    wal_mb = mb != NULL && *mb != '\0' ? atoi(mb) : 512;
    if (wal_mb < 128) {
        fprintf(stderr, "PGREPL_HEARTBEAT_WAL_MB must be at least 128 (got \"%s\")\n", mb);
        return EXIT_FAILURE;
    }
    return pgrepl_test_run_suite(heartbeat_suite());
}
