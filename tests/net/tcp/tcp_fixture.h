/*
 * Interface: a single TCP instance on the sim platform for unit tests,
 * with a lower layer that captures every segment sent, and helpers that
 * build peer segments (checksum filled) and read captured ones.
 */
#ifndef TERN_TCP_FIXTURE_H
#define TERN_TCP_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim_platform.h"
#include "tern/os.h"
#include "tern/tcp.h"

#define US TERN_IPV4(192, 0, 2, 1)
#define PEER TERN_IPV4(192, 0, 2, 2)
#define CAP_MAX 256

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

struct out_seg {
    uint32_t src, dst;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t wnd;
    size_t len;       /* payload */
    uint8_t opts[40];
    size_t optlen;
    uint8_t data[9000];
};

struct fx {
    struct sim_platform plat;
    struct tern_os os;
    struct tern_tcp tcp;
    struct tern_tcp_config cfg;
    struct out_seg *cap;   /* CAP_MAX captured segments (ring) */
    unsigned ncap;         /* total captured */
    uint16_t mtu;
    bool refuse_output;
    struct tern_heap_stats base;
};

/* Sets up a fixture; cfg NULL means defaults with 8 connections. */
struct fx *fx_new(const struct tern_tcp_config *cfg);
/* Checks that nothing is left (pool empty, heap at baseline) and frees. */
void fx_free_checked(struct fx *f);
void fx_advance_ms(struct fx *f, uint64_t ms);

/* Builds and delivers a segment from PEER:sport to US:dport. */
void fx_send(struct fx *f, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
             uint8_t flags, uint16_t wnd, const uint8_t *opts, size_t optlen, const void *data,
             size_t dlen);
/* Delivers raw bytes (checksum filled when fix_csum). */
void fx_input_raw(struct fx *f, uint8_t *seg, size_t len, bool fix_csum);

/* The n-th captured segment (0 = first ever); last() is the newest. */
const struct out_seg *fx_cap(struct fx *f, unsigned n);
const struct out_seg *fx_last(struct fx *f);

/* Passive open: listens on 80, completes a handshake from PEER:sport with
 * ISN peer_isn (MSS 1460 only, no other options), accepts. Returns the
 * socket; *our_isn gets our ISN. */
struct tern_tcp_sock *fx_passive(struct fx *f, struct tern_tcp_sock **ls, uint16_t sport,
                                 uint32_t peer_isn, uint32_t *our_isn);

#endif
