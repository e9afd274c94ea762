/*
 * One value of a built-in type to text: the dispatch by type OID, and the
 * containers whose elements go back through it: arrays (array_send /
 * array_out), int2vector and oidvector, records (record_send / record_out),
 * ranges and multiranges. The dispatch and the containers call each other,
 * so they are one file. Each element is rendered straight into the output
 * and then requoted in place.
 */
#include <strings.h>

#include "digits.h"
#include "render.h"
#include "types_internal.h"

#define MAXDIM 6
#define MAX_RECORD_FIELDS 1664 /* MaxTupleAttributeNumber */

/* ---- quoting -------------------------------------------------------------------- */

/* The whitespace of array_isspace and of isspace() in the C locale. */
static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* The characters besides quote, backslash and whitespace that make an element need quotes. */
static bool is_special(char c, enum pgrepl_quote_style style, char delim)
{
    switch (style) {
    case PGREPL_QUOTE_ARRAY: return c == '{' || c == '}' || c == delim;
    case PGREPL_QUOTE_RECORD: return c == '(' || c == ')' || c == ',';
    default: return c == '(' || c == ')' || c == ',' || c == '[' || c == ']';
    }
}

static bool needs_quotes(const char *s, size_t n, enum pgrepl_quote_style style, char delim)
{
    if (n == 0)
        return true;
    if (style == PGREPL_QUOTE_ARRAY && n == 4 && strncasecmp(s, "NULL", 4) == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '"' || s[i] == '\\' || is_space(s[i]) || is_special(s[i], style, delim))
            return true;
    return false;
}

int pgrepl__quote_tail(pgrepl_buf *b, size_t start, enum pgrepl_quote_style style, char delim)
{
    size_t n = b->len - start;
    if (!needs_quotes(b->data != NULL ? b->data + start : "", n, style, delim))
        return 0;
    size_t extra = 2;
    for (size_t i = start; i < b->len; i++)
        if (b->data[i] == '"' || b->data[i] == '\\')
            extra++;
    if (pgrepl__buf_room(b, extra) == NULL)
        return PGREPL_ENOMEM;
    /* Fill from the back so that the move needs no scratch space. */
    char *s = b->data + start;
    size_t w = n + extra;
    s[--w] = '"';
    for (size_t i = n; i-- > 0;) {
        char c = s[i];
        s[--w] = c;
        if (c == '"' || c == '\\')
            s[--w] = style == PGREPL_QUOTE_ARRAY ? '\\' : c;
    }
    s[0] = '"';
    pgrepl__buf_used(b, extra);
    return 0;
}

/* ---- a sequence of length-prefixed elements ------------------------------------ */

struct reader {
    const uint8_t *p;
    size_t n;
    size_t pos;
};

static bool read_u32(struct reader *r, uint32_t *v)
{
    if (r->n - r->pos < 4)
        return false;
    *v = pgrepl__rd32(r->p + r->pos);
    r->pos += 4;
    return true;
}

/* An int32 length (-1 for NULL) and that many bytes. */
static int read_item(struct reader *r, const char *what, const uint8_t **data, int32_t *len)
{
    uint32_t raw;
    *data = NULL;
    *len = -1;
    if (!read_u32(r, &raw))
        return pgrepl__render_bad("%s: element length missing at offset %zu", what, r->pos);
    *len = (int32_t)raw;
    if (*len == -1) {
        *data = NULL;
        return 0;
    }
    if (*len < 0 || (size_t)*len > r->n - r->pos)
        return pgrepl__render_bad("%s: element of %d bytes at offset %zu, %zu left", what, (int)*len, r->pos - 4,
                                  r->n - r->pos);
    *data = r->p + r->pos;
    r->pos += (size_t)*len;
    return 0;
}

static int expect_end(const struct reader *r, const char *what)
{
    if (r->pos == r->n)
        return 0;
    return pgrepl__render_bad("%s: %zu trailing bytes", what, r->n - r->pos);
}

/* Render one element and quote it for its container. */
static int put_element(pgrepl_buf *out, uint32_t oid, const uint8_t *data, int32_t len, int depth,
                       enum pgrepl_quote_style style, char delim)
{
    size_t start = out->len;
    int rc = pgrepl__render_nested(out, oid, data, (size_t)len, depth);
    return rc != 0 ? rc : pgrepl__quote_tail(out, start, style, delim);
}

/* ---- arrays ------------------------------------------------------------------------ */

struct array_head {
    int ndim;
    uint32_t elem;
    int32_t dims[MAXDIM];
    int32_t lbounds[MAXDIM];
    size_t nitems;
};

static int read_array_head(struct reader *r, uint32_t want_elem, struct array_head *h)
{
    uint32_t ndim, flags;
    if (!read_u32(r, &ndim) || !read_u32(r, &flags) || !read_u32(r, &h->elem))
        return pgrepl__render_bad("array value of %zu bytes", r->n);
    if (ndim > MAXDIM)
        return pgrepl__render_bad("array with %d dimensions", (int)(int32_t)ndim);
    if (flags > 1)
        return pgrepl__render_bad("array flags 0x%x", (unsigned)flags);
    if (want_elem != 0 && h->elem != want_elem)
        return pgrepl__render_bad("array of type %u elements holds type %u", (unsigned)want_elem, (unsigned)h->elem);
    h->ndim = (int)ndim;
    h->nitems = ndim > 0 ? 1 : 0;
    for (int i = 0; i < h->ndim; i++) {
        uint32_t dim, lb;
        if (!read_u32(r, &dim) || !read_u32(r, &lb))
            return pgrepl__render_bad("array dimensions truncated");
        h->dims[i] = (int32_t)dim;
        h->lbounds[i] = (int32_t)lb;
        if (h->dims[i] < 0 || (int64_t)h->lbounds[i] + h->dims[i] - 1 > INT32_MAX)
            return pgrepl__render_bad("array dimension %d with %d elements from %d", i + 1, (int)h->dims[i],
                                      (int)h->lbounds[i]);
        /* Every element takes at least its 4-byte length: more than the rest can hold is malformed. */
        if (h->dims[i] != 0 && h->nitems > (r->n - r->pos) / 4 / (size_t)h->dims[i])
            return pgrepl__render_bad("array of more elements than its %zu bytes can hold", r->n);
        h->nitems *= (size_t)h->dims[i];
    }
    return 0;
}

/* "[lb:ub][lb:ub]=" when some lower bound is not 1. */
static int put_bounds(pgrepl_buf *out, const struct array_head *h)
{
    bool plain = true;
    for (int i = 0; i < h->ndim; i++)
        plain = plain && h->lbounds[i] == 1;
    if (plain)
        return 0;
    int rc = 0;
    for (int i = 0; i < h->ndim && rc == 0; i++) {
        rc = pgrepl__putc(out, '[');
        if (rc == 0)
            rc = pgrepl__put_i64(out, h->lbounds[i]);
        if (rc == 0)
            rc = pgrepl__putc(out, ':');
        if (rc == 0)
            rc = pgrepl__put_i64(out, (int64_t)h->lbounds[i] + h->dims[i] - 1);
        if (rc == 0)
            rc = pgrepl__putc(out, ']');
    }
    return rc == 0 ? pgrepl__putc(out, '=') : rc;
}

static int put_repeated(pgrepl_buf *out, char c, int count)
{
    char *w = pgrepl__buf_room(out, (size_t)count);
    if (w == NULL)
        return PGREPL_ENOMEM;
    memset(w, c, (size_t)count);
    pgrepl__buf_used(out, (size_t)count);
    return 0;
}

/*
 * After an element: close the dimensions that are complete and, unless it
 * was the last element, write the delimiter and reopen them.
 */
static int advance(pgrepl_buf *out, const struct array_head *h, int32_t idx[MAXDIM], bool last, char delim)
{
    int closes = 0;
    for (int d = h->ndim - 1; d >= 0; d--) {
        if (++idx[d] < h->dims[d])
            break;
        idx[d] = 0;
        closes++;
    }
    int rc = put_repeated(out, '}', closes);
    if (rc == 0 && !last)
        rc = pgrepl__putc(out, delim);
    if (rc == 0 && !last)
        rc = put_repeated(out, '{', closes);
    return rc;
}

int pgrepl__render_array(pgrepl_buf *out, uint32_t elem, const uint8_t *p, size_t n, int depth)
{
    struct reader r = {p, n, 0};
    struct array_head h;
    int rc = read_array_head(&r, elem, &h);
    if (rc != 0)
        return rc;
    if (h.nitems == 0) {
        rc = expect_end(&r, "array");
        return rc != 0 ? rc : pgrepl__put(out, "{}", 2);
    }
    char delim = h.elem == 603 ? ';' : ','; /* box is the one built-in type with typdelim ';' */
    int32_t idx[MAXDIM] = {0};
    rc = put_bounds(out, &h);
    if (rc == 0)
        rc = put_repeated(out, '{', h.ndim);
    for (size_t i = 0; i < h.nitems && rc == 0; i++) {
        const uint8_t *data;
        int32_t len;
        rc = read_item(&r, "array", &data, &len);
        if (rc == 0)
            rc = data == NULL ? pgrepl__put(out, "NULL", 4)
                              : put_element(out, h.elem, data, len, depth + 1, PGREPL_QUOTE_ARRAY, delim);
        if (rc == 0)
            rc = advance(out, &h, idx, i + 1 == h.nitems, delim);
    }
    return rc != 0 ? rc : expect_end(&r, "array");
}

/* int2vectorout / oidvectorout: the elements separated by spaces. */
int pgrepl__render_vector(pgrepl_buf *out, uint32_t elem, const uint8_t *p, size_t n)
{
    struct reader r = {p, n, 0};
    struct array_head h;
    int rc = read_array_head(&r, elem, &h);
    if (rc == 0 && h.ndim > 1)
        rc = pgrepl__render_bad("vector with %d dimensions", h.ndim);
    for (size_t i = 0; i < h.nitems && rc == 0; i++) {
        const uint8_t *data;
        int32_t len;
        rc = read_item(&r, "vector", &data, &len);
        if (rc == 0 && data == NULL)
            rc = pgrepl__render_bad("vector with a NULL element");
        if (rc == 0 && i > 0)
            rc = pgrepl__putc(out, ' ');
        if (rc == 0)
            rc = pgrepl__render(out, elem, data, (size_t)len, 1);
    }
    return rc != 0 ? rc : expect_end(&r, "vector");
}

/* ---- records ---------------------------------------------------------------------------- */

/* record_out: "(a,b,)" with NULL fields empty. */
int pgrepl__render_record(pgrepl_buf *out, const uint8_t *p, size_t n, int depth)
{
    struct reader r = {p, n, 0};
    uint32_t nfields;
    if (!read_u32(&r, &nfields))
        return pgrepl__render_bad("record value of %zu bytes", n);
    if (nfields > MAX_RECORD_FIELDS || nfields > (n - 4) / 8)
        return pgrepl__render_bad("record of %d fields in %zu bytes", (int)(int32_t)nfields, n);
    int rc = pgrepl__putc(out, '(');
    for (uint32_t i = 0; i < nfields && rc == 0; i++) {
        uint32_t oid = 0;
        const uint8_t *data = NULL;
        int32_t len = 0;
        if (!read_u32(&r, &oid))
            return pgrepl__render_bad("record: field %u truncated", (unsigned)i + 1);
        rc = read_item(&r, "record", &data, &len);
        if (rc == 0 && i > 0)
            rc = pgrepl__putc(out, ',');
        if (rc == 0 && data != NULL)
            rc = put_element(out, oid, data, len, depth + 1, PGREPL_QUOTE_RECORD, ',');
    }
    if (rc == 0)
        rc = expect_end(&r, "record");
    return rc != 0 ? rc : pgrepl__putc(out, ')');
}

/* ---- ranges ------------------------------------------------------------------------------ */

#define RANGE_EMPTY 0x01
#define RANGE_LB_INC 0x02
#define RANGE_UB_INC 0x04
#define RANGE_LB_INF 0x08
#define RANGE_UB_INF 0x10

static int put_bound(pgrepl_buf *out, struct reader *r, uint32_t subtype, int depth)
{
    const uint8_t *data;
    int32_t len;
    int rc = read_item(r, "range", &data, &len);
    if (rc == 0 && data == NULL)
        rc = pgrepl__render_bad("range with a NULL bound");
    return rc != 0 ? rc : put_element(out, subtype, data, len, depth + 1, PGREPL_QUOTE_RANGE, ',');
}

/* range_out: "empty", or "[lower,upper)" with an infinite bound left out. */
int pgrepl__render_range(pgrepl_buf *out, uint32_t subtype, const uint8_t *p, size_t n, int depth)
{
    if (n < 1)
        return pgrepl__render_bad("range value of 0 bytes");
    unsigned flags = p[0];
    struct reader r = {p, n, 1};
    if (flags & ~(unsigned)(RANGE_EMPTY | RANGE_LB_INC | RANGE_UB_INC | RANGE_LB_INF | RANGE_UB_INF))
        return pgrepl__render_bad("range flags 0x%02x", flags);
    if (flags & RANGE_EMPTY) {
        int rc = expect_end(&r, "range");
        return rc != 0 ? rc : pgrepl__put(out, "empty", 5);
    }
    int rc = pgrepl__putc(out, flags & RANGE_LB_INC ? '[' : '(');
    if (rc == 0 && !(flags & RANGE_LB_INF))
        rc = put_bound(out, &r, subtype, depth);
    if (rc == 0)
        rc = pgrepl__putc(out, ',');
    if (rc == 0 && !(flags & RANGE_UB_INF))
        rc = put_bound(out, &r, subtype, depth);
    if (rc == 0)
        rc = pgrepl__putc(out, flags & RANGE_UB_INC ? ']' : ')');
    return rc != 0 ? rc : expect_end(&r, "range");
}

/* multirange_out: "{" ranges separated by commas "}". */
int pgrepl__render_multirange(pgrepl_buf *out, uint32_t subtype, const uint8_t *p, size_t n, int depth)
{
    struct reader r = {p, n, 0};
    uint32_t count;
    if (!read_u32(&r, &count))
        return pgrepl__render_bad("multirange value of %zu bytes", n);
    if (count > (n - 4) / 5)
        return pgrepl__render_bad("multirange of %d ranges in %zu bytes", (int)(int32_t)count, n);
    int rc = pgrepl__putc(out, '{');
    for (uint32_t i = 0; i < count && rc == 0; i++) {
        const uint8_t *data;
        int32_t len;
        if (i > 0)
            rc = pgrepl__putc(out, ',');
        if (rc == 0)
            rc = read_item(&r, "multirange", &data, &len);
        if (rc == 0 && data == NULL)
            rc = pgrepl__render_bad("multirange with a NULL range");
        if (rc == 0)
            rc = pgrepl__render_range(out, subtype, data, (size_t)len, depth + 1);
    }
    if (rc == 0)
        rc = expect_end(&r, "multirange");
    return rc != 0 ? rc : pgrepl__putc(out, '}');
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
    case PGREPL_BOOLOID: return pgrepl__render_bool(out, p, n);
    case PGREPL_BYTEAOID: return pgrepl__render_bytea(out, p, n);
    case PGREPL_CHAROID: return pgrepl__render_char(out, p, n);
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
    case 27: return pgrepl__render_tid(out, p, n);
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
        return pgrepl__render_bits(out, p, n);
    case PGREPL_UUIDOID: return pgrepl__render_uuid(out, p, n);
    case PGREPL_JSONBOID: return pgrepl__render_versioned_text(out, "jsonb", p, n);
    case 4072: return pgrepl__render_versioned_text(out, "jsonpath", p, n);
    case 3220: return pgrepl__render_pg_lsn(out, p, n);
    case 2970: /* txid_snapshot */
    case 5038: /* pg_snapshot */
        return pgrepl__render_snapshot(out, p, n);
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
    if (oid < PGREPL_FIRST_NON_BUILTIN_OID)
        return pgrepl__render(out, oid, p, n, depth);
    size_t start = out->len;
    int rc = pgrepl__render_record(out, p, n, depth);
    if (rc == PGREPL_EPROTOCOL) {
        pgrepl__buf_cut(out, start);
        return pgrepl__render_notfound(oid);
    }
    return rc;
}
