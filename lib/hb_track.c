/*
 * The heartbeat round trip tracker (hb_track.h): LSNs and clock values in,
 * decisions out. No connection, no clock of its own.
 */
#include <string.h>

#include "hb_track.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000

void pgrepl__hb_track_init(pgrepl_hb_track *t)
{
    memset(t, 0, sizeof *t);
    t->lag = -1;
}

void pgrepl__hb_track_restart(pgrepl_hb_track *t)
{
    int64_t lag = t->lag;
    pgrepl__hb_track_init(t);
    t->lag = lag;
}

void pgrepl__hb_track_emitted(pgrepl_hb_track *t, int64_t now)
{
    t->pending = true;
    t->lsn = 0;
    t->sent = now;
    t->clock = now;
    t->reached_at_clock = t->reached;
    t->stall_reported = false;
}

static bool track_reached_pending(const pgrepl_hb_track *t)
{
    return t->pending && t->lsn != 0 && t->reached >= t->lsn;
}

bool pgrepl__hb_track_returned(pgrepl_hb_track *t, pgrepl_lsn lsn)
{
    if (!t->pending)
        return false;
    t->lsn = lsn;
    return track_reached_pending(t);
}

void pgrepl__hb_track_abandon(pgrepl_hb_track *t)
{
    t->pending = false;
}

bool pgrepl__hb_track_reached(pgrepl_hb_track *t, pgrepl_lsn lsn)
{
    if (lsn <= t->reached)
        return false;
    t->reached = lsn;
    return track_reached_pending(t);
}

void pgrepl__hb_track_seen(pgrepl_hb_track *t, int64_t now)
{
    t->pending = false;
    t->lag = now - t->sent;
}

void pgrepl__hb_track_hold(pgrepl_hb_track *t, bool held, int64_t now)
{
    /* a paused stream cannot see anything: the deadline counts from the resume */
    if (t->held && !held && now > t->clock) {
        t->clock = now;
        t->reached_at_clock = t->reached;
    }
    t->held = held;
}

bool pgrepl__hb_track_moving(const pgrepl_hb_track *t)
{
    return t->reached > t->reached_at_clock;
}

int64_t pgrepl__hb_track_stall_due(const pgrepl_hb_track *t, int64_t now, int64_t deadline)
{
    if (!t->pending || t->lsn == 0 || t->held || t->stall_reported || deadline <= 0)
        return -1;
    int64_t left = t->clock + deadline - now;
    return left > 0 ? left : 0;
}

bool pgrepl__hb_track_stalled(pgrepl_hb_track *t, int64_t now, int64_t deadline)
{
    if (pgrepl__hb_track_stall_due(t, now, deadline) != 0)
        return false;
    t->stall_reported = true;
    return true;
}

uint64_t pgrepl__hb_backoff_ms(int failures)
{
    uint64_t ms = BACKOFF_FIRST_MS;
    for (int i = 1; i < failures && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

