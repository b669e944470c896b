/*
 * Unit tests for core/update: the boot-state record's codec (every field,
 * every refusal, canonical re-encoding, the copy pick with sequence
 * wraparound), the state machine as a table of start state x event ->
 * expected state (rollback paths included), and the record on a FAT
 * volume in memory (512- and 4096-byte sectors): copies alternate, each
 * store is on the device (not just in the cache) when the call returns,
 * a trial's try is on the device before boot_select returns, a corrupted
 * copy, both copies corrupted, a newer copy with a bad CRC, wraparound.
 *
 *   test_update [FIXTURE_DIR]   (fixtures/fuzz/bootstate: records made by
 *                                tests/update/gen_seeds.py from the
 *                                documented layout, decoded here)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tern/blockdev.h"
#include "tern/fat.h"
#include "tern/gpt.h"
#include "tern/update.h"

#define A TERN_SLOT_A
#define B TERN_SLOT_B
#define N TERN_SLOT_NONE

static const char *fixture_dir;

/* ---- helpers over records ---- */

static void set_id(struct tern_boot_state *s, unsigned slot, const char *id)
{
    memset(s->slot[slot].id, 0, sizeof(s->slot[slot].id));
    s->slot[slot].id_len = (uint8_t)strlen(id);
    memcpy(s->slot[slot].id, id, strlen(id));
}

/* A record with every field set. */
static void full_state(struct tern_boot_state *s)
{
    tern_boot_state_fresh(s);
    s->seq = 0x01020304;
    s->active = A;
    s->pending = B;
    s->tries = 2;
    s->confirmed = true;
    s->counter = 0x1122334455667788ull;
    s->rollbacks = 9;
    s->last.slot = B;
    s->last.why = TERN_UPDATE_WHY_UNHEALTHY;
    strcpy(s->last.text, "no 200 in 10 s");
    set_id(s, A, "hello 1.0.0 key=0123abcd");
    set_id(s, B, "hello 2.0.0 key=0123abcd");
}

static void assert_same_record(const struct tern_boot_state *a, const struct tern_boot_state *b)
{
    uint8_t ea[TERN_BOOT_STATE_BYTES], eb[TERN_BOOT_STATE_BYTES];
    tern_boot_state_encode(a, ea);
    tern_boot_state_encode(b, eb);
    assert_memory_equal(ea, eb, sizeof(ea));
}

/* Re-seals a record's CRC after a test changed its bytes. */
static void reseal(uint8_t *b)
{
    uint32_t c = tern_crc32(0, b, 508);
    for (int i = 0; i < 4; i++)
        b[508 + i] = (uint8_t)(c >> (8 * i));
}

/* ---- codec ---- */

static void test_codec_round_trip_and_layout(void **state)
{
    (void)state;
    struct tern_boot_state s, d;
    full_state(&s);
    uint8_t b[TERN_BOOT_STATE_BYTES];
    tern_boot_state_encode(&s, b);
    /* The documented layout (docs/updates.md), field by field. */
    assert_memory_equal(b, "TBSR", 4);
    assert_int_equal(b[4] | b[5] << 8, 1);          /* format version */
    assert_int_equal(b[6] | b[7] << 8, 512);        /* record bytes */
    assert_int_equal(b[8], 0x04);                   /* seq, little-endian */
    assert_int_equal(b[11], 0x01);
    assert_int_equal(b[12], A);                     /* active */
    assert_int_equal(b[13], B);                     /* pending */
    assert_int_equal(b[14], 2);                     /* tries */
    assert_int_equal(b[15], 1);                     /* confirmed */
    assert_int_equal(b[16], 0x88);                  /* counter */
    assert_int_equal(b[23], 0x11);
    assert_int_equal(b[24], 9);                     /* rollbacks */
    assert_int_equal(b[28], B);                     /* last rollback slot */
    assert_int_equal(b[29], TERN_UPDATE_WHY_UNHEALTHY);
    assert_memory_equal(b + 32, "no 200 in 10 s", 15);
    assert_int_equal(b[96], 0);                     /* slot A flags */
    assert_int_equal(b[97], 24);                    /* slot A id length */
    assert_memory_equal(b + 98, "hello 1.0.0", 11);
    assert_int_equal(b[297], 24);                   /* slot B id length */
    assert_memory_equal(b + 298, "hello 2.0.0", 11);
    uint32_t crc = tern_crc32(0, b, 508);
    assert_int_equal(b[508] | b[509] << 8 | b[510] << 16 | (uint32_t)b[511] << 24, crc);
    assert_int_equal(tern_boot_state_decode(b, sizeof(b), &d, NULL), TERN_OK);
    assert_same_record(&s, &d);
    assert_int_equal(d.seq, s.seq);
    assert_int_equal(d.counter, s.counter);
    assert_string_equal(d.last.text, s.last.text);
}

/* Every single byte flipped: refused (the CRC), never a different record. */
static void test_codec_every_byte_flipped(void **state)
{
    (void)state;
    struct tern_boot_state s, d;
    full_state(&s);
    uint8_t b[TERN_BOOT_STATE_BYTES];
    tern_boot_state_encode(&s, b);
    for (unsigned i = 0; i < sizeof(b); i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            const char *why = NULL;
            if (tern_boot_state_decode(b, sizeof(b), &d, &why) == TERN_OK)
                fail_msg("byte %u bit %u flipped: accepted", i, bit);
            assert_string_equal(why, "bad-crc");
            b[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_int_equal(tern_boot_state_decode(b, sizeof(b) - 1, &d, NULL), TERN_EIO);
}

struct refusal {
    unsigned off;
    uint8_t val;
    const char *why;
};

/* Fields broken with a good CRC: each refused with its reason. */
static void test_codec_refusals(void **state)
{
    (void)state;
    static const struct refusal cases[] = {
        { 0, 'X', "bad-magic" },      { 4, 2, "bad-version" },     { 7, 1, "bad-size" },
        { 12, 2, "bad-slot" },        { 13, 7, "bad-slot" },       { 28, 3, "bad-slot" },
        { 14, 101, "bad-tries" },     { 15, 4, "bad-flags" },      { 29, 8, "bad-rollback" },
        { 32, 0x07, "bad-text" },     { 47, 'x', "bad-text" },     { 95, 'x', "bad-text" },
        { 96, 2, "bad-flags" },       { 97, 199, "bad-id" },       { 200, 1, "bad-id" },
        { 30, 1, "bad-reserved" },    { 500, 1, "bad-reserved" },  { 13, A, "bad-invariant" },
        { 96, 1, "bad-invariant" },   { 296, 1, "bad-invariant" }, { 29, 0, "bad-invariant" },
    };
    struct tern_boot_state s, d;
    full_state(&s);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t b[TERN_BOOT_STATE_BYTES];
        tern_boot_state_encode(&s, b);
        b[cases[i].off] = cases[i].val;
        reseal(b);
        const char *why = NULL;
        if (tern_boot_state_decode(b, sizeof(b), &d, &why) != TERN_EIO)
            fail_msg("offset %u = %u: accepted", cases[i].off, cases[i].val);
        if (strcmp(why, cases[i].why) != 0)
            fail_msg("offset %u = %u: %s, wanted %s", cases[i].off, cases[i].val, why,
                     cases[i].why);
    }
    /* More invariants: tries without pending; confirmed without active;
     * a rollback slot without a reason; text without a reason. */
    struct tern_boot_state bad[4];
    for (int i = 0; i < 4; i++)
        tern_boot_state_fresh(&bad[i]);
    bad[0].tries = 1;
    bad[1].confirmed = true;
    bad[2].last.slot = A;
    strcpy(bad[3].last.text, "x");
    for (int i = 0; i < 4; i++) {
        uint8_t b[TERN_BOOT_STATE_BYTES];
        tern_boot_state_encode(&bad[i], b);
        const char *why = NULL;
        assert_int_equal(tern_boot_state_decode(b, sizeof(b), &d, &why), TERN_EIO);
        assert_string_equal(why, "bad-invariant");
    }
}

static void test_codec_pick_and_wraparound(void **state)
{
    (void)state;
    struct tern_boot_state s0, s1;
    tern_boot_state_fresh(&s0);
    tern_boot_state_fresh(&s1);
    s0.seq = 5;
    s1.seq = 6;
    assert_int_equal(tern_boot_state_pick(true, &s0, true, &s1), 1);
    assert_int_equal(tern_boot_state_pick(true, &s1, true, &s0), 0);
    assert_int_equal(tern_boot_state_pick(true, &s0, false, &s1), 0);
    assert_int_equal(tern_boot_state_pick(false, &s0, true, &s1), 1);
    assert_int_equal(tern_boot_state_pick(false, &s0, false, &s1), -1);
    s0.seq = 0xffffffffu;                 /* wraparound: 0 follows 0xffffffff */
    s1.seq = 0;
    assert_int_equal(tern_boot_state_pick(true, &s0, true, &s1), 1);
    assert_int_equal(tern_boot_state_pick(true, &s1, true, &s0), 0);
    s0.seq = 0xfffffffeu;
    s1.seq = 0xffffffffu;
    assert_int_equal(tern_boot_state_pick(true, &s0, true, &s1), 1);
    s1.seq = s0.seq;                      /* equal: copy 0 */
    assert_int_equal(tern_boot_state_pick(true, &s0, true, &s1), 0);
}

/* Records written from docs/updates.md by tests/update/gen_seeds.py
 * (a second encoder): valid-* decode and re-encode to the same bytes,
 * invalid-* are refused. */
static void test_codec_python_records(void **state)
{
    (void)state;
    static const char *const valid[] = { "valid-fresh.bin", "valid-full.bin",
                                         "valid-pending.bin", "valid-rollback.bin" };
    static const char *const invalid[] = { "invalid-torn.bin", "invalid-badcrc.bin" };
    if (fixture_dir == NULL)
        skip();
    for (size_t k = 0; k < 6; k++) {
        const char *name = k < 4 ? valid[k] : invalid[k - 4];
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", fixture_dir, name);
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            fail_msg("cannot open %s", path);
        uint8_t b[1024], e[TERN_BOOT_STATE_BYTES];
        size_t n = fread(b, 1, sizeof(b), f);
        fclose(f);
        assert_true(n >= TERN_BOOT_STATE_BYTES);
        struct tern_boot_state s;
        tern_result r = tern_boot_state_decode(b, n, &s, NULL);
        if (k >= 4) {
            assert_int_equal(r, TERN_EIO);
            continue;
        }
        if (r != TERN_OK)
            fail_msg("%s refused", name);
        tern_boot_state_encode(&s, e);
        assert_memory_equal(b, e, sizeof(e));
    }
}

/* ---- the state machine: start state x event -> expected state ---- */

struct compact {
    uint8_t active, pending, tries;
    bool confirmed;
    uint8_t bad;                  /* bit 0: A bad, bit 1: B bad */
    uint8_t last_slot, last_why;
    uint32_t rollbacks;
    uint64_t counter;
};

enum ev_kind { SELECT, SELECT_FRESH, STAGE, FORGET, CONFIRM, FAIL };

struct event {
    enum ev_kind kind;
    uint8_t running;
    uint8_t ok;                   /* SELECT: bit 0 A verifies, bit 1 B verifies */
    uint8_t slot;                 /* STAGE, FORGET */
    unsigned tries;               /* STAGE */
    unsigned why;                 /* FAIL */
    uint64_t counter;             /* CONFIRM */
};

struct expect {
    tern_result r;
    struct compact s;
    uint8_t slot;                 /* SELECT: choice */
    bool trial, rolled_back, initialised, changed;
};

struct row {
    const char *name;
    struct compact start;
    struct event ev;
    struct expect want;
};

/* active pending tries confirmed bad last_slot last_why rollbacks counter */
#define ST(...) ST_(__VA_ARGS__)
#define ST_(a, p, t, c, bad, ls, lw, rb, ctr) { a, p, t, c, bad, ls, lw, rb, ctr }
#define NOLAST N, TERN_UPDATE_WHY_NONE
#define W_TRIES TERN_UPDATE_WHY_TRIES
#define W_VERIFY TERN_UPDATE_WHY_VERIFY
#define W_UNHEALTHY TERN_UPDATE_WHY_UNHEALTHY
#define FRESH(v) { .kind = SELECT_FRESH, .running = N, .ok = v }
#define SEL(v) { .kind = SELECT, .running = N, .ok = v }
#define STG(run, s, t) { .kind = STAGE, .running = run, .slot = s, .tries = t }
#define FGT(run, s) { .kind = FORGET, .running = run, .slot = s }
#define CNF(run, c) { .kind = CONFIRM, .running = run, .counter = c }
#define FAL(run, w) { .kind = FAIL, .running = run, .why = w }

static const struct row rows[] = {
    /* select on a fresh volume */
    { "fresh: A first", ST(N, N, 0, 0, 0, NOLAST, 0, 0), FRESH(3),
      { TERN_OK, ST(A, N, 0, 0, 0, NOLAST, 0, 0), A, 0, 0, 1, 1 } },
    { "fresh: only B verifies", ST(N, N, 0, 0, 0, NOLAST, 0, 0), FRESH(2),
      { TERN_OK, ST(B, N, 0, 0, 0, NOLAST, 0, 0), B, 0, 0, 1, 1 } },
    { "fresh: nothing verifies", ST(N, N, 0, 0, 0, NOLAST, 0, 0), FRESH(0),
      { TERN_ENOENT, ST(N, N, 0, 0, 0, NOLAST, 0, 0), N, 0, 0, 0, 0 } },
    /* select with a record */
    { "active boots", ST(A, N, 0, 1, 0, NOLAST, 0, 4), SEL(3),
      { TERN_OK, ST(A, N, 0, 1, 0, NOLAST, 0, 4), A, 0, 0, 0, 0 } },
    { "pending: trial, try counted", ST(A, B, 3, 1, 0, NOLAST, 0, 4), SEL(3),
      { TERN_OK, ST(A, B, 2, 1, 0, NOLAST, 0, 4), B, 1, 0, 0, 1 } },
    { "pending: last try", ST(A, B, 1, 1, 0, NOLAST, 0, 4), SEL(3),
      { TERN_OK, ST(A, B, 0, 1, 0, NOLAST, 0, 4), B, 1, 0, 0, 1 } },
    { "pending: tries exhausted", ST(A, B, 0, 1, 0, NOLAST, 0, 4), SEL(3),
      { TERN_OK, ST(A, N, 0, 1, 2, B, W_TRIES, 1, 4), A, 0, 1, 0, 1 } },
    { "pending: refused by verify", ST(A, B, 3, 1, 0, NOLAST, 0, 4), SEL(1),
      { TERN_OK, ST(A, N, 0, 1, 2, B, W_VERIFY, 1, 4), A, 0, 1, 0, 1 } },
    { "pending: trial though active fails", ST(A, B, 2, 1, 0, NOLAST, 0, 4), SEL(2),
      { TERN_OK, ST(A, B, 1, 1, 0, NOLAST, 0, 4), B, 1, 0, 0, 1 } },
    { "pending exhausted, active refused", ST(A, B, 0, 1, 0, NOLAST, 0, 4), SEL(2),
      { TERN_ENOENT, ST(N, N, 0, 0, 3, A, W_VERIFY, 2, 4), N, 0, 1, 0, 1 } },
    { "active refused: other slot", ST(A, N, 0, 1, 0, NOLAST, 0, 4), SEL(2),
      { TERN_OK, ST(B, N, 0, 0, 1, A, W_VERIFY, 1, 4), B, 0, 1, 0, 1 } },
    { "active refused, other bad", ST(A, N, 0, 1, 2, B, W_TRIES, 1, 4), SEL(2),
      { TERN_ENOENT, ST(N, N, 0, 0, 3, A, W_VERIFY, 2, 4), N, 0, 1, 0, 1 } },
    { "active refused, other too", ST(A, N, 0, 1, 0, NOLAST, 0, 4), SEL(0),
      { TERN_ENOENT, ST(N, N, 0, 0, 1, A, W_VERIFY, 1, 4), N, 0, 1, 0, 1 } },
    { "no active: pending trial", ST(N, A, 3, 0, 0, NOLAST, 0, 0), SEL(3),
      { TERN_OK, ST(N, A, 2, 0, 0, NOLAST, 0, 0), A, 1, 0, 0, 1 } },
    { "no active: first good slot", ST(N, N, 0, 0, 1, A, W_VERIFY, 1, 0), SEL(3),
      { TERN_OK, ST(B, N, 0, 0, 1, A, W_VERIFY, 1, 0), B, 0, 0, 0, 1 } },
    { "no active: pending out, B", ST(N, A, 0, 0, 0, NOLAST, 0, 0), SEL(3),
      { TERN_OK, ST(B, N, 0, 0, 1, A, W_TRIES, 1, 0), B, 0, 1, 0, 1 } },
    /* stage */
    { "stage B, default tries", ST(A, N, 0, 1, 0, NOLAST, 0, 0), STG(A, B, 0),
      { TERN_OK, ST(A, B, 3, 1, 0, NOLAST, 0, 0), N, 0, 0, 0, 0 } },
    { "stage offline, 5 tries", ST(A, B, 1, 1, 0, NOLAST, 0, 0), STG(N, B, 5),
      { TERN_OK, ST(A, B, 5, 1, 0, NOLAST, 0, 0), N, 0, 0, 0, 0 } },
    { "stage clears bad", ST(A, N, 0, 1, 2, B, W_TRIES, 1, 0), STG(A, B, 2),
      { TERN_OK, ST(A, B, 2, 1, 0, B, W_TRIES, 1, 0), N, 0, 0, 0, 0 } },
    { "stage without active", ST(N, N, 0, 0, 0, NOLAST, 0, 0), STG(N, A, 0),
      { TERN_OK, ST(N, A, 3, 0, 0, NOLAST, 0, 0), N, 0, 0, 0, 0 } },
    { "stage the active slot", ST(A, N, 0, 1, 0, NOLAST, 0, 0), STG(N, A, 0),
      { TERN_EBUSY, ST(A, N, 0, 1, 0, NOLAST, 0, 0), N, 0, 0, 0, 0 } },
    { "stage during a trial", ST(A, B, 2, 1, 0, NOLAST, 0, 0), STG(B, B, 0),
      { TERN_EBUSY, ST(A, B, 2, 1, 0, NOLAST, 0, 0), N, 0, 0, 0, 0 } },
    { "stage the running slot", ST(N, N, 0, 0, 0, NOLAST, 0, 0), STG(B, B, 0),
      { TERN_EBUSY, ST(N, N, 0, 0, 0, NOLAST, 0, 0), N, 0, 0, 0, 0 } },
    { "stage too many tries", ST(A, N, 0, 1, 0, NOLAST, 0, 0), STG(A, B, 101),
      { TERN_EINVAL, ST(A, N, 0, 1, 0, NOLAST, 0, 0), N, 0, 0, 0, 0 } },
    { "stage no slot", ST(A, N, 0, 1, 0, NOLAST, 0, 0), STG(A, N, 0),
      { TERN_EINVAL, ST(A, N, 0, 1, 0, NOLAST, 0, 0), N, 0, 0, 0, 0 } },
    /* forget */
    { "forget the pending slot", ST(A, B, 2, 1, 0, NOLAST, 0, 0), FGT(N, B),
      { TERN_OK, ST(A, N, 0, 1, 0, NOLAST, 0, 0), N, 0, 0, 0, 0 } },
    { "forget a bad slot", ST(A, N, 0, 1, 2, B, W_TRIES, 1, 0), FGT(A, B),
      { TERN_OK, ST(A, N, 0, 1, 0, B, W_TRIES, 1, 0), N, 0, 0, 0, 0 } },
    { "forget the active slot", ST(A, N, 0, 1, 0, NOLAST, 0, 0), FGT(N, A),
      { TERN_EBUSY, ST(A, N, 0, 1, 0, NOLAST, 0, 0), N, 0, 0, 0, 0 } },
    /* confirm */
    { "confirm a trial", ST(A, B, 1, 1, 0, NOLAST, 0, 3), CNF(B, 5),
      { TERN_OK, ST(B, N, 0, 1, 0, NOLAST, 0, 5), N, 0, 0, 0, 0 } },
    { "confirm the active slot", ST(A, N, 0, 0, 0, NOLAST, 0, 7), CNF(A, 2),
      { TERN_OK, ST(A, N, 0, 1, 0, NOLAST, 0, 7), N, 0, 0, 0, 0 } },
    { "confirm: counter never falls", ST(A, B, 0, 1, 0, NOLAST, 0, 9), CNF(B, 1),
      { TERN_OK, ST(B, N, 0, 1, 0, NOLAST, 0, 9), N, 0, 0, 0, 0 } },
    { "confirm offline", ST(A, B, 1, 1, 0, NOLAST, 0, 0), CNF(N, 1),
      { TERN_EINVAL, ST(A, B, 1, 1, 0, NOLAST, 0, 0), N, 0, 0, 0, 0 } },
    { "confirm a stranger", ST(A, N, 0, 1, 0, NOLAST, 0, 0), CNF(B, 1),
      { TERN_EINVAL, ST(A, N, 0, 1, 0, NOLAST, 0, 0), N, 0, 0, 0, 0 } },
    /* fail */
    { "fail a trial", ST(A, B, 2, 1, 0, NOLAST, 0, 3), FAL(B, W_UNHEALTHY),
      { TERN_OK, ST(A, N, 0, 1, 2, B, W_UNHEALTHY, 1, 3), N, 0, 0, 0, 0 } },
    { "fail a trial without active", ST(N, A, 2, 0, 0, NOLAST, 0, 0), FAL(A, 3),
      { TERN_OK, ST(N, N, 0, 0, 1, A, TERN_UPDATE_WHY_CRASH, 1, 0), N, 0, 0, 0, 0 } },
    { "fail the confirmed slot", ST(A, N, 0, 1, 0, NOLAST, 0, 0), FAL(A, W_UNHEALTHY),
      { TERN_EINVAL, ST(A, N, 0, 1, 0, NOLAST, 0, 0), N, 0, 0, 0, 0 } },
    { "fail without a reason", ST(A, B, 2, 1, 0, NOLAST, 0, 0), FAL(B, 0),
      { TERN_EINVAL, ST(A, B, 2, 1, 0, NOLAST, 0, 0), N, 0, 0, 0, 0 } },
    { "fail with an unknown reason", ST(A, B, 2, 1, 0, NOLAST, 0, 0), FAL(B, 8),
      { TERN_EINVAL, ST(A, B, 2, 1, 0, NOLAST, 0, 0), N, 0, 0, 0, 0 } },
};

static void from_compact(struct tern_boot_state *s, const struct compact *c)
{
    tern_boot_state_fresh(s);
    s->seq = 40;
    s->active = c->active;
    s->pending = c->pending;
    s->tries = c->tries;
    s->confirmed = c->confirmed;
    s->slot[A].bad = c->bad & 1;
    s->slot[B].bad = (c->bad & 2) != 0;
    s->last.slot = c->last_slot;
    s->last.why = c->last_why;
    s->rollbacks = c->rollbacks;
    s->counter = c->counter;
    set_id(s, A, "app 1");
    set_id(s, B, "app 2");
}

static bool table_verify(void *arg, unsigned slot, uint64_t min_counter,
                         struct tern_update_verdict *v)
{
    (void)min_counter;
    unsigned ok = *(const unsigned *)arg;
    if (ok & (1u << slot)) {
        v->id_len = 3;
        memcpy(v->id, slot == A ? "v-a" : "v-b", 3);
        return true;
    }
    strcpy(v->why, "bad-signature");
    return false;
}

static tern_result apply(struct tern_boot_state *s, const struct event *e,
                         struct tern_boot_choice *c)
{
    unsigned ok = e->ok;
    memset(c, 0, sizeof(*c));
    c->slot = N;
    switch (e->kind) {
    case SELECT:
    case SELECT_FRESH:
        return tern_boot_state_select(s, e->kind == SELECT, table_verify, &ok, c);
    case STAGE:
        return tern_boot_state_stage(s, e->running, e->slot, e->tries, (const uint8_t *)"new", 3);
    case FORGET:
        return tern_boot_state_forget(s, e->running, e->slot);
    case CONFIRM:
        return tern_boot_state_confirm(s, e->running, e->counter);
    case FAIL:
        return tern_boot_state_fail(s, e->running, e->why, "health: timeout");
    }
    return TERN_EINVAL;
}

static void check_row(const struct row *row)
{
    struct tern_boot_state s, before;
    from_compact(&s, &row->start);
    if (row->ev.kind == SELECT_FRESH)
        tern_boot_state_fresh(&s);
    before = s;
    struct tern_boot_choice c;
    tern_result r = apply(&s, &row->ev, &c);
    const struct expect *w = &row->want;
    const struct compact *ws = &w->s;
    uint8_t bad = (uint8_t)(s.slot[A].bad | s.slot[B].bad << 1);
    if (r != w->r || s.active != ws->active || s.pending != ws->pending ||
        s.tries != ws->tries || s.confirmed != ws->confirmed || bad != ws->bad ||
        s.last.slot != ws->last_slot || s.last.why != ws->last_why ||
        s.rollbacks != ws->rollbacks || s.counter != ws->counter)
        fail_msg("%s: got r=%d active=%u pending=%u tries=%u confirmed=%d bad=%u last=%u/%u "
                 "rollbacks=%u counter=%llu",
                 row->name, r, s.active, s.pending, s.tries, s.confirmed, bad, s.last.slot,
                 s.last.why, s.rollbacks, (unsigned long long)s.counter);
    if (row->ev.kind == SELECT || row->ev.kind == SELECT_FRESH) {
        if (c.slot != w->slot || c.trial != w->trial || c.rolled_back != w->rolled_back ||
            c.initialised != w->initialised || c.changed != w->changed)
            fail_msg("%s: choice slot=%u trial=%d rolled_back=%d initialised=%d changed=%d",
                     row->name, c.slot, c.trial, c.rolled_back, c.initialised, c.changed);
        if (c.trial)
            assert_int_equal(c.tries_left, s.tries);
    }
    if (r != TERN_OK && row->ev.kind != SELECT && row->ev.kind != SELECT_FRESH)
        assert_same_record(&s, &before);      /* a refusal changes nothing */
    /* Whatever a transition makes is a record the decoder accepts. */
    uint8_t b[TERN_BOOT_STATE_BYTES];
    struct tern_boot_state d;
    tern_boot_state_encode(&s, b);
    const char *why = NULL;
    if (tern_boot_state_decode(b, sizeof(b), &d, &why) != TERN_OK)
        fail_msg("%s: the result does not decode: %s", row->name, why);
}

static void test_transition_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        check_row(&rows[i]);
}

/* The details the table does not show: ids, texts, the fresh id. */
static void test_transition_details(void **state)
{
    (void)state;
    struct tern_boot_state s;
    struct tern_boot_choice c;
    unsigned ok = 3;
    tern_boot_state_fresh(&s);
    assert_int_equal(tern_boot_state_select(&s, false, table_verify, &ok, &c), TERN_OK);
    assert_int_equal(s.slot[A].id_len, 3);
    assert_memory_equal(s.slot[A].id, "v-a", 3);
    assert_int_equal(tern_boot_state_stage(&s, A, B, 2, (const uint8_t *)"hello 2", 7), TERN_OK);
    assert_memory_equal(s.slot[B].id, "hello 2", 7);
    ok = 1;                               /* B refused at boot */
    assert_int_equal(tern_boot_state_select(&s, true, table_verify, &ok, &c), TERN_OK);
    assert_string_equal(s.last.text, "bad-signature");
    assert_int_equal(tern_boot_state_stage(&s, A, B, 1, (const uint8_t *)"hello 3", 7), TERN_OK);
    ok = 3;
    assert_int_equal(tern_boot_state_select(&s, true, table_verify, &ok, &c), TERN_OK);
    assert_true(c.trial);
    char longtext[200];
    memset(longtext, 'x', sizeof(longtext));
    longtext[5] = '\n';
    longtext[199] = '\0';
    assert_int_equal(tern_boot_state_fail(&s, B, TERN_UPDATE_WHY_OTHER, longtext), TERN_OK);
    assert_int_equal(strlen(s.last.text), TERN_UPDATE_TEXT_MAX - 1);
    assert_int_equal(s.last.text[5], '?');
    /* A rollback recorded by fail is told by the next boot, once. */
    assert_true(s.announce);
    {
        uint8_t rec[TERN_BOOT_STATE_BYTES];
        struct tern_boot_state back, again;
        tern_boot_state_encode(&s, rec);
        assert_int_equal(rec[15] & 2, 2);
        assert_int_equal(tern_boot_state_decode(rec, sizeof(rec), &back, NULL), TERN_OK);
        assert_true(back.announce);
        assert_int_equal(tern_boot_state_select(&back, true, table_verify, &ok, &c), TERN_OK);
        assert_true(c.rolled_back && c.changed && !c.trial);
        assert_int_equal(c.slot, A);
        assert_false(back.announce);
        again = back;
        assert_int_equal(tern_boot_state_select(&again, true, table_verify, &ok, &c), TERN_OK);
        assert_false(c.rolled_back || c.changed);
        back.last.why = TERN_UPDATE_WHY_NONE;      /* announce without a rollback: refused */
        back.last.slot = N;
        back.last.text[0] = '\0';
        back.announce = true;
        tern_boot_state_encode(&back, rec);
        const char *why = NULL;
        assert_int_equal(tern_boot_state_decode(rec, sizeof(rec), &again, &why), TERN_EIO);
        assert_string_equal(why, "bad-invariant");
    }
    assert_int_equal(tern_boot_state_stage(&s, A, B, 1, (const uint8_t *)"x", 199), TERN_EINVAL);
    assert_int_equal(tern_boot_state_stage(&s, A, B, 1, NULL, 1), TERN_EINVAL);
    uint8_t b[TERN_BOOT_STATE_BYTES];
    struct tern_boot_state d;
    tern_boot_state_encode(&s, b);
    assert_int_equal(tern_boot_state_decode(b, sizeof(b), &d, NULL), TERN_OK);
    /* adopt: a volume's first package, offline (tern-pkg install) */
    tern_boot_state_fresh(&s);
    assert_int_equal(tern_boot_state_adopt(&s, N, 1, NULL, 0), TERN_EINVAL);
    assert_int_equal(tern_boot_state_adopt(&s, B, 7, (const uint8_t *)"first", 5), TERN_OK);
    assert_true(s.active == B && s.confirmed && s.counter == 7 && s.pending == N);
    assert_memory_equal(s.slot[B].id, "first", 5);
    assert_int_equal(tern_boot_state_adopt(&s, A, 9, NULL, 0), TERN_EBUSY);
    tern_boot_state_encode(&s, b);
    assert_int_equal(tern_boot_state_decode(b, sizeof(b), &d, NULL), TERN_OK);
    assert_string_equal(tern_update_why_name(TERN_UPDATE_WHY_TRIES), "tries-exhausted");
    assert_string_equal(tern_update_why_name(99), "unknown");
    assert_null(tern_update_slot_path(N));
}

static void test_render(void **state)
{
    (void)state;
    struct tern_boot_state s;
    full_state(&s);
    s.slot[B].id[0] = 0x01;
    s.slot[B].id[1] = '"';
    char buf[1024];
    size_t n = tern_boot_state_render(&s, true, buf, sizeof(buf));
    assert_int_equal(n, strlen(buf));
    assert_non_null(strstr(buf, "update: seq=16909060 active=A confirmed=yes pending=B "
                                "tries=2 counter=1234605616436508552 rollbacks=9\n"));
    assert_non_null(strstr(buf, "slot A: active id=\"hello 1.0.0 key=0123abcd\"\n"));
    assert_non_null(strstr(buf, "slot B: pending id=\"\\x01\\x22llo 2.0.0 key=0123abcd\"\n"));
    assert_non_null(strstr(buf, "last rollback: slot=B reason=unhealthy "
                                "text=\"no 200 in 10 s\"\n"));
    char small[16];
    assert_int_equal(tern_boot_state_render(&s, true, small, sizeof(small)), n);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_int_equal(tern_boot_state_render(&s, true, NULL, 0), n);
    tern_boot_state_render(&s, false, buf, sizeof(buf));
    assert_string_equal(buf, "update: no boot-state record\n");
    s.pending = N;
    s.tries = 0;
    s.slot[B].bad = true;
    tern_boot_state_render(&s, true, buf, sizeof(buf));
    assert_non_null(strstr(buf, "slot B: bad id="));
    s.slot[B].bad = false;
    tern_boot_state_render(&s, true, buf, sizeof(buf));
    assert_non_null(strstr(buf, "slot B: spare id="));
    s.slot[B].id_len = 0;
    tern_boot_state_render(&s, true, buf, sizeof(buf));
    assert_non_null(strstr(buf, "slot B: empty id=\"\""));
    /* The longest text: every byte escaped, every number at its widest. */
    s.seq = s.rollbacks = UINT32_MAX;
    s.counter = UINT64_MAX;
    s.pending = B;
    s.tries = TERN_UPDATE_TRIES_MAX;
    s.slot[B].bad = false;
    s.last.why = TERN_UPDATE_WHY_TRIES;
    memset(s.last.text, '"', TERN_UPDATE_TEXT_MAX - 1);
    for (unsigned i = 0; i < TERN_SLOTS; i++) {
        s.slot[i].id_len = TERN_UPDATE_ID_MAX;
        memset(s.slot[i].id, 0x01, TERN_UPDATE_ID_MAX);
    }
    static char huge[4096];
    n = tern_boot_state_render(&s, true, huge, sizeof(huge));
    assert_int_equal(n, 2048);
    assert_true(n < TERN_UPDATE_STATUS_MAX);
}

/* ---- the record on a FAT volume in memory ---- */

struct ram {
    uint8_t *mem;
    uint32_t ss;
    uint64_t sectors;
    uint64_t writes, flushes;
    uint64_t fail_flush_at;       /* the flush that fails (1-based); 0: none */
};

static tern_result ram_read(void *ctx, uint64_t lba, void *buf, uint32_t count)
{
    struct ram *r = ctx;
    if (lba + count > r->sectors)
        return TERN_EINVAL;
    memcpy(buf, r->mem + lba * r->ss, (size_t)count * r->ss);
    return TERN_OK;
}

static tern_result ram_write(void *ctx, uint64_t lba, const void *buf, uint32_t count)
{
    struct ram *r = ctx;
    if (lba + count > r->sectors)
        return TERN_EINVAL;
    memcpy(r->mem + lba * r->ss, buf, (size_t)count * r->ss);
    r->writes += count;
    return TERN_OK;
}

static tern_result ram_flush(void *ctx)
{
    struct ram *r = ctx;
    return ++r->flushes == r->fail_flush_at ? TERN_EIO : TERN_OK;
}

static const struct tern_bdev_ops ram_ops = { ram_read, ram_write, ram_flush };

struct vol {
    struct ram ram;
    struct tern_bdev dev;
    void *cache;
    struct tern_fat fs;
    struct tern_update u;
};

static struct vol *vol_new(uint32_t ss, uint64_t bytes)
{
    struct vol *v = test_calloc(1, sizeof(*v));
    v->ram.ss = ss;
    v->ram.sectors = bytes / ss;
    v->ram.mem = test_calloc(1, bytes);
    size_t cl = tern_bdev_cache_bytes(ss, 16);
    v->cache = test_malloc(cl);
    assert_int_equal(tern_bdev_init(&v->dev, &ram_ops, &v->ram, ss, v->ram.sectors, false,
                                    v->cache, cl, 16), TERN_OK);
    struct tern_fat_format_opts o = { .label = "DATA" };
    assert_int_equal(tern_fat_format(&v->dev, 0, v->ram.sectors, &o), TERN_OK);
    assert_int_equal(tern_fat_mount(&v->fs, &v->dev, 0, v->ram.sectors, false), TERN_OK);
    return v;
}

/* A reboot: the cache is lost, the volume mounted and the record opened again. */
static void vol_reboot(struct vol *v, bool read_only)
{
    tern_bdev_drop_cache(&v->dev);
    assert_int_equal(tern_fat_mount(&v->fs, &v->dev, 0, v->ram.sectors, read_only), TERN_OK);
    assert_int_equal(tern_update_open(&v->u, &v->fs), TERN_OK);
}

static void vol_free(struct vol *v)
{
    test_free(v->ram.mem);
    test_free(v->cache);
    test_free(v);
}

/* The record in copy i as it is on the device (not in the cache). */
static tern_result device_copy(struct vol *v, unsigned i, struct tern_boot_state *s)
{
    return tern_boot_state_decode(v->ram.mem + v->u.copy_lba[i] * v->ram.ss, v->ram.ss, s, NULL);
}

/* Writes s into copy i on the device directly (sealed with its CRC). */
static void device_put(struct vol *v, unsigned i, const struct tern_boot_state *s)
{
    uint8_t *p = v->ram.mem + v->u.copy_lba[i] * v->ram.ss;
    memset(p, 0, v->ram.ss);
    tern_boot_state_encode(s, p);
}

static void put_slot_file(struct vol *v, unsigned slot, const char *text)
{
    struct tern_fat_file f;
    assert_int_equal(tern_update_slot_create(&v->u, slot, &f), TERN_OK);
    assert_int_equal(tern_fat_write(&f, text, strlen(text)), TERN_OK);
    assert_int_equal(tern_fat_close(&f), TERN_OK);
}

/* Verifies a slot by its file: it must hold "good...". */
static bool file_verify(void *arg, unsigned slot, uint64_t min_counter,
                        struct tern_update_verdict *v)
{
    (void)min_counter;
    struct tern_fat *fs = arg;
    struct tern_fat_file f;
    char buf[64] = { 0 };
    size_t got = 0;
    if (tern_fat_open(fs, &f, tern_update_slot_path(slot), TERN_FAT_READ) != TERN_OK) {
        strcpy(v->why, "missing");
        return false;
    }
    tern_fat_read(&f, buf, sizeof(buf) - 1, &got);
    tern_fat_close(&f);
    if (strncmp(buf, "good", 4) != 0) {
        strcpy(v->why, "bad-package");
        return false;
    }
    v->id_len = (uint8_t)got;
    memcpy(v->id, buf, got);
    return true;
}

static void run_lifecycle(uint32_t ss, uint64_t bytes)
{
    struct vol *v = vol_new(ss, bytes);
    struct tern_boot_choice c;
    struct tern_boot_state d;
    assert_int_equal(tern_update_open(&v->u, &v->fs), TERN_OK);
    assert_false(v->u.have_record);
    assert_int_equal(v->u.copy_lba[0] != v->u.copy_lba[1], 1);
    /* Fresh volume, nothing in the slots: no slot, nothing stored. */
    assert_int_equal(tern_update_boot_select(&v->u, file_verify, &v->fs, &c), TERN_ENOENT);
    assert_int_equal(c.slot, N);
    assert_false(v->u.have_record);
    /* The first package, offline: slot A, then a fresh boot. */
    unsigned slot;
    assert_int_equal(tern_update_install_slot(&v->u, &slot), TERN_OK);
    assert_int_equal(slot, A);
    put_slot_file(v, A, "good v1");
    vol_reboot(v, false);
    assert_int_equal(tern_update_install_slot(&v->u, &slot), TERN_OK);
    assert_int_equal(slot, B);           /* A holds something, B nothing */
    assert_int_equal(tern_update_boot_select(&v->u, file_verify, &v->fs, &c), TERN_OK);
    assert_true(c.initialised);
    assert_int_equal(c.slot, A);
    assert_int_equal(device_copy(v, 0, &d), TERN_OK);   /* on the device already */
    assert_int_equal(d.seq, 1);
    assert_int_equal(d.active, A);
    assert_int_equal(tern_update_confirm(&v->u, 1), TERN_OK);
    assert_int_equal(device_copy(v, 1, &d), TERN_OK);   /* the other copy */
    assert_int_equal(d.seq, 2);
    assert_true(d.confirmed);
    assert_int_equal(device_copy(v, 0, &d), TERN_OK);   /* the previous one is kept */
    assert_int_equal(d.seq, 1);
    /* An update: B staged, then a trial whose try is on the device. */
    assert_int_equal(tern_update_install_slot(&v->u, &slot), TERN_OK);
    assert_int_equal(slot, B);
    put_slot_file(v, B, "good v2");
    assert_int_equal(tern_update_stage(&v->u, B, 2, (const uint8_t *)"v2", 2), TERN_OK);
    assert_int_equal(device_copy(v, 0, &d), TERN_OK);
    assert_int_equal(d.seq, 3);
    assert_int_equal(d.pending, B);
    assert_int_equal(d.tries, 2);
    vol_reboot(v, false);
    assert_int_equal(tern_update_boot_select(&v->u, file_verify, &v->fs, &c), TERN_OK);
    assert_true(c.trial);
    assert_int_equal(c.slot, B);
    assert_int_equal(device_copy(v, 1, &d), TERN_OK);
    assert_int_equal(d.seq, 4);
    assert_int_equal(d.tries, 1);
    assert_int_equal(tern_update_install_slot(&v->u, &slot), TERN_EBUSY);
    struct tern_fat_file f;
    assert_int_equal(tern_update_slot_create(&v->u, A, &f), TERN_EBUSY);
    /* A crash (no fail call): the next boot counts the last try. */
    vol_reboot(v, false);
    assert_int_equal(tern_update_boot_select(&v->u, file_verify, &v->fs, &c), TERN_OK);
    assert_true(c.trial);
    assert_int_equal(c.tries_left, 0);
    vol_reboot(v, false);
    assert_int_equal(tern_update_boot_select(&v->u, file_verify, &v->fs, &c), TERN_OK);
    assert_false(c.trial);
    assert_true(c.rolled_back);
    assert_int_equal(c.slot, A);
    assert_int_equal(v->u.state.last.why, TERN_UPDATE_WHY_TRIES);
    /* Again: staged, tried, confirmed. */
    put_slot_file(v, B, "good v3");
    assert_false(v->u.state.slot[B].bad);   /* forgotten before the write */
    assert_int_equal(tern_update_stage(&v->u, B, 0, (const uint8_t *)"v3", 2), TERN_OK);
    vol_reboot(v, false);
    assert_int_equal(tern_update_boot_select(&v->u, file_verify, &v->fs, &c), TERN_OK);
    assert_true(c.trial);
    assert_int_equal(tern_update_confirm(&v->u, 3), TERN_OK);
    vol_reboot(v, true);                  /* read-only: still readable */
    assert_int_equal(v->u.state.active, B);
    assert_int_equal(v->u.state.counter, 3);
    assert_true(v->u.state.confirmed);
    assert_int_equal(tern_update_stage(&v->u, A, 0, NULL, 0), TERN_EROFS);
    /* A health check that never passes: fail rolls back at once. */
    vol_reboot(v, false);
    put_slot_file(v, A, "good v4");
    assert_int_equal(tern_update_stage(&v->u, A, 0, (const uint8_t *)"v4", 2), TERN_OK);
    vol_reboot(v, false);
    assert_int_equal(tern_update_boot_select(&v->u, file_verify, &v->fs, &c), TERN_OK);
    assert_int_equal(c.slot, A);
    assert_int_equal(tern_update_fail(&v->u, TERN_UPDATE_WHY_UNHEALTHY, "no 200"), TERN_OK);
    vol_reboot(v, false);
    assert_int_equal(tern_update_boot_select(&v->u, file_verify, &v->fs, &c), TERN_OK);
    assert_int_equal(c.slot, B);
    assert_false(c.trial);
    char buf[512];
    tern_update_status(&v->u, buf, sizeof(buf));
    assert_non_null(strstr(buf, "active=B confirmed=yes pending=- tries=0 counter=3"));
    assert_non_null(strstr(buf, "slot A: bad id=\"v4\""));
    assert_non_null(strstr(buf, "reason=unhealthy text=\"no 200\""));
    /* The FAT volume is sound after all of it. */
    static uint8_t bitmap[1 << 16];
    uint32_t lost = 0;
    assert_int_equal(tern_fat_check(&v->fs, bitmap, sizeof(bitmap), &lost), TERN_OK);
    assert_int_equal(lost, 0);
    vol_free(v);
}

static void test_volume_lifecycle_512(void **state)
{
    (void)state;
    run_lifecycle(512, 4u << 20);
}

static void test_volume_lifecycle_4096(void **state)
{
    (void)state;
    run_lifecycle(4096, 8u << 20);
}

/* One store is one sector write between two flushes: no FAT metadata. */
static void test_volume_store_is_one_sector(void **state)
{
    (void)state;
    struct vol *v = vol_new(512, 4u << 20);
    assert_int_equal(tern_update_open(&v->u, &v->fs), TERN_OK);
    assert_int_equal(tern_bdev_flush(&v->dev), TERN_OK);
    uint64_t w = v->ram.writes, fl = v->ram.flushes;
    assert_int_equal(tern_update_stage(&v->u, A, 0, NULL, 0), TERN_OK);
    assert_int_equal(v->ram.writes - w, 1);
    assert_int_equal(v->ram.flushes - fl, 2);
    vol_free(v);
}

/* Copies corrupted on the device: the other copy, or none at all. */
static void test_volume_corrupt_copies(void **state)
{
    (void)state;
    struct vol *v = vol_new(512, 4u << 20);
    struct tern_boot_choice c;
    assert_int_equal(tern_update_open(&v->u, &v->fs), TERN_OK);
    put_slot_file(v, A, "good v1");
    put_slot_file(v, B, "good v2");
    assert_int_equal(tern_update_stage(&v->u, B, 0, NULL, 0), TERN_OK);         /* seq 1, copy 0 */
    assert_int_equal(tern_update_stage(&v->u, B, 7, NULL, 0), TERN_OK);         /* seq 2, copy 1 */
    /* The current copy corrupted: the previous record. */
    v->ram.mem[v->u.copy_lba[1] * 512 + 40] ^= 0x10;
    vol_reboot(v, false);
    assert_true(v->u.have_record);
    assert_int_equal(v->u.current, 0);
    assert_int_equal(v->u.state.seq, 1);
    assert_int_equal(v->u.state.tries, 3);
    assert_string_equal(v->u.copy_why[1], "bad-crc");
    assert_null(v->u.copy_why[0]);
    /* The next store goes over the corrupted copy, not over the good one. */
    assert_int_equal(tern_update_stage(&v->u, B, 5, NULL, 0), TERN_OK);
    assert_int_equal(v->u.current, 1);
    assert_int_equal(v->u.state.seq, 2);
    struct tern_boot_state d;
    assert_int_equal(device_copy(v, 0, &d), TERN_OK);
    assert_int_equal(d.seq, 1);
    /* A copy with a higher seq but a bad CRC is not taken. */
    struct tern_boot_state forged = v->u.state;
    forged.seq = 1000;
    forged.pending = N;
    forged.tries = 0;
    device_put(v, 0, &forged);
    v->ram.mem[v->u.copy_lba[0] * 512 + 508] ^= 1;
    vol_reboot(v, false);
    assert_int_equal(v->u.state.seq, 2);
    assert_int_equal(v->u.state.pending, B);
    /* Both corrupted: no record; boot_select starts again from the slots. */
    v->ram.mem[v->u.copy_lba[1] * 512 + 12] ^= 0xff;
    vol_reboot(v, false);
    assert_false(v->u.have_record);
    assert_int_equal(v->u.current, -1);
    assert_int_equal(tern_update_boot_select(&v->u, file_verify, &v->fs, &c), TERN_OK);
    assert_true(c.initialised);
    assert_int_equal(c.slot, A);
    assert_int_equal(v->u.state.seq, 1);
    vol_reboot(v, false);
    assert_int_equal(v->u.state.active, A);
    vol_free(v);
}

/* Stores across the sequence number's wrap: 0 is newer than 0xffffffff. */
static void test_volume_seq_wraparound(void **state)
{
    (void)state;
    struct vol *v = vol_new(512, 4u << 20);
    assert_int_equal(tern_update_open(&v->u, &v->fs), TERN_OK);
    struct tern_boot_state s;
    tern_boot_state_fresh(&s);
    s.active = A;
    s.seq = 0xfffffffeu;
    device_put(v, 0, &s);
    s.seq = 0xffffffffu;
    s.confirmed = true;
    device_put(v, 1, &s);
    vol_reboot(v, false);
    assert_int_equal(v->u.current, 1);
    assert_int_equal(tern_update_stage(&v->u, B, 0, NULL, 0), TERN_OK);
    assert_int_equal(v->u.state.seq, 0);
    assert_int_equal(v->u.current, 0);
    vol_reboot(v, false);
    assert_int_equal(v->u.state.seq, 0);
    assert_int_equal(v->u.state.pending, B);
    assert_int_equal(tern_update_stage(&v->u, B, 2, NULL, 0), TERN_OK);
    vol_reboot(v, false);
    assert_int_equal(v->u.state.seq, 1);
    assert_int_equal(v->u.state.tries, 2);
    vol_free(v);
}

/* A store whose flush fails changes nothing in u, returns the error, and
 * a later flush does not publish the record it failed to store. */
static void test_volume_store_error(void **state)
{
    (void)state;
    struct vol *v = vol_new(512, 4u << 20);
    assert_int_equal(tern_update_open(&v->u, &v->fs), TERN_OK);
    assert_int_equal(tern_update_stage(&v->u, B, 0, NULL, 0), TERN_OK);
    v->ram.fail_flush_at = v->ram.flushes + 2;       /* the flush after the write */
    assert_int_equal(tern_update_stage(&v->u, B, 9, NULL, 0), TERN_EIO);
    assert_int_equal(v->u.state.tries, 3);
    assert_int_equal(v->u.stats.store_errors, 1);
    assert_int_equal(tern_bdev_flush(&v->dev), TERN_OK);
    vol_reboot(v, false);
    assert_int_equal(v->u.state.tries, 3);
    assert_int_equal(v->u.state.seq, 1);
    /* A trial whose try cannot be stored does not start. */
    struct tern_boot_choice c;
    put_slot_file(v, B, "good");
    assert_int_equal(tern_update_stage(&v->u, B, 0, NULL, 0), TERN_OK);
    v->ram.fail_flush_at = v->ram.flushes + 2;
    assert_int_equal(tern_update_boot_select(&v->u, file_verify, &v->fs, &c), TERN_EIO);
    assert_int_equal(c.slot, N);
    assert_false(c.trial);
    vol_free(v);
}

/* Record files of the wrong size are made again; a read-only volume
 * without them is ENOENT; a file that is not one sector there is refused. */
static void test_volume_record_files(void **state)
{
    (void)state;
    struct vol *v = vol_new(512, 4u << 20);
    assert_int_equal(tern_fat_mkdir(&v->fs, "/tern"), TERN_OK);
    struct tern_fat_file f;
    assert_int_equal(tern_fat_open(&v->fs, &f, TERN_UPDATE_STATE1_PATH,
                                   TERN_FAT_WRITE | TERN_FAT_CREATE), TERN_OK);
    assert_int_equal(tern_fat_write(&f, "short", 5), TERN_OK);
    assert_int_equal(tern_fat_close(&f), TERN_OK);
    tern_bdev_drop_cache(&v->dev);
    assert_int_equal(tern_fat_mount(&v->fs, &v->dev, 0, v->ram.sectors, true), TERN_OK);
    assert_int_equal(tern_update_open(&v->u, &v->fs), TERN_ENOENT);   /* copy 0 missing */
    assert_int_equal(tern_fat_mount(&v->fs, &v->dev, 0, v->ram.sectors, false), TERN_OK);
    assert_int_equal(tern_update_open(&v->u, &v->fs), TERN_OK);
    struct tern_fat_stat st;
    assert_int_equal(tern_fat_stat(&v->fs, TERN_UPDATE_STATE1_PATH, &st), TERN_OK);
    assert_int_equal(st.size, 512);
    assert_int_equal(tern_fat_stat(&v->fs, TERN_UPDATE_STATE0_PATH, &st), TERN_OK);
    assert_int_equal(st.size, 512);
    assert_int_equal(tern_fat_open(&v->fs, &f, TERN_UPDATE_STATE0_PATH,
                                   TERN_FAT_WRITE | TERN_FAT_TRUNC), TERN_OK);
    assert_int_equal(tern_fat_write(&f, "x", 1), TERN_OK);
    assert_int_equal(tern_fat_close(&f), TERN_OK);
    tern_bdev_drop_cache(&v->dev);
    assert_int_equal(tern_fat_mount(&v->fs, &v->dev, 0, v->ram.sectors, true), TERN_OK);
    assert_int_equal(tern_update_open(&v->u, &v->fs), TERN_EIO);
    assert_string_equal(v->u.reason, "record-file-size");
    vol_free(v);
}

int main(int argc, char **argv)
{
    fixture_dir = argc > 1 ? argv[1] : NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_round_trip_and_layout),
        cmocka_unit_test(test_codec_every_byte_flipped),
        cmocka_unit_test(test_codec_refusals),
        cmocka_unit_test(test_codec_pick_and_wraparound),
        cmocka_unit_test(test_codec_python_records),
        cmocka_unit_test(test_transition_table),
        cmocka_unit_test(test_transition_details),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_volume_lifecycle_512),
        cmocka_unit_test(test_volume_lifecycle_4096),
        cmocka_unit_test(test_volume_store_is_one_sector),
        cmocka_unit_test(test_volume_corrupt_copies),
        cmocka_unit_test(test_volume_seq_wraparound),
        cmocka_unit_test(test_volume_store_error),
        cmocka_unit_test(test_volume_record_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
