/* Internal allocation through the allocator set by pgrepl_set_allocator(). */
#ifndef PGREPL_LIB_ALLOC_H
#define PGREPL_LIB_ALLOC_H

#include <stddef.h>

void *pgrepl__malloc(size_t size);
void *pgrepl__calloc(size_t n, size_t size);
void *pgrepl__realloc(void *ptr, size_t size);
void pgrepl__free(void *ptr);
/* Copy of len bytes plus a NUL; NULL when out of memory. */
char *pgrepl__strndup(const char *s, size_t len);

#endif
