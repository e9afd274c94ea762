/*
 * Sans-I/O reader of the backend messages of a copy stream: bytes in,
 * messages out. It never touches a socket or libpq; its owner reads.
 *
 * The owner asks for room (pgrepl__copyreader_room), reads into it, says how
 * many bytes arrived (pgrepl__copyreader_received), then takes messages
 * (pgrepl__copyreader_next) until MORE. Bytes that are already in memory go
 * in through pgrepl__copyreader_feed, which copies what fits.
 *
 * Each message is handed out in place, as a span of the input buffer: no
 * allocation or copy per message. The buffer grows only with bytes received,
 * never by what a header claims (a 5-byte header can claim 1 GB): it starts
 * at PGREPL_COPYREADER_INBUF, and grows only when it is nearly full of one
 * message longer than itself, to at most twice what arrived of that message.
 * Once empty it shrinks back to the initial size. Complete messages are taken
 * before more room is given: the room is 0 while they fill the buffer.
 *
 * A header is checked as soon as its 5 bytes are in, so that nothing waits
 * for, or is sized by, a length that cannot be: a length below 4 or a body
 * above the limit of its type (PGREPL_COPYREADER_MAX_COPYDATA for CopyData,
 * PGREPL_COPYREADER_MAX_OTHER for any other message) is an error, after the
 * messages complete before it. The error sticks.
 *
 * Which message may come when (CopyData only inside the copy, ...) is the
 * owner's business: the reader frames, it does not judge types.
 */
#ifndef PGREPL_LIB_COPYREADER_H
#define PGREPL_LIB_COPYREADER_H

#include <stddef.h>
#include <stdint.h>

#include "bytes.h"

/* The input buffer starts at this size, and shrinks back to it once empty (the fuzz build makes it small). */
#ifndef PGREPL_COPYREADER_INBUF
#define PGREPL_COPYREADER_INBUF (64u * 1024u)
#endif
/* Largest body accepted: CopyData (the server's own limit is 1 GB), any other message. */
#define PGREPL_COPYREADER_MAX_COPYDATA ((size_t)0x40000000 + 64u)
#define PGREPL_COPYREADER_MAX_OTHER ((size_t)1 << 20)

typedef enum pgrepl_copyreader_result {
    PGREPL_COPYREADER_MORE = 1, /* no complete message: more bytes are needed */
    PGREPL_COPYREADER_MESSAGE,  /* one complete message in the pgrepl_copymsg */
    PGREPL_COPYREADER_ERROR     /* the bytes are not the protocol: pgrepl__copyreader_error says how */
} pgrepl_copyreader_result;

typedef enum pgrepl_copyreader_error {
    PGREPL_COPYREADER_OK = 0,
    PGREPL_COPYREADER_EBADLENGTH, /* a header's length is below the 4 bytes of the length itself */
    PGREPL_COPYREADER_EOVERSIZED  /* a header announces more than its type may have */
} pgrepl_copyreader_error;

/* One message: its type byte and body (the length word excluded), in the reader's buffer. */
typedef struct pgrepl_copymsg {
    char type;
    const char *body;
    size_t len;
} pgrepl_copymsg;

/* Owned by the reader; its owner reaches it through the functions below only. */
typedef struct pgrepl_copyreader {
    char *buf;
    size_t cap, start, end; /* unread bytes are buf[start, end) */
    pgrepl_copyreader_error error;
    char errmsg[160];
} pgrepl_copyreader;

/* An empty reader; it allocates nothing until room is asked for. */
void pgrepl__copyreader_init(pgrepl_copyreader *r);

/* Free the buffer; the reader is empty again, as after _init (an error is forgotten). */
void pgrepl__copyreader_free(pgrepl_copyreader *r);

/*
 * Room to read into: *at and *room (0 while complete messages fill the
 * buffer, or after an error: take messages first). May move the unread bytes
 * or the buffer: spans handed out before are then gone. Returns 0, or
 * PGREPL_ENOMEM when the buffer could not be made or grown (*room is then 0
 * and the reader unchanged but for an emptied buffer's release: asking again
 * may succeed).
 */
int pgrepl__copyreader_room(pgrepl_copyreader *r, char **at, size_t *room);

/* n bytes (at most the last room given) were written at the last *at. */
void pgrepl__copyreader_received(pgrepl_copyreader *r, size_t n);

/*
 * Copy as many of the len bytes as there is room for (see _room) and set
 * *taken to their number, which is less than len when complete messages must
 * be taken first. Returns 0, or PGREPL_ENOMEM when the buffer could not be
 * made or grown for more (*taken still counts the bytes copied before that).
 * Spans handed out before are gone, as after _room.
 */
int pgrepl__copyreader_feed(pgrepl_copyreader *r, const void *bytes, size_t len, size_t *taken);

/* pgrepl__copyreader_next for all but a complete message of at most PGREPL_COPYREADER_MAX_OTHER bytes. */
pgrepl_copyreader_result pgrepl__copyreader_next_slow(pgrepl_copyreader *r, pgrepl_copymsg *m);

/*
 * The next message: MESSAGE with *m set (m->body valid until the next
 * _room, _feed or _free; taking further messages does not move it), MORE, or
 * ERROR (and from then on always ERROR) with the reason in
 * pgrepl__copyreader_error and pgrepl__copyreader_errmsg.
 *
 * Inline because it runs once per message: a complete message whose length
 * is valid whatever its type is taken here. After an error the first
 * message's header is the bad one and never moves, so this test fails on it
 * and the error is reported by the slow path.
 */
static inline pgrepl_copyreader_result pgrepl__copyreader_next(pgrepl_copyreader *r, pgrepl_copymsg *m)
{
    size_t held = r->end - r->start;
    if (held >= 5) {
        const char *p = r->buf + r->start;
        uint32_t len = pgrepl__rd32((const uint8_t *)p + 1);
        if (len >= 4 && len - 4 <= PGREPL_COPYREADER_MAX_OTHER && len < held) {
            r->start += 1 + (size_t)len;
            m->type = p[0];
            m->body = p + 5;
            m->len = len - 4;
            return PGREPL_COPYREADER_MESSAGE;
        }
    }
    return pgrepl__copyreader_next_slow(r, m);
}

/* Why the bytes are not the protocol, OK before an error. */
pgrepl_copyreader_error pgrepl__copyreader_error(const pgrepl_copyreader *r);

/* The error as text on one line, naming the type and the length announced ("" before an error). */
const char *pgrepl__copyreader_errmsg(const pgrepl_copyreader *r);

/* Bytes received and not yet handed out in a message. */
size_t pgrepl__copyreader_pending(const pgrepl_copyreader *r);

/* The input buffer's size now (0 when it has none): its bound is what tests check. */
size_t pgrepl__copyreader_capacity(const pgrepl_copyreader *r);

#endif
