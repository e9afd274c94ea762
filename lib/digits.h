/*
 * Decimal text of integers: written backwards into the end of the caller's
 * scratch space (no allocation, for writers that lay out a number
 * themselves), or appended to a buffer.
 */
#ifndef PGREPL_LIB_DIGITS_H
#define PGREPL_LIB_DIGITS_H

#include <stdint.h>

#include "buf.h"

/* Decimal digits of v into the end of buf (at least min_digits, zero-padded); returns the count. */
int pgrepl__fmt_u64(char *end, uint64_t v, int min_digits);

/* Append an unsigned / signed decimal integer, zero-padded to min_digits. */
int pgrepl__put_u64(pgrepl_buf *b, uint64_t v, int min_digits);
int pgrepl__put_i64(pgrepl_buf *b, int64_t v);

#endif
