#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgrepl/common.h"
#include "conn.h"

void pgrepl__conn_init(pgrepl_conn *c)
{
    memset(c, 0, sizeof *c);
}

void pgrepl__oneline(char *dst, size_t size, const char *src)
{
    size_t n = 0;
    bool blank = false;
    for (const char *p = src; *p != '\0' && n + 1 < size; p++) {
        bool space = *p == '\n' || *p == '\t' || *p == '\r' || *p == ' ';
        if (space) {
            blank = n > 0;
            continue;
        }
        if (blank && n + 2 < size)
            dst[n++] = ' ';
        blank = false;
        dst[n++] = *p;
    }
    dst[n] = '\0';
}

static void take_errmsg(pgrepl_conn *c)
{
    pgrepl__oneline(c->errmsg, sizeof c->errmsg, c->pg != NULL ? PQerrorMessage(c->pg) : "out of memory");
}

/* A failed connection setup: libpq's verbose text carries the SQLSTATE the server gave. */
static void take_connect_error(pgrepl_conn *c)
{
    pgrepl__parse_connect_error(c->pg != NULL ? PQerrorMessage(c->pg) : "out of memory", &c->diag);
    snprintf(c->errmsg, sizeof c->errmsg, "%s", c->diag.text);
}

static void fail(pgrepl_conn *c, int code)
{
    if (c->phase == PGREPL_CONN_CONNECTING)
        take_connect_error(c);
    else
        take_errmsg(c);
    c->phase = PGREPL_CONN_FAILED;
    c->fail_code = code;
    c->flushing = false;
}

/* A read or write failed: what libpq already buffered is still delivered, then FAILED. */
static void lose(pgrepl_conn *c)
{
    if (!c->lost)
        take_errmsg(c);
    c->lost = true;
    c->flushing = false;
}

/*
 * Keywords are applied in order and expand_dbname expands the first dbname
 * in place: what precedes it is a default the conninfo may override, what
 * follows it is forced. The TCP settings (ignored on Unix sockets) make a
 * dead peer or a black-holed path show within about a minute instead of
 * the system's two hours: keepalive probes after 30 s of silence, and
 * tcp_user_timeout for data the peer never acknowledges.
 */
static const char *const conn_keys[] = {
    "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
    "dbname",     "replication",     "fallback_application_name", NULL,
};

int pgrepl__conn_start(pgrepl_conn *c, const char *conninfo, PQnoticeReceiver rx, void *arg)
{
    const char *const vals[] = {
        "1", "30", "10", "3", "30000", conninfo != NULL ? conninfo : "", "database", "pgrepl", NULL,
    };
    pgrepl__conn_init(c);
    c->pg = PQconnectStartParams(conn_keys, vals, 1);
    if (c->pg == NULL)
        return PGREPL_ENOMEM;
    PQsetNoticeReceiver(c->pg, rx, arg);
    /* until connected: errors during setup exist only as text, and only this verbosity puts the SQLSTATE in it */
    PQsetErrorVerbosity(c->pg, PQERRORS_VERBOSE);
    c->phase = PGREPL_CONN_CONNECTING;
    c->polling = PGRES_POLLING_WRITING;
    if (PQstatus(c->pg) == CONNECTION_BAD || PQsocket(c->pg) < 0)
        fail(c, PGREPL_ECONNECT);
    return 0;
}

static void connect_poll(pgrepl_conn *c)
{
    PostgresPollingStatusType st = PQconnectPoll(c->pg);
    switch (st) {
    case PGRES_POLLING_OK:
        if (PQsetnonblocking(c->pg, 1) != 0) {
            fail(c, PGREPL_ECONNECT);
            return;
        }
        PQsetErrorVerbosity(c->pg, PQERRORS_DEFAULT);
        c->phase = PGREPL_CONN_IDLE;
        c->connected = true;
        return;
    case PGRES_POLLING_FAILED:
        fail(c, PGREPL_ECONNECT);
        return;
    default:
        c->polling = st;
        return;
    }
}

static void flush(pgrepl_conn *c)
{
    int r = PQflush(c->pg);
    if (r < 0)
        lose(c);
    else
        c->flushing = r == 1;
}

void pgrepl__conn_io(pgrepl_conn *c, unsigned events)
{
    switch (c->phase) {
    case PGREPL_CONN_CONNECTING:
        connect_poll(c);
        return;
    case PGREPL_CONN_IDLE:
    case PGREPL_CONN_BUSY:
    case PGREPL_CONN_COPY:
    case PGREPL_CONN_DRAIN:
        if ((events & PGREPL_CONN_READ) && !c->lost && !PQconsumeInput(c->pg))
            lose(c);
        /* libpq: reading can unblock a pending flush, so flush after either event */
        if (c->flushing && !c->lost)
            flush(c);
        return;
    default:
        return;
    }
}

static void event_failed(pgrepl_conn *c, pgrepl_conn_event *ev, int code)
{
    fail(c, code);
    c->fail_code = 0;
    ev->kind = PGREPL_CONN_EV_FAILED;
    ev->code = code;
}

static void next_idle(pgrepl_conn *c, pgrepl_conn_event *ev)
{
    if (c->connected) {
        c->connected = false;
        ev->kind = PGREPL_CONN_EV_CONNECTED;
        return;
    }
    /* parses what arrived while idle: notices, or a FATAL before the server closes */
    (void)PQisBusy(c->pg);
    if (c->lost)
        event_failed(c, ev, PGREPL_ECONNLOST);
}

static void next_result(pgrepl_conn *c, pgrepl_conn_event *ev)
{
    if (PQisBusy(c->pg)) {
        if (c->lost)
            event_failed(c, ev, PGREPL_ECONNLOST);
        return;
    }
    PGresult *res = PQgetResult(c->pg);
    if (res == NULL) {
        c->phase = PGREPL_CONN_IDLE;
        ev->kind = PGREPL_CONN_EV_DONE;
        return;
    }
    if (PQresultStatus(res) == PGRES_COPY_BOTH) {
        PQclear(res);
        c->phase = PGREPL_CONN_COPY;
        ev->kind = PGREPL_CONN_EV_COPY_BOTH;
        return;
    }
    ev->kind = PGREPL_CONN_EV_RESULT;
    ev->result = res;
}

static void next_copy(pgrepl_conn *c, pgrepl_conn_event *ev)
{
    for (;;) {
        char *buf = NULL;
        int n = PQgetCopyData(c->pg, &buf, 1);
        if (n > 0 && c->phase == PGREPL_CONN_DRAIN) {
            PQfreemem(buf);
            continue;
        }
        if (n > 0) {
            c->copybuf = buf;
            ev->kind = PGREPL_CONN_EV_DATA;
            ev->data = buf;
            ev->len = (size_t)n;
            return;
        }
        if (n == 0) {
            /* after a failed read libpq keeps answering 0: the socket is gone */
            if (c->lost)
                event_failed(c, ev, PGREPL_ECONNLOST);
            return;
        }
        if (n == -1) {
            /* the copy ended (CopyDone, an error, or the server going away): results follow */
            c->phase = PGREPL_CONN_BUSY;
            next_result(c, ev);
            return;
        }
        event_failed(c, ev, PGREPL_ECONNLOST);
        return;
    }
}

void pgrepl__conn_next(pgrepl_conn *c, pgrepl_conn_event *ev)
{
    memset(ev, 0, sizeof *ev);
    if (c->copybuf != NULL) {
        PQfreemem(c->copybuf);
        c->copybuf = NULL;
    }
    if (c->fail_code != 0) {
        ev->kind = PGREPL_CONN_EV_FAILED;
        ev->code = c->fail_code;
        c->fail_code = 0;
        return;
    }
    switch (c->phase) {
    case PGREPL_CONN_IDLE:
        next_idle(c, ev);
        return;
    case PGREPL_CONN_BUSY:
        next_result(c, ev);
        return;
    case PGREPL_CONN_COPY:
    case PGREPL_CONN_DRAIN:
        next_copy(c, ev);
        return;
    default:
        return;
    }
}

int pgrepl__conn_send(pgrepl_conn *c, const char *sql)
{
    if (c->phase != PGREPL_CONN_IDLE || c->connected)
        return PGREPL_ESTATE;
    if (c->lost || !PQsendQuery(c->pg, sql)) {
        fail(c, PGREPL_ECONNLOST);
        return 0;
    }
    c->phase = PGREPL_CONN_BUSY;
    flush(c);
    return 0;
}

int pgrepl__conn_put(pgrepl_conn *c, const void *buf, size_t len)
{
    if (c->phase != PGREPL_CONN_COPY)
        return PGREPL_ESTATE;
    int r = c->lost ? -1 : PQputCopyData(c->pg, buf, (int)len);
    if (r == 0)
        return PGREPL_ENOMEM; /* non-blocking: the output buffer could not grow */
    if (r < 0) {
        fail(c, PGREPL_ECONNLOST);
        return PGREPL_ECONNLOST;
    }
    flush(c);
    return 0;
}

int pgrepl__conn_end_copy(pgrepl_conn *c)
{
    if (c->phase != PGREPL_CONN_COPY)
        return PGREPL_ESTATE;
    int r = c->lost ? -1 : PQputCopyEnd(c->pg, NULL);
    if (r == 0)
        return PGREPL_ENOMEM;
    if (r < 0) {
        fail(c, PGREPL_ECONNLOST);
        return PGREPL_ECONNLOST;
    }
    c->phase = PGREPL_CONN_DRAIN;
    flush(c);
    return 0;
}

unsigned pgrepl__conn_wants(const pgrepl_conn *c)
{
    if (c->lost)
        return 0;
    switch (c->phase) {
    case PGREPL_CONN_CONNECTING:
        return c->polling == PGRES_POLLING_READING ? PGREPL_CONN_READ : PGREPL_CONN_WRITE;
    case PGREPL_CONN_IDLE:
    case PGREPL_CONN_BUSY:
    case PGREPL_CONN_COPY:
    case PGREPL_CONN_DRAIN:
        return PGREPL_CONN_READ | (c->flushing ? PGREPL_CONN_WRITE : 0u);
    default:
        return 0;
    }
}

int pgrepl__conn_socket(const pgrepl_conn *c)
{
    if (c->pg == NULL || c->lost || c->phase == PGREPL_CONN_CLOSED || c->phase == PGREPL_CONN_FAILED)
        return -1;
    return PQsocket(c->pg);
}

bool pgrepl__conn_copying(const pgrepl_conn *c)
{
    return c->phase == PGREPL_CONN_COPY && !c->lost;
}

bool pgrepl__conn_connecting(const pgrepl_conn *c)
{
    return c->phase == PGREPL_CONN_CONNECTING;
}

bool pgrepl__conn_ok(const pgrepl_conn *c)
{
    return c->pg != NULL && !c->lost && c->phase != PGREPL_CONN_FAILED && PQstatus(c->pg) == CONNECTION_OK;
}

uint64_t pgrepl__conn_connect_timeout_ms(const pgrepl_conn *c)
{
    PQconninfoOption *opts = c->pg != NULL ? PQconninfo(c->pg) : NULL;
    uint64_t ms = 0;
    for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "connect_timeout") != 0 || o->val == NULL)
            continue;
        long secs = strtol(o->val, NULL, 10);
        /* as libpq: 0 or less is no timeout, and less than 2 s would be too little */
        if (secs > 0)
            ms = (uint64_t)(secs < 2 ? 2 : secs) * 1000;
    }
    PQconninfoFree(opts);
    return ms;
}

int pgrepl__conn_server_version(const pgrepl_conn *c)
{
    return c->pg != NULL ? PQserverVersion(c->pg) : 0;
}

const char *pgrepl__conn_errmsg(const pgrepl_conn *c)
{
    return c->errmsg;
}

void pgrepl__conn_finish(pgrepl_conn *c)
{
    if (c->copybuf != NULL)
        PQfreemem(c->copybuf);
    if (c->pg != NULL)
        PQfinish(c->pg);
    pgrepl__conn_init(c);
}
