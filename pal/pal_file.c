/*
 * Interface: the PAL's files (see include/tern/pal.h: file_open ..
 * file_rename) on the FAT volumes of the app's mounts.
 *
 * An app path is absolute and names a place in the app's own tree, made
 * of its mounts ("/data" -> a struct tern_fat). It is normalised
 * lexically first ('.' and empty components dropped, ".." takes the
 * previous component away and stops at "/"), then matched against the
 * mounts: what is not inside one ("/etc", "/data/../etc", "relative") is
 * refused with TERN_PAL_EACCES, counted in stats.path_escapes and logged.
 * A path equal to a mount is that volume's root. Changes on a read-only
 * mount are TERN_PAL_EROFS before the volume is touched.
 *
 * Open files are struct pal_file from the instance heap, named by
 * handles; as FAT requires, a file that is open cannot be unlinked or
 * renamed (either side) and has at most one writable handle
 * (TERN_PAL_EBUSY).
 */
#include <string.h>

#include "pal_internal.h"
#include "tern/fat.h"

#define PATH_MAX_PAL 512

#define OPEN_FLAGS                                                                         \
    (TERN_PAL_O_READ | TERN_PAL_O_WRITE | TERN_PAL_O_CREATE | TERN_PAL_O_TRUNC |          \
     TERN_PAL_O_EXCL | TERN_PAL_O_APPEND)

struct pal_file {
    struct tern_fat_file f;
    const struct tern_pal_mount *mount;
    unsigned flags;
    char path[PATH_MAX_PAL];           /* normalised app path, for the busy check */
};

/* A resolved app path: the mount and the path on its volume. */
struct vpath {
    const struct tern_pal_mount *mount;
    char norm[PATH_MAX_PAL];           /* "/data/a/b" */
    const char *rest;                  /* into norm: "/a/b", or "/" for the root */
};

/* ---- paths ---- */

/* Lexical normalisation of absolute path into out. TERN_PAL_OK;
 * TERN_PAL_EINVAL (too long). */
static int normalise(const char *path, char *out, size_t cap)
{
    size_t len = 0;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        const char *e = p;
        while (*e && *e != '/')
            e++;
        size_t n = (size_t)(e - p);
        if (n == 0 || (n == 1 && p[0] == '.')) {
            /* nothing */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (len > 0 && out[len - 1] != '/')
                len--;
            if (len > 0)
                len--;                              /* the '/' before it */
        } else {
            if (len + 1 + n + 1 > cap)
                return TERN_PAL_EINVAL;
            out[len++] = '/';
            memcpy(out + len, p, n);
            len += n;
        }
        p = e;
    }
    if (len == 0)
        out[len++] = '/';
    out[len] = '\0';
    return TERN_PAL_OK;
}

/* The first cap - 1 bytes of the app's text for a log line: anything
 * but printable ASCII becomes '?', so an app cannot start a console line
 * (a forged marker) with a path. */
static void loggable(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; in[n] && n + 1 < cap; n++)
        out[n] = (in[n] >= 0x20 && in[n] < 0x7f) ? in[n] : '?';
    out[n] = '\0';
}

static int path_escape(struct tern_pal_app *app, const char *path, const char *why)
{
    char shown[96];
    loggable(path, shown, sizeof shown);
    app->stats.path_escapes++;
    tern_log(app->os, TERN_LOG_WARN, app->cfg.name, "path \"%s\" refused: %s", shown, why);
    return TERN_PAL_EACCES;
}

/* Resolves an app path to a mount and a volume path. TERN_PAL_OK;
 * TERN_PAL_EINVAL (NULL, too long); TERN_PAL_EACCES (outside every mount). */
static int resolve(struct tern_pal_app *app, const char *path, struct vpath *out)
{
    if (path == NULL || strnlen(path, PATH_MAX_PAL) == PATH_MAX_PAL)
        return TERN_PAL_EINVAL;
    if (path[0] != '/')
        return path_escape(app, path, "not absolute");
    if (normalise(path, out->norm, sizeof out->norm) != TERN_PAL_OK)
        return TERN_PAL_EINVAL;
    const struct tern_pal_mount *best = NULL;
    size_t best_len = 0;
    for (unsigned i = 0; i < app->cfg.nmounts; i++) {
        const struct tern_pal_mount *m = &app->cfg.mounts[i];
        size_t ml = strlen(m->path);
        if (ml > best_len && strncmp(out->norm, m->path, ml) == 0 &&
            (out->norm[ml] == '\0' || out->norm[ml] == '/')) {
            best = m;
            best_len = ml;
        }
    }
    if (best == NULL)
        return path_escape(app, path, "outside the app's mounts");
    out->mount = best;
    out->rest = out->norm[best_len] ? out->norm + best_len : "/";
    if (best->hidden && tern_fat_in_top_dir(best->fs, out->rest, best->hidden)) {
        app->stats.hidden_refused++;            /* the OS's own files: not there for the app */
        return TERN_PAL_ENOENT;
    }
    return TERN_PAL_OK;
}

/* resolve() for a change: also TERN_PAL_EROFS on a read-only mount. */
static int resolve_rw(struct tern_pal_app *app, const char *path, struct vpath *out)
{
    int r = resolve(app, path, out);
    if (r == TERN_PAL_OK && out->mount->read_only)
        return TERN_PAL_EROFS;
    return r;
}

static bool same_path(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a + 32) : *a;
        char y = (*b >= 'A' && *b <= 'Z') ? (char)(*b + 32) : *b;
        if (x != y)
            return false;
    }
    return *a == *b;
}

/* True when an open file of the app (a writable one when writers) is at
 * norm. FAT names are case-insensitive; an 8.3 alias of a long name is
 * not recognised as the same file. */
static bool is_open(struct tern_pal_app *app, const char *norm, bool writers)
{
    for (tern_pal_handle h = 0; h < TERN_PAL_MAX_HANDLES; h++) {
        struct pal_file *pf = pal_handle_get(app, h, PAL_H_FILE);
        if (pf && same_path(pf->path, norm) && (!writers || (pf->flags & TERN_PAL_O_WRITE)))
            return true;
    }
    return false;
}

/* ---- open files ---- */

static bool flags_ok(unsigned flags)
{
    if ((flags & ~OPEN_FLAGS) || !(flags & (TERN_PAL_O_READ | TERN_PAL_O_WRITE)))
        return false;
    if ((flags & (TERN_PAL_O_CREATE | TERN_PAL_O_TRUNC | TERN_PAL_O_APPEND)) &&
        !(flags & TERN_PAL_O_WRITE))
        return false;
    return !(flags & TERN_PAL_O_EXCL) || (flags & TERN_PAL_O_CREATE);
}

static unsigned fat_flags(unsigned flags)
{
    unsigned f = 0;
    f |= (flags & TERN_PAL_O_READ) ? TERN_FAT_READ : 0;
    f |= (flags & TERN_PAL_O_WRITE) ? TERN_FAT_WRITE : 0;
    f |= (flags & TERN_PAL_O_CREATE) ? TERN_FAT_CREATE : 0;
    f |= (flags & TERN_PAL_O_EXCL) ? TERN_FAT_EXCL : 0;
    f |= (flags & TERN_PAL_O_TRUNC) ? TERN_FAT_TRUNC : 0;
    return f;
}

static int pal_file_open(void *ctx, const char *path, unsigned flags, tern_pal_handle *out)
{
    struct tern_pal_app *app = pal_app(ctx);
    if (out == NULL || !flags_ok(flags))
        return TERN_PAL_EINVAL;
    struct vpath vp;
    int r = (flags & TERN_PAL_O_WRITE) ? resolve_rw(app, path, &vp) : resolve(app, path, &vp);
    if (r != TERN_PAL_OK)
        return r;
    if ((flags & TERN_PAL_O_WRITE) && is_open(app, vp.norm, true))
        return TERN_PAL_EBUSY;                  /* FAT: one writable handle per file */
    struct pal_file *pf = tern_calloc(app->os, 1, sizeof *pf);
    if (pf == NULL)
        return TERN_PAL_ENOMEM;
    /* The handle first: a full table changes nothing on the volume. */
    tern_pal_handle h = pal_handle_new(app, PAL_H_FILE, pf);
    if (h < 0) {
        tern_free(app->os, pf);
        return TERN_PAL_ENOMEM;
    }
    tern_result fr = tern_fat_open(vp.mount->fs, &pf->f, vp.rest, fat_flags(flags));
    if (fr != TERN_OK) {
        pal_handle_release(app, h);
        tern_free(app->os, pf);
        return (int)fr;
    }
    pf->mount = vp.mount;
    pf->flags = flags;
    memcpy(pf->path, vp.norm, sizeof pf->path);
    *out = h;
    return TERN_PAL_OK;
}

static struct pal_file *file_get(void *ctx, tern_pal_handle h)
{
    return pal_handle_get(pal_app(ctx), h, PAL_H_FILE);
}

static int pal_file_read(void *ctx, tern_pal_handle h, void *buf, size_t cap, size_t *got)
{
    struct pal_file *pf = file_get(ctx, h);
    if (pf == NULL)
        return TERN_PAL_ENOENT;
    if ((buf == NULL && cap) || got == NULL || !(pf->flags & TERN_PAL_O_READ))
        return TERN_PAL_EINVAL;
    return (int)tern_fat_read(&pf->f, buf, cap, got);
}

static int pal_file_write(void *ctx, tern_pal_handle h, const void *buf, size_t len)
{
    struct pal_file *pf = file_get(ctx, h);
    if (pf == NULL)
        return TERN_PAL_ENOENT;
    if ((buf == NULL && len) || !(pf->flags & TERN_PAL_O_WRITE))
        return TERN_PAL_EINVAL;
    if ((pf->flags & TERN_PAL_O_APPEND) && tern_fat_seek(&pf->f, pf->f.size) != TERN_OK)
        return TERN_PAL_EINVAL;
    return (int)tern_fat_write(&pf->f, buf, len);
}

static int pal_file_seek(void *ctx, tern_pal_handle h, int64_t off, int whence, uint64_t *pos)
{
    struct pal_file *pf = file_get(ctx, h);
    if (pf == NULL)
        return TERN_PAL_ENOENT;
    int64_t base;
    switch (whence) {
    case TERN_PAL_SEEK_SET: base = 0; break;
    case TERN_PAL_SEEK_CUR: base = pf->f.pos; break;
    case TERN_PAL_SEEK_END: base = pf->f.size; break;
    default: return TERN_PAL_EINVAL;
    }
    /* |off| past 2^62 cannot name a FAT position (files end below 4 GiB). */
    if (off > INT64_MAX / 2 || off < -(INT64_MAX / 2) || base + off < 0)
        return TERN_PAL_EINVAL;
    uint64_t to = (uint64_t)(base + off);
    if (tern_fat_seek(&pf->f, to) != TERN_OK)
        return TERN_PAL_EINVAL;
    if (pos)
        *pos = to;
    return TERN_PAL_OK;
}

static int pal_file_flush(void *ctx, tern_pal_handle h)
{
    struct pal_file *pf = file_get(ctx, h);
    if (pf == NULL)
        return TERN_PAL_ENOENT;
    if (!(pf->flags & TERN_PAL_O_WRITE))
        return TERN_PAL_OK;
    tern_result r = tern_fat_flush_file(&pf->f);
    if (r == TERN_OK)
        r = tern_fat_sync(pf->mount->fs);
    return (int)r;
}

static int pal_file_close(void *ctx, tern_pal_handle h)
{
    struct tern_pal_app *app = pal_app(ctx);
    struct pal_file *pf = file_get(ctx, h);
    if (pf == NULL)
        return TERN_PAL_ENOENT;
    tern_result r = tern_fat_close(&pf->f);
    pal_handle_release(app, h);
    tern_free(app->os, pf);
    return (int)r;
}

/* ---- names ---- */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* A FAT date and time (local, taken as UTC) in unix seconds; -1 unknown. */
static int64_t fat_mtime(uint16_t date, uint16_t time)
{
    unsigned m = (date >> 5) & 15, d = date & 31;
    if (date == 0 || m < 1 || m > 12 || d < 1)
        return -1;
    int64_t days = days_from_civil(1980 + (date >> 9), m, d);
    return days * 86400 + (time >> 11) * 3600 + ((time >> 5) & 63) * 60 + (time & 31) * 2;
}

static void fill_stat(const struct tern_fat_stat *fst, const struct tern_pal_mount *m,
                      struct tern_pal_stat *out)
{
    *out = (struct tern_pal_stat){
        .size = fst->size,
        .mtime = fat_mtime(fst->date, fst->time),
        .is_dir = fst->is_dir,
        .read_only = m->read_only || m->fs->read_only || (fst->attr & 0x01),
    };
}

static int pal_file_stat(void *ctx, const char *path, struct tern_pal_stat *out)
{
    struct vpath vp;
    int r = resolve(pal_app(ctx), path, &vp);
    if (r != TERN_PAL_OK)
        return r;
    if (out == NULL)
        return TERN_PAL_EINVAL;
    struct tern_fat_stat fst;
    tern_result fr = tern_fat_stat(vp.mount->fs, vp.rest, &fst);
    if (fr == TERN_OK)
        fill_stat(&fst, vp.mount, out);
    return (int)fr;
}

/* An entry of the mount's root that is its hidden directory. */
static bool is_hidden_entry(const struct tern_pal_mount *m, const char *dir,
                            const struct tern_fat_stat *fst)
{
    if (m->hidden == NULL || strcmp(dir, "/") != 0 || !fst->is_dir)
        return false;
    char p[TERN_FAT_NAME_MAX + 2];
    p[0] = '/';
    memcpy(p + 1, fst->name, sizeof fst->name);
    return tern_fat_in_top_dir(m->fs, p, m->hidden);
}

static int pal_file_list(void *ctx, const char *path, uint32_t index,
                         struct tern_pal_dirent *out)
{
    struct vpath vp;
    int r = resolve(pal_app(ctx), path, &vp);
    if (r != TERN_PAL_OK)
        return r;
    if (out == NULL)
        return TERN_PAL_EINVAL;
    struct tern_fat_dir d;
    struct tern_fat_stat fst;
    tern_result fr = tern_fat_opendir(vp.mount->fs, &d, vp.rest);
    uint32_t listed = 0;
    while (fr == TERN_OK && listed <= index) {
        fr = tern_fat_readdir(&d, &fst);
        if (fr == TERN_OK && !is_hidden_entry(vp.mount, vp.rest, &fst))
            listed++;                           /* a hidden one is not listed: no index */
    }
    if (fr != TERN_OK)
        return (int)fr;
    _Static_assert(sizeof out->name >= sizeof fst.name, "a FAT name fits a dirent");
    memcpy(out->name, fst.name, sizeof fst.name);
    fill_stat(&fst, vp.mount, &out->st);
    return TERN_PAL_OK;
}

static int pal_file_mkdir(void *ctx, const char *path)
{
    struct vpath vp;
    int r = resolve_rw(pal_app(ctx), path, &vp);
    if (r != TERN_PAL_OK)
        return r;
    return (int)tern_fat_mkdir(vp.mount->fs, vp.rest);
}

static int pal_file_unlink(void *ctx, const char *path)
{
    struct tern_pal_app *app = pal_app(ctx);
    struct vpath vp;
    int r = resolve_rw(app, path, &vp);
    if (r != TERN_PAL_OK)
        return r;
    if (is_open(app, vp.norm, false))
        return TERN_PAL_EBUSY;
    return (int)tern_fat_unlink(vp.mount->fs, vp.rest);
}

static int pal_file_rename(void *ctx, const char *from, const char *to)
{
    struct tern_pal_app *app = pal_app(ctx);
    struct vpath a, b;
    int r = resolve_rw(app, from, &a);
    if (r == TERN_PAL_OK)
        r = resolve_rw(app, to, &b);
    if (r != TERN_PAL_OK)
        return r;
    if (a.mount != b.mount)
        return TERN_PAL_EINVAL;
    if (is_open(app, a.norm, false) || is_open(app, b.norm, false))
        return TERN_PAL_EBUSY;
    return (int)tern_fat_rename_replace(a.mount->fs, a.rest, b.rest);
}

void pal_fill_file(struct tern_pal *t)
{
    t->file_open = pal_file_open;
    t->file_read = pal_file_read;
    t->file_write = pal_file_write;
    t->file_seek = pal_file_seek;
    t->file_flush = pal_file_flush;
    t->file_close = pal_file_close;
    t->file_stat = pal_file_stat;
    t->file_list = pal_file_list;
    t->file_mkdir = pal_file_mkdir;
    t->file_unlink = pal_file_unlink;
    t->file_rename = pal_file_rename;
}

/* Closes (and so flushes) every file the app left open. */
void pal_file_finish(struct tern_pal_app *app)
{
    for (tern_pal_handle h = 0; h < TERN_PAL_MAX_HANDLES; h++) {
        if (pal_handle_kind(app, h) == PAL_H_FILE)
            (void)pal_file_close(app, h);
    }
}
