#include <stdarg.h>
#include <stdio.h>

#include "pgrepl/values.h"
#include "render_error.h"

static _Thread_local char errmsg[256];

const char *pgrepl_render_errmsg(void)
{
    return errmsg;
}

void pgrepl__render_clear(void)
{
    errmsg[0] = '\0';
}

int pgrepl__render_bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, sizeof errmsg, fmt, ap);
    va_end(ap);
    return PGREPL_EPROTOCOL;
}

int pgrepl__render_notfound(uint32_t oid)
{
    snprintf(errmsg, sizeof errmsg, "type %u cannot be rendered: not a built-in type, or its text needs the catalog",
             (unsigned)oid);
    return PGREPL_ENOTFOUND;
}
