/*
 * Build byte messages for tests from hex text as protocol.md prints it
 * ("42 0000000001be85c8 ..."): hex digit pairs, blanks ignored.
 */
#ifndef PGREPL_TESTS_MSGBUILD_H
#define PGREPL_TESTS_MSGBUILD_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "digits.h"

#define MSG_MAX 4096

typedef struct msg {
    uint8_t b[MSG_MAX];
    size_t len;
} msg;

/* Append the bytes spelled by hex; a malformed spelling fails the test. */
static inline msg *msg_hex(msg *m, const char *hex)
{
    int hi = -1;
    for (const char *p = hex; *p != '\0'; p++) {
        if (*p == ' ' || *p == '\n')
            continue;
        int v = pgrepl__hex_value(*p);
        ck_assert_msg(v >= 0, "bad hex digit '%c' in \"%s\"", *p, hex);
        if (hi < 0) {
            hi = v;
            continue;
        }
        ck_assert_uint_lt(m->len, MSG_MAX);
        m->b[m->len++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    ck_assert_msg(hi < 0, "odd number of hex digits in \"%s\"", hex);
    return m;
}

/* A message from hex alone. */
static inline msg msg_of(const char *hex)
{
    msg m = {.len = 0};
    msg_hex(&m, hex);
    return m;
}

static inline msg *msg_u8(msg *m, uint8_t v)
{
    ck_assert_uint_lt(m->len, MSG_MAX);
    m->b[m->len++] = v;
    return m;
}

static inline msg *msg_u16(msg *m, uint16_t v)
{
    msg_u8(m, (uint8_t)(v >> 8));
    return msg_u8(m, (uint8_t)v);
}

static inline msg *msg_u32(msg *m, uint32_t v)
{
    msg_u16(m, (uint16_t)(v >> 16));
    return msg_u16(m, (uint16_t)v);
}

/* A string with its NUL, as pgoutput sends names. */
static inline msg *msg_str(msg *m, const char *s)
{
    size_t n = strlen(s) + 1;
    ck_assert_uint_le(m->len + n, MSG_MAX);
    memcpy(m->b + m->len, s, n);
    m->len += n;
    return m;
}

#endif
