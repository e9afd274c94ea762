/*
 * The minimal examples against a real server: run as a user would run them,
 * they print the changes made, acknowledge them (the slot's
 * confirmed_flush_lsn moves past them) and stop cleanly on SIGINT.
 * minimal-poll also proves the seam: it streams with no libuv linked.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "harness.h"
#include "testutil.h"

static int major;
static pgt_server srv;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void example_path(const char *name, char *path, size_t size)
{
    const char *root = getenv("PGREPL_BUILD_ROOT");
    ck_assert_msg(root != NULL, "PGREPL_BUILD_ROOT is not set (run with meson test)");
    snprintf(path, size, "%s/examples/%s", root, name);
    ck_assert_msg(access(path, X_OK) == 0, "%s: %s", path, strerror(errno));
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return strdup("");
    char *buf = calloc(1, 1 << 16);
    ck_assert_ptr_nonnull(buf);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int count_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; *p != '\0'; p++)
        n += *p == '\n';
    return n;
}

static char *query(const char *sql)
{
    char *out = NULL;
    ck_assert_int_eq(pgt_psql(&srv, NULL, sql, &out), 0);
    ck_assert_ptr_nonnull(out);
    return out;
}

static void setup(void)
{
    ck_assert_msg(pgt_server_start(&srv, major, NULL) == 0, "PostgreSQL %d did not start: %s", major, srv.errmsg);
    ck_assert_int_eq(pgt_psql(&srv, NULL,
                              "CREATE TABLE items (id int PRIMARY KEY, name text);"
                              "CREATE PUBLICATION items_pub FOR TABLE items;",
                              NULL),
                     0);
}

static void teardown(void)
{
    pgt_server_stop(&srv);
}

/* Run example `name` on a new slot, make five changes, see five lines, SIGINT: exit 0, the slot confirmed them. */
static void run_example(const char *name, const char *slot)
{
    char path[PGT_PATH_MAX * 2], sql[256], out[] = "/tmp/pgrepl-example-XXXXXX";
    example_path(name, path, sizeof path);
    snprintf(sql, sizeof sql, "SELECT pg_create_logical_replication_slot('%s', 'pgoutput')", slot);
    free(query(sql));
    int fd = mkstemp(out);
    ck_assert_int_ge(fd, 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGINT, SIG_DFL);
        if (dup2(fd, STDOUT_FILENO) < 0)
            _exit(126);
        execl(path, name, srv.conninfo, slot, "items_pub", (char *)NULL);
        _exit(127);
    }
    close(fd);
    ck_assert_int_eq(pgt_psql(&srv, NULL,
                              "INSERT INTO items VALUES (1, 'one'), (2, 'two');"
                              "INSERT INTO items VALUES (3, 'three');"
                              "UPDATE items SET name = 'uno' WHERE id = 1;"
                              "DELETE FROM items WHERE id = 2;",
                              NULL),
                     0);
    char *wal = query("SELECT pg_current_wal_lsn()");
    char *text = NULL;
    for (int i = 0; i < 300; i++) {
        free(text);
        text = slurp(out);
        if (count_lines(text) >= 5)
            break;
        sleep_ms(50);
    }
    ck_assert_msg(count_lines(text) == 5, "%s printed:\n%s", name, text);
    ck_assert_ptr_nonnull(strstr(text, "insert public.items: id=1 name=one\n"));
    ck_assert_ptr_nonnull(strstr(text, "insert public.items: id=3 name=three\n"));
    ck_assert_ptr_nonnull(strstr(text, "update public.items: id=1 name=uno\n"));
    ck_assert_ptr_nonnull(strstr(text, "delete public.items: id=2"));
    ck_assert_int_eq(kill(pid, SIGINT), 0);
    int status = -1;
    for (int i = 0; i < 200 && waitpid(pid, &status, WNOHANG) == 0; i++)
        sleep_ms(50);
    if (!WIFEXITED(status))
        kill(pid, SIGKILL);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s did not exit 0 on SIGINT (status %d)", name,
                  status);
    snprintf(sql, sizeof sql, "SELECT confirmed_flush_lsn >= '%s' FROM pg_replication_slots WHERE slot_name = '%s'",
             wal, slot);
    char *confirmed = query(sql);
    ck_assert_msg(strcmp(confirmed, "t") == 0, "the slot did not confirm the changes (up to %s)", wal);
    free(confirmed);
    free(wal);
    free(text);
    unlink(out);
}

START_TEST(minimal_poll_streams_without_libuv)
{
    char path[PGT_PATH_MAX * 2], cmd[PGT_PATH_MAX * 2 + 32];
    example_path("minimal-poll", path, sizeof path);
    snprintf(cmd, sizeof cmd, "readelf -d '%s'", path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[512];
    bool pq = false;
    while (fgets(line, sizeof line, p) != NULL) {
        ck_assert_msg(strstr(line, "libuv") == NULL, "minimal-poll links libuv: %s", line);
        pq = pq || strstr(line, "libpq") != NULL;
    }
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_msg(pq, "readelf shows no libpq: not a dynamic executable?");
    run_example("minimal-poll", "poll_slot");
}
END_TEST

static Suite *examples_suite(void)
{
    Suite *s = suite_create("examples");
    TCase *tc = tcase_create("minimal");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, minimal_poll_streams_without_libuv);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    major = pgt_major_from_args(argc, argv);
    return pgrepl_test_run_suite(examples_suite());
}
