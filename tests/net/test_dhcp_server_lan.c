/* The DHCP server with Tern's own DHCP client as its clients: several
 * whole instances in one process on one simulated Ethernet segment (a
 * switch in this file delivers each frame to the MAC it names, or to
 * everyone), on one virtual clock. A lease with its options, a renewal
 * keeping the address, a second client, exhaustion and expiry, a server
 * restart with and without the lease file, and a NAK for a client whose
 * subnet went away. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net_harness.h"
#include "tern/dhcp.h"
#include "tern/dhcp_server.h"
#include "tern/inet.h"

#define SERVER_IP TERN_IPV4(192, 0, 2, 1)
#define DNS_IP TERN_IPV4(192, 0, 2, 53)
#define A100 TERN_IPV4(192, 0, 2, 100)
#define A101 TERN_IPV4(192, 0, 2, 101)
#define A102 TERN_IPV4(192, 0, 2, 102)
#define LAN_MAX 5

struct node {
    struct net_harness h;
    struct tern_dhcp dhcp;        /* clients */
    bool client;
    int bound, renewed, lost;
};

struct lan {
    struct node *n[LAN_MAX];
    unsigned count;
    uint64_t frames;
};

static struct lan L;
static struct tern_dhcp_server S;
static struct tern_dhcp_server_config C;

static void on_event(struct tern_dhcp *d, enum tern_dhcp_event ev, void *arg)
{
    (void)d;
    struct node *n = arg;
    if (ev == TERN_DHCP_EV_BOUND)
        n->bound++;
    else if (ev == TERN_DHCP_EV_RENEWED)
        n->renewed++;
    else
        n->lost++;
}

/* A node with MAC 02:00:00:00:00:0K and its stack. */
static struct node *node_add(unsigned k)
{
    struct node *n = calloc(1, sizeof(*n));
    assert_non_null(n);
    assert_int_equal(nh_init_device(&n->h, 1500), 0);
    n->h.mac[5] = (uint8_t)(0x10 + k);
    assert_int_equal(tern_net_init(&n->h.net, &n->h.os, NULL), TERN_OK);
    n->h.heap_baseline = n->h.os.heap.in_use;
    n->h.sim.now_ns = L.count ? L.n[0]->h.sim.now_ns : 0;
    L.n[L.count++] = n;
    return n;
}

/* Moves every captured frame to the nodes it is for, until none is left. */
static void lan_deliver(void)
{
    for (int round = 0; round < 1000; round++) {
        bool moved = false;
        for (unsigned i = 0; i < L.count; i++) {
            struct net_harness *from = &L.n[i]->h;
            unsigned count = from->sent_count;
            static struct nh_frame frames[NH_MAX_FRAMES];
            memcpy(frames, from->sent, count * sizeof(frames[0]));
            nh_clear_sent(from);
            for (unsigned f = 0; f < count; f++) {
                moved = true;
                L.frames++;
                for (unsigned j = 0; j < L.count; j++) {
                    struct net_harness *to = &L.n[j]->h;
                    bool bcast = frames[f].data[0] & 1;
                    if (j != i && (bcast || memcmp(frames[f].data, to->mac, 6) == 0))
                        nh_inject(to, frames[f].data, frames[f].len);
                }
            }
        }
        if (!moved)
            return;
    }
    fail_msg("frames still moving after 1000 rounds");
}

static uint64_t lan_now(void)
{
    return L.n[0]->h.sim.now_ns;
}

/* Runs every node for ms of virtual time, jumping from deadline to
 * deadline, delivering frames as they are sent. */
static void lan_run(uint64_t ms)
{
    uint64_t end = lan_now() + ms * 1000000u;
    for (;;) {
        lan_deliver();
        uint64_t next = end;
        for (unsigned i = 0; i < L.count; i++) {
            uint64_t d = tern_timer_next_deadline(&L.n[i]->h.os.timers);
            if (d < next)
                next = d;
        }
        if (next < lan_now())
            next = lan_now();
        for (unsigned i = 0; i < L.count; i++)
            L.n[i]->h.sim.now_ns = next;
        for (unsigned i = 0; i < L.count; i++)
            tern_os_step(&L.n[i]->h.os, 0);
        if (next >= end) {
            lan_deliver();
            return;
        }
    }
}

static struct node *client_add(unsigned k)
{
    struct node *n = node_add(k);
    n->client = true;
    assert_int_equal(tern_dhcp_start(&n->dhcp, &n->h.net, on_event, n), TERN_OK);
    return n;
}

static int setup(void **state)
{
    (void)state;
    memset(&L, 0, sizeof(L));
    struct node *srv = node_add(0);
    srv->h.os.cfg.console_level = TERN_LOG_INFO;
    tern_net_set_addr(&srv->h.net, 0, SERVER_IP, 0xffffff00u, 0);
    tern_dhcp_server_config_default(&C);
    C.first = A100;
    C.last = A102;
    C.router = SERVER_IP;
    C.dns[0] = DNS_IP;
    C.dns_count = 1;
    C.domain = "example.test";
    C.lease_s = 600;
    return tern_dhcp_server_start(&S, &srv->h.net, &C) == TERN_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tern_dhcp_server_stop(&S);
    bool ok = true;
    for (unsigned i = 0; i < L.count; i++) {
        struct node *n = L.n[i];
        if (n->client)
            tern_dhcp_stop(&n->dhcp);
        tern_net_set_addr(&n->h.net, 0, 0, 0, 0);
        n->h.sim.now_ns += 3600000000000ull;
        tern_os_step(&n->h.os, 0);
        ok = ok && nh_at_baseline(&n->h);
        nh_close(&n->h);
        free(n);
    }
    return ok ? 0 : -1;
}

static struct net_harness *server(void)
{
    return &L.n[0]->h;
}

static void test_lease_renewal_and_a_second_client(void **state)
{
    (void)state;
    struct node *a = client_add(1);
    lan_run(1000);
    assert_int_equal(a->bound, 1);
    struct tern_netif *nif = &a->h.net.ifs[0];
    assert_int_equal(nif->addr, A100);
    assert_int_equal(nif->mask, 0xffffff00u);
    assert_int_equal(nif->gw, SERVER_IP);
    assert_int_equal(a->dhcp.lease.dns_count, 1);
    assert_int_equal(a->dhcp.lease.dns[0], DNS_IP);
    assert_string_equal(a->dhcp.lease.domain, "example.test");
    assert_int_equal(a->dhcp.lease.lease_s, 600);
    assert_int_equal(a->dhcp.lease.server_id, SERVER_IP);
    assert_true(sim_console_has(&a->h.sim, "TERN_NET_UP if=net0 ip=192.0.2.100/24 "
                                           "gw=192.0.2.1 mtu=1500 via=dhcp"));
    const struct tern_dhcp_lease *l = tern_dhcp_server_lease(&S, A100);
    assert_non_null(l);
    assert_int_equal(l->state, TERN_DHCP_LEASE_BOUND);
    assert_memory_equal(l->chaddr, a->h.mac, 6);

    struct node *b = client_add(2);
    lan_run(1000);
    assert_int_equal(b->bound, 1);
    assert_int_equal(b->h.net.ifs[0].addr, A101);

    /* T1 = 300 s: a unicast renewal, the same address; then again */
    lan_run(700000);
    assert_true(a->renewed >= 2);
    assert_true(b->renewed >= 2);
    assert_int_equal(a->lost + b->lost, 0);
    assert_int_equal(a->h.net.ifs[0].addr, A100);
    assert_int_equal(b->h.net.ifs[0].addr, A101);
    assert_int_equal(tern_dhcp_server_bound(&S), 2);
    assert_int_equal(S.stats.naks, 0);
    assert_int_equal(S.stats.drop_malformed, 0);
}

/* Three addresses, four clients: the fourth waits. A client that stops
 * (its lease not renewed) loses the address at expiry, and the waiting
 * client gets it. */
static void test_exhaustion_then_expiry_frees(void **state)
{
    (void)state;
    struct node *c[4];
    for (unsigned i = 0; i < 4; i++)
        c[i] = client_add(1 + i);
    lan_run(2000);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(c[i]->bound, 1);
    assert_int_equal(c[3]->bound, 0);
    assert_int_equal(c[3]->dhcp.state, TERN_DHCP_SELECTING);
    assert_true(S.stats.no_address >= 1);
    assert_true(sim_console_has(&server()->sim, "no address to offer: pool exhausted"));

    uint32_t gone = c[1]->h.net.ifs[0].addr;
    tern_dhcp_stop(&c[1]->dhcp);                 /* no renewal, no release */
    lan_run(600000);
    assert_int_equal(S.stats.expired, 1);
    lan_run(120000);                             /* the next DISCOVER (back-off 64 s) */
    assert_int_equal(c[3]->bound, 1);
    assert_int_equal(c[3]->h.net.ifs[0].addr, gone);
}

static char FILE_BUF[65536];

/* The server restarts; with its lease file loaded the client's renewal
 * is ACKed, without it the renewal goes unanswered (RFC 2131 4.3.2). */
static void restart_server(bool with_file)
{
    size_t n = 0;
    assert_int_equal(tern_dhcp_server_save(&S, FILE_BUF, sizeof(FILE_BUF), &n), TERN_OK);
    tern_dhcp_server_stop(&S);
    assert_int_equal(tern_dhcp_server_start(&S, &server()->net, &C), TERN_OK);
    if (with_file)
        assert_int_equal(tern_dhcp_server_load(&S, FILE_BUF, n, NULL, 0), TERN_OK);
}

static void test_restart_with_lease_file(void **state)
{
    (void)state;
    struct node *a = client_add(1);
    lan_run(1000);
    assert_int_equal(a->bound, 1);
    restart_server(true);
    lan_run(300000);                             /* T1 */
    assert_int_equal(a->renewed, 1);
    assert_int_equal(a->dhcp.state, TERN_DHCP_BOUND);
    assert_int_equal(S.stats.acks, 1);
    assert_int_equal(S.stats.drop_unknown, 0);
}

static void test_restart_without_lease_file(void **state)
{
    (void)state;
    struct node *a = client_add(1);
    lan_run(1000);
    restart_server(false);
    lan_run(300000);
    assert_int_equal(a->renewed, 0);
    assert_int_equal(a->dhcp.state, TERN_DHCP_RENEWING);
    assert_true(S.stats.drop_unknown >= 1);
}

/* The server's subnet changes under a bound client: its renewal gets a
 * NAK ("wrong network"), it drops the address and rediscovers. */
static void test_nak_for_a_lost_subnet(void **state)
{
    (void)state;
    struct node *a = client_add(1);
    lan_run(1000);
    assert_int_equal(a->h.net.ifs[0].addr, A100);
    tern_dhcp_server_stop(&S);
    tern_net_set_addr(&server()->net, 0, TERN_IPV4(198, 51, 100, 1), 0xffffff00u, 0);
    C.first = TERN_IPV4(198, 51, 100, 100);
    C.last = TERN_IPV4(198, 51, 100, 102);
    C.router = TERN_IPV4(198, 51, 100, 1);
    C.dns_count = 0;
    assert_int_equal(tern_dhcp_server_start(&S, &server()->net, &C), TERN_OK);
    lan_run(600000);                             /* T1, then T2: broadcast rebinding */
    assert_true(S.stats.naks >= 1);
    assert_true(sim_console_has(&server()->sim, "NAK 192.0.2.100 to 02:00:00:00:00:11: "
                                                "wrong network"));
    assert_int_equal(a->lost, 1);
    assert_int_equal(a->bound, 2);
    assert_int_equal(a->h.net.ifs[0].addr, TERN_IPV4(198, 51, 100, 100));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_lease_renewal_and_a_second_client),
        T(test_exhaustion_then_expiry_frees),
        T(test_restart_with_lease_file),
        T(test_restart_without_lease_file),
        T(test_nak_for_a_lost_subnet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
