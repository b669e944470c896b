/*
 * Interface: a DHCPv4 server (RFC 2131 server side, the options of RFC
 * 2132) on one interface of an instance, on the UDP socket API of net.h;
 * non-blocking, driven by the instance's loop and one timer.
 *
 *   struct tern_dhcp_server srv;                 // caller-owned
 *   struct tern_dhcp_server_config c;
 *   tern_dhcp_server_config_default(&c);
 *   c.first = TERN_IPV4(192, 0, 2, 100);
 *   c.last = TERN_IPV4(192, 0, 2, 199);
 *   c.router = TERN_IPV4(192, 0, 2, 1);
 *   tern_dhcp_server_start(&srv, &net, &c);      // the interface has its address
 *   tern_dhcp_server_load(&srv, file, n, &why);  // the leases of a previous run
 *   ...                                          // c.on_change: time to save
 *   tern_dhcp_server_save(&srv, buf, cap, &n);
 *   tern_dhcp_server_stop(&srv);
 *
 * Addresses (RFC 2131 4.3.1): a client (option 61, else its hardware
 * address) gets the address it holds or last held, else the one it asks
 * for (option 50) when that is free, else the next never-used address of
 * the pool, else the one free the longest. An OFFER holds the address
 * offer_hold_s; a REQUEST naming our server id binds it (ACK) or, for
 * another address, NAKs; naming another server releases the hold. A
 * REQUEST without a server id (INIT-REBOOT, RENEWING, REBINDING; RFC 2131
 * 4.3.2) is ACKed for the client's own address, NAKed for an address off
 * the subnet, outside the pool or held by another client, and ignored
 * when neither the client nor the address is known (another server's
 * client). DECLINE quarantines the address decline_hold_s; RELEASE frees
 * it (remembered for the client); INFORM gets an ACK with the options and
 * no lease. Leases expire on the instance clock (one timer, no polling):
 * bound and offered addresses become free, declined ones usable again.
 *
 * Replies (RFC 2131 4.1): NAK is broadcast; ACK/OFFER go to ciaddr when
 * set, else broadcast when the client set the broadcast flag, else
 * unicast to the offered address at the client's hardware address. A
 * message through a relay (giaddr set) is dropped (no relay support).
 *
 * Bounds: the lease table has max_leases slots, taken from the instance
 * heap at start and never grown; a full table and an exhausted pool mean
 * no offer (counted; logged once until an address frees). Every message
 * is parsed strictly first (dhcp_wire.h's option walk: truncated,
 * repeated or overlong options, bad lengths, a bad overload, a missing
 * end option or cookie refuse it, counted in stats.drop_malformed with
 * stats.last_refusal saying why); nothing a client sends can crash, loop
 * or allocate.
 *
 * The lease file (docs/net.md has the format): save writes the table as
 * text an embedder may persist; load reads it back strictly (any error
 * refuses the whole file and loads nothing).
 */
#ifndef TERN_DHCP_SERVER_H
#define TERN_DHCP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/dhcp.h"
#include "tern/net.h"
#include "tern/result.h"
#include "tern/timer.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

#define TERN_DHCP_SERVER_POOL_MAX 65536u    /* addresses in a pool */
#define TERN_DHCP_SERVER_LEASES_DEFAULT 256u
#define TERN_DHCP_CLIENT_ID_MAX 64          /* longest option 61 taken */

struct tern_dhcp_server;
/* The lease table changed in what tern_dhcp_server_save writes (a lease
 * bound, renewed, released, expired, declined): a moment to save. */
typedef void (*tern_dhcp_server_change_fn)(struct tern_dhcp_server *s, void *arg);

struct tern_dhcp_server_config {
    unsigned ifidx;              /* the interface served; its address is the server id (0) */
    uint32_t first, last;        /* the pool, inclusive, host order, inside the subnet */
    uint32_t mask;               /* option 1; 0: the interface's mask */
    uint32_t router;             /* option 3; 0: none */
    uint32_t dns[TERN_DHCP_MAX_DNS]; /* option 6: dns_count of them */
    unsigned dns_count;
    const char *domain;          /* option 15, [A-Za-z0-9.-]{1,63}; NULL: none (copied) */
    uint32_t lease_s;            /* lease time, 60 s .. 2^30 s (3600) */
    uint32_t offer_hold_s;       /* how long an offered address waits (30) */
    uint32_t decline_hold_s;     /* how long a declined address rests (600) */
    uint32_t max_leases;         /* table slots; 0: min(pool, 256); at most the pool */
    tern_dhcp_server_change_fn on_change; /* may be NULL */
    void *arg;
};

/* Fills c with the defaults noted above and an empty pool. */
void tern_dhcp_server_config_default(struct tern_dhcp_server_config *c);

enum tern_dhcp_lease_state {
    TERN_DHCP_LEASE_EMPTY = 0,   /* slot unused */
    TERN_DHCP_LEASE_OFFERED,     /* held for the client until expires_ms */
    TERN_DHCP_LEASE_BOUND,       /* the client's until expires_ms */
    TERN_DHCP_LEASE_FREE,        /* released or expired: the client's next pick, reusable */
    TERN_DHCP_LEASE_DECLINED,    /* in use by someone unknown: unused until expires_ms */
};

/* One slot of the lease table. */
struct tern_dhcp_lease {
    uint32_t addr;
    uint8_t state;               /* enum tern_dhcp_lease_state */
    uint8_t chaddr[TERN_MAC_LEN];
    uint8_t id_len;              /* 0 for a declined address */
    uint8_t id[TERN_DHCP_CLIENT_ID_MAX]; /* option 61, else 1 (Ethernet) + chaddr */
    char hostname[TERN_DHCP_HOSTNAME_MAX + 1]; /* option 12 when valid, else "" */
    uint64_t expires_ms;         /* OFFERED, BOUND, DECLINED: instance clock */
    uint64_t free_since_ms;      /* FREE: the oldest is reused first */
};

struct tern_dhcp_server_stats {
    uint64_t rx;                 /* datagrams to port 67 taken from the socket */
    uint64_t discovers, requests, declines, releases, informs;
    uint64_t offers, acks, naks;
    uint64_t expired, offers_lapsed, declines_lapsed;
    uint64_t drop_malformed;     /* parse or field errors (last_refusal says which) */
    uint64_t drop_relay;         /* giaddr set: no relay agent support */
    uint64_t drop_other_if;      /* arrived on another interface */
    uint64_t drop_other_server;  /* a REQUEST/DECLINE/RELEASE for another server */
    uint64_t drop_unknown;       /* neither client nor address known: another server's */
    uint64_t drop_unexpected;    /* DECLINE/RELEASE for an address the client does not hold */
    uint64_t no_address;         /* pool exhausted or table full: no offer */
    uint64_t send_failed;        /* replies the stack could not send */
};

struct tern_dhcp_server {
    struct tern_net *net;
    struct tern_udp_sock *sock;
    struct tern_timer timer;     /* the earliest expiry in the table */
    struct tern_dhcp_server_config cfg;
    char domain[TERN_DHCP_HOSTNAME_MAX + 1];
    uint32_t server_id, mask;
    struct tern_dhcp_lease *leases; /* cfg.max_leases slots, heap */
    uint8_t *taken;              /* a bit per pool address held by a slot, heap */
    uint32_t pool_size, cursor;  /* the next never-used address is searched from cursor */
    bool running;
    bool exhausted_logged;       /* "no address" was logged; again once one frees */
    uint64_t changes;            /* bumped at each change save would write */
    struct tern_dhcp_server_stats stats;
    const char *last_refusal;    /* why the last message was dropped */
};

/* Starts serving interface cfg->ifidx of net, which must have its
 * address (taken now as the server id and subnet: restart the server
 * after changing it): port 67 opened, the table and the pool's bitmap taken from
 * the instance heap. TERN_OK; TERN_ENOENT (no such interface); TERN_EINVAL
 * (the interface has no address, the pool is empty, reversed, larger
 * than TERN_DHCP_SERVER_POOL_MAX, outside the subnet or includes the
 * network or broadcast address; a non-contiguous mask; lease_s,
 * dns_count or domain out of range); TERN_ENOMEM (heap); what
 * tern_udp_open returns (TERN_EEXIST: port 67 taken). Nothing is kept
 * on failure. */
tern_result tern_dhcp_server_start(struct tern_dhcp_server *s, struct tern_net *net,
                                   const struct tern_dhcp_server_config *cfg);

/* Stops serving: the socket closed, the timer stopped, the table given
 * back to the heap (save first to keep it). Harmless when not running. */
void tern_dhcp_server_stop(struct tern_dhcp_server *s);

/* The slot holding addr (any state but EMPTY), or NULL. */
const struct tern_dhcp_lease *tern_dhcp_server_lease(const struct tern_dhcp_server *s,
                                                     uint32_t addr);

/* Slots in state BOUND. */
uint32_t tern_dhcp_server_bound(const struct tern_dhcp_server *s);

/* The most bytes tern_dhcp_server_save can write for this table. */
size_t tern_dhcp_server_save_size(const struct tern_dhcp_server *s);

/* Writes the table (bound, free and declined slots; offers as free) to
 * buf as the lease file, with the time left on each lease and, when the
 * platform knows it, the wall-clock time. TERN_OK with *len set;
 * TERN_ENOSPC when cap is too small (tern_dhcp_server_save_size is
 * always enough). */
tern_result tern_dhcp_server_save(const struct tern_dhcp_server *s, char *buf, size_t cap,
                                  size_t *len);

/* Fills the table, which must be empty (right after start), from the
 * lease file in buf (len bytes). A lease for an address outside the pool
 * (or the server's or router's) is skipped and logged; a lease's time
 * left is shortened by the wall-clock time since the save when both runs
 * knew it; a bound lease with no time left is loaded as free. TERN_OK;
 * TERN_EPROTO (anything but what save writes: a bad line, field, count
 * or CRC, an address or client twice, bytes after the end line);
 * TERN_ENOSPC (more leases than the table holds); TERN_EBUSY (not running
 * or the table is not empty); TERN_ENOMEM (no heap for the load's
 * index). On any refusal the table is left empty, and "line N: reason"
 * is written to why_buf (why_cap bytes; may be NULL) and logged. */
tern_result tern_dhcp_server_load(struct tern_dhcp_server *s, const char *buf, size_t len,
                                  char *why_buf, size_t why_cap);

TERN_END_DECLS

#endif
