/* Built against the installed library with only `pkg-config pgrepl`: the
 * decoder and a session on a host of its own, with no libuv anywhere. */
#include <stdint.h>
#include <stdio.h>

#include <pgrepl/pgrepl.h>

static int watch(void *arg, int fd, unsigned events)
{
    (void)arg;
    (void)fd;
    (void)events;
    return 0;
}

static int timer(void *arg, int64_t timeout_us)
{
    (void)arg;
    (void)timeout_us;
    return 0;
}

int main(void)
{
    pgrepl_decoder *dec = pgrepl_decoder_new(NULL, 0, NULL);
    const pgrepl_session_host host = {.watch = watch, .timer = timer};
    pgrepl_session *s = pgrepl_session_new(&host);
    if (dec == NULL || s == NULL || pgrepl_session_set_slot(s, "installed") != 0)
        return 1;
    pgrepl_session_free(s);
    pgrepl_decoder_free(dec);
    printf("%s\n", pgrepl_version_string());
    return pgrepl_version() == PGREPL_VERSION_NUM ? 0 : 1;
}
