/*
 * Interface: the TCP sending engine and the per-connection timer.
 * tcp_output() sends whatever the windows, Nagle and the state allow;
 * the timer function handles retransmission (RFC 6298), zero-window
 * probes, delayed ACKs, keepalive and the end of TIME-WAIT.
 */
#include <stdint.h>
#include <string.h>

#include "tern/inet.h"
#include "tern/os.h"
#include "tcp_internal.h"

static uint64_t ms_to_ns(uint64_t ms)
{
    return ms * 1000000ull;
}

uint16_t tcp_mss_for_mtu(struct tern_tcp *tcp, uint32_t dst)
{
    uint32_t mtu = tcp->lower.path_mtu ? tcp->lower.path_mtu(tcp->lower.ctx, dst) : 576;
    if (mtu > tcp->cfg.mtu_max)
        mtu = tcp->cfg.mtu_max;
    if (mtu < TCP_MIN_MSS + 40)
        mtu = TCP_MIN_MSS + 40;
    return (uint16_t)(mtu - 40);
}

uint32_t tcp_flight(const struct tern_tcp_sock *s)
{
    return s->snd_max - s->snd_una;
}

size_t tcp_build_syn_opts(uint8_t *o, uint16_t mss, int wscale, bool sack, bool ts,
                          uint32_t tsval, uint32_t tsecr)
{
    size_t n = 0;
    o[n++] = 2; /* MSS */
    o[n++] = 4;
    tern_store_be16(o + n, mss);
    n += 2;
    if (wscale >= 0) {
        o[n++] = 1; /* NOP */
        o[n++] = 3; /* window scale */
        o[n++] = 3;
        o[n++] = (uint8_t)wscale;
    }
    if (sack && !ts) {
        o[n++] = 1;
        o[n++] = 1;
        o[n++] = 4; /* SACK permitted */
        o[n++] = 2;
    }
    if (ts) {
        if (sack) {
            o[n++] = 4;
            o[n++] = 2;
        } else {
            o[n++] = 1;
            o[n++] = 1;
        }
        o[n++] = 8; /* timestamps */
        o[n++] = 10;
        tern_store_be32(o + n, tsval);
        tern_store_be32(o + n + 4, tsecr);
        n += 8;
    }
    return n;
}

/* Fills the checksum of segment h (total bytes, src to dst) and hands it
 * to the lower layer, counted: as one TSO unit of gso_mss-byte pieces
 * when gso_mss, with only the folded pseudo-header sum when the layer
 * below finishes checksums (output_partial), else whole. */
static void output_segment(struct tern_tcp *tcp, uint32_t src, uint32_t dst, uint8_t *h,
                           size_t total, uint8_t flags, uint32_t gso_mss)
{
    uint32_t sum = tern_csum_pseudo_ipv4(src, dst, 6, (uint16_t)total);
    bool partial = gso_mss || tcp->lower.output_partial;
    if (partial)  /* the folded pseudo-header sum; the device adds the rest */
        tern_store_be16(h + 16, (uint16_t)~tern_csum_finish(sum));
    else
        tern_store_be16(h + 16, tern_csum_finish(tern_csum_add(sum, h, total)));
    tcp->stats.out_segs++;
    if (flags & TCP_RST)
        tcp->stats.rst_sent++;
    tern_result r;
    if (gso_mss) {
        tcp->stats.out_tso++;
        r = tcp->lower.output_tso(tcp->lower.ctx, src, dst, h, total, (uint16_t)gso_mss);
    } else if (partial) {
        r = tcp->lower.output_partial(tcp->lower.ctx, src, dst, h, total);
    } else {
        r = tcp->lower.output(tcp->lower.ctx, src, dst, h, total);
    }
    if (r != TERN_OK)
        tcp->stats.out_again++;
}

void tcp_send_raw(struct tern_tcp *tcp, uint32_t src, uint32_t dst, uint16_t sport,
                  uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd,
                  const uint8_t *opts, size_t optlen)
{
    uint8_t *h = tcp->scratch;
    size_t hl = TCP_HDR_LEN + optlen;
    tern_store_be16(h, sport);
    tern_store_be16(h + 2, dport);
    tern_store_be32(h + 4, seq);
    tern_store_be32(h + 8, ack);
    h[12] = (uint8_t)((hl / 4) << 4);
    h[13] = flags;
    tern_store_be16(h + 14, wnd);
    tern_store_be16(h + 16, 0);
    tern_store_be16(h + 18, 0);
    if (optlen)
        memcpy(h + TCP_HDR_LEN, opts, optlen);
    output_segment(tcp, src, dst, h, hl, flags, 0);
}

/* The window field for a non-SYN segment; moves rcv_adv forward with
 * receiver-side silly window avoidance (RFC 9293 3.8.6.2.2). */
static uint16_t adv_window(struct tern_tcp_sock *s)
{
    uint32_t space = tcp_rcv_space(s);
    uint32_t gran = (uint32_t)1 << s->rcv_wscale;
    uint32_t edge = s->rcv_nxt + (space & ~(gran - 1));
    uint32_t thresh = s->rbuf_cap / 2 < s->mss ? s->rbuf_cap / 2 : s->mss;
    if (SEQ_GT(edge, s->rcv_adv) &&
        (edge - s->rcv_adv >= thresh || SEQ_LEQ(s->rcv_adv, s->rcv_nxt)))
        s->rcv_adv = edge;
    if (SEQ_LT(s->rcv_adv, s->rcv_nxt))
        s->rcv_adv = s->rcv_nxt;
    uint32_t w = (s->rcv_adv - s->rcv_nxt) >> s->rcv_wscale;
    return (uint16_t)(w > 65535 ? 65535 : w);
}

/* Sends one segment of the connection: len bytes of the send buffer from
 * seq (which must lie in it), with flags; with gso_mss, as one TSO
 * segment for the layer below to cut into gso_mss-byte pieces. */
static void send_segment(struct tern_tcp_sock *s, uint32_t seq, uint32_t len, uint8_t flags,
                         uint32_t gso_mss)
{
    struct tern_tcp *tcp = s->tcp;
    uint8_t opts[TCP_MAX_OPT];
    size_t n = 0;
    uint32_t tsval = tcp_now_ms(tcp) + s->ts_offset;
    if (s->ts_ok) {
        opts[n++] = 1;
        opts[n++] = 1;
        opts[n++] = 8;
        opts[n++] = 10;
        tern_store_be32(opts + n, tsval);
        tern_store_be32(opts + n + 4, s->ts_recent);
        n += 8;
    }
    if (s->sack_ok && s->nooo > 0 && (flags & TCP_ACK)) {
        unsigned room = (unsigned)((TCP_MAX_OPT - n - 4) / 8);
        unsigned nb = s->nooo < room ? s->nooo : room;
        /* ooo[] is newest first: the block holding the latest arrival,
         * then the most recently reported ones (RFC 2018 4). */
        opts[n++] = 1;
        opts[n++] = 1;
        opts[n++] = 5;
        opts[n++] = (uint8_t)(2 + 8 * nb);
        for (unsigned k = 0; k < nb; k++) {
            tern_store_be32(opts + n, s->ooo[k].start);
            tern_store_be32(opts + n + 4, s->ooo[k].end);
            n += 8;
        }
    }
    uint16_t wnd = adv_window(s);
    uint8_t *h = tcp->scratch;
    size_t hl = TCP_HDR_LEN + n;
    tern_store_be16(h, s->lport);
    tern_store_be16(h + 2, s->rport);
    tern_store_be32(h + 4, seq);
    tern_store_be32(h + 8, (flags & TCP_ACK) ? s->rcv_nxt : 0);
    h[12] = (uint8_t)((hl / 4) << 4);
    h[13] = flags;
    tern_store_be16(h + 14, wnd);
    tern_store_be16(h + 16, 0);
    tern_store_be16(h + 18, 0);
    memcpy(h + TCP_HDR_LEN, opts, n);
    if (len) {
        uint32_t off = seq - s->snd_una;
        uint32_t start = (s->sbuf_head + off) % s->sbuf_cap;
        uint32_t first = s->sbuf_cap - start;
        if (first > len)
            first = len;
        memcpy(h + hl, s->sbuf + start, first);
        memcpy(h + hl + first, s->sbuf, len - first);
    }
    if (flags & TCP_ACK) {
        s->last_ack_sent = s->rcv_nxt;
        s->ack_now = false;
        s->delack_at = 0;
        s->unacked_segs = 0;
    }
    output_segment(tcp, s->laddr, s->raddr, h, hl + len, flags, gso_mss);
}

void tcp_send_segment(struct tern_tcp_sock *s, uint32_t seq, uint32_t len, uint8_t flags)
{
    send_segment(s, seq, len, flags, 0);
}

void tcp_send_tso(struct tern_tcp_sock *s, uint32_t seq, uint32_t len, uint8_t flags,
                  uint32_t gso_mss)
{
    send_segment(s, seq, len, flags, len > gso_mss ? gso_mss : 0);
}

/* The largest payload one TSO segment may carry now: a multiple of mp,
 * or 0 when the path offloads nothing. */
static uint32_t tso_payload(struct tern_tcp_sock *s, uint32_t mp)
{
    struct tern_tcp *tcp = s->tcp;
    if (tcp->lower.tso_max == NULL || mp == 0)
        return 0;
    uint32_t m = tcp->lower.tso_max(tcp->lower.ctx, s->raddr);
    if (m > 65535 - 20)
        m = 65535 - 20;
    if (m <= TCP_HDR_LEN + TCP_MAX_OPT + mp)
        return 0;
    m -= TCP_HDR_LEN + TCP_MAX_OPT;
    return m - m % mp;
}

void tcp_send_ack(struct tern_tcp_sock *s)
{
    /* snd_max, not snd_nxt: after a timeout snd_nxt is pulled back, and
     * the peer has seen sequence numbers up to snd_max; an ACK below its
     * window would be refused (and answered: an ACK war). */
    uint32_t seq = s->snd_max;
    if (SEQ_GT(s->snd_max, s->snd_una + s->snd_wnd))
        seq = s->snd_una; /* a window probe is out beyond the peer's window */
    tcp_send_segment(s, seq, 0, TCP_ACK);
}

void tcp_send_rst(struct tern_tcp_sock *s)
{
    tcp_send_segment(s, s->snd_max, 0, TCP_RST | TCP_ACK);
}

void tcp_send_challenge_ack(struct tern_tcp_sock *s)
{
    struct tern_tcp *tcp = s->tcp;
    uint64_t now = tcp_now_ms(tcp);
    if (now - tcp->challenge_window_ms >= 1000) {
        tcp->challenge_window_ms = now;
        tcp->challenge_count = 0;
    }
    if (tcp->challenge_count >= tcp->cfg.challenge_acks_per_sec) {
        tcp->stats.challenge_acks_limited++;
        return;
    }
    tcp->challenge_count++;
    tcp->stats.challenge_acks++;
    tcp_send_ack(s);
}

void tcp_respond_rst(struct tern_tcp *tcp, const struct tcp_seg *seg)
{
    if (seg->flags & TCP_RST)
        return;
    if (seg->flags & TCP_ACK) {
        tcp_send_raw(tcp, seg->dst, seg->src, seg->dport, seg->sport, seg->ack, 0, TCP_RST, 0,
                     NULL, 0);
    } else {
        uint32_t ack = seg->seq + seg->len + ((seg->flags & TCP_SYN) ? 1 : 0) +
                       ((seg->flags & TCP_FIN) ? 1 : 0);
        tcp_send_raw(tcp, seg->dst, seg->src, seg->dport, seg->sport, 0, ack,
                     TCP_RST | TCP_ACK, 0, NULL, 0);
    }
}

uint16_t tcp_syn_window(const struct tern_tcp_sock *s)
{
    uint32_t space = tcp_rcv_space(s);
    return (uint16_t)(space > 65535 ? 65535 : space);
}

void tcp_send_syn(struct tern_tcp_sock *s)
{
    uint8_t opts[TCP_MAX_OPT];
    struct tern_tcp *tcp = s->tcp;
    uint16_t mss = tcp_mss_for_mtu(tcp, s->raddr);
    bool synack = s->state == TERN_TCP_SYN_RECEIVED;
    size_t n;
    if (s->backoff == 0)
        s->rtt_start_ms = tcp_now_ms(tcp);
    if (synack && s->syn_cookie)
        n = 0;
    else
        n = tcp_build_syn_opts(opts, mss, (!synack || s->ws_ok) ? s->rcv_wscale : -1,
                               !synack || s->sack_ok, !synack || s->ts_ok,
                               tcp_now_ms(tcp) + s->ts_offset, synack ? s->ts_recent : 0);
    uint16_t wnd = tcp_syn_window(s);
    s->rcv_adv = s->rcv_nxt + wnd;
    tcp_send_raw(tcp, s->laddr, s->raddr, s->lport, s->rport, s->iss, synack ? s->rcv_nxt : 0,
                 synack ? (TCP_SYN | TCP_ACK) : TCP_SYN, wnd, opts, n);
    if (synack)
        s->last_ack_sent = s->rcv_nxt;
    s->snd_nxt = s->iss + 1;
    s->snd_max = s->iss + 1;
    if (!s->rexmt_at)
        tcp_rexmt_arm(s);
    tcp_timer_update(s);
}

void tcp_rexmt_arm(struct tern_tcp_sock *s)
{
    s->rexmt_at = tern_now_ns(s->tcp->os) + ms_to_ns(s->rto_ms);
}

/* The largest payload a segment may carry after its options. */
uint32_t tcp_max_payload(const struct tern_tcp_sock *s)
{
    uint32_t m = s->mss;
    if (s->sack_ok && s->nooo > 0) {
        uint32_t room = s->ts_ok ? 3 : 4; /* as in tcp_send_segment */
        uint32_t nb = s->nooo < room ? s->nooo : room;
        uint32_t o = 4 + 8 * nb;
        m = m > o + TCP_MIN_MSS ? m - o : TCP_MIN_MSS;
    }
    return m;
}

/* Moves snd_nxt past a SACKed range it sits in (RFC 2018: not resent). */
static void skip_sacked(struct tern_tcp_sock *s)
{
    bool moved = true;
    while (moved) {
        moved = false;
        for (unsigned i = 0; i < s->nsacked; i++) {
            if (SEQ_GEQ(s->snd_nxt, s->sacked[i].start) && SEQ_LT(s->snd_nxt, s->sacked[i].end)) {
                s->snd_nxt = s->sacked[i].end;
                moved = true;
            }
        }
    }
}

void tcp_output(struct tern_tcp_sock *s)
{
    struct tern_tcp *tcp = s->tcp;
    if (s->cb_depth > 0) {
        s->output_pending = true; /* corked: tcp_uncork sends */
        return;
    }
    switch (s->state) {
    case TERN_TCP_ESTABLISHED:
    case TERN_TCP_CLOSE_WAIT:
    case TERN_TCP_FIN_WAIT_1:
    case TERN_TCP_FIN_WAIT_2:
    case TERN_TCP_CLOSING:
    case TERN_TCP_LAST_ACK:
    case TERN_TCP_TIME_WAIT:
        break;
    case TERN_TCP_SYN_RECEIVED:
        if (s->ack_now) {
            s->ack_now = false;
            tcp_send_syn(s);
        }
        return;
    default:
        return;
    }
    uint32_t data_end = s->snd_una + s->sbuf_len;
    /* Once the FIN is acknowledged, snd_una is one past the data and a
     * FIN "due" at data_end would take a sequence number never allocated. */
    if (s->state != TERN_TCP_TIME_WAIT && !s->fin_acked) {
        for (;;) {
            if (s->sack_ok)
                skip_sacked(s);
            if (SEQ_GT(s->snd_nxt, data_end))
                break; /* the FIN is out */
            uint32_t avail = data_end - s->snd_nxt;
            uint32_t cw = s->cwnd;
            if (!s->in_recovery && s->dupacks > 0 && s->dupacks < 3 &&
                s->snd_nxt == s->snd_max)
                cw += s->dupacks * s->mss; /* limited transmit (RFC 3042) */
            uint32_t wnd = s->snd_wnd < cw ? s->snd_wnd : cw;
            uint32_t flight = s->snd_nxt - s->snd_una;
            uint32_t usable = wnd > flight ? wnd - flight : 0;
            uint32_t mp = tcp_max_payload(s);
            uint32_t len = avail < usable ? avail : usable;
            uint32_t tso = len > mp ? tso_payload(s, mp) : 0;
            if (len > (tso ? tso : mp))
                len = tso ? tso : mp;
            if (len > mp) {
                /* One TSO segment: never over data the peer SACKed, and
                 * whole MSS pieces only, except a tail that is the end
                 * of the data and that Nagle would let go now. */
                for (unsigned i = 0; i < s->nsacked; i++)
                    if (SEQ_GT(s->sacked[i].start, s->snd_nxt) &&
                        s->sacked[i].start - s->snd_nxt < len)
                        len = s->sacked[i].start - s->snd_nxt;
                bool tail_ok = len == avail &&
                               (s->nodelay || s->shut_wr || SEQ_LT(s->snd_nxt, s->snd_max) ||
                                s->snd_max == s->snd_una);
                if (len > mp && !tail_ok)
                    len -= len % mp;
            }
            bool fin = s->shut_wr && len == avail;
            if (len == 0 && !fin)
                break;
            if (fin && len == 0 && s->snd_wnd == 0 && flight == 0 && usable == 0 &&
                SEQ_LT(s->snd_nxt, s->snd_max))
                break;
            if (SEQ_LT(s->snd_nxt, s->snd_max)) {
                /* a retransmission: SWS and Nagle hold back new data only */
            } else if (len < mp && len < avail) {
                /* window-limited: sender SWS avoidance */
                if (len < s->max_snd_wnd / 2)
                    break;
            } else if (len < mp && !fin && !s->nodelay && SEQ_GT(s->snd_max, s->snd_una) &&
                       SEQ_LEQ(s->snd_max, s->snd_nxt)) {
                break; /* Nagle: a small segment waits for the outstanding ACK */
            }
            uint8_t flags = TCP_ACK;
            if (len && len == avail)
                flags |= TCP_PSH;
            if (fin)
                flags |= TCP_FIN;
            if (SEQ_LT(s->snd_nxt, s->snd_max))
                tcp->stats.retransmits++;
            else if (!s->ts_ok && !s->rtt_timing && len) {
                s->rtt_timing = true;
                s->rtt_seq = s->snd_nxt;
                s->rtt_start_ms = tcp_now_ms(tcp);
            }
            if (len > mp)
                tcp_send_tso(s, s->snd_nxt, len, flags, mp);
            else
                tcp_send_segment(s, s->snd_nxt, len, flags);
            s->snd_nxt += len + (fin ? 1 : 0);
            if (fin)
                s->fin_sent = true;
            if (SEQ_GT(s->snd_nxt, s->snd_max))
                s->snd_max = s->snd_nxt;
            if (!s->rexmt_at)
                tcp_rexmt_arm(s);
            if (fin)
                break;
        }
    }
    if (s->ack_now)
        tcp_send_ack(s);
    /* Timers: retransmission while something is in flight and the peer
     * has a window; persist when its window is zero and data waits. */
    bool pending = SEQ_LT(s->snd_nxt, data_end) || (s->shut_wr && !s->fin_sent);
    /* Persist also when the window is open but too small to use (SWS
     * avoidance) with nothing in flight: the update that would unblock
     * us may have been lost, and no other timer would notice. */
    if (pending && s->state != TERN_TCP_TIME_WAIT &&
        (s->snd_wnd == 0 || s->snd_max == s->snd_una)) {
        s->rexmt_at = 0;
        if (!s->persist_at) {
            uint32_t d = s->rto_ms << (s->persist_backoff < 6 ? s->persist_backoff : 6);
            if (d > tcp->cfg.rto_max_ms)
                d = tcp->cfg.rto_max_ms;
            s->persist_at = tern_now_ns(tcp->os) + ms_to_ns(d);
        }
    } else {
        s->persist_at = 0;
        if (s->snd_max == s->snd_una)
            s->rexmt_at = 0;
        else if (!s->rexmt_at)
            tcp_rexmt_arm(s);
    }
    tcp_timer_update(s);
}

void tcp_timer_update(struct tern_tcp_sock *s)
{
    uint64_t next = UINT64_MAX;
    const uint64_t ts[] = { s->rexmt_at, s->persist_at, s->delack_at, s->keep_at, s->tw_at };
    for (unsigned i = 0; i < sizeof(ts) / sizeof(ts[0]); i++)
        if (ts[i] && ts[i] < next)
            next = ts[i];
    if (next == UINT64_MAX) {
        tern_timer_disarm(s->tcp->os, &s->timer);
        return;
    }
    if (!tern_timer_armed(&s->timer) || s->timer.deadline_ns != next)
        tern_timer_arm(s->tcp->os, &s->timer, next);
}

static void on_rexmt(struct tern_tcp_sock *s)
{
    struct tern_tcp *tcp = s->tcp;
    s->rexmt_at = 0;
    tcp->stats.rto_timeouts++;
    bool syn = s->state == TERN_TCP_SYN_SENT || s->state == TERN_TCP_SYN_RECEIVED;
    if (s->backoff >= (syn ? tcp->cfg.syn_retries : tcp->cfg.max_retries)) {
        tcp->stats.conns_timed_out++;
        tcp_drop(s, TERN_ETIMEDOUT);
        return;
    }
    s->backoff++;
    s->rto_ms = s->rto_ms * 2 > tcp->cfg.rto_max_ms ? tcp->cfg.rto_max_ms : s->rto_ms * 2;
    s->rtt_timing = false; /* Karn */
    if (syn) {
        tcp->stats.retransmits++;
        tcp_send_syn(s);
        return;
    }
    uint32_t flight = tcp_flight(s);
    uint32_t half = flight / 2;
    s->ssthresh = half > 2 * s->mss ? half : 2 * s->mss;
    s->cwnd = s->mss;
    s->dupacks = 0;
    s->in_recovery = false;
    s->recover = s->snd_max;
    /* RFC 2018 8: SACKed data may be reneged. Trust the scoreboard for
     * one timeout (no needless resending), forget it on the second so a
     * reneging receiver cannot wedge the connection. */
    if (s->backoff > 1)
        s->nsacked = 0;
    s->snd_nxt = s->snd_una;
    tcp_output(s);
}

static void on_persist(struct tern_tcp_sock *s)
{
    struct tern_tcp *tcp = s->tcp;
    s->persist_at = 0;
    /* RFC 9293: stay open while the peer answers the probes; give up
     * only when it stops answering. */
    if (s->probes_unanswered >= tcp->cfg.max_retries) {
        tcp->stats.conns_timed_out++;
        tcp_drop(s, TERN_ETIMEDOUT);
        return;
    }
    s->persist_backoff++;
    s->probes_unanswered++;
    tcp->stats.zero_window_probes++;
    s->snd_nxt = s->snd_una;
    if (s->sbuf_len > 0) {
        /* zero window: one byte; a small window: what fits in it */
        uint32_t len = 1;
        if (s->snd_wnd > 0) {
            len = s->snd_wnd < s->sbuf_len ? s->snd_wnd : s->sbuf_len;
            if (len > tcp_max_payload(s))
                len = tcp_max_payload(s);
        }
        tcp_send_segment(s, s->snd_una, len, TCP_ACK);
        s->snd_nxt = s->snd_una + len;
    } else if (s->shut_wr && !s->fin_acked) {
        tcp_send_segment(s, s->snd_una, 0, TCP_ACK | TCP_FIN);
        s->fin_sent = true;
        s->snd_nxt = s->snd_una + 1;
    }
    if (SEQ_GT(s->snd_nxt, s->snd_max))
        s->snd_max = s->snd_nxt;
    tcp_output(s); /* re-arms persist */
}

static void on_keepalive(struct tern_tcp_sock *s)
{
    struct tern_tcp *tcp = s->tcp;
    uint64_t now = tcp_now_ms(tcp);
    s->keep_at = 0;
    if (!s->keepalive ||
        (s->state != TERN_TCP_ESTABLISHED && s->state != TERN_TCP_CLOSE_WAIT))
        return;
    if (now - s->last_rx_ms < tcp->cfg.keepalive_idle_ms) {
        s->keep_at = tern_now_ns(tcp->os) +
                     ms_to_ns(tcp->cfg.keepalive_idle_ms - (now - s->last_rx_ms));
        return;
    }
    if (s->keep_sent >= tcp->cfg.keepalive_probes) {
        tcp->stats.conns_timed_out++;
        tcp_drop(s, TERN_ETIMEDOUT);
        return;
    }
    s->keep_sent++;
    tcp->stats.keepalive_probes++;
    tcp_send_segment(s, s->snd_una - 1, 0, TCP_ACK);
    s->keep_at = tern_now_ns(tcp->os) + ms_to_ns(tcp->cfg.keepalive_intvl_ms);
}

void tcp_timer_fire(struct tern_timer *t, void *arg)
{
    struct tern_tcp_sock *s = arg;
    (void)t;
    uint64_t now = tern_now_ns(s->tcp->os);
    if (s->tw_at && s->tw_at <= now) {
        s->tw_at = 0;
        tcp_drop(s, TERN_OK);
        return;
    }
    if (s->delack_at && s->delack_at <= now) {
        s->delack_at = 0;
        tcp_send_ack(s);
    }
    if (s->rexmt_at && s->rexmt_at <= now) {
        on_rexmt(s);
        if (s->state == TERN_TCP_CLOSED) {
            tcp_notify(s);
            return;
        }
    }
    if (s->persist_at && s->persist_at <= now) {
        on_persist(s);
        if (s->state == TERN_TCP_CLOSED) {
            tcp_notify(s);
            return;
        }
    }
    if (s->keep_at && s->keep_at <= now) {
        on_keepalive(s);
        if (s->state == TERN_TCP_CLOSED) {
            tcp_notify(s);
            return;
        }
    }
    tcp_timer_update(s);
    tcp_notify(s);
}
