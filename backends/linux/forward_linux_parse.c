/*
 * Interface: see forward_linux.h (linux_fwd_parse): one --forward rule
 * checked whole before anything starts; a bad one is refused with what
 * is wrong and the form wanted (tern-linux exits 2).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward_linux.h"
#include "tern/inet.h"

static int bad(const char *spec, const char *why)
{
    fprintf(stderr, "tern-linux: --forward %s: %s (want tcp|udp:HOSTADDR:HOSTPORT-GUESTIP:GUESTPORT, "
                    "e.g. tcp:127.0.0.1:8080-10.0.5.2:80)\n", spec, why);
    return -1;
}

static bool parse_port(const char *s, uint16_t *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0' || v < 1 || v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

/* "A.B.C.D:PORT" (copied into a scratch of its own). */
static bool parse_addr_port(const char *s, uint32_t *ip, uint16_t *port)
{
    char buf[32];
    const char *colon = strrchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= sizeof buf)
        return false;
    memcpy(buf, s, (size_t)(colon - s));
    buf[colon - s] = '\0';
    return tern_ipv4_parse(buf, ip) == TERN_OK && parse_port(colon + 1, port);
}

int linux_fwd_parse(struct linux_fwd_opts *o, const char *spec)
{
    struct linux_fwd_rule_opt r;
    memset(&r, 0, sizeof r);
    if (o->count == LINUX_FWD_MAX)
        return bad(spec, "too many rules (16 at most)");
    if (strncmp(spec, "tcp:", 4) == 0)
        r.proto = TERN_FWD_TCP;
    else if (strncmp(spec, "udp:", 4) == 0)
        r.proto = TERN_FWD_UDP;
    else
        return bad(spec, "the protocol must be tcp or udp");
    char host[48];
    const char *dash = strchr(spec + 4, '-');
    if (dash == NULL || (size_t)(dash - spec - 4) >= sizeof host)
        return bad(spec, "no '-' between the host and the guest side");
    memcpy(host, spec + 4, (size_t)(dash - spec - 4));
    host[dash - spec - 4] = '\0';
    uint32_t hip;
    uint16_t hport;
    if (!parse_addr_port(host, &hip, &hport))
        return bad(spec, "a bad host address or port");
    if (!parse_addr_port(dash + 1, &r.guest_ip, &r.guest_port) || r.guest_ip == 0 ||
        r.guest_ip == 0xffffffffu)
        return bad(spec, "a bad guest address or port");
    r.host.sin_family = AF_INET;
    r.host.sin_port = htons(hport);
    r.host.sin_addr.s_addr = htonl(hip);
    for (unsigned i = 0; i < o->count; i++)
        if (o->rules[i].proto == r.proto && o->rules[i].host.sin_port == r.host.sin_port &&
            o->rules[i].host.sin_addr.s_addr == r.host.sin_addr.s_addr)
            return bad(spec, "that host address and port is forwarded twice");
    o->rules[o->count++] = r;
    return 0;
}
