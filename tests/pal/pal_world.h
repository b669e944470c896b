/*
 * Interface: a test world for the PAL. Up to two Tern instances ("nodes"),
 * each a whole struct tern_os on its own sim platform (virtual time) with
 * one simulated network device, the real IPv4 stack, TCP and a DNS
 * resolver; the two devices are joined by a perfect Ethernet link (a frame
 * one node sends is received by the other on the next step). An app is a
 * C function run as the node's PAL app (tern_pal_app_init +
 * tern_pal_app_start), no ELF loader involved.
 *
 *   struct pal_world *w = pw_new(2, true);
 *   pw_start(w->node[0], server_main, NULL);
 *   pw_run(w, pw_all_exited, w, 10 * PW_S);
 *   pw_finish(w->node[0]);          // leak check: heap back to its baseline
 *   pw_free(w);
 */
#ifndef TERN_TEST_PAL_WORLD_H
#define TERN_TEST_PAL_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim_platform.h"
#include "tern/dns.h"
#include "tern/inet.h"
#include "tern/net.h"
#include "tern/os.h"
#include "tern/pal_host.h"
#include "tern/tcp.h"

#define PW_MS 1000000ull
#define PW_S 1000000000ull
#define PW_FRAMES 256
#define PW_FRAME_CAP 1600

struct pw_frame {
    size_t len;
    uint8_t data[PW_FRAME_CAP];
};

struct pw_node {
    struct sim_platform sim;         /* first: the platform ops' ctx points here */
    struct tern_platform_ops ops;
    struct pal_world *w;
    unsigned idx;
    uint32_t addr;                   /* 192.0.2.(1 + idx) */
    uint8_t mac[TERN_MAC_LEN];
    struct pw_frame *rx;             /* queued for net_recv */
    unsigned rx_head, rx_count;
    uint64_t tx_dropped;
    uint64_t tx_frames;              /* frames this node put on the link */
    bool with_net;
    struct tern_os os;
    struct tern_net net;
    struct tern_tcp tcp;
    struct tern_dns dns;
    struct tern_pal_config cfg;
    struct tern_pal_app app;
    bool app_inited, exited;
    size_t heap_baseline;            /* in_use before the app was set up */
};

struct pal_world {
    unsigned n;
    struct pw_node *node[2];
    uint64_t now;
};

/* A world of n (1 or 2) nodes; with_net gives each a device, the stack,
 * TCP (16 connections, 16 KiB buffers) and DNS (no servers). */
struct pal_world *pw_new(unsigned n, bool with_net);
/* The same with tcp_cfg for every node's TCP (NULL: the above). */
struct pal_world *pw_new_tcp(unsigned n, bool with_net, const struct tern_tcp_config *tcp_cfg);
void pw_free(struct pal_world *w);

/* Sets the node's PAL config up with defaults (512 KiB arena, 4 threads,
 * 64 KiB stacks, net/tcp/dns when the node has them, no mounts); the test
 * may change node->cfg before pw_start. */
void pw_config(struct pw_node *node);

/* tern_pal_app_init with node->cfg and tern_pal_app_start with entry;
 * fails the test on refusal. */
void pw_start(struct pw_node *node, tern_app_entry_fn entry);

/* Steps every node, moving frames and virtual time, until done(arg) or
 * the clock passes now + max_ns or nothing is left to happen. Returns
 * done(arg). */
bool pw_run(struct pal_world *w, bool (*done)(void *arg), void *arg, uint64_t max_ns);

/* Runs for ns of virtual time. */
void pw_advance(struct pal_world *w, uint64_t ns);

/* done() helpers: every started app has exited / node 0's app has. */
bool pw_all_exited(void *world);

/* tern_pal_app_finish, then asserts the instance heap is back where it
 * was before tern_pal_app_init. */
void pw_finish(struct pw_node *node);

#endif
