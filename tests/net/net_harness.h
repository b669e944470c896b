/*
 * Interface: a test platform with network devices on top of the sim
 * platform (virtual time, captured console). Frames the core sends are
 * captured in order; frames a test injects are delivered through the
 * real poller (net_recv) on the next step. Used by the net unit tests
 * and the fuzz harness.
 */
#ifndef TERN_NET_HARNESS_H
#define TERN_NET_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim_platform.h"
#include "tern/net.h"
#include "tern/os.h"

#define NH_MAX_FRAMES 128
#define NH_FRAME_CAP 9100

struct nh_frame {
    size_t len;
    struct tern_net_meta meta;     /* net_send_meta / net_recv_meta */
    uint8_t data[NH_FRAME_CAP];
};

struct net_harness {
    struct sim_platform sim;       /* first: the ops' ctx points here */
    struct tern_platform_ops ops;
    uint8_t mac[TERN_MAC_LEN];
    uint16_t mtu;
    struct nh_frame *sent;         /* NH_MAX_FRAMES, captured by net_send */
    unsigned sent_count;
    uint64_t sent_dropped;         /* beyond NH_MAX_FRAMES */
    struct nh_frame *rx;           /* NH_MAX_FRAMES queued for net_recv */
    unsigned rx_head, rx_count;
    uint32_t offloads;             /* announced in net_info (set before nh_init_offloads) */
    uint8_t *tso_frame;            /* the last frame net_send_meta took (64 KiB) */
    size_t tso_len;
    struct tern_net_meta tso_meta;
    unsigned meta_sent;            /* net_send_meta calls */
    struct tern_os os;
    struct tern_net net;
    size_t heap_baseline;          /* heap in_use right after tern_net_init */
};

/* Sets up an instance with one device (mac 02:00:00:00:00:01, mtu) and
 * its stack (cfg NULL: defaults). Returns 0 or -1. */
int nh_init(struct net_harness *h, uint16_t mtu, const struct tern_net_config *cfg);
/* nh_init with a device announcing offloads (TERN_NET_OFFLOAD_*) and
 * providing net_send_meta / net_recv_meta when with_calls. Returns 0, or
 * -1 when tern_net_init refused (*init_result says why). */
int nh_init_offloads(struct net_harness *h, uint16_t mtu, uint32_t offloads, bool with_calls,
                     tern_result *init_result);
/* The instance and its device only (h->net unused): for tests that start
 * a stack of their own on h->os. Returns 0 or -1. */
int nh_init_device(struct net_harness *h, uint16_t mtu);
void nh_close(struct net_harness *h);

/* Queues a frame for the device and runs one step (the poller drains it). */
void nh_inject(struct net_harness *h, const void *frame, size_t len);
/* The same with device metadata (net_recv_meta delivers it). */
void nh_inject_meta(struct net_harness *h, const void *frame, size_t len,
                    const struct tern_net_meta *meta);
/* Advances virtual time by ms and runs one step (timers fire). */
void nh_advance(struct net_harness *h, uint64_t ms);
/* Forgets the captured frames. */
void nh_clear_sent(struct net_harness *h);
/* The value of the named counter (fails the test when unknown). */
uint64_t nh_counter(const struct net_harness *h, const char *name);
/* True when the pools are all free and the heap is at its baseline. */
bool nh_at_baseline(const struct net_harness *h);

/* Frame builders (host-order addresses). Return the frame length. */
size_t nh_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type);
/* An IPv4 packet with a correct checksum: 20-byte header + payload. */
size_t nh_ipv4(uint8_t *f, const uint8_t *dst_mac, const uint8_t *src_mac, uint32_t src,
               uint32_t dst, uint8_t proto, uint16_t id, uint16_t frag, const void *payload,
               size_t len);
/* A UDP datagram in an IPv4 packet, checksum filled. */
size_t nh_udp(uint8_t *f, const uint8_t *dst_mac, const uint8_t *src_mac, uint32_t src,
              uint32_t dst, uint16_t sport, uint16_t dport, const void *data, size_t len);

extern const uint8_t nh_peer_mac[TERN_MAC_LEN];   /* 02:00:00:00:00:02 */
extern const uint8_t nh_our_mac[TERN_MAC_LEN];    /* 02:00:00:00:00:01 */
extern const uint8_t nh_bcast_mac[TERN_MAC_LEN];

#endif
