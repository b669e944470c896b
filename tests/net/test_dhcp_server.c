/* The DHCP server driven by scripted client messages (wire-format byte
 * arrays) on a simulated device, on virtual time: every rule of RFC 2131
 * 4.1 and 4.3 it implements, the bounds, hostile messages, and the lease
 * file. Every reply is read back with the client's own parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "net_harness.h"
#include "tern/dhcp.h"
#include "tern/dhcp_server.h"
#include "tern/gpt.h"
#include "tern/inet.h"

#define SERVER_IP TERN_IPV4(192, 0, 2, 1)
#define DNS_IP TERN_IPV4(192, 0, 2, 53)
#define A100 TERN_IPV4(192, 0, 2, 100)
#define A101 TERN_IPV4(192, 0, 2, 101)
#define A102 TERN_IPV4(192, 0, 2, 102)
#define A103 TERN_IPV4(192, 0, 2, 103)
#define BCAST 0xffffffffu
#define FLAG_BCAST 0x8000

static struct net_harness H;
static struct tern_dhcp_server S;
static struct tern_dhcp_server_config C;
static unsigned CHANGES;

static const uint8_t MAC_A[6] = { 0x02, 0, 0, 0, 0, 0xa1 };
static const uint8_t MAC_B[6] = { 0x02, 0, 0, 0, 0, 0xa2 };
static const uint8_t MAC_C[6] = { 0x02, 0, 0, 0, 0, 0xa3 };
static const uint8_t MAC_D[6] = { 0x02, 0, 0, 0, 0, 0xa4 };
static const uint8_t MAC_E[6] = { 0x02, 0, 0, 0, 0, 0xa5 };

static void on_change(struct tern_dhcp_server *s, void *arg)
{
    (void)s;
    (void)arg;
    CHANGES++;
}

static int setup(void **state)
{
    (void)state;
    CHANGES = 0;
    if (nh_init(&H, 1500, NULL) != 0)
        return -1;
    H.os.cfg.console_level = TERN_LOG_INFO;
    tern_net_set_addr(&H.net, 0, SERVER_IP, 0xffffff00u, 0);
    tern_dhcp_server_config_default(&C);
    C.first = A100;
    C.last = A103;
    C.router = SERVER_IP;
    C.dns[0] = DNS_IP;
    C.dns_count = 1;
    C.domain = "example.test";
    C.lease_s = 600;
    C.on_change = on_change;
    if (tern_dhcp_server_start(&S, &H.net, &C) != TERN_OK)
        return -1;
    nh_clear_sent(&H);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tern_dhcp_server_stop(&S);
    tern_net_set_addr(&H.net, 0, 0, 0, 0);
    nh_advance(&H, 3600000);
    bool ok = nh_at_baseline(&H);
    nh_close(&H);
    return ok ? 0 : -1;
}

/* ---- building client messages ---- */

struct opts {
    uint8_t b[400];
    size_t n;
};

static void o_add(struct opts *o, uint8_t code, const void *v, uint8_t len)
{
    o->b[o->n++] = code;
    o->b[o->n++] = len;
    memcpy(o->b + o->n, v, len);
    o->n += len;
}

static void o_addr(struct opts *o, uint8_t code, uint32_t a)
{
    uint8_t v[4];
    tern_store_be32(v, a);
    o_add(o, code, v, 4);
}

/* A client message: BOOTP header, cookie, type, extra options, end. */
static size_t client_msg(uint8_t *b, uint8_t type, const uint8_t *mac, uint16_t flags,
                         uint32_t ciaddr, const struct opts *o)
{
    memset(b, 0, 600);
    b[0] = 1;                                /* op: request */
    b[1] = 1;                                /* htype: Ethernet */
    b[2] = 6;                                /* hlen */
    tern_store_be32(b + 4, 0x1234 + type);   /* xid */
    tern_store_be16(b + 10, flags);          /* flags */
    tern_store_be32(b + 12, ciaddr);         /* ciaddr */
    memcpy(b + 28, mac, 6);                  /* chaddr */
    b[236] = 99, b[237] = 130, b[238] = 83, b[239] = 99; /* magic cookie */
    size_t i = 240;
    b[i++] = 53, b[i++] = 1, b[i++] = type;  /* message type */
    if (o) {
        memcpy(b + i, o->b, o->n);
        i += o->n;
    }
    b[i++] = 255;                            /* end */
    return i < 300 ? 300 : i;
}

/* Sends a message from mac (from src: 0.0.0.0 broadcast, or a unicast
 * from a bound client to the server). */
static void send_raw(const uint8_t *mac, uint32_t src, uint16_t sport, const uint8_t *msg,
                     size_t len)
{
    uint8_t f[1600];
    bool bcast = src == 0;
    size_t fl = nh_udp(f, bcast ? nh_bcast_mac : nh_our_mac, mac, src,
                       bcast ? BCAST : SERVER_IP, sport, 67, msg, len);
    nh_inject(&H, f, fl);
}

static void send_msg(uint8_t type, const uint8_t *mac, uint16_t flags, uint32_t ciaddr,
                     const struct opts *o)
{
    uint8_t b[600];
    size_t n = client_msg(b, type, mac, flags, ciaddr, o);
    send_raw(mac, ciaddr, 68, b, n);
}

/* ---- reading replies ---- */

struct reply {
    struct tern_dhcp_msg m;      /* as Tern's client parses it */
    uint32_t ip_dst;
    const uint8_t *eth_dst;
    uint32_t ciaddr;
    const uint8_t *raw;
    size_t len;
};

/* The one reply captured since the last clear (asserting there is one,
 * UDP 67 -> 68 from the server, and that the client's parser takes it). */
static void got_reply(struct reply *r)
{
    unsigned ip = 0, at = 0;
    for (unsigned i = 0; i < H.sent_count; i++) {
        if (tern_load_be16(H.sent[i].data + 12) == 0x0800) {
            ip++;
            at = i;
        }
    }
    if (ip != 1)
        fail_msg("%u replies (frames %u, send_failed %llu, last refusal %s, offers %llu acks %llu req %llu)", ip,
                 H.sent_count, (unsigned long long)S.stats.send_failed,
                 S.last_refusal ? S.last_refusal : "-", (unsigned long long)S.stats.offers, (unsigned long long)S.stats.acks, (unsigned long long)S.stats.requests);
    const uint8_t *f = H.sent[at].data;
    const uint8_t *iph = f + 14;
    assert_int_equal(iph[9], 17);
    assert_int_equal(tern_load_be32(iph + 12), SERVER_IP);
    assert_int_equal(tern_load_be16(iph + 20), 67);
    assert_int_equal(tern_load_be16(iph + 22), 68);
    r->eth_dst = f;
    r->ip_dst = tern_load_be32(iph + 16);
    r->raw = iph + 28;
    r->len = tern_load_be16(iph + 24) - 8;
    r->ciaddr = tern_load_be32(r->raw + 12);
    const char *why = NULL;
    if (tern_dhcp_parse(r->raw, r->len, &r->m, &why) != TERN_OK)
        fail_msg("the client's parser refuses the reply: %s", why);
    nh_clear_sent(&H);
}

static void no_reply(void)
{
    for (unsigned i = 0; i < H.sent_count; i++)
        assert_int_not_equal(tern_load_be16(H.sent[i].data + 12), 0x0800);
    nh_clear_sent(&H);
}

/* The data of option code in a reply (its length in *len), or NULL. */
static const uint8_t *reply_opt(const struct reply *r, uint8_t code, size_t *len)
{
    for (size_t i = 240; i + 1 < r->len && r->raw[i] != 255;) {
        if (r->raw[i] == 0) {
            i++;
            continue;
        }
        if (r->raw[i] == code) {
            *len = r->raw[i + 1];
            return r->raw + i + 2;
        }
        i += 2 + r->raw[i + 1];
    }
    return NULL;
}

/* DISCOVER with the broadcast flag, then REQUEST for the offer: the
 * address bound to mac. */
static uint32_t lease_for(const uint8_t *mac)
{
    struct reply r;
    send_msg(TERN_DHCP_DISCOVER, mac, FLAG_BCAST, 0, NULL);
    got_reply(&r);
    assert_int_equal(r.m.type, TERN_DHCP_OFFER);
    struct opts o = { .n = 0 };
    o_addr(&o, 50, r.m.yiaddr);
    o_addr(&o, 54, SERVER_IP);
    send_msg(TERN_DHCP_REQUEST, mac, FLAG_BCAST, 0, &o);
    struct reply a;
    got_reply(&a);
    assert_int_equal(a.m.type, TERN_DHCP_ACK);
    assert_int_equal(a.m.yiaddr, r.m.yiaddr);
    return a.m.yiaddr;
}

static uint8_t state_of(uint32_t addr)
{
    const struct tern_dhcp_lease *l = tern_dhcp_server_lease(&S, addr);
    return l ? l->state : TERN_DHCP_LEASE_EMPTY;
}

/* ---- the exchange ---- */

static void test_offer_and_ack_carry_the_subnet(void **state)
{
    (void)state;
    struct opts o = { .n = 0 };
    o_add(&o, 12, "web1", 4);
    send_msg(TERN_DHCP_DISCOVER, MAC_A, FLAG_BCAST, 0, &o);
    struct reply r;
    got_reply(&r);
    assert_int_equal(r.m.type, TERN_DHCP_OFFER);
    assert_int_equal(r.m.yiaddr, A100);
    assert_int_equal(r.ip_dst, BCAST);
    assert_memory_equal(r.eth_dst, nh_bcast_mac, 6);
    assert_memory_equal(r.m.chaddr, MAC_A, 6);
    assert_int_equal(r.m.server_id, SERVER_IP);
    assert_int_equal(r.m.mask, 0xffffff00u);
    assert_int_equal(r.m.router, SERVER_IP);
    assert_int_equal(r.m.dns_count, 1);
    assert_int_equal(r.m.dns[0], DNS_IP);
    assert_string_equal(r.m.domain, "example.test");
    assert_int_equal(r.m.lease_s, 600);
    assert_int_equal(r.m.t1_s, 300);
    assert_int_equal(r.m.t2_s, 525);
    assert_int_equal(tern_load_be32(r.raw + 4), 0x1234 + TERN_DHCP_DISCOVER); /* xid */
    size_t n;
    assert_null(reply_opt(&r, 61, &n)); /* no client id sent: none echoed */
    assert_int_equal(state_of(A100), TERN_DHCP_LEASE_OFFERED);
    assert_int_equal(CHANGES, 0);       /* an offer is not saved */

    o.n = 0;
    o_addr(&o, 50, A100);
    o_addr(&o, 54, SERVER_IP);
    send_msg(TERN_DHCP_REQUEST, MAC_A, FLAG_BCAST, 0, &o);
    got_reply(&r);
    assert_int_equal(r.m.type, TERN_DHCP_ACK);
    assert_int_equal(r.m.yiaddr, A100);
    assert_int_equal(r.m.lease_s, 600);
    const struct tern_dhcp_lease *l = tern_dhcp_server_lease(&S, A100);
    assert_non_null(l);
    assert_int_equal(l->state, TERN_DHCP_LEASE_BOUND);
    assert_memory_equal(l->chaddr, MAC_A, 6);
    assert_string_equal(l->hostname, "web1");
    assert_int_equal(l->id_len, 7);          /* 1 + chaddr */
    assert_int_equal(tern_dhcp_server_bound(&S), 1);
    assert_int_equal(S.stats.offers, 1);
    assert_int_equal(S.stats.acks, 1);
    assert_int_equal(CHANGES, 1);
    assert_true(sim_console_has(&H.sim, "dhcp-server: lease 192.0.2.100 to 02:00:00:00:00:a1 web1"));
}

/* RFC 2131 4.1: the broadcast flag, ciaddr and the NAK rule pick where a
 * reply goes; a client without an address gets it at its MAC. The
 * client identifier is echoed (RFC 6842). */
static void test_reply_destinations(void **state)
{
    (void)state;
    struct opts o = { .n = 0 };
    static const uint8_t cid[] = { 0xff, 1, 2, 3, 4, 5, 6, 7, 8 };
    o_add(&o, 61, cid, sizeof(cid));
    send_msg(TERN_DHCP_DISCOVER, MAC_A, 0, 0, &o); /* no broadcast flag */
    struct reply r;
    got_reply(&r);
    assert_int_equal(r.ip_dst, A100);
    assert_memory_equal(r.eth_dst, MAC_A, 6);
    size_t n;
    const uint8_t *echo = reply_opt(&r, 61, &n);
    assert_non_null(echo);
    assert_int_equal(n, sizeof(cid));
    assert_memory_equal(echo, cid, sizeof(cid));
    o_addr(&o, 50, A100);
    o_addr(&o, 54, SERVER_IP);
    send_msg(TERN_DHCP_REQUEST, MAC_A, 0, 0, &o);
    got_reply(&r);
    assert_int_equal(r.m.type, TERN_DHCP_ACK);
    assert_int_equal(r.ip_dst, A100);
    assert_memory_equal(r.eth_dst, MAC_A, 6);

    /* renewing: unicast from ciaddr, answered at ciaddr, ciaddr echoed */
    o.n = 0;
    o_add(&o, 61, cid, sizeof(cid));
    send_msg(TERN_DHCP_REQUEST, MAC_A, FLAG_BCAST, A100, &o);
    got_reply(&r);
    assert_int_equal(r.m.type, TERN_DHCP_ACK);
    assert_int_equal(r.ip_dst, A100);
    assert_memory_equal(r.eth_dst, MAC_A, 6);
    assert_int_equal(r.ciaddr, A100);

    /* a NAK is broadcast even to a client without the flag */
    o.n = 0;
    o_add(&o, 61, cid, sizeof(cid));
    o_addr(&o, 50, A103);
    send_msg(TERN_DHCP_REQUEST, MAC_A, 0, 0, &o); /* INIT-REBOOT, another address */
    got_reply(&r);
    assert_int_equal(r.m.type, TERN_DHCP_NAK);
    assert_int_equal(r.ip_dst, BCAST);
    assert_memory_equal(r.eth_dst, nh_bcast_mac, 6);
}

/* RFC 2131 4.3.1: a client keeps its address, else gets what it asks for
 * when free, else the next never-used one. */
static void test_address_choice(void **state)
{
    (void)state;
    assert_int_equal(lease_for(MAC_A), A100);
    assert_int_equal(lease_for(MAC_A), A100);            /* again: the same */
    struct opts o = { .n = 0 };
    o_addr(&o, 50, A103);
    send_msg(TERN_DHCP_DISCOVER, MAC_B, FLAG_BCAST, 0, &o);
    struct reply r;
    got_reply(&r);
    assert_int_equal(r.m.yiaddr, A103);                   /* asked for and free */
    o.n = 0;
    o_addr(&o, 50, A100);
    send_msg(TERN_DHCP_DISCOVER, MAC_C, FLAG_BCAST, 0, &o);
    got_reply(&r);
    assert_int_equal(r.m.yiaddr, A101);                   /* A100 is taken */
    o.n = 0;
    o_addr(&o, 50, TERN_IPV4(198, 51, 100, 9));
    send_msg(TERN_DHCP_DISCOVER, MAC_D, FLAG_BCAST, 0, &o);
    got_reply(&r);
    assert_int_equal(r.m.yiaddr, A102);                   /* outside the pool: ignored */
}

/* A full pool and a full table mean no offer, counted, logged once. A
 * released address is then reused (the one free the longest). */
static void test_pool_exhausted_then_reuse(void **state)
{
    (void)state;
    const uint8_t *macs[] = { MAC_A, MAC_B, MAC_C, MAC_D };
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(lease_for(macs[i]), A100 + i);
    send_msg(TERN_DHCP_DISCOVER, MAC_E, FLAG_BCAST, 0, NULL);
    no_reply();
    send_msg(TERN_DHCP_DISCOVER, MAC_E, FLAG_BCAST, 0, NULL);
    no_reply();
    assert_int_equal(S.stats.no_address, 2);
    assert_string_equal(S.last_refusal, "pool exhausted");
    assert_true(sim_console_has(&H.sim, "dhcp-server: no address to offer: pool exhausted"));
    struct opts o = { .n = 0 };
    o_addr(&o, 54, SERVER_IP);
    send_msg(TERN_DHCP_RELEASE, MAC_C, 0, A102, &o);
    assert_int_equal(S.stats.releases, 1);
    assert_int_equal(state_of(A102), TERN_DHCP_LEASE_FREE);
    assert_int_equal(lease_for(MAC_E), A102);
    assert_int_equal(tern_dhcp_server_bound(&S), 4);
}

static void test_table_full(void **state)
{
    (void)state;
    tern_dhcp_server_stop(&S);
    C.max_leases = 2;
    assert_int_equal(tern_dhcp_server_start(&S, &H.net, &C), TERN_OK);
    lease_for(MAC_A);
    lease_for(MAC_B);
    send_msg(TERN_DHCP_DISCOVER, MAC_C, FLAG_BCAST, 0, NULL);
    no_reply();
    assert_int_equal(S.stats.no_address, 1);
    assert_string_equal(S.last_refusal, "lease table full");
}

/* An offer not taken within offer_hold_s frees the address, remembered
 * for the client; never-used addresses go first to others. */
static void test_offer_lapses(void **state)
{
    (void)state;
    struct reply r;
    send_msg(TERN_DHCP_DISCOVER, MAC_A, FLAG_BCAST, 0, NULL);
    got_reply(&r);
    nh_advance(&H, 29999);
    assert_int_equal(state_of(A100), TERN_DHCP_LEASE_OFFERED);
    nh_advance(&H, 1);
    assert_int_equal(state_of(A100), TERN_DHCP_LEASE_FREE);
    assert_int_equal(S.stats.offers_lapsed, 1);
    send_msg(TERN_DHCP_DISCOVER, MAC_B, FLAG_BCAST, 0, NULL);
    got_reply(&r);
    assert_int_equal(r.m.yiaddr, A101);
    send_msg(TERN_DHCP_DISCOVER, MAC_A, FLAG_BCAST, 0, NULL);
    got_reply(&r);
    assert_int_equal(r.m.yiaddr, A100);
}

/* SELECTING with another server's id: our offer is given up, silently. */
static void test_client_chose_another_server(void **state)
{
    (void)state;
    struct reply r;
    send_msg(TERN_DHCP_DISCOVER, MAC_A, FLAG_BCAST, 0, NULL);
    got_reply(&r);
    struct opts o = { .n = 0 };
    o_addr(&o, 50, TERN_IPV4(192, 0, 2, 200));
    o_addr(&o, 54, TERN_IPV4(192, 0, 2, 9));
    send_msg(TERN_DHCP_REQUEST, MAC_A, FLAG_BCAST, 0, &o);
    no_reply();
    assert_int_equal(S.stats.drop_other_server, 1);
    assert_int_equal(state_of(A100), TERN_DHCP_LEASE_FREE);
}

/* RFC 2131 4.3.2: ACK or NAK for each kind of REQUEST; silence for a
 * client and address we know nothing of. */
static void test_request_ack_nak_silence(void **state)
{
    (void)state;
    struct reply r;
    struct opts o = { .n = 0 };
    send_msg(TERN_DHCP_DISCOVER, MAC_A, FLAG_BCAST, 0, NULL);
    got_reply(&r);
    o_addr(&o, 50, A101);
    o_addr(&o, 54, SERVER_IP);
    send_msg(TERN_DHCP_REQUEST, MAC_A, FLAG_BCAST, 0, &o);  /* not what was offered */
    got_reply(&r);
    assert_int_equal(r.m.type, TERN_DHCP_NAK);
    size_t n;
    const uint8_t *msg = reply_opt(&r, 56, &n);
    assert_non_null(msg);
    assert_memory_equal(msg, "address not offered to this client", n);
    assert_int_equal(r.m.yiaddr, 0);
    assert_int_equal(lease_for(MAC_A), A100);

    struct { const uint8_t *mac; uint32_t addr; uint8_t type; const char *why; } cases[] = {
        { MAC_A, A100, TERN_DHCP_ACK, NULL },                             /* its own */
        { MAC_A, A101, TERN_DHCP_NAK, "not the address of this client" },
        { MAC_A, TERN_IPV4(198, 51, 100, 7), TERN_DHCP_NAK, "wrong network" },
        { MAC_B, TERN_IPV4(198, 51, 100, 7), TERN_DHCP_NAK, "wrong network" },
        { MAC_B, A100, TERN_DHCP_NAK, "address not available" },          /* A's */
        { MAC_B, TERN_IPV4(192, 0, 2, 20), TERN_DHCP_NAK, "address not available" },
        { MAC_B, SERVER_IP, TERN_DHCP_NAK, "address not available" },
        { MAC_B, A102, 0, NULL },                                          /* unknown */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        o.n = 0;
        o_addr(&o, 50, cases[k].addr);                          /* INIT-REBOOT */
        send_msg(TERN_DHCP_REQUEST, cases[k].mac, FLAG_BCAST, 0, &o);
        if (cases[k].type == 0) {
            no_reply();
            continue;
        }
        got_reply(&r);
        if (r.m.type != cases[k].type)
            fail_msg("case %zu: type %u", k, r.m.type);
        if (cases[k].why) {
            msg = reply_opt(&r, 56, &n);
            assert_non_null(msg);
            assert_int_equal(n, strlen(cases[k].why));
            assert_memory_equal(msg, cases[k].why, n);
        }
    }
    assert_int_equal(S.stats.drop_unknown, 1);
    assert_true(sim_console_has(&H.sim, "NAK 198.51.100.7 to 02:00:00:00:00:a1: wrong network"));
}

/* RENEWING at T1 extends the lease; without renewal it expires. The
 * client still gets its address back afterwards. */
static void test_renew_then_expiry(void **state)
{
    (void)state;
    assert_int_equal(lease_for(MAC_A), A100);
    nh_advance(&H, 300000);
    send_msg(TERN_DHCP_REQUEST, MAC_A, 0, A100, NULL);
    struct reply r;
    got_reply(&r);
    assert_int_equal(r.m.type, TERN_DHCP_ACK);
    assert_int_equal(CHANGES, 2);
    nh_advance(&H, 599999);                  /* 600 s after the renewal, less 1 ms */
    assert_int_equal(state_of(A100), TERN_DHCP_LEASE_BOUND);
    nh_advance(&H, 1);
    assert_int_equal(state_of(A100), TERN_DHCP_LEASE_FREE);
    assert_int_equal(S.stats.expired, 1);
    assert_int_equal(CHANGES, 3);
    assert_true(sim_console_has(&H.sim, "dhcp-server: lease 192.0.2.100 expired"));
    send_msg(TERN_DHCP_REQUEST, MAC_A, FLAG_BCAST, A100, NULL); /* rebinding, late */
    got_reply(&r);
    assert_int_equal(r.m.type, TERN_DHCP_ACK);
    assert_int_equal(state_of(A100), TERN_DHCP_LEASE_BOUND);
}

/* DECLINE: the address rests decline_hold_s, nobody's, then is used again. */
static void test_decline(void **state)
{
    (void)state;
    assert_int_equal(lease_for(MAC_A), A100);
    struct opts o = { .n = 0 };
    o_addr(&o, 50, A101);
    o_addr(&o, 54, SERVER_IP);
    send_msg(TERN_DHCP_DECLINE, MAC_A, 0, 0, &o);   /* not its address */
    assert_int_equal(S.stats.drop_unexpected, 1);
    o.n = 0;
    o_addr(&o, 50, A100);
    send_msg(TERN_DHCP_DECLINE, MAC_A, 0, 0, &o);   /* no server id */
    assert_int_equal(S.stats.drop_malformed, 1);
    o_addr(&o, 54, SERVER_IP);
    send_msg(TERN_DHCP_DECLINE, MAC_A, 0, 0, &o);
    no_reply();
    assert_int_equal(S.stats.declines, 3);
    assert_int_equal(state_of(A100), TERN_DHCP_LEASE_DECLINED);
    assert_true(sim_console_has(&H.sim, "192.0.2.100 declined by 02:00:00:00:00:a1"));
    assert_int_equal(lease_for(MAC_A), A101);       /* a new address for A */
    assert_int_equal(lease_for(MAC_B), A102);
    assert_int_equal(lease_for(MAC_C), A103);
    send_msg(TERN_DHCP_DISCOVER, MAC_D, FLAG_BCAST, 0, NULL);
    no_reply();                                     /* A100 rests */
    nh_advance(&H, 600000);
    assert_int_equal(state_of(A100), TERN_DHCP_LEASE_EMPTY);
    assert_int_equal(S.stats.declines_lapsed, 1);
    assert_int_equal(lease_for(MAC_D), A100);
}

static void test_release(void **state)
{
    (void)state;
    assert_int_equal(lease_for(MAC_A), A100);
    struct opts o = { .n = 0 };
    o_addr(&o, 54, SERVER_IP);
    send_msg(TERN_DHCP_RELEASE, MAC_B, 0, A100, &o);  /* B does not hold it */
    assert_int_equal(S.stats.drop_unexpected, 1);
    assert_int_equal(state_of(A100), TERN_DHCP_LEASE_BOUND);
    send_msg(TERN_DHCP_RELEASE, MAC_A, 0, A100, NULL); /* no server id */
    assert_int_equal(S.stats.drop_malformed, 1);
    send_msg(TERN_DHCP_RELEASE, MAC_A, 0, A100, &o);
    no_reply();
    assert_int_equal(state_of(A100), TERN_DHCP_LEASE_FREE);
    assert_int_equal(tern_dhcp_server_bound(&S), 0);
    assert_true(sim_console_has(&H.sim, "dhcp-server: 192.0.2.100 released by 02:00:00:00:00:a1"));
    assert_int_equal(lease_for(MAC_B), A101);         /* never-used first */
    assert_int_equal(lease_for(MAC_A), A100);         /* A's own again */
}

/* INFORM: an ACK with the options, no lease, at ciaddr. */
static void test_inform(void **state)
{
    (void)state;
    uint32_t host = TERN_IPV4(192, 0, 2, 20);
    send_msg(TERN_DHCP_INFORM, MAC_A, 0, host, NULL);
    struct reply r;
    got_reply(&r);
    assert_int_equal(r.m.type, TERN_DHCP_ACK);
    assert_int_equal(r.m.yiaddr, 0);
    assert_int_equal(r.ip_dst, host);
    assert_memory_equal(r.eth_dst, MAC_A, 6);
    assert_int_equal(r.m.lease_s, 0);
    assert_int_equal(r.m.router, SERVER_IP);
    assert_int_equal(tern_dhcp_server_bound(&S), 0);
    send_msg(TERN_DHCP_INFORM, MAC_A, 0, 0, NULL); /* broadcast, no ciaddr */
    no_reply();
    assert_int_equal(S.stats.drop_malformed, 1);
    assert_int_equal(S.stats.informs, 2);
}

/* ---- hostile input ---- */

static void test_every_truncation_refused(void **state)
{
    (void)state;
    struct opts o = { .n = 0 };
    o_add(&o, 12, "web1", 4);
    uint8_t b[600];
    size_t n = client_msg(b, TERN_DHCP_DISCOVER, MAC_A, FLAG_BCAST, 0, &o);
    n = 240 + 3 + 6 + 1; /* the real end: type, host name, end (no padding) */
    for (size_t len = 0; len < n; len++) {
        send_raw(MAC_A, 0, 68, b, len);
        no_reply();
        assert_int_equal(S.stats.drop_malformed, len + 1);
    }
    send_raw(MAC_A, 0, 68, b, n);
    struct reply r;
    got_reply(&r);
    assert_int_equal(r.m.type, TERN_DHCP_OFFER);
}

struct hostile {
    const char *what;
    uint8_t opts[60];
    size_t len;
    const char *why;
};

static void test_hostile_options_refused(void **state)
{
    (void)state;
    static const struct hostile cases[] = {
        { "repeated type", { 53, 1, 1 }, 3, "repeated option" },
        { "client id of 1 byte", { 61, 1, 1 }, 3, "bad option length" },
        { "requested address of 3 bytes", { 50, 3, 192, 0, 2 }, 5, "bad option length" },
        { "server id of 5 bytes", { 54, 5, 192, 0, 2, 1, 0 }, 7, "bad option length" },
        { "lease of 2 bytes", { 51, 2, 0, 1 }, 4, "bad option length" },
        { "max size 575", { 57, 2, 2, 63 }, 4, "maximum message size below 576" },
        { "empty host name", { 12, 0 }, 2, "bad option length" },
        { "empty parameter list", { 55, 0 }, 2, "bad option length" },
        { "option past the end", { 6, 40, 1 }, 3, "truncated option" },
        { "overload 4", { 52, 1, 4 }, 3, "bad overload" },
        { "overload of 2 bytes", { 52, 2, 1, 1 }, 4, "bad overload" },
    };
    unsigned drops = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct opts o = { .n = cases[k].len };
        memcpy(o.b, cases[k].opts, cases[k].len);
        uint8_t b[600];
        size_t n = client_msg(b, TERN_DHCP_DISCOVER, MAC_A, FLAG_BCAST, 0, &o);
        if (strcmp(cases[k].why, "truncated option") == 0)
            n = 240 + 3 + cases[k].len;   /* no end option, no padding: it runs off */
        send_raw(MAC_A, 0, 68, b, n);
        no_reply();
        if (S.stats.drop_malformed != ++drops)
            fail_msg("%s was accepted", cases[k].what);
        if (strcmp(S.last_refusal, cases[k].why) != 0)
            fail_msg("%s: refused for '%s', expected '%s'", cases[k].what, S.last_refusal,
                     cases[k].why);
    }
    uint8_t cid[65];
    memset(cid, 7, sizeof(cid));
    struct opts o = { .n = 0 };
    o_add(&o, 61, cid, sizeof(cid));
    send_msg(TERN_DHCP_DISCOVER, MAC_A, FLAG_BCAST, 0, &o);
    no_reply();
    assert_string_equal(S.last_refusal, "client identifier too long");
}

/* Header fields: op, hardware type and length, cookie, chaddr, the type;
 * a relay's giaddr; a source port other than 68. */
static void test_hostile_headers_refused(void **state)
{
    (void)state;
    struct { const char *what; size_t at; uint8_t value; const char *why; } cases[] = {
        { "op 2", 0, 2, "not a request (op)" },
        { "htype 6", 1, 6, "not Ethernet" },
        { "hlen 16", 2, 16, "not Ethernet" },
        { "no cookie", 239, 0, "no magic cookie" },
        { "multicast chaddr", 28, 0x03, "bad hardware address" },
        { "type OFFER", 242, TERN_DHCP_OFFER, "not a client message" },
        { "type 9", 242, 9, "not a client message" },
        { "type as padding", 240, 0, "no message type" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t b[600];
        size_t n = client_msg(b, TERN_DHCP_DISCOVER, MAC_A, FLAG_BCAST, 0, NULL);
        b[cases[k].at] = cases[k].value;
        if (k == 7)
            b[241] = 0, b[242] = 0;
        send_raw(MAC_A, 0, 68, b, n);
        no_reply();
        if (S.stats.drop_malformed != k + 1 || strcmp(S.last_refusal, cases[k].why) != 0)
            fail_msg("%s: %s", cases[k].what, S.last_refusal ? S.last_refusal : "accepted");
    }
    static const uint8_t zero[6];
    send_msg(TERN_DHCP_DISCOVER, zero, FLAG_BCAST, 0, NULL);
    assert_string_equal(S.last_refusal, "bad hardware address");
    uint8_t b[600];
    size_t n = client_msg(b, TERN_DHCP_DISCOVER, MAC_A, FLAG_BCAST, 0, NULL);
    tern_store_be32(b + 24, TERN_IPV4(198, 51, 100, 1)); /* giaddr */
    send_raw(MAC_A, 0, 68, b, n);
    no_reply();
    assert_int_equal(S.stats.drop_relay, 1);
    n = client_msg(b, TERN_DHCP_DISCOVER, MAC_A, FLAG_BCAST, 0, NULL);
    send_raw(MAC_A, 0, 67, b, n);
    no_reply();
    assert_string_equal(S.last_refusal, "not from port 68");
    assert_int_equal(S.stats.offers, 0);
}

/* Option overload (RFC 2132 9.3): options continue in 'file' then
 * 'sname'; each must end; 52 is taken only in the options field, so no
 * input can loop; an option repeated across fields is refused. */
static void test_overload(void **state)
{
    (void)state;
    uint8_t b[600];
    struct opts o = { .n = 0 };
    uint8_t ov = 3;
    o_add(&o, 52, &ov, 1);
    size_t n = client_msg(b, TERN_DHCP_DISCOVER, MAC_A, FLAG_BCAST, 0, &o);
    static const uint8_t cid[] = { 61, 4, 0xee, 1, 2, 3, 255 };   /* in 'file' */
    memcpy(b + 108, cid, sizeof(cid));
    static const uint8_t name[] = { 12, 3, 'o', 'v', 'l', 255 };  /* in 'sname' */
    memcpy(b + 44, name, sizeof(name));
    send_raw(MAC_A, 0, 68, b, n);
    struct reply r;
    got_reply(&r);
    size_t len;
    const uint8_t *echo = reply_opt(&r, 61, &len);
    assert_non_null(echo);
    assert_int_equal(len, 4);
    assert_memory_equal(echo, cid + 2, 4);
    assert_string_equal(tern_dhcp_server_lease(&S, r.m.yiaddr)->hostname, "ovl");

    struct { const char *what; size_t at; uint8_t data[8]; size_t len; const char *why; } bad[] = {
        { "52 in file", 108, { 52, 1, 3, 255 }, 4, "bad overload" },
        { "52 in sname", 44, { 52, 1, 1, 255 }, 4, "bad overload" },
        { "type again in file", 108, { 53, 1, 1, 255 }, 4, "repeated option" },
        { "file without end", 108, { 0 }, 0, "no end option" },
        { "option past file's end", 229, { 0, 0, 0, 0, 0, 3, 9 }, 7, "truncated option" },
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        n = client_msg(b, TERN_DHCP_DISCOVER, MAC_B, FLAG_BCAST, 0, &o);
        memset(b + 44, 0, 192);
        b[44] = 255;                                /* sname: empty */
        if (bad[k].at != 108 || bad[k].len > 0)
            b[108] = 255;                           /* file: empty */
        if (bad[k].at == 229)
            b[108] = 0;                             /* file: padding up to the cut */
        memcpy(b + bad[k].at, bad[k].data, bad[k].len);
        uint64_t offers = S.stats.offers;
        send_raw(MAC_B, 0, 68, b, n);
        nh_clear_sent(&H);
        if (S.stats.offers != offers || strcmp(S.last_refusal ? S.last_refusal : "", bad[k].why) != 0)
            fail_msg("%s: %s", bad[k].what, S.last_refusal ? S.last_refusal : "accepted");
    }
}

/* ---- configuration ---- */

static void test_config_refused(void **state)
{
    (void)state;
    tern_dhcp_server_stop(&S);
    H.os.cfg.console_level = TERN_LOG_OFF;
    struct tern_dhcp_server_config c = C;
    struct { uint32_t first, last; uint32_t lease; const char *domain; uint32_t router; } bad[] = {
        { A103, A100, 600, NULL, 0 },                                  /* reversed */
        { TERN_IPV4(198, 51, 100, 10), TERN_IPV4(198, 51, 100, 20), 600, NULL, 0 },
        { TERN_IPV4(192, 0, 2, 0), A100, 600, NULL, 0 },               /* network address */
        { A100, TERN_IPV4(192, 0, 2, 255), 600, NULL, 0 },             /* broadcast */
        { A100, A103, 59, NULL, 0 },                                   /* lease too short */
        { A100, A103, 600, "bad domain", 0 },
        { A100, A103, 600, NULL, TERN_IPV4(198, 51, 100, 1) },        /* router off-link */
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        c.first = bad[k].first;
        c.last = bad[k].last;
        c.lease_s = bad[k].lease;
        c.domain = bad[k].domain;
        c.router = bad[k].router;
        if (tern_dhcp_server_start(&S, &H.net, &c) != TERN_EINVAL)
            fail_msg("config %zu accepted", k);
    }
    c = C;
    c.ifidx = 1;
    assert_int_equal(tern_dhcp_server_start(&S, &H.net, &c), TERN_ENOENT);
    tern_net_set_addr(&H.net, 0, 0, 0, 0);
    assert_int_equal(tern_dhcp_server_start(&S, &H.net, &C), TERN_EINVAL); /* no address */
    tern_net_set_addr(&H.net, 0, SERVER_IP, 0xffffff00u, 0);
    struct tern_udp_sock *taken;
    assert_int_equal(tern_udp_open(&H.net, 67, NULL, NULL, &taken), TERN_OK);
    assert_int_equal(tern_dhcp_server_start(&S, &H.net, &C), TERN_EEXIST);
    tern_udp_close(taken);
    assert_int_equal(H.os.heap.in_use, H.heap_baseline); /* nothing kept */
    assert_int_equal(tern_dhcp_server_start(&S, &H.net, &C), TERN_OK);
}

/* ---- the lease file ---- */

static int64_t WALL_NS;

static tern_result fake_wall(void *ctx, int64_t *out)
{
    (void)ctx;
    *out = WALL_NS;
    return TERN_OK;
}

static size_t save(char *buf, size_t cap)
{
    size_t n = 0;
    assert_true(tern_dhcp_server_save_size(&S) <= cap);
    assert_int_equal(tern_dhcp_server_save(&S, buf, cap, &n), TERN_OK);
    buf[n] = '\0';
    return n;
}

/* A file with three leases of each kind, as save writes it. */
static size_t three_leases(char *buf, size_t cap)
{
    struct opts o = { .n = 0 };
    o_add(&o, 12, "web1", 4);
    send_msg(TERN_DHCP_DISCOVER, MAC_A, FLAG_BCAST, 0, &o);
    struct reply r;
    got_reply(&r);
    o_addr(&o, 50, A100);
    o_addr(&o, 54, SERVER_IP);
    send_msg(TERN_DHCP_REQUEST, MAC_A, FLAG_BCAST, 0, &o);
    got_reply(&r);
    lease_for(MAC_B);
    o.n = 0;
    o_addr(&o, 54, SERVER_IP);
    send_msg(TERN_DHCP_RELEASE, MAC_B, 0, A101, &o);
    lease_for(MAC_C);
    o_addr(&o, 50, A102);
    send_msg(TERN_DHCP_DECLINE, MAC_C, 0, 0, &o);
    nh_advance(&H, 100500);
    return save(buf, cap);
}

static void restart(void)
{
    tern_dhcp_server_stop(&S);
    assert_int_equal(tern_dhcp_server_start(&S, &H.net, &C), TERN_OK);
}

static void test_lease_file_round_trip(void **state)
{
    (void)state;
    H.ops.wall_ns = fake_wall;
    WALL_NS = 1764000000ll * 1000000000;
    char buf[4096];
    size_t n = three_leases(buf, sizeof(buf));
    char body[512];
    snprintf(body, sizeof(body),
        "tern-dhcp-leases 1\n"
        "saved-wall 1764000000\n"
        "lease 192.0.2.100 bound 500 02:00:00:00:00:a1 010200000000a1 web1\n"
        "lease 192.0.2.101 free 0 02:00:00:00:00:a2 010200000000a2 -\n"
        "lease 192.0.2.102 declined 500 02:00:00:00:00:a3 - -\n");
    char expect[600];
    snprintf(expect, sizeof(expect), "%send 3 %08x\n", body, (unsigned)tern_crc32(0, body, strlen(body)));
    assert_string_equal(buf, expect);

    restart();
    WALL_NS += 100ll * 1000000000;           /* the server was down 100 s */
    char why[80] = "";
    assert_int_equal(tern_dhcp_server_load(&S, buf, n, why, sizeof(why)), TERN_OK);
    const struct tern_dhcp_lease *l = tern_dhcp_server_lease(&S, A100);
    assert_non_null(l);
    assert_int_equal(l->state, TERN_DHCP_LEASE_BOUND);
    assert_string_equal(l->hostname, "web1");
    assert_memory_equal(l->chaddr, MAC_A, 6);
    uint64_t now = tern_now_ms(&H.os);
    assert_int_equal(l->expires_ms, now + 400000);
    assert_int_equal(state_of(A101), TERN_DHCP_LEASE_FREE);
    assert_int_equal(state_of(A102), TERN_DHCP_LEASE_DECLINED);
    assert_int_equal(state_of(A103), TERN_DHCP_LEASE_EMPTY);
    send_msg(TERN_DHCP_REQUEST, MAC_A, 0, A100, NULL);   /* A renews across the restart */
    struct reply r;
    got_reply(&r);
    assert_int_equal(r.m.type, TERN_DHCP_ACK);
    assert_int_equal(lease_for(MAC_B), A101);           /* B's own again */
    assert_int_equal(lease_for(MAC_D), A103);
    char again[4096];
    save(again, sizeof(again));
    assert_non_null(strstr(again, "lease 192.0.2.102 declined 400 "));

    /* a load into a table in use is refused; out-of-pool leases skipped */
    assert_int_equal(tern_dhcp_server_load(&S, buf, n, NULL, 0), TERN_EBUSY);
    restart();
    C.first = A101;
    restart();
    assert_int_equal(tern_dhcp_server_load(&S, buf, n, why, sizeof(why)), TERN_OK);
    assert_int_equal(state_of(A100), TERN_DHCP_LEASE_EMPTY);
    assert_int_equal(state_of(A101), TERN_DHCP_LEASE_FREE);
    assert_true(sim_console_has(&H.sim, "lease file: 192.0.2.100 outside the pool: skipped"));
    /* more leases than slots */
    C.first = A100;
    C.max_leases = 2;
    restart();
    assert_int_equal(tern_dhcp_server_load(&S, buf, n, why, sizeof(why)), TERN_ENOSPC);
    assert_string_equal(why, "line 5: more leases than the table holds");
    assert_int_equal(state_of(A100), TERN_DHCP_LEASE_EMPTY);
}

static void expect_refused(const char *buf, size_t n, const char *why_expected)
{
    char why[80] = "";
    tern_result r = tern_dhcp_server_load(&S, buf, n, why, sizeof(why));
    if (r != TERN_EPROTO)
        fail_msg("accepted (%s) %zu bytes: %.*s", tern_result_name(r), n, (int)n, buf);
    if (why_expected && strcmp(why, why_expected) != 0)
        fail_msg("refused for '%s', expected '%s'", why, why_expected);
    for (uint32_t a = A100; a <= A103; a++)
        assert_int_equal(state_of(a), TERN_DHCP_LEASE_EMPTY); /* nothing left behind */
}

/* Every truncation and every single-byte change of a good file is
 * refused, and a refusal leaves the table empty. */
static void test_lease_file_corrupt_refused(void **state)
{
    (void)state;
    H.os.cfg.console_level = TERN_LOG_OFF;
    char buf[4096];
    size_t n = three_leases(buf, sizeof(buf));
    restart();
    for (size_t len = 0; len < n; len++)
        expect_refused(buf, len, NULL);
    for (size_t i = 0; i < n; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            char copy[4096];
            memcpy(copy, buf, n);
            copy[i] ^= (char)(1u << bit);
            expect_refused(copy, n, NULL);
        }
    }
    char more[4100];
    memcpy(more, buf, n);
    more[n] = '\n';
    expect_refused(more, n + 1, "line 6: bytes after the end line");
    assert_int_equal(tern_dhcp_server_load(&S, buf, n, NULL, 0), TERN_OK);
}

/* Files with a good CRC but contents save never writes. */
static void test_lease_file_bad_contents_refused(void **state)
{
    (void)state;
    H.os.cfg.console_level = TERN_LOG_OFF;
    static const struct { const char *lines, *why; } cases[] = {
        { "lease 192.0.2.100 bound 5 02:00:00:00:00:a1 010200000000a1 -\n"
          "lease 192.0.2.100 bound 5 02:00:00:00:00:a2 010200000000a2 -\n",
          "line 4: address twice" },
        { "lease 192.0.2.100 bound 5 02:00:00:00:00:a1 010200000000a1 -\n"
          "lease 192.0.2.101 bound 5 02:00:00:00:00:a1 010200000000a1 -\n",
          "line 4: client twice" },
        { "lease 192.0.2.100 bound 5 02:00:00:00:00:A1 010200000000a1 -\n",
          "line 3: bad hardware address" },
        { "lease 192.0.2.100 bound 05 02:00:00:00:00:a1 010200000000a1 -\n",
          "line 3: bad time left" },
        { "lease 192.0.2.100 free 5 02:00:00:00:00:a1 010200000000a1 -\n",
          "line 3: bad time left" },
        { "lease 192.0.2.100 offered 5 02:00:00:00:00:a1 010200000000a1 -\n",
          "line 3: bad state" },
        { "lease 192.0.2.100 declined 5 02:00:00:00:00:a1 01 -\n",
          "line 3: bad client identifier" },
        { "lease 192.0.2.100 bound 5 02:00:00:00:00:a1 010 -\n",
          "line 3: bad client identifier" },
        { "lease 192.0.2.100 bound 5 02:00:00:00:00:a1 010200000000a1 web_1\n",
          "line 3: bad host name" },
        { "lease 192.0.2.100  bound 5 02:00:00:00:00:a1 010200000000a1 -\n",
          "line 3: empty field" },
        { "lease 192.0.2.100 bound 5 02:00:00:00:00:a1 010200000000a1 - x\n",
          "line 3: not a lease line" },
        { "lease 192.0.2.256 bound 5 02:00:00:00:00:a1 010200000000a1 -\n",
          "line 3: bad address" },
        { "lease 192.0.2.100 bound 4294967296 02:00:00:00:00:a1 010200000000a1 -\n",
          "line 3: bad time left" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char body[512], file[600];
        snprintf(body, sizeof(body), "tern-dhcp-leases 1\nsaved-wall -\n%s", cases[k].lines);
        unsigned count = 0;
        for (const char *p = cases[k].lines; *p; p++)
            count += *p == '\n';
        int n = snprintf(file, sizeof(file), "%send %u %08x\n", body, count,
                         (unsigned)tern_crc32(0, body, strlen(body)));
        expect_refused(file, (size_t)n, cases[k].why);
    }
    expect_refused("tern-dhcp-leases 2\nsaved-wall -\nend 0 00000000\n", 46,
                   "line 1: not a tern-dhcp-leases 1 file");
    expect_refused("tern-dhcp-leases 1\nsaved-wall 01\nend 0 00000000\n", 47,
                   "line 2: bad saved-wall line");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_offer_and_ack_carry_the_subnet),
        T(test_reply_destinations),
        T(test_address_choice),
        T(test_pool_exhausted_then_reuse),
        T(test_table_full),
        T(test_offer_lapses),
        T(test_client_chose_another_server),
        T(test_request_ack_nak_silence),
        T(test_renew_then_expiry),
        T(test_decline),
        T(test_release),
        T(test_inform),
        T(test_every_truncation_refused),
        T(test_hostile_options_refused),
        T(test_hostile_headers_refused),
        T(test_overload),
        T(test_config_refused),
        T(test_lease_file_round_trip),
        T(test_lease_file_corrupt_refused),
        T(test_lease_file_bad_contents_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
