/*
 * Interface: see tern/manifest.h (tern_manifest_override). Each key has
 * one applier that checks the value in full before it writes anything,
 * so a refused override leaves the manifest as it was.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/fmt.h"

#include "manifest_priv.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define KEY_MAX 64

struct override {
    struct tern_manifest *m;
    struct mf_ctx c;        /* path: the key as given */
    char key[KEY_MAX + 1];
    const char *value;
};

static tern_result set_log_level(struct override *o)
{
    for (unsigned i = 0; i < COUNT(mf_log_level_names); i++) {
        if (strcmp(o->value, mf_log_level_names[i]) == 0) {
            o->m->log_level = (enum tern_manifest_log_level)i;
            return TERN_OK;
        }
    }
    return mf_fail(&o->c, MF_MSG_LOG_LEVEL);
}

static tern_result set_env(struct override *o, const char *name)
{
    struct tern_manifest *m = o->m;
    if (!mf_check_env_name(name))
        return mf_fail(&o->c, MF_MSG_ENV_NAME);
    size_t n = strlen(o->value);
    if (n > TERN_MANIFEST_ENV_VALUE_MAX || !mf_utf8_valid((const uint8_t *)o->value, n))
        return mf_fail(&o->c, "expected a UTF-8 value of at most 255 bytes");
    int i = 0;
    while (i < m->env_count && strcmp(m->env[i].name, name) != 0)
        i++;
    if (i == m->env_count) {
        if (m->env_count == TERN_MANIFEST_ENV_MAX)
            return mf_fail(&o->c, "expected at most 32 variables in all");
        memcpy(m->env[i].name, name, strlen(name) + 1);
        m->env_count++;
    }
    memcpy(m->env[i].value, o->value, n + 1);
    return TERN_OK;
}

/* "NAME.port": the endpoint's port; the health port follows it. */
static tern_result set_endpoint(struct override *o, const char *rest)
{
    struct tern_manifest *m = o->m;
    const char *dot = strchr(rest, '.');
    if (dot == NULL || strcmp(dot, ".port") != 0)
        return mf_fail(&o->c, "unknown key");
    char name[TERN_MANIFEST_NAME_MAX + 1];
    size_t n = (size_t)(dot - rest);
    if (n > TERN_MANIFEST_NAME_MAX)
        return mf_fail(&o->c, "no such endpoint");
    memcpy(name, rest, n);
    name[n] = '\0';
    const struct tern_manifest_endpoint *found = tern_manifest_endpoint(m, name);
    if (found == NULL)
        return mf_fail(&o->c, "no such endpoint");
    int i = (int)(found - m->endpoints);
    struct tern_manifest_endpoint *ep = &m->endpoints[i];
    uint16_t port;
    if (!mf_parse_port(o->value, &port))
        return mf_fail(&o->c, MF_MSG_PORT);
    int clash = mf_endpoint_port_clash(m, ep->proto, port, i);
    if (clash >= 0)
        return mf_fail(&o->c, "port %u/%s already used by endpoint \"%s\"", (unsigned)port,
                       mf_proto_family(ep->proto), m->endpoints[clash].name);
    bool health_follows = m->health.kind != TERN_MANIFEST_HEALTH_NONE &&
                          m->health.port == ep->port && ep->proto != TERN_MANIFEST_UDP;
    ep->port = port;
    if (health_follows)
        m->health.port = port;
    return TERN_OK;
}

/* "A.B.C.D,A.B.C.D" (1 to 3). */
static bool parse_dns_list(const char *s, uint32_t out[TERN_MANIFEST_DNS_MAX], uint8_t *count)
{
    uint8_t n = 0;
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        char text[16];
        if (n == TERN_MANIFEST_DNS_MAX || len == 0 || len >= sizeof(text))
            return false;
        memcpy(text, s, len);
        text[len] = '\0';
        if (!mf_parse_ipv4(text, &out[n++]))
            return false;
        if (comma == NULL)
            break;
        s = comma + 1;
    }
    *count = n;
    return true;
}

static tern_result set_network_mode(struct override *o)
{
    struct tern_manifest_network *net = &o->m->network;
    if (strcmp(o->value, "dhcp") == 0) {
        net->mode = TERN_MANIFEST_NET_DHCP;
        net->address = net->gateway = 0;
        net->prefix_len = 0;
        net->dns_count = 0;
        memset(net->dns, 0, sizeof(net->dns));
        return TERN_OK;
    }
    if (strcmp(o->value, "static") != 0)
        return mf_fail(&o->c, "expected one of \"dhcp\", \"static\"");
    if (net->mode != TERN_MANIFEST_NET_STATIC)
        return mf_fail(&o->c, "set network.address (which selects static) instead");
    return TERN_OK;
}

static tern_result set_network(struct override *o, const char *field)
{
    struct tern_manifest_network *net = &o->m->network;
    bool is_static = net->mode == TERN_MANIFEST_NET_STATIC;
    if (strcmp(field, "mode") == 0)
        return set_network_mode(o);
    if (strcmp(field, "address") == 0) {
        uint32_t addr;
        uint8_t prefix;
        if (!mf_parse_cidr(o->value, &addr, &prefix))
            return mf_fail(&o->c, MF_MSG_CIDR);
        net->mode = TERN_MANIFEST_NET_STATIC;
        net->address = addr;
        net->prefix_len = prefix;
        return TERN_OK;
    }
    if (strcmp(field, "hostname") == 0) {
        if (o->value[0] != '\0' && !mf_check_hostname(o->value))
            return mf_fail(&o->c, MF_MSG_HOSTNAME " or \"\"");
        memcpy(net->hostname, o->value, strlen(o->value) + 1);
        return TERN_OK;
    }
    bool gateway = strcmp(field, "gateway") == 0;
    if (!gateway && strcmp(field, "dns") != 0)
        return mf_fail(&o->c, "unknown key");
    if (!is_static)
        return mf_fail(&o->c, "only allowed with mode \"static\"");
    if (gateway)
        return mf_parse_ipv4(o->value, &net->gateway) ? TERN_OK : mf_fail(&o->c, MF_MSG_IPV4);
    uint32_t dns[TERN_MANIFEST_DNS_MAX];
    uint8_t count;
    if (!parse_dns_list(o->value, dns, &count))
        return mf_fail(&o->c, "expected 1 to 3 comma-separated IPv4 addresses");
    memcpy(net->dns, dns, sizeof(dns));
    net->dns_count = count;
    return TERN_OK;
}

/* The key's group: its overridable bit, or 0 for an unknown key. */
static uint32_t key_group(const char *key)
{
    if (strcmp(key, "log_level") == 0)
        return TERN_MANIFEST_OVR_LOG_LEVEL;
    if (strncmp(key, "env.", 4) == 0)
        return TERN_MANIFEST_OVR_ENV;
    if (strncmp(key, "endpoints.", 10) == 0)
        return TERN_MANIFEST_OVR_PORTS;
    if (strncmp(key, "network.", 8) == 0)
        return TERN_MANIFEST_OVR_NETWORK;
    return 0;
}

static tern_result apply(struct override *o)
{
    uint32_t group = key_group(o->key);
    if (group == 0)
        return mf_fail(&o->c, "unknown key");
    if (!(o->m->overridable & group))
        return mf_fail(&o->c, "not overridable");
    switch (group) {
    case TERN_MANIFEST_OVR_LOG_LEVEL: return set_log_level(o);
    case TERN_MANIFEST_OVR_ENV: return set_env(o, o->key + 4);
    case TERN_MANIFEST_OVR_PORTS: return set_endpoint(o, o->key + 10);
    default: return set_network(o, o->key + 8);
    }
}

tern_result tern_manifest_override(struct tern_manifest *m, const char *kv,
                                   struct tern_manifest_error *err)
{
    memset(err, 0, sizeof(*err));
    struct override o = { .m = m };
    mf_init(&o.c, err);
    const char *eq = strchr(kv, '=');
    size_t key_len = eq ? (size_t)(eq - kv) : strlen(kv);
    /* The path is the key as given (cut to fit), control bytes as '?'. */
    char shown[KEY_MAX + 1];
    size_t shown_len = key_len < KEY_MAX ? key_len : KEY_MAX;
    memcpy(shown, kv, shown_len);
    shown[shown_len] = '\0';
    mf_pop(&o.c, 0);
    mf_push_text(&o.c, shown);
    if (eq == NULL)
        return mf_fail(&o.c, "expected KEY=VALUE");
    if (key_len == 0 || key_len > KEY_MAX)
        return mf_fail(&o.c, "expected a key of 1 to 64 characters");
    memcpy(o.key, kv, key_len);
    o.key[key_len] = '\0';
    o.value = eq + 1;
    return apply(&o);
}
