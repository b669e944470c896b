/*
 * Interface: see include/tern/tls.h.
 *
 * Only mbedTLS's in-memory APIs are used (no *_parse_file, no net_sockets,
 * no entropy module: the DRBG is seeded straight from the platform's
 * entropy call), so this file builds wherever mbedTLS does, freestanding
 * included, given an mbedTLS configuration for that target.
 */
#include <string.h>

#include "mbedtls/error.h"
#include "mbedtls/ssl_ciphersuites.h"

#include "tern/fmt.h"
#include "tern/os.h"
#include "tern/tls.h"

/* AEAD suites with forward secrecy only, best first. */
static const int suites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    0,
};

/* Key exchange groups, best first: mbedTLS's default order starts with
 * secp521r1 (the slowest by far, several ms of the handshake); clients
 * (OpenSSL, NSS, curl) offer X25519 first, then P-256 and P-384. */
static const mbedtls_ecp_group_id curves[] = {
    MBEDTLS_ECP_DP_CURVE25519,
    MBEDTLS_ECP_DP_SECP256R1,
    MBEDTLS_ECP_DP_SECP384R1,
    MBEDTLS_ECP_DP_NONE,
};

static int entropy_cb(void *ctx, unsigned char *out, size_t len)
{
    struct tern_os *os = ctx;
    if (tern_entropy(os, out, len, "tls", "the DRBG's seed or reseed (no handshake or key)") != TERN_OK)
        return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
    return 0;
}

static void say(char *err, size_t cap, const char *what, int code)
{
    char why[96] = "";
    if (code)
        mbedtls_strerror(code, why, sizeof why);
    if (err && cap)
        tern_snprintf(err, cap, "%s%s%s", what, code ? ": " : "", why);
}

/* mbedTLS wants PEM NUL-terminated and counted with the NUL; DER as is. */
static bool is_pem(const uint8_t *p, size_t len)
{
    static const char tag[] = "-----BEGIN";
    for (size_t i = 0; i + sizeof tag - 1 <= len; i++)
        if (memcmp(p + i, tag, sizeof tag - 1) == 0)
            return true;
    return false;
}

static int parse_with_nul(struct tern_os *os, const uint8_t *p, size_t len, bool cert,
                          struct tern_tls_server *srv)
{
    const uint8_t *buf = p;
    uint8_t *copy = NULL;
    size_t n = len;
    if (is_pem(p, len) && p[len - 1] != '\0') {
        copy = tern_alloc(os, len + 1);
        if (!copy)
            return MBEDTLS_ERR_PK_ALLOC_FAILED;
        memcpy(copy, p, len);
        copy[len] = '\0';
        buf = copy;
        n = len + 1;
    }
    int rc = cert ? mbedtls_x509_crt_parse(&srv->chain, buf, n)
                  : mbedtls_pk_parse_key(&srv->key, buf, n, NULL, 0);
    if (copy) {
        memset(copy, 0, len);                /* key material */
        tern_free(os, copy);
    }
    return rc;
}

/* Session tickets: mbedTLS's own ticket keys, counted on the way. */
static int ticket_write(void *p, const mbedtls_ssl_session *session, unsigned char *start,
                        const unsigned char *end, size_t *tlen, uint32_t *lifetime)
{
    struct tern_tls_server *srv = p;
    return mbedtls_ssl_ticket_write(&srv->tickets, session, start, end, tlen, lifetime);
}

static int ticket_parse(void *p, mbedtls_ssl_session *session, unsigned char *buf, size_t len)
{
    struct tern_tls_server *srv = p;
    int rc = mbedtls_ssl_ticket_parse(&srv->tickets, session, buf, len);
    if (rc == 0)
        srv->stats.resumed++;
    return rc;
}

tern_result tern_tls_server_init(struct tern_tls_server *srv, struct tern_os *os,
                                 const uint8_t *cert, size_t cert_len, const uint8_t *key,
                                 size_t key_len, char *err, size_t cap)
{
    memset(srv, 0, sizeof *srv);
    srv->os = os;
    mbedtls_ssl_config_init(&srv->conf);
    mbedtls_ctr_drbg_init(&srv->drbg);
    mbedtls_x509_crt_init(&srv->chain);
    mbedtls_pk_init(&srv->key);
    mbedtls_ssl_ticket_init(&srv->tickets);
    tern_result res = TERN_EINVAL;
    int rc;

    if (!cert || cert_len == 0) {
        say(err, cap, "TLS certificate missing or empty", 0);
        goto fail;
    }
    if (!key || key_len == 0) {
        say(err, cap, "TLS key missing or empty", 0);
        goto fail;
    }
    if ((rc = parse_with_nul(os, cert, cert_len, true, srv)) != 0) {
        say(err, cap, "TLS certificate unreadable", rc);
        goto fail;
    }
    if ((rc = parse_with_nul(os, key, key_len, false, srv)) != 0) {
        say(err, cap, "TLS key unreadable", rc);
        goto fail;
    }
    if ((rc = mbedtls_pk_check_pair(&srv->chain.pk, &srv->key)) != 0) {
        say(err, cap, "TLS key does not match the certificate", rc);
        goto fail;
    }
    static const char pers[] = "tern-tls-server";
    if ((rc = mbedtls_ctr_drbg_seed(&srv->drbg, entropy_cb, os, (const unsigned char *)pers,
                                    sizeof pers - 1)) != 0) {
        say(err, cap, "TLS random generator not seeded", rc);
        res = TERN_EIO;
        goto fail;
    }
    if ((rc = mbedtls_ssl_config_defaults(&srv->conf, MBEDTLS_SSL_IS_SERVER,
                                          MBEDTLS_SSL_TRANSPORT_STREAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
        say(err, cap, "TLS configuration failed", rc);
        goto fail;
    }
    mbedtls_ssl_conf_rng(&srv->conf, mbedtls_ctr_drbg_random, &srv->drbg);
    mbedtls_ssl_conf_min_version(&srv->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(&srv->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(&srv->conf, suites);
    mbedtls_ssl_conf_curves(&srv->conf, curves);
    mbedtls_ssl_conf_renegotiation(&srv->conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
    if ((rc = mbedtls_ssl_conf_own_cert(&srv->conf, &srv->chain, &srv->key)) != 0) {
        say(err, cap, "TLS certificate refused", rc);
        goto fail;
    }
    if ((rc = mbedtls_ssl_ticket_setup(&srv->tickets, mbedtls_ctr_drbg_random, &srv->drbg,
                                       MBEDTLS_CIPHER_AES_256_GCM, 86400)) != 0) {
        say(err, cap, "TLS session tickets failed", rc);
        goto fail;
    }
    mbedtls_ssl_conf_session_tickets_cb(&srv->conf, ticket_write, ticket_parse, srv);
    srv->ready = true;
    if (err && cap)
        err[0] = '\0';
    return TERN_OK;
fail:
    srv->ready = true;
    tern_tls_server_finish(srv);
    return res;
}

void tern_tls_server_finish(struct tern_tls_server *srv)
{
    if (!srv->ready)
        return;
    mbedtls_ssl_ticket_free(&srv->tickets);
    mbedtls_ssl_config_free(&srv->conf);
    mbedtls_ctr_drbg_free(&srv->drbg);
    mbedtls_x509_crt_free(&srv->chain);
    mbedtls_pk_free(&srv->key);
    srv->ready = false;
}

/* ---- BIO over the session buffers ---- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct tern_tls_session *s = ctx;
    if (s->out_off && s->out_off == s->out_len)
        s->out_off = s->out_len = 0;
    if (s->out_len + len > sizeof s->out && s->out_off) {
        memmove(s->out, s->out + s->out_off, s->out_len - s->out_off);
        s->out_len -= s->out_off;
        s->out_off = 0;
    }
    size_t room = sizeof s->out - s->out_len;
    if (room == 0)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    if (len > room)
        len = room;
    memcpy(s->out + s->out_len, buf, len);
    s->out_len += len;
    return (int)len;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct tern_tls_session *s = ctx;
    size_t have = s->in_len - s->in_off;
    if (have == 0)
        return MBEDTLS_ERR_SSL_WANT_READ;
    if (len > have)
        len = have;
    memcpy(buf, s->in + s->in_off, len);
    s->in_off += len;
    if (s->in_off == s->in_len)
        s->in_off = s->in_len = 0;
    return (int)len;
}

tern_result tern_tls_session_init(struct tern_tls_session *s, struct tern_tls_server *srv)
{
    s->srv = srv;
    s->state = TERN_TLS_HANDSHAKE;
    s->last_error = 0;
    s->in_off = s->in_len = s->out_off = s->out_len = 0;
    mbedtls_ssl_init(&s->ssl);
    if (mbedtls_ssl_setup(&s->ssl, &srv->conf) != 0) {
        mbedtls_ssl_free(&s->ssl);
        return TERN_ENOMEM;
    }
    mbedtls_ssl_set_bio(&s->ssl, s, bio_send, bio_recv, NULL);
    return TERN_OK;
}

void tern_tls_session_finish(struct tern_tls_session *s)
{
    mbedtls_ssl_free(&s->ssl);
}

size_t tern_tls_input(struct tern_tls_session *s, const uint8_t *data, size_t len)
{
    if (s->in_off) {
        memmove(s->in, s->in + s->in_off, s->in_len - s->in_off);
        s->in_len -= s->in_off;
        s->in_off = 0;
    }
    size_t room = sizeof s->in - s->in_len;
    if (len > room)
        len = room;
    memcpy(s->in + s->in_len, data, len);
    s->in_len += len;
    return len;
}

void tern_tls_output(struct tern_tls_session *s, const uint8_t **data, size_t *len)
{
    *data = s->out + s->out_off;
    *len = s->out_len - s->out_off;
}

void tern_tls_output_done(struct tern_tls_session *s, size_t n)
{
    if (n > s->out_len - s->out_off)
        n = s->out_len - s->out_off;
    s->out_off += n;
    if (s->out_off == s->out_len)
        s->out_off = s->out_len = 0;
}

static tern_result failed(struct tern_tls_session *s, int rc)
{
    if (s->state == TERN_TLS_HANDSHAKE)
        s->srv->stats.handshake_failures++;
    else
        s->srv->stats.records_bad++;
    s->state = TERN_TLS_FAILED;
    s->last_error = rc;
    return TERN_EPROTO;
}

static tern_result handshake(struct tern_tls_session *s)
{
    if (s->state == TERN_TLS_OPEN)
        return TERN_OK;
    if (s->state != TERN_TLS_HANDSHAKE)
        return s->state == TERN_TLS_CLOSED ? TERN_ECLOSED : TERN_EPROTO;
    int rc = mbedtls_ssl_handshake(&s->ssl);
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
        return TERN_AGAIN;
    if (rc != 0)
        return failed(s, rc);
    s->state = TERN_TLS_OPEN;
    s->srv->stats.handshakes++;
    return TERN_OK;
}

tern_result tern_tls_read(struct tern_tls_session *s, void *buf, size_t cap, size_t *got)
{
    *got = 0;
    tern_result r = handshake(s);
    if (r != TERN_OK)
        return r;
    int rc = mbedtls_ssl_read(&s->ssl, buf, cap);
    if (rc > 0) {
        *got = (size_t)rc;
        return TERN_OK;
    }
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
        return TERN_AGAIN;
    if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
        s->srv->stats.close_notify++;
        s->state = TERN_TLS_CLOSED;
        return TERN_ECLOSED;
    }
    return failed(s, rc);
}

tern_result tern_tls_write(struct tern_tls_session *s, const void *data, size_t len,
                           size_t *wrote)
{
    *wrote = 0;
    tern_result r = handshake(s);
    if (r != TERN_OK)
        return r;
    if (len == 0)
        return TERN_OK;
    /* Only offer what fits as whole records, so a write never ends half
     * flushed (mbedTLS would then insist on the same buffer again). */
    int exp = mbedtls_ssl_get_record_expansion(&s->ssl);
    size_t room = sizeof s->out - (s->out_len - s->out_off);
    size_t over = exp > 0 ? (size_t)exp : 64;
    if (room <= over + 16)
        return TERN_AGAIN;
    size_t n = len;
    if (n > room - over)
        n = room - over;
    if (n > MBEDTLS_SSL_OUT_CONTENT_LEN)
        n = MBEDTLS_SSL_OUT_CONTENT_LEN;
    int rc = mbedtls_ssl_write(&s->ssl, data, n);
    if (rc > 0) {
        *wrote = (size_t)rc;
        return TERN_OK;
    }
    if (rc == MBEDTLS_ERR_SSL_WANT_WRITE || rc == MBEDTLS_ERR_SSL_WANT_READ)
        return TERN_AGAIN;
    return failed(s, rc);
}

void tern_tls_close(struct tern_tls_session *s)
{
    if (s->state == TERN_TLS_OPEN) {
        mbedtls_ssl_close_notify(&s->ssl);
        s->state = TERN_TLS_CLOSED;
    }
}

bool tern_tls_open(const struct tern_tls_session *s)
{
    return s->state == TERN_TLS_OPEN;
}
