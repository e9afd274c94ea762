/*
 * pgrepl-capture: record the raw CopyData stream of a pgoutput slot into a
 * fixture file, for tests/fixtures.
 *
 *   pgrepl-capture -d CONNINFO -S SLOT -E ENDPOS -o FILE [-O name=value]... [-t SECONDS]
 *
 * ENDPOS is an LSN ("0/1BE84E0") or "@PATH": the LSN is then read from PATH
 * once that file exists, so the capture can run while the workload is still
 * producing WAL (an aborted streamed transaction is only sent if it is
 * decoded before its abort record is flushed).
 *
 * File format: the 8 bytes "PGRCAP01", then one record per CopyData message
 * received ('w' and 'k' alike): a 4-byte big-endian length and the payload.
 *
 * The slot is never advanced: status updates carry write = flush = apply = 0,
 * so the same slot could be captured again. This is a test tool; it blocks.
 *
 * Exit status: 0 captured, 1 error (message on stderr), 2 timed out.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "pgrepl/pgrepl.h"

#define CAPTURE_MAGIC "PGRCAP01"
/* While waiting for ENDPOS, ask the server for a keepalive after this much silence. */
#define IDLE_PING_MS 500

typedef struct options {
    const char *conninfo;
    const char *slot;
    const char *endpos_arg;
    const char *outfile;
    const char **plugin_opts; /* "name=value" strings */
    int nplugin_opts;
    unsigned timeout_s;
} options;

typedef struct capture {
    PGconn *conn;
    FILE *out;
    bool have_endpos;
    pgrepl_lsn endpos;
    pgrepl_lsn max_walend; /* highest walEnd received */
    long nxlogdata;
    long nkeepalive;
} capture;

static void on_alarm(int sig)
{
    static const char msg[] = "pgrepl-capture: timed out\n";
    (void)sig;
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    _exit(2);
}

__attribute__((noreturn)) static void usage(void)
{
    fprintf(stderr, "usage: pgrepl-capture -d CONNINFO -S SLOT -E LSN|@FILE -o FILE [-O name=value]... "
                    "[-t SECONDS]\n");
    exit(1);
}

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* libpq messages end with a newline of their own. */
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    fprintf(stderr, "pgrepl-capture: %s\n", msg);
    exit(1);
}

/* Report a failed result with its SQLSTATE and exit. */
__attribute__((noreturn)) static void die_result(const char *what, const PGresult *res, PGconn *conn)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
    if (msg == NULL || *msg == '\0')
        msg = PQerrorMessage(conn);
    fprintf(stderr, "pgrepl-capture: %s failed: [%s] %s", what, state ? state : "no SQLSTATE", msg);
    if (msg[0] == '\0' || msg[strlen(msg) - 1] != '\n')
        fprintf(stderr, "\n");
    exit(1);
}

static void parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->timeout_s = 120;
    o->plugin_opts = calloc((size_t)argc, sizeof *o->plugin_opts);
    if (o->plugin_opts == NULL)
        die("out of memory");
    int c;
    while ((c = getopt(argc, argv, "d:S:E:o:O:t:")) != -1) {
        switch (c) {
        case 'd': o->conninfo = optarg; break;
        case 'S': o->slot = optarg; break;
        case 'E': o->endpos_arg = optarg; break;
        case 'o': o->outfile = optarg; break;
        case 'O':
            if (strchr(optarg, '=') == NULL)
                die("option \"%s\" is not name=value", optarg);
            o->plugin_opts[o->nplugin_opts++] = optarg;
            break;
        case 't': {
            char *end;
            unsigned long t = strtoul(optarg, &end, 10);
            if (*end != '\0' || t == 0 || t > 86400)
                die("bad timeout \"%s\"", optarg);
            o->timeout_s = (unsigned)t;
            break;
        }
        default: usage();
        }
    }
    if (optind != argc || !o->conninfo || !o->slot || !o->endpos_arg || !o->outfile)
        usage();
}

/* Growable text buffer for the START_REPLICATION command. */
typedef struct text {
    char *s;
    size_t len, cap;
} text;

static void text_addn(text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *p = realloc(t->s, cap);
        if (p == NULL)
            die("out of memory");
        t->s = p;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void text_add(text *t, const char *s)
{
    text_addn(t, s, strlen(s));
}

/* Append s[0..n) between quote characters q, doubling q inside (protocol.md section 2). */
static void text_add_quoted(text *t, const char *s, size_t n, char q)
{
    text_addn(t, &q, 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == q)
            text_addn(t, &q, 1);
        text_addn(t, s + i, 1);
    }
    text_addn(t, &q, 1);
}

static char *start_command(const options *o)
{
    text t = {0};
    text_add(&t, "START_REPLICATION SLOT ");
    text_add_quoted(&t, o->slot, strlen(o->slot), '"');
    text_add(&t, " LOGICAL 0/0");
    for (int i = 0; i < o->nplugin_opts; i++) {
        const char *opt = o->plugin_opts[i];
        const char *eq = strchr(opt, '=');
        text_add(&t, i == 0 ? " (" : ", ");
        text_add_quoted(&t, opt, (size_t)(eq - opt), '"');
        text_add(&t, " ");
        text_add_quoted(&t, eq + 1, strlen(eq + 1), '\'');
    }
    if (o->nplugin_opts > 0)
        text_add(&t, ")");
    return t.s;
}

static PGconn *connect_replication(const char *conninfo)
{
    /* expand_dbname lets conninfo be either key=value pairs or a URI; the later keyword wins. */
    const char *const keys[] = {"dbname", "replication", NULL};
    const char *const vals[] = {conninfo, "database", NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (conn == NULL)
        die("out of memory");
    if (PQstatus(conn) != CONNECTION_OK) {
        /* libpq exposes no SQLSTATE for connection failures (protocol.md 1.1). */
        fprintf(stderr, "pgrepl-capture: connection failed: %s", PQerrorMessage(conn));
        exit(1);
    }
    return conn;
}

/* Resolve "@PATH" once the file holds an LSN; a plain LSN is resolved at once. */
static void try_resolve_endpos(capture *cap, const char *arg)
{
    if (cap->have_endpos)
        return;
    char buf[64];
    const char *lsn_text = arg;
    if (arg[0] == '@') {
        FILE *f = fopen(arg + 1, "r");
        if (f == NULL) {
            if (errno != ENOENT)
                die("cannot open endpos file %s", arg + 1);
            return;
        }
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
            n--;
        buf[n] = '\0';
        lsn_text = buf;
    }
    if (pgrepl_lsn_parse(lsn_text, &cap->endpos) != 0)
        die("bad end position \"%s\"", lsn_text);
    cap->have_endpos = true;
}

static bool reached_end(const capture *cap)
{
    return cap->have_endpos && cap->max_walend >= cap->endpos;
}

static void send_status(capture *cap, bool reply_requested)
{
    /* write = flush = apply = 0: the slot must not move, the capture stays repeatable. */
    uint8_t msg[PGREPL_STATUS_UPDATE_SIZE];
    pgrepl_status_update_encode(msg, 0, 0, 0, pgrepl_now(), reply_requested);
    if (PQputCopyData(cap->conn, (const char *)msg, (int)sizeof msg) != 1 || PQflush(cap->conn) != 0)
        die("could not send status update: %s", PQerrorMessage(cap->conn));
}

static void write_record(capture *cap, const char *buf, int len)
{
    uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
    if (fwrite(hdr, 1, sizeof hdr, cap->out) != sizeof hdr || fwrite(buf, 1, (size_t)len, cap->out) != (size_t)len)
        die("write to output file failed");
}

/* Record one CopyData message and track the server's WAL position. */
static void handle_copydata(capture *cap, const char *buf, int len)
{
    pgrepl_copydata cd;
    int rc = pgrepl_copydata_parse(buf, (size_t)len, &cd);
    if (rc != 0)
        die("bad CopyData message (type 0x%02x): %s", (uint8_t)buf[0], pgrepl_strerror(rc));
    write_record(cap, buf, len);
    if (cd.kind == 'w')
        cap->nxlogdata++;
    else
        cap->nkeepalive++;
    if (cd.wal_end > cap->max_walend)
        cap->max_walend = cd.wal_end;
    if (cd.reply_requested)
        send_status(cap, false);
}

/* Wait until the socket is readable or ms elapsed; then let libpq read. Returns false on timeout. */
static bool wait_readable(PGconn *conn, int ms)
{
    struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
    int n = poll(&pfd, 1, ms);
    if (n < 0 && errno != EINTR)
        die("poll failed: %s", strerror(errno));
    if (n <= 0)
        return false;
    if (!PQconsumeInput(conn))
        die("connection lost: %s", PQerrorMessage(conn));
    return true;
}

/* The copy ended from the server side (-1): fetch the error that ended it. */
__attribute__((noreturn)) static void die_copy_ended(PGconn *conn)
{
    PGresult *res = PQgetResult(conn);
    die_result("replication stream", res, conn);
}

static void stream_until_endpos(capture *cap, const char *endpos_arg)
{
    for (;;) {
        try_resolve_endpos(cap, endpos_arg);
        if (reached_end(cap))
            return;
        char *buf = NULL;
        int len = PQgetCopyData(cap->conn, &buf, 1);
        if (len > 0) {
            handle_copydata(cap, buf, len);
            PQfreemem(buf);
        } else if (len == 0) {
            /* Silence while short of ENDPOS: a keepalive request makes the server report its position. */
            if (!wait_readable(cap->conn, IDLE_PING_MS))
                send_status(cap, true);
        } else if (len == -1) {
            die_copy_ended(cap->conn);
        } else {
            die("PQgetCopyData failed: %s", PQerrorMessage(cap->conn));
        }
    }
}

/* CopyDone, then drain per protocol.md 3.5; messages after ENDPOS are not recorded. */
static void finish_stream(capture *cap)
{
    if (PQputCopyEnd(cap->conn, NULL) != 1 || PQflush(cap->conn) != 0)
        die("could not send CopyDone: %s", PQerrorMessage(cap->conn));
    for (;;) {
        char *buf = NULL;
        int len = PQgetCopyData(cap->conn, &buf, 1);
        if (len > 0)
            PQfreemem(buf);
        else if (len == 0)
            wait_readable(cap->conn, IDLE_PING_MS);
        else if (len == -1)
            break;
        else
            die("PQgetCopyData failed while draining: %s", PQerrorMessage(cap->conn));
    }
    PGresult *res;
    while ((res = PQgetResult(cap->conn)) != NULL) {
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_COMMAND_OK && st != PGRES_COPY_OUT)
            die_result("end of replication", res, cap->conn);
        PQclear(res);
    }
}

int main(int argc, char **argv)
{
    options o;
    parse_args(argc, argv, &o);
    signal(SIGALRM, on_alarm);
    alarm(o.timeout_s);

    capture cap = {0};
    if (o.endpos_arg[0] != '@')
        try_resolve_endpos(&cap, o.endpos_arg);
    cap.conn = connect_replication(o.conninfo);

    char *cmd = start_command(&o);
    PGresult *res = PQexec(cap.conn, cmd);
    if (PQresultStatus(res) != PGRES_COPY_BOTH)
        die_result(cmd, res, cap.conn);
    PQclear(res);
    free(cmd);

    cap.out = fopen(o.outfile, "wb");
    if (cap.out == NULL)
        die("cannot create %s", o.outfile);
    if (fwrite(CAPTURE_MAGIC, 1, 8, cap.out) != 8)
        die("write to output file failed");

    stream_until_endpos(&cap, o.endpos_arg);
    finish_stream(&cap);
    PQfinish(cap.conn);
    if (fclose(cap.out) != 0)
        die("cannot write %s", o.outfile);

    char lsn[PGREPL_LSN_BUFSIZE];
    pgrepl_lsn_format(cap.max_walend, lsn);
    fprintf(stderr, "pgrepl-capture: %s: %ld XLogData, %ld keepalive, walEnd %s\n", o.outfile, cap.nxlogdata,
            cap.nkeepalive, lsn);
    free(o.plugin_opts);
    return 0;
}
