/*
 * pgrepl/pgrepl.h - umbrella header: include this one (and pgrepl/uv.h for
 * the libuv binding, which this one leaves out so that it pulls in no <uv.h>).
 */
#ifndef PGREPL_PGREPL_H
#define PGREPL_PGREPL_H

#include <pgrepl/common.h>
#include <pgrepl/decode.h>
#include <pgrepl/session.h>
#include <pgrepl/types.h>
#include <pgrepl/values.h>
#include <pgrepl/version.h>

#endif /* PGREPL_PGREPL_H */
