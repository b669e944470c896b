/*
 * Interface: the workload manifest (schema version 1, docs/manifest.md).
 * The OS reads one JSON document that names the app to load and how to
 * serve it; tern_manifest_parse checks it whole and fills a flat,
 * fixed-size, caller-owned struct tern_manifest (no pointers into the
 * input, no heap once it returns). Runtime overrides ("KEY=VALUE" from the
 * command line or cloud metadata) then go through tern_manifest_override,
 * which applies only what the manifest marks overridable.
 *
 * Parsing is strict: anything the schema does not describe is refused
 * with a struct tern_manifest_error naming the JSON path ("$.endpoints[1]
 * .port") and what was expected. On refusal *out is unspecified: the
 * caller starts nothing. cJSON builds a transient tree during the call
 * (freed before it returns); its size is bounded by the input cap.
 */
#ifndef TERN_MANIFEST_H
#define TERN_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/result.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

struct tern_os;

#define TERN_MANIFEST_SCHEMA_VERSION 1
#define TERN_MANIFEST_MAX_BYTES (64 * 1024)
#define TERN_MANIFEST_MAX_DEPTH 16      /* containers nested (a syntax bound) */
#define TERN_MANIFEST_MAX_VALUES 1024   /* JSON values in one document */

/* Limits: character counts exclude the terminating NUL the fields keep. */
#define TERN_MANIFEST_NAME_MAX 32
#define TERN_MANIFEST_VERSION_MAX 31
#define TERN_MANIFEST_PATH_MAX 127
#define TERN_MANIFEST_ARGS_MAX 16
#define TERN_MANIFEST_ARG_MAX 127
#define TERN_MANIFEST_ENV_MAX 32
#define TERN_MANIFEST_ENV_NAME_MAX 32
#define TERN_MANIFEST_ENV_VALUE_MAX 255
#define TERN_MANIFEST_ENDPOINTS_MAX 8
#define TERN_MANIFEST_DNS_MAX 3
#define TERN_MANIFEST_HOSTNAME_MAX 63
#define TERN_MANIFEST_MOUNTS_MAX 4
#define TERN_MANIFEST_VOLUME_MAX 7

struct tern_manifest_error {
    char path[128];     /* "$" for the document, "$.app.env.HOME", "$.mounts[0]" */
    char msg[160];      /* what was expected, e.g. "expected an integer from 1 to 65535" */
};

enum tern_manifest_proto {
    TERN_MANIFEST_HTTP = 0,
    TERN_MANIFEST_HTTPS,
    TERN_MANIFEST_TCP,
    TERN_MANIFEST_UDP,
};

struct tern_manifest_endpoint {
    char name[TERN_MANIFEST_NAME_MAX + 1];          /* [a-z0-9_-]{1,32} */
    enum tern_manifest_proto proto;
    uint16_t port;                                  /* 1..65535 */
    char cert[TERN_MANIFEST_PATH_MAX + 1];          /* https only, else "" */
    char key[TERN_MANIFEST_PATH_MAX + 1];           /* https only, else "" */
};

struct tern_manifest_env {
    char name[TERN_MANIFEST_ENV_NAME_MAX + 1];
    char value[TERN_MANIFEST_ENV_VALUE_MAX + 1];
};

enum tern_manifest_net_mode {
    TERN_MANIFEST_NET_DHCP = 0,
    TERN_MANIFEST_NET_STATIC,
};

/* IPv4 addresses in host order (192.0.2.1 is 0xc0000201), as in inet.h. */
struct tern_manifest_network {
    enum tern_manifest_net_mode mode;
    uint32_t address;           /* static only */
    uint8_t prefix_len;         /* static only, 1..32 */
    uint32_t gateway;           /* static only; 0 = none */
    uint32_t dns[TERN_MANIFEST_DNS_MAX];
    uint8_t dns_count;          /* static only */
    char hostname[TERN_MANIFEST_HOSTNAME_MAX + 1];  /* "" = none (either mode) */
};

struct tern_manifest_mount {
    char volume[TERN_MANIFEST_VOLUME_MAX + 1];      /* "data" or "boot" */
    char path[TERN_MANIFEST_PATH_MAX + 1];          /* absolute */
    bool read_only;
};

struct tern_manifest_resources {
    uint32_t memory_mib;        /* 1..4096, default 16 */
    uint32_t threads;           /* 1..256, default 16 */
    uint32_t stack_kib;         /* 128..8192, default 256: the OS's own calls run on it too */
    uint32_t tcp_connections;   /* 1..65535: the TCP pool's control blocks; 0 (absent): the OS's default */
};

enum tern_manifest_health_kind {
    TERN_MANIFEST_HEALTH_NONE = 0,
    TERN_MANIFEST_HEALTH_HTTP,  /* GET http_path on port answers 2xx */
    TERN_MANIFEST_HEALTH_TCP,   /* a connection to port is accepted */
};

struct tern_manifest_health {
    enum tern_manifest_health_kind kind;
    char http_path[TERN_MANIFEST_PATH_MAX + 1];     /* HTTP only */
    uint16_t port;              /* HTTP and TCP; 0 for NONE */
    uint32_t interval_ms;       /* 10..600000, default 1000 */
    uint32_t deadline_ms;       /* 100..3600000, default 10000 (app start to first pass) */
    uint32_t failures;          /* 1..100, default 3 (consecutive failures = unhealthy) */
};

enum tern_manifest_log_level {
    TERN_MANIFEST_LOG_DEBUG = 0,
    TERN_MANIFEST_LOG_INFO,
    TERN_MANIFEST_LOG_WARN,
    TERN_MANIFEST_LOG_ERROR,
};

enum tern_manifest_restart {
    TERN_MANIFEST_RESTART_NEVER = 0,
    TERN_MANIFEST_RESTART_ON_FAILURE,
    TERN_MANIFEST_RESTART_ALWAYS,
};

/* Bits of tern_manifest.overridable. */
#define TERN_MANIFEST_OVR_PORTS     (1u << 0)
#define TERN_MANIFEST_OVR_ENV       (1u << 1)
#define TERN_MANIFEST_OVR_LOG_LEVEL (1u << 2)
#define TERN_MANIFEST_OVR_NETWORK   (1u << 3)

/* The OS's update endpoint (docs/updates.md): off unless "update" is given. */
struct tern_manifest_update {
    bool enabled;
    char path[TERN_MANIFEST_PATH_MAX + 1];          /* the HTTP path a PUT goes to */
    uint8_t token_sha256[32];                       /* SHA-256 of the bearer token */
    uint32_t tries;                                 /* trial boots of a staged package; 0: 3 */
};

struct tern_manifest {
    char name[TERN_MANIFEST_NAME_MAX + 1];          /* [a-z0-9._-]{1,32} */
    char version[TERN_MANIFEST_VERSION_MAX + 1];    /* x.y.z[-pre][+build] */
    char app_path[TERN_MANIFEST_PATH_MAX + 1];      /* relative, in the workload's volume */
    char args[TERN_MANIFEST_ARGS_MAX][TERN_MANIFEST_ARG_MAX + 1];
    uint8_t args_count;
    struct tern_manifest_env env[TERN_MANIFEST_ENV_MAX];
    uint8_t env_count;
    struct tern_manifest_endpoint endpoints[TERN_MANIFEST_ENDPOINTS_MAX];
    uint8_t endpoints_count;
    struct tern_manifest_network network;
    struct tern_manifest_mount mounts[TERN_MANIFEST_MOUNTS_MAX];
    uint8_t mounts_count;
    struct tern_manifest_resources resources;
    struct tern_manifest_health health;
    struct tern_manifest_update update;
    enum tern_manifest_log_level log_level;
    enum tern_manifest_restart restart;
    uint32_t overridable;       /* TERN_MANIFEST_OVR_* bits */
};

/* Parses and checks one manifest document of len bytes (not necessarily
 * NUL-terminated; a NUL byte inside is refused). TERN_OK with *out
 * filled (absent optional fields take their defaults); TERN_EINVAL with
 * *err filled for any refusal (err->path names the JSON path, err->msg
 * what was expected); TERN_ENOMEM if cJSON ran out of memory (err filled
 * too). On any refusal *out is unspecified. Needs json, out and err. */
tern_result tern_manifest_parse(const char *json, size_t len, struct tern_manifest *out,
                                struct tern_manifest_error *err);

/* The built-in default: app "hello" version "1.0.0" (path "hello.elf"),
 * endpoint "web" http port 80, dhcp, health http /healthz on 80, env
 * GREETING="Hello from Tern", default resources, log_level info, restart
 * on-failure, overridable ports, env and log_level. The same values as
 * fixtures/manifests/hello.json parsed. */
void tern_manifest_default(struct tern_manifest *m);

/* Applies one runtime override "KEY=VALUE" to m. Keys: "env.NAME" (sets
 * or adds; needs "env" overridable), "log_level" (needs "log_level"),
 * "endpoints.NAME.port" (needs "ports"; the health port follows an
 * endpoint's port when they were equal), "network.mode", "network.address"
 * ("A.B.C.D/N", switches to static), "network.gateway", "network.dns"
 * (comma-separated, up to 3), "network.hostname" (need "network").
 * TERN_OK; TERN_EINVAL with err filled (path "KEY" or "KEY=VALUE" text
 * cut to fit, msg what was expected, or "not overridable") for bad
 * syntax, an unknown key, a bad value or a key the manifest does not
 * mark overridable; m is unchanged on refusal. */
tern_result tern_manifest_override(struct tern_manifest *m, const char *kv,
                                   struct tern_manifest_error *err);

/* Writes the resolved values as log lines through tern_log(os,
 * TERN_LOG_INFO, "manifest", ...): one line per group (app, args, env
 * names, each endpoint, network, each mount, resources, health,
 * overridable). Env values are not logged (they may be secrets). */
void tern_manifest_log(struct tern_os *os, const struct tern_manifest *m);

/* The value of env var name, or NULL when m has none of that name. */
const char *tern_manifest_env(const struct tern_manifest *m, const char *name);

/* The endpoint called name, or NULL when m has none of that name. */
const struct tern_manifest_endpoint *tern_manifest_endpoint(const struct tern_manifest *m,
                                                            const char *name);

/* Short stable names: "http", "dhcp", "info", "on-failure", "none". */
const char *tern_manifest_proto_name(enum tern_manifest_proto p);
const char *tern_manifest_log_level_name(enum tern_manifest_log_level l);
const char *tern_manifest_restart_name(enum tern_manifest_restart r);

TERN_END_DECLS

#endif
