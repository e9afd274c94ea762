/* When to send a status update, and when the connection is dead, without a server. */
#include "feedback.h"
#include "testutil.h"

START_TEST(feedback_period_and_reply)
{
    pgrepl_feedback f;
    /* interval 10 s, wal_sender_timeout 6 s: every 3 s at most */
    pgrepl__feedback_init(&f, 10000000, 6000000, 0, 0);
    ck_assert_int_eq(pgrepl__feedback_period(&f), 3000000);
    ck_assert_int_eq(pgrepl__feedback_decide(&f, 2999999, 0, 0), PGREPL_FEEDBACK_NONE);
    ck_assert_int_eq(pgrepl__feedback_next_due(&f, 1000000), 2000000);
    ck_assert_int_eq(pgrepl__feedback_decide(&f, 3000000, 0, 0), PGREPL_FEEDBACK_SEND);
    pgrepl__feedback_on_sent(&f, 3000000, false, 0);
    ck_assert_int_eq(pgrepl__feedback_decide(&f, 3000001, 0, 0), PGREPL_FEEDBACK_NONE);
    /* reply requested: at once */
    pgrepl__feedback_on_keepalive(&f, true, 0x10, 0x10);
    ck_assert_int_eq(pgrepl__feedback_decide(&f, 3000002, 0x10, 0x10), PGREPL_FEEDBACK_SEND);
    ck_assert_int_eq(pgrepl__feedback_next_due(&f, 3000002), 0);
    pgrepl__feedback_on_sent(&f, 3000002, false, 0x10);
    ck_assert_int_eq(pgrepl__feedback_decide(&f, 3000003, 0x10, 0x10), PGREPL_FEEDBACK_NONE);
    /* no timeout on the server: the configured interval */
    pgrepl__feedback_init(&f, 10000000, 0, 0, 0);
    ck_assert_int_eq(pgrepl__feedback_period(&f), 10000000);
}
END_TEST

START_TEST(feedback_server_waiting_sends_after_ack)
{
    pgrepl_feedback f;
    pgrepl__feedback_init(&f, 10000000, 60000000, 0, 0);
    /* the server asks for 0x200 but only 0x100 is acknowledged */
    pgrepl__feedback_on_keepalive(&f, true, 0x200, 0x100);
    pgrepl__feedback_on_sent(&f, 1, false, 0x100);
    ck_assert_int_eq(pgrepl__feedback_decide(&f, 2, 0x100, 0x100), PGREPL_FEEDBACK_NONE);
    /* the application acknowledges: send at once, not at the next interval */
    ck_assert_int_eq(pgrepl__feedback_decide(&f, 3, 0x200, 0x100), PGREPL_FEEDBACK_SEND);
    pgrepl__feedback_on_sent(&f, 3, false, 0x200);
    ck_assert(!f.server_waiting);
    ck_assert_int_eq(pgrepl__feedback_decide(&f, 4, 0x200, 0x200), PGREPL_FEEDBACK_NONE);
}
END_TEST

START_TEST(feedback_watchdog)
{
    pgrepl_feedback f;
    /* receive timeout 10 s: ping at 5 s of silence, dead at 10 s */
    pgrepl__feedback_init(&f, 60000000, 0, 10000000, 0);
    ck_assert_int_eq(pgrepl__feedback_decide(&f, 4999999, 0, 0), PGREPL_FEEDBACK_NONE);
    ck_assert_int_eq(pgrepl__feedback_next_due(&f, 0), 5000000);
    ck_assert_int_eq(pgrepl__feedback_decide(&f, 5000000, 0, 0), PGREPL_FEEDBACK_PING);
    pgrepl__feedback_on_sent(&f, 5000000, true, 0);
    ck_assert_int_eq(pgrepl__feedback_decide(&f, 6000000, 0, 0), PGREPL_FEEDBACK_NONE); /* one ping at a time */
    ck_assert_int_eq(pgrepl__feedback_next_due(&f, 6000000), 4000000);
    ck_assert_int_eq(pgrepl__feedback_decide(&f, 10000000, 0, 0), PGREPL_FEEDBACK_DEAD);
    /* an answer resets the watchdog */
    pgrepl__feedback_on_recv(&f, 9000000);
    ck_assert_int_eq(pgrepl__feedback_decide(&f, 10000000, 0, 0), PGREPL_FEEDBACK_NONE);
    ck_assert_int_eq(pgrepl__feedback_decide(&f, 14000000, 0, 0), PGREPL_FEEDBACK_PING);
    /* a message read by an earlier wakeup, handled later, does not move it back */
    pgrepl__feedback_on_recv(&f, 13000000);
    pgrepl__feedback_on_recv(&f, 12000000);
    ck_assert_int_eq(pgrepl__feedback_decide(&f, 17999999, 0, 0), PGREPL_FEEDBACK_NONE);
    ck_assert_int_eq(pgrepl__feedback_decide(&f, 23000000, 0, 0), PGREPL_FEEDBACK_DEAD);
}
END_TEST

static Suite *feedback_suite(void)
{
    Suite *s = suite_create("feedback");
    TCase *fb = tcase_create("feedback");
    tcase_add_test(fb, feedback_period_and_reply);
    tcase_add_test(fb, feedback_server_waiting_sends_after_ack);
    tcase_add_test(fb, feedback_watchdog);
    suite_add_tcase(s, fb);
    return s;
}

int main(void)
{
    return pgrepl_test_run_suite(feedback_suite());
}
