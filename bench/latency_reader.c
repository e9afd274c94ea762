/*
 * latency_reader: reads a consumer's output from standard input (a pipe) and
 * measures, for every row that bench/latency_load committed, the time from
 * its commit-side timestamp to its arrival here (bench/run-latency.sh,
 * bench/README.md "Latency").
 *
 *   latency_reader -f json|pgoutput
 *
 *   json      pgrepl-stream's JSON lines: each "I" line of the table lat
 *             carries the row's columns id and ts
 *   pgoutput  pg_recvlogical's output with the pgoutput plugin (text mode, no
 *             streaming): every message's bytes as they came, each followed
 *             by a newline; the messages are parsed (Begin, Commit, Relation,
 *             Type, Origin, Insert; anything else is an error), Insert's
 *             tuple gives id and ts
 *
 * A row's arrival time is CLOCK_REALTIME read right after the read() that
 * completed its line or message, with a 1 MB buffer; its latency is that
 * minus its ts (the inserting backend's clock_timestamp(), microseconds
 * since the Unix epoch, the same clock on the same machine). Rows with a
 * negative id are warm-up and only counted; the row with id 0 ends the
 * measurement: the reader prints one line to stdout and exits 0:
 *   rows=N warmup=N distinct=N max_id=N p50_us=N p90_us=N p99_us=N p999_us=N max_us=N mean_us=F reads=N
 *   user_s=F sys_s=F
 * rows counts measured rows (id > 0), distinct the different ids among them;
 * reads the read() calls that brought data; user_s and sys_s its own CPU time.
 * End of input before the end mark is an error (exit 1).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "percentile.h"

#define READ_SIZE (1024 * 1024)

typedef struct reader {
    bool json;
    int64_t now_us; /* arrival time of what the last read completed */
    int64_t body_us; /* pgoutput: when the message at the head was whole but its newline still missing, or 0 */
    int64_t *lat; /* latencies of measured rows, microseconds */
    size_t nlat, caplat;
    uint8_t *seen; /* a bit per measured id */
    size_t capseen;
    int64_t warmup, distinct, max_id, reads;
    bool done;
} reader;

static void die(const char *msg)
{
    fprintf(stderr, "latency_reader: %s\n", msg);
    exit(1);
}

static void usage(void)
{
    fprintf(stderr, "usage: latency_reader -f json|pgoutput\n");
    exit(2);
}

static int64_t realtime_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void row(reader *r, int64_t id, int64_t ts, int64_t arrived_us)
{
    if (id < 0) {
        r->warmup++;
        return;
    }
    if (id == 0) {
        r->done = true;
        return;
    }
    if (r->nlat == r->caplat) {
        r->caplat = r->caplat ? r->caplat * 2 : 65536;
        r->lat = realloc(r->lat, r->caplat * sizeof *r->lat);
        if (r->lat == NULL)
            die("out of memory");
    }
    r->lat[r->nlat++] = arrived_us - ts;
    size_t byte = (size_t)(id / 8);
    if (byte >= r->capseen) {
        size_t cap = r->capseen ? r->capseen : 65536;
        while (cap <= byte)
            cap *= 2;
        r->seen = realloc(r->seen, cap);
        if (r->seen == NULL)
            die("out of memory");
        memset(r->seen + r->capseen, 0, cap - r->capseen);
        r->capseen = cap;
    }
    uint8_t bit = (uint8_t)(1u << (id % 8));
    if (!(r->seen[byte] & bit)) {
        r->seen[byte] |= bit;
        r->distinct++;
    }
    if (id > r->max_id)
        r->max_id = id;
}

/* A decimal integer of exactly LEN bytes at P. */
static bool parse_int(const char *p, size_t len, int64_t *out)
{
    if (len == 0 || len > 20)
        return false;
    char buf[24];
    memcpy(buf, p, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

/* The JSON number after KEY in the line [P, END), or false. */
static bool json_value(const char *p, const char *end, const char *key, int64_t *out)
{
    size_t klen = strlen(key);
    const char *k = memmem(p, (size_t)(end - p), key, klen);
    if (k == NULL)
        return false;
    const char *v = k + klen, *e = v;
    while (e < end && (*e == '-' || (*e >= '0' && *e <= '9')))
        e++;
    return parse_int(v, (size_t)(e - v), out);
}

/* One JSON line [P, END) without its newline. */
static void json_line(reader *r, const char *p, const char *end)
{
    static const char insert[] = "{\"action\":\"I\"";
    if ((size_t)(end - p) < sizeof insert - 1 || memcmp(p, insert, sizeof insert - 1) != 0)
        return;
    if (memmem(p, (size_t)(end - p), "\"table\":\"lat\"", 13) == NULL)
        return;
    int64_t id = 0, ts = 0;
    if (!json_value(p, end, "{\"name\":\"id\",\"type\":\"bigint\",\"value\":", &id) ||
        !json_value(p, end, "{\"name\":\"ts\",\"type\":\"bigint\",\"value\":", &ts))
        die("an insert line of lat without id and ts");
    row(r, id, ts, r->now_us);
}

/* Bytes [P, END) of a pgoutput message being parsed; on running out, *short_ is set. */
typedef struct cursor {
    const unsigned char *p, *end;
    bool short_;
} cursor;

static bool take(cursor *c, size_t n)
{
    if ((size_t)(c->end - c->p) < n) {
        c->short_ = true;
        return false;
    }
    c->p += n;
    return true;
}

static uint32_t get32(cursor *c)
{
    const unsigned char *q = c->p;
    if (!take(c, 4))
        return 0;
    return (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
}

static uint16_t get16(cursor *c)
{
    const unsigned char *q = c->p;
    if (!take(c, 2))
        return 0;
    return (uint16_t)(q[0] << 8 | q[1]);
}

static bool cstring(cursor *c)
{
    const unsigned char *z = memchr(c->p, '\0', (size_t)(c->end - c->p));
    if (z == NULL) {
        c->short_ = true;
        return false;
    }
    c->p = z + 1;
    return true;
}

/*
 * One pgoutput message and its newline at the start of [P, END): returns its
 * length with the newline, 0 if more bytes are needed; an unexpected message
 * is an error.
 */
static size_t pgoutput_message(reader *r, const unsigned char *p, const unsigned char *end)
{
    cursor c = {p, end, false};
    int64_t vals[2] = {0, 0};
    bool insert = false;
    if (!take(&c, 1))
        return 0;
    switch (p[0]) {
    case 'B': take(&c, 8 + 8 + 4); break;
    case 'C': take(&c, 1 + 8 + 8 + 8); break;
    case 'O': (void)(take(&c, 8) && cstring(&c)); break;
    case 'Y': (void)(take(&c, 4) && cstring(&c) && cstring(&c)); break;
    case 'R': {
        if (!take(&c, 4) || !cstring(&c) || !cstring(&c) || !take(&c, 1))
            break;
        uint16_t natts = get16(&c);
        for (uint16_t i = 0; i < natts && !c.short_; i++)
            (void)(take(&c, 1) && cstring(&c) && take(&c, 8));
        break;
    }
    case 'I': {
        insert = true;
        if (!take(&c, 4))
            break;
        const unsigned char *kind = c.p;
        if (!take(&c, 1))
            break;
        if (*kind != 'N')
            die("an Insert without a new tuple");
        uint16_t natts = get16(&c);
        if (!c.short_ && natts != 2)
            die("an Insert of a table other than lat (id, ts)");
        for (uint16_t i = 0; i < natts && !c.short_; i++) {
            const unsigned char *k = c.p;
            if (!take(&c, 1))
                break;
            if (*k != 't')
                die("a column of lat not in text");
            uint32_t len = get32(&c);
            const unsigned char *v = c.p;
            if (!take(&c, len))
                break;
            if (!parse_int((const char *)v, len, &vals[i]))
                die("a column of lat that is not an integer");
        }
        break;
    }
    default: {
        char msg[64];
        snprintf(msg, sizeof msg, "unexpected pgoutput message '%c' (0x%02x)", p[0], p[0]);
        die(msg);
    }
    }
    if (c.short_)
        return 0;
    if (c.p == c.end) {
        /* pg_recvlogical writes the newline with a write of its own: the message arrived now */
        if (r->body_us == 0)
            r->body_us = r->now_us;
        return 0;
    }
    if (*c.p != '\n')
        die("a pgoutput message not followed by a newline (is this pg_recvlogical's output?)");
    if (insert)
        row(r, vals[0], vals[1], r->body_us != 0 ? r->body_us : r->now_us);
    r->body_us = 0;
    return (size_t)(c.p + 1 - p);
}

/* Take every whole line or message in [P, P + N); returns the bytes taken. */
static size_t consume(reader *r, const char *p, size_t n)
{
    size_t off = 0;
    while (off < n && !r->done) {
        if (r->json) {
            const char *nl = memchr(p + off, '\n', n - off);
            if (nl == NULL)
                break;
            json_line(r, p + off, nl);
            off = (size_t)(nl - p) + 1;
        } else {
            size_t len = pgoutput_message(r, (const unsigned char *)p + off, (const unsigned char *)p + n);
            if (len == 0)
                break;
            off += len;
        }
    }
    return off;
}

int main(int argc, char **argv)
{
    reader r = {0};
    int opt;
    const char *format = NULL;
    while ((opt = getopt(argc, argv, "f:")) != -1) {
        switch (opt) {
        case 'f': format = optarg; break;
        default: usage();
        }
    }
    if (format == NULL || optind != argc)
        usage();
    if (strcmp(format, "json") == 0)
        r.json = true;
    else if (strcmp(format, "pgoutput") != 0)
        usage();

    char *buf = malloc(READ_SIZE);
    if (buf == NULL)
        die("out of memory");
    size_t have = 0;
    while (!r.done) {
        if (have == READ_SIZE)
            die("a line or message longer than 1 MB");
        ssize_t n = read(0, buf + have, READ_SIZE - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            perror("latency_reader: read");
            return 1;
        }
        if (n == 0) {
            fprintf(stderr, "latency_reader: end of input before the end mark (%zu rows, %" PRId64 " warm-up)\n",
                    r.nlat, r.warmup);
            return 1;
        }
        r.now_us = realtime_us();
        r.reads++;
        have += (size_t)n;
        size_t used = consume(&r, buf, have);
        memmove(buf, buf + used, have - used);
        have -= used;
    }
    free(buf);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);

    double sum = 0;
    for (size_t i = 0; i < r.nlat; i++)
        sum += (double)r.lat[i];
    qsort(r.lat, r.nlat, sizeof *r.lat, cmp_i64);
    printf("rows=%zu warmup=%" PRId64 " distinct=%" PRId64 " max_id=%" PRId64 " p50_us=%" PRId64 " p90_us=%" PRId64
           " p99_us=%" PRId64 " p999_us=%" PRId64 " max_us=%" PRId64 " mean_us=%.1f reads=%" PRId64
           " user_s=%.2f sys_s=%.2f\n",
           r.nlat, r.warmup, r.distinct, r.max_id, pct(r.lat, r.nlat, 0.5), pct(r.lat, r.nlat, 0.9),
           pct(r.lat, r.nlat, 0.99), pct(r.lat, r.nlat, 0.999), pct(r.lat, r.nlat, 1),
           r.nlat ? sum / (double)r.nlat : 0.0, r.reads, (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    free(r.lat);
    free(r.seen);
    return 0;
}
