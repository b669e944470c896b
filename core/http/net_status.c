/*
 * Interface: see http_tcp.h (tern_http_net_status). The /status members
 * both backends report for their network stack.
 */
#include "tern/dhcp_server.h"
#include "tern/fmt.h"
#include "tern/http_tcp.h"
#include "tern/inet.h"
#include "tern/net.h"
#include "tern/os.h"

/* ,"dhcp_server":{...}: the pool, the table and the counters. */
static size_t dhcp_server_status(const struct tern_dhcp_server *d, char *buf, size_t cap)
{
    const struct tern_dhcp_server_stats *t = &d->stats;
    char first[16], last[16];
    tern_ipv4_format(d->cfg.first, first);
    tern_ipv4_format(d->cfg.last, last);
    return tern_snprintf(
        buf, cap,
        ",\"dhcp_server\":{\"pool\":\"%s-%s\",\"leases\":%u,\"bound\":%u,"
        "\"discovers\":%llu,\"requests\":%llu,\"offers\":%llu,\"acks\":%llu,"
        "\"naks\":%llu,\"declines\":%llu,\"releases\":%llu,\"informs\":%llu,"
        "\"expired\":%llu,\"no_address\":%llu,\"drop_malformed\":%llu,"
        "\"drop_relay\":%llu,\"drop_other_server\":%llu,\"drop_unknown\":%llu,"
        "\"drop_unexpected\":%llu,\"send_failed\":%llu}",
        first, last, (unsigned)d->cfg.max_leases, (unsigned)tern_dhcp_server_bound(d),
        (unsigned long long)t->discovers, (unsigned long long)t->requests,
        (unsigned long long)t->offers, (unsigned long long)t->acks,
        (unsigned long long)t->naks, (unsigned long long)t->declines,
        (unsigned long long)t->releases, (unsigned long long)t->informs,
        (unsigned long long)t->expired, (unsigned long long)t->no_address,
        (unsigned long long)t->drop_malformed, (unsigned long long)t->drop_relay,
        (unsigned long long)t->drop_other_server, (unsigned long long)t->drop_unknown,
        (unsigned long long)t->drop_unexpected, (unsigned long long)t->send_failed);
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
    if (n < cap && s->tcp) {
        const struct tern_tcp_stats *t = &s->tcp->stats;
        n += tern_snprintf(buf + n, cap - n,
                           "],\"tcp\":{\"pcbs_in_use\":%u,\"pcbs\":%u,\"conns_accepted\":%llu,"
                           "\"rst_sent\":%llu,\"retransmits\":%llu,\"syn_cookies_sent\":%llu,"
                           "\"drop_pool_empty\":%llu,\"evicted_orphans\":%llu,"
                           "\"evicted_half_open\":%llu,\"evicted_by_owner\":%llu,"
                           "\"buf_grown\":%llu}",
                           tern_tcp_pcbs_in_use(s->tcp), s->tcp->cfg.max_conns,
                           (unsigned long long)t->conns_accepted,
                           (unsigned long long)t->rst_sent, (unsigned long long)t->retransmits,
                           (unsigned long long)t->syn_cookies_sent,
                           (unsigned long long)t->drop_pool_empty,
                           (unsigned long long)t->evicted_orphans,
                           (unsigned long long)t->evicted_half_open,
                           (unsigned long long)t->evicted_by_owner,
                           (unsigned long long)t->buf_grown);
    } else if (n < cap)
        n += tern_snprintf(buf + n, cap - n, "]");
    if (n < cap && s->net) {
        const struct tern_net_counters *c = &s->net->ctr;
        n += tern_snprintf(buf + n, cap - n,
                           ",\"net\":{\"rx_frames\":%llu,\"tx_frames\":%llu,"
                           "\"rx_csum_vouched\":%llu,\"tx_csum_offloaded\":%llu,"
                           "\"tx_tso_frames\":%llu,\"rx_large_frames\":%llu,"
                           "\"rx_drop_bad_meta\":%llu,\"entropy_failures\":%llu}",
                           (unsigned long long)c->rx_frames, (unsigned long long)c->tx_frames,
                           (unsigned long long)c->rx_csum_vouched,
                           (unsigned long long)c->tx_csum_offloaded,
                           (unsigned long long)c->tx_tso_frames,
                           (unsigned long long)c->rx_large_frames,
                           (unsigned long long)c->rx_drop_bad_meta,
                           (unsigned long long)s->net->os->entropy_failures);
    }
    if (n < cap && s->dhcp_server)
        n += dhcp_server_status(s->dhcp_server, buf + n, cap - n);
    if (n < cap && s->hostname)
        n += tern_snprintf(buf + n, cap - n, ",\"hostname\":\"%s\"", s->hostname);
    else if (n < cap)
        n += tern_snprintf(buf + n, cap - n, ",\"hostname\":null");
    if (n + 2 < cap && s->more) {
        size_t m = s->more(s->more_arg, buf + n + 1, cap - n - 1);
        if (m > 0 && m < cap - n - 1) {
            buf[n] = ',';
            n += 1 + m;
        }
    }
    return n < cap ? n : 0;
}
