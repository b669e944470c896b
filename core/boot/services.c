/*
 * Interface: see include/tern/services.h.
 */
#include <string.h>

#include "tern/boot_net.h"
#include "tern/net.h"
#include "tern/os.h"
#include "tern/services.h"
#include "tern/tcp.h"
#include "tern/workload.h"

static tern_result refuse(struct tern_services *s, tern_result r, const char *what)
{
    tern_log(s->os, TERN_LOG_ERROR, "http", "%s: %s", what, tern_result_name(r));
    tern_services_stop(s);
    return r;
}

tern_result tern_services_start(struct tern_services *s, struct tern_os *os,
                                const struct tern_services_opts *opts)
{
    memset(s, 0, sizeof *s);
    s->os = os;
    if (opts == NULL || opts->network == NULL)
        return TERN_EINVAL;
    struct tern_boot_net *bn = opts->network;
    s->opts = *opts;
    if (s->opts.http_port == 0)
        s->opts.http_port = 80;
    if (s->opts.conns == 0)
        s->opts.conns = TERN_SERVICES_HTTP_CONNS;
    uint32_t n = s->opts.conns;
    s->conns = tern_alloc(os, (size_t)n * sizeof *s->conns);
    s->slots = tern_alloc(os, (size_t)n * sizeof *s->slots);
    s->routes = tern_alloc(os, TERN_SERVICES_ROUTES * sizeof *s->routes);
    if (s->conns == NULL || s->slots == NULL || s->routes == NULL)
        return refuse(s, TERN_ENOMEM, "no memory for the HTTP connection pool");

    const struct tern_http_file_ops *fops = NULL;
    if (opts->files) {
        tern_http_fat_init(&s->fat_files, opts->files);
        s->fat_files.hidden = TERN_WORKLOAD_OS_DIR;   /* slots, record: the OS's */
        fops = &tern_http_fat_ops;
    }
    s->status = (struct tern_http_net_status){ &bn->net, &bn->tcp, tern_boot_net_hostname(bn),
                                               bn->dhcp_server, opts->status_more,
                                               opts->status_more_arg, bn->forward };
    tern_http_service_init(&s->svc, os, opts->backend, fops, &s->fat_files,
                           tern_http_net_status, &s->status);
    s->nroutes = tern_http_service_route_count(&s->svc);
    memcpy(s->routes, s->svc.routes, s->nroutes * sizeof *s->routes);
    tern_result r = tern_http_server_init(&s->srv, os, NULL, s->conns, n, s->routes, s->nroutes);
    if (r != TERN_OK)
        return refuse(s, r, "the HTTP server did not start");
    r = tern_http_tcp_start(&s->listener, &bn->tcp, &s->srv, s->opts.http_port, s->slots, n);
    if (r != TERN_OK)
        return refuse(s, r, "cannot listen for HTTP");
    s->started = true;
    return TERN_OK;
}

tern_result tern_services_add_route(struct tern_services *s, const struct tern_http_route *route)
{
    if (!s->started)
        return TERN_EINVAL;
    if (s->nroutes >= TERN_SERVICES_ROUTES - 16)
        return TERN_ENOSPC;
    memmove(&s->routes[1], &s->routes[0], s->nroutes * sizeof *s->routes);
    s->routes[0] = *route;
    s->nroutes++;
    s->srv.nroutes = s->nroutes;
    return TERN_OK;
}

void tern_services_stop(struct tern_services *s)
{
    if (s->started)
        tern_http_tcp_stop(&s->listener);
    s->started = false;
    tern_free(s->os, s->conns);
    tern_free(s->os, s->slots);
    tern_free(s->os, s->routes);
    s->conns = NULL;
    s->slots = NULL;
    s->routes = NULL;
}
