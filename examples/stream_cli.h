/*
 * pgrepl-stream's command line (stream_options.c) and connection string
 * (stream_conninfo.c), apart from the program (pgrepl-stream.c) so that
 * they can be tested without a server.
 */
#ifndef PGREPL_EXAMPLES_STREAM_CLI_H
#define PGREPL_EXAMPLES_STREAM_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include <pgrepl/pgrepl.h>
#include <pgrepl/uv.h>

#define CLI_PROG "pgrepl-stream"

typedef enum cli_password { CLI_PW_IF_NEEDED, CLI_PW_NEVER, CLI_PW_ALWAYS } cli_password;

typedef struct cli_options {
    const char *dbname, *host, *port, *user; /* -d -h -p -U; NULL when not given */
    cli_password password;                   /* -w -W */
    const char *slot;
    char **pubs;                             /* -P, split at commas */
    int npubs;
    bool create_slot, if_not_exists, drop_slot, temporary;
    bool allow_gap;
    bool has_startpos, has_endpos;
    pgrepl_lsn startpos, endpos;
    const char *file;                        /* "-": standard output */
    uint64_t fsync_ms, status_ms;
    bool no_loop, verbose;
    uint64_t retry_min_ms, retry_max_ms;     /* --reconnect-delay */
    uint64_t connect_timeout_ms;             /* --connect-timeout; 0: the connection string's, else 10 s */
    uint64_t receive_timeout_ms;             /* --receive-timeout; 0: never */
    int proto_version;                       /* 0: the server's highest */
    bool binary, messages, two_phase;
    pgrepl_streaming_mode streaming;
    pgrepl_origin_filter origin;
    const char *metrics_file;
    uint64_t heartbeat_ms;                   /* --heartbeat-interval; 0: no heartbeats */
    const char *heartbeat_prefix;            /* --heartbeat-prefix; NULL: the library's */
    long read_pause_us;                      /* --read-pause; -1: the library's read batching, 0: off */
} cli_options;

/* "pgrepl-stream: LEVEL: message" on stderr ("pgrepl-stream: message" for level ""); trailing newlines dropped. */
void cli_say(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Parse argv into o (zeroed by the caller; strings point into argv). Prints
 * help or the version and returns 1 (exit 0); prints an error and a hint and
 * returns -1 (exit 1); returns 0 when the options make sense together.
 * Release o with cli_free_options whatever it returned.
 */
int cli_parse_options(cli_options *o, int argc, char **argv);
void cli_free_options(cli_options *o);

/*
 * One key=value connection string (malloc'd) from -d (a database name, a
 * connection string or a URI) with -h -p -U and password winning over it.
 * NULL (and an error printed) when -d cannot be parsed or out of memory.
 */
char *cli_conninfo(const cli_options *o, const char *password);

/* A password read from the terminal without echo (malloc'd), or NULL without a terminal. */
char *cli_prompt_password(void);

#endif
