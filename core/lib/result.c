/* Interface: see include/tern/result.h. */
#include <stddef.h>

#include "tern/result.h"

static const char *const result_names[TERN_RESULT_COUNT] = {
    [TERN_OK] = "ok",           [TERN_AGAIN] = "again",       [TERN_EINVAL] = "einval",
    [TERN_ENOENT] = "enoent",   [TERN_ENOMEM] = "enomem",     [TERN_ENOSPC] = "enospc",
    [TERN_EIO] = "eio",         [TERN_ENOTSUP] = "enotsup",   [TERN_EBUSY] = "ebusy",
    [TERN_ETIMEDOUT] = "etimedout", [TERN_ECLOSED] = "eclosed", [TERN_EEXIST] = "eexist",
    [TERN_EROFS] = "erofs",     [TERN_EPROTO] = "eproto",
    [TERN_EACCES] = "eacces",   [TERN_EVERSION] = "eversion",
};

const char *tern_result_name(tern_result r)
{
    if ((unsigned)r >= TERN_RESULT_COUNT || result_names[r] == NULL)
        return "unknown";
    return result_names[r];
}
