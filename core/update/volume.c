/*
 * Interface: the boot-state record on a mounted FAT volume
 * (include/tern/update.h, docs/updates.md). The two copies are files of
 * one sector each, created once; after that a store never touches FAT
 * metadata: it writes one whole sector, in place, at the LBA found at
 * open, into the copy that does not hold the current record, between two
 * flushes (everything written before is durable first; the record is
 * durable when the store returns). The wrappers below decide with the
 * pure functions of state.c and store before they return.
 */
#include <string.h>

#include "tern/blockdev.h"
#include "tern/update.h"

static const char *const copy_path[2] = { TERN_UPDATE_STATE0_PATH, TERN_UPDATE_STATE1_PATH };

static tern_result refuse(struct tern_update *u, tern_result r, const char *why)
{
    u->reason = why != NULL ? why : tern_result_name(r);
    return r;
}

/* Makes path one sector of zeros (an invalid copy) unless it is a file
 * of one sector already. */
static tern_result prepare_copy(struct tern_fat *fs, const char *path)
{
    struct tern_fat_stat st;
    tern_result r = tern_fat_stat(fs, path, &st);
    if (r == TERN_OK && !st.is_dir && st.size == fs->bps)
        return TERN_OK;
    if (r != TERN_OK && r != TERN_ENOENT)
        return r;
    struct tern_fat_file f;
    r = tern_fat_open(fs, &f, path, TERN_FAT_WRITE | TERN_FAT_CREATE | TERN_FAT_TRUNC);
    if (r != TERN_OK)
        return r;
    uint8_t zero[512];
    memset(zero, 0, sizeof(zero));
    for (uint32_t off = 0; r == TERN_OK && off < fs->bps; off += sizeof(zero))
        r = tern_fat_write(&f, zero, sizeof(zero));
    tern_result rc = tern_fat_close(&f);
    return r != TERN_OK ? r : rc;
}

/* The device LBA of copy i's sector. */
static tern_result locate_copy(struct tern_update *u, unsigned i)
{
    struct tern_fat_file f;
    tern_result r = tern_fat_open(u->fs, &f, copy_path[i], TERN_FAT_READ);
    if (r != TERN_OK)
        return refuse(u, r, r == TERN_EIO ? u->fs->reason : NULL);
    if (f.size != u->fs->bps)
        r = refuse(u, TERN_EIO, "record-file-size");
    else if ((r = tern_fat_file_lba(&f, 0, &u->copy_lba[i])) != TERN_OK)
        refuse(u, r, r == TERN_EIO ? u->fs->reason : NULL);
    tern_fat_close(&f);
    return r;
}

tern_result tern_update_open(struct tern_update *u, struct tern_fat *fs)
{
    *u = (struct tern_update){ .fs = fs, .current = -1, .running = TERN_SLOT_NONE };
    tern_boot_state_fresh(&u->state);
    tern_result r;
    if (!fs->read_only) {
        r = tern_fat_mkdir(fs, TERN_UPDATE_DIR);
        if (r != TERN_OK && r != TERN_EEXIST)
            return refuse(u, r, r == TERN_EIO ? fs->reason : NULL);
        for (unsigned i = 0; i < 2; i++)
            if ((r = prepare_copy(fs, copy_path[i])) != TERN_OK)
                return refuse(u, r, r == TERN_EIO ? fs->reason : NULL);
    }
    for (unsigned i = 0; i < 2; i++)
        if ((r = locate_copy(u, i)) != TERN_OK)
            return r;
    return tern_update_load(u);
}

tern_result tern_update_load(struct tern_update *u)
{
    struct tern_boot_state s[2];
    bool ok[2];
    unsigned unreadable = 0;
    for (unsigned i = 0; i < 2; i++) {
        uint8_t *sec;
        ok[i] = false;
        if (tern_bdev_map(u->fs->dev, u->copy_lba[i], false, &sec) != TERN_OK) {
            u->copy_why[i] = "read-error";
            unreadable++;
        } else {
            ok[i] = tern_boot_state_decode(sec, u->fs->dev->sector_size, &s[i],
                                           &u->copy_why[i]) == TERN_OK;
        }
        if (!ok[i])
            u->stats.copies_refused++;
    }
    u->stats.loads++;
    if (unreadable == 2)
        return refuse(u, TERN_EIO, "copies-unreadable");
    int c = tern_boot_state_pick(ok[0], &s[0], ok[1], &s[1]);
    u->current = c;
    u->have_record = c >= 0;
    if (c >= 0)
        u->state = s[c];
    else
        tern_boot_state_fresh(&u->state);
    return TERN_OK;
}

/* After a failed store: the target copy's sector in the cache becomes
 * zeros (invalid), so no later flush can publish a record the caller was
 * told was not stored. The current copy is untouched. */
static void spoil_target(struct tern_update *u, unsigned target)
{
    uint8_t *sec;
    if (tern_bdev_map(u->fs->dev, u->copy_lba[target], true, &sec) == TERN_OK)
        memset(sec, 0, u->fs->dev->sector_size);
}

/* Stores next as the new current record: seq + 1, into the other copy,
 * between two flushes. On error u is unchanged. */
static tern_result store(struct tern_update *u, const struct tern_boot_state *next)
{
    struct tern_bdev *dev = u->fs->dev;
    if (u->fs->read_only)
        return TERN_EROFS;
    unsigned target = u->current == 0 ? 1 : 0;
    struct tern_boot_state s = *next;
    s.seq = u->have_record ? u->state.seq + 1 : 1;
    uint8_t *sec;
    tern_result r = tern_bdev_flush(dev);      /* what came before is durable first */
    if (r == TERN_OK && (r = tern_bdev_map(dev, u->copy_lba[target], true, &sec)) == TERN_OK) {
        memset(sec, 0, dev->sector_size);
        tern_boot_state_encode(&s, sec);
        r = tern_bdev_flush(dev);
        if (r != TERN_OK)
            spoil_target(u, target);
    }
    if (r != TERN_OK) {
        u->stats.store_errors++;
        return r;
    }
    u->state = s;
    u->current = (int)target;
    u->have_record = true;
    u->stats.stores++;
    return TERN_OK;
}

static bool same_slot(const struct tern_slot_state *a, const struct tern_slot_state *b)
{
    return a->bad == b->bad && a->id_len == b->id_len && memcmp(a->id, b->id, a->id_len) == 0;
}

/* Whether a and b would encode alike (seq aside). */
static bool same_state(const struct tern_boot_state *a, const struct tern_boot_state *b)
{
    return a->active == b->active && a->pending == b->pending && a->tries == b->tries &&
           a->confirmed == b->confirmed && a->counter == b->counter &&
           a->rollbacks == b->rollbacks && a->last.slot == b->last.slot &&
           a->last.why == b->last.why &&
           strncmp(a->last.text, b->last.text, TERN_UPDATE_TEXT_MAX) == 0 &&
           same_slot(&a->slot[0], &b->slot[0]) && same_slot(&a->slot[1], &b->slot[1]);
}

/* Stores next when it differs from the current record (or there is none). */
static tern_result store_changed(struct tern_update *u, const struct tern_boot_state *next)
{
    if (u->have_record && same_state(next, &u->state))
        return TERN_OK;
    return store(u, next);
}

tern_result tern_update_boot_select(struct tern_update *u, tern_update_verify_fn verify,
                                    void *arg, struct tern_boot_choice *c)
{
    struct tern_boot_state next = u->state;
    tern_result r = tern_boot_state_select(&next, u->have_record, verify, arg, c);
    if (c->changed) {
        tern_result w = store(u, &next);
        if (w != TERN_OK) {
            c->slot = TERN_SLOT_NONE;     /* no boot on an uncounted try */
            c->trial = false;
            r = w;
        }
    }
    u->running = c->slot;
    u->trial = c->trial;
    return r;
}

/* Whether slot's file is missing or empty. */
static bool slot_file_empty(struct tern_fat *fs, unsigned slot)
{
    struct tern_fat_stat st;
    tern_result r = tern_fat_stat(fs, tern_update_slot_path(slot), &st);
    return r == TERN_ENOENT || (r == TERN_OK && !st.is_dir && st.size == 0);
}

tern_result tern_update_install_slot(struct tern_update *u, unsigned *slot)
{
    const struct tern_boot_state *s = &u->state;
    unsigned pick = TERN_SLOT_A;
    if (s->active != TERN_SLOT_NONE)
        pick = s->active ^ 1u;
    else if (s->pending != TERN_SLOT_NONE)
        pick = s->pending;
    else if (!slot_file_empty(u->fs, TERN_SLOT_A) && slot_file_empty(u->fs, TERN_SLOT_B))
        pick = TERN_SLOT_B;
    struct tern_boot_state probe = *s;      /* the guard, in one place: state.c */
    tern_result r = tern_boot_state_forget(&probe, u->running, pick);
    if (r == TERN_OK)
        *slot = pick;
    return r;
}

tern_result tern_update_slot_create(struct tern_update *u, unsigned slot,
                                    struct tern_fat_file *f)
{
    struct tern_boot_state next = u->state;
    tern_result r = tern_boot_state_forget(&next, u->running, slot);
    if (r == TERN_OK && u->have_record)
        r = store_changed(u, &next);
    if (r != TERN_OK)
        return r;
    return tern_fat_open(u->fs, f, tern_update_slot_path(slot),
                         TERN_FAT_WRITE | TERN_FAT_CREATE | TERN_FAT_TRUNC);
}

tern_result tern_update_stage(struct tern_update *u, unsigned slot, unsigned tries,
                              const uint8_t *id, size_t id_len)
{
    struct tern_boot_state next = u->state;
    tern_result r = tern_boot_state_stage(&next, u->running, slot, tries, id, id_len);
    return r == TERN_OK ? store_changed(u, &next) : r;
}

tern_result tern_update_confirm(struct tern_update *u, uint64_t counter)
{
    struct tern_boot_state next = u->state;
    tern_result r = tern_boot_state_confirm(&next, u->running, counter);
    if (r == TERN_OK)
        r = store_changed(u, &next);
    if (r == TERN_OK)
        u->trial = false;
    return r;
}

tern_result tern_update_fail(struct tern_update *u, unsigned why, const char *text)
{
    struct tern_boot_state next = u->state;
    tern_result r = tern_boot_state_fail(&next, u->running, why, text);
    if (r == TERN_OK)
        r = store(u, &next);
    if (r == TERN_OK)
        u->trial = false;
    return r;
}

size_t tern_update_status(const struct tern_update *u, char *buf, size_t cap)
{
    return tern_boot_state_render(&u->state, u->have_record, buf, cap);
}

tern_result tern_update_adopt(struct tern_update *u, unsigned slot, uint64_t counter,
                              const uint8_t *id, size_t id_len)
{
    struct tern_boot_state next = u->state;
    tern_result r = tern_boot_state_adopt(&next, slot, counter, id, id_len);
    return r == TERN_OK ? store(u, &next) : r;
}
