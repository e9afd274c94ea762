/*
 * libFuzzer target for the pgoutput decoder and the CopyBoth envelope.
 *
 * Input: a 2-byte header, then records of [2-byte big-endian length][bytes]
 * (a short last record takes what is left; a lone last byte is ignored), so
 * that one input can first describe a relation and then change it.
 *   header[0]  FLAG_PAUSE: callbacks return PGREPL_PAUSE;
 *              FLAG_CBFAIL: every third callback returns an error
 *   header[1]  allocation failure period p: the library's k-th allocation
 *              (counted from the start of the input) fails when p != 0 and
 *              k % p == 0
 * Each record is copied into an allocation of exactly its size, so that
 * AddressSanitizer sees any read past its end. It is then
 *   1. parsed as a CopyData payload, and an XLogData's pgoutput message fed to
 *      the decoder with its header;
 *   2. decoded as a standby status update, which must encode back the same;
 *   3. fed to the same decoder as a pgoutput message itself.
 * An empty record also resets the decoder, as after a reconnect.
 *
 * The callbacks read every byte of every span and string they receive and
 * check what decode.h promises; a broken promise aborts, which libFuzzer
 * reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgrepl/decode.h"
#include "copydata.h"
#include "fuzz_heap.h"

#define FLAG_PAUSE 0x01
#define FLAG_CBFAIL 0x02
#define CALLBACK_ERROR (-1000)
#define HEADER_SIZE 2

/* ---- what the callbacks check against ----------------------------------- */

typedef struct fuzz {
    pgrepl_decoder *dec;
    uint8_t flags;
    const uint8_t *payload; /* the message being fed */
    size_t payload_len;
    pgrepl_wal wal;         /* the header it was fed with */
    int calls;              /* callbacks during this feed */
    unsigned long ncallbacks;
    int cb_ret;             /* what the last callback returned */
    /* The stream and transaction state the messages so far imply. */
    bool in_stream;
    uint32_t stream_xid;
    uint32_t xact_xid;
} fuzz;

/* Folding every byte into a volatile keeps the reads from being optimised away. */
static volatile unsigned sink;

static void touch(const void *p, size_t n)
{
    const uint8_t *b = p;
    unsigned acc = 0;
    for (size_t i = 0; i < n; i++)
        acc += b[i];
    sink += acc;
}

static bool in_payload(const fuzz *f, const void *p, size_t n)
{
    uintptr_t start = (uintptr_t)f->payload, at = (uintptr_t)p;
    return p != NULL && at >= start && at - start <= f->payload_len && n <= f->payload_len - (at - start);
}

/* A string in the payload: NUL-terminated inside it. */
static void check_payload_str(const fuzz *f, const char *s)
{
    CHECK(s != NULL);
    size_t n = strlen(s);
    CHECK(in_payload(f, s, n + 1));
    touch(s, n);
}

/* A string in the decoder's caches. */
static size_t check_cache_str(const char *s)
{
    CHECK(s != NULL);
    size_t n = strlen(s);
    touch(s, n);
    return n;
}

static void check_wal(const fuzz *f, const pgrepl_wal *w)
{
    CHECK(w->start == f->wal.start && w->end == f->wal.end && w->send_time == f->wal.send_time);
}

static bool valid_identity(char c)
{
    return c == 'd' || c == 'n' || c == 'f' || c == 'i';
}

static void check_relation(const fuzz *f, const pgrepl_relation *rel)
{
    CHECK(rel != NULL);
    CHECK(rel == pgrepl_decoder_relation(f->dec, rel->oid));
    CHECK(check_cache_str(rel->schema) > 0);
    check_cache_str(rel->name);
    CHECK(valid_identity(rel->replica_identity));
    CHECK(rel->ncolumns >= 0);
    CHECK(rel->ncolumns == 0 || rel->columns != NULL);
    for (int i = 0; i < rel->ncolumns; i++) {
        const pgrepl_column *col = &rel->columns[i];
        check_cache_str(col->name);
        CHECK((col->type_schema == NULL) == (col->type_name == NULL));
        if (col->type_name != NULL) {
            CHECK(check_cache_str(col->type_schema) > 0);
            check_cache_str(col->type_name);
        }
    }
}

static void check_tuple(const fuzz *f, const pgrepl_relation *rel, const pgrepl_tuple *t)
{
    CHECK(t != NULL);
    CHECK(t->ncolumns == rel->ncolumns);
    CHECK(t->ncolumns == 0 || t->values != NULL);
    for (int i = 0; i < t->ncolumns; i++) {
        const pgrepl_value *v = &t->values[i];
        switch (v->kind) {
        case PGREPL_VALUE_NULL:
        case PGREPL_VALUE_UNCHANGED:
            CHECK(v->data == NULL && v->len == 0);
            break;
        case PGREPL_VALUE_TEXT:
        case PGREPL_VALUE_BINARY:
            CHECK(in_payload(f, v->data, v->len));
            touch(v->data, v->len);
            break;
        default:
            check_failed(__FILE__, "tuple value of an unknown kind", __LINE__);
        }
    }
}

/* Every callback starts here: one per feed, and feeding from inside is refused. */
static void enter(fuzz *f, const pgrepl_wal *w)
{
    f->calls++;
    f->ncallbacks++;
    if (w != NULL)
        check_wal(f, w);
    CHECK(pgrepl_decoder_feed(f->dec, NULL, "E", 1) == PGREPL_EINVAL);
}

static int leave(fuzz *f)
{
    if ((f->flags & FLAG_CBFAIL) != 0 && f->ncallbacks % 3 == 0)
        f->cb_ret = CALLBACK_ERROR;
    else
        f->cb_ret = (f->flags & FLAG_PAUSE) != 0 ? PGREPL_PAUSE : 0;
    return f->cb_ret;
}

/* Streamed changes carry their own (sub)transaction xid; others that of the open Begin. */
static void check_xid(const fuzz *f, bool streamed, uint32_t xid)
{
    CHECK(streamed == f->in_stream);
    CHECK(streamed == pgrepl_decoder_in_stream(f->dec));
    if (!streamed)
        CHECK(xid == f->xact_xid);
}

static void check_change(const fuzz *f, const pgrepl_msg_change *m)
{
    check_xid(f, m->streamed, m->xid);
    check_relation(f, m->rel);
    CHECK((m->old_kind == 0) == (m->old_tuple == NULL));
    if (m->old_tuple != NULL)
        check_tuple(f, m->rel, m->old_tuple);
    if (m->new_tuple != NULL)
        check_tuple(f, m->rel, m->new_tuple);
}

/* ---- callbacks ------------------------------------------------------------ */

static int on_begin(void *ud, const pgrepl_msg_begin *m)
{
    fuzz *f = ud;
    enter(f, &m->wal);
    f->xact_xid = m->xid;
    return leave(f);
}

static int on_commit(void *ud, const pgrepl_msg_commit *m)
{
    fuzz *f = ud;
    enter(f, &m->wal);
    CHECK(m->xid == f->xact_xid);
    f->xact_xid = 0;
    return leave(f);
}

static int on_origin(void *ud, const pgrepl_msg_origin *m)
{
    fuzz *f = ud;
    enter(f, &m->wal);
    check_payload_str(f, m->name);
    return leave(f);
}

static int on_relation(void *ud, const pgrepl_relation *rel)
{
    fuzz *f = ud;
    enter(f, NULL);
    check_relation(f, rel);
    CHECK(f->in_stream || rel->xid == 0);
    /* Type names come from the type cache as it was when the Relation arrived, which is now. */
    for (int i = 0; i < rel->ncolumns; i++) {
        const pgrepl_column *col = &rel->columns[i];
        const pgrepl_msg_type *t = pgrepl_decoder_type(f->dec, col->type_oid);
        CHECK((t == NULL) == (col->type_name == NULL));
        if (t != NULL)
            CHECK(strcmp(t->name, col->type_name) == 0 && strcmp(t->schema, col->type_schema) == 0);
    }
    return leave(f);
}

static int on_type(void *ud, const pgrepl_msg_type *m)
{
    fuzz *f = ud;
    enter(f, &m->wal);
    CHECK(m == pgrepl_decoder_type(f->dec, m->oid));
    CHECK(f->in_stream || m->xid == 0);
    CHECK(check_cache_str(m->schema) > 0);
    check_cache_str(m->name);
    return leave(f);
}

static int on_insert(void *ud, const pgrepl_msg_change *m)
{
    fuzz *f = ud;
    enter(f, &m->wal);
    check_change(f, m);
    CHECK(m->old_kind == 0 && m->new_tuple != NULL);
    return leave(f);
}

static int on_update(void *ud, const pgrepl_msg_change *m)
{
    fuzz *f = ud;
    enter(f, &m->wal);
    check_change(f, m);
    CHECK(m->old_kind == 0 || m->old_kind == 'K' || m->old_kind == 'O');
    CHECK(m->new_tuple != NULL);
    return leave(f);
}

static int on_delete(void *ud, const pgrepl_msg_change *m)
{
    fuzz *f = ud;
    enter(f, &m->wal);
    check_change(f, m);
    CHECK(m->old_kind == 'K' || m->old_kind == 'O');
    CHECK(m->new_tuple == NULL);
    return leave(f);
}

static int on_truncate(void *ud, const pgrepl_msg_truncate *m)
{
    fuzz *f = ud;
    enter(f, &m->wal);
    check_xid(f, m->streamed, m->xid);
    CHECK(m->nrelations >= 0);
    CHECK(m->nrelations == 0 || m->relations != NULL);
    for (int i = 0; i < m->nrelations; i++)
        check_relation(f, m->relations[i]);
    return leave(f);
}

static int on_message(void *ud, const pgrepl_msg_logical *m)
{
    fuzz *f = ud;
    enter(f, &m->wal);
    check_payload_str(f, m->prefix);
    CHECK(in_payload(f, m->content, m->content_len));
    touch(m->content, m->content_len);
    if (m->transactional)
        check_xid(f, m->streamed, m->xid);
    else
        CHECK(m->xid == 0 && m->streamed == f->in_stream);
    return leave(f);
}

static int on_stream_start(void *ud, const pgrepl_msg_stream_start *m)
{
    fuzz *f = ud;
    enter(f, &m->wal);
    CHECK(!f->in_stream);
    CHECK(pgrepl_decoder_in_stream(f->dec));
    f->in_stream = true;
    f->stream_xid = m->xid;
    return leave(f);
}

static int on_stream_stop(void *ud, const pgrepl_msg_stream_stop *m)
{
    fuzz *f = ud;
    enter(f, &m->wal);
    CHECK(f->in_stream && m->xid == f->stream_xid);
    CHECK(!pgrepl_decoder_in_stream(f->dec));
    f->in_stream = false;
    return leave(f);
}

/* Stream Commit, Abort and Prepare end a streamed transaction from outside its blocks. */
static void check_outside_stream(const fuzz *f)
{
    CHECK(!f->in_stream && !pgrepl_decoder_in_stream(f->dec));
}

static int on_stream_commit(void *ud, const pgrepl_msg_commit *m)
{
    fuzz *f = ud;
    enter(f, &m->wal);
    check_outside_stream(f);
    return leave(f);
}

static int on_stream_abort(void *ud, const pgrepl_msg_stream_abort *m)
{
    fuzz *f = ud;
    enter(f, &m->wal);
    check_outside_stream(f);
    CHECK(m->has_abort_info || (m->abort_lsn == 0 && m->abort_time == 0));
    return leave(f);
}

static int on_begin_prepare(void *ud, const pgrepl_msg_prepare *m)
{
    fuzz *f = ud;
    enter(f, &m->wal);
    check_payload_str(f, m->gid);
    f->xact_xid = m->xid;
    return leave(f);
}

static int on_prepare(void *ud, const pgrepl_msg_prepare *m)
{
    fuzz *f = ud;
    enter(f, &m->wal);
    check_payload_str(f, m->gid);
    f->xact_xid = 0;
    return leave(f);
}

static int on_commit_prepared(void *ud, const pgrepl_msg_commit_prepared *m)
{
    fuzz *f = ud;
    enter(f, &m->wal);
    check_payload_str(f, m->gid);
    return leave(f);
}

static int on_rollback_prepared(void *ud, const pgrepl_msg_rollback_prepared *m)
{
    fuzz *f = ud;
    enter(f, &m->wal);
    check_payload_str(f, m->gid);
    return leave(f);
}

static int on_stream_prepare(void *ud, const pgrepl_msg_prepare *m)
{
    fuzz *f = ud;
    enter(f, &m->wal);
    check_outside_stream(f);
    check_payload_str(f, m->gid);
    return leave(f);
}

/* Every member is set from the list: a callback the decoder gains fails to compile here until it is checked. */
#define SET_(byte, fn, T) .fn = fn,
static const pgrepl_decoder_callbacks callbacks = {PGREPL_DECODER_CALLBACKS(SET_)};
#undef SET_

/* ---- feeding ---------------------------------------------------------------- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * The cache entry a Relation or Type message would replace (NULL for other
 * messages), read with the xid prefix the decoder expects in this state.
 */
static const void *cache_entry(const fuzz *f, const uint8_t *msg, size_t len)
{
    size_t at = f->in_stream ? 5 : 1;
    if (len < at + 4)
        return NULL;
    if (msg[0] == 'R')
        return pgrepl_decoder_relation(f->dec, be32(msg + at));
    if (msg[0] == 'Y')
        return pgrepl_decoder_type(f->dec, be32(msg + at));
    return NULL;
}

static bool documented_error(int rc)
{
    switch (rc) {
    case PGREPL_ETRUNCATED:
    case PGREPL_ETRAILING:
    case PGREPL_EUNKNOWNMSG:
    case PGREPL_ETUPLEKIND:
    case PGREPL_ECOLUMNS:
    case PGREPL_ERELATION:
    case PGREPL_ELENGTH:
    case PGREPL_EPROTOCOL:
    case PGREPL_ENOMEM:
        return true;
    default:
        return false;
    }
}

/* A rejected message called nothing and changed neither the caches nor the stream state. */
static void check_rejected(const fuzz *f, int rc, const uint8_t *msg, size_t len, const void *entry,
                           bool was_in_stream, unsigned long failed_before)
{
    CHECK(documented_error(rc));
    CHECK(f->calls == 0);
    CHECK(pgrepl_decoder_errmsg(f->dec)[0] != '\0');
    CHECK(pgrepl_decoder_error_offset(f->dec) <= len);
    CHECK(pgrepl_decoder_error_msgtype(f->dec) == (len > 0 ? (char)msg[0] : 0));
    CHECK(pgrepl_decoder_in_stream(f->dec) == was_in_stream);
    CHECK(cache_entry(f, msg, len) == entry);
    /* Only an injected failure gives ENOMEM. */
    CHECK((rc == PGREPL_ENOMEM) == (heap.failed != failed_before));
}

static void feed(fuzz *f, const pgrepl_wal *wal, const uint8_t *msg, size_t len)
{
    static const pgrepl_wal zero;
    const void *entry = cache_entry(f, msg, len);
    bool was_in_stream = pgrepl_decoder_in_stream(f->dec);
    unsigned long failed_before = heap.failed;
    f->payload = msg;
    f->payload_len = len;
    f->wal = wal != NULL ? *wal : zero;
    f->calls = 0;
    int rc = pgrepl_decoder_feed(f->dec, wal, msg, len);
    if (rc == 0 || rc == PGREPL_PAUSE || rc == PGREPL_ECALLBACK) {
        CHECK(f->calls == 1);
        CHECK(rc == (f->cb_ret == CALLBACK_ERROR ? PGREPL_ECALLBACK : f->cb_ret));
        CHECK((rc == PGREPL_ECALLBACK) == (pgrepl_decoder_errmsg(f->dec)[0] != '\0'));
        CHECK(heap.failed == failed_before);
    } else {
        check_rejected(f, rc, msg, len, entry, was_in_stream, failed_before);
    }
    CHECK(pgrepl_decoder_in_stream(f->dec) == f->in_stream);
}

/* What the server would read as a standby status update must encode back to the same bytes. */
static void status_update(const uint8_t *buf, size_t len)
{
    pgrepl_lsn write, flush, apply;
    pgrepl_timestamp t;
    bool reply;
    int rc = pgrepl__status_update_decode(buf, len, &write, &flush, &apply, &t, &reply);
    if (rc != 0) {
        CHECK(rc == PGREPL_ETRUNCATED || rc == PGREPL_ETRAILING || rc == PGREPL_EUNKNOWNMSG);
        return;
    }
    uint8_t again[PGREPL_STATUS_UPDATE_SIZE];
    CHECK(pgrepl_status_update_encode(again, write, flush, apply, t, reply) == len);
    CHECK(memcmp(again, buf, len - 1) == 0 && (buf[len - 1] != 0) == reply);
}

static void envelope(fuzz *f, const uint8_t *buf, size_t len)
{
    pgrepl_copydata cd;
    int rc = pgrepl_copydata_parse(buf, len, &cd);
    if (rc != 0) {
        CHECK(rc == PGREPL_ETRUNCATED || rc == PGREPL_ETRAILING || rc == PGREPL_EUNKNOWNMSG);
        CHECK((rc == PGREPL_EUNKNOWNMSG) == (len == 0 || (buf[0] != 'w' && buf[0] != 'k')));
        return;
    }
    CHECK(len > 0 && cd.kind == (char)buf[0]);
    if (cd.kind == 'k') {
        CHECK(len == PGREPL_KEEPALIVE_SIZE);
        return;
    }
    CHECK(len >= PGREPL_XLOGDATA_HEADER_SIZE);
    CHECK(cd.data == buf + PGREPL_XLOGDATA_HEADER_SIZE && cd.len == len - PGREPL_XLOGDATA_HEADER_SIZE);
    pgrepl_wal wal = {.start = cd.wal_start, .end = cd.wal_end, .send_time = cd.send_time};
    feed(f, &wal, cd.data, cd.len);
}

static void reset(fuzz *f)
{
    pgrepl_decoder_reset(f->dec);
    f->in_stream = false;
    f->stream_xid = 0;
    f->xact_xid = 0;
    CHECK(!pgrepl_decoder_in_stream(f->dec));
}

static void record(fuzz *f, const uint8_t *src, size_t len)
{
    /* An exact-size copy: reading one byte past the record is a heap overflow. */
    uint8_t *buf = malloc(len);
    CHECK(buf != NULL || len == 0);
    if (len > 0)
        memcpy(buf, src, len);
    envelope(f, buf, len);
    status_update(buf, len);
    feed(f, NULL, buf, len);
    if (len == 0)
        reset(f);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER_SIZE)
        return 0;
    heap.calls = 0;
    heap.failed = 0;
    heap.period = data[1];
    fuzz f = {.flags = data[0]};
    f.dec = pgrepl_decoder_new(&callbacks, sizeof callbacks, &f);
    if (f.dec == NULL) {
        CHECK(heap.failed > 0);
        CHECK(heap.live == 0);
        return 0;
    }
    size_t pos = HEADER_SIZE;
    while (size - pos >= 2) {
        size_t len = (size_t)data[pos] << 8 | data[pos + 1];
        pos += 2;
        if (len > size - pos)
            len = size - pos;
        record(&f, data + pos, len);
        pos += len;
    }
    pgrepl_decoder_free(f.dec);
    CHECK(heap.live == 0);
    return 0;
}
