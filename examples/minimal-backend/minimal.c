/*
 * A whole Tern embedder in one file: the file to copy first
 * (docs/embedding.md).
 *
 * It provides the platform contract (include/tern/platform.h) itself: a
 * virtual clock that only moves when both instances are idle, a console
 * that prefixes each instance's lines, an entropy source, and one
 * in-memory NIC per instance: a frame queue fed by the other instance,
 * each frame arriving WIRE_DELAY_NS after it was sent.
 * Two Tern instances run in this one process on static addresses:
 * A (192.0.2.1) serves the OS's HTTP services, B (192.0.2.2) fetches
 * /healthz from A over Tern's own TCP and prints what it got.
 *
 * The embedder owns the loop: it calls tern_os_step() on each instance
 * with the ready bits its NIC has, and jumps the clock to the earliest
 * of the deadlines they return and the next frame's arrival when there
 * is nothing left to do now.
 *
 *   cc minimal.c $(pkg-config --cflags --libs tern-core) -o minimal
 *   ./minimal          # prints "fetched N bytes:" and A's answer; exit 0
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/boot_net.h>
#include <tern/inet.h>
#include <tern/os.h>
#include <tern/platform.h>
#include <tern/services.h>
#include <tern/tcp.h>
#include <tern/version.h>

#define HEAP_BYTES (24u << 20)
#define QUEUE_FRAMES 128
#define FRAME_MAX (1500 + 14)
#define ADDR_A TERN_IPV4(192, 0, 2, 1)
#define ADDR_B TERN_IPV4(192, 0, 2, 2)
#define RUN_LIMIT_NS (30ull * 1000000000ull) /* virtual time */
#define WIRE_DELAY_NS 500000ull                /* 0.5 ms each way */

struct frame {
    uint64_t arrives_ns;         /* virtual time it reaches the NIC */
    size_t len;
    uint8_t bytes[FRAME_MAX];
};

/* Frames received and not yet taken by the core (oldest at head). */
struct nic_queue {
    struct frame frames[QUEUE_FRAMES];
    unsigned head, count;
};

struct node {
    const char *name;
    const uint64_t *clock;       /* the virtual clock both nodes share */
    uint64_t rng;                /* xorshift64 state */
    void *heap;
    uint8_t mac[TERN_MAC_LEN];
    struct nic_queue rx;
    struct node *peer;           /* where net_send delivers */
    struct tern_os os;
    struct tern_boot_net bn;
};

/* ---- the platform contract ---- */

static uint64_t node_clock(void *ctx)
{
    const struct node *n = ctx;
    return *n->clock;
}

static void node_console(void *ctx, const char *buf, size_t len)
{
    const struct node *n = ctx;
    printf("[%s] %.*s", n->name, (int)len, buf);
}

/* A simulation wants runs that repeat: a seeded xorshift. An embedder
 * that serves real peers MUST fill this from a CSPRNG (getrandom). */
static tern_result node_entropy(void *ctx, void *buf, size_t len)
{
    struct node *n = ctx;
    uint8_t *out = buf;
    for (size_t i = 0; i < len; i++) {
        n->rng ^= n->rng << 13;
        n->rng ^= n->rng >> 7;
        n->rng ^= n->rng << 17;
        out[i] = (uint8_t)n->rng;
    }
    return TERN_OK;
}

static unsigned node_net_count(void *ctx)
{
    (void)ctx;
    return 1;
}

static tern_result node_net_info(void *ctx, unsigned idx, struct tern_net_info *out)
{
    const struct node *n = ctx;
    if (idx != 0)
        return TERN_ENOENT;
    memset(out, 0, sizeof(*out));
    memcpy(out->mac, n->mac, TERN_MAC_LEN);
    out->mtu = 1500;
    snprintf(out->name, sizeof(out->name), "mem0");
    return TERN_OK;
}

/* The wire: a frame sent by one node is queued on the other. */
static tern_result node_net_send(void *ctx, unsigned idx, const void *frame, size_t len)
{
    struct node *n = ctx;
    struct nic_queue *q = &n->peer->rx;
    if (idx != 0 || len < 14 || len > FRAME_MAX)
        return TERN_EINVAL;
    if (q->count == QUEUE_FRAMES)
        return TERN_AGAIN;
    struct frame *f = &q->frames[(q->head + q->count++) % QUEUE_FRAMES];
    memcpy(f->bytes, frame, len);
    f->len = len;
    f->arrives_ns = *n->clock + WIRE_DELAY_NS;
    return TERN_OK;
}

static tern_result node_net_recv(void *ctx, unsigned idx, void *buf, size_t cap,
                                 size_t *out_len)
{
    struct node *n = ctx;
    struct nic_queue *q = &n->rx;
    if (idx != 0 || q->count == 0 || q->frames[q->head].arrives_ns > *n->clock)
        return TERN_AGAIN;
    struct frame *f = &q->frames[q->head];
    q->head = (q->head + 1) % QUEUE_FRAMES;
    q->count--;
    if (f->len > cap)
        return TERN_EINVAL;
    memcpy(buf, f->bytes, f->len);
    *out_len = f->len;
    return TERN_OK;
}

static unsigned node_block_count(void *ctx)
{
    (void)ctx;
    return 0;
}

static tern_result node_heap(void *ctx, void **out_base, size_t *out_size)
{
    struct node *n = ctx;
    *out_base = n->heap;
    *out_size = HEAP_BYTES;
    return TERN_OK;
}

/* NIC 0 is ready when its oldest frame has arrived. */
static uint64_t node_ready(const struct node *n)
{
    const struct nic_queue *q = &n->rx;
    return q->count && q->frames[q->head].arrives_ns <= *n->clock ? TERN_READY_NET(0) : 0;
}

/* When the next frame reaches n, or UINT64_MAX. */
static uint64_t node_next_arrival(const struct node *n)
{
    const struct nic_queue *q = &n->rx;
    return q->count ? q->frames[q->head].arrives_ns : UINT64_MAX;
}

/* Only tern_os_run() calls wait; this embedder steps the instances
 * itself, but the contract requires it: report the NIC, never sleep. */
static void node_wait(void *ctx, uint64_t deadline_ns, uint64_t *ready)
{
    (void)deadline_ns;
    *ready = node_ready(ctx);
}

__attribute__((noreturn)) static void node_panic(void *ctx, const char *reason)
{
    const struct node *n = ctx;
    fprintf(stderr, "%s: panic: %s\n", n->name, reason);
    exit(2);
}

static const struct tern_platform_ops node_ops = {
    TERN_PLATFORM_OPS_HEADER,
    .monotonic_ns = node_clock,
    .console_write = node_console,
    .entropy = node_entropy,
    .net_count = node_net_count,
    .net_info = node_net_info,
    .net_send = node_net_send,
    .net_recv = node_net_recv,
    .block_count = node_block_count,
    .heap_region = node_heap,
    .wait = node_wait,
    .panic = node_panic,
    .name = "minimal",
};

/* ---- two instances ---- */

/* Boots n's instance with the network up on addr. 0 or -1. */
static int node_start(struct node *n, uint32_t addr, uint8_t mac_last)
{
    n->heap = malloc(HEAP_BYTES);
    if (n->heap == NULL)
        return -1;
    memcpy(n->mac, (uint8_t[]){ 0x02, 0x00, 0x00, 0x00, 0x00, mac_last }, TERN_MAC_LEN);
    n->rng = 0x9e3779b97f4a7c15ull ^ mac_last;

    struct tern_platform plat = { &node_ops, n };
    struct tern_config cfg;
    tern_config_default(&cfg);
    if (tern_os_init(&n->os, &plat, &cfg) != TERN_OK)
        return -1;

    struct tern_boot_net_opts o = { .ip = addr, .mask = TERN_IPV4(255, 255, 255, 0) };
    tern_tcp_config_default(&o.tcp);
    tern_tcp_config_fit(&o.tcp, 4u << 20); /* a small pool: this is a demo */
    return tern_boot_net_start(&n->bn, &n->os, &o) == TERN_OK ? 0 : -1;
}

/* B's side: one GET, the answer collected until A closes. */
struct fetch {
    char buf[4096];
    size_t len;
    bool done, failed;
};

static void fetch_event(struct tern_tcp_sock *s, unsigned events, void *arg)
{
    struct fetch *f = arg;
    static const char request[] = "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    size_t got = 0;
    if (events & TERN_TCP_EV_CONNECTED)
        (void)tern_tcp_send(s, request, sizeof(request) - 1, &got);
    if (events & TERN_TCP_EV_ERROR) {
        f->failed = f->done = true;
        tern_tcp_abort(s);
        return;
    }
    while (!f->done && (events & TERN_TCP_EV_READABLE)) {
        tern_result r = tern_tcp_recv(s, f->buf + f->len, sizeof(f->buf) - 1 - f->len, &got);
        if (r == TERN_AGAIN)
            break;
        if (r != TERN_OK || got == 0 || f->len + got == sizeof(f->buf) - 1) {
            f->len += r == TERN_OK ? got : 0;
            f->failed = r != TERN_OK;
            f->done = true;
            tern_tcp_close(s);
        } else {
            f->len += got;
        }
    }
}

/* The embedder's loop: step both, deliver frames, jump the clock. */
static void run(struct node *nodes[2], uint64_t *clock, const struct fetch *f)
{
    while (!f->done && *clock < RUN_LIMIT_NS) {
        uint64_t next = UINT64_MAX;
        for (int i = 0; i < 2; i++) {
            uint64_t d = tern_os_step(&nodes[i]->os, node_ready(nodes[i]));
            next = d < next ? d : next;
        }
        for (int i = 0; i < 2; i++) {
            uint64_t d = node_next_arrival(nodes[i]);
            next = d < next ? d : next;
        }
        if (next <= *clock)
            continue; /* more to do at this instant */
        if (next == UINT64_MAX)
            break;    /* nothing will ever happen */
        *clock = next;
    }
}

int main(void)
{
    uint64_t clock = 1;
    struct node *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    struct fetch *f = calloc(1, sizeof(*f));
    if (a == NULL || b == NULL || f == NULL)
        return 1;
    *a = (struct node){ .name = "A", .clock = &clock, .peer = b };
    *b = (struct node){ .name = "B", .clock = &clock, .peer = a };
    printf("tern %s (built against %s)\n", tern_version(), TERN_VERSION);
    if (node_start(a, ADDR_A, 1) != 0 || node_start(b, ADDR_B, 2) != 0)
        return 1;

    struct tern_services svc;
    struct tern_services_opts so = { .backend = "minimal", .network = &a->bn, .conns = 4 };
    if (tern_services_start(&svc, &a->os, &so) != TERN_OK)
        return 1;
    struct tern_tcp_sock *sock;
    if (tern_tcp_connect(&b->bn.tcp, ADDR_B, 0, ADDR_A, 80, fetch_event, f, &sock) != TERN_OK)
        return 1;

    struct node *nodes[2] = { a, b };
    run(nodes, &clock, f);
    f->buf[f->len] = '\0';
    printf("fetched %zu bytes in %llu ms of virtual time:\n%s\n", f->len,
           (unsigned long long)(clock / 1000000u), f->buf);
    return f->done && !f->failed && f->len > 0 ? 0 : 1;
}
