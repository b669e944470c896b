/* The network bring-up of a boot (core/boot/network.c) on a simulated
 * device: the address rule (command line, else the manifest's static
 * address, else DHCP), the hostname in the DHCP messages, the DNS rule
 * (command line, else manifest, else the lease), the TCP pool's size
 * (command line, else resources.tcp_connections, else the backend's) and
 * the line that says which, the on_up callback, and the refusals (no
 * device, a pool the heap cannot hold). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net_harness.h"
#include "tern/boot_net.h"
#include "tern/inet.h"
#include "tern/manifest.h"

#define SERVER_IP TERN_IPV4(192, 0, 2, 1)
#define LEASE_IP TERN_IPV4(192, 0, 2, 77)

static struct net_harness H;
static struct tern_boot_net BN;
static struct tern_manifest M;

struct ups {
    int count;
    bool with_lease;
};
static struct ups UP;

static void on_up(void *arg, const struct tern_dhcp_msg *lease)
{
    struct ups *u = arg;
    u->count++;
    u->with_lease = lease != NULL;
}

static int setup(void **state)
{
    (void)state;
    memset(&UP, 0, sizeof UP);
    tern_manifest_default(&M);
    if (nh_init_device(&H, 1500) != 0)
        return -1;
    H.os.cfg.console_level = TERN_LOG_INFO;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (BN.dhcp.net)
        tern_dhcp_stop(&BN.dhcp);
    nh_close(&H);
    memset(&BN, 0, sizeof BN);
    return 0;
}

/* Options as a backend fills them: a small pool of its own (64 blocks). */
static struct tern_boot_net_opts opts(void)
{
    struct tern_boot_net_opts o = { .manifest = &M, .on_up = on_up, .arg = &UP };
    tern_tcp_config_default(&o.tcp);
    o.tcp.max_conns = 64;
    o.tcp.grow_bytes = 0;
    o.tcp.sndbuf = o.tcp.rcvbuf = 4096;
    return o;
}

static void set_static(const char *addr_prefix, uint32_t gw)
{
    M.network.mode = TERN_MANIFEST_NET_STATIC;
    char a[16];
    const char *slash = strchr(addr_prefix, '/');
    memcpy(a, addr_prefix, (size_t)(slash - addr_prefix));
    a[slash - addr_prefix] = '\0';
    assert_int_equal(tern_ipv4_parse(a, &M.network.address), TERN_OK);
    M.network.prefix_len = (uint8_t)(slash[1] - '0') * 10 + (uint8_t)(slash[2] - '0');
    M.network.gateway = gw;
}

/* The DHCP payload of captured frame i, or NULL when it is not DHCP. */
static const uint8_t *sent_dhcp(unsigned i, size_t *len)
{
    const uint8_t *ip = H.sent[i].data + 14;
    if (tern_load_be16(H.sent[i].data + 12) != 0x0800 || ip[9] != 17 ||
        tern_load_be16(ip + 22) != 67)
        return NULL;
    *len = H.sent[i].len - 14 - 28;
    return ip + 28;
}

/* Option code's data in DHCP message m of len bytes, or NULL. */
static const uint8_t *option(const uint8_t *m, size_t len, uint8_t code, size_t *olen)
{
    for (size_t at = 240; at + 1 < len && m[at] != 255;) {
        if (m[at] == 0) {
            at++;
            continue;
        }
        if (m[at] == code) {
            *olen = m[at + 1];
            return m + at + 2;
        }
        at += 2 + (size_t)m[at + 1];
    }
    return NULL;
}

static unsigned dhcp_sent(void)
{
    unsigned n = 0;
    size_t len;
    for (unsigned i = 0; i < H.sent_count; i++)
        n += sent_dhcp(i, &len) != NULL;
    return n;
}

/* A server reply of type with a lease of LEASE_IP/24, router and DNS
 * 192.0.2.53, injected on the device. */
static void inject_reply(uint8_t type, uint32_t xid)
{
    uint8_t b[320];
    memset(b, 0, sizeof b);
    b[0] = 2, b[1] = 1, b[2] = 6;                    /* op reply, Ethernet, hlen */
    tern_store_be32(b + 4, xid);
    tern_store_be32(b + 16, LEASE_IP);               /* yiaddr */
    memcpy(b + 28, nh_our_mac, 6);                   /* chaddr */
    b[236] = 99, b[237] = 130, b[238] = 83, b[239] = 99;
    static const uint8_t opts_tail[] = {
        54, 4, 192, 0, 2, 1,                         /* server identifier */
        1, 4, 255, 255, 255, 0,                      /* subnet mask */
        3, 4, 192, 0, 2, 1,                          /* router */
        6, 4, 192, 0, 2, 53,                         /* DNS server */
        51, 4, 0, 0, 2, 88,                          /* lease 600 s */
        255,
    };
    size_t i = 240;
    b[i++] = 53, b[i++] = 1, b[i++] = type;
    memcpy(b + i, opts_tail, sizeof opts_tail);
    i += sizeof opts_tail;
    uint8_t f[1600];
    size_t fl = nh_udp(f, nh_bcast_mac, nh_peer_mac, SERVER_IP, 0xffffffffu, 67, 68, b, i);
    nh_inject(&H, f, fl);
}

/* The manifest's static address: net0 configured at once, TERN_NET_UP
 * via=static, on_up once without a lease, no DHCP message. */
static void test_manifest_static(void **state)
{
    (void)state;
    set_static("192.0.2.2/24", SERVER_IP);
    struct tern_boot_net_opts o = opts();
    assert_int_equal(tern_boot_net_start(&BN, &H.os, &o), TERN_OK);
    assert_true(BN.net.ifs[0].configured);
    assert_int_equal(BN.net.ifs[0].addr, TERN_IPV4(192, 0, 2, 2));
    assert_int_equal(BN.net.ifs[0].mask, 0xffffff00u);
    assert_int_equal(BN.net.ifs[0].gw, SERVER_IP);
    assert_true(sim_console_has(&H.sim, "TERN_NET_UP if=net0 ip=192.0.2.2/24 gw=192.0.2.1 "
                                        "mtu=1500 via=static\n"));
    assert_int_equal(UP.count, 1);
    assert_false(UP.with_lease);
    assert_null(BN.dhcp.net);
    nh_advance(&H, 10000);
    assert_int_equal(dhcp_sent(), 0);
}

/* The command line's address wins over the manifest's. */
static void test_command_line_wins(void **state)
{
    (void)state;
    set_static("192.0.2.2/24", SERVER_IP);
    struct tern_boot_net_opts o = opts();
    o.ip = TERN_IPV4(198, 51, 100, 9);
    o.mask = 0xffffff00u;
    assert_int_equal(tern_boot_net_start(&BN, &H.os, &o), TERN_OK);
    assert_int_equal(BN.net.ifs[0].addr, TERN_IPV4(198, 51, 100, 9));
    assert_int_equal(BN.net.ifs[0].gw, 0);
    assert_true(sim_console_has(&H.sim, "TERN_NET_UP if=net0 ip=198.51.100.9/24 gw=0.0.0.0 "
                                        "mtu=1500 via=static\n"));
    uint32_t ip, mask, gw;
    tern_boot_net_address(&M, 0, 0, 0, &ip, &mask, &gw);
    assert_int_equal(ip, TERN_IPV4(192, 0, 2, 2));
    tern_boot_net_address(NULL, 0, 0, 0, &ip, &mask, &gw);
    assert_int_equal(ip, 0);
}

/* DHCP (the manifest's mode): DISCOVER and REQUEST carry the manifest's
 * hostname as option 12; the lease configures net0, calls on_up with it
 * and its DNS server becomes the network's. /status's name is kept. */
static void test_dhcp_sends_hostname(void **state)
{
    (void)state;
    strcpy(M.network.hostname, "tern-web1");
    struct tern_boot_net_opts o = opts();
    assert_int_equal(tern_boot_net_start(&BN, &H.os, &o), TERN_OK);
    assert_string_equal(tern_boot_net_hostname(&BN), "tern-web1");
    assert_true(sim_console_has(&H.sim, "info net: hostname tern-web1\n"));
    assert_int_equal(UP.count, 0);
    size_t len, olen;
    const uint8_t *m = sent_dhcp(0, &len);
    assert_non_null(m);
    assert_int_equal(m[242], 1);                     /* DISCOVER */
    const uint8_t *name = option(m, len, 12, &olen);
    assert_non_null(name);
    assert_int_equal(olen, 9);
    assert_memory_equal(name, "tern-web1", 9);
    uint32_t xid = tern_load_be32(m + 4);
    uint32_t dns[TERN_BOOT_NET_DNS_MAX];
    assert_int_equal(tern_boot_net_dns(&BN, dns), 0);
    nh_clear_sent(&H);
    inject_reply(2, xid);                            /* OFFER */
    m = sent_dhcp(0, &len);
    assert_non_null(m);
    assert_int_equal(m[242], 3);                     /* REQUEST */
    name = option(m, len, 12, &olen);
    assert_non_null(name);
    assert_memory_equal(name, "tern-web1", olen);
    inject_reply(5, xid);                            /* ACK */
    assert_int_equal(BN.net.ifs[0].addr, LEASE_IP);
    assert_int_equal(UP.count, 1);
    assert_true(UP.with_lease);
    assert_int_equal(tern_boot_net_dns(&BN, dns), 1);
    assert_int_equal(dns[0], TERN_IPV4(192, 0, 2, 53));
}

/* Without a manifest (no workload): DHCP, no hostname. */
static void test_no_manifest(void **state)
{
    (void)state;
    struct tern_boot_net_opts o = opts();
    o.manifest = NULL;
    assert_int_equal(tern_boot_net_start(&BN, &H.os, &o), TERN_OK);
    assert_null(tern_boot_net_hostname(&BN));
    size_t len, olen;
    const uint8_t *m = sent_dhcp(0, &len);
    assert_non_null(m);
    assert_null(option(m, len, 12, &olen));
    assert_true(sim_console_has(&H.sim, "info net: TCP pool 64 control blocks (the default for "
                                        "this heap)\n"));
}

/* DNS servers: the command line's, else the manifest's static ones. */
static void test_dns_rule(void **state)
{
    (void)state;
    set_static("192.0.2.2/24", 0);
    M.network.dns[0] = TERN_IPV4(192, 0, 2, 9);
    M.network.dns[1] = TERN_IPV4(192, 0, 2, 10);
    M.network.dns_count = 2;
    struct tern_boot_net_opts o = opts();
    assert_int_equal(tern_boot_net_start(&BN, &H.os, &o), TERN_OK);
    uint32_t dns[TERN_BOOT_NET_DNS_MAX];
    assert_int_equal(tern_boot_net_dns(&BN, dns), 2);
    assert_int_equal(dns[1], TERN_IPV4(192, 0, 2, 10));
    teardown(state);
    setup(state);
    set_static("192.0.2.2/24", 0);
    M.network.dns[0] = TERN_IPV4(192, 0, 2, 9);
    M.network.dns_count = 1;
    o = opts();
    o.dns[0] = TERN_IPV4(198, 51, 100, 53);
    o.dns_count = 1;
    assert_int_equal(tern_boot_net_start(&BN, &H.os, &o), TERN_OK);
    assert_int_equal(tern_boot_net_dns(&BN, dns), 1);
    assert_int_equal(dns[0], TERN_IPV4(198, 51, 100, 53));
}

/* The pool: the backend's count, then the manifest's, then the command
 * line's, each said on the console. */
static void test_pool_rule(void **state)
{
    (void)state;
    set_static("192.0.2.2/24", 0);
    M.resources.tcp_connections = 100;
    struct tern_boot_net_opts o = opts();
    assert_int_equal(tern_boot_net_start(&BN, &H.os, &o), TERN_OK);
    assert_int_equal(BN.tcp.cfg.max_conns, 100);
    assert_true(sim_console_has(&H.sim, "info net: TCP pool 100 control blocks "
                                        "(resources.tcp_connections)\n"));
    teardown(state);
    setup(state);
    set_static("192.0.2.2/24", 0);
    M.resources.tcp_connections = 100;
    o = opts();
    o.tcp_conns = 40;
    o.tcp_conns_flag = "--tcp-conns";
    assert_int_equal(tern_boot_net_start(&BN, &H.os, &o), TERN_OK);
    assert_int_equal(BN.tcp.cfg.max_conns, 40);
    assert_true(sim_console_has(&H.sim, "info net: TCP pool 40 control blocks (--tcp-conns)\n"));
}

/* Refusals: no device is TERN_ENOENT with nothing started; a pool the
 * heap cannot hold is TERN_ENOMEM with a line saying so. */
static void test_refusals(void **state)
{
    (void)state;
    M.resources.tcp_connections = 65535;             /* ~570 MiB, the heap has 8 */
    struct tern_boot_net_opts o = opts();
    assert_int_equal(tern_boot_net_start(&BN, &H.os, &o), TERN_ENOMEM);
    assert_true(sim_console_has(&H.sim, "error net: no room for 65535 TCP control blocks "
                                        "(resources.tcp_connections): enomem\n"));
    assert_int_equal(UP.count, 0);

    struct sim_platform sim;
    assert_int_equal(sim_platform_init(&sim, 1u << 20, 1), 0);
    struct tern_platform plat = sim_platform(&sim);
    struct tern_config cfg;
    tern_config_default(&cfg);
    struct tern_os os;
    assert_int_equal(tern_os_init(&os, &plat, &cfg), TERN_OK);
    static struct tern_boot_net none;
    o = opts();
    assert_int_equal(tern_boot_net_start(&none, &os, &o), TERN_ENOENT);
    assert_int_equal(UP.count, 0);
    tern_os_finish(&os);
    sim_platform_close(&sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_manifest_static, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_line_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dhcp_sends_hostname, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_manifest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dns_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
