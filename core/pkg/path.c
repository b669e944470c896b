/*
 * Interface: see include/tern/pkg.h (tern_pkg_path_ok). The one rule for
 * names inside a package (docs/packages.md, "File table"): relative,
 * '/'-separated, no empty, "." or ".." component, a small portable
 * character set. The builder (tern-pkg) and the parser both use it.
 */
#include <stdbool.h>
#include <stddef.h>

#include "pkg_priv.h"

static bool path_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '-' || ch == '+' || ch == '~';
}

bool tern_pkg_path_ok(const char *name, size_t len)
{
    if (len == 0 || len > TERN_PKG_NAME_MAX)
        return false;
    size_t start = 0;                        /* of the current component */
    for (size_t i = 0; i <= len; i++) {
        if (i < len && name[i] != '/') {
            if (!path_char(name[i]))
                return false;
            continue;
        }
        size_t n = i - start;               /* a component ends at '/' or the end */
        if (n == 0)
            return false;                   /* leading, trailing or double '/' */
        if (name[start] == '.' && (n == 1 || (n == 2 && name[start + 1] == '.')))
            return false;                   /* "." or ".." */
        start = i + 1;
    }
    return true;
}
