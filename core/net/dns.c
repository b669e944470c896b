/*
 * Interface: see dns.h. Wire format: RFC 1035 section 4 (12-byte header,
 * question, then resource records: owner name, type, class, TTL, rdlength,
 * rdata); names may be compressed with 14-bit offsets (section 4.1.4).
 */
#include <string.h>

#include "net_internal.h"
#include "tern/dns.h"

#define DNS_HLEN 12
#define DNS_PORT 53
#define TYPE_A 1
#define TYPE_CNAME 5
#define CLASS_IN 1
#define MAX_RECORDS 32
#define QUERY_MAX 300

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Decodes the name at off into out (lower case, dotted, "" for the root)
 * and sets *next to the offset after it in place. Pointers must point
 * strictly before the pointer itself: every jump goes backwards, so no
 * loop can exist. false with *why on any violation. */
static bool read_name(const uint8_t *m, size_t len, size_t off, char out[TERN_DNS_NAME_MAX],
                      size_t *next, const char **why)
{
    size_t pos = off, o = 0, wire = 0;
    bool jumped = false;
    for (;;) {
        if (pos >= len) {
            *why = "name past the end";
            return false;
        }
        uint8_t l = m[pos];
        if ((l & 0xc0) == 0xc0) {
            if (pos + 1 >= len) {
                *why = "name past the end";
                return false;
            }
            size_t ptr = ((size_t)(l & 0x3f) << 8) | m[pos + 1];
            if (ptr >= pos) {
                *why = "compression pointer not backwards";
                return false;
            }
            if (!jumped)
                *next = pos + 2;
            jumped = true;
            pos = ptr;
            continue;
        }
        if (l & 0xc0) {
            *why = "reserved label type";
            return false;
        }
        if (l == 0) {
            if (!jumped)
                *next = pos + 1;
            out[o] = '\0';
            return true;
        }
        wire += 1u + l;
        if (wire + 1 > 255) {
            *why = "name longer than 255";
            return false;
        }
        if (pos + 1 + l > len) {
            *why = "label past the end";
            return false;
        }
        if (o > 0)
            out[o++] = '.';
        for (size_t k = 0; k < l; k++)
            out[o++] = lower((char)m[pos + 1 + k]);
        pos += 1u + l;
    }
}

/* Lower-cased copy of name without a trailing dot; false if too long. */
static bool canon(const char *name, char out[TERN_DNS_NAME_MAX])
{
    size_t n = strlen(name);
    if (n > 0 && name[n - 1] == '.')
        n--;
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++)
        out[i] = lower(name[i]);
    out[n] = '\0';
    return true;
}

size_t tern_dns_build_query(uint8_t *buf, size_t cap, uint16_t id, const char *name)
{
    char c[TERN_DNS_NAME_MAX];
    if (!canon(name, c) || cap < DNS_HLEN + strlen(c) + 2 + 4)
        return 0;
    memset(buf, 0, DNS_HLEN);
    tern_store_be16(buf, id);
    tern_store_be16(buf + 2, 0x0100);   /* RD: recursion desired */
    tern_store_be16(buf + 4, 1);        /* one question */
    size_t o = DNS_HLEN;
    const char *p = c;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l == 0 || l > 63)
            return 0;
        buf[o++] = (uint8_t)l;
        for (size_t k = 0; k < l; k++) {
            char ch = p[k];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
                return 0;
            buf[o++] = (uint8_t)ch;
        }
        p += l;
        if (*p == '.')
            p++;
    }
    buf[o++] = 0;
    tern_store_be16(buf + o, TYPE_A);
    tern_store_be16(buf + o + 2, CLASS_IN);
    return o + 4;
}

struct rr {
    size_t owner;      /* offset of the owner name */
    uint16_t type;
    uint32_t ttl;
    size_t rdata, rdlen;
};

/* Walks count records from *pos, keeping the first MAX_RECORDS answers. */
static bool walk_records(const uint8_t *m, size_t len, size_t *pos, unsigned count,
                         struct rr *keep, unsigned *kept, const char **why)
{
    char name[TERN_DNS_NAME_MAX];
    for (unsigned i = 0; i < count; i++) {
        size_t owner = *pos, next;
        if (!read_name(m, len, *pos, name, &next, why))
            return false;
        if (len - next < 10) {
            *why = "record past the end";
            return false;
        }
        uint16_t type = tern_load_be16(m + next);
        uint16_t cls = tern_load_be16(m + next + 2);
        uint32_t ttl = tern_load_be32(m + next + 4);
        size_t rdlen = tern_load_be16(m + next + 8);
        size_t rdata = next + 10;
        if (rdlen > len - rdata) {
            *why = "record past the end";
            return false;
        }
        if (ttl & 0x80000000u)
            ttl = 0; /* RFC 2181 8: a TTL with the top bit set means 0 */
        if (keep && cls == CLASS_IN && (type == TYPE_A || type == TYPE_CNAME)) {
            if (type == TYPE_A && rdlen != 4) {
                *why = "A record length not 4";
                return false;
            }
            if (type == TYPE_CNAME) {
                size_t end;
                if (!read_name(m, len, rdata, name, &end, why))
                    return false;
                if (end != rdata + rdlen) {
                    *why = "CNAME length disagrees";
                    return false;
                }
            }
            if (*kept < MAX_RECORDS)
                keep[(*kept)++] = (struct rr){ owner, type, ttl, rdata, rdlen };
        }
        *pos = rdata + rdlen;
    }
    return true;
}

static bool owner_is(const uint8_t *m, size_t len, const struct rr *r, const char *name)
{
    char o[TERN_DNS_NAME_MAX];
    size_t next;
    const char *why;
    return read_name(m, len, r->owner, o, &next, &why) && strcmp(o, name) == 0;
}

tern_result tern_dns_parse(const void *msg, size_t len, const char *qname,
                           struct tern_dns_answer *out, const char **why)
{
    const uint8_t *m = msg;
    const char *dummy;
    if (why == NULL)
        why = &dummy;
    char want[TERN_DNS_NAME_MAX];
    if (!canon(qname, want)) {
        *why = "bad question name";
        return TERN_EPROTO;
    }
    if (len < DNS_HLEN) {
        *why = "truncated header";
        return TERN_EPROTO;
    }
    uint16_t flags = tern_load_be16(m + 2);
    if (!(flags & 0x8000) || ((flags >> 11) & 15) != 0) {
        *why = "not a standard response";
        return TERN_EPROTO;
    }
    if (flags & 0x0200) {
        *why = "truncated (TC)";
        return TERN_EPROTO;
    }
    if (tern_load_be16(m + 4) != 1) {
        *why = "question count not 1";
        return TERN_EPROTO;
    }
    unsigned an = tern_load_be16(m + 6), ns = tern_load_be16(m + 8),
             ar = tern_load_be16(m + 10);
    char q[TERN_DNS_NAME_MAX];
    size_t pos;
    if (!read_name(m, len, DNS_HLEN, q, &pos, why))
        return TERN_EPROTO;
    if (len - pos < 4) {
        *why = "question past the end";
        return TERN_EPROTO;
    }
    if (strcmp(q, want) != 0 || tern_load_be16(m + pos) != TYPE_A ||
        tern_load_be16(m + pos + 2) != CLASS_IN) {
        *why = "question mismatch";
        return TERN_EPROTO;
    }
    pos += 4;
    struct rr recs[MAX_RECORDS];
    unsigned kept = 0;
    if (!walk_records(m, len, &pos, an, recs, &kept, why) ||
        !walk_records(m, len, &pos, ns, NULL, NULL, why) ||
        !walk_records(m, len, &pos, ar, NULL, NULL, why))
        return TERN_EPROTO;

    struct tern_dns_answer a;
    memset(&a, 0, sizeof(a));
    a.id = tern_load_be16(m);
    a.rcode = (uint8_t)(flags & 15);
    a.ttl = UINT32_MAX;
    char cur[TERN_DNS_NAME_MAX];
    memcpy(cur, want, sizeof(cur));
    for (unsigned hop = 0; hop <= TERN_DNS_MAX_CNAMES && a.rcode == 0; hop++) {
        for (unsigned i = 0; i < kept; i++) {
            if (recs[i].type == TYPE_A && a.addr_count < TERN_DNS_MAX_ADDRS &&
                owner_is(m, len, &recs[i], cur)) {
                a.addrs[a.addr_count++] = tern_load_be32(m + recs[i].rdata);
                if (recs[i].ttl < a.ttl)
                    a.ttl = recs[i].ttl;
            }
        }
        if (a.addr_count > 0)
            break;
        bool followed = false;
        for (unsigned i = 0; i < kept && !followed; i++) {
            if (recs[i].type == TYPE_CNAME && owner_is(m, len, &recs[i], cur)) {
                size_t end;
                if (!read_name(m, len, recs[i].rdata, cur, &end, why))
                    return TERN_EPROTO;
                if (recs[i].ttl < a.ttl)
                    a.ttl = recs[i].ttl;
                followed = true;
            }
        }
        if (!followed)
            break;
    }
    memcpy(a.final_name, cur, sizeof(cur));
    a.cname_pending = a.addr_count == 0 && strcmp(cur, want) != 0;
    if (a.ttl == UINT32_MAX)
        a.ttl = 0;
    *out = a;
    return TERN_OK;
}

/* ---- the resolver ---- */

static uint64_t now_ms(const struct tern_dns *d)
{
    return tern_now_ms(d->net->os);
}

/* A fresh query id. TERN_EIO when the entropy source failed (counted,
 * logged): the query is then refused, nothing is sent. */
static tern_result draw_id(struct tern_dns *d, uint16_t *id)
{
    if (tern_entropy(d->net->os, id, sizeof(*id), "dns", "a query id (query not sent)") ==
        TERN_OK)
        return TERN_OK;
    d->stats.entropy_refused++;
    return TERN_EIO;
}

static struct tern_dns_cache_entry *cache_find(struct tern_dns *d, const char *name)
{
    uint64_t now = now_ms(d);
    for (unsigned i = 0; i < TERN_DNS_CACHE_ENTRIES; i++) {
        struct tern_dns_cache_entry *e = &d->cache[i];
        if (e->expires_ms > now && strcmp(e->name, name) == 0)
            return e;
    }
    return NULL;
}

static void cache_put(struct tern_dns *d, const char *name, const uint32_t *addrs, unsigned n,
                      uint32_t ttl_s)
{
    if (ttl_s == 0)
        return;
    if (ttl_s > d->max_ttl_s)
        ttl_s = d->max_ttl_s;
    uint64_t now = now_ms(d);
    struct tern_dns_cache_entry *slot = NULL;
    for (unsigned i = 0; i < TERN_DNS_CACHE_ENTRIES && slot == NULL; i++) {
        if (d->cache[i].expires_ms > now && strcmp(d->cache[i].name, name) == 0)
            slot = &d->cache[i];
    }
    for (unsigned i = 0; i < TERN_DNS_CACHE_ENTRIES && slot == NULL; i++) {
        if (d->cache[i].expires_ms <= now)
            slot = &d->cache[i];
    }
    if (slot == NULL) {
        slot = &d->cache[0];
        for (unsigned i = 1; i < TERN_DNS_CACHE_ENTRIES; i++) {
            if (d->cache[i].expires_ms < slot->expires_ms)
                slot = &d->cache[i];
        }
    }
    memcpy(slot->name, name, TERN_DNS_NAME_MAX);
    if (n > 0)
        memcpy(slot->addrs, addrs, n * sizeof(addrs[0]));
    slot->count = n;
    slot->expires_ms = now + (uint64_t)ttl_s * 1000u;
}

static void finish(struct tern_dns_query *q, tern_result r, const uint32_t *addrs, unsigned n,
                   uint32_t ttl)
{
    tern_timer_disarm(q->dns->net->os, &q->timer);
    q->used = false;
    q->cb(q->arg, r, addrs, n, ttl); /* last: the callback may resolve again */
}

/* Sends the query's next attempt with a fresh id, or with q->id when
 * id_drawn (tern_dns_resolve drew it, so a failure there is its result). */
static void send_attempt_id(struct tern_dns_query *q, bool id_drawn)
{
    struct tern_dns *d = q->dns;
    if (d->server_count == 0 || q->attempt >= d->server_count * d->tries_per_server) {
        finish(q, TERN_ETIMEDOUT, NULL, 0, 0);
        return;
    }
    uint8_t buf[QUERY_MAX];
    if (!id_drawn && draw_id(d, &q->id) != TERN_OK) {
        finish(q, TERN_EIO, NULL, 0, 0);
        return;
    }
    size_t n = tern_dns_build_query(buf, sizeof(buf), q->id, q->name);
    if (n == 0) {
        finish(q, TERN_EPROTO, NULL, 0, 0); /* a CNAME target we cannot ask for */
        return;
    }
    uint32_t server = d->servers[q->attempt % d->server_count];
    if (tern_udp_sendto(d->sock, server, DNS_PORT, buf, n) == TERN_OK)
        d->stats.queries_sent++;
    tern_timer_arm(d->net->os, &q->timer, (now_ms(d) + d->timeout_ms) * 1000000u);
}

static void send_attempt(struct tern_dns_query *q)
{
    send_attempt_id(q, false);
}

static void on_timeout(struct tern_timer *t, void *arg)
{
    (void)t;
    struct tern_dns_query *q = arg;
    q->dns->stats.timeouts++;
    q->attempt++;
    send_attempt(q);
}

static void on_readable(struct tern_udp_sock *sock, void *arg)
{
    struct tern_dns *d = arg;
    uint8_t buf[1500];
    size_t len;
    uint32_t src;
    uint16_t sport;
    while (tern_udp_recvfrom(sock, buf, sizeof(buf), &len, &src, &sport) == TERN_OK) {
        if (len > sizeof(buf) || len < 2 || sport != DNS_PORT) {
            d->stats.drop_malformed++;
            continue;
        }
        uint16_t id = tern_load_be16(buf);
        struct tern_dns_query *q = NULL;
        for (unsigned i = 0; i < TERN_DNS_MAX_QUERIES && q == NULL; i++) {
            struct tern_dns_query *c = &d->queries[i];
            if (c->used && c->id == id && d->server_count > 0 &&
                d->servers[c->attempt % d->server_count] == src)
                q = c;
        }
        if (q == NULL) {
            d->stats.drop_mismatch++;
            continue;
        }
        struct tern_dns_answer a;
        if (tern_dns_parse(buf, len, q->name, &a, &d->last_refusal) != TERN_OK) {
            d->stats.drop_malformed++; /* keep waiting: garbage must not end a query */
            continue;
        }
        d->stats.answers++;
        if (a.rcode == 3) {
            d->stats.nxdomain++;
            cache_put(d, q->orig, NULL, 0, d->neg_ttl_s);
            finish(q, TERN_ENOENT, NULL, 0, 0);
        } else if (a.rcode != 0) {
            d->stats.server_failures++;
            tern_timer_disarm(d->net->os, &q->timer);
            q->attempt++;
            send_attempt(q);
        } else if (a.addr_count > 0) {
            uint32_t ttl = a.ttl < q->chain_ttl ? a.ttl : q->chain_ttl;
            cache_put(d, q->orig, a.addrs, a.addr_count, ttl);
            finish(q, TERN_OK, a.addrs, a.addr_count, ttl);
        } else if (a.cname_pending) {
            if (++q->cnames > TERN_DNS_MAX_CNAMES) {
                finish(q, TERN_EPROTO, NULL, 0, 0);
                continue;
            }
            if (a.ttl < q->chain_ttl)
                q->chain_ttl = a.ttl;
            memcpy(q->name, a.final_name, TERN_DNS_NAME_MAX);
            tern_timer_disarm(d->net->os, &q->timer);
            q->attempt = 0;
            send_attempt(q);
        } else {
            cache_put(d, q->orig, NULL, 0, d->neg_ttl_s);
            finish(q, TERN_ENOENT, NULL, 0, 0);
        }
    }
}

/* The resolver's source port: a random one of 49152-65535 (RFC 6056,
 * RFC 5452 section 9.2), not the stack's next ephemeral port, which an
 * observer of one query could predict; a few draws, then any free one. */
static tern_result open_random_port(struct tern_dns *d)
{
    for (unsigned tries = 0; tries < 8; tries++) {
        uint16_t r;
        if (tern_entropy(d->net->os, &r, sizeof(r), "dns", "a source port (resolver not started)") !=
            TERN_OK) {
            d->stats.entropy_refused++;
            return TERN_EIO;
        }
        tern_result res = tern_udp_open(d->net, (uint16_t)(49152 + r % 16384), on_readable, d,
                                        &d->sock);
        if (res != TERN_EEXIST)
            return res;
    }
    return tern_udp_open(d->net, 0, on_readable, d, &d->sock);
}

tern_result tern_dns_init(struct tern_dns *d, struct tern_net *net)
{
    memset(d, 0, sizeof(*d));
    d->net = net;
    d->timeout_ms = 2000;
    d->tries_per_server = 2;
    d->max_ttl_s = 86400;
    d->neg_ttl_s = 30;
    for (unsigned i = 0; i < TERN_DNS_MAX_QUERIES; i++) {
        d->queries[i].dns = d;
        tern_timer_init(&d->queries[i].timer, on_timeout, &d->queries[i]);
    }
    return open_random_port(d);
}

void tern_dns_set_servers(struct tern_dns *d, const uint32_t *servers, unsigned n)
{
    if (n > TERN_DNS_MAX_SERVERS)
        n = TERN_DNS_MAX_SERVERS;
    memcpy(d->servers, servers, n * sizeof(servers[0]));
    d->server_count = n;
}

tern_result tern_dns_resolve(struct tern_dns *d, const char *name, tern_dns_cb cb, void *arg)
{
    uint8_t probe[QUERY_MAX];
    char c[TERN_DNS_NAME_MAX];
    if (!canon(name, c) || tern_dns_build_query(probe, sizeof(probe), 0, c) == 0)
        return TERN_EINVAL;
    struct tern_dns_cache_entry *e = cache_find(d, c);
    if (e) {
        d->stats.cache_hits++;
        uint32_t left = (uint32_t)((e->expires_ms - now_ms(d) + 999) / 1000);
        uint32_t addrs[TERN_DNS_MAX_ADDRS];
        unsigned n = e->count;
        memcpy(addrs, e->addrs, sizeof(addrs));
        cb(arg, n ? TERN_OK : TERN_ENOENT, addrs, n, n ? left : 0);
        return TERN_OK;
    }
    if (d->server_count == 0)
        return TERN_ENOENT;
    struct tern_dns_query *q = NULL;
    for (unsigned i = 0; i < TERN_DNS_MAX_QUERIES && q == NULL; i++) {
        if (!d->queries[i].used)
            q = &d->queries[i];
    }
    if (q == NULL)
        return TERN_ENOSPC;
    if (draw_id(d, &q->id) != TERN_OK)
        return TERN_EIO;
    q->used = true;
    memcpy(q->orig, c, sizeof(c));
    memcpy(q->name, c, sizeof(c));
    q->attempt = 0;
    q->cnames = 0;
    q->chain_ttl = UINT32_MAX;
    q->cb = cb;
    q->arg = arg;
    send_attempt_id(q, true);
    return TERN_OK;
}

void tern_dns_finish(struct tern_dns *d)
{
    for (unsigned i = 0; i < TERN_DNS_MAX_QUERIES; i++) {
        tern_timer_disarm(d->net->os, &d->queries[i].timer);
        d->queries[i].used = false;
    }
    if (d->sock)
        tern_udp_close(d->sock);
    d->sock = NULL;
}
