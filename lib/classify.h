/*
 * Whether a failure is worth retrying, and what an operator can do about
 * it; the check the stream runs before START_REPLICATION; and the delay
 * before the next attempt. Pure functions of texts, SQLSTATEs and numbers
 * (protocol.md section 7): no I/O.
 *
 * Server errors are judged by SQLSTATE first. Message texts only refine a
 * few SQLSTATEs that mix permanent and passing conditions (55000) or choose
 * the hint, and they are matched in English: with a server or libpq that
 * speaks another language the SQLSTATE's default applies and the hint is
 * more general.
 */
#ifndef PGREPL_LIB_CLASSIFY_H
#define PGREPL_LIB_CLASSIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "str.h"

typedef struct pgrepl_verdict {
    bool fatal;       /* retrying the same configuration cannot help */
    const char *hint; /* static: what an operator can do, or NULL */
} pgrepl_verdict;

/* An error the server sent: its SQLSTATE (not "") and primary message. */
pgrepl_verdict pgrepl__classify_server(const char *sqlstate, const char *message);

/* Hints for what the check before streaming finds. */
extern const char pgrepl__hint_publication[];
extern const char pgrepl__hint_invalidated[];
extern const char pgrepl__hint_other_database[];
extern const char pgrepl__hint_publication_recreated[];
extern const char pgrepl__hint_beyond_wal[];
extern const char pgrepl__hint_gap[];

/*
 * A connection that failed without a server error, from libpq's text:
 * refused, unreachable, a missing socket or a lost connection are passing;
 * an unknown host name (but not a temporary resolver failure), a missing
 * password and an invalid connection option are not.
 */
pgrepl_verdict pgrepl__classify_libpq(const char *text);

/*
 * The check before START_REPLICATION, one row:
 *   0  the configured publications that do not exist, as quote_ident()
 *      names joined by ", " in the configured order; NULL when all exist
 *   1  "t" when the slot exists
 *   2  the slot's wal_status
 *   3  conflicting (16+, else NULL)
 *   4  invalidation_reason (17+, else NULL)
 *   5  the slot's type ("logical", "physical")
 *   6  the slot's database (NULL for a physical slot)
 *   7  the connection's database
 *   8  the slot's confirmed_flush_lsn
 * PostgreSQL 14-17 would fail on a missing publication only when the first
 * change is decoded, and 18 only warns and skips the changes.
 */
enum { PGREPL_CHECK_MISSING_PUBS, PGREPL_CHECK_SLOT_EXISTS, PGREPL_CHECK_WAL_STATUS, PGREPL_CHECK_CONFLICTING,
       PGREPL_CHECK_INVALIDATION, PGREPL_CHECK_SLOT_TYPE, PGREPL_CHECK_SLOT_DATABASE, PGREPL_CHECK_DATABASE,
       PGREPL_CHECK_CONFIRMED, PGREPL_CHECK_COLUMNS };

int pgrepl__check_sql(pgrepl_str *out, int server_version, const char *slot, const char *const *pubs, int npubs);

/*
 * Why a slot is invalidated, from the columns above (NULL for a column the
 * server lacks or that is NULL); NULL when it is usable. 17+ names the
 * reason; 16 sets conflicting for any invalidation without saying which;
 * 14 and 15 know one cause, removed WAL, shown as wal_status lost.
 */
const char *pgrepl__slot_invalidation(const char *wal_status, const char *conflicting, const char *reason);

/*
 * Delay before reconnection attempt number attempt (1 for the first after a
 * failure): drawn uniformly from [min_ms, min(max_ms, min_ms * 2^attempt)]
 * using rnd (any 64-bit random value). Full jitter above a floor: it spreads
 * clients that failed together, and never retries sooner than min_ms.
 */
uint64_t pgrepl__backoff_ms(uint64_t min_ms, uint64_t max_ms, unsigned attempt, uint64_t rnd);

/* The next value of a xorshift64* generator; *state must not be 0. */
uint64_t pgrepl__random_next(uint64_t *state);

#endif
