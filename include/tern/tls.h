/*
 * Interface: TLS 1.2 server sessions on mbedTLS 2.28, sans-IO.
 *
 * A struct tern_tls_server holds what all sessions share: certificate
 * chain and key (parsed from PEM or DER in memory: the backend reads the
 * files, core never opens one), a CTR-DRBG seeded from the platform
 * entropy call, the session-ticket keys and the mbedTLS configuration
 * (TLS 1.2 only; ECDHE-ECDSA / ECDHE-RSA with AES-GCM and
 * ChaCha20-Poly1305 only).
 *
 * A struct tern_tls_session is one connection. The transport offers
 * ciphertext it received (tern_tls_input, which may take less), drains
 * ciphertext to send (tern_tls_output / tern_tls_output_done), and reads
 * and writes plaintext (tern_tls_read / tern_tls_write); the handshake
 * runs inside read and write. No socket call is made here; mbedTLS's BIO
 * callbacks work on the session's two buffers.
 *
 * The caller owns both structs. They are large (mbedTLS contexts) and
 * their members are mbedTLS's; use only the functions below.
 */
#ifndef TERN_TLS_H
#define TERN_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/pk.h"
#include "mbedtls/ssl.h"
#include "mbedtls/ssl_ticket.h"
#include "mbedtls/x509_crt.h"

#include "tern/result.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

struct tern_os;

struct tern_tls_stats {
    uint64_t handshakes, handshake_failures, resumed, records_bad, close_notify;
};

struct tern_tls_server {
    struct tern_os *os;
    mbedtls_ssl_config conf;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt chain;
    mbedtls_pk_context key;
    mbedtls_ssl_ticket_context tickets;
    struct tern_tls_stats stats;
    bool ready;
};

/* Sets srv up from a certificate chain and its private key, each PEM (a
 * NUL terminator is not needed) or DER. TERN_OK; TERN_EINVAL with a
 * one-line reason in err (cap bytes, NUL-terminated) for a missing, empty
 * or unparseable certificate or key, or a key that does not match the
 * certificate; TERN_EIO when the entropy source fails; TERN_ENOMEM. On
 * failure srv holds nothing (no need to call finish). */
tern_result tern_tls_server_init(struct tern_tls_server *srv, struct tern_os *os,
                                 const uint8_t *cert, size_t cert_len, const uint8_t *key,
                                 size_t key_len, char *err, size_t cap);
void tern_tls_server_finish(struct tern_tls_server *srv);

/* The crypto self-test (core/tls/selftest.c): known answers (SHA-256,
 * AES-128-GCM, ChaCha20-Poly1305 with a tampered ciphertext refused),
 * an ECDSA P-256 key generation, signature and verification (a tampered
 * digest must fail) on a CTR-DRBG seeded from the platform entropy call
 * and, when a cert or a key is given (PEM or DER), tern_tls_server_init
 * on them (so one without the other fails). The instance heap must hold
 * as many allocations after as before. Logs one line under "tls": "tls
 * self-test ok: sha256 aes-128-gcm chacha20-poly1305 ecdsa-p256, WHAT (N
 * ms, no allocation left behind)", WHAT being "core/tls server set up from
 * the given certificate and key" or, with neither given, none; or "tls
 * self-test FAILED: <what>". TERN_OK; TERN_EIO (a wrong answer or an
 * allocation left behind); TERN_ENOMEM; tern_tls_server_init's failure. */
tern_result tern_tls_selftest(struct tern_os *os, const uint8_t *cert, size_t cert_len,
                              const uint8_t *key, size_t key_len, const char *none);

#define TERN_TLS_IN_BUF 4096
#define TERN_TLS_OUT_BUF 20480       /* one full record and then some */

enum tern_tls_state {
    TERN_TLS_HANDSHAKE = 0,
    TERN_TLS_OPEN,
    TERN_TLS_CLOSED,                 /* close_notify sent or received */
    TERN_TLS_FAILED,
};

struct tern_tls_session {
    struct tern_tls_server *srv;
    mbedtls_ssl_context ssl;
    enum tern_tls_state state;
    int last_error;                  /* mbedTLS's code of the failure */
    uint8_t in[TERN_TLS_IN_BUF];
    size_t in_off, in_len;
    uint8_t out[TERN_TLS_OUT_BUF];
    size_t out_off, out_len;
};

/* Starts a server session. TERN_OK or TERN_ENOMEM. */
tern_result tern_tls_session_init(struct tern_tls_session *s, struct tern_tls_server *srv);
void tern_tls_session_finish(struct tern_tls_session *s);

/* Offers received ciphertext; returns how many bytes were taken (offer
 * the rest after a read). */
size_t tern_tls_input(struct tern_tls_session *s, const uint8_t *data, size_t len);

/* Ciphertext to send / the transport sent n bytes of it. */
void tern_tls_output(struct tern_tls_session *s, const uint8_t **data, size_t *len);
void tern_tls_output_done(struct tern_tls_session *s, size_t n);

/* Advances the handshake and reads plaintext. TERN_OK with *got > 0;
 * TERN_AGAIN (need more input, or output must drain first); TERN_ECLOSED
 * (the peer sent close_notify); TERN_EPROTO (handshake or record failure:
 * the session is dead, see last_error; close the transport). */
tern_result tern_tls_read(struct tern_tls_session *s, void *buf, size_t cap, size_t *got);

/* Encrypts up to len plaintext bytes (as many as the output buffer has
 * room for); *wrote says how many. TERN_OK; TERN_AGAIN (handshake not
 * done or no room); TERN_EPROTO. */
tern_result tern_tls_write(struct tern_tls_session *s, const void *data, size_t len,
                           size_t *wrote);

/* Queues close_notify. */
void tern_tls_close(struct tern_tls_session *s);

/* True once the handshake completed. */
bool tern_tls_open(const struct tern_tls_session *s);

/* SHA-256 of data[0..len) into out (mbedTLS; core/tls/digest.c). For
 * what the OS reports and checks about files it loads. */
void tern_sha256(const void *data, size_t len, uint8_t out[32]);

TERN_END_DECLS

#endif
