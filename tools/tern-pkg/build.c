/*
 * tern-pkg build: a manifest and files into an unsigned package. The
 * output depends only on the inputs' names and bytes: files sorted by
 * name (byte order), no time stamps, no host paths, no owners or modes.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tern/loader.h"
#include "tern/manifest.h"
#include "tern/pal.h"
#include "tern/pkg.h"

#include "pkg_write.h"
#include "tool.h"

static const char usage[] =
    "usage: tern-pkg build --manifest M.json [--dir DIR] [--file NAME=PATH]...\n"
    "                      [--security-counter N] -o OUT.tpk\n"
    "\n"
    "Writes an unsigned package: M.json as manifest.json, every regular file\n"
    "under DIR (its path below DIR is its name), and each --file PATH under\n"
    "NAME. The manifest is checked, and the app it names must be among the\n"
    "files and pass the loader's checks; the header takes the manifest's\n"
    "version and the PAL ABI from the app's note. --security-counter (default\n"
    "0) is signed with the package. Names: 1..127 bytes of [A-Za-z0-9._+~-/],\n"
    "relative, no '.' or '..' parts. Sign the result with 'tern-pkg sign'.\n";

struct input {
    char *name;                /* in the package */
    char *path;                /* on the host */
    uint8_t *data;
    size_t size;
};

struct inputs {
    struct input *v;
    size_t n, cap;
};

static int add(struct inputs *in, const char *name, const char *path)
{
    if (!tern_pkg_path_ok(name, strlen(name)))
        return fail(EXIT_REFUSED, "%s: '%s' is not a valid package name (1..127 bytes of "
                    "[A-Za-z0-9._+~-], '/'-separated, no '.' or '..' parts)", path, name);
    if (in->n == TERN_PKG_MAX_FILES)
        return fail(EXIT_REFUSED, "more than %u files", TERN_PKG_MAX_FILES);
    if (in->n == in->cap) {
        size_t cap = in->cap ? in->cap * 2 : 16;
        struct input *v = realloc(in->v, cap * sizeof(*v));
        if (v == NULL)
            return fail(EXIT_INTERNAL, "out of memory");
        in->v = v;
        in->cap = cap;
    }
    struct input *f = &in->v[in->n];
    memset(f, 0, sizeof(*f));
    f->name = strdup(name);
    f->path = strdup(path);
    if (f->name == NULL || f->path == NULL)
        return fail(EXIT_INTERNAL, "out of memory");
    in->n++;
    return 0;
}

/* Every regular file under host (recursively), named prefix + its path. */
static int add_tree(struct inputs *in, const char *host, const char *prefix, int depth)
{
    DIR *d = opendir(host);
    if (d == NULL)
        return fail(EXIT_IO, "%s: %s", host, strerror(errno));
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char path[4096], name[256];
        struct stat st;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", host, de->d_name) >= sizeof(path) ||
            (size_t)snprintf(name, sizeof(name), "%s%s", prefix, de->d_name) >= sizeof(name))
            rc = fail(EXIT_REFUSED, "%s/%s: path too long", host, de->d_name);
        else if (lstat(path, &st) != 0)
            rc = fail(EXIT_IO, "%s: %s", path, strerror(errno));
        else if (S_ISDIR(st.st_mode) && depth < 64) {
            char sub[256];
            if ((size_t)snprintf(sub, sizeof(sub), "%s/", name) >= sizeof(sub))
                rc = fail(EXIT_REFUSED, "%s: path too long", path);
            else
                rc = add_tree(in, path, sub, depth + 1);
        } else if (S_ISREG(st.st_mode))
            rc = add(in, name, path);
        else
            rc = fail(EXIT_REFUSED, "%s: not a regular file or directory (symbolic links and "
                      "special files are not packaged)", path);
    }
    closedir(d);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct input *)a)->name, ((const struct input *)b)->name);
}

/* Sorts, refuses duplicates, reads every file within the payload cap. */
static int load(struct inputs *in)
{
    qsort(in->v, in->n, sizeof(in->v[0]), by_name);
    uint64_t total = 0;
    for (size_t i = 0; i < in->n; i++) {
        if (i > 0 && strcmp(in->v[i - 1].name, in->v[i].name) == 0)
            return fail(EXIT_USAGE, "%s and %s are both '%s' in the package", in->v[i - 1].path,
                        in->v[i].path, in->v[i].name);
        int rc = read_file(in->v[i].path, TERN_PKG_MAX_PAYLOAD, &in->v[i].data, &in->v[i].size);
        if (rc != 0)
            return rc;
        total += in->v[i].size;
        if (total > TERN_PKG_MAX_PAYLOAD)
            return fail(EXIT_REFUSED, "the files are over %u bytes", TERN_PKG_MAX_PAYLOAD);
    }
    return 0;
}

static const struct input *find(const struct inputs *in, const char *name)
{
    for (size_t i = 0; i < in->n; i++)
        if (strcmp(in->v[i].name, name) == 0)
            return &in->v[i];
    return NULL;
}

/* The header's fields from the manifest and the app's note. */
static int describe(const struct inputs *in, const char *mpath, struct pkgw_params *p)
{
    const struct input *mf = find(in, TERN_PKG_MANIFEST_NAME);
    static struct tern_manifest m;          /* about 15 KiB: not on the stack */
    struct tern_manifest_error merr;
    if (tern_manifest_parse((const char *)mf->data, mf->size, &m, &merr) != TERN_OK)
        return fail(EXIT_REFUSED, "%s: %s: %s", mpath, merr.path, merr.msg);
    if (tern_pkg_version_parse(m.version, &p->version) != TERN_OK)
        return fail(EXIT_REFUSED, "%s: $.version: %s does not fit the header (each of x.y.z "
                    "at most 65535)", mpath, m.version);
    const struct input *app = find(in, m.app_path);
    if (app == NULL)
        return fail(EXIT_REFUSED, "%s: $.app.path: %s is not among the files", mpath, m.app_path);
    struct tern_note_abi abi;
    struct tern_load_error lerr;
    if (tern_app_check(app->data, app->size, TERN_PAL_ABI_MAJOR, TERN_PAL_ABI_MINOR, &abi,
                       &lerr) != TERN_OK)
        return fail(EXIT_REFUSED, "%s: the app is refused: %s", app->path, lerr.reason);
    if (abi.pal_major > UINT16_MAX || abi.pal_minor > UINT16_MAX)
        return fail(EXIT_REFUSED, "%s: PAL ABI %u.%u does not fit the header", app->path,
                    abi.pal_major, abi.pal_minor);
    p->pal_major = (uint16_t)abi.pal_major;
    p->pal_minor = (uint16_t)abi.pal_minor;
    return 0;
}

/* Lays the package out and parses it back with core's parser. */
static int write_package(const struct inputs *in, const struct pkgw_params *p, const char *out)
{
    struct pkgw_file *files = calloc(in->n, sizeof(*files));
    if (files == NULL)
        return fail(EXIT_INTERNAL, "out of memory");
    for (size_t i = 0; i < in->n; i++)
        files[i] = (struct pkgw_file){ in->v[i].name, in->v[i].data, in->v[i].size };
    uint8_t *pkg;
    size_t len;
    int rc = pkgw_build(files, in->n, p, &pkg, &len);
    free(files);
    if (rc != 0)
        return fail(EXIT_INTERNAL, "out of memory");
    struct tern_pkg parsed;
    struct tern_pkg_error err;
    if (tern_pkg_parse(&parsed, pkg, len, &err) != TERN_OK)
        rc = fail(EXIT_INTERNAL, "the package written does not parse: %s: %s",
                  tern_pkg_reason_name(err.reason), err.detail);
    else
        rc = write_file(out, pkg, len, 0644, 0);
    free(pkg);
    return rc;
}

static int parse_file_opt(struct inputs *in, char *arg)
{
    char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg || eq[1] == '\0')
        return fail(EXIT_USAGE, "--file: expected NAME=PATH, not '%s'", arg);
    *eq = '\0';
    return add(in, arg, eq + 1);
}

int cmd_build(int argc, char **argv)
{
    static const struct option opts[] = {
        { "manifest", required_argument, NULL, 'm' }, { "dir", required_argument, NULL, 'd' },
        { "file", required_argument, NULL, 'f' },     { "output", required_argument, NULL, 'o' },
        { "security-counter", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },           { NULL, 0, NULL, 0 },
    };
    struct inputs in = { 0 };
    struct pkgw_params p = { 0 };
    const char *manifest = NULL, *dir = NULL, *out = NULL;
    int rc = 0, c;
    opterr = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, "m:d:f:o:c:h", opts, NULL)) != -1) {
        if (c == 'm')
            manifest = optarg;
        else if (c == 'd')
            dir = optarg;
        else if (c == 'f')
            rc = parse_file_opt(&in, optarg);
        else if (c == 'o')
            out = optarg;
        else if (c == 'c')
            rc = parse_u64("--security-counter", optarg, &p.security_counter);
        else if (c == 'h')
            return fputs(usage, stdout), EXIT_DONE;
        else
            rc = fail(EXIT_USAGE, "build: unknown option or missing argument: %s\n%s",
                      argv[optind - 1], usage);
    }
    if (rc == 0 && (manifest == NULL || out == NULL || optind != argc))
        rc = fail(EXIT_USAGE, "build: needs --manifest and -o, and no other arguments\n%s", usage);
    if (rc == 0 && dir != NULL)
        rc = add_tree(&in, dir, "", 0);
    if (rc == 0)
        rc = add(&in, TERN_PKG_MANIFEST_NAME, manifest);
    if (rc == 0)
        rc = load(&in);
    if (rc == 0)
        rc = describe(&in, manifest, &p);
    if (rc == 0)
        rc = write_package(&in, &p, out);
    for (size_t i = 0; i < in.n; i++) {
        free(in.v[i].name);
        free(in.v[i].path);
        free(in.v[i].data);
    }
    free(in.v);
    return rc;
}
