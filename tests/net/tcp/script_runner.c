/*
 * Interface: script_runner FILE.pkt — runs one TCP packet script
 * (pkt_script.h, docs/tcp.md "Conformance scripts") against one Tern TCP
 * instance on the deterministic sim platform. The script is the peer: its
 * inbound segments go into tern_tcp_input at their virtual times, every
 * segment the stack sends is captured and must be matched, in order and
 * on time (within 10 ms), by the script's next "> ..." line; socket calls
 * run on the one connection (or listener) of the script. Exit 0 when the
 * whole script ran; 1 with "FILE:LINE: ..." and the expected and actual
 * segment lines on a mismatch; 2 when the script is refused (malformed).
 *
 * Addresses: the stack is 192.0.2.1, the peer 192.0.2.2 (or the address
 * given to connect); a passive peer uses port 40000. The peer's ISN is 0
 * unless "peer_isn N" says otherwise; ours is learned from our first SYN.
 * Inbound payload bytes follow a pattern by stream offset that "read"
 * checks; "write" sends a second pattern that outbound payloads are
 * checked against.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkt_script.h"
#include "sim_platform.h"
#include "tern/inet.h"
#include "tern/os.h"
#include "tern/tcp.h"

#define ADDR_US TERN_IPV4(192, 0, 2, 1)
#define ADDR_PEER TERN_IPV4(192, 0, 2, 2)
#define PEER_PORT 40000
#define QUEUE_MAX 64
#define TOLERANCE_NS 10000000ull /* an outbound segment may leave 10 ms early or late */
#define SEG_MAX 1500

struct captured {
    uint64_t t_ns;
    uint32_t seq, ack;
    uint16_t sport, dport, wnd;
    uint8_t flags;
    uint8_t opts[40];
    size_t optlen, len;
    uint8_t data[SEG_MAX];
};

struct runner {
    const char *path;
    const struct pkt_script *sc;
    struct sim_platform plat;
    struct tern_os os;
    struct tern_tcp tcp;
    uint64_t t0_ns;
    struct tern_tcp_sock *ls, *sock;
    uint32_t peer_addr;
    uint16_t our_port, peer_port;
    uint32_t peer_isn, our_isn;
    bool our_isn_known;
    uint32_t last_tsval, last_seq;
    uint64_t read_off;      /* bytes of the peer's stream read so far */
    uint64_t write_off;     /* bytes of ours written so far */
    struct captured q[QUEUE_MAX];
    unsigned qhead, qn;
    bool overflow;
    uint8_t seg[60 + 9000];
    uint8_t io[65536];      /* read and write buffer */
};

static uint8_t peer_byte(uint64_t off)
{
    return (uint8_t)('a' + off % 26);
}

static uint8_t our_byte(uint64_t off)
{
    return (uint8_t)('A' + (off * 7) % 26);
}

static double rel_s(const struct runner *r, uint64_t ns)
{
    return (double)(int64_t)(ns - r->t0_ns) / 1e9;
}

/* ---- the lower layer: every segment sent joins the queue ---- */

static void note_tsval(struct runner *r, const uint8_t *o, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (o[i] == 0)
            break;
        if (o[i] == 1 || i + 1 >= n || o[i + 1] < 2) {
            i++;
            continue;
        }
        if (o[i] == 8 && o[i + 1] == 10 && i + 10 <= n)
            r->last_tsval = tern_load_be32(o + i + 2);
        i += o[i + 1];
    }
}

static tern_result cap_output(void *ctx, uint32_t src, uint32_t dst, const void *segment,
                              size_t len)
{
    struct runner *r = ctx;
    const uint8_t *p = segment;
    uint32_t sum = tern_csum_pseudo_ipv4(src, dst, 6, (uint16_t)len);
    size_t off = len >= 20 ? (size_t)(p[12] >> 4) * 4 : 0;
    if (len < 20 || off < 20 || off > len || len - off > SEG_MAX || src != ADDR_US ||
        tern_csum_finish(tern_csum_add(sum, segment, len)) != 0) {
        printf("%s: the stack sent a malformed segment (%zu bytes, bad header or checksum)\n",
               r->path, len);
        exit(1);
    }
    if (r->qn == QUEUE_MAX) {
        r->overflow = true;
        return TERN_OK;
    }
    struct captured *c = &r->q[(r->qhead + r->qn++) % QUEUE_MAX];
    c->t_ns = r->plat.now_ns;
    c->sport = tern_load_be16(p);
    c->dport = tern_load_be16(p + 2);
    c->seq = tern_load_be32(p + 4);
    c->ack = tern_load_be32(p + 8);
    c->flags = p[13] & 0x1f;
    c->wnd = tern_load_be16(p + 14);
    c->optlen = off - 20;
    memcpy(c->opts, p + 20, c->optlen);
    c->len = len - off;
    memcpy(c->data, p + off, c->len);
    note_tsval(r, c->opts, c->optlen);
    r->last_seq = c->seq;
    return TERN_OK;
}

static uint16_t cap_mtu(void *ctx, uint32_t dst)
{
    (void)ctx;
    (void)dst;
    return 1500;
}

/* ---- converting a captured segment to script notation ---- */

static void decode_opts(const struct runner *r, const struct captured *c, struct pkt_seg *s)
{
    const uint8_t *o = c->opts;
    size_t n = c->optlen;
    for (size_t i = 0; i < n && s->nopts < PKT_OPT_MAX;) {
        struct pkt_opt *op = &s->opts[s->nopts++];
        memset(op, 0, sizeof(*op));
        op->kind = (enum pkt_opt_kind)o[i];
        if (o[i] == 0)
            break;
        if (o[i] == 1) {
            i++;
            continue;
        }
        uint8_t l = i + 1 < n ? o[i + 1] : 0;
        if (l < 2 || i + l > n)
            break;
        if (o[i] == 2 && l == 4)
            op->a.v = tern_load_be16(o + i + 2);
        else if (o[i] == 3 && l == 3)
            op->a.v = o[i + 2];
        else if (o[i] == 8 && l == 10) {
            op->a.v = tern_load_be32(o + i + 2);
            op->b.v = tern_load_be32(o + i + 6);
        } else if (o[i] == 5) {
            for (size_t k = 0; k + 8 <= (size_t)l - 2 && op->nblocks < PKT_SACK_MAX; k += 8) {
                op->blk[op->nblocks][0].v = tern_load_be32(o + i + 2 + k) - r->peer_isn;
                op->blk[op->nblocks][1].v = tern_load_be32(o + i + 6 + k) - r->peer_isn;
                op->nblocks++;
            }
        }
        i += l;
    }
    while (s->nopts && s->opts[s->nopts - 1].kind == PKT_OPT_EOL)
        s->nopts--; /* trailing zero padding */
}

static void to_seg(const struct runner *r, const struct captured *c, struct pkt_seg *s)
{
    memset(s, 0, sizeof(*s));
    s->flags = c->flags & (PKT_FIN | PKT_SYN | PKT_RST | PKT_PSH | PKT_ACK);
    uint32_t isn = r->our_isn_known ? r->our_isn : (c->flags & PKT_SYN) ? c->seq : 0;
    s->start.v = c->seq - isn;
    s->end.v = s->start.v + (uint32_t)c->len;
    s->len = (uint32_t)c->len;
    s->ack.v = c->ack - r->peer_isn;
    s->has_win = true;
    s->win.v = c->wnd;
    decode_opts(r, c, s);
}

/* ---- failures ---- */

static void fail_at(const struct runner *r, unsigned line, const char *what,
                    const struct pkt_seg *exp, const struct captured *act)
{
    printf("%s:%u: %s\n", r->path, line, what);
    char buf[512];
    if (exp) {
        pkt_format_seg('>', exp, buf, sizeof(buf));
        printf("  expected: %s\n", buf);
    }
    if (act) {
        struct pkt_seg s;
        to_seg(r, act, &s);
        pkt_format_seg('>', &s, buf, sizeof(buf));
        printf("  actual:   %s   (sent at %.6f s)\n", buf, rel_s(r, act->t_ns));
    }
    exit(1);
}

/* ---- the clock ---- */

/* Runs timers up to until_ns; with stop_on_send, returns as soon as a
 * segment is queued. */
static void advance(struct runner *r, uint64_t until_ns, bool stop_on_send)
{
    for (;;) {
        uint64_t d = tern_os_step(&r->os, 0);
        if (stop_on_send && r->qn)
            return;
        if (d > until_ns)
            break;
        if (d > r->plat.now_ns)
            r->plat.now_ns = d;
    }
    if (r->plat.now_ns < until_ns)
        r->plat.now_ns = until_ns;
    tern_os_step(&r->os, 0);
}

static void no_unexpected(struct runner *r, unsigned line)
{
    if (r->overflow)
        fail_at(r, line, "more than 64 segments sent without being expected", NULL, NULL);
    if (r->qn)
        fail_at(r, line, "the stack sent a segment the script does not expect before this line",
                NULL, &r->q[r->qhead]);
}

/* ---- events ---- */

static size_t build_opts(struct runner *r, const struct pkt_seg *s, uint8_t *o)
{
    size_t n = 0;
    for (unsigned i = 0; i < s->nopts; i++) {
        const struct pkt_opt *op = &s->opts[i];
        switch (op->kind) {
        case PKT_OPT_EOL: o[n++] = 0; break;
        case PKT_OPT_NOP: o[n++] = 1; break;
        case PKT_OPT_MSS:
            o[n] = 2, o[n + 1] = 4;
            tern_store_be16(o + n + 2, (uint16_t)op->a.v);
            n += 4;
            break;
        case PKT_OPT_WSCALE: o[n] = 3, o[n + 1] = 3, o[n + 2] = (uint8_t)op->a.v, n += 3; break;
        case PKT_OPT_SACKOK: o[n] = 4, o[n + 1] = 2, n += 2; break;
        case PKT_OPT_TS:
            o[n] = 8, o[n + 1] = 10;
            tern_store_be32(o + n + 2, op->a.v);
            tern_store_be32(o + n + 6, op->b.any ? r->last_tsval : op->b.v);
            n += 10;
            break;
        case PKT_OPT_SACK:
            o[n] = 5, o[n + 1] = (uint8_t)(2 + 8 * op->nblocks);
            for (unsigned k = 0; k < op->nblocks; k++) {
                tern_store_be32(o + n + 2 + 8 * k, r->our_isn + op->blk[k][0].v);
                tern_store_be32(o + n + 6 + 8 * k, r->our_isn + op->blk[k][1].v);
            }
            n += 2 + 8 * op->nblocks;
            break;
        }
    }
    while (n % 4)
        o[n++] = 0;
    return n;
}

static void ev_inbound(struct runner *r, const struct pkt_event *e)
{
    const struct pkt_seg *s = &e->seg;
    uint8_t opts[64];
    size_t optlen = build_opts(r, s, opts);
    if (optlen > 40) {
        printf("%s:%u: options take %zu bytes, beyond 40\n", r->path, e->line, optlen);
        exit(2);
    }
    size_t hl = 20 + optlen;
    uint8_t *p = r->seg;
    memset(p, 0, hl);
    tern_store_be16(p, r->peer_port);
    tern_store_be16(p + 2, r->our_port);
    tern_store_be32(p + 4, r->peer_isn + s->start.v);
    tern_store_be32(p + 8, (s->flags & PKT_ACK) ? r->our_isn + s->ack.v : 0);
    p[12] = (uint8_t)((hl / 4) << 4);
    p[13] = s->flags;
    tern_store_be16(p + 14, (uint16_t)(s->has_win ? s->win.v : 65535));
    memcpy(p + 20, opts, optlen);
    uint32_t first = s->start.v + ((s->flags & PKT_SYN) ? 1 : 0); /* stream offset + 1 */
    for (uint32_t i = 0; i < s->len; i++)
        p[hl + i] = peer_byte((uint64_t)(first - 1 + i));
    size_t len = hl + s->len;
    uint32_t sum = tern_csum_pseudo_ipv4(r->peer_addr, ADDR_US, 6, (uint16_t)len);
    tern_store_be16(p + 16, tern_csum_finish(tern_csum_add(sum, p, len)));
    tern_tcp_input(&r->tcp, r->peer_addr, ADDR_US, p, len);
}

static void check_payload(struct runner *r, const struct pkt_event *e, const struct captured *c)
{
    uint32_t first = c->seq - r->our_isn + ((c->flags & PKT_SYN) ? 1 : 0);
    for (size_t i = 0; i < c->len; i++) {
        if (c->data[i] != our_byte((uint64_t)(first - 1 + i))) {
            char what[96];
            snprintf(what, sizeof(what), "payload byte %zu is not what was written", i);
            fail_at(r, e->line, what, &e->seg, c);
        }
    }
}

static void ev_outbound(struct runner *r, const struct pkt_event *e, uint64_t t_ns)
{
    if (!r->qn)
        advance(r, t_ns + TOLERANCE_NS, true);
    if (!r->qn) {
        char what[96];
        snprintf(what, sizeof(what), "nothing was sent by %.6f s", rel_s(r, t_ns + TOLERANCE_NS));
        fail_at(r, e->line, what, &e->seg, NULL);
    }
    struct captured *c = &r->q[r->qhead];
    if (!r->our_isn_known && (c->flags & PKT_SYN)) {
        r->our_isn = c->seq - (e->seg.start.any ? 0 : e->seg.start.v);
        r->our_isn_known = true;
    }
    if (c->t_ns + TOLERANCE_NS < t_ns || c->t_ns > t_ns + TOLERANCE_NS) {
        char what[96];
        snprintf(what, sizeof(what), "sent at %.6f s, the script expects it at %.6f s",
                 rel_s(r, c->t_ns), rel_s(r, t_ns));
        fail_at(r, e->line, what, &e->seg, c);
    }
    struct pkt_seg act;
    to_seg(r, c, &act);
    char why[128];
    if (!pkt_seg_match(&e->seg, &act, why, sizeof(why)))
        fail_at(r, e->line, why, &e->seg, c);
    if (c->sport != r->our_port || c->dport != r->peer_port)
        fail_at(r, e->line, "sent on another connection (ports differ)", &e->seg, c);
    check_payload(r, e, c);
    r->qhead = (r->qhead + 1) % QUEUE_MAX;
    r->qn--;
}

static struct tern_tcp_sock *need_sock(struct runner *r, const struct pkt_event *e)
{
    if (!r->sock) {
        printf("%s:%u: no connection here (connect or accept first; not after close)\n",
               r->path, e->line);
        exit(2);
    }
    return r->sock;
}

static void fail_result(struct runner *r, const struct pkt_event *e, const char *call,
                        tern_result res)
{
    printf("%s:%u: %s returned %d\n", r->path, e->line, call, (int)res);
    exit(1);
}

static void ev_read(struct runner *r, const struct pkt_event *e)
{
    struct tern_tcp_sock *s = need_sock(r, e);
    uint8_t *buf = r->io;
    size_t got = 0;
    size_t cap = e->num >= PKT_READ_CLOSED ? sizeof(r->io) : e->num;
    tern_result res = tern_tcp_recv(s, buf, cap, &got);
    if (e->num == PKT_READ_NONE || e->num == PKT_READ_CLOSED) {
        tern_result want = e->num == PKT_READ_NONE ? TERN_AGAIN : TERN_ECLOSED;
        if (res != want) {
            printf("%s:%u: read %s: the read gave result %d (%zu bytes)\n", r->path, e->line,
                   e->num == PKT_READ_NONE ? "none" : "closed", (int)res, got);
            exit(1);
        }
        return;
    }
    if (res != TERN_OK)
        fail_result(r, e, "read", res);
    size_t want = e->num == PKT_READ_EOF ? 0 : e->num;
    if (got != want) {
        printf("%s:%u: read %zu bytes, the script expects %zu%s\n", r->path, e->line, got, want,
               want ? "" : " (end of stream)");
        exit(1);
    }
    for (size_t i = 0; i < got; i++) {
        if (buf[i] != peer_byte(r->read_off + i)) {
            printf("%s:%u: byte %" PRIu64 " of the stream read back wrong\n", r->path, e->line,
                   r->read_off + i);
            exit(1);
        }
    }
    r->read_off += got;
}

static void ev_write(struct runner *r, const struct pkt_event *e)
{
    struct tern_tcp_sock *s = need_sock(r, e);
    uint8_t *buf = r->io;
    for (uint32_t i = 0; i < e->num; i++)
        buf[i] = our_byte(r->write_off + i);
    size_t sent = 0;
    tern_result res = tern_tcp_send(s, buf, e->num, &sent);
    if (res != TERN_OK)
        fail_result(r, e, "write", res);
    if (sent != e->num) {
        printf("%s:%u: write took %zu of %u bytes\n", r->path, e->line, sent, e->num);
        exit(1);
    }
    r->write_off += sent;
}

static void ev_expect_state(struct runner *r, const struct pkt_event *e)
{
    const char *st = tern_tcp_state_name(tern_tcp_get_state(need_sock(r, e)));
    if (strcmp(st, e->name) != 0) {
        printf("%s:%u: state is %s, the script expects %s\n", r->path, e->line, st, e->name);
        exit(1);
    }
}

static void ev_expect_error(struct runner *r, const struct pkt_event *e)
{
    tern_result err = tern_tcp_error(need_sock(r, e));
    const char *name = err == TERN_OK          ? "none"
                       : err == TERN_EPROTO    ? "refused"
                       : err == TERN_ECLOSED   ? "reset"
                       : err == TERN_ETIMEDOUT ? "timeout"
                                               : "other";
    if (strcmp(name, e->name) != 0) {
        printf("%s:%u: error is %s (%d), the script expects %s\n", r->path, e->line, name,
               (int)err, e->name);
        exit(1);
    }
}

static void ev_expect_counter(struct runner *r, const struct pkt_event *e)
{
    const char *name;
    uint64_t v;
    for (unsigned i = 0; tern_tcp_counter(&r->tcp, i, &name, NULL, &v); i++) {
        if (strcmp(name, e->name) == 0) {
            if (v != e->num) {
                printf("%s:%u: counter %s is %" PRIu64 ", the script expects %u\n", r->path,
                       e->line, name, v, e->num);
                exit(1);
            }
            return;
        }
    }
    printf("%s:%u: no counter named %s (include/tern/tcp.h TERN_TCP_COUNTERS)\n", r->path,
           e->line, e->name);
    exit(2);
}

static void ev_icmp(struct runner *r, const struct pkt_event *e)
{
    uint8_t q[28] = { 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0 };
    tern_store_be32(q + 12, ADDR_US);
    tern_store_be32(q + 16, r->peer_addr);
    tern_store_be16(q + 20, r->our_port);
    tern_store_be16(q + 22, r->peer_port);
    tern_store_be32(q + 24, e->has_seq ? r->our_isn + e->seq : r->last_seq);
    bool frag = strcmp(e->name, "frag_needed") == 0;
    tern_tcp_icmp_error(&r->tcp, 3, frag ? 4 : (uint8_t)e->num, frag ? (uint16_t)e->num : 0, q,
                        sizeof(q));
}

static void ev_socket_call(struct runner *r, const struct pkt_event *e)
{
    tern_result res;
    switch (e->kind) {
    case PKT_EV_LISTEN:
        r->our_port = (uint16_t)e->num;
        res = tern_tcp_listen(&r->tcp, 0, r->our_port, 4, NULL, NULL, &r->ls);
        if (res != TERN_OK)
            fail_result(r, e, "listen", res);
        break;
    case PKT_EV_CONNECT:
        r->peer_addr = e->addr;
        r->peer_port = (uint16_t)e->num;
        res = tern_tcp_connect(&r->tcp, ADDR_US, 0, e->addr, r->peer_port, NULL, NULL, &r->sock);
        if (res != TERN_OK)
            fail_result(r, e, "connect", res);
        tern_tcp_get_addrs(r->sock, NULL, &r->our_port, NULL, NULL);
        break;
    case PKT_EV_ACCEPT:
        if (!r->ls)
            fail_result(r, e, "accept (no listener)", TERN_EINVAL);
        res = tern_tcp_accept(r->ls, &r->sock);
        if (res != TERN_OK)
            fail_result(r, e, "accept", res);
        break;
    case PKT_EV_CLOSE:
        tern_tcp_close(need_sock(r, e));
        r->sock = NULL;
        break;
    case PKT_EV_ABORT:
        tern_tcp_abort(need_sock(r, e));
        r->sock = NULL;
        break;
    case PKT_EV_KEEPALIVE:
        tern_tcp_set_keepalive(need_sock(r, e), true);
        break;
    case PKT_EV_NODELAY:
        tern_tcp_set_nodelay(need_sock(r, e), true);
        break;
    case PKT_EV_SHUTDOWN:
        res = tern_tcp_shutdown(need_sock(r, e));
        if (res != TERN_OK)
            fail_result(r, e, "shutdown", res);
        break;
    default: break;
    }
}

static void run_event(struct runner *r, const struct pkt_event *e)
{
    uint64_t t_ns = r->t0_ns + (uint64_t)e->time_us * 1000u;
    if (e->kind == PKT_EV_OUT) {
        ev_outbound(r, e, t_ns);
        return;
    }
    if (r->plat.now_ns < t_ns)
        advance(r, t_ns, false);
    no_unexpected(r, e->line);
    switch (e->kind) {
    case PKT_EV_IN: ev_inbound(r, e); break;
    case PKT_EV_NONE:
        advance(r, t_ns + (uint64_t)e->within_us * 1000u, true);
        if (r->qn)
            fail_at(r, e->line, "the script expects nothing sent here", NULL, &r->q[r->qhead]);
        break;
    case PKT_EV_READ: ev_read(r, e); break;
    case PKT_EV_WRITE: ev_write(r, e); break;
    case PKT_EV_STATE: ev_expect_state(r, e); break;
    case PKT_EV_ERROR: ev_expect_error(r, e); break;
    case PKT_EV_COUNTER: ev_expect_counter(r, e); break;
    case PKT_EV_ICMP: ev_icmp(r, e); break;
    case PKT_EV_PEER_ISN: r->peer_isn = e->num; break;
    default: ev_socket_call(r, e); break;
    }
}

static void setup(struct runner *r)
{
    if (sim_platform_init(&r->plat, 16u << 20, 42) != 0) {
        printf("%s: no memory for the sim platform\n", r->path);
        exit(2);
    }
    struct tern_platform plat = sim_platform(&r->plat);
    struct tern_config oc;
    tern_config_default(&oc);
    oc.console_level = TERN_LOG_ERROR;
    if (tern_os_init(&r->os, &plat, &oc) != TERN_OK) {
        printf("%s: tern_os_init failed\n", r->path);
        exit(2);
    }
    struct tern_tcp_config cfg;
    tern_tcp_config_default(&cfg);
    const struct pkt_config *sc = &r->sc->cfg;
    cfg.max_conns = 8;
    cfg.sndbuf = sc->sndbuf ? sc->sndbuf : 16384;
    cfg.rcvbuf = sc->rcvbuf ? sc->rcvbuf : 16384;
    cfg.sndbuf_min = cfg.rcvbuf_min = cfg.grow_bytes = 0; /* fixed buffers: pinned windows */
    cfg.backlog_max = 4;
    if (sc->msl_ms)
        cfg.msl_ms = sc->msl_ms;
    if (sc->challenge_acks_per_sec)
        cfg.challenge_acks_per_sec = sc->challenge_acks_per_sec;
    if (sc->keepalive_idle_ms)
        cfg.keepalive_idle_ms = sc->keepalive_idle_ms;
    if (sc->keepalive_intvl_ms)
        cfg.keepalive_intvl_ms = sc->keepalive_intvl_ms;
    if (sc->keepalive_probes)
        cfg.keepalive_probes = sc->keepalive_probes;
    struct tern_tcp_lower lower = { .output = cap_output, .path_mtu = cap_mtu, .ctx = r };
    if (tern_tcp_init(&r->tcp, &r->os, &lower, &cfg) != TERN_OK) {
        printf("%s: tern_tcp_init failed\n", r->path);
        exit(2);
    }
    r->t0_ns = r->plat.now_ns;
    r->peer_addr = ADDR_PEER;
    r->peer_port = PEER_PORT;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = malloc(1u << 20);
    size_t n = text ? fread(text, 1, (1u << 20) - 1, f) : 0;
    bool too_long = text && !feof(f);
    fclose(f);
    if (!text || too_long) {
        free(text);
        return NULL;
    }
    text[n] = '\0';
    if (strlen(text) != n) { /* a NUL inside: not a text script */
        free(text);
        return NULL;
    }
    return text;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* every message out before any exit */
    if (argc != 2) {
        printf("usage: script_runner FILE.pkt\n");
        return 2;
    }
    char *text = read_text(argv[1]);
    if (!text) {
        printf("%s: cannot read (missing, over 1 MiB, or not text)\n", argv[1]);
        return 2;
    }
    struct pkt_script sc;
    char err[256];
    bool ok = pkt_parse_script(text, &sc, err, sizeof(err));
    free(text);
    if (!ok) {
        printf("%s: refused: %s\n", argv[1], err);
        return 2;
    }
    struct runner *r = calloc(1, sizeof(*r));
    if (!r) {
        pkt_script_free(&sc);
        return 2;
    }
    r->path = argv[1];
    r->sc = &sc;
    setup(r);
    for (unsigned i = 0; i < sc.n; i++)
        run_event(r, &sc.ev[i]);
    no_unexpected(r, sc.ev[sc.n - 1].line);
    if (r->sock)
        tern_tcp_abort(r->sock);
    if (r->ls)
        tern_tcp_close(r->ls);
    tern_tcp_finish(&r->tcp);
    sim_platform_close(&r->plat);
    printf("%s: ok, %u events (%s)\n", r->path, sc.n, sc.rule);
    pkt_script_free(&sc);
    free(r);
    return 0;
}
