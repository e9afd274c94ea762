/*
 * The door to the application's stream callbacks (pgrepl_session_callbacks
 * and the slot commands' callbacks): every one goes through
 * pgrepl__notify. It also keeps what the application was told: the
 * stream's state and the message of the last failure.
 *
 * Below every other part of the session: it calls none of them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "session_int.h"

const char *pgrepl_stream_state_name(pgrepl_stream_state state)
{
    switch (state) {
    case PGREPL_STREAM_STOPPED:
        return "stopped";
    case PGREPL_STREAM_CONNECTING:
        return "connecting";
    case PGREPL_STREAM_READY:
        return "ready";
    case PGREPL_STREAM_STREAMING:
        return "streaming";
    case PGREPL_STREAM_STOPPING:
        return "stopping";
    case PGREPL_STREAM_CLOSING:
        return "closing";
    case PGREPL_STREAM_RECONNECTING:
        return "reconnecting";
    }
    return "unknown";
}

/* A callback the application set (a NULL one is skipped). */
#define CALL(fn, ...)                                                                                                  \
    do {                                                                                                               \
        if ((fn) != NULL)                                                                                              \
            (fn)(__VA_ARGS__);                                                                                         \
    } while (0)

/*
 * Every stream callback goes through here: NULL ones are skipped, nothing
 * but the completion of slot commands runs once close() was called, and
 * busy makes close() from inside wait until the stream is off the stack.
 */
void pgrepl__notify(pgrepl_session *s, const pgrepl_note *n)
{
    bool slot = n->kind == NOTE_SLOT_CREATED || n->kind == NOTE_SLOT_DONE || n->kind == NOTE_SLOT_INFO;
    if (pgrepl__closing(s) && !(slot && pgrepl__finalizing(s)))
        return;
    pgrepl__busy_enter(s);
    switch (n->kind) {
    case NOTE_STATE: CALL(s->cfg.scb.on_state, s, n->state); break;
    case NOTE_NOTICE: CALL(s->cfg.scb.on_notice, s, n->server); break;
    case NOTE_ERROR: CALL(s->cfg.scb.on_error, s, n->error); break;
    case NOTE_WARNING: CALL(s->cfg.scb.on_warning, s, n->error); break;
    case NOTE_KEEPALIVE: CALL(s->cfg.scb.on_keepalive, s, n->lsn1, n->time, n->flag); break;
    case NOTE_STATUS_SENT: CALL(s->cfg.scb.on_status_sent, s, n->lsn1, n->lsn2); break;
    case NOTE_SLOT_CREATED: CALL(n->created_cb, s, n->status, n->created, n->arg); break;
    case NOTE_SLOT_DONE: CALL(n->done_cb, s, n->status, n->arg); break;
    case NOTE_SLOT_INFO: CALL(n->info_cb, s, n->status, n->info, n->arg); break;
    case NOTE_START: CALL(s->cfg.scb.on_start, s, n->start); break;
    }
    pgrepl__busy_leave(s);
}

void pgrepl__set_state(pgrepl_session *s, pgrepl_stream_state state)
{
    if (s->door.state == state)
        return;
    s->door.state = state;
    pgrepl__notify(s, &(pgrepl_note){.kind = NOTE_STATE, .state = state});
}

void pgrepl__put_state(pgrepl_session *s, pgrepl_stream_state state)
{
    s->door.state = state;
}

/* A notice the server sent on the replication connection (libpq's notice receiver, through conn.c). */
void pgrepl__on_notice(void *arg, const pgrepl_server_message *m)
{
    pgrepl_session *s = arg;
    pgrepl__notify(s, &(pgrepl_note){.kind = NOTE_NOTICE, .server = m});
}

void pgrepl__set_errmsgv(pgrepl_session *s, const pgrepl_server_message *server, const char *fmt, va_list ap)
{
    vsnprintf(s->door.errmsg, sizeof s->door.errmsg, fmt, ap);
    snprintf(s->door.sqlstate, sizeof s->door.sqlstate, "%s", server != NULL ? server->sqlstate : "");
}

void pgrepl__set_errmsg(pgrepl_session *s, const pgrepl_server_message *server, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pgrepl__set_errmsgv(s, server, fmt, ap);
    va_end(ap);
}

/* Without the newlines that end libpq's messages. */
void pgrepl__chomp_errmsg(pgrepl_session *s)
{
    size_t n = strlen(s->door.errmsg);
    while (n > 0 && s->door.errmsg[n - 1] == '\n')
        s->door.errmsg[--n] = '\0';
}

pgrepl_stream_state pgrepl_session_get_state(const pgrepl_session *s)
{
    return s != NULL ? s->door.state : PGREPL_STREAM_STOPPED;
}

const char *pgrepl_session_errmsg(const pgrepl_session *s)
{
    return s != NULL ? s->door.errmsg : "";
}

const char *pgrepl_session_sqlstate(const pgrepl_session *s)
{
    return s != NULL ? s->door.sqlstate : "";
}
