/*
 * Interface: see metal_tls.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mbedtls/platform.h"
#include "mbedtls/platform_time.h"

#include "../metal.h"
#include "metal_tls.h"
#include "tern/os.h"
#include "tern/tls.h"

/* The machine's one instance, for mbedTLS's global hooks (metal_tls.h). */
static struct tern_os *hook_os;

static void *hook_calloc(size_t n, size_t size)
{
    return tern_calloc(hook_os, n, size);
}

static void hook_free(void *p)
{
    if (p)
        tern_free(hook_os, p);
}

static mbedtls_time_t hook_time(mbedtls_time_t *out)
{
    mbedtls_time_t t = (mbedtls_time_t)(tern_now_ns(hook_os) / 1000000000u);
    if (out)
        *out = t;
    return t;
}

/* mbedtls_snprintf (tern_mbedtls_config.h): musl's formatter. */
int tern_mbedtls_snprintf(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

void metal_tls_init(struct tern_os *os)
{
    hook_os = os;
    mbedtls_platform_set_calloc_free(hook_calloc, hook_free);
    mbedtls_platform_set_time(hook_time);
}

int metal_tls_read_fwcfg(struct tern_os *os, const char *name, char **out)
{
    bool present = false;
    char *buf = tern_alloc(os, METAL_TLS_FILE_MAX);
    *out = NULL;
    if (!buf)
        return -1;
    int n = fwcfg_read_file(name, buf, METAL_TLS_FILE_MAX, &present);
    if (n <= 0) {
        tern_free(os, buf);
        return 0;
    }
    if (n >= METAL_TLS_FILE_MAX - 1) {
        tern_log(os, TERN_LOG_ERROR, "tls", "fw_cfg %s: larger than %u bytes, refused", name,
                 (unsigned)(METAL_TLS_FILE_MAX - 2));
        tern_free(os, buf);
        return -1;
    }
    *out = buf;
    return n;
}

/* tls_selftest=1 on the fw_cfg command line (kmain parses the same file
 * into its own struct; reading it again here keeps the decision in this
 * file). Absent or unreadable: false. */
static bool cmdline_asks_selftest(void)
{
    char text[TERN_METAL_CMDLINE_MAX];
    bool present = false;
    int n = fwcfg_read_file("opt/tern/cmdline", text, sizeof text, &present);
    struct tern_metal_cmdline c;
    tern_metal_cmdline_parse(&c, text, n > 0 ? (size_t)n : 0);
    return c.tls_selftest;
}

tern_result metal_tls_boot(struct tern_os *os, bool *passed)
{
    *passed = false;
    metal_tls_init(os);
    char *cert = NULL, *key = NULL;
    int cn = metal_tls_read_fwcfg(os, "opt/tern/tls-cert", &cert);
    int kn = cn < 0 ? 0 : metal_tls_read_fwcfg(os, "opt/tern/tls-key", &key);
    tern_result r = TERN_EINVAL;
    if (cn == 0 && kn == 0 && !cmdline_asks_selftest())
        r = TERN_OK; /* no HTTPS from fw_cfg: core gates HTTPS later (boot_https.h) */
    else if (cn >= 0 && kn >= 0) {
        r = tern_tls_selftest(os, (const uint8_t *)cert, cert ? (size_t)cn : 0,
                              (const uint8_t *)key, key ? (size_t)kn : 0, "no certificate given");
        *passed = r == TERN_OK;
    }
    if (key) {
        memset(key, 0, (size_t)kn);          /* key material */
        tern_free(os, key);
    }
    if (cert)
        tern_free(os, cert);
    return r;
}
