/*
 * Interface: the PAL (platform abstraction layer), what apps program
 * against. It is one const table of function pointers behind a header,
 * handed to the app's entry (include/tern/app_abi.h):
 *
 *   int tern_app_main(const struct tern_pal *pal, const struct tern_app_start *start);
 *
 * This header is the whole ABI: it depends on nothing but <stddef.h> and
 * <stdint.h>, so an app built with no libc includes it as is.
 *
 * Rules that hold for every member:
 *  - The first argument is always pal->ctx (several OS instances may live
 *    in one process, each with its own table and context).
 *  - Members are only ever appended, never reordered or removed. An app
 *    that calls a member newer than the minor it was built for checks
 *    first that pal->hdr.size covers it (TERN_PAL_HAS). Every slot the OS
 *    provides is non-NULL; one a backend cannot serve returns
 *    TERN_PAL_ENOTSUP.
 *  - Results are TERN_PAL_* codes (the numbering of the core's
 *    tern_result); outputs go through pointers the app owns and are
 *    written only on TERN_PAL_OK.
 *  - Blocking calls (marked BLOCKING) may be made from the app's threads
 *    only (the main thread, threads from thread_spawn and the workers of
 *    http_workers); from an HTTP route handler on the loop (http_route)
 *    they return TERN_PAL_EINVAL. Every BLOCKING call takes
 *    an absolute deadline on the monotonic clock (TERN_PAL_FOREVER: none)
 *    and returns TERN_PAL_ETIMEDOUT when it passes first.
 *  - Threads are cooperative: an app thread runs until it makes a
 *    blocking call, yields or returns. One that runs longer than the
 *    watchdog limit (1 s by default) is stopped and the app ends as
 *    crashed.
 *  - Strings passed in are NUL-terminated unless a length is given.
 *
 * ABI 1.1 (1.1 added http_workers, http_route_threaded and
 * tern_pal_http_request.worker).
 */
#ifndef TERN_PAL_H
#define TERN_PAL_H

#include <stddef.h>
#include <stdint.h>
#include "tern/decls.h"

TERN_BEGIN_DECLS

#ifdef __cplusplus
extern "C" {
#endif

#define TERN_PAL_MAGIC     0x314c415020505254ull /* "TRP PAL1" */
#define TERN_PAL_ABI_MAJOR 1u
#define TERN_PAL_ABI_MINOR 1u

#define TERN_PAL_FOREVER UINT64_MAX

/* Result codes (the same numbers as the core's tern_result). */
#define TERN_PAL_OK        0   /* done */
#define TERN_PAL_AGAIN     1   /* nothing now (non-blocking use) */
#define TERN_PAL_EINVAL    2   /* a bad argument, or a blocking call off a thread */
#define TERN_PAL_ENOENT    3   /* no such file, name, key or handle */
#define TERN_PAL_ENOMEM    4   /* the app's arena or a table is exhausted */
#define TERN_PAL_ENOSPC    5   /* the volume or a fixed table is full */
#define TERN_PAL_EIO       6   /* the device or the data on it is bad */
#define TERN_PAL_ENOTSUP   7   /* not provided by this OS build or backend */
#define TERN_PAL_EBUSY     8   /* in use (a port already bound) */
#define TERN_PAL_ETIMEDOUT 9   /* the deadline passed first */
#define TERN_PAL_ECLOSED   10  /* the peer or the object was closed */
#define TERN_PAL_EEXIST    11  /* already there */
#define TERN_PAL_EROFS     12  /* the mount is read-only */
#define TERN_PAL_EPROTO    13  /* the peer broke the protocol, or refused */
#define TERN_PAL_EACCES    14  /* outside the app's mounts, or not permitted */

/* Log levels for log(). */
#define TERN_PAL_LOG_DEBUG 0
#define TERN_PAL_LOG_INFO  1
#define TERN_PAL_LOG_WARN  2
#define TERN_PAL_LOG_ERROR 3

/* File open flags. */
#define TERN_PAL_O_READ   0x01u
#define TERN_PAL_O_WRITE  0x02u
#define TERN_PAL_O_CREATE 0x04u   /* create when missing */
#define TERN_PAL_O_TRUNC  0x08u   /* truncate to 0 on open */
#define TERN_PAL_O_EXCL   0x10u   /* with CREATE: fail with EEXIST when present */
#define TERN_PAL_O_APPEND 0x20u   /* every write goes to the end */

/* seek() origins. */
#define TERN_PAL_SEEK_SET 0
#define TERN_PAL_SEEK_CUR 1
#define TERN_PAL_SEEK_END 2

/* poll() event bits. */
#define TERN_PAL_POLL_IN   0x1u   /* readable, a connection to accept, an event set */
#define TERN_PAL_POLL_OUT  0x2u   /* writable */
#define TERN_PAL_POLL_HUP  0x4u   /* the peer closed (reported whether asked or not) */
#define TERN_PAL_POLL_ERR  0x8u   /* the connection failed (reported whether asked or not) */

/* Handles are small non-negative integers, per app; -1 is never valid. */
typedef int32_t tern_pal_handle;

struct tern_pal_header {
    uint64_t magic;               /* TERN_PAL_MAGIC */
    uint16_t abi_major;           /* TERN_PAL_ABI_MAJOR of the OS */
    uint16_t abi_minor;           /* TERN_PAL_ABI_MINOR of the OS */
    uint32_t size;                /* sizeof the whole table the OS built */
};

/* An IPv4 endpoint. addr is in host order (192.0.2.1 is 0xc0000201). */
struct tern_pal_addr {
    uint32_t addr;
    uint16_t port;
};

struct tern_pal_stat {
    uint64_t size;
    int64_t mtime;                /* unix seconds, -1 unknown */
    uint8_t is_dir;
    uint8_t read_only;
};

/* One entry of a directory listing. */
struct tern_pal_dirent {
    char name[256];               /* NUL-terminated, long name */
    struct tern_pal_stat st;
};

/* One member of a poll() set: a socket or an event handle. */
struct tern_pal_pollfd {
    tern_pal_handle h;
    uint16_t events;              /* TERN_PAL_POLL_* asked */
    uint16_t revents;             /* set by poll */
};

/* An HTTP request as a route handler sees it (valid during the call). */
struct tern_pal_http_request {
    const char *method;           /* "GET", NUL-terminated */
    const char *path;             /* decoded, normalised: "/kv/a" */
    const char *query;            /* raw, "" when none */
    const uint8_t *body;          /* the whole body (NULL when none) */
    size_t body_len;
    /* 1.1: on a threaded route, which worker of its pool runs the
     * handler (0 .. workers-1: state a handler keeps per worker, such as
     * its response buffer, is indexed by it); 0 on the loop. */
    uint32_t worker;
};

/* The response a route handler fills. body points into the app's memory
 * (or into the request's body) and is copied before the handler's return
 * is acted on; on a threaded route the worker waits until it is. */
struct tern_pal_http_response {
    int status;                   /* 200 unless set */
    const char *content_type;     /* "text/plain; charset=utf-8" unless set */
    const void *body;
    size_t body_len;
};

/* A route handler, for each request whose path matches. Registered with
 * http_route it runs on the OS loop (not a thread) and must not block
 * (blocking PAL calls return TERN_PAL_EINVAL there); with
 * http_route_threaded it runs on a worker thread of the app and may
 * block. Returns TERN_PAL_OK with *resp filled, or anything else for a
 * 500. */
typedef int (*tern_pal_http_handler)(void *arg, const struct tern_pal_http_request *req,
                                     struct tern_pal_http_response *resp);

/* What the app gets at start, besides the table. Valid for the app's
 * whole life. */
struct tern_app_start {
    uint32_t size;                /* sizeof this struct, for growth */
    int argc;
    const char *const *argv;      /* argv[0] is the app's name; NULL-terminated */
    const char *const *envp;      /* "NAME=value", NULL-terminated */
    const char *name;             /* the manifest's name */
    const char *version;          /* the manifest's version */
};

struct tern_pal {
    struct tern_pal_header hdr;
    void *ctx;

    /* ---- logs and output ---- */

    /* One log line at level (TERN_PAL_LOG_*), tagged with the app's name;
     * msg[0..len) has no newline. TERN_PAL_OK, TERN_PAL_EINVAL. */
    int (*log)(void *ctx, int level, const char *msg, size_t len);
    /* Bytes to the app's stdout (stream 1) or stderr (stream 2), which go
     * to the console as lines tagged with the app's name. TERN_PAL_OK,
     * TERN_PAL_EINVAL. */
    int (*write_stream)(void *ctx, int stream, const void *buf, size_t len);

    /* ---- status ---- */

    /* Ends the app now with code (as returning from main does), from any
     * of its threads. Does not return. */
    void (*exit)(void *ctx, int code);

    /* ---- config ---- */

    /* The value of environment variable name into buf (cap bytes, NUL
     * added); *len its length. TERN_PAL_OK, TERN_PAL_ENOENT,
     * TERN_PAL_ENOSPC (buf too small; *len still says how long). */
    int (*getenv)(void *ctx, const char *name, char *buf, size_t cap, size_t *len);
    /* The port of the manifest's endpoint named name. TERN_PAL_OK,
     * TERN_PAL_ENOENT. */
    int (*endpoint_port)(void *ctx, const char *name, uint16_t *port);

    /* ---- memory (the app's own arena: resources.memory_mib) ---- */

    /* size bytes, 16-aligned, or NULL when the arena is exhausted (the
     * core is never starved by an app). */
    void *(*alloc)(void *ctx, size_t size);
    /* Returns p (NULL is fine). */
    void (*free)(void *ctx, void *p);

    /* ---- time ---- */

    uint64_t (*monotonic_ns)(void *ctx);
    /* Nanoseconds since 1970 UTC. TERN_PAL_OK, TERN_PAL_AGAIN (unknown). */
    int (*wall_ns)(void *ctx, int64_t *out);
    /* BLOCKING. Sleeps until the monotonic clock reaches deadline.
     * TERN_PAL_OK, TERN_PAL_EINVAL. */
    int (*sleep_until)(void *ctx, uint64_t deadline);

    /* ---- threads ---- */

    /* Starts fn(arg) on a new cooperative thread with stack_size bytes (0:
     * the manifest's stack_kib). TERN_PAL_OK, TERN_PAL_ENOMEM (arena or
     * the manifest's thread limit). */
    int (*thread_spawn)(void *ctx, int (*fn)(void *arg), void *arg, size_t stack_size,
                        tern_pal_handle *out);
    /* BLOCKING. Waits for thread h to end; *code gets its return value.
     * TERN_PAL_OK, TERN_PAL_ENOENT, TERN_PAL_ETIMEDOUT. */
    int (*thread_join)(void *ctx, tern_pal_handle h, uint64_t deadline, int *code);
    /* Lets every other ready thread (and the OS) run once. */
    int (*yield)(void *ctx);
    /* Lets thread h free itself when it ends: the handle is free now and
     * must not be joined. TERN_PAL_OK, TERN_PAL_ENOENT. */
    int (*thread_detach)(void *ctx, tern_pal_handle h);

    /* ---- events (auto-reset: a signal with no waiter is kept) ---- */

    int (*event_create)(void *ctx, tern_pal_handle *out);
    int (*event_signal)(void *ctx, tern_pal_handle h);
    /* BLOCKING. TERN_PAL_OK, TERN_PAL_ETIMEDOUT, TERN_PAL_ENOENT. */
    int (*event_wait)(void *ctx, tern_pal_handle h, uint64_t deadline);

    /* ---- random ---- */

    /* len bytes from the OS's CSPRNG. TERN_PAL_OK, TERN_PAL_EIO (the
     * entropy source failed: buf is zeroed and must not be used; the OS
     * counts and logs it). */
    int (*random)(void *ctx, void *buf, size_t len);

    /* ---- sockets (TCP, UDP, DNS) ---- */

    /* Listens on TCP port (0.0.0.0). TERN_PAL_OK, TERN_PAL_EBUSY,
     * TERN_PAL_ENOMEM. */
    int (*tcp_listen)(void *ctx, uint16_t port, tern_pal_handle *out);
    /* BLOCKING. The next connection; *peer may be NULL. */
    int (*tcp_accept)(void *ctx, tern_pal_handle lh, uint64_t deadline, tern_pal_handle *out,
                      struct tern_pal_addr *peer);
    /* BLOCKING. TERN_PAL_OK, TERN_PAL_EPROTO (refused), TERN_PAL_ETIMEDOUT. */
    int (*tcp_connect)(void *ctx, const struct tern_pal_addr *to, uint64_t deadline,
                       tern_pal_handle *out);
    /* BLOCKING until at least one byte, the end of the stream (*got 0) or
     * an error. TERN_PAL_OK, TERN_PAL_ECLOSED (reset), TERN_PAL_ETIMEDOUT. */
    int (*sock_read)(void *ctx, tern_pal_handle h, void *buf, size_t cap, uint64_t deadline,
                     size_t *got);
    /* BLOCKING until all len bytes are queued or an error; *sent says how
     * many were. TERN_PAL_OK, TERN_PAL_ECLOSED, TERN_PAL_ETIMEDOUT. */
    int (*sock_write)(void *ctx, tern_pal_handle h, const void *buf, size_t len,
                      uint64_t deadline, size_t *sent);
    /* Sends FIN after queued data. */
    int (*sock_shutdown)(void *ctx, tern_pal_handle h);
    /* Closes a TCP or UDP socket or a listener; the handle is free after. */
    int (*sock_close)(void *ctx, tern_pal_handle h);
    /* A UDP socket on port (0: an ephemeral one). */
    int (*udp_bind)(void *ctx, uint16_t port, tern_pal_handle *out);
    int (*udp_sendto)(void *ctx, tern_pal_handle h, const struct tern_pal_addr *to,
                      const void *buf, size_t len);
    /* BLOCKING. One datagram (cut to cap). */
    int (*udp_recvfrom)(void *ctx, tern_pal_handle h, void *buf, size_t cap, uint64_t deadline,
                        size_t *got, struct tern_pal_addr *from);
    /* BLOCKING. An A record for name (or a dotted quad). TERN_PAL_OK,
     * TERN_PAL_ENOENT, TERN_PAL_ETIMEDOUT. */
    int (*dns_resolve)(void *ctx, const char *name, uint64_t deadline, uint32_t *addr);
    /* BLOCKING. Waits until one member of fds[0..n) is ready or the
     * deadline; *ready gets how many have revents set (0 on timeout, with
     * TERN_PAL_OK). */
    int (*poll)(void *ctx, struct tern_pal_pollfd *fds, unsigned n, uint64_t deadline,
                unsigned *ready);

    /* ---- files (paths are absolute in the app's view: "/data/x") ---- */

    int (*file_open)(void *ctx, const char *path, unsigned flags, tern_pal_handle *out);
    int (*file_read)(void *ctx, tern_pal_handle h, void *buf, size_t cap, size_t *got);
    int (*file_write)(void *ctx, tern_pal_handle h, const void *buf, size_t len);
    int (*file_seek)(void *ctx, tern_pal_handle h, int64_t off, int whence, uint64_t *pos);
    /* Makes the file's data and directory entry durable. */
    int (*file_flush)(void *ctx, tern_pal_handle h);
    int (*file_close)(void *ctx, tern_pal_handle h);
    int (*file_stat)(void *ctx, const char *path, struct tern_pal_stat *out);
    /* The index-th entry of directory path (0, 1, ...): TERN_PAL_OK or
     * TERN_PAL_ENOENT past the last. */
    int (*file_list)(void *ctx, const char *path, uint32_t index, struct tern_pal_dirent *out);
    int (*file_mkdir)(void *ctx, const char *path);
    int (*file_unlink)(void *ctx, const char *path);
    /* Replaces to atomically when it exists (a crash leaves one of the two). */
    int (*file_rename)(void *ctx, const char *from, const char *to);

    /* ---- HTTP routes on the OS's server (the fast path) ---- */

    /* Registers fn for requests whose path equals path (exact) or starts
     * with it (prefix; path ending in '/'), on the manifest's HTTP
     * endpoint. Bodies up to max_body bytes are buffered for the handler
     * (larger: 413). Routes are searched in registration order, before
     * the OS's own (/healthz, /status). TERN_PAL_OK, TERN_PAL_ENOSPC,
     * TERN_PAL_ENOENT (no HTTP endpoint). */
    int (*http_route)(void *ctx, const char *path, int exact, size_t max_body,
                      tern_pal_http_handler fn, void *arg);

    /* ---- status ---- */

    /* Tells the OS the app is ready to serve (after binding what it
     * needs). TERN_READY follows once every endpoint is bound and the
     * health check passed. */
    int (*ready)(void *ctx);

    /* ---- 1.1: HTTP routes served on the app's threads ---- */

    /* Starts a pool of `workers` threads for http_route_threaded: each
     * request to a route of the pool waits (whole, its body buffered) in
     * a FIFO of up to `queue` requests until a worker is free, and the
     * worker runs the route's handler, which may block; the response is
     * sent once it returns. More requests than workers + queue are
     * answered 503 with Retry-After (counted in stats.route_busy). The
     * workers are the app's threads: they count against the manifest's
     * resources.threads; stacks of stack_size bytes (0: the manifest's
     * stack_kib). The pool lasts as long as the app. TERN_PAL_OK with
     * *out; TERN_PAL_EINVAL (workers 0 or over 64, queue over 4096, out
     * NULL); TERN_PAL_ENOSPC (more workers than the thread budget has
     * left: nothing started, logged); TERN_PAL_ENOENT (no HTTP
     * endpoint); TERN_PAL_ENOMEM (memory, or the handle table). */
    int (*http_workers)(void *ctx, uint32_t workers, uint32_t queue, size_t stack_size,
                        tern_pal_handle *out);
    /* As http_route, but fn runs on a worker of pool (from http_workers)
     * instead of the loop. TERN_PAL_OK, TERN_PAL_EINVAL (a bad path, fn
     * NULL, pool not a pool), TERN_PAL_ENOSPC, TERN_PAL_ENOENT. */
    int (*http_route_threaded)(void *ctx, const char *path, int exact, size_t max_body,
                               tern_pal_http_handler fn, void *arg, tern_pal_handle pool);
};

/* True when the table covers member m (for members newer than 1.0). */
#define TERN_PAL_HAS(pal, m) \
    ((pal)->hdr.size >= offsetof(struct tern_pal, m) + sizeof((pal)->m) && (pal)->m != 0)

#ifdef __cplusplus
}
#endif

TERN_END_DECLS

#endif
