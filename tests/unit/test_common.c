/* Error table, LSN text form, timestamps, version. */
#include <string.h>

#include "pgrepl/pgrepl.h"
#include "testutil.h"

START_TEST(lsn_parse_ok)
{
    pgrepl_lsn l = 0;
    ck_assert_int_eq(pgrepl_lsn_parse("0/1BE84E0", &l), 0);
    ck_assert_uint_eq(l, 0x1BE84E0u);
    ck_assert_int_eq(pgrepl_lsn_parse("ffffffff/ffffffff", &l), 0);
    ck_assert(l == UINT64_MAX);
    ck_assert_int_eq(pgrepl_lsn_parse("00000001/0000000A", &l), 0);
    ck_assert(l == ((UINT64_C(1) << 32) | 10));
}
END_TEST

START_TEST(lsn_parse_bad)
{
    static const char *bad[] = {"", "/", "0/", "/0", "0/0/0", "0x1/0", " 0/0", "0/0 ", "123456789/0", "0/123456789",
                                "g/0", "0-0", "-1/0", "0/+1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pgrepl_lsn l = 42;
        ck_assert_msg(pgrepl_lsn_parse(bad[i], &l) == PGREPL_EBADLSN, "accepted \"%s\"", bad[i]);
        ck_assert(l == 42);
    }
    pgrepl_lsn l;
    ck_assert_int_eq(pgrepl_lsn_parse(NULL, &l), PGREPL_EINVAL);
    ck_assert_int_eq(pgrepl_lsn_parse("0/0", NULL), PGREPL_EINVAL);
}
END_TEST

START_TEST(lsn_format)
{
    char buf[PGREPL_LSN_BUFSIZE];
    ck_assert_int_eq(pgrepl_lsn_format(0x1BE84E0u, buf), 9);
    ck_assert_str_eq(buf, "0/1BE84E0");
    ck_assert_int_eq(pgrepl_lsn_format(UINT64_MAX, buf), 17);
    ck_assert_str_eq(buf, "FFFFFFFF/FFFFFFFF");
    pgrepl_lsn back;
    ck_assert_int_eq(pgrepl_lsn_parse(buf, &back), 0);
    ck_assert(back == UINT64_MAX);
}
END_TEST

START_TEST(timestamp_format)
{
    char buf[PGREPL_TIMESTAMP_BUFSIZE];
    /* From protocol.md 3.4: 000303c880102892 = 2026-11-21 13:56:47.017106 UTC */
    pgrepl_timestamp ts = (pgrepl_timestamp)UINT64_C(0x000303c880102892);
    pgrepl_timestamp_format(ts, buf);
    ck_assert_str_eq(buf, "2026-11-21T13:56:47.017106Z");
    pgrepl_timestamp_format(0, buf);
    ck_assert_str_eq(buf, "2000-01-01T00:00:00.000000Z");
    pgrepl_timestamp_format(-1, buf);
    ck_assert_str_eq(buf, "1999-12-31T23:59:59.999999Z");
    pgrepl_timestamp_format(-PGREPL_EPOCH_OFFSET_US, buf);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00.000000Z");
    /* 2000-02-29 (leap day) */
    pgrepl_timestamp_format(INT64_C(59) * 86400 * 1000000, buf);
    ck_assert_str_eq(buf, "2000-02-29T00:00:00.000000Z");
    /* extremes do not overflow the buffer */
    ck_assert_int_lt(pgrepl_timestamp_format(INT64_MAX, buf), PGREPL_TIMESTAMP_BUFSIZE);
    ck_assert_int_lt(pgrepl_timestamp_format(INT64_MIN, buf), PGREPL_TIMESTAMP_BUFSIZE);
}
END_TEST

START_TEST(errors_table)
{
    ck_assert_str_eq(pgrepl_err_name(PGREPL_ETRUNCATED), "PGREPL_ETRUNCATED");
    ck_assert_str_eq(pgrepl_strerror(PGREPL_ETRUNCATED), "message truncated");
    ck_assert_str_eq(pgrepl_err_name(0), "PGREPL_OK");
    ck_assert_str_eq(pgrepl_err_name(-9999), "PGREPL_EUNKNOWN");
    ck_assert_str_eq(pgrepl_strerror(-9999), "unknown error");
    ck_assert_int_eq(pgrepl_err_is_fatal(PGREPL_ENOMEM), 0);
    ck_assert_int_eq(pgrepl_err_is_fatal(PGREPL_EPROTOCOL), 1);
    ck_assert_int_eq(pgrepl_err_is_fatal(0), -1);
    /* every code in the table has a distinct name and a message */
    for (int e = -1; e >= -21; e--) {
        ck_assert_str_ne(pgrepl_err_name(e), "PGREPL_EUNKNOWN");
        ck_assert_str_ne(pgrepl_strerror(e), "unknown error");
    }
}
END_TEST

START_TEST(version)
{
    ck_assert_int_eq(pgrepl_version(), PGREPL_VERSION_NUM);
    ck_assert_str_eq(pgrepl_version_string(), PGREPL_VERSION_STRING);
    ck_assert_int_gt(pgrepl_version(), 0);
}
END_TEST

static Suite *common_suite(void)
{
    Suite *s = suite_create("common");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, lsn_parse_ok);
    tcase_add_test(tc, lsn_parse_bad);
    tcase_add_test(tc, lsn_format);
    tcase_add_test(tc, timestamp_format);
    tcase_add_test(tc, errors_table);
    tcase_add_test(tc, version);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgrepl_test_run_suite(common_suite());
}
