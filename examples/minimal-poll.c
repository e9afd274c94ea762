/*
 * minimal-poll: a complete replication consumer on plain poll(2), with no
 * libuv. The session asks this program to watch its sockets and to call
 * it back at one deadline; the loop below does exactly that.
 *
 *   minimal-poll 'dbname=app' SLOT PUBLICATION
 *
 * Prints one line per inserted, updated or deleted row, acknowledges each
 * transaction once printed, and stops cleanly on SIGINT or SIGTERM.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

#include <pgrepl/pgrepl.h>

static struct pollfd fds[2]; /* the session watches at most two sockets */
static int64_t deadline = -1; /* microseconds on CLOCK_MONOTONIC, -1: none */
static volatile sig_atomic_t stop_asked;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int watch(void *arg, int fd, unsigned events)
{
    (void)arg;
    struct pollfd *slot = NULL;
    for (int i = 0; i < 2; i++)
        if (fds[i].fd == fd || (slot == NULL && fds[i].fd < 0))
            slot = &fds[i];
    if (slot == NULL)
        return PGREPL_ENOMEM;
    slot->fd = events != 0 ? fd : -1;
    slot->events = (short)(((events & PGREPL_IO_READ) ? POLLIN : 0) | ((events & PGREPL_IO_WRITE) ? POLLOUT : 0));
    return 0;
}

static int timer(void *arg, int64_t timeout_us)
{
    (void)arg;
    deadline = timeout_us < 0 ? -1 : now_us() + timeout_us;
    return 0;
}

static int print_row(const char *what, const pgrepl_msg_change *m, const pgrepl_tuple *row)
{
    pgrepl_buf text = {0};
    printf("%s %s.%s:", what, m->rel->schema, m->rel->name);
    for (int i = 0; row != NULL && i < row->ncolumns; i++) {
        text.len = 0;
        int rc = pgrepl_value_to_text(&text, &m->rel->columns[i], &row->values[i]);
        printf(" %s=%s", m->rel->columns[i].name, rc == 0 ? text.data : "null");
    }
    printf("\n");
    pgrepl_buf_free(&text);
    return 0;
}

static int on_insert(void *ud, const pgrepl_msg_change *m)
{
    (void)ud;
    return print_row("insert", m, m->new_tuple);
}

static int on_update(void *ud, const pgrepl_msg_change *m)
{
    (void)ud;
    return print_row("update", m, m->new_tuple);
}

static int on_delete(void *ud, const pgrepl_msg_change *m)
{
    (void)ud;
    return print_row("delete", m, m->old_tuple);
}

static int on_commit(void *ud, const pgrepl_msg_commit *m)
{
    fflush(stdout);
    return pgrepl_session_ack(ud, m->end_lsn);
}

static void on_error(pgrepl_session *s, const pgrepl_error *err)
{
    (void)s;
    fprintf(stderr, "minimal-poll: %s%s\n", err->message, err->retrying ? " (retrying)" : "");
}

static void on_signal(int sig)
{
    (void)sig;
    stop_asked = 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: minimal-poll CONNINFO SLOT PUBLICATION\n");
        return 2;
    }
    fds[0].fd = fds[1].fd = -1;
    const pgrepl_session_host host = {.watch = watch, .timer = timer};
    pgrepl_session *s = pgrepl_session_new(&host);
    const pgrepl_decoder_callbacks dcb = {.on_insert = on_insert, .on_update = on_update, .on_delete = on_delete,
                                          .on_commit = on_commit};
    const pgrepl_session_callbacks scb = {.on_error = on_error};
    if (s == NULL || pgrepl_session_set_conninfo(s, argv[1]) != 0 || pgrepl_session_set_slot(s, argv[2]) != 0 ||
        pgrepl_session_add_publication(s, argv[3]) != 0 ||
        pgrepl_session_set_callbacks(s, &dcb, sizeof dcb, &scb, sizeof scb) != 0) {
        fprintf(stderr, "minimal-poll: %s\n", s != NULL ? pgrepl_session_errmsg(s) : "out of memory");
        return 1;
    }
    pgrepl_session_set_data(s, s);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (pgrepl_session_start(s) != 0) {
        fprintf(stderr, "minimal-poll: cannot start: %s\n", pgrepl_session_errmsg(s));
        pgrepl_session_free(s);
        return 1;
    }
    while (pgrepl_session_get_state(s) != PGREPL_STREAM_STOPPED || deadline >= 0) {
        if (stop_asked == 1) {
            stop_asked = 2;
            pgrepl_session_stop(s);
        }
        int64_t now = now_us();
        int timeout_ms = deadline < 0 ? -1 : deadline <= now ? 0 : (int)((deadline - now + 999) / 1000);
        int n = poll(fds, 2, timeout_ms);
        for (int i = 0; n > 0 && i < 2; i++)
            if (fds[i].fd >= 0 && fds[i].revents != 0)
                pgrepl_session_io(s, fds[i].fd,
                                  ((fds[i].revents & POLLIN) ? PGREPL_IO_READ : 0u) |
                                      ((fds[i].revents & POLLOUT) ? PGREPL_IO_WRITE : 0u) |
                                      ((fds[i].revents & (POLLERR | POLLHUP | POLLNVAL)) ? PGREPL_IO_ERROR : 0u));
        if (deadline >= 0 && now_us() >= deadline) {
            deadline = -1;
            pgrepl_session_timeout(s);
        }
    }
    int failed = pgrepl_session_get_state(s) == PGREPL_STREAM_STOPPED && stop_asked == 0;
    pgrepl_session_free(s);
    return failed;
}
