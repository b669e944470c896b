/*
 * Interface: the connection mechanism shared by core/http/tcp_glue.c
 * (HTTP over TCP) and core/tls/https_tcp.c (HTTP over TLS over TCP).
 * Internal to core; not a public header.
 *
 * Both flavours keep a caller-owned array of slots, one per connection,
 * whose layouts differ but which hold the same fields: the socket (NULL
 * when the slot is free), the HTTP connection, the re-entrancy guard of
 * the service loop (busy/again), the lingering flag and timer. A flavour
 * describes itself with a const struct tern_stream_ops: view() points at
 * those fields, round() is its one round of byte moving. The functions
 * here are the rest: slot free, service loop, socket event, wake, linger
 * timer and the accept loop. The flavour's own callbacks (socket, wake,
 * timer, listener) are one-line wrappers that pass their ops.
 */
#ifndef TERN_CORE_HTTP_STREAM_SLOT_H
#define TERN_CORE_HTTP_STREAM_SLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/http.h"
#include "tern/os.h"
#include "tern/tcp.h"
#include "tern/timer.h"

/* Where one slot keeps the fields both flavours share. */
struct tern_stream_view {
    struct tern_tcp_sock **sock;      /* NULL when the slot is free */
    struct tern_http_conn **hc;
    bool *busy, *again;               /* re-entrancy guard of the service loop */
    bool *lingering;                  /* FIN sent, input discarded until EOF */
    struct tern_timer *linger;        /* ends the lingering close */
    struct tern_os *os;               /* owns the timer */
    uint64_t *resets;                 /* connections that failed under us */
};

struct tern_stream_ops {
    /* Required: the shared fields of slot. */
    struct tern_stream_view (*view)(void *slot);
    /* Required: one round; true when something moved. May free the slot
     * (its socket becomes NULL). */
    bool (*round)(void *slot);
    /* Optional: flavour state to drop when an open slot is freed, before
     * its socket is closed. */
    void (*finish)(void *slot);
    /* Required: makes a free slot ready for a new connection (its buffers
     * emptied, flavour state set up). Not TERN_OK refuses the connection. */
    tern_result (*prepare)(void *slot);
    /* Required: the flavour's callbacks, each passing this ops on. */
    tern_tcp_event_fn on_sock;
    tern_http_wake_fn on_wake;
};

/* Frees slot: disarms the linger timer, closes the HTTP connection, drops
 * the flavour state and closes (abort_sock: resets) the socket. */
void tern_stream_free(const struct tern_stream_ops *ops, void *slot, bool abort_sock);

/* Runs ops->round until nothing moves or the slot is freed. Called from
 * inside a running loop it asks that loop for another round instead. */
void tern_stream_service(const struct tern_stream_ops *ops, void *slot);

/* A socket event: a socket error resets the slot (counted in resets),
 * anything else services it. Nothing for a free slot. */
void tern_stream_on_sock(const struct tern_stream_ops *ops, void *slot, unsigned events);

/* An engine wake: services the slot unless it is free. */
void tern_stream_on_wake(const struct tern_stream_ops *ops, void *slot);

/* The linger timer fired: closes the slot unless it is free. */
void tern_stream_on_linger_end(const struct tern_stream_ops *ops, void *slot);

/* Arms the linger timer for ns from now and sets lingering. false when the
 * timer could not be armed: the slot is then closed (freed). */
bool tern_stream_linger(const struct tern_stream_ops *ops, void *slot, uint64_t ns);

/* While lingering: reads and drops input into buf. On the peer's FIN the
 * slot is closed, on a socket failure reset; TERN_AGAIN leaves it be. */
void tern_stream_drain(const struct tern_stream_ops *ops, void *slot, uint8_t *buf, size_t cap);

/* Accepts every connection pending on ls into slots (nslots of stride
 * bytes each): takes a free slot (when full, evicts one idle or slow
 * connection of srv and looks again), opens an HTTP connection on it
 * (evicting once if the pool is empty), prepares it and services it. A
 * connection that gets no slot, no HTTP connection or fails prepare is
 * reset and counted in *refused. */
void tern_stream_accept(const struct tern_stream_ops *ops, struct tern_tcp_sock *ls,
                        struct tern_http_server *srv, void *slots, size_t stride,
                        uint32_t nslots, uint64_t *refused);

#endif
