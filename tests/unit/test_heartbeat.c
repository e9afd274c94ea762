/*
 * Heartbeats without a server: the round trip tracker (seen, lag, the
 * stall deadline and holds), the backoff, and the public setters on a
 * stream that never connects.
 */
#include "pgrepl/uv.h"
#include "heartbeat.h"
#include "testutil.h"

#define MS 1000 /* microseconds */

START_TEST(seen_when_the_stream_reaches_the_lsn)
{
    pgrepl_hb_track t;
    pgrepl__hb_track_init(&t);
    ck_assert_int_eq(t.lag, -1);
    pgrepl__hb_track_emitted(&t, 1000 * MS);
    /* its LSN is not known yet: nothing can be reached */
    ck_assert(!pgrepl__hb_track_reached(&t, 0x100));
    ck_assert(!pgrepl__hb_track_reached(&t, 0x150));
    ck_assert(!pgrepl__hb_track_returned(&t, 0x200));
    ck_assert(t.pending);
    ck_assert(!pgrepl__hb_track_reached(&t, 0x1ff));
    ck_assert(pgrepl__hb_track_reached(&t, 0x200));
    pgrepl__hb_track_seen(&t, 1010 * MS);
    ck_assert(!t.pending);
    ck_assert_int_eq(t.lag, 10 * MS);
    /* only once */
    ck_assert(!pgrepl__hb_track_reached(&t, 0x300));
    ck_assert_int_eq(t.lag, 10 * MS);
}
END_TEST

START_TEST(reached_before_the_query_returned)
{
    pgrepl_hb_track t;
    pgrepl__hb_track_init(&t);
    pgrepl__hb_track_emitted(&t, 0);
    /* the stream got past the heartbeat before the side connection heard its LSN */
    ck_assert(!pgrepl__hb_track_reached(&t, 0x500));
    ck_assert(pgrepl__hb_track_returned(&t, 0x480));
    pgrepl__hb_track_seen(&t, 5 * MS);
    ck_assert_int_eq(t.lag, 5 * MS);
    ck_assert(!t.pending);
    /* positions the stream already reached do not count twice */
    pgrepl__hb_track_emitted(&t, 6 * MS);
    ck_assert(!pgrepl__hb_track_reached(&t, 0x500));
    ck_assert(!pgrepl__hb_track_returned(&t, 0x510));
    ck_assert(!pgrepl__hb_track_reached(&t, 0x500));
    ck_assert(pgrepl__hb_track_reached(&t, 0x510));
}
END_TEST

START_TEST(restart_forgets_all_but_the_lag)
{
    pgrepl_hb_track t;
    pgrepl__hb_track_init(&t);
    pgrepl__hb_track_emitted(&t, 0);
    ck_assert(!pgrepl__hb_track_returned(&t, 0x200));
    ck_assert(pgrepl__hb_track_reached(&t, 0x900));
    pgrepl__hb_track_seen(&t, 7 * MS);
    pgrepl__hb_track_emitted(&t, 8 * MS);
    pgrepl__hb_track_restart(&t);
    ck_assert(!t.pending);
    ck_assert_uint_eq(t.reached, 0);
    ck_assert_int_eq(t.lag, 7 * MS);
    /* a new connection may start below what the old one reached */
    pgrepl__hb_track_emitted(&t, 10 * MS);
    ck_assert(!pgrepl__hb_track_returned(&t, 0x300));
    ck_assert(pgrepl__hb_track_reached(&t, 0x300));
}
END_TEST

START_TEST(stall_after_the_deadline_once)
{
    const int64_t deadline = 100 * MS;
    pgrepl_hb_track t;
    pgrepl__hb_track_init(&t);
    ck_assert_int_eq(pgrepl__hb_track_stall_due(&t, 0, deadline), -1); /* nothing pending */
    pgrepl__hb_track_emitted(&t, 0);
    /* no LSN yet: the side connection's own timeout covers that */
    ck_assert_int_eq(pgrepl__hb_track_stall_due(&t, 50 * MS, deadline), -1);
    ck_assert(!pgrepl__hb_track_returned(&t, 0x200));
    ck_assert_int_eq(pgrepl__hb_track_stall_due(&t, 40 * MS, deadline), 60 * MS);
    ck_assert(!pgrepl__hb_track_stalled(&t, 99 * MS, deadline));
    ck_assert(pgrepl__hb_track_stalled(&t, 100 * MS, deadline));
    ck_assert(!pgrepl__hb_track_stalled(&t, 500 * MS, deadline));
    ck_assert_int_eq(pgrepl__hb_track_stall_due(&t, 500 * MS, deadline), -1);
    /* seen late: the lag says how late; the next heartbeat may stall again */
    ck_assert(pgrepl__hb_track_reached(&t, 0x200));
    pgrepl__hb_track_seen(&t, 700 * MS);
    ck_assert_int_eq(t.lag, 700 * MS);
    pgrepl__hb_track_emitted(&t, 800 * MS);
    ck_assert(!pgrepl__hb_track_returned(&t, 0x300));
    ck_assert(pgrepl__hb_track_stalled(&t, 900 * MS, deadline));
    /* deadline 0: never */
    pgrepl__hb_track_emitted(&t, 1000 * MS);
    ck_assert(!pgrepl__hb_track_returned(&t, 0x400));
    ck_assert(!pgrepl__hb_track_stalled(&t, 100000 * MS, 0));
}
END_TEST

/* A stream that moved since the heartbeat was emitted (or since a hold ended) is behind, not stalled. */
START_TEST(moving_is_behind_not_stalled)
{
    pgrepl_hb_track t;
    pgrepl__hb_track_init(&t);
    ck_assert(!pgrepl__hb_track_reached(&t, 0x100));
    pgrepl__hb_track_emitted(&t, 0);
    ck_assert(!pgrepl__hb_track_returned(&t, 0x900));
    ck_assert(!pgrepl__hb_track_moving(&t));
    ck_assert(!pgrepl__hb_track_reached(&t, 0x400));
    ck_assert(pgrepl__hb_track_moving(&t));
    /* a hold that ends starts the deadline, and the measure of movement, afresh */
    pgrepl__hb_track_hold(&t, true, 10 * MS);
    pgrepl__hb_track_hold(&t, false, 20 * MS);
    ck_assert(!pgrepl__hb_track_moving(&t));
    /* the next heartbeat starts from where the stream is */
    ck_assert(pgrepl__hb_track_reached(&t, 0x900));
    pgrepl__hb_track_seen(&t, 30 * MS);
    pgrepl__hb_track_emitted(&t, 40 * MS);
    ck_assert(!pgrepl__hb_track_moving(&t));
}
END_TEST

START_TEST(a_hold_restarts_the_deadline)
{
    const int64_t deadline = 100 * MS;
    pgrepl_hb_track t;
    pgrepl__hb_track_init(&t);
    pgrepl__hb_track_emitted(&t, 0);
    ck_assert(!pgrepl__hb_track_returned(&t, 0x200));
    pgrepl__hb_track_hold(&t, true, 10 * MS);
    /* paused by the application: no stall however long */
    ck_assert(!pgrepl__hb_track_stalled(&t, 1000 * MS, deadline));
    ck_assert_int_eq(pgrepl__hb_track_stall_due(&t, 1000 * MS, deadline), -1);
    pgrepl__hb_track_hold(&t, false, 1000 * MS);
    /* the deadline counts from the resume */
    ck_assert(!pgrepl__hb_track_stalled(&t, 1099 * MS, deadline));
    ck_assert(pgrepl__hb_track_stalled(&t, 1100 * MS, deadline));
    /* the lag is still emit to seen */
    ck_assert(pgrepl__hb_track_reached(&t, 0x200));
    pgrepl__hb_track_seen(&t, 1200 * MS);
    ck_assert_int_eq(t.lag, 1200 * MS);
}
END_TEST

START_TEST(abandoned_heartbeat_is_not_pending)
{
    pgrepl_hb_track t;
    pgrepl__hb_track_init(&t);
    pgrepl__hb_track_emitted(&t, 0);
    pgrepl__hb_track_abandon(&t);
    ck_assert(!t.pending);
    ck_assert(!pgrepl__hb_track_returned(&t, 0x10));
    ck_assert(!pgrepl__hb_track_reached(&t, 0x10));
    ck_assert_int_eq(t.lag, -1);
}
END_TEST

START_TEST(backoff_doubles_up_to_a_cap)
{
    ck_assert_uint_eq(pgrepl__hb_backoff_ms(1), 1000);
    ck_assert_uint_eq(pgrepl__hb_backoff_ms(2), 2000);
    ck_assert_uint_eq(pgrepl__hb_backoff_ms(3), 4000);
    ck_assert_uint_eq(pgrepl__hb_backoff_ms(5), 16000);
    ck_assert_uint_eq(pgrepl__hb_backoff_ms(6), 30000);
    ck_assert_uint_eq(pgrepl__hb_backoff_ms(1000), 30000);
}
END_TEST

static int n_closed;

static void on_closed(pgrepl_stream *s)
{
    (void)s;
    n_closed++;
}

START_TEST(setters_and_close_without_a_server)
{
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    pgrepl_stream *s = pgrepl_stream_new(&loop);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(pgrepl_stream_heartbeat_lag_us(s), -1);
    ck_assert_int_eq(pgrepl_stream_heartbeat_lag_us(NULL), -1);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_interval(s, 0), 0);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_interval(s, 250), 0);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_interval(s, (UINT64_C(1) << 40) + 1), PGREPL_EINVAL);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_interval(NULL, 250), PGREPL_EINVAL);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_deadline(s, 0), 0);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_deadline(s, 5000), 0);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_deadline(s, (UINT64_C(1) << 40) + 1), PGREPL_EINVAL);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_prefix(s, "my.hb"), 0);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_prefix(s, ""), PGREPL_EINVAL);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_prefix(s, NULL), PGREPL_EINVAL);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_prefix(NULL, "x"), PGREPL_EINVAL);
    ck_assert_int_eq(pgrepl_stream_set_deliver_heartbeats(s, true), 0);
    ck_assert_int_eq(pgrepl_stream_set_deliver_heartbeats(NULL, true), PGREPL_EINVAL);
    ck_assert_int_eq(pgrepl_stream_set_idle_advance(s, false), 0);
    ck_assert_int_eq(pgrepl_stream_set_idle_advance(NULL, false), PGREPL_EINVAL);
    ck_assert_int_eq(pgrepl_stream_set_read_batch(s, 0, 0), 0);
    ck_assert_int_eq(pgrepl_stream_set_read_batch(s, 1024, 200), 0);
    ck_assert_int_eq(pgrepl_stream_set_read_batch(s, 1 << 20, 100000), 0);
    ck_assert_int_eq(pgrepl_stream_set_read_batch(s, 1024, 0), PGREPL_EINVAL);
    ck_assert_int_eq(pgrepl_stream_set_read_batch(s, 1024, 100001), PGREPL_EINVAL);
    ck_assert_int_eq(pgrepl_stream_set_read_batch(s, (1 << 20) + 1, 200), PGREPL_EINVAL);
    ck_assert_int_eq(pgrepl_stream_set_read_batch(NULL, 1024, 200), PGREPL_EINVAL);
    /* configuration only while STOPPED: a pending start is not */
    ck_assert_int_eq(pgrepl_stream_connect(s), 0);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_interval(s, 1000), PGREPL_ESTATE);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_prefix(s, "x"), PGREPL_ESTATE);
    ck_assert_int_eq(pgrepl_stream_set_heartbeat_deadline(s, 1000), PGREPL_ESTATE);
    ck_assert_int_eq(pgrepl_stream_set_deliver_heartbeats(s, false), PGREPL_ESTATE);
    ck_assert_int_eq(pgrepl_stream_set_idle_advance(s, true), PGREPL_ESTATE);
    n_closed = 0;
    ck_assert_int_eq(pgrepl_stream_close(s, on_closed), 0);
    ck_assert_int_eq(n_closed, 0);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(n_closed, 1);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(behind_error_code)
{
    ck_assert_str_eq(pgrepl_err_name(PGREPL_EBEHIND), "PGREPL_EBEHIND");
    ck_assert_str_eq(pgrepl_strerror(PGREPL_EBEHIND), "stream behind");
    ck_assert_int_eq(pgrepl_err_is_fatal(PGREPL_EBEHIND), 0);
}
END_TEST

START_TEST(stalled_error_code)
{
    ck_assert_str_eq(pgrepl_err_name(PGREPL_ESTALLED), "PGREPL_ESTALLED");
    ck_assert_str_eq(pgrepl_strerror(PGREPL_ESTALLED), "stream stalled");
    ck_assert_int_eq(pgrepl_err_is_fatal(PGREPL_ESTALLED), 0);
}
END_TEST

static Suite *heartbeat_suite(void)
{
    Suite *s = suite_create("heartbeat");
    TCase *tc = tcase_create("track");
    tcase_add_test(tc, seen_when_the_stream_reaches_the_lsn);
    tcase_add_test(tc, reached_before_the_query_returned);
    tcase_add_test(tc, restart_forgets_all_but_the_lag);
    tcase_add_test(tc, stall_after_the_deadline_once);
    tcase_add_test(tc, a_hold_restarts_the_deadline);
    tcase_add_test(tc, moving_is_behind_not_stalled);
    tcase_add_test(tc, abandoned_heartbeat_is_not_pending);
    tcase_add_test(tc, backoff_doubles_up_to_a_cap);
    suite_add_tcase(s, tc);
    TCase *api = tcase_create("api");
    tcase_add_test(api, setters_and_close_without_a_server);
    tcase_add_test(api, stalled_error_code);
    tcase_add_test(api, behind_error_code);
    suite_add_tcase(s, api);
    return s;
}

int main(void)
{
    return pgrepl_test_run_suite(heartbeat_suite());
}
