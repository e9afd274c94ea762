/*
 * pgrepl/values.h - column values: binary (pgoutput `binary 'true'`) to the
 * text PostgreSQL itself would print, and a growable output buffer.
 *
 * The text produced is exactly what the server's output function prints
 * under the session settings the stream pins (DateStyle ISO, TimeZone UTC,
 * IntervalStyle postgres, extra_float_digits 3, bytea_output hex), so that a
 * consumer sees the same values in binary mode as in text mode. money is
 * printed as under lc_monetary C ("$1,234.56").
 *
 * No I/O; allocation only through the library's allocator, and only when the
 * output buffer grows.
 */
#ifndef PGREPL_VALUES_H
#define PGREPL_VALUES_H

#include <pgrepl/common.h>
#include <pgrepl/decode.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A growable byte buffer. Zero-initialise it or use pgrepl_buf_init. data is always NUL-terminated when non-NULL. */
typedef struct pgrepl_buf {
    char *data;
    size_t len;
    size_t cap;
} pgrepl_buf;

PGREPL_EXTERN void pgrepl_buf_init(pgrepl_buf *b);
/* Free the storage; the buffer is empty and reusable afterwards. */
PGREPL_EXTERN void pgrepl_buf_free(pgrepl_buf *b);
/* Make room for n more bytes. Returns 0 or PGREPL_ENOMEM. */
PGREPL_EXTERN int pgrepl_buf_reserve(pgrepl_buf *b, size_t n);
/* Append n bytes. Returns 0 or PGREPL_ENOMEM (the buffer is unchanged then). */
PGREPL_EXTERN int pgrepl_buf_append(pgrepl_buf *b, const void *data, size_t n);

/*
 * Append to out the text form of a built-in type's binary send format:
 * type_oid is the value's type (arrays, ranges and multiranges included; their
 * element types come from the binary data itself where the format carries
 * them). Returns 0; PGREPL_ENOTFOUND when type_oid is not a built-in type this
 * library can render; PGREPL_EPROTOCOL when the bytes are not a valid value of
 * that type (the message, via pgrepl_render_errmsg, says why); PGREPL_ENOMEM.
 * On error out is left as it was.
 *
 * Types whose text needs the catalog (regclass and the other reg* types) are
 * PGREPL_ENOTFOUND. A field of a record or an element of an array whose type
 * is not built in is rendered when its bytes are a record (a composite type
 * describes its own fields), else PGREPL_ENOTFOUND. Known differences from
 * older servers: "char" bytes >= 0x80 print as \ooo as PostgreSQL 15+ does
 * (14 prints the raw byte), and the interval values that PostgreSQL 17 reads
 * as infinity print as "infinity" / "-infinity".
 */
PGREPL_EXTERN int pgrepl_binary_to_text(pgrepl_buf *out, uint32_t type_oid, const uint8_t *data, size_t len);

/*
 * Append the text form of one decoded column value: 't' values are copied,
 * 'b' values rendered. For a column of a non-built-in type the Type message's
 * name decides: a domain over a built-in type renders as its base type, an
 * enum's binary form is its label. 'n' and 'u' append nothing and return
 * PGREPL_EINVAL (there is no text). Errors as pgrepl_binary_to_text.
 *
 * In detail, a column whose type OID is 10000 or more is rendered as: the
 * built-in type named by the Type message when its namespace is pg_catalog
 * (a domain); else a record when the bytes are one (a composite type); else,
 * for a name starting with '_', an array when the bytes are one (its
 * elements rendered as above: arrays of composite types); else the bytes
 * themselves when they hold no control characters (an enum label; also right
 * for extension types whose binary form is their text, such as citext); else
 * PGREPL_ENOTFOUND. Arrays of enums or of domains are PGREPL_ENOTFOUND: the
 * stream does not say what their elements are.
 */
PGREPL_EXTERN int pgrepl_value_to_text(pgrepl_buf *out, const pgrepl_column *col, const pgrepl_value *v);

/* Why the last rendering on this thread failed ("" if none). Thread-local static storage. */
PGREPL_EXTERN const char *pgrepl_render_errmsg(void);

/* ---------------------------------------------------------------------------
 * Typed values
 *
 * Read one column value as a C value, from either form pgoutput sends: text
 * ('t': the type's output function, under the settings the stream pins:
 * DateStyle ISO, IntervalStyle postgres, bytea_output hex, extra_float_digits
 * 3, TimeZone UTC) or binary ('b': the type's send format). The same value
 * gives the same result in both forms. The column's type decides what a
 * function accepts; a domain over a built-in type (pgoutput names its base
 * type in the Type message) counts as that base type.
 *
 * Each function returns 0 and stores the result, or fails and leaves its
 * outputs untouched, with pgrepl_render_errmsg() saying why:
 *   PGREPL_EINVAL     a NULL argument; a value that holds nothing (kind 'n',
 *                     SQL NULL, or 'u', an unchanged TOAST value that was not
 *                     sent); or a type mismatch: the column's type is not
 *                     one the function reads (pgrepl_value_int64 on a text
 *                     column, pgrepl_value_double on a bool column)
 *   PGREPL_ERANGE     the type is accepted but this value does not fit the C
 *                     type: an xid8 above INT64_MAX, a numeric with a
 *                     fraction (or NaN, or infinite) read as an integer, a
 *                     numeric beyond double's range
 *   PGREPL_EPROTOCOL  the bytes are not a value of the type (a binary value
 *                     of the wrong length, text that does not parse)
 *   PGREPL_ENOMEM     only the functions that append to a pgrepl_buf
 * Only the functions taking a pgrepl_buf allocate (when it grows). Spans
 * returned point into the value's data: valid as long as the value is
 * (until the decoder callback returns). Thread-safe; callable from any
 * callback.
 * ------------------------------------------------------------------------- */

/* Infinite dates and timestamps, as the server stores them. */
#define PGREPL_DATE_NEG_INFINITY INT32_MIN
#define PGREPL_DATE_INFINITY INT32_MAX
#define PGREPL_TIMESTAMP_NEG_INFINITY INT64_MIN
#define PGREPL_TIMESTAMP_INFINITY INT64_MAX

/* boolean. */
PGREPL_EXTERN int pgrepl_value_bool(const pgrepl_column *col, const pgrepl_value *v, bool *out);

/*
 * smallint, integer, bigint, oid, xid, cid, xid8 (PGREPL_ERANGE above
 * INT64_MAX), and numeric holding an integer in range (PGREPL_ERANGE when it
 * has a non-zero fraction, is NaN or infinite, or does not fit).
 */
PGREPL_EXTERN int pgrepl_value_int64(const pgrepl_column *col, const pgrepl_value *v, int64_t *out);

/*
 * real (widened exactly), double precision, the integer types of
 * pgrepl_value_int64 and numeric (the nearest double, as numeric::float8;
 * NaN and infinities carry over). PGREPL_ERANGE for a numeric whose
 * magnitude overflows double, or that is non-zero but rounds to zero.
 */
PGREPL_EXTERN int pgrepl_value_double(const pgrepl_column *col, const pgrepl_value *v, double *out);

/*
 * numeric and the integer types of pgrepl_value_int64, as value * 10^scale,
 * exactly (numeric(12,4) with scale 4: 1.5 is 15000). scale is 0 to 18,
 * else PGREPL_EINVAL. PGREPL_ERANGE when the value has non-zero digits
 * beyond scale fraction digits, is NaN or infinite, or the result does not
 * fit int64.
 */
PGREPL_EXTERN int pgrepl_value_numeric_scaled(const pgrepl_column *col, const pgrepl_value *v, int scale,
                                              int64_t *out);

/* numeric: append its text as numeric_out prints it ("-1.50", "NaN"). Any length. */
PGREPL_EXTERN int pgrepl_value_numeric_text(const pgrepl_column *col, const pgrepl_value *v, pgrepl_buf *out);

/*
 * text, character varying, character (bpchar, with its padding), name and
 * xml: the text as a span into the value, not NUL-terminated, without
 * copying.
 */
PGREPL_EXTERN int pgrepl_value_text(const pgrepl_column *col, const pgrepl_value *v, const char **text,
                                    size_t *len);

/* json and jsonb: the JSON text as a span into the value (jsonb: the server's normalised text). */
PGREPL_EXTERN int pgrepl_value_json(const pgrepl_column *col, const pgrepl_value *v, const char **text,
                                    size_t *len);

/* bytea: append the raw bytes (text mode: decoded from hex, "\x..."). */
PGREPL_EXTERN int pgrepl_value_bytes(const pgrepl_column *col, const pgrepl_value *v, pgrepl_buf *out);

/* uuid: the 16 bytes, in the order the text form prints them. */
PGREPL_EXTERN int pgrepl_value_uuid(const pgrepl_column *col, const pgrepl_value *v, uint8_t out[16]);

/* date: days since 2000-01-01 (negative before); PGREPL_DATE_[NEG_]INFINITY for infinite dates. */
PGREPL_EXTERN int pgrepl_value_date(const pgrepl_column *col, const pgrepl_value *v, int32_t *days);

/*
 * timestamp with time zone (the instant, in microseconds since 2000-01-01
 * UTC) and timestamp without time zone (its wall-clock reading, taken as if
 * it were UTC). PGREPL_TIMESTAMP_[NEG_]INFINITY for infinite timestamps.
 * Text with another zone offset than +00 is converted to UTC.
 */
PGREPL_EXTERN int pgrepl_value_timestamp(const pgrepl_column *col, const pgrepl_value *v, pgrepl_timestamp *out);

/*
 * time (microseconds since midnight, 0 to 86400000000 for 24:00:00) and time
 * with time zone (its local time, and its offset in seconds east of UTC:
 * "+05:30" is 19800). utc_offset may be NULL; for time it is 0.
 */
PGREPL_EXTERN int pgrepl_value_time(const pgrepl_column *col, const pgrepl_value *v, int64_t *usecs,
                                    int32_t *utc_offset);

/* An interval's three fields, kept apart as the server keeps them (a month is not a fixed number of days). */
typedef struct pgrepl_interval {
    int64_t usecs;  /* time part, microseconds */
    int32_t days;
    int32_t months; /* years count as 12 months */
} pgrepl_interval;

/*
 * interval. PostgreSQL 17's infinite intervals have every field at its
 * maximum ("infinity") or minimum ("-infinity"). Text must be in
 * IntervalStyle postgres (the stream pins it).
 */
PGREPL_EXTERN int pgrepl_value_interval(const pgrepl_column *col, const pgrepl_value *v, pgrepl_interval *out);

#ifdef __cplusplus
}
#endif

#endif /* PGREPL_VALUES_H */
