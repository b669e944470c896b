/*
 * Interface: see dhcp_server.h. Start and stop, the receive loop and one
 * handler per message type (RFC 2131 4.3.1-4.3.5). The table is
 * dhcp_lease_table.c's, the wire dhcp_server_msg.c's.
 */
#include <string.h>

#include "dhcp_server_internal.h"
#include "tern/inet.h"
#include "tern/os.h"

#define LOG_TAG "dhcp-server"

void tern_dhcp_server_config_default(struct tern_dhcp_server_config *c)
{
    memset(c, 0, sizeof(*c));
    c->lease_s = 3600;
    c->offer_hold_s = 30;
    c->decline_hold_s = 600;
}

/* A dropped message: counted by the caller, the reason kept and logged. */
static void refuse(struct tern_dhcp_server *s, const struct dhcps_msg *m, const char *why)
{
    s->last_refusal = why;
    char mac[18];
    dhcps_mac_text(m->chaddr, mac);
    tern_log(s->net->os, TERN_LOG_DEBUG, LOG_TAG, "dropped a message from %s: %s", mac, why);
}

static void nak(struct tern_dhcp_server *s, const struct dhcps_msg *m, uint32_t addr,
                const char *why)
{
    char ip[16], mac[18];
    tern_ipv4_format(addr, ip);
    dhcps_mac_text(m->chaddr, mac);
    tern_log(s->net->os, TERN_LOG_INFO, LOG_TAG, "NAK %s to %s: %s", ip, mac, why);
    dhcps_reply(s, m, TERN_DHCP_NAK, 0, false, why);
}

/* The client takes (or keeps) l: BOUND for a lease time, ACKed. */
static void bind(struct tern_dhcp_server *s, const struct dhcps_msg *m, struct tern_dhcp_lease *l)
{
    bool fresh = l->state != TERN_DHCP_LEASE_BOUND;
    memcpy(l->chaddr, m->chaddr, TERN_MAC_LEN);
    if (m->hostname[0])
        memcpy(l->hostname, m->hostname, sizeof(l->hostname));
    dhcps_set_state(s, l, TERN_DHCP_LEASE_BOUND,
                    dhcps_now_ms(s) + (uint64_t)s->cfg.lease_s * 1000u);
    char ip[16], mac[18];
    tern_ipv4_format(l->addr, ip);
    dhcps_mac_text(m->chaddr, mac);
    tern_log(s->net->os, fresh ? TERN_LOG_INFO : TERN_LOG_DEBUG, LOG_TAG, "%s %s to %s%s%s",
             fresh ? "lease" : "renewed", ip, mac, l->hostname[0] ? " " : "", l->hostname);
    dhcps_reply(s, m, TERN_DHCP_ACK, l->addr, true, NULL);
    dhcps_changed(s);
}

static void on_discover(struct tern_dhcp_server *s, const struct dhcps_msg *m)
{
    struct tern_dhcp_lease *l = dhcps_by_client(s, m->id, m->id_len);
    if (l == NULL) {
        const char *why = NULL;
        l = dhcps_allocate(s, m->requested, &why);
        if (l == NULL) {
            s->stats.no_address++;
            s->last_refusal = why;
            if (!s->exhausted_logged)
                tern_log(s->net->os, TERN_LOG_WARN, LOG_TAG, "no address to offer: %s", why);
            s->exhausted_logged = true;
            return;
        }
        memcpy(l->id, m->id, m->id_len);
        l->id_len = m->id_len;
    }
    memcpy(l->chaddr, m->chaddr, TERN_MAC_LEN);
    if (m->hostname[0])
        memcpy(l->hostname, m->hostname, sizeof(l->hostname));
    if (l->state != TERN_DHCP_LEASE_BOUND) /* a bound client keeps its lease's end */
        dhcps_set_state(s, l, TERN_DHCP_LEASE_OFFERED,
                        dhcps_now_ms(s) + (uint64_t)s->cfg.offer_hold_s * 1000u);
    dhcps_reply(s, m, TERN_DHCP_OFFER, l->addr, true, NULL);
}

/* SELECTING: the client names the server it chose. */
static void on_select(struct tern_dhcp_server *s, const struct dhcps_msg *m,
                      struct tern_dhcp_lease *mine)
{
    if (m->server_id != s->server_id) { /* it chose another server */
        if (mine && mine->state == TERN_DHCP_LEASE_OFFERED)
            dhcps_set_state(s, mine, TERN_DHCP_LEASE_FREE, 0);
        s->stats.drop_other_server++;
        return;
    }
    if (m->requested == 0 || m->ciaddr != 0) {
        s->stats.drop_malformed++;
        refuse(s, m, "selecting without a requested address");
        return;
    }
    if (mine && mine->addr == m->requested)
        bind(s, m, mine);
    else
        nak(s, m, m->requested, "address not offered to this client");
}

static void on_request(struct tern_dhcp_server *s, const struct dhcps_msg *m)
{
    struct tern_dhcp_lease *mine = dhcps_by_client(s, m->id, m->id_len);
    if (m->server_id) {
        on_select(s, m, mine);
        return;
    }
    /* INIT-REBOOT names the address in option 50; RENEWING and
     * REBINDING in ciaddr. */
    uint32_t addr = m->ciaddr ? m->ciaddr : m->requested;
    if (addr == 0) {
        s->stats.drop_malformed++;
        refuse(s, m, "request without an address");
        return;
    }
    if ((addr & s->mask) != (s->server_id & s->mask)) {
        nak(s, m, addr, "wrong network");
    } else if (mine && mine->addr == addr) {
        bind(s, m, mine);
    } else if (mine) {
        nak(s, m, addr, "not the address of this client");
    } else if (dhcps_by_addr(s, addr) || !dhcps_in_pool(s, addr) || dhcps_reserved(s, addr)) {
        nak(s, m, addr, "address not available");
    } else { /* RFC 2131 4.3.2: no record of the client, stay silent */
        s->stats.drop_unknown++;
        refuse(s, m, "unknown client and address");
    }
}

/* DECLINE and RELEASE must name us; each must name the client's address. */
static void on_decline_release(struct tern_dhcp_server *s, const struct dhcps_msg *m)
{
    bool decline = m->type == TERN_DHCP_DECLINE;
    uint32_t addr = decline ? m->requested : m->ciaddr;
    if (m->server_id == 0 || addr == 0) {
        s->stats.drop_malformed++;
        refuse(s, m, decline ? "decline without server id or address"
                             : "release without server id or ciaddr");
        return;
    }
    if (m->server_id != s->server_id) {
        s->stats.drop_other_server++;
        return;
    }
    struct tern_dhcp_lease *l = dhcps_by_client(s, m->id, m->id_len);
    bool held = l && l->addr == addr &&
                (l->state == TERN_DHCP_LEASE_BOUND ||
                 (decline && l->state == TERN_DHCP_LEASE_OFFERED));
    if (!held) {
        s->stats.drop_unexpected++;
        refuse(s, m, "not the address of this client");
        return;
    }
    char ip[16], mac[18];
    tern_ipv4_format(addr, ip);
    dhcps_mac_text(m->chaddr, mac);
    if (decline) {
        tern_log(s->net->os, TERN_LOG_WARN, LOG_TAG, "%s declined by %s: in use, unused for %u s",
                 ip, mac, (unsigned)s->cfg.decline_hold_s);
        l->id_len = 0; /* nobody's: no client lookup finds it */
        l->hostname[0] = '\0';
        dhcps_set_state(s, l, TERN_DHCP_LEASE_DECLINED,
                        dhcps_now_ms(s) + (uint64_t)s->cfg.decline_hold_s * 1000u);
    } else {
        tern_log(s->net->os, TERN_LOG_INFO, LOG_TAG, "%s released by %s", ip, mac);
        dhcps_set_state(s, l, TERN_DHCP_LEASE_FREE, 0);
    }
    dhcps_changed(s);
}

static void on_inform(struct tern_dhcp_server *s, const struct dhcps_msg *m)
{
    if (m->ciaddr == 0 || (m->ciaddr & s->mask) != (s->server_id & s->mask)) {
        s->stats.drop_malformed++;
        refuse(s, m, "inform without an address of this subnet");
        return;
    }
    dhcps_reply(s, m, TERN_DHCP_ACK, 0, false, NULL); /* RFC 2131 4.3.5: no lease */
}

static void handle(struct tern_dhcp_server *s, const uint8_t *b, size_t len,
                   const struct tern_udp_from *from)
{
    if (from->ifidx != s->cfg.ifidx) {
        s->stats.drop_other_if++;
        return;
    }
    struct dhcps_msg m;
    const char *why = dhcps_parse(b, len, &m);
    if (why == NULL && from->sport != TERN_DHCP_CLIENT_PORT)
        why = "not from port 68";
    if (why) {
        s->stats.drop_malformed++;
        refuse(s, &m, why);
        return;
    }
    if (m.giaddr != 0) {
        s->stats.drop_relay++;
        refuse(s, &m, "through a relay agent (not supported)");
        return;
    }
    switch (m.type) {
    case TERN_DHCP_DISCOVER:
        s->stats.discovers++;
        on_discover(s, &m);
        break;
    case TERN_DHCP_REQUEST:
        s->stats.requests++;
        on_request(s, &m);
        break;
    case TERN_DHCP_DECLINE:
    case TERN_DHCP_RELEASE:
        if (m.type == TERN_DHCP_DECLINE)
            s->stats.declines++;
        else
            s->stats.releases++;
        on_decline_release(s, &m);
        break;
    default:
        s->stats.informs++;
        on_inform(s, &m);
        break;
    }
}

static void on_readable(struct tern_udp_sock *sock, void *arg)
{
    struct tern_dhcp_server *s = arg;
    uint8_t buf[1500];
    size_t len;
    struct tern_udp_from from;
    while (tern_udp_recvmsg(sock, buf, sizeof(buf), &len, &from) == TERN_OK) {
        s->stats.rx++;
        if (len > sizeof(buf)) { /* cut short: no message of ours is this long */
            s->stats.drop_malformed++;
            s->last_refusal = "longer than 1500 bytes";
            continue;
        }
        handle(s, buf, len, &from);
    }
}

/* cfg against the interface; NULL, or why it is refused. */
static const char *check_config(const struct tern_dhcp_server_config *c,
                                const struct tern_netif *nif, uint32_t mask)
{
    if (!nif->configured)
        return "the interface has no address";
    if ((~mask & (~mask + 1)) != 0 || mask == 0 || mask >= 0xfffffffeu)
        return "bad subnet mask";
    uint32_t net = nif->addr & mask;
    if (c->first == 0 || c->first > c->last ||
        (uint64_t)c->last - c->first + 1 > TERN_DHCP_SERVER_POOL_MAX)
        return "bad pool";
    if ((c->first & mask) != net || (c->last & mask) != net || c->first == net ||
        c->last == (net | ~mask))
        return "pool outside the subnet's host addresses";
    if (c->router && (c->router & mask) != net)
        return "router not on the subnet";
    if (c->lease_s < 60 || c->lease_s > (1u << 30) || c->offer_hold_s == 0 ||
        c->decline_hold_s == 0 || c->dns_count > TERN_DHCP_MAX_DNS)
        return "lease, hold or DNS count out of range";
    if (c->domain && c->domain[0] && !dhcp_name_ok((const uint8_t *)c->domain, strlen(c->domain)))
        return "bad domain";
    return NULL;
}

tern_result tern_dhcp_server_start(struct tern_dhcp_server *s, struct tern_net *net,
                                   const struct tern_dhcp_server_config *cfg)
{
    memset(s, 0, sizeof(*s));
    if (cfg->ifidx >= net->if_count)
        return TERN_ENOENT;
    const struct tern_netif *nif = &net->ifs[cfg->ifidx];
    uint32_t mask = cfg->mask ? cfg->mask : nif->mask;
    const char *why = check_config(cfg, nif, mask);
    if (why) {
        tern_log(net->os, TERN_LOG_ERROR, LOG_TAG, "refused: %s", why);
        return TERN_EINVAL;
    }
    s->net = net;
    s->cfg = *cfg;
    s->cfg.domain = NULL;
    if (cfg->domain)
        memcpy(s->domain, cfg->domain, strlen(cfg->domain) + 1);
    s->server_id = nif->addr;
    s->mask = mask;
    s->pool_size = cfg->last - cfg->first + 1;
    if (s->cfg.max_leases == 0)
        s->cfg.max_leases = TERN_DHCP_SERVER_LEASES_DEFAULT;
    if (s->cfg.max_leases > s->pool_size)
        s->cfg.max_leases = s->pool_size;
    s->leases = tern_calloc(net->os, s->cfg.max_leases, sizeof(*s->leases));
    s->taken = tern_calloc(net->os, (s->pool_size + 7) / 8, 1);
    tern_result r = s->leases && s->taken ? TERN_OK : TERN_ENOMEM;
    if (r == TERN_OK)
        r = tern_udp_open(net, TERN_DHCP_SERVER_PORT, on_readable, s, &s->sock);
    if (r != TERN_OK) {
        tern_free(net->os, s->leases);
        tern_free(net->os, s->taken);
        tern_log(net->os, TERN_LOG_ERROR, LOG_TAG, "not started: %s", tern_result_name(r));
        memset(s, 0, sizeof(*s));
        return r;
    }
    tern_timer_init(&s->timer, dhcps_on_timer, s);
    s->running = true;
    dhcps_clear_table(s);
    char a[16], b[16];
    tern_ipv4_format(cfg->first, a);
    tern_ipv4_format(cfg->last, b);
    tern_log(net->os, TERN_LOG_INFO, LOG_TAG, "serving %s: %s-%s, %u leases of %u s", nif->name,
             a, b, (unsigned)s->cfg.max_leases, (unsigned)s->cfg.lease_s);
    return TERN_OK;
}

void tern_dhcp_server_stop(struct tern_dhcp_server *s)
{
    if (!s->running)
        return;
    tern_timer_disarm(s->net->os, &s->timer);
    tern_udp_close(s->sock);
    tern_free(s->net->os, s->leases);
    tern_free(s->net->os, s->taken);
    s->sock = NULL;
    s->leases = NULL;
    s->taken = NULL;
    s->running = false;
}
