/*
 * Interface: the diagnostic services of tern/tcp.h: echo (RFC 862, port 7)
 * and discard (RFC 863, port 9), off unless started. Echo reads only as
 * much as it can send back, so a client that never reads stalls its own
 * sending (flow control), and memory stays in the socket buffers.
 */
#include <stdint.h>
#include <string.h>

#include "tcp_internal.h"

#define SVC_CHUNK 2048

static void echo_pump(struct tern_tcp_sock *s, struct tern_tcp_services *svc)
{
    uint8_t buf[SVC_CHUNK];
    for (;;) {
        size_t avail = tern_tcp_recv_avail(s);
        if (avail == 0) {
            size_t got;
            tern_result r = tern_tcp_recv(s, buf, 0, &got);
            if (r == TERN_OK || r == TERN_ECLOSED)
                tern_tcp_close(s); /* end of stream: FIN after the echo */
            return;
        }
        size_t room = tcp_send_room(s, avail);   /* the buffer grows as for any sender */
        if (room == 0)
            return;
        size_t want = avail < room ? avail : room;
        if (want > sizeof(buf))
            want = sizeof(buf);
        size_t got, sent;
        if (tern_tcp_recv(s, buf, want, &got) != TERN_OK || got == 0)
            return;
        tern_tcp_send(s, buf, got, &sent);
        svc->echoed_bytes += sent;
    }
}

static void on_echo(struct tern_tcp_sock *s, unsigned ev, void *arg)
{
    (void)ev;
    echo_pump(s, arg);
}

static void on_discard(struct tern_tcp_sock *s, unsigned ev, void *arg)
{
    struct tern_tcp_services *svc = arg;
    uint8_t buf[SVC_CHUNK];
    (void)ev;
    for (;;) {
        size_t got;
        tern_result r = tern_tcp_recv(s, buf, sizeof(buf), &got);
        if (r == TERN_AGAIN)
            return;
        if (r != TERN_OK || got == 0) {
            tern_tcp_close(s);
            return;
        }
        svc->discarded_bytes += got;
    }
}

static void on_listen(struct tern_tcp_sock *ls, unsigned ev, void *arg)
{
    struct tern_tcp_services *svc = arg;
    struct tern_tcp_sock *s;
    (void)ev;
    while (tern_tcp_accept(ls, &s) == TERN_OK) {
        svc->sessions++;
        if (ls == svc->echo) {
            tern_tcp_set_callback(s, on_echo, svc);
            echo_pump(s, svc);
        } else {
            tern_tcp_set_callback(s, on_discard, svc);
            on_discard(s, TERN_TCP_EV_READABLE, svc);
        }
    }
}

tern_result tern_tcp_services_start(struct tern_tcp_services *svc, struct tern_tcp *tcp,
                                    unsigned mask)
{
    memset(svc, 0, sizeof(*svc));
    svc->tcp = tcp;
    tern_result r = TERN_OK;
    if (mask & TERN_TCP_SERVICE_ECHO)
        r = tern_tcp_listen(tcp, 0, 7, tcp->cfg.backlog_max, on_listen, svc, &svc->echo);
    if (r == TERN_OK && (mask & TERN_TCP_SERVICE_DISCARD))
        r = tern_tcp_listen(tcp, 0, 9, tcp->cfg.backlog_max, on_listen, svc, &svc->discard);
    if (r != TERN_OK && svc->echo) {
        tern_tcp_close(svc->echo);
        svc->echo = NULL;
    }
    return r;
}

tern_result tern_tcp_services_parse(const char *text, unsigned *mask)
{
    unsigned m = 0;
    const char *p = text;
    if (!text || !*text)
        return TERN_EINVAL;
    while (*p) {
        const char *e = p;
        while (*e && *e != ',')
            e++;
        size_t n = (size_t)(e - p);
        if (n == 4 && memcmp(p, "echo", 4) == 0)
            m |= TERN_TCP_SERVICE_ECHO;
        else if (n == 7 && memcmp(p, "discard", 7) == 0)
            m |= TERN_TCP_SERVICE_DISCARD;
        else
            return TERN_EINVAL;
        p = *e ? e + 1 : e;
        if (*e && !*p)
            return TERN_EINVAL;
    }
    *mask = m;
    return TERN_OK;
}
