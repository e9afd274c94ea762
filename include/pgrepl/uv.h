/*
 * pgrepl/uv.h - the replication stream on a libuv loop (the libuv binding).
 *
 * A pgrepl_stream is a pgrepl_session (pgrepl/session.h) whose host is a
 * uv_loop_t: this binding watches the session's sockets with uv_poll_t
 * handles, keeps its timer with a uv_timer_t (and, on Linux, a timerfd for
 * the sub-millisecond pauses of read batching), and closes them all before
 * close_cb runs. Link with pkg-config's pgrepl-uv (libpgrepl-uv and
 * libuv); a program that brings its own event loop needs only pgrepl.
 *
 * Lifecycle (libuv style):
 *
 *   s = pgrepl_stream_new(loop);          configure with pgrepl_stream_set_*()
 *   pgrepl_stream_start_replication(s);   connect ... START_REPLICATION
 *   ... callbacks run from uv_run() ...
 *   pgrepl_stream_stop_replication(s);    graceful: final status update, CopyDone, drain
 *   pgrepl_stream_close(s, close_cb);     releases everything; close_cb runs last,
 *                                         after it the stream's memory is gone
 *
 * After close_cb has run the stream has no handle left on the loop, so
 * uv_loop_close() succeeds. Every other function is the session's, under
 * the pgrepl_stream_* names of earlier releases (the macros below), with
 * the session's documentation; callbacks run from inside uv_run().
 *
 * Building: <uv.h> needs POSIX declarations (pthread types) that a strict
 * -std=c11 hides; compile with the compiler's default dialect (gnu11, gnu17)
 * or define _POSIX_C_SOURCE=200809L.
 */
#ifndef PGREPL_UV_H
#define PGREPL_UV_H

#include <uv.h>

#include <pgrepl/session.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef pgrepl_session pgrepl_stream;
typedef pgrepl_session_callbacks pgrepl_stream_callbacks;

/*
 * Create a stream on loop. Returns NULL when out of memory (or loop is
 * NULL). Nothing touches the loop until pgrepl_stream_start_replication()
 * or _connect().
 */
PGREPL_EXTERN pgrepl_stream *pgrepl_stream_new(uv_loop_t *loop);
/*
 * Release everything, now: the connection is closed without a final status
 * update, queued slot commands are completed with PGREPL_ECANCELED, then
 * close_cb (may be NULL) runs once every uv handle is closed, and the stream
 * is freed after close_cb returns. close_cb always runs from the loop, never
 * from inside this call (even for a stream that never started): run the loop
 * after closing. Safe from callbacks; a second call is ignored. Returns 0,
 * PGREPL_EINVAL for NULL.
 */
PGREPL_EXTERN int pgrepl_stream_close(pgrepl_stream *s, void (*close_cb)(pgrepl_stream *s));
/* The stream's loop. */
PGREPL_EXTERN uv_loop_t *pgrepl_stream_loop(const pgrepl_stream *s);

/* The session's functions under their pgrepl_stream_* names (start and stop keep their _replication suffix). */
#define pgrepl_stream_ack pgrepl_session_ack
#define pgrepl_stream_acked_lsn pgrepl_session_acked_lsn
#define pgrepl_stream_add_publication pgrepl_session_add_publication
#define pgrepl_stream_connect pgrepl_session_connect
#define pgrepl_stream_create_slot pgrepl_session_create_slot
#define pgrepl_stream_drop_slot pgrepl_session_drop_slot
#define pgrepl_stream_errmsg pgrepl_session_errmsg
#define pgrepl_stream_get_data pgrepl_session_get_data
#define pgrepl_stream_get_state pgrepl_session_get_state
#define pgrepl_stream_heartbeat_lag_us pgrepl_session_heartbeat_lag_us
#define pgrepl_stream_pause pgrepl_session_pause
#define pgrepl_stream_proto_version pgrepl_session_proto_version
#define pgrepl_stream_received_lsn pgrepl_session_received_lsn
#define pgrepl_stream_reconnects pgrepl_session_reconnects
#define pgrepl_stream_reported_lsn pgrepl_session_reported_lsn
#define pgrepl_stream_resume pgrepl_session_resume
#define pgrepl_stream_server_encoding pgrepl_session_server_encoding
#define pgrepl_stream_server_version pgrepl_session_server_version
#define pgrepl_stream_server_xlogpos pgrepl_session_server_xlogpos
#define pgrepl_stream_set_allow_gaps pgrepl_session_set_allow_gaps
#define pgrepl_stream_set_auto_ack pgrepl_session_set_auto_ack
#define pgrepl_stream_set_binary pgrepl_session_set_binary
#define pgrepl_stream_set_callbacks pgrepl_session_set_callbacks
#define pgrepl_stream_set_connect_timeout pgrepl_session_set_connect_timeout
#define pgrepl_stream_set_conninfo pgrepl_session_set_conninfo
#define pgrepl_stream_set_data pgrepl_session_set_data
#define pgrepl_stream_set_deliver_heartbeats pgrepl_session_set_deliver_heartbeats
#define pgrepl_stream_set_durable_lsn pgrepl_session_set_durable_lsn
#define pgrepl_stream_set_heartbeat_deadline pgrepl_session_set_heartbeat_deadline
#define pgrepl_stream_set_heartbeat_interval pgrepl_session_set_heartbeat_interval
#define pgrepl_stream_set_heartbeat_prefix pgrepl_session_set_heartbeat_prefix
#define pgrepl_stream_set_idle_advance pgrepl_session_set_idle_advance
#define pgrepl_stream_set_messages pgrepl_session_set_messages
#define pgrepl_stream_set_origin pgrepl_session_set_origin
#define pgrepl_stream_set_proto_version pgrepl_session_set_proto_version
#define pgrepl_stream_set_read_batch pgrepl_session_set_read_batch
#define pgrepl_stream_set_receive_timeout pgrepl_session_set_receive_timeout
#define pgrepl_stream_set_reconnect pgrepl_session_set_reconnect
#define pgrepl_stream_set_slot pgrepl_session_set_slot
#define pgrepl_stream_set_start_lsn pgrepl_session_set_start_lsn
#define pgrepl_stream_set_status_interval pgrepl_session_set_status_interval
#define pgrepl_stream_set_stop_timeout pgrepl_session_set_stop_timeout
#define pgrepl_stream_set_streaming pgrepl_session_set_streaming
#define pgrepl_stream_set_two_phase pgrepl_session_set_two_phase
#define pgrepl_stream_slot_info pgrepl_session_slot_info
#define pgrepl_stream_snapshot_done pgrepl_session_snapshot_done
#define pgrepl_stream_sqlstate pgrepl_session_sqlstate
#define pgrepl_stream_start_replication pgrepl_session_start
#define pgrepl_stream_stop_replication pgrepl_session_stop
#define pgrepl_stream_system_id pgrepl_session_system_id
#define pgrepl_stream_timeline pgrepl_session_timeline
#define pgrepl_stream_wal_sender_timeout_ms pgrepl_session_wal_sender_timeout_ms

#ifdef __cplusplus
}
#endif

#endif
