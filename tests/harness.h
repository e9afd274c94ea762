/*
 * Real PostgreSQL servers for the live suites.
 *
 * A live suite is one executable run once per major version, which it gets as
 * argv[1] (pgt_major_from_args). It starts its server in an UNCHECKED fixture
 * (tcase_add_unchecked_fixture): that runs in the Check parent process, so
 * the server outlives the forked per-test children and is stopped exactly
 * once. Pattern (see tests/live/test_harness.c):
 *
 *     static pgt_server srv;
 *     static int major;
 *     static void setup(void)
 *     {
 *         ck_assert_msg(pgt_server_start(&srv, major, NULL) == 0,
 *                       "PostgreSQL %d: %s", major, srv.errmsg);
 *     }
 *     static void teardown(void) { pgt_server_stop(&srv); }
 *
 * A server that cannot start fails the test case; live tests never skip.
 *
 * Servers listen only on a Unix socket in their own temporary directory, so
 * several can run at once. Teardown is robust: servers still running when the
 * process that started them exits (atexit) or gets SIGTERM/SIGINT are
 * destroyed, and a detached watcher destroys them if that process dies any
 * other way (SIGKILL, crash).
 *
 * Scripts are found through $PGREPL_SOURCE_ROOT (set by tests/meson.build).
 * This file uses plain malloc, not pgrepl's allocator, so that
 * allocation-failure tests do not reach the harness.
 */
#ifndef PGREPL_TESTS_HARNESS_H
#define PGREPL_TESTS_HARNESS_H

#include <signal.h>
#include <sys/types.h>

#define PGT_PATH_MAX 256

typedef struct pgt_server {
    int major;
    char dir[PGT_PATH_MAX];          /* temporary directory: socket, data/, logs */
    char bindir[PGT_PATH_MAX];       /* server binaries (initdb, pg_ctl, postgres) */
    char conninfo[PGT_PATH_MAX + 64]; /* "host=DIR port=5432 user=postgres dbname=postgres" */
    char errmsg[256];                /* why pgt_server_start failed */
    /* Owned by the harness. */
    volatile sig_atomic_t running;
    pid_t owner;
    char script[PGT_PATH_MAX];
} pgt_server;

/*
 * Start a server of MAJOR in a new temporary directory. extra_settings is NULL
 * or a NULL-terminated list of "name=value" server settings that override the
 * defaults (wal_level=logical, logical_decoding_work_mem=64kB, ...; see
 * scripts/pg-server.sh). *s must stay valid until pgt_server_stop (use static
 * storage). Returns 0, or -1 with s->errmsg set, the reason printed on stderr
 * and nothing left behind.
 */
int pgt_server_start(pgt_server *s, int major, const char *const *extra_settings);

/*
 * Stop the server and remove its directory. Safe to call on a server that was
 * never started or is already stopped, and from forked children (which do
 * nothing: only the process that started the server stops it).
 */
void pgt_server_stop(pgt_server *s);

/*
 * Write the conninfo for database DBNAME (NULL: postgres) of S into BUF.
 * Returns 0, or -1 if it does not fit.
 */
int pgt_conninfo(const pgt_server *s, const char *dbname, char *buf, size_t size);

/*
 * Run SQL (one or more statements) with
 * `/usr/bin/psql -X -q -A -t -v ON_ERROR_STOP=1` on database DBNAME (NULL:
 * postgres). Statements run one by one in autocommit, as in a psql script.
 * If OUT is not NULL, *OUT receives psql's standard output with trailing
 * newlines removed (free() it; NULL if it could not be captured); if OUT is
 * NULL, that output goes to the suite's stdout. psql's errors go to stderr.
 * Returns psql's exit status (0 on success, 3 for an SQL error), or -1 if
 * psql could not be run.
 */
int pgt_psql(const pgt_server *s, const char *dbname, const char *sql, char **out);

/*
 * Write TEXT into a new file made from PATH_TEMPLATE (mkstemp: it ends in
 * XXXXXX), readable by everyone (a server running as `postgres` reads it);
 * its name goes to PATH (SIZE bytes). Returns 0, or -1 with nothing left.
 */
int pgt_write_temp(const char *path_template, char *path, size_t size, const char *text);

/*
 * The major version a live suite runs against, from argv[1]. Exits with a
 * message if it is missing or not a number in 10..99.
 */
int pgt_major_from_args(int argc, char **argv);

#endif
