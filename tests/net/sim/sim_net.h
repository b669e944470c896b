/*
 * Interface: a deterministic network of TCP instances for tests. Each node
 * is a whole struct tern_os on its own sim platform with a struct tern_tcp
 * on top; nodes are joined through tern_tcp_lower.output by one-way links
 * with seeded loss, duplication, reordering, delay and a bandwidth limit.
 * Everything runs on one virtual clock that jumps to the next event, so a
 * run depends only on the seed: a failing seed reproduces exactly.
 *
 *   struct sim_net *net = sim_net_new(seed);
 *   struct sim_node *a = sim_net_add_node(net, TERN_IPV4(192,0,2,1), &tcp_cfg);
 *   ... sim_net_set_link(net, a, b, &params) ...
 *   sim_net_run(net, done_fn, arg, max_ns);
 *   sim_net_free(net);
 */
#ifndef TERN_SIM_NET_H
#define TERN_SIM_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "sim_platform.h"
#include "tern/os.h"
#include "tern/tcp.h"

#define SIM_MAX_NODES 4

struct sim_link_params {
    uint32_t loss_ppm, dup_ppm, reorder_ppm; /* per million packets */
    uint64_t delay_ns;                       /* one-way propagation */
    uint64_t reorder_extra_ns;               /* up to this much more when reordered */
    uint64_t bandwidth_bps;                  /* 0: unlimited */
    uint32_t queue_max;                      /* packets in flight on the link (tail drop) */
    uint16_t mtu;
    uint16_t reported_mtu;  /* what path_mtu() says (0: mtu); lets PMTU discovery be tested */
    bool icmp_too_big;      /* oversize packets are dropped with an ICMP "fragmentation
                             * needed" back to the sender (else the sim aborts on them) */
};

struct sim_link {
    struct sim_link_params p;
    uint64_t busy_until;
    uint32_t queued;
    uint64_t sent, lost, duplicated, reordered, tail_dropped, too_big;
};

struct sim_node {
    struct sim_net *net;
    unsigned idx;
    uint32_t addr;
    struct sim_platform plat;
    struct tern_os os;
    struct tern_tcp tcp;
    struct tern_heap_stats heap_after_init;
};

struct sim_pkt;

struct sim_net {
    uint64_t now;
    uint64_t rng;
    unsigned nnodes;
    struct sim_node *nodes[SIM_MAX_NODES];
    struct sim_link links[SIM_MAX_NODES][SIM_MAX_NODES];
    struct sim_pkt **heap; /* packets in flight, earliest first */
    uint32_t npkts, cap;
    uint64_t pkt_seq;
    uint64_t delivered;
    /* optional tap: sees every segment as it is delivered; return false to drop it */
    bool (*tap)(void *arg, unsigned from, unsigned to, uint8_t *seg, size_t len);
    void *tap_arg;
    /* TSO: nodes added while tso is true get an offloading lower layer
     * (tso_max/output_tso) that acts as referee: it cuts every TSO
     * segment in software as a NIC or the Linux kernel would, checks the
     * frame (partial checksum = pseudo-header sum, gso size within the
     * path MTU, no SYN/RST) and every piece (within the MTU, checksum
     * right by an independent RFC 1071 sum, sequence numbers contiguous,
     * FIN/PSH only on the last piece, CWR only on the first), and sends
     * the pieces over the link like ordinary segments. Every 7th tso_max
     * call says "no offload now" so both paths mix in one connection.
     * Those nodes also offload checksums (output_partial): every other
     * segment's partial sum is checked and completed the same way. */
    bool tso;
    uint64_t tso_frames, tso_pieces, tso_max_calls, partial_segments;
    uint64_t referee_errors;
    char referee_why[160];
};

struct sim_net *sim_net_new(uint64_t seed);
void sim_net_free(struct sim_net *net);

/* A node with its own instance (heap_size bytes of heap) and TCP. */
struct sim_node *sim_net_add_node(struct sim_net *net, uint32_t addr, size_t heap_size,
                                  const struct tern_tcp_config *cfg);

/* Sets the link from a to b (one way). Defaults: perfect, 1 ms, 1500 MTU. */
void sim_net_set_link(struct sim_net *net, struct sim_node *a, struct sim_node *b,
                      const struct sim_link_params *p);

/* Runs until done(arg) is true (returns true) or the virtual clock would
 * pass deadline_ns or nothing is left to happen (returns false). */
bool sim_net_run(struct sim_net *net, bool (*done)(void *arg), void *arg, uint64_t deadline_ns);

/* Runs for ns of virtual time. */
void sim_net_advance(struct sim_net *net, uint64_t ns);

uint64_t sim_rand(uint64_t *state);

#endif
