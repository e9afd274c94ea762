/*
 * Where a report of pgrepl-slots goes: standard output, or --output FILE,
 * which each report replaces whole.
 *
 * A reader of FILE (a Prometheus textfile collector, a script) must never see
 * half a report, and a crash must leave the last report or the one before it,
 * never an empty file. So a report is written to a temporary file in FILE's
 * directory (rename(2) is atomic only within one file system), fsynced,
 * renamed over FILE, and the directory is fsynced so that the rename lasts.
 * The temporary file's name comes from mkstemp(3): two runs writing the same
 * FILE (cron overlapping a --watch) each have their own.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slots.h"

static void failed(const char *path, const char *what)
{
    slots_error("cannot write \"%s\": %s: %s", path, what, strerror(errno));
}

/* Report what failed, with errno, and remove the temporary file. Returns -1. */
static int fail(slots_output *o, const char *what)
{
    failed(o->path, what);
    if (o->f != NULL)
        fclose(o->f);
    unlink(o->tmp);
    free(o->tmp);
    o->tmp = NULL;
    o->f = NULL;
    return -1;
}

FILE *slots_output_begin(slots_output *o, const char *path)
{
    memset(o, 0, sizeof *o);
    o->path = path;
    if (path == NULL)
        return o->f = stdout;
    size_t size = strlen(path) + sizeof ".tmp.XXXXXX";
    if ((o->tmp = malloc(size)) == NULL) {
        slots_error("out of memory");
        return NULL;
    }
    snprintf(o->tmp, size, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        failed(path, "cannot create a temporary file in its directory");
        free(o->tmp);
        o->tmp = NULL;
        return NULL;
    }
    /* mkstemp makes the file 0600; a report is for others to read, so it gets
     * what open(2) would give a new file: 0666 less the umask. */
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0 || (o->f = fdopen(fd, "w")) == NULL) {
        close(fd);
        fail(o, "cannot set up its temporary file");
        return NULL;
    }
    return o->f;
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

int slots_output_commit(slots_output *o)
{
    if (o->path == NULL) {
        if (fflush(stdout) == 0 && !ferror(stdout))
            return 0;
        slots_error("cannot write the report to standard output: %s", strerror(errno));
        return -1;
    }
    if (fflush(o->f) != 0 || ferror(o->f))
        return fail(o, "cannot write its temporary file");
    if (fsync(fileno(o->f)) != 0)
        return fail(o, "cannot fsync its temporary file");
    int rc = fclose(o->f);
    o->f = NULL;
    if (rc != 0)
        return fail(o, "cannot write its temporary file");
    if (rename(o->tmp, o->path) != 0)
        return fail(o, "cannot rename its temporary file over it");
    free(o->tmp);
    o->tmp = NULL;
    if (sync_directory(o->path) != 0) {
        failed(o->path, "cannot fsync its directory");
        return -1;
    }
    return 0;
}
