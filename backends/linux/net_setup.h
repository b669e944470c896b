/*
 * Interface: tern-linux's network options and the network state main
 * owns (struct linux_network). The bring-up itself is core's
 * (include/tern/boot_net.h: the stack, the address rule, DHCP with the
 * hostname, DNS servers); this side parses the options, opens the devices
 * (net_linux.h) and runs the diagnostics only tern-linux has:
 *   --udp-echo PORT, --services echo,discard   (net_setup.c)
 *   --resolve, --udp-probe, --tcp-send, --tcp-sink (net_diag.c), started
 *   once net0 has an address;
 *   --dhcp-server, --dhcp-lease-file (dhcp_server_linux.c) on net0;
 *   --forward (forward_linux.c): host ports into the stack.
 *
 *   linux_net_opt() for each option; linux_net_open() once the address is
 *   known (slirp forwards to it); after tern_os_init, linux_net_start().
 */
#ifndef TERN_LINUX_NET_SETUP_H
#define TERN_LINUX_NET_SETUP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dhcp_server_linux.h"
#include "forward_linux.h"
#include "net_linux.h"
#include "tern/boot_net.h"
#include "tern/dns.h"
#include "tern/net.h"
#include "tern/tcp.h"
#include "tern/timer.h"

struct linux_backend;
struct tern_os;
struct tern_manifest;

enum {
    LINUX_NET_OPT_NET = 2000,
    LINUX_NET_OPT_HOSTFWD,
    LINUX_NET_OPT_PCAP,
    LINUX_NET_OPT_IP,
    LINUX_NET_OPT_GW,
    LINUX_NET_OPT_UDP_ECHO,
    LINUX_NET_OPT_SERVICES,
    LINUX_NET_OPT_DNS,
    LINUX_NET_OPT_RESOLVE,
    LINUX_NET_OPT_UDP_PROBE,
    LINUX_NET_OPT_TCP_SEND,
    LINUX_NET_OPT_TCP_SINK,
    LINUX_NET_OPT_TCP_CONNS,
    LINUX_NET_OPT_TCP_BUF,
    LINUX_NET_OPT_DHCP_SERVER,
    LINUX_NET_OPT_DHCP_LEASE_FILE,
    LINUX_NET_OPT_FORWARD,
    LINUX_NET_OPT_LAST = LINUX_NET_OPT_FORWARD,
};

/* getopt_long entries for the options above. */
#define LINUX_NET_LONG_OPTS                                          \
    { "net", required_argument, NULL, LINUX_NET_OPT_NET },           \
    { "hostfwd", required_argument, NULL, LINUX_NET_OPT_HOSTFWD },   \
    { "pcap", required_argument, NULL, LINUX_NET_OPT_PCAP },         \
    { "ip", required_argument, NULL, LINUX_NET_OPT_IP },             \
    { "gw", required_argument, NULL, LINUX_NET_OPT_GW },             \
    { "udp-echo", required_argument, NULL, LINUX_NET_OPT_UDP_ECHO }, \
    { "services", required_argument, NULL, LINUX_NET_OPT_SERVICES }, \
    { "dns", required_argument, NULL, LINUX_NET_OPT_DNS }, \
    { "resolve", required_argument, NULL, LINUX_NET_OPT_RESOLVE }, \
    { "udp-probe", required_argument, NULL, LINUX_NET_OPT_UDP_PROBE }, \
    { "tcp-send", required_argument, NULL, LINUX_NET_OPT_TCP_SEND }, \
    { "tcp-sink", required_argument, NULL, LINUX_NET_OPT_TCP_SINK }, \
    { "tcp-conns", required_argument, NULL, LINUX_NET_OPT_TCP_CONNS }, \
    { "tcp-buf", required_argument, NULL, LINUX_NET_OPT_TCP_BUF }, \
    { "dhcp-server", required_argument, NULL, LINUX_NET_OPT_DHCP_SERVER }, \
    { "dhcp-lease-file", required_argument, NULL, LINUX_NET_OPT_DHCP_LEASE_FILE }, \
    { "forward", required_argument, NULL, LINUX_NET_OPT_FORWARD }

struct linux_net_opts {
    const char *devs[LINUX_NET_MAX_DEVS];
    unsigned dev_count;
    const char *hostfwd[16];
    unsigned hostfwd_count;
    const char *pcap;
    uint32_t ip, mask, gw;          /* host order; ip 0: not given */
    uint16_t udp_echo;              /* 0: off */
    unsigned services;              /* TERN_TCP_SERVICE_* mask */
    uint32_t dns;                   /* --dns server, 0: not given */
    const char *resolve;            /* --resolve NAME */
    uint32_t probe_ip;              /* --udp-probe A.B.C.D:PORT */
    uint16_t probe_port;
    uint32_t send_ip;               /* --tcp-send A.B.C.D:PORT:BYTES */
    uint16_t send_port;
    uint64_t send_bytes;
    uint16_t sink_port;             /* --tcp-sink PORT, 0: off */
    uint32_t tcp_conns;             /* --tcp-conns N control blocks, 0: not given */
    uint32_t tcp_buf_kib;           /* --tcp-buf KIB each way, 0: default */
    struct linux_dhcp_server_opts dhcp; /* --dhcp-server, --dhcp-lease-file */
    struct linux_fwd_opts fwd;      /* --forward (forward_linux.c) */
};

/* The diagnostics that originate traffic (net_diag.c). */
struct linux_net_diag {
    struct tern_os *os;
    struct tern_boot_net *bn;
    const struct linux_net_opts *opts;
    struct tern_dns dns;
    bool dns_open, resolve_started, probe_started, probe_done;
    struct tern_udp_sock *probe;
    struct tern_timer probe_timer;
    unsigned probe_seq;
    uint64_t probe_sent_ms;
    struct tern_tcp_sock *tx;
    bool tx_started, tx_done;
    uint64_t tx_sent, tx_start_ms;
    struct tern_tcp_sock *sink_ls, *sink;
    uint64_t sink_bytes, sink_bad_at;
    bool sink_bad;
    uint8_t pat[2 * 65536];          /* the pattern twice: it repeats every 64 KiB */
};

/* tern-linux's network (main owns it). */
struct linux_network {
    struct tern_boot_net bn;         /* core's: stack, TCP, DHCP */
    struct tern_udp_echo echo;       /* --udp-echo */
    struct tern_tcp_services services; /* --services */
    struct linux_net_diag diag;
    struct linux_dhcp_server dhcps;  /* --dhcp-server */
    struct linux_fwd fwd;            /* --forward, started by main (it owns the loop) */
    bool up;                         /* net0 has had an address */
    void (*up_fn)(void *arg);        /* linux_net_when_up's hook */
    void *up_arg;
};

/* Prints the options' help lines. */
void linux_net_usage(FILE *to);

/* Takes one parsed option. 0, or -1 with a message on stderr. */
int linux_net_opt(struct linux_net_opts *o, int code, const char *arg);

/* Opens the devices (default: slirp, forwarding to guest_ip, host
 * order), forwards and pcap. 0 or -1. */
int linux_net_open(struct linux_backend *b, const struct linux_net_opts *o, uint32_t guest_ip);

/* After tern_os_init: brings the network up through core
 * (tern_boot_net_start with the workload's manifest m, NULL for none,
 * and the options as the command line's overlay), then starts
 * --udp-echo, --services and --tcp-sink; the other diagnostics start
 * when net0 has an address. 1 when the stack runs, 0 without devices
 * (nothing started), -1 on error (logged). */
int linux_net_start(struct linux_network *ln, struct tern_os *os,
                    const struct linux_net_opts *o, const struct tern_manifest *m);

/* Runs fn(arg) once net0 has its first address (at once if it has one):
 * what announces the OS as reachable waits for this. One hook. */
void linux_net_when_up(struct linux_network *ln, void (*fn)(void *arg), void *arg);

/* net_diag.c: set up before the address is known; address_up at each
 * address (lease NULL for a static one); listen starts --tcp-sink. */
void linux_net_diag_init(struct linux_net_diag *g, struct tern_os *os, struct tern_boot_net *bn,
                         const struct linux_net_opts *o);
void linux_net_diag_address_up(struct linux_net_diag *g);
/* 0, or -1 (logged). */
int linux_net_diag_listen(struct linux_net_diag *g);

#endif
