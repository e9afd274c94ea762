/*
 * Where a report of pgrepl-slots goes: standard output, or --output FILE,
 * which each report replaces whole (replace_file.h).
 */
#include <errno.h>
#include <string.h>

#include "slots.h"

static void failed(const slots_output *o)
{
    if (o->file.err != 0)
        slots_error("cannot write \"%s\": %s: %s", o->path, o->file.why, strerror(o->file.err));
    else
        slots_error("cannot write \"%s\": %s", o->path, o->file.why);
}

FILE *slots_output_begin(slots_output *o, const char *path)
{
    memset(o, 0, sizeof *o);
    o->path = path;
    if (path == NULL)
        return stdout;
    FILE *f = replace_file_begin(&o->file, path);
    if (f == NULL)
        failed(o);
    return f;
}

int slots_output_commit(slots_output *o)
{
    if (o->path == NULL) {
        if (fflush(stdout) == 0 && !ferror(stdout))
            return 0;
        slots_error("cannot write the report to standard output: %s", strerror(errno));
        return -1;
    }
    if (replace_file_commit(&o->file) == 0)
        return 0;
    failed(o);
    return -1;
}
