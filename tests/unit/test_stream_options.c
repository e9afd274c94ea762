/*
 * pgrepl-stream's command line and connection string (examples/stream_cli.h):
 * every option lands where it should, defaults, bad combinations, and the
 * connection string built from -d (name, key=value or URI) and -h -p -U,
 * read back by libpq.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "../../examples/stream_cli.h"
#include "testutil.h"

#define MAX_ARGS 64

/* Parse a NULL-terminated list of arguments (after the program name). */
static int parse(cli_options *o, const char *const *args)
{
    char *argv[MAX_ARGS] = {(char *)(uintptr_t) "pgrepl-stream"};
    int argc = 1;
    for (; args[argc - 1] != NULL; argc++)
        argv[argc] = (char *)(uintptr_t)args[argc - 1];
    argv[argc] = NULL;
    memset(o, 0, sizeof *o);
    return cli_parse_options(o, argc, argv);
}

START_TEST(every_option)
{
    static const char *const args[] = {
        "-d", "app", "-h", "/tmp/sock", "-p", "5433", "-U", "me", "-w", "-S", "slot", "-P", "a,b", "--publication=c",
        "--create-slot", "--if-not-exists", "-I", "1/0", "-E", "0/AB", "-f", "out.jsonl", "-F", "0.5", "-s", "2.25",
        "-n", "-v", "--proto-version=4", "--binary", "--messages", "--streaming=parallel", "--two-phase",
        "--origin=none", "--metrics-file", "m.prom", "--reconnect-delay=0.2,5", "--connect-timeout=3",
        "--receive-timeout=0", "--read-pause=50", NULL};
    cli_options o;
    ck_assert_int_eq(parse(&o, args), 0);
    ck_assert_str_eq(o.dbname, "app");
    ck_assert_str_eq(o.host, "/tmp/sock");
    ck_assert_str_eq(o.port, "5433");
    ck_assert_str_eq(o.user, "me");
    ck_assert_int_eq(o.password, CLI_PW_NEVER);
    ck_assert_str_eq(o.slot, "slot");
    ck_assert_int_eq(o.npubs, 3);
    ck_assert_str_eq(o.pubs[0], "a");
    ck_assert_str_eq(o.pubs[1], "b");
    ck_assert_str_eq(o.pubs[2], "c");
    ck_assert(o.create_slot && o.if_not_exists && !o.drop_slot && !o.temporary && !o.allow_gap);
    ck_assert(o.has_startpos && o.startpos == UINT64_C(0x100000000));
    ck_assert(o.has_endpos && o.endpos == 0xAB);
    ck_assert_str_eq(o.file, "out.jsonl");
    ck_assert_uint_eq(o.fsync_ms, 500);
    ck_assert_uint_eq(o.status_ms, 2250);
    ck_assert(o.no_loop && o.verbose);
    ck_assert_int_eq(o.proto_version, 4);
    ck_assert(o.binary && o.messages && o.two_phase);
    ck_assert_int_eq(o.streaming, PGREPL_STREAMING_PARALLEL);
    ck_assert_int_eq(o.origin, PGREPL_ORIGIN_NONE);
    ck_assert_str_eq(o.metrics_file, "m.prom");
    ck_assert_uint_eq(o.retry_min_ms, 200);
    ck_assert_uint_eq(o.retry_max_ms, 5000);
    ck_assert_uint_eq(o.connect_timeout_ms, 3000);
    ck_assert_uint_eq(o.receive_timeout_ms, 0);
    ck_assert_int_eq(o.read_pause_us, 50);
    cli_free_options(&o);
}
END_TEST

START_TEST(defaults)
{
    static const char *const args[] = {"--slot=s", "-P", "p", "--streaming", "-W", NULL};
    cli_options o;
    ck_assert_int_eq(parse(&o, args), 0);
    ck_assert_ptr_null(o.dbname);
    ck_assert_str_eq(o.file, "-");
    ck_assert_uint_eq(o.fsync_ms, 10000);
    ck_assert_uint_eq(o.status_ms, 10000);
    ck_assert_int_eq(o.proto_version, 0);
    ck_assert_int_eq(o.streaming, PGREPL_STREAMING_ON);
    ck_assert_int_eq(o.origin, PGREPL_ORIGIN_DEFAULT);
    ck_assert_int_eq(o.password, CLI_PW_ALWAYS);
    ck_assert(!o.has_endpos && !o.has_startpos && !o.binary && !o.no_loop);
    ck_assert_uint_eq(o.retry_min_ms, 1000);
    ck_assert_uint_eq(o.retry_max_ms, 60000);
    ck_assert_uint_eq(o.connect_timeout_ms, 0);
    ck_assert_uint_eq(o.receive_timeout_ms, 60000);
    ck_assert_int_eq(o.read_pause_us, -1);
    cli_free_options(&o);
    /* a minimum delay alone keeps the default maximum, or becomes it when above */
    static const char *const delays[] = {"-S", "s", "-P", "p", "--reconnect-delay", "2", NULL};
    ck_assert_int_eq(parse(&o, delays), 0);
    ck_assert(o.retry_min_ms == 2000 && o.retry_max_ms == 60000);
    cli_free_options(&o);
    static const char *const slow[] = {"-S", "s", "-P", "p", "--reconnect-delay", "90", NULL};
    ck_assert_int_eq(parse(&o, slow), 0);
    ck_assert(o.retry_min_ms == 90000 && o.retry_max_ms == 90000);
    cli_free_options(&o);
    /* dropping needs no publication */
    static const char *const drop[] = {"-S", "s", "--drop-slot", NULL};
    ck_assert_int_eq(parse(&o, drop), 0);
    ck_assert(o.drop_slot);
    cli_free_options(&o);
    static const char *const zero[] = {"-S", "s", "-P", "p", "-F", "0", "--origin", "any", "--temporary", "--allow-gap",
                                       NULL};
    ck_assert_int_eq(parse(&o, zero), 0);
    ck_assert_uint_eq(o.fsync_ms, 0);
    ck_assert_int_eq(o.origin, PGREPL_ORIGIN_ANY);
    ck_assert(o.temporary && o.allow_gap);
    cli_free_options(&o);
    /* the bounds themselves are accepted */
    static const char *const bounds[] = {"-S", "s", "-P", "p", "-p", "65535", "--read-pause=100000", NULL};
    ck_assert_int_eq(parse(&o, bounds), 0);
    ck_assert_str_eq(o.port, "65535");
    ck_assert_int_eq(o.read_pause_us, 100000);
    cli_free_options(&o);
}
END_TEST

START_TEST(bad_combinations)
{
    static const char *const cases[][8] = {
        {"-P", "p", NULL},                                           /* no slot */
        {"-S", "s", NULL},                                           /* no publication */
        {"-S", "s", "-P", "p", "-s", "0", NULL},                     /* no status updates */
        {"-S", "s", "-P", "p", "-F", "1.2345", NULL},                /* four decimals */
        {"-S", "s", "-P", "p", "-F", "-1", NULL},
        {"-S", "s", "-P", "p", "-s", "99999999", NULL},
        {"-S", "s", "-P", "p", "--streaming=parallel", "--proto-version=3", NULL},
        {"-S", "s", "--drop-slot", "--temporary", NULL},
        {"-S", "s", "-P", ",p", NULL},
        {"-S", "s", "-P", "p", "-E", "0/", NULL},
        {"-S", "s", "-P", "p", "-p", "0", NULL},
        {"-S", "s", "-P", "p", "-p", "65536", NULL},
        {"-S", "s", "-P", "p", "-p", " 5432", NULL},                 /* blanks and signs are not digits */
        {"-S", "s", "-P", "p", "-p", "+5432", NULL},
        {"-S", "s", "-P", "p", "-p", "5432x", NULL},
        {"-S", "s", "-P", "p", "-p", "", NULL},
        {"-S", "s", "-P", "p", "-p", "99999999999999999999999", NULL},
        {"-S", "s", "-P", "p", "--proto-version=12", NULL},
        {"-S", "s", "-P", "p", "--reconnect-delay=0", NULL},        /* would be a tight loop */
        {"-S", "s", "-P", "p", "--reconnect-delay=5,1", NULL},      /* max below min */
        {"-S", "s", "-P", "p", "--reconnect-delay=1,", NULL},
        {"-S", "s", "-P", "p", "--reconnect-delay=,5", NULL},
        {"-S", "s", "-P", "p", "--connect-timeout=soon", NULL},
        {"-S", "s", "-P", "p", "--receive-timeout=-1", NULL},
        {"-S", "s", "-P", "p", "--read-pause=100001", NULL},
        {"-S", "s", "-P", "p", "--read-pause=-5", NULL},
        {"-S", "s", "-P", "p", "--read-pause=0.5", NULL},
        {"-S", "s", "-P", "p", "--read-pause=", NULL},
        {"-S", "s", "-P", "p", "--read-pause=+5", NULL},
        {"-S", "s", "-P", "p", "--read-pause=99999999999999999999999", NULL},
        /* 64 bytes: the server would truncate it to 63, another slot's name */
        {"-S", "s234567890123456789012345678901234567890123456789012345678901234", "-P", "p", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cli_options o;
        ck_assert_msg(parse(&o, cases[i]) == -1, "case %zu was accepted", i);
        cli_free_options(&o);
    }
}
END_TEST

START_TEST(help_and_version_end_the_program)
{
    static const char *const help[] = {"-?", NULL}, *const version[] = {"--version", NULL};
    cli_options o;
    ck_assert_int_eq(parse(&o, help), 1);
    ck_assert_int_eq(parse(&o, version), 1);
    cli_free_options(&o);
}
END_TEST

/* ---- connection strings ------------------------------------------------------ */

/* The value of keyword in conninfo as libpq reads it ("" if unset; free it). */
static char *value_in(const char *conninfo, const char *keyword)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    ck_assert_msg(opts != NULL, "libpq cannot read \"%s\": %s", conninfo, err ? err : "");
    char *v = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, keyword) == 0)
            v = strdup(o->val ? o->val : "");
    PQconninfoFree(opts);
    ck_assert_ptr_nonnull(v);
    return v;
}

static void expect_value(const char *conninfo, const char *keyword, const char *want)
{
    char *v = value_in(conninfo, keyword);
    ck_assert_msg(strcmp(v, want) == 0, "%s in \"%s\" is \"%s\", want \"%s\"", keyword, conninfo, v, want);
    free(v);
}

START_TEST(conninfo_from_a_database_name)
{
    cli_options o = {.dbname = "it's a \\ db", .host = "/tmp", .user = "me"};
    char *c = cli_conninfo(&o, "pa'ss");
    ck_assert_ptr_nonnull(c);
    expect_value(c, "dbname", "it's a \\ db");
    expect_value(c, "host", "/tmp");
    expect_value(c, "user", "me");
    expect_value(c, "password", "pa'ss");
    expect_value(c, "port", "");
    free(c);
    /* nothing given: libpq's defaults and environment apply */
    cli_options none = {0};
    c = cli_conninfo(&none, NULL);
    ck_assert_str_eq(c, "");
    free(c);
}
END_TEST

/* -h -p -U win over what -d says; everything else in -d is kept. */
START_TEST(conninfo_overrides)
{
    cli_options o = {.dbname = "host=a port=1 dbname=b application_name='my app' sslmode=disable", .host = "c",
                     .port = "2"};
    char *c = cli_conninfo(&o, NULL);
    ck_assert_ptr_nonnull(c);
    expect_value(c, "host", "c");
    expect_value(c, "port", "2");
    expect_value(c, "dbname", "b");
    expect_value(c, "application_name", "my app");
    expect_value(c, "sslmode", "disable");
    free(c);
    cli_options uri = {.dbname = "postgresql://u@h:5/db?connect_timeout=7", .user = "v"};
    c = cli_conninfo(&uri, NULL);
    ck_assert_ptr_nonnull(c);
    expect_value(c, "host", "h");
    expect_value(c, "port", "5");
    expect_value(c, "dbname", "db");
    expect_value(c, "user", "v");
    expect_value(c, "connect_timeout", "7");
    free(c);
}
END_TEST

START_TEST(conninfo_rejects_what_libpq_cannot_read)
{
    cli_options o = {.dbname = "host='unterminated"};
    ck_assert_ptr_null(cli_conninfo(&o, NULL));
    cli_options bad = {.dbname = "nosuchkeyword=1"};
    ck_assert_ptr_null(cli_conninfo(&bad, NULL));
}
END_TEST

static Suite *stream_options_suite(void)
{
    Suite *s = suite_create("stream_options");
    TCase *tc = tcase_create("options");
    tcase_add_test(tc, every_option);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, bad_combinations);
    tcase_add_test(tc, help_and_version_end_the_program);
    suite_add_tcase(s, tc);
    tc = tcase_create("conninfo");
    tcase_add_test(tc, conninfo_from_a_database_name);
    tcase_add_test(tc, conninfo_overrides);
    tcase_add_test(tc, conninfo_rejects_what_libpq_cannot_read);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgrepl_test_run_suite(stream_options_suite());
}
