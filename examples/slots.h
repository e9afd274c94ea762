/*
 * Shared declarations of pgrepl-slots (see pgrepl-slots.c for what the
 * program does). The files:
 *
 *   pgrepl-slots.c   options, connection, the report loop
 *   slots_units.c    sizes and durations: parse "1GB" / "1h", print like pg_size_pretty
 *   slots_fetch.c    one snapshot of the server: settings, capacity, every slot
 *   slots_health.c   the health rules and the verdict
 *   slots_table.c    the human rendering
 *   slots_json.c     --json
 *   slots_prometheus.c --prometheus
 *   slots_output.c   standard output, or --output FILE replaced atomically (replace_file.c)
 *   slots_drop.c     --drop-inactive
 */
#ifndef PGREPL_EXAMPLES_SLOTS_H
#define PGREPL_EXAMPLES_SLOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>
#include <pgrepl/common.h>

#include "replace_file.h"

#define SLOTS_PROG "pgrepl-slots"

/* ---- units ---- */

/* Buffer sizes for the formatters below, NUL included. */
#define SLOTS_SIZE_BUFSIZE 32
#define SLOTS_DURATION_BUFSIZE 32

/*
 * A size: a non-negative number (decimals allowed) and an optional unit B,
 * bytes, kB, MB, GB, TB, PB (powers of 1024, case-insensitive, blanks
 * allowed between). No unit means bytes. Returns 0, or -1 if TEXT is not a
 * size or does not fit in 63 bits.
 */
int slots_parse_size(const char *text, uint64_t *out);

/*
 * A duration in seconds: a non-negative number (decimals allowed) and an
 * optional unit ms, s, m or min, h, d, w. No unit means seconds. Returns 0 or
 * -1.
 */
int slots_parse_duration(const char *text, double *out);

/* BYTES the way pg_size_pretty prints it ("9999 bytes", "10 kB", "-16 MB"). */
void slots_format_size(int64_t bytes, char buf[SLOTS_SIZE_BUFSIZE]);

/* SECONDS as its two largest units ("2d 3h", "5m 2s", "42s"); negative is 0s. */
void slots_format_duration(double seconds, char buf[SLOTS_DURATION_BUFSIZE]);

/* ---- one snapshot of the server ---- */

/*
 * Fields of pg_replication_slots that not every supported major has. The
 * query selects NULL in place of a column the server lacks, and the
 * renderings leave out what the server does not have.
 */
typedef enum slot_field {
    F_WAL_STATUS,          /* 13+ */
    F_SAFE_WAL_SIZE,       /* 13+ */
    F_TWO_PHASE,           /* 14+ */
    F_CONFLICTING,         /* 16+ */
    F_INACTIVE_SINCE,      /* 17+ */
    F_INACTIVE_SECONDS,    /* 17+, derived from inactive_since */
    F_INVALIDATION_REASON, /* 17+ */
    F_FAILOVER,            /* 17+ */
    F_SYNCED,              /* 17+ */
    F_COUNT
} slot_field;

/* A boolean column that may be NULL. */
typedef enum opt_bool { OPT_NULL = -1, OPT_FALSE = 0, OPT_TRUE = 1 } opt_bool;

/* One row of pg_replication_slots. Strings point into the snapshot's results; NULL is SQL NULL. */
typedef struct slot_row {
    const char *name;
    const char *type; /* "logical" or "physical" */
    const char *plugin;
    const char *database;
    bool temporary;
    bool active;
    long active_pid; /* 0 when inactive */
    bool has_restart_lsn, has_confirmed_flush;
    pgrepl_lsn restart_lsn, confirmed_flush;
    bool has_retained, has_lag;
    uint64_t retained; /* current WAL position - restart_lsn */
    uint64_t lag;      /* current WAL position - confirmed_flush_lsn */
    const char *wal_status;
    bool has_safe_wal_size;
    int64_t safe_wal_size;
    opt_bool two_phase, conflicting, failover, synced;
    const char *inactive_since; /* RFC 3339, UTC */
    bool has_inactive_seconds;
    double inactive_seconds;
    const char *invalidation_reason;
} slot_row;

typedef struct capacity {
    long slots_used, slots_max;
    long walsenders_used, walsenders_max;
    int64_t max_slot_wal_keep_size; /* bytes; -1 is unlimited */
    bool has_idle_timeout;          /* 18+ */
    int64_t idle_timeout_seconds;   /* 0 is off */
} capacity;

typedef struct snapshot {
    const char *server_version; /* "17.2" */
    int server_version_num;     /* 170002 */
    const char *time;           /* server clock, RFC 3339 UTC */
    bool in_recovery;
    bool has_current_lsn;
    pgrepl_lsn current_lsn; /* pg_current_wal_lsn(), or the replay position on a standby */
    bool has[F_COUNT];      /* which optional fields the server has */
    capacity cap;
    slot_row *slots; /* sorted by name */
    size_t nslots;
    /* Own every string above. */
    PGresult *info, *rows;
} snapshot;

/*
 * Take a snapshot over CONN: server, capacity and every slot (or only the
 * slot named ONLY_SLOT, when not NULL). Returns 0, or -1 with the reason
 * printed on stderr; *snap is then empty and needs no slots_snapshot_free.
 */
int slots_snapshot_take(PGconn *conn, const char *only_slot, snapshot *snap);
void slots_snapshot_free(snapshot *snap);

/* Print an error the program's way: "pgrepl-slots: error: ...". */
__attribute__((format(printf, 1, 2))) void slots_error(const char *fmt, ...);

/* Sleep SECONDS, or until SIGINT or SIGTERM stops --watch. */
void slots_pause(double seconds);

/* ---- health ---- */

typedef enum level { LEVEL_OK = 0, LEVEL_WARNING = 1, LEVEL_CRITICAL = 2 } level;

/* Thresholds; a negative duration or UINT64_MAX size is "off". */
typedef struct thresholds {
    double inactive_warn, inactive_crit;
    uint64_t retained_warn, retained_crit;
    long min_free_slots, min_free_walsenders;
    bool warn_unlimited;
} thresholds;

/* A rule that tripped (WARNING/CRITICAL), or a note (OK) about what could not be judged. */
typedef struct reason {
    level level;
    const char *rule; /* "inactive", "retained_wal", ... */
    char slot[72];    /* "" when the reason is not about one slot */
    char message[320];
} reason;

typedef struct verdict {
    level status;
    reason *reasons;
    size_t count, cap;
} verdict;

/* Apply every rule to SNAP. Returns 0, or -1 when out of memory. */
int slots_judge(const snapshot *snap, const thresholds *th, verdict *v);
void slots_verdict_free(verdict *v);
const char *slots_level_name(level l); /* "ok", "warning", "critical" */
int slots_level_exit_code(level l);   /* 0, 2, 3 */

/* ---- renderings ---- */

void slots_print_table(FILE *out, const snapshot *snap, const verdict *v);
/* One line of JSON (RFC 8259), so that --watch gives JSON Lines. */
void slots_print_json(FILE *out, const snapshot *snap, const verdict *v);
void slots_print_prometheus(FILE *out, const snapshot *snap, const verdict *v);
/* What --prometheus prints when the server cannot be reached or read: pgrepl_slots_up 0. */
void slots_print_prometheus_down(FILE *out);

/* ---- where a report goes ---- */

typedef struct slots_output {
    const char *path;  /* NULL: standard output */
    replace_file file; /* --output: the file replaced */
} slots_output;

/*
 * Start a report for PATH (NULL: standard output). Returns the stream to
 * render it on, or NULL with the reason printed. Every stream returned must
 * be given to slots_output_commit.
 */
FILE *slots_output_begin(slots_output *o, const char *path);

/*
 * Finish the report: flush standard output, or fsync the temporary file,
 * rename it over PATH and fsync PATH's directory. Returns 0, or -1 with the
 * reason printed ("cannot write \"PATH\": ..."); PATH is then as it was
 * (unless only the directory's fsync failed) and no temporary file is left.
 */
int slots_output_commit(slots_output *o);

/* ---- --drop-inactive ---- */

typedef struct drop_options {
    double older_than;
    const char *name_pattern; /* fnmatch(3) glob, or NULL */
    bool include_physical;
    bool force_unknown_age;
    double observe; /* seconds to watch a slot of unknown age before dropping it */
    bool dry_run;
} drop_options;

/* Drop what is eligible and print every decision on OUT. Returns the exit code: 0, or 1 on any error. */
int slots_drop_inactive(PGconn *conn, const drop_options *opts, FILE *out);

#endif
