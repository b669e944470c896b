/* Interface: see dhcp_wire.h. */
#include <string.h>

#include "dhcp_wire.h"

struct walk {
    uint8_t seen[256 / 8];
    uint8_t overload;              /* 52's value: 1 file, 2 sname, 3 both */
    dhcp_opt_fn fn;
    void *arg;
};

/* One area [from, to) of msg. */
static const char *walk_area(struct walk *w, const uint8_t *msg, size_t from, size_t to,
                             bool options_field)
{
    size_t i = from;
    while (i < to) {
        uint8_t code = msg[i++];
        if (code == DHCP_OPT_PAD)
            continue;
        if (code == DHCP_OPT_END)
            return NULL;
        if (i >= to)
            return "truncated option";
        size_t olen = msg[i++];
        if (olen > to - i)
            return "truncated option";
        const uint8_t *v = msg + i;
        i += olen;
        if (code == DHCP_OPT_OVERLOAD && (!options_field || olen != 1 || v[0] < 1 || v[0] > 3))
            return "bad overload";
        if (w->seen[code / 8] & (1u << (code % 8)))
            return "repeated option";
        w->seen[code / 8] |= (uint8_t)(1u << (code % 8));
        if (code == DHCP_OPT_OVERLOAD) {
            w->overload = v[0];
            continue;
        }
        const char *why = w->fn(w->arg, code, v, olen);
        if (why)
            return why;
    }
    return "no end option";
}

const char *dhcp_walk_options(const uint8_t *msg, size_t len, dhcp_opt_fn fn, void *arg)
{
    struct walk w;
    memset(&w, 0, sizeof(w));
    w.fn = fn;
    w.arg = arg;
    const char *why = walk_area(&w, msg, DHCP_MIN_LEN, len, true);
    if (why == NULL && (w.overload & 1))
        why = walk_area(&w, msg, DHCP_OFF_FILE, DHCP_BOOTP_HLEN, false);
    if (why == NULL && (w.overload & 2))
        why = walk_area(&w, msg, DHCP_OFF_SNAME, DHCP_OFF_FILE, false);
    return why;
}

bool dhcp_name_ok(const uint8_t *p, size_t n)
{
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

size_t dhcp_put_opt(uint8_t *b, size_t i, uint8_t code, const void *v, uint8_t len)
{
    b[i++] = code;
    b[i++] = len;
    memcpy(b + i, v, len);
    return i + len;
}
