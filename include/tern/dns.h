/*
 * Interface: a DNS stub resolver for A records (RFC 1034/1035) on the UDP
 * socket API of net.h; non-blocking, answers through a callback.
 *
 *   struct tern_dns dns;                         // caller-owned
 *   tern_dns_init(&dns, &net);
 *   tern_dns_set_servers(&dns, servers, n);      // e.g. from the DHCP lease
 *   tern_dns_resolve(&dns, "example.test", on_done, arg);
 *
 * A query goes to one server at a time; after timeout_ms without a
 * usable answer, or at once on SERVFAIL/REFUSED, the next server is
 * asked, up to tries_per_server rounds. CNAME chains are followed inside
 * an answer and, when the answer stops at a CNAME, by asking again for
 * its target (at most TERN_DNS_MAX_CNAMES hops). Answers are cached for
 * their TTL (the smallest along the chain, at most max_ttl_s); NXDOMAIN
 * and "no A record" are cached for neg_ttl_s.
 *
 * Responses are accepted only from the server asked, from port 53, with
 * the query's random id and its exact question; anything else is counted
 * and ignored. tern_dns_parse refuses (TERN_EPROTO, with a reason):
 * truncated messages, counts that promise more records than the message
 * holds, more than one question, compression pointers that do not point
 * strictly backwards (so loops cannot exist) or past the message, labels
 * over 63 octets, names over 255 octets, reserved label types, A records
 * whose length is not 4, and TC (truncated) answers.
 *
 * Query ids (one per attempt) and the resolver's source port come from
 * the platform's entropy (tern_entropy). When the source fails nothing is
 * sent: tern_dns_init is TERN_EIO, a query ends with TERN_EIO, and the
 * refusal is logged and counted (stats.entropy_refused).
 */
#ifndef TERN_DNS_H
#define TERN_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/net.h"
#include "tern/result.h"
#include "tern/timer.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

#define TERN_DNS_MAX_SERVERS 3
#define TERN_DNS_MAX_ADDRS 4
#define TERN_DNS_MAX_QUERIES 8
#define TERN_DNS_CACHE_ENTRIES 32
#define TERN_DNS_MAX_CNAMES 8
#define TERN_DNS_NAME_MAX 254         /* text form, with the NUL */

/* What tern_dns_parse finds for one question (names in lower case). */
struct tern_dns_answer {
    uint16_t id;
    uint8_t rcode;
    uint32_t addrs[TERN_DNS_MAX_ADDRS]; /* A records of the final name */
    unsigned addr_count;
    char final_name[TERN_DNS_NAME_MAX]; /* after the CNAME chain in this answer */
    uint32_t ttl;                      /* smallest TTL along the chain */
    bool cname_pending;                /* the chain ends at a CNAME without A */
};

/* Parses a response to the A/IN question for qname (text form). TERN_OK,
 * or TERN_EPROTO with *why a short static reason. */
tern_result tern_dns_parse(const void *msg, size_t len, const char *qname,
                           struct tern_dns_answer *out, const char **why);

/* Encodes an A/IN query for name with id into buf. Returns the length, or
 * 0 when name is not a valid host name (empty label, label > 63, name
 * > 253 characters, characters other than letters, digits, '-', '_'). */
size_t tern_dns_build_query(uint8_t *buf, size_t cap, uint16_t id, const char *name);

/* Result callback: TERN_OK with n >= 1 addresses and their ttl; TERN_ENOENT
 * (NXDOMAIN or no A record); TERN_ETIMEDOUT (no server answered);
 * TERN_EPROTO (every server failed or answered garbage); TERN_EIO (the
 * entropy source failed for a retry's id: not sent). May be called from
 * inside tern_dns_resolve (cache hits). */
typedef void (*tern_dns_cb)(void *arg, tern_result r, const uint32_t *addrs, unsigned n,
                            uint32_t ttl);

struct tern_dns;

struct tern_dns_query {
    struct tern_dns *dns;
    bool used;
    char orig[TERN_DNS_NAME_MAX];   /* what the caller asked */
    char name[TERN_DNS_NAME_MAX];   /* what we ask now (after CNAMEs) */
    uint16_t id;
    unsigned attempt;               /* server = attempt % server count */
    unsigned cnames;
    uint32_t chain_ttl;
    struct tern_timer timer;
    tern_dns_cb cb;
    void *arg;
};

struct tern_dns_cache_entry {
    char name[TERN_DNS_NAME_MAX];
    uint32_t addrs[TERN_DNS_MAX_ADDRS];
    unsigned count;                 /* 0: negative entry */
    uint64_t expires_ms;            /* 0: free */
};

struct tern_dns_stats {
    uint64_t queries_sent, answers, cache_hits, timeouts, nxdomain;
    uint64_t drop_malformed, drop_mismatch, server_failures;
    uint64_t entropy_refused;       /* ids or ports not drawn: nothing sent */
};

struct tern_dns {
    struct tern_net *net;
    struct tern_udp_sock *sock;
    uint32_t servers[TERN_DNS_MAX_SERVERS];
    unsigned server_count;
    uint32_t timeout_ms;            /* per attempt (2000) */
    unsigned tries_per_server;      /* rounds over the servers (2) */
    uint32_t max_ttl_s;             /* cap on cached TTLs (86400) */
    uint32_t neg_ttl_s;             /* negative caching (30) */
    struct tern_dns_query queries[TERN_DNS_MAX_QUERIES];
    struct tern_dns_cache_entry cache[TERN_DNS_CACHE_ENTRIES];
    struct tern_dns_stats stats;
    const char *last_refusal;
};

/* Opens the resolver's UDP socket on a random port of 49152-65535 (any
 * free ephemeral one after 8 taken draws). TERN_OK; TERN_EIO (the entropy
 * source failed: no socket); what tern_udp_open returns. */
tern_result tern_dns_init(struct tern_dns *d, struct tern_net *net);

/* Replaces the server list (at most TERN_DNS_MAX_SERVERS are kept). */
void tern_dns_set_servers(struct tern_dns *d, const uint32_t *servers, unsigned n);

/* Starts resolving name. TERN_OK (cb will be called exactly once);
 * TERN_EINVAL (not a valid host name); TERN_ENOENT (no servers);
 * TERN_ENOSPC (TERN_DNS_MAX_QUERIES in flight); TERN_EIO (the entropy
 * source failed: no id, nothing sent, cb not called). */
tern_result tern_dns_resolve(struct tern_dns *d, const char *name, tern_dns_cb cb, void *arg);

/* Cancels every query (no callbacks) and closes the socket. */
void tern_dns_finish(struct tern_dns *d);

TERN_END_DECLS

#endif
