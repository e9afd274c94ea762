#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "relcache.h"
#include "wire.h"

#define INITIAL_CAPACITY 16u
#define INITIAL_SHIFT 28u /* 32 - log2(INITIAL_CAPACITY) */
#define CATALOG "pg_catalog"

/* Open addressing only needs the loop to end: keep at least half of the slots empty. */
static bool must_grow(const pgrepl_oidmap *m)
{
    return m->slots == NULL || (m->count + 1) * 2 > m->mask + 1;
}

static pgrepl_oidslot *find_slot(const pgrepl_oidmap *m, uint32_t oid)
{
    for (uint32_t i = pgrepl__oidmap_home(m, oid);; i = (i + 1) & m->mask) {
        pgrepl_oidslot *s = &m->slots[i];
        if (s->val == NULL || s->oid == oid)
            return s;
    }
}

static int grow(pgrepl_oidmap *m)
{
    if (m->slots != NULL && m->mask >= UINT32_MAX / 4)
        return PGREPL_ENOMEM;
    uint32_t cap = m->slots == NULL ? INITIAL_CAPACITY : (m->mask + 1) * 2;
    pgrepl_oidmap bigger = {
        .slots = pgrepl__calloc(cap, sizeof(pgrepl_oidslot)),
        .mask = cap - 1,
        .shift = m->slots == NULL ? INITIAL_SHIFT : m->shift - 1,
        .count = m->count,
    };
    if (bigger.slots == NULL)
        return PGREPL_ENOMEM;
    for (uint32_t i = 0; m->slots != NULL && i <= m->mask; i++) {
        if (m->slots[i].val != NULL)
            *find_slot(&bigger, m->slots[i].oid) = m->slots[i];
    }
    pgrepl__free(m->slots);
    *m = bigger;
    return 0;
}

int pgrepl__oidmap_put(pgrepl_oidmap *m, uint32_t oid, void *val, void **old)
{
    *old = pgrepl__oidmap_get(m, oid);
    if (*old == NULL && must_grow(m) && grow(m) != 0)
        return PGREPL_ENOMEM;
    pgrepl_oidslot *s = find_slot(m, oid);
    if (s->val == NULL)
        m->count++;
    s->oid = oid;
    s->val = val;
    return 0;
}

void pgrepl__oidmap_clear(pgrepl_oidmap *m)
{
    if (m->slots == NULL)
        return;
    for (uint32_t i = 0; i <= m->mask; i++)
        pgrepl__free(m->slots[i].val);
    memset(m->slots, 0, (size_t)(m->mask + 1) * sizeof(pgrepl_oidslot));
    m->count = 0;
}

void pgrepl__oidmap_free(pgrepl_oidmap *m)
{
    pgrepl__oidmap_clear(m);
    pgrepl__free(m->slots);
    *m = (pgrepl_oidmap){0};
}

/* Store the entry e for oid and free the one it replaces; on failure free e instead. */
static int put_entry(pgrepl_oidmap *m, uint32_t oid, void *e)
{
    void *old;
    if (pgrepl__oidmap_put(m, oid, e, &old) != 0) {
        pgrepl__free(e);
        return PGREPL_ENOMEM;
    }
    pgrepl__free(old);
    return 0;
}

/* Saturates instead of wrapping, so an absurd size becomes a failed allocation, never a short one. */
static size_t size_add(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static const char *copy_str(char **next, const char *s, size_t len)
{
    char *dst = *next;
    memcpy(dst, s, len);
    dst[len] = '\0';
    *next = dst + len + 1;
    return dst;
}

/* pgoutput sends an empty namespace for pg_catalog. */
static const char *namespace_or_catalog(const char *s, size_t *len)
{
    if (*len > 0)
        return s;
    *len = sizeof CATALOG - 1;
    return CATALOG;
}

typedef struct relentry {
    pgrepl_relation rel;
    pgrepl_column columns[];
} relentry;

/*
 * Walks the (already validated) column descriptions and returns the bytes
 * their strings need in the arena. With cols set it also fills cols and
 * copies the strings to *next: measuring and filling share one walk so they
 * cannot disagree.
 */
static size_t walk_columns(const pgrepl_relmsg *m, const pgrepl_oidmap *types, pgrepl_column *cols, char **next)
{
    size_t need = 0;
    pgrepl_cursor c;
    pgrepl__cur_init(&c, m->columns, m->columns_len);
    for (int i = 0; i < m->ncolumns; i++) {
        pgrepl_column col = {0};
        size_t len = 0;
        col.flags = pgrepl__cur_u8(&c);
        col.name = pgrepl__cur_str(&c, &len);
        col.type_oid = pgrepl__cur_u32(&c);
        col.typmod = pgrepl__cur_i32(&c);
        need = size_add(need, len + 1);
        const pgrepl_msg_type *t = pgrepl__oidmap_get(types, col.type_oid);
        size_t schema_len = t != NULL ? strlen(t->schema) : 0;
        size_t name_len = t != NULL ? strlen(t->name) : 0;
        if (t != NULL)
            need = size_add(need, size_add(schema_len + 1, name_len + 1));
        if (cols == NULL)
            continue;
        col.name = copy_str(next, col.name, len);
        if (t != NULL) {
            col.type_schema = copy_str(next, t->schema, schema_len);
            col.type_name = copy_str(next, t->name, name_len);
        }
        cols[i] = col;
    }
    return need;
}

int pgrepl__relcache_put(pgrepl_oidmap *rels, const pgrepl_oidmap *types, const pgrepl_relmsg *m,
                         const pgrepl_relation **out)
{
    size_t schema_len = m->schema_len;
    const char *schema = namespace_or_catalog(m->schema, &schema_len);
    size_t size = sizeof(relentry) + (size_t)m->ncolumns * sizeof(pgrepl_column);
    size = size_add(size, schema_len + 1 + m->name_len + 1);
    size = size_add(size, walk_columns(m, types, NULL, NULL));
    relentry *e = size == SIZE_MAX ? NULL : pgrepl__malloc(size);
    if (e == NULL)
        return PGREPL_ENOMEM;
    char *next = (char *)(e->columns + m->ncolumns);
    e->rel = (pgrepl_relation){
        .oid = m->oid,
        .schema = copy_str(&next, schema, schema_len),
        .name = copy_str(&next, m->name, m->name_len),
        .replica_identity = m->replica_identity,
        .ncolumns = m->ncolumns,
        .columns = e->columns,
        .xid = m->xid,
    };
    walk_columns(m, types, e->columns, &next);
    if (put_entry(rels, m->oid, e) != 0)
        return PGREPL_ENOMEM;
    *out = &e->rel;
    return 0;
}

typedef struct typeentry {
    pgrepl_msg_type type;
    char strings[];
} typeentry;

int pgrepl__typecache_put(pgrepl_oidmap *types, const pgrepl_msg_type *t, size_t schema_len, size_t name_len,
                          const pgrepl_msg_type **out)
{
    const char *schema = namespace_or_catalog(t->schema, &schema_len);
    typeentry *e = pgrepl__malloc(sizeof(typeentry) + schema_len + 1 + name_len + 1);
    if (e == NULL)
        return PGREPL_ENOMEM;
    char *next = e->strings;
    e->type = *t;
    e->type.schema = copy_str(&next, schema, schema_len);
    e->type.name = copy_str(&next, t->name, name_len);
    if (put_entry(types, t->oid, e) != 0)
        return PGREPL_ENOMEM;
    *out = &e->type;
    return 0;
}
