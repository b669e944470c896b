/* Interface: see workload_linux.h. Hosted glue: reads the manifest and
 * app files of --manifest (core never opens a host file) and hands them
 * to core's workload. */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "tern/os.h"
#include "workload_linux.h"

/* The hello app, built into tern-linux (apps/meson.build, llvm-objcopy). */
extern const unsigned char tern_builtin_app[], tern_builtin_app_end[];

void linux_app_usage(FILE *to)
{
    fprintf(to,
            "\nWorkload (docs/manifest.md):\n"
            "  --package FILE     run the signed workload package FILE (.tpk; default: the\n"
            "                     data volume's A/B slot, else the built-in hello app)\n"
            "  --trust KEY.pem    trust KEY (P-256 public key) as a package signer, besides\n"
            "                     the built-in keys and the boot volume's /tern/trust (repeatable)\n"
            "  --allow-unsigned   development mode: unsigned packages, --manifest and the\n"
            "                     boot volume's /tern/manifest.json run (said at WARN and in /status)\n"
            "  --manifest FILE    development mode only: run the raw manifest FILE and the app\n"
            "                     file it names (relative to FILE)\n"
            "  --set KEY=VALUE    override an overridable manifest value, e.g. env.GREETING=hi,\n"
            "                     endpoints.web.port=8080, log_level=debug (repeatable)\n"
            "  --no-app           run no workload: the OS's own routes only\n"
            "  --watchdog-ms MS   end the app when one of its threads runs MS ms of CPU\n"
            "                     without yielding (default 1000; 0: off)\n");
}

int linux_app_opt(struct linux_app_opts *o, int code, const char *arg)
{
    switch (code) {
    case LINUX_APP_OPT_MANIFEST:
        o->manifest = arg;
        return 0;
    case LINUX_APP_OPT_SET:
        if (o->nsets == LINUX_APP_MAX_SETS) {
            fprintf(stderr, "tern-linux: at most %d --set options\n", LINUX_APP_MAX_SETS);
            return -1;
        }
        o->sets[o->nsets++] = arg;
        return 0;
    case LINUX_APP_OPT_NO_APP:
        o->off = true;
        return 0;
    case LINUX_APP_OPT_PACKAGE:
        o->package = arg;
        return 0;
    case LINUX_APP_OPT_TRUST:
        if (o->ntrust == LINUX_APP_MAX_TRUST) {
            fprintf(stderr, "tern-linux: at most %d --trust options\n", LINUX_APP_MAX_TRUST);
            return -1;
        }
        o->trust[o->ntrust++] = arg;
        return 0;
    case LINUX_APP_OPT_ALLOW_UNSIGNED:
        o->allow_unsigned = true;
        return 0;
    case LINUX_APP_OPT_WATCHDOG: {
        char *end;
        unsigned long v = strtoul(arg, &end, 10);
        if (*arg == '\0' || *end != '\0' || v > 3600000) {
            fprintf(stderr, "tern-linux: --watchdog-ms wants 0-3600000, not '%s'\n", arg);
            return -1;
        }
        o->watchdog_ms = (uint32_t)v;
        return 0;
    }
    default:
        return -1;
    }
}

/* A whole host file of at most max bytes, malloc'd. NULL with errno set
 * (EFBIG when larger). */
static void *read_host_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    int err = ferror(f) ? EIO : 0;
    fclose(f);
    if (buf == NULL || err || n > max) {
        free(buf);
        errno = buf == NULL ? ENOMEM : err ? err : EFBIG;
        return NULL;
    }
    *len = n;
    return buf;
}

/* --package and --trust files, read before anything starts. 0 or -1. */
static int read_package_files(struct linux_workload *lw, const struct linux_app_opts *o)
{
    for (unsigned i = 0; i < o->ntrust; i++) {
        lw->trust[i] = read_host_file(o->trust[i], 4096, &lw->trust_len[i]);
        if (lw->trust[i] == NULL) {
            fprintf(stderr, "tern-linux: --trust %s: %s\n", o->trust[i],
                    errno == EFBIG ? "larger than 4 KiB" : strerror(errno));
            return -1;
        }
    }
    if (o->package == NULL)
        return 0;
    if (o->manifest) {
        fprintf(stderr, "tern-linux: --package and --manifest exclude each other\n");
        return -1;
    }
    lw->package = read_host_file(o->package, TERN_BOOT_PKG_MAX, &lw->package_len);
    if (lw->package == NULL) {
        fprintf(stderr, "tern-linux: --package %s: %s\n", o->package,
                errno == EFBIG ? "larger than the package cap (24 MiB)" : strerror(errno));
        return -1;
    }
    snprintf(lw->package_name, sizeof lw->package_name, "file:%s", o->package);
    return 0;
}

int linux_app_check(struct linux_workload *lw, const struct linux_app_opts *o)
{
    memset(lw, 0, sizeof *lw);
    if (read_package_files(lw, o) != 0)
        return -1;
    if (o->manifest == NULL)
        return 0;
    lw->manifest_json = read_host_file(o->manifest, TERN_MANIFEST_MAX_BYTES, &lw->manifest_len);
    if (lw->manifest_json == NULL) {
        fprintf(stderr, "tern-linux: --manifest %s: %s\n", o->manifest,
                errno == EFBIG ? "larger than 64 KiB" : strerror(errno));
        return -1;
    }
    char copy[sizeof lw->manifest_dir];
    snprintf(copy, sizeof copy, "%s", o->manifest);
    snprintf(lw->manifest_dir, sizeof lw->manifest_dir, "%s", dirname(copy));
    return 0;
}

/* The app path of a --manifest, relative to the manifest's folder. */
static tern_result read_app(void *arg, const char *path, const void **data, size_t *len)
{
    struct linux_workload *lw = arg;
    char full[sizeof lw->manifest_dir + 256];
    snprintf(full, sizeof full, "%s/%s", lw->manifest_dir, path);
    lw->app_file = read_host_file(full, TERN_WORKLOAD_APP_MAX, len);
    if (lw->app_file == NULL) {
        fprintf(stderr, "tern-linux: app %s: %s\n", full,
                errno == EFBIG ? "larger than 16 MiB" : strerror(errno));
        return errno == ENOENT ? TERN_ENOENT : TERN_EIO;
    }
    *data = lw->app_file;
    return TERN_OK;
}

/* Another file of a --manifest's workload (an https endpoint's cert or
 * key), relative to the manifest's folder, into buf. */
static tern_result read_file(void *arg, const char *path, void *buf, size_t cap, size_t *len)
{
    struct linux_workload *lw = arg;
    char full[sizeof lw->manifest_dir + 256];
    snprintf(full, sizeof full, "%s/%s", lw->manifest_dir, path);
    FILE *f = fopen(full, "rb");
    if (f == NULL)
        return errno == ENOENT ? TERN_ENOENT : TERN_EIO;
    size_t n = fread(buf, 1, cap, f);
    bool more = n == cap && fgetc(f) != EOF;
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad)
        return TERN_EIO;
    if (more)
        return TERN_ENOSPC;
    *len = n;
    return TERN_OK;
}

/* The trust set and the slots into lw->bp. 0, or 2 (a bad --trust). */
static int linux_trust(struct linux_workload *lw, struct tern_os *os,
                       const struct linux_app_opts *o, struct tern_fat *boot,
                       struct tern_fat *data)
{
    struct tern_boot_pkg *bp = &lw->bp;
    tern_boot_pkg_init(bp, os);
    tern_boot_trust_builtin(&bp->trust, os, tern_builtin_keys);
    tern_boot_trust_volume(&bp->trust, os, boot);
    for (unsigned i = 0; i < o->ntrust; i++) {
        char origin[64];
        snprintf(origin, sizeof origin, "--trust %s", o->trust[i]);
        if (tern_boot_trust_add(&bp->trust, os, lw->trust[i], lw->trust_len[i], origin) != TERN_OK) {
            fprintf(stderr, "tern-linux: --trust %s: not a P-256 public key\n", o->trust[i]);
            return 2;
        }
    }
    if (o->allow_unsigned)
        tern_boot_trust_dev(&bp->trust, os, "--allow-unsigned");
    if (data)
        (void)tern_boot_pkg_open_slots(bp, data);
    return 0;
}

int linux_app_resolve(struct linux_workload *lw, struct tern_os *os,
                      const struct linux_app_opts *o, struct tern_fat *boot,
                      struct tern_fat *data)
{
    int bad = linux_trust(lw, os, o, boot, data);
    if (bad)
        return bad;
    snprintf(lw->source_name, sizeof lw->source_name, "file:%s", o->manifest ? o->manifest : "");
    struct tern_workload_source src = {
        .pkg = &lw->bp,
        .package = lw->package,
        .package_len = lw->package_len,
        .package_name = lw->package_name,
        .manifest_json = lw->manifest_json,
        .manifest_len = lw->manifest_len,
        .manifest_name = lw->source_name,
        .read_app = read_app,
        .read_file = read_file,
        .read_arg = lw,
        .boot = boot,
        .builtin_app = tern_builtin_app,
        .builtin_len = (size_t)(tern_builtin_app_end - tern_builtin_app),
        .overrides = o->sets,
        .noverrides = o->nsets,
    };
    if (tern_workload_resolve(os, &src, &lw->m, &lw->app, &lw->app_len, &lw->source,
                              &lw->files) != TERN_OK)
        return TERN_WORKLOAD_HALT_REFUSED;
    return 0;
}

int linux_app_start(struct linux_workload *lw, struct tern_os *os,
                    const struct tern_workload_opts *wo)
{
    struct tern_workload_opts opts = *wo;
    opts.source = lw->source;
    opts.app_file = lw->app;
    opts.app_len = lw->app_len;
    if (tern_workload_start(&lw->w, os, &lw->m, &opts) != TERN_OK)
        return TERN_WORKLOAD_HALT_REFUSED;
    return 0;
}

void linux_app_close(struct linux_workload *lw)
{
    for (unsigned i = 0; i < LINUX_APP_MAX_TRUST; i++)
        free(lw->trust[i]);
    free(lw->package);
    lw->package = NULL;
    free(lw->manifest_json);
    free(lw->app_file);
    lw->manifest_json = NULL;
    lw->app_file = NULL;
}
