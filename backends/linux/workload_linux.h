/*
 * Interface: the workload of tern-linux. Options:
 *   --manifest FILE     run the workload FILE describes (its app path is
 *                       relative to FILE's folder)
 *   --set KEY=VALUE     override what the manifest marks overridable
 *                       (repeatable; docs/manifest.md)
 *   --no-app            serve the OS's own routes only, no workload
 *   --watchdog-ms MS    stop an app thread that runs MS ms of CPU without
 *                       yielding (default 1000; 0: off)
 * Without --manifest the workload is /tern/manifest.json on the first
 * disk's boot volume, else the built-in default (the hello app, built
 * into tern-linux). The choice itself is core's (tern_workload_resolve).
 */
#ifndef TERN_WORKLOAD_LINUX_H
#define TERN_WORKLOAD_LINUX_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tern/workload.h"

enum {
    LINUX_APP_OPT_MANIFEST = 1300,
    LINUX_APP_OPT_SET,
    LINUX_APP_OPT_NO_APP,
    LINUX_APP_OPT_WATCHDOG,
    LINUX_APP_OPT_LAST = LINUX_APP_OPT_WATCHDOG,
};

#define LINUX_APP_LONG_OPTS                                               \
    { "manifest", required_argument, NULL, LINUX_APP_OPT_MANIFEST },      \
    { "set", required_argument, NULL, LINUX_APP_OPT_SET },                \
    { "no-app", no_argument, NULL, LINUX_APP_OPT_NO_APP },                \
    { "watchdog-ms", required_argument, NULL, LINUX_APP_OPT_WATCHDOG }

#define LINUX_APP_MAX_SETS 32

struct linux_app_opts {
    const char *manifest;
    const char *sets[LINUX_APP_MAX_SETS];
    unsigned nsets;
    bool off;
    uint32_t watchdog_ms;                /* 0: off */
};

/* tern-linux's workload state (main owns it). */
struct linux_workload {
    struct tern_workload w;
    char *manifest_json;                 /* malloc'd, from --manifest */
    size_t manifest_len;
    char manifest_dir[4096];
    char source_name[4096 + 8];          /* "file:PATH" */
    void *app_file;                      /* malloc'd, when read from the host */
    struct tern_manifest m;              /* resolved: after the overrides */
    const void *app;                     /* the app's bytes, wherever they came from */
    size_t app_len;
    const char *source;
};

void linux_app_usage(FILE *to);

/* Takes one parsed option. 0, or -1 with a message on stderr. */
int linux_app_opt(struct linux_app_opts *o, int code, const char *arg);

/* Reads --manifest's file before anything starts. 0, or -1 with a clear
 * message on stderr. */
int linux_app_check(struct linux_workload *lw, const struct linux_app_opts *o);

/* Finds the manifest and the app (core's rule, tern_workload_resolve;
 * boot: disk 0's volume or NULL) into lw->m and lw->app. 0, or
 * TERN_WORKLOAD_HALT_REFUSED with a marker saying why. */
int linux_app_resolve(struct linux_workload *lw, struct tern_os *os,
                      const struct linux_app_opts *o, struct tern_fat *boot);

/* Starts the resolved workload (see workload.h) with wo (its source and
 * app file are lw's). 0, or TERN_WORKLOAD_HALT_REFUSED. */
int linux_app_start(struct linux_workload *lw, struct tern_os *os,
                    const struct tern_workload_opts *wo);

void linux_app_close(struct linux_workload *lw);

#endif
