/*
 * Interface: the HTTP engine on the core TCP socket API (tcp.h).
 *
 * struct tern_http_tcp listens on one port, accepts connections, pairs
 * each with a struct tern_http_conn from the server's pool, moves received
 * bytes into the engine and the engine's output into the socket as send
 * space allows (backpressure: the engine stops reading when its output is
 * not drained, and the socket's receive window closes behind it), and
 * closes the socket when the engine says so. The close lingers: after our
 * FIN, input is read and dropped until the peer's FIN (or 2 s), because
 * closing with unread input sends a RST that can destroy the response in
 * the peer's receive buffer (RFC 9112 section 9.6). A connection beyond
 * the server's pool is reset at once and counted.
 *
 *   static struct tern_http_tcp_slot slots[N];       // N = the server's pool size
 *   tern_http_tcp_start(&ht, &tcp, &srv, 80, slots, N);
 *
 * The caller owns every struct; nothing is allocated. The slots need not
 * be initialised (heap memory is fine): a slot is prepared the first time
 * an accept reaches it, so unused slots are never written.
 */
#ifndef TERN_HTTP_TCP_H
#define TERN_HTTP_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/http.h"
#include "tern/http_stream.h"
#include "tern/result.h"
#include "tern/tcp.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

#define TERN_HTTP_TCP_RX TERN_HTTP_STREAM_RX
#define TERN_HTTP_TCP_LINGER_NS TERN_HTTP_STREAM_LINGER_NS

struct tern_http_tcp;

/* st first: sock (NULL when free), hc, rx, eof, lingering... live there. */
struct tern_http_tcp_slot {
    struct tern_http_stream st;
    struct tern_http_tcp *ht;
};

struct tern_http_tcp {
    struct tern_tcp *tcp;
    struct tern_http_server *srv;
    struct tern_tcp_sock *listener;
    uint16_t port;
    struct tern_http_tcp_slot *slots;
    uint32_t nslots;
    uint32_t ninit;                  /* slots [0, ninit) prepared (on first use) */
    uint64_t refused;                /* connections reset: no free slot */
    uint64_t resets;                 /* connections that failed under us */
};

/* Listens on port (every local address) with the given slots (at least
 * the server's pool size is useful; more are never used). TERN_OK, or what
 * tern_tcp_listen returned (TERN_EEXIST, TERN_ENOSPC), or TERN_EINVAL. */
tern_result tern_http_tcp_start(struct tern_http_tcp *ht, struct tern_tcp *tcp,
                                struct tern_http_server *srv, uint16_t port,
                                struct tern_http_tcp_slot *slots, uint32_t nslots);

/* Stops listening and aborts every open connection. */
void tern_http_tcp_stop(struct tern_http_tcp *ht);

/* A tern_http_status_provider (arg: struct tern_http_net_status, tcp may
 * be NULL) for the network stack: "addresses" (each configured interface
 * with if, ip, mtu and its offloads as words), "tcp" (pcbs_in_use,
 * pcbs (the pool's size), conns_accepted, rst_sent, retransmits,
 * syn_cookies_sent, drop_pool_empty, evicted_orphans, evicted_half_open,
 * evicted_by_owner, buf_grown), "net" (frame counters and
 * what the offloads did: rx_csum_vouched, tx_csum_offloaded,
 * tx_tso_frames, rx_large_frames, rx_drop_bad_meta), "hostname" (a
 * string, or null when none was given), when a DHCP server runs,
 * "dhcp_server" (pool, leases, bound, and its counters), when ports are
 * forwarded, "forward" (tern_fwd_status: rules, conns, max_conns,
 * udp_flows and its counters), then what more
 * adds (the workload's package and A/B members), when given. */
struct tern_net;
struct tern_dhcp_server;
struct tern_fwd;
struct tern_http_net_status {
    struct tern_net *net;
    struct tern_tcp *tcp;
    const char *hostname;          /* NULL: none; [A-Za-z0-9.-] only (no escaping) */
    const struct tern_dhcp_server *dhcp_server; /* NULL: none runs */
    tern_http_status_provider more; /* NULL: nothing more */
    void *more_arg;
    const struct tern_fwd *forward; /* NULL: no port forwarding */
};
size_t tern_http_net_status(void *arg, char *buf, size_t cap);

TERN_END_DECLS

#endif
