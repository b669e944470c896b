/*
 * Interface: the HTTP/1.1 server engine (RFC 9110, RFC 9112), sans-IO.
 *
 * Three layers, each usable alone:
 *
 * 1. struct tern_http_parser: an incremental request parser. Feed it any
 *    split of the input; it copies the request head into its own fixed
 *    buffer and hands back events (head complete, body bytes, message
 *    complete, error with the status to send). Body bytes are slices of
 *    the caller's input, never copied. It never allocates.
 *
 * 2. struct tern_http_server / struct tern_http_conn: connections from a
 *    fixed pool. A transport (the core TCP glue, a TLS engine, a test)
 *    opens a connection, offers received bytes with tern_http_conn_input()
 *    (which may consume less than offered: re-offer the rest after the
 *    connection wakes it), drains bytes to send with
 *    tern_http_conn_output() / tern_http_conn_output_done(), and closes
 *    the connection when tern_http_conn_should_close() says so. Deadlines
 *    run on the instance's timers; when a timer or a late handler produces
 *    output, the connection calls the transport's wake function. No socket
 *    call is made here.
 *
 * 3. Routes: non-blocking handlers that write a response head and then
 *    body pieces, possibly later (when the writable callback runs).
 *    core/http/service.c provides /healthz, /status and static files over
 *    an abstract file source.
 *
 * Everything lives in caller-owned structs; no globals. Bad input is
 * counted (struct tern_http_counters) and refused with a status code.
 */
#ifndef TERN_HTTP_H
#define TERN_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/result.h"
#include "tern/timer.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

struct tern_os;

/* ------------------------------------------------------------------ */
/* Parser                                                              */
/* ------------------------------------------------------------------ */

#define TERN_HTTP_HEAD_MAX 8192      /* request line + header fields */
#define TERN_HTTP_MAX_HEADERS 64

enum tern_http_method {
    TERN_HTTP_OTHER = 0,             /* syntactically valid, not known */
    TERN_HTTP_GET,
    TERN_HTTP_HEAD,
    TERN_HTTP_POST,
    TERN_HTTP_PUT,
    TERN_HTTP_DELETE,
    TERN_HTTP_OPTIONS,
};

/* One header field: offsets into the parser's head buffer. The value has
 * leading and trailing whitespace removed. */
struct tern_http_field {
    uint16_t name_off, name_len;
    uint16_t value_off, value_len;
};

struct tern_http_limits {
    uint32_t max_request_line;       /* bytes, CRLF excluded; > -> 414 */
    uint32_t max_head;               /* <= TERN_HTTP_HEAD_MAX; > -> 431 */
    uint32_t max_headers;            /* <= TERN_HTTP_MAX_HEADERS; > -> 431 */
    uint64_t max_body;               /* bytes; more -> 413 */
};

enum tern_http_event_kind {
    TERN_HTTP_EV_NONE = 0,           /* all input consumed, need more */
    TERN_HTTP_EV_HEAD,               /* request head complete: read it */
    TERN_HTTP_EV_BODY,               /* ev.data/ev.len: body bytes */
    TERN_HTTP_EV_DONE,               /* the message (body, trailers) ended */
    TERN_HTTP_EV_ERROR,              /* ev.status: what to answer; the
                                      * connection must close after it */
};

struct tern_http_event {
    enum tern_http_event_kind kind;
    const uint8_t *data;
    size_t len;
    int status;
};

enum tern_http_pstate {
    TERN_HTTP_P_START = 0,           /* before the request line */
    TERN_HTTP_P_HEAD,                /* in request line or fields */
    TERN_HTTP_P_BODY_CL,
    TERN_HTTP_P_CHUNK_SIZE,
    TERN_HTTP_P_CHUNK_EXT,
    TERN_HTTP_P_CHUNK_SIZE_LF,
    TERN_HTTP_P_CHUNK_DATA,
    TERN_HTTP_P_CHUNK_DATA_CR,
    TERN_HTTP_P_CHUNK_DATA_LF,
    TERN_HTTP_P_TRAILER,
    TERN_HTTP_P_MSG_END,             /* EV_DONE is due */
    TERN_HTTP_P_DONE,                /* message complete; reset for the next */
    TERN_HTTP_P_ERROR,               /* sticky */
};

struct tern_http_parser {
    struct tern_http_limits lim;
    enum tern_http_pstate state;
    int error_status;

    /* The head as received; lines are checked as they complete. */
    uint8_t head[TERN_HTTP_HEAD_MAX];
    uint32_t head_len;
    uint32_t line_start;             /* offset of the current line */
    bool saw_cr;
    uint32_t leading_crlf;           /* empty lines before the request */

    /* Results of the head. */
    enum tern_http_method method;
    uint16_t method_len;             /* method at head[0] */
    uint16_t target_off, target_len;
    uint8_t version_minor;           /* HTTP/1.x */
    struct tern_http_field fields[TERN_HTTP_MAX_HEADERS];
    uint32_t nfields;
    bool chunked;
    bool has_length;
    bool keep_alive;
    bool expect_continue;
    uint64_t content_length;

    /* Body progress. */
    uint64_t remaining;              /* of the Content-Length or chunk */
    uint64_t body_total;
    uint32_t chunk_digits;
    uint32_t ext_len;
    uint32_t trailer_len;            /* bytes of the current trailer line */
    uint32_t trailer_total;
    bool trailer_cr;
};

/* Sets up p with lim (NULL: defaults 8000 / 8192 / 64 / 1 MiB). */
void tern_http_parser_init(struct tern_http_parser *p, const struct tern_http_limits *lim);

/* Gives back the last n body bytes of the previous EV_BODY (the caller
 * could not take them): the parser expects them again. n must not exceed
 * that event's len, and no feed may have happened in between. */
void tern_http_parser_unread_body(struct tern_http_parser *p, size_t n);

/* Forgets the finished message so the next one can be parsed (keep-alive);
 * the limits stay. Only after TERN_HTTP_EV_DONE. */
void tern_http_parser_reset(struct tern_http_parser *p);

/* Consumes bytes from data[0..len) up to the next event and returns it in
 * *ev; *used gets how many bytes were consumed (the event's body slice
 * lies within them). Call again with the rest. Returns TERN_HTTP_EV_NONE
 * once every byte is consumed with no event. After EV_HEAD the head
 * accessors below are valid until the next reset. After EV_DONE nothing
 * more is consumed until tern_http_parser_reset(). After EV_ERROR the
 * parser stays in error. */
void tern_http_parser_feed(struct tern_http_parser *p, const uint8_t *data, size_t len,
                           size_t *used, struct tern_http_event *ev);

/* The value of the first field named name (case-insensitive), or NULL;
 * *len gets its length. Valid after EV_HEAD. */
const char *tern_http_parser_field(const struct tern_http_parser *p, const char *name,
                                   size_t *len);

/* ------------------------------------------------------------------ */
/* Helpers (exposed for tests)                                         */
/* ------------------------------------------------------------------ */

/* Percent-decodes the path of an origin-form target src[0..len) (up to
 * '?' or the end) into out (cap bytes, NUL-terminated), removing "."
 * segments and resolving ".." ones. TERN_OK; TERN_EINVAL for a path not
 * starting with '/', a bad escape, %00 or any control byte, an encoded
 * '/' or a '\\' in a segment, ".." above the root; TERN_ENOSPC when out
 * is too small. */
tern_result tern_http_decode_path(const char *src, size_t len, char *out, size_t cap);

/* Formats unix time secs as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37
 * GMT", 29 characters) into out (cap >= 30). */
void tern_http_format_date(int64_t secs, char *out, size_t cap);

/* Unix seconds of a UTC civil time (month 1-12, day 1-31). */
int64_t tern_http_unix_time(unsigned year, unsigned month, unsigned day, unsigned hour,
                            unsigned min, unsigned sec);

/* Parses an HTTP-date (IMF-fixdate, RFC 850 or asctime) into unix time.
 * TERN_OK or TERN_EINVAL. */
tern_result tern_http_parse_date(const char *s, size_t len, int64_t *secs);

/* ------------------------------------------------------------------ */
/* Server and connections                                              */
/* ------------------------------------------------------------------ */

struct tern_http_conn;
struct tern_http_server;

struct tern_http_counters {
    uint64_t conns_accepted, conns_refused_full, conns_active;
    uint64_t requests, responses_2xx, responses_3xx, responses_4xx, responses_5xx;
    uint64_t bad_request_400, too_large_413, uri_too_long_414, fields_too_large_431;
    uint64_t timeout_408, not_implemented_501, version_505, expectation_417;
    uint64_t idle_closes, send_timeouts, continues_sent, evictions;
    uint64_t bytes_in, bytes_out;
};

/* Called by the engine outside tern_http_conn_input() (a timer fired, a
 * streaming handler wrote) when there is output to drain, the connection
 * should close, or input offered earlier can now be consumed. */
typedef void (*tern_http_wake_fn)(struct tern_http_conn *c, void *arg);

/* A parsed request as a handler sees it. Pointers stay valid until the
 * response ends. */
struct tern_http_request {
    enum tern_http_method method;
    const char *method_str;          /* not NUL-terminated: method_len */
    size_t method_len;
    const char *path;                /* decoded, normalised, NUL-terminated */
    const char *query;               /* raw, NUL-terminated, "" when none */
    uint8_t version_minor;
    bool head_only;                  /* HEAD: body writes are discarded */
    const struct tern_http_parser *parser;   /* for tern_http_request_field */
};

/* The value of the first field named name, or NULL; *len its length. */
const char *tern_http_request_field(const struct tern_http_request *req, const char *name,
                                    size_t *len);

/* A route handler. Runs from the loop when a request head for its route
 * is complete. It must not block: it writes the response head, some body,
 * and either ends the response or sets a writable callback
 * (tern_http_set_writable) and ends later. The request body, if any, goes
 * to on_body when set, else is discarded. A chunked body's framing is
 * only known as it arrives: the answer of a handler that does not read
 * the body is held back (nothing of it reaches the transport) until the
 * body has been read to its last chunk, so that a malformed body is
 * answered 400 (or 413 over the limit) whatever the route; any answer
 * that nothing of has left yet is replaced the same way. */
typedef void (*tern_http_handler_fn)(struct tern_http_conn *c,
                                     const struct tern_http_request *req, void *arg);

struct tern_http_route {
    const char *prefix;              /* "/healthz", or "/" for a catch-all */
    bool exact;                      /* path must equal prefix */
    tern_http_handler_fn fn;
    void *arg;
};

struct tern_http_config {
    struct tern_http_limits limits;
    uint64_t header_timeout_ns;      /* first byte to end of head -> 408 */
    uint64_t body_timeout_ns;        /* no body progress for this -> 408 */
    uint64_t idle_timeout_ns;        /* keep-alive wait -> silent close */
    uint64_t send_timeout_ns;        /* output not drained for this -> close */
    uint64_t stall_evict_ns;         /* output not drained this long -> evictable */
    bool access_log;                 /* an info log line per response */
};

/* Defaults: limits as the parser's, 10 s headers, 30 s body, 60 s idle,
 * 30 s send, evictable after 2 s without a drain, access log on. */
void tern_http_config_default(struct tern_http_config *cfg);

#define TERN_HTTP_OUT_MAX 16384      /* per-connection output buffer */
#define TERN_HTTP_PATH_MAX 1024
#define TERN_HTTP_SCRATCH 256        /* per-response handler state */

enum tern_http_cstate {
    TERN_HTTP_C_FREE = 0,
    TERN_HTTP_C_IDLE,                /* waiting for a request */
    TERN_HTTP_C_READ_HEAD,
    TERN_HTTP_C_ACTIVE,              /* a request is being answered */
    TERN_HTTP_C_CLOSING,             /* drain the output, then close */
};

struct tern_http_conn {
    struct tern_http_server *srv;
    enum tern_http_cstate state;
    tern_http_wake_fn wake;
    void *wake_arg;
    struct tern_timer timer;
    uint64_t send_deadline;          /* 0 when output is empty */
    uint64_t phase_deadline;         /* header, body, idle or linger; 0 none */
    bool aborted;                    /* close now, drop the output */
    bool in_input;                   /* inside tern_http_conn_input */
    bool quiet;                      /* no access log line (the OS's own health checks) */
    uint64_t input_ns;               /* monotonic time at its entry */
    uint64_t since_ns;               /* when the current state began */
    uint32_t served;                 /* responses completed on it */

    struct tern_http_parser parser;
    struct tern_http_request req;
    char path[TERN_HTTP_PATH_MAX];
    char query[TERN_HTTP_PATH_MAX];

    /* Output: bytes [out_off, out_len) are waiting to be sent. */
    uint8_t out[TERN_HTTP_OUT_MAX];
    size_t out_off, out_len;

    /* The response in progress. */
    int status;
    bool resp_started;               /* head written */
    bool head_open;                  /* header fields may still be added */
    bool no_body;                    /* HEAD, 204, 304: body writes dropped */
    bool resp_done;                  /* end called */
    bool resp_chunked;
    bool resp_close;                 /* send Connection: close, then close */
    bool req_done;                   /* body fully received */
    bool head_only;
    bool resp_held;                  /* kept back until the chunked body ends */
    bool resp_left;                  /* some of it went to the transport */
    size_t before_resp;              /* output queued before its head */
    uint64_t resp_remaining;         /* of a Content-Length body */
    uint64_t resp_body_bytes;
    void (*writable)(struct tern_http_conn *c, void *arg);
    void *writable_arg;
    size_t (*on_body)(struct tern_http_conn *c, const uint8_t *data, size_t len, void *arg);
    void *on_body_arg;
    void (*on_abort)(struct tern_http_conn *c, void *arg);
    void *on_abort_arg;
    TERN_ALIGNAS(16) uint8_t scratch[TERN_HTTP_SCRATCH];
};

struct tern_http_server {
    struct tern_os *os;
    struct tern_http_config cfg;
    const struct tern_http_route *routes;
    size_t nroutes;
    struct tern_http_conn *pool;
    uint32_t pool_size;
    uint32_t pool_ready;             /* pool[0, pool_ready) prepared */
    struct tern_http_counters counters;
    /* "Date: ...\r\n" of the second date_secs (date_len 0: none yet). */
    int64_t date_secs;
    char date_line[64];
    size_t date_len;
    /* Access lines waiting for one console write (core/http/conn.c). */
    char alog[2048];
    size_t alog_len;
    struct tern_timer alog_timer;
};

/* Sets up srv over a caller-owned pool of n connections (the cap on
 * concurrent connections) and the route table (searched in order; kept
 * by pointer). cfg NULL means defaults. TERN_OK or TERN_EINVAL. The pool
 * need not be initialised (heap memory is fine): connections are
 * prepared in order as opens first need them, so a pool that is never
 * filled is never written past what was used (at boot, no page of it). */
tern_result tern_http_server_init(struct tern_http_server *srv, struct tern_os *os,
                                  const struct tern_http_config *cfg,
                                  struct tern_http_conn *pool, uint32_t n,
                                  const struct tern_http_route *routes, size_t nroutes);

/* Takes a connection from the pool for a new transport connection, or
 * NULL when the pool is full (counted in conns_refused_full; the
 * transport should reset or close the peer). wake may be NULL. */
struct tern_http_conn *tern_http_conn_open(struct tern_http_server *srv,
                                           tern_http_wake_fn wake, void *arg);

/* Makes room when the pool is full: picks an idle keep-alive connection,
 * else the one that has been sending its request head the longest (the
 * slowloris pattern), else one still sending a body that nobody is
 * answering yet (or whose answer went out already), else the slow reader
 * whose output has not drained for the longest, at least
 * cfg.stall_evict_ns; never one whose response is moving. Marks it to
 * close at once
 * (should_close) and wakes its transport, which is expected to close it
 * from the wake. Returns true when one was picked (counted in evictions). */
bool tern_http_server_evict(struct tern_http_server *srv);

/* Offers received bytes. Returns how many were consumed; the rest must be
 * offered again after a wake (the engine stops reading while a response
 * is in progress or the output buffer is nearly full, and after it
 * decided to close — then the rest is dropped: the return equals len). */
size_t tern_http_conn_input(struct tern_http_conn *c, const uint8_t *data, size_t len);

/* The peer closed its sending side (FIN). A request half-received is
 * abandoned; a response in progress still completes. */
void tern_http_conn_input_closed(struct tern_http_conn *c);

/* Bytes waiting to be sent: *data and *len (len 0 when none). */
void tern_http_conn_output(struct tern_http_conn *c, const uint8_t **data, size_t *len);

/* The transport sent n of the bytes from tern_http_conn_output(). */
void tern_http_conn_output_done(struct tern_http_conn *c, size_t n);

/* True when the transport should close: the engine decided to close and
 * the output is drained. */
bool tern_http_conn_should_close(const struct tern_http_conn *c);

/* Returns c to the pool (stops its timer, tells an active handler through
 * on_abort). The transport calls it once, when its connection is gone. */
void tern_http_conn_close(struct tern_http_conn *c);

/* ---- response API, for handlers ---- */

/* Starts the response head with status; adds Date (when wall time is
 * known), Server: tern, X-Content-Type-Options: nosniff. TERN_OK;
 * TERN_EINVAL when a response was already started. */
tern_result tern_http_resp_begin(struct tern_http_conn *c, int status);

/* Adds a header field (name and value must be free of CR, LF, NUL).
 * TERN_OK; TERN_EINVAL (bad bytes, head already ended); TERN_ENOSPC. */
tern_result tern_http_resp_header(struct tern_http_conn *c, const char *name,
                                  const char *value);

/* Ends the head. length >= 0: a Content-Length body of that many bytes;
 * length < 0: unknown length (chunked for HTTP/1.1, close-delimited for
 * HTTP/1.0). TERN_OK; TERN_ENOSPC when the head did not fit. */
tern_result tern_http_resp_body(struct tern_http_conn *c, int64_t length);

/* Room for body bytes right now (the framing overhead subtracted). */
size_t tern_http_resp_room(const struct tern_http_conn *c);

/* Writes up to len body bytes; *wrote gets how many were taken (all, for
 * HEAD). TERN_OK (maybe partial: set a writable callback and write the
 * rest later); TERN_EINVAL past a Content-Length. */
tern_result tern_http_resp_write(struct tern_http_conn *c, const void *data, size_t len,
                                 size_t *wrote);

/* Body bytes written in place, without a copy (a file read straight into
 * the output): *buf gets room for *room bytes at the end of the output
 * (*room 0: full, set a writable callback), and tern_http_resp_commit(c,
 * n) then sends the first n of them (n <= *room). Nothing else may be
 * written to c in between. Only for a body with a Content-Length that is
 * sent (not chunked, not HEAD/204/304): TERN_EINVAL otherwise, or as
 * tern_http_resp_write would; use tern_http_resp_write there. */
tern_result tern_http_resp_reserve(struct tern_http_conn *c, uint8_t **buf, size_t *room);
tern_result tern_http_resp_commit(struct tern_http_conn *c, size_t n);

/* Ends the response (the last chunk for chunked). A Content-Length
 * response that fell short is closed. TERN_OK or TERN_EINVAL. */
tern_result tern_http_resp_end(struct tern_http_conn *c);

/* For a handler that answers late, from outside tern_http_conn_input (a
 * timer, the result of a thread): tells the transport that the response
 * has output to send before it ends (tern_http_resp_end does so itself).
 * Call it when the writes are done and the writable callback, if the
 * body goes on, is set: the transport may drain the output at once and
 * call it from there. A no-op inside the input, and once the response
 * ended. */
void tern_http_resp_flush(struct tern_http_conn *c);

/* A whole small response: head, Content-Type, body, end. */
tern_result tern_http_resp_simple(struct tern_http_conn *c, int status,
                                  const char *content_type, const void *body, size_t len);

/* Calls fn when output room frees up (after the transport drained some),
 * until cleared with fn NULL or the response ends. */
void tern_http_set_writable(struct tern_http_conn *c,
                            void (*fn)(struct tern_http_conn *c, void *arg), void *arg);

/* Routes the request body to fn instead of discarding it. fn returns how
 * many of the len bytes it took; fewer than len pauses the body (the rest
 * stays with the transport and comes again once output has drained and
 * the writable callback has run). At the end of the body fn gets data
 * NULL, len 0. */
void tern_http_set_on_body(struct tern_http_conn *c,
                           size_t (*fn)(struct tern_http_conn *c, const uint8_t *data,
                                        size_t len, void *arg),
                           void *arg);

/* Called if the connection goes away before the response ended. */
void tern_http_set_on_abort(struct tern_http_conn *c,
                            void (*fn)(struct tern_http_conn *c, void *arg), void *arg);

/* Per-response scratch memory for the handler (TERN_HTTP_SCRATCH bytes,
 * 16-aligned, zeroed at each request). */
void *tern_http_scratch(struct tern_http_conn *c);

/* A reason phrase for status ("OK", "Not Found", ...; "" if unknown). */
const char *tern_http_reason(int status);

/* ------------------------------------------------------------------ */
/* Built-in service: /healthz, /status, static files                   */
/* ------------------------------------------------------------------ */

struct tern_http_file_stat {
    bool is_dir;
    uint64_t size;
    int64_t mtime;                   /* unix seconds, or -1 if unknown */
};

/* An abstract read-only file tree (the storage layer, a test's memory
 * table). Paths are decoded and normalised, starting with '/'. */
struct tern_http_file_ops {
    /* Opens path; *handle is passed to read_at and close. TERN_OK;
     * TERN_ENOENT; TERN_EBUSY or TERN_ENOMEM when no handle is free now
     * (answered 503 with Retry-After); TERN_EIO. */
    tern_result (*open)(void *ctx, const char *path, void **handle,
                        struct tern_http_file_stat *st);
    /* Reads up to len bytes at off into buf, now (no AGAIN: a source that
     * must wait is not supported yet); *got 0 only at the end. TERN_OK;
     * TERN_EIO (the response is cut short and the connection closed). */
    tern_result (*read_at)(void *ctx, void *handle, uint64_t off, void *buf, size_t len,
                           size_t *got);
    void (*close)(void *ctx, void *handle);
};

/* Addresses and counters of other subsystems for /status: writes JSON
 * object members (without braces, e.g. "\"addresses\":[\"10.0.2.15\"]")
 * into buf and returns the length (0 for none). */
typedef size_t (*tern_http_status_provider)(void *arg, char *buf, size_t cap);

/* Chains providers: appends ',' and what p writes after buf[0..n) when
 * it fits in cap with `reserve` bytes left over (for the caller's closing
 * bytes); nothing when p is NULL, writes nothing or would not fit.
 * Returns the new length. */
size_t tern_http_status_append(char *buf, size_t n, size_t cap, size_t reserve,
                               tern_http_status_provider p, void *arg);

struct tern_http_service {
    struct tern_os *os;
    const char *backend;             /* for /status */
    uint64_t start_ns;
    tern_http_status_provider provider;
    void *provider_arg;
    const struct tern_http_file_ops *files;  /* NULL: no static files */
    void *files_ctx;
    struct tern_http_route routes[3];
};

/* Fills svc->routes with /healthz, /status and (when files is not NULL)
 * the static-file catch-all; pass svc->routes and svc_route_count() to
 * tern_http_server_init. */
void tern_http_service_init(struct tern_http_service *svc, struct tern_os *os,
                            const char *backend,
                            const struct tern_http_file_ops *files, void *files_ctx,
                            tern_http_status_provider provider, void *provider_arg);
size_t tern_http_service_route_count(const struct tern_http_service *svc);

/* The content type for a file name by its extension. */
const char *tern_http_content_type(const char *path);

TERN_END_DECLS

#endif
