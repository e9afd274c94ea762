/* A strict RFC 8259 parser for tests; see minijson.h. */
#include "minijson.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

typedef struct parser {
    const unsigned char *p;
    size_t len, pos;
    char *err;
    size_t errsize;
    bool failed;
} parser;

typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf;

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        abort();
    return q;
}

static void sb_add(sbuf *b, const void *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->cap + n + 1) * 2;
        b->s = xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

__attribute__((format(printf, 2, 3))) static bool fail(parser *ps, const char *fmt, ...)
{
    if (ps->failed)
        return false;
    ps->failed = true;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ps->errsize > 0)
        snprintf(ps->err, ps->errsize, "%s at byte %zu", msg, ps->pos);
    return false;
}

static void skip_ws(parser *ps)
{
    while (ps->pos < ps->len &&
           (ps->p[ps->pos] == ' ' || ps->p[ps->pos] == '\t' || ps->p[ps->pos] == '\n' || ps->p[ps->pos] == '\r'))
        ps->pos++;
}

static bool literal(parser *ps, const char *word)
{
    size_t n = strlen(word);
    if (ps->len - ps->pos < n || memcmp(ps->p + ps->pos, word, n) != 0)
        return fail(ps, "unexpected character");
    ps->pos += n;
    return true;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool digits(parser *ps)
{
    size_t start = ps->pos;
    while (ps->pos < ps->len && is_digit(ps->p[ps->pos]))
        ps->pos++;
    return ps->pos > start || fail(ps, "digit expected");
}

static bool number(parser *ps, mj_value *v)
{
    size_t start = ps->pos;
    if (ps->p[ps->pos] == '-')
        ps->pos++;
    if (ps->pos < ps->len && ps->p[ps->pos] == '0') {
        ps->pos++;
    } else if (!digits(ps)) {
        return false;
    }
    if (ps->pos < ps->len && ps->p[ps->pos] == '.') {
        ps->pos++;
        if (!digits(ps))
            return false;
    }
    if (ps->pos < ps->len && (ps->p[ps->pos] == 'e' || ps->p[ps->pos] == 'E')) {
        ps->pos++;
        if (ps->pos < ps->len && (ps->p[ps->pos] == '+' || ps->p[ps->pos] == '-'))
            ps->pos++;
        if (!digits(ps))
            return false;
    }
    v->type = MJ_NUMBER;
    v->len = ps->pos - start;
    v->str = xrealloc(NULL, v->len + 1);
    memcpy(v->str, ps->p + start, v->len);
    v->str[v->len] = '\0';
    return true;
}

static void put_utf8(sbuf *b, uint32_t cp)
{
    unsigned char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | cp >> 6);
        u[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | cp >> 12);
        u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xF0 | cp >> 18);
        u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        u[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    sb_add(b, u, n);
}

static bool hex4(parser *ps, uint32_t *out)
{
    uint32_t v = 0;
    if (ps->len - ps->pos < 4)
        return fail(ps, "short \\u escape");
    for (int i = 0; i < 4; i++) {
        unsigned char c = ps->p[ps->pos++];
        int d = is_digit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (d < 0)
            return fail(ps, "bad hex digit in \\u escape");
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return true;
}

static bool unicode_escape(parser *ps, sbuf *b)
{
    uint32_t cp;
    if (!hex4(ps, &cp))
        return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail(ps, "lone low surrogate");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        uint32_t lo;
        if (ps->len - ps->pos < 2 || ps->p[ps->pos] != '\\' || ps->p[ps->pos + 1] != 'u')
            return fail(ps, "lone high surrogate");
        ps->pos += 2;
        if (!hex4(ps, &lo))
            return false;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return fail(ps, "bad low surrogate");
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    put_utf8(b, cp);
    return true;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    size_t need;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if (p[i] < lo || p[i] > hi)
            return 0;
        lo = 0x80;
        hi = 0xBF;
    }
    return need;
}

static bool escape(parser *ps, sbuf *b)
{
    if (ps->pos >= ps->len)
        return fail(ps, "unterminated escape");
    unsigned char c = ps->p[ps->pos++];
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *at = c ? strchr(from, c) : NULL;
    if (at != NULL) {
        sb_add(b, &to[at - from], 1);
        return true;
    }
    if (c == 'u')
        return unicode_escape(ps, b);
    ps->pos--;
    return fail(ps, "bad escape");
}

static bool string(parser *ps, char **out, size_t *outlen)
{
    sbuf b = {0};
    sb_add(&b, "", 0);
    ps->pos++; /* the opening quote */
    for (;;) {
        if (ps->pos >= ps->len) {
            free(b.s);
            return fail(ps, "unterminated string");
        }
        unsigned char c = ps->p[ps->pos];
        bool ok = true;
        if (c == '"') {
            ps->pos++;
            break;
        } else if (c == '\\') {
            ps->pos++;
            ok = escape(ps, &b);
        } else if (c < 0x20) {
            ok = fail(ps, "raw control character 0x%02x in a string", c);
        } else if (c < 0x80) {
            sb_add(&b, &c, 1);
            ps->pos++;
        } else {
            size_t k = utf8_len(ps->p + ps->pos, ps->len - ps->pos);
            if (k == 0) {
                ok = fail(ps, "invalid UTF-8");
            } else {
                sb_add(&b, ps->p + ps->pos, k);
                ps->pos += k;
            }
        }
        if (!ok) {
            free(b.s);
            return false;
        }
    }
    *out = b.s;
    *outlen = b.len;
    return true;
}

static bool value(parser *ps, mj_value *v, int depth);

static bool array(parser *ps, mj_value *v, int depth)
{
    v->type = MJ_ARRAY;
    ps->pos++;
    skip_ws(ps);
    if (ps->pos < ps->len && ps->p[ps->pos] == ']') {
        ps->pos++;
        return true;
    }
    for (;;) {
        v->items = xrealloc(v->items, (v->n + 1) * sizeof *v->items);
        memset(&v->items[v->n], 0, sizeof *v->items);
        v->n++;
        if (!value(ps, &v->items[v->n - 1], depth + 1))
            return false;
        skip_ws(ps);
        if (ps->pos < ps->len && ps->p[ps->pos] == ',') {
            ps->pos++;
            continue;
        }
        if (ps->pos < ps->len && ps->p[ps->pos] == ']') {
            ps->pos++;
            return true;
        }
        return fail(ps, "',' or ']' expected");
    }
}

static bool member(parser *ps, mj_value *v, int depth)
{
    skip_ws(ps);
    if (ps->pos >= ps->len || ps->p[ps->pos] != '"')
        return fail(ps, "member name expected");
    char *key;
    size_t keylen;
    if (!string(ps, &key, &keylen))
        return false;
    for (size_t i = 0; i < v->n; i++) {
        if (strcmp(v->keys[i], key) == 0) {
            free(key);
            return fail(ps, "duplicate member name");
        }
    }
    v->keys = xrealloc(v->keys, (v->n + 1) * sizeof *v->keys);
    v->items = xrealloc(v->items, (v->n + 1) * sizeof *v->items);
    v->keys[v->n] = key;
    memset(&v->items[v->n], 0, sizeof *v->items);
    v->n++;
    skip_ws(ps);
    if (ps->pos >= ps->len || ps->p[ps->pos] != ':')
        return fail(ps, "':' expected");
    ps->pos++;
    return value(ps, &v->items[v->n - 1], depth + 1);
}

static bool object(parser *ps, mj_value *v, int depth)
{
    v->type = MJ_OBJECT;
    ps->pos++;
    skip_ws(ps);
    if (ps->pos < ps->len && ps->p[ps->pos] == '}') {
        ps->pos++;
        return true;
    }
    for (;;) {
        if (!member(ps, v, depth))
            return false;
        skip_ws(ps);
        if (ps->pos < ps->len && ps->p[ps->pos] == ',') {
            ps->pos++;
            continue;
        }
        if (ps->pos < ps->len && ps->p[ps->pos] == '}') {
            ps->pos++;
            return true;
        }
        return fail(ps, "',' or '}' expected");
    }
}

static bool value(parser *ps, mj_value *v, int depth)
{
    if (depth > MAX_DEPTH)
        return fail(ps, "nested too deep");
    skip_ws(ps);
    if (ps->pos >= ps->len)
        return fail(ps, "value expected");
    switch (ps->p[ps->pos]) {
    case '{':
        return object(ps, v, depth);
    case '[':
        return array(ps, v, depth);
    case '"':
        v->type = MJ_STRING;
        return string(ps, &v->str, &v->len);
    case 't':
        v->type = MJ_BOOL;
        v->b = true;
        return literal(ps, "true");
    case 'f':
        v->type = MJ_BOOL;
        return literal(ps, "false");
    case 'n':
        v->type = MJ_NULL;
        return literal(ps, "null");
    default:
        if (ps->p[ps->pos] == '-' || is_digit(ps->p[ps->pos]))
            return number(ps, v);
        return fail(ps, "unexpected character");
    }
}

static void free_inside(mj_value *v)
{
    for (size_t i = 0; i < v->n; i++) {
        free_inside(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
}

mj_value *mj_parse(const char *text, size_t len, char *err, size_t errsize)
{
    parser ps = {(const unsigned char *)text, len, 0, err, errsize, false};
    if (errsize > 0)
        err[0] = '\0';
    mj_value *v = xrealloc(NULL, sizeof *v);
    memset(v, 0, sizeof *v);
    bool ok = value(&ps, v, 0);
    if (ok) {
        skip_ws(&ps);
        if (ps.pos != ps.len)
            ok = fail(&ps, "trailing characters");
    }
    if (!ok) {
        mj_free(v);
        return NULL;
    }
    return v;
}

void mj_free(mj_value *v)
{
    if (v == NULL)
        return;
    free_inside(v);
    free(v);
}

const mj_value *mj_get(const mj_value *v, const char *key)
{
    if (v == NULL || v->type != MJ_OBJECT)
        return NULL;
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->keys[i], key) == 0)
            return &v->items[i];
    return NULL;
}

void mj_remove(mj_value *v, const char *key)
{
    for (size_t i = 0; v != NULL && v->type == MJ_OBJECT && i < v->n; i++) {
        if (strcmp(v->keys[i], key) != 0)
            continue;
        free_inside(&v->items[i]);
        free(v->keys[i]);
        /* member order does not matter to mj_equal; keep the rest in order anyway */
        memmove(&v->items[i], &v->items[i + 1], (v->n - i - 1) * sizeof *v->items);
        memmove(&v->keys[i], &v->keys[i + 1], (v->n - i - 1) * sizeof *v->keys);
        v->n--;
        return;
    }
}

bool mj_is_str(const mj_value *v, const char *s)
{
    return v != NULL && v->type == MJ_STRING && v->len == strlen(s) && memcmp(v->str, s, v->len) == 0;
}

bool mj_equal(const mj_value *a, const mj_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case MJ_NULL:
        return true;
    case MJ_BOOL:
        return a->b == b->b;
    case MJ_NUMBER:
    case MJ_STRING:
        return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
    case MJ_ARRAY:
        if (a->n != b->n)
            return false;
        for (size_t i = 0; i < a->n; i++)
            if (!mj_equal(&a->items[i], &b->items[i]))
                return false;
        return true;
    case MJ_OBJECT:
        if (a->n != b->n)
            return false;
        for (size_t i = 0; i < a->n; i++) {
            const mj_value *other = mj_get(b, a->keys[i]);
            if (other == NULL || !mj_equal(&a->items[i], other))
                return false;
        }
        return true;
    }
    return false;
}

static void dump_string(sbuf *b, const char *s, size_t n)
{
    sb_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            sb_add(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            sb_add(b, esc, 6);
        } else {
            sb_add(b, &s[i], 1);
        }
    }
    sb_add(b, "\"", 1);
}

static void dump(sbuf *b, const mj_value *v)
{
    switch (v->type) {
    case MJ_NULL:
        sb_add(b, "null", 4);
        break;
    case MJ_BOOL:
        sb_add(b, v->b ? "true" : "false", v->b ? 4 : 5);
        break;
    case MJ_NUMBER:
        sb_add(b, v->str, v->len);
        break;
    case MJ_STRING:
        dump_string(b, v->str, v->len);
        break;
    case MJ_ARRAY:
    case MJ_OBJECT:
        sb_add(b, v->type == MJ_ARRAY ? "[" : "{", 1);
        for (size_t i = 0; i < v->n; i++) {
            if (i > 0)
                sb_add(b, ",", 1);
            if (v->type == MJ_OBJECT) {
                dump_string(b, v->keys[i], strlen(v->keys[i]));
                sb_add(b, ":", 1);
            }
            dump(b, &v->items[i]);
        }
        sb_add(b, v->type == MJ_ARRAY ? "]" : "}", 1);
        break;
    }
}

char *mj_dump(const mj_value *v)
{
    sbuf b = {0};
    sb_add(&b, "", 0);
    dump(&b, v);
    return b.s;
}
