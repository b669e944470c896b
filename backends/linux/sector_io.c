/*
 * Interface: see sector_io.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <sys/types.h>
#include <unistd.h>

#include "sector_io.h"

/* pread or pwrite until len bytes moved; EOF or an error is TERN_EIO. */
static tern_result transfer(int fd, bool write, uint64_t off, char *buf, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = write ? pwrite(fd, buf + done, len - done, (off_t)(off + done))
                          : pread(fd, buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return TERN_EIO;
        done += (size_t)n;
    }
    return TERN_OK;
}

tern_result linux_sectors_read(int fd, uint32_t sector_size, uint64_t lba, void *buf,
                               uint32_t count)
{
    return transfer(fd, false, lba * sector_size, buf, (size_t)count * sector_size);
}

tern_result linux_sectors_write(int fd, uint32_t sector_size, uint64_t lba, const void *buf,
                                uint32_t count)
{
    /* pwrite does not write through buf; the cast only shares the loop. */
    return transfer(fd, true, lba * sector_size, (char *)buf, (size_t)count * sector_size);
}

static tern_result image_read(void *ctx, uint64_t lba, void *buf, uint32_t count)
{
    struct linux_image_file *im = ctx;
    return linux_sectors_read(im->fd, im->sector_size, lba, buf, count);
}

static tern_result image_write(void *ctx, uint64_t lba, const void *buf, uint32_t count)
{
    struct linux_image_file *im = ctx;
    return linux_sectors_write(im->fd, im->sector_size, lba, buf, count);
}

static tern_result image_flush(void *ctx)
{
    struct linux_image_file *im = ctx;
    if (!im->durable)
        return TERN_OK;
    return fdatasync(im->fd) == 0 ? TERN_OK : TERN_EIO;
}

const struct tern_bdev_ops linux_image_ops = { image_read, image_write, image_flush };
