/*
 * Interface: see include/tern/fat.h. Paths, file handles (read, write,
 * seek, truncate), directories (opendir, readdir, mkdir), unlink, rename
 * and the whole-volume check. Write ordering is described in
 * docs/storage.md; each fat_barrier() below is one of its steps.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/fat.h"
#include "fat_priv.h"
#include "le.h"

struct resolved {
    bool is_root;
    bool parent_ok;            /* the parent directory exists */
    uint32_t parent;           /* directory holding the last component */
    struct fat_entry e;        /* the entry, when found */
    const char *last;          /* last component */
    size_t last_len;
};

/* Walks path. TERN_OK (found, or the root); TERN_ENOENT (parent_ok tells
 * whether only the last component is missing); TERN_EINVAL; TERN_EIO.
 * forbid: a directory cluster the walk must not pass through (rename). */
static tern_result resolve(struct tern_fat *fs, const char *path, struct resolved *out,
                           uint32_t forbid)
{
    memset(out, 0, sizeof(*out));
    if (!fs->mounted || path == NULL)
        return TERN_EINVAL;
    /* The whole path's syntax first, so a bad name is TERN_EINVAL
     * wherever it stands. */
    for (const char *q = path; *q;) {
        while (*q == '/')
            q++;
        const char *e = q;
        while (*e && *e != '/')
            e++;
        size_t n = (size_t)(e - q);
        if (n > 0 && !(n == 1 && q[0] == '.') && fat_name_check(q, n) != TERN_OK)
            return TERN_EINVAL;
        q = e;
    }
    uint32_t dir = fat_root(fs);
    const char *p = path;
    for (;;) {
        while (*p == '/')
            p++;
        if (*p == '\0') {
            out->is_root = true;
            out->parent = dir;
            return TERN_OK;
        }
        const char *end = p;
        while (*end && *end != '/')
            end++;
        size_t len = (size_t)(end - p);
        const char *rest = end;
        while (*rest == '/')
            rest++;
        bool last = *rest == '\0';
        if (len == 1 && p[0] == '.') {
            if (last) {
                out->is_root = dir == fat_root(fs);
                if (out->is_root) {
                    out->parent = dir;
                    return TERN_OK;
                }
                return TERN_EINVAL;   /* "a/." : name the directory itself */
            }
            p = rest;
            continue;
        }
        tern_result r = fat_name_check(p, len);
        if (r != TERN_OK)
            return r;
        r = fat_dir_find(fs, dir, p, len, &out->e);
        if (last) {
            out->parent = dir;
            out->parent_ok = true;
            out->last = p;
            out->last_len = len;
            return r;
        }
        if (r != TERN_OK)
            return r;
        if (!(out->e.attr & ATTR_DIR))
            return TERN_ENOENT;
        uint32_t child = out->e.cluster;
        if (!fat_valid_cluster(fs, child))
            return fat_corrupt(fs, "cluster-out-of-range");
        if (child == forbid && forbid != 0)
            return TERN_EINVAL;
        if ((r = fat_check_dots(fs, child, dir)) != TERN_OK)
            return r;
        dir = child;
        p = rest;
    }
}

/* Checks a file's chain against its size; fills length and last cluster. */
static tern_result check_chain(struct tern_fat *fs, uint32_t first, uint32_t size,
                               uint32_t *len, uint32_t *last)
{
    if (first != 0 && !fat_valid_cluster(fs, first))
        return fat_corrupt(fs, "cluster-out-of-range");
    tern_result r = fat_chain_length(fs, first, len, last);
    if (r != TERN_OK)
        return r;
    uint64_t want = ((uint64_t)size + fs->cluster_bytes - 1) / fs->cluster_bytes;
    if (*len < want)
        return fat_corrupt(fs, "chain-shorter-than-size");
    if (*len > want)
        return fat_corrupt(fs, "chain-longer-than-size");
    return TERN_OK;
}

tern_result tern_fat_open(struct tern_fat *fs, struct tern_fat_file *f, const char *path,
                          unsigned flags)
{
    memset(f, 0, sizeof(*f));
    if (!(flags & (TERN_FAT_READ | TERN_FAT_WRITE)) ||
        ((flags & (TERN_FAT_CREATE | TERN_FAT_TRUNC)) && !(flags & TERN_FAT_WRITE)))
        return TERN_EINVAL;
    if ((flags & TERN_FAT_WRITE) && fs->read_only)
        return TERN_EROFS;
    struct resolved rs;
    tern_result r = resolve(fs, path, &rs, 0);
    if (r == TERN_ENOENT && rs.parent_ok && (flags & TERN_FAT_CREATE)) {
        uint32_t idx;
        r = fat_dir_add(fs, rs.parent, rs.last, rs.last_len, ATTR_ARCH, 0, 0, fs->date,
                        fs->time, false, &idx);
        if (r != TERN_OK)
            return r;
        if ((r = fat_barrier(fs)) != TERN_OK)
            return r;
        f->fs = fs;
        f->open = true;
        f->writable = true;
        f->dir_cluster = rs.parent;
        f->entry_index = idx;
        return TERN_OK;
    }
    if (r != TERN_OK)
        return r;
    if (rs.is_root || (rs.e.attr & ATTR_DIR))
        return TERN_EINVAL;
    if ((flags & TERN_FAT_CREATE) && (flags & TERN_FAT_EXCL))
        return TERN_EEXIST;
    if ((flags & TERN_FAT_WRITE) && (rs.e.attr & ATTR_RO))
        return TERN_EROFS;
    uint32_t len, last;
    if ((r = check_chain(fs, rs.e.cluster, rs.e.size, &len, &last)) != TERN_OK)
        return r;
    f->fs = fs;
    f->open = true;
    f->writable = (flags & TERN_FAT_WRITE) != 0;
    f->first_cluster = rs.e.cluster;
    f->size = rs.e.size;
    f->chain_len = len;
    f->last_cluster = last;
    f->dir_cluster = rs.parent;
    f->entry_index = rs.e.index;
    if (flags & TERN_FAT_TRUNC)
        return tern_fat_truncate(f, 0);
    return TERN_OK;
}

/* The cluster at chain index ci (< chain_len), walking from the cached
 * position when it is not past ci. */
static tern_result seek_cluster(struct tern_fat_file *f, uint32_t ci, uint32_t *out)
{
    struct tern_fat *fs = f->fs;
    uint32_t c = f->first_cluster, i = 0;
    if (f->cur_cluster != 0 && f->cur_index <= ci) {
        c = f->cur_cluster;
        i = f->cur_index;
    }
    if (ci >= f->chain_len || c == 0)
        return fat_corrupt(fs, "chain-shorter-than-size");
    while (i < ci) {
        tern_result r = fat_next(fs, c, &c);
        if (r != TERN_OK)
            return r;
        if (c == FAT_EOC)
            return fat_corrupt(fs, "chain-shorter-than-size");
        i++;
    }
    f->cur_cluster = c;
    f->cur_index = ci;
    *out = c;
    return TERN_OK;
}

/* Moves bytes between buf and the device at byte offset off from sector
 * lba; partial sectors go through the cache, whole ones in one call. */
static tern_result xfer(struct tern_fat *fs, uint64_t lba, uint64_t off, uint8_t *buf,
                        size_t n, bool write)
{
    uint32_t bps = fs->bps;
    lba += off / bps;
    uint32_t o = (uint32_t)(off % bps);
    while (n > 0) {
        tern_result r;
        if (o != 0 || n < bps) {
            size_t k = bps - o < n ? bps - o : n;
            uint8_t *sec;
            if ((r = tern_bdev_map(fs->dev, lba, write, &sec)) != TERN_OK)
                return r;
            if (write)
                memcpy(sec + o, buf, k);
            else
                memcpy(buf, sec + o, k);
            buf += k;
            n -= k;
            lba++;
            o = 0;
            continue;
        }
        uint64_t count = n / bps;
        if (count > 0xffff)
            count = 0xffff;
        r = write ? tern_bdev_write(fs->dev, lba, buf, (uint32_t)count)
                  : tern_bdev_read(fs->dev, lba, buf, (uint32_t)count);
        if (r != TERN_OK)
            return r;
        buf += count * bps;
        n -= count * bps;
        lba += count;
    }
    return TERN_OK;
}

/* Reads or writes [off, off + n) inside the allocated chain, coalescing
 * contiguous clusters into one transfer. */
static tern_result data_io(struct tern_fat_file *f, uint64_t off, uint8_t *buf, size_t n,
                           bool write)
{
    struct tern_fat *fs = f->fs;
    uint32_t cb = fs->cluster_bytes;
    while (n > 0) {
        uint32_t ci = (uint32_t)(off / cb);
        uint32_t c;
        tern_result r = seek_cluster(f, ci, &c);
        if (r != TERN_OK)
            return r;
        uint64_t in = off % cb;
        uint64_t span = cb - in;
        uint32_t run_last = c;
        while (span < n && f->cur_index + 1 < f->chain_len) {
            uint32_t next;
            if ((r = fat_next(fs, run_last, &next)) != TERN_OK)
                return r;
            if (next != run_last + 1)
                break;
            run_last = next;
            f->cur_cluster = next;
            f->cur_index++;
            span += cb;
        }
        size_t k = span < n ? (size_t)span : n;
        if ((r = xfer(fs, fat_cluster_lba(fs, c), in, buf, k, write)) != TERN_OK)
            return r;
        buf += k;
        n -= k;
        off += k;
    }
    return TERN_OK;
}

tern_result tern_fat_pread(struct tern_fat_file *f, uint64_t offset, void *buf, size_t len,
                           size_t *got)
{
    *got = 0;
    if (!f->open)
        return TERN_EINVAL;
    if (offset >= f->size || len == 0)
        return TERN_OK;
    size_t n = f->size - offset < len ? (size_t)(f->size - offset) : len;
    tern_result r = data_io(f, offset, buf, n, false);
    if (r == TERN_OK)
        *got = n;
    return r;
}

tern_result tern_fat_read(struct tern_fat_file *f, void *buf, size_t len, size_t *got)
{
    tern_result r = tern_fat_pread(f, f->pos, buf, len, got);
    if (r == TERN_OK)
        f->pos += (uint32_t)*got;
    return r;
}

tern_result tern_fat_seek(struct tern_fat_file *f, uint64_t pos)
{
    if (!f->open || pos > 0xffffffffu)
        return TERN_EINVAL;
    f->pos = (uint32_t)pos;
    return TERN_OK;
}

/* Grows the chain to hold `bytes`; on failure frees what it added. */
static tern_result grow_chain(struct tern_fat_file *f, uint64_t bytes)
{
    struct tern_fat *fs = f->fs;
    uint64_t need = (bytes + fs->cluster_bytes - 1) / fs->cluster_bytes;
    uint32_t old_len = f->chain_len, old_last = f->last_cluster, old_first = f->first_cluster;
    tern_result r = TERN_OK;
    while (f->chain_len < need) {
        uint32_t c;
        if ((r = fat_alloc(fs, f->last_cluster, &c)) != TERN_OK)
            break;
        if (f->first_cluster == 0)
            f->first_cluster = c;
        f->last_cluster = c;
        f->chain_len++;
    }
    if (r == TERN_OK)
        return TERN_OK;
    if (f->chain_len > old_len) {
        uint32_t added = old_last ? 0 : f->first_cluster;
        if (old_last) {
            tern_result r2 = fat_next(fs, old_last, &added);
            if (r2 == TERN_OK)
                r2 = fat_set(fs, old_last, FAT_EOC);
            if (r2 != TERN_OK)
                return r2;
        }
        tern_result r2 = fat_free_chain(fs, added);
        if (r2 != TERN_OK)
            return r2;
    }
    f->chain_len = old_len;
    f->last_cluster = old_last;
    f->first_cluster = old_first;
    f->cur_cluster = 0;
    return r;
}

static tern_result write_at(struct tern_fat_file *f, uint64_t off, const uint8_t *buf,
                            size_t len)
{
    tern_result r = grow_chain(f, off + len);
    if (r != TERN_OK)
        return r;
    f->dirty = true;
    if ((r = data_io(f, off, (uint8_t *)(uintptr_t)buf, len, true)) != TERN_OK)
        return r;
    if (off + len > f->size)
        f->size = (uint32_t)(off + len);
    return TERN_OK;
}

static tern_result zero_fill(struct tern_fat_file *f, uint64_t from, uint64_t to)
{
    uint8_t zero[512];
    memset(zero, 0, sizeof(zero));
    tern_result r = grow_chain(f, to);
    while (r == TERN_OK && from < to) {
        size_t k = to - from < sizeof(zero) ? (size_t)(to - from) : sizeof(zero);
        r = write_at(f, from, zero, k);
        from += k;
    }
    return r;
}

tern_result tern_fat_write(struct tern_fat_file *f, const void *buf, size_t len)
{
    if (!f->open || !f->writable)
        return TERN_EINVAL;
    if (len == 0)
        return TERN_OK;
    if ((uint64_t)f->pos + len > 0xffffffffu)
        return TERN_EINVAL;
    tern_result r;
    if (f->pos > f->size && (r = zero_fill(f, f->size, f->pos)) != TERN_OK)
        return r;
    if ((r = write_at(f, f->pos, buf, len)) != TERN_OK)
        return r;
    f->pos += (uint32_t)len;
    return TERN_OK;
}

/* Writes size and first cluster into the directory entry. */
static tern_result update_entry(struct tern_fat_file *f)
{
    struct tern_fat *fs = f->fs;
    uint8_t *e;
    tern_result r = fat_entry_map(fs, f->dir_cluster, f->entry_index, true, &e);
    if (r != TERN_OK)
        return r;
    fat_put_cluster(e, f->first_cluster);
    put32(e + 28, f->size);
    put16(e + 22, fs->time);
    put16(e + 24, fs->date);
    put16(e + 18, fs->date);
    e[11] |= ATTR_ARCH;
    return TERN_OK;
}

tern_result tern_fat_flush_file(struct tern_fat_file *f)
{
    if (!f->open)
        return TERN_EINVAL;
    if (!f->writable || !f->dirty)
        return TERN_OK;
    /* Step 1: data and FAT (both copies) durable. Step 2: the entry. */
    tern_result r = fat_barrier(f->fs);
    if (r == TERN_OK)
        r = update_entry(f);
    if (r == TERN_OK)
        r = fat_barrier(f->fs);
    if (r == TERN_OK)
        f->dirty = false;
    return r;
}

tern_result tern_fat_truncate(struct tern_fat_file *f, uint32_t size)
{
    if (!f->open || !f->writable)
        return TERN_EINVAL;
    struct tern_fat *fs = f->fs;
    if (size > f->size) {
        tern_result r = zero_fill(f, f->size, size);
        if (r == TERN_OK)
            f->dirty = true;
        return r;
    }
    if (size == f->size)
        return TERN_OK;
    uint32_t keep = (uint32_t)(((uint64_t)size + fs->cluster_bytes - 1) / fs->cluster_bytes);
    uint32_t drop;
    tern_result r;
    f->dirty = true;
    if (keep == 0) {
        drop = f->first_cluster;
        f->first_cluster = 0;
        f->last_cluster = 0;
    } else {
        uint32_t c;
        if ((r = seek_cluster(f, keep - 1, &c)) != TERN_OK)
            return r;
        if ((r = fat_next(fs, c, &drop)) != TERN_OK)
            return r;
        f->last_cluster = c;
    }
    f->size = size;
    f->chain_len = keep;
    f->cur_cluster = 0;
    /* The entry shrinks first, then the clusters are freed. */
    if ((r = tern_fat_flush_file(f)) != TERN_OK)
        return r;
    if (keep != 0 && drop != FAT_EOC && (r = fat_set(fs, f->last_cluster, FAT_EOC)) != TERN_OK)
        return r;
    if (drop != FAT_EOC && drop != 0 && (r = fat_free_chain(fs, drop)) != TERN_OK)
        return r;
    return fat_barrier(fs);
}

tern_result tern_fat_file_lba(struct tern_fat_file *f, uint64_t off, uint64_t *lba)
{
    if (!f->open)
        return TERN_EINVAL;
    struct tern_fat *fs = f->fs;
    uint64_t ci = off / fs->cluster_bytes;
    if (ci >= f->chain_len)
        return TERN_EINVAL;
    uint32_t c;
    tern_result r = seek_cluster(f, (uint32_t)ci, &c);
    if (r == TERN_OK)
        *lba = fat_cluster_lba(fs, c) + (off % fs->cluster_bytes) / fs->bps;
    return r;
}

tern_result tern_fat_close(struct tern_fat_file *f)
{
    if (!f->open)
        return TERN_EINVAL;
    tern_result r = tern_fat_flush_file(f);
    f->open = false;
    return r;
}

tern_result tern_fat_stat(struct tern_fat *fs, const char *path, struct tern_fat_stat *out)
{
    struct resolved rs;
    tern_result r = resolve(fs, path, &rs, 0);
    if (r != TERN_OK)
        return r;
    memset(out, 0, sizeof(*out));
    if (rs.is_root) {
        out->name[0] = '/';
        out->is_dir = true;
        out->attr = ATTR_DIR;
        out->first_cluster = fat_root(fs);
        return TERN_OK;
    }
    fat_entry_stat(&rs.e, out);
    return TERN_OK;
}

/* The directory at path: its first cluster (0: fixed root), dots checked. */
static tern_result dir_of(struct tern_fat *fs, const char *path, uint32_t *out,
                          struct resolved *rs)
{
    tern_result r = resolve(fs, path, rs, 0);
    if (r != TERN_OK)
        return r;
    if (rs->is_root) {
        *out = fat_root(fs);
        return TERN_OK;
    }
    if (!(rs->e.attr & ATTR_DIR))
        return TERN_EINVAL;
    if (!fat_valid_cluster(fs, rs->e.cluster))
        return fat_corrupt(fs, "cluster-out-of-range");
    if ((r = fat_check_dots(fs, rs->e.cluster, rs->parent)) != TERN_OK)
        return r;
    *out = rs->e.cluster;
    return TERN_OK;
}

tern_result tern_fat_opendir(struct tern_fat *fs, struct tern_fat_dir *d, const char *path)
{
    struct resolved rs;
    uint32_t start = 0;
    tern_result r = dir_of(fs, path, &start, &rs);
    if (r != TERN_OK)
        return r;
    fat_dir_begin(fs, d, start);
    return TERN_OK;
}

static bool is_dot(const struct fat_entry *e)
{
    return e->raw[0] == '.' && (e->raw[1] == ' ' || (e->raw[1] == '.' && e->raw[2] == ' '));
}

tern_result tern_fat_readdir(struct tern_fat_dir *d, struct tern_fat_stat *out)
{
    struct fat_entry e;
    tern_result r;
    while ((r = fat_dir_next(d, &e)) == TERN_OK) {
        if (is_dot(&e))
            continue;
        fat_entry_stat(&e, out);
        return TERN_OK;
    }
    return r;
}

tern_result tern_fat_mkdir(struct tern_fat *fs, const char *path)
{
    if (fs->read_only)
        return TERN_EROFS;
    struct resolved rs;
    tern_result r = resolve(fs, path, &rs, 0);
    if (r == TERN_OK)
        return TERN_EEXIST;
    if (r != TERN_ENOENT || !rs.parent_ok)
        return r;
    /* Room in the parent first, so a full directory costs nothing. */
    if ((r = fat_dir_add(fs, rs.parent, rs.last, rs.last_len, ATTR_DIR, 0, 0, fs->date,
                         fs->time, true, NULL)) != TERN_OK)
        return r;
    uint32_t c;
    if ((r = fat_alloc(fs, 0, &c)) != TERN_OK)
        return r;
    if ((r = fat_zero_cluster(fs, c)) != TERN_OK)
        return r;
    uint8_t *e;
    if ((r = tern_bdev_map(fs->dev, fat_cluster_lba(fs, c), true, &e)) != TERN_OK)
        return r;
    for (int i = 0; i < 2; i++) {
        uint8_t *d = e + 32 * i;
        memset(d, ' ', 11);
        d[0] = '.';
        if (i == 1)
            d[1] = '.';
        d[11] = ATTR_DIR;
        put16(d + 14, fs->time);
        put16(d + 16, fs->date);
        put16(d + 18, fs->date);
        put16(d + 22, fs->time);
        put16(d + 24, fs->date);
        fat_put_cluster(d, i == 0 ? c : (rs.parent == fat_root(fs) ? 0 : rs.parent));
    }
    /* Step 1: the new cluster (data and FAT). Step 2: the entry. */
    if ((r = fat_barrier(fs)) != TERN_OK)
        return r;
    if ((r = fat_dir_add(fs, rs.parent, rs.last, rs.last_len, ATTR_DIR, c, 0, fs->date,
                         fs->time, false, NULL)) != TERN_OK)
        return r;
    return fat_barrier(fs);
}

static tern_result dir_empty(struct tern_fat *fs, uint32_t dir, bool *empty)
{
    struct tern_fat_dir d;
    struct fat_entry e;
    fat_dir_begin(fs, &d, dir);
    tern_result r;
    *empty = true;
    while ((r = fat_dir_next(&d, &e)) == TERN_OK) {
        if (!is_dot(&e)) {
            *empty = false;
            return TERN_OK;
        }
    }
    return r == TERN_ENOENT ? TERN_OK : r;
}

tern_result tern_fat_unlink(struct tern_fat *fs, const char *path)
{
    if (fs->read_only)
        return TERN_EROFS;
    struct resolved rs;
    tern_result r = resolve(fs, path, &rs, 0);
    if (r != TERN_OK)
        return r;
    if (rs.is_root)
        return TERN_EINVAL;
    if (rs.e.attr & ATTR_DIR) {
        bool empty;
        if (!fat_valid_cluster(fs, rs.e.cluster))
            return fat_corrupt(fs, "cluster-out-of-range");
        if ((r = dir_empty(fs, rs.e.cluster, &empty)) != TERN_OK)
            return r;
        if (!empty)
            return TERN_EBUSY;
    }
    /* Step 1: the entry goes. Step 2: its clusters are freed. */
    if ((r = fat_dir_remove(fs, rs.parent, &rs.e)) != TERN_OK)
        return r;
    if ((r = fat_barrier(fs)) != TERN_OK)
        return r;
    if (rs.e.cluster != 0 && (r = fat_free_chain(fs, rs.e.cluster)) != TERN_OK)
        return r;
    return fat_barrier(fs);
}

tern_result tern_fat_rename(struct tern_fat *fs, const char *from, const char *to)
{
    if (fs->read_only)
        return TERN_EROFS;
    struct resolved src, dst;
    tern_result r = resolve(fs, from, &src, 0);
    if (r != TERN_OK)
        return r;
    if (src.is_root)
        return TERN_EINVAL;
    bool is_dir = (src.e.attr & ATTR_DIR) != 0;
    r = resolve(fs, to, &dst, is_dir ? src.e.cluster : 0);
    if (r == TERN_OK) {
        /* Only a change of case of the same entry is allowed. */
        if (dst.is_root || dst.parent != src.parent || dst.e.index != src.e.index)
            return TERN_EEXIST;
    } else if (r != TERN_ENOENT || !dst.parent_ok) {
        return r;
    }
    if (is_dir && dst.parent == src.e.cluster)
        return TERN_EINVAL;
    /* Room first, so that a full directory loses nothing. */
    if ((r = fat_dir_add(fs, dst.parent, dst.last, dst.last_len, src.e.attr, src.e.cluster,
                         src.e.size, src.e.date, src.e.time, true, NULL)) != TERN_OK)
        return r;
    /* Step 1: the old entry goes (a cut here loses the file's clusters,
     * which fsck reports as lost). Step 2: ".." of a moved directory.
     * Step 3: the new entry. */
    if ((r = fat_dir_remove(fs, src.parent, &src.e)) != TERN_OK)
        return r;
    if ((r = fat_barrier(fs)) != TERN_OK)
        return r;
    if (is_dir && dst.parent != src.parent) {
        uint8_t *e;
        if ((r = fat_entry_map(fs, src.e.cluster, 1, true, &e)) != TERN_OK)
            return r;
        fat_put_cluster(e, dst.parent == fat_root(fs) ? 0 : dst.parent);
        if ((r = fat_barrier(fs)) != TERN_OK)
            return r;
    }
    if ((r = fat_dir_add(fs, dst.parent, dst.last, dst.last_len, src.e.attr, src.e.cluster,
                         src.e.size, src.e.date, src.e.time, false, NULL)) != TERN_OK)
        return r;
    return fat_barrier(fs);
}

/* The replace of tern_fat_rename_replace, once both entries are known:
 * from's entry goes, then to's short entry takes from's chain, size and
 * stamp in one 32-byte write (one sector), then to's old chain is freed.
 * A cut leaves to old (from's clusters lost) or new (the old clusters
 * lost), never neither and never two entries for one chain. */
static tern_result replace_entry(struct tern_fat *fs, const struct resolved *src,
                                 const struct resolved *dst)
{
    tern_result r;
    if ((r = fat_dir_remove(fs, src->parent, &src->e)) != TERN_OK)
        return r;
    if ((r = fat_barrier(fs)) != TERN_OK)
        return r;
    uint8_t *e;
    if ((r = fat_entry_map(fs, dst->parent, dst->e.index, true, &e)) != TERN_OK)
        return r;
    fat_put_cluster(e, src->e.cluster);
    put32(e + 28, src->e.size);
    put16(e + 22, src->e.time);
    put16(e + 24, src->e.date);
    e[11] = src->e.attr;
    if ((r = fat_barrier(fs)) != TERN_OK)
        return r;
    if (dst->e.cluster != 0 && (r = fat_free_chain(fs, dst->e.cluster)) != TERN_OK)
        return r;
    return fat_barrier(fs);
}

tern_result tern_fat_rename_replace(struct tern_fat *fs, const char *from, const char *to)
{
    if (fs->read_only)
        return TERN_EROFS;
    struct resolved src, dst;
    tern_result r = resolve(fs, from, &src, 0);
    if (r != TERN_OK)
        return r;
    if (src.is_root || (src.e.attr & ATTR_DIR))
        return tern_fat_rename(fs, from, to);
    r = resolve(fs, to, &dst, 0);
    if (r != TERN_OK)
        return r == TERN_ENOENT ? tern_fat_rename(fs, from, to) : r;
    if (dst.is_root || (dst.e.attr & ATTR_DIR))
        return TERN_EEXIST;
    if (dst.parent == src.parent && dst.e.index == src.e.index)
        return tern_fat_rename(fs, from, to);       /* the same file: a change of case */
    return replace_entry(fs, &src, &dst);
}

/* ---- whole-volume check ---- */

#define CHECK_DEPTH 64

static tern_result mark_chain(struct tern_fat *fs, uint8_t *bm, uint32_t first, uint32_t *len)
{
    uint32_t c = first;
    *len = 0;
    while (c != FAT_EOC && c != 0) {
        if (!fat_valid_cluster(fs, c))
            return fat_corrupt(fs, "cluster-out-of-range");
        if (bm[c / 8] & (1u << (c % 8)))
            return fat_corrupt(fs, "cross-linked-cluster");
        bm[c / 8] |= (uint8_t)(1u << (c % 8));
        if (++*len > fs->clusters)
            return fat_corrupt(fs, "chain-loop");
        tern_result r = fat_next(fs, c, &c);
        if (r != TERN_OK)
            return r;
    }
    return TERN_OK;
}

tern_result tern_fat_check(struct tern_fat *fs, uint8_t *bitmap, size_t bitmap_len,
                           uint32_t *lost)
{
    if (!fs->mounted || bitmap_len < ((size_t)fs->clusters + 2 + 7) / 8)
        return TERN_EINVAL;
    memset(bitmap, 0, ((size_t)fs->clusters + 2 + 7) / 8);
    struct tern_fat_dir stack[CHECK_DEPTH];
    int depth = 0;
    tern_result r;
    uint32_t len;
    uint32_t root = fat_root(fs);
    if (root != 0 && (r = mark_chain(fs, bitmap, root, &len)) != TERN_OK)
        return r;
    fat_dir_begin(fs, &stack[depth++], root);
    while (depth > 0) {
        struct tern_fat_dir *d = &stack[depth - 1];
        struct fat_entry e;
        r = fat_dir_next(d, &e);
        if (r == TERN_ENOENT) {
            depth--;
            continue;
        }
        if (r != TERN_OK)
            return r;
        if (is_dot(&e))
            continue;
        if ((r = mark_chain(fs, bitmap, e.cluster, &len)) != TERN_OK)
            return r;
        if (e.attr & ATTR_DIR) {
            if (!fat_valid_cluster(fs, e.cluster))
                return fat_corrupt(fs, "cluster-out-of-range");
            if ((r = fat_check_dots(fs, e.cluster, d->start)) != TERN_OK)
                return r;
            if (depth == CHECK_DEPTH) {
                fs->reason = "tree-too-deep";
                return TERN_ENOSPC;
            }
            fat_dir_begin(fs, &stack[depth++], e.cluster);
        } else {
            uint64_t want = ((uint64_t)e.size + fs->cluster_bytes - 1) / fs->cluster_bytes;
            if (len < want)
                return fat_corrupt(fs, "chain-shorter-than-size");
            if (len > want)
                return fat_corrupt(fs, "chain-longer-than-size");
        }
    }
    if (lost == NULL)
        return TERN_OK;
    return fat_count_unmarked(fs, bitmap, lost);
}

tern_result tern_fat_reclaim_lost(struct tern_fat *fs, const uint8_t *bitmap, uint32_t *freed)
{
    *freed = 0;
    if (fs->read_only)
        return TERN_EROFS;
    for (uint32_t c = 2; c - 2 < fs->clusters; c++) {
        if (bitmap[c / 8] & (1u << (c % 8)))
            continue;
        uint32_t v;
        tern_result r = fat_get(fs, c, &v);
        if (r == TERN_OK && v != 0 && v != FAT_BAD) {
            r = fat_set(fs, c, 0);
            ++*freed;
        }
        if (r != TERN_OK)
            return r;
    }
    return *freed ? tern_fat_sync(fs) : TERN_OK;
}

/* The first component of path: skips '/' and "." components; *len 0
 * for the root. */
static const char *first_component(const char *path, size_t *len)
{
    for (;;) {
        while (*path == '/')
            path++;
        size_t n = 0;
        while (path[n] && path[n] != '/')
            n++;
        if (n == 1 && path[0] == '.') {
            path += 1;
            continue;
        }
        *len = n;
        return path;
    }
}

bool tern_fat_in_top_dir(struct tern_fat *fs, const char *path, const char *top)
{
    size_t n = 0, tn = strlen(top);
    const char *c = first_component(path, &n);
    if (n == 0)
        return false;
    size_t k = n;                            /* FAT drops trailing dots and spaces */
    while (k > 0 && (c[k - 1] == '.' || c[k - 1] == ' '))
        k--;
    bool same = k == tn;
    for (size_t i = 0; same && i < k; i++) {
        char a = c[i] >= 'A' && c[i] <= 'Z' ? (char)(c[i] + 32) : c[i];
        char b = top[i] >= 'A' && top[i] <= 'Z' ? (char)(top[i] + 32) : top[i];
        same = a == b;
    }
    if (same)
        return true;
    /* Another name for the same entry (an 8.3 alias): the same cluster. */
    char p1[TERN_FAT_NAME_MAX + 2], p2[TERN_FAT_NAME_MAX + 2];
    if (n > TERN_FAT_NAME_MAX || tn > TERN_FAT_NAME_MAX)
        return false;
    p1[0] = p2[0] = '/';
    memcpy(p1 + 1, c, n);
    p1[n + 1] = '\0';
    memcpy(p2 + 1, top, tn + 1);
    struct tern_fat_stat a, b;
    return tern_fat_stat(fs, p1, &a) == TERN_OK && tern_fat_stat(fs, p2, &b) == TERN_OK &&
           a.is_dir && b.is_dir && a.first_cluster != 0 && a.first_cluster == b.first_cluster;
}
