/*
 * Interface: see include/tern/boot_pkg.h (tern_boot_pkg_status): the
 * package, trust and A/B members of /status.
 */
#include <stdarg.h>
#include <string.h>

#include "tern/boot_pkg.h"
#include "tern/fmt.h"
#include "tern/manifest.h"

struct out {
    char *buf;
    size_t cap, n;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->n < o->cap ? o->cap - o->n : 0;
    o->n += tern_vsnprintf(o->buf + o->n, room, fmt, ap);
    va_end(ap);
}

/* A JSON string of n bytes: quotes and backslashes escaped, anything
 * outside printable ASCII as \u00XX. */
static void put_string(struct out *o, const char *s, size_t n)
{
    put(o, "\"");
    for (size_t i = 0; i < n && s[i]; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            put(o, "\\%c", ch);
        else if (ch < 0x20 || ch > 0x7e)
            put(o, "\\u%04x", ch);
        else
            put(o, "%c", ch);
    }
    put(o, "\"");
}

static void put_workload(struct out *o, const struct tern_boot_pkg *bp)
{
    const struct tern_boot_trust *t = &bp->trust;
    put(o, "\"workload\":{\"development_mode\":%s,", t->allow_unsigned ? "true" : "false");
    if (t->allow_unsigned) {
        put(o, "\"development_source\":");
        put_string(o, t->dev_source ? t->dev_source : "", TERN_MANIFEST_PATH_MAX);
        put(o, ",");
    }
    put(o, "\"test_key_trusted\":%s,\"trusted_keys\":[", t->test_key ? "true" : "false");
    for (unsigned i = 0; i < t->count; i++) {
        char hex[TERN_KEY_HEX + 1];
        tern_boot_key_hex(t->keys[i].id, hex);
        put(o, "%s\"%s\"", i ? "," : "", hex);
    }
    put(o, "],\"package\":");
    if (!bp->is_pkg || bp->m == NULL) {
        put(o, "null}");
        return;
    }
    put(o, "{\"name\":");
    put_string(o, bp->m->name, sizeof bp->m->name);
    put(o, ",\"version\":");
    put_string(o, bp->m->version, sizeof bp->m->version);
    put(o, ",\"key\":\"%s\",\"counter\":%llu,\"slot\":\"%s\",\"trial\":%s,\"confirmed\":%s}}",
        bp->key, (unsigned long long)bp->pkg.security_counter,
        tern_update_slot_name(bp->slot), bp->trial ? "true" : "false",
        bp->confirmed ? "true" : "false");
}

static void put_update(struct out *o, const struct tern_boot_pkg *bp)
{
    const struct tern_boot_state *s = &bp->update.state;
    put(o, ",\"update\":{\"record\":%s,\"active\":\"%s\",\"pending\":\"%s\",\"tries\":%u,"
        "\"confirmed\":%s,\"counter\":%llu,\"rollbacks\":%u,\"slots\":[",
        bp->update.have_record ? "true" : "false", tern_update_slot_name(s->active),
        tern_update_slot_name(s->pending), (unsigned)s->tries, s->confirmed ? "true" : "false",
        (unsigned long long)s->counter, (unsigned)s->rollbacks);
    for (unsigned i = 0; i < TERN_SLOTS; i++) {
        put(o, "%s{\"slot\":\"%s\",\"bad\":%s,\"id\":", i ? "," : "", tern_update_slot_name(i),
            s->slot[i].bad ? "true" : "false");
        put_string(o, (const char *)s->slot[i].id, s->slot[i].id_len);
        put(o, "}");
    }
    put(o, "],\"last_rollback\":");
    if (s->last.why == TERN_UPDATE_WHY_NONE) {
        put(o, "null");
    } else {
        put(o, "{\"slot\":\"%s\",\"reason\":\"%s\",\"text\":",
            tern_update_slot_name(s->last.slot), tern_update_why_name(s->last.why));
        put_string(o, s->last.text, sizeof s->last.text);
        put(o, "}");
    }
    const struct tern_update_endpoint *ep = &bp->endpoint;
    if (!ep->on && ep->off == NULL) {
        put(o, ",\"endpoint\":null}");
        return;
    }
    put(o, ",\"endpoint\":{\"path\":");
    put_string(o, ep->cfg.path, sizeof ep->cfg.path);
    if (!ep->on) {
        put(o, ",\"on\":false,\"off\":\"%s\"}}", ep->off);
        return;
    }
    put(o, ",\"on\":true,\"accepted\":%llu,\"unauthorized\":%llu,\"refused\":%llu,\"staged\":%s}}",
        (unsigned long long)ep->stats.accepted, (unsigned long long)ep->stats.unauthorized,
        (unsigned long long)ep->stats.refused, ep->staged ? "true" : "false");
}

size_t tern_boot_pkg_status(void *arg, char *buf, size_t cap)
{
    const struct tern_boot_pkg *bp = arg;
    struct out o = { buf, cap, 0 };
    put_workload(&o, bp);
    if (bp->have_update)
        put_update(&o, bp);
    return o.n;
}
