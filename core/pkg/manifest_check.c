/*
 * Interface: see include/tern/pkg.h (tern_pkg_check_manifest,
 * tern_pkg_version_parse). What ties a package to the manifest it
 * carries: the app file is in it, and the header's version is the one
 * the manifest states (the header's copy exists so the version can be
 * compared, say against the running one, without parsing JSON).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/manifest.h"

#include "pkg_priv.h"

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* Decimal digits at *p up to max, advancing *p; false when none or more. */
static bool number(const char **p, uint32_t max, uint32_t *out)
{
    uint64_t v = 0;
    const char *s = *p;
    if (!is_digit(*s))
        return false;
    for (; is_digit(*s); s++) {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > max)
            return false;
    }
    *p = s;
    *out = (uint32_t)v;
    return true;
}

tern_result tern_pkg_version_parse(const char *text, struct tern_pkg_version *out)
{
    uint32_t part[3];
    const char *p = text;
    for (int i = 0; i < 3; i++) {
        if (!number(&p, 65535, &part[i]) || (i < 2 && *p++ != '.'))
            return TERN_EINVAL;
    }
    if (*p != '\0' && *p != '-' && *p != '+')
        return TERN_EINVAL;
    out->major = (uint16_t)part[0];
    out->minor = (uint16_t)part[1];
    out->patch = (uint16_t)part[2];
    out->build = 0;
    while (*p != '\0' && *p != '+')
        p++;                                /* the pre-release is not in the header */
    if (*p == '+') {
        const char *b = p + 1;
        uint32_t build;
        if (number(&b, UINT32_MAX, &build) && *b == '\0')
            out->build = build;
    }
    return TERN_OK;
}

tern_result tern_pkg_check_manifest(const struct tern_pkg *pkg, const struct tern_manifest *m,
                                    struct tern_pkg_error *err)
{
    err->reason = TERN_PKG_R_OK;
    err->detail[0] = '\0';
    uint32_t index;
    if (!pkg_find_index(pkg, m->app_path, &index))
        return pkg_fail(err, TERN_PKG_R_NO_APP, "the manifest's app %s is not in the package",
                        m->app_path);
    struct tern_pkg_version v;
    const struct tern_pkg_version *h = &pkg->version;
    if (tern_pkg_version_parse(m->version, &v) != TERN_OK || v.major != h->major ||
        v.minor != h->minor || v.patch != h->patch || v.build != h->build)
        return pkg_fail(err, TERN_PKG_R_VERSION_MISMATCH,
                        "manifest version %s, package header %u.%u.%u+%u", m->version,
                        (unsigned)h->major, (unsigned)h->minor, (unsigned)h->patch,
                        (unsigned)h->build);
    return TERN_OK;
}
