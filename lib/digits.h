/*
 * Decimal text of integers: written backwards into the end of the caller's
 * scratch space (no allocation, for writers that lay out a number
 * themselves), or appended to a buffer. And the value of a hex digit, for
 * the readers of LSNs and bytea.
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

/* 0 to 15 for a hex digit of either case, else -1. Inline: bytea text calls it for every digit. */
static inline int pgrepl__hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
