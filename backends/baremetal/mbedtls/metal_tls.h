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
 * metal_tls_selftest(os, cert, cert_len, key, key_len) runs known-answer
 * tests (SHA-256, AES-128-GCM, ChaCha20-Poly1305), an ECDSA P-256 key
 * generation + sign + verify (+ a tampered hash must fail) on a CTR_DRBG
 * seeded from the platform entropy call, and, when a cert or a key is
 * given (PEM or DER), core/tls's tern_tls_server_init on them (so one
 * without the other fails). The heap must hold as many allocations after
 * as before. Logs one line
 * "tls self-test ok: ..." or "tls self-test FAILED: <what>" and returns
 * TERN_OK or the failure's result (TERN_EIO for a wrong answer or a leak).
 *
 * metal_tls_boot(os) is what kmain calls: metal_tls_init, then the
 * self-test with the certificate and key QEMU passes as fw_cfg files
 * opt/tern/tls-cert and opt/tern/tls-key, when either is there (each at
 * most METAL_TLS_FILE_MAX - 1 bytes; a bigger one is refused, TERN_EINVAL,
 * never cut), so it gates HTTPS from fw_cfg; without them only when the
 * fw_cfg command line says tls_selftest=1. Otherwise no self-test (the
 * ~100 ms of P-256 stays off the boot path) and TERN_OK. Returns the
 * self-test's result.
 *
 * metal_tls_gate(os, esp) runs the self-test (known answers, no server
 * set-up: metal_https_start does that) when it has not passed yet and
 * the ESP holds METAL_TLS_ESP_CERT or METAL_TLS_ESP_KEY, i.e. right before
 * HTTPS from the ESP would start. TERN_OK when it passed or was not
 * needed (esp NULL, no file); the failure otherwise (refuse to boot).
 *
 * metal_tls_read_fwcfg(os, name, &buf) copies fw_cfg file name into a new
 * heap buffer (NUL-terminated; tern_free it, zeroing key material first):
 * its length, 0 when absent (*buf NULL), -1 when larger than
 * METAL_TLS_FILE_MAX - 2 bytes or out of memory (logged).
 *
 * metal_https_start(os, tcp, srv, esp, &started) (https.c) serves srv
 * over TLS on port 443 with core/tls's tern_https_tcp, the certificate
 * and key coming from fw_cfg (opt/tern/tls-cert, opt/tern/tls-key) or,
 * when fw_cfg has neither, from the ESP (METAL_TLS_ESP_CERT/_KEY; esp
 * may be NULL). Neither anywhere: TERN_OK, *started false, HTTPS off
 * (logged). Otherwise TERN_OK with *started true, or the failure (a
 * missing half, an unreadable file, a key that does not match, port 443
 * taken), logged with its reason; the caller should refuse to boot then.
 * Call once; srv and tcp must outlive the machine.
 */
#ifndef TERN_METAL_TLS_H
#define TERN_METAL_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/result.h"

struct tern_os;
struct tern_tcp;
struct tern_http_server;
struct tern_fat;

#define METAL_TLS_FILE_MAX 16384
#define METAL_TLS_ESP_CERT "TERN/TLS/CERT.PEM"
#define METAL_TLS_ESP_KEY "TERN/TLS/KEY.PEM"

void metal_tls_init(struct tern_os *os);
tern_result metal_tls_boot(struct tern_os *os);
tern_result metal_tls_gate(struct tern_os *os, struct tern_fat *esp);
int metal_tls_read_fwcfg(struct tern_os *os, const char *name, char **out);
tern_result metal_https_start(struct tern_os *os, struct tern_tcp *tcp,
                              struct tern_http_server *srv, struct tern_fat *esp,
                              bool *started);
tern_result metal_tls_selftest(struct tern_os *os, const uint8_t *cert, size_t cert_len,
                               const uint8_t *key, size_t key_len);

#endif
