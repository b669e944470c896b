/*
 * Interface: the PAL's sockets (see include/tern/pal.h: tcp_listen ..
 * poll), blocking-style calls on the core's cooperative threads over the
 * non-blocking TCP (tcp.h), UDP (net.h) and DNS (dns.h) APIs.
 *
 * Each socket is a struct pal_sock from the instance heap, named by a
 * handle. The stack's callback signals the socket's event (and every
 * poll registered on it); a blocking call loops "try the non-blocking
 * call; on TERN_AGAIN wait for the event until the deadline". A socket
 * closed while threads are blocked on it is marked closed and freed by
 * the last of them to leave (users counts them); they return
 * TERN_PAL_ECLOSED.
 *
 * An app thread's reads and writes leave the connection's output corked
 * until that thread blocks on the socket (a read or write that must wait,
 * a poll on it, a close), or else until the loop runs next (a flush timer
 * due at once): the writes an app makes between two blocking calls go out
 * as full segments and the window updates of its reads ride on them, as
 * they do for the core's own services, which write inside the stack's
 * callback (corked there).
 */
#include <string.h>

#include "pal_internal.h"
#include "tern/dns.h"
#include "tern/inet.h"
#include "tern/net.h"
#include "tern/tcp.h"
#include "tern/thread.h"

#define LISTEN_BACKLOG 64

struct pal_sock {
    struct tern_pal_app *app;
    enum pal_kind kind;                /* PAL_H_TCP_LISTEN, PAL_H_TCP or PAL_H_UDP */
    struct tern_tcp_sock *tcp;
    struct tern_udp_sock *udp;
    struct tern_event ev;              /* signalled by the stack's callback */
    struct pal_poll_link *pollers;
    struct pal_sock *accepting;        /* pending: the listener its accept waits on */
    struct tern_timer flush;           /* uncorks tcp once the loop runs */
    unsigned users;                    /* blocking calls and polls inside */
    bool corked;                       /* tcp is corked, flush armed */
    bool closed;
};

/* ---- poll links (shared with events, pal_thread.c) ---- */

void pal_poll_link_add(struct pal_poll_link *link, struct pal_poll_link **head,
                       struct tern_event *ev)
{
    link->ev = ev;
    link->head = head;
    link->next = *head;
    *head = link;
}

void pal_poll_link_remove(struct pal_poll_link *link)
{
    if (link->head == NULL)
        return;
    for (struct pal_poll_link **p = link->head; *p; p = &(*p)->next) {
        if (*p == link) {
            *p = link->next;
            break;
        }
    }
    link->head = NULL;
}

void pal_poll_wake(struct tern_os *os, struct pal_poll_link *head)
{
    for (struct pal_poll_link *l = head; l; l = l->next)
        tern_event_signal(os, l->ev);
}

/* ---- socket objects ---- */

static void sock_wake(struct pal_sock *ps)
{
    tern_event_signal(ps->app->os, &ps->ev);
    pal_poll_wake(ps->app->os, ps->pollers);
}

static void on_tcp(struct tern_tcp_sock *s, unsigned events, void *arg)
{
    (void)s;
    (void)events;
    sock_wake(arg);
}

static void on_udp(struct tern_udp_sock *s, void *arg)
{
    (void)s;
    sock_wake(arg);
}

/* Sends what the app's calls left corked (the flush timer, or a close). */
static void sock_uncork(struct pal_sock *ps)
{
    if (!ps->corked)
        return;
    ps->corked = false;
    tern_timer_disarm(ps->app->os, &ps->flush);
    tern_tcp_uncork(ps->tcp);
}

static void on_flush(struct tern_timer *t, void *arg)
{
    (void)t;
    sock_uncork(arg);
}

/* Corks a connection an app thread is about to read or write until the
 * loop runs next. Without room for the timer the output is not held. */
static void sock_cork(struct pal_sock *ps)
{
    if (ps->corked || tern_timer_arm(ps->app->os, &ps->flush, 0) != TERN_OK)
        return;
    tern_tcp_cork(ps->tcp);
    ps->corked = true;
}

static void sock_refused(struct tern_pal_app *app, const char *what)
{
    app->stats.sock_refused++;
    tern_log(app->os, TERN_LOG_WARN, app->cfg.name, "%s refused: the pool is full", what);
}

/* A new socket of kind with a handle (*out), or TERN_PAL_ENOMEM. */
static int sock_new(struct tern_pal_app *app, enum pal_kind kind, struct pal_sock **out,
                    tern_pal_handle *h)
{
    struct pal_sock *ps = tern_calloc(app->os, 1, sizeof *ps);
    if (ps == NULL)
        return TERN_PAL_ENOMEM;
    ps->app = app;
    ps->kind = kind;
    tern_event_init(&ps->ev);
    tern_timer_init(&ps->flush, on_flush, ps);
    *h = pal_handle_new(app, kind, ps);
    if (*h < 0) {
        tern_free(app->os, ps);
        return TERN_PAL_ENOMEM;
    }
    *out = ps;
    return TERN_PAL_OK;
}

/* Gives the stack's object back (no more callbacks) and wakes everyone
 * who waits on ps so they see it closed. */
static void sock_release_io(struct pal_sock *ps)
{
    if (ps->tcp) {
        tern_tcp_set_callback(ps->tcp, NULL, NULL);
        sock_uncork(ps);               /* what the app wrote goes before the FIN */
        tern_tcp_close(ps->tcp);
        ps->tcp = NULL;
    }
    if (ps->udp) {
        tern_udp_close(ps->udp);
        ps->udp = NULL;
    }
    ps->closed = true;
    sock_wake(ps);
    if (ps->accepting)
        sock_wake(ps->accepting);      /* the accept that reserved ps sees it closed */
}

/* Frees ps once closed and nobody is inside a call on it. */
static void sock_maybe_free(struct pal_sock *ps)
{
    if (ps->closed && ps->users == 0)
        tern_free(ps->app->os, ps);
}

/* A blocking call's entry and exit: ps stays allocated in between. */
static void sock_hold(struct pal_sock *ps)
{
    ps->users++;
}

static int sock_drop(struct pal_sock *ps, int result)
{
    ps->users--;
    sock_maybe_free(ps);
    return result;
}

/* True while ps is a handle reserved by a blocked tcp_accept (no
 * connection yet): not usable, not ready, but closable. */
static bool sock_pending(const struct pal_sock *ps)
{
    return ps->tcp == NULL && ps->udp == NULL;
}

/* The socket of handle h if it is of kind: TERN_PAL_OK; ENOENT (not in
 * use, or reserved by a blocked accept); EINVAL (another kind). */
static int sock_get(struct tern_pal_app *app, tern_pal_handle h, enum pal_kind kind,
                    struct pal_sock **out)
{
    enum pal_kind k = pal_handle_kind(app, h);
    if (k == PAL_H_FREE)
        return TERN_PAL_ENOENT;
    if (k != kind)
        return TERN_PAL_EINVAL;
    struct pal_sock *ps = pal_handle_get(app, h, kind);
    if (sock_pending(ps))
        return TERN_PAL_ENOENT;
    *out = ps;
    return TERN_PAL_OK;
}

/* Waits for ps's next event. TERN_OK, ETIMEDOUT, ECLOSED (closed while
 * waiting), or the core's refusal. */
static int sock_wait(struct pal_sock *ps, uint64_t deadline)
{
    tern_result r = tern_event_wait(ps->app->os, &ps->ev, deadline);
    if (ps->closed)
        return TERN_PAL_ECLOSED;
    return (int)r;
}

/* ---- TCP ---- */

static int pal_tcp_listen(void *ctx, uint16_t port, tern_pal_handle *out)
{
    struct tern_pal_app *app = pal_app(ctx);
    if (out == NULL || port == 0)
        return TERN_PAL_EINVAL;
    if (app->cfg.tcp == NULL)
        return TERN_PAL_ENOTSUP;
    struct pal_sock *ps;
    tern_pal_handle h;
    int r = sock_new(app, PAL_H_TCP_LISTEN, &ps, &h);
    if (r != TERN_PAL_OK)
        return r;
    tern_result tr = tern_tcp_listen(app->cfg.tcp, 0, port, LISTEN_BACKLOG, on_tcp, ps, &ps->tcp);
    if (tr != TERN_OK) {
        pal_handle_release(app, h);
        tern_free(app->os, ps);
        if (tr == TERN_ENOSPC) {
            sock_refused(app, "tcp listener");
            return TERN_PAL_ENOMEM;
        }
        return tr == TERN_EEXIST ? TERN_PAL_EBUSY : (int)tr;
    }
    *out = h;
    pal_note_bind(app, "tcp", port);
    return TERN_PAL_OK;
}

/* Takes one queued connection into the reserved socket cs. */
static int accept_into(struct pal_sock *ls, struct pal_sock *cs, uint64_t deadline)
{
    for (;;) {
        if (ls->closed || cs->closed)
            return TERN_PAL_ECLOSED;
        tern_result r = tern_tcp_accept(ls->tcp, &cs->tcp);
        if (r == TERN_OK) {
            tern_tcp_set_callback(cs->tcp, on_tcp, cs);
            return TERN_PAL_OK;
        }
        if (r != TERN_AGAIN)
            return (int)r;
        int w = sock_wait(ls, deadline);
        if (w != TERN_PAL_OK)
            return w;
    }
}

static int pal_tcp_accept(void *ctx, tern_pal_handle lh, uint64_t deadline, tern_pal_handle *out,
                          struct tern_pal_addr *peer)
{
    struct tern_pal_app *app = pal_app(ctx);
    struct pal_sock *ls;
    int r = sock_get(app, lh, PAL_H_TCP_LISTEN, &ls);
    if (r != TERN_PAL_OK)
        return r;
    if (out == NULL || !pal_on_thread(app))
        return TERN_PAL_EINVAL;
    /* The handle first, so a full table refuses before a connection is taken. */
    struct pal_sock *cs;
    tern_pal_handle ch;
    if ((r = sock_new(app, PAL_H_TCP, &cs, &ch)) != TERN_PAL_OK)
        return r;
    sock_hold(ls);
    sock_hold(cs);                 /* the app may close the reserved handle meanwhile */
    cs->accepting = ls;
    r = accept_into(ls, cs, deadline);
    cs->accepting = NULL;
    if (r != TERN_PAL_OK) {
        if (!cs->closed) {
            pal_handle_release(app, ch);
            cs->closed = true;
        }
        (void)sock_drop(cs, r);
        return sock_drop(ls, r);
    }
    (void)sock_drop(cs, r);
    if (peer) {
        uint32_t la, ra;
        uint16_t lp, rp;
        tern_tcp_get_addrs(cs->tcp, &la, &lp, &ra, &rp);
        *peer = (struct tern_pal_addr){ ra, rp };
    }
    *out = ch;
    return sock_drop(ls, TERN_PAL_OK);
}

/* A failed connection's reason as a PAL code: refused -> EPROTO,
 * anything else (reset, retransmissions ran out) -> ECLOSED. */
static int tcp_failure(const struct tern_tcp_sock *s)
{
    return tern_tcp_error(s) == TERN_EPROTO ? TERN_PAL_EPROTO : TERN_PAL_ECLOSED;
}

static int connect_wait(struct pal_sock *ps, uint64_t deadline)
{
    for (;;) {
        if (tern_tcp_error(ps->tcp) != TERN_OK)
            return tcp_failure(ps->tcp);
        enum tern_tcp_state st = tern_tcp_get_state(ps->tcp);
        if (st != TERN_TCP_SYN_SENT && st != TERN_TCP_SYN_RECEIVED)
            return TERN_PAL_OK;
        int w = sock_wait(ps, deadline);
        if (w != TERN_PAL_OK)
            return w;
    }
}

static int pal_tcp_connect(void *ctx, const struct tern_pal_addr *to, uint64_t deadline,
                           tern_pal_handle *out)
{
    struct tern_pal_app *app = pal_app(ctx);
    if (to == NULL || out == NULL || to->addr == 0 || to->port == 0 || !pal_on_thread(app))
        return TERN_PAL_EINVAL;
    if (app->cfg.tcp == NULL || app->cfg.net == NULL)
        return TERN_PAL_ENOTSUP;
    uint32_t src;
    if (tern_net_source_addr(app->cfg.net, to->addr, &src) != TERN_OK)
        return TERN_PAL_ENOENT;
    struct pal_sock *ps;
    tern_pal_handle h;
    int r = sock_new(app, PAL_H_TCP, &ps, &h);
    if (r != TERN_PAL_OK)
        return r;
    tern_result tr =
        tern_tcp_connect(app->cfg.tcp, src, 0, to->addr, to->port, on_tcp, ps, &ps->tcp);
    if (tr != TERN_OK) {
        pal_handle_release(app, h);
        tern_free(app->os, ps);
        if (tr == TERN_ENOSPC) {
            sock_refused(app, "tcp connection");
            return TERN_PAL_ENOMEM;
        }
        return tr == TERN_EEXIST ? TERN_PAL_EBUSY : (int)tr;
    }
    sock_hold(ps);
    r = connect_wait(ps, deadline);
    if (r != TERN_PAL_OK) {
        if (!ps->closed) {
            pal_handle_release(app, h);
            if (ps->tcp) {
                tern_tcp_set_callback(ps->tcp, NULL, NULL);
                tern_tcp_abort(ps->tcp);
                ps->tcp = NULL;
            }
            ps->closed = true;
        }
        return sock_drop(ps, r);
    }
    *out = h;
    return sock_drop(ps, TERN_PAL_OK);
}

static int pal_sock_read(void *ctx, tern_pal_handle h, void *buf, size_t cap, uint64_t deadline,
                         size_t *got)
{
    struct tern_pal_app *app = pal_app(ctx);
    struct pal_sock *ps;
    int r = sock_get(app, h, PAL_H_TCP, &ps);
    if (r != TERN_PAL_OK)
        return r;
    if (buf == NULL || cap == 0 || got == NULL || !pal_on_thread(app))
        return TERN_PAL_EINVAL;
    sock_hold(ps);
    for (;;) {
        size_t n = 0;
        sock_cork(ps);
        tern_result tr = tern_tcp_recv(ps->tcp, buf, cap, &n);
        if (tr == TERN_OK) {
            *got = n;
            return sock_drop(ps, TERN_PAL_OK);
        }
        if (tr != TERN_AGAIN)
            return sock_drop(ps, TERN_PAL_ECLOSED);
        sock_uncork(ps);                 /* about to block: the reply goes now */
        if ((r = sock_wait(ps, deadline)) != TERN_PAL_OK)
            return sock_drop(ps, r);
    }
}

static int pal_sock_write(void *ctx, tern_pal_handle h, const void *buf, size_t len,
                          uint64_t deadline, size_t *sent)
{
    struct tern_pal_app *app = pal_app(ctx);
    struct pal_sock *ps;
    int r = sock_get(app, h, PAL_H_TCP, &ps);
    if (r != TERN_PAL_OK)
        return r;
    if ((buf == NULL && len) || !pal_on_thread(app))
        return TERN_PAL_EINVAL;
    size_t done = 0;
    sock_hold(ps);
    r = TERN_PAL_OK;
    while (done < len) {
        size_t n = 0;
        sock_cork(ps);
        tern_result tr = tern_tcp_send(ps->tcp, (const uint8_t *)buf + done, len - done, &n);
        if (tr == TERN_OK && n > 0) {
            done += n;
            continue;
        }
        if (tr != TERN_OK && tr != TERN_AGAIN) {
            r = TERN_PAL_ECLOSED;
            break;
        }
        sock_uncork(ps);                 /* full: send what is queued, wait for room */
        if ((r = sock_wait(ps, deadline)) != TERN_PAL_OK)
            break;
    }
    if (sent)
        *sent = done;
    return sock_drop(ps, r);
}

static int pal_sock_shutdown(void *ctx, tern_pal_handle h)
{
    struct pal_sock *ps;
    int r = sock_get(pal_app(ctx), h, PAL_H_TCP, &ps);
    if (r != TERN_PAL_OK)
        return r;
    return tern_tcp_shutdown(ps->tcp) == TERN_OK ? TERN_PAL_OK : TERN_PAL_ECLOSED;
}

static bool is_sock_kind(enum pal_kind k)
{
    return k == PAL_H_TCP || k == PAL_H_TCP_LISTEN || k == PAL_H_UDP;
}

static int pal_sock_close(void *ctx, tern_pal_handle h)
{
    struct tern_pal_app *app = pal_app(ctx);
    enum pal_kind k = pal_handle_kind(app, h);
    if (k == PAL_H_FREE)
        return TERN_PAL_ENOENT;
    if (!is_sock_kind(k))
        return TERN_PAL_EINVAL;
    struct pal_sock *ps = pal_handle_get(app, h, k);
    pal_handle_release(app, h);
    sock_release_io(ps);
    sock_maybe_free(ps);
    return TERN_PAL_OK;
}

/* ---- UDP ---- */

static int pal_udp_bind(void *ctx, uint16_t port, tern_pal_handle *out)
{
    struct tern_pal_app *app = pal_app(ctx);
    if (out == NULL)
        return TERN_PAL_EINVAL;
    if (app->cfg.net == NULL)
        return TERN_PAL_ENOTSUP;
    struct pal_sock *ps;
    tern_pal_handle h;
    int r = sock_new(app, PAL_H_UDP, &ps, &h);
    if (r != TERN_PAL_OK)
        return r;
    tern_result tr = tern_udp_open(app->cfg.net, port, on_udp, ps, &ps->udp);
    if (tr != TERN_OK) {
        pal_handle_release(app, h);
        tern_free(app->os, ps);
        if (tr == TERN_ENOSPC) {
            sock_refused(app, "udp socket");
            return TERN_PAL_ENOMEM;
        }
        return tr == TERN_EEXIST ? TERN_PAL_EBUSY : (int)tr;
    }
    *out = h;
    if (port)
        pal_note_bind(app, "udp", port);
    return TERN_PAL_OK;
}

static int pal_udp_sendto(void *ctx, tern_pal_handle h, const struct tern_pal_addr *to,
                          const void *buf, size_t len)
{
    struct pal_sock *ps;
    int r = sock_get(pal_app(ctx), h, PAL_H_UDP, &ps);
    if (r != TERN_PAL_OK)
        return r;
    if (to == NULL || to->port == 0 || (buf == NULL && len))
        return TERN_PAL_EINVAL;
    return (int)tern_udp_sendto(ps->udp, to->addr, to->port, buf, len);
}

static int pal_udp_recvfrom(void *ctx, tern_pal_handle h, void *buf, size_t cap,
                            uint64_t deadline, size_t *got, struct tern_pal_addr *from)
{
    struct tern_pal_app *app = pal_app(ctx);
    struct pal_sock *ps;
    int r = sock_get(app, h, PAL_H_UDP, &ps);
    if (r != TERN_PAL_OK)
        return r;
    if ((buf == NULL && cap) || got == NULL || !pal_on_thread(app))
        return TERN_PAL_EINVAL;
    sock_hold(ps);
    for (;;) {
        size_t len;
        uint32_t src;
        uint16_t sport;
        if (tern_udp_recvfrom(ps->udp, buf, cap, &len, &src, &sport) == TERN_OK) {
            *got = len < cap ? len : cap;
            if (from)
                *from = (struct tern_pal_addr){ src, sport };
            return sock_drop(ps, TERN_PAL_OK);
        }
        if ((r = sock_wait(ps, deadline)) != TERN_PAL_OK)
            return sock_drop(ps, r);
    }
}

/* ---- DNS ---- */

/* One lookup. It outlives a call that gave up at its deadline: the
 * resolver calls back exactly once, and the callback frees it then. */
struct dns_req {
    struct tern_os *os;
    struct tern_event ev;
    bool done, abandoned;
    tern_result r;
    uint32_t addr;
};

static void on_dns(void *arg, tern_result r, const uint32_t *addrs, unsigned n, uint32_t ttl)
{
    struct dns_req *q = arg;
    (void)ttl;
    if (q->abandoned) {
        tern_free(q->os, q);
        return;
    }
    q->done = true;
    q->r = (r == TERN_OK && n == 0) ? TERN_ENOENT : r;
    if (q->r == TERN_OK)
        q->addr = addrs[0];
    tern_event_signal(q->os, &q->ev);
}

static int pal_dns_resolve(void *ctx, const char *name, uint64_t deadline, uint32_t *addr)
{
    struct tern_pal_app *app = pal_app(ctx);
    if (name == NULL || addr == NULL || !pal_on_thread(app))
        return TERN_PAL_EINVAL;
    if (tern_ipv4_parse(name, addr) == TERN_OK)
        return TERN_PAL_OK;
    if (app->cfg.dns == NULL)
        return TERN_PAL_ENOTSUP;
    struct dns_req *q = tern_calloc(app->os, 1, sizeof *q);
    if (q == NULL)
        return TERN_PAL_ENOMEM;
    q->os = app->os;
    tern_event_init(&q->ev);
    tern_result r = tern_dns_resolve(app->cfg.dns, name, on_dns, q);
    if (r != TERN_OK) {
        tern_free(app->os, q);
        return (int)r;
    }
    while (!q->done) {
        r = tern_event_wait(app->os, &q->ev, deadline);
        if (r != TERN_OK && !q->done) {
            q->abandoned = true;            /* on_dns frees it */
            return (int)r;
        }
    }
    r = q->r;
    if (r == TERN_OK)
        *addr = q->addr;
    tern_free(app->os, q);
    return (int)r;
}

/* ---- poll ---- */

/* What socket ps is ready for now (TERN_PAL_POLL_* bits). */
static unsigned sock_ready(const struct pal_sock *ps)
{
    if (ps->closed || sock_pending(ps))
        return TERN_PAL_POLL_ERR;
    if (ps->kind == PAL_H_UDP)
        return (ps->udp->queued ? TERN_PAL_POLL_IN : 0) | TERN_PAL_POLL_OUT;
    unsigned ev = tern_tcp_poll(ps->tcp);
    if (ps->kind == PAL_H_TCP_LISTEN)
        return (ev & TERN_TCP_EV_READABLE) ? TERN_PAL_POLL_IN : 0;
    if (tern_tcp_error(ps->tcp) != TERN_OK)
        return TERN_PAL_POLL_IN | TERN_PAL_POLL_ERR | TERN_PAL_POLL_HUP;
    unsigned out = 0;
    if (ev & TERN_TCP_EV_READABLE)
        out |= TERN_PAL_POLL_IN;
    if (tern_tcp_send_space(ps->tcp) > 0)
        out |= TERN_PAL_POLL_OUT;
    switch (tern_tcp_get_state(ps->tcp)) {
    case TERN_TCP_CLOSE_WAIT:
    case TERN_TCP_CLOSING:
    case TERN_TCP_LAST_ACK:
    case TERN_TCP_TIME_WAIT:
    case TERN_TCP_CLOSED:
        out |= TERN_PAL_POLL_HUP;          /* the peer's FIN came */
        break;
    default:
        break;
    }
    return out;
}

/* revents of every member; returns how many have any. */
static unsigned poll_scan(struct tern_pal_app *app, struct tern_pal_pollfd *fds, unsigned n)
{
    unsigned ready = 0;
    for (unsigned i = 0; i < n; i++) {
        enum pal_kind k = pal_handle_kind(app, fds[i].h);
        unsigned have;
        if (is_sock_kind(k)) {
            have = sock_ready(pal_handle_get(app, fds[i].h, k));
        } else if (k == PAL_H_EVENT) {
            have = pal_event_of(app, fds[i].h)->set ? TERN_PAL_POLL_IN : 0;
        } else {
            have = TERN_PAL_POLL_ERR;          /* not a socket or an event */
        }
        fds[i].revents = (uint16_t)(have & (fds[i].events | TERN_PAL_POLL_HUP |
                                            TERN_PAL_POLL_ERR));
        ready += fds[i].revents != 0;
    }
    return ready;
}

struct poll_reg {
    struct pal_poll_link link;
    struct pal_sock *sock;                 /* held while registered (NULL: event) */
};

static void poll_register(struct tern_pal_app *app, struct tern_pal_pollfd *fds, unsigned n,
                          struct poll_reg *regs, struct tern_event *wake)
{
    for (unsigned i = 0; i < n; i++) {
        enum pal_kind k = pal_handle_kind(app, fds[i].h);
        if (is_sock_kind(k)) {
            struct pal_sock *ps = pal_handle_get(app, fds[i].h, k);
            sock_hold(ps);
            sock_uncork(ps);             /* the poll blocks: what was written goes now */
            regs[i].sock = ps;
            pal_poll_link_add(&regs[i].link, &ps->pollers, wake);
        } else if (k == PAL_H_EVENT) {
            pal_poll_link_add(&regs[i].link, pal_event_pollers(app, fds[i].h), wake);
        }
    }
}

static void poll_unregister(struct poll_reg *regs, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        pal_poll_link_remove(&regs[i].link);
        if (regs[i].sock)
            (void)sock_drop(regs[i].sock, TERN_PAL_OK);
    }
}

static int pal_poll(void *ctx, struct tern_pal_pollfd *fds, unsigned n, uint64_t deadline,
                    unsigned *ready)
{
    struct tern_pal_app *app = pal_app(ctx);
    if ((fds == NULL && n) || n > TERN_PAL_MAX_HANDLES || ready == NULL || !pal_on_thread(app))
        return TERN_PAL_EINVAL;
    if (n == 0) {
        /* A pure sleep; with no deadline it would never return. */
        if (deadline == TERN_PAL_FOREVER)
            return TERN_PAL_EINVAL;
        tern_result w = tern_thread_sleep_until(app->os, deadline);
        if (w == TERN_OK)
            *ready = 0;
        return (int)w;
    }
    unsigned count = poll_scan(app, fds, n);
    if (count) {
        *ready = count;
        return TERN_PAL_OK;
    }
    struct poll_reg *regs = tern_calloc(app->os, n, sizeof *regs);
    if (regs == NULL)
        return TERN_PAL_ENOMEM;
    struct tern_event wake;
    tern_event_init(&wake);
    poll_register(app, fds, n, regs, &wake);
    int r = TERN_PAL_OK;
    while ((count = poll_scan(app, fds, n)) == 0) {
        tern_result w = tern_event_wait(app->os, &wake, deadline);
        if (w == TERN_ETIMEDOUT)
            break;
        if (w != TERN_OK) {
            r = (int)w;
            break;
        }
    }
    poll_unregister(regs, n);
    tern_free(app->os, regs);
    if (r == TERN_PAL_OK)
        *ready = count;
    return r;
}

void pal_fill_sock(struct tern_pal *t)
{
    t->tcp_listen = pal_tcp_listen;
    t->tcp_accept = pal_tcp_accept;
    t->tcp_connect = pal_tcp_connect;
    t->sock_read = pal_sock_read;
    t->sock_write = pal_sock_write;
    t->sock_shutdown = pal_sock_shutdown;
    t->sock_close = pal_sock_close;
    t->udp_bind = pal_udp_bind;
    t->udp_sendto = pal_udp_sendto;
    t->udp_recvfrom = pal_udp_recvfrom;
    t->dns_resolve = pal_dns_resolve;
    t->poll = pal_poll;
}

/* Closes every socket the app left open (connections get a FIN, or a
 * RST when unread data remains, as tern_tcp_close does). */
void pal_sock_finish(struct tern_pal_app *app)
{
    for (tern_pal_handle h = 0; h < TERN_PAL_MAX_HANDLES; h++) {
        enum pal_kind k = pal_handle_kind(app, h);
        if (!is_sock_kind(k))
            continue;
        struct pal_sock *ps = pal_handle_get(app, h, k);
        if (ps->users)
            tern_log(app->os, TERN_LOG_WARN, app->cfg.name,
                     "socket %d closed at finish with %u calls blocked on it: kept", (int)h,
                     ps->users);
        (void)pal_sock_close(app, h);
    }
}
