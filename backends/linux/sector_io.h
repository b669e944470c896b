/*
 * Interface: whole-sector transfers on an open image file, shared by the
 * Linux backend's block devices (disk.c) and the tools (tern-mkimage,
 * tern-pkg install), and an image file as a tern_bdev for the tools.
 */
#ifndef TERN_LINUX_SECTOR_IO_H
#define TERN_LINUX_SECTOR_IO_H

#include <stdbool.h>
#include <stdint.h>

#include "tern/blockdev.h"
#include "tern/result.h"

/* Reads count sectors of sector_size bytes at lba from fd into buf,
 * retrying short transfers and EINTR. TERN_OK, or TERN_EIO on an error or
 * end of file (the caller checks the range beforehand). */
tern_result linux_sectors_read(int fd, uint32_t sector_size, uint64_t lba, void *buf,
                               uint32_t count);

/* Writes count sectors from buf at lba, as linux_sectors_read reads them.
 * TERN_OK or TERN_EIO (no durability: that is the caller's fdatasync). */
tern_result linux_sectors_write(int fd, uint32_t sector_size, uint64_t lba, const void *buf,
                                uint32_t count);

/* An open image file as a block device (the ctx of linux_image_ops). A
 * flush is an fdatasync when durable; when not (a build that syncs once
 * at the end), a no-op. */
struct linux_image_file {
    int fd;
    uint32_t sector_size;
    bool durable;
};

extern const struct tern_bdev_ops linux_image_ops;

#endif
