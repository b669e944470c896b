/*
 * tern-mkimage: writes a GPT disk image with an EFI System Partition
 * (FAT32) and a data partition (FAT12/16/32 by size), filled from host
 * directories, using only core's GPT and FAT code (no mkfs, sgdisk or
 * mtools). See docs/storage.md.
 *
 * Before it writes anything it surveys both trees (names, sizes, and the
 * directory entries each directory will use, with core's
 * tern_fat_dir_plan), sizes the data partition's root directory to hold
 * its names (or picks FAT32 when a FAT12/16 root cannot), and checks the
 * clusters every file and directory will take; what does not fit is
 * refused with what (root directory entries, directory entries,
 * clusters), by how much, and the --size or --esp-size that would do.
 *
 * The same trees and options give the same image, byte for byte
 * (docs/reproducible.md): names in byte order, every FAT stamp from
 * SOURCE_DATE_EPOCH (or a fixed default), and the disk and partition
 * GUIDs (and so the FAT serials) derived from a SHA-256 of the options,
 * that time and the trees' names and contents.
 *
 *   tern-mkimage --output IMG --size MiB [--esp DIR] [--data DIR]
 *                [--esp-size MiB] [--sector 512|4096] [--quiet]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/sha256.h>

#include "tern/blockdev.h"
#include "tern/fat.h"
#include "tern/gpt.h"
#include "sector_io.h"

#define CACHE_SLOTS 512
#define ALIGN_MIB 1


/* ---- what makes two runs write the same bytes ---- */

/* FAT stamps without SOURCE_DATE_EPOCH: 2020-01-01 00:00:00 UTC, the
 * date core stamps by default. */
#define DEFAULT_EPOCH 1577836800LL
#define FAT_EPOCH_MIN 315532800LL     /* 1980-01-01 00:00:00, FAT's first */
#define FAT_EPOCH_MAX 4354819198LL    /* 2107-12-31 23:59:58, FAT's last */

/* The time every entry is stamped with: SOURCE_DATE_EPOCH (decimal
 * seconds since 1970) when set and not empty, else DEFAULT_EPOCH. 0; -1
 * (said why) when it is set but not such a number. */
static int image_epoch(long long *out)
{
    const char *s = getenv("SOURCE_DATE_EPOCH");
    if (s == NULL || *s == '\0') {
        *out = DEFAULT_EPOCH;
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0' || errno != 0) {
        fprintf(stderr, "tern-mkimage: SOURCE_DATE_EPOCH='%s' is not a whole number of seconds "
                        "since 1970\n", s);
        return -1;
    }
    *out = v;
    return 0;
}

/* A FAT date and time (FAT encoding). */
struct stamp {
    uint16_t date, time;
};

/* t as a FAT stamp (UTC, 2-second steps), clamped to the years FAT can
 * say (1980..2107). */
static struct stamp stamp_of(long long t)
{
    t = t < FAT_EPOCH_MIN ? FAT_EPOCH_MIN : t > FAT_EPOCH_MAX ? FAT_EPOCH_MAX : t;
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    return (struct stamp){
        .date = (uint16_t)(((tm.tm_year - 80) << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday),
        .time = (uint16_t)((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2)),
    };
}

static void sha_u64(mbedtls_sha256_context *sha, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    mbedtls_sha256_update_ret(sha, b, sizeof(b));
}

static void sha_str(mbedtls_sha256_context *sha, const char *s)
{
    mbedtls_sha256_update_ret(sha, (const unsigned char *)s, strlen(s) + 1);
}

/* The GUID named what ("disk", "esp", "data") of an image whose inputs
 * hash to seed: the first 16 bytes of SHA-256(seed, what), marked as an
 * RFC 9562 version 8 (custom) UUID. */
static struct tern_guid derived_guid(const uint8_t seed[32], const char *what)
{
    mbedtls_sha256_context sha;
    uint8_t h[32];
    struct tern_guid g;
    mbedtls_sha256_init(&sha);
    mbedtls_sha256_starts_ret(&sha, 0);
    mbedtls_sha256_update_ret(&sha, seed, 32);
    sha_str(&sha, what);
    mbedtls_sha256_finish_ret(&sha, h);
    mbedtls_sha256_free(&sha);
    memcpy(g.b, h, sizeof(g.b));
    g.b[7] = (uint8_t)((g.b[7] & 0x0f) | 0x80);   /* version 8 */
    g.b[8] = (uint8_t)((g.b[8] & 0x3f) | 0x80);   /* variant */
    return g;
}

/* ---- surveying a host tree before anything is written ---- */

/* Directories below the root: tern_fat_check walks 64 levels, the root's
 * included, and refuses a deeper tree (tree-too-deep) at mount. */
#define DEPTH_MAX 63

struct survey {
    const char *what;          /* "esp" or "data" */
    uint32_t sector_size;
    mbedtls_sha256_context *id;   /* takes every name and file's bytes, in copy order */
    size_t root_len;           /* of the tree's host path: names are hashed below it */
    uint8_t *buf;              /* [buf_len], for reading files into id */
    size_t buf_len;
    uint32_t root_entries;     /* the root's planned size, the label's entry included */
    unsigned long files, dirs;
    unsigned long long bytes;
    uint32_t *file_bytes;      /* [files] */
    uint32_t *dir_bytes;       /* [dirs]: planned entries * 32 */
    size_t file_cap, dir_cap;
    struct tern_fat_geometry geo;   /* the layout chosen (fit_or_say) */
};

static int push(uint32_t **arr, size_t *cap, unsigned long n, uint32_t v)
{
    if (n == *cap) {
        size_t nc = *cap ? *cap * 2 : 1024;
        uint32_t *na = realloc(*arr, nc * sizeof(**arr));
        if (na == NULL) {
            fprintf(stderr, "tern-mkimage: out of memory\n");
            return -1;
        }
        *arr = na;
        *cap = nc;
    }
    (*arr)[n] = v;
    return 0;
}

/* Byte order of names, whatever the locale (alphasort follows LC_COLLATE). */
static int by_bytes(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Sorted names of a host directory, as copy_tree will take them. */
static int sorted_names(const char *host, struct dirent ***names)
{
    int n = scandir(host, names, NULL, by_bytes);
    if (n < 0)
        fprintf(stderr, "tern-mkimage: %s: %s\n", host, strerror(errno));
    return n;
}

static void free_names(struct dirent **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Hashes into sv->id an entry of the tree (kind 'd' or 'f', its path
 * below the tree's root) and, for a file, its size and bytes. 0 or -1
 * (said what, on stderr). */
static int hash_entry(struct survey *sv, char kind, const char *hpath, uint64_t size)
{
    mbedtls_sha256_update_ret(sv->id, (const unsigned char *)&kind, 1);
    sha_str(sv->id, hpath + sv->root_len);
    if (kind == 'd')
        return 0;
    sha_u64(sv->id, size);
    int fd = open(hpath, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "tern-mkimage: %s: %s\n", hpath, strerror(errno));
        return -1;
    }
    uint64_t got = 0;
    ssize_t n;
    while ((n = read(fd, sv->buf, sv->buf_len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        mbedtls_sha256_update_ret(sv->id, sv->buf, (size_t)n);
        got += (uint64_t)n;
    }
    int err = errno;
    close(fd);
    if (n < 0)
        fprintf(stderr, "tern-mkimage: %s: %s\n", hpath, strerror(err));
    else if (got != size)
        fprintf(stderr, "tern-mkimage: %s: changed while being read\n", hpath);
    return n == 0 && got == size ? 0 : -1;
}

/* Plans directory host (its own plan: depth 0 is the root) and, after
 * it, each subdirectory; records file and directory sizes and hashes
 * every entry (hash_entry). 0 or -1 (said what, on stderr). */
static int survey_dir(struct survey *sv, const char *host, int depth)
{
    struct dirent **names;
    int n = sorted_names(host, &names);
    if (n < 0)
        return -1;
    struct tern_fat_dir_plan *plan = malloc(sizeof(*plan));
    if (plan == NULL) {
        free_names(names, n);
        return -1;
    }
    tern_fat_dir_plan_init(plan, sv->sector_size, depth == 0 ? 1 : 2);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const char *nm = names[i]->d_name;
        if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0)
            continue;
        char hpath[4096];
        struct stat st;
        if ((size_t)snprintf(hpath, sizeof(hpath), "%s/%s", host, nm) >= sizeof(hpath)) {
            fprintf(stderr, "tern-mkimage: %s/%s: path too long\n", host, nm);
            rc = -1;
        } else if (stat(hpath, &st) != 0) {
            fprintf(stderr, "tern-mkimage: %s: %s\n", hpath, strerror(errno));
            rc = -1;
        } else if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
            continue;                            /* skipped by the copy, with a note */
        } else if (tern_fat_dir_plan_add(plan, nm, strlen(nm)) == TERN_EINVAL) {
            fprintf(stderr, "tern-mkimage: %s: not a valid FAT name\n", hpath);
            rc = -1;
        } else if (S_ISREG(st.st_mode) && st.st_size > 0xffffffffLL) {
            fprintf(stderr, "tern-mkimage: %s: larger than FAT's 4 GiB - 1 limit\n", hpath);
            rc = -1;
        } else if (S_ISREG(st.st_mode)) {
            rc = push(&sv->file_bytes, &sv->file_cap, sv->files++, (uint32_t)st.st_size);
            sv->bytes += (unsigned long long)st.st_size;
            if (rc == 0)
                rc = hash_entry(sv, 'f', hpath, (uint64_t)st.st_size);
        } else if (depth + 1 > DEPTH_MAX) {
            fprintf(stderr, "tern-mkimage: %s: directories nested %d deep, %d more than the "
                            "%d Tern's volume check walks below the root\n", hpath, depth + 1,
                    depth + 1 - DEPTH_MAX, DEPTH_MAX);
            rc = -1;
        } else if ((rc = hash_entry(sv, 'd', hpath, 0)) == 0) {
            rc = survey_dir(sv, hpath, depth + 1);
        }
    }
    if (rc == 0 && plan->entries > TERN_FAT_DIR_ENTRIES_MAX) {
        fprintf(stderr, "tern-mkimage: %s: %u names need %u directory entries; a FAT directory "
                        "holds at most %u (%u too many): split it into subdirectories\n",
                host, plan->names, plan->entries, TERN_FAT_DIR_ENTRIES_MAX,
                plan->entries - TERN_FAT_DIR_ENTRIES_MAX);
        rc = -1;
    }
    if (rc == 0 && depth == 0)
        sv->root_entries = plan->entries;
    else if (rc == 0)
        rc = push(&sv->dir_bytes, &sv->dir_cap, sv->dirs++, plan->entries * 32);
    free(plan);
    free_names(names, n);
    return rc;
}

/* Clusters of cluster_bytes the surveyed tree takes (directories at
 * least one each; on FAT32 the root directory's too). */
static uint64_t clusters_needed(const struct survey *sv, uint32_t cluster_bytes, bool fat32)
{
    uint64_t n = 0;
    for (unsigned long i = 0; i < sv->files; i++)
        n += ((uint64_t)sv->file_bytes[i] + cluster_bytes - 1) / cluster_bytes;
    for (unsigned long i = 0; i < sv->dirs; i++) {
        uint64_t c = ((uint64_t)sv->dir_bytes[i] + cluster_bytes - 1) / cluster_bytes;
        n += c ? c : 1;
    }
    if (fat32) {
        uint64_t c = ((uint64_t)sv->root_entries * 32 + cluster_bytes - 1) / cluster_bytes;
        n += c ? c : 1;
    }
    return n;
}

/* The format options for a volume of sectors that holds sv: a FAT12/16
 * root sized to its names (FAT32 when no FAT12/16 root can hold them);
 * *g its layout. 0 when it fits; 1 when it does not (*why says what, and
 * by how much); -1 when no FAT layout fits the size at all. */
static int fit_volume(const struct survey *sv, uint64_t sectors, struct tern_fat_format_opts *o,
                      struct tern_fat_geometry *g, char *why, size_t why_len)
{
    uint32_t max = tern_fat_root_entries_max(sv->sector_size);
    enum tern_fat_type forced = o->type;
    o->root_entries = 0;
    if (forced != TERN_FAT32) {
        if (sv->root_entries > max)
            o->type = TERN_FAT32;                /* no fixed root can hold them */
        else if (sv->root_entries > 512)
            o->root_entries = sv->root_entries;
    }
    tern_result r = tern_fat_format_plan(sv->sector_size, sectors, o, g);
    if (r == TERN_ENOSPC && o->root_entries > 0) {
        o->type = TERN_FAT32;                    /* the root left no room: try a chain */
        o->root_entries = 0;
        r = tern_fat_format_plan(sv->sector_size, sectors, o, g);
    }
    if (r != TERN_OK) {
        if (sv->root_entries > 512 && forced != TERN_FAT32)
            snprintf(why, why_len,
                     "its root directory needs %u entries: a FAT12/16 root that large does "
                     "not fit in %llu KiB (and holds at most %u), and FAT32 needs at least "
                     "%llu KiB", sv->root_entries,
                     (unsigned long long)(sectors * sv->sector_size / 1024), max,
                     (unsigned long long)(tern_fat32_min_sectors(sv->sector_size) *
                                          sv->sector_size / 1024));
        else
            snprintf(why, why_len, "no FAT layout fits %llu KiB",
                     (unsigned long long)(sectors * sv->sector_size / 1024));
        return -1;
    }
    uint64_t need = clusters_needed(sv, g->cluster_bytes, g->type == TERN_FAT32);
    if (need > g->clusters) {
        snprintf(why, why_len,
                 "the partition would be full: %lu files (%llu KiB) and %lu directories need "
                 "%llu clusters of %u bytes, it has %u (FAT%d): %llu clusters (%llu KiB) short",
                 sv->files, sv->bytes / 1024, sv->dirs + 1, (unsigned long long)need,
                 g->cluster_bytes, g->clusters, g->type,
                 (unsigned long long)(need - g->clusters),
                 (unsigned long long)((need - g->clusters) * g->cluster_bytes / 1024));
        return 1;
    }
    return 0;
}

/* Surveys the tree at src (survey_dir), its name and entries hashed into
 * id. 0 or -1 (said what). */
static int survey_tree(struct survey *sv, const char *src, mbedtls_sha256_context *id)
{
    sv->id = id;
    sv->root_len = strlen(src);
    sv->buf_len = 1 << 16;
    sv->buf = malloc(sv->buf_len);
    if (sv->buf == NULL) {
        fprintf(stderr, "tern-mkimage: out of memory\n");
        return -1;
    }
    sha_str(id, sv->what);
    int rc = survey_dir(sv, src, 0);
    free(sv->buf);
    sv->buf = NULL;
    return rc;
}

/* Surveys both trees (either may be NULL) and hashes what decides the
 * image's bytes into seed: the layout (size, ESP size and sector size in
 * MiB and bytes), the FAT stamp, and every name and byte of the trees.
 * 0 or -1 (said what). */
static int survey_image(struct survey *esv, const char *esp, struct survey *dsv,
                        const char *data, const uint32_t layout[3], struct stamp st,
                        uint8_t seed[32])
{
    mbedtls_sha256_context id;
    mbedtls_sha256_init(&id);
    mbedtls_sha256_starts_ret(&id, 0);
    sha_str(&id, "tern-mkimage image id 1");
    for (int i = 0; i < 3; i++)
        sha_u64(&id, layout[i]);
    sha_u64(&id, (uint64_t)st.date << 16 | st.time);
    int rc = 0;
    if (esp)
        rc = survey_tree(esv, esp, &id);
    if (rc == 0 && data)
        rc = survey_tree(dsv, data, &id);
    mbedtls_sha256_finish_ret(&id, seed);
    mbedtls_sha256_free(&id);
    return rc;
}

/* The two partitions of a --size MiB image with an esp_mib ESP: 1 MiB
 * (MBR + primary GPT), the ESP, the data partition up to the last whole
 * MiB before the backup GPT. GUIDs are left for the caller. */
static void lay_out(uint32_t size_mib, uint32_t esp_mib, uint32_t sector,
                    struct tern_gpt_new_part parts[2])
{
    uint64_t per_mib = (1u << 20) / sector, total = (uint64_t)size_mib * per_mib;
    uint64_t first_usable, last_usable;
    tern_gpt_usable(sector, total, &first_usable, &last_usable);
    memset(parts, 0, 2 * sizeof(parts[0]));
    parts[0].type = TERN_GPT_TYPE_ESP;
    parts[0].first_lba = per_mib * ALIGN_MIB;
    parts[0].last_lba = parts[0].first_lba + (uint64_t)esp_mib * per_mib - 1;
    parts[0].name = "EFI System Partition";
    parts[1].type = TERN_GPT_TYPE_BASIC_DATA;
    parts[1].first_lba = parts[0].last_lba + 1;
    parts[1].last_lba = (last_usable + 1) / per_mib * per_mib - 1;   /* MiB-aligned end */
    parts[1].name = "Tern data";
}

/* Whether sv fits the partition of an image of size_mib MiB with an
 * esp_mib ESP (o: the caller's options, not changed). */
static bool fits_at(const struct survey *sv, const struct tern_fat_format_opts *o,
                    uint32_t size_mib, uint32_t esp_mib, uint32_t sector)
{
    struct tern_gpt_new_part parts[2];
    lay_out(size_mib, esp_mib, sector, parts);
    const struct tern_gpt_new_part *p = &parts[strcmp(sv->what, "esp") == 0 ? 0 : 1];
    if (p->last_lba < p->first_lba)
        return false;
    struct tern_fat_format_opts t = *o;
    struct tern_fat_geometry g;
    char why[8];
    return fit_volume(sv, p->last_lba - p->first_lba + 1, &t, &g, why, sizeof(why)) == 0;
}

/* The smallest value in (lo, hi] for which fits(v) holds, found by
 * bisection (more space never holds less), or 0 when even hi does not. */
static uint32_t smallest_fit(const struct survey *sv, const struct tern_fat_format_opts *o,
                             uint32_t size_mib, uint32_t esp_mib, uint32_t sector, bool grow_esp)
{
    uint32_t lo = grow_esp ? esp_mib : size_mib, hi = 0x100000u;
#define FITS(v) (grow_esp ? fits_at(sv, o, size_mib + ((v) - esp_mib), (v), sector) \
                          : fits_at(sv, o, (v), esp_mib, sector))
    if (!FITS(hi))
        return 0;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (FITS(mid))
            hi = mid;
        else
            lo = mid;
    }
#undef FITS
    return hi;
}

/* Fits sv into its partition of sectors (o: the format options, updated
 * with the root size or FAT32 chosen). 0; or -1 after saying on stderr
 * what does not fit, by how much, and what size would hold it. */
static int fit_or_say(struct survey *sv, struct tern_fat_format_opts *o, uint32_t esp_mib,
                      uint32_t size_mib, uint32_t sector, uint64_t sectors)
{
    struct tern_fat_format_opts orig = *o;
    char why[512];
    if (fit_volume(sv, sectors, o, &sv->geo, why, sizeof(why)) == 0)
        return 0;
    bool esp = strcmp(sv->what, "esp") == 0;
    uint32_t v = smallest_fit(sv, &orig, size_mib, esp_mib, sector, esp);
    char hint[160] = "";
    if (v && esp)
        snprintf(hint, sizeof(hint), "; --esp-size %u (with --size %u) would hold it", v,
                 size_mib + (v - esp_mib));
    else if (v)
        snprintf(hint, sizeof(hint), "; --size %u would hold it", v);
    fprintf(stderr, "tern-mkimage: the %s partition (%llu MiB) cannot hold its tree: %s%s\n",
            esp ? "ESP" : "data", (unsigned long long)(sectors * sector >> 20), why, hint);
    return -1;
}

/* ---- filling a volume from a host tree ---- */

struct fill {
    struct tern_fat *fs;
    const char *what;          /* "esp" or "data" */
    unsigned long files, dirs;
    unsigned long long bytes;
    unsigned long next_report;
    bool quiet;
    char *buf;
    size_t buf_len;
};

static void progress(struct fill *fl, bool last)
{
    if (fl->quiet)
        return;
    if (!last && fl->files + fl->dirs < fl->next_report)
        return;
    fl->next_report = fl->files + fl->dirs + 250;
    fprintf(stderr, "tern-mkimage: %s: %lu files, %lu directories, %llu KiB%s\n", fl->what,
            fl->files, fl->dirs, fl->bytes / 1024, last ? " (done)" : "");
}

static int copy_file(struct fill *fl, const char *host, const char *path)
{
    int fd = open(host, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "tern-mkimage: %s: %s\n", host, strerror(errno));
        return -1;
    }
    struct tern_fat_file f;
    tern_result r = tern_fat_open(fl->fs, &f, path, TERN_FAT_WRITE | TERN_FAT_CREATE |
                                                        TERN_FAT_EXCL);
    if (r != TERN_OK) {
        fprintf(stderr, "tern-mkimage: %s: cannot create %s on the %s partition: %s%s\n", host,
                path, fl->what, tern_result_name(r),
                r == TERN_EINVAL   ? " (not a valid FAT name)"
                : r == TERN_EEXIST ? " (a name FAT sees as the same, case folded, exists)"
                : r == TERN_ENOSPC ? " (no room for its directory entry, or no free 8.3 alias "
                                     "BASIS~N left for its long name)"
                                   : "");
        close(fd);
        return -1;
    }
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, fl->buf, fl->buf_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "tern-mkimage: %s: %s\n", host, strerror(errno));
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        r = tern_fat_write(&f, fl->buf, (size_t)n);
        if (r != TERN_OK) {
            fprintf(stderr, "tern-mkimage: %s: writing %s: %s%s\n", host, path,
                    tern_result_name(r),
                    r == TERN_ENOSPC ? " (the partition is full; use a larger --size)" : "");
            rc = -1;
            break;
        }
        fl->bytes += (size_t)n;
    }
    close(fd);
    r = tern_fat_close(&f);
    if (rc == 0 && r != TERN_OK) {
        fprintf(stderr, "tern-mkimage: %s: closing %s: %s\n", host, path, tern_result_name(r));
        rc = -1;
    }
    fl->files++;
    progress(fl, false);
    return rc;
}

static int copy_tree(struct fill *fl, const char *host, const char *path, int depth)
{
    if (depth > DEPTH_MAX) {                 /* the survey refused it already */
        fprintf(stderr, "tern-mkimage: %s: directories nested deeper than %d\n", host,
                DEPTH_MAX);
        return -1;
    }
    /* Sorted, so that images are reproducible. */
    struct dirent **names;
    int n = sorted_names(host, &names);
    if (n < 0)
        return -1;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        if (rc != 0 || strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0)
            continue;
        char hpath[4096], fpath[4096];
        if ((size_t)snprintf(hpath, sizeof(hpath), "%s/%s", host, nm) >= sizeof(hpath) ||
            (size_t)snprintf(fpath, sizeof(fpath), "%s/%s", path, nm) >= sizeof(fpath)) {
            fprintf(stderr, "tern-mkimage: %s/%s: path too long\n", host, nm);
            rc = -1;
            continue;
        }
        struct stat st;
        if (stat(hpath, &st) != 0) {
            fprintf(stderr, "tern-mkimage: %s: %s\n", hpath, strerror(errno));
            rc = -1;
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            tern_result r = tern_fat_mkdir(fl->fs, fpath);
            if (r != TERN_OK) {
                fprintf(stderr, "tern-mkimage: %s: cannot create directory %s: %s\n", hpath,
                        fpath, tern_result_name(r));
                rc = -1;
                continue;
            }
            fl->dirs++;
            progress(fl, false);
            rc = copy_tree(fl, hpath, fpath, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            if (st.st_size > 0xffffffffLL) {
                fprintf(stderr, "tern-mkimage: %s: larger than FAT's 4 GiB - 1 limit\n", hpath);
                rc = -1;
                continue;
            }
            rc = copy_file(fl, hpath, fpath);
        } else {
            fprintf(stderr, "tern-mkimage: %s: skipped (not a regular file or directory)\n",
                    hpath);
        }
    }
    free_names(names, n);
    return rc;
}

/* Copies the tree at src into the volume at [first, first + count) of
 * dev, every entry stamped st. 0 or -1 (said why). */
static int fill_volume(struct tern_bdev *dev, uint64_t first, uint64_t count, const char *what,
                       const char *src, struct stamp st, bool quiet)
{
    struct tern_fat fs;
    tern_result r = tern_fat_mount(&fs, dev, first, count, false);
    if (r != TERN_OK) {
        fprintf(stderr, "tern-mkimage: %s: mounting the new volume failed: %s (%s)\n", what,
                tern_result_name(r), fs.reason ? fs.reason : "-");
        return -1;
    }
    fs.date = st.date;
    fs.time = st.time;
    struct fill fl = { .fs = &fs, .what = what, .quiet = quiet, .buf_len = 1 << 20 };
    fl.buf = malloc(fl.buf_len);
    if (fl.buf == NULL)
        return -1;
    int rc = copy_tree(&fl, src, "", 0);
    free(fl.buf);
    if (rc == 0)
        progress(&fl, true);
    r = tern_fat_unmount(&fs);
    if (rc == 0 && r != TERN_OK) {
        fprintf(stderr, "tern-mkimage: %s: sync failed: %s\n", what, tern_result_name(r));
        rc = -1;
    }
    return rc;
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: tern-mkimage --output IMG --size MiB [--esp DIR] [--data DIR]\n"
            "                    [--esp-size MiB] [--sector 512|4096] [--quiet]\n"
            "Writes a GPT disk image: an EFI System Partition (FAT32, filled from --esp)\n"
            "and a data partition (FAT12/16/32 by size, filled from --data).\n");
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || v == 0 || v > 0x100000ul)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Writes the GPT (GUIDs derived from seed) and both volumes (formatted
 * with the options fit_or_say chose, serials from the partition GUIDs,
 * stamped st) and copies the trees in. 0, or -1 after saying why
 * on stderr. */
static int write_partitions(struct tern_bdev *dev, struct tern_gpt_new_part parts[2],
                            struct tern_fat_format_opts *eo, struct tern_fat_format_opts *dopt,
                            const char *esp, const char *data, const uint8_t seed[32],
                            struct stamp st, bool quiet)
{
    parts[0].unique = derived_guid(seed, "esp");
    parts[1].unique = derived_guid(seed, "data");
    struct tern_guid disk_guid = derived_guid(seed, "disk");
    tern_result r = tern_gpt_write(dev, &disk_guid, parts, 2);
    if (r != TERN_OK) {
        fprintf(stderr, "tern-mkimage: writing the GPT failed: %s\n", tern_result_name(r));
        return -1;
    }
    static const char *const what[2] = { "esp", "data" };
    struct tern_fat_format_opts *opts[2] = { eo, dopt };
    const char *src[2] = { esp, data };
    for (int i = 0; i < 2; i++) {
        uint64_t secs = parts[i].last_lba - parts[i].first_lba + 1;
        memcpy(&opts[i]->serial, parts[i].unique.b, 4);
        opts[i]->date = st.date;
        opts[i]->time = st.time;
        r = tern_fat_format(dev, parts[i].first_lba, secs, opts[i]);
        if (r != TERN_OK) {
            fprintf(stderr, "tern-mkimage: formatting the %s partition failed: %s\n", what[i],
                    tern_result_name(r));
            return -1;
        }
    }
    for (int i = 0; i < 2; i++) {
        uint64_t secs = parts[i].last_lba - parts[i].first_lba + 1;
        if (src[i] &&
            fill_volume(dev, parts[i].first_lba, secs, what[i], src[i], st, quiet) != 0)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *output = NULL, *esp = NULL, *data = NULL;
    uint32_t size_mib = 0, esp_mib = 0, sector = 512;
    bool quiet = false;
    static const struct option opts[] = {
        { "output", required_argument, NULL, 'o' },
        { "size", required_argument, NULL, 's' },
        { "esp", required_argument, NULL, 'e' },
        { "data", required_argument, NULL, 'd' },
        { "esp-size", required_argument, NULL, 'E' },
        { "sector", required_argument, NULL, 'S' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'e': esp = optarg; break;
        case 'd': data = optarg; break;
        case 'q': quiet = true; break;
        case 's':
            if (parse_u32(optarg, &size_mib) != 0) {
                fprintf(stderr, "tern-mkimage: --size wants a whole number of MiB, not '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'E':
            if (parse_u32(optarg, &esp_mib) != 0) {
                fprintf(stderr, "tern-mkimage: --esp-size wants a whole number of MiB, not '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'S':
            if (parse_u32(optarg, &sector) != 0 || (sector != 512 && sector != 4096)) {
                fprintf(stderr, "tern-mkimage: --sector must be 512 or 4096, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tern-mkimage: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (output == NULL || size_mib == 0) {
        fprintf(stderr, "tern-mkimage: --output and --size are required\n");
        usage(stderr);
        return 2;
    }
    for (int i = 0; i < 2; i++) {
        const char *d = i ? data : esp;
        struct stat st;
        if (d && (stat(d, &st) != 0 || !S_ISDIR(st.st_mode))) {
            fprintf(stderr, "tern-mkimage: --%s %s: not a directory\n", i ? "data" : "esp", d);
            return 2;
        }
    }
    long long epoch;
    if (image_epoch(&epoch) != 0)
        return 2;
    struct stamp st = stamp_of(epoch);
    uint64_t per_mib = (1u << 20) / sector;
    uint64_t esp_min_mib = (tern_fat32_min_sectors(sector) + per_mib - 1) / per_mib;
    if (esp_mib == 0)
        esp_mib = (uint32_t)esp_min_mib;
    if (esp_mib < esp_min_mib) {
        fprintf(stderr, "tern-mkimage: --esp-size %u MiB is too small: a FAT32 ESP needs at "
                        "least %llu MiB\n", esp_mib, (unsigned long long)esp_min_mib);
        return 2;
    }
    uint64_t min_mib = ALIGN_MIB + esp_mib + 1 + 1;
    if (size_mib < min_mib) {
        fprintf(stderr, "tern-mkimage: --size %u MiB is too small: the minimum is %llu MiB "
                        "(1 MiB for the GPT, %u MiB for the FAT32 ESP, at least 1 MiB of data "
                        "partition, 1 MiB for the backup GPT)\n",
                size_mib, (unsigned long long)min_mib, esp_mib);
        return 2;
    }
    /* Everything is known before anything is written: survey both trees
     * and fit them, or say what does not fit. */
    struct survey esv = { .what = "esp", .sector_size = sector };
    struct survey dsv = { .what = "data", .sector_size = sector };
    struct tern_fat_format_opts eo = { .type = TERN_FAT32, .label = "TERN-ESP" };
    struct tern_fat_format_opts dopt = { .label = "TERN-DATA" };
    int rc = 1;
    int fd = -1;
    void *cache = NULL;
    const uint32_t layout[3] = { size_mib, esp_mib, sector };
    uint8_t seed[32];
    if (survey_image(&esv, esp, &dsv, data, layout, st, seed) != 0)
        goto out;
    esv.root_entries = esv.root_entries ? esv.root_entries : 1;
    dsv.root_entries = dsv.root_entries ? dsv.root_entries : 1;
    struct tern_gpt_new_part parts[2];
    lay_out(size_mib, esp_mib, sector, parts);
    if (fit_or_say(&esv, &eo, esp_mib, size_mib, sector,
                   parts[0].last_lba - parts[0].first_lba + 1) != 0 ||
        fit_or_say(&dsv, &dopt, esp_mib, size_mib, sector,
                   parts[1].last_lba - parts[1].first_lba + 1) != 0)
        goto out;

    fd = open(output, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "tern-mkimage: %s: %s\n", output, strerror(errno));
        goto out;
    }
    uint64_t total = (uint64_t)size_mib * per_mib;
    if (ftruncate(fd, (off_t)(total * sector)) != 0) {
        fprintf(stderr, "tern-mkimage: %s: %s\n", output, strerror(errno));
        goto out;
    }
    struct linux_image_file im = { .fd = fd, .sector_size = sector, .durable = false };
    struct tern_bdev dev;
    size_t cache_len = tern_bdev_cache_bytes(sector, CACHE_SLOTS);
    cache = aligned_alloc(64, (cache_len + 63) & ~(size_t)63);
    if (cache == NULL ||
        tern_bdev_init(&dev, &linux_image_ops, &im, sector, total, false, cache, cache_len,
                       CACHE_SLOTS) != TERN_OK) {
        fprintf(stderr, "tern-mkimage: out of memory\n");
        goto out;
    }
    if (write_partitions(&dev, parts, &eo, &dopt, esp, data, seed, st, quiet) != 0)
        goto out;
    uint64_t dsecs = parts[1].last_lba - parts[1].first_lba + 1;
    if (tern_bdev_flush(&dev) != TERN_OK || fdatasync(fd) != 0) {
        fprintf(stderr, "tern-mkimage: %s: sync failed\n", output);
        goto out;
    }
    if (!quiet) {
        char root[48] = "";
        if (dsv.geo.root_entries)
            snprintf(root, sizeof(root), ", %u root entries", dsv.geo.root_entries);
        fprintf(stderr, "tern-mkimage: wrote %s: %u MiB, ESP %u MiB (FAT32), data %llu MiB "
                        "(FAT%d%s)\n", output, size_mib, esp_mib,
                (unsigned long long)(dsecs / per_mib), dsv.geo.type, root);
    }
    rc = 0;
out:
    free(cache);
    if (fd >= 0) {
        close(fd);
        if (rc != 0)
            unlink(output);
    }
    free(esv.file_bytes);
    free(esv.dir_bytes);
    free(dsv.file_bytes);
    free(dsv.dir_bytes);
    return rc;
}
