/*
 * The heartbeat round trip tracker: pure (LSNs and clock values in,
 * decisions out, unit tested). The side connection that emits heartbeats
 * is heartbeat.h.
 */
#ifndef PGREPL_LIB_HB_TRACK_H
#define PGREPL_LIB_HB_TRACK_H

#include <stdbool.h>
#include <stdint.h>

#include "pgrepl/common.h"

/* Times: microseconds on a monotonic clock. */

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

#endif
