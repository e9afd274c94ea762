/*
 * The JSON rendering of pgrepl-slots: one object on one line,
 *
 *   {"server_version":..., "capacity":{...}, "slots":[...],
 *    "verdict":{"status":"ok|warning|critical", "exit_code":N, "reasons":[...], "notes":[...]}}
 *
 * A slot field the server's major does not have is left out; a field it has
 * but that is NULL is null. Strings are escaped per RFC 8259; the connection
 * asks for UTF-8, so bytes above 0x7F are already valid UTF-8.
 */
#include <inttypes.h>

#include "slots.h"

typedef struct writer {
    FILE *out;
    bool first; /* no member yet in the innermost object or array */
} writer;

static void put_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        default:
            if (*p < 0x20)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

/* The separator and, inside an object, the key of the next member. */
static void next(writer *w, const char *key)
{
    if (!w->first)
        fputc(',', w->out);
    w->first = false;
    if (key != NULL) {
        put_string(w->out, key);
        fputc(':', w->out);
    }
}

static void begin(writer *w, const char *key, char bracket)
{
    next(w, key);
    fputc(bracket, w->out);
    w->first = true;
}

static void end(writer *w, char bracket)
{
    fputc(bracket, w->out);
    w->first = false;
}

static void str(writer *w, const char *key, const char *value)
{
    next(w, key);
    if (value != NULL)
        put_string(w->out, value);
    else
        fputs("null", w->out);
}

static void num(writer *w, const char *key, bool has, int64_t value)
{
    next(w, key);
    if (has)
        fprintf(w->out, "%" PRId64, value);
    else
        fputs("null", w->out);
}

static void boolean(writer *w, const char *key, opt_bool value)
{
    next(w, key);
    fputs(value == OPT_NULL ? "null" : value == OPT_TRUE ? "true" : "false", w->out);
}

static void lsn(writer *w, const char *key, bool has, pgrepl_lsn value)
{
    char text[PGREPL_LSN_BUFSIZE];
    pgrepl_lsn_format(value, text);
    str(w, key, has ? text : NULL);
}

static void size(writer *w, const char *key_bytes, const char *key_pretty, bool has, int64_t bytes)
{
    char pretty[SLOTS_SIZE_BUFSIZE];
    slots_format_size(bytes, pretty);
    num(w, key_bytes, has, bytes);
    str(w, key_pretty, has ? pretty : NULL);
}

static opt_bool of(bool b)
{
    return b ? OPT_TRUE : OPT_FALSE;
}

static void capacity_object(writer *w, const capacity *cap)
{
    begin(w, "capacity", '{');
    num(w, "slots_used", true, cap->slots_used);
    num(w, "slots_max", true, cap->slots_max);
    num(w, "slots_free", true, cap->slots_max - cap->slots_used);
    num(w, "walsenders_used", true, cap->walsenders_used);
    num(w, "walsenders_max", true, cap->walsenders_max);
    num(w, "walsenders_free", true, cap->walsenders_max - cap->walsenders_used);
    num(w, "max_slot_wal_keep_size_bytes", true, cap->max_slot_wal_keep_size);
    boolean(w, "max_slot_wal_keep_size_unlimited", of(cap->max_slot_wal_keep_size < 0));
    if (cap->has_idle_timeout)
        num(w, "idle_replication_slot_timeout_seconds", true, cap->idle_timeout_seconds);
    end(w, '}');
}

static void slot_object(writer *w, const snapshot *snap, const slot_row *s)
{
    begin(w, NULL, '{');
    str(w, "slot_name", s->name);
    str(w, "slot_type", s->type);
    str(w, "plugin", s->plugin);
    str(w, "database", s->database);
    boolean(w, "active", of(s->active));
    num(w, "active_pid", s->active, s->active_pid);
    boolean(w, "temporary", of(s->temporary));
    lsn(w, "restart_lsn", s->has_restart_lsn, s->restart_lsn);
    lsn(w, "confirmed_flush_lsn", s->has_confirmed_flush, s->confirmed_flush);
    size(w, "retained_wal_bytes", "retained_wal", s->has_retained, (int64_t)s->retained);
    size(w, "flush_lag_bytes", "flush_lag", s->has_lag, (int64_t)s->lag);
    if (snap->has[F_WAL_STATUS])
        str(w, "wal_status", s->wal_status);
    if (snap->has[F_SAFE_WAL_SIZE])
        size(w, "safe_wal_size_bytes", "safe_wal_size", s->has_safe_wal_size, s->safe_wal_size);
    if (snap->has[F_TWO_PHASE])
        boolean(w, "two_phase", s->two_phase);
    if (snap->has[F_CONFLICTING])
        boolean(w, "conflicting", s->conflicting);
    if (snap->has[F_FAILOVER])
        boolean(w, "failover", s->failover);
    if (snap->has[F_SYNCED])
        boolean(w, "synced", s->synced);
    if (snap->has[F_INACTIVE_SINCE]) {
        str(w, "inactive_since", s->inactive_since);
        next(w, "inactive_seconds");
        if (s->has_inactive_seconds)
            fprintf(w->out, "%.3f", s->inactive_seconds);
        else
            fputs("null", w->out);
    }
    if (snap->has[F_INVALIDATION_REASON])
        str(w, "invalidation_reason", s->invalidation_reason);
    end(w, '}');
}

/* The reasons of one kind: tripped rules (WANT_NOTES false) or notes. */
static void reasons_array(writer *w, const char *key, const verdict *v, bool want_notes)
{
    begin(w, key, '[');
    for (size_t i = 0; i < v->count; i++) {
        const reason *r = &v->reasons[i];
        if ((r->level == LEVEL_OK) != want_notes)
            continue;
        begin(w, NULL, '{');
        if (!want_notes)
            str(w, "level", slots_level_name(r->level));
        str(w, "rule", r->rule);
        str(w, "slot", r->slot[0] != '\0' ? r->slot : NULL);
        str(w, "message", r->message);
        end(w, '}');
    }
    end(w, ']');
}

void slots_print_json(FILE *out, const snapshot *snap, const verdict *v)
{
    writer w = {out, true};
    begin(&w, NULL, '{');
    str(&w, "server_version", snap->server_version);
    num(&w, "server_version_num", true, snap->server_version_num);
    str(&w, "time", snap->time);
    boolean(&w, "in_recovery", of(snap->in_recovery));
    lsn(&w, "current_lsn", snap->has_current_lsn, snap->current_lsn);
    capacity_object(&w, &snap->cap);
    begin(&w, "slots", '[');
    for (size_t i = 0; i < snap->nslots; i++)
        slot_object(&w, snap, &snap->slots[i]);
    end(&w, ']');
    begin(&w, "verdict", '{');
    str(&w, "status", slots_level_name(v->status));
    num(&w, "exit_code", true, slots_level_exit_code(v->status));
    reasons_array(&w, "reasons", v, false);
    reasons_array(&w, "notes", v, true);
    end(&w, '}');
    end(&w, '}');
    fputc('\n', out);
}
