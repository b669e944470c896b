/*
 * fatctl: a test driver that runs core's GPT and FAT code on an image
 * file, so shell tests can compare it with sgdisk, mkfs.fat, fsck.fat and
 * mtools.
 *
 *   fatctl IMG [--part N] [--sector 512|4096] [--ro] CMD [ARGS]
 *     stat PATH           "file|dir size=N cluster=N short=8.3"
 *     gpt                 print the table ("parts=N backup=0|1", one line each)
 *     info                print type, cluster size, label
 *     ls PATH             one line per entry: "d|f SIZE NAME"
 *     cat PATH            file to stdout
 *     pcat PATH OFF LEN   LEN bytes at OFF to stdout (pread)
 *     put HOST PATH       host file into PATH (created or truncated)
 *     append HOST PATH    host file appended to PATH
 *     export DIR HOSTDIR  the tree under DIR into HOSTDIR (must exist)
 *     mkdir PATH | rm PATH | mv FROM TO | trunc PATH SIZE | check
 *
 * --part N mounts GPT partition N (1-based, as sgdisk numbers them).
 * Errors print "fatctl: error=<result> reason=<reason>" and exit 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tern/blockdev.h"
#include "tern/fat.h"
#include "tern/gpt.h"

struct image {
    int fd;
    uint32_t ss;
};

static tern_result img_read(void *ctx, uint64_t lba, void *buf, uint32_t count)
{
    struct image *im = ctx;
    size_t len = (size_t)count * im->ss;
    return pread(im->fd, buf, len, (off_t)(lba * im->ss)) == (ssize_t)len ? TERN_OK : TERN_EIO;
}

static tern_result img_write(void *ctx, uint64_t lba, const void *buf, uint32_t count)
{
    struct image *im = ctx;
    size_t len = (size_t)count * im->ss;
    return pwrite(im->fd, buf, len, (off_t)(lba * im->ss)) == (ssize_t)len ? TERN_OK : TERN_EIO;
}

static tern_result img_flush(void *ctx)
{
    struct image *im = ctx;
    return fdatasync(im->fd) == 0 ? TERN_OK : TERN_EIO;
}

static const struct tern_bdev_ops ops = { img_read, img_write, img_flush };

static struct tern_fat fs;

static int fail(tern_result r)
{
    fprintf(stderr, "fatctl: error=%s reason=%s\n", tern_result_name(r),
            fs.reason ? fs.reason : "-");
    return 1;
}

static int put(const char *host, const char *path, bool append)
{
    FILE *in = fopen(host, "rb");
    if (in == NULL) {
        perror(host);
        return 1;
    }
    struct tern_fat_file f;
    tern_result r = tern_fat_open(&fs, &f, path, TERN_FAT_WRITE | TERN_FAT_CREATE |
                                                     (append ? 0 : TERN_FAT_TRUNC));
    if (r != TERN_OK) {
        fclose(in);
        return fail(r);
    }
    if (append)
        tern_fat_seek(&f, f.size);
    static char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        if ((r = tern_fat_write(&f, buf, n)) != TERN_OK) {
            fclose(in);
            return fail(r);
        }
    }
    fclose(in);
    if ((r = tern_fat_close(&f)) != TERN_OK)
        return fail(r);
    return 0;
}

static int cat(const char *path, FILE *out, uint64_t off, uint64_t len)
{
    struct tern_fat_file f;
    tern_result r = tern_fat_open(&fs, &f, path, TERN_FAT_READ);
    if (r != TERN_OK)
        return fail(r);
    static char buf[1 << 20];
    size_t got;
    while (len > 0) {
        size_t want = len < sizeof(buf) ? (size_t)len : sizeof(buf);
        if ((r = tern_fat_pread(&f, off, buf, want, &got)) != TERN_OK)
            return fail(r);
        if (got == 0)
            break;
        fwrite(buf, 1, got, out);
        off += got;
        len -= got;
    }
    tern_fat_close(&f);
    return 0;
}

static int export_tree(const char *dir, const char *host, int depth)
{
    if (depth > 64)
        return 1;
    struct tern_fat_dir d;
    struct tern_fat_stat st;
    tern_result r = tern_fat_opendir(&fs, &d, dir);
    if (r != TERN_OK)
        return fail(r);
    /* Names first (the iterator is invalidated by nested calls only
     * through the cache, which is fine), then recurse. */
    while ((r = tern_fat_readdir(&d, &st)) == TERN_OK) {
        char p[4096], h[4096];
        if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, st.name) >= sizeof(p) ||
            (size_t)snprintf(h, sizeof(h), "%s/%s", host, st.name) >= sizeof(h))
            return fail(TERN_EINVAL); /* path too long for this tool */
        struct tern_fat_dir saved = d;
        if (st.is_dir) {
            if (mkdir(h, 0755) != 0 && errno != EEXIST) {
                perror(h);
                return 1;
            }
            if (export_tree(p, h, depth + 1) != 0)
                return 1;
        } else {
            FILE *out = fopen(h, "wb");
            if (out == NULL) {
                perror(h);
                return 1;
            }
            int rc = cat(p, out, 0, UINT64_MAX);
            fclose(out);
            if (rc != 0)
                return rc;
        }
        d = saved;
    }
    return r == TERN_ENOENT ? 0 : fail(r);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: fatctl IMG [--part N] [--sector S] [--ro] CMD [ARGS]\n");
        return 2;
    }
    const char *img = argv[1];
    int part = 0;
    bool ro = false;
    struct image im = { .ss = 512 };
    int i = 2;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--part") == 0 && i + 1 < argc)
            part = atoi(argv[++i]);
        else if (strcmp(argv[i], "--sector") == 0 && i + 1 < argc)
            im.ss = (uint32_t)atoi(argv[++i]);
        else if (strcmp(argv[i], "--ro") == 0)
            ro = true;
        else
            return 2;
    }
    if (i >= argc)
        return 2;
    const char *cmd = argv[i++];
    im.fd = open(img, ro ? O_RDONLY : O_RDWR);
    if (im.fd < 0) {
        perror(img);
        return 1;
    }
    struct stat sb;
    fstat(im.fd, &sb);
    static struct tern_bdev dev;
    size_t cl = tern_bdev_cache_bytes(im.ss, 64);
    void *cache = aligned_alloc(64, (cl + 63) & ~(size_t)63);
    if (tern_bdev_init(&dev, &ops, &im, im.ss, (uint64_t)sb.st_size / im.ss, ro, cache, cl, 64) !=
        TERN_OK)
        return 1;
    static struct tern_gpt g;
    if (strcmp(cmd, "gpt") == 0 || part > 0) {
        tern_result r = tern_gpt_read(&dev, &g);
        if (r != TERN_OK) {
            fprintf(stderr, "fatctl: gpt error=%s reason=%s\n", tern_result_name(r), g.reason);
            return 1;
        }
        if (strcmp(cmd, "gpt") == 0) {
            printf("parts=%u backup=%d primary_reason=%s\n", g.count, g.used_backup,
                   g.primary_reason ? g.primary_reason : "-");
            for (unsigned k = 0; k < g.count; k++) {
                char t[37];
                tern_guid_format(&g.parts[k].type, t);
                printf("%u %llu %llu %s %s\n", g.parts[k].index + 1,
                       (unsigned long long)g.parts[k].first_lba,
                       (unsigned long long)g.parts[k].last_lba, t, g.parts[k].name);
            }
            return 0;
        }
    }
    uint64_t base = 0, count = dev.sector_count;
    if (part > 0) {
        const struct tern_gpt_part *p = tern_gpt_find_index(&g, (unsigned)part - 1);
        if (p == NULL) {
            fprintf(stderr, "fatctl: no partition %d\n", part);
            return 1;
        }
        base = p->first_lba;
        count = p->last_lba - p->first_lba + 1;
    }
    tern_result r = tern_fat_mount(&fs, &dev, base, count, ro);
    if (r != TERN_OK)
        return fail(r);
    int rc = 0;
    if (strcmp(cmd, "info") == 0) {
        printf("fat%d cluster=%u clusters=%u label=%s\n", fs.type, fs.cluster_bytes,
               fs.clusters, fs.label);
    } else if (strcmp(cmd, "ls") == 0 && i < argc) {
        struct tern_fat_dir d;
        struct tern_fat_stat st;
        if ((r = tern_fat_opendir(&fs, &d, argv[i])) != TERN_OK)
            return fail(r);
        while ((r = tern_fat_readdir(&d, &st)) == TERN_OK)
            printf("%c %u %s\n", st.is_dir ? 'd' : 'f', st.size, st.name);
        if (r != TERN_ENOENT)
            return fail(r);
    } else if (strcmp(cmd, "stat") == 0 && i < argc) {
        struct tern_fat_stat st;
        if ((r = tern_fat_stat(&fs, argv[i], &st)) != TERN_OK)
            return fail(r);
        printf("%s size=%u cluster=%u short=%s\n", st.is_dir ? "dir" : "file", st.size,
               st.first_cluster, st.short_name);
    } else if (strcmp(cmd, "cat") == 0 && i < argc) {
        rc = cat(argv[i], stdout, 0, UINT64_MAX);
    } else if (strcmp(cmd, "pcat") == 0 && i + 2 < argc) {
        rc = cat(argv[i], stdout, strtoull(argv[i + 1], NULL, 10), strtoull(argv[i + 2], NULL, 10));
    } else if (strcmp(cmd, "put") == 0 && i + 1 < argc) {
        rc = put(argv[i], argv[i + 1], false);
    } else if (strcmp(cmd, "append") == 0 && i + 1 < argc) {
        rc = put(argv[i], argv[i + 1], true);
    } else if (strcmp(cmd, "export") == 0 && i + 1 < argc) {
        rc = export_tree(argv[i], argv[i + 1], 0);
    } else if (strcmp(cmd, "mkdir") == 0 && i < argc) {
        if ((r = tern_fat_mkdir(&fs, argv[i])) != TERN_OK)
            return fail(r);
    } else if (strcmp(cmd, "rm") == 0 && i < argc) {
        if ((r = tern_fat_unlink(&fs, argv[i])) != TERN_OK)
            return fail(r);
    } else if (strcmp(cmd, "mv") == 0 && i + 1 < argc) {
        if ((r = tern_fat_rename(&fs, argv[i], argv[i + 1])) != TERN_OK)
            return fail(r);
    } else if (strcmp(cmd, "trunc") == 0 && i + 1 < argc) {
        struct tern_fat_file f;
        if ((r = tern_fat_open(&fs, &f, argv[i], TERN_FAT_WRITE)) != TERN_OK ||
            (r = tern_fat_truncate(&f, (uint32_t)strtoul(argv[i + 1], NULL, 10))) != TERN_OK ||
            (r = tern_fat_close(&f)) != TERN_OK)
            return fail(r);
    } else if (strcmp(cmd, "check") == 0) {
        size_t bl = ((size_t)fs.clusters + 2 + 7) / 8;
        uint8_t *bm = malloc(bl);
        uint32_t lost = 0;
        if ((r = tern_fat_check(&fs, bm, bl, &lost)) != TERN_OK)
            return fail(r);
        printf("check ok lost=%u\n", lost);
        free(bm);
    } else {
        fprintf(stderr, "fatctl: unknown command or missing arguments: %s\n", cmd);
        return 2;
    }
    if (rc == 0 && (r = tern_fat_unmount(&fs)) != TERN_OK)
        return fail(r);
    return rc;
}
