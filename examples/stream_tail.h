/*
 * The end of an output file pgrepl-stream appends to (stream_tail.c): what
 * a run that stopped mid-write left there. Reads only, apart from the
 * program, so that it can be tested without a server.
 */
#ifndef PGREPL_EXAMPLES_STREAM_TAIL_H
#define PGREPL_EXAMPLES_STREAM_TAIL_H

#include <sys/types.h>

#define TAIL_EIO (-1)     /* a read failed (errno says why) */
#define TAIL_FOREIGN (-2) /* what would be cut off is not pgrepl-stream's output */

typedef struct tail_info {
    off_t keep; /* the length to keep: up to the last newline */
    off_t torn; /* the bytes after it (a line cut short), 0 when the file ends with a newline */
} tail_info;

/*
 * Read the end of the file open for reading as fd, size bytes long, into
 * *t. Returns 0, TAIL_EIO or TAIL_FOREIGN (a torn line that does not start
 * like one of pgrepl-stream's: the file is someone else's).
 */
int tail_read(int fd, off_t size, tail_info *t);

#endif
