/*
 * Interface: see include/tern/workload.h (tern_workload_resolve): where a
 * boot's manifest and app file come from, one rule for every backend.
 */
#include <string.h>

#include "tern/boot_pkg.h"
#include "tern/fat.h"
#include "tern/fmt.h"
#include "tern/os.h"
#include "tern/workload.h"
#include "workload_internal.h"

static tern_result refuse(struct tern_os *os, const char *source,
                          const struct tern_manifest_error *err)
{
    char path[sizeof err->path], why[sizeof err->msg];
    tern_snprintf(path, sizeof path, "%s", err->path[0] ? err->path : "$");
    tern_snprintf(why, sizeof why, "%s", err->msg);
    tern_log(os, TERN_LOG_ERROR, "manifest", "%s: %s: %s", source, path, why);
    tern_marker(os, "TERN_MANIFEST_REFUSED", "source=%s path=%s reason=%s", source,
                tern_token(path), tern_token(why));
    return TERN_EINVAL;
}

static tern_result refuse_text(struct tern_os *os, const char *source, const char *path,
                               const char *msg)
{
    struct tern_manifest_error err;
    tern_snprintf(err.path, sizeof err.path, "%s", path);
    tern_snprintf(err.msg, sizeof err.msg, "%s", msg);
    return refuse(os, source, &err);
}

tern_result workload_read_file(struct tern_os *os, struct tern_fat *fs, const char *path,
                              size_t max, void **out, size_t *len)
{
    struct tern_fat_stat st;
    tern_result r = tern_fat_stat(fs, path, &st);
    if (r != TERN_OK)
        return r;
    if (st.is_dir || st.size > max)
        return TERN_ENOSPC;
    uint8_t *buf = tern_alloc(os, st.size ? st.size : 1);
    if (buf == NULL)
        return TERN_ENOMEM;
    struct tern_fat_file f;
    size_t got = 0;
    r = tern_fat_open(fs, &f, path, TERN_FAT_READ);
    bool opened = r == TERN_OK;
    while (r == TERN_OK && got < st.size) {
        size_t n = 0;
        r = tern_fat_read(&f, buf + got, st.size - got, &n);
        if (r == TERN_OK && n == 0)
            r = TERN_EIO;                    /* shorter than its entry says */
        got += n;
    }
    if (opened)
        (void)tern_fat_close(&f);
    if (r != TERN_OK) {
        tern_free(os, buf);
        return r;
    }
    *out = buf;
    *len = got;
    return TERN_OK;
}

static tern_result apply_overrides(struct tern_os *os, const struct tern_workload_source *src,
                                   struct tern_manifest *m, const char *source)
{
    for (unsigned i = 0; i < src->noverrides; i++) {
        struct tern_manifest_error err;
        if (tern_manifest_override(m, src->overrides[i], &err) != TERN_OK)
            return refuse(os, source, &err);
        tern_log(os, TERN_LOG_INFO, "manifest", "override %s", src->overrides[i]);
    }
    return TERN_OK;
}

static tern_result parse(struct tern_os *os, const char *json, size_t len,
                         struct tern_manifest *m, const char *source)
{
    struct tern_manifest_error err;
    if (tern_manifest_parse(json, len, m, &err) != TERN_OK)
        return refuse(os, source, &err);
    return TERN_OK;
}

/* The workload on the boot volume: /tern/manifest.json and its app. */
static tern_result from_disk(struct tern_os *os, const struct tern_workload_source *src,
                             struct tern_manifest *m, const void **app, size_t *app_len)
{
    void *json = NULL;
    size_t len = 0;
    tern_result r = workload_read_file(os, src->boot, TERN_WORKLOAD_DIR "/manifest.json",
                               TERN_MANIFEST_MAX_BYTES, &json, &len);
    if (r == TERN_ENOSPC)
        return refuse_text(os, "disk", "$", "manifest.json is larger than 64 KiB");
    if (r != TERN_OK)
        return refuse_text(os, "disk", "$", "manifest.json cannot be read");
    r = parse(os, json, len, m, "disk");
    tern_free(os, json);
    if (r == TERN_OK)
        r = apply_overrides(os, src, m, "disk");
    if (r != TERN_OK)
        return r;
    char path[TERN_MANIFEST_PATH_MAX + 8];
    tern_snprintf(path, sizeof path, "%s/%s", TERN_WORKLOAD_DIR, m->app_path);
    void *bytes = NULL;
    r = workload_read_file(os, src->boot, path, TERN_WORKLOAD_APP_MAX, &bytes, app_len);
    if (r != TERN_OK)
        return refuse_text(os, "disk", "$.app.path",
                           r == TERN_ENOENT   ? "no such file on the boot volume (under /tern)"
                           : r == TERN_ENOSPC ? "the app file is larger than 16 MiB"
                                              : "the app file cannot be read");
    *app = bytes;
    return TERN_OK;
}

static bool on_disk(const struct tern_workload_source *src)
{
    struct tern_fat_stat st;
    return src->boot &&
           tern_fat_stat(src->boot, TERN_WORKLOAD_DIR "/manifest.json", &st) == TERN_OK;
}

/* A raw manifest + ELF runs only in development mode: else refused. */
static tern_result raw_allowed(struct tern_os *os, const struct tern_workload_source *src,
                               const char *source)
{
    if (src->pkg == NULL || src->pkg->trust.allow_unsigned)
        return TERN_OK;
    tern_log(os, TERN_LOG_ERROR, "pkg",
             "%s: a raw manifest and app run only in development mode (--allow-unsigned, "
             "or /tern/dev.json on the boot volume); use a signed package", source);
    tern_marker(os, "TERN_PKG_REFUSED", "source=%s reason=unsigned detail=raw_manifest", source);
    return TERN_EINVAL;
}

/* An explicit package (tern-linux --package): checked, then its manifest
 * and app. */
static tern_result from_package(const struct tern_workload_source *src, struct tern_manifest *m)
{
    struct tern_boot_pkg *bp = src->pkg;
    const char *source = src->package_name ? src->package_name : "package";
    if (tern_boot_pkg_check(bp, src->package, src->package_len, tern_boot_pkg_min_counter(bp),
                            source, m) != TERN_OK)
        return TERN_EINVAL;
    bp->is_pkg = true;
    bp->m = m;
    return TERN_OK;
}

/* The app file a package's manifest names (checked there: no-app). */
static tern_result package_app(struct tern_os *os, const struct tern_workload_source *src,
                               struct tern_manifest *m, const void **app, size_t *app_len,
                               const char *source)
{
    struct tern_pkg_file f;
    if (tern_pkg_find(&src->pkg->pkg, m->app_path, &f) != TERN_OK)
        return refuse_text(os, source, "$.app.path", "not in the package");
    *app = f.data;
    *app_len = (size_t)f.size;
    tern_boot_pkg_announce(src->pkg, m, source);
    return apply_overrides(os, src, m, source);
}

static tern_result explicit_manifest(struct tern_os *os, const struct tern_workload_source *src,
                                     struct tern_manifest *m, const void **app,
                                     size_t *app_len, const char *source)
{
    tern_result r = raw_allowed(os, src, source);
    if (r == TERN_OK)
        r = parse(os, src->manifest_json, src->manifest_len, m, source);
    if (r == TERN_OK)
        r = apply_overrides(os, src, m, source);
    if (r != TERN_OK)
        return r;
    if (src->read_app == NULL || src->read_app(src->read_arg, m->app_path, app, app_len) != TERN_OK)
        return refuse_text(os, source, "$.app.path", "the app file cannot be read");
    return TERN_OK;
}

tern_result tern_workload_resolve(struct tern_os *os, const struct tern_workload_source *src,
                                  struct tern_manifest *m, const void **app, size_t *app_len,
                                  const char **source, struct tern_workload_files *files)
{
    tern_result r;
    memset(files, 0, sizeof *files);
    if (src->package && src->pkg) {
        *source = src->package_name ? src->package_name : "package";
        files->pkg = &src->pkg->pkg;
        r = from_package(src, m);
        return r == TERN_OK ? package_app(os, src, m, app, app_len, *source) : r;
    }
    if (src->manifest_json) {
        *source = src->manifest_name ? src->manifest_name : "explicit";
        files->read_file = src->read_file;
        files->read_arg = src->read_arg;
        return explicit_manifest(os, src, m, app, app_len, *source);
    }
    if (src->pkg && (r = tern_boot_pkg_select(src->pkg, m)) != TERN_ENOENT) {
        *source = src->pkg->slot == TERN_SLOT_B ? "slot-b" : "slot-a";
        files->pkg = &src->pkg->pkg;
        return r == TERN_OK ? package_app(os, src, m, app, app_len, *source) : TERN_EINVAL;
    }
    if (on_disk(src)) {
        *source = "disk";
        files->dir_fs = src->boot;
        r = raw_allowed(os, src, *source);
        return r == TERN_OK ? from_disk(os, src, m, app, app_len) : r;
    }
    *source = "built-in";
    if (src->builtin_app == NULL)
        return refuse_text(os, *source, "$", "no manifest on the boot volume and no built-in app");
    tern_manifest_default(m);
    *app = src->builtin_app;
    *app_len = src->builtin_len;
    return apply_overrides(os, src, m, *source);
}
