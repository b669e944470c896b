/* Interface: see include/tern/version.h. */
#include "tern/version.h"

const char *tern_version(void)
{
    return TERN_VERSION;
}
