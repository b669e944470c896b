/*
 * Interface: HTTPS, once for every backend (core/boot/https.c). Given the
 * resolved manifest, tern_boot_https_start() serves the OS's HTTP server
 * (its routes: the OS's and the app's) over TLS on each https endpoint:
 *
 *   struct tern_boot_https h;                    // caller-owned, lives with the OS
 *   struct tern_boot_https_opts o = { .m = &m, .files = &files, .source = source,
 *                                     .services = &svc, .given = NULL };
 *   tern_result r = tern_boot_https_start(&h, os, &o);
 *   ... tern_workload_opts.https = &h (TERN_READY's https= field) ...
 *
 * Where each endpoint's certificate and key come from: the files its
 * manifest names ("cert", "key": read from the workload's own files, the
 * package's or the boot volume's /tern, tern_workload_read_file), unless
 * the backend was given a pair (tern-linux --tls-cert/--tls-key; metal:
 * fw_cfg, else the ESP), which then applies over the manifest's, to every
 * https endpoint; with a given pair and no https endpoint, HTTPS is on
 * port 443 (as before manifests had endpoints). Neither: HTTPS off, said
 * on one INFO line. Each listener is logged "https on port N (certificate
 * and key from WHERE)", WHERE saying which.
 *
 * Before the first server is set up the crypto self-test runs
 * (tern_tls_selftest, known answers only) unless o->selftest_passed; a
 * failure refuses HTTPS.
 *
 * /status gains "https": an array of {"port","endpoint","from",
 * "handshakes","handshake_failures","resumed"} (empty when off), ahead
 * of what the services' status provider gave before.
 *
 * Memory: each listener (its TLS server and TERN_BOOT_HTTPS_CONNS
 * connection slots, about 530 KiB) comes from the instance heap only
 * when it runs; the files read are freed (the key zeroed) before this
 * returns.
 */
#ifndef TERN_BOOT_HTTPS_H
#define TERN_BOOT_HTTPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/http.h"
#include "tern/manifest.h"
#include "tern/decls.h"
#include "tern/result.h"

TERN_BEGIN_DECLS

struct tern_os;
struct tern_services;
struct tern_workload_files;

#define TERN_BOOT_HTTPS_CONNS 16
#define TERN_BOOT_TLS_FILE_MAX (64u * 1024)  /* a workload's cert or key file */
#define TERN_BOOT_HTTPS_MAX TERN_MANIFEST_ENDPOINTS_MAX

/* A certificate chain and key a backend was given (PEM or DER bytes,
 * read only during the call). */
struct tern_tls_pair {
    const uint8_t *cert;
    size_t cert_len;
    const uint8_t *key;
    size_t key_len;
    const char *origin;                  /* for the logs: "--tls-cert", "fw_cfg", "ESP" */
};

struct tern_boot_https_opts {
    const struct tern_manifest *m;       /* its https endpoints; NULL: no workload */
    const struct tern_workload_files *files; /* where m's cert and key are; may be NULL */
    const char *source;                  /* the workload's source, for the logs */
    const struct tern_tls_pair *given;   /* over the manifest's; NULL: none given */
    struct tern_services *services;      /* the HTTP server to serve; NULL: none (refused
                                          * for an https endpoint, skipped for given) */
    bool selftest_passed;                /* a crypto self-test already passed */
};

struct tern_boot_https_listener;         /* https.c: TLS server, listener, slots */

struct tern_boot_https {
    struct tern_os *os;
    struct tern_services *services;
    struct tern_boot_https_listener *l[TERN_BOOT_HTTPS_MAX];  /* heap */
    unsigned count;
    bool app_refused;                    /* TERN_APP_REFUSED was printed */
    bool status_hooked;
    tern_http_status_provider more;      /* the /status provider ours runs after */
    void *more_arg;
    char ports[TERN_BOOT_HTTPS_MAX * 6]; /* "443" or "443,8443"; "" when off */
};

/* Starts HTTPS as above. TERN_OK (on every https endpoint, on 443 for a
 * given pair without one, or off); otherwise nothing is left listening
 * and an error line says why:
 *   TERN_EINVAL  a certificate or key refused (not in the workload, too
 *                large, unparseable, a key that does not match), or an
 *                https endpoint without the OS's HTTP server. When it was
 *                the manifest's (no pair given) the workload is refused:
 *                TERN_APP_REFUSED name=NAME reason=... is printed and
 *                h->app_refused set; a given pair's is the backend's.
 *   TERN_EIO     the crypto self-test failed;
 *   TERN_ENOMEM  no room for a listener;
 *   tern_https_tcp_start's failure (TERN_EEXIST: the port is taken). */
tern_result tern_boot_https_start(struct tern_boot_https *h, struct tern_os *os,
                                  const struct tern_boot_https_opts *o);

/* The ports HTTPS listens on, for TERN_READY ("443", "443,8443"), or ""
 * when off. h may be NULL. */
const char *tern_boot_https_ports(const struct tern_boot_https *h);

/* Stops every listener, frees them and unhooks /status. */
void tern_boot_https_stop(struct tern_boot_https *h);

TERN_END_DECLS

#endif
