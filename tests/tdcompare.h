/*
 * tdcompare: render decoded pgoutput messages as the lines contrib/test_decoding
 * prints for the same WAL with the options include-xids 0, skip-empty-xacts 1
 * and include-timestamp 0 (and without stream-changes), so that pgrepl's
 * decoding of a walsender stream can be compared line by line with the
 * server's own decoding.
 *
 * What test_decoding does and this reproduces:
 *   table public.t: INSERT: id[integer]:1 v[text]:'it''s'
 *   table public.t: UPDATE: old-key: id[integer]:1 new-tuple: id[integer]:2 ...
 *   table public.t: DELETE: id[integer]:2          (old tuple, NULL columns left out)
 *   table public.a, public.b: TRUNCATE: restart_seqs cascade   (or "(no-flags)")
 *   message: transactional: 1 prefix: p, sz: 3 content:abc
 *   BEGIN / COMMIT / PREPARE TRANSACTION 'gid' / COMMIT PREPARED 'gid' / ROLLBACK PREPARED 'gid'
 * Type names are format_type_be()'s (no type modifier): pgrepl_type_name()
 * for built-in types, and for others the names given with tdc_set_type_name().
 * Values of integer, oid, float and numeric columns are printed bare, bool
 * as true/false, bit types as B'...', all others single-quoted with quotes
 * doubled; NULL is "null", an unchanged TOAST value "unchanged-toast-datum".
 * Identifiers are double-quoted unless made of lower-case letters, digits and
 * underscores (SQL keywords are not recognised: do not use them as names).
 *
 * skip-empty-xacts: BEGIN is printed before the first row change or truncate
 * of a transaction (or, from PostgreSQL 17 on, transactional message), and
 * COMMIT / PREPARE TRANSACTION only if it was printed. Streamed transactions are reassembled: each stream
 * block's contents are kept per top-level xid, Stream Abort drops what a
 * subtransaction (or the whole transaction) contributed, and Stream Commit /
 * Stream Prepare print the transaction where test_decoding prints it.
 * Non-transactional messages are printed when they arrive.
 *
 * In TDC_STRUCTURE mode every non-NULL, changed value prints as "value", so
 * that the streams of a text-mode and a binary-mode subscription render alike.
 *
 * Test code: plain malloc, aborts when out of memory.
 */
#ifndef PGREPL_TESTS_TDCOMPARE_H
#define PGREPL_TESTS_TDCOMPARE_H

#include <stddef.h>
#include <stdint.h>

#include "pgrepl/decode.h"

typedef enum tdc_mode {
    TDC_VALUES,    /* values as test_decoding prints them; binary values are an error */
    TDC_STRUCTURE, /* values as "value" */
} tdc_mode;

/* What the stream contained, before reassembly dropped anything. */
typedef struct tdc_stats {
    long messages[256];  /* per pgoutput message type byte */
    long old_tuples[256]; /* per old tuple kind: 'K', 'O' */
    long values[256];    /* per value kind: 'n', 'u', 't', 'b' (new and old tuples) */
    long truncate_both;  /* truncates with both CASCADE and RESTART IDENTITY */
    long whole_aborts;   /* Stream Abort with subxid == xid */
    long sub_aborts;     /* Stream Abort with subxid != xid */
} tdc_stats;

typedef struct tdcompare tdcompare;

/* Render as the test_decoding of PostgreSQL server_major does. */
tdcompare *tdc_new(tdc_mode mode, int server_major);
void tdc_free(tdcompare *t);

/* The name test_decoding prints for a type that is not built in (a copy is kept). */
void tdc_set_type_name(tdcompare *t, uint32_t oid, const char *name);

/* Decoder callbacks; the user data is the tdcompare. They fail (return -1) with tdc_error() set. */
extern const pgrepl_decoder_callbacks tdc_callbacks;

/* End of the stream: fails (-1, tdc_error() set) if a transaction or stream is left open. */
int tdc_finish(tdcompare *t);

/* The first failure of a callback or tdc_finish, or NULL. */
const char *tdc_error(const tdcompare *t);

size_t tdc_nlines(const tdcompare *t);
/* Line i (no newline); valid until tdc_free. */
const char *tdc_line(const tdcompare *t, size_t i);
const tdc_stats *tdc_get_stats(const tdcompare *t);

#endif
