/*
 * Interface: see core/http/stream_slot.h.
 */
#include "http/stream_slot.h"

void tern_stream_free(const struct tern_stream_ops *ops, void *slot, bool abort_sock)
{
    struct tern_stream_view v = ops->view(slot);
    tern_timer_disarm(v.os, v.linger);
    if (*v.hc)
        tern_http_conn_close(*v.hc);
    if (*v.sock) {
        if (ops->finish)
            ops->finish(slot);
        tern_tcp_set_callback(*v.sock, NULL, NULL);
        if (abort_sock)
            tern_tcp_abort(*v.sock);
        else
            tern_tcp_close(*v.sock);
    }
    *v.hc = NULL;
    *v.sock = NULL;
    *v.lingering = false;
}

void tern_stream_service(const struct tern_stream_ops *ops, void *slot)
{
    struct tern_stream_view v = ops->view(slot);
    if (*v.busy) {
        *v.again = true;
        return;
    }
    *v.busy = true;
    do {
        *v.again = false;
        while (*v.sock && ops->round(slot))
            ;
    } while (*v.sock && *v.again);
    *v.busy = false;
}

void tern_stream_on_sock(const struct tern_stream_ops *ops, void *slot, unsigned events)
{
    struct tern_stream_view v = ops->view(slot);
    if (!*v.sock)
        return;
    if ((events & TERN_TCP_EV_ERROR) && tern_tcp_error(*v.sock) != TERN_OK) {
        (*v.resets)++;
        tern_stream_free(ops, slot, true);
        return;
    }
    tern_stream_service(ops, slot);
}

void tern_stream_on_wake(const struct tern_stream_ops *ops, void *slot)
{
    if (*ops->view(slot).sock)
        tern_stream_service(ops, slot);
}

void tern_stream_on_linger_end(const struct tern_stream_ops *ops, void *slot)
{
    if (*ops->view(slot).sock)
        tern_stream_free(ops, slot, false);
}

bool tern_stream_linger(const struct tern_stream_ops *ops, void *slot, uint64_t ns)
{
    struct tern_stream_view v = ops->view(slot);
    *v.lingering = true;
    if (tern_timer_arm(v.os, v.linger, tern_now_ns(v.os) + ns) != TERN_OK) {
        tern_stream_free(ops, slot, false);
        return false;
    }
    return true;
}

void tern_stream_drain(const struct tern_stream_ops *ops, void *slot, uint8_t *buf, size_t cap)
{
    struct tern_stream_view v = ops->view(slot);
    tern_result r;
    size_t n;
    while ((r = tern_tcp_recv(*v.sock, buf, cap, &n)) == TERN_OK && n)
        ;
    if (r != TERN_AGAIN)
        tern_stream_free(ops, slot, r != TERN_OK);   /* EOF: close; failure: abort */
}

void tern_stream_accept(const struct tern_stream_ops *ops, struct tern_tcp_sock *ls,
                        struct tern_http_server *srv, void *slots, size_t stride,
                        uint32_t nslots, uint64_t *refused)
{
    struct tern_tcp_sock *sock;
    while (tern_tcp_accept(ls, &sock) == TERN_OK) {
        void *s = NULL;
        for (int tries = 0; tries < 2 && !s; tries++) {
            for (uint32_t i = 0; i < nslots && !s; i++) {
                void *cand = (uint8_t *)slots + (size_t)i * stride;
                if (!*ops->view(cand).sock)
                    s = cand;
            }
            /* Full: close an idle or slow-head connection (slowloris). */
            if (!s && !tern_http_server_evict(srv))
                break;
        }
        struct tern_http_conn *hc = s ? tern_http_conn_open(srv, ops->on_wake, s) : NULL;
        if (s && !hc && tern_http_server_evict(srv))
            hc = tern_http_conn_open(srv, ops->on_wake, s);
        if (hc && ops->prepare(s) != TERN_OK) {
            tern_http_conn_close(hc);
            hc = NULL;
        }
        if (!hc) {
            (*refused)++;
            tern_tcp_abort(sock);
            continue;
        }
        struct tern_stream_view v = ops->view(s);
        *v.sock = sock;
        *v.hc = hc;
        *v.busy = *v.again = *v.lingering = false;
        tern_tcp_set_nodelay(sock, true);
        tern_tcp_set_callback(sock, ops->on_sock, s);
        tern_stream_service(ops, s);
    }
}
