/*
 * declog: a canonical text log of decoder callbacks, one line per callback,
 * printing every field of the event. Used as the "expected callback log" of
 * the fixtures test and by other tests and the fuzz target.
 *
 * Line format (fields separated by one space, each line ends with '\n'):
 *   <type> start=X/X end=X/X sent=TIME <name=value...>
 * where <type> is the pgoutput message byte ('B', 'C', 'Y', ...) and the
 * first three fields are the XLogData header. Relation lines ("R xid=...")
 * have no header fields: the relation callback does not receive one. LSNs
 * are X/X, times RFC 3339 UTC. Strings are printed in double quotes with
 * \\, \", \n, \t, \r and \xHH for every other byte outside 0x20..0x7e
 * (message contents too). A relation is schema.name (same escaping, no
 * quotes, a space as \x20). A tuple is [v v ...] with v one of n, u,
 * t"text" or b:HEX; an old tuple is prefixed with its kind (old=K[...],
 * old=O[...]); an absent tuple is "-".
 */
#ifndef PGREPL_TESTS_DECLOG_H
#define PGREPL_TESTS_DECLOG_H

#include <stddef.h>

#include "pgrepl/decode.h"

typedef struct declog {
    char *text;  /* NUL-terminated log, NULL until the first line */
    size_t len;  /* bytes in text, without the NUL */
    size_t cap;
} declog;

/* An empty log; release it with declog_free. */
void declog_init(declog *log);
void declog_free(declog *log);

/* Callbacks that append to the declog passed as user data; every member is set. */
extern const pgrepl_decoder_callbacks declog_callbacks;

/* Append the line for a primary keepalive ('k'): "k wal_end=X/X sent=TIME reply=0|1". */
void declog_keepalive(declog *log, const pgrepl_copydata *cd);

/* Append a free-form line (a newline is added). Aborts when out of memory. */
void declog_printf(declog *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
