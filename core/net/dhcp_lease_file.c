/*
 * Interface: see dhcp_server.h (save, load) and docs/net.md (the format).
 * The lease file is text, one record a line, LF-terminated, fields
 * separated by one space:
 *
 *   tern-dhcp-leases 1
 *   saved-wall SECONDS|-                  (Unix time of the save, - unknown)
 *   lease ADDR STATE LEFT MAC ID|- NAME|-  (one per slot in use)
 *   end COUNT CRC                         (CRC-32 of every byte before "end")
 *
 * STATE is bound, free or declined; LEFT the whole seconds left (0 for
 * free); MAC aa:bb:cc:dd:ee:ff; ID the client identifier in lower-case
 * hex (- for a declined address); NAME the client's host name or -.
 * Load reads exactly what save writes: any other byte refuses the file.
 * It fills the (empty) table as it reads and empties it again on any
 * error, so a refused file leaves nothing behind.
 */
#include <string.h>

#include "dhcp_server_internal.h"
#include "tern/fmt.h"
#include "tern/gpt.h"
#include "tern/inet.h"
#include "tern/os.h"

#define MAGIC_LINE "tern-dhcp-leases 1\n"
#define LINE_MAX_BYTES 300           /* longer than any line save writes */
#define MAX_TOKENS 8

static const char *const state_names[] = {
    [TERN_DHCP_LEASE_BOUND] = "bound",
    [TERN_DHCP_LEASE_FREE] = "free",
    [TERN_DHCP_LEASE_DECLINED] = "declined",
};

/* Wall-clock seconds, or -1 when the platform does not know them. */
static int64_t wall_s(const struct tern_dhcp_server *s)
{
    const struct tern_platform *pl = &s->net->os->plat;
    int64_t ns;
    if (pl->ops->wall_ns == NULL || pl->ops->wall_ns(pl->ctx, &ns) != TERN_OK || ns < 0)
        return -1;
    return ns / 1000000000;
}

size_t tern_dhcp_server_save_size(const struct tern_dhcp_server *s)
{
    return 64 + (size_t)LINE_MAX_BYTES * s->cfg.max_leases + 32;
}

/* One slot's line at buf + n; returns the new length (may pass cap). */
static size_t save_line(const struct tern_dhcp_server *s, const struct tern_dhcp_lease *l,
                        uint64_t now, char *buf, size_t n, size_t cap)
{
    uint8_t st = l->state == TERN_DHCP_LEASE_OFFERED ? TERN_DHCP_LEASE_FREE : l->state;
    uint64_t left = 0;
    if (st != TERN_DHCP_LEASE_FREE && l->expires_ms > now)
        left = (l->expires_ms - now + 999) / 1000;
    char ip[16], mac[18], id[2 * TERN_DHCP_CLIENT_ID_MAX + 1];
    tern_ipv4_format(l->addr, ip);
    dhcps_mac_text(l->chaddr, mac);
    for (unsigned k = 0; k < l->id_len; k++)
        tern_snprintf(id + 2 * k, 3, "%02x", l->id[k]);
    if (l->id_len == 0)
        memcpy(id, "-", 2);
    (void)s;
    return n + tern_snprintf(buf + n, n < cap ? cap - n : 0, "lease %s %s %llu %s %s %s\n", ip,
                             state_names[st], (unsigned long long)left, mac, id,
                             l->hostname[0] ? l->hostname : "-");
}

tern_result tern_dhcp_server_save(const struct tern_dhcp_server *s, char *buf, size_t cap,
                                  size_t *len)
{
    uint64_t now = dhcps_now_ms(s);
    int64_t wall = wall_s(s);
    size_t n = tern_snprintf(buf, cap, MAGIC_LINE "saved-wall ");
    char w[24] = "-";
    if (wall >= 0)
        tern_snprintf(w, sizeof(w), "%lld", (long long)wall);
    n += tern_snprintf(buf + n, n < cap ? cap - n : 0, "%s\n", w);
    unsigned count = 0;
    for (uint32_t i = 0; s->running && i < s->cfg.max_leases; i++) {
        if (s->leases[i].state == TERN_DHCP_LEASE_EMPTY)
            continue;
        n = save_line(s, &s->leases[i], now, buf, n, cap);
        count++;
    }
    if (n >= cap)
        return TERN_ENOSPC;
    uint32_t crc = tern_crc32(0, buf, n);
    n += tern_snprintf(buf + n, cap - n, "end %u %08x\n", count, (unsigned)crc);
    if (n >= cap)
        return TERN_ENOSPC;
    *len = n;
    return TERN_OK;
}

/* ---- load ---- */

/* "0" or 1-20 digits without a leading zero, at most max. */
static bool parse_uint(const char *t, uint64_t max, uint64_t *out)
{
    size_t n = strlen(t);
    if (n == 0 || n > 20 || (n > 1 && t[0] == '0'))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] < '0' || t[i] > '9' || v > (max - (uint64_t)(t[i] - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(t[i] - '0');
    }
    *out = v;
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* upper case is not what save writes */
}

/* n bytes from 2n lower-case hex digits of t, each byte separated by sep
 * when sep != 0. */
static bool parse_hex(const char *t, uint8_t *out, size_t n, char sep)
{
    size_t step = sep ? 3 : 2;
    if (strlen(t) != n * step - (sep ? 1 : 0))
        return false;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(t[i * step]), lo = hexval(t[i * step + 1]);
        if (hi < 0 || lo < 0 || (sep && i + 1 < n && t[i * step + 2] != sep))
            return false;
        out[i] = (uint8_t)(hi * 16 + lo);
    }
    return true;
}

/* Splits the line [p, p+n) (no LF) at single spaces into tok (each
 * NUL-terminated in store). Returns the count, or -1 for an empty field. */
static int split(const char *p, size_t n, char store[LINE_MAX_BYTES + 1],
                 char *tok[MAX_TOKENS])
{
    memcpy(store, p, n);
    store[n] = '\0';
    int count = 0;
    char *t = store;
    for (;;) {
        char *sp = strchr(t, ' ');
        if (sp)
            *sp = '\0';
        if (*t == '\0' || count == MAX_TOKENS)
            return -1;
        tok[count++] = t;
        if (!sp)
            return count;
        t = sp + 1;
    }
}

struct loader {
    struct tern_dhcp_server *s;
    uint64_t elapsed_s;          /* wall time since the save, when known */
    uint32_t used;               /* slots filled */
    uint32_t skipped;            /* leases outside the pool */
    uint32_t *ids;               /* open-addressing index of client ids: slot + 1 */
    uint32_t ids_cap;            /* a power of two, >= 2 x max_leases */
};

static uint32_t id_hash(const uint8_t *id, uint8_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (uint8_t i = 0; i < n; i++)
        h = (h ^ id[i]) * 16777619u;
    return h;
}

/* Records slot's client id; false when another slot has it. */
static bool id_unique(struct loader *ld, uint32_t slot)
{
    const struct tern_dhcp_lease *l = &ld->s->leases[slot];
    uint32_t i = id_hash(l->id, l->id_len) & (ld->ids_cap - 1);
    while (ld->ids[i] != 0) {
        const struct tern_dhcp_lease *o = &ld->s->leases[ld->ids[i] - 1];
        if (o->id_len == l->id_len && memcmp(o->id, l->id, l->id_len) == 0)
            return false;
        i = (i + 1) & (ld->ids_cap - 1);
    }
    ld->ids[i] = slot + 1;
    return true;
}

/* A lease line's fields into l (state, addr, client, left in
 * l->expires_ms as seconds). NULL or why not. */
static const char *parse_lease(char **tok, int n, struct tern_dhcp_lease *l)
{
    memset(l, 0, sizeof(*l));
    if (n != 7 || strcmp(tok[0], "lease") != 0)
        return "not a lease line";
    if (tern_ipv4_parse(tok[1], &l->addr) != TERN_OK)
        return "bad address";
    for (uint8_t st = TERN_DHCP_LEASE_BOUND; st <= TERN_DHCP_LEASE_DECLINED; st++) {
        if (strcmp(tok[2], state_names[st]) == 0)
            l->state = st;
    }
    uint64_t left;
    if (l->state == TERN_DHCP_LEASE_EMPTY)
        return "bad state";
    if (!parse_uint(tok[3], UINT32_MAX, &left) || (l->state == TERN_DHCP_LEASE_FREE && left))
        return "bad time left";
    l->expires_ms = left;
    if (!parse_hex(tok[4], l->chaddr, TERN_MAC_LEN, ':'))
        return "bad hardware address";
    bool declined = l->state == TERN_DHCP_LEASE_DECLINED;
    size_t idn = strlen(tok[5]);
    if (declined ? strcmp(tok[5], "-") != 0
                 : (idn < 2 || idn % 2 || idn > 2 * TERN_DHCP_CLIENT_ID_MAX ||
                    !parse_hex(tok[5], l->id, idn / 2, 0)))
        return "bad client identifier";
    l->id_len = declined ? 0 : (uint8_t)(idn / 2);
    if (strcmp(tok[6], "-") != 0) {
        if (declined || !dhcp_name_ok((const uint8_t *)tok[6], strlen(tok[6])))
            return "bad host name";
        memcpy(l->hostname, tok[6], strlen(tok[6]) + 1);
    }
    return NULL;
}

/* Puts a parsed lease into the table. NULL, or why the file is refused;
 * *full when the table has no slot left. */
static const char *apply(struct loader *ld, struct tern_dhcp_lease *l, bool *full)
{
    struct tern_dhcp_server *s = ld->s;
    char ip[16];
    tern_ipv4_format(l->addr, ip);
    if (!dhcps_in_pool(s, l->addr) || dhcps_reserved(s, l->addr)) {
        ld->skipped++;
        tern_log(s->net->os, TERN_LOG_WARN, "dhcp-server", "lease file: %s outside the pool: "
                 "skipped", ip);
        return NULL;
    }
    if (dhcps_marked(s, l->addr))
        return "address twice";
    uint64_t left = l->expires_ms > ld->elapsed_s ? l->expires_ms - ld->elapsed_s : 0;
    uint8_t st = l->state;
    if (left == 0 && st == TERN_DHCP_LEASE_DECLINED)
        return NULL; /* rested already */
    if (ld->used == s->cfg.max_leases) {
        *full = true;
        return "more leases than the table holds";
    }
    uint32_t slot = ld->used++;
    struct tern_dhcp_lease *to = &s->leases[slot];
    *to = *l;
    dhcps_mark(s, l->addr, true);
    if (to->id_len && !id_unique(ld, slot))
        return "client twice";
    if (left == 0)
        st = TERN_DHCP_LEASE_FREE;
    dhcps_set_state(s, to, st, dhcps_now_ms(s) + left * 1000u);
    return NULL;
}

/* The header's two lines at buf (up to len). Bytes they take, or 0. */
static size_t parse_head(struct loader *ld, const char *buf, size_t len, const char **why,
                         unsigned *line)
{
    size_t m = strlen(MAGIC_LINE);
    if (len < m || memcmp(buf, MAGIC_LINE, m) != 0) {
        *why = "not a tern-dhcp-leases 1 file";
        return 0;
    }
    *line = 2;
    const char *p = buf + m, *lf = memchr(p, '\n', len - m);
    char store[LINE_MAX_BYTES + 1], *tok[MAX_TOKENS];
    int n = lf && (size_t)(lf - p) <= LINE_MAX_BYTES ? split(p, (size_t)(lf - p), store, tok) : -1;
    uint64_t saved;
    bool known = n == 2 && strcmp(tok[1], "-") != 0;
    if (n != 2 || strcmp(tok[0], "saved-wall") != 0 ||
        (known && !parse_uint(tok[1], INT64_MAX, &saved))) {
        *why = "bad saved-wall line";
        return 0;
    }
    int64_t now = wall_s(ld->s);
    if (known && now >= 0 && (uint64_t)now > saved)
        ld->elapsed_s = (uint64_t)now - saved;
    return (size_t)(lf + 1 - buf);
}

/* The end line [p, p+n) against the count and the CRC of [buf, p). */
static const char *check_end(const char *buf, const char *p, size_t n, unsigned count)
{
    char store[LINE_MAX_BYTES + 1], *tok[MAX_TOKENS];
    int k = n <= LINE_MAX_BYTES ? split(p, n, store, tok) : -1;
    uint64_t c;
    uint8_t crc[4];
    if (k != 3 || !parse_uint(tok[1], UINT32_MAX, &c) || !parse_hex(tok[2], crc, 4, 0))
        return "bad end line";
    if (c != count)
        return "lease count disagrees (truncated?)";
    if (tern_load_be32(crc) != tern_crc32(0, buf, (size_t)(p - buf)))
        return "CRC mismatch";
    return NULL;
}

/* Every line after the header; NULL or why, *line the line it concerns. */
static const char *load_lines(struct loader *ld, const char *buf, size_t len, size_t at,
                              unsigned *line, bool *full)
{
    unsigned count = 0;
    for (*line = 3; at < len; (*line)++) {
        const char *p = buf + at, *lf = memchr(p, '\n', len - at);
        if (lf == NULL)
            return "no line end";
        size_t n = (size_t)(lf - p);
        if (n > LINE_MAX_BYTES)
            return "line too long";
        if (n >= 4 && memcmp(p, "end ", 4) == 0) {
            if ((size_t)(lf + 1 - buf) != len)
                return "bytes after the end line";
            return check_end(buf, p, n, count);
        }
        char store[LINE_MAX_BYTES + 1], *tok[MAX_TOKENS];
        struct tern_dhcp_lease l;
        int k = split(p, n, store, tok);
        const char *why = k < 0 ? "empty field" : parse_lease(tok, k, &l);
        if (why == NULL)
            why = apply(ld, &l, full);
        if (why)
            return why;
        count++;
        at += n + 1;
    }
    return "no end line";
}

tern_result tern_dhcp_server_load(struct tern_dhcp_server *s, const char *buf, size_t len,
                                  char *why_buf, size_t why_cap)
{
    if (!s->running)
        return TERN_EBUSY;
    for (uint32_t i = 0; i < s->cfg.max_leases; i++) {
        if (s->leases[i].state != TERN_DHCP_LEASE_EMPTY)
            return TERN_EBUSY;
    }
    struct loader ld = { .s = s, .ids_cap = 2 };
    while (ld.ids_cap < 2 * s->cfg.max_leases)
        ld.ids_cap *= 2;
    ld.ids = tern_calloc(s->net->os, ld.ids_cap, sizeof(*ld.ids));
    if (ld.ids == NULL)
        return TERN_ENOMEM;
    const char *why = NULL;
    unsigned line = 1;
    bool full = false;
    size_t at = parse_head(&ld, buf, len, &why, &line);
    if (at != 0)
        why = load_lines(&ld, buf, len, at, &line, &full);
    tern_free(s->net->os, ld.ids);
    if (why) {
        dhcps_clear_table(s);
        tern_timer_disarm(s->net->os, &s->timer);
        if (why_buf && why_cap)
            tern_snprintf(why_buf, why_cap, "line %u: %s", line, why);
        tern_log(s->net->os, TERN_LOG_ERROR, "dhcp-server", "lease file refused: line %u: %s",
                 line, why);
        return full ? TERN_ENOSPC : TERN_EPROTO;
    }
    tern_log(s->net->os, TERN_LOG_INFO, "dhcp-server", "lease file: %u leases loaded, %u skipped",
             (unsigned)ld.used, (unsigned)ld.skipped);
    return TERN_OK;
}
