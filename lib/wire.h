/*
 * Bounds-checked big-endian reader with a sticky error flag.
 *
 * Every read goes through the cursor. The first read past the end records
 * the offset at which it happened and sets the error; from then on every read
 * returns 0 / NULL and does not move, so a message is parsed straight through
 * and checked once at the end (pgrepl__cur_ok).
 */
#ifndef PGREPL_LIB_WIRE_H
#define PGREPL_LIB_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pgrepl/common.h"
#include "bytes.h"

typedef struct pgrepl_cursor {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    int err;          /* 0, or the first PGREPL_E* recorded */
    size_t err_pos;   /* offset at which err was recorded */
} pgrepl_cursor;

static inline void pgrepl__cur_init(pgrepl_cursor *c, const void *buf, size_t len)
{
    c->buf = (const uint8_t *)buf;
    c->len = len;
    c->pos = 0;
    c->err = 0;
    c->err_pos = 0;
}

/* Record an error at the current position unless one is already recorded. */
static inline void pgrepl__cur_fail(pgrepl_cursor *c, int err)
{
    if (c->err == 0) {
        c->err = err;
        c->err_pos = c->pos;
    }
}

static inline bool pgrepl__cur_ok(const pgrepl_cursor *c)
{
    return c->err == 0;
}

static inline size_t pgrepl__cur_left(const pgrepl_cursor *c)
{
    return c->err ? 0 : c->len - c->pos;
}

/* Reserve n bytes: returns a pointer to them and advances, or NULL and fails with truncated_err. */
static inline const uint8_t *pgrepl__cur_take(pgrepl_cursor *c, size_t n, int truncated_err)
{
    if (c->err)
        return NULL;
    if (c->len - c->pos < n) {
        pgrepl__cur_fail(c, truncated_err);
        return NULL;
    }
    const uint8_t *p = c->buf + c->pos;
    c->pos += n;
    return p;
}

static inline uint8_t pgrepl__cur_u8(pgrepl_cursor *c)
{
    const uint8_t *p = pgrepl__cur_take(c, 1, PGREPL_ETRUNCATED);
    if (p == NULL)
        return 0;
    return p[0];
}

static inline uint16_t pgrepl__cur_u16(pgrepl_cursor *c)
{
    const uint8_t *p = pgrepl__cur_take(c, 2, PGREPL_ETRUNCATED);
    return p ? pgrepl__rd16(p) : 0;
}

static inline uint32_t pgrepl__cur_u32(pgrepl_cursor *c)
{
    const uint8_t *p = pgrepl__cur_take(c, 4, PGREPL_ETRUNCATED);
    return p ? pgrepl__rd32(p) : 0;
}

static inline uint64_t pgrepl__cur_u64(pgrepl_cursor *c)
{
    uint64_t hi = pgrepl__cur_u32(c);
    uint64_t lo = pgrepl__cur_u32(c);
    return c->err ? 0 : (hi << 32) | lo;
}

static inline int16_t pgrepl__cur_i16(pgrepl_cursor *c)
{
    return (int16_t)pgrepl__cur_u16(c);
}

static inline int32_t pgrepl__cur_i32(pgrepl_cursor *c)
{
    return (int32_t)pgrepl__cur_u32(c);
}

static inline int64_t pgrepl__cur_i64(pgrepl_cursor *c)
{
    return (int64_t)pgrepl__cur_u64(c);
}

/*
 * A NUL-terminated string: returns a pointer to it in the buffer (usable as a
 * C string) and its length in *len, and advances past the NUL. A missing NUL
 * is a truncation at the end of the buffer.
 */
static inline const char *pgrepl__cur_str(pgrepl_cursor *c, size_t *len)
{
    if (c->err)
        return NULL;
    const uint8_t *start = c->buf + c->pos;
    const uint8_t *nul = memchr(start, '\0', c->len - c->pos);
    if (nul == NULL) {
        c->pos = c->len;
        pgrepl__cur_fail(c, PGREPL_ETRUNCATED);
        return NULL;
    }
    size_t n = (size_t)(nul - start);
    c->pos += n + 1;
    if (len != NULL)
        *len = n;
    return (const char *)start;
}

/* Big-endian writers for fixed-size output. */
static inline uint8_t *pgrepl__put_u8(uint8_t *p, uint8_t v)
{
    *p = v;
    return p + 1;
}

static inline uint8_t *pgrepl__put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

static inline uint8_t *pgrepl__put_u64(uint8_t *p, uint64_t v)
{
    p = pgrepl__put_u32(p, (uint32_t)(v >> 32));
    return pgrepl__put_u32(p, (uint32_t)v);
}

#endif
