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

#ifdef __cplusplus
}
#endif

#endif /* PGREPL_VALUES_H */
