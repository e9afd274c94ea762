/*
 * The simple types: bool, bytea, "char", uuid, jsonb/jsonpath, bit strings,
 * tid, pg_lsn and snapshots (the text-like types need no renderer).
 */
#include "digits.h"
#include "render.h"

static const char hexdigits[] = "0123456789abcdef";

int pgrepl__render_bool(pgrepl_buf *out, const uint8_t *p, size_t n)
{
    int rc = pgrepl__want_len("boolean", n, 1);
    if (rc != 0)
        return rc;
    return pgrepl__putc(out, p[0] ? 't' : 'f');
}

/* bytea_output = hex. */
int pgrepl__render_bytea(pgrepl_buf *out, const uint8_t *p, size_t n)
{
    if (n > (SIZE_MAX - 2) / 2)
        return PGREPL_ENOMEM;
    char *w = pgrepl__buf_room(out, 2 + 2 * n);
    if (w == NULL)
        return PGREPL_ENOMEM;
    *w++ = '\\';
    *w++ = 'x';
    for (size_t i = 0; i < n; i++) {
        *w++ = hexdigits[p[i] >> 4];
        *w++ = hexdigits[p[i] & 15];
    }
    pgrepl__buf_used(out, 2 + 2 * n);
    return 0;
}

/* charout: one byte; bytes with the high bit set as a backslash and three octal digits; NUL as "". */
int pgrepl__render_char(pgrepl_buf *out, const uint8_t *p, size_t n)
{
    int rc = pgrepl__want_len("\"char\"", n, 1);
    if (rc != 0)
        return rc;
    if (p[0] == 0)
        return 0;
    if (p[0] < 0x80)
        return pgrepl__putc(out, (char)p[0]);
    char oct[4] = {'\\', (char)('0' + (p[0] >> 6)), (char)('0' + ((p[0] >> 3) & 7)), (char)('0' + (p[0] & 7))};
    return pgrepl__put(out, oct, sizeof oct);
}

/* jsonb and jsonpath send a format version byte (1) and then their text. */
int pgrepl__render_versioned_text(pgrepl_buf *out, const char *type, const uint8_t *p, size_t n)
{
    if (n < 1 || p[0] != 1)
        return pgrepl__render_bad("%s value without format version 1", type);
    return pgrepl__put(out, (const char *)p + 1, n - 1);
}

int pgrepl__render_uuid(pgrepl_buf *out, const uint8_t *p, size_t n)
{
    int rc = pgrepl__want_len("uuid", n, 16);
    if (rc != 0)
        return rc;
    char *w = pgrepl__buf_room(out, 36);
    if (w == NULL)
        return PGREPL_ENOMEM;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *w++ = '-';
        *w++ = hexdigits[p[i] >> 4];
        *w++ = hexdigits[p[i] & 15];
    }
    pgrepl__buf_used(out, 36);
    return 0;
}

/* bit and varbit: a bit count and the bits, most significant first. */
int pgrepl__render_bits(pgrepl_buf *out, const uint8_t *p, size_t n)
{
    if (n < 4)
        return pgrepl__render_bad("bit string value of %zu bytes", n);
    int32_t bits = (int32_t)pgrepl__rd32(p);
    if (bits < 0 || (size_t)bits / 8 + (bits % 8 != 0) != n - 4)
        return pgrepl__render_bad("bit string of %d bits in %zu bytes", (int)bits, n - 4);
    char *w = pgrepl__buf_room(out, (size_t)bits);
    if (w == NULL)
        return PGREPL_ENOMEM;
    for (int32_t i = 0; i < bits; i++)
        w[i] = (p[4 + i / 8] >> (7 - i % 8)) & 1 ? '1' : '0';
    pgrepl__buf_used(out, (size_t)bits);
    return 0;
}

int pgrepl__render_tid(pgrepl_buf *out, const uint8_t *p, size_t n)
{
    int rc = pgrepl__want_len("tid", n, 6);
    if (rc == 0)
        rc = pgrepl__putc(out, '(');
    if (rc == 0)
        rc = pgrepl__put_u64(out, pgrepl__rd32(p), 1);
    if (rc == 0)
        rc = pgrepl__putc(out, ',');
    if (rc == 0)
        rc = pgrepl__put_u64(out, pgrepl__rd16(p + 4), 1);
    if (rc == 0)
        rc = pgrepl__putc(out, ')');
    return rc;
}

int pgrepl__render_pg_lsn(pgrepl_buf *out, const uint8_t *p, size_t n)
{
    int rc = pgrepl__want_len("pg_lsn", n, 8);
    if (rc != 0)
        return rc;
    char text[PGREPL_LSN_BUFSIZE];
    int len = pgrepl_lsn_format(pgrepl__rd64(p), text);
    return pgrepl__put(out, text, (size_t)len);
}

/* pg_snapshot and txid_snapshot: count, xmin, xmax, in-progress xids; printed "xmin:xmax:xip,...". */
int pgrepl__render_snapshot(pgrepl_buf *out, const uint8_t *p, size_t n)
{
    if (n < 20)
        return pgrepl__render_bad("snapshot value of %zu bytes", n);
    uint32_t nxip = pgrepl__rd32(p);
    if (nxip > (n - 20) / 8 || n - 20 != (size_t)nxip * 8)
        return pgrepl__render_bad("snapshot with %u in-progress xids in %zu bytes", (unsigned)nxip, n);
    int rc = pgrepl__put_u64(out, pgrepl__rd64(p + 4), 1);
    if (rc == 0)
        rc = pgrepl__putc(out, ':');
    if (rc == 0)
        rc = pgrepl__put_u64(out, pgrepl__rd64(p + 12), 1);
    if (rc == 0)
        rc = pgrepl__putc(out, ':');
    for (uint32_t i = 0; i < nxip && rc == 0; i++) {
        if (i > 0)
            rc = pgrepl__putc(out, ',');
        if (rc == 0)
            rc = pgrepl__put_u64(out, pgrepl__rd64(p + 20 + 8 * (size_t)i), 1);
    }
    return rc;
}
