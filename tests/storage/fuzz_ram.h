/*
 * Interface: an in-memory block device for the storage fuzz harnesses.
 * The caller owns the image buffer; writes go into it. With a dirty map
 * (one byte per sector, optional) every sector written is marked there, so
 * a harness can undo an input's writes without copying the whole image.
 */
#ifndef FUZZ_RAM_H
#define FUZZ_RAM_H

#include <stdint.h>
#include <string.h>

#include "tern/blockdev.h"

struct fuzz_ram {
    uint8_t *mem;
    uint64_t sectors;
    uint8_t *dirty;                /* NULL, or sectors bytes: 1 = written */
};

static tern_result fuzz_ram_read(void *ctx, uint64_t lba, void *buf, uint32_t count)
{
    struct fuzz_ram *r = ctx;
    if (lba >= r->sectors || count > r->sectors - lba)
        return TERN_EINVAL;
    memcpy(buf, r->mem + lba * 512, (size_t)count * 512);
    return TERN_OK;
}

static tern_result fuzz_ram_write(void *ctx, uint64_t lba, const void *buf, uint32_t count)
{
    struct fuzz_ram *r = ctx;
    if (lba >= r->sectors || count > r->sectors - lba)
        return TERN_EINVAL;
    memcpy(r->mem + lba * 512, buf, (size_t)count * 512);
    if (r->dirty != NULL)
        memset(r->dirty + lba, 1, count);
    return TERN_OK;
}

static tern_result fuzz_ram_flush(void *ctx)
{
    (void)ctx;
    return TERN_OK;
}

static const struct tern_bdev_ops fuzz_ram_ops = { fuzz_ram_read, fuzz_ram_write,
                                                   fuzz_ram_flush };

#endif
