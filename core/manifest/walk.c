/*
 * Interface: see manifest_priv.h (mf_ctx, mf_object and the typed
 * readers). The path in mf_ctx grows and shrinks as the walk descends;
 * mf_fail copies it into the caller's error.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/fmt.h"

#include "manifest_priv.h"

void mf_init(struct mf_ctx *c, struct tern_manifest_error *err)
{
    c->err = err;
    c->path[0] = '$';
    c->path[1] = '\0';
    c->path_len = 1;
}

size_t mf_push_text(struct mf_ctx *c, const char *text)
{
    size_t old = c->path_len;
    size_t room = sizeof(c->path) - 1;
    for (const char *p = text; *p != '\0' && c->path_len < room; p++) {
        char ch = *p;
        c->path[c->path_len++] = ((unsigned char)ch < 0x20 || ch == 0x7f) ? '?' : ch;
    }
    c->path[c->path_len] = '\0';
    return old;
}

size_t mf_push_key(struct mf_ctx *c, const char *key)
{
    size_t old = mf_push_text(c, ".");
    mf_push_text(c, key);
    return old;
}

size_t mf_push_index(struct mf_ctx *c, int index)
{
    char text[16];
    tern_snprintf(text, sizeof(text), "[%d]", index);
    return mf_push_text(c, text);
}

void mf_pop(struct mf_ctx *c, size_t len)
{
    c->path_len = len;
    c->path[len] = '\0';
}

tern_result mf_fail(struct mf_ctx *c, const char *fmt, ...)
{
    memcpy(c->err->path, c->path, c->path_len + 1);
    va_list ap;
    va_start(ap, fmt);
    tern_vsnprintf(c->err->msg, sizeof(c->err->msg), fmt, ap);
    va_end(ap);
    return TERN_EINVAL;
}

static int field_index(const struct mf_field *fields, size_t count, const char *key)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(fields[i].key, key) == 0)
            return (int)i;
    return -1;
}

static bool seen_before(const cJSON *obj, const cJSON *item)
{
    for (const cJSON *o = obj->child; o != item; o = o->next)
        if (strcmp(o->string, item->string) == 0)
            return true;
    return false;
}

tern_result mf_object(struct mf_ctx *c, const cJSON *obj, const struct mf_field *fields,
                      size_t count, void *target)
{
    uint32_t seen = 0;
    for (const cJSON *item = obj->child; item != NULL; item = item->next) {
        size_t mark = mf_push_key(c, item->string);
        if (seen_before(obj, item))
            return mf_fail(c, "duplicate key");
        int f = field_index(fields, count, item->string);
        if (f < 0)
            return mf_fail(c, "unknown key");
        seen |= 1u << f;
        tern_result r = fields[f].read(c, item, target);
        if (r != TERN_OK)
            return r;
        mf_pop(c, mark);
    }
    for (size_t i = 0; i < count; i++) {
        if (fields[i].required && !(seen & (1u << i))) {
            mf_push_key(c, fields[i].key);
            return mf_fail(c, "required key missing");
        }
    }
    return TERN_OK;
}

tern_result mf_expect_object(struct mf_ctx *c, const cJSON *v)
{
    return cJSON_IsObject(v) ? TERN_OK : mf_fail(c, "expected an object");
}

tern_result mf_int(struct mf_ctx *c, const cJSON *v, uint32_t min, uint32_t max, uint32_t *out)
{
    /* Integral values only; a range check on the double first keeps the
     * conversion defined (no NaN reaches here: JSON has none). */
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= (double)min) ||
        !(v->valuedouble <= (double)max) || v->valuedouble != (double)(uint32_t)v->valuedouble)
        return mf_fail(c, "expected an integer from %u to %u", (unsigned)min, (unsigned)max);
    *out = (uint32_t)v->valuedouble;
    return TERN_OK;
}

tern_result mf_bool(struct mf_ctx *c, const cJSON *v, bool *out)
{
    if (!cJSON_IsBool(v))
        return mf_fail(c, "expected true or false");
    *out = cJSON_IsTrue(v);
    return TERN_OK;
}

tern_result mf_string(struct mf_ctx *c, const cJSON *v, bool (*check)(const char *s),
                      char *dst, size_t cap, const char *what_expected)
{
    if (!cJSON_IsString(v) || v->valuestring == NULL)
        return mf_fail(c, "%s", what_expected);
    size_t n = strlen(v->valuestring);
    if (n >= cap || (check != NULL && !check(v->valuestring)))
        return mf_fail(c, "%s", what_expected);
    memcpy(dst, v->valuestring, n + 1);
    return TERN_OK;
}

tern_result mf_enum(struct mf_ctx *c, const cJSON *v, const char *const *names, size_t count,
                    unsigned *out)
{
    if (cJSON_IsString(v) && v->valuestring != NULL) {
        for (size_t i = 0; i < count; i++) {
            if (strcmp(v->valuestring, names[i]) == 0) {
                *out = (unsigned)i;
                return TERN_OK;
            }
        }
    }
    char list[120];
    size_t used = 0;
    for (size_t i = 0; i < count && used < sizeof(list); i++)
        used += tern_snprintf(list + used, sizeof(list) - used, "%s\"%s\"", i ? ", " : "",
                              names[i]);
    return mf_fail(c, "expected one of %s", list);
}
