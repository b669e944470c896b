/*
 * Interface: formatting into caller-owned buffers, the same bytes on every
 * backend. Supports %d %i %u %x %X %o %c %s %p %% with flags '-', '0',
 * '+', ' ', width and precision (also '*'), and length modifiers hh h l ll
 * z t j. No floating point and no locale. The output is always
 * NUL-terminated when cap > 0; the return value is the length the whole
 * output would have had (like C99 snprintf), so truncation is detectable.
 */
#ifndef TERN_FMT_H
#define TERN_FMT_H

#include <stdarg.h>
#include <stddef.h>
#include "tern/decls.h"

TERN_BEGIN_DECLS

size_t tern_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap);
size_t tern_snprintf(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Makes s one marker token in place (docs/markers.md): spaces, quotes and
 * control bytes become '_'. Returns s. */
char *tern_token(char *s);

/* One counter of a JSON object in /status and the like. */
struct tern_json_count {
    const char *name;
    unsigned long long value;
};

/* {"f", (s)->f}: the counter named as the field it reads. */
#define TERN_JSON_COUNT(s, f) { #f, (unsigned long long)(s)->f }
#define TERN_JSON_COUNTS(a) (sizeof(a) / sizeof((a)[0]))

/* Formats OPEN (e.g. ",\"net\":{"), then "name":value for each of c[0..n)
 * joined by commas, then '}', into buf. Returns the length the whole
 * output would have had, like tern_snprintf. */
size_t tern_json_object(char *buf, size_t cap, const char *open,
                        const struct tern_json_count *c, size_t n);

TERN_END_DECLS

#endif
