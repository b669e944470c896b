/*
 * Interface: see http_tcp.h (tern_http_net_status). The /status members
 * both backends report for their network stack.
 */
#include "tern/dhcp_server.h"
#include "tern/fmt.h"
#include "tern/forward.h"
#include "tern/http_tcp.h"
#include "tern/inet.h"
#include "tern/net.h"
#include "tern/os.h"

/* ,"dhcp_server":{...}: the pool, the table and the counters. */
static size_t dhcp_server_status(const struct tern_dhcp_server *d, char *buf, size_t cap)
{
    const struct tern_dhcp_server_stats *t = &d->stats;
    char first[16], last[16], open[64];
    tern_ipv4_format(d->cfg.first, first);
    tern_ipv4_format(d->cfg.last, last);
    tern_snprintf(open, sizeof open, ",\"dhcp_server\":{\"pool\":\"%s-%s\",", first, last);
    const struct tern_json_count c[] = {
        { "leases", d->cfg.max_leases }, { "bound", tern_dhcp_server_bound(d) },
        TERN_JSON_COUNT(t, discovers), TERN_JSON_COUNT(t, requests),
        TERN_JSON_COUNT(t, offers), TERN_JSON_COUNT(t, acks),
        TERN_JSON_COUNT(t, naks), TERN_JSON_COUNT(t, declines),
        TERN_JSON_COUNT(t, releases), TERN_JSON_COUNT(t, informs),
        TERN_JSON_COUNT(t, expired), TERN_JSON_COUNT(t, no_address),
        TERN_JSON_COUNT(t, drop_malformed), TERN_JSON_COUNT(t, drop_relay),
        TERN_JSON_COUNT(t, drop_other_server), TERN_JSON_COUNT(t, drop_unknown),
        TERN_JSON_COUNT(t, drop_unexpected), TERN_JSON_COUNT(t, send_failed),
    };
    return tern_json_object(buf, cap, open, c, TERN_JSON_COUNTS(c));
}

/* ],"tcp":{...}: the control blocks and the counters. */
static size_t tcp_status(const struct tern_tcp *tcp, char *buf, size_t cap)
{
    const struct tern_tcp_stats *t = &tcp->stats;
    const struct tern_json_count c[] = {
        { "pcbs_in_use", tern_tcp_pcbs_in_use(tcp) }, { "pcbs", tcp->cfg.max_conns },
        TERN_JSON_COUNT(t, conns_accepted), TERN_JSON_COUNT(t, rst_sent),
        TERN_JSON_COUNT(t, retransmits), TERN_JSON_COUNT(t, syn_cookies_sent),
        TERN_JSON_COUNT(t, drop_pool_empty), TERN_JSON_COUNT(t, evicted_orphans),
        TERN_JSON_COUNT(t, evicted_half_open), TERN_JSON_COUNT(t, evicted_by_owner),
        TERN_JSON_COUNT(t, buf_grown),
    };
    return tern_json_object(buf, cap, "],\"tcp\":{", c, TERN_JSON_COUNTS(c));
}

/* ,"net":{...}: the frame counters. */
static size_t net_counters(const struct tern_net *net, char *buf, size_t cap)
{
    const struct tern_net_counters *t = &net->ctr;
    const struct tern_json_count c[] = {
        TERN_JSON_COUNT(t, rx_frames), TERN_JSON_COUNT(t, tx_frames),
        TERN_JSON_COUNT(t, rx_csum_vouched), TERN_JSON_COUNT(t, tx_csum_offloaded),
        TERN_JSON_COUNT(t, tx_tso_frames), TERN_JSON_COUNT(t, rx_large_frames),
        TERN_JSON_COUNT(t, rx_drop_bad_meta), TERN_JSON_COUNT(net->os, entropy_failures),
    };
    return tern_json_object(buf, cap, ",\"net\":{", c, TERN_JSON_COUNTS(c));
}

size_t tern_http_net_status(void *arg, char *buf, size_t cap)
{
    const struct tern_http_net_status *s = arg;
    size_t n = tern_snprintf(buf, cap, "\"addresses\":[");
    for (unsigned i = 0; s->net && i < s->net->if_count && n < cap; i++) {
        const struct tern_netif *nif = &s->net->ifs[i];
        if (!nif->configured)
            continue;
        char ip[16], offloads[40];
        tern_ipv4_format(nif->addr, ip);
        tern_net_offload_words(nif->offloads, offloads, sizeof(offloads));
        n += tern_snprintf(buf + n, cap - n,
                           "%s{\"if\":\"%s\",\"ip\":\"%s\",\"mtu\":%u,\"offloads\":\"%s\"}",
                           buf[n - 1] == '[' ? "" : ",", nif->name, ip, nif->mtu, offloads);
    }
    if (n < cap && s->tcp)
        n += tcp_status(s->tcp, buf + n, cap - n);
    else if (n < cap)
        n += tern_snprintf(buf + n, cap - n, "]");
    if (n < cap && s->net)
        n += net_counters(s->net, buf + n, cap - n);
    if (n < cap && s->dhcp_server)
        n += dhcp_server_status(s->dhcp_server, buf + n, cap - n);
    if (n < cap && s->forward)
        n += tern_fwd_status(s->forward, buf + n, cap - n);
    if (n < cap && s->hostname)
        n += tern_snprintf(buf + n, cap - n, ",\"hostname\":\"%s\"", s->hostname);
    else if (n < cap)
        n += tern_snprintf(buf + n, cap - n, ",\"hostname\":null");
    if (n < cap)
        n = tern_http_status_append(buf, n, cap, 0, s->more, s->more_arg);
    return n < cap ? n : 0;
}
