/*
 * Interface: what workload.c and workload_health.c share.
 */
#ifndef TERN_WORKLOAD_INTERNAL_H
#define TERN_WORKLOAD_INTERNAL_H

#include "tern/workload.h"

/* Arms the first health check (soon after start) and, with it, the
 * TERN_READY announcement. */
void workload_health_start(struct tern_workload *w);

/* The app said it is ready: check at once rather than at the next tick. */
void workload_health_now(struct tern_workload *w);

#endif
