/*
 * Interface: what a normal metal boot serves (see metal.h), the same core
 * pieces tern-linux starts: the disk, the network stack with TCP, DHCP
 * (or a static address from the command line), the HTTP service.
 *
 * metal_services_start() returns 0 when everything runs (TERN_READY
 * printed), or a METAL_HALT_* code after logging, on serial, exactly what
 * is missing; kmain then halts with that code (QEMU status code*2+1):
 *   no virtio-blk                          METAL_HALT_NO_DISK
 *   disk 0 not mountable (TERN_DISK_ERROR) METAL_HALT_BAD_DISK
 *   ESP without EFI/BOOT/BOOTX64.EFI, or
 *   no data volume (tern_disk_mount_data:
 *   no other partition with a FAT volume
 *   that passes its check)                 METAL_HALT_BAD_IMAGE
 *   no virtio-net                          METAL_HALT_NO_NIC
 *   the core refusing to start a service   METAL_HALT_SERVICE
 *
 * The image (scripts/make-image.sh): GPT, an ESP that tern_disk_mount
 * mounts read-only (and this file checks holds the loader), and a second FAT
 * partition, the data partition, whose files the HTTP service serves. Which
 * partition that is, and its check, is core's rule (tern_disk_mount_data),
 * the same as tern-linux's.
 */
#include <string.h>

#include "metal.h"
#include "mbedtls/metal_tls.h"
#include "tern/dhcp.h"
#include "tern/fmt.h"
#include "tern/disk.h"
#include "tern/fat.h"
#include "tern/http.h"
#include "tern/http_fat.h"
#include "tern/http_tcp.h"
#include "tern/net.h"
#include "tern/os.h"
#include "tern/services.h"
#include "tern/tcp.h"
#include "tern/workload.h"

/* The machine's one set of services (like os_instance in main.c). The
 * HTTP connection pool and its socket slots (~2 MB for 64 connections:
 * each has a 16 KiB output buffer and a 4 KiB receive buffer) come from
 * the heap, not BSS: the loader zeroes BSS, and every first touch of a
 * fresh guest page costs a host page fault under QEMU (issue #6). The
 * heap does not zero; the core initialises only what it reads (a
 * connection's state, timer and owner; a slot's bookkeeping when an
 * accept first reaches it), so a boot touches a few pages of the pool. */
static struct {
    struct tern_disk disk;
    struct tern_disk_data data;
    struct tern_net net;
    struct tern_tcp tcp;
    struct tern_dhcp dhcp;
    struct tern_services http;               /* pool and slots from the heap */
    struct tern_manifest manifest;       /* resolved */
    const void *app;                     /* its app file */
    size_t app_len;
    const char *source;
    struct tern_workload workload;
} s;


/* Logs when the lease arrives: with TERN_READY's line, the boot figures
 * of bench/metal read the guest clock from these. */
static void on_dhcp(struct tern_dhcp *d, enum tern_dhcp_event ev, void *arg)
{
    (void)d;
    struct tern_os *os = arg;
    if (ev == TERN_DHCP_EV_BOUND)
        tern_log(os, TERN_LOG_INFO, "metal", "network up at %llu ms after UEFI entry (dhcp)",
                 (unsigned long long)tern_now_ms(os));
}

static int refuse(struct tern_os *os, int code, const char *what)
{
    tern_log(os, TERN_LOG_ERROR, "metal", "%s: halting with code %d", what, code);
    return code;
}

/* The hello app, built into the kernel (apps/meson.build): the workload
 * when the boot volume has no /tern/manifest.json. */
extern const unsigned char tern_builtin_app[], tern_builtin_app_end[];

/* The workload named by the ESP's /tern/manifest.json, else the built-in
 * one (core's rule), into s.manifest and s.app: before the network, which
 * the manifest may configure. 0, or METAL_HALT_WORKLOAD. */
static int resolve_workload(struct tern_os *os)
{
    struct tern_workload_source src = {
        .boot = &s.disk.fs,
        .builtin_app = tern_builtin_app,
        .builtin_len = (size_t)(tern_builtin_app_end - tern_builtin_app),
    };
    if (tern_workload_resolve(os, &src, &s.manifest, &s.app, &s.app_len, &s.source) != TERN_OK)
        return refuse(os, METAL_HALT_WORKLOAD, "the workload's manifest was refused");
    return 0;
}

/* The address: the command line's (ip=), else the manifest's static one,
 * else DHCP. */
static tern_result start_address(struct tern_os *os, const struct metal *m)
{
    uint32_t ip, mask, gw;
    tern_workload_address(&s.manifest, m->cmdline.ip, m->cmdline.mask, m->cmdline.gw, &ip, &mask,
                          &gw);
    if (ip == 0)
        return tern_dhcp_start(&s.dhcp, &s.net, on_dhcp, os); /* TERN_NET_UP when bound */
    tern_result r = tern_net_set_addr(&s.net, 0, ip, mask, gw);
    return r == TERN_OK ? tern_net_announce(&s.net, 0, "static") : r;
}

/* Starts the resolved workload; it prints TERN_READY. 0, or a
 * METAL_HALT_* code. */
static int start_workload(struct tern_os *os, const struct metal *m, bool https)
{
    struct tern_workload_opts wo = {
        .source = s.source, .app_file = s.app, .app_len = s.app_len,
        .services = &s.http, .net = &s.net, .tcp = &s.tcp,
        .dhcp = s.dhcp.net ? &s.dhcp : NULL,
        .data = s.data.fs, .boot = &s.disk.fs,
        .ready_fields = https ? "https=443 files=disk" : "files=disk",
        .keep_log_level = m->cmdline.log_set,
    };
    if (tern_workload_start(&s.workload, os, &s.manifest, &wo) != TERN_OK)
        return refuse(os, METAL_HALT_WORKLOAD, "the workload did not start");
    return 0;
}

int metal_services_start(struct tern_os *os, struct metal *m)
{
    if (m->nblk == 0)
        return refuse(os, METAL_HALT_NO_DISK,
                      "no disk (virtio-blk): Tern boots from and serves its own image");
    uint64_t t0 = tern_now_ns(os);
    /* The ESP read-only: Tern only looks up the loader and reads the TLS
     * certificate and key there, so its mount check need not read the
     * whole FAT for lost clusters (docs/storage.md). */
    static const struct tern_disk_opts esp_opts = { .read_only = true };
    if (tern_disk_mount_opts(os, 0, &s.disk, &esp_opts) != TERN_OK || !s.disk.mounted)
        return refuse(os, METAL_HALT_BAD_DISK, "disk 0 has no usable FAT volume");
    struct tern_fat_stat st;
    if (s.disk.has_gpt &&
        tern_fat_stat(&s.disk.fs, "EFI/BOOT/BOOTX64.EFI", &st) != TERN_OK)
        return refuse(os, METAL_HALT_BAD_IMAGE,
                      "the ESP of disk 0 has no EFI/BOOT/BOOTX64.EFI: not a Tern image");
    uint64_t t_esp = tern_now_ns(os), reads_esp = s.disk.dev.stats.reads;
    if (tern_disk_mount_data(&s.disk, &s.data, NULL) != TERN_OK)
        return refuse(os, METAL_HALT_BAD_IMAGE,
                      "disk 0 has no data partition with a FAT volume (the site)");
    if (tern_fat_stat(s.data.fs, "index.html", &st) != TERN_OK)
        tern_log(os, TERN_LOG_WARN, "metal", "the data partition has no index.html");

    int halt = resolve_workload(os);
    if (halt)
        return halt;
    uint64_t t_data = tern_now_ns(os), reads_data = s.disk.dev.stats.reads;
    if (m->nnet == 0)
        return refuse(os, METAL_HALT_NO_NIC, "no network device (virtio-net): nothing to serve on");
    /* TCP's pool within a quarter of the heap: 1024 connections and a
     * 4 MiB area for growing buffers from -m 256M on, fewer below, so
     * the app's arena still fits at the least memory (docs/tcp.md) */
    struct tern_heap_stats hs;
    tern_heap_get_stats(&os->heap, &hs);
    struct tern_tcp_config tcfg;
    tern_tcp_config_default(&tcfg);
    tern_tcp_config_fit(&tcfg, hs.size / 4);
    tern_result r = tern_net_init(&s.net, os, NULL);
    if (r == TERN_OK)
        r = tern_net_attach_tcp(&s.net, &s.tcp, &tcfg);
    if (r == TERN_OK)
        r = start_address(os, m);
    if (r != TERN_OK) {
        /* why, and the heap it had (at -m 64M: enomem, 7 MiB) */
        char what[96];
        tern_snprintf(what, sizeof what, "the network stack did not start (%s, heap %zu MiB)",
                      tern_result_name(r), m->heap_size / (1024 * 1024));
        return refuse(os, METAL_HALT_SERVICE, what);
    }
    uint64_t t_net = tern_now_ns(os);

    struct tern_services_opts so = {
        .backend = "baremetal", .net = &s.net, .tcp = &s.tcp, .files = s.data.fs,
    };
    if (tern_services_start(&s.http, os, &so) != TERN_OK)
        return refuse(os, METAL_HALT_SERVICE, "cannot serve HTTP on port 80");
    uint64_t t_http = tern_now_ns(os);
    bool https = false;   /* port 443 when a certificate is given (mbedtls/https.c) */
    if (metal_tls_gate(os, &s.disk.fs) != TERN_OK)   /* crypto self-test before HTTPS */
        return refuse(os, METAL_HALT_SERVICE, "HTTPS: the TLS crypto self-test failed");
    if (metal_https_start(os, &s.tcp, &s.http.srv, &s.disk.fs, &https) != TERN_OK)
        return refuse(os, METAL_HALT_SERVICE, "HTTPS: the certificate or key given is not usable");
    uint64_t t_up = tern_now_ns(os);
    halt = start_workload(os, m, https);
    if (halt)
        return halt;
    tern_log(os, TERN_LOG_INFO, "metal",
             "boot stages (us): disk mount+check %llu (%llu device reads), data volume %llu "
             "(%llu reads), network+http %llu (net+tcp %llu, http %llu, tls %llu, %llu reads)",
             (unsigned long long)((t_esp - t0) / 1000), (unsigned long long)reads_esp,
             (unsigned long long)((t_data - t_esp) / 1000),
             (unsigned long long)(reads_data - reads_esp),
             (unsigned long long)((t_up - t_data) / 1000),
             (unsigned long long)((t_net - t_data) / 1000),
             (unsigned long long)((t_http - t_net) / 1000),
             (unsigned long long)((t_up - t_http) / 1000),
             (unsigned long long)(s.disk.dev.stats.reads - reads_data));
    tern_log(os, TERN_LOG_INFO, "metal", "ready at %llu ms after UEFI entry%s",
             (unsigned long long)tern_now_ms(os), m->cmdline.ip ? " (static address, network up)" : "");
    return 0;
}

struct tern_workload *metal_services_workload(void)
{
    return s.workload.os ? &s.workload : NULL;
}

void metal_services_stop(void)
{
    (void)tern_disk_unmount_data(&s.data);
    if (s.disk.mounted)
        (void)tern_disk_unmount(&s.disk);
}
