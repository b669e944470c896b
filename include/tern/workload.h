/*
 * Interface: the workload, once for every backend. Given a resolved
 * manifest (include/tern/manifest.h) and the bytes of the app file it
 * names, tern_workload_start():
 *
 *   1. prints the resolved manifest and TERN_MANIFEST_OK;
 *   2. prints TERN_APP_LOAD with the file's size and SHA-256, and loads it
 *      (include/tern/loader.h): a refused file prints TERN_APP_REFUSED;
 *   3. gives the app its PAL (include/tern/pal_host.h) — its arena,
 *      threads, mounts, endpoints and the HTTP server's routes — and starts
 *      it (TERN_APP_START);
 *   4. checks its health as the manifest says (an HTTP GET through the
 *      server's own route table, or a listener on a TCP port) and prints
 *      TERN_READY once the network has an address and the first check
 *      passed; later checks keep running, and `failures` consecutive ones
 *      end the workload;
 *   5. when the app ends (returns, exit(), a crash, a failed health
 *      deadline) prints TERN_APP_EXIT and halts the instance with the
 *      status below — what a supervisor (tern-linux) or the machine
 *      (metal: reset) does next is the restart policy.
 *
 * Halt status: the app's own code when it returned or called exit (0 is
 * success); TERN_WORKLOAD_HALT_CRASH for a crash or a watchdog stop;
 * TERN_WORKLOAD_HALT_UNHEALTHY when the health check never passed or
 * failed too often; TERN_WORKLOAD_HALT_RESTART when any of these ended an
 * unconfirmed trial of a staged package, which was rolled back (o->pkg,
 * include/tern/boot_pkg.h). The first passing health check confirms such
 * a trial.
 */
#ifndef TERN_WORKLOAD_H
#define TERN_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/dns.h"
#include "tern/loader.h"
#include "tern/manifest.h"
#include "tern/pal_host.h"
#include "tern/result.h"
#include "tern/timer.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

struct tern_os;
struct tern_services;
struct tern_boot_net;
struct tern_boot_https;
struct tern_fat;

#define TERN_WORKLOAD_HALT_CRASH     81   /* not 70: a panic of the OS itself exits 70 */
#define TERN_WORKLOAD_HALT_UNHEALTHY 82
#define TERN_WORKLOAD_HALT_REFUSED   78   /* a manifest or app refused at start */
#define TERN_WORKLOAD_HALT_RESTART   75   /* restart me: a trial failed and was rolled back, or an update was staged */

struct tern_workload_opts {
    const char *source;                  /* where the manifest came from, for the marker */
    const void *app_file;                /* the app's bytes (read only during start) */
    size_t app_len;
    struct tern_services *services;      /* the OS's HTTP server; NULL: none */
    struct tern_boot_net *network;       /* the stack, its address and DNS servers; NULL: none */
    struct tern_fat *data;               /* the volume "data" mounts name; may be NULL */
    struct tern_fat *boot;               /* the volume "boot"; may be NULL */
    const struct tern_boot_https *https; /* HTTPS (TERN_READY's https=), or NULL */
    const char *ready_fields;            /* the backend's extra TERN_READY fields, or NULL */
    bool keep_log_level;                 /* the console level was given on the command line */
    struct tern_boot_pkg *pkg;           /* the boot's package (trial, confirm), or NULL */
    void (*on_ready)(void *arg);         /* after TERN_READY (a hint for the user) */
    void *arg;
};

struct tern_workload {
    struct tern_os *os;
    struct tern_manifest m;
    struct tern_workload_opts o;
    struct tern_app_image image;
    struct tern_pal_config pcfg;
    struct tern_pal_app app;
    struct tern_dns dns;                 /* the app's resolver (net != NULL) */
    bool dns_ready;
    const char *argv[TERN_PAL_MAX_ARGS + 2];
    const char *envp[TERN_PAL_MAX_ENV + 1];
    char env_text[TERN_PAL_MAX_ENV][TERN_MANIFEST_ENV_NAME_MAX + TERN_MANIFEST_ENV_VALUE_MAX + 2];
    struct tern_timer health_timer;
    uint64_t start_ns, ready_ns;
    uint32_t failed_in_row;
    bool ready;
    struct {
        uint64_t checks, passes, failures;
    } health;
};

/* Starts the workload of manifest m (copied) with the app in
 * o->app_file. TERN_OK: the app runs (its end halts the instance);
 * TERN_EINVAL: refused — the manifest does not fit what the OS has (an
 * endpoint it cannot bind, a mount with no volume) or the app file was
 * refused, with a TERN_APP_REFUSED line saying why; TERN_ENOMEM. Nothing
 * runs after a refusal. */
tern_result tern_workload_start(struct tern_workload *w, struct tern_os *os,
                                const struct tern_manifest *m,
                                const struct tern_workload_opts *o);

/* Ends the app as crashed from the loop (TERN_APP_EXIT with reason, then
 * the halt with TERN_WORKLOAD_HALT_CRASH). */
void tern_workload_crash(struct tern_workload *w, const char *reason);

/* For a backend's fault or watchdog path, where the loop cannot go on:
 * true when the CPU was running the app (rip inside its image, or one of
 * its threads current). w may be NULL (no workload). */
bool tern_workload_app_fault(const struct tern_workload *w, uint64_t rip);

/* Prints TERN_APP_EXIT with code TERN_WORKLOAD_HALT_CRASH and
 * reason=crash:WHAT (one token) and marks the app ended; the caller then
 * stops the machine or the process with TERN_WORKLOAD_HALT_CRASH. Only
 * formats into a stack buffer and writes the console: safe from a
 * signal handler or a CPU exception. */
void tern_workload_report_crash(struct tern_workload *w, const char *what);

/* The watchdog over the app's threads, ticked by a backend's guard
 * (tern-linux: a CPU-time itimer; metal: the LAPIC timer while the core is
 * busy) every TERN_WATCHDOG_TICK_MS or so of CPU time. */
#define TERN_WATCHDOG_MS_DEFAULT 1000
#define TERN_WATCHDOG_TICK_MS    100

struct tern_watchdog {
    uint32_t limit_ms;                   /* 0: off */
    uint32_t still_ms;                   /* CPU time with nothing moving */
    uint64_t last_switches, last_steps;
};

/* A watchdog that fires after limit_ms (0: never). */
void tern_watchdog_init(struct tern_watchdog *wd, uint32_t limit_ms);

/* One tick, elapsed_ms of CPU time after the previous one: true when a
 * thread has been current (os->sched.current) for limit_ms or more while
 * neither the loop (os->steps) nor any switch (os->sched.switches)
 * moved: the backend then ends the app (tern_workload_app_fault says
 * whose code it is: crash:watchdog) or panics (a core thread). Only reads
 * plain fields of os: safe from a signal handler or an interrupt. */
bool tern_watchdog_tick(struct tern_watchdog *wd, const struct tern_os *os, uint32_t elapsed_ms);

/* Where a boot finds its workload, in this order (docs/packages.md, "At
 * boot"):
 *   1. an explicit package (tern-linux --package): signed and trusted;
 *   2. an explicit manifest (tern-linux --manifest): development mode only;
 *   3. the data volume's A/B slots (pkg->have_update): the record's choice;
 *   4. /tern/manifest.json on the boot volume: development mode only;
 *   5. the built-in default (tern_manifest_default with the built-in app),
 *      part of the OS image itself.
 * Without pkg (an embedder's choice) nothing is checked: 2 and 4 run as
 * they are, 1 and 3 are skipped. */
struct tern_boot_pkg;

struct tern_workload_source {
    struct tern_boot_pkg *pkg;           /* trust, mode and slots; NULL: no packages */
    const void *package;                 /* an explicit package's bytes, or NULL (kept while the app runs) */
    size_t package_len;
    const char *package_name;            /* its name for the markers ("file:PATH") */
    const char *manifest_json;           /* explicit manifest bytes, or NULL */
    size_t manifest_len;
    const char *manifest_name;           /* its name for the marker ("file:PATH") */
    /* Reads the app file of an explicit manifest (path as the manifest
     * names it) into *data (the backend's memory, kept while the app
     * runs). TERN_OK, TERN_ENOENT, TERN_EIO, TERN_ENOMEM. */
    tern_result (*read_app)(void *arg, const char *path, const void **data, size_t *len);
    /* Copies another file of an explicit manifest's workload (an https
     * endpoint's cert or key, path as the manifest names it) into buf
     * (cap bytes): TERN_OK with *len; TERN_ENOENT; TERN_ENOSPC (larger
     * than cap); TERN_EIO. NULL: such a workload has no other files. */
    tern_result (*read_file)(void *arg, const char *path, void *buf, size_t cap, size_t *len);
    void *read_arg;
    struct tern_fat *boot;               /* the boot volume, or NULL */
    const void *builtin_app;             /* the built-in default's app file */
    size_t builtin_len;
    const char *const *overrides;        /* "KEY=VALUE", applied in order */
    unsigned noverrides;
};

#define TERN_WORKLOAD_DIR "/tern"        /* on the boot volume */
#define TERN_WORKLOAD_OS_DIR "tern"      /* the top directory apps and HTTP never see */
#define TERN_WORKLOAD_APP_MAX (16u << 20)

/* Where a resolved workload's own files are, for what its manifest names
 * besides the app (an https endpoint's cert and key): the package's
 * files, the boot volume's /tern, or an explicit manifest's folder
 * through the backend's read_file. The built-in workload has none. */
struct tern_workload_files {
    const struct tern_pkg *pkg;          /* a package's files; NULL: not a package */
    struct tern_fat *dir_fs;             /* TERN_WORKLOAD_DIR of this volume; NULL: none */
    tern_result (*read_file)(void *arg, const char *path, void *buf, size_t cap, size_t *len);
    void *read_arg;                      /* read_file NULL: none */
};

/* Finds the manifest, parses it, applies the overrides and reads the app
 * file it names. TERN_OK with *m, *app (instance heap when read from the
 * boot volume or a slot, else the source's memory), *app_len, *source
 * ("slot-a", "slot-b", "disk", "built-in", package_name or
 * manifest_name) and *files (where its other files are: valid while
 * src->pkg and the volumes are); a package prints TERN_PKG_OK.
 * TERN_EINVAL with a TERN_PKG_REFUSED line (a package refused, no slot
 * that may boot, a raw manifest outside development mode) or a
 * TERN_MANIFEST_REFUSED line naming the JSON path and why (a bad manifest
 * or override, an app file that is missing or larger than
 * TERN_WORKLOAD_APP_MAX). */
tern_result tern_workload_resolve(struct tern_os *os, const struct tern_workload_source *src,
                                  struct tern_manifest *m, const void **app, size_t *app_len,
                                  const char **source, struct tern_workload_files *files);

/* The workload file at path (as its manifest names it) into a new
 * instance-heap buffer (tern_free it; zero key material first) of at most
 * max bytes. TERN_OK with *out and *len; TERN_ENOENT (not there, or a
 * workload without files); TERN_ENOSPC (larger than max, or a
 * directory); TERN_ENOMEM; TERN_EIO. f may be NULL (no files). */
tern_result tern_workload_read_file(struct tern_os *os, const struct tern_workload_files *f,
                                    const char *path, size_t max, void **out, size_t *len);

TERN_END_DECLS

#endif
