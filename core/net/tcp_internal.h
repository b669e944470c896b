/*
 * Interface: private to core/net/tcp*.c. The control block, sequence
 * arithmetic and the functions the TCP files share.
 *
 * Buffers: the send buffer holds the bytes from snd_una on (sbuf_len of
 * them, starting at index sbuf_head of a ring); the receive buffer holds
 * unread in-order bytes (rbuf_len from rbuf_head) and, beyond them, the
 * out-of-order bytes at their sequence offsets, described by ooo[] (a
 * bounded range list). Both rings live in the pool memory of the block.
 */
#ifndef TERN_TCP_INTERNAL_H
#define TERN_TCP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/tcp.h"

#define SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) > 0)
#define SEQ_GEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) >= 0)

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20

#define TCP_HDR_LEN 20
#define TCP_MAX_OPT 40
#define TCP_DEFAULT_MSS 536
#define TCP_MIN_MSS 88
#define TCP_OOO_MAX 8      /* out-of-order ranges held (RFC 2018: report up to 4) */
#define TCP_SACK_MAX 4     /* peer SACK blocks remembered (scoreboard) */
#define TCP_MAX_WSCALE 14

struct tcp_range {
    uint32_t start, end;   /* [start, end) in sequence space */
};

/* Parsed options of one segment. */
struct tcp_opts {
    bool has_mss, has_ws, sack_ok, has_ts;
    uint16_t mss;
    uint8_t ws;
    uint32_t tsval, tsecr;
    uint8_t nsack;
    struct tcp_range sack[4];
};

/* One parsed incoming segment. */
struct tcp_seg {
    uint32_t src, dst;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint32_t wnd;          /* raw 16-bit field */
    const uint8_t *data;
    uint32_t len;          /* payload bytes */
    struct tcp_opts opt;
};

struct tern_tcp_sock {
    struct tern_tcp *tcp;
    enum tern_tcp_state state;
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    bool user_closed;      /* the handle was released */
    bool nodelay, keepalive;
    bool sack_ok, ts_ok, ws_ok;
    bool shut_wr;          /* FIN requested after queued data */
    bool fin_sent, fin_rcvd;
    bool fin_acked;        /* our FIN is acknowledged: it is never sent again */
    bool fin_held;         /* the peer's FIN came ahead of missing data ... */
    uint32_t fin_held_seq; /* ... at this sequence number; processed when rcv_nxt gets there */
    bool ack_now;          /* send an ACK at the next output */
    bool in_recovery;
    bool rtt_timing;
    bool syn_cookie;       /* opened from a SYN cookie (no options) */
    bool accepted;         /* handed to the user by accept */
    tern_result error;
    tern_tcp_event_fn cb;
    void *cb_arg;
    unsigned pending_ev;   /* events to deliver at the end of processing */
    /* Corking: while input or the socket's callback runs (cb_depth > 0),
     * tcp_output only notes output_pending; the output runs once at the
     * end, so what the application writes (and reads: the window) in one
     * callback leaves as one TSO frame, one ACK. gen changes whenever the
     * block is reused, so a block released meanwhile is left alone. */
    uint32_t cb_depth, gen;
    bool output_pending;

    /* buffers: the block's own small ones, or grown ones from grow_heap;
     * bytes the application read since rcv_epoch_ms (one RTT per epoch) */
    uint8_t *sbuf_small, *rbuf_small;
    uint32_t rcv_epoch_ms, rcv_epoch_bytes;

    /* send side */
    uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, max_snd_wnd, snd_wl1, snd_wl2;
    uint8_t snd_wscale, rcv_wscale;
    uint8_t *sbuf;
    uint32_t sbuf_cap, sbuf_head, sbuf_len;
    uint32_t mss;          /* effective send MSS (data bytes) */
    uint32_t peer_mss;
    struct tcp_range sacked[TCP_SACK_MAX];
    uint8_t nsacked;
    uint32_t rexmit_high;  /* in recovery: holes retransmitted below this */

    /* congestion control (RFC 5681, 6582) */
    uint32_t cwnd, ssthresh, recover, dupacks;

    /* receive side */
    uint32_t irs, rcv_nxt, rcv_adv;
    uint8_t *rbuf;
    uint32_t rbuf_cap, rbuf_head, rbuf_len;
    struct tcp_range ooo[TCP_OOO_MAX]; /* newest first (RFC 2018 4 order) */
    uint8_t nooo;
    uint32_t unacked_segs; /* full segments received since the last ACK */

    /* RTT (RFC 6298) and timestamps (RFC 7323) */
    uint32_t srtt_us, rttvar_us, rto_ms;
    uint32_t rtt_seq;
    uint64_t rtt_start_ms;
    uint32_t backoff;      /* consecutive retransmissions */
    uint32_t ts_offset, ts_recent, last_ack_sent;

    /* timers: one tern_timer armed at the earliest of these (0 = off) */
    struct tern_timer timer;
    uint64_t rexmt_at, persist_at, delack_at, keep_at, tw_at;
    uint32_t persist_backoff, keep_sent;
    uint32_t probes_unanswered; /* zero-window probes since the peer last spoke */
    uint64_t last_rx_ms;

    /* listener */
    tern_tcp_evict_fn evict_fn;     /* the owner's eviction policy */
    void *evict_arg;
    struct tern_tcp_sock *parent;
    struct tern_list children;      /* SYN-RECEIVED and unaccepted children */
    uint32_t backlog, nchildren;
    struct tern_list_node child_link;

    struct tern_list_node link;     /* free list, listeners or a bucket */
};

/* tcp_siphash.c */
uint64_t tern_siphash24(const uint64_t key[2], const void *data, size_t len);

/* tcp.c */
uint32_t tcp_now_ms(struct tern_tcp *tcp);
struct tern_tcp_sock *tcp_pcb_alloc(struct tern_tcp *tcp);
void tcp_pcb_hash(struct tern_tcp_sock *s);
void tcp_pcb_release(struct tern_tcp_sock *s);
/* tcp_pcb_alloc for a peer that completed a handshake at listener l:
 * when the pool is empty, makes room first (tcp_evict.c). */
struct tern_tcp_sock *tcp_pcb_alloc_evict(struct tern_tcp *tcp, struct tern_tcp_sock *l);
/* Doubles s's send (or receive) buffer towards cfg.sndbuf (rcvbuf) from
 * the shared area, keeping its contents; false when at the maximum or
 * the area is full (counted). */
bool tcp_grow_sbuf(struct tern_tcp_sock *s);
/* Room in s's send buffer for want bytes (0 when s cannot send), growing
 * the buffer first when it, not the peer's window, is the limit: what
 * tern_tcp_send does, for a sender that asks before it reads its data
 * (the echo service). */
uint32_t tcp_send_room(struct tern_tcp_sock *s, size_t want);
bool tcp_grow_rbuf(struct tern_tcp_sock *s);
struct tern_tcp_sock *tcp_lookup(struct tern_tcp *tcp, uint32_t laddr, uint16_t lport,
                                 uint32_t raddr, uint16_t rport);
uint32_t tcp_isn(struct tern_tcp *tcp, uint32_t laddr, uint16_t lport, uint32_t raddr,
                 uint16_t rport);
void tcp_set_state(struct tern_tcp_sock *s, enum tern_tcp_state st);
void tcp_init_conn(struct tern_tcp_sock *s);
void tcp_notify(struct tern_tcp_sock *s);
/* Corks s (see cb_depth); tcp_uncork(s, gen) with the gen read before
 * undoes it and runs the deferred output once the last cork is gone. */
void tcp_cork(struct tern_tcp_sock *s);
void tcp_uncork(struct tern_tcp_sock *s, uint32_t gen);
void tcp_drop(struct tern_tcp_sock *s, tern_result why);
void tcp_enter_time_wait(struct tern_tcp_sock *s);
uint32_t tcp_rcv_space(const struct tern_tcp_sock *s);

/* tcp_out.c */
void tcp_output(struct tern_tcp_sock *s);
void tcp_send_syn(struct tern_tcp_sock *s);
/* The window field of our SYN or SYN-ACK (never scaled). */
uint16_t tcp_syn_window(const struct tern_tcp_sock *s);
void tcp_send_ack(struct tern_tcp_sock *s);
void tcp_send_segment(struct tern_tcp_sock *s, uint32_t seq, uint32_t len, uint8_t flags);
/* tcp_send_segment for len > gso_mss through lower.output_tso. */
void tcp_send_tso(struct tern_tcp_sock *s, uint32_t seq, uint32_t len, uint8_t flags,
                  uint32_t gso_mss);
uint32_t tcp_max_payload(const struct tern_tcp_sock *s);
void tcp_send_rst(struct tern_tcp_sock *s);
void tcp_send_challenge_ack(struct tern_tcp_sock *s);
void tcp_respond_rst(struct tern_tcp *tcp, const struct tcp_seg *seg);
void tcp_send_raw(struct tern_tcp *tcp, uint32_t src, uint32_t dst, uint16_t sport,
                  uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd,
                  const uint8_t *opts, size_t optlen);
size_t tcp_build_syn_opts(uint8_t *o, uint16_t mss, int wscale, bool sack, bool ts,
                          uint32_t tsval, uint32_t tsecr);
void tcp_timer_update(struct tern_tcp_sock *s);
void tcp_timer_fire(struct tern_timer *t, void *arg);
void tcp_rexmt_arm(struct tern_tcp_sock *s);
uint32_t tcp_flight(const struct tern_tcp_sock *s);
uint16_t tcp_mss_for_mtu(struct tern_tcp *tcp, uint32_t dst);

#endif
