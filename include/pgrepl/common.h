/*
 * pgrepl/common.h - export macro, basic types, error codes, allocator, LSNs.
 *
 * Everything in this header is free of I/O and safe to call from any thread
 * unless stated otherwise.
 */
#ifndef PGREPL_COMMON_H
#define PGREPL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One export macro: the library is built with hidden visibility by default. */
#if defined(PGREPL_BUILDING) && defined(__GNUC__)
#define PGREPL_EXTERN __attribute__((visibility("default")))
#else
#define PGREPL_EXTERN
#endif

/* A WAL position (XLogRecPtr): unsigned 64 bits, printed as "%X/%X". */
typedef uint64_t pgrepl_lsn;

/*
 * A protocol timestamp: signed microseconds since 2000-01-01 00:00:00 UTC,
 * the PostgreSQL epoch used by every timestamp on the replication wire.
 */
typedef int64_t pgrepl_timestamp;

/* Microseconds between the Unix epoch and the PostgreSQL epoch. */
#define PGREPL_EPOCH_OFFSET_US INT64_C(946684800000000)

/*
 * Error codes. All are negative; 0 is success. The list is append-only: a
 * code's number never changes. Each entry: name, value, message, and whether
 * it is FATAL (retrying the same operation cannot help) or TRANSIENT.
 *
 *   PGREPL_ENOMEM       out of memory (transient)
 *   PGREPL_EINVAL       invalid argument passed by the caller (fatal)
 *   PGREPL_ETRUNCATED   a protocol message ended before a field it must hold (fatal)
 *   PGREPL_ETRAILING    a protocol message has bytes after its last field (fatal)
 *   PGREPL_EUNKNOWNMSG  unknown message type byte (fatal)
 *   PGREPL_ETUPLEKIND   TupleData column kind other than n, u, t, b (fatal)
 *   PGREPL_ECOLUMNS     tuple column count differs from the cached relation (fatal)
 *   PGREPL_ERELATION    change for a relation OID never described by a Relation message (fatal)
 *   PGREPL_ELENGTH      negative or impossible length or count field (fatal)
 *   PGREPL_EPROTOCOL    message not valid in this position or with this content (fatal)
 *   PGREPL_ECALLBACK    an application callback returned an error (fatal)
 *   PGREPL_EBADLSN      text is not a valid LSN "X/X" (fatal)
 *   PGREPL_ENOTFOUND    no such object (type OID, relation, ...) (fatal)
 *   PGREPL_ERANGE       a value does not fit the destination (fatal)
 *   PGREPL_ESTATE       call not valid in the object's current state (fatal)
 *   PGREPL_ECONNECT     could not connect to the server (transient)
 *   PGREPL_ECONNLOST    the connection was lost (transient)
 *   PGREPL_ESERVER      the server reported an error; see the SQLSTATE (fatality
 *                       depends on it: the error report says)
 *   PGREPL_ETIMEDOUT    no answer in time (transient)
 *   PGREPL_EUNSUPPORTED the server version does not support what was asked (fatal)
 *   PGREPL_ECANCELED    the operation was canceled by close (fatal)
 *   PGREPL_ESTALLED     a heartbeat was not seen by a stream that claims to be
 *                       streaming (transient)
 *   PGREPL_EGAP         the slot is ahead of what this consumer acknowledged:
 *                       the server would skip changes it never delivered (fatal)
 *   PGREPL_EBEHIND      a heartbeat was not seen within its deadline by a stream
 *                       that is moving, only behind it (transient)
 */
#define PGREPL_ERRNO_MAP(XX)                                                         \
    XX(ENOMEM, -1, "out of memory", 0)                                                \
    XX(EINVAL, -2, "invalid argument", 1)                                             \
    XX(ETRUNCATED, -3, "message truncated", 1)                                        \
    XX(ETRAILING, -4, "trailing bytes after message", 1)                              \
    XX(EUNKNOWNMSG, -5, "unknown message type", 1)                                    \
    XX(ETUPLEKIND, -6, "bad tuple column kind", 1)                                    \
    XX(ECOLUMNS, -7, "column count differs from relation", 1)                         \
    XX(ERELATION, -8, "change for unknown relation", 1)                               \
    XX(ELENGTH, -9, "invalid length or count", 1)                                     \
    XX(EPROTOCOL, -10, "protocol violation", 1)                                       \
    XX(ECALLBACK, -11, "callback failed", 1)                                          \
    XX(EBADLSN, -12, "malformed LSN", 1)                                              \
    XX(ENOTFOUND, -13, "not found", 1)                                                \
    XX(ERANGE, -14, "value out of range", 1)                                          \
    XX(ESTATE, -15, "not valid in the current state", 1)                              \
    XX(ECONNECT, -16, "could not connect", 0)                                         \
    XX(ECONNLOST, -17, "connection lost", 0)                                          \
    XX(ESERVER, -18, "server error", 1)                                               \
    XX(ETIMEDOUT, -19, "timed out", 0)                                                \
    XX(EUNSUPPORTED, -20, "not supported by the server version", 1)                   \
    XX(ECANCELED, -21, "operation canceled", 1)                                       \
    XX(ESTALLED, -22, "stream stalled", 0)                                            \
    XX(EGAP, -23, "changes would be skipped", 1)                                      \
    XX(EBEHIND, -24, "stream behind", 0)

typedef enum pgrepl_errno {
#define PGREPL_ERRNO_ENUM_(name, val, msg, fatal) PGREPL_##name = (val),
    PGREPL_ERRNO_MAP(PGREPL_ERRNO_ENUM_)
#undef PGREPL_ERRNO_ENUM_
    PGREPL_OK = 0
} pgrepl_errno;

/*
 * Positive return value of a callback (and of functions that run callbacks)
 * asking the caller to stop after the current message. Not an error.
 */
#define PGREPL_PAUSE 1

/* Message for an error code ("unknown error" for anything else). Static storage. */
PGREPL_EXTERN const char *pgrepl_strerror(int err);
/* Name of an error code ("PGREPL_ETRUNCATED"), or "PGREPL_EUNKNOWN". Static storage. */
PGREPL_EXTERN const char *pgrepl_err_name(int err);
/* 1 if retrying the failed operation cannot help, 0 if it may, -1 if err is not an error code. */
PGREPL_EXTERN int pgrepl_err_is_fatal(int err);

/*
 * Allocator used for every allocation the library makes. Set it before any
 * other pgrepl call (not thread-safe; affects the whole process). The
 * functions must behave like malloc/realloc/free; realloc(NULL, n) must act
 * as malloc. Passing NULL restores the C library's functions.
 */
typedef struct pgrepl_allocator {
    void *(*malloc_fn)(size_t size);
    void *(*realloc_fn)(void *ptr, size_t size);
    void (*free_fn)(void *ptr);
} pgrepl_allocator;

PGREPL_EXTERN void pgrepl_set_allocator(const pgrepl_allocator *alloc);

/* Size of a buffer that holds any formatted LSN plus its NUL ("FFFFFFFF/FFFFFFFF"). */
#define PGREPL_LSN_BUFSIZE 18

/*
 * Parse "X/X" (1-8 hex digits each side, either case, nothing else; leading
 * and trailing blanks are not accepted). On success stores the LSN and
 * returns 0; otherwise returns PGREPL_EBADLSN and leaves *out untouched.
 * PGREPL_EINVAL if text or out is NULL.
 */
PGREPL_EXTERN int pgrepl_lsn_parse(const char *text, pgrepl_lsn *out);

/*
 * Format as PostgreSQL prints pg_lsn: upper-case hex, no padding ("0/1BE84E0").
 * buf must hold PGREPL_LSN_BUFSIZE bytes. Returns the length written (without NUL).
 */
PGREPL_EXTERN int pgrepl_lsn_format(pgrepl_lsn lsn, char buf[PGREPL_LSN_BUFSIZE]);

/* Size of a buffer that holds any formatted timestamp ("2026-11-21T13:56:57.383134Z") plus NUL. */
#define PGREPL_TIMESTAMP_BUFSIZE 40

/*
 * Format a protocol timestamp as RFC 3339 in UTC with microseconds. Years
 * outside 1..9999 are printed with as many digits as needed and a sign.
 * Returns the length written (without NUL).
 */
PGREPL_EXTERN int pgrepl_timestamp_format(pgrepl_timestamp ts, char buf[PGREPL_TIMESTAMP_BUFSIZE]);

#ifdef __cplusplus
}
#endif

#endif /* PGREPL_COMMON_H */
