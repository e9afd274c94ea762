/*
 * Heartbeats (see heartbeat.h): the side connection, a small non-blocking
 * libpq state machine of its own that asks its owner for readiness and
 * time. lib/conn.c is not reused because it is a
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

/* Bound on connecting and on one emitting query when no deadline is set. */
#define SIDE_TIMEOUT_MS 60000

/* ---- the side connection --------------------------------------------------- */

typedef enum hb_phase {
    HB_OFF,     /* not started, interval 0, or the stream is not streaming */
    HB_WAIT,    /* no connection: connect at retry_at (the first time at once, then with backoff) */
    HB_CONNECT, /* PQconnectPoll */
    HB_IDLE,    /* connected: the next emit is due at next_emit once nothing is pending */
    HB_QUERY    /* the emitting query in flight */
} hb_phase;

struct pgrepl_heartbeat {
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

    char msg[640];
};

static int64_t now_us(const pgrepl_heartbeat *hb)
{
    return hb->hooks.now(hb->hooks.arg);
}

static int64_t side_timeout_us(const pgrepl_heartbeat *hb)
{
    return (int64_t)(hb->deadline_ms != 0 ? hb->deadline_ms : SIDE_TIMEOUT_MS) * 1000;
}

pgrepl_heartbeat *pgrepl__heartbeat_new(const pgrepl_heartbeat_hooks *hooks)
{
    pgrepl_heartbeat *hb = pgrepl__calloc(1, sizeof *hb);
    if (hb == NULL)
        return NULL;
    hb->prefix = pgrepl__strndup(PGREPL_HEARTBEAT_DEFAULT_PREFIX, strlen(PGREPL_HEARTBEAT_DEFAULT_PREFIX));
    if (hb->prefix == NULL) {
        pgrepl__free(hb);
        return NULL;
    }
    hb->hooks = *hooks;
    hb->interval_ms = PGREPL_HEARTBEAT_DEFAULT_INTERVAL_MS;
    hb->deadline_ms = PGREPL_HEARTBEAT_DEFAULT_DEADLINE_MS;
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
    pgrepl__hb_track_seen(&hb->track, now_us(hb));
    if (hb->hooks.on_seen != NULL)
        hb->hooks.on_seen(hb->hooks.arg);
}

/* ---- what to watch, and when to be called --------------------------------------- */

/* The earlier of a due time (-1: none) and another one. */
static int64_t min_due(int64_t due, int64_t at)
{
    return due < 0 || at < due ? at : due;
}

int64_t pgrepl__heartbeat_due(const pgrepl_heartbeat *hb)
{
    if (hb == NULL || hb->ph == HB_OFF)
        return -1;
    int64_t now = now_us(hb);
    int64_t due = pgrepl__hb_track_stall_due(&hb->track, now, (int64_t)hb->deadline_ms * 1000);
    if (due >= 0)
        due += now;
    switch (hb->ph) {
    case HB_WAIT:
        return min_due(due, hb->retry_at);
    case HB_CONNECT:
    case HB_QUERY:
        return min_due(due, hb->since + side_timeout_us(hb));
    case HB_IDLE:
        return hb->track.pending ? due : min_due(due, hb->next_emit);
    case HB_OFF:
        break;
    }
    return due;
}

int pgrepl__heartbeat_socket(const pgrepl_heartbeat *hb, unsigned *events)
{
    *events = 0;
    if (hb == NULL || hb->pg == NULL)
        return -1;
    switch (hb->ph) {
    case HB_CONNECT:
        *events = hb->polling == PGRES_POLLING_READING ? PGREPL_CONN_READ : PGREPL_CONN_WRITE;
        break;
    case HB_IDLE:
    case HB_QUERY:
        *events = PGREPL_CONN_READ | (hb->flushing ? PGREPL_CONN_WRITE : 0u);
        break;
    default:
        break;
    }
    return PQsocket(hb->pg);
}

bool pgrepl__heartbeat_connecting(const pgrepl_heartbeat *hb)
{
    return hb != NULL && hb->ph == HB_CONNECT;
}

/* ---- failures ------------------------------------------------------------------- */

static void disconnect(pgrepl_heartbeat *hb)
{
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
    hb->retry_at = now_us(hb) + (int64_t)wait * 1000;
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
    hb->since = now_us(hb);
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
    int64_t now = now_us(hb);
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

static void connected_io(pgrepl_heartbeat *hb, unsigned events)
{
    if ((events & PGREPL_CONN_READ) && !PQconsumeInput(hb->pg)) {
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

/* ---- the owner's entries --------------------------------------------------------------- */

void pgrepl__heartbeat_io(pgrepl_heartbeat *hb, unsigned events, bool error)
{
    if (hb == NULL)
        return;
    if (hb->ph == HB_CONNECT)
        /* a refused connect shows as a socket error: PQconnectPoll says what happened */
        connect_poll(hb);
    else if (hb->ph == HB_IDLE || hb->ph == HB_QUERY)
        /* an error or hang-up: reading says how the connection ended */
        connected_io(hb, error ? events | PGREPL_CONN_READ : events);
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

void pgrepl__heartbeat_timeout(pgrepl_heartbeat *hb)
{
    if (hb == NULL || hb->ph == HB_OFF)
        return;
    int64_t now = now_us(hb);
    if (pgrepl__hb_track_stalled(&hb->track, now, (int64_t)hb->deadline_ms * 1000)) {
        stalled(hb, now);
        if (hb->ph == HB_OFF)
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

uint64_t pgrepl__heartbeat_interval(const pgrepl_heartbeat *hb)
{
    return hb != NULL ? hb->interval_ms : 0;
}

void pgrepl__heartbeat_start(pgrepl_heartbeat *hb, const char *conninfo)
{
    if (hb == NULL || hb->interval_ms == 0)
        return;
    pgrepl__heartbeat_stop(hb);
    int64_t now = now_us(hb);
    hb->conninfo = conninfo;
    hb->failures = 0;
    hb->ph = HB_WAIT;
    hb->retry_at = now;
    hb->next_emit = now + (int64_t)hb->interval_ms * 1000;
    pgrepl__hb_track_restart(&hb->track);
}

void pgrepl__heartbeat_stop(pgrepl_heartbeat *hb)
{
    if (hb == NULL || hb->ph == HB_OFF)
        return;
    disconnect(hb);
    hb->ph = HB_OFF;
    hb->conninfo = NULL;
    pgrepl__hb_track_restart(&hb->track);
}

void pgrepl__heartbeat_reached(pgrepl_heartbeat *hb, pgrepl_lsn lsn)
{
    /* called for every message: the clock is read only when a heartbeat is seen */
    if (hb == NULL || hb->ph == HB_OFF || !pgrepl__hb_track_reached(&hb->track, lsn))
        return;
    seen(hb);
}

void pgrepl__heartbeat_hold(pgrepl_heartbeat *hb, bool held)
{
    if (hb == NULL || hb->ph == HB_OFF || hb->track.held == held)
        return;
    pgrepl__hb_track_hold(&hb->track, held, now_us(hb));
}

bool pgrepl__heartbeat_hides(const pgrepl_heartbeat *hb, const char *prefix)
{
    return hb != NULL && !hb->deliver && strcmp(prefix, hb->prefix) == 0;
}

int64_t pgrepl__heartbeat_lag_us(const pgrepl_heartbeat *hb)
{
    return hb != NULL ? hb->track.lag : -1;
}

void pgrepl__heartbeat_free(pgrepl_heartbeat *hb)
{
    if (hb == NULL)
        return;
    disconnect(hb);
    pgrepl__free(hb->prefix);
    pgrepl__free(hb);
}
