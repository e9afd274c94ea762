#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "pgrepl/decode.h"
#include "alloc.h"
#include "relcache.h"
#include "wire.h"

struct pgrepl_decoder {
    pgrepl_decoder_callbacks cbs;
    void *ud;
    pgrepl_oidmap rels;
    pgrepl_oidmap types;
    bool in_callback;
    bool in_stream;
    uint32_t stream_xid; /* of the open Stream Start block */
    uint32_t xact_xid;   /* of the open Begin / Begin Prepare, else 0 */
    /*
     * Scratch for tuple values: old tuple in [0, width), new tuple in
     * [width, 2 * width). It is grown when a Relation wider than width is
     * cached, so change messages never allocate.
     */
    pgrepl_value *values;
    int width;
    const pgrepl_relation **trunc_rels;
    int trunc_cap;
    size_t err_offset;
    char err_type;
    char detail[256];
    char errmsg[512];
};

/* ---- errors ---------------------------------------------------------- */

/* Record err at offset pos (unless the cursor already holds an error) with a formatted detail. */
#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static int fail(pgrepl_decoder *d, pgrepl_cursor *c, int err, size_t pos, const char *fmt, ...)
{
    if (c->err != 0)
        return c->err;
    c->err = err;
    c->err_pos = pos;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->detail, sizeof d->detail, fmt, ap);
    va_end(ap);
    return err;
}

/* A complete message must end exactly at the end of the payload. */
static int finish(pgrepl_decoder *d, pgrepl_cursor *c)
{
    if (!pgrepl__cur_ok(c))
        return c->err;
    if (c->pos != c->len)
        return fail(d, c, PGREPL_ETRAILING, c->pos, "%zu trailing bytes", c->len - c->pos);
    return 0;
}

static void set_errmsg(pgrepl_decoder *d, const pgrepl_cursor *c, char type)
{
    const char *detail = d->detail[0] != '\0' ? d->detail : pgrepl_strerror(c->err);
    d->err_offset = c->err_pos;
    d->err_type = c->len > 0 ? type : 0;
    if (c->len == 0)
        snprintf(d->errmsg, sizeof d->errmsg, "empty payload: %s at offset 0", detail);
    else if (type >= 0x20 && type < 0x7f)
        snprintf(d->errmsg, sizeof d->errmsg, "%s ('%c') message: %s at offset %zu", pgrepl_message_type_name(type),
                 type, detail, c->err_pos);
    else
        snprintf(d->errmsg, sizeof d->errmsg, "%s (0x%02x) message: %s at offset %zu",
                 pgrepl_message_type_name(type), (unsigned)(uint8_t)type, detail, c->err_pos);
}

/* ---- callbacks ------------------------------------------------------- */

/*
 * The public list must name every member of pgrepl_decoder_callbacks, in order, with the argument type its
 * callback takes: applications build whole tables from it, and call() below dispatches by it.
 */
enum {
#define INDEX_(byte, fn, T) CB_INDEX_##fn,
    PGREPL_DECODER_CALLBACKS(INDEX_)
#undef INDEX_
    CB_COUNT
};
#define CHECK_(byte, fn, T)                                                                                           \
    _Static_assert(offsetof(pgrepl_decoder_callbacks, fn) == CB_INDEX_##fn * sizeof(int (*)(void *, const T *)),      \
                   #fn " is not where PGREPL_DECODER_CALLBACKS lists it");                                            \
    _Static_assert(_Generic(((pgrepl_decoder_callbacks *)NULL)->fn, int (*)(void *, const T *): 1, default: 0),       \
                   #fn " does not take a " #T);
PGREPL_DECODER_CALLBACKS(CHECK_)
#undef CHECK_
_Static_assert(sizeof(pgrepl_decoder_callbacks) == CB_COUNT * sizeof(int (*)(void *, const void *)),
               "PGREPL_DECODER_CALLBACKS misses a member of pgrepl_decoder_callbacks");

/*
 * The one door to application callbacks: skips NULL ones, marks the decoder
 * busy so that feeding it from inside is refused, and maps the result.
 */
static int call(pgrepl_decoder *d, pgrepl_cursor *c, char type, const void *arg)
{
    const char *name = "?";
    int rc = 0;
    d->in_callback = true;
    switch (type) {
#define CALL_(byte, fn, T)                                                                                            \
    case byte:                                                                                                        \
        name = #fn;                                                                                                   \
        rc = d->cbs.fn != NULL ? d->cbs.fn(d->ud, (const T *)arg) : 0;                                                \
        break;
        PGREPL_DECODER_CALLBACKS(CALL_)
#undef CALL_
    }
    d->in_callback = false;
    if (rc == 0 || rc == PGREPL_PAUSE)
        return rc;
    return fail(d, c, PGREPL_ECALLBACK, c->pos, "callback %s returned %d", name, rc);
}

/* ---- shared pieces ---------------------------------------------------- */

/* The (sub)transaction xid that precedes R, Y, I, U, D, T and M inside a stream block. */
static uint32_t read_stream_xid(const pgrepl_decoder *d, pgrepl_cursor *c)
{
    return d->in_stream ? pgrepl__cur_u32(c) : 0;
}

/* Values point into the payload; nothing is copied. */
static int read_tuple(pgrepl_decoder *d, pgrepl_cursor *c, const pgrepl_relation *rel, pgrepl_value *vals)
{
    size_t at = c->pos;
    int n = pgrepl__cur_i16(c);
    if (!pgrepl__cur_ok(c))
        return c->err;
    if (n < 0)
        return fail(d, c, PGREPL_ELENGTH, at, "negative tuple column count %d", n);
    if (n != rel->ncolumns)
        return fail(d, c, PGREPL_ECOLUMNS, at, "tuple column count %d differs from relation %s.%s (%d columns)", n,
                    rel->schema, rel->name, rel->ncolumns);
    const uint8_t *buf = c->buf;
    size_t pos = c->pos, end = c->len;
    for (int i = 0; i < n; i++) {
        pgrepl_value *v = &vals[i];
        /* the common case in one step, on local copies: a value whose header and bytes are all here */
        if (end - pos >= 5 && (buf[pos] == PGREPL_VALUE_TEXT || buf[pos] == PGREPL_VALUE_BINARY)) {
            const uint8_t *p = buf + pos;
            uint32_t len = pgrepl__rd32(p + 1);
            if (len <= INT32_MAX && len <= end - pos - 5) {
                v->kind = (char)p[0];
                v->len = len;
                v->data = p + 5;
                pos += 5 + (size_t)len;
                continue;
            }
        }
        /* everything else through the checked cursor */
        c->pos = pos;
        size_t kind_at = c->pos;
        uint8_t kind = pgrepl__cur_u8(c);
        v->kind = (char)kind;
        v->len = 0;
        v->data = NULL;
        if (kind == PGREPL_VALUE_TEXT || kind == PGREPL_VALUE_BINARY) {
            size_t len_at = c->pos;
            int32_t len = pgrepl__cur_i32(c);
            if (len < 0)
                return fail(d, c, PGREPL_ELENGTH, len_at, "negative length %d of column %d", (int)len, i + 1);
            v->len = (uint32_t)len;
            v->data = pgrepl__cur_take(c, (size_t)len, PGREPL_ETRUNCATED);
        } else if (kind != PGREPL_VALUE_NULL && kind != PGREPL_VALUE_UNCHANGED) {
            if (!pgrepl__cur_ok(c))
                return c->err;
            return fail(d, c, PGREPL_ETUPLEKIND, kind_at, "bad kind 0x%02x of column %d", (unsigned)kind, i + 1);
        }
        if (c->err != 0)
            return c->err;
        pos = c->pos;
    }
    c->pos = pos;
    return 0;
}

/* The relation a change refers to, or NULL with PGREPL_ERELATION recorded. */
static const pgrepl_relation *read_relation(pgrepl_decoder *d, pgrepl_cursor *c)
{
    size_t at = c->pos;
    uint32_t oid = pgrepl__cur_u32(c);
    if (!pgrepl__cur_ok(c))
        return NULL;
    const pgrepl_relation *rel = pgrepl__oidmap_get(&d->rels, oid);
    if (rel == NULL)
        fail(d, c, PGREPL_ERELATION, at, "no Relation message was received for OID %u", oid);
    return rel;
}

/* Reads the 'N', 'K' or 'O' byte in front of a tuple; 0 and an error when it is not one of allowed. */
static char read_marker(pgrepl_decoder *d, pgrepl_cursor *c, const char *allowed)
{
    size_t at = c->pos;
    uint8_t m = pgrepl__cur_u8(c);
    if (!pgrepl__cur_ok(c))
        return 0;
    if (m == 0 || strchr(allowed, m) == NULL) {
        fail(d, c, PGREPL_EPROTOCOL, at, "tuple marker 0x%02x where one of \"%s\" is expected", (unsigned)m, allowed);
        return 0;
    }
    return (char)m;
}

static int grow_values(pgrepl_decoder *d, int width)
{
    /* Allocated even for zero columns, so that values + width is never arithmetic on NULL. */
    if (d->values != NULL && width <= d->width)
        return 0;
    pgrepl_value *v = pgrepl__malloc(2 * (size_t)width * sizeof *v);
    if (v == NULL)
        return PGREPL_ENOMEM;
    pgrepl__free(d->values);
    d->values = v;
    d->width = width;
    return 0;
}

static int grow_trunc(pgrepl_decoder *d, int n)
{
    if (n <= d->trunc_cap)
        return 0;
    const pgrepl_relation **r = pgrepl__malloc((size_t)n * sizeof *r);
    if (r == NULL)
        return PGREPL_ENOMEM;
    pgrepl__free(d->trunc_rels);
    d->trunc_rels = r;
    d->trunc_cap = n;
    return 0;
}

static bool valid_identity(uint8_t c)
{
    return c == 'd' || c == 'n' || c == 'f' || c == 'i';
}

/* ---- transaction framing --------------------------------------------- */

static int decode_begin(pgrepl_decoder *d, pgrepl_cursor *c, const pgrepl_wal *wal)
{
    pgrepl_msg_begin m = {.wal = *wal};
    m.final_lsn = pgrepl__cur_u64(c);
    m.commit_time = pgrepl__cur_i64(c);
    m.xid = pgrepl__cur_u32(c);
    int rc = finish(d, c);
    if (rc != 0)
        return rc;
    d->xact_xid = m.xid;
    return call(d, c, 'B', &m);
}

/* Commit and Stream Commit share the layout; Stream Commit has the xid in front. */
static void read_commit(pgrepl_cursor *c, pgrepl_msg_commit *m)
{
    m->flags = pgrepl__cur_u8(c);
    m->commit_lsn = pgrepl__cur_u64(c);
    m->end_lsn = pgrepl__cur_u64(c);
    m->commit_time = pgrepl__cur_i64(c);
}

static int decode_commit(pgrepl_decoder *d, pgrepl_cursor *c, const pgrepl_wal *wal)
{
    pgrepl_msg_commit m = {.wal = *wal, .xid = d->xact_xid};
    read_commit(c, &m);
    int rc = finish(d, c);
    if (rc != 0)
        return rc;
    d->xact_xid = 0;
    return call(d, c, 'C', &m);
}

static int decode_origin(pgrepl_decoder *d, pgrepl_cursor *c, const pgrepl_wal *wal)
{
    pgrepl_msg_origin m = {.wal = *wal};
    m.origin_lsn = pgrepl__cur_u64(c);
    m.name = pgrepl__cur_str(c, NULL);
    int rc = finish(d, c);
    return rc != 0 ? rc : call(d, c, 'O', &m);
}

/* ---- schema ------------------------------------------------------------ */

static int decode_relation(pgrepl_decoder *d, pgrepl_cursor *c)
{
    pgrepl_relmsg m = {0};
    m.xid = read_stream_xid(d, c);
    m.oid = pgrepl__cur_u32(c);
    m.schema = pgrepl__cur_str(c, &m.schema_len);
    m.name = pgrepl__cur_str(c, &m.name_len);
    size_t ident_at = c->pos;
    uint8_t ident = pgrepl__cur_u8(c);
    size_t count_at = c->pos;
    int n = pgrepl__cur_i16(c);
    if (!pgrepl__cur_ok(c))
        return c->err;
    if (!valid_identity(ident))
        return fail(d, c, PGREPL_EPROTOCOL, ident_at, "bad replica identity 0x%02x", (unsigned)ident);
    if (n < 0)
        return fail(d, c, PGREPL_ELENGTH, count_at, "negative column count %d", n);
    m.replica_identity = (char)ident;
    m.ncolumns = n;
    m.columns = c->buf + c->pos;
    size_t start = c->pos;
    for (int i = 0; i < n && pgrepl__cur_ok(c); i++) {
        pgrepl__cur_u8(c);
        pgrepl__cur_str(c, NULL);
        pgrepl__cur_u32(c);
        pgrepl__cur_u32(c);
    }
    int rc = finish(d, c);
    if (rc != 0)
        return rc;
    m.columns_len = c->pos - start;
    const pgrepl_relation *rel;
    if (grow_values(d, n) != 0 || pgrepl__relcache_put(&d->rels, &d->types, &m, &rel) != 0)
        return fail(d, c, PGREPL_ENOMEM, c->pos, "out of memory caching relation %u", m.oid);
    return call(d, c, 'R', rel);
}

static int decode_type(pgrepl_decoder *d, pgrepl_cursor *c, const pgrepl_wal *wal)
{
    pgrepl_msg_type m = {.wal = *wal};
    size_t schema_len = 0, name_len = 0;
    m.xid = read_stream_xid(d, c);
    m.oid = pgrepl__cur_u32(c);
    m.schema = pgrepl__cur_str(c, &schema_len);
    m.name = pgrepl__cur_str(c, &name_len);
    int rc = finish(d, c);
    if (rc != 0)
        return rc;
    const pgrepl_msg_type *t;
    if (pgrepl__typecache_put(&d->types, &m, schema_len, name_len, &t) != 0)
        return fail(d, c, PGREPL_ENOMEM, c->pos, "out of memory caching type %u", m.oid);
    return call(d, c, 'Y', t);
}

/* ---- changes (the hot path) ------------------------------------------- */

static void change_init(const pgrepl_decoder *d, pgrepl_cursor *c, const pgrepl_wal *wal, pgrepl_msg_change *m)
{
    uint32_t xid = read_stream_xid(d, c);
    *m = (pgrepl_msg_change){
        .wal = *wal,
        .xid = d->in_stream ? xid : d->xact_xid,
        .streamed = d->in_stream,
    };
}

/* The tuple a change ends with, then the end of the message. */
static int read_last_tuple(pgrepl_decoder *d, pgrepl_cursor *c, const pgrepl_relation *rel, pgrepl_value *vals)
{
    int rc = read_tuple(d, c, rel, vals);
    return rc != 0 ? rc : finish(d, c);
}

static int decode_insert(pgrepl_decoder *d, pgrepl_cursor *c, const pgrepl_wal *wal)
{
    pgrepl_msg_change m;
    change_init(d, c, wal, &m);
    m.rel = read_relation(d, c);
    if (m.rel == NULL || read_marker(d, c, "N") == 0)
        return c->err;
    pgrepl_tuple newt = {m.rel->ncolumns, d->values + d->width};
    m.new_tuple = &newt;
    int rc = read_last_tuple(d, c, m.rel, d->values + d->width);
    return rc != 0 ? rc : call(d, c, 'I', &m);
}

static int decode_update(pgrepl_decoder *d, pgrepl_cursor *c, const pgrepl_wal *wal)
{
    pgrepl_msg_change m;
    change_init(d, c, wal, &m);
    m.rel = read_relation(d, c);
    if (m.rel == NULL)
        return c->err;
    pgrepl_tuple oldt = {m.rel->ncolumns, d->values};
    pgrepl_tuple newt = {m.rel->ncolumns, d->values + d->width};
    char marker = read_marker(d, c, "KON");
    if (marker == 'K' || marker == 'O') {
        m.old_kind = marker;
        m.old_tuple = &oldt;
        if (read_tuple(d, c, m.rel, d->values) != 0)
            return c->err;
        marker = read_marker(d, c, "N");
    }
    if (marker == 0)
        return c->err;
    m.new_tuple = &newt;
    int rc = read_last_tuple(d, c, m.rel, d->values + d->width);
    return rc != 0 ? rc : call(d, c, 'U', &m);
}

static int decode_delete(pgrepl_decoder *d, pgrepl_cursor *c, const pgrepl_wal *wal)
{
    pgrepl_msg_change m;
    change_init(d, c, wal, &m);
    m.rel = read_relation(d, c);
    if (m.rel == NULL)
        return c->err;
    m.old_kind = read_marker(d, c, "KO");
    if (m.old_kind == 0)
        return c->err;
    pgrepl_tuple oldt = {m.rel->ncolumns, d->values};
    m.old_tuple = &oldt;
    int rc = read_last_tuple(d, c, m.rel, d->values);
    return rc != 0 ? rc : call(d, c, 'D', &m);
}

static int decode_truncate(pgrepl_decoder *d, pgrepl_cursor *c, const pgrepl_wal *wal)
{
    pgrepl_msg_truncate m = {.wal = *wal, .streamed = d->in_stream};
    uint32_t xid = read_stream_xid(d, c);
    m.xid = d->in_stream ? xid : d->xact_xid;
    size_t count_at = c->pos;
    int32_t n = pgrepl__cur_i32(c);
    m.options = pgrepl__cur_u8(c);
    if (!pgrepl__cur_ok(c))
        return c->err;
    if (n < 0)
        return fail(d, c, PGREPL_ELENGTH, count_at, "negative relation count %d", (int)n);
    /* Check the count against the bytes present before sizing anything by it. */
    if ((size_t)n > pgrepl__cur_left(c) / 4)
        return fail(d, c, PGREPL_ETRUNCATED, c->len, "%d relations need %zu bytes, %zu left", (int)n, (size_t)n * 4,
                    pgrepl__cur_left(c));
    if (grow_trunc(d, n) != 0)
        return fail(d, c, PGREPL_ENOMEM, c->pos, "out of memory for %d relations", (int)n);
    for (int32_t i = 0; i < n; i++) {
        d->trunc_rels[i] = read_relation(d, c);
        if (d->trunc_rels[i] == NULL)
            return c->err;
    }
    int rc = finish(d, c);
    if (rc != 0)
        return rc;
    m.nrelations = n;
    m.relations = d->trunc_rels;
    return call(d, c, 'T', &m);
}

static int decode_message(pgrepl_decoder *d, pgrepl_cursor *c, const pgrepl_wal *wal)
{
    pgrepl_msg_logical m = {.wal = *wal, .streamed = d->in_stream};
    uint32_t xid = read_stream_xid(d, c);
    m.transactional = (pgrepl__cur_u8(c) & 1) != 0;
    m.lsn = pgrepl__cur_u64(c);
    m.prefix = pgrepl__cur_str(c, NULL);
    size_t len_at = c->pos;
    int32_t len = pgrepl__cur_i32(c);
    if (len < 0)
        return fail(d, c, PGREPL_ELENGTH, len_at, "negative content length %d", (int)len);
    m.content = pgrepl__cur_take(c, (size_t)len, PGREPL_ETRUNCATED);
    m.content_len = (uint32_t)len;
    int rc = finish(d, c);
    if (rc != 0)
        return rc;
    if (m.transactional)
        m.xid = d->in_stream ? xid : d->xact_xid;
    return call(d, c, 'M', &m);
}

/* ---- streaming --------------------------------------------------------- */

static int not_in_stream(pgrepl_decoder *d, pgrepl_cursor *c)
{
    if (!d->in_stream)
        return 0;
    return fail(d, c, PGREPL_EPROTOCOL, 0, "not allowed inside the Stream Start block of xid %u", d->stream_xid);
}

static int decode_stream_start(pgrepl_decoder *d, pgrepl_cursor *c, const pgrepl_wal *wal)
{
    pgrepl_msg_stream_start m = {.wal = *wal};
    if (not_in_stream(d, c) != 0)
        return c->err;
    m.xid = pgrepl__cur_u32(c);
    m.first_segment = pgrepl__cur_u8(c) != 0;
    int rc = finish(d, c);
    if (rc != 0)
        return rc;
    d->in_stream = true;
    d->stream_xid = m.xid;
    return call(d, c, 'S', &m);
}

static int decode_stream_stop(pgrepl_decoder *d, pgrepl_cursor *c, const pgrepl_wal *wal)
{
    pgrepl_msg_stream_stop m = {.wal = *wal, .xid = d->stream_xid};
    if (!d->in_stream)
        return fail(d, c, PGREPL_EPROTOCOL, 0, "Stream Stop without Stream Start");
    int rc = finish(d, c);
    if (rc != 0)
        return rc;
    d->in_stream = false;
    d->stream_xid = 0;
    return call(d, c, 'E', &m);
}

static int decode_stream_commit(pgrepl_decoder *d, pgrepl_cursor *c, const pgrepl_wal *wal)
{
    pgrepl_msg_commit m = {.wal = *wal};
    if (not_in_stream(d, c) != 0)
        return c->err;
    m.xid = pgrepl__cur_u32(c);
    read_commit(c, &m);
    int rc = finish(d, c);
    return rc != 0 ? rc : call(d, c, 'c', &m);
}

static int decode_stream_abort(pgrepl_decoder *d, pgrepl_cursor *c, const pgrepl_wal *wal)
{
    pgrepl_msg_stream_abort m = {.wal = *wal};
    if (not_in_stream(d, c) != 0)
        return c->err;
    m.xid = pgrepl__cur_u32(c);
    m.subxid = pgrepl__cur_u32(c);
    /* 'parallel' streaming appends the abort LSN and time: 9 or 25 bytes, nothing in between. */
    if (pgrepl__cur_left(c) > 0) {
        m.has_abort_info = true;
        m.abort_lsn = pgrepl__cur_u64(c);
        m.abort_time = pgrepl__cur_i64(c);
    }
    int rc = finish(d, c);
    return rc != 0 ? rc : call(d, c, 'A', &m);
}

/* ---- two-phase --------------------------------------------------------- */

/* Begin Prepare: prepare LSN, end LSN, time, xid, gid. Prepare and Stream Prepare have flags in front. */
static void read_prepare(pgrepl_cursor *c, pgrepl_msg_prepare *m, bool flags)
{
    if (flags)
        m->flags = pgrepl__cur_u8(c);
    m->prepare_lsn = pgrepl__cur_u64(c);
    m->end_lsn = pgrepl__cur_u64(c);
    m->prepare_time = pgrepl__cur_i64(c);
    m->xid = pgrepl__cur_u32(c);
    m->gid = pgrepl__cur_str(c, NULL);
}

static int decode_begin_prepare(pgrepl_decoder *d, pgrepl_cursor *c, const pgrepl_wal *wal)
{
    pgrepl_msg_prepare m = {.wal = *wal};
    read_prepare(c, &m, false);
    int rc = finish(d, c);
    if (rc != 0)
        return rc;
    d->xact_xid = m.xid;
    return call(d, c, 'b', &m);
}

static int decode_prepare(pgrepl_decoder *d, pgrepl_cursor *c, const pgrepl_wal *wal)
{
    pgrepl_msg_prepare m = {.wal = *wal};
    read_prepare(c, &m, true);
    int rc = finish(d, c);
    if (rc != 0)
        return rc;
    d->xact_xid = 0;
    return call(d, c, 'P', &m);
}

static int decode_stream_prepare(pgrepl_decoder *d, pgrepl_cursor *c, const pgrepl_wal *wal)
{
    pgrepl_msg_prepare m = {.wal = *wal};
    if (not_in_stream(d, c) != 0)
        return c->err;
    read_prepare(c, &m, true);
    int rc = finish(d, c);
    return rc != 0 ? rc : call(d, c, 'p', &m);
}

static int decode_commit_prepared(pgrepl_decoder *d, pgrepl_cursor *c, const pgrepl_wal *wal)
{
    pgrepl_msg_commit_prepared m = {.wal = *wal};
    m.flags = pgrepl__cur_u8(c);
    m.commit_lsn = pgrepl__cur_u64(c);
    m.end_lsn = pgrepl__cur_u64(c);
    m.commit_time = pgrepl__cur_i64(c);
    m.xid = pgrepl__cur_u32(c);
    m.gid = pgrepl__cur_str(c, NULL);
    int rc = finish(d, c);
    return rc != 0 ? rc : call(d, c, 'K', &m);
}

static int decode_rollback_prepared(pgrepl_decoder *d, pgrepl_cursor *c, const pgrepl_wal *wal)
{
    pgrepl_msg_rollback_prepared m = {.wal = *wal};
    m.flags = pgrepl__cur_u8(c);
    m.prepare_end_lsn = pgrepl__cur_u64(c);
    m.rollback_end_lsn = pgrepl__cur_u64(c);
    m.prepare_time = pgrepl__cur_i64(c);
    m.rollback_time = pgrepl__cur_i64(c);
    m.xid = pgrepl__cur_u32(c);
    m.gid = pgrepl__cur_str(c, NULL);
    int rc = finish(d, c);
    return rc != 0 ? rc : call(d, c, 'r', &m);
}

/* ---- public API -------------------------------------------------------- */

static int decode_one(pgrepl_decoder *d, pgrepl_cursor *c, char type, const pgrepl_wal *wal)
{
    switch (type) {
    case 'I':
        return decode_insert(d, c, wal);
    case 'U':
        return decode_update(d, c, wal);
    case 'D':
        return decode_delete(d, c, wal);
    case 'B':
        return decode_begin(d, c, wal);
    case 'C':
        return decode_commit(d, c, wal);
    case 'O':
        return decode_origin(d, c, wal);
    case 'R':
        return decode_relation(d, c);
    case 'Y':
        return decode_type(d, c, wal);
    case 'T':
        return decode_truncate(d, c, wal);
    case 'M':
        return decode_message(d, c, wal);
    case 'S':
        return decode_stream_start(d, c, wal);
    case 'E':
        return decode_stream_stop(d, c, wal);
    case 'c':
        return decode_stream_commit(d, c, wal);
    case 'A':
        return decode_stream_abort(d, c, wal);
    case 'b':
        return decode_begin_prepare(d, c, wal);
    case 'P':
        return decode_prepare(d, c, wal);
    case 'K':
        return decode_commit_prepared(d, c, wal);
    case 'r':
        return decode_rollback_prepared(d, c, wal);
    case 'p':
        return decode_stream_prepare(d, c, wal);
    default:
        if (!pgrepl__cur_ok(c))
            return c->err;
        return fail(d, c, PGREPL_EUNKNOWNMSG, 0, "unknown message type");
    }
}

int pgrepl_decoder_feed(pgrepl_decoder *d, const pgrepl_wal *wal, const void *data, size_t len)
{
    static const pgrepl_wal no_wal;
    if (d == NULL || (data == NULL && len > 0) || d->in_callback)
        return PGREPL_EINVAL;
    d->errmsg[0] = '\0';
    d->detail[0] = '\0';
    d->err_offset = 0;
    d->err_type = 0;
    pgrepl_cursor c;
    pgrepl__cur_init(&c, data, len);
    char type = (char)pgrepl__cur_u8(&c);
    int rc = decode_one(d, &c, type, wal != NULL ? wal : &no_wal);
    if (rc < 0)
        set_errmsg(d, &c, type);
    return rc;
}

pgrepl_decoder *pgrepl_decoder_new(const pgrepl_decoder_callbacks *cbs, size_t cbs_size, void *ud)
{
    if (cbs != NULL && cbs_size > sizeof(pgrepl_decoder_callbacks))
        return NULL;
    pgrepl_decoder *d = pgrepl__calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    if (cbs != NULL)
        memcpy(&d->cbs, cbs, cbs_size);
    d->ud = ud;
    return d;
}

void pgrepl_decoder_reset(pgrepl_decoder *d)
{
    if (d == NULL)
        return;
    pgrepl__oidmap_clear(&d->rels);
    pgrepl__oidmap_clear(&d->types);
    d->in_stream = false;
    d->stream_xid = 0;
    d->xact_xid = 0;
    d->errmsg[0] = '\0';
    d->err_offset = 0;
    d->err_type = 0;
}

void pgrepl_decoder_free(pgrepl_decoder *d)
{
    if (d == NULL)
        return;
    pgrepl__oidmap_free(&d->rels);
    pgrepl__oidmap_free(&d->types);
    pgrepl__free(d->values);
    pgrepl__free(d->trunc_rels);
    pgrepl__free(d);
}

const char *pgrepl_decoder_errmsg(const pgrepl_decoder *d)
{
    return d != NULL ? d->errmsg : "";
}

size_t pgrepl_decoder_error_offset(const pgrepl_decoder *d)
{
    return d != NULL ? d->err_offset : 0;
}

char pgrepl_decoder_error_msgtype(const pgrepl_decoder *d)
{
    return d != NULL ? d->err_type : 0;
}

const pgrepl_relation *pgrepl_decoder_relation(const pgrepl_decoder *d, uint32_t oid)
{
    return d != NULL ? pgrepl__oidmap_get(&d->rels, oid) : NULL;
}

const pgrepl_msg_type *pgrepl_decoder_type(const pgrepl_decoder *d, uint32_t oid)
{
    return d != NULL ? pgrepl__oidmap_get(&d->types, oid) : NULL;
}

bool pgrepl_decoder_in_stream(const pgrepl_decoder *d)
{
    return d != NULL && d->in_stream;
}
