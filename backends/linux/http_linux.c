/* Interface: see http_linux.h. Hosted glue: reads the PEM files (core
 * never opens a file) and starts the core HTTP service and listeners. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_linux.h"
#include "net_linux.h"
#include "tern/http.h"
#include "tern/http_fat.h"
#include "tern/http_tcp.h"
#include "tern/inet.h"
#include "tern/net.h"
#include "tern/os.h"
#include "tern/tcp.h"
#ifdef TERN_HAVE_TLS
#include "tern/https_tcp.h"
#include "tern/tls.h"
#endif

#define HTTP_CONNS 64
#define PEM_MAX (64 * 1024)

void linux_http_usage(FILE *to)
{
    fprintf(to,
            "\nHTTP (on port 80 once the network is up):\n"
            "  --tls-cert FILE    PEM certificate chain: with --tls-key, HTTPS on port 443\n"
            "  --tls-key FILE     PEM private key matching --tls-cert\n"
            "  --no-http          do not start the HTTP service\n");
}

int linux_http_opt(struct linux_http_opts *o, int code, const char *arg)
{
    switch (code) {
    case LINUX_HTTP_OPT_TLS_CERT:
        o->tls_cert = arg;
        return 0;
    case LINUX_HTTP_OPT_TLS_KEY:
        o->tls_key = arg;
        return 0;
    case LINUX_HTTP_OPT_NO_HTTP:
        o->off = true;
        return 0;
    default:
        return -1;
    }
}

/* Reads a whole small file into a malloc'd buffer. */
static uint8_t *slurp(const char *what, const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "tern-linux: %s %s: %s\n", what, path, strerror(errno));
        return NULL;
    }
    uint8_t *buf = malloc(PEM_MAX);
    *len = buf ? fread(buf, 1, PEM_MAX, f) : 0;
    bool too_big = buf && *len == PEM_MAX && fgetc(f) != EOF;
    fclose(f);
    if (!buf || too_big || *len == 0) {
        fprintf(stderr, "tern-linux: %s %s: %s\n", what, path,
                !buf ? "out of memory" : too_big ? "larger than 64 KiB" : "empty file");
        free(buf);
        return NULL;
    }
    return buf;
}

int linux_http_check(const struct linux_http_opts *o)
{
    if (!o->tls_cert != !o->tls_key) {
        fprintf(stderr, "tern-linux: --tls-cert and --tls-key go together (%s is missing)\n",
                o->tls_cert ? "--tls-key" : "--tls-cert");
        return -1;
    }
    const char *files[2] = { o->tls_cert, o->tls_key };
    const char *names[2] = { "--tls-cert", "--tls-key" };
    for (int i = 0; i < 2 && o->tls_cert; i++) {
        FILE *f = fopen(files[i], "rb");
        if (!f) {
            fprintf(stderr, "tern-linux: %s %s: %s\n", names[i], files[i], strerror(errno));
            return -1;
        }
        fclose(f);
    }
#ifndef TERN_HAVE_TLS
    if (o->tls_cert) {
        fprintf(stderr, "tern-linux: built without TLS (libmbedtls-dev missing)\n");
        return -1;
    }
#endif
    return 0;
}

static bool host_port_free(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

void linux_http_default_forward(struct linux_net_opts *n, int argc)
{
    if (argc != 1 || n->dev_count || n->hostfwd_count)
        return;
    if (!host_port_free(8080)) {
        fprintf(stderr, "tern-linux: 127.0.0.1:8080 is in use; starting without the default "
                        "forward (use --hostfwd tcp:127.0.0.1:PORT-:80)\n");
        return;
    }
    n->hostfwd[n->hostfwd_count++] = "tcp:127.0.0.1:8080-:80";
}

unsigned linux_http_curl_port(const struct linux_net_opts *n)
{
    for (unsigned i = 0; i < n->hostfwd_count; i++) {
        const char *f = n->hostfwd[i];
        const char *dash = strrchr(f, '-');
        if (!dash || strcmp(dash, "-:80") != 0)
            continue;
        const char *colon = dash;
        while (colon > f && colon[-1] != ':')
            colon--;
        unsigned port = (unsigned)strtoul(colon, NULL, 10);
        if (port)
            return port;
    }
    return 0;
}

/* The service's state: one per process (hosted glue). */
static struct tern_http_service svc;
static struct tern_http_server srv;
static struct tern_http_conn conns[HTTP_CONNS];
static struct tern_http_tcp http_listener;
static struct tern_http_tcp_slot http_slots[HTTP_CONNS];
static struct tern_http_fat fat_files;
#ifdef TERN_HAVE_TLS
static struct tern_tls_server tls;
static struct tern_https_tcp https_listener;
static struct tern_https_tcp_slot https_slots[HTTP_CONNS / 2];
#endif

/* /status members from the network stack. */
static struct tern_http_net_status status_src;

/* TERN_READY waits until net0 has an address, so whoever reads it can
 * connect at once. */
struct ready_note {
    struct tern_os *os;
    bool https, files;
    unsigned curl_port;
};
static struct ready_note ready_note;

static void announce_ready(void *arg)
{
    struct ready_note *n = arg;
    tern_marker(n->os, "TERN_READY", "http=80%s files=%s", n->https ? " https=443" : "",
                n->files ? "disk" : "none");
    if (n->curl_port)
        tern_log(n->os, TERN_LOG_INFO, "http", "try: curl http://127.0.0.1:%u/healthz",
                 n->curl_port);
}

int linux_http_start(struct tern_os *os, struct tern_net *net, struct tern_tcp *tcp,
                     struct tern_fat *files, const struct linux_http_opts *o,
                     unsigned curl_port)
{
    if (o->off)
        return 0;
    const struct tern_http_file_ops *fops = NULL;
    if (files) {
        tern_http_fat_init(&fat_files, files);
        fops = &tern_http_fat_ops;
    }
    status_src = (struct tern_http_net_status){ net, tcp };
    tern_http_service_init(&svc, os, "linux", fops, &fat_files, tern_http_net_status,
                           &status_src);
    tern_result r = tern_http_server_init(&srv, os, NULL, conns, HTTP_CONNS, svc.routes,
                                          tern_http_service_route_count(&svc));
    if (r == TERN_OK)
        r = tern_http_tcp_start(&http_listener, tcp, &srv, 80, http_slots, HTTP_CONNS);
    if (r != TERN_OK) {
        tern_log(os, TERN_LOG_ERROR, "http", "cannot listen on port 80: %s",
                 tern_result_name(r));
        return -1;
    }
    bool https = false;
#ifdef TERN_HAVE_TLS
    if (o->tls_cert) {
        size_t cl = 0, kl = 0;
        uint8_t *cert = slurp("--tls-cert", o->tls_cert, &cl);
        uint8_t *key = cert ? slurp("--tls-key", o->tls_key, &kl) : NULL;
        if (!cert || !key) {
            free(cert);
            return -1;
        }
        char err[200];
        r = tern_tls_server_init(&tls, os, cert, cl, key, kl, err, sizeof err);
        memset(key, 0, kl);
        free(key);
        free(cert);
        if (r != TERN_OK) {
            fprintf(stderr, "tern-linux: %s (--tls-cert %s, --tls-key %s)\n", err, o->tls_cert,
                    o->tls_key);
            tern_log(os, TERN_LOG_ERROR, "tls", "%s", err);
            return -1;
        }
        r = tern_https_tcp_start(&https_listener, tcp, &srv, &tls, 443, https_slots,
                                 HTTP_CONNS / 2);
        if (r != TERN_OK) {
            tern_log(os, TERN_LOG_ERROR, "http", "cannot listen on port 443: %s",
                     tern_result_name(r));
            return -1;
        }
        https = true;
    }
#endif
    ready_note = (struct ready_note){ os, https, files != NULL, curl_port };
    linux_net_when_up(announce_ready, &ready_note); /* the listeners are open now */
    return 0;
}
