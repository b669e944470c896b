/*
 * Interface: see include/tern/boot_pkg.h: a boot's package from a file
 * or from the data volume's A/B slots, checked against the trust set.
 */
#include <string.h>

#include "tern/boot_pkg.h"
#include "tern/fat.h"
#include "tern/fmt.h"
#include "tern/manifest.h"
#include "tern/os.h"
#include "tern/pal.h"
#include "workload_internal.h"

void tern_boot_pkg_init(struct tern_boot_pkg *bp, struct tern_os *os)
{
    memset(bp, 0, sizeof *bp);
    bp->os = os;
    bp->slot = TERN_SLOT_NONE;
    bp->kept = TERN_SLOT_NONE;
}

tern_result tern_boot_pkg_open_slots(struct tern_boot_pkg *bp, struct tern_fat *fs)
{
    bp->data = fs;
    tern_result r = tern_update_open(&bp->update, fs);
    if (r != TERN_OK) {
        tern_log(bp->os, TERN_LOG_WARN, "update",
                 "the data volume's A/B record cannot be opened (%s%s%s): no slots",
                 tern_result_name(r), bp->update.reason ? ": " : "",
                 bp->update.reason ? bp->update.reason : "");
        return r;
    }
    bp->have_update = true;
    return TERN_OK;
}

uint64_t tern_boot_pkg_min_counter(const struct tern_boot_pkg *bp)
{
    return bp->have_update && bp->update.have_record ? bp->update.state.counter : 0;
}

static tern_result refused(struct tern_boot_pkg *bp, const char *source, tern_result r)
{
    char detail[sizeof bp->err.detail];
    tern_snprintf(detail, sizeof detail, "%s", bp->err.detail);
    tern_log(bp->os, TERN_LOG_ERROR, "pkg", "%s refused: %s: %s", source,
             tern_pkg_reason_name(bp->err.reason), bp->err.detail);
    tern_marker(bp->os, "TERN_PKG_REFUSED", "source=%s reason=%s detail=%s", source,
                tern_pkg_reason_name(bp->err.reason), tern_token(detail));
    return r;
}

tern_result workload_pkg_manifest(const struct tern_pkg *pkg, struct tern_manifest *m,
                                  struct tern_pkg_error *err)
{
    struct tern_pkg_file f;
    struct tern_manifest_error merr;
    if (tern_pkg_find(pkg, TERN_PKG_MANIFEST_NAME, &f) != TERN_OK) {
        err->reason = TERN_PKG_R_NO_MANIFEST;
        tern_snprintf(err->detail, sizeof err->detail, "no manifest.json");
        return TERN_EINVAL;
    }
    tern_result r = tern_manifest_parse((const char *)f.data, (size_t)f.size, m, &merr);
    if (r != TERN_OK) {
        err->reason = r == TERN_ENOMEM ? TERN_PKG_R_NO_MEMORY : TERN_PKG_R_NO_MANIFEST;
        tern_snprintf(err->detail, sizeof err->detail, "manifest.json: %s: %s", merr.path,
                      merr.msg);
        return r;
    }
    return tern_pkg_check_manifest(pkg, m, err);
}

static tern_result package_manifest(struct tern_boot_pkg *bp, const struct tern_pkg *pkg,
                                    struct tern_manifest *m)
{
    return workload_pkg_manifest(pkg, m, &bp->err);
}

tern_result tern_boot_pkg_check(struct tern_boot_pkg *bp, const uint8_t *bytes, size_t len,
                                uint64_t min_counter, const char *source,
                                struct tern_manifest *m)
{
    struct tern_pkg_trust trust = {
        .keys = bp->trust.keys, .key_count = bp->trust.count, .min_counter = min_counter,
        .pal_major = TERN_PAL_ABI_MAJOR, .pal_minor = TERN_PAL_ABI_MINOR,
        .allow_unsigned = bp->trust.allow_unsigned,
    };
    memset(&bp->err, 0, sizeof bp->err);
    uint64_t t0 = tern_now_ns(bp->os);
    tern_result r = tern_pkg_parse_image(&bp->pkg, bytes, len, &bp->err);   /* one hash pass */
    uint64_t t1 = tern_now_ns(bp->os);
    if (r == TERN_OK)
        r = tern_pkg_verify(&bp->pkg, &trust, &bp->err);
    uint64_t t2 = tern_now_ns(bp->os);
    if (r == TERN_OK)
        r = package_manifest(bp, &bp->pkg, m);
    if (r != TERN_OK)
        return refused(bp, source, r);
    tern_log(bp->os, TERN_LOG_INFO, "pkg",
             "%s: %zu bytes, parse+hashes %llu us, signature %llu us", source, len,
             (unsigned long long)((t1 - t0) / 1000), (unsigned long long)((t2 - t1) / 1000));
    if (bp->pkg.is_signed)
        tern_boot_key_hex(bp->pkg.key_id, bp->key);
    else
        tern_snprintf(bp->key, sizeof bp->key, "unsigned");
    return TERN_OK;
}

static const char *slot_source(unsigned slot)
{
    return slot == TERN_SLOT_B ? "slot-b" : "slot-a";
}

/* The slot's file into the heap: TERN_OK; TERN_ENOENT (missing or
 * empty); TERN_ENOSPC (over TERN_BOOT_PKG_MAX); TERN_ENOMEM (no heap
 * block that large); other errors. */
static tern_result read_slot(struct tern_boot_pkg *bp, unsigned slot, void **bytes, size_t *len)
{
    tern_result r = workload_read_file(bp->os, bp->data, tern_update_slot_path(slot),
                                       TERN_BOOT_PKG_MAX, bytes, len);
    if (r == TERN_OK && *len == 0) {
        tern_free(bp->os, *bytes);
        r = TERN_ENOENT;
    }
    return r;
}

/* bp->err for a slot file read_slot could not bring into memory: too
 * big for the cap (over-cap), for the heap (no-memory: the file is not
 * judged, the machine is too small to check it), or an I/O error. */
static void unreadable(struct tern_boot_pkg *bp, unsigned slot, tern_result r)
{
    const char *path = tern_update_slot_path(slot);
    struct tern_fat_stat st = { 0 };
    (void)tern_fat_stat(bp->data, path, &st);
    if (r == TERN_ENOSPC) {
        bp->err.reason = TERN_PKG_R_OVER_CAP;
        tern_snprintf(bp->err.detail, sizeof bp->err.detail, "%s: %llu bytes, over the %u MiB cap",
                      path, (unsigned long long)st.size, TERN_BOOT_PKG_MAX >> 20);
    } else if (r == TERN_ENOMEM) {
        struct tern_heap_stats h;
        tern_heap_get_stats(&bp->os->heap, &h);
        bp->err.reason = TERN_PKG_R_NO_MEMORY;
        tern_snprintf(bp->err.detail, sizeof bp->err.detail,
                      "%s: %llu bytes, more than the heap can hold now (%zu of %zu bytes in use)",
                      path, (unsigned long long)st.size, h.in_use, h.size);
    } else {
        bp->err.reason = TERN_PKG_R_TRUNCATED;
        tern_snprintf(bp->err.detail, sizeof bp->err.detail, "%s: %s", path, tern_result_name(r));
    }
}

static void drop_kept(struct tern_boot_pkg *bp)
{
    tern_free(bp->os, bp->bytes);
    bp->bytes = NULL;
    bp->len = 0;
    bp->kept = TERN_SLOT_NONE;
}

/* tern_update_verify_fn: the slot's package, parsed and verified; the
 * one accepted last is kept in bp (its manifest in bp->m). */
static bool verify_slot(void *arg, unsigned slot, uint64_t min_counter,
                        struct tern_update_verdict *v)
{
    struct tern_boot_pkg *bp = arg;
    if (bp->kept == slot)
        drop_kept(bp);
    void *bytes = NULL;
    size_t len = 0;
    uint64_t t0 = tern_now_ns(bp->os);
    tern_result r = read_slot(bp, slot, &bytes, &len);
    if (r == TERN_OK)
        tern_log(bp->os, TERN_LOG_INFO, "pkg", "%s: read %zu bytes in %llu us", slot_source(slot),
                 len, (unsigned long long)((tern_now_ns(bp->os) - t0) / 1000));
    if (r == TERN_ENOENT) {
        tern_snprintf(v->why, sizeof v->why, "empty");
        return false;
    }
    bp->present |= 1u << slot;
    if (r != TERN_OK) {
        unreadable(bp, slot, r);
        (void)refused(bp, slot_source(slot), TERN_EINVAL);
        tern_snprintf(v->why, sizeof v->why, "%s", tern_pkg_reason_name(bp->err.reason));
        return false;
    }
    struct tern_pkg kept_pkg = bp->pkg;     /* a refusal must not spoil what is kept */
    char kept_key[sizeof bp->key];
    memcpy(kept_key, bp->key, sizeof kept_key);
    if (tern_boot_pkg_check(bp, bytes, len, min_counter, slot_source(slot), bp->m) != TERN_OK) {
        tern_free(bp->os, bytes);
        bp->pkg = kept_pkg;
        memcpy(bp->key, kept_key, sizeof kept_key);
        tern_snprintf(v->why, sizeof v->why, "%s", tern_pkg_reason_name(bp->err.reason));
        return false;
    }
    drop_kept(bp);
    bp->bytes = bytes;
    bp->len = len;
    bp->kept = slot;
    int n = (int)tern_snprintf((char *)v->id, sizeof v->id, "%s %s key=%s", bp->m->name,
                               bp->m->version, bp->key);
    v->id_len = (uint8_t)(n < (int)sizeof v->id ? n : (int)sizeof v->id - 1);
    return true;
}

static void say_choice(struct tern_boot_pkg *bp, const struct tern_boot_choice *c)
{
    const struct tern_boot_state *s = &bp->update.state;
    if (c->rolled_back) {
        char text[TERN_UPDATE_TEXT_MAX];
        tern_snprintf(text, sizeof text, "%s", s->last.text[0] ? s->last.text : "-");
        tern_marker(bp->os, "TERN_UPDATE_ROLLBACK", "slot=%s reason=%s to=%s text=%s",
                    tern_update_slot_name(s->last.slot), tern_update_why_name(s->last.why),
                    tern_update_slot_name(c->slot), tern_token(text));
    }
    if (c->trial)
        tern_marker(bp->os, "TERN_UPDATE_TRY", "slot=%s tries_left=%u",
                    tern_update_slot_name(c->slot), (unsigned)c->tries_left);
}

tern_result tern_boot_pkg_select(struct tern_boot_pkg *bp, struct tern_manifest *m)
{
    if (!bp->have_update)
        return TERN_ENOENT;
    struct tern_boot_choice c;
    bp->m = m;
    bp->present = 0;
    tern_result r = tern_update_boot_select(&bp->update, verify_slot, bp, &c);
    if (c.rolled_back || c.trial)
        say_choice(bp, &c);
    if (r == TERN_ENOENT && bp->present == 0)
        return TERN_ENOENT;                 /* no package on the volume: the next source */
    if (r != TERN_OK || c.slot == TERN_SLOT_NONE) {
        drop_kept(bp);
        tern_log(bp->os, TERN_LOG_ERROR, "update", "no slot may boot (%s)", tern_result_name(r));
        if (r == TERN_ENOENT) {
            bp->err.reason = TERN_PKG_R_OK;
            tern_marker(bp->os, "TERN_PKG_REFUSED", "source=slots reason=no-bootable-slot");
        }
        return r == TERN_ENOENT ? TERN_EINVAL : r;
    }
    /* The chosen slot is the one accepted last; a later refusal may have
     * left half a manifest in *m: read it again from the kept bytes. */
    if (bp->kept != c.slot) {
        struct tern_update_verdict v;
        memset(&v, 0, sizeof v);
        if (!verify_slot(bp, c.slot, tern_boot_pkg_min_counter(bp), &v))
            return TERN_EINVAL;
    } else if (package_manifest(bp, &bp->pkg, m) != TERN_OK) {
        return refused(bp, slot_source(c.slot), TERN_EINVAL);
    }
    bp->is_pkg = true;
    bp->slot = c.slot;
    bp->trial = c.trial;
    bp->tries_left = c.tries_left;
    return TERN_OK;
}

void tern_boot_pkg_announce(struct tern_boot_pkg *bp, const struct tern_manifest *m,
                            const char *source)
{
    tern_marker(bp->os, "TERN_PKG_OK",
                "name=%s version=%s key=%s slot=%s counter=%llu source=%s%s", m->name,
                m->version, bp->key, tern_update_slot_name(bp->slot),
                (unsigned long long)bp->pkg.security_counter, source,
                bp->trial ? " trial=1" : "");
}
