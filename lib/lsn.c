#include <stdio.h>

#include "pgrepl/common.h"
#include "digits.h"

/* Reads 1..8 hex digits; returns the number of characters consumed, 0 on failure. */
static int parse_half(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    int n = 0;
    for (; pgrepl__hex_value(s[n]) >= 0; n++) {
        if (n == 8)
            return 0;
        v = (v << 4) | (uint32_t)pgrepl__hex_value(s[n]);
    }
    *out = v;
    return n;
}

int pgrepl_lsn_parse(const char *text, pgrepl_lsn *out)
{
    if (text == NULL || out == NULL)
        return PGREPL_EINVAL;
    uint32_t hi, lo;
    int n = parse_half(text, &hi);
    if (n == 0 || text[n] != '/')
        return PGREPL_EBADLSN;
    const char *rest = text + n + 1;
    int m = parse_half(rest, &lo);
    if (m == 0 || rest[m] != '\0')
        return PGREPL_EBADLSN;
    *out = ((pgrepl_lsn)hi << 32) | lo;
    return 0;
}

int pgrepl_lsn_format(pgrepl_lsn lsn, char buf[PGREPL_LSN_BUFSIZE])
{
    return snprintf(buf, PGREPL_LSN_BUFSIZE, "%X/%X", (unsigned)(lsn >> 32), (unsigned)(lsn & 0xffffffffu));
}
