/*
 * Interface: virtio over PCI on metal (virtio.c) and its three drivers
 * (virtio_net.c, virtio_blk.c, virtio_rng.c). Virtio 1.2 spec, ch. 2-5.
 *
 * Transport: the 1.x "modern" PCI layout (vendor capabilities pointing
 * at common/notify/ISR/device config in a memory BAR) when the function
 * offers it, else the legacy 0.9.5 layout (registers in I/O BAR 0), which
 * is what `disable-modern=on` and GCE's virtio-net give.
 *
 * Queues: split virtqueues in identity-mapped pages from the page
 * allocator (physical == virtual). The device is not trusted: a used
 * index that moves by more than the queue size, a used id that is not a
 * descriptor the driver has in flight, or a used length larger than the
 * buffer posted is a fatal device error: the device is reset, marked dead
 * (every later call gets TERN_EIO) and the reason is kept in `fatal`.
 *
 * Interrupts: MSI-X to METAL_IRQ_VECTOR when the function has it (the
 * handler only acknowledges the LAPIC: its job is to wake the hlt in
 * wait()); without MSI-X the driver is polled, and wait() sleeps at most
 * METAL_POLL_NS between polls (INTx would need the ACPI _PRT, i.e. an AML
 * interpreter, for its routing).
 *
 * Usage: virtio_open(dev, features_wanted) -> virtio_queue_setup for each
 * queue -> fill queues -> virtio_driver_ok. Single-threaded: everything
 * runs on the core's one thread of control, with interrupts off.
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

struct metal_virtio {
    struct metal_pci_dev *pci;
    bool modern;
    bool msix;
    bool dead;
    bool live;                  /* DRIVER_OK set: notifications allowed */
    const char *fatal;          /* why it was reset, or NULL */
    uint64_t features;          /* negotiated */
    volatile uint8_t *common, *isr, *devcfg, *notify_base;
    uint32_t notify_mult;
    uint16_t io;                /* legacy: I/O BAR 0 */
    uint16_t legacy_cfg;        /* legacy: device config offset (20, or 24 with MSI-X) */
    uint64_t errors;            /* fatal device errors seen */
};

struct metal;

/* Resets the function, negotiates `want` (VERSION_1 added on modern),
 * and leaves it in ACKNOWLEDGE|DRIVER|FEATURES_OK. TERN_OK, TERN_ENOTSUP
 * (not a virtio layout it understands, or features refused), TERN_EIO. */
tern_result virtio_open(struct metal *m, struct metal_virtio *v, struct metal_pci_dev *d,
                        uint64_t want);
/* Sets up queue idx with at most max entries. TERN_OK, TERN_ENOMEM,
 * TERN_EIO (absent queue). */
tern_result virtio_queue_setup(struct metal *m, struct metal_virtio *v, struct metal_vq *q,
                               uint16_t idx, uint16_t max);
/* Sets up MSI-X for nq queues (or polling) and DRIVER_OK. */
void virtio_driver_ok(struct metal *m, struct metal_virtio *v, unsigned nq);
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

tern_result virtio_net_init(struct metal *m, struct metal_net *n, struct metal_pci_dev *d);
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

tern_result virtio_blk_init(struct metal *m, struct metal_blk *b, struct metal_pci_dev *d);
tern_result virtio_blk_rw(struct metal *m, struct metal_blk *b, bool write, uint64_t lba,
                          void *buf, uint32_t count);
tern_result virtio_blk_flush(struct metal *m, struct metal_blk *b);

tern_result virtio_rng_init(struct metal *m, struct metal_rng *r, struct metal_pci_dev *d);
tern_result virtio_rng_read(struct metal *m, struct metal_rng *r, void *buf, size_t len);

#endif
