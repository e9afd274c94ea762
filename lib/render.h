/*
 * Internal interface of the binary-to-text renderers (render.c and
 * render_*.c; values.c holds the public entry points). Each renderer
 * appends the text of one value to the buffer and returns 0, or an error
 * with the thread's message set (pgrepl__render_bad,
 * pgrepl__render_notfound). Renderers may leave partial output behind on
 * error: the public entry points cut the buffer back.
 */
#ifndef PGREPL_LIB_RENDER_H
#define PGREPL_LIB_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pgrepl/types.h"
#include "pgrepl/values.h"
#include "buf.h"
#include "bytes.h"
#include "render_error.h"

/* OIDs below this are the ones initdb creates; pgoutput sends Type messages only for the others. */
#define PGREPL_FIRST_NON_BUILTIN_OID 10000

/* Nesting (arrays, records, ranges inside each other) deeper than this is refused. */
#define PGREPL_RENDER_MAX_DEPTH 64

/* Render one value of type oid; depth counts the containers around it. */
int pgrepl__render(pgrepl_buf *out, uint32_t oid, const uint8_t *p, size_t n, int depth);

/*
 * A value inside a record or array whose type is not built in: rendered when
 * its bytes are a record (composite types describe their fields), else
 * PGREPL_ENOTFOUND.
 */
int pgrepl__render_nested(pgrepl_buf *out, uint32_t oid, const uint8_t *p, size_t n, int depth);

/*
 * Shortest digits of v (finite, > 0; read as a float when single) as the
 * server's Ryu picks them (render_float.c): at most 17 digits into d,
 * without trailing zeros; returns their count; *exp10 is the decimal
 * exponent of the first digit (v ~ 0.d1d2... * 10^(*exp10 + 1)).
 */
int pgrepl__float_shortest(double v, bool single, char d[17], int *exp10);

/* Append a float8 / float4 as float8out / float4out print it with extra_float_digits > 0. */
int pgrepl__put_float8(pgrepl_buf *b, double v);
int pgrepl__put_float4(pgrepl_buf *b, float v);

/* ---- reading: pgrepl__rd16 / rd32 / rd64 (bytes.h) ---------------------- */

static inline double pgrepl__rdf64(const uint8_t *p)
{
    uint64_t bits = pgrepl__rd64(p);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* A fixed-size value must be exactly want bytes. */
static inline int pgrepl__want_len(const char *type, size_t n, size_t want)
{
    if (n == want)
        return 0;
    return pgrepl__render_bad("%s value of %zu bytes, want %zu", type, n, want);
}

/* ---- quoting of elements inside containers ------------------------------ */

enum pgrepl_quote_style {
    PGREPL_QUOTE_ARRAY,  /* array_out: backslash escapes; NULL-like and delimiter-bearing values quoted */
    PGREPL_QUOTE_RECORD, /* record_out: doubled quotes and backslashes */
    PGREPL_QUOTE_RANGE,  /* range_out: as record_out, brackets too */
};

/*
 * The element text at b->data[start..b->len) is requoted in place the way
 * the container's output function quotes it. delim is the array delimiter.
 */
int pgrepl__quote_tail(pgrepl_buf *b, size_t start, enum pgrepl_quote_style style, char delim);

/* ---- renderers by family ------------------------------------------------ */

/* The simple types (render_simple.c); type names the value in messages ("jsonb", "jsonpath"). */
int pgrepl__render_bool(pgrepl_buf *out, const uint8_t *p, size_t n);
int pgrepl__render_bytea(pgrepl_buf *out, const uint8_t *p, size_t n);
int pgrepl__render_char(pgrepl_buf *out, const uint8_t *p, size_t n);
int pgrepl__render_versioned_text(pgrepl_buf *out, const char *type, const uint8_t *p, size_t n);
int pgrepl__render_uuid(pgrepl_buf *out, const uint8_t *p, size_t n);
int pgrepl__render_bits(pgrepl_buf *out, const uint8_t *p, size_t n);
int pgrepl__render_tid(pgrepl_buf *out, const uint8_t *p, size_t n);
int pgrepl__render_pg_lsn(pgrepl_buf *out, const uint8_t *p, size_t n);
int pgrepl__render_snapshot(pgrepl_buf *out, const uint8_t *p, size_t n);


int pgrepl__render_int(pgrepl_buf *out, uint32_t oid, const uint8_t *p, size_t n);
int pgrepl__render_float(pgrepl_buf *out, uint32_t oid, const uint8_t *p, size_t n);
int pgrepl__render_numeric(pgrepl_buf *out, const uint8_t *p, size_t n);
int pgrepl__render_money(pgrepl_buf *out, const uint8_t *p, size_t n);
int pgrepl__render_time(pgrepl_buf *out, uint32_t oid, const uint8_t *p, size_t n);
int pgrepl__render_geo(pgrepl_buf *out, uint32_t oid, const uint8_t *p, size_t n);
int pgrepl__render_net(pgrepl_buf *out, uint32_t oid, const uint8_t *p, size_t n);
int pgrepl__render_tsvector(pgrepl_buf *out, const uint8_t *p, size_t n);
int pgrepl__render_tsquery(pgrepl_buf *out, const uint8_t *p, size_t n);

/* An array of elem (0: any element type) in array_send format. */
int pgrepl__render_array(pgrepl_buf *out, uint32_t elem, const uint8_t *p, size_t n, int depth);
/* int2vector / oidvector: a one-dimensional array printed with spaces. */
int pgrepl__render_vector(pgrepl_buf *out, uint32_t elem, const uint8_t *p, size_t n);
int pgrepl__render_record(pgrepl_buf *out, const uint8_t *p, size_t n, int depth);
/* A range of subtype in range_send format, and a multirange of ranges of subtype. */
int pgrepl__render_range(pgrepl_buf *out, uint32_t subtype, const uint8_t *p, size_t n, int depth);
int pgrepl__render_multirange(pgrepl_buf *out, uint32_t subtype, const uint8_t *p, size_t n, int depth);

/* OID of a built-in pg_type name ("int4", "_text"), or 0. */
uint32_t pgrepl__typname_oid(const char *name);

#endif
