/* Interface: see pal_world.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pal_world.h"

static const char *const pw_argv[] = { "app", NULL };
static const char *const pw_envp[] = { "GREETING=hello", NULL };

static unsigned pw_net_count(void *ctx)
{
    return ((struct pw_node *)ctx)->with_net ? 1 : 0;
}

static tern_result pw_net_info(void *ctx, unsigned idx, struct tern_net_info *out)
{
    struct pw_node *n = ctx;
    if (idx != 0)
        return TERN_ENOENT;
    memset(out, 0, sizeof *out);
    memcpy(out->mac, n->mac, TERN_MAC_LEN);
    out->mtu = 1500;
    strcpy(out->name, "link");
    return TERN_OK;
}

/* The frame goes to the other node's receive queue. */
static tern_result pw_net_send(void *ctx, unsigned idx, const void *frame, size_t len)
{
    struct pw_node *n = ctx;
    if (idx != 0 || len < 14 || len > PW_FRAME_CAP)
        return TERN_EINVAL;
    struct pw_node *peer = n->w->n < 2 ? NULL : n->w->node[1 - n->idx];
    if (peer == NULL)
        return TERN_OK;                        /* nobody on the wire (yet) */
    if (peer->rx_count == PW_FRAMES) {
        n->tx_dropped++;
        return TERN_AGAIN;
    }
    n->tx_frames++;
    struct pw_frame *f = &peer->rx[(peer->rx_head + peer->rx_count++) % PW_FRAMES];
    f->len = len;
    memcpy(f->data, frame, len);
    return TERN_OK;
}

static tern_result pw_net_recv(void *ctx, unsigned idx, void *buf, size_t cap, size_t *out_len)
{
    struct pw_node *n = ctx;
    if (idx != 0 || n->rx_count == 0)
        return TERN_AGAIN;
    struct pw_frame *f = &n->rx[n->rx_head];
    n->rx_head = (n->rx_head + 1) % PW_FRAMES;
    n->rx_count--;
    if (f->len > cap)
        return TERN_EINVAL;
    memcpy(buf, f->data, f->len);
    *out_len = f->len;
    return TERN_OK;
}

static struct pw_node *node_new(struct pal_world *w, unsigned idx, bool with_net,
                                const struct tern_tcp_config *tcp_cfg)
{
    struct pw_node *n = calloc(1, sizeof *n);
    assert_non_null(n);
    n->w = w;
    n->idx = idx;
    n->with_net = with_net;
    n->addr = TERN_IPV4(192, 0, 2, 1 + idx);
    const uint8_t mac[TERN_MAC_LEN] = { 0x02, 0, 0, 0, 0, (uint8_t)(1 + idx) };
    memcpy(n->mac, mac, sizeof mac);
    n->rx = calloc(PW_FRAMES, sizeof *n->rx);
    assert_non_null(n->rx);
    assert_int_equal(sim_platform_init(&n->sim, 24u << 20, 11 + idx), 0);
    struct tern_platform base = sim_platform(&n->sim);
    n->ops = *base.ops;
    n->ops.net_count = pw_net_count;
    n->ops.net_info = pw_net_info;
    n->ops.net_send = pw_net_send;
    n->ops.net_recv = pw_net_recv;
    struct tern_platform plat = { &n->ops, n };
    struct tern_config oscfg;
    tern_config_default(&oscfg);
    oscfg.console_level = TERN_LOG_WARN;
    assert_int_equal(tern_os_init(&n->os, &plat, &oscfg), TERN_OK);
    if (with_net) {
        assert_int_equal(tern_net_init(&n->net, &n->os, NULL), TERN_OK);
        assert_int_equal(tern_net_set_addr(&n->net, 0, n->addr, 0xffffff00u, 0), TERN_OK);
        struct tern_tcp_config tc;
        tern_tcp_config_default(&tc);
        tc.max_conns = 16;
        tc.sndbuf = tc.rcvbuf = 16384;
        tc.msl_ms = 1000;
        if (tcp_cfg)
            tc = *tcp_cfg;
        assert_int_equal(tern_net_attach_tcp(&n->net, &n->tcp, &tc), TERN_OK);
        assert_int_equal(tern_dns_init(&n->dns, &n->net), TERN_OK);
    }
    return n;
}

struct pal_world *pw_new(unsigned n, bool with_net)
{
    return pw_new_tcp(n, with_net, NULL);
}

struct pal_world *pw_new_tcp(unsigned n, bool with_net, const struct tern_tcp_config *tcp_cfg)
{
    struct pal_world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->n = n;
    for (unsigned i = 0; i < n; i++)
        w->node[i] = node_new(w, i, with_net, tcp_cfg);
    w->now = w->node[0]->sim.now_ns;
    return w;
}

void pw_free(struct pal_world *w)
{
    for (unsigned i = 0; i < w->n; i++) {
        struct pw_node *n = w->node[i];
        tern_os_finish(&n->os);
        sim_platform_close(&n->sim);
        free(n->rx);
        free(n);
    }
    free(w);
}

void pw_config(struct pw_node *n)
{
    n->cfg = (struct tern_pal_config){
        .name = "app",
        .version = "1.0",
        .argc = 1,
        .argv = pw_argv,
        .envp = pw_envp,
        .memory_bytes = 512u * 1024,
        .max_threads = 4,
        .stack_bytes = 64u * 1024,
    };
    if (n->with_net) {
        n->cfg.net = &n->net;
        n->cfg.tcp = &n->tcp;
        n->cfg.dns = &n->dns;
    }
}

static void on_exit_cb(struct tern_pal_app *app, void *arg)
{
    (void)app;
    ((struct pw_node *)arg)->exited = true;
}

void pw_start(struct pw_node *n, tern_app_entry_fn entry)
{
    if (n->cfg.name == NULL)
        pw_config(n);
    n->heap_baseline = n->os.heap.in_use;
    assert_int_equal(tern_pal_app_init(&n->app, &n->os, &n->cfg), TERN_OK);
    n->app_inited = true;
    n->exited = false;
    assert_int_equal(tern_pal_app_start(&n->app, entry, on_exit_cb, n), TERN_OK);
}

static void set_time(struct pal_world *w, uint64_t t)
{
    w->now = t;
    for (unsigned i = 0; i < w->n; i++)
        w->node[i]->sim.now_ns = t;
}

bool pw_run(struct pal_world *w, bool (*done)(void *arg), void *arg, uint64_t max_ns)
{
    uint64_t end = w->now + max_ns;
    for (unsigned long guard = 0;; guard++) {
        assert_true(guard < 20000000ul);      /* something spins without time passing */
        uint64_t next = UINT64_MAX;
        for (unsigned i = 0; i < w->n; i++) {
            struct pw_node *n = w->node[i];
            uint64_t d = tern_os_step(&n->os, n->rx_count ? TERN_READY_NET(0) : 0);
            if (d < next)
                next = d;
        }
        if (done && done(arg))
            return true;
        bool frames = false;
        for (unsigned i = 0; i < w->n; i++)
            frames |= w->node[i]->rx_count > 0;
        if (frames || next <= w->now)
            continue;
        if (next == UINT64_MAX || next > end) {
            if (end > w->now)
                set_time(w, end);
            return done ? done(arg) : false;
        }
        set_time(w, next);
    }
}

void pw_advance(struct pal_world *w, uint64_t ns)
{
    (void)pw_run(w, NULL, NULL, ns);
}

bool pw_all_exited(void *world)
{
    struct pal_world *w = world;
    for (unsigned i = 0; i < w->n; i++) {
        if (w->node[i]->app_inited && !w->node[i]->exited)
            return false;
    }
    return true;
}

void pw_finish(struct pw_node *n)
{
    assert_true(n->app_inited);
    tern_pal_app_finish(&n->app);
    n->app_inited = false;
    assert_int_equal(n->os.heap.in_use, n->heap_baseline);
}
