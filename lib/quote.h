/*
 * The quoting rules of replication commands and SQL, appended to a
 * pgrepl_str: identifiers in double quotes, literals in single quotes
 * (standard_conforming_strings = on: only the quote character is doubled,
 * which is also what the replication command scanner expects).
 */
#ifndef PGREPL_LIB_QUOTE_H
#define PGREPL_LIB_QUOTE_H

#include "str.h"

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
