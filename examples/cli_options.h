/*
 * The connection options pgrepl-stream and pgrepl-slots share, spelled as
 * pg_recvlogical and psql spell them: entries of a getopt_long table.
 */
#ifndef PGREPL_EXAMPLES_CLI_OPTIONS_H
#define PGREPL_EXAMPLES_CLI_OPTIONS_H

#include <getopt.h>

#define CLI_CONNECTION_OPTIONS                                                                                         \
    {"dbname", required_argument, NULL, 'd'}, {"host", required_argument, NULL, 'h'},                                  \
        {"port", required_argument, NULL, 'p'}, {"username", required_argument, NULL, 'U'},                            \
        {"no-password", no_argument, NULL, 'w'}, {"password", no_argument, NULL, 'W'}

#endif
