/*
 * Interface: virtio-blk behind the platform block contract, and
 * virtio-rng feeding the platform entropy call (see virtio.h).
 *
 * Block requests are synchronous, as the contract says: each is one
 * three-descriptor chain (16-byte header, data, status byte), posted, and
 * then waited for (hlt until the completion's interrupt, else polled) until the
 * device returns it, at most BLK_TIMEOUT_NS (a
 * device that takes longer is reset: TERN_EIO). Data goes through a
 * 64 KiB bounce buffer, so requests are cut into 128-sector pieces.
 * Sectors are always 512 bytes (BLK_SIZE is not negotiated: capacity is
 * in 512-byte units either way). FLUSH is taken when offered; RO makes
 * writes TERN_EROFS.
 *
 * virtio-rng: one queue; a read posts one device-writable buffer and
 * waits for it the same way (RNG_TIMEOUT_NS); the device may return fewer bytes than
 * asked, so reads loop.
 */
#include <string.h>

#include "metal.h"
#include "virtio.h"
#include "x86.h"

#define BLK_F_RO (1ull << 5)
#define BLK_F_FLUSH (1ull << 9)
#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_T_FLUSH 4
#define BLK_BOUNCE (64u * 1024)
#define BLK_TIMEOUT_NS 5000000000ull
#define RNG_TIMEOUT_NS 1000000000ull

/* Waits until q returns one buffer or the timeout passes. With an
 * interrupt (MSI-X, or the I/O APIC for MMIO) the CPU halts until the
 * completion's interrupt (or the LAPIC timer at
 * the timeout): interrupts are off here (irq_save), so a completion that lands after
 * the check stays pending and ends the sti;hlt at once. Under TCG a
 * spinning vCPU competed with QEMU's I/O thread for the host's CPUs.
 * Without one it polls. */
static tern_result wait_one(struct metal *m, struct metal_virtio *v, struct metal_vq *q,
                            uint64_t timeout_ns, uint32_t *len)
{
    uint64_t until = clock_now_ns(m) + timeout_ns;
    uint16_t head;
    uint64_t flags = irq_save();
    tern_result r;
    for (;;) {
        virtio_irq_ack(v); /* a completion after this is a new interrupt */
        r = virtq_take(v, q, &head, len);
        if (r != TERN_AGAIN)
            break;
        if (clock_now_ns(m) > until) {
            virtio_fail(v, "request-timeout");
            r = TERN_EIO;
            break;
        }
        if (v->irq)
            clock_sleep_until(m, until);
        else
            __asm__ volatile("pause");
    }
    irq_restore(flags);
    return r;
}

tern_result virtio_blk_init(struct metal *m, struct metal_blk *b,
                            const struct metal_virtio_loc *where)
{
    memset(b, 0, sizeof(*b));
    tern_result r = virtio_open(m, &b->v, where, BLK_F_RO | BLK_F_FLUSH);
    if (r != TERN_OK)
        return r;
    if ((r = virtio_queue_setup(m, &b->v, &b->q, 0, 16)) != TERN_OK) {
        virtio_fail(&b->v, "queue-setup");
        return r;
    }
    b->req = mm_alloc_pages(m, 1);
    b->bounce = mm_alloc_pages(m, BLK_BOUNCE / 4096);
    if (b->req == NULL || b->bounce == NULL) {
        virtio_fail(&b->v, "no-memory");
        return TERN_ENOMEM;
    }
    b->sectors = (uint64_t)virtio_cfg32(&b->v, 0) | (uint64_t)virtio_cfg32(&b->v, 4) << 32;
    b->read_only = (b->v.features & BLK_F_RO) != 0;
    b->can_flush = (b->v.features & BLK_F_FLUSH) != 0;
    virtio_driver_ok(m, &b->v, 1);
    return TERN_OK;
}

static tern_result request(struct metal *m, struct metal_blk *b, uint32_t type, uint64_t lba,
                           uint32_t bytes)
{
    uint8_t *hdr = b->req, *status = b->req + 64;
    uint32_t t = type, zero = 0;
    memcpy(hdr, &t, 4);
    memcpy(hdr + 4, &zero, 4);
    memcpy(hdr + 8, &lba, 8);
    *status = 0xff;
    struct virtq_buf bufs[3] = {
        { hdr, 16, false },
        { b->bounce, bytes, type == BLK_T_IN },
        { status, 1, true },
    };
    struct virtq_buf nodata[2] = { bufs[0], bufs[2] };
    tern_result r = bytes ? virtq_post(&b->v, &b->q, bufs, 3)
                          : virtq_post(&b->v, &b->q, nodata, 2);
    if (r != TERN_OK)
        return r == TERN_AGAIN ? TERN_EIO : r; /* one request at a time: never full */
    uint32_t len = 0;
    if ((r = wait_one(m, &b->v, &b->q, BLK_TIMEOUT_NS, &len)) != TERN_OK)
        return r;
    /* A read must have filled the whole buffer and the status byte. */
    if ((type == BLK_T_IN ? len < bytes + 1 : len < 1) || *(volatile uint8_t *)status != 0) {
        b->short_or_failed++;
        return TERN_EIO;
    }
    return TERN_OK;
}

tern_result virtio_blk_rw(struct metal *m, struct metal_blk *b, bool write, uint64_t lba,
                          void *buf, uint32_t count)
{
    if (b->v.dead)
        return TERN_EIO;
    if (lba > b->sectors || count > b->sectors - lba)
        return TERN_EINVAL;
    if (write && b->read_only)
        return TERN_EROFS;
    uint8_t *p = buf;
    while (count > 0) {
        uint32_t n = count < BLK_BOUNCE / 512 ? count : BLK_BOUNCE / 512;
        if (write)
            memcpy(b->bounce, p, (size_t)n * 512);
        tern_result r = request(m, b, write ? BLK_T_OUT : BLK_T_IN, lba, n * 512);
        if (r != TERN_OK)
            return r;
        if (!write)
            memcpy(p, b->bounce, (size_t)n * 512);
        p += (size_t)n * 512;
        lba += n;
        count -= n;
    }
    return TERN_OK;
}

tern_result virtio_blk_flush(struct metal *m, struct metal_blk *b)
{
    if (b->v.dead)
        return TERN_EIO;
    if (!b->can_flush)
        return TERN_OK; /* no volatile cache offered: writes are durable */
    return request(m, b, BLK_T_FLUSH, 0, 0);
}

tern_result virtio_rng_init(struct metal *m, struct metal_rng *r,
                            const struct metal_virtio_loc *where)
{
    memset(r, 0, sizeof(*r));
    tern_result res = virtio_open(m, &r->v, where, 0);
    if (res != TERN_OK)
        return res;
    if ((res = virtio_queue_setup(m, &r->v, &r->q, 0, 8)) != TERN_OK) {
        virtio_fail(&r->v, "queue-setup");
        return res;
    }
    r->buf = mm_alloc_pages(m, 1);
    if (r->buf == NULL) {
        virtio_fail(&r->v, "no-memory");
        return TERN_ENOMEM;
    }
    virtio_driver_ok(m, &r->v, 1);
    r->present = true;
    return TERN_OK;
}

tern_result virtio_rng_read(struct metal *m, struct metal_rng *r, void *buf, size_t len)
{
    uint8_t *p = buf;
    unsigned empty = 0;
    while (len > 0) {
        if (r->v.dead || empty > 16)
            return TERN_EIO;
        uint32_t want = len < 4096 ? (uint32_t)len : 4096;
        struct virtq_buf vb = { r->buf, want, true };
        tern_result res = virtq_post(&r->v, &r->q, &vb, 1);
        if (res != TERN_OK)
            return TERN_EIO;
        uint32_t got = 0;
        if ((res = wait_one(m, &r->v, &r->q, RNG_TIMEOUT_NS, &got)) != TERN_OK)
            return res;
        if (got == 0)
            empty++; /* a device that keeps returning nothing ends the read */
        memcpy(p, r->buf, got);
        p += got;
        len -= got;
    }
    return TERN_OK;
}
