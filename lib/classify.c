#include <stdio.h>
#include <string.h>

#include "pgrepl/common.h"
#include "classify.h"
#include "quote.h"

const char pgrepl__hint_invalidated[] =
    "The slot was invalidated and can no longer be used: drop it, create a new one and resynchronize the data.";
const char pgrepl__hint_publication[] = "Create the publication (CREATE PUBLICATION), or correct its name.";
const char pgrepl__hint_publication_recreated[] =
    "Advance the slot past the point where the publication exists again (pg_replication_slot_advance), accepting "
    "the loss of the changes in between, or drop the slot, create a new one and resynchronize.";
const char pgrepl__hint_other_database[] =
    "Connect to the database the slot belongs to (pg_replication_slots.database), or use a slot of this one.";
const char pgrepl__hint_beyond_wal[] =
    "Check the start position: it must come from this cluster's WAL (an LSN of another cluster, or of a server "
    "before it was restored from a backup, does not fit).";
const char pgrepl__hint_gap[] =
    "Another consumer on the slot, a dropped and recreated slot, a temporary slot whose connection was lost, or "
    "pg_replication_slot_advance() moved it. Find out which; to accept the loss and go on, allow gaps.";
#define HINT_OPTIONS "Check the stream options (protocol version, streaming, two-phase, origin) against the server version."

/*
 * First match wins. sqlstate is a full code or a two-character class;
 * pattern, when set, must occur in the primary message.
 */
typedef struct rule {
    const char *sqlstate;
    const char *pattern;
    bool fatal;
    const char *hint;
} rule;

static const rule server_rules[] = {
    /* 55000 mixes a server on its way down with conditions only an operator can change */
    {"55000", "stopping mode", false, "The server is shutting down; the stream reconnects once it is back."},
    {"55000", "cannot read from logical replication slot", true, pgrepl__hint_invalidated},        /* 14-15 */
    {"55000", "can no longer get changes from replication slot", true, pgrepl__hint_invalidated}, /* 16-17 */
    {"55000", "can no longer access replication slot", true, pgrepl__hint_invalidated},           /* 18 */
    {"55000", "was not created in this database", true, pgrepl__hint_other_database},
    {"55000", "wal_level", true, "Set wal_level = logical in the server configuration and restart the server."},
    {"55000", "physical replication slot", true, "Use a logical slot created with the pgoutput plugin."},
    {"55000", "in recovery", true, "Connect to the primary (logical decoding on a standby needs PostgreSQL 16)."},
    {"55006", NULL, false, "Another process is streaming from the slot; the stream retries until it is free."},
    {"55P03", NULL, false, NULL},
    {"42704", "publication", true, pgrepl__hint_publication},
    {"42704", "replication slot", true,
     "Create the slot (pg_create_logical_replication_slot(name, 'pgoutput')), or correct its name."},
    {"42501", NULL, true, "Give the role the REPLICATION attribute (ALTER ROLE name REPLICATION), or use one that has it."},
    {"3D000", NULL, true, "Correct the database name (dbname)."},
    {"28P01", NULL, true, "Correct the password (password=, PGPASSWORD or ~/.pgpass)."},
    {"28000", NULL, true,
     "Check the user name and pg_hba.conf (a replication=database connection is matched by its database name)."},
    {"08P01", NULL, true, "Client and server disagree on the protocol: please report this as a bug."},
    {"57P04", NULL, true, "The database was dropped."},
    {"58P01", NULL, true, "WAL the slot needs is gone: create a new slot and resynchronize the data."},
    {"53300", NULL, false, "Raise max_wal_senders (or max_connections), or stop another consumer."},
    {"0A000", NULL, true, HINT_OPTIONS},
    {"22023", NULL, true, HINT_OPTIONS},
    {"42601", NULL, true, HINT_OPTIONS},
    {"42602", NULL, true, HINT_OPTIONS},
    /* connection trouble, rollbacks, resource shortage, operator intervention, I/O: all pass */
    {"08", NULL, false, NULL},
    {"40", NULL, false, NULL},
    {"53", NULL, false, NULL},
    {"57", NULL, false, NULL},
    {"58", NULL, false, NULL},
};

static bool rule_matches(const rule *r, const char *sqlstate, const char *message)
{
    size_t n = strlen(r->sqlstate);
    if (strncmp(sqlstate, r->sqlstate, n) != 0 || (n == 5 && sqlstate[5] != '\0'))
        return false;
    return r->pattern == NULL || strstr(message, r->pattern) != NULL;
}

pgrepl_verdict pgrepl__classify_server(const char *sqlstate, const char *message)
{
    for (size_t i = 0; i < sizeof server_rules / sizeof server_rules[0]; i++) {
        const rule *r = &server_rules[i];
        if (rule_matches(r, sqlstate, message != NULL ? message : ""))
            return (pgrepl_verdict){r->fatal, r->hint};
    }
    return (pgrepl_verdict){true, NULL};
}

static const rule libpq_rules[] = {
    /* EAI_AGAIN: the resolver did not answer, which passes; any other answer means no such host */
    {"", "Temporary failure in name resolution", false, "The name server did not answer; the stream retries."},
    {"", "could not translate host name", true, "Correct the host name."},
    {"", "no password supplied", true, "Supply a password (password=, PGPASSWORD or ~/.pgpass)."},
    {"", "SSL was required", true, "The server does not accept SSL: change sslmode or enable ssl on the server."},
    {"", "Connection refused", false, "Is the server running, and are the host and port right?"},
    {"", "No such file or directory", false, "Is the server running, and is the socket directory (host) right?"},
};

pgrepl_verdict pgrepl__classify_libpq(const char *text)
{
    /* option values libpq rejects before connecting: "invalid integer value ...", "invalid sslmode value ..." */
    if (strncmp(text, "invalid ", 8) == 0)
        return (pgrepl_verdict){true, "Correct the connection string."};
    for (size_t i = 0; i < sizeof libpq_rules / sizeof libpq_rules[0]; i++) {
        if (strstr(text, libpq_rules[i].pattern) != NULL)
            return (pgrepl_verdict){libpq_rules[i].fatal, libpq_rules[i].hint};
    }
    return (pgrepl_verdict){false, NULL};
}

/* ---- the check before streaming ------------------------------------------------ */

int pgrepl__check_sql(pgrepl_str *out, int server_version, const char *slot, const char *const *pubs, int npubs)
{
    pgrepl__str_append(out, "SELECT (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(u.n), ', ' ORDER BY u.o) "
                            "FROM pg_catalog.unnest(ARRAY[");
    for (int i = 0; i < npubs; i++) {
        if (i > 0)
            pgrepl__str_append(out, ", ");
        pgrepl__str_quote_literal(out, pubs[i]);
    }
    pgrepl__str_append(out, "]::pg_catalog.text[]) WITH ORDINALITY AS u(n, o) WHERE NOT EXISTS "
                            "(SELECT FROM pg_catalog.pg_publication p WHERE p.pubname = u.n)), "
                            "s.slot_name IS NOT NULL, s.wal_status, ");
    pgrepl__str_append(out, server_version >= 160000 ? "s.conflicting, " : "NULL, ");
    pgrepl__str_append(out, server_version >= 170000 ? "s.invalidation_reason" : "NULL");
    pgrepl__str_append(out, ", s.slot_type, s.database, pg_catalog.current_database(), s.confirmed_flush_lsn");
    pgrepl__str_append(out, " FROM (SELECT 1) AS one LEFT JOIN pg_catalog.pg_replication_slots s ON s.slot_name = ");
    pgrepl__str_quote_literal(out, slot);
    return out->oom ? PGREPL_ENOMEM : 0;
}

const char *pgrepl__slot_invalidation(const char *wal_status, const char *conflicting, const char *reason)
{
    if (reason != NULL && *reason != '\0')
        return reason;
    /* 16 sets conflicting for every invalidation */
    if (conflicting != NULL && strcmp(conflicting, "t") == 0)
        return "PostgreSQL 16 does not record why";
    if (wal_status != NULL && strcmp(wal_status, "lost") == 0)
        return "wal_removed";
    return NULL;
}

/* ---- backoff ----------------------------------------------------------------------- */

uint64_t pgrepl__backoff_ms(uint64_t min_ms, uint64_t max_ms, unsigned attempt, uint64_t rnd)
{
    if (max_ms < min_ms)
        max_ms = min_ms;
    uint64_t ceiling = min_ms;
    for (unsigned i = 0; i < attempt && ceiling < max_ms; i++)
        ceiling = ceiling > max_ms / 2 ? max_ms : ceiling * 2;
    uint64_t span = ceiling - min_ms;
    return min_ms + (span == UINT64_MAX ? rnd : rnd % (span + 1));
}

uint64_t pgrepl__random_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}
