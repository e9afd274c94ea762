#include "pgrepl/common.h"

const char *pgrepl_strerror(int err)
{
    switch (err) {
#define PGREPL_STRERROR_(name, val, msg, fatal) \
    case PGREPL_##name:                          \
        return msg;
        PGREPL_ERRNO_MAP(PGREPL_STRERROR_)
#undef PGREPL_STRERROR_
    case 0:
        return "success";
    default:
        return "unknown error";
    }
}

const char *pgrepl_err_name(int err)
{
    switch (err) {
#define PGREPL_ERRNAME_(name, val, msg, fatal) \
    case PGREPL_##name:                         \
        return "PGREPL_" #name;
        PGREPL_ERRNO_MAP(PGREPL_ERRNAME_)
#undef PGREPL_ERRNAME_
    case 0:
        return "PGREPL_OK";
    default:
        return "PGREPL_EUNKNOWN";
    }
}

int pgrepl_err_is_fatal(int err)
{
    switch (err) {
#define PGREPL_ERRFATAL_(name, val, msg, fatal) \
    case PGREPL_##name:                          \
        return fatal;
        PGREPL_ERRNO_MAP(PGREPL_ERRFATAL_)
#undef PGREPL_ERRFATAL_
    default:
        return -1;
    }
}
