/*
 * Interface: see virtio.h (the device protocol over any transport, and
 * split virtqueues).
 */
#include <string.h>

#include "metal.h"
#include "virtio.h"

/* device status */
#define ST_ACK 1
#define ST_DRIVER 2
#define ST_DRIVER_OK 4
#define ST_FEATURES_OK 8
#define ST_FAILED 128

static inline void barrier(void)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void reset(struct metal_virtio *v)
{
    v->ops->set_status(v, 0);
    /* A reset completes when status reads back 0 (bounded). */
    for (int i = 0; i < 1000000 && v->ops->get_status(v) != 0; i++)
        __asm__ volatile("pause");
}

void virtio_fail(struct metal_virtio *v, const char *why)
{
    if (v->dead)
        return;
    v->errors++;
    v->fatal = why;
    v->dead = true;
    reset(v);
    v->ops->set_status(v, ST_FAILED);
}

tern_result virtio_open(struct metal *m, struct metal_virtio *v,
                        const struct metal_virtio_loc *where, uint64_t want)
{
    memset(v, 0, sizeof(*v));
    v->where = where;
    v->ops = where->bus == METAL_VIRTIO_MMIO ? &metal_virtio_mmio_ops : &metal_virtio_pci_ops;
    tern_result r = v->ops->attach(m, v, where);
    if (r != TERN_OK)
        return r;
    reset(v);
    v->ops->set_status(v, ST_ACK);
    v->ops->set_status(v, ST_ACK | ST_DRIVER);
    uint64_t offered = v->ops->get_features(v);
    if (!v->modern) {
        v->features = offered & want & 0xffffffffu;
        v->ops->set_features(v, v->features);
        return TERN_OK; /* legacy devices know no FEATURES_OK */
    }
    want |= VIRTIO_F_VERSION_1;
    if (!(offered & VIRTIO_F_VERSION_1)) {
        virtio_fail(v, "no-version-1");
        return TERN_ENOTSUP;
    }
    v->features = offered & want;
    v->ops->set_features(v, v->features);
    v->ops->set_status(v, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
    if (!(v->ops->get_status(v) & ST_FEATURES_OK)) {
        virtio_fail(v, "features-refused");
        return TERN_ENOTSUP;
    }
    return TERN_OK;
}

static uint64_t ring_bytes_desc_avail(uint16_t n)
{
    return ((uint64_t)16 * n + 6 + 2u * n + 4095) & ~4095ull;
}

tern_result virtio_queue_setup(struct metal *m, struct metal_virtio *v, struct metal_vq *q,
                               uint16_t idx, uint16_t max)
{
    memset(q, 0, sizeof(*q));
    q->index = idx;
    bool fixed = false;
    uint16_t n = v->ops->queue_max(v, idx, &fixed);
    if (n == 0)
        return TERN_EIO;
    if (fixed && n > VIRTQ_MAX)
        return TERN_EIO; /* legacy PCI sizes are fixed by the device */
    if (!fixed) {          /* the largest power of two within all three limits */
        uint16_t lim = n < max ? n : max;
        if (lim > VIRTQ_MAX)
            lim = VIRTQ_MAX;
        for (n = 1; (uint16_t)(n * 2) != 0 && n * 2 <= lim; n = (uint16_t)(n * 2))
            ;
        if (lim == 0)
            return TERN_EIO;
    }
    if (n & (n - 1))
        return TERN_EIO;
    /* The used ring starts on a page boundary: the legacy layouts
     * (PCI, and MMIO with QueueAlign 4096) require it, modern allows it. */
    uint64_t first = ring_bytes_desc_avail(n);
    uint64_t used = ((uint64_t)6 + 8u * n + 4095) & ~4095ull;
    uint8_t *mem = mm_alloc_pages(m, (size_t)((first + used) / 4096));
    if (mem == NULL)
        return TERN_ENOMEM;
    q->size = n;
    q->desc = (volatile struct virtq_desc *)mem;
    q->avail = (volatile uint16_t *)(mem + 16u * n);
    q->used = mem + first;
    for (uint16_t i = 0; i < n; i++)
        q->desc[i].next = (uint16_t)(i + 1);
    q->free_head = 0;
    q->num_free = n;
    v->ops->queue_enable(v, q);
    return TERN_OK;
}

void virtio_driver_ok(struct metal *m, struct metal_virtio *v, unsigned nq)
{
    v->irq = v->ops->irq_setup(m, v, nq);
    v->ops->set_status(v, (uint8_t)(v->ops->get_status(v) | ST_ACK | ST_DRIVER | ST_DRIVER_OK));
    v->live = true;
}

void virtio_irq_ack(struct metal_virtio *v)
{
    if (v->irq && !v->dead)
        v->ops->irq_ack(v);
}

uint8_t virtio_cfg8(struct metal_virtio *v, unsigned off)
{
    return v->ops->cfg8(v, off);
}

uint16_t virtio_cfg16(struct metal_virtio *v, unsigned off)
{
    return (uint16_t)(virtio_cfg8(v, off) | virtio_cfg8(v, off + 1) << 8);
}

uint32_t virtio_cfg32(struct metal_virtio *v, unsigned off)
{
    return (uint32_t)virtio_cfg16(v, off) | (uint32_t)virtio_cfg16(v, off + 2) << 16;
}

void virtq_kick(struct metal_virtio *v, struct metal_vq *q)
{
    barrier();
    if (!v->live || v->dead)
        return; /* no notifications before DRIVER_OK */
    v->ops->notify(v, q);
}

tern_result virtq_post(struct metal_virtio *v, struct metal_vq *q, const struct virtq_buf *b,
                       unsigned n)
{
    if (v->dead)
        return TERN_EIO;
    if (n == 0 || n > q->num_free)
        return TERN_AGAIN;
    uint16_t head = q->free_head, d = head;
    uint32_t writable = 0;
    for (unsigned i = 0; i < n; i++) {
        uint16_t next = q->desc[d].next;
        q->desc[d].addr = (uint64_t)(uintptr_t)b[i].addr;
        q->desc[d].len = b[i].len;
        q->desc[d].flags = (uint16_t)((b[i].device_writes ? VIRTQ_DESC_F_WRITE : 0) |
                                      (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
        if (b[i].device_writes)
            writable += b[i].len;
        if (i + 1 < n)
            d = next;
        else
            q->free_head = next;
    }
    q->num_free = (uint16_t)(q->num_free - n);
    q->posted_len[head] = writable;
    q->in_flight[head] = true;
    q->avail[2 + (q->avail_idx & (q->size - 1))] = head;
    barrier();
    q->avail_idx++;
    q->avail[1] = q->avail_idx;
    virtq_kick(v, q);
    return TERN_OK;
}

static uint16_t used_idx(struct metal_vq *q)
{
    uint16_t i = *(volatile uint16_t *)(q->used + 2);
    barrier();
    return i;
}

bool virtq_pending(struct metal_virtio *v, struct metal_vq *q)
{
    return !v->dead && q->size != 0 && used_idx(q) != q->last_used;
}

tern_result virtq_take(struct metal_virtio *v, struct metal_vq *q, uint16_t *head,
                       uint32_t *len)
{
    if (v->dead)
        return TERN_EIO;
    uint16_t idx = used_idx(q);
    if (idx == q->last_used)
        return TERN_AGAIN;
    if ((uint16_t)(idx - q->last_used) > q->size) {
        virtio_fail(v, "used-index-out-of-range");
        return TERN_EIO;
    }
    volatile uint32_t *e = (volatile uint32_t *)(q->used + 4 + 8u * (q->last_used & (q->size - 1)));
    uint32_t id = e[0], l = e[1];
    if (id >= q->size || !q->in_flight[id]) {
        virtio_fail(v, "used-id-not-in-flight");
        return TERN_EIO;
    }
    if (l > q->posted_len[id]) {
        virtio_fail(v, "used-length-too-long");
        return TERN_EIO;
    }
    q->last_used++;
    q->in_flight[id] = false;
    /* free the chain (its length was at most num posted; bounded by size) */
    uint16_t d = (uint16_t)id, count = 1;
    while ((q->desc[d].flags & VIRTQ_DESC_F_NEXT) && count < q->size) {
        d = q->desc[d].next;
        if (d >= q->size) {
            virtio_fail(v, "descriptor-chain-corrupt");
            return TERN_EIO;
        }
        count++;
    }
    q->desc[d].next = q->free_head;
    q->free_head = (uint16_t)id;
    q->num_free = (uint16_t)(q->num_free + count);
    *head = (uint16_t)id;
    *len = l;
    return TERN_OK;
}
