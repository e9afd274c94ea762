/* pgrepl-stream's command line; see stream_cli.h. */
#include "stream_cli.h"
#include "cli_options.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_INTERVAL_MS 10000
#define DEFAULT_RETRY_MIN_MS 1000
#define DEFAULT_RETRY_MAX_MS 60000
#define DEFAULT_RECEIVE_TIMEOUT_MS 60000
#define MAX_SECONDS 2147483

/* Long options without a short form. */
enum {
    OPT_CREATE_SLOT = 256,
    OPT_IF_NOT_EXISTS,
    OPT_DROP_SLOT,
    OPT_TEMPORARY,
    OPT_PROTO_VERSION,
    OPT_BINARY,
    OPT_MESSAGES,
    OPT_STREAMING,
    OPT_TWO_PHASE,
    OPT_ORIGIN,
    OPT_METRICS_FILE,
    OPT_RECONNECT_DELAY,
    OPT_CONNECT_TIMEOUT,
    OPT_RECEIVE_TIMEOUT,
    OPT_HEARTBEAT_INTERVAL,
    OPT_HEARTBEAT_PREFIX,
    OPT_READ_PAUSE,
    OPT_ALLOW_GAP,
    OPT_HELP
};

void cli_say(const char *level, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* server messages come with a newline of their own */
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    fprintf(stderr, "%s: %s%s%s\n", CLI_PROG, level, level[0] ? ": " : "", msg);
}

#define error(...) cli_say("error", __VA_ARGS__)
#define hint(...) cli_say("hint", __VA_ARGS__)

static void usage_hint(void)
{
    hint("Try \"%s --help\" for more information.", CLI_PROG);
}

static void help(void)
{
    printf("%s prints the changes of a logical replication slot as JSON lines (wal2json\n"
           "format-version 2 shape), decoded from the built-in pgoutput plugin.\n\n"
           "Usage:\n  %s [OPTION]...\n\n"
           "Action (default: stream):\n"
           "      --create-slot        create the slot (pgoutput), then stream\n"
           "      --drop-slot          drop the slot and exit\n"
           "      --if-not-exists      with --create-slot: an existing slot is fine\n"
           "      --temporary          create a temporary slot (gone when the stream ends)\n\n"
           "Options:\n"
           "  -S, --slot=SLOTNAME      replication slot (required)\n"
           "  -P, --publication=NAME[,NAME...]  publications to stream (required to stream)\n"
           "  -E, --endpos=LSN         print the transactions committed before LSN, then exit\n"
           "  -I, --startpos=LSN       start at LSN if the slot has not confirmed further; the\n"
           "                           changes before it count as handled (the slot may be\n"
           "                           confirmed up to it); beyond the server's WAL: an error\n"
           "      --allow-gap          go on, with a warning naming the range, when the slot\n"
           "                           was moved past what this program printed (another\n"
           "                           consumer, a recreated slot, a --temporary slot that\n"
           "                           lost its connection); default: an error\n"
           "  -f, --file=FILE          append to FILE, - for standard output (default); FILE\n"
           "                           is resumed: what a stopped run left after its last\n"
           "                           whole transaction (one cut off, a torn line) is cut\n"
           "                           off, and streaming starts after that transaction\n"
           "  -F, --fsync-interval=SECS  fsync FILE this often; lines are acknowledged once\n"
           "                           fsynced; 0 = never fsync (default 10)\n"
           "  -s, --status-interval=SECS  status updates to the server (default 10)\n"
           "  -n, --no-loop            exit on the first error instead of reconnecting\n"
           "      --reconnect-delay=MIN[,MAX]  after an error that may pass, wait MIN seconds,\n"
           "                           doubling up to MAX, jittered (default 1,60)\n"
           "      --connect-timeout=SECS  give up a connection attempt after SECS (default:\n"
           "                           connect_timeout of the connection string, else 10)\n"
           "      --receive-timeout=SECS  a connection silent for SECS is dead (default 60;\n"
           "                           0 = never)\n"
           "  -v, --verbose            progress messages and a status line every interval\n"
           "      --metrics-file=PATH  write Prometheus metrics to PATH every interval\n"
           "      --heartbeat-interval=SECS  emit a message in the slot's database this often,\n"
           "                           so that a quiet slot moves on, and measure the round\n"
           "                           trip (default 10; 0 = off)\n"
           "      --heartbeat-prefix=PREFIX  prefix of those messages (default pgrepl.heartbeat)\n"
           "      --read-pause=USECS   while changes arrive in a burst, read the socket every\n"
           "                           USECS microseconds, not for each message (default 200;\n"
           "                           0 = read at once; Linux)\n"
           "      --proto-version=N    pgoutput protocol 1-4 (default: the server's highest)\n"
           "      --binary             values cross the wire in binary (printed the same)\n"
           "      --messages           print logical decoding messages (M lines)\n"
           "      --streaming[=on|parallel]  stream large transactions in progress (S/E/A lines)\n"
           "      --two-phase          decode prepared transactions at PREPARE (15+)\n"
           "      --origin=any|none    none: only changes without a replication origin (16+)\n"
           "  -V, --version            print the version and exit\n"
           "  -?, --help               show this help and exit\n\n"
           "Connection options:\n"
           "  -d, --dbname=CONNSTR     database name, connection string or URI\n"
           "  -h, --host=HOSTNAME      server host or socket directory\n"
           "  -p, --port=PORT          server port\n"
           "  -U, --username=NAME      user name\n"
           "  -w, --no-password        never prompt for a password\n"
           "  -W, --password           prompt for a password before connecting\n\n",
           CLI_PROG, CLI_PROG);
    /* apart: one string literal of both would pass the 4095 characters C99 promises to compilers */
    fputs("SIGINT/SIGTERM stop cleanly, also while a pipe's reader stalls (a full pipe or\n"
          "socket pauses the stream; what it did not take is not acknowledged, and the\n"
          "last line its reader gets may be cut off); while FILE is a FIFO that no reader\n"
          "has opened yet, they end the program at once. SIGHUP reopens FILE (a regular\n"
          "file).\n\n"
          "Acknowledged to the server, so that the slot moves on: lines in a file once\n"
          "fsynced (with -F 0 once written), while the file still has a name (deleted,\n"
          "it stops the program with an error); lines in a pipe, FIFO or socket once its\n"
          "reader took them from the kernel (what it did with them after that, or holds\n"
          "in buffers of its own, cannot be seen; over TCP, once the other host's kernel\n"
          "acknowledged them); lines to a terminal once written.\n\n"
          "Errors that may pass (a lost connection, a restarting server, the slot busy) are\n"
          "logged and retried; the others stop the program.\n"
          "Exit status: 0 after --endpos or SIGINT/SIGTERM; 1 on an error that retrying\n"
          "cannot fix, or on any error with --no-loop.\n",
          stdout);
}

/* ---- option parsing ---------------------------------------------------------- */

__attribute__((format(printf, 1, 2))) static int bad_usage(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    error("%s", msg);
    usage_hint();
    return -1;
}

/* Seconds with up to three decimals ("10", "0.5") as milliseconds. */
static int parse_seconds(const char *s, uint64_t *ms)
{
    uint64_t whole = 0, frac = 0;
    int nwhole = 0, nfrac = 0;
    for (; *s >= '0' && *s <= '9' && nwhole < 8; s++, nwhole++)
        whole = whole * 10 + (uint64_t)(*s - '0');
    if (nwhole == 0 || whole > MAX_SECONDS)
        return -1;
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9' && nfrac < 3; s++, nfrac++)
            frac = frac * 10 + (uint64_t)(*s - '0');
        if (nfrac == 0)
            return -1;
        while (nfrac++ < 3)
            frac *= 10;
    }
    if (*s != '\0')
        return -1;
    *ms = whole * 1000 + frac;
    return 0;
}

static int add_publications(cli_options *o, const char *list)
{
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 0)
            return bad_usage("empty publication name in \"%s\"", list);
        char **pubs = realloc(o->pubs, (size_t)(o->npubs + 1) * sizeof *pubs);
        char *name = malloc(n + 1);
        if (pubs == NULL || name == NULL) {
            free(name);
            o->pubs = pubs ? pubs : o->pubs;
            error("out of memory");
            return -1;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        o->pubs = pubs;
        o->pubs[o->npubs++] = name;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

static int parse_streaming(cli_options *o, const char *arg)
{
    if (arg == NULL || strcmp(arg, "on") == 0)
        o->streaming = PGREPL_STREAMING_ON;
    else if (strcmp(arg, "parallel") == 0)
        o->streaming = PGREPL_STREAMING_PARALLEL;
    else if (strcmp(arg, "off") == 0)
        o->streaming = PGREPL_STREAMING_OFF;
    else
        return bad_usage("invalid --streaming value \"%s\" (on, parallel or off)", arg);
    return 0;
}

static int parse_origin(cli_options *o, const char *arg)
{
    if (strcmp(arg, "any") == 0)
        o->origin = PGREPL_ORIGIN_ANY;
    else if (strcmp(arg, "none") == 0)
        o->origin = PGREPL_ORIGIN_NONE;
    else
        return bad_usage("invalid --origin value \"%s\" (any or none)", arg);
    return 0;
}

static int parse_lsn(const char *arg, pgrepl_lsn *lsn, bool *given, const char *what)
{
    if (pgrepl_lsn_parse(arg, lsn) != 0)
        return bad_usage("invalid %s \"%s\" (an LSN like 0/1A2B3C8)", what, arg);
    *given = true;
    return 0;
}

/* A whole decimal number of digits only (no sign, no blanks) up to max, into *out; -1 otherwise. */
static int parse_digits(const char *arg, unsigned long long max, unsigned long long *out)
{
    unsigned long long v = 0;
    if (*arg == '\0')
        return -1;
    for (; *arg != '\0'; arg++) {
        if (*arg < '0' || *arg > '9' || v > (max - (unsigned long long)(*arg - '0')) / 10)
            return -1;
        v = v * 10 + (unsigned long long)(*arg - '0');
    }
    *out = v;
    return 0;
}

static int parse_port(const char *arg)
{
    unsigned long long port;
    if (parse_digits(arg, 65535, &port) != 0 || port == 0)
        return bad_usage("invalid port \"%s\" (1 to 65535)", arg);
    return 0;
}

static int parse_heartbeat_prefix(cli_options *o, const char *arg)
{
    if (*arg == '\0')
        return bad_usage("the heartbeat prefix must not be empty");
    o->heartbeat_prefix = arg;
    return 0;
}

static int parse_interval(const char *arg, uint64_t *ms, const char *what)
{
    if (parse_seconds(arg, ms) != 0)
        return bad_usage("invalid %s \"%s\" (seconds, e.g. 10 or 0.5)", what, arg);
    return 0;
}

/* Microseconds between reads during a burst: 0 (off) up to the library's bound. */
static int parse_read_pause(cli_options *o, const char *arg)
{
    unsigned long long us;
    if (parse_digits(arg, PGREPL_READ_BATCH_MAX_PAUSE_US, &us) != 0)
        return bad_usage("invalid read pause \"%s\" (microseconds, 0 to %d)", arg, PGREPL_READ_BATCH_MAX_PAUSE_US);
    o->read_pause_us = (long)us;
    return 0;
}

/* MIN[,MAX] seconds; MAX defaults to MIN when MIN is above the default maximum. */
static int parse_reconnect(cli_options *o, const char *arg)
{
    char min[32];
    const char *comma = strchr(arg, ',');
    size_t n = comma != NULL ? (size_t)(comma - arg) : strlen(arg);
    uint64_t lo = 0, hi = DEFAULT_RETRY_MAX_MS;
    bool ok = n < sizeof min;
    if (ok) {
        memcpy(min, arg, n);
        min[n] = '\0';
        ok = parse_seconds(min, &lo) == 0 && lo > 0 && (comma == NULL || parse_seconds(comma + 1, &hi) == 0);
    }
    if (ok && comma == NULL && hi < lo)
        hi = lo;
    if (!ok || hi < lo)
        return bad_usage("invalid --reconnect-delay \"%s\" (MIN[,MAX] seconds, 0 < MIN <= MAX)", arg);
    o->retry_min_ms = lo;
    o->retry_max_ms = hi;
    return 0;
}

static int parse_proto(cli_options *o, const char *arg)
{
    if (strlen(arg) != 1 || arg[0] < '1' || arg[0] > '4')
        return bad_usage("invalid --proto-version \"%s\" (1 to 4)", arg);
    o->proto_version = arg[0] - '0';
    return 0;
}

/* One option; 1 when it ends the program successfully (help, version), -1 on error. */
static int parse_one(cli_options *o, int c, const char *arg, const char *opt)
{
    switch (c) {
    case 'd': o->dbname = arg; return 0;
    case 'h': o->host = arg; return 0;
    case 'p': o->port = arg; return parse_port(arg);
    case 'U': o->user = arg; return 0;
    case 'w': o->password = CLI_PW_NEVER; return 0;
    case 'W': o->password = CLI_PW_ALWAYS; return 0;
    case 'S': o->slot = arg; return 0;
    case 'P': return add_publications(o, arg);
    case 'I': return parse_lsn(arg, &o->startpos, &o->has_startpos, "start position");
    case 'E': return parse_lsn(arg, &o->endpos, &o->has_endpos, "end position");
    case 'f': o->file = arg; return 0;
    case 'F': return parse_interval(arg, &o->fsync_ms, "fsync interval");
    case 's': return parse_interval(arg, &o->status_ms, "status interval");
    case 'n': o->no_loop = true; return 0;
    case 'v': o->verbose = true; return 0;
    case 'V': printf("%s (pgrepl) %s\n", CLI_PROG, pgrepl_version_string()); return 1;
    case OPT_HELP: help(); return 1;
    case OPT_CREATE_SLOT: o->create_slot = true; return 0;
    case OPT_IF_NOT_EXISTS: o->if_not_exists = true; return 0;
    case OPT_DROP_SLOT: o->drop_slot = true; return 0;
    case OPT_TEMPORARY: o->temporary = true; return 0;
    case OPT_ALLOW_GAP: o->allow_gap = true; return 0;
    case OPT_PROTO_VERSION: return parse_proto(o, arg);
    case OPT_BINARY: o->binary = true; return 0;
    case OPT_MESSAGES: o->messages = true; return 0;
    case OPT_STREAMING: return parse_streaming(o, arg);
    case OPT_TWO_PHASE: o->two_phase = true; return 0;
    case OPT_ORIGIN: return parse_origin(o, arg);
    case OPT_METRICS_FILE: o->metrics_file = arg; return 0;
    case OPT_HEARTBEAT_INTERVAL: return parse_interval(arg, &o->heartbeat_ms, "heartbeat interval");
    case OPT_HEARTBEAT_PREFIX: return parse_heartbeat_prefix(o, arg);
    case OPT_READ_PAUSE: return parse_read_pause(o, arg);
    case OPT_RECONNECT_DELAY: return parse_reconnect(o, arg);
    case OPT_CONNECT_TIMEOUT: return parse_interval(arg, &o->connect_timeout_ms, "connect timeout");
    case OPT_RECEIVE_TIMEOUT: return parse_interval(arg, &o->receive_timeout_ms, "receive timeout");
    case ':': return bad_usage("option %s needs a value", opt);
    default: return bad_usage("unrecognized option \"%s\"", opt);
    }
}

/* Combinations that cannot work, caught before connecting. */
static int check_options(const cli_options *o)
{
    if (o->slot == NULL || o->slot[0] == '\0')
        return bad_usage("no slot given (-S NAME)");
    if (strlen(o->slot) >= 64)
        return bad_usage("slot name \"%s\" is 64 bytes or more: the server would cut it to another name", o->slot);
    if (o->drop_slot && (o->create_slot || o->temporary))
        return bad_usage("--drop-slot cannot be combined with --create-slot or --temporary");
    if (o->if_not_exists && !o->create_slot)
        return bad_usage("--if-not-exists needs --create-slot");
    if (o->drop_slot)
        return 0;
    if (o->npubs == 0) {
        error("no publication given (-P NAME)");
        hint("Create one with CREATE PUBLICATION name FOR ALL TABLES, then pass -P name.");
        return -1;
    }
    if (o->status_ms == 0)
        return bad_usage("the status interval must be more than 0 seconds");
    if (o->streaming == PGREPL_STREAMING_ON && o->proto_version == 1)
        return bad_usage("--streaming needs --proto-version 2 or later");
    if (o->streaming == PGREPL_STREAMING_PARALLEL && o->proto_version != 0 && o->proto_version < 4)
        return bad_usage("--streaming=parallel needs --proto-version 4");
    if (o->two_phase && o->proto_version != 0 && o->proto_version < 3)
        return bad_usage("--two-phase needs --proto-version 3 or later");
    return 0;
}

static const struct option long_options[] = {
    CLI_CONNECTION_OPTIONS,
    {"slot", required_argument, NULL, 'S'},
    {"publication", required_argument, NULL, 'P'},
    {"startpos", required_argument, NULL, 'I'},
    {"endpos", required_argument, NULL, 'E'},
    {"file", required_argument, NULL, 'f'},
    {"fsync-interval", required_argument, NULL, 'F'},
    {"status-interval", required_argument, NULL, 's'},
    {"no-loop", no_argument, NULL, 'n'},
    {"verbose", no_argument, NULL, 'v'},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, OPT_HELP},
    {"create-slot", no_argument, NULL, OPT_CREATE_SLOT},
    {"if-not-exists", no_argument, NULL, OPT_IF_NOT_EXISTS},
    {"drop-slot", no_argument, NULL, OPT_DROP_SLOT},
    {"temporary", no_argument, NULL, OPT_TEMPORARY},
    {"allow-gap", no_argument, NULL, OPT_ALLOW_GAP},
    {"proto-version", required_argument, NULL, OPT_PROTO_VERSION},
    {"binary", no_argument, NULL, OPT_BINARY},
    {"messages", no_argument, NULL, OPT_MESSAGES},
    {"streaming", optional_argument, NULL, OPT_STREAMING},
    {"two-phase", no_argument, NULL, OPT_TWO_PHASE},
    {"origin", required_argument, NULL, OPT_ORIGIN},
    {"metrics-file", required_argument, NULL, OPT_METRICS_FILE},
    {"heartbeat-interval", required_argument, NULL, OPT_HEARTBEAT_INTERVAL},
    {"heartbeat-prefix", required_argument, NULL, OPT_HEARTBEAT_PREFIX},
    {"read-pause", required_argument, NULL, OPT_READ_PAUSE},
    {"reconnect-delay", required_argument, NULL, OPT_RECONNECT_DELAY},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"receive-timeout", required_argument, NULL, OPT_RECEIVE_TIMEOUT},
    {NULL, 0, NULL, 0},
};

int cli_parse_options(cli_options *o, int argc, char **argv)
{
    o->file = "-";
    o->fsync_ms = DEFAULT_INTERVAL_MS;
    o->status_ms = DEFAULT_INTERVAL_MS;
    o->heartbeat_ms = DEFAULT_INTERVAL_MS;
    o->retry_min_ms = DEFAULT_RETRY_MIN_MS;
    o->retry_max_ms = DEFAULT_RETRY_MAX_MS;
    o->receive_timeout_ms = DEFAULT_RECEIVE_TIMEOUT_MS;
    o->read_pause_us = -1;
    opterr = 0;
    /* glibc: 0 starts getopt afresh, also for a second argv (the tests parse many) */
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":d:h:p:U:wWS:P:I:E:f:F:s:nvV", long_options, NULL)) != -1) {
        /* "-?" is help, as in the PostgreSQL tools; any other '?' is an unknown option */
        if (c == '?' && optopt == '?')
            c = OPT_HELP;
        char shortopt[3] = {'-', (char)optopt, '\0'};
        const char *opt = c == '?' && optopt != 0 ? shortopt : argv[optind - 1];
        int rc = parse_one(o, c, optarg, opt);
        if (rc != 0)
            return rc;
    }
    if (optind < argc)
        return bad_usage("unexpected argument \"%s\"", argv[optind]);
    return check_options(o);
}

void cli_free_options(cli_options *o)
{
    for (int i = 0; i < o->npubs; i++)
        free(o->pubs[i]);
    free(o->pubs);
    o->pubs = NULL;
    o->npubs = 0;
}
