/*
 * Interface: see include/tern/log.h (the ring half).
 *
 * Each record is stored as [level][len low][len high][text...], wrapping
 * byte by byte around the buffer. Records are pushed at the tail and
 * dropped whole from the head.
 */
#include <string.h>

#include "tern/log.h"

#define REC_HDR 3u

/* off mod capacity for off < 2 * capacity (every offset here is a sum of
 * two that are below it): no division on the per-record path. */
static size_t wrap(const struct tern_log_ring *r, size_t off)
{
    return off >= r->capacity ? off - r->capacity : off;
}

static uint8_t ring_byte(const struct tern_log_ring *r, size_t off)
{
    return r->buf[wrap(r, r->head + off)];
}

static size_t record_len_at(const struct tern_log_ring *r, size_t off)
{
    return REC_HDR + (ring_byte(r, off + 1) | ((size_t)ring_byte(r, off + 2) << 8));
}

/* Copies n bytes to the ring at *tail (in at most two pieces: every
 * record is pushed on the access log's per-request path) and advances it. */
static void ring_put(struct tern_log_ring *r, size_t *tail, const void *src, size_t n)
{
    size_t first = r->capacity - *tail;
    if (first > n)
        first = n;
    memcpy(r->buf + *tail, src, first);
    memcpy(r->buf, (const uint8_t *)src + first, n - first);
    *tail = wrap(r, *tail + n);
}

static void drop_oldest(struct tern_log_ring *r)
{
    size_t n = record_len_at(r, 0);
    r->head = wrap(r, r->head + n);
    r->used -= n;
    r->first_seq++;
    r->dropped++;
}

tern_result tern_log_ring_init(struct tern_log_ring *r, void *buf, size_t capacity)
{
    if (buf == NULL || capacity < 2 * TERN_LOG_LINE_MAX)
        return TERN_EINVAL;
    memset(r, 0, sizeof(*r));
    r->buf = buf;
    r->capacity = capacity;
    return TERN_OK;
}

void tern_log_ring_push(struct tern_log_ring *r, enum tern_log_level level,
                        const char *text, size_t len)
{
    if (r->buf == NULL)
        return; /* not set up yet (a panic during init) */
    if (len > TERN_LOG_LINE_MAX)
        len = TERN_LOG_LINE_MAX;
    size_t need = REC_HDR + len;
    while (r->capacity - r->used < need)
        drop_oldest(r);

    uint8_t hdr[REC_HDR] = { (uint8_t)level, (uint8_t)(len & 0xff), (uint8_t)(len >> 8) };
    size_t tail = wrap(r, r->head + r->used);
    ring_put(r, &tail, hdr, REC_HDR);
    ring_put(r, &tail, text, len);
    r->used += need;
    r->next_seq++;
}

tern_result tern_log_ring_read(const struct tern_log_ring *r, uint64_t *cursor,
                               char *buf, size_t cap, enum tern_log_level *level,
                               uint64_t *missed)
{
    uint64_t want = *cursor;
    if (want >= r->next_seq)
        return TERN_AGAIN;
    uint64_t skipped = 0;
    if (want < r->first_seq) {
        skipped = r->first_seq - want;
        want = r->first_seq;
    }
    size_t off = 0;
    for (uint64_t s = r->first_seq; s < want; s++)
        off += record_len_at(r, off);

    size_t len = record_len_at(r, off) - REC_HDR;
    if (level)
        *level = (enum tern_log_level)ring_byte(r, off);
    if (cap > 0) {
        size_t n = len < cap - 1 ? len : cap - 1;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)ring_byte(r, off + REC_HDR + i);
        buf[n] = '\0';
    }
    if (missed)
        *missed = skipped;
    *cursor = want + 1;
    return TERN_OK;
}

const char *tern_log_level_name(enum tern_log_level level)
{
    switch (level) {
    case TERN_LOG_DEBUG: return "debug";
    case TERN_LOG_INFO: return "info";
    case TERN_LOG_WARN: return "warn";
    case TERN_LOG_ERROR: return "error";
    default: return "off";
    }
}
