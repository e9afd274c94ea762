/*
 * The Prometheus rendering of pgrepl-slots (text exposition format 0.0.4).
 * Every per-slot metric carries the labels slot, database and type;
 * pgrepl_slot_wal_status adds status and is 1 for the slot's current status,
 * 0 for the others, so that an alert can match status="lost". A metric with
 * no value for a slot (safe_wal_size when unlimited, the inactive time of an
 * active slot) has no sample for it. pgrepl_slots_up comes first: 1 with the
 * rest, or 0 alone when the server could not be reached or read, so that an
 * alert sees the outage instead of metrics that merely stop.
 */
#include <inttypes.h>
#include <string.h>

#include "slots.h"

#define VALUE_SIZE 40

/* Writes the sample value of S into BUF; false when S has none. */
typedef bool (*value_fn)(const slot_row *s, char buf[VALUE_SIZE]);

typedef struct family {
    const char *name;
    const char *help;
    value_fn value;
} family;

static bool integer(bool has, int64_t v, char buf[VALUE_SIZE])
{
    snprintf(buf, VALUE_SIZE, "%" PRId64, v);
    return has;
}

static bool retained_value(const slot_row *s, char buf[VALUE_SIZE])
{
    return integer(s->has_retained, (int64_t)s->retained, buf);
}

static bool lag_value(const slot_row *s, char buf[VALUE_SIZE])
{
    return integer(s->has_lag, (int64_t)s->lag, buf);
}

static bool safe_value(const slot_row *s, char buf[VALUE_SIZE])
{
    return integer(s->has_safe_wal_size, s->safe_wal_size, buf);
}

static bool active_value(const slot_row *s, char buf[VALUE_SIZE])
{
    return integer(true, s->active, buf);
}

static bool temporary_value(const slot_row *s, char buf[VALUE_SIZE])
{
    return integer(true, s->temporary, buf);
}

static bool inactive_value(const slot_row *s, char buf[VALUE_SIZE])
{
    snprintf(buf, VALUE_SIZE, "%.3f", s->inactive_seconds);
    return s->has_inactive_seconds;
}

static bool invalidated_value(const slot_row *s, char buf[VALUE_SIZE])
{
    bool lost = s->wal_status != NULL && strcmp(s->wal_status, "lost") == 0;
    return integer(true, lost || s->invalidation_reason != NULL || s->conflicting == OPT_TRUE, buf);
}

static const family families[] = {
    {"pgrepl_slot_retained_wal_bytes", "WAL the slot keeps from removal: current WAL position minus restart_lsn.",
     retained_value},
    {"pgrepl_slot_flush_lag_bytes", "Current WAL position minus the slot's confirmed_flush_lsn.", lag_value},
    {"pgrepl_slot_safe_wal_size_bytes", "WAL that can still be written before the slot is lost (safe_wal_size).",
     safe_value},
    {"pgrepl_slot_active", "1 if a process is using the slot.", active_value},
    {"pgrepl_slot_temporary", "1 if the slot is temporary.", temporary_value},
    {"pgrepl_slot_inactive_seconds", "Seconds since the slot became inactive (PostgreSQL 17+).", inactive_value},
    {"pgrepl_slot_invalidated", "1 if the slot is invalidated (wal_status lost, invalidation_reason or conflicting).",
     invalidated_value},
};

static const char *const wal_statuses[] = {"reserved", "extended", "unreserved", "lost"};

/* A label value: backslash, double quote and newline escaped. */
static void label(FILE *out, const char *name, const char *value, const char *sep)
{
    fprintf(out, "%s%s=\"", sep, name);
    for (const char *p = value != NULL ? value : ""; *p != '\0'; p++) {
        if (*p == '\\' || *p == '"')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static void slot_labels(FILE *out, const slot_row *s)
{
    label(out, "slot", s->name, "{");
    label(out, "database", s->database, ",");
    label(out, "type", s->type, ",");
}

static void describe(FILE *out, const char *name, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

static void gauge(FILE *out, const char *name, const char *help, int64_t value)
{
    describe(out, name, help);
    fprintf(out, "%s %" PRId64 "\n", name, value);
}

static void slot_families(FILE *out, const snapshot *snap)
{
    char value[VALUE_SIZE];
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        describe(out, families[f].name, families[f].help);
        for (size_t i = 0; i < snap->nslots; i++) {
            if (!families[f].value(&snap->slots[i], value))
                continue;
            fputs(families[f].name, out);
            slot_labels(out, &snap->slots[i]);
            fprintf(out, "} %s\n", value);
        }
    }
    if (!snap->has[F_WAL_STATUS])
        return;
    describe(out, "pgrepl_slot_wal_status", "1 for the slot's wal_status, 0 for the other statuses.");
    for (size_t i = 0; i < snap->nslots; i++) {
        const slot_row *s = &snap->slots[i];
        for (size_t k = 0; k < sizeof wal_statuses / sizeof wal_statuses[0]; k++) {
            fputs("pgrepl_slot_wal_status", out);
            slot_labels(out, s);
            label(out, "status", wal_statuses[k], ",");
            fprintf(out, "} %d\n", s->wal_status != NULL && strcmp(s->wal_status, wal_statuses[k]) == 0);
        }
    }
}

#define UP_HELP "1 if the server was reached and read, 0 if not (then no other metric is written)."

void slots_print_prometheus(FILE *out, const snapshot *snap, const verdict *v)
{
    const capacity *cap = &snap->cap;
    gauge(out, "pgrepl_slots_up", UP_HELP, 1);
    slot_families(out, snap);
    gauge(out, "pgrepl_slots_used", "Replication slots in use.", cap->slots_used);
    gauge(out, "pgrepl_slots_max", "max_replication_slots.", cap->slots_max);
    gauge(out, "pgrepl_walsenders_used", "WAL sender processes running.", cap->walsenders_used);
    gauge(out, "pgrepl_walsenders_max", "max_wal_senders.", cap->walsenders_max);
    gauge(out, "pgrepl_max_slot_wal_keep_size_bytes", "max_slot_wal_keep_size in bytes; -1 is unlimited.",
          cap->max_slot_wal_keep_size);
    if (cap->has_idle_timeout)
        gauge(out, "pgrepl_idle_replication_slot_timeout_seconds",
              "idle_replication_slot_timeout in seconds; 0 is off (PostgreSQL 18+).", cap->idle_timeout_seconds);
    gauge(out, "pgrepl_slots_health_status", "Verdict of the health rules: 0 ok, 1 warning, 2 critical.",
          (int64_t)v->status);
}

void slots_print_prometheus_down(FILE *out)
{
    gauge(out, "pgrepl_slots_up", UP_HELP, 0);
}
