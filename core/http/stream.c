/*
 * Interface: see include/tern/http_stream.h.
 */
#include <string.h>

#include "tern/http_stream.h"
#include "tern/os.h"

static void on_linger_end(struct tern_timer *t, void *arg)
{
    struct tern_http_stream *st = arg;
    (void)t;
    if (st->sock)
        tern_http_stream_free(st, false);
}

void tern_http_stream_init(struct tern_http_stream *st, const struct tern_http_stream_ops *ops,
                           struct tern_http_server *srv, uint64_t *resets)
{
    st->ops = ops;
    st->srv = srv;
    st->resets = resets;
    st->sock = NULL;
    st->hc = NULL;
    st->rx_off = st->rx_len = 0;
    st->eof = st->busy = st->again = st->lingering = false;
    tern_timer_init(&st->linger, on_linger_end, st);
}

void tern_http_stream_free(struct tern_http_stream *st, bool abort_sock)
{
    tern_timer_disarm(st->srv->os, &st->linger);
    st->lingering = false;
    if (st->hc)
        tern_http_conn_close(st->hc);
    if (st->sock) {
        if (st->ops->release)
            st->ops->release(st);
        tern_tcp_set_callback(st->sock, NULL, NULL);
        if (abort_sock)
            tern_tcp_abort(st->sock);
        else
            tern_tcp_close(st->sock);
    }
    st->hc = NULL;
    st->sock = NULL;
}

bool tern_http_stream_recv(struct tern_http_stream *st, bool *moved)
{
    size_t n;
    if (st->rx_off != st->rx_len || st->eof)
        return true;
    st->rx_off = st->rx_len = 0;
    tern_result r = tern_tcp_recv(st->sock, st->rx, sizeof st->rx, &n);
    if (r == TERN_OK && n) {
        st->rx_len = n;
        *moved = true;
    } else if (r == TERN_OK) {
        st->eof = true;
        tern_http_conn_input_closed(st->hc);
        *moved = true;
    } else if (r == TERN_ECLOSED) {
        (*st->resets)++;
        tern_http_stream_free(st, true);
        return false;
    }
    return true;
}

void tern_http_stream_drain(struct tern_http_stream *st)
{
    tern_result r;
    size_t n;
    while ((r = tern_tcp_recv(st->sock, st->rx, sizeof st->rx, &n)) == TERN_OK && n)
        ;
    if (r != TERN_AGAIN)
        tern_http_stream_free(st, r != TERN_OK);     /* EOF: close; failure: abort */
}

bool tern_http_stream_linger(struct tern_http_stream *st)
{
    tern_http_conn_close(st->hc);
    st->hc = NULL;
    st->lingering = true;
    struct tern_os *os = st->srv->os;
    if (tern_timer_arm(os, &st->linger, tern_now_ns(os) + TERN_HTTP_STREAM_LINGER_NS) !=
        TERN_OK) {
        tern_http_stream_free(st, false);
        return false;
    }
    return true;
}

static void service(struct tern_http_stream *st)
{
    if (st->busy) {
        st->again = true;
        return;
    }
    st->busy = true;
    do {
        st->again = false;
        while (st->sock && st->ops->round(st))
            ;
    } while (st->sock && st->again);
    st->busy = false;
}

static void on_sock(struct tern_tcp_sock *sock, unsigned events, void *arg)
{
    struct tern_http_stream *st = arg;
    (void)sock;
    if (!st->sock)
        return;
    if ((events & TERN_TCP_EV_ERROR) && tern_tcp_error(st->sock) != TERN_OK) {
        (*st->resets)++;
        tern_http_stream_free(st, true);
        return;
    }
    service(st);
}

static void on_wake(struct tern_http_conn *c, void *arg)
{
    struct tern_http_stream *st = arg;
    (void)c;
    if (st->sock)
        service(st);
}

bool tern_http_stream_evict(struct tern_tcp_sock *ls, void *srv)
{
    (void)ls;
    return tern_http_server_evict(srv);
}

void tern_http_stream_accept(struct tern_tcp_sock *ls, const struct tern_http_stream_ops *ops,
                             struct tern_http_server *srv, void *owner, uint32_t nslots,
                             uint64_t *refused)
{
    struct tern_tcp_sock *sock;
    while (tern_tcp_accept(ls, &sock) == TERN_OK) {
        struct tern_http_stream *st = NULL;
        for (int tries = 0; tries < 2 && !st; tries++) {
            for (uint32_t i = 0; i < nslots && !st; i++)
                if (!ops->slot(owner, i)->sock)
                    st = ops->slot(owner, i);
            /* Full: close an idle or slow-head connection (slowloris). */
            if (!st && !tern_http_server_evict(srv))
                break;
        }
        struct tern_http_conn *hc = st ? tern_http_conn_open(srv, on_wake, st) : NULL;
        if (st && !hc && tern_http_server_evict(srv))
            hc = tern_http_conn_open(srv, on_wake, st);
        if (hc && ops->open && ops->open(st) != TERN_OK) {
            tern_http_conn_close(hc);
            hc = NULL;
        }
        if (!hc) {
            (*refused)++;
            tern_tcp_abort(sock);
            continue;
        }
        st->sock = sock;
        st->hc = hc;
        st->rx_off = st->rx_len = 0;
        st->eof = st->busy = st->again = st->lingering = false;
        tern_tcp_set_nodelay(sock, true);
        tern_tcp_set_callback(sock, on_sock, st);
        service(st);
    }
}
