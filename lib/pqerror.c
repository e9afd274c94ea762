#include <stdbool.h>
#include <string.h>

#include "pqerror.h"

void pgrepl__oneline(char *dst, size_t size, const char *src)
{
    size_t n = 0;
    bool blank = false;
    for (const char *p = src; *p != '\0' && n + 1 < size; p++) {
        bool space = *p == '\n' || *p == '\t' || *p == '\r' || *p == ' ';
        if (space) {
            blank = n > 0;
            continue;
        }
        if (blank && n + 2 < size)
            dst[n++] = ' ';
        blank = false;
        dst[n++] = *p;
    }
    dst[n] = '\0';
}

void pgrepl__server_message(const PGresult *res, pgrepl_server_message *m)
{
    const char *v[5] = {
        PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED), PQresultErrorField(res, PG_DIAG_SQLSTATE),
        PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY),       PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL),
        PQresultErrorField(res, PG_DIAG_MESSAGE_HINT),
    };
    if (v[0] == NULL)
        v[0] = PQresultErrorField(res, PG_DIAG_SEVERITY);
    for (int i = 0; i < 5; i++)
        v[i] = v[i] != NULL ? v[i] : "";
    *m = (pgrepl_server_message){.severity = v[0], .sqlstate = v[1], .message = v[2], .detail = v[3], .hint = v[4]};
}

/* ---- libpq's connection error text ------------------------------------------ */

static bool sqlstate_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

/* In line[0..len): "SEVERITY:  XXXXX: " -> offset of the SQLSTATE, or -1. */
static long find_sqlstate(const char *line, size_t len)
{
    for (size_t i = 1; i + 3 + 7 <= len; i++) {
        const char *p = line + i;
        if (memcmp(p, ":  ", 3) != 0 || line[i - 1] == ' ')
            continue;
        const char *code = p + 3;
        bool ok = code[5] == ':' && code[6] == ' ';
        for (int k = 0; k < 5 && ok; k++)
            ok = sqlstate_char(code[k]);
        if (ok)
            return (long)(code - line);
    }
    return -1;
}

static void copy_span(char *dst, size_t size, const char *src, size_t len)
{
    if (len >= size)
        len = size - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static bool starts_with(const char *line, size_t len, const char *label)
{
    size_t n = strlen(label);
    return len >= n && memcmp(line, label, n) == 0;
}

/* A "LABEL:  text" line of the error in progress: keep DETAIL and HINT. */
static bool labeled(const char *line, size_t len, const char *label, char *dst, size_t size)
{
    if (!starts_with(line, len, label))
        return false;
    size_t n = strlen(label);
    copy_span(dst, size, line + n, len - n);
    return true;
}

/* A server error line: take severity, SQLSTATE and message; earlier details belong to an earlier error. */
static void take_error(pgrepl_connect_diag *d, const char *line, size_t len, size_t code_at)
{
    size_t sev_end = code_at - 3, sev_start = sev_end;
    while (sev_start > 0 && line[sev_start - 1] != ' ')
        sev_start--;
    copy_span(d->severity, sizeof d->severity, line + sev_start, sev_end - sev_start);
    copy_span(d->sqlstate, sizeof d->sqlstate, line + code_at, 5);
    copy_span(d->message, sizeof d->message, line + code_at + 7, len - code_at - 7);
    d->detail[0] = '\0';
    d->hint[0] = '\0';
}

void pgrepl__parse_connect_error(const char *text, pgrepl_connect_diag *d)
{
    memset(d, 0, sizeof *d);
    char clean[sizeof d->text];
    size_t n = 0;
    bool in_error = false;
    for (const char *line = text; *line != '\0';) {
        const char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
        long code_at = find_sqlstate(line, len);
        size_t keep_from = 0, skip_from = 0, skip_len = 0;
        if (code_at >= 0) {
            take_error(d, line, len, (size_t)code_at);
            in_error = true;
            skip_from = (size_t)code_at;
            skip_len = 7;
        } else if (in_error && starts_with(line, len, "LOCATION:  ")) {
            keep_from = len; /* dropped, as the default verbosity does */
        } else if (in_error) {
            (void)(labeled(line, len, "DETAIL:  ", d->detail, sizeof d->detail) ||
                   labeled(line, len, "HINT:  ", d->hint, sizeof d->hint));
        }
        /* the line without the SQLSTATE, then a newline for pgrepl__oneline to turn into a blank */
        for (size_t i = keep_from; i < len && n + 2 < sizeof clean; i++) {
            if (i >= skip_from && i < skip_from + skip_len)
                continue;
            clean[n++] = line[i];
        }
        if (n + 2 < sizeof clean)
            clean[n++] = '\n';
        line += nl != NULL ? len + 1 : len;
    }
    clean[n] = '\0';
    pgrepl__oneline(d->text, sizeof d->text, clean);
}
