/*
 * The growable byte buffer (pgrepl_buf, declared in pgrepl/values.h): the
 * public functions live in buf.c; these inline helpers let a writer fill
 * room it reserved without a copy. The buffer is NUL-terminated whenever
 * data is not NULL.
 */
#ifndef PGREPL_LIB_BUF_H
#define PGREPL_LIB_BUF_H

#include <stddef.h>
#include <string.h>

#include "pgrepl/values.h"

/* Room for n more bytes at the end of b: where to write them, or NULL when out of memory. */
static inline char *pgrepl__buf_room(pgrepl_buf *b, size_t n)
{
    if (pgrepl_buf_reserve(b, n) != 0)
        return NULL;
    return b->data + b->len;
}

/* Commit k bytes written after pgrepl__buf_room. */
static inline void pgrepl__buf_used(pgrepl_buf *b, size_t k)
{
    b->len += k;
    b->data[b->len] = '\0';
}

/* Shorten b to len bytes (len <= b->len). */
static inline void pgrepl__buf_cut(pgrepl_buf *b, size_t len)
{
    if (b->data != NULL) {
        b->len = len;
        b->data[len] = '\0';
    }
}

static inline int pgrepl__put(pgrepl_buf *b, const char *s, size_t n)
{
    return pgrepl_buf_append(b, s, n);
}

static inline int pgrepl__puts(pgrepl_buf *b, const char *s)
{
    return pgrepl_buf_append(b, s, strlen(s));
}

static inline int pgrepl__putc(pgrepl_buf *b, char c)
{
    char *w = pgrepl__buf_room(b, 1);
    if (w == NULL)
        return PGREPL_ENOMEM;
    *w = c;
    pgrepl__buf_used(b, 1);
    return 0;
}

#endif
