/*
 * Interface: see dhcp.h. The wire format (header, cookie, the option
 * walk with overload) is dhcp_wire.h's, shared with the server.
 */
#include <string.h>

#include "dhcp_wire.h"
#include "net_internal.h"
#include "tern/dhcp.h"

#define MSG_MAX DHCP_MSG_MAX

/* ---- parsing ---- */

/* RFC 3442: (width, significant octets of the destination, router)*. */
static bool parse_routes(const uint8_t *p, size_t n, struct tern_dhcp_msg *m)
{
    size_t i = 0;
    m->route_count = 0;
    while (i < n) {
        uint8_t width = p[i++];
        if (width > 32)
            return false;
        size_t sig = (width + 7u) / 8u;
        if (n - i < sig + 4)
            return false;
        uint8_t dst[4] = { 0, 0, 0, 0 };
        memcpy(dst, p + i, sig);
        i += sig;
        uint32_t mask = width ? (uint32_t)(0xffffffffull << (32 - width)) : 0;
        uint32_t d = tern_load_be32(dst);
        if ((d & ~mask) != 0)
            return false; /* bits set beyond the prefix */
        if (m->route_count == TERN_DHCP_MAX_ROUTES)
            return false;
        struct tern_dhcp_route *r = &m->routes[m->route_count++];
        r->dst = d;
        r->mask = mask;
        r->gw = tern_load_be32(p + i);
        i += 4;
    }
    return m->route_count > 0;
}

#define BAD_LEN "bad option length"

/* The options a client uses (dhcp_opt_fn over a struct tern_dhcp_msg). */
static const char *take_option(void *arg, uint8_t code, const uint8_t *v, size_t olen)
{
    struct tern_dhcp_msg *m = arg;
    switch (code) {
    case 1:
        if (olen != 4)
            return BAD_LEN;
        m->mask = tern_load_be32(v);
        if ((~m->mask & (~m->mask + 1)) != 0 || m->mask == 0)
            return "non-contiguous mask";
        m->has_mask = true;
        break;
    case 3:
        if (olen < 4 || olen % 4)
            return BAD_LEN;
        m->router = tern_load_be32(v);
        break;
    case 6:
        if (olen < 4 || olen % 4)
            return BAD_LEN;
        for (size_t k = 0; k < olen / 4 && m->dns_count < TERN_DHCP_MAX_DNS; k++)
            m->dns[m->dns_count++] = tern_load_be32(v + 4 * k);
        break;
    case 15:
        if (!dhcp_name_ok(v, olen))
            return "bad domain name";
        memcpy(m->domain, v, olen);
        m->domain[olen] = '\0';
        break;
    case 26:
        if (olen != 2)
            return BAD_LEN;
        m->mtu = tern_load_be16(v);
        if (m->mtu < 68)
            return "MTU below 68";
        break;
    case 51:
    case 58:
    case 59:
        if (olen != 4)
            return BAD_LEN;
        if (code == 51)
            m->lease_s = tern_load_be32(v);
        else if (code == 58)
            m->t1_s = tern_load_be32(v);
        else
            m->t2_s = tern_load_be32(v);
        break;
    case 53:
        if (olen != 1)
            return BAD_LEN;
        m->type = v[0];
        if (m->type < TERN_DHCP_DISCOVER || m->type > TERN_DHCP_INFORM)
            return "unknown message type";
        break;
    case 54:
        if (olen != 4)
            return BAD_LEN;
        m->server_id = tern_load_be32(v);
        break;
    case 121:
        if (!parse_routes(v, olen, m))
            return "bad classless routes";
        m->has_routes = true;
        break;
    default:
        break; /* options we do not use are skipped */
    }
    return NULL;
}

tern_result tern_dhcp_parse(const void *msg, size_t len, struct tern_dhcp_msg *out,
                            const char **why)
{
    const uint8_t *b = msg;
    struct tern_dhcp_msg m;
    memset(&m, 0, sizeof(m));
    const char *dummy;
    if (why == NULL)
        why = &dummy;
    if (len < DHCP_MIN_LEN) {
        *why = "truncated header";
        return TERN_EPROTO;
    }
    if (b[0] != 2 || b[1] != 1 || b[2] != 6) {
        *why = "not a reply for Ethernet";
        return TERN_EPROTO;
    }
    if (tern_load_be32(b + DHCP_BOOTP_HLEN) != DHCP_MAGIC) {
        *why = "no magic cookie";
        return TERN_EPROTO;
    }
    m.op = b[0];
    m.xid = tern_load_be32(b + 4);
    m.yiaddr = tern_load_be32(b + 16);
    memcpy(m.chaddr, b + 28, 6);
    const char *bad = dhcp_walk_options(b, len, take_option, &m);
    if (bad == NULL && m.type == 0)
        bad = "no message type";
    if (bad) {
        *why = bad;
        return TERN_EPROTO;
    }
    *out = m;
    return TERN_OK;
}

/* ---- the client ---- */

static uint64_t now_ms(const struct tern_dhcp *d)
{
    return tern_now_ms(d->net->os);
}

/* A fresh transaction id for the next exchange. false when the entropy
 * source failed (counted, logged): there is then no xid, nothing is sent
 * and no reply is taken until a later draw succeeds (send_msg retries it
 * at each retransmission time). */
static bool draw_xid(struct tern_dhcp *d)
{
    uint32_t v;
    d->have_xid = tern_entropy(d->net->os, &v, sizeof(v), "dhcp",
                               "a transaction id (nothing sent)") == TERN_OK;
    d->xid = d->have_xid ? v : 0;
    if (!d->have_xid)
        d->stats.entropy_refused++;
    return d->have_xid;
}

static void arm(struct tern_dhcp *d, uint64_t at_ms)
{
    tern_timer_arm(d->net->os, &d->timer, at_ms * 1000000u);
}

/* 4, 8, 16, 32, 64 s (capped), each +-1 s. The jitter is no secret:
 * without entropy it is 0 (the failure is still counted and logged). */
static void arm_backoff(struct tern_dhcp *d)
{
    unsigned shift = d->tries < 4 ? d->tries : 4;
    uint64_t base = 4000u << shift;
    uint32_t r = 1000;
    if (d->have_xid) /* after a refused xid, one logged failure is enough */
        (void)tern_entropy(d->net->os, &r, sizeof(r), "dhcp",
                           "a retransmission jitter (none used)");
    arm(d, now_ms(d) + base - 1000 + r % 2001u);
}

static void send_msg(struct tern_dhcp *d, uint8_t type, uint32_t dst)
{
    if (!d->have_xid && !draw_xid(d))
        return; /* refused: no message with a predictable xid */
    struct tern_netif *nif = &d->net->ifs[0];
    uint8_t b[MSG_MAX];
    memset(b, 0, sizeof(b));
    b[0] = 1;                                      /* op: request */
    b[1] = 1;                                      /* htype: Ethernet */
    b[2] = 6;                                      /* hlen */
    tern_store_be32(b + 4, d->xid);
    uint64_t secs = (now_ms(d) - d->started_ms) / 1000u;
    tern_store_be16(b + 8, (uint16_t)(secs > 65535 ? 65535 : secs));
    bool have_addr = d->state == TERN_DHCP_RENEWING || d->state == TERN_DHCP_REBINDING;
    if (!have_addr)
        tern_store_be16(b + 10, 0x8000);           /* flags: broadcast replies */
    else
        tern_store_be32(b + 12, nif->addr);        /* ciaddr */
    memcpy(b + 28, nif->mac, 6);                   /* chaddr */
    tern_store_be32(b + DHCP_BOOTP_HLEN, DHCP_MAGIC);
    size_t i = DHCP_MIN_LEN;
    i = dhcp_put_opt(b, i, 53, &type, 1);
    uint8_t v4[4];
    if (type == TERN_DHCP_REQUEST && d->state == TERN_DHCP_REQUESTING) {
        tern_store_be32(v4, d->offered);
        i = dhcp_put_opt(b, i, 50, v4, 4);              /* requested address */
        tern_store_be32(v4, d->server);
        i = dhcp_put_opt(b, i, 54, v4, 4);              /* server identifier */
    }
    uint8_t cid[7] = { 1 };                        /* client id: type 1 + MAC */
    memcpy(cid + 1, nif->mac, 6);
    i = dhcp_put_opt(b, i, 61, cid, sizeof(cid));
    size_t hlen = strlen(d->hostname);
    if (hlen > 0)
        i = dhcp_put_opt(b, i, 12, d->hostname, (uint8_t)hlen); /* host name */
    uint8_t maxsz[2];
    tern_store_be16(maxsz, MSG_MAX);
    i = dhcp_put_opt(b, i, 57, maxsz, 2);
    static const uint8_t params[] = { 1, 3, 6, 15, 26, 51, 58, 59, 121 };
    i = dhcp_put_opt(b, i, 55, params, sizeof(params));
    b[i++] = DHCP_OPT_END;
    if (i < 300)
        i = 300;                                   /* BOOTP minimum, for old relays */
    if (tern_udp_sendto(d->sock, dst, TERN_DHCP_SERVER_PORT, b, i) == TERN_OK)
        d->stats.sent++;
}

static void start_discover(struct tern_dhcp *d)
{
    d->state = TERN_DHCP_SELECTING;
    d->have_xid = false; /* send_msg draws a new one */
    d->tries = 0;
    d->started_ms = now_ms(d);
    send_msg(d, TERN_DHCP_DISCOVER, 0xffffffffu);
    arm_backoff(d);
}

static void lose_lease(struct tern_dhcp *d)
{
    struct tern_netif *nif = &d->net->ifs[0];
    bool had = nif->configured;
    tern_net_set_addr(d->net, 0, 0, 0, 0);
    nif->mtu = d->dev_mtu;
    memset(&d->lease, 0, sizeof(d->lease));
    if (had && d->on_event)
        d->on_event(d, TERN_DHCP_EV_LOST, d->arg);
    start_discover(d);
}

static uint32_t classful_mask(uint32_t a)
{
    if ((a >> 31) == 0)
        return 0xff000000u;
    if ((a >> 30) == 2)
        return 0xffff0000u;
    return 0xffffff00u;
}

static void apply_lease(struct tern_dhcp *d, const struct tern_dhcp_msg *m)
{
    struct tern_net *net = d->net;
    struct tern_netif *nif = &net->ifs[0];
    bool renewal = d->state == TERN_DHCP_RENEWING || d->state == TERN_DHCP_REBINDING;
    uint32_t mask = m->has_mask ? m->mask : classful_mask(m->yiaddr);
    uint32_t gw = m->router;
    if (m->has_routes) { /* RFC 3442: option 121 replaces option 3 */
        gw = 0;
        for (unsigned k = 0; k < m->route_count; k++) {
            if (m->routes[k].mask == 0)
                gw = m->routes[k].gw;
        }
    }
    if (gw && (gw & mask) != (m->yiaddr & mask)) {
        tern_log(net->os, TERN_LOG_WARN, "dhcp", "router not on-link; no default route");
        gw = 0;
    }
    bool changed = !nif->configured || nif->addr != m->yiaddr || nif->mask != mask ||
                   nif->gw != gw;
    if (tern_net_set_addr(net, 0, m->yiaddr, mask, gw) != TERN_OK) {
        d->stats.drop_malformed++;
        d->last_refusal = "unusable address";
        lose_lease(d);
        return;
    }
    nif->mtu = (m->mtu >= 576 && m->mtu < d->dev_mtu) ? m->mtu : d->dev_mtu;
    d->lease = *m;
    uint32_t lease = m->lease_s ? m->lease_s : 3600;
    if (lease < 10)
        lease = 10;
    uint32_t t1 = m->t1_s, t2 = m->t2_s;
    if (t2 == 0 || t2 >= lease)
        t2 = (uint32_t)((uint64_t)lease * 7 / 8);
    if (t1 == 0 || t1 >= t2)
        t1 = lease / 2;
    d->lease.lease_s = lease;
    d->lease.t1_s = t1;
    d->lease.t2_s = t2;
    d->bound_ms = now_ms(d);
    d->state = TERN_DHCP_BOUND;
    d->tries = 0;
    arm(d, d->bound_ms + (uint64_t)t1 * 1000u);
    if (changed)
        tern_net_announce(net, 0, "dhcp");
    tern_log(net->os, TERN_LOG_INFO, "dhcp", "lease %s: %u s (T1 %u s, T2 %u s)",
             renewal ? "renewed" : "bound", (unsigned)lease, (unsigned)t1, (unsigned)t2);
    if (d->on_event)
        d->on_event(d, renewal ? TERN_DHCP_EV_RENEWED : TERN_DHCP_EV_BOUND, d->arg);
}

static void on_readable(struct tern_udp_sock *sock, void *arg)
{
    struct tern_dhcp *d = arg;
    uint8_t buf[1500];
    size_t len;
    uint16_t sport;
    while (tern_udp_recvfrom(sock, buf, sizeof(buf), &len, NULL, &sport) == TERN_OK) {
        struct tern_dhcp_msg m;
        if (len > sizeof(buf) || sport != TERN_DHCP_SERVER_PORT ||
            tern_dhcp_parse(buf, len, &m, &d->last_refusal) != TERN_OK) {
            d->stats.drop_malformed++;
            continue;
        }
        if (memcmp(m.chaddr, d->net->ifs[0].mac, 6) != 0) {
            d->stats.drop_not_ours++;
            continue;
        }
        if (!d->have_xid || m.xid != d->xid || d->state == TERN_DHCP_STOPPED) {
            d->stats.drop_xid++;
            continue;
        }
        uint32_t y = m.yiaddr;
        bool addr_ok = y != 0 && (y >> 24) != 127 && (y >> 24) != 0 && (y >> 28) < 14;
        if (m.type == TERN_DHCP_OFFER && d->state == TERN_DHCP_SELECTING) {
            if (!addr_ok || m.server_id == 0) {
                d->stats.drop_malformed++;
                d->last_refusal = "offer without usable address or server id";
                continue;
            }
            d->stats.offers++;
            d->offered = y;
            d->server = m.server_id;
            d->state = TERN_DHCP_REQUESTING;
            d->tries = 0;
            send_msg(d, TERN_DHCP_REQUEST, 0xffffffffu);
            arm_backoff(d);
        } else if (m.type == TERN_DHCP_ACK &&
                   (d->state == TERN_DHCP_REQUESTING || d->state == TERN_DHCP_RENEWING ||
                    d->state == TERN_DHCP_REBINDING)) {
            if (!addr_ok || (d->state == TERN_DHCP_REQUESTING && y != d->offered)) {
                d->stats.drop_malformed++;
                d->last_refusal = "ack for another address";
                continue;
            }
            d->stats.acks++;
            if (d->state == TERN_DHCP_RENEWING)
                d->stats.renewals++;
            else if (d->state == TERN_DHCP_REBINDING)
                d->stats.rebinds++;
            apply_lease(d, &m);
        } else if (m.type == TERN_DHCP_NAK &&
                   (d->state == TERN_DHCP_REQUESTING || d->state == TERN_DHCP_RENEWING ||
                    d->state == TERN_DHCP_REBINDING)) {
            d->stats.naks++;
            lose_lease(d);
        } else {
            d->stats.drop_unexpected++;
        }
    }
}

static void on_timer(struct tern_timer *t, void *arg)
{
    (void)t;
    struct tern_dhcp *d = arg;
    uint64_t now = now_ms(d);
    uint64_t t2_at = d->bound_ms + (uint64_t)d->lease.t2_s * 1000u;
    uint64_t end_at = d->bound_ms + (uint64_t)d->lease.lease_s * 1000u;
    switch (d->state) {
    case TERN_DHCP_SELECTING:
        d->tries++;
        send_msg(d, TERN_DHCP_DISCOVER, 0xffffffffu);
        arm_backoff(d);
        break;
    case TERN_DHCP_REQUESTING:
        if (++d->tries >= 4) { /* the offer went stale: start over */
            start_discover(d);
            break;
        }
        send_msg(d, TERN_DHCP_REQUEST, 0xffffffffu);
        arm_backoff(d);
        break;
    case TERN_DHCP_BOUND:
        d->state = TERN_DHCP_RENEWING;
        d->have_xid = false;
        d->started_ms = now;
        /* fall through */
    case TERN_DHCP_RENEWING:
        if (now >= t2_at) {
            d->state = TERN_DHCP_REBINDING;
            d->have_xid = false;
            goto rebinding;
        }
        send_msg(d, TERN_DHCP_REQUEST, d->lease.server_id ? d->lease.server_id : 0xffffffffu);
        {
            uint64_t wait = (t2_at - now) / 2;
            arm(d, now + (wait < 60000 ? (t2_at - now < 60000 ? t2_at - now : 60000) : wait));
        }
        break;
    case TERN_DHCP_REBINDING:
    rebinding:
        if (now >= end_at) {
            d->stats.expiries++;
            tern_log(d->net->os, TERN_LOG_WARN, "dhcp", "lease expired");
            lose_lease(d);
            break;
        }
        send_msg(d, TERN_DHCP_REQUEST, 0xffffffffu);
        {
            uint64_t wait = (end_at - now) / 2;
            arm(d, now + (wait < 60000 ? (end_at - now < 60000 ? end_at - now : 60000) : wait));
        }
        break;
    case TERN_DHCP_STOPPED:
        break;
    }
}

tern_result tern_dhcp_start(struct tern_dhcp *d, struct tern_net *net, tern_dhcp_event_fn cb,
                            void *arg)
{
    return tern_dhcp_start_opts(d, net, NULL, cb, arg);
}

tern_result tern_dhcp_start_opts(struct tern_dhcp *d, struct tern_net *net,
                                 const struct tern_dhcp_opts *o, tern_dhcp_event_fn cb, void *arg)
{
    memset(d, 0, sizeof(*d));
    const char *name = o && o->hostname ? o->hostname : "";
    size_t nlen = strlen(name);
    if (nlen > 0 && !dhcp_name_ok((const uint8_t *)name, nlen))
        return TERN_EINVAL;
    memcpy(d->hostname, name, nlen + 1);
    if (net->if_count == 0)
        return TERN_ENOENT;
    d->net = net;
    d->on_event = cb;
    d->arg = arg;
    d->dev_mtu = net->ifs[0].mtu;
    tern_result r = tern_udp_open(net, TERN_DHCP_CLIENT_PORT, on_readable, d, &d->sock);
    if (r != TERN_OK)
        return r;
    tern_timer_init(&d->timer, on_timer, d);
    start_discover(d);
    if (!d->have_xid) { /* refused at once: the caller learns it */
        tern_dhcp_stop(d);
        return TERN_EIO;
    }
    return TERN_OK;
}

void tern_dhcp_stop(struct tern_dhcp *d)
{
    if (d->state == TERN_DHCP_STOPPED)
        return;
    tern_timer_disarm(d->net->os, &d->timer);
    tern_udp_close(d->sock);
    d->sock = NULL;
    d->state = TERN_DHCP_STOPPED;
}
