/*
 * Relation and type caches of the decoder: an open-addressing hash map keyed
 * by OID whose values are single allocations (one arena per entry holding the
 * struct, its columns and its strings), so replacing or dropping an entry is
 * one free.
 */
#ifndef PGREPL_LIB_RELCACHE_H
#define PGREPL_LIB_RELCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "pgrepl/decode.h"

typedef struct pgrepl_oidslot {
    uint32_t oid;
    void *val; /* NULL: empty slot */
} pgrepl_oidslot;

/* Entries are never removed one by one (only replaced or all cleared), so no tombstones. */
typedef struct pgrepl_oidmap {
    pgrepl_oidslot *slots; /* NULL until the first insert */
    uint32_t mask;         /* capacity - 1 (capacity is a power of two) */
    uint32_t shift;        /* 32 - log2(capacity), for Fibonacci hashing */
    uint32_t count;
} pgrepl_oidmap;

static inline uint32_t pgrepl__oidmap_home(const pgrepl_oidmap *m, uint32_t oid)
{
    /* OIDs are mostly consecutive; the multiply spreads them over the high bits. */
    return (uint32_t)(oid * UINT32_C(2654435769)) >> m->shift;
}

/* The value stored for oid, or NULL. */
static inline void *pgrepl__oidmap_get(const pgrepl_oidmap *m, uint32_t oid)
{
    if (m->count == 0)
        return NULL;
    for (uint32_t i = pgrepl__oidmap_home(m, oid);; i = (i + 1) & m->mask) {
        const pgrepl_oidslot *s = &m->slots[i];
        if (s->val == NULL || s->oid == oid)
            return s->val;
    }
}

/*
 * Store val (not NULL) for oid and return the value it replaces in *old
 * (NULL if none). PGREPL_ENOMEM when the table had to grow and could not; the
 * map is then unchanged.
 */
int pgrepl__oidmap_put(pgrepl_oidmap *m, uint32_t oid, void *val, void **old);

/* Free every value (pgrepl__free) and empty the map; the slot array is kept. */
void pgrepl__oidmap_clear(pgrepl_oidmap *m);

/* Free every value and the slot array. */
void pgrepl__oidmap_free(pgrepl_oidmap *m);

/* A Relation message that has been validated; pointers into the payload. */
typedef struct pgrepl_relmsg {
    uint32_t xid;
    uint32_t oid;
    const char *schema;
    size_t schema_len;
    const char *name;
    size_t name_len;
    char replica_identity;
    int ncolumns;
    const uint8_t *columns; /* the ncolumns column descriptions, as on the wire */
    size_t columns_len;
} pgrepl_relmsg;

/*
 * Build the cache entry for a validated Relation message (taking type names
 * from the Type entries in types), store it in rels, free the entry it
 * replaces and return it in *out. PGREPL_ENOMEM leaves rels unchanged.
 */
int pgrepl__relcache_put(pgrepl_oidmap *rels, const pgrepl_oidmap *types, const pgrepl_relmsg *m,
                         const pgrepl_relation **out);

/*
 * Copy a Type message (strings pointing into the payload, with their lengths)
 * into the type cache, replacing any entry for its OID; the copy is returned
 * in *out. PGREPL_ENOMEM leaves types unchanged.
 */
int pgrepl__typecache_put(pgrepl_oidmap *types, const pgrepl_msg_type *t, size_t schema_len, size_t name_len,
                          const pgrepl_msg_type **out);

#endif
