#include <string.h>

#include "feedback.h"

void pgrepl__feedback_init(pgrepl_feedback *f, int64_t interval_us, int64_t sender_timeout_us,
                           int64_t recv_timeout_us, int64_t now)
{
    memset(f, 0, sizeof *f);
    f->interval_us = interval_us > 0 ? interval_us : 1;
    f->sender_timeout_us = sender_timeout_us > 0 ? sender_timeout_us : 0;
    f->recv_timeout_us = recv_timeout_us > 0 ? recv_timeout_us : 0;
    f->last_sent = now;
    f->last_recv = now;
}

int64_t pgrepl__feedback_period(const pgrepl_feedback *f)
{
    int64_t p = f->interval_us;
    if (f->sender_timeout_us > 0 && f->sender_timeout_us / 2 < p)
        p = f->sender_timeout_us / 2;
    return p > 0 ? p : 1;
}

void pgrepl__feedback_on_recv(pgrepl_feedback *f, int64_t now)
{
    /* the caller's clock may be that of an earlier wakeup: never back */
    if (now > f->last_recv)
        f->last_recv = now;
    f->ping_outstanding = false;
}

void pgrepl__feedback_on_keepalive(pgrepl_feedback *f, bool reply_requested, pgrepl_lsn wal_end, pgrepl_lsn flush)
{
    if (!reply_requested)
        return;
    f->reply_pending = true;
    if (flush < wal_end) {
        f->server_waiting = true;
        f->waiting_for = wal_end;
    }
}

void pgrepl__feedback_on_sent(pgrepl_feedback *f, int64_t now, bool ping, pgrepl_lsn flush)
{
    f->last_sent = now;
    f->reply_pending = false;
    if (ping)
        f->ping_outstanding = true;
    if (f->server_waiting && flush >= f->waiting_for)
        f->server_waiting = false;
}

pgrepl_feedback_action pgrepl__feedback_decide(const pgrepl_feedback *f, int64_t now, pgrepl_lsn flush,
                                               pgrepl_lsn last_flush)
{
    int64_t silent = now - f->last_recv;
    if (f->recv_timeout_us > 0 && silent >= f->recv_timeout_us)
        return PGREPL_FEEDBACK_DEAD;
    if (f->reply_pending)
        return PGREPL_FEEDBACK_SEND;
    /* The server asked for a position we could not confirm then (it may be
     * waiting to shut down): tell it as soon as the application moves. */
    if (f->server_waiting && flush > last_flush)
        return PGREPL_FEEDBACK_SEND;
    if (f->recv_timeout_us > 0 && !f->ping_outstanding && silent >= f->recv_timeout_us / 2)
        return PGREPL_FEEDBACK_PING;
    if (now - f->last_sent >= pgrepl__feedback_period(f))
        return PGREPL_FEEDBACK_SEND;
    return PGREPL_FEEDBACK_NONE;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

int64_t pgrepl__feedback_next_due(const pgrepl_feedback *f, int64_t now)
{
    if (f->reply_pending)
        return 0;
    int64_t due = f->last_sent + pgrepl__feedback_period(f) - now;
    if (f->recv_timeout_us > 0) {
        if (!f->ping_outstanding)
            due = min64(due, f->last_recv + f->recv_timeout_us / 2 - now);
        due = min64(due, f->last_recv + f->recv_timeout_us - now);
    }
    return due > 0 ? due : 0;
}
