/* Real PostgreSQL servers for the live suites: see harness.h. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_SERVERS 8
#define MAX_SETTINGS 32
#define BASH "/bin/bash"
#define PSQL "/usr/bin/psql"

/* Servers started by this process and not yet stopped, for the exit paths. */
static pgt_server *volatile registry[MAX_SERVERS];
static int atexit_done;
static struct sigaction old_term, old_int;

__attribute__((format(printf, 2, 3))) static int fail(pgt_server *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "harness: PostgreSQL %d: %s\n", s->major, s->errmsg);
    return -1;
}

/* execv wants char *const[]; it does not modify the strings. */
static void exec_argv(const char *path, const char *const *argv)
{
    union {
        const char *const *c;
        char *const *m;
    } args = {.c = argv};
    execv(path, args.m);
}

static char *read_all(int fd)
{
    size_t len = 0, cap = 256;
    char *buf = malloc(cap);
    for (;;) {
        if (buf == NULL)
            return NULL;
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (cap - len < 2) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL)
                free(buf);
            buf = bigger;
            cap *= 2;
        }
    }
    buf[len] = '\0';
    while (len > 0 && buf[len - 1] == '\n')
        buf[--len] = '\0';
    return buf;
}

static int wait_status(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

/*
 * Run PATH with ARGV and wait for it. If OUT is not NULL, capture its stdout
 * there. OWNER > 0 is passed on as PGREPL_OWNER_PID. Returns the exit status
 * (128 + signal if killed), or -1 if it could not be run.
 */
static int run(const char *path, const char *const *argv, char **out, pid_t owner)
{
    int pipefd[2] = {-1, -1};
    if (out != NULL) {
        *out = NULL;
        if (pipe(pipefd) != 0)
            return -1;
    }
    char owner_text[32];
    snprintf(owner_text, sizeof owner_text, "%ld", (long)owner);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (out != NULL) {
            dup2(pipefd[1], STDOUT_FILENO);
            close(pipefd[0]);
            close(pipefd[1]);
        }
        if (owner > 0)
            setenv("PGREPL_OWNER_PID", owner_text, 1);
        exec_argv(path, argv);
        fprintf(stderr, "harness: cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    if (out != NULL) {
        close(pipefd[1]);
        if (pid > 0)
            *out = read_all(pipefd[0]);
        close(pipefd[0]);
    }
    if (pid < 0)
        return -1;
    return wait_status(pid);
}

/* Synchronous teardown; the normal path and atexit. */
static void destroy(pgt_server *s)
{
    const char *argv[] = {"bash", s->script, "destroy", s->dir, NULL};
    int rc = run(BASH, argv, NULL, 0);
    if (rc != 0)
        fprintf(stderr, "harness: PostgreSQL %d in %s: destroy exited %d\n", s->major, s->dir, rc);
}

/*
 * Teardown from a signal handler: only async-signal-safe calls, and it must
 * not wait, since meson follows SIGTERM with SIGKILL to the whole process
 * group half a second later. The destroyer runs in its own session so that
 * SIGKILL does not reach it. If fork fails or hangs here, the watcher started
 * by pg-server.sh still destroys the server within a second.
 */
static void destroy_detached(pgt_server *s)
{
    if (fork() != 0)
        return;
    setsid();
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
    }
    const char *argv[] = {"bash", s->script, "destroy", s->dir, NULL};
    exec_argv(BASH, argv);
    _exit(127);
}

static void on_signal(int sig)
{
    pid_t self = getpid();
    for (int i = 0; i < MAX_SERVERS; i++) {
        pgt_server *s = registry[i];
        if (s != NULL && s->running && s->owner == self)
            destroy_detached(s);
    }
    /* Let whoever handled the signal before us (Check, or the default
     * action) finish the job once we return. */
    sigaction(sig, sig == SIGTERM ? &old_term : &old_int, NULL);
    raise(sig);
}

static void at_exit(void)
{
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (registry[i] != NULL)
            pgt_server_stop(registry[i]);
    }
}

/* Check's srunner_run installs its own SIGTERM/SIGINT handlers and restores
 * the previous ones afterwards, so ours are put in place (again) whenever a
 * server starts, keeping the handler they replace to chain to. */
static void install_handlers(void)
{
    struct sigaction sa, cur;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, NULL, &cur);
    if (cur.sa_handler != on_signal)
        sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGINT, NULL, &cur);
    if (cur.sa_handler != on_signal)
        sigaction(SIGINT, &sa, &old_int);
    if (!atexit_done && atexit(at_exit) == 0)
        atexit_done = 1;
}

static int enlist(pgt_server *s)
{
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (registry[i] == NULL) {
            registry[i] = s;
            return 0;
        }
    }
    return -1;
}

static void delist(const pgt_server *s)
{
    for (int i = 0; i < MAX_SERVERS; i++) {
        if (registry[i] == s)
            registry[i] = NULL;
    }
}

static int copy_line(pgt_server *s, char *dst, size_t size, char *src, const char *what)
{
    int fits = src != NULL && src[0] != '\0' && strlen(src) < size;
    if (fits)
        memcpy(dst, src, strlen(src) + 1);
    free(src);
    return fits ? 0 : fail(s, "no usable %s from the scripts", what);
}

static int find_bindir(pgt_server *s)
{
    char script[PGT_PATH_MAX], major[16], *out;
    snprintf(script, sizeof script, "%s", s->script);
    char *slash = strrchr(script, '/');
    snprintf(slash + 1, sizeof script - (size_t)(slash + 1 - script), "pg-fetch.sh");
    snprintf(major, sizeof major, "%d", s->major);
    const char *argv[] = {"bash", script, major, NULL};
    int rc = run(BASH, argv, &out, 0);
    if (rc != 0) {
        free(out);
        return fail(s, "scripts/pg-fetch.sh %d exited %d", s->major, rc);
    }
    return copy_line(s, s->bindir, sizeof s->bindir, out, "bin directory");
}

static int launch(pgt_server *s, const char *const *extra)
{
    char major[16], *out;
    const char *argv[6 + MAX_SETTINGS] = {"bash", s->script, "start", major, s->dir};
    size_t n = 5;
    for (; extra != NULL && *extra != NULL; extra++) {
        if (n == 5 + MAX_SETTINGS)
            return fail(s, "more than %d extra settings", MAX_SETTINGS);
        argv[n++] = *extra;
    }
    argv[n] = NULL;
    snprintf(major, sizeof major, "%d", s->major);
    int rc = run(BASH, argv, &out, s->owner);
    if (rc != 0) {
        free(out);
        return fail(s, "scripts/pg-server.sh start exited %d (its output is above)", rc);
    }
    return copy_line(s, s->conninfo, sizeof s->conninfo, out, "conninfo");
}

int pgt_server_start(pgt_server *s, int major, const char *const *extra_settings)
{
    memset(s, 0, sizeof *s);
    s->major = major;
    s->owner = getpid();
    const char *root = getenv("PGREPL_SOURCE_ROOT");
    if (root == NULL || root[0] == '\0')
        return fail(s, "PGREPL_SOURCE_ROOT is not set (run the suite through meson test)");
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    int n1 = snprintf(s->script, sizeof s->script, "%s/scripts/pg-server.sh", root);
    int n2 = snprintf(s->dir, sizeof s->dir, "%s/pgrepl-pg%d-XXXXXX", tmp, major);
    if (n1 < 0 || (size_t)n1 >= sizeof s->script || n2 < 0 || (size_t)n2 >= sizeof s->dir)
        return fail(s, "PGREPL_SOURCE_ROOT or TMPDIR is too long");
    if (mkdtemp(s->dir) == NULL)
        return fail(s, "mkdtemp %s: %s", s->dir, strerror(errno));
    install_handlers();
    if (enlist(s) != 0) {
        rmdir(s->dir);
        return fail(s, "more than %d servers at once", MAX_SERVERS);
    }
    s->running = 1;
    if (find_bindir(s) != 0 || launch(s, extra_settings) != 0) {
        pgt_server_stop(s);
        return -1;
    }
    return 0;
}

void pgt_server_stop(pgt_server *s)
{
    if (!s->running || s->owner != getpid())
        return;
    destroy(s);
    s->running = 0;
    delist(s);
}

/* Append VALUE to BUF (holding LEN bytes) as a libpq conninfo value. */
static int append_quoted(char *buf, size_t size, size_t *len, const char *value)
{
    if (*len + 3 > size)
        return -1;
    buf[(*len)++] = '\'';
    for (const char *p = value; *p != '\0'; p++) {
        if (*len + 3 >= size)
            return -1;
        if (*p == '\'' || *p == '\\')
            buf[(*len)++] = '\\';
        buf[(*len)++] = *p;
    }
    buf[(*len)++] = '\'';
    buf[*len] = '\0';
    return 0;
}

int pgt_conninfo(const pgt_server *s, const char *dbname, char *buf, size_t size)
{
    size_t len = sizeof "host=" - 1;
    if (size < sizeof "host=")
        return -1;
    memcpy(buf, "host=", sizeof "host=");
    if (append_quoted(buf, size, &len, s->dir) != 0)
        return -1;
    static const char middle[] = " port=5432 user=postgres dbname=";
    if (len + sizeof middle > size)
        return -1;
    memcpy(buf + len, middle, sizeof middle);
    len += sizeof middle - 1;
    return append_quoted(buf, size, &len, dbname != NULL ? dbname : "postgres");
}

int pgt_write_temp(const char *path_template, char *path, size_t size, const char *text)
{
    snprintf(path, size, "%s", path_template);
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    /* readable by a server that runs as another user (its hba_file, say) */
    fchmod(fd, 0644);
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    close(fd);
    if (done == len)
        return 0;
    unlink(path);
    return -1;
}

int pgt_psql(const pgt_server *s, const char *dbname, const char *sql, char **out)
{
    char conninfo[sizeof s->conninfo + 2 * PGT_PATH_MAX], tmpl[PGT_PATH_MAX + 16], path[sizeof tmpl];
    if (out != NULL)
        *out = NULL;
    if (pgt_conninfo(s, dbname, conninfo, sizeof conninfo) != 0)
        return -1;
    /* psql -f runs the statements one by one, as a script does; -c would run
     * them as one implicit transaction. */
    snprintf(tmpl, sizeof tmpl, "%s/sql-XXXXXX", s->dir);
    if (pgt_write_temp(tmpl, path, sizeof path, sql) != 0) {
        fprintf(stderr, "harness: cannot write SQL into %s: %s\n", s->dir, strerror(errno));
        return -1;
    }
    const char *argv[] = {"psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-f", path, NULL};
    int rc = run(PSQL, argv, out, 0);
    unlink(path);
    return rc;
}

int pgt_major_from_args(int argc, char **argv)
{
    char *end = NULL;
    long major = argc >= 2 ? strtol(argv[1], &end, 10) : 0;
    if (argc < 2 || end == argv[1] || *end != '\0' || major < 10 || major > 99) {
        fprintf(stderr, "usage: %s MAJOR   (the PostgreSQL major version to test against, e.g. 15)\n",
                argc > 0 ? argv[0] : "suite");
        exit(EXIT_FAILURE);
    }
    return (int)major;
}
