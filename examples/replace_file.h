/*
 * A file replaced whole, for reports that others read while they change
 * (pgrepl-slots --output, pgrepl-stream --metrics-file).
 *
 * A reader must never see half a file, and a crash must leave the last
 * version or the one before it, never an empty file. So the new content is
 * written to a temporary file in the same directory (rename(2) is atomic
 * only within one file system), fsynced, renamed over the file, and the
 * directory is fsynced so that the rename lasts. The temporary file's name
 * comes from mkstemp(3): two writers of the same file each have their own.
 */
#ifndef PGREPL_EXAMPLES_REPLACE_FILE_H
#define PGREPL_EXAMPLES_REPLACE_FILE_H

#include <stdio.h>

typedef struct replace_file {
    const char *path;
    char *tmp;       /* the temporary file beside path while the content is written */
    FILE *f;
    const char *why; /* after a failure: which step failed ("cannot fsync its temporary file") */
    int err;         /* and its errno (0 for out of memory) */
} replace_file;

/*
 * Start replacing PATH. Returns the stream to write the content on, or NULL
 * with r->why and r->err set (nothing is left behind). A stream returned
 * must be given to replace_file_commit.
 */
FILE *replace_file_begin(replace_file *r, const char *path);

/*
 * Finish: fsync the temporary file, rename it over PATH and fsync PATH's
 * directory. Returns 0, or -1 with r->why and r->err set; PATH is then as it
 * was (unless only the directory's fsync failed) and no temporary file is
 * left.
 */
int replace_file_commit(replace_file *r);

#endif
