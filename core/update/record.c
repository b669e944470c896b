/*
 * Interface: the boot-state record's codec (include/tern/update.h; byte
 * layout in docs/updates.md). Strict: every reserved byte, padding byte
 * and flag bit is checked, so an accepted copy re-encodes to the same
 * bytes and nothing half-written passes as a record. The CRC is checked
 * first: a torn write is "bad-crc".
 */
#include <string.h>

#include "storage/le.h"
#include "tern/gpt.h"
#include "tern/update.h"

enum {
    OFF_MAGIC = 0,       /* 4: "TBSR" */
    OFF_VERSION = 4,     /* 2 */
    OFF_SIZE = 6,        /* 2: TERN_BOOT_STATE_BYTES */
    OFF_SEQ = 8,         /* 4 */
    OFF_ACTIVE = 12,     /* 1 */
    OFF_PENDING = 13,    /* 1 */
    OFF_TRIES = 14,      /* 1 */
    OFF_FLAGS = 15,      /* 1: bit 0 confirmed */
    OFF_COUNTER = 16,    /* 8 */
    OFF_ROLLBACKS = 24,  /* 4 */
    OFF_LAST_SLOT = 28,  /* 1 */
    OFF_LAST_WHY = 29,   /* 1 */
    OFF_RESERVED1 = 30,  /* 2: zero */
    OFF_LAST_TEXT = 32,  /* TERN_UPDATE_TEXT_MAX */
    OFF_SLOTS = 96,      /* 2 x SLOT_BYTES */
    SLOT_BYTES = 200,    /* flags (bit 0 bad), id length, id bytes */
    OFF_RESERVED2 = 496, /* 12: zero */
    OFF_CRC = 508,       /* 4: CRC-32 of bytes 0..507 */
    FLAG_CONFIRMED = 1,
    FLAG_ANNOUNCE = 2,   /* a rollback no boot has told yet */
    SLOT_FLAG_BAD = 1,
};

_Static_assert(OFF_LAST_TEXT + TERN_UPDATE_TEXT_MAX == OFF_SLOTS, "text ends at the slots");
_Static_assert(OFF_SLOTS + 2 * SLOT_BYTES == OFF_RESERVED2, "slots end at reserved");
_Static_assert(2 + TERN_UPDATE_ID_MAX == SLOT_BYTES, "a slot entry is its id and two bytes");
_Static_assert(OFF_CRC + 4 == TERN_BOOT_STATE_BYTES, "the CRC ends the record");

static const uint8_t magic[4] = { 'T', 'B', 'S', 'R' };

void tern_boot_state_fresh(struct tern_boot_state *s)
{
    memset(s, 0, sizeof(*s));
    s->active = TERN_SLOT_NONE;
    s->pending = TERN_SLOT_NONE;
    s->last.slot = TERN_SLOT_NONE;
}

void tern_boot_state_encode(const struct tern_boot_state *s, uint8_t *out)
{
    memset(out, 0, TERN_BOOT_STATE_BYTES);
    memcpy(out + OFF_MAGIC, magic, sizeof(magic));
    put16(out + OFF_VERSION, TERN_BOOT_STATE_VERSION);
    put16(out + OFF_SIZE, TERN_BOOT_STATE_BYTES);
    put32(out + OFF_SEQ, s->seq);
    out[OFF_ACTIVE] = s->active;
    out[OFF_PENDING] = s->pending;
    out[OFF_TRIES] = s->tries;
    out[OFF_FLAGS] = (uint8_t)((s->confirmed ? FLAG_CONFIRMED : 0) | (s->announce ? FLAG_ANNOUNCE : 0));
    put64(out + OFF_COUNTER, s->counter);
    put32(out + OFF_ROLLBACKS, s->rollbacks);
    out[OFF_LAST_SLOT] = s->last.slot;
    out[OFF_LAST_WHY] = s->last.why;
    size_t tl = strnlen(s->last.text, TERN_UPDATE_TEXT_MAX - 1);
    memcpy(out + OFF_LAST_TEXT, s->last.text, tl);
    for (unsigned i = 0; i < TERN_SLOTS; i++) {
        uint8_t *e = out + OFF_SLOTS + i * SLOT_BYTES;
        e[0] = s->slot[i].bad ? SLOT_FLAG_BAD : 0;
        uint8_t n = s->slot[i].id_len;
        e[1] = n <= TERN_UPDATE_ID_MAX ? n : TERN_UPDATE_ID_MAX;
        memcpy(e + 2, s->slot[i].id, e[1]);
    }
    put32(out + OFF_CRC, tern_crc32(0, out, OFF_CRC));
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

static bool slot_or_none(uint8_t v)
{
    return v == TERN_SLOT_A || v == TERN_SLOT_B || v == TERN_SLOT_NONE;
}

/* The rollback text: printable ASCII, then zeros to the end (a NUL at
 * least in the last byte). */
static bool text_ok(const uint8_t *t)
{
    size_t n = 0;
    while (n < TERN_UPDATE_TEXT_MAX && t[n] != 0) {
        if (t[n] < 0x20 || t[n] > 0x7e)
            return false;
        n++;
    }
    return n < TERN_UPDATE_TEXT_MAX && all_zero(t + n, TERN_UPDATE_TEXT_MAX - n);
}

/* The header: magic, version, size, CRC. */
static const char *check_frame(const uint8_t *b)
{
    if (le32(b + OFF_CRC) != tern_crc32(0, b, OFF_CRC))
        return "bad-crc";
    if (memcmp(b + OFF_MAGIC, magic, sizeof(magic)) != 0)
        return "bad-magic";
    if (le16(b + OFF_VERSION) != TERN_BOOT_STATE_VERSION)
        return "bad-version";
    if (le16(b + OFF_SIZE) != TERN_BOOT_STATE_BYTES)
        return "bad-size";
    if (!all_zero(b + OFF_RESERVED1, 2) || !all_zero(b + OFF_RESERVED2, OFF_CRC - OFF_RESERVED2))
        return "bad-reserved";
    return NULL;
}

/* The fields one by one. */
static const char *check_fields(const uint8_t *b)
{
    if (!slot_or_none(b[OFF_ACTIVE]) || !slot_or_none(b[OFF_PENDING]) ||
        !slot_or_none(b[OFF_LAST_SLOT]))
        return "bad-slot";
    if (b[OFF_TRIES] > TERN_UPDATE_TRIES_MAX)
        return "bad-tries";
    if (b[OFF_FLAGS] & ~(FLAG_CONFIRMED | FLAG_ANNOUNCE))
        return "bad-flags";
    if (b[OFF_LAST_WHY] >= TERN_UPDATE_WHY_COUNT)
        return "bad-rollback";
    if (!text_ok(b + OFF_LAST_TEXT))
        return "bad-text";
    for (unsigned i = 0; i < TERN_SLOTS; i++) {
        const uint8_t *e = b + OFF_SLOTS + i * SLOT_BYTES;
        if (e[0] & ~SLOT_FLAG_BAD)
            return "bad-flags";
        if (e[1] > TERN_UPDATE_ID_MAX || !all_zero(e + 2 + e[1], TERN_UPDATE_ID_MAX - e[1]))
            return "bad-id";
    }
    return NULL;
}

/* The invariants between fields (include/tern/update.h). */
static bool invariants_hold(const struct tern_boot_state *s)
{
    if (s->active != TERN_SLOT_NONE && s->active == s->pending)
        return false;
    if (s->pending == TERN_SLOT_NONE && s->tries != 0)
        return false;
    if (s->confirmed && s->active == TERN_SLOT_NONE)
        return false;
    if (s->active != TERN_SLOT_NONE && s->slot[s->active].bad)
        return false;
    if (s->pending != TERN_SLOT_NONE && s->slot[s->pending].bad)
        return false;
    if ((s->last.slot == TERN_SLOT_NONE) != (s->last.why == TERN_UPDATE_WHY_NONE))
        return false;
    if (s->announce && s->last.why == TERN_UPDATE_WHY_NONE)
        return false;
    return s->last.why != TERN_UPDATE_WHY_NONE || s->last.text[0] == '\0';
}

static void unpack(const uint8_t *b, struct tern_boot_state *s)
{
    tern_boot_state_fresh(s);
    s->seq = le32(b + OFF_SEQ);
    s->active = b[OFF_ACTIVE];
    s->pending = b[OFF_PENDING];
    s->tries = b[OFF_TRIES];
    s->confirmed = (b[OFF_FLAGS] & FLAG_CONFIRMED) != 0;
    s->announce = (b[OFF_FLAGS] & FLAG_ANNOUNCE) != 0;
    s->counter = le64(b + OFF_COUNTER);
    s->rollbacks = le32(b + OFF_ROLLBACKS);
    s->last.slot = b[OFF_LAST_SLOT];
    s->last.why = b[OFF_LAST_WHY];
    memcpy(s->last.text, b + OFF_LAST_TEXT, TERN_UPDATE_TEXT_MAX);
    for (unsigned i = 0; i < TERN_SLOTS; i++) {
        const uint8_t *e = b + OFF_SLOTS + i * SLOT_BYTES;
        s->slot[i].bad = (e[0] & SLOT_FLAG_BAD) != 0;
        s->slot[i].id_len = e[1];
        memcpy(s->slot[i].id, e + 2, e[1]);
    }
}

tern_result tern_boot_state_decode(const uint8_t *buf, size_t len, struct tern_boot_state *s,
                                   const char **why)
{
    const char *w = NULL;
    struct tern_boot_state tmp;
    if (len < TERN_BOOT_STATE_BYTES)
        w = "short";
    if (w == NULL)
        w = check_frame(buf);
    if (w == NULL)
        w = check_fields(buf);
    if (w == NULL) {
        unpack(buf, &tmp);
        if (!invariants_hold(&tmp))
            w = "bad-invariant";
    }
    if (why != NULL)
        *why = w;
    if (w != NULL)
        return TERN_EIO;
    *s = tmp;
    return TERN_OK;
}

int tern_boot_state_pick(bool ok0, const struct tern_boot_state *s0, bool ok1,
                         const struct tern_boot_state *s1)
{
    if (ok0 && ok1)
        return (int32_t)(s1->seq - s0->seq) > 0 ? 1 : 0;
    return ok0 ? 0 : ok1 ? 1 : -1;
}
