/*
 * A model-based property test of the acknowledgement ledger (lib/ledger.c),
 * called the way the session calls it (lib/delivery.c, and lib/setup.c for
 * the start position), between a model of a PostgreSQL server and a model of
 * an application like pgrepl-stream writing to a file.
 * tests/unit/test_session_model.c checks the same promise on the real
 * session against the fake walsender.
 * Each seed (a seeded xorshift generator, not rand()) runs STEPS random steps
 * and then drains; the invariants below are checked after every step.
 *
 * Modelled:
 *  - The server's WAL: published transactions (one to MAX_CHANGES change
 *    records and a commit record; up to MAX_OPEN in progress at once, their
 *    records interleaved, commit order = order of the commit records), WAL
 *    outside the publication (it only moves keepalive walEnd), and
 *    transactions in progress at a server restart, which never commit.
 *  - Its walsender: START_REPLICATION starts at max(requested, slot's
 *    confirmed_flush) and reads the WAL from a restart point at or before that
 *    (the slot's restart_lsn). Reading a commit record sends the transaction
 *    whole (B, changes, C) unless the commit record starts before the start
 *    position (PostgreSQL skips a transaction whose commit record's LSN is
 *    below start_decoding_at). XLogData carries the transaction's first LSN
 *    for B, each change's LSN, the commit's end LSN for C. Keepalives carry
 *    walEnd = sentPtr: the end of the last record read, the slot's
 *    confirmed_flush before the first; one may also come in the middle of a
 *    transaction being sent, with the position before its commit record.
 *  - The slot: a status update moves confirmed_flush to max(confirmed, flush)
 *    (never back); a checkpoint persists it; a fast restart persists it, an
 *    immediate one (a crash) falls back to the persisted copy. A status update
 *    may be lost with the connection.
 *  - The application: it completes units (B..C), writes them (written end),
 *    fsyncs at random (durable = written) and acknowledges only what is
 *    durable (pgrepl__ledger_ack). A lost connection drops its partial unit
 *    and writes the complete ones; it starts again after what it wrote
 *    (start = written end, durable = what it held durably when it started).
 *    Its own crash loses what was not fsynced (all of it, or some: the page
 *    cache may have written it); it comes back with a NEW ledger, passes the
 *    end of what its file holds as durable, and as start either that too or,
 *    like a new pgrepl-stream process, the end of what it wrote since (0
 *    until it writes).
 *  - The stream's calls: connect_now's restart(acked); IDENTIFY_SYSTEM's
 *    check that start_at(start, durable) is within the server's WAL, then
 *    durable(); send_start's restart(start_at(start, durable));
 *    received/begin/unit_end per XLogData; keepalive() per keepalive (idle
 *    advance on); positions() then reported() for a status update.
 *
 * Not modelled: streamed (in-progress) transactions, two-phase, logical
 * messages, hidden heartbeats and the auto-ack; when status updates are sent
 * (pgrepl__feedback_*: any interleaving is allowed here); a unit's lines
 * partly written to the file; a server that loses WAL, or another cluster; a
 * slot moved by someone else and the stream's check before streaming
 * (report_start); servers before PostgreSQL 17 moving confirmed_flush back
 * on a lower flush; the time between connect_now and send_start (the three
 * calls of a connection happen in one step).
 *
 * Invariants:
 *  (1) Nothing confirmed that is not durable: the server, starting at the
 *      flush the ledger would report now or at the slot's confirmed_flush,
 *      skips only transactions the output holds durably. Positions here are
 *      record boundaries, so this is "every transaction with end LSN <=
 *      flush is durable"; the idle rule may confirm a walEnd beyond the last
 *      durable commit end, when no transaction commits in between.
 *  (2) The flushes of one ledger's status updates never go backwards, and
 *      neither they nor the start asked for pass the server's WAL end; no
 *      flush passes what arrived.
 *  (3) No loss, in order, and (4) no repeat: every unit the application
 *      completes is the transaction after the last one it holds (written,
 *      or durable after its own crash) in commit order. With pgrepl-stream's
 *      positions nothing the output holds is ever sent again, not even one
 *      transaction per restart: a unit cut off by a lost connection was
 *      dropped and comes again whole, and what a crash lost comes again.
 *      After the drain the durable output holds every committed transaction
 *      exactly once, in commit order.
 *  (5) The idle rule: a flush beyond both what was acknowledged and what was
 *      reported only when the application has nothing outstanding (no
 *      partial, unwritten or unsynced unit), and never beyond the highest
 *      keepalive walEnd since the last START_REPLICATION.
 *  (6) Progress: connected, with nothing outstanding, the flush is at least
 *      what the application acknowledged (or declared durable) and the
 *      highest keepalive walEnd since START_REPLICATION.
 *  Liveness: after the drain (everything delivered, written, fsynced, a
 *  keepalive at the WAL end, a status update) the slot confirms the WAL end.
 *
 * PGREPL_MODEL_SEEDS=count changes the number of seeds (DEFAULT_SEEDS);
 * PGREPL_MODEL_SEED=n runs seed n alone and prints every step.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"
#include "testutil.h"

#define DEFAULT_SEEDS 5000
#define STEPS 300
#define MAX_OPEN 3
#define MAX_CHANGES 4
/* one record per step at most, and the drain's commits and its final record */
#define MAX_RECORDS (STEPS + MAX_OPEN + 1)
/* per connection: a message per change record, B, C and a keepalive per commit, a keepalive per step */
#define MAX_MSGS (3 * MAX_RECORDS + STEPS + 1)
#define TRACE_LEN 32
#define WAL_BASE ((pgrepl_lsn)0x1000000)

#define LSN_FMT "%X/%X"
#define LSN_ARG(x) (unsigned)((x) >> 32), (unsigned)((x) & 0xFFFFFFFFu)

typedef enum { REC_CHANGE, REC_COMMIT, REC_OTHER } rec_kind;

typedef struct {
    pgrepl_lsn start, end;
    rec_kind kind;
    int txn; /* its transaction; -1 for REC_OTHER */
} record;

typedef struct {
    pgrepl_lsn change[MAX_CHANGES]; /* change records' LSNs; change[0] is the first LSN */
    int nchanges;
    pgrepl_lsn commit, end; /* the commit record's start and end */
    int seq;                /* place in commit order; -1 while in progress or when aborted */
} txn;

typedef enum { MSG_BEGIN, MSG_CHANGE, MSG_COMMIT, MSG_KEEPALIVE } msg_kind;

typedef struct {
    msg_kind kind;
    int txn, change;
    pgrepl_lsn lsn; /* XLogData dataStart, or keepalive walEnd */
} msg;

typedef enum {
    ACT_WAL,
    ACT_DECODE,
    ACT_KEEPALIVE,
    ACT_DELIVER,
    ACT_WRITE,
    ACT_FSYNC,
    ACT_STATUS,
    ACT_CHECKPOINT,
    ACT_LOSS,
    ACT_CONNECT,
    ACT_RESTART_FAST,
    ACT_RESTART_IMMEDIATE,
    ACT_APP_CRASH,
    NACTS
} action;

typedef struct {
    int step;
    char text[112];
} trace_entry;

typedef struct {
    /* server: WAL */
    record rec[MAX_RECORDS];
    int nrec;
    pgrepl_lsn wal_end;
    txn tx[MAX_RECORDS];
    int ntx;
    int open[MAX_OPEN];
    int nopen;
    int order[MAX_RECORDS]; /* committed transactions in commit order */
    int ncommitted;
    /* server: slot */
    pgrepl_lsn confirmed, persisted;
    /* the connection, and its walsender */
    bool up;
    pgrepl_lsn srv_start; /* where this walsender starts sending */
    int read_at;          /* next record it reads */
    pgrepl_lsn sent_ptr;
    msg q[MAX_MSGS];
    int qhead, qtail;
    /* application */
    pgrepl_ledger l;
    pgrepl_lsn durable_before; /* what it held durably when it started: pgrepl_stream_set_durable_lsn */
    pgrepl_lsn start_pos;      /* pgrepl_stream_set_start_lsn: the end of what this process wrote */
    int partial;               /* transaction being received, -1 none */
    int partial_changes;
    int pending; /* completed units not written yet; output = order[0 .. written + pending) */
    pgrepl_lsn pending_end;
    int written;
    pgrepl_lsn written_end;
    int durable;
    pgrepl_lsn durable_end;
    pgrepl_lsn acked;      /* its last acknowledgement, or durable_before */
    pgrepl_lsn sent_flush; /* flush of this ledger's last status update */
    pgrepl_lsn ka_max;     /* highest keepalive walEnd since the last START_REPLICATION */
    /* the run */
    unsigned seed;
    int step;
    uint64_t rng;
    unsigned weight[NACTS];
    bool verbose;
    trace_entry trace[TRACE_LEN];
    int ntrace;
} sim;

/* one run's state, reset for each seed (too large for the stack) */
static sim the_sim;

/* ---- random numbers ---------------------------------------------------------- */

static uint64_t rng_next(sim *m)
{
    /* xorshift64* */
    uint64_t x = m->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    m->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static unsigned rnd(sim *m, unsigned n)
{
    return (unsigned)((rng_next(m) >> 32) % n);
}

static bool chance(sim *m, unsigned one_in)
{
    return rnd(m, one_in) == 0;
}

/* ---- trace and failure ------------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void note(sim *m, const char *fmt, ...)
{
    trace_entry *e = &m->trace[m->ntrace++ % TRACE_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->text, sizeof e->text, fmt, ap);
    va_end(ap);
    e->step = m->step;
    if (m->verbose)
        fprintf(stderr, "  %4d  %s\n", e->step, e->text);
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void failed(sim *m, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    fprintf(stderr, "ledger model: seed %u, step %d: %s\n", m->seed, m->step, why);
    if (!m->verbose) {
        int first = m->ntrace > TRACE_LEN ? m->ntrace - TRACE_LEN : 0;
        fprintf(stderr, "the last %d steps:\n", m->ntrace - first);
        for (int i = first; i < m->ntrace; i++)
            fprintf(stderr, "  %4d  %s\n", m->trace[i % TRACE_LEN].step, m->trace[i % TRACE_LEN].text);
    }
    const pgrepl_ledger *l = &m->l;
    fprintf(stderr,
            "ledger: received " LSN_FMT " acked " LSN_FMT " keepalive_end " LSN_FMT " reported " LSN_FMT
            " delivered_end " LSN_FMT " in_txn %d\n",
            LSN_ARG(l->received), LSN_ARG(l->acked), LSN_ARG(l->keepalive_end), LSN_ARG(l->reported),
            LSN_ARG(l->delivered_end), (int)l->in_txn);
    fprintf(stderr,
            "application: %d units written (to " LSN_FMT "), %d durable (to " LSN_FMT "), %d pending, partial T%d; "
            "server: WAL end " LSN_FMT ", %d committed, confirmed " LSN_FMT " (persisted " LSN_FMT "), %s\n",
            m->written, LSN_ARG(m->written_end), m->durable, LSN_ARG(m->durable_end), m->pending, m->partial,
            LSN_ARG(m->wal_end), m->ncommitted, LSN_ARG(m->confirmed), LSN_ARG(m->persisted),
            m->up ? "connected" : "disconnected");
    fprintf(stderr, "replay: PGREPL_MODEL_SEED=%u\n", m->seed);
    ck_abort_msg("ledger model: seed %u, step %d: %s", m->seed, m->step, why);
}

#define EXPECT(m, cond, ...)                                                                                       \
    do {                                                                                                           \
        if (!(cond))                                                                                               \
            failed((m), __VA_ARGS__);                                                                              \
    } while (0)

static pgrepl_lsn lsn_max(pgrepl_lsn a, pgrepl_lsn b)
{
    return a > b ? a : b;
}

/* ---- the server's WAL -------------------------------------------------------- */

static const record *append(sim *m, rec_kind kind, int t)
{
    EXPECT(m, m->nrec < MAX_RECORDS, "model: more than %d records", MAX_RECORDS);
    record *r = &m->rec[m->nrec++];
    r->start = m->wal_end;
    r->end = m->wal_end + 0x18 + 8 * (pgrepl_lsn)rnd(m, 40);
    r->kind = kind;
    r->txn = t;
    m->wal_end = r->end;
    return r;
}

static void wal_change(sim *m, int t)
{
    txn *x = &m->tx[t];
    x->change[x->nchanges++] = append(m, REC_CHANGE, t)->start;
    note(m, "WAL: T%d change %d at " LSN_FMT, t, x->nchanges, LSN_ARG(x->change[x->nchanges - 1]));
}

static void wal_commit(sim *m, int i)
{
    int t = m->open[i];
    txn *x = &m->tx[t];
    const record *r = append(m, REC_COMMIT, t);
    x->commit = r->start;
    x->end = r->end;
    x->seq = m->ncommitted;
    m->order[m->ncommitted++] = t;
    m->open[i] = m->open[--m->nopen];
    note(m, "WAL: T%d commits (#%d) at " LSN_FMT ", end " LSN_FMT, t, x->seq, LSN_ARG(x->commit), LSN_ARG(x->end));
}

static void wal_other(sim *m, const char *what)
{
    const record *r = append(m, REC_OTHER, -1);
    note(m, "WAL: %s " LSN_FMT ".." LSN_FMT, what, LSN_ARG(r->start), LSN_ARG(r->end));
}

static void wal_write(sim *m)
{
    unsigned r = rnd(m, 10);
    if (r < 2) {
        wal_other(m, "outside the publication");
    } else if (m->nopen == 0 || (r < 4 && m->nopen < MAX_OPEN)) {
        int t = m->ntx++;
        m->tx[t] = (txn){.seq = -1};
        m->open[m->nopen++] = t;
        wal_change(m, t);
    } else {
        int i = (int)rnd(m, (unsigned)m->nopen);
        if (m->tx[m->open[i]].nchanges < MAX_CHANGES && chance(m, 2))
            wal_change(m, m->open[i]);
        else
            wal_commit(m, i);
    }
}

/* ---- the walsender ----------------------------------------------------------- */

static void push(sim *m, msg x)
{
    EXPECT(m, m->qtail < MAX_MSGS, "model: more than %d messages", MAX_MSGS);
    m->q[m->qtail++] = x;
}

/* A transaction whole; a keepalive in its middle carries sentPtr from before its commit record was read. */
static void send_txn(sim *m, int t)
{
    const txn *x = &m->tx[t];
    int ka_after = chance(m, 4) ? (int)rnd(m, (unsigned)x->nchanges) : -1;
    push(m, (msg){.kind = MSG_BEGIN, .txn = t, .lsn = x->change[0]});
    for (int c = 0; c < x->nchanges; c++) {
        push(m, (msg){.kind = MSG_CHANGE, .txn = t, .change = c, .lsn = x->change[c]});
        if (c == ka_after)
            push(m, (msg){.kind = MSG_KEEPALIVE, .lsn = m->sent_ptr});
    }
    push(m, (msg){.kind = MSG_COMMIT, .txn = t, .lsn = x->end});
}

static void walsender_read(sim *m)
{
    const record *r = &m->rec[m->read_at++];
    bool sent = r->kind == REC_COMMIT && m->tx[r->txn].commit >= m->srv_start;
    if (sent)
        send_txn(m, r->txn);
    m->sent_ptr = r->end;
    if (r->kind == REC_COMMIT)
        note(m, "walsender reads T%d's commit, %s; sentPtr " LSN_FMT, r->txn, sent ? "sends it" : "skips it",
             LSN_ARG(m->sent_ptr));
    else
        note(m, "walsender reads a record; sentPtr " LSN_FMT, LSN_ARG(m->sent_ptr));
}

static void walsender_keepalive(sim *m)
{
    push(m, (msg){.kind = MSG_KEEPALIVE, .lsn = m->sent_ptr});
    note(m, "walsender queues a keepalive, walEnd " LSN_FMT, LSN_ARG(m->sent_ptr));
}

/* START_REPLICATION at requested: the walsender reads from a restart point at or before where it starts. */
static void walsender_start(sim *m, pgrepl_lsn requested)
{
    pgrepl_lsn start = lsn_max(requested, m->confirmed);
    pgrepl_lsn restart = start;
    for (int t = 0; t < m->ntx; t++) {
        const txn *x = &m->tx[t];
        bool open = false;
        for (int i = 0; i < m->nopen; i++)
            open = open || m->open[i] == t;
        if ((open || (x->seq >= 0 && x->commit >= start)) && x->change[0] < restart)
            restart = x->change[0];
    }
    int i = 0;
    while (i < m->nrec && m->rec[i].start < restart)
        i++;
    i -= (int)rnd(m, 3); /* restart_lsn may lag a little more */
    m->read_at = i > 0 ? i : 0;
    m->srv_start = start;
    m->sent_ptr = m->confirmed;
    m->qhead = m->qtail = 0;
    m->up = true;
    note(m, "START_REPLICATION " LSN_FMT ": the server starts at " LSN_FMT ", reads from " LSN_FMT, LSN_ARG(requested),
         LSN_ARG(start), LSN_ARG(m->read_at < m->nrec ? m->rec[m->read_at].start : m->wal_end));
}

/* ---- the application and the stream ------------------------------------------- */

static void complete_unit(sim *m, int t)
{
    int expected = m->written + m->pending;
    int seq = m->tx[t].seq;
    EXPECT(m, seq == expected,
           "(3)/(4) the application completed T%d, commit #%d, when it holds commits #0..#%d: %s", t, seq,
           expected - 1, seq < expected ? "a repeat" : "the ones between are lost");
    m->pending++;
    m->pending_end = m->tx[t].end;
    m->partial = -1;
}

static void deliver(sim *m)
{
    msg x = m->q[m->qhead++];
    switch (x.kind) {
    case MSG_BEGIN:
        EXPECT(m, m->partial == -1, "model: B T%d inside T%d", x.txn, m->partial);
        pgrepl__ledger_received(&m->l, x.lsn);
        pgrepl__ledger_begin(&m->l);
        m->partial = x.txn;
        m->partial_changes = 0;
        note(m, "receives B T%d (" LSN_FMT ")", x.txn, LSN_ARG(x.lsn));
        break;
    case MSG_CHANGE:
        EXPECT(m, m->partial == x.txn && m->partial_changes == x.change, "model: T%d change %d out of place", x.txn,
               x.change + 1);
        pgrepl__ledger_received(&m->l, x.lsn);
        m->partial_changes++;
        note(m, "receives T%d change %d (" LSN_FMT ")", x.txn, x.change + 1, LSN_ARG(x.lsn));
        break;
    case MSG_COMMIT:
        EXPECT(m, m->partial == x.txn && m->partial_changes == m->tx[x.txn].nchanges, "model: C T%d out of place",
               x.txn);
        pgrepl__ledger_received(&m->l, x.lsn);
        pgrepl__ledger_unit_end(&m->l, m->tx[x.txn].end);
        note(m, "receives C T%d (end " LSN_FMT ")", x.txn, LSN_ARG(x.lsn));
        complete_unit(m, x.txn);
        break;
    case MSG_KEEPALIVE:
        pgrepl__ledger_keepalive(&m->l, x.lsn);
        m->ka_max = lsn_max(m->ka_max, x.lsn);
        note(m, "receives a keepalive, walEnd " LSN_FMT, LSN_ARG(x.lsn));
        break;
    }
}

static void app_write(sim *m)
{
    m->written += m->pending;
    m->written_end = m->pending_end;
    m->start_pos = m->written_end;
    m->pending = 0;
    note(m, "application writes up to " LSN_FMT, LSN_ARG(m->written_end));
}

static void app_fsync(sim *m)
{
    m->durable = m->written;
    m->durable_end = m->written_end;
    if (m->durable_end > m->acked) {
        pgrepl__ledger_ack(&m->l, m->durable_end);
        m->acked = m->durable_end;
    }
    note(m, "application fsyncs and acknowledges " LSN_FMT, LSN_ARG(m->durable_end));
}

/* The connection ends: the walsender's queue is gone; the application keeps its complete units. */
static void lose_connection(sim *m)
{
    m->up = false;
    m->qhead = m->qtail = 0;
    m->partial = -1;
    if (m->pending > 0)
        app_write(m);
}

static void status_update(sim *m, bool may_be_lost)
{
    pgrepl_lsn write, flush;
    pgrepl__ledger_positions(&m->l, &write, &flush);
    EXPECT(m, flush >= m->sent_flush, "(2) the flush goes back from " LSN_FMT " to " LSN_FMT, LSN_ARG(m->sent_flush),
           LSN_ARG(flush));
    EXPECT(m, write >= flush, "(2) write " LSN_FMT " below flush " LSN_FMT, LSN_ARG(write), LSN_ARG(flush));
    pgrepl__ledger_reported(&m->l, write, flush);
    m->sent_flush = flush;
    bool lost = may_be_lost && chance(m, 16);
    if (!lost)
        m->confirmed = lsn_max(m->confirmed, flush);
    note(m, "status update: write " LSN_FMT " flush " LSN_FMT "%s", LSN_ARG(write), LSN_ARG(flush),
         lost ? ", lost with the connection" : "");
    if (lost)
        lose_connection(m);
}

/* The stream's connect_now, IDENTIFY_SYSTEM and send_start. */
static void stream_connect(sim *m)
{
    pgrepl__ledger_restart(&m->l, m->l.acked);
    pgrepl_lsn want = pgrepl__ledger_start_at(&m->l, m->start_pos, m->durable_before);
    EXPECT(m, want <= m->wal_end, "(2) the start " LSN_FMT " is beyond the server's WAL end " LSN_FMT, LSN_ARG(want),
           LSN_ARG(m->wal_end));
    pgrepl__ledger_durable(&m->l, m->durable_before);
    want = pgrepl__ledger_start_at(&m->l, m->start_pos, m->durable_before);
    pgrepl__ledger_restart(&m->l, want);
    m->ka_max = 0;
    walsender_start(m, want);
}

static void abort_open(sim *m)
{
    for (int i = 0; i < m->nopen; i++)
        note(m, "T%d never commits", m->open[i]);
    m->nopen = 0;
}

static void server_restart(sim *m, bool immediate)
{
    lose_connection(m);
    if (immediate)
        m->confirmed = m->persisted;
    else
        m->persisted = m->confirmed;
    note(m, "server restart (%s): confirmed_flush " LSN_FMT, immediate ? "immediate" : "fast", LSN_ARG(m->confirmed));
    abort_open(m);
    wal_other(m, immediate ? "end-of-recovery checkpoint" : "shutdown checkpoint");
}

/*
 * The application's crash: the file keeps what was fsynced and, from what was
 * only written, nothing (a power loss) or some of it (what the page cache
 * wrote; all of it after a process crash). What it keeps is durable now.
 */
static void app_crash(sim *m)
{
    int kept = chance(m, 2) ? 0 : (int)rnd(m, (unsigned)(m->written - m->durable + 1));
    m->up = false;
    m->qhead = m->qtail = 0;
    m->partial = -1;
    m->pending = 0;
    m->durable += kept;
    if (kept > 0)
        m->durable_end = m->tx[m->order[m->durable - 1]].end;
    m->written = m->durable;
    m->written_end = m->durable_end;
    m->durable_before = m->durable_end;
    /* a new pgrepl-stream has written nothing yet: start 0, and durable rules; or the start is durable too */
    m->start_pos = chance(m, 2) ? m->durable_end : 0;
    m->acked = m->durable_end;
    m->sent_flush = 0;
    m->ka_max = 0;
    pgrepl__ledger_free(&m->l);
    pgrepl__ledger_init(&m->l, 0);
    note(m, "application crash, %d unsynced units kept: a new ledger, durable " LSN_FMT ", start " LSN_FMT, kept,
         LSN_ARG(m->durable_end), LSN_ARG(m->start_pos));
}

/* ---- invariants ---------------------------------------------------------------- */

/* (1): starting at lsn the server skips no transaction the output does not hold durably. */
static void expect_safe(sim *m, pgrepl_lsn lsn, const char *what)
{
    if (m->durable == m->ncommitted)
        return;
    int t = m->order[m->durable];
    EXPECT(m, lsn <= m->tx[t].commit,
           "(1) %s " LSN_FMT " lets the server skip T%d (commit #%d at " LSN_FMT ", end " LSN_FMT
           "), which is not durable (durable to " LSN_FMT ")",
           what, LSN_ARG(lsn), t, m->durable, LSN_ARG(m->tx[t].commit), LSN_ARG(m->tx[t].end),
           LSN_ARG(m->durable_end));
}

static void check_invariants(sim *m)
{
    pgrepl_lsn write, flush;
    pgrepl__ledger_positions(&m->l, &write, &flush);
    expect_safe(m, flush, "the ledger's flush");
    expect_safe(m, m->confirmed, "the slot's confirmed_flush");
    EXPECT(m, flush <= m->l.received && flush <= m->wal_end,
           "(2) the flush " LSN_FMT " passes what arrived (" LSN_FMT ") or the WAL end (" LSN_FMT ")", LSN_ARG(flush),
           LSN_ARG(m->l.received), LSN_ARG(m->wal_end));
    if (flush > lsn_max(m->sent_flush, m->acked)) {
        EXPECT(m, m->partial < 0 && m->pending == 0 && m->written == m->durable,
               "(5) the idle rule confirms " LSN_FMT " while the application has %s outstanding", LSN_ARG(flush),
               m->partial >= 0 ? "a partial unit" : m->pending > 0 ? "unwritten units" : "unsynced units");
        EXPECT(m, flush <= m->ka_max,
               "(5) the idle rule confirms " LSN_FMT " beyond every keepalive since START_REPLICATION (" LSN_FMT ")",
               LSN_ARG(flush), LSN_ARG(m->ka_max));
    }
    if (m->up && m->partial < 0 && m->pending == 0 && m->written == m->durable)
        EXPECT(m, flush >= lsn_max(m->acked, m->ka_max),
               "(6) nothing is outstanding, yet the flush " LSN_FMT " is below what was acknowledged (" LSN_FMT
               ") or the highest keepalive walEnd since START_REPLICATION (" LSN_FMT ")",
               LSN_ARG(flush), LSN_ARG(m->acked), LSN_ARG(m->ka_max));
}

/* ---- a run --------------------------------------------------------------------- */

static bool applicable(const sim *m, action a)
{
    switch (a) {
    case ACT_DECODE: return m->up && m->read_at < m->nrec;
    case ACT_KEEPALIVE:
    case ACT_STATUS:
    case ACT_LOSS: return m->up;
    case ACT_DELIVER: return m->up && m->qhead < m->qtail;
    case ACT_WRITE: return m->pending > 0;
    case ACT_FSYNC: return m->written > m->durable;
    case ACT_CHECKPOINT: return m->persisted != m->confirmed;
    case ACT_CONNECT: return !m->up;
    default: return true;
    }
}

static void run_action(sim *m, action a)
{
    switch (a) {
    case ACT_WAL: wal_write(m); break;
    case ACT_DECODE: walsender_read(m); break;
    case ACT_KEEPALIVE: walsender_keepalive(m); break;
    case ACT_DELIVER: deliver(m); break;
    case ACT_WRITE: app_write(m); break;
    case ACT_FSYNC: app_fsync(m); break;
    case ACT_STATUS: status_update(m, true); break;
    case ACT_CHECKPOINT:
        m->persisted = m->confirmed;
        note(m, "checkpoint: confirmed_flush " LSN_FMT " persisted", LSN_ARG(m->persisted));
        break;
    case ACT_LOSS:
        lose_connection(m);
        note(m, "the connection is lost");
        break;
    case ACT_CONNECT: stream_connect(m); break;
    case ACT_RESTART_FAST: server_restart(m, false); break;
    case ACT_RESTART_IMMEDIATE: server_restart(m, true); break;
    case ACT_APP_CRASH: app_crash(m); break;
    case NACTS: break;
    }
}

static void random_step(sim *m)
{
    unsigned total = 0;
    for (int a = 0; a < NACTS; a++)
        total += applicable(m, (action)a) ? m->weight[a] : 0;
    unsigned r = rnd(m, total);
    for (int a = 0; a < NACTS; a++) {
        unsigned w = applicable(m, (action)a) ? m->weight[a] : 0;
        if (r < w) {
            run_action(m, (action)a);
            return;
        }
        r -= w;
    }
}

/* Everything committed, delivered, written and fsynced, then a keepalive at the WAL end and a status update. */
static void drain(sim *m)
{
    m->step++;
    while (m->nopen > 0)
        wal_commit(m, 0);
    wal_other(m, "outside the publication");
    if (!m->up)
        stream_connect(m);
    check_invariants(m);
    while (m->read_at < m->nrec || m->qhead < m->qtail) {
        m->step++;
        if (m->read_at < m->nrec)
            walsender_read(m);
        else
            deliver(m);
        check_invariants(m);
    }
    m->step++;
    walsender_keepalive(m);
    deliver(m);
    if (m->pending > 0)
        app_write(m);
    if (m->written > m->durable)
        app_fsync(m);
    status_update(m, false);
    check_invariants(m);
    EXPECT(m, m->durable == m->ncommitted, "(3) after the drain the output holds %d of %d transactions", m->durable,
           m->ncommitted);
    EXPECT(m, m->confirmed == m->wal_end,
           "liveness: after the drain the slot confirms " LSN_FMT ", not the WAL end " LSN_FMT, LSN_ARG(m->confirmed),
           LSN_ARG(m->wal_end));
}

static void run_seed(unsigned seed, bool verbose)
{
    sim *m = &the_sim;
    memset(m, 0, sizeof *m);
    m->seed = seed;
    m->verbose = verbose;
    /* splitmix64 of the seed: a nonzero xorshift state */
    uint64_t z = (uint64_t)seed + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    m->rng = (z ^ (z >> 31)) | 1;
    /* each seed its own mix: some fsync or report often, some rarely */
    m->weight[ACT_WAL] = 20;
    m->weight[ACT_DECODE] = 10 + rnd(m, 10);
    m->weight[ACT_KEEPALIVE] = 2 + rnd(m, 8);
    m->weight[ACT_DELIVER] = 15 + rnd(m, 30);
    m->weight[ACT_WRITE] = 2 + rnd(m, 12);
    m->weight[ACT_FSYNC] = 1 + rnd(m, 10);
    m->weight[ACT_STATUS] = 2 + rnd(m, 10);
    m->weight[ACT_CHECKPOINT] = 1 + rnd(m, 3);
    m->weight[ACT_LOSS] = rnd(m, 3);
    m->weight[ACT_CONNECT] = 20;
    m->weight[ACT_RESTART_FAST] = rnd(m, 2);
    m->weight[ACT_RESTART_IMMEDIATE] = rnd(m, 3);
    m->weight[ACT_APP_CRASH] = rnd(m, 3);

    m->wal_end = m->confirmed = m->persisted = WAL_BASE;
    m->partial = -1;
    pgrepl__ledger_init(&m->l, 0);
    if (verbose)
        fprintf(stderr, "ledger model: seed %u\n", seed);
    for (m->step = 1; m->step <= STEPS; m->step++) {
        random_step(m);
        check_invariants(m);
    }
    drain(m);
    pgrepl__ledger_free(&m->l);
}

static unsigned env_number(const char *name, unsigned dflt)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return dflt;
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    if (*end != '\0' || n > 0xFFFFFFFFul)
        ck_abort_msg("%s=%s: not a number", name, v);
    return (unsigned)n;
}

START_TEST(ledger_model)
{
    if (getenv("PGREPL_MODEL_SEED") != NULL) {
        run_seed(env_number("PGREPL_MODEL_SEED", 0), true);
        return;
    }
    unsigned seeds = env_number("PGREPL_MODEL_SEEDS", DEFAULT_SEEDS);
    for (unsigned seed = 1; seed <= seeds; seed++)
        run_seed(seed, false);
}
END_TEST

static Suite *ledger_model_suite(void)
{
    Suite *s = suite_create("ledger_model");
    TCase *tc = tcase_create("model");
    /* seconds; Check's default of 4 is too short under sanitizers */
    tcase_set_timeout(tc, 110);
    tcase_add_test(tc, ledger_model);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgrepl_test_run_suite(ledger_model_suite());
}
