/*
 * Interface: see manifest_priv.h (mf_read_update). "update" turns on the
 * OS's update endpoint (docs/updates.md, "The update endpoint"): an
 * object with "path" (the HTTP path a PUT of a package goes to),
 * "token_sha256" (64 lowercase hex digits: the SHA-256 of the bearer
 * token; the token itself is never in the manifest) and optional "tries"
 * (trial boots of a staged package, 1..100, default 3).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "manifest_priv.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

struct update_target {
    struct tern_manifest_update *u;
    bool has_path, has_token;
};

static tern_result read_path(struct mf_ctx *c, const cJSON *v, void *t)
{
    struct update_target *ut = t;
    ut->has_path = true;
    return mf_string(c, v, mf_check_http_path, ut->u->path, sizeof ut->u->path,
                     "expected a path starting with \"/\" of at most 127 visible ASCII characters");
}

static int hex_digit(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

static bool check_sha256_hex(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if (hex_digit(s[i]) < 0)
            return false;
    return n == 64;
}

static tern_result read_token(struct mf_ctx *c, const cJSON *v, void *t)
{
    struct update_target *ut = t;
    char hex[65];
    ut->has_token = true;
    tern_result r = mf_string(c, v, check_sha256_hex, hex, sizeof hex,
                              "expected 64 lowercase hex digits (the SHA-256 of the token)");
    for (unsigned i = 0; r == TERN_OK && i < 32; i++)
        ut->u->token_sha256[i] = (uint8_t)(hex_digit(hex[2 * i]) << 4 | hex_digit(hex[2 * i + 1]));
    return r;
}

static tern_result read_tries(struct mf_ctx *c, const cJSON *v, void *t)
{
    return mf_int(c, v, 1, 100, &((struct update_target *)t)->u->tries);
}

tern_result mf_read_update(struct mf_ctx *c, const cJSON *v, void *t)
{
    static const struct mf_field fields[] = {
        { "path", true, read_path },
        { "token_sha256", true, read_token },
        { "tries", false, read_tries },
    };
    struct tern_manifest *m = t;
    struct update_target ut = { .u = &m->update };
    tern_result r = mf_expect_object(c, v);
    if (r == TERN_OK)
        r = mf_object(c, v, fields, COUNT(fields), &ut);
    if (r == TERN_OK)
        m->update.enabled = true;
    return r;
}
