/* The live-test harness against a real server of the major given as argv[1]. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "testutil.h"

static int major;
static pgt_server srv;

static void setup(void)
{
    ck_assert_msg(pgt_server_start(&srv, major, NULL) == 0, "PostgreSQL %d did not start: %s", major, srv.errmsg);
}

static void teardown(void)
{
    pgt_server_stop(&srv);
}

/* psql's output for SQL that must succeed. */
static char *query(const pgt_server *s, const char *dbname, const char *sql)
{
    char *out = NULL;
    int rc = pgt_psql(s, dbname, sql, &out);
    ck_assert_msg(rc == 0, "psql exited %d for: %s", rc, sql);
    ck_assert_ptr_nonnull(out);
    return out;
}

static void query_eq(const pgt_server *s, const char *sql, const char *expected)
{
    char *out = query(s, NULL, sql);
    ck_assert_msg(strcmp(out, expected) == 0, "%s\ngave \"%s\", want \"%s\"", sql, out, expected);
    free(out);
}

START_TEST(server_is_the_right_major)
{
    char *out = query(&srv, NULL, "SHOW server_version_num");
    ck_assert_int_eq(atoi(out) / 10000, major);
    free(out);
    char path[sizeof srv.bindir + 16];
    snprintf(path, sizeof path, "%s/postgres", srv.bindir);
    ck_assert_int_eq(access(path, X_OK), 0);
    char want[sizeof srv.conninfo];
    snprintf(want, sizeof want, "host=%s port=5432 user=postgres dbname=postgres", srv.dir);
    ck_assert_str_eq(srv.conninfo, want);
}
END_TEST

START_TEST(server_has_test_settings)
{
    query_eq(&srv, "SHOW wal_level", "logical");
    query_eq(&srv, "SHOW max_wal_senders", "20");
    query_eq(&srv, "SHOW max_replication_slots", "20");
    query_eq(&srv, "SHOW max_prepared_transactions", "10");
    query_eq(&srv, "SHOW logical_decoding_work_mem", "64kB");
    query_eq(&srv, "SHOW server_encoding", "UTF8");
    query_eq(&srv, "SHOW listen_addresses", "");
}
END_TEST

/* One insert decodes to Begin, Relation, Insert, Commit. */
START_TEST(pgoutput_slot)
{
    query_eq(&srv,
             "CREATE TABLE h_po (id int PRIMARY KEY, v text);\n"
             "CREATE PUBLICATION h_pub FOR TABLE h_po;\n"
             "SELECT slot_name FROM pg_create_logical_replication_slot('h_pgoutput', 'pgoutput');\n"
             "INSERT INTO h_po VALUES (1, 'a');\n"
             "SELECT string_agg(chr(get_byte(data, 0)), '' ORDER BY n)\n"
             "  FROM pg_logical_slot_peek_binary_changes('h_pgoutput', NULL, NULL,\n"
             "       'proto_version', '1', 'publication_names', 'h_pub') WITH ORDINALITY AS c(lsn, xid, data, n);\n"
             "SELECT plugin FROM pg_replication_slots WHERE slot_name = 'h_pgoutput';\n"
             "SELECT pg_drop_replication_slot('h_pgoutput');\n"
             "SELECT count(*) FROM pg_replication_slots;",
             "h_pgoutput\nBRIC\npgoutput\n\n0");
}
END_TEST

START_TEST(test_decoding_slot)
{
    query_eq(&srv,
             "CREATE TABLE h_td (id int PRIMARY KEY, v text);\n"
             "SELECT slot_name FROM pg_create_logical_replication_slot('h_td', 'test_decoding');\n"
             "INSERT INTO h_td VALUES (1, 'a');\n"
             "SELECT data FROM pg_logical_slot_get_changes('h_td', NULL, NULL, 'include-xids', '0');\n"
             "SELECT pg_drop_replication_slot('h_td');\n"
             "SELECT count(*) FROM pg_replication_slots;",
             "h_td\nBEGIN\ntable public.h_td: INSERT: id[integer]:1 v[text]:'a'\nCOMMIT\n\n0");
}
END_TEST

START_TEST(psql_stops_at_the_first_error)
{
    char *out = NULL;
    ck_assert_int_eq(pgt_psql(&srv, NULL, "CREATE TABLE h_e1 ();\nSELECT 1/0;\nCREATE TABLE h_e2 ();", &out), 3);
    free(out);
    query_eq(&srv, "SELECT to_regclass('h_e1') IS NOT NULL, to_regclass('h_e2') IS NULL", "t|t");
    ck_assert_int_eq(pgt_psql(&srv, NULL, "SELECT 1", NULL), 0);
}
END_TEST

START_TEST(psql_on_another_database)
{
    query_eq(&srv, "CREATE DATABASE \"it's a\\db\"", "");
    char *out = query(&srv, "it's a\\db", "SELECT current_database()");
    ck_assert_str_eq(out, "it's a\\db");
    free(out);
    char conninfo[1024];
    ck_assert_int_eq(pgt_conninfo(&srv, "x", conninfo, 16), -1);
}
END_TEST

/* Two more servers at once, with settings that override the defaults. */
static pgt_server tuned, plain;

static void setup_two(void)
{
    static const char *const settings[] = {"logical_decoding_work_mem=1MB", "max_replication_slots=7",
                                           "cluster_name=it's", NULL};
    ck_assert_msg(pgt_server_start(&tuned, major, settings) == 0, "PostgreSQL %d: %s", major, tuned.errmsg);
    ck_assert_msg(pgt_server_start(&plain, major, NULL) == 0, "PostgreSQL %d: %s", major, plain.errmsg);
}

static void teardown_two(void)
{
    pgt_server_stop(&plain);
    pgt_server_stop(&tuned);
}

START_TEST(settings_override_defaults)
{
    query_eq(&tuned, "SHOW logical_decoding_work_mem", "1MB");
    query_eq(&tuned, "SHOW max_replication_slots", "7");
    query_eq(&tuned, "SHOW cluster_name", "it's");
    query_eq(&tuned, "SHOW max_wal_senders", "20");
    query_eq(&plain, "SHOW logical_decoding_work_mem", "64kB");
    ck_assert_str_ne(tuned.dir, plain.dir);
}
END_TEST

START_TEST(bad_setting_fails_to_start)
{
    static const char *const settings[] = {"wal_level=bogus", NULL};
    pgt_server bad;
    ck_assert_int_eq(pgt_server_start(&bad, major, settings), -1);
    ck_assert_ptr_nonnull(strstr(bad.errmsg, "pg-server.sh start exited"));
    ck_assert_int_eq(bad.running, 0);
    ck_assert_int_eq(access(bad.dir, F_OK), -1);
}
END_TEST

START_TEST(stop_removes_everything)
{
    pgt_server s;
    ck_assert_int_eq(pgt_server_start(&s, major, NULL), 0);
    ck_assert_int_eq(pgt_psql(&s, NULL, "SELECT 1", NULL), 0);
    pgt_server_stop(&s);
    ck_assert_int_eq(access(s.dir, F_OK), -1);
    ck_assert_int_eq(errno, ENOENT);
    pgt_server_stop(&s);
}
END_TEST

/*
 * A process that starts a server and then dies of SIG leaves nothing behind:
 * SIGTERM goes through the harness's handler, SIGKILL through the watcher.
 */
static void check_owner_death(int sig)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        static pgt_server s;
        signal(SIGTERM, SIG_DFL); /* not Check's handler, which kills the test's group */
        close(fds[0]);
        if (pgt_server_start(&s, major, NULL) != 0)
            _exit(1);
        ssize_t n = write(fds[1], s.dir, strlen(s.dir) + 1);
        raise(n > 0 ? sig : SIGABRT);
        _exit(2);
    }
    close(fds[1]);
    char dir[PGT_PATH_MAX] = "";
    ssize_t n = read(fds[0], dir, sizeof dir - 1);
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(n > 0, "the owner did not start a server");
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == sig);
    const struct timespec tenth = {0, 100000000};
    for (int i = 0; i < 300 && access(dir, F_OK) == 0; i++)
        nanosleep(&tenth, NULL);
    ck_assert_msg(access(dir, F_OK) != 0, "%s is still there 30 s after its owner died", dir);
}

START_TEST(owner_killed_by_sigterm)
{
    check_owner_death(SIGTERM);
}
END_TEST

START_TEST(owner_killed_by_sigkill)
{
    check_owner_death(SIGKILL);
}
END_TEST

START_TEST(major_from_args)
{
    char prog[] = "suite", arg[] = "17";
    char *argv[] = {prog, arg, NULL};
    ck_assert_int_eq(pgt_major_from_args(2, argv), 17);
}
END_TEST

START_TEST(major_from_args_rejects_junk)
{
    char prog[] = "suite", arg[] = "15x";
    char *argv[] = {prog, arg, NULL};
    pgt_major_from_args(2, argv);
}
END_TEST

static Suite *harness_suite(void)
{
    static char name[32];
    snprintf(name, sizeof name, "harness-pg%d", major);
    Suite *s = suite_create(name);

    TCase *tc = tcase_create("server");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, server_is_the_right_major);
    tcase_add_test(tc, server_has_test_settings);
    tcase_add_test(tc, pgoutput_slot);
    tcase_add_test(tc, test_decoding_slot);
    tcase_add_test(tc, psql_stops_at_the_first_error);
    tcase_add_test(tc, psql_on_another_database);
    suite_add_tcase(s, tc);

    tc = tcase_create("lifecycle");
    tcase_add_unchecked_fixture(tc, setup_two, teardown_two);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, settings_override_defaults);
    tcase_add_test(tc, bad_setting_fails_to_start);
    tcase_add_test(tc, stop_removes_everything);
    tcase_add_test(tc, owner_killed_by_sigterm);
    tcase_add_test(tc, owner_killed_by_sigkill);
    tcase_add_test(tc, major_from_args);
    tcase_add_exit_test(tc, major_from_args_rejects_junk, EXIT_FAILURE);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    major = pgt_major_from_args(argc, argv);
    return pgrepl_test_run_suite(harness_suite());
}
