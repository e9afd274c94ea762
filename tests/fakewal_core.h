/*
 * fakewal_core: the protocol side of a scripted fake walsender, stepped by
 * its caller on sockets it is given. tests/tools/fakewal.c runs it as a
 * process on a TCP port with the real clock; tests/unit/test_session.c runs
 * it in the test's own process, on a Unix socket and a fake clock.
 *
 * It never blocks and never reads a clock of its own: the caller polls the
 * sockets fakewal_fds() names, reports readiness with fakewal_io(), calls
 * fakewal_timeout() once the clock reaches fakewal_due(), and supplies the
 * clock (microseconds, monotonic) through the configuration. Output the
 * socket does not take at once is kept and written as it becomes writable;
 * a script action that sends waits until everything before it was written.
 *
 * Connections: each one answers like a PostgreSQL server of the configured
 * version (server_version, default "16.4"; before 16 IDENTIFY_SYSTEM's
 * timeline column is int4): SSL and GSS requests are refused,
 * authentication succeeds.
 *
 * A replication connection (startup parameter replication=database, true,
 * on, yes or 1) answers IDENTIFY_SYSTEM, SHOW, SET, BEGIN / COMMIT /
 * ROLLBACK, the stream's check (a SELECT: every publication exists, the
 * slot is valid), CREATE_REPLICATION_SLOT / DROP_REPLICATION_SLOT and the
 * slot query (SELECT s.slot_name ...) on a table of slots of its own (a
 * slot's confirmed_flush_lsn follows the status updates sent while
 * streaming from it), and START_REPLICATION with CopyBothResponse; other
 * commands get an ERROR 42601. After START_REPLICATION the connection's
 * block of the script runs: replication connection N runs block N,
 * connections after the last block are "idle".
 *
 * Any other connection is a normal backend, as the stream's heartbeat
 * connection is: it answers the extended protocol (Parse, Bind, Describe,
 * Execute, Sync) of pg_logical_emit_message with the LSN of the new
 * message (the highest LSN a script sent, or the last heartbeat's, plus
 * 0x40), and from then on idle keepalives carry that LSN as walEnd, so the
 * stream sees the heartbeat. fakewal_config.side can make these
 * connections fail instead. Simple queries get the replication answers.
 *
 * SCRIPT: blocks separated by lines "---"; '#' starts a comment line. Each
 * line of a block is one action:
 *   silent        (first line only) answer nothing at all, not even the
 *                 startup; read until the client goes away
 *   d HEX         send a CopyData message with payload HEX
 *   raw HEX       send the bytes HEX as they are (broken framing)
 *   fill N HH     send N bytes of the value HH (hex) as they are
 *   sleep MS      read and log what the client sends for MS milliseconds
 *                 of the caller's clock
 *   close         close the connection
 *   hang          send nothing more; read until the client goes away
 *   idle          a keepalive (walEnd: the last heartbeat's LSN, 0/0
 *                 before one) every 300 ms; read until the client goes away
 * A block that ends without close, hang or idle goes on as idle.
 *
 * fakewal_config.block, when set, writes each replication connection's
 * block instead, at its START_REPLICATION: it is given the connection's
 * number among the replication connections (from 1) and the LSN asked
 * for, and returns the block's text (no "---"), read before it returns;
 * the script is then not used for replication connections. A model test
 * decides so what each connection sends from where it was asked to start.
 * A malformed block logs "script error: WHY" and closes the connection.
 *
 * LOG, one line per event (lines end in '\n'):
 *   conn N / startup KEY=VALUE... / query SQL / bind [VALUE]... /
 *   status WRITE FLUSH [reply] / copydata N bytes, first 0xHH / copydone /
 *   message 0xHH / closed
 * conn N numbers every connection accepted, from 1; LSNs as X/X; "reply"
 * when the status update asks the server to reply.
 */
#ifndef PGREPL_TESTS_FAKEWAL_CORE_H
#define PGREPL_TESTS_FAKEWAL_CORE_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fakewal fakewal;

/* What a normal (non-replication) connection does. */
typedef enum fakewal_side {
    FAKEWAL_SIDE_ANSWER = 0, /* answer as above */
    FAKEWAL_SIDE_CLOSE,      /* close it when its startup packet arrives */
    FAKEWAL_SIDE_ERROR       /* ERROR 42501 (permission denied) for pg_logical_emit_message */
} fakewal_side;

typedef struct fakewal_config {
    const char *script;                       /* the script's text */
    const char *version;                      /* server_version; NULL: "16.4" */
    int64_t (*now)(void *arg);                /* the clock: microseconds, monotonic (required) */
    void (*log)(void *arg, const char *line); /* each log line as it happens, without '\n'; may be NULL */
    void *arg;
    fakewal_side side;
    /* each replication connection's block, written at its START_REPLICATION; may be NULL */
    const char *(*block)(void *arg, int n, uint64_t start_lsn);
} fakewal_config;

/*
 * A fake server running script. NULL when the script is malformed (why
 * says which line and why) or memory runs out. Nothing is listened on yet.
 */
fakewal *fakewal_new(const fakewal_config *cfg, char *why, size_t why_size);
/* Close every connection (not the listening sockets: they are the caller's) and free. NULL is ignored. */
void fakewal_free(fakewal *fw);
/* Accept connections on fd, a listening socket (made non-blocking here). 0, or -1 when there are too many. */
int fakewal_listen(fakewal *fw, int fd);
/*
 * The sockets to poll and what for: fills fds[0 .. max) and returns how
 * many there are (more than max: the rest did not fit). Read again after
 * every fakewal_* call: connections come and go.
 */
int fakewal_fds(const fakewal *fw, struct pollfd *fds, int max);
/* fd, one fakewal_fds named, is ready: revents as poll(2) set them. An fd no longer known is ignored. */
void fakewal_io(fakewal *fw, int fd, short revents);
/* The clock reached fakewal_due(): end the sleeps that are over, send idle keepalives. Harmless early. */
void fakewal_timeout(fakewal *fw);
/* The next time something is due on the caller's clock (microseconds), -1 when nothing is. */
int64_t fakewal_due(const fakewal *fw);
/* Everything logged so far, one line per event. */
const char *fakewal_log_text(const fakewal *fw);
/* Connections open now. */
int fakewal_connections(const fakewal *fw);

#endif
