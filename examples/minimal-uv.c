/*
 * minimal-uv: a complete consumer on a libuv loop. Prints every insert, update and delete as one line,
 * acknowledges each transaction once its lines are written, and stops cleanly on Ctrl-C (the server learns
 * what was acknowledged; the next run starts after it). The publication and the pgoutput slot must exist:
 *
 *   minimal-uv "host=/tmp dbname=app" app_slot app_pub
 */
#include <signal.h>
#include <stdio.h>

#include "pgrepl/pgrepl.h"
#include "pgrepl/uv.h"

static uv_signal_t sigint;
static bool stopping;
static int exit_code;
static pgrepl_buf text; /* one value's text, reused */

/* "INSERT public.items id=1 v=one". Values point into the message: use them before returning. */
static int print_change(const char *action, const pgrepl_msg_change *m)
{
    const pgrepl_tuple *row = m->new_tuple != NULL ? m->new_tuple : m->old_tuple; /* a delete has the old only */
    printf("%s %s.%s", action, m->rel->schema, m->rel->name);
    for (int i = 0; row != NULL && i < row->ncolumns; i++) {
        const pgrepl_column *col = &m->rel->columns[i];
        const pgrepl_value *v = &row->values[i];
        if (row == m->old_tuple && m->old_kind == 'K' && !(col->flags & PGREPL_COLUMN_KEY))
            continue; /* an old key has values for the key columns only */
        text.len = 0;
        if (v->kind == PGREPL_VALUE_NULL || v->kind == PGREPL_VALUE_UNCHANGED) /* unchanged: TOAST not sent */
            printf(" %s=%s", col->name, v->kind == PGREPL_VALUE_NULL ? "NULL" : "(unchanged)");
        else if (pgrepl_value_to_text(&text, col, v) == 0)
            printf(" %s=%.*s", col->name, (int)text.len, text.data);
        else
            printf(" %s=(%s)", col->name, pgrepl_render_errmsg());
    }
    printf("\n");
    return 0;
}

static int on_insert(void *ud, const pgrepl_msg_change *m) { (void)ud; return print_change("INSERT", m); }
static int on_update(void *ud, const pgrepl_msg_change *m) { (void)ud; return print_change("UPDATE", m); }
static int on_delete(void *ud, const pgrepl_msg_change *m) { (void)ud; return print_change("DELETE", m); }

/* The transaction's lines are out: acknowledge it, so the server may confirm it and recycle its WAL. */
static int on_commit(void *ud, const pgrepl_msg_commit *m)
{
    if (fflush(stdout) != 0)
        return -1; /* a failed callback stops the stream: nothing after it is acknowledged */
    return pgrepl_stream_ack(ud, m->end_lsn);
}

static void close_all(pgrepl_stream *s)
{
    if (!uv_is_closing((uv_handle_t *)&sigint))
        uv_close((uv_handle_t *)&sigint, NULL);
    pgrepl_stream_close(s, NULL); /* when its handles are closed too, uv_run returns */
}

/* Graceful: a final status update with what was acknowledged, then STOPPED. */
static void on_sigint(uv_signal_t *h, int signum)
{
    (void)signum;
    stopping = true;
    pgrepl_stream_stop_replication(h->data);
}

static void on_state(pgrepl_stream *s, pgrepl_stream_state state)
{
    if (state == PGREPL_STREAM_STOPPED && stopping)
        close_all(s);
}

static void on_error(pgrepl_stream *s, const pgrepl_error *err)
{
    fprintf(stderr, "minimal-uv: %s\n", err->message);
    if (err->retrying)
        return; /* it reconnects by itself */
    exit_code = 1;
    close_all(s);
}

static const pgrepl_decoder_callbacks decoder_cbs = {
    .on_insert = on_insert, .on_update = on_update, .on_delete = on_delete, .on_commit = on_commit};
static const pgrepl_stream_callbacks stream_cbs = {.on_state = on_state, .on_error = on_error};

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: minimal-uv CONNINFO SLOT PUBLICATION\n");
        return 2;
    }
    uv_loop_t *loop = uv_default_loop();
    pgrepl_stream *s = pgrepl_stream_new(loop);
    if (s == NULL)
        return 1;
    pgrepl_stream_set_data(s, s); /* the decoder callbacks' ud: on_commit acknowledges on the stream */
    uv_signal_init(loop, &sigint);
    sigint.data = s;
    uv_signal_start(&sigint, on_sigint, SIGINT);

    int rc = pgrepl_stream_set_conninfo(s, argv[1]);
    if (rc == 0)
        rc = pgrepl_stream_set_slot(s, argv[2]);
    if (rc == 0)
        rc = pgrepl_stream_add_publication(s, argv[3]);
    if (rc == 0)
        rc = pgrepl_stream_set_callbacks(s, &decoder_cbs, sizeof decoder_cbs, &stream_cbs, sizeof stream_cbs);
    if (rc == 0)
        rc = pgrepl_stream_start_replication(s); /* returns at once: the rest happens in uv_run */
    if (rc != 0) {
        fprintf(stderr, "minimal-uv: %s\n", *pgrepl_stream_errmsg(s) ? pgrepl_stream_errmsg(s) : pgrepl_strerror(rc));
        exit_code = 1;
        close_all(s);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    pgrepl_buf_free(&text);
    uv_loop_close(loop);
    return exit_code;
}
