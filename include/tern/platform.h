/*
 * Interface: the backend contract. It is the only thing a backend
 * implements (backends/linux, backends/baremetal, a simulator, an
 * embedder); everything else in Tern is core code written against it.
 *
 * A backend fills one `struct tern_platform_ops` (const, static storage),
 * TERN_PLATFORM_OPS_HEADER first, and hands the core a `struct
 * tern_platform` pairing those ops with its own context pointer. The core passes that context back as the first
 * argument of every call, so several instances with several backends can
 * live in one process.
 *
 * Rules that hold for every call:
 *  - No call blocks, except wait(). Block-device calls complete before they
 *    return (like Solo5's block API): they take device time, but never wait
 *    for an external event.
 *  - Results are tern_result codes; outputs go through pointers that the
 *    caller owns. A call writes its outputs only when it returns TERN_OK.
 *  - Buffers passed in are owned by the caller and are not retained after
 *    the call returns.
 *  - Device indices are dense, from 0 to count-1, stable for the life of
 *    the instance.
 *  - Members marked REQUIRED must be non-NULL; tern_os_init() refuses a
 *    platform that lacks one. OPTIONAL members may be NULL, which the core
 *    treats as "not provided" (TERN_ENOTSUP).
 *  - Versioning: the header records the contract the table was compiled
 *    against. A new major changes a member's meaning or place; a new minor
 *    only appends OPTIONAL members. tern_os_init() refuses a table without
 *    the magic, of another major, or smaller than the major's first minor
 *    (TERN_EVERSION), and reads a table of an older minor only as far as
 *    its size: the members it lacks count as NULL (docs/embedding.md).
 */
#ifndef TERN_PLATFORM_H
#define TERN_PLATFORM_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "tern/result.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

/* The contract's version and the header every ops table starts with. */
#define TERN_PLATFORM_ABI_MAJOR 1
#define TERN_PLATFORM_ABI_MINOR 0
#define TERN_PLATFORM_MAGIC 0x54504c54u /* "TLPT" */

struct tern_platform_ops_header {
    uint32_t magic;          /* TERN_PLATFORM_MAGIC */
    uint16_t abi_major;      /* TERN_PLATFORM_ABI_MAJOR the backend was built with */
    uint16_t abi_minor;      /* TERN_PLATFORM_ABI_MINOR likewise */
    uint32_t size;           /* sizeof(struct tern_platform_ops) likewise */
    uint32_t reserved;       /* 0 */
};

/* The first initializer of every ops table:
 *   static const struct tern_platform_ops ops = { TERN_PLATFORM_OPS_HEADER, .wait = ... }; */
#define TERN_PLATFORM_OPS_HEADER                                                      \
    .header = { TERN_PLATFORM_MAGIC, TERN_PLATFORM_ABI_MAJOR, TERN_PLATFORM_ABI_MINOR, \
                (uint32_t)sizeof(struct tern_platform_ops), 0 }

#define TERN_MAC_LEN 6

/* The inaccessible region below a stack_alloc stack. */
#define TERN_STACK_GUARD 4096u

/* Bits of the ready set that wait() reports. Bit i (0 <= i < 32) means
 * network device i has at least one received frame waiting. */
#define TERN_READY_NET(i)    ((uint64_t)1 << (i))
#define TERN_READY_NET_MASK  ((uint64_t)0xffffffffu)
/* An orderly shutdown was requested (SIGTERM/SIGINT, ACPI power button). */
#define TERN_READY_SHUTDOWN  ((uint64_t)1 << 63)

#define TERN_MAX_NET_DEVICES   32
#define TERN_MAX_BLOCK_DEVICES 16

/* Offloads a network device may announce in tern_net_info.offloads. The
 * model is virtio-net's per-frame header (struct virtio_net_hdr), which is
 * also what a Linux TAP carries with IFF_VNET_HDR: a backend for either
 * maps struct tern_net_meta to that header field by field. A device that
 * announces none (offloads == 0) is driven exactly as without this
 * extension: net_send/net_recv, whole checksummed frames of at most
 * mtu + 14 bytes. */
#define TERN_NET_OFFLOAD_TX_CSUM  0x01u /* completes a partial TCP/UDP checksum (NEEDS_CSUM) */
#define TERN_NET_OFFLOAD_TX_TSO4  0x02u /* cuts GSO_TCPV4 frames into gso_size segments;
                                         * needs TX_CSUM (VIRTIO_NET_F_HOST_TSO4) */
#define TERN_NET_OFFLOAD_RX_CSUM  0x04u /* receive metadata may vouch for the L4 checksum
                                         * (DATA_VALID) or leave it partial (NEEDS_CSUM) */
#define TERN_NET_OFFLOAD_RX_LARGE 0x08u /* may deliver coalesced GSO_TCPV4 frames of up to
                                         * TERN_NET_LARGE_FRAME bytes; needs RX_CSUM
                                         * (VIRTIO_NET_F_GUEST_TSO4) */

/* The largest frame any offload moves: an IPv4 packet of 65535 bytes plus
 * the 14-byte Ethernet header. */
#define TERN_NET_LARGE_FRAME (65535u + 14u)

#define TERN_NET_META_NEEDS_CSUM  0x01u /* sum [csum_start, end) into csum_start + csum_offset;
                                         * the field holds the pseudo-header sum */
#define TERN_NET_META_DATA_VALID  0x02u /* receive only: the L4 checksum was verified */

#define TERN_NET_GSO_NONE  0u
#define TERN_NET_GSO_TCPV4 1u

/* Per-frame metadata (virtio_net_hdr without num_buffers). All zero means
 * "an ordinary, fully checksummed frame". Offsets count from the first
 * byte of the Ethernet header. */
struct tern_net_meta {
    uint8_t flags;           /* TERN_NET_META_* */
    uint8_t gso_type;        /* TERN_NET_GSO_* */
    uint16_t hdr_len;        /* GSO: Ethernet + IPv4 + TCP header bytes */
    uint16_t gso_size;       /* GSO: TCP payload bytes per segment (the MSS) */
    uint16_t csum_start;     /* NEEDS_CSUM: where summing starts (the TCP/UDP header) */
    uint16_t csum_offset;    /* NEEDS_CSUM: the checksum field, from csum_start */
};

struct tern_net_info {
    uint8_t mac[TERN_MAC_LEN];
    uint16_t mtu;            /* largest IP packet; frames add a 14-byte header */
    char name[16];           /* backend's name for it: "slirp", "tap0", "virtio0" */
    uint32_t offloads;       /* TERN_NET_OFFLOAD_* bits; 0: none */
};

struct tern_block_info {
    uint32_t sector_size;    /* 512 or 4096 */
    uint64_t sector_count;
    bool read_only;
    char name[16];
};

struct tern_platform_ops {
    /* REQUIRED: TERN_PLATFORM_OPS_HEADER. */
    struct tern_platform_ops_header header;

    /* ---- time ---- */

    /* REQUIRED. Nanoseconds on a clock that never goes backwards and does
     * not jump; its zero is arbitrary (typically backend start). */
    uint64_t (*monotonic_ns)(void *ctx);

    /* OPTIONAL. Wall-clock time as nanoseconds since 1970-01-01 UTC.
     * Returns TERN_OK, or TERN_AGAIN when the time is not (yet) known. */
    tern_result (*wall_ns)(void *ctx, int64_t *out_ns);

    /* ---- console ---- */

    /* REQUIRED. Writes len bytes to the console (stdout, COM1). Never
     * fails from the core's point of view: a backend that cannot keep up
     * may drop bytes, but must write whole marker lines it accepted. */
    void (*console_write)(void *ctx, const char *buf, size_t len);

    /* ---- entropy ---- */

    /* REQUIRED. Fills buf with len bytes from a cryptographically secure
     * source. TERN_OK, or TERN_EIO when the source failed (the core
     * treats that as fatal for anything needing secrets). */
    tern_result (*entropy)(void *ctx, void *buf, size_t len);

    /* ---- network devices ---- */

    /* REQUIRED. Number of network devices (0..TERN_MAX_NET_DEVICES). */
    unsigned (*net_count)(void *ctx);

    /* OPTIONAL (required when net_count > 0). Describes device idx.
     * TERN_OK, or TERN_ENOENT for an idx out of range. */
    tern_result (*net_info)(void *ctx, unsigned idx, struct tern_net_info *out);

    /* OPTIONAL (required when net_count > 0). Sends one Ethernet frame
     * (destination MAC first, no FCS). The backend copies or finishes
     * with the frame before returning. TERN_OK; TERN_AGAIN when the
     * device's queue is full (the core drops or retries; it counts it);
     * TERN_EINVAL for a frame shorter than 14 bytes or longer than
     * mtu + 14; TERN_EIO when the device failed. */
    tern_result (*net_send)(void *ctx, unsigned idx, const void *frame, size_t len);

    /* OPTIONAL (required when net_count > 0). Takes the oldest received
     * frame of device idx into buf (cap bytes) and sets *out_len.
     * TERN_OK; TERN_AGAIN when nothing is waiting (and the device's ready
     * bit is clear until more arrives); TERN_EINVAL when the frame does
     * not fit (the frame is dropped). The core calls it until TERN_AGAIN
     * for every device whose ready bit wait() set. */
    tern_result (*net_recv)(void *ctx, unsigned idx, void *buf, size_t cap, size_t *out_len);

    /* OPTIONAL (required when a device announces TX_CSUM or TX_TSO4).
     * net_send with metadata: meta describes what the device must finish
     * (NEEDS_CSUM; GSO_TCPV4 with gso_size). The core sends only what
     * the device announced, and len may exceed mtu + 14 (up to
     * TERN_NET_LARGE_FRAME) only for GSO_TCPV4. Results as net_send, and
     * TERN_EINVAL for metadata the device did not announce or that does
     * not fit the frame. The core keeps using net_send for frames that
     * need nothing. */
    tern_result (*net_send_meta)(void *ctx, unsigned idx, const void *frame, size_t len,
                                 const struct tern_net_meta *meta);

    /* OPTIONAL (required when a device announces RX_CSUM or RX_LARGE).
     * net_recv that also fills *meta (all zero for an ordinary frame).
     * The core uses it instead of net_recv for such a device, with cap >=
     * TERN_NET_LARGE_FRAME when RX_LARGE was announced. DATA_VALID and
     * NEEDS_CSUM vouch that the L4 checksum need not be checked (a frame
     * from the host's own stack, as Linux treats CHECKSUM_PARTIAL). What
     * the metadata claims is still checked against the frame by the core:
     * it is input, not trust. Results as net_recv. */
    tern_result (*net_recv_meta)(void *ctx, unsigned idx, void *buf, size_t cap, size_t *out_len,
                                 struct tern_net_meta *meta);

    /* ---- block devices ---- */

    /* REQUIRED. Number of block devices (0..TERN_MAX_BLOCK_DEVICES). */
    unsigned (*block_count)(void *ctx);

    /* OPTIONAL (required when block_count > 0). Geometry of device idx.
     * TERN_OK or TERN_ENOENT. */
    tern_result (*block_info)(void *ctx, unsigned idx, struct tern_block_info *out);

    /* OPTIONAL (required when block_count > 0). Reads count sectors from
     * lba into buf (count * sector_size bytes). TERN_OK; TERN_EINVAL when
     * the range is outside the device; TERN_EIO on device failure. */
    tern_result (*block_read)(void *ctx, unsigned idx, uint64_t lba, void *buf, uint32_t count);

    /* OPTIONAL (required when block_count > 0). Writes count sectors at
     * lba. The data may sit in a volatile device cache until flush.
     * TERN_OK; TERN_EINVAL (range); TERN_EROFS; TERN_EIO. */
    tern_result (*block_write)(void *ctx, unsigned idx, uint64_t lba, const void *buf, uint32_t count);

    /* OPTIONAL (required when block_count > 0). Makes every completed
     * write of device idx durable. TERN_OK or TERN_EIO. */
    tern_result (*block_flush)(void *ctx, unsigned idx);

    /* ---- memory ---- */

    /* REQUIRED. The region the core may use as its heap: called once, at
     * init. The memory stays valid and exclusively the core's until the
     * instance is finished. *out_base is at least 64-byte aligned. TERN_OK
     * or TERN_ENOMEM. */
    tern_result (*heap_region)(void *ctx, void **out_base, size_t *out_size);

    /* OPTIONAL. Allocates size bytes (rounded up to pages) of read-write,
     * non-executable memory for code that is about to be loaded. TERN_OK,
     * TERN_ENOMEM, TERN_ENOTSUP. */
    tern_result (*exec_alloc)(void *ctx, size_t size, void **out);

    /* OPTIONAL. Makes [ptr, ptr+size) of an exec_alloc region read+execute
     * and never again writable (W^X). TERN_OK, TERN_EINVAL, TERN_ENOTSUP. */
    tern_result (*exec_seal)(void *ctx, void *ptr, size_t size);

    /* OPTIONAL. Returns an exec_alloc region. TERN_OK or TERN_EINVAL. */
    tern_result (*exec_free)(void *ctx, void *ptr, size_t size);

    /* OPTIONAL. Makes [ptr, ptr+size) of an exec_alloc region (ptr and
     * size page-aligned) read-only and non-executable until exec_free. The
     * app loader uses it for an app's read-only data and, once relocated,
     * its RELRO range; without it those pages stay read-write (never
     * executable). TERN_OK, TERN_EINVAL. */
    tern_result (*exec_readonly)(void *ctx, void *ptr, size_t size);

    /* OPTIONAL. A thread stack: size bytes (a multiple of 4096) of
     * read-write, non-executable memory at *out, with the TERN_STACK_GUARD
     * bytes just below it faulting on any access, so a thread that runs
     * off its stack stops at the guard instead of writing over other
     * memory (a frame larger than the guard can still jump past it).
     * TERN_OK, TERN_ENOMEM. Without it, or when it fails, the core takes
     * stacks from the heap with only a canary, checked at each switch. */
    tern_result (*stack_alloc)(void *ctx, size_t size, void **out);

    /* OPTIONAL (required with stack_alloc). Returns a stack_alloc stack
     * (the same size). */
    void (*stack_free)(void *ctx, void *stack, size_t size);

    /* ---- waiting ---- */

    /* REQUIRED. The only call that blocks: sleeps until monotonic_ns() >=
     * deadline_ns or until I/O is ready, whichever comes first, and
     * reports in *ready the TERN_READY_* bits that are set (0 when the
     * deadline passed). deadline_ns == 0 polls without sleeping;
     * UINT64_MAX waits for I/O alone. A bit stays set in later waits until
     * the condition is consumed (net_recv returns TERN_AGAIN); the
     * shutdown bit is reported once. */
    void (*wait)(void *ctx, uint64_t deadline_ns, uint64_t *ready);

    /* ---- end ---- */

    /* REQUIRED. Called after the core printed a TERN_PANIC line; stops the
     * machine (or the process) with a failure status. Must not return. */
    void (*panic)(void *ctx, const char *reason) __attribute__((noreturn));

    /* A short name for markers: "linux", "baremetal", "sim". */
    const char *name;

    /* Members of later minors are appended here, OPTIONAL. */
};

/* The size of a major-1 table at its first minor: the least tern_os_init()
 * accepts. */
#define TERN_PLATFORM_OPS_MIN_SIZE \
    (offsetof(struct tern_platform_ops, name) + sizeof(const char *))

struct tern_platform {
    const struct tern_platform_ops *ops;
    void *ctx;
};

TERN_END_DECLS

#endif
