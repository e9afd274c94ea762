/*
 * latency_load: a paced load of single-row transactions, for
 * bench/run-latency.sh (bench/README.md "Latency").
 *
 *   latency_load -d CONNINFO -r RATE -t SECS [-w SECS] [-c CONNS] [-q DEPTH]
 *
 * Commits one single-row INSERT transaction into
 *   lat (id bigint PRIMARY KEY, ts bigint NOT NULL)
 * every 1/RATE seconds for -w SECS of warm-up (default 2) and then -t SECS
 * measured: transaction k is due at start + k / RATE on CLOCK_MONOTONIC.
 * Warm-up rows get the ids -1, -2, ...; measured rows 1, 2, ... in order of
 * their slots. Each row's ts is the inserting backend's
 * clock_timestamp() in microseconds since the Unix epoch, taken while the
 * INSERT runs, just before its commit: it is the server's own clock
 * (CLOCK_REALTIME, the one latency_reader reads), it does not depend on when
 * this program gets round to reading the acknowledgement (several
 * connections, pipelines, a busy CPU), and it travels in the row, so the
 * reader needs nothing but the consumer's output. It precedes the commit by
 * the commit's own duration (no fsync on the benchmark's server: some
 * microseconds), equally for every consumer.
 *
 * The transactions go round-robin over CONNS connections (default 2), each
 * in libpq's pipeline mode with a Sync after every INSERT, so that each is
 * its own transaction and a connection need not wait for one commit before
 * sending the next; at most DEPTH (default 32) are in flight per connection.
 * A slot that cannot be sent on time (its connection full) is sent as soon
 * as it can; slots still unsent when the schedule ends are dropped and
 * counted as missed, so the duration is fixed and a server or machine that
 * cannot keep up shows as an achieved rate below the target, as lateness
 * and as missed slots. After the schedule and every commit, one more row
 * with id 0 (the end mark) is committed alone.
 *
 * One line to stdout:
 *   target_rate=R achieved_rate=F measured=N warmup=N missed=N late_p99_us=N late_max_us=N
 *   commit_p50_us=N commit_p99_us=N commit_max_us=N user_s=F sys_s=F
 * achieved_rate: measured rows committed per second of the measured window;
 * late: how long after its due time a measured transaction was sent;
 * commit: from its send to its commit's acknowledgement (measured rows).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "percentile.h"

#define MAX_CONNS 64
#define INSERT_SQL "INSERT INTO lat (id, ts) VALUES ($1, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)"

typedef struct conn {
    PGconn *pg;
    int depth;        /* transactions in flight */
    bool want_write;  /* PQflush left something to send */
    bool readable;    /* the last poll saw input */
    int64_t *sent_ns; /* ring of send times of the transactions in flight, -1 for unmeasured ones */
    int head;         /* the oldest in flight */
} conn;

static int ring = 32;

static void usage(void)
{
    fprintf(stderr, "usage: latency_load -d CONNINFO -r RATE -t SECS [-w SECS] [-c CONNS] [-q DEPTH]\n");
    exit(2);
}

static void die_pg(PGconn *pg, const char *what)
{
    fprintf(stderr, "latency_load: %s: %s", what, pg != NULL ? PQerrorMessage(pg) : "out of memory\n");
    exit(1);
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static double number(const char *arg, double min, double max)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno != 0 || end == arg || *end != '\0' || v < min || v > max)
        usage();
    return v;
}

/* Nearest-rank percentile P of N sorted values of nanoseconds, in microseconds. */
static int64_t pct_us(const int64_t *v, size_t n, double p)
{
    return pct(v, n, p) / 1000;
}

static double cpu_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void flush_conn(conn *c)
{
    int rc = PQflush(c->pg);
    if (rc < 0)
        die_pg(c->pg, "cannot send");
    c->want_write = rc == 1;
}

static void send_insert(conn *c, int64_t id, int64_t sent_ns)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, id);
    const char *values[1] = {buf};
    if (!PQsendQueryPrepared(c->pg, "ins", 1, values, NULL, NULL, 0) || !PQpipelineSync(c->pg))
        die_pg(c->pg, "cannot queue an INSERT");
    c->sent_ns[(c->head + c->depth) % ring] = sent_ns;
    c->depth++;
    flush_conn(c);
}

/*
 * Take every result that has arrived on C. For each transaction: the
 * INSERT's result, NULL, then the Sync's PGRES_PIPELINE_SYNC, which is its
 * commit. Records the commit round trip of measured transactions in LAT.
 */
static void read_results(conn *c, int64_t *lat, size_t *nlat)
{
    if (!PQconsumeInput(c->pg))
        die_pg(c->pg, "cannot read");
    bool after_null = false;
    while (!PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (r == NULL) {
            /* the end of one query's results (its Sync's may follow), or nothing more */
            if (after_null || c->depth == 0)
                return;
            after_null = true;
            continue;
        }
        after_null = false;
        ExecStatusType st = PQresultStatus(r);
        PQclear(r);
        if (st == PGRES_COMMAND_OK)
            continue;
        if (st != PGRES_PIPELINE_SYNC)
            die_pg(c->pg, "INSERT failed");
        if (c->depth == 0) {
            fprintf(stderr, "latency_load: a Sync result with nothing in flight\n");
            exit(1);
        }
        int64_t sent = c->sent_ns[c->head];
        if (sent >= 0)
            lat[(*nlat)++] = now_ns() - sent;
        c->head = (c->head + 1) % ring;
        c->depth--;
    }
}

static PGconn *connect_one(const char *conninfo)
{
    PGconn *pg = PQconnectdb(conninfo);
    if (pg == NULL || PQstatus(pg) != CONNECTION_OK)
        die_pg(pg, "cannot connect");
    PGresult *r = PQprepare(pg, "ins", INSERT_SQL, 1, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die_pg(pg, "cannot prepare the INSERT");
    PQclear(r);
    if (PQsetnonblocking(pg, 1) != 0 || !PQenterPipelineMode(pg))
        die_pg(pg, "cannot enter pipeline mode");
    return pg;
}

/*
 * Wait for input or room on any connection until DEADLINE (CLOCK_MONOTONIC
 * ns; < 0: at most 100 ms; past: only look); marks the connections with input.
 */
static void wait_events(conn *conns, int nconns, int64_t deadline)
{
    struct pollfd pfd[MAX_CONNS];
    for (int i = 0; i < nconns; i++)
        pfd[i] = (struct pollfd){.fd = PQsocket(conns[i].pg),
                                 .events = (short)(POLLIN | (conns[i].want_write ? POLLOUT : 0))};
    int64_t wait = 100000000;
    if (deadline >= 0) {
        wait = deadline - now_ns();
        if (wait < 0)
            wait = 0;
    }
    struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000), .tv_nsec = (long)(wait % 1000000000)};
    int n = ppoll(pfd, (nfds_t)nconns, &ts, NULL);
    if (n < 0 && errno != EINTR) {
        perror("latency_load: ppoll");
        exit(1);
    }
    for (int i = 0; i < nconns; i++)
        conns[i].readable = n > 0 && (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
}

int main(int argc, char **argv)
{
    const char *conninfo = NULL;
    double rate = 0, secs = 0, warm_secs = 2;
    int nconns = 2, opt;
    while ((opt = getopt(argc, argv, "d:r:t:w:c:q:")) != -1) {
        switch (opt) {
        case 'd': conninfo = optarg; break;
        case 'r': rate = number(optarg, 1, 1e6); break;
        case 't': secs = number(optarg, 0.1, 86400); break;
        case 'w': warm_secs = number(optarg, 0, 3600); break;
        case 'c': nconns = (int)number(optarg, 1, MAX_CONNS); break;
        case 'q': ring = (int)number(optarg, 1, 100000); break;
        default: usage();
        }
    }
    if (conninfo == NULL || rate == 0 || secs == 0 || optind != argc)
        usage();

    int64_t nwarm = (int64_t)(warm_secs * rate), nmeas = (int64_t)(secs * rate), total = nwarm + nmeas;
    int64_t *lat = malloc((size_t)nmeas * sizeof *lat), *late = malloc((size_t)nmeas * sizeof *late);
    conn conns[MAX_CONNS] = {{0}};
    if (lat == NULL || late == NULL) {
        fprintf(stderr, "latency_load: out of memory\n");
        return 1;
    }
    for (int i = 0; i < nconns; i++) {
        conns[i].pg = connect_one(conninfo);
        conns[i].sent_ns = malloc((size_t)ring * sizeof *conns[i].sent_ns);
        if (conns[i].sent_ns == NULL) {
            fprintf(stderr, "latency_load: out of memory\n");
            return 1;
        }
    }
    /* wake up on time: the default timer slack (50 us) is half the slot at 10,000/s */
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    const double slot_ns = 1e9 / rate;
    int64_t start = now_ns(), end = start + (int64_t)((double)total * slot_ns);
    int64_t measure_start = start + (int64_t)((double)nwarm * slot_ns);
    int64_t next = 0, missed = 0, measured = 0, warm = 0;
    size_t nlat = 0, nlate = 0;
    for (;;) {
        int64_t now = now_ns();
        /* send what is due, in order, while its connection has room */
        while (next < total && now < end && start + (int64_t)((double)next * slot_ns) <= now) {
            conn *c = &conns[next % nconns];
            if (c->depth == ring)
                break;
            int64_t due = start + (int64_t)((double)next * slot_ns);
            if (next < nwarm) {
                send_insert(c, -(next + 1), -1);
                warm++;
            } else {
                late[nlate++] = now - due;
                send_insert(c, next - nwarm + 1, now);
                measured++;
            }
            next++;
            now = now_ns();
        }
        if (next < total && now >= end) {
            missed = total - next;
            next = total;
        }
        bool busy = false;
        for (int i = 0; i < nconns; i++)
            busy = busy || conns[i].depth > 0;
        if (next == total && !busy)
            break;
        int64_t deadline = -1;
        if (next < total && conns[next % nconns].depth < ring)
            deadline = start + (int64_t)((double)next * slot_ns);
        wait_events(conns, nconns, deadline);
        for (int i = 0; i < nconns; i++) {
            if (conns[i].want_write)
                flush_conn(&conns[i]);
            if (conns[i].readable)
                read_results(&conns[i], lat, &nlat);
        }
    }
    int64_t last_commit = now_ns();
    getrusage(RUSAGE_SELF, &ru1);

    /* the end mark, alone, after every other commit */
    send_insert(&conns[0], 0, -1);
    while (conns[0].depth > 0) {
        wait_events(conns, 1, -1);
        if (conns[0].want_write)
            flush_conn(&conns[0]);
        if (conns[0].readable)
            read_results(&conns[0], lat, &nlat);
    }
    for (int i = 0; i < nconns; i++) {
        PQfinish(conns[i].pg);
        free(conns[i].sent_ns);
    }

    qsort(lat, nlat, sizeof *lat, cmp_i64);
    qsort(late, nlate, sizeof *late, cmp_i64);
    /* the measured window: from its first due time to the last commit, at least its scheduled length */
    double window = (double)(last_commit - measure_start) / 1e9;
    if (window < secs)
        window = secs;
    printf("target_rate=%.0f achieved_rate=%.1f measured=%" PRId64 " warmup=%" PRId64 " missed=%" PRId64
           " late_p99_us=%" PRId64 " late_max_us=%" PRId64 " commit_p50_us=%" PRId64 " commit_p99_us=%" PRId64
           " commit_max_us=%" PRId64 " user_s=%.2f sys_s=%.2f\n",
           rate, (double)measured / window, measured, warm, missed,
           pct_us(late, nlate, 0.99), pct_us(late, nlate, 1), pct_us(lat, nlat, 0.5), pct_us(lat, nlat, 0.99),
           pct_us(lat, nlat, 1), cpu_s(ru1.ru_utime) - cpu_s(ru0.ru_utime),
           cpu_s(ru1.ru_stime) - cpu_s(ru0.ru_stime));
    free(lat);
    free(late);
    return 0;
}
