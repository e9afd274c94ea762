/*
 * The replication stream on libuv against a real server of the major given
 * as argv[1]: content of every callback, acknowledgement and the slot's
 * confirmed_flush_lsn, the idle rule, pause, keepalive replies, stopping in
 * the middle of a transaction, slot commands, errors, and closing from
 * inside callbacks. Every test ends with uv_loop_close() returning 0.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "harness.h"
#include "pgrepl/uv.h"
#include "testutil.h"

static int major;
static pgt_server srv;
static char hba_path[64];
/* TCP with SSL (and only with SSL) on a loopback address of this run's own: 127.x.y.1 */
static char ssl_addr[32];

/*
 * The server prints values differently from the defaults in every setting
 * the stream pins, so the tests see whether pinning reaches pgoutput. It
 * also takes SSL connections over TCP, the one path where libpq reads the
 * copy (streams_over_ssl); everything else connects over the Unix socket.
 */
static void setup(void)
{
    unsigned pid = (unsigned)getpid();
    snprintf(ssl_addr, sizeof ssl_addr, "127.%u.%u.1", (pid >> 8) & 0xff, pid & 0xff);
    ck_assert_int_eq(pgt_write_temp("/tmp/pgrepl-stream-hba-XXXXXX", hba_path, sizeof hba_path,
                                    "local all all trust\nhostssl all all 127.0.0.0/8 trust\n"),
                     0);
    char hba_setting[96], listen_setting[64];
    snprintf(hba_setting, sizeof hba_setting, "hba_file=%s", hba_path);
    snprintf(listen_setting, sizeof listen_setting, "listen_addresses=%s", ssl_addr);
    const char *const settings[] = {"timezone=America/New_York",
                                    "DateStyle=SQL, DMY",
                                    "IntervalStyle=sql_standard",
                                    "extra_float_digits=0",
                                    "bytea_output=escape",
                                    "ssl=on",
                                    listen_setting,
                                    hba_setting,
                                    NULL};
    ck_assert_msg(pgt_server_start(&srv, major, settings) == 0, "PostgreSQL %d did not start: %s", major, srv.errmsg);
}

static void teardown(void)
{
    pgt_server_stop(&srv);
    unlink(hba_path);
}

/* ---- SQL through psql ---------------------------------------------------- */

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

static pgrepl_lsn query_lsn(const char *db, const char *sql)
{
    char *out = query(db, sql);
    pgrepl_lsn lsn = 0;
    ck_assert_msg(pgrepl_lsn_parse(out, &lsn) == 0, "not an LSN: \"%s\" from %s", out, sql);
    free(out);
    return lsn;
}

static pgrepl_lsn confirmed_of(const char *slot)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '%s'", slot);
    return query_lsn(NULL, sql);
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

static void create_slot_sql(const char *slot)
{
    exec(NULL, "SELECT 1 FROM pg_create_logical_replication_slot('%s', 'pgoutput')", slot);
}

/* The walsender leaves a moment after its connection closed. */
static void wait_inactive(const char *slot)
{
    for (int i = 0; i < 100 && active_pid_of(slot) != 0; i++)
        uv_sleep(50);
    ck_assert_int_eq(active_pid_of(slot), 0);
}

static void drop_slot_sql(const char *slot)
{
    wait_inactive(slot);
    exec(NULL, "SELECT pg_drop_replication_slot('%s')", slot);
}

static const char *lsn_str(pgrepl_lsn lsn, char buf[PGREPL_LSN_BUFSIZE])
{
    pgrepl_lsn_format(lsn, buf);
    return buf;
}

/* ---- what the callbacks saw ------------------------------------------------ */

#define MAX_UNITS 64
#define MAX_KEEPALIVES 512

typedef struct ctx {
    uv_loop_t loop;
    uv_timer_t wake;
    pgrepl_stream *s;
    bool closing;
    int n_closed;

    char log[16384];
    size_t loglen;
    int n_begin, n_commit, n_insert, n_update, n_delete, n_truncate, n_message, n_relation;
    pgrepl_msg_begin begins[MAX_UNITS];
    pgrepl_lsn reported_at_begin[MAX_UNITS];
    pgrepl_msg_commit commits[MAX_UNITS];
    pgrepl_msg_logical messages[MAX_UNITS];
    uint32_t xact_xid;
    int xid_mismatches;

    int n_keepalive, n_reply_requested, n_replies;
    pgrepl_lsn keepalive_ends[MAX_KEEPALIVES];
    uint64_t reply_requested_at;
    uint64_t max_reply_ms;
    int n_status;
    pgrepl_lsn last_flush;

    char states[256];
    int n_error;
    int err_code;
    unsigned err_attempt;
    bool err_fatal;
    bool err_server;
    char err_message[512];
    char err_sqlstate[6];
    int n_notice;
    char notice_severity[16];
    char notice_sqlstate[6];
    char notice_message[256];

    bool no_log;       /* count only: too many changes for the log */

    int n_start;       /* on_start */
    pgrepl_start_info start;
    int sleep_in_created_ms; /* block the loop inside the slot-created callback */

    /* actions taken from inside callbacks */
    int stop_at_insert;
    int close_at_insert;
    int fail_at_insert;
    bool close_on_streaming;
} ctx;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void logf_(ctx *t, const char *fmt, ...)
{
    if (t->no_log)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->log + t->loglen, sizeof t->log - t->loglen, fmt, ap);
    va_end(ap);
    ck_assert(n >= 0 && (size_t)n < sizeof t->log - t->loglen);
    t->loglen += (size_t)n;
}

static void log_tuple(ctx *t, char kind, const pgrepl_tuple *tu)
{
    logf_(t, " %c(", kind);
    for (int i = 0; i < tu->ncolumns; i++) {
        const pgrepl_value *v = &tu->values[i];
        if (i > 0)
            logf_(t, "|");
        if (v->kind == PGREPL_VALUE_TEXT && v->len > 256)
            logf_(t, "%.16s...(%u bytes)", (const char *)v->data, (unsigned)v->len);
        else if (v->kind == PGREPL_VALUE_TEXT)
            logf_(t, "%.*s", (int)v->len, (const char *)v->data);
        else
            logf_(t, "%c", v->kind);
    }
    logf_(t, ")");
}

static void log_change(ctx *t, const char *what, const pgrepl_msg_change *m)
{
    logf_(t, "%s %s.%s", what, m->rel->schema, m->rel->name);
    if (m->old_tuple != NULL)
        log_tuple(t, m->old_kind, m->old_tuple);
    if (m->new_tuple != NULL)
        log_tuple(t, 'N', m->new_tuple);
    logf_(t, "\n");
    if (m->xid != t->xact_xid)
        t->xid_mismatches++;
}

static uint64_t now_ms(ctx *t)
{
    uv_update_time(&t->loop);
    return uv_now(&t->loop);
}

static void on_stream_closed(pgrepl_stream *s)
{
    ctx *t = pgrepl_stream_get_data(s);
    t->n_closed++;
    t->s = NULL;
}

static void close_stream(ctx *t)
{
    if (t->closing)
        return;
    t->closing = true;
    ck_assert_int_eq(pgrepl_stream_close(t->s, on_stream_closed), 0);
    /* a second close is ignored */
    ck_assert_int_eq(pgrepl_stream_close(t->s, on_stream_closed), 0);
}

static int cb_begin(void *ud, const pgrepl_msg_begin *m)
{
    ctx *t = ud;
    ck_assert_int_lt(t->n_begin, MAX_UNITS);
    t->reported_at_begin[t->n_begin] = pgrepl_stream_reported_lsn(t->s);
    t->begins[t->n_begin++] = *m;
    t->xact_xid = m->xid;
    logf_(t, "B\n");
    return 0;
}

static int cb_commit(void *ud, const pgrepl_msg_commit *m)
{
    ctx *t = ud;
    ck_assert_int_lt(t->n_commit, MAX_UNITS);
    t->commits[t->n_commit++] = *m;
    logf_(t, "C\n");
    return 0;
}

static int cb_relation(void *ud, const pgrepl_relation *rel)
{
    ctx *t = ud;
    t->n_relation++;
    logf_(t, "R %s.%s %d\n", rel->schema, rel->name, rel->ncolumns);
    return 0;
}

static int cb_insert(void *ud, const pgrepl_msg_change *m)
{
    ctx *t = ud;
    t->n_insert++;
    log_change(t, "I", m);
    if (t->n_insert == t->stop_at_insert)
        ck_assert_int_eq(pgrepl_stream_stop_replication(t->s), 0);
    if (t->n_insert == t->close_at_insert)
        close_stream(t);
    return t->n_insert == t->fail_at_insert ? -1 : 0;
}

static int cb_update(void *ud, const pgrepl_msg_change *m)
{
    ctx *t = ud;
    t->n_update++;
    log_change(t, "U", m);
    return 0;
}

static int cb_delete(void *ud, const pgrepl_msg_change *m)
{
    ctx *t = ud;
    t->n_delete++;
    log_change(t, "D", m);
    return 0;
}

static int cb_truncate(void *ud, const pgrepl_msg_truncate *m)
{
    ctx *t = ud;
    t->n_truncate++;
    logf_(t, "T %d", m->options);
    for (int i = 0; i < m->nrelations; i++)
        logf_(t, " %s.%s", m->relations[i]->schema, m->relations[i]->name);
    logf_(t, "\n");
    if (m->xid != t->xact_xid)
        t->xid_mismatches++;
    return 0;
}

static int cb_message(void *ud, const pgrepl_msg_logical *m)
{
    ctx *t = ud;
    ck_assert_int_lt(t->n_message, MAX_UNITS);
    t->messages[t->n_message++] = *m;
    logf_(t, "M %d %s %.*s\n", m->transactional, m->prefix, (int)m->content_len, (const char *)m->content);
    return 0;
}

static void cb_state(pgrepl_stream *s, pgrepl_stream_state state)
{
    ctx *t = pgrepl_stream_get_data(s);
    ck_assert_int_eq(pgrepl_stream_get_state(s), state);
    size_t n = strlen(t->states);
    snprintf(t->states + n, sizeof t->states - n, "%s%s", n ? "," : "", pgrepl_stream_state_name(state));
    if (state == PGREPL_STREAM_STREAMING && t->close_on_streaming)
        close_stream(t);
}

static void cb_error(pgrepl_stream *s, const pgrepl_error *err)
{
    ctx *t = pgrepl_stream_get_data(s);
    ck_assert_int_eq(pgrepl_stream_get_state(s), err->retrying ? PGREPL_STREAM_RECONNECTING : PGREPL_STREAM_STOPPED);
    t->n_error++;
    t->err_code = err->code;
    t->err_attempt = err->attempt;
    t->err_fatal = err->fatal;
    t->err_server = err->server != NULL;
    snprintf(t->err_message, sizeof t->err_message, "%s", err->message);
    snprintf(t->err_sqlstate, sizeof t->err_sqlstate, "%s", err->server ? err->server->sqlstate : "");
    ck_assert_ptr_null(strchr(err->message, '\n'));
    ck_assert_str_eq(err->message, pgrepl_stream_errmsg(s));
}

static void cb_notice(pgrepl_stream *s, const pgrepl_server_message *m)
{
    ctx *t = pgrepl_stream_get_data(s);
    t->n_notice++;
    snprintf(t->notice_severity, sizeof t->notice_severity, "%s", m->severity);
    snprintf(t->notice_sqlstate, sizeof t->notice_sqlstate, "%s", m->sqlstate);
    snprintf(t->notice_message, sizeof t->notice_message, "%s", m->message);
}

static void cb_keepalive(pgrepl_stream *s, pgrepl_lsn wal_end, pgrepl_timestamp send_time, bool reply_requested)
{
    ctx *t = pgrepl_stream_get_data(s);
    ck_assert_int_gt(send_time, 0);
    if (t->n_keepalive < MAX_KEEPALIVES)
        t->keepalive_ends[t->n_keepalive] = wal_end;
    t->n_keepalive++;
    ck_assert_uint_ge(pgrepl_stream_received_lsn(s), wal_end);
    if (reply_requested) {
        t->n_reply_requested++;
        t->reply_requested_at = now_ms(t);
    }
}

static void cb_status_sent(pgrepl_stream *s, pgrepl_lsn write, pgrepl_lsn flush)
{
    ctx *t = pgrepl_stream_get_data(s);
    ck_assert_uint_ge(write, flush);
    ck_assert_uint_ge(flush, t->last_flush); /* never backwards */
    ck_assert_uint_le(write, pgrepl_stream_received_lsn(s));
    t->n_status++;
    t->last_flush = flush;
    if (t->reply_requested_at != 0) {
        uint64_t ms = now_ms(t) - t->reply_requested_at;
        if (ms > t->max_reply_ms)
            t->max_reply_ms = ms;
        t->n_replies++;
        t->reply_requested_at = 0;
    }
}

static void cb_start(pgrepl_stream *s, const pgrepl_start_info *in)
{
    ctx *t = pgrepl_stream_get_data(s);
    ck_assert_int_eq(pgrepl_stream_get_state(s), PGREPL_STREAM_CONNECTING);
    ck_assert_uint_eq(in->connection, (unsigned)t->n_start + 1);
    ck_assert_str_eq(in->system_id, pgrepl_stream_system_id(s));
    ck_assert_uint_ge(in->server_wal, in->requested);
    ck_assert(in->skipped_to == 0 || (in->skipped_from == in->held && in->skipped_to == in->slot_confirmed));
    t->n_start++;
    t->start = *in;
    t->start.system_id = NULL;
}

static const pgrepl_decoder_callbacks dcb = {
    .on_begin = cb_begin,
    .on_commit = cb_commit,
    .on_relation = cb_relation,
    .on_insert = cb_insert,
    .on_update = cb_update,
    .on_delete = cb_delete,
    .on_truncate = cb_truncate,
    .on_message = cb_message,
};

static const pgrepl_stream_callbacks scb = {
    .on_state = cb_state,
    .on_notice = cb_notice,
    .on_error = cb_error,
    .on_keepalive = cb_keepalive,
    .on_status_sent = cb_status_sent,
    .on_start = cb_start,
};

static void on_wake(uv_timer_t *h)
{
    (void)h;
}

/* A loop and a stream on database postgres (extra: more conninfo, or NULL). */
static void ctx_init(ctx *t, const char *extra)
{
    memset(t, 0, sizeof *t);
    ck_assert_int_eq(uv_loop_init(&t->loop), 0);
    /* wakes uv_run(UV_RUN_ONCE) so that the waits below can time out */
    ck_assert_int_eq(uv_timer_init(&t->loop, &t->wake), 0);
    ck_assert_int_eq(uv_timer_start(&t->wake, on_wake, 20, 20), 0);
    t->s = pgrepl_stream_new(&t->loop);
    ck_assert_ptr_nonnull(t->s);
    char conninfo[sizeof srv.conninfo + 256];
    snprintf(conninfo, sizeof conninfo, "%s %s", srv.conninfo, extra != NULL ? extra : "");
    ck_assert_int_eq(pgrepl_stream_set_conninfo(t->s, conninfo), 0);
    ck_assert_int_eq(pgrepl_stream_set_callbacks(t->s, &dcb, sizeof dcb, &scb, sizeof scb), 0);
    /* each test here looks at one failure: reconnection is tested in test_faults.c */
    ck_assert_int_eq(pgrepl_stream_set_reconnect(t->s, 0, 0), 0);
    pgrepl_stream_set_data(t->s, t);
    ck_assert_ptr_eq(pgrepl_stream_get_data(t->s), t);
    ck_assert_ptr_eq(pgrepl_stream_loop(t->s), &t->loop);
}

static void set_source(ctx *t, const char *slot, const char *pub)
{
    ck_assert_int_eq(pgrepl_stream_set_slot(t->s, slot), 0);
    ck_assert_int_eq(pgrepl_stream_add_publication(t->s, pub), 0);
}

static void run_for(ctx *t, uint64_t ms)
{
    uint64_t until = now_ms(t) + ms;
    while (now_ms(t) < until)
        uv_run(&t->loop, UV_RUN_ONCE);
}

#define RUN_UNTIL(t, cond, ms)                                                                                        \
    do {                                                                                                              \
        uint64_t until_ = now_ms(t) + (ms);                                                                           \
        while (!(cond) && now_ms(t) < until_)                                                                         \
            uv_run(&(t)->loop, UV_RUN_ONCE);                                                                          \
        ck_assert_msg((cond), "waited %d ms for %s; states %s; %d errors, last: %s", (int)(ms), #cond, (t)->states,  \
                      (t)->n_error, (t)->err_message);                                                                \
    } while (0)

#define STATE(t) ((t)->s != NULL ? pgrepl_stream_get_state((t)->s) : PGREPL_STREAM_CLOSING)

/* Close the stream unless a callback did, wait for close_cb, then the loop must close cleanly. */
static void ctx_fini(ctx *t)
{
    if (t->s != NULL)
        close_stream(t);
    RUN_UNTIL(t, t->n_closed > 0, 10000);
    uv_close((uv_handle_t *)&t->wake, NULL);
    ck_assert_int_eq(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(t->n_closed, 1);
    ck_assert_int_eq(uv_loop_close(&t->loop), 0);
}

static void start_streaming(ctx *t)
{
    ck_assert_int_eq(pgrepl_stream_start_replication(t->s), 0);
    RUN_UNTIL(t, STATE(t) == PGREPL_STREAM_STREAMING, 15000);
}

static bool seen_keepalive_end(const ctx *t, pgrepl_lsn lsn)
{
    for (int i = 0; i < t->n_keepalive && i < MAX_KEEPALIVES; i++)
        if (t->keepalive_ends[i] == lsn)
            return true;
    return false;
}

/* ---- 1. content of every callback ----------------------------------------- */

START_TEST(workload_content)
{
    exec(NULL, "CREATE TABLE w_t (id int PRIMARY KEY, name text, ts timestamptz, d date, iv interval, f float8, b "
               "bytea);\n"
               "CREATE TABLE w_u (k int, v text);\n"
               "ALTER TABLE w_u REPLICA IDENTITY FULL;\n"
               "CREATE PUBLICATION w_pub FOR TABLE w_t, w_u;");
    create_slot_sql("w_slot");
    ctx t;
    ctx_init(&t, NULL);
    set_source(&t, "w_slot", "w_pub");
    ck_assert_int_eq(pgrepl_stream_set_messages(t.s, true), 0);
    start_streaming(&t);
    ck_assert_str_eq(t.states, "connecting,streaming");

    /* what IDENTIFY_SYSTEM, SHOW and the negotiation said */
    ck_assert_int_eq(pgrepl_stream_server_version(t.s) / 10000, major);
    ck_assert_int_eq(pgrepl_stream_proto_version(t.s), major == 14 ? 2 : major == 15 ? 3 : 4);
    ck_assert_uint_eq(pgrepl_stream_wal_sender_timeout_ms(t.s), 60000);
    ck_assert_uint_eq(pgrepl_stream_timeline(t.s), 1);
    ck_assert_uint_gt(pgrepl_stream_server_xlogpos(t.s), 0);
    char *sysid = query(NULL, "SELECT system_identifier FROM pg_control_system()");
    ck_assert_str_eq(pgrepl_stream_system_id(t.s), sysid);
    free(sysid);

    exec(NULL, "BEGIN;\n"
               "INSERT INTO w_t VALUES (1, 'alice', '2024-01-02 03:04:05+00', '2024-01-02', '1 day 2 hours', "
               "1/3.0::float8, '\\x0102');\n"
               "INSERT INTO w_t (id, name) VALUES (2, 'bob');\n"
               "COMMIT;\n"
               "BEGIN;\n"
               "UPDATE w_t SET name = 'carol' WHERE id = 1;\n"
               "UPDATE w_t SET id = 3 WHERE id = 2;\n"
               "DELETE FROM w_t WHERE id = 3;\n"
               "INSERT INTO w_u VALUES (1, 'x');\n"
               "UPDATE w_u SET v = 'y';\n"
               "DELETE FROM w_u;\n"
               "SELECT 1 FROM pg_logical_emit_message(true, 'w_tx', 'in tx');\n"
               "COMMIT;\n"
               "SELECT 1 FROM pg_logical_emit_message(false, 'w_ntx', 'outside');\n"
               "TRUNCATE w_u;");
    RUN_UNTIL(&t, t.n_commit == 3 && t.n_message == 2, 10000);
    /* the server prints DMY dates, New York time, sql_standard intervals, 15 digits and escaped bytea;
     * the stream's session must not */
    const char *row1 = "1|alice|2024-01-02 03:04:05+00|2024-01-02|1 day 02:00:00|0.3333333333333333|\\x0102";
    char want[4096];
    snprintf(want, sizeof want,
             "B\n"
             "R public.w_t 7\n"
             "I public.w_t N(%s)\n"
             "I public.w_t N(2|bob|n|n|n|n|n)\n"
             "C\n"
             "B\n"
             "U public.w_t N(1|carol|2024-01-02 03:04:05+00|2024-01-02|1 day 02:00:00|0.3333333333333333|\\x0102)\n"
             "U public.w_t K(2|n|n|n|n|n|n) N(3|bob|n|n|n|n|n)\n"
             "D public.w_t K(3|n|n|n|n|n|n)\n"
             "R public.w_u 2\n"
             "I public.w_u N(1|x)\n"
             "U public.w_u O(1|x) N(1|y)\n"
             "D public.w_u O(1|y)\n"
             "M 1 w_tx in tx\n"
             "C\n"
             "M 0 w_ntx outside\n"
             "B\n"
             "R public.w_u 2\n"
             "T 0 public.w_u\n"
             "C\n",
             row1);
    ck_assert_str_eq(t.log, want);
    ck_assert_int_eq(t.xid_mismatches, 0);

    /* LSNs: Begin names its Commit, Commit's header is its end, units ascend, the message sits between */
    for (int i = 0; i < 3; i++) {
        const pgrepl_msg_commit *c = &t.commits[i];
        ck_assert_uint_eq(t.begins[i].final_lsn, c->commit_lsn);
        ck_assert_uint_eq(t.begins[i].xid, c->xid);
        ck_assert_uint_ne(c->xid, 0);
        ck_assert_uint_gt(c->end_lsn, c->commit_lsn);
        ck_assert_uint_eq(c->wal.start, c->end_lsn);
        ck_assert_int_eq(c->commit_time, t.begins[i].commit_time);
        if (i > 0) {
            ck_assert_uint_gt(c->commit_lsn, t.commits[i - 1].end_lsn);
            ck_assert_uint_gt(c->xid, t.commits[i - 1].xid);
        }
    }
    ck_assert_uint_gt(t.messages[0].lsn, t.begins[1].wal.start);
    ck_assert_uint_le(t.messages[0].lsn, t.commits[1].commit_lsn);
    ck_assert_uint_gt(t.messages[1].lsn, t.commits[1].end_lsn);
    ck_assert_uint_lt(t.messages[1].lsn, t.commits[2].commit_lsn);
    ck_assert_uint_ge(pgrepl_stream_received_lsn(t.s), t.commits[2].end_lsn);
    /* nothing was acknowledged: nothing is reported beyond the start */
    ck_assert_uint_eq(pgrepl_stream_acked_lsn(t.s), 0);
    ck_assert_uint_lt(pgrepl_stream_reported_lsn(t.s), t.commits[0].commit_lsn);
    ctx_fini(&t);
}
END_TEST

/* ---- 2. the slot moves exactly to what was acknowledged ------------------------- */

START_TEST(ack_controls_confirmed_flush)
{
    exec(NULL, "CREATE TABLE a_t (id int PRIMARY KEY);\n"
               "CREATE PUBLICATION a_pub FOR TABLE a_t;");
    create_slot_sql("a_slot");
    ctx t;
    ctx_init(&t, NULL);
    set_source(&t, "a_slot", "a_pub");
    ck_assert_int_eq(pgrepl_stream_set_status_interval(t.s, 100), 0);
    start_streaming(&t);
    exec(NULL, "INSERT INTO a_t VALUES (1); INSERT INTO a_t VALUES (2);\n"
               "INSERT INTO a_t VALUES (3); INSERT INTO a_t VALUES (4);");
    RUN_UNTIL(&t, t.n_commit == 4, 10000);
    char b1[PGREPL_LSN_BUFSIZE], b2[PGREPL_LSN_BUFSIZE];
    pgrepl_lsn a_end = t.commits[0].end_lsn, c_end = t.commits[2].end_lsn;
    ck_assert_int_eq(pgrepl_stream_ack(t.s, a_end), 0);
    ck_assert_uint_eq(pgrepl_stream_acked_lsn(t.s), a_end);
    /* stays exactly at A while more arrives and status updates keep flowing */
    for (int round = 0; round < 4; round++) {
        int status_before = t.n_status;
        exec(NULL, "INSERT INTO a_t VALUES (%d)", 10 + round);
        RUN_UNTIL(&t, t.n_commit == 5 + round && t.n_status > status_before + 1, 5000);
        pgrepl_lsn confirmed = confirmed_of("a_slot");
        ck_assert_msg(confirmed == a_end, "round %d: confirmed %s, acknowledged %s", round, lsn_str(confirmed, b1),
                      lsn_str(a_end, b2));
    }
    ck_assert_uint_eq(pgrepl_stream_reported_lsn(t.s), a_end);
    /* acknowledgements never go backwards */
    ck_assert_int_eq(pgrepl_stream_ack(t.s, a_end - 1), 0);
    ck_assert_uint_eq(pgrepl_stream_acked_lsn(t.s), a_end);
    /* D and later are delivered and not acknowledged: the slot goes to C exactly, not beyond */
    ck_assert_int_eq(pgrepl_stream_ack(t.s, c_end), 0);
    RUN_UNTIL(&t, pgrepl_stream_reported_lsn(t.s) == c_end, 5000);
    RUN_UNTIL(&t, confirmed_of("a_slot") == c_end, 2000);
    run_for(&t, 300);
    pgrepl_lsn confirmed = confirmed_of("a_slot");
    ck_assert_msg(confirmed == c_end, "confirmed %s, acknowledged %s", lsn_str(confirmed, b1), lsn_str(c_end, b2));
    /* and an acknowledgement above what was received is clamped to it */
    pgrepl_lsn received = pgrepl_stream_received_lsn(t.s);
    ck_assert_int_eq(pgrepl_stream_ack(t.s, received + 0x1000000), 0);
    ck_assert_uint_eq(pgrepl_stream_acked_lsn(t.s), received);
    ctx_fini(&t);
}
END_TEST

/* ---- 3. a quiet slot follows keepalives while another database writes ---------- */

START_TEST(idle_slot_follows_keepalives)
{
    exec(NULL, "CREATE TABLE i_t (id int);\n"
               "CREATE PUBLICATION i_pub FOR TABLE i_t;\n"
               "CREATE DATABASE i_other;");
    exec("i_other", "CREATE TABLE busy (id int)");
    create_slot_sql("i_slot");
    pgrepl_lsn created = confirmed_of("i_slot");
    const uint64_t interval = 500;
    ctx t;
    ctx_init(&t, NULL);
    set_source(&t, "i_slot", "i_pub");
    ck_assert_int_eq(pgrepl_stream_set_status_interval(t.s, interval), 0);
    start_streaming(&t);
    RUN_UNTIL(&t, t.n_status > 0, 5000);
    for (int round = 0; round < 3; round++) {
        exec("i_other", "INSERT INTO busy SELECT generate_series(1, 100)");
        pgrepl_lsn server = query_lsn("i_other", "SELECT pg_current_wal_lsn()");
        uint64_t t0 = now_ms(&t);
        RUN_UNTIL(&t, pgrepl_stream_reported_lsn(t.s) >= server, interval + 1000);
        ck_assert_uint_le(now_ms(&t) - t0, interval + 1000);
        RUN_UNTIL(&t, confirmed_of("i_slot") >= server, 1000);
        pgrepl_lsn confirmed = confirmed_of("i_slot");
        /* only the idle rule can have moved it: nothing was delivered or acknowledged,
         * and what was confirmed is a keepalive's walEnd */
        ck_assert_int_eq(t.n_begin + t.n_commit + t.n_insert, 0);
        ck_assert_uint_eq(pgrepl_stream_acked_lsn(t.s), 0);
        ck_assert(seen_keepalive_end(&t, confirmed));
    }
    ck_assert_uint_gt(confirmed_of("i_slot"), created);
    ctx_fini(&t);
}
END_TEST

/* ---- 4. pausing longer than wal_sender_timeout ------------------------------------ */

START_TEST(pause_longer_than_sender_timeout)
{
    exec(NULL, "CREATE TABLE p_t (id int PRIMARY KEY);\n"
               "CREATE PUBLICATION p_pub FOR TABLE p_t;");
    create_slot_sql("p_slot");
    ctx t;
    /* wal_sender_timeout is settable per connection: 4 s for this one only */
    ctx_init(&t, "options='-c wal_sender_timeout=4s'");
    set_source(&t, "p_slot", "p_pub");
    start_streaming(&t);
    ck_assert_uint_eq(pgrepl_stream_wal_sender_timeout_ms(t.s), 4000);
    int pid = active_pid_of("p_slot");
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(pgrepl_stream_pause(t.s), 0);
    exec(NULL, "INSERT INTO p_t VALUES (1); INSERT INTO p_t VALUES (2);");
    int status_before = t.n_status;
    run_for(&t, 6500);
    ck_assert_int_eq(t.n_insert, 0);
    ck_assert_int_eq(t.n_error, 0);
    ck_assert_int_eq(STATE(&t), PGREPL_STREAM_STREAMING);
    /* the default 10 s interval was capped at half of the 4 s timeout */
    ck_assert_int_ge(t.n_status - status_before, 3);
    ck_assert_int_eq(pgrepl_stream_resume(t.s), 0);
    RUN_UNTIL(&t, t.n_commit == 2, 3000);
    ck_assert_int_eq(t.n_insert, 2);
    ck_assert_int_eq(active_pid_of("p_slot"), pid);
    ck_assert_int_eq(t.n_error, 0);
    ctx_fini(&t);
}
END_TEST

/* A pause asked for by a callback's return value takes effect after that message. */
static int pause_on_insert(void *ud, const pgrepl_msg_change *m)
{
    (void)m;
    ctx *t = ud;
    t->n_insert++;
    return PGREPL_PAUSE;
}

START_TEST(pause_from_callback_return)
{
    exec(NULL, "CREATE TABLE q_t (id int PRIMARY KEY);\n"
               "CREATE PUBLICATION q_pub FOR TABLE q_t;");
    create_slot_sql("q_slot");
    ctx t;
    ctx_init(&t, NULL);
    pgrepl_decoder_callbacks d = dcb;
    d.on_insert = pause_on_insert;
    ck_assert_int_eq(pgrepl_stream_set_callbacks(t.s, &d, sizeof d, &scb, sizeof scb), 0);
    set_source(&t, "q_slot", "q_pub");
    start_streaming(&t);
    exec(NULL, "INSERT INTO q_t SELECT generate_series(1, 3)");
    RUN_UNTIL(&t, t.n_insert == 1, 5000);
    run_for(&t, 300);
    ck_assert_int_eq(t.n_insert, 1);
    for (int i = 2; i <= 3; i++) {
        ck_assert_int_eq(pgrepl_stream_resume(t.s), 0);
        /* whether libpq already buffered the rest or the socket holds it, resume delivers it */
        RUN_UNTIL(&t, t.n_insert == i, 2000);
    }
    ck_assert_int_eq(pgrepl_stream_resume(t.s), 0);
    RUN_UNTIL(&t, t.n_commit == 1, 2000);
    ctx_fini(&t);
}
END_TEST

/* ---- 5. keepalives that request a reply ------------------------------------------- */

/*
 * The issue asks for a minute of idling; 20 s with the server's timeout at
 * 2 s proves the same mechanism ten times over. The stream read 60 s at
 * SHOW time, and the status interval is 60 s, so its own updates come only
 * every 30 s: what keeps the connection alive is answering each
 * replyRequested keepalive, which the server sends after 1 s of silence.
 */
START_TEST(reply_requested_keepalives)
{
    exec(NULL, "CREATE TABLE r_t (id int);\n"
               "CREATE PUBLICATION r_pub FOR TABLE r_t;");
    create_slot_sql("r_slot");
    ctx t;
    ctx_init(&t, NULL);
    set_source(&t, "r_slot", "r_pub");
    ck_assert_int_eq(pgrepl_stream_set_status_interval(t.s, 60000), 0);
    start_streaming(&t);
    ck_assert_uint_eq(pgrepl_stream_wal_sender_timeout_ms(t.s), 60000);
    int pid = active_pid_of("r_slot");
    exec(NULL, "ALTER SYSTEM SET wal_sender_timeout = '2s'; SELECT pg_reload_conf();");
    run_for(&t, 20000);
    exec(NULL, "ALTER SYSTEM RESET wal_sender_timeout; SELECT pg_reload_conf();");
    ck_assert_msg(t.n_error == 0, "%s", t.err_message);
    ck_assert_int_eq(STATE(&t), PGREPL_STREAM_STREAMING);
    ck_assert_int_eq(active_pid_of("r_slot"), pid);
    ck_assert_int_ge(t.n_reply_requested, 8);
    ck_assert_int_eq(t.n_replies, t.n_reply_requested);
    ck_assert_uint_le(t.max_reply_ms, 200);
    ctx_fini(&t);
}
END_TEST

/*
 * The receive-timeout watchdog: an idle server that has nothing to say
 * (everything confirmed) sends nothing for wal_sender_timeout/2 = 30 s, so
 * surviving 3 s with a 1 s receive timeout means the pings were answered;
 * a walsender frozen with SIGSTOP is then declared dead.
 */
START_TEST(receive_timeout_watchdog)
{
    exec(NULL, "CREATE TABLE g_t (id int);\n"
               "CREATE PUBLICATION g_pub FOR TABLE g_t;");
    create_slot_sql("g_slot");
    ctx t;
    ctx_init(&t, NULL);
    set_source(&t, "g_slot", "g_pub");
    ck_assert_int_eq(pgrepl_stream_set_receive_timeout(t.s, 1000), 0);
    ck_assert_int_eq(pgrepl_stream_set_status_interval(t.s, 60000), 0);
    start_streaming(&t);
    int keepalives = t.n_keepalive;
    run_for(&t, 3000);
    ck_assert_msg(t.n_error == 0, "%s", t.err_message);
    ck_assert_int_ge(t.n_keepalive - keepalives, 3);
    int pid = active_pid_of("g_slot");
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(kill(pid, SIGSTOP), 0);
    uint64_t t0 = now_ms(&t);
    /* no assertion before SIGCONT: a failed test must not leave the walsender frozen */
    while (t.n_error == 0 && now_ms(&t) - t0 < 5000)
        uv_run(&t.loop, UV_RUN_ONCE);
    uint64_t waited = now_ms(&t) - t0;
    ck_assert_int_eq(kill(pid, SIGCONT), 0);
    ck_assert_int_eq(t.n_error, 1);
    ck_assert_int_eq(t.err_code, PGREPL_ETIMEDOUT);
    ck_assert(!t.err_fatal);
    /* silence started before SIGSTOP (psql blocked the loop meanwhile): at most the timeout */
    ck_assert_uint_le(waited, 1200);
    ck_assert_int_eq(STATE(&t), PGREPL_STREAM_STOPPED);
    ctx_fini(&t);
    drop_slot_sql("g_slot");
}
END_TEST

/* ---- 6. stop in the middle of a transaction --------------------------------------- */

START_TEST(stop_mid_transaction)
{
    exec(NULL, "CREATE TABLE m_t (id int PRIMARY KEY);\n"
               "CREATE PUBLICATION m_pub FOR TABLE m_t;");
    create_slot_sql("m_slot");
    ctx t;
    ctx_init(&t, NULL);
    set_source(&t, "m_slot", "m_pub");
    ck_assert_int_eq(pgrepl_stream_set_auto_ack(t.s, true), 0);
    ck_assert_int_eq(pgrepl_stream_set_status_interval(t.s, 100), 0);
    start_streaming(&t);
    /* settle: the first status updates confirm where the slot is */
    pgrepl_lsn before = confirmed_of("m_slot");
    RUN_UNTIL(&t, pgrepl_stream_reported_lsn(t.s) >= before, 5000);
    t.stop_at_insert = 2;
    exec(NULL, "BEGIN; INSERT INTO m_t VALUES (1); INSERT INTO m_t VALUES (2); INSERT INTO m_t VALUES (3); COMMIT;");
    RUN_UNTIL(&t, STATE(&t) == PGREPL_STREAM_STOPPED, 10000);
    ck_assert_str_eq(t.states, "connecting,streaming,stopping,stopped");
    ck_assert_int_eq(t.n_error, 0);
    /* nothing after the stop was delivered, nothing of the transaction acknowledged */
    ck_assert_int_eq(t.n_insert, 2);
    ck_assert_int_eq(t.n_commit, 0);
    pgrepl_lsn final_lsn = t.begins[0].final_lsn;
    pgrepl_lsn confirmed = confirmed_of("m_slot");
    ck_assert_uint_lt(confirmed, final_lsn);
    ck_assert_uint_ge(confirmed, before);
    /* exactly what was reported before the transaction began (before, unless a keepalive came in between) */
    ck_assert_uint_eq(confirmed, t.reported_at_begin[0]);
    ck_assert_uint_eq(pgrepl_stream_reported_lsn(t.s), t.reported_at_begin[0]);
    ck_assert_uint_lt(pgrepl_stream_acked_lsn(t.s), final_lsn);
    wait_inactive("m_slot");

    /* the next start delivers it again, complete, and auto-ack confirms it */
    t.stop_at_insert = 0;
    t.loglen = 0;
    t.log[0] = '\0';
    start_streaming(&t);
    RUN_UNTIL(&t, t.n_commit == 1, 10000);
    ck_assert_str_eq(t.log, "B\nR public.m_t 1\nI public.m_t N(1)\nI public.m_t N(2)\nI public.m_t N(3)\nC\n");
    ck_assert_uint_eq(t.begins[1].final_lsn, final_lsn);
    ck_assert_uint_eq(pgrepl_stream_acked_lsn(t.s), t.commits[0].end_lsn);
    RUN_UNTIL(&t, confirmed_of("m_slot") >= t.commits[0].end_lsn, 5000);
    ctx_fini(&t);
}
END_TEST

/* ---- 7. slot commands ---------------------------------------------------------------- */

typedef struct slot_log {
    char text[4096];
    size_t len;
    int done;
    pgrepl_slot_info info[8];
    char strings[8][4][64]; /* copies of the info strings that the tests look at */
    int ninfo;
    char snapshot[64];
    pgrepl_lsn consistent_point;
    int sleep_ms; /* on_created blocks the loop this long (a long initial copy) */
} slot_log;

static slot_log slots;

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static void slot_logf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(slots.text + slots.len, sizeof slots.text - slots.len, fmt, ap);
    va_end(ap);
    ck_assert(n > 0 && (size_t)n < sizeof slots.text - slots.len);
    slots.len += (size_t)n;
}

static void on_created(pgrepl_stream *s, int status, const pgrepl_slot_created *c, void *arg)
{
    (void)arg;
    slots.done++;
    if (slots.sleep_ms > 0)
        uv_sleep((unsigned)slots.sleep_ms);
    if (status != 0) {
        ck_assert_ptr_null(c);
        slot_logf("create %s %s\n", pgrepl_err_name(status), pgrepl_stream_sqlstate(s));
        ck_assert_str_ne(pgrepl_stream_errmsg(s), "");
        return;
    }
    slot_logf("create %s %s snapshot=%s\n", c->slot_name, c->created ? "created" : "existed",
              c->snapshot_name != NULL ? "yes" : "no");
    if (c->created) {
        ck_assert_uint_gt(c->consistent_point, 0);
        ck_assert_str_eq(c->plugin, "pgoutput");
        slots.consistent_point = c->consistent_point;
    } else {
        ck_assert_uint_eq(c->consistent_point, 0);
        ck_assert_ptr_null(c->snapshot_name);
    }
    if (c->snapshot_name != NULL)
        snprintf(slots.snapshot, sizeof slots.snapshot, "%s", c->snapshot_name);
}

static void on_dropped(pgrepl_stream *s, int status, void *arg)
{
    (void)arg;
    slots.done++;
    slot_logf("drop %s %s\n", pgrepl_err_name(status), pgrepl_stream_sqlstate(s));
}

static void on_info(pgrepl_stream *s, int status, const pgrepl_slot_info *info, void *arg)
{
    (void)arg;
    slots.done++;
    if (status != 0) {
        ck_assert_ptr_null(info);
        slot_logf("info %s\n", pgrepl_err_name(status));
        return;
    }
    ck_assert_str_eq(pgrepl_stream_errmsg(s), "");
    slot_logf("info %s\n", info->exists ? info->slot_name : "none");
    ck_assert_int_lt(slots.ninfo, 8);
    slots.info[slots.ninfo] = *info;
    const char *strs[4] = {info->plugin, info->slot_type, info->database, info->wal_status};
    for (int i = 0; i < 4; i++)
        snprintf(slots.strings[slots.ninfo][i], 64, "%s", strs[i] != NULL ? strs[i] : "(null)");
    slots.ninfo++;
}

START_TEST(slot_commands)
{
    memset(&slots, 0, sizeof slots);
    ctx t;
    ctx_init(&t, NULL);
    pgrepl_stream *s = t.s;
    /* queued while stopped, run in order once connected */
    ck_assert_int_eq(pgrepl_stream_create_slot(s, "c_tmp", PGREPL_SLOT_TEMPORARY, PGREPL_SNAPSHOT_NOTHING, on_created, NULL),
                     0);
    ck_assert_int_eq(pgrepl_stream_slot_info(s, "c_tmp", on_info, NULL), 0);
    ck_assert_int_eq(pgrepl_stream_create_slot(s, "c_perm", 0, PGREPL_SNAPSHOT_NOTHING, on_created, NULL), 0);
    ck_assert_int_eq(pgrepl_stream_slot_info(s, "c_perm", on_info, NULL), 0);
    ck_assert_int_eq(pgrepl_stream_create_slot(s, "c_perm", PGREPL_SLOT_IF_NOT_EXISTS, PGREPL_SNAPSHOT_NOTHING,
                                               on_created, NULL),
                     0);
    ck_assert_int_eq(pgrepl_stream_create_slot(s, "c_perm", 0, PGREPL_SNAPSHOT_NOTHING, on_created, NULL), 0);
    /* the server drops a session's temporary slots when one of its commands fails */
    ck_assert_int_eq(pgrepl_stream_slot_info(s, "c_tmp", on_info, NULL), 0);
    ck_assert_int_eq(pgrepl_stream_slot_info(s, "c_missing", on_info, NULL), 0);
    ck_assert_int_eq(pgrepl_stream_drop_slot(s, "c_perm", false, on_dropped, NULL), 0);
    ck_assert_int_eq(pgrepl_stream_drop_slot(s, "c_missing", true, on_dropped, NULL), 0);
    ck_assert_int_eq(pgrepl_stream_slot_info(s, "c_perm", on_info, NULL), 0);
    ck_assert_int_eq(pgrepl_stream_create_slot(s, "c_2pc", PGREPL_SLOT_TWO_PHASE, PGREPL_SNAPSHOT_NOTHING, on_created, NULL),
                     0);
    ck_assert_int_eq(pgrepl_stream_create_slot(s, "c_fo", PGREPL_SLOT_FAILOVER, PGREPL_SNAPSHOT_NOTHING, on_created, NULL),
                     0);
    ck_assert_int_eq(pgrepl_stream_create_slot(s, "c_x", 0x100, PGREPL_SNAPSHOT_NOTHING, on_created, NULL), PGREPL_EINVAL);
    ck_assert_int_eq(pgrepl_stream_connect(s), 0);
    RUN_UNTIL(&t, slots.done == 13 && STATE(&t) == PGREPL_STREAM_READY, 15000);
    ck_assert_str_eq(t.states, "connecting,ready");
    /* in READY a command runs at once */
    ck_assert_int_eq(pgrepl_stream_slot_info(s, "c_2pc", on_info, NULL), 0);
    ck_assert_int_eq(pgrepl_stream_slot_info(s, "c_fo", on_info, NULL), 0);
    ck_assert_int_eq(pgrepl_stream_create_slot(s, "c_tmp2", PGREPL_SLOT_TEMPORARY, PGREPL_SNAPSHOT_NOTHING,
                                               on_created, NULL),
                     0);
    RUN_UNTIL(&t, slots.done == 16, 5000);
    char want[2048];
    snprintf(want, sizeof want,
             "create c_tmp created snapshot=no\n"
             "info c_tmp\n"
             "create c_perm created snapshot=no\n"
             "info c_perm\n"
             "create c_perm existed snapshot=no\n"
             "create PGREPL_ESERVER 42710\n"
             "info none\n"
             "info none\n"
             "drop PGREPL_OK \n"
             "drop PGREPL_ESERVER 42704\n"
             "info none\n"
             "%s"
             "%s"
             "%s"
             "%s"
             "create c_tmp2 created snapshot=no\n",
             major >= 15 ? "create c_2pc created snapshot=no\n" : "create PGREPL_EUNSUPPORTED \n",
             major >= 17 ? "create c_fo created snapshot=no\n" : "create PGREPL_EUNSUPPORTED \n",
             major >= 15 ? "info c_2pc\n" : "info none\n", major >= 17 ? "info c_fo\n" : "info none\n");
    ck_assert_str_eq(slots.text, want);

    const pgrepl_slot_info *tmp = &slots.info[0], *perm = &slots.info[1];
    ck_assert(tmp->exists && tmp->temporary && tmp->active);
    ck_assert_int_gt(tmp->active_pid, 0);
    ck_assert(perm->exists && !perm->temporary && !perm->active);
    ck_assert_int_eq(perm->active_pid, 0);
    for (int i = 0; i < 2; i++) {
        const pgrepl_slot_info *in = &slots.info[i];
        ck_assert_str_eq(slots.strings[i][0], "pgoutput");
        ck_assert_str_eq(slots.strings[i][1], "logical");
        ck_assert_str_eq(slots.strings[i][2], "postgres");
        ck_assert_str_eq(slots.strings[i][3], "reserved");
        ck_assert_uint_gt(in->restart_lsn, 0);
        ck_assert_uint_ge(in->confirmed_flush_lsn, in->restart_lsn);
        ck_assert_uint_ge(in->current_wal_lsn, in->confirmed_flush_lsn);
        ck_assert_int_eq(in->retained_bytes, (int64_t)(in->current_wal_lsn - in->restart_lsn));
        ck_assert_int_eq(in->safe_wal_size, -1);
        ck_assert(!in->two_phase && !in->conflicting && !in->failover);
        ck_assert_ptr_null(in->invalidation_reason);
    }
    const pgrepl_slot_info *missing = &slots.info[3];
    ck_assert(!slots.info[2].exists);
    ck_assert(!missing->exists);
    ck_assert_ptr_null(missing->slot_name);
    ck_assert_uint_gt(missing->current_wal_lsn, 0);
    ck_assert_int_eq(missing->retained_bytes, -1);
    if (major >= 15)
        ck_assert(slots.info[5].two_phase);
    if (major >= 17)
        ck_assert(slots.info[6].failover && !slots.info[6].two_phase);

    /* a temporary slot lives as long as the connection */
    char *out = query(NULL, "SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots "
                            "WHERE slot_name LIKE 'c\\_%'");
    ck_assert_str_eq(out, major >= 17 ? "c_2pc,c_fo,c_tmp2" : major >= 15 ? "c_2pc,c_tmp2" : "c_tmp2");
    free(out);
    ck_assert_int_eq(pgrepl_stream_stop_replication(s), 0);
    RUN_UNTIL(&t, STATE(&t) == PGREPL_STREAM_STOPPED, 5000);
    for (int i = 0; i < 100; i++) {
        out = query(NULL, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'c_tmp2'");
        bool gone = strcmp(out, "0") == 0;
        free(out);
        if (gone)
            break;
        uv_sleep(50);
    }
    out = query(NULL, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'c_tmp2'");
    ck_assert_str_eq(out, "0");
    free(out);
    exec(NULL, "%s",
         "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'c\\_%'");
    ctx_fini(&t);
}
END_TEST

/* An exported snapshot holds the connection (READY, nothing else sent) until snapshot_done. */
START_TEST(exported_snapshot)
{
    memset(&slots, 0, sizeof slots);
    exec(NULL, "CREATE TABLE e_t (id int PRIMARY KEY);\n"
               "INSERT INTO e_t VALUES (1), (2);\n"
               "CREATE PUBLICATION e_pub FOR TABLE e_t;");
    ctx t;
    ctx_init(&t, NULL);
    set_source(&t, "e_slot", "e_pub");
    ck_assert_int_eq(pgrepl_stream_create_slot(t.s, "e_slot", 0, PGREPL_SNAPSHOT_EXPORT, on_created, NULL), 0);
    ck_assert_int_eq(pgrepl_stream_slot_info(t.s, "e_slot", on_info, NULL), 0);
    ck_assert_int_eq(pgrepl_stream_snapshot_done(t.s), PGREPL_ESTATE);
    ck_assert_int_eq(pgrepl_stream_start_replication(t.s), 0);
    RUN_UNTIL(&t, STATE(&t) == PGREPL_STREAM_READY, 15000);
    ck_assert_str_eq(slots.text, "create e_slot created snapshot=yes\n");
    exec(NULL, "INSERT INTO e_t VALUES (3)");
    run_for(&t, 300);
    ck_assert_int_eq(STATE(&t), PGREPL_STREAM_READY);
    ck_assert_int_eq(slots.done, 1); /* the queued info waits */
    char sql[512];
    snprintf(sql, sizeof sql,
             "BEGIN ISOLATION LEVEL REPEATABLE READ;\n"
             "SET TRANSACTION SNAPSHOT '%s';\n"
             "SELECT string_agg(id::text, ',' ORDER BY id) FROM e_t;\n"
             "COMMIT;",
             slots.snapshot);
    char *out = query(NULL, sql);
    ck_assert_str_eq(out, "1,2");
    free(out);
    ck_assert_int_eq(pgrepl_stream_snapshot_done(t.s), 0);
    RUN_UNTIL(&t, STATE(&t) == PGREPL_STREAM_STREAMING, 10000);
    ck_assert_str_eq(t.states, "connecting,ready,connecting,streaming");
    ck_assert_str_eq(slots.text, "create e_slot created snapshot=yes\ninfo e_slot\n");
    /* the row written after the slot's consistent point is streamed */
    RUN_UNTIL(&t, t.n_commit == 1, 10000);
    ck_assert_str_eq(t.log, "B\nR public.e_t 1\nI public.e_t N(3)\nC\n");
    ck_assert_uint_gt(t.begins[0].final_lsn, slots.consistent_point);
    /* released: the snapshot is gone */
    out = NULL;
    ck_assert_int_ne(pgt_psql(&srv, NULL, sql, &out), 0);
    free(out);
    ctx_fini(&t);
    drop_slot_sql("e_slot");
}
END_TEST

/* SNAPSHOT 'use': BEGIN, CREATE in it, held, COMMIT on snapshot_done. */
START_TEST(use_snapshot)
{
    memset(&slots, 0, sizeof slots);
    ctx t;
    ctx_init(&t, NULL);
    ck_assert_int_eq(pgrepl_stream_create_slot(t.s, "u_slot", PGREPL_SLOT_TEMPORARY, PGREPL_SNAPSHOT_USE, on_created, NULL),
                     0);
    ck_assert_int_eq(pgrepl_stream_connect(t.s), 0);
    RUN_UNTIL(&t, slots.done == 1, 15000);
    ck_assert_str_eq(slots.text, "create u_slot created snapshot=no\n");
    ck_assert_int_eq(STATE(&t), PGREPL_STREAM_READY);
    ck_assert_int_eq(pgrepl_stream_slot_info(t.s, "u_slot", on_info, NULL), 0);
    run_for(&t, 200);
    ck_assert_int_eq(slots.done, 1);
    ck_assert_int_eq(pgrepl_stream_snapshot_done(t.s), 0);
    ck_assert_int_eq(pgrepl_stream_snapshot_done(t.s), PGREPL_ESTATE);
    RUN_UNTIL(&t, slots.done == 2, 5000);
    ck_assert_str_eq(slots.text, "create u_slot created snapshot=no\ninfo u_slot\n");
    ck_assert(slots.info[0].temporary);
    ck_assert_str_eq(t.states, "connecting,ready");
    ctx_fini(&t);
}
END_TEST

/* ---- errors ---------------------------------------------------------------------------- */

START_TEST(missing_slot_is_fatal)
{
    ctx t;
    ctx_init(&t, NULL);
    set_source(&t, "no_such_slot", "any_pub");
    ck_assert_int_eq(pgrepl_stream_start_replication(t.s), 0);
    ck_assert_int_eq(pgrepl_stream_start_replication(t.s), PGREPL_ESTATE);
    RUN_UNTIL(&t, t.n_error == 1 && STATE(&t) == PGREPL_STREAM_STOPPED, 10000);
    ck_assert_int_eq(t.err_code, PGREPL_ESERVER);
    ck_assert(t.err_fatal && t.err_server);
    ck_assert_str_eq(t.err_sqlstate, "42704");
    ck_assert_str_eq(pgrepl_stream_sqlstate(t.s), "42704");
    ck_assert_ptr_nonnull(strstr(t.err_message, "START_REPLICATION failed: ERROR 42704"));
    ck_assert_ptr_nonnull(strstr(t.err_message, "no_such_slot"));
    ck_assert_str_eq(t.states, "connecting,stopped");
    ctx_fini(&t);
}
END_TEST

START_TEST(connect_failure)
{
    ctx t;
    ctx_init(&t, NULL);
    ck_assert_int_eq(pgrepl_stream_set_conninfo(t.s, "host=/nonexistent/dir port=5432 user=postgres"), 0);
    ck_assert_int_eq(pgrepl_stream_set_conninfo(t.s, "bogus"), PGREPL_EINVAL);
    ck_assert_str_ne(pgrepl_stream_errmsg(t.s), "");
    ck_assert_ptr_null(strchr(pgrepl_stream_errmsg(t.s), '\n'));
    ck_assert_int_eq(pgrepl_stream_connect(t.s), 0);
    ck_assert_int_eq(pgrepl_stream_set_slot(t.s, "x"), PGREPL_ESTATE);
    RUN_UNTIL(&t, t.n_error == 1, 10000);
    ck_assert_int_eq(t.err_code, PGREPL_ECONNECT);
    ck_assert(!t.err_fatal && !t.err_server);
    ck_assert_ptr_nonnull(strstr(t.err_message, "could not connect"));
    ck_assert_ptr_nonnull(strstr(t.err_message, "/nonexistent/dir"));
    ck_assert_str_eq(t.states, "connecting,stopped");
    /* a URI works too, and the stream can be used again after a failure */
    char uri[sizeof srv.conninfo + 64];
    snprintf(uri, sizeof uri, "postgresql:///postgres?host=%s&user=postgres", srv.dir);
    ck_assert_int_eq(pgrepl_stream_set_conninfo(t.s, uri), 0);
    ck_assert_int_eq(pgrepl_stream_connect(t.s), 0);
    RUN_UNTIL(&t, STATE(&t) == PGREPL_STREAM_READY, 10000);
    ck_assert_int_eq(pgrepl_stream_server_version(t.s) / 10000, major);
    ctx_fini(&t);
}
END_TEST

START_TEST(terminated_backend_is_transient)
{
    exec(NULL, "CREATE TABLE k_t (id int);\n"
               "CREATE PUBLICATION k_pub FOR TABLE k_t;");
    create_slot_sql("k_slot");
    ctx t;
    ctx_init(&t, NULL);
    set_source(&t, "k_slot", "k_pub");
    start_streaming(&t);
    exec(NULL, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'k_slot'");
    RUN_UNTIL(&t, t.n_error == 1, 10000);
    ck_assert_msg(t.err_code == PGREPL_ESERVER || t.err_code == PGREPL_ECONNLOST, "%s", t.err_message);
    if (t.err_code == PGREPL_ESERVER)
        ck_assert_str_eq(t.err_sqlstate, "57P01");
    ck_assert(!t.err_fatal);
    ck_assert_int_eq(STATE(&t), PGREPL_STREAM_STOPPED);
    ctx_fini(&t);
}
END_TEST

/*
 * Rows larger than the stream's 64 kB read buffer, one of several MB,
 * between small ones: over the Unix socket the library reads the copy
 * itself, growing its buffer with the bytes and shrinking it after.
 */
START_TEST(large_rows_arrive_whole)
{
    exec(NULL, "CREATE TABLE big_t (id int PRIMARY KEY, v text);\n"
               "CREATE PUBLICATION big_pub FOR TABLE big_t;");
    create_slot_sql("big_slot");
    ctx t;
    ctx_init(&t, NULL);
    set_source(&t, "big_slot", "big_pub");
    start_streaming(&t);
    exec(NULL, "INSERT INTO big_t VALUES (1, 'a');\n"
               "INSERT INTO big_t VALUES (2, repeat('0123456789', 7000));\n"
               "INSERT INTO big_t VALUES (3, repeat('abcdefghij', 300000));\n"
               "INSERT INTO big_t VALUES (4, 'b');\n"
               "INSERT INTO big_t VALUES (5, repeat('9876543210', 6600));");
    RUN_UNTIL(&t, t.n_commit == 5, 20000);
    ck_assert_msg(strstr(t.log, " N(1|a)") != NULL && strstr(t.log, " N(2|0123456789012345...(70000 bytes))") != NULL &&
                      strstr(t.log, " N(3|abcdefghijabcdef...(3000000 bytes))") != NULL &&
                      strstr(t.log, " N(4|b)") != NULL &&
                      strstr(t.log, " N(5|9876543210987654...(66000 bytes))") != NULL,
                  "%s", t.log);
    ck_assert_int_eq(t.n_error, 0);
    ctx_fini(&t);
    drop_slot_sql("big_slot");
}
END_TEST

/*
 * Over SSL libpq reads the copy (on plaintext connections the library
 * does): the same stream, acknowledgement, a row larger than libpq's
 * initial buffer, a clean stop (CopyDone and the drain), and an error
 * inside the copy.
 */
START_TEST(streams_over_ssl)
{
    exec(NULL, "CREATE TABLE ssl_t (id int PRIMARY KEY, v text);\n"
               "CREATE PUBLICATION ssl_pub FOR TABLE ssl_t;");
    create_slot_sql("ssl_slot");
    char extra[96];
    snprintf(extra, sizeof extra, "host=%s sslmode=require", ssl_addr);
    ctx t;
    ctx_init(&t, extra);
    set_source(&t, "ssl_slot", "ssl_pub");
    ck_assert_int_eq(pgrepl_stream_set_status_interval(t.s, 100), 0);
    start_streaming(&t);
    char *ssl = query(NULL, "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_replication_slots r ON r.active_pid = s.pid "
                            "WHERE r.slot_name = 'ssl_slot'");
    ck_assert_str_eq(ssl, "t");
    free(ssl);
    exec(NULL, "INSERT INTO ssl_t VALUES (1, 'one');\n"
               "INSERT INTO ssl_t SELECT 2, string_agg(md5(g::text), '') FROM generate_series(1, 10000) g;\n"
               "INSERT INTO ssl_t VALUES (3, 'three');");
    RUN_UNTIL(&t, t.n_commit == 3, 10000);
    ck_assert_int_eq(t.n_insert, 3);
    ck_assert_msg(strstr(t.log, "(2|c4ca4238a0b92382...(320000 bytes))") != NULL, "%s", t.log);
    pgrepl_lsn end = t.commits[2].end_lsn;
    ck_assert_int_eq(pgrepl_stream_ack(t.s, end), 0);
    RUN_UNTIL(&t, confirmed_of("ssl_slot") == end, 5000);
    ck_assert_int_eq(pgrepl_stream_stop_replication(t.s), 0);
    RUN_UNTIL(&t, STATE(&t) == PGREPL_STREAM_STOPPED, 5000);
    ck_assert_int_eq(t.n_error, 0);
    wait_inactive("ssl_slot");
    /* again, and the walsender is terminated: the server's error arrives through libpq */
    start_streaming(&t);
    exec(NULL, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'ssl_slot'");
    RUN_UNTIL(&t, t.n_error == 1, 10000);
    ck_assert_msg(t.err_code == PGREPL_ESERVER || t.err_code == PGREPL_ECONNLOST, "%s", t.err_message);
    ck_assert(!t.err_fatal);
    ctx_fini(&t);
    drop_slot_sql("ssl_slot");
}
END_TEST

START_TEST(callback_failure_is_fatal)
{
    exec(NULL, "CREATE TABLE f_t (id int PRIMARY KEY);\n"
               "CREATE PUBLICATION f_pub FOR TABLE f_t;");
    create_slot_sql("f_slot");
    ctx t;
    ctx_init(&t, NULL);
    set_source(&t, "f_slot", "f_pub");
    ck_assert_int_eq(pgrepl_stream_set_auto_ack(t.s, true), 0);
    ck_assert_int_eq(pgrepl_stream_set_status_interval(t.s, 100), 0);
    start_streaming(&t);
    exec(NULL, "INSERT INTO f_t VALUES (1)");
    RUN_UNTIL(&t, t.n_commit == 1, 10000);
    RUN_UNTIL(&t, confirmed_of("f_slot") >= t.commits[0].end_lsn, 5000);
    t.fail_at_insert = 3;
    exec(NULL, "INSERT INTO f_t VALUES (2); INSERT INTO f_t VALUES (3), (4);");
    RUN_UNTIL(&t, t.n_error == 1, 10000);
    ck_assert_int_eq(t.err_code, PGREPL_ECALLBACK);
    ck_assert(t.err_fatal && !t.err_server);
    ck_assert_int_eq(t.n_insert, 3);
    ck_assert_int_eq(t.n_commit, 2);
    ck_assert_int_eq(STATE(&t), PGREPL_STREAM_STOPPED);
    /* the second transaction was acknowledged, the failed one is not */
    ck_assert_uint_eq(pgrepl_stream_acked_lsn(t.s), t.commits[1].end_lsn);
    ck_assert_uint_le(confirmed_of("f_slot"), t.commits[1].end_lsn);
    ck_assert_uint_lt(confirmed_of("f_slot"), t.begins[2].final_lsn);
    ctx_fini(&t);
}
END_TEST

/*
 * A publication that does not exist: the stream's check stops it before
 * START_REPLICATION on every version (18 would only warn and skip the
 * changes, 14-17 fail at the first decoded change).
 */
START_TEST(missing_publication)
{
    exec(NULL, "CREATE TABLE n_t (id int)");
    create_slot_sql("n_slot");
    ctx t;
    ctx_init(&t, NULL);
    set_source(&t, "n_slot", "n_missing");
    ck_assert_int_eq(pgrepl_stream_start_replication(t.s), 0);
    RUN_UNTIL(&t, t.n_error == 1, 10000);
    ck_assert_int_eq(t.err_code, PGREPL_ENOTFOUND);
    ck_assert(t.err_fatal && !t.err_server);
    ck_assert_str_eq(t.err_message, "missing publication(s): n_missing");
    ck_assert_str_eq(t.states, "connecting,stopped");
    ck_assert_int_eq(active_pid_of("n_slot"), 0);
    ctx_fini(&t);
}
END_TEST

START_TEST(unsupported_options)
{
    exec(NULL, "CREATE PUBLICATION o_pub");
    create_slot_sql("o_slot");
    ctx t;
    ctx_init(&t, NULL);
    set_source(&t, "o_slot", "o_pub");
    ck_assert_int_eq(pgrepl_stream_set_streaming(t.s, PGREPL_STREAMING_PARALLEL), 0);
    ck_assert_int_eq(pgrepl_stream_set_proto_version(t.s, 5), PGREPL_EINVAL);
    ck_assert_int_eq(pgrepl_stream_set_proto_version(t.s, major == 14 ? 2 : 3), 0);
    ck_assert_int_eq(pgrepl_stream_start_replication(t.s), 0);
    RUN_UNTIL(&t, t.n_error == 1, 10000);
    ck_assert_int_eq(t.err_code, PGREPL_EUNSUPPORTED);
    ck_assert(t.err_fatal);
    /* the options the server does take: streaming on, the highest protocol, binary */
    ck_assert_int_eq(pgrepl_stream_set_streaming(t.s, PGREPL_STREAMING_ON), 0);
    ck_assert_int_eq(pgrepl_stream_set_proto_version(t.s, 0), 0);
    ck_assert_int_eq(pgrepl_stream_set_binary(t.s, true), 0);
    ck_assert_int_eq(pgrepl_stream_set_origin(t.s, major >= 16 ? PGREPL_ORIGIN_NONE : PGREPL_ORIGIN_DEFAULT), 0);
    ck_assert_int_eq(pgrepl_stream_set_two_phase(t.s, major >= 15), 0);
    start_streaming(&t);
    ck_assert_int_eq(t.n_error, 1);
    ctx_fini(&t);
    drop_slot_sql("o_slot");
}
END_TEST

/* ---- closing from inside callbacks --------------------------------------------------- */

static void close_on_created(pgrepl_stream *s, int status, const pgrepl_slot_created *c, void *arg)
{
    (void)arg;
    on_created(s, status, c, NULL);
    close_stream(pgrepl_stream_get_data(s));
    ck_assert_int_eq(pgrepl_stream_slot_info(s, "x", on_info, NULL), PGREPL_ESTATE);
}

START_TEST(close_inside_slot_callback)
{
    memset(&slots, 0, sizeof slots);
    ctx t;
    ctx_init(&t, NULL);
    ck_assert_int_eq(pgrepl_stream_create_slot(t.s, "z_tmp", PGREPL_SLOT_TEMPORARY, PGREPL_SNAPSHOT_NOTHING,
                                               close_on_created, NULL),
                     0);
    ck_assert_int_eq(pgrepl_stream_slot_info(t.s, "z_tmp", on_info, NULL), 0);
    ck_assert_int_eq(pgrepl_stream_drop_slot(t.s, "z_tmp", false, on_dropped, NULL), 0);
    ck_assert_int_eq(pgrepl_stream_connect(t.s), 0);
    RUN_UNTIL(&t, t.n_closed == 1, 10000);
    /* the queued commands were canceled before close_cb */
    ck_assert_str_eq(slots.text, "create z_tmp created snapshot=no\ninfo PGREPL_ECANCELED\ndrop PGREPL_ECANCELED \n");
    ctx_fini(&t);
}
END_TEST

START_TEST(close_inside_decoder_callback)
{
    exec(NULL, "CREATE TABLE x_t (id int);\n"
               "CREATE PUBLICATION x_pub FOR TABLE x_t;");
    create_slot_sql("x_slot");
    ctx t;
    ctx_init(&t, NULL);
    set_source(&t, "x_slot", "x_pub");
    ck_assert_int_eq(pgrepl_stream_set_auto_ack(t.s, true), 0);
    start_streaming(&t);
    t.close_at_insert = 1;
    exec(NULL, "INSERT INTO x_t SELECT generate_series(1, 50)");
    RUN_UNTIL(&t, t.n_closed == 1, 10000);
    ck_assert_int_eq(t.n_insert, 1);
    ck_assert_int_eq(t.n_commit, 0);
    ctx_fini(&t);
    ck_assert_uint_lt(confirmed_of("x_slot"), t.begins[0].final_lsn);
}
END_TEST

START_TEST(close_inside_state_callback)
{
    exec(NULL, "CREATE PUBLICATION y_pub");
    create_slot_sql("y_slot");
    ctx t;
    ctx_init(&t, NULL);
    set_source(&t, "y_slot", "y_pub");
    t.close_on_streaming = true;
    ck_assert_int_eq(pgrepl_stream_start_replication(t.s), 0);
    RUN_UNTIL(&t, t.n_closed == 1, 10000);
    ck_assert_str_eq(t.states, "connecting,streaming");
    ctx_fini(&t);
    /* the walsender goes away with the connection */
    wait_inactive("y_slot");
}
END_TEST

/*
 * Read batching on the Unix socket (on by default): while a burst arrives
 * the stream reads, pauses 200 us with the socket unwatched, reads again.
 * Everything of a burst arrives, a single change right after it too (a
 * pause never strands what is queued), the next burst batches again, and
 * a stopped stream leaves nothing active in the loop: no pause timer
 * keeps uv_run from returning.
 */
START_TEST(unix_read_batching)
{
    exec(NULL, "CREATE TABLE rb_t (id int PRIMARY KEY);\n"
               "CREATE PUBLICATION rb_pub FOR TABLE rb_t;");
    create_slot_sql("rb_slot");
    ctx t;
    ctx_init(&t, NULL);
    set_source(&t, "rb_slot", "rb_pub");
    t.no_log = true;
    start_streaming(&t);
    int next = 1, commits = 0;
    for (int round = 0; round < 2; round++) {
        char sqlbuf[4096];
        size_t n = (size_t)snprintf(sqlbuf, sizeof sqlbuf, "INSERT INTO rb_t SELECT generate_series(%d, %d);\n", next,
                                    next + 29999);
        next += 30000;
        for (int i = 0; i < 20; i++, next++)
            n += (size_t)snprintf(sqlbuf + n, sizeof sqlbuf - n, "INSERT INTO rb_t VALUES (%d);\n", next);
        exec(NULL, "%s", sqlbuf);
        commits += 21;
        RUN_UNTIL(&t, t.n_commit == commits, 30000);
        ck_assert_int_eq(t.n_insert, next - 1);
        /* one change alone, right after the burst */
        uint64_t sent = now_ms(&t);
        exec(NULL, "INSERT INTO rb_t VALUES (%d)", next++);
        commits++;
        RUN_UNTIL(&t, t.n_commit == commits, 5000);
        uint64_t took = now_ms(&t) - sent;
        ck_assert_msg(took < 2000, "round %d: a single change after the burst took %llu ms", round,
                      (unsigned long long)took);
        ck_assert_int_eq(t.n_insert, next - 1);
    }
    ck_assert_int_eq(t.n_error, 0);
    ck_assert_int_eq(pgrepl_stream_stop_replication(t.s), 0);
    RUN_UNTIL(&t, STATE(&t) == PGREPL_STREAM_STOPPED, 10000);
    uv_timer_stop(&t.wake);
    /* the heartbeat's side connection may still be closing: give the loop its turn */
    for (int i = 0; i < 100 && uv_loop_alive(&t.loop); i++)
        uv_run(&t.loop, UV_RUN_NOWAIT), uv_sleep(10);
    ck_assert_msg(!uv_loop_alive(&t.loop), "a stopped stream keeps the loop alive");
    ck_assert_int_eq(uv_timer_start(&t.wake, on_wake, 20, 20), 0);
    ctx_fini(&t);
    drop_slot_sql("rb_slot");
}
END_TEST

/* ---- the two positions, and gaps ----------------------------------------------------- */

/*
 * The start position is where to start, not an acknowledgement: after a
 * restart asking for what was received (written, not yet durable), the slot
 * stays at what was acknowledged while keepalives and heartbeats pass; an
 * acknowledgement of the start position lets the idle rule go on.
 */
START_TEST(start_position_is_not_confirmed)
{
    exec(NULL, "CREATE TABLE sp_t (id int PRIMARY KEY);\n"
               "CREATE PUBLICATION sp_pub FOR TABLE sp_t;");
    create_slot_sql("sp_slot");
    ctx t;
    ctx_init(&t, NULL);
    set_source(&t, "sp_slot", "sp_pub");
    ck_assert_int_eq(pgrepl_stream_set_status_interval(t.s, 100), 0);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_interval(t.s, 200), 0);
    start_streaming(&t);
    exec(NULL, "INSERT INTO sp_t VALUES (1); INSERT INTO sp_t VALUES (2); INSERT INTO sp_t VALUES (3);");
    RUN_UNTIL(&t, t.n_commit == 3, 10000);
    pgrepl_lsn a_end = t.commits[0].end_lsn, c_end = t.commits[2].end_lsn;
    ck_assert_int_eq(pgrepl_stream_ack(t.s, a_end), 0);
    RUN_UNTIL(&t, confirmed_of("sp_slot") == a_end, 5000);
    ck_assert_int_eq(pgrepl_stream_stop_replication(t.s), 0);
    RUN_UNTIL(&t, STATE(&t) == PGREPL_STREAM_STOPPED, 10000);
    /* start after everything received: nothing comes again, and nothing beyond A is confirmed */
    ck_assert_int_eq(pgrepl_stream_set_start_lsn(t.s, c_end), 0);
    start_streaming(&t);
    ck_assert_uint_eq(t.start.requested, c_end);
    run_for(&t, 1500);
    ck_assert_int_eq(t.n_commit, 3);
    ck_assert_int_gt(t.n_keepalive, 0);
    char b1[PGREPL_LSN_BUFSIZE], b2[PGREPL_LSN_BUFSIZE];
    pgrepl_lsn confirmed = confirmed_of("sp_slot");
    ck_assert_msg(confirmed == a_end, "confirmed %s while only %s was acknowledged", lsn_str(confirmed, b1),
                  lsn_str(a_end, b2));
    /* durable now: the slot moves to C and beyond, with the heartbeats */
    ck_assert_int_eq(pgrepl_stream_ack(t.s, c_end), 0);
    RUN_UNTIL(&t, confirmed_of("sp_slot") > c_end, 5000);
    ctx_fini(&t);
    drop_slot_sql("sp_slot");
}
END_TEST

/* A start or durable position beyond the server's WAL is refused before anything is confirmed. */
START_TEST(position_beyond_wal_is_refused)
{
    exec(NULL, "CREATE TABLE bw_t (id int PRIMARY KEY);\n"
               "CREATE PUBLICATION bw_pub FOR TABLE bw_t;");
    create_slot_sql("bw_slot");
    pgrepl_lsn before = confirmed_of("bw_slot");
    pgrepl_lsn future = query_lsn(NULL, "SELECT pg_current_wal_lsn() + 64 * 1024 * 1024");
    for (int durable = 0; durable < 2; durable++) {
        ctx t;
        ctx_init(&t, NULL);
        set_source(&t, "bw_slot", "bw_pub");
        ck_assert_int_eq(durable ? pgrepl_stream_set_durable_lsn(t.s, future) : pgrepl_stream_set_start_lsn(t.s, future),
                         0);
        ck_assert_int_eq(pgrepl_stream_start_replication(t.s), 0);
        RUN_UNTIL(&t, t.n_error == 1, 15000);
        ck_assert_int_eq(t.err_code, PGREPL_EINVAL);
        ck_assert(t.err_fatal);
        ck_assert_msg(strstr(t.err_message, "the server's WAL ends at") != NULL, "%s", t.err_message);
        ck_assert_ptr_nonnull(strstr(t.err_message, durable ? "durable position" : "start position"));
        ck_assert_int_eq(t.n_start, 0);
        ck_assert_int_eq(STATE(&t), PGREPL_STREAM_STOPPED);
        ctx_fini(&t);
        ck_assert_uint_eq(confirmed_of("bw_slot"), before);
    }
    drop_slot_sql("bw_slot");
}
END_TEST

/*
 * A durable position from before the stream is confirmable at once; one
 * behind the slot is reported by on_start as a range that is not certain
 * (this consumer's own idle advance may explain it), and streaming goes on.
 */
START_TEST(durable_position)
{
    exec(NULL, "CREATE TABLE dp_t (id int PRIMARY KEY);\n"
               "CREATE PUBLICATION dp_pub FOR TABLE dp_t;");
    create_slot_sql("dp_slot");
    pgrepl_lsn slot_start = confirmed_of("dp_slot");
    exec(NULL, "INSERT INTO dp_t VALUES (1)");
    pgrepl_lsn held = query_lsn(NULL, "SELECT pg_current_wal_lsn()");
    ctx t;
    ctx_init(&t, NULL);
    set_source(&t, "dp_slot", "dp_pub");
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_interval(t.s, 0), 0);
    ck_assert_int_eq(pgrepl_stream_set_idle_advance(t.s, false), 0);
    ck_assert_int_eq(pgrepl_stream_set_status_interval(t.s, 100), 0);
    ck_assert_int_eq(pgrepl_stream_set_durable_lsn(t.s, held), 0);
    start_streaming(&t);
    ck_assert_uint_eq(t.start.requested, held);
    ck_assert_uint_eq(t.start.slot_confirmed, slot_start);
    ck_assert_uint_eq(t.start.skipped_to, 0);
    /* the row before it is not delivered, and the slot confirms the durable position without an ack */
    RUN_UNTIL(&t, confirmed_of("dp_slot") == held, 5000);
    ck_assert_int_eq(t.n_commit, 0);
    ctx_fini(&t);
    /* the slot is ahead of an older durable position: reported, not certain, not fatal */
    ctx_init(&t, NULL);
    set_source(&t, "dp_slot", "dp_pub");
    ck_assert_int_eq(pgrepl_stream_set_durable_lsn(t.s, slot_start), 0);
    start_streaming(&t);
    ck_assert_uint_eq(t.start.skipped_from, slot_start);
    ck_assert_uint_eq(t.start.skipped_to, held);
    ck_assert(!t.start.skip_certain);
    ck_assert_int_eq(t.n_error, 0);
    ctx_fini(&t);
    drop_slot_sql("dp_slot");
}
END_TEST

/*
 * A slot dropped and recreated under the stream: the reconnection finds it
 * ahead of what this stream confirmed, and stops with PGREPL_EGAP naming the
 * range; with gaps allowed, on_start names it and streaming goes on.
 */
START_TEST(recreated_slot_is_a_gap)
{
    exec(NULL, "CREATE TABLE gp_t (id int PRIMARY KEY);\n"
               "CREATE PUBLICATION gp_pub FOR TABLE gp_t;");
    for (int allow = 0; allow < 2; allow++) {
        create_slot_sql("gp_slot");
        ctx t;
        ctx_init(&t, NULL);
        set_source(&t, "gp_slot", "gp_pub");
        ck_assert_int_eq(pgrepl_stream_set_reconnect(t.s, 1500, 1500), 0);
        ck_assert_int_eq(pgrepl_stream_set_allow_gaps(t.s, allow), 0);
        ck_assert_int_eq(pgrepl_stream_set_auto_ack(t.s, true), 0);
        ck_assert_int_eq(pgrepl_stream_set_status_interval(t.s, 100), 0);
        start_streaming(&t);
        ck_assert_uint_eq(t.start.skipped_to, 0);
        exec(NULL, "INSERT INTO gp_t VALUES (%d)", 10 * allow + 1);
        RUN_UNTIL(&t, t.n_commit == 1, 10000);
        pgrepl_lsn confirmed = t.commits[0].end_lsn;
        RUN_UNTIL(&t, confirmed_of("gp_slot") >= confirmed, 5000);
        int pid = active_pid_of("gp_slot");
        exec(NULL, "SELECT pg_terminate_backend(%d)", pid);
        RUN_UNTIL(&t, STATE(&t) == PGREPL_STREAM_RECONNECTING, 5000);
        wait_inactive("gp_slot");
        /* the changes between the old slot's position and the new one's are lost to this consumer */
        exec(NULL, "SELECT pg_drop_replication_slot('gp_slot');\n"
                   "INSERT INTO gp_t VALUES (%d);\n"
                   "SELECT 1 FROM pg_create_logical_replication_slot('gp_slot', 'pgoutput');",
             10 * allow + 2);
        pgrepl_lsn recreated = confirmed_of("gp_slot");
        RUN_UNTIL(&t, t.n_start == 2, 10000);
        ck_assert(t.start.skip_certain);
        ck_assert_uint_eq(t.start.skipped_to, recreated);
        ck_assert_uint_ge(t.start.skipped_from, confirmed);
        ck_assert_uint_lt(t.start.skipped_from, recreated);
        if (!allow) {
            RUN_UNTIL(&t, t.n_error == 2, 5000);
            ck_assert_int_eq(t.err_code, PGREPL_EGAP);
            ck_assert(t.err_fatal);
            ck_assert_msg(strstr(t.err_message, "would be skipped") != NULL, "%s", t.err_message);
            ck_assert_int_eq(STATE(&t), PGREPL_STREAM_STOPPED);
        } else {
            RUN_UNTIL(&t, STATE(&t) == PGREPL_STREAM_STREAMING, 10000);
            exec(NULL, "INSERT INTO gp_t VALUES (13)");
            RUN_UNTIL(&t, t.n_commit == 2, 10000);
            ck_assert_int_eq(t.n_error, 1);
        }
        ctx_fini(&t);
        drop_slot_sql("gp_slot");
    }
}
END_TEST

/*
 * The connect deadline covers the setup, not the application's time: a
 * slot-created callback that blocks the loop longer than the deadline (a
 * long initial copy) is not a timeout.
 */
START_TEST(connect_deadline_spares_slot_callbacks)
{
    exec(NULL, "CREATE TABLE cd_t (id int PRIMARY KEY);\n"
               "CREATE PUBLICATION cd_pub FOR TABLE cd_t;");
    memset(&slots, 0, sizeof slots);
    slots.sleep_ms = 2500;
    ctx t;
    ctx_init(&t, NULL);
    set_source(&t, "cd_slot", "cd_pub");
    ck_assert_int_eq(pgrepl_stream_set_connect_timeout(t.s, 1000), 0);
    ck_assert_int_eq(pgrepl_stream_create_slot(t.s, "cd_slot", 0, PGREPL_SNAPSHOT_NOTHING, on_created, NULL), 0);
    start_streaming(&t);
    ck_assert_int_eq(t.n_error, 0);
    ck_assert_str_eq(t.states, "connecting,streaming");
    slots.sleep_ms = 0;
    ctx_fini(&t);
    drop_slot_sql("cd_slot");
}
END_TEST

/*
 * Backoff: failures in a row make the delays grow, but a connection that
 * streamed and confirmed progress starts the next outage at attempt 1 again
 * (short delays, fewer changes sent again after a restart that forgets).
 */
START_TEST(progress_resets_backoff)
{
    exec(NULL, "CREATE TABLE bo_t (id int PRIMARY KEY);\n"
               "CREATE PUBLICATION bo_pub FOR TABLE bo_t;");
    create_slot_sql("bo_slot");
    ctx t;
    ctx_init(&t, NULL);
    set_source(&t, "bo_slot", "bo_pub");
    ck_assert_int_eq(pgrepl_stream_set_reconnect(t.s, 200, 60000), 0);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_interval(t.s, 0), 0);
    ck_assert_int_eq(pgrepl_stream_set_idle_advance(t.s, false), 0);
    ck_assert_int_eq(pgrepl_stream_set_auto_ack(t.s, true), 0);
    ck_assert_int_eq(pgrepl_stream_set_status_interval(t.s, 100), 0);
    start_streaming(&t);
    /* three outages in a row with nothing confirmed between them */
    for (unsigned i = 1; i <= 3; i++) {
        exec(NULL, "SELECT pg_terminate_backend(%d)", active_pid_of("bo_slot"));
        RUN_UNTIL(&t, t.n_error == (int)i, 5000);
        ck_assert_uint_eq(t.err_attempt, i);
        RUN_UNTIL(&t, STATE(&t) == PGREPL_STREAM_STREAMING, 15000);
    }
    /* this connection confirms a transaction */
    exec(NULL, "INSERT INTO bo_t VALUES (1)");
    RUN_UNTIL(&t, t.n_commit == 1, 10000);
    RUN_UNTIL(&t, confirmed_of("bo_slot") == t.commits[0].end_lsn, 5000);
    exec(NULL, "SELECT pg_terminate_backend(%d)", active_pid_of("bo_slot"));
    RUN_UNTIL(&t, t.n_error == 4, 5000);
    ck_assert_uint_eq(t.err_attempt, 1);
    ctx_fini(&t);
    drop_slot_sql("bo_slot");
}
END_TEST

START_TEST(close_without_start)
{
    ctx t;
    ctx_init(&t, NULL);
    ck_assert_int_eq(pgrepl_stream_get_state(t.s), PGREPL_STREAM_STOPPED);
    ck_assert_int_eq(pgrepl_stream_stop_replication(t.s), 0);
    close_stream(&t);
    /* close_cb comes from the loop, never from inside close */
    ck_assert_int_eq(t.n_closed, 0);
    ctx_fini(&t);
}
END_TEST

static Suite *stream_suite(void)
{
    static char name[32];
    snprintf(name, sizeof name, "stream-pg%d", major);
    Suite *s = suite_create(name);
    TCase *tc = tcase_create("stream");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, workload_content);
    tcase_add_test(tc, ack_controls_confirmed_flush);
    tcase_add_test(tc, idle_slot_follows_keepalives);
    tcase_add_test(tc, pause_longer_than_sender_timeout);
    tcase_add_test(tc, pause_from_callback_return);
    tcase_add_test(tc, receive_timeout_watchdog);
    tcase_add_test(tc, stop_mid_transaction);
    tcase_add_test(tc, slot_commands);
    tcase_add_test(tc, exported_snapshot);
    tcase_add_test(tc, use_snapshot);
    tcase_add_test(tc, missing_slot_is_fatal);
    tcase_add_test(tc, connect_failure);
    tcase_add_test(tc, terminated_backend_is_transient);
    tcase_add_test(tc, large_rows_arrive_whole);
    tcase_add_test(tc, unix_read_batching);
    tcase_add_test(tc, streams_over_ssl);
    tcase_add_test(tc, callback_failure_is_fatal);
    tcase_add_test(tc, missing_publication);
    tcase_add_test(tc, unsupported_options);
    tcase_add_test(tc, close_inside_slot_callback);
    tcase_add_test(tc, close_inside_decoder_callback);
    tcase_add_test(tc, close_inside_state_callback);
    tcase_add_test(tc, close_without_start);
    tcase_add_test(tc, start_position_is_not_confirmed);
    tcase_add_test(tc, position_beyond_wal_is_refused);
    tcase_add_test(tc, durable_position);
    tcase_add_test(tc, recreated_slot_is_a_gap);
    tcase_add_test(tc, connect_deadline_spares_slot_callbacks);
    tcase_add_test(tc, progress_resets_backoff);
    /* last: it changes the server's wal_sender_timeout for a while */
    tcase_add_test(tc, reply_requested_keepalives);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    major = pgt_major_from_args(argc, argv);
    return pgrepl_test_run_suite(stream_suite());
}
