/*
 * pgrepl/decode.h - the sans-I/O pgoutput decoder (protocol versions 1 to 4)
 * and the CopyBoth replication envelope.
 *
 * The decoder is fed one XLogData payload at a time (exactly one pgoutput
 * message) together with the XLogData header positions, and calls one
 * application callback for it. It owns a relation cache keyed by relation
 * OID, filled by Relation ('R') messages, so that change callbacks receive
 * the relation with its columns next to the tuple values.
 *
 * Lifetimes: every pointer inside a callback argument points either into the
 * payload that was fed (values, prefixes, names, gids: "spans") or into the
 * relation cache. Payload pointers are valid until the callback returns.
 * Relation pointers stay valid until the next Relation message for the same
 * OID, pgrepl_decoder_reset() or pgrepl_decoder_free().
 *
 * Strings (names, prefixes, gids) that come from the payload are
 * NUL-terminated in place, so they can be used as C strings.
 *
 * Threads: a decoder must be used by one thread at a time.
 * Allocation: only Relation and Type messages allocate, and growth of the
 * decoder's reusable scratch arrays; change messages never do once the
 * scratch arrays are as wide as the widest relation seen.
 */
#ifndef PGREPL_DECODE_H
#define PGREPL_DECODE_H

#include <pgrepl/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------
 * The CopyBoth envelope
 * ------------------------------------------------------------------------- */

/* Length of an XLogData ('w') header and of a primary keepalive ('k'). */
#define PGREPL_XLOGDATA_HEADER_SIZE 25
#define PGREPL_KEEPALIVE_SIZE 18
/* Length of a standby status update ('r') the client sends. */
#define PGREPL_STATUS_UPDATE_SIZE 34

/* One CopyData message from the server, parsed. */
typedef struct pgrepl_copydata {
    char kind;                  /* 'w' (XLogData) or 'k' (primary keepalive) */
    pgrepl_lsn wal_start;       /* 'w': dataStart; 'k': 0 */
    pgrepl_lsn wal_end;         /* 'w': walEnd; 'k': walEnd (end of WAL decoded so far) */
    pgrepl_timestamp send_time; /* server clock when sent */
    bool reply_requested;       /* 'k' only: the server wants a status update now */
    const uint8_t *data;        /* 'w' only: the pgoutput message (span into the input) */
    size_t len;                 /* length of data */
} pgrepl_copydata;

/*
 * Parse one CopyData payload from the server. 'w' needs at least the 25-byte
 * header (the payload may be empty); 'k' must be exactly 18 bytes.
 * Returns 0, PGREPL_ETRUNCATED, PGREPL_ETRAILING ('k' longer than 18 bytes),
 * PGREPL_EUNKNOWNMSG (another first byte, or an empty buffer) or
 * PGREPL_EINVAL (NULL out, or NULL buf with len > 0). out->data points into buf.
 */
PGREPL_EXTERN int pgrepl_copydata_parse(const void *buf, size_t len, pgrepl_copydata *out);

/*
 * Encode a standby status update ('r'): write, flush and apply positions,
 * the client's clock and whether the server should answer at once.
 * Writes exactly PGREPL_STATUS_UPDATE_SIZE bytes to out and returns that size.
 */
PGREPL_EXTERN size_t pgrepl_status_update_encode(uint8_t out[PGREPL_STATUS_UPDATE_SIZE], pgrepl_lsn write,
                                                 pgrepl_lsn flush, pgrepl_lsn apply, pgrepl_timestamp now,
                                                 bool reply_requested);

/* Current time as a protocol timestamp (CLOCK_REALTIME). */
PGREPL_EXTERN pgrepl_timestamp pgrepl_now(void);

/* ---------------------------------------------------------------------------
 * Decoded messages
 * ------------------------------------------------------------------------- */

/* The XLogData header of the message being decoded. */
typedef struct pgrepl_wal {
    pgrepl_lsn start;           /* XLogData dataStart (0/0 for Relation and Type) */
    pgrepl_lsn end;             /* XLogData walEnd */
    pgrepl_timestamp send_time; /* XLogData sendTime */
} pgrepl_wal;

/* Column flag: the column is part of the replica identity key. */
#define PGREPL_COLUMN_KEY 0x01

typedef struct pgrepl_column {
    const char *name;        /* column name */
    uint32_t type_oid;       /* pg_type OID of the column */
    int32_t typmod;          /* atttypmod, -1 for none */
    uint8_t flags;           /* PGREPL_COLUMN_KEY */
    /*
     * For a column whose type is not built in (OID >= 10000): the namespace
     * and name from the Type ('Y') message recorded for type_oid before the
     * Relation arrived ("" namespace replaced by "pg_catalog"); NULL when no
     * Type message was seen for it. For a domain, pgoutput sends the base
     * type's name under the domain's OID.
     */
    const char *type_schema;
    const char *type_name;
} pgrepl_column;

/* A cached relation, as described by the latest Relation message for its OID. */
typedef struct pgrepl_relation {
    uint32_t oid;
    const char *schema;            /* namespace; "pg_catalog" where pgoutput sent "" */
    const char *name;              /* relation name */
    char replica_identity;         /* 'd' default, 'n' nothing, 'f' full, 'i' index */
    int ncolumns;                  /* number of published columns */
    const pgrepl_column *columns;  /* ncolumns entries, in the order tuples use */
    uint32_t xid;                  /* xid prefix when sent inside a stream block, else 0 */
} pgrepl_relation;

/* Kinds of a TupleData column. */
#define PGREPL_VALUE_NULL 'n'
#define PGREPL_VALUE_UNCHANGED 'u' /* unchanged TOAST value, not sent */
#define PGREPL_VALUE_TEXT 't'      /* type's text output, not NUL-terminated */
#define PGREPL_VALUE_BINARY 'b'    /* type's binary send format */

typedef struct pgrepl_value {
    char kind;           /* PGREPL_VALUE_* */
    uint32_t len;        /* bytes at data ('t' and 'b'; 0 otherwise) */
    const uint8_t *data; /* span into the payload ('t' and 'b'; NULL otherwise) */
} pgrepl_value;

typedef struct pgrepl_tuple {
    int ncolumns;                /* always equal to the relation's ncolumns */
    const pgrepl_value *values;  /* one per column, in relation column order */
} pgrepl_tuple;

typedef struct pgrepl_msg_begin {
    pgrepl_wal wal;
    pgrepl_lsn final_lsn;         /* start LSN of the commit record */
    pgrepl_timestamp commit_time;
    uint32_t xid;
} pgrepl_msg_begin;

/* Commit ('C') and Stream Commit ('c'). */
typedef struct pgrepl_msg_commit {
    pgrepl_wal wal;
    uint8_t flags;                /* always 0 today */
    pgrepl_lsn commit_lsn;        /* start of the commit record */
    pgrepl_lsn end_lsn;           /* end of the commit record: the position to acknowledge */
    pgrepl_timestamp commit_time;
    uint32_t xid;                 /* 'c': from the message; 'C': the xid of the Begin, or 0 */
} pgrepl_msg_commit;

typedef struct pgrepl_msg_origin {
    pgrepl_wal wal;
    pgrepl_lsn origin_lsn;
    const char *name;
} pgrepl_msg_origin;

/* Type ('Y'): recorded in the decoder before the callback runs. */
typedef struct pgrepl_msg_type {
    pgrepl_wal wal;
    uint32_t xid;       /* xid prefix inside a stream block, else 0 */
    uint32_t oid;
    const char *schema; /* "pg_catalog" where pgoutput sent "" */
    const char *name;
} pgrepl_msg_type;

/* Insert ('I'), Update ('U') and Delete ('D'). */
typedef struct pgrepl_msg_change {
    pgrepl_wal wal;
    uint32_t xid;                   /* stream block: the xid prefix (may be a subtransaction);
                                       otherwise the xid of the enclosing Begin / Begin Prepare, or 0 */
    bool streamed;                  /* true inside a Stream Start ... Stream Stop block */
    const pgrepl_relation *rel;
    char old_kind;                  /* 'K' (old key only), 'O' (whole old row) or 0 (none) */
    const pgrepl_tuple *old_tuple;  /* NULL when old_kind is 0 */
    const pgrepl_tuple *new_tuple;  /* NULL for Delete */
} pgrepl_msg_change;

#define PGREPL_TRUNCATE_CASCADE 0x01
#define PGREPL_TRUNCATE_RESTART_IDENTITY 0x02

typedef struct pgrepl_msg_truncate {
    pgrepl_wal wal;
    uint32_t xid;
    bool streamed;
    uint8_t options;                       /* PGREPL_TRUNCATE_* bits */
    int nrelations;
    const pgrepl_relation *const *relations; /* nrelations entries */
} pgrepl_msg_truncate;

/* Logical decoding message ('M'), from pg_logical_emit_message(). */
typedef struct pgrepl_msg_logical {
    pgrepl_wal wal;
    uint32_t xid;            /* transactional: as for changes; non-transactional: 0 */
    bool streamed;
    bool transactional;
    pgrepl_lsn lsn;          /* end of the message's WAL record */
    const char *prefix;      /* NUL-terminated, in the payload */
    const uint8_t *content;  /* span into the payload, not NUL-terminated */
    uint32_t content_len;
} pgrepl_msg_logical;

typedef struct pgrepl_msg_stream_start {
    pgrepl_wal wal;
    uint32_t xid;
    bool first_segment;
} pgrepl_msg_stream_start;

typedef struct pgrepl_msg_stream_stop {
    pgrepl_wal wal;
    uint32_t xid;            /* xid of the block being closed */
} pgrepl_msg_stream_stop;

typedef struct pgrepl_msg_stream_abort {
    pgrepl_wal wal;
    uint32_t xid;            /* top-level transaction */
    uint32_t subxid;         /* equal to xid when the whole transaction aborts */
    bool has_abort_info;     /* abort_lsn / abort_time present (streaming = parallel) */
    pgrepl_lsn abort_lsn;
    pgrepl_timestamp abort_time;
} pgrepl_msg_stream_abort;

/* Begin Prepare ('b'), Prepare ('P') and Stream Prepare ('p'). */
typedef struct pgrepl_msg_prepare {
    pgrepl_wal wal;
    uint8_t flags;               /* always 0 ('b' has none) */
    pgrepl_lsn prepare_lsn;      /* start of the PREPARE record */
    pgrepl_lsn end_lsn;          /* end of the PREPARE record */
    pgrepl_timestamp prepare_time;
    uint32_t xid;
    const char *gid;
} pgrepl_msg_prepare;

typedef struct pgrepl_msg_commit_prepared {
    pgrepl_wal wal;
    uint8_t flags;
    pgrepl_lsn commit_lsn;       /* start of the COMMIT PREPARED record */
    pgrepl_lsn end_lsn;          /* its end: the position to acknowledge */
    pgrepl_timestamp commit_time;
    uint32_t xid;
    const char *gid;
} pgrepl_msg_commit_prepared;

typedef struct pgrepl_msg_rollback_prepared {
    pgrepl_wal wal;
    uint8_t flags;
    pgrepl_lsn prepare_end_lsn;  /* end of the original PREPARE record */
    pgrepl_lsn rollback_end_lsn; /* end of the ROLLBACK PREPARED record: the position to acknowledge */
    pgrepl_timestamp prepare_time;
    pgrepl_timestamp rollback_time;
    uint32_t xid;
    const char *gid;
} pgrepl_msg_rollback_prepared;

/*
 * Callbacks, one per message type. Any may be NULL (the message is still
 * decoded and validated). Each returns 0 to continue, PGREPL_PAUSE to ask
 * the feeder to stop after this message (pgrepl_decoder_feed returns
 * PGREPL_PAUSE), or anything else to fail (pgrepl_decoder_feed returns
 * PGREPL_ECALLBACK). New members are only ever appended; the decoder reads
 * only the members that fit in the size passed to pgrepl_decoder_new().
 */
typedef struct pgrepl_decoder_callbacks {
    int (*on_begin)(void *ud, const pgrepl_msg_begin *m);
    int (*on_commit)(void *ud, const pgrepl_msg_commit *m);
    int (*on_origin)(void *ud, const pgrepl_msg_origin *m);
    int (*on_relation)(void *ud, const pgrepl_relation *rel);
    int (*on_type)(void *ud, const pgrepl_msg_type *m);
    int (*on_insert)(void *ud, const pgrepl_msg_change *m);
    int (*on_update)(void *ud, const pgrepl_msg_change *m);
    int (*on_delete)(void *ud, const pgrepl_msg_change *m);
    int (*on_truncate)(void *ud, const pgrepl_msg_truncate *m);
    int (*on_message)(void *ud, const pgrepl_msg_logical *m);
    int (*on_stream_start)(void *ud, const pgrepl_msg_stream_start *m);
    int (*on_stream_stop)(void *ud, const pgrepl_msg_stream_stop *m);
    int (*on_stream_commit)(void *ud, const pgrepl_msg_commit *m);
    int (*on_stream_abort)(void *ud, const pgrepl_msg_stream_abort *m);
    int (*on_begin_prepare)(void *ud, const pgrepl_msg_prepare *m);
    int (*on_prepare)(void *ud, const pgrepl_msg_prepare *m);
    int (*on_commit_prepared)(void *ud, const pgrepl_msg_commit_prepared *m);
    int (*on_rollback_prepared)(void *ud, const pgrepl_msg_rollback_prepared *m);
    int (*on_stream_prepare)(void *ud, const pgrepl_msg_prepare *m);
} pgrepl_decoder_callbacks;

/*
 * The callbacks above as one list, for code that treats them all alike: a
 * wrapper that counts or forwards every message type, a table that must set
 * every member. X(tag, member, type) is expanded once per callback, in member
 * order: the pgoutput message type byte ('B'), the member of
 * pgrepl_decoder_callbacks (on_begin) and the type its callback receives a
 * const pointer to (pgrepl_msg_begin). Entries are appended with the members;
 * X's three arguments never change. Code generated from the list covers a
 * callback added later when it is compiled again; a table that names
 * hand-written functions after the members stops compiling until the new
 * function exists, which is the point of using it there.
 *
 * Counting the messages of each type:
 *
 *     #define COUNT(tag, member, type)                                        \
 *         static int count_##member(void *ud, const type *m)                  \
 *         {                                                                   \
 *             (void)m;                                                        \
 *             ((unsigned long *)ud)[(unsigned char)(tag)]++;                  \
 *             return 0;                                                       \
 *         }
 *     PGREPL_DECODER_CALLBACKS(COUNT)
 *     #undef COUNT
 *
 *     #define SET(tag, member, type) .member = count_##member,
 *     static const pgrepl_decoder_callbacks counting = {PGREPL_DECODER_CALLBACKS(SET)};
 *     #undef SET
 *
 *     static unsigned long counts[256];
 *     pgrepl_decoder *dec = pgrepl_decoder_new(&counting, sizeof counting, counts);
 */
#define PGREPL_DECODER_CALLBACKS(X)                                                                                    \
    X('B', on_begin, pgrepl_msg_begin)                                                                                 \
    X('C', on_commit, pgrepl_msg_commit)                                                                               \
    X('O', on_origin, pgrepl_msg_origin)                                                                               \
    X('R', on_relation, pgrepl_relation)                                                                               \
    X('Y', on_type, pgrepl_msg_type)                                                                                   \
    X('I', on_insert, pgrepl_msg_change)                                                                               \
    X('U', on_update, pgrepl_msg_change)                                                                               \
    X('D', on_delete, pgrepl_msg_change)                                                                               \
    X('T', on_truncate, pgrepl_msg_truncate)                                                                           \
    X('M', on_message, pgrepl_msg_logical)                                                                             \
    X('S', on_stream_start, pgrepl_msg_stream_start)                                                                   \
    X('E', on_stream_stop, pgrepl_msg_stream_stop)                                                                     \
    X('c', on_stream_commit, pgrepl_msg_commit)                                                                        \
    X('A', on_stream_abort, pgrepl_msg_stream_abort)                                                                   \
    X('b', on_begin_prepare, pgrepl_msg_prepare)                                                                       \
    X('P', on_prepare, pgrepl_msg_prepare)                                                                             \
    X('K', on_commit_prepared, pgrepl_msg_commit_prepared)                                                             \
    X('r', on_rollback_prepared, pgrepl_msg_rollback_prepared)                                                         \
    X('p', on_stream_prepare, pgrepl_msg_prepare)

typedef struct pgrepl_decoder pgrepl_decoder;

/*
 * Create a decoder. cbs may be NULL (decode and validate only); it is copied,
 * so it need not outlive the call. cbs_size is sizeof(*cbs) as compiled by
 * the caller. ud is passed to every callback.
 * Returns NULL when out of memory or when cbs_size is larger than this
 * library's callback struct (compiled against a newer header).
 */
PGREPL_EXTERN pgrepl_decoder *pgrepl_decoder_new(const pgrepl_decoder_callbacks *cbs, size_t cbs_size, void *ud);

/* Free the decoder and its relation cache. NULL is allowed. Not from inside one of its callbacks. */
PGREPL_EXTERN void pgrepl_decoder_free(pgrepl_decoder *dec);

/*
 * Forget the relation and type caches and the stream/transaction state, as
 * needed after reconnecting (the server re-sends Relation messages).
 * Not from inside one of its callbacks.
 */
PGREPL_EXTERN void pgrepl_decoder_reset(pgrepl_decoder *dec);

/*
 * Decode one pgoutput message (an XLogData payload) and call its callback.
 * wal is the XLogData header (NULL means all zero).
 *
 * Returns 0, PGREPL_PAUSE (the callback asked to pause), or an error:
 * PGREPL_ETRUNCATED, PGREPL_ETRAILING, PGREPL_EUNKNOWNMSG, PGREPL_ETUPLEKIND,
 * PGREPL_ECOLUMNS, PGREPL_ERELATION, PGREPL_ELENGTH, PGREPL_EPROTOCOL,
 * PGREPL_ECALLBACK, PGREPL_ENOMEM, PGREPL_EINVAL (NULL dec, NULL data with
 * len > 0, or called from inside one of its own callbacks).
 * On error no callback has been called for the message (except for
 * PGREPL_ECALLBACK), pgrepl_decoder_errmsg() names the message type and the
 * byte offset, and the decoder stays usable: a malformed message does not
 * change the caches, and a message that was rejected did not change the
 * stream state.
 */
PGREPL_EXTERN int pgrepl_decoder_feed(pgrepl_decoder *dec, const pgrepl_wal *wal, const void *data, size_t len);

/*
 * Description of the last error of pgrepl_decoder_feed, e.g.
 * "Update ('U') message: tuple column count 3 differs from relation public.t (4 columns) at offset 6".
 * "" when the last feed succeeded. Valid until the next feed, reset or free.
 */
PGREPL_EXTERN const char *pgrepl_decoder_errmsg(const pgrepl_decoder *dec);

/* Byte offset in the payload at which the last error was detected (0 if none). */
PGREPL_EXTERN size_t pgrepl_decoder_error_offset(const pgrepl_decoder *dec);

/* Type byte of the message that failed last (0 if none or an empty payload). */
PGREPL_EXTERN char pgrepl_decoder_error_msgtype(const pgrepl_decoder *dec);

/* Cached relation for oid, or NULL. Valid as described at the top of this file. */
PGREPL_EXTERN const pgrepl_relation *pgrepl_decoder_relation(const pgrepl_decoder *dec, uint32_t oid);

/* Cached Type message for oid, or NULL. Valid until the next Type message for oid, reset or free. */
PGREPL_EXTERN const pgrepl_msg_type *pgrepl_decoder_type(const pgrepl_decoder *dec, uint32_t oid);

/* True while between Stream Start and Stream Stop. */
PGREPL_EXTERN bool pgrepl_decoder_in_stream(const pgrepl_decoder *dec);

/* Human name of a pgoutput message type byte ("Begin", "Stream Abort", ...), or "unknown". */
PGREPL_EXTERN const char *pgrepl_message_type_name(char type);

#ifdef __cplusplus
}
#endif

#endif /* PGREPL_DECODE_H */
