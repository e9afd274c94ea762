/*
 * Numbers: integers, float4/float8 (shortest round-trip digits, from
 * render_float.c, laid out as PostgreSQL 12+ prints them), numeric and money.
 */
#include <math.h>
#include <stdlib.h>

#include "digits.h"
#include "render.h"

/* ---- integers ------------------------------------------------------------- */

int pgrepl__render_int(pgrepl_buf *out, uint32_t oid, const uint8_t *p, size_t n)
{
    int rc;
    switch (oid) {
    case PGREPL_INT2OID:
        rc = pgrepl__want_len("smallint", n, 2);
        return rc != 0 ? rc : pgrepl__put_i64(out, (int16_t)pgrepl__rd16(p));
    case PGREPL_INT4OID:
        rc = pgrepl__want_len("integer", n, 4);
        return rc != 0 ? rc : pgrepl__put_i64(out, (int32_t)pgrepl__rd32(p));
    case PGREPL_INT8OID:
        rc = pgrepl__want_len("bigint", n, 8);
        return rc != 0 ? rc : pgrepl__put_i64(out, (int64_t)pgrepl__rd64(p));
    case 5069: /* xid8 */
        rc = pgrepl__want_len("xid8", n, 8);
        return rc != 0 ? rc : pgrepl__put_u64(out, pgrepl__rd64(p), 1);
    default: /* oid, xid, cid: unsigned 32 bits */
        rc = pgrepl__want_len("oid", n, 4);
        return rc != 0 ? rc : pgrepl__put_u64(out, pgrepl__rd32(p), 1);
    }
}

/* ---- floating point --------------------------------------------------------- */

/* Shortest decimal form of a finite nonzero magnitude: its digits and the exponent of the first one. */
struct decimal {
    char d[24];
    int n;   /* number of digits */
    int exp; /* value = 0.d1d2... * 10^(exp + 1) */
};

/* Integers below 2^53 (2^24 for float4) are their own shortest form: no search needed. */
static bool small_integer(double mag, bool single, struct decimal *dec)
{
    /* the cast is exact below 2^53; no floor(): it would need libm, which the library does not link */
    if (mag >= (single ? 16777216.0 : 9007199254740992.0) || mag != (double)(uint64_t)mag)
        return false;
    char tmp[24];
    dec->n = pgrepl__fmt_u64(tmp + sizeof tmp, (uint64_t)mag, 1);
    memcpy(dec->d, tmp + sizeof tmp - dec->n, (size_t)dec->n);
    dec->exp = dec->n - 1;
    while (dec->n > 1 && dec->d[dec->n - 1] == '0')
        dec->n--;
    return true;
}

/*
 * Lay out the digits as the server's Ryu to_chars does: fixed notation when
 * the exponent is in [-4, fixed_limit), else d.ddde+XX with at least two
 * exponent digits.
 */
static int layout(pgrepl_buf *b, bool negative, const struct decimal *dec, int fixed_limit)
{
    char text[48];
    size_t k = 0;
    if (negative)
        text[k++] = '-';
    if (dec->exp >= -4 && dec->exp < fixed_limit) {
        if (dec->exp < 0) {
            text[k++] = '0';
            text[k++] = '.';
            for (int i = -1; i > dec->exp; i--)
                text[k++] = '0';
            memcpy(text + k, dec->d, (size_t)dec->n);
            k += (size_t)dec->n;
        } else {
            for (int i = 0; i < dec->n || i <= dec->exp; i++) {
                if (i == dec->exp + 1)
                    text[k++] = '.';
                text[k++] = i < dec->n ? dec->d[i] : '0';
            }
        }
        return pgrepl__put(b, text, k);
    }
    text[k++] = dec->d[0];
    if (dec->n > 1) {
        text[k++] = '.';
        memcpy(text + k, dec->d + 1, (size_t)dec->n - 1);
        k += (size_t)dec->n - 1;
    }
    text[k++] = 'e';
    text[k++] = dec->exp < 0 ? '-' : '+';
    int e = abs(dec->exp);
    k += (size_t)pgrepl__fmt_u64(text + k + (e >= 100 ? 3 : 2), (uint64_t)e, 2);
    return pgrepl__put(b, text, k);
}

static int put_float(pgrepl_buf *b, double v, bool single)
{
    if (isnan(v))
        return pgrepl__put(b, "NaN", 3);
    if (isinf(v))
        return v > 0 ? pgrepl__put(b, "Infinity", 8) : pgrepl__put(b, "-Infinity", 9);
    if (v == 0)
        return signbit(v) ? pgrepl__put(b, "-0", 2) : pgrepl__putc(b, '0');
    struct decimal dec;
    double mag = fabs(v);
    if (!small_integer(mag, single, &dec))
        dec.n = pgrepl__float_shortest(mag, single, dec.d, &dec.exp);
    return layout(b, v < 0, &dec, single ? 6 : 15);
}

int pgrepl__put_float8(pgrepl_buf *b, double v)
{
    return put_float(b, v, false);
}

int pgrepl__put_float4(pgrepl_buf *b, float v)
{
    return put_float(b, v, true);
}

int pgrepl__render_float(pgrepl_buf *out, uint32_t oid, const uint8_t *p, size_t n)
{
    int rc;
    if (oid == PGREPL_FLOAT4OID) {
        rc = pgrepl__want_len("real", n, 4);
        if (rc != 0)
            return rc;
        uint32_t bits = pgrepl__rd32(p);
        float f;
        memcpy(&f, &bits, sizeof f);
        return pgrepl__put_float4(out, f);
    }
    rc = pgrepl__want_len("double precision", n, 8);
    return rc != 0 ? rc : pgrepl__put_float8(out, pgrepl__rdf64(p));
}

/* ---- numeric ---------------------------------------------------------------- */

#define NUMERIC_POS 0x0000
#define NUMERIC_NEG 0x4000
#define NUMERIC_NAN 0xC000
#define NUMERIC_PINF 0xD000
#define NUMERIC_NINF 0xF000
#define NUMERIC_DSCALE_MAX 0x3FFF
#define NBASE 10000

/* Base-10000 digit i (0 = the one of weight `weight`) or 0 outside the stored ones. */
static unsigned numeric_digit(const uint8_t *digits, int ndigits, int i)
{
    return i >= 0 && i < ndigits ? pgrepl__rd16(digits + 2 * i) : 0;
}

/* A base-10000 digit (below 10000) as four decimal digits at w. */
static void four_digits(char *w, unsigned dig)
{
    pgrepl__fmt_u64(w + 4, dig, 4);
}

static int numeric_special(pgrepl_buf *out, uint16_t sign, int ndigits)
{
    if (ndigits != 0)
        return pgrepl__render_bad("numeric NaN or infinity with %d digits", ndigits);
    if (sign == NUMERIC_NAN)
        return pgrepl__put(out, "NaN", 3);
    return sign == NUMERIC_PINF ? pgrepl__put(out, "Infinity", 8) : pgrepl__put(out, "-Infinity", 9);
}

/*
 * get_str_from_var: the integer part without leading zeros ("0" when
 * there is none), then exactly dscale fraction digits.
 */
int pgrepl__render_numeric(pgrepl_buf *out, const uint8_t *p, size_t n)
{
    if (n < 8)
        return pgrepl__render_bad("numeric value of %zu bytes", n);
    int ndigits = (int16_t)pgrepl__rd16(p);
    int weight = (int16_t)pgrepl__rd16(p + 2);
    uint16_t sign = pgrepl__rd16(p + 4);
    int dscale = (int16_t)pgrepl__rd16(p + 6);
    const uint8_t *digits = p + 8;
    if (ndigits < 0 || n - 8 != (size_t)ndigits * 2)
        return pgrepl__render_bad("numeric with %d digits in %zu bytes", ndigits, n);
    if (sign == NUMERIC_NAN || sign == NUMERIC_PINF || sign == NUMERIC_NINF)
        return numeric_special(out, sign, ndigits);
    if (sign != NUMERIC_POS && sign != NUMERIC_NEG)
        return pgrepl__render_bad("numeric with sign word 0x%04x", (unsigned)sign);
    if (dscale < 0 || dscale > NUMERIC_DSCALE_MAX)
        return pgrepl__render_bad("numeric with display scale %d", dscale);
    for (int i = 0; i < ndigits; i++)
        if (numeric_digit(digits, ndigits, i) >= NBASE)
            return pgrepl__render_bad("numeric digit %u is not below 10000", numeric_digit(digits, ndigits, i));

    size_t intdigits = weight >= 0 ? 4 * ((size_t)weight + 1) : 1;
    char *w = pgrepl__buf_room(out, 1 + intdigits + 1 + (size_t)dscale + 4);
    if (w == NULL)
        return PGREPL_ENOMEM;
    char *start = w;
    if (sign == NUMERIC_NEG)
        *w++ = '-';
    int d;
    if (weight < 0) {
        *w++ = '0';
        d = weight + 1;
    } else {
        /* the first digit without its leading zeros, the others whole */
        unsigned first = numeric_digit(digits, ndigits, 0);
        int len = first >= 1000 ? 4 : first >= 100 ? 3 : first >= 10 ? 2 : 1;
        char four[4];
        four_digits(four, first);
        for (int k = 0; k < len; k++)
            *w++ = four[4 - len + k];
        for (d = 1; d <= weight; d++, w += 4)
            four_digits(w, numeric_digit(digits, ndigits, d));
    }
    if (dscale > 0) {
        *w++ = '.';
        char *end = w + dscale;
        for (int i = 0; i < dscale; i += 4, d++, w += 4)
            four_digits(w, numeric_digit(digits, ndigits, d));
        w = end;
    }
    pgrepl__buf_used(out, (size_t)(w - start));
    return 0;
}

/* ---- money ------------------------------------------------------------------- */

/*
 * cash_out under lc_monetary C: two fraction digits, '.' and ',' as the
 * separators, "$" before the amount and "-" before that for negatives.
 */
int pgrepl__render_money(pgrepl_buf *out, const uint8_t *p, size_t n)
{
    int rc = pgrepl__want_len("money", n, 8);
    if (rc != 0)
        return rc;
    int64_t v = (int64_t)pgrepl__rd64(p);
    uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    char tmp[40];
    char *w = tmp + sizeof tmp;
    int pos = 2; /* digits left until the decimal point; negative: integer digits written */
    do {
        if (pos == 0)
            *--w = '.';
        else if (pos < 0 && pos % 3 == 0)
            *--w = ',';
        *--w = (char)('0' + mag % 10);
        mag /= 10;
        pos--;
    } while (mag != 0 || pos >= 0);
    *--w = '$';
    if (v < 0)
        *--w = '-';
    return pgrepl__put(out, w, (size_t)(tmp + sizeof tmp - w));
}
