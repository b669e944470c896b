/*
 * Interface: a link check for the metal libc, built (never run) on every
 * build. It references each function Tern promises from musl's pure parts
 * (docs/baremetal.md), so a missing object or an unresolved dependency
 * inside musl breaks the build here rather than when cJSON or mbedTLS
 * first use it.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>

int tern_libc_linkcheck(char *buf, size_t cap, const char *s);

static int vformat(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

int tern_libc_linkcheck(char *buf, size_t cap, const char *s)
{
    char *end;
    int n = snprintf(buf, cap, "%s %d %lu %x %p %.3f %Le %c %ls", s, -1, 2ul, 3u,
                     (void *)buf, 1.5, (long double)2.0, 'x', L"w");
    n += (int)strtol(s, &end, 10) + (int)strtoul(s, &end, 16);
    n += (int)strtoll(s, &end, 0) + (int)strtoull(s, &end, 0);
    n += (int)strtod(s, &end) + (int)strtof(s, &end) + (int)atof(s) + atoi(s);
    n += (int)atol(s) + (int)atoll(s) + abs(n) + (int)labs(n);
    n += isalpha(*s) + isdigit(*s) + isspace(*s) + isxdigit(*s) + isprint(*s);
    n += isupper(*s) + islower(*s) + isalnum(*s) + ispunct(*s) + tolower(*s) + toupper(*s);
    n += (int)strlen(s) + strcmp(s, "a") + strncmp(s, "b", 1) + strcasecmp(s, "c");
    n += strncasecmp(s, "d", 1) + (strchr(s, 'e') != NULL) + (strrchr(s, 'f') != NULL);
    n += (strstr(s, "g") != NULL) + (int)strspn(s, "h") + (int)strcspn(s, "i");
    n += (memchr(s, 'j', 1) != NULL) + memcmp(s, "k", 1) + (int)strnlen(s, 4);
    memcpy(buf, s, 1);
    memmove(buf + 1, buf, 1);
    memset(buf, 0, 1);
    strncpy(buf, s, cap);
    n += (int)strlcpy(buf, s, cap);
    n += vformat(buf, cap, "%d", 1) + sprintf(buf, "%s", strerror(errno));
    double d;
    n += sscanf(s, "%lg", &d) + (int)fabs(d);
    char *heap = malloc(cap);
    heap = realloc(heap, cap + 1);
    free(heap);
    free(calloc(1, cap));
    qsort(buf, 1, 1, NULL);
    n += (bsearch(s, buf, 1, 1, NULL) != NULL);
    return n;
}
