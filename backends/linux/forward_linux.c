/*
 * Interface: see forward_linux.h. The listeners and UDP sockets, and
 * struct tern_fwd_host_ops for libuv TCP handles (the option's parser is
 * forward_linux_parse.c). A host connection lives from the accept until
 * its handle's close callback; the forwarder forgets it at ops->close
 * (fc NULL). A graceful close waits for the shutdown's callback, which
 * libuv runs after every queued write (uv_close alone would drop them).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward_linux.h"
#include "tern/boot_net.h"
#include "tern/inet.h"

struct host_conn {
    uv_tcp_t tcp;                    /* first: the handle's address is the struct's */
    struct linux_fwd *lf;
    struct tern_fwd_conn *fc;        /* NULL once the forwarder let go */
    bool want_writable;              /* write took less: tell the forwarder when it drains */
    bool shut_done, close_wanted, closing;
};

struct write_req {
    uv_write_t req;
    struct host_conn *hc;
    char data[];
};

/* ---- a host connection ---- */

static void on_conn_closed(uv_handle_t *h)
{
    free(h->data);
}

static void conn_close(struct host_conn *hc, bool reset)
{
    if (hc->closing)
        return;
    hc->closing = true;
    uv_read_stop((uv_stream_t *)&hc->tcp);
    if (!reset || uv_tcp_close_reset(&hc->tcp, on_conn_closed) != 0)
        uv_close((uv_handle_t *)&hc->tcp, on_conn_closed);
}

static void on_written(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct host_conn *hc = w->hc;
    free(w);
    if (hc->closing || hc->fc == NULL)
        return;
    if (status < 0) {
        tern_fwd_tcp_host_error(hc->fc);            /* ops->close runs */
        return;
    }
    if (hc->want_writable && uv_stream_get_write_queue_size((uv_stream_t *)&hc->tcp) <
                                 LINUX_FWD_WRITE_QUEUE / 2) {
        hc->want_writable = false;
        tern_fwd_tcp_host_writable(hc->fc);
    }
}

static tern_result op_write(void *ctx, void *host, const void *buf, size_t len, size_t *taken)
{
    (void)ctx;
    struct host_conn *hc = host;
    uv_stream_t *s = (uv_stream_t *)&hc->tcp;
    size_t queued = uv_stream_get_write_queue_size(s), done = 0;
    *taken = 0;
    if (queued == 0) {
        uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
        int r = uv_try_write(s, &b, 1);
        if (r < 0 && r != UV_EAGAIN)
            return TERN_ECLOSED;
        done = r > 0 ? (size_t)r : 0;
    }
    size_t rest = len - done, room = queued < LINUX_FWD_WRITE_QUEUE ? LINUX_FWD_WRITE_QUEUE - queued : 0;
    if (rest > room)
        rest = room;
    if (rest > 0) {
        struct write_req *w = malloc(sizeof *w + rest);
        if (w == NULL)
            return TERN_ECLOSED;
        w->hc = hc;
        memcpy(w->data, (const char *)buf + done, rest);
        uv_buf_t b = uv_buf_init(w->data, (unsigned)rest);
        if (uv_write(&w->req, s, &b, 1, on_written) != 0) {
            free(w);
            return TERN_ECLOSED;
        }
        done += rest;
    }
    *taken = done;
    if (done < len)
        hc->want_writable = true;
    return TERN_OK;
}

static void on_shut(uv_shutdown_t *req, int status)
{
    (void)status;
    struct host_conn *hc = req->data;
    free(req);
    hc->shut_done = true;
    if (hc->close_wanted)
        conn_close(hc, false);
}

static void op_shutdown(void *ctx, void *host)
{
    (void)ctx;
    struct host_conn *hc = host;
    uv_shutdown_t *req = malloc(sizeof *req);
    if (req == NULL) {
        hc->shut_done = true;
        return;
    }
    req->data = hc;
    if (uv_shutdown(req, (uv_stream_t *)&hc->tcp, on_shut) != 0) {
        free(req);
        hc->shut_done = true;
    }
}

static void op_close(void *ctx, void *host, tern_result why)
{
    (void)ctx;
    struct host_conn *hc = host;
    hc->fc = NULL;
    if (why == TERN_OK && !hc->shut_done)
        hc->close_wanted = true;                     /* after the queued writes and the FIN */
    else
        conn_close(hc, why != TERN_OK);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct host_conn *hc = h->data;
    size_t room = hc->fc ? tern_fwd_tcp_room(hc->fc) : 0;
    if (room > sizeof hc->lf->rbuf)
        room = sizeof hc->lf->rbuf;
    *buf = uv_buf_init(hc->lf->rbuf, (unsigned)room);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct host_conn *hc = s->data;
    if (hc->fc == NULL || n == 0)
        return;
    if (n == UV_ENOBUFS) {                           /* no room: the forwarder pauses us */
        uv_read_stop(s);
        return;
    }
    if (n > 0) {
        (void)tern_fwd_tcp_host_data(hc->fc, buf->base, (size_t)n); /* n <= room: all taken */
        return;
    }
    uv_read_stop(s);
    if (n == UV_EOF)
        tern_fwd_tcp_host_eof(hc->fc);
    else
        tern_fwd_tcp_host_error(hc->fc);
}

static void op_read_pause(void *ctx, void *host, bool paused)
{
    (void)ctx;
    struct host_conn *hc = host;
    if (paused)
        uv_read_stop((uv_stream_t *)&hc->tcp);
    else if (!hc->closing)
        uv_read_start((uv_stream_t *)&hc->tcp, on_alloc, on_read);
}

static tern_result op_udp_send(void *ctx, void *rule_host, const struct tern_fwd_peer *peer,
                               const void *buf, size_t len)
{
    (void)ctx;
    struct linux_fwd_listener *l = rule_host;
    struct sockaddr_in to;
    if (peer->len != sizeof to)
        return TERN_EINVAL;
    memcpy(&to, peer->addr, sizeof to);
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    return uv_udp_try_send(&l->h.udp, &b, 1, (const struct sockaddr *)&to) == (int)len
               ? TERN_OK : TERN_AGAIN;
}

static const struct tern_fwd_host_ops host_ops = {
    .write = op_write, .shutdown = op_shutdown, .close = op_close,
    .read_pause = op_read_pause, .udp_send = op_udp_send,
};

/* ---- listeners ---- */

static void on_connection(uv_stream_t *server, int status)
{
    struct linux_fwd_listener *l = server->data;
    struct host_conn *hc = calloc(1, sizeof *hc);
    if (status < 0 || hc == NULL) {
        free(hc);
        return;
    }
    hc->lf = l->lf;
    uv_tcp_init(l->lf->loop, &hc->tcp);
    hc->tcp.data = hc;
    if (uv_accept(server, (uv_stream_t *)&hc->tcp) != 0 ||
        tern_fwd_tcp_open(&l->lf->fwd, l->rule, hc, &hc->fc) != TERN_OK) {
        hc->closing = true;                          /* refused: the counters say why */
        uv_close((uv_handle_t *)&hc->tcp, on_conn_closed);
        return;
    }
    uv_tcp_nodelay(&hc->tcp, 1);
    uv_read_start((uv_stream_t *)&hc->tcp, on_alloc, on_read);
}

static void on_udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct linux_fwd_listener *l = h->data;
    *buf = uv_buf_init(l->lf->rbuf, sizeof l->lf->rbuf);
}

static void on_udp(uv_udp_t *u, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
                   unsigned flags)
{
    struct linux_fwd_listener *l = u->data;
    if (n <= 0 || from == NULL || from->sa_family != AF_INET || (flags & UV_UDP_PARTIAL))
        return;
    const struct sockaddr_in *in = (const struct sockaddr_in *)from;
    struct sockaddr_in key = { .sin_family = AF_INET, .sin_port = in->sin_port,
                               .sin_addr = in->sin_addr };
    struct tern_fwd_peer peer = { .len = sizeof key };
    memcpy(peer.addr, &key, sizeof key);
    (void)tern_fwd_udp_input(&l->lf->fwd, l->rule, &peer, buf->base, (size_t)n);
}

static void on_listener_closed(uv_handle_t *h)
{
    (void)h;
}

/* The counters at exit, a few to a line (a log line holds 200 bytes):
 * "forward: accepted=N refused_limit=N ...". */
static void log_counters(struct linux_fwd *lf)
{
    char line[200];
    size_t n = 0;
    const char *name;
    uint64_t v;
    for (unsigned i = 0; tern_fwd_counter(&lf->fwd, i, &name, NULL, &v); i++) {
        n += (size_t)snprintf(line + n, sizeof line - n, "%s%s=%llu", n ? " " : "", name,
                              (unsigned long long)v);
        if (n > 120 || !tern_fwd_counter(&lf->fwd, i + 1, &name, NULL, &v)) {
            tern_log(lf->os, TERN_LOG_INFO, "forward", "%s", line);
            n = 0;
        }
    }
}

static void stop_all(struct tern_os *os, void *arg)
{
    (void)os;
    struct linux_fwd *lf = arg;
    if (!lf->running)
        return;
    lf->running = false;
    log_counters(lf);
    for (unsigned i = 0; i < lf->count; i++)
        if (lf->l[i].open)
            uv_close((uv_handle_t *)&lf->l[i].h, on_listener_closed);
    tern_fwd_finish(&lf->fwd);                       /* every host connection reset */
}

/* Binds rule i's host socket. 0, or the libuv error. */
static int listen_rule(struct linux_fwd *lf, unsigned i, const struct linux_fwd_rule_opt *r)
{
    struct linux_fwd_listener *l = &lf->l[i];
    const struct sockaddr *sa = (const struct sockaddr *)&r->host;
    int e;
    l->lf = lf;
    if (r->proto == TERN_FWD_TCP) {
        uv_tcp_init(lf->loop, &l->h.tcp);
        l->h.tcp.data = l;
        l->open = true;
        e = uv_tcp_bind(&l->h.tcp, sa, 0);
        if (e == 0)
            e = uv_listen((uv_stream_t *)&l->h.tcp, 128, on_connection);
    } else {
        uv_udp_init(lf->loop, &l->h.udp);
        l->h.udp.data = l;
        l->open = true;
        e = uv_udp_bind(&l->h.udp, sa, 0);
        if (e == 0)
            e = uv_udp_recv_start(&l->h.udp, on_udp_alloc, on_udp);
    }
    return e;
}

int linux_fwd_start(struct linux_fwd *lf, struct tern_os *os, uv_loop_t *loop,
                    struct tern_boot_net *bn, const struct linux_fwd_opts *o)
{
    if (o->count == 0)
        return 0;
    lf->os = os;
    lf->loop = loop;
    tern_result tr = tern_fwd_init(&lf->fwd, os, &bn->net, &bn->tcp, NULL, &host_ops, lf);
    if (tr != TERN_OK) {
        tern_log(os, TERN_LOG_ERROR, "forward", "cannot start: %s", tern_result_name(tr));
        return -1;
    }
    lf->running = true;
    lf->at_exit = (struct tern_shutdown_hook){ .fn = stop_all, .arg = lf };
    tern_os_add_shutdown_hook(os, &lf->at_exit);
    bn->forward = &lf->fwd;
    for (unsigned i = 0; i < o->count; i++) {
        const struct linux_fwd_rule_opt *r = &o->rules[i];
        char hip[INET_ADDRSTRLEN], gip[16];
        inet_ntop(AF_INET, &r->host.sin_addr, hip, sizeof hip);
        tern_ipv4_format(r->guest_ip, gip);
        unsigned idx;
        tr = tern_fwd_add_rule(&lf->fwd, r->proto, r->guest_ip, r->guest_port, &lf->l[i], &idx);
        int e = tr == TERN_OK ? listen_rule(lf, i, r) : 0;
        lf->count = i + 1;
        lf->l[i].rule = idx;
        const char *proto = r->proto == TERN_FWD_TCP ? "tcp" : "udp";
        if (tr != TERN_OK || e != 0) {
            tern_log(os, TERN_LOG_ERROR, "forward", "%s %s:%u: %s", proto, hip,
                     ntohs(r->host.sin_port), e ? uv_strerror(e) : tern_result_name(tr));
            return -1;
        }
        tern_log(os, TERN_LOG_INFO, "forward", "%s %s:%u -> %s:%u", proto, hip,
                 ntohs(r->host.sin_port), gip, r->guest_port);
    }
    return 0;
}
