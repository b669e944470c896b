/*
 * Interface: port forwarding from the host into the stack, as a VMM's
 * user-mode network does it (QEMU's hostfwd with libslirp): a host-side
 * listener whose connections are spliced to TCP connections inside
 * Tern's stack, and host datagrams relayed to a UDP port inside it.
 *
 * Core cannot open host sockets, so the host side is the embedder's: it
 * owns the listeners and host connections, implements struct
 * tern_fwd_host_ops, and tells the forwarder what happens on the host.
 *
 *   struct tern_fwd fwd;                             // caller-owned
 *   tern_fwd_init(&fwd, os, net, tcp, NULL, &my_ops, my_ctx);
 *   tern_fwd_add_rule(&fwd, TERN_FWD_TCP, TERN_IPV4(10,0,5,2), 80, lsock, &rule);
 *   // a host connection arrived on lsock:
 *   if (tern_fwd_tcp_open(&fwd, rule, hconn, &fc) != TERN_OK) close hconn;
 *   // room = tern_fwd_tcp_room(fc); read at most room bytes from hconn:
 *   tern_fwd_tcp_host_data(fc, buf, n);
 *   tern_fwd_tcp_host_eof(fc);  / tern_fwd_tcp_host_error(fc);
 *   tern_fwd_tcp_host_writable(fc);       // after ops->write took less
 *   // a datagram from a host peer on the rule's socket:
 *   tern_fwd_udp_input(&fwd, rule, &peer, data, len);
 *
 * TCP: each host connection gets a connection from the stack's own
 * address to guest:port (tern_tcp_connect). Bytes go both ways through
 * one bounded buffer per direction (cfg.buf_bytes); backpressure is
 * end to end: a guest that does not read fills its TCP window, then the
 * host-to-guest buffer, and the forwarder asks the host side to stop
 * reading (ops->read_pause) until half of it drained; a host that does
 * not take bytes (ops->write takes less) fills the guest-to-host buffer
 * and the forwarder stops reading the guest, whose window closes. A
 * half close goes through: host EOF becomes a FIN to the guest after
 * the buffered bytes, the guest's FIN becomes ops->shutdown after them;
 * when both ways are shut the connection ends (ops->close, TERN_OK). A
 * refused connect (RST, ICMP unreachable), a reset, a host error or
 * cfg.idle_ms without a byte either way end it at once (ops->close with
 * the reason; the embedder resets the host connection).
 *
 * UDP: each host peer (the embedder's address bytes) of a UDP rule is a
 * flow with its own Tern UDP socket (an ephemeral port); the guest's
 * replies from guest:port to that socket go back to that peer through
 * ops->udp_send. At most cfg.udp_flows flows (the least recently used
 * is evicted for a new one), each ended after cfg.udp_idle_ms without
 * traffic. The stack's UDP sockets (tern_net_config.udp_sockets) bound
 * them too.
 *
 * Rules: every call comes from the instance's loop (between steps, or
 * from a callback of the core), never from another thread. The host ops
 * are called from inside forwarder calls and TCP callbacks: they must
 * not call back into the forwarder (report a failure through a result,
 * or later from the loop). Every host connection handed to
 * tern_fwd_tcp_open that was accepted ends with exactly one
 * ops->close; after it the forwarder never names it again and the
 * embedder must not use its struct tern_fwd_conn. Memory: every
 * connection slot with its two buffers and the flow table are taken
 * from the instance heap at init; overload means refusals and counters,
 * never growth.
 */
#ifndef TERN_FORWARD_H
#define TERN_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/result.h"
#include "tern/decls.h"
#include "tern/timer.h"

TERN_BEGIN_DECLS

struct tern_os;
struct tern_net;
struct tern_tcp;
struct tern_tcp_sock;
struct tern_udp_sock;
struct tern_fwd;
struct tern_fwd_conn;

#define TERN_FWD_MAX_RULES 16
#define TERN_FWD_PEER_MAX 28         /* a sockaddr_in6 fits */

enum tern_fwd_proto { TERN_FWD_TCP = 1, TERN_FWD_UDP = 2 };

/* A host peer of a UDP rule, as the embedder names it (e.g. its
 * sockaddr): len bytes, compared as bytes. */
struct tern_fwd_peer {
    uint8_t len;
    uint8_t addr[TERN_FWD_PEER_MAX];
};

/* The host side, implemented by the embedder. ctx is what
 * tern_fwd_init was given; host is what tern_fwd_tcp_open was given
 * (a host connection) or tern_fwd_add_rule (a UDP rule's socket). */
struct tern_fwd_host_ops {
    /* Bytes for the host connection: takes up to len and sets *taken.
     * TERN_OK (some or none taken; when fewer than len, the embedder
     * calls tern_fwd_tcp_host_writable once it takes more); TERN_ECLOSED
     * (the host connection failed: the forwarder resets the guest side
     * and calls close). Bytes taken are the embedder's to deliver, also
     * across close with TERN_OK. Required. */
    tern_result (*write)(void *ctx, void *host, const void *buf, size_t len, size_t *taken);
    /* The guest shut its sending side: shut the host connection's
     * writing side after what write took. Required. */
    void (*shutdown)(void *ctx, void *host);
    /* The forwarder is done with the host connection: why TERN_OK (both
     * sides closed: close it after what write took), else reset it
     * (TERN_EPROTO the guest refused, TERN_ECLOSED reset,
     * TERN_ETIMEDOUT idle, TERN_ENOSPC the stack had no connection for
     * it). Required. */
    void (*close)(void *ctx, void *host, tern_result why);
    /* Stop (paused true) or resume reading the host connection.
     * Required. */
    void (*read_pause)(void *ctx, void *host, bool paused);
    /* A datagram for peer from a UDP rule's host socket (rule_host).
     * TERN_OK, or anything else for a datagram lost (counted). Required
     * when a UDP rule is added. */
    tern_result (*udp_send)(void *ctx, void *rule_host, const struct tern_fwd_peer *peer,
                            const void *buf, size_t len);
};

struct tern_fwd_config {
    uint32_t max_conns;      /* forwarded TCP connections at once (64) */
    uint32_t buf_bytes;      /* buffer per direction per connection (16384) */
    uint32_t idle_ms;        /* a TCP connection with no byte either way ends (300000) */
    uint32_t udp_flows;      /* host peers with a flow at once (8) */
    uint32_t udp_idle_ms;    /* a flow without a datagram either way ends (30000) */
};

/* Fills cfg with the defaults noted above. */
void tern_fwd_config_default(struct tern_fwd_config *cfg);

/* Monotonic counters, X(name, "what it counts"). */
#define TERN_FWD_COUNTERS(X)                                                 \
    X(accepted, "host connections spliced to the guest")                     \
    X(refused_limit, "host connections refused: max_conns reached")          \
    X(refused_stack, "host connections refused: the stack had no connection") \
    X(guest_refused, "connections the guest refused (RST, unreachable)")     \
    X(guest_reset, "connections the guest reset or that timed out")          \
    X(host_reset, "connections the host side failed")                        \
    X(idle_closed, "connections ended after idle_ms")                        \
    X(closed, "connections ended with both sides shut")                      \
    X(bytes_to_guest, "bytes from host connections sent to the guest")       \
    X(bytes_to_host, "bytes from the guest taken by host connections")       \
    X(host_pauses, "times a host connection was asked to stop reading")      \
    X(udp_to_guest, "datagrams from host peers sent to the guest")          \
    X(udp_to_host, "datagrams from the guest taken by the host side")       \
    X(udp_flows_opened, "UDP flows opened")                                   \
    X(udp_flows_expired, "UDP flows ended after udp_idle_ms")                \
    X(udp_flows_evicted, "UDP flows ended for a new peer (table full)")      \
    X(udp_drops, "datagrams dropped: no socket, send failed, host refused")  \
    X(udp_foreign, "datagrams dropped: to a flow, not from the guest port")

struct tern_fwd_stats {
#define TERN_FWD_COUNTER_FIELD(name, doc) uint64_t name;
    TERN_FWD_COUNTERS(TERN_FWD_COUNTER_FIELD)
#undef TERN_FWD_COUNTER_FIELD
};

struct tern_fwd_rule {
    uint8_t proto;               /* enum tern_fwd_proto; 0: unused */
    uint32_t guest_addr;         /* host order */
    uint16_t guest_port;
    void *host;                  /* the embedder's listener or socket */
};

/* A byte ring of one direction. */
struct tern_fwd_ring {
    uint8_t *buf;
    uint32_t head, len;          /* oldest byte at head; len bytes held */
};

/* One forwarded TCP connection (a pool slot). */
struct tern_fwd_conn {
    struct tern_fwd *fwd;
    void *host;                  /* NULL: the slot is free */
    struct tern_tcp_sock *sock;
    struct tern_fwd_ring to_guest, to_host;
    struct tern_timer idle;
    uint64_t last_ms;            /* last byte either way (or the open) */
    bool connected, host_eof, guest_shut, guest_eof, host_shut, paused, host_blocked;
};

/* One UDP flow (a table slot). */
struct tern_fwd_flow {
    struct tern_fwd *fwd;
    unsigned rule;
    struct tern_udp_sock *sock;  /* NULL: the slot is free */
    struct tern_fwd_peer peer;
    struct tern_timer idle;
    uint64_t last_ms;
};

struct tern_fwd {
    struct tern_os *os;
    struct tern_net *net;
    struct tern_tcp *tcp;
    struct tern_fwd_config cfg;
    const struct tern_fwd_host_ops *ops;
    void *ctx;
    struct tern_fwd_rule rules[TERN_FWD_MAX_RULES];
    unsigned nrules;
    struct tern_fwd_conn *conns; /* cfg.max_conns slots, heap */
    uint8_t *bufs;               /* their buffers, heap */
    uint32_t conns_open;
    struct tern_fwd_flow *flows; /* cfg.udp_flows slots, heap */
    uint32_t flows_open;
    uint8_t *dgram;              /* one datagram, heap */
    size_t dgram_cap;
    struct tern_fwd_stats stats;
};

/* Sets fwd up on the stack (net with tcp attached; tcp may be NULL for
 * UDP only) with cfg (NULL: defaults) and the host side's ops and ctx.
 * Takes the connection pool, its buffers and the flow table from the
 * instance heap. TERN_OK; TERN_EINVAL (ops lack a required member, a
 * config value of 0, buf_bytes over 16 MiB); TERN_ENOMEM. */
tern_result tern_fwd_init(struct tern_fwd *fwd, struct tern_os *os, struct tern_net *net,
                          struct tern_tcp *tcp, const struct tern_fwd_config *cfg,
                          const struct tern_fwd_host_ops *ops, void *ctx);

/* Ends every connection (the guest side aborted, ops->close with
 * TERN_ECLOSED), closes every flow and gives the memory back. */
void tern_fwd_finish(struct tern_fwd *fwd);

/* Adds a rule: proto traffic the embedder receives on its listener or
 * socket host goes to guest_addr:guest_port. TERN_OK and *index (what the
 * embedder names the rule by); TERN_EINVAL (a zero address or port, an
 * unknown proto, TCP without tcp, UDP without ops->udp_send);
 * TERN_ENOSPC (TERN_FWD_MAX_RULES rules). */
tern_result tern_fwd_add_rule(struct tern_fwd *fwd, enum tern_fwd_proto proto,
                              uint32_t guest_addr, uint16_t guest_port, void *host,
                              unsigned *index);

/* ---- TCP ---- */

/* A host connection (host, the embedder's handle) arrived on TCP rule
 * rule: opens its connection to the guest. TERN_OK and *out (the
 * forwarder's handle, until ops->close); TERN_ENOSPC (max_conns open,
 * or the stack has no connection or route for it: counted); TERN_EINVAL
 * (no such TCP rule, host NULL). On a refusal nothing is kept and
 * ops->close is not called: the embedder closes host itself. */
tern_result tern_fwd_tcp_open(struct tern_fwd *fwd, unsigned rule, void *host,
                              struct tern_fwd_conn **out);

/* Bytes tern_fwd_tcp_host_data takes now (0 once the host side ended). */
size_t tern_fwd_tcp_room(const struct tern_fwd_conn *c);

/* Bytes read from the host connection, for the guest. Takes
 * min(len, tern_fwd_tcp_room) and returns how many; the embedder keeps
 * the rest (it should read no more than the room). May end the
 * connection (ops->close runs before it returns: check nothing after). */
size_t tern_fwd_tcp_host_data(struct tern_fwd_conn *c, const void *buf, size_t len);

/* The host connection reached end of stream: FIN to the guest after
 * the buffered bytes. May end the connection (ops->close). */
void tern_fwd_tcp_host_eof(struct tern_fwd_conn *c);

/* The host connection failed: the guest side is reset and ops->close
 * runs (TERN_ECLOSED) before this returns. */
void tern_fwd_tcp_host_error(struct tern_fwd_conn *c);

/* The host connection takes bytes again after ops->write took fewer
 * than offered. May end the connection (ops->close). */
void tern_fwd_tcp_host_writable(struct tern_fwd_conn *c);

/* ---- UDP ---- */

/* A datagram from peer on UDP rule rule's host socket: sent from the
 * peer's flow (opened now when it has none) to the guest. TERN_OK;
 * TERN_EINVAL (no such UDP rule, a bad peer); TERN_ENOSPC (no UDP socket
 * in the stack); what tern_udp_sendto returned. Failures are counted. */
tern_result tern_fwd_udp_input(struct tern_fwd *fwd, unsigned rule,
                               const struct tern_fwd_peer *peer, const void *data, size_t len);

/* ---- status ---- */

/* Name/value iteration over the counters in TERN_FWD_COUNTERS order: i
 * from 0; false past the end. doc may be NULL. */
bool tern_fwd_counter(const struct tern_fwd *fwd, unsigned i, const char **name,
                      const char **doc, uint64_t *value);

/* Formats ,"forward":{"rules":N,"conns":N,"max_conns":N,"udp_flows":N,
 * then every counter} into buf (cap bytes), for /status. Returns the
 * length the whole output would have had. */
size_t tern_fwd_status(const struct tern_fwd *fwd, char *buf, size_t cap);

TERN_END_DECLS

#endif
