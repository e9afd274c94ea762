/*
 * The acknowledgement ledger: pure functions of positions (protocol.md
 * section 5). No I/O. When to send a status update is feedback.h.
 *
 * Positions:
 *   received   highest LSN the server told us about (XLogData dataStart /
 *              walEnd, keepalive walEnd). Nothing above it is ever reported.
 *   acked      highest LSN the application acknowledged, clamped to received.
 *   keepalive_end  latest keepalive walEnd: what an idle slot may confirm
 *              once nothing is open and every delivered unit is acknowledged.
 *   reported   the flush position last sent; reports never go below it.
 *
 * A "unit" is what must be processed as a whole before its end LSN may be
 * confirmed: B..C, b..P, and a streamed transaction from its first Stream
 * Start to its Stream Commit / Stream Abort (whole) / Stream Prepare.
 * Several streamed transactions may be open at once.
 */
#ifndef PGREPL_LIB_LEDGER_H
#define PGREPL_LIB_LEDGER_H

#include <stdbool.h>
#include <stdint.h>

#include "pgrepl/common.h"

static inline pgrepl_lsn pgrepl__lsn_max(pgrepl_lsn a, pgrepl_lsn b)
{
    return a > b ? a : b;
}

typedef struct pgrepl_ledger {
    pgrepl_lsn received;
    pgrepl_lsn acked;
    pgrepl_lsn keepalive_end;
    pgrepl_lsn reported;       /* flush last sent */
    pgrepl_lsn reported_write; /* write last sent */
    pgrepl_lsn delivered_end;  /* end LSN of the last completed unit handed to the application */
    bool in_txn;               /* between B/b and C/P */
    uint32_t *streams;         /* xids of open streamed transactions */
    int nstreams;
    int streams_cap;
} pgrepl_ledger;

/* Start from a known confirmed position (0 when unknown). */
void pgrepl__ledger_init(pgrepl_ledger *l, pgrepl_lsn start);
void pgrepl__ledger_free(pgrepl_ledger *l);
/*
 * A new START_REPLICATION asking for from: forget open units (what arrived
 * of them comes again), keep the positions. Everything below from counts as
 * delivered and not yet acknowledged (the application asked to start there
 * because it holds those changes, maybe not durably): until it acknowledges
 * from, the idle rule confirms nothing beyond acked.
 */
void pgrepl__ledger_restart(pgrepl_ledger *l, pgrepl_lsn from);
/*
 * Where START_REPLICATION starts: the latest of the application's start
 * position, its durable position and what it acknowledged (which is never
 * asked for again).
 */
pgrepl_lsn pgrepl__ledger_start_at(const pgrepl_ledger *l, pgrepl_lsn start, pgrepl_lsn durable);
/*
 * The application holds everything below lsn durably from before this
 * stream (its own store), and the server's WAL is known to reach lsn: it
 * counts as received and acknowledged.
 */
void pgrepl__ledger_durable(pgrepl_ledger *l, pgrepl_lsn lsn);

/* Something arrived from the server that reaches up to lsn (XLogData dataStart or walEnd). */
void pgrepl__ledger_received(pgrepl_ledger *l, pgrepl_lsn lsn);
/* A keepalive with walEnd arrived: received moves, and an idle, fully acknowledged slot may follow it. */
void pgrepl__ledger_keepalive(pgrepl_ledger *l, pgrepl_lsn wal_end);

/* Unit boundaries, as the decoder reports them. */
void pgrepl__ledger_begin(pgrepl_ledger *l);
/* Commit / Prepare / Commit Prepared / Rollback Prepared / non-transactional message: a unit ended at end_lsn. */
void pgrepl__ledger_unit_end(pgrepl_ledger *l, pgrepl_lsn end_lsn);
/* Stream Start (first_segment) opens xid; returns PGREPL_ENOMEM when it cannot be recorded. */
int pgrepl__ledger_stream_open(pgrepl_ledger *l, uint32_t xid);
/* Stream Commit / Stream Prepare / whole Stream Abort close xid; end_lsn 0 for an abort without one. */
void pgrepl__ledger_stream_close(pgrepl_ledger *l, uint32_t xid, pgrepl_lsn end_lsn);

/*
 * The application acknowledges everything up to lsn. Clamped to received;
 * a lower value than before is ignored. Returns the acknowledged position
 * after the call.
 */
pgrepl_lsn pgrepl__ledger_ack(pgrepl_ledger *l, pgrepl_lsn lsn);

/* True when no unit is open. */
bool pgrepl__ledger_idle(const pgrepl_ledger *l);

/*
 * Positions for the next status update: write = received; flush = acked,
 * or, when idle and everything delivered was acknowledged, the later of
 * acked and keepalive_end; never below what was reported before, never above
 * received.
 */
void pgrepl__ledger_positions(const pgrepl_ledger *l, pgrepl_lsn *write, pgrepl_lsn *flush);
/* Record that a status update with these positions was sent. */
void pgrepl__ledger_reported(pgrepl_ledger *l, pgrepl_lsn write, pgrepl_lsn flush);

#endif
