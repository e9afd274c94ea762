/*
 * libpq's errors in the form the library reports them: a result's error or
 * notice fields as a pgrepl_server_message, libpq's multi-line text on one
 * line, and the server error inside the text of a failed connection setup.
 * No I/O; nothing here judges an error (classify.h does).
 */
#ifndef PGREPL_LIB_PQERROR_H
#define PGREPL_LIB_PQERROR_H

#include <stddef.h>

#include <libpq-fe.h>

#include "pgrepl/session.h"

/* A libpq result's error or notice fields, pointing into res ("" when absent). */
void pgrepl__server_message(const PGresult *res, pgrepl_server_message *m);

/* libpq's messages end in newlines and may span lines: src as one line in dst (size > 0). */
void pgrepl__oneline(char *dst, size_t size, const char *src);

/*
 * libpq reports an error during connection setup only as text in
 * PQerrorMessage. With PQERRORS_VERBOSE that text carries the SQLSTATE
 * ("...failed: FATAL:  3D000: database \"x\" does not exist\nLOCATION: ...").
 * This takes it apart: the last server error in it (several appear when
 * libpq tried more than one host or mode), and the whole text on one line
 * without the SQLSTATE and LOCATION, as the default verbosity would print it.
 */
typedef struct pgrepl_connect_diag {
    char severity[16];
    char sqlstate[6]; /* "" when no server error is in the text */
    char message[256];
    char detail[256];
    char hint[256];
    char text[512];
} pgrepl_connect_diag;

void pgrepl__parse_connect_error(const char *text, pgrepl_connect_diag *d);

#endif
