/*
 * Interface: the workload of tern-linux. Options:
 *   --manifest FILE     run the workload FILE describes (its app path is
 *                       relative to FILE's folder)
 *   --set KEY=VALUE     override what the manifest marks overridable
 *                       (repeatable; docs/manifest.md)
 *   --no-app            serve the OS's own routes only, no workload
 *   --watchdog-ms MS    stop an app thread that runs MS ms of CPU without
 *                       yielding (default 1000; 0: off)
 *   --package FILE      run the signed package FILE (docs/packages.md)
 *   --trust KEY.pem     trust KEY as a package signer too (repeatable)
 *   --allow-unsigned    development mode: unsigned packages and raw
 *                       manifests (--manifest, /tern/manifest.json) run
 * Without --package or --manifest the workload is the data volume's A/B
 * slot, else (development mode) /tern/manifest.json on the first disk's
 * boot volume, else the built-in default (the hello app, built into
 * tern-linux). The choice itself is core's (tern_workload_resolve).
 */
#ifndef TERN_WORKLOAD_LINUX_H
#define TERN_WORKLOAD_LINUX_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tern/boot_pkg.h"
#include "tern/workload.h"

enum {
    LINUX_APP_OPT_MANIFEST = 1300,
    LINUX_APP_OPT_SET,
    LINUX_APP_OPT_NO_APP,
    LINUX_APP_OPT_WATCHDOG,
    LINUX_APP_OPT_PACKAGE,
    LINUX_APP_OPT_TRUST,
    LINUX_APP_OPT_ALLOW_UNSIGNED,
    LINUX_APP_OPT_LAST = LINUX_APP_OPT_ALLOW_UNSIGNED,
};

#define LINUX_APP_LONG_OPTS                                               \
    { "manifest", required_argument, NULL, LINUX_APP_OPT_MANIFEST },      \
    { "set", required_argument, NULL, LINUX_APP_OPT_SET },                \
    { "no-app", no_argument, NULL, LINUX_APP_OPT_NO_APP },                \
    { "watchdog-ms", required_argument, NULL, LINUX_APP_OPT_WATCHDOG },   \
    { "package", required_argument, NULL, LINUX_APP_OPT_PACKAGE },        \
    { "trust", required_argument, NULL, LINUX_APP_OPT_TRUST },            \
    { "allow-unsigned", no_argument, NULL, LINUX_APP_OPT_ALLOW_UNSIGNED }

#define LINUX_APP_MAX_SETS 32
#define LINUX_APP_MAX_TRUST 4

struct linux_app_opts {
    const char *manifest;
    const char *sets[LINUX_APP_MAX_SETS];
    unsigned nsets;
    bool off;
    uint32_t watchdog_ms;                /* 0: off */
    const char *package;
    const char *trust[LINUX_APP_MAX_TRUST];
    unsigned ntrust;
    bool allow_unsigned;
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
    struct tern_workload_files files;    /* where its other files are (HTTPS's cert, key) */
    void *package;                       /* malloc'd, from --package */
    size_t package_len;
    char package_name[4096 + 8];         /* "file:PATH" */
    void *trust[LINUX_APP_MAX_TRUST];    /* malloc'd --trust files */
    size_t trust_len[LINUX_APP_MAX_TRUST];
    struct tern_boot_pkg bp;             /* trust, slots, what runs */
};

void linux_app_usage(FILE *to);

/* Takes one parsed option. 0, or -1 with a message on stderr. */
int linux_app_opt(struct linux_app_opts *o, int code, const char *arg);

/* Reads --manifest's file before anything starts. 0, or -1 with a clear
 * message on stderr. */
int linux_app_check(struct linux_workload *lw, const struct linux_app_opts *o);

/* Trust (built-in keys, the boot volume's, --trust), development mode
 * and the data volume's slots into lw->bp, then finds the manifest and
 * the app (core's rule, tern_workload_resolve; boot: disk 0's volume or
 * NULL; data: the data volume or NULL) into lw->m and lw->app. 0;
 * TERN_WORKLOAD_HALT_REFUSED with a marker saying why; 2 for a --trust
 * file that is not a P-256 public key. */
int linux_app_resolve(struct linux_workload *lw, struct tern_os *os,
                      const struct linux_app_opts *o, struct tern_fat *boot,
                      struct tern_fat *data);

/* Starts the resolved workload (see workload.h) with wo (its source and
 * app file are lw's). 0, or TERN_WORKLOAD_HALT_REFUSED. */
int linux_app_start(struct linux_workload *lw, struct tern_os *os,
                    const struct tern_workload_opts *wo);

void linux_app_close(struct linux_workload *lw);

#endif
