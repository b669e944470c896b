/* The DNS stub resolver: the parser against well-formed, truncated and
 * hostile responses (compression loops, pointers past the end, label and
 * name limits, lying counts), and the resolver against scripted servers on
 * a simulated device: A, CNAME chains (inside one answer and across
 * queries), NXDOMAIN, SERVFAIL failover, timeouts across servers,
 * spoofed answers, TTL-honouring cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net_harness.h"
#include "tern/dns.h"
#include "tern/inet.h"

#define OUR_IP TERN_IPV4(192, 0, 2, 10)
#define NS1 TERN_IPV4(192, 0, 2, 53)
#define NS2 TERN_IPV4(192, 0, 2, 54)

static struct net_harness H;
static struct tern_dns D;

struct outcome {
    int calls;
    tern_result r;
    uint32_t addrs[TERN_DNS_MAX_ADDRS];
    unsigned n;
    uint32_t ttl;
};
static struct outcome OUT;

static void on_done(void *arg, tern_result r, const uint32_t *addrs, unsigned n, uint32_t ttl)
{
    struct outcome *o = arg;
    o->calls++;
    o->r = r;
    o->n = n;
    o->ttl = ttl;
    if (n)
        memcpy(o->addrs, addrs, n * sizeof(addrs[0]));
}

static void learn(uint32_t ip)
{
    uint8_t rep[42];
    nh_eth(rep, nh_our_mac, nh_peer_mac, 0x0806);
    static const uint8_t body[8] = { 0, 1, 8, 0, 6, 4, 0, 2 }; /* Ethernet/IPv4, reply */
    memcpy(rep + 14, body, 8);
    memcpy(rep + 22, nh_peer_mac, 6);
    tern_store_be32(rep + 28, ip);
    memcpy(rep + 32, nh_our_mac, 6);
    tern_store_be32(rep + 38, OUR_IP);
    nh_inject(&H, rep, sizeof(rep));
}

static int setup(void **state)
{
    (void)state;
    memset(&OUT, 0, sizeof(OUT));
    if (nh_init(&H, 1500, NULL) != 0)
        return -1;
    tern_net_set_addr(&H.net, 0, OUR_IP, 0xffffff00u, 0);
    learn(NS1);
    learn(NS2);
    nh_clear_sent(&H);
    if (tern_dns_init(&D, &H.net) != TERN_OK)
        return -1;
    uint32_t servers[2] = { NS1, NS2 };
    tern_dns_set_servers(&D, servers, 2);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tern_dns_finish(&D);
    tern_net_set_addr(&H.net, 0, 0, 0, 0);
    nh_advance(&H, 3600000);
    bool ok = nh_at_baseline(&H);
    nh_close(&H);
    return ok ? 0 : -1;
}

/* The last query sent: its DNS payload, length, server and source port. */
static const uint8_t *last_query(size_t *len, uint32_t *server, uint16_t *sport)
{
    assert_true(H.sent_count > 0);
    const uint8_t *ip = H.sent[H.sent_count - 1].data + 14;
    assert_int_equal(ip[9], 17);
    assert_int_equal(tern_load_be16(ip + 22), 53);
    if (server)
        *server = tern_load_be32(ip + 16);
    if (sport)
        *sport = tern_load_be16(ip + 20);
    *len = tern_load_be16(ip + 24) - 8u;
    return ip + 28;
}

/* A response: the query's header and question (flags set to a response
 * with rcode), then the given records; counts as given (they may lie). */
static size_t response(uint8_t *b, const uint8_t *q, size_t qlen, uint8_t rcode, uint16_t an,
                       uint16_t ns, uint16_t ar, const uint8_t *recs, size_t rlen)
{
    memcpy(b, q, qlen);
    tern_store_be16(b + 2, (uint16_t)(0x8180 | rcode)); /* QR, RD, RA, rcode */
    tern_store_be16(b + 6, an);
    tern_store_be16(b + 8, ns);
    tern_store_be16(b + 10, ar);
    if (rlen > 0)
        memcpy(b + qlen, recs, rlen);
    return qlen + rlen;
}

static void answer_from(uint32_t server, uint16_t sport, const uint8_t *msg, size_t len,
                        uint16_t to_port)
{
    uint8_t f[1600];
    size_t fl = nh_udp(f, nh_our_mac, nh_peer_mac, server, OUR_IP, sport, to_port, msg, len);
    nh_inject(&H, f, fl);
}

/* owner = pointer to the question name (offset 12) */
static const uint8_t a_rec[] = {
    0xc0, 0x0c,             /* owner: -> question name */
    0, 1, 0, 1,             /* type A, class IN */
    0, 0, 1, 44,            /* TTL 300 */
    0, 4, 198, 51, 100, 7,  /* rdlength 4, 198.51.100.7 */
};

static void test_a_record_and_cache(void **state)
{
    (void)state;
    assert_int_equal(tern_dns_resolve(&D, "WWW.Example.Test.", on_done, &OUT), TERN_OK);
    size_t qlen;
    uint32_t server;
    uint16_t sport;
    const uint8_t *q = last_query(&qlen, &server, &sport);
    assert_int_equal(server, NS1);
    static const uint8_t want_q[] = {
        3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0,
        0, 1, 0, 1,         /* type A, class IN */
    };
    assert_int_equal(qlen, 12 + sizeof(want_q));
    assert_int_equal(tern_load_be16(q + 2), 0x0100); /* RD */
    assert_int_equal(tern_load_be16(q + 4), 1);
    assert_memory_equal(q + 12, want_q, sizeof(want_q));
    uint8_t b[512];
    answer_from(NS1, 53, b, response(b, q, qlen, 0, 1, 0, 0, a_rec, sizeof(a_rec)), sport);
    assert_int_equal(OUT.calls, 1);
    assert_int_equal(OUT.r, TERN_OK);
    assert_int_equal(OUT.n, 1);
    assert_int_equal(OUT.addrs[0], TERN_IPV4(198, 51, 100, 7));
    assert_int_equal(OUT.ttl, 300);
    /* cached: answered at once, no packet */
    nh_clear_sent(&H);
    assert_int_equal(tern_dns_resolve(&D, "www.example.test", on_done, &OUT), TERN_OK);
    assert_int_equal(OUT.calls, 2);
    assert_int_equal(H.sent_count, 0);
    assert_int_equal(D.stats.cache_hits, 1);
    nh_advance(&H, 200000);
    assert_int_equal(tern_dns_resolve(&D, "www.example.test", on_done, &OUT), TERN_OK);
    assert_int_equal(OUT.ttl, 100); /* what is left */
    /* expired after its TTL: asked again */
    nh_advance(&H, 100001);
    assert_int_equal(tern_dns_resolve(&D, "www.example.test", on_done, &OUT), TERN_OK);
    assert_int_equal(OUT.calls, 3);
    assert_int_equal(H.sent_count, 1);
    nh_advance(&H, 20000); /* let it time out before teardown */
}

static void test_cname_chain_in_one_answer(void **state)
{
    (void)state;
    assert_int_equal(tern_dns_resolve(&D, "www.example.test", on_done, &OUT), TERN_OK);
    size_t qlen;
    uint16_t sport;
    const uint8_t *q = last_query(&qlen, NULL, &sport);
    uint8_t recs[64];
    size_t r = 0;
    static const uint8_t cname[] = {
        0xc0, 0x0c, 0, 5, 0, 1, 0, 0, 0, 60, /* www... CNAME, TTL 60 */
        0, 6, 3, 'w', 'e', 'b', 0xc0, 16,    /* rdata: "web" + -> "example.test" */
    };
    memcpy(recs, cname, sizeof(cname));
    r += sizeof(cname);
    /* web.example.test A 198.51.100.8, owner compressed to the rdata above */
    size_t web = qlen + 12;                  /* offset of "web" in the message */
    uint8_t a2[] = { 0xc0, (uint8_t)web, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 198, 51, 100, 8 };
    memcpy(recs + r, a2, sizeof(a2));
    r += sizeof(a2);
    uint8_t b[512];
    answer_from(NS1, 53, b, response(b, q, qlen, 0, 2, 0, 0, recs, r), sport);
    assert_int_equal(OUT.r, TERN_OK);
    assert_int_equal(OUT.addrs[0], TERN_IPV4(198, 51, 100, 8));
    assert_int_equal(OUT.ttl, 60); /* the smallest along the chain */
}

static void test_cname_followed_by_a_new_query(void **state)
{
    (void)state;
    assert_int_equal(tern_dns_resolve(&D, "alias.example.test", on_done, &OUT), TERN_OK);
    size_t qlen;
    uint16_t sport;
    const uint8_t *q = last_query(&qlen, NULL, &sport);
    static const uint8_t cname[] = {
        0xc0, 0x0c, 0, 5, 0, 1, 0, 0, 0, 100,
        0, 9, 6, 't', 'a', 'r', 'g', 'e', 't', 0xc0, 18, /* target.example.test */
    };
    uint8_t b[512];
    answer_from(NS1, 53, b, response(b, q, qlen, 0, 1, 0, 0, cname, sizeof(cname)), sport);
    assert_int_equal(OUT.calls, 0);
    q = last_query(&qlen, NULL, &sport);
    assert_int_equal(q[12], 6);
    assert_memory_equal(q + 13, "target", 6);
    answer_from(NS1, 53, b, response(b, q, qlen, 0, 1, 0, 0, a_rec, sizeof(a_rec)), sport);
    assert_int_equal(OUT.calls, 1);
    assert_int_equal(OUT.r, TERN_OK);
    assert_int_equal(OUT.ttl, 100);
}

static void test_nxdomain_and_negative_cache(void **state)
{
    (void)state;
    assert_int_equal(tern_dns_resolve(&D, "nope.example.test", on_done, &OUT), TERN_OK);
    size_t qlen;
    uint16_t sport;
    const uint8_t *q = last_query(&qlen, NULL, &sport);
    uint8_t b[512];
    answer_from(NS1, 53, b, response(b, q, qlen, 3, 0, 0, 0, NULL, 0), sport);
    assert_int_equal(OUT.r, TERN_ENOENT);
    nh_clear_sent(&H);
    assert_int_equal(tern_dns_resolve(&D, "nope.example.test", on_done, &OUT), TERN_OK);
    assert_int_equal(OUT.calls, 2);
    assert_int_equal(OUT.r, TERN_ENOENT);
    assert_int_equal(H.sent_count, 0);
}

static void test_servfail_then_timeouts_across_servers(void **state)
{
    (void)state;
    assert_int_equal(tern_dns_resolve(&D, "slow.example.test", on_done, &OUT), TERN_OK);
    size_t qlen;
    uint32_t server;
    uint16_t sport;
    const uint8_t *q = last_query(&qlen, &server, &sport);
    assert_int_equal(server, NS1);
    uint8_t b[512];
    answer_from(NS1, 53, b, response(b, q, qlen, 2, 0, 0, 0, NULL, 0), sport); /* SERVFAIL */
    last_query(&qlen, &server, NULL);
    assert_int_equal(server, NS2);                                         /* at once */
    assert_int_equal(D.stats.server_failures, 1);
    nh_advance(&H, 2000);
    last_query(&qlen, &server, NULL);
    assert_int_equal(server, NS1);
    nh_advance(&H, 2000);
    last_query(&qlen, &server, NULL);
    assert_int_equal(server, NS2);
    assert_int_equal(OUT.calls, 0);
    nh_advance(&H, 2000);
    assert_int_equal(OUT.calls, 1);
    assert_int_equal(OUT.r, TERN_ETIMEDOUT);
    assert_int_equal(D.stats.timeouts, 3);
}

static void test_spoofed_and_garbage_answers_ignored(void **state)
{
    (void)state;
    assert_int_equal(tern_dns_resolve(&D, "www.example.test", on_done, &OUT), TERN_OK);
    size_t qlen;
    uint16_t sport;
    const uint8_t *q = last_query(&qlen, NULL, &sport);
    uint8_t good[512], b[512];
    size_t n = response(good, q, qlen, 0, 1, 0, 0, a_rec, sizeof(a_rec));
    memcpy(b, good, n);
    b[0] ^= 0x55;                                   /* wrong id */
    answer_from(NS1, 53, b, n, sport);
    answer_from(NS2, 53, good, n, sport);           /* the server we did not ask */
    answer_from(NS1, 5353, good, n, sport);         /* not from port 53 */
    assert_int_equal(D.stats.drop_mismatch, 2);
    assert_int_equal(D.stats.drop_malformed, 1);
    memcpy(b, good, n);
    tern_store_be16(b + 6, 5);                      /* right id, lying count */
    answer_from(NS1, 53, b, n, sport);
    assert_int_equal(D.stats.drop_malformed, 2);
    assert_int_equal(OUT.calls, 0);                 /* still waiting */
    answer_from(NS1, 53, good, n, sport);
    assert_int_equal(OUT.calls, 1);
    assert_int_equal(OUT.r, TERN_OK);
}

static void test_bad_names_refused(void **state)
{
    (void)state;
    char longlabel[80], longname[300];
    memset(longlabel, 'a', 64);
    strcpy(longlabel + 64, ".test");
    memset(longname, 0, sizeof(longname));
    for (int i = 0; i < 254; i += 2)
        memcpy(longname + i, "a.", 2);
    longname[254] = 'a';
    const char *bad[] = { "", ".", "a..b", "bad name", "x/y.test", longlabel, longname };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(tern_dns_resolve(&D, bad[i], on_done, &OUT), TERN_EINVAL);
    assert_int_equal(OUT.calls, 0);
    assert_int_equal(H.sent_count, 0);
}

struct hostile {
    const char *what;
    uint8_t recs[300];
    size_t len;
    uint16_t an, ns, ar;
    const char *why;
};

static void test_parser_hostile(void **state)
{
    (void)state;
    uint8_t q[300];
    size_t qlen = tern_dns_build_query(q, sizeof(q), 0x1234, "www.example.test");
    assert_true(qlen > 0);
    static struct hostile cases[] = {
        { "pointer to itself", { 0xc0, 34, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4 }, 16, 1, 0,
          0, "compression pointer not backwards" },
        { "forward pointer", { 0xc0, 40, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4 }, 16, 1, 0, 0,
          "compression pointer not backwards" },
        { "pointer past the end", { 0xc0, 0xff }, 2, 1, 0, 0,
          "compression pointer not backwards" },
        { "reserved label type 0x40", { 0x40, 'a', 0 }, 3, 1, 0, 0, "reserved label type" },
        { "label past the end", { 20, 'a', 'b' }, 3, 1, 0, 0, "label past the end" },
        { "lying answer count", { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4 }, 16, 2, 0,
          0, "name past the end" },
        { "lying additional count", { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4 }, 16, 1,
          0, 3, "name past the end" },
        { "rdlength past the end", { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 9, 1, 2, 3, 4 }, 16, 1,
          0, 0, "record past the end" },
        { "A of 5 bytes", { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 5, 1, 2, 3, 4, 5 }, 17, 1, 0, 0,
          "A record length not 4" },
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        uint8_t b[600];
        size_t n = response(b, q, qlen, 0, cases[k].an, cases[k].ns, cases[k].ar, cases[k].recs,
                            cases[k].len);
        struct tern_dns_answer a;
        const char *why = NULL;
        if (tern_dns_parse(b, n, "www.example.test", &a, &why) != TERN_EPROTO)
            fail_msg("%s was accepted", cases[k].what);
        if (strcmp(why, cases[k].why) != 0)
            fail_msg("%s: refused for '%s', expected '%s'", cases[k].what, why, cases[k].why);
    }
    /* a name of 64 labels of 3 octets (256 octets) spelled in an answer */
    uint8_t b[900];
    size_t n = response(b, q, qlen, 0, 1, 0, 0, NULL, 0);
    for (int i = 0; i < 64; i++) {
        b[n++] = 3;
        memcpy(b + n, "abc", 3);
        n += 3;
    }
    b[n++] = 0;
    static const uint8_t tail[] = { 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4 };
    memcpy(b + n, tail, sizeof(tail));
    n += sizeof(tail);
    struct tern_dns_answer a;
    const char *why;
    assert_int_equal(tern_dns_parse(b, n, "www.example.test", &a, &why), TERN_EPROTO);
    assert_string_equal(why, "name longer than 255");
    /* TC, two questions, another question, a query instead of a response */
    n = response(b, q, qlen, 0, 1, 0, 0, a_rec, sizeof(a_rec));
    b[2] |= 0x02;
    assert_int_equal(tern_dns_parse(b, n, "www.example.test", &a, &why), TERN_EPROTO);
    assert_string_equal(why, "truncated (TC)");
    n = response(b, q, qlen, 0, 1, 0, 0, a_rec, sizeof(a_rec));
    tern_store_be16(b + 4, 2);
    assert_int_equal(tern_dns_parse(b, n, "www.example.test", &a, &why), TERN_EPROTO);
    n = response(b, q, qlen, 0, 1, 0, 0, a_rec, sizeof(a_rec));
    assert_int_equal(tern_dns_parse(b, n, "ftp.example.test", &a, &why), TERN_EPROTO);
    assert_string_equal(why, "question mismatch");
    b[2] &= 0x7f;
    assert_int_equal(tern_dns_parse(b, n, "www.example.test", &a, &why), TERN_EPROTO);
    /* a CNAME loop inside one answer ends after TERN_DNS_MAX_CNAMES hops */
    static const uint8_t loop[] = {
        0xc0, 0x0c, 0, 5, 0, 1, 0, 0, 0, 9, 0, 2, 0xc0, 0x0c, /* www -> www */
    };
    n = response(b, q, qlen, 0, 1, 0, 0, loop, sizeof(loop));
    assert_int_equal(tern_dns_parse(b, n, "www.example.test", &a, &why), TERN_OK);
    assert_int_equal(a.addr_count, 0);
    assert_false(a.cname_pending);
}

static void test_parser_every_truncation(void **state)
{
    (void)state;
    uint8_t q[300], b[600];
    size_t qlen = tern_dns_build_query(q, sizeof(q), 7, "www.example.test");
    size_t n = response(b, q, qlen, 0, 1, 0, 0, a_rec, sizeof(a_rec));
    struct tern_dns_answer a;
    const char *why;
    assert_int_equal(tern_dns_parse(b, n, "www.example.test", &a, &why), TERN_OK);
    assert_int_equal(a.addr_count, 1);
    for (size_t len = 0; len < n; len++) {
        uint8_t copy[600];
        memcpy(copy, b, len);
        assert_int_equal(tern_dns_parse(copy, len, "www.example.test", &a, &why), TERN_EPROTO);
    }
}

/* The entropy source fails for a new query: tern_dns_resolve refuses it
 * (TERN_EIO), nothing goes out, the callback is not called, the refusal
 * is counted and logged; the slot is free for the next query. */
static void test_entropy_failure_refuses_query(void **state)
{
    (void)state;
    H.os.cfg.console_level = TERN_LOG_ERROR;
    H.sim.entropy_fail = true;
    assert_int_equal(tern_dns_resolve(&D, "www.example.test", on_done, &OUT), TERN_EIO);
    assert_int_equal(H.sent_count, 0);
    assert_int_equal(OUT.calls, 0);
    assert_int_equal(D.stats.entropy_refused, 1);
    assert_int_equal(D.stats.queries_sent, 0);
    assert_int_equal(H.os.entropy_failures, 1);
    assert_true(sim_console_has(
        &H.sim, "error dns: entropy source failed: a query id (query not sent) refused"));
    nh_advance(&H, 10000);
    assert_int_equal(H.sent_count, 0);
    H.sim.entropy_fail = false;
    for (unsigned i = 0; i < TERN_DNS_MAX_QUERIES; i++)
        assert_false(D.queries[i].used);
    assert_int_equal(tern_dns_resolve(&D, "www.example.test", on_done, &OUT), TERN_OK);
    assert_int_equal(H.sent_count, 1);
}

/* The source fails between attempts: the retransmission is not sent with
 * a stale or zero id; the query ends with TERN_EIO. */
static void test_entropy_failure_ends_retry(void **state)
{
    (void)state;
    assert_int_equal(tern_dns_resolve(&D, "slow.example.test", on_done, &OUT), TERN_OK);
    assert_int_equal(H.sent_count, 1);
    H.sim.entropy_fail = true;
    nh_advance(&H, 2000);                              /* the timeout's retry */
    assert_int_equal(H.sent_count, 1);
    assert_int_equal(OUT.calls, 1);
    assert_int_equal(OUT.r, TERN_EIO);
    assert_int_equal(D.stats.entropy_refused, 1);
    H.sim.entropy_fail = false;
    nh_advance(&H, 10000);
    assert_int_equal(H.sent_count, 1);
    assert_int_equal(OUT.calls, 1);
}

/* The resolver's port is drawn from the entropy source: two resolvers on
 * one stack do not get consecutive ports, and without entropy there is
 * no resolver (TERN_EIO, no socket). */
static void test_source_port_random_and_refused_without_entropy(void **state)
{
    (void)state;
    static struct tern_dns d2, d3;
    assert_int_equal(tern_dns_init(&d2, &H.net), TERN_OK);
    uint16_t p1 = tern_udp_port(D.sock), p2 = tern_udp_port(d2.sock);
    assert_true(p1 >= 49152 && p2 >= 49152);
    assert_true(p2 != p1 + 1 && p1 != p2 + 1);
    tern_dns_finish(&d2);
    H.sim.entropy_fail = true;
    assert_int_equal(tern_dns_init(&d3, &H.net), TERN_EIO);
    assert_null(d3.sock);
    assert_int_equal(d3.stats.entropy_refused, 1);
    H.sim.entropy_fail = false;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_record_and_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cname_chain_in_one_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cname_followed_by_a_new_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nxdomain_and_negative_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_servfail_then_timeouts_across_servers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spoofed_and_garbage_answers_ignored, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_names_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parser_hostile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parser_every_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entropy_failure_refuses_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entropy_failure_ends_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_port_random_and_refused_without_entropy,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
