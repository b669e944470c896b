/*
 * Interface: TCP (RFC 9293) as a sans-IO module, and its non-blocking
 * socket API.
 *
 * The caller owns struct tern_tcp and gives it a lower layer (IPv4) that
 * sends finished segments; IPv4 hands every received protocol-6 packet to
 * tern_tcp_input() and every ICMP error quoting TCP to
 * tern_tcp_icmp_error(). Timers run on the instance's timer heap, so the
 * module needs nothing but tern_os_step() to make progress.
 *
 * Memory is fixed at init: cfg.max_conns control blocks (listeners
 * included), each with its own small send and receive buffer
 * (cfg.sndbuf_min, cfg.rcvbuf_min), and one shared area of
 * cfg.grow_bytes from which the buffers of connections that move data
 * grow (doubling, up to cfg.sndbuf and cfg.rcvbuf) until they end; all of
 * it carved from the instance heap once. A full pool makes room for a
 * peer that completed a handshake: a released TIME-WAIT block, else the
 * oldest orphan (released by its user, still closing), else the oldest
 * half-open connection, else whatever a listener's owner gives up
 * (tern_tcp_set_evict). Otherwise overload means refusals, SYN cookies
 * and counters, never growth.
 *
 * Sockets are handles to control blocks. Every call on a handle is valid
 * until tern_tcp_close() or tern_tcp_abort(); after that the handle must
 * not be used (the stack may keep the block for FIN or TIME-WAIT and then
 * reuses it). Readiness is reported by one callback per socket with a
 * bitmask of TERN_TCP_EV_* (edge: "this became true"); tern_tcp_poll()
 * gives the level. Callbacks run from input or timer processing as the
 * last thing done on that socket, so they may call any function here,
 * close and abort included.
 *
 *   tern_tcp_listen(tcp, 0, 80, 64, on_listen, app, &ls);
 *   on_listen: while (tern_tcp_accept(ls, &s) == TERN_OK) tern_tcp_set_callback(s, ...);
 *   on_conn:   tern_tcp_recv(s, buf, n, &got) / tern_tcp_send(s, p, n, &sent)
 *
 * Addresses are IPv4 in host order, ports in host order.
 */
#ifndef TERN_TCP_H
#define TERN_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/heap.h"
#include "tern/list.h"
#include "tern/result.h"
#include "tern/timer.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

struct tern_os;
struct tern_tcp;
struct tern_tcp_sock;

/* The seam to IPv4. output sends one complete segment (header and
 * payload, checksum filled) in an IPv4 packet with DF set; TERN_AGAIN (no
 * buffer) is treated as loss. path_mtu gives the IP MTU towards dst.
 *
 * TCP segmentation offload (optional, both members or neither): tso_max
 * says how large a segment (TCP header and payload, at most 65515 bytes)
 * the path to dst takes as one unit right now, 0 for none. output_tso
 * sends such a segment: its checksum field holds the folded (not
 * inverted) pseudo-header sum over src, dst, protocol 6 and len, and the
 * layer below completes it; when the payload exceeds mss it is cut into
 * mss-byte segments (the last shorter), each with this header, the
 * sequence number advanced, PSH and FIN only on the last and CWR only on
 * the first. Results as output. TCP uses it only for payloads larger
 * than one mss; tern_tcp_init takes a 64 KiB scratch buffer then.
 *
 * Checksum offload (optional): output_partial is output for a segment
 * whose checksum field holds that same folded pseudo-header sum; the
 * layer below has it completed, by the device or in software when the
 * route's device cannot. When present, TCP sends every segment through
 * it. */
struct tern_tcp_lower {
    tern_result (*output)(void *ctx, uint32_t src, uint32_t dst, const void *segment,
                          size_t len);
    uint16_t (*path_mtu)(void *ctx, uint32_t dst);
    void *ctx;
    uint32_t (*tso_max)(void *ctx, uint32_t dst);
    tern_result (*output_tso)(void *ctx, uint32_t src, uint32_t dst, const void *segment,
                              size_t len, uint16_t mss);
    tern_result (*output_partial)(void *ctx, uint32_t src, uint32_t dst, const void *segment,
                                  size_t len);
};

struct tern_tcp_config {
    uint32_t max_conns;        /* control blocks, listeners included */
    uint32_t sndbuf;           /* largest send buffer of a connection */
    uint32_t rcvbuf;           /* largest receive buffer of a connection */
    uint32_t sndbuf_min;       /* send buffer every block has (0: sndbuf) */
    uint32_t rcvbuf_min;       /* receive buffer every block has (0: rcvbuf) */
    uint32_t grow_bytes;       /* shared area buffers grow into (0: none, and
                                * every block has sndbuf and rcvbuf) */
    uint32_t backlog_max;      /* cap on a listener's SYN + accept queue */
    uint32_t rto_initial_ms;   /* RFC 6298: 1000 */
    uint32_t rto_min_ms;       /* lower bound of the RTO */
    uint32_t rto_max_ms;       /* upper bound (backoff stops there) */
    uint32_t max_retries;      /* retransmissions before the connection fails (R2) */
    uint32_t syn_retries;      /* SYN retransmissions before connect fails */
    uint32_t delack_ms;        /* delayed ACK timer */
    uint32_t msl_ms;           /* TIME-WAIT lasts 2 * msl_ms */
    uint32_t keepalive_idle_ms, keepalive_intvl_ms, keepalive_probes;
    uint32_t challenge_acks_per_sec; /* RFC 5961 section 7 limit (global) */
    uint32_t mtu_max;          /* largest IP MTU any path may report */
};

/* Fills cfg with the defaults: 1024 connections with 4 KiB buffers each
 * way, growing up to 64 KiB each way into a shared 4 MiB area, backlog
 * 32, RTO 1 s initial / 200 ms min / 60 s max, 12 retries, 7 SYN
 * retries, 40 ms delayed ACK, MSL 30 s, keepalive 2 h / 75 s / 9
 * probes, 100 challenge ACKs per second, MTU up to 9000. About 9 MiB of
 * blocks and small buffers plus the 4 MiB area. */
void tern_tcp_config_default(struct tern_tcp_config *cfg);

/* Fits cfg's pool into budget bytes of heap (what tern_tcp_init takes,
 * blocks, their small buffers, hash and the shared area, within a few
 * KiB): the shared area keeps at most a third of the budget (never more
 * than cfg->grow_bytes), the blocks the rest (max_conns lowered to what
 * fits, at least 16: a budget too small for 16 is left to tern_tcp_init
 * to refuse). A backend calls it with its share of the heap it has. */
void tern_tcp_config_fit(struct tern_tcp_config *cfg, size_t budget);

enum tern_tcp_state {
    TERN_TCP_CLOSED = 0,
    TERN_TCP_LISTEN,
    TERN_TCP_SYN_SENT,
    TERN_TCP_SYN_RECEIVED,
    TERN_TCP_ESTABLISHED,
    TERN_TCP_FIN_WAIT_1,
    TERN_TCP_FIN_WAIT_2,
    TERN_TCP_CLOSE_WAIT,
    TERN_TCP_CLOSING,
    TERN_TCP_LAST_ACK,
    TERN_TCP_TIME_WAIT,
};

/* Events for the socket callback. */
#define TERN_TCP_EV_READABLE  0x01u  /* data, EOF, or (listener) a connection to accept */
#define TERN_TCP_EV_WRITABLE  0x02u  /* send space became available */
#define TERN_TCP_EV_CONNECTED 0x04u  /* the handshake completed (connect) */
#define TERN_TCP_EV_ERROR     0x08u  /* reset, timeout or refusal: see tern_tcp_error */

typedef void (*tern_tcp_event_fn)(struct tern_tcp_sock *s, unsigned events, void *arg);

/* A listener owner's eviction policy (tern_tcp_set_evict): the pool is
 * empty and a peer that completed a handshake needs a block. The owner
 * may abort (tern_tcp_abort) or close the least useful of its
 * connections; true when it did. Runs from input processing: it must not
 * close or abort any listener. */
typedef bool (*tern_tcp_evict_fn)(struct tern_tcp_sock *ls, void *arg);

/* Every reason a segment or event is dropped or refused, and the main
 * activity figures: monotonic counters, X(name, "what it counts"). */
#define TERN_TCP_COUNTERS(X)                                                      \
    X(in_segs, "segments received from IPv4")                                     \
    X(out_segs, "segments handed to IPv4")                                        \
    X(out_again, "segments IPv4 could not take (treated as lost)")                \
    X(retransmits, "segments retransmitted")                                      \
    X(fast_retransmits, "fast retransmits (duplicate ACKs)")                      \
    X(rto_timeouts, "retransmission timeouts")                                    \
    X(drop_short, "dropped: shorter than a header")                               \
    X(drop_bad_offset, "dropped: data offset out of range")                       \
    X(drop_bad_csum, "dropped: bad checksum")                                     \
    X(drop_bad_options, "dropped: malformed options")                             \
    X(drop_no_pcb, "dropped: no connection or listener (RST sent)")              \
    X(drop_bad_flags, "dropped: impossible flags or ports")                       \
    X(drop_listen_ack, "dropped: SYN-ACK at a listener (RST sent)")               \
    X(drop_listen_rst, "dropped: RST at a listener")                              \
    X(drop_syn_sent_bad_ack, "dropped: bad ACK in SYN-SENT (RST sent)")           \
    X(drop_out_of_window, "dropped: outside the receive window")                  \
    X(drop_paws, "dropped: old timestamp (PAWS)")                                 \
    X(drop_no_ts, "dropped: no timestamp once negotiated")                        \
    X(drop_ack_too_new, "dropped: ACK of data never sent")                        \
    X(drop_ack_too_old, "dropped: ACK older than the window (RFC 5961)")          \
    X(drop_no_ack, "dropped: no ACK bit")                                         \
    X(drop_syn_rcvd_bad_ack, "dropped: bad ACK in SYN-RECEIVED (RST sent)")       \
    X(drop_rst_out_of_window, "dropped: RST outside the window")                  \
    X(drop_rst_time_wait, "dropped: RST in TIME-WAIT (RFC 1337)")                 \
    X(drop_data_after_fin, "dropped: data after the peer's FIN")                  \
    X(drop_ooo_full, "dropped: out-of-order queue full")                          \
    X(drop_backlog_full, "refused: listen queue full")                            \
    X(drop_pool_empty, "refused: no free control block")                          \
    X(drop_bad_cookie, "dropped: ACK at a listener, no valid cookie (RST sent)")   \
    X(challenge_acks, "challenge ACKs sent (RFC 5961)")                           \
    X(challenge_acks_limited, "challenge ACKs suppressed by the rate limit")       \
    X(rst_received, "RSTs received")                                              \
    X(rst_sent, "RSTs sent")                                                      \
    X(syn_cookies_sent, "SYN cookies sent")                                       \
    X(syn_cookies_accepted, "connections opened from a SYN cookie")               \
    X(icmp_ignored, "ICMP errors ignored (not in flight, malformed, no use)")     \
    X(icmp_pmtu, "ICMP fragmentation-needed acted on")                            \
    X(icmp_soft_errors, "ICMP soft errors")                                       \
    X(icmp_hard_errors, "ICMP protocol/port unreachable that failed a connect")   \
    X(conns_opened, "connections opened (connect)")                               \
    X(conns_accepted, "connections established from a listener")                  \
    X(conns_closed, "control blocks released")                                    \
    X(conns_reset, "connections reset")                                           \
    X(conns_timed_out, "connections timed out")                                   \
    X(keepalive_probes, "keepalive probes sent")                                  \
    X(zero_window_probes, "zero-window probes sent")                              \
    X(dup_acks, "duplicate ACKs received")                                        \
    X(ooo_segments, "out-of-order segments queued")                               \
    X(time_wait_recycled, "TIME-WAIT blocks recycled when the pool was empty")     \
    X(evicted_orphans, "pool empty: orphaned closing connections reset")          \
    X(evicted_half_open, "pool empty: half-open connections dropped")             \
    X(evicted_by_owner, "pool empty: connections a listener's owner gave up")     \
    X(buf_grown, "buffers grown (doubled) for connections moving data")          \
    X(buf_grow_failed, "buffers not grown: the shared area was full")             \
    X(out_tso, "TSO segments handed to IPv4 (several wire segments each)")        \
    X(in_csum_vouched, "segments whose checksum the device vouched for")

struct tern_tcp_stats {
#define TERN_TCP_COUNTER_FIELD(name, doc) uint64_t name;
    TERN_TCP_COUNTERS(TERN_TCP_COUNTER_FIELD)
#undef TERN_TCP_COUNTER_FIELD
};

struct tern_tcp {
    struct tern_os *os;
    struct tern_tcp_lower lower;
    struct tern_tcp_config cfg;
    struct tern_tcp_sock *pcbs;        /* cfg.max_conns blocks */
    uint8_t *bufs;                      /* their small send and receive buffers */
    uint8_t *grow_mem;                  /* cfg.grow_bytes: where buffers grow */
    struct tern_heap grow_heap;         /* allocator over grow_mem */
    uint8_t *scratch;                   /* one outgoing segment */
    struct tern_list free_list;         /* unused blocks */
    struct tern_list listeners;         /* blocks in LISTEN */
    struct tern_list *buckets;          /* connections by 4-tuple hash */
    uint32_t bucket_mask;
    uint32_t in_use;                    /* blocks taken from the pool */
    uint64_t secret[2];                 /* SipHash key: ISNs, cookies, ports */
    uint16_t next_port;                 /* ephemeral port cursor */
    uint64_t challenge_window_ms;       /* start of the current second */
    uint32_t challenge_count;
    struct tern_tcp_stats stats;
};

/* Sets tcp up on os. Copies lower and cfg (cfg NULL means defaults),
 * takes all memory from the instance heap now and draws the secret from
 * platform entropy. TERN_OK; TERN_EINVAL (lower incomplete, a config value
 * out of range); TERN_ENOMEM (heap too small); TERN_EIO (entropy failed). */
tern_result tern_tcp_init(struct tern_tcp *tcp, struct tern_os *os,
                          const struct tern_tcp_lower *lower,
                          const struct tern_tcp_config *cfg);

/* Aborts every connection (RST to the peer), stops all timers and gives
 * the memory back to the heap. tcp is unusable afterwards. */
void tern_tcp_finish(struct tern_tcp *tcp);

/* One received TCP segment from IPv4 (src/dst of the IP header). The
 * checksum is checked here. Bad segments are counted and dropped. The
 * segment buffer is only read during the call. */
void tern_tcp_input(struct tern_tcp *tcp, uint32_t src, uint32_t dst, const void *segment,
                    size_t len);

/* tern_tcp_input for a segment whose checksum the device verified or
 * vouched for (receive offload): csum_valid skips the check. A segment
 * may then carry more than one MSS (a coalesced frame) up to 65535. */
void tern_tcp_input_offload(struct tern_tcp *tcp, uint32_t src, uint32_t dst,
                            const void *segment, size_t len, bool csum_valid);

/* An ICMP error (type, code; next_mtu for fragmentation needed) whose
 * payload quotes the IPv4 header and first 8 bytes of a TCP segment we
 * sent. Acted on only when the quoted sequence number is in flight
 * (RFC 5927); otherwise counted and ignored. Fragmentation needed lowers
 * the MSS; protocol or port unreachable fails a pending connect
 * (TERN_EPROTO, the socket's callback runs); the rest are soft errors. */
void tern_tcp_icmp_error(struct tern_tcp *tcp, uint8_t type, uint8_t code, uint16_t next_mtu,
                         const void *orig_ip_header_and_8_bytes, size_t len);

/* ---- socket API ---- */

/* Listens on port at local_addr (0: every local address) with at most
 * backlog connections queued (clamped to cfg.backlog_max; beyond it SYN
 * cookies answer). TERN_OK and *out; TERN_EINVAL (port 0); TERN_EEXIST (a
 * listener holds that address and port); TERN_ENOSPC (pool empty). */
tern_result tern_tcp_listen(struct tern_tcp *tcp, uint32_t local_addr, uint16_t port,
                            uint32_t backlog, tern_tcp_event_fn cb, void *arg,
                            struct tern_tcp_sock **out);

/* Sets (or clears, fn NULL) the eviction policy of listener ls: asked
 * when the pool is empty, after TCP's own candidates (TIME-WAIT, orphans,
 * half-open connections) ran out; the listener that got the handshake is
 * asked first, then the others. */
void tern_tcp_set_evict(struct tern_tcp_sock *ls, tern_tcp_evict_fn fn, void *arg);

/* Takes the oldest established connection from a listener. Its callback
 * is unset until tern_tcp_set_callback. TERN_OK and *out; TERN_AGAIN when
 * none is waiting; TERN_EINVAL when ls is not a listener. */
tern_result tern_tcp_accept(struct tern_tcp_sock *ls, struct tern_tcp_sock **out);

/* Opens a connection from local_addr (a local address; the caller picks
 * it, IPv4 knows the routes) and local_port (0: an ephemeral port) to
 * remote:remote_port. The SYN leaves now; EV_CONNECTED or EV_ERROR
 * follows. TERN_OK and *out; TERN_EINVAL (a zero address or port);
 * TERN_EEXIST (that 4-tuple is in use); TERN_ENOSPC (pool empty or no
 * ephemeral port free). */
tern_result tern_tcp_connect(struct tern_tcp *tcp, uint32_t local_addr, uint16_t local_port,
                             uint32_t remote_addr, uint16_t remote_port, tern_tcp_event_fn cb,
                             void *arg, struct tern_tcp_sock **out);

/* Sets (or clears, cb NULL) the socket's event callback. */
void tern_tcp_set_callback(struct tern_tcp_sock *s, tern_tcp_event_fn cb, void *arg);

/* Queues up to len bytes; *sent says how many were taken. TERN_OK (some or
 * all taken); TERN_AGAIN (buffer full, or still connecting: wait for
 * EV_WRITABLE); TERN_ECLOSED (shut down for sending or connection gone:
 * see tern_tcp_error). */
tern_result tern_tcp_send(struct tern_tcp_sock *s, const void *buf, size_t len, size_t *sent);

/* Holds the socket's output (data, FIN, ACKs and window updates) back
 * until the matching tern_tcp_uncork(), as the stack does around its own
 * callbacks: sends made in between leave as few, full segments. Corks
 * nest; uncork every cork before tern_tcp_close/abort. */
void tern_tcp_cork(struct tern_tcp_sock *s);
/* Undoes one tern_tcp_cork(); the last one sends what was held back. */
void tern_tcp_uncork(struct tern_tcp_sock *s);

/* Reads up to cap bytes into buf. TERN_OK with *got > 0 (data) or *got ==
 * 0 (the peer closed: end of stream); TERN_AGAIN (nothing yet);
 * TERN_ECLOSED (reset or failed, nothing left to read). */
tern_result tern_tcp_recv(struct tern_tcp_sock *s, void *buf, size_t cap, size_t *got);

/* Bytes readable now / bytes that send would take now (send may take
 * more: a buffer that is full while the peer's window is larger grows). */
size_t tern_tcp_recv_avail(const struct tern_tcp_sock *s);
size_t tern_tcp_send_space(const struct tern_tcp_sock *s);

/* Sends FIN after the queued data (half close). TERN_OK; TERN_ECLOSED
 * when the connection is gone. Calling it twice is harmless. */
tern_result tern_tcp_shutdown(struct tern_tcp_sock *s);

/* Graceful close and release of the handle: FIN after the queued data;
 * the stack finishes the exchange on its own. Unread received data turns
 * it into an abort (RST), as RFC 9293 3.6 allows (RFC 2525). A listener
 * closes with its queued, unaccepted connections reset. */
void tern_tcp_close(struct tern_tcp_sock *s);

/* Abortive close: RST to the peer (in synchronized states) and release. */
void tern_tcp_abort(struct tern_tcp_sock *s);

/* Readiness level now: TERN_TCP_EV_* bits. */
unsigned tern_tcp_poll(const struct tern_tcp_sock *s);

enum tern_tcp_state tern_tcp_get_state(const struct tern_tcp_sock *s);
const char *tern_tcp_state_name(enum tern_tcp_state st);

/* Why the connection failed: TERN_OK (it did not), TERN_ECLOSED (reset by
 * the peer), TERN_ETIMEDOUT (retransmissions or keepalive ran out),
 * TERN_EPROTO (refused: a RST to our SYN in SYN-SENT, or in SYN-RECEIVED
 * after a simultaneous open, or ICMP protocol/port unreachable then). */
tern_result tern_tcp_error(const struct tern_tcp_sock *s);

void tern_tcp_get_addrs(const struct tern_tcp_sock *s, uint32_t *local_addr,
                        uint16_t *local_port, uint32_t *remote_addr, uint16_t *remote_port);

/* Nagle off (true) or on (false, the default). */
void tern_tcp_set_nodelay(struct tern_tcp_sock *s, bool nodelay);

/* Keepalive probes after cfg.keepalive_idle_ms of silence (off by default). */
void tern_tcp_set_keepalive(struct tern_tcp_sock *s, bool on);

/* The effective send MSS (after options and path MTU). */
uint32_t tern_tcp_get_mss(const struct tern_tcp_sock *s);

/* Name/value iteration over the counters in TERN_TCP_COUNTERS order: i
 * from 0; false past the end. doc may be NULL. */
bool tern_tcp_counter(const struct tern_tcp *tcp, unsigned i, const char **name,
                      const char **doc, uint64_t *value);

/* Blocks taken from the pool (listeners, connections, TIME-WAIT). */
uint32_t tern_tcp_pcbs_in_use(const struct tern_tcp *tcp);

/* True when a listener is bound on port (any local address). */
bool tern_tcp_listening(struct tern_tcp *tcp, uint16_t port);

/* ---- diagnostic services (RFC 862 echo on 7, RFC 863 discard on 9) ---- */

#define TERN_TCP_SERVICE_ECHO    0x1u
#define TERN_TCP_SERVICE_DISCARD 0x2u

struct tern_tcp_services {
    struct tern_tcp *tcp;
    struct tern_tcp_sock *echo, *discard;
    uint64_t echoed_bytes, discarded_bytes, sessions;
};

/* Listens for the services in mask on every local address. TERN_OK, or
 * what tern_tcp_listen returned (nothing is left listening then). */
tern_result tern_tcp_services_start(struct tern_tcp_services *svc, struct tern_tcp *tcp,
                                    unsigned mask);

/* Parses "echo,discard" (either, both, any order) into a mask. TERN_OK or
 * TERN_EINVAL for an unknown name or an empty list. */
tern_result tern_tcp_services_parse(const char *text, unsigned *mask);

TERN_END_DECLS

#endif
