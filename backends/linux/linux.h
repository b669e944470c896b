/*
 * Interface: the Linux backend's context. One struct linux_backend per
 * Tern instance; linux_platform() pairs it with the ops of
 * platform_linux.c. Devices are added before the instance is initialised
 * and stay for its whole life.
 */
#ifndef TERN_LINUX_H
#define TERN_LINUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "tern/platform.h"
#include "net_linux.h"

struct linux_disk {
    int fd;
    uint32_t sector_size;
    uint64_t sector_count;
    bool read_only;
    char name[16];
};

struct linux_backend {
    uv_loop_t loop;
    uv_timer_t deadline;
    uv_signal_t sigint, sigterm;
    uint64_t ready;                 /* TERN_READY_* bits not yet reported */
    void *heap;
    size_t heap_size;
    struct linux_disk disks[TERN_MAX_BLOCK_DEVICES];
    unsigned disk_count;
    struct linux_net *net;          /* network devices (net_linux.c), or NULL */
};

/* Sets up the loop, the signal watchers and a heap of heap_mib MiB.
 * 0 on success; -1 with a message on stderr otherwise. */
int linux_backend_init(struct linux_backend *b, size_t heap_mib);

/* Closes every handle and file, unmaps the heap. */
void linux_backend_close(struct linux_backend *b);

/* The platform to hand to tern_os_init(). */
struct tern_platform linux_platform(struct linux_backend *b);

/* Opens an image file as the next block device. spec is
 * "PATH[,ro][,sector=512|4096]". 0, or -1 with a message on stderr. */
int linux_disk_add(struct linux_backend *b, const char *spec);

/* Block-device ops for platform_linux.c (see tern/platform.h). */
unsigned linux_block_count(void *ctx);
tern_result linux_block_info(void *ctx, unsigned idx, struct tern_block_info *out);
tern_result linux_block_read(void *ctx, unsigned idx, uint64_t lba, void *buf, uint32_t count);
tern_result linux_block_write(void *ctx, unsigned idx, uint64_t lba, const void *buf,
                              uint32_t count);
tern_result linux_block_flush(void *ctx, unsigned idx);

#endif
