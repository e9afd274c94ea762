/*
 * The session engine (lib/session.c) in-process, on a fake clock, against
 * scripted walsender bytes: no server process, seconds of protocol time in
 * milliseconds.
 *
 * The fake server is tests/fakewal_core.h, listening on a Unix socket in a
 * temporary directory (conninfo host=DIR port=N), so libpq connects to this
 * process. The host is this file's: it records what the session watches
 * and the one deadline it asks for, and supplies the clock. One loop
 * (step) polls, with timeout 0, the session's watched sockets and the fake
 * server's, delivers one readiness to its owner, and when nothing is ready
 * moves the clock straight to the earliest deadline (the session's timer,
 * the script's sleeps and idle keepalives). Time passes only there, so
 * every time asserted below is exact.
 *
 * The tests assert on the fake server's log (what the client sent, and
 * when on the fake clock) and on the callbacks.
 *
 * PGREPL_SESSION_TRACE=1 prints each test's fake-server log with the fake
 * time of every line.
 */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pgrepl/pgrepl.h"
#include "fakewal_core.h"
#include "testutil.h"

#define MS INT64_C(1000)
#define SEC INT64_C(1000000)
/* The fake clock starts here: a session takes 0 for "never" in places. */
#define START_US (1000 * SEC)
#define MAX_STEPS 1000000L
#define MAX_LINES 4096
#define MAX_ERRORS 64
#define MAX_COMMITS 64
#define MAX_STATUS 256

/* ---- the world: the fake clock, the host, the fake server, what the callbacks saw ---------------------- */

typedef struct fline {
    int64_t at;
    char text[240];
} fline;

typedef struct err_rec {
    int64_t at;
    int code;
    bool fatal, retrying, continues;
    uint64_t retry_in_ms;
    unsigned attempt;
    pgrepl_stream_state state; /* the session's state during the callback */
    char message[320];
    char sqlstate[8];
} err_rec;

typedef struct status_rec {
    int64_t at;
    pgrepl_lsn write, flush;
} status_rec;

/* What a callback does to the session (ACT_COUNT: the ones close_and_free_from_every_callback loops over). */
typedef enum action {
    ACT_NONE,
    ACT_CLOSE,
    ACT_FREE,
    ACT_CLOSE_FREE,
    ACT_CLOSE_FREE_IN_CB,
    ACT_COUNT,
    ACT_STOP = ACT_COUNT,
    ACT_PAUSE
} action;

typedef struct world {
    int n_slot_arg; /* slot command callbacks that got the world as their arg */
    int64_t now;
    /* the host: what the session watches, and its deadline (absolute, -1 none) */
    int fd[2];
    unsigned ev[2];
    int64_t due;
    bool hup_is_error;   /* report POLLHUP as PGREPL_IO_ERROR, as examples/minimal-poll.c does */
    bool host_closed;    /* close_cb ran, or the session was freed: no host call may follow */
    int late_host_calls; /* host calls after that */
    unsigned rotate;
    pgrepl_session *s;
    /* the fake server */
    fakewal *fw;
    int ls;
    char dir[64], path[128], conninfo[256];
    fline lines[MAX_LINES];
    int nlines;
    /* callbacks */
    char states[1024];
    err_rec errors[MAX_ERRORS];
    int nerrors;
    int n_begin, n_commit, n_keepalive, n_notice, n_start, n_closed;
    pgrepl_lsn commit_end[MAX_COMMITS];
    int64_t commit_at[MAX_COMMITS];
    bool pause_on_first_commit;
    bool pause_by_return;
    int n_reply_requested; /* keepalives that asked for a reply */
    status_rec status[MAX_STATUS];
    int nstatus;
    status_rec acks[MAX_STATUS]; /* the test's acknowledgements (flush: the LSN), with their time */
    int nacks;
    /* close and free from inside callbacks */
    const char *target;  /* the callback that acts, by name */
    action act;
    bool acted;
    char calls[4096];    /* every callback by name, in order */
    char after[1024];    /* the callbacks after the action */
    char slots[2048];    /* what the slot command callbacks saw, one line each */
    int n_slot_cbs;
    int last_read_fd;    /* the last socket watched for reading */
} world;

static int64_t earliest(int64_t a, int64_t b)
{
    return a < 0 || (b >= 0 && b < a) ? b : a;
}

static void note_host_call(world *w)
{
    if (w->host_closed)
        w->late_host_calls++;
}

static int h_watch(void *arg, int fd, unsigned events)
{
    world *w = arg;
    note_host_call(w);
    ck_assert_int_ge(fd, 0);
    int slot = -1;
    for (int i = 0; i < 2; i++)
        if (w->fd[i] == fd)
            slot = i;
    if (events == 0) {
        if (slot >= 0)
            w->fd[slot] = -1;
        return 0;
    }
    for (int i = 0; slot < 0 && i < 2; i++)
        if (w->fd[i] < 0)
            slot = i;
    ck_assert_msg(slot >= 0, "the session watches a third socket");
    if (events & PGREPL_IO_READ)
        w->last_read_fd = fd;
    w->fd[slot] = fd;
    w->ev[slot] = events;
    return 0;
}

static int h_timer(void *arg, int64_t timeout_us)
{
    world *w = arg;
    note_host_call(w);
    w->due = timeout_us < 0 ? -1 : w->now + timeout_us;
    return 0;
}

static int64_t h_now(void *arg)
{
    return ((world *)arg)->now;
}

static int64_t fake_now(void *arg)
{
    return ((world *)arg)->now;
}

static void fake_log(void *arg, const char *text)
{
    world *w = arg;
    ck_assert_int_lt(w->nlines, MAX_LINES);
    w->lines[w->nlines].at = w->now;
    snprintf(w->lines[w->nlines].text, sizeof w->lines[w->nlines].text, "%s", text);
    w->nlines++;
}

/* Readiness as the session takes it; a hang-up is readable (libuv's way) unless hup_is_error. */
static unsigned io_events(const world *w, short revents)
{
    unsigned ev = ((revents & POLLIN) ? PGREPL_IO_READ : 0u) | ((revents & POLLOUT) ? PGREPL_IO_WRITE : 0u);
    if (revents & (POLLERR | POLLNVAL))
        ev |= PGREPL_IO_ERROR;
    if (revents & POLLHUP)
        ev |= w->hup_is_error ? PGREPL_IO_ERROR : PGREPL_IO_READ;
    return ev;
}

/*
 * One thing that can happen now: one socket's readiness delivered, the
 * session's deadline or the fake's reached; else the clock moves to the
 * earliest deadline. False when nothing can happen up to limit.
 */
static bool step(world *w, int64_t limit)
{
    struct pollfd fds[32];
    int ns = 0;
    for (int i = 0; w->s != NULL && i < 2; i++)
        if (w->fd[i] >= 0)
            fds[ns++] = (struct pollfd){.fd = w->fd[i],
                                        .events = (short)(((w->ev[i] & PGREPL_IO_READ) ? POLLIN : 0) |
                                                          ((w->ev[i] & PGREPL_IO_WRITE) ? POLLOUT : 0))};
    int n = ns + fakewal_fds(w->fw, fds + ns, 32 - ns);
    ck_assert_int_le(n, 32);
    ck_assert_int_ge(poll(fds, (nfds_t)n, 0), 0);
    for (int k = 0; k < n; k++) {
        int i = (int)((unsigned)k + w->rotate) % n;
        if (fds[i].revents == 0)
            continue;
        w->rotate++;
        if (i < ns)
            ck_assert_int_eq(pgrepl_session_io(w->s, fds[i].fd, io_events(w, fds[i].revents)), 0);
        else
            fakewal_io(w->fw, fds[i].fd, fds[i].revents);
        return true;
    }
    if (w->s != NULL && w->due >= 0 && w->due <= w->now) {
        w->due = -1;
        ck_assert_int_eq(pgrepl_session_timeout(w->s), 0);
        return true;
    }
    int64_t fake_due = fakewal_due(w->fw);
    if (fake_due >= 0 && fake_due <= w->now) {
        fakewal_timeout(w->fw);
        return true;
    }
    int64_t next = earliest(w->s != NULL ? w->due : -1, fake_due);
    if (next < 0 || next > limit)
        return false;
    w->now = next;
    return true;
}

#define RUN_UNTIL(w, cond, ms)                                                                                        \
    do {                                                                                                              \
        int64_t until_ = (w)->now + (int64_t)(ms) * MS;                                                               \
        long steps_ = 0;                                                                                              \
        while (!(cond)) {                                                                                             \
            ck_assert_msg(++steps_ < MAX_STEPS, "spinning at %lld us while waiting for %s",                           \
                          (long long)((w)->now - START_US), #cond);                                                   \
            ck_assert_msg(step((w), until_), "%s: still false after %d ms of fake time; states %s; log:\n%s", #cond,  \
                          (int)(ms), (w)->states, fakewal_log_text((w)->fw));                                        \
        }                                                                                                             \
    } while (0)

/* Let ms of fake time pass, everything due in it done. */
static void run_for(world *w, int64_t ms)
{
    int64_t until = w->now + ms * MS;
    long steps = 0;
    while (step(w, until))
        ck_assert_msg(++steps < MAX_STEPS, "spinning at %lld us", (long long)(w->now - START_US));
    if (w->now < until)
        w->now = until;
}

/* ---- what callbacks saw ------------------------------------------------------------------------------ */

static void close_cb(pgrepl_session *s);

/*
 * Every callback comes through here: recorded by name, and the action done
 * when it is the target. canceled: a slot command completed with
 * PGREPL_ECANCELED, which a close may still report.
 */
static void seen_status(world *w, pgrepl_session *s, const char *name, bool canceled)
{
    size_t n = strlen(w->calls);
    snprintf(w->calls + n, sizeof w->calls - n, "%s%s", n ? " " : "", name);
    if (w->acted && strcmp(name, "close_cb") != 0) {
        n = strlen(w->after);
        snprintf(w->after + n, sizeof w->after - n, "%s%s%s", n ? " " : "", name, canceled ? "(canceled)" : "");
    }
    if (w->acted || w->target == NULL || strcmp(w->target, name) != 0)
        return;
    w->acted = true;
    switch (w->act) {
    case ACT_CLOSE:
    case ACT_CLOSE_FREE_IN_CB:
        ck_assert_int_eq(pgrepl_session_close(s, close_cb), 0);
        break;
    case ACT_FREE:
        pgrepl_session_free(s);
        w->s = NULL;
        break;
    case ACT_CLOSE_FREE:
        ck_assert_int_eq(pgrepl_session_close(s, close_cb), 0);
        pgrepl_session_free(s);
        w->s = NULL;
        break;
    case ACT_STOP:
        ck_assert_int_eq(pgrepl_session_stop(s), 0);
        break;
    case ACT_PAUSE:
        ck_assert_int_eq(pgrepl_session_pause(s), 0);
        break;
    default:
        break;
    }
}

static void seen(world *w, pgrepl_session *s, const char *name)
{
    seen_status(w, s, name, false);
}

static void close_cb(pgrepl_session *s)
{
    world *w = pgrepl_session_get_data(s);
    w->n_closed++;
    seen(w, s, "close_cb");
    /* after close_cb the session asks nothing of the host; its sockets are unwatched, its timer canceled */
    ck_assert_int_eq(w->fd[0], -1);
    ck_assert_int_eq(w->fd[1], -1);
    ck_assert_int_eq(w->due, -1);
    w->host_closed = true;
    if (w->act == ACT_CLOSE_FREE_IN_CB) {
        pgrepl_session_free(s);
        w->s = NULL;
    }
}

#define DECODER_CB(tag, member, type)                                                                                 \
    static int t_##member(void *ud, const type *m)                                                                    \
    {                                                                                                                 \
        (void)m;                                                                                                      \
        world *w = ud;                                                                                                \
        seen(w, w->s, #member);                                                                                       \
        return 0;                                                                                                     \
    }
PGREPL_DECODER_CALLBACKS(DECODER_CB)
#undef DECODER_CB

static int t_begin(void *ud, const pgrepl_msg_begin *m)
{
    world *w = ud;
    w->n_begin++;
    return t_on_begin(ud, m);
}

static int t_commit(void *ud, const pgrepl_msg_commit *m)
{
    world *w = ud;
    pgrepl_session *s = w->s;
    ck_assert_int_lt(w->n_commit, MAX_COMMITS);
    w->commit_end[w->n_commit] = m->end_lsn;
    w->commit_at[w->n_commit] = w->now;
    w->n_commit++;
    int rc = t_on_commit(ud, m);
    if (w->s == NULL)
        return rc;
    if (w->pause_on_first_commit && w->n_commit == 1) {
        if (w->pause_by_return)
            return PGREPL_PAUSE;
        ck_assert_int_eq(pgrepl_session_pause(s), 0);
    }
    return rc;
}

#define SET_CB(tag, member, type) .member = t_##member,
static const pgrepl_decoder_callbacks every_dcb = {PGREPL_DECODER_CALLBACKS(SET_CB)};
#undef SET_CB

static void s_state(pgrepl_session *s, pgrepl_stream_state state)
{
    world *w = pgrepl_session_get_data(s);
    ck_assert_int_eq(pgrepl_session_get_state(s), state);
    size_t n = strlen(w->states);
    snprintf(w->states + n, sizeof w->states - n, "%s%s", n ? "," : "", pgrepl_stream_state_name(state));
    char name[32];
    snprintf(name, sizeof name, "state:%s", pgrepl_stream_state_name(state));
    seen(w, s, name);
}

/* An error (on_error), or a problem the stream goes on after (on_warning: continues). */
static void record_error(pgrepl_session *s, const pgrepl_error *err, bool continues)
{
    world *w = pgrepl_session_get_data(s);
    ck_assert_int_lt(w->nerrors, MAX_ERRORS);
    err_rec *e = &w->errors[w->nerrors++];
    e->at = w->now;
    e->code = err->code;
    e->fatal = err->fatal;
    e->retrying = err->retrying;
    e->continues = continues;
    e->retry_in_ms = err->retry_in_ms;
    e->attempt = err->attempt;
    e->state = pgrepl_session_get_state(s);
    snprintf(e->message, sizeof e->message, "%s", err->message);
    snprintf(e->sqlstate, sizeof e->sqlstate, "%s", err->server != NULL ? err->server->sqlstate : "");
    seen(w, s, continues ? "on_warning" : "on_error");
}

static void s_error(pgrepl_session *s, const pgrepl_error *err)
{
    record_error(s, err, false);
}

static void s_warning(pgrepl_session *s, const pgrepl_error *err)
{
    record_error(s, err, true);
}

static void s_notice(pgrepl_session *s, const pgrepl_server_message *m)
{
    world *w = pgrepl_session_get_data(s);
    (void)m;
    w->n_notice++;
    seen(w, s, "on_notice");
}

static void s_keepalive(pgrepl_session *s, pgrepl_lsn wal_end, pgrepl_timestamp send_time, bool reply_requested)
{
    world *w = pgrepl_session_get_data(s);
    (void)wal_end;
    (void)send_time;
    w->n_keepalive++;
    w->n_reply_requested += reply_requested;
    seen(w, s, "on_keepalive");
}

static void s_status_sent(pgrepl_session *s, pgrepl_lsn write, pgrepl_lsn flush)
{
    world *w = pgrepl_session_get_data(s);
    ck_assert_int_lt(w->nstatus, MAX_STATUS);
    w->status[w->nstatus++] = (status_rec){w->now, write, flush};
    seen(w, s, "on_status_sent");
}

static void s_start(pgrepl_session *s, const pgrepl_start_info *info)
{
    world *w = pgrepl_session_get_data(s);
    (void)info;
    w->n_start++;
    seen(w, s, "on_start");
}

static const pgrepl_session_callbacks every_scb = {.on_state = s_state,
                                                   .on_notice = s_notice,
                                                   .on_error = s_error,
                                                   .on_warning = s_warning,
                                                   .on_keepalive = s_keepalive,
                                                   .on_status_sent = s_status_sent,
                                                   .on_start = s_start};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void slot_line(world *w, const char *fmt, ...)
{
    size_t n = strlen(w->slots);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->slots + n, sizeof w->slots - n, fmt, ap);
    va_end(ap);
    n = strlen(w->slots);
    snprintf(w->slots + n, sizeof w->slots - n, "\n");
    w->n_slot_cbs++;
}

static const char *lsn_text(pgrepl_lsn lsn)
{
    static char ring[8][PGREPL_LSN_BUFSIZE];
    static unsigned k;
    char *b = ring[k++ % 8];
    pgrepl_lsn_format(lsn, b);
    return b;
}

static void slot_created(pgrepl_session *s, int status, const pgrepl_slot_created *c, void *arg)
{
    world *w = pgrepl_session_get_data(s);
    /* the application's own pointer, given with the command */
    if (arg != NULL) {
        ck_assert_ptr_eq(arg, w);
        w->n_slot_arg++;
    }
    if (status != 0)
        slot_line(w, "created %s %s", pgrepl_err_name(status), pgrepl_session_sqlstate(s));
    else
        slot_line(w, "created %s new=%d at=%s snapshot=%s plugin=%s", c->slot_name, c->created,
                  lsn_text(c->consistent_point), c->snapshot_name ? c->snapshot_name : "-",
                  c->plugin ? c->plugin : "-");
    seen_status(w, s, "slot_created", status == PGREPL_ECANCELED);
}

static void slot_dropped(pgrepl_session *s, int status, void *arg)
{
    world *w = pgrepl_session_get_data(s);
    /* the application's own pointer, given with the command */
    if (arg != NULL) {
        ck_assert_ptr_eq(arg, w);
        w->n_slot_arg++;
    }
    slot_line(w, "dropped %s %s", status == 0 ? "ok" : pgrepl_err_name(status), pgrepl_session_sqlstate(s));
    seen_status(w, s, "slot_done", status == PGREPL_ECANCELED);
}

static void slot_info(pgrepl_session *s, int status, const pgrepl_slot_info *i, void *arg)
{
    world *w = pgrepl_session_get_data(s);
    /* the application's own pointer, given with the command */
    if (arg != NULL) {
        ck_assert_ptr_eq(arg, w);
        w->n_slot_arg++;
    }
    if (status != 0)
        slot_line(w, "info %s", pgrepl_err_name(status));
    else if (!i->exists)
        slot_line(w, "info none");
    else
        slot_line(w, "info %s %s %s temporary=%d active=%d confirmed=%s", i->slot_name, i->plugin, i->slot_type,
                  i->temporary, i->active, lsn_text(i->confirmed_flush_lsn));
    seen_status(w, s, "slot_info", status == PGREPL_ECANCELED);
}

/* ---- setting up and tearing down ------------------------------------------------------------------------- */

/*
 * The directory of the fake server's socket: made once by the suite (an
 * unchecked fixture, in Check's parent process), so that it is removed
 * even after a test that failed (its child exits without world_fini).
 */
static char sock_dir[64];

static void make_sock_dir(void)
{
    snprintf(sock_dir, sizeof sock_dir, "/tmp/pgrepl-session-XXXXXX");
    if (mkdtemp(sock_dir) == NULL) {
        perror("mkdtemp");
        exit(EXIT_FAILURE);
    }
}

static void remove_sock_dir(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/.s.PGSQL.5432", sock_dir);
    unlink(path);
    rmdir(sock_dir);
}

static void listen_unix(world *w)
{
    snprintf(w->dir, sizeof w->dir, "%s", sock_dir);
    snprintf(w->path, sizeof w->path, "%s/.s.PGSQL.5432", w->dir);
    /* left by a test that failed */
    unlink(w->path);
    w->ls = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(w->ls, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    ck_assert_uint_lt(strlen(w->path), sizeof addr.sun_path);
    memcpy(addr.sun_path, w->path, strlen(w->path) + 1);
    ck_assert_int_eq(bind(w->ls, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(listen(w->ls, 16), 0);
    snprintf(w->conninfo, sizeof w->conninfo, "host=%s port=5432 user=u dbname=d", w->dir);
}

/*
 * A session on this world's host against script: slot "s", publication
 * "p", every callback recorded, status every second, reconnection after
 * 100 to 1600 ms, no heartbeats.
 */
static void world_init(world *w, const char *script, fakewal_side side)
{
    memset(w, 0, sizeof *w);
    w->now = START_US;
    w->fd[0] = w->fd[1] = -1;
    w->due = -1;
    listen_unix(w);
    char why[128] = "";
    const fakewal_config cfg = {.script = script, .now = fake_now, .log = fake_log, .arg = w, .side = side};
    w->fw = fakewal_new(&cfg, why, sizeof why);
    ck_assert_msg(w->fw != NULL, "%s", why);
    ck_assert_int_eq(fakewal_listen(w->fw, w->ls), 0);
    const pgrepl_session_host host = {.arg = w, .watch = h_watch, .timer = h_timer, .now = h_now};
    w->s = pgrepl_session_new(&host);
    ck_assert_ptr_nonnull(w->s);
    pgrepl_session *s = w->s;
    pgrepl_decoder_callbacks dcb = every_dcb;
    dcb.on_begin = t_begin;
    dcb.on_commit = t_commit;
    ck_assert_int_eq(pgrepl_session_set_conninfo(s, w->conninfo), 0);
    ck_assert_int_eq(pgrepl_session_set_slot(s, "s"), 0);
    ck_assert_int_eq(pgrepl_session_add_publication(s, "p"), 0);
    ck_assert_int_eq(pgrepl_session_set_callbacks(s, &dcb, sizeof dcb, &every_scb, sizeof every_scb), 0);
    ck_assert_int_eq(pgrepl_session_set_status_interval(s, 1000), 0);
    ck_assert_int_eq(pgrepl_session_set_reconnect(s, 100, 1600), 0);
    ck_assert_int_eq(pgrepl_session_set_heartbeat_interval(s, 0), 0);
    pgrepl_session_set_data(s, w);
}

/* PGREPL_SESSION_TRACE=1: print the fake server's log with the fake time of each line. */
static void trace(const world *w)
{
    const char *env = getenv("PGREPL_SESSION_TRACE");
    if (env == NULL || *env == '\0' || strcmp(env, "0") == 0)
        return;
    for (int i = 0; i < w->nlines; i++)
        fprintf(stderr, "%10.3f ms  %s\n", (double)(w->lines[i].at - START_US) / 1000.0, w->lines[i].text);
    fprintf(stderr, "states %s\ncallbacks %s\n", w->states, w->calls);
}

/* Close the session (when the test did not) and check that it let go of everything; then the fake server. */
static void world_fini(world *w)
{
    trace(w);
    if (w->s != NULL && w->n_closed == 0)
        ck_assert_int_eq(pgrepl_session_close(w->s, close_cb), 0);
    RUN_UNTIL(w, w->s == NULL || w->n_closed == 1, 1000);
    if (w->s != NULL)
        pgrepl_session_free(w->s);
    w->s = NULL;
    ck_assert_int_le(w->n_closed, 1);
    ck_assert_int_eq(w->late_host_calls, 0);
    ck_assert_int_eq(w->fd[0], -1);
    ck_assert_int_eq(w->fd[1], -1);
    /* the fake sees every connection closed */
    run_for(w, 10);
    ck_assert_int_eq(fakewal_connections(w->fw), 0);
    fakewal_free(w->fw);
    close(w->ls);
    unlink(w->path);
}

/* ---- reading the fake's log --------------------------------------------------------------------------------- */

/* Index of the nth (1-based) line starting with prefix, from line `from`; -1 when there is none. */
static int nth_line(const world *w, const char *prefix, int nth, int from)
{
    for (int i = from; i < w->nlines; i++)
        if (strncmp(w->lines[i].text, prefix, strlen(prefix)) == 0 && --nth == 0)
            return i;
    return -1;
}

static int count_lines(const world *w, const char *prefix)
{
    int n = 0;
    for (int i = 0; i < w->nlines; i++)
        n += strncmp(w->lines[i].text, prefix, strlen(prefix)) == 0;
    return n;
}

/* The fake time of the nth line starting with prefix, in ms since the start; the test fails when there is none. */
static int64_t line_ms(const world *w, const char *prefix, int nth)
{
    int i = nth_line(w, prefix, nth, 0);
    ck_assert_msg(i >= 0, "no line %d starting \"%s\" in:\n%s", nth, prefix, fakewal_log_text(w->fw));
    return (w->lines[i].at - START_US) / MS;
}

typedef struct status_line {
    int64_t at;
    pgrepl_lsn write, flush;
    bool reply;
} status_line;

/* The status updates the fake received, in order. */
static int status_lines(const world *w, status_line *out, int max)
{
    int n = 0;
    for (int i = 0; i < w->nlines && n < max; i++) {
        char wr[32], fl[32], reply[8] = "";
        if (sscanf(w->lines[i].text, "status %31s %31s %7s", wr, fl, reply) < 2)
            continue;
        out[n].at = w->lines[i].at;
        ck_assert_int_eq(pgrepl_lsn_parse(wr, &out[n].write), 0);
        ck_assert_int_eq(pgrepl_lsn_parse(fl, &out[n].flush), 0);
        out[n].reply = strcmp(reply, "reply") == 0;
        n++;
    }
    return n;
}

static int64_t ms_of(int64_t at)
{
    return (at - START_US) / MS;
}

/* ---- pgoutput bytes as script lines -------------------------------------------------------------------------- */

typedef struct script {
    char text[1 << 16];
    size_t n;
} script;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void line(script *sc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sc->text + sc->n, sizeof sc->text - sc->n, fmt, ap);
    va_end(ap);
    ck_assert(n >= 0 && (size_t)n < sizeof sc->text - sc->n - 1);
    sc->n += (size_t)n;
    sc->text[sc->n++] = '\n';
    sc->text[sc->n] = '\0';
}

#define SEND_TIME "0003000000000000"

/* "d" of XLogData at `at` (dataStart = walEnd) carrying the pgoutput message spelled in hex (blanks ignored). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void xlog(script *sc, pgrepl_lsn at, const char *fmt, ...)
{
    char hex[4096], packed[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(hex, sizeof hex, fmt, ap);
    va_end(ap);
    size_t k = 0;
    for (const char *p = hex; *p != '\0'; p++)
        if (*p != ' ')
            packed[k++] = *p;
    packed[k] = '\0';
    line(sc, "d 77%016llx%016llx" SEND_TIME "%s", (unsigned long long)at, (unsigned long long)at, packed);
}

static void keepalive(script *sc, pgrepl_lsn wal_end, bool reply)
{
    line(sc, "d 6b%016llx" SEND_TIME "%02x", (unsigned long long)wal_end, reply ? 1u : 0u);
}

#define LSN16 "%016llx"
#define L(x) ((unsigned long long)(x))

/* Relation 16384 public.t (n int4, the key) */
static void w_relation(script *sc)
{
    xlog(sc, 0, "52 00004000 7075626c696300 7400 64 0001 01 6e00 00000017 ffffffff");
}

static void w_begin(script *sc, pgrepl_lsn at, pgrepl_lsn final_lsn, uint32_t xid)
{
    xlog(sc, at, "42" LSN16 SEND_TIME "%08x", L(final_lsn), xid);
}

static void w_insert(script *sc, pgrepl_lsn at)
{
    xlog(sc, at, "49 00004000 4e 0001 74 00000001 31");
}

static void w_commit(script *sc, pgrepl_lsn commit_lsn, pgrepl_lsn end_lsn)
{
    xlog(sc, end_lsn, "43 00" LSN16 LSN16 SEND_TIME, L(commit_lsn), L(end_lsn));
}

/* Begin at `at`, one Insert, Commit of the record at commit_lsn ending at end_lsn. */
static void w_transaction(script *sc, pgrepl_lsn at, pgrepl_lsn commit_lsn, pgrepl_lsn end_lsn, uint32_t xid)
{
    w_begin(sc, at, commit_lsn, xid);
    w_insert(sc, at + 0x10);
    w_commit(sc, commit_lsn, end_lsn);
}

#define TX1_COMMIT UINT64_C(0x1000100)
#define TX1_END UINT64_C(0x1000130)

/* The relation and a first transaction ending at TX1_END. */
static void first_transaction(script *sc)
{
    w_relation(sc);
    w_transaction(sc, 0x1000000, TX1_COMMIT, TX1_END, 700);
}

/* ---- reconnection and backoff ----------------------------------------------------------------------------- */

/*
 * Five connections closed by the server right after START_REPLICATION:
 * each failure is retryable, and the delay before attempt n is within
 * [min, min(max, min * 2^n)] (100 .. 1600 ms here), measured on the fake
 * clock from the error to the next connection. The sixth connection
 * streams a transaction and confirms it before it is closed: the count
 * starts again (attempt 1), and the seventh resumes after what was
 * confirmed.
 */
START_TEST(reconnect_backoff)
{
    script sc = {.n = 0};
    for (int i = 0; i < 5; i++)
        line(&sc, "close\n---");
    first_transaction(&sc);
    line(&sc, "sleep 1500");
    line(&sc, "close\n---\nclose\n---\nidle");
    world w;
    world_init(&w, sc.text, FAKEWAL_SIDE_ANSWER);
    ck_assert_int_eq(pgrepl_session_set_auto_ack(w.s, true), 0);
    ck_assert_int_eq(pgrepl_session_start(w.s), 0);
    RUN_UNTIL(&w, w.nerrors == 7, 60000);
    RUN_UNTIL(&w, count_lines(&w, "conn ") == 8 && pgrepl_session_get_state(w.s) == PGREPL_STREAM_STREAMING, 5000);
    static const unsigned attempts[] = {1, 2, 3, 4, 5, 1, 2};
    for (int i = 0; i < 7; i++) {
        const err_rec *e = &w.errors[i];
        ck_assert_msg(e->code == PGREPL_ECONNLOST && !e->fatal && e->retrying, "error %d: %s", i, e->message);
        ck_assert_int_eq(e->state, PGREPL_STREAM_RECONNECTING);
        ck_assert_uint_eq(e->attempt, attempts[i]);
        uint64_t ceiling = 100u << attempts[i];
        ceiling = ceiling < 1600 ? ceiling : 1600;
        ck_assert_msg(e->retry_in_ms >= 100 && e->retry_in_ms <= ceiling, "attempt %u: %llu ms, not in [100, %llu]",
                      e->attempt, (unsigned long long)e->retry_in_ms, (unsigned long long)ceiling);
        /* the next connection comes exactly that long after the error */
        ck_assert_int_eq(line_ms(&w, "conn ", i + 2) - ms_of(e->at), (int64_t)e->retry_in_ms);
    }
    ck_assert_uint_eq(pgrepl_session_reconnects(w.s), 7);
    /* the sixth connection confirmed its transaction; the seventh and eighth resume after it */
    ck_assert_int_eq(w.n_commit, 1);
    ck_assert_uint_eq(pgrepl_session_reported_lsn(w.s), TX1_END);
    int start7 = nth_line(&w, "query START_REPLICATION", 7, 0);
    ck_assert_int_ge(start7, 0);
    ck_assert_ptr_nonnull(strstr(w.lines[start7].text, "LOGICAL 0/1000130 "));
    world_fini(&w);
}
END_TEST

/* ---- status updates --------------------------------------------------------------------------------------- */

/*
 * While idle (keepalives every 300 ms, walEnd 0/0), a status update every
 * status interval, to the microsecond; none in between.
 */
START_TEST(status_every_interval_while_idle)
{
    world w;
    world_init(&w, "idle\n", FAKEWAL_SIDE_ANSWER);
    ck_assert_int_eq(pgrepl_session_start(w.s), 0);
    RUN_UNTIL(&w, pgrepl_session_get_state(w.s) == PGREPL_STREAM_STREAMING, 1000);
    int64_t began = w.now;
    run_for(&w, 10500);
    status_line st[64];
    int n = status_lines(&w, st, 64);
    ck_assert_int_eq(n, 10);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(st[i].at - began, (i + 1) * SEC);
        ck_assert(!st[i].reply);
        ck_assert_uint_eq(st[i].flush, 0);
    }
    ck_assert_int_ge(w.n_keepalive, 30);
    ck_assert_int_eq(w.nstatus, 10);
    ck_assert_int_eq(w.nerrors, 0);
    world_fini(&w);
}
END_TEST

/* Acknowledge lsn now, and remember when. */
static void ack(world *w, pgrepl_lsn lsn)
{
    ck_assert_int_lt(w->nacks, MAX_STATUS);
    w->acks[w->nacks++] = (status_rec){.at = w->now, .flush = lsn};
    ck_assert_int_eq(pgrepl_session_ack(w->s, lsn), 0);
}

/* The highest LSN acknowledged at or before at. */
static pgrepl_lsn acked_at(const world *w, int64_t at)
{
    pgrepl_lsn max = 0;
    for (int i = 0; i < w->nacks; i++)
        if (w->acks[i].at <= at && w->acks[i].flush > max)
            max = w->acks[i].flush;
    return max;
}

/* The fake time at which the nth START_REPLICATION was answered (its block began). */
static int64_t start_at(const world *w, int nth)
{
    int i = nth_line(w, "query START_REPLICATION", nth, 0);
    ck_assert_msg(i >= 0, "no START_REPLICATION number %d", nth);
    return w->lines[i].at;
}

/*
 * A keepalive asking for a reply 2.5 s into the stream is answered at once
 * (same instant on the fake clock), not at the next interval; the interval
 * then counts from that reply.
 */
START_TEST(status_at_once_when_the_server_asks)
{
    script sc = {.n = 0};
    line(&sc, "sleep 2500");
    keepalive(&sc, 0, true);
    line(&sc, "idle");
    world w;
    world_init(&w, sc.text, FAKEWAL_SIDE_ANSWER);
    ck_assert_int_eq(pgrepl_session_start(w.s), 0);
    RUN_UNTIL(&w, pgrepl_session_get_state(w.s) == PGREPL_STREAM_STREAMING, 1000);
    run_for(&w, 4000);
    int64_t t0 = start_at(&w, 1);
    status_line st[16];
    int n = status_lines(&w, st, 16);
    static const int64_t expect_ms[] = {1000, 2000, 2500, 3500};
    ck_assert_int_eq(n, 4);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(st[i].at - t0, expect_ms[i] * MS);
    ck_assert_int_eq(w.n_reply_requested, 1);
    world_fini(&w);
}
END_TEST

/*
 * Auto-acknowledgement off: two transactions arrive and the server asks
 * for a reply. Until the application acknowledges, the flush reported is
 * 0; each acknowledgement goes out at once (the server is waiting for its
 * walEnd), and never anything beyond it; an acknowledgement beyond what
 * arrived is clamped to what arrived.
 */
START_TEST(never_beyond_what_was_acknowledged)
{
    script sc = {.n = 0};
    first_transaction(&sc);
    w_transaction(&sc, 0x1000200, 0x1000300, 0x1000330, 701);
    keepalive(&sc, 0x1000330, true);
    line(&sc, "idle");
    world w;
    world_init(&w, sc.text, FAKEWAL_SIDE_ANSWER);
    ck_assert_int_eq(pgrepl_session_start(w.s), 0);
    RUN_UNTIL(&w, w.n_commit == 2, 1000);
    int64_t t0 = start_at(&w, 1);
    run_for(&w, 1500);
    ack(&w, TX1_END);
    run_for(&w, 2700);
    ack(&w, 0x1000330);
    run_for(&w, 1000);
    ack(&w, 0x5000000);
    run_for(&w, 2000);
    status_line st[32];
    int n = status_lines(&w, st, 32);
    ck_assert_int_ge(n, 8);
    for (int i = 0; i < n; i++) {
        pgrepl_lsn limit = acked_at(&w, st[i].at);
        limit = limit < 0x1000330 ? limit : 0x1000330;
        ck_assert_msg(st[i].flush <= limit, "status at %lld ms reports %llx, acknowledged %llx",
                      (long long)((st[i].at - t0) / MS), (unsigned long long)st[i].flush, (unsigned long long)limit);
    }
    /* the reply to the keepalive, and one at once after each acknowledgement the server waited for */
    ck_assert_int_eq(st[0].at, t0);
    ck_assert_uint_eq(st[0].flush, 0);
    int i1 = -1, i2 = -1;
    for (int i = 0; i < n; i++) {
        if (st[i].at == t0 + 1500 * MS)
            i1 = i;
        if (st[i].at == t0 + 4200 * MS)
            i2 = i;
    }
    ck_assert_msg(i1 >= 0 && st[i1].flush == TX1_END, "no status at the first acknowledgement");
    ck_assert_msg(i2 >= 0 && st[i2].flush == 0x1000330, "no status at the second acknowledgement");
    ck_assert_uint_eq(st[n - 1].flush, 0x1000330);
    ck_assert_uint_eq(pgrepl_session_acked_lsn(w.s), 0x1000330);
    world_fini(&w);
}
END_TEST

/* ---- the receive-timeout watchdog --------------------------------------------------------------------------- */

/*
 * Receive timeout 2000 ms, status interval 10 s: after a transaction the
 * server falls silent (hang). At half the timeout the session asks for a
 * reply (a status update with replyRequested); at the full timeout of fake
 * time since the last byte it declares the connection dead, a retryable
 * PGREPL_ETIMEDOUT. The next connection, idle with keepalives, is not.
 */
START_TEST(receive_timeout_watchdog)
{
    script sc = {.n = 0};
    first_transaction(&sc);
    line(&sc, "hang\n---\nidle");
    world w;
    world_init(&w, sc.text, FAKEWAL_SIDE_ANSWER);
    ck_assert_int_eq(pgrepl_session_set_status_interval(w.s, 10000), 0);
    ck_assert_int_eq(pgrepl_session_set_receive_timeout(w.s, 2000), 0);
    ck_assert_int_eq(pgrepl_session_start(w.s), 0);
    RUN_UNTIL(&w, w.nerrors == 1, 10000);
    int64_t t0 = start_at(&w, 1);
    ck_assert_int_eq(w.commit_at[0], t0);
    const err_rec *e = &w.errors[0];
    ck_assert_int_eq(e->code, PGREPL_ETIMEDOUT);
    ck_assert(!e->fatal && e->retrying);
    ck_assert_str_eq(e->message, "nothing received from the server for 2000 ms");
    ck_assert_int_eq(e->at - t0, 2000 * MS);
    status_line st[8];
    int n = status_lines(&w, st, 8);
    ck_assert_int_eq(n, 1);
    ck_assert(st[0].reply);
    ck_assert_int_eq(st[0].at - t0, 1000 * MS);
    RUN_UNTIL(&w, pgrepl_session_get_state(w.s) == PGREPL_STREAM_STREAMING, 1000);
    run_for(&w, 10000);
    ck_assert_int_eq(w.nerrors, 1);
    world_fini(&w);
}
END_TEST

/* ---- idle advance ------------------------------------------------------------------------------------------- */

/*
 * Keepalives past the acknowledged position are confirmed only when
 * nothing is outstanding: not while a delivered transaction is
 * unacknowledged, not while one is open. _i 1: the idle rule off, only
 * acknowledged positions are confirmed. The flush of the status update at
 * each second of fake time is checked against that rule.
 */
START_TEST(idle_advance)
{
    bool on = _i == 0;
    script sc = {.n = 0};
    first_transaction(&sc);          /* E1 = 0/1000130, not acknowledged until 1.5 s */
    keepalive(&sc, 0x1000200, false); /* K1 */
    line(&sc, "sleep 2500");
    w_begin(&sc, 0x1000300, 0x1000500, 701);
    w_insert(&sc, 0x1000310);
    keepalive(&sc, 0x1000400, false); /* K2, inside the open transaction */
    line(&sc, "sleep 2000");
    w_commit(&sc, 0x1000500, 0x1000530); /* E2, acknowledged at 5.5 s */
    line(&sc, "sleep 2000");
    keepalive(&sc, 0x1000600, false); /* K3 */
    line(&sc, "idle");
    world w;
    world_init(&w, sc.text, FAKEWAL_SIDE_ANSWER);
    ck_assert_int_eq(pgrepl_session_set_idle_advance(w.s, on), 0);
    ck_assert_int_eq(pgrepl_session_start(w.s), 0);
    RUN_UNTIL(&w, w.n_commit == 1, 1000);
    int64_t t0 = start_at(&w, 1);
    run_for(&w, 1500);
    ack(&w, TX1_END);
    run_for(&w, 4000);
    ack(&w, 0x1000530);
    run_for(&w, 2000);
    /* at 1 s .. 7 s */
    static const pgrepl_lsn with_rule[] = {0, 0x1000200, 0x1000200, 0x1000200, 0x1000200, 0x1000530, 0x1000600};
    static const pgrepl_lsn without[] = {0, TX1_END, TX1_END, TX1_END, TX1_END, 0x1000530, 0x1000530};
    status_line st[16];
    int n = status_lines(&w, st, 16);
    ck_assert_int_eq(n, 7);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(st[i].at - t0, (i + 1) * SEC);
        ck_assert_msg(st[i].flush == (on ? with_rule : without)[i], "at %d s: flush %llx, expected %llx", i + 1,
                      (unsigned long long)st[i].flush, (unsigned long long)(on ? with_rule : without)[i]);
    }
    world_fini(&w);
}
END_TEST

/* ---- heartbeats: the session's second connection ------------------------------------------------------------ */

/* The lines of normal connections: the fake logs their startup without replication=database. */
static bool side_startup(const char *text)
{
    return strncmp(text, "startup ", 8) == 0 && strstr(text, "replication=database") == NULL;
}

static int side_connections(const world *w, int64_t *at, int max)
{
    int n = 0;
    for (int i = 0; i < w->nlines; i++)
        if (side_startup(w->lines[i].text) && n < max)
            at[n++] = w->lines[i].at;
    return n;
}

/*
 * Heartbeats every second: the side connection is opened when streaming
 * starts, emits pg_logical_emit_message (extended protocol) an interval
 * later, and the fake answers with the message's LSN; the next idle
 * keepalive carries it as walEnd, the stream sees the heartbeat (its lag
 * is the fake time between), and the position goes out at once. The next
 * heartbeat follows an interval after the previous one.
 */
START_TEST(heartbeat_round_trip)
{
    world w;
    world_init(&w, "idle\n", FAKEWAL_SIDE_ANSWER);
    ck_assert_int_eq(pgrepl_session_set_heartbeat_interval(w.s, 1000), 0);
    ck_assert_int_eq(pgrepl_session_set_heartbeat_deadline(w.s, 5000), 0);
    ck_assert_int_eq(pgrepl_session_start(w.s), 0);
    RUN_UNTIL(&w, pgrepl_session_get_state(w.s) == PGREPL_STREAM_STREAMING, 1000);
    int64_t t0 = w.now;
    ck_assert_int_eq(pgrepl_session_heartbeat_lag_us(w.s), -1);
    run_for(&w, 2500);
    ck_assert_msg(w.nerrors == 0, "%s", w.errors[0].message);
    /* the side connection: a normal one, opened at once */
    int64_t side[4];
    ck_assert_int_eq(side_connections(&w, side, 4), 1);
    ck_assert_int_eq(side[0], t0);
    int q1 = nth_line(&w, "query SELECT CASE WHEN pg_is_in_recovery()", 1, 0);
    ck_assert_int_ge(q1, 0);
    ck_assert_int_eq(w.lines[q1].at - t0, 1000 * MS);
    int b1 = nth_line(&w, "bind [pgrepl.heartbeat] [{\"seq\":1,", 1, 0);
    ck_assert_msg(b1 > q1, "%s", fakewal_log_text(w.fw));
    /* seen at the idle keepalive at 1.2 s (every 300 ms since the start), confirmed at once */
    status_line st[16];
    int n = status_lines(&w, st, 16);
    int k = 0;
    while (k < n && st[k].flush != 0x40)
        k++;
    ck_assert_msg(k < n, "no status update confirmed the first heartbeat");
    ck_assert_int_eq(st[k].at - t0, 1200 * MS);
    /* the second: emitted at 2 s, seen at 2.1 s */
    ck_assert_int_eq(line_ms(&w, "bind [pgrepl.heartbeat] [{\"seq\":2,", 1) - ms_of(t0), 2000);
    ck_assert_int_eq(pgrepl_session_heartbeat_lag_us(w.s), 100 * MS);
    ck_assert_uint_eq(pgrepl_session_reported_lsn(w.s), 0x80);
    ck_assert_uint_eq(pgrepl_session_reconnects(w.s), 0);
    world_fini(&w);
}
END_TEST

/*
 * A side connection that fails: _i 0, the fake closes it at its startup;
 * _i 1, it refuses pg_logical_emit_message (42501), the first time an
 * interval after the start. Each failure is reported through on_warning
 * and the stream goes on (STREAMING, no reconnection); the side connection
 * is opened again after 1 s, doubling, on the fake clock.
 */
START_TEST(heartbeat_side_connection_retried)
{
    bool closes = _i == 0;
    world w;
    world_init(&w, "idle\n", closes ? FAKEWAL_SIDE_CLOSE : FAKEWAL_SIDE_ERROR);
    ck_assert_int_eq(pgrepl_session_set_heartbeat_interval(w.s, 1000), 0);
    ck_assert_int_eq(pgrepl_session_start(w.s), 0);
    RUN_UNTIL(&w, pgrepl_session_get_state(w.s) == PGREPL_STREAM_STREAMING, 1000);
    int64_t t0 = w.now;
    run_for(&w, 40000);
    ck_assert_int_eq(pgrepl_session_get_state(w.s), PGREPL_STREAM_STREAMING);
    ck_assert_uint_eq(pgrepl_session_reconnects(w.s), 0);
    ck_assert_int_eq(count_lines(&w, "query START_REPLICATION"), 1);
    /* connections at 0, 1, 3, 7, 15, 31 s (closes), or failures at 1, 2, 4, 8, 16, 32 s (refuses) */
    static const int64_t retry_ms[] = {1000, 2000, 4000, 8000, 16000};
    int64_t side[16];
    int nside = side_connections(&w, side, 16);
    ck_assert_int_eq(nside, 6);
    ck_assert_int_eq(w.nerrors, 6);
    int64_t first = closes ? 0 : 1000 * MS;
    for (int i = 0; i < w.nerrors; i++) {
        const err_rec *e = &w.errors[i];
        ck_assert_msg(e->continues && !e->retrying && !e->fatal, "%s", e->message);
        ck_assert_int_eq(e->state, PGREPL_STREAM_STREAMING);
        ck_assert_msg(strncmp(e->message, "heartbeat: ", 11) == 0, "%s", e->message);
        ck_assert_int_eq(e->code, closes ? PGREPL_ECONNECT : PGREPL_ESERVER);
        ck_assert_str_eq(e->sqlstate, closes ? "" : "42501");
        int64_t want = first;
        for (int k = 0; k < i; k++)
            want += retry_ms[k] * MS;
        ck_assert_msg(e->at - t0 == want, "failure %d at %lld ms, expected %lld", i + 1,
                      (long long)((e->at - t0) / MS), (long long)(want / MS));
        char retry[64];
        snprintf(retry, sizeof retry, "heartbeats retry in %lld ms", (long long)(i < 5 ? retry_ms[i] : 30000));
        ck_assert_msg(strstr(e->message, retry) != NULL, "%s", e->message);
        /* it failed on the connection opened when the last delay ended (which emits at once: its heartbeat is due) */
        ck_assert_int_eq(side[i], i == 0 ? t0 : e->at);
    }
    world_fini(&w);
}
END_TEST

/*
 * The replication stream goes silent (hang) while the side connection
 * works: the heartbeat emitted at 1 s is never seen, and 5 s (the
 * deadline) later the stream is reported stalled, once, and left alone.
 */
START_TEST(heartbeat_stall_reported)
{
    world w;
    world_init(&w, "hang\n", FAKEWAL_SIDE_ANSWER);
    ck_assert_int_eq(pgrepl_session_set_heartbeat_interval(w.s, 1000), 0);
    ck_assert_int_eq(pgrepl_session_set_heartbeat_deadline(w.s, 5000), 0);
    ck_assert_int_eq(pgrepl_session_start(w.s), 0);
    RUN_UNTIL(&w, pgrepl_session_get_state(w.s) == PGREPL_STREAM_STREAMING, 1000);
    int64_t t0 = w.now;
    run_for(&w, 12000);
    ck_assert_int_eq(w.nerrors, 1);
    ck_assert_int_eq(w.errors[0].code, PGREPL_ESTALLED);
    ck_assert(w.errors[0].continues);
    ck_assert_int_eq(w.errors[0].at - t0, 6000 * MS);
    ck_assert_int_eq(pgrepl_session_get_state(w.s), PGREPL_STREAM_STREAMING);
    /* one heartbeat outstanding at a time */
    ck_assert_int_eq(count_lines(&w, "bind [pgrepl.heartbeat]"), 1);
    world_fini(&w);
}
END_TEST

/* ---- slot commands ------------------------------------------------------------------------------------------- */

/*
 * Slot commands on the replication connection, answered from the fake's
 * table of slots: CREATE with an exported snapshot holds the connection
 * (READY, nothing more is sent, no connect deadline) until
 * pgrepl_session_snapshot_done; then the slot query, DROP, the query of a
 * slot that is gone, DROP of a missing slot (the server's 42704), CREATE
 * ... IF_NOT_EXISTS of an existing slot (created = false), a TEMPORARY
 * slot. While streaming no command may be queued; a temporary slot goes
 * with its connection.
 */
START_TEST(slot_commands)
{
    world w;
    world_init(&w, "idle\n", FAKEWAL_SIDE_ANSWER);
    pgrepl_session *s = w.s;
    ck_assert_int_eq(pgrepl_session_create_slot(s, "a", 0, PGREPL_SNAPSHOT_EXPORT, slot_created, &w), 0);
    ck_assert_int_eq(pgrepl_session_slot_info(s, "a", slot_info, &w), 0);
    ck_assert_int_eq(pgrepl_session_drop_slot(s, "a", true, slot_dropped, &w), 0);
    ck_assert_int_eq(pgrepl_session_slot_info(s, "a", slot_info, &w), 0);
    ck_assert_int_eq(pgrepl_session_drop_slot(s, "a", false, slot_dropped, &w), 0);
    ck_assert_int_eq(pgrepl_session_create_slot(s, "b", PGREPL_SLOT_IF_NOT_EXISTS, PGREPL_SNAPSHOT_NOTHING,
                                                slot_created, &w), 0);
    ck_assert_int_eq(pgrepl_session_create_slot(s, "b", PGREPL_SLOT_IF_NOT_EXISTS, PGREPL_SNAPSHOT_NOTHING,
                                                slot_created, &w), 0);
    ck_assert_int_eq(pgrepl_session_create_slot(s, "t", PGREPL_SLOT_TEMPORARY, PGREPL_SNAPSHOT_NOTHING, slot_created, &w),
                     0);
    ck_assert_int_eq(pgrepl_session_slot_info(s, "t", slot_info, &w), 0);
    ck_assert_int_eq(pgrepl_session_connect(s), 0);
    RUN_UNTIL(&w, w.n_slot_cbs == 1, 1000);
    ck_assert_int_eq(pgrepl_session_get_state(s), PGREPL_STREAM_READY);
    /* held: nothing is sent, and no deadline ends it */
    int queries = count_lines(&w, "query ");
    run_for(&w, 30000);
    ck_assert_int_eq(count_lines(&w, "query "), queries);
    ck_assert_int_eq(w.nerrors, 0);
    ck_assert_int_eq(pgrepl_session_snapshot_done(s), 0);
    RUN_UNTIL(&w, w.n_slot_cbs == 9, 1000);
    ck_assert_str_eq(w.slots, "created a new=1 at=0/1000000 snapshot=00000003-00000002-1 plugin=pgoutput\n"
                              "info a pgoutput logical temporary=0 active=0 confirmed=0/1000000\n"
                              "dropped ok \n"
                              "info none\n"
                              "dropped PGREPL_ESERVER 42704\n"
                              "created b new=1 at=0/1000000 snapshot=- plugin=pgoutput\n"
                              "created b new=0 at=0/0 snapshot=- plugin=-\n"
                              "created t new=1 at=0/1000000 snapshot=- plugin=pgoutput\n"
                              "info t pgoutput logical temporary=1 active=0 confirmed=0/1000000\n");
    ck_assert_int_ge(nth_line(&w, "query CREATE_REPLICATION_SLOT \"a\" LOGICAL pgoutput (SNAPSHOT 'export')", 1, 0), 0);
    ck_assert_int_ge(nth_line(&w, "query DROP_REPLICATION_SLOT \"a\" WAIT", 1, 0), 0);
    ck_assert_int_ge(nth_line(&w, "query CREATE_REPLICATION_SLOT \"t\" TEMPORARY LOGICAL", 1, 0), 0);
    ck_assert_int_eq(pgrepl_session_get_state(s), PGREPL_STREAM_READY);
    ck_assert_str_eq(w.states, "connecting,ready");
    /* streaming: commands are refused */
    ck_assert_int_eq(pgrepl_session_start(s), 0);
    RUN_UNTIL(&w, pgrepl_session_get_state(s) == PGREPL_STREAM_STREAMING, 1000);
    ck_assert_int_eq(pgrepl_session_slot_info(s, "t", slot_info, &w), PGREPL_ESTATE);
    ck_assert_int_eq(pgrepl_session_stop(s), 0);
    RUN_UNTIL(&w, pgrepl_session_get_state(s) == PGREPL_STREAM_STOPPED, 1000);
    ck_assert_int_ge(nth_line(&w, "copydone", 1, 0), 0);
    /* the temporary slot went with the connection; a command queued while stopped runs on the next one */
    ck_assert_int_eq(pgrepl_session_slot_info(s, "t", slot_info, &w), 0);
    ck_assert_int_eq(pgrepl_session_connect(s), 0);
    RUN_UNTIL(&w, w.n_slot_cbs == 10, 1000);
    ck_assert_ptr_nonnull(strstr(w.slots, "confirmed=0/1000000\ninfo none\n"));
    ck_assert_int_eq(w.nerrors, 0);
    /* every completed command got its own arg back */
    ck_assert_int_eq(w.n_slot_arg, 10);
    world_fini(&w);
}
END_TEST

/* ---- pause and resume ---------------------------------------------------------------------------------------- */

/*
 * The first commit's callback pauses the stream (_i 0: pgrepl_session_pause;
 * _i 1: returning PGREPL_PAUSE). For ten seconds of fake time nothing is
 * read although the server sent two more transactions (the socket is
 * readable and not watched for reading), status updates go on every
 * second, and the receive timeout does not count the pause as silence.
 * Resuming delivers both at once.
 */
START_TEST(pause_and_resume)
{
    script sc = {.n = 0};
    first_transaction(&sc);
    line(&sc, "sleep 100");
    w_transaction(&sc, 0x1000200, 0x1000300, 0x1000330, 701);
    w_transaction(&sc, 0x1000400, 0x1000500, 0x1000530, 702);
    line(&sc, "idle");
    world w;
    world_init(&w, sc.text, FAKEWAL_SIDE_ANSWER);
    w.pause_on_first_commit = true;
    w.pause_by_return = _i == 1;
    ck_assert_int_eq(pgrepl_session_set_auto_ack(w.s, true), 0);
    ck_assert_int_eq(pgrepl_session_set_receive_timeout(w.s, 2000), 0);
    ck_assert_int_eq(pgrepl_session_start(w.s), 0);
    RUN_UNTIL(&w, w.n_commit == 1, 1000);
    int64_t paused = w.now;
    int before = w.nstatus;
    run_for(&w, 10000);
    ck_assert_int_eq(w.n_commit, 1);
    ck_assert_int_eq(w.nerrors, 0);
    for (int i = 0; i < 2; i++)
        ck_assert_msg(w.fd[i] < 0 || !(w.ev[i] & PGREPL_IO_READ), "the socket is watched for reading while paused");
    struct pollfd p = {.fd = w.last_read_fd, .events = POLLIN};
    ck_assert_int_eq(poll(&p, 1, 0), 1);
    /* status updates every second while paused; auto-ack took the first transaction only when its callback
     * returned 0 (set_auto_ack: PGREPL_PAUSE is not 0) */
    pgrepl_lsn flush = w.pause_by_return ? 0 : TX1_END;
    ck_assert_int_ge(w.nstatus - before, 10);
    for (int i = before; i < w.nstatus; i++)
        ck_assert_uint_eq(w.status[i].flush, flush);
    ck_assert_int_eq(pgrepl_session_resume(w.s), 0);
    int64_t resumed = w.now;
    RUN_UNTIL(&w, w.n_commit == 3, 100);
    ck_assert_int_eq(w.commit_at[1], resumed);
    ck_assert_int_eq(w.commit_at[2], resumed);
    ck_assert_int_gt(resumed - paused, 10 * SEC - MS);
    ck_assert_uint_eq(w.commit_end[2], 0x1000530);
    ck_assert_uint_eq(pgrepl_session_acked_lsn(w.s), 0x1000530);
    world_fini(&w);
}
END_TEST

/* ---- close and free from inside every callback ------------------------------------------------------------- */

/* A NoticeResponse ('N') or ErrorResponse ('E') of the fields "Xvalue", as a raw script line. */
static void server_message(script *sc, char type, const char *const *fields)
{
    char hex[1024] = "";
    size_t n = 0, len = 4 + 1;
    for (const char *const *f = fields; *f != NULL; f++)
        len += strlen(*f) + 1;
    n += (size_t)snprintf(hex + n, sizeof hex - n, "%02x%08zx", (unsigned)type, len);
    for (const char *const *f = fields; *f != NULL; f++)
        for (const char *p = *f;; p++) {
            n += (size_t)snprintf(hex + n, sizeof hex - n, "%02x", (unsigned char)*p);
            if (*p == '\0')
                break;
        }
    n += (size_t)snprintf(hex + n, sizeof hex - n, "00");
    line(sc, "raw %s", hex);
}

static void notice(script *sc, const char *const *fields)
{
    server_message(sc, 'N', fields);
}

#define GID(x) "67" x "00" /* "g<x>" */

/*
 * One connection that makes every callback run: a notice, one message of
 * each pgoutput type (a transaction with every change type, an origin and a
 * transactional message; a non-transactional message; a streamed
 * transaction committed and one aborted; a prepared transaction committed,
 * one rolled back, a streamed one prepared), a keepalive asking for a
 * reply; then it closes (an error, a reconnection). The second connection
 * idles.
 */
static void every_callback(script *sc)
{
    static const char *const fields[] = {"SWARNING", "VWARNING", "C01000", "Mhello", NULL};
    notice(sc, fields);
    w_relation(sc);
    xlog(sc, 0, "59 00004002 7075626c696300 6d6f6f6400");
    w_begin(sc, 0x1000000, 0x1000100, 700);
    xlog(sc, 0x1000000, "4f 0000000000000123 6f7200");
    w_insert(sc, 0x1000010);
    xlog(sc, 0x1000020, "55 00004000 4e 0001 74 00000001 32");
    xlog(sc, 0x1000030, "44 00004000 4b 0001 74 00000001 31");
    xlog(sc, 0x1000040, "54 00000001 00 00004000");
    xlog(sc, 0x1000050, "4d 01 0000000001000050 707200 00000002 6869");
    w_commit(sc, 0x1000100, 0x1000130);
    xlog(sc, 0x1000200, "4d 00 0000000001000200 707200 00000002 6869");
    xlog(sc, 0x1000300, "53 0000031d 01");
    xlog(sc, 0x1000310, "49 0000031d 00004000 4e 0001 74 00000001 33");
    xlog(sc, 0x1000320, "45");
    xlog(sc, 0x1000430, "63 0000031d 00 0000000001000400 0000000001000430" SEND_TIME);
    xlog(sc, 0x1000440, "53 00000322 01");
    xlog(sc, 0x1000450, "45");
    xlog(sc, 0x1000460, "41 00000322 00000322");
    xlog(sc, 0x1000500, "62 0000000001000600 0000000001000630" SEND_TIME "00000326" GID("31"));
    xlog(sc, 0x1000630, "50 00 0000000001000600 0000000001000630" SEND_TIME "00000326" GID("31"));
    xlog(sc, 0x1000730, "4b 00 0000000001000700 0000000001000730" SEND_TIME "00000326" GID("31"));
    xlog(sc, 0x1000830, "72 00 0000000001000630 0000000001000830" SEND_TIME SEND_TIME "00000327" GID("32"));
    xlog(sc, 0x1000840, "53 00000328 01");
    xlog(sc, 0x1000850, "45");
    xlog(sc, 0x1000930, "70 00 0000000001000900 0000000001000930" SEND_TIME "00000328" GID("33"));
    keepalive(sc, 0x1000a00, true);
    line(sc, "sleep 500\nclose\n---\nidle");
}

static const char *const targets[] = {
#define NAME(tag, member, type) #member,
    PGREPL_DECODER_CALLBACKS(NAME)
#undef NAME
    "state:connecting", "state:streaming", "state:reconnecting", "state:stopping", "state:stopped", "on_notice",
    "on_error", "on_keepalive", "on_status_sent", "on_start", "slot_created", "slot_info", "slot_done"};
#define NTARGETS ((int)(sizeof targets / sizeof targets[0]))

static const char *const action_names[] = {"none", "close", "free", "close+free", "close, free in close_cb"};

/*
 * The session is closed, freed, closed and freed, or closed and freed from
 * close_cb, from inside the first call of one callback (_i: target x
 * action); the flow reaches every callback (slot commands before the
 * stream, the script above, a reconnection, a stop). After the action no
 * callback runs but the completion of slot commands with
 * PGREPL_ECANCELED; close_cb runs once after a close, last, from the
 * session's timer, and then the host is asked for nothing; after a free
 * nothing at all. The sanitizer build checks that nothing freed is
 * touched; the fake server sees every connection closed.
 */
START_TEST(close_and_free_from_every_callback)
{
    const char *target = targets[_i / (ACT_COUNT - 1)];
    action act = (action)(_i % (ACT_COUNT - 1) + 1);
    script sc = {.n = 0};
    every_callback(&sc);
    world w;
    world_init(&w, sc.text, FAKEWAL_SIDE_ANSWER);
    w.target = target;
    w.act = act;
    pgrepl_session *s = w.s;
    ck_assert_int_eq(pgrepl_session_set_auto_ack(s, true), 0);
    ck_assert_int_eq(pgrepl_session_set_messages(s, true), 0);
    ck_assert_int_eq(pgrepl_session_create_slot(s, "a", 0, PGREPL_SNAPSHOT_NOTHING, slot_created, NULL), 0);
    ck_assert_int_eq(pgrepl_session_slot_info(s, "a", slot_info, NULL), 0);
    ck_assert_int_eq(pgrepl_session_drop_slot(s, "a", false, slot_dropped, NULL), 0);
    ck_assert_int_eq(pgrepl_session_start(s), 0);
    RUN_UNTIL(&w, w.acted || (count_lines(&w, "query START_REPLICATION") == 2 &&
                              pgrepl_session_get_state(s) == PGREPL_STREAM_STREAMING), 10000);
    if (!w.acted) {
        ck_assert_int_eq(pgrepl_session_stop(s), 0);
        RUN_UNTIL(&w, w.acted || pgrepl_session_get_state(s) == PGREPL_STREAM_STOPPED, 10000);
    }
    ck_assert_msg(w.acted, "%s never ran; callbacks: %s", target, w.calls);
    bool closes = act == ACT_CLOSE || act == ACT_CLOSE_FREE_IN_CB;
    if (closes)
        RUN_UNTIL(&w, w.n_closed == 1, 1000);
    else
        ck_assert_ptr_null(w.s);
    run_for(&w, 5000);
    /* nothing after the action but canceled slot commands (the close completes what is queued) */
    char wrong[1024] = "";
    for (const char *p = w.after; *p != '\0';) {
        size_t n = strcspn(p, " ");
        if (!closes || n <= 10 || strncmp(p + n - 10, "(canceled)", 10) != 0)
            snprintf(wrong + strlen(wrong), sizeof wrong - strlen(wrong), "%s%.*s", *wrong ? " " : "", (int)n, p);
        p += n + (p[n] == ' ');
    }
    ck_assert_msg(*wrong == '\0', "%s from %s: then %s (all callbacks: %s)", action_names[act], target, wrong,
                  w.calls);
    ck_assert_int_eq(w.n_closed, closes ? 1 : 0);
    if (act == ACT_CLOSE_FREE_IN_CB)
        ck_assert_ptr_null(w.s);
    ck_assert_int_eq(w.late_host_calls, 0);
    ck_assert_int_eq(w.fd[0], -1);
    ck_assert_int_eq(w.fd[1], -1);
    ck_assert_int_eq(w.due, -1);
    world_fini(&w);
}
END_TEST

/*
 * pgrepl_session_free from the first Begin's callback, no close: the
 * contract (session.h: free "closes first, at once ... no callback run")
 * leaves no room for more callbacks, and the application may have freed
 * what they use, although more messages were read in the same wakeup.
 */
START_TEST(free_from_a_callback_ends_delivery)
{
    script sc = {.n = 0};
    first_transaction(&sc);
    w_transaction(&sc, 0x1000200, 0x1000300, 0x1000330, 701);
    keepalive(&sc, 0x1000330, true);
    line(&sc, "idle");
    world w;
    world_init(&w, sc.text, FAKEWAL_SIDE_ANSWER);
    w.target = "on_begin";
    w.act = ACT_FREE;
    ck_assert_int_eq(pgrepl_session_start(w.s), 0);
    RUN_UNTIL(&w, w.acted, 1000);
    run_for(&w, 1000);
    ck_assert_msg(*w.after == '\0', "callbacks after pgrepl_session_free: %s", w.after);
    world_fini(&w);
}
END_TEST

/*
 * A NoticeResponse and a transaction arrive in one read; on_notice stops
 * the stream (_i 0), closes it (_i 1) or pauses it (_i 2). session.h:
 * after a stop "no more data callbacks", after a close none at all, a
 * pause stops reading: the Begin after the notice must not reach on_begin
 * (lib/conn.c returns a NOTICE event, so the session sees the request
 * before the next message).
 */
START_TEST(request_from_on_notice_comes_before_the_next_message)
{
    static const action acts[] = {ACT_STOP, ACT_CLOSE, ACT_PAUSE};
    static const char *const fields[] = {"SWARNING", "VWARNING", "C01000", "Mhello", NULL};
    script sc = {.n = 0};
    w_relation(&sc);
    line(&sc, "sleep 100");
    notice(&sc, fields);
    w_transaction(&sc, 0x1000000, TX1_COMMIT, TX1_END, 700);
    line(&sc, "idle");
    world w;
    world_init(&w, sc.text, FAKEWAL_SIDE_ANSWER);
    w.target = "on_notice";
    w.act = acts[_i];
    ck_assert_int_eq(pgrepl_session_start(w.s), 0);
    RUN_UNTIL(&w, w.acted, 1000);
    run_for(&w, 1000);
    /* what came after the notice: no data callback (a stop's states, status update and a close's nothing aside) */
    bool data = strstr(w.after, "on_begin") != NULL || strstr(w.after, "on_insert") != NULL ||
                strstr(w.after, "on_commit") != NULL;
    ck_assert_msg(!data, "%s from on_notice, then: %s", _i == 0 ? "stop" : _i == 1 ? "close" : "pause", w.after);
    world_fini(&w);
}
END_TEST

/* ---- a hang-up after the server's last words ------------------------------------------------------------------ */

/*
 * The server sends a transaction, then FATAL 57P01 (an administrator's
 * pg_terminate_backend, a fast shutdown) and closes: on a Unix socket the
 * client's poll(2) reports POLLIN | POLLHUP at once. The transaction must
 * be delivered and the error reported as the server's (ESERVER, 57P01,
 * its message), then the stream reconnects.
 *
 * _i 0: the host reports the hang-up as readable (as libuv does). _i 1:
 * as PGREPL_IO_ERROR, as examples/minimal-poll.c does and session.h
 * invites ("an error or hang up"): the session reads first, so the
 * buffered transaction is delivered and the server's error (SQLSTATE,
 * message, so its classification and hint) is what is reported.
 */
START_TEST(hangup_after_the_last_words)
{
    static const char *const fatal[] = {"SFATAL", "VFATAL", "C57P01",
                                        "Mterminating connection due to administrator command", NULL};
    script sc = {.n = 0};
    first_transaction(&sc);
    line(&sc, "sleep 100");
    w_transaction(&sc, 0x1000200, 0x1000300, 0x1000330, 701);
    server_message(&sc, 'E', fatal);
    line(&sc, "close\n---\nidle");
    world w;
    world_init(&w, sc.text, FAKEWAL_SIDE_ANSWER);
    w.hup_is_error = _i == 1;
    ck_assert_int_eq(pgrepl_session_set_auto_ack(w.s, true), 0);
    ck_assert_int_eq(pgrepl_session_start(w.s), 0);
    RUN_UNTIL(&w, w.nerrors == 1, 1000);
    const err_rec *e = &w.errors[0];
    bool right = w.n_commit == 2 && e->code == PGREPL_ESERVER && strcmp(e->sqlstate, "57P01") == 0 &&
                 strstr(e->message, "terminating connection due to administrator command") != NULL;
    ck_assert_msg(right, "hang-up reported as %s: %d commits, %s %s: %s", _i ? "an error" : "readable", w.n_commit,
                  pgrepl_err_name(e->code), e->sqlstate, e->message);
    ck_assert(e->retrying);
    RUN_UNTIL(&w, count_lines(&w, "query START_REPLICATION") == 2, 1000);
    world_fini(&w);
}
END_TEST

static Suite *session_suite(void)
{
    Suite *s = suite_create("session");
    TCase *tc = tcase_create("session");
    tcase_add_unchecked_fixture(tc, make_sock_dir, remove_sock_dir);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, reconnect_backoff);
    tcase_add_test(tc, status_every_interval_while_idle);
    tcase_add_test(tc, status_at_once_when_the_server_asks);
    tcase_add_test(tc, never_beyond_what_was_acknowledged);
    tcase_add_test(tc, receive_timeout_watchdog);
    tcase_add_loop_test(tc, idle_advance, 0, 2);
    tcase_add_test(tc, heartbeat_round_trip);
    tcase_add_loop_test(tc, heartbeat_side_connection_retried, 0, 2);
    tcase_add_test(tc, heartbeat_stall_reported);
    tcase_add_test(tc, slot_commands);
    tcase_add_loop_test(tc, pause_and_resume, 0, 2);
    tcase_add_loop_test(tc, close_and_free_from_every_callback, 0, NTARGETS * (ACT_COUNT - 1));
    tcase_add_test(tc, free_from_a_callback_ends_delivery);
    tcase_add_loop_test(tc, request_from_on_notice_comes_before_the_next_message, 0, 3);
    tcase_add_loop_test(tc, hangup_after_the_last_words, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgrepl_test_run_suite(session_suite());
}
