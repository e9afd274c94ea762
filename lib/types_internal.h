/* Internal queries on the built-in type table of types.c. */
#ifndef PGREPL_LIB_TYPES_INTERNAL_H
#define PGREPL_LIB_TYPES_INTERNAL_H

#include <stdint.h>

/* Element type of a built-in array type ("integer[]" -> int4), or 0 when oid is not one. */
uint32_t pgrepl__type_elem(uint32_t oid);

#endif
