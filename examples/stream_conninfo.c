/* pgrepl-stream's connection string and password prompt; see stream_cli.h. */
#include "stream_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>

#include <libpq-fe.h>

#define error(...) cli_say("error", __VA_ARGS__)

static bool is_conninfo(const char *s)
{
    return strchr(s, '=') != NULL || strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0;
}

static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t ncap = (*cap ? *cap * 2 : 256) + n;
        char *p = realloc(*buf, ncap);
        if (p == NULL)
            return -1;
        *buf = p;
        *cap = ncap;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

/* key='value' with quotes and backslashes escaped, as libpq reads it. */
static int append_kv(char **buf, size_t *len, size_t *cap, const char *key, const char *value)
{
    if ((*len > 0 && append(buf, len, cap, " ", 1) != 0) || append(buf, len, cap, key, strlen(key)) != 0 ||
        append(buf, len, cap, "='", 2) != 0)
        return -1;
    for (const char *p = value; *p; p++) {
        if ((*p == '\'' || *p == '\\') && append(buf, len, cap, "\\", 1) != 0)
            return -1;
        if (append(buf, len, cap, p, 1) != 0)
            return -1;
    }
    return append(buf, len, cap, "'", 1);
}

char *cli_conninfo(const cli_options *o, const char *password)
{
    const char *over_keys[] = {"host", "port", "user", "password"};
    const char *over_vals[] = {o->host, o->port, o->user, password};
    char *buf = NULL, *err = NULL;
    size_t len = 0, cap = 0;
    PQconninfoOption *opts = NULL;
    if (o->dbname != NULL && is_conninfo(o->dbname)) {
        opts = PQconninfoParse(o->dbname, &err);
        if (opts == NULL) {
            error("invalid connection string: %s", err ? err : "out of memory");
            PQfreemem(err);
            return NULL;
        }
    }
    bool ok = true;
    for (PQconninfoOption *opt = opts; opt && opt->keyword && ok; opt++) {
        bool overridden = false;
        for (size_t i = 0; i < 4; i++)
            overridden |= over_vals[i] != NULL && strcmp(opt->keyword, over_keys[i]) == 0;
        if (opt->val != NULL && !overridden)
            ok = append_kv(&buf, &len, &cap, opt->keyword, opt->val) == 0;
    }
    if (ok && o->dbname != NULL && !is_conninfo(o->dbname))
        ok = append_kv(&buf, &len, &cap, "dbname", o->dbname) == 0;
    for (size_t i = 0; i < 4 && ok; i++)
        if (over_vals[i] != NULL)
            ok = append_kv(&buf, &len, &cap, over_keys[i], over_vals[i]) == 0;
    if (ok && buf == NULL)
        ok = append(&buf, &len, &cap, "", 0) == 0;
    PQconninfoFree(opts);
    if (!ok) {
        free(buf);
        error("out of memory");
        return NULL;
    }
    return buf;
}

char *cli_prompt_password(void)
{
    FILE *tty = fopen("/dev/tty", "r+");
    if (tty == NULL)
        return NULL;
    struct termios old, quiet;
    int fd = fileno(tty);
    bool restore = tcgetattr(fd, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    fputs("Password: ", tty);
    fflush(tty);
    char line[1024];
    char *got = fgets(line, sizeof line, tty);
    if (restore)
        tcsetattr(fd, TCSAFLUSH, &old);
    fputs("\n", tty);
    fclose(tty);
    if (got == NULL)
        return NULL;
    line[strcspn(line, "\r\n")] = '\0';
    char *pw = malloc(strlen(line) + 1);
    if (pw != NULL)
        strcpy(pw, line);
    return pw;
}

