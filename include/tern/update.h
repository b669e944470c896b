/*
 * Interface: A/B workload slots and the boot-state record (docs/updates.md).
 *
 * The data volume holds two package slots and the record, in the OS's own
 * directory:
 *
 *   /tern/slot-a.tpk  /tern/slot-b.tpk         the packages (written by the caller)
 *   /tern/boot-state.0  /tern/boot-state.1     two copies of the record, one sector each
 *
 * The record says which slot is active (the confirmed fallback), which is
 * pending (staged, on trial) with how many trial boots it has left, per
 * slot a bad flag and the caller's id bytes, the accepted security
 * counter and the last rollback. Each copy carries a sequence number and
 * a CRC-32; a store writes seq + 1 into the copy that does NOT hold the
 * current record (one sector, in place) and flushes, so a torn or lost
 * write leaves the other copy, the previous record, as the valid one.
 *
 * Two layers:
 *   - pure functions over struct tern_boot_state (tern_boot_state_*):
 *     the codec and the state machine; no I/O, used by the tests and the
 *     fuzz harness directly;
 *   - struct tern_update (tern_update_*): the record on a mounted FAT
 *     volume; each call loads nothing, decides with the pure functions,
 *     and stores (write + flush) before it returns.
 *
 * A boot:
 *   struct tern_update u;                      // caller-owned
 *   tern_update_open(&u, data_fs);             // creates /tern/boot-state.* once
 *   tern_update_boot_select(&u, verify, arg, &choice);   // tries counted, durable
 *   ... run choice.slot; on a trial, when its health check passes:
 *   tern_update_confirm(&u, package_counter);
 *   ... or on a crash / watchdog stop / health check that never passes:
 *   tern_update_fail(&u, TERN_UPDATE_WHY_UNHEALTHY, "no 200 in 10 s");
 * An install (offline or at run time, not during a trial):
 *   tern_update_install_slot(&u, &slot);
 *   tern_update_slot_create(&u, slot, &file);  // forgets what the slot held
 *   tern_fat_write(&file, ...); tern_fat_close(&file);  // then verify it
 *   tern_update_stage(&u, slot, 0, id, id_len);          // pending, 3 tries
 *
 * Nothing here allocates; no globals; the verify callback is the only
 * place package formats enter.
 */
#ifndef TERN_UPDATE_H
#define TERN_UPDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/fat.h"
#include "tern/result.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

#define TERN_SLOT_A    0u
#define TERN_SLOT_B    1u
#define TERN_SLOT_NONE 0xffu
#define TERN_SLOTS     2u

#define TERN_UPDATE_DIR          "/tern"
#define TERN_UPDATE_SLOT_A_PATH  "/tern/slot-a.tpk"
#define TERN_UPDATE_SLOT_B_PATH  "/tern/slot-b.tpk"
#define TERN_UPDATE_STATE0_PATH  "/tern/boot-state.0"
#define TERN_UPDATE_STATE1_PATH  "/tern/boot-state.1"

#define TERN_BOOT_STATE_BYTES    512u  /* one record (the first bytes of its sector) */
#define TERN_BOOT_STATE_VERSION  1u
#define TERN_UPDATE_ID_MAX       198u  /* opaque id bytes per slot */
#define TERN_UPDATE_TEXT_MAX     64u   /* rollback text with its NUL */
#define TERN_UPDATE_TRIES_DEFAULT 3u
#define TERN_UPDATE_TRIES_MAX    100u

/* Why a slot was rolled back or refused (stored as one byte). */
enum tern_update_why {
    TERN_UPDATE_WHY_NONE = 0,
    TERN_UPDATE_WHY_TRIES,       /* "tries-exhausted": trial boots ran out unconfirmed */
    TERN_UPDATE_WHY_VERIFY,      /* "verify-failed": the package was refused at boot */
    TERN_UPDATE_WHY_CRASH,       /* "crash": the app crashed during its trial */
    TERN_UPDATE_WHY_WATCHDOG,    /* "watchdog": the watchdog stopped it */
    TERN_UPDATE_WHY_UNHEALTHY,   /* "unhealthy": its health check never passed */
    TERN_UPDATE_WHY_EXIT,        /* "exit": the app ended during its trial */
    TERN_UPDATE_WHY_OTHER,       /* "other": the caller's text says */
    TERN_UPDATE_WHY_COUNT
};

/* A short stable token for why ("tries-exhausted", ...); "unknown" past
 * the enum. Never NULL. */
const char *tern_update_why_name(unsigned why);

/* A slot's letter: "A", "B", or "-" for TERN_SLOT_NONE (and anything else). */
const char *tern_update_slot_name(unsigned slot);

/* The file of slot A or B; NULL for anything else. */
const char *tern_update_slot_path(unsigned slot);

struct tern_slot_state {
    bool bad;                            /* rolled back or refused: never booted until re-staged */
    uint8_t id_len;
    uint8_t id[TERN_UPDATE_ID_MAX];      /* the caller's bytes (name, version, key id) */
};

/* The record, decoded. Invariants (the decoder refuses what breaks them,
 * the transitions keep them): active and pending are A, B or NONE and
 * differ unless both NONE; tries is 0 when nothing is pending and at most
 * TERN_UPDATE_TRIES_MAX; confirmed only with an active slot; neither the
 * active nor the pending slot is bad; the rollback slot is NONE exactly
 * when its reason is NONE, and its text is empty then; text is printable
 * ASCII; announce only with a rollback. */
struct tern_boot_state {
    uint32_t seq;                        /* newer: (int32_t)(a - b) > 0 */
    uint8_t active;                      /* the confirmed fallback */
    uint8_t pending;                     /* staged, on trial */
    uint8_t tries;                       /* trial boots the pending slot has left */
    bool confirmed;                      /* the active slot passed its health check */
    bool announce;                       /* the last rollback is not yet told by a boot */
    uint64_t counter;                    /* accepted security counter: only grows */
    uint32_t rollbacks;                  /* rollbacks ever recorded */
    struct {
        uint8_t slot;
        uint8_t why;                     /* enum tern_update_why */
        char text[TERN_UPDATE_TEXT_MAX];
    } last;                              /* the last rollback */
    struct tern_slot_state slot[TERN_SLOTS];
};

/* ---- the codec (pure) ---- */

/* A record with nothing in it (no active, no pending, seq 0). */
void tern_boot_state_fresh(struct tern_boot_state *s);

/* Encodes s into out[TERN_BOOT_STATE_BYTES] (every byte written; the
 * layout of docs/updates.md, CRC last). s should keep the invariants (the
 * transitions do); one that breaks them encodes to a copy the decoder
 * refuses (ids are cut at TERN_UPDATE_ID_MAX, text at 63 bytes). */
void tern_boot_state_encode(const struct tern_boot_state *s, uint8_t *out);

/* Decodes one copy of len bytes (only the first TERN_BOOT_STATE_BYTES are
 * read). TERN_OK with *s; TERN_EIO with *why ("short", "bad-crc",
 * "bad-magic", "bad-version", "bad-size", "bad-slot", "bad-tries",
 * "bad-flags", "bad-rollback", "bad-text", "bad-id", "bad-reserved",
 * "bad-invariant") and *s untouched. An accepted copy re-encodes to the
 * same bytes. why may be NULL. */
tern_result tern_boot_state_decode(const uint8_t *buf, size_t len, struct tern_boot_state *s,
                                   const char **why);

/* Which copy holds the current record: 0 or 1, or -1 when neither is
 * valid. Both valid: the newer seq (serial arithmetic, so 0 is newer than
 * 0xffffffff); equal seqs: copy 0. */
int tern_boot_state_pick(bool ok0, const struct tern_boot_state *s0, bool ok1,
                         const struct tern_boot_state *s1);

/* ---- the state machine (pure) ---- */

/* What the verify callback reports about one slot. */
struct tern_update_verdict {
    char why[TERN_UPDATE_TEXT_MAX];      /* on refusal: a short reason, NUL-terminated */
    uint8_t id[TERN_UPDATE_ID_MAX];      /* on success, optional: the package's id bytes */
    uint8_t id_len;
};

/* Checks the package in slot (A or B): present, intact, trusted, and its
 * security counter at least min_counter. true: it may boot (v->id may name
 * it). false: refused, v->why says why. v arrives zeroed. Called by
 * tern_boot_state_select only; it must not call back into this module. */
typedef bool (*tern_update_verify_fn)(void *arg, unsigned slot, uint64_t min_counter,
                                      struct tern_update_verdict *v);

/* What tern_boot_state_select decided. */
struct tern_boot_choice {
    uint8_t slot;                        /* the slot to boot; TERN_SLOT_NONE: none */
    bool trial;                          /* a trial boot of the pending slot */
    uint8_t tries_left;                  /* trial boots left after this one */
    bool rolled_back;                    /* a rollback was recorded (s->last says) */
    bool initialised;                    /* there was no record: made from the slots */
    bool changed;                        /* s changed: it must be stored before booting */
};

/* Decides what this boot runs; s is the current record (have_record) or
 * nothing (a fresh volume, both copies invalid). In this order:
 *   - no record: the first of A, B that verifies becomes active
 *     (unconfirmed, its id from the verdict); none: TERN_ENOENT, s fresh;
 *   - a pending slot with tries 0: rolled back ("tries-exhausted");
 *     failing verify: rolled back ("verify-failed", the verdict's text);
 *     else tries - 1 and a trial of it;
 *   - otherwise the active slot if it verifies; if it does not, it is
 *     marked bad with a rollback ("verify-failed") and the other slot, if
 *     not bad and it verifies, becomes active (unconfirmed) — a refused
 *     fallback is marked bad too;
 *   - nothing verifies: TERN_ENOENT (the caller halts with a marker).
 * A rollback marks the slot bad, clears pending and tries, counts it and
 * records slot, reason and text. c->changed says s must be stored before
 * the choice is acted on. TERN_OK or TERN_ENOENT. */
tern_result tern_boot_state_select(struct tern_boot_state *s, bool have_record,
                                   tern_update_verify_fn verify, void *arg,
                                   struct tern_boot_choice *c);

/* Stages slot (written and verified by the caller) as pending with tries
 * trial boots (0: TERN_UPDATE_TRIES_DEFAULT) and its id bytes; clears its
 * bad flag. running is the slot this boot runs (TERN_SLOT_NONE offline).
 * TERN_OK; TERN_EINVAL (slot not A/B, tries over the maximum, id_len over
 * TERN_UPDATE_ID_MAX); TERN_EBUSY (slot is the active or the running
 * slot, or a trial is running: running == pending). */
tern_result tern_boot_state_stage(struct tern_boot_state *s, unsigned running, unsigned slot,
                                  unsigned tries, const uint8_t *id, size_t id_len);

/* Forgets what slot holds before it is overwritten: not pending, not bad,
 * no id. Same refusals as tern_boot_state_stage. */
tern_result tern_boot_state_forget(struct tern_boot_state *s, unsigned running, unsigned slot);

/* The running slot passed its health check. A trial (running == pending):
 * it becomes active, confirmed, pending and tries cleared. The active
 * slot: confirmed. Either way the accepted counter rises to counter if
 * that is higher (it never falls). TERN_OK; TERN_EINVAL (running is
 * neither pending nor active). */
tern_result tern_boot_state_confirm(struct tern_boot_state *s, unsigned running,
                                    uint64_t counter);

/* The trial of running (== pending) failed (why, text: NULL or a short
 * reason, cut at 63 bytes, non-printables as '?'): rolled back at once,
 * so the next boot boots the active slot. TERN_OK; TERN_EINVAL (no trial
 * of running: a failing confirmed slot is not rolled back; why not a
 * failure reason). */
tern_result tern_boot_state_fail(struct tern_boot_state *s, unsigned running, unsigned why,
                                 const char *text);

/* A volume's first package, installed offline (tern-pkg install): slot
 * (written and verified by the caller) becomes the active, confirmed slot
 * with its id, the counter raised to counter. TERN_OK; TERN_EINVAL (slot
 * not A/B, id_len over TERN_UPDATE_ID_MAX); TERN_EBUSY (there is an
 * active or a pending slot already: stage instead). */
tern_result tern_boot_state_adopt(struct tern_boot_state *s, unsigned slot, uint64_t counter,
                                  const uint8_t *id, size_t id_len);

/* Renders s for people and /status into buf (always NUL-terminated when
 * cap > 0): one line of state, one per slot (state word, id with
 * non-printable bytes as \xNN), one for the last rollback. Returns the
 * length the whole text needs (as snprintf), so truncation shows; it is
 * always below TERN_UPDATE_STATUS_MAX. */
#define TERN_UPDATE_STATUS_MAX 2304u
size_t tern_boot_state_render(const struct tern_boot_state *s, bool have_record, char *buf,
                              size_t cap);

/* ---- the record on a FAT volume ---- */

struct tern_update_stats {
    uint64_t loads, stores, store_errors;
    uint64_t copies_refused;             /* copies found invalid at load */
};

struct tern_update {
    struct tern_fat *fs;
    uint64_t copy_lba[2];                /* device LBA of each copy's sector */
    struct tern_boot_state state;        /* the current record (have_record) */
    bool have_record;
    int current;                         /* copy holding state: 0, 1, -1 none */
    uint8_t running;                     /* set by boot_select; TERN_SLOT_NONE before */
    bool trial;                          /* running is a trial of the pending slot */
    const char *copy_why[2];             /* why each copy was refused at load; NULL: valid */
    const char *reason;                  /* the last refusal of open/load */
    struct tern_update_stats stats;
};

/* Opens the record on a mounted volume: on a writable one, creates
 * /tern and each record copy that is missing or not one sector long
 * (zeroed: invalid), then loads. TERN_OK (u->have_record says whether a
 * valid copy was found); TERN_ENOENT (read-only volume without the
 * files); TERN_EIO (u->reason: "record-file-size", a FAT reason, or
 * "copies-unreadable"); TERN_ENOSPC; device errors. */
tern_result tern_update_open(struct tern_update *u, struct tern_fat *fs);

/* Reads both copies again and takes the current one (tern_boot_state_pick).
 * A copy that cannot be read counts as invalid ("read-error"); both
 * unreadable: TERN_EIO. TERN_OK otherwise, with or without a record. */
tern_result tern_update_load(struct tern_update *u);

/* tern_boot_state_select on the loaded record, then, if it changed, the
 * store (write + flush) BEFORE returning: a trial's try is counted on
 * disk before the trial starts. Sets u->running and u->trial.
 * TERN_OK with *c; TERN_ENOENT (no slot verifies: c->slot NONE; what was
 * refused is stored); a store error (then c->slot is NONE: nothing may
 * boot on an uncounted try). */
tern_result tern_update_boot_select(struct tern_update *u, tern_update_verify_fn verify,
                                    void *arg, struct tern_boot_choice *c);

/* The slot an install writes: the one that is not active; without an
 * active slot the pending one, else A unless A's file holds something
 * and B's is missing or empty. TERN_OK with *slot; TERN_EBUSY (a trial
 * is running, or has just failed and is still the running slot: reboot
 * first). */
tern_result tern_update_install_slot(struct tern_update *u, unsigned *slot);

/* Opens slot's file for a new package (created or truncated), after
 * storing that the slot holds nothing (tern_boot_state_forget) when the
 * record said otherwise, so a cut while writing leaves no pending slot
 * pointing at half a package. The caller writes, closes, verifies, then
 * stages. TERN_OK with *f open; the refusals of tern_boot_state_forget;
 * store and FAT errors. */
tern_result tern_update_slot_create(struct tern_update *u, unsigned slot,
                                    struct tern_fat_file *f);

/* tern_boot_state_stage with u->running, stored. Results as that, or a
 * store error (nothing staged). */
tern_result tern_update_stage(struct tern_update *u, unsigned slot, unsigned tries,
                              const uint8_t *id, size_t id_len);

/* tern_boot_state_confirm with u->running, stored when it changed; a
 * confirmed trial ends the trial (u->trial false). */
tern_result tern_update_confirm(struct tern_update *u, uint64_t counter);

/* tern_boot_state_fail with u->running, stored; ends the trial. */
tern_result tern_update_fail(struct tern_update *u, unsigned why, const char *text);

/* tern_boot_state_adopt, stored. Results as that, or a store error. */
tern_result tern_update_adopt(struct tern_update *u, unsigned slot, uint64_t counter,
                              const uint8_t *id, size_t id_len);

/* tern_boot_state_render of the loaded record. */
size_t tern_update_status(const struct tern_update *u, char *buf, size_t cap);

TERN_END_DECLS

#endif
