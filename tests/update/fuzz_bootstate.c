/*
 * libFuzzer: the boot-state record decoder (core/update/record.c) and the
 * state machine on whatever it accepts. The input is copy 0 (bytes
 * 0..511), copy 1 (512..1023) and then one event per byte (select with
 * the verify results in its bits, stage, forget, confirm, fail). When
 * neither copy is valid as it came, both are sealed with a fresh CRC and
 * decoded again, so the field checks behind the CRC get fuzzed too. Checked:
 * an accepted copy re-encodes to exactly its bytes (nothing is read that
 * was not written); every state a transition makes encodes to a record
 * the decoder accepts; the accepted counter never falls; a select that
 * boots gives a slot that is not bad, and a trial is of the pending slot;
 * the status text fits any buffer. Any breach aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tern/gpt.h"
#include "tern/update.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool fuzz_verify(void *arg, unsigned slot, uint64_t min_counter,
                        struct tern_update_verdict *v)
{
    (void)min_counter;
    unsigned ok = *(const unsigned *)arg;
    if (ok & (1u << slot)) {
        v->id_len = (uint8_t)(ok >> 2);       /* may exceed the maximum: clamped */
        memset(v->id, 'i', sizeof(v->id));
        return true;
    }
    memset(v->why, 'w', sizeof(v->why));      /* unterminated: terminated for us */
    return false;
}

/* Puts a valid CRC on b (what a record's writer does last). */
static void reseal(uint8_t *b)
{
    uint32_t c = tern_crc32(0, b, TERN_BOOT_STATE_BYTES - 4);
    for (int i = 0; i < 4; i++)
        b[TERN_BOOT_STATE_BYTES - 4 + i] = (uint8_t)(c >> (8 * i));
}

/* A copy must decode to a state that re-encodes to the same bytes. */
static bool decode_copy(const uint8_t *b, struct tern_boot_state *s)
{
    if (tern_boot_state_decode(b, TERN_BOOT_STATE_BYTES, s, NULL) != TERN_OK)
        return false;
    uint8_t e[TERN_BOOT_STATE_BYTES];
    tern_boot_state_encode(s, e);
    if (memcmp(e, b, sizeof(e)) != 0)
        abort();
    return true;
}

static void check_state(const struct tern_boot_state *s, uint64_t counter_before)
{
    uint8_t e[TERN_BOOT_STATE_BYTES];
    struct tern_boot_state d;
    tern_boot_state_encode(s, e);
    if (tern_boot_state_decode(e, sizeof(e), &d, NULL) != TERN_OK)
        abort();
    if (s->counter < counter_before)
        abort();
    char small[7], big[TERN_UPDATE_STATUS_MAX];
    size_t n = tern_boot_state_render(s, true, big, sizeof(big));
    if (n >= sizeof(big) || strlen(big) != n ||
        tern_boot_state_render(s, true, small, sizeof(small)) != n || strlen(small) > 6)
        abort();
}

static void check_choice(const struct tern_boot_state *s, tern_result r,
                         const struct tern_boot_choice *c)
{
    if (r != TERN_OK) {
        if (r != TERN_ENOENT || c->slot != TERN_SLOT_NONE)
            abort();
        return;
    }
    if (c->slot > TERN_SLOT_B || s->slot[c->slot].bad)
        abort();
    if (c->trial && (c->slot != s->pending || c->tries_left != s->tries))
        abort();
    if (!c->trial && c->slot != s->active)
        abort();
}

/* One event from byte e; running is the slot the last select chose. */
static void event(struct tern_boot_state *s, bool *have, uint8_t e, uint8_t *running)
{
    unsigned slot = (e >> 3) & 1, arg = e >> 4;
    uint64_t before = *have ? s->counter : 0;
    struct tern_boot_choice c;
    tern_result r;
    switch (e & 7) {
    case 0:
    case 1: {
        unsigned ok = (e >> 3) & 3;
        ok |= (unsigned)arg << 4;
        r = tern_boot_state_select(s, *have, fuzz_verify, &ok, &c);
        check_choice(s, r, &c);
        *running = c.slot;
        *have = *have || c.changed;
        break;
    }
    case 2:
        r = tern_boot_state_stage(s, *running, slot, arg * 7, (const uint8_t *)"pkg", arg & 3);
        *have = *have || r == TERN_OK;
        break;
    case 3:
        (void)tern_boot_state_forget(s, *running, slot);
        break;
    case 4:
        (void)tern_boot_state_confirm(s, *running, arg);
        break;
    case 5:
        (void)tern_boot_state_fail(s, *running, arg, "fuzz\x01text");
        break;
    default:
        *running = (uint8_t)(arg < 2 ? arg : TERN_SLOT_NONE);
        break;
    }
    if (*have)
        check_state(s, before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t copy[2][TERN_BOOT_STATE_BYTES];
    struct tern_boot_state s[2];
    memset(copy, 0, sizeof(copy));
    memcpy(copy, data, size < sizeof(copy) ? size : sizeof(copy));
    if (size < TERN_BOOT_STATE_BYTES &&
        tern_boot_state_decode(data, size, &s[0], NULL) != TERN_EIO)
        abort();
    bool ok0 = decode_copy(copy[0], &s[0]);
    bool ok1 = decode_copy(copy[1], &s[1]);
    int cur = tern_boot_state_pick(ok0, &s[0], ok1, &s[1]);
    if (cur < -1 || cur > 1 || (cur == 0 && !ok0) || (cur == 1 && !ok1) ||
        (cur == -1 && (ok0 || ok1)))
        abort();
    if (cur < 0) {
        /* The field checks behind the CRC: the copies sealed afresh. */
        reseal(copy[0]);
        reseal(copy[1]);
        ok0 = decode_copy(copy[0], &s[0]);
        ok1 = decode_copy(copy[1], &s[1]);
        cur = tern_boot_state_pick(ok0, &s[0], ok1, &s[1]);
    }
    struct tern_boot_state st;
    bool have = cur >= 0;
    if (have)
        st = s[cur];
    else
        tern_boot_state_fresh(&st);
    uint8_t running = TERN_SLOT_NONE;
    for (size_t i = sizeof(copy); i < size && i < sizeof(copy) + 64; i++)
        event(&st, &have, data[i], &running);
    return 0;
}
