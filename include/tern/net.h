/*
 * Interface: the IPv4 network stack of one Tern instance (everything but
 * TCP, which lives in tcp.h and plugs in through the TCP seam below).
 *
 *   struct tern_net net;                      // caller-owned, e.g. static
 *   struct tern_net_config cfg;
 *   tern_net_config_default(&cfg);
 *   tern_net_init(&net, &os, &cfg);           // one netif per platform device
 *   tern_net_set_addr(&net, 0, ip, mask, gw); // static, or via DHCP
 *   ... tern_os_run(&os) ...                  // the poller drains devices
 *
 * Rules:
 *  - Every table and buffer is carved from the instance heap at init and
 *    never grows: packet buffers (pbufs) come from one fixed pool; ARP
 *    entries, reassembly slots and UDP sockets from fixed arrays.
 *    Overload means counted drops and TERN_AGAIN, never growth.
 *  - Bad input is counted (one named counter per drop reason, see
 *    TERN_NET_COUNTERS) and dropped; it is never asserted on.
 *  - tern_net_input() never keeps the frame it is given: whatever must
 *    outlive the call (a packet waiting for ARP, a datagram queued on a
 *    socket) is copied into a pbuf.
 *  - Addresses are host-order uint32_t (see inet.h); ports host order.
 *  - Everything runs on the instance loop; nothing blocks.
 */
#ifndef TERN_NET_H
#define TERN_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/list.h"
#include "tern/os.h"
#include "tern/platform.h"
#include "tern/result.h"
#include "tern/timer.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

#define TERN_ETH_HLEN 14
#define TERN_IPV4_HLEN 20
#define TERN_UDP_HLEN 8
#define TERN_NET_MAX_IFS 8
#define TERN_PMTU_ENTRIES 16
#define TERN_PMTU_MIN 552            /* smallest PMTU accepted from ICMP (as Linux) */

#define TERN_IP_PROTO_ICMP 1
#define TERN_IP_PROTO_TCP 6
#define TERN_IP_PROTO_UDP 17

/* One counter per event and per drop reason. X(name, "what it counts"). */
#define TERN_NET_COUNTERS(X)                                                   \
    X(rx_frames, "frames received")                                            \
    X(rx_bytes, "bytes received")                                              \
    X(tx_frames, "frames sent")                                                \
    X(tx_bytes, "bytes sent")                                                  \
    X(rx_drop_oversize, "frames larger than the receive buffer")               \
    X(rx_drop_runt, "frames shorter than an Ethernet header")                  \
    X(rx_drop_not_for_us, "frames for another MAC address")                    \
    X(rx_drop_ethertype, "frames of an unsupported EtherType")                 \
    X(tx_drop_device_busy, "frames the device refused (queue full)")           \
    X(tx_drop_device_error, "frames the device failed to send")                \
    X(arp_rx, "ARP packets received")                                          \
    X(arp_drop_malformed, "ARP packets with bad length, types or sizes")       \
    X(arp_drop_bad_sender, "ARP packets with a bogus sender")                  \
    X(arp_requests_sent, "ARP requests sent (incl. retries, gratuitous)")      \
    X(arp_replies_sent, "ARP replies sent")                                    \
    X(arp_drop_unresolved, "packets dropped: no ARP answer after retries")    \
    X(arp_drop_queue_full, "packets dropped: ARP wait queue full")             \
    X(arp_drop_table_full, "packets dropped: every ARP entry busy")            \
    X(arp_expired, "ARP entries aged out")                                     \
    X(ip_rx, "IPv4 packets received")                                          \
    X(ip_drop_short, "IPv4 packets shorter than a header")                     \
    X(ip_drop_version, "IPv4 packets with version != 4")                       \
    X(ip_drop_hlen, "IPv4 packets with a bad header length")                   \
    X(ip_drop_len, "IPv4 packets whose total length disagrees with the frame") \
    X(ip_drop_checksum, "IPv4 packets with a bad header checksum")             \
    X(ip_drop_bad_src, "IPv4 packets from a broadcast/multicast/own source")   \
    X(ip_drop_not_for_us, "IPv4 packets for another address")                  \
    X(ip_drop_proto, "IPv4 packets of an unsupported protocol")                \
    X(frag_rx, "IPv4 fragments received")                                      \
    X(frag_reassembled, "datagrams reassembled")                               \
    X(frag_drop_bad, "fragments with a bad offset or length")                  \
    X(frag_drop_too_big, "fragments past the reassembly size limit")           \
    X(frag_drop_overlap, "datagrams dropped: overlapping fragments")           \
    X(frag_drop_no_slot, "fragments dropped: every reassembly slot busy")      \
    X(frag_timeout, "datagrams dropped: reassembly timed out")                 \
    X(ip_tx, "IPv4 packets sent (before fragmentation)")                       \
    X(ip_tx_fragments, "IPv4 fragments sent")                                  \
    X(ip_tx_drop_no_route, "packets with no route or no source address")       \
    X(ip_tx_drop_no_pbuf, "packets dropped: pbuf pool empty")                  \
    X(ip_tx_drop_too_big, "packets larger than the MTU with DF set")           \
    X(icmp_rx, "ICMP messages received")                                       \
    X(icmp_drop_short, "ICMP messages too short")                              \
    X(icmp_drop_checksum, "ICMP messages with a bad checksum")                 \
    X(icmp_drop_type, "ICMP messages of an ignored type")                      \
    X(icmp_drop_bad_quote, "ICMP errors quoting a bad or foreign header")      \
    X(icmp_echo_replies, "echo replies sent")                                  \
    X(icmp_unreach_rx, "destination-unreachable messages received")            \
    X(icmp_pmtu_updates, "path MTU lowered by fragmentation-needed")           \
    X(icmp_unreach_sent, "port-unreachable messages sent")                     \
    X(icmp_rate_limited, "ICMP errors not sent (rate limit)")                  \
    X(udp_rx, "UDP datagrams received")                                        \
    X(udp_drop_short, "UDP datagrams shorter than a header")                   \
    X(udp_drop_len, "UDP datagrams whose length disagrees with IP")            \
    X(udp_drop_checksum, "UDP datagrams with a bad checksum")                  \
    X(udp_drop_no_port, "UDP datagrams for a closed port")                     \
    X(udp_drop_queue_full, "UDP datagrams dropped: socket queue full")         \
    X(udp_drop_no_pbuf, "UDP datagrams dropped: pbuf pool empty")              \
    X(udp_drop_too_big, "UDP datagrams larger than a pbuf")                    \
    X(tcp_rx, "TCP segments handed to TCP")                                    \
    X(tcp_drop_no_handler, "TCP segments with no TCP module attached")         \
    X(rx_large_frames, "coalesced (GSO) frames received from an offloading device") \
    X(rx_csum_vouched, "frames whose L4 checksum the device vouched for")     \
    X(rx_drop_bad_meta, "frames whose metadata was not announced or is wrong") \
    X(tx_csum_offloaded, "frames whose TCP checksum the device completes")    \
    X(tx_tso_frames, "TSO frames handed to the device (up to 64 KiB each)")    \
    X(tx_tso_segments, "wire segments those TSO frames stand for")

struct tern_net_counters {
#define TERN_NET_COUNTER_FIELD(name, doc) uint64_t name;
    TERN_NET_COUNTERS(TERN_NET_COUNTER_FIELD)
#undef TERN_NET_COUNTER_FIELD
};

struct tern_net_config {
    uint32_t pbufs;              /* packet buffers in the pool (default 256) */
    uint32_t arp_entries;        /* ARP cache entries per interface (64) */
    uint32_t arp_queue;          /* packets waiting per unresolved entry (4) */
    uint32_t arp_reachable_ms;   /* lifetime of a resolved entry (60000) */
    uint32_t arp_retry_ms;       /* between requests (1000) */
    uint32_t arp_tries;          /* requests before giving up (3) */
    uint32_t reasm_slots;        /* datagrams reassembled at once (4) */
    uint32_t reasm_max_bytes;    /* largest reassembled payload (65515) */
    uint32_t reasm_timeout_ms;   /* per datagram (30000) */
    uint32_t udp_sockets;        /* (16) */
    uint32_t udp_queue;          /* datagrams queued per socket (16) */
    uint32_t icmp_errors_per_s;  /* rate limit of ICMP errors we send (20) */
    uint32_t pmtu_lifetime_ms;   /* a lowered PMTU reverts after (600000) */
    uint8_t ttl;                 /* for packets we send (64) */
};

/* Fills cfg with the defaults noted above. */
void tern_net_config_default(struct tern_net_config *cfg);

/* A packet buffer: len bytes at data + off; cap bytes in all. Owned by
 * exactly one holder (a queue or the code building a packet). */
struct tern_pbuf {
    struct tern_list_node link;
    uint8_t *data;
    uint16_t off, len, cap;
    uint16_t port;               /* UDP queue: source port */
    uint32_t addr;               /* UDP queue: source address; ARP queue: next hop */
    uint32_t to;                 /* UDP queue: destination address */
    uint8_t netif;               /* UDP queue: the interface it came in on */
    uint16_t csum_start;         /* nonzero: the device completes the L4 checksum */
    uint16_t csum_offset;        /* (NEEDS_CSUM, offsets as in tern_net_meta) */
};

struct tern_pbuf_pool {
    struct tern_pbuf *bufs;
    uint8_t *storage;
    struct tern_list free;
    uint32_t total, available, low_water;
    uint16_t buf_size;
};

enum tern_arp_state { TERN_ARP_FREE = 0, TERN_ARP_PENDING, TERN_ARP_RESOLVED };

struct tern_arp_entry {
    uint32_t ip;
    uint8_t mac[TERN_MAC_LEN];
    uint8_t state;               /* enum tern_arp_state */
    uint8_t tries;               /* requests sent while pending */
    uint64_t deadline_ms;        /* pending: next retry; resolved: expiry */
    struct tern_list queue;      /* pbufs (whole frames) waiting for the MAC */
    uint32_t queued;
};

struct tern_net;

struct tern_netif {
    struct tern_net *net;
    unsigned dev;                /* platform device index */
    uint8_t mac[TERN_MAC_LEN];
    uint16_t mtu;                /* IP MTU */
    uint32_t offloads;           /* TERN_NET_OFFLOAD_* the device announced (and we use) */
    char name[16];               /* "net0" */
    bool configured;             /* has an address */
    uint32_t addr, mask, gw;     /* gw 0: none */
    struct tern_arp_entry *arp;
    uint32_t arp_count;
};

struct tern_reasm_slot {
    bool used;
    uint32_t src, dst;
    uint16_t id;
    uint8_t proto;
    uint8_t netif;
    uint32_t total;              /* payload length once the last fragment came, else 0 */
    uint32_t received;           /* payload bytes held */
    uint64_t deadline_ms;
    uint8_t hdr[60];             /* header of the first fragment */
    uint8_t hlen;                /* 0 until the first fragment came */
    uint8_t *buf;                /* reasm_max_bytes */
    uint8_t *map;                /* one bit per 8-byte unit received */
};

struct tern_pmtu_entry {
    uint32_t dst;
    uint16_t mtu;                /* 0: free */
    uint64_t expires_ms;
};

struct tern_udp_sock;
/* Called from the loop when a datagram was queued on sock. */
typedef void (*tern_udp_readable_fn)(struct tern_udp_sock *sock, void *arg);

struct tern_udp_sock {
    struct tern_net *net;
    bool used;
    uint16_t port;
    struct tern_list rxq;        /* pbufs holding payloads */
    uint32_t queued;
    uint64_t drops;              /* datagrams this socket lost (queue full) */
    tern_udp_readable_fn on_readable;
    void *arg;
};

/* The TCP seam, IP side. TCP calls these through its struct tern_tcp_lower
 * (ctx = the struct tern_net); IP calls the hooks set below. */
typedef void (*tern_net_tcp_input_fn)(void *arg, uint32_t src, uint32_t dst,
                                      const void *segment, size_t len, bool csum_valid);
typedef void (*tern_net_tcp_icmp_fn)(void *arg, uint8_t type, uint8_t code, uint16_t next_mtu,
                                     const void *orig_ip_header_and_8_bytes, size_t len);

struct tern_net {
    struct tern_os *os;
    struct tern_net_config cfg;
    struct tern_net_counters ctr;
    struct tern_pbuf_pool pool;
    struct tern_netif ifs[TERN_NET_MAX_IFS];
    unsigned if_count;
    struct tern_reasm_slot *reasm;
    struct tern_udp_sock *udp;
    uint16_t next_ephemeral;
    uint16_t ip_id;
    struct tern_pmtu_entry pmtu[TERN_PMTU_ENTRIES];
    uint64_t icmp_bucket_ms;     /* start of the current rate-limit second */
    uint32_t icmp_bucket_used;
    uint8_t *rx_buf;             /* one received frame at a time (TERN_NET_LARGE_FRAME
                                  * when a device announced RX_LARGE) */
    size_t rx_cap;
    uint8_t *tso_buf;            /* one outgoing TSO frame, when a device has TX_TSO4 */
    struct tern_poller poller;
    struct tern_timer tick;      /* ARP retries/aging, reassembly timeouts */
    tern_net_tcp_input_fn tcp_input;
    tern_net_tcp_icmp_fn tcp_icmp;
    void *tcp_arg;
};

/* Sets up net on os: one netif per platform net device (named net0..),
 * the pools and tables of cfg (NULL: defaults), and a poller for the
 * devices' ready bits. Interfaces start unconfigured. TERN_OK;
 * TERN_EINVAL (bad cfg, more devices than TERN_NET_MAX_IFS, a device
 * whose info fails or whose MTU is < 576); TERN_ENOMEM (heap too small). */
tern_result tern_net_init(struct tern_net *net, struct tern_os *os,
                          const struct tern_net_config *cfg);

/* Sets the address of interface ifidx (mask in host order, gw 0 for
 * none; gw must be on-link) and sends a gratuitous ARP. addr 0
 * unconfigures it. TERN_OK, TERN_ENOENT (no such interface), TERN_EINVAL. */
tern_result tern_net_set_addr(struct tern_net *net, unsigned ifidx, uint32_t addr,
                              uint32_t mask, uint32_t gw);

/* Handles one received Ethernet frame of interface ifidx (the poller
 * calls it; tests and embedders may too). The frame is not retained. */
void tern_net_input(struct tern_net *net, unsigned ifidx, const void *frame, size_t len);

/* tern_net_input with the device's metadata (NULL: none). The metadata is
 * checked with tern_net_meta_check against the offloads the interface
 * announced; a frame longer than mtu + 14 is taken only as GSO_TCPV4 from
 * an RX_LARGE device. Refusals count rx_drop_bad_meta / rx_drop_oversize. */
void tern_net_input_meta(struct tern_net *net, unsigned ifidx, const void *frame, size_t len,
                         const struct tern_net_meta *meta);

/* ---- offload metadata (offload.c) ---- */

/* Checks received metadata against the frame and the offloads the device
 * announced (TERN_NET_OFFLOAD_RX_*): known flags and gso_type only; any
 * metadata needs RX_CSUM, GSO_TCPV4 needs RX_LARGE and an IPv4/TCP frame
 * with gso_size > 0; NEEDS_CSUM must point exactly at the TCP (offset 16)
 * or UDP (offset 6) checksum of the IPv4 packet. TERN_OK or TERN_EINVAL. */
tern_result tern_net_meta_check(const uint8_t *frame, size_t len, const struct tern_net_meta *meta,
                                uint32_t offloads);

/* virtio_net_hdr: the per-frame header both a virtio-net device and a
 * Linux TAP with IFF_VNET_HDR carry, in its first 10 bytes (flags,
 * gso_type, hdr_len, gso_size, csum_start, csum_offset), little-endian as
 * virtio 1.x, a legacy device on x86 and a TAP after TUNSETVNETLE lay
 * it out. num_buffers (bytes 10-11 where the layout has them) is the
 * backend's. */
#define TERN_VNET_HDR_LEN 10

/* Writes meta (NULL: an ordinary frame, all zero) as a virtio_net_hdr. */
void tern_net_meta_to_vnet(uint8_t out[TERN_VNET_HDR_LEN], const struct tern_net_meta *meta);

/* Reads a virtio_net_hdr as metadata. Flags and GSO types the model lacks
 * (RSC_INFO, ECN, UDP, TCPv6) become values tern_net_meta_check refuses. */
void tern_net_meta_from_vnet(struct tern_net_meta *meta, const uint8_t in[TERN_VNET_HDR_LEN]);

/* For a backend whose caller asked for plain frames (net_recv) but whose
 * device handed one with NEEDS_CSUM: completes the checksum in place, as
 * a device without the offload would have (the field holds the
 * pseudo-header sum; Ethernet padding past the IPv4 packet is not
 * summed). Nothing is written when the offsets lie outside the frame. */
void tern_net_finish_csum(uint8_t *frame, size_t len, const struct tern_net_meta *meta);

/* The offloads in o (TERN_NET_OFFLOAD_*) as words for logs and /status:
 * "tx-csum tso rx-csum rx-large", each only when set; "" for none. out
 * holds cap >= 32 bytes. */
void tern_net_offload_words(uint32_t offloads, char *out, size_t cap);

/* Called with every frame tern_net_gso_segment builds (n bytes at f). */
typedef void (*tern_net_emit_fn)(void *arg, const uint8_t *f, size_t n);

/* Does in software what the device does with frame + meta, as a NIC or
 * the Linux kernel would: completes a NEEDS_CSUM checksum and cuts a
 * GSO_TCPV4 frame into gso_size-byte segments (each with the headers
 * copied, IP total length, id + k and header checksum, TCP sequence
 * advanced, FIN and PSH on the last segment only, CWR on the first only,
 * full TCP checksum). Each result is built in out (cap bytes, at least
 * hdr + gso_size) and passed to emit. A frame with no metadata is passed
 * through. Used where the wire image matters (pcap) and by devices that
 * lack the offload. TERN_OK; TERN_EINVAL (meta disagrees with the frame,
 * cap too small), with nothing emitted. */
tern_result tern_net_gso_segment(const uint8_t *frame, size_t len, const struct tern_net_meta *meta,
                                 uint8_t *out, size_t cap, tern_net_emit_fn emit, void *arg);

/* Prints the marker "TERN_NET_UP if=netN ip=A.B.C.D/N gw=A.B.C.D mtu=N
 * via=VIA" for a configured interface (gw 0.0.0.0 when none). TERN_OK,
 * TERN_ENOENT (no such interface), TERN_EINVAL (not configured). */
tern_result tern_net_announce(struct tern_net *net, unsigned ifidx, const char *via);

/* Name/value iteration over the counters, in TERN_NET_COUNTERS order:
 * i from 0; returns false past the end. */
bool tern_net_counter(const struct tern_net *net, unsigned i, const char **name,
                      uint64_t *value);

/* Pbufs free in the pool (for leak checks and /status). */
uint32_t tern_net_pbufs_free(const struct tern_net *net);

/* Sends an IPv4 packet carrying hdr (hlen bytes) then data (len bytes)
 * as payload of protocol proto from src (0: the route's interface
 * address) to dst, fragmenting unless df. TERN_OK (sent or queued for
 * ARP); TERN_ENOENT (no route/address); TERN_EINVAL (too big: > 65515,
 * or > MTU with df); TERN_AGAIN (no pbuf, ARP queue full). */
tern_result tern_net_ip_output(struct tern_net *net, uint32_t src, uint32_t dst, uint8_t proto,
                               bool df, const void *hdr, size_t hlen, const void *data,
                               size_t len);

/* The local address IPv4 sends from towards dst (that of the interface
 * the route picks), for callers that must name a source (TCP connect).
 * TERN_OK; TERN_ENOENT (no route, no address, dst 0 or broadcast). */
tern_result tern_net_source_addr(struct tern_net *net, uint32_t dst, uint32_t *out);

/* ---- TCP seam ---- */

/* Attaches TCP: input gets every protocol-6 packet addressed to us
 * (validated and reassembled; TCP checksum unchecked), icmp gets
 * unreachable / fragmentation-needed errors that quote TCP. NULLs detach. */
void tern_net_set_tcp_hooks(struct tern_net *net, tern_net_tcp_input_fn input,
                            tern_net_tcp_icmp_fn icmp, void *arg);

struct tern_tcp;
struct tern_tcp_config;

/* Initialises tcp (tern_tcp_init with cfg, NULL: defaults) with this
 * stack as its lower layer and attaches it with tern_net_set_tcp_hooks.
 * Returns what tern_tcp_init returns. */
tern_result tern_net_attach_tcp(struct tern_net *net, struct tern_tcp *tcp,
                                const struct tern_tcp_config *cfg);

/* struct tern_tcp_lower.output with ctx = net: one TCP segment with DF
 * set. TERN_OK; TERN_AGAIN (no buffer, ARP queue full); TERN_ENOENT (no
 * route); TERN_EINVAL (larger than the path MTU). */
tern_result tern_net_tcp_output(void *net, uint32_t src, uint32_t dst, const void *segment,
                                size_t len);

/* struct tern_tcp_lower.output_partial with ctx = net: tern_net_tcp_output
 * for a segment whose checksum field holds the folded pseudo-header sum.
 * A route through a TX_CSUM device sends it with NEEDS_CSUM (counted in
 * tx_csum_offloaded); any other route completes the checksum here. */
tern_result tern_net_tcp_output_partial(void *net, uint32_t src, uint32_t dst,
                                        const void *segment, size_t len);

/* struct tern_tcp_lower.path_mtu with ctx = net: the IP MTU towards dst
 * (the interface MTU, lowered by ICMP fragmentation-needed). */
uint16_t tern_net_path_mtu(void *net, uint32_t dst);

/* struct tern_tcp_lower.tso_max with ctx = net: the largest TCP segment
 * the route to dst can send as one TSO frame now (the interface has
 * TX_TSO4 and TX_CSUM, and the next hop's MAC is known), else 0. */
uint32_t tern_net_tso_max(void *net, uint32_t dst);

/* struct tern_tcp_lower.output_tso with ctx = net: one TSO frame (see
 * tcp.h) with DF set, the IP header checksum ours, the TCP checksum left
 * to the device. TERN_OK; TERN_AGAIN (device busy, MAC not known);
 * TERN_ENOENT (no route); TERN_EINVAL (too big, no offload on the route). */
tern_result tern_net_tcp_output_tso(void *net, uint32_t src, uint32_t dst, const void *segment,
                                    size_t len, uint16_t mss);

/* ---- UDP ---- */

/* Opens a socket bound to port (0: an ephemeral port) on every address.
 * on_readable (may be NULL) is called when a datagram is queued.
 * TERN_OK; TERN_EEXIST (port in use); TERN_ENOSPC (no free socket). */
tern_result tern_udp_open(struct tern_net *net, uint16_t port, tern_udp_readable_fn on_readable,
                          void *arg, struct tern_udp_sock **out);

/* Sends len bytes to dst:dport (255.255.255.255 goes out of interface 0,
 * from 0.0.0.0 when it has no address). Results as tern_net_ip_output. */
tern_result tern_udp_sendto(struct tern_udp_sock *sock, uint32_t dst, uint16_t dport,
                            const void *data, size_t len);

/* Takes the oldest queued datagram: copies min(cap, length) bytes to buf,
 * sets *out_len to its full length (larger than cap means truncated) and
 * its source (out pointers may be NULL). TERN_OK or TERN_AGAIN. */
tern_result tern_udp_recvfrom(struct tern_udp_sock *sock, void *buf, size_t cap,
                              size_t *out_len, uint32_t *out_src, uint16_t *out_sport);

/* Where a received datagram came from and how it reached us. */
struct tern_udp_from {
    uint32_t src;                /* source address (0.0.0.0 from a DHCP client) */
    uint16_t sport;
    uint32_t dst;                /* the address it was sent to: ours, or a broadcast */
    unsigned ifidx;              /* the interface it arrived on */
};

/* tern_udp_recvfrom that also says where the datagram arrived (from may
 * be NULL). TERN_OK or TERN_AGAIN. */
tern_result tern_udp_recvmsg(struct tern_udp_sock *sock, void *buf, size_t cap, size_t *out_len,
                             struct tern_udp_from *from);

/* Sends len bytes to dst:dport out of interface ifidx, from its address
 * (0.0.0.0 while it has none), to the link address mac (6 bytes; the
 * broadcast address for a broadcast), without routing or ARP: what a DHCP
 * server needs to answer a client that has no address yet (RFC 2131
 * 4.1). TERN_OK; TERN_ENOENT (no such interface); TERN_EINVAL (dport 0,
 * too big); TERN_AGAIN (no pbuf). */
tern_result tern_udp_sendto_link(struct tern_udp_sock *sock, unsigned ifidx, uint32_t dst,
                                 const uint8_t mac[TERN_MAC_LEN], uint16_t dport,
                                 const void *data, size_t len);

/* Closes sock and frees what it has queued. */
void tern_udp_close(struct tern_udp_sock *sock);

/* The local port of sock. */
uint16_t tern_udp_port(const struct tern_udp_sock *sock);

/* ---- diagnostics ---- */

/* A UDP echo service (RFC 862 over UDP): every datagram to port comes
 * back to its sender. Off unless started; the caller owns e. */
struct tern_udp_echo {
    struct tern_udp_sock *sock;
    uint64_t echoed, failed;
};

/* TERN_OK, or what tern_udp_open returns. */
tern_result tern_udp_echo_start(struct tern_udp_echo *e, struct tern_net *net, uint16_t port);

TERN_END_DECLS

#endif
