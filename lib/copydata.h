/*
 * The CopyBoth envelope: what the library only needs in its own tests.
 * The client's half (parse what the server sends, encode a status update)
 * is public in pgrepl/decode.h.
 */
#ifndef PGREPL_LIB_COPYDATA_H
#define PGREPL_LIB_COPYDATA_H

#include <stdbool.h>
#include <stddef.h>

#include "pgrepl/decode.h"

/*
 * Decode a standby status update ('r') as the server reads it, for the
 * tests and fake servers that play the server's part. Returns 0,
 * PGREPL_ETRUNCATED, PGREPL_ETRAILING or PGREPL_EUNKNOWNMSG (another first
 * byte, or an empty or NULL buffer). Any output pointer may be NULL.
 */
int pgrepl__status_update_decode(const void *buf, size_t len, pgrepl_lsn *write, pgrepl_lsn *flush,
                                 pgrepl_lsn *apply, pgrepl_timestamp *now, bool *reply_requested);

#endif
