/*
 * Interface: see include/tern/fat.h. This file: the boot sector (parse,
 * mount, format), the FAT itself (get, set in every copy, allocate, free,
 * bounded chain walks) and FSInfo hints.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/fat.h"
#include "fat_priv.h"
#include "le.h"

tern_result fat_corrupt(struct tern_fat *fs, const char *reason)
{
    fs->reason = reason;
    fs->stats.corrupt++;
    if (fs->on_corrupt)
        fs->on_corrupt(fs->on_corrupt_arg, reason);
    return TERN_EIO;
}

bool fat_valid_cluster(const struct tern_fat *fs, uint32_t c)
{
    return c >= 2 && c - 2 < fs->clusters;
}

uint64_t fat_cluster_lba(const struct tern_fat *fs, uint32_t c)
{
    return fs->base + fs->data_lba + (uint64_t)(c - 2) * fs->spc;
}

uint32_t fat_root(const struct tern_fat *fs)
{
    return fs->type == TERN_FAT32 ? fs->root_cluster : 0;
}

static void trim_copy(char *out, const uint8_t *in, size_t n)
{
    memcpy(out, in, n);
    out[n] = '\0';
    while (n > 0 && out[n - 1] == ' ')
        out[--n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((uint8_t)out[i] < 0x20 || (uint8_t)out[i] >= 0x7f)
            out[i] = '?';
}

tern_result tern_fat_parse_bpb(struct tern_fat *fs, const uint8_t *sec, uint32_t sec_len,
                               uint64_t part_sectors)
{
    if (sec_len < 512)
        return fat_corrupt(fs, "bad-bpb-short");
    if (sec[510] != 0x55 || sec[511] != 0xaa)
        return fat_corrupt(fs, "bad-boot-signature");
    if (sec[0] != 0xeb && sec[0] != 0xe9)
        return fat_corrupt(fs, "bad-bpb-jump");
    uint32_t bps = le16(sec + 11);
    if (bps < 512 || bps > 4096 || (bps & (bps - 1)) != 0 || bps != sec_len)
        return fat_corrupt(fs, "bad-bpb-bytes-per-sector");
    uint32_t spc = sec[13];
    if (spc == 0 || (spc & (spc - 1)) != 0 || spc * bps > 65536)
        return fat_corrupt(fs, "bad-bpb-sectors-per-cluster");
    uint32_t reserved = le16(sec + 14);
    uint32_t nfats = sec[16];
    uint32_t root_entries = le16(sec + 17);
    uint32_t total16 = le16(sec + 19), fat16 = le16(sec + 22);
    uint32_t total32 = le32(sec + 32), fat32 = le32(sec + 36);
    if (reserved == 0)
        return fat_corrupt(fs, "bad-bpb-reserved");
    if (nfats < 1 || nfats > 2)
        return fat_corrupt(fs, "bad-bpb-fat-count");
    if (sec[21] != 0xf0 && sec[21] < 0xf8)
        return fat_corrupt(fs, "bad-bpb-media");
    uint64_t total = total16 ? total16 : total32;
    uint32_t fat_sectors = fat16 ? fat16 : fat32;
    if (total == 0 || total > part_sectors)
        return fat_corrupt(fs, "bad-bpb-total-sectors");
    if (fat_sectors == 0)
        return fat_corrupt(fs, "bad-bpb-fat-size");
    uint32_t root_sectors = (root_entries * 32 + bps - 1) / bps;
    uint64_t data = (uint64_t)reserved + (uint64_t)nfats * fat_sectors + root_sectors;
    if (data >= total)
        return fat_corrupt(fs, "bad-bpb-layout");
    uint64_t clusters = (total - data) / spc;
    if (clusters == 0 || clusters > 0x0ffffff5)
        return fat_corrupt(fs, "bad-bpb-cluster-count");
    enum tern_fat_type type = clusters < 4085 ? TERN_FAT12
                              : clusters < 65525 ? TERN_FAT16 : TERN_FAT32;
    if (type == TERN_FAT32 ? (root_entries != 0 || fat16 != 0)
                           : (root_entries == 0 || fat16 == 0))
        return fat_corrupt(fs, "bad-bpb-type-mismatch");
    uint64_t bits = (uint64_t)fat_sectors * bps * 8;
    if (bits / (type == TERN_FAT12 ? 12 : type) < clusters + 2)
        return fat_corrupt(fs, "fat-too-small");
    uint32_t root_cluster = 0, fsinfo = 0;
    const uint8_t *ext = sec + 36;     /* FAT12/16 extended BPB */
    if (type == TERN_FAT32) {
        if (le16(sec + 42) != 0)
            return fat_corrupt(fs, "bad-bpb-version");
        root_cluster = le32(sec + 44);
        if (root_cluster < 2 || root_cluster - 2 >= clusters)
            return fat_corrupt(fs, "bad-bpb-root-cluster");
        fsinfo = le16(sec + 48);
        if (fsinfo == 0 || fsinfo >= reserved || fsinfo == 0xffff)
            fsinfo = 0;
        ext = sec + 64;
    }
    fs->type = type;
    fs->bps = bps;
    fs->spc = spc;
    fs->cluster_bytes = spc * bps;
    fs->reserved = reserved;
    fs->nfats = nfats;
    fs->fat_sectors = fat_sectors;
    fs->root_entries = root_entries;
    fs->root_sectors = root_sectors;
    fs->fat_lba = reserved;
    fs->root_lba = reserved + (uint64_t)nfats * fat_sectors;
    fs->data_lba = data;
    fs->sectors = total;
    fs->clusters = (uint32_t)clusters;
    fs->root_cluster = root_cluster;
    fs->fsinfo_sector = fsinfo;
    fs->free_count = 0xffffffffu;
    fs->next_free = 2;
    if (ext[2] == 0x29) {
        fs->serial = le32(ext + 3);
        trim_copy(fs->label, ext + 7, 11);
    } else {
        fs->serial = 0;
        memcpy(fs->label, "NO NAME", 8);
    }
    if (fs->label[0] == '\0')
        memcpy(fs->label, "NO NAME", 8);
    return TERN_OK;
}

tern_result tern_fat_mount(struct tern_fat *fs, struct tern_bdev *dev, uint64_t base,
                           uint64_t sectors, bool read_only)
{
    memset(fs, 0, sizeof(*fs));
    fs->dev = dev;
    fs->base = base;
    fs->read_only = read_only || dev->read_only;
    fs->date = FAT_DEFAULT_DATE;
    if (base >= dev->sector_count || sectors == 0 || sectors > dev->sector_count - base)
        return fat_corrupt(fs, "partition-outside-disk");
    uint8_t *sec;
    tern_result r = tern_bdev_map(dev, base, false, &sec);
    if (r != TERN_OK)
        return r;
    r = tern_fat_parse_bpb(fs, sec, dev->sector_size, sectors);
    if (r != TERN_OK)
        return r;
    if (fs->fsinfo_sector) {
        r = tern_bdev_map(dev, base + fs->fsinfo_sector, false, &sec);
        if (r != TERN_OK)
            return r;
        if (le32(sec) == 0x41615252 && le32(sec + 484) == 0x61417272 &&
            le32(sec + 508) == 0xaa550000) {
            uint32_t fc = le32(sec + 488), nf = le32(sec + 492);
            fs->free_count = fc <= fs->clusters ? fc : 0xffffffffu;
            fs->next_free = fat_valid_cluster(fs, nf) ? nf : 2;
        } else {
            fs->fsinfo_sector = 0;     /* bad FSInfo: hints unknown, not corruption */
        }
    }
    /* The first two FAT entries: media byte in entry 0. */
    uint32_t v;
    if ((r = fat_get(fs, 0, &v)) != TERN_OK)
        return r;
    fs->mounted = true;
    return TERN_OK;
}

/* ---- the FAT ---- */

static tern_result fat_entry_byte(struct tern_fat *fs, unsigned copy, uint64_t off, bool write,
                                  uint8_t **out)
{
    uint64_t lba = fs->base + fs->fat_lba + (uint64_t)copy * fs->fat_sectors + off / fs->bps;
    uint8_t *sec;
    tern_result r = tern_bdev_map(fs->dev, lba, write, &sec);
    if (r != TERN_OK)
        return r;
    *out = sec + off % fs->bps;
    return TERN_OK;
}

tern_result fat_get(struct tern_fat *fs, uint32_t c, uint32_t *out)
{
    uint8_t *p;
    tern_result r;
    uint32_t v;
    if (c - 2 >= fs->clusters && c >= 2)
        return fat_corrupt(fs, "cluster-out-of-range");
    switch (fs->type) {
    case TERN_FAT32:
        if ((r = fat_entry_byte(fs, 0, (uint64_t)c * 4, false, &p)) != TERN_OK)
            return r;
        v = le32(p) & 0x0fffffffu;
        *out = v >= 0x0ffffff8u ? FAT_EOC : v == 0x0ffffff7u ? FAT_BAD : v;
        return TERN_OK;
    case TERN_FAT16:
        if ((r = fat_entry_byte(fs, 0, (uint64_t)c * 2, false, &p)) != TERN_OK)
            return r;
        v = le16(p);
        *out = v >= 0xfff8u ? FAT_EOC : v == 0xfff7u ? FAT_BAD : v;
        return TERN_OK;
    case TERN_FAT12: {
        uint64_t off = (uint64_t)c + c / 2;
        if ((r = fat_entry_byte(fs, 0, off, false, &p)) != TERN_OK)
            return r;
        uint32_t lo = p[0];
        if ((r = fat_entry_byte(fs, 0, off + 1, false, &p)) != TERN_OK)
            return r;
        uint32_t w = lo | ((uint32_t)p[0] << 8);
        v = (c & 1) ? w >> 4 : w & 0xfff;
        *out = v >= 0xff8u ? FAT_EOC : v == 0xff7u ? FAT_BAD : v;
        return TERN_OK;
    }
    }
    return TERN_EINVAL;
}

tern_result fat_count_unmarked(struct tern_fat *fs, const uint8_t *bm, uint32_t *out)
{
    uint32_t n = 0;
    if (fs->type == TERN_FAT12) { /* entries straddle sectors: one at a time */
        for (uint32_t c = 2; c - 2 < fs->clusters; c++) {
            uint32_t v;
            tern_result r = fat_get(fs, c, &v);
            if (r != TERN_OK)
                return r;
            if (v != 0 && v != FAT_BAD && !(bm[c / 8] & (1u << (c % 8))))
                n++;
        }
        *out = n;
        return TERN_OK;
    }
    /* FAT16/32: one cache lookup per FAT sector, the same decoding as fat_get. */
    uint32_t es = fs->type == TERN_FAT32 ? 4u : 2u, per = fs->bps / es;
    uint32_t end = fs->clusters + 2;
    for (uint32_t c = 2; c < end;) {
        uint8_t *p;
        tern_result r = fat_entry_byte(fs, 0, (uint64_t)c * es, false, &p);
        if (r != TERN_OK)
            return r;
        uint32_t k = c % per, stop = per - k < end - c ? per - k : end - c;
        uint32_t step = 8u / es; /* entries in 8 bytes */
        for (uint32_t i = 0; i < stop;) {
            /* Free space is runs of zero bytes: 8 at a time (raw zero
             * decodes to free, so nothing is counted either way). */
            if (stop - i >= 8 * step) {  /* 64 bytes: one test per 8 words */
                uint64_t w[8];
                memcpy(w, p, 64);
                if ((w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) == 0) {
                    i += 8 * step;
                    c += 8 * step;
                    p += 64;
                    continue;
                }
            }
            if (stop - i >= step) {
                uint64_t w;
                memcpy(&w, p, 8);
                if (w == 0) {
                    i += step;
                    c += step;
                    p += 8;
                    continue;
                }
            }
            uint32_t v = es == 4 ? le32(p) & 0x0fffffffu : le16(p);
            bool bad = es == 4 ? v == 0x0ffffff7u : v == 0xfff7u;
            if (v != 0 && !bad && !(bm[c / 8] & (1u << (c % 8))))
                n++;
            i++;
            c++;
            p += es;
        }
    }
    *out = n;
    return TERN_OK;
}

tern_result fat_next(struct tern_fat *fs, uint32_t c, uint32_t *out)
{
    if (!fat_valid_cluster(fs, c))
        return fat_corrupt(fs, "cluster-out-of-range");
    uint32_t v;
    tern_result r = fat_get(fs, c, &v);
    if (r != TERN_OK)
        return r;
    if (v != FAT_EOC && !fat_valid_cluster(fs, v))
        return fat_corrupt(fs, v == 0 ? "chain-into-free-cluster" : "cluster-out-of-range");
    *out = v;
    return TERN_OK;
}

/* Writes FSInfo with the given free count (FAT32 with a valid FSInfo). */
static tern_result write_fsinfo(struct tern_fat *fs, uint32_t free_count)
{
    if (fs->type != TERN_FAT32 || fs->fsinfo_sector == 0)
        return TERN_OK;
    uint8_t *sec;
    tern_result r = tern_bdev_map(fs->dev, fs->base + fs->fsinfo_sector, true, &sec);
    if (r != TERN_OK)
        return r;
    put32(sec + 488, free_count);
    put32(sec + 492, fs->next_free);
    return TERN_OK;
}

tern_result fat_info_invalidate(struct tern_fat *fs)
{
    if (fs->read_only || fs->info_invalidated || fs->type != TERN_FAT32 ||
        fs->fsinfo_sector == 0)
        return TERN_OK;
    tern_result r;
    if ((r = write_fsinfo(fs, 0xffffffffu)) != TERN_OK || (r = tern_bdev_flush(fs->dev)) != TERN_OK)
        return r;
    fs->info_invalidated = true;
    return TERN_OK;
}

tern_result fat_set(struct tern_fat *fs, uint32_t c, uint32_t v)
{
    if (fs->read_only)
        return TERN_EROFS;
    uint8_t *p;
    tern_result r;
    if ((r = fat_info_invalidate(fs)) != TERN_OK)
        return r;
    for (unsigned copy = 0; copy < fs->nfats; copy++) {
        switch (fs->type) {
        case TERN_FAT32: {
            if ((r = fat_entry_byte(fs, copy, (uint64_t)c * 4, true, &p)) != TERN_OK)
                return r;
            uint32_t raw = v == FAT_EOC ? 0x0fffffffu : v;
            put32(p, (le32(p) & 0xf0000000u) | (raw & 0x0fffffffu));
            break;
        }
        case TERN_FAT16:
            if ((r = fat_entry_byte(fs, copy, (uint64_t)c * 2, true, &p)) != TERN_OK)
                return r;
            put16(p, v == FAT_EOC ? 0xffffu : (uint16_t)v);
            break;
        case TERN_FAT12: {
            uint32_t raw = v == FAT_EOC ? 0xfffu : (v & 0xfffu);
            uint64_t off = (uint64_t)c + c / 2;
            if ((r = fat_entry_byte(fs, copy, off, true, &p)) != TERN_OK)
                return r;
            if (c & 1)
                p[0] = (uint8_t)((p[0] & 0x0f) | ((raw << 4) & 0xf0));
            else
                p[0] = (uint8_t)raw;
            if ((r = fat_entry_byte(fs, copy, off + 1, true, &p)) != TERN_OK)
                return r;
            if (c & 1)
                p[0] = (uint8_t)(raw >> 4);
            else
                p[0] = (uint8_t)((p[0] & 0xf0) | (raw >> 8));
            break;
        }
        }
    }
    return TERN_OK;
}

tern_result fat_alloc(struct tern_fat *fs, uint32_t prev, uint32_t *out)
{
    if (fs->read_only)
        return TERN_EROFS;
    uint32_t start = fat_valid_cluster(fs, fs->next_free) ? fs->next_free : 2;
    uint32_t c = start;
    for (uint32_t n = 0; n < fs->clusters; n++) {
        uint32_t v;
        tern_result r = fat_get(fs, c, &v);
        if (r != TERN_OK)
            return r;
        if (v == 0) {
            if ((r = fat_set(fs, c, FAT_EOC)) != TERN_OK)
                return r;
            if (prev != 0 && (r = fat_set(fs, prev, c)) != TERN_OK)
                return r;
            fs->next_free = fat_valid_cluster(fs, c + 1) ? c + 1 : 2;
            if (fs->free_count != 0xffffffffu && fs->free_count > 0)
                fs->free_count--;
            fs->stats.clusters_allocated++;
            *out = c;
            return TERN_OK;
        }
        c = fat_valid_cluster(fs, c + 1) ? c + 1 : 2;
    }
    fs->free_count = 0;
    return TERN_ENOSPC;
}

tern_result fat_free_chain(struct tern_fat *fs, uint32_t first)
{
    uint32_t c = first;
    for (uint32_t n = 0; c != FAT_EOC && c != 0; n++) {
        if (n >= fs->clusters)
            return fat_corrupt(fs, "chain-loop");
        uint32_t next;
        tern_result r = fat_next(fs, c, &next);
        if (r != TERN_OK)
            return r;
        if ((r = fat_set(fs, c, 0)) != TERN_OK)
            return r;
        if (fs->free_count != 0xffffffffu)
            fs->free_count++;
        fs->stats.clusters_freed++;
        if (c < fs->next_free)
            fs->next_free = c;
        c = next;
    }
    return TERN_OK;
}

tern_result fat_chain_length(struct tern_fat *fs, uint32_t first, uint32_t *len, uint32_t *last)
{
    *len = 0;
    *last = 0;
    uint32_t c = first;
    if (c == 0)
        return TERN_OK;
    while (c != FAT_EOC) {
        if (*len >= fs->clusters)
            return fat_corrupt(fs, "chain-loop");
        uint32_t next;
        tern_result r = fat_next(fs, c, &next);
        if (r != TERN_OK)
            return r;
        (*len)++;
        *last = c;
        c = next;
    }
    return TERN_OK;
}

tern_result fat_zero_cluster(struct tern_fat *fs, uint32_t c)
{
    uint64_t lba = fat_cluster_lba(fs, c);
    for (uint32_t i = 0; i < fs->spc; i++) {
        uint8_t *sec;
        tern_result r = tern_bdev_map(fs->dev, lba + i, true, &sec);
        if (r != TERN_OK)
            return r;
        memset(sec, 0, fs->bps);
    }
    return TERN_OK;
}

tern_result fat_barrier(struct tern_fat *fs)
{
    if (fs->read_only)
        return TERN_OK;
    return tern_bdev_flush(fs->dev);
}

tern_result tern_fat_sync(struct tern_fat *fs)
{
    if (fs->read_only)
        return TERN_OK;
    tern_result r = tern_bdev_flush(fs->dev);
    if (r != TERN_OK || !fs->info_invalidated)
        return r;
    if ((r = write_fsinfo(fs, fs->free_count)) != TERN_OK ||
        (r = tern_bdev_flush(fs->dev)) != TERN_OK)
        return r;
    fs->info_invalidated = false;
    return TERN_OK;
}

tern_result tern_fat_unmount(struct tern_fat *fs)
{
    tern_result r = TERN_OK;
    if (fs->mounted && !fs->read_only)
        r = tern_fat_sync(fs);
    fs->mounted = false;
    return r;
}

tern_result tern_fat_free_clusters(struct tern_fat *fs, uint32_t *out)
{
    if (fs->free_count != 0xffffffffu) {
        *out = fs->free_count;
        return TERN_OK;
    }
    uint32_t n = 0;
    for (uint32_t c = 2; c - 2 < fs->clusters; c++) {
        uint32_t v;
        tern_result r = fat_get(fs, c, &v);
        if (r != TERN_OK)
            return r;
        if (v == 0)
            n++;
    }
    fs->free_count = n;
    *out = n;
    return TERN_OK;
}

/* ---- format ---- */

struct layout {
    enum tern_fat_type type;
    uint32_t spc, reserved, root_entries, root_sectors, fat_sectors;
    uint64_t clusters;
};

/* root_entries: FAT12/16 only, a whole number of sectors' worth. */
static bool plan(uint64_t total, uint32_t bps, enum tern_fat_type type, uint32_t spc,
                 uint32_t root_entries, struct layout *l)
{
    memset(l, 0, sizeof(*l)); /* fat_sectors stays 0 if the sizing never settles */
    l->type = type;
    l->spc = spc;
    l->reserved = type == TERN_FAT32 ? 32 : 1;
    l->root_entries = type == TERN_FAT32 ? 0 : root_entries;
    l->root_sectors = l->root_entries * 32 / bps;
    uint32_t bits = type == TERN_FAT12 ? 12 : (uint32_t)type;
    uint32_t fs = 1;
    for (int iter = 0; iter < 64; iter++) {
        uint64_t meta = (uint64_t)l->reserved + 2ull * fs + l->root_sectors;
        if (meta >= total)
            return false;
        uint64_t clusters = (total - meta) / spc;
        uint64_t need = ((clusters + 2) * bits + 8ull * bps - 1) / (8ull * bps);
        if (need <= fs) {
            l->fat_sectors = fs;
            l->clusters = clusters;
            break;
        }
        fs = (uint32_t)need;
    }
    if (l->fat_sectors == 0)
        return false;
    if (type == TERN_FAT12)
        return l->clusters >= 1 && l->clusters < 4085;
    if (type == TERN_FAT16)
        return l->clusters >= 4085 && l->clusters < 65525;
    return l->clusters >= 65525 && l->clusters < 0x0ffffff5;
}

uint64_t tern_fat32_min_sectors(uint32_t sector_size)
{
    struct layout l = { 0 };
    uint64_t lo = 65525, hi = 65525ull * 2 + 4096;
    while (lo < hi) {
        uint64_t mid = (lo + hi) / 2;
        if (plan(mid, sector_size, TERN_FAT32, 1, 0, &l))
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static tern_result write_zeros(struct tern_bdev *dev, uint64_t lba, uint64_t count)
{
    uint8_t zero[4096];
    memset(zero, 0, sizeof(zero));
    for (uint64_t i = 0; i < count; i++) {
        tern_result r = tern_bdev_write(dev, lba + i, zero, 1);
        if (r != TERN_OK)
            return r;
    }
    return TERN_OK;
}

uint32_t tern_fat_root_entries_max(uint32_t sector_size)
{
    uint32_t eps = sector_size / 32;
    return eps ? 65535u / eps * eps : 0;
}

/* The layout for opts (see tern_fat_format_plan). */
static tern_result choose_layout(uint32_t bps, uint64_t sectors,
                                 const struct tern_fat_format_opts *opts, struct layout *out)
{
    if (bps < 512 || bps > 4096 || (bps & (bps - 1)) != 0 || sectors > 0xffffffffu)
        return TERN_EINVAL;
    if (opts->spc != 0 && ((opts->spc & (opts->spc - 1)) != 0 || opts->spc > 128 ||
                           opts->spc * bps > 65536))
        return TERN_EINVAL;
    uint32_t eps = bps / 32, root = opts->root_entries ? opts->root_entries : 512;
    if (root > tern_fat_root_entries_max(bps))
        return TERN_EINVAL;
    root = (root + eps - 1) / eps * eps;
    struct layout l = { 0 };
    bool ok = false;
    static const enum tern_fat_type order[3] = { TERN_FAT12, TERN_FAT16, TERN_FAT32 };
    /* Cluster sizes to try, in bytes: 4 KiB first (the page size, what
     * mkfs.fat picks for mid-sized volumes), then smaller ones (small
     * volumes, FAT32's cluster minimum), then larger ones (FAT12/16 on
     * volumes too big for 4 KiB clusters). The first type that fits wins. */
    static const uint32_t sizes[] = { 4096, 2048, 1024, 512, 8192, 16384, 32768 };
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]) && !ok; k++) {
        uint32_t spc = opts->spc;
        if (spc == 0) {
            if (sizes[k] < bps)
                continue;
            spc = sizes[k] / bps;
        } else if (k > 0) {
            break;
        }
        for (int t = 0; t < 3 && !ok; t++) {
            if (opts->type != 0 && opts->type != order[t])
                continue;
            ok = plan(sectors, bps, order[t], spc, root, &l);
        }
    }
    if (!ok)
        return TERN_ENOSPC;
    *out = l;
    return TERN_OK;
}

tern_result tern_fat_format_plan(uint32_t sector_size, uint64_t sectors,
                                 const struct tern_fat_format_opts *opts,
                                 struct tern_fat_geometry *g)
{
    struct layout l;
    tern_result r = choose_layout(sector_size, sectors, opts, &l);
    if (r != TERN_OK)
        return r;
    g->type = l.type;
    g->spc = l.spc;
    g->cluster_bytes = l.spc * sector_size;
    g->root_entries = l.root_entries;
    g->fat_sectors = l.fat_sectors;
    g->clusters = (uint32_t)l.clusters;
    return TERN_OK;
}

tern_result tern_fat_format(struct tern_bdev *dev, uint64_t base, uint64_t sectors,
                            const struct tern_fat_format_opts *opts)
{
    uint32_t bps = dev->sector_size;
    if (base >= dev->sector_count || sectors > dev->sector_count - base || sectors > 0xffffffffu)
        return TERN_EINVAL;
    if (dev->read_only)
        return TERN_EROFS;
    const char *label = opts->label ? opts->label : "NO NAME";
    size_t llen = strlen(label);
    if (llen == 0 || llen > 11)
        return TERN_EINVAL;
    for (size_t i = 0; i < llen; i++)
        if ((uint8_t)label[i] < 0x20 || (uint8_t)label[i] >= 0x7f || strchr("\"*+,./:;<=>?[\\]|",
                                                                             label[i]))
            return TERN_EINVAL;
    struct layout l;
    tern_result lr = choose_layout(bps, sectors, opts, &l);
    if (lr != TERN_OK)
        return lr;

    uint8_t boot[4096];
    memset(boot, 0, sizeof(boot));
    boot[0] = 0xeb;
    boot[1] = l.type == TERN_FAT32 ? 0x58 : 0x3c;
    boot[2] = 0x90;
    memcpy(boot + 3, "TERN    ", 8);
    put16(boot + 11, (uint16_t)bps);
    boot[13] = (uint8_t)l.spc;
    put16(boot + 14, (uint16_t)l.reserved);
    boot[16] = 2;
    put16(boot + 17, (uint16_t)l.root_entries);
    if (l.type != TERN_FAT32 && sectors < 65536)
        put16(boot + 19, (uint16_t)sectors);
    else
        put32(boot + 32, (uint32_t)sectors);
    boot[21] = 0xf8;
    if (l.type != TERN_FAT32)
        put16(boot + 22, (uint16_t)l.fat_sectors);
    put16(boot + 24, 32);
    put16(boot + 26, 64);
    put32(boot + 28, (uint32_t)(base > 0xffffffffu ? 0 : base));
    uint8_t *ext = boot + 36;
    if (l.type == TERN_FAT32) {
        put32(boot + 36, l.fat_sectors);
        put32(boot + 44, 2);      /* root cluster */
        put16(boot + 48, 1);      /* FSInfo */
        put16(boot + 50, 6);      /* backup boot sector */
        ext = boot + 64;
    }
    ext[0] = 0x80;
    ext[2] = 0x29;
    put32(ext + 3, opts->serial);
    memset(ext + 7, ' ', 11);
    memcpy(ext + 7, label, llen);
    memcpy(ext + 18, l.type == TERN_FAT12 ? "FAT12   " : l.type == TERN_FAT16 ? "FAT16   "
                                                                            : "FAT32   ", 8);
    /* Boot code: print nothing, halt forever (hlt; jmp $-1). */
    uint8_t *code = ext + 26;
    code[0] = 0xf4;
    code[1] = 0xeb;
    code[2] = 0xfd;
    boot[510] = 0x55;
    boot[511] = 0xaa;

    tern_result r;
    /* Everything before the data area is zeroed first. */
    uint64_t meta = (uint64_t)l.reserved + 2ull * l.fat_sectors + l.root_sectors;
    if ((r = write_zeros(dev, base, meta)) != TERN_OK)
        return r;
    if ((r = tern_bdev_write(dev, base, boot, 1)) != TERN_OK)
        return r;
    uint32_t free_clusters = (uint32_t)l.clusters;
    if (l.type == TERN_FAT32) {
        if ((r = tern_bdev_write(dev, base + 6, boot, 1)) != TERN_OK)
            return r;
        uint8_t info[4096];
        memset(info, 0, sizeof(info));
        put32(info, 0x41615252);
        put32(info + 484, 0x61417272);
        put32(info + 488, free_clusters - 1);
        put32(info + 492, 3);
        put32(info + 508, 0xaa550000);
        if ((r = tern_bdev_write(dev, base + 1, info, 1)) != TERN_OK ||
            (r = tern_bdev_write(dev, base + 7, info, 1)) != TERN_OK)
            return r;
        /* The third boot sector carries a signature too (as mkfs.fat). */
        uint8_t third[4096];
        memset(third, 0, sizeof(third));
        third[510] = 0x55;
        third[511] = 0xaa;
        if ((r = tern_bdev_write(dev, base + 2, third, 1)) != TERN_OK ||
            (r = tern_bdev_write(dev, base + 8, third, 1)) != TERN_OK)
            return r;
        /* Zero the root directory cluster. */
        if ((r = write_zeros(dev, base + meta, l.spc)) != TERN_OK)
            return r;
    }
    for (unsigned copy = 0; copy < 2; copy++) {
        uint8_t fat[4096];
        memset(fat, 0, sizeof(fat));
        if (l.type == TERN_FAT32) {
            put32(fat, 0x0ffffff8);
            put32(fat + 4, 0x0fffffff);
            put32(fat + 8, 0x0fffffff);   /* root directory */
        } else if (l.type == TERN_FAT16) {
            put16(fat, 0xfff8);
            put16(fat + 2, 0xffff);
        } else {
            fat[0] = 0xf8;
            fat[1] = 0xff;
            fat[2] = 0xff;
        }
        r = tern_bdev_write(dev, base + l.reserved + (uint64_t)copy * l.fat_sectors, fat, 1);
        if (r != TERN_OK)
            return r;
    }
    /* A volume label entry in the root, as mkfs.fat writes one. */
    if (strcmp(label, "NO NAME") != 0) {
        uint64_t root = l.type == TERN_FAT32 ? base + meta
                                             : base + l.reserved + 2ull * l.fat_sectors;
        uint8_t *sec;
        if ((r = tern_bdev_map(dev, root, true, &sec)) != TERN_OK)
            return r;
        memset(sec, ' ', 11);
        memcpy(sec, label, llen);
        sec[11] = ATTR_VOLUME;
        put16(sec + 22, opts->date ? opts->time : 0);
        put16(sec + 24, opts->date ? opts->date : FAT_DEFAULT_DATE);
    }
    return tern_bdev_flush(dev);
}
