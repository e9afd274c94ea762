/*
 * pgrepl/session.h - a logical replication stream for any event loop.
 *
 * A pgrepl_session owns one non-blocking libpq replication connection
 * (replication=database) and, while streaming, a second normal connection
 * for heartbeats. It connects, identifies the server, pins the session
 * settings that decide how values are printed, runs the slot commands the
 * application queued, and then START_REPLICATION on a pgoutput slot. Every
 * pgoutput message is decoded (pgrepl/decode.h) and handed to the decoder
 * callbacks; progress is confirmed to the server only up to what the
 * application acknowledged.
 *
 * The session does no waiting of its own and knows no event loop (the
 * shape of curl's multi_socket API): through a small table of operations
 * (pgrepl_session_host) it asks its host to watch a socket for reading or
 * writing, to stop watching it, and to call it back once at a deadline;
 * the host reports readiness with pgrepl_session_io() and the deadline
 * with pgrepl_session_timeout(). The libuv binding (pgrepl/uv.h, the
 * pgrepl_stream API) is one such host; examples/minimal-poll.c is another,
 * on plain poll(2).
 *
 * Lifecycle:
 *
 *   s = pgrepl_session_new(&host);        configure with pgrepl_session_set_*()
 *   pgrepl_session_start(s);              connect ... START_REPLICATION
 *   ... callbacks run from pgrepl_session_io() / _timeout() ...
 *   pgrepl_session_stop(s);               graceful: final status update, CopyDone, drain
 *   pgrepl_session_close(s, close_cb);    releases the connections; close_cb runs last
 *   pgrepl_session_free(s);               from close_cb or later (or at once, without close)
 *
 * Callbacks: every callback (decoder and session callbacks) runs from
 * inside pgrepl_session_io() or pgrepl_session_timeout(), never from inside
 * another pgrepl_session_* call. From inside any callback the application
 * may call pgrepl_session_ack, _pause, _resume, _stop, _close and _free; the
 * session finishes its own work after the callback returns and never
 * touches freed memory. Functions documented "not from a callback" return
 * PGREPL_ESTATE there.
 *
 * No function here blocks: connecting, queries, START_REPLICATION,
 * reading, sending status updates and stopping all progress as the host
 * reports readiness and time.
 *
 * Known limit: host names are resolved by libpq during connection setup
 * (getaddrinfo), which can block while a DNS server is slow. Use numeric
 * addresses, hostaddr= or a unix socket where that matters.
 *
 * Threads: a session must only be used on one thread at a time, its
 * host's.
 *
 * The policies (acknowledgement, gaps, reconnection, heartbeats, read
 * batching) are explained in docs/guide.md; this header says what each
 * function does.
 */
#ifndef PGREPL_SESSION_H
#define PGREPL_SESSION_H

#include <pgrepl/common.h>
#include <pgrepl/decode.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pgrepl_session pgrepl_session;

typedef enum pgrepl_stream_state {
    PGREPL_STREAM_STOPPED = 0,  /* not connected: before start, after stop, after a failure */
    PGREPL_STREAM_CONNECTING,   /* connecting, identifying, running queued slot commands */
    PGREPL_STREAM_READY,        /* connected and idle (connect() without start, or a snapshot is held) */
    PGREPL_STREAM_STREAMING,    /* START_REPLICATION accepted: data flows */
    PGREPL_STREAM_STOPPING,     /* final status update and CopyDone sent, draining */
    PGREPL_STREAM_CLOSING,      /* pgrepl_session_close() called; close_cb pending */
    PGREPL_STREAM_RECONNECTING  /* a retryable failure: waiting to connect again (pgrepl_session_set_reconnect) */
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

/* What the stream reports to on_error, and to on_warning (then fatal and retrying are false). */
typedef struct pgrepl_error {
    int code;                           /* PGREPL_E* */
    bool fatal;                         /* retrying the same configuration cannot help */
    const char *message;                /* one line saying what failed, with the server's text */
    const pgrepl_server_message *server; /* the server's error, or NULL */
    const char *hint;                   /* what an operator can do about it (static text), or NULL */
    bool retrying;                      /* a reconnection is scheduled: the stream is RECONNECTING */
    uint64_t retry_in_ms;               /* when retrying: the delay before the next connection attempt */
    unsigned attempt;                   /* failures in a row, this one included */
} pgrepl_error;

/* What START_REPLICATION is about to ask for, and where the slot is (on_start). */
typedef struct pgrepl_start_info {
    pgrepl_lsn requested;      /* the position asked for (pgrepl_session_set_start_lsn / _durable_lsn / acked) */
    pgrepl_lsn slot_confirmed; /* the slot's confirmed_flush_lsn: the server starts at the later of the two */
    pgrepl_lsn held;           /* the latest position this consumer is known to hold: set durable, acknowledged,
                                  confirmed by this stream, or the slot's position when this stream began on it */
    pgrepl_lsn skipped_from;   /* when the slot is ahead of held: the changes in [skipped_from, skipped_to) will */
    pgrepl_lsn skipped_to;     /* not be delivered (0 and 0 otherwise) */
    bool skip_certain;         /* this stream streamed from the slot before and never confirmed skipped_to:
                                  someone else moved it (another consumer, a recreated or a temporary slot,
                                  an advance by hand). false with a range: the only position known was the
                                  durable one, and the slot may have moved past it by this consumer's own
                                  idle advance in an earlier run (nothing of the publication in between) */
    unsigned connection;       /* 1 for the stream's first START_REPLICATION on this slot, then 2, 3, ... */
    const char *system_id;     /* IDENTIFY_SYSTEM of this connection */
    uint32_t timeline;
    pgrepl_lsn server_wal;     /* its xlogpos */
} pgrepl_start_info;

typedef struct pgrepl_session_callbacks {
    /* The state changed. Not called for CLOSING: after pgrepl_session_close() only slot command
       callbacks (PGREPL_ECANCELED) and close_cb run. */
    void (*on_state)(pgrepl_session *s, pgrepl_stream_state state);
    /* A NoticeResponse (WARNING, NOTICE, ...) arrived, e.g. PostgreSQL 18's "skipped loading publication". */
    void (*on_notice)(pgrepl_session *s, const pgrepl_server_message *notice);
    /* Something failed. The stream is STOPPED when this runs (unless it was already closing), or RECONNECTING
       when err->retrying (see "failures and reconnection" below). */
    void (*on_error)(pgrepl_session *s, const pgrepl_error *err);
    /* A primary keepalive arrived (after the ledger took it into account). */
    void (*on_keepalive)(pgrepl_session *s, pgrepl_lsn wal_end, pgrepl_timestamp send_time, bool reply_requested);
    /* A standby status update was sent. */
    void (*on_status_sent)(pgrepl_session *s, pgrepl_lsn write, pgrepl_lsn flush);
    /* START_REPLICATION is about to be sent (after the check before streaming, see "gaps" below). The
       application may stop or close the stream from here. Valid during the callback. */
    void (*on_start)(pgrepl_session *s, const pgrepl_start_info *info);
    /* Something went wrong that does not stop the stream, which goes on as it was: a heartbeat problem (its side
       connection, PGREPL_ESTALLED, PGREPL_EBEHIND; see "heartbeats" below). The message starts "heartbeat:" and
       says the stream continues. */
    void (*on_warning)(pgrepl_session *s, const pgrepl_error *warning);
} pgrepl_session_callbacks;

/* ---- the host: what the session asks of its event loop ----------------- */

/* Readiness, for pgrepl_session_host.watch and pgrepl_session_io. */
#define PGREPL_IO_READ 0x01u
#define PGREPL_IO_WRITE 0x02u
#define PGREPL_IO_ERROR 0x04u /* only in pgrepl_session_io: the host saw an error on the socket */

typedef struct pgrepl_session_host {
    void *arg; /* passed to every operation */
    /*
     * Watch fd for events (PGREPL_IO_READ and/or PGREPL_IO_WRITE) and call
     * pgrepl_session_io(s, fd, ready) when it is ready; a later call for the
     * same fd replaces the events. events == 0: stop watching fd, which may
     * be closed right after (and its number reused by another socket). The
     * session watches at most two sockets at a time and calls this only
     * when something changed. Return 0, or a negative PGREPL_E* code
     * (PGREPL_ENOMEM, ...): the session then fails the connection.
     */
    int (*watch)(void *arg, int fd, unsigned events);
    /*
     * Call pgrepl_session_timeout(s) once, timeout_us microseconds from now
     * (0: as soon as possible, but from the loop, not from inside this
     * call); replaces the timer set before. timeout_us < 0: cancel it.
     * Called only when the deadline changed. A host whose timers count
     * milliseconds should round up. Return 0 or a negative PGREPL_E* code.
     */
    int (*timer)(void *arg, int64_t timeout_us);
    /*
     * The clock, in microseconds, monotonic (never going backwards); NULL
     * for CLOCK_MONOTONIC. Tests supply a fake one.
     */
    int64_t (*now)(void *arg);
} pgrepl_session_host;

/*
 * Create a session that will ask host for readiness and time (the table is
 * copied; host->watch and host->timer are required). Returns NULL when out
 * of memory or when host is incomplete. Nothing is asked of the host until
 * pgrepl_session_start() or _connect().
 */
PGREPL_EXTERN pgrepl_session *pgrepl_session_new(const pgrepl_session_host *host);

/*
 * The host saw fd (one the session asked it to watch) ready for events
 * (PGREPL_IO_READ, PGREPL_IO_WRITE, or PGREPL_IO_ERROR for an error or hang
 * up on it: the session then reads what the server sent before it, and the
 * read says how the connection ended). Runs callbacks. Returns 0;
 * PGREPL_EINVAL for a NULL session or an fd the session does not watch
 * (ignored). Not from a callback.
 */
PGREPL_EXTERN int pgrepl_session_io(pgrepl_session *s, int fd, unsigned events);
/*
 * The deadline the session set with host->timer passed (calling it early,
 * or more often, is harmless). Runs callbacks. Returns 0; PGREPL_EINVAL
 * for NULL. Not from a callback.
 */
PGREPL_EXTERN int pgrepl_session_timeout(pgrepl_session *s);

/* ---- configuration: only in STOPPED state, else PGREPL_ESTATE ---------- */

/*
 * Connection string, key=value or postgresql:// URI. libpq environment
 * variables and service files apply as usual. replication=database is added
 * (a replication= given here is overridden). PGREPL_EINVAL when libpq cannot
 * parse it (the message says why, see pgrepl_session_errmsg).
 */
PGREPL_EXTERN int pgrepl_session_set_conninfo(pgrepl_session *s, const char *conninfo);
/*
 * Slot to stream from (an identifier; case is kept, the library quotes it).
 * PGREPL_EINVAL for an empty name or one of 64 bytes or more, which the
 * server would truncate to another slot's name (also for the slot
 * commands below).
 */
PGREPL_EXTERN int pgrepl_session_set_slot(pgrepl_session *s, const char *slot);
/* Add a publication (case is kept, the library quotes it). At least one is needed to start. */
PGREPL_EXTERN int pgrepl_session_add_publication(pgrepl_session *s, const char *name);
/* pgoutput proto_version 1-4; 0 (default) = the highest the server supports (14: 2, 15: 3, 16+: 4). */
PGREPL_EXTERN int pgrepl_session_set_proto_version(pgrepl_session *s, int version);
PGREPL_EXTERN int pgrepl_session_set_binary(pgrepl_session *s, bool on);
PGREPL_EXTERN int pgrepl_session_set_messages(pgrepl_session *s, bool on);
PGREPL_EXTERN int pgrepl_session_set_streaming(pgrepl_session *s, pgrepl_streaming_mode mode);
PGREPL_EXTERN int pgrepl_session_set_two_phase(pgrepl_session *s, bool on);
PGREPL_EXTERN int pgrepl_session_set_origin(pgrepl_session *s, pgrepl_origin_filter origin);
/*
 * Two positions, never confused (default 0/0 for both):
 *
 * pgrepl_session_set_start_lsn: where to ask the server to start. The
 * application may hold changes it has not made durable yet (written, not
 * fsynced) and not want them again: starting after them avoids the repeat.
 * The start position is never confirmed by itself: until the application
 * acknowledges it (pgrepl_session_ack), nothing beyond what was acknowledged
 * is confirmed, and the idle rule waits.
 *
 * pgrepl_session_set_durable_lsn: the application holds everything below
 * lsn durably from before this stream (its own store: the commit LSN it
 * saved with its data, an output file's last complete transaction). It is
 * confirmable as if acknowledged, and the server never starts before it,
 * so nothing the application holds is replayed after a server crash that
 * lost the slot's last confirmation.
 *
 * Every START_REPLICATION (also after a stop or a reconnection) asks for
 * the latest of the start position, the durable position and what was
 * acknowledged. When that is beyond the server's WAL (IDENTIFY_SYSTEM's
 * xlogpos: a typo, an LSN of another cluster, a server restored from a
 * backup) the stream fails with a fatal PGREPL_EINVAL before starting:
 * the server would skip every change up to it. Both may also be set in
 * RECONNECTING (e.g. from on_error), for the next connection; setting one
 * again replaces it (what was acknowledged is never asked for again).
 * docs/guide.md has the pattern for an application that writes first and
 * makes durable later.
 */
PGREPL_EXTERN int pgrepl_session_set_durable_lsn(pgrepl_session *s, pgrepl_lsn lsn);
PGREPL_EXTERN int pgrepl_session_set_start_lsn(pgrepl_session *s, pgrepl_lsn lsn);
/*
 * Gaps (default off: a certain gap is fatal). When the check before
 * streaming finds the slot ahead of what this consumer holds and the
 * stream streamed from it before (pgrepl_start_info.skip_certain), the
 * server would skip changes this consumer never had: the stream fails with
 * a fatal PGREPL_EGAP naming the range, after on_start. On: on_start
 * reports the range and the stream goes on. A range that is not certain
 * (only a durable position from before this stream) never stops it: on_start
 * reports it, and the application decides.
 */
PGREPL_EXTERN int pgrepl_session_set_allow_gaps(pgrepl_session *s, bool on);
/*
 * How long pgrepl_session_stop() waits for the server to end the
 * copy before closing the connection itself (default 5000; > 0, at most
 * 2^40).
 */
PGREPL_EXTERN int pgrepl_session_set_stop_timeout(pgrepl_session *s, uint64_t ms);
/* Status update interval in milliseconds (default 10000; > 0). Capped at half of wal_sender_timeout. */
PGREPL_EXTERN int pgrepl_session_set_status_interval(pgrepl_session *s, uint64_t ms);
/*
 * Silence watchdog in milliseconds (default 0 = off): when nothing arrived for
 * half of it, ask the server to reply; when nothing arrived for all of it,
 * the connection is declared dead (PGREPL_ETIMEDOUT).
 */
PGREPL_EXTERN int pgrepl_session_set_receive_timeout(pgrepl_session *s, uint64_t ms);
/* Read batching's defaults and bounds (pgrepl_session_set_read_batch). */
#define PGREPL_READ_BATCH_BYTES 1024
#define PGREPL_READ_BATCH_PAUSE_US 200
#define PGREPL_READ_BATCH_MAX_BYTES 1048576
#define PGREPL_READ_BATCH_MAX_PAUSE_US 100000
/*
 * Read batching (default on: min_bytes PGREPL_READ_BATCH_BYTES = 1024,
 * pause_us PGREPL_READ_BATCH_PAUSE_US = 200). The walsender
 * sends every message with its own send(); a reader that wakes for each
 * one spends most of its CPU in the kernel (and over TCP makes the kernel
 * send an acknowledgement per read, which the walsender pays for too).
 * A wakeup that brings at least min_bytes of replication data starts
 * a burst: from then on the stream leaves its socket unwatched for pause_us
 * microseconds after each read (its timer is set to pause_us), then reads what
 * came meanwhile; a read after a pause that brings less than min_bytes ends
 * the burst, and every message wakes the loop at once again. There is no
 * pause after a read that filled the stream's buffer (more may be queued).
 * Added latency: at most pause_us, only during a burst. Keep pause_us well
 * below the time the server needs to fill the socket's buffer, or the
 * walsender waits for the reader: a Unix socket holds a few hundred small
 * messages, about a millisecond of a walsender at full speed.
 * bench/README.md has what it saves. The pause is only as short as the
 * host's timer allows: the libuv binding uses a timerfd on Linux, and
 * rounds up to a millisecond elsewhere. TCP and Unix-domain sockets alike. min_bytes 0 turns it
 * off; else min_bytes <= PGREPL_READ_BATCH_MAX_BYTES (1048576) and
 * 1 <= pause_us <= PGREPL_READ_BATCH_MAX_PAUSE_US (100000), or
 * PGREPL_EINVAL. Applies from the next connection; PGREPL_ESTATE while
 * connected.
 */
PGREPL_EXTERN int pgrepl_session_set_read_batch(pgrepl_session *s, size_t min_bytes, uint64_t pause_us);
/*
 * Reconnection after a retryable failure (default on, 1000 to 60000 ms;
 * see "failures and reconnection" below). min_ms and max_ms bound the
 * delay: 0 < min_ms <= max_ms <= 2^40, or both 0 to turn reconnection off
 * (a failure then leaves the stream STOPPED). PGREPL_EINVAL otherwise.
 */
PGREPL_EXTERN int pgrepl_session_set_reconnect(pgrepl_session *s, uint64_t min_ms, uint64_t max_ms);
/*
 * Connect timeout in milliseconds: the whole setup of a connection (every
 * host libpq tries, authentication, IDENTIFY_SYSTEM, the session settings,
 * the check before streaming, START_REPLICATION) must finish within it,
 * else a retryable PGREPL_ETIMEDOUT. Slot commands, their callbacks and a
 * held snapshot are the application's time: the deadline stops while they
 * run and starts afresh for the check before streaming. 0 (default): the
 * conninfo's connect_timeout or PGCONNECT_TIMEOUT (seconds, at least 2),
 * else 10000. (libpq ignores connect_timeout on a non-blocking connection.)
 */
PGREPL_EXTERN int pgrepl_session_set_connect_timeout(pgrepl_session *s, uint64_t ms);
/*
 * Acknowledge each unit when its callback returns 0 (default off): Commit,
 * Stream Commit, Prepare, Stream Prepare, Commit Prepared, Rollback Prepared
 * and non-transactional Message (a missing callback counts as 0).
 */
PGREPL_EXTERN int pgrepl_session_set_auto_ack(pgrepl_session *s, bool on);
/*
 * The idle rule (default on): when no transaction is open and everything
 * delivered was acknowledged, the flush position reported follows the
 * server's keepalive walEnd, so that a slot whose publication is quiet
 * advances while other databases or unpublished tables write (protocol.md
 * 5.4). Off: only acknowledged positions (and heartbeat messages, see
 * below) are confirmed.
 */
PGREPL_EXTERN int pgrepl_session_set_idle_advance(pgrepl_session *s, bool on);
/*
 * Callbacks: decoder callbacks (one per pgoutput message, see decode.h; their
 * ud argument is the stream's user data) and stream callbacks. Either may be
 * NULL. Sizes as in pgrepl_decoder_new(). PGREPL_EINVAL when a size is larger
 * than this library's struct. A decoder callback returning PGREPL_PAUSE pauses
 * the stream as pgrepl_session_pause() does; any other non-zero return is a
 * fatal PGREPL_ECALLBACK error (the connection is closed, nothing more is
 * acknowledged).
 */
PGREPL_EXTERN int pgrepl_session_set_callbacks(pgrepl_session *s, const pgrepl_decoder_callbacks *dcb, size_t dcb_size,
                                              const pgrepl_session_callbacks *scb, size_t scb_size);
/* User data: passed as ud to decoder callbacks; read back with pgrepl_session_get_data(). Any state. */
PGREPL_EXTERN void pgrepl_session_set_data(pgrepl_session *s, void *data);
PGREPL_EXTERN void *pgrepl_session_get_data(const pgrepl_session *s);

/* ---- running ------------------------------------------------------------ */

/*
 * Connect, identify, run the queued slot commands, check the publications
 * and the slot, then START_REPLICATION; until stopped, closed or failed
 * fatally, reconnect after retryable failures (see "failures and
 * reconnection"). From STOPPED (connects first) or READY. Returns 0
 * (progress is reported through on_state / on_error), PGREPL_EINVAL when no
 * slot or no publication is configured, PGREPL_ESTATE in another state
 * (also RECONNECTING) or when a start is already pending.
 */
PGREPL_EXTERN int pgrepl_session_start(pgrepl_session *s);
/*
 * Connect, identify and run queued slot commands, then stay READY without
 * streaming (for slot management only). From STOPPED.
 */
PGREPL_EXTERN int pgrepl_session_connect(pgrepl_session *s);
/*
 * Graceful stop: no more data callbacks; a final status update with the
 * acknowledged position, CopyDone, drain what the server still sends (not
 * delivered), then close the connection and go to STOPPED. Data not yet
 * acknowledged is sent again by the next start. The server ends the copy
 * only once it has read CopyDone, which a walsender inside a large
 * transaction does only after it: after the stop timeout
 * (pgrepl_session_set_stop_timeout, default 5000 ms) the stream closes the
 * connection itself and goes to STOPPED all the same (the final status
 * update went out before CopyDone). The receive timeout, when shorter, ends
 * it sooner as a failure. In CONNECTING or READY it closes the connection.
 * No-op in STOPPED. Safe from callbacks.
 */
PGREPL_EXTERN int pgrepl_session_stop(pgrepl_session *s);
/*
 * Release the connections: they are closed without a final status update,
 * every socket is unwatched and the timer canceled, queued slot commands
 * are completed with PGREPL_ECANCELED, then close_cb (may be NULL) runs;
 * after it the session calls neither the host nor the application again,
 * and only pgrepl_session_free and the getters may be called. close_cb
 * runs from pgrepl_session_timeout (the session sets its timer to 0),
 * never from inside this call. Safe from callbacks; a second call is
 * ignored. Returns 0, PGREPL_EINVAL for NULL.
 */
PGREPL_EXTERN int pgrepl_session_close(pgrepl_session *s, void (*close_cb)(pgrepl_session *s));
/*
 * Free the session. Without an earlier close, it closes first, at once:
 * sockets unwatched, the timer canceled, the connections closed, no
 * callback run (queued slot commands are dropped). From inside a callback
 * (close_cb included) no further callback runs, and the free happens when
 * the session is off the stack. NULL is ignored.
 */
PGREPL_EXTERN void pgrepl_session_free(pgrepl_session *s);

/*
 * Stop reading from the server (backpressure). Status updates keep flowing,
 * so the server does not time the connection out. Safe from callbacks: a
 * pause from a decoder callback takes effect after that message. The pause
 * lasts until pgrepl_session_resume(), across stop and start.
 */
PGREPL_EXTERN int pgrepl_session_pause(pgrepl_session *s);
/* Resume reading; data already buffered in libpq is delivered without waiting for the socket. */
PGREPL_EXTERN int pgrepl_session_resume(pgrepl_session *s);

/* ---- failures and reconnection ------------------------------------------ *
 *
 * Every failure reaches on_error once; err->fatal says whether retrying the
 * same configuration can help, err->hint what an operator can do, and
 * err->retrying whether the stream reconnects (RECONNECTING) after
 * err->retry_in_ms. Which errors are retryable or fatal, the check before
 * streaming, the backoff, the connection's TCP defaults and how untrusted
 * input is bounded: docs/guide.md, "Failures and reconnection".
 */

/* Reconnections started since the stream was created. */
PGREPL_EXTERN uint64_t pgrepl_session_reconnects(const pgrepl_session *s);

/* ---- acknowledgement ---------------------------------------------------- */

/*
 * The application has durably processed everything up to lsn: a commit's
 * end_lsn (pgrepl_msg_commit.end_lsn), a Prepare / Commit Prepared / Rollback
 * Prepared end LSN, or a non-transactional message's lsn. Clamped to what
 * was received; never goes backwards. The next status update reports it
 * (at once if the server is waiting for it). Safe from callbacks.
 * Returns 0, or PGREPL_EINVAL for NULL s.
 */
PGREPL_EXTERN int pgrepl_session_ack(pgrepl_session *s, pgrepl_lsn lsn);

/* Positions: highest received, acknowledged by the application, last reported as flushed. */
PGREPL_EXTERN pgrepl_lsn pgrepl_session_received_lsn(const pgrepl_session *s);
PGREPL_EXTERN pgrepl_lsn pgrepl_session_acked_lsn(const pgrepl_session *s);
PGREPL_EXTERN pgrepl_lsn pgrepl_session_reported_lsn(const pgrepl_session *s);

/* ---- heartbeats ------------------------------------------------------------ *
 *
 * While STREAMING, a second, normal connection to the slot's database runs
 * pg_logical_emit_message every interval, so that a quiet slot keeps
 * moving, and checks that the stream reaches each heartbeat (its lag, and
 * PGREPL_EBEHIND or PGREPL_ESTALLED through on_error when it does not).
 * Problems of that connection are reported through on_warning and
 * retried; the stream goes on. Heartbeat messages are not handed to
 * on_message unless asked for. docs/guide.md, "Heartbeats", has the whole
 * behaviour. Setters: only in STOPPED state, like the configuration above
 * (PGREPL_ESTATE otherwise, PGREPL_EINVAL for a NULL session or bad value).
 */
/* Interval in milliseconds (default 10000); 0 disables heartbeats (no side connection). At most 2^40. */
PGREPL_EXTERN int pgrepl_session_set_heartbeat_interval(pgrepl_session *s, uint64_t ms);
/* Message prefix (default "pgrepl.heartbeat"); not empty. */
PGREPL_EXTERN int pgrepl_session_set_heartbeat_prefix(pgrepl_session *s, const char *prefix);
/*
 * Deadline in milliseconds (default 60000) for a heartbeat to be seen, and
 * for the side connection to connect or to run one heartbeat; 0 disables
 * the stall check (the side connection then gets 60 s). At most 2^40.
 */
PGREPL_EXTERN int pgrepl_session_set_heartbeat_deadline(pgrepl_session *s, uint64_t ms);
/* Hand heartbeat messages to on_message like any other (default off); the application acknowledges them. */
PGREPL_EXTERN int pgrepl_session_set_deliver_heartbeats(pgrepl_session *s, bool on);
/*
 * Emit to seen of the last heartbeat seen, in microseconds; -1 before the
 * first (it survives stop and start). Any state; from callbacks too.
 */
PGREPL_EXTERN int64_t pgrepl_session_heartbeat_lag_us(const pgrepl_session *s);

/* ---- what the server said ------------------------------------------------ */

PGREPL_EXTERN pgrepl_stream_state pgrepl_session_get_state(const pgrepl_session *s);
/* Known once READY or STREAMING (0 / "" before). */
PGREPL_EXTERN int pgrepl_session_server_version(const pgrepl_session *s); /* e.g. 180004 */
PGREPL_EXTERN const char *pgrepl_session_system_id(const pgrepl_session *s);
/*
 * The database's encoding ("UTF8", "LATIN1", "SQL_ASCII", ...). The stream
 * asks for UTF-8 (client_encoding), so every name and text value arrives
 * as UTF-8, except from a SQL_ASCII database, whose bytes the server passes
 * on unchecked (asking for UTF-8 there would make the server stop the
 * stream at the first byte that is not): they may be anything.
 */
PGREPL_EXTERN const char *pgrepl_session_server_encoding(const pgrepl_session *s);
PGREPL_EXTERN uint32_t pgrepl_session_timeline(const pgrepl_session *s);
PGREPL_EXTERN pgrepl_lsn pgrepl_session_server_xlogpos(const pgrepl_session *s); /* IDENTIFY_SYSTEM's xlogpos */
PGREPL_EXTERN uint64_t pgrepl_session_wal_sender_timeout_ms(const pgrepl_session *s); /* 0 = disabled */
PGREPL_EXTERN int pgrepl_session_proto_version(const pgrepl_session *s); /* negotiated */
/* Last error message ("" if none). Valid until the next call on the stream. */
PGREPL_EXTERN const char *pgrepl_session_errmsg(const pgrepl_session *s);
/* SQLSTATE of the last server error ("" if none). */
PGREPL_EXTERN const char *pgrepl_session_sqlstate(const pgrepl_session *s);
/* The host table given to pgrepl_session_new (its arg is what the host's operations receive). */
PGREPL_EXTERN const pgrepl_session_host *pgrepl_session_host_of(const pgrepl_session *s);

/* ---- slot management on the same connection ----------------------------- *
 *
 * Slot commands are queued and run in order on the replication connection
 * after it is identified and before START_REPLICATION (or READY). They may be
 * queued in STOPPED, CONNECTING and READY; in READY they run at once. Each
 * completes through its callback (cb may be NULL) with status 0 or a PGREPL_E*
 * code (the server's message in pgrepl_session_errmsg / _sqlstate during the
 * callback) and the arg given with the command, the application's own.
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
                                    pgrepl_session_snapshot_done() */
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

typedef void (*pgrepl_slot_created_cb)(pgrepl_session *s, int status, const pgrepl_slot_created *slot, void *arg);

/*
 * Queue CREATE_REPLICATION_SLOT name [TEMPORARY] LOGICAL pgoutput with the
 * options the server version needs. PGREPL_EUNSUPPORTED (through the
 * callback) for TWO_PHASE on 14 or FAILOVER before 17 or with TEMPORARY.
 */
PGREPL_EXTERN int pgrepl_session_create_slot(pgrepl_session *s, const char *name, unsigned flags,
                                            pgrepl_snapshot_action snapshot, pgrepl_slot_created_cb cb, void *arg);
/*
 * The exported snapshot has been used (imported elsewhere, or the initial copy
 * on this connection is done): release the connection so that it goes on
 * (START_REPLICATION, or the next command). For SNAPSHOT_USE, COMMIT is sent.
 */
PGREPL_EXTERN int pgrepl_session_snapshot_done(pgrepl_session *s);

typedef void (*pgrepl_slot_cb)(pgrepl_session *s, int status, void *arg);
/* Queue DROP_REPLICATION_SLOT name [WAIT]. */
PGREPL_EXTERN int pgrepl_session_drop_slot(pgrepl_session *s, const char *name, bool wait, pgrepl_slot_cb cb,
                                          void *arg);

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

typedef void (*pgrepl_slot_info_cb)(pgrepl_session *s, int status, const pgrepl_slot_info *info, void *arg);
/* Queue a health query for one slot. status 0 with info->exists false when there is no such slot. */
PGREPL_EXTERN int pgrepl_session_slot_info(pgrepl_session *s, const char *name, pgrepl_slot_info_cb cb, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* PGREPL_SESSION_H */
