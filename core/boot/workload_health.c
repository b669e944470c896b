/*
 * Interface: the workload's health checks and TERN_READY (see
 * include/tern/workload.h).
 *
 * An HTTP check is a real request through the OS's HTTP server: a
 * connection from the server's own pool, fed "GET <path>" in memory, so
 * it runs the same routes, limits and handlers a client's request does
 * (the stack has no loopback interface to connect through). A TCP check
 * asks the stack whether a listener is bound on the port. Until the
 * first pass, checks run every 10 ms; after it, every interval_ms.
 */
#include <string.h>

#include "tern/boot_https.h"
#include "tern/boot_net.h"
#include "tern/boot_pkg.h"
#include "tern/fmt.h"
#include "tern/http.h"
#include "tern/net.h"
#include "tern/os.h"
#include "tern/services.h"
#include "tern/tcp.h"
#include "workload_internal.h"

#define FIRST_CHECK_NS (10ull * 1000 * 1000)

enum check_result { CHECK_PASS, CHECK_FAIL, CHECK_SKIP };

/* One GET through the server; CHECK_SKIP when its pool is full (load,
 * not ill health). The response must be complete at once: route handlers
 * answer from the loop, and a health path must not stream. */
static enum check_result check_http(struct tern_workload *w, char *why, size_t cap)
{
    struct tern_http_server *srv = &w->o.services->srv;
    struct tern_http_conn *c = tern_http_conn_open(srv, NULL, NULL);
    if (c == NULL)
        return CHECK_SKIP;
    c->quiet = true;                         /* one check a second would flood the log */
    char req[TERN_MANIFEST_PATH_MAX + 64];
    size_t n = tern_snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: health\r\n\r\n",
                             w->m.health.http_path);
    (void)tern_http_conn_input(c, (const uint8_t *)req, n);
    const uint8_t *out;
    size_t len;
    tern_http_conn_output(c, &out, &len);
    int status = 0;
    if (len >= 12 && memcmp(out, "HTTP/1.1 ", 9) == 0)
        status = (out[9] - '0') * 100 + (out[10] - '0') * 10 + (out[11] - '0');
    tern_http_conn_close(c);
    if (status >= 200 && status <= 299)
        return CHECK_PASS;
    tern_snprintf(why, cap, status ? "GET %s answered %d" : "GET %s got no answer",
                  w->m.health.http_path, status);
    return CHECK_FAIL;
}

static enum check_result check_once(struct tern_workload *w, char *why, size_t cap)
{
    switch (w->m.health.kind) {
    case TERN_MANIFEST_HEALTH_HTTP:
        return check_http(w, why, cap);
    case TERN_MANIFEST_HEALTH_TCP:
        if (w->o.network && tern_tcp_listening(&w->o.network->tcp, w->m.health.port))
            return CHECK_PASS;
        tern_snprintf(why, cap, "nothing listens on TCP port %u", w->m.health.port);
        return CHECK_FAIL;
    default:
        if (w->app.ready)
            return CHECK_PASS;
        tern_snprintf(why, cap, "the app has not said it is ready");
        return CHECK_FAIL;
    }
}

static bool network_up(const struct tern_workload *w)
{
    const struct tern_net *net = w->o.network ? &w->o.network->net : NULL;
    return net == NULL || (net->if_count > 0 && net->ifs[0].configured);
}

static void announce_ready(struct tern_workload *w)
{
    w->ready = true;
    w->ready_ns = tern_now_ns(w->os);
    /* The service's fields first, the app last: new fields go at the end
     * of a marker (docs/markers.md). */
    char http[16] = "", https[TERN_BOOT_HTTPS_MAX * 6 + 8] = "";
    if (w->o.services)
        tern_snprintf(http, sizeof http, "http=%u ", w->o.services->opts.http_port);
    if (tern_boot_https_ports(w->o.https)[0])
        tern_snprintf(https, sizeof https, "https=%s ", tern_boot_https_ports(w->o.https));
    tern_marker(w->os, "TERN_READY", "%s%s%s%sapp=%s", http, https,
                w->o.ready_fields ? w->o.ready_fields : "", w->o.ready_fields ? " " : "",
                w->m.name);
    tern_log(w->os, TERN_LOG_INFO, "workload",
             "%s ready %llu ms after its start, %llu ms after the backend started", w->m.name,
             (unsigned long long)((w->ready_ns - w->start_ns) / 1000000),
             (unsigned long long)((w->ready_ns - w->os->cfg.boot_start_ns) / 1000000));
    if (w->o.pkg)
        tern_boot_pkg_healthy(w->o.pkg);   /* a trial is confirmed by its first pass */
    if (w->o.on_ready)
        w->o.on_ready(w->o.arg);
}

static void end_unhealthy(struct tern_workload *w, const char *why)
{
    tern_log(w->os, TERN_LOG_ERROR, "workload", "%s is unhealthy: %s", w->m.name, why);
    tern_pal_app_kill(&w->app, TERN_WORKLOAD_HALT_UNHEALTHY, "unhealthy");
}

/* A resolver with no servers takes the DHCP lease's once there is one. */
static void adopt_lease_dns(struct tern_workload *w)
{
    if (!w->dns_ready || w->dns.server_count)
        return;
    uint32_t servers[TERN_BOOT_NET_DNS_MAX];
    unsigned n = tern_boot_net_dns(w->o.network, servers);
    if (n == 0)
        return;
    tern_dns_set_servers(&w->dns, servers, n);
    tern_log(w->os, TERN_LOG_INFO, "workload", "the app resolves names through %u DHCP server(s)",
             n);
}

static void health_tick(struct tern_timer *t, void *arg)
{
    (void)t;
    struct tern_workload *w = arg;
    struct tern_os *os = w->os;
    if (w->app.exited)
        return;
    adopt_lease_dns(w);
    uint64_t now = tern_now_ns(os);
    char why[160] = "";
    enum check_result r = network_up(w) ? check_once(w, why, sizeof why) : CHECK_SKIP;
    w->health.checks++;
    if (r == CHECK_PASS) {
        w->health.passes++;
        w->failed_in_row = 0;
        if (!w->ready)
            announce_ready(w);
    } else if (r == CHECK_FAIL) {
        w->health.failures++;
        if (w->ready && ++w->failed_in_row >= w->m.health.failures) {
            end_unhealthy(w, why);
            return;
        }
    }
    if (!w->ready && now - w->start_ns >= (uint64_t)w->m.health.deadline_ms * 1000000) {
        end_unhealthy(w, r == CHECK_FAIL ? why : "the network never came up");
        return;
    }
    uint64_t next = w->ready ? (uint64_t)w->m.health.interval_ms * 1000000 : FIRST_CHECK_NS;
    tern_timer_arm(os, &w->health_timer, now + next);
}

void workload_health_now(struct tern_workload *w)
{
    if (!w->ready)
        tern_timer_arm(w->os, &w->health_timer, tern_now_ns(w->os));
}

void workload_health_start(struct tern_workload *w)
{
    tern_timer_init(&w->health_timer, health_tick, w);
    tern_timer_arm(w->os, &w->health_timer, tern_now_ns(w->os) + FIRST_CHECK_NS);
}
