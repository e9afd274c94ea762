/* Decoded pgoutput messages as wal2json-shaped JSON lines; see jsonl.h. */
#include "jsonl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_CAP (64 * 1024)
#define TYPE_NAME_MAX 256
/* Room for the fixed parts of a line around its variable pieces. */
#define LINE_SLACK 256

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD in UTF-8 */
static const char hexdig[] = "0123456789abcdef";
static const char hexdig_upper[] = "0123456789ABCDEF";

typedef struct obuf {
    char *p;
    size_t len, cap;
} obuf;

/* How a column's value prints. */
typedef enum vclass { V_STRING, V_NUMBER, V_BOOL, V_BYTEA } vclass;

typedef struct jcol {
    size_t off, len; /* {"name":"...","type":"...","value": in the arena */
    vclass cls;
    bool key;
} jcol;

/* A relation's precomputed JSON pieces, in one allocation. */
typedef struct jrel {
    uint32_t oid;
    const pgrepl_relation *rel; /* the decoder's relation these were built from */
    const char *arena;
    size_t head_len;            /* arena[0, head_len): "schema":"s","table":"t", */
    size_t pk_off, pk_len;      /* "pk":[...] */
    int ncols;
    jcol cols[];
} jrel;

struct jl_writer {
    obuf out;
    obuf tmp;           /* building relations */
    pgrepl_buf scratch; /* binary values rendered as text */
    jl_stats stats;
    char errmsg[512];

    jrel **rels;        /* open addressing on the OID */
    size_t rels_cap, nrels;

    bool in_txn;        /* B..C or b..P */
    bool begin_pending; /* B not printed yet */
    pgrepl_lsn txn_lsn; /* the commit LSN the Begin announced */
    char txn_prefix[96]; /* "xid":N,"timestamp":"T", */
    size_t txn_prefix_len;
};

/* ---- buffers ------------------------------------------------------------ */

static int ob_reserve(obuf *b, size_t need)
{
    if (b->cap - b->len >= need)
        return 0;
    size_t cap = b->cap ? b->cap : INITIAL_CAP;
    while (cap - b->len < need) {
        if (cap > SIZE_MAX / 2)
            return PGREPL_ENOMEM;
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (p == NULL)
        return PGREPL_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

/* The callers reserve first: these only copy. */
static void ob_put(obuf *b, const void *s, size_t n)
{
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

#define OB_LIT(b, s) ob_put((b), (s), sizeof(s) - 1)

/* "00" to "99". */
static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

/* The digits of v (at most 20) written in place from the end, two per division. */
static void ob_u64(obuf *b, uint64_t v)
{
    size_t n = 1;
    for (uint64_t lim = 10; n < 20 && v >= lim; lim *= 10)
        n++;
    char *out = b->p + b->len, *p = out + n;
    while (v >= 100) {
        const char *d = digit_pairs + 2 * (v % 100);
        *--p = d[1];
        *--p = d[0];
        v /= 100;
    }
    if (v >= 10) {
        *--p = digit_pairs[2 * v + 1];
        *--p = digit_pairs[2 * v];
    } else {
        *--p = (char)('0' + v);
    }
    b->len += n;
}

static void ob_i64(obuf *b, int64_t v)
{
    if (v < 0) {
        b->p[b->len++] = '-';
        ob_u64(b, (uint64_t)0 - (uint64_t)v);
        return;
    }
    ob_u64(b, (uint64_t)v);
}

static size_t hex32(char *out, uint32_t v)
{
    char tmp[8];
    size_t n = 0;
    do {
        tmp[n++] = hexdig_upper[v & 0xF];
        v >>= 4;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

size_t jl_format_lsn(char *out, pgrepl_lsn lsn)
{
    size_t n = hex32(out, (uint32_t)(lsn >> 32));
    out[n++] = '/';
    n += hex32(out + n, (uint32_t)lsn);
    out[n] = '\0';
    return n;
}

/* "X/X" with its quotes. */
static void ob_lsn(obuf *b, pgrepl_lsn lsn)
{
    b->p[b->len++] = '"';
    b->len += jl_format_lsn(b->p + b->len, lsn);
    b->p[b->len++] = '"';
}

/* ---- strings and numbers ------------------------------------------------ */

/* Bytes that stand for themselves inside a JSON string: printable ASCII but '"' and '\\'. */
static bool plain(uint8_t c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/*
 * How many of the first lim bytes at s need no escape: eight at a time
 * while no byte of the word is below 0x20, a quote, a backslash or not
 * ASCII (exact tests: a zero byte of x - 0x01.. & ~x, and the like), then
 * one by one.
 */
static bool plain_word(const uint8_t *s)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), high = UINT64_C(0x8080808080808080);
    uint64_t x;
    memcpy(&x, s, 8);
    uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
    uint64_t special = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b) | x;
    return (special & high) == 0;
}

static size_t plain_run(const uint8_t *s, size_t lim)
{
    size_t j = 0;
    while (j + 8 <= lim && plain_word(s + j))
        j += 8;
    /* a tail shorter than a word: the last eight bytes, overlapping what passed */
    if (j < lim && j + 8 > lim && lim >= 8 && plain_word(s + lim - 8))
        return lim;
    while (j < lim && plain(s[j]))
        j++;
    return j;
}

/* Escape of one ASCII byte that needs one; returns its length (2 or 6). */
static size_t escape_ascii(char *out, uint8_t c)
{
    char short_form = 0;
    switch (c) {
    case '"': short_form = '"'; break;
    case '\\': short_form = '\\'; break;
    case '\b': short_form = 'b'; break;
    case '\f': short_form = 'f'; break;
    case '\n': short_form = 'n'; break;
    case '\r': short_form = 'r'; break;
    case '\t': short_form = 't'; break;
    default: break;
    }
    out[0] = '\\';
    if (short_form != 0) {
        out[1] = short_form;
        return 2;
    }
    memcpy(out + 1, "u00", 3);
    out[4] = hexdig[c >> 4];
    out[5] = hexdig[c & 0xF];
    return 6;
}

/*
 * The UTF-8 sequence at s (n > 0 bytes, s[0] >= 0x80): true and its length
 * when valid (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF); false and the length of its maximal invalid subpart otherwise.
 */
static bool utf8_seq(const uint8_t *s, size_t n, size_t *len)
{
    uint8_t c = s[0], lo = 0x80, hi = 0xBF;
    size_t need;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        *len = 1;
        return false;
    }
    size_t i = 1;
    while (i < need && i < n && s[i] >= lo && s[i] <= hi) {
        lo = 0x80;
        hi = 0xBF;
        i++;
    }
    *len = i;
    return i == need;
}

/*
 * Escape as much of s as fits in room (>= 6) bytes of out; no step writes
 * more than 6 bytes. Stores the input bytes consumed and returns the output
 * length.
 */
static size_t escape_some(char *out, size_t room, const uint8_t *s, size_t n, size_t *consumed)
{
    size_t i = 0, o = 0;
    while (i < n && room - o >= 6) {
        size_t lim = n - i < room - o ? n - i : room - o;
        size_t j = plain_run(s + i, lim);
        memcpy(out + o, s + i, j);
        o += j;
        i += j;
        if (i == n || room - o < 6)
            break;
        if (s[i] < 0x80) {
            o += escape_ascii(out + o, s[i]);
            i++;
            continue;
        }
        size_t k;
        if (utf8_seq(s + i, n - i, &k)) {
            memcpy(out + o, s + i, k);
            o += k;
        } else {
            memcpy(out + o, replacement, 3);
            o += 3;
        }
        i += k;
    }
    *consumed = i;
    return o;
}

size_t jl_escape(char *out, const uint8_t *s, size_t n)
{
    size_t used;
    out[0] = '"';
    size_t o = 1 + escape_some(out + 1, 6 * n, s, n, &used);
    out[o++] = '"';
    return o;
}

/* A quoted, escaped string; grows the buffer as escapes need. */
static int put_string(obuf *b, const uint8_t *s, size_t n)
{
    if (ob_reserve(b, n + 8) != 0)
        return PGREPL_ENOMEM;
    b->p[b->len++] = '"';
    /* most values need no escape at all: one scan and one copy */
    size_t i = plain_run(s, n);
    if (i > 0)
        memcpy(b->p + b->len, s, i);
    b->len += i;
    while (i < n) {
        if (b->cap - b->len < 8 && ob_reserve(b, n - i + 8) != 0)
            return PGREPL_ENOMEM;
        size_t used;
        b->len += escape_some(b->p + b->len, b->cap - b->len - 1, s + i, n - i, &used);
        i += used;
    }
    b->p[b->len++] = '"';
    return 0;
}

static int put_cstring(obuf *b, const char *s)
{
    return put_string(b, (const uint8_t *)s, strlen(s));
}

static bool digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static size_t digits(const uint8_t *s, size_t i, size_t n)
{
    while (i < n && digit(s[i]))
        i++;
    return i;
}

bool jl_is_json_number(const uint8_t *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i == n || !digit(s[i]))
        return false;
    i = s[i] == '0' ? i + 1 : digits(s, i, n);
    if (i < n && s[i] == '.') {
        size_t start = ++i;
        i = digits(s, i, n);
        if (i == start)
            return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t start = i;
        i = digits(s, i, n);
        if (i == start)
            return false;
    }
    return i == n;
}

/* ---- values ------------------------------------------------------------- */

static vclass class_of(uint32_t oid)
{
    switch (oid) {
    case PGREPL_INT2OID:
    case PGREPL_INT4OID:
    case PGREPL_INT8OID:
    case PGREPL_OIDOID:
    case PGREPL_FLOAT4OID:
    case PGREPL_FLOAT8OID:
    case PGREPL_NUMERICOID:
        return V_NUMBER;
    case PGREPL_BOOLOID:
        return V_BOOL;
    case PGREPL_BYTEAOID:
        return V_BYTEA;
    default:
        return V_STRING;
    }
}

/* A value in the type's text form. */
static int put_text_value(obuf *b, vclass cls, const uint8_t *s, size_t n)
{
    switch (cls) {
    case V_NUMBER:
        /* NaN and the infinities are not JSON numbers: they print as strings */
        if (!jl_is_json_number(s, n))
            break;
        if (ob_reserve(b, n) != 0)
            return PGREPL_ENOMEM;
        ob_put(b, s, n);
        return 0;
    case V_BOOL:
        if (n != 1 || (s[0] != 't' && s[0] != 'f'))
            break;
        if (ob_reserve(b, 5) != 0)
            return PGREPL_ENOMEM;
        if (s[0] == 't')
            OB_LIT(b, "true");
        else
            OB_LIT(b, "false");
        return 0;
    case V_BYTEA:
        if (n >= 2 && s[0] == '\\' && s[1] == 'x')
            return put_string(b, s + 2, n - 2);
        break;
    case V_STRING:
        break;
    }
    return put_string(b, s, n);
}

/* A big-endian integer of n = 2, 4 or 8 bytes. */
static uint64_t be_uint(const uint8_t *p, size_t n)
{
    if (n == 2)
        return (uint64_t)p[0] << 8 | p[1];
    if (n == 4)
        return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
    return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 | (uint64_t)p[3] << 32 |
           (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 | (uint64_t)p[6] << 8 | p[7];
}

/* Binary forms printed without the general renderer, exactly as their text output. */
static bool put_binary_fast(obuf *b, uint32_t oid, const uint8_t *s, size_t n, int *rc)
{
    *rc = 0;
    switch (oid) {
    case PGREPL_INT2OID:
    case PGREPL_INT4OID:
    case PGREPL_INT8OID:
        if (n != (oid == PGREPL_INT2OID ? 2 : oid == PGREPL_INT4OID ? 4 : 8))
            return false;
        if ((*rc = ob_reserve(b, 21)) == 0) {
            uint64_t u = be_uint(s, n);
            int64_t v = n == 2 ? (int16_t)u : n == 4 ? (int32_t)u : (int64_t)u;
            ob_i64(b, v);
        }
        return true;
    case PGREPL_BOOLOID:
        if (n != 1)
            return false;
        *rc = put_text_value(b, V_BOOL, (const uint8_t *)(s[0] ? "t" : "f"), 1);
        return true;
    case PGREPL_BYTEAOID:
        if ((*rc = ob_reserve(b, 2 * n + 2)) == 0) {
            b->p[b->len++] = '"';
            for (size_t i = 0; i < n; i++) {
                b->p[b->len++] = hexdig[s[i] >> 4];
                b->p[b->len++] = hexdig[s[i] & 0xF];
            }
            b->p[b->len++] = '"';
        }
        return true;
    case PGREPL_TEXTOID:
    case PGREPL_VARCHAROID:
    case PGREPL_BPCHAROID:
    case PGREPL_NAMEOID:
        *rc = put_string(b, s, n);
        return true;
    default:
        return false;
    }
}

/*
 * The library renders these binary forms as printable ASCII without '"' or
 * '\\' (digits, signs, separators, "infinity", "BC", hex): quoted as they
 * are, no escaping pass. (binary_mode_prints_like_text_mode in
 * tests/live/test_stream_cli.c compares every one with the server's text.)
 */
static bool renders_plain(uint32_t oid)
{
    switch (oid) {
    case PGREPL_DATEOID:
    case PGREPL_TIMEOID:
    case PGREPL_TIMETZOID:
    case PGREPL_TIMESTAMPOID:
    case PGREPL_TIMESTAMPTZOID:
    case PGREPL_INTERVALOID:
    case PGREPL_UUIDOID:
    case PGREPL_INETOID:
    case PGREPL_CIDROID:
    case PGREPL_MACADDROID:
    case PGREPL_MACADDR8OID:
        return true;
    default:
        return false;
    }
}

/* Text rendered from a binary form: a number is canonical (a JSON number, or NaN / [-]Infinity). */
static int put_rendered(obuf *b, vclass cls, uint32_t oid, const uint8_t *s, size_t n)
{
    bool number = cls == V_NUMBER && n > 0 && (digit(s[0]) || (s[0] == '-' && n > 1 && digit(s[1])));
    if (!number && !renders_plain(oid))
        return put_text_value(b, cls, s, n);
    if (ob_reserve(b, n + 2) != 0)
        return PGREPL_ENOMEM;
    if (!number)
        b->p[b->len++] = '"';
    ob_put(b, s, n);
    if (!number)
        b->p[b->len++] = '"';
    return 0;
}

static int put_value(jl_writer *w, const jcol *jc, const pgrepl_relation *rel, int i, const pgrepl_value *v)
{
    const pgrepl_column *col = &rel->columns[i];
    int rc;
    switch (v->kind) {
    case PGREPL_VALUE_TEXT:
        return put_text_value(&w->out, jc->cls, v->data, v->len);
    case PGREPL_VALUE_BINARY:
        if (put_binary_fast(&w->out, col->type_oid, v->data, v->len, &rc))
            return rc;
        w->scratch.len = 0;
        rc = pgrepl_value_to_text(&w->scratch, col, v);
        if (rc != 0) {
            snprintf(w->errmsg, sizeof w->errmsg, "cannot print column \"%s\" of %s.%s (type OID %u) from its binary form: %s",
                     col->name, rel->schema, rel->name, (unsigned)col->type_oid,
                     rc == PGREPL_ENOMEM ? "out of memory" : pgrepl_render_errmsg());
            return rc;
        }
        return put_rendered(&w->out, jc->cls, col->type_oid, (const uint8_t *)w->scratch.data, w->scratch.len);
    default:
        if (ob_reserve(&w->out, 4) != 0)
            return PGREPL_ENOMEM;
        OB_LIT(&w->out, "null");
        return 0;
    }
}

/* ---- relations ---------------------------------------------------------- */

/* The column's "type": format_type spelling, else the Type message's name, else the OID. */
static int put_type(obuf *b, const pgrepl_column *col)
{
    char name[TYPE_NAME_MAX];
    int n = pgrepl_format_type(name, sizeof name, col->type_oid, col->typmod);
    if (n >= 0 && (size_t)n < sizeof name)
        return put_string(b, (const uint8_t *)name, (size_t)n);
    if (n == PGREPL_EINVAL && pgrepl_type_name(col->type_oid) != NULL)
        return put_cstring(b, pgrepl_type_name(col->type_oid));
    if (col->type_name != NULL) {
        const char *schema = col->type_schema ? col->type_schema : "";
        if (schema[0] == '\0' || strcmp(schema, "public") == 0 || strcmp(schema, "pg_catalog") == 0)
            return put_cstring(b, col->type_name);
        snprintf(name, sizeof name, "%s.%s", schema, col->type_name);
        if (strlen(schema) + strlen(col->type_name) + 1 < sizeof name)
            return put_cstring(b, name);
    }
    snprintf(name, sizeof name, "%u", (unsigned)col->type_oid);
    return put_cstring(b, name);
}

#define VALUE_KEY ",\"value\":"

static int build_pieces(obuf *t, const pgrepl_relation *rel, jcol *cols, size_t *head_len, size_t *pk_off)
{
    t->len = 0;
    if (ob_reserve(t, 64) != 0)
        return PGREPL_ENOMEM;
    OB_LIT(t, "\"schema\":");
    if (put_cstring(t, rel->schema) != 0 || ob_reserve(t, 16) != 0)
        return PGREPL_ENOMEM;
    OB_LIT(t, ",\"table\":");
    if (put_cstring(t, rel->name) != 0 || ob_reserve(t, 1) != 0)
        return PGREPL_ENOMEM;
    OB_LIT(t, ",");
    *head_len = t->len;
    for (int i = 0; i < rel->ncolumns; i++) {
        const pgrepl_column *col = &rel->columns[i];
        cols[i] = (jcol){.off = t->len, .cls = class_of(col->type_oid), .key = (col->flags & PGREPL_COLUMN_KEY) != 0};
        if (ob_reserve(t, 16) != 0)
            return PGREPL_ENOMEM;
        OB_LIT(t, "{\"name\":");
        if (put_cstring(t, col->name) != 0 || ob_reserve(t, 16) != 0)
            return PGREPL_ENOMEM;
        OB_LIT(t, ",\"type\":");
        if (put_type(t, col) != 0 || ob_reserve(t, 16) != 0)
            return PGREPL_ENOMEM;
        OB_LIT(t, VALUE_KEY);
        cols[i].len = t->len - cols[i].off;
    }
    *pk_off = t->len;
    if (ob_reserve(t, 8) != 0)
        return PGREPL_ENOMEM;
    OB_LIT(t, "\"pk\":[");
    bool first = true;
    for (int i = 0; i < rel->ncolumns; i++) {
        if (!cols[i].key)
            continue;
        /* the column's piece without its value: {"name":..,"type":..} */
        size_t n = cols[i].len - (sizeof VALUE_KEY - 1);
        if (ob_reserve(t, n + 2) != 0)
            return PGREPL_ENOMEM;
        if (!first)
            OB_LIT(t, ",");
        ob_put(t, t->p + cols[i].off, n);
        OB_LIT(t, "}");
        first = false;
    }
    if (ob_reserve(t, 1) != 0)
        return PGREPL_ENOMEM;
    OB_LIT(t, "]");
    return 0;
}

static jrel *build_rel(jl_writer *w, const pgrepl_relation *rel)
{
    size_t ncols = rel->ncolumns > 0 ? (size_t)rel->ncolumns : 0;
    jcol *cols = calloc(ncols ? ncols : 1, sizeof *cols);
    size_t head_len = 0, pk_off = 0;
    jrel *r = NULL;
    if (cols != NULL && build_pieces(&w->tmp, rel, cols, &head_len, &pk_off) == 0)
        r = malloc(sizeof *r + ncols * sizeof(jcol) + w->tmp.len);
    if (r != NULL) {
        char *arena = (char *)(r->cols + ncols);
        memcpy(arena, w->tmp.p, w->tmp.len);
        memcpy(r->cols, cols, ncols * sizeof(jcol));
        r->oid = rel->oid;
        r->rel = rel;
        r->arena = arena;
        r->head_len = head_len;
        r->pk_off = pk_off;
        r->pk_len = w->tmp.len - pk_off;
        r->ncols = (int)ncols;
    }
    free(cols);
    return r;
}

static size_t slot_of(const jl_writer *w, uint32_t oid)
{
    size_t mask = w->rels_cap - 1;
    size_t i = (oid * UINT32_C(2654435761)) & mask;
    while (w->rels[i] != NULL && w->rels[i]->oid != oid)
        i = (i + 1) & mask;
    return i;
}

static int grow_rels(jl_writer *w)
{
    size_t cap = w->rels_cap ? w->rels_cap * 2 : 64;
    jrel **old = w->rels;
    size_t old_cap = w->rels_cap;
    jrel **rels = calloc(cap, sizeof *rels);
    if (rels == NULL)
        return PGREPL_ENOMEM;
    w->rels = rels;
    w->rels_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i] != NULL)
            w->rels[slot_of(w, old[i]->oid)] = old[i];
    free(old);
    return 0;
}

/* The pieces for rel, built now if this relation (or this version of it) is new. */
static const jrel *lookup(jl_writer *w, const pgrepl_relation *rel)
{
    if (w->rels_cap != 0) {
        jrel *r = w->rels[slot_of(w, rel->oid)];
        if (r != NULL && r->rel == rel)
            return r;
    }
    if ((w->nrels + 1) * 2 > w->rels_cap && grow_rels(w) != 0)
        return NULL;
    jrel *r = build_rel(w, rel);
    if (r == NULL)
        return NULL;
    size_t i = slot_of(w, rel->oid);
    if (w->rels[i] == NULL)
        w->nrels++;
    free(w->rels[i]);
    w->rels[i] = r;
    return r;
}

static void free_rels(jl_writer *w)
{
    for (size_t i = 0; i < w->rels_cap; i++)
        free(w->rels[i]);
    free(w->rels);
    w->rels = NULL;
    w->rels_cap = w->nrels = 0;
}

/* ---- the writer --------------------------------------------------------- */

jl_writer *jl_new(void)
{
    jl_writer *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    if (ob_reserve(&w->out, INITIAL_CAP) != 0) {
        free(w);
        return NULL;
    }
    pgrepl_buf_init(&w->scratch);
    return w;
}

void jl_free(jl_writer *w)
{
    if (w == NULL)
        return;
    free_rels(w);
    free(w->out.p);
    free(w->tmp.p);
    pgrepl_buf_free(&w->scratch);
    free(w);
}

void jl_reset(jl_writer *w)
{
    free_rels(w);
    w->in_txn = false;
    w->begin_pending = false;
}

const char *jl_data(const jl_writer *w)
{
    return w->out.p;
}

size_t jl_len(const jl_writer *w)
{
    return w->out.len;
}

void jl_clear(jl_writer *w)
{
    w->out.len = 0;
}

void jl_rewind(jl_writer *w, size_t len)
{
    if (len < w->out.len)
        w->out.len = len;
}

const jl_stats *jl_get_stats(const jl_writer *w)
{
    return &w->stats;
}

const char *jl_errmsg(const jl_writer *w)
{
    return w->errmsg;
}

bool jl_in_transaction(const jl_writer *w)
{
    return w->in_txn;
}

/*
 * Every event renders between start() and finish(): on success the lines
 * are counted, on failure they are taken back, so the buffer only ever
 * holds whole lines.
 */
typedef struct mark {
    size_t len;
    bool begin_pending;
} mark;

static mark start(jl_writer *w)
{
    w->errmsg[0] = '\0';
    return (mark){w->out.len, w->begin_pending};
}

static int finish(jl_writer *w, mark m, int rc, uint64_t lines)
{
    if (rc != 0) {
        if (rc == PGREPL_ENOMEM && w->errmsg[0] == '\0')
            snprintf(w->errmsg, sizeof w->errmsg, "out of memory");
        w->out.len = m.len;
        w->begin_pending = m.begin_pending;
        return rc;
    }
    w->stats.lines += lines;
    w->stats.bytes += w->out.len - m.len;
    return 0;
}

/* "xid":N,"timestamp":"T", */
static size_t format_prefix(char *out, uint32_t xid, bool has_time, pgrepl_timestamp ts)
{
    obuf b = {out, 0, 96};
    OB_LIT(&b, "\"xid\":");
    ob_u64(&b, xid);
    if (!has_time) {
        OB_LIT(&b, ",\"timestamp\":null,");
        return b.len;
    }
    OB_LIT(&b, ",\"timestamp\":\"");
    char t[PGREPL_TIMESTAMP_BUFSIZE];
    int n = pgrepl_timestamp_format(ts, t);
    ob_put(&b, t, (size_t)n);
    OB_LIT(&b, "\",");
    return b.len;
}

static void set_txn(jl_writer *w, uint32_t xid, pgrepl_timestamp ts, pgrepl_lsn lsn)
{
    w->in_txn = true;
    w->txn_lsn = lsn;
    w->txn_prefix_len = format_prefix(w->txn_prefix, xid, true, ts);
}

/* {"action":"X",<prefix> */
static int open_line(jl_writer *w, char action, const char *prefix, size_t prefix_len, size_t more)
{
    if (ob_reserve(&w->out, LINE_SLACK + prefix_len + more) != 0)
        return PGREPL_ENOMEM;
    OB_LIT(&w->out, "{\"action\":\"");
    w->out.p[w->out.len++] = action;
    OB_LIT(&w->out, "\",");
    ob_put(&w->out, prefix, prefix_len);
    return 0;
}

/* The B line held back until its transaction prints something. */
static int flush_begin(jl_writer *w, uint64_t *lines)
{
    if (!w->begin_pending)
        return 0;
    if (open_line(w, 'B', w->txn_prefix, w->txn_prefix_len, 0) != 0)
        return PGREPL_ENOMEM;
    OB_LIT(&w->out, "\"lsn\":");
    ob_lsn(&w->out, w->txn_lsn);
    OB_LIT(&w->out, "}\n");
    w->begin_pending = false;
    (*lines)++;
    return 0;
}

/* Prefix for a change of xid: its transaction's, or (streamed) its own without a time. */
static size_t change_prefix(jl_writer *w, uint32_t xid, bool streamed, char *buf, const char **prefix)
{
    if (w->in_txn && !streamed) {
        *prefix = w->txn_prefix;
        return w->txn_prefix_len;
    }
    *prefix = buf;
    return format_prefix(buf, xid, false, 0);
}

int jl_relation(jl_writer *w, const pgrepl_relation *rel)
{
    w->errmsg[0] = '\0';
    if (lookup(w, rel) == NULL) {
        snprintf(w->errmsg, sizeof w->errmsg, "out of memory");
        return PGREPL_ENOMEM;
    }
    return 0;
}

int jl_begin(jl_writer *w, const pgrepl_msg_begin *m)
{
    w->errmsg[0] = '\0';
    set_txn(w, m->xid, m->commit_time, m->final_lsn);
    w->begin_pending = true;
    return 0;
}

/* ,"gid":G}\n: how the lines of two-phase events end. */
static int end_with_gid(jl_writer *w, const char *gid)
{
    OB_LIT(&w->out, ",\"gid\":");
    if (put_cstring(&w->out, gid) != 0 || ob_reserve(&w->out, 2) != 0)
        return PGREPL_ENOMEM;
    OB_LIT(&w->out, "}\n");
    return 0;
}

static int end_line(jl_writer *w, pgrepl_lsn lsn, pgrepl_lsn next, const char *gid)
{
    OB_LIT(&w->out, "\"lsn\":");
    ob_lsn(&w->out, lsn);
    OB_LIT(&w->out, ",\"nextlsn\":");
    ob_lsn(&w->out, next);
    if (gid != NULL)
        return end_with_gid(w, gid);
    OB_LIT(&w->out, "}\n");
    return 0;
}

int jl_commit(jl_writer *w, const pgrepl_msg_commit *m)
{
    mark mk = start(w);
    bool printed = w->in_txn && !w->begin_pending;
    w->in_txn = false;
    w->begin_pending = false;
    if (!printed)
        return 0;
    int rc = open_line(w, 'C', w->txn_prefix, w->txn_prefix_len, 0);
    if (rc == 0)
        rc = end_line(w, m->commit_lsn, m->end_lsn, NULL);
    rc = finish(w, mk, rc, 1);
    if (rc == 0)
        w->stats.transactions++;
    return rc;
}

static int put_tuple(jl_writer *w, const jrel *r, const pgrepl_relation *rel, const pgrepl_tuple *t, bool keys_only)
{
    bool first = true;
    int n = r->ncols < t->ncolumns ? r->ncols : t->ncolumns;
    for (int i = 0; i < n; i++) {
        const jcol *jc = &r->cols[i];
        const pgrepl_value *v = &t->values[i];
        if ((keys_only && !jc->key) || v->kind == PGREPL_VALUE_UNCHANGED)
            continue;
        if (ob_reserve(&w->out, jc->len + 1) != 0)
            return PGREPL_ENOMEM;
        if (!first)
            OB_LIT(&w->out, ",");
        ob_put(&w->out, r->arena + jc->off, jc->len);
        int rc = put_value(w, jc, rel, i, v);
        if (rc != 0)
            return rc;
        if (ob_reserve(&w->out, 1) != 0)
            return PGREPL_ENOMEM;
        OB_LIT(&w->out, "}");
        first = false;
    }
    return 0;
}

/* "identity": the old key, the whole old row, or the new row's key columns when no old tuple came. */
static int put_identity(jl_writer *w, const jrel *r, const pgrepl_msg_change *m)
{
    if (m->old_tuple != NULL)
        return put_tuple(w, r, m->rel, m->old_tuple, m->old_kind != 'O');
    if (m->new_tuple != NULL)
        return put_tuple(w, r, m->rel, m->new_tuple, true);
    return 0;
}

static int render_change(jl_writer *w, char action, const pgrepl_msg_change *m, const jrel *r)
{
    char buf[96];
    const char *prefix;
    size_t plen = change_prefix(w, m->xid, m->streamed, buf, &prefix);
    if (open_line(w, action, prefix, plen, r->head_len + r->pk_len) != 0)
        return PGREPL_ENOMEM;
    OB_LIT(&w->out, "\"lsn\":");
    ob_lsn(&w->out, m->wal.start);
    OB_LIT(&w->out, ",");
    ob_put(&w->out, r->arena, r->head_len);
    int rc = 0;
    if (action != 'D') {
        OB_LIT(&w->out, "\"columns\":[");
        if ((rc = put_tuple(w, r, m->rel, m->new_tuple, false)) != 0 || ob_reserve(&w->out, 16) != 0)
            return rc ? rc : PGREPL_ENOMEM;
        OB_LIT(&w->out, "],");
    }
    if (action != 'I') {
        OB_LIT(&w->out, "\"identity\":[");
        if ((rc = put_identity(w, r, m)) != 0 || ob_reserve(&w->out, 16) != 0)
            return rc ? rc : PGREPL_ENOMEM;
        OB_LIT(&w->out, "],");
    }
    if (ob_reserve(&w->out, r->pk_len + 2) != 0)
        return PGREPL_ENOMEM;
    ob_put(&w->out, r->arena + r->pk_off, r->pk_len);
    OB_LIT(&w->out, "}\n");
    return 0;
}

int jl_change(jl_writer *w, char action, const pgrepl_msg_change *m)
{
    mark mk = start(w);
    uint64_t lines = 1;
    const jrel *r = lookup(w, m->rel);
    int rc = r == NULL ? PGREPL_ENOMEM : 0;
    if (rc == 0 && !m->streamed)
        rc = flush_begin(w, &lines);
    if (rc == 0)
        rc = render_change(w, action, m, r);
    rc = finish(w, mk, rc, lines);
    if (rc == 0)
        w->stats.changes++;
    return rc;
}

int jl_truncate(jl_writer *w, const pgrepl_msg_truncate *m)
{
    mark mk = start(w);
    uint64_t lines = 0;
    int rc = m->streamed ? 0 : flush_begin(w, &lines);
    char buf[96];
    const char *prefix;
    size_t plen = change_prefix(w, m->xid, m->streamed, buf, &prefix);
    for (int i = 0; rc == 0 && i < m->nrelations; i++) {
        const jrel *r = lookup(w, m->relations[i]);
        if (r == NULL || open_line(w, 'T', prefix, plen, r->head_len) != 0) {
            rc = PGREPL_ENOMEM;
            break;
        }
        OB_LIT(&w->out, "\"lsn\":");
        ob_lsn(&w->out, m->wal.start);
        OB_LIT(&w->out, ",");
        ob_put(&w->out, r->arena, r->head_len);
        if (m->options & PGREPL_TRUNCATE_CASCADE)
            OB_LIT(&w->out, "\"cascade\":true,");
        else
            OB_LIT(&w->out, "\"cascade\":false,");
        if (m->options & PGREPL_TRUNCATE_RESTART_IDENTITY)
            OB_LIT(&w->out, "\"restart_identity\":true}\n");
        else
            OB_LIT(&w->out, "\"restart_identity\":false}\n");
        lines++;
    }
    rc = finish(w, mk, rc, lines);
    if (rc == 0)
        w->stats.changes += (uint64_t)(m->nrelations > 0 ? m->nrelations : 0);
    return rc;
}

int jl_message(jl_writer *w, const pgrepl_msg_logical *m)
{
    mark mk = start(w);
    uint64_t lines = 1;
    int rc = 0;
    char buf[96];
    const char *prefix = buf;
    size_t plen;
    if (!m->transactional) {
        static const char none[] = "\"xid\":null,\"timestamp\":null,";
        memcpy(buf, none, sizeof none - 1);
        plen = sizeof none - 1;
    } else {
        plen = change_prefix(w, m->xid, m->streamed, buf, &prefix);
        if (!m->streamed)
            rc = flush_begin(w, &lines);
    }
    if (rc == 0)
        rc = open_line(w, 'M', prefix, plen, 0);
    if (rc == 0) {
        OB_LIT(&w->out, "\"lsn\":");
        ob_lsn(&w->out, m->lsn);
        if (m->transactional)
            OB_LIT(&w->out, ",\"transactional\":true,\"prefix\":");
        else
            OB_LIT(&w->out, ",\"transactional\":false,\"prefix\":");
        rc = put_cstring(&w->out, m->prefix);
    }
    if (rc == 0 && ob_reserve(&w->out, 16) != 0)
        rc = PGREPL_ENOMEM;
    if (rc == 0) {
        OB_LIT(&w->out, ",\"content\":");
        rc = put_string(&w->out, m->content, m->content_len);
    }
    if (rc == 0 && ob_reserve(&w->out, 2) != 0)
        rc = PGREPL_ENOMEM;
    if (rc == 0)
        OB_LIT(&w->out, "}\n");
    rc = finish(w, mk, rc, lines);
    if (rc == 0)
        w->stats.messages++;
    return rc;
}

int jl_stream_start(jl_writer *w, const pgrepl_msg_stream_start *m)
{
    mark mk = start(w);
    int rc = open_line(w, 'S', "", 0, 0);
    if (rc == 0) {
        OB_LIT(&w->out, "\"xid\":");
        ob_u64(&w->out, m->xid);
        if (m->first_segment)
            OB_LIT(&w->out, ",\"first\":true}\n");
        else
            OB_LIT(&w->out, ",\"first\":false}\n");
    }
    return finish(w, mk, rc, 1);
}

int jl_stream_stop(jl_writer *w, const pgrepl_msg_stream_stop *m)
{
    (void)m;
    mark mk = start(w);
    int rc = ob_reserve(&w->out, 16);
    if (rc == 0)
        OB_LIT(&w->out, "{\"action\":\"E\"}\n");
    return finish(w, mk, rc, 1);
}

int jl_stream_abort(jl_writer *w, const pgrepl_msg_stream_abort *m)
{
    mark mk = start(w);
    int rc = open_line(w, 'A', "", 0, 0);
    if (rc == 0) {
        OB_LIT(&w->out, "\"xid\":");
        ob_u64(&w->out, m->xid);
        OB_LIT(&w->out, ",\"subxid\":");
        ob_u64(&w->out, m->subxid);
        OB_LIT(&w->out, "}\n");
    }
    return finish(w, mk, rc, 1);
}

/* A line that closes a unit: {"action":X,"xid":N,"timestamp":T,"lsn":L,"nextlsn":N[,"gid":G]} */
static int unit_line(jl_writer *w, char action, uint32_t xid, pgrepl_timestamp ts, pgrepl_lsn lsn,
                     pgrepl_lsn next, const char *gid)
{
    mark mk = start(w);
    char prefix[96];
    size_t plen = format_prefix(prefix, xid, true, ts);
    int rc = open_line(w, action, prefix, plen, 0);
    if (rc == 0)
        rc = end_line(w, lsn, next, gid);
    rc = finish(w, mk, rc, 1);
    if (rc == 0 && (action == 'C' || action == 'K'))
        w->stats.transactions++;
    return rc;
}

int jl_stream_commit(jl_writer *w, const pgrepl_msg_commit *m)
{
    return unit_line(w, 'C', m->xid, m->commit_time, m->commit_lsn, m->end_lsn, NULL);
}

int jl_begin_prepare(jl_writer *w, const pgrepl_msg_prepare *m)
{
    mark mk = start(w);
    set_txn(w, m->xid, m->prepare_time, m->prepare_lsn);
    w->begin_pending = false;
    int rc = open_line(w, 'b', w->txn_prefix, w->txn_prefix_len, 0);
    if (rc == 0) {
        OB_LIT(&w->out, "\"lsn\":");
        ob_lsn(&w->out, m->prepare_lsn);
        rc = end_with_gid(w, m->gid);
    }
    return finish(w, mk, rc, 1);
}

int jl_prepare(jl_writer *w, const pgrepl_msg_prepare *m)
{
    w->in_txn = false;
    return unit_line(w, 'P', m->xid, m->prepare_time, m->prepare_lsn, m->end_lsn, m->gid);
}

int jl_stream_prepare(jl_writer *w, const pgrepl_msg_prepare *m)
{
    return unit_line(w, 'p', m->xid, m->prepare_time, m->prepare_lsn, m->end_lsn, m->gid);
}

int jl_commit_prepared(jl_writer *w, const pgrepl_msg_commit_prepared *m)
{
    return unit_line(w, 'K', m->xid, m->commit_time, m->commit_lsn, m->end_lsn, m->gid);
}

int jl_rollback_prepared(jl_writer *w, const pgrepl_msg_rollback_prepared *m)
{
    mark mk = start(w);
    char prefix[96];
    size_t plen = format_prefix(prefix, m->xid, true, m->rollback_time);
    int rc = open_line(w, 'r', prefix, plen, 0);
    if (rc == 0) {
        OB_LIT(&w->out, "\"nextlsn\":");
        ob_lsn(&w->out, m->rollback_end_lsn);
        OB_LIT(&w->out, ",\"prepare_nextlsn\":");
        ob_lsn(&w->out, m->prepare_end_lsn);
        rc = end_with_gid(w, m->gid);
    }
    return finish(w, mk, rc, 1);
}
