/*
 * Interface: the OS's own HTTP service set, assembled once for every
 * backend: the server with its connection pool, the plain-HTTP listener,
 * the built-in routes (/healthz, /status, and the data volume's files,
 * less its /tern: the OS's slots and record, answered 404)
 * and room in the route table for an app's routes in front of them.
 *
 *   struct tern_services s;
 *   struct tern_services_opts o = { .backend = "linux", .network = &bn, ... };
 *   if (tern_services_start(&s, os, &o) != TERN_OK) ...;
 *   // s.srv is the server an HTTPS listener or the PAL joins
 *
 * Memory: the pool (about 32 KiB a connection) and the slots come from
 * the instance heap; the heap does not zero and neither does this, so a
 * pool that never fills is never touched past what was used.
 */
#ifndef TERN_SERVICES_H
#define TERN_SERVICES_H

#include <stdbool.h>
#include <stdint.h>

#include "tern/http.h"
#include "tern/http_fat.h"
#include "tern/http_tcp.h"
#include "tern/result.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

struct tern_os;
struct tern_boot_net;
struct tern_fat;

#define TERN_SERVICES_HTTP_CONNS 64
/* Route table capacity: the app's routes plus the OS's three and the
 * update endpoint. */
#define TERN_SERVICES_ROUTES (16 + 4)

struct tern_services_opts {
    const char *backend;             /* "linux", "baremetal": for /status */
    struct tern_boot_net *network;   /* required: its TCP; its addresses and hostname for /status */
    struct tern_fat *files;          /* the volume served as static files; NULL: none */
    uint16_t http_port;              /* 0: 80 */
    uint32_t conns;                  /* 0: TERN_SERVICES_HTTP_CONNS */
    tern_http_status_provider status_more;  /* more /status members (the package's), or NULL */
    void *status_more_arg;
};

struct tern_services {
    struct tern_os *os;
    struct tern_services_opts opts;
    struct tern_http_service svc;
    struct tern_http_net_status status;
    struct tern_http_fat fat_files;
    struct tern_http_server srv;
    struct tern_http_conn *conns;            /* [conns], heap */
    struct tern_http_tcp listener;
    struct tern_http_tcp_slot *slots;        /* [conns], heap */
    struct tern_http_route *routes;          /* [TERN_SERVICES_ROUTES], heap */
    size_t nroutes;                          /* the OS's own, at routes[0..] */
    bool started;
};

/* Builds the server and listens on opts->http_port. TERN_OK; TERN_EINVAL
 * (no network); TERN_ENOMEM (the pool does not fit the heap); what
 * tern_http_tcp_start returned (TERN_EEXIST: the port is taken). On
 * failure an error line says what, and nothing is left listening. */
tern_result tern_services_start(struct tern_services *s, struct tern_os *os,
                                const struct tern_services_opts *opts);

/* Adds one of the OS's own routes (the update endpoint) in front of the
 * built-in ones, before an app adds its routes. route is copied.
 * TERN_OK; TERN_ENOSPC (table full); TERN_EINVAL (not started). */
tern_result tern_services_add_route(struct tern_services *s, const struct tern_http_route *route);

/* Stops listening and returns the pool to the heap. */
void tern_services_stop(struct tern_services *s);

TERN_END_DECLS

#endif
