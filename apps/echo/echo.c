/*
 * echo: a raw TCP server through the PAL's sockets. It listens on the
 * manifest's endpoint "echo" (port 7 by default), serves each client on a
 * thread of its own (as many at once as the manifest's resources.threads
 * allows; a client beyond that waits in the listener's backlog), and
 * sends back every byte it reads until the client closes.
 */
#include "tern_app.h"

#define IDLE_NS (60ull * 1000 * 1000 * 1000)   /* a silent client is closed */

struct client {
    const struct tern_pal *pal;
    tern_pal_handle sock;
    char buf[4096];
};

static int serve_client(void *arg)
{
    struct client *c = arg;
    const struct tern_pal *pal = c->pal;
    for (;;) {
        size_t got = 0, sent = 0;
        uint64_t deadline = pal->monotonic_ns(pal->ctx) + IDLE_NS;
        if (pal->sock_read(pal->ctx, c->sock, c->buf, sizeof c->buf, deadline, &got) != TERN_PAL_OK ||
            got == 0)
            break;
        if (pal->sock_write(pal->ctx, c->sock, c->buf, got, deadline, &sent) != TERN_PAL_OK)
            break;
    }
    pal->sock_close(pal->ctx, c->sock);
    pal->free(pal->ctx, c);
    return 0;
}

int tern_app_main(const struct tern_pal *pal, const struct tern_app_start *start)
{
    (void)start;
    uint16_t port = 7;
    (void)pal->endpoint_port(pal->ctx, "echo", &port);
    tern_pal_handle lh;
    int r = pal->tcp_listen(pal->ctx, port, &lh);
    if (r != TERN_PAL_OK) {
        tapp_logf(pal, TERN_PAL_LOG_ERROR, "cannot listen on TCP port %u: %d", port, r);
        return 1;
    }
    tapp_logf(pal, TERN_PAL_LOG_INFO, "echo on TCP port %u", port);
    pal->ready(pal->ctx);
    for (;;) {
        tern_pal_handle h;
        r = pal->tcp_accept(pal->ctx, lh, TERN_PAL_FOREVER, &h, NULL);
        if (r != TERN_PAL_OK)
            continue;
        struct client *c = pal->alloc(pal->ctx, sizeof *c);
        tern_pal_handle th;
        if (c == NULL) {
            pal->sock_close(pal->ctx, h);
            continue;
        }
        c->pal = pal;
        c->sock = h;
        if (pal->thread_spawn(pal->ctx, serve_client, c, 0, &th) == TERN_PAL_OK)
            pal->thread_detach(pal->ctx, th);
        else
            serve_client(c);   /* at the thread limit: this one inline, then go on */
    }
}
