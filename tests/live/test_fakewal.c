/*
 * The stream against a scripted fake walsender (tests/tools/fakewal.c) that
 * claims to be the major given as argv[1]: truncated, oversized and garbage
 * CopyData, unknown message types, contradictory LSNs, broken framing, a
 * stall and a server that never answers. Each time the stream must report
 * a retryable error, reconnect, resume at what was acknowledged, and never
 * confirm anything it did not fully process; the loop must close cleanly.
 * Also: the TCP settings of the connection, and stop / close / start while
 * a reconnection is pending.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "conn.h"
#include "harness.h"
#include "pgrepl/uv.h"
#include "testutil.h"

static int major;

/* ---- the fake server ------------------------------------------------------------ */

typedef struct fake {
    pid_t pid;
    int port;
    char dir[64];
    char script[96];
    char log[96];
} fake;

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_int_ge(fputs(text, f), 0);
    ck_assert_int_eq(fclose(f), 0);
}

/* Start fakewal with script; it dies with the test process (PR_SET_PDEATHSIG). */
static void fake_start(fake *f, const char *script)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/pgrepl-fakewal-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(f->dir));
    snprintf(f->script, sizeof f->script, "%s/script", f->dir);
    snprintf(f->log, sizeof f->log, "%s/log", f->dir);
    write_text(f->script, script);
    const char *root = getenv("PGREPL_BUILD_ROOT");
    ck_assert_msg(root != NULL, "PGREPL_BUILD_ROOT is not set (run through meson test)");
    char exe[512], version[16];
    snprintf(exe, sizeof exe, "%s/tests/tools/fakewal", root);
    snprintf(version, sizeof version, "%d.4", major);
    int out[2];
    ck_assert_int_eq(pipe(out), 0);
    pid_t parent = getpid();
    f->pid = fork();
    ck_assert_int_ge(f->pid, 0);
    if (f->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execl(exe, "fakewal", f->script, f->log, version, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[32] = {0};
    ssize_t n = read(out[0], line, sizeof line - 1);
    close(out[0]);
    ck_assert_msg(n > 0, "fakewal did not start (%s)", exe);
    f->port = atoi(line);
    ck_assert_int_gt(f->port, 0);
}

/* Stop fakewal and return its log (free() it). */
static char *fake_stop(fake *f)
{
    kill(f->pid, SIGTERM);
    int status;
    waitpid(f->pid, &status, 0);
    FILE *in = fopen(f->log, "r");
    ck_assert_ptr_nonnull(in);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, in);
    text[n] = '\0';
    fclose(in);
    unlink(f->log);
    unlink(f->script);
    rmdir(f->dir);
    char *copy = strdup(text);
    ck_assert_ptr_nonnull(copy);
    return copy;
}

/* The flush LSNs of every status update in the log: the highest one, and how many there were. */
static pgrepl_lsn max_flush(const char *log, int *count)
{
    pgrepl_lsn max = 0;
    *count = 0;
    for (const char *p = strstr(log, "status "); p != NULL; p = strstr(p + 1, "status ")) {
        char w[32], fl[32];
        ck_assert_int_eq(sscanf(p, "status %31s %31s", w, fl), 2);
        pgrepl_lsn lsn;
        ck_assert_int_eq(pgrepl_lsn_parse(fl, &lsn), 0);
        max = lsn > max ? lsn : max;
        (*count)++;
    }
    return max;
}

/* The start LSN of the nth START_REPLICATION (1-based) in the log, or a failed test. */
static pgrepl_lsn start_lsn_of(const char *log, int nth)
{
    const char *p = log;
    for (int i = 0; i < nth; i++) {
        p = strstr(p, "query START_REPLICATION SLOT \"s\" LOGICAL ");
        ck_assert_msg(p != NULL, "no START_REPLICATION number %d in:\n%s", nth, log);
        p += 1;
    }
    char lsn_text[32];
    ck_assert_int_eq(sscanf(p - 1, "query START_REPLICATION SLOT \"s\" LOGICAL %31s", lsn_text), 1);
    pgrepl_lsn lsn;
    ck_assert_int_eq(pgrepl_lsn_parse(lsn_text, &lsn), 0);
    return lsn;
}

static int count_of(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = strstr(text, what); p != NULL; p = strstr(p + 1, what))
        n++;
    return n;
}

/* ---- pgoutput bytes as script lines ----------------------------------------------- */

typedef struct bytes {
    unsigned char b[4096];
    size_t n;
} bytes;

static void b8(bytes *x, unsigned v)
{
    ck_assert_uint_lt(x->n, sizeof x->b);
    x->b[x->n++] = (unsigned char)v;
}

static void b16(bytes *x, unsigned v)
{
    b8(x, v >> 8);
    b8(x, v & 0xff);
}

static void b32(bytes *x, uint32_t v)
{
    b16(x, v >> 16);
    b16(x, v & 0xffff);
}

static void b64(bytes *x, uint64_t v)
{
    b32(x, (uint32_t)(v >> 32));
    b32(x, (uint32_t)v);
}

static void bstr(bytes *x, const char *s)
{
    for (const char *p = s; *p != '\0'; p++)
        b8(x, (unsigned char)*p);
    b8(x, 0);
}

typedef struct script {
    char text[1 << 16];
    size_t n;
} script;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void line(script *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->text + s->n, sizeof s->text - s->n, fmt, ap);
    va_end(ap);
    ck_assert(n >= 0 && (size_t)n < sizeof s->text - s->n - 1);
    s->n += (size_t)n;
    s->text[s->n++] = '\n';
    s->text[s->n] = '\0';
}

/* A script line: "d" for a CopyData payload, "raw" for bytes as they are. */
static void emit(script *s, const char *action, const bytes *x)
{
    char hex[2 * sizeof x->b + 1];
    for (size_t i = 0; i < x->n; i++)
        snprintf(hex + 2 * i, 3, "%02x", x->b[i]);
    hex[2 * x->n] = '\0';
    line(s, "%s %s", action, hex);
}

/* XLogData header ('w', dataStart, walEnd, sendTime) in front of a pgoutput message. */
static void xlog(bytes *x, pgrepl_lsn start, pgrepl_lsn end)
{
    x->n = 0;
    b8(x, 'w');
    b64(x, start);
    b64(x, end);
    b64(x, 0x0003000000000000u);
}

static void w_begin(script *s, pgrepl_lsn at, pgrepl_lsn final_lsn, uint32_t xid)
{
    bytes x;
    xlog(&x, at, at);
    b8(&x, 'B');
    b64(&x, final_lsn);
    b64(&x, 0x0003000000000000u);
    b32(&x, xid);
    emit(s, "d", &x);
}

static void w_relation(script *s)
{
    bytes x;
    xlog(&x, 0, 0);
    b8(&x, 'R');
    b32(&x, 16384);
    bstr(&x, "public");
    bstr(&x, "t");
    b8(&x, 'd');
    b16(&x, 1);
    b8(&x, 1);
    bstr(&x, "n");
    b32(&x, 23);
    b32(&x, 0xffffffff);
    emit(s, "d", &x);
}

static void w_insert(script *s, pgrepl_lsn at, const char *value)
{
    bytes x;
    xlog(&x, at, at);
    b8(&x, 'I');
    b32(&x, 16384);
    b8(&x, 'N');
    b16(&x, 1);
    b8(&x, 't');
    b32(&x, (uint32_t)strlen(value));
    for (const char *p = value; *p != '\0'; p++)
        b8(&x, (unsigned char)*p);
    emit(s, "d", &x);
}

static void w_commit(script *s, pgrepl_lsn commit_lsn, pgrepl_lsn end_lsn)
{
    bytes x;
    xlog(&x, end_lsn, end_lsn);
    b8(&x, 'C');
    b8(&x, 0);
    b64(&x, commit_lsn);
    b64(&x, end_lsn);
    b64(&x, 0x0003000000000000u);
    emit(s, "d", &x);
}

/* A whole transaction: Begin at `at` announcing commit_lsn, one Insert of value, Commit ending at end_lsn. */
static void w_transaction(script *s, pgrepl_lsn at, pgrepl_lsn commit_lsn, pgrepl_lsn end_lsn, uint32_t xid,
                          const char *value)
{
    w_begin(s, at, commit_lsn, xid);
    w_insert(s, at + 0x10, value);
    w_commit(s, commit_lsn, end_lsn);
}

/* The valid first transaction of every script: Relation, B, I, C; it ends at TX1_END. */
#define TX1_COMMIT UINT64_C(0x1000100)
#define TX1_END UINT64_C(0x1000130)

static void first_transaction(script *s)
{
    w_relation(s);
    w_transaction(s, 0x1000000, TX1_COMMIT, TX1_END, 700, "1");
    /* status updates go out every 100 ms: one confirms the first transaction before the trouble */
    line(s, "sleep 300");
}

/* ---- the stream -------------------------------------------------------------------- */

typedef struct ctx {
    uv_loop_t loop;
    uv_timer_t wake;
    pgrepl_stream *s;
    int n_closed;
    int n_begin, n_commit, n_insert;
    pgrepl_lsn last_end;
    int n_error;
    int err_code;
    bool err_fatal, err_retrying;
    unsigned err_attempt;
    uint64_t err_retry_in_ms;
    char err_message[512];
    uint64_t err_at_ms;
    int n_streaming;
    char states[512];
    bool stop_on_error, close_on_error, start_on_error;
    int start_on_error_rc;
    char err_sqlstate[8], err_server_message[128], err_server_detail[128];
    int n_notice;
    char notice[512]; /* severity|sqlstate|message|detail|hint of the last notice */
    unsigned stall_ms;  /* the first commit's callback blocks the loop this long */
    unsigned wakes;     /* the 20 ms timer fired: the loop is running */
} ctx;

static uint64_t now_ms(ctx *t)
{
    uv_update_time(&t->loop);
    return uv_now(&t->loop);
}

static int cb_begin(void *ud, const pgrepl_msg_begin *m)
{
    ctx *t = ud;
    (void)m;
    t->n_begin++;
    return 0;
}

static int cb_insert(void *ud, const pgrepl_msg_change *m)
{
    ctx *t = ud;
    (void)m;
    t->n_insert++;
    return 0;
}

static int cb_commit(void *ud, const pgrepl_msg_commit *m)
{
    ctx *t = ud;
    t->n_commit++;
    t->last_end = m->end_lsn;
    if (t->n_commit == 1 && t->stall_ms > 0)
        uv_sleep(t->stall_ms);
    return 0;
}

static void on_closed(pgrepl_stream *s)
{
    ctx *t = pgrepl_stream_get_data(s);
    t->n_closed++;
    t->s = NULL;
}

static void cb_state(pgrepl_stream *s, pgrepl_stream_state state)
{
    ctx *t = pgrepl_stream_get_data(s);
    ck_assert_int_eq(pgrepl_stream_get_state(s), state);
    size_t n = strlen(t->states);
    snprintf(t->states + n, sizeof t->states - n, "%s%s", n ? "," : "", pgrepl_stream_state_name(state));
    if (state == PGREPL_STREAM_STREAMING)
        t->n_streaming++;
}

static void cb_error(pgrepl_stream *s, const pgrepl_error *err)
{
    ctx *t = pgrepl_stream_get_data(s);
    t->n_error++;
    t->err_code = err->code;
    t->err_fatal = err->fatal;
    t->err_retrying = err->retrying;
    t->err_attempt = err->attempt;
    t->err_retry_in_ms = err->retry_in_ms;
    t->err_at_ms = now_ms(t);
    snprintf(t->err_message, sizeof t->err_message, "%s", err->message);
    snprintf(t->err_sqlstate, sizeof t->err_sqlstate, "%s", err->server != NULL ? err->server->sqlstate : "");
    snprintf(t->err_server_message, sizeof t->err_server_message, "%s",
             err->server != NULL ? err->server->message : "");
    snprintf(t->err_server_detail, sizeof t->err_server_detail, "%s", err->server != NULL ? err->server->detail : "");
    ck_assert_ptr_null(strchr(err->message, '\n'));
    ck_assert_int_eq(pgrepl_stream_get_state(s),
                     err->retrying ? PGREPL_STREAM_RECONNECTING : PGREPL_STREAM_STOPPED);
    if (t->stop_on_error)
        ck_assert_int_eq(pgrepl_stream_stop_replication(s), 0);
    if (t->close_on_error)
        ck_assert_int_eq(pgrepl_stream_close(s, on_closed), 0);
    if (t->start_on_error)
        t->start_on_error_rc = pgrepl_stream_start_replication(s);
}

static void cb_notice(pgrepl_stream *s, const pgrepl_server_message *m)
{
    ctx *t = pgrepl_stream_get_data(s);
    t->n_notice++;
    snprintf(t->notice, sizeof t->notice, "%s|%s|%s|%s|%s", m->severity, m->sqlstate, m->message, m->detail, m->hint);
}

static const pgrepl_decoder_callbacks dcb = {.on_begin = cb_begin, .on_insert = cb_insert, .on_commit = cb_commit};
static const pgrepl_stream_callbacks scb = {.on_state = cb_state, .on_error = cb_error, .on_notice = cb_notice};

static void on_wake(uv_timer_t *h)
{
    ctx *t = h->data;
    t->wakes++;
}

#define RUN_UNTIL(t, cond, ms)                                                                                        \
    do {                                                                                                              \
        uint64_t until_ = now_ms(t) + (ms);                                                                           \
        while (!(cond) && now_ms(t) < until_)                                                                         \
            uv_run(&(t)->loop, UV_RUN_ONCE);                                                                          \
        ck_assert_msg((cond), "waited %d ms for %s; states %s; %d errors, last: %s", (int)(ms), #cond, (t)->states,  \
                      (t)->n_error, (t)->err_message);                                                                \
    } while (0)

static void run_for(ctx *t, uint64_t ms)
{
    uint64_t until = now_ms(t) + ms;
    while (now_ms(t) < until)
        uv_run(&t->loop, UV_RUN_ONCE);
}

/* A stream on the fake: auto-ack, status every 100 ms, quick reconnection, no heartbeats. */
static void ctx_init(ctx *t, const fake *f, const char *extra)
{
    memset(t, 0, sizeof *t);
    ck_assert_int_eq(uv_loop_init(&t->loop), 0);
    ck_assert_int_eq(uv_timer_init(&t->loop, &t->wake), 0);
    t->wake.data = t;
    ck_assert_int_eq(uv_timer_start(&t->wake, on_wake, 20, 20), 0);
    t->s = pgrepl_stream_new(&t->loop);
    ck_assert_ptr_nonnull(t->s);
    char conninfo[256];
    snprintf(conninfo, sizeof conninfo, "host=127.0.0.1 port=%d user=u dbname=d sslmode=disable %s", f->port,
             extra != NULL ? extra : "");
    ck_assert_int_eq(pgrepl_stream_set_conninfo(t->s, conninfo), 0);
    ck_assert_int_eq(pgrepl_stream_set_slot(t->s, "s"), 0);
    ck_assert_int_eq(pgrepl_stream_add_publication(t->s, "p"), 0);
    ck_assert_int_eq(pgrepl_stream_set_callbacks(t->s, &dcb, sizeof dcb, &scb, sizeof scb), 0);
    ck_assert_int_eq(pgrepl_stream_set_auto_ack(t->s, true), 0);
    ck_assert_int_eq(pgrepl_stream_set_status_interval(t->s, 100), 0);
    ck_assert_int_eq(pgrepl_stream_set_reconnect(t->s, 100, 200), 0);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_interval(t->s, 0), 0);
    pgrepl_stream_set_data(t->s, t);
}

static void ctx_fini(ctx *t)
{
    if (t->s != NULL)
        ck_assert_int_eq(pgrepl_stream_close(t->s, on_closed), 0);
    RUN_UNTIL(t, t->n_closed == 1, 5000);
    uv_close((uv_handle_t *)&t->wake, NULL);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&t->loop), 0);
}

/* ---- broken streams ------------------------------------------------------------------ */

typedef enum outcome { PROTOCOL, LOST, TIMEOUT } outcome;

typedef struct fault {
    const char *name;
    void (*write)(script *s);
    outcome expect;
    const char *message_has;
} fault;

static void f_short_header(script *s)
{
    line(s, "d 7700000000");
}

static void f_truncated_message(script *s)
{
    bytes x;
    xlog(&x, 0x1000200, 0x1000200);
    b8(&x, 'B');
    b32(&x, 0);
    emit(s, "d", &x);
}

static void f_garbage(script *s)
{
    line(s, "d 7a0102030405060708090a0b0c0d0e0f");
}

static void f_unknown_message(script *s)
{
    bytes x;
    xlog(&x, 0x1000200, 0x1000200);
    b8(&x, 'Z');
    b32(&x, 7);
    emit(s, "d", &x);
}

static void f_start_end_differ(script *s)
{
    bytes x;
    xlog(&x, 0x1000200, 0x5000000);
    b8(&x, 'B');
    b64(&x, 0x1000300);
    b64(&x, 0);
    b32(&x, 701);
    emit(s, "d", &x);
}

/* a whole transaction whose Commit names another record than its Begin */
static void f_commit_mismatch(script *s)
{
    w_begin(s, 0x1000200, 0x1000300, 701);
    w_insert(s, 0x1000210, "2");
    w_commit(s, 0x1000310, 0x1000340);
}

/* a later transaction that ends before the first one */
static void f_end_backwards(script *s)
{
    w_transaction(s, 0x1000200, 0x1000080, 0x1000100, 701, "2");
}

/* a commit record that ends where it starts */
static void f_empty_commit_record(script *s)
{
    w_begin(s, 0x1000200, 0x1000300, 701);
    w_commit(s, 0x1000300, 0x1000300);
}

static void f_huge_column_count(script *s)
{
    bytes x;
    xlog(&x, 0, 0);
    b8(&x, 'R');
    b32(&x, 16385);
    bstr(&x, "public");
    bstr(&x, "u");
    b8(&x, 'd');
    b16(&x, 32767);
    emit(s, "d", &x);
}

/* a logical message (any user can emit one) whose content length runs past the message */
static void f_message_too_long(script *s)
{
    bytes x;
    xlog(&x, 0x1000200, 0x1000200);
    b8(&x, 'M');
    b8(&x, 0);
    b64(&x, 0x1000200);
    bstr(&x, "prefix");
    b32(&x, 0x7fffffff);
    b8(&x, 'x');
    emit(s, "d", &x);
}

static void f_prefix_without_nul(script *s)
{
    bytes x;
    xlog(&x, 0x1000200, 0x1000200);
    b8(&x, 'M');
    b8(&x, 0);
    b64(&x, 0x1000200);
    for (int i = 0; i < 64; i++)
        b8(&x, 'p');
    emit(s, "d", &x);
}

/*
 * A CopyData announcing 1 GB (the most a server can send), 100 bytes of it,
 * then the connection closes: nothing is reserved for the bytes that never
 * come (declared_length_is_not_allocated measures it).
 */
static void f_oversized_then_close(script *s)
{
    bytes x = {.n = 0};
    b8(&x, 'd');
    b32(&x, 0x40000004);
    for (int i = 0; i < 100; i++)
        b8(&x, 'w');
    emit(s, "raw", &x);
    line(s, "close");
}

/* a CopyData announcing 1 MB, a few bytes, then silence: only the receive timeout can tell */
static void f_oversized_then_stall(script *s)
{
    bytes x = {.n = 0};
    b8(&x, 'd');
    b32(&x, 0x100000);
    b8(&x, 'w');
    emit(s, "raw", &x);
    line(s, "hang");
}

static void f_negative_length(script *s)
{
    line(s, "raw 64ffffffff");
}

/* larger than any message a server can send: refused at its header, nothing waited for */
static void f_beyond_limit(script *s)
{
    line(s, "raw 6440100005");
    line(s, "hang");
}

/* a protocol message that has no business inside CopyBoth */
static void f_foreign_message(script *s)
{
    line(s, "raw 2100000004");
}

/* a transaction cut off by the server going away: begun, never committed */
static void f_cut_mid_transaction(script *s)
{
    w_begin(s, 0x1000200, 0x1000300, 701);
    w_insert(s, 0x1000210, "2");
    line(s, "close");
}

/* how a walsender ends at a server shutdown: CommandComplete "COPY 0" (no CopyDone), then it exits */
static void f_shutdown_copy0(script *s)
{
    line(s, "raw 430000000b434f5059203000");
    line(s, "close");
}

static const fault faults[] = {
    {"short XLogData header", f_short_header, PROTOCOL, "bad CopyData"},
    {"truncated pgoutput message", f_truncated_message, PROTOCOL, "protocol error"},
    {"garbage CopyData", f_garbage, PROTOCOL, "bad CopyData"},
    {"unknown message type", f_unknown_message, PROTOCOL, "protocol error"},
    {"dataStart differs from walEnd", f_start_end_differ, PROTOCOL, "XLogData from 0/1000200 to 0/5000000"},
    {"Commit does not match Begin", f_commit_mismatch, PROTOCOL, "after a Begin announcing 0/1000300"},
    {"commit end going backwards", f_end_backwards, PROTOCOL, "not after the previous end 0/1000130"},
    {"commit record of no length", f_empty_commit_record, PROTOCOL, "starts at 0/1000300 but ends at 0/1000300"},
    {"column count beyond the message", f_huge_column_count, PROTOCOL, "protocol error"},
    {"message content beyond the message", f_message_too_long, PROTOCOL, "protocol error"},
    {"message prefix without its end", f_prefix_without_nul, PROTOCOL, "protocol error"},
    {"oversized CopyData, then close", f_oversized_then_close, LOST, "connection"},
    {"oversized CopyData, then silence", f_oversized_then_stall, TIMEOUT, "nothing received"},
    {"negative CopyData length", f_negative_length, PROTOCOL, "lost synchronization"},
    {"CopyData beyond 1 GB", f_beyond_limit, PROTOCOL, "announces 1074790405 bytes"},
    {"foreign message inside the copy", f_foreign_message, PROTOCOL, "unexpected message type 0x21"},
    {"connection closed mid-transaction", f_cut_mid_transaction, LOST, "connection"},
    {"server shutdown: COPY 0, then close", f_shutdown_copy0, LOST, "connection"},
};

START_TEST(broken_stream)
{
    const fault *fl = &faults[_i];
    script sc = {.n = 0};
    first_transaction(&sc);
    fl->write(&sc);
    fake f;
    fake_start(&f, sc.text);
    ctx t;
    ctx_init(&t, &f, NULL);
    ck_assert_int_eq(pgrepl_stream_set_receive_timeout(t.s, 1500), 0);
    ck_assert_int_eq(pgrepl_stream_start_replication(t.s), 0);
    RUN_UNTIL(&t, t.n_error == 1, 10000);
    /* reported, retryable, and a reconnection is under way */
    int want = fl->expect == PROTOCOL ? PGREPL_EPROTOCOL : fl->expect == TIMEOUT ? PGREPL_ETIMEDOUT : -1;
    if (want != -1)
        ck_assert_msg(t.err_code == want, "%s: %s (%s)", fl->name, pgrepl_err_name(t.err_code), t.err_message);
    else
        ck_assert_msg(t.err_code == PGREPL_ECONNLOST, "%s: %s (%s)", fl->name, pgrepl_err_name(t.err_code),
                      t.err_message);
    ck_assert_msg(strstr(t.err_message, fl->message_has) != NULL, "%s: message \"%s\" lacks \"%s\"", fl->name,
                  t.err_message, fl->message_has);
    ck_assert(!t.err_fatal && t.err_retrying);
    ck_assert_uint_eq(t.err_attempt, 1);
    ck_assert(t.err_retry_in_ms >= 100 && t.err_retry_in_ms <= 200);
    /* the second connection streams; only the first transaction was delivered and acknowledged */
    RUN_UNTIL(&t, t.n_streaming == 2, 5000);
    ck_assert_uint_eq(pgrepl_stream_reconnects(t.s), 1);
    ck_assert_int_eq(t.n_commit, 1);
    ck_assert_uint_eq(t.last_end, TX1_END);
    ck_assert_uint_eq(pgrepl_stream_acked_lsn(t.s), TX1_END);
    ck_assert_int_eq(pgrepl_stream_stop_replication(t.s), 0);
    RUN_UNTIL(&t, pgrepl_stream_get_state(t.s) == PGREPL_STREAM_STOPPED, 5000);
    ctx_fini(&t);
    char *log = fake_stop(&f);
    /* two connections; the second resumed after what was acknowledged */
    ck_assert_msg(count_of(log, "conn ") == 2, "%s", log);
    ck_assert_uint_eq(start_lsn_of(log, 1), 0);
    ck_assert_uint_eq(start_lsn_of(log, 2), TX1_END);
    /* confirmed: the first transaction, and never anything of what followed it */
    int n;
    pgrepl_lsn flush = max_flush(log, &n);
    ck_assert_msg(flush == TX1_END, "%s: highest flush %llx\n%s", fl->name, (unsigned long long)flush, log);
    ck_assert_int_gt(n, 1);
    free(log);
}
END_TEST

/* ---- the server's own messages inside the copy ----------------------------------------- */

/* An ErrorResponse or NoticeResponse of fields "Xvalue", as a raw script line. */
static void w_fields(script *s, char type, const char *const *fields)
{
    bytes x = {.n = 0};
    b8(&x, (unsigned char)type);
    b32(&x, 0);
    for (const char *const *f = fields; *f != NULL; f++)
        bstr(&x, *f);
    b8(&x, 0);
    uint32_t len = (uint32_t)x.n - 1;
    x.b[1] = (unsigned char)(len >> 24);
    x.b[2] = (unsigned char)(len >> 16);
    x.b[3] = (unsigned char)(len >> 8);
    x.b[4] = (unsigned char)len;
    emit(s, "raw", &x);
}

/*
 * As PostgreSQL 18 warns of a missing publication, and 14-17 fail on it:
 * a WARNING (NoticeResponse) between CopyData messages, a transaction
 * after it, then an ERROR ending the copy, and ReadyForQuery. The notice
 * reaches on_notice with every field (the localized severity is ignored
 * for the V field); the error is the server's, classified (fatal: the
 * publication is missing) and nothing after the last commit is confirmed.
 */
START_TEST(notice_and_error_inside_the_copy)
{
    script sc = {.n = 0};
    first_transaction(&sc);
    const char *const warning[] = {"SWARNUNG", "VWARNING", "C55000", "Mskipped loading publication \"p\"",
                                   "DThe publication does not exist at this point in the WAL.",
                                   "HCreate the publication if it does not exist.", "Fpgoutput.c", NULL};
    w_fields(&sc, 'N', warning);
    w_transaction(&sc, 0x1000200, 0x1000300, 0x1000330, 701, "2");
    line(&sc, "sleep 300");
    const char *const error[] = {"SFEHLER", "VERROR", "C42704", "Mpublication \"p\" does not exist",
                                 "Wslot \"s\", output plugin \"pgoutput\", in the change callback", NULL};
    w_fields(&sc, 'E', error);
    line(&sc, "raw 5a0000000549");
    line(&sc, "hang");
    fake f;
    fake_start(&f, sc.text);
    ctx t;
    ctx_init(&t, &f, NULL);
    ck_assert_int_eq(pgrepl_stream_start_replication(t.s), 0);
    RUN_UNTIL(&t, t.n_error == 1, 10000);
    ck_assert_int_eq(t.n_notice, 1);
    ck_assert_str_eq(t.notice, "WARNING|55000|skipped loading publication \"p\"|The publication does not exist at "
                               "this point in the WAL.|Create the publication if it does not exist.");
    ck_assert_int_eq(t.n_commit, 2);
    ck_assert_msg(t.err_code == PGREPL_ESERVER && t.err_fatal && !t.err_retrying, "%s (%s)",
                  pgrepl_err_name(t.err_code), t.err_message);
    ck_assert_str_eq(t.err_sqlstate, "42704");
    ck_assert_str_eq(t.err_server_message, "publication \"p\" does not exist");
    ck_assert_str_eq(t.err_server_detail, "");
    ck_assert_msg(strstr(t.err_message, "ERROR 42704: publication \"p\" does not exist") != NULL, "%s",
                  t.err_message);
    ctx_fini(&t);
    char *log = fake_stop(&f);
    int n;
    ck_assert_uint_eq(max_flush(log, &n), 0x1000330);
    free(log);
}
END_TEST

/* ---- what a declared length costs ---------------------------------------------------- */

static size_t largest_alloc;
static size_t refuse_above = SIZE_MAX;

static bool note_size(size_t n)
{
    if (n > largest_alloc)
        largest_alloc = n;
    return n <= refuse_above;
}

static void *counting_malloc(size_t n)
{
    return note_size(n) ? malloc(n) : NULL;
}

static void *counting_realloc(void *p, size_t n)
{
    return note_size(n) ? realloc(p, n) : NULL;
}

#define RECEIVED_OF_HUGE (3u << 20)

/*
 * A CopyData announcing 1 GB of which 3 MB arrive before the connection
 * closes. The library reads the copy itself and buffers what arrived:
 * its largest allocation is at least the 3 MB (the bytes were read here,
 * not by libpq, which would reserve the whole declared gigabyte first) and
 * at most twice what arrived plus one initial buffer. _i 1: allocations
 * above 1 MB fail, which is reported as such (PGREPL_ENOMEM, retryable).
 */
START_TEST(declared_length_is_not_allocated)
{
    const pgrepl_allocator counting = {counting_malloc, counting_realloc, free};
    pgrepl_set_allocator(&counting);
    refuse_above = _i == 1 ? (size_t)1 << 20 : SIZE_MAX;
    script sc = {.n = 0};
    first_transaction(&sc);
    line(&sc, "raw 6440000004");
    line(&sc, "fill %u 77", RECEIVED_OF_HUGE);
    line(&sc, "sleep 200");
    line(&sc, "close");
    fake f;
    fake_start(&f, sc.text);
    ctx t;
    ctx_init(&t, &f, NULL);
    largest_alloc = 0;
    ck_assert_int_eq(pgrepl_stream_start_replication(t.s), 0);
    RUN_UNTIL(&t, t.n_error == 1, 10000);
    if (_i == 1) {
        ck_assert_msg(t.err_code == PGREPL_ENOMEM && !t.err_fatal && t.err_retrying, "%s (%s)",
                      pgrepl_err_name(t.err_code), t.err_message);
        ck_assert_str_eq(t.err_message, "replication stream: out of memory for the input buffer");
    } else {
        ck_assert_msg(t.err_code == PGREPL_ECONNLOST, "%s (%s)", pgrepl_err_name(t.err_code), t.err_message);
    }
    ck_assert_msg(largest_alloc >= (_i == 1 ? (size_t)1 << 20 : RECEIVED_OF_HUGE) &&
                      largest_alloc <= 2 * RECEIVED_OF_HUGE + (64u << 10),
                  "largest allocation %zu bytes for %u received", largest_alloc, RECEIVED_OF_HUGE);
    ck_assert_int_eq(pgrepl_stream_stop_replication(t.s), 0);
    RUN_UNTIL(&t, pgrepl_stream_get_state(t.s) == PGREPL_STREAM_STOPPED, 5000);
    ctx_fini(&t);
    free(fake_stop(&f));
    pgrepl_set_allocator(NULL);
}
END_TEST

/*
 * A callback that blocks the loop for longer than the receive timeout while
 * the server goes on sending: the bytes waiting in the socket are not
 * silence. The stream reads them instead of declaring the connection dead.
 */
START_TEST(slow_callback_is_not_silence)
{
    script sc = {.n = 0};
    first_transaction(&sc);
    w_transaction(&sc, 0x1000200, 0x1000300, 0x1000330, 701, "2");
    line(&sc, "idle");
    fake f;
    fake_start(&f, sc.text);
    ctx t;
    ctx_init(&t, &f, NULL);
    t.stall_ms = 2500;
    ck_assert_int_eq(pgrepl_stream_set_receive_timeout(t.s, 1000), 0);
    ck_assert_int_eq(pgrepl_stream_start_replication(t.s), 0);
    RUN_UNTIL(&t, t.n_commit == 2, 10000);
    run_for(&t, 500);
    ck_assert_msg(t.n_error == 0, "%s", t.err_message);
    ck_assert_str_eq(t.states, "connecting,streaming");
    ck_assert_uint_eq(pgrepl_stream_reconnects(t.s), 0);
    ctx_fini(&t);
    free(fake_stop(&f));
}
END_TEST

/*
 * Read batching: a burst makes the stream pause after each read; a last
 * transaction after a silence (no keepalive either), much less than a
 * burst, must still arrive: the read after the pause takes it, or the
 * burst has ended and it wakes the loop itself.
 */
START_TEST(read_batch_burst_then_silence)
{
    script sc = {.n = 0};
    first_transaction(&sc);
    pgrepl_lsn at = 0x1000200;
    for (int i = 0; i < 150; i++, at += 0x100)
        w_transaction(&sc, at, at + 0x80, at + 0xb0, 701 + (uint32_t)i, "2");
    line(&sc, "sleep 400");
    w_transaction(&sc, at, at + 0x80, at + 0xb0, 900, "3");
    line(&sc, "hang");
    fake f;
    fake_start(&f, sc.text);
    ctx t;
    ctx_init(&t, &f, NULL);
    ck_assert_int_eq(pgrepl_stream_set_read_batch(t.s, 1024, 5000), 0);
    ck_assert_int_eq(pgrepl_stream_start_replication(t.s), 0);
    RUN_UNTIL(&t, t.n_commit == 152, 5000);
    ck_assert_uint_eq(t.last_end, at + 0xb0);
    ck_assert_int_eq(t.n_error, 0);
    ctx_fini(&t);
    free(fake_stop(&f));
}
END_TEST

/*
 * A keepalive asking for a reply and the shutdown's CommandComplete "COPY 0"
 * in one read, then nothing (a walsender would exit; this one stays): the
 * reply can no longer be sent. The stream must not spin trying (it did, at
 * 100 % CPU, never returning to the loop); it waits for the end, and the
 * receive timeout ends the wait.
 */
START_TEST(reply_due_after_the_copy_ended)
{
    script sc = {.n = 0};
    first_transaction(&sc);
    line(&sc, "raw 64000000166b000000000100013000030000000000000143" "0000000b434f5059203000");
    line(&sc, "hang");
    fake f;
    fake_start(&f, sc.text);
    ctx t;
    ctx_init(&t, &f, NULL);
    ck_assert_int_eq(pgrepl_stream_set_receive_timeout(t.s, 3000), 0);
    ck_assert_int_eq(pgrepl_stream_start_replication(t.s), 0);
    RUN_UNTIL(&t, t.n_commit == 1, 5000);
    t.wakes = 0;
    RUN_UNTIL(&t, t.n_error == 1, 8000);
    /* the loop ran while the stream waited: about 135 ticks of 20 ms in 2.7 s; a spin allows a few */
    ck_assert_msg(t.wakes > 60, "the 20 ms timer fired %u times while the stream waited", t.wakes);
    ck_assert_msg(t.err_code == PGREPL_ETIMEDOUT, "%s (%s)", pgrepl_err_name(t.err_code), t.err_message);
    ck_assert(t.err_retrying);
    RUN_UNTIL(&t, t.n_streaming == 2, 5000);
    ck_assert_uint_eq(pgrepl_stream_acked_lsn(t.s), TX1_END);
    ctx_fini(&t);
    free(fake_stop(&f));
}
END_TEST

/* ---- connect timeout ------------------------------------------------------------------ */

/* A server that accepts and never answers: the connect timeout fires, then the next attempt works. */
START_TEST(connect_timeout)
{
    fake f;
    fake_start(&f, "silent\n");
    ctx t;
    ctx_init(&t, &f, "connect_timeout=30");
    ck_assert_int_eq(pgrepl_stream_set_connect_timeout(t.s, 800), 0);
    uint64_t started = now_ms(&t);
    ck_assert_int_eq(pgrepl_stream_start_replication(t.s), 0);
    RUN_UNTIL(&t, t.n_error == 1, 5000);
    uint64_t took = t.err_at_ms - started;
    ck_assert_msg(took >= 790 && took < 1500, "the timeout fired after %llu ms", (unsigned long long)took);
    ck_assert_int_eq(t.err_code, PGREPL_ETIMEDOUT);
    ck_assert_str_eq(t.err_message, "could not connect: no answer within 800 ms (connect timeout)");
    ck_assert(!t.err_fatal && t.err_retrying);
    RUN_UNTIL(&t, t.n_streaming == 1, 5000);
    ck_assert_str_eq(t.states, "connecting,reconnecting,connecting,streaming");
    ctx_fini(&t);
    free(fake_stop(&f));
}
END_TEST

/* Without pgrepl_stream_set_connect_timeout, the conninfo's connect_timeout (seconds) applies. */
START_TEST(connect_timeout_from_conninfo)
{
    fake f;
    fake_start(&f, "silent\n");
    ctx t;
    ctx_init(&t, &f, "connect_timeout=2");
    ck_assert_int_eq(pgrepl_stream_set_reconnect(t.s, 0, 0), 0);
    uint64_t started = now_ms(&t);
    ck_assert_int_eq(pgrepl_stream_start_replication(t.s), 0);
    RUN_UNTIL(&t, t.n_error == 1, 5000);
    uint64_t took = t.err_at_ms - started;
    ck_assert_msg(took >= 1990 && took < 2700, "the timeout fired after %llu ms", (unsigned long long)took);
    ck_assert_str_eq(t.err_message, "could not connect: no answer within 2000 ms (connect timeout)");
    /* reconnection off: a retryable error leaves the stream stopped */
    ck_assert(!t.err_fatal && !t.err_retrying);
    ck_assert_str_eq(t.states, "connecting,stopped");
    ctx_fini(&t);
    free(fake_stop(&f));
}
END_TEST

/* ---- while a reconnection is pending ------------------------------------------------- */

static void pending_retry(ctx *t, fake *f)
{
    script sc = {.n = 0};
    first_transaction(&sc);
    line(&sc, "close");
    fake_start(f, sc.text);
    ctx_init(t, f, NULL);
    ck_assert_int_eq(pgrepl_stream_set_reconnect(t->s, 3000, 3000), 0);
    ck_assert_int_eq(pgrepl_stream_start_replication(t->s), 0);
}

START_TEST(stop_while_reconnecting)
{
    fake f;
    ctx t;
    pending_retry(&t, &f);
    t.stop_on_error = true;
    RUN_UNTIL(&t, t.n_error == 1, 5000);
    ck_assert(t.err_retrying);
    ck_assert_uint_eq(t.err_retry_in_ms, 3000);
    RUN_UNTIL(&t, pgrepl_stream_get_state(t.s) == PGREPL_STREAM_STOPPED, 1000);
    ck_assert_str_eq(t.states, "connecting,streaming,reconnecting,stopped");
    /* no reconnection follows */
    run_for(&t, 3300);
    ck_assert_str_eq(t.states, "connecting,streaming,reconnecting,stopped");
    ck_assert_uint_eq(pgrepl_stream_reconnects(t.s), 0);
    /* and a new start resumes after what was acknowledged */
    ck_assert_int_eq(pgrepl_stream_start_replication(t.s), 0);
    RUN_UNTIL(&t, t.n_streaming == 2, 5000);
    ctx_fini(&t);
    char *log = fake_stop(&f);
    ck_assert_uint_eq(start_lsn_of(log, 2), TX1_END);
    free(log);
}
END_TEST

START_TEST(start_and_close_while_reconnecting)
{
    fake f;
    ctx t;
    pending_retry(&t, &f);
    t.start_on_error = true;
    RUN_UNTIL(&t, t.n_error == 1, 5000);
    ck_assert_int_eq(t.start_on_error_rc, PGREPL_ESTATE);
    ck_assert_int_eq(pgrepl_stream_get_state(t.s), PGREPL_STREAM_RECONNECTING);
    ck_assert_int_eq(pgrepl_stream_set_slot(t.s, "x"), PGREPL_ESTATE);
    /* closing with the delay pending: close_cb runs and the loop closes cleanly (ctx_fini) */
    ctx_fini(&t);
    free(fake_stop(&f));
}
END_TEST

/* ---- the TCP settings of the connection ---------------------------------------------- */

static int sockopt(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    ck_assert_int_eq(getsockopt(fd, level, name, &v, &len), 0);
    return v;
}

/* Connect with the library's own connection code and look at the socket. */
static void connect_blocking(pgrepl_conn *c, const char *conninfo)
{
    ck_assert_int_eq(pgrepl__conn_start(c, conninfo, NULL, NULL), 0);
    for (int i = 0; i < 1000 && pgrepl__conn_connecting(c); i++) {
        unsigned want = pgrepl__conn_wants(c);
        fd_set rd, wr;
        FD_ZERO(&rd);
        FD_ZERO(&wr);
        int fd = pgrepl__conn_socket(c);
        ck_assert_int_ge(fd, 0);
        FD_SET(fd, (want & PGREPL_CONN_READ) ? &rd : &wr);
        struct timeval tv = {1, 0};
        ck_assert_int_ge(select(fd + 1, &rd, &wr, NULL, &tv), 0);
        pgrepl__conn_io(c, want);
    }
    ck_assert_msg(pgrepl__conn_ok(c), "%s", pgrepl__conn_errmsg(c));
}

START_TEST(tcp_settings)
{
    fake f;
    fake_start(&f, "close\n---\nclose\n");
    char conninfo[128];
    pgrepl_conn c;
    snprintf(conninfo, sizeof conninfo, "host=127.0.0.1 port=%d user=u dbname=d sslmode=disable", f.port);
    connect_blocking(&c, conninfo);
    int fd = pgrepl__conn_socket(&c);
    ck_assert_int_eq(sockopt(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
    ck_assert_int_eq(sockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE), 30);
    ck_assert_int_eq(sockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL), 10);
    ck_assert_int_eq(sockopt(fd, IPPROTO_TCP, TCP_KEEPCNT), 3);
    ck_assert_int_eq(sockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 30000);
    pgrepl__conn_finish(&c);
    /* the conninfo overrides them */
    snprintf(conninfo, sizeof conninfo,
             "host=127.0.0.1 port=%d user=u dbname=d sslmode=disable keepalives_idle=5 tcp_user_timeout=7000", f.port);
    connect_blocking(&c, conninfo);
    fd = pgrepl__conn_socket(&c);
    ck_assert_int_eq(sockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE), 5);
    ck_assert_int_eq(sockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 7000);
    ck_assert_int_eq(sockopt(fd, IPPROTO_TCP, TCP_KEEPCNT), 3);
    pgrepl__conn_finish(&c);
    free(fake_stop(&f));
}
END_TEST

int main(int argc, char **argv)
{
    major = pgt_major_from_args(argc, argv);
    Suite *s = suite_create("fakewal");
    TCase *tc = tcase_create("fakewal");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, broken_stream, 0, (int)(sizeof faults / sizeof faults[0]));
    tcase_add_loop_test(tc, declared_length_is_not_allocated, 0, 2);
    tcase_add_test(tc, notice_and_error_inside_the_copy);
    tcase_add_test(tc, slow_callback_is_not_silence);
    tcase_add_test(tc, read_batch_burst_then_silence);
    tcase_add_test(tc, reply_due_after_the_copy_ended);
    tcase_add_test(tc, connect_timeout);
    tcase_add_test(tc, connect_timeout_from_conninfo);
    tcase_add_test(tc, stop_while_reconnecting);
    tcase_add_test(tc, start_and_close_while_reconnecting);
    tcase_add_test(tc, tcp_settings);
    suite_add_tcase(s, tc);
    return pgrepl_test_run_suite(s);
}
