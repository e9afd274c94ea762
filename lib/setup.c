/*
 * The setup of a replication connection, after it connected: the command
 * plan IDENTIFY_SYSTEM, SHOW wal_sender_timeout, the session settings,
 * then (after any slot commands) the check before streaming (publications,
 * the slot's type, database and validity, and where the slot is against
 * what this consumer holds, told to the application as the start report)
 * and START_REPLICATION. It keeps what the server told and the connect
 * deadline, which covers the whole setup: libpq ignores connect_timeout in
 * non-blocking mode.
 *
 * The core sends each step's result here (pgrepl__setup_*_done); each
 * sends the next command or fails the stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "pqresult.h"
#include "session_int.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 10000

/*
 * The connect deadline: libpq ignores connect_timeout in non-blocking mode,
 * so the stream keeps its own, over the whole setup (every host libpq
 * tries, IDENTIFY_SYSTEM, the settings, the check, START_REPLICATION).
 */
void pgrepl__setup_arm_deadline(pgrepl_session *s)
{
    s->setup.deadline_ms =
        s->cfg.connect_timeout_ms != 0 ? s->cfg.connect_timeout_ms : pgrepl__conn_connect_timeout_ms(pgrepl__conn(s));
    if (s->setup.deadline_ms == 0)
        s->setup.deadline_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    pgrepl__clear_wait_due(s);
    pgrepl__set_wait(s, pgrepl__now_us(s) + (int64_t)s->setup.deadline_ms * 1000);
}

static pgrepl_lsn requested_start(const pgrepl_session *s)
{
    return pgrepl__ledger_start_at(pgrepl__positions(s), s->cfg.start_lsn, s->cfg.durable_lsn);
}

uint64_t pgrepl__setup_deadline_ms(const pgrepl_session *s)
{
    return s->setup.deadline_ms;
}

/* Another slot: nothing is known of what this consumer holds on it. */
void pgrepl__setup_new_slot(pgrepl_session *s)
{
    s->setup.held = 0;
    s->setup.starts = 0;
}

/* Connected: the plan begins. */
void pgrepl__setup_identify(pgrepl_session *s)
{
    pgrepl__send_command(s, "IDENTIFY_SYSTEM", PH_IDENTIFY);
}

/*
 * A start beyond the server's WAL would make it skip every change up to
 * there, for this consumer and every later one, once confirmed: refuse it.
 * Whatever this stream received is below the server's flushed WAL, also
 * after a crash, unless the server is another cluster or was restored.
 */
static bool beyond_wal(pgrepl_session *s)
{
    pgrepl_lsn want = requested_start(s);
    if (want <= s->setup.xlogpos)
        return false;
    char w[PGREPL_LSN_BUFSIZE], x[PGREPL_LSN_BUFSIZE];
    pgrepl_lsn_format(want, w);
    pgrepl_lsn_format(s->setup.xlogpos, x);
    const char *what = want == pgrepl__positions(s)->acked ? "what this stream already received and acknowledged"
                       : want == s->cfg.durable_lsn ? "the durable position (pgrepl_stream_set_durable_lsn)"
                                                : "the start position (pgrepl_stream_set_start_lsn)";
    pgrepl__fail_with(s, PGREPL_EINVAL, (pgrepl_verdict){true, pgrepl__hint_beyond_wal}, NULL,
                      "cannot start at %s, %s: the server's WAL ends at %s, and the server would skip every change "
                      "up to %s",
                      w, what, x, w);
    return true;
}

void pgrepl__setup_identify_done(pgrepl_session *s, const PGresult *res)
{
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) < 3) {
        pgrepl__fail(s, PGREPL_EPROTOCOL, true, NULL, "IDENTIFY_SYSTEM: unexpected result (%d rows, %d columns)",
                     PQntuples(res), PQnfields(res));
        return;
    }
    snprintf(s->setup.system_id, sizeof s->setup.system_id, "%s", PQgetvalue(res, 0, 0));
    s->setup.timeline = (uint32_t)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
    if (pgrepl_lsn_parse(PQgetvalue(res, 0, 2), &s->setup.xlogpos) != 0) {
        pgrepl__fail(s, PGREPL_EPROTOCOL, true, NULL, "IDENTIFY_SYSTEM: bad xlogpos \"%s\"", PQgetvalue(res, 0, 2));
        return;
    }
    if (beyond_wal(s))
        return;
    /* the server's WAL reaches it: the durable position counts as received and acknowledged */
    pgrepl__delivery_durable(s, s->cfg.durable_lsn);
    s->setup.server_version = pgrepl__conn_server_version(pgrepl__conn(s));
    snprintf(s->setup.server_encoding, sizeof s->setup.server_encoding, "%s",
             pgrepl__conn_parameter(pgrepl__conn(s), "server_encoding"));
    pgrepl__send_command(s, "SHOW wal_sender_timeout", PH_SHOW);
}

void pgrepl__setup_show_done(pgrepl_session *s, const PGresult *res)
{
    const char *v = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : NULL;
    if (pgrepl__parse_duration_ms(v, &s->setup.sender_timeout_ms) != 0) {
        pgrepl__fail(s, PGREPL_EPROTOCOL, true, NULL, "SHOW wal_sender_timeout: unexpected value \"%s\"", v ? v : "");
        return;
    }
    bool raw = strcmp(s->setup.server_encoding, "SQL_ASCII") == 0;
    pgrepl__send_command(s, raw ? pgrepl__session_settings_sql_ascii : pgrepl__session_settings, PH_SETTINGS);
}

static void send_start(pgrepl_session *s)
{
    pgrepl_start_cmd c = {
        .server_version = s->setup.server_version,
        .slot = s->cfg.slot,
        .start_lsn = requested_start(s),
        .proto_version = s->cfg.proto_req,
        .publications = (const char *const *)s->cfg.pubs,
        .npublications = s->cfg.npubs,
        .binary = s->cfg.binary,
        .messages = s->cfg.messages,
        .two_phase = s->cfg.two_phase,
        .streaming = s->cfg.streaming,
        .origin = s->cfg.origin,
    };
    pgrepl_str sql;
    pgrepl__str_init(&sql);
    const char *why = "";
    int rc = pgrepl__cmd_start(&sql, &c, &s->setup.proto, &why);
    if (rc == PGREPL_EUNSUPPORTED)
        pgrepl__fail(s, rc, true, NULL, "START_REPLICATION: %s (server version %d)", why, s->setup.server_version);
    else if (rc != 0)
        pgrepl__fail(s, rc, false, NULL, "START_REPLICATION: %s", pgrepl_strerror(rc));
    else if ((rc = pgrepl__conn_start_copy(pgrepl__conn(s), sql.data)) != 0)
        pgrepl__fail(s, rc, false, NULL, "START_REPLICATION: cannot send: %s", pgrepl_strerror(rc));
    else
        pgrepl__set_phase(s, PH_START); /* a failure to send arrives as a FAILED event */
    pgrepl__str_free(&sql);
    if (rc == 0)
        pgrepl__delivery_restart(s, c.start_lsn);
    if (rc == 0)
        pgrepl__set_state(s, PGREPL_STREAM_CONNECTING);
}

/* The check runs before every START_REPLICATION, so also after each reconnection. */
void pgrepl__setup_check(pgrepl_session *s)
{
    pgrepl_str sql;
    pgrepl__str_init(&sql);
    if (pgrepl__check_sql(&sql, s->setup.server_version, s->cfg.slot, (const char *const *)s->cfg.pubs,
                          s->cfg.npubs) != 0) {
        pgrepl__fail(s, PGREPL_ENOMEM, false, NULL, "the check before streaming: out of memory");
    } else {
        pgrepl__setup_arm_deadline(s);
        pgrepl__send_command(s, sql.data, PH_CHECK);
        pgrepl__set_state(s, PGREPL_STREAM_CONNECTING);
    }
    pgrepl__str_free(&sql);
}

/*
 * Before START_REPLICATION: where the slot is against what this consumer
 * holds. A slot ahead of it means the server would skip changes this
 * consumer never had; when this stream streamed from the slot before, that
 * is certain (someone else moved it). Tells the application (on_start) and
 * fails with PGREPL_EGAP on a certain gap unless gaps are allowed. Returns
 * whether to go on.
 */
static bool report_start(pgrepl_session *s, pgrepl_lsn confirmed)
{
    /* what it asks for (start, durable, acknowledged) and what it confirmed here */
    pgrepl_lsn requested = requested_start(s);
    pgrepl_lsn held = pgrepl__lsn_max(pgrepl__lsn_max(s->setup.held, pgrepl__positions(s)->reported), requested);
    bool known = held != 0 || s->setup.starts > 0;
    pgrepl_start_info info = {.requested = requested,
                              .slot_confirmed = confirmed,
                              .held = held,
                              .connection = s->setup.starts + 1,
                              .system_id = s->setup.system_id,
                              .timeline = s->setup.timeline,
                              .server_wal = s->setup.xlogpos};
    if (known && confirmed > held) {
        info.skipped_from = held;
        info.skipped_to = confirmed;
        info.skip_certain = s->setup.starts > 0;
    }
    s->setup.held = pgrepl__lsn_max(held, confirmed);
    s->setup.starts++;
    pgrepl__notify(s, &(pgrepl_note){.kind = NOTE_START, .start = &info});
    if (pgrepl__stop_asked(s) || pgrepl__closing(s) || pgrepl__phase(s) != PH_CHECK)
        return false;
    if (info.skip_certain && !s->cfg.allow_gaps) {
        char from[PGREPL_LSN_BUFSIZE], to[PGREPL_LSN_BUFSIZE];
        pgrepl_lsn_format(info.skipped_from, from);
        pgrepl_lsn_format(info.skipped_to, to);
        pgrepl__fail_with(s, PGREPL_EGAP, (pgrepl_verdict){true, pgrepl__hint_gap}, NULL,
                          "replication slot \"%s\" was moved to %s while this consumer holds only up to %s: the "
                          "changes from %s to %s would be skipped",
                          s->cfg.slot, to, from, from, to);
        return false;
    }
    return true;
}

/*
 * Missing publications stop the stream before it starts (14-17 would fail
 * only at the first decoded change, 18 only warns and skips the changes).
 * An invalidated slot is named as such: the error that ended the last
 * connection (57P01) looks like any administrator's termination.
 */
void pgrepl__setup_check_done(pgrepl_session *s, const PGresult *res)
{
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) != PGREPL_CHECK_COLUMNS) {
        pgrepl__fail(s, PGREPL_EPROTOCOL, true, NULL, "the check before streaming: unexpected result");
        return;
    }
    /* no such slot: START_REPLICATION says so in the server's words (42704) */
    if (strcmp(PQgetvalue(res, 0, PGREPL_CHECK_SLOT_EXISTS), "t") != 0) {
        send_start(s);
        return;
    }
    const char *type = PQgetvalue(res, 0, PGREPL_CHECK_SLOT_TYPE);
    if (strcmp(type, "logical") != 0) {
        pgrepl__fail_with(s, PGREPL_ESTATE, (pgrepl_verdict){true, NULL}, NULL,
                          "replication slot \"%s\" is a %s slot, not a logical one", s->cfg.slot, type);
        return;
    }
    const char *db = PQgetvalue(res, 0, PGREPL_CHECK_SLOT_DATABASE);
    const char *here = PQgetvalue(res, 0, PGREPL_CHECK_DATABASE);
    if (strcmp(db, here) != 0) {
        pgrepl__fail_with(s, PGREPL_ESTATE, (pgrepl_verdict){true, pgrepl__hint_other_database}, NULL,
                          "replication slot \"%s\" belongs to database \"%s\", not to \"%s\" (the connection's)",
                          s->cfg.slot, db, here);
        return;
    }
    if (!PQgetisnull(res, 0, PGREPL_CHECK_MISSING_PUBS)) {
        pgrepl__fail_with(s, PGREPL_ENOTFOUND, (pgrepl_verdict){true, pgrepl__hint_publication}, NULL,
                          "missing publication(s): %s", PQgetvalue(res, 0, PGREPL_CHECK_MISSING_PUBS));
        return;
    }
    const char *why = pgrepl__slot_invalidation(pgrepl__value_or_null(res, PGREPL_CHECK_WAL_STATUS),
                                                pgrepl__value_or_null(res, PGREPL_CHECK_CONFLICTING),
                                                pgrepl__value_or_null(res, PGREPL_CHECK_INVALIDATION));
    if (why != NULL) {
        pgrepl__fail_with(s, PGREPL_ESTATE, (pgrepl_verdict){true, pgrepl__hint_invalidated}, NULL,
                          "replication slot \"%s\" has been invalidated (%s)", s->cfg.slot, why);
        return;
    }
    if (report_start(s, pgrepl__col_lsn(res, PGREPL_CHECK_CONFIRMED)))
        send_start(s);
}

/* ---- public API: what the server said ------------------------------------------------ */

int pgrepl_session_server_version(const pgrepl_session *s)
{
    return s != NULL ? s->setup.server_version : 0;
}

const char *pgrepl_session_server_encoding(const pgrepl_session *s)
{
    return s != NULL ? s->setup.server_encoding : "";
}

const char *pgrepl_session_system_id(const pgrepl_session *s)
{
    return s != NULL ? s->setup.system_id : "";
}

uint32_t pgrepl_session_timeline(const pgrepl_session *s)
{
    return s != NULL ? s->setup.timeline : 0;
}

pgrepl_lsn pgrepl_session_server_xlogpos(const pgrepl_session *s)
{
    return s != NULL ? s->setup.xlogpos : 0;
}

uint64_t pgrepl_session_wal_sender_timeout_ms(const pgrepl_session *s)
{
    return s != NULL ? s->setup.sender_timeout_ms : 0;
}

int pgrepl_session_proto_version(const pgrepl_session *s)
{
    return s != NULL ? s->setup.proto : 0;
}
