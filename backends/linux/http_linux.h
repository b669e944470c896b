/*
 * Interface: the HTTP (and HTTPS) service of tern-linux. Options:
 *   --tls-cert FILE --tls-key FILE   PEM files; with both, HTTPS on 443
 *   --no-http                        do not start the HTTP service
 * linux_http_start() runs after the network stack is up: it serves
 * /healthz, /status and, when a disk has a data volume
 * (tern_disk_mount_data), its files on port 80
 * (and 443), prints TERN_READY http=80 [https=443] and a line telling the
 * user where to point curl.
 */
#ifndef TERN_LINUX_HTTP_H
#define TERN_LINUX_HTTP_H

#include <stdbool.h>
#include <stdio.h>

#include "tern/services.h"
#ifdef TERN_HAVE_TLS
#include "tern/https_tcp.h"
#include "tern/tls.h"
#endif

struct tern_os;
struct tern_fat;

#define LINUX_HTTPS_CONNS (TERN_SERVICES_HTTP_CONNS / 2)

/* tern-linux's HTTP state (main owns it): the core's service set, and
 * HTTPS when --tls-cert/--tls-key were given. */
struct linux_http {
    struct tern_os *os;
    struct tern_services svc;
    unsigned curl_port;
    bool https;
    char ready_fields[64];
#ifdef TERN_HAVE_TLS
    struct tern_tls_server tls;
    struct tern_https_tcp https_listener;
    struct tern_https_tcp_slot https_slots[LINUX_HTTPS_CONNS];
#endif
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

/* Starts the service on ln's TCP into h; with announce, prints TERN_READY
 * once net0 has its address (without: a workload prints it). ln also
 * gives /status its addresses, counters and hostname. files: the data
 * volume to serve, or NULL. curl_port: the host port forwarded to 80 (for
 * the hint), 0 for none. pkg: the boot's package state for /status, or
 * NULL. 0, or -1 (a message was printed). */
struct tern_boot_pkg;
int linux_http_start(struct linux_http *h, struct tern_os *os, struct linux_network *ln,
                     struct tern_fat *files, const struct linux_http_opts *o,
                     unsigned curl_port, bool announce, struct tern_boot_pkg *pkg);

/* The fields TERN_READY adds for this service ("https=443 files=disk"). */
const char *linux_http_ready_fields(struct linux_http *h);

/* Logs where to point curl (arg: the struct linux_http). */
void linux_http_hint(void *arg);

#endif
