/*
 * tcpproxy: a TCP proxy that a test can freeze and cut, to stand for a
 * network path that goes silent (black-holed) or breaks.
 *
 *   tcpproxy TARGET
 *
 * Listens on 127.0.0.1 (a free port, printed on stdout as one line) and
 * forwards every connection to TARGET: "unix:PATH" (a server's socket
 * file) or "HOST:PORT" (numeric IPv4). Controlled by signals:
 *   SIGUSR1  freeze: stop moving bytes and stop accepting; connections
 *            stay open, so the peers see silence, not an error
 *   SIGUSR2  cut: close every connection (both sides)
 *   SIGHUP   thaw: move bytes and accept again
 * Runs until killed (SIGTERM).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_PAIRS 64
#define BUFSIZE (64 * 1024)

typedef struct half {
    int from, to;
    char buf[BUFSIZE];
    size_t len; /* read from `from`, not yet written to `to` */
    bool eof;
} half;

typedef struct pair {
    bool used;
    half dir[2]; /* client -> server, server -> client */
} pair;

static pair pairs[MAX_PAIRS];
static volatile sig_atomic_t frozen, cut_req;

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        frozen = 1;
    else if (sig == SIGHUP)
        frozen = 0;
    else if (sig == SIGUSR2)
        cut_req = 1;
}

static int connect_target(const char *target)
{
    int fd;
    if (strncmp(target, "unix:", 5) == 0) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof a.sun_path, "%s", target + 5);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            close(fd);
            fd = -1;
        }
        return fd;
    }
    char host[64];
    const char *colon = strrchr(target, ':');
    if (colon == NULL || (size_t)(colon - target) >= sizeof host)
        return -1;
    memcpy(host, target, (size_t)(colon - target));
    host[colon - target] = '\0';
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return -1;
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void close_pair(pair *p)
{
    close(p->dir[0].from);
    close(p->dir[0].to);
    memset(p, 0, sizeof *p);
}

static void add_pair(int client, int server)
{
    for (int i = 0; i < MAX_PAIRS; i++) {
        if (pairs[i].used)
            continue;
        pair *p = &pairs[i];
        p->used = true;
        p->dir[0] = (half){.from = client, .to = server};
        p->dir[1] = (half){.from = server, .to = client};
        fcntl(client, F_SETFL, O_NONBLOCK);
        fcntl(server, F_SETFL, O_NONBLOCK);
        return;
    }
    close(client);
    close(server);
}

static void accept_one(int ls, const char *target)
{
    int client = accept(ls, NULL, NULL);
    if (client < 0)
        return;
    int server = connect_target(target);
    if (server < 0) {
        fprintf(stderr, "tcpproxy: cannot reach %s: %s\n", target, strerror(errno));
        close(client);
        return;
    }
    add_pair(client, server);
}

/* Move what can move in one direction; false when the pair is over. */
static bool move(half *h, short revents_from, short revents_to)
{
    if ((revents_from & (POLLIN | POLLHUP | POLLERR)) && h->len < sizeof h->buf && !h->eof) {
        ssize_t n = read(h->from, h->buf + h->len, sizeof h->buf - h->len);
        if (n > 0)
            h->len += (size_t)n;
        else if (n == 0 || (errno != EAGAIN && errno != EINTR))
            h->eof = true;
    }
    if (h->len > 0 && (revents_to & POLLOUT)) {
        ssize_t n = write(h->to, h->buf, h->len);
        if (n > 0) {
            memmove(h->buf, h->buf + n, h->len - (size_t)n);
            h->len -= (size_t)n;
        } else if (errno != EAGAIN && errno != EINTR) {
            return false;
        }
    }
    return !(h->eof && h->len == 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tcpproxy unix:PATH | HOST:PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof addr;
    if (ls < 0 || bind(ls, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(ls, 16) != 0 ||
        getsockname(ls, (struct sockaddr *)&addr, &alen) != 0) {
        fprintf(stderr, "tcpproxy: listen: %s\n", strerror(errno));
        return 2;
    }
    printf("%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    for (;;) {
        if (cut_req) {
            cut_req = 0;
            for (int i = 0; i < MAX_PAIRS; i++)
                if (pairs[i].used)
                    close_pair(&pairs[i]);
        }
        /* frozen: watch nothing, so nothing is read, written or accepted; signals end the wait */
        /* fds[0] the listener, then the client and the server socket of each pair in idx */
        struct pollfd fds[1 + 2 * MAX_PAIRS];
        int idx[MAX_PAIRS], np = 0;
        bool thawed = !frozen;
        fds[0] = (struct pollfd){.fd = ls, .events = POLLIN};
        for (int i = 0; i < MAX_PAIRS && thawed; i++) {
            pair *p = &pairs[i];
            if (!p->used)
                continue;
            for (int d = 0; d < 2; d++) {
                short ev = 0;
                if (p->dir[d].len < BUFSIZE && !p->dir[d].eof)
                    ev |= POLLIN;
                if (p->dir[1 - d].len > 0)
                    ev |= POLLOUT;
                fds[1 + 2 * np + d] = (struct pollfd){.fd = p->dir[d].from, .events = ev};
            }
            idx[np++] = i;
        }
        /* frozen: watch nothing, so nothing is read, written or accepted; a signal or 50 ms ends the wait */
        int nfds = thawed ? 1 + 2 * np : 0;
        if (poll(fds, (nfds_t)nfds, thawed ? 1000 : 50) < 0 && errno != EINTR)
            return 2;
        if (!thawed || frozen || cut_req)
            continue;
        for (int j = 0; j < np; j++) {
            pair *p = &pairs[idx[j]];
            short rc = fds[1 + 2 * j].revents, rs = fds[2 + 2 * j].revents;
            bool up = move(&p->dir[0], rc, rs);
            bool down = move(&p->dir[1], rs, rc);
            if (!up || !down)
                close_pair(p);
        }
        if (fds[0].revents & POLLIN)
            accept_one(ls, argv[1]);
    }
}
