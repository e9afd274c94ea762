/*
 * The health rules of pgrepl-slots. Each rule that trips adds a reason
 * naming the rule and, when it is about one slot, the slot; the verdict is the
 * worst level among them. What cannot be judged (how long a slot has been
 * inactive on a server without inactive_since) becomes a note, not a pass in
 * disguise.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "slots.h"

__attribute__((format(printf, 5, 6))) static int add(verdict *v, level l, const char *rule, const char *slot,
                                                     const char *fmt, ...)
{
    if (v->count == v->cap) {
        size_t cap = v->cap == 0 ? 8 : v->cap * 2;
        reason *bigger = realloc(v->reasons, cap * sizeof *bigger);
        if (bigger == NULL)
            return -1;
        v->reasons = bigger;
        v->cap = cap;
    }
    reason *r = &v->reasons[v->count++];
    r->level = l;
    r->rule = rule;
    snprintf(r->slot, sizeof r->slot, "%s", slot != NULL ? slot : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    if (l > v->status)
        v->status = l;
    return 0;
}

static bool is(const char *text, const char *want)
{
    return text != NULL && strcmp(text, want) == 0;
}

static int judge_wal_status(const slot_row *s, verdict *v)
{
    const char *why = s->invalidation_reason != NULL ? s->invalidation_reason : "";
    const char *open = s->invalidation_reason != NULL ? " (invalidation_reason " : "";
    const char *close = s->invalidation_reason != NULL ? ")" : "";
    if (is(s->wal_status, "lost"))
        return add(v, LEVEL_CRITICAL, "wal_status", s->name,
                   "slot \"%s\": wal_status is lost: the slot is invalidated and can never be used again%s%s%s",
                   s->name, open, why, close);
    if (is(s->wal_status, "unreserved"))
        return add(v, LEVEL_CRITICAL, "wal_status", s->name,
                   "slot \"%s\": wal_status is unreserved: it needs more WAL than max_slot_wal_keep_size keeps,"
                   " and will be lost at the next checkpoint",
                   s->name);
    if (is(s->wal_status, "extended"))
        return add(v, LEVEL_WARNING, "wal_status", s->name,
                   "slot \"%s\": wal_status is extended: it holds back more WAL than max_wal_size", s->name);
    return 0;
}

/* Invalidation that wal_status does not already report as lost. */
static int judge_invalidated(const slot_row *s, verdict *v)
{
    if (is(s->wal_status, "lost"))
        return 0;
    if (s->invalidation_reason != NULL)
        return add(v, LEVEL_CRITICAL, "invalidated", s->name, "slot \"%s\": invalidated (invalidation_reason %s)",
                   s->name, s->invalidation_reason);
    if (s->conflicting == OPT_TRUE)
        return add(v, LEVEL_CRITICAL, "invalidated", s->name,
                   "slot \"%s\": invalidated by a conflict with recovery (conflicting is true)", s->name);
    return 0;
}

static int judge_retained(const slot_row *s, const thresholds *th, verdict *v)
{
    if (!s->has_retained)
        return 0;
    bool crit = th->retained_crit != UINT64_MAX && s->retained > th->retained_crit;
    bool warn = th->retained_warn != UINT64_MAX && s->retained > th->retained_warn;
    if (!crit && !warn)
        return 0;
    char held[SLOTS_SIZE_BUFSIZE], limit[SLOTS_SIZE_BUFSIZE];
    slots_format_size((int64_t)s->retained, held);
    slots_format_size((int64_t)(crit ? th->retained_crit : th->retained_warn), limit);
    return add(v, crit ? LEVEL_CRITICAL : LEVEL_WARNING, "retained_wal", s->name,
               "slot \"%s\": retains %s of WAL, more than %s %s", s->name, held,
               crit ? "--retained-crit" : "--retained-warn", limit);
}

static int judge_inactive(const snapshot *snap, const slot_row *s, const thresholds *th, verdict *v)
{
    /* A synced slot on a standby is never active there: its idleness says
     * nothing about the consumer, which reads the primary's slot. */
    if (s->active || s->synced == OPT_TRUE)
        return 0;
    if (!s->has_inactive_seconds) {
        if (snap->has[F_INACTIVE_SINCE])
            return add(v, LEVEL_OK, "inactive", s->name,
                       "slot \"%s\": inactive, but the server gives no inactive_since: the inactive rule cannot apply",
                       s->name);
        return add(v, LEVEL_OK, "inactive", s->name,
                   "slot \"%s\": inactive for an unknown time: PostgreSQL %d has no inactive_since (17+), so the"
                   " inactive rule cannot apply (the retained_wal rule still does)",
                   s->name, snap->server_version_num / 10000);
    }
    bool crit = th->inactive_crit >= 0 && s->inactive_seconds > th->inactive_crit;
    bool warn = th->inactive_warn >= 0 && s->inactive_seconds > th->inactive_warn;
    if (!crit && !warn)
        return 0;
    char idle[SLOTS_DURATION_BUFSIZE], limit[SLOTS_DURATION_BUFSIZE];
    slots_format_duration(s->inactive_seconds, idle);
    slots_format_duration(crit ? th->inactive_crit : th->inactive_warn, limit);
    return add(v, crit ? LEVEL_CRITICAL : LEVEL_WARNING, "inactive", s->name,
               "slot \"%s\": inactive for %s, longer than %s %s", s->name, idle,
               crit ? "--inactive-crit" : "--inactive-warn", limit);
}

static int judge_capacity(const char *rule, const char *what, const char *setting, long used, long max,
                          long min_free, const char *option, verdict *v)
{
    long free_now = max - used;
    if (min_free <= 0 || free_now >= min_free)
        return 0;
    if (free_now <= 0)
        return add(v, LEVEL_CRITICAL, rule, NULL, "%ld of %ld %s used (%s): none free", used, max, what, setting);
    return add(v, LEVEL_WARNING, rule, NULL, "%ld of %ld %s used (%s): %ld free, fewer than %s %ld", used, max, what,
               setting, free_now, option, min_free);
}

int slots_judge(const snapshot *snap, const thresholds *th, verdict *v)
{
    memset(v, 0, sizeof *v);
    for (size_t i = 0; i < snap->nslots; i++) {
        const slot_row *s = &snap->slots[i];
        if (judge_wal_status(s, v) != 0 || judge_invalidated(s, v) != 0 || judge_retained(s, th, v) != 0 ||
            judge_inactive(snap, s, th, v) != 0)
            return -1;
    }
    const capacity *cap = &snap->cap;
    if (judge_capacity("slot_capacity", "replication slots", "max_replication_slots", cap->slots_used,
                       cap->slots_max, th->min_free_slots, "--min-free-slots", v) != 0 ||
        judge_capacity("walsender_capacity", "WAL senders", "max_wal_senders", cap->walsenders_used,
                       cap->walsenders_max, th->min_free_walsenders, "--min-free-walsenders", v) != 0)
        return -1;
    if (th->warn_unlimited && cap->max_slot_wal_keep_size < 0 &&
        add(v, LEVEL_WARNING, "wal_keep_unlimited", NULL,
            "max_slot_wal_keep_size is -1 (unlimited): one abandoned slot can retain WAL until the disk fills") != 0)
        return -1;
    return 0;
}

void slots_verdict_free(verdict *v)
{
    free(v->reasons);
    memset(v, 0, sizeof *v);
}

const char *slots_level_name(level l)
{
    switch (l) {
    case LEVEL_OK:
        return "ok";
    case LEVEL_WARNING:
        return "warning";
    case LEVEL_CRITICAL:
        return "critical";
    }
    return "unknown";
}

int slots_level_exit_code(level l)
{
    return l == LEVEL_CRITICAL ? 3 : l == LEVEL_WARNING ? 2 : 0;
}
