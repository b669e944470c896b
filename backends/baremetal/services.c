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
 *   no data partition with a FAT volume    METAL_HALT_BAD_IMAGE
 *   no virtio-net                          METAL_HALT_NO_NIC
 *   the core refusing to start a service   METAL_HALT_SERVICE
 *
 * The image (scripts/make-image.sh): GPT, an ESP that tern_disk_mount
 * mounts read-only (and this file checks holds the loader), and a second FAT
 * partition, the data partition, whose files the HTTP service serves.
 */
#include <string.h>

#include "metal.h"
#include "mbedtls/metal_tls.h"
#include "tern/dhcp.h"
#include "tern/fmt.h"
#include "tern/disk.h"
#include "tern/fat.h"
#include "tern/gpt.h"
#include "tern/http.h"
#include "tern/http_fat.h"
#include "tern/http_tcp.h"
#include "tern/net.h"
#include "tern/os.h"
#include "tern/tcp.h"

#define HTTP_CONNS 64

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
    struct tern_fat data;
    bool data_mounted;
    struct tern_net net;
    struct tern_tcp tcp;
    struct tern_dhcp dhcp;
    struct tern_http_fat files;
    struct tern_http_service svc;
    struct tern_http_net_status status;      /* /status: addresses, tcp, net */
    struct tern_http_server srv;
    struct tern_http_conn *conns;            /* [HTTP_CONNS], heap */
    struct tern_http_tcp listener;
    struct tern_http_tcp_slot *slots;        /* [HTTP_CONNS], heap */
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

/* The data partition: the first GPT partition other than the one
 * mounted (the ESP) that holds a FAT volume. */
static bool mount_data(struct tern_os *os)
{
    if (!s.disk.has_gpt)
        return false;
    for (unsigned i = 0; i < s.disk.gpt.count; i++) {
        const struct tern_gpt_part *p = &s.disk.gpt.parts[i];
        if (p->index + 1 == s.disk.part)
            continue;
        tern_result r = tern_fat_mount(&s.data, &s.disk.dev, p->first_lba,
                                       p->last_lba - p->first_lba + 1, false);
        if (r == TERN_OK) {
            /* What is served gets the same whole-volume check as the ESP
             * (cross-linked clusters would serve one file's bytes as
             * another's): a volume that fails it is not served. */
            size_t bl = ((size_t)s.data.clusters + 2 + 7) / 8;
            uint8_t *bitmap = tern_alloc(os, bl);
            if (bitmap == NULL) {
                tern_log(os, TERN_LOG_WARN, "metal",
                         "partition %u: no memory for the check's %zu-byte bitmap", p->index + 1,
                         bl);
                (void)tern_fat_unmount(&s.data);
                continue;
            }
            uint32_t lost = 0;
            r = tern_fat_check(&s.data, bitmap, bl, &lost);
            tern_free(os, bitmap);
            if (r != TERN_OK) {
                tern_log(os, TERN_LOG_WARN, "metal", "partition %u fails its check: %s",
                         p->index + 1, s.data.reason ? s.data.reason : tern_result_name(r));
                (void)tern_fat_unmount(&s.data);
                continue;
            }
            tern_log(os, TERN_LOG_INFO, "metal",
                     "data partition %u (%s) mounted and checked (%u lost clusters), %s",
                     p->index + 1, p->name, lost, "serving its files");
            return true;
        }
        tern_log(os, TERN_LOG_WARN, "metal", "partition %u: no FAT volume (%s)", p->index + 1,
                 s.data.reason ? s.data.reason : "?");
    }
    return false;
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
    s.data_mounted = mount_data(os);
    if (!s.data_mounted)
        return refuse(os, METAL_HALT_BAD_IMAGE,
                      "disk 0 has no data partition with a FAT volume (the site)");
    if (tern_fat_stat(&s.data, "index.html", &st) != TERN_OK)
        tern_log(os, TERN_LOG_WARN, "metal", "the data partition has no index.html");

    uint64_t t_data = tern_now_ns(os), reads_data = s.disk.dev.stats.reads;
    if (m->nnet == 0)
        return refuse(os, METAL_HALT_NO_NIC, "no network device (virtio-net): nothing to serve on");
    tern_result r = tern_net_init(&s.net, os, NULL);
    if (r == TERN_OK)
        r = tern_net_attach_tcp(&s.net, &s.tcp, NULL);
    if (r == TERN_OK && m->cmdline.ip != 0) {
        r = tern_net_set_addr(&s.net, 0, m->cmdline.ip, m->cmdline.mask, m->cmdline.gw);
        if (r == TERN_OK)
            r = tern_net_announce(&s.net, 0, "static");
    } else if (r == TERN_OK) {
        r = tern_dhcp_start(&s.dhcp, &s.net, on_dhcp, os); /* TERN_NET_UP when bound */
    }
    if (r != TERN_OK) {
        /* why, and the heap it had (at -m 64M: enomem, 7 MiB) */
        char what[96];
        tern_snprintf(what, sizeof what, "the network stack did not start (%s, heap %zu MiB)",
                      tern_result_name(r), m->heap_size / (1024 * 1024));
        return refuse(os, METAL_HALT_SERVICE, what);
    }
    uint64_t t_net = tern_now_ns(os);

    s.conns = tern_alloc(os, HTTP_CONNS * sizeof *s.conns);
    s.slots = tern_alloc(os, HTTP_CONNS * sizeof *s.slots);
    if (s.conns == NULL || s.slots == NULL)
        return refuse(os, METAL_HALT_SERVICE, "no memory for the HTTP connection pool");
    tern_http_fat_init(&s.files, &s.data);
    s.status = (struct tern_http_net_status){ &s.net, &s.tcp };
    tern_http_service_init(&s.svc, os, "baremetal", &tern_http_fat_ops, &s.files,
                           tern_http_net_status, &s.status);
    r = tern_http_server_init(&s.srv, os, NULL, s.conns, HTTP_CONNS, s.svc.routes,
                              tern_http_service_route_count(&s.svc));
    if (r == TERN_OK)
        r = tern_http_tcp_start(&s.listener, &s.tcp, &s.srv, 80, s.slots, HTTP_CONNS);
    if (r != TERN_OK)
        return refuse(os, METAL_HALT_SERVICE, "cannot listen on port 80");
    uint64_t t_http = tern_now_ns(os);
    bool https = false;   /* port 443 when a certificate is given (mbedtls/https.c) */
    if (metal_tls_gate(os, &s.disk.fs) != TERN_OK)   /* crypto self-test before HTTPS */
        return refuse(os, METAL_HALT_SERVICE, "HTTPS: the TLS crypto self-test failed");
    if (metal_https_start(os, &s.tcp, &s.srv, &s.disk.fs, &https) != TERN_OK)
        return refuse(os, METAL_HALT_SERVICE, "HTTPS: the certificate or key given is not usable");
    tern_marker(os, "TERN_READY", "http=80%s files=disk", https ? " https=443" : "");
    uint64_t t_up = tern_now_ns(os);
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

void metal_services_stop(void)
{
    if (s.data_mounted)
        (void)tern_fat_unmount(&s.data);
    if (s.disk.mounted)
        (void)tern_disk_unmount(&s.disk);
}
