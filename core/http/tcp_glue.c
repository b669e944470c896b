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

#include "http/stream_slot.h"
#include "tern/http_tcp.h"
#include "tern/os.h"

static const struct tern_stream_ops http_ops;

static struct tern_stream_view view(void *slot)
{
    struct tern_http_tcp_slot *s = slot;
    return (struct tern_stream_view){
        .sock = &s->sock, .hc = &s->hc, .busy = &s->busy, .again = &s->again,
        .lingering = &s->lingering, .linger = &s->linger, .os = s->ht->srv->os,
        .resets = &s->ht->resets,
    };
}

static void slot_free(struct tern_http_tcp_slot *s, bool abort_sock)
{
    tern_stream_free(&http_ops, s, abort_sock);
}

/* One round; returns true when something moved. Frees the slot when the
 * connection is over (s->sock becomes NULL). */
static bool service_round(void *slot)
{
    struct tern_http_tcp_slot *s = slot;
    bool moved = false;
    const uint8_t *out;
    size_t len, n;

    if (s->lingering) {
        tern_stream_drain(&http_ops, s, s->rx, sizeof s->rx);
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
        tern_stream_linger(&http_ops, s, TERN_HTTP_TCP_LINGER_NS);
        return true;
    }
    return moved;
}

static tern_result prepare(void *slot)
{
    struct tern_http_tcp_slot *s = slot;
    s->rx_off = s->rx_len = 0;
    s->eof = false;
    return TERN_OK;
}

static void on_sock(struct tern_tcp_sock *sock, unsigned events, void *arg)
{
    (void)sock;
    tern_stream_on_sock(&http_ops, arg, events);
}

static void on_wake(struct tern_http_conn *c, void *arg)
{
    (void)c;
    tern_stream_on_wake(&http_ops, arg);
}

static void on_linger_end(struct tern_timer *t, void *arg)
{
    (void)t;
    tern_stream_on_linger_end(&http_ops, arg);
}

static const struct tern_stream_ops http_ops = {
    .view = view,
    .round = service_round,
    .finish = NULL,
    .prepare = prepare,
    .on_sock = on_sock,
    .on_wake = on_wake,
};

static void on_listen(struct tern_tcp_sock *ls, unsigned events, void *arg)
{
    struct tern_http_tcp *ht = arg;
    (void)events;
    tern_stream_accept(&http_ops, ls, ht->srv, ht->slots, sizeof *ht->slots, ht->nslots,
                       &ht->refused);
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
