/*
 * Interface: the boot-state record as text (tern_boot_state_render), for
 * the log and /status. Three or four lines:
 *
 *   update: seq=7 active=A confirmed=yes pending=B tries=2 counter=3 rollbacks=1
 *   slot A: active id="hello 1.0.0 key=0123abcd"
 *   slot B: pending id="hello 2.0.0 key=0123abcd"
 *   last rollback: slot=B reason=unhealthy text="no 200 in 10 s"
 *
 * A slot's word: active, pending, bad, spare (holds an id, neither active
 * nor pending: the previous version) or empty. Id and text bytes outside
 * printable ASCII, '"' and '\' are written \xNN.
 */
#include <string.h>

#include "tern/fmt.h"
#include "tern/update.h"

/* Text going into buf (cap bytes); len counts all of it, as snprintf. */
struct out {
    char *buf;
    size_t cap, len;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->cap ? o->cap - o->len : 0;
    o->len += tern_vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
}

static const char *slot_word(const struct tern_boot_state *s, unsigned i)
{
    if (s->active == i)
        return "active";
    if (s->pending == i)
        return "pending";
    if (s->slot[i].bad)
        return "bad";
    return s->slot[i].id_len ? "spare" : "empty";
}

/* Bytes between quotes, escaped as the header comment says. */
static void put_quoted(struct out *o, const char *name, const uint8_t *p, size_t n)
{
    put(o, " %s=\"", name);
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x20 || p[i] > 0x7e || p[i] == '"' || p[i] == '\\')
            put(o, "\\x%02x", p[i]);
        else
            put(o, "%c", p[i]);
    }
    put(o, "\"");
}

size_t tern_boot_state_render(const struct tern_boot_state *s, bool have_record, char *buf,
                              size_t cap)
{
    struct out o = { buf, cap, 0 };
    if (cap > 0)
        buf[0] = '\0';
    if (!have_record) {
        put(&o, "update: no boot-state record\n");
        return o.len;
    }
    put(&o, "update: seq=%u active=%s confirmed=%s pending=%s tries=%u counter=%llu "
            "rollbacks=%u\n",
        (unsigned)s->seq, tern_update_slot_name(s->active), s->confirmed ? "yes" : "no",
        tern_update_slot_name(s->pending), (unsigned)s->tries,
        (unsigned long long)s->counter, (unsigned)s->rollbacks);
    for (unsigned i = 0; i < TERN_SLOTS; i++) {
        const struct tern_slot_state *st = &s->slot[i];
        put(&o, "slot %s: %s", tern_update_slot_name(i), slot_word(s, i));
        put_quoted(&o, "id", st->id, st->id_len <= TERN_UPDATE_ID_MAX ? st->id_len : 0);
        put(&o, "\n");
    }
    if (s->last.why != TERN_UPDATE_WHY_NONE) {
        put(&o, "last rollback: slot=%s reason=%s", tern_update_slot_name(s->last.slot),
            tern_update_why_name(s->last.why));
        put_quoted(&o, "text", (const uint8_t *)s->last.text,
                   strnlen(s->last.text, TERN_UPDATE_TEXT_MAX));
        put(&o, "\n");
    }
    return o.len;
}
