/* Interface: see include/tern/http_fat.h. */
#include <string.h>

#include "tern/http_fat.h"

void tern_http_fat_init(struct tern_http_fat *hf, struct tern_fat *fs)
{
    memset(hf, 0, sizeof *hf);
    hf->fs = fs;
}

/* FAT date and time (RFC-less, local, 2 s steps) to unix seconds as UTC. */
static int64_t fat_time(uint16_t date, uint16_t time)
{
    unsigned y = 1980u + (date >> 9), m = (date >> 5) & 15u, d = date & 31u;
    if (date == 0 || m < 1 || m > 12 || d < 1)
        return -1;
    return tern_http_unix_time(y, m, d, time >> 11, (time >> 5) & 63u, (time & 31u) * 2u);
}

static tern_result fat_open(void *ctx, const char *path, void **handle,
                            struct tern_http_file_stat *st)
{
    struct tern_http_fat *hf = ctx;
    struct tern_fat_stat fst;
    if (hf->hidden && tern_fat_in_top_dir(hf->fs, path, hf->hidden)) {
        hf->hidden_refused++;                /* the OS's own files (/tern): not served */
        return TERN_ENOENT;
    }
    tern_result r = tern_fat_stat(hf->fs, path, &fst);
    if (r == TERN_EINVAL)
        r = TERN_ENOENT;                     /* a name FAT cannot hold */
    if (r != TERN_OK)
        return r;
    st->is_dir = fst.is_dir;
    st->size = fst.size;
    st->mtime = fat_time(fst.date, fst.time);
    *handle = NULL;
    if (fst.is_dir)
        return TERN_OK;
    for (unsigned i = 0; i < TERN_HTTP_FAT_FILES; i++) {
        if (hf->used[i])
            continue;
        r = tern_fat_open(hf->fs, &hf->files[i], path, TERN_FAT_READ);
        if (r != TERN_OK)
            return r == TERN_EINVAL ? TERN_ENOENT : r;
        hf->used[i] = true;
        *handle = &hf->files[i];
        return TERN_OK;
    }
    hf->busy++;
    return TERN_EBUSY;                       /* every handle in use: try again soon */
}

static tern_result fat_read_at(void *ctx, void *handle, uint64_t off, void *buf, size_t len,
                               size_t *got)
{
    (void)ctx;
    if (!handle)
        return TERN_EIO;
    return tern_fat_pread(handle, off, buf, len, got);
}

static void fat_close(void *ctx, void *handle)
{
    struct tern_http_fat *hf = ctx;
    if (!handle)
        return;
    struct tern_fat_file *f = handle;
    tern_fat_close(f);
    hf->used[f - hf->files] = false;
}

const struct tern_http_file_ops tern_http_fat_ops = { fat_open, fat_read_at, fat_close };
