/*
 * Interface: what workload.c and workload_health.c share.
 */
#ifndef TERN_WORKLOAD_INTERNAL_H
#define TERN_WORKLOAD_INTERNAL_H

#include "tern/workload.h"

struct tern_fat;
struct tern_pkg;
struct tern_pkg_error;

/* manifest.json of a parsed package into *m (tern_manifest_parse), tied
 * to the package (tern_pkg_check_manifest). TERN_OK; TERN_EINVAL or
 * TERN_ENOMEM with err (no-manifest for one that does not parse). */
tern_result workload_pkg_manifest(const struct tern_pkg *pkg, struct tern_manifest *m,
                                  struct tern_pkg_error *err);

/* Reads the whole file at path of fs (at most max bytes) into the
 * instance heap: TERN_OK with *out (tern_free it) and *len; TERN_ENOSPC
 * (a directory, or larger than max); TERN_ENOMEM; the FAT's errors. */
tern_result workload_read_file(struct tern_os *os, struct tern_fat *fs, const char *path,
                               size_t max, void **out, size_t *len);

/* Logs that the workload name was refused and why, and prints
 * TERN_APP_REFUSED name=NAME reason=WHY (as one token). */
void workload_app_refused(struct tern_os *os, const char *name, const char *why);

/* Arms the first health check (soon after start) and, with it, the
 * TERN_READY announcement. */
void workload_health_start(struct tern_workload *w);

/* The app said it is ready: check at once rather than at the next tick. */
void workload_health_now(struct tern_workload *w);

#endif
