/*
 * One snapshot of the server for pgrepl-slots: version, capacity settings
 * and every row of pg_replication_slots.
 *
 * The columns of pg_replication_slots differ between majors (wal_status
 * arrived in 13, two_phase in 14, conflicting in 16, inactive_since,
 * invalidation_reason, failover and synced in 17), so the slot query is built
 * from the columns the server reports in pg_attribute: a missing column is
 * selected as NULL and marked absent, never an error. Every name is
 * schema-qualified so that a hostile search_path cannot change what runs.
 */
#include <stdlib.h>
#include <string.h>

#include "slots.h"

/* The position WAL is written up to; on a standby, the position replayed up to. */
#define CURRENT_LSN_SQL                                                                                              \
    "CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn()"                            \
    " ELSE pg_catalog.pg_current_wal_lsn() END"
#define SETTING_SQL(name) "(SELECT s.setting FROM pg_catalog.pg_settings s WHERE s.name = '" name "')"
#define UNIT_SQL(name) "(SELECT s.unit FROM pg_catalog.pg_settings s WHERE s.name = '" name "')"
#define UTC_TEXT_SQL(ts) "pg_catalog.to_char((" ts ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

enum info_col {
    I_VERSION,
    I_VERSION_NUM,
    I_IN_RECOVERY,
    I_TIME,
    I_LSN,
    I_WALSENDERS,
    I_SLOTS,
    I_COLUMNS,
    I_MAX_SLOTS,
    I_MAX_SENDERS,
    I_KEEP_SIZE,
    I_KEEP_SIZE_UNIT,
    I_IDLE_TIMEOUT,
    I_IDLE_TIMEOUT_UNIT,
};

static const char info_sql[] =
    "SELECT pg_catalog.current_setting('server_version'),"
    " pg_catalog.current_setting('server_version_num'),"
    " pg_catalog.pg_is_in_recovery(),"
    " " UTC_TEXT_SQL("pg_catalog.now()") ","
    " " CURRENT_LSN_SQL ","
    " (SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_activity a WHERE a.backend_type = 'walsender'),"
    " (SELECT pg_catalog.count(*) FROM pg_catalog.pg_replication_slots),"
    " (SELECT ',' || pg_catalog.string_agg(a.attname::pg_catalog.text, ',') || ','"
    "    FROM pg_catalog.pg_attribute a"
    "   WHERE a.attrelid = 'pg_catalog.pg_replication_slots'::pg_catalog.regclass"
    "     AND a.attnum > 0 AND NOT a.attisdropped),"
    " " SETTING_SQL("max_replication_slots") ","
    " " SETTING_SQL("max_wal_senders") ","
    " " SETTING_SQL("max_slot_wal_keep_size") ","
    " " UNIT_SQL("max_slot_wal_keep_size") ","
    " " SETTING_SQL("idle_replication_slot_timeout") ","
    " " UNIT_SQL("idle_replication_slot_timeout");

enum slot_col {
    S_NAME,
    S_TYPE,
    S_PLUGIN,
    S_DATABASE,
    S_TEMPORARY,
    S_ACTIVE,
    S_ACTIVE_PID,
    S_RESTART_LSN,
    S_CONFIRMED_FLUSH,
    S_CURRENT_LSN,
    S_OPTIONAL /* then one column per slot_field */
};

/* Columns every supported major has. */
static const char slots_select[] = "SELECT s.slot_name, s.slot_type, s.plugin, s.database, s.temporary, s.active,"
                                   " s.active_pid, s.restart_lsn, s.confirmed_flush_lsn, c.lsn";

static const struct {
    const char *column; /* the column of pg_replication_slots the field needs */
    const char *expr;
} optional_fields[F_COUNT] = {
    [F_WAL_STATUS] = {"wal_status", "s.wal_status"},
    [F_SAFE_WAL_SIZE] = {"safe_wal_size", "s.safe_wal_size"},
    [F_TWO_PHASE] = {"two_phase", "s.two_phase"},
    [F_CONFLICTING] = {"conflicting", "s.conflicting"},
    [F_INACTIVE_SINCE] = {"inactive_since", UTC_TEXT_SQL("s.inactive_since")},
    [F_INACTIVE_SECONDS] = {"inactive_since", "pg_catalog.date_part('epoch', c.now - s.inactive_since)"},
    [F_INVALIDATION_REASON] = {"invalidation_reason", "s.invalidation_reason"},
    [F_FAILOVER] = {"failover", "s.failover"},
    [F_SYNCED] = {"synced", "s.synced"},
};

/* The current position is read once, in the same statement as the slots, so
 * that a slot's distance to it is measured at one moment. */
static const char slots_from[] = " FROM pg_catalog.pg_replication_slots s,"
                                 " (SELECT " CURRENT_LSN_SQL " AS lsn, pg_catalog.clock_timestamp() AS now) c";

static void query_failed(PGconn *conn, const char *what)
{
    const char *msg = PQerrorMessage(conn);
    size_t len = strlen(msg);
    while (len > 0 && msg[len - 1] == '\n')
        len--;
    slots_error("%s failed: %.*s", what, (int)len, msg);
}

static const char *value(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static bool is_true(const char *text)
{
    return text != NULL && strcmp(text, "t") == 0;
}

static opt_bool opt_bool_of(const char *text)
{
    if (text == NULL)
        return OPT_NULL;
    return is_true(text) ? OPT_TRUE : OPT_FALSE;
}

static long long_of(const char *text)
{
    return text != NULL ? strtol(text, NULL, 10) : 0;
}

static bool lsn_of(const char *text, pgrepl_lsn *out)
{
    return text != NULL && pgrepl_lsn_parse(text, out) == 0;
}

/*
 * What one unit of a pg_settings unit is worth: bytes for "MB" or "8kB",
 * seconds for "s" or "min". No unit is worth 1.
 */
static int unit_value(const char *unit, bool is_duration, double *out)
{
    if (unit == NULL) {
        *out = 1;
        return 0;
    }
    char one[32];
    snprintf(one, sizeof one, "%s%s", unit[0] >= '0' && unit[0] <= '9' ? "" : "1", unit);
    uint64_t bytes;
    if (is_duration)
        return slots_parse_duration(one, out);
    if (slots_parse_size(one, &bytes) != 0)
        return -1;
    *out = (double)bytes;
    return 0;
}

/* A setting as pg_settings gives it ("1" and "MB") in bytes or seconds; -1 stays -1. */
static int scaled_setting(const char *setting, const char *unit, bool is_duration, int64_t *out)
{
    double factor;
    if (unit_value(unit, is_duration, &factor) != 0)
        return -1;
    long long n = strtoll(setting, NULL, 10);
    *out = n < 0 ? n : (int64_t)((double)n * factor);
    return 0;
}

static bool has_column(const char *columns, const char *name)
{
    char needle[80];
    snprintf(needle, sizeof needle, ",%s,", name);
    return columns != NULL && strstr(columns, needle) != NULL;
}

static int read_info(snapshot *snap)
{
    const PGresult *r = snap->info;
    snap->server_version = value(r, 0, I_VERSION);
    snap->server_version_num = (int)long_of(value(r, 0, I_VERSION_NUM));
    snap->in_recovery = is_true(value(r, 0, I_IN_RECOVERY));
    snap->time = value(r, 0, I_TIME);
    snap->has_current_lsn = lsn_of(value(r, 0, I_LSN), &snap->current_lsn);
    for (int f = 0; f < F_COUNT; f++)
        snap->has[f] = has_column(value(r, 0, I_COLUMNS), optional_fields[f].column);

    capacity *cap = &snap->cap;
    cap->walsenders_used = long_of(value(r, 0, I_WALSENDERS));
    cap->slots_used = long_of(value(r, 0, I_SLOTS));
    cap->slots_max = long_of(value(r, 0, I_MAX_SLOTS));
    cap->walsenders_max = long_of(value(r, 0, I_MAX_SENDERS));
    cap->max_slot_wal_keep_size = -1;
    const char *keep = value(r, 0, I_KEEP_SIZE), *idle = value(r, 0, I_IDLE_TIMEOUT);
    if (keep != NULL && scaled_setting(keep, value(r, 0, I_KEEP_SIZE_UNIT), false, &cap->max_slot_wal_keep_size) != 0) {
        slots_error("cannot read max_slot_wal_keep_size = %s %s", keep, value(r, 0, I_KEEP_SIZE_UNIT));
        return -1;
    }
    cap->has_idle_timeout = idle != NULL;
    if (idle != NULL && scaled_setting(idle, value(r, 0, I_IDLE_TIMEOUT_UNIT), true, &cap->idle_timeout_seconds) != 0) {
        slots_error("cannot read idle_replication_slot_timeout = %s %s", idle, value(r, 0, I_IDLE_TIMEOUT_UNIT));
        return -1;
    }
    return 0;
}

/* a - b, or false when either is unknown. A slot ahead of the replay position
 * of a standby counts as retaining nothing. */
static bool distance(bool has_a, pgrepl_lsn a, bool has_b, pgrepl_lsn b, uint64_t *out)
{
    if (!has_a || !has_b)
        return false;
    *out = a > b ? a - b : 0;
    return true;
}

static void read_slot(const PGresult *r, int row, slot_row *s)
{
    s->name = value(r, row, S_NAME);
    s->type = value(r, row, S_TYPE);
    s->plugin = value(r, row, S_PLUGIN);
    s->database = value(r, row, S_DATABASE);
    s->temporary = is_true(value(r, row, S_TEMPORARY));
    s->active = is_true(value(r, row, S_ACTIVE));
    s->active_pid = long_of(value(r, row, S_ACTIVE_PID));
    s->has_restart_lsn = lsn_of(value(r, row, S_RESTART_LSN), &s->restart_lsn);
    s->has_confirmed_flush = lsn_of(value(r, row, S_CONFIRMED_FLUSH), &s->confirmed_flush);
    pgrepl_lsn current;
    bool has_current = lsn_of(value(r, row, S_CURRENT_LSN), &current);
    s->has_retained = distance(has_current, current, s->has_restart_lsn, s->restart_lsn, &s->retained);
    s->has_lag = distance(has_current, current, s->has_confirmed_flush, s->confirmed_flush, &s->lag);

    s->wal_status = value(r, row, S_OPTIONAL + F_WAL_STATUS);
    const char *safe = value(r, row, S_OPTIONAL + F_SAFE_WAL_SIZE);
    s->has_safe_wal_size = safe != NULL;
    s->safe_wal_size = safe != NULL ? strtoll(safe, NULL, 10) : 0;
    s->two_phase = opt_bool_of(value(r, row, S_OPTIONAL + F_TWO_PHASE));
    s->conflicting = opt_bool_of(value(r, row, S_OPTIONAL + F_CONFLICTING));
    s->failover = opt_bool_of(value(r, row, S_OPTIONAL + F_FAILOVER));
    s->synced = opt_bool_of(value(r, row, S_OPTIONAL + F_SYNCED));
    s->inactive_since = value(r, row, S_OPTIONAL + F_INACTIVE_SINCE);
    /* inactive_since is kept by the server for active slots too on some
     * majors; an age only means something while the slot is inactive. */
    const char *age = value(r, row, S_OPTIONAL + F_INACTIVE_SECONDS);
    s->has_inactive_seconds = age != NULL && !s->active;
    s->inactive_seconds = s->has_inactive_seconds ? strtod(age, NULL) : 0;
    s->invalidation_reason = value(r, row, S_OPTIONAL + F_INVALIDATION_REASON);
}

static PGresult *query_slots(PGconn *conn, const snapshot *snap, const char *only_slot)
{
    char sql[4096];
    size_t len = (size_t)snprintf(sql, sizeof sql, "%s", slots_select);
    for (int f = 0; f < F_COUNT; f++)
        len += (size_t)snprintf(sql + len, sizeof sql - len, ", %s", snap->has[f] ? optional_fields[f].expr : "NULL");
    len += (size_t)snprintf(sql + len, sizeof sql - len, "%s%s ORDER BY s.slot_name", slots_from,
                            only_slot != NULL ? " WHERE s.slot_name = $1" : "");
    if (len >= sizeof sql) {
        slots_error("the slot query does not fit its buffer");
        return NULL;
    }
    const char *params[1] = {only_slot};
    PGresult *res = PQexecParams(conn, sql, only_slot != NULL ? 1 : 0, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        query_failed(conn, "reading pg_replication_slots");
        PQclear(res);
        return NULL;
    }
    return res;
}

int slots_snapshot_take(PGconn *conn, const char *only_slot, snapshot *snap)
{
    memset(snap, 0, sizeof *snap);
    snap->info = PQexec(conn, info_sql);
    if (PQresultStatus(snap->info) != PGRES_TUPLES_OK || PQntuples(snap->info) != 1) {
        query_failed(conn, "reading the server settings");
        slots_snapshot_free(snap);
        return -1;
    }
    if (read_info(snap) != 0 || (snap->rows = query_slots(conn, snap, only_slot)) == NULL) {
        slots_snapshot_free(snap);
        return -1;
    }
    int n = PQntuples(snap->rows);
    snap->slots = calloc(n > 0 ? (size_t)n : 1, sizeof *snap->slots);
    if (snap->slots == NULL) {
        slots_error("out of memory");
        slots_snapshot_free(snap);
        return -1;
    }
    for (int i = 0; i < n; i++)
        read_slot(snap->rows, i, &snap->slots[i]);
    snap->nslots = (size_t)n;
    return 0;
}

void slots_snapshot_free(snapshot *snap)
{
    free(snap->slots);
    PQclear(snap->info);
    PQclear(snap->rows);
    memset(snap, 0, sizeof *snap);
}
