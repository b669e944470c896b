/*
 * Interface: the TCP socket calls of tern/tcp.h (listen, accept, connect,
 * send, recv, shutdown, close, abort, getters). Non-blocking: each call
 * does what it can now and says so in its result.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/os.h"
#include "tcp_internal.h"

tern_result tern_tcp_listen(struct tern_tcp *tcp, uint32_t local_addr, uint16_t port,
                            uint32_t backlog, tern_tcp_event_fn cb, void *arg,
                            struct tern_tcp_sock **out)
{
    if (port == 0 || !out)
        return TERN_EINVAL;
    for (struct tern_list_node *n = tcp->listeners.head.next; n != &tcp->listeners.head;
         n = n->next) {
        struct tern_tcp_sock *l = TERN_CONTAINER_OF(n, struct tern_tcp_sock, link);
        if (l->lport == port && l->laddr == local_addr)
            return TERN_EEXIST;
    }
    struct tern_tcp_sock *s = tcp_pcb_alloc(tcp);
    if (!s)
        return TERN_ENOSPC;
    s->state = TERN_TCP_LISTEN;
    s->laddr = local_addr;
    s->lport = port;
    if (backlog == 0)
        backlog = 1;
    s->backlog = backlog < tcp->cfg.backlog_max ? backlog : tcp->cfg.backlog_max;
    s->cb = cb;
    s->cb_arg = arg;
    tern_list_push_back(&tcp->listeners, &s->link);
    *out = s;
    return TERN_OK;
}

tern_result tern_tcp_accept(struct tern_tcp_sock *ls, struct tern_tcp_sock **out)
{
    if (ls->state != TERN_TCP_LISTEN)
        return TERN_EINVAL;
    for (struct tern_list_node *n = ls->children.head.next; n != &ls->children.head;
         n = n->next) {
        struct tern_tcp_sock *c = TERN_CONTAINER_OF(n, struct tern_tcp_sock, child_link);
        if (c->state == TERN_TCP_SYN_RECEIVED)
            continue;
        tern_list_remove(&c->child_link);
        ls->nchildren--;
        c->parent = NULL;
        c->accepted = true;
        c->nodelay = ls->nodelay;
        *out = c;
        return TERN_OK;
    }
    return TERN_AGAIN;
}

static uint16_t pick_port(struct tern_tcp *tcp, uint32_t laddr, uint32_t raddr, uint16_t rport)
{
    /* RFC 6056 algorithm 3: a keyed offset per destination plus a counter. */
    uint8_t in[10];
    memcpy(in, &laddr, 4);
    memcpy(in + 4, &raddr, 4);
    memcpy(in + 8, &rport, 2);
    uint32_t offset = (uint32_t)tern_siphash24(tcp->secret, in, sizeof(in));
    for (uint32_t i = 0; i < 16384; i++) {
        uint16_t p = (uint16_t)(49152 + (offset + tcp->next_port + i) % 16384);
        if (!tcp_lookup(tcp, laddr, p, raddr, rport)) {
            tcp->next_port = (uint16_t)(tcp->next_port + i + 1);
            return p;
        }
    }
    return 0;
}

tern_result tern_tcp_connect(struct tern_tcp *tcp, uint32_t local_addr, uint16_t local_port,
                             uint32_t remote_addr, uint16_t remote_port, tern_tcp_event_fn cb,
                             void *arg, struct tern_tcp_sock **out)
{
    if (!local_addr || !remote_addr || !remote_port || !out)
        return TERN_EINVAL;
    if (local_port == 0) {
        local_port = pick_port(tcp, local_addr, remote_addr, remote_port);
        if (local_port == 0)
            return TERN_ENOSPC;
    } else if (tcp_lookup(tcp, local_addr, local_port, remote_addr, remote_port)) {
        return TERN_EEXIST;
    }
    struct tern_tcp_sock *s = tcp_pcb_alloc(tcp);
    if (!s)
        return TERN_ENOSPC;
    s->laddr = local_addr;
    s->lport = local_port;
    s->raddr = remote_addr;
    s->rport = remote_port;
    s->cb = cb;
    s->cb_arg = arg;
    s->accepted = true;
    s->iss = tcp_isn(tcp, local_addr, local_port, remote_addr, remote_port);
    tcp_init_conn(s);
    s->state = TERN_TCP_SYN_SENT;
    tcp_pcb_hash(s);
    tcp->stats.conns_opened++;
    tcp_send_syn(s);
    *out = s;
    return TERN_OK;
}

void tern_tcp_set_callback(struct tern_tcp_sock *s, tern_tcp_event_fn cb, void *arg)
{
    s->cb = cb;
    s->cb_arg = arg;
}

static bool can_send_state(enum tern_tcp_state st)
{
    return st == TERN_TCP_ESTABLISHED || st == TERN_TCP_CLOSE_WAIT;
}

uint32_t tcp_send_room(struct tern_tcp_sock *s, size_t want)
{
    if (!can_send_state(s->state) || s->shut_wr)
        return 0;
    uint32_t room = s->sbuf_cap - s->sbuf_len;
    /* The buffer, not the peer, is the limit: the peer's window holds
     * more than the buffer. A slow reader's small window never grows it. */
    if (want > room && s->max_snd_wnd > s->sbuf_cap && tcp_grow_sbuf(s))
        room = s->sbuf_cap - s->sbuf_len;
    return room;
}

tern_result tern_tcp_send(struct tern_tcp_sock *s, const void *buf, size_t len, size_t *sent)
{
    *sent = 0;
    if (s->state == TERN_TCP_SYN_SENT || s->state == TERN_TCP_SYN_RECEIVED)
        return TERN_AGAIN;
    if (!can_send_state(s->state) || s->shut_wr)
        return TERN_ECLOSED;
    uint32_t room = tcp_send_room(s, len);
    if (room == 0)
        return TERN_AGAIN;
    uint32_t n = len < room ? (uint32_t)len : room;
    uint32_t pos = (s->sbuf_head + s->sbuf_len) % s->sbuf_cap;
    uint32_t first = s->sbuf_cap - pos;
    if (first > n)
        first = n;
    memcpy(s->sbuf + pos, buf, first);
    memcpy(s->sbuf, (const uint8_t *)buf + first, n - first);
    s->sbuf_len += n;
    *sent = n;
    tcp_output(s);
    tcp_notify(s);
    return TERN_OK;
}

/* Whether the receive ring limits a connection that moves data, as the
 * application reads n bytes: half the ring filled between two reads (the
 * application lags), or at least half the ring read within one round
 * trip (the peer sends a window per RTT: the window is the limit). A
 * trickle (slowloris) does neither. */
static bool rcv_moving(struct tern_tcp_sock *s, uint32_t n)
{
    if (s->rbuf_len >= s->rbuf_cap / 2)
        return true;
    uint32_t now = tcp_now_ms(s->tcp);
    uint32_t rtt_ms = s->srtt_us ? (s->srtt_us + 999) / 1000 : 1;
    if (now - s->rcv_epoch_ms > rtt_ms) {
        s->rcv_epoch_ms = now;
        s->rcv_epoch_bytes = 0;
    }
    s->rcv_epoch_bytes += n;
    return s->rcv_epoch_bytes >= s->rbuf_cap / 2;
}

void tern_tcp_cork(struct tern_tcp_sock *s)
{
    tcp_cork(s);
}

void tern_tcp_uncork(struct tern_tcp_sock *s)
{
    tcp_uncork(s, s->gen);
}

tern_result tern_tcp_recv(struct tern_tcp_sock *s, void *buf, size_t cap, size_t *got)
{
    *got = 0;
    if (s->rbuf_len == 0) {
        if (s->fin_rcvd)
            return TERN_OK;
        if (s->error != TERN_OK || s->state == TERN_TCP_CLOSED)
            return TERN_ECLOSED;
        return TERN_AGAIN;
    }
    uint32_t n = cap < s->rbuf_len ? (uint32_t)cap : s->rbuf_len;
    if (rcv_moving(s, n) && s->state != TERN_TCP_CLOSED && s->state != TERN_TCP_TIME_WAIT &&
        !s->fin_rcvd)
        tcp_grow_rbuf(s); /* the window update below tells the peer */
    uint32_t first = s->rbuf_cap - s->rbuf_head;
    if (first > n)
        first = n;
    memcpy(buf, s->rbuf + s->rbuf_head, first);
    memcpy((uint8_t *)buf + first, s->rbuf, n - first);
    s->rbuf_head = (s->rbuf_head + n) % s->rbuf_cap;
    s->rbuf_len -= n;
    *got = n;
    /* Window update when the right edge can move by a useful amount. */
    if (s->state != TERN_TCP_CLOSED && s->state != TERN_TCP_TIME_WAIT) {
        uint32_t edge = s->rcv_nxt + tcp_rcv_space(s);
        uint32_t thresh = s->rbuf_cap / 2 < 2 * s->mss ? s->rbuf_cap / 2 : 2 * s->mss;
        if (SEQ_GT(edge, s->rcv_adv) && edge - s->rcv_adv >= thresh) {
            s->ack_now = true;
            tcp_output(s);
        }
    }
    return TERN_OK;
}

size_t tern_tcp_recv_avail(const struct tern_tcp_sock *s)
{
    return s->rbuf_len;
}

size_t tern_tcp_send_space(const struct tern_tcp_sock *s)
{
    if (!can_send_state(s->state) || s->shut_wr)
        return 0;
    return s->sbuf_cap - s->sbuf_len;
}

tern_result tern_tcp_shutdown(struct tern_tcp_sock *s)
{
    switch (s->state) {
    case TERN_TCP_SYN_SENT:
        tcp_drop(s, TERN_OK);
        return TERN_OK;
    case TERN_TCP_SYN_RECEIVED:
        s->shut_wr = true; /* the FIN waits for ESTABLISHED (RFC 9293 3.10.4) */
        return TERN_OK;
    case TERN_TCP_ESTABLISHED:
        if (!s->shut_wr) {
            s->shut_wr = true;
            s->state = TERN_TCP_FIN_WAIT_1;
            tcp_output(s);
        }
        return TERN_OK;
    case TERN_TCP_CLOSE_WAIT:
        if (!s->shut_wr) {
            s->shut_wr = true;
            s->state = TERN_TCP_LAST_ACK;
            tcp_output(s);
        }
        return TERN_OK;
    case TERN_TCP_CLOSED:
        return s->error != TERN_OK ? TERN_ECLOSED : TERN_OK;
    default:
        return TERN_OK;
    }
}

void tern_tcp_abort(struct tern_tcp_sock *s)
{
    switch (s->state) {
    case TERN_TCP_SYN_RECEIVED:
    case TERN_TCP_ESTABLISHED:
    case TERN_TCP_FIN_WAIT_1:
    case TERN_TCP_FIN_WAIT_2:
    case TERN_TCP_CLOSE_WAIT:
    case TERN_TCP_CLOSING:
    case TERN_TCP_LAST_ACK:
        tcp_send_rst(s);
        s->tcp->stats.conns_reset++;
        break;
    default:
        break;
    }
    s->user_closed = true;
    s->pending_ev = 0;
    if (s->state == TERN_TCP_LISTEN || s->state == TERN_TCP_CLOSED) {
        tcp_pcb_release(s);
        return;
    }
    tcp_drop(s, TERN_OK);
}

void tern_tcp_close(struct tern_tcp_sock *s)
{
    if (s->state == TERN_TCP_LISTEN || s->state == TERN_TCP_CLOSED) {
        s->user_closed = true;
        tcp_pcb_release(s);
        return;
    }
    if (s->rbuf_len > 0) {
        tern_tcp_abort(s); /* RFC 9293 3.6 / RFC 2525: unread data resets */
        return;
    }
    s->user_closed = true;
    s->pending_ev = 0;
    s->cb = NULL;
    if (s->state == TERN_TCP_SYN_SENT) {
        tcp_drop(s, TERN_OK);
        return;
    }
    tern_tcp_shutdown(s);
    /* FIN-WAIT-2 must not last forever once nobody can read: bound it
     * like TIME-WAIT (the peer may never close). */
    if (s->state == TERN_TCP_FIN_WAIT_2 || s->state == TERN_TCP_FIN_WAIT_1) {
        if (!s->tw_at) {
            s->tw_at = tern_now_ns(s->tcp->os) + 2ull * s->tcp->cfg.msl_ms * 1000000ull +
                       (uint64_t)s->tcp->cfg.rto_max_ms * 1000000ull;
            tcp_timer_update(s);
        }
    }
}

unsigned tern_tcp_poll(const struct tern_tcp_sock *s)
{
    unsigned ev = 0;
    if (s->state == TERN_TCP_LISTEN) {
        for (const struct tern_list_node *n = s->children.head.next; n != &s->children.head;
             n = n->next) {
            const struct tern_tcp_sock *c =
                TERN_CONTAINER_OF(n, struct tern_tcp_sock, child_link);
            if (c->state != TERN_TCP_SYN_RECEIVED)
                return TERN_TCP_EV_READABLE;
        }
        return 0;
    }
    if (s->rbuf_len > 0 || s->fin_rcvd || s->error != TERN_OK)
        ev |= TERN_TCP_EV_READABLE;
    if ((can_send_state(s->state) && !s->shut_wr && s->sbuf_len < s->sbuf_cap) ||
        s->error != TERN_OK)
        ev |= TERN_TCP_EV_WRITABLE;
    if (s->error != TERN_OK)
        ev |= TERN_TCP_EV_ERROR;
    return ev;
}

enum tern_tcp_state tern_tcp_get_state(const struct tern_tcp_sock *s)
{
    return s->state;
}

const char *tern_tcp_state_name(enum tern_tcp_state st)
{
    static const char *const names[] = {
        "CLOSED",      "LISTEN",     "SYN-SENT",   "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
        "FIN-WAIT-2",  "CLOSE-WAIT", "CLOSING",    "LAST-ACK",     "TIME-WAIT",
    };
    if ((unsigned)st < sizeof(names) / sizeof(names[0]))
        return names[st];
    return "?";
}

tern_result tern_tcp_error(const struct tern_tcp_sock *s)
{
    return s->error;
}

void tern_tcp_get_addrs(const struct tern_tcp_sock *s, uint32_t *local_addr,
                        uint16_t *local_port, uint32_t *remote_addr, uint16_t *remote_port)
{
    if (local_addr)
        *local_addr = s->laddr;
    if (local_port)
        *local_port = s->lport;
    if (remote_addr)
        *remote_addr = s->raddr;
    if (remote_port)
        *remote_port = s->rport;
}

void tern_tcp_set_nodelay(struct tern_tcp_sock *s, bool nodelay)
{
    s->nodelay = nodelay;
    if (nodelay)
        tcp_output(s);
}

void tern_tcp_set_keepalive(struct tern_tcp_sock *s, bool on)
{
    s->keepalive = on;
    if (on && s->state != TERN_TCP_LISTEN) {
        s->keep_at = tern_now_ns(s->tcp->os) +
                     (uint64_t)s->tcp->cfg.keepalive_idle_ms * 1000000ull;
        tcp_timer_update(s);
    } else {
        s->keep_at = 0;
        if (s->state != TERN_TCP_LISTEN)
            tcp_timer_update(s);
    }
}

uint32_t tern_tcp_get_mss(const struct tern_tcp_sock *s)
{
    return s->mss;
}

uint32_t tern_tcp_pcbs_in_use(const struct tern_tcp *tcp)
{
    return tcp->in_use;
}

bool tern_tcp_counter(const struct tern_tcp *tcp, unsigned i, const char **name,
                      const char **doc, uint64_t *value)
{
    static const char *const names[] = {
#define TERN_TCP_COUNTER_NAME(n, d) #n,
        TERN_TCP_COUNTERS(TERN_TCP_COUNTER_NAME)
#undef TERN_TCP_COUNTER_NAME
    };
    static const char *const docs[] = {
#define TERN_TCP_COUNTER_DOC(n, d) d,
        TERN_TCP_COUNTERS(TERN_TCP_COUNTER_DOC)
#undef TERN_TCP_COUNTER_DOC
    };
    static const size_t offsets[] = {
#define TERN_TCP_COUNTER_OFF(n, d) offsetof(struct tern_tcp_stats, n),
        TERN_TCP_COUNTERS(TERN_TCP_COUNTER_OFF)
#undef TERN_TCP_COUNTER_OFF
    };
    if (i >= sizeof(names) / sizeof(names[0]))
        return false;
    if (name)
        *name = names[i];
    if (doc)
        *doc = docs[i];
    if (value)
        memcpy(value, (const uint8_t *)&tcp->stats + offsets[i], sizeof(*value));
    return true;
}
