/*
 * The session's state, one sub-struct per part, each written by one file:
 *
 *   cfg    config.c   what the application set (other parts only read it)
 *   host   host.c     what the host watches and when it calls back; the clock of a wakeup
 *   door   notify.c   the door to the application's stream callbacks: the state it was told, the last error
 *   core   session.c  the phase, the requests, close and free, the connection, the heartbeat, read batching
 *   setup  setup.c    what the server told, the connect deadline, what this consumer holds on the slot
 *   slots  slotcmd.c  the queue of slot commands and the one in flight
 *   dlv    delivery.c the decoder, the ledger, the status updates, pausing
 *   retry  retry.c    failures in a row, the delay before reconnecting
 *
 * A part reaches another's state through that part's functions. The
 * configuration is the exception: the parts read its fields (never write
 * them), as they would read a settings record.
 *
 * The object files form layers, each calling only those below it:
 *
 *   session.c           the core: calls every part
 *   config.c            -> slotcmd.c (the slot name rule), setup.c, notify.c
 *   slotcmd.c           -> setup.c (the server version), host.c, notify.c
 *   setup.c             -> delivery.c (the positions), retry.c, host.c, notify.c
 *   delivery.c          -> retry.c, host.c, notify.c
 *   retry.c             -> host.c, notify.c
 *   host.c, notify.c    call no part
 *
 * What a part needs of a part above it is an inline function in this
 * header (the core's phase, requests, connection and heartbeat; the
 * ledger, which the failures read), or a function pointer: a failure
 * closes the connection through the teardown hook the core gives retry.c.
 */
#ifndef PGREPL_LIB_SESSION_INT_H
#define PGREPL_LIB_SESSION_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "pgrepl/session.h"
#include "classify.h"
#include "conn.h"
#include "feedback.h"
#include "heartbeat.h"
#include "ledger.h"

typedef enum pgrepl_phase {
    PH_NONE,       /* no connection */
    PH_CONNECT,    /* PQconnectPoll */
    PH_IDENTIFY,   /* IDENTIFY_SYSTEM in flight */
    PH_SHOW,       /* SHOW wal_sender_timeout in flight */
    PH_SETTINGS,   /* SET ... in flight */
    PH_IDLE,       /* connected, nothing in flight: next slot command, START_REPLICATION or READY */
    PH_SLOT_BEGIN, /* BEGIN of a SNAPSHOT 'use' slot creation in flight */
    PH_SLOT,       /* a slot command in flight */
    PH_HELD,       /* snapshot exported or in use: nothing is sent until pgrepl_session_snapshot_done */
    PH_SLOT_END,   /* COMMIT / ROLLBACK of the SNAPSHOT 'use' transaction in flight */
    PH_CHECK,      /* the check before START_REPLICATION in flight (publications, slot validity) */
    PH_START,      /* START_REPLICATION in flight */
    PH_STREAMING,  /* CopyBoth */
    PH_STOPPING    /* CopyDone sent: draining */
} pgrepl_phase;

/* config.c */
typedef struct session_config {
    char *conninfo;
    char *slot;
    char **pubs;
    int npubs;
    int proto_req;
    bool binary;
    bool messages;
    bool two_phase;
    bool auto_ack;
    pgrepl_streaming_mode streaming;
    pgrepl_origin_filter origin;
    pgrepl_lsn start_lsn;   /* where to ask the server to start; never confirmed by itself */
    pgrepl_lsn durable_lsn; /* what the application holds durably from before this stream */
    bool allow_gaps;
    bool idle_advance;      /* the idle rule: flush follows keepalive walEnd (ledger.h) */
    uint64_t stop_timeout_ms;
    uint64_t interval_ms;
    uint64_t recv_timeout_ms;
    uint64_t connect_timeout_ms; /* 0: the conninfo's connect_timeout, else the default */
    uint64_t retry_min_ms;       /* bounds of the delay before reconnecting; 0: do not reconnect */
    uint64_t retry_max_ms;
    size_t batch_bytes;          /* read batching (pgrepl_session_set_read_batch); 0: off */
    uint64_t batch_pause_us;
    pgrepl_decoder_callbacks dcb;
    pgrepl_session_callbacks scb;
    void *data;
} session_config;

/* host.c: what the host was asked for (deadlines: microseconds on the session's clock, -1 none) */
typedef struct session_host {
    pgrepl_session_host cb;
    bool kicked;       /* run soon: a request came from outside a dispatch */
    int64_t timer_at;  /* the next status update or watchdog check */
    int64_t wait_at;   /* the connect deadline, the delay before reconnecting, or the stop timeout */
    bool wait_due;     /* it expired */
    int64_t hold_at;   /* read batching: the end of the pause */
    int64_t host_due;  /* the deadline the host's timer holds */
    int conn_fd;       /* the replication socket the host watches, -1 none */
    unsigned conn_events;
    int hb_fd;         /* the heartbeat's socket the host watches, -1 none */
    unsigned hb_events;
    int64_t wake_us;   /* when the current loop callback began (valid while in_run > 0) */
    int in_run;        /* run_io calls in progress */
} session_host;

/* notify.c */
typedef struct session_door {
    pgrepl_stream_state state;
    char errmsg[512];
    char sqlstate[6];
} session_door;

/* session.c */
typedef struct session_core {
    pgrepl_phase ph;
    bool connect_req;  /* start()/connect() from STOPPED */
    bool want_start;   /* START_REPLICATION once the queue is done */
    bool stop_req;
    bool release_req;  /* pgrepl_session_snapshot_done() */
    bool close_req;
    bool closed;       /* do_close ran: nothing is watched, the connections are gone */
    bool free_req;     /* pgrepl_session_free() from inside a callback */
    bool finalizing;
    void (*close_cb)(pgrepl_session *s);
    int busy;          /* inside a loop callback or an application callback: close is deferred */
    pgrepl_conn conn;
    PGresult *res;     /* the result kept for the command in flight */
    pgrepl_heartbeat *hb; /* NULL once closing */
    bool batch;        /* read batching applies to this connection */
    bool batching;     /* the stream is busy: it pauses between reads */
    size_t got;        /* CopyData bytes taken in the current loop callback */
} session_core;

/* setup.c */
typedef struct session_setup {
    int server_version;
    char system_id[32];
    char server_encoding[64];
    uint32_t timeline;
    pgrepl_lsn xlogpos;
    uint64_t sender_timeout_ms;
    int proto;
    uint64_t deadline_ms;  /* the connect deadline armed last */
    /* gaps: what this consumer is known to hold on the slot */
    pgrepl_lsn held;       /* the latest of what it held at each start and the slot's position then */
    unsigned starts;       /* START_REPLICATION sent on this slot */
} session_setup;

/* slotcmd.c */
typedef struct session_slots {
    struct slot_cmd *queue;
    struct slot_cmd **queue_tail;
    struct slot_cmd *cur; /* in flight */
    bool use_txn;         /* cur runs inside the SNAPSHOT 'use' transaction */
} session_slots;

/* delivery.c */
typedef struct session_delivery {
    pgrepl_decoder *dec;
    pgrepl_ledger ledger;
    pgrepl_feedback fb;
    bool paused;
    int cb_err;           /* why a decoder callback of ours failed */
    char cb_why[192];     /* with PGREPL_EPROTOCOL: what the server sent that contradicts itself */
    pgrepl_lsn begin_lsn; /* final_lsn of the open Begin, 0 when none */
    pgrepl_lsn unit_end;  /* end of the last unit on this connection: ends only grow */
} session_delivery;

/* retry.c */
typedef struct session_retry {
    void (*teardown)(pgrepl_session *s, int status); /* the core's: close the connection */
    bool run_req;          /* start_replication() until a stop, close or fatal error: failures reconnect */
    unsigned attempts;     /* failures in a row */
    uint64_t reconnects;   /* reconnections started, in all */
    uint64_t retry_in_ms;  /* the delay before the one scheduled */
    uint64_t rng;          /* jitter */
    int64_t streaming_since;  /* when this connection began streaming; 0 if it has not */
    pgrepl_lsn started_flush; /* the flush reported when this connection began streaming: beyond it is progress */
} session_retry;

struct pgrepl_session {
    session_config cfg;
    session_host host;
    session_door door;
    session_core core;
    session_setup setup;
    session_slots slots;
    session_delivery dlv;
    session_retry retry;
};

/* ---- session.c: what the parts below the core read of it --------------------------------------------------------- */

/* Inline, not calls: a call from a part into session.c would make a cycle of object files. */

/* What the parts read of the core, one line each: (type, name, the core's field). */
#define CORE_GETTER(type, name, field)                                                                                 \
    static inline type pgrepl__##name(const pgrepl_session *s)                                                         \
    {                                                                                                                  \
        return s->core.field;                                                                                          \
    }

CORE_GETTER(bool, closing, close_req)      /* pgrepl_session_close() was called */
CORE_GETTER(bool, closed, closed)          /* the connections are gone, nothing is watched (on the way to close_cb) */
CORE_GETTER(bool, finalizing, finalizing)  /* after close: the slot commands' and the close callbacks are running */
CORE_GETTER(int, busy, busy)               /* inside a loop or application callback: close and free are deferred */
CORE_GETTER(pgrepl_phase, phase, ph)
CORE_GETTER(bool, connect_asked, connect_req) /* start() or connect() from STOPPED, not connected yet */
CORE_GETTER(bool, release_asked, release_req) /* pgrepl_session_snapshot_done(), not acted on yet */
CORE_GETTER(bool, stop_asked, stop_req)       /* pgrepl_session_stop(), not acted on yet */

static inline void pgrepl__busy_enter(pgrepl_session *s)
{
    s->core.busy++;
}

static inline void pgrepl__busy_leave(pgrepl_session *s)
{
    s->core.busy--;
}

static inline void pgrepl__set_phase(pgrepl_session *s, pgrepl_phase ph)
{
    s->core.ph = ph;
}

/* The replication connection (conn.h). */
static inline pgrepl_conn *pgrepl__conn(pgrepl_session *s)
{
    return &s->core.conn;
}

/* Send a command; a failure to send arrives as a FAILED event in phase next. */
static inline void pgrepl__send_command(pgrepl_session *s, const char *sql, pgrepl_phase next)
{
    (void)pgrepl__conn_send(&s->core.conn, sql);
    s->core.ph = next;
}

/* The heartbeat's side connection; NULL once closing. */
static inline pgrepl_heartbeat *pgrepl__hb(const pgrepl_session *s)
{
    return s->core.hb;
}

/* ---- delivery.c: what the parts below it read of it (inline, as above) ------------------------------------------- */

/* The positions: received, delivered, acknowledged, reported (ledger.h). */
static inline const pgrepl_ledger *pgrepl__positions(const pgrepl_session *s)
{
    return &s->dlv.ledger;
}

/* ---- host.c ------------------------------------------------------------------------------------------------------ */

void pgrepl__host_init(pgrepl_session *s, const pgrepl_session_host *host);
int64_t pgrepl__mono_us(void);
/* The session's clock: the host's, else CLOCK_MONOTONIC. */
int64_t pgrepl__now_us(const pgrepl_session *s);
/* The clock read once per wakeup (a loop callback), for the decisions taken in it. */
void pgrepl__wakeup_begin(pgrepl_session *s);
void pgrepl__wakeup_end(pgrepl_session *s);
bool pgrepl__in_wakeup(const pgrepl_session *s);
int64_t pgrepl__wakeup_us(const pgrepl_session *s);
void pgrepl__wakeup_reread(pgrepl_session *s);
int pgrepl__watch_conn(pgrepl_session *s, int fd, unsigned conn_want);
void pgrepl__unwatch_conn(pgrepl_session *s);
void pgrepl__unwatch_hb(pgrepl_session *s);
void pgrepl__sync_hb(pgrepl_session *s);
bool pgrepl__is_conn_fd(const pgrepl_session *s, int fd);
bool pgrepl__is_hb_fd(const pgrepl_session *s, int fd);
/* The status update or watchdog time. */
void pgrepl__set_timer(pgrepl_session *s, int64_t at);
/* The wait: the connect deadline, the delay before reconnecting, or the stop timeout. */
void pgrepl__set_wait(pgrepl_session *s, int64_t at);
bool pgrepl__wait_due(const pgrepl_session *s);
void pgrepl__clear_wait_due(pgrepl_session *s);
void pgrepl__expire_wait(pgrepl_session *s, int64_t now);
/* The end of a read-batching pause. */
void pgrepl__set_hold(pgrepl_session *s, int64_t at);
bool pgrepl__holding(const pgrepl_session *s);
bool pgrepl__expire_hold(pgrepl_session *s, int64_t now);
void pgrepl__kick(pgrepl_session *s);
void pgrepl__kick_taken(pgrepl_session *s);
void pgrepl__kick_quietly(pgrepl_session *s);
void pgrepl__sync_timer(pgrepl_session *s);
void pgrepl__timer_spent(pgrepl_session *s);
void pgrepl__timer_cancel(pgrepl_session *s);

/* ---- notify.c ---------------------------------------------------------------------------------------------------- */

typedef enum pgrepl_note_kind {
    NOTE_STATE,
    NOTE_NOTICE,
    NOTE_ERROR,
    NOTE_WARNING,
    NOTE_KEEPALIVE,
    NOTE_STATUS_SENT,
    NOTE_SLOT_CREATED,
    NOTE_SLOT_DONE,
    NOTE_SLOT_INFO,
    NOTE_START
} pgrepl_note_kind;

typedef struct pgrepl_note {
    pgrepl_note_kind kind;
    pgrepl_stream_state state;
    const pgrepl_server_message *server;
    const pgrepl_error *error;
    pgrepl_lsn lsn1;
    pgrepl_lsn lsn2;
    pgrepl_timestamp time;
    bool flag;
    /* the slot command's callback, by kind */
    pgrepl_slot_created_cb created_cb;
    pgrepl_slot_cb done_cb;
    pgrepl_slot_info_cb info_cb;
    void *arg;
    int status;
    const pgrepl_slot_created *created;
    const pgrepl_slot_info *info;
    const pgrepl_start_info *start;
} pgrepl_note;

void pgrepl__notify(pgrepl_session *s, const pgrepl_note *n);
/* Set the state; the application is told when it changed. */
void pgrepl__set_state(pgrepl_session *s, pgrepl_stream_state state);
/* Set the state without telling (the caller tells, or nobody is to be told). */
void pgrepl__put_state(pgrepl_session *s, pgrepl_stream_state state);
void pgrepl__on_notice(void *arg, const pgrepl_server_message *m);
#if defined(__GNUC__)
__attribute__((format(printf, 3, 0)))
#endif
void pgrepl__set_errmsgv(pgrepl_session *s, const pgrepl_server_message *server, const char *fmt, va_list ap);
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void pgrepl__set_errmsg(pgrepl_session *s, const pgrepl_server_message *server, const char *fmt, ...);
void pgrepl__chomp_errmsg(pgrepl_session *s);

/* ---- retry.c ----------------------------------------------------------------------------------------------------- */

void pgrepl__retry_init(pgrepl_session *s, void (*teardown)(pgrepl_session *s, int status));
void pgrepl__retry_run(pgrepl_session *s, bool run);
void pgrepl__retry_forget(pgrepl_session *s);
void pgrepl__retry_connecting(pgrepl_session *s);
void pgrepl__retry_streaming(pgrepl_session *s);
void pgrepl__retry_reconnecting(pgrepl_session *s);
/*
 * The stream failed with code (PGREPL_E*); fatal: retrying cannot help.
 * server: the server's error, or NULL. Closes the connection; the
 * application hears of it (on_error, on_state).
 */
#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
void pgrepl__fail(pgrepl_session *s, int code, bool fatal, const pgrepl_server_message *server, const char *fmt, ...);
/* The same with classify.h's verdict (fatal, and a hint). */
#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
void pgrepl__fail_with(pgrepl_session *s, int code, pgrepl_verdict v, const pgrepl_server_message *server,
                       const char *fmt, ...);
/* The command `what` failed with the error result res. */
void pgrepl__fail_result(pgrepl_session *s, const PGresult *res, const char *what);
/* An ERROR event: the server's error ends the command `what` (e is freed). */
void pgrepl__fail_error(pgrepl_session *s, pgrepl_conn_error *e, const char *what);
/* The connection failed with code (a FAILED event) while running `what`, and no error result was kept. */
void pgrepl__fail_conn(pgrepl_session *s, int code, const char *what);
/* Whether the server's error m while streaming says a publication was dropped; if so the stream failed. */
bool pgrepl__fail_publication_gone(pgrepl_session *s, const pgrepl_server_message *m);

/* ---- delivery.c -------------------------------------------------------------------------------------------------- */

int pgrepl__delivery_init(pgrepl_session *s);
void pgrepl__delivery_free(pgrepl_session *s);
void pgrepl__delivery_reset(pgrepl_session *s);
void pgrepl__delivery_durable(pgrepl_session *s, pgrepl_lsn durable);
void pgrepl__delivery_restart(pgrepl_session *s, pgrepl_lsn from);
void pgrepl__delivery_streaming(pgrepl_session *s, uint64_t sender_timeout_ms);
bool pgrepl__delivery_paused(const pgrepl_session *s);
void pgrepl__delivery_copydata(pgrepl_session *s, const char *data, size_t len);
/* Send a status update (ping: ask for a reply); non-zero when it could not (a failure when out of memory). */
int pgrepl__delivery_send_status(pgrepl_session *s, bool ping);
/* PH_STREAMING: the status update and watchdog decision, the timer re-armed; true when it failed the stream. */
bool pgrepl__delivery_feedback(pgrepl_session *s);
/* PH_STOPPING: the watchdog alone. */
bool pgrepl__delivery_watchdog(pgrepl_session *s);
/* The heartbeat's on_seen hook (arg: the session). */
void pgrepl__delivery_heartbeat_seen(void *arg);

/* ---- setup.c ----------------------------------------------------------------------------------------------------- */

/* Arm the connect deadline (the whole setup: connect, the plan, the check, START_REPLICATION). */
void pgrepl__setup_arm_deadline(pgrepl_session *s);
uint64_t pgrepl__setup_deadline_ms(const pgrepl_session *s);
void pgrepl__setup_new_slot(pgrepl_session *s);
void pgrepl__setup_identify(pgrepl_session *s);
void pgrepl__setup_identify_done(pgrepl_session *s, const PGresult *res);
void pgrepl__setup_show_done(pgrepl_session *s, const PGresult *res);
/* The check before START_REPLICATION, sent with nothing in flight; its result to pgrepl__setup_check_done. */
void pgrepl__setup_check(pgrepl_session *s);
void pgrepl__setup_check_done(pgrepl_session *s, const PGresult *res);

/* ---- slotcmd.c --------------------------------------------------------------------------------------------------- */

void pgrepl__slots_init(pgrepl_session *s);
bool pgrepl__slots_pending(const pgrepl_session *s);
bool pgrepl__slots_in_flight(const pgrepl_session *s);
bool pgrepl__slots_in_txn(const pgrepl_session *s);
void pgrepl__slots_txn_over(pgrepl_session *s);
/* With nothing in flight (PH_IDLE): send the next queued command, or complete it when it cannot run. */
void pgrepl__slots_run_next(pgrepl_session *s);
/* The result of the BEGIN of a SNAPSHOT 'use' creation. */
void pgrepl__slots_begin_done(pgrepl_session *s, const PGresult *res);
/* The result of the command in flight. */
void pgrepl__slots_done(pgrepl_session *s, const PGresult *res);
/* The command in flight (if any) completes with status (the connection closed). */
void pgrepl__slots_cancel_current(pgrepl_session *s, int status);
void pgrepl__slots_cancel_queued(pgrepl_session *s, int status);
void pgrepl__slots_free(pgrepl_session *s);
/* Empty, or longer than the server keeps (it would name another slot). */
bool pgrepl__bad_slot_name(const char *name);

/* ---- config.c ---------------------------------------------------------------------------------------------------- */

/* The defaults. */
void pgrepl__config_init(pgrepl_session *s);
void pgrepl__config_free(pgrepl_session *s);
/* Whether the configuration may change now (stopped, nothing asked for). */
bool pgrepl__configurable(const pgrepl_session *s);

#endif
