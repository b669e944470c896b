/*
 * Interface: see include/tern/boot_https.h. Which endpoints get HTTPS
 * and with what certificate (plan), the files read and the server set up
 * (start_one), and the /status member.
 */
#include <string.h>

#include "tern/boot_https.h"
#include "tern/boot_net.h"
#include "tern/fmt.h"
#include "tern/https_tcp.h"
#include "tern/os.h"
#include "tern/services.h"
#include "tern/tls.h"
#include "tern/workload.h"
#include "workload_internal.h"

/* One listener, from the heap while it runs. */
struct tern_boot_https_listener {
    struct tern_tls_server tls;
    struct tern_https_tcp listener;
    struct tern_https_tcp_slot slots[TERN_BOOT_HTTPS_CONNS];
    char endpoint[TERN_MANIFEST_NAME_MAX + 1];
    char from[32];                       /* "manifest", or the given pair's origin */
};

/* What one listener serves: an https endpoint of the manifest, or the
 * given pair on 443 when the manifest has none. */
struct plan {
    const struct tern_manifest_endpoint *ep;  /* NULL: the given pair on 443 */
    uint16_t port;
};

static unsigned make_plans(const struct tern_boot_https_opts *o, struct plan *p)
{
    unsigned n = 0;
    for (unsigned i = 0; o->m && i < o->m->endpoints_count; i++)
        if (o->m->endpoints[i].proto == TERN_MANIFEST_HTTPS)
            p[n++] = (struct plan){ &o->m->endpoints[i], o->m->endpoints[i].port };
    if (n == 0 && o->given)
        p[n++] = (struct plan){ NULL, 443 };
    return n;
}

/* A refusal of the manifest's own https: the workload is refused. */
static tern_result refuse_app(struct tern_boot_https *h, const struct tern_boot_https_opts *o,
                              const char *why)
{
    h->app_refused = true;
    workload_app_refused(h->os, o->m->name, why);
    return TERN_EINVAL;
}

/* The endpoint's cert and key from the workload's files into *cert and
 * *key (heap). TERN_OK, or TERN_EINVAL with why. */
static tern_result read_pair(struct tern_os *os, const struct tern_boot_https_opts *o,
                             const struct tern_manifest_endpoint *ep, void **cert, size_t *cl,
                             void **key, size_t *kl, char *why, size_t cap)
{
    const char *paths[2] = { ep->cert, ep->key };
    void **bufs[2] = { cert, key };
    size_t *lens[2] = { cl, kl };
    for (unsigned i = 0; i < 2; i++) {
        tern_result r = tern_workload_read_file(os, o->files, paths[i], TERN_BOOT_TLS_FILE_MAX,
                                                bufs[i], lens[i]);
        if (r == TERN_OK)
            continue;
        tern_snprintf(why, cap, "endpoint %s: %s %s", ep->name, paths[i],
                      r == TERN_ENOENT   ? "is not among the workload's files"
                      : r == TERN_ENOSPC ? "is larger than 64 KiB"
                      : r == TERN_ENOMEM ? "does not fit the heap"
                                         : "cannot be read");
        return r == TERN_ENOMEM ? TERN_ENOMEM : TERN_EINVAL;
    }
    return TERN_OK;
}

/* Sets the listener's TLS server up from the plan's pair. TERN_OK, or
 * the failure with why (logged by the caller). */
static tern_result set_up_tls(struct tern_boot_https *h, const struct tern_boot_https_opts *o,
                              const struct plan *p, struct tern_boot_https_listener *l,
                              char *why, size_t cap)
{
    const struct tern_tls_pair *g = o->given;
    void *cert = NULL, *key = NULL;
    size_t cl = 0, kl = 0;
    tern_result r = TERN_OK;
    if (g == NULL)
        r = read_pair(h->os, o, p->ep, &cert, &cl, &key, &kl, why, cap);
    char err[128] = "";
    if (r == TERN_OK)
        r = tern_tls_server_init(&l->tls, h->os, g ? g->cert : cert, g ? g->cert_len : cl,
                                 g ? g->key : key, g ? g->key_len : kl, err, sizeof err);
    if (key) {
        memset(key, 0, kl);                  /* key material */
        tern_free(h->os, key);
    }
    if (cert)
        tern_free(h->os, cert);
    if (r != TERN_OK && err[0] && g)
        tern_snprintf(why, cap, "%s certificate and key refused: %s", g->origin, err);
    else if (r != TERN_OK && err[0])
        tern_snprintf(why, cap, "endpoint %s: certificate %s and key %s refused: %s", p->ep->name,
                      p->ep->cert, p->ep->key, err);
    return r;
}

/* One listener of the plan. TERN_OK (in h->l), or the failure, logged;
 * a refused manifest pair also refuses the workload. */
static tern_result start_one(struct tern_boot_https *h, const struct tern_boot_https_opts *o,
                             const struct plan *p)
{
    struct tern_os *os = h->os;
    struct tern_boot_https_listener *l = tern_calloc(os, 1, sizeof *l);
    char why[200] = "";
    if (l == NULL) {
        tern_log(os, TERN_LOG_ERROR, "tls", "no memory for the HTTPS listener on port %u (%u KiB)",
                 p->port, (unsigned)(sizeof *l / 1024));
        return TERN_ENOMEM;
    }
    tern_result r = set_up_tls(h, o, p, l, why, sizeof why);
    if (r != TERN_OK) {
        tern_free(os, l);
        if (r == TERN_EINVAL && o->given == NULL)
            return refuse_app(h, o, why);    /* logged there */
        tern_log(os, TERN_LOG_ERROR, "tls", "%s", why[0] ? why : tern_result_name(r));
        return r;
    }
    r = tern_https_tcp_start(&l->listener, &o->services->opts.network->tcp, &o->services->srv,
                             &l->tls, p->port, l->slots, TERN_BOOT_HTTPS_CONNS);
    if (r != TERN_OK) {
        tern_log(os, TERN_LOG_ERROR, "tls", "cannot listen on port %u: %s", p->port,
                 tern_result_name(r));
        tern_tls_server_finish(&l->tls);
        tern_free(os, l);
        return r;
    }
    tern_snprintf(l->endpoint, sizeof l->endpoint, "%s", p->ep ? p->ep->name : "");
    tern_snprintf(l->from, sizeof l->from, "%s", o->given ? o->given->origin : "manifest");
    h->l[h->count++] = l;
    if (o->given)
        tern_log(os, TERN_LOG_INFO, "tls", "https on port %u (certificate and key from %s)",
                 p->port, o->given->origin);
    else
        tern_log(os, TERN_LOG_INFO, "tls",
                 "https on port %u (certificate and key from %s, %s of %s: endpoint %s)", p->port,
                 p->ep->cert, p->ep->key, o->source ? o->source : "the workload", p->ep->name);
    return TERN_OK;
}

/* "https" in /status, then what the provider before ours says. */
static size_t https_status(void *arg, char *buf, size_t cap)
{
    const struct tern_boot_https *h = arg;
    size_t n = tern_snprintf(buf, cap, "\"https\":[");
    for (unsigned i = 0; i < h->count && n < cap; i++) {
        const struct tern_boot_https_listener *l = h->l[i];
        const struct tern_tls_stats *s = &l->tls.stats;
        n += tern_snprintf(buf + n, cap - n,
                           "%s{\"port\":%u,\"endpoint\":%s%s%s,\"from\":\"%s\",\"handshakes\":%llu,"
                           "\"handshake_failures\":%llu,\"resumed\":%llu}",
                           i ? "," : "", l->listener.port, l->endpoint[0] ? "\"" : "",
                           l->endpoint[0] ? l->endpoint : "null", l->endpoint[0] ? "\"" : "",
                           l->from,
                           (unsigned long long)s->handshakes,
                           (unsigned long long)s->handshake_failures,
                           (unsigned long long)s->resumed);
    }
    if (n < cap)
        n += tern_snprintf(buf + n, cap - n, "]");
    if (n < cap)
        n = tern_http_status_append(buf, n, cap, 0, h->more, h->more_arg);
    return n < cap ? n : 0;
}

static void hook_status(struct tern_boot_https *h, struct tern_services *s)
{
    h->more = s->status.more;
    h->more_arg = s->status.more_arg;
    s->status.more = https_status;
    s->status.more_arg = h;
    h->status_hooked = true;
}

/* Says which certificate each endpoint gets when a given pair overrides
 * the manifest's (the resolved configuration). */
static void log_override(struct tern_os *os, const struct tern_boot_https_opts *o,
                         const struct plan *p, unsigned n)
{
    for (unsigned i = 0; o->given && i < n; i++)
        if (p[i].ep)
            tern_log(os, TERN_LOG_INFO, "tls",
                     "endpoint %s: the certificate and key from %s apply over the manifest's "
                     "%s, %s", p[i].ep->name, o->given->origin, p[i].ep->cert, p[i].ep->key);
}

tern_result tern_boot_https_start(struct tern_boot_https *h, struct tern_os *os,
                                  const struct tern_boot_https_opts *o)
{
    memset(h, 0, sizeof *h);
    h->os = os;
    h->services = o->services;
    struct plan plans[TERN_BOOT_HTTPS_MAX];
    unsigned n = make_plans(o, plans);
    if (n > 0 && o->services == NULL && plans[0].ep == NULL) {
        tern_log(os, TERN_LOG_WARN, "tls", "no HTTP service: HTTPS off");
        return TERN_OK;
    }
    if (n > 0 && o->services == NULL) {
        char why[120];
        tern_snprintf(why, sizeof why, "endpoint %s: https needs the OS's HTTP service (off)",
                      plans[0].ep->name);
        return refuse_app(h, o, why);
    }
    if (o->services)
        hook_status(h, o->services);
    if (n == 0) {
        tern_log(os, TERN_LOG_INFO, "tls",
                 "no certificate given and no https endpoint in the manifest: HTTPS off");
        return TERN_OK;
    }
    log_override(os, o, plans, n);
    /* The gate: the known answers before any key is used. */
    if (!o->selftest_passed && tern_tls_selftest(os, NULL, 0, NULL, 0,
                                                 "server set up from the certificate and key "
                                                 "next") != TERN_OK) {
        tern_boot_https_stop(h);
        return TERN_EIO;
    }
    for (unsigned i = 0; i < n; i++) {
        tern_result r = start_one(h, o, &plans[i]);
        if (r != TERN_OK) {
            tern_boot_https_stop(h);          /* nothing half-started */
            return r;
        }
        size_t len = strlen(h->ports);
        tern_snprintf(h->ports + len, sizeof h->ports - len, "%s%u", len ? "," : "",
                      plans[i].port);
    }
    return TERN_OK;
}

const char *tern_boot_https_ports(const struct tern_boot_https *h)
{
    return h ? h->ports : "";
}

void tern_boot_https_stop(struct tern_boot_https *h)
{
    for (unsigned i = 0; i < h->count; i++) {
        tern_https_tcp_stop(&h->l[i]->listener);
        tern_tls_server_finish(&h->l[i]->tls);
        tern_free(h->os, h->l[i]);
        h->l[i] = NULL;
    }
    h->count = 0;
    h->ports[0] = '\0';
    if (h->status_hooked) {
        h->services->status.more = h->more;
        h->services->status.more_arg = h->more_arg;
        h->status_hooked = false;
    }
}
