/*
 * pgrepl-stream: print every change of a logical replication slot as one
 * JSON line (the wal2json format-version 2 shape, docs/output-format.md),
 * read through the built-in pgoutput plugin. Options follow pg_recvlogical.
 *
 *   pgrepl-stream -d "dbname=app" -S slot -P pub [--create-slot] [-f FILE] ...
 *
 * Lines are rendered into one buffer (jsonl.c) and written with write(2) in
 * batches: when the buffer passes FLUSH_AT, and whenever the loop is about to
 * wait for the network. A transaction is acknowledged to the server only
 * once its lines are out: for a regular file written and fsynced at the
 * fsync interval; for a pipe, FIFO or socket taken by its reader (what the
 * kernel still holds for it is asked every READER_CHECK_MS); for a terminal
 * written. So the slot never moves past what the output holds.
 *
 * A pipe, FIFO or socket is written without blocking: when it is full the
 * rest waits for it to take more (a poll handle), and the stream is paused
 * meanwhile, so that memory stays bounded and a stalled reader does not
 * keep signals and status updates waiting.
 *
 * An existing -f FILE is resumed: what a stopped run left after its last
 * whole unit is cut off (stream_tail.c finds it), and the stream starts
 * after that unit, declared durable once the file is fsynced.
 *
 * Errors that may pass (a lost connection, a restarting server, the slot in
 * use for a moment) are logged, and the library reconnects with a growing,
 * jittered delay and resumes after the last transaction written; the rest
 * end the program.
 *
 * Exit status: 0 after --endpos was reached or SIGINT/SIGTERM; 1 on an
 * error that retrying cannot fix, or on any error with --no-loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <linux/sockios.h> /* SIOCOUTQ */
#endif

#include <pgrepl/pgrepl.h>
#include <pgrepl/uv.h>

#include "jsonl.h"
#include "replace_file.h"
#include "stream_cli.h"
#include "stream_tail.h"

#define FLUSH_AT (1024 * 1024)
#define STOP_DEADLINE_MS 30000
#define READER_CHECK_MS 200

/* What makes written lines safe to acknowledge. */
typedef enum out_kind {
    OUT_DEVICE, /* a terminal or another device: written */
    OUT_FILE,   /* a regular file: written and fsynced (with -F 0, written) */
    OUT_PIPE,   /* a pipe or FIFO: taken by the reader (FIONREAD: what it has not read) */
    OUT_SOCKET  /* a socket: gone from the send queue (SIOCOUTQ: what is not sent or not acknowledged) */
} out_kind;

/* The end of a unit in the output: acknowledged once the reader took its last byte. */
typedef struct unit_mark {
    uint64_t end; /* output offset just after the unit's last line */
    pgrepl_lsn lsn;
    pgrepl_timestamp time;
} unit_mark;

typedef struct app {
    cli_options o;
    char *conninfo;
    char *password;
    uv_loop_t loop;
    pgrepl_stream *s;
    jl_writer *w;

    uv_signal_t sigint, sigterm, sighup;
    uv_timer_t tick;     /* status lines and metrics */
    uv_timer_t syncer;   /* fsync interval */
    uv_timer_t retry;    /* reconnect delay, stop deadline */
    uv_timer_t reader;   /* a pipe or socket: how far its reader got */
    uv_poll_t writable;  /* a pipe or socket: when it takes more */
    uv_prepare_t flusher;
    int nhandles;        /* ours, open */

    /* output */
    int fd;
    out_kind kind;
    bool needs_fsync;    /* a regular file and -F > 0 */
    bool polled;         /* writable is initialised */
    bool blocked;        /* the output is full: the stream is paused until it takes more */
    int fd_flags;        /* the descriptor's flags before O_NONBLOCK, put back at exit; -1: untouched */
    size_t out_off;      /* bytes of the buffer already written */
    bool out_failed;
    size_t unsynced;     /* bytes written since the last fsync */
    uint64_t bytes_out, fsyncs;

    /* positions: end of the last unit rendered, written, fsynced; acknowledged */
    pgrepl_lsn pending_end, written_end, synced_end, acked;
    pgrepl_lsn confirmed; /* what the server holds as confirmed: the slot's position at the start, then status updates */
    pgrepl_timestamp pending_time, written_time, synced_time, acked_time;
    size_t unit_mark;    /* buffer length at the last unit end */
    unit_mark *marks;    /* a pipe or socket: units not yet taken by the reader, oldest first: [head, n) */
    size_t marks_head, marks_n, marks_cap;
    pgrepl_lsn server_end; /* highest walEnd the server reported */
    pgrepl_lsn durable;  /* held from before this run: the later of -I and resumed */
    pgrepl_lsn resumed;  /* the end of the last unit in the file appended to, 0 if none */

    /* open streamed transactions, for --endpos */
    uint32_t *streams;
    int nstreams, streams_cap;

    /* lifecycle */
    bool slot_created;
    bool create_queued, drop_queued; /* slot commands queued and not completed */
    bool stopping;
    bool closing;
    bool prompted;
    int exit_code;
    uint64_t reconnects;
    bool reconnecting;   /* since a retryable error, until streaming again */

    /* rates for -v */
    uint64_t last_tick_ms, last_changes;
    double start_unix;
} app;

#define error(...) cli_say("error", __VA_ARGS__)
#define hint(...) cli_say("hint", __VA_ARGS__)
#define warning(...) cli_say("warning", __VA_ARGS__)
#define info(...) cli_say("", __VA_ARGS__)

/* ---- time ------------------------------------------------------------------- */

static double unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double pg_to_unix(pgrepl_timestamp ts)
{
    return (double)(ts + PGREPL_EPOCH_OFFSET_US) / 1e6;
}

/* ---- output and acknowledgement ------------------------------------------- */

static void fail(app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void finish(app *a, int code);

static const char *out_name(const app *a)
{
    return strcmp(a->o.file, "-") == 0 ? "standard output" : a->o.file;
}

static bool watches_reader(const app *a)
{
    return a->kind == OUT_PIPE || a->kind == OUT_SOCKET;
}

/* Bytes written that the reader has not taken (ioctl's result, errno set on failure). */
static int unread_ioctl(const app *a, int *n)
{
    if (a->kind == OUT_PIPE)
        return ioctl(a->fd, FIONREAD, n);
#if defined(SIOCOUTQ)
    return ioctl(a->fd, SIOCOUTQ, n);
#else
    errno = ENOTSUP;
    return -1;
#endif
}

/* What the output is, and for a pipe or socket whether the kernel says how much of it is unread. */
static int classify_output(app *a)
{
    struct stat st;
    if (fstat(a->fd, &st) != 0) {
        error("cannot inspect %s: %s", out_name(a), strerror(errno));
        return -1;
    }
    a->kind = S_ISREG(st.st_mode) ? OUT_FILE : S_ISFIFO(st.st_mode) ? OUT_PIPE : S_ISSOCK(st.st_mode) ? OUT_SOCKET
                                                                                                          : OUT_DEVICE;
    a->needs_fsync = a->o.fsync_ms > 0 && a->kind == OUT_FILE;
    int n;
    if (watches_reader(a) && unread_ioctl(a, &n) != 0) {
        error("cannot tell how much of %s its reader has taken (%s): %s", out_name(a),
              a->kind == OUT_PIPE ? "FIONREAD" : "SIOCOUTQ", strerror(errno));
        return -1;
    }
    return 0;
}

static int open_output(app *a)
{
    struct stat st;
    if (strcmp(a->o.file, "-") == 0) {
        a->fd = STDOUT_FILENO;
    } else {
        if (a->o.verbose && stat(a->o.file, &st) == 0 && S_ISFIFO(st.st_mode))
            info("\"%s\" is a FIFO: waiting for a reader to open it", a->o.file);
        a->fd = open(a->o.file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (a->fd < 0) {
            error("cannot open \"%s\": %s", a->o.file, strerror(errno));
            return -1;
        }
    }
    return classify_output(a);
}

/* The file again, for reading: the same file, not one renamed into its place meanwhile. */
static int open_for_reading(const app *a, const struct stat *st)
{
    struct stat rst;
    int fd = open(a->o.file, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &rst) != 0) {
        error("cannot read \"%s\": %s", a->o.file, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (rst.st_dev != st->st_dev || rst.st_ino != st->st_ino) {
        error("\"%s\" was replaced while it was being opened", a->o.file);
        close(fd);
        return -1;
    }
    return fd;
}

/* What recover_file cut off, in one warning. */
static void report_cut(const app *a, const tail_info *t, off_t size)
{
    if (t->cut_lines == 0)
        warning("\"%s\" ended inside a line: its last %lld bytes are cut off (never acknowledged, they come again)",
                a->o.file, (long long)t->torn);
    else
        warning("\"%s\" ended inside a transaction: its last %llu line%s%s (%lld bytes) are cut off (never "
                "acknowledged, they come again)",
                a->o.file, (unsigned long long)t->cut_lines, t->cut_lines == 1 ? "" : "s",
                t->torn > 0 ? " and a torn one" : "",
                (long long)(size - t->keep));
}

/*
 * Before appending to an existing file: what a run that stopped mid-write (a
 * crash, SIGKILL, a full disk) left after the file's last whole unit - a
 * transaction cut off, a torn line - is cut off: it was never acknowledged,
 * so it comes again. The file is fsynced (unless -F 0), and the stream
 * starts after that unit, which counts as durable: nothing in the file
 * comes twice, even when the slot was never confirmed that far.
 */
static int recover_file(app *a)
{
    struct stat st;
    if (fstat(a->fd, &st) != 0) {
        error("cannot inspect \"%s\": %s", a->o.file, strerror(errno));
        return -1;
    }
    if (st.st_size == 0)
        return 0;
    int rfd = open_for_reading(a, &st);
    if (rfd < 0)
        return -1;
    tail_info t;
    int rc = tail_read(rfd, st.st_size, &t);
    if (rc == TAIL_EIO)
        error("cannot read \"%s\": %s", a->o.file, strerror(errno));
    close(rfd);
    if (rc == TAIL_FOREIGN) {
        error("\"%s\" does not end like pgrepl-stream's output (a line that is not one of its own, or a last "
              "transaction without its \"nextlsn\"); not appending to it",
              a->o.file);
        hint("Write to another file.");
    }
    if (rc != 0)
        return -1;
    if (t.keep < st.st_size && ftruncate(a->fd, t.keep) != 0) {
        error("cannot cut off the end of \"%s\": %s", a->o.file, strerror(errno));
        return -1;
    }
    if (t.keep < st.st_size)
        report_cut(a, &t, st.st_size);
    if (a->needs_fsync && fsync(a->fd) != 0) {
        error("cannot fsync \"%s\": %s", a->o.file, strerror(errno));
        return -1;
    }
    if (t.resume == 0)
        return 0;
    a->pending_end = a->written_end = a->synced_end = a->acked = a->resumed = t.resume;
    if (t.resume > a->durable)
        a->durable = t.resume;
    if (a->o.verbose) {
        char lsn[PGREPL_LSN_BUFSIZE];
        pgrepl_lsn_format(t.resume, lsn);
        info("resuming after %s, the end of the last transaction in \"%s\"", lsn, a->o.file);
    }
    return 0;
}

static void ack(app *a, pgrepl_lsn lsn, pgrepl_timestamp t)
{
    if (lsn <= a->acked || a->s == NULL)
        return;
    a->acked = lsn;
    a->acked_time = t;
    pgrepl_stream_ack(a->s, lsn);
}

/*
 * Everything written so far is out (fsynced; written for a terminal or with
 * -F 0): acknowledge it, unless the file was deleted meanwhile and the lines
 * went with it.
 */
static int synced(app *a)
{
    struct stat st;
    if (a->kind == OUT_FILE && fstat(a->fd, &st) != 0) {
        a->out_failed = true;
        fail(a, "cannot inspect %s: %s", out_name(a), strerror(errno));
        return -1;
    }
    if (a->kind == OUT_FILE && st.st_nlink == 0) {
        a->out_failed = true;
        fail(a, "%s was deleted while being written: what went into it since is not acknowledged", out_name(a));
        hint("Run again: the slot resumes after what was acknowledged.");
        return -1;
    }
    a->unsynced = 0;
    a->synced_end = a->written_end;
    a->synced_time = a->written_time;
    ack(a, a->synced_end, a->synced_time);
    return 0;
}

static int sync_output(app *a)
{
    if (a->out_failed)
        return -1;
    if (a->unsynced > 0 && fsync(a->fd) != 0) {
        a->out_failed = true;
        fail(a, "cannot fsync \"%s\": %s", a->o.file, strerror(errno));
        return -1;
    }
    if (a->unsynced > 0)
        a->fsyncs++;
    return synced(a);
}

/*
 * Bytes written that the reader of a pipe or socket has not taken; false
 * when that cannot be known. A Unix socket's peer that closes drops what it
 * had not read, and the count falls as if it had been read; the peer goes
 * (POLLHUP) before its data does, so a count is good only when the peer was
 * still there after it.
 */
static bool unread_bytes(const app *a, uint64_t *unread)
{
    int n;
    if (unread_ioctl(a, &n) != 0 || n < 0)
        return false;
    if (a->kind == OUT_SOCKET) {
        struct pollfd p = {.fd = a->fd, .events = POLLOUT};
        if (poll(&p, 1, 0) < 0 || (p.revents & (POLLHUP | POLLERR)) != 0)
            return false;
    }
    *unread = (uint64_t)n;
    return true;
}

/* Acknowledge the units whose every byte the reader has taken. */
static void check_reader(app *a)
{
    uint64_t unread;
    if (!unread_bytes(a, &unread)) {
        uv_timer_stop(&a->reader);
        return;
    }
    uint64_t taken = a->bytes_out > unread ? a->bytes_out - unread : 0;
    const unit_mark *last = NULL;
    while (a->marks_head < a->marks_n && a->marks[a->marks_head].end <= taken)
        last = &a->marks[a->marks_head++];
    if (last != NULL)
        ack(a, last->lsn, last->time);
    if (a->marks_head == a->marks_n) {
        a->marks_head = a->marks_n = 0;
        uv_timer_stop(&a->reader);
    }
}

static void on_reader(uv_timer_t *h)
{
    check_reader(h->data);
}

/* A pipe or socket: remember where a unit ends, to acknowledge it once read. */
static int add_mark(app *a, pgrepl_lsn lsn, pgrepl_timestamp t)
{
    if (a->marks_n == a->marks_cap && a->marks_head > 0) {
        memmove(a->marks, a->marks + a->marks_head, (a->marks_n - a->marks_head) * sizeof *a->marks);
        a->marks_n -= a->marks_head;
        a->marks_head = 0;
    }
    if (a->marks_n == a->marks_cap) {
        size_t cap = a->marks_cap ? a->marks_cap * 2 : 256;
        unit_mark *m = realloc(a->marks, cap * sizeof *m);
        if (m == NULL)
            return -1;
        a->marks = m;
        a->marks_cap = cap;
    }
    a->marks[a->marks_n++] = (unit_mark){a->bytes_out + jl_len(a->w) - a->out_off, lsn, t};
    return 0;
}

static void on_writable(uv_poll_t *h, int status, int events);

/* The pipe or socket is full: wait until it takes more, reading nothing from the server meanwhile. */
static void output_blocked(app *a)
{
    a->blocked = true;
    int rc = uv_poll_start(&a->writable, UV_WRITABLE, on_writable);
    if (rc != 0) {
        a->out_failed = true;
        fail(a, "cannot wait for %s to take more: %s", out_name(a), uv_strerror(rc));
        return;
    }
    if (a->s != NULL)
        pgrepl_stream_pause(a->s);
}

/*
 * Write out the buffered lines; then what they complete may be acknowledged.
 * A full pipe or socket is no error: the rest waits for on_writable.
 */
static int write_output(app *a)
{
    if (a->out_failed)
        return -1;
    if (a->blocked)
        return 0;
    size_t n = jl_len(a->w) - a->out_off;
    while (n > 0) {
        ssize_t k = write(a->fd, jl_data(a->w) + a->out_off, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && a->polled)
            break;
        if (k < 0) {
            a->out_failed = true;
            fail(a, "cannot write to %s: %s", out_name(a), strerror(errno));
            return -1;
        }
        n -= (size_t)k;
        a->out_off += (size_t)k;
        a->unsynced += (size_t)k;
        a->bytes_out += (uint64_t)k;
    }
    /* a terminal holds what was written; a file waits for its fsync, a pipe or socket for its reader */
    if (watches_reader(a) && a->marks_head < a->marks_n && !uv_is_active((uv_handle_t *)&a->reader))
        uv_timer_start(&a->reader, on_reader, READER_CHECK_MS, READER_CHECK_MS);
    if (n > 0) {
        output_blocked(a);
        return 0;
    }
    jl_clear(a->w);
    a->out_off = 0;
    a->unit_mark = 0;
    a->written_end = a->pending_end;
    a->written_time = a->pending_time;
    if (!watches_reader(a) && (!a->needs_fsync || a->unsynced == 0))
        return synced(a);
    return 0;
}

static void on_writable(uv_poll_t *h, int status, int events)
{
    (void)events;
    app *a = h->data;
    uv_poll_stop(h);
    a->blocked = false;
    /* an error (the reader went) shows as the write's own errno */
    if (write_output(a) != 0)
        return;
    if (status < 0) {
        a->out_failed = true;
        fail(a, "cannot write to %s: %s", out_name(a), uv_strerror(status));
        return;
    }
    if (!a->blocked && a->s != NULL)
        pgrepl_stream_resume(a->s);
}

/*
 * A pipe or socket is written without blocking, watched for room by a poll
 * handle. Its flags are put back at exit: a shell's pipe may be shared.
 */
static int watch_writable(app *a)
{
    int flags = fcntl(a->fd, F_GETFL);
    if (flags < 0 || fcntl(a->fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        error("cannot make %s non-blocking: %s", out_name(a), strerror(errno));
        return -1;
    }
    a->fd_flags = flags;
    int rc = uv_poll_init(&a->loop, &a->writable, a->fd);
    if (rc != 0) {
        error("cannot watch %s: %s", out_name(a), uv_strerror(rc));
        return -1;
    }
    a->writable.data = a;
    a->nhandles++;
    a->polled = true;
    return 0;
}

static void on_flusher(uv_prepare_t *h)
{
    app *a = h->data;
    if (jl_len(a->w) > 0 || a->pending_end > a->written_end)
        write_output(a);
}

static void on_syncer(uv_timer_t *h)
{
    app *a = h->data;
    if (write_output(a) == 0)
        sync_output(a);
}

/* A unit (transaction, prepared transaction, message) ended at end: ackable once out. */
static void unit_end(app *a, pgrepl_lsn end, pgrepl_timestamp t)
{
    if (end > a->pending_end) {
        a->pending_end = end;
        a->pending_time = t;
    }
    a->unit_mark = jl_len(a->w);
    if (watches_reader(a) && add_mark(a, end, t) != 0)
        fail(a, "out of memory");
}

/* ---- metrics and status lines ---------------------------------------------- */

/* The server's WAL end minus what it holds as confirmed: what a restart would send again. */
static pgrepl_lsn lag_bytes(const app *a)
{
    return a->confirmed != 0 && a->server_end > a->confirmed ? a->server_end - a->confirmed : 0;
}

static double lag_seconds(const app *a)
{
    if (lag_bytes(a) == 0 || a->acked_time == 0)
        return 0;
    double lag = unix_now() - pg_to_unix(a->acked_time);
    return lag > 0 ? lag : 0;
}

static void metric(FILE *f, const char *name, const char *type, const char *help_text, double value)
{
    fprintf(f, "# HELP pgrepl_stream_%s %s\n# TYPE pgrepl_stream_%s %s\npgrepl_stream_%s %.17g\n", name, help_text,
            name, type, name, value);
}

/* Prometheus text format; the file is replaced whole (replace_file.h). */
static void write_metrics(app *a)
{
    if (a->o.metrics_file == NULL)
        return;
    const jl_stats *st = jl_get_stats(a->w);
    replace_file rf;
    FILE *f = replace_file_begin(&rf, a->o.metrics_file);
    if (f == NULL) {
        warning("cannot write metrics to \"%s\": %s%s%s", a->o.metrics_file, rf.why, rf.err ? ": " : "",
                rf.err ? strerror(rf.err) : "");
        return;
    }
    pgrepl_lsn received = a->s ? pgrepl_stream_received_lsn(a->s) : 0;
    metric(f, "lines_total", "counter", "JSON lines printed.", (double)st->lines);
    metric(f, "changes_total", "counter", "Row changes printed (I, U, D and T lines).", (double)st->changes);
    metric(f, "transactions_total", "counter", "Transactions printed (C and K lines).", (double)st->transactions);
    metric(f, "messages_total", "counter", "Logical decoding messages printed (M lines).", (double)st->messages);
    metric(f, "output_bytes_total", "counter", "Bytes written to the output.", (double)a->bytes_out);
    metric(f, "fsyncs_total", "counter", "fsync calls on the output file.", (double)a->fsyncs);
    metric(f, "reconnects_total", "counter", "Reconnections after a lost connection.", (double)a->reconnects);
    metric(f, "received_lsn_bytes", "gauge", "Highest WAL position received.", (double)received);
    metric(f, "acknowledged_lsn_bytes", "gauge",
           "WAL position the server holds as confirmed (the slot's at the start, then each status update's).",
           (double)a->confirmed);
    metric(f, "server_lsn_bytes", "gauge", "Highest WAL end the server reported.", (double)a->server_end);
    metric(f, "lag_bytes", "gauge", "Server WAL end minus the confirmed position.", (double)lag_bytes(a));
    metric(f, "lag_seconds", "gauge", "Age of the last acknowledged commit while behind.", lag_seconds(a));
    metric(f, "start_time_seconds", "gauge", "Start time (Unix seconds).", a->start_unix);
    int64_t hb_lag = a->s ? pgrepl_stream_heartbeat_lag_us(a->s) : -1;
    if (hb_lag >= 0)
        metric(f, "heartbeat_lag_seconds", "gauge", "Emit to seen of the last heartbeat the stream saw.",
               (double)hb_lag / 1e6);
    if (replace_file_commit(&rf) != 0)
        warning("cannot write metrics to \"%s\": %s%s%s", a->o.metrics_file, rf.why, rf.err ? ": " : "",
                rf.err ? strerror(rf.err) : "");
}

static void status_line(app *a)
{
    uint64_t now = uv_now(&a->loop);
    uint64_t changes = jl_get_stats(a->w)->changes;
    double secs = (double)(now - a->last_tick_ms) / 1000.0;
    double rate = secs > 0 ? (double)(changes - a->last_changes) / secs : 0;
    a->last_tick_ms = now;
    a->last_changes = changes;
    char received[PGREPL_LSN_BUFSIZE], acked[PGREPL_LSN_BUFSIZE];
    pgrepl_lsn_format(a->s ? pgrepl_stream_received_lsn(a->s) : 0, received);
    pgrepl_lsn_format(a->confirmed, acked);
    char hb[32] = "-";
    int64_t hb_lag = a->s ? pgrepl_stream_heartbeat_lag_us(a->s) : -1;
    if (hb_lag >= 0)
        snprintf(hb, sizeof hb, "%.3f s", (double)hb_lag / 1e6);
    info("received %s, acknowledged %s, lag %llu bytes %.1f s, %.1f changes/s, heartbeat lag %s", received, acked,
         (unsigned long long)lag_bytes(a), lag_seconds(a), rate, hb);
}

static void on_tick(uv_timer_t *h)
{
    app *a = h->data;
    if (a->o.verbose)
        status_line(a);
    write_metrics(a);
}

/* ---- stopping ---------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
    app *a = h->data;
    a->nhandles--;
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, on_handle_closed);
}

static void on_stream_closed(pgrepl_stream *s)
{
    app *a = pgrepl_stream_get_data(s);
    a->s = NULL;
    close_handle((uv_handle_t *)&a->sigint);
    close_handle((uv_handle_t *)&a->sigterm);
    close_handle((uv_handle_t *)&a->sighup);
    close_handle((uv_handle_t *)&a->tick);
    close_handle((uv_handle_t *)&a->syncer);
    close_handle((uv_handle_t *)&a->retry);
    close_handle((uv_handle_t *)&a->reader);
    close_handle((uv_handle_t *)&a->flusher);
    if (a->polled)
        close_handle((uv_handle_t *)&a->writable);
}

static void close_all(app *a)
{
    if (a->closing)
        return;
    a->closing = true;
    write_metrics(a);
    pgrepl_stream_close(a->s, on_stream_closed);
}

static void on_stop_deadline(uv_timer_t *h)
{
    app *a = h->data;
    error("the server did not end the stream within %d s; closing the connection", STOP_DEADLINE_MS / 1000);
    a->exit_code = 1;
    close_all(a);
}

/*
 * Stop with exit status code: write and fsync what is rendered, acknowledge
 * what is safe (for a pipe or socket, what the reader took), then a graceful
 * stop sends the final status update before closing.
 */
static void finish(app *a, int code)
{
    if (a->stopping) {
        if (code > a->exit_code)
            a->exit_code = code;
        return;
    }
    a->stopping = true;
    a->exit_code = code;
    if (write_output(a) == 0 && a->needs_fsync)
        sync_output(a);
    if (watches_reader(a))
        check_reader(a);
    if (pgrepl_stream_get_state(a->s) == PGREPL_STREAM_STOPPED) {
        close_all(a);
        return;
    }
    pgrepl_stream_stop_replication(a->s);
    uv_timer_stop(&a->retry);
    uv_timer_start(&a->retry, on_stop_deadline, STOP_DEADLINE_MS, 0);
}

static void fail(app *a, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    error("%s", msg);
    finish(a, 1);
}

static void on_signal(uv_signal_t *h, int signum)
{
    app *a = h->data;
    if (signum == SIGHUP) {
        if (strcmp(a->o.file, "-") == 0 || a->stopping)
            return;
        if (a->kind != OUT_FILE) {
            warning("SIGHUP ignored: \"%s\" is not a regular file", a->o.file);
            return;
        }
        /* log rotation: everything goes to the old file, then the path is opened again */
        if (write_output(a) != 0 || sync_output(a) != 0)
            return;
        close(a->fd);
        if (open_output(a) != 0 || a->kind != OUT_FILE) {
            if (a->kind != OUT_FILE)
                error("\"%s\" is no longer a regular file; not writing to it", a->o.file);
            a->out_failed = true;
            finish(a, 1);
        }
        return;
    }
    if (!a->stopping) {
        if (a->o.verbose)
            info("stopping (%s)", signum == SIGINT ? "SIGINT" : "SIGTERM");
        finish(a, 0);
        return;
    }
    error("interrupted again; closing without waiting for the server");
    a->exit_code = 1;
    close_all(a);
}

/* ---- --endpos ---------------------------------------------------------------- */

static bool streams_has(const app *a, uint32_t xid)
{
    for (int i = 0; i < a->nstreams; i++)
        if (a->streams[i] == xid)
            return true;
    return false;
}

static int streams_add(app *a, uint32_t xid)
{
    if (streams_has(a, xid))
        return 0;
    if (a->nstreams == a->streams_cap) {
        int cap = a->streams_cap ? a->streams_cap * 2 : 8;
        uint32_t *p = realloc(a->streams, (size_t)cap * sizeof *p);
        if (p == NULL)
            return -1;
        a->streams = p;
        a->streams_cap = cap;
    }
    a->streams[a->nstreams++] = xid;
    return 0;
}

static void streams_remove(app *a, uint32_t xid)
{
    for (int i = 0; i < a->nstreams; i++) {
        if (a->streams[i] == xid) {
            a->streams[i] = a->streams[--a->nstreams];
            return;
        }
    }
}

/* True (and the program ends) when a unit at lsn lies at or past --endpos. */
static bool past_endpos(app *a, pgrepl_lsn lsn)
{
    if (!a->o.has_endpos || lsn < a->o.endpos)
        return false;
    if (a->o.verbose) {
        char end[PGREPL_LSN_BUFSIZE];
        pgrepl_lsn_format(a->o.endpos, end);
        info("end position %s reached", end);
    }
    finish(a, 0);
    return true;
}

/* ---- decoder callbacks ------------------------------------------------------- */

/* After rendering: a failure ends the program; a full buffer is written now. */
static int rendered(app *a, int rc)
{
    if (rc != 0) {
        fail(a, "%s", jl_errmsg(a->w));
        if (rc != PGREPL_ENOMEM)
            hint("Run without --binary: text mode prints every type.");
        return 0;
    }
    if (jl_len(a->w) >= FLUSH_AT)
        write_output(a);
    return 0;
}

/* rendered() for the line that ends a unit: the unit's end is noted once the line is in the buffer. */
static int unit_rendered(app *a, int rc, pgrepl_lsn end, pgrepl_timestamp t)
{
    if (rc == 0)
        unit_end(a, end, t);
    return rendered(a, rc);
}

static int cb_begin(void *ud, const pgrepl_msg_begin *m)
{
    app *a = ud;
    if (a->stopping || past_endpos(a, m->final_lsn))
        return 0;
    return rendered(a, jl_begin(a->w, m));
}

static int cb_commit(void *ud, const pgrepl_msg_commit *m)
{
    app *a = ud;
    if (a->stopping)
        return 0;
    return unit_rendered(a, jl_commit(a->w, m), m->end_lsn, m->commit_time);
}

static int cb_relation(void *ud, const pgrepl_relation *rel)
{
    app *a = ud;
    return a->stopping ? 0 : rendered(a, jl_relation(a->w, rel));
}

static int cb_insert(void *ud, const pgrepl_msg_change *m)
{
    app *a = ud;
    return a->stopping ? 0 : rendered(a, jl_change(a->w, 'I', m));
}

static int cb_update(void *ud, const pgrepl_msg_change *m)
{
    app *a = ud;
    return a->stopping ? 0 : rendered(a, jl_change(a->w, 'U', m));
}

static int cb_delete(void *ud, const pgrepl_msg_change *m)
{
    app *a = ud;
    return a->stopping ? 0 : rendered(a, jl_change(a->w, 'D', m));
}

static int cb_truncate(void *ud, const pgrepl_msg_truncate *m)
{
    app *a = ud;
    return a->stopping ? 0 : rendered(a, jl_truncate(a->w, m));
}

static int cb_message(void *ud, const pgrepl_msg_logical *m)
{
    app *a = ud;
    if (a->stopping || (!m->transactional && past_endpos(a, m->lsn)))
        return 0;
    int rc = jl_message(a->w, m);
    return m->transactional ? rendered(a, rc) : unit_rendered(a, rc, m->lsn, 0);
}

static int cb_stream_start(void *ud, const pgrepl_msg_stream_start *m)
{
    app *a = ud;
    if (a->stopping)
        return 0;
    if (streams_add(a, m->xid) != 0) {
        fail(a, "out of memory");
        return 0;
    }
    return rendered(a, jl_stream_start(a->w, m));
}

static int cb_stream_stop(void *ud, const pgrepl_msg_stream_stop *m)
{
    app *a = ud;
    return a->stopping ? 0 : rendered(a, jl_stream_stop(a->w, m));
}

static int cb_stream_commit(void *ud, const pgrepl_msg_commit *m)
{
    app *a = ud;
    if (a->stopping || past_endpos(a, m->commit_lsn))
        return 0;
    streams_remove(a, m->xid);
    return unit_rendered(a, jl_stream_commit(a->w, m), m->end_lsn, m->commit_time);
}

static int cb_stream_abort(void *ud, const pgrepl_msg_stream_abort *m)
{
    app *a = ud;
    if (a->stopping)
        return 0;
    if (m->xid == m->subxid)
        streams_remove(a, m->xid);
    return rendered(a, jl_stream_abort(a->w, m));
}

static int cb_begin_prepare(void *ud, const pgrepl_msg_prepare *m)
{
    app *a = ud;
    if (a->stopping || past_endpos(a, m->prepare_lsn))
        return 0;
    return rendered(a, jl_begin_prepare(a->w, m));
}

static int cb_prepare(void *ud, const pgrepl_msg_prepare *m)
{
    app *a = ud;
    if (a->stopping)
        return 0;
    return unit_rendered(a, jl_prepare(a->w, m), m->end_lsn, m->prepare_time);
}

static int cb_stream_prepare(void *ud, const pgrepl_msg_prepare *m)
{
    app *a = ud;
    if (a->stopping || past_endpos(a, m->prepare_lsn))
        return 0;
    streams_remove(a, m->xid);
    return unit_rendered(a, jl_stream_prepare(a->w, m), m->end_lsn, m->prepare_time);
}

static int cb_commit_prepared(void *ud, const pgrepl_msg_commit_prepared *m)
{
    app *a = ud;
    if (a->stopping || past_endpos(a, m->commit_lsn))
        return 0;
    return unit_rendered(a, jl_commit_prepared(a->w, m), m->end_lsn, m->commit_time);
}

static int cb_rollback_prepared(void *ud, const pgrepl_msg_rollback_prepared *m)
{
    app *a = ud;
    /* its record's start is not sent: it is past LSN when it ends after LSN */
    if (a->stopping || past_endpos(a, m->rollback_end_lsn > 0 ? m->rollback_end_lsn - 1 : 0))
        return 0;
    return unit_rendered(a, jl_rollback_prepared(a->w, m), m->rollback_end_lsn, m->rollback_time);
}

static const pgrepl_decoder_callbacks decoder_callbacks = {
    .on_begin = cb_begin,
    .on_commit = cb_commit,
    .on_relation = cb_relation,
    .on_insert = cb_insert,
    .on_update = cb_update,
    .on_delete = cb_delete,
    .on_truncate = cb_truncate,
    .on_message = cb_message,
    .on_stream_start = cb_stream_start,
    .on_stream_stop = cb_stream_stop,
    .on_stream_commit = cb_stream_commit,
    .on_stream_abort = cb_stream_abort,
    .on_begin_prepare = cb_begin_prepare,
    .on_prepare = cb_prepare,
    .on_commit_prepared = cb_commit_prepared,
    .on_rollback_prepared = cb_rollback_prepared,
    .on_stream_prepare = cb_stream_prepare,
};

/* ---- stream callbacks -------------------------------------------------------- */

static void on_state(pgrepl_stream *s, pgrepl_stream_state state)
{
    app *a = pgrepl_stream_get_data(s);
    if (state == PGREPL_STREAM_STREAMING && a->reconnecting)
        info("reconnected; streaming from slot \"%s\" again", a->o.slot);
    if (state == PGREPL_STREAM_STREAMING)
        a->reconnecting = false;
    if (state == PGREPL_STREAM_STREAMING && a->o.verbose)
        info("streaming from slot \"%s\" (server %d, protocol %d)", a->o.slot, pgrepl_stream_server_version(s),
             pgrepl_stream_proto_version(s));
    if (state == PGREPL_STREAM_STOPPED && a->stopping)
        close_all(a);
}

static void on_notice(pgrepl_stream *s, const pgrepl_server_message *n)
{
    app *a = pgrepl_stream_get_data(s);
    if (strcmp(n->severity, "WARNING") == 0)
        warning("%s", n->message);
    else if (a->o.verbose)
        info("%s: %s", n->severity, n->message);
}

static void on_keepalive(pgrepl_stream *s, pgrepl_lsn wal_end, pgrepl_timestamp send_time, bool reply)
{
    (void)send_time;
    (void)reply;
    app *a = pgrepl_stream_get_data(s);
    if (wal_end > a->server_end)
        a->server_end = wal_end;
    /* the server is past --endpos and nothing is open: every transaction before it was printed */
    if (!a->stopping && !jl_in_transaction(a->w) && a->nstreams == 0)
        past_endpos(a, wal_end);
}

/* A hint for errors people run into, keyed by SQLSTATE and message. */
static const char *hint_for(const pgrepl_error *err)
{
    const char *state = err->server ? err->server->sqlstate : "";
    const char *msg = err->message ? err->message : "";
    /* a publication dropped under the slot: the library's hint says what can be done */
    if (strcmp(state, "42704") == 0 && strstr(msg, "publication") != NULL && strstr(msg, "was dropped") == NULL)
        return "Create it with CREATE PUBLICATION name FOR ALL TABLES (or FOR TABLE ...).";
    if (strcmp(state, "42704") == 0 && strstr(msg, "replication slot \"") != NULL)
        return "Create the slot with --create-slot, or list slots: SELECT slot_name FROM pg_replication_slots.";
    if (strcmp(state, "42710") == 0)
        return "Add --if-not-exists to use the existing slot.";
    if (strcmp(state, "55006") == 0)
        return "Another process is using this slot.";
    if (err->code == PGREPL_EGAP)
        return "A --temporary slot loses the changes of an outage; another consumer on the slot takes changes "
               "from this one; a recreated slot starts later. Use --allow-gap to go on regardless.";
    if (strstr(msg, "wal_level") != NULL)
        return "Set wal_level = logical in postgresql.conf and restart the server.";
    if (err->code == PGREPL_ECONNECT && strstr(msg, "password") != NULL)
        return "Give the password with -W, PGPASSWORD or ~/.pgpass.";
    if (err->code == PGREPL_ECONNECT && (strstr(msg, "No such file") != NULL || strstr(msg, "refused") != NULL))
        return "Is the server running, and are -h/-p (or the connection string) right?";
    return NULL;
}

/* A failure the library retries (a server restart, a lost connection) is a warning: the program goes on. */
static void report(const app *a, const pgrepl_error *err)
{
    if (err->retrying)
        warning("%s", err->message);
    else
        error("%s", err->message);
    if (err->server != NULL && err->server->detail[0] != '\0')
        cli_say("detail", "%s", err->server->detail);
    /* the durable position the library names is the file's, when it came from there */
    if (err->code == PGREPL_EINVAL && a->resumed > a->o.startpos && strstr(err->message, "durable position") != NULL)
        cli_say("detail", "that is where the last transaction in \"%s\" ends", a->o.file);
    const char *h = err->server != NULL && err->server->hint[0] != '\0' ? err->server->hint : hint_for(err);
    if (h == NULL)
        h = err->hint;
    if (h != NULL)
        hint("%s", h);
}

static void restart(app *a);
static int queue_create(app *a);

/*
 * After losing the connection: write the whole units rendered, drop the
 * partial one (the server sends it again) but for the rest of a line partly
 * written already, forget relations and streams.
 */
static void prepare_reconnect(app *a)
{
    size_t keep = a->unit_mark;
    if (a->out_off > keep) {
        const char *d = jl_data(a->w);
        const char *nl = memchr(d + a->out_off - 1, '\n', jl_len(a->w) - a->out_off + 1);
        keep = nl != NULL ? (size_t)(nl - d) + 1 : jl_len(a->w);
    }
    jl_rewind(a->w, keep);
    write_output(a);
    jl_reset(a->w);
    a->nstreams = 0;
}

static bool wants_password(const app *a, const pgrepl_error *err)
{
    return err->code == PGREPL_ECONNECT && a->o.password == CLI_PW_IF_NEEDED && !a->prompted &&
           strstr(err->message, "no password supplied") != NULL;
}

/* A heartbeat problem: the stream goes on. */
static void on_warning(pgrepl_stream *s, const pgrepl_error *err)
{
    (void)s;
    warning("%s", err->message);
}

static void on_error(pgrepl_stream *s, const pgrepl_error *err)
{
    app *a = pgrepl_stream_get_data(s);
    if (a->stopping) {
        /* the output is complete; the server may not have had the final status update */
        warning("while stopping: %s", err->message);
        close_all(a);
        return;
    }
    if (wants_password(a, err)) {
        a->prompted = true;
        free(a->password);
        a->password = cli_prompt_password();
        if (a->password != NULL) {
            restart(a);
            return;
        }
    }
    report(a, err);
    if (!err->retrying) {
        finish(a, 1);
        return;
    }
    /* the library reconnects: resume after the whole units kept (a full pipe takes them later), and a
       temporary slot is needed again */
    prepare_reconnect(a);
    int rc = pgrepl_stream_set_start_lsn(s, a->pending_end);
    if (rc == 0)
        rc = queue_create(a);
    if (rc != 0) {
        fail(a, "cannot reconnect: %s", pgrepl_strerror(rc));
        return;
    }
    info("reconnecting in %.1f s (attempt %u)", (double)err->retry_in_ms / 1000.0, err->attempt);
    a->reconnects++;
    a->reconnecting = true;
}

/* Before each START_REPLICATION: say where the slot is when it is ahead of what this program printed. */
static void on_start(pgrepl_stream *s, const pgrepl_start_info *in)
{
    app *a = pgrepl_stream_get_data(s);
    if (in->connection == 1 && strcmp(pgrepl_stream_server_encoding(s), "SQL_ASCII") == 0)
        warning("database encoding is SQL_ASCII: the server does not check text, and bytes that are not valid "
                "UTF-8 are printed as U+FFFD");
    if (in->slot_confirmed > a->confirmed)
        a->confirmed = in->slot_confirmed;
    if (in->skipped_to == 0)
        return;
    char from[PGREPL_LSN_BUFSIZE], to[PGREPL_LSN_BUFSIZE];
    pgrepl_lsn_format(in->skipped_from, from);
    pgrepl_lsn_format(in->skipped_to, to);
    if (in->skip_certain && a->o.allow_gap)
        warning("slot \"%s\" was moved past what was printed: the changes from %s to %s are skipped (--allow-gap)",
                a->o.slot, from, to);
    else if (!in->skip_certain && (in->skipped_from != a->resumed || a->o.verbose))
        /* from the end of the file appended to, it is most often the former: said only with -v */
        cli_say(in->skipped_from != a->resumed ? "warning" : "",
                "slot \"%s\" has confirmed %s, beyond %s where this program was to start: either this program's "
                "own earlier run confirmed it while the publication was quiet, or the changes in between were "
                "consumed elsewhere",
                a->o.slot, to, from);
}

static void on_status_sent(pgrepl_stream *s, pgrepl_lsn write, pgrepl_lsn flush)
{
    (void)write;
    app *a = pgrepl_stream_get_data(s);
    if (flush > a->confirmed)
        a->confirmed = flush;
}

static const pgrepl_stream_callbacks stream_callbacks = {
    .on_state = on_state,
    .on_notice = on_notice,
    .on_error = on_error,
    .on_warning = on_warning,
    .on_keepalive = on_keepalive,
    .on_start = on_start,
    .on_status_sent = on_status_sent,
};

/* ---- slot commands ----------------------------------------------------------- */

/*
 * A slot command that did not run because closing canceled it, or because
 * the connection failed (on_error follows and decides), is not an error of
 * its own.
 */
static bool command_interrupted(const app *a, int status)
{
    return (status == PGREPL_ECANCELED && a->stopping) || pgrepl_err_is_fatal(status) == 0;
}

static void on_created(pgrepl_stream *s, int status, const pgrepl_slot_created *slot, void *arg)
{
    (void)arg;
    app *a = pgrepl_stream_get_data(s);
    a->create_queued = false;
    if (command_interrupted(a, status))
        return;
    if (status != 0) {
        error("cannot create slot \"%s\": %s", a->o.slot, pgrepl_stream_errmsg(s));
        const char *state = pgrepl_stream_sqlstate(s);
        if (strcmp(state, "42710") == 0)
            hint("Add --if-not-exists to use the existing slot.");
        else if (status == PGREPL_EUNSUPPORTED)
            hint("--two-phase needs PostgreSQL 15 or later.");
        finish(a, 1);
        return;
    }
    a->slot_created = true;
    if (!a->o.verbose)
        return;
    char lsn[PGREPL_LSN_BUFSIZE];
    pgrepl_lsn_format(slot->consistent_point, lsn);
    if (slot->created)
        info("created slot \"%s\" (consistent point %s)", slot->slot_name, lsn);
    else
        info("slot \"%s\" already exists", slot->slot_name);
}

static void on_dropped(pgrepl_stream *s, int status, void *arg)
{
    (void)arg;
    app *a = pgrepl_stream_get_data(s);
    a->drop_queued = false;
    if (command_interrupted(a, status))
        return;
    if (status != 0) {
        error("cannot drop slot \"%s\": %s", a->o.slot, pgrepl_stream_errmsg(s));
        if (strcmp(pgrepl_stream_sqlstate(s), "55006") == 0)
            hint("Stop the process that streams from it first.");
        finish(a, 1);
        return;
    }
    if (a->o.verbose)
        info("dropped slot \"%s\"", a->o.slot);
    finish(a, 0);
}

/* ---- setup ------------------------------------------------------------------- */

/* Everything but the connection string, once: the stream keeps it across reconnects. */
static int configure(app *a)
{
    const cli_options *o = &a->o;
    int rc = pgrepl_stream_set_slot(a->s, o->slot);
    for (int i = 0; rc == 0 && i < o->npubs; i++)
        rc = pgrepl_stream_add_publication(a->s, o->pubs[i]);
    if (rc == 0)
        rc = pgrepl_stream_set_proto_version(a->s, o->proto_version);
    if (rc == 0)
        rc = pgrepl_stream_set_binary(a->s, o->binary);
    if (rc == 0)
        rc = pgrepl_stream_set_messages(a->s, o->messages);
    if (rc == 0)
        rc = pgrepl_stream_set_streaming(a->s, o->streaming);
    if (rc == 0)
        rc = pgrepl_stream_set_two_phase(a->s, o->two_phase);
    if (rc == 0)
        rc = pgrepl_stream_set_origin(a->s, o->origin);
    if (rc == 0)
        rc = pgrepl_stream_set_status_interval(a->s, o->status_ms);
    if (rc == 0)
        rc = pgrepl_stream_set_heartbeat_interval(a->s, o->heartbeat_ms);
    if (rc == 0 && o->heartbeat_prefix != NULL)
        rc = pgrepl_stream_set_heartbeat_prefix(a->s, o->heartbeat_prefix);
    if (rc == 0)
        rc = o->no_loop ? pgrepl_stream_set_reconnect(a->s, 0, 0)
                        : pgrepl_stream_set_reconnect(a->s, o->retry_min_ms, o->retry_max_ms);
    if (rc == 0)
        rc = pgrepl_stream_set_connect_timeout(a->s, o->connect_timeout_ms);
    if (rc == 0)
        rc = pgrepl_stream_set_receive_timeout(a->s, o->receive_timeout_ms);
    if (rc == 0)
        rc = pgrepl_stream_set_allow_gaps(a->s, o->allow_gap);
    if (rc == 0 && o->read_pause_us >= 0)
        rc = pgrepl_stream_set_read_batch(a->s, o->read_pause_us > 0 ? PGREPL_READ_BATCH_BYTES : 0,
                                          (uint64_t)o->read_pause_us);
    if (rc == 0)
        rc = pgrepl_stream_set_callbacks(a->s, &decoder_callbacks, sizeof decoder_callbacks, &stream_callbacks,
                                         sizeof stream_callbacks);
    if (rc != 0) {
        error("cannot configure the stream: %s", pgrepl_strerror(rc));
        return -1;
    }
    return 0;
}

/* The connection string, before every connection: a password may have been asked for since. */
static int set_conninfo(app *a)
{
    free(a->conninfo);
    a->conninfo = cli_conninfo(&a->o, a->password);
    if (a->conninfo == NULL)
        return -1;
    if (pgrepl_stream_set_conninfo(a->s, a->conninfo) != 0) {
        error("invalid connection string: %s", pgrepl_stream_errmsg(a->s));
        return -1;
    }
    return 0;
}

/*
 * CREATE_REPLICATION_SLOT before streaming: once for --create-slot, at every
 * connection for --temporary (the slot goes with the connection). A command
 * the failed connection never ran stays queued for the next one.
 */
static int queue_create(app *a)
{
    if (a->create_queued || !(a->o.temporary || (a->o.create_slot && !a->slot_created)))
        return 0;
    unsigned flags = (a->o.temporary ? PGREPL_SLOT_TEMPORARY : 0) | (a->o.two_phase ? PGREPL_SLOT_TWO_PHASE : 0) |
                     (a->o.if_not_exists ? PGREPL_SLOT_IF_NOT_EXISTS : 0);
    int rc = pgrepl_stream_create_slot(a->s, a->o.slot, flags, PGREPL_SNAPSHOT_NOTHING, on_created, NULL);
    a->create_queued = rc == 0;
    return rc;
}

/* (Re)connect and stream after the last unit written (or found in the file), or from --startpos. */
static void start_streaming(app *a)
{
    if (a->stopping)
        return;
    if (set_conninfo(a) != 0) {
        finish(a, 1);
        return;
    }
    /* start after what is written or waits for a full pipe; only what is out (fsynced, read) is acknowledged */
    int rc = pgrepl_stream_set_start_lsn(a->s, a->pending_end);
    if (rc == 0 && a->durable > 0)
        rc = pgrepl_stream_set_durable_lsn(a->s, a->durable);
    if (rc == 0)
        rc = queue_create(a);
    if (rc == 0)
        rc = pgrepl_stream_start_replication(a->s);
    if (rc != 0)
        fail(a, "cannot start: %s", pgrepl_strerror(rc));
}

static void start_drop(app *a)
{
    if (set_conninfo(a) != 0) {
        finish(a, 1);
        return;
    }
    int rc = 0;
    if (!a->drop_queued)
        rc = pgrepl_stream_drop_slot(a->s, a->o.slot, false, on_dropped, NULL);
    a->drop_queued = rc == 0;
    if (rc == 0)
        rc = pgrepl_stream_connect(a->s);
    if (rc != 0)
        fail(a, "cannot connect: %s", pgrepl_strerror(rc));
}

/* Connect again for what the program does. */
static void restart(app *a)
{
    if (a->o.drop_slot)
        start_drop(a);
    else
        start_streaming(a);
}

static void init_handle(app *a, uv_handle_t *h)
{
    h->data = a;
    a->nhandles++;
}

/* Open the output, resume a file, and start the timers that write, fsync and report. */
static int setup_output(app *a)
{
    if (open_output(a) != 0 || (watches_reader(a) && watch_writable(a) != 0))
        return -1;
    if (a->o.has_startpos)
        a->durable = a->o.startpos;
    if (a->kind == OUT_FILE && strcmp(a->o.file, "-") != 0 && recover_file(a) != 0)
        return -1;
    uv_prepare_start(&a->flusher, on_flusher);
    uv_timer_start(&a->tick, on_tick, a->o.status_ms, a->o.status_ms);
    if (a->needs_fsync)
        uv_timer_start(&a->syncer, on_syncer, a->o.fsync_ms, a->o.fsync_ms);
    return 0;
}

static int init_app(app *a)
{
    a->w = jl_new();
    a->s = pgrepl_stream_new(&a->loop);
    if (a->w == NULL || a->s == NULL) {
        error("out of memory");
        return -1;
    }
    pgrepl_stream_set_data(a->s, a);
    uv_signal_init(&a->loop, &a->sigint);
    uv_signal_init(&a->loop, &a->sigterm);
    uv_signal_init(&a->loop, &a->sighup);
    uv_timer_init(&a->loop, &a->tick);
    uv_timer_init(&a->loop, &a->syncer);
    uv_timer_init(&a->loop, &a->retry);
    uv_timer_init(&a->loop, &a->reader);
    uv_prepare_init(&a->loop, &a->flusher);
    init_handle(a, (uv_handle_t *)&a->sigint);
    init_handle(a, (uv_handle_t *)&a->sigterm);
    init_handle(a, (uv_handle_t *)&a->sighup);
    init_handle(a, (uv_handle_t *)&a->tick);
    init_handle(a, (uv_handle_t *)&a->syncer);
    init_handle(a, (uv_handle_t *)&a->retry);
    init_handle(a, (uv_handle_t *)&a->reader);
    init_handle(a, (uv_handle_t *)&a->flusher);
    a->start_unix = unix_now();
    a->last_tick_ms = uv_now(&a->loop);
    if (configure(a) != 0)
        return -1;
    /* the signals are ours only once the output is open: opening a FIFO waits for its reader, and until then
       SIGINT and SIGTERM end the program as they would any other */
    if (!a->o.drop_slot && setup_output(a) != 0)
        return -1;
    uv_signal_start(&a->sigint, on_signal, SIGINT);
    uv_signal_start(&a->sigterm, on_signal, SIGTERM);
    uv_signal_start(&a->sighup, on_signal, SIGHUP);
    return 0;
}

static void free_app(app *a)
{
    jl_free(a->w);
    if (a->fd_flags >= 0)
        fcntl(a->fd, F_SETFL, a->fd_flags);
    if (a->fd > STDERR_FILENO)
        close(a->fd);
    free(a->conninfo);
    free(a->password);
    free(a->streams);
    free(a->marks);
    cli_free_options(&a->o);
}

/* Set up, run the loop until everything is closed, and tear down. */
static void run(app *a)
{
    if (uv_loop_init(&a->loop) != 0) {
        error("cannot initialise the event loop");
        a->exit_code = 1;
        return;
    }
    if (init_app(a) != 0) {
        a->exit_code = 1;
        /* the stream owns no handle yet, but is freed through its close callback */
        if (a->s != NULL && a->nhandles > 0)
            close_all(a);
        else if (a->s != NULL)
            pgrepl_stream_close(a->s, NULL);
    } else {
        restart(a);
    }
    uv_run(&a->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&a->loop) != 0)
        warning("event loop not empty at exit");
}

int main(int argc, char **argv)
{
    static app a;
    a.fd = -1;
    a.fd_flags = -1;
    int rc = cli_parse_options(&a.o, argc, argv);
    if (rc != 0) {
        free_app(&a);
        return rc > 0 ? 0 : 1;
    }
    /* a closed output is reported as a write error, not a silent death */
    signal(SIGPIPE, SIG_IGN);
    if (a.o.password == CLI_PW_ALWAYS) {
        a.password = cli_prompt_password();
        a.prompted = true;
    }
    run(&a);
    free_app(&a);
    return a.exit_code;
}
