/*
 * Failures: every failure of the stream goes through fail_va(). It sets
 * the message, has the core close the connection (the teardown hook:
 * this part sits below the core and does not call it), and decides
 * whether to reconnect: classify.c says whether retrying can help, and a
 * stream the application started reconnects after a jittered delay that
 * grows with the failures in a row. The application hears of the failure
 * (on_error) and of the state it leaves the stream in.
 */
#include <stdarg.h>
#include <string.h>

#include "classify.h"
#include "pqerror.h"
#include "session_int.h"

void pgrepl__retry_init(pgrepl_session *s, void (*teardown)(pgrepl_session *s, int status))
{
    s->retry.teardown = teardown;
    /* jitter only has to differ between processes and streams; never 0 for xorshift */
    s->retry.rng = ((uint64_t)pgrepl__mono_us() ^ (uint64_t)(uintptr_t)s) | 1;
}

/* The application wants to stream until it stops (failures reconnect), or stopped wanting to. */
void pgrepl__retry_run(pgrepl_session *s, bool run)
{
    s->retry.run_req = run;
}

/* A start from STOPPED: earlier failures do not count against the delays. */
void pgrepl__retry_forget(pgrepl_session *s)
{
    s->retry.attempts = 0;
}

/* A new connection: it has not streamed yet. */
void pgrepl__retry_connecting(pgrepl_session *s)
{
    s->retry.streaming_since = 0;
}

/* The connection began streaming, with the flush reported so far: beyond it is progress. */
void pgrepl__retry_streaming(pgrepl_session *s)
{
    s->retry.streaming_since = pgrepl__now_us(s);
    s->retry.started_flush = pgrepl__positions(s)->reported;
}

/* The delay ran out: a reconnection starts. */
void pgrepl__retry_reconnecting(pgrepl_session *s)
{
    s->retry.reconnects++;
}

/*
 * After a failure: reconnect later when the application wants to stream,
 * reconnection is on and retrying can help. attempts counts failures in a
 * row; a connection that streamed and confirmed progress, or streamed for
 * as long as the longest delay, proved the trouble gone, so the delays
 * start small again after it (an outage that follows begins with short
 * delays: the sooner the stream is back, the less a server restart that
 * forgets unpersisted confirmations sends again). Returns
 * whether a reconnection is scheduled.
 */
static bool plan_retry(pgrepl_session *s, bool fatal)
{
    bool progressed = pgrepl__positions(s)->reported > s->retry.started_flush;
    if (s->retry.streaming_since != 0 &&
        (progressed || pgrepl__now_us(s) - s->retry.streaming_since >= (int64_t)s->cfg.retry_max_ms * 1000))
        s->retry.attempts = 0;
    s->retry.streaming_since = 0;
    s->retry.attempts++;
    if (fatal || !s->retry.run_req || s->cfg.retry_min_ms == 0 || pgrepl__closing(s)) {
        s->retry.run_req = false;
        return false;
    }
    s->retry.retry_in_ms = pgrepl__backoff_ms(s->cfg.retry_min_ms, s->cfg.retry_max_ms, s->retry.attempts,
                                              pgrepl__random_next(&s->retry.rng));
    pgrepl__set_wait(s, pgrepl__now_us(s) + (int64_t)s->retry.retry_in_ms * 1000);
    return true;
}

#if defined(__GNUC__)
__attribute__((format(printf, 5, 0)))
#endif
static void fail_va(pgrepl_session *s, int code, pgrepl_verdict v, const pgrepl_server_message *server,
                    const char *fmt, va_list ap)
{
    pgrepl__set_errmsgv(s, server, fmt, ap);
    s->retry.teardown(s, code);
    pgrepl_stream_state old = pgrepl_session_get_state(s);
    bool retry = plan_retry(s, v.fatal);
    pgrepl__put_state(s, retry ? PGREPL_STREAM_RECONNECTING : PGREPL_STREAM_STOPPED);
    pgrepl_error err = {.code = code,
                        .fatal = v.fatal,
                        .message = pgrepl_session_errmsg(s),
                        .server = server,
                        .hint = v.hint,
                        .retrying = retry,
                        .retry_in_ms = retry ? s->retry.retry_in_ms : 0,
                        .attempt = s->retry.attempts};
    pgrepl__notify(s, &(pgrepl_note){.kind = NOTE_ERROR, .error = &err});
    if (old != pgrepl_session_get_state(s))
        pgrepl__notify(s, &(pgrepl_note){.kind = NOTE_STATE, .state = pgrepl_session_get_state(s)});
}

void pgrepl__fail(pgrepl_session *s, int code, bool fatal, const pgrepl_server_message *server, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_va(s, code, (pgrepl_verdict){fatal, NULL}, server, fmt, ap);
    va_end(ap);
}

void pgrepl__fail_with(pgrepl_session *s, int code, pgrepl_verdict v, const pgrepl_server_message *server,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_va(s, code, v, server, fmt, ap);
    va_end(ap);
}

/* The command `what` failed with the server's error m. */
static void fail_server(pgrepl_session *s, const pgrepl_server_message *m, const char *what)
{
    pgrepl__fail_with(s, PGREPL_ESERVER, pgrepl__classify_server(m->sqlstate, m->message), m, "%s failed: %s %s: %s",
                      what, m->severity, m->sqlstate, m->message);
}

/* The command `what` failed with the error result res. */
void pgrepl__fail_result(pgrepl_session *s, const PGresult *res, const char *what)
{
    pgrepl_server_message m;
    pgrepl__server_message(res, &m);
    if (*m.sqlstate == '\0') {
        /* libpq's own error (the connection went away): no server message */
        char text[256];
        pgrepl__oneline(text, sizeof text, PQresultErrorMessage(res));
        pgrepl__fail(s, PGREPL_ECONNLOST, false, NULL, "%s failed: %s", what, *text ? text : "connection lost");
        return;
    }
    fail_server(s, &m, what);
}

/* An ERROR event: the server's error ends the command `what`. */
void pgrepl__fail_error(pgrepl_session *s, pgrepl_conn_error *e, const char *what)
{
    fail_server(s, &e->m, what);
    pgrepl__conn_error_free(e);
}

/* The connection failed (conn.h's code) with no server error kept: libpq's message, or for a connect the server's. */
void pgrepl__fail_conn(pgrepl_session *s, int code, const char *what)
{
    if (code == PGREPL_EPROTOCOL || code == PGREPL_ENOMEM) {
        pgrepl__fail(s, code, false, NULL, "%s: %s", what, pgrepl__conn_errmsg(pgrepl__conn(s)));
        return;
    }
    if (code != PGREPL_ECONNECT) {
        pgrepl__fail(s, code, false, NULL, "connection lost: %s", pgrepl__conn_errmsg(pgrepl__conn(s)));
        return;
    }
    /* a copy: closing the connection clears it, and on_error gets the server message built on it */
    pgrepl_connect_diag d = pgrepl__conn(s)->diag;
    if (d.sqlstate[0] == '\0') {
        pgrepl__fail_with(s, code, pgrepl__classify_libpq(d.text), NULL, "could not connect: %s", d.text);
        return;
    }
    pgrepl_server_message m = {
        .severity = d.severity, .sqlstate = d.sqlstate, .message = d.message, .detail = d.detail, .hint = d.hint};
    pgrepl__fail_with(s, code, pgrepl__classify_server(d.sqlstate, d.message), &m, "could not connect: %s", d.text);
}

/*
 * "publication does not exist" while streaming, after the check found every
 * publication: pgoutput looks publications up as of each change's LSN, so
 * one dropped (and created again) after the slot's position cannot be
 * decoded past. Says so, fatally. Returns whether m was that.
 */
bool pgrepl__fail_publication_gone(pgrepl_session *s, const pgrepl_server_message *m)
{
    if (strcmp(m->sqlstate, "42704") != 0 || strstr(m->message, "publication") == NULL)
        return false;
    pgrepl__fail_with(s, PGREPL_ESERVER, (pgrepl_verdict){true, pgrepl__hint_publication_recreated}, m,
                      "replication stream failed: %s %s: %s: the publication was dropped (and created again) after the "
                      "slot's position, and the slot cannot decode the changes since the drop",
                      m->severity, m->sqlstate, m->message);
    return true;
}

uint64_t pgrepl_session_reconnects(const pgrepl_session *s)
{
    return s != NULL ? s->retry.reconnects : 0;
}
