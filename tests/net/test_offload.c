/* Network offloads (platform.h: tern_net_meta, TERN_NET_OFFLOAD_*): what
 * tern_net_init demands of a device that announces them, the checks on
 * received metadata and their refusals, the L4 checksum skipped only where
 * the metadata vouches, large frames only from a device that announced
 * them, TCP checksums left to a TX_CSUM device (and completed in software
 * for any other), the software segmentation (tern_net_gso_segment) against a TSO
 * frame, the TSO output path down to the device's net_send_meta, and the
 * virtio_net_hdr encoding (byte layout, unknowns refused) and checksum
 * completion the backends share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net_harness.h"
#include "tern/inet.h"
#include "tern/tcp.h"

#define OUR_IP TERN_IPV4(192, 0, 2, 10)
#define PEER_IP TERN_IPV4(192, 0, 2, 1)
#define MASK24 0xffffff00u

#define RX_ALL (TERN_NET_OFFLOAD_RX_CSUM | TERN_NET_OFFLOAD_RX_LARGE)
#define TX_ALL (TERN_NET_OFFLOAD_TX_CSUM | TERN_NET_OFFLOAD_TX_TSO4)

static struct net_harness H;

static int setup_all(void **state)
{
    (void)state;
    if (nh_init_offloads(&H, 1500, RX_ALL | TX_ALL, true, NULL) != 0)
        return -1;
    return tern_net_set_addr(&H.net, 0, OUR_IP, MASK24, PEER_IP) == TERN_OK ? 0 : -1;
}

static int setup_none(void **state)
{
    (void)state;
    if (nh_init_offloads(&H, 1500, 0, true, NULL) != 0)
        return -1;
    return tern_net_set_addr(&H.net, 0, OUR_IP, MASK24, PEER_IP) == TERN_OK ? 0 : -1;
}

static int setup_csum_only(void **state)
{
    (void)state;
    if (nh_init_offloads(&H, 1500, TERN_NET_OFFLOAD_RX_CSUM, true, NULL) != 0)
        return -1;
    return tern_net_set_addr(&H.net, 0, OUR_IP, MASK24, PEER_IP) == TERN_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tern_net_set_addr(&H.net, 0, 0, 0, 0);
    nh_advance(&H, 60000);
    bool ok = nh_at_baseline(&H);
    nh_close(&H);
    return ok ? 0 : -1;
}

/* ---- frames ---- */

/* A TCP segment (20-byte header, flags, payload of n bytes i & 0xff) from
 * peer to us in an Ethernet frame at f; checksum full, or the partial
 * pseudo-header sum when partial. Returns the frame length. */
static size_t tcp_frame(uint8_t *f, uint32_t src, uint32_t dst, uint32_t seq, uint8_t flags,
                        size_t n, bool partial)
{
    memcpy(f, nh_our_mac, 6);
    memcpy(f + 6, nh_peer_mac, 6);
    tern_store_be16(f + 12, 0x0800);
    uint8_t *ip = f + 14;
    memset(ip, 0, 40);
    ip[0] = 0x45;
    tern_store_be16(ip + 2, (uint16_t)(40 + n));
    tern_store_be16(ip + 4, 0x1234);
    tern_store_be16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = 6;
    tern_store_be32(ip + 12, src);
    tern_store_be32(ip + 16, dst);
    tern_store_be16(ip + 10, tern_csum_finish(tern_csum_add(0, ip, 20)));
    uint8_t *t = ip + 20;
    tern_store_be16(t, 40000);      /* source port */
    tern_store_be16(t + 2, 5001);   /* destination port */
    tern_store_be32(t + 4, seq);
    tern_store_be32(t + 8, 777);    /* ack */
    t[12] = 0x50;                   /* data offset 5 */
    t[13] = flags;
    tern_store_be16(t + 14, 65535); /* window */
    for (size_t i = 0; i < n; i++)
        t[20 + i] = (uint8_t)i;
    uint32_t sum = tern_csum_pseudo_ipv4(src, dst, 6, (uint16_t)(20 + n));
    if (partial)
        tern_store_be16(t + 16, (uint16_t)~tern_csum_finish(sum));
    else
        tern_store_be16(t + 16, tern_csum_finish(tern_csum_add(sum, t, 20 + n)));
    return 14 + 40 + n;
}

static const struct tern_net_meta valid_meta = { .flags = TERN_NET_META_DATA_VALID };
static const struct tern_net_meta partial_meta = {
    .flags = TERN_NET_META_NEEDS_CSUM, .csum_start = 34, .csum_offset = 16,
};

struct probe {
    unsigned inputs, valid;
    size_t len;
};

static void probe_input(void *arg, uint32_t src, uint32_t dst, const void *seg, size_t len,
                        bool csum_valid)
{
    (void)src, (void)dst, (void)seg;
    struct probe *p = arg;
    p->inputs++;
    p->valid += csum_valid;
    p->len = len;
}

static void probe_icmp(void *arg, uint8_t t, uint8_t c, uint16_t m, const void *q, size_t n)
{
    (void)arg, (void)t, (void)c, (void)m, (void)q, (void)n;
}

/* ---- init ---- */

static void test_init_demands_the_calls(void **state)
{
    (void)state;
    struct net_harness *h = malloc(sizeof(*h));
    assert_non_null(h);
    tern_result r;
    /* an offload without its call */
    assert_int_equal(nh_init_offloads(h, 1500, TERN_NET_OFFLOAD_RX_CSUM, false, &r), -1);
    assert_int_equal(r, TERN_EINVAL);
    nh_close(h);
    assert_int_equal(nh_init_offloads(h, 1500, TERN_NET_OFFLOAD_TX_CSUM, false, &r), -1);
    assert_int_equal(r, TERN_EINVAL);
    nh_close(h);
    /* TSO without checksum offload, large receive without vouching */
    assert_int_equal(nh_init_offloads(h, 1500, TERN_NET_OFFLOAD_TX_TSO4, true, &r), -1);
    assert_int_equal(r, TERN_EINVAL);
    nh_close(h);
    assert_int_equal(nh_init_offloads(h, 1500, TERN_NET_OFFLOAD_RX_LARGE, true, &r), -1);
    assert_int_equal(r, TERN_EINVAL);
    nh_close(h);
    /* an unknown bit */
    assert_int_equal(nh_init_offloads(h, 1500, 0x100, true, &r), -1);
    assert_int_equal(r, TERN_EINVAL);
    nh_close(h);
    /* all of them, with the calls: one 64 KiB receive buffer, one TSO frame */
    assert_int_equal(nh_init_offloads(h, 1500, RX_ALL | TX_ALL, true, &r), 0);
    assert_true(h->net.rx_cap >= TERN_NET_LARGE_FRAME);
    assert_non_null(h->net.tso_buf);
    nh_close(h);
    /* none: as before this extension */
    assert_int_equal(nh_init_offloads(h, 1500, 0, false, &r), 0);
    assert_true(h->net.rx_cap < 2048);
    assert_null(h->net.tso_buf);
    nh_close(h);
    free(h);
}

/* ---- tern_net_meta_check ---- */

static void test_meta_check_refusals(void **state)
{
    (void)state;
    static uint8_t f[14 + 40 + 3000];
    size_t n = tcp_frame(f, PEER_IP, OUR_IP, 1000, 0x10, 3000, true);
    struct tern_net_meta m;
    /* accepted: nothing, vouched, partial at the TCP checksum, GSO */
    memset(&m, 0, sizeof(m));
    assert_int_equal(tern_net_meta_check(f, n, &m, 0), TERN_OK);
    assert_int_equal(tern_net_meta_check(f, n, &valid_meta, RX_ALL), TERN_OK);
    assert_int_equal(tern_net_meta_check(f, n, &partial_meta, RX_ALL), TERN_OK);
    m = partial_meta;
    m.gso_type = TERN_NET_GSO_TCPV4;
    m.gso_size = 1448;
    assert_int_equal(tern_net_meta_check(f, n, &m, RX_ALL), TERN_OK);

    struct {
        const char *what;
        struct tern_net_meta m;
        uint32_t offloads;
    } bad[] = {
        { "unknown flag", { .flags = 0x80 }, RX_ALL },
        { "unknown gso type", { .flags = TERN_NET_META_DATA_VALID, .gso_type = 9 }, RX_ALL },
        { "metadata from a device without RX_CSUM", { .flags = TERN_NET_META_DATA_VALID }, 0 },
        { "csum_start not at TCP", { .flags = 1, .csum_start = 36, .csum_offset = 16 }, RX_ALL },
        { "csum_offset not TCP's", { .flags = 1, .csum_start = 34, .csum_offset = 6 }, RX_ALL },
        { "csum_start out of the frame", { .flags = 1, .csum_start = 65000, .csum_offset = 16 },
          RX_ALL },
        { "gso_size 0", { .flags = 1, .gso_type = 1, .csum_start = 34, .csum_offset = 16 },
          RX_ALL },
        { "gso from a device without RX_LARGE",
          { .flags = 1, .gso_type = 1, .gso_size = 1448, .csum_start = 34, .csum_offset = 16 },
          TERN_NET_OFFLOAD_RX_CSUM },
        { "gso without vouching", { .gso_type = 1, .gso_size = 1448 }, RX_ALL },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (tern_net_meta_check(f, n, &bad[i].m, bad[i].offloads) != TERN_EINVAL)
            fail_msg("accepted: %s", bad[i].what);
    }
    /* GSO on UDP, and NEEDS_CSUM on a frame cut short before the header */
    f[14 + 9] = 17;
    m = partial_meta;
    m.csum_offset = 6;
    m.gso_type = TERN_NET_GSO_TCPV4;
    m.gso_size = 1448;
    assert_int_equal(tern_net_meta_check(f, n, &m, RX_ALL), TERN_EINVAL);
    m.gso_type = 0;
    assert_int_equal(tern_net_meta_check(f, n, &m, RX_ALL), TERN_OK); /* UDP partial is fine */
    f[14 + 9] = 6;
    assert_int_equal(tern_net_meta_check(f, 40, &partial_meta, RX_ALL), TERN_EINVAL);
    /* every truncation of the frame: refused or accepted, never read past */
    for (size_t cut = 0; cut < 60; cut++)
        (void)tern_net_meta_check(f, cut, &partial_meta, RX_ALL);
}

/* ---- receive ---- */

static void test_rx_checksum_skipped_only_when_vouched(void **state)
{
    (void)state;
    struct probe p = { 0 };
    tern_net_set_tcp_hooks(&H.net, probe_input, probe_icmp, &p);
    static uint8_t f[2000];
    size_t n = tcp_frame(f, PEER_IP, OUR_IP, 1, 0x10, 100, false);
    nh_inject(&H, f, n);
    assert_int_equal(p.inputs, 1);
    assert_int_equal(p.valid, 0); /* no metadata: TCP checks */
    nh_inject_meta(&H, f, n, &valid_meta);
    assert_int_equal(p.valid, 1);
    n = tcp_frame(f, PEER_IP, OUR_IP, 1, 0x10, 100, true);
    nh_inject_meta(&H, f, n, &partial_meta);
    assert_int_equal(p.inputs, 3);
    assert_int_equal(p.valid, 2);
    assert_int_equal(nh_counter(&H, "rx_csum_vouched"), 2);
    /* the IP header checksum is never vouched for */
    f[14 + 10] ^= 0xff;
    nh_inject_meta(&H, f, n, &partial_meta);
    assert_int_equal(p.inputs, 3);
    assert_int_equal(nh_counter(&H, "ip_drop_checksum"), 1);
    tern_net_set_tcp_hooks(&H.net, NULL, NULL, NULL);
}

static void test_rx_udp_vouched(void **state)
{
    (void)state;
    struct tern_udp_sock *u;
    assert_int_equal(tern_udp_open(&H.net, 7, NULL, NULL, &u), TERN_OK);
    uint8_t f[200];
    size_t n = nh_udp(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1234, 7, "hello", 5);
    f[14 + 20 + 6] ^= 0x55; /* break the UDP checksum */
    nh_inject(&H, f, n);
    assert_int_equal(nh_counter(&H, "udp_drop_checksum"), 1);
    nh_inject_meta(&H, f, n, &valid_meta);
    char buf[16];
    size_t got;
    assert_int_equal(tern_udp_recvfrom(u, buf, sizeof(buf), &got, NULL, NULL), TERN_OK);
    assert_int_equal(got, 5);
    tern_udp_close(u);
}

static void test_rx_large_frames(void **state)
{
    (void)state;
    struct probe p = { 0 };
    tern_net_set_tcp_hooks(&H.net, probe_input, probe_icmp, &p);
    static uint8_t f[14 + 40 + 8000];
    size_t n = tcp_frame(f, PEER_IP, OUR_IP, 1, 0x18, 8000, true);
    struct tern_net_meta m = partial_meta;
    m.gso_type = TERN_NET_GSO_TCPV4;
    m.gso_size = 1448;
    m.hdr_len = 54;
    /* without metadata a frame beyond the MTU is oversize */
    nh_inject(&H, f, n);
    assert_int_equal(nh_counter(&H, "rx_drop_oversize"), 1);
    nh_inject_meta(&H, f, n, &m);
    assert_int_equal(p.inputs, 1);
    assert_int_equal(p.len, 20 + 8000);
    assert_int_equal(p.valid, 1);
    assert_int_equal(nh_counter(&H, "rx_large_frames"), 1);
    /* a GSO claim on an ordinary-sized frame is fine too */
    n = tcp_frame(f, PEER_IP, OUR_IP, 1, 0x18, 1000, true);
    nh_inject_meta(&H, f, n, &m);
    assert_int_equal(p.inputs, 2);
    tern_net_set_tcp_hooks(&H.net, NULL, NULL, NULL);
}

/* A device that announced RX_CSUM but not RX_LARGE: large frames refused. */
static void test_rx_large_refused_when_not_announced(void **state)
{
    (void)state;
    struct probe p = { 0 };
    tern_net_set_tcp_hooks(&H.net, probe_input, probe_icmp, &p);
    static uint8_t f[14 + 40 + 8000];
    size_t n = tcp_frame(f, PEER_IP, OUR_IP, 1, 0x18, 8000, true);
    struct tern_net_meta m = partial_meta;
    m.gso_type = TERN_NET_GSO_TCPV4;
    m.gso_size = 1448;
    nh_inject_meta(&H, f, n, &m);
    assert_int_equal(p.inputs, 0); /* the receive buffer is MTU-sized: it never fits */
    assert_int_equal(nh_counter(&H, "rx_drop_oversize"), 1);
    tern_net_input_meta(&H.net, 0, f, n, &m); /* handed in whole: the metadata is refused */
    assert_int_equal(p.inputs, 0);
    assert_int_equal(nh_counter(&H, "rx_drop_bad_meta"), 1);
    /* bad metadata on an ordinary frame: refused, counted */
    n = tcp_frame(f, PEER_IP, OUR_IP, 1, 0x18, 100, true);
    m = partial_meta;
    m.csum_offset = 12;
    nh_inject_meta(&H, f, n, &m);
    assert_int_equal(p.inputs, 0);
    assert_int_equal(nh_counter(&H, "rx_drop_bad_meta"), 2);
    tern_net_set_tcp_hooks(&H.net, NULL, NULL, NULL);
}

/* A device with no offloads: any metadata is refused. */
static void test_rx_meta_refused_without_offloads(void **state)
{
    (void)state;
    uint8_t f[200];
    size_t n = nh_udp(f, nh_our_mac, nh_peer_mac, PEER_IP, OUR_IP, 1234, 7, "x", 1);
    tern_net_input_meta(&H.net, 0, f, n, &valid_meta);
    assert_int_equal(nh_counter(&H, "rx_drop_bad_meta"), 1);
}

/* ---- software segmentation ---- */

struct seg_log {
    unsigned n;
    size_t len[64];
    uint32_t seq[64];
    uint8_t flags[64];
    uint16_t id[64];
    bool csum_ok[64];
    bool ip_ok[64];
    size_t payload_total;
    bool bytes_ok;
};

static void seg_emit(void *arg, const uint8_t *f, size_t len)
{
    struct seg_log *l = arg;
    if (l->n == 64)
        return;
    const uint8_t *ip = f + 14, *t = ip + 20;
    size_t tl = tern_load_be16(ip + 2) - 20;
    l->len[l->n] = len;
    l->seq[l->n] = tern_load_be32(t + 4);
    l->flags[l->n] = t[13];
    l->id[l->n] = tern_load_be16(ip + 4);
    l->ip_ok[l->n] = tern_csum_finish(tern_csum_add(0, ip, 20)) == 0 && tl + 34 == len;
    uint32_t sum = tern_csum_pseudo_ipv4(tern_load_be32(ip + 12), tern_load_be32(ip + 16), 6,
                                         (uint16_t)tl);
    l->csum_ok[l->n] = tern_csum_finish(tern_csum_add(sum, t, tl)) == 0;
    for (size_t i = 20; i < tl; i++)
        if (t[i] != (uint8_t)(l->payload_total + i - 20))
            l->bytes_ok = false;
    l->payload_total += tl - 20;
    l->n++;
}

static void test_gso_segment(void **state)
{
    (void)state;
    static uint8_t f[14 + 40 + 10000], out[2000];
    size_t n = tcp_frame(f, OUR_IP, PEER_IP, 5000, 0x80 | 0x18 | 0x01, 10000, true);
    struct tern_net_meta m = partial_meta;
    m.gso_type = TERN_NET_GSO_TCPV4;
    m.gso_size = 1460;
    m.hdr_len = 54;
    struct seg_log l = { .bytes_ok = true };
    assert_int_equal(tern_net_gso_segment(f, n, &m, out, sizeof(out), seg_emit, &l), TERN_OK);
    assert_int_equal(l.n, 7); /* 6 x 1460 + 1240 */
    assert_int_equal(l.payload_total, 10000);
    assert_true(l.bytes_ok);
    for (unsigned i = 0; i < l.n; i++) {
        assert_true(l.csum_ok[i]);
        assert_true(l.ip_ok[i]);
        assert_int_equal(l.seq[i], 5000 + 1460 * i);
        assert_int_equal(l.id[i], (uint16_t)(0x1234 + i));
        bool last = i == l.n - 1;
        assert_int_equal((l.flags[i] & 0x09) != 0, last);   /* FIN, PSH */
        assert_int_equal((l.flags[i] & 0x80) != 0, i == 0); /* CWR */
        assert_true(l.flags[i] & 0x10);                     /* ACK everywhere */
        assert_int_equal(l.len[i], 54 + (last ? 1240 : 1460));
    }
    /* an out buffer too small, or metadata that disagrees: nothing emitted */
    struct seg_log z = { .bytes_ok = true };
    assert_int_equal(tern_net_gso_segment(f, n, &m, out, 1000, seg_emit, &z), TERN_EINVAL);
    m.csum_start = 30;
    assert_int_equal(tern_net_gso_segment(f, n, &m, out, sizeof(out), seg_emit, &z), TERN_EINVAL);
    assert_int_equal(z.n, 0);
    /* checksum completion alone */
    n = tcp_frame(f, OUR_IP, PEER_IP, 1, 0x18, 500, true);
    assert_int_equal(tern_net_gso_segment(f, n, &partial_meta, out, sizeof(out), seg_emit, &z),
                     TERN_OK);
    assert_int_equal(z.n, 1);
    assert_true(z.csum_ok[0]);
}

/* ---- virtio_net_hdr ---- */

static void test_vnet_header_layout(void **state)
{
    (void)state;
    struct tern_net_meta m = { .flags = TERN_NET_META_NEEDS_CSUM, .gso_type = TERN_NET_GSO_TCPV4,
                               .hdr_len = 0x0136, .gso_size = 0x05b4, .csum_start = 0x0022,
                               .csum_offset = 0x0010 };
    uint8_t h[TERN_VNET_HDR_LEN];
    tern_net_meta_to_vnet(h, &m);
    const uint8_t want[TERN_VNET_HDR_LEN] = { 1, 1, 0x36, 0x01, 0xb4, 0x05, 0x22, 0, 0x10, 0 };
    assert_memory_equal(h, want, sizeof(want));
    struct tern_net_meta back;
    tern_net_meta_from_vnet(&back, h);
    assert_memory_equal(&back, &m, sizeof(m));
    tern_net_meta_to_vnet(h, NULL);
    const uint8_t zero[TERN_VNET_HDR_LEN] = { 0 };
    assert_memory_equal(h, zero, sizeof(zero));
    /* DATA_VALID is receive-only: never written */
    struct tern_net_meta dv = { .flags = TERN_NET_META_DATA_VALID };
    tern_net_meta_to_vnet(h, &dv);
    assert_int_equal(h[0], 0);
}

static void test_vnet_header_unknowns_refused(void **state)
{
    (void)state;
    uint8_t f[14 + 40 + 100];
    size_t n = tcp_frame(f, PEER_IP, OUR_IP, 1, 0x18, 100, true);
    struct tern_net_meta m;
    /* RSC_INFO (flag 4), GSO UDP (3), TCPv6 (4), ECN (0x80) */
    const uint8_t bad[][TERN_VNET_HDR_LEN] = {
        { 4, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
        { 0, 3, 0, 0, 0, 0, 0, 0, 0, 0 },
        { 0, 4, 0, 0, 0, 0, 0, 0, 0, 0 },
        { 1, 0x81, 54, 0, 0xb4, 5, 34, 0, 16, 0 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tern_net_meta_from_vnet(&m, bad[i]);
        assert_int_equal(tern_net_meta_check(f, n, &m, RX_ALL), TERN_EINVAL);
    }
    const uint8_t partial[TERN_VNET_HDR_LEN] = { 1, 0, 0, 0, 0, 0, 34, 0, 16, 0 };
    tern_net_meta_from_vnet(&m, partial);
    assert_int_equal(tern_net_meta_check(f, n, &m, TERN_NET_OFFLOAD_RX_CSUM), TERN_OK);
}

static void test_offload_words(void **state)
{
    (void)state;
    char w[40];
    tern_net_offload_words(0, w, sizeof(w));
    assert_string_equal(w, "");
    tern_net_offload_words(TERN_NET_OFFLOAD_TX_CSUM | TERN_NET_OFFLOAD_RX_CSUM, w, sizeof(w));
    assert_string_equal(w, "tx-csum rx-csum");
    tern_net_offload_words(RX_ALL | TX_ALL, w, sizeof(w));
    assert_string_equal(w, "tx-csum tso rx-csum rx-large");
}

static void test_finish_csum(void **state)
{
    (void)state;
    uint8_t f[14 + 40 + 101 + 8];
    size_t n = tcp_frame(f, PEER_IP, OUR_IP, 1, 0x18, 101, false);
    uint16_t full = tern_load_be16(f + 50);
    n = tcp_frame(f, PEER_IP, OUR_IP, 1, 0x18, 101, true);
    memset(f + n, 0xa5, 8); /* Ethernet padding past the IPv4 packet: not summed */
    tern_net_finish_csum(f, n + 8, &partial_meta);
    assert_int_equal(tern_load_be16(f + 50), full);
    /* no NEEDS_CSUM, or the field outside the frame: nothing written */
    n = tcp_frame(f, PEER_IP, OUR_IP, 1, 0x18, 101, true);
    uint16_t before = tern_load_be16(f + 50);
    tern_net_finish_csum(f, n, &valid_meta);
    struct tern_net_meta far = partial_meta;
    far.csum_offset = 200;
    tern_net_finish_csum(f, n, &far);
    far.csum_start = 300;
    far.csum_offset = 0;
    tern_net_finish_csum(f, n, &far);
    assert_int_equal(tern_load_be16(f + 50), before);
}

/* ---- TSO output ---- */

static const uint8_t arp_reply_from_peer[42] = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, /* dst MAC: us */
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, /* src MAC: peer */
    0x08, 0x06,                         /* EtherType ARP */
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, /* Ethernet, IPv4, 6, 4 */
    0x00, 0x02,                         /* op reply */
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, /* sender MAC */
    0xc0, 0x00, 0x02, 0x01,             /* sender IP 192.0.2.1 */
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, /* target MAC */
    0xc0, 0x00, 0x02, 0x0a,             /* target IP 192.0.2.10 */
};

static void test_tso_output(void **state)
{
    (void)state;
    static uint8_t seg[20 + 5000];
    memset(seg, 0, sizeof(seg));
    tern_store_be16(seg, 5001);
    tern_store_be16(seg + 2, 40000);
    tern_store_be32(seg + 4, 100);
    seg[12] = 0x50;
    seg[13] = 0x18;
    for (size_t i = 0; i < 5000; i++)
        seg[20 + i] = (uint8_t)i;
    tern_store_be16(seg + 16, (uint16_t)~tern_csum_finish(
                                  tern_csum_pseudo_ipv4(OUR_IP, PEER_IP, 6, sizeof(seg))));
    /* MAC unknown: no offload now (the ordinary path resolves) */
    assert_int_equal(tern_net_tso_max(&H.net, PEER_IP), 0);
    assert_int_equal(tern_net_tcp_output_tso(&H.net, OUR_IP, PEER_IP, seg, sizeof(seg), 1460),
                     TERN_AGAIN);
    nh_inject(&H, arp_reply_from_peer, sizeof(arp_reply_from_peer));
    assert_int_equal(tern_net_tso_max(&H.net, PEER_IP), 65515);
    assert_int_equal(tern_net_tcp_output_tso(&H.net, OUR_IP, PEER_IP, seg, sizeof(seg), 1460),
                     TERN_OK);
    assert_int_equal(H.meta_sent, 1);
    assert_int_equal(H.tso_len, 14 + 20 + sizeof(seg));
    assert_int_equal(H.tso_meta.flags, TERN_NET_META_NEEDS_CSUM);
    assert_int_equal(H.tso_meta.gso_type, TERN_NET_GSO_TCPV4);
    assert_int_equal(H.tso_meta.gso_size, 1460);
    assert_int_equal(H.tso_meta.hdr_len, 54);
    assert_int_equal(H.tso_meta.csum_start, 34);
    assert_int_equal(H.tso_meta.csum_offset, 16);
    assert_memory_equal(H.tso_frame, nh_peer_mac, 6);
    assert_int_equal(tern_load_be16(H.tso_frame + 14 + 6), 0x4000); /* DF */
    /* what the wire would carry: 4 pieces, all checksums right */
    static uint8_t out[2000];
    struct seg_log l = { .bytes_ok = true };
    assert_int_equal(tern_net_gso_segment(H.tso_frame, H.tso_len, &H.tso_meta, out, sizeof(out),
                                          seg_emit, &l),
                     TERN_OK);
    assert_int_equal(l.n, 4);
    assert_true(l.bytes_ok);
    for (unsigned i = 0; i < l.n; i++)
        assert_true(l.csum_ok[i] && l.ip_ok[i]);
    assert_int_equal(nh_counter(&H, "tx_tso_frames"), 1);
    assert_int_equal(nh_counter(&H, "tx_tso_segments"), 4);
    /* a gso size beyond the MTU, or an mss of 0: refused */
    assert_int_equal(tern_net_tcp_output_tso(&H.net, OUR_IP, PEER_IP, seg, sizeof(seg), 1461),
                     TERN_EINVAL);
    assert_int_equal(tern_net_tcp_output_tso(&H.net, OUR_IP, PEER_IP, seg, sizeof(seg), 0),
                     TERN_EINVAL);
    assert_int_equal(H.meta_sent, 1);
}

/* ---- checksum offload on output ---- */

static int setup_tx_csum(void **state)
{
    (void)state;
    if (nh_init_offloads(&H, 1500, TERN_NET_OFFLOAD_TX_CSUM, true, NULL) != 0)
        return -1;
    return tern_net_set_addr(&H.net, 0, OUR_IP, MASK24, PEER_IP) == TERN_OK ? 0 : -1;
}

/* A 20-byte TCP header and n payload bytes from us to the peer, its
 * checksum field holding the folded pseudo-header sum. */
static size_t partial_segment(uint8_t *seg, size_t n)
{
    memset(seg, 0, 20);
    tern_store_be16(seg, 5001);
    tern_store_be16(seg + 2, 40000);
    seg[12] = 0x50;
    seg[13] = 0x18;
    for (size_t i = 0; i < n; i++)
        seg[20 + i] = (uint8_t)(i * 7);
    tern_store_be16(seg + 16, (uint16_t)~tern_csum_finish(
                                  tern_csum_pseudo_ipv4(OUR_IP, PEER_IP, 6, (uint16_t)(20 + n))));
    return 20 + n;
}

static bool tcp_csum_right(const uint8_t *f, size_t len)
{
    size_t tl = tern_load_be16(f + 16) - 20u;
    if (len < 34 + tl)
        return false;
    uint32_t sum = tern_csum_pseudo_ipv4(tern_load_be32(f + 26), tern_load_be32(f + 30), 6,
                                         (uint16_t)tl);
    return tern_csum_finish(tern_csum_add(sum, f + 34, tl)) == 0;
}

/* With the peer's MAC known: a 301-byte partial segment into seg
 * (20 + 301 bytes) sent through tern_net_tcp_output_partial, the frames
 * before it forgotten. Returns the segment's length. */
static size_t send_partial_segment(uint8_t *seg)
{
    nh_inject(&H, arp_reply_from_peer, sizeof(arp_reply_from_peer));
    size_t n = partial_segment(seg, 301);
    nh_clear_sent(&H);
    assert_int_equal(tern_net_tcp_output_partial(&H.net, OUR_IP, PEER_IP, seg, n), TERN_OK);
    return n;
}

static void test_partial_output_left_to_the_device(void **state)
{
    (void)state;
    uint8_t seg[20 + 301];
    size_t n = send_partial_segment(seg);
    assert_int_equal(H.meta_sent, 1);
    assert_int_equal(H.sent_count, 0);
    assert_int_equal(H.tso_meta.flags, TERN_NET_META_NEEDS_CSUM);
    assert_int_equal(H.tso_meta.gso_type, TERN_NET_GSO_NONE);
    assert_int_equal(H.tso_meta.csum_start, 34);
    assert_int_equal(H.tso_meta.csum_offset, 16);
    assert_int_equal(H.tso_len, 14 + 20 + n);
    assert_false(tcp_csum_right(H.tso_frame, H.tso_len)); /* partial as sent */
    tern_net_finish_csum(H.tso_frame, H.tso_len, &H.tso_meta);   /* what the device does */
    assert_true(tcp_csum_right(H.tso_frame, H.tso_len));
    assert_int_equal(nh_counter(&H, "tx_csum_offloaded"), 1);
    /* a short ACK is padded to 60 bytes with zeros, which the sum ignores */
    n = partial_segment(seg, 0);
    assert_int_equal(tern_net_tcp_output_partial(&H.net, OUR_IP, PEER_IP, seg, n), TERN_OK);
    assert_int_equal(H.tso_len, 60);
    tern_net_finish_csum(H.tso_frame, H.tso_len, &H.tso_meta);
    assert_true(tcp_csum_right(H.tso_frame, H.tso_len));
    assert_int_equal(tern_net_tcp_output_partial(&H.net, OUR_IP, PEER_IP, seg, 19), TERN_EINVAL);
}

static void test_partial_output_completed_without_the_offload(void **state)
{
    (void)state;
    uint8_t seg[20 + 301];
    send_partial_segment(seg);
    assert_int_equal(H.meta_sent, 0);
    assert_int_equal(H.sent_count, 1);
    assert_true(tcp_csum_right(H.sent[0].data, H.sent[0].len));
    assert_int_equal(nh_counter(&H, "tx_csum_offloaded"), 0);
}

/* TCP attached to a stack with a TX_CSUM device sends its segments (here
 * the SYN-ACK, and the RST that tern_tcp_finish sends) with the checksum
 * left to the device. */
static void test_tcp_leaves_checksums_to_the_device(void **state)
{
    (void)state;
    static struct tern_tcp tcp;
    struct tern_tcp_sock *ls;
    struct tern_tcp_config cfg;
    tern_tcp_config_default(&cfg);
    cfg.max_conns = 4; /* the harness heap is small */
    cfg.sndbuf = cfg.rcvbuf = 8192;
    assert_int_equal(tern_net_attach_tcp(&H.net, &tcp, &cfg), TERN_OK);
    assert_int_equal(tern_tcp_listen(&tcp, OUR_IP, 5001, 4, NULL, NULL, &ls), TERN_OK);
    nh_inject(&H, arp_reply_from_peer, sizeof(arp_reply_from_peer));
    uint8_t syn[14 + 40];
    size_t n = tcp_frame(syn, PEER_IP, OUR_IP, 1000, 0x02, 0, false);
    nh_inject(&H, syn, n);
    assert_int_equal(H.meta_sent, 1);
    assert_int_equal(H.tso_meta.flags, TERN_NET_META_NEEDS_CSUM);
    assert_int_equal(H.tso_frame[14 + 20 + 13], 0x12); /* SYN-ACK */
    tern_net_finish_csum(H.tso_frame, H.tso_len, &H.tso_meta);
    assert_true(tcp_csum_right(H.tso_frame, H.tso_len));
    tern_net_set_tcp_hooks(&H.net, NULL, NULL, NULL);
    tern_tcp_finish(&tcp);
    assert_int_equal(H.meta_sent, 2);
    assert_int_equal(H.tso_frame[14 + 20 + 13] & 0x04, 0x04); /* RST */
    tern_net_finish_csum(H.tso_frame, H.tso_len, &H.tso_meta);
    assert_true(tcp_csum_right(H.tso_frame, H.tso_len));
}

static void test_tso_needs_the_offload(void **state)
{
    (void)state;
    nh_inject(&H, arp_reply_from_peer, sizeof(arp_reply_from_peer));
    uint8_t seg[20 + 3000] = { [12] = 0x50 };
    assert_int_equal(tern_net_tso_max(&H.net, PEER_IP), 0);
    assert_int_equal(tern_net_tcp_output_tso(&H.net, OUR_IP, PEER_IP, seg, sizeof(seg), 1460),
                     TERN_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_demands_the_calls),
        cmocka_unit_test(test_meta_check_refusals),
        cmocka_unit_test(test_gso_segment),
        cmocka_unit_test(test_vnet_header_layout),
        cmocka_unit_test(test_vnet_header_unknowns_refused),
        cmocka_unit_test(test_finish_csum),
        cmocka_unit_test(test_offload_words),
        cmocka_unit_test_setup_teardown(test_rx_checksum_skipped_only_when_vouched, setup_all,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rx_udp_vouched, setup_all, teardown),
        cmocka_unit_test_setup_teardown(test_rx_large_frames, setup_all, teardown),
        cmocka_unit_test_setup_teardown(test_rx_large_refused_when_not_announced,
                                        setup_csum_only, teardown),
        cmocka_unit_test_setup_teardown(test_rx_meta_refused_without_offloads, setup_none,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tso_output, setup_all, teardown),
        cmocka_unit_test_setup_teardown(test_partial_output_left_to_the_device, setup_tx_csum,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_partial_output_completed_without_the_offload,
                                        setup_none, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_leaves_checksums_to_the_device, setup_tx_csum,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tso_needs_the_offload, setup_none, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
