/*
 * Interface: a link check for core/manifest on metal, built (never run)
 * on every cross build: it references the manifest API, so cJSON and
 * everything it needs from the metal libc (malloc family, strtod,
 * sprintf, sscanf, fabs) must resolve.
 */
#include <stddef.h>

#include "tern/manifest.h"

int tern_manifest_linkcheck(const char *json, size_t len);

int tern_manifest_linkcheck(const char *json, size_t len)
{
    struct tern_manifest m;
    struct tern_manifest_error err;
    tern_result r = tern_manifest_parse(json, len, &m, &err);
    if (r == TERN_OK)
        r = tern_manifest_override(&m, json, &err);
    return (int)r + (tern_manifest_env(&m, json) != NULL) +
           (tern_manifest_endpoint(&m, json) != NULL);
}
