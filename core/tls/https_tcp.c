/*
 * Interface: see include/tern/https_tcp.h.
 *
 * The service loop of core/http/tcp_glue.c with a TLS session in the
 * middle: engine output -> tern_tls_write; TLS output -> tern_tcp_send;
 * plaintext -> engine; tern_tls_read -> plaintext; ciphertext ->
 * tern_tls_input; socket -> ciphertext. A TLS failure (bad handshake,
 * bad record) aborts the connection and is counted.
 */
#include <string.h>

#include "http/stream_slot.h"
#include "tern/https_tcp.h"
#include "tern/os.h"

static const struct tern_stream_ops https_ops;

static struct tern_stream_view view(void *slot)
{
    struct tern_https_tcp_slot *s = slot;
    return (struct tern_stream_view){
        .sock = &s->sock, .hc = &s->hc, .busy = &s->busy, .again = &s->again,
        .lingering = &s->lingering, .linger = &s->linger, .os = s->hs->srv->os,
        .resets = &s->hs->resets,
    };
}

static void finish(void *slot)
{
    struct tern_https_tcp_slot *s = slot;
    tern_tls_session_finish(&s->tls);
}

static void slot_free(struct tern_https_tcp_slot *s, bool abort_sock)
{
    tern_stream_free(&https_ops, s, abort_sock);
}

/* TLS output -> socket. false when the socket failed (slot freed). */
static bool flush_tls(struct tern_https_tcp_slot *s, bool *moved)
{
    const uint8_t *out;
    size_t len, n;
    tern_tls_output(&s->tls, &out, &len);
    if (!len)
        return true;
    tern_result r = tern_tcp_send(s->sock, out, len, &n);
    if (r == TERN_OK && n) {
        tern_tls_output_done(&s->tls, n);
        *moved = true;
    } else if (r == TERN_ECLOSED) {
        s->hs->resets++;
        slot_free(s, true);
        return false;
    }
    return true;
}

static bool service_round(void *slot)
{
    struct tern_https_tcp_slot *s = slot;
    bool moved = false;
    const uint8_t *out;
    size_t len, n;

    if (s->lingering) {
        /* close_notify first, our FIN only once it is all queued */
        if (!flush_tls(s, &moved))
            return false;
        tern_tls_output(&s->tls, &out, &len);
        if (len)
            return false;                    /* wait for send space */
        tern_tcp_shutdown(s->sock);
        if (s->eof) {
            slot_free(s, false);
            return false;
        }
        tern_stream_drain(&https_ops, s, s->rx, sizeof s->rx);
        return false;
    }
    tern_http_conn_output(s->hc, &out, &len);
    if (len) {
        tern_result r = tern_tls_write(&s->tls, out, len, &n);
        if (r == TERN_OK && n) {
            tern_http_conn_output_done(s->hc, n);
            moved = true;
        } else if (r == TERN_EPROTO) {
            goto tls_failed;
        }
    }
    if (!flush_tls(s, &moved))
        return false;
    if (s->p_len > s->p_off) {
        n = tern_http_conn_input(s->hc, s->plain + s->p_off, s->p_len - s->p_off);
        s->p_off += n;
        moved |= n > 0;
    }
    if (s->p_off == s->p_len) {
        s->p_off = s->p_len = 0;
        tern_result r = tern_tls_read(&s->tls, s->plain, sizeof s->plain, &n);
        if (r == TERN_OK && n) {
            s->p_len = n;
            moved = true;
        } else if (r == TERN_ECLOSED && !s->eof) {
            s->eof = true;                   /* close_notify: end of input */
            tern_http_conn_input_closed(s->hc);
            moved = true;
        } else if (r == TERN_EPROTO) {
            goto tls_failed;
        }
        if (!flush_tls(s, &moved))           /* handshake messages */
            return false;
    }
    if (s->rx_len > s->rx_off) {
        n = tern_tls_input(&s->tls, s->rx + s->rx_off, s->rx_len - s->rx_off);
        s->rx_off += n;
        moved |= n > 0;
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
            s->hs->resets++;
            slot_free(s, true);
            return false;
        }
    }
    if (s->hc->aborted) {
        slot_free(s, true);                  /* evicted or too slow: reset */
        return false;
    }
    if (tern_http_conn_should_close(s->hc)) {
        tern_tls_close(&s->tls);
        tern_http_conn_close(s->hc);
        s->hc = NULL;
        /* true: the lingering round flushes */
        return tern_stream_linger(&https_ops, s, TERN_HTTPS_TCP_LINGER_NS);
    }
    return moved;

tls_failed:
    s->hs->tls_failures++;
    flush_tls(s, &moved);                    /* the alert, if any */
    if (s->sock)
        slot_free(s, true);
    return false;
}

static tern_result prepare(void *slot)
{
    struct tern_https_tcp_slot *s = slot;
    tern_result r = tern_tls_session_init(&s->tls, s->hs->tls);
    if (r != TERN_OK)
        return r;
    s->rx_off = s->rx_len = s->p_off = s->p_len = 0;
    s->eof = false;
    return TERN_OK;
}

static void on_sock(struct tern_tcp_sock *sock, unsigned events, void *arg)
{
    (void)sock;
    tern_stream_on_sock(&https_ops, arg, events);
}

static void on_wake(struct tern_http_conn *c, void *arg)
{
    (void)c;
    tern_stream_on_wake(&https_ops, arg);
}

static void on_linger_end(struct tern_timer *t, void *arg)
{
    (void)t;
    tern_stream_on_linger_end(&https_ops, arg);
}

static const struct tern_stream_ops https_ops = {
    .view = view,
    .round = service_round,
    .finish = finish,
    .prepare = prepare,
    .on_sock = on_sock,
    .on_wake = on_wake,
};

static void on_listen(struct tern_tcp_sock *ls, unsigned events, void *arg)
{
    struct tern_https_tcp *hs = arg;
    (void)events;
    tern_stream_accept(&https_ops, ls, hs->srv, hs->slots, sizeof *hs->slots, hs->nslots,
                       &hs->refused);
}

tern_result tern_https_tcp_start(struct tern_https_tcp *hs, struct tern_tcp *tcp,
                                 struct tern_http_server *srv, struct tern_tls_server *tls,
                                 uint16_t port, struct tern_https_tcp_slot *slots,
                                 uint32_t nslots)
{
    if (!hs || !tcp || !srv || !tls || !slots || nslots == 0 || port == 0)
        return TERN_EINVAL;
    memset(hs, 0, sizeof *hs);
    hs->tcp = tcp;
    hs->srv = srv;
    hs->tls = tls;
    hs->port = port;
    hs->slots = slots;
    hs->nslots = nslots;
    for (uint32_t i = 0; i < nslots; i++) {
        struct tern_https_tcp_slot *s = &slots[i];
        s->hs = hs;
        s->sock = NULL;
        s->hc = NULL;
        s->eof = s->busy = s->again = s->lingering = false;
        tern_timer_init(&s->linger, on_linger_end, s);
    }
    return tern_tcp_listen(tcp, 0, port, nslots, on_listen, hs, &hs->listener);
}

void tern_https_tcp_stop(struct tern_https_tcp *hs)
{
    for (uint32_t i = 0; i < hs->nslots; i++)
        if (hs->slots[i].sock)
            slot_free(&hs->slots[i], true);
    if (hs->listener) {
        tern_tcp_close(hs->listener);
        hs->listener = NULL;
    }
}
