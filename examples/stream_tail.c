/* The end of an output file pgrepl-stream appends to; see stream_tail.h. */
#include "stream_tail.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define CHUNK 65536

/* Every line pgrepl-stream prints starts so. */
static const char line_start[] = "{\"action\":\"";

static int read_at(int fd, char *buf, size_t n, off_t at)
{
    while (n > 0) {
        ssize_t k = pread(fd, buf, n, at);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k == 0)
                errno = EIO; /* the file shrank under us */
            return TAIL_EIO;
        }
        buf += k;
        n -= (size_t)k;
        at += k;
    }
    return 0;
}

/* The offset just after the last '\n' in the first end bytes of the file (0 when there is none), or TAIL_EIO. */
static off_t after_last_newline(int fd, off_t end)
{
    char buf[CHUNK];
    while (end > 0) {
        size_t n = end > CHUNK ? CHUNK : (size_t)end;
        if (read_at(fd, buf, n, end - (off_t)n) != 0)
            return TAIL_EIO;
        for (size_t i = n; i > 0; i--)
            if (buf[i - 1] == '\n')
                return end - (off_t)n + (off_t)i;
        end -= (off_t)n;
    }
    return 0;
}

int tail_read(int fd, off_t size, tail_info *t)
{
    off_t keep = after_last_newline(fd, size);
    if (keep < 0)
        return TAIL_EIO;
    if (keep < size) {
        char head[sizeof line_start - 1];
        size_t n = size - keep < (off_t)sizeof head ? (size_t)(size - keep) : sizeof head;
        if (read_at(fd, head, n, keep) != 0)
            return TAIL_EIO;
        if (memcmp(head, line_start, n) != 0)
            return TAIL_FOREIGN;
    }
    t->keep = keep;
    t->torn = size - keep;
    return 0;
}
