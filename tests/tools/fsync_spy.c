/*
 * fsync_spy: an LD_PRELOAD library for the fault tests. After every fsync()
 * and fdatasync() that succeeds it appends "<path> <size>\n" to the file
 * named by PGREPL_FSYNC_LOG: the file's path (from /proc/self/fd) and its
 * size then, which is what is on disk. A test compares the slot's confirmed
 * position with the output as it was at the last fsync before it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fsync(int fd);
int fdatasync(int fd);

static void record(int fd)
{
    const char *log = getenv("PGREPL_FSYNC_LOG");
    struct stat st;
    if (log == NULL || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 0)
        return;
    path[n] = '\0';
    char line[4200];
    int len = snprintf(line, sizeof line, "%s %lld\n", path, (long long)st.st_size);
    int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out < 0)
        return;
    /* one write with O_APPEND: a reader never sees half a line */
    if (write(out, line, (size_t)len) != len)
        (void)0;
    close(out);
}

static int call(const char *name, int fd)
{
    int (*real)(int) = NULL;
    /* POSIX's way to turn dlsym's object pointer into a function pointer */
    void *sym = dlsym(RTLD_NEXT, name);
    memcpy(&real, &sym, sizeof real);
    if (real == NULL)
        return -1;
    int rc = real(fd);
    if (rc == 0)
        record(fd);
    return rc;
}

int fsync(int fd)
{
    return call("fsync", fd);
}

int fdatasync(int fd)
{
    return call("fdatasync", fd);
}
