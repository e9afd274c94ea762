#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "str.h"

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
