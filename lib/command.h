/*
 * Texts of the commands the stream sends on its replication connection, and
 * parsers for what the server answers. Pure functions of the configuration
 * and the server version (protocol.md sections 1 and 2): no I/O.
 *
 * Builders append to out and return 0, PGREPL_ENOMEM, or
 * PGREPL_EUNSUPPORTED with *why set to a static sentence naming what the
 * server version lacks.
 */
#ifndef PGREPL_LIB_COMMAND_H
#define PGREPL_LIB_COMMAND_H

#include <stdbool.h>
#include <stdint.h>

#include "pgrepl/session.h"
#include "str.h"

/* Highest pgoutput proto_version of a server (14: 2, 15: 3, 16+: 4). */
int pgrepl__max_proto_version(int server_version);

/* Session settings that fix how pgoutput prints values in text form, and UTF-8 as the client encoding. */
extern const char pgrepl__session_settings[];
/* The same without the client encoding, for a SQL_ASCII database (its bytes pass as they are). */
extern const char pgrepl__session_settings_sql_ascii[];

/* BEGIN of the transaction that CREATE_REPLICATION_SLOT ... SNAPSHOT 'use' must start. */
extern const char pgrepl__snapshot_use_begin[];

typedef struct pgrepl_start_cmd {
    int server_version;
    const char *slot;
    pgrepl_lsn start_lsn;
    int proto_version; /* 0: the server's highest */
    const char *const *publications;
    int npublications;
    bool binary;
    bool messages;
    bool two_phase;
    pgrepl_streaming_mode streaming;
    pgrepl_origin_filter origin;
} pgrepl_start_cmd;

/*
 * START_REPLICATION SLOT "slot" LOGICAL X/X ("proto_version" 'N', ...).
 * *proto receives the proto_version sent.
 */
int pgrepl__cmd_start(pgrepl_str *out, const pgrepl_start_cmd *cmd, int *proto, const char **why);

/* CREATE_REPLICATION_SLOT in the syntax of server_version (flags: PGREPL_SLOT_*). */
int pgrepl__cmd_create_slot(pgrepl_str *out, int server_version, const char *name, unsigned flags,
                            pgrepl_snapshot_action snapshot, const char **why);

/* DROP_REPLICATION_SLOT "name" [WAIT] */
int pgrepl__cmd_drop_slot(pgrepl_str *out, const char *name, bool wait);

/*
 * One row from pg_replication_slots for name (all NULL but current_wal_lsn
 * when there is no such slot), with the columns the server version has;
 * the others are NULL. Column order: the PGREPL_SLOTCOL_* indexes.
 */
int pgrepl__cmd_slot_info(pgrepl_str *out, int server_version, const char *name);

enum {
    PGREPL_SLOTCOL_NAME,
    PGREPL_SLOTCOL_PLUGIN,
    PGREPL_SLOTCOL_TYPE,
    PGREPL_SLOTCOL_DATABASE,
    PGREPL_SLOTCOL_TEMPORARY,
    PGREPL_SLOTCOL_ACTIVE,
    PGREPL_SLOTCOL_ACTIVE_PID,
    PGREPL_SLOTCOL_RESTART_LSN,
    PGREPL_SLOTCOL_CONFIRMED_FLUSH_LSN,
    PGREPL_SLOTCOL_CURRENT_WAL_LSN,
    PGREPL_SLOTCOL_WAL_STATUS,
    PGREPL_SLOTCOL_SAFE_WAL_SIZE,
    PGREPL_SLOTCOL_TWO_PHASE,
    PGREPL_SLOTCOL_CONFLICTING,
    PGREPL_SLOTCOL_INVALIDATION_REASON,
    PGREPL_SLOTCOL_FAILOVER,
    PGREPL_SLOTCOL_COUNT
};

/*
 * A time setting as SHOW prints it ("60s", "500ms", "2min", "1h", "1d",
 * "0"; no unit means milliseconds) in milliseconds. Returns 0 or
 * PGREPL_EINVAL (not that form, or too large).
 */
int pgrepl__parse_duration_ms(const char *text, uint64_t *ms);

#endif
