/*
 * pgrepl/pgrepl.h - umbrella header: include this one.
 */
#ifndef PGREPL_PGREPL_H
#define PGREPL_PGREPL_H

#include <pgrepl/common.h>
#include <pgrepl/decode.h>
#include <pgrepl/stream.h>
#include <pgrepl/types.h>
#include <pgrepl/values.h>
#include <pgrepl/version.h>

#endif /* PGREPL_PGREPL_H */
