/*
 * Interface: the string functions the SDK provides to apps (apps/sdk/start.c),
 * for code that includes <string.h> (the OS's formatter, shared into apps).
 * Apps have no C library: this is all of <string.h> they get.
 */
#ifndef TERN_SDK_STRING_H
#define TERN_SDK_STRING_H

#include <stddef.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

#endif
