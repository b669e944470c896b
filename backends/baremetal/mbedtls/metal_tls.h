/*
 * Interface: mbedTLS and core/tls on the bare-metal backend (glue.c).
 *
 * metal_tls_init(os) routes mbedTLS's calloc/free to os's core heap and
 * its clock to os's monotonic clock. mbedTLS keeps these hooks in its own
 * globals (mbedtls_platform_set_calloc_free / _set_time): that is
 * compatible with "no mutable globals in core" because the hooks and the
 * instance pointer live here, in the bare-metal backend, which runs
 * exactly one instance per machine. Call it once, after tern_os_init and
 * before any mbedTLS use. (The hosted build keeps libc's calloc.)
 *
 * metal_tls_boot(os, &passed) is what kmain calls: metal_tls_init, then
 * core's crypto self-test (tern_tls_selftest, include/tern/tls.h) with
 * the certificate and key QEMU passes as fw_cfg files opt/tern/tls-cert
 * and opt/tern/tls-key, when either is there (each at most
 * METAL_TLS_FILE_MAX - 1 bytes; a bigger one is refused, TERN_EINVAL,
 * never cut), so it checks a fw_cfg pair before anything else; without
 * them only when the fw_cfg command line says tls_selftest=1. Otherwise
 * no self-test (the ~100 ms of P-256 stays off the boot path: core runs
 * it later, right before HTTPS, tern_boot_https_start) and TERN_OK.
 * Returns the self-test's result; passed says whether one ran and passed.
 *
 * metal_tls_read_fwcfg(os, name, &buf) copies fw_cfg file name into a new
 * heap buffer (NUL-terminated; tern_free it, zeroing key material first):
 * its length, 0 when absent (*buf NULL), -1 when larger than
 * METAL_TLS_FILE_MAX - 2 bytes or out of memory (logged).
 *
 * metal_tls_given_read(os, esp, &g) (https.c) reads the certificate and
 * key this machine was given, for core's HTTPS (include/tern/boot_https.h),
 * where they apply over the workload manifest's: fw_cfg's
 * opt/tern/tls-cert and opt/tern/tls-key or, when fw_cfg has neither, the
 * ESP's METAL_TLS_ESP_CERT and METAL_TLS_ESP_KEY (esp may be NULL). 0
 * with g->have false when neither is anywhere; 0 with g->have and g->pair
 * (a missing half has length 0: core refuses it); -1 when a file is
 * unreadable or too big (logged). metal_tls_given_free zeroes the key and
 * frees both.
 */
#ifndef TERN_METAL_TLS_H
#define TERN_METAL_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/boot_https.h"
#include "tern/result.h"

struct tern_os;
struct tern_fat;

#define METAL_TLS_FILE_MAX 16384
#define METAL_TLS_ESP_CERT "TERN/TLS/CERT.PEM"
#define METAL_TLS_ESP_KEY "TERN/TLS/KEY.PEM"

struct metal_tls_given {
    bool have;
    char *cert, *key;                    /* heap, or NULL */
    struct tern_tls_pair pair;           /* points into cert and key */
};

void metal_tls_init(struct tern_os *os);
tern_result metal_tls_boot(struct tern_os *os, bool *passed);
int metal_tls_read_fwcfg(struct tern_os *os, const char *name, char **out);
int metal_tls_given_read(struct tern_os *os, struct tern_fat *esp, struct metal_tls_given *g);
void metal_tls_given_free(struct tern_os *os, struct metal_tls_given *g);

#endif
