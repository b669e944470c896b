/*
 * Interface: Ethernet II framing and ARP (RFC 826) for one interface.
 *
 * The cache holds cfg.arp_entries entries per interface. A lookup miss
 * makes a PENDING entry, sends a broadcast request and queues the frame
 * (at most cfg.arp_queue per entry); requests are retried every
 * arp_retry_ms, and after arp_tries the queued frames are dropped and
 * counted. A RESOLVED entry lives arp_reachable_ms, then ages out (the
 * next packet resolves it again). Replies and requests addressed to us
 * refresh an existing entry or create one (RFC 826 "merge"); other
 * traffic only refreshes entries we already have, so a flood of ARP from
 * strangers cannot fill the table.
 */
#include <string.h>

#include "net_internal.h"

#define ARP_LEN 28
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2

static const uint8_t bcast_mac[TERN_MAC_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void write_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
    memcpy(f, dst, TERN_MAC_LEN);
    memcpy(f + 6, src, TERN_MAC_LEN);
    tern_store_be16(f + 12, type);
}

static void send_arp(struct tern_netif *nif, uint16_t op, const uint8_t *dst_mac,
                     const uint8_t *tha, uint32_t tpa)
{
    struct tern_net *net = nif->net;
    struct tern_pbuf *p = tern_pbuf_alloc(&net->pool);
    if (p == NULL) {
        net->ctr.ip_tx_drop_no_pbuf++;
        return;
    }
    uint8_t *f = p->data;
    write_eth(f, dst_mac, nif->mac, ETHERTYPE_ARP);
    uint8_t *a = f + TERN_ETH_HLEN;
    tern_store_be16(a, 1);              /* hardware type: Ethernet */
    tern_store_be16(a + 2, ETHERTYPE_IPV4); /* protocol type */
    a[4] = TERN_MAC_LEN;                /* hardware size */
    a[5] = 4;                           /* protocol size */
    tern_store_be16(a + 6, op);
    memcpy(a + 8, nif->mac, TERN_MAC_LEN); /* sender MAC */
    tern_store_be32(a + 14, nif->configured ? nif->addr : 0); /* sender IP */
    memcpy(a + 18, tha, TERN_MAC_LEN);  /* target MAC */
    tern_store_be32(a + 24, tpa);       /* target IP */
    /* pad to the 60-byte Ethernet minimum */
    memset(f + TERN_ETH_HLEN + ARP_LEN, 0, 60 - TERN_ETH_HLEN - ARP_LEN);
    p->len = 60;
    if (op == ARP_OP_REQUEST)
        net->ctr.arp_requests_sent++;
    else
        net->ctr.arp_replies_sent++;
    tern_net_link_send(nif, p);
}

void tern_arp_send_request(struct tern_netif *nif, uint32_t target)
{
    static const uint8_t zero[TERN_MAC_LEN] = { 0 };
    send_arp(nif, ARP_OP_REQUEST, bcast_mac, zero, target);
}

static struct tern_arp_entry *arp_find(struct tern_netif *nif, uint32_t ip)
{
    for (uint32_t i = 0; i < nif->arp_count; i++) {
        if (nif->arp[i].state != TERN_ARP_FREE && nif->arp[i].ip == ip)
            return &nif->arp[i];
    }
    return NULL;
}

static void arp_release(struct tern_netif *nif, struct tern_arp_entry *e)
{
    tern_pbuf_free_list(&nif->net->pool, &e->queue);
    e->queued = 0;
    e->state = TERN_ARP_FREE;
    e->ip = 0;
}

/* A free entry, else the resolved entry closest to expiry; NULL when
 * every entry is pending. */
static struct tern_arp_entry *arp_new(struct tern_netif *nif)
{
    struct tern_arp_entry *victim = NULL;
    for (uint32_t i = 0; i < nif->arp_count; i++) {
        struct tern_arp_entry *e = &nif->arp[i];
        if (e->state == TERN_ARP_FREE)
            return e;
        if (e->state == TERN_ARP_RESOLVED &&
            (victim == NULL || e->deadline_ms < victim->deadline_ms))
            victim = e;
    }
    if (victim)
        arp_release(nif, victim);
    return victim;
}

static void arp_resolved(struct tern_netif *nif, struct tern_arp_entry *e, const uint8_t *mac)
{
    struct tern_net *net = nif->net;
    memcpy(e->mac, mac, TERN_MAC_LEN);
    e->state = TERN_ARP_RESOLVED;
    e->deadline_ms = tern_net_now_ms(net) + net->cfg.arp_reachable_ms;
    tern_net_tick_arm(net, e->deadline_ms);
    struct tern_list_node *n;
    while ((n = tern_list_pop_front(&e->queue)) != NULL) {
        struct tern_pbuf *p = TERN_CONTAINER_OF(n, struct tern_pbuf, link);
        memcpy(p->data + p->off, mac, TERN_MAC_LEN);
        tern_net_link_send(nif, p); /* p is the device's now */
    }
    e->queued = 0;
}

void tern_arp_input(struct tern_netif *nif, const uint8_t *a, size_t len)
{
    struct tern_net *net = nif->net;
    net->ctr.arp_rx++;
    if (len < ARP_LEN || tern_load_be16(a) != 1 || tern_load_be16(a + 2) != ETHERTYPE_IPV4 ||
        a[4] != TERN_MAC_LEN || a[5] != 4) {
        net->ctr.arp_drop_malformed++;
        return;
    }
    uint16_t op = tern_load_be16(a + 6);
    if (op != ARP_OP_REQUEST && op != ARP_OP_REPLY) {
        net->ctr.arp_drop_malformed++;
        return;
    }
    const uint8_t *sha = a + 8;
    uint32_t spa = tern_load_be32(a + 14);
    uint32_t tpa = tern_load_be32(a + 24);
    /* A sender must be a unicast MAC that is not ours, with a unicast IP. */
    if ((sha[0] & 1) || memcmp(sha, nif->mac, TERN_MAC_LEN) == 0 ||
        (spa >> 28) >= 14 || (nif->configured && tern_ipv4_is_bcast(nif, spa))) {
        net->ctr.arp_drop_bad_sender++;
        return;
    }
    if (!nif->configured)
        return; /* nothing to answer for, nothing to send to yet */
    if (spa == nif->addr) {
        net->ctr.arp_drop_bad_sender++;
        tern_log(net->os, TERN_LOG_WARN, "net", "%s: address conflict: another host claims our address",
                 nif->name);
        return;
    }
    bool for_us = tpa == nif->addr;
    struct tern_arp_entry *e = spa ? arp_find(nif, spa) : NULL;
    if (e == NULL && for_us && spa != 0)
        e = arp_new(nif);
    if (e != NULL) {
        if (e->state == TERN_ARP_FREE) {
            e->ip = spa;
            e->queued = 0;
        }
        arp_resolved(nif, e, sha);
    }
    if (for_us && op == ARP_OP_REQUEST)
        send_arp(nif, ARP_OP_REPLY, sha, sha, spa);
}

bool tern_arp_lookup(struct tern_netif *nif, uint32_t nexthop, uint8_t mac[TERN_MAC_LEN])
{
    if (tern_ipv4_is_bcast(nif, nexthop)) {
        memcpy(mac, bcast_mac, TERN_MAC_LEN);
        return true;
    }
    struct tern_arp_entry *e = arp_find(nif, nexthop);
    if (e == NULL || e->state != TERN_ARP_RESOLVED || e->deadline_ms <= tern_net_now_ms(nif->net))
        return false;
    memcpy(mac, e->mac, TERN_MAC_LEN);
    return true;
}

tern_result tern_arp_output(struct tern_netif *nif, uint32_t nexthop, struct tern_pbuf *p)
{
    struct tern_net *net = nif->net;
    uint8_t *f = p->data + p->off;
    if (tern_ipv4_is_bcast(nif, nexthop)) {
        memcpy(f, bcast_mac, TERN_MAC_LEN);
        tern_net_link_send(nif, p);
        return TERN_OK;
    }
    uint64_t now = tern_net_now_ms(net);
    struct tern_arp_entry *e = arp_find(nif, nexthop);
    if (e && e->state == TERN_ARP_RESOLVED && e->deadline_ms > now) {
        memcpy(f, e->mac, TERN_MAC_LEN);
        tern_net_link_send(nif, p);
        return TERN_OK;
    }
    if (e && e->state == TERN_ARP_RESOLVED)
        arp_release(nif, e); /* aged: resolve afresh */
    if (e == NULL || e->state == TERN_ARP_FREE) {
        e = arp_new(nif);
        if (e == NULL) {
            net->ctr.arp_drop_table_full++;
            tern_pbuf_free(&net->pool, p);
            return TERN_AGAIN;
        }
        e->ip = nexthop;
        e->state = TERN_ARP_PENDING;
        e->tries = 1;
        e->queued = 0;
        e->deadline_ms = now + net->cfg.arp_retry_ms;
        tern_arp_send_request(nif, nexthop);
        tern_net_tick_arm(net, e->deadline_ms);
    }
    if (e->queued >= net->cfg.arp_queue) {
        net->ctr.arp_drop_queue_full++;
        tern_pbuf_free(&net->pool, p);
        return TERN_AGAIN;
    }
    tern_list_push_back(&e->queue, &p->link); /* the entry owns p now */
    e->queued++;
    return TERN_OK;
}

uint64_t tern_arp_tick(struct tern_netif *nif, uint64_t now_ms)
{
    struct tern_net *net = nif->net;
    uint64_t next = UINT64_MAX;
    for (uint32_t i = 0; i < nif->arp_count; i++) {
        struct tern_arp_entry *e = &nif->arp[i];
        if (e->state == TERN_ARP_FREE)
            continue;
        if (e->deadline_ms <= now_ms) {
            if (e->state == TERN_ARP_RESOLVED) {
                net->ctr.arp_expired++;
                arp_release(nif, e);
                continue;
            }
            if (e->tries >= net->cfg.arp_tries) {
                net->ctr.arp_drop_unresolved += e->queued;
                arp_release(nif, e);
                continue;
            }
            e->tries++;
            e->deadline_ms = now_ms + net->cfg.arp_retry_ms;
            tern_arp_send_request(nif, e->ip);
        }
        if (e->deadline_ms < next)
            next = e->deadline_ms;
    }
    return next;
}

void tern_arp_flush(struct tern_netif *nif)
{
    for (uint32_t i = 0; i < nif->arp_count; i++) {
        if (nif->arp[i].state != TERN_ARP_FREE) {
            nif->net->ctr.arp_drop_unresolved += nif->arp[i].queued;
            arp_release(nif, &nif->arp[i]);
        }
    }
}
