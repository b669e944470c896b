/* HTTPS of a boot (core/boot/https.c) on a simulated device with the real
 * stack and HTTP service: each https endpoint of the manifest listens on
 * its port with the certificate and key read from the workload's files;
 * a pair given by the backend applies over them (or serves 443 alone);
 * the crypto self-test runs first unless one passed; a refused pair of
 * the manifest is TERN_APP_REFUSED and leaves nothing listening and
 * nothing on the heap (also when an earlier endpoint had started); a
 * refused given pair is not the app's; /status says "https".
 * argv[1]: fixtures/tls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "net_harness.h"
#include "tern/boot_https.h"
#include "tern/boot_net.h"
#include "tern/inet.h"
#include "tern/manifest.h"
#include "tern/services.h"
#include "tern/tcp.h"
#include "tern/workload.h"

static const char *dir;
static struct net_harness H;
static struct tern_boot_net BN;
static struct tern_services SVC;
static struct tern_boot_https HS;
static struct tern_manifest M;
static size_t heap_before;

/* The workload's files are fixtures/tls's, by name. */
static tern_result read_fixture(void *arg, const char *path, void *buf, size_t cap, size_t *len)
{
    (void)arg;
    char full[512];
    snprintf(full, sizeof full, "%s/%s", dir, path);
    FILE *f = fopen(full, "rb");
    if (f == NULL)
        return TERN_ENOENT;
    *len = fread(buf, 1, cap, f);
    fclose(f);
    return TERN_OK;
}

static const struct tern_workload_files FILES = { .read_file = read_fixture };

/* A manifest "t" whose endpoints are the JSON array text. */
static void manifest(const char *endpoints)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"tern_manifest\": 1, \"name\": \"t\", \"version\": \"1.0.0\","
             " \"app\": {\"path\": \"t.elf\"}, \"endpoints\": %s}", endpoints);
    struct tern_manifest_error err;
    assert_int_equal(tern_manifest_parse(json, strlen(json), &M, &err), TERN_OK);
}

static uint8_t *load(const char *name, size_t *len)
{
    static uint8_t bufs[2][16384];
    static unsigned next;
    uint8_t *b = bufs[next++ % 2];
    assert_int_equal(read_fixture(NULL, name, b, sizeof bufs[0], len), TERN_OK);
    return b;
}

static int setup(void **state)
{
    (void)state;
    if (nh_init_device(&H, 1500) != 0)
        return -1;
    H.os.cfg.console_level = TERN_LOG_INFO;
    struct tern_boot_net_opts o = { 0 };
    tern_manifest_default(&M);
    M.network.mode = TERN_MANIFEST_NET_STATIC;
    M.network.address = TERN_IPV4(192, 0, 2, 2);
    M.network.prefix_len = 24;
    o.manifest = &M;
    tern_tcp_config_default(&o.tcp);
    o.tcp.max_conns = 64;
    o.tcp.grow_bytes = 0;
    o.tcp.sndbuf = o.tcp.rcvbuf = 4096;
    assert_int_equal(tern_boot_net_start(&BN, &H.os, &o), TERN_OK);
    struct tern_services_opts so = { .backend = "test", .network = &BN, .conns = 4 };
    assert_int_equal(tern_services_start(&SVC, &H.os, &so), TERN_OK);
    heap_before = H.os.heap.in_use;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tern_boot_https_stop(&HS);
    assert_int_equal(H.os.heap.in_use, heap_before);   /* every listener freed */
    assert_ptr_equal(SVC.status.more, NULL);           /* /status unhooked */
    tern_services_stop(&SVC);
    nh_close(&H);
    memset(&BN, 0, sizeof BN);
    memset(&HS, 0, sizeof HS);
    return 0;
}

static tern_result start(const struct tern_tls_pair *given, bool passed)
{
    struct tern_boot_https_opts o = { .m = &M, .files = &FILES, .source = "test",
                                      .given = given, .services = &SVC,
                                      .selftest_passed = passed };
    return tern_boot_https_start(&HS, &H.os, &o);
}

static bool listening(uint16_t port)
{
    return tern_tcp_listening(&BN.tcp, port);
}

static void status_has(const char *text)
{
    char buf[8192];
    size_t n = tern_http_net_status(&SVC.status, buf, sizeof buf - 1);
    buf[n] = '\0';
    if (strstr(buf, text) == NULL)
        fail_msg("/status has no %s in %s", text, buf);
}

static void test_endpoints_served(void **state)
{
    (void)state;
    manifest("[{\"name\": \"a\", \"proto\": \"https\", \"port\": 8443,"
             " \"cert\": \"test-ec-cert.pem\", \"key\": \"test-ec-key.pem\"},"
             " {\"name\": \"b\", \"proto\": \"https\", \"port\": 9443,"
             " \"cert\": \"test-rsa-cert.pem\", \"key\": \"test-rsa-key.pem\"}]");
    assert_int_equal(start(NULL, false), TERN_OK);
    assert_true(listening(8443) && listening(9443) && !listening(443));
    assert_string_equal(tern_boot_https_ports(&HS), "8443,9443");
    assert_true(sim_console_has(&H.sim, "tls self-test ok: sha256 aes-128-gcm "
                                        "chacha20-poly1305 ecdsa-p256, server set up"));
    assert_true(sim_console_has(&H.sim, "info tls: https on port 8443 (certificate and key from "
                                        "test-ec-cert.pem, test-ec-key.pem of test: endpoint a)"));
    status_has("\"https\":[{\"port\":8443,\"endpoint\":\"a\",\"from\":\"manifest\","
               "\"handshakes\":0,\"handshake_failures\":0,\"resumed\":0},{\"port\":9443,");
    tern_boot_https_stop(&HS);
    assert_true(!listening(8443) && !listening(9443));
}

/* The second endpoint's key does not match: the first, already
 * listening, is stopped again and freed. */
static void test_refused_leaves_nothing(void **state)
{
    (void)state;
    manifest("[{\"name\": \"a\", \"proto\": \"https\", \"port\": 8443,"
             " \"cert\": \"test-ec-cert.pem\", \"key\": \"test-ec-key.pem\"},"
             " {\"name\": \"b\", \"proto\": \"https\", \"port\": 9443,"
             " \"cert\": \"test-ec-cert.pem\", \"key\": \"test-other-key.pem\"}]");
    assert_int_equal(start(NULL, false), TERN_EINVAL);
    assert_true(HS.app_refused);
    assert_true(!listening(8443) && !listening(9443));
    assert_string_equal(tern_boot_https_ports(&HS), "");
    assert_int_equal(H.os.heap.in_use, heap_before);
    assert_true(sim_console_has(&H.sim, "TERN_APP_REFUSED name=t reason=endpoint_b:_certificate_"
                                        "test-ec-cert.pem_and_key_test-other-key.pem_refused:_TLS_"
                                        "key_does_not_match_the_certificate"));
}

static void test_missing_file(void **state)
{
    (void)state;
    manifest("[{\"name\": \"a\", \"proto\": \"https\", \"port\": 443,"
             " \"cert\": \"test-ec-cert.pem\", \"key\": \"tls/none.pem\"}]");
    assert_int_equal(start(NULL, true), TERN_EINVAL);
    assert_true(HS.app_refused && !listening(443));
    assert_true(sim_console_has(&H.sim, "TERN_APP_REFUSED name=t reason=endpoint_a:_tls/none.pem_"
                                        "is_not_among_the_workload's_files"));
}

/* A pair given by the backend applies over the manifest's, on its port. */
static void test_given_over_manifest(void **state)
{
    (void)state;
    manifest("[{\"name\": \"a\", \"proto\": \"https\", \"port\": 8443,"
             " \"cert\": \"tls/none.pem\", \"key\": \"tls/none.pem\"}]");
    size_t cl, kl;
    const uint8_t *c = load("test-rsa-cert.pem", &cl), *k = load("test-rsa-key.pem", &kl);
    struct tern_tls_pair given = { c, cl, k, kl, "--tls-cert" };
    assert_int_equal(start(&given, false), TERN_OK);
    assert_true(listening(8443) && !listening(443));
    assert_true(sim_console_has(&H.sim, "info tls: endpoint a: the certificate and key from "
                                        "--tls-cert apply over the manifest's tls/none.pem, "
                                        "tls/none.pem"));
    assert_true(sim_console_has(&H.sim, "info tls: https on port 8443 (certificate and key "
                                        "from --tls-cert)"));
    status_has("\"https\":[{\"port\":8443,\"endpoint\":\"a\",\"from\":\"--tls-cert\"");
}

/* A given pair and no https endpoint: 443, as before manifests. */
static void test_given_alone(void **state)
{
    (void)state;
    manifest("[]");
    size_t cl, kl;
    const uint8_t *c = load("test-ec-cert.pem", &cl), *k = load("test-ec-key.pem", &kl);
    struct tern_tls_pair given = { c, cl, k, kl, "ESP" };
    assert_int_equal(start(&given, false), TERN_OK);
    assert_true(listening(443));
    assert_string_equal(tern_boot_https_ports(&HS), "443");
    status_has("\"https\":[{\"port\":443,\"endpoint\":null,\"from\":\"ESP\"");
}

/* A given pair refused is the backend's: no TERN_APP_REFUSED. */
static void test_given_refused(void **state)
{
    (void)state;
    manifest("[]");
    size_t cl, kl;
    const uint8_t *c = load("test-ec-cert.pem", &cl), *k = load("test-other-key.pem", &kl);
    struct tern_tls_pair given = { c, cl, k, kl, "ESP" };
    assert_int_equal(start(&given, true), TERN_EINVAL);
    assert_false(HS.app_refused);
    assert_false(listening(443));
    assert_true(sim_console_has(&H.sim, "error tls: ESP certificate and key refused: TLS key "
                                        "does not match the certificate"));
    assert_false(sim_console_has(&H.sim, "TERN_APP_REFUSED"));
}

/* Nothing asked: off, said once, and no self-test. */
static void test_off(void **state)
{
    (void)state;
    manifest("[{\"name\": \"web\", \"proto\": \"http\", \"port\": 80}]");
    assert_int_equal(start(NULL, false), TERN_OK);
    assert_string_equal(tern_boot_https_ports(&HS), "");
    assert_true(sim_console_has(&H.sim, "info tls: no certificate given and no https endpoint "
                                        "in the manifest: HTTPS off"));
    assert_false(sim_console_has(&H.sim, "self-test"));
    status_has("\"https\":[]");
}

/* A self-test that already passed is not run again. */
static void test_selftest_passed(void **state)
{
    (void)state;
    manifest("[{\"name\": \"a\", \"proto\": \"https\", \"port\": 443,"
             " \"cert\": \"test-ec-cert.pem\", \"key\": \"test-ec-key.pem\"}]");
    assert_int_equal(start(NULL, true), TERN_OK);
    assert_true(listening(443));
    assert_false(sim_console_has(&H.sim, "self-test"));
}

/* An https endpoint needs the OS's HTTP server. */
static void test_no_server(void **state)
{
    (void)state;
    manifest("[{\"name\": \"a\", \"proto\": \"https\", \"port\": 443,"
             " \"cert\": \"test-ec-cert.pem\", \"key\": \"test-ec-key.pem\"}]");
    struct tern_boot_https_opts o = { .m = &M, .files = &FILES, .source = "test" };
    assert_int_equal(tern_boot_https_start(&HS, &H.os, &o), TERN_EINVAL);
    assert_true(HS.app_refused && !listening(443));
    assert_true(sim_console_has(&H.sim, "TERN_APP_REFUSED name=t reason=endpoint_a:_https_needs"));
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FIXTURES_TLS_DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_endpoints_served, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_given_over_manifest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_given_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_given_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_selftest_passed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_server, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
