/*
 * Interface: see net_setup.h (diagnostics). tern-linux's network
 * diagnostics that originate traffic, started once net0 has an address
 * (at once with a static one, at the DHCP bind otherwise):
 *   --resolve NAME       resolve NAME with the network's DNS servers
 *                        (tern_boot_net_dns: --dns, the manifest's, or the
 *                        lease's) and log "dns: NAME -> A.B.C.D ttl=N"
 *                        or "dns: NAME failed: REASON";
 *   --udp-probe A.B.C.D:PORT
 *                        send a datagram every second until one comes back,
 *                        then log "udp probe: reply from A.B.C.D:PORT ...";
 *   --tcp-send A.B.C.D:PORT:BYTES
 *                        connect and send BYTES bytes of the pattern
 *                        byte[i] = (i * 31 + (i >> 8)) & 0xff, half-close,
 *                        log "tcp send: N bytes to A.B.C.D:PORT in T ms";
 *   --tcp-sink PORT      accept connections on PORT (one at a time), check
 *                        every byte against that pattern, log at EOF
 *                        "tcp sink: N bytes from A.B.C.D:P pattern=ok"
 *                        (or "pattern=bad at OFFSET").
 */
#include <stdio.h>
#include <string.h>

#include "net_setup.h"
#include "tern/boot_net.h"
#include "tern/dns.h"
#include "tern/inet.h"
#include "tern/net.h"
#include "tern/os.h"
#include "tern/tcp.h"

static void on_resolved(void *arg, tern_result r, const uint32_t *addrs, unsigned n, uint32_t ttl)
{
    struct linux_net_diag *g = arg;
    if (r != TERN_OK || n == 0) {
        tern_log(g->os, TERN_LOG_INFO, "dns", "%s failed: %s", g->opts->resolve,
                 tern_result_name(r));
        return;
    }
    char a[16];
    tern_ipv4_format(addrs[0], a);
    tern_log(g->os, TERN_LOG_INFO, "dns", "%s -> %s ttl=%u", g->opts->resolve, a, (unsigned)ttl);
}

static void probe_send(struct tern_timer *t, void *arg)
{
    (void)t;
    struct linux_net_diag *g = arg;
    if (g->probe_done)
        return;
    char msg[32];
    int n = snprintf(msg, sizeof(msg), "tern-probe %u", ++g->probe_seq);
    g->probe_sent_ms = tern_now_ms(g->os);
    tern_udp_sendto(g->probe, g->opts->probe_ip, g->opts->probe_port, msg, (size_t)n);
    tern_timer_arm(g->os, &g->probe_timer, (g->probe_sent_ms + 1000) * 1000000u);
}

static void probe_readable(struct tern_udp_sock *s, void *arg)
{
    struct linux_net_diag *g = arg;
    uint8_t buf[64];
    size_t len;
    uint32_t src;
    uint16_t sport;
    while (tern_udp_recvfrom(s, buf, sizeof(buf), &len, &src, &sport) == TERN_OK) {
        if (g->probe_done || src != g->opts->probe_ip || sport != g->opts->probe_port)
            continue;
        g->probe_done = true;
        tern_timer_disarm(g->os, &g->probe_timer);
        char a[16];
        tern_ipv4_format(src, a);
        tern_log(g->os, TERN_LOG_INFO, "net", "udp probe: reply from %s:%u bytes=%zu after %u tries",
                 a, (unsigned)sport, len, g->probe_seq);
    }
}

static uint8_t pattern(uint64_t i)
{
    return (uint8_t)((i * 31u + (i >> 8)) & 0xffu);
}

static void tx_event(struct tern_tcp_sock *s, unsigned ev, void *arg)
{
    struct linux_net_diag *g = arg;
    const struct linux_net_opts *o = g->opts;
    char a[16];
    tern_ipv4_format(o->send_ip, a);
    if (ev & TERN_TCP_EV_ERROR) {
        tern_log(g->os, TERN_LOG_INFO, "net", "tcp send: to %s:%u failed: %s after %llu bytes", a,
                 (unsigned)o->send_port, tern_result_name(tern_tcp_error(s)),
                 (unsigned long long)g->tx_sent);
        tern_tcp_close(s);
        g->tx = NULL;
        return;
    }
    if (ev & TERN_TCP_EV_CONNECTED)
        g->tx_start_ms = tern_now_ms(g->os);
    while (!g->tx_done && (ev & (TERN_TCP_EV_CONNECTED | TERN_TCP_EV_WRITABLE))) {
        /* up to 64 KiB straight from the table: pattern(i) = pat[i % 65536] */
        const uint8_t *chunk = g->pat + (g->tx_sent & 0xffffu);
        uint64_t left = o->send_bytes - g->tx_sent;
        size_t n = left < 65536 ? (size_t)left : 65536;
        size_t took = 0;
        if (n > 0 && tern_tcp_send(s, chunk, n, &took) != TERN_OK)
            break;
        g->tx_sent += took;
        if (g->tx_sent == o->send_bytes) {
            g->tx_done = true;
            tern_tcp_shutdown(s);
            tern_log(g->os, TERN_LOG_INFO, "net", "tcp send: %llu bytes to %s:%u in %llu ms",
                     (unsigned long long)g->tx_sent, a, (unsigned)o->send_port,
                     (unsigned long long)(tern_now_ms(g->os) - g->tx_start_ms));
        } else if (took < n) {
            break;
        }
    }
    if (ev & TERN_TCP_EV_READABLE) {
        uint8_t sink[512];
        size_t got = 0;
        tern_result r;
        while ((r = tern_tcp_recv(s, sink, sizeof(sink), &got)) == TERN_OK && got > 0)
            ;
        if ((r == TERN_OK && got == 0) || r == TERN_ECLOSED) {
            tern_tcp_close(s); /* the peer closed too */
            g->tx = NULL;
        }
    }
}

static void sink_event(struct tern_tcp_sock *s, unsigned ev, void *arg)
{
    struct linux_net_diag *g = arg;
    uint8_t buf[8192];
    size_t got = 0;
    tern_result r = TERN_AGAIN;
    if (ev & (TERN_TCP_EV_READABLE | TERN_TCP_EV_ERROR)) {
        while ((r = tern_tcp_recv(s, buf, sizeof(buf), &got)) == TERN_OK && got > 0) {
            for (size_t i = 0; i < got && !g->sink_bad; i++) {
                if (buf[i] != pattern(g->sink_bytes + i)) {
                    g->sink_bad = true;
                    g->sink_bad_at = g->sink_bytes + i;
                }
            }
            g->sink_bytes += got;
        }
    }
    if ((r == TERN_OK && got == 0) || r == TERN_ECLOSED) {
        uint32_t la, ra;
        uint16_t lp, rp;
        tern_tcp_get_addrs(s, &la, &lp, &ra, &rp);
        char a[16];
        tern_ipv4_format(ra, a);
        if (g->sink_bad)
            tern_log(g->os, TERN_LOG_INFO, "net",
                     "tcp sink: %llu bytes from %s:%u pattern=bad at %llu%s",
                     (unsigned long long)g->sink_bytes, a, (unsigned)rp,
                     (unsigned long long)g->sink_bad_at, r == TERN_ECLOSED ? " (reset)" : "");
        else
            tern_log(g->os, TERN_LOG_INFO, "net", "tcp sink: %llu bytes from %s:%u pattern=ok%s",
                     (unsigned long long)g->sink_bytes, a, (unsigned)rp,
                     r == TERN_ECLOSED ? " (reset)" : "");
        tern_tcp_close(s);
        g->sink = NULL;
    }
}

static void sink_listen_event(struct tern_tcp_sock *ls, unsigned ev, void *arg)
{
    struct linux_net_diag *g = arg;
    (void)ev;
    struct tern_tcp_sock *s;
    while (tern_tcp_accept(ls, &s) == TERN_OK) {
        if (g->sink != NULL) { /* one stream at a time: its count must mean something */
            tern_tcp_abort(s);
            continue;
        }
        g->sink = s;
        g->sink_bytes = 0;
        g->sink_bad = false;
        tern_tcp_set_callback(s, sink_event, g);
        sink_event(s, TERN_TCP_EV_READABLE, g); /* data may already be queued */
    }
}

/* net0 has an address (static, or a DHCP lease): start what waits for it. */
void linux_net_diag_address_up(struct linux_net_diag *g)
{
    const struct linux_net_opts *o = g->opts;
    struct tern_net *net = &g->bn->net;
    if (o->resolve && !g->resolve_started) {
        if (!g->dns_open) {
            tern_result r = tern_dns_init(&g->dns, net);
            if (r != TERN_OK) { /* no free socket, or no entropy for its port */
                tern_log(g->os, TERN_LOG_ERROR, "dns", "resolver not started: %s",
                         tern_result_name(r));
                return;
            }
            g->dns_open = true;
        }
        uint32_t servers[TERN_BOOT_NET_DNS_MAX];
        unsigned n = tern_boot_net_dns(g->bn, servers);
        if (n)
            tern_dns_set_servers(&g->dns, servers, n);
        g->resolve_started = true;
        tern_result r = tern_dns_resolve(&g->dns, o->resolve, on_resolved, g);
        if (r != TERN_OK)
            tern_log(g->os, TERN_LOG_INFO, "dns", "%s failed: %s", o->resolve,
                     tern_result_name(r));
    }
    if (o->send_ip && !g->tx_started) {
        g->tx_started = true;
        tern_result r = tern_tcp_connect(&g->bn->tcp, net->ifs[0].addr, 0, o->send_ip,
                                         o->send_port, tx_event, g, &g->tx);
        if (r != TERN_OK)
            tern_log(g->os, TERN_LOG_ERROR, "net", "tcp send: connect failed: %s",
                     tern_result_name(r));
    }
    if (o->probe_ip && !g->probe_started) {
        if (tern_udp_open(net, 0, probe_readable, g, &g->probe) != TERN_OK) {
            tern_log(g->os, TERN_LOG_ERROR, "net", "no socket for the udp probe");
            return;
        }
        g->probe_started = true;
        tern_timer_init(&g->probe_timer, probe_send, g);
        probe_send(&g->probe_timer, g);
    }
}

void linux_net_diag_init(struct linux_net_diag *g, struct tern_os *os, struct tern_boot_net *bn,
                         const struct linux_net_opts *o)
{
    memset(g, 0, sizeof(*g));
    g->os = os;
    g->bn = bn;
    g->opts = o;
    for (size_t i = 0; i < sizeof(g->pat); i++)
        g->pat[i] = pattern(i);
}

int linux_net_diag_listen(struct linux_net_diag *g)
{
    const struct linux_net_opts *o = g->opts;
    if (o->sink_port == 0)
        return 0;
    tern_result r = tern_tcp_listen(&g->bn->tcp, 0, o->sink_port, 4, sink_listen_event, g,
                                    &g->sink_ls);
    if (r != TERN_OK) {
        tern_log(g->os, TERN_LOG_ERROR, "net", "tcp sink on port %u: %s",
                 (unsigned)o->sink_port, tern_result_name(r));
        return -1;
    }
    return 0;
}
