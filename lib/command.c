#include <stdio.h>
#include <string.h>

#include "command.h"
#include "quote.h"

/*
 * pgoutput prints text values with the walsender session's settings; pinning
 * them makes output independent of the server's and the role's defaults.
 * standard_conforming_strings makes our own SQL literals mean what
 * pgrepl__str_quote_literal assumes. client_encoding UTF8: pgoutput converts
 * names and text values to the session's client encoding, which libpq
 * otherwise takes from the database (a LATIN1 database's bytes are not
 * UTF-8). Not for a SQL_ASCII database: the server would refuse to send
 * its bytes that are not UTF-8, and stop the stream; they pass as they are
 * (pgrepl_stream_server_encoding).
 */
#define SETTINGS                                                                                                      \
    "SET DateStyle = ISO; SET TimeZone = 'UTC'; SET IntervalStyle = postgres; SET extra_float_digits = 3; "           \
    "SET bytea_output = hex; SET standard_conforming_strings = on"
const char pgrepl__session_settings[] = SETTINGS "; SET client_encoding = 'UTF8'";
const char pgrepl__session_settings_sql_ascii[] = SETTINGS;

const char pgrepl__snapshot_use_begin[] = "BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ";

int pgrepl__max_proto_version(int server_version)
{
    if (server_version >= 160000)
        return 4;
    if (server_version >= 150000)
        return 3;
    if (server_version >= 140000)
        return 2;
    return 1;
}

static void option(pgrepl_str *out, bool *first, const char *name, const char *value)
{
    pgrepl__str_append(out, *first ? " (" : ", ");
    *first = false;
    pgrepl__str_quote_ident(out, name);
    pgrepl__str_append(out, " ");
    pgrepl__str_quote_literal(out, value);
}

static const char *boolean(bool on)
{
    return on ? "true" : "false";
}

static int resolve_proto(const pgrepl_start_cmd *c, int *proto, const char **why)
{
    int max = pgrepl__max_proto_version(c->server_version);
    *proto = c->proto_version != 0 ? c->proto_version : max;
    if (*proto > max) {
        *why = "proto_version is higher than the server supports";
        return PGREPL_EUNSUPPORTED;
    }
    return 0;
}

/* The value of the streaming option, NULL when it is not sent. */
static int streaming_value(const pgrepl_start_cmd *c, int proto, const char **value, const char **why)
{
    *value = NULL;
    switch (c->streaming) {
    case PGREPL_STREAMING_OFF:
        return 0;
    case PGREPL_STREAMING_ON:
        if (proto < 2) {
            *why = "streaming needs proto_version 2 or higher";
            return PGREPL_EUNSUPPORTED;
        }
        /* 14 and 15 accept only a boolean */
        *value = c->server_version >= 160000 ? "on" : "true";
        return 0;
    case PGREPL_STREAMING_PARALLEL:
        if (c->server_version < 160000 || proto < 4) {
            *why = "parallel streaming needs PostgreSQL 16 and proto_version 4";
            return PGREPL_EUNSUPPORTED;
        }
        *value = "parallel";
        return 0;
    }
    return PGREPL_EINVAL;
}

static int origin_value(const pgrepl_start_cmd *c, const char **value, const char **why)
{
    *value = NULL;
    if (c->origin == PGREPL_ORIGIN_DEFAULT)
        return 0;
    if (c->server_version < 160000) {
        *why = "the origin option needs PostgreSQL 16";
        return PGREPL_EUNSUPPORTED;
    }
    *value = c->origin == PGREPL_ORIGIN_NONE ? "none" : "any";
    return 0;
}

static int check_two_phase(const pgrepl_start_cmd *c, int proto, const char **why)
{
    if (c->two_phase && (c->server_version < 150000 || proto < 3)) {
        *why = "two_phase needs PostgreSQL 15 and proto_version 3";
        return PGREPL_EUNSUPPORTED;
    }
    return 0;
}

int pgrepl__cmd_start(pgrepl_str *out, const pgrepl_start_cmd *c, int *proto, const char **why)
{
    const char *streaming, *origin;
    int rc = resolve_proto(c, proto, why);
    if (rc == 0)
        rc = streaming_value(c, *proto, &streaming, why);
    if (rc == 0)
        rc = origin_value(c, &origin, why);
    if (rc == 0)
        rc = check_two_phase(c, *proto, why);
    if (rc != 0)
        return rc;

    char lsn[PGREPL_LSN_BUFSIZE], version[12];
    pgrepl_lsn_format(c->start_lsn, lsn);
    snprintf(version, sizeof version, "%d", *proto);
    bool first = true;
    pgrepl__str_append(out, "START_REPLICATION SLOT ");
    pgrepl__str_quote_ident(out, c->slot);
    pgrepl__str_appendf(out, " LOGICAL %s", lsn);
    option(out, &first, "proto_version", version);
    pgrepl__str_append(out, ", ");
    pgrepl__str_quote_ident(out, "publication_names");
    pgrepl__str_append(out, " ");
    pgrepl__str_quote_name_list(out, c->publications, c->npublications);
    option(out, &first, "binary", boolean(c->binary));
    option(out, &first, "messages", boolean(c->messages));
    if (streaming != NULL)
        option(out, &first, "streaming", streaming);
    if (c->two_phase)
        option(out, &first, "two_phase", "true");
    if (origin != NULL)
        option(out, &first, "origin", origin);
    pgrepl__str_append(out, ")");
    return out->oom ? PGREPL_ENOMEM : 0;
}

static int check_slot_flags(int server_version, unsigned flags, const char **why)
{
    if ((flags & PGREPL_SLOT_TWO_PHASE) && server_version < 150000) {
        *why = "two-phase slots need PostgreSQL 15";
        return PGREPL_EUNSUPPORTED;
    }
    if ((flags & PGREPL_SLOT_FAILOVER) && server_version < 170000) {
        *why = "failover slots need PostgreSQL 17";
        return PGREPL_EUNSUPPORTED;
    }
    if ((flags & PGREPL_SLOT_FAILOVER) && (flags & PGREPL_SLOT_TEMPORARY)) {
        *why = "a temporary slot cannot be a failover slot";
        return PGREPL_EUNSUPPORTED;
    }
    return 0;
}

/* 14 knows only the keyword form of the snapshot action. */
static const char *legacy_snapshot(pgrepl_snapshot_action snapshot)
{
    switch (snapshot) {
    case PGREPL_SNAPSHOT_EXPORT:
        return " EXPORT_SNAPSHOT";
    case PGREPL_SNAPSHOT_USE:
        return " USE_SNAPSHOT";
    default:
        return " NOEXPORT_SNAPSHOT";
    }
}

static const char *snapshot_option(pgrepl_snapshot_action snapshot)
{
    switch (snapshot) {
    case PGREPL_SNAPSHOT_EXPORT:
        return "'export'";
    case PGREPL_SNAPSHOT_USE:
        return "'use'";
    default:
        return "'nothing'";
    }
}

int pgrepl__cmd_create_slot(pgrepl_str *out, int server_version, const char *name, unsigned flags,
                            pgrepl_snapshot_action snapshot, const char **why)
{
    int rc = check_slot_flags(server_version, flags, why);
    if (rc != 0)
        return rc;
    pgrepl__str_append(out, "CREATE_REPLICATION_SLOT ");
    pgrepl__str_quote_ident(out, name);
    if (flags & PGREPL_SLOT_TEMPORARY)
        pgrepl__str_append(out, " TEMPORARY");
    pgrepl__str_append(out, " LOGICAL pgoutput");
    if (server_version < 150000) {
        pgrepl__str_append(out, legacy_snapshot(snapshot));
    } else {
        pgrepl__str_appendf(out, " (SNAPSHOT %s", snapshot_option(snapshot));
        if (flags & PGREPL_SLOT_TWO_PHASE)
            pgrepl__str_append(out, ", TWO_PHASE");
        if (flags & PGREPL_SLOT_FAILOVER)
            pgrepl__str_append(out, ", FAILOVER");
        pgrepl__str_append(out, ")");
    }
    return out->oom ? PGREPL_ENOMEM : 0;
}

int pgrepl__cmd_drop_slot(pgrepl_str *out, const char *name, bool wait)
{
    pgrepl__str_append(out, "DROP_REPLICATION_SLOT ");
    pgrepl__str_quote_ident(out, name);
    if (wait)
        pgrepl__str_append(out, " WAIT");
    return out->oom ? PGREPL_ENOMEM : 0;
}

int pgrepl__cmd_slot_info(pgrepl_str *out, int server_version, const char *name)
{
    pgrepl__str_append(out, "SELECT s.slot_name, s.plugin, s.slot_type, s.database, s.temporary, s.active, "
                            "s.active_pid, s.restart_lsn, s.confirmed_flush_lsn, c.lsn, s.wal_status, "
                            "s.safe_wal_size, s.two_phase, ");
    pgrepl__str_append(out, server_version >= 160000 ? "s.conflicting, " : "NULL, ");
    pgrepl__str_append(out, server_version >= 170000 ? "s.invalidation_reason, s.failover" : "NULL, NULL");
    /* A standby has no current WAL insert position; its replay position is what the slot trails. */
    pgrepl__str_append(out, " FROM (SELECT CASE WHEN pg_catalog.pg_is_in_recovery() "
                            "THEN pg_catalog.pg_last_wal_replay_lsn() ELSE pg_catalog.pg_current_wal_lsn() END "
                            "AS lsn) c LEFT JOIN pg_catalog.pg_replication_slots s ON s.slot_name = ");
    pgrepl__str_quote_literal(out, name);
    return out->oom ? PGREPL_ENOMEM : 0;
}

static const struct {
    const char *unit;
    uint64_t ms;
} duration_units[] = {
    {"", 1}, {"ms", 1}, {"s", 1000}, {"min", 60000}, {"h", 3600000}, {"d", 86400000},
};

int pgrepl__parse_duration_ms(const char *text, uint64_t *ms)
{
    if (text == NULL || *text < '0' || *text > '9')
        return PGREPL_EINVAL;
    uint64_t n = 0;
    const char *p = text;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > (UINT64_MAX - 9) / 10)
            return PGREPL_EINVAL;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    for (size_t i = 0; i < sizeof duration_units / sizeof duration_units[0]; i++) {
        if (strcmp(p, duration_units[i].unit) != 0)
            continue;
        if (n > UINT64_MAX / duration_units[i].ms)
            return PGREPL_EINVAL;
        *ms = n * duration_units[i].ms;
        return 0;
    }
    return PGREPL_EINVAL;
}
