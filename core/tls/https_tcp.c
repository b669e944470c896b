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

#include "tern/https_tcp.h"
#include "tern/os.h"

static void slot_free(struct tern_https_tcp_slot *s, bool abort_sock)
{
    tern_timer_disarm(s->hs->srv->os, &s->linger);
    if (s->hc)
        tern_http_conn_close(s->hc);
    if (s->sock) {
        tern_tls_session_finish(&s->tls);
        tern_tcp_set_callback(s->sock, NULL, NULL);
        if (abort_sock)
            tern_tcp_abort(s->sock);
        else
            tern_tcp_close(s->sock);
    }
    s->hc = NULL;
    s->sock = NULL;
    s->lingering = false;
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

static bool service_round(struct tern_https_tcp_slot *s)
{
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
        tern_result r;
        while ((r = tern_tcp_recv(s->sock, s->rx, sizeof s->rx, &n)) == TERN_OK && n)
            ;
        if (r != TERN_AGAIN)
            slot_free(s, r != TERN_OK);
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
        s->lingering = true;
        struct tern_os *os = s->hs->srv->os;
        if (tern_timer_arm(os, &s->linger, tern_now_ns(os) + TERN_HTTPS_TCP_LINGER_NS) !=
            TERN_OK) {
            slot_free(s, false);
            return false;
        }
        return true;                         /* the lingering round flushes */
    }
    return moved;

tls_failed:
    s->hs->tls_failures++;
    flush_tls(s, &moved);                    /* the alert, if any */
    if (s->sock)
        slot_free(s, true);
    return false;
}

static void service(struct tern_https_tcp_slot *s)
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
    struct tern_https_tcp_slot *s = arg;
    (void)sock;
    if (!s->sock)
        return;
    if ((events & TERN_TCP_EV_ERROR) && tern_tcp_error(s->sock) != TERN_OK) {
        s->hs->resets++;
        slot_free(s, true);
        return;
    }
    service(s);
}

static void on_wake(struct tern_http_conn *c, void *arg)
{
    struct tern_https_tcp_slot *s = arg;
    (void)c;
    if (s->sock)
        service(s);
}

static void on_linger_end(struct tern_timer *t, void *arg)
{
    struct tern_https_tcp_slot *s = arg;
    (void)t;
    if (s->sock)
        slot_free(s, false);
}

static void on_listen(struct tern_tcp_sock *ls, unsigned events, void *arg)
{
    struct tern_https_tcp *hs = arg;
    struct tern_tcp_sock *sock;
    (void)events;
    while (tern_tcp_accept(ls, &sock) == TERN_OK) {
        struct tern_https_tcp_slot *s = NULL;
        for (int tries = 0; tries < 2 && !s; tries++) {
            for (uint32_t i = 0; i < hs->nslots && !s; i++)
                if (!hs->slots[i].sock)
                    s = &hs->slots[i];
            if (!s && !tern_http_server_evict(hs->srv))
                break;
        }
        struct tern_http_conn *hc = s ? tern_http_conn_open(hs->srv, on_wake, s) : NULL;
        if (s && !hc && tern_http_server_evict(hs->srv))
            hc = tern_http_conn_open(hs->srv, on_wake, s);
        if (hc && tern_tls_session_init(&s->tls, hs->tls) != TERN_OK) {
            tern_http_conn_close(hc);
            hc = NULL;
        }
        if (!hc) {
            hs->refused++;
            tern_tcp_abort(sock);
            continue;
        }
        s->sock = sock;
        s->hc = hc;
        s->rx_off = s->rx_len = s->p_off = s->p_len = 0;
        s->eof = s->busy = s->again = s->lingering = false;
        tern_tcp_set_nodelay(sock, true);
        tern_tcp_set_callback(sock, on_sock, s);
        service(s);
    }
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
