/*
 * Interface: see dhcp_server_linux.h. The options into core's server
 * config, and the lease file on the host's file system.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dhcp_server_linux.h"
#include "tern/inet.h"

#define SAVE_DELAY_NS 1000000000ull

static int bad(const char *what, const char *spec)
{
    fprintf(stderr, "tern-linux: --dhcp-server: %s in '%s' (want FIRST-LAST[,router=A.B.C.D]"
                    "[,dns=A.B.C.D[+...]][,domain=NAME][,lease=SECONDS][,leases=N])\n",
            what, spec);
    return -1;
}

static bool parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v < min || v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* dns=A.B.C.D[+A.B.C.D...] */
static bool parse_dns(struct tern_dhcp_server_config *c, char *v)
{
    for (char *a = strtok(v, "+"); a; a = strtok(NULL, "+")) {
        if (c->dns_count == TERN_DHCP_MAX_DNS || tern_ipv4_parse(a, &c->dns[c->dns_count]) != TERN_OK)
            return false;
        c->dns_count++;
    }
    return c->dns_count > 0;
}

/* One key=value after the pool. */
static bool parse_key(struct linux_dhcp_server_opts *o, char *kv)
{
    struct tern_dhcp_server_config *c = &o->cfg;
    char *eq = strchr(kv, '=');
    if (eq == NULL)
        return false;
    *eq = '\0';
    char *v = eq + 1;
    if (strcmp(kv, "router") == 0)
        return tern_ipv4_parse(v, &c->router) == TERN_OK;
    if (strcmp(kv, "dns") == 0)
        return parse_dns(c, v);
    if (strcmp(kv, "lease") == 0)
        return parse_u32(v, 60, 1u << 30, &c->lease_s);
    if (strcmp(kv, "leases") == 0)
        return parse_u32(v, 1, TERN_DHCP_SERVER_POOL_MAX, &c->max_leases);
    if (strcmp(kv, "domain") == 0 && strlen(v) < sizeof(o->domain)) {
        memcpy(o->domain, v, strlen(v) + 1);
        c->domain = o->domain;
        return true;
    }
    return false;
}

int linux_dhcp_server_parse(struct linux_dhcp_server_opts *o, const char *spec)
{
    char copy[512];
    if (strlen(spec) >= sizeof(copy))
        return bad("too long", spec);
    memcpy(copy, spec, strlen(spec) + 1);
    tern_dhcp_server_config_default(&o->cfg);
    o->domain[0] = '\0';
    char *rest = strchr(copy, ',');
    if (rest)
        *rest++ = '\0';
    char *dash = strchr(copy, '-');
    if (dash == NULL)
        return bad("no FIRST-LAST", spec);
    *dash = '\0';
    if (tern_ipv4_parse(copy, &o->cfg.first) != TERN_OK ||
        tern_ipv4_parse(dash + 1, &o->cfg.last) != TERN_OK || o->cfg.first > o->cfg.last)
        return bad("a bad pool", spec);
    char *save = NULL;
    for (char *kv = rest ? strtok_r(rest, ",", &save) : NULL; kv; kv = strtok_r(NULL, ",", &save)) {
        if (!parse_key(o, kv))
            return bad("a bad option", spec);
    }
    o->on = true;
    return 0;
}

/* Writes the table to FILE.tmp, then renames it over FILE. */
static void save_now(struct linux_dhcp_server *d)
{
    size_t n = 0;
    char tmp[4096];
    if (tern_dhcp_server_save(&d->srv, d->buf, tern_dhcp_server_save_size(&d->srv), &n) != TERN_OK ||
        snprintf(tmp, sizeof(tmp), "%s.tmp", d->file) >= (int)sizeof(tmp))
        goto failed;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        goto failed;
    bool ok = write(fd, d->buf, n) == (ssize_t)n && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, d->file) != 0)
        goto failed;
    d->dirty = false;
    tern_log(d->os, TERN_LOG_DEBUG, "dhcp-server", "lease file %s written (%zu bytes)", d->file, n);
    return;
failed:
    tern_log(d->os, TERN_LOG_ERROR, "dhcp-server", "cannot write the lease file %s: %s", d->file,
             strerror(errno));
}

static void on_save_timer(struct tern_timer *t, void *arg)
{
    (void)t;
    save_now(arg);
}

/* The table changed: saved a second later (changes in between ride along). */
static void on_change(struct tern_dhcp_server *s, void *arg)
{
    (void)s;
    struct linux_dhcp_server *d = arg;
    d->dirty = true;
    if (!tern_timer_armed(&d->save_timer))
        tern_timer_arm(d->os, &d->save_timer, tern_now_ns(d->os) + SAVE_DELAY_NS);
}

static void at_exit(struct tern_os *os, void *arg)
{
    (void)os;
    struct linux_dhcp_server *d = arg;
    tern_timer_disarm(d->os, &d->save_timer);
    if (d->dirty)
        save_now(d);
}

/* The lease file, if there is one. 0, or -1 (logged). */
static int load(struct linux_dhcp_server *d)
{
    FILE *f = fopen(d->file, "rb");
    if (f == NULL) {
        if (errno == ENOENT) {
            tern_log(d->os, TERN_LOG_INFO, "dhcp-server", "no lease file %s yet", d->file);
            return 0;
        }
        tern_log(d->os, TERN_LOG_ERROR, "dhcp-server", "cannot read %s: %s", d->file,
                 strerror(errno));
        return -1;
    }
    size_t cap = tern_dhcp_server_save_size(&d->srv) + 1;
    char *buf = malloc(cap);
    size_t n = buf ? fread(buf, 1, cap, f) : 0;
    bool err = buf == NULL || ferror(f);
    fclose(f);
    char why[96] = "too large for the table";
    tern_result r = err ? TERN_EIO
                  : n == cap ? TERN_ENOSPC
                             : tern_dhcp_server_load(&d->srv, buf, n, why, sizeof(why));
    free(buf);
    if (r != TERN_OK) { /* a refusal by the server was logged with its reason */
        tern_log(d->os, TERN_LOG_ERROR, "dhcp-server", "lease file %s not loaded%s%s", d->file,
                 err || n == cap ? ": " : "", err ? "read error" : n == cap ? why : "");
        return -1;
    }
    return 0;
}

int linux_dhcp_server_start(struct linux_dhcp_server *d, struct tern_os *os, struct tern_net *net,
                            const struct linux_dhcp_server_opts *o)
{
    memset(d, 0, sizeof(*d));
    d->os = os;
    d->file = o->lease_file;
    struct tern_dhcp_server_config c = o->cfg;
    if (d->file) {
        c.on_change = on_change;
        c.arg = d;
    }
    if (tern_dhcp_server_start(&d->srv, net, &c) != TERN_OK)
        return -1; /* logged by the server */
    if (d->file == NULL)
        return 0;
    d->buf = malloc(tern_dhcp_server_save_size(&d->srv));
    if (d->buf == NULL || load(d) != 0)
        return -1;
    tern_timer_init(&d->save_timer, on_save_timer, d);
    d->at_exit.fn = at_exit;
    d->at_exit.arg = d;
    tern_os_add_shutdown_hook(os, &d->at_exit);
    return 0;
}
