/*
 * Text search types: tsvector (tsvectorout) and tsquery (tsqueryout's infix
 * form with the server's operator priorities and parentheses).
 */
#include <stdio.h>

#include "digits.h"
#include "render.h"

/* A lexeme or operand in single quotes, with quotes and backslashes doubled. */
static int put_quoted(pgrepl_buf *out, const char *s, size_t n)
{
    size_t extra = 2;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\'' || s[i] == '\\')
            extra++;
    char *w = pgrepl__buf_room(out, n + extra);
    if (w == NULL)
        return PGREPL_ENOMEM;
    size_t k = 0;
    w[k++] = '\'';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\'' || s[i] == '\\')
            w[k++] = s[i];
        w[k++] = s[i];
    }
    w[k++] = '\'';
    pgrepl__buf_used(out, k);
    return 0;
}

/* A NUL-terminated string at p[pos..n): its length, or false when there is no NUL. */
static bool string_at(const uint8_t *p, size_t n, size_t pos, size_t *len)
{
    const uint8_t *nul = pos < n ? memchr(p + pos, '\0', n - pos) : NULL;
    if (nul == NULL)
        return false;
    *len = (size_t)(nul - (p + pos));
    return true;
}

/* ---- tsvector ------------------------------------------------------------------- */

/* Positions "1A,2,3C": the position in the low 14 bits, the weight (D none, C, B, A) in the top 2. */
static int put_positions(pgrepl_buf *out, const uint8_t *p, unsigned npos)
{
    static const char weights[] = {0, 'C', 'B', 'A'};
    char text[16];
    int rc = pgrepl__putc(out, ':');
    for (unsigned i = 0; i < npos && rc == 0; i++) {
        uint16_t wp = pgrepl__rd16(p + 2 * (size_t)i);
        size_t k = 0;
        if (i > 0)
            text[k++] = ',';
        char num[8];
        int d = pgrepl__fmt_u64(num + sizeof num, wp & 0x3fff, 1);
        memcpy(text + k, num + sizeof num - d, (size_t)d);
        k += (size_t)d;
        if (weights[wp >> 14])
            text[k++] = weights[wp >> 14];
        rc = pgrepl__put(out, text, k);
    }
    return rc;
}

int pgrepl__render_tsvector(pgrepl_buf *out, const uint8_t *p, size_t n)
{
    if (n < 4)
        return pgrepl__render_bad("tsvector value of %zu bytes", n);
    uint32_t count = pgrepl__rd32(p);
    if (count > (n - 4) / 3)
        return pgrepl__render_bad("tsvector of %u lexemes in %zu bytes", (unsigned)count, n);
    size_t pos = 4;
    int rc = 0;
    for (uint32_t i = 0; i < count && rc == 0; i++) {
        size_t len;
        if (!string_at(p, n, pos, &len) || n - pos - len - 1 < 2)
            return pgrepl__render_bad("tsvector lexeme %u truncated", (unsigned)i + 1);
        const char *lexeme = (const char *)p + pos;
        pos += len + 1;
        unsigned npos = pgrepl__rd16(p + pos);
        pos += 2;
        if ((n - pos) / 2 < npos)
            return pgrepl__render_bad("tsvector positions of lexeme %u truncated", (unsigned)i + 1);
        if (i > 0)
            rc = pgrepl__putc(out, ' ');
        if (rc == 0)
            rc = put_quoted(out, lexeme, len);
        if (rc == 0 && npos > 0)
            rc = put_positions(out, p + pos, npos);
        pos += 2 * (size_t)npos;
    }
    if (rc == 0 && pos != n)
        return pgrepl__render_bad("tsvector: %zu trailing bytes", n - pos);
    return rc;
}

/* ---- tsquery --------------------------------------------------------------------- */

#define QI_VAL 1
#define QI_OPR 2
#define OP_NOT 1
#define OP_AND 2
#define OP_OR 3
#define OP_PHRASE 4
/* Deeper queries are not rendered (the renderer recurses once per level). */
#define TSQUERY_MAX_DEPTH 4096

struct tsq_item {
    int type;
    int oper;
    int distance;      /* OP_PHRASE */
    unsigned weight;   /* QI_VAL: bit 3 A, 2 B, 1 C, 0 D */
    bool prefix;
    const char *operand;
    size_t len;
    size_t next;       /* offset just after the item */
};

/* The server's priorities (tsearch_op_priority): NOT 4, PHRASE 3, AND 2, OR 1. */
static int priority(int oper)
{
    static const int prio[] = {0, 4, 2, 1, 3};
    return prio[oper];
}

static int read_query_item(const uint8_t *p, size_t n, size_t pos, struct tsq_item *it)
{
    memset(it, 0, sizeof *it);
    if (n - pos < 2)
        return pgrepl__render_bad("tsquery item truncated at offset %zu", pos);
    it->type = p[pos];
    if (it->type == QI_VAL) {
        if (n - pos < 3 || !string_at(p, n, pos + 3, &it->len))
            return pgrepl__render_bad("tsquery operand truncated at offset %zu", pos);
        it->weight = p[pos + 1];
        it->prefix = p[pos + 2] != 0;
        it->operand = (const char *)p + pos + 3;
        it->next = pos + 3 + it->len + 1;
        return it->weight > 0xf ? pgrepl__render_bad("tsquery weight bits 0x%x", it->weight) : 0;
    }
    if (it->type != QI_OPR)
        return pgrepl__render_bad("tsquery item type %d at offset %zu", it->type, pos);
    it->oper = p[pos + 1];
    if (it->oper < OP_NOT || it->oper > OP_PHRASE)
        return pgrepl__render_bad("tsquery operator %d at offset %zu", it->oper, pos);
    it->next = pos + 2;
    if (it->oper == OP_PHRASE) {
        if (n - pos < 4)
            return pgrepl__render_bad("tsquery phrase distance truncated at offset %zu", pos);
        it->distance = (int16_t)pgrepl__rd16(p + pos + 2);
        it->next = pos + 4;
    }
    return 0;
}

/* Offset after the subtree at pos, and the number of items in it. */
static int skip_subtree(const uint8_t *p, size_t n, size_t pos, size_t *end, size_t *items)
{
    size_t need = 1;
    *items = 0;
    while (need > 0) {
        struct tsq_item it;
        int rc = read_query_item(p, n, pos, &it);
        if (rc != 0)
            return rc;
        need += it.type == QI_VAL ? 0 : it.oper == OP_NOT ? 1 : 2;
        need--;
        (*items)++;
        pos = it.next;
    }
    *end = pos;
    return 0;
}

static int put_operand(pgrepl_buf *out, const struct tsq_item *it)
{
    int rc = put_quoted(out, it->operand, it->len);
    if (rc != 0 || (it->weight == 0 && !it->prefix))
        return rc;
    char text[8];
    size_t k = 0;
    text[k++] = ':';
    if (it->prefix)
        text[k++] = '*';
    for (int bit = 3; bit >= 0; bit--)
        if (it->weight & (1u << bit))
            text[k++] = "DCBA"[bit];
    return pgrepl__put(out, text, k);
}

static int put_operator(pgrepl_buf *out, const struct tsq_item *it)
{
    switch (it->oper) {
    case OP_OR: return pgrepl__put(out, " | ", 3);
    case OP_AND: return pgrepl__put(out, " & ", 3);
    default:
        if (it->distance == 1)
            return pgrepl__put(out, " <-> ", 5);
        char text[16];
        int k = snprintf(text, sizeof text, " <%d> ", it->distance);
        return pgrepl__put(out, text, (size_t)k);
    }
}

/*
 * infix(): the items are in prefix order with the right operand first, so
 * the left operand starts where the right one's subtree ends.
 */
static int infix(pgrepl_buf *out, const uint8_t *p, size_t n, size_t pos, int parent, bool right_phrase, int depth)
{
    if (depth > TSQUERY_MAX_DEPTH)
        return pgrepl__render_bad("tsquery nested more than %d deep", TSQUERY_MAX_DEPTH);
    struct tsq_item it;
    int rc = read_query_item(p, n, pos, &it);
    if (rc != 0)
        return rc;
    if (it.type == QI_VAL)
        return put_operand(out, &it);
    int prio = priority(it.oper);
    bool parens = prio < parent || (it.oper == OP_PHRASE && right_phrase);
    if (parens)
        rc = pgrepl__put(out, "( ", 2);
    if (rc == 0 && it.oper == OP_NOT) {
        rc = pgrepl__putc(out, '!');
        if (rc == 0)
            rc = infix(out, p, n, it.next, prio, false, depth + 1);
    } else if (rc == 0) {
        size_t left, items;
        rc = skip_subtree(p, n, it.next, &left, &items);
        if (rc == 0)
            rc = infix(out, p, n, left, prio, false, depth + 1);
        if (rc == 0)
            rc = put_operator(out, &it);
        if (rc == 0)
            rc = infix(out, p, n, it.next, prio, it.oper == OP_PHRASE, depth + 1);
    }
    if (rc == 0 && parens)
        rc = pgrepl__put(out, " )", 2);
    return rc;
}

int pgrepl__render_tsquery(pgrepl_buf *out, const uint8_t *p, size_t n)
{
    if (n < 4)
        return pgrepl__render_bad("tsquery value of %zu bytes", n);
    uint32_t size = pgrepl__rd32(p);
    if (size == 0)
        return n == 4 ? 0 : pgrepl__render_bad("empty tsquery with %zu trailing bytes", n - 4);
    /* Check the whole tree once: one root, every item used, nothing after it. */
    size_t end, items;
    int rc = skip_subtree(p, n, 4, &end, &items);
    if (rc != 0)
        return rc;
    if (end != n || items != size)
        return pgrepl__render_bad("tsquery of %u items holds %zu in a tree, %zu bytes after it", (unsigned)size, items,
                                  n - end);
    return infix(out, p, n, 4, -1, false, 0);
}
