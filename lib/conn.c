#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pgrepl/common.h"
#include "alloc.h"
#include "conn.h"
#include "wire.h"

void pgrepl__conn_init(pgrepl_conn *c)
{
    memset(c, 0, sizeof *c);
    pgrepl__copyreader_init(&c->in);
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
    else if (!c->raw)
        take_errmsg(c);
    c->phase = PGREPL_CONN_FAILED;
    c->fail_code = code;
    c->flushing = false;
}

/* A read or write failed: what is already buffered is still delivered, then FAILED. */
static void lose(pgrepl_conn *c)
{
    if (!c->lost)
        take_errmsg(c);
    c->lost = true;
    c->flushing = false;
}

/* As lose(), on the socket read here: the reason is ours, not libpq's. */
static void lose_raw(pgrepl_conn *c, int code, const char *why)
{
    if (!c->lost) {
        snprintf(c->errmsg, sizeof c->errmsg, "%s", why);
        c->lost_code = code;
    }
    c->lost = true;
    c->flushing = false;
}

static void on_pq_notice(void *arg, const PGresult *res)
{
    pgrepl_conn *c = arg;
    pgrepl_server_message m;
    pgrepl__server_message(res, &m);
    if (c->notice != NULL)
        c->notice(c->notice_arg, &m);
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

int pgrepl__conn_start(pgrepl_conn *c, const char *conninfo, pgrepl_conn_notice_fn notice, void *arg)
{
    const char *const vals[] = {
        "1", "30", "10", "3", "30000", conninfo != NULL ? conninfo : "", "database", "pgrepl", NULL,
    };
    pgrepl__conn_init(c);
    c->pg = PQconnectStartParams(conn_keys, vals, 1);
    if (c->pg == NULL)
        return PGREPL_ENOMEM;
    c->notice = notice;
    c->notice_arg = arg;
    /* c is the receiver's argument: the owner keeps c where it is while connected */
    PQsetNoticeReceiver(c->pg, on_pq_notice, c);
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

/* ---- the copy read and written on the socket (plaintext connections) ------------- */

/* Bytes that are not the protocol: a protocol error, after what was complete before them. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void garbled(pgrepl_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
    c->phase = PGREPL_CONN_FAILED;
    c->fail_code = PGREPL_EPROTOCOL;
    c->flushing = false;
}

static void raw_flush(pgrepl_conn *c)
{
    while (c->out_start < c->out.len) {
        ssize_t n = send(c->sock, c->out.data + c->out_start, c->out.len - c->out_start, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_start += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->flushing = true;
            return;
        }
        char why[160];
        snprintf(why, sizeof why, "could not send data to server: %s", n < 0 ? strerror(errno) : "no progress");
        lose_raw(c, PGREPL_ECONNLOST, why);
        return;
    }
    c->out_start = c->out.len = 0;
    c->flushing = false;
}

/* Queue one message of type with len bytes of body; PGREPL_ENOMEM if the buffer cannot grow. */
static int raw_queue(pgrepl_conn *c, char type, const void *body, size_t len)
{
    if (c->out_start == c->out.len)
        c->out_start = c->out.len = 0;
    if (len > INT32_MAX - 4)
        return PGREPL_EINVAL;
    if (pgrepl_buf_reserve(&c->out, 5 + len) != 0)
        return PGREPL_ENOMEM;
    uint8_t *p = (uint8_t *)c->out.data + c->out.len;
    p[0] = (uint8_t)type;
    pgrepl__put_u32(p + 1, (uint32_t)(len + 4));
    if (len != 0)
        memcpy(p + 5, body, len);
    c->out.len += 5 + len;
    return 0;
}

static void raw_read(pgrepl_conn *c)
{
    char *at;
    size_t room;
    if (pgrepl__copyreader_room(&c->in, &at, &room) != 0) {
        lose_raw(c, PGREPL_ENOMEM, "out of memory for the input buffer");
        return;
    }
    if (room == 0)
        return;
    for (;;) {
        ssize_t n = recv(c->sock, at, room, 0);
        c->filled = n > 0 && (size_t)n == room;
        if (n > 0) {
            pgrepl__copyreader_received(&c->in, (size_t)n);
            return;
        }
        if (n == 0) {
            lose_raw(c, PGREPL_ECONNLOST, "server closed the connection unexpectedly");
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            char why[160];
            snprintf(why, sizeof why, "could not receive data from server: %s", strerror(errno));
            lose_raw(c, PGREPL_ECONNLOST, why);
        }
        return;
    }
}

/* An ErrorResponse or NoticeResponse body: its fields as a server message in e (owning the copy). */
static pgrepl_conn_error *raw_fields(const char *body, size_t len)
{
    pgrepl_conn_error *e = pgrepl__malloc(sizeof *e + len + 1);
    if (e == NULL)
        return NULL;
    char *text = (char *)(e + 1);
    memcpy(text, body, len);
    text[len] = '\0';
    const char *localized = "";
    e->m = (pgrepl_server_message){.severity = "", .sqlstate = "", .message = "", .detail = "", .hint = ""};
    /* fields: a type byte and a NUL-terminated string each, the list ended by a zero type */
    for (char *p = text; p < text + len && *p != '\0';) {
        char type = *p++;
        const char *v = p;
        p += strlen(p) + 1;
        switch (type) {
        case 'V':
            e->m.severity = v;
            break;
        case 'S':
            localized = v;
            break;
        case 'C':
            e->m.sqlstate = v;
            break;
        case 'M':
            e->m.message = v;
            break;
        case 'D':
            e->m.detail = v;
            break;
        case 'H':
            e->m.hint = v;
            break;
        default:
            break;
        }
    }
    if (*e->m.severity == '\0')
        e->m.severity = localized;
    return e;
}

void pgrepl__conn_error_free(pgrepl_conn_error *e)
{
    pgrepl__free(e);
}

/* One complete message: an event in ev, or none (then the next message is looked at). */
static void raw_message(pgrepl_conn *c, pgrepl_conn_event *ev, char type, const char *body, size_t len)
{
    switch (type) {
    case 'd':
        if (c->phase == PGREPL_CONN_COPY) {
            ev->kind = PGREPL_CONN_EV_DATA;
            ev->data = body;
            ev->len = len;
        } else if (!c->copied) {
            garbled(c, "protocol error: CopyData (%zu bytes) before the copy began", len);
        }
        /* CopyData after the copy ended (the server's last keepalive after its CopyDone) is dropped */
        return;
    case 'W':
        if (c->phase != PGREPL_CONN_BUSY || c->copied) {
            garbled(c, "protocol error: unexpected CopyBothResponse (%zu bytes)", len);
            return;
        }
        c->copied = true;
        c->phase = PGREPL_CONN_COPY;
        ev->kind = PGREPL_CONN_EV_COPY_BOTH;
        return;
    case 'c':
    case 'C':
        /* CopyDone, or CommandComplete without it (a server shutting down): the copy is over */
        if (c->phase == PGREPL_CONN_COPY || c->phase == PGREPL_CONN_DRAIN)
            c->phase = PGREPL_CONN_BUSY;
        return;
    case 'E': {
        pgrepl_conn_error *e = raw_fields(body, len);
        if (e == NULL) {
            lose_raw(c, PGREPL_ENOMEM, "out of memory for the server's error");
            return;
        }
        if (c->phase == PGREPL_CONN_COPY || c->phase == PGREPL_CONN_DRAIN)
            c->phase = PGREPL_CONN_BUSY;
        ev->kind = PGREPL_CONN_EV_ERROR;
        ev->error = e;
        return;
    }
    case 'N': {
        pgrepl_conn_error *e = c->notice != NULL ? raw_fields(body, len) : NULL;
        if (e != NULL)
            c->notice(c->notice_arg, &e->m);
        pgrepl__free(e);
        /* a stop, close or pause asked from the notice callback comes before the next message */
        ev->kind = PGREPL_CONN_EV_NOTICE;
        return;
    }
    case 'S': /* ParameterStatus */
    case 'A': /* NotificationResponse */
        return;
    case 'Z':
        if (c->phase != PGREPL_CONN_BUSY) {
            garbled(c, "protocol error: unexpected ReadyForQuery (%zu bytes)", len);
            return;
        }
        c->phase = PGREPL_CONN_IDLE;
        ev->kind = PGREPL_CONN_EV_DONE;
        return;
    default:
        garbled(c, "protocol error: unexpected message type 0x%02x (%zu bytes) from the server",
                (unsigned)(unsigned char)type, len);
        return;
    }
}

static void raw_next(pgrepl_conn *c, pgrepl_conn_event *ev)
{
    while (ev->kind == PGREPL_CONN_EV_NONE && c->phase != PGREPL_CONN_FAILED) {
        pgrepl_copymsg m;
        pgrepl_copyreader_result r = pgrepl__copyreader_next(&c->in, &m);
        if (r == PGREPL_COPYREADER_MORE)
            break;
        if (r == PGREPL_COPYREADER_ERROR) {
            garbled(c, "%s", pgrepl__copyreader_errmsg(&c->in));
            break;
        }
        raw_message(c, ev, m.type, m.body, m.len);
    }
    if (c->phase == PGREPL_CONN_FAILED && ev->kind == PGREPL_CONN_EV_NONE) {
        c->fail_code = 0;
        ev->kind = PGREPL_CONN_EV_FAILED;
        ev->code = PGREPL_EPROTOCOL;
        return;
    }
    if (ev->kind == PGREPL_CONN_EV_NONE && c->lost) {
        c->phase = PGREPL_CONN_FAILED;
        ev->kind = PGREPL_CONN_EV_FAILED;
        ev->code = c->lost_code;
    }
}

int pgrepl__conn_start_copy(pgrepl_conn *c, const char *sql)
{
    if (c->phase != PGREPL_CONN_IDLE || c->connected || c->raw || c->flushing)
        return PGREPL_ESTATE;
    if (PQsslInUse(c->pg) || PQgssEncInUse(c->pg))
        return pgrepl__conn_send(c, sql);
    /* libpq is idle with nothing left to send: from here on the socket is read and written here */
    c->raw = true;
    c->sock = PQsocket(c->pg);
    int rc = raw_queue(c, 'Q', sql, strlen(sql) + 1);
    if (rc != 0)
        return rc;
    c->phase = PGREPL_CONN_BUSY;
    raw_flush(c);
    return 0;
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
        if (c->raw) {
            if ((events & PGREPL_CONN_READ) && !c->lost)
                raw_read(c);
            if (c->flushing && !c->lost)
                raw_flush(c);
            return;
        }
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
    if (c->raw) {
        if (c->phase != PGREPL_CONN_FAILED)
            raw_next(c, ev);
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
    if (c->phase != PGREPL_CONN_IDLE || c->connected || c->raw)
        return PGREPL_ESTATE;
    if (c->lost || !PQsendQuery(c->pg, sql)) {
        fail(c, PGREPL_ECONNLOST);
        return 0;
    }
    c->phase = PGREPL_CONN_BUSY;
    flush(c);
    return 0;
}

/* Queue and send one message of the copy; as pgrepl__conn_put. */
static int raw_put(pgrepl_conn *c, char type, const void *buf, size_t len)
{
    if (c->lost) {
        fail(c, PGREPL_ECONNLOST);
        return PGREPL_ECONNLOST;
    }
    int rc = raw_queue(c, type, buf, len);
    if (rc != 0)
        return rc;
    raw_flush(c);
    return 0;
}

int pgrepl__conn_put(pgrepl_conn *c, const void *buf, size_t len)
{
    if (c->phase != PGREPL_CONN_COPY)
        return PGREPL_ESTATE;
    if (c->raw)
        return raw_put(c, 'd', buf, len);
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
    if (c->raw) {
        int rc = raw_put(c, 'c', NULL, 0);
        if (rc == 0)
            c->phase = PGREPL_CONN_DRAIN;
        return rc;
    }
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

bool pgrepl__conn_read_filled(const pgrepl_conn *c)
{
    return c->raw && c->filled;
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

const char *pgrepl__conn_parameter(const pgrepl_conn *c, const char *name)
{
    const char *v = c->pg != NULL ? PQparameterStatus(c->pg, name) : NULL;
    return v != NULL ? v : "";
}

const char *pgrepl__conn_errmsg(const pgrepl_conn *c)
{
    return c->errmsg;
}

void pgrepl__conn_finish(pgrepl_conn *c)
{
    if (c->copybuf != NULL)
        PQfreemem(c->copybuf);
    pgrepl__copyreader_free(&c->in);
    pgrepl_buf_free(&c->out);
    if (c->pg != NULL)
        PQfinish(c->pg);
    pgrepl__conn_init(c);
}
