/*
 * The libuv binding (pgrepl/uv.h): a pgrepl_session whose host is a
 * uv_loop_t. One uv_poll_t per socket the session watches (at most two at a
 * time: the replication connection and the heartbeat's), one uv_timer_t for
 * the session's deadline, and on Linux a timerfd under a uv_poll_t for
 * deadlines closer than a couple of milliseconds (read batching pauses for
 * ~200 us; libuv's timers count milliseconds). Handles are closed
 * asynchronously, and close_cb runs once the last one is: then
 * uv_loop_close() succeeds.
 */
#include <stdlib.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/timerfd.h>
#endif

#include "pgrepl/uv.h"

/* Deadlines closer than this go to the timerfd (Linux), later ones to the uv_timer_t. */
#define FINE_TIMER_US 2000
/* Sockets watched at once: the session's two, and room for one being replaced. */
#define NPOLLS 4

typedef struct poll_slot {
    uv_poll_t *h; /* NULL: free */
    int fd;
    unsigned events; /* what it watches now: libuv re-registers the fd on every uv_poll_start */
} poll_slot;

typedef struct binding {
    uv_loop_t *loop;
    pgrepl_session *s;
    uv_timer_t timer;
    poll_slot polls[NPOLLS];
    uv_poll_t *fine;   /* the timerfd's handle, made at the first fine deadline; NULL when none */
    int fine_fd;
    bool fine_armed;
    int open;          /* handles initialized and not yet closed */
    bool closing;
    void (*close_cb)(pgrepl_stream *s);
} binding;

static binding *binding_of(const pgrepl_session *s)
{
    return pgrepl_session_host_of(s)->arg;
}

/* ---- the host's operations ------------------------------------------------------- */

static void on_poll(uv_poll_t *h, int status, int events)
{
    binding *b = h->data;
    for (int i = 0; i < NPOLLS; i++) {
        if (b->polls[i].h != h)
            continue;
        unsigned ready = ((events & UV_READABLE) ? PGREPL_IO_READ : 0u) | ((events & UV_WRITABLE) ? PGREPL_IO_WRITE : 0u);
        if (status < 0)
            ready |= PGREPL_IO_ERROR;
        (void)pgrepl_session_io(b->s, b->polls[i].fd, ready);
        return;
    }
}

static void on_closed(uv_handle_t *h)
{
    binding *b = h->data;
    if (h->type == UV_POLL)
        free(h);
    if (--b->open > 0)
        return;
    pgrepl_session *s = b->s;
    if (b->close_cb != NULL)
        b->close_cb(s);
    pgrepl_session_free(s);
    free(b);
}

static void close_slot(poll_slot *p)
{
    uv_close((uv_handle_t *)p->h, on_closed);
    p->h = NULL;
    p->fd = -1;
    p->events = 0;
}

/* A poll handle of the binding on fd in *out (closed by on_closed); PGREPL_ENOMEM or PGREPL_ECONNLOST. */
static int new_poll(binding *b, int fd, uv_poll_t **out)
{
    uv_poll_t *h = malloc(sizeof *h);
    if (h == NULL)
        return PGREPL_ENOMEM;
    if (uv_poll_init(b->loop, h, fd) != 0) {
        free(h);
        return PGREPL_ECONNLOST;
    }
    h->data = b;
    b->open++;
    *out = h;
    return 0;
}

static poll_slot *find_slot(binding *b, int fd)
{
    for (int i = 0; i < NPOLLS; i++)
        if (b->polls[i].h != NULL && b->polls[i].fd == fd)
            return &b->polls[i];
    return NULL;
}

/* A slot for a new fd: a free one, else one that watches nothing now (its handle closed). */
static poll_slot *spare_slot(binding *b)
{
    poll_slot *idle = NULL;
    for (int i = 0; i < NPOLLS; i++) {
        if (b->polls[i].h == NULL)
            return &b->polls[i];
        if (idle == NULL && b->polls[i].events == 0)
            idle = &b->polls[i];
    }
    if (idle != NULL)
        close_slot(idle);
    return idle;
}

static int host_watch(void *arg, int fd, unsigned events)
{
    binding *b = arg;
    poll_slot *p = find_slot(b, fd);
    if (events == 0) {
        /*
         * The fd may be closed next and its number reused: uv_poll_stop takes it out of the
         * loop's epoll set, so a later start on the same number registers the new socket.
         */
        if (p != NULL && p->events != 0)
            uv_poll_stop(p->h);
        if (p != NULL)
            p->events = 0;
        return 0;
    }
    if (p == NULL) {
        p = spare_slot(b);
        int rc = p != NULL ? new_poll(b, fd, &p->h) : PGREPL_ENOMEM;
        if (rc != 0)
            return rc;
        p->fd = fd;
        p->events = 0;
    }
    if (p->events == events)
        return 0;
    int want = ((events & PGREPL_IO_READ) ? UV_READABLE : 0) | ((events & PGREPL_IO_WRITE) ? UV_WRITABLE : 0);
    if (uv_poll_start(p->h, want, on_poll) != 0)
        return PGREPL_ECONNLOST;
    p->events = events;
    return 0;
}

static void on_timer(uv_timer_t *h)
{
    binding *b = h->data;
    (void)pgrepl_session_timeout(b->s);
}

#if defined(__linux__)
static void fine_stop(binding *b)
{
    if (!b->fine_armed)
        return;
    struct itimerspec off = {{0, 0}, {0, 0}};
    timerfd_settime(b->fine_fd, 0, &off, NULL);
    uv_poll_stop(b->fine);
    b->fine_armed = false;
}

static void on_fine(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    binding *b = h->data;
    uint64_t expirations;
    /* clears the timerfd's readiness; nothing else to learn from it */
    ssize_t n = read(b->fine_fd, &expirations, sizeof expirations);
    (void)n;
    uv_poll_stop(h);
    b->fine_armed = false;
    (void)pgrepl_session_timeout(b->s);
}

/* A deadline us (< FINE_TIMER_US) away on the timerfd; false when the system has none to give. */
static bool fine_start(binding *b, int64_t us)
{
    if (b->fine == NULL) {
        int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (fd < 0)
            return false;
        if (new_poll(b, fd, &b->fine) != 0) {
            close(fd);
            return false;
        }
        b->fine_fd = fd;
    }
    struct itimerspec t = {.it_value = {.tv_sec = 0, .tv_nsec = (long)us * 1000L}};
    if (timerfd_settime(b->fine_fd, 0, &t, NULL) != 0)
        return false;
    if (!b->fine_armed && uv_poll_start(b->fine, UV_READABLE, on_fine) != 0)
        return false;
    b->fine_armed = true;
    return true;
}

static void fine_close(binding *b)
{
    if (b->fine == NULL)
        return;
    uv_close((uv_handle_t *)b->fine, on_closed);
    /* uv_close took the descriptor out of the loop's epoll set: it can go now */
    close(b->fine_fd);
    b->fine = NULL;
    b->fine_armed = false;
}
#else
static void fine_stop(binding *b)
{
    (void)b;
}

static bool fine_start(binding *b, int64_t us)
{
    (void)b;
    (void)us;
    return false;
}

static void fine_close(binding *b)
{
    (void)b;
}
#endif

static int host_timer(void *arg, int64_t us)
{
    binding *b = arg;
    if (us > 0 && us < FINE_TIMER_US) {
        uv_timer_stop(&b->timer);
        if (fine_start(b, us))
            return 0;
    }
    fine_stop(b);
    if (us < 0) {
        uv_timer_stop(&b->timer);
        return 0;
    }
    /* the loop's clock may be as old as the start of a long callback: a deadline counts from now */
    uv_update_time(b->loop);
    uv_timer_start(&b->timer, on_timer, (uint64_t)((us + 999) / 1000), 0);
    return 0;
}

/* ---- the public API (pgrepl/uv.h) ------------------------------------------------- */

pgrepl_stream *pgrepl_stream_new(uv_loop_t *loop)
{
    if (loop == NULL)
        return NULL;
    binding *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    const pgrepl_session_host host = {.arg = b, .watch = host_watch, .timer = host_timer, .now = NULL};
    b->s = pgrepl_session_new(&host);
    if (b->s == NULL) {
        free(b);
        return NULL;
    }
    b->loop = loop;
    b->fine_fd = -1;
    for (int i = 0; i < NPOLLS; i++)
        b->polls[i].fd = -1;
    /* cannot fail on a valid loop; keeps the loop alive only while started */
    uv_timer_init(loop, &b->timer);
    b->timer.data = b;
    b->open = 1;
    return b->s;
}

/* The session is closed (its slot commands and nothing else completed): close the handles, then close_cb. */
static void session_closed(pgrepl_session *s)
{
    binding *b = binding_of(s);
    for (int i = 0; i < NPOLLS; i++)
        if (b->polls[i].h != NULL)
            close_slot(&b->polls[i]);
    fine_close(b);
    uv_close((uv_handle_t *)&b->timer, on_closed);
}

int pgrepl_stream_close(pgrepl_stream *s, void (*close_cb)(pgrepl_stream *s))
{
    if (s == NULL)
        return PGREPL_EINVAL;
    binding *b = binding_of(s);
    if (b->closing)
        return 0;
    b->closing = true;
    b->close_cb = close_cb;
    return pgrepl_session_close(s, session_closed);
}

uv_loop_t *pgrepl_stream_loop(const pgrepl_stream *s)
{
    return s != NULL ? binding_of(s)->loop : NULL;
}
