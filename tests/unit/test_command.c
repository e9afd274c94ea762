/* Quoting and the texts of replication commands, without a server. */
#include <stdio.h>
#include <string.h>

#include "command.h"
#include "quote.h"
#include "testutil.h"

/* A built text equals want; the string is freed for the next build. */
#define CK_TEXT(str, want)                                                                                            \
    do {                                                                                                              \
        ck_assert(!(str).oom);                                                                                        \
        ck_assert_str_eq((str).data, (want));                                                                         \
        pgrepl__str_free(&(str));                                                                                     \
    } while (0)

START_TEST(quote_ident)
{
    pgrepl_str s;
    pgrepl__str_init(&s);
    pgrepl__str_quote_ident(&s, "Slot");
    CK_TEXT(s, "\"Slot\"");
    pgrepl__str_quote_ident(&s, "a\"b\"\"");
    CK_TEXT(s, "\"a\"\"b\"\"\"\"\"");
    pgrepl__str_quote_ident(&s, "");
    CK_TEXT(s, "\"\"");
    pgrepl__str_quote_ident(&s, "it's");
    CK_TEXT(s, "\"it's\"");
}
END_TEST

START_TEST(quote_literal)
{
    pgrepl_str s;
    pgrepl__str_init(&s);
    pgrepl__str_quote_literal(&s, "it's");
    CK_TEXT(s, "'it''s'");
    pgrepl__str_quote_literal(&s, "''");
    CK_TEXT(s, "''''''");
    /* standard_conforming_strings: backslashes are plain characters */
    pgrepl__str_quote_literal(&s, "a\\b\"c");
    CK_TEXT(s, "'a\\b\"c'");
}
END_TEST

START_TEST(quote_name_list)
{
    const char *names[] = {"p", "Weird, Name", "it's \"q\""};
    pgrepl_str s;
    pgrepl__str_init(&s);
    pgrepl__str_quote_name_list(&s, names, 3);
    CK_TEXT(s, "'\"p\",\"Weird, Name\",\"it''s \"\"q\"\"\"'");
    pgrepl__str_quote_name_list(&s, names, 1);
    CK_TEXT(s, "'\"p\"'");
}
END_TEST

START_TEST(str_grows)
{
    pgrepl_str s;
    pgrepl__str_init(&s);
    for (int i = 0; i < 1000; i++)
        pgrepl__str_appendf(&s, "%d,", i % 10);
    ck_assert(!s.oom);
    ck_assert_uint_eq(s.len, 2000);
    ck_assert_uint_eq(strlen(s.data), 2000);
    ck_assert(strncmp(s.data, "0,1,2,", 6) == 0);
    ck_assert_str_eq(s.data + 1994, "7,8,9,");
    pgrepl__str_free(&s);
    ck_assert_ptr_null(s.data);
}
END_TEST

static int allocs_left;

static void *limited_malloc(size_t n)
{
    return allocs_left-- > 0 ? malloc(n) : NULL;
}

static void *limited_realloc(void *p, size_t n)
{
    return allocs_left-- > 0 ? realloc(p, n) : NULL;
}

/* Out of memory is sticky: the builders report it instead of returning a cut text. */
START_TEST(out_of_memory)
{
    const pgrepl_allocator limited = {limited_malloc, limited_realloc, free};
    pgrepl_set_allocator(&limited);
    pgrepl_str s;
    pgrepl__str_init(&s);
    allocs_left = 1;
    pgrepl__str_append(&s, "short");
    pgrepl__str_append(&s, "a text longer than the sixty-four bytes the first allocation holds......");
    ck_assert(s.oom);
    pgrepl__str_append(&s, "x");
    ck_assert_str_eq(s.data, "short");
    pgrepl__str_free(&s);
    const char *names[] = {"p"};
    for (int n = 0; n < 3; n++) {
        allocs_left = n;
        pgrepl__str_quote_name_list(&s, names, 1);
        ck_assert(s.oom == (n < 2));
        pgrepl__str_free(&s);
    }
    allocs_left = 0;
    ck_assert_int_eq(pgrepl__cmd_drop_slot(&s, "s", true), PGREPL_ENOMEM);
    pgrepl__str_free(&s);
    pgrepl_set_allocator(NULL);
}
END_TEST

static pgrepl_start_cmd start_cmd(int server_version)
{
    static const char *const pubs[] = {"pub", "Other"};
    pgrepl_start_cmd c = {
        .server_version = server_version,
        .slot = "My\"Slot",
        .start_lsn = UINT64_C(0x16B3748),
        .publications = pubs,
        .npublications = 2,
    };
    return c;
}

static void check_start(const pgrepl_start_cmd *c, int want_rc, int want_proto, const char *want)
{
    pgrepl_str s;
    pgrepl__str_init(&s);
    int proto = -1;
    const char *why = NULL;
    int rc = pgrepl__cmd_start(&s, c, &proto, &why);
    ck_assert_msg(rc == want_rc, "rc %d, want %d (%s)", rc, want_rc, why ? why : "");
    if (rc == 0) {
        ck_assert_int_eq(proto, want_proto);
        CK_TEXT(s, want);
    } else {
        ck_assert_ptr_nonnull(why);
        pgrepl__str_free(&s);
    }
}

START_TEST(start_defaults_per_version)
{
    const char *tail = ", \"publication_names\" '\"pub\",\"Other\"', \"binary\" 'false', \"messages\" 'false')";
    char want[512];
    static const int versions[][2] = {{140013, 2}, {150018, 3}, {160004, 4}, {170002, 4}, {180004, 4}};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        pgrepl_start_cmd c = start_cmd(versions[i][0]);
        snprintf(want, sizeof want,
                 "START_REPLICATION SLOT \"My\"\"Slot\" LOGICAL 0/16B3748 (\"proto_version\" '%d'%s",
                 versions[i][1], tail);
        check_start(&c, 0, versions[i][1], want);
    }
}
END_TEST

START_TEST(start_all_options)
{
    pgrepl_start_cmd c = start_cmd(160000);
    c.start_lsn = UINT64_C(0x1234567890);
    c.proto_version = 4;
    c.binary = true;
    c.messages = true;
    c.two_phase = true;
    c.streaming = PGREPL_STREAMING_PARALLEL;
    c.origin = PGREPL_ORIGIN_NONE;
    check_start(&c, 0, 4,
                "START_REPLICATION SLOT \"My\"\"Slot\" LOGICAL 12/34567890 (\"proto_version\" '4', "
                "\"publication_names\" '\"pub\",\"Other\"', \"binary\" 'true', \"messages\" 'true', "
                "\"streaming\" 'parallel', \"two_phase\" 'true', \"origin\" 'none')");
    c.streaming = PGREPL_STREAMING_ON;
    c.origin = PGREPL_ORIGIN_ANY;
    c.two_phase = false;
    check_start(&c, 0, 4,
                "START_REPLICATION SLOT \"My\"\"Slot\" LOGICAL 12/34567890 (\"proto_version\" '4', "
                "\"publication_names\" '\"pub\",\"Other\"', \"binary\" 'true', \"messages\" 'true', "
                "\"streaming\" 'on', \"origin\" 'any')");
}
END_TEST

START_TEST(start_streaming_boolean_before_16)
{
    pgrepl_start_cmd c = start_cmd(140005);
    c.streaming = PGREPL_STREAMING_ON;
    check_start(&c, 0, 2,
                "START_REPLICATION SLOT \"My\"\"Slot\" LOGICAL 0/16B3748 (\"proto_version\" '2', "
                "\"publication_names\" '\"pub\",\"Other\"', \"binary\" 'false', \"messages\" 'false', "
                "\"streaming\" 'true')");
    c.server_version = 150000;
    c.two_phase = true;
    check_start(&c, 0, 3,
                "START_REPLICATION SLOT \"My\"\"Slot\" LOGICAL 0/16B3748 (\"proto_version\" '3', "
                "\"publication_names\" '\"pub\",\"Other\"', \"binary\" 'false', \"messages\" 'false', "
                "\"streaming\" 'true', \"two_phase\" 'true')");
}
END_TEST

START_TEST(start_unsupported)
{
    pgrepl_start_cmd c = start_cmd(150000);
    c.streaming = PGREPL_STREAMING_PARALLEL; /* 16+ */
    check_start(&c, PGREPL_EUNSUPPORTED, 0, NULL);
    c = start_cmd(160000);
    c.proto_version = 3;
    c.streaming = PGREPL_STREAMING_PARALLEL; /* proto 4 */
    check_start(&c, PGREPL_EUNSUPPORTED, 0, NULL);
    c = start_cmd(160000);
    c.proto_version = 1;
    c.streaming = PGREPL_STREAMING_ON; /* proto 2 */
    check_start(&c, PGREPL_EUNSUPPORTED, 0, NULL);
    c = start_cmd(140000);
    c.two_phase = true; /* 15+ */
    check_start(&c, PGREPL_EUNSUPPORTED, 0, NULL);
    c = start_cmd(170000);
    c.proto_version = 2;
    c.two_phase = true; /* proto 3 */
    check_start(&c, PGREPL_EUNSUPPORTED, 0, NULL);
    c = start_cmd(150000);
    c.origin = PGREPL_ORIGIN_ANY; /* 16+ */
    check_start(&c, PGREPL_EUNSUPPORTED, 0, NULL);
    c = start_cmd(140000);
    c.proto_version = 3; /* 14 stops at 2 */
    check_start(&c, PGREPL_EUNSUPPORTED, 0, NULL);
}
END_TEST

static void check_create(int version, unsigned flags, pgrepl_snapshot_action snap, int want_rc, const char *want)
{
    pgrepl_str s;
    pgrepl__str_init(&s);
    const char *why = NULL;
    int rc = pgrepl__cmd_create_slot(&s, version, "s1", flags, snap, &why);
    ck_assert_int_eq(rc, want_rc);
    if (rc == 0) {
        CK_TEXT(s, want);
    } else {
        ck_assert_ptr_nonnull(why);
        pgrepl__str_free(&s);
    }
}

START_TEST(create_slot_syntax)
{
    check_create(140000, 0, PGREPL_SNAPSHOT_NOTHING, 0,
                 "CREATE_REPLICATION_SLOT \"s1\" LOGICAL pgoutput NOEXPORT_SNAPSHOT");
    check_create(140000, PGREPL_SLOT_TEMPORARY, PGREPL_SNAPSHOT_EXPORT, 0,
                 "CREATE_REPLICATION_SLOT \"s1\" TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT");
    check_create(140000, PGREPL_SLOT_IF_NOT_EXISTS, PGREPL_SNAPSHOT_USE, 0,
                 "CREATE_REPLICATION_SLOT \"s1\" LOGICAL pgoutput USE_SNAPSHOT");
    check_create(150000, 0, PGREPL_SNAPSHOT_NOTHING, 0,
                 "CREATE_REPLICATION_SLOT \"s1\" LOGICAL pgoutput (SNAPSHOT 'nothing')");
    check_create(150000, PGREPL_SLOT_TEMPORARY | PGREPL_SLOT_TWO_PHASE, PGREPL_SNAPSHOT_EXPORT, 0,
                 "CREATE_REPLICATION_SLOT \"s1\" TEMPORARY LOGICAL pgoutput (SNAPSHOT 'export', TWO_PHASE)");
    check_create(170000, PGREPL_SLOT_TWO_PHASE | PGREPL_SLOT_FAILOVER, PGREPL_SNAPSHOT_USE, 0,
                 "CREATE_REPLICATION_SLOT \"s1\" LOGICAL pgoutput (SNAPSHOT 'use', TWO_PHASE, FAILOVER)");
}
END_TEST

START_TEST(create_slot_unsupported)
{
    check_create(140000, PGREPL_SLOT_TWO_PHASE, PGREPL_SNAPSHOT_NOTHING, PGREPL_EUNSUPPORTED, NULL);
    check_create(160000, PGREPL_SLOT_FAILOVER, PGREPL_SNAPSHOT_NOTHING, PGREPL_EUNSUPPORTED, NULL);
    check_create(180000, PGREPL_SLOT_FAILOVER | PGREPL_SLOT_TEMPORARY, PGREPL_SNAPSHOT_NOTHING, PGREPL_EUNSUPPORTED,
                 NULL);
}
END_TEST

START_TEST(drop_slot_syntax)
{
    pgrepl_str s;
    pgrepl__str_init(&s);
    ck_assert_int_eq(pgrepl__cmd_drop_slot(&s, "x\"y", false), 0);
    CK_TEXT(s, "DROP_REPLICATION_SLOT \"x\"\"y\"");
    ck_assert_int_eq(pgrepl__cmd_drop_slot(&s, "s", true), 0);
    CK_TEXT(s, "DROP_REPLICATION_SLOT \"s\" WAIT");
}
END_TEST

START_TEST(slot_info_columns_per_version)
{
    pgrepl_str s;
    pgrepl__str_init(&s);
    ck_assert_int_eq(pgrepl__cmd_slot_info(&s, 150000, "it's"), 0);
    ck_assert_ptr_nonnull(strstr(s.data, "s.two_phase, NULL, NULL, NULL FROM"));
    ck_assert_ptr_nonnull(strstr(s.data, "s.slot_name = 'it''s'"));
    pgrepl__str_free(&s);
    ck_assert_int_eq(pgrepl__cmd_slot_info(&s, 160000, "x"), 0);
    ck_assert_ptr_nonnull(strstr(s.data, "s.two_phase, s.conflicting, NULL, NULL FROM"));
    pgrepl__str_free(&s);
    ck_assert_int_eq(pgrepl__cmd_slot_info(&s, 170000, "x"), 0);
    ck_assert_ptr_nonnull(strstr(s.data, "s.conflicting, s.invalidation_reason, s.failover FROM"));
    pgrepl__str_free(&s);
}
END_TEST

START_TEST(max_proto)
{
    ck_assert_int_eq(pgrepl__max_proto_version(130000), 1);
    ck_assert_int_eq(pgrepl__max_proto_version(140000), 2);
    ck_assert_int_eq(pgrepl__max_proto_version(149999), 2);
    ck_assert_int_eq(pgrepl__max_proto_version(150000), 3);
    ck_assert_int_eq(pgrepl__max_proto_version(160000), 4);
    ck_assert_int_eq(pgrepl__max_proto_version(180004), 4);
}
END_TEST

START_TEST(duration_units)
{
    static const struct {
        const char *text;
        uint64_t ms;
    } ok[] = {
        {"0", 0},          {"60s", 60000},   {"500ms", 500},        {"2min", 120000}, {"1h", 3600000},
        {"1d", 86400000},  {"4s", 4000},     {"1500", 1500},        {"90min", 5400000},
        {"2147483647ms", 2147483647},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t ms = 12345;
        ck_assert_msg(pgrepl__parse_duration_ms(ok[i].text, &ms) == 0, "%s", ok[i].text);
        ck_assert_msg(ms == ok[i].ms, "%s gave %llu", ok[i].text, (unsigned long long)ms);
    }
}
END_TEST

START_TEST(duration_rejects)
{
    static const char *const bad[] = {"", "s", "-1", "1 s", " 1s", "1S", "1sec", "1us", "1.5s", "1min2",
                                      "99999999999999999999", "9999999999999999d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t ms = 7;
        ck_assert_msg(pgrepl__parse_duration_ms(bad[i], &ms) == PGREPL_EINVAL, "%s accepted", bad[i]);
        ck_assert_uint_eq(ms, 7);
    }
    uint64_t ms;
    ck_assert_int_eq(pgrepl__parse_duration_ms(NULL, &ms), PGREPL_EINVAL);
}
END_TEST

START_TEST(session_settings_text)
{
    ck_assert_str_eq(pgrepl__session_settings,
                     "SET DateStyle = ISO; SET TimeZone = 'UTC'; SET IntervalStyle = postgres; "
                     "SET extra_float_digits = 3; SET bytea_output = hex; SET standard_conforming_strings = on; "
                     "SET client_encoding = 'UTF8'");
    ck_assert_str_eq(pgrepl__session_settings_sql_ascii,
                     "SET DateStyle = ISO; SET TimeZone = 'UTC'; SET IntervalStyle = postgres; "
                     "SET extra_float_digits = 3; SET bytea_output = hex; SET standard_conforming_strings = on");
}
END_TEST

static Suite *command_suite(void)
{
    Suite *s = suite_create("command");
    TCase *tc = tcase_create("quote");
    tcase_add_test(tc, quote_ident);
    tcase_add_test(tc, quote_literal);
    tcase_add_test(tc, quote_name_list);
    tcase_add_test(tc, str_grows);
    tcase_add_test(tc, out_of_memory);
    suite_add_tcase(s, tc);
    tc = tcase_create("commands");
    tcase_add_test(tc, start_defaults_per_version);
    tcase_add_test(tc, start_all_options);
    tcase_add_test(tc, start_streaming_boolean_before_16);
    tcase_add_test(tc, start_unsupported);
    tcase_add_test(tc, create_slot_syntax);
    tcase_add_test(tc, create_slot_unsupported);
    tcase_add_test(tc, drop_slot_syntax);
    tcase_add_test(tc, slot_info_columns_per_version);
    tcase_add_test(tc, max_proto);
    tcase_add_test(tc, session_settings_text);
    suite_add_tcase(s, tc);
    tc = tcase_create("duration");
    tcase_add_test(tc, duration_units);
    tcase_add_test(tc, duration_rejects);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgrepl_test_run_suite(command_suite());
}
