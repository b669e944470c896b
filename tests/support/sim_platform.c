/* Interface: see sim_platform.h. */
#include <stdlib.h>
#include <string.h>

#include "sim_platform.h"

static uint64_t sim_monotonic_ns(void *ctx)
{
    return ((struct sim_platform *)ctx)->now_ns;
}

static void sim_console_write(void *ctx, const char *buf, size_t len)
{
    struct sim_platform *sim = ctx;
    size_t room = SIM_CONSOLE_MAX - 1 - sim->console_len;
    if (len > room)
        len = room;
    memcpy(sim->console + sim->console_len, buf, len);
    sim->console_len += len;
    sim->console[sim->console_len] = '\0';
}

static tern_result sim_entropy(void *ctx, void *buf, size_t len)
{
    struct sim_platform *sim = ctx;
    sim->entropy_calls++;
    if (sim->entropy_fail)
        return TERN_EIO; /* a broken source: the core must not use buf */
    uint8_t *out = buf;
    for (size_t i = 0; i < len; i++) {
        sim->rng ^= sim->rng << 13;
        sim->rng ^= sim->rng >> 7;
        sim->rng ^= sim->rng << 17;
        out[i] = (uint8_t)sim->rng;
    }
    return TERN_OK;
}

static unsigned sim_none(void *ctx)
{
    (void)ctx;
    return 0;
}

static tern_result sim_heap_region(void *ctx, void **out_base, size_t *out_size)
{
    struct sim_platform *sim = ctx;
    *out_base = sim->heap;
    *out_size = sim->heap_size;
    return TERN_OK;
}

static void sim_wait(void *ctx, uint64_t deadline_ns, uint64_t *ready)
{
    struct sim_platform *sim = ctx;
    sim->waits++;
    *ready = sim->pending_ready;
    sim->pending_ready = 0;
    if (*ready == 0 && deadline_ns != UINT64_MAX && deadline_ns > sim->now_ns)
        sim->now_ns = deadline_ns;
}

__attribute__((noreturn)) static void sim_panic(void *ctx, const char *reason)
{
    (void)reason;
    ((struct sim_platform *)ctx)->panicked = true;
    abort();
}

static const struct tern_platform_ops sim_ops = {
    .monotonic_ns = sim_monotonic_ns,
    .console_write = sim_console_write,
    .entropy = sim_entropy,
    .net_count = sim_none,
    .block_count = sim_none,
    .heap_region = sim_heap_region,
    .wait = sim_wait,
    .panic = sim_panic,
    .name = "sim",
};

int sim_platform_init(struct sim_platform *sim, size_t heap_size, uint64_t seed)
{
    memset(sim, 0, sizeof(*sim));
    sim->now_ns = 1000000000ull; /* start at 1 s so "0" never looks like a time */
    sim->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
    sim->heap = aligned_alloc(64, heap_size);
    sim->heap_size = heap_size;
    return sim->heap ? 0 : -1;
}

void sim_platform_close(struct sim_platform *sim)
{
    free(sim->heap);
    sim->heap = NULL;
}

struct tern_platform sim_platform(struct sim_platform *sim)
{
    return (struct tern_platform){ .ops = &sim_ops, .ctx = sim };
}

bool sim_console_has(const struct sim_platform *sim, const char *text)
{
    return strstr(sim->console, text) != NULL;
}
