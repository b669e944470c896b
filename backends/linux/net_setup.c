/*
 * Interface: see net_setup.h (tern-linux's network options). Without
 * --net, tern-linux uses slirp; "--net none" runs without a network.
 * Addresses (core's rule, tern_boot_net_address): --ip A.B.C.D/N
 * [--gw A.B.C.D] configures net0 statically, else the manifest's static
 * address, else DHCP (slirp's built-in server hands out 192.0.2.15/24
 * with gateway 192.0.2.2). --dhcp-server serves DHCP on a static net0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux.h"
#include "net_setup.h"
#include "tern/inet.h"
#include "tern/net.h"
#include "tern/os.h"
#include "tern/tcp.h"

#define SLIRP_GUEST TERN_IPV4(192, 0, 2, 15)

void linux_net_usage(FILE *to)
{
    fprintf(to,
            "  --net slirp|tap:NAME[,offload=off]|wire:LOCAL,REMOTE|none\n"
            "                     a network device (repeatable; default slirp, restricted);\n"
            "                     a TAP offloads checksums and TCP segmentation (64 KiB\n"
            "                     per read/write, IFF_VNET_HDR) unless offload=off\n"
            "  --hostfwd tcp:127.0.0.1:HOSTPORT-:GUESTPORT\n"
            "                     forward a loopback TCP port to the guest (slirp; repeatable)\n"
            "  --ip A.B.C.D/N     static address of net0 (default: the manifest's network,\n"
            "                     else DHCP)\n"
            "  --gw A.B.C.D       default gateway for --ip\n"
            "  --pcap FILE        write every frame sent and received to a pcap file\n"
            "  --udp-echo PORT    diagnostic: echo UDP datagrams sent to PORT\n"
            "  --services LIST    diagnostic TCP services: echo (port 7), discard (port 9)\n"
            "  --dns A.B.C.D      DNS server of the app and --resolve (default: the manifest's\n"
            "                     network.dns, else the DHCP lease's)\n"
            "  --resolve NAME     diagnostic: resolve NAME once net0 is up and log the answer\n"
            "  --udp-probe A.B.C.D:PORT\n"
            "                     diagnostic: send UDP to PORT every second until it echoes\n"
            "  --tcp-send A.B.C.D:PORT:BYTES\n"
            "                     diagnostic: connect and send BYTES bytes of a fixed pattern\n"
            "  --tcp-sink PORT    diagnostic: accept on PORT and check that pattern\n"
            "  --tcp-conns N      TCP control blocks, listeners included (default: the manifest's\n"
            "                     resources.tcp_connections, else 1024, fewer when they would\n"
            "                     take more than half of --mem), taken from the --mem heap at\n"
            "                     start: N x 8.5 KiB (4 KiB buffers each way)\n"
            "  --tcp-buf KIB      largest TCP send and receive buffer of a connection, each\n"
            "                     (default: send 64, receive 256); buffers start at 4 KiB and\n"
            "                     grow for connections that move data, into a shared area of\n"
            "                     a quarter of --mem\n"
            "  --dhcp-server FIRST-LAST[,router=A.B.C.D][,dns=A.B.C.D[+...]][,domain=NAME]\n"
            "                [,lease=SECONDS][,leases=N]\n"
            "                     serve DHCP on net0 (which needs a static --ip) from the pool\n"
            "                     FIRST-LAST (default lease 3600 s, table of 256 leases)\n"
            "  --dhcp-lease-file FILE\n"
            "                     the DHCP server's leases: loaded at start, written after\n"
            "                     each change and at exit\n"
            "  --forward tcp:HOSTADDR:HOSTPORT-GUESTIP:GUESTPORT\n"
            "  --forward udp:HOSTADDR:HOSTPORT-GUESTIP:GUESTPORT\n"
            "                     listen on the host (IPv4; 127.0.0.1 keeps it local) and\n"
            "                     forward each connection or datagram through Tern's stack\n"
            "                     to GUESTIP:GUESTPORT on its network (repeatable, up to 16;\n"
            "                     64 connections at once, 16 KiB buffered each way, 5 min\n"
            "                     idle; 8 UDP peers, 30 s idle); docs/forwarding.md\n");
}

static int parse_cidr(const char *s, uint32_t *ip, uint32_t *mask)
{
    char buf[32];
    const char *slash = strchr(s, '/');
    if (slash == NULL || (size_t)(slash - s) >= sizeof(buf))
        return -1;
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = '\0';
    char *end;
    long n = strtol(slash + 1, &end, 10);
    if (*end != '\0' || slash[1] == '\0' || n < 1 || n > 32)
        return -1;
    if (tern_ipv4_parse(buf, ip) != TERN_OK)
        return -1;
    *mask = (uint32_t)(0xffffffffull << (32 - n));
    return 0;
}

int linux_net_opt(struct linux_net_opts *o, int code, const char *arg)
{
    switch (code) {
    case LINUX_NET_OPT_NET:
        if (o->dev_count == LINUX_NET_MAX_DEVS) {
            fprintf(stderr, "tern-linux: at most %d --net devices\n", LINUX_NET_MAX_DEVS);
            return -1;
        }
        o->devs[o->dev_count++] = arg;
        return 0;
    case LINUX_NET_OPT_HOSTFWD:
        if (o->hostfwd_count == sizeof(o->hostfwd) / sizeof(o->hostfwd[0])) {
            fprintf(stderr, "tern-linux: too many --hostfwd\n");
            return -1;
        }
        o->hostfwd[o->hostfwd_count++] = arg;
        return 0;
    case LINUX_NET_OPT_PCAP:
        o->pcap = arg;
        return 0;
    case LINUX_NET_OPT_IP:
        if (parse_cidr(arg, &o->ip, &o->mask) != 0) {
            fprintf(stderr, "tern-linux: --ip wants A.B.C.D/N, not '%s'\n", arg);
            return -1;
        }
        return 0;
    case LINUX_NET_OPT_GW:
        if (tern_ipv4_parse(arg, &o->gw) != TERN_OK) {
            fprintf(stderr, "tern-linux: --gw wants A.B.C.D, not '%s'\n", arg);
            return -1;
        }
        return 0;
    case LINUX_NET_OPT_UDP_ECHO: {
        char *end;
        long p = strtol(arg, &end, 10);
        if (*end != '\0' || p < 1 || p > 65535) {
            fprintf(stderr, "tern-linux: --udp-echo wants a port, not '%s'\n", arg);
            return -1;
        }
        o->udp_echo = (uint16_t)p;
        return 0;
    }
    case LINUX_NET_OPT_DNS:
        if (tern_ipv4_parse(arg, &o->dns) != TERN_OK) {
            fprintf(stderr, "tern-linux: --dns wants A.B.C.D, not '%s'\n", arg);
            return -1;
        }
        return 0;
    case LINUX_NET_OPT_RESOLVE:
        o->resolve = arg;
        return 0;
    case LINUX_NET_OPT_UDP_PROBE: {
        char host[32];
        const char *colon = strchr(arg, ':');
        char *end;
        long port = colon ? strtol(colon + 1, &end, 10) : 0;
        if (colon == NULL || (size_t)(colon - arg) >= sizeof(host) || *end != '\0' ||
            port < 1 || port > 65535) {
            fprintf(stderr, "tern-linux: --udp-probe wants A.B.C.D:PORT, not '%s'\n", arg);
            return -1;
        }
        memcpy(host, arg, (size_t)(colon - arg));
        host[colon - arg] = '\0';
        if (tern_ipv4_parse(host, &o->probe_ip) != TERN_OK) {
            fprintf(stderr, "tern-linux: --udp-probe wants A.B.C.D:PORT, not '%s'\n", arg);
            return -1;
        }
        o->probe_port = (uint16_t)port;
        return 0;
    }
    case LINUX_NET_OPT_TCP_SEND: {
        unsigned a, b, c, d, port;
        unsigned long long bytes;
        char tail;
        if (sscanf(arg, "%u.%u.%u.%u:%u:%llu%c", &a, &b, &c, &d, &port, &bytes, &tail) != 6 ||
            a > 255 || b > 255 || c > 255 || d > 255 || port < 1 || port > 65535) {
            fprintf(stderr, "tern-linux: --tcp-send wants A.B.C.D:PORT:BYTES, not '%s'\n", arg);
            return -1;
        }
        o->send_ip = TERN_IPV4(a, b, c, d);
        o->send_port = (uint16_t)port;
        o->send_bytes = bytes;
        return 0;
    }
    case LINUX_NET_OPT_TCP_SINK: {
        char *end;
        long p = strtol(arg, &end, 10);
        if (*end != '\0' || p < 1 || p > 65535) {
            fprintf(stderr, "tern-linux: --tcp-sink wants a port, not '%s'\n", arg);
            return -1;
        }
        o->sink_port = (uint16_t)p;
        return 0;
    }
    case LINUX_NET_OPT_TCP_CONNS:
    case LINUX_NET_OPT_TCP_BUF: {
        char *end;
        long v = strtol(arg, &end, 10);
        long max = code == LINUX_NET_OPT_TCP_CONNS ? 65536 : 16384;
        if (*end != '\0' || v < (code == LINUX_NET_OPT_TCP_CONNS ? 2 : 1) || v > max) {
            fprintf(stderr, "tern-linux: --%s wants a number up to %ld, not '%s'\n",
                    code == LINUX_NET_OPT_TCP_CONNS ? "tcp-conns" : "tcp-buf", max, arg);
            return -1;
        }
        if (code == LINUX_NET_OPT_TCP_CONNS)
            o->tcp_conns = (uint32_t)v;
        else
            o->tcp_buf_kib = (uint32_t)v;
        return 0;
    }
    case LINUX_NET_OPT_DHCP_SERVER:
        return linux_dhcp_server_parse(&o->dhcp, arg);
    case LINUX_NET_OPT_DHCP_LEASE_FILE:
        o->dhcp.lease_file = arg;
        return 0;
    case LINUX_NET_OPT_FORWARD:
        return linux_fwd_parse(&o->fwd, arg);
    case LINUX_NET_OPT_SERVICES:
        if (tern_tcp_services_parse(arg, &o->services) != TERN_OK) {
            fprintf(stderr, "tern-linux: --services wants echo,discard, not '%s'\n", arg);
            return -1;
        }
        return 0;
    default:
        return -1;
    }
}

int linux_net_open(struct linux_backend *b, const struct linux_net_opts *o, uint32_t guest_ip)
{
    if (o->gw && !o->ip) {
        fprintf(stderr, "tern-linux: --gw needs --ip\n");
        return -1;
    }
    if (o->pcap && linux_net_pcap(b, o->pcap) != 0)
        return -1;
    uint32_t guest = guest_ip ? guest_ip : SLIRP_GUEST;
    if (o->dev_count == 0) {
        if (linux_net_add(b, "slirp", guest) != 0)
            return -1;
    }
    for (unsigned i = 0; i < o->dev_count; i++) {
        if (strcmp(o->devs[i], "none") == 0)
            continue;
        if (linux_net_add(b, o->devs[i], guest) != 0)
            return -1;
    }
    for (unsigned i = 0; i < o->hostfwd_count; i++) {
        if (linux_net_hostfwd(b, o->hostfwd[i]) != 0)
            return -1;
    }
    return 0;
}

/* The TCP pool for a server facing the internet: the core's defaults
 * (1024 blocks, 4 KiB buffers each way) with fewer blocks when they would
 * take more than half of the heap; buffers grow for connections moving
 * data up to 64 KiB send and 256 KiB receive (the receive window is what
 * bounds bulk receive over a TAP: the peer may have only one window in
 * flight), or --tcp-buf each way, into a quarter of the heap. The block
 * count of --tcp-conns or the manifest replaces the fitted one (core's
 * rule, tern_boot_net_start). */
static void linux_tcp_config(struct tern_os *os, const struct linux_net_opts *o,
                             struct tern_tcp_config *tcfg)
{
    struct tern_heap_stats hs;
    tern_heap_get_stats(&os->heap, &hs);
    tern_tcp_config_default(tcfg);
    if (o->tcp_buf_kib) {
        tcfg->sndbuf = tcfg->rcvbuf = o->tcp_buf_kib * 1024;
    } else {
        tcfg->rcvbuf = 256 * 1024;
    }
    tcfg->grow_bytes = (uint32_t)(hs.size / 4 > (1u << 30) ? (1u << 30) : hs.size / 4);
    tern_tcp_config_fit(tcfg, hs.size * 3 / 4); /* the blocks: up to half of the heap */
}

/* net0 has an address (core's callback): the hook once, the
 * diagnostics each time. */
static void address_up(void *arg, const struct tern_dhcp_msg *lease)
{
    (void)lease;
    struct linux_network *ln = arg;
    if (!ln->up) {
        ln->up = true;
        if (ln->up_fn)
            ln->up_fn(ln->up_arg);
    }
    linux_net_diag_address_up(&ln->diag);
}

/* --dhcp-server on net0, which must have a static address. 0, or -1
 * (logged). */
static int start_dhcp_server(struct linux_network *ln, struct tern_os *os,
                             const struct linux_net_opts *o)
{
    if (!o->dhcp.on) {
        if (o->dhcp.lease_file)
            tern_log(os, TERN_LOG_WARN, "net", "--dhcp-lease-file without --dhcp-server: unused");
        return 0;
    }
    if (ln->bn.dhcp.net != NULL) {
        tern_log(os, TERN_LOG_ERROR, "net", "--dhcp-server needs a static address on net0 (--ip)");
        return -1;
    }
    if (linux_dhcp_server_start(&ln->dhcps, os, &ln->bn.net, &o->dhcp) != 0)
        return -1;
    ln->bn.dhcp_server = &ln->dhcps.srv;
    return 0;
}

/* --udp-echo and --services. 0, or -1 (logged). */
static int start_services(struct linux_network *ln, struct tern_os *os,
                          const struct linux_net_opts *o)
{
    if (o->udp_echo && tern_udp_echo_start(&ln->echo, &ln->bn.net, o->udp_echo) != TERN_OK) {
        tern_log(os, TERN_LOG_ERROR, "net", "udp echo on port %u failed", o->udp_echo);
        return -1;
    }
    if (o->services) {
        tern_result r = tern_tcp_services_start(&ln->services, &ln->bn.tcp, o->services);
        if (r != TERN_OK) {
            tern_log(os, TERN_LOG_ERROR, "net", "services failed: %s", tern_result_name(r));
            return -1;
        }
    }
    return linux_net_diag_listen(&ln->diag);
}

int linux_net_start(struct linux_network *ln, struct tern_os *os,
                    const struct linux_net_opts *o, const struct tern_manifest *m)
{
    ln->up = false;
    ln->up_fn = NULL;
    struct tern_boot_net_opts bo = {
        .manifest = m,
        .ip = o->ip, .mask = o->mask, .gw = o->gw,
        .dns = { o->dns }, .dns_count = o->dns ? 1 : 0,
        .tcp_conns = o->tcp_conns, .tcp_conns_flag = "--tcp-conns",
        .on_up = address_up, .arg = ln,
    };
    linux_tcp_config(os, o, &bo.tcp);
    linux_net_diag_init(&ln->diag, os, &ln->bn, o);
    tern_result r = tern_boot_net_start(&ln->bn, os, &bo); /* TERN_NET_UP: static now, DHCP at the lease */
    if (r == TERN_ENOENT) {
        if (o->services || o->udp_echo)
            tern_log(os, TERN_LOG_WARN, "net", "no network device: services not started");
        return 0;
    }
    if (r != TERN_OK || start_dhcp_server(ln, os, o) != 0 || start_services(ln, os, o) != 0)
        return -1;
    return 1;
}

void linux_net_when_up(struct linux_network *ln, void (*fn)(void *arg), void *arg)
{
    if (ln->up) {
        fn(arg);
        return;
    }
    ln->up_fn = fn;
    ln->up_arg = arg;
}
