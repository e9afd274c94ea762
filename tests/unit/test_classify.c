/*
 * Retry verdicts by SQLSTATE and message (every version's wording), the
 * check before streaming, and the reconnection delay. No server.
 */
#include "classify.h"
#include "testutil.h"

/* ---- server errors ---------------------------------------------------------- */

typedef struct server_case {
    const char *sqlstate;
    const char *message;
    bool fatal;
    const char *hint_has; /* NULL: no hint */
} server_case;

/* protocol.md section 7, with the texts of 14 to 18 */
static const server_case server_cases[] = {
    /* passing */
    {"57P01", "terminating connection due to administrator command", false, NULL},
    {"57P02", "terminating connection because of crash of another server process", false, NULL},
    {"57P03", "the database system is starting up", false, NULL},
    {"57P03", "the database system is shutting down", false, NULL},
    {"57P05", "terminating connection due to idle-session timeout", false, NULL},
    {"57014", "canceling statement due to user request", false, NULL},
    {"53300", "number of requested standby connections exceeds max_wal_senders (currently 2)", false,
     "max_wal_senders"},
    {"53300", "number of requested standby connections exceeds \"max_wal_senders\" (currently 2)", false,
     "max_wal_senders"},
    {"53300", "sorry, too many clients already", false, "max_wal_senders"},
    {"53400", "all replication slots are in use", false, NULL},
    {"55006", "replication slot \"s\" is active for PID 4242", false, "Another process"},
    {"55P03", "could not obtain lock on relation \"t\"", false, NULL},
    {"55000", "cannot execute new commands while WAL sender is in stopping mode", false, "shutting down"},
    {"08006", "connection failure", false, NULL},
    {"40001", "could not serialize access due to concurrent update", false, NULL},
    {"58030", "could not read file \"x\": Input/output error", false, NULL},
    /* fatal */
    {"57P04", "database \"d\" does not exist anymore", true, "dropped"},
    {"42704", "replication slot \"s\" does not exist", true, "pg_create_logical_replication_slot"},
    {"42704", "publication \"p\" does not exist", true, "CREATE PUBLICATION"},
    {"55000", "cannot read from logical replication slot \"s\"", true, "invalidated"},       /* 14, 15 */
    {"55000", "can no longer get changes from replication slot \"s\"", true, "invalidated"}, /* 16, 17 */
    {"55000", "can no longer access replication slot \"s\"", true, "invalidated"},           /* 18 */
    {"55000", "replication slot \"s\" was not created in this database", true, "database the slot"},
    {"55000", "logical decoding requires wal_level >= logical", true, "wal_level = logical"},
    {"55000", "logical decoding requires \"wal_level\" >= \"logical\"", true, "wal_level = logical"},
    {"55000", "cannot use physical replication slot for logical decoding", true, "pgoutput"},
    {"55000", "logical decoding cannot be used while in recovery", true, "primary"},
    {"55000", "ein anderer Text", true, NULL}, /* another language: the SQLSTATE decides */
    {"42501", "must be superuser or replication role to start walsender", true, "REPLICATION"}, /* 14, 15 */
    {"42501", "permission denied to start WAL sender", true, "REPLICATION"},                     /* 16+ */
    {"3D000", "database \"nope\" does not exist", true, "database name"},
    {"28P01", "password authentication failed for user \"u\"", true, "password"},
    {"28000", "role \"nobody\" does not exist", true, "pg_hba.conf"},
    {"28000", "no pg_hba.conf entry for host \"[local]\", user \"u\", database \"d\"", true, "pg_hba.conf"},
    {"08P01", "invalid standby message type \"x\"", true, "bug"},
    {"58P01", "requested WAL segment 000000010000000000000001 has already been removed", true, "new slot"},
    {"0A000", "client sent proto_version=5 but server only supports protocol 4 or lower", true, "options"},
    {"22023", "option \"proto_version\" missing", true, "options"},
    {"42601", "syntax error", true, "options"},
    {"42602", "invalid publication_names syntax", true, "options"},
    {"XX000", "unrecognized pgoutput option: origin", true, NULL},
    /* a full code never matches a longer or shorter one; a class needs its two characters */
    {"5500", "was not created in this database", true, NULL},
    {"550000", "was not created in this database", true, NULL},
    {"5", "", true, NULL},
};

START_TEST(server_verdicts)
{
    const server_case *c = &server_cases[_i];
    pgrepl_verdict v = pgrepl__classify_server(c->sqlstate, c->message);
    ck_assert_msg(v.fatal == c->fatal, "%s %s: fatal %d", c->sqlstate, c->message, v.fatal);
    if (c->hint_has == NULL)
        ck_assert_msg(v.hint == NULL, "%s %s: hint %s", c->sqlstate, c->message, v.hint);
    else
        ck_assert_msg(v.hint != NULL && strstr(v.hint, c->hint_has) != NULL, "%s %s: hint %s", c->sqlstate,
                      c->message, v.hint ? v.hint : "(null)");
}
END_TEST

START_TEST(server_verdict_null_message)
{
    ck_assert(!pgrepl__classify_server("55006", NULL).fatal);
    ck_assert(pgrepl__classify_server("55000", NULL).fatal);
    ck_assert_ptr_null(pgrepl__classify_server("55000", NULL).hint);
}
END_TEST

/* ---- libpq's own texts (libpq 15, C locale) ------------------------------------ */

typedef struct libpq_case {
    const char *text;
    bool fatal;
    const char *hint_has;
} libpq_case;

static const libpq_case libpq_cases[] = {
    {"connection to server at \"127.0.0.1\", port 1 failed: Connection refused Is the server running on that "
     "host and accepting TCP/IP connections?",
     false, "server running"},
    {"connection to server on socket \"/nonexistent/.s.PGSQL.5432\" failed: No such file or directory Is the "
     "server running locally and accepting connections on that socket?",
     false, "socket directory"},
    {"server closed the connection unexpectedly This probably means the server terminated abnormally before or "
     "while processing the request.",
     false, NULL},
    {"could not translate host name \"nohost.invalid\" to address: Name or service not known", true, "host name"},
    {"could not translate host name \"db\" to address: Temporary failure in name resolution", false, "name server"},
    {"connection to server at \"h\" (10.0.0.1), port 5432 failed: fe_sendauth: no password supplied", true,
     "password"},
    {"invalid integer value \"abc\" for connection option \"port\"", true, "connection string"},
    {"invalid sslmode value: \"sometimes\"", true, "connection string"},
    {"connection to server at \"h\" (10.0.0.1), port 5432 failed: server does not support SSL, but SSL was "
     "required",
     true, "sslmode"},
    {"", false, NULL},
};

START_TEST(libpq_verdicts)
{
    const libpq_case *c = &libpq_cases[_i];
    pgrepl_verdict v = pgrepl__classify_libpq(c->text);
    ck_assert_msg(v.fatal == c->fatal, "%s: fatal %d", c->text, v.fatal);
    if (c->hint_has == NULL)
        ck_assert_ptr_null(v.hint);
    else
        ck_assert_msg(v.hint != NULL && strstr(v.hint, c->hint_has) != NULL, "%s: hint %s", c->text,
                      v.hint ? v.hint : "(null)");
}
END_TEST

/* ---- the check before streaming ------------------------------------------------------- */

START_TEST(check_sql_by_version)
{
    const char *pubs[] = {"p", "it's \"Q\""};
    pgrepl_str sql;
    pgrepl__str_init(&sql);
    ck_assert_int_eq(pgrepl__check_sql(&sql, 150004, "my'slot", pubs, 2), 0);
    ck_assert_str_eq(sql.data,
                     "SELECT (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(u.n), ', ' ORDER BY u.o) "
                     "FROM pg_catalog.unnest(ARRAY['p', 'it''s \"Q\"']::pg_catalog.text[]) WITH ORDINALITY AS u(n, o) "
                     "WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_publication p WHERE p.pubname = u.n)), "
                     "s.slot_name IS NOT NULL, s.wal_status, NULL, NULL, s.slot_type, s.database, pg_catalog.current_database(), s.confirmed_flush_lsn FROM (SELECT 1) AS one "
                     "LEFT JOIN pg_catalog.pg_replication_slots s ON s.slot_name = 'my''slot'");
    pgrepl__str_free(&sql);
    pgrepl__str_init(&sql);
    ck_assert_int_eq(pgrepl__check_sql(&sql, 160000, "s", pubs, 1), 0);
    ck_assert_ptr_nonnull(strstr(sql.data, "s.wal_status, s.conflicting, NULL, s.slot_type, s.database, pg_catalog.current_database(), s.confirmed_flush_lsn FROM"));
    pgrepl__str_free(&sql);
    pgrepl__str_init(&sql);
    ck_assert_int_eq(pgrepl__check_sql(&sql, 180004, "s", pubs, 1), 0);
    ck_assert_ptr_nonnull(strstr(sql.data, "s.wal_status, s.conflicting, s.invalidation_reason, s.slot_type, s.database, pg_catalog.current_database(), s.confirmed_flush_lsn FROM"));
    pgrepl__str_free(&sql);
}
END_TEST

START_TEST(slot_invalidation_by_version)
{
    /* usable */
    ck_assert_ptr_null(pgrepl__slot_invalidation("reserved", NULL, NULL));
    ck_assert_ptr_null(pgrepl__slot_invalidation("unreserved", "f", NULL));
    ck_assert_ptr_null(pgrepl__slot_invalidation(NULL, NULL, NULL));
    ck_assert_ptr_null(pgrepl__slot_invalidation("extended", "f", ""));
    /* 14, 15: only wal_status */
    ck_assert_str_eq(pgrepl__slot_invalidation("lost", NULL, NULL), "wal_removed");
    /* 16: conflicting is set for any invalidation (wal_status is lost then too), without the reason */
    ck_assert_str_eq(pgrepl__slot_invalidation("lost", "t", NULL), "PostgreSQL 16 does not record why");
    ck_assert_str_eq(pgrepl__slot_invalidation("lost", "f", NULL), "wal_removed");
    /* 17+: the reason itself */
    ck_assert_str_eq(pgrepl__slot_invalidation("lost", "f", "wal_removed"), "wal_removed");
    ck_assert_str_eq(pgrepl__slot_invalidation(NULL, "t", "rows_removed"), "rows_removed");
    ck_assert_str_eq(pgrepl__slot_invalidation("reserved", "f", "idle_timeout"), "idle_timeout");
}
END_TEST

/* ---- backoff --------------------------------------------------------------------------- */

START_TEST(backoff_bounds)
{
    uint64_t state = 42;
    for (unsigned attempt = 1; attempt <= 40; attempt++) {
        uint64_t ceiling = 1000;
        for (unsigned i = 0; i < attempt && ceiling < 60000; i++)
            ceiling = ceiling * 2 > 60000 ? 60000 : ceiling * 2;
        uint64_t lo = UINT64_MAX, hi = 0;
        for (int k = 0; k < 4000; k++) {
            uint64_t d = pgrepl__backoff_ms(1000, 60000, attempt, pgrepl__random_next(&state));
            ck_assert_uint_ge(d, 1000);
            ck_assert_uint_le(d, ceiling);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
        /* jittered over the whole range: both ends within 2 % of it */
        ck_assert_msg(lo - 1000 <= (ceiling - 1000) / 50 && ceiling - hi <= (ceiling - 1000) / 50,
                      "attempt %u: %llu..%llu of 1000..%llu", attempt, (unsigned long long)lo, (unsigned long long)hi,
                      (unsigned long long)ceiling);
    }
}
END_TEST

START_TEST(backoff_edges)
{
    /* the extremes of the random value reach the extremes of the range */
    ck_assert_uint_eq(pgrepl__backoff_ms(1000, 60000, 1, 0), 1000);
    ck_assert_uint_eq(pgrepl__backoff_ms(1000, 60000, 1, 1000), 2000);
    ck_assert_uint_eq(pgrepl__backoff_ms(1000, 60000, 3, 7000), 8000);
    ck_assert_uint_eq(pgrepl__backoff_ms(1000, 60000, 6, 59000), 60000); /* 64000 capped */
    /* a fixed delay */
    ck_assert_uint_eq(pgrepl__backoff_ms(500, 500, 1, 12345), 500);
    ck_assert_uint_eq(pgrepl__backoff_ms(500, 500, 1000, UINT64_MAX), 500);
    /* no overflow with huge bounds and attempt counts */
    uint64_t big = UINT64_C(1) << 40;
    ck_assert_uint_le(pgrepl__backoff_ms(big / 2, big, 4000000000u, UINT64_MAX), big);
    ck_assert_uint_ge(pgrepl__backoff_ms(big / 2, big, 4000000000u, UINT64_MAX), big / 2);
    /* max below min: min */
    ck_assert_uint_eq(pgrepl__backoff_ms(700, 10, 5, 99), 700);
}
END_TEST

START_TEST(random_sequence)
{
    uint64_t state = 1, prev = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t r = pgrepl__random_next(&state);
        ck_assert_uint_ne(state, 0);
        ck_assert_uint_ne(r, prev);
        prev = r;
    }
}
END_TEST

static Suite *classify_suite(void)
{
    Suite *s = suite_create("classify");
    TCase *tc = tcase_create("verdicts");
    tcase_add_loop_test(tc, server_verdicts, 0, (int)(sizeof server_cases / sizeof server_cases[0]));
    tcase_add_test(tc, server_verdict_null_message);
    tcase_add_loop_test(tc, libpq_verdicts, 0, (int)(sizeof libpq_cases / sizeof libpq_cases[0]));
    suite_add_tcase(s, tc);
    TCase *ck = tcase_create("check");
    tcase_add_test(ck, check_sql_by_version);
    tcase_add_test(ck, slot_invalidation_by_version);
    suite_add_tcase(s, ck);
    TCase *bo = tcase_create("backoff");
    tcase_add_test(bo, backoff_bounds);
    tcase_add_test(bo, backoff_edges);
    tcase_add_test(bo, random_sequence);
    suite_add_tcase(s, bo);
    return s;
}

int main(void)
{
    return pgrepl_test_run_suite(classify_suite());
}
