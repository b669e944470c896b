/*
 * Interface: finds the virtio devices and binds them to their drivers
 * (see metal.h, metal_devices_probe).
 *
 * Where devices are found, in this order:
 *   1. PCI functions with vendor 0x1af4 (pci.c enumerated them);
 *   2. virtio-mmio windows from the command line
 *      (virtio_mmio.device=SIZE@BASE:IRQ, cmdline.h);
 *   3. virtio-mmio windows the DSDT describes (LNRO0005, acpi.h), unless
 *      the command line already named the same base.
 * An MMIO window that overlaps RAM in the memory map is refused (it would
 * be a stray write into memory, not a device); one that does not read as
 * virtio-mmio is skipped with a warning; device ID 0 is an empty slot
 * (QEMU's microvm has eight transports, most of them empty). Each
 * device's driver is chosen by its type (1 net, 2 block, 4 entropy); one
 * that fails to start is logged and left out. At most METAL_VIRTIO_MAX
 * locations are kept.
 */
#include "metal.h"
#include "tern/fmt.h"
#include "tern/net.h"
#include "tern/os.h"

/* Starts the driver for type at where. TERN_ENOENT: no driver (or no
 * room) for that type. */
static tern_result bind(struct metal *m, struct tern_os *os, unsigned type,
                        const struct metal_virtio_loc *where)
{
    tern_result r;
    struct metal_virtio *v;
    const char *what;
    if (type == 1 && m->nnet < METAL_NET_MAX) {
        what = "net";
        v = &m->net[m->nnet].v;
        if ((r = virtio_net_init(m, &m->net[m->nnet], where)) == TERN_OK)
            m->nnet++;
    } else if (type == 2 && m->nblk < METAL_BLK_MAX) {
        what = "blk";
        v = &m->blk[m->nblk].v;
        if ((r = virtio_blk_init(m, &m->blk[m->nblk], where)) == TERN_OK)
            m->nblk++;
    } else if (type == 4 && !m->rng.present) {
        what = "rng";
        v = &m->rng.v;
        r = virtio_rng_init(m, &m->rng, where);
    } else {
        return TERN_ENOENT;
    }
    if (r != TERN_OK) {
        if (type == 1)
            m->nnet_failed++;
        tern_log(os, TERN_LOG_WARN, "metal", "virtio-%s %s not started: %s (%d)", what,
                 where->name, v->fatal ? v->fatal : "result", (int)r);
        return r;
    }
    if (!v->irq)
        m->poll_devices = true;
    char offloads[40] = "";
    if (type == 1)
        tern_net_offload_words(m->net[m->nnet - 1].offloads, offloads, sizeof(offloads));
    char irq[24] = "polled";
    if (v->irq && where->bus == METAL_VIRTIO_MMIO)
        tern_snprintf(irq, sizeof irq, "gsi %u (i/o apic)", (unsigned)where->gsi);
    else if (v->irq)
        tern_snprintf(irq, sizeof irq, "msi-x");
    tern_log(os, TERN_LOG_INFO, "metal", "virtio-%s %s %s transport, features 0x%llx, %s%s%s",
             what, where->name, v->modern ? "modern" : "legacy", (unsigned long long)v->features,
             irq, type != 1 ? "" : offloads[0] ? ", offloads " : ", no offloads", offloads);
    return TERN_OK;
}

static struct metal_virtio_loc *new_loc(struct metal *m)
{
    if (m->nvloc == METAL_VIRTIO_MAX)
        return NULL;
    struct metal_virtio_loc *l = &m->vloc[m->nvloc++];
    *l = (struct metal_virtio_loc){ .bus = METAL_VIRTIO_PCI };
    return l;
}

static void probe_pci(struct metal *m, struct tern_os *os)
{
    for (unsigned i = 0; i < m->pci.ndevs; i++) {
        struct metal_pci_dev *d = &m->pci.devs[i];
        if (d->vendor != 0x1af4 || d->device < 0x1000 || d->device > 0x107f)
            continue;
        unsigned type = d->device >= 0x1040 ? d->device - 0x1040u
                                            : d->subsys_device; /* transitional */
        struct metal_virtio_loc *l = new_loc(m);
        if (l == NULL)
            return;
        l->pci = d;
        l->tag[0] = d->bus;
        l->tag[1] = (uint8_t)(d->dev << 3 | d->fn);
        tern_snprintf(l->name, sizeof l->name, "%02x:%02x.%u", d->bus, d->dev, d->fn);
        d->claimed = bind(m, os, type, l) == TERN_OK;
    }
}

/* One MMIO window (from the command line or the DSDT). */
static void probe_mmio_one(struct metal *m, struct tern_os *os, uint64_t base, uint32_t size,
                           uint32_t gsi, const char *source)
{
    for (unsigned i = 0; i < m->nvloc; i++)
        if (m->vloc[i].bus == METAL_VIRTIO_MMIO && m->vloc[i].mmio_base == base)
            return; /* named twice (command line and DSDT) */
    if (mm_overlaps_ram(m, base, size)) {
        tern_log(os, TERN_LOG_WARN, "metal",
                 "virtio-mmio 0x%llx+0x%x (%s) overlaps RAM in the memory map: refused",
                 (unsigned long long)base, (unsigned)size, source);
        return;
    }
    struct metal_virtio_loc *l = new_loc(m);
    if (l == NULL)
        return;
    l->bus = METAL_VIRTIO_MMIO;
    l->mmio_base = base;
    l->mmio_size = size;
    l->gsi = gsi;
    l->tag[0] = 0x80;
    l->tag[1] = (uint8_t)(m->nvloc - 1);
    tern_snprintf(l->name, sizeof l->name, "mmio@0x%llx", (unsigned long long)base);
    uint32_t type = 0, version = 0;
    if (virtio_mmio_identify(m, l, &type, &version) != TERN_OK) {
        tern_log(os, TERN_LOG_WARN, "metal", "%s (%s) is not a virtio-mmio device: skipped",
                 l->name, source);
        m->nvloc--;
        return;
    }
    if (type == 0 || bind(m, os, type, l) != TERN_OK) {
        tern_log(os, TERN_LOG_DEBUG, "metal", "%s (%s): %s", l->name, source,
                 type == 0 ? "empty slot" : "not driven");
        m->nvloc--; /* nothing holds it */
    }
}

void metal_devices_probe(struct metal *m, struct tern_os *os)
{
    probe_pci(m, os);
    for (unsigned i = 0; i < m->cmdline.nmmio; i++)
        probe_mmio_one(m, os, m->cmdline.mmio[i].base, m->cmdline.mmio[i].size,
                       m->cmdline.mmio[i].irq, "command line");
    for (unsigned i = 0; i < m->acpi.nmmio; i++)
        probe_mmio_one(m, os, m->acpi.mmio[i].base, m->acpi.mmio[i].size, m->acpi.mmio[i].gsi,
                       "acpi");
    if (m->acpi.mmio_dropped)
        tern_log(os, TERN_LOG_WARN, "metal", "acpi: %u virtio-mmio device(s) beyond %u ignored",
                 (unsigned)m->acpi.mmio_dropped, (unsigned)METAL_ACPI_MMIO_MAX);
    for (unsigned i = 0; i < m->nnet; i++) {
        const uint8_t *a = m->net[i].mac;
        tern_log(os, TERN_LOG_DEBUG, "metal",
                 "virtio%u mac %02x:%02x:%02x:%02x:%02x:%02x mtu %u, rx %u tx %u descriptors", i,
                 a[0], a[1], a[2], a[3], a[4], a[5], m->net[i].mtu, m->net[i].rx.size,
                 m->net[i].tx.size);
    }
    for (unsigned i = 0; i < m->nblk; i++)
        tern_log(os, TERN_LOG_DEBUG, "metal", "vblk%u %llu sectors of 512 B%s%s", i,
                 (unsigned long long)m->blk[i].sectors, m->blk[i].read_only ? ", read-only" : "",
                 m->blk[i].can_flush ? ", flush" : "");
}
