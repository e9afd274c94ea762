/*
 * Slot commands: CREATE_REPLICATION_SLOT (with SNAPSHOT 'use', inside the
 * transaction it needs), DROP_REPLICATION_SLOT and the slot query, queued
 * by the application and run one at a time on the replication connection
 * when nothing else is in flight (the core asks, pgrepl__slots_run_next).
 * Each completes exactly once through its callback: with the server's
 * answer, or with a failure status when it could not run or the stream
 * stopped or closed first.
 */
#include <string.h>

#include "alloc.h"
#include "command.h"
#include "pqerror.h"
#include "pqresult.h"
#include "session_int.h"

/* The server truncates names to NAMEDATALEN - 1 = 63 bytes: a longer one would name another slot. */
#define MAX_SLOT_NAME 63

typedef enum cmd_kind { CMD_CREATE, CMD_DROP, CMD_INFO } cmd_kind;

typedef struct slot_cmd {
    struct slot_cmd *next;
    cmd_kind kind;
    char *name;
    unsigned flags;
    pgrepl_snapshot_action snapshot;
    bool wait;
    pgrepl_slot_created_cb created_cb;
    pgrepl_slot_cb done_cb;
    pgrepl_slot_info_cb info_cb;
    void *arg; /* the application's, for the callback */
} slot_cmd;

static void free_cmd(slot_cmd *c)
{
    pgrepl__free(c->name);
    pgrepl__free(c);
}

static void complete_created(pgrepl_session *s, slot_cmd *c, int status, const pgrepl_slot_created *created)
{
    pgrepl__notify(s, &(pgrepl_note){.kind = NOTE_SLOT_CREATED, .created_cb = c->created_cb, .arg = c->arg,
                                     .status = status, .created = created});
}

/* Complete c with a failure status (no result to show). */
static void complete_failed(pgrepl_session *s, slot_cmd *c, int status)
{
    switch (c->kind) {
    case CMD_CREATE:
        complete_created(s, c, status, NULL);
        break;
    case CMD_DROP:
        pgrepl__notify(s,
                       &(pgrepl_note){.kind = NOTE_SLOT_DONE, .done_cb = c->done_cb, .arg = c->arg, .status = status});
        break;
    case CMD_INFO:
        pgrepl__notify(s,
                       &(pgrepl_note){.kind = NOTE_SLOT_INFO, .info_cb = c->info_cb, .arg = c->arg, .status = status});
        break;
    }
    free_cmd(c);
}

void pgrepl__slots_cancel_current(pgrepl_session *s, int status)
{
    slot_cmd *c = s->slots.cur;
    s->slots.cur = NULL;
    s->slots.use_txn = false;
    if (c != NULL)
        complete_failed(s, c, status);
}

/* Slot commands and a held snapshot take the application's time, not the setup's. */
void pgrepl__slots_init(pgrepl_session *s)
{
    s->slots.queue_tail = &s->slots.queue;
}

bool pgrepl__slots_pending(const pgrepl_session *s)
{
    return s->slots.queue != NULL;
}

bool pgrepl__slots_in_flight(const pgrepl_session *s)
{
    return s->slots.cur != NULL;
}

/* The command in flight runs inside the SNAPSHOT 'use' transaction (held until pgrepl_session_snapshot_done). */
bool pgrepl__slots_in_txn(const pgrepl_session *s)
{
    return s->slots.use_txn;
}

/* The SNAPSHOT 'use' transaction ended (or none was open). */
void pgrepl__slots_txn_over(pgrepl_session *s)
{
    s->slots.use_txn = false;
}

/* After close: the queued commands complete with status, in order. */
void pgrepl__slots_cancel_queued(pgrepl_session *s, int status)
{
    while (s->slots.queue != NULL) {
        slot_cmd *c = s->slots.queue;
        s->slots.queue = c->next;
        complete_failed(s, c, status);
    }
}

/* Free every command without callbacks (pgrepl_session_free before close completed). */
void pgrepl__slots_free(pgrepl_session *s)
{
    while (s->slots.queue != NULL) {
        slot_cmd *c = s->slots.queue;
        s->slots.queue = c->next;
        free_cmd(c);
    }
    if (s->slots.cur != NULL)
        free_cmd(s->slots.cur);
}

static void disarm_deadline(pgrepl_session *s)
{
    pgrepl__set_wait(s, -1);
    pgrepl__clear_wait_due(s);
}

static void created_done(pgrepl_session *s, const PGresult *res)
{
    slot_cmd *c = s->slots.cur;
    pgrepl_slot_created info = {.slot_name = c->name, .created = true, .plugin = "pgoutput"};
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) < 4 ||
        pgrepl_lsn_parse(PQgetvalue(res, 0, 1), &info.consistent_point) != 0) {
        pgrepl__set_errmsg(s, NULL, "CREATE_REPLICATION_SLOT: unexpected result");
        s->slots.cur = NULL;
        complete_failed(s, c, PGREPL_EPROTOCOL);
        return;
    }
    info.slot_name = PQgetvalue(res, 0, 0);
    info.snapshot_name = pgrepl__value_or_null(res, 2);
    info.plugin = PQgetvalue(res, 0, 3);
    /* the snapshot lives until the next command: hold the connection for the application */
    bool held = c->snapshot != PGREPL_SNAPSHOT_NOTHING;
    pgrepl__set_phase(s, held ? PH_HELD : PH_IDLE);
    s->slots.cur = NULL;
    pgrepl__set_errmsg(s, NULL, "%s", "");
    complete_created(s, c, 0, &info);
    free_cmd(c);
    if (held && pgrepl__phase(s) == PH_HELD && !pgrepl__release_asked(s))
        pgrepl__set_state(s, PGREPL_STREAM_READY);
}

static void create_failed(pgrepl_session *s, const PGresult *res)
{
    slot_cmd *c = s->slots.cur;
    pgrepl_server_message m;
    pgrepl__server_message(res, &m);
    s->slots.cur = NULL;
    pgrepl__set_phase(s, PH_IDLE);
    /* an aborted SNAPSHOT 'use' transaction must be rolled back before anything else runs */
    if (s->slots.use_txn)
        pgrepl__send_command(s, "ROLLBACK", PH_SLOT_END);
    if ((c->flags & PGREPL_SLOT_IF_NOT_EXISTS) && strcmp(m.sqlstate, "42710") == 0) {
        pgrepl_slot_created info = {.slot_name = c->name, .created = false};
        pgrepl__set_errmsg(s, NULL, "%s", "");
        complete_created(s, c, 0, &info);
        free_cmd(c);
        return;
    }
    pgrepl__set_errmsg(s, &m, "CREATE_REPLICATION_SLOT failed: %s %s: %s", m.severity, m.sqlstate, m.message);
    complete_failed(s, c, *m.sqlstate ? PGREPL_ESERVER : PGREPL_ECONNLOST);
}

/* The command `what` failed with res: the server's message as the stream's, and the status for the callback. */
static int failed(pgrepl_session *s, const PGresult *res, const char *what)
{
    pgrepl_server_message m;
    pgrepl__server_message(res, &m);
    pgrepl__set_errmsg(s, &m, "%s failed: %s %s: %s", what, m.severity, m.sqlstate, m.message);
    return *m.sqlstate ? PGREPL_ESERVER : PGREPL_ECONNLOST;
}

static void drop_done(pgrepl_session *s, const PGresult *res)
{
    slot_cmd *c = s->slots.cur;
    s->slots.cur = NULL;
    pgrepl__set_phase(s, PH_IDLE);
    int status = 0;
    if (pgrepl__is_error(res)) {
        status = failed(s, res, "DROP_REPLICATION_SLOT");
    } else {
        pgrepl__set_errmsg(s, NULL, "%s", "");
    }
    pgrepl__notify(s, &(pgrepl_note){.kind = NOTE_SLOT_DONE, .done_cb = c->done_cb, .arg = c->arg, .status = status});
    free_cmd(c);
}

static void fill_info(const PGresult *res, pgrepl_slot_info *i)
{
    i->exists = !PQgetisnull(res, 0, PGREPL_SLOTCOL_NAME);
    i->slot_name = pgrepl__value_or_null(res, PGREPL_SLOTCOL_NAME);
    i->plugin = pgrepl__value_or_null(res, PGREPL_SLOTCOL_PLUGIN);
    i->slot_type = pgrepl__value_or_null(res, PGREPL_SLOTCOL_TYPE);
    i->database = pgrepl__value_or_null(res, PGREPL_SLOTCOL_DATABASE);
    i->temporary = pgrepl__col_bool(res, PGREPL_SLOTCOL_TEMPORARY);
    i->active = pgrepl__col_bool(res, PGREPL_SLOTCOL_ACTIVE);
    i->active_pid = (int)pgrepl__col_int(res, PGREPL_SLOTCOL_ACTIVE_PID, 0);
    i->restart_lsn = pgrepl__col_lsn(res, PGREPL_SLOTCOL_RESTART_LSN);
    i->confirmed_flush_lsn = pgrepl__col_lsn(res, PGREPL_SLOTCOL_CONFIRMED_FLUSH_LSN);
    i->current_wal_lsn = pgrepl__col_lsn(res, PGREPL_SLOTCOL_CURRENT_WAL_LSN);
    i->retained_bytes = -1;
    if (i->restart_lsn != 0 && i->current_wal_lsn >= i->restart_lsn)
        i->retained_bytes = (int64_t)(i->current_wal_lsn - i->restart_lsn);
    i->wal_status = pgrepl__value_or_null(res, PGREPL_SLOTCOL_WAL_STATUS);
    i->safe_wal_size = pgrepl__col_int(res, PGREPL_SLOTCOL_SAFE_WAL_SIZE, -1);
    i->two_phase = pgrepl__col_bool(res, PGREPL_SLOTCOL_TWO_PHASE);
    i->conflicting = pgrepl__col_bool(res, PGREPL_SLOTCOL_CONFLICTING);
    i->invalidation_reason = pgrepl__value_or_null(res, PGREPL_SLOTCOL_INVALIDATION_REASON);
    i->failover = pgrepl__col_bool(res, PGREPL_SLOTCOL_FAILOVER);
}

static void info_done(pgrepl_session *s, const PGresult *res)
{
    slot_cmd *c = s->slots.cur;
    s->slots.cur = NULL;
    pgrepl__set_phase(s, PH_IDLE);
    pgrepl_slot_info info = {0};
    int status = 0;
    if (pgrepl__is_error(res)) {
        status = failed(s, res, "slot query");
    } else if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
               PQnfields(res) != PGREPL_SLOTCOL_COUNT) {
        pgrepl__set_errmsg(s, NULL, "slot query: unexpected result");
        status = PGREPL_EPROTOCOL;
    } else {
        pgrepl__set_errmsg(s, NULL, "%s", "");
        fill_info(res, &info);
    }
    pgrepl__notify(s, &(pgrepl_note){.kind = NOTE_SLOT_INFO, .info_cb = c->info_cb, .arg = c->arg, .status = status,
                                     .info = status == 0 ? &info : NULL});
    free_cmd(c);
}

void pgrepl__slots_done(pgrepl_session *s, const PGresult *res)
{
    switch (s->slots.cur->kind) {
    case CMD_CREATE:
        if (pgrepl__is_error(res))
            create_failed(s, res);
        else
            created_done(s, res);
        return;
    case CMD_DROP:
        drop_done(s, res);
        return;
    case CMD_INFO:
        info_done(s, res);
        return;
    }
}

/* Text of the slot command c, or an error status (message set). */
static int build_slot_cmd(pgrepl_session *s, const slot_cmd *c, pgrepl_str *sql)
{
    const char *why = "";
    int rc = 0;
    switch (c->kind) {
    case CMD_CREATE:
        rc = pgrepl__cmd_create_slot(sql, pgrepl_session_server_version(s), c->name, c->flags, c->snapshot, &why);
        break;
    case CMD_DROP:
        rc = pgrepl__cmd_drop_slot(sql, c->name, c->wait);
        break;
    case CMD_INFO:
        rc = pgrepl__cmd_slot_info(sql, pgrepl_session_server_version(s), c->name);
        break;
    }
    if (rc == PGREPL_EUNSUPPORTED)
        pgrepl__set_errmsg(s, NULL, "%s (server version %d)", why, pgrepl_session_server_version(s));
    else if (rc != 0)
        pgrepl__set_errmsg(s, NULL, "%s", pgrepl_strerror(rc));
    return rc;
}

void pgrepl__slots_run_next(pgrepl_session *s)
{
    disarm_deadline(s);
    slot_cmd *c = s->slots.queue;
    s->slots.queue = c->next;
    if (s->slots.queue == NULL)
        s->slots.queue_tail = &s->slots.queue;
    c->next = NULL;
    pgrepl_str sql;
    pgrepl__str_init(&sql);
    int rc = build_slot_cmd(s, c, &sql);
    if (rc != 0) {
        complete_failed(s, c, rc);
    } else if (c->kind == CMD_CREATE && c->snapshot == PGREPL_SNAPSHOT_USE) {
        s->slots.cur = c;
        pgrepl__send_command(s, pgrepl__snapshot_use_begin, PH_SLOT_BEGIN);
    } else {
        s->slots.cur = c;
        pgrepl__send_command(s, sql.data, PH_SLOT);
    }
    pgrepl__str_free(&sql);
}

void pgrepl__slots_begin_done(pgrepl_session *s, const PGresult *res)
{
    if (pgrepl__is_error(res)) {
        create_failed(s, res);
        return;
    }
    pgrepl_str sql;
    pgrepl__str_init(&sql);
    int rc = build_slot_cmd(s, s->slots.cur, &sql);
    if (rc != 0) {
        slot_cmd *c = s->slots.cur;
        s->slots.cur = NULL;
        complete_failed(s, c, rc);
        pgrepl__send_command(s, "ROLLBACK", PH_SLOT_END);
    } else {
        s->slots.use_txn = true;
        pgrepl__send_command(s, sql.data, PH_SLOT);
    }
    pgrepl__str_free(&sql);
}

/* ---- public API ---------------------------------------------------------------------- */

bool pgrepl__bad_slot_name(const char *name)
{
    return name == NULL || *name == '\0' || strlen(name) > MAX_SLOT_NAME;
}

static int queue_cmd(pgrepl_session *s, slot_cmd *proto, const char *name)
{
    if (s == NULL || pgrepl__bad_slot_name(name))
        return PGREPL_EINVAL;
    pgrepl_stream_state state = pgrepl_session_get_state(s);
    bool open = state == PGREPL_STREAM_STOPPED || state == PGREPL_STREAM_CONNECTING || state == PGREPL_STREAM_READY ||
                state == PGREPL_STREAM_RECONNECTING;
    if (pgrepl__closing(s) || !open)
        return PGREPL_ESTATE;
    slot_cmd *c = pgrepl__malloc(sizeof *c);
    if (c == NULL)
        return PGREPL_ENOMEM;
    *c = *proto;
    c->next = NULL;
    c->name = pgrepl__strndup(name, strlen(name));
    if (c->name == NULL) {
        pgrepl__free(c);
        return PGREPL_ENOMEM;
    }
    *s->slots.queue_tail = c;
    s->slots.queue_tail = &c->next;
    pgrepl__kick(s);
    return 0;
}

int pgrepl_session_create_slot(pgrepl_session *s, const char *name, unsigned flags, pgrepl_snapshot_action snapshot,
                              pgrepl_slot_created_cb cb, void *arg)
{
    const unsigned known =
        PGREPL_SLOT_TEMPORARY | PGREPL_SLOT_TWO_PHASE | PGREPL_SLOT_FAILOVER | PGREPL_SLOT_IF_NOT_EXISTS;
    if ((flags & ~known) != 0 || snapshot < PGREPL_SNAPSHOT_NOTHING || snapshot > PGREPL_SNAPSHOT_USE)
        return PGREPL_EINVAL;
    slot_cmd c = {.kind = CMD_CREATE, .flags = flags, .snapshot = snapshot, .created_cb = cb, .arg = arg};
    return queue_cmd(s, &c, name);
}

int pgrepl_session_drop_slot(pgrepl_session *s, const char *name, bool wait, pgrepl_slot_cb cb, void *arg)
{
    slot_cmd c = {.kind = CMD_DROP, .wait = wait, .done_cb = cb, .arg = arg};
    return queue_cmd(s, &c, name);
}

int pgrepl_session_slot_info(pgrepl_session *s, const char *name, pgrepl_slot_info_cb cb, void *arg)
{
    slot_cmd c = {.kind = CMD_INFO, .info_cb = cb, .arg = arg};
    return queue_cmd(s, &c, name);
}
