/* libFuzzer harness: any bytes as a manifest, then (when accepted) each
 * line of the input as a runtime override. No crash, no leak, no read
 * past the input (libFuzzer's buffer is exact-size under ASan); an
 * accepted manifest must satisfy the invariants the PAL relies on. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tern/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_invariants(const struct tern_manifest *m)
{
    if (m->name[0] == '\0' || m->app_path[0] == '\0' || m->app_path[0] == '/' ||
        m->args_count > TERN_MANIFEST_ARGS_MAX || m->env_count > TERN_MANIFEST_ENV_MAX ||
        m->endpoints_count > TERN_MANIFEST_ENDPOINTS_MAX ||
        m->mounts_count > TERN_MANIFEST_MOUNTS_MAX || m->network.dns_count > TERN_MANIFEST_DNS_MAX)
        abort();
    for (int i = 0; i < m->endpoints_count; i++) {
        if (m->endpoints[i].port == 0 ||
            tern_manifest_endpoint(m, m->endpoints[i].name) != &m->endpoints[i])
            abort();
        if ((m->endpoints[i].proto == TERN_MANIFEST_HTTPS) != (m->endpoints[i].cert[0] != '\0'))
            abort();
    }
    if (m->health.kind != TERN_MANIFEST_HEALTH_NONE && m->health.port == 0)
        abort();
    if (m->network.mode == TERN_MANIFEST_NET_STATIC && m->network.address == 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tern_manifest m;
    struct tern_manifest_error err;
    tern_result r = tern_manifest_parse((const char *)data, size, &m, &err);
    if (r != TERN_OK) {
        if (r != TERN_EINVAL || err.path[0] != '$' || err.msg[0] == '\0' ||
            memchr(err.path, '\0', sizeof(err.path)) == NULL ||
            memchr(err.msg, '\0', sizeof(err.msg)) == NULL)
            abort();
        /* Not a manifest: try the bytes as overrides of the default. */
        tern_manifest_default(&m);
        m.overridable = ~0u;
    }
    check_invariants(&m);
    char line[512];
    size_t start = 0;
    for (size_t i = 0; i <= size && start < size; i++) {
        if (i < size && data[i] != '\n')
            continue;
        size_t n = i - start;
        if (n < sizeof(line) && memchr(data + start, 0, n) == NULL) {
            memcpy(line, data + start, n);
            line[n] = '\0';
            struct tern_manifest before = m;
            if (tern_manifest_override(&m, line, &err) != TERN_OK &&
                memcmp(&before, &m, sizeof(m)) != 0)
                abort(); /* a refused override changed the manifest */
            check_invariants(&m);
        }
        start = i + 1;
    }
    return 0;
}
