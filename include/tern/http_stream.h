/*
 * Interface: the connection mechanism shared by http_tcp.h and
 * https_tcp.h. struct tern_http_stream is the FIRST member of both slot
 * types: it pairs a socket with an HTTP connection, runs the service loop
 * (re-entrancy guarded: a wake from inside it asks for another round),
 * handles socket errors and engine wakes, and closes lingering (after our
 * FIN, input is read and dropped until the peer's FIN or the deadline).
 * Each flavour supplies only its byte-moving round and TLS set-up/teardown
 * through a const struct tern_http_stream_ops.
 */
#ifndef TERN_HTTP_STREAM_H
#define TERN_HTTP_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/http.h"
#include "tern/tcp.h"
#include "tern/timer.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

#define TERN_HTTP_STREAM_RX 4096
#define TERN_HTTP_STREAM_LINGER_NS 2000000000ull

struct tern_http_stream;

struct tern_http_stream_ops {
    /* One round; true when something moved. May free the stream. */
    bool (*round)(struct tern_http_stream *st);
    /* After accept, before the first round; non-TERN_OK refuses. NULL: none. */
    tern_result (*open)(struct tern_http_stream *st);
    /* When the socket is released, before it is closed. NULL: none. */
    void (*release)(struct tern_http_stream *st);
    /* Slot i of the owner's array (the owner passed to accept). */
    struct tern_http_stream *(*slot)(void *owner, uint32_t i);
};

struct tern_http_stream {
    const struct tern_http_stream_ops *ops;
    struct tern_http_server *srv;
    uint64_t *resets;                /* owner's count of sockets failed under us */
    struct tern_tcp_sock *sock;      /* NULL when the slot is free */
    struct tern_http_conn *hc;
    uint8_t rx[TERN_HTTP_STREAM_RX]; /* received from the socket, not yet taken */
    size_t rx_off, rx_len;
    bool eof;                        /* the peer sent FIN (or close_notify) */
    bool busy, again;                /* re-entrancy guard of the service loop */
    bool lingering;                  /* closing: input discarded until EOF */
    struct tern_timer linger;        /* ends the lingering close */
};

/* Prepares a free stream for srv; resets is bumped on socket failures. */
void tern_http_stream_init(struct tern_http_stream *st, const struct tern_http_stream_ops *ops,
                           struct tern_http_server *srv, uint64_t *resets);

/* Frees the slot: linger timer off, connection closed, ops->release, the
 * socket aborted (abort_sock) or closed. */
void tern_http_stream_free(struct tern_http_stream *st, bool abort_sock);

/* Socket -> st->rx when it is empty and no EOF yet; EOF ends the engine's
 * input. Sets *moved when something moved; false when the socket failed
 * (counted, slot freed). */
bool tern_http_stream_recv(struct tern_http_stream *st, bool *moved);

/* Lingering: reads and drops input; frees the slot at EOF (close) or on
 * failure (abort). */
void tern_http_stream_drain(struct tern_http_stream *st);

/* Closes the connection and starts lingering; false when the timer could
 * not be armed (slot freed). */
bool tern_http_stream_linger(struct tern_http_stream *st);

/* A tern_tcp_evict_fn (arg: the struct tern_http_server) for the
 * listeners of both flavours: the TCP pool is empty, so the server gives
 * up its least useful connection (tern_http_server_evict), whose stream
 * frees its socket from the wake. */
bool tern_http_stream_evict(struct tern_tcp_sock *ls, void *srv);

/* The listener callback body: accepts every pending connection into a
 * free slot of owner's nslots (found with ops->slot) (evicting once when full), refuses (reset,
 * *refused++) when none or when ops->open fails. */
void tern_http_stream_accept(struct tern_tcp_sock *ls, const struct tern_http_stream_ops *ops,
                             struct tern_http_server *srv, void *owner, uint32_t nslots,
                             uint64_t *refused);

TERN_END_DECLS

#endif
