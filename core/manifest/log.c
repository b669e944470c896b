/*
 * Interface: see tern/manifest.h (tern_manifest_log). One INFO line per
 * group under the "manifest" tag; lists are joined into one line each
 * (tern_log cuts lines at TERN_LOG_LINE_MAX). Env values stay out of the
 * log: they may be secrets.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/fmt.h"
#include "tern/inet.h"
#include "tern/log.h"
#include "tern/os.h"

#include "manifest_priv.h"

#define LINE_MAX_BYTES TERN_LOG_LINE_MAX

static void log_app(struct tern_os *os, const struct tern_manifest *m)
{
    tern_log(os, TERN_LOG_INFO, "manifest", "app %s %s path=%s restart=%s log_level=%s", m->name,
             m->version, m->app_path, tern_manifest_restart_name(m->restart),
             tern_manifest_log_level_name(m->log_level));
    char line[LINE_MAX_BYTES];
    size_t used = 0;
    line[0] = '\0';
    for (int i = 0; i < m->args_count && used < sizeof(line); i++)
        used += tern_snprintf(line + used, sizeof(line) - used, " %s", m->args[i]);
    tern_log(os, TERN_LOG_INFO, "manifest", "args (%u):%s", (unsigned)m->args_count, line);
    used = 0;
    line[0] = '\0';
    for (int i = 0; i < m->env_count && used < sizeof(line); i++)
        used += tern_snprintf(line + used, sizeof(line) - used, " %s", m->env[i].name);
    tern_log(os, TERN_LOG_INFO, "manifest", "env (%u, values not logged):%s",
             (unsigned)m->env_count, line);
}

static void log_endpoints(struct tern_os *os, const struct tern_manifest *m)
{
    for (int i = 0; i < m->endpoints_count; i++) {
        const struct tern_manifest_endpoint *ep = &m->endpoints[i];
        if (ep->proto == TERN_MANIFEST_HTTPS)
            tern_log(os, TERN_LOG_INFO, "manifest", "endpoint %s https port=%u cert=%s key=%s",
                     ep->name, (unsigned)ep->port, ep->cert, ep->key);
        else
            tern_log(os, TERN_LOG_INFO, "manifest", "endpoint %s %s port=%u", ep->name,
                     tern_manifest_proto_name(ep->proto), (unsigned)ep->port);
    }
}

static void log_network(struct tern_os *os, const struct tern_manifest *m)
{
    const struct tern_manifest_network *net = &m->network;
    const char *hostname = net->hostname[0] ? net->hostname : "-";
    if (net->mode == TERN_MANIFEST_NET_DHCP) {
        tern_log(os, TERN_LOG_INFO, "manifest", "network dhcp hostname=%s", hostname);
        return;
    }
    char addr[16], gw[16], dns[TERN_MANIFEST_DNS_MAX][16];
    tern_ipv4_format(net->address, addr);
    tern_ipv4_format(net->gateway, gw);
    for (int i = 0; i < TERN_MANIFEST_DNS_MAX; i++)
        tern_ipv4_format(net->dns[i], dns[i]);
    tern_log(os, TERN_LOG_INFO, "manifest",
             "network static address=%s/%u gateway=%s dns=%s%s%s%s%s hostname=%s", addr,
             (unsigned)net->prefix_len, net->gateway ? gw : "-",
             net->dns_count > 0 ? dns[0] : "-", net->dns_count > 1 ? "," : "",
             net->dns_count > 1 ? dns[1] : "", net->dns_count > 2 ? "," : "",
             net->dns_count > 2 ? dns[2] : "", hostname);
}

static void log_rest(struct tern_os *os, const struct tern_manifest *m)
{
    for (int i = 0; i < m->mounts_count; i++)
        tern_log(os, TERN_LOG_INFO, "manifest", "mount %s at %s %s", m->mounts[i].volume,
                 m->mounts[i].path, m->mounts[i].read_only ? "ro" : "rw");
    const struct tern_manifest_resources *r = &m->resources;
    char conns[12] = "default";   /* absent: the OS's pool */
    if (r->tcp_connections)
        tern_snprintf(conns, sizeof conns, "%u", (unsigned)r->tcp_connections);
    tern_log(os, TERN_LOG_INFO, "manifest",
             "resources memory_mib=%u threads=%u stack_kib=%u tcp_connections=%s",
             (unsigned)r->memory_mib, (unsigned)r->threads, (unsigned)r->stack_kib, conns);
    const struct tern_manifest_health *h = &m->health;
    if (h->kind == TERN_MANIFEST_HEALTH_NONE)
        tern_log(os, TERN_LOG_INFO, "manifest", "health none");
    else
        tern_log(os, TERN_LOG_INFO, "manifest",
                 "health %s%s%s port=%u interval_ms=%u deadline_ms=%u failures=%u",
                 h->kind == TERN_MANIFEST_HEALTH_HTTP ? "http" : "tcp",
                 h->kind == TERN_MANIFEST_HEALTH_HTTP ? " " : "",
                 h->kind == TERN_MANIFEST_HEALTH_HTTP ? h->http_path : "", (unsigned)h->port,
                 (unsigned)h->interval_ms, (unsigned)h->deadline_ms, (unsigned)h->failures);
    if (m->update.enabled)
        tern_log(os, TERN_LOG_INFO, "manifest",
                 "update PUT %s token_sha256=%02x%02x%02x%02x... tries=%u", m->update.path,
                 m->update.token_sha256[0], m->update.token_sha256[1],
                 m->update.token_sha256[2], m->update.token_sha256[3],
                 (unsigned)(m->update.tries ? m->update.tries : 3));
    else
        tern_log(os, TERN_LOG_INFO, "manifest", "update off");
    tern_log(os, TERN_LOG_INFO, "manifest", "overridable%s%s%s%s%s",
             m->overridable ? "" : " none",
             m->overridable & TERN_MANIFEST_OVR_PORTS ? " ports" : "",
             m->overridable & TERN_MANIFEST_OVR_ENV ? " env" : "",
             m->overridable & TERN_MANIFEST_OVR_LOG_LEVEL ? " log_level" : "",
             m->overridable & TERN_MANIFEST_OVR_NETWORK ? " network" : "");
}

void tern_manifest_log(struct tern_os *os, const struct tern_manifest *m)
{
    log_app(os, m);
    log_endpoints(os, m);
    log_network(os, m);
    log_rest(os, m);
}
