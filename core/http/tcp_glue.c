/*
 * Interface: see include/tern/http_tcp.h.
 *
 * One service loop per connection moves bytes both ways until nothing
 * moves: engine output -> tern_tcp_send (as much as the send buffer
 * takes), buffered input -> tern_http_conn_input, socket -> the buffer
 * when it is empty. It runs on every socket event and every engine wake;
 * a wake from inside the loop (a handler writing from output_done) just
 * asks the running loop for another round.
 */
#include <string.h>

#include "tern/http_tcp.h"
#include "tern/os.h"

static void slot_free(struct tern_http_tcp_slot *s, bool abort_sock)
{
    tern_timer_disarm(s->ht->srv->os, &s->linger);
    s->lingering = false;
    if (s->hc)
        tern_http_conn_close(s->hc);
    if (s->sock) {
        tern_tcp_set_callback(s->sock, NULL, NULL);
        if (abort_sock)
            tern_tcp_abort(s->sock);
        else
            tern_tcp_close(s->sock);
    }
    s->hc = NULL;
    s->sock = NULL;
}

/* One round; returns true when something moved. Frees the slot when the
 * connection is over (s->sock becomes NULL). */
static bool service_round(struct tern_http_tcp_slot *s)
{
    bool moved = false;
    const uint8_t *out;
    size_t len, n;

    if (s->lingering) {
        tern_result r;
        while ((r = tern_tcp_recv(s->sock, s->rx, sizeof s->rx, &n)) == TERN_OK && n)
            ;
        if (r != TERN_AGAIN)
            slot_free(s, r != TERN_OK);      /* EOF: close; failure: abort */
        return false;
    }

    tern_http_conn_output(s->hc, &out, &len);
    if (len) {
        tern_result r = tern_tcp_send(s->sock, out, len, &n);
        if (r == TERN_OK && n) {
            tern_http_conn_output_done(s->hc, n);
            moved = true;
        } else if (r == TERN_ECLOSED) {
            s->ht->resets++;
            slot_free(s, true);
            return false;
        }
    }
    if (s->rx_len > s->rx_off) {
        n = tern_http_conn_input(s->hc, s->rx + s->rx_off, s->rx_len - s->rx_off);
        if (n) {
            s->rx_off += n;
            moved = true;
        }
    }
    if (s->rx_off == s->rx_len && !s->eof) {
        s->rx_off = s->rx_len = 0;
        tern_result r = tern_tcp_recv(s->sock, s->rx, sizeof s->rx, &n);
        if (r == TERN_OK && n) {
            s->rx_len = n;
            moved = true;
        } else if (r == TERN_OK) {
            s->eof = true;
            tern_http_conn_input_closed(s->hc);
            moved = true;
        } else if (r == TERN_ECLOSED) {
            s->ht->resets++;
            slot_free(s, true);
            return false;
        }
    }
    if (s->hc->aborted) {
        /* Evicted, or a reader too slow: reset, free the slot now. */
        slot_free(s, true);
        return false;
    }
    if (tern_http_conn_should_close(s->hc)) {
        /* Output drained: FIN after what is queued, then linger until the
         * peer's FIN. */
        tern_tcp_shutdown(s->sock);
        tern_http_conn_close(s->hc);
        s->hc = NULL;
        if (s->eof) {
            slot_free(s, false);
            return false;
        }
        s->lingering = true;
        struct tern_os *os = s->ht->srv->os;
        if (tern_timer_arm(os, &s->linger, tern_now_ns(os) + TERN_HTTP_TCP_LINGER_NS) != TERN_OK)
            slot_free(s, false);
        return true;
    }
    return moved;
}

static void service(struct tern_http_tcp_slot *s)
{
    if (s->busy) {
        s->again = true;
        return;
    }
    s->busy = true;
    do {
        s->again = false;
        while (s->sock && service_round(s))
            ;
    } while (s->sock && s->again);
    s->busy = false;
}

static void on_sock(struct tern_tcp_sock *sock, unsigned events, void *arg)
{
    struct tern_http_tcp_slot *s = arg;
    (void)sock;
    if (!s->sock)
        return;
    if ((events & TERN_TCP_EV_ERROR) && tern_tcp_error(s->sock) != TERN_OK) {
        s->ht->resets++;
        slot_free(s, true);
        return;
    }
    service(s);
}

static void on_linger_end(struct tern_timer *t, void *arg)
{
    struct tern_http_tcp_slot *s = arg;
    (void)t;
    if (s->sock)
        slot_free(s, false);
}

static void on_wake(struct tern_http_conn *c, void *arg)
{
    struct tern_http_tcp_slot *s = arg;
    (void)c;
    if (s->sock)
        service(s);
}

static void on_listen(struct tern_tcp_sock *ls, unsigned events, void *arg)
{
    struct tern_http_tcp *ht = arg;
    struct tern_tcp_sock *sock;
    (void)events;
    while (tern_tcp_accept(ls, &sock) == TERN_OK) {
        struct tern_http_tcp_slot *s = NULL;
        for (int tries = 0; tries < 2 && !s; tries++) {
            for (uint32_t i = 0; i < ht->nslots && !s; i++)
                if (!ht->slots[i].sock)
                    s = &ht->slots[i];
            /* Full: close an idle or slow-head connection (slowloris). */
            if (!s && !tern_http_server_evict(ht->srv))
                break;
        }
        struct tern_http_conn *hc = s ? tern_http_conn_open(ht->srv, on_wake, s) : NULL;
        if (s && !hc && tern_http_server_evict(ht->srv))
            hc = tern_http_conn_open(ht->srv, on_wake, s);
        if (!hc) {
            ht->refused++;
            tern_tcp_abort(sock);
            continue;
        }
        s->sock = sock;
        s->hc = hc;
        s->rx_off = s->rx_len = 0;
        s->eof = s->busy = s->again = s->lingering = false;
        tern_tcp_set_nodelay(sock, true);
        tern_tcp_set_callback(sock, on_sock, s);
        service(s);
    }
}

tern_result tern_http_tcp_start(struct tern_http_tcp *ht, struct tern_tcp *tcp,
                                struct tern_http_server *srv, uint16_t port,
                                struct tern_http_tcp_slot *slots, uint32_t nslots)
{
    if (!ht || !tcp || !srv || !slots || nslots == 0 || port == 0)
        return TERN_EINVAL;
    memset(ht, 0, sizeof *ht);
    ht->tcp = tcp;
    ht->srv = srv;
    ht->port = port;
    ht->slots = slots;
    ht->nslots = nslots;
    for (uint32_t i = 0; i < nslots; i++) {
        memset(&slots[i], 0, offsetof(struct tern_http_tcp_slot, rx));
        slots[i].ht = ht;
        slots[i].rx_off = slots[i].rx_len = 0;
        slots[i].eof = slots[i].busy = slots[i].again = slots[i].lingering = false;
        tern_timer_init(&slots[i].linger, on_linger_end, &slots[i]);
    }
    return tern_tcp_listen(tcp, 0, port, nslots, on_listen, ht, &ht->listener);
}

void tern_http_tcp_stop(struct tern_http_tcp *ht)
{
    for (uint32_t i = 0; i < ht->nslots; i++)
        if (ht->slots[i].sock)
            slot_free(&ht->slots[i], true);
    if (ht->listener) {
        tern_tcp_close(ht->listener);
        ht->listener = NULL;
    }
}
