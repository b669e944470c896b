/*
 * Interface: see include/tern/https_tcp.h.
 *
 * The round of the shared service loop (core/http/stream.c) with a TLS
 * session in the middle: socket -> ciphertext; ciphertext ->
 * tern_tls_input; tern_tls_read -> plaintext; plaintext -> engine; engine
 * output -> tern_tls_write; TLS output -> tern_tcp_send. A TLS failure
 * (bad handshake, bad record) aborts the connection and is counted.
 */
#include <string.h>

#include "tern/https_tcp.h"
#include "tern/list.h"

#define SLOT(st) TERN_CONTAINER_OF(st, struct tern_https_tcp_slot, st)

/* TLS output -> socket. false when the socket failed (slot freed). */
static bool flush_tls(struct tern_https_tcp_slot *s, bool *moved)
{
    const uint8_t *out;
    size_t len, n;
    tern_tls_output(&s->tls, &out, &len);
    if (!len)
        return true;
    tern_result r = tern_tcp_send(s->st.sock, out, len, &n);
    if (r == TERN_OK && n) {
        tern_tls_output_done(&s->tls, n);
        *moved = true;
    } else if (r == TERN_ECLOSED) {
        s->hs->resets++;
        tern_http_stream_free(&s->st, true);
        return false;
    }
    return true;
}

static bool service_round(struct tern_http_stream *st)
{
    struct tern_https_tcp_slot *s = SLOT(st);
    bool moved = false;
    const uint8_t *out;
    size_t len, n;

    if (st->lingering) {
        /* close_notify first, our FIN only once it is all queued */
        if (!flush_tls(s, &moved))
            return false;
        tern_tls_output(&s->tls, &out, &len);
        if (len)
            return false;                    /* wait for send space */
        tern_tcp_shutdown(st->sock);
        if (st->eof)
            tern_http_stream_free(st, false);
        else
            tern_http_stream_drain(st);
        return false;
    }
    /* In the direction data flows, so that a request arriving whole is
     * read, decrypted, answered, encrypted and sent in one round. */
    if (!tern_http_stream_recv(st, &moved))
        return false;
    if (st->rx_len > st->rx_off) {
        n = tern_tls_input(&s->tls, st->rx + st->rx_off, st->rx_len - st->rx_off);
        st->rx_off += n;
        moved |= n > 0;
    }
    if (s->p_off == s->p_len) {
        s->p_off = s->p_len = 0;
        tern_result r = tern_tls_read(&s->tls, s->plain, sizeof s->plain, &n);
        if (r == TERN_OK && n) {
            s->p_len = n;
            moved = true;
        } else if (r == TERN_ECLOSED && !st->eof) {
            st->eof = true;                  /* close_notify: end of input */
            tern_http_conn_input_closed(st->hc);
            moved = true;
        } else if (r == TERN_EPROTO) {
            goto tls_failed;
        }
    }
    if (s->p_len > s->p_off) {
        n = tern_http_conn_input(st->hc, s->plain + s->p_off, s->p_len - s->p_off);
        s->p_off += n;
        moved |= n > 0;
    }
    tern_http_conn_output(st->hc, &out, &len);
    if (len) {
        tern_result r = tern_tls_write(&s->tls, out, len, &n);
        if (r == TERN_OK && n) {
            tern_http_conn_output_done(st->hc, n);
            moved = true;
        } else if (r == TERN_EPROTO) {
            goto tls_failed;
        }
    }
    if (!flush_tls(s, &moved))               /* records and handshake messages */
        return false;
    if (st->hc->aborted) {
        tern_http_stream_free(st, true);     /* evicted or too slow: reset */
        return false;
    }
    if (tern_http_conn_should_close(st->hc)) {
        tern_tls_close(&s->tls);
        return tern_http_stream_linger(st);  /* the lingering round flushes */
    }
    return moved;

tls_failed:
    s->hs->tls_failures++;
    flush_tls(s, &moved);                    /* the alert, if any */
    if (st->sock)
        tern_http_stream_free(st, true);
    return false;
}

static tern_result open_tls(struct tern_http_stream *st)
{
    struct tern_https_tcp_slot *s = SLOT(st);
    s->p_off = s->p_len = 0;
    return tern_tls_session_init(&s->tls, s->hs->tls);
}

static void finish_tls(struct tern_http_stream *st)
{
    tern_tls_session_finish(&SLOT(st)->tls);
}

static struct tern_http_stream *slot_at(void *owner, uint32_t i)
{
    return &((struct tern_https_tcp *)owner)->slots[i].st;
}

static const struct tern_http_stream_ops https_ops = {service_round, open_tls, finish_tls,
                                                      slot_at};

static void on_listen(struct tern_tcp_sock *ls, unsigned events, void *arg)
{
    struct tern_https_tcp *hs = arg;
    (void)events;
    tern_http_stream_accept(ls, &https_ops, hs->srv, hs, hs->nslots, &hs->refused);
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
        slots[i].hs = hs;
        tern_http_stream_init(&slots[i].st, &https_ops, srv, &hs->resets);
    }
    tern_result r = tern_tcp_listen(tcp, 0, port, nslots, on_listen, hs, &hs->listener);
    if (r == TERN_OK)
        tern_tcp_set_evict(hs->listener, tern_http_stream_evict, srv);
    return r;
}

void tern_https_tcp_stop(struct tern_https_tcp *hs)
{
    for (uint32_t i = 0; i < hs->nslots; i++)
        if (hs->slots[i].st.sock)
            tern_http_stream_free(&hs->slots[i].st, true);
    if (hs->listener) {
        tern_tcp_close(hs->listener);
        hs->listener = NULL;
    }
}
