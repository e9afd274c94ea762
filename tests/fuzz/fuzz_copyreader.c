/*
 * libFuzzer target for the copy reader (lib/copyreader.h).
 *
 * Input: a 2-byte header, then the bytes of a backend message stream.
 *   header[0]  allocation failure period p: the reader's k-th allocation
 *              (counted from the start of the input) fails when p != 0 and
 *              k % p == 0 (p == 1: every one fails)
 *   header[1]  how the stream arrives: bits 0-2 pick the largest piece (1,
 *              2, 3, 7, 64, 1000, 5000 bytes, or all at once), bits 3-7 seed
 *              the sizes of the pieces below it; even pieces go in through
 *              _room/_received as a socket read would, odd ones through _feed
 * The stream is also framed straight through by a reference parser here.
 * Whatever the pieces, the reader must hand out the reference's messages,
 * each in place, in its buffer, with the same bytes, then end as the
 * reference does (pending bytes, or the same error, sticky); its buffer may
 * grow only when it holds part of one message longer than itself, to at most
 * twice what it holds; an allocation failure takes nothing and changes no
 * message; nothing leaks. A broken promise aborts.
 *
 * The fuzz build compiles the reader with a small initial buffer
 * (PGREPL_COPYREADER_INBUF, tests/fuzz/meson.build) so that inputs of a few
 * kB grow it, move it and shrink it back as megabytes do in production.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgrepl/common.h"
#include "copyreader.h"
#include "fuzz_heap.h"

#define HEADER_SIZE 2
#define MAX_REF 65536

/* ---- the reference: the stream framed straight through ------------------ */

typedef struct ref_msg {
    size_t at; /* offset of the type byte in the stream */
    size_t len;
} ref_msg;

static struct {
    ref_msg msgs[MAX_REF];
    size_t n;
    size_t pending;               /* bytes after the last complete message */
    pgrepl_copyreader_error error; /* OK, or why the header after the last message is bad */
} ref;

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void frame(const uint8_t *s, size_t len)
{
    size_t pos = 0;
    ref.n = 0;
    ref.error = PGREPL_COPYREADER_OK;
    while (len - pos >= 5) {
        uint64_t n = be32(s + pos + 1);
        uint64_t max = s[pos] == 'd' ? (uint64_t)1 << 30 | 64 : (uint64_t)1 << 20;
        if (n < 4) {
            ref.error = PGREPL_COPYREADER_EBADLENGTH;
            break;
        }
        if (n - 4 > max) {
            ref.error = PGREPL_COPYREADER_EOVERSIZED;
            break;
        }
        if (len - pos - 1 < n)
            break;
        ref.msgs[ref.n++] = (ref_msg){.at = pos, .len = (size_t)n - 4};
        pos += 1 + (size_t)n;
    }
    ref.pending = len - pos;
}

/* ---- feeding --------------------------------------------------------------- */

typedef struct fuzz {
    pgrepl_copyreader r;
    const uint8_t *stream;
    size_t len;
    size_t off;      /* bytes taken by the reader */
    size_t taken;    /* messages taken */
    uint32_t rng;
    size_t maxpiece;
    bool every_alloc_fails;
} fuzz;

static size_t piece(fuzz *f)
{
    f->rng ^= f->rng << 13;
    f->rng ^= f->rng >> 17;
    f->rng ^= f->rng << 5;
    size_t n = 1 + f->rng % f->maxpiece;
    return n < f->len - f->off ? n : f->len - f->off;
}

/*
 * After room was given: an empty buffer is back at the initial size, and a
 * buffer that grew did so for part of one message longer than it was, by at
 * most twice what it holds.
 */
static void check_bound(const fuzz *f, size_t cap_before)
{
    size_t cap = pgrepl__copyreader_capacity(&f->r);
    size_t held = pgrepl__copyreader_pending(&f->r);
    size_t first = f->taken < ref.n ? ref.msgs[f->taken].at : f->len - ref.pending;
    CHECK(held == f->off - first);
    if (held == 0)
        CHECK(cap == PGREPL_COPYREADER_INBUF);
    CHECK(cap >= PGREPL_COPYREADER_INBUF);
    if (cap <= cap_before || cap == PGREPL_COPYREADER_INBUF)
        return;
    CHECK(held >= 5);
    size_t total = 1 + (size_t)be32(f->stream + first + 1);
    CHECK(total > cap_before && held < total);
    CHECK(cap <= 2 * held && cap <= total + PGREPL_COPYREADER_INBUF);
}

/* Take every complete message and compare it with the reference. */
static pgrepl_copyreader_result take(fuzz *f)
{
    pgrepl_copymsg m;
    pgrepl_copyreader_result res;
    while ((res = pgrepl__copyreader_next(&f->r, &m)) == PGREPL_COPYREADER_MESSAGE) {
        CHECK(f->taken < ref.n);
        const ref_msg *want = &ref.msgs[f->taken++];
        CHECK(want->at + 5 + want->len <= f->off);
        CHECK(m.type == (char)f->stream[want->at] && m.len == want->len);
        /* in place: in the reader's buffer, right after its header */
        CHECK(m.body >= f->r.buf + 5 && m.body + m.len <= f->r.buf + f->r.cap);
        CHECK(memcmp(m.body - 5, f->stream + want->at, 5 + m.len) == 0);
    }
    return res;
}

/* The allocation failed: nothing else is possible when every one fails; otherwise the next one succeeds. */
static bool out_of_memory(fuzz *f, unsigned long failed_before)
{
    CHECK(heap.failed == failed_before + 1);
    return !f->every_alloc_fails;
}

/* One piece through _room/_received; false when the input is given up. */
static bool read_piece(fuzz *f)
{
    for (;;) {
        size_t cap = pgrepl__copyreader_capacity(&f->r);
        unsigned long failed = heap.failed;
        char *at;
        size_t room = 99;
        int rc = pgrepl__copyreader_room(&f->r, &at, &room);
        if (rc != 0) {
            CHECK(rc == PGREPL_ENOMEM && room == 0);
            if (!out_of_memory(f, failed))
                return false;
            continue;
        }
        CHECK(heap.failed == failed);
        check_bound(f, cap);
        if (room == 0)
            return true;
        size_t n = piece(f);
        if (n > room)
            n = room;
        memcpy(at, f->stream + f->off, n);
        pgrepl__copyreader_received(&f->r, n);
        f->off += n;
        return true;
    }
}

static bool feed_piece(fuzz *f)
{
    size_t n = piece(f), taken = 99;
    unsigned long failed = heap.failed;
    int rc = pgrepl__copyreader_feed(&f->r, f->stream + f->off, n, &taken);
    CHECK(taken <= n);
    f->off += taken;
    if (rc != 0) {
        CHECK(rc == PGREPL_ENOMEM);
        return out_of_memory(f, failed);
    }
    CHECK(heap.failed == failed);
    /* feed asks for room after each copy: the buffer grew (if at all) for what it held then */
    if (taken < n)
        CHECK(pgrepl__copyreader_error(&f->r) != PGREPL_COPYREADER_OK || pgrepl__copyreader_pending(&f->r) > 0);
    return true;
}

static const size_t max_pieces[8] = {1, 2, 3, 7, 64, 1000, 5000, SIZE_MAX};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* longer inputs than libFuzzer's -max_len could hold more messages than the reference keeps */
    if (size < HEADER_SIZE || size > 5 * MAX_REF)
        return 0;
    heap.calls = 0;
    heap.failed = 0;
    heap.period = data[0];
    fuzz f = {.stream = data + HEADER_SIZE, .len = size - HEADER_SIZE};
    f.maxpiece = max_pieces[data[1] & 7];
    f.rng = 0x9e3779b9u ^ (uint32_t)(data[1] >> 3) * 2654435761u;
    f.every_alloc_fails = heap.period == 1;
    frame(f.stream, f.len);
    pgrepl__copyreader_init(&f.r);

    pgrepl_copyreader_result res = PGREPL_COPYREADER_MORE;
    bool going = true;
    for (unsigned i = 0; going && res == PGREPL_COPYREADER_MORE && f.off < f.len; i++) {
        size_t before = f.off, taken = f.taken;
        unsigned long failed = heap.failed;
        going = i % 2 == 0 ? read_piece(&f) : feed_piece(&f);
        res = take(&f);
        /* a step that took no bytes (the room was 0) must have made room by a message, or failed */
        CHECK(!going || f.off > before || f.taken > taken || res == PGREPL_COPYREADER_ERROR ||
              heap.failed > failed);
    }
    if (going) {
        CHECK(f.taken == ref.n);
        if (ref.error != PGREPL_COPYREADER_OK) {
            CHECK(res == PGREPL_COPYREADER_ERROR);
            CHECK(pgrepl__copyreader_error(&f.r) == ref.error);
            CHECK(strstr(pgrepl__copyreader_errmsg(&f.r), "lost synchronization with server: message type") ==
                  pgrepl__copyreader_errmsg(&f.r));
            /* sticky: no more messages, no room */
            pgrepl_copymsg m;
            char *at;
            size_t room = 99;
            CHECK(pgrepl__copyreader_next(&f.r, &m) == PGREPL_COPYREADER_ERROR);
            CHECK(pgrepl__copyreader_room(&f.r, &at, &room) == 0 && room == 0);
        } else {
            CHECK(res == PGREPL_COPYREADER_MORE && f.off == f.len);
            CHECK(pgrepl__copyreader_error(&f.r) == PGREPL_COPYREADER_OK);
            CHECK(pgrepl__copyreader_pending(&f.r) == ref.pending);
        }
    } else {
        CHECK(f.every_alloc_fails && f.taken == 0);
    }
    pgrepl__copyreader_free(&f.r);
    CHECK(heap.live == 0);
    return 0;
}
