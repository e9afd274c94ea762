/*
 * Column values: the public entry points, the dispatch by type OID and the
 * renderers of the simple types (text-like, bool, bytea, "char", uuid,
 * json/jsonb/jsonpath, bit strings, tid, pg_lsn, snapshots).
 */
#include "digits.h"
#include "render.h"
#include "types_internal.h"

/* OIDs below this are the ones initdb creates; pgoutput sends Type messages only for the others. */
#define FIRST_NON_BUILTIN_OID 10000

/* ---- simple types --------------------------------------------------------- */

static const char hexdigits[] = "0123456789abcdef";

static int render_bool(pgrepl_buf *out, const uint8_t *p, size_t n)
{
    int rc = pgrepl__want_len("boolean", n, 1);
    if (rc != 0)
        return rc;
    return pgrepl__putc(out, p[0] ? 't' : 'f');
}

/* bytea_output = hex. */
static int render_bytea(pgrepl_buf *out, const uint8_t *p, size_t n)
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
static int render_char(pgrepl_buf *out, const uint8_t *p, size_t n)
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
static int render_versioned_text(pgrepl_buf *out, const char *type, const uint8_t *p, size_t n)
{
    if (n < 1 || p[0] != 1)
        return pgrepl__render_bad("%s value without format version 1", type);
    return pgrepl__put(out, (const char *)p + 1, n - 1);
}

static int render_uuid(pgrepl_buf *out, const uint8_t *p, size_t n)
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
static int render_bits(pgrepl_buf *out, const uint8_t *p, size_t n)
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

static int render_tid(pgrepl_buf *out, const uint8_t *p, size_t n)
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

static int render_lsn(pgrepl_buf *out, const uint8_t *p, size_t n)
{
    int rc = pgrepl__want_len("pg_lsn", n, 8);
    if (rc != 0)
        return rc;
    char text[PGREPL_LSN_BUFSIZE];
    int len = pgrepl_lsn_format(pgrepl__rd64(p), text);
    return pgrepl__put(out, text, (size_t)len);
}

/* pg_snapshot and txid_snapshot: count, xmin, xmax, in-progress xids; printed "xmin:xmax:xip,...". */
static int render_snapshot(pgrepl_buf *out, const uint8_t *p, size_t n)
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

/* ---- dispatch --------------------------------------------------------------- */

/* Range and multirange types and their subtypes. */
static uint32_t range_subtype(uint32_t oid)
{
    switch (oid) {
    case 3904: return PGREPL_INT4OID;        /* int4range */
    case 3906: return PGREPL_NUMERICOID;     /* numrange */
    case 3908: return PGREPL_TIMESTAMPOID;   /* tsrange */
    case 3910: return PGREPL_TIMESTAMPTZOID; /* tstzrange */
    case 3912: return PGREPL_DATEOID;        /* daterange */
    case 3926: return PGREPL_INT8OID;        /* int8range */
    default: return 0;
    }
}

static uint32_t multirange_subtype(uint32_t oid)
{
    switch (oid) {
    case 4451: return PGREPL_INT4OID;
    case 4532: return PGREPL_NUMERICOID;
    case 4533: return PGREPL_TIMESTAMPOID;
    case 4534: return PGREPL_TIMESTAMPTZOID;
    case 4535: return PGREPL_DATEOID;
    case 4536: return PGREPL_INT8OID;
    default: return 0;
    }
}

/* Types whose send format is their text: name, text, varchar, bpchar, json, xml and the like. */
static bool is_text_like(uint32_t oid)
{
    switch (oid) {
    case PGREPL_NAMEOID:
    case PGREPL_TEXTOID:
    case PGREPL_JSONOID:
    case 142:  /* xml (sent in the client encoding, as text mode prints it) */
    case 194:  /* pg_node_tree */
    case 705:  /* unknown */
    case PGREPL_BPCHAROID:
    case PGREPL_VARCHAROID:
    case 1790: /* refcursor */
    case 2275: /* cstring */
        return true;
    default:
        return false;
    }
}

static int render_containers(pgrepl_buf *out, uint32_t oid, const uint8_t *p, size_t n, int depth)
{
    uint32_t sub = range_subtype(oid);
    if (sub != 0)
        return pgrepl__render_range(out, sub, p, n, depth);
    sub = multirange_subtype(oid);
    if (sub != 0)
        return pgrepl__render_multirange(out, sub, p, n, depth);
    uint32_t elem = pgrepl__type_elem(oid);
    if (elem != 0)
        return pgrepl__render_array(out, elem, p, n, depth);
    return pgrepl__render_notfound(oid);
}

int pgrepl__render(pgrepl_buf *out, uint32_t oid, const uint8_t *p, size_t n, int depth)
{
    if (depth > PGREPL_RENDER_MAX_DEPTH)
        return pgrepl__render_bad("values nested more than %d deep", PGREPL_RENDER_MAX_DEPTH);
    if (is_text_like(oid))
        return pgrepl__put(out, (const char *)p, n);
    switch (oid) {
    case PGREPL_BOOLOID: return render_bool(out, p, n);
    case PGREPL_BYTEAOID: return render_bytea(out, p, n);
    case PGREPL_CHAROID: return render_char(out, p, n);
    case PGREPL_INT8OID:
    case PGREPL_INT2OID:
    case PGREPL_INT4OID:
    case PGREPL_OIDOID:
    case 28:   /* xid */
    case 29:   /* cid */
    case 5069: /* xid8 */
        return pgrepl__render_int(out, oid, p, n);
    case 22: return pgrepl__render_vector(out, PGREPL_INT2OID, p, n); /* int2vector */
    case 30: return pgrepl__render_vector(out, PGREPL_OIDOID, p, n);  /* oidvector */
    case 27: return render_tid(out, p, n);
    case PGREPL_FLOAT4OID:
    case PGREPL_FLOAT8OID:
        return pgrepl__render_float(out, oid, p, n);
    case PGREPL_NUMERICOID: return pgrepl__render_numeric(out, p, n);
    case 790: return pgrepl__render_money(out, p, n);
    case PGREPL_DATEOID:
    case PGREPL_TIMEOID:
    case PGREPL_TIMESTAMPOID:
    case PGREPL_TIMESTAMPTZOID:
    case PGREPL_INTERVALOID:
    case PGREPL_TIMETZOID:
        return pgrepl__render_time(out, oid, p, n);
    case 600: /* point */
    case 601: /* lseg */
    case 602: /* path */
    case 603: /* box */
    case 604: /* polygon */
    case 628: /* line */
    case 718: /* circle */
        return pgrepl__render_geo(out, oid, p, n);
    case 650: /* cidr */
    case 869: /* inet */
    case 774: /* macaddr8 */
    case 829: /* macaddr */
        return pgrepl__render_net(out, oid, p, n);
    case PGREPL_BITOID:
    case PGREPL_VARBITOID:
        return render_bits(out, p, n);
    case PGREPL_UUIDOID: return render_uuid(out, p, n);
    case PGREPL_JSONBOID: return render_versioned_text(out, "jsonb", p, n);
    case 4072: return render_versioned_text(out, "jsonpath", p, n);
    case 3220: return render_lsn(out, p, n);
    case 2970: /* txid_snapshot */
    case 5038: /* pg_snapshot */
        return render_snapshot(out, p, n);
    case 3614: return pgrepl__render_tsvector(out, p, n);
    case 3615: return pgrepl__render_tsquery(out, p, n);
    case 2249: return pgrepl__render_record(out, p, n, depth);
    default: return render_containers(out, oid, p, n, depth);
    }
}

int pgrepl__render_nested(pgrepl_buf *out, uint32_t oid, const uint8_t *p, size_t n, int depth)
{
    if (depth > PGREPL_RENDER_MAX_DEPTH)
        return pgrepl__render_bad("values nested more than %d deep", PGREPL_RENDER_MAX_DEPTH);
    if (oid < FIRST_NON_BUILTIN_OID)
        return pgrepl__render(out, oid, p, n, depth);
    size_t start = out->len;
    int rc = pgrepl__render_record(out, p, n, depth);
    if (rc == PGREPL_EPROTOCOL) {
        pgrepl__buf_cut(out, start);
        return pgrepl__render_notfound(oid);
    }
    return rc;
}

/* ---- public entry points ------------------------------------------------------ */

/* Cut out back to len after a failure, so that the caller's buffer is as it was. */
static int finish(pgrepl_buf *out, size_t len, int rc)
{
    if (rc != 0)
        pgrepl__buf_cut(out, len);
    return rc;
}

int pgrepl_binary_to_text(pgrepl_buf *out, uint32_t type_oid, const uint8_t *data, size_t len)
{
    pgrepl__render_clear();
    if (out == NULL || (data == NULL && len > 0))
        return PGREPL_EINVAL;
    if (type_oid >= FIRST_NON_BUILTIN_OID)
        return pgrepl__render_notfound(type_oid);
    size_t start = out->len;
    return finish(out, start, pgrepl__render(out, type_oid, data, len, 0));
}

/* Enum labels are text; a value with control bytes is not one (ranges, arrays and records have them). */
static bool looks_like_label(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] == 0x7f)
            return false;
    return true;
}

/*
 * A column type pgoutput described by name only. A built-in pg_type name in
 * pg_catalog is a domain's base type. Otherwise the bytes decide: a composite
 * type sends a record, an array of a composite type an array of records, an
 * enum its label.
 */
static int render_described(pgrepl_buf *out, const pgrepl_column *col, const uint8_t *p, size_t n)
{
    if (col->type_name == NULL)
        return pgrepl__render_notfound(col->type_oid);
    if (col->type_schema != NULL && strcmp(col->type_schema, "pg_catalog") == 0) {
        uint32_t base = pgrepl__typname_oid(col->type_name);
        if (base != 0)
            return pgrepl__render(out, base, p, n, 0);
    }
    size_t start = out->len;
    int rc = pgrepl__render_record(out, p, n, 0);
    if (rc == PGREPL_EPROTOCOL && col->type_name[0] == '_') {
        pgrepl__buf_cut(out, start);
        rc = pgrepl__render_array(out, 0, p, n, 0);
    }
    if (rc != PGREPL_EPROTOCOL)
        return rc;
    pgrepl__buf_cut(out, start);
    if (!looks_like_label(p, n))
        return pgrepl__render_notfound(col->type_oid);
    return pgrepl__put(out, (const char *)p, n);
}

int pgrepl_value_to_text(pgrepl_buf *out, const pgrepl_column *col, const pgrepl_value *v)
{
    pgrepl__render_clear();
    if (out == NULL || col == NULL || v == NULL || (v->data == NULL && v->len > 0))
        return PGREPL_EINVAL;
    size_t start = out->len;
    switch (v->kind) {
    case PGREPL_VALUE_TEXT:
        return pgrepl_buf_append(out, v->data, v->len);
    case PGREPL_VALUE_BINARY:
        if (col->type_oid < FIRST_NON_BUILTIN_OID)
            return finish(out, start, pgrepl__render(out, col->type_oid, v->data, v->len, 0));
        return finish(out, start, render_described(out, col, v->data, v->len));
    default:
        (void)pgrepl__render_bad("a value of kind '%c' has no text", v->kind);
        return PGREPL_EINVAL;
    }
}
