/*
 * A model test of the acknowledgement promise, end to end: the real session
 * (include/pgrepl/session.h) on a fake clock against the in-process fake
 * walsender (tests/fakewal_core.h), with random interleavings.
 *
 * The model server: a fixed sequence of NTX transactions. Each replication
 * connection starts where a walsender would, at the later of the LSN
 * START_REPLICATION asks for and the last flush the server received (the
 * slot's confirmed position), and sends, from the first transaction ending
 * after it, a random number of transactions, with keepalives (walEnd: the
 * end of what it sent) and sleeps between them; then it closes. After
 * MAX_CONNS connections the last one sends everything left and stays,
 * sending keepalives. A connection may also end in a transaction's middle.
 *
 * The model application: it may hold a durable position from before
 * (pgrepl_session_set_durable_lsn), acknowledges each commit at once or
 * after a random delay, and pauses and resumes at random.
 *
 * Checked on the fake server's log, as each line arrives:
 *  1. no status update reports a flush beyond what the application
 *     acknowledged or held durably, or, by the idle rule, a keepalive's
 *     walEnd while every commit delivered was acknowledged;
 *  2. within a connection the reported flush never goes backwards;
 *  3. nothing is lost: a connection starts only past transactions the
 *     application acknowledged (or held), so every other one is sent again,
 *     and the application sees each connection's transactions in order from
 *     there, none skipped; at the end every transaction was delivered and
 *     the server's confirmed position is the last one's end;
 *  4. (the idle rule of 1) a keepalive's walEnd is confirmed only when
 *     nothing delivered is unacknowledged.
 *
 * SEEDS seeds of STEPS steps. PGREPL_MODEL_SEED=N replays seed N alone; a
 * failure names the seed and prints the fake server's log; PGREPL_MODEL_LOG=1
 * prints it for every seed.
 */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pgrepl/pgrepl.h"
#include "fakewal_core.h"
#include "testutil.h"

#define MS INT64_C(1000)
#define SEC INT64_C(1000000)
#define START_US (1000 * SEC)
#define SEEDS 500
#define STEPS 40
#define NTX 8
#define MAX_CONNS 5
#define MAX_PENDING 64
#define MAX_STEPS 1000000L
#define TX_BASE UINT64_C(0x1000000)
#define TX_SPAN UINT64_C(0x100)

/* Transaction i (0-based): Begin at its start, Commit ending at its end. */
static uint64_t tx_start(int i)
{
    return TX_BASE + (uint64_t)i * TX_SPAN;
}

static uint64_t tx_end(int i)
{
    return tx_start(i) + 0x30;
}

typedef struct pending {
    int64_t at;
    pgrepl_lsn lsn;
} pending;

typedef struct world {
    unsigned seed;
    uint64_t rng;
    int64_t now;
    /* the host */
    int fd[2];
    unsigned ev[2];
    int64_t due;
    pgrepl_session *s;
    /* the fake server */
    fakewal *fw;
    int ls;
    char path[128], conninfo[256];
    char block[1 << 14];
    /* the model server */
    pgrepl_lsn confirmed;  /* the highest flush received: where a walsender restarts */
    pgrepl_lsn conn_flush; /* the last flush of this connection */
    int conns;
    /* the model application */
    pgrepl_lsn durable;
    pgrepl_lsn acked;     /* the highest acknowledgement, or durable */
    pgrepl_lsn allowed;   /* the most any status update may have reported so far */
    pgrepl_lsn keepalive; /* the highest keepalive walEnd the session reported */
    bool delivered[NTX];
    int next_tx;              /* the transaction the application is to see next in this connection */
    pgrepl_lsn delivered_max; /* the highest commit end delivered */
    pending pend[MAX_PENDING];
    int npend;
    bool paused;
    bool closed;
    char failure[512];
} world;

static uint32_t rnd(world *w)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return (uint32_t)(w->rng >> 11);
}

/* True with probability percent / 100. */
static bool chance(world *w, unsigned percent)
{
    return rnd(w) % 100 < percent;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void model_fail(world *w, const char *fmt, ...)
{
    if (w->failure[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->failure, sizeof w->failure, fmt, ap);
    va_end(ap);
}

/*
 * What a status update may report: what was acknowledged, or by the idle
 * rule, with every delivered commit acknowledged, a keepalive's walEnd. Kept
 * as the highest it has been: the server reads an update a little after the
 * session sent it.
 */
static void note_allowed(world *w)
{
    pgrepl_lsn a = w->acked;
    if (w->delivered_max <= w->acked && w->keepalive > a)
        a = w->keepalive;
    if (a > w->allowed)
        w->allowed = a;
}

/* ---- the host ---------------------------------------------------------------------------------------- */

static int h_watch(void *arg, int fd, unsigned events)
{
    world *w = arg;
    int slot = -1;
    for (int i = 0; i < 2; i++)
        if (w->fd[i] == fd)
            slot = i;
    if (events == 0) {
        if (slot >= 0)
            w->fd[slot] = -1;
        return 0;
    }
    for (int i = 0; slot < 0 && i < 2; i++)
        if (w->fd[i] < 0)
            slot = i;
    ck_assert_msg(slot >= 0, "the session watches a third socket");
    w->fd[slot] = fd;
    w->ev[slot] = events;
    return 0;
}

static int h_timer(void *arg, int64_t timeout_us)
{
    world *w = arg;
    w->due = timeout_us < 0 ? -1 : w->now + timeout_us;
    return 0;
}

static int64_t h_now(void *arg)
{
    return ((world *)arg)->now;
}

static int64_t earliest(int64_t a, int64_t b)
{
    return a < 0 || (b >= 0 && b < a) ? b : a;
}

/* One readiness or deadline delivered, else the clock moves to the earliest deadline (test_session.c's step). */
static bool step(world *w, int64_t limit)
{
    struct pollfd fds[32];
    int ns = 0;
    for (int i = 0; !w->closed && i < 2; i++)
        if (w->fd[i] >= 0)
            fds[ns++] = (struct pollfd){.fd = w->fd[i],
                                        .events = (short)(((w->ev[i] & PGREPL_IO_READ) ? POLLIN : 0) |
                                                          ((w->ev[i] & PGREPL_IO_WRITE) ? POLLOUT : 0))};
    int n = ns + fakewal_fds(w->fw, fds + ns, 32 - ns);
    ck_assert_int_le(n, 32);
    ck_assert_int_ge(poll(fds, (nfds_t)n, 0), 0);
    int first = n > 0 ? (int)(rnd(w) % (unsigned)n) : 0;
    for (int k = 0; k < n; k++) {
        int i = (first + k) % n;
        short re = fds[i].revents;
        if (re == 0)
            continue;
        if (i < ns) {
            unsigned ev = ((re & (POLLIN | POLLHUP)) ? PGREPL_IO_READ : 0u) | ((re & POLLOUT) ? PGREPL_IO_WRITE : 0u);
            if (re & (POLLERR | POLLNVAL))
                ev |= PGREPL_IO_ERROR;
            ck_assert_int_eq(pgrepl_session_io(w->s, fds[i].fd, ev), 0);
        } else {
            fakewal_io(w->fw, fds[i].fd, re);
        }
        return true;
    }
    if (!w->closed && w->due >= 0 && w->due <= w->now) {
        w->due = -1;
        ck_assert_int_eq(pgrepl_session_timeout(w->s), 0);
        return true;
    }
    int64_t fake_due = fakewal_due(w->fw);
    if (fake_due >= 0 && fake_due <= w->now) {
        fakewal_timeout(w->fw);
        return true;
    }
    int64_t next = earliest(w->closed ? -1 : w->due, fake_due);
    if (next < 0 || next > limit)
        return false;
    w->now = next;
    return true;
}

/* ---- the model application --------------------------------------------------------------------------- */

static void ack(world *w, pgrepl_lsn lsn)
{
    ck_assert_int_eq(pgrepl_session_ack(w->s, lsn), 0);
    if (lsn > w->acked)
        w->acked = lsn;
    note_allowed(w);
}

static int on_commit(void *ud, const pgrepl_msg_commit *m)
{
    world *w = ud;
    int i = (int)((m->end_lsn - TX_BASE) / TX_SPAN);
    if (i < 0 || i >= NTX || m->end_lsn != tx_end(i))
        model_fail(w, "commit ending at %llx is no transaction of the model", (unsigned long long)m->end_lsn);
    else if (i != w->next_tx)
        model_fail(w, "connection %d delivers transaction %d where %d comes next", w->conns, i, w->next_tx);
    else
        w->delivered[i] = true;
    w->next_tx = i + 1;
    if (m->end_lsn > w->delivered_max)
        w->delivered_max = m->end_lsn;
    if (chance(w, 40) || w->npend == MAX_PENDING)
        ack(w, m->end_lsn);
    else
        w->pend[w->npend++] = (pending){w->now + (int64_t)(rnd(w) % 3000) * MS, m->end_lsn};
    note_allowed(w);
    return 0;
}

static void on_keepalive(pgrepl_session *s, pgrepl_lsn wal_end, pgrepl_timestamp send_time, bool reply_requested)
{
    world *w = pgrepl_session_get_data(s);
    (void)send_time;
    (void)reply_requested;
    if (wal_end > w->keepalive)
        w->keepalive = wal_end;
    note_allowed(w);
}

static void on_error(pgrepl_session *s, const pgrepl_error *err)
{
    world *w = pgrepl_session_get_data(s);
    /* the server closing a connection is the only error the model makes */
    if (err->code != PGREPL_ECONNLOST || err->fatal || !err->retrying)
        model_fail(w, "error %s: %s", pgrepl_err_name(err->code), err->message);
}

static void close_cb(pgrepl_session *s)
{
    world *w = pgrepl_session_get_data(s);
    w->closed = true;
}

/* Acknowledgements whose delay is over, in the order they came. */
static void due_acks(world *w)
{
    int k = 0;
    for (int i = 0; i < w->npend; i++) {
        if (w->pend[i].at <= w->now)
            ack(w, w->pend[i].lsn);
        else
            w->pend[k++] = w->pend[i];
    }
    w->npend = k;
}

/* ---- the model server -------------------------------------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void line(world *w, const char *fmt, ...)
{
    size_t n = strlen(w->block);
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(w->block + n, sizeof w->block - n - 1, fmt, ap);
    va_end(ap);
    ck_assert(k >= 0 && (size_t)k < sizeof w->block - n - 2);
    strcat(w->block, "\n");
}

#define SEND_TIME "0003000000000000"

/* XLogData at `at` carrying the pgoutput message in hex. */
static void xlog(world *w, uint64_t at, const char *hex)
{
    line(w, "d 77%016llx%016llx" SEND_TIME "%s", (unsigned long long)at, (unsigned long long)at, hex);
}

static void transaction(world *w, int i)
{
    char hex[128];
    snprintf(hex, sizeof hex, "42%016llx" SEND_TIME "%08x", (unsigned long long)(tx_end(i) - 0x10), 700u + (unsigned)i);
    xlog(w, tx_start(i), hex);
    xlog(w, tx_start(i) + 0x10, "49000040004e0001740000000131");
    snprintf(hex, sizeof hex, "4300%016llx%016llx" SEND_TIME, (unsigned long long)(tx_end(i) - 0x10),
             (unsigned long long)tx_end(i));
    xlog(w, tx_end(i), hex);
}

static void keepalive(world *w, uint64_t wal_end)
{
    line(w, "d 6b%016llx" SEND_TIME "%02x", (unsigned long long)wal_end, chance(w, 30) ? 1u : 0u);
}

/*
 * Connection n's block from where START_REPLICATION asked: the walsender
 * starts at the later of that and the slot's confirmed position. Checks 3:
 * every transaction it will not send again was acknowledged.
 */
static const char *write_block(void *arg, int n, uint64_t asked)
{
    world *w = arg;
    pgrepl_lsn from = asked > w->confirmed ? asked : w->confirmed;
    w->conns = n;
    w->conn_flush = 0;
    w->block[0] = '\0';
    int first = 0;
    while (first < NTX && tx_end(first) <= from)
        first++;
    w->next_tx = first;
    if (first > 0 && tx_end(first - 1) > w->acked)
        model_fail(w,
                   "connection %d starts at %llx (asked %llx): transaction %d, ending at %llx, is lost: the "
                   "application acknowledged only %llx",
                   n, (unsigned long long)from, (unsigned long long)asked, first - 1,
                   (unsigned long long)tx_end(first - 1), (unsigned long long)w->acked);
    bool last = n >= MAX_CONNS;
    int count = last ? NTX - first : (int)(rnd(w) % (unsigned)(NTX - first + 1));
    uint64_t sent = from;
    xlog(w, 0, "52000040007075626c6963007400640001016e0000000017ffffffff");
    for (int i = first; i < first + count; i++) {
        transaction(w, i);
        sent = tx_end(i);
        if (chance(w, 30))
            keepalive(w, sent);
        if (chance(w, 40))
            line(w, "sleep %u", rnd(w) % 600);
    }
    if (last) {
        for (int k = 0; k < 20; k++) {
            keepalive(w, sent);
            line(w, "sleep 500");
        }
        line(w, "hang");
        return w->block;
    }
    /* the connection ends at a random point: in a transaction's middle, after a keepalive, after a while */
    if (first + count < NTX && chance(w, 25)) {
        char hex[64];
        snprintf(hex, sizeof hex, "42%016llx" SEND_TIME "%08x", (unsigned long long)(tx_end(first + count) - 0x10),
                 700u + (unsigned)(first + count));
        xlog(w, tx_start(first + count), hex);
    } else if (chance(w, 50)) {
        keepalive(w, sent);
    }
    if (chance(w, 60))
        line(w, "sleep %u", rnd(w) % 2500);
    line(w, "close");
    return w->block;
}

/* Checks 1, 2 and 4 on each status update as the server reads it. */
static void fake_log(void *arg, const char *text)
{
    world *w = arg;
    unsigned wh, wl, fh, fl;
    if (sscanf(text, "status %X/%X %X/%X", &wh, &wl, &fh, &fl) != 4)
        return;
    pgrepl_lsn flush = (pgrepl_lsn)fh << 32 | fl;
    if (flush > w->allowed)
        model_fail(w,
                   "connection %d reports flush %X/%X beyond what it may (%llx: acknowledged %llx, delivered %llx, "
                   "keepalive %llx)",
                   w->conns, fh, fl, (unsigned long long)w->allowed, (unsigned long long)w->acked,
                   (unsigned long long)w->delivered_max, (unsigned long long)w->keepalive);
    if (flush < w->conn_flush)
        model_fail(w, "connection %d: flush went back from %llx to %X/%X", w->conns, (unsigned long long)w->conn_flush,
                   fh, fl);
    w->conn_flush = flush;
    if (flush > w->confirmed)
        w->confirmed = flush;
}

static int64_t fake_now(void *arg)
{
    return ((world *)arg)->now;
}

/* ---- one seed ---------------------------------------------------------------------------------------- */

static char sock_dir[64];

static void listen_unix(world *w)
{
    snprintf(w->path, sizeof w->path, "%s/.s.PGSQL.5432", sock_dir);
    unlink(w->path);
    w->ls = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(w->ls, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    ck_assert_uint_lt(strlen(w->path), sizeof addr.sun_path);
    memcpy(addr.sun_path, w->path, strlen(w->path) + 1);
    ck_assert_int_eq(bind(w->ls, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(listen(w->ls, 16), 0);
    snprintf(w->conninfo, sizeof w->conninfo, "host=%s port=5432 user=u dbname=d", sock_dir);
}

static void world_init(world *w, unsigned seed)
{
    memset(w, 0, sizeof *w);
    w->seed = seed;
    w->rng = UINT64_C(0x9e3779b97f4a7c15) ^ ((uint64_t)seed * UINT64_C(0x100000001b3) + 1);
    w->now = START_US;
    w->fd[0] = w->fd[1] = -1;
    w->due = -1;
    listen_unix(w);
    char why[128] = "";
    const fakewal_config cfg = {.script = "", .now = fake_now, .log = fake_log, .arg = w, .block = write_block};
    w->fw = fakewal_new(&cfg, why, sizeof why);
    ck_assert_msg(w->fw != NULL, "%s", why);
    ck_assert_int_eq(fakewal_listen(w->fw, w->ls), 0);
    const pgrepl_session_host host = {.arg = w, .watch = h_watch, .timer = h_timer, .now = h_now};
    w->s = pgrepl_session_new(&host);
    ck_assert_ptr_nonnull(w->s);
    const pgrepl_decoder_callbacks dcb = {.on_commit = on_commit};
    const pgrepl_session_callbacks scb = {.on_error = on_error, .on_keepalive = on_keepalive};
    ck_assert_int_eq(pgrepl_session_set_conninfo(w->s, w->conninfo), 0);
    ck_assert_int_eq(pgrepl_session_set_slot(w->s, "s"), 0);
    ck_assert_int_eq(pgrepl_session_add_publication(w->s, "p"), 0);
    ck_assert_int_eq(pgrepl_session_set_callbacks(w->s, &dcb, sizeof dcb, &scb, sizeof scb), 0);
    ck_assert_int_eq(pgrepl_session_set_status_interval(w->s, 200 + (int)(rnd(w) % 1000)), 0);
    ck_assert_int_eq(pgrepl_session_set_reconnect(w->s, 100, 400), 0);
    ck_assert_int_eq(pgrepl_session_set_heartbeat_interval(w->s, 0), 0);
    pgrepl_session_set_data(w->s, w);
    if (chance(w, 30)) {
        w->durable = tx_end((int)(rnd(w) % 3));
        w->acked = w->durable;
        w->allowed = w->durable;
        ck_assert_int_eq(pgrepl_session_set_durable_lsn(w->s, w->durable), 0);
    }
}

static void world_fini(world *w)
{
    if (!w->closed)
        ck_assert_int_eq(pgrepl_session_close(w->s, close_cb), 0);
    for (long k = 0; !w->closed && step(w, w->now + 1000 * MS); k++)
        ck_assert_int_lt(k, MAX_STEPS);
    ck_assert(w->closed);
    pgrepl_session_free(w->s);
    for (long k = 0; fakewal_connections(w->fw) > 0 && step(w, w->now + 100 * MS); k++)
        ck_assert_int_lt(k, MAX_STEPS);
    fakewal_free(w->fw);
    close(w->ls);
    unlink(w->path);
}

/* Let ms of fake time pass, everything due in it done, the application's acknowledgements on time. */
static void run_for(world *w, int64_t ms)
{
    int64_t until = w->now + ms * MS;
    long steps = 0;
    for (;;) {
        due_acks(w);
        int64_t limit = until;
        for (int i = 0; i < w->npend; i++)
            limit = w->pend[i].at < limit ? w->pend[i].at : limit;
        if (!step(w, limit)) {
            if (limit == until)
                break;
            w->now = limit;
        }
        ck_assert_msg(++steps < MAX_STEPS, "seed %u: spinning", w->seed);
    }
    w->now = until > w->now ? until : w->now;
}

/* The model's end: everything delivered and confirmed. */
static void check_end(world *w)
{
    for (int i = 0; i < NTX; i++)
        if (!w->delivered[i] && tx_end(i) > w->durable)
            model_fail(w, "transaction %d was never delivered", i);
    if (w->confirmed != tx_end(NTX - 1))
        model_fail(w, "the server's confirmed position is %llx at the end, not %llx", (unsigned long long)w->confirmed,
                   (unsigned long long)tx_end(NTX - 1));
}

static void run_seed(unsigned seed)
{
    world *w = malloc(sizeof *w);
    ck_assert_ptr_nonnull(w);
    world_init(w, seed);
    ck_assert_int_eq(pgrepl_session_start(w->s), 0);
    for (int i = 0; i < STEPS && w->failure[0] == '\0'; i++) {
        run_for(w, rnd(w) % 400);
        if (!w->paused && chance(w, 10)) {
            ck_assert_int_eq(pgrepl_session_pause(w->s), 0);
            w->paused = true;
        } else if (w->paused && chance(w, 40)) {
            ck_assert_int_eq(pgrepl_session_resume(w->s), 0);
            w->paused = false;
        }
    }
    /* the end: resumed, every delivery acknowledged, until the last connection has confirmed everything */
    if (w->paused)
        ck_assert_int_eq(pgrepl_session_resume(w->s), 0);
    w->paused = false;
    for (int k = 0; k < 60 && w->failure[0] == '\0' && w->confirmed != tx_end(NTX - 1); k++) {
        for (int i = 0; i < w->npend; i++)
            w->pend[i].at = w->now;
        run_for(w, 500);
    }
    check_end(w);
    const char *show = getenv("PGREPL_MODEL_LOG");
    if (w->failure[0] == '\0' && show != NULL && *show != '\0' && strcmp(show, "0") != 0)
        fprintf(stderr, "seed %u: the fake server's log:\n%s", seed, fakewal_log_text(w->fw));
    if (w->failure[0] != '\0') {
        /* the log is longer than a Check message may be */
        fprintf(stderr, "seed %u: the fake server's log:\n%s", seed, fakewal_log_text(w->fw));
        ck_abort_msg("seed %u (PGREPL_MODEL_SEED=%u replays it): %s", seed, seed, w->failure);
    }
    world_fini(w);
    free(w);
}

START_TEST(acknowledgement_promise)
{
    const char *env = getenv("PGREPL_MODEL_SEED");
    if (env != NULL && *env != '\0') {
        run_seed((unsigned)strtoul(env, NULL, 10));
        return;
    }
    for (unsigned seed = 1; seed <= SEEDS; seed++)
        run_seed(seed);
}
END_TEST

static void make_sock_dir(void)
{
    snprintf(sock_dir, sizeof sock_dir, "/tmp/pgrepl-model-XXXXXX");
    if (mkdtemp(sock_dir) == NULL) {
        perror("mkdtemp");
        exit(EXIT_FAILURE);
    }
}

static void remove_sock_dir(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/.s.PGSQL.5432", sock_dir);
    unlink(path);
    rmdir(sock_dir);
}

int main(void)
{
    Suite *s = suite_create("session_model");
    TCase *tc = tcase_create("model");
    tcase_add_unchecked_fixture(tc, make_sock_dir, remove_sock_dir);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, acknowledgement_promise);
    suite_add_tcase(s, tc);
    return pgrepl_test_run_suite(s);
}
