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
#include "tern/boot_pkg.h"
#include "net_setup.h"
#include "tern/http.h"
#include "tern/inet.h"
#include "tern/net.h"
#include "tern/os.h"
#include "tern/services.h"
#include "tern/tcp.h"
#include "tern/workload.h"

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

/* Core's HTTPS (boot_https.h) on the same server as plain HTTP: the
 * manifest's https endpoints, with the PEM files of --tls-cert/--tls-key
 * over theirs when given. 0, 1, or TERN_WORKLOAD_HALT_REFUSED (the
 * workload's certificate or key refused: TERN_APP_REFUSED printed). */
static int start_https(struct linux_http *h, const struct linux_http_opts *o,
                       const struct linux_http_workload *wl, struct tern_services *svc)
{
    size_t cl = 0, kl = 0;
    uint8_t *cert = NULL, *key = NULL;
    if (o->tls_cert) {
        cert = slurp("--tls-cert", o->tls_cert, &cl);
        key = cert ? slurp("--tls-key", o->tls_key, &kl) : NULL;
        if (!cert || !key) {
            free(cert);
            return 1;
        }
    }
    struct tern_tls_pair given = { cert, cl, key, kl, "--tls-cert" };
    struct tern_boot_https_opts ho = {
        .m = wl ? wl->m : NULL, .files = wl ? wl->files : NULL,
        .source = wl ? wl->source : NULL, .given = cert ? &given : NULL,
        .services = svc,
    };
    tern_result r = tern_boot_https_start(&h->https, h->os, &ho);
    if (key) {
        memset(key, 0, kl);                  /* key material */
        free(key);
    }
    free(cert);
    if (r == TERN_OK)
        return 0;
    if (h->https.app_refused)
        return TERN_WORKLOAD_HALT_REFUSED;
    if (o->tls_cert)
        fprintf(stderr, "tern-linux: HTTPS did not start (--tls-cert %s, --tls-key %s): %s\n",
                o->tls_cert, o->tls_key, tern_result_name(r));
    return 1;
}

const char *linux_http_ready_fields(struct linux_http *h)
{
    snprintf(h->ready_fields, sizeof h->ready_fields, "files=%s",
             h->svc.opts.files ? "disk" : "none");
    return h->ready_fields;
}

void linux_http_hint(void *arg)
{
    struct linux_http *h = arg;
    if (h->curl_port)
        tern_log(h->os, TERN_LOG_INFO, "http", "try: curl http://127.0.0.1:%u/healthz",
                 h->curl_port);
}

/* TERN_READY without a workload: once net0 has its address. */
static void announce_ready(void *arg)
{
    struct linux_http *h = arg;
    char https[64] = "";
    if (tern_boot_https_ports(&h->https)[0])
        snprintf(https, sizeof https, "https=%s ", tern_boot_https_ports(&h->https));
    tern_marker(h->os, "TERN_READY", "http=80 %s%s", https, linux_http_ready_fields(h));
    linux_http_hint(h);
}

int linux_http_start(struct linux_http *h, struct tern_os *os, struct linux_network *ln,
                     struct tern_fat *files, const struct linux_http_opts *o,
                     unsigned curl_port, const struct linux_http_workload *wl)
{
    memset(h, 0, sizeof *h);
    h->os = os;
    h->curl_port = curl_port;
    if (o->off)   /* no server: an https endpoint of wl's is refused */
        return wl ? start_https(h, o, wl, NULL) : 0;
    struct tern_services_opts so = {
        .backend = "linux", .network = &ln->bn, .files = files,
        .status_more = wl ? tern_boot_pkg_status : NULL, .status_more_arg = wl ? wl->pkg : NULL,
    };
    if (tern_services_start(&h->svc, os, &so) != TERN_OK)
        return 1;
    int code = start_https(h, o, wl, &h->svc);
    if (code)
        return code;
    if (wl == NULL)
        linux_net_when_up(ln, announce_ready, h); /* the listeners are open now */
    return 0;
}
