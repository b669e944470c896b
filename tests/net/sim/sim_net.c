/* Interface: see sim_net.h. Hosted test code: malloc is fine here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_net.h"

struct sim_pkt {
    uint64_t at, seq;
    unsigned from, to;
    bool icmp;           /* an ICMP error for `to`: data = type, code, mtu, quote */
    uint32_t src, dst;
    size_t len;
    uint8_t data[];
};

uint64_t sim_rand(uint64_t *state)
{
    /* splitmix64 */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool roll(struct sim_net *net, uint32_t ppm)
{
    return ppm && (sim_rand(&net->rng) % 1000000u) < ppm;
}

static bool pkt_before(const struct sim_pkt *a, const struct sim_pkt *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_push(struct sim_net *net, struct sim_pkt *p)
{
    if (net->npkts == net->cap) {
        net->cap = net->cap ? net->cap * 2 : 256;
        net->heap = realloc(net->heap, net->cap * sizeof(*net->heap));
        if (!net->heap)
            abort();
    }
    uint32_t i = net->npkts++;
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!pkt_before(p, net->heap[parent]))
            break;
        net->heap[i] = net->heap[parent];
        i = parent;
    }
    net->heap[i] = p;
}

static struct sim_pkt *heap_pop(struct sim_net *net)
{
    struct sim_pkt *top = net->heap[0];
    struct sim_pkt *last = net->heap[--net->npkts];
    uint32_t i = 0;
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        const struct sim_pkt *best = last;
        if (l < net->npkts && pkt_before(net->heap[l], best)) {
            m = l;
            best = net->heap[l];
        }
        if (r < net->npkts && pkt_before(net->heap[r], best))
            m = r;
        if (m == i)
            break;
        net->heap[i] = net->heap[m];
        i = m;
    }
    if (net->npkts)
        net->heap[i] = last;
    return top;
}

static void enqueue_kind(struct sim_net *net, unsigned from, unsigned to, uint32_t src,
                         uint32_t dst, const void *seg, size_t len, uint64_t at, bool icmp)
{
    struct sim_pkt *p = malloc(sizeof(*p) + len);
    if (!p)
        abort();
    p->at = at;
    p->seq = net->pkt_seq++;
    p->from = from;
    p->to = to;
    p->src = src;
    p->dst = dst;
    p->len = len;
    p->icmp = icmp;
    memcpy(p->data, seg, len);
    net->links[from][to].queued++;
    heap_push(net, p);
}

static void enqueue(struct sim_net *net, unsigned from, unsigned to, uint32_t src, uint32_t dst,
                    const void *seg, size_t len, uint64_t at)
{
    enqueue_kind(net, from, to, src, dst, seg, len, at, false);
}

static tern_result node_output(void *ctx, uint32_t src, uint32_t dst, const void *seg, size_t len)
{
    struct sim_node *n = ctx;
    struct sim_net *net = n->net;
    unsigned to = SIM_MAX_NODES;
    for (unsigned i = 0; i < net->nnodes; i++)
        if (net->nodes[i]->addr == dst)
            to = i;
    if (to == SIM_MAX_NODES || src != n->addr)
        return TERN_OK; /* nowhere to go: lost */
    struct sim_link *l = &net->links[n->idx][to];
    l->sent++;
    if (len + 20 > l->p.mtu) {
        if (!l->p.icmp_too_big)
            abort(); /* TCP must never exceed the path MTU */
        /* The router answers with fragmentation needed (type 3 code 4),
         * quoting the IPv4 header and 8 bytes, after the link delay. */
        l->too_big++;
        uint8_t q[4 + 28];
        memset(q, 0, sizeof(q));
        q[0] = 3;
        q[1] = 4;
        q[2] = (uint8_t)(l->p.mtu >> 8);
        q[3] = (uint8_t)l->p.mtu;
        q[4] = 0x45;
        q[4 + 9] = 6;
        for (int k = 0; k < 4; k++) {
            q[4 + 12 + k] = (uint8_t)(src >> (24 - 8 * k));
            q[4 + 16 + k] = (uint8_t)(dst >> (24 - 8 * k));
        }
        memcpy(q + 4 + 20, seg, 8);
        enqueue_kind(net, to, n->idx, dst, src, q, sizeof(q), net->now + l->p.delay_ns, true);
        return TERN_OK;
    }
    if (l->p.queue_max && l->queued >= l->p.queue_max) {
        l->tail_dropped++;
        return TERN_OK;
    }
    if (roll(net, l->p.loss_ppm)) {
        l->lost++;
        return TERN_OK;
    }
    uint64_t start = l->busy_until > net->now ? l->busy_until : net->now;
    uint64_t tx = l->p.bandwidth_bps ? (uint64_t)(len + 20) * 8ull * 1000000000ull /
                                           l->p.bandwidth_bps
                                     : 0;
    l->busy_until = start + tx;
    uint64_t at = start + tx + l->p.delay_ns;
    if (roll(net, l->p.reorder_ppm) && l->p.reorder_extra_ns) {
        l->reordered++;
        at += 1 + sim_rand(&net->rng) % l->p.reorder_extra_ns;
    }
    enqueue(net, n->idx, to, src, dst, seg, len, at);
    if (roll(net, l->p.dup_ppm)) {
        l->duplicated++;
        enqueue(net, n->idx, to, src, dst, seg, len,
                at + 1 + sim_rand(&net->rng) % (l->p.delay_ns + 1));
    }
    return TERN_OK;
}

/* ---- the TSO referee ---- */

/* RFC 1071 in its plainest form, independent of core/lib/inet.c. */
static uint16_t ref_sum(uint32_t src, uint32_t dst, const uint8_t *seg, size_t len)
{
    uint64_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 6 + len;
    for (size_t i = 0; i + 1 < len; i += 2)
        s += (uint32_t)seg[i] << 8 | seg[i + 1];
    if (len & 1)
        s += (uint32_t)seg[len - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static void referee_fail(struct sim_net *net, const char *why, uint32_t seq)
{
    if (net->referee_errors++ == 0)
        snprintf(net->referee_why, sizeof(net->referee_why), "%s (seq %u)", why, seq);
}

static uint16_t node_path_mtu(void *ctx, uint32_t dst);

/* The checksum field of a segment the device is to finish holds the
 * pseudo-header sum over the whole length, folded, not inverted. */
static bool partial_sum_ok(uint32_t src, uint32_t dst, const uint8_t *seg, size_t len)
{
    uint64_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 6 + len;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return ((uint16_t)seg[16] << 8 | seg[17]) == (uint16_t)s;
}

/* Checksum offload: checks the partial sum, completes the checksum as
 * the device would and sends the segment on as an ordinary one. */
static tern_result node_output_partial(void *ctx, uint32_t src, uint32_t dst, const void *segment,
                                       size_t len)
{
    struct sim_node *n = ctx;
    struct sim_net *net = n->net;
    const uint8_t *seg = segment;
    net->partial_segments++;
    if (len < 20 || len > 65535 - 20) {
        referee_fail(net, "partial segment length out of range", 0);
        return TERN_EINVAL;
    }
    uint32_t seq = (uint32_t)seg[4] << 24 | (uint32_t)seg[5] << 16 | (uint32_t)seg[6] << 8 | seg[7];
    if (!partial_sum_ok(src, dst, seg, len))
        referee_fail(net, "partial checksum is not the pseudo-header sum", seq);
    uint8_t *whole = malloc(len);
    if (!whole)
        abort();
    memcpy(whole, seg, len);
    whole[16] = whole[17] = 0;
    uint16_t c = ref_sum(src, dst, whole, len);
    whole[16] = (uint8_t)(c >> 8);
    whole[17] = (uint8_t)c;
    tern_result r = node_output(ctx, src, dst, whole, len);
    free(whole);
    return r;
}

static uint32_t node_tso_max(void *ctx, uint32_t dst)
{
    struct sim_node *n = ctx;
    (void)dst;
    return ++n->net->tso_max_calls % 7 == 0 ? 0 : 65535 - 20;
}

static tern_result node_output_tso(void *ctx, uint32_t src, uint32_t dst, const void *segment,
                                   size_t len, uint16_t mss)
{
    struct sim_node *n = ctx;
    struct sim_net *net = n->net;
    const uint8_t *seg = segment;
    net->tso_frames++;
    if (len < 20 || len > 65535 - 20) {
        referee_fail(net, "TSO frame length out of range", 0);
        return TERN_EINVAL;
    }
    size_t thl = (size_t)(seg[12] >> 4) * 4;
    uint32_t seq = (uint32_t)seg[4] << 24 | (uint32_t)seg[5] << 16 | (uint32_t)seg[6] << 8 | seg[7];
    if (thl < 20 || thl > len || mss == 0) {
        referee_fail(net, "bad TCP header length or mss", seq);
        return TERN_EINVAL;
    }
    size_t payload = len - thl;
    if (payload <= mss)
        referee_fail(net, "TSO frame no larger than one mss", seq);
    if (20 + thl + mss > node_path_mtu(ctx, dst))
        referee_fail(net, "gso size beyond the path MTU", seq);
    if (seg[13] & 0x06)
        referee_fail(net, "SYN or RST in a TSO frame", seq);
    if (!partial_sum_ok(src, dst, seg, len))
        referee_fail(net, "partial checksum is not the pseudo-header sum", seq);
    uint8_t *piece = malloc(thl + mss);
    if (!piece)
        abort();
    uint32_t expect_seq = seq;
    uint8_t flags = seg[13];
    for (size_t off = 0, k = 0; off < payload; off += mss, k++) {
        size_t m = payload - off < mss ? payload - off : mss;
        bool last = off + m == payload;
        memcpy(piece, seg, thl);
        memcpy(piece + thl, seg + thl + off, m);
        uint32_t s = seq + (uint32_t)off;
        piece[4] = (uint8_t)(s >> 24);
        piece[5] = (uint8_t)(s >> 16);
        piece[6] = (uint8_t)(s >> 8);
        piece[7] = (uint8_t)s;
        uint8_t f = flags;
        if (!last)
            f &= (uint8_t)~0x09; /* FIN, PSH */
        if (k > 0)
            f &= (uint8_t)~0x80; /* CWR */
        piece[13] = f;
        piece[16] = piece[17] = 0;
        uint16_t c = ref_sum(src, dst, piece, thl + m);
        piece[16] = (uint8_t)(c >> 8);
        piece[17] = (uint8_t)c;
        /* the checks on what the wire carries */
        if (thl + m + 20 > node_path_mtu(ctx, dst))
            referee_fail(net, "piece larger than the MTU", s);
        if (ref_sum(src, dst, piece, thl + m) != 0)
            referee_fail(net, "piece checksum wrong", s);
        if (s != expect_seq)
            referee_fail(net, "pieces not contiguous", s);
        if (((piece[13] & 0x09) && !last) || ((piece[13] & 0x80) && k > 0))
            referee_fail(net, "flags on the wrong piece", s);
        expect_seq = s + (uint32_t)m;
        net->tso_pieces++;
        node_output(ctx, src, dst, piece, thl + m);
    }
    free(piece);
    return TERN_OK;
}

static uint16_t node_path_mtu(void *ctx, uint32_t dst)
{
    struct sim_node *n = ctx;
    struct sim_net *net = n->net;
    for (unsigned i = 0; i < net->nnodes; i++)
        if (net->nodes[i]->addr == dst)
            return net->links[n->idx][i].p.reported_mtu ? net->links[n->idx][i].p.reported_mtu
                                                        : net->links[n->idx][i].p.mtu;
    return 576;
}

struct sim_net *sim_net_new(uint64_t seed)
{
    struct sim_net *net = calloc(1, sizeof(*net));
    if (!net)
        abort();
    net->rng = seed;
    net->now = 1000000000ull;
    return net;
}

void sim_net_free(struct sim_net *net)
{
    for (uint32_t i = 0; i < net->npkts; i++)
        free(net->heap[i]);
    free(net->heap);
    for (unsigned i = 0; i < net->nnodes; i++) {
        sim_platform_close(&net->nodes[i]->plat);
        free(net->nodes[i]);
    }
    free(net);
}

struct sim_node *sim_net_add_node(struct sim_net *net, uint32_t addr, size_t heap_size,
                                  const struct tern_tcp_config *cfg)
{
    if (net->nnodes == SIM_MAX_NODES)
        abort();
    struct sim_node *n = calloc(1, sizeof(*n));
    if (!n)
        abort();
    n->net = net;
    n->idx = net->nnodes;
    n->addr = addr;
    if (sim_platform_init(&n->plat, heap_size, sim_rand(&net->rng) | 1) != 0)
        abort();
    n->plat.now_ns = net->now;
    struct tern_platform plat = sim_platform(&n->plat);
    struct tern_config ocfg;
    tern_config_default(&ocfg);
    ocfg.console_level = TERN_LOG_ERROR;
    if (tern_os_init(&n->os, &plat, &ocfg) != TERN_OK)
        abort();
    struct tern_tcp_lower lower = { .output = node_output, .path_mtu = node_path_mtu, .ctx = n };
    if (net->tso) {
        lower.tso_max = node_tso_max;
        lower.output_tso = node_output_tso;
        lower.output_partial = node_output_partial;
    }
    if (tern_tcp_init(&n->tcp, &n->os, &lower, cfg) != TERN_OK)
        abort();
    tern_heap_get_stats(&n->os.heap, &n->heap_after_init);
    net->nodes[net->nnodes++] = n;
    for (unsigned i = 0; i < net->nnodes; i++) {
        struct sim_link_params d = { .delay_ns = 1000000, .mtu = 1500 };
        net->links[i][n->idx].p = d;
        net->links[n->idx][i].p = d;
    }
    return n;
}

void sim_net_set_link(struct sim_net *net, struct sim_node *a, struct sim_node *b,
                      const struct sim_link_params *p)
{
    net->links[a->idx][b->idx].p = *p;
    if (!p->mtu)
        net->links[a->idx][b->idx].p.mtu = 1500;
}

static void set_clock(struct sim_net *net, uint64_t t)
{
    net->now = t;
    for (unsigned i = 0; i < net->nnodes; i++)
        net->nodes[i]->plat.now_ns = t;
}

bool sim_net_run(struct sim_net *net, bool (*done)(void *arg), void *arg, uint64_t deadline_ns)
{
    uint64_t spins = 0;
    for (;;) {
        while (net->npkts && net->heap[0]->at <= net->now) {
            struct sim_pkt *p = heap_pop(net);
            net->links[p->from][p->to].queued--;
            if (p->icmp) {
                tern_tcp_icmp_error(&net->nodes[p->to]->tcp, p->data[0], p->data[1],
                                    (uint16_t)(p->data[2] << 8 | p->data[3]), p->data + 4,
                                    p->len - 4);
                free(p);
                continue;
            }
            bool pass = true;
            if (net->tap)
                pass = net->tap(net->tap_arg, p->from, p->to, p->data, p->len);
            if (pass) {
                net->delivered++;
                tern_tcp_input(&net->nodes[p->to]->tcp, p->src, p->dst, p->data, p->len);
            }
            free(p);
        }
        uint64_t next = UINT64_MAX;
        for (unsigned i = 0; i < net->nnodes; i++) {
            uint64_t d = tern_os_step(&net->nodes[i]->os, 0);
            if (d < next)
                next = d;
        }
        if (done && done(arg))
            return true;
        if (net->npkts && net->heap[0]->at < next)
            next = net->heap[0]->at;
        if (next == UINT64_MAX)
            return false;
        if (next <= net->now) {
            if (++spins > 1000000)
                abort(); /* livelock at one instant */
            continue;
        }
        spins = 0;
        if (next > deadline_ns)
            return false;
        set_clock(net, next);
    }
}

void sim_net_advance(struct sim_net *net, uint64_t ns)
{
    uint64_t end = net->now + ns;
    sim_net_run(net, NULL, NULL, end);
    if (net->now < end)
        set_clock(net, end);
    sim_net_run(net, NULL, NULL, end);
}
