/*
 * Interface: a deterministic platform for tests and simulations. Time is
 * virtual: it moves only when the core waits (to the deadline) or when a
 * test advances it. The console is captured in a buffer the test can
 * search. Several sim platforms (and so several instances) can coexist.
 */
#ifndef TERN_SIM_PLATFORM_H
#define TERN_SIM_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/platform.h"

#define SIM_CONSOLE_MAX (64 * 1024)
#define SIM_MAX_DISKS 4

/* A block device in the test's memory (sim_platform_add_disk). */
struct sim_disk {
    uint8_t *mem;                  /* sectors * sector_size bytes, the test's */
    uint32_t sector_size;
    uint64_t sectors;
    bool read_only;
};

struct sim_platform {
    uint64_t now_ns;
    uint64_t rng;                  /* xorshift state for entropy */
    bool entropy_fail;             /* entropy returns TERN_EIO, buf untouched */
    uint64_t entropy_calls;        /* every entropy call, failed ones too */
    void *heap;
    size_t heap_size;
    char console[SIM_CONSOLE_MAX];
    size_t console_len;
    uint64_t waits;
    uint64_t pending_ready;        /* delivered by the next wait */
    bool panicked;
    struct sim_disk disks[SIM_MAX_DISKS];
    unsigned ndisks;
};

/* Sets up sim with a heap of heap_size bytes (malloc) and a PRNG seed.
 * 0 or -1 (no memory). */
int sim_platform_init(struct sim_platform *sim, size_t heap_size, uint64_t seed);
void sim_platform_close(struct sim_platform *sim);
struct tern_platform sim_platform(struct sim_platform *sim);

/* Offers mem (sectors of sector_size bytes, owned by the caller and kept
 * while the platform is used) as the next block device. Its index, or -1
 * when SIM_MAX_DISKS are attached. */
int sim_platform_add_disk(struct sim_platform *sim, uint8_t *mem, uint32_t sector_size,
                          uint64_t sectors, bool read_only);

/* True when the captured console contains text. */
bool sim_console_has(const struct sim_platform *sim, const char *text);

#endif
