/*
 * Interface: internals of core/manifest shared by its files.
 *  - scan.c: the strict JSON syntax check that runs before cJSON sees the
 *    bytes (RFC 8259 grammar, UTF-8, limits), so cJSON only ever parses
 *    documents that are JSON and a NULL from cJSON means out of memory.
 *  - walk.c: the path-tracking context and typed readers for cJSON nodes;
 *    every refusal goes through mf_fail, which names the current path.
 *  - check.c: syntax rules for string fields, shared by the parser and the
 *    overrides.
 *  - sections.c: the schema's sections below the top level.
 * Only these files include cJSON.h (the system's on Linux, the one built
 * from Debian's source on metal); it includes only <stddef.h>.
 */
#ifndef TERN_MANIFEST_PRIV_H
#define TERN_MANIFEST_PRIV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "tern/manifest.h"

/* ---- scan.c ---- */

/* Checks that json[0..len) is one JSON document (RFC 8259) within the
 * manifest's limits: size, no NUL, valid UTF-8, nesting, value count,
 * number length, no \u0000 or unpaired surrogate escapes, nothing after
 * the document but whitespace. TERN_OK or TERN_EINVAL with err filled
 * (path "$", msg "<what> at line L column C"). */
tern_result mf_scan(const char *json, size_t len, struct tern_manifest_error *err);

/* True when s[0..len) is valid UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF). */
bool mf_utf8_valid(const uint8_t *s, size_t len);

/* ---- walk.c ---- */

struct mf_ctx {
    struct tern_manifest_error *err;
    char path[sizeof(((struct tern_manifest_error *)0)->path)];
    size_t path_len;
};

/* Starts at path "$". */
void mf_init(struct mf_ctx *c, struct tern_manifest_error *err);
/* Appends ".key" (control bytes shown as '?') or "[i]"; returns the length
 * to hand back to mf_pop. Paths too long for the buffer are cut. */
size_t mf_push_key(struct mf_ctx *c, const char *key);
size_t mf_push_index(struct mf_ctx *c, int index);
size_t mf_push_text(struct mf_ctx *c, const char *text);   /* as is, no "." */
void mf_pop(struct mf_ctx *c, size_t len);
/* Fills the error with the current path and the message; TERN_EINVAL. */
tern_result mf_fail(struct mf_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One known key of an object: its reader gets the value with the path
 * already naming it, and the caller's target. */
typedef tern_result (*mf_reader)(struct mf_ctx *c, const cJSON *v, void *target);
struct mf_field {
    const char *key;
    bool required;
    mf_reader read;
};

/* Walks obj (already checked to be an object): refuses a repeated key
 * ("duplicate key") or one not in fields ("unknown key"), calls each
 * field's reader in document order, then refuses a missing required key
 * ("required key missing"). fields has at most 32 entries. */
tern_result mf_object(struct mf_ctx *c, const cJSON *obj, const struct mf_field *fields,
                      size_t count, void *target);

/* Typed readers; each refuses with msg as given. */
tern_result mf_expect_object(struct mf_ctx *c, const cJSON *v);
tern_result mf_int(struct mf_ctx *c, const cJSON *v, uint32_t min, uint32_t max, uint32_t *out);
tern_result mf_bool(struct mf_ctx *c, const cJSON *v, bool *out);
/* A string that check accepts (NULL: any string) and fits in cap bytes
 * with its NUL; on refusal msg is what_expected. */
tern_result mf_string(struct mf_ctx *c, const cJSON *v, bool (*check)(const char *s),
                      char *dst, size_t cap, const char *what_expected);
/* Index of v's string in names[0..count), or a refusal listing them. */
tern_result mf_enum(struct mf_ctx *c, const cJSON *v, const char *const *names, size_t count,
                    unsigned *out);

/* ---- check.c ---- */

bool mf_check_app_name(const char *s);      /* [a-z0-9._-]{1,32} */
bool mf_check_endpoint_name(const char *s); /* [a-z0-9_-]{1,32} */
bool mf_check_version(const char *s);       /* N.N.N[-pre][+build], <= 31 */
bool mf_check_relpath(const char *s);       /* relative, no "." ".." or empty parts, <= 127 */
bool mf_check_abspath(const char *s);       /* "/" + relative path, or "/" */
bool mf_check_env_name(const char *s);      /* [A-Za-z_][A-Za-z0-9_]{0,31} */
bool mf_check_hostname(const char *s);      /* RFC 1123 labels, <= 63 in all */
bool mf_check_http_path(const char *s);     /* "/" + visible ASCII, <= 127 */
/* "A.B.C.D" unicast (not 0.0.0.0, not 224.0.0.0 and up); host order. */
bool mf_parse_ipv4(const char *s, uint32_t *out);
/* "A.B.C.D/N" with N 1..32 and a unicast address. */
bool mf_parse_cidr(const char *s, uint32_t *addr, uint8_t *prefix_len);
/* Decimal 1..65535 without sign or leading zero. */
bool mf_parse_port(const char *s, uint16_t *out);

/* Messages shared by the parser and the overrides. */
#define MF_MSG_APP_NAME "expected 1 to 32 characters from [a-z0-9._-]"
#define MF_MSG_ENDPOINT_NAME "expected 1 to 32 characters from [a-z0-9_-]"
#define MF_MSG_ENV_NAME "expected a name [A-Za-z_][A-Za-z0-9_]{0,31}"
#define MF_MSG_ENV_VALUE "expected a string of at most 255 bytes"
#define MF_MSG_PORT "expected an integer from 1 to 65535"
#define MF_MSG_IPV4 "expected a unicast IPv4 address like \"192.0.2.1\""
#define MF_MSG_CIDR "expected a unicast IPv4 address and prefix length like \"192.0.2.2/24\""
#define MF_MSG_HOSTNAME "expected a hostname of at most 63 characters (RFC 1123 labels)"
#define MF_MSG_LOG_LEVEL "expected one of \"debug\", \"info\", \"warn\", \"error\""

extern const char *const mf_log_level_names[4];

/* ---- sections.c ---- */

tern_result mf_read_app(struct mf_ctx *c, const cJSON *v, void *m);
tern_result mf_read_endpoints(struct mf_ctx *c, const cJSON *v, void *m);
tern_result mf_read_network(struct mf_ctx *c, const cJSON *v, void *m);
tern_result mf_read_mounts(struct mf_ctx *c, const cJSON *v, void *m);
tern_result mf_read_resources(struct mf_ctx *c, const cJSON *v, void *m);
tern_result mf_read_health(struct mf_ctx *c, const cJSON *v, void *m);
tern_result mf_read_update(struct mf_ctx *c, const cJSON *v, void *m);
tern_result mf_read_overridable(struct mf_ctx *c, const cJSON *v, void *m);

/* The health check's port against the endpoints (after both are read). */
tern_result mf_check_health_port(struct mf_ctx *c, const struct tern_manifest *m);

/* Index of an endpoint other than skip with the same protocol family
 * (TCP: http, https, tcp; UDP: udp) and port, or -1. */
int mf_endpoint_port_clash(const struct tern_manifest *m, enum tern_manifest_proto proto,
                           uint16_t port, int skip);
/* "tcp" or "udp": the family of proto. */
const char *mf_proto_family(enum tern_manifest_proto proto);

#endif
