/* libpq's connection error texts taken apart (lib/pqerror.c). No server. */
#include <stdio.h>
#include <string.h>

#include "pqerror.h"
#include "testutil.h"

/* ---- libpq's verbose connection error text ---------------------------------------- */

/* As libpq 15 printed it for a missing database with PQERRORS_VERBOSE. */
START_TEST(connect_error_with_sqlstate)
{
    pgrepl_connect_diag d;
    pgrepl__parse_connect_error("connection to server on socket \"/tmp/x/.s.PGSQL.5432\" failed: FATAL:  3D000: "
                                "database \"nope\" does not exist\nLOCATION:  InitPostgres, postinit.c:948\n",
                                &d);
    ck_assert_str_eq(d.severity, "FATAL");
    ck_assert_str_eq(d.sqlstate, "3D000");
    ck_assert_str_eq(d.message, "database \"nope\" does not exist");
    ck_assert_str_eq(d.detail, "");
    ck_assert_str_eq(d.hint, "");
    /* what the default verbosity prints, on one line */
    ck_assert_str_eq(d.text, "connection to server on socket \"/tmp/x/.s.PGSQL.5432\" failed: FATAL: database "
                             "\"nope\" does not exist");
}
END_TEST

START_TEST(connect_error_detail_and_hint)
{
    pgrepl_connect_diag d;
    pgrepl__parse_connect_error("connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  42501: permission "
                                "denied to start WAL sender\nDETAIL:  Only roles with the REPLICATION attribute may "
                                "start a WAL sender process.\nHINT:  Ask.\nLOCATION:  InitWalSender, walsender.c:1\n",
                                &d);
    ck_assert_str_eq(d.sqlstate, "42501");
    ck_assert_str_eq(d.message, "permission denied to start WAL sender");
    ck_assert_str_eq(d.detail, "Only roles with the REPLICATION attribute may start a WAL sender process.");
    ck_assert_str_eq(d.hint, "Ask.");
    ck_assert_str_eq(d.text, "connection to server at \"127.0.0.1\", port 5432 failed: FATAL: permission denied to "
                             "start WAL sender DETAIL: Only roles with the REPLICATION attribute may start a WAL "
                             "sender process. HINT: Ask.");
}
END_TEST

/* libpq tried twice (e.g. with and without SSL): the last error is the one that counts. */
START_TEST(connect_error_last_attempt_wins)
{
    pgrepl_connect_diag d;
    pgrepl__parse_connect_error("connection to server at \"h\", port 5432 failed: FATAL:  28000: no pg_hba.conf entry "
                                "for host \"1.2.3.4\", user \"u\", database \"d\", SSL encryption\nDETAIL:  first\n"
                                "connection to server at \"h\", port 5432 failed: FATAL:  28P01: password "
                                "authentication failed for user \"u\"\n",
                                &d);
    ck_assert_str_eq(d.sqlstate, "28P01");
    ck_assert_str_eq(d.message, "password authentication failed for user \"u\"");
    ck_assert_str_eq(d.detail, "");
}
END_TEST

START_TEST(connect_error_without_sqlstate)
{
    pgrepl_connect_diag d;
    /* a colon and two blanks inside a path, but no code after them */
    pgrepl__parse_connect_error("connection to server on socket \"/tmp/a:  b/.s.PGSQL.5432\" failed: No such file or "
                                "directory\n\tIs the server running locally and accepting connections on that "
                                "socket?\n",
                                &d);
    ck_assert_str_eq(d.sqlstate, "");
    ck_assert_str_eq(d.severity, "");
    ck_assert_str_eq(d.message, "");
    ck_assert_str_eq(d.text, "connection to server on socket \"/tmp/a: b/.s.PGSQL.5432\" failed: No such file or "
                             "directory Is the server running locally and accepting connections on that socket?");
    /* "LOCATION:" only belongs to a server error */
    pgrepl__parse_connect_error("LOCATION:  kept\n", &d);
    ck_assert_str_eq(d.text, "LOCATION: kept");
    pgrepl__parse_connect_error("", &d);
    ck_assert_str_eq(d.text, "");
    /* lower case is not a SQLSTATE */
    pgrepl__parse_connect_error("x failed: FATAL:  3d000: y\n", &d);
    ck_assert_str_eq(d.sqlstate, "");
}
END_TEST

/* Whatever the length, the fields stay terminated and within their size. */
START_TEST(connect_error_long_text)
{
    static char text[8192];
    size_t n = (size_t)snprintf(text, sizeof text, "x failed: FATAL:  53300: ");
    memset(text + n, 'm', 3000);
    n += 3000;
    n += (size_t)snprintf(text + n, sizeof text - n, "\nDETAIL:  ");
    memset(text + n, 'd', 3000);
    text[n + 3000] = '\0';
    pgrepl_connect_diag d;
    pgrepl__parse_connect_error(text, &d);
    ck_assert_str_eq(d.sqlstate, "53300");
    ck_assert_uint_eq(strlen(d.message), sizeof d.message - 1);
    ck_assert_uint_eq(strlen(d.detail), sizeof d.detail - 1);
    ck_assert_uint_lt(strlen(d.text), sizeof d.text);
    ck_assert_uint_gt(strlen(d.text), sizeof d.text / 2);
}
END_TEST

static Suite *pqerror_suite(void)
{
    Suite *s = suite_create("pqerror");
    TCase *cd = tcase_create("connect_error");
    tcase_add_test(cd, connect_error_with_sqlstate);
    tcase_add_test(cd, connect_error_detail_and_hint);
    tcase_add_test(cd, connect_error_last_attempt_wins);
    tcase_add_test(cd, connect_error_without_sqlstate);
    tcase_add_test(cd, connect_error_long_text);
    suite_add_tcase(s, cd);
    return s;
}

int main(void)
{
    return pgrepl_test_run_suite(pqerror_suite());
}
