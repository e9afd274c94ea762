/*
 * L4: the session, the engine of a replication stream: the core. It owns
 * the phase of the replication connection and the requests the
 * application made, and runs them: every entry from the host
 * (pgrepl_session_io, _timeout) runs the same dispatcher, dispatch(),
 * which takes what the host reported, advances the machine until nothing
 * can happen, and ends by telling the host what to watch and when to call
 * back (host.c). pgrepl_session_* calls only record a request and kick,
 * so application callbacks never run inside those calls.
 *
 * The parts below it, each with its state (session_int.h): the setup and
 * its checks (setup.c), slot commands (slotcmd.c), delivery to the
 * application and status updates (delivery.c), failures and reconnection
 * (retry.c), the configuration (config.c), the application's stream
 * callbacks (notify.c) and the host (host.c). None of them calls the core:
 * it hands them the connection's results and events, and a failure closes
 * the connection through the teardown hook it gives retry.c.
 */
#include <netinet/in.h>
#include <sys/socket.h>

#include "alloc.h"
#include "pqresult.h"
#include "session_int.h"

static void batch_begin(pgrepl_session *s);
static void batch_settle(pgrepl_session *s, bool paused_read);
static void hold_stop(pgrepl_session *s);
static void do_close(pgrepl_session *s);
static void free_now(pgrepl_session *s);
static void finalize_now(pgrepl_session *s);

/* ---- the connection ---------------------------------------------------------------- */

static void drop_result(pgrepl_session *s)
{
    PQclear(s->core.res);
    s->core.res = NULL;
}

/* Close the connection; the command in flight completes with status. */
static void teardown(pgrepl_session *s, int status)
{
    pgrepl__unwatch_conn(s);
    drop_result(s);
    pgrepl__conn_finish(&s->core.conn);
    pgrepl__heartbeat_stop(s->core.hb);
    pgrepl__set_timer(s, -1);
    pgrepl__set_wait(s, -1);
    hold_stop(s);
    s->core.batch = false;
    s->core.batching = false;
    pgrepl__clear_wait_due(s);
    s->core.ph = PH_NONE;
    s->core.want_start = false;
    s->core.release_req = false;
    pgrepl__slots_cancel_current(s, status);
}

/* The connection failed; a server error already received says more than libpq. */
static void fail_conn(pgrepl_session *s, int code, const char *what)
{
    if (s->core.res != NULL && pgrepl__is_error(s->core.res)) {
        PGresult *res = s->core.res;
        s->core.res = NULL;
        pgrepl__fail_result(s, res, what);
        PQclear(res);
        return;
    }
    pgrepl__fail_conn(s, code, what);
}

static void connect_now(pgrepl_session *s)
{
    s->core.connect_req = false;
    pgrepl__retry_connecting(s);
    pgrepl__delivery_reset(s);
    s->core.ph = PH_CONNECT;
    if (pgrepl__conn_start(&s->core.conn, s->cfg.conninfo, pgrepl__on_notice, s) != 0) {
        pgrepl__fail(s, PGREPL_ENOMEM, false, NULL, "could not start connecting: out of memory");
        return;
    }
    pgrepl__setup_arm_deadline(s);
    pgrepl__set_state(s, PGREPL_STREAM_CONNECTING);
}

static void streaming_begin(pgrepl_session *s)
{
    s->core.ph = PH_STREAMING;
    s->core.want_start = false;
    pgrepl__set_wait(s, -1);
    pgrepl__retry_streaming(s);
    batch_begin(s);
    pgrepl__delivery_streaming(s, pgrepl_session_wal_sender_timeout_ms(s));
    pgrepl__heartbeat_start(s->core.hb, s->cfg.conninfo);
    pgrepl__set_state(s, PGREPL_STREAM_STREAMING);
}

/* Watch what the connection asks for, on the socket it has now. Returns non-zero when it had to fail the stream. */
static int sync_io(pgrepl_session *s)
{
    int fd = s->core.ph == PH_NONE ? -1 : pgrepl__conn_socket(&s->core.conn);
    if (fd < 0 || s->core.close_req) {
        pgrepl__unwatch_conn(s);
        return 0;
    }
    unsigned want = pgrepl__conn_wants(&s->core.conn);
    if ((pgrepl__delivery_paused(s) && s->core.ph == PH_STREAMING) || pgrepl__holding(s))
        want &= ~(unsigned)PGREPL_CONN_READ;
    int rc = pgrepl__watch_conn(s, fd, want);
    if (rc == 0)
        return 0;
    pgrepl__fail(s, rc == PGREPL_ENOMEM ? PGREPL_ENOMEM : PGREPL_ECONNLOST, false, NULL,
                 "cannot watch the connection socket: %s", pgrepl_strerror(rc));
    return -1;
}

/* ---- events from the connection, by phase ------------------------------------------ */

static const char *phase_command(pgrepl_phase ph)
{
    switch (ph) {
    case PH_IDENTIFY:
        return "IDENTIFY_SYSTEM";
    case PH_SHOW:
        return "SHOW wal_sender_timeout";
    case PH_SETTINGS:
        return "session settings";
    case PH_SLOT_BEGIN:
    case PH_SLOT_END:
        return "snapshot transaction";
    case PH_SLOT:
        return "slot command";
    case PH_CHECK:
        return "the check before streaming";
    case PH_START:
        return "START_REPLICATION";
    default:
        return "replication stream";
    }
}

/* Keep the first error, else the first result, of the command in flight. */
static void keep_result(pgrepl_session *s, PGresult *res)
{
    if (s->core.res == NULL || (pgrepl__is_error(res) && !pgrepl__is_error(s->core.res))) {
        PQclear(s->core.res);
        s->core.res = res;
    } else {
        PQclear(res);
    }
}

static void query_done(pgrepl_session *s)
{
    PGresult *res = s->core.res;
    s->core.res = NULL;
    if (res == NULL && s->core.ph != PH_START) {
        pgrepl__fail(s, PGREPL_EPROTOCOL, true, NULL, "%s: no result", phase_command(s->core.ph));
        return;
    }
    if (res != NULL && pgrepl__is_error(res) && s->core.ph != PH_SLOT && s->core.ph != PH_SLOT_BEGIN) {
        pgrepl__fail_result(s, res, phase_command(s->core.ph));
        PQclear(res);
        return;
    }
    switch (s->core.ph) {
    case PH_IDENTIFY:
        pgrepl__setup_identify_done(s, res);
        break;
    case PH_SHOW:
        pgrepl__setup_show_done(s, res);
        break;
    case PH_SETTINGS:
    case PH_SLOT_END:
        s->core.ph = PH_IDLE;
        pgrepl__slots_txn_over(s);
        break;
    case PH_SLOT_BEGIN:
        pgrepl__slots_begin_done(s, res);
        break;
    case PH_SLOT:
        pgrepl__slots_done(s, res);
        break;
    case PH_CHECK:
        pgrepl__setup_check_done(s, res);
        break;
    default:
        /* START_REPLICATION completed without CopyBoth */
        pgrepl__fail(s, PGREPL_EPROTOCOL, true, NULL, "%s: completed without starting to stream",
                     phase_command(s->core.ph));
        break;
    }
    PQclear(res);
}

static void on_query_event(pgrepl_session *s, pgrepl_conn_event *ev)
{
    switch (ev->kind) {
    case PGREPL_CONN_EV_RESULT:
        keep_result(s, ev->result);
        return;
    case PGREPL_CONN_EV_COPY_BOTH:
        if (s->core.ph == PH_START) {
            drop_result(s);
            streaming_begin(s);
        } else {
            pgrepl__fail(s, PGREPL_EPROTOCOL, true, NULL, "%s: unexpected CopyBoth", phase_command(s->core.ph));
        }
        return;
    case PGREPL_CONN_EV_ERROR:
        pgrepl__fail_error(s, ev->error, phase_command(s->core.ph));
        return;
    case PGREPL_CONN_EV_DONE:
        query_done(s);
        return;
    case PGREPL_CONN_EV_FAILED:
        fail_conn(s, ev->code, phase_command(s->core.ph));
        return;
    default:
        return;
    }
}

static void on_streaming_event(pgrepl_session *s, pgrepl_conn_event *ev)
{
    switch (ev->kind) {
    case PGREPL_CONN_EV_DATA:
        s->core.got += ev->len;
        pgrepl__delivery_copydata(s, ev->data, ev->len);
        return;
    case PGREPL_CONN_EV_RESULT:
        /* the copy ended: an error says why; "COPY 0" (server shutdown) does not */
        if (pgrepl__is_error(ev->result))
            pgrepl__fail_result(s, ev->result, "replication stream");
        PQclear(ev->result);
        return;
    case PGREPL_CONN_EV_ERROR:
        if (pgrepl__fail_publication_gone(s, &ev->error->m)) {
            pgrepl__conn_error_free(ev->error);
            return;
        }
        pgrepl__fail_error(s, ev->error, "replication stream");
        return;
    case PGREPL_CONN_EV_DONE:
        pgrepl__fail(s, PGREPL_ECONNLOST, false, NULL, "the server ended the replication stream");
        return;
    case PGREPL_CONN_EV_FAILED:
        fail_conn(s, ev->code, "replication stream");
        return;
    default:
        return;
    }
}

static void on_stopping_event(pgrepl_session *s, pgrepl_conn_event *ev)
{
    switch (ev->kind) {
    case PGREPL_CONN_EV_RESULT:
        PQclear(ev->result);
        return;
    case PGREPL_CONN_EV_ERROR:
        pgrepl__conn_error_free(ev->error);
        return;
    case PGREPL_CONN_EV_DONE:
    case PGREPL_CONN_EV_FAILED:
        teardown(s, PGREPL_ECANCELED);
        pgrepl__set_state(s, PGREPL_STREAM_STOPPED);
        return;
    default:
        return;
    }
}

/* ---- requests ---------------------------------------------------------------------- */

static void stop_now(pgrepl_session *s)
{
    s->core.stop_req = false;
    s->core.want_start = false;
    if (pgrepl_session_get_state(s) == PGREPL_STREAM_RECONNECTING) {
        pgrepl__set_wait(s, -1);
        pgrepl__clear_wait_due(s);
        pgrepl__set_state(s, PGREPL_STREAM_STOPPED);
        return;
    }
    switch (s->core.ph) {
    case PH_NONE:
    case PH_STOPPING:
        return;
    case PH_STREAMING:
        /* a failed final update or CopyDone means the connection is gone: nothing to drain */
        if (pgrepl__delivery_send_status(s, false) == 0 && pgrepl__conn_end_copy(&s->core.conn) == 0) {
            s->core.ph = PH_STOPPING;
            /* a walsender inside a huge transaction reads CopyDone only after it: do not wait for that */
            pgrepl__set_wait(s, pgrepl__now_us(s) + (int64_t)s->cfg.stop_timeout_ms * 1000);
            pgrepl__heartbeat_stop(s->core.hb);
            pgrepl__set_state(s, PGREPL_STREAM_STOPPING);
            return;
        }
        if (s->core.ph == PH_NONE)
            return;
        break;
    default:
        break;
    }
    if (pgrepl__slots_in_flight(s))
        pgrepl__set_errmsg(s, NULL, "canceled: the stream was stopped");
    teardown(s, PGREPL_ECANCELED);
    pgrepl__set_state(s, PGREPL_STREAM_STOPPED);
}

static void release_now(pgrepl_session *s)
{
    s->core.release_req = false;
    if (s->core.ph != PH_HELD)
        return;
    if (pgrepl__slots_in_txn(s))
        pgrepl__send_command(s, "COMMIT", PH_SLOT_END);
    else
        s->core.ph = PH_IDLE;
    if (s->core.want_start)
        pgrepl__set_state(s, PGREPL_STREAM_CONNECTING);
}

/* Phases the connect deadline covers: the setup, not slot commands or a held snapshot. */
static bool timed_phase(pgrepl_phase ph)
{
    return ph == PH_CONNECT || ph == PH_IDENTIFY || ph == PH_SHOW || ph == PH_SETTINGS || ph == PH_CHECK ||
           ph == PH_START;
}

/* The wait timer expired: time to reconnect, or the setup took too long. */
static void wait_expired(pgrepl_session *s)
{
    pgrepl__clear_wait_due(s);
    if (pgrepl_session_get_state(s) == PGREPL_STREAM_RECONNECTING) {
        pgrepl__retry_reconnecting(s);
        s->core.connect_req = true;
        s->core.want_start = true;
    } else if (s->core.ph == PH_STOPPING) {
        /* the final status update went out before CopyDone: the server has the confirmation */
        teardown(s, PGREPL_ECANCELED);
        pgrepl__set_state(s, PGREPL_STREAM_STOPPED);
    } else if (timed_phase(s->core.ph)) {
        pgrepl__fail(s, PGREPL_ETIMEDOUT, false, NULL, "%s: no answer within %llu ms (connect timeout)",
                     s->core.ph == PH_CONNECT ? "could not connect" : phase_command(s->core.ph),
                     (unsigned long long)pgrepl__setup_deadline_ms(s));
    }
}

/*
 * A request made since the last step, the most urgent first: the
 * application's (stop, connect, the release of a held snapshot) or the
 * expiry of the wait. Each may come in any phase and acts on the phase it
 * finds. Returns false when there is none.
 */
static bool take_request(pgrepl_session *s)
{
    if (s->core.stop_req)
        stop_now(s);
    else if (pgrepl__wait_due(s))
        wait_expired(s);
    else if (s->core.connect_req)
        connect_now(s);
    else if (s->core.release_req)
        release_now(s);
    else
        return false;
    return true;
}

/* ---- the machine: one step per phase ----------------------------------------------- */

/* The next event from the connection; false when there is none now. */
static bool next_event(pgrepl_session *s, pgrepl_conn_event *ev)
{
    pgrepl__conn_next(&s->core.conn, ev);
    return ev->kind != PGREPL_CONN_EV_NONE;
}

/* Nothing more in a phase without status updates: their timer is off. */
static bool settled(pgrepl_session *s)
{
    pgrepl__set_timer(s, -1);
    return false;
}

/* PH_NONE: no connection; only a request moves on. */
static bool step_none(pgrepl_session *s)
{
    return settled(s);
}

/*
 * The phases with a connection: the next event goes to the phase's handler;
 * with none, the phase's own work when nothing arrives (nothing_more).
 */
static bool next_to(pgrepl_session *s, void (*handle)(pgrepl_session *, pgrepl_conn_event *),
                    bool (*nothing_more)(pgrepl_session *))
{
    pgrepl_conn_event ev;
    if (!next_event(s, &ev))
        return nothing_more(s);
    handle(s, &ev);
    return true;
}

static void on_connect_event(pgrepl_session *s, pgrepl_conn_event *ev)
{
    if (ev->kind == PGREPL_CONN_EV_CONNECTED)
        pgrepl__setup_identify(s);
    else if (ev->kind == PGREPL_CONN_EV_FAILED)
        fail_conn(s, PGREPL_ECONNECT, "connect");
}

/* PH_CONNECT: PQconnectPoll until connected, then the setup's commands. */
static bool step_connect(pgrepl_session *s)
{
    return next_to(s, on_connect_event, settled);
}

/*
 * A command in flight (PH_IDENTIFY, _SHOW, _SETTINGS, _SLOT_BEGIN, _SLOT,
 * _SLOT_END, _CHECK, _START): its results are kept until it is done, and
 * query_done hands them to the phase's handler.
 */
static bool step_command(pgrepl_session *s)
{
    return next_to(s, on_query_event, settled);
}

/* Connected with nothing in flight: only the end of the connection can come. */
static void on_quiet_event(pgrepl_session *s, pgrepl_conn_event *ev)
{
    if (ev->kind == PGREPL_CONN_EV_FAILED)
        fail_conn(s, ev->code, "connection");
    else if (ev->kind == PGREPL_CONN_EV_RESULT)
        PQclear(ev->result);
}

static bool quiet_connection(pgrepl_session *s)
{
    return next_to(s, on_quiet_event, settled);
}

/* PH_IDLE: the next slot command, the check before START_REPLICATION, or READY. */
static bool step_idle(pgrepl_session *s)
{
    if (pgrepl__slots_pending(s))
        pgrepl__slots_run_next(s);
    else if (s->core.want_start)
        pgrepl__setup_check(s);
    else if (pgrepl_session_get_state(s) != PGREPL_STREAM_READY)
        pgrepl__set_state(s, PGREPL_STREAM_READY);
    else
        return quiet_connection(s);
    return true;
}

/* PH_HELD: the snapshot is the application's until pgrepl_session_snapshot_done (a request). */
static bool step_held(pgrepl_session *s)
{
    return quiet_connection(s);
}

/* PH_STREAMING: CopyData to delivery unless paused, then status updates and the watchdog. */
static bool step_streaming(pgrepl_session *s)
{
    if (pgrepl__delivery_paused(s))
        return pgrepl__delivery_feedback(s);
    return next_to(s, on_streaming_event, pgrepl__delivery_feedback);
}

/* PH_STOPPING: CopyDone sent; what the server still sends is drained under the watchdog. */
static bool step_stopping(pgrepl_session *s)
{
    return next_to(s, on_stopping_event, pgrepl__delivery_watchdog);
}

/* One step in the current phase; false when nothing can happen now. */
static bool step(pgrepl_session *s)
{
    switch (s->core.ph) {
    case PH_NONE:
        return step_none(s);
    case PH_CONNECT:
        return step_connect(s);
    case PH_IDENTIFY:
    case PH_SHOW:
    case PH_SETTINGS:
    case PH_SLOT_BEGIN:
    case PH_SLOT:
    case PH_SLOT_END:
    case PH_CHECK:
    case PH_START:
        return step_command(s);
    case PH_IDLE:
        return step_idle(s);
    case PH_HELD:
        return step_held(s);
    case PH_STREAMING:
        return step_streaming(s);
    case PH_STOPPING:
        return step_stopping(s);
    }
    return false;
}

/* Everything that can happen now, until nothing can: the requests first, then the phase's work. */
static void advance(pgrepl_session *s)
{
    while (!s->core.close_req && (take_request(s) || step(s)))
        continue;
}

/* ---- the dispatcher ---------------------------------------------------------------- */

static void enter(pgrepl_session *s)
{
    if (s->core.busy++ == 0)
        s->core.got = 0;
    pgrepl__wakeup_begin(s);
}

/*
 * The end of a dispatch: what was asked from inside (close, free) happens
 * once the session is off the stack, then the host is told what to watch
 * and when to call. Returns false when the session is gone.
 */
static bool leave(pgrepl_session *s)
{
    pgrepl__wakeup_end(s);
    if (--s->core.busy > 0)
        return true;
    if (s->core.free_req) {
        free_now(s);
        return false;
    }
    if (s->core.close_req && !s->core.closed)
        do_close(s);
    if (!s->core.closed)
        pgrepl__sync_hb(s);
    pgrepl__sync_timer(s);
    return true;
}

typedef enum entry_kind { ENTRY_CONN, ENTRY_HB, ENTRY_TIMEOUT } entry_kind;

/* What the host reported, before anything runs: readiness of one socket, or the time. */
static unsigned take_entry(pgrepl_session *s, entry_kind kind, unsigned events, bool *paused_read)
{
    bool error = (events & PGREPL_IO_ERROR) != 0;
    unsigned io =
        ((events & PGREPL_IO_READ) ? PGREPL_CONN_READ : 0u) | ((events & PGREPL_IO_WRITE) ? PGREPL_CONN_WRITE : 0u);
    switch (kind) {
    case ENTRY_CONN:
        if (pgrepl__conn_connecting(&s->core.conn)) {
            /* PQconnectPoll may close the socket and open another: stop watching first. A refused or failed
             * connect shows as a socket error here; PQconnectPoll reads SO_ERROR and says what happened. */
            pgrepl__unwatch_conn(s);
            return error ? PGREPL_CONN_READ | PGREPL_CONN_WRITE : io;
        }
        /* an error or hang-up: read first, so that what the server sent before it (its last transaction,
         * a FATAL with its reason) is delivered, and the read itself says how the connection ended */
        return error ? io | PGREPL_CONN_READ : io;
    case ENTRY_HB:
        if (pgrepl__heartbeat_connecting(s->core.hb))
            pgrepl__unwatch_hb(s);
        pgrepl__heartbeat_io(s->core.hb, io, error);
        return 0;
    case ENTRY_TIMEOUT:
        break;
    }
    int64_t now = pgrepl__wakeup_us(s);
    pgrepl__expire_wait(s, now);
    int64_t hb_due = pgrepl__heartbeat_due(s->core.hb);
    if (hb_due >= 0 && now >= hb_due)
        pgrepl__heartbeat_timeout(s->core.hb);
    if (pgrepl__expire_hold(s, now)) {
        *paused_read = true;
        return s->core.ph == PH_STREAMING && !pgrepl__delivery_paused(s) ? PGREPL_CONN_READ : 0u;
    }
    return 0;
}

/* The one dispatcher: every entry from the host runs it. Returns false when the session is gone. */
static bool dispatch(pgrepl_session *s, entry_kind kind, unsigned events)
{
    enter(s);
    /* this dispatch sees every request made so far */
    pgrepl__kick_taken(s);
    bool paused_read = false;
    unsigned io = take_entry(s, kind, events, &paused_read);
    if (io != 0 && s->core.ph != PH_NONE)
        pgrepl__conn_io(&s->core.conn, io);
    /* the batching decision comes before sync_io: a pause stops watching the socket */
    do {
        advance(s);
        if (s->core.busy == 1 && !s->core.close_req)
            batch_settle(s, paused_read);
    } while (!s->core.close_req && sync_io(s) != 0);
    pgrepl__heartbeat_hold(s->core.hb, pgrepl__delivery_paused(s));
    return leave(s);
}

int pgrepl_session_io(pgrepl_session *s, int fd, unsigned events)
{
    if (s == NULL || s->core.busy > 0 || fd < 0 || s->core.closed)
        return PGREPL_EINVAL;
    if (pgrepl__is_conn_fd(s, fd))
        dispatch(s, ENTRY_CONN, events);
    else if (pgrepl__is_hb_fd(s, fd))
        dispatch(s, ENTRY_HB, events);
    else
        return PGREPL_EINVAL;
    return 0;
}

int pgrepl_session_timeout(pgrepl_session *s)
{
    if (s == NULL || s->core.busy > 0)
        return PGREPL_EINVAL;
    /* the host's timer is spent: whatever is due next must be asked for again */
    pgrepl__timer_spent(s);
    if (s->core.closed)
        finalize_now(s);
    else
        dispatch(s, ENTRY_TIMEOUT, 0);
    return 0;
}

/* ---- read batching ----------------------------------------------------------------- *
 *
 * The walsender sends each message with its own send(): a reader that
 * wakes for every one pays the kernel's per-wakeup and per-read costs each
 * time (and over TCP an acknowledgement per read). While a burst arrives,
 * the stream leaves the socket unwatched for batch_pause_us after each
 * read (its timer set to the end of the pause: a Unix socket's buffer holds
 * only a few hundred small messages, which the walsender fills in under a
 * millisecond at full speed, so the host's timer must count microseconds,
 * as the libuv binding's timerfd does), and reads what came meanwhile when
 * it fires. A wakeup that brings at least batch_bytes starts a burst; a
 * read after a pause that brings less ends it.
 */

/* Pause: the socket unwatched until the timer fires. */
static void hold_start(pgrepl_session *s)
{
    if (!pgrepl__holding(s))
        pgrepl__set_hold(s, pgrepl__now_us(s) + (int64_t)s->cfg.batch_pause_us);
}

static void hold_stop(pgrepl_session *s)
{
    pgrepl__set_hold(s, -1);
}

/* Batching applies to a TCP or Unix-domain connection when it is configured and the timer can be had. */
static void batch_begin(pgrepl_session *s)
{
    s->core.batching = false;
    s->core.batch = false;
    int fd = pgrepl__conn_socket(&s->core.conn);
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    if (s->cfg.batch_bytes == 0 || fd < 0 || getsockname(fd, (struct sockaddr *)&addr, &len) != 0)
        return;
    s->core.batch = addr.ss_family == AF_INET || addr.ss_family == AF_INET6 || addr.ss_family == AF_UNIX;
}

/* After a loop callback: enter or leave a burst; in one, pause after every read. */
static void batch_settle(pgrepl_session *s, bool paused_read)
{
    if (!s->core.batch)
        return;
    if (s->core.ph != PH_STREAMING || pgrepl__delivery_paused(s)) {
        s->core.batching = false;
        hold_stop(s);
        return;
    }
    if (!s->core.batching && s->core.got >= s->cfg.batch_bytes)
        s->core.batching = true;
    else if (s->core.batching && paused_read && s->core.got < s->cfg.batch_bytes)
        s->core.batching = false;
    /* a read that filled the buffer may have left more: no pause then */
    if (s->core.batching && s->core.got > 0 && !pgrepl__conn_read_filled(&s->core.conn))
        hold_start(s);
}

/* ---- close ------------------------------------------------------------------------- */

/* Close the connections and stop asking the host for anything; finalize_now follows from the timer. */
static void do_close(pgrepl_session *s)
{
    pgrepl__put_state(s, PGREPL_STREAM_CLOSING);
    pgrepl__unwatch_conn(s);
    pgrepl__unwatch_hb(s);
    drop_result(s);
    pgrepl__conn_finish(&s->core.conn);
    pgrepl__heartbeat_free(s->core.hb);
    s->core.hb = NULL;
    hold_stop(s);
    pgrepl__set_timer(s, -1);
    pgrepl__set_wait(s, -1);
    s->core.closed = true;
    /* slot command callbacks and close_cb run from the host's timer, never inside pgrepl_session_close */
    pgrepl__kick_quietly(s);
}

static void free_stream(pgrepl_session *s)
{
    pgrepl__delivery_free(s);
    pgrepl__config_free(s);
    pgrepl__free(s);
}

/* Free without callbacks: close first when that has not happened, then tell the host nothing is due. */
static void free_now(pgrepl_session *s)
{
    s->core.close_req = true;
    if (!s->core.closed)
        do_close(s);
    pgrepl__timer_cancel(s);
    pgrepl__slots_free(s);
    free_stream(s);
}

/* After do_close: the host's timer is canceled, then the slot commands' and the close callbacks run. */
static void finalize_now(pgrepl_session *s)
{
    if (s->core.finalizing)
        return;
    s->core.finalizing = true;
    pgrepl__kick_taken(s);
    pgrepl__timer_cancel(s);
    s->core.busy++;
    pgrepl__set_errmsg(s, NULL, "canceled: the stream was closed");
    pgrepl__slots_cancel_current(s, PGREPL_ECANCELED);
    pgrepl__slots_cancel_queued(s, PGREPL_ECANCELED);
    if (s->core.close_cb != NULL)
        s->core.close_cb(s);
    s->core.busy--;
    if (s->core.free_req)
        free_stream(s);
}

/* ---- public API: lifecycle --------------------------------------------------------- */

/* The heartbeat's problems (always inside a dispatch): non-fatal, the stream goes on. */
static void heartbeat_error(void *arg, int code, const char *message, const pgrepl_server_message *server)
{
    pgrepl_session *s = arg;
    pgrepl__set_errmsg(s, server, "%s", message);
    pgrepl_error err = {.code = code, .message = pgrepl_session_errmsg(s), .server = server};
    pgrepl__notify(s, &(pgrepl_note){.kind = NOTE_WARNING, .error = &err});
}

static int64_t heartbeat_now(void *arg)
{
    return pgrepl__now_us(arg);
}

pgrepl_session *pgrepl_session_new(const pgrepl_session_host *host)
{
    if (host == NULL || host->watch == NULL || host->timer == NULL)
        return NULL;
    pgrepl_session *s = pgrepl__calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    const pgrepl_heartbeat_hooks hooks = {
        .arg = s, .on_error = heartbeat_error, .on_seen = pgrepl__delivery_heartbeat_seen, .now = heartbeat_now};
    s->core.hb = pgrepl__delivery_init(s) == 0 ? pgrepl__heartbeat_new(&hooks) : NULL;
    if (s->core.hb == NULL) {
        pgrepl__delivery_free(s);
        pgrepl__free(s);
        return NULL;
    }
    pgrepl__config_init(s);
    pgrepl__host_init(s, host);
    pgrepl__slots_init(s);
    pgrepl__retry_init(s, teardown);
    pgrepl__conn_init(&s->core.conn);
    return s;
}

int pgrepl_session_start(pgrepl_session *s)
{
    if (s == NULL || s->cfg.slot == NULL || s->cfg.npubs == 0)
        return PGREPL_EINVAL;
    if (s->core.close_req || s->core.want_start)
        return PGREPL_ESTATE;
    if (pgrepl_session_get_state(s) == PGREPL_STREAM_STOPPED && !s->core.connect_req)
        s->core.connect_req = true;
    else if (pgrepl_session_get_state(s) != PGREPL_STREAM_READY)
        return PGREPL_ESTATE;
    if (pgrepl_session_get_state(s) == PGREPL_STREAM_STOPPED)
        pgrepl__retry_forget(s);
    s->core.want_start = true;
    pgrepl__retry_run(s, true);
    pgrepl__kick(s);
    return 0;
}

int pgrepl_session_connect(pgrepl_session *s)
{
    if (s == NULL)
        return PGREPL_EINVAL;
    if (!pgrepl__configurable(s))
        return PGREPL_ESTATE;
    s->core.connect_req = true;
    s->core.want_start = false;
    pgrepl__kick(s);
    return 0;
}

int pgrepl_session_stop(pgrepl_session *s)
{
    if (s == NULL)
        return PGREPL_EINVAL;
    if (s->core.close_req)
        return 0;
    s->core.connect_req = false;
    s->core.want_start = false;
    pgrepl__retry_run(s, false);
    if ((s->core.ph == PH_NONE && pgrepl_session_get_state(s) != PGREPL_STREAM_RECONNECTING) ||
        s->core.ph == PH_STOPPING)
        return 0;
    s->core.stop_req = true;
    pgrepl__kick(s);
    return 0;
}

int pgrepl_session_close(pgrepl_session *s, void (*close_cb)(pgrepl_session *s))
{
    if (s == NULL)
        return PGREPL_EINVAL;
    if (s->core.close_req)
        return 0;
    s->core.close_req = true;
    s->core.close_cb = close_cb;
    if (s->core.busy == 0) {
        do_close(s);
        pgrepl__sync_timer(s);
    }
    return 0;
}

void pgrepl_session_free(pgrepl_session *s)
{
    if (s == NULL)
        return;
    if (s->core.busy > 0) {
        /* nothing more is delivered from the wakeup under way: as after a close */
        s->core.free_req = true;
        s->core.close_req = true;
    } else
        free_now(s);
}

int pgrepl_session_snapshot_done(pgrepl_session *s)
{
    if (s == NULL)
        return PGREPL_EINVAL;
    if (s->core.close_req || s->core.ph != PH_HELD || s->core.release_req)
        return PGREPL_ESTATE;
    s->core.release_req = true;
    pgrepl__kick(s);
    return 0;
}

int64_t pgrepl_session_heartbeat_lag_us(const pgrepl_session *s)
{
    return s != NULL ? pgrepl__heartbeat_lag_us(s->core.hb) : -1;
}
