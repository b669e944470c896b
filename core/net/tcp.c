/*
 * Interface: TCP set-up, the control-block pool, lookup, and segment input
 * (RFC 9293 3.10.7 with RFC 5961, RFC 7323 PAWS, RFC 1337, SYN cookies).
 * Sending and timers are in tcp_out.c, the socket calls in tcp_sock.c.
 *
 * Every segment that is not used is counted in tcp->stats under the
 * reason it was dropped.
 */
#include <stdint.h>
#include <string.h>

#include "tern/inet.h"
#include "tern/os.h"
#include "tcp_internal.h"

void tern_tcp_config_default(struct tern_tcp_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    /* Hundreds to thousands of mostly idle peers (internet-facing):
     * small buffers each, large ones only for those that move data. */
    cfg->max_conns = 1024;
    cfg->sndbuf = 64 * 1024;
    cfg->rcvbuf = 64 * 1024;
    cfg->sndbuf_min = 4096;
    cfg->rcvbuf_min = 4096;
    cfg->grow_bytes = 4u << 20;
    cfg->backlog_max = 32;
    cfg->rto_initial_ms = 1000;
    cfg->rto_min_ms = 200;
    cfg->rto_max_ms = 60000;
    cfg->max_retries = 12;
    cfg->syn_retries = 7; /* 1+2+...+64 s, then 128 s: > 3 min (RFC 9293) */
    cfg->delack_ms = 40;
    cfg->msl_ms = 30000;
    cfg->keepalive_idle_ms = 7200000;
    cfg->keepalive_intvl_ms = 75000;
    cfg->keepalive_probes = 9;
    cfg->challenge_acks_per_sec = 100;
    cfg->mtu_max = 9000;
}

void tern_tcp_config_fit(struct tern_tcp_config *cfg, size_t budget)
{
    uint32_t snd = cfg->grow_bytes && cfg->sndbuf_min ? cfg->sndbuf_min : cfg->sndbuf;
    uint32_t rcv = cfg->grow_bytes && cfg->rcvbuf_min ? cfg->rcvbuf_min : cfg->rcvbuf;
    /* a block, its small buffers and up to two hash buckets (a power of two) */
    size_t per = sizeof(struct tern_tcp_sock) + snd + rcv + 2 * sizeof(struct tern_list);
    size_t scratch = 65536 + 64;
    if (cfg->grow_bytes > budget / 3)
        cfg->grow_bytes = (uint32_t)(budget / 3);
    size_t left = budget > cfg->grow_bytes + scratch ? budget - cfg->grow_bytes - scratch : 0;
    size_t n = left / per;
    if (n < cfg->max_conns)
        cfg->max_conns = n < 16 ? 16 : (uint32_t)n;
}

uint32_t tcp_now_ms(struct tern_tcp *tcp)
{
    return (uint32_t)tern_now_ms(tcp->os);
}

static uint32_t tuple_hash(const struct tern_tcp *tcp, uint32_t laddr, uint16_t lport,
                           uint32_t raddr, uint16_t rport)
{
    uint64_t x = ((uint64_t)raddr << 32 | laddr) ^ tcp->secret[0];
    x ^= ((uint64_t)rport << 16 | lport) * 0x9e3779b97f4a7c15ull;
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 32;
    return (uint32_t)x;
}

tern_result tern_tcp_init(struct tern_tcp *tcp, struct tern_os *os,
                          const struct tern_tcp_lower *lower, const struct tern_tcp_config *cfg)
{
    memset(tcp, 0, sizeof(*tcp));
    if (!os || !lower || !lower->output || !lower->path_mtu)
        return TERN_EINVAL;
    if (cfg)
        tcp->cfg = *cfg;
    else
        tern_tcp_config_default(&tcp->cfg);
    struct tern_tcp_config *c = &tcp->cfg;
    if (c->max_conns == 0 || c->max_conns > (1u << 20) || c->sndbuf < 1024 ||
        c->rcvbuf < 1024 || c->sndbuf > (1u << 30) || c->rcvbuf > (1u << 30) ||
        c->backlog_max == 0 || c->rto_min_ms == 0 || c->rto_max_ms < c->rto_min_ms ||
        c->rto_initial_ms == 0 || c->mtu_max < 576 || c->mtu_max > 65535 || c->msl_ms == 0 ||
        c->challenge_acks_per_sec == 0 || c->grow_bytes > (1u << 30))
        return TERN_EINVAL;
    if (c->sndbuf_min == 0 || c->sndbuf_min > c->sndbuf || c->grow_bytes == 0)
        c->sndbuf_min = c->sndbuf;
    if (c->rcvbuf_min == 0 || c->rcvbuf_min > c->rcvbuf || c->grow_bytes == 0)
        c->rcvbuf_min = c->rcvbuf;
    if (c->sndbuf_min < 1024 || c->rcvbuf_min < 1024)
        return TERN_EINVAL;
    if (c->sndbuf_min == c->sndbuf && c->rcvbuf_min == c->rcvbuf)
        c->grow_bytes = 0; /* nothing can grow */
    tcp->os = os;
    tcp->lower = *lower;
    if (tern_entropy(os, tcp->secret, sizeof(tcp->secret), "tcp",
                     "the ISN and SYN-cookie keys (TCP does not start)") != TERN_OK)
        return TERN_EIO;
    uint32_t nb = 1;
    while (nb < c->max_conns)
        nb <<= 1;
    tcp->bucket_mask = nb - 1;
    tcp->pcbs = tern_calloc(os, c->max_conns, sizeof(struct tern_tcp_sock));
    tcp->buckets = tern_calloc(os, nb, sizeof(struct tern_list));
    if ((lower->tso_max == NULL) != (lower->output_tso == NULL))
        return TERN_EINVAL;
    /* One outgoing segment; a whole TSO segment when the lower layer can
     * take one (65515 bytes of TCP at most). */
    tcp->scratch = tern_alloc(os, lower->output_tso ? 65536 : c->mtu_max + 64);
    size_t per = (size_t)c->sndbuf_min + c->rcvbuf_min;
    tcp->bufs = tern_alloc(os, (size_t)c->max_conns * per);
    tcp->grow_mem = c->grow_bytes ? tern_alloc(os, c->grow_bytes) : NULL;
    if (!tcp->pcbs || !tcp->buckets || !tcp->scratch || !tcp->bufs ||
        (c->grow_bytes && (!tcp->grow_mem ||
                           tern_heap_init(&tcp->grow_heap, tcp->grow_mem, c->grow_bytes) !=
                               TERN_OK))) {
        tern_free(os, tcp->pcbs);
        tern_free(os, tcp->buckets);
        tern_free(os, tcp->scratch);
        tern_free(os, tcp->bufs);
        tern_free(os, tcp->grow_mem);
        tcp->pcbs = NULL;
        return TERN_ENOMEM;
    }
    tern_list_init(&tcp->free_list);
    tern_list_init(&tcp->listeners);
    for (uint32_t i = 0; i < nb; i++)
        tern_list_init(&tcp->buckets[i]);
    for (uint32_t i = 0; i < c->max_conns; i++) {
        struct tern_tcp_sock *s = &tcp->pcbs[i];
        s->tcp = tcp;
        s->sbuf = s->sbuf_small = tcp->bufs + (size_t)i * per;
        s->rbuf = s->rbuf_small = s->sbuf + c->sndbuf_min;
        tern_timer_init(&s->timer, tcp_timer_fire, s);
        tern_list_node_init(&s->link);
        tern_list_push_back(&tcp->free_list, &s->link);
    }
    tcp->next_port = (uint16_t)tcp->secret[1];
    return TERN_OK;
}

void tern_tcp_finish(struct tern_tcp *tcp)
{
    if (!tcp->pcbs)
        return;
    for (uint32_t i = 0; i < tcp->cfg.max_conns; i++) {
        struct tern_tcp_sock *s = &tcp->pcbs[i];
        if (s->state != TERN_TCP_CLOSED && s->state != TERN_TCP_LISTEN &&
            s->state != TERN_TCP_SYN_SENT && s->state != TERN_TCP_TIME_WAIT)
            tcp_send_rst(s);
        tern_timer_disarm(tcp->os, &s->timer);
    }
    tern_free(tcp->os, tcp->pcbs);
    tern_free(tcp->os, tcp->buckets);
    tern_free(tcp->os, tcp->scratch);
    tern_free(tcp->os, tcp->bufs);
    tern_free(tcp->os, tcp->grow_mem);
    tcp->pcbs = NULL;
}

uint32_t tcp_isn(struct tern_tcp *tcp, uint32_t laddr, uint16_t lport, uint32_t raddr,
                 uint16_t rport)
{
    /* RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, key),
     * M a 4 microsecond clock. */
    uint8_t in[12];
    tern_store_be32(in, laddr);
    tern_store_be32(in + 4, raddr);
    tern_store_be16(in + 8, lport);
    tern_store_be16(in + 10, rport);
    uint32_t m = (uint32_t)(tern_now_ns(tcp->os) / 4000);
    return m + (uint32_t)tern_siphash24(tcp->secret, in, sizeof(in));
}

/* Takes a block from the pool; a TIME-WAIT block the user released is
 * recycled when the pool is empty (oldest first would need a list; any
 * will do: its peer's retransmitted FIN then meets a RST at worst). */
struct tern_tcp_sock *tcp_pcb_alloc(struct tern_tcp *tcp)
{
    struct tern_list_node *n = tern_list_pop_front(&tcp->free_list);
    if (!n) {
        for (uint32_t i = 0; i < tcp->cfg.max_conns; i++) {
            struct tern_tcp_sock *s = &tcp->pcbs[i];
            if (s->state == TERN_TCP_TIME_WAIT && s->user_closed) {
                tcp->stats.time_wait_recycled++;
                tcp_pcb_release(s);
                n = tern_list_pop_front(&tcp->free_list);
                break;
            }
        }
        if (!n)
            return NULL;
    }
    struct tern_tcp_sock *s = TERN_CONTAINER_OF(n, struct tern_tcp_sock, link);
    uint8_t *sb = s->sbuf_small, *rb = s->rbuf_small;
    uint32_t gen = s->gen;
    memset(s, 0, sizeof(*s));
    s->gen = gen + 1;
    s->tcp = tcp;
    s->sbuf = s->sbuf_small = sb;
    s->rbuf = s->rbuf_small = rb;
    s->sbuf_cap = tcp->cfg.sndbuf_min;
    s->rbuf_cap = tcp->cfg.rcvbuf_min;
    tern_list_node_init(&s->link);
    tern_list_node_init(&s->child_link);
    tern_list_init(&s->children);
    tern_timer_init(&s->timer, tcp_timer_fire, s);
    tcp->in_use++;
    return s;
}

void tcp_pcb_hash(struct tern_tcp_sock *s)
{
    struct tern_tcp *tcp = s->tcp;
    uint32_t h = tuple_hash(tcp, s->laddr, s->lport, s->raddr, s->rport) & tcp->bucket_mask;
    tern_list_push_back(&tcp->buckets[h], &s->link);
}

void tcp_pcb_release(struct tern_tcp_sock *s)
{
    struct tern_tcp *tcp = s->tcp;
    tern_timer_disarm(tcp->os, &s->timer);
    if (tern_list_node_linked(&s->link))
        tern_list_remove(&s->link);
    if (s->parent) {
        if (tern_list_node_linked(&s->child_link)) {
            tern_list_remove(&s->child_link);
            s->parent->nchildren--;
        }
        s->parent = NULL;
    }
    if (s->state == TERN_TCP_LISTEN) {
        struct tern_list_node *n;
        while ((n = tern_list_pop_front(&s->children)) != NULL) {
            struct tern_tcp_sock *c = TERN_CONTAINER_OF(n, struct tern_tcp_sock, child_link);
            tern_list_node_init(&c->child_link);
            c->parent = NULL;
            s->nchildren--;
            tcp_send_rst(c);
            c->state = TERN_TCP_CLOSED;
            tcp_pcb_release(c);
        }
    }
    s->state = TERN_TCP_CLOSED;
    s->cb = NULL;
    s->pending_ev = 0;
    s->user_closed = true;
    if (s->sbuf != s->sbuf_small)
        tern_heap_free(&tcp->grow_heap, s->sbuf);
    if (s->rbuf != s->rbuf_small)
        tern_heap_free(&tcp->grow_heap, s->rbuf);
    s->sbuf = s->sbuf_small;
    s->rbuf = s->rbuf_small;
    tern_list_push_back(&tcp->free_list, &s->link);
    tcp->in_use--;
    tcp->stats.conns_closed++;
}

struct tern_tcp_sock *tcp_lookup(struct tern_tcp *tcp, uint32_t laddr, uint16_t lport,
                                 uint32_t raddr, uint16_t rport)
{
    uint32_t h = tuple_hash(tcp, laddr, lport, raddr, rport) & tcp->bucket_mask;
    struct tern_list *b = &tcp->buckets[h];
    for (struct tern_list_node *n = b->head.next; n != &b->head; n = n->next) {
        struct tern_tcp_sock *s = TERN_CONTAINER_OF(n, struct tern_tcp_sock, link);
        if (s->lport == lport && s->rport == rport && s->laddr == laddr && s->raddr == raddr)
            return s;
    }
    return NULL;
}

static struct tern_tcp_sock *find_listener(struct tern_tcp *tcp, uint32_t laddr, uint16_t lport)
{
    struct tern_tcp_sock *any = NULL;
    for (struct tern_list_node *n = tcp->listeners.head.next; n != &tcp->listeners.head;
         n = n->next) {
        struct tern_tcp_sock *s = TERN_CONTAINER_OF(n, struct tern_tcp_sock, link);
        if (s->lport != lport)
            continue;
        if (s->laddr == laddr)
            return s;
        if (s->laddr == 0)
            any = s;
    }
    return any;
}

bool tern_tcp_listening(struct tern_tcp *tcp, uint16_t port)
{
    return find_listener(tcp, 0, port) != NULL;
}

void tcp_set_state(struct tern_tcp_sock *s, enum tern_tcp_state st)
{
    s->state = st;
}

uint32_t tcp_rcv_space(const struct tern_tcp_sock *s)
{
    return s->rbuf_cap - s->rbuf_len;
}

/* Shared set-up of a new connection once ISS and the peer are known. */
void tcp_init_conn(struct tern_tcp_sock *s)
{
    struct tern_tcp *tcp = s->tcp;
    s->rto_ms = tcp->cfg.rto_initial_ms;
    s->mss = TCP_DEFAULT_MSS;
    s->snd_una = s->iss;
    s->snd_nxt = s->iss;
    s->snd_max = s->iss;
    s->ssthresh = 0x7fffffff;
    s->ts_offset = (uint32_t)(tcp->secret[1] >> 32) ^ s->iss;
    uint32_t ws = 0; /* for the largest the receive buffer may grow to */
    while (ws < TCP_MAX_WSCALE && (65535u << ws) < tcp->cfg.rcvbuf)
        ws++;
    s->rcv_wscale = (uint8_t)ws;
    s->last_rx_ms = tcp_now_ms(tcp);
}

void tcp_cork(struct tern_tcp_sock *s)
{
    s->cb_depth++;
}

void tcp_uncork(struct tern_tcp_sock *s, uint32_t gen)
{
    if (s->gen != gen || s->cb_depth == 0)
        return; /* released and reused meanwhile: not ours any more */
    if (--s->cb_depth > 0 || !s->output_pending)
        return;
    s->output_pending = false;
    tcp_output(s);
    tcp_notify(s);
}

void tcp_notify(struct tern_tcp_sock *s)
{
    unsigned ev = s->pending_ev;
    s->pending_ev = 0;
    if (ev && s->cb && !s->user_closed) {
        uint32_t gen = s->gen;
        tcp_cork(s);
        s->cb(s, ev, s->cb_arg);
        tcp_uncork(s, gen);
    }
}

void tcp_drop(struct tern_tcp_sock *s, tern_result why)
{
    if (tern_list_node_linked(&s->link))
        tern_list_remove(&s->link);
    s->state = TERN_TCP_CLOSED;
    s->rexmt_at = s->persist_at = s->delack_at = s->keep_at = s->tw_at = 0;
    tern_timer_disarm(s->tcp->os, &s->timer);
    if (why != TERN_OK) {
        s->error = why;
        s->pending_ev |= TERN_TCP_EV_ERROR | TERN_TCP_EV_READABLE | TERN_TCP_EV_WRITABLE;
    }
    if (s->user_closed || (s->parent && !s->accepted))
        tcp_pcb_release(s);
}

void tcp_enter_time_wait(struct tern_tcp_sock *s)
{
    s->state = TERN_TCP_TIME_WAIT;
    s->rexmt_at = s->persist_at = s->keep_at = 0;
    s->tw_at = tern_now_ns(s->tcp->os) + 2ull * s->tcp->cfg.msl_ms * 1000000ull;
    tcp_timer_update(s);
}

/* ---- parsing ---- */

static bool parse_options(const uint8_t *o, size_t n, struct tcp_opts *out)
{
    memset(out, 0, sizeof(*out));
    size_t i = 0;
    while (i < n) {
        uint8_t kind = o[i];
        if (kind == 0)
            break;
        if (kind == 1) {
            i++;
            continue;
        }
        if (i + 1 >= n)
            return false;
        uint8_t len = o[i + 1];
        if (len < 2 || i + len > n)
            return false;
        const uint8_t *v = o + i + 2;
        switch (kind) {
        case 2:
            if (len == 4) {
                out->has_mss = true;
                out->mss = tern_load_be16(v);
            }
            break;
        case 3:
            if (len == 3) {
                out->has_ws = true;
                out->ws = v[0] > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : v[0];
            }
            break;
        case 4:
            if (len == 2)
                out->sack_ok = true;
            break;
        case 5:
            if (len >= 10 && (len - 2) % 8 == 0) {
                unsigned nb = (unsigned)(len - 2) / 8;
                if (nb > 4)
                    nb = 4;
                for (unsigned k = 0; k < nb; k++) {
                    out->sack[k].start = tern_load_be32(v + 8 * k);
                    out->sack[k].end = tern_load_be32(v + 8 * k + 4);
                }
                out->nsack = (uint8_t)nb;
            }
            break;
        case 8:
            if (len == 10) {
                out->has_ts = true;
                out->tsval = tern_load_be32(v);
                out->tsecr = tern_load_be32(v + 4);
            }
            break;
        default:
            break;
        }
        i += len;
    }
    return true;
}

/* ---- RTT and congestion control ---- */

static void rtt_sample(struct tern_tcp_sock *s, uint32_t rtt_ms)
{
    struct tern_tcp *tcp = s->tcp;
    uint32_t r = (rtt_ms ? rtt_ms : 1) * 1000u;
    if (s->srtt_us == 0) {
        s->srtt_us = r;
        s->rttvar_us = r / 2;
    } else {
        uint32_t d = s->srtt_us > r ? s->srtt_us - r : r - s->srtt_us;
        s->rttvar_us = (3 * s->rttvar_us + d) / 4;
        s->srtt_us = (7 * s->srtt_us + r) / 8;
    }
    uint32_t var = 4 * s->rttvar_us > 1000 ? 4 * s->rttvar_us : 1000;
    uint32_t rto = (s->srtt_us + var + 999) / 1000;
    if (rto < tcp->cfg.rto_min_ms)
        rto = tcp->cfg.rto_min_ms;
    if (rto > tcp->cfg.rto_max_ms)
        rto = tcp->cfg.rto_max_ms;
    s->rto_ms = rto;
}

/* Retransmits one segment at seq (a hole), stopping at the next SACKed
 * byte. Returns the sequence space it covered (0: nothing to resend). */
static uint32_t rexmit_one(struct tern_tcp_sock *s, uint32_t seq)
{
    uint32_t data_end = s->snd_una + s->sbuf_len;
    if (SEQ_GEQ(seq, s->snd_max))
        return 0;
    s->tcp->stats.retransmits++;
    if (SEQ_GEQ(seq, data_end)) {
        if (!s->fin_sent)
            return 0;
        tcp_send_segment(s, data_end, 0, TCP_ACK | TCP_FIN);
        return 1;
    }
    uint32_t len = tcp_max_payload(s);
    if (data_end - seq < len)
        len = data_end - seq;
    if (s->snd_max - seq < len)
        len = s->snd_max - seq; /* never new data here: snd_max stays right */
    for (unsigned i = 0; i < s->nsacked; i++)
        if (SEQ_GT(s->sacked[i].start, seq) && s->sacked[i].start - seq < len)
            len = s->sacked[i].start - seq;
    uint8_t flags = TCP_ACK;
    if (s->fin_sent && seq + len == data_end)
        flags |= TCP_FIN;
    tcp_send_segment(s, seq, len, flags);
    return len;
}

static bool in_sacked(const struct tern_tcp_sock *s, uint32_t seq, uint32_t *end)
{
    for (unsigned i = 0; i < s->nsacked; i++)
        if (SEQ_GEQ(seq, s->sacked[i].start) && SEQ_LT(seq, s->sacked[i].end)) {
            *end = s->sacked[i].end;
            return true;
        }
    return false;
}

static uint32_t highest_sacked(const struct tern_tcp_sock *s)
{
    uint32_t h = s->snd_una;
    for (unsigned i = 0; i < s->nsacked; i++)
        if (SEQ_GT(s->sacked[i].end, h))
            h = s->sacked[i].end;
    return h;
}

/* In recovery with SACK: resend the next hole below the highest SACKed
 * byte not yet resent in this recovery (RFC 6675's NextSeg rule 1). */
static void sack_rexmit_next(struct tern_tcp_sock *s)
{
    uint32_t hi = highest_sacked(s);
    uint32_t x = SEQ_GT(s->rexmit_high, s->snd_una) ? s->rexmit_high : s->snd_una;
    uint32_t end;
    while (SEQ_LT(x, hi) && in_sacked(s, x, &end))
        x = end;
    if (SEQ_GEQ(x, hi))
        return;
    uint32_t n = rexmit_one(s, x);
    if (n)
        s->rexmit_high = x + n;
}

static void sack_update(struct tern_tcp_sock *s, const struct tcp_opts *o)
{
    for (unsigned k = 0; k < o->nsack; k++) {
        uint32_t a = o->sack[k].start, b = o->sack[k].end;
        /* RFC 2018: only blocks inside what is in flight count. */
        if (!SEQ_LT(a, b) || SEQ_LEQ(b, s->snd_una) || SEQ_GT(b, s->snd_max) ||
            SEQ_LT(a, s->snd_una))
            continue;
        unsigned i = 0;
        while (i < s->nsacked) {
            struct tcp_range *r = &s->sacked[i];
            if (SEQ_LEQ(a, r->end) && SEQ_GEQ(b, r->start)) {
                if (SEQ_LT(r->start, a))
                    a = r->start;
                if (SEQ_GT(r->end, b))
                    b = r->end;
                s->sacked[i] = s->sacked[--s->nsacked];
                continue;
            }
            i++;
        }
        if (s->nsacked == TCP_SACK_MAX) {
            /* keep the highest blocks: drop the lowest */
            unsigned lo = 0;
            for (i = 1; i < s->nsacked; i++)
                if (SEQ_LT(s->sacked[i].start, s->sacked[lo].start))
                    lo = i;
            if (SEQ_LT(a, s->sacked[lo].start))
                continue;
            s->sacked[lo] = s->sacked[--s->nsacked];
        }
        s->sacked[s->nsacked].start = a;
        s->sacked[s->nsacked].end = b;
        s->nsacked++;
    }
}

static uint32_t sacked_bytes(const struct tern_tcp_sock *s)
{
    uint32_t n = 0;
    for (unsigned i = 0; i < s->nsacked; i++)
        n += s->sacked[i].end - s->sacked[i].start;
    return n;
}

static void sack_prune(struct tern_tcp_sock *s)
{
    unsigned i = 0;
    while (i < s->nsacked) {
        /* A block reaching down to SND.UNA is reneged data: a receiver
         * holding it would have acknowledged it cumulatively. */
        if (SEQ_LEQ(s->sacked[i].start, s->snd_una)) {
            s->sacked[i] = s->sacked[--s->nsacked];
            continue;
        }
        i++;
    }
}

/* A new cumulative ACK: frees the send buffer, samples the RTT, runs
 * congestion control. Returns true when our FIN is now acknowledged. */
static bool ack_advance(struct tern_tcp_sock *s, const struct tcp_seg *seg)
{
    struct tern_tcp *tcp = s->tcp;
    uint32_t ack = seg->ack;
    uint32_t acked = ack - s->snd_una;
    uint32_t data = acked < s->sbuf_len ? acked : s->sbuf_len;
    bool fin_acked = s->fin_sent && acked > data;
    if (fin_acked)
        s->fin_acked = true; /* snd_una is past the FIN: data_end no longer is */
    s->sbuf_head = (s->sbuf_head + data) % s->sbuf_cap;
    s->sbuf_len -= data;
    if (s->ts_ok && seg->opt.has_ts && seg->opt.tsecr) {
        uint32_t now = tcp_now_ms(tcp) + s->ts_offset;
        uint32_t r = now - seg->opt.tsecr;
        if (r < 3600000u)
            rtt_sample(s, r);
    } else if (s->rtt_timing && SEQ_GT(ack, s->rtt_seq)) {
        s->rtt_timing = false;
        rtt_sample(s, tcp_now_ms(tcp) - (uint32_t)s->rtt_start_ms);
    }
    s->backoff = 0;
    s->persist_backoff = 0;
    uint32_t old_una = s->snd_una;
    s->snd_una = ack;
    if (SEQ_LT(s->snd_nxt, s->snd_una))
        s->snd_nxt = s->snd_una;
    sack_prune(s);
    if (s->in_recovery) {
        if (SEQ_GEQ(ack, s->recover)) {
            uint32_t fl = tcp_flight(s);
            uint32_t c = (fl > s->mss ? fl : s->mss) + s->mss;
            s->cwnd = c < s->ssthresh ? c : s->ssthresh;
            s->in_recovery = false;
            s->dupacks = 0;
        } else {
            /* RFC 6582 partial ACK: resend the next hole, deflate. */
            if (!SEQ_LT(ack, s->rexmit_high) || s->nsacked == 0) {
                uint32_t n = rexmit_one(s, ack);
                if (n && SEQ_GT(ack + n, s->rexmit_high))
                    s->rexmit_high = ack + n;
            }
            s->cwnd = s->cwnd > acked ? s->cwnd - acked : 0;
            if (acked >= s->mss)
                s->cwnd += s->mss;
            if (s->cwnd < s->mss)
                s->cwnd = s->mss;
            tcp_rexmt_arm(s);
        }
    } else {
        s->dupacks = 0;
        /* Congestion avoidance counts bytes (RFC 3465): an ACK covering a
         * whole TSO frame counts for what it acknowledges. */
        if (s->cwnd < s->ssthresh) {
            s->cwnd += acked < s->mss ? acked : s->mss;
        } else {
            uint64_t inc = (uint64_t)s->mss * (acked < s->cwnd ? acked : s->cwnd) / s->cwnd;
            s->cwnd += inc ? (uint32_t)inc : 1;
        }
        if (s->cwnd > (1u << 30))
            s->cwnd = 1u << 30;
    }
    (void)old_una;
    if (s->snd_una == s->snd_max)
        s->rexmt_at = 0;
    else
        tcp_rexmt_arm(s); /* RFC 6298 5.3 */
    if (data > 0 && !s->shut_wr)
        s->pending_ev |= TERN_TCP_EV_WRITABLE;
    return fin_acked;
}

static void dup_ack(struct tern_tcp_sock *s)
{
    struct tern_tcp *tcp = s->tcp;
    tcp->stats.dup_acks++;
    s->dupacks++;
    if (s->in_recovery) {
        s->cwnd += s->mss;
        if (s->sack_ok)
            sack_rexmit_next(s);
        return;
    }
    /* Early retransmit (RFC 5827): with fewer than four segments out and
     * nothing new to send, fewer duplicate ACKs can ever arrive. */
    uint32_t thresh = 3;
    uint32_t oseg = (tcp_flight(s) + s->mss - 1) / s->mss;
    if (oseg < 4 && oseg >= 2 && SEQ_GEQ(s->snd_max, s->snd_una + s->sbuf_len))
        thresh = oseg - 1;
    if (s->dupacks != thresh)
        return;
    /* RFC 6582 3.2 step 1: no new recovery before the old one's end. */
    if (!SEQ_GT(s->snd_una, s->recover))
        return;
    uint32_t fl = tcp_flight(s);
    s->ssthresh = fl / 2 > 2 * s->mss ? fl / 2 : 2 * s->mss;
    s->recover = s->snd_max;
    s->in_recovery = true;
    s->rexmit_high = s->snd_una;
    tcp->stats.fast_retransmits++;
    uint32_t n = rexmit_one(s, s->snd_una);
    s->rexmit_high = s->snd_una + n;
    s->cwnd = s->ssthresh + 3 * s->mss;
    tcp_rexmt_arm(s);
}

/* ---- receiving data ---- */

/* ooo[] is kept newest first (the order RFC 2018 4 reports SACK blocks
 * in): removing keeps the order of the rest. */
static void ooo_remove(struct tern_tcp_sock *s, unsigned i)
{
    memmove(&s->ooo[i], &s->ooo[i + 1], (s->nooo - i - 1) * sizeof(s->ooo[0]));
    s->nooo--;
}

/* Records [a, b) as received out of order: merged with the ranges it
 * touches, and first in the list (it holds the latest arrival). */
static void ooo_add(struct tern_tcp_sock *s, uint32_t a, uint32_t b)
{
    unsigned i = 0;
    while (i < s->nooo) {
        struct tcp_range *r = &s->ooo[i];
        if (SEQ_LEQ(a, r->end) && SEQ_GEQ(b, r->start)) {
            if (SEQ_LT(r->start, a))
                a = r->start;
            if (SEQ_GT(r->end, b))
                b = r->end;
            ooo_remove(s, i);
            continue;
        }
        i++;
    }
    memmove(&s->ooo[1], &s->ooo[0], s->nooo * sizeof(s->ooo[0]));
    s->ooo[0].start = a;
    s->ooo[0].end = b;
    s->nooo++;
}

static bool ooo_room_for(const struct tern_tcp_sock *s, uint32_t a, uint32_t b)
{
    if (s->nooo < TCP_OOO_MAX)
        return true;
    for (unsigned i = 0; i < s->nooo; i++)
        if (SEQ_LEQ(a, s->ooo[i].end) && SEQ_GEQ(b, s->ooo[i].start))
            return true;
    return false;
}

/* Copies len bytes to the receive ring, off bytes beyond rcv_nxt (the
 * caller checked that they fit). */
static void rbuf_store(struct tern_tcp_sock *s, uint32_t off, const uint8_t *data, uint32_t len)
{
    uint32_t pos = (s->rbuf_head + s->rbuf_len + off) % s->rbuf_cap;
    uint32_t first = s->rbuf_cap - pos;
    if (first > len)
        first = len;
    memcpy(s->rbuf + pos, data, first);
    memcpy(s->rbuf, data + first, len - first);
}

/* Moves out-of-order ranges that now reach rcv_nxt into the in-order
 * data. Returns true when rcv_nxt moved. */
static bool ooo_present(struct tern_tcp_sock *s)
{
    uint32_t before = s->rcv_nxt;
    bool merged = true;
    while (merged) {
        merged = false;
        for (unsigned i = 0; i < s->nooo; i++) {
            if (SEQ_LEQ(s->ooo[i].start, s->rcv_nxt)) {
                if (SEQ_GT(s->ooo[i].end, s->rcv_nxt)) {
                    s->rbuf_len += s->ooo[i].end - s->rcv_nxt;
                    s->rcv_nxt = s->ooo[i].end;
                }
                ooo_remove(s, i);
                merged = true;
                break;
            }
        }
    }
    return s->rcv_nxt != before;
}

/* Stores data at seq (>= rcv_nxt). Returns the bytes that fit. */
static uint32_t receive_data(struct tern_tcp_sock *s, uint32_t seq, const uint8_t *data,
                             uint32_t len)
{
    struct tern_tcp *tcp = s->tcp;
    uint32_t space = tcp_rcv_space(s);
    uint32_t off = seq - s->rcv_nxt;
    if (off >= space) {
        tcp->stats.drop_out_of_window++;
        s->ack_now = true;
        return 0;
    }
    if (len > space - off)
        len = space - off;
    if (off > 0 && !ooo_room_for(s, seq, seq + len)) {
        tcp->stats.drop_ooo_full++;
        s->ack_now = true;
        return 0;
    }
    rbuf_store(s, off, data, len);
    if (off > 0) {
        tcp->stats.ooo_segments++;
        ooo_add(s, seq, seq + len);
        s->ack_now = true; /* an immediate duplicate ACK (RFC 5681 4.2) */
        return len;
    }
    bool had_ooo = s->nooo > 0;
    s->rcv_nxt += len;
    s->rbuf_len += len;
    ooo_present(s);
    s->pending_ev |= TERN_TCP_EV_READABLE;
    if (had_ooo) {
        s->ack_now = true;
    } else {
        if (len >= s->mss) /* a coalesced segment counts as the segments it holds */
            s->unacked_segs += len / s->mss;
        if (s->unacked_segs >= 2)
            s->ack_now = true;
        else if (!s->delack_at)
            s->delack_at = tern_now_ns(tcp->os) + (uint64_t)tcp->cfg.delack_ms * 1000000ull;
    }
    return len;
}

/* ---- listen ---- */

static const uint16_t cookie_mss[8] = { 216, 536, 1200, 1360, 1440, 1460, 4312, 8960 };

static uint32_t cookie_hash(struct tern_tcp *tcp, const struct tcp_seg *seg, uint32_t peer_isn,
                            uint32_t t)
{
    uint8_t in[20];
    tern_store_be32(in, seg->dst);
    tern_store_be32(in + 4, seg->src);
    tern_store_be16(in + 8, seg->dport);
    tern_store_be16(in + 10, seg->sport);
    tern_store_be32(in + 12, peer_isn);
    tern_store_be32(in + 16, t);
    uint64_t key[2] = { tcp->secret[1], tcp->secret[0] };
    return (uint32_t)tern_siphash24(key, in, sizeof(in)) & 0xffffffu;
}

static uint32_t cookie_time(struct tern_tcp *tcp)
{
    return (uint32_t)(tern_now_ms(tcp->os) / 64000u) & 31u;
}

static void send_cookie(struct tern_tcp *tcp, const struct tcp_seg *seg)
{
    uint16_t mss = seg->opt.has_mss ? seg->opt.mss : TCP_DEFAULT_MSS;
    uint16_t ours = tcp_mss_for_mtu(tcp, seg->src);
    if (ours < mss)
        mss = ours;
    unsigned idx = 0;
    for (unsigned i = 0; i < 8; i++)
        if (cookie_mss[i] <= mss)
            idx = i;
    uint32_t t = cookie_time(tcp);
    uint32_t isn = (t << 27) | ((uint32_t)idx << 24) | cookie_hash(tcp, seg, seg->seq, t);
    uint8_t opts[4];
    size_t n = tcp_build_syn_opts(opts, cookie_mss[idx], -1, false, false, 0, 0);
    /* what the block will hold: the window must not shrink afterwards */
    uint32_t w = tcp->cfg.rcvbuf_min > 65535 ? 65535 : tcp->cfg.rcvbuf_min;
    tcp->stats.syn_cookies_sent++;
    tcp_send_raw(tcp, seg->dst, seg->src, seg->dport, seg->sport, isn, seg->seq + 1,
                 TCP_SYN | TCP_ACK, (uint16_t)w, opts, n);
}

static void conn_input(struct tern_tcp_sock *s, struct tcp_seg *seg);

static void add_child(struct tern_tcp_sock *l, struct tern_tcp_sock *c)
{
    c->parent = l;
    tern_list_push_back(&l->children, &c->child_link);
    l->nchildren++;
}

static uint32_t count_children(const struct tern_tcp_sock *l, bool established)
{
    uint32_t n = 0;
    for (const struct tern_list_node *x = l->children.head.next; x != &l->children.head;
         x = x->next) {
        const struct tern_tcp_sock *c =
            TERN_CONTAINER_OF(x, struct tern_tcp_sock, child_link);
        if ((c->state != TERN_TCP_SYN_RECEIVED) == established)
            n++;
    }
    return n;
}

static void listen_cookie_ack(struct tern_tcp_sock *l, struct tcp_seg *seg)
{
    struct tern_tcp *tcp = l->tcp;
    uint32_t isn = seg->ack - 1;
    uint32_t t = isn >> 27, now_t = cookie_time(tcp);
    if (((now_t - t) & 31u) > 1 || (isn & 0xffffffu) != cookie_hash(tcp, seg, seg->seq - 1, t)) {
        tcp->stats.drop_bad_cookie++;
        tcp_respond_rst(tcp, seg);
        return;
    }
    if (count_children(l, true) >= l->backlog) {
        tcp->stats.drop_backlog_full++;
        return;
    }
    struct tern_tcp_sock *c = tcp_pcb_alloc_evict(tcp, l);
    if (!c) {
        tcp->stats.drop_pool_empty++;
        return;
    }
    tcp->stats.syn_cookies_accepted++;
    c->laddr = seg->dst;
    c->lport = seg->dport;
    c->raddr = seg->src;
    c->rport = seg->sport;
    c->iss = isn;
    tcp_init_conn(c);
    c->rcv_wscale = 0;
    c->syn_cookie = true;
    c->irs = seg->seq - 1;
    c->rcv_nxt = seg->seq;
    c->rcv_adv = c->rcv_nxt;
    c->snd_una = c->snd_nxt = c->snd_max = isn + 1;
    c->peer_mss = cookie_mss[(isn >> 24) & 7];
    uint16_t ours = tcp_mss_for_mtu(tcp, c->raddr);
    c->mss = c->peer_mss < ours ? c->peer_mss : ours;
    c->cwnd = c->mss * 3;
    c->snd_wnd = seg->wnd;
    c->max_snd_wnd = c->snd_wnd;
    c->snd_wl1 = seg->seq;
    c->snd_wl2 = seg->ack;
    c->state = TERN_TCP_ESTABLISHED;
    tcp_pcb_hash(c);
    add_child(l, c);
    tcp->stats.conns_accepted++;
    l->pending_ev |= TERN_TCP_EV_READABLE;
    conn_input(c, seg);
}

static void listen_input(struct tern_tcp_sock *l, struct tcp_seg *seg)
{
    struct tern_tcp *tcp = l->tcp;
    if (seg->flags & TCP_RST) {
        tcp->stats.drop_listen_rst++;
        return;
    }
    if (seg->flags & TCP_ACK) {
        if (seg->flags & TCP_SYN) {
            tcp->stats.drop_listen_ack++;
            tcp_respond_rst(tcp, seg);
            return;
        }
        listen_cookie_ack(l, seg);
        return;
    }
    if (!(seg->flags & TCP_SYN)) {
        tcp->stats.drop_bad_flags++;
        return;
    }
    struct tern_tcp_sock *c = NULL;
    if (count_children(l, false) < l->backlog)
        c = tcp_pcb_alloc(tcp);
    else
        tcp->stats.drop_backlog_full++;
    if (!c) {
        if (count_children(l, false) < l->backlog)
            tcp->stats.drop_pool_empty++;
        send_cookie(tcp, seg);
        return;
    }
    c->laddr = seg->dst;
    c->lport = seg->dport;
    c->raddr = seg->src;
    c->rport = seg->sport;
    c->iss = tcp_isn(tcp, c->laddr, c->lport, c->raddr, c->rport);
    tcp_init_conn(c);
    c->irs = seg->seq;
    c->rcv_nxt = seg->seq + 1;
    c->rcv_adv = c->rcv_nxt;
    c->peer_mss = seg->opt.has_mss ? seg->opt.mss : TCP_DEFAULT_MSS;
    c->ws_ok = seg->opt.has_ws;
    if (c->ws_ok)
        c->snd_wscale = seg->opt.ws;
    else
        c->rcv_wscale = 0;
    c->sack_ok = seg->opt.sack_ok;
    c->ts_ok = seg->opt.has_ts;
    if (c->ts_ok)
        c->ts_recent = seg->opt.tsval;
    c->snd_wnd = seg->wnd; /* never scaled in a SYN */
    c->max_snd_wnd = c->snd_wnd;
    c->snd_wl1 = seg->seq;
    c->state = TERN_TCP_SYN_RECEIVED;
    c->nodelay = l->nodelay;
    c->keepalive = l->keepalive;
    tcp_pcb_hash(c);
    add_child(l, c);
    tcp_send_syn(c);
}

/* Negotiated MSS and initial window once the SYN exchange is done. */
static void finish_handshake(struct tern_tcp_sock *s)
{
    uint16_t ours = tcp_mss_for_mtu(s->tcp, s->raddr);
    uint32_t m = s->peer_mss < ours ? s->peer_mss : ours;
    if (s->ts_ok)
        m -= 12;
    if (m < TCP_MIN_MSS)
        m = TCP_MIN_MSS;
    s->mss = m;
    /* RFC 5681 3.1 initial window */
    s->cwnd = m > 2190 ? 2 * m : (m > 1095 ? 3 * m : 4 * m);
    s->recover = s->iss;
}

/* ---- the state machine ---- */

/* RCV.WND: the window the peer was told (up to the advertised edge). */
static uint32_t rcv_wnd_advertised(const struct tern_tcp_sock *s)
{
    return SEQ_GT(s->rcv_adv, s->rcv_nxt) ? s->rcv_adv - s->rcv_nxt : 0;
}

/* Text on a SYN-ACK, or on the SYN of a simultaneous open (RFC 9293
 * 3.10.7.3), bounded by the window our SYN told. In ESTABLISHED it is
 * received at once; in SYN-RECEIVED it waits as an out-of-order range at
 * RCV.NXT, neither acknowledged nor readable, until ESTABLISHED presents
 * it (until the peer ACKs our SYN it may be a blind forgery). */
static void syn_data(struct tern_tcp_sock *s, const struct tcp_seg *seg)
{
    uint32_t len = seg->len;
    uint32_t wnd = rcv_wnd_advertised(s);
    if (len > wnd) {
        s->tcp->stats.drop_out_of_window++; /* the part beyond the window */
        len = wnd;
    }
    if (len == 0)
        return;
    if (s->state == TERN_TCP_ESTABLISHED) {
        receive_data(s, s->rcv_nxt, seg->data, len);
        return;
    }
    rbuf_store(s, 0, seg->data, len);
    ooo_add(s, s->rcv_nxt, s->rcv_nxt + len);
}

/* Drops from seg what lies before RCV.NXT (bytes, and a SYN already had). */
static void trim_old(const struct tern_tcp_sock *s, struct tcp_seg *seg)
{
    if (!SEQ_LT(seg->seq, s->rcv_nxt))
        return;
    uint32_t d = s->rcv_nxt - seg->seq;
    if (seg->flags & TCP_SYN) {
        seg->flags &= (uint8_t)~TCP_SYN;
        seg->seq++;
        d--;
    }
    if (d >= seg->len) {
        if (d > seg->len)
            seg->flags &= (uint8_t)~TCP_FIN;
        seg->seq += seg->len;
        seg->data += seg->len;
        seg->len = 0;
    } else {
        seg->seq += d;
        seg->data += d;
        seg->len -= d;
    }
}

static void syn_sent_input(struct tern_tcp_sock *s, struct tcp_seg *seg)
{
    struct tern_tcp *tcp = s->tcp;
    bool ack_ok = false;
    if (seg->flags & TCP_ACK) {
        if (SEQ_LEQ(seg->ack, s->iss) || SEQ_GT(seg->ack, s->snd_max)) {
            tcp->stats.drop_syn_sent_bad_ack++;
            tcp_respond_rst(tcp, seg);
            return;
        }
        ack_ok = true;
    }
    if (seg->flags & TCP_RST) {
        if (ack_ok) {
            tcp->stats.rst_received++;
            tcp->stats.conns_reset++;
            tcp_drop(s, TERN_EPROTO);
        } else {
            tcp->stats.drop_rst_out_of_window++;
        }
        return;
    }
    if (!(seg->flags & TCP_SYN)) {
        tcp->stats.drop_bad_flags++;
        return;
    }
    s->irs = seg->seq;
    s->rcv_nxt = seg->seq + 1;
    /* the window our SYN told (unscaled) counts from the peer's ISN, which
     * the SYN could not know: tcp_send_syn left rcv_adv relative to 0 */
    s->rcv_adv = s->rcv_nxt + tcp_syn_window(s);
    s->peer_mss = seg->opt.has_mss ? seg->opt.mss : TCP_DEFAULT_MSS;
    s->ws_ok = seg->opt.has_ws;
    s->snd_wscale = s->ws_ok ? seg->opt.ws : 0;
    if (!s->ws_ok)
        s->rcv_wscale = 0;
    s->sack_ok = seg->opt.sack_ok;
    s->ts_ok = seg->opt.has_ts;
    if (s->ts_ok)
        s->ts_recent = seg->opt.tsval;
    s->snd_wnd = seg->wnd;
    s->max_snd_wnd = s->snd_wnd;
    s->snd_wl1 = seg->seq;
    s->snd_wl2 = seg->ack;
    finish_handshake(s);
    if (ack_ok) {
        if (s->backoff == 0)
            rtt_sample(s, tcp_now_ms(tcp) - (uint32_t)s->rtt_start_ms);
        s->snd_una = seg->ack;
        s->backoff = 0;
        s->rexmt_at = 0;
        s->state = TERN_TCP_ESTABLISHED;
        s->pending_ev |= TERN_TCP_EV_CONNECTED | TERN_TCP_EV_WRITABLE;
        s->ack_now = true;
        syn_data(s, seg);
        tcp_output(s);
    } else {
        /* simultaneous open */
        s->state = TERN_TCP_SYN_RECEIVED;
        s->rexmt_at = 0;
        syn_data(s, seg);
        tcp_send_syn(s);
    }
}

/* The window a segment is tested against (RFC 9293 3.10.7.4). Data may
 * use what we can hold, even beyond the advertised edge; a RST only the
 * window the peer was told (RFC 5961 3.2 "the current receive window"),
 * so a blind RST gets no challenge ACK for guessing beyond it. */
static bool seq_acceptable(const struct tern_tcp_sock *s, uint32_t seq, uint32_t seglen,
                           bool rst)
{
    uint32_t wnd = rcv_wnd_advertised(s);
    uint32_t space = tcp_rcv_space(s);
    if (!rst && space > wnd)
        wnd = space;
    if (seglen == 0) {
        if (wnd == 0)
            return seq == s->rcv_nxt;
        return SEQ_GEQ(seq, s->rcv_nxt) && SEQ_LT(seq, s->rcv_nxt + wnd);
    }
    if (wnd == 0)
        return false;
    uint32_t last = seq + seglen - 1;
    return (SEQ_GEQ(seq, s->rcv_nxt) && SEQ_LT(seq, s->rcv_nxt + wnd)) ||
           (SEQ_GEQ(last, s->rcv_nxt) && SEQ_LT(last, s->rcv_nxt + wnd));
}

/* The user's connect has not completed: SYN-SENT, or SYN-RECEIVED
 * entered from it (simultaneous open; a listener's child has a parent). */
static bool connect_pending(const struct tern_tcp_sock *s)
{
    return s->state == TERN_TCP_SYN_SENT || (s->state == TERN_TCP_SYN_RECEIVED && !s->parent);
}

/* What an acceptable RST tells the user (RFC 9293 3.10.7.4). */
static tern_result rst_result(const struct tern_tcp_sock *s)
{
    switch (s->state) {
    case TERN_TCP_SYN_RECEIVED:
        /* Entered from SYN-SENT (simultaneous open): the connection was
         * refused. A listener's child is just freed. */
        return connect_pending(s) ? TERN_EPROTO : TERN_ECLOSED;
    case TERN_TCP_CLOSING:
    case TERN_TCP_LAST_ACK:
        return TERN_OK; /* both sides had closed: no error */
    default:
        return TERN_ECLOSED;
    }
}

/* States that still take the peer's data. */
static bool receiving(const struct tern_tcp_sock *s)
{
    return s->state == TERN_TCP_ESTABLISHED || s->state == TERN_TCP_FIN_WAIT_1 ||
           s->state == TERN_TCP_FIN_WAIT_2;
}

/* The peer's FIN at RCV.NXT (RFC 9293 3.10.7.4, eighth step). */
static void fin_receive(struct tern_tcp_sock *s)
{
    s->fin_held = false;
    s->ack_now = true;
    switch (s->state) {
    case TERN_TCP_ESTABLISHED:
    case TERN_TCP_FIN_WAIT_1:
    case TERN_TCP_FIN_WAIT_2:
        s->rcv_nxt++;
        s->fin_rcvd = true;
        s->pending_ev |= TERN_TCP_EV_READABLE;
        if (s->state == TERN_TCP_ESTABLISHED)
            s->state = TERN_TCP_CLOSE_WAIT;
        else if (s->state == TERN_TCP_FIN_WAIT_2)
            tcp_enter_time_wait(s);
        else if (s->snd_una == s->snd_max && s->fin_sent)
            tcp_enter_time_wait(s);
        else
            s->state = TERN_TCP_CLOSING;
        break;
    case TERN_TCP_TIME_WAIT:
        tcp_enter_time_wait(s); /* restart 2 MSL */
        break;
    default:
        break;
    }
}

/* A FIN at fin_seq, after all of its segment's data was held. At RCV.NXT
 * it is processed; beyond it (data missing) it is held until the gap
 * fills and answered at once with a duplicate ACK (RFC 5681 4.2). */
static void fin_arrived(struct tern_tcp_sock *s, uint32_t fin_seq)
{
    if (fin_seq == s->rcv_nxt) {
        fin_receive(s);
    } else if (receiving(s) && SEQ_GT(fin_seq, s->rcv_nxt)) {
        s->fin_held = true;
        s->fin_held_seq = fin_seq;
        s->ack_now = true;
    } else if (s->state == TERN_TCP_TIME_WAIT) {
        s->ack_now = true;
    }
}

/* Sequence space a segment takes: its data, plus one each for SYN and FIN. */
static uint32_t seg_seq_len(const struct tcp_seg *seg)
{
    return seg->len + ((seg->flags & TCP_SYN) ? 1 : 0) + ((seg->flags & TCP_FIN) ? 1 : 0);
}

/* RFC 7323 5 (PAWS): false when the segment is dropped (old timestamp:
 * ACKed; no timestamp once negotiated). A RST is exempt. */
static bool paws_ok(struct tern_tcp_sock *s, const struct tcp_seg *seg)
{
    struct tern_tcp *tcp = s->tcp;
    if (!s->ts_ok || (seg->flags & TCP_RST))
        return true;
    if (!seg->opt.has_ts) {
        tcp->stats.drop_no_ts++;
        return false;
    }
    if (SEQ_LT(seg->opt.tsval, s->ts_recent)) {
        tcp->stats.drop_paws++;
        s->ack_now = true;
        tcp_output(s);
        return false;
    }
    return true;
}

/* RFC 9293 3.10.7.4: with a zero receive window, valid ACKs are still
 * taken. True when seg is such an ACK: its data (a window probe) and FIN
 * are stripped, and an ACK will answer it. */
static bool zero_window_ack(struct tern_tcp_sock *s, struct tcp_seg *seg)
{
    if (tcp_rcv_space(s) != 0 || !(seg->flags & TCP_ACK) ||
        (seg->flags & (TCP_RST | TCP_SYN)) || !SEQ_GEQ(seg->seq, s->rcv_nxt) ||
        !SEQ_LEQ(seg->seq, s->rcv_nxt + 1))
        return false;
    s->tcp->stats.drop_out_of_window += seg->len ? 1 : 0;
    seg->seq = s->rcv_nxt;
    seg->len = 0;
    seg->flags &= (uint8_t)~TCP_FIN;
    s->ack_now = true;
    return true;
}

/* A SYN (no ACK) above RCV.NXT in TIME-WAIT, past PAWS, in the window or
 * beyond it, is a new incarnation (RFC 9293 3.10.7.4 step 4, RFC 1122
 * 4.2.2.13, RFC 6191): the TIME-WAIT ends and a listener takes the SYN.
 * True when it did. */
static bool time_wait_reopen(struct tern_tcp_sock *s, struct tcp_seg *seg)
{
    struct tern_tcp *tcp = s->tcp;
    if (s->state != TERN_TCP_TIME_WAIT || (seg->flags & (TCP_SYN | TCP_ACK)) != TCP_SYN ||
        !SEQ_GT(seg->seq, s->rcv_nxt))
        return false;
    struct tern_tcp_sock *l = find_listener(tcp, seg->dst, seg->dport);
    if (!l)
        return false;
    tcp_drop(s, TERN_OK);
    listen_input(l, seg);
    tcp_notify(l);
    return true;
}

/* An unacceptable segment: a RST is dropped silently; a SYN with a higher
 * sequence number ends TIME-WAIT if a listener takes it; anything else
 * is dropped and ACKed. */
static void seq_unacceptable(struct tern_tcp_sock *s, struct tcp_seg *seg)
{
    struct tern_tcp *tcp = s->tcp;
    if (seg->flags & TCP_RST) {
        tcp->stats.drop_rst_out_of_window++;
        return;
    }
    if (time_wait_reopen(s, seg))
        return;
    tcp->stats.drop_out_of_window++;
    s->ack_now = true;
    tcp_output(s);
}

/* RFC 9293 figure 8 line 6: after a simultaneous open the peer's
 * SYN-ACK repeats the SYN we hold (at IRS, below RCV.NXT) and carries the
 * ACK of ours. Its SYN is old and is trimmed here, before the
 * acceptability test, so the ACK completes the handshake (as BSD and
 * Linux do); tested whole, the segment is "old" and would be answered by
 * our SYN-ACK again, and two such stacks would trade SYN-ACKs forever. */
static void trim_crossed_syn(const struct tern_tcp_sock *s, struct tcp_seg *seg)
{
    if (s->state == TERN_TCP_SYN_RECEIVED && !s->parent &&
        (seg->flags & (TCP_SYN | TCP_ACK | TCP_RST)) == (TCP_SYN | TCP_ACK) &&
        seg->seq == s->irs) {
        seg->flags &= (uint8_t)~TCP_SYN;
        seg->seq++;
    }
}

/* First step: PAWS, the sequence number acceptability test, the
 * timestamp to echo (RFC 7323 4.3), and trimming what we already have.
 * Each step returns false when the segment is used up. */
static bool step_seq(struct tern_tcp_sock *s, struct tcp_seg *seg)
{
    if (!paws_ok(s, seg))
        return false;
    trim_crossed_syn(s, seg);
    uint32_t seglen = seg_seq_len(seg);
    if (!seq_acceptable(s, seg->seq, seglen, (seg->flags & TCP_RST) != 0)) {
        if (!zero_window_ack(s, seg)) {
            seq_unacceptable(s, seg);
            return false;
        }
        seglen = 0;
    }
    if (s->ts_ok && seg->opt.has_ts && SEQ_LEQ(seg->seq, s->last_ack_sent) &&
        SEQ_LEQ(s->last_ack_sent, seg->seq + seglen))
        s->ts_recent = seg->opt.tsval;
    trim_old(s, seg);
    return true;
}

/* Second step: RST (RFC 5961 3.2, RFC 1337). */
static bool step_rst(struct tern_tcp_sock *s, const struct tcp_seg *seg)
{
    struct tern_tcp *tcp = s->tcp;
    if (!(seg->flags & TCP_RST))
        return true;
    tcp->stats.rst_received++;
    if (seg->seq != s->rcv_nxt) {
        tcp_send_challenge_ack(s); /* RFC 5961 3.2 */
        return false;
    }
    if (s->state == TERN_TCP_TIME_WAIT) {
        tcp->stats.drop_rst_time_wait++; /* RFC 1337 */
        return false;
    }
    tcp->stats.conns_reset++;
    tcp_drop(s, rst_result(s));
    return false;
}

/* Fourth step: SYN. A retransmitted SYN in SYN-RECEIVED gets the SYN-ACK
 * again; a higher one in TIME-WAIT opens a new connection; any other
 * gets a challenge ACK (RFC 5961 4.2). */
static bool step_syn(struct tern_tcp_sock *s, struct tcp_seg *seg)
{
    if (!(seg->flags & TCP_SYN))
        return true;
    if (time_wait_reopen(s, seg))
        return false;
    if (s->state == TERN_TCP_SYN_RECEIVED && !(seg->flags & TCP_ACK) && seg->seq == s->irs) {
        s->ack_now = true;
        tcp_output(s);
        return false;
    }
    tcp_send_challenge_ack(s);
    return false;
}

/* Fifth step in SYN-RECEIVED: an ACK of our SYN completes the handshake.
 * False when the segment is used up (a bad ACK gets a RST; a full accept
 * queue leaves the connection half-open, as Linux does). */
static bool syn_received_ack(struct tern_tcp_sock *s, struct tcp_seg *seg)
{
    struct tern_tcp *tcp = s->tcp;
    if (SEQ_LEQ(seg->ack, s->iss) || SEQ_GT(seg->ack, s->snd_max)) {
        tcp->stats.drop_syn_rcvd_bad_ack++;
        tcp_respond_rst(tcp, seg);
        return false;
    }
    if (s->parent && count_children(s->parent, true) >= s->parent->backlog) {
        tcp->stats.drop_backlog_full++; /* the SYN-ACK is retransmitted */
        return false;
    }
    s->snd_una = s->iss + 1;
    /* a close requested during the handshake sends its FIN now */
    s->state = s->shut_wr ? TERN_TCP_FIN_WAIT_1 : TERN_TCP_ESTABLISHED;
    s->snd_wnd = seg->wnd << s->snd_wscale;
    s->max_snd_wnd = s->snd_wnd;
    s->snd_wl1 = seg->seq;
    s->snd_wl2 = seg->ack;
    if (s->backoff == 0 && !s->ts_ok)
        rtt_sample(s, tcp_now_ms(tcp) - (uint32_t)s->rtt_start_ms);
    s->backoff = 0;
    s->rexmt_at = 0;
    finish_handshake(s);
    if (ooo_present(s)) {
        /* data that came with a simultaneous open's SYN */
        s->pending_ev |= TERN_TCP_EV_READABLE;
        s->ack_now = true;
        trim_old(s, seg);
    }
    if (s->parent) {
        tcp->stats.conns_accepted++;
        s->parent->pending_ev |= TERN_TCP_EV_READABLE;
    } else {
        s->pending_ev |= TERN_TCP_EV_CONNECTED | TERN_TCP_EV_WRITABLE;
    }
    return true;
}

/* RFC 5961 5.2: an ACK of data never sent is ACKed and dropped; one older
 * than the window allows earns a challenge ACK. */
static bool ack_acceptable(struct tern_tcp_sock *s, const struct tcp_seg *seg)
{
    struct tern_tcp *tcp = s->tcp;
    if (SEQ_GT(seg->ack, s->snd_max)) {
        tcp->stats.drop_ack_too_new++;
        s->ack_now = true;
        tcp_output(s);
        return false;
    }
    if (SEQ_LT(seg->ack, s->snd_una - s->max_snd_wnd)) {
        tcp->stats.drop_ack_too_old++;
        tcp_send_challenge_ack(s);
        return false;
    }
    return true;
}

/* SND.WND from seg when it is newer than the last update (RFC 9293
 * 3.10.7.4: SND.WL1, SND.WL2). */
static void send_window_update(struct tern_tcp_sock *s, const struct tcp_seg *seg, uint32_t wnd)
{
    if (!SEQ_GEQ(seg->ack, s->snd_una) ||
        !(SEQ_LT(s->snd_wl1, seg->seq) ||
          (s->snd_wl1 == seg->seq && SEQ_LEQ(s->snd_wl2, seg->ack))))
        return;
    if (wnd > 0 && s->snd_wnd == 0) {
        /* the window reopened: resend any probe byte with the rest */
        s->persist_backoff = 0;
        s->persist_at = 0;
        s->snd_nxt = s->snd_una;
    }
    s->snd_wnd = wnd;
    if (wnd > s->max_snd_wnd)
        s->max_snd_wnd = wnd;
    s->snd_wl1 = seg->seq;
    s->snd_wl2 = seg->ack;
}

/* An acceptable ACK: SACK scoreboard, new data acknowledged or a
 * duplicate ACK, the send window. Returns true when it acknowledged our
 * FIN. */
static bool ack_process(struct tern_tcp_sock *s, const struct tcp_seg *seg)
{
    s->last_rx_ms = tcp_now_ms(s->tcp);
    s->keep_sent = 0;
    s->probes_unanswered = 0;
    uint32_t wnd = seg->wnd << s->snd_wscale;
    bool fin_acked = false;
    uint32_t sacked_before = sacked_bytes(s);
    if (s->sack_ok && seg->opt.nsack)
        sack_update(s, &seg->opt);
    bool new_sack = sacked_bytes(s) > sacked_before;
    if (SEQ_GT(seg->ack, s->snd_una)) {
        fin_acked = ack_advance(s, seg);
    } else if (seg->ack == s->snd_una && s->snd_max != s->snd_una &&
               (new_sack || (seg->len == 0 && !(seg->flags & TCP_FIN) && wnd == s->snd_wnd &&
                             s->snd_wnd > 0))) {
        /* A duplicate ACK: RFC 5681's strict form, or (RFC 6675 2) any
         * segment whose SACK blocks cover data not SACKed before, which
         * also counts ACKs riding on data in two-way transfers. */
        dup_ack(s);
    }
    send_window_update(s, seg, wnd);
    return fin_acked;
}

/* Our FIN was acknowledged: FIN-WAIT-1 -> FIN-WAIT-2, CLOSING ->
 * TIME-WAIT, LAST-ACK -> closed. False when the connection ended. */
static bool our_fin_acked(struct tern_tcp_sock *s)
{
    switch (s->state) {
    case TERN_TCP_FIN_WAIT_1:
        s->state = TERN_TCP_FIN_WAIT_2;
        return true;
    case TERN_TCP_CLOSING:
        tcp_enter_time_wait(s);
        return true;
    case TERN_TCP_LAST_ACK:
        tcp_drop(s, TERN_OK);
        tcp_notify(s);
        return false;
    default:
        return true;
    }
}

/* Fifth step: ACK. */
static bool step_ack(struct tern_tcp_sock *s, struct tcp_seg *seg)
{
    if (!(seg->flags & TCP_ACK)) {
        s->tcp->stats.drop_no_ack++;
        return false;
    }
    if (s->state == TERN_TCP_SYN_RECEIVED && !syn_received_ack(s, seg))
        return false;
    if (!ack_acceptable(s, seg))
        return false;
    if (ack_process(s, seg))
        return our_fin_acked(s);
    return true;
}

/* Seventh step: segment text. Returns true when all of it is held (the
 * FIN after it may count). */
static bool step_text(struct tern_tcp_sock *s, const struct tcp_seg *seg)
{
    if (seg->len == 0)
        return true;
    if (!receiving(s)) {
        s->tcp->stats.drop_data_after_fin++;
        return false;
    }
    return receive_data(s, seg->seq, seg->data, seg->len) == seg->len;
}

/* Eighth step: FIN, the segment's own (left for the retransmission when
 * data before it could not be held) or a held one whose gap filled. */
static void step_fin(struct tern_tcp_sock *s, const struct tcp_seg *seg, bool text_held)
{
    if ((seg->flags & TCP_FIN) && text_held)
        fin_arrived(s, seg->seq + seg->len);
    else if ((seg->flags & TCP_FIN) && s->state == TERN_TCP_TIME_WAIT)
        s->ack_now = true;
    if (s->fin_held && SEQ_GT(s->rcv_nxt, s->fin_held_seq))
        s->fin_held = false; /* data went past it: the peer's retransmission decides */
    if (s->fin_held && s->rcv_nxt == s->fin_held_seq)
        fin_receive(s); /* the gap before a held FIN filled */
}

/* A segment for a synchronized connection (or SYN-RECEIVED), in the order
 * of RFC 9293 3.10.7.4 "Other States"; each step returns false when the
 * segment is used up. */
static void conn_input(struct tern_tcp_sock *s, struct tcp_seg *seg)
{
    if (!step_seq(s, seg) || !step_rst(s, seg))
        return;
    /* third: security (IP security options are not supported) */
    if (!step_syn(s, seg) || !step_ack(s, seg))
        return;
    /* sixth: URG is not supported; urgent data is read inline */
    bool text_held = step_text(s, seg);
    step_fin(s, seg, text_held);
    tcp_output(s);
}

void tern_tcp_input(struct tern_tcp *tcp, uint32_t src, uint32_t dst, const void *segment,
                    size_t len)
{
    tern_tcp_input_offload(tcp, src, dst, segment, len, false);
}

void tern_tcp_input_offload(struct tern_tcp *tcp, uint32_t src, uint32_t dst,
                            const void *segment, size_t len, bool csum_valid)
{
    const uint8_t *p = segment;
    struct tcp_seg seg;
    tcp->stats.in_segs++;
    if (len < TCP_HDR_LEN || len > 65535) {
        tcp->stats.drop_short++;
        return;
    }
    size_t off = (size_t)(p[12] >> 4) * 4;
    if (off < TCP_HDR_LEN || off > len) {
        tcp->stats.drop_bad_offset++;
        return;
    }
    if (csum_valid) {
        tcp->stats.in_csum_vouched++;
    } else {
        uint32_t sum = tern_csum_pseudo_ipv4(src, dst, 6, (uint16_t)len);
        if (tern_csum_finish(tern_csum_add(sum, p, len)) != 0) {
            tcp->stats.drop_bad_csum++;
            return;
        }
    }
    if (!parse_options(p + TCP_HDR_LEN, off - TCP_HDR_LEN, &seg.opt)) {
        tcp->stats.drop_bad_options++;
        return;
    }
    seg.src = src;
    seg.dst = dst;
    seg.sport = tern_load_be16(p);
    seg.dport = tern_load_be16(p + 2);
    seg.seq = tern_load_be32(p + 4);
    seg.ack = tern_load_be32(p + 8);
    seg.flags = p[13] & 0x3f;
    seg.wnd = tern_load_be16(p + 14);
    seg.data = p + off;
    seg.len = (uint32_t)(len - off);
    if ((seg.flags & TCP_SYN) && (seg.flags & (TCP_FIN | TCP_RST))) {
        tcp->stats.drop_bad_flags++;
        return;
    }
    if (seg.sport == 0 || seg.dport == 0 || src == 0 || src == 0xffffffffu) {
        tcp->stats.drop_bad_flags++;
        return;
    }
    struct tern_tcp_sock *s = tcp_lookup(tcp, dst, seg.dport, src, seg.sport);
    if (!s) {
        struct tern_tcp_sock *l = find_listener(tcp, dst, seg.dport);
        if (!l) {
            tcp->stats.drop_no_pcb++;
            tcp_respond_rst(tcp, &seg);
            return;
        }
        listen_input(l, &seg);
        tcp_notify(l);
        return;
    }
    struct tern_tcp_sock *parent = s->parent;
    uint32_t gen = s->gen;
    tcp_cork(s); /* the ACK waits for what the callback reads and writes */
    if (s->state == TERN_TCP_SYN_SENT)
        syn_sent_input(s, &seg);
    else
        conn_input(s, &seg);
    tcp_notify(s);
    tcp_uncork(s, gen);
    if (parent && parent->state == TERN_TCP_LISTEN)
        tcp_notify(parent);
}

void tern_tcp_icmp_error(struct tern_tcp *tcp, uint8_t type, uint8_t code, uint16_t next_mtu,
                         const void *orig, size_t len)
{
    const uint8_t *ip = orig;
    if (len < 20 || (ip[0] >> 4) != 4) {
        tcp->stats.icmp_ignored++;
        return;
    }
    size_t ihl = (size_t)(ip[0] & 15) * 4;
    if (ihl < 20 || len < ihl + 8 || ip[9] != 6) {
        tcp->stats.icmp_ignored++;
        return;
    }
    uint32_t src = tern_load_be32(ip + 12), dst = tern_load_be32(ip + 16);
    const uint8_t *th = ip + ihl;
    struct tern_tcp_sock *s =
        tcp_lookup(tcp, src, tern_load_be16(th), dst, tern_load_be16(th + 2));
    uint32_t seq = tern_load_be32(th + 4);
    /* RFC 5927 4.1: only a sequence number in flight is believable. */
    if (!s || s->state == TERN_TCP_LISTEN || SEQ_LT(seq, s->snd_una) ||
        SEQ_GEQ(seq, s->snd_max)) {
        tcp->stats.icmp_ignored++;
        return;
    }
    if (type == 3 && code == 4) {
        /* RFC 1191 / 5927 7: fragmentation needed. Never grow, never go
         * below the minimum. */
        uint32_t m = next_mtu >= 68 ? (uint32_t)next_mtu - 40 : TCP_DEFAULT_MSS;
        if (s->ts_ok)
            m -= m > 12 ? 12 : 0;
        if (m < TCP_MIN_MSS)
            m = TCP_MIN_MSS;
        if (m >= s->mss) {
            tcp->stats.icmp_ignored++;
            return;
        }
        tcp->stats.icmp_pmtu++;
        s->mss = m;
        /* The packets in flight were too big and are lost. RFC 1191
         * 6.5: resend one segment now, the rest as ACKs come back
         * (SND.NXT goes back to just after that segment, so the output
         * engine resends from there), congestion window kept: this is
         * no sign of congestion. Karn: no RTT sample from it. */
        s->rtt_timing = false;
        s->snd_nxt = s->snd_una;
        s->snd_nxt += rexmit_one(s, s->snd_una);
        return;
    }
    if (type == 3 && (code == 2 || code == 3) && connect_pending(s)) {
        /* Protocol or port unreachable while our connect is pending: a
         * hard error (RFC 1122 4.2.3.9); the connection is refused. */
        tcp->stats.icmp_hard_errors++;
        tcp_drop(s, TERN_EPROTO);
        tcp_notify(s);
        return;
    }
    /* Other unreachables, and codes 2-3 in synchronized states (RFC 5927
     * 4.2) or for a listener's half-open child: soft errors; source
     * quench is ignored (RFC 6633). */
    tcp->stats.icmp_soft_errors++;
}
