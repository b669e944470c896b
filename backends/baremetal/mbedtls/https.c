/*
 * Interface: see metal_tls.h (metal_tls_given_read): where a machine's own
 * certificate and key come from. Serving HTTPS with them is core's
 * (core/boot/https.c).
 */
#include <string.h>

#include "../metal.h"
#include "metal_tls.h"
#include "tern/fat.h"
#include "tern/os.h"

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

int metal_tls_given_read(struct tern_os *os, struct tern_fat *esp, struct metal_tls_given *g)
{
    memset(g, 0, sizeof *g);
    const char *from = "fw_cfg";
    int cn = metal_tls_read_fwcfg(os, "opt/tern/tls-cert", &g->cert);
    int kn = cn < 0 ? -1 : metal_tls_read_fwcfg(os, "opt/tern/tls-key", &g->key);
    if (cn == 0 && kn == 0) {
        from = "ESP";
        cn = read_esp(os, esp, METAL_TLS_ESP_CERT, &g->cert);
        kn = cn < 0 ? -1 : read_esp(os, esp, METAL_TLS_ESP_KEY, &g->key);
    }
    if (cn < 0 || kn < 0) {
        metal_tls_given_free(os, g);
        return -1;
    }
    g->have = cn > 0 || kn > 0;
    g->pair = (struct tern_tls_pair){ (const uint8_t *)g->cert, (size_t)cn,
                                      (const uint8_t *)g->key, (size_t)kn, from };
    return 0;
}

void metal_tls_given_free(struct tern_os *os, struct metal_tls_given *g)
{
    if (g->key) {
        memset(g->key, 0, METAL_TLS_FILE_MAX);   /* key material */
        tern_free(os, g->key);
    }
    if (g->cert)
        tern_free(os, g->cert);
    g->key = g->cert = NULL;
    g->have = false;
}
