/*
 * Typed values (values.h): one column value, text or binary, read as a C
 * value. Text is parsed as the server prints it under the settings the
 * stream pins; binary is the send format. Numbers go through one decimal
 * form (struct decimal), so that a numeric gives the same double or scaled
 * integer whichever way it crossed the wire.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "digits.h"
#include "render.h"

/* OIDs below this are the ones initdb creates; pgoutput names the others in Type messages. */
#define FIRST_NON_BUILTIN_OID 10000
#define XIDOID 28
#define CIDOID 29
#define XMLOID 142
#define XID8OID 5069

#define USECS_PER_SEC INT64_C(1000000)
#define USECS_PER_DAY (86400 * USECS_PER_SEC)
/* Days either side of 2000-01-01 whose timestamps, with a time of day and a zone, still fit int64. */
#define TIMESTAMP_DAYS_MAX INT64_C(106751984)

/* ---- errors ---------------------------------------------------------------- */

static int fail(int code, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Set the thread's message (pgrepl_render_errmsg) and return code. */
static int fail(int code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    (void)pgrepl__render_bad("%s", msg);
    return code;
}

static const char *column_name(const pgrepl_column *col)
{
    return col->name != NULL ? col->name : "?";
}

/* The built-in type the column's values are: its own, or a domain's base type; 0 when neither. */
static uint32_t column_type(const pgrepl_column *col)
{
    if (col->type_oid < FIRST_NON_BUILTIN_OID)
        return col->type_oid;
    if (col->type_name != NULL && col->type_schema != NULL && strcmp(col->type_schema, "pg_catalog") == 0)
        return pgrepl__typname_oid(col->type_name);
    return 0;
}

static int mismatch(const pgrepl_column *col, uint32_t type, const char *as)
{
    const char *name = type != 0 ? pgrepl_type_name(type) : col->type_name;
    return fail(PGREPL_EINVAL, "column \"%s\" of type %s cannot be read as %s", column_name(col),
                name != NULL ? name : "(unknown)", as);
}

/*
 * Checks every entry point makes; then *type is the column's built-in type (or 0). Inline: it runs
 * once per value read, and gcc -O3 splits it out of line once begin_one and begin_span share it.
 */
static inline int begin(const pgrepl_column *col, const pgrepl_value *v, const void *out, uint32_t *type)
{
    *type = 0;
    pgrepl__render_clear();
    if (col == NULL || v == NULL || out == NULL || (v->data == NULL && v->len > 0))
        return fail(PGREPL_EINVAL, "NULL argument");
    switch (v->kind) {
    case PGREPL_VALUE_TEXT:
    case PGREPL_VALUE_BINARY:
        *type = column_type(col);
        return 0;
    case PGREPL_VALUE_NULL:
        return fail(PGREPL_EINVAL, "column \"%s\" is NULL", column_name(col));
    case PGREPL_VALUE_UNCHANGED:
        return fail(PGREPL_EINVAL, "column \"%s\" is an unchanged TOAST value that was not sent", column_name(col));
    default:
        return fail(PGREPL_EINVAL, "column \"%s\" has a value of kind '%c'", column_name(col), v->kind);
    }
}

/* begin() for the entry points that read one type only. */
static int begin_one(const pgrepl_column *col, const pgrepl_value *v, const void *out, uint32_t want, const char *as)
{
    uint32_t type;
    int rc = begin(col, v, out, &type);
    if (rc == 0 && type != want)
        rc = mismatch(col, type, as);
    return rc;
}

static int bad_length(const char *type, size_t len, size_t want)
{
    return fail(PGREPL_EPROTOCOL, "%s value of %zu bytes, want %zu", type, len, want);
}

static int bad_text(const char *type, const pgrepl_value *v)
{
    int shown = v->len > 64 ? 64 : (int)v->len;
    return fail(PGREPL_EPROTOCOL, "%s text \"%.*s%s\" does not parse", type, shown,
                shown > 0 ? (const char *)v->data : "", v->len > 64 ? "..." : "");
}

static bool is_text(const pgrepl_value *v, const char *s)
{
    size_t n = strlen(s);
    return v->len == n && (n == 0 || memcmp(v->data, s, n) == 0);
}

/* ---- a text cursor ------------------------------------------------------------ */

struct scan {
    const char *p, *end;
};

static struct scan scan_of(const pgrepl_value *v)
{
    const char *p = v->len > 0 ? (const char *)v->data : "";
    return (struct scan){p, p + v->len};
}

static bool scan_char(struct scan *s, char c)
{
    if (s->p == s->end || *s->p != c)
        return false;
    s->p++;
    return true;
}

/* An optional '-' or '+'; true when it was '-'. */
static bool scan_sign(struct scan *s)
{
    if (scan_char(s, '-'))
        return true;
    (void)scan_char(s, '+');
    return false;
}

/* Between min and max decimal digits (max <= 18) as a number. */
static bool scan_digits(struct scan *s, int min, int max, int64_t *out)
{
    int64_t v = 0;
    int n = 0;
    while (n < max && s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        v = v * 10 + (*s->p++ - '0');
        n++;
    }
    *out = v;
    return n >= min;
}

/* A word followed by a blank or the end. */
static bool scan_word(struct scan *s, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
        return false;
    if (s->p + n != s->end && s->p[n] != ' ')
        return false;
    s->p += n;
    return true;
}

/* Drop the suffix if the text ends with it. */
static bool scan_suffix(struct scan *s, const char *suffix)
{
    size_t n = strlen(suffix);
    if ((size_t)(s->end - s->p) < n || memcmp(s->end - n, suffix, n) != 0)
        return false;
    s->end -= n;
    return true;
}

/* ---- integers ------------------------------------------------------------------ */

/* An integer as sign and magnitude: xid8 reaches 2^64 - 1, int8 down to -2^63. */
struct integer {
    bool neg;
    uint64_t mag;
};

static bool is_integer_type(uint32_t type)
{
    switch (type) {
    case PGREPL_INT2OID:
    case PGREPL_INT4OID:
    case PGREPL_INT8OID:
    case PGREPL_OIDOID:
    case XIDOID:
    case CIDOID:
    case XID8OID:
        return true;
    default:
        return false;
    }
}

static struct integer signed_integer(int64_t v)
{
    return (struct integer){v < 0, v < 0 ? 0 - (uint64_t)v : (uint64_t)v};
}

static int integer_binary(uint32_t type, const pgrepl_value *v, struct integer *out)
{
    size_t want = type == PGREPL_INT2OID ? 2 : type == PGREPL_INT8OID || type == XID8OID ? 8 : 4;
    if (v->len != want)
        return bad_length(pgrepl_type_name(type), v->len, want);
    switch (type) {
    case PGREPL_INT2OID:
        *out = signed_integer((int16_t)pgrepl__rd16(v->data));
        return 0;
    case PGREPL_INT4OID:
        *out = signed_integer((int32_t)pgrepl__rd32(v->data));
        return 0;
    case PGREPL_INT8OID:
        *out = signed_integer((int64_t)pgrepl__rd64(v->data));
        return 0;
    case XID8OID:
        *out = (struct integer){false, pgrepl__rd64(v->data)};
        return 0;
    default: /* oid, xid, cid: unsigned 32 bits */
        *out = (struct integer){false, pgrepl__rd32(v->data)};
        return 0;
    }
}

/* "-123": an optional minus and digits, nothing else. */
static int integer_text(uint32_t type, const pgrepl_value *v, struct integer *out)
{
    struct scan s = scan_of(v);
    bool neg = scan_char(&s, '-');
    uint64_t mag = 0;
    if (s.p == s.end)
        return bad_text(pgrepl_type_name(type), v);
    for (; s.p < s.end; s.p++) {
        unsigned d = (unsigned)(*s.p - '0');
        if (d > 9)
            return bad_text(pgrepl_type_name(type), v);
        if (mag > (UINT64_MAX - d) / 10)
            return fail(PGREPL_ERANGE, "%s text is beyond 64 bits", pgrepl_type_name(type));
        mag = mag * 10 + d;
    }
    *out = (struct integer){neg && mag != 0, mag};
    return 0;
}

static int integer_read(uint32_t type, const pgrepl_value *v, struct integer *out)
{
    return v->kind == PGREPL_VALUE_BINARY ? integer_binary(type, v, out) : integer_text(type, v, out);
}

static int beyond_int64(int scale)
{
    return fail(PGREPL_ERANGE, "value%s does not fit int64", scale > 0 ? " times 10^scale" : "");
}

/* mag * 10^scale as int64, or PGREPL_ERANGE. */
static int integer_scaled(const struct integer *x, int scale, int64_t *out)
{
    uint64_t mag = x->mag;
    for (int i = 0; i < scale; i++) {
        if (mag > UINT64_MAX / 10)
            return fail(PGREPL_ERANGE, "value times 10^%d does not fit int64", scale);
        mag *= 10;
    }
    uint64_t limit = x->neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (mag > limit)
        return beyond_int64(scale);
    /* -(mag - 1) - 1 reaches INT64_MIN without overflowing */
    *out = x->neg && mag > 0 ? -(int64_t)(mag - 1) - 1 : (int64_t)mag;
    return 0;
}

/* ---- decimal numbers ---------------------------------------------------------- */

/*
 * More significant digits than can decide how a decimal rounds to a double
 * (767); digits past them only matter as "some non-zero digit follows".
 */
#define MAX_DIGITS 800

/* A number as significant decimal digits: value = 0.d[0]d[1]...d[n-1] * 10^point. */
struct decimal {
    char kind;     /* 'f' finite, 'n' NaN, 'i' infinite */
    bool neg;
    bool sticky;   /* non-zero digits after d were dropped */
    int n;         /* no leading zeros; no trailing ones unless sticky */
    int64_t point;
    char d[MAX_DIGITS];
};

static void dec_init(struct decimal *x)
{
    x->kind = 'f';
    x->neg = false;
    x->sticky = false;
    x->n = 0;
    x->point = 0;
}

/* The next digit in reading order, counted as lying right of the decimal point. */
static void dec_digit(struct decimal *x, char c)
{
    if (x->n == 0 && c == '0')
        x->point--;
    else if (x->n < MAX_DIGITS)
        x->d[x->n++] = c;
    else if (c != '0')
        x->sticky = true;
}

static void dec_trim(struct decimal *x)
{
    while (!x->sticky && x->n > 0 && x->d[x->n - 1] == '0')
        x->n--;
}

static bool dec_special(struct decimal *x, const pgrepl_value *v)
{
    if (is_text(v, "NaN"))
        x->kind = 'n';
    else if (is_text(v, "Infinity"))
        x->kind = 'i';
    else if (is_text(v, "-Infinity"))
        x->kind = 'i', x->neg = true;
    else
        return false;
    return true;
}

/* An exponent after 'e': sign and digits, clamped far beyond any double or int64. */
static bool dec_exponent(struct scan *s, int64_t *exp)
{
    bool neg = scan_sign(s);
    int64_t e = 0;
    bool any = false;
    for (; s->p < s->end && *s->p >= '0' && *s->p <= '9'; s->p++) {
        e = e < 1000000000 ? e * 10 + (*s->p - '0') : e;
        any = true;
    }
    *exp = neg ? -e : e;
    return any;
}

/* "-12.50", "1.5e-07", "NaN", "Infinity", "-Infinity" (float and numeric output). */
static int dec_text(struct decimal *x, const char *type, const pgrepl_value *v)
{
    dec_init(x);
    if (dec_special(x, v))
        return 0;
    struct scan s = scan_of(v);
    x->neg = scan_char(&s, '-');
    bool any = false;
    for (; s.p < s.end && *s.p >= '0' && *s.p <= '9'; s.p++, any = true) {
        x->point++;
        dec_digit(x, *s.p);
    }
    if (scan_char(&s, '.'))
        for (; s.p < s.end && *s.p >= '0' && *s.p <= '9'; s.p++, any = true)
            dec_digit(x, *s.p);
    int64_t exp = 0;
    if (any && (scan_char(&s, 'e') || scan_char(&s, 'E')) && !dec_exponent(&s, &exp))
        any = false;
    if (!any || s.p != s.end)
        return bad_text(type, v);
    x->point += exp;
    dec_trim(x);
    return 0;
}

#define NUMERIC_POS 0x0000
#define NUMERIC_NEG 0x4000
#define NUMERIC_NAN 0xC000
#define NUMERIC_PINF 0xD000
#define NUMERIC_NINF 0xF000
#define NBASE 10000

/* numeric_send: ndigits, weight, sign, dscale, then base-10000 digits. */
static int dec_numeric_binary(struct decimal *x, const pgrepl_value *v)
{
    dec_init(x);
    const uint8_t *p = v->data;
    if (v->len < 8)
        return fail(PGREPL_EPROTOCOL, "numeric value of %u bytes", (unsigned)v->len);
    int ndigits = (int16_t)pgrepl__rd16(p);
    int weight = (int16_t)pgrepl__rd16(p + 2);
    uint16_t sign = pgrepl__rd16(p + 4);
    if (ndigits < 0 || v->len - 8 != (size_t)ndigits * 2)
        return fail(PGREPL_EPROTOCOL, "numeric with %d digits in %u bytes", ndigits, (unsigned)v->len);
    if ((sign == NUMERIC_NAN || sign == NUMERIC_PINF || sign == NUMERIC_NINF) && ndigits != 0)
        return fail(PGREPL_EPROTOCOL, "numeric NaN or infinity with %d digits", ndigits);
    if (sign == NUMERIC_NAN || sign == NUMERIC_PINF || sign == NUMERIC_NINF) {
        x->kind = sign == NUMERIC_NAN ? 'n' : 'i';
        x->neg = sign == NUMERIC_NINF;
        return 0;
    }
    if (sign != NUMERIC_POS && sign != NUMERIC_NEG)
        return fail(PGREPL_EPROTOCOL, "numeric with sign word 0x%04x", (unsigned)sign);
    x->neg = sign == NUMERIC_NEG;
    x->point = 4 * ((int64_t)weight + 1);
    for (int i = 0; i < ndigits; i++) {
        unsigned dig = pgrepl__rd16(p + 8 + 2 * i);
        if (dig >= NBASE)
            return fail(PGREPL_EPROTOCOL, "numeric digit %u is not below 10000", dig);
        char four[4];
        pgrepl__fmt_u64(four + 4, dig, 4);
        for (int k = 0; k < 4; k++)
            dec_digit(x, four[k]);
    }
    dec_trim(x);
    return 0;
}

static int dec_numeric(struct decimal *x, const pgrepl_value *v)
{
    return v->kind == PGREPL_VALUE_BINARY ? dec_numeric_binary(x, v) : dec_text(x, "numeric", v);
}

/* The nearest double (float when single), correctly rounded by the C library from the digits. */
static int dec_to_double(const struct decimal *x, bool single, double *out)
{
    if (x->kind != 'f') {
        *out = x->kind == 'n' ? NAN : x->neg ? -INFINITY : INFINITY;
        return 0;
    }
    if (x->n == 0) {
        *out = x->neg ? -0.0 : 0.0;
        return 0;
    }
    /* Digits and an exponent, no decimal point: read the same in every locale. */
    char text[MAX_DIGITS + 32];
    int k = x->n;
    memcpy(text, x->d, (size_t)k);
    if (x->sticky)
        text[k++] = '1';
    snprintf(text + k, sizeof text - (size_t)k, "e%lld", (long long)(x->point - k));
    double r = single ? (double)strtof(text, NULL) : strtod(text, NULL);
    if (isinf(r))
        return fail(PGREPL_ERANGE, "value is beyond the range of %s", single ? "real" : "double");
    if (r == 0)
        return fail(PGREPL_ERANGE, "value is too close to zero for %s", single ? "real" : "double");
    *out = x->neg ? -r : r;
    return 0;
}

/* value * 10^scale, exactly, as int64. */
static int dec_to_scaled(const struct decimal *x, int scale, int64_t *out)
{
    if (x->kind != 'f')
        return fail(PGREPL_ERANGE, "%s does not fit int64", x->kind == 'n' ? "NaN" : "infinity");
    if (x->n == 0) {
        *out = 0;
        return 0;
    }
    if (x->point + scale > 20)
        return beyond_int64(scale);
    if (x->sticky || x->point + scale < x->n)
        return fail(PGREPL_ERANGE, "value has non-zero digits beyond %d fraction digit%s", scale, scale == 1 ? "" : "s");
    struct integer big = {x->neg, 0};
    for (int64_t i = 0; i < x->point + scale; i++) {
        unsigned d = i < x->n ? (unsigned)(x->d[i] - '0') : 0;
        if (big.mag > (UINT64_MAX - d) / 10)
            return beyond_int64(scale);
        big.mag = big.mag * 10 + d;
    }
    return integer_scaled(&big, 0, out);
}

/* ---- numbers: public ------------------------------------------------------------ */

int pgrepl_value_bool(const pgrepl_column *col, const pgrepl_value *v, bool *out)
{
    int rc = begin_one(col, v, out, PGREPL_BOOLOID, "bool");
    if (rc != 0)
        return rc;
    if (v->kind == PGREPL_VALUE_BINARY) {
        if (v->len != 1)
            return bad_length("boolean", v->len, 1);
        /* boolrecv: any non-zero byte is true */
        *out = v->data[0] != 0;
        return 0;
    }
    if (!is_text(v, "t") && !is_text(v, "f"))
        return bad_text("boolean", v);
    *out = v->data[0] == 't';
    return 0;
}

int pgrepl_value_int64(const pgrepl_column *col, const pgrepl_value *v, int64_t *out)
{
    return pgrepl_value_numeric_scaled(col, v, 0, out);
}

int pgrepl_value_numeric_scaled(const pgrepl_column *col, const pgrepl_value *v, int scale, int64_t *out)
{
    uint32_t type;
    int rc = begin(col, v, out, &type);
    if (rc != 0)
        return rc;
    if (scale < 0 || scale > 18)
        return fail(PGREPL_EINVAL, "scale %d is not between 0 and 18", scale);
    if (is_integer_type(type)) {
        struct integer x;
        rc = integer_read(type, v, &x);
        return rc != 0 ? rc : integer_scaled(&x, scale, out);
    }
    if (type != PGREPL_NUMERICOID)
        return mismatch(col, type, scale == 0 ? "an integer" : "a scaled integer");
    struct decimal x;
    rc = dec_numeric(&x, v);
    return rc != 0 ? rc : dec_to_scaled(&x, scale, out);
}

static int float_binary(uint32_t type, const pgrepl_value *v, double *out)
{
    if (type == PGREPL_FLOAT4OID) {
        if (v->len != 4)
            return bad_length("real", v->len, 4);
        uint32_t bits = pgrepl__rd32(v->data);
        float f;
        memcpy(&f, &bits, sizeof f);
        *out = f;
        return 0;
    }
    if (v->len != 8)
        return bad_length("double precision", v->len, 8);
    *out = pgrepl__rdf64(v->data);
    return 0;
}

int pgrepl_value_double(const pgrepl_column *col, const pgrepl_value *v, double *out)
{
    uint32_t type;
    int rc = begin(col, v, out, &type);
    if (rc != 0)
        return rc;
    if (is_integer_type(type)) {
        struct integer x;
        rc = integer_read(type, v, &x);
        if (rc == 0)
            *out = x.neg ? -(double)x.mag : (double)x.mag;
        return rc;
    }
    bool single = type == PGREPL_FLOAT4OID;
    if (!single && type != PGREPL_FLOAT8OID && type != PGREPL_NUMERICOID)
        return mismatch(col, type, "double");
    if (type != PGREPL_NUMERICOID && v->kind == PGREPL_VALUE_BINARY)
        return float_binary(type, v, out);
    struct decimal x;
    rc = type == PGREPL_NUMERICOID ? dec_numeric(&x, v) : dec_text(&x, pgrepl_type_name(type), v);
    return rc != 0 ? rc : dec_to_double(&x, single, out);
}

int pgrepl_value_numeric_text(const pgrepl_column *col, const pgrepl_value *v, pgrepl_buf *out)
{
    int rc = begin_one(col, v, out, PGREPL_NUMERICOID, "numeric");
    if (rc != 0)
        return rc;
    if (v->kind == PGREPL_VALUE_TEXT)
        return pgrepl_buf_append(out, v->data, v->len);
    size_t start = out->len;
    rc = pgrepl__render_numeric(out, v->data, v->len);
    if (rc != 0)
        pgrepl__buf_cut(out, start);
    return rc;
}

/* ---- text-like ------------------------------------------------------------------ */

static bool is_text_type(uint32_t type)
{
    switch (type) {
    case PGREPL_TEXTOID:
    case PGREPL_VARCHAROID:
    case PGREPL_BPCHAROID:
    case PGREPL_NAMEOID:
    case XMLOID:
        return true;
    default:
        return false;
    }
}

static void span(const pgrepl_value *v, size_t skip, const char **text, size_t *len)
{
    *text = v->len > skip ? (const char *)v->data + skip : "";
    *len = v->len - skip;
}

/* begin() for the entry points that hand out a span of the value. */
static int begin_span(const pgrepl_column *col, const pgrepl_value *v, const char **text, size_t *len, uint32_t *type)
{
    int rc = begin(col, v, len, type);
    if (rc == 0 && text == NULL)
        rc = fail(PGREPL_EINVAL, "NULL argument");
    return rc;
}

int pgrepl_value_text(const pgrepl_column *col, const pgrepl_value *v, const char **text, size_t *len)
{
    uint32_t type;
    int rc = begin_span(col, v, text, len, &type);
    if (rc != 0)
        return rc;
    if (!is_text_type(type))
        return mismatch(col, type, "text");
    span(v, 0, text, len);
    return 0;
}

int pgrepl_value_json(const pgrepl_column *col, const pgrepl_value *v, const char **text, size_t *len)
{
    uint32_t type;
    int rc = begin_span(col, v, text, len, &type);
    if (rc != 0)
        return rc;
    if (type != PGREPL_JSONOID && type != PGREPL_JSONBOID)
        return mismatch(col, type, "JSON");
    /* jsonb_send: a format version byte (1), then the text */
    bool versioned = type == PGREPL_JSONBOID && v->kind == PGREPL_VALUE_BINARY;
    if (versioned && (v->len < 1 || v->data[0] != 1))
        return fail(PGREPL_EPROTOCOL, "jsonb value without format version 1");
    span(v, versioned ? 1 : 0, text, len);
    return 0;
}

/* Two hex digits at s as a byte, or -1. */
static int hex_byte(const char *s)
{
    int hi = pgrepl__hex_value(s[0]), lo = pgrepl__hex_value(s[1]);
    return hi < 0 || lo < 0 ? -1 : hi << 4 | lo;
}

int pgrepl_value_bytes(const pgrepl_column *col, const pgrepl_value *v, pgrepl_buf *out)
{
    int rc = begin_one(col, v, out, PGREPL_BYTEAOID, "bytes");
    if (rc != 0)
        return rc;
    if (v->kind == PGREPL_VALUE_BINARY)
        return pgrepl_buf_append(out, v->data, v->len);
    const char *s = (const char *)v->data;
    if (v->len < 2 || s[0] != '\\' || s[1] != 'x' || v->len % 2 != 0)
        return bad_text("bytea (hex)", v);
    size_t n = (v->len - 2) / 2;
    char *w = pgrepl__buf_room(out, n);
    if (w == NULL)
        return PGREPL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int b = hex_byte(s + 2 + 2 * i);
        if (b < 0) {
            out->data[out->len] = '\0';
            return bad_text("bytea (hex)", v);
        }
        w[i] = (char)b;
    }
    pgrepl__buf_used(out, n);
    return 0;
}

int pgrepl_value_uuid(const pgrepl_column *col, const pgrepl_value *v, uint8_t out[16])
{
    int rc = begin_one(col, v, out, PGREPL_UUIDOID, "uuid");
    if (rc != 0)
        return rc;
    if (v->kind == PGREPL_VALUE_BINARY) {
        if (v->len != 16)
            return bad_length("uuid", v->len, 16);
        memcpy(out, v->data, 16);
        return 0;
    }
    /* uuid_out: 8-4-4-4-12 hex digits */
    const char *s = (const char *)v->data;
    uint8_t bytes[16];
    size_t k = 0;
    for (size_t i = 0; v->len == 36 && i < 36 && k < 16; i += 2) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                break;
            i++;
        }
        int b = hex_byte(s + i);
        if (b < 0)
            break;
        bytes[k++] = (uint8_t)b;
    }
    if (k != 16)
        return bad_text("uuid", v);
    memcpy(out, bytes, 16);
    return 0;
}

/* ---- dates and times ------------------------------------------------------------------ */

static bool leap_year(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int64_t m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

/* Days from 2000-01-01 to a proleptic Gregorian date (year 0 is 1 BC). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 730425; /* 730425: days from 0000-03-01 to 2000-01-01 */
}

/* "YYYY-MM-DD" (four or more year digits), the year counted as BC when bc. */
static bool scan_date(struct scan *s, bool bc, int64_t *days)
{
    int64_t y, m, d;
    if (!scan_digits(s, 4, 9, &y) || !scan_char(s, '-') || !scan_digits(s, 2, 2, &m) || !scan_char(s, '-') ||
        !scan_digits(s, 2, 2, &d))
        return false;
    if (bc && y == 0)
        return false;
    y = bc ? 1 - y : y;
    if (m < 1 || m > 12 || d < 1 || d > month_days(y, m))
        return false;
    *days = days_from_civil(y, m, d);
    return true;
}

/* "H...H:MM:SS[.ffffff]" with at least two and at most max_hour_digits hour digits, as microseconds. */
static bool scan_clock(struct scan *s, int max_hour_digits, uint64_t *usecs)
{
    int64_t h, m, sec, frac = 0;
    if (!scan_digits(s, 2, max_hour_digits, &h) || !scan_char(s, ':') || !scan_digits(s, 2, 2, &m) ||
        !scan_char(s, ':') || !scan_digits(s, 2, 2, &sec) || m > 59 || sec > 59)
        return false;
    if (scan_char(s, '.')) {
        const char *start = s->p;
        if (!scan_digits(s, 1, 6, &frac))
            return false;
        for (ptrdiff_t k = s->p - start; k < 6; k++)
            frac *= 10;
    }
    uint64_t hours = (uint64_t)h;
    uint64_t rest = (uint64_t)((m * 60 + sec) * USECS_PER_SEC + frac);
    if (hours > (UINT64_MAX - rest) / (3600 * (uint64_t)USECS_PER_SEC))
        return false;
    *usecs = hours * 3600 * (uint64_t)USECS_PER_SEC + rest;
    return true;
}

/* EncodeTimezone: "+HH[:MM[:SS]]", as seconds east of UTC. */
static bool scan_zone(struct scan *s, int32_t *east)
{
    bool neg = scan_char(s, '-');
    if (!neg && !scan_char(s, '+'))
        return false;
    int64_t h, m = 0, sec = 0;
    if (!scan_digits(s, 2, 2, &h))
        return false;
    if (scan_char(s, ':') && (!scan_digits(s, 2, 2, &m) || (scan_char(s, ':') && !scan_digits(s, 2, 2, &sec))))
        return false;
    if (m > 59 || sec > 59)
        return false;
    int32_t v = (int32_t)(h * 3600 + m * 60 + sec);
    *east = neg ? -v : v;
    return true;
}

static bool text_infinity(const pgrepl_value *v, int *sign)
{
    if (is_text(v, "infinity"))
        *sign = 1;
    else if (is_text(v, "-infinity"))
        *sign = -1;
    else
        return false;
    return true;
}

int pgrepl_value_date(const pgrepl_column *col, const pgrepl_value *v, int32_t *days)
{
    int rc = begin_one(col, v, days, PGREPL_DATEOID, "a date");
    if (rc != 0)
        return rc;
    if (v->kind == PGREPL_VALUE_BINARY) {
        if (v->len != 4)
            return bad_length("date", v->len, 4);
        *days = (int32_t)pgrepl__rd32(v->data);
        return 0;
    }
    int sign;
    if (text_infinity(v, &sign)) {
        *days = sign > 0 ? PGREPL_DATE_INFINITY : PGREPL_DATE_NEG_INFINITY;
        return 0;
    }
    struct scan s = scan_of(v);
    bool bc = scan_suffix(&s, " BC");
    int64_t d;
    if (!scan_date(&s, bc, &d) || s.p != s.end)
        return bad_text("date", v);
    if (d <= INT32_MIN || d >= INT32_MAX)
        return fail(PGREPL_ERANGE, "date is beyond 32 bits of days");
    *days = (int32_t)d;
    return 0;
}

/* "YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM[:SS]]][ BC]", converted to UTC. */
static int timestamp_text(uint32_t type, const pgrepl_value *v, pgrepl_timestamp *out)
{
    const char *name = pgrepl_type_name(type);
    int sign;
    if (text_infinity(v, &sign)) {
        *out = sign > 0 ? PGREPL_TIMESTAMP_INFINITY : PGREPL_TIMESTAMP_NEG_INFINITY;
        return 0;
    }
    struct scan s = scan_of(v);
    bool bc = scan_suffix(&s, " BC");
    int64_t days;
    uint64_t usecs;
    int32_t east = 0;
    if (!scan_date(&s, bc, &days) || !scan_char(&s, ' ') || !scan_clock(&s, 2, &usecs) ||
        usecs > (uint64_t)USECS_PER_DAY)
        return bad_text(name, v);
    if (s.p != s.end && !scan_zone(&s, &east))
        return bad_text(name, v);
    if (s.p != s.end)
        return bad_text(name, v);
    if (days < -TIMESTAMP_DAYS_MAX || days > TIMESTAMP_DAYS_MAX)
        return fail(PGREPL_ERANGE, "%s is beyond 64 bits of microseconds", name);
    *out = days * USECS_PER_DAY + (int64_t)usecs - east * USECS_PER_SEC;
    return 0;
}

int pgrepl_value_timestamp(const pgrepl_column *col, const pgrepl_value *v, pgrepl_timestamp *out)
{
    uint32_t type;
    int rc = begin(col, v, out, &type);
    if (rc != 0)
        return rc;
    if (type != PGREPL_TIMESTAMPOID && type != PGREPL_TIMESTAMPTZOID)
        return mismatch(col, type, "a timestamp");
    if (v->kind == PGREPL_VALUE_TEXT)
        return timestamp_text(type, v, out);
    if (v->len != 8)
        return bad_length(pgrepl_type_name(type), v->len, 8);
    *out = (pgrepl_timestamp)pgrepl__rd64(v->data);
    return 0;
}

static int time_binary(uint32_t type, const pgrepl_value *v, int64_t *usecs, int32_t *east)
{
    size_t want = type == PGREPL_TIMETZOID ? 12 : 8;
    if (v->len != want)
        return bad_length(pgrepl_type_name(type), v->len, want);
    *usecs = (int64_t)pgrepl__rd64(v->data);
    /* timetz_send keeps the zone as seconds west of Greenwich */
    *east = type == PGREPL_TIMETZOID ? -(int32_t)pgrepl__rd32(v->data + 8) : 0;
    return 0;
}

static int time_text(uint32_t type, const pgrepl_value *v, int64_t *usecs, int32_t *east)
{
    struct scan s = scan_of(v);
    uint64_t u;
    *east = 0;
    if (!scan_clock(&s, 2, &u) || u > (uint64_t)USECS_PER_DAY || (type == PGREPL_TIMETZOID && !scan_zone(&s, east)) ||
        s.p != s.end)
        return bad_text(pgrepl_type_name(type), v);
    *usecs = (int64_t)u;
    return 0;
}

int pgrepl_value_time(const pgrepl_column *col, const pgrepl_value *v, int64_t *usecs, int32_t *utc_offset)
{
    uint32_t type;
    int rc = begin(col, v, usecs, &type);
    if (rc != 0)
        return rc;
    if (type != PGREPL_TIMEOID && type != PGREPL_TIMETZOID)
        return mismatch(col, type, "a time of day");
    int64_t t = 0;
    int32_t east = 0;
    rc = v->kind == PGREPL_VALUE_BINARY ? time_binary(type, v, &t, &east) : time_text(type, v, &t, &east);
    if (rc != 0)
        return rc;
    *usecs = t;
    if (utc_offset != NULL)
        *utc_offset = east;
    return 0;
}

/* ---- intervals --------------------------------------------------------------------- */

/* One "N unit" field of IntervalStyle postgres, added to months or days. */
static bool interval_field(struct scan *s, int64_t *months, int64_t *days)
{
    bool neg = scan_sign(s);
    int64_t n;
    if (!scan_digits(s, 1, 10, &n) || !scan_char(s, ' '))
        return false;
    n = neg ? -n : n;
    if (scan_word(s, "year") || scan_word(s, "years"))
        *months += 12 * n;
    else if (scan_word(s, "mon") || scan_word(s, "mons"))
        *months += n;
    else if (scan_word(s, "day") || scan_word(s, "days"))
        *days += n;
    else
        return false;
    return true;
}

/* "[+-]H...H:MM:SS[.ffffff]": the time part, which comes last. */
static bool interval_clock(struct scan *s, int64_t *usecs)
{
    bool neg = scan_sign(s);
    uint64_t mag;
    if (!scan_clock(s, 10, &mag) || mag > (uint64_t)INT64_MAX + neg)
        return false;
    *usecs = neg ? -(int64_t)(mag - 1) - 1 : (int64_t)mag;
    return true;
}

/* "1 year 2 mons -3 days +04:05:06.5", "-1 days", "00:00:00", "infinity". */
static int interval_text(const pgrepl_value *v, pgrepl_interval *out)
{
    int sign;
    if (text_infinity(v, &sign)) {
        *out = sign > 0 ? (pgrepl_interval){INT64_MAX, INT32_MAX, INT32_MAX}
                        : (pgrepl_interval){INT64_MIN, INT32_MIN, INT32_MIN};
        return 0;
    }
    struct scan s = scan_of(v);
    int64_t months = 0, days = 0, usecs = 0;
    bool any = false;
    while (s.p < s.end) {
        if (any && !scan_char(&s, ' '))
            return bad_text("interval", v);
        any = true;
        struct scan field = s;
        if (interval_field(&field, &months, &days)) {
            s = field;
            continue;
        }
        if (!interval_clock(&s, &usecs) || s.p != s.end)
            return bad_text("interval", v);
    }
    if (!any)
        return bad_text("interval", v);
    if (months < INT32_MIN || months > INT32_MAX || days < INT32_MIN || days > INT32_MAX)
        return fail(PGREPL_ERANGE, "interval months or days beyond 32 bits");
    *out = (pgrepl_interval){usecs, (int32_t)days, (int32_t)months};
    return 0;
}

int pgrepl_value_interval(const pgrepl_column *col, const pgrepl_value *v, pgrepl_interval *out)
{
    int rc = begin_one(col, v, out, PGREPL_INTERVALOID, "an interval");
    if (rc != 0)
        return rc;
    if (v->kind == PGREPL_VALUE_TEXT)
        return interval_text(v, out);
    if (v->len != 16)
        return bad_length("interval", v->len, 16);
    *out = (pgrepl_interval){(int64_t)pgrepl__rd64(v->data), (int32_t)pgrepl__rd32(v->data + 8),
                             (int32_t)pgrepl__rd32(v->data + 12)};
    return 0;
}
