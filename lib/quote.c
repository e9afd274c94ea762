#include <string.h>

#include "quote.h"

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
