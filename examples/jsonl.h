/*
 * jsonl - decoded pgoutput messages rendered as JSON lines in the shape of
 * wal2json's format-version 2 (docs/output-format.md), for pgrepl-stream.
 *
 * Pure: every function renders into the writer's memory buffer, which the
 * caller writes out (jl_data / jl_len) and empties (jl_clear). Nothing here
 * does I/O. Allocation happens only when a buffer grows or a Relation
 * arrives; rendering a change allocates nothing once the buffers are as
 * large as the largest line.
 *
 * Transactions are printed as they arrive: a B line just before the first
 * line of its transaction (a transaction with nothing published prints
 * nothing), each change, message and truncated table as its own line, and a
 * C line at the commit. Streamed transactions print S/E around each block,
 * A for an abort and C at the Stream Commit. Two-phase transactions print
 * b (Begin Prepare), P (Prepare), K (Commit Prepared), r (Rollback Prepared)
 * and p (Stream Prepare).
 *
 * Strings are escaped per RFC 8259: quote, backslash and control characters
 * (\b \f \n \r \t, the others as \u00XX); valid UTF-8 passes through; a byte
 * sequence that is not valid UTF-8 is replaced by U+FFFD, one for each
 * maximal invalid subsequence (as Unicode recommends), so every line is
 * valid UTF-8.
 *
 * Every event function returns 0, PGREPL_ENOMEM, or an error from
 * pgrepl_value_to_text() for a binary value that cannot be rendered
 * (jl_errmsg() says which column). On error the partial line is removed.
 */
#ifndef PGREPL_EXAMPLES_JSONL_H
#define PGREPL_EXAMPLES_JSONL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pgrepl/pgrepl.h>

typedef struct jl_writer jl_writer;

typedef struct jl_stats {
    uint64_t lines;        /* lines rendered */
    uint64_t changes;      /* I, U, D and T lines */
    uint64_t transactions; /* C and K lines */
    uint64_t messages;     /* M lines */
    uint64_t bytes;        /* bytes rendered */
} jl_stats;

/* A writer with an empty buffer, or NULL when out of memory. */
jl_writer *jl_new(void);
void jl_free(jl_writer *w);
/* Forget relations and open transactions (after a reconnect); the buffer is kept. */
void jl_reset(jl_writer *w);

/* The rendered lines not yet taken; jl_clear empties the buffer. */
const char *jl_data(const jl_writer *w);
size_t jl_len(const jl_writer *w);
void jl_clear(jl_writer *w);
/* Drop the buffered output after its first len bytes (len <= jl_len). */
void jl_rewind(jl_writer *w, size_t len);
const jl_stats *jl_get_stats(const jl_writer *w);
/* Why the last event failed ("" if none). */
const char *jl_errmsg(const jl_writer *w);
/* True between a Begin (or Begin Prepare) and its Commit (or Prepare). */
bool jl_in_transaction(const jl_writer *w);

int jl_relation(jl_writer *w, const pgrepl_relation *rel);
int jl_begin(jl_writer *w, const pgrepl_msg_begin *m);
int jl_commit(jl_writer *w, const pgrepl_msg_commit *m);
/* Insert ('I'), Update ('U') or Delete ('D'). */
int jl_change(jl_writer *w, char action, const pgrepl_msg_change *m);
int jl_truncate(jl_writer *w, const pgrepl_msg_truncate *m);
int jl_message(jl_writer *w, const pgrepl_msg_logical *m);
int jl_stream_start(jl_writer *w, const pgrepl_msg_stream_start *m);
int jl_stream_stop(jl_writer *w, const pgrepl_msg_stream_stop *m);
int jl_stream_commit(jl_writer *w, const pgrepl_msg_commit *m);
int jl_stream_abort(jl_writer *w, const pgrepl_msg_stream_abort *m);
int jl_begin_prepare(jl_writer *w, const pgrepl_msg_prepare *m);
int jl_prepare(jl_writer *w, const pgrepl_msg_prepare *m);
int jl_stream_prepare(jl_writer *w, const pgrepl_msg_prepare *m);
int jl_commit_prepared(jl_writer *w, const pgrepl_msg_commit_prepared *m);
int jl_rollback_prepared(jl_writer *w, const pgrepl_msg_rollback_prepared *m);

/*
 * Append s (n bytes) to out as a quoted JSON string, escaped as described
 * above. out must have room for 6 * n + 2 bytes. Returns the bytes written.
 */
size_t jl_escape(char *out, const uint8_t *s, size_t n);

/* True when s (n bytes) is a number in RFC 8259 syntax. */
bool jl_is_json_number(const uint8_t *s, size_t n);

/* Format lsn as PostgreSQL prints pg_lsn ("16/B374D848") into out (17 bytes); returns the length. */
size_t jl_format_lsn(char *out, pgrepl_lsn lsn);

#endif
