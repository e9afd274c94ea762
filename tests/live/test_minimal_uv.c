/*
 * examples/minimal-uv against a real server of the major given as argv[1]:
 * what its comment promises. It prints each insert, update and delete as
 * one line with the columns as text, acknowledges each transaction, and on
 * SIGINT exits 0 after confirming what it printed, so that the next run
 * starts after it. A missing slot and bad usage are errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "pgrepl/pgrepl.h"
#include "testutil.h"

#define EXIT_TIMEOUT_S 60

static int major;
static pgt_server srv;

/* ---- the process --------------------------------------------------------- */

static const char *example_path(void)
{
    static char path[PGT_PATH_MAX * 2];
    const char *root = getenv("PGREPL_BUILD_ROOT");
    ck_assert_msg(root != NULL, "PGREPL_BUILD_ROOT is not set (run with meson test)");
    snprintf(path, sizeof path, "%s/examples/minimal-uv", root);
    ck_assert_msg(access(path, X_OK) == 0, "%s: %s", path, strerror(errno));
    return path;
}

/* A file in the server's directory, which goes with the server. */
static void spath(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", srv.dir, name);
}

/* Run minimal-uv with up to three arguments (NULL ends them) in the background, stdout and stderr to files. */
static pid_t spawn(const char *a1, const char *a2, const char *a3, const char *out, const char *err)
{
    const char *path = example_path();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0 || dup2(o, STDOUT_FILENO) < 0 || dup2(e, STDERR_FILENO) < 0)
            _exit(126);
        /* a Check test child may block signals; the example must see SIGINT as from a terminal */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGINT, SIG_DFL);
        execl(path, path, a1, a2, a3, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Exit status of pid, waiting up to secs; -1 (and the process killed) on timeout, -2 when a signal ended it. */
static int wait_exit(pid_t pid, int secs)
{
    for (int i = 0; i < secs * 20; i++) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        ck_assert_int_ge(r, 0);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
        sleep_ms(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

/* The file's contents (free it); "" when it does not exist yet. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return strdup("");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        size_t n = fread(buf + len, 1, 4096, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* Wait up to secs for path to hold exactly want; false (and what it held in *got, to free) if it never did. */
static bool wait_for_output(const char *path, const char *want, int secs, char **got)
{
    for (int i = 0; i < secs * 20; i++) {
        *got = read_file(path);
        if (strcmp(*got, want) == 0 || strlen(*got) > strlen(want))
            return strcmp(*got, want) == 0;
        free(*got);
        sleep_ms(50);
    }
    *got = read_file(path);
    return false;
}

/* ---- SQL ------------------------------------------------------------------ */

__attribute__((format(printf, 1, 2))) static char *value_of(const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    char *out = NULL;
    int rc = pgt_psql(&srv, NULL, text, &out);
    ck_assert_msg(rc == 0 && out != NULL, "psql exited %d for:\n%s", rc, text);
    return out;
}

#define SQL(...) free(value_of(__VA_ARGS__))

static pgrepl_lsn lsn_value(const char *sql)
{
    char *text = value_of("%s", sql);
    pgrepl_lsn lsn = 0;
    ck_assert_msg(pgrepl_lsn_parse(text, &lsn) == 0, "%s: not an LSN: \"%s\"", sql, text);
    free(text);
    return lsn;
}

static pgrepl_lsn confirmed(void)
{
    return lsn_value("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'mini'");
}

static void setup(void)
{
    ck_assert_msg(pgt_server_start(&srv, major, NULL) == 0, "PostgreSQL %d did not start: %s", major, srv.errmsg);
    SQL("CREATE TABLE items (id integer PRIMARY KEY, v text, n integer);"
        "CREATE PUBLICATION items_pub FOR TABLE items;"
        "SELECT pg_create_logical_replication_slot('mini', 'pgoutput')");
}

static void teardown(void)
{
    pgt_server_stop(&srv);
}

/* ---- tests ------------------------------------------------------------------ */

/*
 * One line per change, each transaction acknowledged: after SIGINT the slot
 * has confirmed past the start of the last transaction printed (the status
 * interval, 10 s, never came: the final status update did it), and a second
 * run prints only what is new.
 */
START_TEST(prints_changes_acknowledges_and_stops_on_sigint)
{
    char out[PGT_PATH_MAX + 16], err[PGT_PATH_MAX + 16];
    spath(out, sizeof out, "mini.out");
    spath(err, sizeof err, "mini.err");
    pid_t pid = spawn(srv.conninfo, "mini", "items_pub", out, err);
    SQL("INSERT INTO items VALUES (1, 'one', NULL), (2, 'two words', 2)");
    SQL("UPDATE items SET v = 'uno', n = 1 WHERE id = 1");
    pgrepl_lsn before_delete = lsn_value("SELECT pg_current_wal_lsn()");
    SQL("DELETE FROM items WHERE id = 2");
    const char *want = "INSERT public.items id=1 v=one n=NULL\n"
                       "INSERT public.items id=2 v=two words n=2\n"
                       "UPDATE public.items id=1 v=uno n=1\n"
                       "DELETE public.items id=2\n";
    char *got = NULL;
    bool printed = wait_for_output(out, want, 30, &got);
    char *errors = read_file(err);
    ck_assert_msg(printed, "printed:\n%s\nwant:\n%s\nstderr:\n%s", got, want, errors);
    free(got);
    free(errors);

    kill(pid, SIGINT);
    int rc = wait_exit(pid, EXIT_TIMEOUT_S);
    errors = read_file(err);
    ck_assert_msg(rc == 0, "exit %d after SIGINT; stderr:\n%s", rc, errors);
    free(errors);
    pgrepl_lsn after = confirmed();
    ck_assert_msg(after > before_delete, "the slot confirmed %X/%X, not past %X/%X where the DELETE began",
                  (unsigned)(after >> 32), (unsigned)after, (unsigned)(before_delete >> 32), (unsigned)before_delete);

    /* the next run starts after what was acknowledged: the DELETE, were it not confirmed, would come first */
    spath(out, sizeof out, "mini2.out");
    pid = spawn(srv.conninfo, "mini", "items_pub", out, err);
    SQL("INSERT INTO items VALUES (3, 'three', 3)");
    printed = wait_for_output(out, "INSERT public.items id=3 v=three n=3\n", 30, &got);
    ck_assert_msg(printed, "the second run printed:\n%s", got);
    free(got);
    kill(pid, SIGINT);
    ck_assert_int_eq(wait_exit(pid, EXIT_TIMEOUT_S), 0);
}
END_TEST

START_TEST(missing_slot_is_an_error)
{
    char out[PGT_PATH_MAX + 16], err[PGT_PATH_MAX + 16];
    spath(out, sizeof out, "missing.out");
    spath(err, sizeof err, "missing.err");
    int rc = wait_exit(spawn(srv.conninfo, "no_such_slot", "items_pub", out, err), EXIT_TIMEOUT_S);
    char *errors = read_file(err);
    ck_assert_msg(rc == 1, "exit %d; stderr:\n%s", rc, errors);
    ck_assert_msg(strncmp(errors, "minimal-uv: ", 12) == 0 && strstr(errors, "no_such_slot") != NULL,
                  "stderr does not name the slot:\n%s", errors);
    free(errors);
}
END_TEST

START_TEST(bad_usage)
{
    char out[PGT_PATH_MAX + 16], err[PGT_PATH_MAX + 16];
    spath(out, sizeof out, "usage.out");
    spath(err, sizeof err, "usage.err");
    ck_assert_int_eq(wait_exit(spawn(srv.conninfo, "mini", NULL, out, err), EXIT_TIMEOUT_S), 2);
    char *errors = read_file(err);
    ck_assert_msg(strstr(errors, "usage: minimal-uv CONNINFO SLOT PUBLICATION") != NULL, "stderr:\n%s", errors);
    free(errors);
    /* a slot name the server would truncate is refused before connecting */
    char long_name[80];
    memset(long_name, 's', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    ck_assert_int_eq(wait_exit(spawn(srv.conninfo, long_name, "items_pub", out, err), EXIT_TIMEOUT_S), 1);
}
END_TEST

static Suite *minimal_uv_suite(void)
{
    Suite *s = suite_create("minimal_uv");
    TCase *tc = tcase_create("core");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, prints_changes_acknowledges_and_stops_on_sigint);
    tcase_add_test(tc, missing_slot_is_an_error);
    tcase_add_test(tc, bad_usage);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    major = pgt_major_from_args(argc, argv);
    return pgrepl_test_run_suite(minimal_uv_suite());
}
