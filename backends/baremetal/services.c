/*
 * Interface: what a normal metal boot serves (see metal.h), the same core
 * pieces tern-linux starts: the disk, the workload's manifest, the
 * network (core's bring-up, include/tern/boot_net.h: the stack with TCP,
 * the address from ip=/gw= or the manifest, else DHCP), the HTTP service,
 * HTTPS (core's tern_boot_https_start: the manifest's https endpoints,
 * the certificate and key of fw_cfg or the ESP over theirs) and the
 * workload. The state is the machine's (struct metal's svc).
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
 *   the core refusing to start a service
 *   (HTTPS with the given pair included)   METAL_HALT_SERVICE
 *   the workload's own https pair refused  METAL_HALT_WORKLOAD
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
#include "tern/boot_net.h"
#include "tern/disk.h"
#include "tern/fat.h"
#include "tern/fmt.h"
#include "tern/os.h"
#include "tern/services.h"
#include "tern/tcp.h"
#include "tern/workload.h"

/* Core's callback when net0 has an address; logs when the lease arrives:
 * with TERN_READY's line, the boot figures of bench/metal read the guest
 * clock from these. */
static void on_address(void *arg, const struct tern_dhcp_msg *lease)
{
    struct tern_os *os = arg;
    if (lease != NULL)
        tern_log(os, TERN_LOG_INFO, "metal", "network up at %llu ms after %s entry (dhcp)",
                 (unsigned long long)tern_now_ms(os), metal_entry_name(os->plat.ctx));
}

static int refuse(struct tern_os *os, int code, const char *what)
{
    tern_log(os, TERN_LOG_ERROR, "metal", "%s: halting with code %d", what, code);
    return code;
}

/* The hello app, built into the kernel (apps/meson.build): the workload
 * when the boot volume has no /tern/manifest.json. */
extern const unsigned char tern_builtin_app[], tern_builtin_app_end[];

/* The workload (core's rule: the data volume's A/B slot, in development
 * mode the ESP's /tern/manifest.json, else the built-in one), checked
 * against the image's keys and the ESP's /tern/trust, into svc->manifest
 * and svc->app: before the network, which the manifest may configure.
 * mbedTLS allocates from the instance heap (metal_tls_boot ran). 0, or
 * METAL_HALT_WORKLOAD. */
static int resolve_workload(struct tern_os *os, struct metal_services *svc)
{
    tern_boot_pkg_init(&svc->pkg, os);
    tern_boot_trust_builtin(&svc->pkg.trust, os, tern_builtin_keys);
    tern_boot_trust_volume(&svc->pkg.trust, os, &svc->disk.fs);
    (void)tern_boot_pkg_open_slots(&svc->pkg, svc->data.fs);
    struct tern_workload_source src = {
        .pkg = &svc->pkg,
        .boot = &svc->disk.fs,
        .builtin_app = tern_builtin_app,
        .builtin_len = (size_t)(tern_builtin_app_end - tern_builtin_app),
    };
    if (tern_workload_resolve(os, &src, &svc->manifest, &svc->app, &svc->app_len,
                              &svc->source, &svc->files) != TERN_OK)
        return refuse(os, METAL_HALT_WORKLOAD, "the workload's manifest was refused");
    return 0;
}

/* Disk 0's ESP (read-only) and its data partition. 0, or a METAL_HALT_*
 * code. */
static int mount_disk(struct tern_os *os, struct metal_services *svc)
{
    /* The ESP read-only: Tern only looks up the loader and reads the TLS
     * certificate and key there, so its mount check need not read the
     * whole FAT for lost clusters (docs/storage.md). */
    static const struct tern_disk_opts esp_opts = { .read_only = true };
    if (tern_disk_mount_opts(os, 0, &svc->disk, &esp_opts) != TERN_OK || !svc->disk.mounted)
        return refuse(os, METAL_HALT_BAD_DISK, "disk 0 has no usable FAT volume");
    struct tern_fat_stat st;
    if (svc->disk.has_gpt && tern_fat_stat(&svc->disk.fs, "EFI/BOOT/BOOTX64.EFI", &st) != TERN_OK)
        return refuse(os, METAL_HALT_BAD_IMAGE,
                      "the ESP of disk 0 has no EFI/BOOT/BOOTX64.EFI: not a Tern image");
    return 0;
}

/* The data partition (core's rule, tern_disk_mount_data). 0, or
 * METAL_HALT_BAD_IMAGE. */
static int mount_data(struct tern_os *os, struct metal_services *svc)
{
    if (tern_disk_mount_data(&svc->disk, &svc->data, NULL) != TERN_OK)
        return refuse(os, METAL_HALT_BAD_IMAGE,
                      "disk 0 has no data partition with a FAT volume (the site)");
    struct tern_fat_stat st;
    if (tern_fat_stat(svc->data.fs, "index.html", &st) != TERN_OK)
        tern_log(os, TERN_LOG_WARN, "metal", "the data partition has no index.html");
    return 0;
}

/* Core's network bring-up on the virtio-net devices, the address from
 * ip=/gw= or the manifest. 0, or a METAL_HALT_* code. */
static int start_network(struct tern_os *os, struct metal *m)
{
    if (m->nnet == 0 && m->nnet_failed != 0) {   /* a warning above says why (no-memory, ...) */
        char what[96];
        tern_snprintf(what, sizeof what,
                      "no working network device (virtio-net: %u found, none started): "
                      "nothing to serve on", m->nnet_failed);
        return refuse(os, METAL_HALT_NO_NIC, what);
    }
    if (m->nnet == 0)
        return refuse(os, METAL_HALT_NO_NIC, "no network device (virtio-net): nothing to serve on");
    struct tern_boot_net_opts bo = {
        .manifest = &m->svc.manifest,
        .ip = m->cmdline.ip, .mask = m->cmdline.mask, .gw = m->cmdline.gw,
        .on_up = on_address, .arg = os,
    };
    /* TCP's pool within a quarter of the heap: 1024 connections and a
     * 4 MiB area for growing buffers from -m 256M on, fewer below, so
     * the app's arena still fits at the least memory (docs/tcp.md);
     * the manifest's resources.tcp_connections replaces the count */
    struct tern_heap_stats hs;
    tern_heap_get_stats(&os->heap, &hs);
    tern_tcp_config_default(&bo.tcp);
    tern_tcp_config_fit(&bo.tcp, hs.size / 4);
    tern_result r = tern_boot_net_start(&m->svc.network, os, &bo);
    if (r != TERN_OK) {
        /* why, and the heap it had (at -m 64M: enomem, 7 MiB) */
        char what[96];
        tern_snprintf(what, sizeof what, "the network stack did not start (%s, heap %zu MiB)",
                      tern_result_name(r), m->heap_size / (1024 * 1024));
        return refuse(os, METAL_HALT_SERVICE, what);
    }
    return 0;
}

/* Starts the resolved workload; it prints TERN_READY. 0, or a
 * METAL_HALT_* code. */
static int start_workload(struct tern_os *os, struct metal *m)
{
    struct metal_services *svc = &m->svc;
    struct tern_workload_opts wo = {
        .source = svc->source, .app_file = svc->app, .app_len = svc->app_len,
        .services = &svc->http, .network = &svc->network,
        .data = svc->data.fs, .boot = &svc->disk.fs,
        .https = &svc->https,
        .ready_fields = "files=disk",
        .keep_log_level = m->cmdline.log_set,
        .pkg = &svc->pkg,
    };
    if (tern_workload_start(&svc->workload, os, &svc->manifest, &wo) != TERN_OK)
        return refuse(os, METAL_HALT_WORKLOAD, "the workload did not start");
    return 0;
}

/* HTTP on 80. 0, or METAL_HALT_SERVICE. */
static int start_http(struct tern_os *os, struct metal_services *svc)
{
    struct tern_services_opts so = {
        .backend = "baremetal", .network = &svc->network, .files = svc->data.fs,
        .status_more = tern_boot_pkg_status, .status_more_arg = &svc->pkg,
    };
    if (tern_services_start(&svc->http, os, &so) != TERN_OK)
        return refuse(os, METAL_HALT_SERVICE, "cannot serve HTTP on port 80");
    return 0;
}

/* Core's HTTPS: the manifest's https endpoints, with the certificate and
 * key given to the machine (fw_cfg, else the ESP) over theirs, or on 443
 * with that pair alone. 0; METAL_HALT_WORKLOAD when the workload's own
 * pair was refused (TERN_APP_REFUSED); METAL_HALT_SERVICE otherwise. */
static int start_https(struct tern_os *os, struct metal_services *svc)
{
    struct metal_tls_given given;
    if (metal_tls_given_read(os, &svc->disk.fs, &given) != 0)
        return refuse(os, METAL_HALT_SERVICE, "HTTPS: the certificate or key given is not usable");
    struct tern_boot_https_opts ho = {
        .m = &svc->manifest, .files = &svc->files, .source = svc->source,
        .given = given.have ? &given.pair : NULL, .services = &svc->http,
        .selftest_passed = svc->tls_selftest_passed,
    };
    tern_result r = tern_boot_https_start(&svc->https, os, &ho);
    metal_tls_given_free(os, &given);
    if (r == TERN_OK)
        return 0;
    if (svc->https.app_refused)
        return refuse(os, METAL_HALT_WORKLOAD, "the workload's HTTPS certificate or key was refused");
    return refuse(os, METAL_HALT_SERVICE,
                  r == TERN_EIO ? "HTTPS: the TLS crypto self-test failed"
                  : r == TERN_EINVAL ? "HTTPS: the certificate or key given is not usable"
                                     : "HTTPS: cannot listen");
}

int metal_services_start(struct tern_os *os, struct metal *m)
{
    struct metal_services *svc = &m->svc;
    if (m->nblk == 0)
        return refuse(os, METAL_HALT_NO_DISK,
                      "no disk (virtio-blk): Tern boots from and serves its own image");
    uint64_t t0 = tern_now_ns(os);
    int halt = mount_disk(os, svc);
    if (halt)
        return halt;
    uint64_t t_esp = tern_now_ns(os), reads_esp = svc->disk.dev.stats.reads;
    halt = mount_data(os, svc);
    if (!halt)
        halt = resolve_workload(os, svc);
    if (halt)
        return halt;
    uint64_t t_data = tern_now_ns(os), reads_data = svc->disk.dev.stats.reads;
    halt = start_network(os, m);
    if (halt)
        return halt;
    uint64_t t_net = tern_now_ns(os);
    halt = start_http(os, svc);
    uint64_t t_http = tern_now_ns(os);
    if (!halt)
        halt = start_https(os, svc);
    uint64_t t_up = tern_now_ns(os);
    if (!halt)
        halt = start_workload(os, m);
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
             (unsigned long long)(svc->disk.dev.stats.reads - reads_data));
    tern_log(os, TERN_LOG_INFO, "metal", "ready at %llu ms after %s entry%s",
             (unsigned long long)tern_now_ms(os), metal_entry_name(m),
             svc->network.dhcp.net == NULL ? " (static address, network up)" : "");
    return 0;
}

struct tern_workload *metal_services_workload(struct metal *m)
{
    return m != NULL && m->svc.workload.os ? &m->svc.workload : NULL;
}

void metal_services_stop(struct metal *m)
{
    (void)tern_disk_unmount_data(&m->svc.data);
    if (m->svc.disk.mounted)
        (void)tern_disk_unmount(&m->svc.disk);
}
