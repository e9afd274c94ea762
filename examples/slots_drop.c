/*
 * --drop-inactive of pgrepl-slots: drop slots that nobody uses and that have
 * been idle for at least --older-than, printing every decision.
 *
 * A slot is dropped only if it is inactive, not temporary, not synced from a
 * primary, logical (unless --include-physical), matches --name-pattern (if
 * given) and has been inactive for at least --older-than. PostgreSQL 14-16
 * do not record when a slot became inactive, so there the age is unknown and
 * such a slot is kept, unless --force-unknown-age says to treat it as old
 * enough.
 *
 * The listing is a moment in the past by the time a slot is dropped: a
 * consumer may have connected since. So each slot is read again and judged
 * again right before pg_drop_replication_slot, and the server's own refusal
 * (SQLSTATE 55006, "replication slot ... is active for PID ...") in the
 * remaining window counts as "skipped, became active", not as an error.
 */
#include <fnmatch.h>
#include <string.h>

#include "slots.h"

#define WHY_SIZE 256

typedef enum outcome { DROPPED, SKIPPED, FAILED } outcome;

typedef struct tally {
    int dropped, would_drop, skipped, kept, failed;
} tally;

/* Returns true and writes why S must be kept, or returns false and writes what makes it eligible. */
static bool must_keep(const snapshot *snap, const slot_row *s, const drop_options *o, char why[WHY_SIZE])
{
    char age[SLOTS_DURATION_BUFSIZE], limit[SLOTS_DURATION_BUFSIZE];
    slots_format_duration(s->inactive_seconds, age);
    slots_format_duration(o->older_than, limit);
    if (s->active) {
        snprintf(why, WHY_SIZE, "active (pid %ld)", s->active_pid);
        return true;
    }
    if (s->temporary) {
        snprintf(why, WHY_SIZE, "temporary: it belongs to the session that created it");
        return true;
    }
    if (s->synced == OPT_TRUE) {
        snprintf(why, WHY_SIZE, "synced from the primary");
        return true;
    }
    if (!o->include_physical && strcmp(s->type, "logical") != 0) {
        snprintf(why, WHY_SIZE, "%s slot (--include-physical includes it)", s->type);
        return true;
    }
    if (o->name_pattern != NULL && fnmatch(o->name_pattern, s->name, 0) != 0) {
        snprintf(why, WHY_SIZE, "name does not match --name-pattern");
        return true;
    }
    if (!s->has_inactive_seconds && !o->force_unknown_age) {
        if (snap->has[F_INACTIVE_SINCE])
            snprintf(why, WHY_SIZE, "inactive for an unknown time: the server gives no inactive_since;"
                                    " --force-unknown-age drops it anyway");
        else
            snprintf(why, WHY_SIZE,
                     "inactive for an unknown time: PostgreSQL %d has no inactive_since (17+);"
                     " --force-unknown-age drops it anyway",
                     snap->server_version_num / 10000);
        return true;
    }
    if (!s->has_inactive_seconds) {
        snprintf(why, WHY_SIZE, "%s, inactive for an unknown time, --force-unknown-age", s->type);
        return false;
    }
    if (s->inactive_seconds < o->older_than) {
        snprintf(why, WHY_SIZE, "inactive for %s, less than --older-than %s", age, limit);
        return true;
    }
    snprintf(why, WHY_SIZE, "%s, inactive for %s", s->type, age);
    return false;
}

static bool has_sqlstate(const PGresult *res, const char *state)
{
    const char *got = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    return got != NULL && strcmp(got, state) == 0;
}

static const char *primary_message(const PGresult *res)
{
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    return msg != NULL ? msg : PQresultErrorMessage(res);
}

/* Judge NAME again on a fresh read; true if it may still be dropped. */
static bool still_eligible(PGconn *conn, const char *name, const drop_options *o, FILE *out, outcome *result)
{
    snapshot fresh;
    char why[WHY_SIZE];
    if (slots_snapshot_take(conn, name, &fresh) != 0) {
        *result = FAILED;
        return false;
    }
    bool ok = fresh.nslots == 1 && !must_keep(&fresh, &fresh.slots[0], o, why);
    if (fresh.nslots == 0)
        fprintf(out, "skipped slot \"%s\": it no longer exists\n", name);
    else if (!ok)
        fprintf(out, "skipped slot \"%s\": changed since it was listed: %s\n", name, why);
    slots_snapshot_free(&fresh);
    *result = SKIPPED;
    return ok;
}

static outcome drop_one(PGconn *conn, const char *name, const char *why, const drop_options *o, FILE *out)
{
    outcome result;
    if (!still_eligible(conn, name, o, out, &result))
        return result;
    const char *params[1] = {name};
    PGresult *res =
        PQexecParams(conn, "SELECT pg_catalog.pg_drop_replication_slot($1)", 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        fprintf(out, "dropped slot \"%s\" (%s)\n", name, why);
        result = DROPPED;
    } else if (has_sqlstate(res, "55006")) {
        fprintf(out, "skipped slot \"%s\": became active: %s\n", name, primary_message(res));
        result = SKIPPED;
    } else if (has_sqlstate(res, "42704")) {
        fprintf(out, "skipped slot \"%s\": it no longer exists\n", name);
        result = SKIPPED;
    } else {
        slots_error("could not drop slot \"%s\": %s", name, primary_message(res));
        result = FAILED;
    }
    PQclear(res);
    return result;
}

static void count(tally *t, outcome o)
{
    if (o == DROPPED)
        t->dropped++;
    else if (o == SKIPPED)
        t->skipped++;
    else
        t->failed++;
}

int slots_drop_inactive(PGconn *conn, const drop_options *o, FILE *out)
{
    snapshot snap;
    if (slots_snapshot_take(conn, NULL, &snap) != 0)
        return 1;
    tally t = {0};
    for (size_t i = 0; i < snap.nslots; i++) {
        const slot_row *s = &snap.slots[i];
        char why[WHY_SIZE];
        if (must_keep(&snap, s, o, why)) {
            fprintf(out, "keep slot \"%s\": %s\n", s->name, why);
            t.kept++;
        } else if (o->dry_run) {
            fprintf(out, "would drop slot \"%s\" (%s)\n", s->name, why);
            t.would_drop++;
        } else {
            count(&t, drop_one(conn, s->name, why, o, out));
        }
        fflush(out);
    }
    slots_snapshot_free(&snap);
    if (o->dry_run)
        fprintf(out, "dry run: would drop %d, keep %d; nothing was changed\n", t.would_drop, t.kept);
    else
        fprintf(out, "dropped %d, skipped %d, kept %d, failed %d\n", t.dropped, t.skipped, t.kept, t.failed);
    return t.failed > 0 ? 1 : 0;
}
