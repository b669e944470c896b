/*
 * Interface: the Linux backend's network devices (net_linux.c), chosen
 * with --net on tern-linux:
 *
 *   slirp                 libslirp (QEMU's user-mode network), restricted:
 *                         nothing leaves the process except through
 *                         --hostfwd. Its virtual network is 192.0.2.0/24:
 *                         the host side is 192.0.2.2, the guest 192.0.2.15.
 *   tap:NAME[,offload=off] a TAP device (IFF_TAP|IFF_NO_PI), created when
 *                         absent (needs CAP_NET_ADMIN). By default with
 *                         IFF_VNET_HDR: every read and write carries a
 *                         virtio_net_hdr, the device announces TX_CSUM,
 *                         TX_TSO4 and (when TUNSETOFFLOAD takes TUN_F_CSUM|
 *                         TUN_F_TSO4) RX_CSUM and RX_LARGE, so one write or
 *                         read moves up to 64 KiB. offload=off: plain
 *                         frames, one per read/write, no offloads.
 *   wire:LOCAL,REMOTE     a Unix datagram socket bound at LOCAL that sends
 *                         every frame to REMOTE: one point-to-point L2 link.
 *                         Two tern-linux processes use swapped paths; QEMU
 *                         joins with -netdev dgram,local.type=unix,
 *                         local.path=REMOTE,remote.type=unix,remote.path=LOCAL.
 *                         A frame sent while the peer is absent is lost, as
 *                         on an unplugged cable.
 *
 * Devices are added before the instance starts. Received frames are read
 * when net_recv asks (TAP, wire) or queued by slirp's callback (at most
 * LINUX_NET_SLIRP_QUEUE, then dropped and counted). Frames sent to slirp
 * are queued the same way and handed to libslirp before the next wait, on
 * the loop's stack: libslirp's output path takes a 64 KiB stack frame, as
 * large as an app thread's whole stack, and a send may come from one. A device's ready bit
 * is set by the loop when its fd is readable (or slirp queued a frame)
 * and cleared when net_recv finds nothing.
 *
 * --pcap FILE writes every frame sent and received, on every device, to a
 * pcap file (LINKTYPE_ETHERNET, microsecond timestamps). Offloaded frames
 * are written as the wire would carry them: checksums completed, TSO and
 * coalesced frames cut into MTU-sized segments (tern_net_gso_segment).
 */
#ifndef TERN_NET_LINUX_H
#define TERN_NET_LINUX_H

#include <stdint.h>
#include <stdio.h>

#include "tern/dhcp.h"
#include "tern/platform.h"

struct linux_backend;

#define LINUX_NET_MAX_DEVS 4
#define LINUX_NET_SLIRP_QUEUE 256

/* Adds a device from spec ("slirp", "tap:NAME", "wire:LOCAL,REMOTE").
 * guest_ip (host order) is the address slirp forwards to. 0, or -1 with a
 * message on stderr. */
int linux_net_add(struct linux_backend *b, const char *spec, uint32_t guest_ip);

/* Adds a host forward to the slirp device: "tcp:127.0.0.1:HOSTPORT-:GUESTPORT"
 * (the host address must be loopback). UDP forwards are refused: in
 * restricted mode slirp drops the guest's UDP replies. 0 or -1 with a
 * message. */
int linux_net_hostfwd(struct linux_backend *b, const char *spec);

/* Starts writing every frame to a pcap file at path. 0 or -1. */
int linux_net_pcap(struct linux_backend *b, const char *path);

/* Closes the devices and the pcap file. */
void linux_net_close(struct linux_backend *b);

/* Called by the wait around uv_run: before, to let slirp register its
 * fds and shorten the deadline for its timers (returns the deadline to
 * use); after, to run slirp's I/O and due timers. */
uint64_t linux_net_before_wait(struct linux_backend *b, uint64_t deadline_ns);
void linux_net_after_wait(struct linux_backend *b);

/* Platform net ops (see tern/platform.h). */
unsigned linux_net_count(void *ctx);
tern_result linux_net_info(void *ctx, unsigned idx, struct tern_net_info *out);
tern_result linux_net_send(void *ctx, unsigned idx, const void *frame, size_t len);
tern_result linux_net_recv(void *ctx, unsigned idx, void *buf, size_t cap, size_t *out_len);
tern_result linux_net_send_meta(void *ctx, unsigned idx, const void *frame, size_t len,
                                const struct tern_net_meta *meta);
tern_result linux_net_recv_meta(void *ctx, unsigned idx, void *buf, size_t cap, size_t *out_len,
                                struct tern_net_meta *meta);

/* ---- tern-linux's network options (net_setup.c) ---- */

struct tern_os;
struct tern_net;

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
    LINUX_NET_OPT_LAST = LINUX_NET_OPT_TCP_BUF,
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
    { "tcp-buf", required_argument, NULL, LINUX_NET_OPT_TCP_BUF }

struct linux_net_opts {
    const char *devs[LINUX_NET_MAX_DEVS];
    unsigned dev_count;
    const char *hostfwd[16];
    unsigned hostfwd_count;
    const char *pcap;
    uint32_t ip, mask, gw;          /* host order; ip 0: not given */
    uint16_t udp_echo;              /* 0: off */
    unsigned services;              /* TERN_TCP_SERVICE_* mask */
    uint32_t dns;                   /* --dns server, 0: the lease's */
    const char *resolve;            /* --resolve NAME */
    uint32_t probe_ip;              /* --udp-probe A.B.C.D:PORT */
    uint16_t probe_port;
    uint32_t send_ip;               /* --tcp-send A.B.C.D:PORT:BYTES */
    uint16_t send_port;
    uint64_t send_bytes;
    uint16_t sink_port;             /* --tcp-sink PORT, 0: off */
    uint32_t tcp_conns;             /* --tcp-conns N control blocks, 0: default */
    uint32_t tcp_buf_kib;           /* --tcp-buf KIB each way, 0: default */
};

/* Prints the options' help lines. */
void linux_net_usage(FILE *to);

/* Takes one parsed option. 0, or -1 with a message on stderr. */
int linux_net_opt(struct linux_net_opts *o, int code, const char *arg);

/* Opens the devices (default: slirp), forwards and pcap. 0 or -1. */
int linux_net_open(struct linux_backend *b, const struct linux_net_opts *o);

struct tern_tcp;

/* After tern_os_init: starts the stack on the devices with TCP (tcp, the
 * caller's) attached, configures the address, starts --udp-echo and
 * --services and prints TERN_NET_UP. A no-op without devices (tcp stays
 * uninitialised). 1 when the stack runs, 0 without devices, -1 on error. */
/* The DHCP client linux_net_start started, or NULL (a static address). */
struct tern_dhcp;
struct tern_dhcp *linux_net_dhcp(void);

int linux_net_start(struct tern_os *os, struct tern_net *net, struct tern_tcp *tcp,
                    const struct linux_net_opts *o);

/* Diagnostics that originate traffic (net_diag.c): init before the
 * address is known; the DHCP callback (and its arg) to pass to
 * tern_dhcp_start; the call to make when a static address is set. */
struct tern_tcp;
void linux_net_diag_init(struct tern_os *os, struct tern_net *net, struct tern_tcp *tcp,
                         const struct linux_net_opts *o);
tern_dhcp_event_fn linux_net_diag_dhcp_cb(void **arg);
void linux_net_diag_static_ready(void);

/* Runs fn(arg) once net0 has its first address (at once if it has one):
 * what announces the OS as reachable waits for this. One hook. */
void linux_net_when_up(void (*fn)(void *arg), void *arg);
/* Starts the --tcp-sink listener (any address). 0, or -1 (logged). */
int linux_net_diag_listen(void);

#endif
