/*
 * Heartbeats (see heartbeat.h): the round trip tracker, then the side
 * connection, a small non-blocking libpq state machine of its own on one
 * uv_poll_t and one uv_timer_t. lib/conn.c is not reused because it is a
 * replication connection by construction (replication=database forced,
 * simple protocol only, CopyBoth); this one is the opposite on each count.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "heartbeat.h"
#include "alloc.h"
#include "conn.h"

/* Longest interval or deadline accepted: its microseconds must fit an int64_t. */
#define MAX_MS (UINT64_C(1) << 40)
/* Bound on connecting and on one emitting query when no deadline is set. */
#define SIDE_TIMEOUT_MS 60000
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000

/* ---- the round trip tracker ---------------------------------------------- */

void pgrepl__hb_track_init(pgrepl_hb_track *t)
{
    memset(t, 0, sizeof *t);
    t->lag = -1;
}

void pgrepl__hb_track_restart(pgrepl_hb_track *t)
{
    int64_t lag = t->lag;
    pgrepl__hb_track_init(t);
    t->lag = lag;
}

void pgrepl__hb_track_emitted(pgrepl_hb_track *t, int64_t now)
{
    t->pending = true;
    t->lsn = 0;
    t->sent = now;
    t->clock = now;
    t->reached_at_clock = t->reached;
    t->stall_reported = false;
}

static bool track_reached_pending(const pgrepl_hb_track *t)
{
    return t->pending && t->lsn != 0 && t->reached >= t->lsn;
}

bool pgrepl__hb_track_returned(pgrepl_hb_track *t, pgrepl_lsn lsn)
{
    if (!t->pending)
        return false;
    t->lsn = lsn;
    return track_reached_pending(t);
}

void pgrepl__hb_track_abandon(pgrepl_hb_track *t)
{
    t->pending = false;
}

bool pgrepl__hb_track_reached(pgrepl_hb_track *t, pgrepl_lsn lsn)
{
    if (lsn <= t->reached)
        return false;
    t->reached = lsn;
    return track_reached_pending(t);
}

void pgrepl__hb_track_seen(pgrepl_hb_track *t, int64_t now)
{
    t->pending = false;
    t->lag = now - t->sent;
}

void pgrepl__hb_track_hold(pgrepl_hb_track *t, bool held, int64_t now)
{
    /* a paused stream cannot see anything: the deadline counts from the resume */
    if (t->held && !held && now > t->clock) {
        t->clock = now;
        t->reached_at_clock = t->reached;
    }
    t->held = held;
}

bool pgrepl__hb_track_moving(const pgrepl_hb_track *t)
{
    return t->reached > t->reached_at_clock;
}

int64_t pgrepl__hb_track_stall_due(const pgrepl_hb_track *t, int64_t now, int64_t deadline)
{
    if (!t->pending || t->lsn == 0 || t->held || t->stall_reported || deadline <= 0)
        return -1;
    int64_t left = t->clock + deadline - now;
    return left > 0 ? left : 0;
}

bool pgrepl__hb_track_stalled(pgrepl_hb_track *t, int64_t now, int64_t deadline)
{
    if (pgrepl__hb_track_stall_due(t, now, deadline) != 0)
        return false;
    t->stall_reported = true;
    return true;
}

uint64_t pgrepl__hb_backoff_ms(int failures)
{
    uint64_t ms = BACKOFF_FIRST_MS;
    for (int i = 1; i < failures && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

/* ---- the side connection --------------------------------------------------- */

typedef enum hb_phase {
    HB_OFF,     /* not started, interval 0, or the stream is not streaming */
    HB_WAIT,    /* no connection: connect at retry_at (the first time at once, then with backoff) */
    HB_CONNECT, /* PQconnectPoll */
    HB_IDLE,    /* connected: the next emit is due at next_emit once nothing is pending */
    HB_QUERY    /* the emitting query in flight */
} hb_phase;

struct pgrepl_heartbeat {
    uv_loop_t *loop;
    pgrepl_heartbeat_hooks hooks;

    /* configuration */
    uint64_t interval_ms;
    uint64_t deadline_ms;
    char *prefix;
    bool deliver;

    hb_phase ph;
    const char *conninfo; /* the stream's, valid while started */
    PGconn *pg;
    PostgresPollingStatusType polling;
    bool flushing;        /* PQflush left data to send: watch for writable */
    PGresult *res;        /* the first error, else the first result, of the query in flight */
    int64_t since;        /* start of the connection attempt or of the query in flight */
    int64_t next_emit;
    int64_t retry_at;
    int failures;         /* in a row, since the last heartbeat the server accepted */
    uint64_t seq;
    pgrepl_hb_track track;

    bool handles;         /* timer initialized */
    uv_timer_t timer;
    uv_poll_t *poll;
    int poll_fd;
    int nhandles;         /* initialized and not yet closed */
    bool closing;
    void (*done)(void *arg);

    char msg[640];
};

static int64_t now_us(void)
{
    return (int64_t)(uv_hrtime() / 1000);
}

static int64_t side_timeout_us(const pgrepl_heartbeat *hb)
{
    return (int64_t)(hb->deadline_ms != 0 ? hb->deadline_ms : SIDE_TIMEOUT_MS) * 1000;
}

pgrepl_heartbeat *pgrepl__heartbeat_new(uv_loop_t *loop, const pgrepl_heartbeat_hooks *hooks)
{
    pgrepl_heartbeat *hb = pgrepl__calloc(1, sizeof *hb);
    if (hb == NULL)
        return NULL;
    hb->prefix = pgrepl__strndup(PGREPL_HEARTBEAT_DEFAULT_PREFIX, strlen(PGREPL_HEARTBEAT_DEFAULT_PREFIX));
    if (hb->prefix == NULL) {
        pgrepl__free(hb);
        return NULL;
    }
    hb->loop = loop;
    hb->hooks = *hooks;
    hb->interval_ms = PGREPL_HEARTBEAT_DEFAULT_INTERVAL_MS;
    hb->deadline_ms = PGREPL_HEARTBEAT_DEFAULT_DEADLINE_MS;
    hb->poll_fd = -1;
    pgrepl__hb_track_init(&hb->track);
    return hb;
}

/* ---- hooks ------------------------------------------------------------------- */

static void report(pgrepl_heartbeat *hb, int code, const pgrepl_server_message *server)
{
    if (hb->hooks.on_error != NULL)
        hb->hooks.on_error(hb->hooks.arg, code, hb->msg, server);
}

static void seen(pgrepl_heartbeat *hb)
{
    pgrepl__hb_track_seen(&hb->track, now_us());
    if (hb->hooks.on_seen != NULL)
        hb->hooks.on_seen(hb->hooks.arg);
}

/* ---- loop handles ------------------------------------------------------------- */

static void finish(pgrepl_heartbeat *hb)
{
    void (*done)(void *arg) = hb->done;
    void *arg = hb->hooks.arg;
    pgrepl__free(hb->prefix);
    pgrepl__free(hb);
    if (done != NULL)
        done(arg);
}

static void on_closed(uv_handle_t *h)
{
    pgrepl_heartbeat *hb = h->data;
    if (h->type == UV_POLL)
        pgrepl__free(h);
    if (--hb->nhandles == 0 && hb->closing)
        finish(hb);
}

static void on_timer(uv_timer_t *h);
static void on_poll(uv_poll_t *h, int status, int events);

static void close_poll(pgrepl_heartbeat *hb)
{
    if (hb->poll == NULL)
        return;
    uv_close((uv_handle_t *)hb->poll, on_closed);
    hb->poll = NULL;
    hb->poll_fd = -1;
}

static int open_poll(pgrepl_heartbeat *hb, int fd)
{
    uv_poll_t *p = pgrepl__malloc(sizeof *p);
    if (p == NULL)
        return UV_ENOMEM;
    int rc = uv_poll_init(hb->loop, p, fd);
    if (rc != 0) {
        pgrepl__free(p);
        return rc;
    }
    p->data = hb;
    hb->poll = p;
    hb->poll_fd = fd;
    hb->nhandles++;
    return 0;
}

static int wanted_events(const pgrepl_heartbeat *hb)
{
    switch (hb->ph) {
    case HB_CONNECT:
        return hb->polling == PGRES_POLLING_READING ? UV_READABLE : UV_WRITABLE;
    case HB_IDLE:
    case HB_QUERY:
        return UV_READABLE | (hb->flushing ? UV_WRITABLE : 0);
    default:
        return 0;
    }
}

/* Watch the socket the connection has now (a new handle when it changed). Returns a uv error code. */
static int sync_io(pgrepl_heartbeat *hb)
{
    int fd = hb->pg != NULL ? PQsocket(hb->pg) : -1;
    if (hb->poll != NULL && hb->poll_fd != fd)
        close_poll(hb);
    if (fd < 0)
        return 0;
    int rc = hb->poll == NULL ? open_poll(hb, fd) : 0;
    int events = wanted_events(hb);
    if (rc == 0)
        rc = events != 0 ? uv_poll_start(hb->poll, events, on_poll) : uv_poll_stop(hb->poll);
    return rc;
}

/* The earlier of a due time (-1: none) and `left` microseconds from now (overdue: 0). */
static int64_t min_due(int64_t due, int64_t left)
{
    if (left < 0)
        left = 0;
    return due < 0 || left < due ? left : due;
}

/* Run on_timer when the next thing is due: a stall, a retry, a timeout or the next emit. */
static void arm(pgrepl_heartbeat *hb)
{
    int64_t now = now_us();
    int64_t due = pgrepl__hb_track_stall_due(&hb->track, now, (int64_t)hb->deadline_ms * 1000);
    switch (hb->ph) {
    case HB_WAIT:
        due = min_due(due, hb->retry_at - now);
        break;
    case HB_CONNECT:
    case HB_QUERY:
        due = min_due(due, hb->since + side_timeout_us(hb) - now);
        break;
    case HB_IDLE:
        if (!hb->track.pending)
            due = min_due(due, hb->next_emit - now);
        break;
    case HB_OFF:
        break;
    }
    if (due < 0) {
        /* nothing is due by time: a sighting or a start re-arms */
        uv_timer_stop(&hb->timer);
        return;
    }
    uv_timer_start(&hb->timer, on_timer, (uint64_t)(due + 999) / 1000, 0);
}

/* ---- failures ------------------------------------------------------------------- */

static void disconnect(pgrepl_heartbeat *hb)
{
    close_poll(hb);
    PQclear(hb->res);
    hb->res = NULL;
    if (hb->pg != NULL)
        PQfinish(hb->pg);
    hb->pg = NULL;
    hb->flushing = false;
}

/*
 * The side connection failed: close it, try again after a backoff, and say
 * so. A heartbeat whose LSN is known stays pending: the stream may still
 * see it, and its deadline still tells whether the stream stalled.
 */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void side_failed(pgrepl_heartbeat *hb, int code, const pgrepl_server_message *server, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    disconnect(hb);
    if (hb->track.lsn == 0)
        pgrepl__hb_track_abandon(&hb->track);
    hb->failures++;
    uint64_t wait = pgrepl__hb_backoff_ms(hb->failures);
    hb->retry_at = now_us() + (int64_t)wait * 1000;
    hb->ph = HB_WAIT;
    snprintf(hb->msg, sizeof hb->msg, "heartbeat: %s; the stream continues, heartbeats retry in %llu ms", what,
             (unsigned long long)wait);
    report(hb, code, server);
}

/* libpq's own error (connecting, or the connection went away). */
static void conn_failed(pgrepl_heartbeat *hb, int code, const char *what)
{
    char text[400];
    pgrepl__oneline(text, sizeof text, hb->pg != NULL ? PQerrorMessage(hb->pg) : "out of memory");
    side_failed(hb, code, NULL, "%s: %s", what, *text ? text : "connection lost");
}

/* ---- connecting --------------------------------------------------------------------- */

static void ignore_notice(void *arg, const PGresult *res)
{
    (void)arg;
    (void)res;
}

static void connect_now(pgrepl_heartbeat *hb)
{
    /* expand_dbname: the stream's conninfo, then a normal connection whatever it said */
    const char *const keys[] = {"dbname", "replication", "fallback_application_name", NULL};
    const char *const vals[] = {hb->conninfo != NULL ? hb->conninfo : "", "false", "pgrepl-heartbeat", NULL};
    hb->ph = HB_CONNECT;
    hb->since = now_us();
    hb->polling = PGRES_POLLING_WRITING;
    hb->pg = PQconnectStartParams(keys, vals, 1);
    if (hb->pg == NULL) {
        side_failed(hb, PGREPL_ENOMEM, NULL, "could not start connecting: out of memory");
        return;
    }
    PQsetNoticeReceiver(hb->pg, ignore_notice, NULL);
    if (PQstatus(hb->pg) == CONNECTION_BAD || PQsocket(hb->pg) < 0)
        conn_failed(hb, PGREPL_ECONNECT, "could not connect");
}

static void connect_poll(pgrepl_heartbeat *hb)
{
    PostgresPollingStatusType st = PQconnectPoll(hb->pg);
    if (st == PGRES_POLLING_OK && PQsetnonblocking(hb->pg, 1) == 0)
        hb->ph = HB_IDLE;
    else if (st == PGRES_POLLING_OK || st == PGRES_POLLING_FAILED)
        conn_failed(hb, PGREPL_ECONNECT, "could not connect");
    else
        hb->polling = st;
}

/* ---- emitting ----------------------------------------------------------------------- */

/*
 * Non-transactional, so that no application sees an empty transaction; on
 * 17+ flushed at once, on 14-16 delivered after the next WAL flush (the WAL
 * writer's, ~200 ms). On a standby the function could only fail with an
 * internal error, so the recovery check comes first and yields NULL.
 */
static const char emit_sql_17[] = "SELECT CASE WHEN pg_is_in_recovery() THEN NULL "
                                  "ELSE pg_logical_emit_message(false, $1::text, $2::text, true) END";
static const char emit_sql_14[] = "SELECT CASE WHEN pg_is_in_recovery() THEN NULL "
                                  "ELSE pg_logical_emit_message(false, $1::text, $2::text) END";

static void flush_out(pgrepl_heartbeat *hb)
{
    int r = PQflush(hb->pg);
    if (r < 0)
        conn_failed(hb, PGREPL_ECONNLOST, "connection lost");
    else
        hb->flushing = r == 1;
}

static void emit(pgrepl_heartbeat *hb)
{
    char ts[PGREPL_TIMESTAMP_BUFSIZE];
    char payload[96];
    pgrepl_timestamp_format(pgrepl_now(), ts);
    hb->seq++;
    snprintf(payload, sizeof payload, "{\"seq\":%llu,\"sent\":\"%s\"}", (unsigned long long)hb->seq, ts);
    const char *const params[2] = {hb->prefix, payload};
    const char *sql = PQserverVersion(hb->pg) >= 170000 ? emit_sql_17 : emit_sql_14;
    if (!PQsendQueryParams(hb->pg, sql, 2, NULL, params, NULL, NULL, 0)) {
        conn_failed(hb, PGREPL_ECONNLOST, "could not send the heartbeat");
        return;
    }
    int64_t now = now_us();
    hb->ph = HB_QUERY;
    hb->since = now;
    hb->next_emit = now + (int64_t)hb->interval_ms * 1000;
    pgrepl__hb_track_emitted(&hb->track, now);
    flush_out(hb);
}

static void server_message(const PGresult *res, pgrepl_server_message *m)
{
    pgrepl__server_message(res, m);
    if (*m->severity == '\0')
        m->severity = "ERROR";
}

static void query_failed(pgrepl_heartbeat *hb, const PGresult *res)
{
    pgrepl_server_message m;
    server_message(res, &m);
    if (*m.sqlstate == '\0') {
        char text[400];
        pgrepl__oneline(text, sizeof text, PQresultErrorMessage(res));
        side_failed(hb, PGREPL_ECONNLOST, NULL, "pg_logical_emit_message failed: %s",
                    *text ? text : "connection lost");
        return;
    }
    /* FATAL: the server ends the session (terminated, shutting down); the connection is lost */
    bool fatal = strcmp(m.severity, "FATAL") == 0 || strcmp(m.severity, "PANIC") == 0;
    side_failed(hb, fatal ? PGREPL_ECONNLOST : PGREPL_ESERVER, &m, "pg_logical_emit_message failed: %s %s: %s",
                m.severity, m.sqlstate, m.message);
}

static void emitted(pgrepl_heartbeat *hb, const PGresult *res)
{
    pgrepl_lsn lsn = 0;
    ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (res == NULL) {
        side_failed(hb, PGREPL_EPROTOCOL, NULL, "pg_logical_emit_message: no result");
    } else if (st != PGRES_TUPLES_OK) {
        query_failed(hb, res);
    } else if (PQntuples(res) != 1 || PQnfields(res) != 1) {
        side_failed(hb, PGREPL_EPROTOCOL, NULL, "pg_logical_emit_message: unexpected result");
    } else if (PQgetisnull(res, 0, 0)) {
        side_failed(hb, PGREPL_ESTATE, NULL,
                    "the server is a standby (in recovery): heartbeats can only be emitted on a primary");
    } else if (pgrepl_lsn_parse(PQgetvalue(res, 0, 0), &lsn) != 0) {
        side_failed(hb, PGREPL_EPROTOCOL, NULL, "pg_logical_emit_message returned \"%s\"", PQgetvalue(res, 0, 0));
    } else {
        hb->failures = 0;
        if (pgrepl__hb_track_returned(&hb->track, lsn))
            seen(hb);
    }
}

/* Collect the results of the query in flight; at its end, act on them. */
static void collect(pgrepl_heartbeat *hb)
{
    while (!PQisBusy(hb->pg)) {
        PGresult *r = PQgetResult(hb->pg);
        if (r == NULL) {
            PGresult *res = hb->res;
            hb->res = NULL;
            hb->ph = HB_IDLE;
            emitted(hb, res);
            PQclear(res);
            return;
        }
        bool err = PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK;
        if (hb->res == NULL || (err && PQresultStatus(hb->res) == PGRES_TUPLES_OK)) {
            PQclear(hb->res);
            hb->res = r;
        } else {
            PQclear(r);
        }
    }
}

static void connected_io(pgrepl_heartbeat *hb, int events)
{
    if ((events & UV_READABLE) && !PQconsumeInput(hb->pg)) {
        conn_failed(hb, PGREPL_ECONNLOST, "connection lost");
        return;
    }
    if (hb->flushing) {
        flush_out(hb);
        if (hb->ph == HB_WAIT)
            return;
    }
    if (hb->ph == HB_QUERY)
        collect(hb);
    else
        (void)PQisBusy(hb->pg); /* parses what arrived while idle (a notice, a FATAL before the close) */
}

/* ---- the loop's entries ---------------------------------------------------------------- */

/* After any event: watch the socket and arm the timer, unless a hook closed or stopped us. */
static void settle(pgrepl_heartbeat *hb)
{
    while (!hb->closing && hb->ph != HB_OFF) {
        int rc = sync_io(hb);
        if (rc == 0) {
            arm(hb);
            return;
        }
        side_failed(hb, rc == UV_ENOMEM ? PGREPL_ENOMEM : PGREPL_ECONNLOST, NULL, "cannot watch the socket: %s",
                    uv_strerror(rc));
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    pgrepl_heartbeat *hb = h->data;
    if (hb->ph == HB_CONNECT) {
        /* PQconnectPoll may close the socket and open another: stop watching first. A refused
         * connect shows as a socket error; PQconnectPoll says what happened. */
        uv_poll_stop(h);
        connect_poll(hb);
    } else if (status < 0) {
        side_failed(hb, PGREPL_ECONNLOST, NULL, "socket error: %s", uv_strerror(status));
    } else if (hb->ph == HB_IDLE || hb->ph == HB_QUERY) {
        connected_io(hb, events);
    }
    settle(hb);
}

static void stalled(pgrepl_heartbeat *hb, int64_t now)
{
    char lsn[PGREPL_LSN_BUFSIZE], reached[PGREPL_LSN_BUFSIZE];
    pgrepl_lsn_format(hb->track.lsn, lsn);
    pgrepl_lsn_format(hb->track.reached, reached);
    long long ms = (long long)((now - hb->track.sent) / 1000);
    if (pgrepl__hb_track_moving(&hb->track)) {
        /* data flows: a backlog (a huge transaction, a slow consumer), not a dead stream */
        char from[PGREPL_LSN_BUFSIZE];
        pgrepl_lsn_format(hb->track.reached_at_clock, from);
        snprintf(hb->msg, sizeof hb->msg,
                 "heartbeat: stream behind: the heartbeat at %s emitted %lld ms ago is not reached yet (the stream "
                 "moved from %s to %s meanwhile, %llu bytes short of it); the stream continues",
                 lsn, ms, from, reached, (unsigned long long)(hb->track.lsn - hb->track.reached));
        report(hb, PGREPL_EBEHIND, NULL);
        return;
    }
    snprintf(hb->msg, sizeof hb->msg,
             "heartbeat: stream stalled: the heartbeat at %s emitted %lld ms ago was not seen (the stream reached "
             "%s and has not moved since); the stream continues",
             lsn, ms, reached);
    report(hb, PGREPL_ESTALLED, NULL);
}

static void on_timer(uv_timer_t *h)
{
    pgrepl_heartbeat *hb = h->data;
    int64_t now = now_us();
    if (pgrepl__hb_track_stalled(&hb->track, now, (int64_t)hb->deadline_ms * 1000)) {
        stalled(hb, now);
        if (hb->closing || hb->ph == HB_OFF)
            return;
    }
    switch (hb->ph) {
    case HB_WAIT:
        if (now >= hb->retry_at)
            connect_now(hb);
        break;
    case HB_CONNECT:
        if (now - hb->since >= side_timeout_us(hb))
            side_failed(hb, PGREPL_ETIMEDOUT, NULL, "could not connect within %lld ms",
                        (long long)(side_timeout_us(hb) / 1000));
        break;
    case HB_QUERY:
        if (now - hb->since >= side_timeout_us(hb))
            side_failed(hb, PGREPL_ETIMEDOUT, NULL, "pg_logical_emit_message did not return within %lld ms",
                        (long long)(side_timeout_us(hb) / 1000));
        break;
    case HB_IDLE:
        if (!hb->track.pending && now >= hb->next_emit)
            emit(hb);
        break;
    case HB_OFF:
        break;
    }
    settle(hb);
}

/* ---- what the stream calls ---------------------------------------------------------------- */

void pgrepl__heartbeat_set_interval(pgrepl_heartbeat *hb, uint64_t ms)
{
    if (hb != NULL)
        hb->interval_ms = ms;
}

void pgrepl__heartbeat_set_deadline(pgrepl_heartbeat *hb, uint64_t ms)
{
    if (hb != NULL)
        hb->deadline_ms = ms;
}

int pgrepl__heartbeat_set_prefix(pgrepl_heartbeat *hb, const char *prefix)
{
    if (hb == NULL || prefix == NULL)
        return PGREPL_EINVAL;
    char *copy = pgrepl__strndup(prefix, strlen(prefix));
    if (copy == NULL)
        return PGREPL_ENOMEM;
    pgrepl__free(hb->prefix);
    hb->prefix = copy;
    return 0;
}

void pgrepl__heartbeat_set_deliver(pgrepl_heartbeat *hb, bool on)
{
    if (hb != NULL)
        hb->deliver = on;
}

void pgrepl__heartbeat_start(pgrepl_heartbeat *hb, const char *conninfo)
{
    if (hb == NULL || hb->closing || hb->interval_ms == 0)
        return;
    pgrepl__heartbeat_stop(hb);
    if (!hb->handles) {
        /* cannot fail on a valid loop */
        uv_timer_init(hb->loop, &hb->timer);
        hb->timer.data = hb;
        hb->handles = true;
        hb->nhandles++;
    }
    int64_t now = now_us();
    hb->conninfo = conninfo;
    hb->failures = 0;
    hb->ph = HB_WAIT;
    hb->retry_at = now;
    hb->next_emit = now + (int64_t)hb->interval_ms * 1000;
    pgrepl__hb_track_restart(&hb->track);
    arm(hb);
}

void pgrepl__heartbeat_stop(pgrepl_heartbeat *hb)
{
    if (hb == NULL || hb->closing || hb->ph == HB_OFF)
        return;
    disconnect(hb);
    hb->ph = HB_OFF;
    hb->conninfo = NULL;
    pgrepl__hb_track_restart(&hb->track);
    uv_timer_stop(&hb->timer);
}

void pgrepl__heartbeat_reached(pgrepl_heartbeat *hb, pgrepl_lsn lsn)
{
    /* called for every message: the clock is read only when a heartbeat is seen */
    if (hb == NULL || hb->closing || hb->ph == HB_OFF || !pgrepl__hb_track_reached(&hb->track, lsn))
        return;
    seen(hb);
    if (!hb->closing && hb->ph != HB_OFF)
        arm(hb);
}

void pgrepl__heartbeat_hold(pgrepl_heartbeat *hb, bool held)
{
    if (hb == NULL || hb->closing || hb->ph == HB_OFF || hb->track.held == held)
        return;
    pgrepl__hb_track_hold(&hb->track, held, now_us());
    arm(hb);
}

bool pgrepl__heartbeat_hides(const pgrepl_heartbeat *hb, const char *prefix)
{
    return hb != NULL && !hb->deliver && strcmp(prefix, hb->prefix) == 0;
}

int64_t pgrepl__heartbeat_lag_us(const pgrepl_heartbeat *hb)
{
    return hb != NULL ? hb->track.lag : -1;
}

void pgrepl__heartbeat_close(pgrepl_heartbeat *hb, void (*done)(void *arg))
{
    if (hb == NULL || hb->closing)
        return;
    disconnect(hb);
    hb->ph = HB_OFF;
    hb->closing = true;
    hb->done = done;
    if (hb->handles)
        uv_close((uv_handle_t *)&hb->timer, on_closed);
    if (hb->nhandles == 0)
        finish(hb);
}

/* ---- public API (pgrepl/stream.h) ------------------------------------------------------------ */

/* The heartbeat of s when s may be configured now; *rc says why not otherwise. */
static pgrepl_heartbeat *config_target(pgrepl_stream *s, int *rc)
{
    *rc = PGREPL_EINVAL;
    if (s == NULL)
        return NULL;
    *rc = PGREPL_ESTATE;
    if (!pgrepl__stream_configurable(s))
        return NULL;
    *rc = 0;
    return pgrepl__stream_heartbeat(s);
}

int pgrepl_stream_set_heartbeat_interval(pgrepl_stream *s, uint64_t ms)
{
    int rc;
    pgrepl_heartbeat *hb = config_target(s, &rc);
    if (hb != NULL && ms > MAX_MS)
        rc = PGREPL_EINVAL;
    if (rc == 0)
        pgrepl__heartbeat_set_interval(hb, ms);
    return rc;
}

int pgrepl_stream_set_heartbeat_deadline(pgrepl_stream *s, uint64_t ms)
{
    int rc;
    pgrepl_heartbeat *hb = config_target(s, &rc);
    if (hb != NULL && ms > MAX_MS)
        rc = PGREPL_EINVAL;
    if (rc == 0)
        pgrepl__heartbeat_set_deadline(hb, ms);
    return rc;
}

int pgrepl_stream_set_heartbeat_prefix(pgrepl_stream *s, const char *prefix)
{
    int rc;
    pgrepl_heartbeat *hb = config_target(s, &rc);
    if (hb != NULL && (prefix == NULL || *prefix == '\0'))
        rc = PGREPL_EINVAL;
    return rc == 0 ? pgrepl__heartbeat_set_prefix(hb, prefix) : rc;
}

int pgrepl_stream_set_deliver_heartbeats(pgrepl_stream *s, bool on)
{
    int rc;
    pgrepl_heartbeat *hb = config_target(s, &rc);
    if (rc == 0)
        pgrepl__heartbeat_set_deliver(hb, on);
    return rc;
}

int64_t pgrepl_stream_heartbeat_lag_us(const pgrepl_stream *s)
{
    return s != NULL ? pgrepl__heartbeat_lag_us(pgrepl__stream_heartbeat(s)) : -1;
}
