/*
 * Interface: UDP (RFC 768) and its non-blocking socket API (see net.h).
 * Checksums are checked when present and always sent. A datagram for a
 * port nobody has open draws an ICMP port unreachable (not for
 * broadcasts). Received datagrams are copied into one pbuf each and
 * queued on the socket (at most cfg.udp_queue); on_readable is called
 * from the loop after each one. A datagram larger than a pbuf cannot be
 * queued and is counted as udp_drop_too_big.
 */
#include <string.h>

#include "net_internal.h"

#define ICMP_PORT_UNREACH 3

void tern_udp_init(struct tern_net *net)
{
    for (uint32_t i = 0; i < net->cfg.udp_sockets; i++) {
        net->udp[i].net = net;
        tern_list_init(&net->udp[i].rxq);
    }
}

static struct tern_udp_sock *find_port(struct tern_net *net, uint16_t port)
{
    for (uint32_t i = 0; i < net->cfg.udp_sockets; i++) {
        if (net->udp[i].used && net->udp[i].port == port)
            return &net->udp[i];
    }
    return NULL;
}

tern_result tern_udp_open(struct tern_net *net, uint16_t port, tern_udp_readable_fn on_readable,
                          void *arg, struct tern_udp_sock **out)
{
    if (port != 0 && find_port(net, port))
        return TERN_EEXIST;
    struct tern_udp_sock *s = NULL;
    for (uint32_t i = 0; i < net->cfg.udp_sockets && s == NULL; i++) {
        if (!net->udp[i].used)
            s = &net->udp[i];
    }
    if (s == NULL)
        return TERN_ENOSPC;
    if (port == 0) {
        for (unsigned tries = 0; tries < 16384 && port == 0; tries++) {
            uint16_t cand = net->next_ephemeral;
            net->next_ephemeral = cand == 65535 ? 49152 : (uint16_t)(cand + 1);
            if (find_port(net, cand) == NULL)
                port = cand;
        }
        if (port == 0)
            return TERN_ENOSPC;
    }
    s->used = true;
    s->port = port;
    s->queued = 0;
    s->drops = 0;
    s->on_readable = on_readable;
    s->arg = arg;
    *out = s;
    return TERN_OK;
}

uint16_t tern_udp_port(const struct tern_udp_sock *sock)
{
    return sock->port;
}

void tern_udp_close(struct tern_udp_sock *sock)
{
    tern_pbuf_free_list(&sock->net->pool, &sock->rxq);
    sock->queued = 0;
    sock->used = false;
    sock->port = 0;
    sock->on_readable = NULL;
}

/* The 8-byte header of a datagram from sport to dst:dport, checksum over
 * the pseudo-header from src. */
static void udp_header(uint8_t h[TERN_UDP_HLEN], uint16_t sport, uint32_t src, uint32_t dst,
                       uint16_t dport, const void *data, size_t len)
{
    uint16_t ulen = (uint16_t)(TERN_UDP_HLEN + len);
    tern_store_be16(h, sport);
    tern_store_be16(h + 2, dport);
    tern_store_be16(h + 4, ulen);
    tern_store_be16(h + 6, 0);
    uint32_t sum = tern_csum_pseudo_ipv4(src, dst, TERN_IP_PROTO_UDP, ulen);
    sum = tern_csum_add(sum, h, TERN_UDP_HLEN);
    sum = tern_csum_add(sum, data, len);
    uint16_t c = tern_csum_finish(sum);
    tern_store_be16(h + 6, c == 0 ? 0xffff : c);
}

tern_result tern_udp_sendto(struct tern_udp_sock *sock, uint32_t dst, uint16_t dport,
                            const void *data, size_t len)
{
    struct tern_net *net = sock->net;
    if (dport == 0 || len > 65535 - TERN_IPV4_HLEN - TERN_UDP_HLEN)
        return TERN_EINVAL;
    /* The source address the IP layer will pick, for the pseudo-header. */
    uint32_t src = 0;
    if (dst == IPV4_BROADCAST) {
        if (net->if_count > 0 && net->ifs[0].configured)
            src = net->ifs[0].addr;
    } else {
        for (unsigned i = 0; i < net->if_count && src == 0; i++) {
            const struct tern_netif *nif = &net->ifs[i];
            if (nif->configured && (dst & nif->mask) == (nif->addr & nif->mask))
                src = nif->addr;
        }
        for (unsigned i = 0; i < net->if_count && src == 0; i++) {
            const struct tern_netif *nif = &net->ifs[i];
            if (nif->configured && nif->gw)
                src = nif->addr;
        }
        if (src == 0) {
            net->ctr.ip_tx_drop_no_route++;
            return TERN_ENOENT;
        }
    }
    uint8_t h[TERN_UDP_HLEN];
    udp_header(h, sock->port, src, dst, dport, data, len);
    return tern_net_ip_output(net, src, dst, TERN_IP_PROTO_UDP, false, h, TERN_UDP_HLEN, data,
                              len);
}

tern_result tern_udp_sendto_link(struct tern_udp_sock *sock, unsigned ifidx, uint32_t dst,
                                 const uint8_t mac[TERN_MAC_LEN], uint16_t dport,
                                 const void *data, size_t len)
{
    struct tern_net *net = sock->net;
    if (ifidx >= net->if_count)
        return TERN_ENOENT;
    if (dport == 0 || len > 65535 - TERN_IPV4_HLEN - TERN_UDP_HLEN)
        return TERN_EINVAL;
    struct tern_netif *nif = &net->ifs[ifidx];
    uint32_t src = nif->configured ? nif->addr : 0;
    uint8_t h[TERN_UDP_HLEN];
    udp_header(h, sock->port, src, dst, dport, data, len);
    return tern_ipv4_output_link(nif, mac, src, dst, TERN_IP_PROTO_UDP, h, TERN_UDP_HLEN, data,
                                 len);
}

tern_result tern_udp_recvfrom(struct tern_udp_sock *sock, void *buf, size_t cap,
                              size_t *out_len, uint32_t *out_src, uint16_t *out_sport)
{
    struct tern_udp_from from;
    tern_result r = tern_udp_recvmsg(sock, buf, cap, out_len, &from);
    if (r == TERN_OK && out_src)
        *out_src = from.src;
    if (r == TERN_OK && out_sport)
        *out_sport = from.sport;
    return r;
}

tern_result tern_udp_recvmsg(struct tern_udp_sock *sock, void *buf, size_t cap, size_t *out_len,
                             struct tern_udp_from *from)
{
    struct tern_list_node *n = tern_list_pop_front(&sock->rxq);
    if (n == NULL)
        return TERN_AGAIN;
    struct tern_pbuf *p = TERN_CONTAINER_OF(n, struct tern_pbuf, link);
    sock->queued--;
    size_t k = p->len < cap ? p->len : cap;
    if (k)
        memcpy(buf, p->data + p->off, k);
    if (out_len)
        *out_len = p->len;
    if (from) {
        from->src = p->addr;
        from->sport = p->port;
        from->dst = p->to;
        from->ifidx = p->netif;
    }
    tern_pbuf_free(&sock->net->pool, p);
    return TERN_OK;
}

void tern_udp_input(struct tern_netif *nif, const uint8_t *iphdr, const uint8_t *u, size_t len,
                    bool csum_valid)
{
    struct tern_net *net = nif->net;
    net->ctr.udp_rx++;
    if (len < TERN_UDP_HLEN) {
        net->ctr.udp_drop_short++;
        return;
    }
    uint16_t ulen = tern_load_be16(u + 4);
    if (ulen < TERN_UDP_HLEN || ulen > len) {
        net->ctr.udp_drop_len++;
        return;
    }
    uint32_t src = tern_load_be32(iphdr + 12), dst = tern_load_be32(iphdr + 16);
    if (tern_load_be16(u + 6) != 0 && !csum_valid) {
        uint32_t sum = tern_csum_pseudo_ipv4(src, dst, TERN_IP_PROTO_UDP, ulen);
        if (tern_csum_finish(tern_csum_add(sum, u, ulen)) != 0) {
            net->ctr.udp_drop_checksum++;
            return;
        }
    }
    uint16_t sport = tern_load_be16(u), dport = tern_load_be16(u + 2);
    struct tern_udp_sock *s = dport ? find_port(net, dport) : NULL;
    if (s == NULL) {
        net->ctr.udp_drop_no_port++;
        if (!tern_ipv4_is_bcast(nif, dst) && nif->configured && dst == nif->addr)
            tern_icmp_send_unreach(net, ICMP_PORT_UNREACH, iphdr, u, len);
        return;
    }
    size_t dlen = (size_t)ulen - TERN_UDP_HLEN;
    if (dlen > net->pool.buf_size) {
        net->ctr.udp_drop_too_big++;
        return;
    }
    if (s->queued >= net->cfg.udp_queue) {
        net->ctr.udp_drop_queue_full++;
        s->drops++;
        return;
    }
    struct tern_pbuf *p = tern_pbuf_alloc(&net->pool);
    if (p == NULL) {
        net->ctr.udp_drop_no_pbuf++;
        return;
    }
    memcpy(p->data, u + TERN_UDP_HLEN, dlen);
    p->len = (uint16_t)dlen;
    p->addr = src;
    p->port = sport;
    p->to = dst;
    p->netif = (uint8_t)(nif - net->ifs);
    tern_list_push_back(&s->rxq, &p->link); /* the socket owns p now */
    s->queued++;
    if (s->on_readable)
        s->on_readable(s, s->arg);
}
