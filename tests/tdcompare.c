/* Decoded pgoutput messages rendered as test_decoding lines; see tdcompare.h. */
#include "tdcompare.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgrepl/types.h"

/* Types with OIDs below this are built in (FirstNormalObjectId). */
#define FIRST_NORMAL_OID 16384

typedef struct strbuf {
    char *s;
    size_t len, cap;
} strbuf;

/* A rendered line of a transaction not yet printed. */
typedef struct entry {
    uint32_t xid;   /* the (sub)transaction that produced it */
    bool is_change; /* makes test_decoding print BEGIN: a row change, a truncate, 17+ a message */
    char *text;
} entry;

typedef struct txbuf {
    uint32_t xid;
    entry *v;
    size_t n, cap;
} txbuf;

typedef struct type_name {
    uint32_t oid;
    char *name;
} type_name;

struct tdcompare {
    tdc_mode mode;
    bool messages_are_changes; /* a transactional message makes test_decoding print BEGIN (17+) */
    char **lines;
    size_t nlines, lines_cap;
    type_name *types;
    size_t ntypes, types_cap;
    bool in_txn;       /* between Begin and Commit, or Begin Prepare and Prepare */
    txbuf txn;
    bool in_stream;    /* between Stream Start and Stream Stop */
    uint32_t stream_xid;
    txbuf *streams;    /* streamed transactions not yet committed, prepared or aborted */
    size_t nstreams, streams_cap;
    tdc_stats stats;
    char error[512];
};

static void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size);
    if (q == NULL)
        abort();
    return q;
}

/* The array p (of *cap elements of size elem), grown to hold at least need elements. */
static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t cap2 = *cap ? *cap * 2 : 16;
    while (cap2 < need)
        cap2 *= 2;
    *cap = cap2;
    return xrealloc(p, cap2 * elem);
}

static void sb_putn(strbuf *b, const char *s, size_t n)
{
    b->s = grow(b->s, &b->cap, b->len + n + 1, 1);
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_put(strbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static void sb_putc(strbuf *b, char c)
{
    sb_putn(b, &c, 1);
}

__attribute__((format(printf, 2, 3))) static void sb_putf(strbuf *b, const char *fmt, ...)
{
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    if ((size_t)n < sizeof small) {
        sb_putn(b, small, (size_t)n);
        return;
    }
    b->s = grow(b->s, &b->cap, b->len + (size_t)n + 1, 1);
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* The finished string (never NULL); the buffer is left empty. */
static char *sb_take(strbuf *b)
{
    if (b->s == NULL)
        sb_put(b, "");
    char *s = b->s;
    *b = (strbuf){0};
    return s;
}

__attribute__((format(printf, 2, 3))) static int fail(tdcompare *t, const char *fmt, ...)
{
    if (t->error[0] != '\0')
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->error, sizeof t->error, fmt, ap);
    va_end(ap);
    return -1;
}

static void emit(tdcompare *t, char *line)
{
    t->lines = grow(t->lines, &t->lines_cap, t->nlines + 1, sizeof *t->lines);
    t->lines[t->nlines++] = line;
}

static void emit_copy(tdcompare *t, const char *line)
{
    strbuf b = {0};
    sb_put(&b, line);
    emit(t, sb_take(&b));
}

static void txbuf_add(txbuf *tx, uint32_t xid, bool is_change, char *text)
{
    tx->v = grow(tx->v, &tx->cap, tx->n + 1, sizeof *tx->v);
    tx->v[tx->n++] = (entry){xid, is_change, text};
}

static void txbuf_clear(txbuf *tx)
{
    for (size_t i = 0; i < tx->n; i++)
        free(tx->v[i].text);
    free(tx->v);
    *tx = (txbuf){0};
}

/* Drop what subtransaction xid contributed. */
static void txbuf_drop_xid(txbuf *tx, uint32_t xid)
{
    size_t kept = 0;
    for (size_t i = 0; i < tx->n; i++) {
        if (tx->v[i].xid == xid)
            free(tx->v[i].text);
        else
            tx->v[kept++] = tx->v[i];
    }
    tx->n = kept;
}

/*
 * Print a finished transaction as test_decoding does with skip-empty-xacts:
 * BEGIN just before the first change, the closing line only if BEGIN was
 * printed. Takes the texts; tx is left empty.
 */
static void txbuf_print(tdcompare *t, txbuf *tx, char *closing)
{
    bool wrote = false;
    for (size_t i = 0; i < tx->n; i++) {
        if (tx->v[i].is_change && !wrote) {
            emit_copy(t, "BEGIN");
            wrote = true;
        }
        emit(t, tx->v[i].text);
    }
    tx->n = 0;
    txbuf_clear(tx);
    if (wrote)
        emit(t, closing);
    else
        free(closing);
}

static txbuf *find_stream(tdcompare *t, uint32_t xid)
{
    for (size_t i = 0; i < t->nstreams; i++)
        if (t->streams[i].xid == xid)
            return &t->streams[i];
    return NULL;
}

static void remove_stream(tdcompare *t, txbuf *tx)
{
    txbuf_clear(tx);
    *tx = t->streams[--t->nstreams];
}

/* quote_identifier() without its keyword check. */
static void put_ident(strbuf *b, const char *name)
{
    bool safe = (name[0] >= 'a' && name[0] <= 'z') || name[0] == '_';
    for (const char *p = name; *p && safe; p++)
        safe = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
    if (safe) {
        sb_put(b, name);
        return;
    }
    sb_putc(b, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            sb_putc(b, '"');
        sb_putc(b, *p);
    }
    sb_putc(b, '"');
}

/* quote_literal_cstr(): E'' syntax when there is a backslash, which is then doubled. */
static char *quote_literal(const char *s)
{
    strbuf b = {0};
    if (strchr(s, '\\') != NULL)
        sb_putc(&b, 'E');
    sb_putc(&b, '\'');
    for (const char *p = s; *p; p++) {
        if (*p == '\'' || *p == '\\')
            sb_putc(&b, *p);
        sb_putc(&b, *p);
    }
    sb_putc(&b, '\'');
    return sb_take(&b);
}

static void put_relation(strbuf *b, const pgrepl_relation *rel)
{
    put_ident(b, rel->schema);
    sb_putc(b, '.');
    put_ident(b, rel->name);
}

static const char *type_name_of(const tdcompare *t, uint32_t oid)
{
    if (oid < FIRST_NORMAL_OID)
        return pgrepl_type_name(oid);
    for (size_t i = 0; i < t->ntypes; i++)
        if (t->types[i].oid == oid)
            return t->types[i].name;
    return NULL;
}

/* test_decoding's print_literal(): the quoting depends on the column's type OID. */
static void put_literal(strbuf *b, uint32_t type_oid, const pgrepl_value *v)
{
    const char *s = (const char *)v->data;
    switch (type_oid) {
    case PGREPL_INT2OID:
    case PGREPL_INT4OID:
    case PGREPL_INT8OID:
    case PGREPL_OIDOID:
    case PGREPL_FLOAT4OID:
    case PGREPL_FLOAT8OID:
    case PGREPL_NUMERICOID:
        sb_putn(b, s, v->len);
        return;
    case PGREPL_BITOID:
    case PGREPL_VARBITOID:
        sb_put(b, "B'");
        sb_putn(b, s, v->len);
        sb_putc(b, '\'');
        return;
    case PGREPL_BOOLOID:
        sb_put(b, v->len == 1 && s[0] == 't' ? "true" : "false");
        return;
    default:
        sb_putc(b, '\'');
        for (uint32_t i = 0; i < v->len; i++) {
            if (s[i] == '\'')
                sb_putc(b, '\'');
            sb_putc(b, s[i]);
        }
        sb_putc(b, '\'');
        return;
    }
}

static int put_value(tdcompare *t, strbuf *b, const pgrepl_column *col, const pgrepl_value *v)
{
    switch (v->kind) {
    case PGREPL_VALUE_NULL: sb_put(b, "null"); return 0;
    case PGREPL_VALUE_UNCHANGED: sb_put(b, "unchanged-toast-datum"); return 0;
    case PGREPL_VALUE_TEXT:
        if (t->mode == TDC_STRUCTURE)
            sb_put(b, "value");
        else
            put_literal(b, col->type_oid, v);
        return 0;
    case PGREPL_VALUE_BINARY:
        if (t->mode == TDC_STRUCTURE) {
            sb_put(b, "value");
            return 0;
        }
        return fail(t, "binary value for column %s: only TDC_STRUCTURE renders those", col->name);
    default: return fail(t, "value kind 0x%02x for column %s", (unsigned char)v->kind, col->name);
    }
}

/* test_decoding's tuple_to_stringinfo(): old tuples leave NULL columns out. */
static int put_tuple(tdcompare *t, strbuf *b, const pgrepl_relation *rel, const pgrepl_tuple *tup, bool skip_nulls)
{
    for (int i = 0; i < tup->ncolumns; i++) {
        const pgrepl_column *col = &rel->columns[i];
        const pgrepl_value *v = &tup->values[i];
        t->stats.values[(unsigned char)v->kind]++;
        if (skip_nulls && v->kind == PGREPL_VALUE_NULL)
            continue;
        const char *type = type_name_of(t, col->type_oid);
        if (type == NULL)
            return fail(t, "no name for type %u of column %s.%s", col->type_oid, rel->name, col->name);
        sb_putc(b, ' ');
        put_ident(b, col->name);
        sb_putc(b, '[');
        sb_put(b, type);
        sb_put(b, "]:");
        if (put_value(t, b, col, v) != 0)
            return -1;
    }
    return 0;
}

/* Queue a line of the current transaction: its stream buffer when streamed. */
static int add_to_txn(tdcompare *t, bool streamed, uint32_t xid, bool is_change, char *text)
{
    txbuf *tx = NULL;
    if (streamed) {
        tx = t->in_stream ? find_stream(t, t->stream_xid) : NULL;
        if (tx == NULL) {
            free(text);
            return fail(t, "streamed change of xid %u outside a stream block", xid);
        }
    } else if (t->in_txn) {
        tx = &t->txn;
    } else {
        free(text);
        return fail(t, "change outside a transaction");
    }
    txbuf_add(tx, xid, is_change, text);
    return 0;
}

static int on_change(tdcompare *t, const pgrepl_msg_change *m, const char *op)
{
    strbuf b = {0};
    sb_put(&b, "table ");
    put_relation(&b, m->rel);
    sb_putf(&b, ": %s:", op);
    int rc = 0;
    if (m->old_tuple != NULL) {
        t->stats.old_tuples[(unsigned char)m->old_kind]++;
        if (m->new_tuple != NULL)
            sb_put(&b, " old-key:");
        rc = put_tuple(t, &b, m->rel, m->old_tuple, true);
        if (m->new_tuple != NULL)
            sb_put(&b, " new-tuple:");
    } else if (m->new_tuple == NULL) {
        sb_put(&b, " (no-tuple-data)");
    }
    if (rc == 0 && m->new_tuple != NULL)
        rc = put_tuple(t, &b, m->rel, m->new_tuple, false);
    char *text = sb_take(&b);
    if (rc != 0) {
        free(text);
        return -1;
    }
    return add_to_txn(t, m->streamed, m->xid, true, text);
}

static int on_insert(void *ud, const pgrepl_msg_change *m)
{
    tdcompare *t = ud;
    return on_change(t, m, "INSERT");
}

static int on_update(void *ud, const pgrepl_msg_change *m)
{
    tdcompare *t = ud;
    return on_change(t, m, "UPDATE");
}

static int on_delete(void *ud, const pgrepl_msg_change *m)
{
    tdcompare *t = ud;
    return on_change(t, m, "DELETE");
}

static int on_truncate(void *ud, const pgrepl_msg_truncate *m)
{
    tdcompare *t = ud;
    bool restart = (m->options & PGREPL_TRUNCATE_RESTART_IDENTITY) != 0;
    bool cascade = (m->options & PGREPL_TRUNCATE_CASCADE) != 0;
    if (restart && cascade)
        t->stats.truncate_both++;
    strbuf b = {0};
    sb_put(&b, "table ");
    for (int i = 0; i < m->nrelations; i++) {
        if (i > 0)
            sb_put(&b, ", ");
        put_relation(&b, m->relations[i]);
    }
    sb_put(&b, ": TRUNCATE:");
    if (restart)
        sb_put(&b, " restart_seqs");
    if (cascade)
        sb_put(&b, " cascade");
    if (!restart && !cascade)
        sb_put(&b, " (no-flags)");
    return add_to_txn(t, m->streamed, m->xid, true, sb_take(&b));
}

static int on_message(void *ud, const pgrepl_msg_logical *m)
{
    tdcompare *t = ud;
    strbuf b = {0};
    sb_putf(&b, "message: transactional: %d prefix: %s, sz: %u content:", m->transactional ? 1 : 0, m->prefix,
            m->content_len);
    sb_putn(&b, (const char *)m->content, m->content_len);
    if (!m->transactional) {
        emit(t, sb_take(&b));
        return 0;
    }
    return add_to_txn(t, m->streamed, m->xid, t->messages_are_changes, sb_take(&b));
}

static int open_txn(tdcompare *t, uint32_t xid)
{
    if (t->in_txn || t->in_stream)
        return fail(t, "transaction %u begins inside %s", xid, t->in_txn ? "a transaction" : "a stream block");
    t->in_txn = true;
    t->txn.xid = xid;
    return 0;
}

static int close_txn(tdcompare *t, char *closing)
{
    if (!t->in_txn) {
        free(closing);
        return fail(t, "commit or prepare without a transaction");
    }
    t->in_txn = false;
    txbuf_print(t, &t->txn, closing);
    return 0;
}

static char *gid_line(const char *what, const char *gid)
{
    char *quoted = quote_literal(gid);
    strbuf b = {0};
    sb_putf(&b, "%s %s", what, quoted);
    free(quoted);
    return sb_take(&b);
}

static int on_begin(void *ud, const pgrepl_msg_begin *m)
{
    tdcompare *t = ud;
    return open_txn(t, m->xid);
}

static int on_commit(void *ud, const pgrepl_msg_commit *m)
{
    tdcompare *t = ud;
    (void)m;
    strbuf b = {0};
    sb_put(&b, "COMMIT");
    return close_txn(t, sb_take(&b));
}

static int on_begin_prepare(void *ud, const pgrepl_msg_prepare *m)
{
    tdcompare *t = ud;
    return open_txn(t, m->xid);
}

static int on_prepare(void *ud, const pgrepl_msg_prepare *m)
{
    tdcompare *t = ud;
    return close_txn(t, gid_line("PREPARE TRANSACTION", m->gid));
}

/* test_decoding prints these whether or not the prepared transaction printed anything. */
static int on_commit_prepared(void *ud, const pgrepl_msg_commit_prepared *m)
{
    tdcompare *t = ud;
    emit(t, gid_line("COMMIT PREPARED", m->gid));
    return 0;
}

static int on_rollback_prepared(void *ud, const pgrepl_msg_rollback_prepared *m)
{
    tdcompare *t = ud;
    emit(t, gid_line("ROLLBACK PREPARED", m->gid));
    return 0;
}

/* test_decoding prints nothing for these three: they are only counted (tdc_callbacks). */
static int on_relation(void *ud, const pgrepl_relation *rel)
{
    (void)ud;
    (void)rel;
    return 0;
}

static int on_type(void *ud, const pgrepl_msg_type *m)
{
    (void)ud;
    (void)m;
    return 0;
}

static int on_origin(void *ud, const pgrepl_msg_origin *m)
{
    (void)ud;
    (void)m;
    return 0;
}

static int on_stream_start(void *ud, const pgrepl_msg_stream_start *m)
{
    tdcompare *t = ud;
    if (t->in_txn || t->in_stream)
        return fail(t, "Stream Start of %u inside %s", m->xid, t->in_txn ? "a transaction" : "a stream block");
    txbuf *tx = find_stream(t, m->xid);
    if (m->first_segment != (tx == NULL))
        return fail(t, "Stream Start of %u: first_segment %d, but the transaction was %sseen", m->xid,
                    m->first_segment, tx == NULL ? "not " : "");
    if (tx == NULL) {
        t->streams = grow(t->streams, &t->streams_cap, t->nstreams + 1, sizeof *t->streams);
        t->streams[t->nstreams++] = (txbuf){.xid = m->xid};
    }
    t->in_stream = true;
    t->stream_xid = m->xid;
    return 0;
}

static int on_stream_stop(void *ud, const pgrepl_msg_stream_stop *m)
{
    tdcompare *t = ud;
    (void)m;
    if (!t->in_stream)
        return fail(t, "Stream Stop outside a stream block");
    t->in_stream = false;
    return 0;
}

/* The transaction a Stream Commit, Prepare or Abort ends, which must be outside a block. */
static txbuf *ending_stream(tdcompare *t, uint32_t xid, const char *what)
{
    txbuf *tx = t->in_stream ? NULL : find_stream(t, xid);
    if (tx == NULL)
        fail(t, "%s of %u %s", what, xid, t->in_stream ? "inside a stream block" : "that was never streamed");
    return tx;
}

static int on_stream_commit(void *ud, const pgrepl_msg_commit *m)
{
    tdcompare *t = ud;
    txbuf *tx = ending_stream(t, m->xid, "Stream Commit");
    if (tx == NULL)
        return -1;
    strbuf b = {0};
    sb_put(&b, "COMMIT");
    txbuf_print(t, tx, sb_take(&b));
    remove_stream(t, tx);
    return 0;
}

static int on_stream_prepare(void *ud, const pgrepl_msg_prepare *m)
{
    tdcompare *t = ud;
    txbuf *tx = ending_stream(t, m->xid, "Stream Prepare");
    if (tx == NULL)
        return -1;
    txbuf_print(t, tx, gid_line("PREPARE TRANSACTION", m->gid));
    remove_stream(t, tx);
    return 0;
}

static int on_stream_abort(void *ud, const pgrepl_msg_stream_abort *m)
{
    tdcompare *t = ud;
    txbuf *tx = ending_stream(t, m->xid, "Stream Abort");
    if (tx == NULL)
        return -1;
    if (m->subxid == m->xid) {
        t->stats.whole_aborts++;
        remove_stream(t, tx);
    } else {
        t->stats.sub_aborts++;
        txbuf_drop_xid(tx, m->subxid);
    }
    return 0;
}

/*
 * The statistics count every message by its type byte before its callback runs; the list pairs each
 * callback with its byte, and fails to compile here when the decoder gains a callback tdcompare lacks.
 */
#define COUNTED_(byte, fn, T)                                                                                         \
    static int counted_##fn(void *ud, const T *m)                                                                     \
    {                                                                                                                 \
        ((tdcompare *)ud)->stats.messages[(unsigned char)(byte)]++;                                                   \
        return fn(ud, m);                                                                                             \
    }
PGREPL_DECODER_CALLBACKS(COUNTED_)
#undef COUNTED_

#define SET_(byte, fn, T) .fn = counted_##fn,
const pgrepl_decoder_callbacks tdc_callbacks = {PGREPL_DECODER_CALLBACKS(SET_)};
#undef SET_

tdcompare *tdc_new(tdc_mode mode, int server_major)
{
    tdcompare *t = calloc(1, sizeof *t);
    if (t == NULL)
        abort();
    t->mode = mode;
    t->messages_are_changes = server_major >= 17;
    return t;
}

void tdc_free(tdcompare *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nlines; i++)
        free(t->lines[i]);
    free(t->lines);
    for (size_t i = 0; i < t->ntypes; i++)
        free(t->types[i].name);
    free(t->types);
    txbuf_clear(&t->txn);
    for (size_t i = 0; i < t->nstreams; i++)
        txbuf_clear(&t->streams[i]);
    free(t->streams);
    free(t);
}

void tdc_set_type_name(tdcompare *t, uint32_t oid, const char *name)
{
    strbuf b = {0};
    sb_put(&b, name);
    t->types = grow(t->types, &t->types_cap, t->ntypes + 1, sizeof *t->types);
    t->types[t->ntypes++] = (type_name){oid, sb_take(&b)};
}

int tdc_finish(tdcompare *t)
{
    if (t->in_txn)
        return fail(t, "the stream ended inside transaction %u", t->txn.xid);
    if (t->in_stream)
        return fail(t, "the stream ended inside a stream block of %u", t->stream_xid);
    if (t->nstreams > 0)
        return fail(t, "the stream ended with streamed transaction %u neither committed nor aborted",
                    t->streams[0].xid);
    return t->error[0] != '\0' ? -1 : 0;
}

const char *tdc_error(const tdcompare *t)
{
    return t->error[0] != '\0' ? t->error : NULL;
}

size_t tdc_nlines(const tdcompare *t)
{
    return t->nlines;
}

const char *tdc_line(const tdcompare *t, size_t i)
{
    return i < t->nlines ? t->lines[i] : NULL;
}

const tdc_stats *tdc_get_stats(const tdcompare *t)
{
    return &t->stats;
}
