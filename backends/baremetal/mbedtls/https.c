/*
 * Interface: see metal_tls.h (metal_https_start).
 */
#include <string.h>

#include "../metal.h"
#include "metal_tls.h"
#include "tern/fat.h"
#include "tern/https_tcp.h"
#include "tern/os.h"
#include "tern/tls.h"

#define HTTPS_CONNS 16

/* The machine's one HTTPS listener, from the heap only when HTTPS is on
 * (its 16 slots are ~530 KiB: a boot without a certificate keeps them). */
struct https {
    struct tern_tls_server tls;
    struct tern_https_tcp listener;
    struct tern_https_tcp_slot slots[HTTPS_CONNS];
};

/* One file of the ESP into a heap buffer: its length, 0 when absent, -1
 * when unreadable, too big or out of memory. */
static int read_esp(struct tern_os *os, struct tern_fat *esp, const char *path, char **out)
{
    struct tern_fat_file f;
    *out = NULL;
    if (!esp)
        return 0;
    tern_result r = tern_fat_open(esp, &f, path, TERN_FAT_READ);
    if (r == TERN_ENOENT)
        return 0;
    if (r != TERN_OK) {
        tern_log(os, TERN_LOG_ERROR, "tls", "ESP %s: %s", path, tern_result_name(r));
        return -1;
    }
    char *buf = tern_alloc(os, METAL_TLS_FILE_MAX);
    size_t len = 0, got = 1;
    while (buf && r == TERN_OK && got > 0 && len < METAL_TLS_FILE_MAX)
        r = tern_fat_read(&f, buf + len, METAL_TLS_FILE_MAX - len, &got), len += got;
    (void)tern_fat_close(&f);
    if (!buf || r != TERN_OK || len >= METAL_TLS_FILE_MAX) {
        tern_log(os, TERN_LOG_ERROR, "tls", "ESP %s: %s", path,
                 !buf ? "no memory" : r != TERN_OK ? tern_result_name(r) : "too large, refused");
        if (buf)
            tern_free(os, buf);
        return -1;
    }
    *out = buf;
    return (int)len;
}

tern_result metal_https_start(struct tern_os *os, struct tern_tcp *tcp,
                              struct tern_http_server *srv, struct tern_fat *esp,
                              bool *started)
{
    *started = false;
    char *cert = NULL, *key = NULL;
    const char *from = "fw_cfg";
    int cn = metal_tls_read_fwcfg(os, "opt/tern/tls-cert", &cert);
    int kn = cn < 0 ? -1 : metal_tls_read_fwcfg(os, "opt/tern/tls-key", &key);
    if (cn == 0 && kn == 0) {
        from = "ESP";
        cn = read_esp(os, esp, METAL_TLS_ESP_CERT, &cert);
        kn = cn < 0 ? -1 : read_esp(os, esp, METAL_TLS_ESP_KEY, &key);
    }
    tern_result r = TERN_EINVAL;
    struct https *h = NULL;
    if (cn == 0 && kn == 0) {
        tern_log(os, TERN_LOG_INFO, "tls", "no certificate (fw_cfg or ESP %s): HTTPS off",
                 METAL_TLS_ESP_CERT);
        r = TERN_OK;
    } else if (cn >= 0 && kn >= 0 && !(h = tern_calloc(os, 1, sizeof *h))) {
        tern_log(os, TERN_LOG_ERROR, "tls", "no memory for the HTTPS listener (%u KiB)",
                 (unsigned)(sizeof *h / 1024));
        r = TERN_ENOMEM;
    } else if (cn >= 0 && kn >= 0) {
        char err[128] = "";
        r = tern_tls_server_init(&h->tls, os, (const uint8_t *)cert, (size_t)cn,
                                 (const uint8_t *)key, (size_t)kn, err, sizeof err);
        if (r != TERN_OK)
            tern_log(os, TERN_LOG_ERROR, "tls", "%s certificate and key refused: %s", from, err);
        else if ((r = tern_https_tcp_start(&h->listener, tcp, srv, &h->tls, 443, h->slots,
                                           HTTPS_CONNS)) != TERN_OK) {
            tern_log(os, TERN_LOG_ERROR, "tls", "cannot listen on port 443: %s",
                     tern_result_name(r));
            tern_tls_server_finish(&h->tls);
        } else {
            *started = true;
            tern_log(os, TERN_LOG_INFO, "tls", "https on port 443 (certificate and key from %s)",
                     from);
        }
    }
    if (h && !*started)
        tern_free(os, h);
    if (key) {
        memset(key, 0, (size_t)kn);          /* key material */
        tern_free(os, key);
    }
    if (cert)
        tern_free(os, cert);
    return r;
}
