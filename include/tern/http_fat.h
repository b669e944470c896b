/*
 * Interface: a FAT volume (fat.h) as the file source of the HTTP service
 * (struct tern_http_file_ops). Read-only; a fixed table of open files, so
 * at most TERN_HTTP_FAT_FILES responses stream files at once (more get
 * 503 with Retry-After: 1 and are counted in busy). FAT timestamps carry no zone: they are taken as
 * UTC for Last-Modified.
 *
 *   tern_http_fat_init(&hf, &disk.fs);
 *   tern_http_service_init(&svc, os, "linux", &tern_http_fat_ops, &hf, ...);
 */
#ifndef TERN_HTTP_FAT_H
#define TERN_HTTP_FAT_H

#include <stdbool.h>
#include <stdint.h>

#include "tern/fat.h"
#include "tern/http.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

#define TERN_HTTP_FAT_FILES 16

struct tern_http_fat {
    struct tern_fat *fs;
    struct tern_fat_file files[TERN_HTTP_FAT_FILES];
    bool used[TERN_HTTP_FAT_FILES];
    uint64_t busy;                   /* opens refused: table full */
    const char *hidden;              /* a top directory never served ("tern"), or NULL */
    uint64_t hidden_refused;         /* requests into it: answered 404 */
};

void tern_http_fat_init(struct tern_http_fat *hf, struct tern_fat *fs);

extern const struct tern_http_file_ops tern_http_fat_ops;

TERN_END_DECLS

#endif
