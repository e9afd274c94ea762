/* Canonical text log of decoder callbacks; format in declog.h. */
#include "declog.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Plain realloc, not the library allocator: tests that make the library's
 * allocations fail must still be able to log.
 */
static void reserve(declog *log, size_t more)
{
    if (log->len + more + 1 <= log->cap)
        return;
    size_t cap = log->cap ? log->cap : 1024;
    while (cap < log->len + more + 1)
        cap *= 2;
    char *p = realloc(log->text, cap);
    if (p == NULL)
        abort();
    log->text = p;
    log->cap = cap;
}

static void put(declog *log, const char *s, size_t n)
{
    reserve(log, n);
    memcpy(log->text + log->len, s, n);
    log->len += n;
    log->text[log->len] = '\0';
}

static void puts_(declog *log, const char *s)
{
    put(log, s, strlen(s));
}

__attribute__((format(printf, 2, 0))) static void vputf(declog *log, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    char small[128];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0)
        abort();
    if ((size_t)n < sizeof small) {
        put(log, small, (size_t)n);
    } else {
        reserve(log, (size_t)n);
        vsnprintf(log->text + log->len, (size_t)n + 1, fmt, again);
        log->len += (size_t)n;
    }
    va_end(again);
}

__attribute__((format(printf, 2, 3))) static void putf(declog *log, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vputf(log, fmt, ap);
    va_end(ap);
}

void declog_init(declog *log)
{
    memset(log, 0, sizeof *log);
}

void declog_free(declog *log)
{
    free(log->text);
    declog_init(log);
}

void declog_printf(declog *log, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vputf(log, fmt, ap);
    va_end(ap);
    puts_(log, "\n");
}

static void put_lsn(declog *log, const char *field, pgrepl_lsn lsn)
{
    char buf[PGREPL_LSN_BUFSIZE];
    pgrepl_lsn_format(lsn, buf);
    putf(log, " %s=%s", field, buf);
}

static void put_time(declog *log, const char *field, pgrepl_timestamp ts)
{
    char buf[PGREPL_TIMESTAMP_BUFSIZE];
    pgrepl_timestamp_format(ts, buf);
    putf(log, " %s=%s", field, buf);
}

/* Bytes escaped as declog.h describes; also_space escapes ' ' too (for unquoted names). */
static void put_escaped(declog *log, const uint8_t *s, size_t n, bool also_space)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        switch (c) {
        case '\\': puts_(log, "\\\\"); break;
        case '"': puts_(log, "\\\""); break;
        case '\n': puts_(log, "\\n"); break;
        case '\t': puts_(log, "\\t"); break;
        case '\r': puts_(log, "\\r"); break;
        default:
            if (c < 0x20 || c > 0x7e || (also_space && c == ' '))
                putf(log, "\\x%02x", c);
            else
                put(log, (const char *)&c, 1);
        }
    }
}

static void put_quoted(declog *log, const uint8_t *s, size_t n)
{
    puts_(log, "\"");
    put_escaped(log, s, n, false);
    puts_(log, "\"");
}

static void put_str(declog *log, const char *field, const char *s)
{
    putf(log, " %s=", field);
    if (s == NULL)
        puts_(log, "-");
    else
        put_quoted(log, (const uint8_t *)s, strlen(s));
}

static void put_name(declog *log, const char *schema, const char *name)
{
    put_escaped(log, (const uint8_t *)schema, strlen(schema), true);
    puts_(log, ".");
    put_escaped(log, (const uint8_t *)name, strlen(name), true);
}

static void put_rel(declog *log, const pgrepl_relation *rel)
{
    puts_(log, " rel=");
    put_name(log, rel->schema, rel->name);
}

static void put_hex(declog *log, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        putf(log, "%02x", p[i]);
}

/* "<type> start=X/X end=X/X sent=TIME" */
static void put_head(declog *log, char type, const pgrepl_wal *wal)
{
    put(log, &type, 1);
    put_lsn(log, "start", wal->start);
    put_lsn(log, "end", wal->end);
    put_time(log, "sent", wal->send_time);
}

static void put_value(declog *log, const pgrepl_value *v)
{
    switch (v->kind) {
    case PGREPL_VALUE_TEXT:
        puts_(log, "t");
        put_quoted(log, v->data, v->len);
        break;
    case PGREPL_VALUE_BINARY:
        puts_(log, "b:");
        put_hex(log, v->data, v->len);
        break;
    default:
        /* 'n' and 'u' carry no data. */
        put(log, &v->kind, 1);
    }
}

static void put_tuple(declog *log, const char *field, char kind, const pgrepl_tuple *t)
{
    putf(log, " %s=", field);
    if (t == NULL) {
        puts_(log, "-");
        return;
    }
    if (kind != 0)
        put(log, &kind, 1);
    puts_(log, "[");
    for (int i = 0; i < t->ncolumns; i++) {
        if (i > 0)
            puts_(log, " ");
        put_value(log, &t->values[i]);
    }
    puts_(log, "]");
}

static int end_line(declog *log)
{
    puts_(log, "\n");
    return 0;
}

void declog_keepalive(declog *log, const pgrepl_copydata *cd)
{
    puts_(log, "k");
    put_lsn(log, "wal_end", cd->wal_end);
    put_time(log, "sent", cd->send_time);
    putf(log, " reply=%d", cd->reply_requested ? 1 : 0);
    end_line(log);
}

static int on_begin(void *ud, const pgrepl_msg_begin *m)
{
    declog *log = ud;
    put_head(log, 'B', &m->wal);
    put_lsn(log, "final_lsn", m->final_lsn);
    put_time(log, "commit_time", m->commit_time);
    putf(log, " xid=%u", m->xid);
    return end_line(log);
}

static void put_commit(declog *log, char type, const pgrepl_msg_commit *m)
{
    put_head(log, type, &m->wal);
    putf(log, " flags=%u", m->flags);
    put_lsn(log, "commit_lsn", m->commit_lsn);
    put_lsn(log, "end_lsn", m->end_lsn);
    put_time(log, "commit_time", m->commit_time);
    putf(log, " xid=%u", m->xid);
}

static int on_commit(void *ud, const pgrepl_msg_commit *m)
{
    put_commit(ud, 'C', m);
    return end_line(ud);
}

static int on_stream_commit(void *ud, const pgrepl_msg_commit *m)
{
    put_commit(ud, 'c', m);
    return end_line(ud);
}

static int on_origin(void *ud, const pgrepl_msg_origin *m)
{
    declog *log = ud;
    put_head(log, 'O', &m->wal);
    put_lsn(log, "origin_lsn", m->origin_lsn);
    put_str(log, "name", m->name);
    return end_line(log);
}

static void put_column(declog *log, const pgrepl_column *c)
{
    puts_(log, "{");
    put_quoted(log, (const uint8_t *)c->name, strlen(c->name));
    putf(log, " oid=%u typmod=%d flags=%u type=", c->type_oid, c->typmod, c->flags);
    if (c->type_schema == NULL || c->type_name == NULL)
        puts_(log, "-");
    else
        put_name(log, c->type_schema, c->type_name);
    puts_(log, "}");
}

static int on_relation(void *ud, const pgrepl_relation *rel)
{
    declog *log = ud;
    putf(log, "R xid=%u oid=%u", rel->xid, rel->oid);
    put_str(log, "schema", rel->schema);
    put_str(log, "name", rel->name);
    putf(log, " identity=%c ncolumns=%d columns=[", rel->replica_identity, rel->ncolumns);
    for (int i = 0; i < rel->ncolumns; i++) {
        if (i > 0)
            puts_(log, " ");
        put_column(log, &rel->columns[i]);
    }
    puts_(log, "]");
    return end_line(log);
}

static int on_type(void *ud, const pgrepl_msg_type *m)
{
    declog *log = ud;
    put_head(log, 'Y', &m->wal);
    putf(log, " xid=%u oid=%u", m->xid, m->oid);
    put_str(log, "schema", m->schema);
    put_str(log, "name", m->name);
    return end_line(log);
}

static int put_change(declog *log, char type, const pgrepl_msg_change *m)
{
    put_head(log, type, &m->wal);
    putf(log, " xid=%u streamed=%d", m->xid, m->streamed ? 1 : 0);
    put_rel(log, m->rel);
    put_tuple(log, "old", m->old_kind, m->old_tuple);
    put_tuple(log, "new", 0, m->new_tuple);
    return end_line(log);
}

static int on_insert(void *ud, const pgrepl_msg_change *m)
{
    return put_change(ud, 'I', m);
}

static int on_update(void *ud, const pgrepl_msg_change *m)
{
    return put_change(ud, 'U', m);
}

static int on_delete(void *ud, const pgrepl_msg_change *m)
{
    return put_change(ud, 'D', m);
}

static int on_truncate(void *ud, const pgrepl_msg_truncate *m)
{
    declog *log = ud;
    put_head(log, 'T', &m->wal);
    putf(log, " xid=%u streamed=%d options=%u nrelations=%d relations=[", m->xid, m->streamed ? 1 : 0, m->options,
         m->nrelations);
    for (int i = 0; i < m->nrelations; i++) {
        if (i > 0)
            puts_(log, " ");
        put_name(log, m->relations[i]->schema, m->relations[i]->name);
    }
    puts_(log, "]");
    return end_line(log);
}

static int on_message(void *ud, const pgrepl_msg_logical *m)
{
    declog *log = ud;
    put_head(log, 'M', &m->wal);
    putf(log, " xid=%u streamed=%d transactional=%d", m->xid, m->streamed ? 1 : 0, m->transactional ? 1 : 0);
    put_lsn(log, "lsn", m->lsn);
    put_str(log, "prefix", m->prefix);
    putf(log, " content_len=%u content=", m->content_len);
    put_quoted(log, m->content, m->content_len);
    return end_line(log);
}

static int on_stream_start(void *ud, const pgrepl_msg_stream_start *m)
{
    declog *log = ud;
    put_head(log, 'S', &m->wal);
    putf(log, " xid=%u first_segment=%d", m->xid, m->first_segment ? 1 : 0);
    return end_line(log);
}

static int on_stream_stop(void *ud, const pgrepl_msg_stream_stop *m)
{
    declog *log = ud;
    put_head(log, 'E', &m->wal);
    putf(log, " xid=%u", m->xid);
    return end_line(log);
}

static int on_stream_abort(void *ud, const pgrepl_msg_stream_abort *m)
{
    declog *log = ud;
    put_head(log, 'A', &m->wal);
    putf(log, " xid=%u subxid=%u has_abort_info=%d", m->xid, m->subxid, m->has_abort_info ? 1 : 0);
    put_lsn(log, "abort_lsn", m->abort_lsn);
    put_time(log, "abort_time", m->abort_time);
    return end_line(log);
}

static int put_prepare(declog *log, char type, const pgrepl_msg_prepare *m)
{
    put_head(log, type, &m->wal);
    putf(log, " flags=%u", m->flags);
    put_lsn(log, "prepare_lsn", m->prepare_lsn);
    put_lsn(log, "end_lsn", m->end_lsn);
    put_time(log, "prepare_time", m->prepare_time);
    putf(log, " xid=%u", m->xid);
    put_str(log, "gid", m->gid);
    return end_line(log);
}

static int on_begin_prepare(void *ud, const pgrepl_msg_prepare *m)
{
    return put_prepare(ud, 'b', m);
}

static int on_prepare(void *ud, const pgrepl_msg_prepare *m)
{
    return put_prepare(ud, 'P', m);
}

static int on_stream_prepare(void *ud, const pgrepl_msg_prepare *m)
{
    return put_prepare(ud, 'p', m);
}

static int on_commit_prepared(void *ud, const pgrepl_msg_commit_prepared *m)
{
    declog *log = ud;
    put_head(log, 'K', &m->wal);
    putf(log, " flags=%u", m->flags);
    put_lsn(log, "commit_lsn", m->commit_lsn);
    put_lsn(log, "end_lsn", m->end_lsn);
    put_time(log, "commit_time", m->commit_time);
    putf(log, " xid=%u", m->xid);
    put_str(log, "gid", m->gid);
    return end_line(log);
}

static int on_rollback_prepared(void *ud, const pgrepl_msg_rollback_prepared *m)
{
    declog *log = ud;
    put_head(log, 'r', &m->wal);
    putf(log, " flags=%u", m->flags);
    put_lsn(log, "prepare_end_lsn", m->prepare_end_lsn);
    put_lsn(log, "rollback_end_lsn", m->rollback_end_lsn);
    put_time(log, "prepare_time", m->prepare_time);
    put_time(log, "rollback_time", m->rollback_time);
    putf(log, " xid=%u", m->xid);
    put_str(log, "gid", m->gid);
    return end_line(log);
}

/* Every member is set from the list: a callback the decoder gains fails to compile here until it is logged. */
#define SET_(byte, fn, T) .fn = fn,
const pgrepl_decoder_callbacks declog_callbacks = {PGREPL_DECODER_CALLBACKS(SET_)};
#undef SET_
