/*
 * pgrepl-slots - replication slot health, capacity and housekeeping
 *
 * SYNOPSIS
 *     pgrepl-slots [CONNECTION] [--json | --prometheus] [--watch SECS] [--output FILE] [RULES]
 *     pgrepl-slots [CONNECTION] --drop-inactive --older-than DURATION
 *                  [--name-pattern GLOB] [--include-physical]
 *                  [--force-unknown-age [--observe DURATION]] [--dry-run]
 *
 * DESCRIPTION
 *     The most common logical replication incident is a slot that nobody
 *     consumes any more, or that lags, holding back WAL until the disk fills;
 *     the next is running out of max_replication_slots. pgrepl-slots shows
 *     both at a glance and cleans up safely.
 *
 *     By default it prints every slot of the server: name, type, plugin,
 *     database, whether it is active (and the pid using it), the WAL it
 *     retains (current WAL position - restart_lsn), the lag to
 *     confirmed_flush_lsn, wal_status, safe_wal_size, temporary, two_phase,
 *     and where the server has them conflicting (16+), failover, synced,
 *     inactive_since and invalidation_reason (17+). A column the server does
 *     not have is left out, never an error. Then the capacity line (slots
 *     used of max_replication_slots, WAL senders used of max_wal_senders,
 *     max_slot_wal_keep_size with a warning when it is unlimited,
 *     idle_replication_slot_timeout on 18+) and the verdict of the health
 *     rules. It uses an ordinary (not a replication) connection and needs no
 *     special privilege to report; dropping needs the REPLICATION attribute
 *     or superuser.
 *
 * CONNECTION
 *     -d, --dbname=CONNINFO  a database name, a conninfo string or a URI
 *     -h, --host=HOST, -p, --port=PORT, -U, --username=USER
 *                            override the same parts of --dbname
 *     -w, --no-password      never ask for a password
 *     -W, --password         ask for a password before connecting
 *     Anything not given comes from the libpq environment (PGHOST,
 *     PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGSERVICE, ~/.pgpass, ...).
 *     Without -w, a password is asked on the terminal when the server wants
 *     one and none was given.
 *
 * OUTPUT
 *     --json        one JSON object per report, on one line:
 *                   {"server_version", "capacity", "slots", "verdict"}
 *     --prometheus  Prometheus text format: pgrepl_slots_up 1, then
 *                   pgrepl_slot_retained_wal_bytes,
 *                   pgrepl_slot_safe_wal_size_bytes, pgrepl_slot_active,
 *                   pgrepl_slot_wal_status{status="..."}, pgrepl_slots_used,
 *                   pgrepl_slots_max, pgrepl_walsenders_used, ... (see --help);
 *                   when the server cannot be reached or read, only
 *                   pgrepl_slots_up 0 (and exit status 1)
 *     --watch=SECS  report again every SECS until interrupted; a failed
 *                   report is printed and the next one is tried. On SIGINT or
 *                   SIGTERM the exit status is that of the last report. With
 *                   --prometheus it needs --output: a Prometheus file holds
 *                   one report (each family's HELP and TYPE once, then its
 *                   samples), which reports one after another on standard
 *                   output would not be.
 *     -o, --output=FILE
 *                   write each report to FILE instead of standard output,
 *                   replacing it whole: the report goes to a temporary file in
 *                   FILE's directory, which is fsynced and renamed over FILE,
 *                   so that a reader (a Prometheus textfile collector) sees
 *                   the previous report or the new one, never part of one.
 *                   With --watch, FILE holds the latest report. A report that
 *                   fails leaves FILE as it was, except with --prometheus,
 *                   where pgrepl_slots_up 0 replaces it. FILE gets the
 *                   permissions of a new file (0666 less the umask). Failing
 *                   to write FILE is an error (exit status 1).
 *
 * HEALTH RULES (SIZE: 512MB, 1GB, ...; DURATION: 30s, 15min, 1h, 1d, 1w;
 *               "off" disables a threshold)
 *     inactive            a slot inactive longer than --inactive-warn (1h)
 *                         is a warning, longer than --inactive-crit (1d)
 *                         critical
 *     retained_wal        a slot retaining more WAL than --retained-warn
 *                         (1GB) is a warning, more than --retained-crit
 *                         (10GB) critical
 *     wal_status          extended is a warning; unreserved and lost are
 *                         critical
 *     invalidated         invalidation_reason set, or conflicting true, while
 *                         wal_status does not already say lost: critical
 *     slot_capacity       fewer free slots than --min-free-slots (2): warning;
 *                         none free: critical
 *     walsender_capacity  the same for WAL senders, --min-free-walsenders (2)
 *     wal_keep_unlimited  only with --warn-unlimited: max_slot_wal_keep_size
 *                         = -1 is a warning (the capacity line always says it)
 *     Each tripped rule is reported with its name and, when it is about one
 *     slot, the slot's name.
 *
 * HOW LONG A SLOT HAS BEEN INACTIVE, ON POSTGRESQL 14-16
 *     inactive_since exists from PostgreSQL 17 on. Before that the catalog
 *     does not say when a slot was last used, and guessing (from WAL
 *     positions, from logs) would be wrong exactly when it matters. So on
 *     14-16 the inactive rule cannot apply: each inactive slot gets a note
 *     saying so, and the retained_wal rule still catches an abandoned slot
 *     as it grows. --drop-inactive keeps such slots and says why, unless
 *     --force-unknown-age is given. Even then an inactive slot is not taken
 *     for an abandoned one on sight: its consumer may be between two
 *     connections (pg_recvlogical and the built-in subscription worker wait
 *     5 s before connecting again). The slots of unknown age that are
 *     otherwise eligible are watched for --observe (default 10s), looked at
 *     every 250 ms, and only those never seen active, whose restart_lsn and
 *     confirmed_flush_lsn did not move, are dropped (as older than
 *     --older-than); the others are kept, saying what was seen (--dry-run
 *     watches too). What cannot be seen is a consumer that stays away for
 *     all of --observe, or comes and goes between two looks confirming
 *     nothing: make --observe longer than the consumers' reconnect delay.
 *
 * HOUSEKEEPING
 *     --drop-inactive        drop every slot that is inactive, not temporary,
 *                            not synced from a primary, logical, matching
 *                            --name-pattern, and inactive for at least
 *                            --older-than (required). Never an active slot:
 *                            each slot is read again right before it is
 *                            dropped, and if a consumer takes it in between
 *                            the server refuses (SQLSTATE 55006), which is
 *                            reported as skipped. Every decision is printed.
 *     --older-than=DURATION  how long a slot must have been inactive
 *     --name-pattern=GLOB    only slots whose name matches (fnmatch(3))
 *     --include-physical     physical slots too
 *     --force-unknown-age    see above
 *     --observe=DURATION     how long --force-unknown-age watches slots of
 *                            unknown age (default 10s; more than 0)
 *     --dry-run              print what would be dropped, change nothing
 *
 * EXIT STATUS
 *     0 healthy (for --drop-inactive: done, even if slots were skipped),
 *     1 error (bad option, connection or query failure, --output FILE that
 *     cannot be written, a drop that failed),
 *     2 warning, 3 critical.
 *
 * EXAMPLES
 *     pgrepl-slots -d "host=db1 dbname=app"
 *     pgrepl-slots --json --retained-warn 5GB --inactive-crit 6h
 *     pgrepl-slots --prometheus --output /var/lib/node_exporter/pgrepl.prom
 *     pgrepl-slots --drop-inactive --older-than 7d --name-pattern 'tmp_*' --dry-run
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <pgrepl/version.h>

#include "slots.h"
#include "cli_options.h"

/*
 * How long --force-unknown-age watches a slot of unknown age by default:
 * longer than the 5 s pg_recvlogical and the built-in subscription worker
 * (wal_retrieve_retry_interval) wait before connecting again.
 */
#define DEFAULT_OBSERVE 10.0

typedef enum format { FORMAT_TABLE, FORMAT_JSON, FORMAT_PROMETHEUS } format;

typedef struct program {
    const char *dbname, *host, *port, *user;
    bool no_password, ask_password;
    format format;
    const char *output; /* --output FILE; NULL is standard output */
    double watch;       /* seconds; 0 is once */
    thresholds th;
    bool drop;
    bool older_than_given, observe_given;
    drop_options drop_opts;
} program;

enum {
    OPT_JSON = 256,
    OPT_PROMETHEUS,
    OPT_WATCH,
    OPT_INACTIVE_WARN,
    OPT_INACTIVE_CRIT,
    OPT_RETAINED_WARN,
    OPT_RETAINED_CRIT,
    OPT_MIN_FREE_SLOTS,
    OPT_MIN_FREE_WALSENDERS,
    OPT_WARN_UNLIMITED,
    OPT_DROP_INACTIVE,
    OPT_OLDER_THAN,
    OPT_NAME_PATTERN,
    OPT_INCLUDE_PHYSICAL,
    OPT_FORCE_UNKNOWN_AGE,
    OPT_OBSERVE,
    OPT_DRY_RUN,
    OPT_HELP,
};

static const struct option long_options[] = {
    CLI_CONNECTION_OPTIONS,
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, OPT_HELP},
    {"json", no_argument, NULL, OPT_JSON},
    {"prometheus", no_argument, NULL, OPT_PROMETHEUS},
    {"watch", required_argument, NULL, OPT_WATCH},
    {"output", required_argument, NULL, 'o'},
    {"inactive-warn", required_argument, NULL, OPT_INACTIVE_WARN},
    {"inactive-crit", required_argument, NULL, OPT_INACTIVE_CRIT},
    {"retained-warn", required_argument, NULL, OPT_RETAINED_WARN},
    {"retained-crit", required_argument, NULL, OPT_RETAINED_CRIT},
    {"min-free-slots", required_argument, NULL, OPT_MIN_FREE_SLOTS},
    {"min-free-walsenders", required_argument, NULL, OPT_MIN_FREE_WALSENDERS},
    {"warn-unlimited", no_argument, NULL, OPT_WARN_UNLIMITED},
    {"drop-inactive", no_argument, NULL, OPT_DROP_INACTIVE},
    {"older-than", required_argument, NULL, OPT_OLDER_THAN},
    {"name-pattern", required_argument, NULL, OPT_NAME_PATTERN},
    {"include-physical", no_argument, NULL, OPT_INCLUDE_PHYSICAL},
    {"force-unknown-age", no_argument, NULL, OPT_FORCE_UNKNOWN_AGE},
    {"observe", required_argument, NULL, OPT_OBSERVE},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {NULL, 0, NULL, 0},
};

static volatile sig_atomic_t interrupted;

void slots_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: error: ", SLOTS_PROG);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void hint(const char *text)
{
    fprintf(stderr, "%s: hint: %s\n", SLOTS_PROG, text);
}

static void usage_error(void)
{
    hint("Try \"" SLOTS_PROG " --help\" for more information.");
    exit(1);
}

static void help(void)
{
    printf("%s shows the health and capacity of the replication slots of a PostgreSQL server\n"
           "(14 and later) and drops abandoned ones safely.\n\n"
           "Usage:\n"
           "  %s [OPTION]...\n"
           "  %s [OPTION]... --drop-inactive --older-than DURATION [--dry-run]\n\n",
           SLOTS_PROG, SLOTS_PROG, SLOTS_PROG);
    printf("Connection (anything not given comes from PGHOST, PGPORT, PGUSER, PGDATABASE, ...):\n"
           "  -d, --dbname=CONNINFO      database name, conninfo string or URI\n"
           "  -h, --host=HOST            server host or socket directory\n"
           "  -p, --port=PORT            server port\n"
           "  -U, --username=USER        user name\n"
           "  -w, --no-password          never ask for a password\n"
           "  -W, --password             ask for a password before connecting\n\n");
    printf("Output (default: a table, the capacity line and the verdict):\n"
           "      --json                 one JSON object per report, on one line\n"
           "      --prometheus           Prometheus text format (pgrepl_slots_up, pgrepl_slot_retained_wal_bytes,\n"
           "                             pgrepl_slot_safe_wal_size_bytes, pgrepl_slot_active,\n"
           "                             pgrepl_slot_wal_status{status=...}, pgrepl_slots_used, ...);\n"
           "                             only pgrepl_slots_up 0 when the server cannot be reached or read\n"
           "      --watch=SECS           report again every SECS until interrupted (with --prometheus,\n"
           "                             only into --output FILE)\n"
           "  -o, --output=FILE          write each report to FILE, replacing it atomically (a temporary\n"
           "                             file beside it, fsynced and renamed over it); with --watch FILE\n"
           "                             holds the latest report\n\n");
    printf("Health rules (SIZE like 512MB or 1GB, DURATION like 30s, 15min, 1h, 1d; \"off\" disables):\n"
           "      --inactive-warn=DURATION   warning: a slot inactive longer than this (default 1h)\n"
           "      --inactive-crit=DURATION   critical: a slot inactive longer than this (default 1d)\n"
           "      --retained-warn=SIZE       warning: a slot retaining more WAL than this (default 1GB)\n"
           "      --retained-crit=SIZE       critical: a slot retaining more WAL than this (default 10GB)\n"
           "      --min-free-slots=N         warning: fewer free slots than N (default 2); none free is critical\n"
           "      --min-free-walsenders=N    the same for WAL senders (default 2)\n"
           "      --warn-unlimited           warning: max_slot_wal_keep_size is -1 (unlimited)\n"
           "  wal_status extended is a warning; unreserved, lost or otherwise invalidated is critical.\n"
           "  PostgreSQL 14-16 do not record when a slot became inactive (inactive_since is 17+): there\n"
           "  the inactive rule cannot apply and each inactive slot gets a note; retained_wal still applies.\n\n");
    printf("Housekeeping:\n"
           "      --drop-inactive        drop slots that are inactive, logical, not temporary, not synced,\n"
           "                             and inactive for at least --older-than; never an active one\n"
           "      --older-than=DURATION  required with --drop-inactive\n"
           "      --name-pattern=GLOB    only slots whose name matches the shell pattern GLOB\n"
           "      --include-physical     physical slots too\n"
           "      --force-unknown-age    on PostgreSQL 14-16 (no inactive_since), drop inactive slots of unknown\n"
           "                             age too, if they stay inactive and unmoved (restart_lsn and\n"
           "                             confirmed_flush_lsn) while watched for --observe; without it they are kept\n"
           "      --observe=DURATION     how long to watch them (default 10s; make it longer than the\n"
           "                             consumers' reconnect delay)\n"
           "      --dry-run              print what would be dropped, change nothing\n\n");
    printf("Other:\n"
           "  -V, --version              print the version and exit\n"
           "  -?, --help                 print this help and exit\n\n"
           "Exit status: 0 healthy, 1 error, 2 warning, 3 critical (--drop-inactive: 0 done, 1 error).\n");
}

static void bad_value(const char *option, const char *value, const char *expected)
{
    slots_error("invalid value \"%s\" for %s: expected %s", value, option, expected);
    usage_error();
}

static bool is_off(const char *value)
{
    return strcmp(value, "off") == 0;
}

static double duration_arg(const char *option, const char *value, bool may_be_off)
{
    double seconds;
    if (may_be_off && is_off(value))
        return -1;
    if (slots_parse_duration(value, &seconds) != 0)
        bad_value(option, value, may_be_off ? "a duration like 30s, 15min, 1h, 1d, or off" : "a duration like 30s, 1h, 1d");
    return seconds;
}

static uint64_t size_arg(const char *option, const char *value)
{
    uint64_t bytes;
    if (is_off(value))
        return UINT64_MAX;
    if (slots_parse_size(value, &bytes) != 0)
        bad_value(option, value, "a size like 512MB or 1GB, or off");
    return bytes;
}

static long count_arg(const char *option, const char *value)
{
    char *end;
    errno = 0;
    long n = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || n < 0)
        bad_value(option, value, "a whole number, 0 or more");
    return n;
}

static void set_format(program *p, format f)
{
    if (p->format != FORMAT_TABLE && p->format != f) {
        slots_error("--json and --prometheus cannot be used together");
        usage_error();
    }
    p->format = f;
}

static void bad_option(char **argv, int c)
{
    if (c == ':' && optopt > 0 && optopt < 256)
        slots_error("option -%c needs a value", optopt);
    else if (c == ':')
        slots_error("option %s needs a value", argv[optind - 1]);
    else if (optopt > 0 && optopt < 256)
        slots_error("invalid option -%c", optopt);
    else
        slots_error("unknown option \"%s\"", argv[optind - 1]);
    usage_error();
}

/* Options that take no part in reporting. */
static bool parse_drop_option(program *p, int c, const char *arg)
{
    switch (c) {
    case OPT_DROP_INACTIVE:
        p->drop = true;
        return true;
    case OPT_OLDER_THAN:
        p->drop_opts.older_than = duration_arg("--older-than", arg, false);
        p->older_than_given = true;
        return true;
    case OPT_NAME_PATTERN:
        p->drop_opts.name_pattern = arg;
        return true;
    case OPT_INCLUDE_PHYSICAL:
        p->drop_opts.include_physical = true;
        return true;
    case OPT_FORCE_UNKNOWN_AGE:
        p->drop_opts.force_unknown_age = true;
        return true;
    case OPT_OBSERVE:
        p->drop_opts.observe = duration_arg("--observe", arg, false);
        if (p->drop_opts.observe <= 0)
            bad_value("--observe", arg, "more than 0 seconds");
        p->observe_given = true;
        return true;
    case OPT_DRY_RUN:
        p->drop_opts.dry_run = true;
        return true;
    default:
        return false;
    }
}

static bool parse_rule_option(program *p, int c, const char *arg)
{
    switch (c) {
    case OPT_INACTIVE_WARN:
        p->th.inactive_warn = duration_arg("--inactive-warn", arg, true);
        return true;
    case OPT_INACTIVE_CRIT:
        p->th.inactive_crit = duration_arg("--inactive-crit", arg, true);
        return true;
    case OPT_RETAINED_WARN:
        p->th.retained_warn = size_arg("--retained-warn", arg);
        return true;
    case OPT_RETAINED_CRIT:
        p->th.retained_crit = size_arg("--retained-crit", arg);
        return true;
    case OPT_MIN_FREE_SLOTS:
        p->th.min_free_slots = count_arg("--min-free-slots", arg);
        return true;
    case OPT_MIN_FREE_WALSENDERS:
        p->th.min_free_walsenders = count_arg("--min-free-walsenders", arg);
        return true;
    case OPT_WARN_UNLIMITED:
        p->th.warn_unlimited = true;
        return true;
    default:
        return false;
    }
}

static void parse_option(program *p, int c, char **argv)
{
    if (parse_drop_option(p, c, optarg) || parse_rule_option(p, c, optarg))
        return;
    switch (c) {
    case 'd':
        p->dbname = optarg;
        break;
    case 'h':
        p->host = optarg;
        break;
    case 'p':
        p->port = optarg;
        break;
    case 'U':
        p->user = optarg;
        break;
    case 'w':
        p->no_password = true;
        break;
    case 'W':
        p->ask_password = true;
        break;
    case 'V':
        printf("%s (pgrepl) %s\n", SLOTS_PROG, pgrepl_version_string());
        exit(0);
    case OPT_HELP:
        help();
        exit(0);
    case OPT_JSON:
        set_format(p, FORMAT_JSON);
        break;
    case OPT_PROMETHEUS:
        set_format(p, FORMAT_PROMETHEUS);
        break;
    case 'o':
        if (optarg[0] == '\0')
            bad_value("--output", optarg, "a file name");
        p->output = optarg;
        break;
    case OPT_WATCH:
        p->watch = duration_arg("--watch", optarg, false);
        if (p->watch <= 0)
            bad_value("--watch", optarg, "more than 0 seconds");
        break;
    case '?':
        if (optopt == '?') {
            help();
            exit(0);
        }
        bad_option(argv, c);
        break;
    default:
        bad_option(argv, c);
    }
}

static void check_combinations(const program *p, int argc, char **argv)
{
    const drop_options *d = &p->drop_opts;
    const char *problem = NULL;
    if (optind < argc) {
        slots_error("unexpected argument \"%s\" (a database goes in -d)", argv[optind]);
        usage_error();
    }
    if (p->no_password && p->ask_password)
        problem = "-w and -W cannot be used together";
    else if (p->drop && !p->older_than_given)
        problem = "--drop-inactive needs --older-than";
    else if (p->watch > 0 && p->format == FORMAT_PROMETHEUS && p->output == NULL)
        problem = "--watch with --prometheus needs --output FILE (each report then replaces FILE; on standard"
                  " output the reports would follow one another, repeating every HELP and TYPE line)";
    else if (p->drop && (p->format != FORMAT_TABLE || p->watch > 0 || p->output != NULL))
        problem = "--drop-inactive cannot be combined with --json, --prometheus, --watch or --output";
    else if (!p->drop && (p->older_than_given || d->name_pattern != NULL || d->include_physical ||
                          d->force_unknown_age || p->observe_given || d->dry_run))
        problem = "--older-than, --name-pattern, --include-physical, --force-unknown-age, --observe and --dry-run"
                  " go with --drop-inactive";
    else if (p->observe_given && !d->force_unknown_age)
        problem = "--observe goes with --force-unknown-age";
    if (problem != NULL) {
        slots_error("%s", problem);
        usage_error();
    }
}

static void parse_args(program *p, int argc, char **argv)
{
    memset(p, 0, sizeof *p);
    p->th = (thresholds){
        .inactive_warn = 3600,
        .inactive_crit = 86400,
        .retained_warn = UINT64_C(1) << 30,
        .retained_crit = UINT64_C(10) << 30,
        .min_free_slots = 2,
        .min_free_walsenders = 2,
    };
    p->drop_opts.observe = DEFAULT_OBSERVE;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":d:h:p:U:wWVo:", long_options, NULL)) != -1)
        parse_option(p, c, argv);
    check_combinations(p, argc, argv);
}

/* A password from the terminal, without echo; NULL when there is no terminal. */
static char *prompt_password(void)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
    if (fd < 0)
        return NULL;
    struct termios saved, quiet;
    bool restore = tcgetattr(fd, &saved) == 0;
    if (restore) {
        quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    static const char prompt[] = "Password: ";
    ssize_t w = write(fd, prompt, sizeof prompt - 1);
    char line[1024];
    size_t len = 0;
    char ch;
    while (len < sizeof line - 1 && read(fd, &ch, 1) == 1 && ch != '\n')
        line[len++] = ch;
    line[len] = '\0';
    if (restore)
        tcsetattr(fd, TCSAFLUSH, &saved);
    w = write(fd, "\n", 1);
    (void)w;
    close(fd);
    return strdup(line);
}

static void report_connection_failure(PGconn *conn)
{
    const char *msg = conn != NULL ? PQerrorMessage(conn) : "out of memory";
    size_t len = strlen(msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
        len--;
    slots_error("%.*s", (int)len, msg);
}

/*
 * dbname comes first in the arrays so that -h, -p and -U override the same
 * parts of a conninfo string or URI given in -d (as pg_recvlogical does).
 * UTF-8, because the JSON rendering must be UTF-8.
 */
static PGconn *connect_once(const program *p, const char *password)
{
    const char *keys[] = {"dbname", "host", "port", "user", "password", "fallback_application_name",
                          "client_encoding", NULL};
    const char *values[] = {p->dbname, p->host, p->port, p->user, password, SLOTS_PROG, "UTF8", NULL};
    return PQconnectdbParams(keys, values, 1);
}

static PGconn *connect_db(const program *p, char **password)
{
    if (p->ask_password && *password == NULL && (*password = prompt_password()) == NULL) {
        slots_error("-W: there is no terminal to ask for the password on");
        return NULL;
    }
    for (;;) {
        PGconn *conn = connect_once(p, *password);
        if (conn != NULL && PQstatus(conn) == CONNECTION_OK)
            return conn;
        bool ask = conn != NULL && PQconnectionNeedsPassword(conn) && *password == NULL && !p->no_password;
        if (ask && (*password = prompt_password()) != NULL) {
            PQfinish(conn);
            continue;
        }
        report_connection_failure(conn);
        if (ask)
            hint("The server wants a password and there is no terminal to ask on: use PGPASSWORD or ~/.pgpass.");
        PQfinish(conn);
        return NULL;
    }
}

/*
 * Render one report on standard output or into --output; SNAP NULL is the
 * report of a server that could not be reached or read. Returns 0, or -1
 * with the reason printed.
 */
static int deliver(const program *p, const snapshot *snap, const verdict *v)
{
    slots_output o;
    FILE *out = slots_output_begin(&o, p->output);
    if (out == NULL)
        return -1;
    if (snap == NULL)
        slots_print_prometheus_down(out);
    else if (p->format == FORMAT_JSON)
        slots_print_json(out, snap, v);
    else if (p->format == FORMAT_PROMETHEUS)
        slots_print_prometheus(out, snap, v);
    else
        slots_print_table(out, snap, v);
    return slots_output_commit(&o);
}

/*
 * One report; returns its exit code. CONN is NULL when there is no
 * connection. When the server cannot be reached or read (the reason is
 * already on stderr) there is nothing to report, except for --prometheus,
 * where the outage is a metric; --output FILE is otherwise left as it was.
 */
static int report(PGconn *conn, const program *p)
{
    snapshot snap;
    verdict v;
    if (conn == NULL || slots_snapshot_take(conn, NULL, &snap) != 0) {
        if (p->format == FORMAT_PROMETHEUS)
            deliver(p, NULL, NULL);
        return 1;
    }
    if (slots_judge(&snap, &p->th, &v) != 0) {
        slots_error("out of memory");
        slots_verdict_free(&v);
        slots_snapshot_free(&snap);
        return 1;
    }
    int code = deliver(p, &snap, &v) == 0 ? slots_level_exit_code(v.status) : 1;
    slots_verdict_free(&v);
    slots_snapshot_free(&snap);
    return code;
}

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

void slots_pause(double seconds)
{
    struct timespec left = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (!interrupted && nanosleep(&left, &left) != 0 && errno == EINTR)
        ;
}

/*
 * The --watch loop. The connection is kept between reports and re-made
 * (PQreset, same parameters and password) when it has broken, so that a
 * server restart costs one failed report, not the watcher.
 */
static int watch(const program *p, char **password)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    PGconn *conn = NULL;
    int code = 1;
    for (bool first = true; !interrupted; first = false) {
        if (!first) {
            slots_pause(p->watch);
            if (interrupted)
                break;
            if (p->format == FORMAT_TABLE && p->output == NULL)
                putchar('\n');
        }
        if (conn != NULL && PQstatus(conn) != CONNECTION_OK)
            PQreset(conn);
        if (conn == NULL)
            conn = connect_db(p, password);
        bool up = conn != NULL && PQstatus(conn) == CONNECTION_OK;
        if (conn != NULL && !up)
            report_connection_failure(conn);
        code = report(up ? conn : NULL, p);
    }
    PQfinish(conn);
    return code;
}

int main(int argc, char **argv)
{
    program p;
    parse_args(&p, argc, argv);
    char *password = NULL;
    int code;
    if (p.watch > 0) {
        code = watch(&p, &password);
    } else {
        PGconn *conn = connect_db(&p, &password);
        if (!p.drop)
            code = report(conn, &p);
        else
            code = conn != NULL ? slots_drop_inactive(conn, &p.drop_opts, stdout) : 1;
        PQfinish(conn);
    }
    free(password);
    return code;
}
