/* CopyData envelope: XLogData, keepalive, standby status update (protocol.md 3.2, 3.3). */
#include <string.h>

#include "pgrepl/pgrepl.h"
#include "copydata.h"
#include "msgbuild.h"
#include "testutil.h"

/* Payloads of the CopyData frames captured in protocol.md 3.2 / 3.3 (without 'd' and the length). */
#define KEEPALIVE "6b 000000000d06c958 000303c8a1349757 00"
#define XLOGDATA_HEADER "77 000000000d06d8d0 000000000d06d8d0 000303c8a134a3c7"
#define BEGIN_21 "42 0000000001be85c8 000303c880102892 00000306"
#define STATUS_UPDATE "72 000000000d06dd58 000000000d06dd58 000000000d06dd58 000303c8a14439d1 00"

static const pgrepl_copydata SENTINEL = {.kind = '?', .wal_start = 7, .len = 9};

static void assert_untouched(const pgrepl_copydata *cd)
{
    ck_assert_int_eq(cd->kind, '?');
    ck_assert(cd->wal_start == 7);
    ck_assert_uint_eq(cd->len, 9);
}

START_TEST(keepalive)
{
    msg m = msg_of(KEEPALIVE);
    ck_assert_uint_eq(m.len, PGREPL_KEEPALIVE_SIZE);
    pgrepl_copydata cd = SENTINEL;
    ck_assert_int_eq(pgrepl_copydata_parse(m.b, m.len, &cd), 0);
    ck_assert_int_eq(cd.kind, 'k');
    ck_assert(cd.wal_start == 0);
    ck_assert(cd.wal_end == 0xD06C958u);
    char buf[PGREPL_TIMESTAMP_BUFSIZE];
    pgrepl_timestamp_format(cd.send_time, buf);
    ck_assert_str_eq(buf, "2026-11-21T14:06:03.052887Z");
    ck_assert(!cd.reply_requested);
    ck_assert_ptr_null(cd.data);
    ck_assert_uint_eq(cd.len, 0);

    m.b[17] = 1;
    ck_assert_int_eq(pgrepl_copydata_parse(m.b, m.len, &cd), 0);
    ck_assert(cd.reply_requested);
}
END_TEST

START_TEST(xlogdata)
{
    msg m = msg_of(XLOGDATA_HEADER " " BEGIN_21);
    ck_assert_uint_eq(m.len, 0x32 - 4); /* the captured frame's length field */
    pgrepl_copydata cd = SENTINEL;
    ck_assert_int_eq(pgrepl_copydata_parse(m.b, m.len, &cd), 0);
    ck_assert_int_eq(cd.kind, 'w');
    ck_assert(cd.wal_start == 0xD06D8D0u);
    ck_assert(cd.wal_end == 0xD06D8D0u);
    char buf[PGREPL_TIMESTAMP_BUFSIZE];
    pgrepl_timestamp_format(cd.send_time, buf);
    ck_assert_str_eq(buf, "2026-11-21T14:06:03.056071Z");
    ck_assert(!cd.reply_requested);
    ck_assert_ptr_eq(cd.data, m.b + PGREPL_XLOGDATA_HEADER_SIZE);
    ck_assert_uint_eq(cd.len, 21);

    /* the payload is one pgoutput message the decoder accepts */
    pgrepl_decoder *d = pgrepl_decoder_new(NULL, 0, NULL);
    pgrepl_wal wal = {cd.wal_start, cd.wal_end, cd.send_time};
    ck_assert_int_eq(pgrepl_decoder_feed(d, &wal, cd.data, cd.len), 0);
    pgrepl_decoder_free(d);

    /* a header alone is an XLogData with an empty payload */
    ck_assert_int_eq(pgrepl_copydata_parse(m.b, PGREPL_XLOGDATA_HEADER_SIZE, &cd), 0);
    ck_assert_uint_eq(cd.len, 0);
}
END_TEST

START_TEST(malformed)
{
    msg w = msg_of(XLOGDATA_HEADER);
    msg k = msg_of(KEEPALIVE);
    pgrepl_copydata cd = SENTINEL;
    for (size_t cut = 1; cut < w.len; cut++) {
        ck_assert_int_eq(pgrepl_copydata_parse(w.b, cut, &cd), PGREPL_ETRUNCATED);
        assert_untouched(&cd);
    }
    for (size_t cut = 1; cut < k.len; cut++) {
        ck_assert_int_eq(pgrepl_copydata_parse(k.b, cut, &cd), PGREPL_ETRUNCATED);
        assert_untouched(&cd);
    }
    msg_u8(&k, 0);
    ck_assert_int_eq(pgrepl_copydata_parse(k.b, k.len, &cd), PGREPL_ETRAILING);
    assert_untouched(&cd);
    ck_assert_int_eq(pgrepl_copydata_parse(k.b, 0, &cd), PGREPL_EUNKNOWNMSG);
    ck_assert_int_eq(pgrepl_copydata_parse(NULL, 0, &cd), PGREPL_EUNKNOWNMSG);
    msg r = msg_of(STATUS_UPDATE);
    ck_assert_int_eq(pgrepl_copydata_parse(r.b, r.len, &cd), PGREPL_EUNKNOWNMSG);
    assert_untouched(&cd);
    ck_assert_int_eq(pgrepl_copydata_parse(NULL, 3, &cd), PGREPL_EINVAL);
    ck_assert_int_eq(pgrepl_copydata_parse(w.b, w.len, NULL), PGREPL_EINVAL);
}
END_TEST

START_TEST(status_update_example)
{
    msg want = msg_of(STATUS_UPDATE);
    ck_assert_uint_eq(want.len, PGREPL_STATUS_UPDATE_SIZE);
    uint8_t out[PGREPL_STATUS_UPDATE_SIZE + 1];
    out[PGREPL_STATUS_UPDATE_SIZE] = 0xAA;
    size_t n = pgrepl_status_update_encode(out, 0xD06DD58u, 0xD06DD58u, 0xD06DD58u,
                                           (pgrepl_timestamp)UINT64_C(0x000303c8a14439d1), false);
    ck_assert_uint_eq(n, PGREPL_STATUS_UPDATE_SIZE);
    ck_assert_mem_eq(out, want.b, PGREPL_STATUS_UPDATE_SIZE);
    ck_assert_uint_eq(out[PGREPL_STATUS_UPDATE_SIZE], 0xAA);

    pgrepl_status_update_encode(out, 1, 2, 3, 4, true);
    msg want2 = msg_of("72 0000000000000001 0000000000000002 0000000000000003 0000000000000004 01");
    ck_assert_mem_eq(out, want2.b, PGREPL_STATUS_UPDATE_SIZE);
}
END_TEST

START_TEST(status_update_round_trip)
{
    const struct {
        pgrepl_lsn w, f, a;
        pgrepl_timestamp t;
        bool reply;
    } rows[] = {
        {0, 0, 0, 0, false},
        {UINT64_MAX, UINT64_C(0x123456789ABCDEF0), 1, INT64_MIN, true},
        {0xD06DD58u, 0xD06DD00u, 0, -1, false},
        {1, 2, 3, INT64_MAX, true},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint8_t buf[PGREPL_STATUS_UPDATE_SIZE];
        pgrepl_status_update_encode(buf, rows[i].w, rows[i].f, rows[i].a, rows[i].t, rows[i].reply);
        pgrepl_lsn w = 9, f = 9, a = 9;
        pgrepl_timestamp t = 9;
        bool reply = !rows[i].reply;
        ck_assert_int_eq(pgrepl__status_update_decode(buf, sizeof buf, &w, &f, &a, &t, &reply), 0);
        ck_assert(w == rows[i].w);
        ck_assert(f == rows[i].f);
        ck_assert(a == rows[i].a);
        ck_assert(t == rows[i].t);
        ck_assert(reply == rows[i].reply);
        ck_assert_int_eq(pgrepl__status_update_decode(buf, sizeof buf, NULL, NULL, NULL, NULL, NULL), 0);
    }
}
END_TEST

START_TEST(status_update_malformed)
{
    msg m = msg_of(STATUS_UPDATE);
    pgrepl_lsn w = 9;
    for (size_t cut = 1; cut < m.len; cut++) {
        ck_assert_int_eq(pgrepl__status_update_decode(m.b, cut, &w, NULL, NULL, NULL, NULL), PGREPL_ETRUNCATED);
        ck_assert(w == 9);
    }
    ck_assert_int_eq(pgrepl__status_update_decode(m.b, 0, &w, NULL, NULL, NULL, NULL), PGREPL_EUNKNOWNMSG);
    ck_assert_int_eq(pgrepl__status_update_decode(NULL, 34, &w, NULL, NULL, NULL, NULL), PGREPL_EUNKNOWNMSG);
    msg_u8(&m, 0);
    ck_assert_int_eq(pgrepl__status_update_decode(m.b, m.len, &w, NULL, NULL, NULL, NULL), PGREPL_ETRAILING);
    ck_assert(w == 9);
    m.b[0] = 'k';
    ck_assert_int_eq(pgrepl__status_update_decode(m.b, PGREPL_STATUS_UPDATE_SIZE, &w, NULL, NULL, NULL, NULL),
                     PGREPL_EUNKNOWNMSG);
}
END_TEST

START_TEST(message_type_names)
{
    static const struct {
        char type;
        const char *name;
    } names[] = {
        {'B', "Begin"},         {'C', "Commit"},          {'O', "Origin"},
        {'R', "Relation"},      {'Y', "Type"},            {'I', "Insert"},
        {'U', "Update"},        {'D', "Delete"},          {'T', "Truncate"},
        {'M', "Message"},       {'S', "Stream Start"},    {'E', "Stream Stop"},
        {'c', "Stream Commit"}, {'A', "Stream Abort"},    {'b', "Begin Prepare"},
        {'P', "Prepare"},       {'K', "Commit Prepared"}, {'r', "Rollback Prepared"},
        {'p', "Stream Prepare"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ck_assert_str_eq(pgrepl_message_type_name(names[i].type), names[i].name);
    /* the public list holds each of these bytes once */
    static const char listed[] = {
#define BYTE_(byte, fn, T) byte,
        PGREPL_DECODER_CALLBACKS(BYTE_)
#undef BYTE_
    };
    ck_assert_uint_eq(sizeof listed, sizeof names / sizeof names[0]);
    for (size_t i = 0; i < sizeof listed; i++) {
        ck_assert_str_ne(pgrepl_message_type_name(listed[i]), "unknown");
        ck_assert_ptr_eq(memchr(listed, listed[i], i), NULL);
    }
    ck_assert_str_eq(pgrepl_message_type_name('w'), "unknown");
    ck_assert_str_eq(pgrepl_message_type_name('\0'), "unknown");
    ck_assert_str_eq(pgrepl_message_type_name((char)0xff), "unknown");
}
END_TEST

static Suite *copydata_suite(void)
{
    Suite *s = suite_create("copydata");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, keepalive);
    tcase_add_test(tc, xlogdata);
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, status_update_example);
    tcase_add_test(tc, status_update_round_trip);
    tcase_add_test(tc, status_update_malformed);
    tcase_add_test(tc, message_type_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgrepl_test_run_suite(copydata_suite());
}
