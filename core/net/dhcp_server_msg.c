/*
 * Interface: see dhcp_server_internal.h. A client's message in, a
 * server's reply out (RFC 2131 sections 2, 4.1, 4.3; RFC 2132; the
 * client identifier echoed as RFC 6842 asks).
 */
#include <string.h>

#include "dhcp_server_internal.h"
#include "tern/fmt.h"
#include "tern/inet.h"
#include "tern/os.h"

#define BAD_LEN "bad option length"

static const uint8_t bcast_mac[TERN_MAC_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* The options a server reads (dhcp_opt_fn over a struct dhcps_msg). */
static const char *take_option(void *arg, uint8_t code, const uint8_t *v, size_t n)
{
    struct dhcps_msg *m = arg;
    switch (code) {
    case 12: /* host name: recorded when it is a plain name, else ignored */
        if (n == 0)
            return BAD_LEN;
        if (dhcp_name_ok(v, n)) {
            memcpy(m->hostname, v, n);
            m->hostname[n] = '\0';
        }
        break;
    case 50:
    case 54:
        if (n != 4)
            return BAD_LEN;
        if (code == 50)
            m->requested = tern_load_be32(v);
        else
            m->server_id = tern_load_be32(v);
        break;
    case 51:
        if (n != 4)
            return BAD_LEN; /* a requested lease time: the configured one is given */
        break;
    case 53:
        if (n != 1)
            return BAD_LEN;
        m->type = v[0];
        break;
    case 55:
        if (n == 0)
            return BAD_LEN; /* the reply's options are always the same set */
        break;
    case 57:
        if (n != 2)
            return BAD_LEN;
        if (tern_load_be16(v) < DHCP_MSG_MAX)
            return "maximum message size below 576";
        break;
    case 61:
        if (n < 2)
            return BAD_LEN;
        if (n > TERN_DHCP_CLIENT_ID_MAX)
            return "client identifier too long";
        memcpy(m->id, v, n);
        m->id_len = (uint8_t)n;
        m->sent_id = true;
        break;
    default:
        break; /* options a server does not use are skipped */
    }
    return NULL;
}

const char *dhcps_parse(const uint8_t *b, size_t len, struct dhcps_msg *m)
{
    memset(m, 0, sizeof(*m));
    if (len < DHCP_MIN_LEN)
        return "truncated header";
    if (b[0] != 1)
        return "not a request (op)";
    if (b[1] != 1 || b[2] != 6)
        return "not Ethernet";
    if (tern_load_be32(b + DHCP_BOOTP_HLEN) != DHCP_MAGIC)
        return "no magic cookie";
    m->xid = tern_load_be32(b + 4);
    m->flags = tern_load_be16(b + 10);
    m->ciaddr = tern_load_be32(b + 12);
    m->giaddr = tern_load_be32(b + 24);
    memcpy(m->chaddr, b + 28, TERN_MAC_LEN);
    static const uint8_t zero[TERN_MAC_LEN];
    if ((m->chaddr[0] & 1) || memcmp(m->chaddr, zero, TERN_MAC_LEN) == 0)
        return "bad hardware address";
    const char *why = dhcp_walk_options(b, len, take_option, m);
    if (why)
        return why;
    if (m->type == 0)
        return "no message type";
    if (m->type != TERN_DHCP_DISCOVER && m->type != TERN_DHCP_REQUEST &&
        m->type != TERN_DHCP_DECLINE && m->type != TERN_DHCP_RELEASE &&
        m->type != TERN_DHCP_INFORM)
        return "not a client message";
    if (!m->sent_id) { /* RFC 2131 4.2: the hardware type and address name it */
        m->id[0] = 1;
        memcpy(m->id + 1, m->chaddr, TERN_MAC_LEN);
        m->id_len = 1 + TERN_MAC_LEN;
    }
    return NULL;
}

void dhcps_mac_text(const uint8_t mac[TERN_MAC_LEN], char out[18])
{
    tern_snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                  mac[4], mac[5]);
}

static size_t put_addr(uint8_t *b, size_t i, uint8_t code, uint32_t addr)
{
    uint8_t v[4];
    tern_store_be32(v, addr);
    return dhcp_put_opt(b, i, code, v, 4);
}

/* The options after the type and server id: the lease, the subnet's. */
static size_t put_config(const struct tern_dhcp_server *s, uint8_t *b, size_t i, bool with_lease)
{
    if (with_lease) {
        uint32_t lease = s->cfg.lease_s;
        i = put_addr(b, i, 51, lease);
        i = put_addr(b, i, 58, lease / 2);                       /* T1 */
        i = put_addr(b, i, 59, (uint32_t)((uint64_t)lease * 7 / 8)); /* T2 */
    }
    i = put_addr(b, i, 1, s->mask);
    if (s->cfg.router)
        i = put_addr(b, i, 3, s->cfg.router);
    if (s->cfg.dns_count) {
        uint8_t v[4 * TERN_DHCP_MAX_DNS];
        for (unsigned k = 0; k < s->cfg.dns_count; k++)
            tern_store_be32(v + 4 * k, s->cfg.dns[k]);
        i = dhcp_put_opt(b, i, 6, v, (uint8_t)(4 * s->cfg.dns_count));
    }
    if (s->domain[0])
        i = dhcp_put_opt(b, i, 15, s->domain, (uint8_t)strlen(s->domain));
    return i;
}

/* The reply in b (DHCP_MSG_MAX bytes); returns its length. */
static size_t build(const struct tern_dhcp_server *s, const struct dhcps_msg *m, uint8_t type,
                    uint32_t yiaddr, bool with_lease, const char *why, uint8_t *b)
{
    memset(b, 0, DHCP_MSG_MAX);
    b[0] = 2;                                           /* op: reply */
    b[1] = 1;                                           /* htype: Ethernet */
    b[2] = 6;                                           /* hlen */
    tern_store_be32(b + 4, m->xid);
    tern_store_be16(b + 10, m->flags);                  /* the client's broadcast flag */
    if (type != TERN_DHCP_NAK)
        tern_store_be32(b + 12, m->ciaddr);             /* ciaddr: ACK to a bound client */
    tern_store_be32(b + 16, yiaddr);
    memcpy(b + 28, m->chaddr, TERN_MAC_LEN);
    tern_store_be32(b + DHCP_BOOTP_HLEN, DHCP_MAGIC);
    size_t i = DHCP_MIN_LEN;
    i = dhcp_put_opt(b, i, 53, &type, 1);
    i = put_addr(b, i, 54, s->server_id);
    if (type == TERN_DHCP_NAK)
        i = dhcp_put_opt(b, i, 56, why, (uint8_t)strlen(why)); /* message */
    else
        i = put_config(s, b, i, with_lease);
    if (m->sent_id)
        i = dhcp_put_opt(b, i, 61, m->id, m->id_len);
    b[i++] = DHCP_OPT_END;
    return i < 300 ? 300 : i;                           /* BOOTP minimum */
}

void dhcps_reply(struct tern_dhcp_server *s, const struct dhcps_msg *m, uint8_t type,
                 uint32_t yiaddr, bool with_lease, const char *why)
{
    uint8_t b[DHCP_MSG_MAX];
    size_t n = build(s, m, type, yiaddr, with_lease, why ? why : "", b);
    /* RFC 2131 4.1 without relays: NAK broadcast; else ciaddr, else
     * broadcast when the client asked, else the offered address at its
     * hardware address (it cannot answer ARP yet). */
    uint32_t dst = 0xffffffffu;
    const uint8_t *mac = bcast_mac;
    if (type != TERN_DHCP_NAK && m->ciaddr) {
        dst = m->ciaddr;
        mac = m->chaddr;
    } else if (type != TERN_DHCP_NAK && !(m->flags & DHCPS_FLAG_BROADCAST)) {
        dst = yiaddr;
        mac = m->chaddr;
    }
    tern_result r = tern_udp_sendto_link(s->sock, s->cfg.ifidx, dst, mac, TERN_DHCP_CLIENT_PORT,
                                         b, n);
    if (r != TERN_OK) {
        s->stats.send_failed++;
        return;
    }
    if (type == TERN_DHCP_OFFER)
        s->stats.offers++;
    else if (type == TERN_DHCP_ACK)
        s->stats.acks++;
    else
        s->stats.naks++;
}
