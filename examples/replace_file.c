/* A file replaced whole: see replace_file.h. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replace_file.h"

/* Record what failed, and remove the temporary file. Returns -1. */
static int fail(replace_file *r, const char *why)
{
    r->why = why;
    r->err = errno;
    if (r->f != NULL)
        fclose(r->f);
    r->f = NULL;
    if (r->tmp != NULL)
        unlink(r->tmp);
    free(r->tmp);
    r->tmp = NULL;
    return -1;
}

FILE *replace_file_begin(replace_file *r, const char *path)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    size_t size = strlen(path) + sizeof ".tmp.XXXXXX";
    if ((r->tmp = malloc(size)) == NULL) {
        errno = 0;
        fail(r, "out of memory");
        return NULL;
    }
    snprintf(r->tmp, size, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(r->tmp);
    if (fd < 0) {
        free(r->tmp);
        r->tmp = NULL;
        fail(r, "cannot create a temporary file in its directory");
        return NULL;
    }
    /* mkstemp makes the file 0600; a report is for others to read, so it gets
     * what open(2) would give a new file: 0666 less the umask. */
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0 || (r->f = fdopen(fd, "w")) == NULL) {
        int err = errno;
        close(fd);
        errno = err;
        fail(r, "cannot set up its temporary file");
        return NULL;
    }
    return r->f;
}

/* fsync the directory PATH is in, so that a rename into it survives a crash. */
static int sync_directory(const char *path)
{
    char *copy = strdup(path);
    if (copy == NULL)
        return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
    int err = errno;
    if (fd >= 0)
        close(fd);
    free(copy);
    errno = err;
    return rc;
}

int replace_file_commit(replace_file *r)
{
    if (fflush(r->f) != 0 || ferror(r->f))
        return fail(r, "cannot write its temporary file");
    if (fsync(fileno(r->f)) != 0)
        return fail(r, "cannot fsync its temporary file");
    int rc = fclose(r->f);
    r->f = NULL;
    if (rc != 0)
        return fail(r, "cannot write its temporary file");
    if (rename(r->tmp, r->path) != 0)
        return fail(r, "cannot rename its temporary file over it");
    free(r->tmp);
    r->tmp = NULL;
    if (sync_directory(r->path) != 0) {
        r->why = "cannot fsync its directory";
        r->err = errno;
        return -1;
    }
    return 0;
}
