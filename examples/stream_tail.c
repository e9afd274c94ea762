/* The end of an output file pgrepl-stream appends to; see stream_tail.h. */
#include "stream_tail.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#define CHUNK 65536
/* Enough of a line for its action and position: they come before any value of variable length. */
#define HEAD 256

/* Every line pgrepl-stream prints starts so, and the action letter and a quote follow. */
static const char line_start[] = "{\"action\":\"";

/* The file read backwards, a chunk at a time: buf holds the bytes from base on. */
typedef struct back_reader {
    int fd;
    off_t base;
    size_t len;
    char buf[CHUNK];
} back_reader;

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

/* The offset just after the last '\n' before end (0 when there is none), or TAIL_EIO. */
static off_t after_newline_before(back_reader *r, off_t end)
{
    while (end > 0) {
        if (end <= r->base || end > r->base + (off_t)r->len) {
            r->len = end > CHUNK ? CHUNK : (size_t)end;
            r->base = end - (off_t)r->len;
            if (read_at(r->fd, r->buf, r->len, r->base) != 0)
                return TAIL_EIO;
        }
        for (off_t i = end; i > r->base; i--)
            if (r->buf[i - 1 - r->base] == '\n')
                return i;
        end = r->base;
    }
    return 0;
}

/* The LSN after key in head (n bytes), "X/X" up to its closing quote. */
static bool lsn_after(const char *head, size_t n, const char *key, pgrepl_lsn *lsn)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i + klen < n; i++) {
        if (memcmp(head + i, key, klen) != 0)
            continue;
        const char *p = head + i + klen, *q = memchr(p, '"', n - i - klen);
        char text[PGREPL_LSN_BUFSIZE];
        if (q == NULL || (size_t)(q - p) >= sizeof text)
            return false;
        memcpy(text, p, (size_t)(q - p));
        text[q - p] = '\0';
        return pgrepl_lsn_parse(text, lsn) == 0;
    }
    return false;
}

/*
 * What the line starting with head (n bytes) is: 1 for a unit's last line
 * (*resume set), 0 for another of pgrepl-stream's lines, TAIL_FOREIGN.
 */
static int classify_line(const char *head, size_t n, pgrepl_lsn *resume)
{
    static const char nontransactional[] = ",\"xid\":null,";
    size_t at = sizeof line_start - 1;
    if (n < at + 2 || memcmp(head, line_start, at) != 0 || head[at + 1] != '"')
        return TAIL_FOREIGN;
    char action = head[at];
    if (strchr("CPpKr", action) != NULL)
        return lsn_after(head, n, "\"nextlsn\":\"", resume) ? 1 : TAIL_FOREIGN;
    if (action != 'M' || n < at + 2 + sizeof nontransactional - 1 ||
        memcmp(head + at + 2, nontransactional, sizeof nontransactional - 1) != 0)
        return 0;
    /* acknowledged at its lsn, which the server would send again: resume just after it */
    if (!lsn_after(head, n, "\"lsn\":\"", resume))
        return TAIL_FOREIGN;
    *resume += 1;
    return 1;
}

/* The first bytes of the line at start (before end), from r's chunk when it holds them. */
static int line_head(back_reader *r, off_t start, off_t end, char *head, size_t *n)
{
    *n = end - start < HEAD ? (size_t)(end - start) : HEAD;
    if (start >= r->base && start + (off_t)*n <= r->base + (off_t)r->len) {
        memcpy(head, r->buf + (start - r->base), *n);
        return 0;
    }
    return read_at(r->fd, head, *n, start);
}

int tail_read(int fd, off_t size, tail_info *t)
{
    back_reader r = {.fd = fd};
    *t = (tail_info){0};
    off_t end = after_newline_before(&r, size);
    if (end < 0)
        return TAIL_EIO;
    t->torn = size - end;
    char head[HEAD];
    size_t n;
    if (t->torn > 0) {
        if (line_head(&r, end, size, head, &n) != 0)
            return TAIL_EIO;
        /* a line cut short: what there is of it must start as ours */
        size_t cmp = n < sizeof line_start - 1 ? n : sizeof line_start - 1;
        if (memcmp(head, line_start, cmp) != 0)
            return TAIL_FOREIGN;
    }
    /* whole lines from the last: [start, end) with its newline */
    while (end > 0) {
        off_t start = after_newline_before(&r, end - 1);
        if (start < 0 || line_head(&r, start, end, head, &n) != 0)
            return TAIL_EIO;
        int rc = classify_line(head, n, &t->resume);
        if (rc < 0)
            return rc;
        if (rc == 1)
            break;
        t->cut_lines++;
        end = start;
    }
    t->keep = end;
    return 0;
}
