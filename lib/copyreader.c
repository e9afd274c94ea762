#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "pgrepl/common.h"
#include "alloc.h"
#include "copyreader.h"

/* below this a header might not fit, and a quarter of the buffer would be no room at all */
_Static_assert(PGREPL_COPYREADER_INBUF >= 16, "the initial buffer must hold a header with room to spare");

void pgrepl__copyreader_init(pgrepl_copyreader *r)
{
    memset(r, 0, sizeof *r);
}

void pgrepl__copyreader_free(pgrepl_copyreader *r)
{
    pgrepl__free(r->buf);
    pgrepl__copyreader_init(r);
}

static void bad_header(pgrepl_copyreader *r, char type, uint32_t len)
{
    bool copydata = type == 'd';
    if (len < 4) {
        r->error = PGREPL_COPYREADER_EBADLENGTH;
        snprintf(r->errmsg, sizeof r->errmsg,
                 "lost synchronization with server: message type 0x%02x announces %lu bytes "
                 "(bad length: less than the 4 of the length itself)",
                 (unsigned)(unsigned char)type, (unsigned long)len);
        return;
    }
    r->error = PGREPL_COPYREADER_EOVERSIZED;
    snprintf(r->errmsg, sizeof r->errmsg,
             "lost synchronization with server: message type 0x%02x announces %lu bytes "
             "(oversized: %s has at most %zu)",
             (unsigned)(unsigned char)type, (unsigned long)len, copydata ? "CopyData" : "a message other than CopyData",
             4 + (copydata ? PGREPL_COPYREADER_MAX_COPYDATA : PGREPL_COPYREADER_MAX_OTHER));
}

/*
 * The length of the first message, type byte included, once its header is
 * in (0 before); a header that cannot be is an error then (also 0), so that
 * nothing waits for, or is sized by, such a length.
 */
static size_t first_total(pgrepl_copyreader *r)
{
    if (r->end - r->start < 5)
        return 0;
    const char *p = r->buf + r->start;
    uint32_t len = pgrepl__rd32((const uint8_t *)p + 1);
    size_t max = p[0] == 'd' ? PGREPL_COPYREADER_MAX_COPYDATA : PGREPL_COPYREADER_MAX_OTHER;
    if (len < 4 || len - 4 > max) {
        bad_header(r, p[0], len);
        return 0;
    }
    return 1 + (size_t)len;
}

/*
 * Complete messages are handed out before more is read, so a full buffer
 * holds one message longer than the buffer: only then does it grow, to at
 * most twice what it holds (and no further than the message's end plus a
 * read's worth). An empty buffer that grew for a long message goes back to
 * the initial size.
 */
int pgrepl__copyreader_room(pgrepl_copyreader *r, char **at, size_t *room)
{
    *at = NULL;
    *room = 0;
    if (r->error != PGREPL_COPYREADER_OK)
        return 0;
    size_t held = r->end - r->start;
    if (held == 0 && r->cap > PGREPL_COPYREADER_INBUF) {
        pgrepl__free(r->buf);
        r->buf = NULL;
        r->cap = 0;
    }
    if (r->buf == NULL) {
        r->buf = pgrepl__malloc(PGREPL_COPYREADER_INBUF);
        if (r->buf == NULL)
            return PGREPL_ENOMEM;
        r->cap = PGREPL_COPYREADER_INBUF;
        r->start = r->end = 0;
    }
    if (r->cap - r->end >= r->cap / 4) {
        *at = r->buf + r->end;
        *room = r->cap - r->end;
        return 0;
    }
    memmove(r->buf, r->buf + r->start, held);
    r->start = 0;
    r->end = held;
    *at = r->buf + held;
    size_t total = first_total(r);
    if (r->error != PGREPL_COPYREADER_OK)
        return 0;
    if (r->cap - held >= r->cap / 4 || total <= r->cap) {
        *room = r->cap - held; /* 0 when complete messages fill it: they are taken first */
        return 0;
    }
    /* nearly full of the first part of one message longer than the buffer */
    size_t cap = 2 * held;
    if (cap > total + PGREPL_COPYREADER_INBUF)
        cap = total + PGREPL_COPYREADER_INBUF;
    char *p = pgrepl__realloc(r->buf, cap);
    if (p == NULL) {
        *at = NULL;
        return PGREPL_ENOMEM;
    }
    r->buf = p;
    r->cap = cap;
    *at = p + held;
    *room = cap - held;
    return 0;
}

void pgrepl__copyreader_received(pgrepl_copyreader *r, size_t n)
{
    r->end += n;
}

int pgrepl__copyreader_feed(pgrepl_copyreader *r, const void *bytes, size_t len, size_t *taken)
{
    size_t done = 0;
    *taken = 0;
    while (done < len) {
        char *at;
        size_t room;
        int rc = pgrepl__copyreader_room(r, &at, &room);
        if (rc != 0)
            return rc;
        if (room == 0)
            break;
        size_t n = len - done < room ? len - done : room;
        memcpy(at, (const char *)bytes + done, n);
        r->end += n;
        done += n;
        *taken = done;
    }
    return 0;
}

pgrepl_copyreader_result pgrepl__copyreader_next_slow(pgrepl_copyreader *r, pgrepl_copymsg *m)
{
    if (r->error != PGREPL_COPYREADER_OK)
        return PGREPL_COPYREADER_ERROR;
    size_t total = first_total(r);
    if (total == 0)
        return r->error != PGREPL_COPYREADER_OK ? PGREPL_COPYREADER_ERROR : PGREPL_COPYREADER_MORE;
    if (r->end - r->start < total)
        return PGREPL_COPYREADER_MORE;
    const char *p = r->buf + r->start;
    r->start += total;
    m->type = p[0];
    m->body = p + 5;
    m->len = total - 5;
    return PGREPL_COPYREADER_MESSAGE;
}

pgrepl_copyreader_error pgrepl__copyreader_error(const pgrepl_copyreader *r)
{
    return r->error;
}

const char *pgrepl__copyreader_errmsg(const pgrepl_copyreader *r)
{
    return r->errmsg;
}

size_t pgrepl__copyreader_pending(const pgrepl_copyreader *r)
{
    return r->end - r->start;
}

size_t pgrepl__copyreader_capacity(const pgrepl_copyreader *r)
{
    return r->cap;
}
