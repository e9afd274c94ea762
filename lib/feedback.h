/*
 * When to send a status update, and when the connection is dead: pure
 * functions of what arrived, what was sent and a clock value (protocol.md
 * section 5). No I/O. Times are microseconds on any monotonic clock; the
 * positions come from the ledger (ledger.h).
 */
#ifndef PGREPL_LIB_FEEDBACK_H
#define PGREPL_LIB_FEEDBACK_H

#include <stdbool.h>
#include <stdint.h>

#include "pgrepl/common.h"

typedef struct pgrepl_feedback {
    int64_t interval_us;        /* configured status interval (> 0) */
    int64_t sender_timeout_us;  /* server's wal_sender_timeout, 0 = none */
    int64_t recv_timeout_us;    /* silence after which the connection is dead, 0 = never */
    int64_t last_sent;          /* when the last status update went out */
    int64_t last_recv;          /* when anything last arrived from the server */
    bool reply_pending;         /* the server asked for a reply and has not had one */
    bool server_waiting;        /* the server asked while we could not confirm its walEnd */
    pgrepl_lsn waiting_for;     /* that walEnd */
    bool ping_outstanding;      /* we asked the server to reply and nothing has arrived since */
} pgrepl_feedback;

typedef enum pgrepl_feedback_action {
    PGREPL_FEEDBACK_NONE = 0,
    PGREPL_FEEDBACK_SEND,   /* send a status update now */
    PGREPL_FEEDBACK_PING,   /* send a status update asking the server to reply */
    PGREPL_FEEDBACK_DEAD    /* nothing arrived for recv_timeout: the connection is dead */
} pgrepl_feedback_action;

void pgrepl__feedback_init(pgrepl_feedback *f, int64_t interval_us, int64_t sender_timeout_us,
                           int64_t recv_timeout_us, int64_t now);
/* The effective period between status updates: interval, capped at half of wal_sender_timeout. */
int64_t pgrepl__feedback_period(const pgrepl_feedback *f);
/* Anything arrived from the server, read at now; an earlier now than the last is ignored. */
void pgrepl__feedback_on_recv(pgrepl_feedback *f, int64_t now);
/* A keepalive arrived; reply_requested as sent, wal_end its walEnd, flush what we could report now. */
void pgrepl__feedback_on_keepalive(pgrepl_feedback *f, bool reply_requested, pgrepl_lsn wal_end, pgrepl_lsn flush);
/* A status update was sent (ping: with replyRequested) reporting flush. */
void pgrepl__feedback_on_sent(pgrepl_feedback *f, int64_t now, bool ping, pgrepl_lsn flush);
/*
 * What to do now. flush/last_flush: what could be reported now and what was
 * last reported (a change after an acknowledgement matters while the server
 * waits for it).
 */
pgrepl_feedback_action pgrepl__feedback_decide(const pgrepl_feedback *f, int64_t now, pgrepl_lsn flush,
                                               pgrepl_lsn last_flush);
/* Microseconds from now until decide() could answer something other than NONE without new input. */
int64_t pgrepl__feedback_next_due(const pgrepl_feedback *f, int64_t now);

#endif
