/*
 * A growable string with a sticky out-of-memory flag, and the quoting rules
 * of replication commands and SQL: identifiers in double quotes, literals in
 * single quotes (standard_conforming_strings = on: only the quote character
 * is doubled, which is also what the replication command scanner expects).
 */
#ifndef PGREPL_LIB_QUOTE_H
#define PGREPL_LIB_QUOTE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct pgrepl_str {
    char *data; /* NUL-terminated once anything was appended; NULL before */
    size_t len;
    size_t cap;
    bool oom; /* an append failed: the content is incomplete */
} pgrepl_str;

void pgrepl__str_init(pgrepl_str *s);
void pgrepl__str_free(pgrepl_str *s);
void pgrepl__str_append(pgrepl_str *s, const char *text);
void pgrepl__str_append_len(pgrepl_str *s, const char *text, size_t len);
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void pgrepl__str_appendf(pgrepl_str *s, const char *fmt, ...);

/* "name" with every " doubled. */
void pgrepl__str_quote_ident(pgrepl_str *s, const char *name);
/* 'value' with every ' doubled. */
void pgrepl__str_quote_literal(pgrepl_str *s, const char *value);
/*
 * pgoutput's publication_names value: a literal holding a comma-separated
 * list of quoted identifiers, so that case, commas and blanks in a name
 * survive: {"a", "it's \"b\""} -> '"a","it''s ""b"""'.
 */
void pgrepl__str_quote_name_list(pgrepl_str *s, const char *const *names, int n);

#endif
