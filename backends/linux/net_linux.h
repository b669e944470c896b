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

#endif
