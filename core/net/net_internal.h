/*
 * Interface: functions shared between the files of core/net (not for use
 * outside it). Layering: stack.c (init, poller, timer, counters) ->
 * ethernet_arp.c (frames, ARP) -> ipv4.c (IP in/out, fragments) ->
 * icmp.c, udp.c, and TCP through the seam in net.h.
 */
#ifndef TERN_NET_INTERNAL_H
#define TERN_NET_INTERNAL_H

#include "tern/inet.h"
#include "tern/net.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define IPV4_BROADCAST 0xffffffffu

/* ---- pbuf.c ---- */
tern_result tern_pbuf_pool_init(struct tern_pbuf_pool *pool, struct tern_os *os, uint32_t count,
                                uint16_t buf_size);
/* A pbuf with off = 0, len = 0, or NULL when the pool is empty. */
struct tern_pbuf *tern_pbuf_alloc(struct tern_pbuf_pool *pool);
void tern_pbuf_free(struct tern_pbuf_pool *pool, struct tern_pbuf *p);
/* Frees every pbuf queued on list. */
void tern_pbuf_free_list(struct tern_pbuf_pool *pool, struct tern_list *list);

/* ---- stack.c ---- */
uint64_t tern_net_now_ms(const struct tern_net *net);
/* Makes sure the housekeeping tick fires no later than deadline_ms (ARP
 * retries and aging, reassembly timeouts). */
void tern_net_tick_arm(struct tern_net *net, uint64_t deadline_ms);
/* Sends a finished frame (p->data, p->len) on netif and frees p. */
void tern_net_link_send(struct tern_netif *nif, struct tern_pbuf *p);

/* ---- ethernet_arp.c ---- */
void tern_arp_input(struct tern_netif *nif, const uint8_t *pkt, size_t len);
/* Sends the frame in p (14 bytes of Ethernet header space at data, source
 * and type filled) to IP next hop nexthop, resolving it first if needed.
 * Takes p in every case. TERN_OK, or TERN_AGAIN (queue/table full). */
tern_result tern_arp_output(struct tern_netif *nif, uint32_t nexthop, struct tern_pbuf *p);
void tern_arp_send_request(struct tern_netif *nif, uint32_t target);
/* The MAC of IP next hop nexthop if known and fresh (broadcast included),
 * without resolving or queueing anything. */
bool tern_arp_lookup(struct tern_netif *nif, uint32_t nexthop, uint8_t mac[TERN_MAC_LEN]);
/* ARP timers; returns the next deadline (UINT64_MAX: none). */
uint64_t tern_arp_tick(struct tern_netif *nif, uint64_t now_ms);
void tern_arp_flush(struct tern_netif *nif);

/* ---- ipv4.c ---- */
/* l4_valid: the device vouched for the TCP/UDP checksum of this packet. */
void tern_ipv4_input(struct tern_netif *nif, const uint8_t *pkt, size_t len, bool link_bcast,
                     bool l4_valid);
/* Sends one IPv4 packet (hdr then data as payload of proto, fragmented to
 * nif's MTU) from src to dst out of nif to the link address mac, without
 * routing or ARP. Results as tern_net_ip_output. */
tern_result tern_ipv4_output_link(struct tern_netif *nif, const uint8_t *mac, uint32_t src,
                                  uint32_t dst, uint8_t proto, const void *hdr, size_t hlen,
                                  const void *data, size_t len);
/* Reassembly timeouts; returns the next deadline (UINT64_MAX: none). */
uint64_t tern_reasm_tick(struct tern_net *net, uint64_t now_ms);
/* True when addr is the limited broadcast or nif's directed broadcast. */
bool tern_ipv4_is_bcast(const struct tern_netif *nif, uint32_t addr);

/* ---- icmp.c ---- */
void tern_icmp_input(struct tern_netif *nif, const uint8_t *iphdr, const uint8_t *payload,
                     size_t len);
/* Sends destination unreachable (code) quoting the IP header and the
 * first 8 bytes of its payload, unless rate limited. */
void tern_icmp_send_unreach(struct tern_net *net, uint8_t code, const uint8_t *iphdr,
                            const uint8_t *payload, size_t len);
void tern_pmtu_update(struct tern_net *net, uint32_t dst, uint16_t mtu);

/* ---- udp.c ---- */
void tern_udp_input(struct tern_netif *nif, const uint8_t *iphdr, const uint8_t *payload,
                    size_t len, bool csum_valid);
void tern_udp_init(struct tern_net *net);

#endif
