#include <stdint.h>

#include "alloc.h"
#include "buf.h"

void pgrepl_buf_init(pgrepl_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void pgrepl_buf_free(pgrepl_buf *b)
{
    pgrepl__free(b->data);
    pgrepl_buf_init(b);
}

int pgrepl_buf_reserve(pgrepl_buf *b, size_t n)
{
    /* cap counts the NUL, so len + n + 1 bytes are needed. */
    if (b->cap > b->len && b->cap - b->len > n)
        return 0;
    if (n > SIZE_MAX / 2 - b->len - 1)
        return PGREPL_ENOMEM;
    size_t need = b->len + n + 1;
    size_t cap = b->cap < 64 ? 64 : b->cap;
    while (cap < need)
        cap *= 2;
    char *data = pgrepl__realloc(b->data, cap);
    if (data == NULL)
        return PGREPL_ENOMEM;
    b->data = data;
    b->cap = cap;
    b->data[b->len] = '\0';
    return 0;
}

int pgrepl_buf_append(pgrepl_buf *b, const void *data, size_t n)
{
    char *w = pgrepl__buf_room(b, n);
    if (w == NULL)
        return PGREPL_ENOMEM;
    if (n > 0)
        memcpy(w, data, n);
    pgrepl__buf_used(b, n);
    return 0;
}
