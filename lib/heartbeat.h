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
 * Two layers: the round trip tracker (pure: LSNs and clock values in,
 * decisions out, unit tested) and the side connection on the loop.
 */
#ifndef PGREPL_LIB_HEARTBEAT_H
#define PGREPL_LIB_HEARTBEAT_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "pgrepl/stream.h"

/* ---- the round trip tracker (times: microseconds on a monotonic clock) ---- */

typedef struct pgrepl_hb_track {
    bool pending;          /* emitted and not yet seen */
    pgrepl_lsn lsn;        /* what the emitting query returned; 0 until it did */
    int64_t sent;          /* when the emitting query was sent */
    int64_t clock;         /* start of its deadline: sent, or the end of the last hold */
    bool held;             /* the stream is not reading by its own choice (paused) */
    bool stall_reported;
    pgrepl_lsn reached;    /* highest LSN the stream reached since the start */
    pgrepl_lsn reached_at_clock; /* reached when the deadline began: a stream that moved since is behind, not stalled */
    int64_t lag;           /* emit to seen of the last heartbeat seen, -1 before the first */
} pgrepl_hb_track;

void pgrepl__hb_track_init(pgrepl_hb_track *t);
/* A new start of the stream: forget what is in flight and what was reached; the last lag stays. */
void pgrepl__hb_track_restart(pgrepl_hb_track *t);
/* The emitting query was sent (only when nothing is pending). */
void pgrepl__hb_track_emitted(pgrepl_hb_track *t, int64_t now);
/* The emitting query returned lsn. True when the stream had already reached it: call seen(). */
bool pgrepl__hb_track_returned(pgrepl_hb_track *t, pgrepl_lsn lsn);
/* The emitting query failed: its LSN will never be known, nothing is pending. */
void pgrepl__hb_track_abandon(pgrepl_hb_track *t);
/* The stream reached lsn. True when this reached the pending heartbeat: call seen(). */
bool pgrepl__hb_track_reached(pgrepl_hb_track *t, pgrepl_lsn lsn);
/* The pending heartbeat is seen now: its lag is measured, nothing is pending. */
void pgrepl__hb_track_seen(pgrepl_hb_track *t, int64_t now);
/* The stream stopped or resumed reading by its own choice; a hold restarts the deadline when it ends. */
void pgrepl__hb_track_hold(pgrepl_hb_track *t, bool held, int64_t now);
/*
 * True, once per heartbeat, when the pending heartbeat's LSN is known, the
 * stream is not held and deadline (> 0) passed without the stream reaching
 * it. The stream stalled if it did not move since the deadline began
 * (reached == reached_at_clock), else it is only behind.
 */
bool pgrepl__hb_track_stalled(pgrepl_hb_track *t, int64_t now, int64_t deadline);
/* The stream moved since the pending heartbeat's deadline began: behind, not stalled. */
bool pgrepl__hb_track_moving(const pgrepl_hb_track *t);
/* Microseconds until stalled() could become true without new input; -1 when it cannot. */
int64_t pgrepl__hb_track_stall_due(const pgrepl_hb_track *t, int64_t now, int64_t deadline);

/* Wait before the next attempt after `failures` (>= 1) failures in a row, in milliseconds. */
uint64_t pgrepl__hb_backoff_ms(int failures);

/* ---- the side connection on the loop ------------------------------------- */

typedef struct pgrepl_heartbeat pgrepl_heartbeat;

typedef struct pgrepl_heartbeat_hooks {
    void *arg;
    /*
     * Something went wrong with heartbeats; message is one line that says
     * the stream continues; server is the server's error or NULL. The
     * heartbeat may be stopped or closed from inside.
     */
    void (*on_error)(void *arg, int code, const char *message, const pgrepl_server_message *server);
    /* A heartbeat was seen (its lag is pgrepl__heartbeat_lag_us). */
    void (*on_seen)(void *arg);
} pgrepl_heartbeat_hooks;

#define PGREPL_HEARTBEAT_DEFAULT_INTERVAL_MS 10000
#define PGREPL_HEARTBEAT_DEFAULT_DEADLINE_MS 60000
#define PGREPL_HEARTBEAT_DEFAULT_PREFIX "pgrepl.heartbeat"

/* NULL when out of memory. Nothing touches the loop before pgrepl__heartbeat_start. */
pgrepl_heartbeat *pgrepl__heartbeat_new(uv_loop_t *loop, const pgrepl_heartbeat_hooks *hooks);

/* Configuration, taken at the next start. */
void pgrepl__heartbeat_set_interval(pgrepl_heartbeat *hb, uint64_t ms);
void pgrepl__heartbeat_set_deadline(pgrepl_heartbeat *hb, uint64_t ms);
int pgrepl__heartbeat_set_prefix(pgrepl_heartbeat *hb, const char *prefix);
void pgrepl__heartbeat_set_deliver(pgrepl_heartbeat *hb, bool on);

/*
 * The stream is STREAMING: connect with conninfo (the stream's; NULL for
 * libpq's defaults) as a normal connection and emit every interval. No-op
 * when the interval is 0. Failures go to on_error (later, from the loop).
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
 * Close and free: no hook runs any more; done(arg) runs once every handle
 * is closed (from the loop; at once when the heartbeat never started).
 * Safe from inside a hook. All the functions above accept NULL and do
 * nothing, so the owner may forget the pointer after closing.
 */
void pgrepl__heartbeat_close(pgrepl_heartbeat *hb, void (*done)(void *arg));

/* ---- provided by stream.c for the public heartbeat API ------------------- */

/* The stream's heartbeat; NULL once the stream is closing. */
pgrepl_heartbeat *pgrepl__stream_heartbeat(const pgrepl_stream *s);
/* Whether the stream may be configured now (STOPPED, no start pending, not closing). */
bool pgrepl__stream_configurable(const pgrepl_stream *s);

#endif
