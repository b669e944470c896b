/*
 * Interface: see virtio.h (the transports and split virtqueues).
 */
#include <string.h>

#include "metal.h"
#include "virtio.h"
#include "x86.h"

/* device status */
#define ST_ACK 1
#define ST_DRIVER 2
#define ST_DRIVER_OK 4
#define ST_FEATURES_OK 8
#define ST_FAILED 128

/* modern common configuration (virtio 1.2, 4.1.4.3) */
#define CC_DFSELECT 0
#define CC_DF 4
#define CC_GFSELECT 8
#define CC_GF 12
#define CC_MSIX_CONFIG 16
#define CC_NUM_QUEUES 18
#define CC_STATUS 20
#define CC_Q_SELECT 22
#define CC_Q_SIZE 24
#define CC_Q_MSIX 26
#define CC_Q_ENABLE 28
#define CC_Q_NOTIFY_OFF 30
#define CC_Q_DESC 32
#define CC_Q_DRIVER 40
#define CC_Q_DEVICE 48

/* legacy I/O registers (virtio 0.9.5, 4.1.4.8) */
#define LG_DF 0
#define LG_GF 4
#define LG_Q_PFN 8
#define LG_Q_NUM 12
#define LG_Q_SELECT 14
#define LG_Q_NOTIFY 16
#define LG_STATUS 18
#define LG_MSIX_CONFIG 20
#define LG_Q_MSIX 22

#define NO_VECTOR 0xffff
#define PCI_CAP_VENDOR 0x09

static inline void barrier(void)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static volatile uint8_t *cc8(struct metal_virtio *v, unsigned off)
{
    return v->common + off;
}
static volatile uint16_t *cc16(struct metal_virtio *v, unsigned off)
{
    return (volatile uint16_t *)(v->common + off);
}
static volatile uint32_t *cc32(struct metal_virtio *v, unsigned off)
{
    return (volatile uint32_t *)(v->common + off);
}

static void set_status(struct metal_virtio *v, uint8_t s)
{
    if (v->modern)
        *cc8(v, CC_STATUS) = s;
    else
        outb((uint16_t)(v->io + LG_STATUS), s);
}

static uint8_t get_status(struct metal_virtio *v)
{
    return v->modern ? *cc8(v, CC_STATUS) : inb((uint16_t)(v->io + LG_STATUS));
}

static void reset(struct metal_virtio *v)
{
    set_status(v, 0);
    /* A reset completes when status reads back 0 (bounded). */
    for (int i = 0; i < 1000000 && get_status(v) != 0; i++)
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
    set_status(v, ST_FAILED);
}

/* Finds the modern capabilities; false when any required one is missing
 * or points outside its BAR. */
static bool find_modern(struct metal *m, struct metal_virtio *v, struct metal_pci_dev *d)
{
    uint8_t cap = 0;
    for (int n = 0; n < 16 && (cap = pci_find_cap(m, d, PCI_CAP_VENDOR, cap)) != 0; n++) {
        uint8_t type = pci_read8(m, d, (uint16_t)(cap + 3));
        uint8_t bar = pci_read8(m, d, (uint16_t)(cap + 4));
        uint32_t off = pci_read32(m, d, (uint16_t)(cap + 8));
        uint32_t len = pci_read32(m, d, (uint16_t)(cap + 12));
        if (bar > 5 || d->bar[bar].io || d->bar[bar].size == 0 ||
            (uint64_t)off + len > d->bar[bar].size)
            continue;
        volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)(d->bar[bar].addr + off);
        switch (type) {
        case 1:
            if (len >= 56 && v->common == NULL)
                v->common = p;
            break;
        case 2:
            if (v->notify_base == NULL) {
                v->notify_base = p;
                v->notify_mult = pci_read32(m, d, (uint16_t)(cap + 16));
            }
            break;
        case 3:
            if (v->isr == NULL)
                v->isr = p;
            break;
        case 4:
            if (v->devcfg == NULL)
                v->devcfg = p;
            break;
        default:
            break;
        }
    }
    return v->common != NULL && v->notify_base != NULL && v->devcfg != NULL;
}

tern_result virtio_open(struct metal *m, struct metal_virtio *v, struct metal_pci_dev *d,
                        uint64_t want)
{
    memset(v, 0, sizeof(*v));
    v->pci = d;
    pci_enable(m, d);
    if (find_modern(m, v, d)) {
        v->modern = true;
    } else if (d->device >= 0x1000 && d->device <= 0x103f && d->bar[0].io &&
               d->bar[0].size >= 24) {
        v->io = (uint16_t)d->bar[0].addr;
        v->legacy_cfg = 20;
    } else {
        return TERN_ENOTSUP;
    }
    reset(v);
    set_status(v, ST_ACK);
    set_status(v, ST_ACK | ST_DRIVER);
    uint64_t offered;
    if (v->modern) {
        *cc32(v, CC_DFSELECT) = 0;
        offered = *cc32(v, CC_DF);
        *cc32(v, CC_DFSELECT) = 1;
        offered |= (uint64_t)*cc32(v, CC_DF) << 32;
        want |= VIRTIO_F_VERSION_1;
        if (!(offered & VIRTIO_F_VERSION_1)) {
            virtio_fail(v, "no-version-1");
            return TERN_ENOTSUP;
        }
        v->features = offered & want;
        *cc32(v, CC_GFSELECT) = 0;
        *cc32(v, CC_GF) = (uint32_t)v->features;
        *cc32(v, CC_GFSELECT) = 1;
        *cc32(v, CC_GF) = (uint32_t)(v->features >> 32);
        set_status(v, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
        if (!(get_status(v) & ST_FEATURES_OK)) {
            virtio_fail(v, "features-refused");
            return TERN_ENOTSUP;
        }
    } else {
        offered = inl((uint16_t)(v->io + LG_DF));
        v->features = offered & want & 0xffffffffu;
        outl((uint16_t)(v->io + LG_GF), (uint32_t)v->features);
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
    uint16_t n;
    if (v->modern) {
        *cc16(v, CC_Q_SELECT) = idx;
        n = *cc16(v, CC_Q_SIZE);
        if (n == 0)
            return TERN_EIO;
        while (n > max || n > VIRTQ_MAX)
            n /= 2;
    } else {
        outw((uint16_t)(v->io + LG_Q_SELECT), idx);
        n = inw((uint16_t)(v->io + LG_Q_NUM));
        if (n == 0 || n > VIRTQ_MAX)
            return TERN_EIO; /* legacy sizes are fixed by the device */
    }
    if (n & (n - 1))
        return TERN_EIO;
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
    if (v->modern) {
        *cc16(v, CC_Q_SIZE) = n;
        *(volatile uint64_t *)(v->common + CC_Q_DESC) = (uint64_t)(uintptr_t)q->desc;
        *(volatile uint64_t *)(v->common + CC_Q_DRIVER) = (uint64_t)(uintptr_t)q->avail;
        *(volatile uint64_t *)(v->common + CC_Q_DEVICE) = (uint64_t)(uintptr_t)q->used;
        uint16_t off = *cc16(v, CC_Q_NOTIFY_OFF);
        q->notify = (uint64_t)(uintptr_t)v->notify_base + (uint64_t)off * v->notify_mult;
        *cc16(v, CC_Q_ENABLE) = 1;
    } else {
        outl((uint16_t)(v->io + LG_Q_PFN), (uint32_t)((uint64_t)(uintptr_t)mem >> 12));
        q->notify = (uint64_t)v->io + LG_Q_NOTIFY;
    }
    return TERN_OK;
}

void virtio_driver_ok(struct metal *m, struct metal_virtio *v, unsigned nq)
{
    if (pci_msix_enable(m, v->pci, 1, METAL_IRQ_VECTOR) == TERN_OK) {
        v->msix = true;
        for (unsigned i = 0; i < nq; i++) {
            uint16_t got;
            if (v->modern) {
                *cc16(v, CC_Q_SELECT) = (uint16_t)i;
                *cc16(v, CC_Q_MSIX) = 0;
                got = *cc16(v, CC_Q_MSIX);
            } else {
                outw((uint16_t)(v->io + LG_Q_SELECT), (uint16_t)i);
                outw((uint16_t)(v->io + LG_Q_MSIX), 0);
                got = inw((uint16_t)(v->io + LG_Q_MSIX));
            }
            if (got == NO_VECTOR)
                v->msix = false;
        }
        if (v->modern)
            *cc16(v, CC_MSIX_CONFIG) = NO_VECTOR;
        else
            outw((uint16_t)(v->io + LG_MSIX_CONFIG), NO_VECTOR);
        /* With MSI-X on, the legacy device config moves by 4 bytes. */
        if (!v->modern)
            v->legacy_cfg = 24;
    }
    set_status(v, (uint8_t)(get_status(v) | ST_ACK | ST_DRIVER | ST_DRIVER_OK));
    v->live = true;
}

uint8_t virtio_cfg8(struct metal_virtio *v, unsigned off)
{
    if (v->modern)
        return v->devcfg[off];
    return inb((uint16_t)(v->io + v->legacy_cfg + off));
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
    if (v->modern)
        *(volatile uint16_t *)(uintptr_t)q->notify = q->index;
    else
        outw((uint16_t)q->notify, q->index);
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
