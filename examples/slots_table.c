/* The human rendering of pgrepl-slots: a header, the capacity line, one table row per slot, the verdict. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "slots.h"

#define CELL_SIZE 128

typedef void (*cell_fn)(const slot_row *s, char *buf);

typedef struct column {
    const char *title;
    int field; /* the slot_field the server must have, or -1 */
    cell_fn cell;
} column;

/* Names come from the server; a control character in a database name must
 * not reach the terminal or break the table. */
static void text_cell(const char *text, char *buf)
{
    if (text == NULL) {
        snprintf(buf, CELL_SIZE, "-");
        return;
    }
    size_t i = 0;
    for (; text[i] != '\0' && i < CELL_SIZE - 1; i++)
        buf[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? '?' : text[i];
    buf[i] = '\0';
}

static void bool_cell(opt_bool b, char *buf)
{
    snprintf(buf, CELL_SIZE, "%s", b == OPT_NULL ? "-" : b == OPT_TRUE ? "yes" : "no");
}

/* "16 MB (16777216)": readable, and exact for whoever compares. */
static void size_cell(bool has, int64_t bytes, char *buf)
{
    char pretty[SLOTS_SIZE_BUFSIZE];
    slots_format_size(bytes, pretty);
    if (has)
        snprintf(buf, CELL_SIZE, "%s (%" PRId64 ")", pretty, bytes);
    else
        snprintf(buf, CELL_SIZE, "-");
}

static void name_cell(const slot_row *s, char *buf)
{
    text_cell(s->name, buf);
}

static void type_cell(const slot_row *s, char *buf)
{
    text_cell(s->type, buf);
}

static void plugin_cell(const slot_row *s, char *buf)
{
    text_cell(s->plugin, buf);
}

static void database_cell(const slot_row *s, char *buf)
{
    text_cell(s->database, buf);
}

static void active_cell(const slot_row *s, char *buf)
{
    if (s->active)
        snprintf(buf, CELL_SIZE, "yes (pid %ld)", s->active_pid);
    else
        snprintf(buf, CELL_SIZE, "no");
}

static void retained_cell(const slot_row *s, char *buf)
{
    size_cell(s->has_retained, (int64_t)s->retained, buf);
}

static void lag_cell(const slot_row *s, char *buf)
{
    size_cell(s->has_lag, (int64_t)s->lag, buf);
}

static void wal_status_cell(const slot_row *s, char *buf)
{
    text_cell(s->wal_status, buf);
}

static void safe_wal_size_cell(const slot_row *s, char *buf)
{
    size_cell(s->has_safe_wal_size, s->safe_wal_size, buf);
}

static void temporary_cell(const slot_row *s, char *buf)
{
    bool_cell(s->temporary ? OPT_TRUE : OPT_FALSE, buf);
}

static void two_phase_cell(const slot_row *s, char *buf)
{
    bool_cell(s->two_phase, buf);
}

static void conflicting_cell(const slot_row *s, char *buf)
{
    bool_cell(s->conflicting, buf);
}

static void failover_cell(const slot_row *s, char *buf)
{
    bool_cell(s->failover, buf);
}

static void synced_cell(const slot_row *s, char *buf)
{
    bool_cell(s->synced, buf);
}

static void inactive_since_cell(const slot_row *s, char *buf)
{
    char age[SLOTS_DURATION_BUFSIZE];
    slots_format_duration(s->inactive_seconds, age);
    if (s->inactive_since != NULL && s->has_inactive_seconds)
        snprintf(buf, CELL_SIZE, "%s (%s ago)", s->inactive_since, age);
    else
        text_cell(s->inactive_since, buf);
}

static void invalidation_cell(const slot_row *s, char *buf)
{
    text_cell(s->invalidation_reason, buf);
}

static const column columns[] = {
    {"SLOT", -1, name_cell},
    {"TYPE", -1, type_cell},
    {"PLUGIN", -1, plugin_cell},
    {"DATABASE", -1, database_cell},
    {"ACTIVE", -1, active_cell},
    {"RETAINED_WAL", -1, retained_cell},
    {"FLUSH_LAG", -1, lag_cell},
    {"WAL_STATUS", F_WAL_STATUS, wal_status_cell},
    {"SAFE_WAL_SIZE", F_SAFE_WAL_SIZE, safe_wal_size_cell},
    {"TEMP", -1, temporary_cell},
    {"TWO_PHASE", F_TWO_PHASE, two_phase_cell},
    {"CONFLICTING", F_CONFLICTING, conflicting_cell},
    {"FAILOVER", F_FAILOVER, failover_cell},
    {"SYNCED", F_SYNCED, synced_cell},
    {"INACTIVE_SINCE", F_INACTIVE_SINCE, inactive_since_cell},
    {"INVALIDATION", F_INVALIDATION_REASON, invalidation_cell},
};
#define NCOLUMNS (sizeof columns / sizeof columns[0])

static void print_header(FILE *out, const snapshot *snap)
{
    char lsn[PGREPL_LSN_BUFSIZE] = "unknown";
    if (snap->has_current_lsn)
        pgrepl_lsn_format(snap->current_lsn, lsn);
    fprintf(out, "PostgreSQL %s (%s) at %s, WAL %s at %s\n", snap->server_version,
            snap->in_recovery ? "standby" : "primary", snap->time, snap->in_recovery ? "replayed" : "written",
            lsn);
}

static void print_capacity(FILE *out, const capacity *cap)
{
    char keep[SLOTS_SIZE_BUFSIZE] = "unlimited (-1)";
    if (cap->max_slot_wal_keep_size >= 0)
        slots_format_size(cap->max_slot_wal_keep_size, keep);
    fprintf(out, "capacity: slots %ld/%ld used (max_replication_slots), walsenders %ld/%ld used (max_wal_senders),"
                 " max_slot_wal_keep_size %s",
            cap->slots_used, cap->slots_max, cap->walsenders_used, cap->walsenders_max, keep);
    if (cap->has_idle_timeout) {
        char idle[SLOTS_DURATION_BUFSIZE] = "0 (off)";
        if (cap->idle_timeout_seconds > 0)
            slots_format_duration((double)cap->idle_timeout_seconds, idle);
        fprintf(out, ", idle_replication_slot_timeout %s", idle);
    }
    fputc('\n', out);
    if (cap->max_slot_wal_keep_size < 0)
        fprintf(out, "warning: max_slot_wal_keep_size is -1 (unlimited): one abandoned or lagging slot can retain"
                     " WAL until the disk fills\n");
}

/* Columns are two blanks apart and the last one is not padded, so that a
 * cell holding one blank ("yes (pid 7)") never reads as two cells. */
static void print_row(FILE *out, const bool *shown, const size_t *width, char (*cells)[CELL_SIZE])
{
    size_t last = 0;
    for (size_t c = 0; c < NCOLUMNS; c++) {
        if (shown[c])
            last = c;
    }
    const char *sep = "";
    for (size_t c = 0; c <= last; c++) {
        if (!shown[c])
            continue;
        fprintf(out, "%s%-*s", sep, c == last ? 0 : (int)width[c], cells[c]);
        sep = "  ";
    }
    fputc('\n', out);
}

static void print_slots(FILE *out, const snapshot *snap)
{
    if (snap->nslots == 0) {
        fprintf(out, "(no replication slots)\n");
        return;
    }
    char(*cells)[CELL_SIZE] = malloc((snap->nslots + 1) * NCOLUMNS * sizeof *cells);
    if (cells == NULL) {
        slots_error("out of memory");
        return;
    }
    bool shown[NCOLUMNS];
    size_t width[NCOLUMNS];
    for (size_t c = 0; c < NCOLUMNS; c++) {
        shown[c] = columns[c].field < 0 || snap->has[columns[c].field];
        snprintf(cells[c], CELL_SIZE, "%s", columns[c].title);
        width[c] = strlen(columns[c].title);
        for (size_t i = 0; i < snap->nslots; i++) {
            char *cell = cells[(i + 1) * NCOLUMNS + c];
            columns[c].cell(&snap->slots[i], cell);
            if (strlen(cell) > width[c])
                width[c] = strlen(cell);
        }
    }
    for (size_t i = 0; i <= snap->nslots; i++)
        print_row(out, shown, width, cells + i * NCOLUMNS);
    free(cells);
}

static void print_verdict(FILE *out, const verdict *v)
{
    static const char *const names[] = {"OK", "WARNING", "CRITICAL"};
    fprintf(out, "verdict: %s (exit %d)\n", names[v->status], slots_level_exit_code(v->status));
    for (size_t i = 0; i < v->count; i++) {
        const reason *r = &v->reasons[i];
        fprintf(out, "  %-8s [%s] %s\n", r->level == LEVEL_OK ? "note" : slots_level_name(r->level), r->rule,
                r->message);
    }
}

void slots_print_table(FILE *out, const snapshot *snap, const verdict *v)
{
    print_header(out, snap);
    print_capacity(out, &snap->cap);
    fputc('\n', out);
    print_slots(out, snap);
    fputc('\n', out);
    print_verdict(out, v);
}
