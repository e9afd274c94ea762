/*
 * Reading a libpq result: whether it is an error, and the cells of its
 * first row as C values (the commands the session sends answer with one
 * row). No I/O.
 */
#ifndef PGREPL_LIB_PQRESULT_H
#define PGREPL_LIB_PQRESULT_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "pgrepl/common.h"

/* An error result: fatal, a bad response, or a non-fatal error. */
bool pgrepl__is_error(const PGresult *res);

/* The text of column col, NULL when NULL (valid as long as res). */
char *pgrepl__value_or_null(const PGresult *res, int col);
/* "t" is true; anything else, NULL included, false. */
bool pgrepl__col_bool(const PGresult *res, int col);
/* An LSN; 0 when NULL or not an LSN. */
pgrepl_lsn pgrepl__col_lsn(const PGresult *res, int col);
/* An integer; null_value when NULL. */
int64_t pgrepl__col_int(const PGresult *res, int col, int64_t null_value);

#endif
