/*
 * Interface: virtio on metal: the common device protocol and split
 * virtqueues (virtio.c), two transports below them (virtio_pci.c,
 * virtio_mmio.c), and three drivers above (virtio_net.c, virtio_blk.c
 * with virtio-rng). Virtio 1.2 spec, ch. 2-5.
 *
 * Transports (struct metal_virtio_ops, one const table each; the
 * drivers never see which one they run on):
 *   - PCI: the 1.x "modern" layout (vendor capabilities pointing at
 *     common/notify/ISR/device config in a memory BAR) when the function
 *     offers it, else the legacy 0.9.5 layout (registers in I/O BAR 0),
 *     which is what `disable-modern=on` and GCE's virtio-net give;
 *   - MMIO (the microVM machines: QEMU microvm, Firecracker): a 512-byte
 *     or larger register window, version 2 (virtio 1.x) or the legacy
 *     version 1 layout (a page-frame number per queue), which QEMU gives
 *     with `-global virtio-mmio.force-legacy=on` (its 7.2 default is
 *     version 2) and older monitors by default. Devices come from the
 *     kernel command line (`virtio_mmio.device=SIZE@BASE:IRQ`, cmdline.h)
 *     and from the ACPI DSDT (_HID LNRO0005, acpi.h).
 *
 * Queues: split virtqueues in identity-mapped pages from the page
 * allocator (physical == virtual). The device is not trusted: a used
 * index that moves by more than the queue size, a used id that is not a
 * descriptor the driver has in flight, or a used length larger than the
 * buffer posted is a fatal device error: the device is reset, marked dead
 * (every later call gets TERN_EIO) and the reason is kept in `fatal`.
 *
 * Interrupts: PCI functions use MSI-X to METAL_IRQ_VECTOR when they have
 * it; MMIO devices route their line through the I/O APIC the ACPI MADT
 * names to the same vector (edge-triggered; wait() acknowledges the
 * device's interrupt status before it checks the rings). The handler
 * only acknowledges the LAPIC: its job is to wake the hlt in wait().
 * Without either the driver is polled, and wait() sleeps at most
 * METAL_POLL_NS between polls (PCI INTx would need the ACPI _PRT, i.e. an
 * AML interpreter, for its routing).
 *
 * Usage: virtio_open(dev, where, features_wanted) -> virtio_queue_setup
 * for each queue -> fill queues -> virtio_driver_ok. Single-threaded:
 * everything runs on the core's one thread of control, with interrupts
 * off.
 */
#ifndef TERN_METAL_VIRTIO_H
#define TERN_METAL_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "pci.h"
#include "tern/platform.h"

#define METAL_IRQ_VECTOR 0x41
#define METAL_POLL_NS 1000000ull
#define VIRTQ_MAX 256

#define VIRTIO_F_VERSION_1 (1ull << 32)

struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2

struct metal_vq {
    uint16_t index;
    uint16_t size;              /* a power of two, <= VIRTQ_MAX */
    volatile struct virtq_desc *desc;
    volatile uint16_t *avail;   /* flags, idx, ring[size], used_event */
    volatile uint8_t *used;     /* flags, idx, ring[size] of {id u32, len u32} */
    uint16_t avail_idx;         /* next avail slot (free-running) */
    uint16_t last_used;         /* next used slot to read (free-running) */
    uint16_t free_head, num_free;
    uint32_t posted_len[VIRTQ_MAX]; /* by head: bytes the device may write */
    bool in_flight[VIRTQ_MAX];      /* by head */
    uint64_t notify;            /* MMIO address (modern) or port (legacy) */
};

/* Where a device is, as its discovery found it. */
enum metal_virtio_bus { METAL_VIRTIO_PCI, METAL_VIRTIO_MMIO };

struct metal_virtio_loc {
    enum metal_virtio_bus bus;
    struct metal_pci_dev *pci;  /* PCI: the function */
    uint64_t mmio_base;         /* MMIO: the register window */
    uint32_t mmio_size;
    uint32_t gsi;               /* MMIO: its interrupt line (global system interrupt) */
    uint8_t tag[2];             /* a short location (PCI bus and devfn, MMIO slot) */
    char name[24];              /* for log lines: "00:03.0", "mmio@0xfeb00e00" */
};

struct metal_virtio;
struct metal;

/* A transport (virtio 1.2 ch. 4): how the common code reaches one
 * device's registers. Every member is required. */
struct metal_virtio_ops {
    const char *name;                                   /* "pci", "mmio" */
    /* Finds the device's registers from where; sets v->modern. TERN_OK,
     * TERN_ENOTSUP (not a layout this transport understands). */
    tern_result (*attach)(struct metal *m, struct metal_virtio *v,
                          const struct metal_virtio_loc *where);
    uint8_t (*get_status)(struct metal_virtio *v);
    void (*set_status)(struct metal_virtio *v, uint8_t status);
    /* The device's features (legacy: only the low 32 bits exist) and the
     * driver's choice. */
    uint64_t (*get_features)(struct metal_virtio *v);
    void (*set_features)(struct metal_virtio *v, uint64_t features);
    /* The size the device offers for queue idx (0: no such queue); *fixed
     * when the driver cannot choose a smaller one (legacy PCI). */
    uint16_t (*queue_max)(struct metal_virtio *v, uint16_t idx, bool *fixed);
    /* Tells the device where q's rings are (q->size chosen) and enables it. */
    void (*queue_enable)(struct metal_virtio *v, struct metal_vq *q);
    void (*notify)(struct metal_virtio *v, struct metal_vq *q);
    uint8_t (*cfg8)(struct metal_virtio *v, unsigned off);
    /* Routes the device's interrupts for nq queues to METAL_IRQ_VECTOR;
     * false: it is polled. */
    bool (*irq_setup)(struct metal *m, struct metal_virtio *v, unsigned nq);
    /* Acknowledges a pending interrupt (before wait() checks the rings). */
    void (*irq_ack)(struct metal_virtio *v);
};

extern const struct metal_virtio_ops metal_virtio_pci_ops;
extern const struct metal_virtio_ops metal_virtio_mmio_ops;

/* Maps an MMIO window (when above the boot map) and reads its magic,
 * version and device ID (0: an empty slot). TERN_OK, TERN_ENOTSUP (not
 * virtio-mmio version 1 or 2, or not mappable). */
tern_result virtio_mmio_identify(struct metal *m, const struct metal_virtio_loc *where,
                                 uint32_t *device_id, uint32_t *version);

struct metal_virtio {
    const struct metal_virtio_ops *ops;
    const struct metal_virtio_loc *where;
    bool modern;                /* virtio 1.x registers (else legacy) */
    bool irq;                   /* completions interrupt (MSI-X / I/O APIC): hlt, not poll */
    bool dead;
    bool live;                  /* DRIVER_OK set: notifications allowed */
    const char *fatal;          /* why it was reset, or NULL */
    uint64_t features;          /* negotiated */
    /* PCI */
    struct metal_pci_dev *pci;
    volatile uint8_t *common, *isr, *devcfg, *notify_base;
    uint32_t notify_mult;
    uint16_t io;                /* legacy: I/O BAR 0 */
    uint16_t legacy_cfg;        /* legacy: device config offset (20, or 24 with MSI-X) */
    /* MMIO */
    volatile uint8_t *mmio;     /* the register window */
    uint32_t mmio_cfg_len;      /* device config bytes in the window */
    uint64_t errors;            /* fatal device errors seen */
};

/* Attaches the transport `where` names, resets the device, negotiates
 * `want` (VERSION_1 added on modern), and leaves it in
 * ACKNOWLEDGE|DRIVER|FEATURES_OK. TERN_OK, TERN_ENOTSUP (not a virtio
 * layout it understands, or features refused), TERN_EIO. */
tern_result virtio_open(struct metal *m, struct metal_virtio *v,
                        const struct metal_virtio_loc *where, uint64_t want);
/* Sets up queue idx with at most max entries. TERN_OK, TERN_ENOMEM,
 * TERN_EIO (absent queue). */
tern_result virtio_queue_setup(struct metal *m, struct metal_virtio *v, struct metal_vq *q,
                               uint16_t idx, uint16_t max);
/* Sets up interrupts for nq queues (or polling) and DRIVER_OK. */
void virtio_driver_ok(struct metal *m, struct metal_virtio *v, unsigned nq);
/* Acknowledges the device's pending interrupt, if any (wait()). */
void virtio_irq_ack(struct metal_virtio *v);
/* Device config bytes (little-endian) at off. */
uint8_t virtio_cfg8(struct metal_virtio *v, unsigned off);
uint16_t virtio_cfg16(struct metal_virtio *v, unsigned off);
uint32_t virtio_cfg32(struct metal_virtio *v, unsigned off);
/* Resets the device and marks it dead with `why` (counted). */
void virtio_fail(struct metal_virtio *v, const char *why);

/* Posts a chain of n buffers (addr/len/write-flag) and kicks the device.
 * TERN_OK, TERN_AGAIN (no free descriptors), TERN_EIO (dead). */
struct virtq_buf {
    const void *addr;
    uint32_t len;
    bool device_writes;
};
tern_result virtq_post(struct metal_virtio *v, struct metal_vq *q, const struct virtq_buf *b,
                       unsigned n);
/* Notifies the device of queue q (after DRIVER_OK). */
void virtq_kick(struct metal_virtio *v, struct metal_vq *q);
/* True when the device has returned a buffer not yet taken. */
bool virtq_pending(struct metal_virtio *v, struct metal_vq *q);
/* Takes the oldest used buffer: its head descriptor in *head and the
 * length the device wrote in *len (checked against what was posted), and
 * frees its chain. TERN_OK, TERN_AGAIN (none), TERN_EIO (device error:
 * the device was reset). */
tern_result virtq_take(struct metal_virtio *v, struct metal_vq *q, uint16_t *head,
                       uint32_t *len);

/* ---- drivers ---- */

#define METAL_NET_MAX 4
#define METAL_NET_RX 128
#define METAL_NET_BUF 2048

struct metal_net {
    struct metal_virtio v;
    struct metal_vq rx, tx;
    uint8_t mac[TERN_MAC_LEN];
    uint16_t mtu;
    uint16_t hdr_len;           /* 12 (VERSION_1) or 10 (legacy) */
    uint32_t offloads;          /* TERN_NET_OFFLOAD_TX_CSUM / RX_CSUM, as negotiated */
    uint8_t *rx_buf;            /* rx.size buffers of METAL_NET_BUF */
    uint16_t rx_of_head[VIRTQ_MAX]; /* rx buffer index by head descriptor */
    uint8_t *tx_buf;            /* tx.size buffers of METAL_NET_BUF */
    uint64_t rx_frames, tx_frames, rx_dropped, tx_full;
};

struct metal_blk {
    struct metal_virtio v;
    struct metal_vq q;
    uint64_t sectors;           /* 512-byte sectors */
    bool read_only, can_flush;
    uint64_t short_or_failed;   /* requests the device failed or cut short: TERN_EIO */
    uint8_t *req;               /* one page: header at 0, status at 64 */
    uint8_t *bounce;            /* 64 KiB bounce buffer (caller buffers may be anywhere) */
};

struct metal_rng {
    struct metal_virtio v;
    struct metal_vq q;
    uint8_t *buf;               /* one page */
    bool present;
};

tern_result virtio_net_init(struct metal *m, struct metal_net *n,
                            const struct metal_virtio_loc *where);
/* Sends one frame; meta (NULL: none) may ask for NEEDS_CSUM only, and only
 * when the device took CSUM (else TERN_EINVAL). */
tern_result virtio_net_send(struct metal_net *n, const void *frame, size_t len,
                            const struct tern_net_meta *meta);
/* Takes one received frame. With meta, the device's header is returned
 * as metadata for the core to check; without, a partial checksum is
 * completed in place so the frame is an ordinary one. */
tern_result virtio_net_recv(struct metal_net *n, void *buf, size_t cap, size_t *out_len,
                            struct tern_net_meta *meta);
bool virtio_net_ready(struct metal_net *n);

tern_result virtio_blk_init(struct metal *m, struct metal_blk *b,
                            const struct metal_virtio_loc *where);
tern_result virtio_blk_rw(struct metal *m, struct metal_blk *b, bool write, uint64_t lba,
                          void *buf, uint32_t count);
tern_result virtio_blk_flush(struct metal *m, struct metal_blk *b);

tern_result virtio_rng_init(struct metal *m, struct metal_rng *r,
                            const struct metal_virtio_loc *where);
tern_result virtio_rng_read(struct metal *m, struct metal_rng *r, void *buf, size_t len);

#endif
