/*
 * The host: what the session asks of the event loop that runs it
 * (pgrepl_session_host). It watches at most two sockets (the replication
 * connection and the heartbeat's) and keeps one timer, set to the earliest
 * of the kick (work asked for outside a dispatch), the wait (the reconnect
 * delay, the connect deadline or the stop timeout, which never overlap),
 * the status update or watchdog time, the end of a read-batching pause and
 * the heartbeat's next deadline. Each part sets its deadline here; the
 * core tells the host at the end of every dispatch (pgrepl__sync_timer).
 *
 * Also the session's clock, and the reading of it taken once per wakeup.
 * Below every other part of the session but the door (notify.c): it calls
 * none of them.
 */
#include <time.h>

#include "session_int.h"

void pgrepl__host_init(pgrepl_session *s, const pgrepl_session_host *host)
{
    s->host.cb = *host;
    s->host.conn_fd = -1;
    s->host.hb_fd = -1;
    s->host.timer_at = -1;
    s->host.wait_at = -1;
    s->host.hold_at = -1;
    s->host.host_due = -1;
}

const pgrepl_session_host *pgrepl_session_host_of(const pgrepl_session *s)
{
    return s != NULL ? &s->host.cb : NULL;
}

/* ---- the clock ------------------------------------------------------------------ */

int64_t pgrepl__mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t pgrepl__now_us(const pgrepl_session *s)
{
    return s->host.cb.now != NULL ? s->host.cb.now(s->host.cb.arg) : pgrepl__mono_us();
}

void pgrepl__wakeup_begin(pgrepl_session *s)
{
    if (s->host.in_run++ == 0)
        s->host.wake_us = pgrepl__now_us(s);
}

void pgrepl__wakeup_end(pgrepl_session *s)
{
    s->host.in_run--;
}

bool pgrepl__in_wakeup(const pgrepl_session *s)
{
    return s->host.in_run > 0;
}

int64_t pgrepl__wakeup_us(const pgrepl_session *s)
{
    return s->host.wake_us;
}

/* Input came after the wakeup began (read after a silence): its time is now. */
void pgrepl__wakeup_reread(pgrepl_session *s)
{
    s->host.wake_us = pgrepl__now_us(s);
}

/* ---- sockets -------------------------------------------------------------------- */

static int watch(pgrepl_session *s, int *fd_watched, unsigned *watched, int fd, unsigned events)
{
    if (*fd_watched >= 0 && (*fd_watched != fd || events == 0)) {
        (void)s->host.cb.watch(s->host.cb.arg, *fd_watched, 0);
        *fd_watched = -1;
        *watched = 0;
    }
    if (fd < 0 || events == 0 || (*fd_watched == fd && *watched == events))
        return 0;
    int rc = s->host.cb.watch(s->host.cb.arg, fd, events);
    if (rc != 0)
        return rc;
    *fd_watched = fd;
    *watched = events;
    return 0;
}

static unsigned io_events(unsigned conn_want)
{
    return ((conn_want & PGREPL_CONN_READ) ? PGREPL_IO_READ : 0u) |
           ((conn_want & PGREPL_CONN_WRITE) ? PGREPL_IO_WRITE : 0u);
}

/* Watch the replication socket fd for what the connection wants (PGREPL_CONN_*); a failure is the host's code. */
int pgrepl__watch_conn(pgrepl_session *s, int fd, unsigned conn_want)
{
    return watch(s, &s->host.conn_fd, &s->host.conn_events, fd, io_events(conn_want));
}

/* Stop watching the replication socket: PQconnectPoll may close it and open another with the same number. */
void pgrepl__unwatch_conn(pgrepl_session *s)
{
    (void)watch(s, &s->host.conn_fd, &s->host.conn_events, -1, 0);
}

void pgrepl__unwatch_hb(pgrepl_session *s)
{
    (void)watch(s, &s->host.hb_fd, &s->host.hb_events, -1, 0);
}

/* The heartbeat's socket (a failure to watch it shows as its deadline passing). */
void pgrepl__sync_hb(pgrepl_session *s)
{
    unsigned want = 0;
    int fd = pgrepl__closing(s) ? -1 : pgrepl__heartbeat_socket(pgrepl__hb(s), &want);
    (void)watch(s, &s->host.hb_fd, &s->host.hb_events, fd, io_events(want));
}

bool pgrepl__is_conn_fd(const pgrepl_session *s, int fd)
{
    return fd == s->host.conn_fd;
}

bool pgrepl__is_hb_fd(const pgrepl_session *s, int fd)
{
    return fd == s->host.hb_fd;
}

/* ---- deadlines ------------------------------------------------------------------ */

void pgrepl__set_timer(pgrepl_session *s, int64_t at)
{
    s->host.timer_at = at;
}

void pgrepl__set_wait(pgrepl_session *s, int64_t at)
{
    s->host.wait_at = at;
}

bool pgrepl__wait_due(const pgrepl_session *s)
{
    return s->host.wait_due;
}

void pgrepl__clear_wait_due(pgrepl_session *s)
{
    s->host.wait_due = false;
}

/* At now: the wait expired (it is due until pgrepl__clear_wait_due). */
void pgrepl__expire_wait(pgrepl_session *s, int64_t now)
{
    if (s->host.wait_at >= 0 && now >= s->host.wait_at) {
        s->host.wait_at = -1;
        s->host.wait_due = true;
    }
}

void pgrepl__set_hold(pgrepl_session *s, int64_t at)
{
    s->host.hold_at = at;
}

bool pgrepl__holding(const pgrepl_session *s)
{
    return s->host.hold_at >= 0;
}

/* At now: whether a read-batching pause just ended. */
bool pgrepl__expire_hold(pgrepl_session *s, int64_t now)
{
    if (s->host.hold_at >= 0 && now >= s->host.hold_at) {
        s->host.hold_at = -1;
        return true;
    }
    return false;
}

/* ---- the host's timer ------------------------------------------------------------ */

/* Have dispatch() run soon (sync_timer asks the host when no dispatch is under way to see the request). */
void pgrepl__kick(pgrepl_session *s)
{
    if (pgrepl__closed(s) || s->host.kicked)
        return;
    s->host.kicked = true;
    if (pgrepl__busy(s) == 0)
        pgrepl__sync_timer(s);
}

/* A dispatch began: it sees every request made so far. */
void pgrepl__kick_taken(pgrepl_session *s)
{
    s->host.kicked = false;
}

/* Run soon, once the caller syncs the timer. */
void pgrepl__kick_quietly(pgrepl_session *s)
{
    s->host.kicked = true;
}

static int64_t earliest(int64_t a, int64_t b)
{
    return a < 0 || (b >= 0 && b < a) ? b : a;
}

/* Ask the host for a call at the earliest deadline, when it changed. */
void pgrepl__sync_timer(pgrepl_session *s)
{
    if (pgrepl__closed(s) && !s->host.kicked) {
        if (s->host.host_due >= 0)
            (void)s->host.cb.timer(s->host.cb.arg, -1);
        s->host.host_due = -1;
        return;
    }
    int64_t now = pgrepl__now_us(s);
    int64_t due = now;
    if (!s->host.kicked)
        due = earliest(earliest(earliest(s->host.timer_at, s->host.wait_at), s->host.hold_at),
                       pgrepl__heartbeat_due(pgrepl__hb(s)));
    if (due == s->host.host_due && !s->host.kicked)
        return;
    s->host.host_due = due;
    (void)s->host.cb.timer(s->host.cb.arg, due < 0 ? -1 : due > now ? due - now : 0);
}

/* The host's timer fired: whatever is due next must be asked for again. */
void pgrepl__timer_spent(pgrepl_session *s)
{
    s->host.host_due = -1;
}

/* Cancel the host's timer (when it is set). */
void pgrepl__timer_cancel(pgrepl_session *s)
{
    if (s->host.host_due >= 0)
        (void)s->host.cb.timer(s->host.cb.arg, -1);
    s->host.host_due = -1;
}
