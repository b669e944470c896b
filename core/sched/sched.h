/*
 * Interface (core-internal): the scheduler half that the loop drives.
 * Threads' public API is include/tern/thread.h.
 */
#ifndef TERN_SCHED_H
#define TERN_SCHED_H

#include <stdbool.h>

#include "tern/os.h"

void tern_sched_init(struct tern_os *os);

/* Runs every thread that is ready now, each once, in FIFO order. */
void tern_sched_run_ready(struct tern_os *os);

bool tern_sched_has_ready(const struct tern_os *os);

#endif
