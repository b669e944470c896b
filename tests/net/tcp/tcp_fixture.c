/* Interface: see tcp_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tcp_fixture.h"
#include "tern/inet.h"

static tern_result cap_output(void *ctx, uint32_t src, uint32_t dst, const void *seg, size_t len)
{
    struct fx *f = ctx;
    const uint8_t *p = seg;
    assert_true(len >= 20);
    assert_true(len + 20 <= f->mtu);
    uint32_t sum = tern_csum_pseudo_ipv4(src, dst, 6, (uint16_t)len);
    assert_int_equal(tern_csum_finish(tern_csum_add(sum, seg, len)), 0);
    struct out_seg *o = &f->cap[f->ncap % CAP_MAX];
    f->ncap++;
    o->src = src;
    o->dst = dst;
    o->sport = tern_load_be16(p);
    o->dport = tern_load_be16(p + 2);
    o->seq = tern_load_be32(p + 4);
    o->ack = tern_load_be32(p + 8);
    o->flags = p[13];
    o->wnd = tern_load_be16(p + 14);
    size_t off = (size_t)(p[12] >> 4) * 4;
    o->optlen = off - 20;
    memcpy(o->opts, p + 20, o->optlen);
    o->len = len - off;
    memcpy(o->data, p + off, o->len);
    return f->refuse_output ? TERN_AGAIN : TERN_OK;
}

static uint16_t cap_mtu(void *ctx, uint32_t dst)
{
    (void)dst;
    return ((struct fx *)ctx)->mtu;
}

struct fx *fx_new(const struct tern_tcp_config *cfg)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->cap = calloc(CAP_MAX, sizeof(*f->cap));
    assert_non_null(f->cap);
    f->mtu = 1500;
    assert_int_equal(sim_platform_init(&f->plat, 16u << 20, 42), 0);
    struct tern_platform plat = sim_platform(&f->plat);
    struct tern_config oc;
    tern_config_default(&oc);
    oc.console_level = TERN_LOG_ERROR;
    assert_int_equal(tern_os_init(&f->os, &plat, &oc), TERN_OK);
    if (cfg) {
        f->cfg = *cfg;
    } else {
        tern_tcp_config_default(&f->cfg);
        f->cfg.max_conns = 8;
        f->cfg.sndbuf = 16384;
        f->cfg.rcvbuf = 16384;
        f->cfg.grow_bytes = 0; /* fixed 16 KiB buffers (growth: its own tests) */
        f->cfg.backlog_max = 4;
    }
    struct tern_tcp_lower lower = { .output = cap_output, .path_mtu = cap_mtu, .ctx = f };
    assert_int_equal(tern_tcp_init(&f->tcp, &f->os, &lower, &f->cfg), TERN_OK);
    tern_heap_get_stats(&f->os.heap, &f->base);
    return f;
}

void fx_free_checked(struct fx *f)
{
    assert_int_equal(tern_tcp_pcbs_in_use(&f->tcp), 0);
    struct tern_heap_stats h;
    tern_heap_get_stats(&f->os.heap, &h);
    assert_int_equal(h.in_use, f->base.in_use);
    assert_int_equal(h.allocations, f->base.allocations);
    tern_tcp_finish(&f->tcp);
    sim_platform_close(&f->plat);
    free(f->cap);
    free(f);
}

void fx_advance_ms(struct fx *f, uint64_t ms)
{
    uint64_t end = f->plat.now_ns + ms * 1000000ull;
    for (;;) {
        uint64_t d = tern_os_step(&f->os, 0);
        if (d > end)
            break;
        if (d > f->plat.now_ns)
            f->plat.now_ns = d;
    }
    f->plat.now_ns = end;
    tern_os_step(&f->os, 0);
}

void fx_input_raw(struct fx *f, uint8_t *seg, size_t len, bool fix_csum)
{
    if (fix_csum && len >= 20) {
        seg[16] = seg[17] = 0;
        uint32_t sum = tern_csum_pseudo_ipv4(PEER, US, 6, (uint16_t)len);
        tern_store_be16(seg + 16, tern_csum_finish(tern_csum_add(sum, seg, len)));
    }
    tern_tcp_input(&f->tcp, PEER, US, seg, len);
}

void fx_send(struct fx *f, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
             uint8_t flags, uint16_t wnd, const uint8_t *opts, size_t optlen, const void *data,
             size_t dlen)
{
    static uint8_t buf[20 + 40 + 9000];
    size_t hl = 20 + optlen;
    assert_true(optlen % 4 == 0 && optlen <= 40 && dlen <= 9000);
    memset(buf, 0, hl);
    tern_store_be16(buf, sport);
    tern_store_be16(buf + 2, dport);
    tern_store_be32(buf + 4, seq);
    tern_store_be32(buf + 8, ack);
    buf[12] = (uint8_t)((hl / 4) << 4);
    buf[13] = flags;
    tern_store_be16(buf + 14, wnd);
    if (optlen)
        memcpy(buf + 20, opts, optlen);
    if (dlen)
        memcpy(buf + hl, data, dlen);
    fx_input_raw(f, buf, hl + dlen, true);
}

const struct out_seg *fx_cap(struct fx *f, unsigned n)
{
    assert_true(n < f->ncap && f->ncap - n <= CAP_MAX);
    return &f->cap[n % CAP_MAX];
}

const struct out_seg *fx_last(struct fx *f)
{
    assert_true(f->ncap > 0);
    return fx_cap(f, f->ncap - 1);
}

struct tern_tcp_sock *fx_passive(struct fx *f, struct tern_tcp_sock **ls, uint16_t sport,
                                 uint32_t peer_isn, uint32_t *our_isn)
{
    static const uint8_t mss_opt[4] = { 2, 4, 0x05, 0xb4 }; /* MSS 1460 */
    if (!*ls)
        assert_int_equal(tern_tcp_listen(&f->tcp, 0, 80, 4, NULL, NULL, ls), TERN_OK);
    unsigned before = f->ncap;
    fx_send(f, sport, 80, peer_isn, 0, F_SYN, 65535, mss_opt, 4, NULL, 0);
    assert_int_equal(f->ncap, before + 1);
    const struct out_seg *sa = fx_last(f);
    assert_int_equal(sa->flags, F_SYN | F_ACK);
    assert_int_equal(sa->ack, peer_isn + 1);
    *our_isn = sa->seq;
    fx_send(f, sport, 80, peer_isn + 1, sa->seq + 1, F_ACK, 65535, NULL, 0, NULL, 0);
    struct tern_tcp_sock *s = NULL;
    assert_int_equal(tern_tcp_accept(*ls, &s), TERN_OK);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_ESTABLISHED);
    return s;
}
