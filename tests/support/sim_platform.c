/* Interface: see sim_platform.h. */
#include <stdio.h>
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

static unsigned sim_block_count(void *ctx)
{
    return ((struct sim_platform *)ctx)->ndisks;
}

static struct sim_disk *sim_disk_at(void *ctx, unsigned idx)
{
    struct sim_platform *sim = ctx;
    return idx < sim->ndisks ? &sim->disks[idx] : NULL;
}

static tern_result sim_block_info(void *ctx, unsigned idx, struct tern_block_info *out)
{
    struct sim_disk *d = sim_disk_at(ctx, idx);
    if (d == NULL)
        return TERN_ENOENT;
    memset(out, 0, sizeof(*out));
    out->sector_size = d->sector_size;
    out->sector_count = d->sectors;
    out->read_only = d->read_only;
    snprintf(out->name, sizeof(out->name), "ram%u", idx);
    return TERN_OK;
}

static tern_result sim_block_read(void *ctx, unsigned idx, uint64_t lba, void *buf,
                                  uint32_t count)
{
    struct sim_disk *d = sim_disk_at(ctx, idx);
    if (d == NULL)
        return TERN_ENOENT;
    if (count == 0 || lba >= d->sectors || count > d->sectors - lba)
        return TERN_EINVAL;
    memcpy(buf, d->mem + lba * d->sector_size, (size_t)count * d->sector_size);
    return TERN_OK;
}

static tern_result sim_block_write(void *ctx, unsigned idx, uint64_t lba, const void *buf,
                                   uint32_t count)
{
    struct sim_disk *d = sim_disk_at(ctx, idx);
    if (d == NULL)
        return TERN_ENOENT;
    if (d->read_only)
        return TERN_EROFS;
    if (count == 0 || lba >= d->sectors || count > d->sectors - lba)
        return TERN_EINVAL;
    memcpy(d->mem + lba * d->sector_size, buf, (size_t)count * d->sector_size);
    return TERN_OK;
}

static tern_result sim_block_flush(void *ctx, unsigned idx)
{
    return sim_disk_at(ctx, idx) ? TERN_OK : TERN_ENOENT;
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
    TERN_PLATFORM_OPS_HEADER,
    .monotonic_ns = sim_monotonic_ns,
    .console_write = sim_console_write,
    .entropy = sim_entropy,
    .net_count = sim_none,
    .block_count = sim_block_count,
    .block_info = sim_block_info,
    .block_read = sim_block_read,
    .block_write = sim_block_write,
    .block_flush = sim_block_flush,
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

int sim_platform_add_disk(struct sim_platform *sim, uint8_t *mem, uint32_t sector_size,
                          uint64_t sectors, bool read_only)
{
    if (sim->ndisks == SIM_MAX_DISKS)
        return -1;
    sim->disks[sim->ndisks] = (struct sim_disk){ mem, sector_size, sectors, read_only };
    return (int)sim->ndisks++;
}

bool sim_console_has(const struct sim_platform *sim, const char *text)
{
    return strstr(sim->console, text) != NULL;
}
