/*
 * The PAL's files (pal/pal_file.c): apps written here as C functions run
 * on a sim instance whose mounts are FAT volumes on RAM block devices
 * (formatted by tern_fat_format). Durability is judged by mounting the
 * same RAM again through a second, cold block cache: only what reached
 * the "device" is visible there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pal_world.h"
#include "tern/fat.h"
#include "tern/pal.h"

#define SS 512

struct vol {
    uint8_t *mem;
    uint64_t sectors;
    uint8_t *cache;
    size_t cache_bytes;
    struct tern_bdev dev;
    struct tern_fat fs;
};

static tern_result ram_read(void *ctx, uint64_t lba, void *buf, uint32_t count)
{
    struct vol *v = ctx;
    if (lba + count > v->sectors)
        return TERN_EINVAL;
    memcpy(buf, v->mem + lba * SS, (size_t)count * SS);
    return TERN_OK;
}

static tern_result ram_write(void *ctx, uint64_t lba, const void *buf, uint32_t count)
{
    struct vol *v = ctx;
    if (lba + count > v->sectors)
        return TERN_EINVAL;
    memcpy(v->mem + lba * SS, buf, (size_t)count * SS);
    return TERN_OK;
}

static tern_result ram_flush(void *ctx)
{
    (void)ctx;
    return TERN_OK;
}

static const struct tern_bdev_ops ram_ops = { ram_read, ram_write, ram_flush };

static struct vol *vol_new(size_t bytes)
{
    struct vol *v = calloc(1, sizeof *v);
    assert_non_null(v);
    v->sectors = bytes / SS;
    v->mem = calloc(1, bytes);
    v->cache_bytes = tern_bdev_cache_bytes(SS, 16);
    v->cache = aligned_alloc(16, v->cache_bytes);
    assert_non_null(v->mem);
    assert_non_null(v->cache);
    assert_int_equal(tern_bdev_init(&v->dev, &ram_ops, v, SS, v->sectors, false, v->cache,
                                    v->cache_bytes, 16),
                     TERN_OK);
    struct tern_fat_format_opts o = { .label = "PAL", .serial = 1 };
    assert_int_equal(tern_fat_format(&v->dev, 0, v->sectors, &o), TERN_OK);
    assert_int_equal(tern_fat_mount(&v->fs, &v->dev, 0, v->sectors, false), TERN_OK);
    /* 2024-01-02 03:04:10 on everything written */
    v->fs.date = (uint16_t)(((2024 - 1980) << 9) | (1 << 5) | 2);
    v->fs.time = (uint16_t)((3 << 11) | (4 << 5) | (10 / 2));
    return v;
}

static void vol_free(struct vol *v)
{
    free(v->mem);
    free(v->cache);
    free(v);
}

/* Reads path as the device holds it now (a second mount, cold cache).
 * Returns the length, or -1 when the file is not there. */
static long device_read(struct vol *v, const char *path, void *buf, size_t cap)
{
    static uint8_t cache[64 * 1024];
    struct tern_bdev dev;
    struct tern_fat fs;
    struct tern_fat_file f;
    size_t got = 0;
    assert_int_equal(tern_bdev_init(&dev, &ram_ops, v, SS, v->sectors, true, cache,
                                    sizeof cache, 16),
                     TERN_OK);
    assert_int_equal(tern_fat_mount(&fs, &dev, 0, v->sectors, true), TERN_OK);
    if (tern_fat_open(&fs, &f, path, TERN_FAT_READ) != TERN_OK)
        return -1;
    assert_int_equal(tern_fat_read(&f, buf, cap, &got), TERN_OK);
    tern_fat_close(&f);
    return (long)got;
}

static void check_volume(struct vol *v)
{
    size_t bl = (v->fs.clusters + 2 + 7) / 8;
    uint8_t *bm = malloc(bl);
    uint32_t lost = 99;
    assert_int_equal(tern_fat_check(&v->fs, bm, bl, &lost), TERN_OK);
    assert_int_equal(lost, 0);
    free(bm);
}

static struct {
    struct vol *data, *ro, *small;
    struct pw_node *node;
    int line;
    char seen[4][300];
    long durable_len;
    uint64_t escapes;
    size_t written, arena_blocks;
} T;

#define CHECK(cond)                 \
    do {                            \
        if (!(cond)) {              \
            T.line = __LINE__;      \
            return -__LINE__;       \
        }                           \
    } while (0)

#define O_RW (TERN_PAL_O_READ | TERN_PAL_O_WRITE)

/* One node, no network; /data (4 MiB), /ro (read-only mount), /small. */
static struct pal_world *world(void)
{
    memset(&T, 0, sizeof T);
    struct pal_world *w = pw_new(1, false);
    T.node = w->node[0];
    T.data = vol_new(4u << 20);
    T.ro = vol_new(1u << 20);
    T.small = vol_new(400u * 1024);
    struct tern_fat_file f;
    assert_int_equal(tern_fat_open(&T.ro->fs, &f, "/readme.txt",
                                   TERN_FAT_WRITE | TERN_FAT_CREATE), TERN_OK);
    assert_int_equal(tern_fat_write(&f, "read me", 7), TERN_OK);
    assert_int_equal(tern_fat_close(&f), TERN_OK);
    pw_config(T.node);
    T.node->cfg.mounts[0] = (struct tern_pal_mount){ "/data", &T.data->fs, false, "tern" };
    T.node->cfg.mounts[1] = (struct tern_pal_mount){ "/ro", &T.ro->fs, true, NULL };
    T.node->cfg.mounts[2] = (struct tern_pal_mount){ "/small", &T.small->fs, false, NULL };
    T.node->cfg.nmounts = 3;
    return w;
}

static void run(struct pal_world *w, tern_app_entry_fn entry)
{
    pw_start(T.node, entry);
    if (!pw_run(w, pw_all_exited, w, 10 * PW_S) || T.line)
        fail_msg("the app did not finish (failed CHECK at line %d)", T.line);
    assert_int_equal(T.node->app.exit_code, 0);
}

static void end(struct pal_world *w)
{
    if (T.node->app_inited)
        pw_finish(T.node);             /* closes what the app left open; heap at baseline */
    check_volume(T.data);
    check_volume(T.small);
    pw_free(w);
    vol_free(T.data);
    vol_free(T.ro);
    vol_free(T.small);
}

static int read_all(const struct tern_pal *pal, tern_pal_handle h, char *buf, size_t cap,
                    size_t *len)
{
    *len = 0;
    for (;;) {
        size_t got;
        int r = pal->file_read(pal->ctx, h, buf + *len, cap - *len, &got);
        if (r != TERN_PAL_OK)
            return r;
        if (got == 0)
            return TERN_PAL_OK;
        *len += got;
    }
}

/* ---- create, write, flush, read, seek, flags ---- */

static int rw_app(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    tern_pal_handle h, h2;
    char buf[64];
    size_t len;
    uint64_t pos;
    CHECK(pal->file_open(c, "/data/hello.txt",
                         TERN_PAL_O_WRITE | TERN_PAL_O_CREATE | TERN_PAL_O_EXCL, &h) ==
          TERN_PAL_OK);
    CHECK(pal->file_write(c, h, "hello world", 11) == TERN_PAL_OK);
    CHECK(pal->file_flush(c, h) == TERN_PAL_OK);
    T.durable_len = device_read(T.data, "/hello.txt", buf, sizeof buf);   /* before close */
    CHECK(T.durable_len == 11 && memcmp(buf, "hello world", 11) == 0);
    CHECK(pal->file_read(c, h, buf, sizeof buf, &len) == TERN_PAL_EINVAL);    /* write-only */
    CHECK(pal->file_open(c, "/data/HELLO.TXT", TERN_PAL_O_WRITE, &h2) == TERN_PAL_EBUSY);
    CHECK(pal->file_close(c, h) == TERN_PAL_OK);
    CHECK(pal->file_close(c, h) == TERN_PAL_ENOENT);
    CHECK(pal->file_open(c, "/data/hello.txt",
                         TERN_PAL_O_WRITE | TERN_PAL_O_CREATE | TERN_PAL_O_EXCL, &h) ==
          TERN_PAL_EEXIST);
    CHECK(pal->file_open(c, "/data/missing", TERN_PAL_O_READ, &h) == TERN_PAL_ENOENT);
    /* Reopen and read; seek every way. */
    CHECK(pal->file_open(c, "/data/hello.txt", O_RW, &h) == TERN_PAL_OK);
    CHECK(read_all(pal, h, buf, sizeof buf, &len) == TERN_PAL_OK);
    CHECK(len == 11 && memcmp(buf, "hello world", 11) == 0);
    CHECK(pal->file_seek(c, h, 6, TERN_PAL_SEEK_SET, &pos) == TERN_PAL_OK && pos == 6);
    CHECK(pal->file_read(c, h, buf, 5, &len) == TERN_PAL_OK && len == 5);
    CHECK(memcmp(buf, "world", 5) == 0);
    CHECK(pal->file_seek(c, h, -5, TERN_PAL_SEEK_CUR, &pos) == TERN_PAL_OK && pos == 6);
    CHECK(pal->file_seek(c, h, -1, TERN_PAL_SEEK_END, &pos) == TERN_PAL_OK && pos == 10);
    CHECK(pal->file_seek(c, h, -12, TERN_PAL_SEEK_END, &pos) == TERN_PAL_EINVAL);
    CHECK(pal->file_seek(c, h, 0, 7, &pos) == TERN_PAL_EINVAL);
    CHECK(pal->file_seek(c, h, 4, TERN_PAL_SEEK_END, &pos) == TERN_PAL_OK && pos == 15);
    CHECK(pal->file_write(c, h, "!", 1) == TERN_PAL_OK);      /* a gap of zeros */
    CHECK(pal->file_close(c, h) == TERN_PAL_OK);
    CHECK(pal->file_open(c, "/data/hello.txt", TERN_PAL_O_READ, &h) == TERN_PAL_OK);
    CHECK(read_all(pal, h, buf, sizeof buf, &len) == TERN_PAL_OK);
    CHECK(len == 16 && memcmp(buf, "hello world\0\0\0\0!", 16) == 0);
    CHECK(pal->file_write(c, h, "x", 1) == TERN_PAL_EINVAL);   /* read-only handle */
    CHECK(pal->file_close(c, h) == TERN_PAL_OK);
    /* APPEND writes at the end wherever the position is; TRUNC empties. */
    CHECK(pal->file_open(c, "/data/hello.txt", TERN_PAL_O_WRITE | TERN_PAL_O_APPEND, &h) ==
          TERN_PAL_OK);
    CHECK(pal->file_seek(c, h, 0, TERN_PAL_SEEK_SET, &pos) == TERN_PAL_OK);
    CHECK(pal->file_write(c, h, "+", 1) == TERN_PAL_OK);
    CHECK(pal->file_close(c, h) == TERN_PAL_OK);
    struct tern_pal_stat sb;
    CHECK(pal->file_stat(c, "/data/hello.txt", &sb) == TERN_PAL_OK && sb.size == 17);
    CHECK(sb.mtime == 1704164650 && !sb.is_dir && !sb.read_only);   /* 2024-01-02 03:04:10 */
    CHECK(pal->file_open(c, "/data/hello.txt", TERN_PAL_O_WRITE | TERN_PAL_O_TRUNC, &h) ==
          TERN_PAL_OK);
    CHECK(pal->file_close(c, h) == TERN_PAL_OK);
    CHECK(pal->file_stat(c, "/data/hello.txt", &sb) == TERN_PAL_OK && sb.size == 0);
    /* Flags that make no sense. */
    CHECK(pal->file_open(c, "/data/f", 0, &h) == TERN_PAL_EINVAL);
    CHECK(pal->file_open(c, "/data/f", TERN_PAL_O_READ | TERN_PAL_O_CREATE, &h) ==
          TERN_PAL_EINVAL);
    CHECK(pal->file_open(c, "/data/f", TERN_PAL_O_WRITE | TERN_PAL_O_EXCL, &h) ==
          TERN_PAL_EINVAL);
    CHECK(pal->file_open(c, "/data/f", TERN_PAL_O_READ | 0x100u, &h) == TERN_PAL_EINVAL);
    /* A file left open with data: finish closes (and commits) it. */
    CHECK(pal->file_open(c, "/data/left open", TERN_PAL_O_WRITE | TERN_PAL_O_CREATE, &h) ==
          TERN_PAL_OK);
    CHECK(pal->file_write(c, h, "kept", 4) == TERN_PAL_OK);
    return 0;
}

static void test_files_read_write_seek(void **state)
{
    (void)state;
    struct pal_world *w = world();
    run(w, rw_app);
    char buf[16];
    assert_int_equal(device_read(T.data, "/left open", buf, sizeof buf), 0);  /* not yet */
    pw_finish(T.node);
    assert_int_equal(device_read(T.data, "/left open", buf, sizeof buf), 4);
    assert_memory_equal(buf, "kept", 4);
    end(w);
}

/* ---- names: stat, list, mkdir, unlink, rename ---- */

static int put(const struct tern_pal *pal, const char *path, const char *text)
{
    tern_pal_handle h;
    int r = pal->file_open(pal->ctx, path,
                           TERN_PAL_O_WRITE | TERN_PAL_O_CREATE | TERN_PAL_O_TRUNC, &h);
    if (r != TERN_PAL_OK)
        return r;
    r = pal->file_write(pal->ctx, h, text, strlen(text));
    int r2 = pal->file_close(pal->ctx, h);
    return r != TERN_PAL_OK ? r : r2;
}

/* ---- the OS's own directory (/tern on the data volume) is not there ---- */

static int hidden_app(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    struct tern_pal_stat sb;
    struct tern_pal_dirent de;
    tern_pal_handle h;
    CHECK(pal->file_open(c, "/data/tern/slot-a.tpk", TERN_PAL_O_READ, &h) == TERN_PAL_ENOENT);
    CHECK(pal->file_open(c, "/data/TERN/SLOT-A.TPK", TERN_PAL_O_READ, &h) == TERN_PAL_ENOENT);
    CHECK(pal->file_open(c, "/data/./x/../tern/slot-a.tpk", TERN_PAL_O_READ, &h) ==
          TERN_PAL_ENOENT);
    CHECK(pal->file_stat(c, "/data/tern", &sb) == TERN_PAL_ENOENT);
    CHECK(pal->file_stat(c, "/data/Tern.", &sb) == TERN_PAL_ENOENT);
    CHECK(pal->file_list(c, "/data/tern", 0, &de) == TERN_PAL_ENOENT);
    CHECK(pal->file_open(c, "/data/tern/slot-a.tpk", TERN_PAL_O_WRITE | TERN_PAL_O_TRUNC, &h) ==
          TERN_PAL_ENOENT);
    CHECK(pal->file_open(c, "/data/tern/new", TERN_PAL_O_WRITE | TERN_PAL_O_CREATE, &h) ==
          TERN_PAL_ENOENT);
    CHECK(pal->file_unlink(c, "/data/tern/slot-a.tpk") == TERN_PAL_ENOENT);
    CHECK(pal->file_rename(c, "/data/tern/slot-a.tpk", "/data/stolen") == TERN_PAL_ENOENT);
    CHECK(put(pal, "/data/mine.txt", "mine") == TERN_PAL_OK);
    CHECK(pal->file_rename(c, "/data/mine.txt", "/data/tern/slot-a.tpk") == TERN_PAL_ENOENT);
    CHECK(pal->file_mkdir(c, "/data/tern2") == TERN_PAL_OK);        /* only /tern itself */
    CHECK(put(pal, "/data/tern2/x", "x") == TERN_PAL_OK);
    /* the listing of /data: mine.txt and tern2, never tern */
    unsigned n = 0;
    for (uint32_t i = 0; pal->file_list(c, "/data", i, &de) == TERN_PAL_OK; i++, n++)
        CHECK(strcmp(de.name, "tern") != 0);
    CHECK(n == 2);
    return 0;
}

static void test_files_hidden_os_dir(void **state)
{
    (void)state;
    struct pal_world *w = world();
    struct tern_fat_file f;
    assert_int_equal(tern_fat_mkdir(&T.data->fs, "/tern"), TERN_OK);
    assert_int_equal(tern_fat_open(&T.data->fs, &f, "/tern/slot-a.tpk",
                                   TERN_FAT_WRITE | TERN_FAT_CREATE), TERN_OK);
    assert_int_equal(tern_fat_write(&f, "package", 7), TERN_OK);
    assert_int_equal(tern_fat_close(&f), TERN_OK);
    run(w, hidden_app);
    assert_true(T.node->app.stats.hidden_refused >= 10);
    char buf[16];
    pw_finish(T.node);
    assert_int_equal(device_read(T.data, "/tern/slot-a.tpk", buf, sizeof buf), 7);
    assert_memory_equal(buf, "package", 7);
    assert_int_equal(device_read(T.data, "/tern/new", buf, sizeof buf), -1);
    end(w);
}

static int names_app(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    struct tern_pal_stat sb;
    struct tern_pal_dirent de;
    tern_pal_handle h;
    CHECK(pal->file_mkdir(c, "/data/dir") == TERN_PAL_OK);
    CHECK(pal->file_mkdir(c, "/data/dir") == TERN_PAL_EEXIST);
    CHECK(put(pal, "/data/dir/a", "A") == TERN_PAL_OK);
    CHECK(put(pal, "/data/dir/a long name.txt", "BB") == TERN_PAL_OK);
    CHECK(pal->file_stat(c, "/data", &sb) == TERN_PAL_OK && sb.is_dir);
    CHECK(pal->file_stat(c, "/data/", &sb) == TERN_PAL_OK && sb.is_dir);
    CHECK(pal->file_stat(c, "/data/dir", &sb) == TERN_PAL_OK && sb.is_dir);
    CHECK(pal->file_stat(c, "/data/./dir/../dir/a long name.txt", &sb) == TERN_PAL_OK);
    CHECK(sb.size == 2 && !sb.is_dir);
    CHECK(pal->file_stat(c, "/data/nothing", &sb) == TERN_PAL_ENOENT);
    for (uint32_t i = 0; i < 2; i++) {
        CHECK(pal->file_list(c, "/data/dir", i, &de) == TERN_PAL_OK);
        snprintf(T.seen[i], sizeof T.seen[i], "%s:%llu", de.name,
                 (unsigned long long)de.st.size);
    }
    CHECK(pal->file_list(c, "/data/dir", 2, &de) == TERN_PAL_ENOENT);
    CHECK(pal->file_list(c, "/data", 0, &de) == TERN_PAL_OK && de.st.is_dir);
    CHECK(strcmp(de.name, "dir") == 0);
    CHECK(pal->file_list(c, "/data/dir/a", 0, &de) == TERN_PAL_EINVAL);   /* not a dir */
    /* unlink: not while open, not a full directory. */
    CHECK(pal->file_open(c, "/data/dir/a", TERN_PAL_O_READ, &h) == TERN_PAL_OK);
    CHECK(pal->file_unlink(c, "/data/dir/A") == TERN_PAL_EBUSY);
    CHECK(pal->file_rename(c, "/data/dir/a", "/data/b") == TERN_PAL_EBUSY);
    CHECK(pal->file_close(c, h) == TERN_PAL_OK);
    CHECK(pal->file_unlink(c, "/data/dir") == TERN_PAL_EBUSY);
    CHECK(pal->file_unlink(c, "/data/dir/a") == TERN_PAL_OK);
    CHECK(pal->file_stat(c, "/data/dir/a", &sb) == TERN_PAL_ENOENT);
    CHECK(pal->file_unlink(c, "/data/dir/a") == TERN_PAL_ENOENT);
    /* rename: plain, over an existing file (replaced), across mounts. */
    CHECK(put(pal, "/data/target", "old contents") == TERN_PAL_OK);
    CHECK(put(pal, "/data/new.tmp", "NEW") == TERN_PAL_OK);
    CHECK(pal->file_rename(c, "/data/new.tmp", "/data/target") == TERN_PAL_OK);
    CHECK(pal->file_stat(c, "/data/new.tmp", &sb) == TERN_PAL_ENOENT);
    CHECK(pal->file_open(c, "/data/target", TERN_PAL_O_READ, &h) == TERN_PAL_OK);
    char buf[32];
    size_t len;
    CHECK(read_all(pal, h, buf, sizeof buf, &len) == TERN_PAL_OK);
    CHECK(len == 3 && memcmp(buf, "NEW", 3) == 0);
    CHECK(pal->file_rename(c, "/data/dir/a long name.txt", "/data/target") == TERN_PAL_EBUSY);
    CHECK(pal->file_close(c, h) == TERN_PAL_OK);
    CHECK(pal->file_rename(c, "/data/target", "/data/dir/moved") == TERN_PAL_OK);
    CHECK(pal->file_rename(c, "/data/dir/moved", "/small/moved") == TERN_PAL_EINVAL);
    CHECK(pal->file_rename(c, "/data/dir/moved", "/data/dir") == TERN_PAL_EEXIST);
    CHECK(pal->file_unlink(c, "/data/dir/moved") == TERN_PAL_OK);
    CHECK(pal->file_unlink(c, "/data/dir/a long name.txt") == TERN_PAL_OK);
    CHECK(pal->file_unlink(c, "/data/dir") == TERN_PAL_OK);
    CHECK(pal->file_list(c, "/data", 0, &de) == TERN_PAL_ENOENT);     /* empty again */
    return 0;
}

static void test_files_names(void **state)
{
    (void)state;
    struct pal_world *w = world();
    run(w, names_app);
    bool one = strcmp(T.seen[0], "a:1") == 0 && strcmp(T.seen[1], "a long name.txt:2") == 0;
    bool two = strcmp(T.seen[1], "a:1") == 0 && strcmp(T.seen[0], "a long name.txt:2") == 0;
    assert_true(one || two);
    end(w);
}

/* ---- confinement ---- */

static const char *const escapes[] = {
    "/data/../x", "/data/a/../../x", "relative", "/other", "/data/..", "", "/datax/y",
    "/../data/../../etc/passwd", "/x\nTERN_FORGED marker=1",
};

static int confine_app(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    struct tern_pal_app *app = c;
    struct tern_pal_stat sb;
    struct tern_pal_dirent de;
    tern_pal_handle h;
    uint64_t n = 0;
    for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
        const char *p = escapes[i];
        CHECK(pal->file_open(c, p, TERN_PAL_O_READ, &h) == TERN_PAL_EACCES);
        CHECK(pal->file_open(c, p, TERN_PAL_O_WRITE | TERN_PAL_O_CREATE, &h) ==
              TERN_PAL_EACCES);
        CHECK(pal->file_stat(c, p, &sb) == TERN_PAL_EACCES);
        CHECK(pal->file_list(c, p, 0, &de) == TERN_PAL_EACCES);
        CHECK(pal->file_mkdir(c, p) == TERN_PAL_EACCES);
        CHECK(pal->file_unlink(c, p) == TERN_PAL_EACCES);
        CHECK(pal->file_rename(c, "/data/in", p) == TERN_PAL_EACCES);
        n += 7;
        CHECK(app->stats.path_escapes == n);
    }
    /* ".." that stays inside is fine. */
    CHECK(pal->file_mkdir(c, "/data/a") == TERN_PAL_OK);
    CHECK(put(pal, "/data/a/../../data/in", "in") == TERN_PAL_OK);
    CHECK(pal->file_stat(c, "/data/a/./../in", &sb) == TERN_PAL_OK && sb.size == 2);
    char longp[600];
    memset(longp, 'a', sizeof longp);
    memcpy(longp, "/data/", 6);
    longp[sizeof longp - 1] = '\0';
    CHECK(pal->file_stat(c, longp, &sb) == TERN_PAL_EINVAL);
    CHECK(pal->file_stat(c, NULL, &sb) == TERN_PAL_EINVAL);
    /* A read-only mount: reads yes, changes EROFS before the volume is touched. */
    CHECK(pal->file_stat(c, "/ro/readme.txt", &sb) == TERN_PAL_OK && sb.read_only);
    CHECK(pal->file_open(c, "/ro/readme.txt", TERN_PAL_O_READ, &h) == TERN_PAL_OK);
    char buf[16];
    size_t len;
    CHECK(read_all(pal, h, buf, sizeof buf, &len) == TERN_PAL_OK && len == 7);
    CHECK(pal->file_flush(c, h) == TERN_PAL_OK);
    CHECK(pal->file_close(c, h) == TERN_PAL_OK);
    CHECK(pal->file_open(c, "/ro/readme.txt", O_RW, &h) == TERN_PAL_EROFS);
    CHECK(pal->file_open(c, "/ro/new", TERN_PAL_O_WRITE | TERN_PAL_O_CREATE, &h) ==
          TERN_PAL_EROFS);
    CHECK(pal->file_mkdir(c, "/ro/d") == TERN_PAL_EROFS);
    CHECK(pal->file_unlink(c, "/ro/readme.txt") == TERN_PAL_EROFS);
    CHECK(pal->file_rename(c, "/ro/readme.txt", "/ro/x") == TERN_PAL_EROFS);
    CHECK(pal->file_rename(c, "/data/in", "/ro/x") == TERN_PAL_EROFS);
    T.escapes = app->stats.path_escapes;
    return 0;
}

static void test_files_confined_to_mounts(void **state)
{
    (void)state;
    struct pal_world *w = world();
    run(w, confine_app);
    assert_int_equal(T.escapes, 7 * (sizeof escapes / sizeof escapes[0]));
    assert_true(sim_console_has(&T.node->sim, "path \"/data/../x\" refused: outside the app's mounts"));
    assert_true(sim_console_has(&T.node->sim, "path \"relative\" refused: not absolute"));
    /* an app's path never starts a console line of its own */
    assert_false(sim_console_has(&T.node->sim, "\nTERN_FORGED"));
    assert_true(sim_console_has(&T.node->sim, "path \"/x?TERN_FORGED marker=1\" refused"));
    char buf[16];
    assert_int_equal(device_read(T.ro, "/readme.txt", buf, sizeof buf), 7);
    assert_int_equal(device_read(T.ro, "/new", buf, sizeof buf), -1);
    end(w);
}

/* ---- a full disk, an exhausted arena, a full handle table ---- */

static int full_app(const struct tern_pal *pal, const struct tern_app_start *st)
{
    (void)st;
    void *c = pal->ctx;
    struct tern_pal_app *app = c;
    tern_pal_handle h;
    static uint8_t chunk[4096];
    memset(chunk, 0x5a, sizeof chunk);
    CHECK(pal->file_open(c, "/small/fill", TERN_PAL_O_WRITE | TERN_PAL_O_CREATE, &h) ==
          TERN_PAL_OK);
    int r;
    size_t written = 0;
    while ((r = pal->file_write(c, h, chunk, sizeof chunk)) == TERN_PAL_OK && written < (1u << 20))
        written += sizeof chunk;
    CHECK(r == TERN_PAL_ENOSPC);
    CHECK(pal->file_close(c, h) == TERN_PAL_OK);
    struct tern_pal_stat sb;
    CHECK(pal->file_stat(c, "/small/fill", &sb) == TERN_PAL_OK && sb.size == written);
    CHECK(pal->file_mkdir(c, "/small/d") == TERN_PAL_ENOSPC);
    T.written = written;
    CHECK(pal->file_unlink(c, "/small/fill") == TERN_PAL_OK);
    CHECK(pal->file_mkdir(c, "/small/d") == TERN_PAL_OK);
    /* The arena runs out; the PAL (instance heap) does not. */
    static void *blocks[64];
    size_t n = 0;
    while (n < 64 && (blocks[n] = pal->alloc(c, 32 * 1024)) != NULL)
        n++;
    CHECK(n > 4 && n < 64);
    CHECK(app->stats.alloc_refused == 1);
    T.arena_blocks = n;
    CHECK(put(pal, "/data/after", "still works") == TERN_PAL_OK);
    tern_pal_handle ev;
    CHECK(pal->event_create(c, &ev) == TERN_PAL_OK);
    for (size_t i = 0; i < n; i++)
        pal->free(c, blocks[i]);
    CHECK(pal->alloc(c, 32 * 1024) != NULL);              /* back again */
    /* The handle table: opens are refused with the rest. */
    static tern_pal_handle hs[TERN_PAL_MAX_HANDLES];
    size_t k = 0;
    while (k < TERN_PAL_MAX_HANDLES && pal->event_create(c, &hs[k]) == TERN_PAL_OK)
        k++;
    CHECK(k == TERN_PAL_MAX_HANDLES - 1);
    uint64_t refused = app->stats.handles_refused;
    CHECK(pal->file_open(c, "/data/none", TERN_PAL_O_WRITE | TERN_PAL_O_CREATE, &h) ==
          TERN_PAL_ENOMEM);
    CHECK(app->stats.handles_refused == refused + 1);
    CHECK(pal->file_stat(c, "/data/none", &sb) == TERN_PAL_ENOENT);   /* nothing created */
    return 0;
}

static void test_files_full_disk_and_arena(void **state)
{
    (void)state;
    struct pal_world *w = world();
    run(w, full_app);
    assert_true(T.written > 100 * 1024);
    assert_true(sim_console_has(&T.node->sim, "exhausted: allocation of 32768 bytes refused"));
    /* The core never felt it: the instance heap still gives memory. */
    void *p = tern_alloc(&T.node->os, 256 * 1024);
    assert_non_null(p);
    tern_free(&T.node->os, p);
    end(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files_read_write_seek),
        cmocka_unit_test(test_files_names),
        cmocka_unit_test(test_files_hidden_os_dir),
        cmocka_unit_test(test_files_confined_to_mounts),
        cmocka_unit_test(test_files_full_disk_and_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
