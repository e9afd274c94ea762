#include <stdlib.h>
#include <string.h>

#include "pqresult.h"

bool pgrepl__is_error(const PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    return st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR;
}

char *pgrepl__value_or_null(const PGresult *res, int col)
{
    return PQgetisnull(res, 0, col) ? NULL : PQgetvalue(res, 0, col);
}

bool pgrepl__col_bool(const PGresult *res, int col)
{
    return !PQgetisnull(res, 0, col) && strcmp(PQgetvalue(res, 0, col), "t") == 0;
}

pgrepl_lsn pgrepl__col_lsn(const PGresult *res, int col)
{
    pgrepl_lsn lsn = 0;
    if (!PQgetisnull(res, 0, col))
        (void)pgrepl_lsn_parse(PQgetvalue(res, 0, col), &lsn);
    return lsn;
}

int64_t pgrepl__col_int(const PGresult *res, int col, int64_t null_value)
{
    return PQgetisnull(res, 0, col) ? null_value : strtoll(PQgetvalue(res, 0, col), NULL, 10);
}
