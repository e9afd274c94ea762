/*
 * socket_floor: what the kernel alone costs a reader per message, the floor
 * under any replication client on this machine (bench/README.md "The
 * kernel's floor").
 *
 *   socket_floor [-n MESSAGES] [-s BYTES] [-g USECS] [-p USECS] [-t]
 *
 * A writer process sends MESSAGES messages (default 1100000) of BYTES bytes
 * (default 100) each with its own send(), as a walsender sends each
 * CopyData, one every USECS microseconds (-g, default 2.3, busy-waiting in
 * between as a walsender decoding at that pace; 0: as fast as it can). The
 * reader does nothing with the bytes: it reads whatever is there into a
 * 64 kB buffer and, after a read that brought at least
 * PGREPL_READ_BATCH_BYTES, pauses -p microseconds (default
 * PGREPL_READ_BATCH_PAUSE_US: pgrepl's read batching, with the library's
 * own defaults; 0: it reads as soon as anything arrives, blocking in
 * recv()). Over a Unix socket pair, or with -t
 * over a TCP connection on loopback (TCP_NODELAY on the writer's side, as
 * the server sets it).
 *
 * One line to stdout:
 *   reader_us_per_msg=F reader_user_s=F reader_sys_s=F reads=N writer_us_per_msg=F writer_sys_s=F wall_s=F
 * CPU from getrusage (user + sys); the writer's includes its busy-waiting.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pgrepl/uv.h>

#define READ_BUFFER (64 * 1024)

static void usage(void)
{
    fprintf(stderr, "usage: socket_floor [-n MESSAGES] [-s BYTES] [-g USECS] [-p USECS] [-t]\n");
    exit(2);
}

static void die(const char *what)
{
    fprintf(stderr, "socket_floor: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_s(const struct timeval *tv)
{
    return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

/* A positive number from an option, or usage. */
static double number(const char *arg, double min, double max)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno != 0 || end == arg || *end != '\0' || v < min || v > max)
        usage();
    return v;
}

/* A connected pair: [0] the reader's end, [1] the writer's. */
static void connect_pair(bool tcp, int fds[2])
{
    if (!tcp) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
            die("socketpair");
        return;
    }
    int one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int lsn = socket(AF_INET, SOCK_STREAM, 0);
    if (lsn < 0)
        die("socket");
    if (bind(lsn, (struct sockaddr *)&addr, sizeof addr) != 0 || getsockname(lsn, (struct sockaddr *)&addr, &len) != 0 ||
        listen(lsn, 1) != 0)
        die("listening on loopback");
    fds[0] = socket(AF_INET, SOCK_STREAM, 0);
    if (fds[0] < 0)
        die("socket");
    if (connect(fds[0], (struct sockaddr *)&addr, sizeof addr) != 0)
        die("connect");
    fds[1] = accept(lsn, NULL, NULL);
    if (fds[1] < 0)
        die("accept");
    if (setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        die("TCP_NODELAY");
    close(lsn);
}

static void writer(int fd, long messages, size_t size, double gap_us)
{
    char *msg = calloc(1, size);
    if (msg == NULL)
        die("calloc");
    double next = now_s();
    for (long i = 0; i < messages; i++) {
        if (gap_us > 0) {
            while (now_s() < next)
                ;
            next += gap_us / 1e6;
        }
        for (size_t off = 0; off < size;) {
            ssize_t n = send(fd, msg + off, size - off, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                die("send");
            off += (size_t)n;
        }
    }
    free(msg);
}

int main(int argc, char **argv)
{
    long messages = 1100000;
    size_t size = 100;
    double gap_us = 2.3;
    long pause_us = PGREPL_READ_BATCH_PAUSE_US;
    bool tcp = false;
    int opt;
    while ((opt = getopt(argc, argv, "n:s:g:p:t")) != -1) {
        switch (opt) {
        case 'n': messages = (long)number(optarg, 1, 1e10); break;
        case 's': size = (size_t)number(optarg, 1, 1 << 20); break;
        case 'g': gap_us = number(optarg, 0, 1e6); break;
        case 'p': pause_us = (long)number(optarg, 0, PGREPL_READ_BATCH_MAX_PAUSE_US); break;
        case 't': tcp = true; break;
        default: usage();
        }
    }
    if (optind != argc)
        usage();

    int fds[2];
    connect_pair(tcp, fds);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        close(fds[0]);
        writer(fds[1], messages, size, gap_us);
        _exit(0);
    }
    close(fds[1]);

    char *buf = malloc(READ_BUFFER);
    if (buf == NULL)
        die("malloc");
    struct rusage before, after, child;
    getrusage(RUSAGE_SELF, &before);
    double t0 = now_s();
    long long total = 0, expect = (long long)messages * (long long)size;
    long reads = 0;
    const struct timespec pause = {.tv_sec = 0, .tv_nsec = pause_us * 1000L};
    while (total < expect) {
        ssize_t n = recv(fds[0], buf, READ_BUFFER, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("recv");
        if (n == 0) {
            fprintf(stderr, "socket_floor: the writer stopped after %lld of %lld bytes\n", total, expect);
            return 1;
        }
        total += n;
        reads++;
        if (pause_us > 0 && n >= PGREPL_READ_BATCH_BYTES && n < READ_BUFFER)
            nanosleep(&pause, NULL);
    }
    double wall = now_s() - t0;
    getrusage(RUSAGE_SELF, &after);
    free(buf);
    int status;
    if (wait4(pid, &status, 0, &child) != pid)
        die("wait4");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "socket_floor: the writer failed\n");
        return 1;
    }
    double ru = cpu_s(&after.ru_utime) - cpu_s(&before.ru_utime);
    double rs = cpu_s(&after.ru_stime) - cpu_s(&before.ru_stime);
    double wu = cpu_s(&child.ru_utime), ws = cpu_s(&child.ru_stime);
    printf("reader_us_per_msg=%.3f reader_user_s=%.3f reader_sys_s=%.3f reads=%ld writer_us_per_msg=%.3f "
           "writer_sys_s=%.3f wall_s=%.3f\n",
           (ru + rs) * 1e6 / (double)messages, ru, rs, reads, (wu + ws) * 1e6 / (double)messages, ws, wall);
    return 0;
}
