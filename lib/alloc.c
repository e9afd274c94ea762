#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pgrepl/common.h"
#include "alloc.h"

static pgrepl_allocator current = {malloc, realloc, free};

void pgrepl_set_allocator(const pgrepl_allocator *alloc)
{
    if (alloc == NULL || alloc->malloc_fn == NULL || alloc->realloc_fn == NULL || alloc->free_fn == NULL) {
        current.malloc_fn = malloc;
        current.realloc_fn = realloc;
        current.free_fn = free;
        return;
    }
    current = *alloc;
}

void *pgrepl__malloc(size_t size)
{
    return current.malloc_fn(size ? size : 1);
}

void *pgrepl__calloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    void *p = pgrepl__malloc(n * size);
    if (p != NULL)
        memset(p, 0, n * size);
    return p;
}

void *pgrepl__realloc(void *ptr, size_t size)
{
    return current.realloc_fn(ptr, size ? size : 1);
}

void pgrepl__free(void *ptr)
{
    if (ptr != NULL)
        current.free_fn(ptr);
}

char *pgrepl__strndup(const char *s, size_t len)
{
    char *p = pgrepl__malloc(len + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}
