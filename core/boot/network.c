/*
 * Interface: see include/tern/boot_net.h. The network bring-up of a boot:
 * the stack with TCP, the address (static or DHCP), the DNS servers and
 * the hostname, by one rule for every backend.
 */
#include <string.h>

#include "tern/boot_net.h"
#include "tern/os.h"

void tern_boot_net_address(const struct tern_manifest *m, uint32_t cli_ip, uint32_t cli_mask,
                           uint32_t cli_gw, uint32_t *ip, uint32_t *mask, uint32_t *gw)
{
    *ip = cli_ip;
    *mask = cli_mask;
    *gw = cli_gw;
    if (cli_ip != 0 || m == NULL || m->network.mode != TERN_MANIFEST_NET_STATIC)
        return;
    const struct tern_manifest_network *mn = &m->network;
    *ip = mn->address;
    *mask = mn->prefix_len ? ~0u << (32 - mn->prefix_len) : 0;
    *gw = mn->gateway;
}

unsigned tern_boot_net_dns(const struct tern_boot_net *bn, uint32_t *out)
{
    const uint32_t *from = bn->dns;
    unsigned n = bn->dns_count;
    if (n == 0 && bn->dhcp.net != NULL && bn->dhcp.lease.dns_count > 0) {
        from = bn->dhcp.lease.dns;
        n = bn->dhcp.lease.dns_count;
    }
    if (n > TERN_BOOT_NET_DNS_MAX)
        n = TERN_BOOT_NET_DNS_MAX;
    memcpy(out, from, n * sizeof *out);
    return n;
}

const char *tern_boot_net_hostname(const struct tern_boot_net *bn)
{
    return bn->hostname[0] ? bn->hostname : NULL;
}

static void address_up(struct tern_boot_net *bn, const struct tern_dhcp_msg *lease)
{
    bn->up = true;
    if (bn->on_up)
        bn->on_up(bn->arg, lease);
}

static void on_dhcp(struct tern_dhcp *d, enum tern_dhcp_event ev, void *arg)
{
    if (ev == TERN_DHCP_EV_BOUND)          /* a renewal keeps the address */
        address_up(arg, &d->lease);
}

/* The pool's block count: the command line's, else the manifest's, else
 * the backend's default. */
static void size_pool(struct tern_boot_net *bn, const struct tern_boot_net_opts *o,
                      struct tern_tcp_config *cfg)
{
    *cfg = o->tcp;
    bn->pool_from = "the default for this heap";
    if (o->tcp_conns) {
        cfg->max_conns = o->tcp_conns;
        bn->pool_from = o->tcp_conns_flag ? o->tcp_conns_flag : "the command line";
    } else if (o->manifest && o->manifest->resources.tcp_connections) {
        cfg->max_conns = o->manifest->resources.tcp_connections;
        bn->pool_from = "resources.tcp_connections";
    }
}

/* What the overlay and the manifest give: DNS servers and the hostname. */
static void take_names(struct tern_boot_net *bn, const struct tern_boot_net_opts *o)
{
    const struct tern_manifest_network *mn = o->manifest ? &o->manifest->network : NULL;
    const uint32_t *dns = o->dns;
    unsigned n = o->dns_count;
    if (n == 0 && mn && mn->mode == TERN_MANIFEST_NET_STATIC) {
        dns = mn->dns;
        n = mn->dns_count;
    }
    bn->dns_count = n > TERN_BOOT_NET_DNS_MAX ? TERN_BOOT_NET_DNS_MAX : n;
    memcpy(bn->dns, dns, bn->dns_count * sizeof *dns);
    if (mn && strlen(mn->hostname) < sizeof bn->hostname)
        memcpy(bn->hostname, mn->hostname, strlen(mn->hostname) + 1);
}

static tern_result failed(struct tern_boot_net *bn, tern_result r, const char *what)
{
    tern_log(bn->os, TERN_LOG_ERROR, "net", "%s: %s", what, tern_result_name(r));
    return r;
}

/* net0's address: static at once, or DHCP (TERN_NET_UP when bound). */
static tern_result configure(struct tern_boot_net *bn, const struct tern_boot_net_opts *o)
{
    uint32_t ip, mask, gw;
    tern_boot_net_address(o->manifest, o->ip, o->mask, o->gw, &ip, &mask, &gw);
    if (ip == 0) {
        struct tern_dhcp_opts dopts = { .hostname = bn->hostname };
        tern_result r = tern_dhcp_start_opts(&bn->dhcp, &bn->net, &dopts, on_dhcp, bn);
        if (r != TERN_OK) {
            bn->dhcp.net = NULL;
            return failed(bn, r, "DHCP failed to start");
        }
        return TERN_OK;
    }
    tern_result r = tern_net_set_addr(&bn->net, 0, ip, mask, gw);
    if (r != TERN_OK)
        return failed(bn, r, "cannot use that address");
    (void)tern_net_announce(&bn->net, 0, "static");
    address_up(bn, NULL);
    return TERN_OK;
}

tern_result tern_boot_net_start(struct tern_boot_net *bn, struct tern_os *os,
                                const struct tern_boot_net_opts *o)
{
    memset(bn, 0, sizeof *bn);
    bn->os = os;
    bn->on_up = o->on_up;
    bn->arg = o->arg;
    if (os->plat.ops->net_count(os->plat.ctx) == 0)
        return TERN_ENOENT;
    take_names(bn, o);
    struct tern_tcp_config cfg;
    size_pool(bn, o, &cfg);
    tern_result r = tern_net_init(&bn->net, os, NULL);
    if (r != TERN_OK)
        return failed(bn, r, "the network stack did not start");
    r = tern_net_attach_tcp(&bn->net, &bn->tcp, &cfg);
    if (r != TERN_OK) {
        tern_log(os, TERN_LOG_ERROR, "net", "no room for %u TCP control blocks (%s): %s",
                 (unsigned)cfg.max_conns, bn->pool_from, tern_result_name(r));
        return r;
    }
    tern_log(os, TERN_LOG_INFO, "net", "TCP pool %u control blocks (%s)",
             (unsigned)cfg.max_conns, bn->pool_from);
    if (bn->hostname[0])
        tern_log(os, TERN_LOG_INFO, "net", "hostname %s", bn->hostname);
    return configure(bn, o);
}
