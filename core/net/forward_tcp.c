/*
 * Interface: see tern/forward.h (TCP). One connection: a host handle, a
 * TCP socket to the guest and a byte ring each way. conn_pump moves
 * what can move and ends the connection when both ways are shut; every
 * path that may end it returns false, after which c is not touched.
 */
#include <string.h>

#include "forward_internal.h"
#include "tern/net.h"
#include "tern/os.h"
#include "tern/tcp.h"

static uint32_t cap_of(const struct tern_fwd_conn *c)
{
    return c->fwd->cfg.buf_bytes;
}

/* Contiguous bytes held at the ring's head. */
static size_t ring_head_run(const struct tern_fwd_ring *r, uint32_t cap)
{
    size_t run = cap - r->head;
    return r->len < run ? r->len : run;
}

/* Contiguous free bytes after the ring's tail, and where. */
static size_t ring_tail_run(const struct tern_fwd_ring *r, uint32_t cap, uint8_t **at)
{
    uint32_t tail = (r->head + r->len) % cap;
    size_t free_bytes = cap - r->len;
    size_t run = cap - tail;
    *at = r->buf + tail;
    return free_bytes < run ? free_bytes : run;
}

static void ring_drop(struct tern_fwd_ring *r, uint32_t cap, size_t n)
{
    r->head = (uint32_t)((r->head + n) % cap);
    r->len -= (uint32_t)n;
    if (r->len == 0)
        r->head = 0;
}

static void touch(struct tern_fwd_conn *c)
{
    c->last_ms = tern_now_ms(c->fwd->os);
}

void fwd_conn_end(struct tern_fwd_conn *c, tern_result why)
{
    struct tern_fwd *f = c->fwd;
    void *host = c->host;
    tern_timer_disarm(f->os, &c->idle);
    if (c->sock) {
        tern_tcp_set_callback(c->sock, NULL, NULL);
        if (why == TERN_OK)
            tern_tcp_close(c->sock);
        else
            tern_tcp_abort(c->sock);
    }
    c->sock = NULL;
    c->host = NULL;
    f->conns_open--;
    f->ops->close(f->ctx, host, why); /* ownership of host ends here */
}

/* Host bytes from the ring into the guest's send buffer; the FIN after
 * the last one once the host ended; reading resumed at half empty. */
static bool pump_to_guest(struct tern_fwd_conn *c)
{
    struct tern_fwd *f = c->fwd;
    uint32_t cap = cap_of(c);
    while (c->to_guest.len > 0) {
        size_t n = ring_head_run(&c->to_guest, cap), sent = 0;
        tern_result r = tern_tcp_send(c->sock, c->to_guest.buf + c->to_guest.head, n, &sent);
        if (r == TERN_ECLOSED) {
            f->stats.guest_reset++;
            fwd_conn_end(c, TERN_ECLOSED);
            return false;
        }
        if (r != TERN_OK || sent == 0)
            break;
        ring_drop(&c->to_guest, cap, sent);
        f->stats.bytes_to_guest += sent;
        touch(c);
    }
    if (c->paused && c->to_guest.len <= cap / 2 && !c->host_eof) {
        c->paused = false;
        f->ops->read_pause(f->ctx, c->host, false);
    }
    if (c->host_eof && c->to_guest.len == 0 && !c->guest_shut) {
        c->guest_shut = true;
        tern_tcp_shutdown(c->sock);
    }
    return true;
}

/* Guest bytes into the ring while it has room. */
static bool fill_from_guest(struct tern_fwd_conn *c)
{
    uint32_t cap = cap_of(c);
    while (!c->guest_eof && c->to_host.len < cap) {
        uint8_t *at;
        size_t n = ring_tail_run(&c->to_host, cap, &at), got = 0;
        tern_result r = tern_tcp_recv(c->sock, at, n, &got);
        if (r == TERN_AGAIN)
            break;
        if (r != TERN_OK) {
            c->fwd->stats.guest_reset++;
            fwd_conn_end(c, TERN_ECLOSED);
            return false;
        }
        if (got == 0)
            c->guest_eof = true;
        c->to_host.len += (uint32_t)got;
    }
    return true;
}

/* The ring to the host while it takes bytes. *moved: some went. */
static bool drain_to_host(struct tern_fwd_conn *c, bool *moved)
{
    struct tern_fwd *f = c->fwd;
    uint32_t cap = cap_of(c);
    *moved = false;
    while (c->to_host.len > 0 && !c->host_blocked) {
        size_t n = ring_head_run(&c->to_host, cap), taken = 0;
        tern_result r = f->ops->write(f->ctx, c->host, c->to_host.buf + c->to_host.head, n, &taken);
        if (r != TERN_OK) {
            f->stats.host_reset++;
            fwd_conn_end(c, TERN_ECLOSED);
            return false;
        }
        if (taken > n)
            taken = n;
        ring_drop(&c->to_host, cap, taken);
        f->stats.bytes_to_host += taken;
        if (taken) {
            *moved = true;
            touch(c);
        }
        if (taken < n)
            c->host_blocked = true;
    }
    return true;
}

/* Guest bytes to the host; the host's write side shut after the last. */
static bool pump_to_host(struct tern_fwd_conn *c)
{
    bool moved = true;
    while (moved) {
        if (!fill_from_guest(c) || !drain_to_host(c, &moved))
            return false;
        if (c->guest_eof)
            break;
    }
    if (c->guest_eof && c->to_host.len == 0 && !c->host_shut) {
        c->host_shut = true;
        c->fwd->ops->shutdown(c->fwd->ctx, c->host);
    }
    return true;
}

/* Moves what can move; ends c when both ways are shut. False: ended. */
static bool conn_pump(struct tern_fwd_conn *c)
{
    if (!c->connected)
        return true;
    if (!pump_to_guest(c) || !pump_to_host(c))
        return false;
    if (c->guest_shut && c->host_shut) {
        c->fwd->stats.closed++;
        fwd_conn_end(c, TERN_OK);
        return false;
    }
    return true;
}

static void on_guest(struct tern_tcp_sock *s, unsigned ev, void *arg)
{
    struct tern_fwd_conn *c = arg;
    if (ev & TERN_TCP_EV_ERROR) {
        tern_result e = tern_tcp_error(s);
        if (!c->connected) {
            c->fwd->stats.guest_refused++;
            fwd_conn_end(c, TERN_EPROTO);
        } else {
            c->fwd->stats.guest_reset++;
            fwd_conn_end(c, e == TERN_ETIMEDOUT ? TERN_ETIMEDOUT : TERN_ECLOSED);
        }
        return;
    }
    if (ev & TERN_TCP_EV_CONNECTED) {
        c->connected = true;
        touch(c);
    }
    (void)conn_pump(c);
}

void fwd_conn_idle(struct tern_timer *t, void *arg)
{
    (void)t;
    struct tern_fwd_conn *c = arg;
    struct tern_fwd *f = c->fwd;
    uint64_t due = c->last_ms + f->cfg.idle_ms;
    if (tern_now_ms(f->os) >= due) {
        f->stats.idle_closed++;
        fwd_conn_end(c, TERN_ETIMEDOUT);
        return;
    }
    tern_timer_arm(f->os, &c->idle, due * 1000000ull);
}

static struct tern_fwd_conn *free_slot(struct tern_fwd *f)
{
    for (uint32_t i = 0; i < f->cfg.max_conns; i++)
        if (f->conns[i].host == NULL)
            return &f->conns[i];
    return NULL;
}

tern_result tern_fwd_tcp_open(struct tern_fwd *fwd, unsigned rule, void *host,
                              struct tern_fwd_conn **out)
{
    const struct tern_fwd_rule *r = fwd_rule(fwd, rule, TERN_FWD_TCP);
    if (r == NULL || host == NULL)
        return TERN_EINVAL;
    struct tern_fwd_conn *c = fwd->conns_open < fwd->cfg.max_conns ? free_slot(fwd) : NULL;
    if (c == NULL) {
        fwd->stats.refused_limit++;
        return TERN_ENOSPC;
    }
    uint32_t src;
    struct tern_tcp_sock *s = NULL;
    if (tern_net_source_addr(fwd->net, r->guest_addr, &src) != TERN_OK ||
        tern_tcp_connect(fwd->tcp, src, 0, r->guest_addr, r->guest_port, on_guest, c, &s) !=
            TERN_OK) {
        fwd->stats.refused_stack++;
        return TERN_ENOSPC;
    }
    c->to_guest.head = c->to_guest.len = c->to_host.head = c->to_host.len = 0;
    c->host = host;
    c->sock = s;
    tern_tcp_set_nodelay(s, true);  /* the host's writes already chose the segments */
    c->connected = c->host_eof = c->guest_shut = c->guest_eof = false;
    c->host_shut = c->paused = c->host_blocked = false;
    touch(c);
    tern_timer_arm(fwd->os, &c->idle, (c->last_ms + fwd->cfg.idle_ms) * 1000000ull);
    fwd->conns_open++;
    fwd->stats.accepted++;
    *out = c;
    return TERN_OK;
}

size_t tern_fwd_tcp_room(const struct tern_fwd_conn *c)
{
    if (c->host == NULL || c->host_eof)
        return 0;
    return cap_of(c) - c->to_guest.len;
}

size_t tern_fwd_tcp_host_data(struct tern_fwd_conn *c, const void *buf, size_t len)
{
    struct tern_fwd *f = c->fwd;
    uint32_t cap = cap_of(c);
    const uint8_t *p = buf;
    size_t took = 0;
    if (c->host == NULL || c->host_eof)
        return 0;
    while (took < len && c->to_guest.len < cap) {
        uint8_t *at;
        size_t run = ring_tail_run(&c->to_guest, cap, &at);
        size_t n = len - took < run ? len - took : run;
        memcpy(at, p + took, n);
        c->to_guest.len += (uint32_t)n;
        took += n;
    }
    if (took)
        touch(c);
    if (c->to_guest.len == cap && !c->paused) {
        c->paused = true;
        f->stats.host_pauses++;
        f->ops->read_pause(f->ctx, c->host, true);
    }
    (void)conn_pump(c);
    return took;
}

void tern_fwd_tcp_host_eof(struct tern_fwd_conn *c)
{
    if (c->host == NULL || c->host_eof)
        return;
    c->host_eof = true;
    (void)conn_pump(c);
}

void tern_fwd_tcp_host_error(struct tern_fwd_conn *c)
{
    if (c->host == NULL)
        return;
    c->fwd->stats.host_reset++;
    fwd_conn_end(c, TERN_ECLOSED);
}

void tern_fwd_tcp_host_writable(struct tern_fwd_conn *c)
{
    if (c->host == NULL)
        return;
    c->host_blocked = false;
    (void)conn_pump(c);
}
