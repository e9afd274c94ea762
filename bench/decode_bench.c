/*
 * decode_bench: throughput of the pgoutput decoder on a captured stream.
 *
 *   decode_bench [-t SECONDS] [-r RUNS] FILE.cap
 *
 * FILE is a pgrepl-capture file ("PGRCAP01", then [4-byte big-endian
 * length][CopyData payload] records), loaded whole into memory. A warm-up
 * pass feeds every XLogData message to one decoder, which caches the
 * relations. Each timed run then passes over the messages again and again for
 * at least SECONDS of CPU time (default 2): every XLogData record is parsed with
 * pgrepl_copydata_parse and its pgoutput message fed to the decoder, whose
 * callbacks count the changes and add up their value lengths.
 *
 * Relation and Type messages are fed in the warm-up only: they allocate, by
 * design, and a server sends them once per relation and session, so the runs
 * measure the steady state. Keepalives are skipped.
 *
 * Output: a line per run and the median of RUNS (default 5) runs, in
 * messages, changes and MB per second of CPU time, where MB are 10^6 bytes of CopyData
 * payload (the 25-byte XLogData header included) of the messages fed; then
 * one "result ..." line of key=value pairs for scripts. The allocations made
 * during the timed runs are counted through pgrepl_set_allocator: change
 * messages must not allocate, so any allocation fails the benchmark.
 *
 * Exit status: 0, 1 on a bad file or decoder error, 2 when the timed runs
 * allocated.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pgrepl/pgrepl.h"

#define CAPTURE_MAGIC "PGRCAP01"
#define MAX_RUNS 100

typedef struct record {
    const uint8_t *p;
    size_t len;
} record;

typedef struct records {
    record *r;
    size_t n;
    size_t bytes;
} records;

typedef struct counters {
    uint64_t changes;
    uint64_t value_bytes; /* sum of value lengths: makes the callbacks read every value */
} counters;

typedef struct run {
    double secs;      /* CPU time of the process */
    double wall_secs; /* elapsed time */
    uint64_t passes;
    double msgs_per_s;
    double changes_per_s;
    double mb_per_s;
} run;

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("decode_bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* ---- counting allocator ------------------------------------------------ */

static unsigned long nallocs;

static void *count_malloc(size_t n)
{
    nallocs++;
    return malloc(n);
}

static void *count_realloc(void *p, size_t n)
{
    nallocs++;
    return realloc(p, n);
}

/* ---- callbacks ----------------------------------------------------------- */

static uint64_t tuple_bytes(const pgrepl_tuple *t)
{
    uint64_t sum = 0;
    if (t == NULL)
        return 0;
    for (int i = 0; i < t->ncolumns; i++)
        sum += t->values[i].len;
    return sum;
}

static int on_change(void *ud, const pgrepl_msg_change *m)
{
    counters *c = ud;
    c->changes++;
    c->value_bytes += tuple_bytes(m->old_tuple) + tuple_bytes(m->new_tuple);
    return 0;
}

static int on_truncate(void *ud, const pgrepl_msg_truncate *m)
{
    counters *c = ud;
    (void)m;
    c->changes++;
    return 0;
}

static const pgrepl_decoder_callbacks callbacks = {
    .on_insert = on_change,
    .on_update = on_change,
    .on_delete = on_change,
    .on_truncate = on_truncate,
};

/* ---- loading ------------------------------------------------------------- */

static uint8_t *load(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        die("cannot open %s: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0)
        die("cannot seek in %s: %s", path, strerror(errno));
    long size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0)
        die("cannot size %s: %s", path, strerror(errno));
    uint8_t *buf = malloc(size > 0 ? (size_t)size : 1);
    if (buf == NULL)
        die("out of memory loading %ld bytes", size);
    if (fread(buf, 1, (size_t)size, f) != (size_t)size)
        die("cannot read %s", path);
    fclose(f);
    *len = (size_t)size;
    return buf;
}

/* Calls fn(p, n, ud) for each record; returns the number of records. */
static size_t walk(const char *path, const uint8_t *buf, size_t len, void (*fn)(const uint8_t *, size_t, void *),
                   void *ud)
{
    size_t count = 0;
    if (len < 8 || memcmp(buf, CAPTURE_MAGIC, 8) != 0)
        die("%s is not a pgrepl-capture file", path);
    for (size_t pos = 8; pos < len; count++) {
        if (len - pos < 4)
            die("%s: truncated record length at offset %zu", path, pos);
        size_t n = (size_t)buf[pos] << 24 | (size_t)buf[pos + 1] << 16 | (size_t)buf[pos + 2] << 8 | buf[pos + 3];
        pos += 4;
        if (n > len - pos || n == 0)
            die("%s: bad record at offset %zu", path, pos - 4);
        if (fn != NULL)
            fn(buf + pos, n, ud);
        pos += n;
    }
    return count;
}

typedef struct recindex {
    records all;   /* every XLogData: the warm-up */
    records timed; /* all but schema messages: the timed runs */
    size_t keepalives;
} recindex;

static void add(records *rs, const uint8_t *p, size_t len)
{
    rs->r[rs->n++] = (record){p, len};
    rs->bytes += len;
}

static void index_record(const uint8_t *p, size_t n, void *ud)
{
    recindex *ix = ud;
    if (p[0] == 'k') {
        ix->keepalives++;
        return;
    }
    add(&ix->all, p, n);
    bool schema = n > PGREPL_XLOGDATA_HEADER_SIZE &&
                  (p[PGREPL_XLOGDATA_HEADER_SIZE] == 'R' || p[PGREPL_XLOGDATA_HEADER_SIZE] == 'Y');
    if (!schema)
        add(&ix->timed, p, n);
}

static void index_file(const char *path, const uint8_t *buf, size_t len, recindex *ix)
{
    size_t n = walk(path, buf, len, NULL, NULL);
    *ix = (recindex){0};
    ix->all.r = malloc((n + 1) * sizeof(record));
    ix->timed.r = malloc((n + 1) * sizeof(record));
    if (ix->all.r == NULL || ix->timed.r == NULL)
        die("out of memory indexing %s", path);
    walk(path, buf, len, index_record, ix);
}

/* ---- decoding ------------------------------------------------------------- */

static void feed_all(pgrepl_decoder *d, const records *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        pgrepl_copydata cd;
        int rc = pgrepl_copydata_parse(rs->r[i].p, rs->r[i].len, &cd);
        if (rc != 0)
            die("record %zu: %s", i, pgrepl_strerror(rc));
        pgrepl_wal wal = {.start = cd.wal_start, .end = cd.wal_end, .send_time = cd.send_time};
        rc = pgrepl_decoder_feed(d, &wal, cd.data, cd.len);
        if (rc != 0)
            die("record %zu: %s", i, pgrepl_decoder_errmsg(d));
    }
}

static double seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Rates are per second of CPU time: on a busy machine the process is
 * descheduled, and elapsed time would measure the other load. The elapsed
 * time is printed next to it so that a run that did not have its core to
 * itself can be seen.
 */
static run timed_run(pgrepl_decoder *d, const records *timed, counters *c, double min_secs)
{
    run r = {0};
    uint64_t changes_before = c->changes;
    double start = seconds(CLOCK_PROCESS_CPUTIME_ID), wall_start = seconds(CLOCK_MONOTONIC);
    do {
        feed_all(d, timed);
        r.passes++;
        r.secs = seconds(CLOCK_PROCESS_CPUTIME_ID) - start;
    } while (r.secs < min_secs);
    r.wall_secs = seconds(CLOCK_MONOTONIC) - wall_start;
    double msgs = (double)timed->n * (double)r.passes;
    r.msgs_per_s = msgs / r.secs;
    r.changes_per_s = (double)(c->changes - changes_before) / r.secs;
    r.mb_per_s = (double)timed->bytes * (double)r.passes / 1e6 / r.secs;
    return r;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of n values (sorted in place). */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void usage(void)
{
    fprintf(stderr, "usage: decode_bench [-t SECONDS] [-r RUNS] FILE.cap\n");
    exit(1);
}

int main(int argc, char **argv)
{
    double min_secs = 2;
    int nruns = 5, opt;
    while ((opt = getopt(argc, argv, "t:r:")) != -1) {
        char *end;
        if (opt == 't') {
            min_secs = strtod(optarg, &end);
            if (*end != '\0' || !(min_secs > 0 && min_secs <= 3600))
                usage();
        } else if (opt == 'r') {
            long n = strtol(optarg, &end, 10);
            if (*end != '\0' || n < 1 || n > MAX_RUNS)
                usage();
            nruns = (int)n;
        } else {
            usage();
        }
    }
    if (optind != argc - 1)
        usage();
    const char *path = argv[optind];

    static const pgrepl_allocator counting = {count_malloc, count_realloc, free};
    pgrepl_set_allocator(&counting);

    size_t len;
    uint8_t *buf = load(path, &len);
    recindex ix;
    index_file(path, buf, len, &ix);
    const records *all = &ix.all, *timed = &ix.timed;
    counters c = {0};
    pgrepl_decoder *d = pgrepl_decoder_new(&callbacks, sizeof callbacks, &c);
    if (d == NULL)
        die("out of memory");
    feed_all(d, all);
    uint64_t changes_per_pass = c.changes;
    printf("%s: %.1f MB, %zu XLogData (%zu schema, fed in the warm-up only), %zu keepalives (skipped)\n", path,
           (double)len / 1e6, all->n, all->n - timed->n, ix.keepalives);
    printf("timed pass: %zu messages, %llu changes, %.1f MB of CopyData payload\n", timed->n,
           (unsigned long long)changes_per_pass, (double)timed->bytes / 1e6);

    run runs[MAX_RUNS];
    double msgs[MAX_RUNS], changes[MAX_RUNS], mbs[MAX_RUNS];
    unsigned long allocs_before = nallocs;
    for (int i = 0; i < nruns; i++) {
        runs[i] = timed_run(d, timed, &c, min_secs);
        msgs[i] = runs[i].msgs_per_s;
        changes[i] = runs[i].changes_per_s;
        mbs[i] = runs[i].mb_per_s;
        printf("run %d: %llu passes in %.2f s CPU (%.2f s elapsed): %.2f M messages/s, %.2f M changes/s, %.0f MB/s\n",
               i + 1, (unsigned long long)runs[i].passes, runs[i].secs, runs[i].wall_secs, msgs[i] / 1e6,
               changes[i] / 1e6, mbs[i]);
    }
    unsigned long allocs = nallocs - allocs_before;
    double m_msgs = median(msgs, nruns), m_changes = median(changes, nruns), m_mbs = median(mbs, nruns);
    printf("median of %d runs: %.2f M messages/s, %.2f M changes/s, %.0f MB/s; allocations in timed runs: %lu\n",
           nruns, m_msgs / 1e6, m_changes / 1e6, m_mbs, allocs);
    printf("result messages=%zu changes=%llu mb=%.1f msgs_per_s=%.0f changes_per_s=%.0f mb_per_s=%.0f allocs=%lu "
           "value_bytes=%llu\n",
           timed->n, (unsigned long long)changes_per_pass, (double)timed->bytes / 1e6, m_msgs, m_changes, m_mbs, allocs,
           (unsigned long long)c.value_bytes);

    pgrepl_decoder_free(d);
    free(ix.all.r);
    free(ix.timed.r);
    free(buf);
    if (allocs != 0) {
        fprintf(stderr, "decode_bench: the timed runs made %lu allocations (must be 0)\n", allocs);
        return 2;
    }
    return 0;
}
