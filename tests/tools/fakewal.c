/*
 * fakewal: a scripted fake walsender for the stream's fault tests.
 *
 *   fakewal SCRIPT LOG [VERSION]
 *
 * Listens on 127.0.0.1 (a free port, printed on stdout as one line) and
 * serves every connection as a PostgreSQL server of VERSION
 * (server_version, default "16.4") would: the script's syntax, the answers
 * and the lines of LOG are tests/fakewal_core.h's, whose code this is a
 * process around, on poll(2) and the real clock. LOG is flushed after
 * every line. The tool runs until killed (SIGTERM).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "fakewal_core.h"

#define MAX_FDS 64

static void die(const char *what)
{
    fprintf(stderr, "fakewal: %s: %s\n", what, strerror(errno));
    exit(2);
}

static int64_t mono_us(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void log_to_file(void *arg, const char *line)
{
    FILE *f = arg;
    fputs(line, f);
    fputc('\n', f);
    fflush(f);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        die(path);
    size_t len = 0, cap = 1 << 16;
    char *text = malloc(cap);
    for (size_t n; text != NULL && (n = fread(text + len, 1, cap - len - 1, f)) > 0;) {
        len += n;
        if (cap - len - 1 == 0)
            text = realloc(text, cap *= 2);
    }
    if (text == NULL)
        die("malloc");
    text[len] = '\0';
    fclose(f);
    return text;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: fakewal SCRIPT LOG [VERSION]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    char *script = read_file(argv[1]);
    FILE *log = fopen(argv[2], "w");
    if (log == NULL)
        die(argv[2]);
    char why[128];
    const fakewal_config cfg = {
        .script = script, .version = argc == 4 ? argv[3] : NULL, .now = mono_us, .log = log_to_file, .arg = log};
    fakewal *fw = fakewal_new(&cfg, why, sizeof why);
    if (fw == NULL) {
        fprintf(stderr, "fakewal: %s\n", why);
        return 2;
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls < 0)
        die("socket");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof addr;
    if (bind(ls, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(ls, 16) != 0 ||
        getsockname(ls, (struct sockaddr *)&addr, &alen) != 0 || fakewal_listen(fw, ls) != 0)
        die("listen");
    printf("%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    for (;;) {
        struct pollfd fds[MAX_FDS];
        int n = fakewal_fds(fw, fds, MAX_FDS);
        if (n > MAX_FDS)
            n = MAX_FDS;
        int64_t due = fakewal_due(fw), wait = due < 0 ? -1 : due - mono_us(NULL);
        int ms = due < 0 ? -1 : wait <= 0 ? 0 : (int)((wait + 999) / 1000);
        if (poll(fds, (nfds_t)n, ms) < 0 && errno != EINTR)
            die("poll");
        for (int i = 0; i < n; i++)
            if (fds[i].revents != 0)
                fakewal_io(fw, fds[i].fd, fds[i].revents);
        fakewal_timeout(fw);
    }
}
