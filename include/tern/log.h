/*
 * Interface: leveled logging. A log line goes to the console when its
 * level is at or above the console threshold, and always into a bounded
 * ring that drops the oldest records when full; the ring can be read
 * later (the status page, tests, a post-mortem dump).
 *
 * Records are "<level> <subsystem>: <text>" with the time in ms. A record
 * longer than TERN_LOG_LINE_MAX is cut. Reading does not consume: readers
 * keep a sequence cursor and learn how many records they missed.
 */
#ifndef TERN_LOG_H
#define TERN_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/result.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

enum tern_log_level {
    TERN_LOG_DEBUG = 0,
    TERN_LOG_INFO,
    TERN_LOG_WARN,
    TERN_LOG_ERROR,
    TERN_LOG_OFF,          /* as a threshold: nothing to the console */
};

#define TERN_LOG_LINE_MAX 240

struct tern_log_ring {
    uint8_t *buf;          /* capacity bytes, owned by the instance heap */
    size_t capacity;
    size_t head;           /* offset of the oldest record */
    size_t used;           /* bytes in use from head, wrapping */
    uint64_t first_seq;    /* sequence number of the oldest record */
    uint64_t next_seq;     /* sequence number the next record gets */
    uint64_t dropped;      /* records pushed out to make room */
};

/* Sets up a ring over buf (capacity >= 2 * TERN_LOG_LINE_MAX). */
tern_result tern_log_ring_init(struct tern_log_ring *r, void *buf, size_t capacity);

/* Appends one record, dropping the oldest ones to make room. */
void tern_log_ring_push(struct tern_log_ring *r, enum tern_log_level level,
                        const char *text, size_t len);

/* Copies the record with the smallest sequence number >= *cursor into buf
 * (NUL-terminated, cut to cap - 1), sets *level, and advances *cursor past
 * it. *missed gets how many records between the old cursor and the one
 * returned were already dropped. TERN_OK, or TERN_AGAIN when there is no
 * newer record. */
tern_result tern_log_ring_read(const struct tern_log_ring *r, uint64_t *cursor,
                               char *buf, size_t cap, enum tern_log_level *level,
                               uint64_t *missed);

/* Short name of a level: "debug", "info", "warn", "error". */
const char *tern_log_level_name(enum tern_log_level level);

TERN_END_DECLS

#endif
