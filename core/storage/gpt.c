/*
 * Interface: see include/tern/gpt.h. Headers are checked field by field
 * before anything in them is used; entry arrays are read one sector at a
 * time through the block cache, so no buffer grows with the table.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tern/gpt.h"
#include "le.h"

const struct tern_guid TERN_GPT_TYPE_ESP = { { 0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11,
                                               0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9,
                                               0x3b } };
const struct tern_guid TERN_GPT_TYPE_BASIC_DATA = { { 0xa2, 0xa0, 0xd0, 0xeb, 0xe5, 0xb9, 0x33,
                                                      0x44, 0x87, 0xc0, 0x68, 0xb6, 0xb7, 0x26,
                                                      0x99, 0xc7 } };

#define HDR_SIZE      92
#define ENTRY_SIZE    128
#define NUM_ENTRIES   128
#define ARRAY_BYTES   (NUM_ENTRIES * ENTRY_SIZE)

uint32_t tern_crc32(uint32_t crc, const void *buf, size_t len)
{
    static const uint32_t nib[16] = {
        0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
        0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
        0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
    };
    const uint8_t *p = buf;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ nib[crc & 15];
        crc = (crc >> 4) ^ nib[crc & 15];
    }
    return ~crc;
}

static bool guid_zero(const struct tern_guid *g)
{
    for (int i = 0; i < 16; i++)
        if (g->b[i])
            return false;
    return true;
}

tern_result tern_gpt_check_header(const uint8_t *sec, uint32_t sector_size, uint64_t my_lba,
                                  uint64_t disk_sectors, const char **reason)
{
    if (memcmp(sec, "EFI PART", 8) != 0) {
        *reason = "bad-signature";
        return TERN_EIO;
    }
    if (le32(sec + 8) != 0x00010000) {
        *reason = "bad-revision";
        return TERN_EIO;
    }
    uint32_t hsize = le32(sec + 12);
    if (hsize < HDR_SIZE || hsize > sector_size) {
        *reason = "bad-header-size";
        return TERN_EIO;
    }
    uint8_t tmp[512];
    /* The CRC covers hsize bytes with the CRC field zeroed; hsize may be
     * up to a sector, so feed it in pieces. */
    uint32_t crc = 0;
    for (uint32_t off = 0; off < hsize;) {
        uint32_t n = hsize - off < sizeof(tmp) ? hsize - off : (uint32_t)sizeof(tmp);
        memcpy(tmp, sec + off, n);
        if (off == 0)
            memset(tmp + 16, 0, 4);
        crc = tern_crc32(crc, tmp, n);
        off += n;
    }
    if (crc != le32(sec + 16)) {
        *reason = "bad-header-crc";
        return TERN_EIO;
    }
    if (le64(sec + 24) != my_lba) {
        *reason = "my-lba-mismatch";
        return TERN_EIO;
    }
    uint64_t alt = le64(sec + 32);
    if (alt == my_lba || alt == 0 || alt >= disk_sectors) {
        *reason = "bad-alternate-lba";
        return TERN_EIO;
    }
    uint64_t first = le64(sec + 40), last = le64(sec + 48);
    if (first < 2 || first > last || last >= disk_sectors - 1) {
        *reason = "bad-usable-range";
        return TERN_EIO;
    }
    uint32_t count = le32(sec + 80), esize = le32(sec + 84);
    if (esize < ENTRY_SIZE || esize > sector_size || (esize & (esize - 1)) != 0) {
        *reason = "bad-entry-size";
        return TERN_EIO;
    }
    if (count == 0 || count > TERN_GPT_MAX_ENTRIES) {
        *reason = "bad-entry-count";
        return TERN_EIO;
    }
    uint64_t elba = le64(sec + 72);
    uint64_t esecs = ((uint64_t)count * esize + sector_size - 1) / sector_size;
    if (elba < 1 || elba >= disk_sectors || esecs > disk_sectors - elba ||
        (elba <= my_lba && my_lba < elba + esecs) ||
        (elba <= last && first < elba + esecs)) {
        *reason = "bad-entry-array-location";
        return TERN_EIO;
    }
    return TERN_OK;
}

static void name_from_utf16(const uint8_t *p, char *out)
{
    size_t n = 0;
    for (int i = 0; i < 36; i++) {
        uint16_t c = le16(p + 2 * i);
        if (c == 0)
            break;
        out[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[n] = '\0';
}

/* Reads the header at lba and its array into g. */
static tern_result read_one(struct tern_bdev *dev, struct tern_gpt *g, uint64_t lba,
                            const char **reason)
{
    uint8_t *sec;
    tern_result r = tern_bdev_map(dev, lba, false, &sec);
    if (r != TERN_OK) {
        *reason = "read-error";
        return r;
    }
    r = tern_gpt_check_header(sec, dev->sector_size, lba, dev->sector_count, reason);
    if (r != TERN_OK)
        return r;
    uint64_t elba = le64(sec + 72);
    uint32_t count = le32(sec + 80), esize = le32(sec + 84), want_crc = le32(sec + 88);
    g->first_usable = le64(sec + 40);
    g->last_usable = le64(sec + 48);
    memcpy(g->disk_guid.b, sec + 56, 16);
    g->entry_count = count;
    g->entry_size = esize;
    g->count = 0;

    uint32_t crc = 0;
    uint32_t per_sec = dev->sector_size / esize;
    for (uint32_t i = 0; i < count; i++) {
        /* sec stays valid: nothing else touches the cache in between. */
        r = tern_bdev_map(dev, elba + i / per_sec, false, &sec);
        if (r != TERN_OK) {
            *reason = "read-error";
            return r;
        }
        const uint8_t *e = sec + (size_t)(i % per_sec) * esize;
        crc = tern_crc32(crc, e, esize);
        struct tern_gpt_part p;
        memcpy(p.type.b, e, 16);
        if (guid_zero(&p.type))
            continue;
        memcpy(p.unique.b, e + 16, 16);
        p.first_lba = le64(e + 32);
        p.last_lba = le64(e + 40);
        p.attributes = le64(e + 48);
        p.index = i;
        name_from_utf16(e + 56, p.name);
        if (p.first_lba > p.last_lba || p.first_lba < g->first_usable ||
            p.last_lba > g->last_usable) {
            *reason = "partition-out-of-range";
            return TERN_EIO;
        }
        if (g->count == TERN_GPT_MAX_PARTS) {
            *reason = "too-many-partitions";
            return TERN_ENOSPC;
        }
        g->parts[g->count++] = p;
    }
    if (crc != want_crc) {
        *reason = "bad-entry-array-crc";
        return TERN_EIO;
    }
    for (unsigned a = 0; a < g->count; a++)
        for (unsigned b = a + 1; b < g->count; b++)
            if (g->parts[a].first_lba <= g->parts[b].last_lba &&
                g->parts[b].first_lba <= g->parts[a].last_lba) {
                *reason = "partitions-overlap";
                return TERN_EIO;
            }
    return TERN_OK;
}

tern_result tern_gpt_read(struct tern_bdev *dev, struct tern_gpt *g)
{
    memset(g, 0, sizeof(*g));
    g->sector_size = dev->sector_size;
    g->disk_sectors = dev->sector_count;
    if (dev->sector_count < 4) {
        g->reason = "disk-too-small";
        return TERN_EIO;
    }
    const char *why = NULL;
    tern_result r = read_one(dev, g, 1, &why);
    if (r == TERN_OK)
        return TERN_OK;
    if (r != TERN_EIO && r != TERN_ENOSPC) {
        g->reason = why;
        return r;
    }
    const char *why_backup = NULL;
    tern_result rb = read_one(dev, g, dev->sector_count - 1, &why_backup);
    if (rb == TERN_OK) {
        g->used_backup = true;
        g->primary_reason = why;
        return TERN_OK;
    }
    g->count = 0;
    g->reason = why;
    return r;
}

static bool ascii_ieq(const char *a, const char *b)
{
    for (;; a++, b++) {
        char x = *a, y = *b;
        if (x >= 'A' && x <= 'Z')
            x = (char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (char)(y + 32);
        if (x != y)
            return false;
        if (x == '\0')
            return true;
    }
}

const struct tern_gpt_part *tern_gpt_find_type(const struct tern_gpt *g,
                                               const struct tern_guid *type)
{
    for (unsigned i = 0; i < g->count; i++)
        if (memcmp(g->parts[i].type.b, type->b, 16) == 0)
            return &g->parts[i];
    return NULL;
}

const struct tern_gpt_part *tern_gpt_find_name(const struct tern_gpt *g, const char *name)
{
    for (unsigned i = 0; i < g->count; i++)
        if (ascii_ieq(g->parts[i].name, name))
            return &g->parts[i];
    return NULL;
}

const struct tern_gpt_part *tern_gpt_find_index(const struct tern_gpt *g, unsigned index)
{
    for (unsigned i = 0; i < g->count; i++)
        if (g->parts[i].index == index)
            return &g->parts[i];
    return NULL;
}

void tern_gpt_usable(uint32_t sector_size, uint64_t disk_sectors, uint64_t *first,
                     uint64_t *last)
{
    uint64_t asecs = (ARRAY_BYTES + sector_size - 1) / sector_size;
    *first = 2 + asecs;
    *last = disk_sectors - 2 - asecs;
}

static tern_result write_header(struct tern_bdev *dev, uint64_t my, uint64_t alt,
                                uint64_t elba, uint64_t first, uint64_t last,
                                const struct tern_guid *disk_guid, uint32_t array_crc)
{
    uint8_t *sec;
    tern_result r = tern_bdev_map(dev, my, true, &sec);
    if (r != TERN_OK)
        return r;
    memset(sec, 0, dev->sector_size);
    memcpy(sec, "EFI PART", 8);
    put32(sec + 8, 0x00010000);
    put32(sec + 12, HDR_SIZE);
    put64(sec + 24, my);
    put64(sec + 32, alt);
    put64(sec + 40, first);
    put64(sec + 48, last);
    memcpy(sec + 56, disk_guid->b, 16);
    put64(sec + 72, elba);
    put32(sec + 80, NUM_ENTRIES);
    put32(sec + 84, ENTRY_SIZE);
    put32(sec + 88, array_crc);
    put32(sec + 16, tern_crc32(0, sec, HDR_SIZE));
    return TERN_OK;
}

tern_result tern_gpt_write(struct tern_bdev *dev, const struct tern_guid *disk_guid,
                           const struct tern_gpt_new_part *parts, unsigned n)
{
    uint32_t ss = dev->sector_size;
    uint64_t asecs = (ARRAY_BYTES + ss - 1) / ss;
    if (n > NUM_ENTRIES || dev->sector_count < 2 * asecs + 8)
        return TERN_EINVAL;
    uint64_t first, last;
    tern_gpt_usable(ss, dev->sector_count, &first, &last);
    for (unsigned i = 0; i < n; i++) {
        if (parts[i].first_lba < first || parts[i].last_lba > last ||
            parts[i].first_lba > parts[i].last_lba)
            return TERN_EINVAL;
        for (unsigned j = 0; j < i; j++)
            if (parts[i].first_lba <= parts[j].last_lba &&
                parts[j].first_lba <= parts[i].last_lba)
                return TERN_EINVAL;
    }
    /* Protective MBR. */
    uint8_t *sec;
    tern_result r = tern_bdev_map(dev, 0, true, &sec);
    if (r != TERN_OK)
        return r;
    memset(sec, 0, ss);
    uint8_t *pe = sec + 446;
    pe[1] = 0x00; pe[2] = 0x02; pe[3] = 0x00;      /* CHS of LBA 1 */
    pe[4] = 0xee;
    pe[5] = 0xff; pe[6] = 0xff; pe[7] = 0xff;
    put32(pe + 8, 1);
    uint64_t msize = dev->sector_count - 1;
    put32(pe + 12, msize > 0xffffffffu ? 0xffffffffu : (uint32_t)msize);
    sec[510] = 0x55;
    sec[511] = 0xaa;

    /* Both entry arrays, sector by sector, with the CRC as we go. */
    uint32_t crc = 0;
    uint64_t backup_elba = dev->sector_count - 1 - asecs;
    uint32_t per_sec = ss / ENTRY_SIZE;
    for (uint64_t s = 0; s < asecs; s++) {
        uint8_t buf[4096];
        memset(buf, 0, ss);
        for (uint32_t k = 0; k < per_sec; k++) {
            uint64_t i = s * per_sec + k;
            if (i >= n)
                break;
            uint8_t *e = buf + k * ENTRY_SIZE;
            memcpy(e, parts[i].type.b, 16);
            memcpy(e + 16, parts[i].unique.b, 16);
            put64(e + 32, parts[i].first_lba);
            put64(e + 40, parts[i].last_lba);
            const char *nm = parts[i].name ? parts[i].name : "";
            for (int c = 0; c < 36 && nm[c]; c++)
                put16(e + 56 + 2 * c, (uint8_t)nm[c]);
        }
        crc = tern_crc32(crc, buf, ss);
        if ((r = tern_bdev_write(dev, 2 + s, buf, 1)) != TERN_OK ||
            (r = tern_bdev_write(dev, backup_elba + s, buf, 1)) != TERN_OK)
            return r;
    }
    if ((r = write_header(dev, 1, dev->sector_count - 1, 2, first, last, disk_guid, crc)) !=
            TERN_OK ||
        (r = write_header(dev, dev->sector_count - 1, 1, backup_elba, first, last, disk_guid,
                          crc)) != TERN_OK)
        return r;
    return tern_bdev_flush(dev);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

tern_result tern_guid_parse(const char *t, struct tern_guid *out)
{
    /* Text order of bytes, then the first three fields are swapped. */
    static const uint8_t order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
    uint8_t raw[16];
    int k = 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (t[i] != '-')
                return TERN_EINVAL;
            continue;
        }
        int h = hexval(t[i]), l = hexval(t[i + 1]);
        if (h < 0 || l < 0)
            return TERN_EINVAL;
        raw[k++] = (uint8_t)(h * 16 + l);
        i++;
    }
    if (t[36] != '\0')
        return TERN_EINVAL;
    for (int i = 0; i < 16; i++)
        out->b[i] = raw[order[i]];
    return TERN_OK;
}

void tern_guid_format(const struct tern_guid *g, char out[37])
{
    static const uint8_t order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
    static const char hx[] = "0123456789ABCDEF";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        uint8_t b = g->b[order[i]];
        out[o++] = hx[b >> 4];
        out[o++] = hx[b & 15];
    }
    out[o] = '\0';
}
