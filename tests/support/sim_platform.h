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
};

/* Sets up sim with a heap of heap_size bytes (malloc) and a PRNG seed.
 * 0 or -1 (no memory). */
int sim_platform_init(struct sim_platform *sim, size_t heap_size, uint64_t seed);
void sim_platform_close(struct sim_platform *sim);
struct tern_platform sim_platform(struct sim_platform *sim);

/* True when the captured console contains text. */
bool sim_console_has(const struct sim_platform *sim, const char *text);

#endif
