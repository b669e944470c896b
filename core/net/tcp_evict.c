/*
 * Interface: private to core/net/tcp*.c (tcp_internal.h) and
 * tern_tcp_set_evict of tern/tcp.h. What a full control-block pool gives
 * up, and buffers that grow for connections moving data.
 *
 * Eviction runs only for a peer that completed a handshake (a valid SYN
 * cookie: its address is real), never for a bare SYN, which gets a cookie
 * instead: a SYN flood can therefore not push out anyone. Candidates, the
 * least useful first: a TIME-WAIT block the user released (tcp_pcb_alloc),
 * the orphan (released by its user, still closing) heard from least
 * recently, the oldest half-open connection, then what the listeners'
 * owners give up (the listener that got the handshake first).
 *
 * Buffers: every block has small rings of its own; a ring doubles into
 * the shared area (cfg.grow_bytes, a tern_heap carved at init) when the
 * connection needs more, up to cfg.sndbuf / cfg.rcvbuf, and goes back to
 * the block's own at release.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tern/heap.h"
#include "tcp_internal.h"

void tern_tcp_set_evict(struct tern_tcp_sock *ls, tern_tcp_evict_fn fn, void *arg)
{
    ls->evict_fn = fn;
    ls->evict_arg = arg;
}

static bool is_orphan(const struct tern_tcp_sock *s)
{
    if (!s->user_closed)
        return false;
    switch (s->state) {
    case TERN_TCP_FIN_WAIT_1:
    case TERN_TCP_FIN_WAIT_2:
    case TERN_TCP_CLOSING:
    case TERN_TCP_LAST_ACK:
        return true;
    default:
        return false;
    }
}

static bool is_half_open(const struct tern_tcp_sock *s)
{
    return s->state == TERN_TCP_SYN_RECEIVED && s->parent != NULL;
}

/* The block matching want heard from least recently, or NULL. */
static struct tern_tcp_sock *oldest(struct tern_tcp *tcp,
                                    bool (*want)(const struct tern_tcp_sock *))
{
    struct tern_tcp_sock *best = NULL;
    uint32_t now = tcp_now_ms(tcp), best_age = 0;
    for (uint32_t i = 0; i < tcp->cfg.max_conns; i++) {
        struct tern_tcp_sock *s = &tcp->pcbs[i];
        if (!want(s))
            continue;
        uint32_t age = now - (uint32_t)s->last_rx_ms;
        if (!best || age > best_age) {
            best = s;
            best_age = age;
        }
    }
    return best;
}

/* Asks the owners: l first, then every other listener with a policy. */
static bool ask_owners(struct tern_tcp *tcp, struct tern_tcp_sock *l)
{
    if (l && l->evict_fn && l->evict_fn(l, l->evict_arg) && !tern_list_empty(&tcp->free_list))
        return true;
    for (struct tern_list_node *n = tcp->listeners.head.next; n != &tcp->listeners.head;
         n = n->next) {
        struct tern_tcp_sock *o = TERN_CONTAINER_OF(n, struct tern_tcp_sock, link);
        if (o != l && o->evict_fn && o->evict_fn(o, o->evict_arg) &&
            !tern_list_empty(&tcp->free_list))
            return true;
    }
    return false;
}

/* Frees one block by the policy above (after TIME-WAIT, which
 * tcp_pcb_alloc tried). True when the free list has one now. */
static bool make_room(struct tern_tcp *tcp, struct tern_tcp_sock *l)
{
    struct tern_tcp_sock *v = oldest(tcp, is_orphan);
    if (v) {
        tcp->stats.evicted_orphans++;
        tcp->stats.conns_reset++;
        tcp_send_rst(v);
        tcp_pcb_release(v);
        return true;
    }
    v = oldest(tcp, is_half_open);
    if (v) {
        tcp->stats.evicted_half_open++;
        tcp_pcb_release(v);
        return true;
    }
    if (ask_owners(tcp, l)) {
        tcp->stats.evicted_by_owner++;
        return true;
    }
    return false;
}

struct tern_tcp_sock *tcp_pcb_alloc_evict(struct tern_tcp *tcp, struct tern_tcp_sock *l)
{
    struct tern_tcp_sock *s = tcp_pcb_alloc(tcp);
    if (!s && make_room(tcp, l))
        s = tcp_pcb_alloc(tcp);
    return s;
}

/* ---- growing buffers ---- */

/* A ring of cap bytes at *buf with its first byte at *head, copied to
 * the start of a new ring twice as large (at most max), all cap bytes
 * (the receive ring keeps out-of-order data beyond its in-order bytes). */
static bool grow_ring(struct tern_tcp_sock *s, uint8_t **buf, uint8_t *small, uint32_t *cap,
                      uint32_t *head, uint32_t max)
{
    struct tern_tcp *tcp = s->tcp;
    if (tcp->cfg.grow_bytes == 0 || *cap >= max)
        return false;
    uint32_t ncap = *cap > max / 2 ? max : *cap * 2;
    uint8_t *n = tern_heap_alloc(&tcp->grow_heap, ncap);
    if (!n) {
        tcp->stats.buf_grow_failed++;
        return false;
    }
    uint32_t first = *cap - *head;
    memcpy(n, *buf + *head, first);
    memcpy(n + first, *buf, *head);
    if (*buf != small)
        tern_heap_free(&tcp->grow_heap, *buf);
    *buf = n;
    *cap = ncap;
    *head = 0;
    tcp->stats.buf_grown++;
    return true;
}

bool tcp_grow_sbuf(struct tern_tcp_sock *s)
{
    return grow_ring(s, &s->sbuf, s->sbuf_small, &s->sbuf_cap, &s->sbuf_head,
                     s->tcp->cfg.sndbuf);
}

bool tcp_grow_rbuf(struct tern_tcp_sock *s)
{
    return grow_ring(s, &s->rbuf, s->rbuf_small, &s->rbuf_cap, &s->rbuf_head,
                     s->tcp->cfg.rcvbuf);
}
