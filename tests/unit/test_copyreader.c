/*
 * The copy reader (lib/copyreader.h): input bytes -> expected messages,
 * whatever pieces the bytes arrive in; the bound on its buffer (a header
 * claiming 1 GB costs nothing, a long message at most twice what arrived of
 * it, and the buffer shrinks back after it); limits per message type; the
 * error naming what was wrong; and an allocation-failure sweep.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgrepl/pgrepl.h"
#include "copyreader.h"
#include "msgbuild.h"
#include "testutil.h"

#define INBUF PGREPL_COPYREADER_INBUF
#define LOG_MAX 8192
#define PIECE_ALL ((size_t)-1)

/* ---- a counting allocator, failing one chosen call -------------------------------- */

static long calls;       /* allocation calls in this run */
static long fail_at;     /* the call to fail (1-based); 0: none */
static long outstanding; /* live allocations */
static bool failed;      /* the failure was injected in this run */
static size_t largest;   /* largest size asked for */

static bool fail_now(size_t n)
{
    if (n > largest)
        largest = n;
    if (++calls != fail_at)
        return false;
    failed = true;
    return true;
}

static void *test_malloc(size_t n)
{
    if (fail_now(n))
        return NULL;
    void *p = malloc(n);
    if (p != NULL)
        outstanding++;
    return p;
}

static void *test_realloc(void *p, size_t n)
{
    if (fail_now(n))
        return NULL;
    void *q = realloc(p, n);
    if (q != NULL && p == NULL)
        outstanding++;
    return q;
}

static void test_free(void *p)
{
    if (p != NULL)
        outstanding--;
    free(p);
}

static const pgrepl_allocator counting = {test_malloc, test_realloc, test_free};

static void counting_start(long fail)
{
    calls = 0;
    fail_at = fail;
    failed = false;
    outstanding = 0;
    largest = 0;
    pgrepl_set_allocator(&counting);
}

/* ---- feeding, and the log of what came out ------------------------------------------ */

typedef struct run {
    pgrepl_copyreader r;
    char log[LOG_MAX];
    size_t n;
} run;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void log_add(run *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(t->log + t->n, sizeof t->log - t->n, fmt, ap);
    va_end(ap);
    ck_assert(k >= 0 && (size_t)k < sizeof t->log - t->n);
    t->n += (size_t)k;
}

static uint32_t fnv1a(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

/* "T hexbody" for a short message, "T [len] hash" for a long one; messages joined by " | ". */
static void log_message(run *t, const pgrepl_copymsg *m)
{
    /* in place: the body lies in the reader's buffer */
    ck_assert(m->body >= t->r.buf + 5 && m->body + m->len <= t->r.buf + t->r.cap);
    ck_assert_int_eq(m->body[-5], m->type);
    unsigned char type = (unsigned char)m->type;
    if (type > 0x20 && type < 0x7f)
        log_add(t, "%c", type);
    else
        log_add(t, "0x%02x", type);
    if (m->len > 32) {
        log_add(t, " [%zu] %08x | ", m->len, fnv1a(m->body, m->len));
        return;
    }
    if (m->len > 0)
        log_add(t, " ");
    for (size_t i = 0; i < m->len; i++)
        log_add(t, "%02x", (uint8_t)m->body[i]);
    log_add(t, " | ");
}

/* Take every complete message; the result that ended it (MORE or ERROR). */
static pgrepl_copyreader_result take_all(run *t)
{
    pgrepl_copymsg m;
    pgrepl_copyreader_result res;
    while ((res = pgrepl__copyreader_next(&t->r, &m)) == PGREPL_COPYREADER_MESSAGE)
        log_message(t, &m);
    ck_assert(res == PGREPL_COPYREADER_MORE || res == PGREPL_COPYREADER_ERROR);
    return res;
}

static const char *error_name(pgrepl_copyreader_error e)
{
    switch (e) {
    case PGREPL_COPYREADER_OK:
        return "ok";
    case PGREPL_COPYREADER_EBADLENGTH:
        return "bad-length";
    case PGREPL_COPYREADER_EOVERSIZED:
        return "oversized";
    }
    return "?";
}

/*
 * Feed b in pieces of at most piece bytes, taking the messages after each,
 * as an owner reading a socket would. An injected allocation failure is
 * retried (only one fails per run). Returns the result that ended it: MORE
 * when all was fed, or ERROR.
 */
static pgrepl_copyreader_result feed_some(run *t, const uint8_t *b, size_t len, size_t piece)
{
    size_t off = 0;
    pgrepl_copyreader_result res = take_all(t);
    while (off < len && res == PGREPL_COPYREADER_MORE) {
        size_t want = len - off < piece ? len - off : piece, taken = 99;
        int rc = pgrepl__copyreader_feed(&t->r, b + off, want, &taken);
        ck_assert_uint_le(taken, want);
        off += taken;
        if (rc == PGREPL_ENOMEM) {
            ck_assert(failed);
            continue;
        }
        ck_assert_int_eq(rc, 0);
        size_t before = t->n;
        res = take_all(t);
        /* no room and no message would stall an owner for good */
        ck_assert_msg(taken > 0 || t->n > before || res == PGREPL_COPYREADER_ERROR, "stalled at byte %zu", off);
    }
    return res;
}

/* The log's last entry: "more N" (N bytes pending) or "error KIND". */
static void log_end(run *t, pgrepl_copyreader_result res)
{
    if (res == PGREPL_COPYREADER_ERROR) {
        ck_assert(pgrepl__copyreader_error(&t->r) != PGREPL_COPYREADER_OK);
        log_add(t, "error %s", error_name(pgrepl__copyreader_error(&t->r)));
        return;
    }
    ck_assert(pgrepl__copyreader_error(&t->r) == PGREPL_COPYREADER_OK);
    ck_assert_str_eq(pgrepl__copyreader_errmsg(&t->r), "");
    log_add(t, "more %zu", pgrepl__copyreader_pending(&t->r));
}

static void feed_pieces(run *t, const uint8_t *b, size_t len, size_t piece)
{
    log_end(t, feed_some(t, b, len, piece));
}

static void run_init(run *t)
{
    pgrepl__copyreader_init(&t->r);
    t->n = 0;
    t->log[0] = '\0';
}

/* ---- input bytes -> expected messages -------------------------------------------------- */

typedef struct bytecase {
    const char *name;
    const char *hex;
    const char *log;
} bytecase;

#define KEEPALIVE "64 00000016 6b 000000000d06c958 000303c8a1349757 01"
#define ERROR_42704 "45 00000022 53 4552524f52 00 56 4552524f52 00 43 3432373034 00 4d 6e6f20707562 00 00"

static const bytecase cases[] = {
    {"nothing", "", "more 0"},
    {"CopyData", "64 00000007 010203", "d 010203 | more 0"},
    {"empty CopyData", "64 00000004", "d | more 0"},
    {"keepalive", KEEPALIVE, "d 6b000000000d06c958000303c8a134975701 | more 0"},
    {"the end of a copy", "63 00000004 43 0000000b 434f5059203000 5a 00000005 49",
     "c | C 434f5059203000 | Z 49 | more 0"},
    {"CommandComplete without CopyDone (a server shutting down)", KEEPALIVE " 43 0000000b 434f5059203000",
     "d 6b000000000d06c958000303c8a134975701 | C 434f5059203000 | more 0"},
    {"ErrorResponse", ERROR_42704, "E 534552524f5200564552524f5200433432373034004d6e6f207075620000 | more 0"},
    {"NoticeResponse, ParameterStatus", "4e 00000009 4d686900 00 53 00000008 610062 00",
     "N 4d68690000 | S 61006200 | more 0"},
    {"a type the reader does not judge", "21 00000004", "! | more 0"},
    {"a type byte that is not a letter", "00 00000005 ff", "0x00 ff | more 0"},
    {"one byte of a header", "64", "more 1"},
    {"half a header", "64 0000", "more 3"},
    {"a header only", "64 00000010", "more 5"},
    {"a message and part of the next", "64 00000005 2a 64 00000006 01", "d 2a | more 6"},
    {"a body longer than the log shows",
     "64 00000025 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20", "d [33] 8ef9c39f | more 0"},
    {"length 3", "64 00000003", "error bad-length"},
    {"length 0, after a message", "63 00000004 64 00000000 ff", "c | error bad-length"},
    {"length -1", "64 ffffffff", "error oversized"},
    {"CopyData at its limit (1 GB + 64)", "64 40000044", "more 5"},
    {"CopyData one byte beyond", "64 40000045", "error oversized"},
    {"CopyData beyond 1 GB", "64 40100005 00", "error oversized"},
    {"ErrorResponse at its limit (1 MB)", "45 00100004", "more 5"},
    {"ErrorResponse one byte beyond", "45 00100005", "error oversized"},
    {"1 GB is a CopyData's, not another type's", "53 40000004", "error oversized"},
    {"nothing after a bad header is framed", "64 00000002 64 00000005 01", "error bad-length"},
};

static msg case_bytes(const bytecase *c)
{
    return msg_of(c->hex);
}

static void check_case(const bytecase *c, const char *how, const char *log)
{
    ck_assert_msg(strcmp(log, c->log) == 0, "%s, %s:\n  got      \"%s\"\n  expected \"%s\"", c->name, how, log,
                  c->log);
}

START_TEST(bytes_to_messages)
{
    const bytecase *c = &cases[_i];
    msg m = case_bytes(c);
    run t;
    run_init(&t);
    feed_pieces(&t, m.b, m.len, PIECE_ALL);
    check_case(c, "whole", t.log);
    pgrepl__copyreader_free(&t.r);
}
END_TEST

/* The same bytes split in two at every boundary, and in pieces of every size: the same messages. */
START_TEST(split_at_every_byte)
{
    const bytecase *c = &cases[_i];
    msg m = case_bytes(c);
    for (size_t k = 0; k <= m.len; k++) {
        char how[64];
        run t;
        run_init(&t);
        pgrepl_copyreader_result res = feed_some(&t, m.b, k, PIECE_ALL);
        if (res == PGREPL_COPYREADER_MORE)
            res = feed_some(&t, m.b + k, m.len - k, PIECE_ALL);
        log_end(&t, res);
        snprintf(how, sizeof how, "split at byte %zu", k);
        check_case(c, how, t.log);
        pgrepl__copyreader_free(&t.r);

        if (k == 0)
            continue;
        run_init(&t);
        feed_pieces(&t, m.b, m.len, k);
        snprintf(how, sizeof how, "in pieces of %zu bytes", k);
        check_case(c, how, t.log);
        pgrepl__copyreader_free(&t.r);
    }
}
END_TEST

/* The error says what was wrong, with the type, the length announced and the limit. */
START_TEST(error_names_what_was_wrong)
{
    static const struct {
        const char *hex, *text;
    } errs[] = {
        {"64 00000003", "lost synchronization with server: message type 0x64 announces 3 bytes (bad length: less "
                        "than the 4 of the length itself)"},
        {"64 40100005", "lost synchronization with server: message type 0x64 announces 1074790405 bytes "
                        "(oversized: CopyData has at most 1073741892)"},
        {"64 ffffffff", "lost synchronization with server: message type 0x64 announces 4294967295 bytes "
                        "(oversized: CopyData has at most 1073741892)"},
        {"45 00100005", "lost synchronization with server: message type 0x45 announces 1048581 bytes "
                        "(oversized: a message other than CopyData has at most 1048580)"},
    };
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        msg m = msg_of(errs[i].hex);
        run t;
        run_init(&t);
        feed_pieces(&t, m.b, m.len, PIECE_ALL);
        ck_assert_str_eq(pgrepl__copyreader_errmsg(&t.r), errs[i].text);
        /* sticky: asked again, still the error; no room, nothing taken */
        pgrepl_copymsg cm;
        ck_assert_int_eq(pgrepl__copyreader_next(&t.r, &cm), PGREPL_COPYREADER_ERROR);
        char *at;
        size_t room = 1, taken = 1;
        ck_assert_int_eq(pgrepl__copyreader_room(&t.r, &at, &room), 0);
        ck_assert_uint_eq(room, 0);
        ck_assert_int_eq(pgrepl__copyreader_feed(&t.r, "d", 1, &taken), 0);
        ck_assert_uint_eq(taken, 0);
        ck_assert_int_eq(pgrepl__copyreader_next(&t.r, &cm), PGREPL_COPYREADER_ERROR);
        ck_assert_str_eq(pgrepl__copyreader_errmsg(&t.r), errs[i].text);
        /* freed, it is a new reader */
        pgrepl__copyreader_free(&t.r);
        ck_assert(pgrepl__copyreader_error(&t.r) == PGREPL_COPYREADER_OK);
        ck_assert_str_eq(pgrepl__copyreader_errmsg(&t.r), "");
        ck_assert_int_eq(pgrepl__copyreader_feed(&t.r, "c\0\0\0\4", 5, &taken), 0);
        ck_assert_uint_eq(taken, 5);
        ck_assert_int_eq(pgrepl__copyreader_next(&t.r, &cm), PGREPL_COPYREADER_MESSAGE);
        ck_assert_int_eq(cm.type, 'c');
        pgrepl__copyreader_free(&t.r);
    }
}
END_TEST

/* ---- room, in place ------------------------------------------------------------------------ */

/* Read into the room given and the message is handed out where it was read: no copy. */
START_TEST(read_into_room_in_place)
{
    counting_start(0);
    pgrepl_copyreader r;
    pgrepl__copyreader_init(&r);
    ck_assert_uint_eq(pgrepl__copyreader_capacity(&r), 0);
    ck_assert_int_eq(calls, 0);
    char *at = NULL;
    size_t room = 0;
    ck_assert_int_eq(pgrepl__copyreader_room(&r, &at, &room), 0);
    ck_assert_ptr_nonnull(at);
    ck_assert_uint_eq(room, INBUF);
    memcpy(at, "d\0\0\0\6hi" "c\0\0\0\4", 12);
    pgrepl__copyreader_received(&r, 12);
    pgrepl_copymsg m;
    ck_assert_int_eq(pgrepl__copyreader_next(&r, &m), PGREPL_COPYREADER_MESSAGE);
    ck_assert_ptr_eq(m.body, at + 5);
    ck_assert_uint_eq(m.len, 2);
    ck_assert_int_eq(memcmp(m.body, "hi", 2), 0);
    ck_assert_int_eq(pgrepl__copyreader_next(&r, &m), PGREPL_COPYREADER_MESSAGE);
    ck_assert_ptr_eq(m.body, at + 12);
    ck_assert_uint_eq(m.len, 0);
    ck_assert_int_eq(pgrepl__copyreader_next(&r, &m), PGREPL_COPYREADER_MORE);
    /* the read went on where it stopped, in the same buffer: one allocation in all */
    char *at2;
    ck_assert_int_eq(pgrepl__copyreader_room(&r, &at2, &room), 0);
    ck_assert_ptr_eq(at2, at + 12);
    ck_assert_uint_eq(room, INBUF - 12);
    ck_assert_int_eq(calls, 1);
    pgrepl__copyreader_free(&r);
    ck_assert_int_eq(outstanding, 0);
    pgrepl_set_allocator(NULL);
}
END_TEST

/* Complete messages filling the buffer are taken before more is read: the room is 0 until then. */
START_TEST(full_of_complete_messages_no_room)
{
    pgrepl_copyreader r;
    pgrepl__copyreader_init(&r);
    uint8_t *b = malloc(INBUF);
    for (size_t i = 0; i < INBUF; i += 16) {
        memcpy(b + i, "d\0\0\0\x0f", 5);
        memset(b + i + 5, (int)(i / 16 % 251), 11);
    }
    size_t taken = 0;
    ck_assert_int_eq(pgrepl__copyreader_feed(&r, b, INBUF, &taken), 0);
    ck_assert_uint_eq(taken, INBUF);
    ck_assert_int_eq(pgrepl__copyreader_feed(&r, b, 16, &taken), 0);
    ck_assert_uint_eq(taken, 0);
    char *at;
    size_t room = 1;
    ck_assert_int_eq(pgrepl__copyreader_room(&r, &at, &room), 0);
    ck_assert_uint_eq(room, 0);
    ck_assert_uint_eq(pgrepl__copyreader_capacity(&r), INBUF);
    pgrepl_copymsg m;
    size_t n = 0;
    while (pgrepl__copyreader_next(&r, &m) == PGREPL_COPYREADER_MESSAGE) {
        ck_assert_uint_eq(m.len, 11);
        ck_assert_int_eq((uint8_t)m.body[10], n % 251);
        n++;
    }
    ck_assert_uint_eq(n, INBUF / 16);
    ck_assert_int_eq(pgrepl__copyreader_room(&r, &at, &room), 0);
    ck_assert_uint_eq(room, INBUF);
    ck_assert_uint_eq(pgrepl__copyreader_capacity(&r), INBUF);
    free(b);
    pgrepl__copyreader_free(&r);
}
END_TEST

/* ---- the bound --------------------------------------------------------------------------- */

/* Read what the room allows, up to n bytes of byte v, as a socket would deliver them; returns the bytes read. */
static size_t read_fill(pgrepl_copyreader *r, size_t n, int v, size_t *received)
{
    char *at;
    size_t room;
    ck_assert_int_eq(pgrepl__copyreader_room(r, &at, &room), 0);
    if (room > n)
        room = n;
    memset(at, v, room);
    pgrepl__copyreader_received(r, room);
    *received += room;
    return room;
}

#define RECEIVED_OF_HUGE (3u << 20)

/*
 * A CopyData claiming 1 GB (the most a server sends) of which 100 bytes
 * arrive: the buffer stays at its initial size. Then 3 MB arrive: it never
 * holds more than twice what arrived of the message (nor less than the
 * initial size), and the message is never handed out.
 */
START_TEST(claimed_gigabyte_is_not_reserved)
{
    counting_start(0);
    pgrepl_copyreader r;
    pgrepl__copyreader_init(&r);
    msg head = msg_of("64 40000044");
    size_t taken, received = 0;
    ck_assert_int_eq(pgrepl__copyreader_feed(&r, head.b, head.len, &taken), 0);
    received += taken;
    pgrepl_copymsg m;
    ck_assert_int_eq(pgrepl__copyreader_next(&r, &m), PGREPL_COPYREADER_MORE);
    read_fill(&r, 100, 'w', &received);
    ck_assert_int_eq(pgrepl__copyreader_next(&r, &m), PGREPL_COPYREADER_MORE);
    ck_assert_uint_eq(pgrepl__copyreader_capacity(&r), INBUF);
    ck_assert_uint_eq(largest, INBUF);
    while (received < RECEIVED_OF_HUGE) {
        read_fill(&r, RECEIVED_OF_HUGE - received, 'w', &received);
        ck_assert_int_eq(pgrepl__copyreader_next(&r, &m), PGREPL_COPYREADER_MORE);
        ck_assert_uint_eq(pgrepl__copyreader_pending(&r), received);
        size_t cap = pgrepl__copyreader_capacity(&r);
        ck_assert_msg(cap <= (2 * received > INBUF ? 2 * received : INBUF), "%zu bytes of buffer for %zu received",
                      cap, received);
    }
    ck_assert_msg(largest >= RECEIVED_OF_HUGE && largest <= 2 * RECEIVED_OF_HUGE, "largest allocation %zu", largest);
    ck_assert_int_eq(outstanding, 1);
    pgrepl__copyreader_free(&r);
    ck_assert_int_eq(outstanding, 0);
    pgrepl_set_allocator(NULL);
}
END_TEST

/* A header that is never taken is still checked before the buffer grows for it. */
START_TEST(bad_header_checked_before_growing)
{
    counting_start(0);
    pgrepl_copyreader r;
    pgrepl__copyreader_init(&r);
    uint8_t *b = calloc(2 * INBUF, 1);
    memcpy(b, "d\xff\xff\xff\xff", 5);
    size_t taken;
    ck_assert_int_eq(pgrepl__copyreader_feed(&r, b, INBUF - 100, &taken), 0);
    ck_assert_uint_eq(taken, INBUF - 100);
    ck_assert(pgrepl__copyreader_error(&r) == PGREPL_COPYREADER_OK);
    /* the buffer is nearly full: before giving the last 100 bytes of room, the header is looked at */
    ck_assert_int_eq(pgrepl__copyreader_feed(&r, b, INBUF, &taken), 0);
    ck_assert_uint_eq(taken, 0);
    ck_assert(pgrepl__copyreader_error(&r) == PGREPL_COPYREADER_EOVERSIZED);
    ck_assert_uint_eq(largest, INBUF);
    pgrepl_copymsg m;
    ck_assert_int_eq(pgrepl__copyreader_next(&r, &m), PGREPL_COPYREADER_ERROR);
    free(b);
    pgrepl__copyreader_free(&r);
    ck_assert_int_eq(outstanding, 0);
    pgrepl_set_allocator(NULL);
}
END_TEST

/* Bytes of a CopyData of len body bytes, then a CopyDone: the body's byte i is (i * 7 + seed) % 256. */
static uint8_t *big_message(size_t len, unsigned seed, size_t *total)
{
    *total = 5 + len + 5;
    uint8_t *b = malloc(*total);
    ck_assert_ptr_nonnull(b);
    b[0] = 'd';
    b[1] = (uint8_t)((len + 4) >> 24);
    b[2] = (uint8_t)((len + 4) >> 16);
    b[3] = (uint8_t)((len + 4) >> 8);
    b[4] = (uint8_t)(len + 4);
    for (size_t i = 0; i < len; i++)
        b[5 + i] = (uint8_t)(i * 7 + seed);
    memcpy(b + 5 + len, "c\0\0\0\4", 5);
    return b;
}

/*
 * A 3 MB CopyData within its limit, read as a socket delivers: handed out
 * whole and in place; the buffer stays large while the CopyDone after it is
 * pending, and shrinks back to the initial size once empty.
 */
START_TEST(big_message_then_shrink)
{
    counting_start(0);
    size_t len = 3u << 20, total;
    uint8_t *b = big_message(len, 5, &total);
    pgrepl_copyreader r;
    pgrepl__copyreader_init(&r);
    size_t off = 0;
    pgrepl_copymsg m;
    pgrepl_copyreader_result res = PGREPL_COPYREADER_MORE;
    while (res == PGREPL_COPYREADER_MORE) {
        char *at;
        size_t room;
        ck_assert_int_eq(pgrepl__copyreader_room(&r, &at, &room), 0);
        ck_assert_uint_gt(room, 0);
        size_t n = total - off < room ? total - off : room;
        memcpy(at, b + off, n);
        pgrepl__copyreader_received(&r, n);
        off += n;
        ck_assert_uint_le(pgrepl__copyreader_capacity(&r), 2 * off > INBUF ? 2 * off : INBUF);
        res = pgrepl__copyreader_next(&r, &m);
    }
    ck_assert_int_eq(res, PGREPL_COPYREADER_MESSAGE);
    ck_assert_int_eq(m.type, 'd');
    ck_assert_uint_eq(m.len, len);
    ck_assert_int_eq(memcmp(m.body, b + 5, len), 0);
    size_t cap = pgrepl__copyreader_capacity(&r);
    ck_assert_uint_gt(cap, len);
    /* all of it arrived: the CopyDone is pending, so no shrinking yet */
    ck_assert_uint_eq(off, total);
    char *at;
    size_t room;
    ck_assert_int_eq(pgrepl__copyreader_room(&r, &at, &room), 0);
    ck_assert_uint_eq(pgrepl__copyreader_capacity(&r), cap);
    ck_assert_int_eq(pgrepl__copyreader_next(&r, &m), PGREPL_COPYREADER_MESSAGE);
    ck_assert_int_eq(m.type, 'c');
    ck_assert_int_eq(pgrepl__copyreader_next(&r, &m), PGREPL_COPYREADER_MORE);
    ck_assert_int_eq(pgrepl__copyreader_room(&r, &at, &room), 0);
    ck_assert_uint_eq(pgrepl__copyreader_capacity(&r), INBUF);
    ck_assert_uint_eq(room, INBUF);
    ck_assert_int_eq(outstanding, 1);
    free(b);
    pgrepl__copyreader_free(&r);
    ck_assert_int_eq(outstanding, 0);
    pgrepl_set_allocator(NULL);
}
END_TEST

/* A CopyData of exactly the initial size, and one byte more: the buffer grows only for the second. */
START_TEST(message_the_size_of_the_buffer)
{
    for (size_t whole = INBUF; whole <= INBUF + 1; whole++) {
        size_t total;
        uint8_t *b = big_message(whole - 5, 1, &total);
        run t;
        run_init(&t);
        feed_pieces(&t, b, total, 4096);
        char expect[64];
        snprintf(expect, sizeof expect, "d [%zu] %08x | c | more 0", whole - 5, fnv1a((char *)b + 5, whole - 5));
        ck_assert_str_eq(t.log, expect);
        if (whole == INBUF)
            ck_assert_uint_eq(pgrepl__copyreader_capacity(&t.r), INBUF);
        pgrepl__copyreader_free(&t.r);

        /* all in before any is taken: the room for what follows comes only after taking it */
        size_t taken;
        ck_assert_int_eq(pgrepl__copyreader_feed(&t.r, b, total, &taken), 0);
        ck_assert_uint_eq(taken, whole == INBUF ? INBUF : INBUF + 1 + 5);
        if (whole == INBUF) {
            ck_assert_int_eq(pgrepl__copyreader_feed(&t.r, b + taken, total - taken, &taken), 0);
            ck_assert_uint_eq(taken, 0);
            ck_assert_uint_eq(pgrepl__copyreader_capacity(&t.r), INBUF);
        }
        free(b);
        pgrepl__copyreader_free(&t.r);
    }
}
END_TEST

/* ---- allocation failures ------------------------------------------------------------------ */

/* Small messages, a 300 kB CopyData, small ones, a 200 kB one, small ones: growth, shrinking, growth again. */
static size_t sweep_input(uint8_t **out)
{
    static const char *const small = "64 00000007 010203 63 00000004 43 0000000b 434f5059203000 " KEEPALIVE;
    msg s = msg_of(small);
    size_t t1, t2;
    uint8_t *big1 = big_message(300000, 3, &t1);
    uint8_t *big2 = big_message(200000, 9, &t2);
    size_t len = 3 * s.len + t1 + t2;
    uint8_t *b = malloc(len), *p = b;
    memcpy(p, s.b, s.len), p += s.len;
    memcpy(p, big1, t1), p += t1;
    memcpy(p, s.b, s.len), p += s.len;
    memcpy(p, big2, t2), p += t2;
    memcpy(p, s.b, s.len);
    free(big1);
    free(big2);
    *out = b;
    return len;
}

/*
 * Every allocation of the reader fails once, one per run: the call that met
 * it returns PGREPL_ENOMEM having taken nothing, asking again goes on, the
 * messages are the same as without failure, and nothing leaks.
 */
START_TEST(allocation_failure_sweep)
{
    uint8_t *in;
    size_t len = sweep_input(&in);
    run ref;
    run_init(&ref);
    counting_start(0);
    feed_pieces(&ref, in, len, 50000);
    pgrepl__copyreader_free(&ref.r);
    ck_assert_int_eq(outstanding, 0);
    ck_assert_ptr_nonnull(strstr(ref.log, "d [300000] "));
    ck_assert_ptr_nonnull(strstr(ref.log, "d [200000] "));
    long n;
    for (n = 1;; n++) {
        counting_start(n);
        run t;
        run_init(&t);
        feed_pieces(&t, in, len, 50000);
        pgrepl__copyreader_free(&t.r);
        ck_assert_int_eq(outstanding, 0);
        ck_assert_msg(strcmp(t.log, ref.log) == 0, "allocation %ld failed:\n  got      %s\n  expected %s", n, t.log,
                      ref.log);
        if (!failed)
            break;
    }
    pgrepl_set_allocator(NULL);
    /* the first buffer, its growth for each long message, the new buffer after each shrink: 5 at least */
    ck_assert_int_ge(n - 1, 5);
    free(in);
}
END_TEST

static Suite *copyreader_suite(void)
{
    Suite *s = suite_create("copyreader");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    int ncases = (int)(sizeof cases / sizeof cases[0]);
    tcase_add_loop_test(tc, bytes_to_messages, 0, ncases);
    tcase_add_loop_test(tc, split_at_every_byte, 0, ncases);
    tcase_add_test(tc, error_names_what_was_wrong);
    tcase_add_test(tc, read_into_room_in_place);
    tcase_add_test(tc, full_of_complete_messages_no_room);
    tcase_add_test(tc, claimed_gigabyte_is_not_reserved);
    tcase_add_test(tc, bad_header_checked_before_growing);
    tcase_add_test(tc, big_message_then_shrink);
    tcase_add_test(tc, message_the_size_of_the_buffer);
    tcase_add_test(tc, allocation_failure_sweep);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgrepl_test_run_suite(copyreader_suite());
}
