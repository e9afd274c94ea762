/*
 * Delivery: what arrives on the replication stream goes to the
 * application, and what it acknowledges goes back to the server.
 *
 * CopyData (on_copydata) feeds keepalives to the ledger and XLogData to the
 * decoder, which calls the wrappers below: they keep the ledger in step
 * with unit boundaries, refuse LSNs that contradict each other, hide the
 * library's own heartbeats, and call the application's decoder callbacks
 * with its user data; the units whose callbacks succeed are acknowledged
 * when auto-acknowledgement is on. Status updates report what the ledger
 * allows to confirm, when feedback.c says so, and the watchdog declares a
 * silent server dead.
 */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>

#include "session_int.h"

/* ---- the door to the application's decoder callbacks ------------------------------- */

/*
 * The decoder calls our wrappers (ud = the stream); they keep the ledger in
 * step with unit boundaries and call the application with its own user data.
 * busy defers close() from inside; the decoder maps the return value.
 */
#define CALL_APP(s, fn, m)                                                                                             \
    ((s)->cfg.dcb.fn == NULL ? 0 : app_done((s), (app_enter(s), (s)->cfg.dcb.fn((s)->cfg.data, (m)))))

static void app_enter(pgrepl_session *s)
{
    pgrepl__busy_enter(s);
}

static int app_done(pgrepl_session *s, int rc)
{
    pgrepl__busy_leave(s);
    return rc;
}

/* Auto-acknowledge a unit whose callback succeeded. */
static int unit_done(pgrepl_session *s, int rc, pgrepl_lsn end)
{
    if (rc == 0 && s->cfg.auto_ack)
        pgrepl__ledger_ack(&s->dlv.ledger, end);
    return rc;
}

/*
 * LSNs that contradict each other mean a broken stream, and nothing in it
 * may be acknowledged: the wrapper fails before the ledger or the
 * application sees the message, the decoder stops with PGREPL_ECALLBACK,
 * and on_copydata reports cb_why as a protocol error.
 */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int contradiction(pgrepl_session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->dlv.cb_why, sizeof s->dlv.cb_why, fmt, ap);
    va_end(ap);
    s->dlv.cb_err = PGREPL_EPROTOCOL;
    return PGREPL_EPROTOCOL;
}

/*
 * A record ends after it starts, and, when ordered, a unit ends at a later
 * WAL record than the one before it on the same connection. Prepares are
 * not ordered: a transaction prepared before its slot decoded two-phase
 * arrives at COMMIT PREPARED with its old PREPARE's positions.
 */
static int check_unit(pgrepl_session *s, const char *what, pgrepl_lsn start, pgrepl_lsn end, bool ordered)
{
    char a[PGREPL_LSN_BUFSIZE], b[PGREPL_LSN_BUFSIZE];
    pgrepl_lsn_format(end, b);
    if (start >= end) {
        pgrepl_lsn_format(start, a);
        return contradiction(s, "%s record starts at %s but ends at %s", what, a, b);
    }
    if (!ordered)
        return 0;
    if (end <= s->dlv.unit_end) {
        pgrepl_lsn_format(s->dlv.unit_end, a);
        return contradiction(s, "%s ends at %s, not after the previous end %s", what, b, a);
    }
    s->dlv.unit_end = end;
    return 0;
}

/* A unit ends at end: checked as check_unit does, then known to the ledger. */
static int unit_ends(pgrepl_session *s, const char *what, pgrepl_lsn start, pgrepl_lsn end, bool ordered)
{
    if (check_unit(s, what, start, end, ordered) != 0)
        return PGREPL_EPROTOCOL;
    pgrepl__ledger_unit_end(&s->dlv.ledger, end);
    return 0;
}

static int w_on_begin(void *ud, const pgrepl_msg_begin *m)
{
    pgrepl_session *s = ud;
    s->dlv.begin_lsn = m->final_lsn;
    pgrepl__ledger_begin(&s->dlv.ledger);
    return CALL_APP(s, on_begin, m);
}

static int w_on_commit(void *ud, const pgrepl_msg_commit *m)
{
    pgrepl_session *s = ud;
    pgrepl_lsn begin = s->dlv.begin_lsn;
    s->dlv.begin_lsn = 0;
    if (m->commit_lsn != begin) {
        char a[PGREPL_LSN_BUFSIZE], b[PGREPL_LSN_BUFSIZE];
        pgrepl_lsn_format(m->commit_lsn, a);
        pgrepl_lsn_format(begin, b);
        return contradiction(s, "Commit of the record at %s after a Begin announcing %s", a, b);
    }
    if (unit_ends(s, "Commit", m->commit_lsn, m->end_lsn, true) != 0)
        return PGREPL_EPROTOCOL;
    return unit_done(s, CALL_APP(s, on_commit, m), m->end_lsn);
}

/* The callbacks that need no bookkeeping: straight through the door. */
#define PASS_THROUGH(member, type)                                                                                     \
    static int w_##member(void *ud, const type *m)                                                                     \
    {                                                                                                                  \
        pgrepl_session *s = ud;                                                                                        \
        return CALL_APP(s, member, m);                                                                                 \
    }

PASS_THROUGH(on_origin, pgrepl_msg_origin)
PASS_THROUGH(on_relation, pgrepl_relation)
PASS_THROUGH(on_type, pgrepl_msg_type)
PASS_THROUGH(on_insert, pgrepl_msg_change)
PASS_THROUGH(on_update, pgrepl_msg_change)
PASS_THROUGH(on_delete, pgrepl_msg_change)
PASS_THROUGH(on_truncate, pgrepl_msg_truncate)
PASS_THROUGH(on_stream_stop, pgrepl_msg_stream_stop)

/*
 * A heartbeat the application does not see: the library acknowledges it in
 * the application's place, but only where the application has nothing
 * unacknowledged before it, so it never confirms more than the ledger
 * rules allow.
 */
static int hidden_heartbeat(pgrepl_session *s, const pgrepl_msg_logical *m)
{
    if (m->transactional || !pgrepl__ledger_idle(&s->dlv.ledger) || s->dlv.ledger.acked < s->dlv.ledger.delivered_end)
        return 0;
    pgrepl__ledger_unit_end(&s->dlv.ledger, m->lsn);
    pgrepl__ledger_ack(&s->dlv.ledger, m->lsn);
    return 0;
}

static int w_on_message(void *ud, const pgrepl_msg_logical *m)
{
    pgrepl_session *s = ud;
    if (!m->transactional && check_unit(s, "Message", 0, m->lsn, true) != 0)
        return PGREPL_EPROTOCOL;
    if (pgrepl__heartbeat_hides(pgrepl__hb(s), m->prefix))
        return hidden_heartbeat(s, m);
    if (m->transactional)
        return CALL_APP(s, on_message, m);
    pgrepl__ledger_unit_end(&s->dlv.ledger, m->lsn);
    return unit_done(s, CALL_APP(s, on_message, m), m->lsn);
}

static int w_on_stream_start(void *ud, const pgrepl_msg_stream_start *m)
{
    pgrepl_session *s = ud;
    if (m->first_segment && pgrepl__ledger_stream_open(&s->dlv.ledger, m->xid) != 0) {
        s->dlv.cb_err = PGREPL_ENOMEM;
        return PGREPL_ENOMEM;
    }
    return CALL_APP(s, on_stream_start, m);
}

static int w_on_stream_commit(void *ud, const pgrepl_msg_commit *m)
{
    pgrepl_session *s = ud;
    if (check_unit(s, "Stream Commit", m->commit_lsn, m->end_lsn, true) != 0)
        return PGREPL_EPROTOCOL;
    pgrepl__ledger_stream_close(&s->dlv.ledger, m->xid, m->end_lsn);
    return unit_done(s, CALL_APP(s, on_stream_commit, m), m->end_lsn);
}

static int w_on_stream_abort(void *ud, const pgrepl_msg_stream_abort *m)
{
    pgrepl_session *s = ud;
    /* an aborted transaction leaves nothing to acknowledge: it must not hold back the idle rule */
    if (m->xid == m->subxid)
        pgrepl__ledger_stream_close(&s->dlv.ledger, m->xid, 0);
    return CALL_APP(s, on_stream_abort, m);
}

static int w_on_begin_prepare(void *ud, const pgrepl_msg_prepare *m)
{
    pgrepl_session *s = ud;
    pgrepl__ledger_begin(&s->dlv.ledger);
    return CALL_APP(s, on_begin_prepare, m);
}

/* The two-phase units that need no more than their own checks: a unit ends, then the application sees it. */
#define UNIT_WRAPPER(member, type, what, start, end, ordered)                                                          \
    static int w_##member(void *ud, const type *m)                                                                     \
    {                                                                                                                  \
        pgrepl_session *s = ud;                                                                                        \
        if (unit_ends(s, what, start, end, ordered) != 0)                                                              \
            return PGREPL_EPROTOCOL;                                                                                   \
        return unit_done(s, CALL_APP(s, member, m), end);                                                              \
    }

UNIT_WRAPPER(on_prepare, pgrepl_msg_prepare, "Prepare", m->prepare_lsn, m->end_lsn, false)
UNIT_WRAPPER(on_commit_prepared, pgrepl_msg_commit_prepared, "Commit Prepared", m->commit_lsn, m->end_lsn, true)
UNIT_WRAPPER(on_rollback_prepared, pgrepl_msg_rollback_prepared, "Rollback Prepared", 0, m->rollback_end_lsn, true)

static int w_on_stream_prepare(void *ud, const pgrepl_msg_prepare *m)
{
    pgrepl_session *s = ud;
    if (check_unit(s, "Stream Prepare", m->prepare_lsn, m->end_lsn, false) != 0)
        return PGREPL_EPROTOCOL;
    pgrepl__ledger_stream_close(&s->dlv.ledger, m->xid, m->end_lsn);
    return unit_done(s, CALL_APP(s, on_stream_prepare, m), m->end_lsn);
}

/*
 * One wrapper per decoder callback, w_<member>: the table is generated from
 * the public list, so a callback added to it does not build without its
 * wrapper here.
 */
#define WRAPPER(tag, member, type) .member = w_##member,
static const pgrepl_decoder_callbacks wrappers = {PGREPL_DECODER_CALLBACKS(WRAPPER)};
#undef WRAPPER

/* ---- the life of the decoder and the ledger ------------------------------------------ */

int pgrepl__delivery_init(pgrepl_session *s)
{
    s->dlv.dec = pgrepl_decoder_new(&wrappers, sizeof wrappers, s);
    pgrepl__ledger_init(&s->dlv.ledger, 0);
    return s->dlv.dec != NULL ? 0 : PGREPL_ENOMEM;
}

void pgrepl__delivery_free(pgrepl_session *s)
{
    pgrepl_decoder_free(s->dlv.dec);
    pgrepl__ledger_free(&s->dlv.ledger);
}

/* A new connection: nothing of a unit that was open is kept; what was acknowledged is where it starts. */
void pgrepl__delivery_reset(pgrepl_session *s)
{
    s->dlv.begin_lsn = 0;
    s->dlv.unit_end = 0;
    pgrepl__ledger_restart(&s->dlv.ledger, s->dlv.ledger.acked);
    pgrepl_decoder_reset(s->dlv.dec);
}

/* IDENTIFY_SYSTEM showed that the server's WAL reaches the durable position: it counts as acknowledged. */
void pgrepl__delivery_durable(pgrepl_session *s, pgrepl_lsn durable)
{
    pgrepl__ledger_durable(&s->dlv.ledger, durable);
}

/* START_REPLICATION asks for from (ledger.h). */
void pgrepl__delivery_restart(pgrepl_session *s, pgrepl_lsn from)
{
    pgrepl__ledger_restart(&s->dlv.ledger, from);
}

/* The connection began streaming: status updates and the watchdog start from now (sender_timeout: the server's). */
void pgrepl__delivery_streaming(pgrepl_session *s, uint64_t sender_timeout_ms)
{
    pgrepl__feedback_init(&s->dlv.fb, (int64_t)s->cfg.interval_ms * 1000, (int64_t)sender_timeout_ms * 1000,
                          (int64_t)s->cfg.recv_timeout_ms * 1000, pgrepl__now_us(s));
}

bool pgrepl__delivery_paused(const pgrepl_session *s)
{
    return s->dlv.paused;
}

/* ---- CopyData ---------------------------------------------------------------------- */

/*
 * A message the stream could not take. The application's own failure is
 * fatal. A malformed or contradictory message is a protocol error worth a
 * reconnection: nothing of it was acknowledged, and the server sends it
 * again, intact unless it is broken at the source (then every attempt
 * fails alike, each one reported, with a growing delay).
 */
static void decode_failed(pgrepl_session *s, int rc)
{
    if (s->dlv.cb_err == PGREPL_EPROTOCOL)
        pgrepl__fail(s, PGREPL_EPROTOCOL, false, NULL, "replication stream: protocol error: %s", s->dlv.cb_why);
    else if (s->dlv.cb_err != 0)
        pgrepl__fail(s, s->dlv.cb_err, false, NULL, "replication stream: %s", pgrepl_strerror(s->dlv.cb_err));
    else if (rc == PGREPL_ECALLBACK || rc == PGREPL_ENOMEM)
        pgrepl__fail(s, rc, rc == PGREPL_ECALLBACK, NULL, "replication stream: %s",
                     pgrepl_decoder_errmsg(s->dlv.dec));
    else
        pgrepl__fail(s, PGREPL_EPROTOCOL, false, NULL, "replication stream: protocol error: %s",
                     pgrepl_decoder_errmsg(s->dlv.dec));
}

/* One CopyData message of the replication stream (the core counted its bytes). */
void pgrepl__delivery_copydata(pgrepl_session *s, const char *data, size_t len)
{
    pgrepl_copydata cd;
    int rc = pgrepl_copydata_parse(data, len, &cd);
    if (rc != 0) {
        pgrepl__fail(s, PGREPL_EPROTOCOL, false, NULL, "replication stream: protocol error: bad CopyData message (%s)",
                     pgrepl_strerror(rc));
        return;
    }
    /* a logical walsender writes one LSN into both fields */
    if (cd.kind == 'w' && cd.wal_start != cd.wal_end) {
        char a[PGREPL_LSN_BUFSIZE], b[PGREPL_LSN_BUFSIZE];
        pgrepl_lsn_format(cd.wal_start, a);
        pgrepl_lsn_format(cd.wal_end, b);
        pgrepl__fail(s, PGREPL_EPROTOCOL, false, NULL, "replication stream: protocol error: XLogData from %s to %s", a,
                     b);
        return;
    }
    /* the clock of the wakeup that read it: one clock_gettime per wakeup, not per message */
    pgrepl__feedback_on_recv(&s->dlv.fb, pgrepl__wakeup_us(s));
    if (cd.kind == 'k') {
        pgrepl_lsn write, flush;
        if (s->cfg.idle_advance)
            pgrepl__ledger_keepalive(&s->dlv.ledger, cd.wal_end);
        else
            pgrepl__ledger_received(&s->dlv.ledger, cd.wal_end);
        pgrepl__ledger_positions(&s->dlv.ledger, &write, &flush);
        pgrepl__feedback_on_keepalive(&s->dlv.fb, cd.reply_requested, cd.wal_end, flush);
        pgrepl__heartbeat_reached(pgrepl__hb(s), cd.wal_end);
        pgrepl__notify(s, &(pgrepl_note){.kind = NOTE_KEEPALIVE, .lsn1 = cd.wal_end, .time = cd.send_time,
                                         .flag = cd.reply_requested});
        return;
    }
    pgrepl__ledger_received(&s->dlv.ledger, cd.wal_start > cd.wal_end ? cd.wal_start : cd.wal_end);
    pgrepl_wal wal = {.start = cd.wal_start, .end = cd.wal_end, .send_time = cd.send_time};
    s->dlv.cb_err = 0;
    rc = pgrepl_decoder_feed(s->dlv.dec, &wal, cd.data, cd.len);
    if (rc == PGREPL_PAUSE)
        s->dlv.paused = true;
    else if (rc != 0)
        decode_failed(s, rc);
    /* after decoding: a heartbeat Message has been acknowledged by now, so seeing it can confirm it */
    pgrepl__heartbeat_reached(pgrepl__hb(s), cd.wal_start > cd.wal_end ? cd.wal_start : cd.wal_end);
}

/* ---- status updates and the watchdog ------------------------------------------------ */

int pgrepl__delivery_send_status(pgrepl_session *s, bool ping)
{
    pgrepl_lsn write, flush;
    pgrepl__ledger_positions(&s->dlv.ledger, &write, &flush);
    uint8_t msg[PGREPL_STATUS_UPDATE_SIZE];
    pgrepl_status_update_encode(msg, write, flush, flush, pgrepl_now(), ping);
    int rc = pgrepl__conn_put(pgrepl__conn(s), msg, sizeof msg);
    if (rc == PGREPL_ENOMEM)
        pgrepl__fail(s, rc, false, NULL, "cannot queue a status update: out of memory");
    if (rc != 0)
        return rc;
    pgrepl__ledger_reported(&s->dlv.ledger, write, flush);
    pgrepl__feedback_on_sent(&s->dlv.fb, pgrepl__now_us(s), ping, flush);
    pgrepl__notify(s, &(pgrepl_note){.kind = NOTE_STATUS_SENT, .lsn1 = write, .lsn2 = flush});
    return 0;
}

static void arm_timer(pgrepl_session *s, int64_t now, int64_t due_us)
{
    pgrepl__set_timer(s, now + due_us);
}

/*
 * Bytes (or the end of the connection) wait in the socket: the silence was
 * the loop's, busy in a callback or an allocation, not the server's. Read
 * them now and count them as received; the caller then handles them.
 */
static bool input_waiting(pgrepl_session *s)
{
    struct pollfd p = {.fd = pgrepl__conn_socket(pgrepl__conn(s)), .events = POLLIN};
    if (p.fd < 0 || poll(&p, 1, 0) != 1)
        return false;
    pgrepl__wakeup_reread(s);
    pgrepl__conn_io(pgrepl__conn(s), PGREPL_CONN_READ);
    pgrepl__feedback_on_recv(&s->dlv.fb, pgrepl__wakeup_us(s));
    return true;
}

static bool declare_dead(pgrepl_session *s)
{
    if (input_waiting(s))
        return true;
    pgrepl__fail(s, PGREPL_ETIMEDOUT, false, NULL, "nothing received from the server for %llu ms",
                 (unsigned long long)s->cfg.recv_timeout_ms);
    return true;
}

/* While stopping, or once the copy has ended, no status update may be sent; only the watchdog runs. */
static bool watchdog_only(pgrepl_session *s, int64_t now)
{
    if (s->dlv.fb.recv_timeout_us == 0) {
        pgrepl__set_timer(s, -1);
        return false;
    }
    int64_t left = s->dlv.fb.last_recv + s->dlv.fb.recv_timeout_us - now;
    if (left <= 0)
        return declare_dead(s);
    arm_timer(s, now, left);
    return false;
}

/* The time of a feedback decision. */
static int64_t feedback_now(pgrepl_session *s)
{
    /* inside a loop callback: the clock reading of this wakeup (one per wakeup, not per decision) */
    int64_t now = pgrepl__in_wakeup(s) ? pgrepl__wakeup_us(s) : pgrepl__now_us(s);
    /* while paused the silence is ours, not the server's */
    if (s->dlv.paused)
        pgrepl__feedback_on_recv(&s->dlv.fb, now);
    return now;
}

/*
 * While streaming: send a status update or ping when the feedback decision
 * says so, declare the connection dead after the receive timeout, and
 * re-arm the timer. Returns true when it changed the stream's course (a
 * failure).
 */
bool pgrepl__delivery_feedback(pgrepl_session *s)
{
    int64_t now = feedback_now(s);
    /* the server ended the copy (a shutdown's "COPY 0"): nothing can be sent, the end is awaited */
    if (!pgrepl__conn_copying(pgrepl__conn(s)))
        return watchdog_only(s, now);
    pgrepl_lsn write, flush;
    pgrepl__ledger_positions(&s->dlv.ledger, &write, &flush);
    switch (pgrepl__feedback_decide(&s->dlv.fb, now, flush, s->dlv.ledger.reported)) {
    case PGREPL_FEEDBACK_DEAD:
        return declare_dead(s);
    case PGREPL_FEEDBACK_SEND:
        if (pgrepl__delivery_send_status(s, false) != 0)
            return true;
        break;
    case PGREPL_FEEDBACK_PING:
        if (pgrepl__delivery_send_status(s, true) != 0)
            return true;
        break;
    case PGREPL_FEEDBACK_NONE:
        break;
    }
    arm_timer(s, now, pgrepl__feedback_next_due(&s->dlv.fb, now));
    return false;
}

/* While stopping: no status update may be sent; only the watchdog runs. True when it failed the stream. */
bool pgrepl__delivery_watchdog(pgrepl_session *s)
{
    return watchdog_only(s, feedback_now(s));
}

/* A heartbeat was seen: what it lets the slot confirm goes out now, not at the next status interval. */
void pgrepl__delivery_heartbeat_seen(void *arg)
{
    pgrepl_session *s = arg;
    pgrepl_lsn write, flush;
    pgrepl__ledger_positions(&s->dlv.ledger, &write, &flush);
    if (pgrepl__phase(s) == PH_STREAMING && flush > s->dlv.ledger.reported) {
        s->dlv.fb.reply_pending = true;
        pgrepl__kick(s);
    }
}

/* ---- public API: pausing, acknowledging, positions --------------------------------------- */

static int set_paused(pgrepl_session *s, bool paused)
{
    if (s == NULL)
        return PGREPL_EINVAL;
    if (pgrepl__closing(s))
        return PGREPL_ESTATE;
    s->dlv.paused = paused;
    pgrepl__kick(s);
    return 0;
}

int pgrepl_session_pause(pgrepl_session *s)
{
    return set_paused(s, true);
}

int pgrepl_session_resume(pgrepl_session *s)
{
    return set_paused(s, false);
}

int pgrepl_session_ack(pgrepl_session *s, pgrepl_lsn lsn)
{
    if (s == NULL)
        return PGREPL_EINVAL;
    pgrepl__ledger_ack(&s->dlv.ledger, lsn);
    /* the server may be waiting for exactly this: let the feedback decision run */
    if (pgrepl__phase(s) == PH_STREAMING)
        pgrepl__kick(s);
    return 0;
}

pgrepl_lsn pgrepl_session_received_lsn(const pgrepl_session *s)
{
    return s != NULL ? s->dlv.ledger.received : 0;
}

pgrepl_lsn pgrepl_session_acked_lsn(const pgrepl_session *s)
{
    return s != NULL ? s->dlv.ledger.acked : 0;
}

pgrepl_lsn pgrepl_session_reported_lsn(const pgrepl_session *s)
{
    return s != NULL ? s->dlv.ledger.reported : 0;
}
