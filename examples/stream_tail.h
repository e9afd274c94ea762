/*
 * The end of an output file pgrepl-stream appends to (stream_tail.c): what
 * a run that stopped mid-write left there, and where its last whole unit
 * ends. Reads only, apart from the program, so that it can be tested
 * without a server.
 */
#ifndef PGREPL_EXAMPLES_STREAM_TAIL_H
#define PGREPL_EXAMPLES_STREAM_TAIL_H

#include <stdint.h>
#include <sys/types.h>

#include <pgrepl/pgrepl.h>

#define TAIL_EIO (-1)     /* a read failed (errno says why) */
#define TAIL_FOREIGN (-2) /* what would be cut off, or the last unit's line, is not pgrepl-stream's */

typedef struct tail_info {
    off_t keep;         /* the length to keep: up to the end of the last unit's line */
    off_t torn;         /* bytes after the last newline (a line cut short), 0 when the file ends with one */
    uint64_t cut_lines; /* whole lines after the last unit (of a transaction cut off) */
    pgrepl_lsn resume;  /* where the last unit ends, to resume after it; 0 when the file holds none */
} tail_info;

/*
 * Read the end of the file open for reading as fd, size bytes long, into
 * *t. A unit is what pgrepl-stream acknowledges as one: its last line is a
 * C, P, p, K or r line (resume at its "nextlsn") or a non-transactional M
 * line (resume just after its "lsn"). Everything after the last one (a
 * transaction or streamed block cut off, a torn line) was never
 * acknowledged and is to be cut off. Returns 0, TAIL_EIO, or TAIL_FOREIGN
 * (a line that does not start as pgrepl-stream's do, or a last unit's line
 * without its position: the file is someone else's).
 */
int tail_read(int fd, off_t size, tail_info *t);

#endif
