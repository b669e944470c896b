/*
 * Interface: see manifest_priv.h (mf_read_*). One reader per section of
 * the schema below the top level (docs/manifest.md); each gets its value
 * with the context's path naming it and writes into the manifest.
 * Checks that span fields of one object run after its walk, so key order
 * never matters.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "manifest_priv.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- app ---- */

static tern_result read_app_path(struct mf_ctx *c, const cJSON *v, void *t)
{
    struct tern_manifest *m = t;
    return mf_string(c, v, mf_check_relpath, m->app_path, sizeof(m->app_path),
                     "expected a relative path of at most 127 characters "
                     "([A-Za-z0-9._+@-] parts, no \".\" or \"..\")");
}

static tern_result read_app_args(struct mf_ctx *c, const cJSON *v, void *t)
{
    struct tern_manifest *m = t;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > TERN_MANIFEST_ARGS_MAX)
        return mf_fail(c, "expected an array of at most 16 strings");
    int i = 0;
    for (const cJSON *a = v->child; a != NULL; a = a->next, i++) {
        size_t mark = mf_push_index(c, i);
        tern_result r = mf_string(c, a, NULL, m->args[i], sizeof(m->args[i]),
                                  "expected a string of at most 127 bytes");
        if (r != TERN_OK)
            return r;
        mf_pop(c, mark);
    }
    m->args_count = (uint8_t)i;
    return TERN_OK;
}

static tern_result read_app_env(struct mf_ctx *c, const cJSON *v, void *t)
{
    struct tern_manifest *m = t;
    if (!cJSON_IsObject(v) || cJSON_GetArraySize(v) > TERN_MANIFEST_ENV_MAX)
        return mf_fail(c, "expected an object of at most 32 variables");
    int i = 0;
    for (const cJSON *e = v->child; e != NULL; e = e->next, i++) {
        size_t mark = mf_push_key(c, e->string);
        /* Names are keys: the duplicate check is the object walk's, here
         * by hand since the set of names is open. */
        for (const cJSON *o = v->child; o != e; o = o->next)
            if (strcmp(o->string, e->string) == 0)
                return mf_fail(c, "duplicate key");
        if (!mf_check_env_name(e->string))
            return mf_fail(c, MF_MSG_ENV_NAME);
        memcpy(m->env[i].name, e->string, strlen(e->string) + 1);
        tern_result r = mf_string(c, e, NULL, m->env[i].value, sizeof(m->env[i].value),
                                  MF_MSG_ENV_VALUE);
        if (r != TERN_OK)
            return r;
        mf_pop(c, mark);
    }
    m->env_count = (uint8_t)i;
    return TERN_OK;
}

tern_result mf_read_app(struct mf_ctx *c, const cJSON *v, void *m)
{
    static const struct mf_field fields[] = {
        { "path", true, read_app_path },
        { "args", false, read_app_args },
        { "env", false, read_app_env },
    };
    tern_result r = mf_expect_object(c, v);
    return r != TERN_OK ? r : mf_object(c, v, fields, COUNT(fields), m);
}

/* ---- endpoints ---- */

static const char *const proto_names[] = { "http", "https", "tcp", "udp" };

static tern_result read_ep_name(struct mf_ctx *c, const cJSON *v, void *t)
{
    struct tern_manifest_endpoint *ep = t;
    return mf_string(c, v, mf_check_endpoint_name, ep->name, sizeof(ep->name),
                     MF_MSG_ENDPOINT_NAME);
}

static tern_result read_ep_proto(struct mf_ctx *c, const cJSON *v, void *t)
{
    struct tern_manifest_endpoint *ep = t;
    unsigned p;
    tern_result r = mf_enum(c, v, proto_names, COUNT(proto_names), &p);
    ep->proto = (enum tern_manifest_proto)p;
    return r;
}

static tern_result read_ep_port(struct mf_ctx *c, const cJSON *v, void *t)
{
    struct tern_manifest_endpoint *ep = t;
    uint32_t port;
    tern_result r = mf_int(c, v, 1, 65535, &port);
    ep->port = (uint16_t)port;
    return r;
}

#define MF_MSG_FILE "expected a relative path of at most 127 characters"

static tern_result read_ep_cert(struct mf_ctx *c, const cJSON *v, void *t)
{
    struct tern_manifest_endpoint *ep = t;
    return mf_string(c, v, mf_check_relpath, ep->cert, sizeof(ep->cert), MF_MSG_FILE);
}

static tern_result read_ep_key(struct mf_ctx *c, const cJSON *v, void *t)
{
    struct tern_manifest_endpoint *ep = t;
    return mf_string(c, v, mf_check_relpath, ep->key, sizeof(ep->key), MF_MSG_FILE);
}

const char *mf_proto_family(enum tern_manifest_proto proto)
{
    return proto == TERN_MANIFEST_UDP ? "udp" : "tcp";
}

int mf_endpoint_port_clash(const struct tern_manifest *m, enum tern_manifest_proto proto,
                           uint16_t port, int skip)
{
    for (int i = 0; i < m->endpoints_count; i++) {
        const struct tern_manifest_endpoint *o = &m->endpoints[i];
        if (i != skip && o->port == port &&
            strcmp(mf_proto_family(o->proto), mf_proto_family(proto)) == 0)
            return i;
    }
    return -1;
}

/* https needs cert and key, the others take neither; names and
 * (family, port) are unique among endpoints[0..i]. */
static tern_result check_endpoint(struct mf_ctx *c, const struct tern_manifest *m, int i)
{
    const struct tern_manifest_endpoint *ep = &m->endpoints[i];
    bool https = ep->proto == TERN_MANIFEST_HTTPS;
    const char *file_keys[2] = { "cert", "key" };
    const char *files[2] = { ep->cert, ep->key };
    for (int k = 0; k < 2; k++) {
        if (https && files[k][0] == '\0') {
            mf_push_key(c, file_keys[k]);
            return mf_fail(c, "required key missing (proto \"https\")");
        }
        if (!https && files[k][0] != '\0') {
            mf_push_key(c, file_keys[k]);
            return mf_fail(c, "only allowed with proto \"https\"");
        }
    }
    for (int j = 0; j < i; j++) {
        if (strcmp(m->endpoints[j].name, ep->name) == 0) {
            mf_push_key(c, "name");
            return mf_fail(c, "endpoint name \"%s\" already used by endpoints[%d]", ep->name, j);
        }
    }
    int clash = mf_endpoint_port_clash(m, ep->proto, ep->port, i);
    if (clash >= 0 && clash < i) {
        mf_push_key(c, "port");
        return mf_fail(c, "port %u/%s already used by endpoint \"%s\"", (unsigned)ep->port,
                       mf_proto_family(ep->proto), m->endpoints[clash].name);
    }
    return TERN_OK;
}

tern_result mf_read_endpoints(struct mf_ctx *c, const cJSON *v, void *t)
{
    static const struct mf_field fields[] = {
        { "name", true, read_ep_name },
        { "proto", true, read_ep_proto },
        { "port", true, read_ep_port },
        { "cert", false, read_ep_cert },
        { "key", false, read_ep_key },
    };
    struct tern_manifest *m = t;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > TERN_MANIFEST_ENDPOINTS_MAX)
        return mf_fail(c, "expected an array of at most 8 endpoints");
    int i = 0;
    for (const cJSON *e = v->child; e != NULL; e = e->next, i++) {
        size_t mark = mf_push_index(c, i);
        struct tern_manifest_endpoint *ep = &m->endpoints[i];
        memset(ep, 0, sizeof(*ep));
        tern_result r = mf_expect_object(c, e);
        if (r == TERN_OK)
            r = mf_object(c, e, fields, COUNT(fields), ep);
        m->endpoints_count = (uint8_t)(i + 1);
        if (r == TERN_OK)
            r = check_endpoint(c, m, i);
        if (r != TERN_OK)
            return r;
        mf_pop(c, mark);
    }
    m->endpoints_count = (uint8_t)i;
    return TERN_OK;
}

/* ---- network ---- */

static const char *const net_mode_names[] = { "dhcp", "static" };

/* Which keys a network object had (for the checks across its fields). */
struct net_target {
    struct tern_manifest_network *net;
    bool has_address, has_gateway, has_dns;
};

static tern_result read_net_mode(struct mf_ctx *c, const cJSON *v, void *t)
{
    struct net_target *nt = t;
    unsigned mode;
    tern_result r = mf_enum(c, v, net_mode_names, COUNT(net_mode_names), &mode);
    nt->net->mode = (enum tern_manifest_net_mode)mode;
    return r;
}

static tern_result read_net_address(struct mf_ctx *c, const cJSON *v, void *t)
{
    struct net_target *nt = t;
    nt->has_address = true;
    if (!cJSON_IsString(v) ||
        !mf_parse_cidr(v->valuestring, &nt->net->address, &nt->net->prefix_len))
        return mf_fail(c, MF_MSG_CIDR);
    return TERN_OK;
}

static tern_result read_net_gateway(struct mf_ctx *c, const cJSON *v, void *t)
{
    struct net_target *nt = t;
    nt->has_gateway = true;
    if (!cJSON_IsString(v) || !mf_parse_ipv4(v->valuestring, &nt->net->gateway))
        return mf_fail(c, MF_MSG_IPV4);
    return TERN_OK;
}

static tern_result read_net_dns(struct mf_ctx *c, const cJSON *v, void *t)
{
    struct net_target *nt = t;
    nt->has_dns = true;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > TERN_MANIFEST_DNS_MAX)
        return mf_fail(c, "expected an array of at most 3 IPv4 addresses");
    int i = 0;
    for (const cJSON *a = v->child; a != NULL; a = a->next, i++) {
        size_t mark = mf_push_index(c, i);
        if (!cJSON_IsString(a) || !mf_parse_ipv4(a->valuestring, &nt->net->dns[i]))
            return mf_fail(c, MF_MSG_IPV4);
        mf_pop(c, mark);
    }
    nt->net->dns_count = (uint8_t)i;
    return TERN_OK;
}

static tern_result read_net_hostname(struct mf_ctx *c, const cJSON *v, void *t)
{
    struct net_target *nt = t;
    return mf_string(c, v, mf_check_hostname, nt->net->hostname, sizeof(nt->net->hostname),
                     MF_MSG_HOSTNAME);
}

tern_result mf_read_network(struct mf_ctx *c, const cJSON *v, void *t)
{
    static const struct mf_field fields[] = {
        { "mode", true, read_net_mode },
        { "address", false, read_net_address },
        { "gateway", false, read_net_gateway },
        { "dns", false, read_net_dns },
        { "hostname", false, read_net_hostname },
    };
    struct tern_manifest *m = t;
    struct net_target nt = { .net = &m->network };
    tern_result r = mf_expect_object(c, v);
    if (r == TERN_OK)
        r = mf_object(c, v, fields, COUNT(fields), &nt);
    if (r != TERN_OK)
        return r;
    if (m->network.mode == TERN_MANIFEST_NET_STATIC && !nt.has_address) {
        mf_push_key(c, "address");
        return mf_fail(c, "required key missing (mode \"static\")");
    }
    if (m->network.mode == TERN_MANIFEST_NET_DHCP) {
        const char *extra = nt.has_address ? "address" :
                            nt.has_gateway ? "gateway" :
                            nt.has_dns     ? "dns" : NULL;
        if (extra != NULL) {
            mf_push_key(c, extra);
            return mf_fail(c, "only allowed with mode \"static\"");
        }
    }
    return TERN_OK;
}

/* ---- mounts ---- */

static tern_result read_mount_volume(struct mf_ctx *c, const cJSON *v, void *t)
{
    static const char *const volumes[] = { "data", "boot" };
    struct tern_manifest_mount *mt = t;
    unsigned i;
    tern_result r = mf_enum(c, v, volumes, COUNT(volumes), &i);
    if (r == TERN_OK)
        memcpy(mt->volume, volumes[i], strlen(volumes[i]) + 1);
    return r;
}

static tern_result read_mount_path(struct mf_ctx *c, const cJSON *v, void *t)
{
    struct tern_manifest_mount *mt = t;
    return mf_string(c, v, mf_check_abspath, mt->path, sizeof(mt->path),
                     "expected an absolute path of at most 127 characters "
                     "([A-Za-z0-9._+@-] parts, no \".\" or \"..\")");
}

static tern_result read_mount_ro(struct mf_ctx *c, const cJSON *v, void *t)
{
    struct tern_manifest_mount *mt = t;
    return mf_bool(c, v, &mt->read_only);
}

static tern_result check_mount(struct mf_ctx *c, const struct tern_manifest *m, int i)
{
    const struct tern_manifest_mount *mt = &m->mounts[i];
    for (int j = 0; j < i; j++) {
        if (strcmp(m->mounts[j].volume, mt->volume) == 0) {
            mf_push_key(c, "volume");
            return mf_fail(c, "volume \"%s\" already mounted by mounts[%d]", mt->volume, j);
        }
        if (strcmp(m->mounts[j].path, mt->path) == 0) {
            mf_push_key(c, "path");
            return mf_fail(c, "path \"%s\" already used by mounts[%d]", mt->path, j);
        }
    }
    return TERN_OK;
}

tern_result mf_read_mounts(struct mf_ctx *c, const cJSON *v, void *t)
{
    static const struct mf_field fields[] = {
        { "volume", true, read_mount_volume },
        { "path", true, read_mount_path },
        { "read_only", false, read_mount_ro },
    };
    struct tern_manifest *m = t;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > TERN_MANIFEST_MOUNTS_MAX)
        return mf_fail(c, "expected an array of at most 4 mounts");
    int i = 0;
    for (const cJSON *e = v->child; e != NULL; e = e->next, i++) {
        size_t mark = mf_push_index(c, i);
        memset(&m->mounts[i], 0, sizeof(m->mounts[i]));
        tern_result r = mf_expect_object(c, e);
        if (r == TERN_OK)
            r = mf_object(c, e, fields, COUNT(fields), &m->mounts[i]);
        if (r == TERN_OK)
            r = check_mount(c, m, i);
        if (r != TERN_OK)
            return r;
        mf_pop(c, mark);
    }
    m->mounts_count = (uint8_t)i;
    return TERN_OK;
}

/* ---- resources ---- */

static tern_result read_memory(struct mf_ctx *c, const cJSON *v, void *t)
{
    return mf_int(c, v, 1, 4096, &((struct tern_manifest_resources *)t)->memory_mib);
}

static tern_result read_threads(struct mf_ctx *c, const cJSON *v, void *t)
{
    return mf_int(c, v, 1, 256, &((struct tern_manifest_resources *)t)->threads);
}

static tern_result read_stack(struct mf_ctx *c, const cJSON *v, void *t)
{
    return mf_int(c, v, 128, 8192, &((struct tern_manifest_resources *)t)->stack_kib);
}

static tern_result read_tcp_conns(struct mf_ctx *c, const cJSON *v, void *t)
{
    return mf_int(c, v, 1, 65535, &((struct tern_manifest_resources *)t)->tcp_connections);
}

tern_result mf_read_resources(struct mf_ctx *c, const cJSON *v, void *t)
{
    static const struct mf_field fields[] = {
        { "memory_mib", false, read_memory },
        { "threads", false, read_threads },
        { "stack_kib", false, read_stack },
        { "tcp_connections", false, read_tcp_conns },
    };
    struct tern_manifest *m = t;
    tern_result r = mf_expect_object(c, v);
    return r != TERN_OK ? r : mf_object(c, v, fields, COUNT(fields), &m->resources);
}

/* ---- overridable ---- */

tern_result mf_read_overridable(struct mf_ctx *c, const cJSON *v, void *t)
{
    static const char *const names[] = { "ports", "env", "log_level", "network" };
    struct tern_manifest *m = t;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > (int)COUNT(names))
        return mf_fail(c, "expected an array of at most 4 strings");
    m->overridable = 0;
    int i = 0;
    for (const cJSON *e = v->child; e != NULL; e = e->next, i++) {
        size_t mark = mf_push_index(c, i);
        unsigned bit;
        tern_result r = mf_enum(c, e, names, COUNT(names), &bit);
        if (r != TERN_OK)
            return r;
        if (m->overridable & (1u << bit))
            return mf_fail(c, "duplicate entry \"%s\"", names[bit]);
        m->overridable |= 1u << bit;
        mf_pop(c, mark);
    }
    return TERN_OK;
}
