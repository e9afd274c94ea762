/*
 * minijson: a strict RFC 8259 parser for tests. It accepts exactly one JSON
 * value (whitespace around it allowed) and rejects everything the RFC does
 * not allow: control characters in strings, bad escapes, raw bytes that are
 * not valid UTF-8, \u escapes that are lone surrogates, numbers outside the
 * grammar (leading zeros, "NaN", ".5"), trailing commas, duplicate keys.
 *
 * Numbers keep their text exactly as written, so "1.50" and "1.5" differ.
 * Strings are decoded to UTF-8 (they may hold NUL: use len).
 *
 * Test code: plain malloc, aborts when out of memory.
 */
#ifndef PGREPL_TESTS_MINIJSON_H
#define PGREPL_TESTS_MINIJSON_H

#include <stdbool.h>
#include <stddef.h>

typedef enum mj_type { MJ_NULL, MJ_BOOL, MJ_NUMBER, MJ_STRING, MJ_ARRAY, MJ_OBJECT } mj_type;

typedef struct mj_value mj_value;
struct mj_value {
    mj_type type;
    bool b;          /* MJ_BOOL */
    char *str;       /* MJ_STRING: decoded, NUL-terminated; MJ_NUMBER: the text as written */
    size_t len;      /* bytes in str */
    size_t n;        /* MJ_ARRAY, MJ_OBJECT: number of items */
    mj_value *items; /* the elements, or the members' values */
    char **keys;     /* MJ_OBJECT: the members' names, decoded, in order */
};

/*
 * Parse text (len bytes). Returns the value (free with mj_free) or NULL with
 * a message naming the byte offset in err.
 */
mj_value *mj_parse(const char *text, size_t len, char *err, size_t errsize);
void mj_free(mj_value *v);

/* Member key of an object, or NULL (also when v is not an object). */
const mj_value *mj_get(const mj_value *v, const char *key);
/* Remove member key of object v (and free it), if there is one. */
void mj_remove(mj_value *v, const char *key);
/* True when v is a string equal to s. */
bool mj_is_str(const mj_value *v, const char *s);

/*
 * Deep equality: objects compare member by member whatever their order,
 * numbers by their text.
 */
bool mj_equal(const mj_value *a, const mj_value *b);

/* Serialize v compactly (keys in order, strings escaped); free() the result. */
char *mj_dump(const mj_value *v);

#endif
