/*
 * tern-linux: Tern as an ordinary Linux process. Parses the command line,
 * sets up the libuv backend and runs one instance until it halts (SIGINT
 * or SIGTERM halt it cleanly with status 0).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux.h"
#include "net_setup.h"
#include "tern/boot_net.h"
#include "tern/disk.h"
#include "tern/os.h"
#include "http_linux.h"
#include "guard_linux.h"
#include "workload_linux.h"

#define DEFAULT_HEAP_MIB 64

struct options {
    size_t heap_mib;
    enum tern_log_level log_level;
    bool log_level_given;
    const char *disks[TERN_MAX_BLOCK_DEVICES];
    unsigned disk_count;
};

/* Everything one tern-linux process runs: main owns the one instance. */
struct tern_linux {
    struct options opt;
    struct linux_net_opts net_opts;
    struct linux_http_opts http_opts;
    struct linux_app_opts app_opts;
    struct linux_backend backend;
    struct tern_os os;
    struct tern_disk disks[TERN_MAX_BLOCK_DEVICES];
    struct tern_disk_data data;
    struct tern_fat *served;             /* the data volume, or NULL */
    struct tern_fat *boot;               /* disk 0's mounted volume, or NULL */
    struct linux_network network;        /* core's bring-up and the diagnostics */
    struct linux_http http;
    struct linux_workload workload;
    struct linux_guard guard;
    bool app, guarded;
};

static void usage(FILE *to)
{
    fprintf(to,
            "usage: tern-linux [options]\n"
            "Runs the Tern OS as a Linux process; stop it with Ctrl-C or SIGTERM.\n"
            "\n"
            "  --disk FILE[,ro][,sector=512|4096]\n"
            "                     attach an image file as the next block device (repeatable)\n"
            "  --mem MIB          heap for the OS, in MiB (default %d, at least 1)\n"
            "  --log-level LEVEL  console threshold: debug, info, warn, error, off (default info)\n"
            "  --version          print the version and exit\n"
            "  --help             print this and exit\n"
            "\n"
            "Marker lines (TERN_BOOT_OK, TERN_HALT, ...) are described in docs/markers.md.\n",
            DEFAULT_HEAP_MIB);
    linux_net_usage(to);
    linux_http_usage(to);
    linux_app_usage(to);
}

static int parse_level(const char *s, enum tern_log_level *out)
{
    static const char *const names[] = { "debug", "info", "warn", "error", "off" };
    for (int i = 0; i <= TERN_LOG_OFF; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum tern_log_level)i;
            return 0;
        }
    }
    return -1;
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v == 0 || v > (1ull << 20))
        return -1;
    *out = (size_t)v;
    return 0;
}

enum { OPT_DISK = 1000, OPT_MEM, OPT_LOG, OPT_VERSION, OPT_HELP };

static const struct option long_opts[] = {
    { "disk", required_argument, NULL, OPT_DISK },
    { "mem", required_argument, NULL, OPT_MEM },
    { "log-level", required_argument, NULL, OPT_LOG },
    { "version", no_argument, NULL, OPT_VERSION },
    { "help", no_argument, NULL, OPT_HELP },
    LINUX_NET_LONG_OPTS,
    LINUX_HTTP_LONG_OPTS,
    LINUX_APP_LONG_OPTS,
    { NULL, 0, NULL, 0 },
};

/* One option of tern-linux's own. 0 to go on, else the exit status
 * (-1 for 0: --help, --version). */
static int take_option(struct tern_linux *tl, int c)
{
    struct options *o = &tl->opt;
    switch (c) {
    case OPT_DISK:
        if (o->disk_count == TERN_MAX_BLOCK_DEVICES) {
            fprintf(stderr, "tern-linux: at most %d disks\n", TERN_MAX_BLOCK_DEVICES);
            return 2;
        }
        o->disks[o->disk_count++] = optarg;
        return 0;
    case OPT_MEM:
        if (parse_size(optarg, &o->heap_mib) != 0) {
            fprintf(stderr, "tern-linux: --mem wants a size in MiB, not '%s'\n", optarg);
            return 2;
        }
        return 0;
    case OPT_LOG:
        if (parse_level(optarg, &o->log_level) != 0) {
            fprintf(stderr, "tern-linux: --log-level: unknown level '%s'\n", optarg);
            return 2;
        }
        o->log_level_given = true;
        return 0;
    case OPT_VERSION:
        printf("tern-linux %s\n", TERN_VERSION);
        return -1;
    case 'h':
    case OPT_HELP:
        usage(stdout);
        return -1;
    default:
        usage(stderr);
        return 2;
    }
}

/* The command line into tl. 0 to go on, else the exit status (-1: 0). */
static int parse_args(struct tern_linux *tl, int argc, char **argv)
{
    int c;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        int r = 0;
        if (c >= LINUX_HTTP_OPT_TLS_CERT && c <= LINUX_HTTP_OPT_LAST)
            r = linux_http_opt(&tl->http_opts, c, optarg) ? 2 : 0;
        else if (c >= LINUX_APP_OPT_MANIFEST && c <= LINUX_APP_OPT_LAST)
            r = linux_app_opt(&tl->app_opts, c, optarg) ? 2 : 0;
        else if (c >= LINUX_NET_OPT_NET && c <= LINUX_NET_OPT_LAST)
            r = linux_net_opt(&tl->net_opts, c, optarg) ? 2 : 0;
        else
            r = take_option(tl, c);
        if (r)
            return r;
    }
    if (optind < argc) {
        fprintf(stderr, "tern-linux: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    return 0;
}

/* The backend and the instance. 0, or the exit status. */
static int start_os(struct tern_linux *tl, int argc, uint64_t start_ns)
{
    if (linux_backend_init(&tl->backend, tl->opt.heap_mib) != 0)
        return 1;
    for (unsigned i = 0; i < tl->opt.disk_count; i++) {
        if (linux_disk_add(&tl->backend, tl->opt.disks[i]) != 0)
            return 1;
    }
    if (linux_http_check(&tl->http_opts) != 0 || linux_app_check(&tl->workload, &tl->app_opts) != 0)
        return 2;
    linux_http_default_forward(&tl->net_opts, argc);
    struct tern_config cfg;
    tern_config_default(&cfg);
    cfg.boot_start_ns = start_ns;
    cfg.console_level = tl->opt.log_level;
    struct tern_platform plat = linux_platform(&tl->backend);
    return tern_os_init(&tl->os, &plat, &cfg) == TERN_OK ? 0 : 1;
}

/* Each disk prints TERN_DISK_OK or TERN_DISK_ERROR; a bad disk does not
 * stop the OS. What is served is the data volume (core's rule, as on bare
 * metal) of the first mounted disk that has one; the workload's boot
 * volume is disk 0's. */
static void mount_disks(struct tern_linux *tl)
{
    for (unsigned i = 0; i < tl->opt.disk_count; i++)
        (void)tern_disk_mount(&tl->os, i, &tl->disks[i]);
    for (unsigned i = 0; i < tl->opt.disk_count && !tl->served; i++)
        if (tl->disks[i].mounted && tern_disk_mount_data(&tl->disks[i], &tl->data, NULL) == TERN_OK)
            tl->served = tl->data.fs;
    if (tl->opt.disk_count && tl->disks[0].mounted)
        tl->boot = &tl->disks[0].fs;
}

/* Network, HTTP, the workload. 0, or the exit status. */
static int start_services(struct tern_linux *tl)
{
    tl->app = !tl->app_opts.off;
    if (tl->app) {
        int refused = linux_app_resolve(&tl->workload, &tl->os, &tl->app_opts, tl->boot,
                                        tl->served);
        if (refused)
            return refused;
    }
    /* The devices open once the address is known (slirp forwards to it). */
    const struct tern_manifest *m = tl->app ? &tl->workload.m : NULL;
    const struct linux_net_opts *n = &tl->net_opts;
    uint32_t ip, mask, gw;
    tern_boot_net_address(m, n->ip, n->mask, n->gw, &ip, &mask, &gw);
    if (linux_net_open(&tl->backend, n, ip) != 0)
        return 1;
    int net_up = linux_net_start(&tl->network, &tl->os, n, m);
    if (net_up < 0)
        return 1;
    tl->app = tl->app && net_up > 0;
    if (net_up > 0 && linux_fwd_start(&tl->network.fwd, &tl->os, &tl->backend.loop,
                                      &tl->network.bn, &n->fwd) != 0)
        return 1;
    if (net_up == 0 && n->fwd.count > 0)
        tern_log(&tl->os, TERN_LOG_WARN, "forward", "no network device: --forward unused");
    struct linux_http_workload hw = {
        &tl->workload.m, &tl->workload.files, tl->workload.source, &tl->workload.bp,
    };
    int code = net_up > 0 ? linux_http_start(&tl->http, &tl->os, &tl->network, tl->served,
                                             &tl->http_opts, linux_http_curl_port(n),
                                             tl->app ? &hw : NULL)
                          : 0;
    if (code || !tl->app)
        return code;
    bool http = !tl->http_opts.off;
    struct tern_workload_opts wo = {
        .services = http ? &tl->http.svc : NULL,
        .network = &tl->network.bn,
        .data = tl->served,
        .boot = tl->boot,
        .https = http ? &tl->http.https : NULL,
        .ready_fields = http ? linux_http_ready_fields(&tl->http) : NULL,
        .keep_log_level = tl->opt.log_level_given,
        .pkg = &tl->workload.bp,
        .on_ready = linux_http_hint,
        .arg = &tl->http,
    };
    int refused = linux_app_start(&tl->workload, &tl->os, &wo);
    if (refused)
        return refused;
    if (linux_guard_start(&tl->guard, &tl->os, &tl->workload.w, tl->app_opts.watchdog_ms) != 0)
        return 1;
    tl->guarded = true;
    return 0;
}

static void finish(struct tern_linux *tl, bool os_up)
{
    if (tl->guarded)
        linux_guard_stop(&tl->guard);
    if (os_up) {
        tern_boot_https_stop(&tl->http.https);   /* mbedTLS's own allocations */
        (void)tern_disk_unmount_data(&tl->data);
        for (unsigned i = 0; i < tl->opt.disk_count; i++)
            (void)tern_disk_unmount(&tl->disks[i]);
        tern_os_finish(&tl->os);
    }
    linux_backend_close(&tl->backend);
    linux_app_close(&tl->workload);
}

int main(int argc, char **argv)
{
    uint64_t start_ns = uv_hrtime();
    static struct tern_linux tl = {
        .opt = { .heap_mib = DEFAULT_HEAP_MIB, .log_level = TERN_LOG_INFO },
        .app_opts = { .watchdog_ms = LINUX_WATCHDOG_MS_DEFAULT },
    };
    int code = parse_args(&tl, argc, argv);
    if (code)
        return code < 0 ? 0 : code;
    /* Markers and logs must reach a pipe at once, line by line. */
    setvbuf(stdout, NULL, _IONBF, 0);
    code = start_os(&tl, argc, start_ns);
    if (code) {
        finish(&tl, false);
        return code;
    }
    mount_disks(&tl);
    code = start_services(&tl);
    if (code == 0)
        code = tern_os_run(&tl.os);
    finish(&tl, true);
    return code;
}
