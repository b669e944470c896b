/*
 * Interface: see dhcp_server_internal.h. The lease table: cfg.max_leases
 * slots and a bitmap of the pool's addresses held by a slot, both from
 * the instance heap at start. Lookups scan the slots (a table is small:
 * 256 by default); a never-used address is found by scanning the bitmap
 * from a cursor that moves on, so addresses are spread over the pool and
 * one just freed is not handed out again at once.
 */
#include <string.h>

#include "dhcp_server_internal.h"
#include "tern/inet.h"
#include "tern/os.h"

uint64_t dhcps_now_ms(const struct tern_dhcp_server *s)
{
    return tern_now_ms(s->net->os);
}

bool dhcps_in_pool(const struct tern_dhcp_server *s, uint32_t addr)
{
    return addr >= s->cfg.first && addr <= s->cfg.last;
}

bool dhcps_reserved(const struct tern_dhcp_server *s, uint32_t addr)
{
    return addr == s->server_id || (s->cfg.router != 0 && addr == s->cfg.router);
}

void dhcps_mark(struct tern_dhcp_server *s, uint32_t addr, bool taken)
{
    uint32_t i = addr - s->cfg.first;
    if (taken)
        s->taken[i / 8] |= (uint8_t)(1u << (i % 8));
    else
        s->taken[i / 8] &= (uint8_t)~(1u << (i % 8));
}

bool dhcps_marked(const struct tern_dhcp_server *s, uint32_t addr)
{
    uint32_t i = addr - s->cfg.first;
    return (s->taken[i / 8] >> (i % 8)) & 1u;
}

struct tern_dhcp_lease *dhcps_by_client(struct tern_dhcp_server *s, const uint8_t *id,
                                        uint8_t id_len)
{
    for (uint32_t i = 0; i < s->cfg.max_leases; i++) {
        struct tern_dhcp_lease *l = &s->leases[i];
        if (l->state != TERN_DHCP_LEASE_EMPTY && l->id_len == id_len && id_len > 0 &&
            memcmp(l->id, id, id_len) == 0)
            return l;
    }
    return NULL;
}

struct tern_dhcp_lease *dhcps_by_addr(const struct tern_dhcp_server *s, uint32_t addr)
{
    if (!dhcps_in_pool(s, addr) || !dhcps_marked(s, addr))
        return NULL;
    for (uint32_t i = 0; i < s->cfg.max_leases; i++) {
        struct tern_dhcp_lease *l = &s->leases[i];
        if (l->state != TERN_DHCP_LEASE_EMPTY && l->addr == addr)
            return l;
    }
    return NULL;
}

const struct tern_dhcp_lease *tern_dhcp_server_lease(const struct tern_dhcp_server *s,
                                                     uint32_t addr)
{
    return s->running ? dhcps_by_addr(s, addr) : NULL;
}

uint32_t tern_dhcp_server_bound(const struct tern_dhcp_server *s)
{
    uint32_t n = 0;
    for (uint32_t i = 0; s->running && i < s->cfg.max_leases; i++)
        n += s->leases[i].state == TERN_DHCP_LEASE_BOUND;
    return n;
}

/* The FREE slot free the longest, or NULL. */
static struct tern_dhcp_lease *oldest_free(struct tern_dhcp_server *s)
{
    struct tern_dhcp_lease *best = NULL;
    for (uint32_t i = 0; i < s->cfg.max_leases; i++) {
        struct tern_dhcp_lease *l = &s->leases[i];
        if (l->state == TERN_DHCP_LEASE_FREE && (!best || l->free_since_ms < best->free_since_ms))
            best = l;
    }
    return best;
}

/* An EMPTY slot, else the oldest FREE one emptied (its address given
 * back to the pool), else NULL. */
static struct tern_dhcp_lease *take_slot(struct tern_dhcp_server *s)
{
    for (uint32_t i = 0; i < s->cfg.max_leases; i++) {
        if (s->leases[i].state == TERN_DHCP_LEASE_EMPTY)
            return &s->leases[i];
    }
    struct tern_dhcp_lease *l = oldest_free(s);
    if (l)
        dhcps_mark(s, l->addr, false);
    return l;
}

/* A pool address no slot holds, searched from the cursor; 0 for none. */
static uint32_t never_used(struct tern_dhcp_server *s)
{
    for (uint32_t k = 0; k < s->pool_size; k++) {
        uint32_t i = (s->cursor + k) % s->pool_size;
        if ((s->taken[i / 8] >> (i % 8)) & 1u) {
            if (s->taken[i / 8] == 0xff) /* skip a full byte at once */
                k += 7 - i % 8;
            continue;
        }
        s->cursor = (i + 1) % s->pool_size;
        return s->cfg.first + i;
    }
    return 0;
}

static struct tern_dhcp_lease *place(struct tern_dhcp_lease *l, struct tern_dhcp_server *s,
                                     uint32_t addr)
{
    memset(l, 0, sizeof(*l));
    l->addr = addr;
    l->state = TERN_DHCP_LEASE_FREE;
    l->free_since_ms = dhcps_now_ms(s);
    dhcps_mark(s, addr, true);
    return l;
}

struct tern_dhcp_lease *dhcps_allocate(struct tern_dhcp_server *s, uint32_t requested,
                                       const char **why)
{
    bool want = requested != 0 && dhcps_in_pool(s, requested) && !dhcps_marked(s, requested);
    uint32_t addr = want ? requested : never_used(s);
    if (addr != 0) {
        struct tern_dhcp_lease *l = take_slot(s);
        if (l)
            return place(l, s, addr);
        *why = "lease table full";
        return NULL;
    }
    struct tern_dhcp_lease *l = oldest_free(s);
    if (l) {
        uint32_t reuse = l->addr;
        return place(l, s, reuse);
    }
    *why = "pool exhausted";
    return NULL;
}

static void arm_at(struct tern_dhcp_server *s, uint64_t at_ms)
{
    uint64_t ns = at_ms * 1000000u;
    if (tern_timer_armed(&s->timer) && s->timer.deadline_ns <= ns)
        return;
    if (tern_timer_arm(s->net->os, &s->timer, ns) != TERN_OK)
        tern_log(s->net->os, TERN_LOG_ERROR, "dhcp-server", "timer heap full: expiry delayed");
}

void dhcps_set_state(struct tern_dhcp_server *s, struct tern_dhcp_lease *l, uint8_t state,
                     uint64_t at_ms)
{
    l->state = state;
    if (state == TERN_DHCP_LEASE_FREE) {
        l->free_since_ms = dhcps_now_ms(s);
        l->expires_ms = 0;
        s->exhausted_logged = false; /* an address is there again */
        return;
    }
    l->expires_ms = at_ms;
    arm_at(s, at_ms);
}

void dhcps_clear_table(struct tern_dhcp_server *s)
{
    memset(s->leases, 0, (size_t)s->cfg.max_leases * sizeof(*s->leases));
    memset(s->taken, 0, (s->pool_size + 7) / 8);
    if (dhcps_in_pool(s, s->server_id))
        dhcps_mark(s, s->server_id, true);
    if (s->cfg.router && dhcps_in_pool(s, s->cfg.router))
        dhcps_mark(s, s->cfg.router, true);
    s->cursor = 0;
}

void dhcps_changed(struct tern_dhcp_server *s)
{
    s->changes++;
    if (s->cfg.on_change)
        s->cfg.on_change(s, s->cfg.arg);
}

/* One slot at now: lapses when due (true if it changed what save writes),
 * else lowers *next to its expiry. */
static bool lapse(struct tern_dhcp_server *s, struct tern_dhcp_lease *l, uint64_t now,
                  uint64_t *next)
{
    if (l->state != TERN_DHCP_LEASE_OFFERED && l->state != TERN_DHCP_LEASE_BOUND &&
        l->state != TERN_DHCP_LEASE_DECLINED)
        return false;
    if (l->expires_ms > now) {
        if (l->expires_ms < *next)
            *next = l->expires_ms;
        return false;
    }
    char ip[16];
    tern_ipv4_format(l->addr, ip);
    if (l->state == TERN_DHCP_LEASE_OFFERED) {
        s->stats.offers_lapsed++;
        dhcps_set_state(s, l, TERN_DHCP_LEASE_FREE, 0);
        return false;
    }
    if (l->state == TERN_DHCP_LEASE_BOUND) {
        s->stats.expired++;
        tern_log(s->net->os, TERN_LOG_INFO, "dhcp-server", "lease %s expired", ip);
        dhcps_set_state(s, l, TERN_DHCP_LEASE_FREE, 0);
        return true;
    }
    s->stats.declines_lapsed++;
    tern_log(s->net->os, TERN_LOG_INFO, "dhcp-server", "declined %s usable again", ip);
    dhcps_mark(s, l->addr, false);
    memset(l, 0, sizeof(*l));
    s->exhausted_logged = false;
    return true;
}

void dhcps_on_timer(struct tern_timer *t, void *arg)
{
    (void)t;
    struct tern_dhcp_server *s = arg;
    uint64_t now = dhcps_now_ms(s), next = UINT64_MAX;
    bool changed = false;
    for (uint32_t i = 0; i < s->cfg.max_leases; i++)
        changed |= lapse(s, &s->leases[i], now, &next);
    if (next != UINT64_MAX)
        arm_at(s, next);
    if (changed)
        dhcps_changed(s);
}
