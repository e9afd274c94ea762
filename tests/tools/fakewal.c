/*
 * fakewal: a scripted fake walsender for the stream's fault tests.
 *
 *   fakewal SCRIPT LOG [VERSION]
 *
 * Listens on 127.0.0.1 (a free port, printed on stdout as one line) and
 * serves one connection at a time. Each connection answers like a
 * replication=database walsender of PostgreSQL VERSION (server_version,
 * default "16.4"; before 16 the timeline column is int4): SSL and GSS requests
 * are refused, authentication succeeds, IDENTIFY_SYSTEM, SHOW, SET and the
 * stream's check (any SELECT: all publications exist, the slot is valid)
 * get plausible answers, START_REPLICATION gets CopyBothResponse. Then the
 * connection's block of the script runs. Connection N runs block N;
 * connections after the last block are "idle".
 *
 * SCRIPT: blocks separated by lines "---"; '#' starts a comment line. Each
 * line of a block is one action:
 *   silent        (first line only) answer nothing at all, not even the
 *                 startup; read until the client goes away
 *   d HEX         send a CopyData message with payload HEX
 *   raw HEX       send the bytes HEX as they are (broken framing)
 *   fill N HH     send N bytes of the value HH (hex) as they are
 *   sleep MS      read and log what the client sends for MS milliseconds
 *   close         close the connection
 *   hang          send nothing more; read until the client goes away
 *   idle          a keepalive (walEnd 0/0) every 300 ms; read until the
 *                 client goes away
 * A block that ends without close, hang or idle goes on as idle.
 *
 * LOG, one line per event, flushed at once:
 *   conn N / startup KEY=VALUE... / query SQL / status WRITE FLUSH /
 *   copydone / closed
 * LSNs as X/X. The tool runs until killed (SIGTERM).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINES 4096
#define INBUF (64 * 1024)

static FILE *logf_;
static const char *version = "16.4";
static char *lines[MAX_LINES];
static int nlines;

static void die(const char *what)
{
    fprintf(stderr, "fakewal: %s: %s\n", what, strerror(errno));
    exit(2);
}

__attribute__((format(printf, 1, 2))) static void logline(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(logf_, fmt, ap);
    va_end(ap);
    fputc('\n', logf_);
    fflush(logf_);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- output ------------------------------------------------------------------ */

typedef struct buf {
    unsigned char *data;
    size_t len, cap;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->data = realloc(b->data, b->cap);
        if (b->data == NULL)
            die("realloc");
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put8(buf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    put(b, &c, 1);
}

static void put16(buf *b, unsigned v)
{
    put8(b, v >> 8);
    put8(b, v);
}

static void put32(buf *b, uint32_t v)
{
    put16(b, v >> 16);
    put16(b, v & 0xffff);
}

static void put64(buf *b, uint64_t v)
{
    put32(b, (uint32_t)(v >> 32));
    put32(b, (uint32_t)v);
}

static void puts0(buf *b, const char *s)
{
    put(b, s, strlen(s) + 1);
}

/* A message: type, then the length (itself included) patched in when done. */
static size_t begin_msg(buf *b, char type)
{
    put8(b, (unsigned char)type);
    size_t at = b->len;
    put32(b, 0);
    return at;
}

static void end_msg(buf *b, size_t at)
{
    uint32_t n = (uint32_t)(b->len - at);
    b->data[at] = (unsigned char)(n >> 24);
    b->data[at + 1] = (unsigned char)(n >> 16);
    b->data[at + 2] = (unsigned char)(n >> 8);
    b->data[at + 3] = (unsigned char)n;
}

/* Write everything; false when the client is gone. */
static bool send_all(int fd, const void *p, size_t n)
{
    const unsigned char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

static bool flush_buf(int fd, buf *b)
{
    bool ok = send_all(fd, b->data, b->len);
    b->len = 0;
    return ok;
}

static void ready(buf *b)
{
    size_t at = begin_msg(b, 'Z');
    put8(b, 'I');
    end_msg(b, at);
}

static void complete(buf *b, const char *tag)
{
    size_t at = begin_msg(b, 'C');
    puts0(b, tag);
    end_msg(b, at);
}

static void parameter(buf *b, const char *name, const char *value)
{
    size_t at = begin_msg(b, 'S');
    puts0(b, name);
    puts0(b, value);
    end_msg(b, at);
}

/* RowDescription of text columns (type OID per column), then one DataRow (NULL for a NULL value). */
static void rows(buf *b, int n, const char *const *names, const uint32_t *types, const char *const *values)
{
    size_t at = begin_msg(b, 'T');
    put16(b, (unsigned)n);
    for (int i = 0; i < n; i++) {
        puts0(b, names[i]);
        put32(b, 0);
        put16(b, 0);
        put32(b, types[i]);
        put16(b, 0xffff);
        put32(b, 0xffffffff);
        put16(b, 0);
    }
    end_msg(b, at);
    at = begin_msg(b, 'D');
    put16(b, (unsigned)n);
    for (int i = 0; i < n; i++) {
        if (values[i] == NULL) {
            put32(b, 0xffffffff);
            continue;
        }
        put32(b, (uint32_t)strlen(values[i]));
        put(b, values[i], strlen(values[i]));
    }
    end_msg(b, at);
}

static void error_response(buf *b, const char *sqlstate, const char *message)
{
    size_t at = begin_msg(b, 'E');
    put8(b, 'S');
    puts0(b, "ERROR");
    put8(b, 'V');
    puts0(b, "ERROR");
    put8(b, 'C');
    puts0(b, sqlstate);
    put8(b, 'M');
    puts0(b, message);
    put8(b, 0);
    end_msg(b, at);
}

static void keepalive(buf *b)
{
    size_t at = begin_msg(b, 'd');
    put8(b, 'k');
    put64(b, 0);
    put64(b, 0);
    put8(b, 0);
    end_msg(b, at);
}

/* ---- input ------------------------------------------------------------------- */

typedef struct conn {
    int fd;
    unsigned char in[INBUF];
    size_t len;
    bool started; /* the startup message was read */
    bool copy;    /* in CopyBoth */
    bool start;   /* START_REPLICATION arrived: run the block */
    bool silent;  /* read and drop everything */
    bool gone;
} conn;

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static void log_startup(const unsigned char *p, size_t n)
{
    char line[1024];
    size_t used = (size_t)snprintf(line, sizeof line, "startup");
    for (size_t i = 8; i < n && p[i] != '\0';) {
        const char *key = (const char *)p + i;
        size_t klen = strnlen(key, n - i);
        const char *val = key + klen + 1;
        if (i + klen + 1 >= n)
            break;
        size_t vlen = strnlen(val, n - i - klen - 1);
        if (used < sizeof line)
            used += (size_t)snprintf(line + used, sizeof line - used, " %s=%.*s", key, (int)vlen, val);
        i += klen + 1 + vlen + 1;
    }
    logline("%s", line);
}

static void answer_startup(conn *c, const unsigned char *p, size_t n)
{
    buf out = {0};
    uint32_t code = n >= 8 ? get32(p + 4) : 0;
    if (code == 80877103 || code == 80877104) { /* SSLRequest, GSSENCRequest */
        put8(&out, 'N');
    } else {
        log_startup(p, n);
        c->started = true;
        size_t at = begin_msg(&out, 'R');
        put32(&out, 0);
        end_msg(&out, at);
        parameter(&out, "server_version", version);
        parameter(&out, "server_encoding", "UTF8");
        parameter(&out, "client_encoding", "UTF8");
        parameter(&out, "DateStyle", "ISO, MDY");
        parameter(&out, "integer_datetimes", "on");
        parameter(&out, "standard_conforming_strings", "on");
        parameter(&out, "TimeZone", "UTC");
        at = begin_msg(&out, 'K');
        put32(&out, (uint32_t)getpid());
        put32(&out, 12345);
        end_msg(&out, at);
        ready(&out);
    }
    if (!flush_buf(c->fd, &out))
        c->gone = true;
    free(out.data);
}

static void answer_query(conn *c, const char *sql)
{
    logline("query %s", sql);
    buf out = {0};
    if (strcmp(sql, "IDENTIFY_SYSTEM") == 0) {
        static const char *const names[] = {"systemid", "timeline", "xlogpos", "dbname"};
        const uint32_t types[] = {25, atoi(version) >= 16 ? 20 : 23, 25, 25};
        /* the end of the WAL: beyond every LSN a script sends */
        static const char *const values[] = {"7000000000000000001", "1", "1/0", "postgres"};
        rows(&out, 4, names, types, values);
        complete(&out, "IDENTIFY_SYSTEM");
    } else if (strncmp(sql, "SHOW ", 5) == 0) {
        static const char *const names[] = {"wal_sender_timeout"};
        static const uint32_t types[] = {25};
        static const char *const values[] = {"60s"};
        rows(&out, 1, names, types, values);
        complete(&out, "SHOW");
    } else if (strncmp(sql, "SET ", 4) == 0) {
        complete(&out, "SET");
    } else if (strncmp(sql, "SELECT ", 7) == 0) {
        static const char *const names[] = {"missing",  "exists",   "wal_status", "conflicting", "reason",
                                            "slot_type", "database", "here",       "confirmed"};
        static const uint32_t types[] = {25, 16, 25, 16, 25, 25, 19, 19, 3220};
        static const char *const values[] = {NULL, "t", "reserved", NULL, NULL, "logical", "fake", "fake", NULL};
        rows(&out, 9, names, types, values);
        complete(&out, "SELECT 1");
    } else if (strncmp(sql, "START_REPLICATION ", 18) == 0) {
        size_t at = begin_msg(&out, 'W');
        put8(&out, 0);
        put16(&out, 0);
        end_msg(&out, at);
        c->copy = true;
        c->start = true;
    } else {
        error_response(&out, "42601", "fakewal does not know this command");
    }
    if (!c->start)
        ready(&out);
    if (!flush_buf(c->fd, &out))
        c->gone = true;
    free(out.data);
}

static void answer_copydone(conn *c)
{
    logline("copydone");
    c->copy = false;
    buf out = {0};
    size_t at = begin_msg(&out, 'c');
    end_msg(&out, at);
    complete(&out, "COPY 0");
    complete(&out, "START_REPLICATION");
    ready(&out);
    if (!flush_buf(c->fd, &out))
        c->gone = true;
    free(out.data);
}

static void on_copydata(const unsigned char *p, size_t n)
{
    if (n == 34 && p[0] == 'r') {
        uint64_t w = get64(p + 1), f = get64(p + 9);
        logline("status %X/%X %X/%X", (unsigned)(w >> 32), (unsigned)w, (unsigned)(f >> 32), (unsigned)f);
    } else {
        logline("copydata %zu bytes, first 0x%02x", n, n > 0 ? p[0] : 0);
    }
}

/* One complete message at the start of c->in: handle it and return its size, or 0 if incomplete. */
static size_t one_message(conn *c)
{
    if (!c->started) {
        if (c->len < 4)
            return 0;
        size_t n = get32(c->in);
        if (n < 8 || n > INBUF) {
            c->gone = true;
            return 0;
        }
        if (c->len < n)
            return 0;
        answer_startup(c, c->in, n);
        return n;
    }
    if (c->len < 5)
        return 0;
    size_t n = (size_t)get32(c->in + 1) + 1;
    if (n < 5 || n > INBUF) {
        c->gone = true;
        return 0;
    }
    if (c->len < n)
        return 0;
    const unsigned char *body = c->in + 5;
    size_t blen = n - 5;
    switch (c->in[0]) {
    case 'Q': {
        char sql[INBUF];
        memcpy(sql, body, blen);
        sql[blen > 0 ? blen - 1 : 0] = '\0';
        answer_query(c, sql);
        break;
    }
    case 'd':
        on_copydata(body, blen);
        break;
    case 'c':
        answer_copydone(c);
        break;
    case 'X':
        c->gone = true;
        break;
    default:
        logline("message 0x%02x", c->in[0]);
        break;
    }
    return n;
}

/* Read what is there (waiting up to ms, -1 forever) and handle complete messages. */
static void pump(conn *c, int ms)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    int r = poll(&p, 1, ms);
    if (r <= 0)
        return;
    ssize_t got = read(c->fd, c->in + c->len, sizeof c->in - c->len);
    if (got <= 0) {
        c->gone = true;
        return;
    }
    c->len += (size_t)got;
    if (c->silent)
        c->len = 0;
    for (;;) {
        size_t used = one_message(c);
        if (used == 0 || c->gone)
            break;
        memmove(c->in, c->in + used, c->len - used);
        c->len -= used;
    }
}

/* Read until the client is gone; keepalives every 300 ms when asked. */
static void until_gone(conn *c, bool keepalives)
{
    while (!c->gone) {
        pump(c, keepalives ? 300 : -1);
        if (keepalives && !c->gone && c->copy) {
            buf out = {0};
            keepalive(&out);
            if (!flush_buf(c->fd, &out))
                c->gone = true;
            free(out.data);
        }
    }
}

/* ---- the script --------------------------------------------------------------- */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static void put_hex(buf *b, const char *hex)
{
    for (const char *p = hex; p[0] != '\0' && p[1] != '\0'; p += 2) {
        int hi = hexval(p[0]), lo = hexval(p[1]);
        if (hi < 0 || lo < 0) {
            fprintf(stderr, "fakewal: bad hex in script: %s\n", hex);
            exit(2);
        }
        put8(b, (unsigned)(hi << 4 | lo));
    }
}

/* Run the actions of lines[from..to); returns when the connection is over. */
static void run_block(conn *c, int from, int to)
{
    for (int i = from; i < to && !c->gone; i++) {
        const char *a = lines[i];
        buf out = {0};
        if (strncmp(a, "d ", 2) == 0) {
            size_t at = begin_msg(&out, 'd');
            put_hex(&out, a + 2);
            end_msg(&out, at);
        } else if (strncmp(a, "raw ", 4) == 0) {
            put_hex(&out, a + 4);
        } else if (strncmp(a, "fill ", 5) == 0) {
            char *end;
            unsigned long n = strtoul(a + 5, &end, 10);
            int hi = hexval(end[0] == ' ' ? end[1] : '?'), lo = hi < 0 ? -1 : hexval(end[2]);
            if (lo < 0) {
                fprintf(stderr, "fakewal: bad fill: %s\n", a);
                exit(2);
            }
            for (unsigned long k = 0; k < n; k++)
                put8(&out, (unsigned)(hi << 4 | lo));
        } else if (strncmp(a, "sleep ", 6) == 0) {
            int64_t until = now_ms() + atoi(a + 6);
            for (int64_t left; !c->gone && (left = until - now_ms()) > 0;)
                pump(c, (int)left);
        } else if (strcmp(a, "close") == 0) {
            c->gone = true;
        } else if (strcmp(a, "hang") == 0 || strcmp(a, "idle") == 0) {
            until_gone(c, strcmp(a, "idle") == 0);
        } else {
            fprintf(stderr, "fakewal: unknown action: %s\n", a);
            exit(2);
        }
        if (out.len > 0 && !flush_buf(c->fd, &out))
            c->gone = true;
        free(out.data);
    }
    until_gone(c, true);
}

static void serve(int fd, int from, int to)
{
    static conn c;
    memset(&c, 0, sizeof c);
    c.fd = fd;
    if (from < to && strcmp(lines[from], "silent") == 0) {
        c.silent = true;
        until_gone(&c, false);
    } else {
        while (!c.gone && !c.start)
            pump(&c, -1);
        run_block(&c, from, to);
    }
    close(fd);
    logline("closed");
}

static void read_script(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        die(path);
    static char line[1 << 20];
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        if (nlines == MAX_LINES) {
            fprintf(stderr, "fakewal: script too long\n");
            exit(2);
        }
        lines[nlines] = strdup(line);
        if (lines[nlines++] == NULL)
            die("strdup");
    }
    fclose(f);
}

/* Block k (0-based): [*from, *to) of lines; empty past the last block. */
static void find_block(int k, int *from, int *to)
{
    int start = 0;
    for (int i = 0; i <= nlines; i++) {
        if (i < nlines && strcmp(lines[i], "---") != 0)
            continue;
        if (k-- == 0) {
            *from = start;
            *to = i;
            return;
        }
        start = i + 1;
    }
    *from = *to = nlines;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: fakewal SCRIPT LOG [VERSION]\n");
        return 2;
    }
    if (argc == 4)
        version = argv[3];
    signal(SIGPIPE, SIG_IGN);
    read_script(argv[1]);
    logf_ = fopen(argv[2], "w");
    if (logf_ == NULL)
        die(argv[2]);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls < 0)
        die("socket");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof addr;
    if (bind(ls, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(ls, 16) != 0 ||
        getsockname(ls, (struct sockaddr *)&addr, &alen) != 0)
        die("listen");
    printf("%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    for (int k = 0;; k++) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0 && errno == EINTR) {
            k--;
            continue;
        }
        if (fd < 0)
            die("accept");
        logline("conn %d", k + 1);
        int from, to;
        find_block(k, &from, &to);
        serve(fd, from, to);
    }
}
