/*
 * A growable string with a sticky out-of-memory flag: a failed append sets
 * oom and every later append does nothing, so that a caller builds a whole
 * command and checks once at the end.
 */
#ifndef PGREPL_LIB_STR_H
#define PGREPL_LIB_STR_H

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

#endif
