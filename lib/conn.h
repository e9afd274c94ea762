/*
 * L3: one libpq replication connection as a non-blocking state machine.
 *
 * It never waits and knows no event loop. The owner asks what to watch
 * (pgrepl__conn_wants, pgrepl__conn_socket), reports readiness
 * (pgrepl__conn_io) and pulls events (pgrepl__conn_next) until NONE. Only
 * pgrepl__conn_io reads or writes the socket; pgrepl__conn_next works on
 * what libpq already buffered, so data that arrived with an earlier read is
 * never left waiting for a readiness the socket will not signal again.
 *
 * Commands use the simple query protocol only (replication connections
 * refuse the extended one), one at a time.
 *
 * The copy (pgrepl__conn_start_copy) on a plaintext connection is read and
 * written here, on the socket, not by libpq: libpq reserves its input buffer
 * for a message's declared length before the bytes arrive (a 5-byte header
 * can claim 1 GB), while the copy reader's buffer (copyreader.h), which this
 * file reads into, grows only with bytes received (to at most twice what
 * arrived of a message, and at least the initial PGREPL_CONN_INBUF), and
 * each CopyData is handed out in place, with no allocation or copy per
 * message. With SSL or GSS encryption only libpq can
 * read the socket, and it does. After a copy read here the connection takes
 * no further command: the owner closes it.
 *
 * During connection setup the socket can change on every PQconnectPoll
 * call, which pgrepl__conn_io makes while pgrepl__conn_connecting is true:
 * the owner must stop watching the old socket before that call and re-read
 * pgrepl__conn_socket after it.
 */
#ifndef PGREPL_LIB_CONN_H
#define PGREPL_LIB_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "pgrepl/session.h"
#include "pgrepl/values.h"
#include "copyreader.h"
#include "pqerror.h"

#define PGREPL_CONN_READ 0x01
#define PGREPL_CONN_WRITE 0x02

/* The input buffer of a copy read on the socket starts at this size, and shrinks back to it once empty. */
#define PGREPL_CONN_INBUF PGREPL_COPYREADER_INBUF
/* Largest message accepted on the socket: CopyData (the server's own limit is 1 GB), any other message. */
#define PGREPL_CONN_MAX_COPYDATA PGREPL_COPYREADER_MAX_COPYDATA
#define PGREPL_CONN_MAX_OTHER PGREPL_COPYREADER_MAX_OTHER

typedef enum pgrepl_conn_phase {
    PGREPL_CONN_CLOSED = 0, /* no PGconn */
    PGREPL_CONN_CONNECTING, /* PQconnectPoll in progress */
    PGREPL_CONN_IDLE,       /* connected, no command in flight */
    PGREPL_CONN_BUSY,       /* a command in flight: results follow */
    PGREPL_CONN_COPY,       /* CopyBoth: CopyData in both directions */
    PGREPL_CONN_DRAIN,      /* CopyDone sent: the rest of the server's CopyData is discarded */
    PGREPL_CONN_FAILED      /* broken; pgrepl__conn_finish is all that is left */
} pgrepl_conn_phase;

typedef enum pgrepl_conn_event_kind {
    PGREPL_CONN_EV_NONE = 0,  /* nothing until the socket is ready as pgrepl__conn_wants says */
    PGREPL_CONN_EV_CONNECTED, /* the connection is up and idle */
    PGREPL_CONN_EV_RESULT,    /* result: one result of the command in flight; the receiver PQclear()s it */
    PGREPL_CONN_EV_DONE,      /* the command in flight (or the drained copy) is complete: idle again */
    PGREPL_CONN_EV_COPY_BOTH, /* the command started CopyBoth (START_REPLICATION accepted) */
    PGREPL_CONN_EV_DATA,      /* data/len: one CopyData payload, valid until the next call */
    PGREPL_CONN_EV_NOTICE,    /* a NoticeResponse went to the notice function: nothing to do, but the owner
                                 sees what that function asked for before the next event */
    PGREPL_CONN_EV_ERROR,     /* error: the server's ErrorResponse in a copy read on the socket; the receiver
                                 pgrepl__conn_error_free()s it. The command's DONE (or FAILED) follows. */
    PGREPL_CONN_EV_FAILED     /* code (PGREPL_ECONNECT, PGREPL_ECONNLOST, PGREPL_EPROTOCOL for bytes that are
                                 not the protocol, PGREPL_ENOMEM when a copy read here could not grow its buffer),
                                 message in pgrepl__conn_errmsg */
} pgrepl_conn_event_kind;

/* A server error, owning its strings. */
typedef struct pgrepl_conn_error {
    pgrepl_server_message m; /* fields point into this allocation */
} pgrepl_conn_error;

typedef struct pgrepl_conn_event {
    pgrepl_conn_event_kind kind;
    PGresult *result;
    pgrepl_conn_error *error;
    const char *data;
    size_t len;
    int code;
} pgrepl_conn_event;

/* A server notice (NoticeResponse), valid during the call. */
typedef void (*pgrepl_conn_notice_fn)(void *arg, const pgrepl_server_message *m);

typedef struct pgrepl_conn {
    PGconn *pg;
    pgrepl_conn_phase phase;
    PostgresPollingStatusType polling; /* last PQconnectPoll answer while connecting */
    bool connected;                    /* CONNECTED not yet pulled */
    bool flushing;                     /* PQflush left data to send: watch for writable */
    bool lost;                         /* reading failed: deliver what is buffered, then fail */
    int lost_code;                     /* the FAILED code then: PGREPL_ECONNLOST, or PGREPL_ENOMEM (raw buffers) */
    int fail_code;                     /* FAILED not yet pulled when non-zero */
    char *copybuf;                     /* last CopyData handed out (libpq's copy) */
    pgrepl_conn_notice_fn notice;
    void *notice_arg;
    /* A copy read on the socket (raw): the input and output buffers. */
    bool raw;
    bool copied;                       /* the copy began: CopyData after it ended is discarded, as libpq does */
    bool filled;                       /* the last read filled the room it had: more may be waiting */
    int sock;
    pgrepl_copyreader in;              /* frames what is read: CopyData handed out in place */
    pgrepl_buf out;
    size_t out_start;                  /* unsent bytes are out.data[out_start, out.len) */
    char errmsg[512];
    pgrepl_connect_diag diag;          /* a failed connection setup, taken apart (sqlstate "" if no server error) */
} pgrepl_conn;

void pgrepl__conn_init(pgrepl_conn *c);

/*
 * Start connecting: conninfo is expanded by libpq (key=value or URI; libpq
 * environment variables and service files apply), replication=database is
 * forced. Notices go to notice(arg, message) (NULL: dropped). Returns 0 (a failure to start is a
 * FAILED event) or PGREPL_ENOMEM. TCP keepalives (idle 30 s, interval 10 s,
 * 3 probes) and tcp_user_timeout=30000 are defaults the conninfo may change.
 * A failure during setup is also taken apart in c->diag.
 */
int pgrepl__conn_start(pgrepl_conn *c, const char *conninfo, pgrepl_conn_notice_fn notice, void *arg);

/* The socket is ready for the PGREPL_CONN_* bits in events: read, write or advance the connection setup. */
void pgrepl__conn_io(pgrepl_conn *c, unsigned events);

/* The next event from what is buffered. */
void pgrepl__conn_next(pgrepl_conn *c, pgrepl_conn_event *ev);

/* Send one command (simple protocol). Only when idle: PGREPL_ESTATE otherwise; a send failure is a FAILED event. */
int pgrepl__conn_send(pgrepl_conn *c, const char *sql);

/*
 * Send a command that starts a copy (START_REPLICATION), only when idle. On
 * a plaintext connection the command and everything after it go over the
 * socket directly (see the top of this file); otherwise as pgrepl__conn_send.
 * Returns as pgrepl__conn_send, or PGREPL_ENOMEM.
 */
int pgrepl__conn_start_copy(pgrepl_conn *c, const char *sql);

/* Free an ERROR event's error (NULL is fine). */
void pgrepl__conn_error_free(pgrepl_conn_error *e);

/* Queue one CopyData message (only in COPY). Returns 0, PGREPL_ENOMEM, or PGREPL_ECONNLOST (a FAILED event follows). */
int pgrepl__conn_put(pgrepl_conn *c, const void *buf, size_t len);

/* Send CopyDone (only in COPY) and discard what the server still sends. Returns as pgrepl__conn_put. */
int pgrepl__conn_end_copy(pgrepl_conn *c);

/* What to watch: PGREPL_CONN_READ / PGREPL_CONN_WRITE bits. */
unsigned pgrepl__conn_wants(const pgrepl_conn *c);

/* The socket to watch, -1 when there is none (closed or failed). */
int pgrepl__conn_socket(const pgrepl_conn *c);

/* True while PQconnectPoll is in progress (the socket may change on the next pgrepl__conn_io). */
bool pgrepl__conn_connecting(const pgrepl_conn *c);
/* In the copy: CopyData can still be sent (false once either side ended it, or the connection failed). */
bool pgrepl__conn_copying(const pgrepl_conn *c);

/* The copy is read on the socket and its last read filled the buffer's room: more bytes may be queued. */
bool pgrepl__conn_read_filled(const pgrepl_conn *c);

/* True while libpq considers the connection healthy. */
bool pgrepl__conn_ok(const pgrepl_conn *c);

/* connect_timeout from the conninfo or PGCONNECT_TIMEOUT, in milliseconds; 0 when not set. After _start. */
uint64_t pgrepl__conn_connect_timeout_ms(const pgrepl_conn *c);

/* PQserverVersion, 0 before connecting. */
int pgrepl__conn_server_version(const pgrepl_conn *c);
/* A parameter the server reported (PQparameterStatus), or "". */
const char *pgrepl__conn_parameter(const pgrepl_conn *c, const char *name);

/* libpq's last error on one line (""). */
const char *pgrepl__conn_errmsg(const pgrepl_conn *c);

/* Close the connection (PQfinish). The owner stops watching the socket first. */
void pgrepl__conn_finish(pgrepl_conn *c);

#endif
