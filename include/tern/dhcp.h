/*
 * Interface: the DHCPv4 client (RFC 2131) for interface net0, on the UDP
 * socket API of net.h; non-blocking, driven by the instance's timers.
 *
 *   struct tern_dhcp dhcp;                     // caller-owned
 *   tern_dhcp_start(&dhcp, &net, on_event, arg);
 *   // or, naming the host (option 12 in every message):
 *   struct tern_dhcp_opts o = { .hostname = "web1" };
 *   tern_dhcp_start_opts(&dhcp, &net, &o, on_event, arg);
 *
 * INIT -> DISCOVER (SELECTING) -> first valid OFFER -> REQUEST
 * (REQUESTING) -> ACK: the address, mask, router (or the default route of
 * option 121, which then wins, RFC 3442), MTU (26) are applied to net0,
 * TERN_NET_UP ... via=dhcp is printed and the event callback runs. At T1
 * (option 58, else lease/2) a unicast REQUEST renews; at T2 (59, else
 * 7/8 of the lease) a broadcast REQUEST rebinds; at expiry the address is
 * removed and discovery starts again. A NAK also starts again.
 * Retransmissions back off 4, 8, 16, 32, 64 s (each +-1 s); while
 * renewing/rebinding they wait half the time left, at least 60 s.
 *
 * Every reply is parsed by tern_dhcp_parse first: malformed, truncated or
 * repeated options, bad option lengths, a missing end option or cookie
 * refuse the whole message (counted); replies for another xid or another
 * client MAC are counted and ignored.
 *
 * Each exchange's xid comes from the platform's entropy (tern_entropy).
 * When the source fails, nothing is sent (no message with a predictable
 * xid), no reply is taken, the refusal is logged and counted
 * (stats.entropy_refused), and the next retransmission time draws again;
 * a failure at tern_dhcp_start is TERN_EIO.
 */
#ifndef TERN_DHCP_H
#define TERN_DHCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/net.h"
#include "tern/result.h"
#include "tern/timer.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

#define TERN_DHCP_MAX_DNS 3
#define TERN_DHCP_HOSTNAME_MAX 63
#define TERN_DHCP_MAX_ROUTES 8
#define TERN_DHCP_SERVER_PORT 67
#define TERN_DHCP_CLIENT_PORT 68

enum tern_dhcp_type {
    TERN_DHCP_DISCOVER = 1, TERN_DHCP_OFFER, TERN_DHCP_REQUEST, TERN_DHCP_DECLINE,
    TERN_DHCP_ACK, TERN_DHCP_NAK, TERN_DHCP_RELEASE, TERN_DHCP_INFORM,
};

struct tern_dhcp_route {
    uint32_t dst, mask, gw;
};

/* A parsed server message (host order). Absent options are 0 / empty. */
struct tern_dhcp_msg {
    uint8_t op;
    uint32_t xid;
    uint32_t yiaddr;
    uint8_t chaddr[6];
    uint8_t type;                 /* option 53 */
    uint32_t server_id;           /* 54 */
    uint32_t mask;                /* 1 */
    bool has_mask;
    uint32_t router;              /* 3: the first one */
    uint32_t dns[TERN_DHCP_MAX_DNS]; /* 6 */
    unsigned dns_count;
    uint16_t mtu;                 /* 26 */
    uint32_t lease_s, t1_s, t2_s; /* 51, 58, 59 */
    char domain[64];              /* 15, NUL-terminated */
    struct tern_dhcp_route routes[TERN_DHCP_MAX_ROUTES]; /* 121 */
    unsigned route_count;
    bool has_routes;
};

/* Parses one BOOTP/DHCP message from a server (op 2). TERN_OK, or
 * TERN_EPROTO with *why set to a short static reason ("truncated",
 * "repeated option", ...). out is written only on TERN_OK. */
tern_result tern_dhcp_parse(const void *msg, size_t len, struct tern_dhcp_msg *out,
                            const char **why);

enum tern_dhcp_state {
    TERN_DHCP_STOPPED = 0, TERN_DHCP_SELECTING, TERN_DHCP_REQUESTING, TERN_DHCP_BOUND,
    TERN_DHCP_RENEWING, TERN_DHCP_REBINDING,
};

enum tern_dhcp_event { TERN_DHCP_EV_BOUND = 1, TERN_DHCP_EV_RENEWED, TERN_DHCP_EV_LOST };

struct tern_dhcp;
typedef void (*tern_dhcp_event_fn)(struct tern_dhcp *d, enum tern_dhcp_event ev, void *arg);

struct tern_dhcp_stats {
    uint64_t sent, offers, acks, naks, renewals, rebinds, expiries;
    uint64_t drop_malformed, drop_xid, drop_not_ours, drop_unexpected;
    uint64_t entropy_refused;     /* xids not drawn: nothing sent */
};

struct tern_dhcp {
    struct tern_net *net;
    struct tern_udp_sock *sock;
    struct tern_timer timer;
    enum tern_dhcp_state state;
    uint32_t xid;
    bool have_xid;                /* xid was drawn for this exchange */
    unsigned tries;
    uint64_t started_ms;          /* when this exchange began (secs field) */
    uint64_t bound_ms;            /* when the lease was (re)acknowledged */
    uint32_t offered, server;     /* during REQUESTING */
    uint16_t dev_mtu;             /* net0's MTU before any option 26 */
    struct tern_dhcp_msg lease;   /* the acknowledged lease */
    tern_dhcp_event_fn on_event;
    void *arg;
    struct tern_dhcp_stats stats;
    const char *last_refusal;     /* why the last message was refused */
    char hostname[TERN_DHCP_HOSTNAME_MAX + 1]; /* option 12, "" for none */
};

/* What a client sends about itself. */
struct tern_dhcp_opts {
    /* Option 12 (RFC 2132 3.14) in every DISCOVER and REQUEST, so that the
     * server can record (and a DNS it feeds can publish) the name: 1 to
     * 63 characters of [A-Za-z0-9.-]. NULL or "": none sent. */
    const char *hostname;
};

/* Starts discovery on net0. TERN_OK; TERN_ENOENT (no interface); what
 * tern_udp_open returns (port 68 busy, no socket); TERN_EIO (the entropy
 * source failed: no xid, nothing sent, the client stopped). */
tern_result tern_dhcp_start(struct tern_dhcp *d, struct tern_net *net, tern_dhcp_event_fn cb,
                            void *arg);

/* tern_dhcp_start with options (o NULL: none). The same results, and
 * TERN_EINVAL (nothing started) for a hostname that is not 1 to 63
 * characters of [A-Za-z0-9.-]. */
tern_result tern_dhcp_start_opts(struct tern_dhcp *d, struct tern_net *net,
                                 const struct tern_dhcp_opts *o, tern_dhcp_event_fn cb, void *arg);

/* Stops the client (the address stays; no RELEASE is sent). */
void tern_dhcp_stop(struct tern_dhcp *d);

TERN_END_DECLS

#endif
