/*
 * The A/B update power-cut test (docs/updates.md). On a FAT volume made by
 * mkfs.fat, a setup writes package v1 into slot A and boots it (fresh
 * record, confirmed). Then a workload runs the update flow with reboots in
 * between: install v2 into B (slot file written, read back, staged), a
 * trial of B and its confirm, install v3 into A, a trial failed by its
 * health check, v3 staged again, two trial boots with no confirm and the
 * rollback when the tries run out.
 *
 * The workload runs first whole, logging every record write (its write
 * number, the flushes before it, its bytes). Then it runs again on a
 * fresh copy of the volume for every cut the storage power-cut harness
 * makes (tests/storage/powercut_dev.h): after every sector write k; with
 * each record write torn (only its first 12, 256 or 508 bytes land); and
 * for every flush interval with 4 random subsets of a volatile write
 * cache. After each cut:
 *   - fsck.fat -n finds only what an interrupted FAT update may leave;
 *     Tern mounts the volume and tern_fat_check passes;
 *   - the record read is exactly the last one durably written before the
 *     cut ("old") or the one being written at the cut ("new"), byte for
 *     byte; never anything else;
 *   - tern_update_boot_select returns a slot, its package verifies (read
 *     back whole: magic, CRC-32, counter), the slot is not marked bad, and
 *     when it is a trial the decremented try is already on the medium.
 *
 *   powercut_update BASE.img SCRATCH.img
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "powercut_dev.h"
#include "tern/fat.h"
#include "tern/gpt.h"
#include "tern/update.h"

#define PKG_MAX 32768
#define RECORDS_MAX 64

/* A stand-in package: "TPKTEST1", version, payload length, counter,
 * payload, CRC-32 of everything before it. */
static size_t make_pkg(uint8_t *out, uint32_t version, uint32_t len, uint64_t counter)
{
    memcpy(out, "TPKTEST1", 8);
    memcpy(out + 8, &version, 4);
    memcpy(out + 12, &len, 4);
    memcpy(out + 16, &counter, 8);
    for (uint32_t i = 0; i < len; i++)
        out[24 + i] = (uint8_t)(version * 31 + i * 7);
    uint32_t crc = tern_crc32(0, out, 24 + len);
    memcpy(out + 24 + len, &crc, 4);
    return 24 + len + 4;
}

/* The verify callback: reads the slot's file whole and checks it. */
static bool verify_pkg(void *arg, unsigned slot, uint64_t min_counter,
                       struct tern_update_verdict *v)
{
    static uint8_t buf[PKG_MAX + 64];
    struct tern_fat *fs = arg;
    struct tern_fat_file f;
    size_t got = 0;
    if (tern_fat_open(fs, &f, tern_update_slot_path(slot), TERN_FAT_READ) != TERN_OK) {
        strcpy(v->why, "no-file");
        return false;
    }
    tern_result r = tern_fat_read(&f, buf, sizeof(buf), &got);
    tern_fat_close(&f);
    uint32_t version, len, crc;
    uint64_t counter;
    memcpy(&version, buf + 8, 4);
    memcpy(&len, buf + 12, 4);
    memcpy(&counter, buf + 16, 8);
    memcpy(&crc, buf + 24 + (len < PKG_MAX ? len : 0), 4);
    const char *why = NULL;
    if (r != TERN_OK || got < 28 || memcmp(buf, "TPKTEST1", 8) != 0 || len > PKG_MAX ||
        got != 28 + (size_t)len)
        why = "truncated";
    else if (crc != tern_crc32(0, buf, 24 + len))
        why = "bad-crc";
    else if (counter < min_counter)
        why = "counter";
    if (why != NULL) {
        strcpy(v->why, why);
        return false;
    }
    v->id_len = (uint8_t)snprintf((char *)v->id, sizeof(v->id), "v%u", version);
    return true;
}

/* ---- the device, with a log of record writes in the uncut run ---- */

struct logged {
    uint64_t index;                      /* the write's number */
    uint64_t flushes;                    /* flushes before it */
    uint8_t bytes[TERN_BOOT_STATE_BYTES];
};

struct rig {
    struct simdev sd;
    uint64_t record_lba[2];
    bool logging;
    struct logged log[RECORDS_MAX];
    size_t nlog;
    struct tern_bdev dev;
    struct tern_fat fs;
    struct tern_update u;
};

static tern_result rig_write(void *ctx, uint64_t lba, const void *buf, uint32_t count)
{
    struct rig *g = ctx;
    for (uint32_t i = 0; g->logging && i < count; i++) {
        if (lba + i != g->record_lba[0] && lba + i != g->record_lba[1])
            continue;
        if (g->nlog == RECORDS_MAX)
            abort();
        struct logged *l = &g->log[g->nlog++];
        l->index = g->sd.written + i;
        l->flushes = g->sd.flushes;
        memcpy(l->bytes, (const uint8_t *)buf + (size_t)i * SS, TERN_BOOT_STATE_BYTES);
    }
    return sim_write(&g->sd, lba, buf, count);
}

static tern_result rig_read(void *ctx, uint64_t lba, void *buf, uint32_t count)
{
    return sim_read(&((struct rig *)ctx)->sd, lba, buf, count);
}

static tern_result rig_flush(void *ctx)
{
    return sim_flush(&((struct rig *)ctx)->sd);
}

static const struct tern_bdev_ops rig_ops = { rig_read, rig_write, rig_flush };

static uint8_t cache[64 * 1024];

/* Power on: a cold cache, the volume mounted, the record opened. */
static int boot(struct rig *g)
{
    tern_bdev_init(&g->dev, &rig_ops, g, SS, g->sd.sectors, false, cache, sizeof(cache), 16);
    if (tern_fat_mount(&g->fs, &g->dev, 0, g->sd.sectors, false) != TERN_OK)
        return -1;
    return tern_update_open(&g->u, &g->fs) == TERN_OK ? 0 : -1;
}

/* A reboot without a power cut: everything synced first. */
static int reboot(struct rig *g)
{
    if (tern_fat_unmount(&g->fs) != TERN_OK)
        return -1;
    return boot(g);
}

/* Writes a package into slot (forgotten first), reads it back, stages it. */
static int install(struct rig *g, unsigned slot, uint32_t version, uint32_t len,
                   uint64_t counter, unsigned tries)
{
    static uint8_t pkg[PKG_MAX + 64];
    size_t n = make_pkg(pkg, version, len, counter);
    struct tern_fat_file f;
    unsigned want;
    if (tern_update_install_slot(&g->u, &want) != TERN_OK || want != slot ||
        tern_update_slot_create(&g->u, slot, &f) != TERN_OK)
        return -1;
    int bad = 0;
    for (size_t off = 0; off < n; off += 1000)
        bad |= tern_fat_write(&f, pkg + off, n - off < 1000 ? n - off : 1000) != TERN_OK;
    bad |= tern_fat_close(&f) != TERN_OK;
    struct tern_update_verdict v = { 0 };
    if (bad || !verify_pkg(&g->fs, slot, g->u.state.counter, &v))
        return -1;
    return tern_update_stage(&g->u, slot, tries, v.id, v.id_len) == TERN_OK ? 0 : -1;
}

/* One boot of the flow: select, and for a trial confirm or fail it. */
static int boot_and(struct rig *g, unsigned want_slot, bool want_trial, int outcome)
{
    struct tern_boot_choice c;
    if (reboot(g) != 0 ||
        tern_update_boot_select(&g->u, verify_pkg, &g->fs, &c) != TERN_OK ||
        c.slot != want_slot || c.trial != want_trial)
        return -1;
    if (outcome > 0)
        return tern_update_confirm(&g->u, (uint64_t)outcome) == TERN_OK ? 0 : -1;
    if (outcome < 0)
        return tern_update_fail(&g->u, TERN_UPDATE_WHY_UNHEALTHY, "never healthy") ==
                       TERN_OK ? 0 : -1;
    return 0;
}

/* The update flow; 0 when every step did what it should (the uncut run). */
static int workload(struct rig *g)
{
    if (boot(g) != 0)
        return -1;
    int bad = 0;
    bad |= install(g, TERN_SLOT_B, 2, 20000, 2, 2);
    bad |= boot_and(g, TERN_SLOT_B, true, 2);             /* v2 healthy: confirmed */
    bad |= install(g, TERN_SLOT_A, 3, 9000, 3, 2);
    bad |= boot_and(g, TERN_SLOT_A, true, -1);            /* v3 unhealthy: rolled back */
    bad |= boot_and(g, TERN_SLOT_B, false, 0);
    bad |= tern_update_stage(&g->u, TERN_SLOT_A, 2, (const uint8_t *)"v3", 2) != TERN_OK;
    bad |= boot_and(g, TERN_SLOT_A, true, 0);             /* crashes: no call */
    bad |= boot_and(g, TERN_SLOT_A, true, 0);
    bad |= boot_and(g, TERN_SLOT_B, false, 0);            /* tries ran out */
    bad |= g->u.state.last.why != TERN_UPDATE_WHY_TRIES;
    bad |= tern_fat_unmount(&g->fs) != TERN_OK;
    return bad ? -1 : 0;
}

/* The base: v1 in slot A, booted on a fresh volume and confirmed. */
static int setup(struct rig *g)
{
    static uint8_t pkg[PKG_MAX + 64];
    size_t n = make_pkg(pkg, 1, 3000, 1);
    struct tern_fat_file f;
    struct tern_boot_choice c;
    if (boot(g) != 0 || tern_update_slot_create(&g->u, TERN_SLOT_A, &f) != TERN_OK ||
        tern_fat_write(&f, pkg, n) != TERN_OK || tern_fat_close(&f) != TERN_OK ||
        reboot(g) != 0 || tern_update_boot_select(&g->u, verify_pkg, &g->fs, &c) != TERN_OK ||
        c.slot != TERN_SLOT_A || !c.initialised || tern_update_confirm(&g->u, 1) != TERN_OK)
        return -1;
    g->record_lba[0] = g->u.copy_lba[0];
    g->record_lba[1] = g->u.copy_lba[1];
    return tern_fat_unmount(&g->fs) == TERN_OK ? 0 : -1;
}

/* ---- judging a cut ---- */

struct cut {
    uint64_t k;                          /* ordered: writes that land; UINT64_MAX: off */
    uint32_t torn;                       /* bytes of write k that land */
    uint64_t epoch;                      /* volatile cache: the flush interval; UINT64_MAX: off */
    uint32_t seed;                       /* volatile cache: which random subset */
};

/* The records the cut allows: old (durable before it) and new (the one
 * being written at it, or any in the volatile interval), as log indexes;
 * -1 for old means the base record. */
static void allowed(const struct rig *g, const struct cut *c, int *old, int *newest_maybe,
                    int *first_maybe)
{
    *old = -1;
    *first_maybe = *newest_maybe = -2;
    for (size_t i = 0; i < g->nlog; i++) {
        const struct logged *l = &g->log[i];
        bool durable = c->k != UINT64_MAX ? l->index < c->k : l->flushes < c->epoch;
        bool maybe = c->k != UINT64_MAX ? (l->index == c->k && c->torn > 0)
                                        : l->flushes == c->epoch;
        if (durable)
            *old = (int)i;
        if (maybe) {
            if (*first_maybe == -2)
                *first_maybe = (int)i;
            *newest_maybe = (int)i;
        }
    }
}

/* 0 when the record u holds is one the cut allows. */
static int judge_record(const struct rig *g, const struct cut *c, const uint8_t *base_record,
                        char *why, size_t cap)
{
    uint8_t got[TERN_BOOT_STATE_BYTES];
    int old, first, last;
    allowed(g, c, &old, &last, &first);
    if (!g->u.have_record) {
        snprintf(why, cap, "no valid record");
        return 1;
    }
    tern_boot_state_encode(&g->u.state, got);
    const uint8_t *o = old < 0 ? base_record : g->log[old].bytes;
    if (memcmp(got, o, sizeof(got)) == 0)
        return 0;
    for (int i = first; i >= 0 && i <= last; i++)
        if (memcmp(got, g->log[i].bytes, sizeof(got)) == 0)
            return 0;
    snprintf(why, cap, "record seq %u is neither the old (seq %u) nor a new one",
             (unsigned)g->u.state.seq, (unsigned)(o[8] | o[9] << 8));
    return 1;
}

/* 0 when boot_select boots a slot that verifies, and a trial's try is on
 * the medium before it returns. */
static int judge_boot(struct rig *g, char *why, size_t cap)
{
    struct tern_boot_choice c;
    tern_result r = tern_update_boot_select(&g->u, verify_pkg, &g->fs, &c);
    struct tern_update_verdict v = { 0 };
    if (r != TERN_OK || c.slot > TERN_SLOT_B) {
        snprintf(why, cap, "boot_select: %s, slot %s", tern_result_name(r),
                 tern_update_slot_name(c.slot));
        return 1;
    }
    if (!verify_pkg(&g->fs, c.slot, 0, &v) || g->u.state.slot[c.slot].bad) {
        snprintf(why, cap, "slot %s booted: %s", tern_update_slot_name(c.slot), v.why);
        return 1;
    }
    struct tern_boot_state d;
    int cur = g->u.current;
    if (tern_boot_state_decode(g->sd.img + g->u.copy_lba[cur] * SS, SS, &d, NULL) != TERN_OK ||
        d.seq != g->u.state.seq || (c.trial && d.tries != c.tries_left)) {
        snprintf(why, cap, "the record boot_select stored is not on the medium");
        return 1;
    }
    return 0;
}

static void reset_run(struct rig *g, const uint8_t *base, size_t size, const struct cut *c)
{
    memcpy(g->sd.img, base, size);
    g->sd.written = g->sd.flushes = 0;
    g->sd.ntouched = 0;
    g->sd.cut_after = c->k;
    g->sd.torn_bytes = c->torn;
    g->sd.cut_epoch = c->epoch;
    g->sd.rng = (uint32_t)((c->epoch * 4 + c->seed) * 2654435761u) | 1u;
}

/* One cut: the workload, then fsck, Tern's check, the record, a boot. */
static int run_cut(struct rig *g, const uint8_t *base, size_t size, const struct cut *c,
                   const uint8_t *base_record, int fd, const char *scratch, uint64_t n)
{
    char why[600];
    int bad = 0;
    reset_run(g, base, size, c);
    (void)workload(g);                   /* runs to its end; what the cut took is lost */
    for (size_t i = 0; i < g->sd.ntouched; i++)
        if (pwrite(fd, g->sd.img + g->sd.touched[i] * SS, SS,
                   (off_t)(g->sd.touched[i] * SS)) != SS)
            return 2;
    if (powercut_fsck(scratch, n, why, sizeof(why)) != 0) {
        fprintf(stderr, "FAIL: fsck.fat: %s", why);
        bad = 1;
    }
    g->sd.cut_after = g->sd.cut_epoch = UINT64_MAX;
    g->sd.torn_bytes = 0;
    static uint8_t bitmap[1 << 16];
    if (boot(g) != 0 || tern_fat_check(&g->fs, bitmap, sizeof(bitmap), NULL) != TERN_OK) {
        fprintf(stderr, "FAIL: case %llu: Tern refuses the volume (%s)\n",
                (unsigned long long)n, g->fs.reason ? g->fs.reason : g->u.reason);
        bad = 1;
    } else if (judge_record(g, c, base_record, why, sizeof(why)) != 0 ||
               judge_boot(g, why, sizeof(why)) != 0) {
        fprintf(stderr, "FAIL: case %llu (k=%lld torn=%u epoch=%lld): %s\n",
                (unsigned long long)n, (long long)c->k, c->torn, (long long)c->epoch, why);
        bad = 1;
    }
    for (size_t i = 0; i < g->sd.ntouched; i++)
        if (pwrite(fd, base + g->sd.touched[i] * SS, SS, (off_t)(g->sd.touched[i] * SS)) != SS)
            return 2;
    return bad;
}

/* Every cut of the three kinds; returns the failures. */
static int all_cuts(struct rig *g, const uint8_t *base, size_t size, const uint8_t *base_rec,
                    int fd, const char *scratch, uint64_t writes, uint64_t flushes,
                    uint64_t *cases)
{
    static const uint32_t torn[] = { 12, 256, 508 };
    enum { SEEDS = 4 };
    int failures = 0;
    uint64_t n = 0;
    for (uint64_t k = 0; k <= writes && failures <= 20; k++, n++)
        failures += run_cut(g, base, size, &(struct cut){ .k = k, .epoch = UINT64_MAX }, base_rec, fd,
                            scratch, n);
    size_t nlog = g->nlog;
    for (size_t i = 0; i < nlog && failures <= 20; i++)
        for (size_t t = 0; t < 3; t++, n++)
            failures += run_cut(g, base, size, &(struct cut){ .k = g->log[i].index, .torn = torn[t],
                                                              .epoch = UINT64_MAX },
                                base_rec, fd, scratch, n);
    for (uint64_t e = 0; e <= flushes && failures <= 20; e++)
        for (uint32_t s = 0; s < SEEDS; s++, n++)
            failures += run_cut(g, base, size, &(struct cut){ .k = UINT64_MAX, .epoch = e, .seed = s }, base_rec,
                                fd, scratch, n);
    *cases = n;
    return failures;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: powercut_update BASE.img SCRATCH.img\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "rb");
    if (in == NULL)
        return 2;
    fseek(in, 0, SEEK_END);
    size_t size = (size_t)ftell(in);
    fseek(in, 0, SEEK_SET);
    static struct rig g;
    uint8_t *base = malloc(size);
    g.sd = (struct simdev){ .img = malloc(size), .sectors = size / SS,
                            .cut_after = UINT64_MAX, .cut_epoch = UINT64_MAX };
    if (fread(g.sd.img, 1, size, in) != size)
        return 2;
    fclose(in);
    if (setup(&g) != 0) {
        fprintf(stderr, "FAIL: setup (v1 in slot A, booted, confirmed): %s\n",
                g.u.reason ? g.u.reason : "-");
        return 1;
    }
    memcpy(base, g.sd.img, size);
    uint8_t base_record[TERN_BOOT_STATE_BYTES];
    tern_boot_state_encode(&g.u.state, base_record);

    /* The whole run: logs the record writes and must succeed. */
    g.logging = true;
    g.sd.written = g.sd.flushes = 0;
    if (workload(&g) != 0) {
        fprintf(stderr, "FAIL: the uncut workload failed (%s)\n",
                g.fs.reason ? g.fs.reason : "-");
        return 1;
    }
    g.logging = false;
    uint64_t writes = g.sd.written, flushes = g.sd.flushes;
    printf("workload: %llu sector writes (%zu of them records), %llu flushes\n",
           (unsigned long long)writes, g.nlog, (unsigned long long)flushes);

    FILE *out = fopen(argv[2], "w+b");
    if (out == NULL || fwrite(base, 1, size, out) != size)
        return 2;
    fflush(out);
    char why[600];
    if (powercut_fsck(argv[2], 0, why, sizeof(why)) != 0) {
        fprintf(stderr, "FAIL: the base image: %s", why);
        return 1;
    }
    uint64_t cases = 0;
    int failures = all_cuts(&g, base, size, base_record, fileno(out), argv[2], writes,
                            flushes, &cases);
    fclose(out);
    free(base);
    free(g.sd.img);
    free(g.sd.touched);
    if (failures) {
        fprintf(stderr, "FAIL: %d of %llu cuts\n", failures, (unsigned long long)cases);
        return 1;
    }
    printf("PASS: %llu cuts (%llu ordered, %zu torn record writes x 3, %llu flush intervals "
           "x 4 volatile-cache subsets): old or new record, a slot that verifies\n",
           (unsigned long long)cases, (unsigned long long)writes + 1, g.nlog,
           (unsigned long long)flushes + 1);
    return 0;
}
