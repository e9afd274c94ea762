/*
 * Allocation-failure sweep over the decoder and its caches: run a fixed
 * sequence once per allocation, failing exactly that one. Every step must
 * either succeed or return PGREPL_ENOMEM without calling back or changing
 * the caches, and nothing may leak.
 */
#include <stdio.h>
#include <string.h>

#include "pgrepl/pgrepl.h"
#include "msgbuild.h"
#include "testutil.h"

#define Y_MOOD "59 00004002 7075626c696300 6d6f6f6400"
#define R_T                                                                                                           \
    "52 00004009 7075626c696300 7400 64 0004 01 696400 00000017 ffffffff 00 6e616d6500 00000019 ffffffff"             \
    " 00 6d00 00004002 ffffffff 00 62696700 00000019 ffffffff"
#define OID_T 0x4009u
#define OID_MOOD 0x4002u
#define WIDE 40
#define NSMALL 20

static long calls;       /* allocation calls in this run */
static long fail_at;     /* the call to fail (1-based); 0: none */
static long outstanding; /* live allocations */
static bool failed;      /* the failure was injected in this run */

static void *test_malloc(size_t n)
{
    if (++calls == fail_at) {
        failed = true;
        return NULL;
    }
    void *p = malloc(n);
    if (p != NULL)
        outstanding++;
    return p;
}

static void *test_realloc(void *p, size_t n)
{
    if (++calls == fail_at) {
        failed = true;
        return NULL;
    }
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

static const pgrepl_allocator failing = {test_malloc, test_realloc, test_free};

static int callbacks;

static int count_relation(void *ud, const pgrepl_relation *rel)
{
    (void)ud;
    (void)rel;
    callbacks++;
    return 0;
}

static int count_type(void *ud, const pgrepl_msg_type *t)
{
    (void)ud;
    (void)t;
    callbacks++;
    return 0;
}

static int count_change(void *ud, const pgrepl_msg_change *m)
{
    (void)ud;
    ck_assert_int_eq(m->new_tuple->ncolumns, WIDE);
    callbacks++;
    return 0;
}

static int count_truncate(void *ud, const pgrepl_msg_truncate *m)
{
    (void)ud;
    ck_assert_int_eq(m->nrelations, NSMALL);
    callbacks++;
    return 0;
}

static const pgrepl_decoder_callbacks CBS = {
    .on_relation = count_relation,
    .on_type = count_type,
    .on_insert = count_change,
    .on_truncate = count_truncate,
};

/*
 * Feed m; on PGREPL_ENOMEM check that no callback ran and the cache entries
 * for rel_oid and OID_MOOD are the same as before, then feed it again (only
 * one allocation fails per run, so the retry must succeed).
 */
static void step(pgrepl_decoder *d, const msg *m, uint32_t rel_oid)
{
    const pgrepl_relation *rel = pgrepl_decoder_relation(d, rel_oid);
    const pgrepl_msg_type *type = pgrepl_decoder_type(d, OID_MOOD);
    int before = callbacks;
    int rc = pgrepl_decoder_feed(d, NULL, m->b, m->len);
    if (rc == PGREPL_ENOMEM) {
        ck_assert(failed);
        ck_assert_int_eq(callbacks, before);
        ck_assert_ptr_eq(pgrepl_decoder_relation(d, rel_oid), rel);
        ck_assert_ptr_eq(pgrepl_decoder_type(d, OID_MOOD), type);
        ck_assert_ptr_nonnull(strstr(pgrepl_decoder_errmsg(d), "out of memory"));
        rc = pgrepl_decoder_feed(d, NULL, m->b, m->len);
    }
    ck_assert_msg(rc == 0, "%s: %s", pgrepl_err_name(rc), pgrepl_decoder_errmsg(d));
    ck_assert_int_eq(callbacks, before + 1);
}

static msg wide_relation(void)
{
    msg m = msg_of("52 00004009 7075626c696300 7400 64");
    msg_u16(&m, WIDE);
    for (int i = 0; i < WIDE; i++) {
        char name[8];
        snprintf(name, sizeof name, "c%d", i);
        msg_hex(&m, i == 0 ? "01" : "00");
        msg_str(&m, name);
        msg_hex(&m, i == 1 ? "00004002 ffffffff" : "00000017 ffffffff");
    }
    return m;
}

static msg wide_insert(void)
{
    msg m = msg_of("49 00004009 4e");
    msg_u16(&m, WIDE);
    for (int i = 0; i < WIDE; i++)
        msg_hex(&m, i % 2 ? "6e" : "74 00000002 3432");
    return m;
}

static msg small_relation(uint32_t oid)
{
    msg m = msg_of("52");
    msg_u32(&m, oid);
    msg_hex(&m, "00 736d616c6c00 66 0001 01 6900 00000017 ffffffff");
    return m;
}

static msg truncate_small(void)
{
    msg m = msg_of("54");
    msg_u32(&m, NSMALL);
    msg_hex(&m, "01");
    for (uint32_t oid = 1; oid <= NSMALL; oid++)
        msg_u32(&m, oid);
    return m;
}

/* One run of the sequence with allocation number fail_at failing. */
static void run_sequence(void)
{
    callbacks = 0;
    pgrepl_decoder *d = pgrepl_decoder_new(&CBS, sizeof CBS, NULL);
    if (d == NULL) {
        ck_assert(failed);
        ck_assert_int_eq(outstanding, 0);
        d = pgrepl_decoder_new(&CBS, sizeof CBS, NULL);
        ck_assert_ptr_nonnull(d);
    }
    msg type = msg_of(Y_MOOD);
    msg narrow = msg_of(R_T);
    msg wide = wide_relation();
    msg insert = wide_insert();
    msg trunc = truncate_small();

    step(d, &type, OID_T);
    step(d, &narrow, OID_T);
    ck_assert_str_eq(pgrepl_decoder_relation(d, OID_T)->columns[2].type_name, "mood");
    step(d, &wide, OID_T);
    ck_assert_int_eq(pgrepl_decoder_relation(d, OID_T)->ncolumns, WIDE);
    ck_assert_str_eq(pgrepl_decoder_relation(d, OID_T)->columns[1].type_schema, "public");
    step(d, &type, OID_T);
    for (uint32_t oid = 1; oid <= NSMALL; oid++) {
        msg small = small_relation(oid);
        step(d, &small, oid);
    }

    long calls_before = calls;
    step(d, &insert, OID_T);
    ck_assert_int_eq(calls, calls_before);
    step(d, &trunc, 1);

    pgrepl_decoder_reset(d);
    ck_assert_ptr_null(pgrepl_decoder_relation(d, OID_T));
    step(d, &narrow, OID_T);
    ck_assert_ptr_null(pgrepl_decoder_relation(d, OID_T)->columns[2].type_name);
    pgrepl_decoder_free(d);
    ck_assert_int_eq(outstanding, 0);
}

START_TEST(sweep)
{
    pgrepl_set_allocator(&failing);
    long n;
    for (n = 1;; n++) {
        calls = 0;
        fail_at = n;
        failed = false;
        outstanding = 0;
        run_sequence();
        if (!failed)
            break;
    }
    pgrepl_set_allocator(NULL);
    /* decoder, hash tables and their growth, entries, scratch arrays: the sweep covered them */
    ck_assert_int_gt(n, NSMALL + 8);
}
END_TEST

static Suite *alloc_fail_suite(void)
{
    Suite *s = suite_create("alloc_fail");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sweep);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgrepl_test_run_suite(alloc_fail_suite());
}
