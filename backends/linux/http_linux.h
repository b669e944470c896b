/*
 * Interface: the HTTP (and HTTPS) service of tern-linux. Options:
 *   --tls-cert FILE --tls-key FILE   PEM files; with both, HTTPS with them:
 *                                    on the manifest's https endpoints
 *                                    (over their own files), else on 443
 *   --no-http                        do not start the HTTP service
 * linux_http_start() runs after the network stack is up: it serves
 * /healthz, /status and, when a disk has a data volume
 * (tern_disk_mount_data), its files on port 80
 * (and over HTTPS: core's tern_boot_https_start), prints TERN_READY
 * http=80 [https=PORTS] without a workload and a line telling the user
 * where to point curl.
 */
#ifndef TERN_LINUX_HTTP_H
#define TERN_LINUX_HTTP_H

#include <stdbool.h>
#include <stdio.h>

#include "tern/boot_https.h"
#include "tern/services.h"

struct tern_os;
struct tern_fat;

/* tern-linux's HTTP state (main owns it): the core's service set, and
 * core's HTTPS (the manifest's https endpoints, or --tls-cert/--tls-key). */
struct linux_http {
    struct tern_os *os;
    struct tern_services svc;
    struct tern_boot_https https;
    unsigned curl_port;
    char ready_fields[64];
};

enum {
    LINUX_HTTP_OPT_TLS_CERT = 1200,
    LINUX_HTTP_OPT_TLS_KEY,
    LINUX_HTTP_OPT_NO_HTTP,
    LINUX_HTTP_OPT_LAST = LINUX_HTTP_OPT_NO_HTTP,
};

#define LINUX_HTTP_LONG_OPTS                                              \
    { "tls-cert", required_argument, NULL, LINUX_HTTP_OPT_TLS_CERT },     \
    { "tls-key", required_argument, NULL, LINUX_HTTP_OPT_TLS_KEY },       \
    { "no-http", no_argument, NULL, LINUX_HTTP_OPT_NO_HTTP }

struct linux_http_opts {
    const char *tls_cert, *tls_key;
    bool off;
};

void linux_http_usage(FILE *to);

/* Takes one parsed option. 0, or -1 with a message on stderr. */
int linux_http_opt(struct linux_http_opts *o, int code, const char *arg);

/* Checks the options before anything starts: both TLS files or neither,
 * and both readable. 0, or -1 with a clear message on stderr. */
int linux_http_check(const struct linux_http_opts *o);

struct linux_net_opts;

/* With no command-line arguments at all (argc 1, the `make run` case) and
 * no forward given, forwards 127.0.0.1:8080 to port 80 over slirp, unless
 * that port is taken on this host (then a warning, and no forward). */
void linux_http_default_forward(struct linux_net_opts *n, int argc);

/* The host port of the first --hostfwd to guest port 80, or 0. */
unsigned linux_http_curl_port(const struct linux_net_opts *n);

struct linux_network;
struct tern_manifest;
struct tern_workload_files;
struct tern_boot_pkg;

/* The resolved workload, for HTTPS (its https endpoints' files) and
 * /status (its package). */
struct linux_http_workload {
    const struct tern_manifest *m;
    const struct tern_workload_files *files;
    const char *source;
    struct tern_boot_pkg *pkg;
};

/* Starts the service on ln's TCP into h, then core's HTTPS
 * (tern_boot_https_start: wl's https endpoints, --tls-cert/--tls-key over
 * them). Without a workload (wl NULL) it prints TERN_READY once net0 has
 * its address (with one, the workload prints it). ln also gives /status
 * its addresses, counters and hostname. files: the data volume to serve,
 * or NULL. curl_port: the host port forwarded to 80 (for the hint), 0 for
 * none. 0; 1 (a message was printed); TERN_WORKLOAD_HALT_REFUSED (the
 * workload's certificate or key refused, TERN_APP_REFUSED printed). */
int linux_http_start(struct linux_http *h, struct tern_os *os, struct linux_network *ln,
                     struct tern_fat *files, const struct linux_http_opts *o,
                     unsigned curl_port, const struct linux_http_workload *wl);

/* The fields TERN_READY adds for this service after http= and https=
 * ("files=disk"). */
const char *linux_http_ready_fields(struct linux_http *h);

/* Logs where to point curl (arg: the struct linux_http). */
void linux_http_hint(void *arg);

#endif
