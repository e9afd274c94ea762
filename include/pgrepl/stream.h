/*
 * pgrepl/stream.h - a logical replication stream on a libuv loop.
 *
 * A pgrepl_stream owns one non-blocking libpq replication connection
 * (replication=database) driven by the caller's uv_loop_t. It connects,
 * identifies the server, pins the session settings that decide how values
 * are printed, runs the slot commands the application queued, and then
 * START_REPLICATION on a pgoutput slot. Every pgoutput message is decoded
 * (pgrepl/decode.h) and handed to the decoder callbacks; progress is
 * confirmed to the server only up to what the application acknowledged.
 *
 * Lifecycle (libuv style):
 *
 *   s = pgrepl_stream_new(loop);          configure with pgrepl_stream_set_*()
 *   pgrepl_stream_start_replication(s);   connect ... START_REPLICATION
 *   ... callbacks run from uv_run() ...
 *   pgrepl_stream_stop_replication(s);    graceful: final status update, CopyDone, drain
 *   pgrepl_stream_close(s, close_cb);     releases everything; close_cb runs last,
 *                                         after it the stream's memory is gone
 *
 * After close_cb has run the stream has no handle left on the loop, so
 * uv_loop_close() succeeds.
 *
 * (start/stop carry the _replication suffix because decode.h already names
 * the Stream Start / Stream Stop message types pgrepl_stream_start and
 * pgrepl_stream_stop.)
 *
 * Callbacks: every callback (decoder and stream callbacks) runs on the loop
 * thread from inside uv_run(). From inside any callback the application may
 * call pgrepl_stream_ack, _pause, _resume, _stop_replication and _close; the stream
 * finishes its own work after the callback returns and never touches freed
 * memory. Functions documented "not from a callback" return PGREPL_ESTATE
 * there.
 *
 * No function here blocks: connecting, queries, START_REPLICATION, reading,
 * sending status updates and stopping all progress on the loop.
 *
 * Known limit: host names are resolved by libpq during connection setup
 * (getaddrinfo), which can block the loop while a DNS server is slow. Use
 * numeric addresses, hostaddr= or a unix socket where that matters.
 *
 * Threads: a stream must only be used on its loop's thread.
 *
 * Building: <uv.h> needs POSIX declarations (pthread types) that a strict
 * -std=c11 hides; compile with the compiler's default dialect (gnu11, gnu17)
 * or define _POSIX_C_SOURCE=200809L.
 */
#ifndef PGREPL_STREAM_H
#define PGREPL_STREAM_H

#include <uv.h>

#include <pgrepl/common.h>
#include <pgrepl/decode.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pgrepl_stream pgrepl_stream;

typedef enum pgrepl_stream_state {
    PGREPL_STREAM_STOPPED = 0,  /* not connected: before start, after stop, after a failure */
    PGREPL_STREAM_CONNECTING,   /* connecting, identifying, running queued slot commands */
    PGREPL_STREAM_READY,        /* connected and idle (connect() without start, or a snapshot is held) */
    PGREPL_STREAM_STREAMING,    /* START_REPLICATION accepted: data flows */
    PGREPL_STREAM_STOPPING,     /* final status update and CopyDone sent, draining */
    PGREPL_STREAM_CLOSING       /* pgrepl_stream_close() called; close_cb pending */
} pgrepl_stream_state;

/* Name of a state ("streaming"). Static storage. */
PGREPL_EXTERN const char *pgrepl_stream_state_name(pgrepl_stream_state state);

typedef enum pgrepl_streaming_mode {
    PGREPL_STREAMING_OFF = 0,
    PGREPL_STREAMING_ON,        /* proto_version >= 2 */
    PGREPL_STREAMING_PARALLEL   /* proto_version >= 4, PostgreSQL 16+ */
} pgrepl_streaming_mode;

typedef enum pgrepl_origin_filter {
    PGREPL_ORIGIN_DEFAULT = 0,  /* option not sent (server default: any) */
    PGREPL_ORIGIN_ANY,
    PGREPL_ORIGIN_NONE          /* drop transactions that carry a replication origin; 16+ */
} pgrepl_origin_filter;

/* A server error or notice, as received. Strings are "" when absent; valid during the callback. */
typedef struct pgrepl_server_message {
    const char *severity; /* "ERROR", "FATAL", "WARNING", "NOTICE", ... (not localized) */
    const char *sqlstate; /* five characters, or "" (e.g. a connection lost without a message) */
    const char *message;  /* primary message */
    const char *detail;
    const char *hint;
} pgrepl_server_message;

/* What the stream reports to on_error. */
typedef struct pgrepl_error {
    int code;                           /* PGREPL_E* */
    bool fatal;                         /* retrying the same configuration cannot help */
    const char *message;                /* one line saying what failed, with the server's text */
    const pgrepl_server_message *server; /* the server's error, or NULL */
} pgrepl_error;

typedef struct pgrepl_stream_callbacks {
    /* The state changed. Not called for CLOSING: after pgrepl_stream_close() only slot command
       callbacks (PGREPL_ECANCELED) and close_cb run. */
    void (*on_state)(pgrepl_stream *s, pgrepl_stream_state state);
    /* A NoticeResponse (WARNING, NOTICE, ...) arrived, e.g. PostgreSQL 18's "skipped loading publication". */
    void (*on_notice)(pgrepl_stream *s, const pgrepl_server_message *notice);
    /* Something failed. The stream is STOPPED when this runs (unless it was already closing). */
    void (*on_error)(pgrepl_stream *s, const pgrepl_error *err);
    /* A primary keepalive arrived (after the ledger took it into account). */
    void (*on_keepalive)(pgrepl_stream *s, pgrepl_lsn wal_end, pgrepl_timestamp send_time, bool reply_requested);
    /* A standby status update was sent. */
    void (*on_status_sent)(pgrepl_stream *s, pgrepl_lsn write, pgrepl_lsn flush);
} pgrepl_stream_callbacks;

/*
 * Create a stream on loop. Returns NULL when out of memory. Nothing touches
 * the loop until pgrepl_stream_start_replication() or _connect().
 */
PGREPL_EXTERN pgrepl_stream *pgrepl_stream_new(uv_loop_t *loop);

/* ---- configuration: only in STOPPED state, else PGREPL_ESTATE ---------- */

/*
 * Connection string, key=value or postgresql:// URI. libpq environment
 * variables and service files apply as usual. replication=database is added
 * (a replication= given here is overridden). PGREPL_EINVAL when libpq cannot
 * parse it (the message says why, see pgrepl_stream_errmsg).
 */
PGREPL_EXTERN int pgrepl_stream_set_conninfo(pgrepl_stream *s, const char *conninfo);
/* Slot to stream from (an identifier; case is kept, the library quotes it). */
PGREPL_EXTERN int pgrepl_stream_set_slot(pgrepl_stream *s, const char *slot);
/* Add a publication (case is kept, the library quotes it). At least one is needed to start. */
PGREPL_EXTERN int pgrepl_stream_add_publication(pgrepl_stream *s, const char *name);
/* pgoutput proto_version 1-4; 0 (default) = the highest the server supports (14: 2, 15: 3, 16+: 4). */
PGREPL_EXTERN int pgrepl_stream_set_proto_version(pgrepl_stream *s, int version);
PGREPL_EXTERN int pgrepl_stream_set_binary(pgrepl_stream *s, bool on);
PGREPL_EXTERN int pgrepl_stream_set_messages(pgrepl_stream *s, bool on);
PGREPL_EXTERN int pgrepl_stream_set_streaming(pgrepl_stream *s, pgrepl_streaming_mode mode);
PGREPL_EXTERN int pgrepl_stream_set_two_phase(pgrepl_stream *s, bool on);
PGREPL_EXTERN int pgrepl_stream_set_origin(pgrepl_stream *s, pgrepl_origin_filter origin);
/*
 * The application's own durable resume point (default 0/0). The server starts
 * at the later of it and the slot's confirmed_flush_lsn, so nothing the
 * application already holds is replayed after a server crash that lost the
 * slot's last confirmation.
 */
PGREPL_EXTERN int pgrepl_stream_set_start_lsn(pgrepl_stream *s, pgrepl_lsn lsn);
/* Status update interval in milliseconds (default 10000; > 0). Capped at half of wal_sender_timeout. */
PGREPL_EXTERN int pgrepl_stream_set_status_interval(pgrepl_stream *s, uint64_t ms);
/*
 * Silence watchdog in milliseconds (default 0 = off): when nothing arrived for
 * half of it, ask the server to reply; when nothing arrived for all of it,
 * the connection is declared dead (PGREPL_ETIMEDOUT).
 */
PGREPL_EXTERN int pgrepl_stream_set_receive_timeout(pgrepl_stream *s, uint64_t ms);
/*
 * Acknowledge each unit when its callback returns 0 (default off): Commit,
 * Stream Commit, Prepare, Stream Prepare, Commit Prepared, Rollback Prepared
 * and non-transactional Message (a missing callback counts as 0).
 */
PGREPL_EXTERN int pgrepl_stream_set_auto_ack(pgrepl_stream *s, bool on);
/*
 * Callbacks: decoder callbacks (one per pgoutput message, see decode.h; their
 * ud argument is the stream's user data) and stream callbacks. Either may be
 * NULL. Sizes as in pgrepl_decoder_new(). PGREPL_EINVAL when a size is larger
 * than this library's struct. A decoder callback returning PGREPL_PAUSE pauses
 * the stream as pgrepl_stream_pause() does; any other non-zero return is a
 * fatal PGREPL_ECALLBACK error (the connection is closed, nothing more is
 * acknowledged).
 */
PGREPL_EXTERN int pgrepl_stream_set_callbacks(pgrepl_stream *s, const pgrepl_decoder_callbacks *dcb, size_t dcb_size,
                                              const pgrepl_stream_callbacks *scb, size_t scb_size);
/* User data: passed as ud to decoder callbacks; read back with pgrepl_stream_get_data(). Any state. */
PGREPL_EXTERN void pgrepl_stream_set_data(pgrepl_stream *s, void *data);
PGREPL_EXTERN void *pgrepl_stream_get_data(const pgrepl_stream *s);

/* ---- running ------------------------------------------------------------ */

/*
 * Connect, identify, run the queued slot commands, then START_REPLICATION.
 * From STOPPED (connects first) or READY. Returns 0 (progress is reported
 * through on_state / on_error), PGREPL_EINVAL when no slot or no publication
 * is configured, PGREPL_ESTATE in another state or when a start is already
 * pending.
 */
PGREPL_EXTERN int pgrepl_stream_start_replication(pgrepl_stream *s);
/*
 * Connect, identify and run queued slot commands, then stay READY without
 * streaming (for slot management only). From STOPPED.
 */
PGREPL_EXTERN int pgrepl_stream_connect(pgrepl_stream *s);
/*
 * Graceful stop: no more data callbacks; a final status update with the
 * acknowledged position, CopyDone, drain what the server still sends (not
 * delivered), then close the connection and go to STOPPED. Data not yet
 * acknowledged is sent again by the next start. A server that does not
 * answer keeps the stream STOPPING until the receive timeout (when set) or
 * pgrepl_stream_close(). In CONNECTING or READY it closes the connection.
 * No-op in STOPPED. Safe from callbacks.
 */
PGREPL_EXTERN int pgrepl_stream_stop_replication(pgrepl_stream *s);
/*
 * Release everything, now: the connection is closed without a final status
 * update, queued slot commands are completed with PGREPL_ECANCELED, then
 * close_cb (may be NULL) runs once every uv handle is closed, and the stream
 * is freed after close_cb returns. close_cb always runs from the loop, never
 * from inside this call (even for a stream that never started): run the loop
 * after closing. Safe from callbacks; a second call is ignored. Returns 0.
 */
PGREPL_EXTERN int pgrepl_stream_close(pgrepl_stream *s, void (*close_cb)(pgrepl_stream *s));

/*
 * Stop reading from the server (backpressure). Status updates keep flowing,
 * so the server does not time the connection out. Safe from callbacks: a
 * pause from a decoder callback takes effect after that message. The pause
 * lasts until pgrepl_stream_resume(), across stop and start.
 */
PGREPL_EXTERN int pgrepl_stream_pause(pgrepl_stream *s);
/* Resume reading; data already buffered in libpq is delivered without waiting for the socket. */
PGREPL_EXTERN int pgrepl_stream_resume(pgrepl_stream *s);

/* ---- acknowledgement ---------------------------------------------------- */

/*
 * The application has durably processed everything up to lsn: a commit's
 * end_lsn (pgrepl_commit.end_lsn), a Prepare / Commit Prepared / Rollback
 * Prepared end LSN, or a non-transactional message's lsn. Clamped to what
 * was received; never goes backwards. The next status update reports it
 * (at once if the server is waiting for it). Safe from callbacks.
 * Returns 0, or PGREPL_EINVAL for NULL s.
 */
PGREPL_EXTERN int pgrepl_stream_ack(pgrepl_stream *s, pgrepl_lsn lsn);

/* Positions: highest received, acknowledged by the application, last reported as flushed. */
PGREPL_EXTERN pgrepl_lsn pgrepl_stream_received_lsn(const pgrepl_stream *s);
PGREPL_EXTERN pgrepl_lsn pgrepl_stream_acked_lsn(const pgrepl_stream *s);
PGREPL_EXTERN pgrepl_lsn pgrepl_stream_reported_lsn(const pgrepl_stream *s);

/* ---- what the server said ------------------------------------------------ */

PGREPL_EXTERN pgrepl_stream_state pgrepl_stream_get_state(const pgrepl_stream *s);
/* Known once READY or STREAMING (0 / "" before). */
PGREPL_EXTERN int pgrepl_stream_server_version(const pgrepl_stream *s); /* e.g. 180004 */
PGREPL_EXTERN const char *pgrepl_stream_system_id(const pgrepl_stream *s);
PGREPL_EXTERN uint32_t pgrepl_stream_timeline(const pgrepl_stream *s);
PGREPL_EXTERN pgrepl_lsn pgrepl_stream_server_xlogpos(const pgrepl_stream *s); /* IDENTIFY_SYSTEM's xlogpos */
PGREPL_EXTERN uint64_t pgrepl_stream_wal_sender_timeout_ms(const pgrepl_stream *s); /* 0 = disabled */
PGREPL_EXTERN int pgrepl_stream_proto_version(const pgrepl_stream *s); /* negotiated */
/* Last error message ("" if none). Valid until the next call on the stream. */
PGREPL_EXTERN const char *pgrepl_stream_errmsg(const pgrepl_stream *s);
/* SQLSTATE of the last server error ("" if none). */
PGREPL_EXTERN const char *pgrepl_stream_sqlstate(const pgrepl_stream *s);
/* The stream's loop. */
PGREPL_EXTERN uv_loop_t *pgrepl_stream_loop(const pgrepl_stream *s);

/* ---- slot management on the same connection ----------------------------- *
 *
 * Slot commands are queued and run in order on the replication connection
 * after it is identified and before START_REPLICATION (or READY). They may be
 * queued in STOPPED, CONNECTING and READY; in READY they run at once. Each
 * completes through its callback with status 0 or a PGREPL_E* code (the
 * server's message in pgrepl_stream_errmsg / _sqlstate during the callback).
 * A failed slot command does not stop the stream; START_REPLICATION then
 * proceeds only if the application does not stop it from the callback.
 *
 * When the connection fails or is stopped, the command in flight completes
 * with that error (PGREPL_ECANCELED for a stop); commands not yet sent stay
 * queued for the next connection.
 *
 * Beware: the server drops the connection's TEMPORARY slots as soon as any
 * command on it fails, including CREATE of an existing slot under
 * PGREPL_SLOT_IF_NOT_EXISTS (which the server reports as an error).
 */

#define PGREPL_SLOT_TEMPORARY 0x01     /* dropped when the connection ends */
#define PGREPL_SLOT_TWO_PHASE 0x02     /* decode prepared transactions at PREPARE (15+) */
#define PGREPL_SLOT_FAILOVER 0x04      /* may be synced to standbys (17+; not with TEMPORARY) */
#define PGREPL_SLOT_IF_NOT_EXISTS 0x08 /* an existing slot is success (created = false) */

typedef enum pgrepl_snapshot_action {
    PGREPL_SNAPSHOT_NOTHING = 0, /* no snapshot */
    PGREPL_SNAPSHOT_EXPORT,      /* export one: snapshot_name is set and the connection is held until
                                    pgrepl_stream_snapshot_done() */
    PGREPL_SNAPSHOT_USE          /* use it in a READ ONLY REPEATABLE READ transaction on this
                                    connection (14: USE_SNAPSHOT): held like EXPORT, then COMMIT.
                                    There is no call yet to run the application's queries in it. */
} pgrepl_snapshot_action;

typedef struct pgrepl_slot_created {
    const char *slot_name;
    bool created;                 /* false: it existed (PGREPL_SLOT_IF_NOT_EXISTS) */
    pgrepl_lsn consistent_point;  /* 0 when it existed */
    const char *snapshot_name;    /* exported snapshot, or NULL */
    const char *plugin;           /* "pgoutput"; NULL when it existed */
} pgrepl_slot_created;

typedef void (*pgrepl_slot_created_cb)(pgrepl_stream *s, int status, const pgrepl_slot_created *slot);

/*
 * Queue CREATE_REPLICATION_SLOT name [TEMPORARY] LOGICAL pgoutput with the
 * options the server version needs. PGREPL_EUNSUPPORTED (through the
 * callback) for TWO_PHASE on 14 or FAILOVER before 17 or with TEMPORARY.
 */
PGREPL_EXTERN int pgrepl_stream_create_slot(pgrepl_stream *s, const char *name, unsigned flags,
                                            pgrepl_snapshot_action snapshot, pgrepl_slot_created_cb cb);
/*
 * The exported snapshot has been used (imported elsewhere, or the initial copy
 * on this connection is done): release the connection so that it goes on
 * (START_REPLICATION, or the next command). For SNAPSHOT_USE, COMMIT is sent.
 */
PGREPL_EXTERN int pgrepl_stream_snapshot_done(pgrepl_stream *s);

typedef void (*pgrepl_slot_cb)(pgrepl_stream *s, int status);
/* Queue DROP_REPLICATION_SLOT name [WAIT]. */
PGREPL_EXTERN int pgrepl_stream_drop_slot(pgrepl_stream *s, const char *name, bool wait, pgrepl_slot_cb cb);

/* Slot health, from pg_replication_slots (columns the server version lacks are 0 / NULL / false). */
typedef struct pgrepl_slot_info {
    bool exists;
    const char *slot_name;
    const char *plugin;
    const char *slot_type;          /* "logical" / "physical" */
    const char *database;
    bool temporary;
    bool active;
    int active_pid;                 /* 0 when inactive */
    pgrepl_lsn restart_lsn;
    pgrepl_lsn confirmed_flush_lsn;
    pgrepl_lsn current_wal_lsn;     /* the server's pg_current_wal_lsn() when queried */
    int64_t retained_bytes;         /* current_wal_lsn - restart_lsn, -1 when unknown */
    const char *wal_status;         /* "reserved", "extended", "unreserved", "lost", or NULL */
    int64_t safe_wal_size;          /* bytes, -1 when NULL (unlimited) */
    bool two_phase;
    const char *invalidation_reason; /* 17+, NULL when valid or unknown */
    bool conflicting;               /* 16+ */
    bool failover;                  /* 17+ */
} pgrepl_slot_info;

typedef void (*pgrepl_slot_info_cb)(pgrepl_stream *s, int status, const pgrepl_slot_info *info);
/* Queue a health query for one slot. status 0 with info->exists false when there is no such slot. */
PGREPL_EXTERN int pgrepl_stream_slot_info(pgrepl_stream *s, const char *name, pgrepl_slot_info_cb cb);

#ifdef __cplusplus
}
#endif

#endif /* PGREPL_STREAM_H */
