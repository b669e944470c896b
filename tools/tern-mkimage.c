/*
 * tern-mkimage: writes a GPT disk image with an EFI System Partition
 * (FAT32) and a data partition (FAT12/16/32 by size), filled from host
 * directories, using only core's GPT and FAT code (no mkfs, sgdisk or
 * mtools). See docs/storage.md.
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
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tern/blockdev.h"
#include "tern/fat.h"
#include "tern/gpt.h"
#include "sector_io.h"

#define CACHE_SLOTS 512
#define ALIGN_MIB 1

/* ---- an image file as a tern_bdev ---- */

struct image {
    int fd;
    uint32_t sector_size;
};

static tern_result img_read(void *ctx, uint64_t lba, void *buf, uint32_t count)
{
    struct image *im = ctx;
    return linux_sectors_read(im->fd, im->sector_size, lba, buf, count);
}

static tern_result img_write(void *ctx, uint64_t lba, const void *buf, uint32_t count)
{
    struct image *im = ctx;
    return linux_sectors_write(im->fd, im->sector_size, lba, buf, count);
}

/* Barriers inside a build do not need durability: the image is synced
 * once at the end. */
static tern_result img_flush(void *ctx)
{
    (void)ctx;
    return TERN_OK;
}

static const struct tern_bdev_ops image_ops = { img_read, img_write, img_flush };

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

static void stamp(struct tern_fat *fs, time_t t)
{
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || tm.tm_year < 80 || tm.tm_year > 207) {
        fs->date = (uint16_t)(((2020 - 1980) << 9) | (1 << 5) | 1);
        fs->time = 0;
        return;
    }
    fs->date = (uint16_t)(((tm.tm_year - 80) << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday);
    fs->time = (uint16_t)((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
}

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
                r == TERN_EINVAL ? " (not a valid FAT name)" : r == TERN_ENOSPC ? " (full)" : "");
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
    if (depth > 64) {
        fprintf(stderr, "tern-mkimage: %s: directories nested deeper than 64\n", host);
        return -1;
    }
    DIR *dir = opendir(host);
    if (dir == NULL) {
        fprintf(stderr, "tern-mkimage: %s: %s\n", host, strerror(errno));
        return -1;
    }
    /* Sorted, so that images are reproducible. */
    struct dirent **names;
    int n = scandir(host, &names, NULL, alphasort);
    closedir(dir);
    if (n < 0) {
        fprintf(stderr, "tern-mkimage: %s: %s\n", host, strerror(errno));
        return -1;
    }
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
        stamp(fl->fs, st.st_mtime);
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
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int fill_volume(struct tern_bdev *dev, uint64_t first, uint64_t count, const char *what,
                       const char *src, bool quiet)
{
    struct tern_fat fs;
    tern_result r = tern_fat_mount(&fs, dev, first, count, false);
    if (r != TERN_OK) {
        fprintf(stderr, "tern-mkimage: %s: mounting the new volume failed: %s (%s)\n", what,
                tern_result_name(r), fs.reason ? fs.reason : "-");
        return -1;
    }
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

static struct tern_guid random_guid(void)
{
    struct tern_guid g;
    if (getrandom(g.b, sizeof(g.b), 0) != (ssize_t)sizeof(g.b))
        for (int i = 0; i < 16; i++)
            g.b[i] = (uint8_t)rand();
    g.b[7] = (uint8_t)((g.b[7] & 0x0f) | 0x40);   /* version 4 */
    g.b[8] = (uint8_t)((g.b[8] & 0x3f) | 0x80);   /* variant */
    return g;
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
    /* Layout: 1 MiB (MBR + primary GPT), the ESP, the data partition,
     * and the backup GPT in the last MiB. */
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

    int fd = open(output, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "tern-mkimage: %s: %s\n", output, strerror(errno));
        return 1;
    }
    uint64_t total = (uint64_t)size_mib * per_mib;
    if (ftruncate(fd, (off_t)(total * sector)) != 0) {
        fprintf(stderr, "tern-mkimage: %s: %s\n", output, strerror(errno));
        close(fd);
        return 1;
    }
    struct image im = { .fd = fd, .sector_size = sector };
    struct tern_bdev dev;
    size_t cache_len = tern_bdev_cache_bytes(sector, CACHE_SLOTS);
    void *cache = aligned_alloc(64, (cache_len + 63) & ~(size_t)63);
    int rc = 1;
    if (cache == NULL ||
        tern_bdev_init(&dev, &image_ops, &im, sector, total, false, cache, cache_len,
                       CACHE_SLOTS) != TERN_OK) {
        fprintf(stderr, "tern-mkimage: out of memory\n");
        goto out;
    }
    uint64_t first_usable, last_usable;
    tern_gpt_usable(sector, total, &first_usable, &last_usable);
    struct tern_gpt_new_part parts[2];
    parts[0].type = TERN_GPT_TYPE_ESP;
    parts[0].unique = random_guid();
    parts[0].first_lba = per_mib * ALIGN_MIB;
    parts[0].last_lba = parts[0].first_lba + (uint64_t)esp_mib * per_mib - 1;
    parts[0].name = "EFI System Partition";
    parts[1].type = TERN_GPT_TYPE_BASIC_DATA;
    parts[1].unique = random_guid();
    parts[1].first_lba = parts[0].last_lba + 1;
    parts[1].last_lba = (last_usable + 1) / per_mib * per_mib - 1;   /* MiB-aligned end */
    parts[1].name = "Tern data";
    struct tern_guid disk_guid = random_guid();
    tern_result r = tern_gpt_write(&dev, &disk_guid, parts, 2);
    if (r != TERN_OK) {
        fprintf(stderr, "tern-mkimage: writing the GPT failed: %s\n", tern_result_name(r));
        goto out;
    }
    uint32_t serial;
    memcpy(&serial, parts[0].unique.b, 4);
    struct tern_fat_format_opts eo = { .type = TERN_FAT32, .label = "TERN-ESP", .serial = serial };
    r = tern_fat_format(&dev, parts[0].first_lba, parts[0].last_lba - parts[0].first_lba + 1, &eo);
    if (r != TERN_OK) {
        fprintf(stderr, "tern-mkimage: formatting the ESP failed: %s\n", tern_result_name(r));
        goto out;
    }
    memcpy(&serial, parts[1].unique.b, 4);
    struct tern_fat_format_opts dopt = { .label = "TERN-DATA", .serial = serial };
    uint64_t dsecs = parts[1].last_lba - parts[1].first_lba + 1;
    r = tern_fat_format(&dev, parts[1].first_lba, dsecs, &dopt);
    if (r != TERN_OK) {
        fprintf(stderr, "tern-mkimage: formatting the data partition failed: %s\n",
                tern_result_name(r));
        goto out;
    }
    if (esp && fill_volume(&dev, parts[0].first_lba, parts[0].last_lba - parts[0].first_lba + 1,
                           "esp", esp, quiet) != 0)
        goto out;
    if (data && fill_volume(&dev, parts[1].first_lba, dsecs, "data", data, quiet) != 0)
        goto out;
    if (tern_bdev_flush(&dev) != TERN_OK || fdatasync(fd) != 0) {
        fprintf(stderr, "tern-mkimage: %s: sync failed\n", output);
        goto out;
    }
    if (!quiet)
        fprintf(stderr, "tern-mkimage: wrote %s: %u MiB, ESP %u MiB (FAT32), data %llu MiB\n",
                output, size_mib, esp_mib, (unsigned long long)(dsecs / per_mib));
    rc = 0;
out:
    free(cache);
    close(fd);
    if (rc != 0)
        unlink(output);
    return rc;
}
