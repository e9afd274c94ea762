/* Built against an installed pgrepl with nothing but pkg-config's flags. */
#include <pgrepl/pgrepl.h>
#include <stdio.h>

int main(void)
{
    puts(pgrepl_version_string());
    return pgrepl_version() == PGREPL_VERSION_NUM ? 0 : 1;
}
