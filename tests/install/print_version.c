/* Built against the installed library with only pkg-config's flags: uses the
 * decoder and the libuv stream so both halves of the link are exercised. */
#include <stdio.h>

#include <pgrepl/pgrepl.h>
#include <pgrepl/uv.h>

static int closed;

static void on_close(pgrepl_stream *s)
{
    (void)s;
    closed = 1;
}

int main(void)
{
    pgrepl_decoder *dec = pgrepl_decoder_new(NULL, 0, NULL);
    uv_loop_t loop;
    if (dec == NULL || uv_loop_init(&loop) != 0)
        return 1;
    pgrepl_stream *s = pgrepl_stream_new(&loop);
    if (s == NULL || pgrepl_stream_close(s, on_close) != 0)
        return 1;
    uv_run(&loop, UV_RUN_DEFAULT);
    if (!closed || uv_loop_close(&loop) != 0)
        return 1;
    pgrepl_decoder_free(dec);
    printf("%s\n", pgrepl_version_string());
    return pgrepl_version() == PGREPL_VERSION_NUM ? 0 : 1;
}
