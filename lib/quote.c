#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "quote.h"

void pgrepl__str_init(pgrepl_str *s)
{
    memset(s, 0, sizeof *s);
}

void pgrepl__str_free(pgrepl_str *s)
{
    pgrepl__free(s->data);
    pgrepl__str_init(s);
}

/* Room for len more bytes plus the NUL. */
static bool reserve(pgrepl_str *s, size_t len)
{
    if (s->oom)
        return false;
    if (s->cap - s->len > len)
        return true;
    size_t need = s->len + len + 1;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = pgrepl__realloc(s->data, cap);
    if (p == NULL) {
        s->oom = true;
        return false;
    }
    s->data = p;
    s->cap = cap;
    return true;
}

void pgrepl__str_append_len(pgrepl_str *s, const char *text, size_t len)
{
    if (!reserve(s, len))
        return;
    memcpy(s->data + s->len, text, len);
    s->len += len;
    s->data[s->len] = '\0';
}

void pgrepl__str_append(pgrepl_str *s, const char *text)
{
    pgrepl__str_append_len(s, text, strlen(text));
}

void pgrepl__str_appendf(pgrepl_str *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(s, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(s->data + s->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
}

/* text between quote characters, each quote character doubled */
static void append_quoted(pgrepl_str *s, const char *text, char quote)
{
    char q[2] = {quote, '\0'};
    pgrepl__str_append(s, q);
    for (const char *p = text; *p != '\0';) {
        const char *end = strchr(p, quote);
        if (end == NULL) {
            pgrepl__str_append(s, p);
            break;
        }
        pgrepl__str_append_len(s, p, (size_t)(end - p) + 1);
        pgrepl__str_append(s, q);
        p = end + 1;
    }
    pgrepl__str_append(s, q);
}

void pgrepl__str_quote_ident(pgrepl_str *s, const char *name)
{
    append_quoted(s, name, '"');
}

void pgrepl__str_quote_literal(pgrepl_str *s, const char *value)
{
    append_quoted(s, value, '\'');
}

void pgrepl__str_quote_name_list(pgrepl_str *s, const char *const *names, int n)
{
    pgrepl_str list;
    pgrepl__str_init(&list);
    pgrepl__str_append(&list, "");
    for (int i = 0; i < n; i++) {
        if (i > 0)
            pgrepl__str_append(&list, ",");
        pgrepl__str_quote_ident(&list, names[i]);
    }
    if (list.oom)
        s->oom = true;
    else
        pgrepl__str_quote_literal(s, list.data);
    pgrepl__str_free(&list);
}
