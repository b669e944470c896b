/* The IPv4 stack below TCP: pools and counters, Ethernet, ARP, IPv4 and
 * reassembly, ICMP, UDP and the TCP seam, fed wire-format frames through
 * the real poller of a simulated device. Every test ends with the pools
 * full and the heap at its post-init baseline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net_harness.h"
#include "tern/inet.h"

#define OUR_IP TERN_IPV4(192, 0, 2, 10)
#define PEER_IP TERN_IPV4(192, 0, 2, 1)
#define OTHER_IP TERN_IPV4(192, 0, 2, 33)
#define FAR_IP TERN_IPV4(198, 51, 100, 7)
#define MASK24 0xffffff00u

static struct net_harness H;

static int setup(void **state)
{
    (void)state;
    if (nh_init(&H, 1500, NULL) != 0)
        return -1;
    return tern_net_set_addr(&H.net, 0, OUR_IP, MASK24, PEER_IP) == TERN_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    /* Unconfiguring flushes ARP; then nothing may be left held. */
    tern_net_set_addr(&H.net, 0, 0, 0, 0);
    nh_advance(&H, 60000);
    if (!nh_at_baseline(&H)) {
        print_error("leak: %u of %u pbufs free, heap %zu vs %zu\n", tern_net_pbufs_free(&H.net),
                    H.net.pool.total, H.os.heap.in_use, H.heap_baseline);
        nh_close(&H);
        return -1;
    }
    nh_close(&H);
    return 0;
}

/* An ARP reply from the peer (192.0.2.1 is-at 02:..:02), as on the wire. */
static const uint8_t arp_reply_from_peer[42] = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, /* dst MAC: us */
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, /* src MAC: peer */
    0x08, 0x06,                         /* EtherType ARP */
    0x00, 0x01,                         /* htype Ethernet */
    0x08, 0x00,                         /* ptype IPv4 */
    0x06, 0x04,                         /* hlen 6, plen 4 */
    0x00, 0x02,                         /* op reply */
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, /* sender MAC */
    0xc0, 0x00, 0x02, 0x01,             /* sender IP 192.0.2.1 */
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, /* target MAC */
    0xc0, 0x00, 0x02, 0x0a,             /* target IP 192.0.2.10 */
};

/* Resolves the peer so later tests see IP traffic, not ARP. */
static void learn_peer(void)
{
    nh_inject(&H, arp_reply_from_peer, sizeof(arp_reply_from_peer));
    nh_clear_sent(&H);
}

static void test_counters_named_and_iterable(void **state)
{
    (void)state;
    const char *name;
    uint64_t v;
    unsigned n = 0;
    bool saw_checksum = false;
    while (tern_net_counter(&H.net, n, &name, &v)) {
        assert_non_null(name);
        for (unsigned k = 0; k < n; k++) {
            const char *other;
            uint64_t ov;
            tern_net_counter(&H.net, k, &other, &ov);
            assert_string_not_equal(name, other);
        }
        if (strcmp(name, "ip_drop_checksum") == 0)
            saw_checksum = true;
        n++;
    }
    assert_int_equal(n, sizeof(struct tern_net_counters) / sizeof(uint64_t));
    assert_true(saw_checksum);
    assert_false(tern_net_counter(&H.net, n, &name, &v));
}

static void test_gratuitous_arp_on_address_change(void **state)
{
    (void)state;
    nh_clear_sent(&H);
    assert_int_equal(tern_net_set_addr(&H.net, 0, OTHER_IP, MASK24, PEER_IP), TERN_OK);
    assert_int_equal(H.sent_count, 1);
    const uint8_t *f = H.sent[0].data;
    assert_memory_equal(f, nh_bcast_mac, 6);
    assert_int_equal(tern_load_be16(f + 12), 0x0806);
    assert_int_equal(tern_load_be16(f + 20), 1);                  /* request */
    assert_int_equal(tern_load_be32(f + 28), OTHER_IP);           /* sender = */
    assert_int_equal(tern_load_be32(f + 38), OTHER_IP);           /* target */
    /* same address again: no announcement */
    assert_int_equal(tern_net_set_addr(&H.net, 0, OTHER_IP, MASK24, PEER_IP), TERN_OK);
    assert_int_equal(H.sent_count, 1);
    /* bad configurations are refused */
    assert_int_equal(tern_net_set_addr(&H.net, 0, OTHER_IP, 0xff00ff00u, 0), TERN_EINVAL);
    assert_int_equal(tern_net_set_addr(&H.net, 0, TERN_IPV4(192, 0, 2, 255), MASK24, 0),
                     TERN_EINVAL);
    assert_int_equal(tern_net_set_addr(&H.net, 0, OTHER_IP, MASK24, FAR_IP), TERN_EINVAL);
    assert_int_equal(tern_net_set_addr(&H.net, 3, OTHER_IP, MASK24, 0), TERN_ENOENT);
}

static void test_arp_request_answered(void **state)
{
    (void)state;
    static const uint8_t req[60] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* dst MAC: broadcast */
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, /* src MAC: peer */
        0x08, 0x06,                         /* ARP */
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, /* Ethernet/IPv4, 6/4 */
        0x00, 0x01,                         /* op request */
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, /* sender MAC */
        0xc0, 0x00, 0x02, 0x01,             /* sender IP 192.0.2.1 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* target MAC unknown */
        0xc0, 0x00, 0x02, 0x0a,             /* who has 192.0.2.10? */
        /* 18 bytes of Ethernet padding follow (zero) */
    };
    nh_clear_sent(&H);
    nh_inject(&H, req, sizeof(req));
    assert_int_equal(H.sent_count, 1);
    static const uint8_t reply[42] = {
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, /* to the asker */
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, /* from us */
        0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04,
        0x00, 0x02,                         /* op reply */
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, /* sender MAC: ours */
        0xc0, 0x00, 0x02, 0x0a,             /* sender IP: ours */
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, /* target MAC: asker */
        0xc0, 0x00, 0x02, 0x01,             /* target IP: asker */
    };
    assert_int_equal(H.sent[0].len, 60);
    assert_memory_equal(H.sent[0].data, reply, sizeof(reply));
    assert_int_equal(nh_counter(&H, "arp_replies_sent"), 1);

    /* a request for someone else is not answered */
    uint8_t other[60];
    memcpy(other, req, sizeof(other));
    other[41] = 0x21; /* 192.0.2.33 */
    nh_clear_sent(&H);
    nh_inject(&H, other, sizeof(other));
    assert_int_equal(H.sent_count, 0);
}

static void test_arp_hostile_counted(void **state)
{
    (void)state;
    uint8_t f[60];
    uint64_t before = nh_counter(&H, "arp_drop_malformed");
    /* every truncation of a valid reply: short ones are malformed */
    for (size_t len = 14; len < 42; len++) {
        memcpy(f, arp_reply_from_peer, len);
        nh_inject(&H, f, len);
    }
    assert_int_equal(nh_counter(&H, "arp_drop_malformed") - before, 42 - 14);
    /* wrong hardware size, wrong op */
    memcpy(f, arp_reply_from_peer, 42);
    f[18] = 8;
    nh_inject(&H, f, 42);
    memcpy(f, arp_reply_from_peer, 42);
    f[21] = 9;
    nh_inject(&H, f, 42);
    assert_int_equal(nh_counter(&H, "arp_drop_malformed") - before, 42 - 14 + 2);
    /* a broadcast sender MAC, and someone claiming our own address */
    memcpy(f, arp_reply_from_peer, 42);
    memset(f + 22, 0xff, 6);
    nh_inject(&H, f, 42);
    memcpy(f, arp_reply_from_peer, 42);
    f[31] = 0x0a;
    nh_inject(&H, f, 42);
    assert_int_equal(nh_counter(&H, "arp_drop_bad_sender"), 2);
    assert_int_equal(H.sent_count, 1); /* only the gratuitous ARP from setup */
}

static void test_arp_queue_retries_and_resolution(void **state)
{
    (void)state;
    struct tern_udp_sock *s;
    assert_int_equal(tern_udp_open(&H.net, 5000, NULL, NULL, &s), TERN_OK);
    nh_clear_sent(&H);
    /* 6 datagrams to an unresolved neighbour: 1 request, 4 queued, 2 refused */
    for (int i = 0; i < 6; i++) {
        tern_result r = tern_udp_sendto(s, OTHER_IP, 7, "x", 1);
        assert_int_equal(r, i < 4 ? TERN_OK : TERN_AGAIN);
    }
    assert_int_equal(H.sent_count, 1);
    assert_int_equal(tern_load_be32(H.sent[0].data + 38), OTHER_IP);
    assert_int_equal(nh_counter(&H, "arp_drop_queue_full"), 2);
    /* retried every second */
    nh_advance(&H, 1000);
    assert_int_equal(H.sent_count, 2);
    /* the answer releases the queue, in order, to the right MAC */
    uint8_t rep[42];
    memcpy(rep, arp_reply_from_peer, 42);
    rep[31] = 0x21; /* sender IP 192.0.2.33 */
    nh_clear_sent(&H);
    nh_inject(&H, rep, 42);
    assert_int_equal(H.sent_count, 4);
    for (unsigned i = 0; i < 4; i++) {
        assert_memory_equal(H.sent[i].data, nh_peer_mac, 6);
        assert_int_equal(tern_load_be32(H.sent[i].data + 14 + 16), OTHER_IP);
    }
    /* now cached: sent at once */
    nh_clear_sent(&H);
    assert_int_equal(tern_udp_sendto(s, OTHER_IP, 7, "y", 1), TERN_OK);
    assert_int_equal(H.sent_count, 1);
    /* aged out after arp_reachable_ms: the next packet asks again */
    nh_advance(&H, 61000);
    assert_int_equal(nh_counter(&H, "arp_expired"), 1);
    nh_clear_sent(&H);
    assert_int_equal(tern_udp_sendto(s, OTHER_IP, 7, "z", 1), TERN_OK);
    assert_int_equal(tern_load_be16(H.sent[0].data + 12), 0x0806);
    /* no answer: 3 requests in all, then the packet is dropped and counted */
    nh_advance(&H, 1000);
    nh_advance(&H, 1000);
    nh_advance(&H, 1000);
    assert_int_equal(H.sent_count, 3);
    assert_int_equal(nh_counter(&H, "arp_drop_unresolved"), 1);
    assert_int_equal(tern_net_pbufs_free(&H.net), H.net.pool.total);
    tern_udp_close(s);
}

static void test_arp_table_full_of_pending(void **state)
{
    (void)state;
    struct tern_net_config cfg;
    tern_net_config_default(&cfg);
    nh_close(&H);
    cfg.arp_entries = 2;
    assert_int_equal(nh_init(&H, 1500, &cfg), 0);
    assert_int_equal(tern_net_set_addr(&H.net, 0, OUR_IP, MASK24, PEER_IP), TERN_OK);
    struct tern_udp_sock *s;
    assert_int_equal(tern_udp_open(&H.net, 0, NULL, NULL, &s), TERN_OK);
    assert_true(tern_udp_port(s) >= 49152);
    assert_int_equal(tern_udp_sendto(s, TERN_IPV4(192, 0, 2, 50), 7, "a", 1), TERN_OK);
    assert_int_equal(tern_udp_sendto(s, TERN_IPV4(192, 0, 2, 51), 7, "a", 1), TERN_OK);
    assert_int_equal(tern_udp_sendto(s, TERN_IPV4(192, 0, 2, 52), 7, "a", 1), TERN_AGAIN);
    assert_int_equal(nh_counter(&H, "arp_drop_table_full"), 1);
    tern_udp_close(s);
}

/* ---- IPv4 ---- */

static void test_ipv4_hostile_headers(void **state)
{
    (void)state;
    learn_peer();
    uint8_t ping[16] = { 8, 0, 0, 0, 0x12, 0x34, 0, 1, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h' };
    tern_store_be16(ping + 2, tern_csum_finish(tern_csum_add(0, ping, sizeof(ping))));
    uint8_t good[64], f[64];
    size_t len = nh_ipv4(good, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1, 7, 0, ping,
                         sizeof(ping));

    memcpy(f, good, len);
    f[24] ^= 0x01; /* header checksum off by one bit (flip the checksum) */
    nh_inject(&H, f, len);
    assert_int_equal(nh_counter(&H, "ip_drop_checksum"), 1);

    memcpy(f, good, len);
    f[14] = 0x44; /* IHL 4: shorter than the fixed header */
    nh_inject(&H, f, len);
    memcpy(f, good, len);
    f[14] = 0x4f; /* IHL 15: 60 bytes, more than the frame holds */
    nh_inject(&H, f, len);
    assert_int_equal(nh_counter(&H, "ip_drop_hlen"), 2);

    memcpy(f, good, len);
    f[14] = 0x65; /* version 6 */
    nh_inject(&H, f, len);
    assert_int_equal(nh_counter(&H, "ip_drop_version"), 1);

    memcpy(f, good, len);
    tern_store_be16(f + 16, 200); /* total length past the frame */
    nh_inject(&H, f, len);
    memcpy(f, good, len);
    tern_store_be16(f + 16, 12); /* total length below the header */
    nh_inject(&H, f, len);
    assert_int_equal(nh_counter(&H, "ip_drop_len"), 2);

    /* sources: broadcast, multicast, our own */
    uint32_t bad_src[] = { 0xffffffffu, TERN_IPV4(224, 0, 0, 1), OUR_IP, 0 };
    for (unsigned i = 0; i < 4; i++) {
        size_t n = nh_ipv4(f, nh_our_mac, nh_peer_mac, bad_src[i], OUR_IP, 1, 7, 0, ping,
                           sizeof(ping));
        nh_inject(&H, f, n);
    }
    assert_int_equal(nh_counter(&H, "ip_drop_bad_src"), 4);

    /* for another host; and an unknown protocol */
    len = nh_ipv4(f, nh_our_mac, nh_peer_mac, PEER_IP, OTHER_IP, 1, 7, 0, ping, sizeof(ping));
    nh_inject(&H, f, len);
    assert_int_equal(nh_counter(&H, "ip_drop_not_for_us"), 1);
    len = nh_ipv4(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 99, 7, 0, ping, sizeof(ping));
    nh_inject(&H, f, len);
    assert_int_equal(nh_counter(&H, "ip_drop_proto"), 1);

    /* oversized frame (beyond MTU + 14) and a runt */
    static uint8_t big[1600];
    memcpy(big, good, 64);
    nh_inject(&H, big, sizeof(big));
    assert_int_equal(nh_counter(&H, "rx_drop_oversize"), 1);
    nh_inject(&H, good, 13);
    assert_int_equal(nh_counter(&H, "rx_drop_runt"), 1);
    /* nothing answered any of it */
    assert_int_equal(H.sent_count, 0);
    assert_int_equal(nh_counter(&H, "icmp_echo_replies"), 0);
}

static void test_ipv4_every_truncation(void **state)
{
    (void)state;
    learn_peer();
    uint8_t ping[40];
    memset(ping, 0x5a, sizeof(ping));
    ping[0] = 8;
    ping[1] = 0;
    tern_store_be16(ping + 2, 0);
    tern_store_be16(ping + 2, tern_csum_finish(tern_csum_add(0, ping, sizeof(ping))));
    uint8_t good[128];
    size_t len = nh_ipv4(good, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1, 7, 0, ping,
                         sizeof(ping));
    /* every prefix shorter than the packet is refused and counted once */
    for (size_t n = 0; n < len; n++) {
        uint8_t f[128];
        memcpy(f, good, n);
        uint64_t rx = nh_counter(&H, "rx_frames");
        nh_inject(&H, f, n);
        assert_int_equal(nh_counter(&H, "rx_frames"), rx + 1);
    }
    assert_int_equal(H.sent_count, 0);
    assert_int_equal(nh_counter(&H, "rx_drop_runt"), 14);
    assert_int_equal(nh_counter(&H, "ip_drop_short"), 20);
    assert_int_equal(nh_counter(&H, "ip_drop_len"), len - 34);
    /* the whole packet, with Ethernet padding after it, is answered */
    uint8_t padded[128];
    memcpy(padded, good, len);
    memset(padded + len, 0xee, 10);
    nh_inject(&H, padded, len + 10);
    assert_int_equal(H.sent_count, 1);
    assert_int_equal(nh_counter(&H, "icmp_echo_replies"), 1);
}

static void test_icmp_echo_reply(void **state)
{
    (void)state;
    learn_peer();
    /* ICMP echo request: type 8, code 0, checksum, id 0x1234, seq 1, "abcd" */
    uint8_t req[12] = { 0x08, 0x00, 0x00, 0x00, 0x12, 0x34, 0x00, 0x01, 'a', 'b', 'c', 'd' };
    tern_store_be16(req + 2, tern_csum_finish(tern_csum_add(0, req, sizeof(req))));
    uint8_t f[64];
    size_t len = nh_ipv4(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1, 7, 0, req, sizeof(req));
    nh_inject(&H, f, len);
    assert_int_equal(H.sent_count, 1);
    const uint8_t *r = H.sent[0].data;
    assert_memory_equal(r, nh_peer_mac, 6);
    assert_memory_equal(r + 6, nh_our_mac, 6);
    const uint8_t *ip = r + 14;
    assert_int_equal(ip[0], 0x45);
    assert_int_equal(tern_load_be16(ip + 2), 32);
    assert_int_equal(ip[9], 1);
    assert_int_equal(tern_load_be32(ip + 12), OUR_IP);
    assert_int_equal(tern_load_be32(ip + 16), PEER_IP);
    assert_int_equal(tern_csum_finish(tern_csum_add(0, ip, 20)), 0);
    const uint8_t *icmp = ip + 20;
    assert_int_equal(icmp[0], 0); /* echo reply */
    assert_memory_equal(icmp + 4, req + 4, 8);
    assert_int_equal(tern_csum_finish(tern_csum_add(0, icmp, 12)), 0);

    /* a bad ICMP checksum is counted, not answered */
    req[8] ^= 1;
    len = nh_ipv4(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1, 7, 0, req, sizeof(req));
    nh_inject(&H, f, len);
    assert_int_equal(nh_counter(&H, "icmp_drop_checksum"), 1);
    /* echo to the broadcast address is ignored (no smurf amplifier) */
    req[8] ^= 1;
    len = nh_ipv4(f, nh_bcast_mac, nh_peer_mac, PEER_IP, TERN_IPV4(192, 0, 2, 255), 1, 7, 0, req,
                  sizeof(req));
    nh_inject(&H, f, len);
    assert_int_equal(H.sent_count, 1);
}

/* Splits an ICMP echo request of plen bytes into fragments of at most
 * chunk payload bytes, in the order given by order[] (indices), and
 * injects them. Returns the number of fragments. */
static unsigned inject_fragmented_ping(const uint8_t *icmp, size_t plen, size_t chunk,
                                       uint16_t id, const unsigned *order)
{
    unsigned n = (unsigned)((plen + chunk - 1) / chunk);
    for (unsigned k = 0; k < n; k++) {
        unsigned i = order ? order[k] : k;
        size_t off = i * chunk;
        size_t len = plen - off < chunk ? plen - off : chunk;
        uint16_t frag = (uint16_t)((off / 8) | (i + 1 < n ? 0x2000 : 0));
        static uint8_t f[2048];
        size_t fl = nh_ipv4(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1, id, frag, icmp + off,
                            len);
        nh_inject(&H, f, fl);
    }
    return n;
}

static size_t make_ping(uint8_t *icmp, size_t plen)
{
    icmp[0] = 8;
    icmp[1] = 0;
    tern_store_be16(icmp + 2, 0);
    tern_store_be16(icmp + 4, 0x4242);
    tern_store_be16(icmp + 6, 9);
    for (size_t i = 8; i < plen; i++)
        icmp[i] = (uint8_t)(i * 7);
    tern_store_be16(icmp + 2, tern_csum_finish(tern_csum_add(0, icmp, plen)));
    return plen;
}

/* Reassembles the captured fragments of one reply into out; returns its
 * payload length, checking every header on the way. */
static size_t reassemble_sent(uint8_t *out, size_t cap)
{
    size_t total = 0, got = 0;
    for (unsigned i = 0; i < H.sent_count; i++) {
        const uint8_t *ip = H.sent[i].data + 14;
        assert_int_equal(tern_csum_finish(tern_csum_add(0, ip, 20)), 0);
        assert_true(tern_load_be16(ip + 2) <= 1500);
        uint16_t frag = tern_load_be16(ip + 6);
        size_t off = (size_t)(frag & 0x1fff) * 8, len = tern_load_be16(ip + 2) - 20u;
        assert_true(off + len <= cap);
        memcpy(out + off, ip + 20, len);
        got += len;
        if (!(frag & 0x2000))
            total = off + len;
    }
    assert_int_equal(got, total);
    return total;
}

static void test_large_ping_reassembled_and_reply_fragmented(void **state)
{
    (void)state;
    learn_peer();
    static uint8_t icmp[8000], back[8000];
    size_t plen = make_ping(icmp, 8000);
    /* fragments in reverse order */
    unsigned order[6] = { 5, 4, 3, 2, 1, 0 };
    assert_int_equal(inject_fragmented_ping(icmp, plen, 1480, 77, order), 6);
    assert_int_equal(nh_counter(&H, "frag_reassembled"), 1);
    assert_int_equal(H.sent_count, 6);
    assert_int_equal(reassemble_sent(back, sizeof(back)), plen);
    assert_int_equal(back[0], 0);
    assert_memory_equal(back + 4, icmp + 4, plen - 4);
    assert_int_equal(tern_csum_finish(tern_csum_add(0, back, plen)), 0);
    assert_int_equal(nh_counter(&H, "ip_tx_fragments"), 6);
}

static void test_fragments_hostile(void **state)
{
    (void)state;
    learn_peer();
    static uint8_t icmp[4000];
    static uint8_t f[2048];
    size_t plen = make_ping(icmp, 4000);
    size_t fl;

    /* overlap: [0,1480) then [1472, ...) drops the whole datagram */
    fl = nh_ipv4(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1, 1, 0x2000, icmp, 1480);
    nh_inject(&H, f, fl);
    fl = nh_ipv4(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1, 1, 0x2000 | (1472 / 8),
                 icmp + 1472, 64);
    nh_inject(&H, f, fl);
    assert_int_equal(nh_counter(&H, "frag_drop_overlap"), 1);
    /* and the rest of it no longer completes anything */
    fl = nh_ipv4(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1, 1, 0x2000 | (1480 / 8),
                 icmp + 1480, 1480);
    nh_inject(&H, f, fl);
    fl = nh_ipv4(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1, 1, 2960 / 8, icmp + 2960,
                 plen - 2960);
    nh_inject(&H, f, fl);
    assert_int_equal(nh_counter(&H, "frag_reassembled"), 0);

    /* a non-final fragment not a multiple of 8, an empty one */
    fl = nh_ipv4(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1, 2, 0x2000, icmp, 13);
    nh_inject(&H, f, fl);
    fl = nh_ipv4(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1, 2, 0x2000 | 5, icmp, 0);
    nh_inject(&H, f, fl);
    /* tiny TCP fragments (RFC 1858): first too short, and offset 8 */
    fl = nh_ipv4(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 6, 3, 0x2000, icmp, 16);
    nh_inject(&H, f, fl);
    fl = nh_ipv4(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 6, 3, 1, icmp, 40);
    nh_inject(&H, f, fl);
    assert_int_equal(nh_counter(&H, "frag_drop_bad"), 4);

    /* past the 64 KiB limit */
    fl = nh_ipv4(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1, 4, 0x1fff, icmp, 64);
    nh_inject(&H, f, fl);
    assert_int_equal(nh_counter(&H, "frag_drop_too_big"), 1);

    /* two final fragments that disagree */
    fl = nh_ipv4(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1, 5, 100, icmp, 64);
    nh_inject(&H, f, fl);
    fl = nh_ipv4(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1, 5, 200, icmp, 64);
    nh_inject(&H, f, fl);
    assert_int_equal(nh_counter(&H, "frag_drop_bad"), 5);
    assert_int_equal(H.sent_count, 0);
    nh_advance(&H, 31000); /* time out whatever is half-built */
}

static void test_reassembly_exhaustion_and_timeout(void **state)
{
    (void)state;
    learn_peer();
    static uint8_t icmp[3000];
    static uint8_t f[2048];
    make_ping(icmp, 3000);
    /* four datagrams (the slot count) each missing their last fragment */
    for (uint16_t id = 10; id < 14; id++) {
        size_t fl = nh_ipv4(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1, id, 0x2000, icmp,
                            1480);
        nh_inject(&H, f, fl);
    }
    /* a fifth is refused, not allowed to evict */
    size_t fl = nh_ipv4(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1, 99, 0x2000, icmp, 1480);
    nh_inject(&H, f, fl);
    assert_int_equal(nh_counter(&H, "frag_drop_no_slot"), 1);
    assert_int_equal(H.os.heap.in_use, H.heap_baseline); /* no memory grew */
    /* 30 s later all four time out and the slots are free again */
    nh_advance(&H, 29999);
    assert_int_equal(nh_counter(&H, "frag_timeout"), 0);
    nh_advance(&H, 1);
    assert_int_equal(nh_counter(&H, "frag_timeout"), 4);
    unsigned order[3] = { 2, 0, 1 };
    inject_fragmented_ping(icmp, 3000, 1480, 200, order);
    assert_int_equal(nh_counter(&H, "frag_reassembled"), 1);
    assert_int_equal(H.sent_count, 3);
}

/* ---- UDP ---- */

struct rx_note {
    int calls;
};

static void on_readable(struct tern_udp_sock *s, void *arg)
{
    (void)s;
    ((struct rx_note *)arg)->calls++;
}

static void test_udp_socket_roundtrip(void **state)
{
    (void)state;
    learn_peer();
    struct rx_note note = { 0 };
    struct tern_udp_sock *s, *dup;
    assert_int_equal(tern_udp_open(&H.net, 5353, on_readable, &note, &s), TERN_OK);
    assert_int_equal(tern_udp_open(&H.net, 5353, NULL, NULL, &dup), TERN_EEXIST);
    uint8_t f[128];
    size_t fl = nh_udp(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 4444, 5353, "hello", 5);
    nh_inject(&H, f, fl);
    assert_int_equal(note.calls, 1);
    char buf[16];
    size_t n;
    uint32_t from;
    uint16_t port;
    assert_int_equal(tern_udp_recvfrom(s, buf, sizeof(buf), &n, &from, &port), TERN_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(from, PEER_IP);
    assert_int_equal(port, 4444);
    assert_int_equal(tern_udp_recvfrom(s, buf, sizeof(buf), &n, &from, &port), TERN_AGAIN);

    /* a zero checksum means "none" and is accepted; a wrong one is not */
    f[14 + 20 + 6] = 0;
    f[14 + 20 + 7] = 0;
    nh_inject(&H, f, fl);
    assert_int_equal(note.calls, 2);
    f[14 + 20 + 7] = 1;
    nh_inject(&H, f, fl);
    assert_int_equal(nh_counter(&H, "udp_drop_checksum"), 1);
    /* UDP length larger than the IP payload; smaller than a header */
    fl = nh_udp(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 4444, 5353, "hello", 5);
    tern_store_be16(f + 14 + 20 + 4, 40);
    nh_inject(&H, f, fl);
    tern_store_be16(f + 14 + 20 + 4, 7);
    nh_inject(&H, f, fl);
    assert_int_equal(nh_counter(&H, "udp_drop_len"), 2);
    assert_int_equal(note.calls, 2);

    /* send: header, checksum over the pseudo-header */
    nh_clear_sent(&H);
    assert_int_equal(tern_udp_sendto(s, PEER_IP, 53, "query", 5), TERN_OK);
    assert_int_equal(H.sent_count, 1);
    const uint8_t *ip = H.sent[0].data + 14, *u = ip + 20;
    assert_int_equal(ip[9], 17);
    assert_int_equal(tern_load_be16(u), 5353);
    assert_int_equal(tern_load_be16(u + 2), 53);
    assert_int_equal(tern_load_be16(u + 4), 13);
    uint32_t sum = tern_csum_pseudo_ipv4(OUR_IP, PEER_IP, 17, 13);
    assert_int_equal(tern_csum_finish(tern_csum_add(sum, u, 13)), 0);
    assert_int_equal(tern_udp_recvfrom(s, buf, 2, &n, NULL, NULL), TERN_OK); /* truncated */
    assert_int_equal(n, 5);
    tern_udp_close(s);
}

static void test_udp_queue_bound_and_port_unreachable(void **state)
{
    (void)state;
    learn_peer();
    struct tern_udp_sock *s;
    assert_int_equal(tern_udp_open(&H.net, 9999, NULL, NULL, &s), TERN_OK);
    uint8_t f[128];
    size_t fl = nh_udp(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1, 9999, "d", 1);
    for (int i = 0; i < 20; i++)
        nh_inject(&H, f, fl);
    assert_int_equal(nh_counter(&H, "udp_drop_queue_full"), 4);
    assert_int_equal(tern_net_pbufs_free(&H.net), H.net.pool.total - 16);
    tern_udp_close(s); /* frees what it held */
    assert_int_equal(tern_net_pbufs_free(&H.net), H.net.pool.total);

    /* now closed: ICMP port unreachable quoting header + 8 bytes */
    nh_inject(&H, f, fl);
    assert_int_equal(H.sent_count, 1);
    const uint8_t *ip = H.sent[0].data + 14, *m = ip + 20;
    assert_int_equal(ip[9], 1);
    assert_int_equal(m[0], 3);
    assert_int_equal(m[1], 3);
    assert_int_equal(tern_load_be16(ip + 2), 20 + 8 + 20 + 8);
    assert_memory_equal(m + 8, f + 14, 28);
    assert_int_equal(tern_csum_finish(tern_csum_add(0, m, 36)), 0);
    /* broadcast datagrams never draw an error; and errors are rate limited */
    fl = nh_udp(f, nh_bcast_mac, nh_peer_mac, PEER_IP, 0xffffffffu, 1, 9999, "d", 1);
    nh_inject(&H, f, fl);
    assert_int_equal(H.sent_count, 1);
    fl = nh_udp(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1, 9999, "d", 1);
    for (int i = 0; i < 30; i++)
        nh_inject(&H, f, fl);
    assert_int_equal(nh_counter(&H, "icmp_unreach_sent"), 20);
    assert_int_equal(nh_counter(&H, "icmp_rate_limited"), 11);
}

static void test_routing(void **state)
{
    (void)state;
    learn_peer();
    struct tern_udp_sock *s;
    assert_int_equal(tern_udp_open(&H.net, 0, NULL, NULL, &s), TERN_OK);
    /* off-link goes to the gateway's MAC, with the far address in IP */
    assert_int_equal(tern_udp_sendto(s, FAR_IP, 7, "x", 1), TERN_OK);
    assert_int_equal(H.sent_count, 1);
    assert_memory_equal(H.sent[0].data, nh_peer_mac, 6);
    assert_int_equal(tern_load_be32(H.sent[0].data + 14 + 16), FAR_IP);
    /* limited broadcast: broadcast MAC, no ARP */
    assert_int_equal(tern_udp_sendto(s, 0xffffffffu, 67, "x", 1), TERN_OK);
    assert_memory_equal(H.sent[1].data, nh_bcast_mac, 6);
    /* no gateway: off-link has no route */
    assert_int_equal(tern_net_set_addr(&H.net, 0, OUR_IP, MASK24, 0), TERN_OK);
    assert_int_equal(tern_udp_sendto(s, FAR_IP, 7, "x", 1), TERN_ENOENT);
    assert_int_equal(nh_counter(&H, "ip_tx_drop_no_route"), 1);
    tern_udp_close(s);
}

/* ---- the TCP seam ---- */

struct tcp_probe {
    int inputs, errors;
    uint32_t src, dst;
    size_t len;
    uint8_t type, code;
    uint16_t mtu;
};

static void probe_input(void *arg, uint32_t src, uint32_t dst, const void *seg, size_t len,
                        bool csum_valid)
{
    (void)seg;
    (void)csum_valid;
    struct tcp_probe *p = arg;
    p->inputs++;
    p->src = src;
    p->dst = dst;
    p->len = len;
}

static void probe_icmp(void *arg, uint8_t type, uint8_t code, uint16_t mtu, const void *q,
                       size_t len)
{
    struct tcp_probe *p = arg;
    const uint8_t *ip = q;
    assert_true(len >= 28);
    assert_int_equal(ip[9], 6);
    p->errors++;
    p->type = type;
    p->code = code;
    p->mtu = mtu;
}

static void test_tcp_seam(void **state)
{
    (void)state;
    learn_peer();
    struct tcp_probe probe = { 0 };
    uint8_t seg[20] = { 0 };
    uint8_t f[1600];
    size_t fl = nh_ipv4(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 6, 1, 0, seg, 20);
    nh_inject(&H, f, fl);
    assert_int_equal(nh_counter(&H, "tcp_drop_no_handler"), 1);
    tern_net_set_tcp_hooks(&H.net, probe_input, probe_icmp, &probe);
    nh_inject(&H, f, fl);
    assert_int_equal(probe.inputs, 1);
    assert_int_equal(probe.src, PEER_IP);
    assert_int_equal(probe.dst, OUR_IP);
    assert_int_equal(probe.len, 20);

    /* output: DF set, never fragmented */
    static uint8_t big[1480];
    assert_int_equal(tern_net_tcp_output(&H.net, OUR_IP, PEER_IP, big, 1480), TERN_OK);
    assert_int_equal(tern_load_be16(H.sent[0].data + 14 + 6), 0x4000);
    assert_int_equal(tern_net_path_mtu(&H.net, PEER_IP), 1500);
    assert_int_equal(tern_net_tcp_output(&H.net, OUR_IP, PEER_IP, big, 1481), TERN_EINVAL);

    /* fragmentation needed, next-hop MTU 1400, quoting our segment */
    uint8_t m[8 + 28] = { 3, 4, 0, 0, 0, 0, 0x05, 0x78 };
    memcpy(m + 8, H.sent[0].data + 14, 28);
    tern_store_be16(m + 2, tern_csum_finish(tern_csum_add(0, m, sizeof(m))));
    fl = nh_ipv4(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1, 2, 0, m, sizeof(m));
    nh_inject(&H, f, fl);
    assert_int_equal(probe.errors, 1);
    assert_int_equal(probe.type, 3);
    assert_int_equal(probe.code, 4);
    assert_int_equal(probe.mtu, 1400);
    assert_int_equal(tern_net_path_mtu(&H.net, PEER_IP), 1400);
    assert_int_equal(tern_net_tcp_output(&H.net, OUR_IP, PEER_IP, big, 1400), TERN_EINVAL);
    /* a forged MTU below the floor is clamped */
    m[6] = 0;
    m[7] = 68;
    tern_store_be16(m + 2, 0);
    tern_store_be16(m + 2, tern_csum_finish(tern_csum_add(0, m, sizeof(m))));
    fl = nh_ipv4(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1, 3, 0, m, sizeof(m));
    nh_inject(&H, f, fl);
    assert_int_equal(tern_net_path_mtu(&H.net, PEER_IP), TERN_PMTU_MIN);
    /* an error quoting a packet we did not send is refused */
    tern_store_be32(m + 8 + 12, FAR_IP);
    tern_store_be16(m + 2, 0);
    tern_store_be16(m + 2, tern_csum_finish(tern_csum_add(0, m, sizeof(m))));
    fl = nh_ipv4(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1, 4, 0, m, sizeof(m));
    nh_inject(&H, f, fl);
    assert_int_equal(nh_counter(&H, "icmp_drop_bad_quote"), 1);
    assert_int_equal(probe.errors, 2);
    /* the lowered MTU expires */
    nh_advance(&H, 600001);
    assert_int_equal(tern_net_path_mtu(&H.net, PEER_IP), 1500);
    tern_net_set_tcp_hooks(&H.net, NULL, NULL, NULL);
}

static void test_pool_exhaustion_is_again(void **state)
{
    (void)state;
    learn_peer();
    struct tern_udp_sock *socks[16];
    uint8_t f[128];
    /* hold every pbuf in socket queues */
    for (int i = 0; i < 16; i++)
        assert_int_equal(tern_udp_open(&H.net, (uint16_t)(6000 + i), NULL, NULL, &socks[i]),
                         TERN_OK);
    for (int i = 0; i < 16; i++) {
        size_t fl = nh_udp(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1,
                           (uint16_t)(6000 + i), "z", 1);
        for (int k = 0; k < 16; k++)
            nh_inject(&H, f, fl);
    }
    assert_int_equal(tern_net_pbufs_free(&H.net), 0);
    assert_int_equal(tern_udp_sendto(socks[0], PEER_IP, 9, "x", 1), TERN_AGAIN);
    assert_int_equal(nh_counter(&H, "ip_tx_drop_no_pbuf"), 1);
    for (int i = 0; i < 16; i++)
        tern_udp_close(socks[i]);
    assert_int_equal(tern_net_pbufs_free(&H.net), H.net.pool.total);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counters_named_and_iterable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gratuitous_arp_on_address_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arp_request_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arp_hostile_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arp_queue_retries_and_resolution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arp_table_full_of_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipv4_hostile_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipv4_every_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_icmp_echo_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_ping_reassembled_and_reply_fragmented, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fragments_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reassembly_exhaustion_and_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_socket_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_queue_bound_and_port_unreachable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_routing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_seam, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_exhaustion_is_again, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
