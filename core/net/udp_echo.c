/*
 * Interface: see net.h (diagnostics). The UDP echo service answers each
 * datagram from the socket's readable callback; a reply that cannot be
 * sent (no buffer, ARP pending queue full) is counted in e->failed.
 */
#include "net_internal.h"

static void echo_readable(struct tern_udp_sock *sock, void *arg)
{
    struct tern_udp_echo *e = arg;
    uint8_t buf[2048];
    size_t len;
    uint32_t src;
    uint16_t sport;
    while (tern_udp_recvfrom(sock, buf, sizeof(buf), &len, &src, &sport) == TERN_OK) {
        if (len > sizeof(buf) || sport == 0) {
            e->failed++;
            continue;
        }
        if (tern_udp_sendto(sock, src, sport, buf, len) == TERN_OK)
            e->echoed++;
        else
            e->failed++;
    }
}

tern_result tern_udp_echo_start(struct tern_udp_echo *e, struct tern_net *net, uint16_t port)
{
    e->echoed = e->failed = 0;
    return tern_udp_open(net, port, echo_readable, e, &e->sock);
}
