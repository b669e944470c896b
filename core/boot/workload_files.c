/*
 * Interface: see include/tern/workload.h (tern_workload_read_file): a
 * resolved workload's own files, wherever it came from.
 */
#include <string.h>

#include "tern/fmt.h"
#include "tern/os.h"
#include "tern/pkg.h"
#include "tern/workload.h"
#include "workload_internal.h"

/* A package's file, copied (the package's bytes stay read-only). */
static tern_result from_package(struct tern_os *os, const struct tern_pkg *pkg,
                                const char *path, size_t max, void **out, size_t *len)
{
    struct tern_pkg_file f;
    tern_result r = tern_pkg_find(pkg, path, &f);
    if (r != TERN_OK)
        return r;
    if (f.size > max)
        return TERN_ENOSPC;
    uint8_t *buf = tern_alloc(os, f.size ? (size_t)f.size : 1);
    if (buf == NULL)
        return TERN_ENOMEM;
    memcpy(buf, f.data, (size_t)f.size);
    *out = buf;
    *len = (size_t)f.size;
    return TERN_OK;
}

/* The backend's reader of an explicit manifest's folder, into a buffer
 * of max bytes taken from the heap first. */
static tern_result from_backend(struct tern_os *os, const struct tern_workload_files *f,
                                const char *path, size_t max, void **out, size_t *len)
{
    uint8_t *buf = tern_alloc(os, max ? max : 1);
    if (buf == NULL)
        return TERN_ENOMEM;
    tern_result r = f->read_file(f->read_arg, path, buf, max, len);
    if (r != TERN_OK) {
        memset(buf, 0, max);                 /* it may hold part of a key */
        tern_free(os, buf);
        return r;
    }
    *out = buf;
    return TERN_OK;
}

tern_result tern_workload_read_file(struct tern_os *os, const struct tern_workload_files *f,
                                    const char *path, size_t max, void **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (f == NULL)
        return TERN_ENOENT;
    if (f->pkg)
        return from_package(os, f->pkg, path, max, out, len);
    if (f->dir_fs) {
        char full[TERN_MANIFEST_PATH_MAX + 8];
        tern_snprintf(full, sizeof full, "%s/%s", TERN_WORKLOAD_DIR, path);
        return workload_read_file(os, f->dir_fs, full, max, out, len);
    }
    if (f->read_file)
        return from_backend(os, f, path, max, out, len);
    return TERN_ENOENT;
}
