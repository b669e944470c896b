/*
 * Interface: block devices for the storage stack (GPT, FAT, file API).
 *
 * A block device is a const ops struct (read, write, flush: all REQUIRED)
 * plus the implementation's context, like Solo5's block API: every call
 * completes before it returns, nothing waits for an event. Three
 * implementations exist: tern_bdev_platform (the backend contract's block
 * device idx), tools/tern-mkimage (an image file) and the power-cut test
 * (a device that records writes and can cut the stream).
 *
 * struct tern_bdev adds a bounded write-back cache of whole sectors in
 * caller-owned memory (tern_bdev_cache_bytes(sector_size, slots) bytes,
 * 16-byte aligned). Single-sector I/O goes through the cache; multi-sector
 * I/O goes straight to the device and stays coherent with the cache.
 * Dirty sectors reach the device when evicted or at tern_bdev_flush(),
 * which writes every dirty sector in ascending LBA order and then flushes
 * the device. Users that need ordering (FAT) call tern_bdev_flush() as a
 * barrier: everything written before it is durable before anything
 * written after it reaches the device.
 *
 * Rules: a pointer from tern_bdev_map() is valid only until the next call
 * on the same tern_bdev. Sector sizes are 512 or 4096 (any power of two
 * from 512 to 4096 is accepted).
 */
#ifndef TERN_BLOCKDEV_H
#define TERN_BLOCKDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/platform.h"
#include "tern/result.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

struct tern_bdev_ops {
    /* REQUIRED. Reads count sectors at lba into buf. TERN_OK, TERN_EINVAL
     * (range), TERN_EIO. */
    tern_result (*read)(void *ctx, uint64_t lba, void *buf, uint32_t count);
    /* REQUIRED. Writes count sectors at lba. TERN_OK, TERN_EINVAL, TERN_EROFS,
     * TERN_EIO. */
    tern_result (*write)(void *ctx, uint64_t lba, const void *buf, uint32_t count);
    /* REQUIRED. Makes every completed write durable. TERN_OK or TERN_EIO. */
    tern_result (*flush)(void *ctx);
};

struct tern_bdev_slot {
    uint64_t lba;
    uint32_t used;           /* clock of the last use, for LRU */
    bool valid;
    bool dirty;
};

struct tern_bdev_stats {
    uint64_t reads, writes, flushes;    /* calls into the device */
    uint64_t hits, misses, evictions;   /* single-sector cache traffic */
    uint64_t errors;                    /* device calls that failed */
};

struct tern_bdev {
    const struct tern_bdev_ops *ops;
    void *ctx;
    uint32_t sector_size;
    uint64_t sector_count;
    bool read_only;
    struct tern_bdev_slot *slots;   /* in the caller's cache memory */
    uint8_t *data;                  /* nslots * sector_size bytes */
    uint32_t nslots;
    uint32_t clock;
    struct tern_bdev_stats stats;
};

/* Bytes of cache memory tern_bdev_init needs for nslots sectors. */
size_t tern_bdev_cache_bytes(uint32_t sector_size, uint32_t nslots);

/* Sets up d over ops/ctx with a cache of nslots sectors in cache_mem
 * (tern_bdev_cache_bytes() bytes, 16-byte aligned, owned by the caller
 * and used until d is dropped). TERN_OK; TERN_EINVAL when a required op
 * is missing, the sector size is not a power of two in 512..4096, the
 * device is empty, nslots < 4, or cache_bytes is too small. */
tern_result tern_bdev_init(struct tern_bdev *d, const struct tern_bdev_ops *ops, void *ctx,
                           uint32_t sector_size, uint64_t sector_count, bool read_only,
                           void *cache_mem, size_t cache_bytes, uint32_t nslots);

/* Reads count sectors at lba (through the cache when count == 1).
 * TERN_OK; TERN_EINVAL (range, count 0); TERN_EIO. */
tern_result tern_bdev_read(struct tern_bdev *d, uint64_t lba, void *buf, uint32_t count);

/* Writes count sectors at lba: into the cache when count == 1, else to the
 * device at once. TERN_OK; TERN_EINVAL; TERN_EROFS; TERN_EIO. */
tern_result tern_bdev_write(struct tern_bdev *d, uint64_t lba, const void *buf, uint32_t count);

/* Maps sector lba in the cache and sets *out to its bytes (valid until the
 * next call on d). With for_write the sector is marked dirty; the caller
 * changes it in place. TERN_OK; TERN_EINVAL; TERN_EROFS (for_write on a
 * read-only device); TERN_EIO. */
tern_result tern_bdev_map(struct tern_bdev *d, uint64_t lba, bool for_write, uint8_t **out);

/* Writes every dirty sector (ascending LBA), then flushes the device.
 * TERN_OK; TERN_EIO (the dirty sectors that failed stay dirty). */
tern_result tern_bdev_flush(struct tern_bdev *d);

/* Forgets every cached sector without writing it (after a device error,
 * or in tests that simulate a power cut). */
void tern_bdev_drop_cache(struct tern_bdev *d);

/* The backend contract's block device idx as a tern_bdev. */
struct tern_bdev_platform {
    struct tern_platform plat;
    unsigned idx;
};
extern const struct tern_bdev_ops tern_bdev_platform_ops;

/* Fills pctx for device idx of plat and sets up d over it (see
 * tern_bdev_init). TERN_ENOENT when the platform has no such device. */
tern_result tern_bdev_open_platform(struct tern_bdev *d, struct tern_bdev_platform *pctx,
                                    const struct tern_platform *plat, unsigned idx,
                                    void *cache_mem, size_t cache_bytes, uint32_t nslots);

TERN_END_DECLS

#endif
