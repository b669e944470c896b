/*
 * Interface: see tern/manifest.h. tern_manifest_parse runs the strict
 * syntax check (scan.c), lets cJSON build a tree of the checked bytes,
 * walks it against the schema (walk.c, sections.c, health.c) and frees
 * the tree before it returns, whatever the outcome. cJSON's allocator is
 * the process's malloc (libc on Linux, the metal libc glue on metal);
 * core never installs cJSON hooks (they would be process-global state).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/fmt.h"

#include "manifest_priv.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *const mf_log_level_names[4] = { "debug", "info", "warn", "error" };
static const char *const restart_names[] = { "never", "on-failure", "always" };

static tern_result read_schema(struct mf_ctx *c, const cJSON *v, void *t)
{
    (void)t;
    uint32_t version;
    if (mf_int(c, v, TERN_MANIFEST_SCHEMA_VERSION, TERN_MANIFEST_SCHEMA_VERSION, &version) !=
        TERN_OK)
        return mf_fail(c, "expected the integer 1 (the schema version)");
    return TERN_OK;
}

static tern_result read_name(struct mf_ctx *c, const cJSON *v, void *t)
{
    struct tern_manifest *m = t;
    return mf_string(c, v, mf_check_app_name, m->name, sizeof(m->name), MF_MSG_APP_NAME);
}

static tern_result read_version(struct mf_ctx *c, const cJSON *v, void *t)
{
    struct tern_manifest *m = t;
    return mf_string(c, v, mf_check_version, m->version, sizeof(m->version),
                     "expected a version x.y.z[-pre][+build] of at most 31 characters");
}

static tern_result read_log_level(struct mf_ctx *c, const cJSON *v, void *t)
{
    struct tern_manifest *m = t;
    unsigned level;
    tern_result r = mf_enum(c, v, mf_log_level_names, COUNT(mf_log_level_names), &level);
    m->log_level = (enum tern_manifest_log_level)level;
    return r;
}

static tern_result read_restart(struct mf_ctx *c, const cJSON *v, void *t)
{
    struct tern_manifest *m = t;
    unsigned restart;
    tern_result r = mf_enum(c, v, restart_names, COUNT(restart_names), &restart);
    m->restart = (enum tern_manifest_restart)restart;
    return r;
}

static const struct mf_field top_fields[] = {
    { "tern_manifest", true, read_schema },
    { "name", true, read_name },
    { "version", true, read_version },
    { "app", true, mf_read_app },
    { "endpoints", false, mf_read_endpoints },
    { "network", false, mf_read_network },
    { "mounts", false, mf_read_mounts },
    { "resources", false, mf_read_resources },
    { "health", false, mf_read_health },
    { "update", false, mf_read_update },
    { "log_level", false, read_log_level },
    { "restart", false, read_restart },
    { "overridable", false, mf_read_overridable },
};

/* What an absent optional field means. */
static void set_defaults(struct tern_manifest *m)
{
    memset(m, 0, sizeof(*m));
    m->network.mode = TERN_MANIFEST_NET_DHCP;
    m->resources.memory_mib = 16;
    m->resources.threads = 16;
    m->resources.stack_kib = 256;
    m->resources.tcp_connections = 0;   /* the OS's default pool */
    m->health.kind = TERN_MANIFEST_HEALTH_NONE;
    m->health.interval_ms = 1000;
    m->health.deadline_ms = 10000;
    m->health.failures = 3;
    m->log_level = TERN_MANIFEST_LOG_INFO;
    m->restart = TERN_MANIFEST_RESTART_ON_FAILURE;
    m->overridable = TERN_MANIFEST_OVR_PORTS | TERN_MANIFEST_OVR_ENV | TERN_MANIFEST_OVR_LOG_LEVEL;
}

static tern_result check_document(const cJSON *root, struct tern_manifest *m,
                                  struct tern_manifest_error *err)
{
    struct mf_ctx c;
    mf_init(&c, err);
    tern_result r = mf_expect_object(&c, root);
    if (r == TERN_OK)
        r = mf_object(&c, root, top_fields, COUNT(top_fields), m);
    if (r == TERN_OK)
        r = mf_check_health_port(&c, m);
    return r;
}

tern_result tern_manifest_parse(const char *json, size_t len, struct tern_manifest *out,
                                struct tern_manifest_error *err)
{
    memset(err, 0, sizeof(*err));
    tern_result r = mf_scan(json, len, err);
    if (r != TERN_OK)
        return r;
    set_defaults(out);
    /* The scan guarantees JSON that cJSON accepts, so NULL here is cJSON
     * running out of memory. */
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (root == NULL) {
        tern_snprintf(err->path, sizeof(err->path), "$");
        tern_snprintf(err->msg, sizeof(err->msg), "out of memory while parsing");
        return TERN_ENOMEM;
    }
    r = check_document(root, out, err);
    cJSON_Delete(root);
    return r;
}

void tern_manifest_default(struct tern_manifest *m)
{
    set_defaults(m);
    memcpy(m->name, "hello", sizeof("hello"));
    memcpy(m->version, "1.0.0", sizeof("1.0.0"));
    memcpy(m->app_path, "hello.elf", sizeof("hello.elf"));
    memcpy(m->env[0].name, "GREETING", sizeof("GREETING"));
    memcpy(m->env[0].value, "Hello from Tern", sizeof("Hello from Tern"));
    m->env_count = 1;
    memcpy(m->endpoints[0].name, "web", sizeof("web"));
    m->endpoints[0].proto = TERN_MANIFEST_HTTP;
    m->endpoints[0].port = 80;
    m->endpoints_count = 1;
    m->health.kind = TERN_MANIFEST_HEALTH_HTTP;
    memcpy(m->health.http_path, "/healthz", sizeof("/healthz"));
    m->health.port = 80;
    m->resources.memory_mib = 1;     /* hello needs a few KiB: the least memory that serves stays low */
    m->resources.threads = 1;
}

const char *tern_manifest_env(const struct tern_manifest *m, const char *name)
{
    for (int i = 0; i < m->env_count; i++)
        if (strcmp(m->env[i].name, name) == 0)
            return m->env[i].value;
    return NULL;
}

const struct tern_manifest_endpoint *tern_manifest_endpoint(const struct tern_manifest *m,
                                                            const char *name)
{
    for (int i = 0; i < m->endpoints_count; i++)
        if (strcmp(m->endpoints[i].name, name) == 0)
            return &m->endpoints[i];
    return NULL;
}

const char *tern_manifest_proto_name(enum tern_manifest_proto p)
{
    static const char *const names[] = { "http", "https", "tcp", "udp" };
    return (unsigned)p < COUNT(names) ? names[p] : "?";
}

const char *tern_manifest_log_level_name(enum tern_manifest_log_level l)
{
    return (unsigned)l < COUNT(mf_log_level_names) ? mf_log_level_names[l] : "?";
}

const char *tern_manifest_restart_name(enum tern_manifest_restart r)
{
    return (unsigned)r < COUNT(restart_names) ? restart_names[r] : "?";
}
