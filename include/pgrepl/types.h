/*
 * pgrepl/types.h - names of PostgreSQL's built-in types, spelled as
 * format_type() spells them, with type modifiers.
 */
#ifndef PGREPL_TYPES_H
#define PGREPL_TYPES_H

#include <pgrepl/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Name of a built-in type OID as format_type(oid, NULL) prints it
 * ("integer", "character varying", "timestamp with time zone", "integer[]"),
 * or NULL when the OID is not a built-in type this library knows.
 * Static storage.
 */
PGREPL_EXTERN const char *pgrepl_type_name(uint32_t oid);

/*
 * Format a built-in type as format_type(oid, typmod) does, with its modifier:
 * "character varying(20)", "numeric(12,4)", "timestamp(3) with time zone",
 * "bit varying(8)", "interval day to second(3)", "integer[]". typmod -1
 * means none.
 *
 * A column's typmod is always given (-1 when it has none), and format_type
 * then prints some types by their internal name: bpchar with typmod -1 is
 * "bpchar" and bit is "\"bit\"", as the server does.
 *
 * Writes at most size bytes including the NUL (like snprintf) and returns
 * the length the full name needs (without NUL), or PGREPL_ENOTFOUND when oid
 * is not a known built-in type, or PGREPL_EINVAL when buf is NULL and size > 0
 * or typmod is one the server itself rejects (an interval typmod with invalid
 * fields); on error buf holds "" when size > 0.
 */
PGREPL_EXTERN int pgrepl_format_type(char *buf, size_t size, uint32_t oid, int32_t typmod);

/* Well-known built-in type OIDs (stable since PostgreSQL 8.x). */
#define PGREPL_BOOLOID 16
#define PGREPL_BYTEAOID 17
#define PGREPL_CHAROID 18
#define PGREPL_NAMEOID 19
#define PGREPL_INT8OID 20
#define PGREPL_INT2OID 21
#define PGREPL_INT4OID 23
#define PGREPL_TEXTOID 25
#define PGREPL_OIDOID 26
#define PGREPL_JSONOID 114
#define PGREPL_CIDROID 650
#define PGREPL_MACADDR8OID 774
#define PGREPL_MACADDROID 829
#define PGREPL_INETOID 869
#define PGREPL_FLOAT4OID 700
#define PGREPL_FLOAT8OID 701
#define PGREPL_BPCHAROID 1042
#define PGREPL_VARCHAROID 1043
#define PGREPL_DATEOID 1082
#define PGREPL_TIMEOID 1083
#define PGREPL_TIMESTAMPOID 1114
#define PGREPL_TIMESTAMPTZOID 1184
#define PGREPL_INTERVALOID 1186
#define PGREPL_TIMETZOID 1266
#define PGREPL_BITOID 1560
#define PGREPL_VARBITOID 1562
#define PGREPL_NUMERICOID 1700
#define PGREPL_UUIDOID 2950
#define PGREPL_JSONBOID 3802

#ifdef __cplusplus
}
#endif

#endif /* PGREPL_TYPES_H */
