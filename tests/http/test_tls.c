/* The core TLS server engine against an in-process mbedTLS client over
 * memory buffers: handshakes with ECDSA and RSA certificates, application
 * data both ways, AEAD-only suites (a CBC-only client is refused),
 * session-ticket resumption, garbage input, and clear errors for missing,
 * broken or mismatched certificates and keys. argv[1]: fixtures/tls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/ssl.h"

#include "sim_platform.h"
#include "tern/os.h"
#include "tern/tls.h"

static const char *dir;

struct file {
    uint8_t *data;
    size_t len;
};

static struct file load(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct file r = { malloc(16384), 0 };
    r.len = fread(r.data, 1, 16384, f);
    fclose(f);
    return r;
}

struct env {
    struct sim_platform sim;
    struct tern_os os;
    struct tern_tls_server srv;
    struct tern_tls_session ss;
    /* client */
    mbedtls_ssl_config cconf;
    mbedtls_ctr_drbg_context cdrbg;
    mbedtls_x509_crt ca;
    mbedtls_ssl_context cssl;
    uint8_t s2c[65536];
    size_t s2c_len;
    uint8_t seen[16384];                 /* the server's first bytes, kept */
    size_t seen_len;
};

static struct env *E;

static int client_entropy(void *ctx, unsigned char *out, size_t len)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++)
        out[i] = (unsigned char)(rand() & 0xff);
    return 0;
}

static int c_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct env *e = ctx;
    size_t n = tern_tls_input(&e->ss, buf, len);
    return n ? (int)n : MBEDTLS_ERR_SSL_WANT_WRITE;
}

static int c_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct env *e = ctx;
    if (e->s2c_len == 0)
        return MBEDTLS_ERR_SSL_WANT_READ;
    if (len > e->s2c_len)
        len = e->s2c_len;
    memcpy(buf, e->s2c, len);
    memmove(e->s2c, e->s2c + len, e->s2c_len - len);
    e->s2c_len -= len;
    return (int)len;
}

static void move_s2c(struct env *e)
{
    const uint8_t *p;
    size_t n;
    tern_tls_output(&e->ss, &p, &n);
    if (n > sizeof e->s2c - e->s2c_len)
        n = sizeof e->s2c - e->s2c_len;
    memcpy(e->s2c + e->s2c_len, p, n);
    e->s2c_len += n;
    size_t keep = n < sizeof e->seen - e->seen_len ? n : sizeof e->seen - e->seen_len;
    memcpy(e->seen + e->seen_len, p, keep);
    e->seen_len += keep;
    tern_tls_output_done(&e->ss, n);
}

/* The named group of the server's ServerKeyExchange (handshake type 12,
 * a 3-byte length, curve_type named_curve 3, the 2-byte group), or -1. */
static int server_group(const struct env *e)
{
    for (size_t i = 0; i + 7 <= e->seen_len; i++)
        if (e->seen[i] == 12 && e->seen[i + 4] == 3 && e->seen[i + 5] == 0 &&
            (e->seen[i + 1] << 16 | e->seen[i + 2] << 8 | e->seen[i + 3]) < 1024)
            return e->seen[i + 5] << 8 | e->seen[i + 6];
    return -1;
}

static void env_os(struct env *e)
{
    assert_int_equal(sim_platform_init(&e->sim, 1u << 20, 99), 0);
    struct tern_platform p = sim_platform(&e->sim);
    struct tern_config cfg;
    tern_config_default(&cfg);
    cfg.console_level = TERN_LOG_WARN;
    assert_int_equal(tern_os_init(&e->os, &p, &cfg), TERN_OK);
}

static void server_up(struct env *e, const char *cert, const char *key)
{
    struct file c = load(cert), k = load(key);
    char err[160];
    assert_int_equal(tern_tls_server_init(&e->srv, &e->os, c.data, c.len, k.data, k.len, err,
                                          sizeof err),
                     TERN_OK);
    free(c.data);
    free(k.data);
}

static void client_up(struct env *e, const char *ca, const int *suites,
                      const mbedtls_ssl_session *resume)
{
    mbedtls_ssl_config_init(&e->cconf);
    mbedtls_ctr_drbg_init(&e->cdrbg);
    mbedtls_x509_crt_init(&e->ca);
    mbedtls_ssl_init(&e->cssl);
    assert_int_equal(mbedtls_ctr_drbg_seed(&e->cdrbg, client_entropy, NULL, NULL, 0), 0);
    struct file f = load(ca);
    uint8_t *z = realloc(f.data, f.len + 1);
    z[f.len] = 0;
    assert_int_equal(mbedtls_x509_crt_parse(&e->ca, z, f.len + 1), 0);
    free(z);
    assert_int_equal(mbedtls_ssl_config_defaults(&e->cconf, MBEDTLS_SSL_IS_CLIENT,
                                                 MBEDTLS_SSL_TRANSPORT_STREAM,
                                                 MBEDTLS_SSL_PRESET_DEFAULT),
                     0);
    mbedtls_ssl_conf_rng(&e->cconf, mbedtls_ctr_drbg_random, &e->cdrbg);
    mbedtls_ssl_conf_authmode(&e->cconf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&e->cconf, &e->ca, NULL);
    if (suites)
        mbedtls_ssl_conf_ciphersuites(&e->cconf, suites);
    assert_int_equal(mbedtls_ssl_setup(&e->cssl, &e->cconf), 0);
    assert_int_equal(mbedtls_ssl_set_hostname(&e->cssl, "tern.test"), 0);
    mbedtls_ssl_set_bio(&e->cssl, e, c_send, c_recv, NULL);
    if (resume)
        assert_int_equal(mbedtls_ssl_set_session(&e->cssl, resume), 0);
    e->s2c_len = 0;
    e->seen_len = 0;
    assert_int_equal(tern_tls_session_init(&e->ss, &e->srv), TERN_OK);
}

static void client_down(struct env *e)
{
    tern_tls_session_finish(&e->ss);
    mbedtls_ssl_free(&e->cssl);
    mbedtls_ssl_config_free(&e->cconf);
    mbedtls_ctr_drbg_free(&e->cdrbg);
    mbedtls_x509_crt_free(&e->ca);
}

/* Runs both sides until the client's handshake ends. Returns its code;
 * *srv_r gets the server's last result. */
static int handshake(struct env *e, tern_result *srv_r)
{
    int rc = MBEDTLS_ERR_SSL_WANT_READ;
    tern_result sr = TERN_AGAIN;
    for (int i = 0; i < 200; i++) {
        rc = mbedtls_ssl_handshake(&e->cssl);
        uint8_t buf[64];
        size_t got;
        sr = tern_tls_read(&e->ss, buf, sizeof buf, &got);
        move_s2c(e);
        if (rc == 0 && tern_tls_open(&e->ss))
            break;
        if (rc != 0 && rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE)
            break;
        if (sr == TERN_EPROTO && e->s2c_len == 0)
            break;
    }
    *srv_r = sr;
    return rc;
}

static int setup(void **state)
{
    (void)state;
    E = calloc(1, sizeof *E);
    env_os(E);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tern_os_finish(&E->os);
    sim_platform_close(&E->sim);
    free(E);
    return 0;
}

static void exchange(struct env *e)
{
    const char *req = "GET /healthz HTTP/1.1\r\nHost: tern.test\r\n\r\n";
    assert_int_equal(mbedtls_ssl_write(&e->cssl, (const unsigned char *)req, strlen(req)),
                     (int)strlen(req));
    char buf[256];
    size_t got = 0;
    assert_int_equal(tern_tls_read(&e->ss, buf, sizeof buf, &got), TERN_OK);
    assert_int_equal(got, strlen(req));
    assert_memory_equal(buf, req, got);
    /* a response larger than one record */
    static char big[40000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    size_t off = 0, rd = 0;
    static char back[40000];
    while (rd < sizeof big) {
        size_t w = 0;
        if (off < sizeof big) {
            tern_result r = tern_tls_write(&e->ss, big + off, sizeof big - off, &w);
            assert_true(r == TERN_OK || r == TERN_AGAIN);
            off += w;
        }
        move_s2c(e);
        int n = mbedtls_ssl_read(&e->cssl, (unsigned char *)back + rd, sizeof back - rd);
        if (n > 0)
            rd += (size_t)n;
        else
            assert_int_equal(n, MBEDTLS_ERR_SSL_WANT_READ);
    }
    assert_memory_equal(back, big, sizeof big);
    /* close_notify from the client */
    mbedtls_ssl_close_notify(&e->cssl);
    assert_int_equal(tern_tls_read(&e->ss, buf, sizeof buf, &got), TERN_ECLOSED);
}

static void test_ecdsa_handshake_and_data(void **state)
{
    (void)state;
    server_up(E, "test-ec-cert.pem", "test-ec-key.pem");
    client_up(E, "test-ec-cert.pem", NULL, NULL);
    tern_result sr;
    assert_int_equal(handshake(E, &sr), 0);
    assert_string_equal(mbedtls_ssl_get_version(&E->cssl), "TLSv1.2");
    assert_string_equal(mbedtls_ssl_get_ciphersuite(&E->cssl),
                        "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256");
    exchange(E);
    assert_int_equal(E->srv.stats.handshakes, 1);
    assert_int_equal(E->srv.stats.close_notify, 1);
    client_down(E);
    tern_tls_server_finish(&E->srv);
}

/* The server picks the key exchange group by its own order: X25519, then
 * P-256, then P-384; secp521r1 (mbedTLS's first by default, and the
 * slowest) is not offered. */
static void test_key_exchange_groups(void **state)
{
    (void)state;
    server_up(E, "test-ec-cert.pem", "test-ec-key.pem");
    tern_result sr;
    /* A client that prefers P-521 and offers X25519 last (mbedTLS's own
     * client default leaves X25519 out; OpenSSL and NSS list it first). */
    static const mbedtls_ecp_group_id all[] = { MBEDTLS_ECP_DP_SECP521R1,
                                                MBEDTLS_ECP_DP_SECP256R1,
                                                MBEDTLS_ECP_DP_CURVE25519,
                                                MBEDTLS_ECP_DP_NONE };
    client_up(E, "test-ec-cert.pem", NULL, NULL);
    mbedtls_ssl_conf_curves(&E->cconf, all);
    assert_int_equal(handshake(E, &sr), 0);
    assert_int_equal(server_group(E), 0x001d);          /* x25519 */
    exchange(E);
    client_down(E);
    static const mbedtls_ecp_group_id p256_p521[] = { MBEDTLS_ECP_DP_SECP521R1,
                                                      MBEDTLS_ECP_DP_SECP256R1,
                                                      MBEDTLS_ECP_DP_NONE };
    client_up(E, "test-ec-cert.pem", NULL, NULL);
    mbedtls_ssl_conf_curves(&E->cconf, p256_p521);
    assert_int_equal(handshake(E, &sr), 0);
    assert_int_equal(server_group(E), 0x0017);          /* secp256r1 */
    client_down(E);
    static const mbedtls_ecp_group_id p521[] = { MBEDTLS_ECP_DP_SECP521R1, MBEDTLS_ECP_DP_NONE };
    client_up(E, "test-ec-cert.pem", NULL, NULL);
    mbedtls_ssl_conf_curves(&E->cconf, p521);
    assert_int_not_equal(handshake(E, &sr), 0);
    assert_int_equal(sr, TERN_EPROTO);
    assert_int_equal(E->srv.stats.handshake_failures, 1);
    client_down(E);
    tern_tls_server_finish(&E->srv);
}

static void test_rsa_chacha_and_cbc_refused(void **state)
{
    (void)state;
    server_up(E, "test-rsa-cert.pem", "test-rsa-key.pem");
    static const int chacha[] = { MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, 0 };
    client_up(E, "test-rsa-cert.pem", chacha, NULL);
    tern_result sr;
    assert_int_equal(handshake(E, &sr), 0);
    assert_string_equal(mbedtls_ssl_get_ciphersuite(&E->cssl),
                        "TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256");
    exchange(E);
    client_down(E);

    static const int cbc[] = { MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
                               MBEDTLS_TLS_RSA_WITH_AES_128_GCM_SHA256, 0 };
    client_up(E, "test-rsa-cert.pem", cbc, NULL);
    int rc = handshake(E, &sr);
    assert_int_not_equal(rc, 0);
    assert_int_equal(sr, TERN_EPROTO);
    assert_false(tern_tls_open(&E->ss));
    assert_int_equal(E->srv.stats.handshake_failures, 1);
    client_down(E);
    tern_tls_server_finish(&E->srv);
}

static void test_session_ticket_resumption(void **state)
{
    (void)state;
    server_up(E, "test-ec-cert.pem", "test-ec-key.pem");
    client_up(E, "test-ec-cert.pem", NULL, NULL);
    tern_result sr;
    assert_int_equal(handshake(E, &sr), 0);
    mbedtls_ssl_session saved;
    mbedtls_ssl_session_init(&saved);
    assert_int_equal(mbedtls_ssl_get_session(&E->cssl, &saved), 0);
    assert_true(saved.ticket_len > 0);             /* the server issued a ticket */
    client_down(E);
    client_up(E, "test-ec-cert.pem", NULL, &saved);
    assert_int_equal(handshake(E, &sr), 0);
    assert_int_equal(E->srv.stats.resumed, 1);
    exchange(E);
    mbedtls_ssl_session_free(&saved);
    client_down(E);
    tern_tls_server_finish(&E->srv);
}

static void test_garbage_input(void **state)
{
    (void)state;
    server_up(E, "test-ec-cert.pem", "test-ec-key.pem");
    assert_int_equal(tern_tls_session_init(&E->ss, &E->srv), TERN_OK);
    const char *plain = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    tern_tls_input(&E->ss, (const uint8_t *)plain, strlen(plain));
    char buf[64];
    size_t got;
    assert_int_equal(tern_tls_read(&E->ss, buf, sizeof buf, &got), TERN_EPROTO);
    assert_int_equal(tern_tls_read(&E->ss, buf, sizeof buf, &got), TERN_EPROTO);
    assert_int_equal(E->srv.stats.handshake_failures, 1);
    tern_tls_session_finish(&E->ss);
    tern_tls_server_finish(&E->srv);
}

static void test_bad_cert_and_key_errors(void **state)
{
    (void)state;
    struct file c = load("test-ec-cert.pem"), k = load("test-ec-key.pem"),
                other = load("test-other-key.pem"), rsa = load("test-rsa-key.pem");
    char err[160];
    struct tern_tls_server *s = &E->srv;
    assert_int_equal(tern_tls_server_init(s, &E->os, NULL, 0, k.data, k.len, err, sizeof err),
                     TERN_EINVAL);
    assert_non_null(strstr(err, "certificate missing"));
    assert_int_equal(tern_tls_server_init(s, &E->os, c.data, c.len, k.data, 0, err, sizeof err),
                     TERN_EINVAL);
    assert_non_null(strstr(err, "key missing"));
    const uint8_t junk[] = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
    assert_int_equal(tern_tls_server_init(s, &E->os, junk, sizeof junk - 1, k.data, k.len, err,
                                          sizeof err),
                     TERN_EINVAL);
    assert_non_null(strstr(err, "certificate unreadable"));
    /* a key file given as the certificate */
    assert_int_equal(tern_tls_server_init(s, &E->os, k.data, k.len, k.data, k.len, err,
                                          sizeof err),
                     TERN_EINVAL);
    assert_non_null(strstr(err, "certificate unreadable"));
    assert_int_equal(tern_tls_server_init(s, &E->os, c.data, c.len, c.data, c.len, err,
                                          sizeof err),
                     TERN_EINVAL);
    assert_non_null(strstr(err, "key unreadable"));
    assert_int_equal(tern_tls_server_init(s, &E->os, c.data, c.len, other.data, other.len, err,
                                          sizeof err),
                     TERN_EINVAL);
    assert_non_null(strstr(err, "does not match"));
    assert_int_equal(tern_tls_server_init(s, &E->os, c.data, c.len, rsa.data, rsa.len, err,
                                          sizeof err),
                     TERN_EINVAL);
    assert_non_null(strstr(err, "does not match"));
    free(c.data);
    free(k.data);
    free(other.data);
    free(rsa.data);
}

/* The entropy source fails while the DRBG is seeded: the server is
 * refused (TERN_EIO, "not seeded"), the failure counted and logged. */
static void test_entropy_failure_refuses_server(void **state)
{
    (void)state;
    struct file c = load("test-ec-cert.pem"), k = load("test-ec-key.pem");
    char err[160];
    E->sim.entropy_fail = true;
    assert_int_equal(tern_tls_server_init(&E->srv, &E->os, c.data, c.len, k.data, k.len, err,
                                          sizeof err),
                     TERN_EIO);
    assert_non_null(strstr(err, "random generator not seeded"));
    assert_true(E->os.entropy_failures >= 1);
    assert_true(sim_console_has(&E->sim, "error tls: entropy source failed: the DRBG's seed"));
    E->sim.entropy_fail = false;
    free(c.data);
    free(k.data);
}

int main(int argc, char **argv)
{
    dir = argc > 1 ? argv[1] : "fixtures/tls";
    srand(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ecdsa_handshake_and_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_exchange_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rsa_chacha_and_cbc_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_ticket_resumption, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_cert_and_key_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entropy_failure_refuses_server, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
