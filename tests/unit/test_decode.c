/*
 * pgoutput decoder: input bytes -> expected callback log.
 *
 * Every message is built from the byte examples in protocol.md section 4;
 * the recording callbacks append one line per callback with every decoded
 * field, so a table row is "setup messages, message, expected line".
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pgrepl/pgrepl.h"
#include "msgbuild.h"
#include "testutil.h"

/* ---- fixtures (protocol.md section 4) ---------------------------------- */

#define B_774 "42 0000000001be85c8 000303c880102892 00000306"
#define C_774 "43 00 0000000001be85c8 0000000001be85f8 000303c880102892"
#define ORIGIN "4f 00000000abcdef01 6d796f726967696e00"
#define Y_MOOD "59 00004002 7075626c696300 6d6f6f6400"
#define Y_MOOD_S "59 0000031d 00004002 7075626c696300 6d6f6f6400"
#define Y_POSINT "59 00004049 00 696e743400"
/* t(id int PK, name text, m mood, big text) */
#define R_T                                                                                                           \
    "52 00004009 7075626c696300 7400 64 0004 01 696400 00000017 ffffffff 00 6e616d6500 00000019 ffffffff"             \
    " 00 6d00 00004002 ffffffff 00 62696700 00000019 ffffffff"
/* tt(id int PK, v varchar(10), n numeric(8,2), x text), the binary example's table */
#define TT_COLS                                                                                                       \
    "0004 01 696400 00000017 ffffffff 00 7600 00000413 0000000e 00 6e00 000006a4 00080006 00 7800 00000019 ffffffff"
#define R_TT "52 00004025 7075626c696300 747400 64 " TT_COLS
#define R_TT_S "52 0000031d 00004025 7075626c69630074740064 " TT_COLS
/* tf(id, v) REPLICA IDENTITY FULL; tk(a, b, c) with identity index on (a, b) */
#define R_TF "52 00004011 7075626c696300 746600 66 0002 01 696400 00000017 ffffffff 01 7600 00000019 ffffffff"
#define R_TK                                                                                                          \
    "52 00004016 7075626c696300 746b00 69 0003 01 6100 00000017 ffffffff 01 6200 00000017 ffffffff"                   \
    " 00 6300 00000019 ffffffff"
/* dom(p posint): a domain column */
#define R_DOM "52 00004200 7075626c696300 646f6d00 64 0001 01 7000 00004049 ffffffff"
/* a catalog relation (empty namespace) without columns */
#define R_PG "52 00004100 00 706700 6e 0000"
#define I_T "49 00004009 4e 0004 74 00000001 31 74 00000005 616c696365 74 00000005 6861707079 6e"
#define I_TT_BIN                                                                                                      \
    "49 00004025 4e 0004 62 00000004 00000003 62 00000003 78797a 62 0000000c 0002000000000002000309c4 6e"
#define U_NONE "55 00004009 4e 0004 74 00000001 31 74 00000003 626f62 74 00000005 6861707079 6e"
#define U_K                                                                                                           \
    "55 00004009 4b 0004 74 00000001 31 6e 6e 6e 4e 0004 74 00000001 32 74 00000005 616c696365"                       \
    " 74 00000005 6861707079 6e"
#define U_O "55 00004011 4f 0002 74 00000001 31 74 00000001 78 4e 0002 74 00000001 31 74 00000001 79"
#define U_TOAST "55 00004009 4e 0004 74 00000001 33 74 00000004 62696732 74 00000002 6f6b 75"
#define D_K "44 00004016 4b 0003 74 00000001 31 74 00000001 32 6e"
#define D_O "44 00004011 4f 0002 74 00000001 31 74 00000001 79"
#define T_1 "54 00000001 00 00004011"
#define T_2 "54 00000002 03 00004016 00004011"
#define M_TX "4d 01 0000000001bed4f0 70667800 00000005 68656c6c6f"
#define M_NONTX "4d 00 0000000001bed560 70667800 00000005 6e6f6e7478"
#define M_STREAM "4d 0000031d 01 0000000001cb6be0 736d00 00000009 696e2d73747265616d"
#define S_797 "53 0000031d 01"
#define S_797_NEXT "53 0000031d 00"
#define E_STOP "45"
#define C_797 "63 0000031d 00 0000000001cb6c28 0000000001cb6c60 000303c881ff9999"
#define A_PARALLEL "41 0000031d 0000031e 0000000001c622c8 000303c881ff67b4"
#define A_ON "41 00000322 00000322"
#define BP_806 "62 0000000001ee38b8 0000000001ee39b0 000303c883e94eee 00000326 673100"
#define P_806 "50 00 0000000001ee38b8 0000000001ee39b0 000303c883e94eee 00000326 673100"
#define K_806 "4b 00 0000000001ee39b0 0000000001ee39e8 000303c883e95154 00000326 673100"
#define RB_807 "72 00 0000000001ee3b68 0000000001ee3ba0 000303c883e9534b 000303c883e9543d 00000327 673200"
#define SP_808 "70 00 0000000001f495a0 0000000001f49698 000303c883e9836e 00000328 673300"

#define REL_T_PLAIN "relation 16393 public.t d xid=0 id/23/-1/1 name/25/-1/0 m/16386/-1/0 big/25/-1/0"
#define REL_T_MOOD "relation 16393 public.t d xid=0 id/23/-1/1 name/25/-1/0 m/16386/-1/0/public.mood big/25/-1/0"
#define TT_LINE_COLS " id/23/-1/1 v/1043/14/0 n/1700/524294/0 x/25/-1/0"
#define TS_774 "2026-11-21T13:56:47.017106Z"
#define TS_806 "2026-11-21T13:57:51.579886Z"

/* ---- recording callbacks ------------------------------------------------ */

typedef struct rec {
    char log[16384];
    size_t len;
    int ret;             /* what every callback returns */
    pgrepl_decoder *dec; /* the decoder feeding these callbacks */
    bool reenter;        /* feed dec from inside the callback */
    int inner_rc;
} rec;

static const char *lsn(pgrepl_lsn l)
{
    static char ring[16][PGREPL_LSN_BUFSIZE];
    static unsigned k;
    char *b = ring[k++ % 16];
    pgrepl_lsn_format(l, b);
    return b;
}

static const char *ts(pgrepl_timestamp t)
{
    static char ring[8][PGREPL_TIMESTAMP_BUFSIZE];
    static unsigned k;
    char *b = ring[k++ % 8];
    pgrepl_timestamp_format(t, b);
    return b;
}

__attribute__((format(printf, 3, 4))) static void cat(char *buf, size_t cap, const char *fmt, ...)
{
    size_t used = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, cap - used, fmt, ap);
    va_end(ap);
}

/* One log line; the XLogData header is appended when it is not all zero. */
__attribute__((format(printf, 3, 4))) static void add(rec *r, const pgrepl_wal *w, const char *fmt, ...)
{
    char line[2048] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (w != NULL && (w->start != 0 || w->end != 0 || w->send_time != 0))
        cat(line, sizeof line, " @%s,%s,%lld", lsn(w->start), lsn(w->end), (long long)w->send_time);
    cat(r->log, sizeof r->log, "%s\n", line);
    r->len = strlen(r->log);
}

static int done(rec *r)
{
    if (r->reenter)
        r->inner_rc = pgrepl_decoder_feed(r->dec, NULL, "E", 1);
    return r->ret;
}

static const char *tuple(const pgrepl_relation *rel, const pgrepl_tuple *t)
{
    static char ring[2][2048];
    static unsigned k;
    char *b = ring[k++ % 2];
    ck_assert_int_eq(t->ncolumns, rel->ncolumns);
    strcpy(b, "(");
    for (int i = 0; i < t->ncolumns; i++) {
        const pgrepl_value *v = &t->values[i];
        if (i > 0)
            cat(b, 2048, ",");
        if (v->kind == 'n' || v->kind == 'u') {
            ck_assert_ptr_null(v->data);
            ck_assert_uint_eq(v->len, 0);
            cat(b, 2048, "%c", v->kind);
        } else if (v->kind == 't') {
            cat(b, 2048, "t'%.*s'", (int)v->len, (const char *)v->data);
        } else {
            ck_assert_int_eq(v->kind, 'b');
            cat(b, 2048, "b'");
            for (uint32_t j = 0; j < v->len; j++)
                cat(b, 2048, "%02x", v->data[j]);
            cat(b, 2048, "'");
        }
    }
    cat(b, 2048, ")");
    return b;
}

static int on_begin(void *ud, const pgrepl_msg_begin *m)
{
    add(ud, &m->wal, "begin final=%s time=%s xid=%u", lsn(m->final_lsn), ts(m->commit_time), m->xid);
    return done(ud);
}

static void commit_line(rec *r, const char *what, const pgrepl_msg_commit *m)
{
    add(r, &m->wal, "%s flags=%u lsn=%s end=%s time=%s xid=%u", what, m->flags, lsn(m->commit_lsn), lsn(m->end_lsn),
        ts(m->commit_time), m->xid);
}

static int on_commit(void *ud, const pgrepl_msg_commit *m)
{
    commit_line(ud, "commit", m);
    return done(ud);
}

static int on_stream_commit(void *ud, const pgrepl_msg_commit *m)
{
    commit_line(ud, "stream_commit", m);
    return done(ud);
}

static int on_origin(void *ud, const pgrepl_msg_origin *m)
{
    add(ud, &m->wal, "origin lsn=%s name=%s", lsn(m->origin_lsn), m->name);
    return done(ud);
}

static int on_relation(void *ud, const pgrepl_relation *rel)
{
    rec *r = ud;
    char cols[2048] = "";
    ck_assert_ptr_eq(rel, pgrepl_decoder_relation(r->dec, rel->oid));
    for (int i = 0; i < rel->ncolumns; i++) {
        const pgrepl_column *c = &rel->columns[i];
        cat(cols, sizeof cols, " %s/%u/%d/%u", c->name, c->type_oid, (int)c->typmod, c->flags);
        ck_assert((c->type_schema == NULL) == (c->type_name == NULL));
        if (c->type_schema != NULL)
            cat(cols, sizeof cols, "/%s.%s", c->type_schema, c->type_name);
    }
    add(r, NULL, "relation %u %s.%s %c xid=%u%s", rel->oid, rel->schema, rel->name, rel->replica_identity, rel->xid,
        cols);
    return done(r);
}

static int on_type(void *ud, const pgrepl_msg_type *m)
{
    rec *r = ud;
    ck_assert_ptr_eq(m, pgrepl_decoder_type(r->dec, m->oid));
    add(r, &m->wal, "type %u %s.%s xid=%u", m->oid, m->schema, m->name, m->xid);
    return done(r);
}

static void change_line(rec *r, const char *what, const pgrepl_msg_change *m)
{
    char old[2100] = "", new[2100] = "";
    ck_assert_ptr_eq(m->rel, pgrepl_decoder_relation(r->dec, m->rel->oid));
    if (m->old_tuple != NULL)
        snprintf(old, sizeof old, " old=%c%s", m->old_kind, tuple(m->rel, m->old_tuple));
    else
        ck_assert_int_eq(m->old_kind, 0);
    if (m->new_tuple != NULL)
        snprintf(new, sizeof new, " new=%s", tuple(m->rel, m->new_tuple));
    add(r, &m->wal, "%s xid=%u %s.%s%s%s%s", what, m->xid, m->rel->schema, m->rel->name, old, new,
        m->streamed ? " streamed" : "");
}

static int on_insert(void *ud, const pgrepl_msg_change *m)
{
    ck_assert_ptr_null(m->old_tuple);
    change_line(ud, "insert", m);
    return done(ud);
}

static int on_update(void *ud, const pgrepl_msg_change *m)
{
    change_line(ud, "update", m);
    return done(ud);
}

static int on_delete(void *ud, const pgrepl_msg_change *m)
{
    ck_assert_ptr_null(m->new_tuple);
    change_line(ud, "delete", m);
    return done(ud);
}

static int on_truncate(void *ud, const pgrepl_msg_truncate *m)
{
    char rels[512] = "";
    for (int i = 0; i < m->nrelations; i++)
        cat(rels, sizeof rels, " %s.%s", m->relations[i]->schema, m->relations[i]->name);
    add(ud, &m->wal, "truncate xid=%u opts=%u%s%s", m->xid, m->options, rels, m->streamed ? " streamed" : "");
    return done(ud);
}

static int on_message(void *ud, const pgrepl_msg_logical *m)
{
    add(ud, &m->wal, "message xid=%u tx=%d lsn=%s prefix=%s content=%.*s%s", m->xid, m->transactional, lsn(m->lsn),
        m->prefix, (int)m->content_len, (const char *)m->content, m->streamed ? " streamed" : "");
    return done(ud);
}

static int on_stream_start(void *ud, const pgrepl_msg_stream_start *m)
{
    add(ud, &m->wal, "stream_start xid=%u first=%d", m->xid, m->first_segment);
    return done(ud);
}

static int on_stream_stop(void *ud, const pgrepl_msg_stream_stop *m)
{
    add(ud, &m->wal, "stream_stop xid=%u", m->xid);
    return done(ud);
}

static int on_stream_abort(void *ud, const pgrepl_msg_stream_abort *m)
{
    add(ud, &m->wal, "stream_abort xid=%u subxid=%u info=%d lsn=%s time=%s", m->xid, m->subxid, m->has_abort_info,
        lsn(m->abort_lsn), ts(m->abort_time));
    return done(ud);
}

static void prepare_line(rec *r, const char *what, const pgrepl_msg_prepare *m)
{
    add(r, &m->wal, "%s flags=%u lsn=%s end=%s time=%s xid=%u gid=%s", what, m->flags, lsn(m->prepare_lsn),
        lsn(m->end_lsn), ts(m->prepare_time), m->xid, m->gid);
}

static int on_begin_prepare(void *ud, const pgrepl_msg_prepare *m)
{
    prepare_line(ud, "begin_prepare", m);
    return done(ud);
}

static int on_prepare(void *ud, const pgrepl_msg_prepare *m)
{
    prepare_line(ud, "prepare", m);
    return done(ud);
}

static int on_stream_prepare(void *ud, const pgrepl_msg_prepare *m)
{
    prepare_line(ud, "stream_prepare", m);
    return done(ud);
}

static int on_commit_prepared(void *ud, const pgrepl_msg_commit_prepared *m)
{
    add(ud, &m->wal, "commit_prepared flags=%u lsn=%s end=%s time=%s xid=%u gid=%s", m->flags, lsn(m->commit_lsn),
        lsn(m->end_lsn), ts(m->commit_time), m->xid, m->gid);
    return done(ud);
}

static int on_rollback_prepared(void *ud, const pgrepl_msg_rollback_prepared *m)
{
    add(ud, &m->wal,
        "rollback_prepared flags=%u prepare_end=%s rollback_end=%s prepare_time=%s rollback_time=%s xid=%u gid=%s",
        m->flags, lsn(m->prepare_end_lsn), lsn(m->rollback_end_lsn), ts(m->prepare_time), ts(m->rollback_time),
        m->xid, m->gid);
    return done(ud);
}

/* Every member is set from the list: a callback the decoder gains fails to compile here until it is logged. */
#define SET_(byte, fn, T) .fn = fn,
static const pgrepl_decoder_callbacks CBS = {PGREPL_DECODER_CALLBACKS(SET_)};
#undef SET_

/* ---- helpers ------------------------------------------------------------- */

static rec R;

static pgrepl_decoder *new_decoder(void)
{
    memset(&R, 0, sizeof R);
    pgrepl_decoder *d = pgrepl_decoder_new(&CBS, sizeof CBS, &R);
    ck_assert_ptr_nonnull(d);
    R.dec = d;
    return d;
}

static void clear_log(void)
{
    R.log[0] = '\0';
    R.len = 0;
}

static int feed(pgrepl_decoder *d, const char *hex)
{
    msg m = msg_of(hex);
    return pgrepl_decoder_feed(d, NULL, m.b, m.len);
}

static void feed_ok(pgrepl_decoder *d, const char *hex)
{
    int rc = feed(d, hex);
    ck_assert_msg(rc == 0, "feeding %s: %s: %s", hex, pgrepl_err_name(rc), pgrepl_decoder_errmsg(d));
    ck_assert_str_eq(pgrepl_decoder_errmsg(d), "");
}

/* Feed hex expecting err, no callback, and an errmsg naming the message and the offset. */
static void feed_err(pgrepl_decoder *d, const char *hex, int err)
{
    clear_log();
    msg m = msg_of(hex);
    int rc = pgrepl_decoder_feed(d, NULL, m.b, m.len);
    ck_assert_msg(rc == err, "feeding %s: got %s, want %s (%s)", hex, pgrepl_err_name(rc), pgrepl_err_name(err),
                  pgrepl_decoder_errmsg(d));
    ck_assert_str_eq(R.log, "");
    ck_assert_int_eq(pgrepl_decoder_error_msgtype(d), (char)m.b[0]);
    ck_assert_ptr_nonnull(strstr(pgrepl_decoder_errmsg(d), pgrepl_message_type_name((char)m.b[0])));
    ck_assert_ptr_nonnull(strstr(pgrepl_decoder_errmsg(d), " at offset "));
    ck_assert_uint_lt(pgrepl_decoder_error_offset(d), m.len + 1);
}

/* ---- the table ------------------------------------------------------------ */

typedef struct dcase {
    const char *name;
    const char *setup[4];
    const char *hex;
    const char *expect; /* the one log line, without the XLogData suffix */
    int trailing_err;   /* error for one extra byte; 0 means PGREPL_ETRAILING */
    size_t valid_cut;   /* length of a shorter prefix that is itself a valid message, or 0 */
} dcase;

static const dcase cases[] = {
    {"begin", {NULL}, B_774, "begin final=0/1BE85C8 time=" TS_774 " xid=774", 0, 0},
    {"commit in transaction", {B_774}, C_774,
     "commit flags=0 lsn=0/1BE85C8 end=0/1BE85F8 time=" TS_774 " xid=774", 0, 0},
    {"commit without begin", {NULL}, C_774, "commit flags=0 lsn=0/1BE85C8 end=0/1BE85F8 time=" TS_774 " xid=0", 0, 0},
    {"origin", {B_774}, ORIGIN, "origin lsn=0/ABCDEF01 name=myorigin", 0, 0},
    {"type enum", {NULL}, Y_MOOD, "type 16386 public.mood xid=0", 0, 0},
    {"type domain", {NULL}, Y_POSINT, "type 16457 pg_catalog.int4 xid=0", 0, 0},
    {"relation with type", {Y_MOOD}, R_T, REL_T_MOOD, 0, 0},
    {"relation without type", {NULL}, R_T, REL_T_PLAIN, 0, 0},
    {"relation with domain", {Y_POSINT}, R_DOM, "relation 16896 public.dom d xid=0 p/16457/-1/1/pg_catalog.int4", 0, 0},
    {"relation catalog no columns", {NULL}, R_PG, "relation 16640 pg_catalog.pg n xid=0", 0, 0},
    {"relation typmods", {NULL}, R_TT, "relation 16421 public.tt d xid=0" TT_LINE_COLS, 0, 0},
    {"relation full", {NULL}, R_TF, "relation 16401 public.tf f xid=0 id/23/-1/1 v/25/-1/1", 0, 0},
    {"relation index", {NULL}, R_TK, "relation 16406 public.tk i xid=0 a/23/-1/1 b/23/-1/1 c/25/-1/0", 0, 0},
    {"insert text", {R_T}, I_T, "insert xid=0 public.t new=(t'1',t'alice',t'happy',n)", 0, 0},
    {"insert in transaction", {B_774, R_T}, I_T, "insert xid=774 public.t new=(t'1',t'alice',t'happy',n)", 0, 0},
    {"insert binary", {R_TT}, I_TT_BIN,
     "insert xid=0 public.tt new=(b'00000003',b'78797a',b'0002000000000002000309c4',n)", 0, 0},
    {"insert no columns", {R_PG}, "49 00004100 4e 0000", "insert xid=0 pg_catalog.pg new=()", 0, 0},
    {"update without old", {R_T}, U_NONE, "update xid=0 public.t new=(t'1',t'bob',t'happy',n)", 0, 0},
    {"update key changed", {B_774, R_T}, U_K,
     "update xid=774 public.t old=K(t'1',n,n,n) new=(t'2',t'alice',t'happy',n)", 0, 0},
    {"update full", {R_TF}, U_O, "update xid=0 public.tf old=O(t'1',t'x') new=(t'1',t'y')", 0, 0},
    {"update unchanged toast", {R_T}, U_TOAST, "update xid=0 public.t new=(t'3',t'big2',t'ok',u)", 0, 0},
    {"delete key", {R_TK}, D_K, "delete xid=0 public.tk old=K(t'1',t'2',n)", 0, 0},
    {"delete full", {R_TF}, D_O, "delete xid=0 public.tf old=O(t'1',t'y')", 0, 0},
    {"truncate one", {R_TF}, T_1, "truncate xid=0 opts=0 public.tf", 0, 0},
    {"truncate cascade restart", {B_774, R_TK, R_TF}, T_2, "truncate xid=774 opts=3 public.tk public.tf", 0, 0},
    {"message transactional", {B_774}, M_TX, "message xid=774 tx=1 lsn=0/1BED4F0 prefix=pfx content=hello", 0, 0},
    {"message non-transactional", {B_774}, M_NONTX, "message xid=0 tx=0 lsn=0/1BED560 prefix=pfx content=nontx", 0,
     0},
    {"message in stream", {S_797}, M_STREAM,
     "message xid=797 tx=1 lsn=0/1CB6BE0 prefix=sm content=in-stream streamed", 0, 0},
    {"stream start", {NULL}, S_797, "stream_start xid=797 first=1", 0, 0},
    {"stream start later block", {NULL}, S_797_NEXT, "stream_start xid=797 first=0", 0, 0},
    {"stream stop", {S_797}, E_STOP, "stream_stop xid=797", 0, 0},
    {"stream commit", {NULL}, C_797,
     "stream_commit flags=0 lsn=0/1CB6C28 end=0/1CB6C60 time=2026-11-21T13:57:19.486361Z xid=797", 0, 0},
    {"stream abort parallel", {NULL}, A_PARALLEL,
     "stream_abort xid=797 subxid=798 info=1 lsn=0/1C622C8 time=2026-11-21T13:57:19.473588Z", 0, 9},
    /* 10 bytes is a started, unfinished abort LSN: truncated, not trailing */
    {"stream abort", {NULL}, A_ON, "stream_abort xid=802 subxid=802 info=0 lsn=0/0 time=2000-01-01T00:00:00.000000Z",
     PGREPL_ETRUNCATED, 0},
    {"begin prepare", {NULL}, BP_806,
     "begin_prepare flags=0 lsn=0/1EE38B8 end=0/1EE39B0 time=" TS_806 " xid=806 gid=g1", 0, 0},
    {"prepare", {BP_806}, P_806, "prepare flags=0 lsn=0/1EE38B8 end=0/1EE39B0 time=" TS_806 " xid=806 gid=g1", 0, 0},
    {"commit prepared", {NULL}, K_806,
     "commit_prepared flags=0 lsn=0/1EE39B0 end=0/1EE39E8 time=2026-11-21T13:57:51.580500Z xid=806 gid=g1", 0, 0},
    {"rollback prepared", {NULL}, RB_807,
     "rollback_prepared flags=0 prepare_end=0/1EE3B68 rollback_end=0/1EE3BA0"
     " prepare_time=2026-11-21T13:57:51.581003Z rollback_time=2026-11-21T13:57:51.581245Z xid=807 gid=g2",
     0, 0},
    {"stream prepare", {NULL}, SP_808,
     "stream_prepare flags=0 lsn=0/1F495A0 end=0/1F49698 time=2026-11-21T13:57:51.593326Z xid=808 gid=g3", 0, 0},
    {"insert in prepared transaction", {BP_806, R_T}, I_T, "insert xid=806 public.t new=(t'1',t'alice',t'happy',n)",
     0, 0},
    {"relation in stream", {S_797}, R_TT_S, "relation 16421 public.tt d xid=797" TT_LINE_COLS, 0, 0},
    {"type in stream", {S_797}, Y_MOOD_S, "type 16386 public.mood xid=797", 0, 0},
    {"insert in stream", {S_797, R_TT_S}, "49 0000031d 00004025 4e 0004 74 00000001 35 6e 6e 6e",
     "insert xid=797 public.tt new=(t'5',n,n,n) streamed", 0, 0},
    {"insert in stream by subtransaction", {B_774, R_TT, S_797}, "49 0000031e 00004025 4e 0004 74 00000001 36 6e 6e 6e",
     "insert xid=798 public.tt new=(t'6',n,n,n) streamed", 0, 0},
    {"update in stream", {R_TF, S_797},
     "55 0000031d 00004011 4f 0002 74 00000001 31 74 00000001 78 4e 0002 74 00000001 31 74 00000001 79",
     "update xid=797 public.tf old=O(t'1',t'x') new=(t'1',t'y') streamed", 0, 0},
    {"delete in stream", {R_TK, S_797}, "44 0000031d 00004016 4b 0003 74 00000001 31 74 00000001 32 6e",
     "delete xid=797 public.tk old=K(t'1',t'2',n) streamed", 0, 0},
    {"truncate in stream", {R_TF, S_797}, "54 0000031e 00000001 01 00004011",
     "truncate xid=798 opts=1 public.tf streamed", 0, 0},
};

#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static pgrepl_decoder *setup_case(const dcase *c)
{
    pgrepl_decoder *d = new_decoder();
    for (int i = 0; i < 4 && c->setup[i] != NULL; i++)
        feed_ok(d, c->setup[i]);
    clear_log();
    return d;
}

/* Each row decodes to its line, and carries the XLogData header into the callback. */
START_TEST(decode_table)
{
    const dcase *c = &cases[_i];
    pgrepl_decoder *d = setup_case(c);
    msg m = msg_of(c->hex);
    pgrepl_wal wal = {.start = 0x10, .end = 0x20, .send_time = 48};
    ck_assert_int_eq(pgrepl_decoder_feed(d, &wal, m.b, m.len), 0);
    char want[2048];
    snprintf(want, sizeof want, "%s%s\n", c->expect, m.b[0] == 'R' ? "" : " @0/10,0/20,48");
    ck_assert_str_eq(R.log, want);
    ck_assert_str_eq(pgrepl_decoder_errmsg(d), "");
    pgrepl_decoder_free(d);
}
END_TEST

/* What a malformed message must not change: stream flag and cache entries. */
typedef struct snapshot {
    bool in_stream;
    const pgrepl_relation *rels[6];
    const pgrepl_msg_type *types[2];
} snapshot;

static snapshot take_snapshot(const pgrepl_decoder *d)
{
    static const uint32_t rel_oids[6] = {0x4009, 0x4011, 0x4016, 0x4025, 0x4100, 0x4200};
    snapshot s = {.in_stream = pgrepl_decoder_in_stream(d)};
    for (int i = 0; i < 6; i++)
        s.rels[i] = pgrepl_decoder_relation(d, rel_oids[i]);
    s.types[0] = pgrepl_decoder_type(d, 0x4002);
    s.types[1] = pgrepl_decoder_type(d, 0x4049);
    return s;
}

static void assert_same(const snapshot *a, const snapshot *b)
{
    ck_assert_int_eq(a->in_stream, b->in_stream);
    for (int i = 0; i < 6; i++)
        ck_assert_ptr_eq(a->rels[i], b->rels[i]);
    for (int i = 0; i < 2; i++)
        ck_assert_ptr_eq(a->types[i], b->types[i]);
}

/*
 * Cutting each row's message at every byte gives PGREPL_ETRUNCATED, no
 * callback and no state change; one extra byte gives PGREPL_ETRAILING; the
 * whole message afterwards still decodes to the expected line (so the
 * rejected pieces did not disturb the transaction or stream state).
 */
START_TEST(truncation_sweep)
{
    const dcase *c = &cases[_i];
    pgrepl_decoder *d = setup_case(c);
    msg m = msg_of(c->hex);
    snapshot before = take_snapshot(d);
    for (size_t cut = 0; cut < m.len; cut++) {
        clear_log();
        int rc = pgrepl_decoder_feed(d, NULL, m.b, cut);
        if (cut > 0 && cut == c->valid_cut) {
            ck_assert_int_eq(rc, 0);
            continue;
        }
        ck_assert_msg(rc == PGREPL_ETRUNCATED, "%s cut at %zu: %s (%s)", c->name, cut, pgrepl_err_name(rc),
                      pgrepl_decoder_errmsg(d));
        ck_assert_str_eq(R.log, "");
        ck_assert_ptr_nonnull(strstr(pgrepl_decoder_errmsg(d), " at offset "));
        ck_assert_uint_le(pgrepl_decoder_error_offset(d), cut);
        if (cut > 0) {
            ck_assert_int_eq(pgrepl_decoder_error_msgtype(d), (char)m.b[0]);
            ck_assert_ptr_nonnull(strstr(pgrepl_decoder_errmsg(d), pgrepl_message_type_name((char)m.b[0])));
        }
        snapshot after = take_snapshot(d);
        assert_same(&before, &after);
    }

    msg longer = m;
    msg_u8(&longer, 0);
    clear_log();
    int want = c->trailing_err != 0 ? c->trailing_err : PGREPL_ETRAILING;
    ck_assert_int_eq(pgrepl_decoder_feed(d, NULL, longer.b, longer.len), want);
    ck_assert_str_eq(R.log, "");
    if (want == PGREPL_ETRAILING)
        ck_assert_uint_eq(pgrepl_decoder_error_offset(d), m.len);
    snapshot after = take_snapshot(d);
    assert_same(&before, &after);

    clear_log();
    ck_assert_int_eq(pgrepl_decoder_feed(d, NULL, m.b, m.len), 0);
    char line[2048];
    snprintf(line, sizeof line, "%s\n", c->expect);
    ck_assert_str_eq(R.log, line);
    pgrepl_decoder_free(d);
}
END_TEST

/* With no callbacks at all every row still decodes and validates. */
START_TEST(no_callbacks)
{
    const dcase *c = &cases[_i];
    pgrepl_decoder *d = pgrepl_decoder_new(NULL, 0, NULL);
    ck_assert_ptr_nonnull(d);
    for (int i = 0; i < 4 && c->setup[i] != NULL; i++)
        ck_assert_int_eq(feed(d, c->setup[i]), 0);
    ck_assert_int_eq(feed(d, c->hex), 0);
    msg m = msg_of(c->hex);
    ck_assert_int_lt(pgrepl_decoder_feed(d, NULL, m.b, m.len - 1), 0);
    pgrepl_decoder_free(d);
}
END_TEST

/* ---- sequences: transaction and stream state ------------------------------ */

START_TEST(xid_tracking)
{
    pgrepl_decoder *d = new_decoder();
    feed_ok(d, R_T);
    clear_log();
    feed_ok(d, B_774);
    feed_ok(d, I_T);
    feed_ok(d, M_NONTX);
    feed_ok(d, C_774);
    feed_ok(d, I_T);
    feed_ok(d, C_774);
    feed_ok(d, BP_806);
    feed_ok(d, U_TOAST);
    feed_ok(d, P_806);
    feed_ok(d, U_TOAST);
    feed_ok(d, K_806);
    ck_assert_str_eq(R.log, "begin final=0/1BE85C8 time=" TS_774 " xid=774\n"
                            "insert xid=774 public.t new=(t'1',t'alice',t'happy',n)\n"
                            "message xid=0 tx=0 lsn=0/1BED560 prefix=pfx content=nontx\n"
                            "commit flags=0 lsn=0/1BE85C8 end=0/1BE85F8 time=" TS_774 " xid=774\n"
                            "insert xid=0 public.t new=(t'1',t'alice',t'happy',n)\n"
                            "commit flags=0 lsn=0/1BE85C8 end=0/1BE85F8 time=" TS_774 " xid=0\n"
                            "begin_prepare flags=0 lsn=0/1EE38B8 end=0/1EE39B0 time=" TS_806 " xid=806 gid=g1\n"
                            "update xid=806 public.t new=(t'3',t'big2',t'ok',u)\n"
                            "prepare flags=0 lsn=0/1EE38B8 end=0/1EE39B0 time=" TS_806 " xid=806 gid=g1\n"
                            "update xid=0 public.t new=(t'3',t'big2',t'ok',u)\n"
                            "commit_prepared flags=0 lsn=0/1EE39B0 end=0/1EE39E8 time=2026-11-21T13:57:51.580500Z"
                            " xid=806 gid=g1\n");
    pgrepl_decoder_free(d);
}
END_TEST

/* Ordinary transactions and non-transactional messages between the blocks of a stream. */
START_TEST(stream_interleaving)
{
    pgrepl_decoder *d = new_decoder();
    feed_ok(d, S_797);
    ck_assert(pgrepl_decoder_in_stream(d));
    feed_ok(d, R_TT_S);
    feed_ok(d, "49 0000031d 00004025 4e 0004 74 00000001 35 6e 6e 6e");
    feed_ok(d, E_STOP);
    ck_assert(!pgrepl_decoder_in_stream(d));
    feed_ok(d, M_NONTX);
    feed_ok(d, B_774);
    feed_ok(d, "49 00004025 4e 0004 74 00000001 37 6e 6e 6e");
    feed_ok(d, C_774);
    feed_ok(d, S_797_NEXT);
    feed_ok(d, "49 0000031e 00004025 4e 0004 74 00000001 38 6e 6e 6e");
    feed_ok(d, E_STOP);
    feed_ok(d, C_797);
    ck_assert_str_eq(R.log, "stream_start xid=797 first=1\n"
                            "relation 16421 public.tt d xid=797" TT_LINE_COLS "\n"
                            "insert xid=797 public.tt new=(t'5',n,n,n) streamed\n"
                            "stream_stop xid=797\n"
                            "message xid=0 tx=0 lsn=0/1BED560 prefix=pfx content=nontx\n"
                            "begin final=0/1BE85C8 time=" TS_774 " xid=774\n"
                            "insert xid=774 public.tt new=(t'7',n,n,n)\n"
                            "commit flags=0 lsn=0/1BE85C8 end=0/1BE85F8 time=" TS_774 " xid=774\n"
                            "stream_start xid=797 first=0\n"
                            "insert xid=798 public.tt new=(t'8',n,n,n) streamed\n"
                            "stream_stop xid=797\n"
                            "stream_commit flags=0 lsn=0/1CB6C28 end=0/1CB6C60 time=2026-11-21T13:57:19.486361Z"
                            " xid=797\n");
    pgrepl_decoder_free(d);
}
END_TEST

START_TEST(stream_state_errors)
{
    pgrepl_decoder *d = new_decoder();
    feed_err(d, E_STOP, PGREPL_EPROTOCOL);
    ck_assert(!pgrepl_decoder_in_stream(d));
    feed_ok(d, S_797);
    feed_err(d, "53 00000400 01", PGREPL_EPROTOCOL);
    ck_assert_str_eq(pgrepl_decoder_errmsg(d),
                     "Stream Start ('S') message: not allowed inside the Stream Start block of xid 797 at offset 0");
    feed_err(d, C_797, PGREPL_EPROTOCOL);
    feed_err(d, A_ON, PGREPL_EPROTOCOL);
    feed_err(d, SP_808, PGREPL_EPROTOCOL);
    ck_assert(pgrepl_decoder_in_stream(d));
    /* the block is still the one of xid 797 */
    clear_log();
    feed_ok(d, E_STOP);
    ck_assert_str_eq(R.log, "stream_stop xid=797\n");
    feed_err(d, E_STOP, PGREPL_EPROTOCOL);
    ck_assert_str_eq(pgrepl_decoder_errmsg(d),
                     "Stream Stop ('E') message: Stream Stop without Stream Start at offset 0");
    /* Stream Abort is 9 or 25 bytes */
    feed_err(d, "41 00000322 00000322 00000000", PGREPL_ETRUNCATED);
    feed_err(d, A_PARALLEL " 00", PGREPL_ETRAILING);
    pgrepl_decoder_free(d);
}
END_TEST

/* ---- malformed messages ---------------------------------------------------- */

START_TEST(malformed)
{
    pgrepl_decoder *d = new_decoder();
    feed_ok(d, Y_MOOD);
    feed_ok(d, R_T);
    feed_ok(d, R_TF);
    feed_ok(d, R_TK);
    snapshot before = take_snapshot(d);

    feed_err(d, "5a 00", PGREPL_EUNKNOWNMSG);
    ck_assert_str_eq(pgrepl_decoder_errmsg(d), "unknown ('Z') message: unknown message type at offset 0");
    feed_err(d, "01", PGREPL_EUNKNOWNMSG);
    ck_assert_str_eq(pgrepl_decoder_errmsg(d), "unknown (0x01) message: unknown message type at offset 0");

    feed_err(d, "49 00004009 4e 0004 78 00000001 31 6e 6e 6e", PGREPL_ETUPLEKIND);
    ck_assert_str_eq(pgrepl_decoder_errmsg(d), "Insert ('I') message: bad kind 0x78 of column 1 at offset 8");
    feed_err(d, "55 00004009 4b 0004 74 00000001 31 6e 00 6e 4e 0004 6e 6e 6e 6e", PGREPL_ETUPLEKIND);
    ck_assert_uint_eq(pgrepl_decoder_error_offset(d), 15);

    feed_err(d, "49 00004009 4e 0003 6e 6e 6e", PGREPL_ECOLUMNS);
    ck_assert_str_eq(pgrepl_decoder_errmsg(d), "Insert ('I') message: tuple column count 3 differs from relation"
                                               " public.t (4 columns) at offset 6");
    feed_err(d, "49 00004009 4e 0005 6e 6e 6e 6e 6e", PGREPL_ECOLUMNS);
    feed_err(d, "44 00004011 4f 0001 6e", PGREPL_ECOLUMNS);

    feed_err(d, "49 00009999 4e 0000", PGREPL_ERELATION);
    ck_assert_str_eq(pgrepl_decoder_errmsg(d),
                     "Insert ('I') message: no Relation message was received for OID 39321 at offset 1");
    feed_err(d, "55 00009999 4e 0000", PGREPL_ERELATION);
    feed_err(d, "44 00009999 4b 0000", PGREPL_ERELATION);
    feed_err(d, "54 00000002 00 00004011 00009999", PGREPL_ERELATION);
    ck_assert_uint_eq(pgrepl_decoder_error_offset(d), 10);

    feed_err(d, "49 00004009 4e 0004 74 ffffffff 6e 6e 6e", PGREPL_ELENGTH);
    ck_assert_uint_eq(pgrepl_decoder_error_offset(d), 9);
    feed_err(d, "49 00004009 4e 0004 6e 62 80000000 6e 6e", PGREPL_ELENGTH);
    feed_err(d, "49 00004009 4e ffff", PGREPL_ELENGTH);
    feed_err(d, "4d 00 0000000001bed560 70667800 ffffffff", PGREPL_ELENGTH);
    ck_assert_str_eq(pgrepl_decoder_errmsg(d), "Message ('M') message: negative content length -1 at offset 14");
    feed_err(d, "52 00004009 7075626c696300 7400 64 ffff", PGREPL_ELENGTH);
    feed_err(d, "54 ffffffff 00", PGREPL_ELENGTH);

    /* counts larger than the bytes present: rejected before anything is sized by them */
    feed_err(d, "54 7fffffff 00 00004011", PGREPL_ETRUNCATED);
    feed_err(d, "52 00004009 7075626c696300 7400 64 7fff 01 696400 00000017 ffffffff", PGREPL_ETRUNCATED);
    feed_err(d, "49 00004009 4e 0004 74 7fffffff 31", PGREPL_ETRUNCATED);
    feed_err(d, "4d 00 0000000001bed560 70667800 7fffffff 00", PGREPL_ETRUNCATED);

    /* old-tuple and new-tuple markers */
    feed_err(d, "55 00004009 58 0004 6e 6e 6e 6e", PGREPL_EPROTOCOL);
    ck_assert_uint_eq(pgrepl_decoder_error_offset(d), 5);
    feed_err(d, "55 00004009 4b 0004 6e 6e 6e 6e 4b 0004 6e 6e 6e 6e", PGREPL_EPROTOCOL);
    ck_assert_uint_eq(pgrepl_decoder_error_offset(d), 12);
    feed_err(d, "55 00004009 00 0004 6e 6e 6e 6e", PGREPL_EPROTOCOL);
    feed_err(d, "49 00004009 4b 0004 6e 6e 6e 6e", PGREPL_EPROTOCOL);
    feed_err(d, "44 00004011 4e 0002 6e 6e", PGREPL_EPROTOCOL);
    feed_err(d, "52 00004009 7075626c696300 7400 78 0000", PGREPL_EPROTOCOL);

    snapshot after = take_snapshot(d);
    assert_same(&before, &after);
    pgrepl_decoder_free(d);
}
END_TEST

START_TEST(bad_arguments)
{
    pgrepl_decoder *d = new_decoder();
    ck_assert_int_eq(pgrepl_decoder_feed(NULL, NULL, "B", 1), PGREPL_EINVAL);
    ck_assert_int_eq(pgrepl_decoder_feed(d, NULL, NULL, 1), PGREPL_EINVAL);
    ck_assert_int_eq(pgrepl_decoder_feed(d, NULL, NULL, 0), PGREPL_ETRUNCATED);
    ck_assert_str_eq(pgrepl_decoder_errmsg(d), "empty payload: message truncated at offset 0");
    ck_assert_int_eq(pgrepl_decoder_error_msgtype(d), 0);
    ck_assert_int_eq(pgrepl_decoder_feed(d, NULL, "", 0), PGREPL_ETRUNCATED);
    ck_assert_str_eq(R.log, "");
    /* a success clears the last error */
    feed_ok(d, B_774);
    ck_assert_uint_eq(pgrepl_decoder_error_offset(d), 0);
    ck_assert_int_eq(pgrepl_decoder_error_msgtype(d), 0);

    ck_assert_str_eq(pgrepl_decoder_errmsg(NULL), "");
    ck_assert_ptr_null(pgrepl_decoder_relation(NULL, 1));
    ck_assert_ptr_null(pgrepl_decoder_type(NULL, 1));
    ck_assert(!pgrepl_decoder_in_stream(NULL));
    pgrepl_decoder_reset(NULL);
    pgrepl_decoder_free(NULL);
    pgrepl_decoder_free(d);
}
END_TEST

/* ---- callbacks ---------------------------------------------------------------- */

START_TEST(pause_and_callback_errors)
{
    pgrepl_decoder *d = new_decoder();
    feed_ok(d, R_T);
    R.ret = PGREPL_PAUSE;
    ck_assert_int_eq(feed(d, S_797), PGREPL_PAUSE);
    ck_assert(pgrepl_decoder_in_stream(d));
    ck_assert_str_eq(pgrepl_decoder_errmsg(d), "");

    const int failures[] = {-1, 2, PGREPL_ECALLBACK, PGREPL_ETRUNCATED};
    for (size_t i = 0; i < sizeof failures / sizeof failures[0]; i++) {
        R.ret = failures[i];
        clear_log();
        ck_assert_int_eq(feed(d, "49 0000031d 00004009 4e 0004 6e 6e 6e 6e"), PGREPL_ECALLBACK);
        ck_assert_str_eq(R.log, "insert xid=797 public.t new=(n,n,n,n) streamed\n");
        char want[128];
        snprintf(want, sizeof want, "Insert ('I') message: callback on_insert returned %d at offset 16", failures[i]);
        ck_assert_str_eq(pgrepl_decoder_errmsg(d), want);
    }
    /* the decoder stays usable */
    R.ret = 0;
    feed_ok(d, E_STOP);
    R.ret = 5;
    ck_assert_int_eq(feed(d, C_774), PGREPL_ECALLBACK);
    ck_assert_ptr_nonnull(strstr(pgrepl_decoder_errmsg(d), "on_commit"));
    pgrepl_decoder_free(d);
}
END_TEST

START_TEST(reentrant_feed)
{
    pgrepl_decoder *d = new_decoder();
    R.reenter = true;
    R.inner_rc = 42;
    feed_ok(d, S_797);
    ck_assert_int_eq(R.inner_rc, PGREPL_EINVAL);
    /* the inner call did not run: the stream is still open */
    ck_assert(pgrepl_decoder_in_stream(d));
    R.reenter = false;
    clear_log();
    feed_ok(d, E_STOP);
    ck_assert_str_eq(R.log, "stream_stop xid=797\n");
    pgrepl_decoder_free(d);
}
END_TEST

START_TEST(callbacks_size)
{
    ck_assert_ptr_null(pgrepl_decoder_new(&CBS, sizeof CBS + 1, &R));
    memset(&R, 0, sizeof R);
    /* an application compiled against an older, shorter struct: later members are not read */
    pgrepl_decoder *d = pgrepl_decoder_new(&CBS, offsetof(pgrepl_decoder_callbacks, on_commit), &R);
    ck_assert_ptr_nonnull(d);
    R.dec = d;
    feed_ok(d, B_774);
    feed_ok(d, C_774);
    ck_assert_str_eq(R.log, "begin final=0/1BE85C8 time=" TS_774 " xid=774\n");
    pgrepl_decoder_free(d);
    /* the struct is copied: changing the caller's copy later has no effect */
    pgrepl_decoder_callbacks cbs = CBS;
    memset(&R, 0, sizeof R);
    d = pgrepl_decoder_new(&cbs, sizeof cbs, &R);
    R.dec = d;
    cbs.on_begin = NULL;
    feed_ok(d, B_774);
    ck_assert_str_eq(R.log, "begin final=0/1BE85C8 time=" TS_774 " xid=774\n");
    pgrepl_decoder_free(d);
}
END_TEST

/* ---- caches ---------------------------------------------------------------------- */

START_TEST(relation_replacement)
{
    pgrepl_decoder *d = new_decoder();
    feed_ok(d, Y_MOOD);
    feed_ok(d, R_T);
    const pgrepl_relation *first = pgrepl_decoder_relation(d, 0x4009);
    ck_assert_ptr_nonnull(first);
    ck_assert_str_eq(first->columns[2].type_name, "mood");

    /* a Relation that fails validation leaves the entry alone */
    feed_err(d, "52 00004009 7075626c696300 743200 64 0002 01 696400 00000017 ffffffff 00 6200", PGREPL_ETRUNCATED);
    feed_err(d, "52 00004009 7075626c696300 743200 64 0001 01 696400 00000017 ffffffff 00", PGREPL_ETRAILING);
    feed_err(d, "52 00004009 7075626c696300 743200 3f 0000", PGREPL_EPROTOCOL);
    ck_assert_ptr_eq(pgrepl_decoder_relation(d, 0x4009), first);
    ck_assert_str_eq(first->name, "t");

    /* renamed and narrowed: same OID, new entry */
    clear_log();
    feed_ok(d, "52 00004009 6e657700 743200 66 0002 01 696400 00000017 ffffffff 01 6d00 00004002 ffffffff");
    ck_assert_str_eq(R.log, "relation 16393 new.t2 f xid=0 id/23/-1/1 m/16386/-1/1/public.mood\n");
    const pgrepl_relation *second = pgrepl_decoder_relation(d, 0x4009);
    ck_assert_str_eq(second->schema, "new");
    ck_assert_str_eq(second->name, "t2");
    ck_assert_int_eq(second->ncolumns, 2);
    feed_err(d, I_T, PGREPL_ECOLUMNS);
    clear_log();
    feed_ok(d, "49 00004009 4e 0002 74 00000001 39 75");
    ck_assert_str_eq(R.log, "insert xid=0 new.t2 new=(t'9',u)\n");

    /* a later Type does not touch cached relations; the next Relation picks it up */
    feed_ok(d, "59 00004002 00 746578743200");
    ck_assert_str_eq(pgrepl_decoder_type(d, 0x4002)->schema, "pg_catalog");
    ck_assert_str_eq(pgrepl_decoder_relation(d, 0x4009)->columns[1].type_name, "mood");
    feed_ok(d, R_T);
    ck_assert_str_eq(pgrepl_decoder_relation(d, 0x4009)->columns[2].type_name, "text2");
    ck_assert_str_eq(pgrepl_decoder_relation(d, 0x4009)->columns[2].type_schema, "pg_catalog");
    ck_assert_ptr_null(pgrepl_decoder_relation(d, 0x4009)->columns[0].type_name);
    pgrepl_decoder_free(d);
}
END_TEST

START_TEST(many_relations)
{
    pgrepl_decoder *d = new_decoder();
    for (uint32_t oid = 1; oid <= 300; oid++) {
        msg m = {.len = 0};
        msg_hex(&m, "52");
        msg_u32(&m, oid * 7919);
        char name[16];
        snprintf(name, sizeof name, "r%u", oid);
        msg_str(&m, "s");
        msg_str(&m, name);
        msg_hex(&m, "64");
        msg_u16(&m, (uint16_t)(oid % 5));
        for (uint32_t i = 0; i < oid % 5; i++)
            msg_hex(&m, "00 6300 00000017 ffffffff");
        ck_assert_int_eq(pgrepl_decoder_feed(d, NULL, m.b, m.len), 0);
    }
    for (uint32_t oid = 1; oid <= 300; oid++) {
        const pgrepl_relation *r = pgrepl_decoder_relation(d, oid * 7919);
        ck_assert_ptr_nonnull(r);
        char name[16];
        snprintf(name, sizeof name, "r%u", oid);
        ck_assert_str_eq(r->name, name);
        ck_assert_int_eq(r->ncolumns, (int)(oid % 5));
        ck_assert_ptr_null(pgrepl_decoder_relation(d, oid * 7919 + 1));
    }
    pgrepl_decoder_free(d);
}
END_TEST

START_TEST(reset)
{
    pgrepl_decoder *d = new_decoder();
    feed_ok(d, Y_MOOD);
    feed_ok(d, R_T);
    feed_ok(d, B_774);
    feed_ok(d, S_797);
    feed_err(d, "01", PGREPL_EUNKNOWNMSG);
    pgrepl_decoder_reset(d);
    ck_assert_str_eq(pgrepl_decoder_errmsg(d), "");
    ck_assert_ptr_null(pgrepl_decoder_relation(d, 0x4009));
    ck_assert_ptr_null(pgrepl_decoder_type(d, 0x4002));
    ck_assert(!pgrepl_decoder_in_stream(d));
    feed_err(d, I_T, PGREPL_ERELATION);
    clear_log();
    feed_ok(d, C_774);
    ck_assert_str_eq(R.log, "commit flags=0 lsn=0/1BE85C8 end=0/1BE85F8 time=" TS_774 " xid=0\n");
    /* and it fills again */
    feed_ok(d, R_T);
    clear_log();
    feed_ok(d, I_T);
    ck_assert_str_eq(R.log, "insert xid=0 public.t new=(t'1',t'alice',t'happy',n)\n");
    pgrepl_decoder_free(d);
}
END_TEST

/* ---- allocation discipline ------------------------------------------------------- */

static long allocations;

static void *count_malloc(size_t n)
{
    allocations++;
    return malloc(n);
}

static void *count_realloc(void *p, size_t n)
{
    allocations++;
    return realloc(p, n);
}

static const pgrepl_allocator counting = {count_malloc, count_realloc, free};

START_TEST(changes_do_not_allocate)
{
    pgrepl_set_allocator(&counting);
    pgrepl_decoder *d = new_decoder();
    feed_ok(d, Y_MOOD);
    feed_ok(d, R_T);
    feed_ok(d, R_TF);
    feed_ok(d, R_TK);
    feed_ok(d, R_PG);
    feed_ok(d, T_2);
    long before = allocations;
    for (int i = 0; i < 100; i++) {
        clear_log();
        feed_ok(d, B_774);
        feed_ok(d, I_T);
        feed_ok(d, U_NONE);
        feed_ok(d, U_K);
        feed_ok(d, U_O);
        feed_ok(d, U_TOAST);
        feed_ok(d, D_K);
        feed_ok(d, D_O);
        feed_ok(d, T_1);
        feed_ok(d, T_2);
        feed_ok(d, M_TX);
        feed_ok(d, C_774);
    }
    /* nor do rejected messages, whatever their counts claim */
    feed_err(d, "54 7fffffff 00 00004011", PGREPL_ETRUNCATED);
    feed_err(d, "52 00004009 7075626c696300 7400 64 7fff 01 696400 00000017 ffffffff", PGREPL_ETRUNCATED);
    feed_err(d, "49 00004009 4e 7fff 6e", PGREPL_ECOLUMNS);
    ck_assert_int_eq(allocations, before);
    pgrepl_decoder_free(d);
    pgrepl_set_allocator(NULL);
}
END_TEST

static Suite *decode_suite(void)
{
    Suite *s = suite_create("decode");
    TCase *tc = tcase_create("table");
    tcase_add_loop_test(tc, decode_table, 0, NCASES);
    tcase_add_loop_test(tc, truncation_sweep, 0, NCASES);
    tcase_add_loop_test(tc, no_callbacks, 0, NCASES);
    suite_add_tcase(s, tc);
    tc = tcase_create("state");
    tcase_add_test(tc, xid_tracking);
    tcase_add_test(tc, stream_interleaving);
    tcase_add_test(tc, stream_state_errors);
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, pause_and_callback_errors);
    tcase_add_test(tc, reentrant_feed);
    tcase_add_test(tc, callbacks_size);
    tcase_add_test(tc, relation_replacement);
    tcase_add_test(tc, many_relations);
    tcase_add_test(tc, reset);
    tcase_add_test(tc, changes_do_not_allocate);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgrepl_test_run_suite(decode_suite());
}
