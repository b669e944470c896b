/*
 * Interface: see include/tern/workload.h. This file checks the manifest
 * against what the OS has, loads the app and starts it on its PAL; the
 * health checks and TERN_READY are in workload_health.c.
 */
#include <string.h>

#include "tern/boot_net.h"
#include "tern/boot_pkg.h"
#include "tern/fmt.h"
#include "tern/http.h"
#include "tern/os.h"
#include "tern/services.h"
#include "tern/tls.h"
#include "tern/workload.h"
#include "workload_internal.h"

static tern_result refuse(struct tern_workload *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static tern_result refuse(struct tern_workload *w, const char *fmt, ...)
{
    char why[200];
    va_list ap;
    va_start(ap, fmt);
    tern_vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    workload_app_refused(w->os, w->m.name, why);
    return TERN_EINVAL;
}

void workload_app_refused(struct tern_os *os, const char *name, const char *why)
{
    char token[200];
    tern_snprintf(token, sizeof token, "%s", why);
    tern_log(os, TERN_LOG_ERROR, "workload", "%s refused: %s", name, why);
    tern_marker(os, "TERN_APP_REFUSED", "name=%s reason=%s", name, tern_token(token));
}

static struct tern_fat *volume_named(const struct tern_workload *w, const char *name)
{
    if (strcmp(name, "data") == 0)
        return w->o.data;
    if (strcmp(name, "boot") == 0)
        return w->o.boot;
    return NULL;
}

/* argv: the app's name, then the manifest's args; envp: NAME=value. */
static void fill_argv_envp(struct tern_workload *w)
{
    const struct tern_manifest *m = &w->m;
    unsigned n = 0;
    w->argv[n++] = m->name;
    for (unsigned i = 0; i < m->args_count && n < TERN_PAL_MAX_ARGS + 1; i++)
        w->argv[n++] = m->args[i];
    w->argv[n] = NULL;
    w->pcfg.argc = (int)n;
    unsigned e = 0;
    for (; e < m->env_count && e < TERN_PAL_MAX_ENV; e++) {
        tern_snprintf(w->env_text[e], sizeof w->env_text[e], "%s=%s", m->env[e].name,
                      m->env[e].value);
        w->envp[e] = w->env_text[e];
    }
    w->envp[e] = NULL;
}

/* The PAL's view of the manifest: endpoints, mounts, resources, the
 * subsystems. Refuses what the OS cannot give. */
static tern_result build_pal_config(struct tern_workload *w)
{
    const struct tern_manifest *m = &w->m;
    struct tern_pal_config *c = &w->pcfg;
    struct tern_services *svc = w->o.services;
    memset(c, 0, sizeof *c);
    c->name = m->name;
    c->version = m->version;
    fill_argv_envp(w);
    c->argv = w->argv;
    c->envp = w->envp;
    c->memory_bytes = (size_t)m->resources.memory_mib << 20;
    c->max_threads = m->resources.threads;
    c->stack_bytes = (size_t)m->resources.stack_kib << 10;
    for (unsigned i = 0; i < m->endpoints_count; i++) {
        const struct tern_manifest_endpoint *ep = &m->endpoints[i];
        if (ep->proto == TERN_MANIFEST_HTTP &&
            (svc == NULL || ep->port != svc->opts.http_port))
            return refuse(w, "endpoint %s: HTTP is served on port %u, not %u", ep->name,
                          svc ? svc->opts.http_port : 0, ep->port);
        c->endpoints[c->nendpoints++] = (struct tern_pal_endpoint){
            ep->name, tern_manifest_proto_name(ep->proto), ep->port,
        };
    }
    for (unsigned i = 0; i < m->mounts_count; i++) {
        const struct tern_manifest_mount *mt = &m->mounts[i];
        struct tern_fat *fs = volume_named(w, mt->volume);
        if (fs == NULL)
            return refuse(w, "mount %s: this machine has no %s volume", mt->path, mt->volume);
        /* /tern on either volume is the OS's (slots, record, trust keys) */
        c->mounts[c->nmounts++] =
            (struct tern_pal_mount){ mt->path, fs, mt->read_only, TERN_WORKLOAD_OS_DIR };
    }
    c->net = w->o.network ? &w->o.network->net : NULL;
    c->tcp = w->o.network ? &w->o.network->tcp : NULL;
    c->dns = w->dns_ready ? &w->dns : NULL;
    if (svc) {
        c->http = &svc->srv;
        c->http_port = svc->opts.http_port;
        c->routes = svc->routes;
        c->nroutes = svc->nroutes;
        c->routes_cap = TERN_SERVICES_ROUTES;
    }
    return TERN_OK;
}

/* The app's resolver, on the network's servers (tern_boot_net_dns: the
 * command line's or the manifest's now, else (workload_health.c) the
 * DHCP lease's once it is bound). Without a network, none. */
static void start_dns(struct tern_workload *w)
{
    if (w->o.network == NULL)
        return;
    tern_result r = tern_dns_init(&w->dns, &w->o.network->net);
    if (r != TERN_OK) {
        tern_log(w->os, TERN_LOG_WARN, "workload", "no resolver for the app: %s",
                 tern_result_name(r));
        return;
    }
    w->dns_ready = true;
    uint32_t servers[TERN_BOOT_NET_DNS_MAX];
    unsigned n = tern_boot_net_dns(w->o.network, servers);
    if (n)
        tern_dns_set_servers(&w->dns, servers, n);
}

static void stop_dns(struct tern_workload *w)
{
    if (w->dns_ready)
        tern_dns_finish(&w->dns);
    w->dns_ready = false;
}

/* The manifest's log level, unless the command line chose one. */
static void apply_log_level(struct tern_workload *w)
{
    static const enum tern_log_level levels[] = {
        [TERN_MANIFEST_LOG_DEBUG] = TERN_LOG_DEBUG, [TERN_MANIFEST_LOG_INFO] = TERN_LOG_INFO,
        [TERN_MANIFEST_LOG_WARN] = TERN_LOG_WARN, [TERN_MANIFEST_LOG_ERROR] = TERN_LOG_ERROR,
    };
    if (!w->o.keep_log_level && (unsigned)w->m.log_level < 4)
        w->os->cfg.console_level = levels[w->m.log_level];
}

static tern_result load_app(struct tern_workload *w)
{
    uint8_t digest[32];
    char hex[65];
    tern_sha256(w->o.app_file, w->o.app_len, digest);
    for (unsigned i = 0; i < 32; i++)
        tern_snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    tern_marker(w->os, "TERN_APP_LOAD", "name=%s path=%s size=%zu sha256=%s", w->m.name,
                w->m.app_path, w->o.app_len, hex);
    struct tern_load_error err = { { 0 } };
    uint64_t t0 = tern_now_ns(w->os);
    tern_result r = tern_app_load(w->os, w->o.app_file, w->o.app_len, TERN_PAL_ABI_MAJOR,
                                  TERN_PAL_ABI_MINOR, &w->image, &err);
    if (r != TERN_OK)
        return refuse(w, "%s", err.reason[0] ? err.reason : tern_result_name(r));
    tern_log(w->os, TERN_LOG_INFO, "workload", "%s loaded in %llu us (PAL %u.%u, %u relocations)",
             w->m.app_path, (unsigned long long)((tern_now_ns(w->os) - t0) / 1000),
             w->image.abi.pal_major, w->image.abi.pal_minor, w->image.relocs);
    return TERN_OK;
}

static void app_ready(struct tern_pal_app *app, void *arg)
{
    (void)app;
    workload_health_now(arg);
}

static void app_ended(struct tern_pal_app *app, void *arg)
{
    struct tern_workload *w = arg;
    int code = app->exit_code;          /* kill passes CRASH or UNHEALTHY */
    tern_timer_disarm(w->os, &w->health_timer);
    if (w->o.pkg)
        code = tern_boot_pkg_ended(w->o.pkg, code, app->exit_reason);
    tern_log(w->os, code ? TERN_LOG_ERROR : TERN_LOG_INFO, "workload",
             "%s ended (%s, code %d); restart policy %s: halting with %d", w->m.name,
             app->exit_reason, app->exit_code, tern_manifest_restart_name(w->m.restart), code);
    tern_os_halt(w->os, code);
}

tern_result tern_workload_start(struct tern_workload *w, struct tern_os *os,
                                const struct tern_manifest *m,
                                const struct tern_workload_opts *o)
{
    memset(w, 0, sizeof *w);
    w->os = os;
    w->m = *m;
    w->o = *o;
    tern_manifest_log(os, &w->m);
    tern_marker(os, "TERN_MANIFEST_OK", "name=%s version=%s source=%s", m->name, m->version,
                o->source ? o->source : "unknown");
    apply_log_level(w);
    start_dns(w);
    tern_result r = TERN_OK;
    if (o->pkg)
        r = tern_update_endpoint_start(o->pkg, o->services, m);
    if (r == TERN_OK)
        r = build_pal_config(w);
    if (r == TERN_OK)
        r = load_app(w);
    if (r != TERN_OK) {
        stop_dns(w);
        return r;
    }
    r = tern_pal_app_init(&w->app, os, &w->pcfg);
    if (r != TERN_OK) {
        tern_app_unload(os, &w->image);
        stop_dns(w);
        return refuse(w, "no room for the app's %u MiB arena (%s)", m->resources.memory_mib,
                      tern_result_name(r));
    }
    w->start_ns = tern_now_ns(os);
    w->app.on_ready = app_ready;
    w->app.on_ready_arg = w;
    tern_app_entry_fn entry = (tern_app_entry_fn)(uintptr_t)w->image.entry;
    r = tern_pal_app_start(&w->app, entry, app_ended, w);
    if (r != TERN_OK) {
        tern_pal_app_finish(&w->app);
        tern_app_unload(os, &w->image);
        stop_dns(w);
        return refuse(w, "the app's main thread did not start (%s)", tern_result_name(r));
    }
    workload_health_start(w);
    return TERN_OK;
}

void tern_workload_crash(struct tern_workload *w, const char *reason)
{
    char token[64];
    tern_snprintf(token, sizeof token, "crash:%s", reason);
    tern_pal_app_kill(&w->app, TERN_WORKLOAD_HALT_CRASH, tern_token(token));
}

bool tern_workload_app_fault(const struct tern_workload *w, uint64_t rip)
{
    if (w == NULL || !w->app.running)
        return false;
    uint64_t base = (uint64_t)(uintptr_t)w->image.base;
    if (rip >= base && rip - base < w->image.size)
        return true;
    /* The app's threads carry its name (cut to 15 characters). */
    const struct tern_thread *t = tern_thread_current(w->os);
    return t != NULL && strncmp(tern_thread_name(t), w->m.name, 15) == 0;
}

void tern_workload_report_crash(struct tern_workload *w, const char *what)
{
    char reason[64];
    tern_snprintf(reason, sizeof reason, "crash:%s", what);
    w->app.running = false;
    w->app.exited = true;
    w->app.exit_code = TERN_WORKLOAD_HALT_CRASH;
    tern_marker(w->os, "TERN_APP_EXIT", "name=%s code=%d reason=%s", w->m.name,
                TERN_WORKLOAD_HALT_CRASH, tern_token(reason));
}
