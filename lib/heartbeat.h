/*
 * Heartbeats: a side connection that keeps an idle slot moving and proves
 * that the stream moves.
 *
 * While the stream is STREAMING, a normal (non-replication) libpq
 * connection to the slot's database, driven by the stream's loop, runs
 * pg_logical_emit_message(false, prefix, payload[, true]) every interval.
 * The message is WAL of the slot's own database: the stream receives it
 * (as a Message when messages are on, else as a later walEnd) and may
 * confirm past it although the publication is quiet (protocol.md 5.4, 6).
 *
 * A heartbeat counts as seen when the stream reaches the LSN the function
 * returned: the Message's XLogData header carries exactly that LSN, and any
 * later walEnd means the walsender decoded past it. One heartbeat is
 * outstanding at a time: a stream that does not see one gains nothing from
 * more WAL, and the deadline of the outstanding one is what detects a
 * stalled stream.
 *
 * Two layers: the round trip tracker (hb_track.h, pure) and this side
 * connection. It knows no event loop: its owner (the session) asks which
 * socket to watch for what (pgrepl__heartbeat_socket) and when to call
 * back (pgrepl__heartbeat_due), and reports readiness and time
 * (pgrepl__heartbeat_io, _timeout), re-reading both after every call.
 */
#ifndef PGREPL_LIB_HEARTBEAT_H
#define PGREPL_LIB_HEARTBEAT_H

#include <stdbool.h>
#include <stdint.h>

#include "pgrepl/session.h"
#include "hb_track.h"

/* ---- the side connection --------------------------------------------- */

typedef struct pgrepl_heartbeat pgrepl_heartbeat;

typedef struct pgrepl_heartbeat_hooks {
    void *arg;
    /*
     * Something went wrong with heartbeats; message is one line that says
     * the stream continues; server is the server's error or NULL. The
     * heartbeat may be stopped from inside, not freed.
     */
    void (*on_error)(void *arg, int code, const char *message, const pgrepl_server_message *server);
    /* A heartbeat was seen (its lag is pgrepl__heartbeat_lag_us). */
    void (*on_seen)(void *arg);
    /* The owner's clock: microseconds, monotonic. */
    int64_t (*now)(void *arg);
} pgrepl_heartbeat_hooks;

#define PGREPL_HEARTBEAT_DEFAULT_INTERVAL_MS 10000
#define PGREPL_HEARTBEAT_DEFAULT_DEADLINE_MS 60000
#define PGREPL_HEARTBEAT_DEFAULT_PREFIX "pgrepl.heartbeat"

/* NULL when out of memory. */
pgrepl_heartbeat *pgrepl__heartbeat_new(const pgrepl_heartbeat_hooks *hooks);

/* Configuration, taken at the next start. */
void pgrepl__heartbeat_set_interval(pgrepl_heartbeat *hb, uint64_t ms);
void pgrepl__heartbeat_set_deadline(pgrepl_heartbeat *hb, uint64_t ms);
int pgrepl__heartbeat_set_prefix(pgrepl_heartbeat *hb, const char *prefix);
void pgrepl__heartbeat_set_deliver(pgrepl_heartbeat *hb, bool on);
uint64_t pgrepl__heartbeat_interval(const pgrepl_heartbeat *hb);

/*
 * The stream is STREAMING: connect with conninfo (the stream's; NULL for
 * libpq's defaults) as a normal connection and emit every interval. No-op
 * when the interval is 0. Failures go to on_error, from _io or _timeout.
 */
void pgrepl__heartbeat_start(pgrepl_heartbeat *hb, const char *conninfo);
/* The stream left STREAMING: close the side connection, forget what is in flight. */
void pgrepl__heartbeat_stop(pgrepl_heartbeat *hb);
/* The stream reached lsn (an XLogData header or a keepalive walEnd). */
void pgrepl__heartbeat_reached(pgrepl_heartbeat *hb, pgrepl_lsn lsn);
/* Whether the stream is not reading by its own choice (paused). */
void pgrepl__heartbeat_hold(pgrepl_heartbeat *hb, bool held);
/* True when a message with this prefix is a heartbeat the application did not ask to receive. */
bool pgrepl__heartbeat_hides(const pgrepl_heartbeat *hb, const char *prefix);
/* Emit to seen of the last heartbeat seen, in microseconds; -1 before the first. */
int64_t pgrepl__heartbeat_lag_us(const pgrepl_heartbeat *hb);

/*
 * The socket to watch now, -1 when none, and in *events what for
 * (PGREPL_CONN_READ, _WRITE). While connecting (pgrepl__heartbeat_connecting)
 * the socket can change in every pgrepl__heartbeat_io: stop watching it
 * before that call and re-read it after.
 */
int pgrepl__heartbeat_socket(const pgrepl_heartbeat *hb, unsigned *events);
bool pgrepl__heartbeat_connecting(const pgrepl_heartbeat *hb);
/* When pgrepl__heartbeat_timeout must run next, on the owner's clock; -1 when nothing is due by time. */
int64_t pgrepl__heartbeat_due(const pgrepl_heartbeat *hb);
/* The socket is ready for events (PGREPL_CONN_READ, _WRITE), or failed (error). */
void pgrepl__heartbeat_io(pgrepl_heartbeat *hb, unsigned events, bool error);
/* The time given by pgrepl__heartbeat_due came: act on what is due. */
void pgrepl__heartbeat_timeout(pgrepl_heartbeat *hb);
/* Close the side connection and free; no hook runs. The functions above accept NULL and do nothing. */
void pgrepl__heartbeat_free(pgrepl_heartbeat *hb);

#endif
