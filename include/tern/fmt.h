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

TERN_END_DECLS

#endif
