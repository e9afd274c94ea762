#include "pgrepl/version.h"

int pgrepl_version(void)
{
    return PGREPL_VERSION_NUM;
}

const char *pgrepl_version_string(void)
{
    return PGREPL_VERSION_STRING;
}
