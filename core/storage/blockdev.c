/*
 * Interface: see include/tern/blockdev.h. A small LRU write-back cache of
 * whole sectors over a const ops struct.
 *
 * Read-ahead: a miss on sector lba while lba - 1 is cached is taken as a
 * sequential scan (the FAT check, a file read) and fills up to READAHEAD
 * sectors; any other miss fills up to COLD_READAHEAD (metadata sits
 * together: a GPT header and its array, a boot sector and FSInfo, a
 * directory and its subdirectories). Either is never more than half the
 * cache, in ONE device read (on a virtual disk a request costs its round
 * trip, not its size), into a run of adjacent slots that holds no dirty
 * sector, so read-ahead
 * never writes and never reorders writes. It stops before the first
 * sector already cached (no two slots ever hold one LBA). A failed
 * read-ahead is forgotten and the one sector asked for is read alone, so
 * a bad sector further on fails only the request that reaches it.
 *
 * Lookups are O(1): after the slot table, the cache memory holds a hash
 * index (a power-of-two number of bucket heads, hashed by the low bits
 * of the LBA, chained through one next index per slot). Every valid slot
 * is on its bucket's chain exactly once; invalid slots are on none.
 * (The ESP's whole-volume check looks up ~66 000 FAT sectors' worth of
 * entries; a linear search of 64 slots each cost ~30 ms under TCG.)
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/blockdev.h"

#define NIL UINT32_MAX

static uint32_t bucket_count(uint32_t nslots)
{
    uint32_t nb = 4;
    while (nb < nslots && nb < (1u << 30))
        nb <<= 1;
    return nb;
}

static size_t meta_bytes(uint32_t nslots)
{
    size_t m = (size_t)nslots * sizeof(struct tern_bdev_slot) +
               ((size_t)bucket_count(nslots) + nslots) * sizeof(uint32_t);
    return (m + 15u) & ~(size_t)15u;
}

size_t tern_bdev_cache_bytes(uint32_t sector_size, uint32_t nslots)
{
    return meta_bytes(nslots) + (size_t)nslots * sector_size;
}

/* The hash index lives right after the slot table. */
static uint32_t *heads(const struct tern_bdev *d)
{
    return (uint32_t *)(void *)(d->slots + d->nslots);
}

static uint32_t *nexts(const struct tern_bdev *d)
{
    return heads(d) + bucket_count(d->nslots);
}

static uint32_t bucket_of(const struct tern_bdev *d, uint64_t lba)
{
    return (uint32_t)lba & (bucket_count(d->nslots) - 1u);
}

static void index_reset(struct tern_bdev *d)
{
    uint32_t *h = heads(d), nb = bucket_count(d->nslots);
    for (uint32_t b = 0; b < nb; b++)
        h[b] = NIL;
}

/* Slot i just became valid for its lba. */
static void index_add(struct tern_bdev *d, uint32_t i)
{
    uint32_t *h = &heads(d)[bucket_of(d, d->slots[i].lba)];
    nexts(d)[i] = *h;
    *h = i;
}

/* Marks slot i invalid, taking it off its chain when it was valid. */
static void slot_forget(struct tern_bdev *d, uint32_t i)
{
    if (!d->slots[i].valid)
        return;
    uint32_t *p = &heads(d)[bucket_of(d, d->slots[i].lba)], *nx = nexts(d);
    while (*p != NIL && *p != i)
        p = &nx[*p];
    if (*p == i)
        *p = nx[i];
    d->slots[i].valid = false;
}

tern_result tern_bdev_init(struct tern_bdev *d, const struct tern_bdev_ops *ops, void *ctx,
                           uint32_t sector_size, uint64_t sector_count, bool read_only,
                           void *cache_mem, size_t cache_bytes, uint32_t nslots)
{
    if (d == NULL || ops == NULL || ops->read == NULL || ops->write == NULL ||
        ops->flush == NULL)
        return TERN_EINVAL;
    if (sector_size < 512 || sector_size > 4096 || (sector_size & (sector_size - 1)) != 0)
        return TERN_EINVAL;
    if (sector_count == 0 || nslots < 4 || cache_mem == NULL ||
        cache_bytes < tern_bdev_cache_bytes(sector_size, nslots))
        return TERN_EINVAL;
    memset(d, 0, sizeof(*d));
    d->ops = ops;
    d->ctx = ctx;
    d->sector_size = sector_size;
    d->sector_count = sector_count;
    d->read_only = read_only;
    d->nslots = nslots;
    d->slots = cache_mem;
    d->data = (uint8_t *)cache_mem + meta_bytes(nslots);
    memset(d->slots, 0, (size_t)nslots * sizeof(struct tern_bdev_slot));
    index_reset(d);
    return TERN_OK;
}

static bool in_range(const struct tern_bdev *d, uint64_t lba, uint32_t count)
{
    return count != 0 && lba < d->sector_count && count <= d->sector_count - lba;
}

static uint8_t *slot_data(struct tern_bdev *d, uint32_t i)
{
    return d->data + (size_t)i * d->sector_size;
}

static int find_slot(const struct tern_bdev *d, uint64_t lba)
{
    const uint32_t *nx = nexts(d);
    for (uint32_t i = heads(d)[bucket_of(d, lba)]; i != NIL; i = nx[i])
        if (d->slots[i].lba == lba)
            return (int)i;
    return -1;
}

static tern_result dev_write(struct tern_bdev *d, uint64_t lba, const void *buf, uint32_t count)
{
    d->stats.writes++;
    tern_result r = d->ops->write(d->ctx, lba, buf, count);
    if (r != TERN_OK)
        d->stats.errors++;
    return r;
}

static tern_result dev_read(struct tern_bdev *d, uint64_t lba, void *buf, uint32_t count)
{
    d->stats.reads++;
    tern_result r = d->ops->read(d->ctx, lba, buf, count);
    if (r != TERN_OK)
        d->stats.errors++;
    return r;
}

#define READAHEAD 128u
#define COLD_READAHEAD 64u

/* Fills a run of up to max slots from lba on in one device read; sets
 * *out to the slot of lba. false (nothing changed but stats) when no run
 * of two or more fits. */
static bool read_ahead(struct tern_bdev *d, uint64_t lba, uint32_t max, uint32_t *out)
{
    uint32_t n = max < d->nslots / 2 ? max : d->nslots / 2;
    if (n > d->sector_count - lba)
        n = (uint32_t)(d->sector_count - lba);
    for (uint32_t k = 1; k < n; k++)
        if (find_slot(d, lba + k) >= 0) {
            n = k;
            break;
        }
    if (n < 2)
        return false;
    /* The clean run of n slots whose most recent use is oldest. */
    uint32_t best = UINT32_MAX, best_age = UINT32_MAX;
    for (uint32_t s = 0; s + n <= d->nslots; s++) {
        uint32_t age = 0;
        bool clean = true;
        for (uint32_t k = 0; k < n && clean; k++) {
            const struct tern_bdev_slot *t = &d->slots[s + k];
            if (t->valid && t->dirty)
                clean = false;
            else if (t->valid && t->used > age)
                age = t->used;
        }
        if (clean && age < best_age) {
            best = s;
            best_age = age;
            if (age == 0)
                break;                       /* unused slots: none older */
        }
    }
    if (best == UINT32_MAX)
        return false;
    for (uint32_t k = 0; k < n; k++) {
        if (d->slots[best + k].valid)
            d->stats.evictions++;
        slot_forget(d, best + k);
    }
    if (dev_read(d, lba, slot_data(d, best), n) != TERN_OK)
        return false;
    for (uint32_t k = 0; k < n; k++) {
        struct tern_bdev_slot *t = &d->slots[best + k];
        t->lba = lba + k;
        t->valid = true;
        t->dirty = false;
        t->used = d->clock;
        index_add(d, best + k);
    }
    *out = best;
    return true;
}

/* A slot for lba, loading it from the device unless fill is false. */
static tern_result get_slot(struct tern_bdev *d, uint64_t lba, bool fill, uint32_t *out)
{
    d->clock++;
    int f = find_slot(d, lba);
    if (f >= 0) {
        d->stats.hits++;
        d->slots[f].used = d->clock;
        *out = (uint32_t)f;
        return TERN_OK;
    }
    d->stats.misses++;
    if (fill) {
        bool sequential = lba > 0 && find_slot(d, lba - 1) >= 0;
        if (read_ahead(d, lba, sequential ? READAHEAD : COLD_READAHEAD, out))
            return TERN_OK;
    }
    uint32_t victim = 0;
    bool found_free = false;
    for (uint32_t i = 0; i < d->nslots; i++) {
        if (!d->slots[i].valid) {
            victim = i;
            found_free = true;
            break;
        }
        if (d->slots[i].used < d->slots[victim].used)
            victim = i;
    }
    struct tern_bdev_slot *s = &d->slots[victim];
    if (!found_free) {
        d->stats.evictions++;
        if (s->dirty) {
            tern_result r = dev_write(d, s->lba, slot_data(d, victim), 1);
            if (r != TERN_OK)
                return r;
            s->dirty = false;
        }
        slot_forget(d, victim);
    }
    if (fill) {
        tern_result r = dev_read(d, lba, slot_data(d, victim), 1);
        if (r != TERN_OK)
            return r;
    }
    s->lba = lba;
    s->valid = true;
    s->dirty = false;
    s->used = d->clock;
    index_add(d, victim);
    *out = victim;
    return TERN_OK;
}

tern_result tern_bdev_map(struct tern_bdev *d, uint64_t lba, bool for_write, uint8_t **out)
{
    if (!in_range(d, lba, 1))
        return TERN_EINVAL;
    if (for_write && d->read_only)
        return TERN_EROFS;
    uint32_t i;
    tern_result r = get_slot(d, lba, true, &i);
    if (r != TERN_OK)
        return r;
    if (for_write)
        d->slots[i].dirty = true;
    *out = slot_data(d, i);
    return TERN_OK;
}

tern_result tern_bdev_read(struct tern_bdev *d, uint64_t lba, void *buf, uint32_t count)
{
    if (!in_range(d, lba, count))
        return TERN_EINVAL;
    if (count == 1) {
        uint32_t i;
        tern_result r = get_slot(d, lba, true, &i);
        if (r == TERN_OK)
            memcpy(buf, slot_data(d, i), d->sector_size);
        return r;
    }
    tern_result r = dev_read(d, lba, buf, count);
    if (r != TERN_OK)
        return r;
    /* Cached sectors may be newer than the device. */
    for (uint32_t i = 0; i < d->nslots; i++) {
        struct tern_bdev_slot *s = &d->slots[i];
        if (s->valid && s->dirty && s->lba >= lba && s->lba - lba < count)
            memcpy((uint8_t *)buf + (size_t)(s->lba - lba) * d->sector_size, slot_data(d, i),
                   d->sector_size);
    }
    return TERN_OK;
}

tern_result tern_bdev_write(struct tern_bdev *d, uint64_t lba, const void *buf, uint32_t count)
{
    if (!in_range(d, lba, count))
        return TERN_EINVAL;
    if (d->read_only)
        return TERN_EROFS;
    if (count == 1) {
        uint32_t i;
        tern_result r = get_slot(d, lba, false, &i);
        if (r != TERN_OK)
            return r;
        memcpy(slot_data(d, i), buf, d->sector_size);
        d->slots[i].dirty = true;
        return TERN_OK;
    }
    tern_result r = dev_write(d, lba, buf, count);
    if (r != TERN_OK)
        return r;
    /* Keep cached copies equal to what the device now holds. */
    for (uint32_t i = 0; i < d->nslots; i++) {
        struct tern_bdev_slot *s = &d->slots[i];
        if (s->valid && s->lba >= lba && s->lba - lba < count) {
            memcpy(slot_data(d, i), (const uint8_t *)buf + (size_t)(s->lba - lba) * d->sector_size,
                   d->sector_size);
            s->dirty = false;
        }
    }
    return TERN_OK;
}

tern_result tern_bdev_flush(struct tern_bdev *d)
{
    /* Ascending LBA: pick the smallest dirty LBA each round (nslots is small). */
    for (;;) {
        int best = -1;
        for (uint32_t i = 0; i < d->nslots; i++) {
            const struct tern_bdev_slot *s = &d->slots[i];
            if (s->valid && s->dirty && (best < 0 || s->lba < d->slots[best].lba))
                best = (int)i;
        }
        if (best < 0)
            break;
        tern_result r = dev_write(d, d->slots[best].lba, slot_data(d, (uint32_t)best), 1);
        if (r != TERN_OK)
            return r;
        d->slots[best].dirty = false;
    }
    if (d->read_only)
        return TERN_OK;
    d->stats.flushes++;
    tern_result r = d->ops->flush(d->ctx);
    if (r != TERN_OK)
        d->stats.errors++;
    return r;
}

void tern_bdev_drop_cache(struct tern_bdev *d)
{
    for (uint32_t i = 0; i < d->nslots; i++) {
        d->slots[i].valid = false;
        d->slots[i].dirty = false;
    }
    index_reset(d);
}

/* ---- the backend contract's block device ---- */

static tern_result plat_read(void *ctx, uint64_t lba, void *buf, uint32_t count)
{
    struct tern_bdev_platform *p = ctx;
    return p->plat.ops->block_read(p->plat.ctx, p->idx, lba, buf, count);
}

static tern_result plat_write(void *ctx, uint64_t lba, const void *buf, uint32_t count)
{
    struct tern_bdev_platform *p = ctx;
    return p->plat.ops->block_write(p->plat.ctx, p->idx, lba, buf, count);
}

static tern_result plat_flush(void *ctx)
{
    struct tern_bdev_platform *p = ctx;
    return p->plat.ops->block_flush(p->plat.ctx, p->idx);
}

const struct tern_bdev_ops tern_bdev_platform_ops = {
    .read = plat_read,
    .write = plat_write,
    .flush = plat_flush,
};

tern_result tern_bdev_open_platform(struct tern_bdev *d, struct tern_bdev_platform *pctx,
                                    const struct tern_platform *plat, unsigned idx,
                                    void *cache_mem, size_t cache_bytes, uint32_t nslots)
{
    const struct tern_platform_ops *ops = plat->ops;
    if (idx >= ops->block_count(plat->ctx) || ops->block_info == NULL ||
        ops->block_read == NULL || ops->block_write == NULL || ops->block_flush == NULL)
        return TERN_ENOENT;
    struct tern_block_info info;
    tern_result r = ops->block_info(plat->ctx, idx, &info);
    if (r != TERN_OK)
        return r;
    pctx->plat = *plat;
    pctx->idx = idx;
    return tern_bdev_init(d, &tern_bdev_platform_ops, pctx, info.sector_size, info.sector_count,
                          info.read_only, cache_mem, cache_bytes, nslots);
}
