/*
 * Interface: the Tern app SDK. An app includes this one header, defines
 *
 *   int tern_app_main(const struct tern_pal *pal, const struct tern_app_start *start);
 *
 * and is built by apps/meson.build's tern_app() recipe as a static PIE
 * with no libc (docs/apps.md). Everything the app does to the world goes
 * through the PAL table (tern/pal.h); this header adds the few
 * freestanding helpers apps need: the memory and string functions the
 * compiler may call, formatting into buffers, and short-hands for logs.
 */
#ifndef TERN_APP_H
#define TERN_APP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/app_abi.h"
#include "tern/fmt.h"
#include "tern/pal.h"

int tern_app_main(const struct tern_pal *pal, const struct tern_app_start *start);

/* The C library's string functions, provided by the SDK (the compiler
 * emits calls to memcpy, memmove, memset and memcmp on its own). */
#include <string.h>

/* Formats into buf (always NUL-terminated when cap > 0) and returns the
 * length the whole text would have: tern_snprintf (tern/fmt.h) is the
 * OS's own formatter, compiled into the app. */

/* A log line at level, formatted. */
void tapp_logf(const struct tern_pal *pal, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses a decimal unsigned number from s[0..len); -1 when it is not one
 * or does not fit in 63 bits. */
int64_t tapp_parse_u64(const char *s, size_t len);

#endif
