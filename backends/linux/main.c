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
#include "tern/disk.h"
#include "tern/net.h"
#include "tern/os.h"
#include "tern/tcp.h"
#include "http_linux.h"
#include "guard_linux.h"
#include "workload_linux.h"

#define DEFAULT_HEAP_MIB 64

struct options {
    size_t heap_mib;
    enum tern_log_level log_level;
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

int main(int argc, char **argv)
{
    uint64_t start_ns = uv_hrtime();
    struct options opt = { .heap_mib = DEFAULT_HEAP_MIB, .log_level = TERN_LOG_INFO };
    static struct linux_backend backend;
    const char *disks[TERN_MAX_BLOCK_DEVICES];
    unsigned disk_count = 0;

    static struct linux_net_opts netopt;
    static struct linux_http_opts httpopt;
    static struct linux_app_opts appopt = { .watchdog_ms = LINUX_WATCHDOG_MS_DEFAULT };
    int c;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (c >= LINUX_HTTP_OPT_TLS_CERT && c <= LINUX_HTTP_OPT_LAST) {
            (void)linux_http_opt(&httpopt, c, optarg);
            continue;
        }
        if (c >= LINUX_APP_OPT_MANIFEST && c <= LINUX_APP_OPT_LAST) {
            if (linux_app_opt(&appopt, c, optarg) != 0)
                return 2;
            continue;
        }
        if (c >= LINUX_NET_OPT_NET && c <= LINUX_NET_OPT_LAST) {
            if (linux_net_opt(&netopt, c, optarg) != 0)
                return 2;
            continue;
        }
        switch (c) {
        case OPT_DISK:
            if (disk_count == TERN_MAX_BLOCK_DEVICES) {
                fprintf(stderr, "tern-linux: at most %d disks\n", TERN_MAX_BLOCK_DEVICES);
                return 2;
            }
            disks[disk_count++] = optarg;
            break;
        case OPT_MEM:
            if (parse_size(optarg, &opt.heap_mib) != 0) {
                fprintf(stderr, "tern-linux: --mem wants a size in MiB, not '%s'\n", optarg);
                return 2;
            }
            break;
        case OPT_LOG:
            if (parse_level(optarg, &opt.log_level) != 0) {
                fprintf(stderr, "tern-linux: --log-level: unknown level '%s'\n", optarg);
                return 2;
            }
            break;
        case OPT_VERSION:
            printf("tern-linux %s\n", TERN_VERSION);
            return 0;
        case 'h':
        case OPT_HELP:
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tern-linux: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    /* Markers and logs must reach a pipe at once, line by line. */
    setvbuf(stdout, NULL, _IONBF, 0);

    if (linux_backend_init(&backend, opt.heap_mib) != 0)
        return 1;
    for (unsigned i = 0; i < disk_count; i++) {
        if (linux_disk_add(&backend, disks[i]) != 0) {
            linux_backend_close(&backend);
            return 1;
        }
    }
    static struct linux_workload workload;
    if (linux_http_check(&httpopt) != 0 || linux_app_check(&workload, &appopt) != 0) {
        linux_backend_close(&backend);
        return 2;
    }
    linux_http_default_forward(&netopt, argc);
    if (linux_net_open(&backend, &netopt) != 0) {
        linux_backend_close(&backend);
        return 1;
    }

    struct tern_config cfg;
    tern_config_default(&cfg);
    cfg.boot_start_ns = start_ns;
    cfg.console_level = opt.log_level;

    static struct tern_os os;
    struct tern_platform plat = linux_platform(&backend);
    if (tern_os_init(&os, &plat, &cfg) != TERN_OK) {
        linux_backend_close(&backend);
        return 1;
    }
    /* Each disk prints TERN_DISK_OK or TERN_DISK_ERROR; a bad disk does
     * not stop the OS. */
    static struct tern_disk mounted_disks[TERN_MAX_BLOCK_DEVICES];
    for (unsigned i = 0; i < disk_count; i++)
        (void)tern_disk_mount(&os, i, &mounted_disks[i]);
    /* What is served: the data volume (core's rule, as on bare metal) of
     * the first mounted disk that has one. */
    static struct tern_disk_data data;
    struct tern_fat *served = NULL;
    for (unsigned i = 0; i < disk_count && !served; i++)
        if (mounted_disks[i].mounted &&
            tern_disk_mount_data(&mounted_disks[i], &data, NULL) == TERN_OK)
            served = data.fs;
    static struct tern_net net;
    static struct tern_tcp tcp;
    int net_up = linux_net_start(&os, &net, &tcp, &netopt);
    static struct linux_http http;
    static struct linux_guard guard;
    bool app = !appopt.off && net_up > 0;
    if (net_up < 0 || (net_up > 0 && linux_http_start(&http, &os, &net, &tcp, served, &httpopt,
                                                      linux_http_curl_port(&netopt), !app) != 0)) {
        tern_os_finish(&os);
        linux_backend_close(&backend);
        return 1;
    }
    if (app) {
        struct tern_workload_opts wo = {
            .services = httpopt.off ? NULL : &http.svc,
            .net = &net,
            .tcp = &tcp,
            .data = served,
            .boot = disk_count && mounted_disks[0].mounted ? &mounted_disks[0].fs : NULL,
            .ready_fields = httpopt.off ? NULL : linux_http_ready_fields(&http),
            .on_ready = linux_http_hint,
            .arg = &http,
        };
        int refused = linux_app_start(&workload, &os, &appopt, &wo, wo.boot);
        if (refused == 0 && linux_guard_start(&guard, &os, &workload.w, appopt.watchdog_ms) != 0)
            refused = 1;
        if (refused) {
            tern_os_finish(&os);
            linux_backend_close(&backend);
            linux_app_close(&workload);
            return refused;
        }
    }
    int code = tern_os_run(&os);
    if (app)
        linux_guard_stop(&guard);
    (void)tern_disk_unmount_data(&data);
    for (unsigned i = 0; i < disk_count; i++)
        (void)tern_disk_unmount(&mounted_disks[i]);
    tern_os_finish(&os);
    linux_backend_close(&backend);
    linux_app_close(&workload);
    return code;
}
