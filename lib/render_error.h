/*
 * The thread's render message (pgrepl_render_errmsg): why the last value
 * function failed. Every renderer and typed reader sets it through these, so
 * that one buffer per thread holds it.
 */
#ifndef PGREPL_LIB_RENDER_ERROR_H
#define PGREPL_LIB_RENDER_ERROR_H

#include <stdint.h>

/* Empty the thread's message (a public entry point that succeeds leaves "" behind). */
void pgrepl__render_clear(void);

/* Set the thread's message and return PGREPL_EPROTOCOL. */
int pgrepl__render_bad(const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Set the thread's message for a type that cannot be rendered and return PGREPL_ENOTFOUND. */
int pgrepl__render_notfound(uint32_t oid);

#endif
