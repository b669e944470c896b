/* TCP unit tests: wire-format segments in, captured segments out. Each
 * test ends with the pool empty and the heap at its baseline
 * (fx_free_checked). Hostile inputs follow ../shared/testing.md: RFC 5961
 * blind RST/SYN/data injection, RST and FIN in every state, overlapping
 * and out-of-order data, zero windows, SYN floods, window shrinking,
 * TIME-WAIT assassination, ICMP attacks, malformed headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tcp_fixture.h"
#include "tern/inet.h"

/* A SYN from 192.0.2.2:40000 to port 80, with the usual Linux options. */
static const uint8_t syn_linux[] = {
    0x9c, 0x40,             /* source port 40000 */
    0x00, 0x50,             /* destination port 80 */
    0x00, 0x00, 0x03, 0xe8, /* sequence number 1000 */
    0x00, 0x00, 0x00, 0x00, /* acknowledgment number 0 */
    0xa0,                   /* data offset 10 words (40 bytes) */
    0x02,                   /* flags: SYN */
    0xfa, 0xf0,             /* window 64240 */
    0x00, 0x00,             /* checksum (filled by the fixture) */
    0x00, 0x00,             /* urgent pointer */
    0x02, 0x04, 0x05, 0xb4, /* MSS 1460 */
    0x04, 0x02,             /* SACK permitted */
    0x08, 0x0a,             /* timestamps: */
    0x00, 0x00, 0x10, 0x00, /*   TSval 4096 */
    0x00, 0x00, 0x00, 0x00, /*   TSecr 0 */
    0x01,                   /* NOP */
    0x03, 0x03, 0x07,       /* window scale 7 */
};

static bool has_option(const struct out_seg *o, uint8_t kind, const uint8_t **val)
{
    size_t i = 0;
    while (i < o->optlen) {
        if (o->opts[i] == 0)
            break;
        if (o->opts[i] == 1) {
            i++;
            continue;
        }
        if (i + 1 >= o->optlen || o->opts[i + 1] < 2)
            return false;
        if (o->opts[i] == kind) {
            if (val)
                *val = o->opts + i + 2;
            return true;
        }
        i += o->opts[i + 1];
    }
    return false;
}

static void test_passive_open_linux_syn_options(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls;
    assert_int_equal(tern_tcp_listen(&f->tcp, 0, 80, 4, NULL, NULL, &ls), TERN_OK);
    uint8_t syn[sizeof(syn_linux)];
    memcpy(syn, syn_linux, sizeof(syn));
    fx_input_raw(f, syn, sizeof(syn), true);
    assert_int_equal(f->ncap, 1);
    const struct out_seg *sa = fx_last(f);
    assert_int_equal(sa->flags, F_SYN | F_ACK);
    assert_int_equal(sa->ack, 1001);
    assert_int_equal(sa->sport, 80);
    assert_int_equal(sa->dport, 40000);
    const uint8_t *v = NULL;
    assert_true(has_option(sa, 2, &v));
    assert_int_equal(tern_load_be16(v), 1460);
    assert_true(has_option(sa, 4, NULL));         /* SACK permitted back */
    assert_true(has_option(sa, 8, &v));           /* timestamps, echoing 4096 */
    assert_int_equal(tern_load_be32(v + 4), 4096);
    assert_true(has_option(sa, 3, NULL));         /* window scale */
    uint32_t isn = sa->seq;
    uint32_t tsval = tern_load_be32(v);
    /* The ACK completing the handshake, with timestamps. */
    uint8_t ts[12] = { 1, 1, 8, 10, 0, 0, 0x10, 0x01 };
    tern_store_be32(ts + 8, tsval);
    fx_send(f, 40000, 80, 1001, isn + 1, F_ACK, 502 /* <<7 */, ts, 12, NULL, 0);
    struct tern_tcp_sock *s;
    assert_int_equal(tern_tcp_accept(ls, &s), TERN_OK);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_ESTABLISHED);
    assert_int_equal(tern_tcp_get_mss(s), 1460 - 12);
    uint32_t la, ra;
    uint16_t lp, rp;
    tern_tcp_get_addrs(s, &la, &lp, &ra, &rp);
    assert_int_equal(la, US);
    assert_int_equal(ra, PEER);
    assert_int_equal(lp, 80);
    assert_int_equal(rp, 40000);
    /* A segment with an old timestamp fails PAWS: dropped, ACKed. */
    tern_store_be32(ts + 4, 4000);
    unsigned before = f->ncap;
    fx_send(f, 40000, 80, 1001, isn + 1, F_ACK, 502, ts, 12, "x", 1);
    assert_int_equal(f->tcp.stats.drop_paws, 1);
    assert_int_equal(tern_tcp_recv_avail(s), 0);
    assert_int_equal(f->ncap, before + 1);
    /* Without timestamps once negotiated: dropped (RFC 7323 3.2). */
    fx_send(f, 40000, 80, 1001, isn + 1, F_ACK, 502, NULL, 0, "x", 1);
    assert_int_equal(f->tcp.stats.drop_no_ts, 1);
    assert_int_equal(tern_tcp_recv_avail(s), 0);
    tern_tcp_abort(s);
    assert_int_equal(fx_last(f)->flags & F_RST, F_RST);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

static void test_malformed_segments_counted_no_reply(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn;
    struct tern_tcp_sock *s = fx_passive(f, &ls, 40000, 1000, &isn);
    unsigned before = f->ncap;
    uint8_t seg[64];
    /* too short */
    memset(seg, 0, sizeof(seg));
    fx_input_raw(f, seg, 19, false);
    assert_int_equal(f->tcp.stats.drop_short, 1);
    /* bad data offset: 4 words, and one pointing past the end */
    memcpy(seg, syn_linux, 20);
    seg[12] = 0x40;
    fx_input_raw(f, seg, 20, true);
    seg[12] = 0xf0;
    fx_input_raw(f, seg, 20, true);
    assert_int_equal(f->tcp.stats.drop_bad_offset, 2);
    /* bad checksum */
    memcpy(seg, syn_linux, sizeof(syn_linux));
    fx_input_raw(f, seg, sizeof(syn_linux), true);
    unsigned after_good = f->ncap;
    seg[16] ^= 0x55;
    fx_input_raw(f, seg, sizeof(syn_linux), false);
    assert_int_equal(f->tcp.stats.drop_bad_csum, 1);
    assert_int_equal(f->ncap, after_good);
    /* option with length 0 and an option running off the end */
    memcpy(seg, syn_linux, sizeof(syn_linux));
    seg[20] = 2;
    seg[21] = 0;
    fx_input_raw(f, seg, sizeof(syn_linux), true);
    seg[20] = 1;
    seg[21] = 1;
    seg[38] = 3;
    seg[39] = 9;
    fx_input_raw(f, seg, sizeof(syn_linux), true);
    assert_int_equal(f->tcp.stats.drop_bad_options, 2);
    /* SYN+FIN and SYN+RST */
    fx_send(f, 40001, 80, 5, 0, F_SYN | F_FIN, 1000, NULL, 0, NULL, 0);
    fx_send(f, 40001, 80, 5, 0, F_SYN | F_RST, 1000, NULL, 0, NULL, 0);
    assert_int_equal(f->tcp.stats.drop_bad_flags, 2);
    /* the good SYN got a SYN-ACK (a second child); nothing else replied */
    assert_int_equal(after_good, before + 1);
    assert_int_equal(f->ncap, after_good);
    tern_tcp_abort(s);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

static void test_closed_port_gets_rst(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    fx_send(f, 40000, 81, 7000, 0, F_SYN, 1000, NULL, 0, NULL, 0);
    assert_int_equal(f->tcp.stats.drop_no_pcb, 1);
    const struct out_seg *r = fx_last(f);
    assert_int_equal(r->flags, F_RST | F_ACK);
    assert_int_equal(r->seq, 0);
    assert_int_equal(r->ack, 7001);
    /* with ACK: RST seq = their ack */
    fx_send(f, 40000, 81, 7000, 0xdeadbeef, F_ACK, 1000, NULL, 0, "abc", 3);
    r = fx_last(f);
    assert_int_equal(r->flags, F_RST);
    assert_int_equal(r->seq, 0xdeadbeef);
    /* never a RST for a RST */
    unsigned n = f->ncap;
    fx_send(f, 40000, 81, 7000, 0, F_RST, 0, NULL, 0, NULL, 0);
    assert_int_equal(f->ncap, n);
    fx_free_checked(f);
}

static void test_data_both_ways_and_graceful_close(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn;
    struct tern_tcp_sock *s = fx_passive(f, &ls, 40000, 1000, &isn);
    fx_send(f, 40000, 80, 1001, isn + 1, F_ACK | F_PSH, 65535, NULL, 0, "hello", 5);
    char buf[16];
    size_t got;
    assert_int_equal(tern_tcp_recv(s, buf, sizeof(buf), &got), TERN_OK);
    assert_int_equal(got, 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(tern_tcp_recv(s, buf, sizeof(buf), &got), TERN_AGAIN);
    /* delayed ACK fires */
    unsigned n = f->ncap;
    fx_advance_ms(f, 100);
    assert_int_equal(f->ncap, n + 1);
    assert_int_equal(fx_last(f)->ack, 1006);
    size_t sent;
    assert_int_equal(tern_tcp_send(s, "world", 5, &sent), TERN_OK);
    assert_int_equal(sent, 5);
    const struct out_seg *o = fx_last(f);
    assert_int_equal(o->len, 5);
    assert_memory_equal(o->data, "world", 5);
    assert_int_equal(o->seq, isn + 1);
    /* unacknowledged: retransmitted after the RTO */
    n = f->ncap;
    fx_advance_ms(f, 1100);
    assert_true(f->ncap > n);
    assert_int_equal(fx_last(f)->seq, isn + 1);
    assert_int_equal(fx_last(f)->len, 5);
    assert_true(f->tcp.stats.retransmits >= 1);
    fx_send(f, 40000, 80, 1006, isn + 6, F_ACK, 65535, NULL, 0, NULL, 0);
    /* peer closes: CLOSE-WAIT, EOF */
    fx_send(f, 40000, 80, 1006, isn + 6, F_ACK | F_FIN, 65535, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_CLOSE_WAIT);
    assert_int_equal(fx_last(f)->ack, 1007);
    assert_int_equal(tern_tcp_recv(s, buf, sizeof(buf), &got), TERN_OK);
    assert_int_equal(got, 0);
    tern_tcp_close(s);
    o = fx_last(f);
    assert_int_equal(o->flags & F_FIN, F_FIN);
    assert_int_equal(o->seq, isn + 6);
    fx_send(f, 40000, 80, 1007, isn + 7, F_ACK, 65535, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_pcbs_in_use(&f->tcp), 1); /* only the listener */
    tern_tcp_close(ls);
    fx_free_checked(f);
}

static void test_active_open_and_refusal(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *s;
    assert_int_equal(tern_tcp_connect(&f->tcp, US, 0, PEER, 80, NULL, NULL, &s), TERN_OK);
    const struct out_seg *syn = fx_last(f);
    assert_int_equal(syn->flags, F_SYN);
    assert_true(syn->sport >= 49152);
    uint32_t isn = syn->seq;
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_SYN_SENT);
    /* A RST whose ACK does not acknowledge our SYN is ignored. */
    fx_send(f, 80, syn->sport, 0, isn + 5, F_RST | F_ACK, 0, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_SYN_SENT);
    /* A bad ACK gets a RST and changes nothing. */
    fx_send(f, 80, syn->sport, 1, isn + 9, F_SYN | F_ACK, 1000, NULL, 0, NULL, 0);
    assert_int_equal(fx_last(f)->flags, F_RST);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_SYN_SENT);
    /* SYN retransmission with backoff */
    unsigned n = f->ncap;
    fx_advance_ms(f, 1001);
    assert_int_equal(f->ncap, n + 1);
    assert_int_equal(fx_last(f)->flags, F_SYN);
    assert_int_equal(fx_last(f)->seq, isn);
    /* The refusal */
    fx_send(f, 80, syn->sport, 0, isn + 1, F_RST | F_ACK, 0, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_CLOSED);
    assert_int_equal(tern_tcp_error(s), TERN_EPROTO);
    tern_tcp_close(s);

    /* connect that times out */
    assert_int_equal(tern_tcp_connect(&f->tcp, US, 5555, PEER, 80, NULL, NULL, &s), TERN_OK);
    fx_advance_ms(f, 600000);
    assert_int_equal(tern_tcp_error(s), TERN_ETIMEDOUT);
    tern_tcp_close(s);
    fx_free_checked(f);
}

/* RFC 5961: blind RST, SYN and data injection. */
static void test_rfc5961_blind_injection(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn;
    struct tern_tcp_sock *s = fx_passive(f, &ls, 40000, 1000, &isn);
    size_t sent;
    assert_int_equal(tern_tcp_send(s, "abcdef", 6, &sent), TERN_OK);
    fx_send(f, 40000, 80, 1001, isn + 7, F_ACK, 65535, NULL, 0, NULL, 0);

    /* RST in the window but not exact: challenge ACK, connection lives */
    unsigned n = f->ncap;
    fx_send(f, 40000, 80, 1001 + 100, 0, F_RST, 0, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_ESTABLISHED);
    assert_int_equal(f->ncap, n + 1);
    assert_int_equal(fx_last(f)->flags, F_ACK);
    assert_int_equal(fx_last(f)->ack, 1001);
    assert_int_equal(f->tcp.stats.challenge_acks, 1);
    /* RST outside the window: silently dropped */
    fx_send(f, 40000, 80, 1001 + 1000000, 0, F_RST, 0, NULL, 0, NULL, 0);
    assert_int_equal(f->ncap, n + 1);
    assert_int_equal(f->tcp.stats.drop_rst_out_of_window, 1);
    /* SYN in a synchronized state: challenge ACK, whatever its sequence */
    fx_send(f, 40000, 80, 1001 + 5, 0, F_SYN, 1000, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_ESTABLISHED);
    assert_int_equal(f->tcp.stats.challenge_acks, 2);
    /* data with an ACK older than the window allows: challenge ACK, no data */
    fx_send(f, 40000, 80, 1001, isn - 200000, F_ACK, 65535, NULL, 0, "evil", 4);
    assert_int_equal(tern_tcp_recv_avail(s), 0);
    assert_int_equal(f->tcp.stats.drop_ack_too_old, 1);
    assert_int_equal(f->tcp.stats.challenge_acks, 3);
    /* data acknowledging what we never sent: ACK, dropped */
    fx_send(f, 40000, 80, 1001, isn + 5000, F_ACK, 65535, NULL, 0, "evil", 4);
    assert_int_equal(tern_tcp_recv_avail(s), 0);
    assert_int_equal(f->tcp.stats.drop_ack_too_new, 1);
    /* data outside the receive window: ACK, dropped */
    fx_send(f, 40000, 80, 1001 + 900000, isn + 7, F_ACK, 65535, NULL, 0, "evil", 4);
    assert_int_equal(tern_tcp_recv_avail(s), 0);
    /* challenge ACK rate limit */
    for (int i = 0; i < 500; i++)
        fx_send(f, 40000, 80, 1001 + 10 + (uint32_t)i, 0, F_RST, 0, NULL, 0, NULL, 0);
    assert_int_equal(f->tcp.stats.challenge_acks, f->cfg.challenge_acks_per_sec);
    assert_true(f->tcp.stats.challenge_acks_limited >= 500 - f->cfg.challenge_acks_per_sec);
    /* the exact RST resets */
    fx_send(f, 40000, 80, 1001, 0, F_RST, 0, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_CLOSED);
    assert_int_equal(tern_tcp_error(s), TERN_ECLOSED);
    size_t got;
    char b[4];
    assert_int_equal(tern_tcp_recv(s, b, 4, &got), TERN_ECLOSED);
    assert_int_equal(tern_tcp_send(s, "x", 1, &sent), TERN_ECLOSED);
    tern_tcp_close(s);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

/* Drives a fresh passive connection into st. Returns the socket (NULL
 * for states that leave no block the user holds). */
static struct tern_tcp_sock *into_state(struct fx *f, struct tern_tcp_sock **ls,
                                        enum tern_tcp_state st, uint32_t *isn,
                                        uint32_t *peer_nxt)
{
    *peer_nxt = 1001;
    if (st == TERN_TCP_SYN_RECEIVED) {
        if (!*ls)
            assert_int_equal(tern_tcp_listen(&f->tcp, 0, 80, 4, NULL, NULL, ls), TERN_OK);
        fx_send(f, 40000, 80, 1000, 0, F_SYN, 65535, NULL, 0, NULL, 0);
        *isn = fx_last(f)->seq;
        return NULL;
    }
    struct tern_tcp_sock *s = fx_passive(f, ls, 40000, 1000, isn);
    switch (st) {
    case TERN_TCP_ESTABLISHED:
        break;
    case TERN_TCP_FIN_WAIT_1:
        tern_tcp_shutdown(s);
        break;
    case TERN_TCP_FIN_WAIT_2:
        tern_tcp_shutdown(s);
        fx_send(f, 40000, 80, 1001, *isn + 2, F_ACK, 65535, NULL, 0, NULL, 0);
        break;
    case TERN_TCP_CLOSE_WAIT:
        fx_send(f, 40000, 80, 1001, *isn + 1, F_ACK | F_FIN, 65535, NULL, 0, NULL, 0);
        *peer_nxt = 1002;
        break;
    case TERN_TCP_CLOSING:
        tern_tcp_shutdown(s);
        fx_send(f, 40000, 80, 1001, *isn + 1, F_ACK | F_FIN, 65535, NULL, 0, NULL, 0);
        *peer_nxt = 1002;
        break;
    case TERN_TCP_LAST_ACK:
        fx_send(f, 40000, 80, 1001, *isn + 1, F_ACK | F_FIN, 65535, NULL, 0, NULL, 0);
        tern_tcp_shutdown(s);
        *peer_nxt = 1002;
        break;
    case TERN_TCP_TIME_WAIT:
        tern_tcp_shutdown(s);
        fx_send(f, 40000, 80, 1001, *isn + 2, F_ACK | F_FIN, 65535, NULL, 0, NULL, 0);
        *peer_nxt = 1002;
        break;
    default:
        fail();
    }
    assert_int_equal(tern_tcp_get_state(s), st);
    return s;
}

static const enum tern_tcp_state sync_states[] = {
    TERN_TCP_SYN_RECEIVED, TERN_TCP_ESTABLISHED, TERN_TCP_FIN_WAIT_1, TERN_TCP_FIN_WAIT_2,
    TERN_TCP_CLOSE_WAIT,   TERN_TCP_CLOSING,     TERN_TCP_LAST_ACK,   TERN_TCP_TIME_WAIT,
};

static void test_rst_in_every_state(void **state)
{
    (void)state;
    for (unsigned i = 0; i < sizeof(sync_states) / sizeof(sync_states[0]); i++) {
        enum tern_tcp_state st = sync_states[i];
        struct fx *f = fx_new(NULL);
        struct tern_tcp_sock *ls = NULL;
        uint32_t isn, pn;
        struct tern_tcp_sock *s = into_state(f, &ls, st, &isn, &pn);
        /* in-window, not exact: challenge ACK (or nothing in TIME-WAIT's
         * case beyond the ACK), state unchanged */
        fx_send(f, 40000, 80, pn + 3, 0, F_RST, 0, NULL, 0, NULL, 0);
        if (s)
            assert_int_equal(tern_tcp_get_state(s), st);
        /* exact */
        fx_send(f, 40000, 80, pn, 0, F_RST, 0, NULL, 0, NULL, 0);
        if (st == TERN_TCP_TIME_WAIT) {
            /* RFC 1337: TIME-WAIT is not assassinated */
            assert_int_equal(tern_tcp_get_state(s), TERN_TCP_TIME_WAIT);
            assert_int_equal(f->tcp.stats.drop_rst_time_wait, 1);
            tern_tcp_close(s);
            fx_advance_ms(f, 2 * f->cfg.msl_ms + 10);
        } else if (s) {
            assert_int_equal(tern_tcp_get_state(s), TERN_TCP_CLOSED);
            /* both sides closed already in CLOSING and LAST-ACK: no error */
            assert_int_equal(tern_tcp_error(s),
                             (st == TERN_TCP_CLOSING || st == TERN_TCP_LAST_ACK) ? TERN_OK
                                                                                 : TERN_ECLOSED);
            tern_tcp_close(s);
        } else {
            /* the half-open child is gone; the listener stays */
            assert_int_equal(tern_tcp_pcbs_in_use(&f->tcp), 1);
        }
        tern_tcp_close(ls);
        fx_free_checked(f);
    }
}

static void test_fin_in_every_state(void **state)
{
    (void)state;
    static const enum tern_tcp_state after[] = {
        TERN_TCP_SYN_RECEIVED, /* FIN without ACK: dropped */
        TERN_TCP_CLOSE_WAIT,   TERN_TCP_CLOSING,   TERN_TCP_TIME_WAIT,
        TERN_TCP_CLOSE_WAIT,   TERN_TCP_CLOSING,   TERN_TCP_LAST_ACK, TERN_TCP_TIME_WAIT,
    };
    for (unsigned i = 0; i < sizeof(sync_states) / sizeof(sync_states[0]); i++) {
        enum tern_tcp_state st = sync_states[i];
        struct fx *f = fx_new(NULL);
        struct tern_tcp_sock *ls = NULL;
        uint32_t isn, pn;
        struct tern_tcp_sock *s = into_state(f, &ls, st, &isn, &pn);
        uint8_t fl = st == TERN_TCP_SYN_RECEIVED ? F_FIN : (F_FIN | F_ACK);
        /* a FIN at the next expected sequence (a repeat in the states
         * that already had one), acknowledging only the SYN */
        uint32_t fseq = (st == TERN_TCP_CLOSE_WAIT || st == TERN_TCP_CLOSING ||
                         st == TERN_TCP_LAST_ACK || st == TERN_TCP_TIME_WAIT)
                            ? pn - 1
                            : pn;
        fx_send(f, 40000, 80, fseq, isn + 1, fl, 65535, NULL, 0, NULL, 0);
        if (s) {
            assert_int_equal(tern_tcp_get_state(s), after[i]);
            /* every FIN is acknowledged */
            assert_int_equal(fx_last(f)->ack, 1002);
            tern_tcp_abort(s);
        } else {
            assert_int_equal(f->tcp.stats.drop_no_ack, 1);
        }
        fx_advance_ms(f, 2 * f->cfg.msl_ms + 10);
        tern_tcp_close(ls);
        fx_free_checked(f);
    }
}

static void test_out_of_order_and_overlap_with_sack(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls;
    assert_int_equal(tern_tcp_listen(&f->tcp, 0, 80, 4, NULL, NULL, &ls), TERN_OK);
    static const uint8_t opts[8] = { 2, 4, 0x05, 0xb4, 1, 1, 4, 2 }; /* MSS, SACK-permitted */
    fx_send(f, 40000, 80, 1000, 0, F_SYN, 65535, opts, 8, NULL, 0);
    uint32_t isn = fx_last(f)->seq;
    fx_send(f, 40000, 80, 1001, isn + 1, F_ACK, 65535, NULL, 0, NULL, 0);
    struct tern_tcp_sock *s;
    assert_int_equal(tern_tcp_accept(ls, &s), TERN_OK);
    const char *msg = "0123456789abcdefghijklmnopqrstuvwxyz";
    /* [20,30) first, then [10,25) overlapping it, then [0,12) */
    fx_send(f, 40000, 80, 1001 + 20, isn + 1, F_ACK, 65535, NULL, 0, msg + 20, 10);
    const struct out_seg *a = fx_last(f);
    assert_int_equal(a->ack, 1001);
    const uint8_t *v = NULL;
    assert_true(has_option(a, 5, &v));
    assert_int_equal(tern_load_be32(v), 1021);
    assert_int_equal(tern_load_be32(v + 4), 1031);
    fx_send(f, 40000, 80, 1001 + 10, isn + 1, F_ACK, 65535, NULL, 0, msg + 10, 15);
    a = fx_last(f);
    assert_true(has_option(a, 5, &v));
    assert_int_equal(tern_load_be32(v), 1011);
    assert_int_equal(tern_load_be32(v + 4), 1031);
    assert_int_equal(tern_tcp_recv_avail(s), 0);
    fx_send(f, 40000, 80, 1001, isn + 1, F_ACK, 65535, NULL, 0, msg, 12);
    a = fx_last(f);
    assert_int_equal(a->ack, 1031);
    assert_false(has_option(a, 5, NULL));
    char buf[64];
    size_t got;
    assert_int_equal(tern_tcp_recv(s, buf, sizeof(buf), &got), TERN_OK);
    assert_int_equal(got, 30);
    assert_memory_equal(buf, msg, 30);
    /* an old duplicate straddling rcv_nxt: only the new part is taken */
    fx_send(f, 40000, 80, 1001 + 25, isn + 1, F_ACK, 65535, NULL, 0, msg + 25, 11);
    assert_int_equal(tern_tcp_recv(s, buf, sizeof(buf), &got), TERN_OK);
    assert_int_equal(got, 6);
    assert_memory_equal(buf, msg + 30, 6);
    /* The out-of-order queue is bounded: many disjoint holes */
    uint64_t dropped = f->tcp.stats.drop_ooo_full;
    for (uint32_t i = 0; i < 40; i++)
        fx_send(f, 40000, 80, 1037 + 10 + 4 * i, isn + 1, F_ACK, 65535, NULL, 0, "ab", 2);
    assert_true(f->tcp.stats.drop_ooo_full > dropped);
    tern_tcp_abort(s);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

static void test_zero_window_receiver_and_probe(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn;
    struct tern_tcp_sock *s = fx_passive(f, &ls, 40000, 1000, &isn);
    static uint8_t data[1460];
    memset(data, 'z', sizeof(data));
    uint32_t seq = 1001;
    /* fill our 16 KiB receive buffer without reading: 11 full segments
     * and the 324 bytes that are left */
    for (int i = 0; i < 11; i++) {
        fx_send(f, 40000, 80, seq, isn + 1, F_ACK, 65535, NULL, 0, data, sizeof(data));
        seq += sizeof(data);
    }
    fx_send(f, 40000, 80, seq, isn + 1, F_ACK, 65535, NULL, 0, data, 324);
    seq += 324;
    fx_advance_ms(f, 100); /* the delayed ACK */
    assert_int_equal(fx_last(f)->ack, seq);
    assert_int_equal(tern_tcp_recv_avail(s), 16384);
    const struct out_seg *a = fx_last(f);
    assert_int_equal(a->wnd, 0);
    /* a zero-window probe: one byte beyond the window, ACKed, not taken */
    unsigned n = f->ncap;
    fx_send(f, 40000, 80, seq, isn + 1, F_ACK, 65535, NULL, 0, data, 1);
    assert_int_equal(f->ncap, n + 1);
    assert_int_equal(fx_last(f)->ack, seq);
    assert_int_equal(fx_last(f)->wnd, 0);
    assert_int_equal(tern_tcp_recv_avail(s), 16384);
    /* reading opens the window with an update */
    char buf[8192];
    size_t got;
    assert_int_equal(tern_tcp_recv(s, buf, sizeof(buf), &got), TERN_OK);
    assert_true(fx_last(f)->wnd > 0);
    tern_tcp_abort(s);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

static void test_zero_window_sender_persists(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn;
    struct tern_tcp_sock *s = fx_passive(f, &ls, 40000, 1000, &isn);
    /* the peer closes its window */
    fx_send(f, 40000, 80, 1001, isn + 1, F_ACK, 0, NULL, 0, NULL, 0);
    size_t sent;
    unsigned n = f->ncap;
    assert_int_equal(tern_tcp_send(s, "persist", 7, &sent), TERN_OK);
    assert_int_equal(f->ncap, n); /* nothing may go */
    fx_advance_ms(f, 1500);
    assert_true(f->ncap > n);
    assert_int_equal(fx_last(f)->len, 1); /* a one-byte probe */
    assert_int_equal(fx_last(f)->seq, isn + 1);
    assert_true(f->tcp.stats.zero_window_probes >= 1);
    /* probes continue with backoff while the window stays closed, and the
     * connection is not dropped while the peer answers */
    for (int i = 0; i < 120; i++) {
        fx_send(f, 40000, 80, 1001, isn + 1, F_ACK, 0, NULL, 0, NULL, 0);
        fx_advance_ms(f, 10000);
    }
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_ESTABLISHED);
    assert_true(f->tcp.stats.zero_window_probes > 12);
    /* the window opens: the data flows */
    fx_send(f, 40000, 80, 1001, isn + 1, F_ACK, 1000, NULL, 0, NULL, 0);
    fx_advance_ms(f, 1);
    const struct out_seg *o = fx_last(f);
    assert_int_equal(o->seq + o->len, isn + 8);
    fx_send(f, 40000, 80, 1001, isn + 8, F_ACK, 1000, NULL, 0, NULL, 0);
    /* a peer that closes its window and then goes silent is given up on */
    fx_send(f, 40000, 80, 1001, isn + 8, F_ACK, 0, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_send(s, "more", 4, &sent), TERN_OK);
    fx_advance_ms(f, 3600000);
    assert_int_equal(tern_tcp_error(s), TERN_ETIMEDOUT);
    tern_tcp_abort(s);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

static void test_window_shrinking(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn;
    struct tern_tcp_sock *s = fx_passive(f, &ls, 40000, 1000, &isn);
    tern_tcp_set_nodelay(s, true);
    fx_send(f, 40000, 80, 1001, isn + 1, F_ACK, 4000, NULL, 0, NULL, 0);
    static uint8_t data[8000];
    memset(data, 'w', sizeof(data));
    size_t sent;
    assert_int_equal(tern_tcp_send(s, data, sizeof(data), &sent), TERN_OK);
    assert_int_equal(sent, sizeof(data));
    uint32_t hi = 0;
    for (unsigned i = 0; i < f->ncap; i++)
        if (fx_cap(f, i)->len)
            hi = fx_cap(f, i)->seq + (uint32_t)fx_cap(f, i)->len - isn - 1;
    /* the initial window limits it (cwnd) and the peer's 4000 */
    assert_true(hi <= 4000);
    /* the peer acknowledges 1000 and shrinks its window to 500: the right
     * edge moves left. Nothing new may be sent beyond it. */
    unsigned n = f->ncap;
    fx_send(f, 40000, 80, 1001, isn + 1001, F_ACK, 500, NULL, 0, NULL, 0);
    for (unsigned i = n; i < f->ncap; i++) {
        const struct out_seg *o = fx_cap(f, i);
        assert_true(o->seq + o->len - isn - 1 <= 1500 || o->len == 0);
    }
    /* then it reopens and everything arrives */
    uint32_t top = 1000;
    for (int round = 0; round < 6; round++) {
        fx_send(f, 40000, 80, 1001, isn + 1 + top, F_ACK, 60000, NULL, 0, NULL, 0);
        fx_advance_ms(f, 10);
        for (unsigned i = 0; i < f->ncap; i++) {
            const struct out_seg *o = fx_cap(f, i);
            if (o->len && o->seq + o->len - isn - 1 > top)
                top = o->seq + (uint32_t)o->len - isn - 1;
        }
    }
    assert_int_equal(top, 8000);
    tern_tcp_abort(s);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

static void test_syn_flood_bounded_with_cookies(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls;
    assert_int_equal(tern_tcp_listen(&f->tcp, 0, 80, 4, NULL, NULL, &ls), TERN_OK);
    static const uint8_t mss_opt[4] = { 2, 4, 0x05, 0xb4 };
    for (uint32_t i = 0; i < 5000; i++)
        fx_send(f, (uint16_t)(1024 + i), 80, i * 7919u, 0, F_SYN, 65535, mss_opt, 4, NULL, 0);
    /* the listener plus at most the backlog of half-open children */
    assert_true(tern_tcp_pcbs_in_use(&f->tcp) <= 1 + 4);
    assert_true(f->tcp.stats.syn_cookies_sent >= 5000 - 4);
    /* a legitimate client completes through its cookie */
    fx_send(f, 60000, 80, 777, 0, F_SYN, 65535, mss_opt, 4, NULL, 0);
    const struct out_seg *sa = fx_last(f);
    assert_int_equal(sa->flags, F_SYN | F_ACK);
    assert_int_equal(sa->ack, 778);
    uint32_t cookie = sa->seq;
    /* a forged ACK with a wrong cookie is refused */
    fx_send(f, 60001, 80, 778, cookie + 1, F_ACK, 65535, NULL, 0, NULL, 0);
    assert_int_equal(fx_last(f)->flags, F_RST);
    assert_int_equal(f->tcp.stats.drop_bad_cookie, 1);
    /* the right cookie, too late (more than two 64 s periods) */
    fx_send(f, 60002, 80, 5000, 0, F_SYN, 65535, mss_opt, 4, NULL, 0);
    uint32_t late = fx_last(f)->seq;
    assert_int_equal(f->tcp.stats.syn_cookies_accepted, 0);
    fx_send(f, 60000, 80, 778, cookie + 1, F_ACK, 65535, NULL, 0, "GET", 3);
    assert_int_equal(f->tcp.stats.syn_cookies_accepted, 1);
    struct tern_tcp_sock *s;
    assert_int_equal(tern_tcp_accept(ls, &s), TERN_OK);
    char buf[4];
    size_t got;
    assert_int_equal(tern_tcp_recv(s, buf, sizeof(buf), &got), TERN_OK);
    assert_int_equal(got, 3);
    assert_memory_equal(buf, "GET", 3);
    tern_tcp_abort(s);
    fx_advance_ms(f, 200000);
    fx_send(f, 60002, 80, 5001, late + 1, F_ACK, 65535, NULL, 0, NULL, 0);
    assert_int_equal(f->tcp.stats.drop_bad_cookie, 2);
    assert_int_equal(f->tcp.stats.syn_cookies_accepted, 1);
    /* the half-open ones time out and go */
    fx_advance_ms(f, 600000);
    assert_int_equal(tern_tcp_pcbs_in_use(&f->tcp), 1);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

static void test_accept_queue_bounded(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls;
    assert_int_equal(tern_tcp_listen(&f->tcp, 0, 80, 2, NULL, NULL, &ls), TERN_OK);
    /* five clients complete their handshakes; nobody accepts */
    for (uint16_t i = 0; i < 5; i++) {
        fx_send(f, (uint16_t)(41000 + i), 80, 1000, 0, F_SYN, 65535, NULL, 0, NULL, 0);
        uint32_t isn = fx_last(f)->seq;
        fx_send(f, (uint16_t)(41000 + i), 80, 1001, isn + 1, F_ACK, 65535, NULL, 0, NULL, 0);
    }
    /* two established and queued, two half-open (the SYN queue), one
     * answered by a cookie whose ACK could not be queued either */
    assert_true(tern_tcp_pcbs_in_use(&f->tcp) <= 1 + 2 + 2);
    assert_true(f->tcp.stats.drop_backlog_full >= 1);
    struct tern_tcp_sock *s;
    unsigned n = 0;
    while (tern_tcp_accept(ls, &s) == TERN_OK) {
        n++;
        tern_tcp_abort(s);
    }
    assert_int_equal(n, 2);
    fx_advance_ms(f, 600000);
    assert_int_equal(tern_tcp_pcbs_in_use(&f->tcp), 1);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

static void test_pool_exhaustion_refuses(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *socks[16];
    unsigned n = 0;
    tern_result r;
    while ((r = tern_tcp_connect(&f->tcp, US, 0, PEER, 80, NULL, NULL, &socks[n])) == TERN_OK)
        n++;
    assert_int_equal(r, TERN_ENOSPC);
    assert_int_equal(n, f->cfg.max_conns);
    for (unsigned i = 0; i < n; i++)
        tern_tcp_close(socks[i]);
    fx_free_checked(f);
}

static void test_time_wait_and_reuse(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn, pn;
    struct tern_tcp_sock *s = into_state(f, &ls, TERN_TCP_TIME_WAIT, &isn, &pn);
    tern_tcp_close(s);
    assert_int_equal(tern_tcp_pcbs_in_use(&f->tcp), 2);
    /* a retransmitted FIN is acknowledged again */
    unsigned n = f->ncap;
    fx_send(f, 40000, 80, 1001, isn + 2, F_ACK | F_FIN, 65535, NULL, 0, NULL, 0);
    assert_int_equal(f->ncap, n + 1);
    assert_int_equal(fx_last(f)->ack, 1002);
    /* a new SYN above the old sequence space starts a new connection */
    fx_send(f, 40000, 80, 500000, 0, F_SYN, 65535, NULL, 0, NULL, 0);
    assert_int_equal(fx_last(f)->flags, F_SYN | F_ACK);
    assert_int_equal(fx_last(f)->ack, 500001);
    fx_advance_ms(f, 600000);
    assert_int_equal(tern_tcp_pcbs_in_use(&f->tcp), 1);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

static void test_icmp_attacks(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn;
    struct tern_tcp_sock *s = fx_passive(f, &ls, 40000, 1000, &isn);
    static uint8_t data[3000];
    size_t sent;
    tern_tcp_set_nodelay(s, true);
    fx_send(f, 40000, 80, 1001, isn + 1, F_ACK, 65535, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_send(s, data, sizeof(data), &sent), TERN_OK);
    assert_int_equal(tern_tcp_get_mss(s), 1460);
    /* the quoted header: IPv4 (us -> peer, TCP) + 8 bytes of TCP */
    uint8_t q[28] = { 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0 };
    tern_store_be32(q + 12, US);
    tern_store_be32(q + 16, PEER);
    tern_store_be16(q + 20, 80);
    tern_store_be16(q + 22, 40000);
    /* a sequence number not in flight: ignored */
    tern_store_be32(q + 24, isn + 100000);
    tern_tcp_icmp_error(&f->tcp, 3, 4, 576, q, sizeof(q));
    assert_int_equal(tern_tcp_get_mss(s), 1460);
    assert_int_equal(f->tcp.stats.icmp_ignored, 1);
    /* hard errors are soft in synchronized states (RFC 5927) */
    tern_store_be32(q + 24, isn + 1);
    tern_tcp_icmp_error(&f->tcp, 3, 3, 0, q, sizeof(q));
    tern_tcp_icmp_error(&f->tcp, 3, 1, 0, q, sizeof(q));
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_ESTABLISHED);
    assert_int_equal(f->tcp.stats.icmp_soft_errors, 2);
    /* a tiny next-hop MTU is clamped */
    tern_tcp_icmp_error(&f->tcp, 3, 4, 68, q, sizeof(q));
    assert_true(tern_tcp_get_mss(s) >= 88);
    assert_true(tern_tcp_get_mss(s) < 1460);
    /* truncated and non-TCP quotes are ignored */
    tern_tcp_icmp_error(&f->tcp, 3, 4, 576, q, 20);
    q[9] = 17;
    tern_tcp_icmp_error(&f->tcp, 3, 4, 576, q, sizeof(q));
    assert_int_equal(f->tcp.stats.icmp_ignored, 3);
    tern_tcp_abort(s);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

static void test_pmtu_shrinks_segments(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn;
    struct tern_tcp_sock *s = fx_passive(f, &ls, 40000, 1000, &isn);
    static uint8_t data[3000];
    size_t sent;
    fx_send(f, 40000, 80, 1001, isn + 1, F_ACK, 65535, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_send(s, data, sizeof(data), &sent), TERN_OK);
    uint8_t q[28] = { 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0 };
    tern_store_be32(q + 12, US);
    tern_store_be32(q + 16, PEER);
    tern_store_be16(q + 20, 80);
    tern_store_be16(q + 22, 40000);
    tern_store_be32(q + 24, isn + 1);
    f->mtu = 1000;
    tern_tcp_icmp_error(&f->tcp, 3, 4, 1000, q, sizeof(q));
    assert_int_equal(tern_tcp_get_mss(s), 960);
    assert_int_equal(f->tcp.stats.icmp_pmtu, 1);
    fx_advance_ms(f, 5000); /* retransmissions must fit the new MTU (checked by capture) */
    tern_tcp_abort(s);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

/* A receiver that SACKs data and then drops it (reneging, RFC 2018 8)
 * must not wedge the sender: the data is sent again. */
static void test_sack_reneging_recovers(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls;
    assert_int_equal(tern_tcp_listen(&f->tcp, 0, 80, 4, NULL, NULL, &ls), TERN_OK);
    static const uint8_t opts[8] = { 2, 4, 0x05, 0xb4, 1, 1, 4, 2 };
    fx_send(f, 40000, 80, 1000, 0, F_SYN, 65535, opts, 8, NULL, 0);
    uint32_t isn = fx_last(f)->seq;
    fx_send(f, 40000, 80, 1001, isn + 1, F_ACK, 65535, NULL, 0, NULL, 0);
    struct tern_tcp_sock *s;
    assert_int_equal(tern_tcp_accept(ls, &s), TERN_OK);
    tern_tcp_set_nodelay(s, true);
    static uint8_t data[3 * 1460];
    size_t sent;
    assert_int_equal(tern_tcp_send(s, data, sizeof(data), &sent), TERN_OK);
    /* ACK of the first segment, SACK of the third */
    uint8_t sack[12] = { 1, 1, 5, 10 };
    tern_store_be32(sack + 4, isn + 1 + 2920);
    tern_store_be32(sack + 8, isn + 1 + 4380);
    fx_send(f, 40000, 80, 1001, isn + 1 + 1460, F_ACK, 65535, sack, 12, NULL, 0);
    /* the timeout resends the hole only */
    unsigned n = f->ncap;
    fx_advance_ms(f, 1100);
    for (unsigned i = n; i < f->ncap; i++)
        assert_true(fx_cap(f, i)->len == 0 || fx_cap(f, i)->seq == isn + 1 + 1460);
    /* the hole is acknowledged, the SACKed block is not: reneged */
    fx_send(f, 40000, 80, 1001, isn + 1 + 2920, F_ACK, 65535, NULL, 0, NULL, 0);
    fx_advance_ms(f, 3000);
    bool resent = false;
    for (unsigned i = n; i < f->ncap; i++)
        if (fx_cap(f, i)->seq == isn + 1 + 2920 && fx_cap(f, i)->len == 1460)
            resent = true;
    assert_true(resent);
    tern_tcp_abort(s);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

static void test_fast_retransmit_on_three_dupacks(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn;
    struct tern_tcp_sock *s = fx_passive(f, &ls, 40000, 1000, &isn);
    tern_tcp_set_nodelay(s, true);
    static uint8_t data[5840];
    size_t sent;
    fx_send(f, 40000, 80, 1001, isn + 1, F_ACK, 65535, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_send(s, data, sizeof(data), &sent), TERN_OK);
    /* initial window: 3 segments of 1460 (RFC 5681) */
    fx_send(f, 40000, 80, 1001, isn + 1 + 1460, F_ACK, 65535, NULL, 0, NULL, 0);
    for (int i = 0; i < 3; i++)
        fx_send(f, 40000, 80, 1001, isn + 1 + 1460, F_ACK, 65535, NULL, 0, NULL, 0);
    assert_int_equal(f->tcp.stats.fast_retransmits, 1);
    bool found = false;
    for (unsigned i = 0; i < f->ncap; i++)
        if (fx_cap(f, i)->seq == isn + 1 + 1460 && fx_cap(f, i)->len)
            found = i > 3;
    assert_true(found);
    tern_tcp_abort(s);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

static void test_nagle_and_nodelay(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn;
    struct tern_tcp_sock *s = fx_passive(f, &ls, 40000, 1000, &isn);
    size_t sent;
    unsigned n = f->ncap;
    assert_int_equal(tern_tcp_send(s, "a", 1, &sent), TERN_OK);
    assert_int_equal(f->ncap, n + 1); /* nothing outstanding: goes at once */
    assert_int_equal(tern_tcp_send(s, "b", 1, &sent), TERN_OK);
    assert_int_equal(tern_tcp_send(s, "c", 1, &sent), TERN_OK);
    assert_int_equal(f->ncap, n + 1); /* Nagle holds small data while "a" is unacked */
    fx_send(f, 40000, 80, 1001, isn + 2, F_ACK, 65535, NULL, 0, NULL, 0);
    assert_int_equal(f->ncap, n + 2);
    assert_int_equal(fx_last(f)->len, 2); /* "bc" together */
    assert_memory_equal(fx_last(f)->data, "bc", 2);
    tern_tcp_set_nodelay(s, true);
    assert_int_equal(tern_tcp_send(s, "d", 1, &sent), TERN_OK);
    assert_int_equal(tern_tcp_send(s, "e", 1, &sent), TERN_OK);
    assert_int_equal(f->ncap, n + 4); /* no delay: each goes */
    tern_tcp_abort(s);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

static void test_delayed_ack_every_second_segment(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn;
    struct tern_tcp_sock *s = fx_passive(f, &ls, 40000, 1000, &isn);
    static uint8_t data[1460];
    unsigned n = f->ncap;
    fx_send(f, 40000, 80, 1001, isn + 1, F_ACK, 65535, NULL, 0, data, sizeof(data));
    assert_int_equal(f->ncap, n); /* one full segment: delayed */
    fx_send(f, 40000, 80, 1001 + 1460, isn + 1, F_ACK, 65535, NULL, 0, data, sizeof(data));
    assert_int_equal(f->ncap, n + 1); /* the second: ACKed at once */
    assert_int_equal(fx_last(f)->ack, 1001 + 2920);
    fx_send(f, 40000, 80, 1001 + 2920, isn + 1, F_ACK, 65535, NULL, 0, "x", 1);
    assert_int_equal(f->ncap, n + 1);
    fx_advance_ms(f, 39);
    assert_int_equal(f->ncap, n + 1);
    fx_advance_ms(f, 2); /* the 40 ms timer */
    assert_int_equal(f->ncap, n + 2);
    assert_int_equal(fx_last(f)->ack, 1001 + 2921);
    tern_tcp_abort(s);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

static void test_keepalive_times_out(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn;
    struct tern_tcp_sock *s = fx_passive(f, &ls, 40000, 1000, &isn);
    tern_tcp_set_keepalive(s, true);
    fx_advance_ms(f, f->cfg.keepalive_idle_ms + 10);
    assert_int_equal(f->tcp.stats.keepalive_probes, 1);
    assert_int_equal(fx_last(f)->seq, isn); /* snd_una - 1 */
    /* an answer resets the count */
    fx_send(f, 40000, 80, 1001, isn + 1, F_ACK, 65535, NULL, 0, NULL, 0);
    fx_advance_ms(f, (uint64_t)f->cfg.keepalive_idle_ms +
                         (uint64_t)f->cfg.keepalive_intvl_ms * (f->cfg.keepalive_probes + 1));
    assert_int_equal(tern_tcp_error(s), TERN_ETIMEDOUT);
    tern_tcp_close(s);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

static void test_close_with_unread_data_resets(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn;
    struct tern_tcp_sock *s = fx_passive(f, &ls, 40000, 1000, &isn);
    fx_send(f, 40000, 80, 1001, isn + 1, F_ACK, 65535, NULL, 0, "unread", 6);
    tern_tcp_close(s);
    assert_int_equal(fx_last(f)->flags & F_RST, F_RST);
    /* a listener closed with a queued connection resets it */
    uint32_t isn2;
    fx_send(f, 40001, 80, 5000, 0, F_SYN, 65535, NULL, 0, NULL, 0);
    isn2 = fx_last(f)->seq;
    fx_send(f, 40001, 80, 5001, isn2 + 1, F_ACK, 65535, NULL, 0, NULL, 0);
    tern_tcp_close(ls);
    assert_int_equal(fx_last(f)->flags & F_RST, F_RST);
    fx_free_checked(f);
}

/* RFC 6528: per-tuple offsets are unrelated; the same tuple moves with
 * the 4 us clock. */
static void test_isn_rfc6528(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *a, *b, *c;
    assert_int_equal(tern_tcp_connect(&f->tcp, US, 5000, PEER, 80, NULL, NULL, &a), TERN_OK);
    uint32_t ia = fx_last(f)->seq;
    assert_int_equal(tern_tcp_connect(&f->tcp, US, 5001, PEER, 80, NULL, NULL, &b), TERN_OK);
    uint32_t ib = fx_last(f)->seq;
    uint32_t d = ib - ia;
    assert_true(d > 1000000 && d < 0xfff00000u);
    tern_tcp_abort(a);
    fx_advance_ms(f, 1000);
    assert_int_equal(tern_tcp_connect(&f->tcp, US, 5000, PEER, 80, NULL, NULL, &c), TERN_OK);
    uint32_t ic = fx_last(f)->seq;
    assert_int_equal(ic - ia, 250000); /* 1 s of a 4 us clock */
    tern_tcp_abort(b);
    tern_tcp_abort(c);
    fx_free_checked(f);
}

static void test_listen_specific_address_wins(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *any, *exact, *other, *dup;
    assert_int_equal(tern_tcp_listen(&f->tcp, 0, 80, 4, NULL, NULL, &any), TERN_OK);
    assert_int_equal(tern_tcp_listen(&f->tcp, US, 80, 4, NULL, NULL, &exact), TERN_OK);
    assert_int_equal(tern_tcp_listen(&f->tcp, US, 80, 4, NULL, NULL, &dup), TERN_EEXIST);
    assert_int_equal(tern_tcp_listen(&f->tcp, TERN_IPV4(198, 51, 100, 1), 81, 4, NULL, NULL,
                                     &other),
                     TERN_OK);
    assert_int_equal(tern_tcp_listen(&f->tcp, 0, 0, 4, NULL, NULL, &dup), TERN_EINVAL);
    fx_send(f, 40000, 80, 1000, 0, F_SYN, 65535, NULL, 0, NULL, 0);
    uint32_t isn = fx_last(f)->seq;
    fx_send(f, 40000, 80, 1001, isn + 1, F_ACK, 65535, NULL, 0, NULL, 0);
    struct tern_tcp_sock *s;
    assert_int_equal(tern_tcp_accept(any, &s), TERN_AGAIN);
    assert_int_equal(tern_tcp_accept(exact, &s), TERN_OK);
    tern_tcp_abort(s);
    /* port 81 listens on another address only: refused here */
    fx_send(f, 40000, 81, 1000, 0, F_SYN, 65535, NULL, 0, NULL, 0);
    assert_int_equal(fx_last(f)->flags, F_RST | F_ACK);
    tern_tcp_close(any);
    tern_tcp_close(exact);
    tern_tcp_close(other);
    fx_free_checked(f);
}

static void test_init_validates_config(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp t2;
    struct tern_tcp_config c;
    struct tern_tcp_lower lower = f->tcp.lower;
    tern_tcp_config_default(&c);
    c.max_conns = 0;
    assert_int_equal(tern_tcp_init(&t2, &f->os, &lower, &c), TERN_EINVAL);
    tern_tcp_config_default(&c);
    c.rto_max_ms = 10;
    assert_int_equal(tern_tcp_init(&t2, &f->os, &lower, &c), TERN_EINVAL);
    struct tern_tcp_lower bad = { .output = NULL, .path_mtu = lower.path_mtu, .ctx = lower.ctx };
    assert_int_equal(tern_tcp_init(&t2, &f->os, &bad, NULL), TERN_EINVAL);
    tern_tcp_config_default(&c);
    c.max_conns = 100000; /* 100000 x 128 KiB: more than the 16 MiB heap */
    assert_int_equal(tern_tcp_init(&t2, &f->os, &lower, &c), TERN_ENOMEM);
    fx_free_checked(f); /* nothing of the failed inits stays on the heap */
}

static void test_counters_by_name(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    fx_send(f, 40000, 81, 7000, 0, F_SYN, 1000, NULL, 0, NULL, 0);
    const char *name, *doc;
    uint64_t v;
    bool seen = false;
    unsigned i = 0;
    while (tern_tcp_counter(&f->tcp, i, &name, &doc, &v)) {
        assert_non_null(doc);
        if (strcmp(name, "drop_no_pcb") == 0) {
            assert_int_equal(v, 1);
            seen = true;
        }
        i++;
    }
    assert_true(seen);
    assert_int_equal(i, sizeof(struct tern_tcp_stats) / sizeof(uint64_t));
    fx_free_checked(f);
}

static void test_services_parse(void **state)
{
    (void)state;
    unsigned m = 0;
    assert_int_equal(tern_tcp_services_parse("echo,discard", &m), TERN_OK);
    assert_int_equal(m, TERN_TCP_SERVICE_ECHO | TERN_TCP_SERVICE_DISCARD);
    assert_int_equal(tern_tcp_services_parse("discard", &m), TERN_OK);
    assert_int_equal(m, TERN_TCP_SERVICE_DISCARD);
    assert_int_equal(tern_tcp_services_parse("", &m), TERN_EINVAL);
    assert_int_equal(tern_tcp_services_parse("echo,", &m), TERN_EINVAL);
    assert_int_equal(tern_tcp_services_parse("chargen", &m), TERN_EINVAL);
    assert_int_equal(tern_tcp_services_parse("echo,,discard", &m), TERN_EINVAL);
}

static void test_echo_service(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_services svc;
    assert_int_equal(tern_tcp_services_start(&svc, &f->tcp, TERN_TCP_SERVICE_ECHO), TERN_OK);
    fx_send(f, 40000, 7, 1000, 0, F_SYN, 65535, NULL, 0, NULL, 0);
    uint32_t isn = fx_last(f)->seq;
    fx_send(f, 40000, 7, 1001, isn + 1, F_ACK, 65535, NULL, 0, NULL, 0);
    fx_send(f, 40000, 7, 1001, isn + 1, F_ACK | F_PSH, 65535, NULL, 0, "ping", 4);
    assert_int_equal(fx_last(f)->len, 4);
    assert_memory_equal(fx_last(f)->data, "ping", 4);
    assert_int_equal(svc.echoed_bytes, 4);
    /* discard is not running */
    fx_send(f, 40001, 9, 1000, 0, F_SYN, 65535, NULL, 0, NULL, 0);
    assert_int_equal(fx_last(f)->flags, F_RST | F_ACK);
    /* the client closes; echo closes too */
    fx_send(f, 40000, 7, 1005, isn + 5, F_ACK | F_FIN, 65535, NULL, 0, NULL, 0);
    assert_int_equal(fx_last(f)->flags & F_FIN, F_FIN);
    fx_send(f, 40000, 7, 1006, isn + 6, F_ACK, 65535, NULL, 0, NULL, 0);
    tern_tcp_close(svc.echo);
    fx_free_checked(f);
}

/* The echo service's send buffer grows as an application's does: with
 * buffers that start at 4 KiB and a peer window of 64 KiB, a second 4000
 * bytes arriving before the first echo is ACKed are all echoed (the
 * buffer, not the peer, is the limit), not the 96 bytes a 4 KiB buffer
 * has left. */
static void test_echo_service_send_buffer_grows(void **state)
{
    (void)state;
    struct tern_tcp_config cfg;
    tern_tcp_config_default(&cfg);          /* 4 KiB buffers that grow to 64 KiB */
    cfg.max_conns = 8;
    cfg.grow_bytes = 256 * 1024;
    struct fx *f = fx_new(&cfg);
    assert_int_equal(f->tcp.cfg.sndbuf_min, 4096);
    struct tern_tcp_services svc;
    assert_int_equal(tern_tcp_services_start(&svc, &f->tcp, TERN_TCP_SERVICE_ECHO), TERN_OK);
    fx_send(f, 40000, 7, 1000, 0, F_SYN, 65535, NULL, 0, NULL, 0);
    uint32_t isn = fx_last(f)->seq;
    fx_send(f, 40000, 7, 1001, isn + 1, F_ACK, 65535, NULL, 0, NULL, 0);
    static uint8_t chunk[4000];
    memset(chunk, 'e', sizeof chunk);
    fx_send(f, 40000, 7, 1001, isn + 1, F_ACK | F_PSH, 65535, NULL, 0, chunk, sizeof chunk);
    assert_int_equal(svc.echoed_bytes, 4000);
    fx_send(f, 40000, 7, 5001, isn + 1, F_ACK | F_PSH, 65535, NULL, 0, chunk, sizeof chunk);
    assert_int_equal(svc.echoed_bytes, 8000);
    fx_send(f, 40000, 7, 9001, 0, F_RST, 0, NULL, 0, NULL, 0);   /* the client goes away */
    tern_tcp_close(svc.echo);
    fx_free_checked(f);
}

/* Every truncation of a valid segment, with the checksum recomputed or
 * not, and every single-bit flip: counted, never a crash, nothing kept. */
static void test_every_truncation_and_bit_flip(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn;
    struct tern_tcp_sock *s = fx_passive(f, &ls, 40000, 1000, &isn);
    uint8_t seg[64];
    for (size_t len = 0; len <= sizeof(syn_linux); len++) {
        memcpy(seg, syn_linux, sizeof(syn_linux));
        uint64_t in = f->tcp.stats.in_segs;
        fx_input_raw(f, seg, len, false);
        assert_int_equal(f->tcp.stats.in_segs, in + 1);
        memcpy(seg, syn_linux, sizeof(syn_linux));
        fx_input_raw(f, seg, len, true);
    }
    for (size_t bit = 0; bit < sizeof(syn_linux) * 8; bit++) {
        memcpy(seg, syn_linux, sizeof(syn_linux));
        fx_input_raw(f, seg, sizeof(syn_linux), true);
        memcpy(seg, syn_linux, sizeof(syn_linux));
        uint16_t good = tern_load_be16(seg + 16);
        (void)good;
        seg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        fx_input_raw(f, seg, sizeof(syn_linux), false);
    }
    assert_true(f->tcp.stats.drop_bad_csum >= sizeof(syn_linux) * 8 - 16);
    assert_true(tern_tcp_pcbs_in_use(&f->tcp) <= 1 + 1 + 4);
    tern_tcp_abort(s);
    fx_advance_ms(f, 600000);
    assert_int_equal(tern_tcp_pcbs_in_use(&f->tcp), 1);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

struct evrec {
    unsigned events;
    unsigned calls;
};

static void record_events(struct tern_tcp_sock *s, unsigned ev, void *arg)
{
    struct evrec *r = arg;
    (void)s;
    r->events |= ev;
    r->calls++;
}

static void test_simultaneous_open(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct evrec ev = { 0, 0 };
    struct tern_tcp_sock *s;
    assert_int_equal(tern_tcp_connect(&f->tcp, US, 5555, PEER, 80, record_events, &ev, &s),
                     TERN_OK);
    uint32_t isn = fx_last(f)->seq;
    /* the peer's own SYN crosses ours */
    fx_send(f, 80, 5555, 9000, 0, F_SYN, 65535, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_SYN_RECEIVED);
    const struct out_seg *o = fx_last(f);
    assert_int_equal(o->flags, F_SYN | F_ACK);
    assert_int_equal(o->seq, isn);
    assert_int_equal(o->ack, 9001);
    /* its SYN-ACK to our SYN completes it (RFC 9293 figure 8 line 6),
     * with nothing sent back (a SYN-ACK here made two such stacks trade
     * SYN-ACKs forever: scripts/simultaneous_open.pkt) */
    unsigned before = f->ncap;
    fx_send(f, 80, 5555, 9000, isn + 1, F_SYN | F_ACK, 65535, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_ESTABLISHED);
    assert_int_equal(f->ncap, before);
    fx_send(f, 80, 5555, 9001, isn + 1, F_ACK, 65535, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_ESTABLISHED);
    assert_true(ev.events & TERN_TCP_EV_CONNECTED);
    tern_tcp_abort(s);

    /* shutdown during SYN-RECEIVED: the FIN follows the handshake */
    assert_int_equal(tern_tcp_connect(&f->tcp, US, 5556, PEER, 80, NULL, NULL, &s), TERN_OK);
    isn = fx_last(f)->seq;
    fx_send(f, 80, 5556, 7000, 0, F_SYN, 65535, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_SYN_RECEIVED);
    unsigned n = f->ncap;
    assert_int_equal(tern_tcp_shutdown(s), TERN_OK);
    assert_int_equal(f->ncap, n);
    fx_send(f, 80, 5556, 7001, isn + 1, F_ACK, 65535, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_FIN_WAIT_1);
    assert_int_equal(fx_last(f)->flags & F_FIN, F_FIN);
    assert_int_equal(fx_last(f)->seq, isn + 1);
    tern_tcp_abort(s);
    fx_free_checked(f);
}

static void test_abort_sends_rst_in_every_state(void **state)
{
    (void)state;
    for (unsigned i = 1; i < sizeof(sync_states) / sizeof(sync_states[0]); i++) {
        enum tern_tcp_state st = sync_states[i];
        struct fx *f = fx_new(NULL);
        struct tern_tcp_sock *ls = NULL;
        uint32_t isn, pn;
        struct tern_tcp_sock *s = into_state(f, &ls, st, &isn, &pn);
        unsigned n = f->ncap;
        tern_tcp_abort(s);
        if (st == TERN_TCP_TIME_WAIT) {
            assert_int_equal(f->ncap, n); /* nothing left to reset */
        } else {
            assert_int_equal(f->ncap, n + 1);
            assert_int_equal(fx_last(f)->flags & F_RST, F_RST);
        }
        assert_int_equal(tern_tcp_pcbs_in_use(&f->tcp), 1);
        tern_tcp_close(ls);
        fx_free_checked(f);
    }
}

static void test_discard_service_and_callback_close(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_services svc;
    assert_int_equal(tern_tcp_services_start(&svc, &f->tcp, TERN_TCP_SERVICE_DISCARD), TERN_OK);
    assert_null(svc.echo);
    fx_send(f, 40000, 9, 1000, 0, F_SYN, 65535, NULL, 0, NULL, 0);
    uint32_t isn = fx_last(f)->seq;
    fx_send(f, 40000, 9, 1001, isn + 1, F_ACK, 65535, NULL, 0, NULL, 0);
    unsigned n = f->ncap;
    /* data and FIN together: discarded, and the service closes from
     * inside its callback */
    fx_send(f, 40000, 9, 1001, isn + 1, F_ACK | F_FIN, 65535, NULL, 0, "garbage", 7);
    assert_int_equal(svc.discarded_bytes, 7);
    assert_true(f->ncap > n);
    assert_int_equal(fx_last(f)->flags & F_FIN, F_FIN);
    assert_int_equal(fx_last(f)->ack, 1009);
    fx_send(f, 40000, 9, 1009, isn + 2, F_ACK, 65535, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_pcbs_in_use(&f->tcp), 1);
    tern_tcp_close(svc.discard);
    fx_free_checked(f);
}

/* Issue 12 #4: a FIN occupies one sequence number and is sent until it
 * is acknowledged, never again after (RFC 9293 3.10.4, 3.10.7.4). The
 * peer ACKs our FIN before sending its own: FIN-WAIT-2 sends no second
 * FIN, neither with the ACKs it owes nor from its timers. */
static void test_fin_not_resent_after_acked(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn;
    struct tern_tcp_sock *s = fx_passive(f, &ls, 40000, 1000, &isn);
    size_t sent;
    assert_int_equal(tern_tcp_send(s, "bye", 3, &sent), TERN_OK);
    assert_int_equal(tern_tcp_shutdown(s), TERN_OK);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_FIN_WAIT_1);
    unsigned fins = 0;
    for (unsigned i = 0; i < f->ncap; i++)
        if (fx_cap(f, i)->flags & F_FIN) {
            assert_int_equal(fx_cap(f, i)->seq + fx_cap(f, i)->len, isn + 4);
            fins++;
        }
    assert_int_equal(fins, 1);
    /* the peer acknowledges data and FIN (isn + 1 + 3 + 1) */
    unsigned n = f->ncap;
    fx_send(f, 40000, 80, 1001, isn + 5, F_ACK, 65535, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_FIN_WAIT_2);
    assert_int_equal(f->ncap, n); /* nothing to answer to a pure ACK */
    /* data in FIN-WAIT-2 is ACKed from isn + 5, without a FIN */
    fx_send(f, 40000, 80, 1001, isn + 5, F_ACK, 65535, NULL, 0, "more", 4);
    fx_advance_ms(f, 100); /* the delayed ACK */
    assert_true(f->ncap > n);
    for (unsigned i = n; i < f->ncap; i++) {
        assert_int_equal(fx_cap(f, i)->flags & F_FIN, 0);
        assert_int_equal(fx_cap(f, i)->seq, isn + 5);
        assert_int_equal(fx_cap(f, i)->len, 0);
    }
    assert_int_equal(fx_last(f)->ack, 1005);
    /* timers send nothing either */
    n = f->ncap;
    fx_advance_ms(f, 10000);
    assert_int_equal(f->ncap, n);
    /* the peer's FIN: TIME-WAIT, ACKed from isn + 5 */
    fx_send(f, 40000, 80, 1005, isn + 5, F_ACK | F_FIN, 65535, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_TIME_WAIT);
    assert_int_equal(fx_last(f)->flags, F_ACK);
    assert_int_equal(fx_last(f)->seq, isn + 5);
    assert_int_equal(fx_last(f)->ack, 1006);
    char buf[8];
    size_t got;
    assert_int_equal(tern_tcp_recv(s, buf, sizeof(buf), &got), TERN_OK);
    assert_int_equal(got, 4);
    tern_tcp_close(s);
    fx_advance_ms(f, 2 * f->cfg.msl_ms + 10);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

/* Issue 12 #5: a RST in SYN-RECEIVED entered from SYN-SENT (simultaneous
 * open) means the connection was refused (RFC 9293 3.10.7.4), as a RST
 * in SYN-SENT does: TERN_EPROTO, not "reset" (TERN_ECLOSED). */
static void test_simultaneous_open_rst_is_refused(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct evrec ev = { 0, 0 };
    struct tern_tcp_sock *s;
    assert_int_equal(tern_tcp_connect(&f->tcp, US, 5555, PEER, 80, record_events, &ev, &s),
                     TERN_OK);
    fx_send(f, 80, 5555, 9000, 0, F_SYN, 65535, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_SYN_RECEIVED);
    /* in the window but not exact: challenge ACK, nothing changes */
    fx_send(f, 80, 5555, 9001 + 10, 0, F_RST, 0, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_SYN_RECEIVED);
    assert_int_equal(tern_tcp_error(s), TERN_OK);
    /* exact: refused */
    fx_send(f, 80, 5555, 9001, 0, F_RST, 0, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_CLOSED);
    assert_int_equal(tern_tcp_error(s), TERN_EPROTO);
    assert_true(ev.events & TERN_TCP_EV_ERROR);
    assert_false(ev.events & TERN_TCP_EV_CONNECTED);
    tern_tcp_close(s);
    fx_free_checked(f);
}

/* Issue 12 #6: RFC 5961 3.2 drops a RST outside the current receive
 * window silently; the window is the one the peer was told (RCV.NXT to
 * the advertised right edge), not the buffer space beyond it that data
 * may still use. Checks RSTs around edge on the ESTABLISHED s and ends
 * with the exact one (s CLOSED). */
static void check_rst_at_window_edges(struct fx *f, struct tern_tcp_sock *s, uint16_t lport,
                                      uint16_t rport, uint32_t rcv_nxt, uint32_t edge)
{
    uint64_t ch = f->tcp.stats.challenge_acks;
    uint64_t drops = f->tcp.stats.drop_rst_out_of_window;
    /* the last sequence number in the window: challenge ACK */
    unsigned n = f->ncap;
    fx_send(f, rport, lport, edge - 1, 0, F_RST, 0, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_ESTABLISHED);
    assert_int_equal(f->tcp.stats.challenge_acks, ch + 1);
    assert_int_equal(f->ncap, n + 1);
    assert_int_equal(fx_last(f)->flags, F_ACK);
    assert_int_equal(fx_last(f)->ack, rcv_nxt);
    /* the right edge itself and beyond it (still inside the buffer
     * space, and past it): silently dropped */
    const uint32_t outside[] = { edge, edge + 50, edge + 100000 };
    for (unsigned i = 0; i < 3; i++) {
        n = f->ncap;
        fx_send(f, rport, lport, outside[i], 0, F_RST, 0, NULL, 0, NULL, 0);
        assert_int_equal(f->ncap, n);
        assert_int_equal(tern_tcp_get_state(s), TERN_TCP_ESTABLISHED);
        assert_int_equal(f->tcp.stats.drop_rst_out_of_window, drops + i + 1);
    }
    assert_int_equal(f->tcp.stats.challenge_acks, ch + 1);
    /* the exact RST still resets */
    fx_send(f, rport, lport, rcv_nxt, 0, F_RST, 0, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_CLOSED);
}

static void test_rst_beyond_advertised_window_dropped(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn;
    struct tern_tcp_sock *s = fx_passive(f, &ls, 40000, 1000, &isn);
    /* 100 bytes in, read: the buffer has 100 bytes of room beyond the
     * advertised edge, which SWS avoidance does not advertise yet */
    static uint8_t data[100];
    fx_send(f, 40000, 80, 1001, isn + 1, F_ACK, 65535, NULL, 0, data, sizeof(data));
    char buf[128];
    size_t got;
    assert_int_equal(tern_tcp_recv(s, buf, sizeof(buf), &got), TERN_OK);
    assert_int_equal(got, 100);
    fx_advance_ms(f, 100); /* the delayed ACK carries the window */
    const struct out_seg *a = fx_last(f);
    assert_int_equal(a->ack, 1101);
    uint32_t edge = a->ack + a->wnd; /* no window scaling */
    assert_int_equal(edge, 1001 + 16384);
    assert_true(edge - 1101 < f->cfg.rcvbuf); /* room beyond the edge */
    check_rst_at_window_edges(f, s, 80, 40000, 1101, edge);
    tern_tcp_close(s);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

/* The same after an active open from a peer ISN half the sequence space
 * away from 0: the window told in our SYN counts from the peer's ISN. */
static void test_rst_window_after_active_open(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *s;
    assert_int_equal(tern_tcp_connect(&f->tcp, US, 5555, PEER, 80, NULL, NULL, &s), TERN_OK);
    const struct out_seg *syn = fx_last(f);
    uint32_t isn = syn->seq;
    uint16_t syn_wnd = syn->wnd;
    assert_int_equal(syn_wnd, 16384);
    const uint32_t peer_isn = 0xc0000000u;
    fx_send(f, 80, 5555, peer_isn, isn + 1, F_SYN | F_ACK, 65535, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_ESTABLISHED);
    const struct out_seg *a = fx_last(f);
    assert_int_equal(a->flags, F_ACK);
    assert_int_equal(a->ack, peer_isn + 1);
    assert_int_equal(a->wnd, syn_wnd); /* never more than the buffer */
    check_rst_at_window_edges(f, s, 5555, 80, peer_isn + 1, peer_isn + 1 + syn_wnd);
    tern_tcp_close(s);
    fx_free_checked(f);
}

/* Issue 12 #7: data on a SYN-ACK is kept (RFC 9293 3.10.7.3: "continue
 * processing at the sixth step"), bounded by the window our SYN told. */
static void test_data_on_syn_ack_kept(void **state)
{
    (void)state;
    struct tern_tcp_config cfg;
    tern_tcp_config_default(&cfg);
    cfg.max_conns = 8;
    cfg.sndbuf = 16384;
    cfg.rcvbuf = 4096;
    cfg.backlog_max = 4;
    struct fx *f = fx_new(&cfg);
    struct evrec ev = { 0, 0 };
    struct tern_tcp_sock *s;
    assert_int_equal(tern_tcp_connect(&f->tcp, US, 5555, PEER, 80, record_events, &ev, &s),
                     TERN_OK);
    uint32_t isn = fx_last(f)->seq;
    assert_int_equal(fx_last(f)->wnd, 4096);
    fx_send(f, 80, 5555, 7000, isn + 1, F_SYN | F_ACK, 65535, NULL, 0, "hello", 5);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_ESTABLISHED);
    assert_int_equal(fx_last(f)->flags, F_ACK);
    assert_int_equal(fx_last(f)->ack, 7001 + 5);
    assert_true(ev.events & TERN_TCP_EV_CONNECTED);
    assert_true(ev.events & TERN_TCP_EV_READABLE);
    char buf[8192];
    size_t got;
    assert_int_equal(tern_tcp_recv(s, buf, sizeof(buf), &got), TERN_OK);
    assert_int_equal(got, 5);
    assert_memory_equal(buf, "hello", 5);
    tern_tcp_abort(s);

    /* more than the window: the first 4096 bytes are kept */
    static uint8_t big[6000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7);
    assert_int_equal(tern_tcp_connect(&f->tcp, US, 5556, PEER, 80, NULL, NULL, &s), TERN_OK);
    isn = fx_last(f)->seq;
    fx_send(f, 80, 5556, 0xfffff000u, isn + 1, F_SYN | F_ACK, 65535, NULL, 0, big,
            sizeof(big));
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_ESTABLISHED);
    assert_int_equal(fx_last(f)->ack, 0xfffff001u + 4096);
    assert_int_equal(fx_last(f)->wnd, 0);
    assert_int_equal(tern_tcp_recv(s, buf, sizeof(buf), &got), TERN_OK);
    assert_int_equal(got, 4096);
    assert_memory_equal(buf, big, 4096);
    tern_tcp_abort(s);
    fx_free_checked(f);
}

/* Issue 12 #7: data on the SYN of a simultaneous open is queued and
 * delivered once ESTABLISHED is reached (RFC 9293 3.10.7.3), not before:
 * until the peer acknowledges our SYN it may be a blind forgery. */
static void test_data_on_simultaneous_syn_queued(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct evrec ev = { 0, 0 };
    char buf[64];
    size_t got;
    struct tern_tcp_sock *s;
    /* the handshake ACK follows the queued data */
    assert_int_equal(tern_tcp_connect(&f->tcp, US, 5555, PEER, 80, record_events, &ev, &s),
                     TERN_OK);
    uint32_t isn = fx_last(f)->seq;
    fx_send(f, 80, 5555, 9000, 0, F_SYN, 65535, NULL, 0, "early", 5);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_SYN_RECEIVED);
    assert_int_equal(fx_last(f)->flags, F_SYN | F_ACK);
    assert_int_equal(fx_last(f)->ack, 9001); /* the SYN only: the data waits */
    assert_int_equal(tern_tcp_recv(s, buf, sizeof(buf), &got), TERN_AGAIN);
    assert_int_equal(tern_tcp_poll(s) & TERN_TCP_EV_READABLE, 0);
    assert_int_equal(ev.events & TERN_TCP_EV_READABLE, 0);
    fx_send(f, 80, 5555, 9006, isn + 1, F_ACK, 65535, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_ESTABLISHED);
    assert_true(ev.events & TERN_TCP_EV_READABLE);
    assert_int_equal(tern_tcp_recv(s, buf, sizeof(buf), &got), TERN_OK);
    assert_int_equal(got, 5);
    assert_memory_equal(buf, "early", 5);
    assert_int_equal(fx_last(f)->ack, 9006);
    tern_tcp_abort(s);

    /* the peer retransmits the data, and more, with the handshake ACK */
    assert_int_equal(tern_tcp_connect(&f->tcp, US, 5556, PEER, 80, NULL, NULL, &s), TERN_OK);
    isn = fx_last(f)->seq;
    fx_send(f, 80, 5556, 9000, 0, F_SYN, 65535, NULL, 0, "early", 5);
    fx_send(f, 80, 5556, 9001, isn + 1, F_ACK, 65535, NULL, 0, "earlyMORE", 9);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_ESTABLISHED);
    assert_int_equal(tern_tcp_recv(s, buf, sizeof(buf), &got), TERN_OK);
    assert_int_equal(got, 9);
    assert_memory_equal(buf, "earlyMORE", 9);
    fx_advance_ms(f, 100);
    assert_int_equal(fx_last(f)->ack, 9010);
    tern_tcp_abort(s);

    /* a RST before the handshake completes discards the queued data */
    assert_int_equal(tern_tcp_connect(&f->tcp, US, 5557, PEER, 80, NULL, NULL, &s), TERN_OK);
    fx_send(f, 80, 5557, 9000, 0, F_SYN, 65535, NULL, 0, "early", 5);
    fx_send(f, 80, 5557, 9001, 0, F_RST, 0, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_CLOSED);
    assert_int_equal(tern_tcp_recv(s, buf, sizeof(buf), &got), TERN_ECLOSED);
    tern_tcp_close(s);
    fx_free_checked(f);
}

/* The quoted header of an ICMP error about a segment from US:lport to
 * PEER:rport with sequence number seq: IPv4 (TCP) + 8 bytes of TCP. */
static void icmp_quote(uint8_t q[28], uint16_t lport, uint16_t rport, uint32_t seq)
{
    static const uint8_t ip[12] = { 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0 };
    memcpy(q, ip, sizeof(ip));
    tern_store_be32(q + 12, US);
    tern_store_be32(q + 16, PEER);
    tern_store_be16(q + 20, lport);
    tern_store_be16(q + 22, rport);
    tern_store_be32(q + 24, seq);
}

/* Issue 12 #11: ICMP protocol and port unreachable (type 3 codes 2 and
 * 3) are hard errors while the connection is being opened (RFC 1122
 * 4.2.3.9, RFC 9293; RFC 5927 softens them only in synchronized
 * states): the connect fails as refused at once. Fragmentation needed
 * (code 4) stays path MTU discovery (RFC 1191), never an abort. */
static void test_icmp_unreachable_fails_connect(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    uint8_t q[28];
    static const uint8_t codes[2] = { 2, 3 };
    for (unsigned i = 0; i < 2; i++) {
        struct evrec ev = { 0, 0 };
        struct tern_tcp_sock *s;
        uint16_t lport = (uint16_t)(5555 + i);
        assert_int_equal(
            tern_tcp_connect(&f->tcp, US, lport, PEER, 80, record_events, &ev, &s), TERN_OK);
        uint32_t isn = fx_last(f)->seq;
        /* a sequence number not in flight: ignored */
        icmp_quote(q, lport, 80, isn + 1000);
        tern_tcp_icmp_error(&f->tcp, 3, codes[i], 0, q, sizeof(q));
        assert_int_equal(tern_tcp_get_state(s), TERN_TCP_SYN_SENT);
        /* fragmentation needed: not an abort */
        icmp_quote(q, lport, 80, isn);
        tern_tcp_icmp_error(&f->tcp, 3, 4, 576, q, sizeof(q));
        assert_int_equal(tern_tcp_get_state(s), TERN_TCP_SYN_SENT);
        /* net/host unreachable stay soft */
        tern_tcp_icmp_error(&f->tcp, 3, 1, 0, q, sizeof(q));
        assert_int_equal(tern_tcp_get_state(s), TERN_TCP_SYN_SENT);
        unsigned n = f->ncap;
        tern_tcp_icmp_error(&f->tcp, 3, codes[i], 0, q, sizeof(q));
        assert_int_equal(tern_tcp_get_state(s), TERN_TCP_CLOSED);
        assert_int_equal(tern_tcp_error(s), TERN_EPROTO);
        assert_true(ev.events & TERN_TCP_EV_ERROR);
        assert_int_equal(f->ncap, n); /* nothing sent: no RST for a SYN */
        assert_int_equal(f->tcp.stats.icmp_hard_errors, i + 1);
        /* no SYN retransmission afterwards */
        fx_advance_ms(f, 5000);
        assert_int_equal(f->ncap, n);
        tern_tcp_close(s);
    }
    /* the same in SYN-RECEIVED after a simultaneous open */
    struct tern_tcp_sock *s;
    assert_int_equal(tern_tcp_connect(&f->tcp, US, 5600, PEER, 80, NULL, NULL, &s), TERN_OK);
    uint32_t isn = fx_last(f)->seq;
    fx_send(f, 80, 5600, 9000, 0, F_SYN, 65535, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_SYN_RECEIVED);
    icmp_quote(q, 5600, 80, isn);
    tern_tcp_icmp_error(&f->tcp, 3, 3, 0, q, sizeof(q));
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_CLOSED);
    assert_int_equal(tern_tcp_error(s), TERN_EPROTO);
    tern_tcp_close(s);
    /* a listener's half-open child is not the user's connect: soft */
    struct tern_tcp_sock *ls;
    assert_int_equal(tern_tcp_listen(&f->tcp, 0, 80, 4, NULL, NULL, &ls), TERN_OK);
    fx_send(f, 40000, 80, 1000, 0, F_SYN, 65535, NULL, 0, NULL, 0);
    icmp_quote(q, 80, 40000, fx_last(f)->seq);
    uint64_t soft = f->tcp.stats.icmp_soft_errors;
    tern_tcp_icmp_error(&f->tcp, 3, 3, 0, q, sizeof(q));
    assert_int_equal(f->tcp.stats.icmp_soft_errors, soft + 1);
    assert_int_equal(tern_tcp_pcbs_in_use(&f->tcp), 2);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

/* The SACK blocks of o as offsets from base: n pairs into out. */
static unsigned sack_offsets(const struct out_seg *o, uint32_t base, uint32_t out[4][2])
{
    const uint8_t *v = NULL;
    if (!has_option(o, 5, &v))
        return 0;
    unsigned n = (unsigned)(v[-1] - 2) / 8;
    assert_true(n <= 4);
    for (unsigned k = 0; k < n; k++) {
        out[k][0] = tern_load_be32(v + 8 * k) - base;
        out[k][1] = tern_load_be32(v + 8 * k + 4) - base;
    }
    return n;
}

static void expect_sack(struct fx *f, uint32_t base, unsigned n, const uint32_t want[][2])
{
    uint32_t got[4][2];
    const struct out_seg *a = fx_last(f);
    assert_int_equal(a->ack, base);
    assert_int_equal(sack_offsets(a, base, got), n);
    for (unsigned k = 0; k < n; k++) {
        assert_int_equal(got[k][0], want[k][0]);
        assert_int_equal(got[k][1], want[k][1]);
    }
}

/* Issue 12 #12: RFC 2018 4: the first SACK block holds the segment that
 * triggered the ACK, the others repeat the most recently reported blocks,
 * newest first. With more holes than blocks fit (4 without timestamps),
 * the oldest block is the one left out. */
static void test_sack_blocks_by_recency(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls;
    assert_int_equal(tern_tcp_listen(&f->tcp, 0, 80, 4, NULL, NULL, &ls), TERN_OK);
    static const uint8_t opts[8] = { 2, 4, 0x05, 0xb4, 1, 1, 4, 2 }; /* MSS, SACK-permitted */
    fx_send(f, 40000, 80, 1000, 0, F_SYN, 65535, opts, 8, NULL, 0);
    uint32_t isn = fx_last(f)->seq;
    fx_send(f, 40000, 80, 1001, isn + 1, F_ACK, 65535, NULL, 0, NULL, 0);
    struct tern_tcp_sock *s;
    assert_int_equal(tern_tcp_accept(ls, &s), TERN_OK);
    const uint32_t base = 1001;
    /* five holes, A..E, arriving in order */
    for (uint32_t i = 1; i <= 5; i++)
        fx_send(f, 40000, 80, base + 10 * i, isn + 1, F_ACK, 65535, NULL, 0, "ab", 2);
    static const uint32_t w1[4][2] = { { 50, 52 }, { 40, 42 }, { 30, 32 }, { 20, 22 } };
    expect_sack(f, base, 4, w1);
    /* B grows: it comes first, the rest keep their recency */
    fx_send(f, 40000, 80, base + 22, isn + 1, F_ACK, 65535, NULL, 0, "cd", 2);
    static const uint32_t w2[4][2] = { { 20, 24 }, { 50, 52 }, { 40, 42 }, { 30, 32 } };
    expect_sack(f, base, 4, w2);
    /* a new hole F */
    fx_send(f, 40000, 80, base + 60, isn + 1, F_ACK, 65535, NULL, 0, "ef", 2);
    static const uint32_t w3[4][2] = { { 60, 62 }, { 20, 24 }, { 50, 52 }, { 40, 42 } };
    expect_sack(f, base, 4, w3);
    /* A and B join (and the oldest, A, comes back inside the first) */
    fx_send(f, 40000, 80, base + 12, isn + 1, F_ACK, 65535, NULL, 0, "12345678", 8);
    static const uint32_t w4[4][2] = { { 10, 24 }, { 60, 62 }, { 50, 52 }, { 40, 42 } };
    expect_sack(f, base, 4, w4);
    /* a retransmission inside C (already held) is the trigger: C first */
    fx_send(f, 40000, 80, base + 30, isn + 1, F_ACK, 65535, NULL, 0, "ab", 2);
    static const uint32_t w5[4][2] = { { 30, 32 }, { 10, 24 }, { 60, 62 }, { 50, 52 } };
    expect_sack(f, base, 4, w5);
    /* the first hole fills: the in-order part leaves the list */
    fx_send(f, 40000, 80, base, isn + 1, F_ACK, 65535, NULL, 0, "0123456789", 10);
    static const uint32_t w6[4][2] = { { 6, 8 }, { 36, 38 }, { 26, 28 }, { 16, 18 } };
    expect_sack(f, base + 24, 4, w6);
    tern_tcp_abort(s);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

/* Issue 12 #13: a FIN ahead of missing data gets an immediate duplicate
 * ACK (RFC 5681 4.2) and is held, by its sequence number, until the gap
 * fills; then it is processed. */
static void test_fin_ahead_of_gap_held(void **state)
{
    (void)state;
    struct fx *f = fx_new(NULL);
    struct tern_tcp_sock *ls = NULL;
    uint32_t isn;
    char buf[64];
    size_t got;
    /* a bare FIN ahead of 10 missing bytes */
    struct tern_tcp_sock *s = fx_passive(f, &ls, 40000, 1000, &isn);
    unsigned n = f->ncap;
    fx_send(f, 40000, 80, 1011, isn + 1, F_ACK | F_FIN, 65535, NULL, 0, NULL, 0);
    assert_int_equal(f->ncap, n + 1);
    assert_int_equal(fx_last(f)->ack, 1001);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_ESTABLISHED);
    assert_int_equal(tern_tcp_recv(s, buf, sizeof(buf), &got), TERN_AGAIN);
    fx_send(f, 40000, 80, 1001, isn + 1, F_ACK, 65535, NULL, 0, "0123456789", 10);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_CLOSE_WAIT);
    assert_int_equal(fx_last(f)->ack, 1012);
    assert_int_equal(f->ncap, n + 2);
    assert_int_equal(tern_tcp_recv(s, buf, sizeof(buf), &got), TERN_OK);
    assert_int_equal(got, 10);
    assert_int_equal(tern_tcp_recv(s, buf, sizeof(buf), &got), TERN_OK);
    assert_int_equal(got, 0); /* end of stream */
    tern_tcp_abort(s);

    /* data and FIN ahead of the gap, filled in two pieces */
    s = fx_passive(f, &ls, 40001, 5000, &isn);
    n = f->ncap;
    fx_send(f, 40001, 80, 5011, isn + 1, F_ACK | F_FIN, 65535, NULL, 0, "abcdefghij", 10);
    assert_int_equal(f->ncap, n + 1);
    assert_int_equal(fx_last(f)->ack, 5001);
    fx_send(f, 40001, 80, 5001, isn + 1, F_ACK, 65535, NULL, 0, "01234", 5);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_ESTABLISHED);
    fx_send(f, 40001, 80, 5006, isn + 1, F_ACK, 65535, NULL, 0, "56789", 5);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_CLOSE_WAIT);
    assert_int_equal(fx_last(f)->ack, 5022);
    assert_int_equal(tern_tcp_recv(s, buf, sizeof(buf), &got), TERN_OK);
    assert_int_equal(got, 20);
    assert_memory_equal(buf, "0123456789abcdefghij", 20);
    tern_tcp_abort(s);

    /* in FIN-WAIT-2 the held FIN leads to TIME-WAIT */
    s = fx_passive(f, &ls, 40002, 7000, &isn);
    assert_int_equal(tern_tcp_shutdown(s), TERN_OK);
    fx_send(f, 40002, 80, 7001, isn + 2, F_ACK, 65535, NULL, 0, NULL, 0);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_FIN_WAIT_2);
    n = f->ncap;
    fx_send(f, 40002, 80, 7004, isn + 2, F_ACK | F_FIN, 65535, NULL, 0, NULL, 0);
    assert_int_equal(f->ncap, n + 1);
    assert_int_equal(fx_last(f)->ack, 7001);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_FIN_WAIT_2);
    fx_send(f, 40002, 80, 7001, isn + 2, F_ACK, 65535, NULL, 0, "xyz", 3);
    assert_int_equal(tern_tcp_get_state(s), TERN_TCP_TIME_WAIT);
    assert_int_equal(fx_last(f)->ack, 7005);
    assert_int_equal(tern_tcp_recv(s, buf, sizeof(buf), &got), TERN_OK);
    assert_int_equal(got, 3);
    tern_tcp_close(s);
    fx_advance_ms(f, 2 * f->cfg.msl_ms + 10);
    tern_tcp_close(ls);
    fx_free_checked(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_passive_open_linux_syn_options),
        cmocka_unit_test(test_malformed_segments_counted_no_reply),
        cmocka_unit_test(test_closed_port_gets_rst),
        cmocka_unit_test(test_data_both_ways_and_graceful_close),
        cmocka_unit_test(test_active_open_and_refusal),
        cmocka_unit_test(test_rfc5961_blind_injection),
        cmocka_unit_test(test_rst_in_every_state),
        cmocka_unit_test(test_fin_in_every_state),
        cmocka_unit_test(test_out_of_order_and_overlap_with_sack),
        cmocka_unit_test(test_zero_window_receiver_and_probe),
        cmocka_unit_test(test_zero_window_sender_persists),
        cmocka_unit_test(test_window_shrinking),
        cmocka_unit_test(test_syn_flood_bounded_with_cookies),
        cmocka_unit_test(test_accept_queue_bounded),
        cmocka_unit_test(test_pool_exhaustion_refuses),
        cmocka_unit_test(test_time_wait_and_reuse),
        cmocka_unit_test(test_icmp_attacks),
        cmocka_unit_test(test_pmtu_shrinks_segments),
        cmocka_unit_test(test_sack_reneging_recovers),
        cmocka_unit_test(test_fast_retransmit_on_three_dupacks),
        cmocka_unit_test(test_nagle_and_nodelay),
        cmocka_unit_test(test_delayed_ack_every_second_segment),
        cmocka_unit_test(test_keepalive_times_out),
        cmocka_unit_test(test_close_with_unread_data_resets),
        cmocka_unit_test(test_isn_rfc6528),
        cmocka_unit_test(test_listen_specific_address_wins),
        cmocka_unit_test(test_init_validates_config),
        cmocka_unit_test(test_counters_by_name),
        cmocka_unit_test(test_services_parse),
        cmocka_unit_test(test_echo_service),
        cmocka_unit_test(test_echo_service_send_buffer_grows),
        cmocka_unit_test(test_every_truncation_and_bit_flip),
        cmocka_unit_test(test_simultaneous_open),
        cmocka_unit_test(test_abort_sends_rst_in_every_state),
        cmocka_unit_test(test_discard_service_and_callback_close),
        cmocka_unit_test(test_fin_not_resent_after_acked),
        cmocka_unit_test(test_simultaneous_open_rst_is_refused),
        cmocka_unit_test(test_rst_beyond_advertised_window_dropped),
        cmocka_unit_test(test_rst_window_after_active_open),
        cmocka_unit_test(test_data_on_syn_ack_kept),
        cmocka_unit_test(test_data_on_simultaneous_syn_queued),
        cmocka_unit_test(test_icmp_unreachable_fails_connect),
        cmocka_unit_test(test_sack_blocks_by_recency),
        cmocka_unit_test(test_fin_ahead_of_gap_held),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
