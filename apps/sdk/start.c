/*
 * Interface: what every app links from the SDK: the ABI note the loader
 * checks before any app code runs (include/tern/app_abi.h), the memory
 * and string functions a freestanding compiler may emit calls to, and the
 * helpers of tern_app.h.
 */
#include "tern_app.h"

/* The note: namesz, descsz, type, "Tern\0" padded to 8, then the desc. */
struct tern_app_note {
    uint32_t namesz, descsz, type;
    char name[8];
    struct tern_note_abi desc;
};

__attribute__((section(".note.tern"), aligned(4), used))
static const struct tern_app_note tern_abi_note = {
    .namesz = TERN_NOTE_NAMESZ,
    .descsz = sizeof(struct tern_note_abi),
    .type = TERN_NOTE_ABI,
    .name = TERN_NOTE_NAME,
    .desc = { TERN_PAL_ABI_MAJOR, TERN_PAL_ABI_MINOR },
};

void *memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s)
        return memcpy(dst, src, n);
    while (n--)
        d[n] = s[n];
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++) {
        if (*x != *y)
            return *x - *y;
    }
    return 0;
}

void *memchr(const void *s, int c, size_t n)
{
    const unsigned char *p = s;
    for (; n; n--, p++) {
        if (*p == (unsigned char)c)
            return (void *)p;
    }
    return NULL;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b || *a == '\0')
            return (unsigned char)*a - (unsigned char)*b;
    }
    return 0;
}

int strcmp(const char *a, const char *b)
{
    return strncmp(a, b, SIZE_MAX);
}

void tapp_logf(const struct tern_pal *pal, int level, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    size_t n = tern_vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pal->log(pal->ctx, level, line, n < sizeof line ? n : sizeof line - 1);
}

int64_t tapp_parse_u64(const char *s, size_t len)
{
    if (len == 0 || len > 18)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}
