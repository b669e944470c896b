/*
 * Interface: a fixed pool of equally sized packet buffers carved from the
 * instance heap once, at init. Allocation and release are O(1) list
 * operations; an empty pool returns NULL and the caller counts a drop.
 */
#include <stdint.h>
#include <string.h>

#include "net_internal.h"

tern_result tern_pbuf_pool_init(struct tern_pbuf_pool *pool, struct tern_os *os, uint32_t count,
                                uint16_t buf_size)
{
    memset(pool, 0, sizeof(*pool));
    tern_list_init(&pool->free);
    if (count == 0 || buf_size == 0)
        return TERN_EINVAL;
    pool->bufs = tern_calloc(os, count, sizeof(*pool->bufs));
    /* Storage is not zeroed: every buffer is written before it is read
     * (a frame received into it, or one being built), and zeroing once at
     * init would promise nothing after the first reuse anyway. Zeroing it
     * touched every page of the pool at boot (a host page fault per page
     * under QEMU, docs/performance.md, issue #6). */
    if ((size_t)count > SIZE_MAX / buf_size)
        return TERN_ENOMEM;
    pool->storage = tern_alloc(os, (size_t)count * buf_size);
    if (pool->bufs == NULL || pool->storage == NULL)
        return TERN_ENOMEM;
    for (uint32_t i = 0; i < count; i++) {
        struct tern_pbuf *p = &pool->bufs[i];
        p->data = pool->storage + (size_t)i * buf_size;
        p->cap = buf_size;
        tern_list_push_back(&pool->free, &p->link);
    }
    pool->total = pool->available = pool->low_water = count;
    pool->buf_size = buf_size;
    return TERN_OK;
}

struct tern_pbuf *tern_pbuf_alloc(struct tern_pbuf_pool *pool)
{
    struct tern_list_node *n = tern_list_pop_front(&pool->free);
    if (n == NULL)
        return NULL;
    struct tern_pbuf *p = TERN_CONTAINER_OF(n, struct tern_pbuf, link);
    pool->available--;
    if (pool->available < pool->low_water)
        pool->low_water = pool->available;
    p->off = p->len = 0;
    p->port = 0;
    p->addr = 0;
    p->csum_start = p->csum_offset = 0;
    return p;
}

void tern_pbuf_free(struct tern_pbuf_pool *pool, struct tern_pbuf *p)
{
    if (p == NULL)
        return;
    tern_list_push_back(&pool->free, &p->link);
    pool->available++;
}

void tern_pbuf_free_list(struct tern_pbuf_pool *pool, struct tern_list *list)
{
    struct tern_list_node *n;
    while ((n = tern_list_pop_front(list)) != NULL)
        tern_pbuf_free(pool, TERN_CONTAINER_OF(n, struct tern_pbuf, link));
}
