/*
 * Interface: bringing the network up at boot, once for every backend.
 * From the devices the platform has, the resolved manifest's network
 * section and resources.tcp_connections, and the command line's overlay,
 * tern_boot_net_start():
 *
 *   1. starts the stack on every device with TCP attached; the TCP pool
 *      is the command line's count, else the manifest's
 *      resources.tcp_connections, else the backend's own default (its
 *      tern_tcp_config, fitted to its share of the heap), and one line
 *      says which ("net: TCP pool N control blocks (FROM)");
 *   2. configures net0 by one rule (tern_boot_net_address): the command
 *      line's static address, else the manifest's, else DHCP, which sends
 *      the manifest's hostname (option 12). A static address prints
 *      TERN_NET_UP ... via=static at once, a lease TERN_NET_UP ... via=dhcp
 *      when it binds (docs/markers.md);
 *   3. calls on_up each time net0 gets an address: for a static one once,
 *      before tern_boot_net_start returns; for DHCP at each bind (the
 *      first lease, and a new one after a lease was lost; not at a
 *      renewal, which keeps the address), with the lease.
 *
 * DNS servers (tern_boot_net_dns): the command line's, else the
 * manifest's (static mode), else the lease's once there is one.
 *
 *   struct tern_boot_net bn;                       // caller-owned
 *   struct tern_boot_net_opts o = { .manifest = &m, .tcp = backend_cfg };
 *   if (tern_boot_net_start(&bn, os, &o) != TERN_OK) ...;
 *   // bn.net, bn.tcp: the stack services and the workload use
 */
#ifndef TERN_BOOT_NET_H
#define TERN_BOOT_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "tern/dhcp.h"
#include "tern/manifest.h"
#include "tern/net.h"
#include "tern/result.h"
#include "tern/tcp.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

struct tern_os;
struct tern_dhcp_server;
struct tern_fwd;

#define TERN_BOOT_NET_DNS_MAX 3

/* net0 has an address; lease is the DHCP lease, NULL for a static one. */
typedef void (*tern_boot_net_up_fn)(void *arg, const struct tern_dhcp_msg *lease);

struct tern_boot_net_opts {
    /* The resolved manifest (network and resources.tcp_connections), or
     * NULL when no workload runs: DHCP, no hostname, the default pool. */
    const struct tern_manifest *manifest;
    /* The command line's overlay, host order; 0 where not given. */
    uint32_t ip, mask, gw;                   /* a static address (ip != 0) */
    uint32_t dns[TERN_BOOT_NET_DNS_MAX];     /* DNS servers (dns_count of them) */
    unsigned dns_count;
    uint32_t tcp_conns;                      /* TCP control blocks */
    const char *tcp_conns_flag;              /* its name for the log ("--tcp-conns") */
    /* The backend's TCP pool: its buffers and its default block count,
     * fitted to its share of the heap (tern_tcp_config_fit). */
    struct tern_tcp_config tcp;
    tern_boot_net_up_fn on_up;               /* may be NULL */
    void *arg;
};

struct tern_boot_net {
    struct tern_os *os;
    struct tern_net net;
    struct tern_tcp tcp;
    struct tern_dhcp dhcp;                   /* dhcp.net != NULL: DHCP runs */
    uint32_t dns[TERN_BOOT_NET_DNS_MAX];     /* given: the command line's or the manifest's */
    unsigned dns_count;
    char hostname[TERN_DHCP_HOSTNAME_MAX + 1]; /* "" for none */
    const char *pool_from;                   /* where the TCP pool's size came from */
    bool up;                                 /* net0 has had an address */
    /* A DHCP server the backend runs on this stack, for /status (set by
     * the backend before the services start; NULL: none). */
    const struct tern_dhcp_server *dhcp_server;
    /* Port forwarding the backend runs on this stack, for /status (set
     * like dhcp_server; NULL: none). */
    const struct tern_fwd *forward;
    tern_boot_net_up_fn on_up;
    void *arg;
};

/* Brings the network up as above. TERN_OK: the stack runs (net0
 * configured or DHCP discovering); TERN_ENOENT: the platform has no
 * network device (nothing started, bn->net unusable); else what failed
 * (tern_net_init, tern_tcp_init: TERN_ENOMEM for a pool the heap cannot
 * hold; tern_net_set_addr; tern_dhcp_start), with an error line saying
 * what. */
tern_result tern_boot_net_start(struct tern_boot_net *bn, struct tern_os *os,
                                const struct tern_boot_net_opts *o);

/* The address rule, for backends that need the address before the
 * stack starts (slirp forwards to it): the command line's (cli_ip != 0)
 * wins, else the manifest's static one (m may be NULL), else none (*ip 0:
 * DHCP). Host order; the mask from the prefix. */
void tern_boot_net_address(const struct tern_manifest *m, uint32_t cli_ip, uint32_t cli_mask,
                           uint32_t cli_gw, uint32_t *ip, uint32_t *mask, uint32_t *gw);

/* The DNS servers to use now, into out (room for TERN_BOOT_NET_DNS_MAX):
 * the given ones, else the DHCP lease's. Their count (0: none yet). */
unsigned tern_boot_net_dns(const struct tern_boot_net *bn, uint32_t *out);

/* The hostname, or NULL when none was given. */
const char *tern_boot_net_hostname(const struct tern_boot_net *bn);

TERN_END_DECLS

#endif
