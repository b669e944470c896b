/*
 * Interface: the virtio PCI transport (see virtio.h): the modern layout
 * through the vendor capabilities, else legacy 0.9.5 through I/O BAR 0;
 * MSI-X entry 0 for every queue.
 */
#include "metal.h"
#include "virtio.h"
#include "x86.h"

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

static void pci_set_status(struct metal_virtio *v, uint8_t s)
{
    if (v->modern)
        *cc8(v, CC_STATUS) = s;
    else
        outb((uint16_t)(v->io + LG_STATUS), s);
}

static uint8_t pci_get_status(struct metal_virtio *v)
{
    return v->modern ? *cc8(v, CC_STATUS) : inb((uint16_t)(v->io + LG_STATUS));
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

static tern_result pci_attach(struct metal *m, struct metal_virtio *v,
                              const struct metal_virtio_loc *where)
{
    struct metal_pci_dev *d = where->pci;
    v->pci = d;
    pci_enable(m, d);
    if (find_modern(m, v, d)) {
        v->modern = true;
        return TERN_OK;
    }
    if (d->device >= 0x1000 && d->device <= 0x103f && d->bar[0].io && d->bar[0].size >= 24) {
        v->io = (uint16_t)d->bar[0].addr;
        v->legacy_cfg = 20;
        return TERN_OK;
    }
    return TERN_ENOTSUP;
}

static uint64_t pci_get_features(struct metal_virtio *v)
{
    if (!v->modern)
        return inl((uint16_t)(v->io + LG_DF));
    *cc32(v, CC_DFSELECT) = 0;
    uint64_t f = *cc32(v, CC_DF);
    *cc32(v, CC_DFSELECT) = 1;
    return f | (uint64_t)*cc32(v, CC_DF) << 32;
}

static void pci_set_features(struct metal_virtio *v, uint64_t f)
{
    if (!v->modern) {
        outl((uint16_t)(v->io + LG_GF), (uint32_t)f);
        return;
    }
    *cc32(v, CC_GFSELECT) = 0;
    *cc32(v, CC_GF) = (uint32_t)f;
    *cc32(v, CC_GFSELECT) = 1;
    *cc32(v, CC_GF) = (uint32_t)(f >> 32);
}

static uint16_t pci_queue_max(struct metal_virtio *v, uint16_t idx, bool *fixed)
{
    if (v->modern) {
        *cc16(v, CC_Q_SELECT) = idx;
        *fixed = false;
        return *cc16(v, CC_Q_SIZE);
    }
    outw((uint16_t)(v->io + LG_Q_SELECT), idx);
    *fixed = true;
    return inw((uint16_t)(v->io + LG_Q_NUM));
}

static void pci_queue_enable(struct metal_virtio *v, struct metal_vq *q)
{
    if (!v->modern) {
        outw((uint16_t)(v->io + LG_Q_SELECT), q->index);
        outl((uint16_t)(v->io + LG_Q_PFN), (uint32_t)((uint64_t)(uintptr_t)q->desc >> 12));
        q->notify = (uint64_t)v->io + LG_Q_NOTIFY;
        return;
    }
    *cc16(v, CC_Q_SELECT) = q->index;
    *cc16(v, CC_Q_SIZE) = q->size;
    *(volatile uint64_t *)(v->common + CC_Q_DESC) = (uint64_t)(uintptr_t)q->desc;
    *(volatile uint64_t *)(v->common + CC_Q_DRIVER) = (uint64_t)(uintptr_t)q->avail;
    *(volatile uint64_t *)(v->common + CC_Q_DEVICE) = (uint64_t)(uintptr_t)q->used;
    uint16_t off = *cc16(v, CC_Q_NOTIFY_OFF);
    q->notify = (uint64_t)(uintptr_t)v->notify_base + (uint64_t)off * v->notify_mult;
    *cc16(v, CC_Q_ENABLE) = 1;
}

static void pci_notify(struct metal_virtio *v, struct metal_vq *q)
{
    if (v->modern)
        *(volatile uint16_t *)(uintptr_t)q->notify = q->index;
    else
        outw((uint16_t)q->notify, q->index);
}

static uint8_t pci_cfg8(struct metal_virtio *v, unsigned off)
{
    if (v->modern)
        return v->devcfg[off];
    return inb((uint16_t)(v->io + v->legacy_cfg + off));
}

/* MSI-X entry 0 for every queue (readback checked), none for config
 * changes. */
static bool pci_irq_setup(struct metal *m, struct metal_virtio *v, unsigned nq)
{
    if (pci_msix_enable(m, v->pci, 1, METAL_IRQ_VECTOR) != TERN_OK)
        return false;
    bool ok = true;
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
            ok = false;
    }
    if (v->modern)
        *cc16(v, CC_MSIX_CONFIG) = NO_VECTOR;
    else
        outw((uint16_t)(v->io + LG_MSIX_CONFIG), NO_VECTOR);
    /* With MSI-X on, the legacy device config moves by 4 bytes. */
    if (!v->modern)
        v->legacy_cfg = 24;
    return ok;
}

/* MSI-X needs no acknowledgement at the device. */
static void pci_irq_ack(struct metal_virtio *v)
{
    (void)v;
}

const struct metal_virtio_ops metal_virtio_pci_ops = {
    .name = "pci",
    .attach = pci_attach,
    .get_status = pci_get_status,
    .set_status = pci_set_status,
    .get_features = pci_get_features,
    .set_features = pci_set_features,
    .queue_max = pci_queue_max,
    .queue_enable = pci_queue_enable,
    .notify = pci_notify,
    .cfg8 = pci_cfg8,
    .irq_setup = pci_irq_setup,
    .irq_ack = pci_irq_ack,
};
