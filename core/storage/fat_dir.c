/*
 * Interface: see fat_priv.h. Directory entries: iteration with VFAT long
 * name assembly (order and checksum checked; a broken run is counted and
 * the 8.3 name used), name checks, 8.3 alias generation (BASIS~N.EXT,
 * unique in the directory), adding and removing entry runs.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/fat.h"
#include "fat_priv.h"
#include "le.h"

#define LFN_CHARS 13
#define LFN_MAX_SLOTS 20

static uint8_t lfn_checksum(const uint8_t raw[11])
{
    uint8_t sum = 0;
    for (int i = 0; i < 11; i++)
        sum = (uint8_t)(((sum & 1) << 7) + (sum >> 1) + raw[i]);
    return sum;
}

void fat_put_cluster(uint8_t *ent, uint32_t c)
{
    put16(ent + 20, (uint16_t)(c >> 16));
    put16(ent + 26, (uint16_t)c);
}

/* ---- UTF-8 <-> UTF-16 ---- */

/* Decodes one UTF-8 sequence at s (n bytes left); 0 on error. */
static size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len = (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
                 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    uint32_t v = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

/* name (UTF-8) to UTF-16; returns the unit count or -1. */
static int to_utf16(const char *name, size_t len, uint16_t *out, int cap)
{
    int n = 0;
    const uint8_t *s = (const uint8_t *)name;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = utf8_decode(s + i, len - i, &cp);
        if (k == 0)
            return -1;
        i += k;
        if (cp >= 0x10000) {
            if (n + 2 > cap)
                return -1;
            cp -= 0x10000;
            out[n++] = (uint16_t)(0xd800 | (cp >> 10));
            out[n++] = (uint16_t)(0xdc00 | (cp & 0x3ff));
        } else {
            if (n + 1 > cap)
                return -1;
            out[n++] = (uint16_t)cp;
        }
    }
    return n;
}

/* UTF-16 to UTF-8 into out (cap bytes with the NUL); false when it does
 * not fit or is malformed. */
static bool from_utf16(const uint16_t *u, int n, char *out, size_t cap)
{
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        uint32_t cp = u[i];
        if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < n && u[i + 1] >= 0xdc00 &&
            u[i + 1] <= 0xdfff) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (u[i + 1] - 0xdc00);
            i++;
        } else if (cp >= 0xd800 && cp <= 0xdfff) {
            return false;
        }
        if (cp == 0 || cp == '/')
            return false;
        uint8_t b[4];
        size_t k;
        if (cp < 0x80) {
            b[0] = (uint8_t)cp;
            k = 1;
        } else if (cp < 0x800) {
            b[0] = (uint8_t)(0xc0 | (cp >> 6));
            b[1] = (uint8_t)(0x80 | (cp & 0x3f));
            k = 2;
        } else if (cp < 0x10000) {
            b[0] = (uint8_t)(0xe0 | (cp >> 12));
            b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
            b[2] = (uint8_t)(0x80 | (cp & 0x3f));
            k = 3;
        } else {
            b[0] = (uint8_t)(0xf0 | (cp >> 18));
            b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
            b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
            b[3] = (uint8_t)(0x80 | (cp & 0x3f));
            k = 4;
        }
        if (o + k + 1 > cap)
            return false;
        memcpy(out + o, b, k);
        o += k;
    }
    out[o] = '\0';
    return o > 0;
}

/* ---- short names ---- */

static void short_display(const uint8_t raw[11], uint8_t ntres, char out[13])
{
    size_t n = 0;
    for (int i = 0; i < 8 && raw[i] != ' '; i++) {
        uint8_t c = raw[i];
        if (i == 0 && c == 0x05)
            c = 0xe5;
        if ((ntres & 0x08) && c >= 'A' && c <= 'Z')
            c = (uint8_t)(c + 32);
        out[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '_';
    }
    if (raw[8] != ' ') {
        out[n++] = '.';
        for (int i = 8; i < 11 && raw[i] != ' '; i++) {
            uint8_t c = raw[i];
            if ((ntres & 0x10) && c >= 'A' && c <= 'Z')
                c = (uint8_t)(c + 32);
            out[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '_';
        }
    }
    out[n] = '\0';
}

static bool short_char_ok(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return true;
    if (c >= '0' && c <= '9')
        return true;
    return c != 0 && strchr("$%'-_@~`!(){}^#&", c) != NULL;
}

tern_result fat_name_check(const char *name, size_t len)
{
    if (len == 0 || len > TERN_FAT_NAME_MAX)
        return TERN_EINVAL;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return TERN_EINVAL;
    if (name[len - 1] == '.' || name[len - 1] == ' ')
        return TERN_EINVAL;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)name[i];
        if (c < 0x20 || c == 0x7f || strchr("\"*/:<>?\\|", c))
            return TERN_EINVAL;
    }
    uint16_t u[TERN_FAT_NAME_MAX];
    if (to_utf16(name, len, u, TERN_FAT_NAME_MAX) < 0)
        return TERN_EINVAL;
    return TERN_OK;
}

/* When name is a plain 8.3 name (each part all upper or all lower case),
 * fills raw and ntres and returns true. */
static bool plain_short(const char *name, size_t len, uint8_t raw[11], uint8_t *ntres)
{
    memset(raw, ' ', 11);
    *ntres = 0;
    const char *dot = memchr(name, '.', len);
    size_t blen = dot ? (size_t)(dot - name) : len;
    size_t elen = dot ? len - blen - 1 : 0;
    if (blen == 0 || blen > 8 || (dot && (elen == 0 || elen > 3)))
        return false;
    if (dot && memchr(dot + 1, '.', elen))
        return false;
    for (int part = 0; part < (dot ? 2 : 1); part++) {
        const char *s = part ? dot + 1 : name;
        size_t n = part ? elen : blen;
        bool upper = false, lower = false;
        for (size_t i = 0; i < n; i++) {
            uint8_t c = (uint8_t)s[i];
            if (c >= 'a' && c <= 'z') {
                lower = true;
                c = (uint8_t)(c - 32);
            } else if (c >= 'A' && c <= 'Z') {
                upper = true;
            }
            if (!short_char_ok(c))
                return false;
            raw[(part ? 8 : 0) + i] = c;
        }
        if (upper && lower)
            return false;
        if (lower)
            *ntres |= part ? 0x10 : 0x08;
    }
    if (raw[0] == 0xe5)
        raw[0] = 0x05;
    return true;
}

/* The basis of an alias: up to 8 base and 3 extension characters. */
static void alias_basis(const char *name, size_t len, uint8_t base[8], size_t *blen,
                        uint8_t ext[3], size_t *elen)
{
    const char *dot = NULL;
    for (size_t i = len; i > 0; i--)
        if (name[i - 1] == '.') {
            dot = name + i - 1;
            break;
        }
    if (dot == name)
        dot = NULL;             /* a leading dot is not an extension */
    size_t end = dot ? (size_t)(dot - name) : len;
    *blen = 0;
    *elen = 0;
    for (size_t i = 0; i < end && *blen < 8; i++) {
        uint8_t c = (uint8_t)name[i];
        if (c == ' ' || c == '.')
            continue;
        if (c >= 'a' && c <= 'z')
            c = (uint8_t)(c - 32);
        if (c >= 0x80) {
            while (i + 1 < end && ((uint8_t)name[i + 1] & 0xc0) == 0x80)
                i++;     /* one '_' per non-ASCII character */
            c = '_';
        }
        base[(*blen)++] = short_char_ok(c) ? c : '_';
    }
    if (*blen == 0)
        base[(*blen)++] = '_';
    if (dot) {
        for (size_t i = (size_t)(dot - name) + 1; i < len && *elen < 3; i++) {
            uint8_t c = (uint8_t)name[i];
            if (c == ' ')
                continue;
            if (c >= 'a' && c <= 'z')
                c = (uint8_t)(c - 32);
            if (c >= 0x80) {
                while (i + 1 < len && ((uint8_t)name[i + 1] & 0xc0) == 0x80)
                    i++;
                c = '_';
            }
            ext[(*elen)++] = short_char_ok(c) ? c : '_';
        }
    }
}

static int digits_of(uint32_t n)
{
    int d = 1;
    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

/* Picks the smallest N so that BASIS~N.EXT is not in directory dir. One
 * pass over the directory marks the tails in use. TERN_ENOSPC when all
 * 4095 are taken. */
#define ALIAS_MAX 4096
static tern_result alias_from_basis(struct tern_fat *fs, uint32_t dir, const uint8_t base[8],
                                    size_t blen, const uint8_t ext[3], size_t elen,
                                    uint8_t raw[11])
{
    uint8_t used[ALIAS_MAX / 8];
    memset(used, 0, sizeof(used));
    struct tern_fat_dir d;
    struct fat_entry e;
    fat_dir_begin(fs, &d, dir);
    tern_result r;
    while ((r = fat_dir_next(&d, &e)) == TERN_OK) {
        uint8_t want[3];
        memset(want, ' ', 3);
        memcpy(want, ext, elen);
        if (memcmp(e.raw + 8, want, 3) != 0)
            continue;
        int tilde = -1;
        for (int i = 7; i > 0; i--)
            if (e.raw[i] == '~') {
                tilde = i;
                break;
            }
        if (tilde < 1)
            continue;
        uint32_t n = 0;
        int i = tilde + 1;
        for (; i < 8 && e.raw[i] >= '0' && e.raw[i] <= '9'; i++)
            n = n * 10 + (e.raw[i] - '0');
        if (i == tilde + 1 || n == 0 || n >= ALIAS_MAX)
            continue;
        for (; i < 8; i++)
            if (e.raw[i] != ' ')
                break;
        if (i < 8)
            continue;
        size_t keep = blen < (size_t)(7 - digits_of(n)) ? blen : (size_t)(7 - digits_of(n));
        if ((size_t)tilde != keep || memcmp(e.raw, base, keep) != 0)
            continue;
        used[n / 8] |= (uint8_t)(1u << (n % 8));
    }
    if (r != TERN_ENOENT)
        return r;
    for (uint32_t n = 1; n < ALIAS_MAX; n++) {
        if (used[n / 8] & (1u << (n % 8)))
            continue;
        int dg = digits_of(n);
        size_t keep = blen < (size_t)(7 - dg) ? blen : (size_t)(7 - dg);
        memset(raw, ' ', 11);
        memcpy(raw, base, keep);
        raw[keep] = '~';
        uint32_t v = n;
        for (int k = dg; k > 0; k--) {
            raw[keep + (size_t)k] = (uint8_t)('0' + v % 10);
            v /= 10;
        }
        memcpy(raw + 8, ext, elen);
        if (raw[0] == 0xe5)
            raw[0] = 0x05;
        return TERN_OK;
    }
    return TERN_ENOSPC;
}

/* The 8.3 alias of a long name: BASIS~N.EXT from the name's characters;
 * once the 4095 tails of that basis are taken in the directory, the
 * basis becomes the first two characters and four hex digits of a hash
 * of the long name (as Windows does after a few tails), tried with up to
 * 16 hash values, so one directory can hold far more long names that
 * share a prefix. TERN_ENOSPC only when those are all taken too. */
static tern_result make_alias(struct tern_fat *fs, uint32_t dir, const char *name, size_t len,
                              uint8_t raw[11])
{
    uint8_t base[8], ext[3];
    size_t blen, elen;
    alias_basis(name, len, base, &blen, ext, &elen);
    tern_result r = alias_from_basis(fs, dir, base, blen, ext, elen, raw);
    if (r != TERN_ENOSPC)
        return r;
    uint32_t h = 2166136261u;                /* FNV-1a over the long name */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)name[i]) * 16777619u;
    static const char hex[] = "0123456789ABCDEF";
    size_t keep = blen < 2 ? blen : 2;
    for (uint32_t k = 0; k < 16 && r == TERN_ENOSPC; k++) {
        uint32_t v = ((h >> 16) ^ h) + k;
        uint8_t hb[8];
        memcpy(hb, base, keep);
        for (int i = 0; i < 4; i++)
            hb[keep + (size_t)i] = (uint8_t)hex[(v >> (12 - 4 * i)) & 15];
        r = alias_from_basis(fs, dir, hb, keep + 4, ext, elen, raw);
    }
    return r;
}

/* ---- iteration ---- */

void fat_dir_begin(struct tern_fat *fs, struct tern_fat_dir *d, uint32_t start)
{
    memset(d, 0, sizeof(*d));
    d->fs = fs;
    d->start = start;
    d->cluster = start;
}

/* Maps entry d->index of the directory being iterated. */
static tern_result iter_map(struct tern_fat_dir *d, uint8_t **out)
{
    struct tern_fat *fs = d->fs;
    uint8_t *sec;
    uint64_t lba;
    uint32_t off = (d->index * 32) % fs->bps;
    if (d->start == 0) {
        if (d->index >= fs->root_entries) {
            d->end = true;
            return TERN_ENOENT;
        }
        lba = fs->base + fs->root_lba + (uint64_t)d->index * 32 / fs->bps;
    } else {
        uint32_t in_cluster = (d->index * 32) % fs->cluster_bytes;
        lba = fat_cluster_lba(fs, d->cluster) + in_cluster / fs->bps;
    }
    tern_result r = tern_bdev_map(fs->dev, lba, false, &sec);
    if (r != TERN_OK)
        return r;
    *out = sec + off;
    return TERN_OK;
}

/* Moves past entry d->index, following the chain at a cluster's end. */
static tern_result iter_advance(struct tern_fat_dir *d)
{
    struct tern_fat *fs = d->fs;
    d->index++;
    if (d->index >= FAT_DIR_MAX) {
        d->end = true;
        return TERN_OK;
    }
    if (d->start != 0 && (d->index * 32) % fs->cluster_bytes == 0) {
        uint32_t next;
        tern_result r = fat_next(fs, d->cluster, &next);
        if (r != TERN_OK)
            return r;
        if (next == FAT_EOC) {
            d->end = true;
            return TERN_OK;
        }
        if (++d->steps >= fs->clusters)
            return fat_corrupt(fs, "chain-loop");
        d->cluster = next;
    }
    return TERN_OK;
}

tern_result fat_dir_next(struct tern_fat_dir *d, struct fat_entry *out)
{
    struct tern_fat *fs = d->fs;
    uint16_t lfn[LFN_MAX_SLOTS * LFN_CHARS];
    int lfn_total = 0, lfn_expect = 0;
    uint8_t lfn_sum = 0;
    uint32_t lfn_first = 0;
    if (d->start != 0 && d->index == 0 && !fat_valid_cluster(fs, d->start))
        return fat_corrupt(fs, "cluster-out-of-range");
    while (!d->end) {
        uint8_t *e;
        tern_result r = iter_map(d, &e);
        if (r != TERN_OK)
            return r;
        if (e[0] == 0x00) {
            d->end = true;
            break;
        }
        uint32_t idx = d->index;
        uint8_t ent[32];
        memcpy(ent, e, 32);     /* e is invalid after the next cache call */
        if ((r = iter_advance(d)) != TERN_OK)
            return r;
        if (ent[0] == 0xe5) {
            if (lfn_expect)
                fs->stats.bad_lfn++;
            lfn_expect = 0;
            continue;
        }
        uint8_t attr = ent[11];
        if ((attr & 0x3f) == ATTR_LFN) {
            uint8_t seq = ent[0] & 0x1f;
            if (ent[0] & 0x40) {
                if (lfn_expect)
                    fs->stats.bad_lfn++;
                if (seq == 0 || seq > LFN_MAX_SLOTS) {
                    lfn_expect = 0;
                    fs->stats.bad_lfn++;
                    continue;
                }
                lfn_total = seq;
                lfn_expect = seq;
                lfn_sum = ent[13];
                lfn_first = idx;
                for (int i = 0; i < lfn_total * LFN_CHARS; i++)
                    lfn[i] = 0xffff;
            } else if (lfn_expect == 0 || seq != lfn_expect || ent[13] != lfn_sum) {
                if (lfn_expect)
                    fs->stats.bad_lfn++;
                lfn_expect = 0;
                continue;
            }
            static const uint8_t pos[LFN_CHARS] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };
            for (int i = 0; i < LFN_CHARS; i++)
                lfn[(seq - 1) * LFN_CHARS + i] = le16(ent + pos[i]);
            lfn_expect = seq - 1 == 0 ? -1 : seq - 1;   /* -1: complete */
            continue;
        }
        if (attr & ATTR_VOLUME) {
            lfn_expect = 0;
            continue;
        }
        /* A short entry. */
        memset(out, 0, sizeof(*out));
        memcpy(out->raw, ent, 11);
        out->attr = attr;
        out->ntres = ent[12];
        out->time = le16(ent + 22);
        out->date = le16(ent + 24);
        out->cluster = ((uint32_t)le16(ent + 20) << 16) | le16(ent + 26);
        if (fs->type != TERN_FAT32)
            out->cluster &= 0xffff;
        out->size = le32(ent + 28);
        out->index = idx;
        out->first_index = idx;
        short_display(out->raw, out->ntres, out->short_name);
        bool named = false;
        if (lfn_expect == -1 && lfn_sum == lfn_checksum(out->raw)) {
            int n = 0;
            while (n < lfn_total * LFN_CHARS && lfn[n] != 0x0000)
                n++;
            if (from_utf16(lfn, n, out->name, sizeof(out->name))) {
                named = true;
                out->first_index = lfn_first;
            } else {
                fs->stats.bad_lfn++;
            }
        } else if (lfn_expect != 0) {
            fs->stats.bad_lfn++;
        }
        if (!named)
            memcpy(out->name, out->short_name, sizeof(out->short_name));
        return TERN_OK;
    }
    return TERN_ENOENT;
}

static bool name_ieq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++) {
        uint8_t x = (uint8_t)a[i], y = (uint8_t)b[i];
        if (x >= 'a' && x <= 'z')
            x = (uint8_t)(x - 32);
        if (y >= 'a' && y <= 'z')
            y = (uint8_t)(y - 32);
        if (x != y)
            return false;
    }
    return true;
}

tern_result fat_dir_find(struct tern_fat *fs, uint32_t dir, const char *name, size_t len,
                         struct fat_entry *out)
{
    struct tern_fat_dir d;
    fat_dir_begin(fs, &d, dir);
    tern_result r;
    while ((r = fat_dir_next(&d, out)) == TERN_OK) {
        if (out->raw[0] == '.' && (out->raw[1] == ' ' || out->raw[1] == '.'))
            continue;
        if (name_ieq(name, len, out->name) || name_ieq(name, len, out->short_name))
            return TERN_OK;
    }
    return r;
}

tern_result fat_entry_map(struct tern_fat *fs, uint32_t dir, uint32_t index, bool write,
                          uint8_t **out)
{
    uint64_t lba;
    if (dir == 0) {
        if (index >= fs->root_entries)
            return TERN_EINVAL;
        lba = fs->base + fs->root_lba + (uint64_t)index * 32 / fs->bps;
    } else {
        uint32_t epc = fs->cluster_bytes / 32;
        uint32_t c = dir;
        for (uint32_t k = index / epc; k > 0; k--) {
            tern_result r = fat_next(fs, c, &c);
            if (r != TERN_OK)
                return r;
            if (c == FAT_EOC)
                return fat_corrupt(fs, "directory-shorter-than-entry");
        }
        lba = fat_cluster_lba(fs, c) + ((uint64_t)(index % epc) * 32) / fs->bps;
    }
    uint8_t *sec;
    tern_result r = write ? fat_info_invalidate(fs) : TERN_OK;
    if (r == TERN_OK)
        r = tern_bdev_map(fs->dev, lba, write, &sec);
    if (r != TERN_OK)
        return r;
    *out = sec + (index * 32) % fs->bps;
    return TERN_OK;
}

/* VFAT entries for a long name of units UTF-16 units. */
static uint32_t lfn_slots_for(int units)
{
    return ((uint32_t)units + LFN_CHARS - 1) / LFN_CHARS;
}

/* Entries name takes in a directory: its short entry, plus VFAT entries
 * unless it is a plain 8.3 name (fat_dir_add's rule). 0: not a name. */
static uint32_t name_entries(const char *name, size_t len)
{
    uint8_t raw[11], ntres;
    if (fat_name_check(name, len) != TERN_OK)
        return 0;
    if (plain_short(name, len, raw, &ntres))
        return 1;
    uint16_t u[LFN_MAX_SLOTS * LFN_CHARS];
    int units = to_utf16(name, len, u, 255);
    return units < 0 ? 0 : 1 + lfn_slots_for(units);
}

/* Finds `need` consecutive free slots (not crossing a sector when they fit
 * in one), growing a cluster directory by one zeroed cluster if needed.
 * tern_fat_dir_plan_add models where this puts each run in a fresh
 * directory: keep the two in step. */
static tern_result find_slots(struct tern_fat *fs, uint32_t dir, uint32_t need, uint32_t *out,
                              uint32_t *end_index)
{
    *end_index = UINT32_MAX;
    uint32_t eps = fs->bps / 32;
    uint32_t run = 0, run_start = 0;
    struct tern_fat_dir d;
    fat_dir_begin(fs, &d, dir);
    if (dir != 0 && !fat_valid_cluster(fs, dir))
        return fat_corrupt(fs, "cluster-out-of-range");
    uint32_t last_cluster = dir;
    bool at_end = false;
    while (!d.end) {
        uint8_t *e;
        tern_result r = iter_map(&d, &e);
        if (r == TERN_ENOENT)
            break;
        if (r != TERN_OK)
            return r;
        uint32_t idx = d.index;
        if (need <= eps && idx % eps == 0)
            run = 0;        /* keep short runs inside one sector */
        if (at_end || e[0] == 0x00 || e[0] == 0xe5) {
            if (e[0] == 0x00 && !at_end) {
                at_end = true;
                *end_index = idx;
            }
            if (run == 0)
                run_start = idx;
            if (++run == need) {
                *out = run_start;
                return TERN_OK;
            }
        } else {
            run = 0;
        }
        last_cluster = d.cluster;
        if ((r = iter_advance(&d)) != TERN_OK)
            return r;
    }
    if (dir == 0 || d.index >= FAT_DIR_MAX)
        return TERN_ENOSPC;
    uint32_t start = d.index, have = 0;
    if (run > 0 && need > eps && run_start + run == start) {
        start = run_start;                   /* a long run continues the free tail */
        have = run;
    }
    /* Grow by as many zeroed clusters as the run needs (two for a run of
     * more than 16 entries on 512-byte clusters), each zeroed, then
     * linked to the directory's chain. */
    uint32_t per_cluster = fs->cluster_bytes / 32;
    uint32_t grow = (need - have + per_cluster - 1) / per_cluster;
    for (uint32_t k = 0; k < grow; k++) {
        uint32_t c;
        tern_result r = fat_alloc(fs, 0, &c);
        if (r != TERN_OK)
            return r;
        if ((r = fat_zero_cluster(fs, c)) != TERN_OK)
            return r;
        if ((r = fat_barrier(fs)) != TERN_OK)
            return r;
        if ((r = fat_set(fs, last_cluster, c)) != TERN_OK)
            return r;
        if ((r = fat_barrier(fs)) != TERN_OK)
            return r;
        last_cluster = c;
    }
    *out = start;
    return TERN_OK;
}

tern_result fat_dir_add(struct tern_fat *fs, uint32_t dir, const char *name, size_t len,
                        uint8_t attr, uint32_t cluster, uint32_t size, uint16_t date,
                        uint16_t time, bool dry_run, uint32_t *out_index)
{
    if (fs->read_only)
        return TERN_EROFS;
    tern_result r = fat_name_check(name, len);
    if (r != TERN_OK)
        return r;
    uint8_t raw[11], ntres;
    uint16_t u[LFN_MAX_SLOTS * LFN_CHARS];
    int units = 0;
    uint32_t lfn_slots = 0;
    if (!plain_short(name, len, raw, &ntres)) {
        units = to_utf16(name, len, u, 255);
        if (units < 0)
            return TERN_EINVAL;
        lfn_slots = lfn_slots_for(units);
        ntres = 0;
        if ((r = make_alias(fs, dir, name, len, raw)) != TERN_OK)
            return r;
    }
    uint32_t first = 0, end_index;
    if ((r = find_slots(fs, dir, lfn_slots + 1, &first, &end_index)) != TERN_OK || dry_run)
        return r;
    /* A 0x00 entry ends the directory: slots skipped between the old end
     * and the new run become deleted entries instead. */
    for (uint32_t i = end_index; i < first; i++) {
        uint8_t *e;
        if ((r = fat_entry_map(fs, dir, i, true, &e)) != TERN_OK)
            return r;
        e[0] = 0xe5;
    }
    uint8_t sum = lfn_checksum(raw);
    static const uint8_t pos[LFN_CHARS] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };
    for (uint32_t s = 0; s < lfn_slots; s++) {
        uint32_t seq = lfn_slots - s;            /* slots are stored last part first */
        uint8_t *e;
        if ((r = fat_entry_map(fs, dir, first + s, true, &e)) != TERN_OK)
            return r;
        memset(e, 0, 32);
        e[0] = (uint8_t)(seq | (s == 0 ? 0x40 : 0));
        e[11] = ATTR_LFN;
        e[13] = sum;
        for (int i = 0; i < LFN_CHARS; i++) {
            int k = (int)(seq - 1) * LFN_CHARS + i;
            uint16_t ch = k < units ? u[k] : k == units ? 0x0000 : 0xffff;
            put16(e + pos[i], ch);
        }
    }
    uint8_t *e;
    if ((r = fat_entry_map(fs, dir, first + lfn_slots, true, &e)) != TERN_OK)
        return r;
    memset(e, 0, 32);
    memcpy(e, raw, 11);
    e[11] = attr;
    e[12] = ntres;
    put16(e + 14, time);
    put16(e + 16, date);
    put16(e + 18, date);
    put16(e + 22, time);
    put16(e + 24, date);
    fat_put_cluster(e, cluster);
    put32(e + 28, size);
    if (out_index)
        *out_index = first + lfn_slots;
    return TERN_OK;
}

tern_result fat_dir_remove(struct tern_fat *fs, uint32_t dir, const struct fat_entry *e)
{
    if (fs->read_only)
        return TERN_EROFS;
    /* Marks every slot of the run deleted; runs of up to a sector's worth
     * of slots never cross a sector (find_slots), so the change reaches
     * the device in one sector write. */
    for (uint32_t i = e->index + 1; i-- > e->first_index;) {
        uint8_t *p;
        tern_result r = fat_entry_map(fs, dir, i, true, &p);
        if (r != TERN_OK)
            return r;
        p[0] = 0xe5;
    }
    return TERN_OK;
}

tern_result fat_check_dots(struct tern_fat *fs, uint32_t dir, uint32_t parent)
{
    uint8_t *e;
    tern_result r = fat_entry_map(fs, dir, 0, false, &e);
    if (r != TERN_OK)
        return r;
    uint32_t c = ((uint32_t)le16(e + 20) << 16) | le16(e + 26);
    if (memcmp(e, ".          ", 11) != 0 || !(e[11] & ATTR_DIR) || c != dir)
        return fat_corrupt(fs, "bad-dot-entries");
    if ((r = fat_entry_map(fs, dir, 1, false, &e)) != TERN_OK)
        return r;
    c = ((uint32_t)le16(e + 20) << 16) | le16(e + 26);
    uint32_t want = parent == fat_root(fs) ? 0 : parent;
    if (memcmp(e, "..         ", 11) != 0 || !(e[11] & ATTR_DIR) ||
        (c != want && !(want == 0 && c == fs->root_cluster && c != 0)))
        return fat_corrupt(fs, "bad-dot-entries");
    return TERN_OK;
}

void fat_entry_stat(const struct fat_entry *e, struct tern_fat_stat *out)
{
    memcpy(out->name, e->name, sizeof(out->name));
    memcpy(out->short_name, e->short_name, sizeof(out->short_name));
    out->is_dir = (e->attr & ATTR_DIR) != 0;
    out->attr = e->attr;
    out->size = out->is_dir ? 0 : e->size;
    out->first_cluster = e->cluster;
    out->date = e->date;
    out->time = e->time;
}

/* ---- sizing a directory before it is written ---- */

void tern_fat_dir_plan_init(struct tern_fat_dir_plan *p, uint32_t sector_size,
                            uint32_t reserved)
{
    memset(p, 0, sizeof(*p));
    p->per_sector = sector_size / 32;
    p->entries = reserved;
    p->first_gap = UINT32_MAX;
}

/* A run of need <= per_sector entries in the first skipped sector tail
 * that holds it (find_slots scans from the start). */
static bool plan_fill_gap(struct tern_fat_dir_plan *p, uint32_t need)
{
    uint32_t cur = p->entries / p->per_sector;
    uint32_t lim = sizeof(p->gap);
    for (uint32_t s = p->first_gap; s < cur && s < lim; s++) {
        if (p->gap[s] < need)
            continue;
        p->gap[s] = (uint8_t)(p->gap[s] - need);   /* the rest stays at the tail */
        if (s == p->first_gap)
            while (p->first_gap < cur && p->first_gap < lim && p->gap[p->first_gap] == 0)
                p->first_gap++;
        return true;
    }
    return false;
}

tern_result tern_fat_dir_plan_add(struct tern_fat_dir_plan *p, const char *name, size_t len)
{
    uint32_t need = name_entries(name, len);
    if (need == 0)
        return TERN_EINVAL;
    p->names++;
    uint32_t eps = p->per_sector;
    if (need <= eps && !plan_fill_gap(p, need)) {
        uint32_t cur = p->entries / eps, room = eps - p->entries % eps;
        if (need > room) {                       /* skip this sector's tail */
            if (cur < sizeof(p->gap)) {
                p->gap[cur] = (uint8_t)room;
                if (cur < p->first_gap)
                    p->first_gap = cur;
            }
            p->entries = (cur + 1) * eps;
        }
        p->entries += need;
    } else if (need > eps) {
        p->entries += need;                      /* long runs start at the end */
    }
    return p->entries > TERN_FAT_DIR_ENTRIES_MAX ? TERN_ENOSPC : TERN_OK;
}
