/*
 * Interface: see manifest_priv.h (mf_read_health, mf_check_health_port).
 * "health" is the string "none" or an object with exactly one of "http"
 * (a path, with "port") or "tcp" (a port), and optional timing.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "manifest_priv.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

struct health_target {
    struct tern_manifest_health *h;
    bool has_http, has_tcp, has_port;
};

static tern_result read_http(struct mf_ctx *c, const cJSON *v, void *t)
{
    struct health_target *ht = t;
    ht->has_http = true;
    ht->h->kind = TERN_MANIFEST_HEALTH_HTTP;
    return mf_string(c, v, mf_check_http_path, ht->h->http_path, sizeof(ht->h->http_path),
                     "expected a path starting with \"/\" of at most 127 visible ASCII characters");
}

static tern_result read_port(struct mf_ctx *c, const cJSON *v, void *t, bool tcp)
{
    struct health_target *ht = t;
    uint32_t port;
    tern_result r = mf_int(c, v, 1, 65535, &port);
    ht->h->port = (uint16_t)port;
    if (tcp) {
        ht->has_tcp = true;
        ht->h->kind = TERN_MANIFEST_HEALTH_TCP;
    } else {
        ht->has_port = true;
    }
    return r;
}

static tern_result read_tcp(struct mf_ctx *c, const cJSON *v, void *t)
{
    return read_port(c, v, t, true);
}

static tern_result read_http_port(struct mf_ctx *c, const cJSON *v, void *t)
{
    return read_port(c, v, t, false);
}

static tern_result read_interval(struct mf_ctx *c, const cJSON *v, void *t)
{
    return mf_int(c, v, 10, 600000, &((struct health_target *)t)->h->interval_ms);
}

static tern_result read_deadline(struct mf_ctx *c, const cJSON *v, void *t)
{
    return mf_int(c, v, 100, 3600000, &((struct health_target *)t)->h->deadline_ms);
}

static tern_result read_failures(struct mf_ctx *c, const cJSON *v, void *t)
{
    return mf_int(c, v, 1, 100, &((struct health_target *)t)->h->failures);
}

/* Exactly one of http and tcp; port with http only, and needed there. */
static tern_result check_kind(struct mf_ctx *c, const struct health_target *ht)
{
    if (!ht->has_http && !ht->has_tcp)
        return mf_fail(c, "expected one of the keys \"http\" or \"tcp\"");
    if (ht->has_http && ht->has_tcp) {
        mf_push_key(c, "tcp");
        return mf_fail(c, "not allowed with \"http\"");
    }
    if (ht->has_tcp && ht->has_port) {
        mf_push_key(c, "port");
        return mf_fail(c, "only allowed with \"http\"");
    }
    if (ht->has_http && !ht->has_port) {
        mf_push_key(c, "port");
        return mf_fail(c, "required key missing (with \"http\")");
    }
    return TERN_OK;
}

tern_result mf_read_health(struct mf_ctx *c, const cJSON *v, void *t)
{
    static const struct mf_field fields[] = {
        { "http", false, read_http },
        { "tcp", false, read_tcp },
        { "port", false, read_http_port },
        { "interval_ms", false, read_interval },
        { "deadline_ms", false, read_deadline },
        { "failures", false, read_failures },
    };
    struct tern_manifest *m = t;
    if (cJSON_IsString(v) && strcmp(v->valuestring, "none") == 0) {
        m->health.kind = TERN_MANIFEST_HEALTH_NONE;
        return TERN_OK;
    }
    if (!cJSON_IsObject(v))
        return mf_fail(c, "expected \"none\" or an object");
    struct health_target ht = { .h = &m->health };
    tern_result r = mf_object(c, v, fields, COUNT(fields), &ht);
    return r != TERN_OK ? r : check_kind(c, &ht);
}

tern_result mf_check_health_port(struct mf_ctx *c, const struct tern_manifest *m)
{
    const struct tern_manifest_health *h = &m->health;
    if (h->kind == TERN_MANIFEST_HEALTH_NONE)
        return TERN_OK;
    bool http = h->kind == TERN_MANIFEST_HEALTH_HTTP;
    for (int i = 0; i < m->endpoints_count; i++) {
        const struct tern_manifest_endpoint *ep = &m->endpoints[i];
        if (ep->port != h->port)
            continue;
        if (http ? ep->proto == TERN_MANIFEST_HTTP : ep->proto != TERN_MANIFEST_UDP)
            return TERN_OK;
    }
    mf_push_key(c, "health");
    mf_push_key(c, http ? "port" : "tcp");
    return mf_fail(c, http ? "no http endpoint on port %u" : "no tcp, http or https endpoint on port %u",
                   (unsigned)h->port);
}
