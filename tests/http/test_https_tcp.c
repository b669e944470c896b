/* HTTPS on the real core TCP (loopback in one tern_tcp instance): an
 * mbedTLS client does a verified TLS 1.2 handshake with the core TLS
 * engine behind tern_https_tcp, pipelines two requests (a 100 KB file,
 * then a close), gets both and a close_notify; plain HTTP sent to the
 * HTTPS port is refused and counted. argv[1]: fixtures/tls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/ssl.h"

#include "tern/https_tcp.h"
#include "tern/tls.h"

#define LOOP_EXTRA                                                                            \
    struct tern_https_tcp hs;                                                                 \
    struct tern_https_tcp_slot hslots[BENCH_POOL];                                            \
    struct tern_tls_server tls;
#include "tcp_loop.h"

static const char *dir;

static uint8_t *load(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t *buf = calloc(1, 16385);
    *len = fread(buf, 1, 16384, f);
    fclose(f);
    return buf;
}

static int setup(void **state)
{
    (void)state;
    L = calloc(1, sizeof *L);
    bench_init(&L->b, NULL);
    struct tern_tcp_config cfg;
    tern_tcp_config_default(&cfg);
    cfg.max_conns = 16;
    cfg.sndbuf = cfg.rcvbuf = 16384;
    cfg.grow_bytes = 0; /* fixed 16 KiB buffers */
    struct tern_tcp_lower lower = { .output = loop_output, .path_mtu = loop_mtu, .ctx = L };
    assert_int_equal(tern_tcp_init(&L->tcp, &L->b.os, &lower, &cfg), TERN_OK);
    size_t cl, kl;
    uint8_t *c = load("test-ec-cert.pem", &cl), *k = load("test-ec-key.pem", &kl);
    char err[128];
    assert_int_equal(tern_tls_server_init(&L->tls, &L->b.os, c, cl, k, kl, err, sizeof err),
                     TERN_OK);
    free(c);
    free(k);
    assert_int_equal(tern_https_tcp_start(&L->hs, &L->tcp, &L->b.srv, &L->tls, 80, L->hslots,
                                          BENCH_POOL),
                     TERN_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tern_https_tcp_stop(&L->hs);
    assert_int_equal(L->b.srv.counters.conns_active, 0);
    assert_int_equal(L->b.fs.open_handles, 0);
    tern_tls_server_finish(&L->tls);
    tern_tcp_finish(&L->tcp);
    bench_fini(&L->b);
    free(L);
    return 0;
}

static int c_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct peer *p = ctx;
    size_t sent = 0;
    if (tern_tcp_send(p->s, buf, len, &sent) != TERN_OK || sent == 0)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    return (int)sent;
}

static int c_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct peer *p = ctx;
    if (p->len == 0)
        return p->eof ? 0 : MBEDTLS_ERR_SSL_WANT_READ;
    if (len > p->len)
        len = p->len;
    memcpy(buf, p->got, len);
    memmove(p->got, p->got + len, p->len - len);
    p->len -= len;
    return (int)len;
}

static int rng(void *ctx, unsigned char *out, size_t len)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++)
        out[i] = (unsigned char)rand();
    return 0;
}

static void test_https_pipelined_and_close_notify(void **state)
{
    (void)state;
    struct peer *p = peer_connect();
    mbedtls_ssl_config conf;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca;
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config_init(&conf);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509_crt_init(&ca);
    mbedtls_ssl_init(&ssl);
    size_t cl;
    uint8_t *c = load("test-ec-cert.pem", &cl);
    assert_int_equal(mbedtls_x509_crt_parse(&ca, c, cl + 1), 0);
    free(c);
    assert_int_equal(mbedtls_ctr_drbg_seed(&drbg, rng, NULL, NULL, 0), 0);
    assert_int_equal(mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT,
                                                 MBEDTLS_SSL_TRANSPORT_STREAM,
                                                 MBEDTLS_SSL_PRESET_DEFAULT),
                     0);
    mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
    assert_int_equal(mbedtls_ssl_setup(&ssl, &conf), 0);
    assert_int_equal(mbedtls_ssl_set_hostname(&ssl, "tern.test"), 0);
    mbedtls_ssl_set_bio(&ssl, p, c_send, c_recv, NULL);
    int rc = MBEDTLS_ERR_SSL_WANT_READ;
    for (int i = 0; i < 200 && rc != 0; i++) {
        rc = mbedtls_ssl_handshake(&ssl);
        loop_run(L);
        assert_true(rc == 0 || rc == MBEDTLS_ERR_SSL_WANT_READ ||
                    rc == MBEDTLS_ERR_SSL_WANT_WRITE);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(L->tls.stats.handshakes, 1);
    const char *req = "GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n"
                      "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    assert_int_equal(mbedtls_ssl_write(&ssl, (const unsigned char *)req, strlen(req)),
                     (int)strlen(req));
    static char plain[200000];
    size_t pl = 0;
    for (int i = 0; i < 2000; i++) {
        loop_run(L);
        rc = mbedtls_ssl_read(&ssl, (unsigned char *)plain + pl, sizeof plain - 1 - pl);
        if (rc > 0)
            pl += (size_t)rc;
        else if (rc != MBEDTLS_ERR_SSL_WANT_READ)
            break;
        L->b.sim.now_ns += 1000000;
    }
    assert_int_equal(rc, MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY);
    plain[pl] = '\0';
    const char *body = strstr(plain, "Content-Length: 100000\r\n\r\n");
    assert_non_null(body);
    body += strlen("Content-Length: 100000\r\n\r\n");
    assert_memory_equal(body, L->b.big, BIG_SIZE);
    assert_non_null(strstr(body + BIG_SIZE, "Connection: close\r\n\r\nok"));
    tern_tcp_close(p->s);
    loop_run(L);
    free(p);
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_x509_crt_free(&ca);
    assert_int_equal(L->b.srv.counters.requests, 2);
}

static void test_plain_http_to_https_port(void **state)
{
    (void)state;
    struct peer *p = peer_connect();
    peer_send(p, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_null(strstr(p->got, "HTTP/1.1"));
    assert_true(p->error || p->eof);
    assert_int_equal(L->hs.tls_failures, 1);
    assert_int_equal(L->tls.stats.handshake_failures, 1);
    tern_tcp_abort(p->s);
    loop_run(L);
    free(p);
}

int main(int argc, char **argv)
{
    dir = argc > 1 ? argv[1] : "fixtures/tls";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_https_pipelined_and_close_notify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_http_to_https_port, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
