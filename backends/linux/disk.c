/*
 * Interface: see linux.h. Block devices backed by image files, read and
 * written with pread/pwrite; flush is fdatasync.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "linux.h"
#include "sector_io.h"

static int parse_options(char *opts, bool *ro, uint32_t *sector)
{
    for (char *tok = strtok(opts, ","); tok; tok = strtok(NULL, ",")) {
        if (strcmp(tok, "ro") == 0) {
            *ro = true;
        } else if (strncmp(tok, "sector=", 7) == 0) {
            unsigned long v = strtoul(tok + 7, NULL, 10);
            if (v != 512 && v != 4096) {
                fprintf(stderr, "tern-linux: --disk: sector must be 512 or 4096, not '%s'\n",
                        tok + 7);
                return -1;
            }
            *sector = (uint32_t)v;
        } else {
            fprintf(stderr, "tern-linux: --disk: unknown option '%s' (ro, sector=N)\n", tok);
            return -1;
        }
    }
    return 0;
}

int linux_disk_add(struct linux_backend *b, const char *spec)
{
    if (b->disk_count == TERN_MAX_BLOCK_DEVICES) {
        fprintf(stderr, "tern-linux: at most %d disks\n", TERN_MAX_BLOCK_DEVICES);
        return -1;
    }
    char *copy = strdup(spec);
    if (copy == NULL)
        return -1;
    int rc = -1;
    bool ro = false;
    uint32_t sector = 512;
    char *comma = strchr(copy, ',');
    if (comma) {
        *comma = '\0';
        if (parse_options(comma + 1, &ro, &sector) != 0)
            goto out;
    }
    int fd = open(copy, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "tern-linux: --disk %s: %s\n", copy, strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)sector) {
        fprintf(stderr, "tern-linux: --disk %s: not a regular file of at least one sector\n",
                copy);
        close(fd);
        goto out;
    }
    if (st.st_size % sector != 0)
        fprintf(stderr, "tern-linux: --disk %s: size is not a multiple of %u; the tail is ignored\n",
                copy, sector);
    struct linux_disk *d = &b->disks[b->disk_count];
    d->fd = fd;
    d->sector_size = sector;
    d->sector_count = (uint64_t)st.st_size / sector;
    d->read_only = ro;
    snprintf(d->name, sizeof(d->name), "disk%u", b->disk_count);
    b->disk_count++;
    rc = 0;
out:
    free(copy);
    return rc;
}

static struct linux_disk *disk_at(void *ctx, unsigned idx)
{
    struct linux_backend *b = ctx;
    return idx < b->disk_count ? &b->disks[idx] : NULL;
}

unsigned linux_block_count(void *ctx)
{
    return ((struct linux_backend *)ctx)->disk_count;
}

tern_result linux_block_info(void *ctx, unsigned idx, struct tern_block_info *out)
{
    struct linux_disk *d = disk_at(ctx, idx);
    if (d == NULL)
        return TERN_ENOENT;
    out->sector_size = d->sector_size;
    out->sector_count = d->sector_count;
    out->read_only = d->read_only;
    memcpy(out->name, d->name, sizeof(out->name));
    return TERN_OK;
}

static tern_result check_range(const struct linux_disk *d, uint64_t lba, uint32_t count)
{
    if (count == 0 || lba >= d->sector_count || count > d->sector_count - lba)
        return TERN_EINVAL;
    return TERN_OK;
}

tern_result linux_block_read(void *ctx, unsigned idx, uint64_t lba, void *buf, uint32_t count)
{
    struct linux_disk *d = disk_at(ctx, idx);
    if (d == NULL)
        return TERN_ENOENT;
    if (check_range(d, lba, count) != TERN_OK)
        return TERN_EINVAL;
    return linux_sectors_read(d->fd, d->sector_size, lba, buf, count);
}

tern_result linux_block_write(void *ctx, unsigned idx, uint64_t lba, const void *buf,
                              uint32_t count)
{
    struct linux_disk *d = disk_at(ctx, idx);
    if (d == NULL)
        return TERN_ENOENT;
    if (d->read_only)
        return TERN_EROFS;
    if (check_range(d, lba, count) != TERN_OK)
        return TERN_EINVAL;
    return linux_sectors_write(d->fd, d->sector_size, lba, buf, count);
}

tern_result linux_block_flush(void *ctx, unsigned idx)
{
    struct linux_disk *d = disk_at(ctx, idx);
    if (d == NULL)
        return TERN_ENOENT;
    if (d->read_only)
        return TERN_OK;
    return fdatasync(d->fd) == 0 ? TERN_OK : TERN_EIO;
}
