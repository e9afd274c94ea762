/*
 * count_consumer: the smallest library consumer, for bench/run-vs-recvlogical.sh.
 * It streams a slot through pgrepl_stream and only counts changes in the
 * decoder callbacks, so that its CPU time is the library's own cost per
 * change, end to end from the socket (libpq, the stream, the decoder).
 *
 *   count_consumer -d CONNINFO -S SLOT -P PUB [-E ENDPOS] [-b] [-V PROTO] [-s] [-R BYTES]
 *
 *   -E LSN   stop at the first transaction that begins at or after LSN, or
 *            when the server reports its WAL end at or past it while no
 *            transaction is open (pgrepl-stream's --endpos rule)
 *   -b       binary mode; -V pgoutput proto_version (default: the server's
 *            highest); -s streaming of large transactions in progress
 *   -R BYTES read batching: a wakeup with BYTES starts a burst, 200 us pauses
 *            (pgrepl_stream_set_read_batch);
 *            0 turns it off (default: the library's default)
 *
 * Every commit is acknowledged. At the end it prints one line to stdout:
 *   changes=N transactions=N elapsed_s=F user_s=F sys_s=F maxrss_kb=N
 * Heartbeats are off (no side connection) and so is reconnection by
 * failing on the first error: a benchmark run must not hide a failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <pgrepl/pgrepl.h>
#include <pgrepl/uv.h>

typedef struct counter {
    pgrepl_stream *s;
    pgrepl_lsn endpos; /* 0: none */
    bool in_txn;
    bool stopping;
    int exit_code;
    uint64_t changes, transactions;
} counter;

static void stop(counter *c)
{
    if (c->stopping)
        return;
    c->stopping = true;
    pgrepl_stream_stop_replication(c->s);
}

static int on_begin(void *ud, const pgrepl_msg_begin *m)
{
    counter *c = ud;
    if (c->endpos != 0 && m->final_lsn >= c->endpos)
        stop(c);
    c->in_txn = true;
    return 0;
}

static int on_commit(void *ud, const pgrepl_msg_commit *m)
{
    counter *c = ud;
    c->in_txn = false;
    c->transactions++;
    pgrepl_stream_ack(c->s, m->end_lsn);
    return 0;
}

static int on_change(void *ud, const pgrepl_msg_change *m)
{
    counter *c = ud;
    (void)m;
    c->changes++;
    return 0;
}

static int on_stream_start(void *ud, const pgrepl_msg_stream_start *m)
{
    (void)m;
    ((counter *)ud)->in_txn = true;
    return 0;
}

static int on_stream_stop(void *ud, const pgrepl_msg_stream_stop *m)
{
    (void)m;
    ((counter *)ud)->in_txn = false;
    return 0;
}

static int on_stream_commit(void *ud, const pgrepl_msg_commit *m)
{
    return on_commit(ud, m);
}

static void on_keepalive(pgrepl_stream *s, pgrepl_lsn wal_end, pgrepl_timestamp send_time, bool reply)
{
    (void)send_time;
    (void)reply;
    counter *c = pgrepl_stream_get_data(s);
    if (c->endpos != 0 && wal_end >= c->endpos && !c->in_txn)
        stop(c);
}

static void on_state(pgrepl_stream *s, pgrepl_stream_state state)
{
    counter *c = pgrepl_stream_get_data(s);
    if (state == PGREPL_STREAM_STOPPED && c->stopping)
        pgrepl_stream_close(s, NULL);
}

static void on_warning(pgrepl_stream *s, const pgrepl_error *err)
{
    (void)s;
    fprintf(stderr, "count_consumer: %s\n", err->message);
}

static void on_error(pgrepl_stream *s, const pgrepl_error *err)
{
    counter *c = pgrepl_stream_get_data(s);
    fprintf(stderr, "count_consumer: %s\n", err->message);
    c->exit_code = 1;
    pgrepl_stream_close(s, NULL);
}

static double seconds(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
    fprintf(stderr, "usage: count_consumer -d CONNINFO -S SLOT -P PUB [-E ENDPOS] [-b] [-V PROTO] [-s] [-R BYTES]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *conninfo = NULL, *slot = NULL, *pub = NULL;
    counter c = {0};
    bool binary = false, streaming = false;
    int proto = 0, opt;
    long batch = -1;
    while ((opt = getopt(argc, argv, "d:S:P:E:bV:sR:")) != -1) {
        switch (opt) {
        case 'd': conninfo = optarg; break;
        case 'S': slot = optarg; break;
        case 'P': pub = optarg; break;
        case 'E':
            if (pgrepl_lsn_parse(optarg, &c.endpos) != 0)
                usage();
            break;
        case 'b': binary = true; break;
        case 'V': proto = atoi(optarg); break;
        case 's': streaming = true; break;
        case 'R': batch = atol(optarg); break;
        default: usage();
        }
    }
    if (conninfo == NULL || slot == NULL || pub == NULL || optind != argc)
        usage();

    uv_loop_t loop;
    uv_loop_init(&loop);
    c.s = pgrepl_stream_new(&loop);
    const pgrepl_decoder_callbacks dcb = {
        .on_begin = on_begin,
        .on_commit = on_commit,
        .on_insert = on_change,
        .on_update = on_change,
        .on_delete = on_change,
        .on_stream_start = on_stream_start,
        .on_stream_stop = on_stream_stop,
        .on_stream_commit = on_stream_commit,
    };
    const pgrepl_stream_callbacks scb = {.on_state = on_state, .on_error = on_error, .on_warning = on_warning, .on_keepalive = on_keepalive};
    int rc = c.s == NULL ? PGREPL_ENOMEM : 0;
    if (rc == 0)
        rc = pgrepl_stream_set_conninfo(c.s, conninfo);
    if (rc == 0)
        rc = pgrepl_stream_set_slot(c.s, slot);
    if (rc == 0)
        rc = pgrepl_stream_add_publication(c.s, pub);
    if (rc == 0)
        rc = pgrepl_stream_set_proto_version(c.s, proto);
    if (rc == 0)
        rc = pgrepl_stream_set_binary(c.s, binary);
    if (rc == 0 && streaming)
        rc = pgrepl_stream_set_streaming(c.s, PGREPL_STREAMING_ON);
    if (rc == 0)
        rc = pgrepl_stream_set_heartbeat_interval(c.s, 0);
    if (rc == 0 && batch >= 0)
        rc = pgrepl_stream_set_read_batch(c.s, (size_t)batch, PGREPL_READ_BATCH_PAUSE_US);
    if (rc == 0)
        rc = pgrepl_stream_set_callbacks(c.s, &dcb, sizeof dcb, &scb, sizeof scb);
    if (rc != 0) {
        fprintf(stderr, "count_consumer: cannot configure the stream: %s\n", pgrepl_strerror(rc));
        return 1;
    }
    pgrepl_stream_set_data(c.s, &c);

    double start = now_s();
    rc = pgrepl_stream_start_replication(c.s);
    if (rc != 0) {
        fprintf(stderr, "count_consumer: cannot start: %s\n", pgrepl_strerror(rc));
        return 1;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    double elapsed = now_s() - start;
    uv_loop_close(&loop);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("changes=%llu transactions=%llu elapsed_s=%.3f user_s=%.3f sys_s=%.3f maxrss_kb=%ld\n",
           (unsigned long long)c.changes, (unsigned long long)c.transactions, elapsed, seconds(ru.ru_utime),
           seconds(ru.ru_stime), ru.ru_maxrss);
    return c.exit_code;
}
