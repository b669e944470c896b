/*
 * Interface: the virtio MMIO transport (see virtio.h; virtio 1.2 4.2).
 *
 * One register window per device, at least 0x100 bytes of registers and
 * the device configuration from 0x100 (virtio_mmio.device's SIZE, or the
 * DSDT's Memory32Fixed length, bounds it). MagicValue must read "virt"
 * and Version 2 (virtio 1.x) or 1 (legacy: 32 feature bits, no
 * FEATURES_OK, queues given by page-frame number with GuestPageSize and
 * QueueAlign 4096, which the common code's ring layout already keeps);
 * DeviceID 0 is an empty slot. Unlike legacy PCI, both versions let the
 * driver choose a queue size up to QueueNumMax.
 *
 * Interrupts: the device's line (its GSI) through the I/O APIC that
 * covers it (ioapic.c), edge-triggered to METAL_IRQ_VECTOR. The device
 * holds the line while InterruptStatus is not 0, so irq_ack writes the
 * status back to InterruptACK: after that a new completion is a new
 * edge. Without an I/O APIC for the line the device is polled.
 */
#include "metal.h"
#include "virtio.h"

#define MMIO_MAGIC 0x000
#define MMIO_VERSION 0x004
#define MMIO_DEVICE_ID 0x008
#define MMIO_DEVICE_FEATURES 0x010
#define MMIO_DEVICE_FEATURES_SEL 0x014
#define MMIO_DRIVER_FEATURES 0x020
#define MMIO_DRIVER_FEATURES_SEL 0x024
#define MMIO_GUEST_PAGE_SIZE 0x028   /* legacy */
#define MMIO_QUEUE_SEL 0x030
#define MMIO_QUEUE_NUM_MAX 0x034
#define MMIO_QUEUE_NUM 0x038
#define MMIO_QUEUE_ALIGN 0x03c       /* legacy */
#define MMIO_QUEUE_PFN 0x040         /* legacy */
#define MMIO_QUEUE_READY 0x044
#define MMIO_QUEUE_NOTIFY 0x050
#define MMIO_INTERRUPT_STATUS 0x060
#define MMIO_INTERRUPT_ACK 0x064
#define MMIO_STATUS 0x070
#define MMIO_QUEUE_DESC 0x080
#define MMIO_QUEUE_DRIVER 0x090
#define MMIO_QUEUE_DEVICE 0x0a0
#define MMIO_CONFIG 0x100

#define MAGIC_VIRT 0x74726976u       /* "virt" */
#define PAGE 4096u

static uint32_t rd(struct metal_virtio *v, unsigned off)
{
    return *(volatile uint32_t *)(v->mmio + off);
}

static void wr(struct metal_virtio *v, unsigned off, uint32_t val)
{
    *(volatile uint32_t *)(v->mmio + off) = val;
}

static void wr64(struct metal_virtio *v, unsigned off, uint64_t val)
{
    wr(v, off, (uint32_t)val);
    wr(v, off + 4, (uint32_t)(val >> 32));
}

tern_result virtio_mmio_identify(struct metal *m, const struct metal_virtio_loc *where,
                                 uint32_t *device_id, uint32_t *version)
{
    if (where->mmio_size < MMIO_CONFIG)
        return TERN_ENOTSUP;
    if (where->mmio_base + where->mmio_size > m->mm.mapped_top &&
        mm_map(m, where->mmio_base, where->mmio_size, PTE_W | PTE_NX | PTE_PCD | PTE_PWT) != TERN_OK)
        return TERN_ENOTSUP;
    volatile const uint32_t *r = (volatile const uint32_t *)(uintptr_t)where->mmio_base;
    *version = r[MMIO_VERSION / 4];
    *device_id = r[MMIO_DEVICE_ID / 4];
    if (r[MMIO_MAGIC / 4] != MAGIC_VIRT || (*version != 1 && *version != 2))
        return TERN_ENOTSUP;
    return TERN_OK;
}

static tern_result mmio_attach(struct metal *m, struct metal_virtio *v,
                               const struct metal_virtio_loc *where)
{
    uint32_t id, version;
    if (virtio_mmio_identify(m, where, &id, &version) != TERN_OK || id == 0)
        return TERN_ENOTSUP;
    v->mmio = (volatile uint8_t *)(uintptr_t)where->mmio_base;
    v->mmio_cfg_len = where->mmio_size - MMIO_CONFIG;
    v->modern = version == 2;
    if (!v->modern)
        wr(v, MMIO_GUEST_PAGE_SIZE, PAGE);
    return TERN_OK;
}

static uint8_t mmio_get_status(struct metal_virtio *v)
{
    return (uint8_t)rd(v, MMIO_STATUS);
}

static void mmio_set_status(struct metal_virtio *v, uint8_t status)
{
    wr(v, MMIO_STATUS, status);
}

static uint64_t mmio_get_features(struct metal_virtio *v)
{
    wr(v, MMIO_DEVICE_FEATURES_SEL, 0);
    uint64_t f = rd(v, MMIO_DEVICE_FEATURES);
    if (!v->modern)
        return f;
    wr(v, MMIO_DEVICE_FEATURES_SEL, 1);
    return f | (uint64_t)rd(v, MMIO_DEVICE_FEATURES) << 32;
}

static void mmio_set_features(struct metal_virtio *v, uint64_t f)
{
    wr(v, MMIO_DRIVER_FEATURES_SEL, 0);
    wr(v, MMIO_DRIVER_FEATURES, (uint32_t)f);
    if (!v->modern)
        return;
    wr(v, MMIO_DRIVER_FEATURES_SEL, 1);
    wr(v, MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

/* A queue already in use (after our reset) is not offered. */
static uint16_t mmio_queue_max(struct metal_virtio *v, uint16_t idx, bool *fixed)
{
    wr(v, MMIO_QUEUE_SEL, idx);
    *fixed = false;
    if (rd(v, v->modern ? MMIO_QUEUE_READY : MMIO_QUEUE_PFN) != 0)
        return 0;
    uint32_t n = rd(v, MMIO_QUEUE_NUM_MAX);
    return n > 0xffffu ? 0x8000u : (uint16_t)n;
}

static void mmio_queue_enable(struct metal_virtio *v, struct metal_vq *q)
{
    wr(v, MMIO_QUEUE_SEL, q->index);
    wr(v, MMIO_QUEUE_NUM, q->size);
    if (!v->modern) {
        wr(v, MMIO_QUEUE_ALIGN, PAGE);
        wr(v, MMIO_QUEUE_PFN, (uint32_t)((uint64_t)(uintptr_t)q->desc / PAGE));
        return;
    }
    wr64(v, MMIO_QUEUE_DESC, (uint64_t)(uintptr_t)q->desc);
    wr64(v, MMIO_QUEUE_DRIVER, (uint64_t)(uintptr_t)q->avail);
    wr64(v, MMIO_QUEUE_DEVICE, (uint64_t)(uintptr_t)q->used);
    wr(v, MMIO_QUEUE_READY, 1);
}

static void mmio_notify(struct metal_virtio *v, struct metal_vq *q)
{
    wr(v, MMIO_QUEUE_NOTIFY, q->index);
}

/* Bytes past the window read as 0xff, as an absent register would. */
static uint8_t mmio_cfg8(struct metal_virtio *v, unsigned off)
{
    if (off >= v->mmio_cfg_len)
        return 0xff;
    return v->mmio[MMIO_CONFIG + off];
}

/* GSI 0 (the timer's line, or none given) is never routed: polled. */
static bool mmio_irq_setup(struct metal *m, struct metal_virtio *v, unsigned nq)
{
    (void)nq;
    return v->where->gsi != 0 && ioapic_route(m, v->where->gsi, METAL_IRQ_VECTOR) == TERN_OK;
}

static void mmio_irq_ack(struct metal_virtio *v)
{
    uint32_t st = rd(v, MMIO_INTERRUPT_STATUS);
    if (st != 0)
        wr(v, MMIO_INTERRUPT_ACK, st);
}

const struct metal_virtio_ops metal_virtio_mmio_ops = {
    .name = "mmio",
    .attach = mmio_attach,
    .get_status = mmio_get_status,
    .set_status = mmio_set_status,
    .get_features = mmio_get_features,
    .set_features = mmio_set_features,
    .queue_max = mmio_queue_max,
    .queue_enable = mmio_queue_enable,
    .notify = mmio_notify,
    .cfg8 = mmio_cfg8,
    .irq_setup = mmio_irq_setup,
    .irq_ack = mmio_irq_ack,
};
