/*
 * Interface: the HTTP engine behind the TLS engine on the core TCP socket
 * API: the HTTPS twin of http_tcp.h (same accept, backpressure, lingering
 * close and connection cap), with one struct tern_tls_session per
 * connection between the socket and the HTTP connection. close_notify is
 * sent before our FIN. Built with core/tls (hosted only for now).
 *
 *   static struct tern_https_tcp_slot slots[N];
 *   tern_https_tcp_start(&hs, &tcp, &srv, &tls_server, 443, slots, N);
 */
#ifndef TERN_HTTPS_TCP_H
#define TERN_HTTPS_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/http.h"
#include "tern/http_stream.h"
#include "tern/tcp.h"
#include "tern/timer.h"
#include "tern/tls.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

#define TERN_HTTPS_TCP_RX TERN_HTTP_STREAM_RX
#define TERN_HTTPS_TCP_LINGER_NS TERN_HTTP_STREAM_LINGER_NS

struct tern_https_tcp;

/* st first: sock (NULL when free), hc, rx (ciphertext), eof... live there. */
struct tern_https_tcp_slot {
    struct tern_http_stream st;
    struct tern_https_tcp *hs;
    struct tern_tls_session tls;
    uint8_t plain[TERN_HTTPS_TCP_RX];/* plaintext for the engine */
    size_t p_off, p_len;
};

struct tern_https_tcp {
    struct tern_tcp *tcp;
    struct tern_http_server *srv;
    struct tern_tls_server *tls;
    struct tern_tcp_sock *listener;
    uint16_t port;
    struct tern_https_tcp_slot *slots;
    uint32_t nslots;
    uint64_t refused, resets, tls_failures;
};

/* As tern_http_tcp_start, with tls the configured TLS server. */
tern_result tern_https_tcp_start(struct tern_https_tcp *hs, struct tern_tcp *tcp,
                                 struct tern_http_server *srv, struct tern_tls_server *tls,
                                 uint16_t port, struct tern_https_tcp_slot *slots,
                                 uint32_t nslots);

/* Stops listening and aborts every open connection. */
void tern_https_tcp_stop(struct tern_https_tcp *hs);

TERN_END_DECLS

#endif
