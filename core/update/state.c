/*
 * Interface: the A/B state machine as pure functions over the decoded
 * record (include/tern/update.h, docs/updates.md). No I/O: the only way
 * out is the verify callback tern_boot_state_select is given. Every
 * transition keeps the record's invariants, so what it produces always
 * encodes to a record the decoder accepts.
 */
#include <string.h>

#include "tern/update.h"

static bool is_slot(unsigned v)
{
    return v == TERN_SLOT_A || v == TERN_SLOT_B;
}

const char *tern_update_why_name(unsigned why)
{
    static const char *const names[TERN_UPDATE_WHY_COUNT] = {
        "none", "tries-exhausted", "verify-failed", "crash",
        "watchdog", "unhealthy", "exit", "other",
    };
    return why < TERN_UPDATE_WHY_COUNT ? names[why] : "unknown";
}

const char *tern_update_slot_name(unsigned slot)
{
    return slot == TERN_SLOT_A ? "A" : slot == TERN_SLOT_B ? "B" : "-";
}

const char *tern_update_slot_path(unsigned slot)
{
    return slot == TERN_SLOT_A   ? TERN_UPDATE_SLOT_A_PATH
           : slot == TERN_SLOT_B ? TERN_UPDATE_SLOT_B_PATH
                                 : NULL;
}

/* Copies text (NULL: empty) into a record's text field: at most 63
 * bytes, non-printable bytes as '?', zeros to the end. */
static void set_text(char *dst, const char *text)
{
    size_t n = 0;
    for (; text != NULL && n < TERN_UPDATE_TEXT_MAX - 1 && text[n] != '\0'; n++)
        dst[n] = text[n] >= 0x20 && text[n] <= 0x7e ? text[n] : '?';
    memset(dst + n, 0, TERN_UPDATE_TEXT_MAX - n);
}

static void set_id(struct tern_slot_state *st, const uint8_t *id, size_t len)
{
    memset(st->id, 0, sizeof(st->id));
    st->id_len = (uint8_t)len;
    if (len > 0)
        memcpy(st->id, id, len);
}

/* Marks slot bad, takes it out of active/pending, records why. */
static void rollback(struct tern_boot_state *s, unsigned slot, unsigned why, const char *text)
{
    s->slot[slot].bad = true;
    if (s->pending == slot) {
        s->pending = TERN_SLOT_NONE;
        s->tries = 0;
    }
    if (s->active == slot) {
        s->active = TERN_SLOT_NONE;
        s->confirmed = false;
    }
    if (s->rollbacks != UINT32_MAX)
        s->rollbacks++;
    s->last.slot = (uint8_t)slot;
    s->last.why = (uint8_t)why;
    set_text(s->last.text, text);
    s->announce = true;                       /* until a boot has said it */
}

/* Asks the callback about slot; the verdict comes back terminated and
 * bounded whatever the callback did. */
static bool verify_slot(tern_update_verify_fn verify, void *arg, unsigned slot,
                        uint64_t min_counter, struct tern_update_verdict *v)
{
    memset(v, 0, sizeof(*v));
    bool ok = verify(arg, slot, min_counter, v);
    v->why[TERN_UPDATE_TEXT_MAX - 1] = '\0';
    if (v->id_len > TERN_UPDATE_ID_MAX)
        v->id_len = TERN_UPDATE_ID_MAX;
    if (!ok && v->why[0] == '\0')
        set_text(v->why, "refused");
    return ok;
}

/* No record: the first slot that verifies becomes active. */
static tern_result select_fresh(struct tern_boot_state *s, tern_update_verify_fn verify,
                                void *arg, struct tern_boot_choice *c)
{
    struct tern_update_verdict v;
    tern_boot_state_fresh(s);
    for (unsigned slot = TERN_SLOT_A; slot <= TERN_SLOT_B; slot++) {
        if (!verify_slot(verify, arg, slot, 0, &v))
            continue;
        s->active = (uint8_t)slot;
        set_id(&s->slot[slot], v.id, v.id_len);
        c->slot = (uint8_t)slot;
        c->initialised = c->changed = true;
        return TERN_OK;
    }
    return TERN_ENOENT;
}

/* The pending slot: a trial, or rolled back. true: a trial. */
static bool try_pending(struct tern_boot_state *s, tern_update_verify_fn verify, void *arg,
                        struct tern_boot_choice *c)
{
    unsigned p = s->pending;
    struct tern_update_verdict v;
    c->changed = true;
    if (s->tries == 0) {
        rollback(s, p, TERN_UPDATE_WHY_TRIES, "trial boots ran out before a confirm");
        c->rolled_back = true;
        return false;
    }
    if (!verify_slot(verify, arg, p, s->counter, &v)) {
        rollback(s, p, TERN_UPDATE_WHY_VERIFY, v.why);
        c->rolled_back = true;
        return false;
    }
    s->tries--;
    c->slot = (uint8_t)p;
    c->trial = true;
    c->tries_left = s->tries;
    return true;
}

/* The active slot, or the other one when it is refused. */
static tern_result select_active(struct tern_boot_state *s, tern_update_verify_fn verify,
                                 void *arg, struct tern_boot_choice *c)
{
    struct tern_update_verdict v;
    unsigned a = s->active;
    if (a != TERN_SLOT_NONE) {
        if (verify_slot(verify, arg, a, s->counter, &v)) {
            c->slot = (uint8_t)a;
            return TERN_OK;
        }
        rollback(s, a, TERN_UPDATE_WHY_VERIFY, v.why);
        c->rolled_back = c->changed = true;
    }
    for (unsigned slot = TERN_SLOT_A; slot <= TERN_SLOT_B; slot++) {
        if (s->slot[slot].bad || !verify_slot(verify, arg, slot, s->counter, &v))
            continue;
        s->active = (uint8_t)slot;
        s->confirmed = false;
        c->slot = (uint8_t)slot;
        c->changed = true;
        return TERN_OK;
    }
    return TERN_ENOENT;
}

tern_result tern_boot_state_select(struct tern_boot_state *s, bool have_record,
                                   tern_update_verify_fn verify, void *arg,
                                   struct tern_boot_choice *c)
{
    *c = (struct tern_boot_choice){ .slot = TERN_SLOT_NONE };
    if (!have_record)
        return select_fresh(s, verify, arg, c);
    tern_result r = TERN_OK;
    if (s->pending == TERN_SLOT_NONE || !try_pending(s, verify, arg, c))
        r = select_active(s, verify, arg, c);
    if (s->announce) {                        /* a rollback since the last boot: this one tells */
        s->announce = false;
        c->rolled_back = c->changed = true;
    }
    return r;
}

/* Whether slot may be overwritten or staged now. */
static tern_result writable_slot(const struct tern_boot_state *s, unsigned running,
                                 unsigned slot)
{
    if (!is_slot(slot))
        return TERN_EINVAL;
    if (is_slot(running) && running == s->pending)
        return TERN_EBUSY;                    /* a trial runs: confirm or fail it first */
    if (slot == s->active || slot == running)
        return TERN_EBUSY;
    return TERN_OK;
}

tern_result tern_boot_state_stage(struct tern_boot_state *s, unsigned running, unsigned slot,
                                  unsigned tries, const uint8_t *id, size_t id_len)
{
    if (tries == 0)
        tries = TERN_UPDATE_TRIES_DEFAULT;
    if (tries > TERN_UPDATE_TRIES_MAX || id_len > TERN_UPDATE_ID_MAX || (id == NULL && id_len))
        return TERN_EINVAL;
    tern_result r = writable_slot(s, running, slot);
    if (r != TERN_OK)
        return r;
    s->pending = (uint8_t)slot;
    s->tries = (uint8_t)tries;
    s->slot[slot].bad = false;
    set_id(&s->slot[slot], id, id_len);
    return TERN_OK;
}

tern_result tern_boot_state_forget(struct tern_boot_state *s, unsigned running, unsigned slot)
{
    tern_result r = writable_slot(s, running, slot);
    if (r != TERN_OK)
        return r;
    if (s->pending == slot) {
        s->pending = TERN_SLOT_NONE;
        s->tries = 0;
    }
    s->slot[slot].bad = false;
    set_id(&s->slot[slot], NULL, 0);
    return TERN_OK;
}

tern_result tern_boot_state_confirm(struct tern_boot_state *s, unsigned running,
                                    uint64_t counter)
{
    if (!is_slot(running))
        return TERN_EINVAL;
    if (running == s->pending) {
        s->active = (uint8_t)running;
        s->pending = TERN_SLOT_NONE;
        s->tries = 0;
    } else if (running != s->active) {
        return TERN_EINVAL;
    }
    s->confirmed = true;
    if (counter > s->counter)
        s->counter = counter;
    return TERN_OK;
}

tern_result tern_boot_state_fail(struct tern_boot_state *s, unsigned running, unsigned why,
                                 const char *text)
{
    if (!is_slot(running) || running != s->pending || why == TERN_UPDATE_WHY_NONE ||
        why >= TERN_UPDATE_WHY_COUNT)
        return TERN_EINVAL;
    rollback(s, running, why, text);
    return TERN_OK;
}

tern_result tern_boot_state_adopt(struct tern_boot_state *s, unsigned slot, uint64_t counter,
                                  const uint8_t *id, size_t id_len)
{
    if (!is_slot(slot) || id_len > TERN_UPDATE_ID_MAX || (id == NULL && id_len))
        return TERN_EINVAL;
    if (s->active != TERN_SLOT_NONE || s->pending != TERN_SLOT_NONE)
        return TERN_EBUSY;                    /* a volume in use: stage instead */
    s->active = (uint8_t)slot;
    s->confirmed = true;
    s->slot[slot].bad = false;
    set_id(&s->slot[slot], id, id_len);
    if (counter > s->counter)
        s->counter = counter;
    return TERN_OK;
}
