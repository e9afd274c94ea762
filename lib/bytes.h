/* Big-endian reads of bytes known to be there: no bounds, no cursor (wire.h checks; these do not). */
#ifndef PGREPL_LIB_BYTES_H
#define PGREPL_LIB_BYTES_H

#include <stdint.h>

static inline uint16_t pgrepl__rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t pgrepl__rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint64_t pgrepl__rd64(const uint8_t *p)
{
    return ((uint64_t)pgrepl__rd32(p) << 32) | pgrepl__rd32(p + 4);
}

#endif
