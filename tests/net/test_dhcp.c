/* The DHCP client: the parser fed well-formed, truncated at every length
 * and hostile messages, and the client driven through DISCOVER, OFFER,
 * REQUEST, ACK, renewal at T1, rebinding at T2, expiry and NAK against a
 * scripted server on a simulated device, on virtual time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net_harness.h"
#include "tern/dhcp.h"
#include "tern/inet.h"

#define SERVER_IP TERN_IPV4(192, 0, 2, 1)
#define LEASE_IP TERN_IPV4(192, 0, 2, 77)

static struct net_harness H;
static struct tern_dhcp D;

struct events {
    int bound, renewed, lost;
};
static struct events EV;

static void on_event(struct tern_dhcp *d, enum tern_dhcp_event ev, void *arg)
{
    (void)d;
    struct events *e = arg;
    if (ev == TERN_DHCP_EV_BOUND)
        e->bound++;
    else if (ev == TERN_DHCP_EV_RENEWED)
        e->renewed++;
    else
        e->lost++;
}

static int setup(void **state)
{
    (void)state;
    memset(&EV, 0, sizeof(EV));
    return nh_init(&H, 1500, NULL);
}

static int teardown(void **state)
{
    (void)state;
    tern_dhcp_stop(&D);
    tern_net_set_addr(&H.net, 0, 0, 0, 0);
    nh_advance(&H, 3600000);
    bool ok = nh_at_baseline(&H);
    nh_close(&H);
    return ok ? 0 : -1;
}

/* A server reply: BOOTP header, cookie, message type, then extra
 * options (already encoded) and the end option. */
static size_t reply(uint8_t *b, uint8_t type, uint32_t xid, uint32_t yiaddr, const uint8_t *opts,
                    size_t olen)
{
    memset(b, 0, 300);
    b[0] = 2;                       /* op: reply */
    b[1] = 1;                       /* htype: Ethernet */
    b[2] = 6;                       /* hlen */
    tern_store_be32(b + 4, xid);    /* xid */
    tern_store_be32(b + 16, yiaddr); /* yiaddr */
    memcpy(b + 28, nh_our_mac, 6);  /* chaddr */
    b[236] = 99, b[237] = 130, b[238] = 83, b[239] = 99; /* magic cookie */
    size_t i = 240;
    b[i++] = 53, b[i++] = 1, b[i++] = type; /* DHCP message type */
    if (olen > 0)
        memcpy(b + i, opts, olen);
    i += olen;
    b[i++] = 255;                   /* end */
    return i;
}

/* The options of a normal lease: server id, mask /24, router .1, DNS,
 * lease 600 s, domain "example.test". */
static const uint8_t lease_opts[] = {
    54, 4, 192, 0, 2, 1,            /* server identifier */
    1, 4, 255, 255, 255, 0,         /* subnet mask */
    3, 4, 192, 0, 2, 1,             /* router */
    6, 8, 192, 0, 2, 53, 192, 0, 2, 54, /* DNS servers */
    51, 4, 0, 0, 2, 88,             /* lease time 600 s */
    15, 12, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 't', 'e', 's', 't', /* domain */
};

static void inject_reply(const uint8_t *msg, size_t len)
{
    uint8_t f[1600];
    size_t fl = nh_udp(f, nh_bcast_mac, nh_peer_mac, SERVER_IP, 0xffffffffu, 67, 68, msg, len);
    nh_inject(&H, f, fl);
}

/* The DHCP payload of captured frame i (asserting it is UDP 68 -> 67). */
static const uint8_t *sent_dhcp(unsigned i, uint32_t *dst)
{
    assert_true(i < H.sent_count);
    const uint8_t *ip = H.sent[i].data + 14;
    assert_int_equal(tern_load_be16(H.sent[i].data + 12), 0x0800);
    assert_int_equal(ip[9], 17);
    assert_int_equal(tern_load_be16(ip + 20), 68);
    assert_int_equal(tern_load_be16(ip + 22), 67);
    if (dst)
        *dst = tern_load_be32(ip + 16);
    return ip + 28;
}

/* Option code's data in captured DHCP message i (its length in *len), or
 * NULL when the message does not carry it. */
static const uint8_t *sent_option(unsigned i, uint8_t code, size_t *len)
{
    const uint8_t *m = sent_dhcp(i, NULL);
    size_t end = H.sent[i].len - 14 - 28;
    for (size_t at = 240; at + 1 < end && m[at] != 255;) {
        if (m[at] == 0) {
            at++;
            continue;
        }
        size_t n = m[at + 1];
        assert_true(at + 2 + n <= end);
        if (m[at] == code) {
            *len = n;
            return m + at + 2;
        }
        at += 2 + n;
    }
    return NULL;
}

static uint8_t msg_type(const uint8_t *m)
{
    assert_int_equal(m[240], 53);
    return m[242];
}

static void bind_lease(void)
{
    assert_int_equal(tern_dhcp_start(&D, &H.net, on_event, &EV), TERN_OK);
    assert_int_equal(H.sent_count, 1);
    uint32_t dst;
    const uint8_t *m = sent_dhcp(0, &dst);
    assert_int_equal(dst, 0xffffffffu);
    assert_int_equal(tern_load_be32(H.sent[0].data + 14 + 12), 0); /* from 0.0.0.0 */
    assert_int_equal(m[0], 1);
    assert_int_equal(tern_load_be16(m + 10), 0x8000);              /* broadcast flag */
    assert_memory_equal(m + 28, nh_our_mac, 6);
    assert_int_equal(msg_type(m), TERN_DHCP_DISCOVER);
    uint32_t xid = tern_load_be32(m + 4);
    nh_clear_sent(&H);

    uint8_t b[600];
    inject_reply(b, reply(b, TERN_DHCP_OFFER, xid, LEASE_IP, lease_opts, sizeof(lease_opts)));
    assert_int_equal(H.sent_count, 1);
    m = sent_dhcp(0, &dst);
    assert_int_equal(msg_type(m), TERN_DHCP_REQUEST);
    assert_int_equal(tern_load_be32(m + 4), xid);
    /* requested address (50) and server id (54) follow the type */
    assert_int_equal(m[243], 50);
    assert_int_equal(tern_load_be32(m + 245), LEASE_IP);
    assert_int_equal(m[249], 54);
    assert_int_equal(tern_load_be32(m + 251), SERVER_IP);
    nh_clear_sent(&H);
    inject_reply(b, reply(b, TERN_DHCP_ACK, xid, LEASE_IP, lease_opts, sizeof(lease_opts)));
    assert_int_equal(EV.bound, 1);
    assert_int_equal(D.state, TERN_DHCP_BOUND);
}

static void test_full_exchange_binds(void **state)
{
    (void)state;
    bind_lease();
    assert_true(H.net.ifs[0].configured);
    assert_int_equal(H.net.ifs[0].addr, LEASE_IP);
    assert_int_equal(H.net.ifs[0].mask, 0xffffff00u);
    assert_int_equal(H.net.ifs[0].gw, SERVER_IP);
    assert_int_equal(D.lease.dns_count, 2);
    assert_int_equal(D.lease.dns[1], TERN_IPV4(192, 0, 2, 54));
    assert_string_equal(D.lease.domain, "example.test");
    assert_int_equal(D.lease.t1_s, 300);
    assert_int_equal(D.lease.t2_s, 525);
    assert_true(sim_console_has(&H.sim, "TERN_NET_UP if=net0 ip=192.0.2.77/24 gw=192.0.2.1 "
                                        "mtu=1500 via=dhcp\n"));
    /* the gratuitous ARP for the new address went out */
    assert_int_equal(H.sent_count, 1);
    assert_int_equal(tern_load_be16(H.sent[0].data + 12), 0x0806);
}

static void test_wrong_xid_and_mac_ignored(void **state)
{
    (void)state;
    assert_int_equal(tern_dhcp_start(&D, &H.net, on_event, &EV), TERN_OK);
    uint32_t xid = tern_load_be32(sent_dhcp(0, NULL) + 4);
    nh_clear_sent(&H);
    uint8_t b[600];
    size_t n = reply(b, TERN_DHCP_OFFER, xid + 1, LEASE_IP, lease_opts, sizeof(lease_opts));
    inject_reply(b, n);
    assert_int_equal(D.stats.drop_xid, 1);
    n = reply(b, TERN_DHCP_OFFER, xid, LEASE_IP, lease_opts, sizeof(lease_opts));
    b[33] ^= 1; /* another client's MAC */
    inject_reply(b, n);
    assert_int_equal(D.stats.drop_not_ours, 1);
    /* an ACK while selecting is unexpected */
    n = reply(b, TERN_DHCP_ACK, xid, LEASE_IP, lease_opts, sizeof(lease_opts));
    inject_reply(b, n);
    assert_int_equal(D.stats.drop_unexpected, 1);
    assert_int_equal(H.sent_count, 0);
    assert_int_equal(D.state, TERN_DHCP_SELECTING);
    /* retransmission with back-off: first after 3..5 s */
    nh_advance(&H, 3000);
    uint64_t sent = D.stats.sent;
    nh_advance(&H, 2001);
    assert_int_equal(D.stats.sent, sent + 1);
}

static void test_parser_every_truncation(void **state)
{
    (void)state;
    uint8_t b[600];
    size_t n = reply(b, TERN_DHCP_ACK, 42, LEASE_IP, lease_opts, sizeof(lease_opts));
    struct tern_dhcp_msg m;
    const char *why;
    assert_int_equal(tern_dhcp_parse(b, n, &m, &why), TERN_OK);
    for (size_t len = 0; len < n; len++) {
        uint8_t copy[600];
        memcpy(copy, b, len); /* a fresh copy: the parser must not read past len */
        assert_int_equal(tern_dhcp_parse(copy, len, &m, &why), TERN_EPROTO);
    }
    /* trailing padding after the end option is fine */
    memset(b + n, 0, 20);
    assert_int_equal(tern_dhcp_parse(b, n + 20, &m, &why), TERN_OK);
}

struct hostile {
    const char *what;
    uint8_t opts[40];
    size_t len;
    const char *why;
};

static void test_parser_hostile_options(void **state)
{
    (void)state;
    static const struct hostile cases[] = {
        { "repeated mask", { 1, 4, 255, 255, 255, 0, 1, 4, 255, 255, 0, 0 }, 12,
          "repeated option" },
        { "mask of 3 bytes", { 1, 3, 255, 255, 255 }, 5, "bad option length" },
        { "non-contiguous mask", { 1, 4, 255, 0, 255, 0 }, 6, "non-contiguous mask" },
        { "router of 6 bytes", { 3, 6, 192, 0, 2, 1, 0, 0 }, 8, "bad option length" },
        { "MTU of 1 byte", { 26, 1, 5 }, 3, "bad option length" },
        { "MTU 67", { 26, 2, 0, 67 }, 4, "MTU below 68" },
        { "lease of 2 bytes", { 51, 2, 1, 0 }, 4, "bad option length" },
        { "domain with a NUL", { 15, 3, 'a', 0, 'b' }, 5, "bad domain name" },
        { "empty domain", { 15, 0 }, 2, "bad domain name" },
        { "route width 33", { 121, 5, 33, 0, 0, 0, 0 }, 7, "bad classless routes" },
        { "route cut short", { 121, 6, 24, 192, 0, 2, 192, 0 }, 8, "bad classless routes" },
        { "route host bits", { 121, 7, 8, 10, 192, 0, 2, 1, 0 }, 9, "bad classless routes" },
        { "option past end", { 6, 30, 192, 0, 2, 1 }, 6, "truncated option" },
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        uint8_t b[600];
        size_t n = reply(b, TERN_DHCP_ACK, 1, LEASE_IP, cases[k].opts, cases[k].len);
        if (strcmp(cases[k].why, "truncated option") == 0)
            n -= 1; /* drop the end option so the length runs off the message */
        struct tern_dhcp_msg m;
        const char *why = NULL;
        if (tern_dhcp_parse(b, n, &m, &why) != TERN_EPROTO)
            fail_msg("%s was accepted", cases[k].what);
        if (strcmp(why, cases[k].why) != 0)
            fail_msg("%s: refused for '%s', expected '%s'", cases[k].what, why, cases[k].why);
    }
    /* no end option; no message type; bad cookie; a request (op 1) */
    uint8_t b[600];
    struct tern_dhcp_msg m;
    const char *why;
    size_t n = reply(b, TERN_DHCP_ACK, 1, LEASE_IP, NULL, 0);
    assert_int_equal(tern_dhcp_parse(b, n - 1, &m, &why), TERN_EPROTO);
    assert_string_equal(why, "no end option");
    b[240] = 0; /* type option becomes padding... */
    b[241] = 0;
    b[242] = 0;
    assert_int_equal(tern_dhcp_parse(b, n, &m, &why), TERN_EPROTO);
    assert_string_equal(why, "no message type");
    n = reply(b, TERN_DHCP_ACK, 1, LEASE_IP, NULL, 0);
    b[239] = 0;
    assert_int_equal(tern_dhcp_parse(b, n, &m, &why), TERN_EPROTO);
    n = reply(b, TERN_DHCP_ACK, 1, LEASE_IP, NULL, 0);
    b[0] = 1;
    assert_int_equal(tern_dhcp_parse(b, n, &m, &why), TERN_EPROTO);

    /* classless routes override the router; MTU and routes parsed */
    static const uint8_t good[] = {
        54, 4, 192, 0, 2, 1,
        3, 4, 192, 0, 2, 1,                       /* router .1 ... */
        121, 13, 0, 192, 0, 2, 9,                 /* ... but default via .9 */
        24, 198, 51, 100, 192, 0, 2, 9,           /* 198.51.100.0/24 via .9 */
        26, 2, 0x05, 0xdc - 100,                  /* MTU 1400 */
    };
    n = reply(b, TERN_DHCP_ACK, 1, LEASE_IP, good, sizeof(good));
    assert_int_equal(tern_dhcp_parse(b, n, &m, &why), TERN_OK);
    assert_int_equal(m.route_count, 2);
    assert_int_equal(m.routes[0].mask, 0);
    assert_int_equal(m.routes[0].gw, TERN_IPV4(192, 0, 2, 9));
    assert_int_equal(m.routes[1].dst, TERN_IPV4(198, 51, 100, 0));
    assert_int_equal(m.routes[1].mask, 0xffffff00u);
    assert_int_equal(m.mtu, 1400);
}

static void test_hostile_reply_on_the_wire_is_counted(void **state)
{
    (void)state;
    assert_int_equal(tern_dhcp_start(&D, &H.net, on_event, &EV), TERN_OK);
    uint32_t xid = tern_load_be32(sent_dhcp(0, NULL) + 4);
    nh_clear_sent(&H);
    static const uint8_t twice[] = { 54, 4, 192, 0, 2, 1, 54, 4, 192, 0, 2, 2 };
    uint8_t b[600];
    inject_reply(b, reply(b, TERN_DHCP_OFFER, xid, LEASE_IP, twice, sizeof(twice)));
    assert_int_equal(D.stats.drop_malformed, 1);
    assert_string_equal(D.last_refusal, "repeated option");
    /* an offer of 0.0.0.0 or without a server id is refused too */
    inject_reply(b, reply(b, TERN_DHCP_OFFER, xid, 0, lease_opts, sizeof(lease_opts)));
    inject_reply(b, reply(b, TERN_DHCP_OFFER, xid, LEASE_IP, lease_opts + 6,
                          sizeof(lease_opts) - 6));
    assert_int_equal(D.stats.drop_malformed, 3);
    assert_int_equal(H.sent_count, 0);
    assert_int_equal(D.state, TERN_DHCP_SELECTING);
}

static void answer_arp_for_server(void)
{
    /* the client ARPs for the server before a unicast renewal */
    for (unsigned i = 0; i < H.sent_count; i++) {
        if (tern_load_be16(H.sent[i].data + 12) == 0x0806 &&
            tern_load_be32(H.sent[i].data + 38) == SERVER_IP) {
            uint8_t rep[42];
            nh_eth(rep, nh_our_mac, nh_peer_mac, 0x0806);
            static const uint8_t body[8] = { 0, 1, 8, 0, 6, 4, 0, 2 };
            memcpy(rep + 14, body, 8);
            memcpy(rep + 22, nh_peer_mac, 6);
            tern_store_be32(rep + 28, SERVER_IP);
            memcpy(rep + 32, nh_our_mac, 6);
            tern_store_be32(rep + 38, LEASE_IP);
            nh_clear_sent(&H);
            nh_inject(&H, rep, sizeof(rep));
            return;
        }
    }
}

static void test_renew_at_t1(void **state)
{
    (void)state;
    bind_lease();
    nh_clear_sent(&H);
    nh_advance(&H, 299999);
    assert_int_equal(D.state, TERN_DHCP_BOUND);
    nh_advance(&H, 1);
    assert_int_equal(D.state, TERN_DHCP_RENEWING);
    answer_arp_for_server();
    uint32_t dst;
    const uint8_t *m = sent_dhcp(0, &dst);
    assert_int_equal(dst, SERVER_IP);                            /* unicast */
    assert_int_equal(msg_type(m), TERN_DHCP_REQUEST);
    assert_int_equal(tern_load_be32(m + 12), LEASE_IP);          /* ciaddr */
    uint32_t xid = tern_load_be32(m + 4);
    uint8_t b[600];
    uint8_t f[1600];
    size_t n = reply(b, TERN_DHCP_ACK, xid, LEASE_IP, lease_opts, sizeof(lease_opts));
    size_t fl = nh_udp(f, nh_our_mac, nh_peer_mac, SERVER_IP, LEASE_IP, 67, 68, b, n);
    nh_inject(&H, f, fl);
    assert_int_equal(EV.renewed, 1);
    assert_int_equal(D.stats.renewals, 1);
    assert_int_equal(D.state, TERN_DHCP_BOUND);
    assert_true(H.net.ifs[0].configured);
}

static void test_rebind_then_expiry(void **state)
{
    (void)state;
    bind_lease();
    /* nobody answers: renewing from 300 s, rebinding from 525 s */
    nh_advance(&H, 300000);
    answer_arp_for_server();
    for (int i = 0; i < 20 && D.state == TERN_DHCP_RENEWING; i++)
        nh_advance(&H, 60000);
    assert_int_equal(D.state, TERN_DHCP_REBINDING);
    uint32_t dst;
    sent_dhcp(H.sent_count - 1, &dst);
    assert_int_equal(dst, 0xffffffffu);                          /* broadcast now */
    assert_int_equal(tern_load_be32(H.sent[H.sent_count - 1].data + 14 + 12), LEASE_IP);
    for (int i = 0; i < 20 && EV.lost == 0; i++)
        nh_advance(&H, 30000);
    assert_int_equal(EV.lost, 1);
    assert_int_equal(D.stats.expiries, 1);
    assert_false(H.net.ifs[0].configured);
    assert_int_equal(D.state, TERN_DHCP_SELECTING);              /* discovering again */
    assert_int_equal(msg_type(sent_dhcp(H.sent_count - 1, NULL)), TERN_DHCP_DISCOVER);
}

static void test_nak_restarts(void **state)
{
    (void)state;
    assert_int_equal(tern_dhcp_start(&D, &H.net, on_event, &EV), TERN_OK);
    uint32_t xid = tern_load_be32(sent_dhcp(0, NULL) + 4);
    uint8_t b[600];
    inject_reply(b, reply(b, TERN_DHCP_OFFER, xid, LEASE_IP, lease_opts, sizeof(lease_opts)));
    assert_int_equal(D.state, TERN_DHCP_REQUESTING);
    static const uint8_t sid[] = { 54, 4, 192, 0, 2, 1 };
    nh_clear_sent(&H);
    inject_reply(b, reply(b, TERN_DHCP_NAK, xid, 0, sid, sizeof(sid)));
    assert_int_equal(D.stats.naks, 1);
    assert_int_equal(D.state, TERN_DHCP_SELECTING);
    assert_int_equal(msg_type(sent_dhcp(0, NULL)), TERN_DHCP_DISCOVER);
    assert_int_not_equal(tern_load_be32(sent_dhcp(0, NULL) + 4), xid); /* a fresh xid */
}

static void test_mtu_option_applied(void **state)
{
    (void)state;
    assert_int_equal(tern_dhcp_start(&D, &H.net, on_event, &EV), TERN_OK);
    uint32_t xid = tern_load_be32(sent_dhcp(0, NULL) + 4);
    uint8_t opts[sizeof(lease_opts) + 4];
    memcpy(opts, lease_opts, sizeof(lease_opts));
    opts[sizeof(lease_opts)] = 26;
    opts[sizeof(lease_opts) + 1] = 2;
    tern_store_be16(opts + sizeof(lease_opts) + 2, 1400);
    uint8_t b[600];
    inject_reply(b, reply(b, TERN_DHCP_OFFER, xid, LEASE_IP, opts, sizeof(opts)));
    inject_reply(b, reply(b, TERN_DHCP_ACK, xid, LEASE_IP, opts, sizeof(opts)));
    assert_int_equal(EV.bound, 1);
    assert_int_equal(H.net.ifs[0].mtu, 1400);
    assert_true(sim_console_has(&H.sim, "mtu=1400 via=dhcp"));
}

/* Frames of the given ethertype among the captured ones. */
static unsigned sent_of_type(uint16_t type)
{
    unsigned n = 0;
    for (unsigned i = 0; i < H.sent_count; i++)
        n += tern_load_be16(H.sent[i].data + 12) == type;
    return n;
}

/* The entropy source fails at start: no xid, so the client refuses to
 * start (TERN_EIO), sends nothing then or later, logs and counts it. */
static void test_entropy_failure_refuses_start(void **state)
{
    (void)state;
    H.os.cfg.console_level = TERN_LOG_ERROR;
    H.sim.entropy_fail = true;
    assert_int_equal(tern_dhcp_start(&D, &H.net, on_event, &EV), TERN_EIO);
    assert_int_equal(H.sent_count, 0);
    assert_int_equal(D.stats.entropy_refused, 1);
    assert_int_equal(D.stats.sent, 0);
    assert_int_equal(H.os.entropy_failures, 1);
    assert_true(sim_console_has(
        &H.sim, "error dhcp: entropy source failed: a transaction id (nothing sent) refused"));
    assert_int_equal(D.state, TERN_DHCP_STOPPED);
    H.sim.entropy_fail = false;
    nh_advance(&H, 70000);          /* no retransmission timer is left behind */
    assert_int_equal(H.sent_count, 0);
}

/* The source fails when the lease is renewed at T1: no REQUEST goes out
 * (nor the ARP that would precede a unicast one), a reply carrying the
 * xid a failed draw would leave (0) is not taken, and the refusal is
 * counted and logged. Once the source works again, the next retry draws
 * a fresh xid and the renewal completes. */
static void test_entropy_failure_at_renewal_sends_nothing(void **state)
{
    (void)state;
    bind_lease();
    nh_clear_sent(&H);
    H.os.cfg.console_level = TERN_LOG_ERROR;
    H.sim.entropy_fail = true;
    uint64_t failures = H.os.entropy_failures;
    nh_advance(&H, 300000);
    assert_int_equal(D.state, TERN_DHCP_RENEWING);
    assert_int_equal(H.sent_count, 0);
    assert_int_equal(D.stats.entropy_refused, 1);
    assert_true(H.os.entropy_failures > failures);
    assert_true(sim_console_has(&H.sim, "error dhcp: entropy source failed"));
    uint8_t b[600];
    uint8_t f[1600];
    size_t n = reply(b, TERN_DHCP_ACK, 0, LEASE_IP, lease_opts, sizeof(lease_opts));
    size_t fl = nh_udp(f, nh_our_mac, nh_peer_mac, SERVER_IP, LEASE_IP, 67, 68, b, n);
    uint64_t drops = D.stats.drop_xid;
    nh_inject(&H, f, fl);
    assert_int_equal(D.stats.drop_xid, drops + 1);
    assert_int_equal(EV.renewed, 0);

    H.sim.entropy_fail = false;
    for (int i = 0; i < 4 && sent_of_type(0x0800) == 0; i++) {
        nh_advance(&H, 60000);
        answer_arp_for_server();
    }
    uint32_t dst;
    const uint8_t *m = sent_dhcp(H.sent_count - 1, &dst);
    assert_int_equal(msg_type(m), TERN_DHCP_REQUEST);
    uint32_t xid = tern_load_be32(m + 4);
    assert_int_equal(xid, D.xid);
    n = reply(b, TERN_DHCP_ACK, xid, LEASE_IP, lease_opts, sizeof(lease_opts));
    fl = nh_udp(f, nh_our_mac, nh_peer_mac, SERVER_IP, LEASE_IP, 67, 68, b, n);
    nh_inject(&H, f, fl);
    assert_int_equal(EV.renewed, 1);
    assert_int_equal(D.state, TERN_DHCP_BOUND);
}

/* A hostname given at start is option 12 in the DISCOVER and the
 * REQUEST that follows the offer; without one no message carries
 * option 12. */
static void test_hostname_option(void **state)
{
    (void)state;
    struct tern_dhcp_opts o = { .hostname = "web1.example" };
    assert_int_equal(tern_dhcp_start_opts(&D, &H.net, &o, on_event, &EV), TERN_OK);
    size_t len = 0;
    const uint8_t *name = sent_option(0, 12, &len);
    assert_non_null(name);
    assert_int_equal(len, 12);
    assert_memory_equal(name, "web1.example", 12);
    uint32_t xid = tern_load_be32(sent_dhcp(0, NULL) + 4);
    nh_clear_sent(&H);
    uint8_t b[600];
    inject_reply(b, reply(b, TERN_DHCP_OFFER, xid, LEASE_IP, lease_opts, sizeof(lease_opts)));
    assert_int_equal(msg_type(sent_dhcp(0, NULL)), TERN_DHCP_REQUEST);
    name = sent_option(0, 12, &len);
    assert_non_null(name);
    assert_memory_equal(name, "web1.example", len);
    nh_clear_sent(&H);
    inject_reply(b, reply(b, TERN_DHCP_ACK, xid, LEASE_IP, lease_opts, sizeof(lease_opts)));
    assert_int_equal(EV.bound, 1);
    tern_dhcp_stop(&D);

    nh_clear_sent(&H);
    assert_int_equal(tern_dhcp_start(&D, &H.net, on_event, &EV), TERN_OK);
    assert_null(sent_option(0, 12, &len));
    assert_non_null(sent_option(0, 61, &len));  /* the walk finds what is there */
}

/* A name that is not 1 to 63 characters of [A-Za-z0-9.-] is refused
 * before anything is sent; "" and NULL mean none. */
static void test_bad_hostname_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "web 1", "web_1", "web1\n", "h\xc3\xa9",
        "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd", /* 64 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct tern_dhcp_opts o = { .hostname = bad[i] };
        assert_int_equal(tern_dhcp_start_opts(&D, &H.net, &o, on_event, &EV), TERN_EINVAL);
        assert_int_equal(H.sent_count, 0);
        assert_int_equal(D.state, TERN_DHCP_STOPPED);
    }
    struct tern_dhcp_opts o = { .hostname = "" };
    assert_int_equal(tern_dhcp_start_opts(&D, &H.net, &o, on_event, &EV), TERN_OK);
    size_t len;
    assert_null(sent_option(0, 12, &len));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full_exchange_binds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_xid_and_mac_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parser_every_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parser_hostile_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_reply_on_the_wire_is_counted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_renew_at_t1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebind_then_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nak_restarts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mtu_option_applied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entropy_failure_refuses_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entropy_failure_at_renewal_sends_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hostname_option, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_hostname_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
