/*
 * Interface: see include/tern/http_tcp.h.
 *
 * The round of the shared service loop (core/http/stream.c): socket ->
 * the buffer when it is empty, buffered input -> tern_http_conn_input,
 * engine output -> tern_tcp_send (as much as the send buffer takes).
 */
#include <string.h>

#include "tern/http_tcp.h"

/* One round, in the direction data flows: socket -> the buffer when it is
 * empty, buffered input -> tern_http_conn_input, engine output ->
 * tern_tcp_send (as much as the send buffer takes). A request that
 * arrives whole is read, answered and sent in one round; the next round
 * finds the socket empty and ends the loop. Returns true when something
 * moved. Frees the slot when the connection is over (st->sock becomes
 * NULL). */
static bool service_round(struct tern_http_stream *st)
{
    bool moved = false;
    const uint8_t *out;
    size_t len, n;

    if (st->lingering) {
        tern_http_stream_drain(st);
        return false;
    }
    if (!tern_http_stream_recv(st, &moved))
        return false;
    if (st->rx_len > st->rx_off) {
        n = tern_http_conn_input(st->hc, st->rx + st->rx_off, st->rx_len - st->rx_off);
        if (n) {
            st->rx_off += n;
            moved = true;
        }
    }
    tern_http_conn_output(st->hc, &out, &len);
    if (len) {
        tern_result r = tern_tcp_send(st->sock, out, len, &n);
        if (r == TERN_OK && n) {
            tern_http_conn_output_done(st->hc, n);
            moved = true;
        } else if (r == TERN_ECLOSED) {
            (*st->resets)++;
            tern_http_stream_free(st, true);
            return false;
        }
    }
    if (st->hc->aborted) {
        /* Evicted, or a reader too slow: reset, free the slot now. */
        tern_http_stream_free(st, true);
        return false;
    }
    if (tern_http_conn_should_close(st->hc)) {
        /* Output drained: FIN after what is queued, then linger until the
         * peer's FIN. */
        tern_tcp_shutdown(st->sock);
        if (st->eof) {
            tern_http_stream_free(st, false);
            return false;
        }
        tern_http_stream_linger(st);
        return true;
    }
    return moved;
}

static const struct tern_http_stream_ops http_ops;

/* Slot i, prepared on first use: accept asks for slots in order from 0,
 * so only slots [0, ninit) were ever handed out and the others were never
 * written (a caller may pass uninitialised memory: a boot then touches no
 * page of the unused slots' receive buffers). */
static struct tern_http_stream *slot_at(void *owner, uint32_t i)
{
    struct tern_http_tcp *ht = owner;
    while (ht->ninit <= i) {
        struct tern_http_tcp_slot *sl = &ht->slots[ht->ninit++];
        sl->ht = ht;
        tern_http_stream_init(&sl->st, &http_ops, ht->srv, &ht->resets);
    }
    return &ht->slots[i].st;
}

static const struct tern_http_stream_ops http_ops = {service_round, NULL, NULL, slot_at};

static void on_listen(struct tern_tcp_sock *ls, unsigned events, void *arg)
{
    struct tern_http_tcp *ht = arg;
    (void)events;
    tern_http_stream_accept(ls, &http_ops, ht->srv, ht, ht->nslots, &ht->refused);
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
    ht->ninit = 0;                   /* slots are prepared by slot_at */
    tern_result r = tern_tcp_listen(tcp, 0, port, nslots, on_listen, ht, &ht->listener);
    if (r == TERN_OK) /* a full TCP pool makes room the way a full HTTP pool does */
        tern_tcp_set_evict(ht->listener, tern_http_stream_evict, srv);
    return r;
}

void tern_http_tcp_stop(struct tern_http_tcp *ht)
{
    for (uint32_t i = 0; i < ht->ninit; i++)
        if (ht->slots[i].st.sock)
            tern_http_stream_free(&ht->slots[i].st, true);
    if (ht->listener) {
        tern_tcp_close(ht->listener);
        ht->listener = NULL;
    }
}
