/* The acknowledgement ledger, without a server. */
#include "ledger.h"
#include "testutil.h"

static pgrepl_lsn flush_of(const pgrepl_ledger *l)
{
    pgrepl_lsn w, f;
    pgrepl__ledger_positions(l, &w, &f);
    return f;
}

static pgrepl_lsn write_of(const pgrepl_ledger *l)
{
    pgrepl_lsn w, f;
    pgrepl__ledger_positions(l, &w, &f);
    return w;
}

/* Report what positions() says, as the stream does after sending. */
static void report(pgrepl_ledger *l)
{
    pgrepl_lsn w, f;
    pgrepl__ledger_positions(l, &w, &f);
    pgrepl__ledger_reported(l, w, f);
}

START_TEST(flush_is_only_what_was_acked)
{
    pgrepl_ledger l;
    pgrepl__ledger_init(&l, 0x100);
    pgrepl__ledger_begin(&l);
    pgrepl__ledger_received(&l, 0x200);
    pgrepl__ledger_unit_end(&l, 0x250);
    pgrepl__ledger_received(&l, 0x250);
    ck_assert_uint_eq(write_of(&l), 0x250);
    ck_assert_uint_eq(flush_of(&l), 0x100); /* delivered, not acknowledged */
    /* a keepalive does not move flush while a delivered unit is unacknowledged */
    pgrepl__ledger_keepalive(&l, 0x300);
    ck_assert_uint_eq(flush_of(&l), 0x100);
    ck_assert_uint_eq(write_of(&l), 0x300);
    pgrepl__ledger_ack(&l, 0x250);
    /* now idle and fully acknowledged: follow the keepalive */
    ck_assert_uint_eq(flush_of(&l), 0x300);
    pgrepl__ledger_free(&l);
}
END_TEST

START_TEST(ack_clamped_to_received_and_monotonic)
{
    pgrepl_ledger l;
    pgrepl__ledger_init(&l, 0);
    pgrepl__ledger_received(&l, 0x500);
    ck_assert_uint_eq(pgrepl__ledger_ack(&l, 0x900), 0x500); /* never above received */
    ck_assert_uint_eq(pgrepl__ledger_ack(&l, 0x100), 0x500); /* never backwards */
    report(&l);
    pgrepl__ledger_begin(&l);
    pgrepl__ledger_received(&l, 0x600);
    ck_assert_uint_eq(flush_of(&l), 0x500);
    pgrepl__ledger_free(&l);
}
END_TEST

START_TEST(open_transaction_blocks_idle_rule)
{
    pgrepl_ledger l;
    pgrepl__ledger_init(&l, 0x10);
    pgrepl__ledger_keepalive(&l, 0x20);
    ck_assert_uint_eq(flush_of(&l), 0x20); /* idle: a quiet slot advances */
    report(&l);
    pgrepl__ledger_begin(&l);
    pgrepl__ledger_received(&l, 0x30);
    pgrepl__ledger_keepalive(&l, 0x40);
    ck_assert_uint_eq(flush_of(&l), 0x20); /* open B..C: stays at what was reported */
    pgrepl__ledger_unit_end(&l, 0x38);
    ck_assert_uint_eq(flush_of(&l), 0x20); /* closed but not acknowledged */
    pgrepl__ledger_ack(&l, 0x38);
    ck_assert_uint_eq(flush_of(&l), 0x40);
    pgrepl__ledger_free(&l);
}
END_TEST

START_TEST(streams_block_idle_rule_until_closed)
{
    pgrepl_ledger l;
    pgrepl__ledger_init(&l, 0);
    ck_assert_int_eq(pgrepl__ledger_stream_open(&l, 700), 0);
    ck_assert_int_eq(pgrepl__ledger_stream_open(&l, 701), 0);
    ck_assert_int_eq(pgrepl__ledger_stream_open(&l, 700), 0); /* a later block of the same xid */
    pgrepl__ledger_keepalive(&l, 0x1000);
    ck_assert(!pgrepl__ledger_idle(&l));
    ck_assert_uint_eq(flush_of(&l), 0);
    /* an ordinary transaction between blocks can be acknowledged */
    pgrepl__ledger_begin(&l);
    pgrepl__ledger_unit_end(&l, 0x800);
    pgrepl__ledger_ack(&l, 0x800);
    ck_assert_uint_eq(flush_of(&l), 0x800);
    pgrepl__ledger_stream_close(&l, 700, 0x900);
    ck_assert(!pgrepl__ledger_idle(&l));
    pgrepl__ledger_stream_close(&l, 701, 0); /* whole abort: nothing to confirm */
    ck_assert(pgrepl__ledger_idle(&l));
    ck_assert_uint_eq(flush_of(&l), 0x800); /* 700's commit is delivered but not acknowledged */
    pgrepl__ledger_ack(&l, 0x900);
    ck_assert_uint_eq(flush_of(&l), 0x1000);
    /* many streams at once */
    for (uint32_t x = 1; x <= 100; x++)
        ck_assert_int_eq(pgrepl__ledger_stream_open(&l, x), 0);
    ck_assert_int_eq(l.nstreams, 100);
    pgrepl__ledger_free(&l);
}
END_TEST

START_TEST(reported_never_goes_backwards)
{
    pgrepl_ledger l;
    pgrepl__ledger_init(&l, 0);
    pgrepl__ledger_keepalive(&l, 0x100);
    report(&l);
    ck_assert_uint_eq(l.reported, 0x100);
    /* after a reconnect the units are forgotten; the floor stays */
    pgrepl__ledger_restart(&l, 0x100);
    pgrepl__ledger_begin(&l);
    ck_assert_uint_eq(flush_of(&l), 0x100);
    ck_assert_uint_eq(write_of(&l), 0x100);
    pgrepl__ledger_free(&l);
}
END_TEST

START_TEST(reset_units_after_reconnect)
{
    pgrepl_ledger l;
    pgrepl__ledger_init(&l, 0);
    pgrepl__ledger_begin(&l);
    pgrepl__ledger_received(&l, 0x50);
    pgrepl__ledger_restart(&l, 0);
    ck_assert(pgrepl__ledger_idle(&l));
    /* the old keepalive must not be confirmed: the unacknowledged unit before it comes again */
    ck_assert_uint_eq(flush_of(&l), 0);
    pgrepl__ledger_free(&l);
}
END_TEST

/* Starting after what the application holds but has not made durable: the idle rule waits for its ack. */
START_TEST(restart_ahead_of_acked_blocks_idle_rule)
{
    pgrepl_ledger l;
    pgrepl__ledger_init(&l, 0);
    pgrepl__ledger_begin(&l);
    pgrepl__ledger_received(&l, 0x100);
    pgrepl__ledger_unit_end(&l, 0x200);
    pgrepl__ledger_received(&l, 0x200);
    pgrepl__ledger_ack(&l, 0x80);
    /* reconnect asking for 0x200 (written, not durable) */
    pgrepl__ledger_restart(&l, 0x200);
    pgrepl__ledger_keepalive(&l, 0x900);
    ck_assert_uint_eq(flush_of(&l), 0x80);
    /* durable now: the idle rule may follow the keepalive */
    pgrepl__ledger_ack(&l, 0x200);
    ck_assert_uint_eq(flush_of(&l), 0x900);
    pgrepl__ledger_free(&l);
}
END_TEST

START_TEST(durable_counts_as_received_and_acked)
{
    pgrepl_ledger l;
    pgrepl__ledger_init(&l, 0);
    pgrepl__ledger_durable(&l, 0x300);
    ck_assert_uint_eq(l.received, 0x300);
    ck_assert_uint_eq(l.acked, 0x300);
    pgrepl__ledger_restart(&l, 0x300);
    ck_assert_uint_eq(flush_of(&l), 0x300);
    pgrepl__ledger_keepalive(&l, 0x400);
    ck_assert_uint_eq(flush_of(&l), 0x400);
    /* a lower durable position changes nothing */
    pgrepl__ledger_durable(&l, 0x100);
    ck_assert_uint_eq(l.acked, 0x300);
    pgrepl__ledger_free(&l);
}
END_TEST

static Suite *ledger_suite(void)
{
    Suite *s = suite_create("ledger");
    TCase *tc = tcase_create("ledger");
    tcase_add_test(tc, flush_is_only_what_was_acked);
    tcase_add_test(tc, ack_clamped_to_received_and_monotonic);
    tcase_add_test(tc, open_transaction_blocks_idle_rule);
    tcase_add_test(tc, streams_block_idle_rule_until_closed);
    tcase_add_test(tc, reported_never_goes_backwards);
    tcase_add_test(tc, reset_units_after_reconnect);
    tcase_add_test(tc, restart_ahead_of_acked_blocks_idle_rule);
    tcase_add_test(tc, durable_counts_as_received_and_acked);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pgrepl_test_run_suite(ledger_suite());
}
