/*
 * --drop-inactive of pgrepl-slots: drop slots that nobody uses and that have
 * been idle for at least --older-than, printing every decision.
 *
 * A slot is dropped only if it is inactive, not temporary, not synced from a
 * primary, logical (unless --include-physical), matches --name-pattern (if
 * given) and has been inactive for at least --older-than. PostgreSQL 14-16
 * do not record when a slot became inactive, so there the age is unknown and
 * such a slot is kept, unless --force-unknown-age says to drop it anyway.
 *
 * Even then, "inactive right now" is not "abandoned": a consumer between two
 * connections (a reconnect delay, a restart) leaves its slot inactive for a
 * few seconds. So a slot of unknown age is watched for --observe after the
 * listing, looked at every LOOK_INTERVAL, and dropped only if it was never
 * seen active and its restart_lsn and confirmed_flush_lsn did not move: a
 * consumer that connected and left between two looks still moved them if it
 * confirmed anything.
 *
 * The listing is a moment in the past by the time a slot is dropped: a
 * consumer may have connected since. So each slot is read again and judged
 * again right before pg_drop_replication_slot (a watched slot also against
 * the positions it was first listed with), and the server's own refusal
 * (SQLSTATE 55006, "replication slot ... is active for PID ...") in the
 * remaining window counts as "skipped, became active", not as an error.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slots.h"

#define WHY_SIZE 256

/* Seconds between two looks at the watched slots: often enough to see a
 * consumer that holds its slot only for a moment, a cheap query each. */
#define LOOK_INTERVAL 0.25

/* What the listing says about a slot. WATCH: eligible if it stays inactive
 * and unmoved for --observe (its age is unknown). */
typedef enum judgement { KEEP, ELIGIBLE, WATCH } judgement;

/* The decision about one slot of the listing, and why. */
typedef struct decision {
    judgement judgement;
    char why[WHY_SIZE];
} decision;

typedef enum outcome { DROPPED, SKIPPED, FAILED } outcome;

typedef struct tally {
    int dropped, would_drop, skipped, kept, failed;
} tally;

/* Writes why S must be kept, or what makes it eligible. */
static judgement judge(const snapshot *snap, const slot_row *s, const drop_options *o, char why[WHY_SIZE])
{
    char age[SLOTS_DURATION_BUFSIZE], limit[SLOTS_DURATION_BUFSIZE];
    slots_format_duration(s->inactive_seconds, age);
    slots_format_duration(o->older_than, limit);
    if (s->active) {
        snprintf(why, WHY_SIZE, "active (pid %ld)", s->active_pid);
        return KEEP;
    }
    if (s->temporary) {
        snprintf(why, WHY_SIZE, "temporary: it belongs to the session that created it");
        return KEEP;
    }
    if (s->synced == OPT_TRUE) {
        snprintf(why, WHY_SIZE, "synced from the primary");
        return KEEP;
    }
    if (!o->include_physical && strcmp(s->type, "logical") != 0) {
        snprintf(why, WHY_SIZE, "%s slot (--include-physical includes it)", s->type);
        return KEEP;
    }
    if (o->name_pattern != NULL && fnmatch(o->name_pattern, s->name, 0) != 0) {
        snprintf(why, WHY_SIZE, "name does not match --name-pattern");
        return KEEP;
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
        return KEEP;
    }
    if (!s->has_inactive_seconds) {
        char watched[SLOTS_DURATION_BUFSIZE];
        slots_format_duration(o->observe, watched);
        snprintf(why, WHY_SIZE,
                 "%s, inactive for an unknown time, and neither active nor moved while watched for %s,"
                 " --force-unknown-age",
                 s->type, watched);
        return WATCH;
    }
    if (s->inactive_seconds < o->older_than) {
        snprintf(why, WHY_SIZE, "inactive for %s, less than --older-than %s", age, limit);
        return KEEP;
    }
    snprintf(why, WHY_SIZE, "%s, inactive for %s", s->type, age);
    return ELIGIBLE;
}

static bool same_lsn(bool has_a, pgrepl_lsn a, bool has_b, pgrepl_lsn b)
{
    return has_a == has_b && (!has_a || a == b);
}

static void lsn_text(bool has, pgrepl_lsn lsn, char buf[PGREPL_LSN_BUFSIZE])
{
    if (has)
        pgrepl_lsn_format(lsn, buf);
    else
        snprintf(buf, PGREPL_LSN_BUFSIZE, "NULL");
}

/* True, with why, if NOW (a later look at WAS) shows a consumer: active, or a position moved. */
static bool used_since(const slot_row *was, const slot_row *now, char why[WHY_SIZE])
{
    char from[PGREPL_LSN_BUFSIZE], to[PGREPL_LSN_BUFSIZE];
    if (now->active) {
        snprintf(why, WHY_SIZE, "active while watched (pid %ld)", now->active_pid);
        return true;
    }
    if (!same_lsn(was->has_confirmed_flush, was->confirmed_flush, now->has_confirmed_flush, now->confirmed_flush)) {
        lsn_text(was->has_confirmed_flush, was->confirmed_flush, from);
        lsn_text(now->has_confirmed_flush, now->confirmed_flush, to);
        snprintf(why, WHY_SIZE, "confirmed_flush_lsn moved from %s to %s while watched", from, to);
        return true;
    }
    if (!same_lsn(was->has_restart_lsn, was->restart_lsn, now->has_restart_lsn, now->restart_lsn)) {
        lsn_text(was->has_restart_lsn, was->restart_lsn, from);
        lsn_text(now->has_restart_lsn, now->restart_lsn, to);
        snprintf(why, WHY_SIZE, "restart_lsn moved from %s to %s while watched", from, to);
        return true;
    }
    return false;
}

static const slot_row *find_slot(const snapshot *snap, const char *name)
{
    for (size_t i = 0; i < snap->nslots; i++) {
        if (strcmp(snap->slots[i].name, name) == 0)
            return &snap->slots[i];
    }
    return NULL;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * One look at the watched slots of FIRST (the listing): each that is gone,
 * active or moved becomes KEEP, with why. Returns how many are still
 * watched, or -1 when the look failed (the reason printed).
 */
static long look(PGconn *conn, const snapshot *first, decision *d)
{
    snapshot now;
    long watched = 0;
    if (slots_snapshot_take(conn, NULL, &now) != 0)
        return -1;
    for (size_t i = 0; i < first->nslots; i++) {
        if (d[i].judgement != WATCH)
            continue;
        const slot_row *s = find_slot(&now, first->slots[i].name);
        if (s == NULL)
            snprintf(d[i].why, WHY_SIZE, "it no longer exists");
        if (s == NULL || used_since(&first->slots[i], s, d[i].why))
            d[i].judgement = KEEP;
        else
            watched++;
    }
    slots_snapshot_free(&now);
    return watched;
}

/* Watch the WATCHED slots judged WATCH for --observe. Returns 0, or -1 when a look failed. */
static int observe(PGconn *conn, const snapshot *first, const drop_options *o, decision *d, long watched, FILE *out)
{
    char span[SLOTS_DURATION_BUFSIZE];
    slots_format_duration(o->observe, span);
    fprintf(out,
            "watching %ld inactive slot%s of unknown age for %s (--observe): one that becomes active or moves is"
            " kept\n",
            watched, watched == 1 ? "" : "s", span);
    fflush(out);
    double end = now_seconds() + o->observe, left;
    while (watched > 0 && (left = end - now_seconds()) > 0) {
        slots_pause(left < LOOK_INTERVAL ? left : LOOK_INTERVAL);
        if ((watched = look(conn, first, d)) < 0) {
            slots_error("could not finish watching the slots of unknown age: nothing was dropped");
            return -1;
        }
    }
    return 0;
}

/* Judge every slot of FIRST, then watch those of unknown age. Returns 0, or -1 when a look failed. */
static int decide(PGconn *conn, const snapshot *first, const drop_options *o, decision *d, FILE *out)
{
    long watched = 0;
    for (size_t i = 0; i < first->nslots; i++) {
        d[i].judgement = judge(first, &first->slots[i], o, d[i].why);
        watched += d[i].judgement == WATCH;
    }
    return watched > 0 ? observe(conn, first, o, d, watched, out) : 0;
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

/* Judge WAS again on a fresh read; true if it may still be dropped. WATCHED: it must not have moved either. */
static bool still_eligible(PGconn *conn, const slot_row *was, bool watched, const drop_options *o, FILE *out,
                           outcome *result)
{
    snapshot fresh;
    char why[WHY_SIZE];
    if (slots_snapshot_take(conn, was->name, &fresh) != 0) {
        *result = FAILED;
        return false;
    }
    bool ok = fresh.nslots == 1 && judge(&fresh, &fresh.slots[0], o, why) != KEEP &&
              !(watched && used_since(was, &fresh.slots[0], why));
    if (fresh.nslots == 0)
        fprintf(out, "skipped slot \"%s\": it no longer exists\n", was->name);
    else if (!ok)
        fprintf(out, "skipped slot \"%s\": changed since it was listed: %s\n", was->name, why);
    slots_snapshot_free(&fresh);
    *result = SKIPPED;
    return ok;
}

static outcome drop_one(PGconn *conn, const slot_row *s, bool watched, const char *why, const drop_options *o,
                        FILE *out)
{
    outcome result;
    const char *name = s->name;
    if (!still_eligible(conn, s, watched, o, out, &result))
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

/* Drop what DECISIONS allow, or say what would be dropped. Returns the exit code. */
static int act(PGconn *conn, const snapshot *snap, const drop_options *o, const decision *d, FILE *out)
{
    tally t = {0};
    for (size_t i = 0; i < snap->nslots; i++) {
        const slot_row *s = &snap->slots[i];
        if (d[i].judgement == KEEP) {
            fprintf(out, "keep slot \"%s\": %s\n", s->name, d[i].why);
            t.kept++;
        } else if (o->dry_run) {
            fprintf(out, "would drop slot \"%s\" (%s)\n", s->name, d[i].why);
            t.would_drop++;
        } else {
            count(&t, drop_one(conn, s, d[i].judgement == WATCH, d[i].why, o, out));
        }
        fflush(out);
    }
    if (o->dry_run)
        fprintf(out, "dry run: would drop %d, keep %d; nothing was changed\n", t.would_drop, t.kept);
    else
        fprintf(out, "dropped %d, skipped %d, kept %d, failed %d\n", t.dropped, t.skipped, t.kept, t.failed);
    return t.failed > 0 ? 1 : 0;
}

int slots_drop_inactive(PGconn *conn, const drop_options *o, FILE *out)
{
    snapshot snap;
    if (slots_snapshot_take(conn, NULL, &snap) != 0)
        return 1;
    decision *d = calloc(snap.nslots > 0 ? snap.nslots : 1, sizeof *d);
    int code = 1;
    if (d == NULL)
        slots_error("out of memory");
    else if (decide(conn, &snap, o, d, out) == 0)
        code = act(conn, &snap, o, d, out);
    free(d);
    slots_snapshot_free(&snap);
    return code;
}
