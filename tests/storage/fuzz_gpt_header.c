/*
 * libFuzzer: GPT. The input is the first sectors of a small disk (MBR,
 * header, entries...) padded with zeros to 64 sectors, with the last
 * sector a copy of sector 1 (so the backup path runs too). Reading must
 * return OK or a clear error, and never touch memory it does not own.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_ram.h"
#include "tern/gpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum { SECTORS = 64 };
    static uint8_t mem[SECTORS * 512];
    static uint8_t cache[64 * 1024];
    memset(mem, 0, sizeof(mem));
    memcpy(mem, data, size < sizeof(mem) ? size : sizeof(mem));
    memcpy(mem + (SECTORS - 1) * 512, mem + 512, 512);
    struct fuzz_ram ram = { mem, SECTORS, NULL };
    struct tern_bdev dev;
    if (tern_bdev_init(&dev, &fuzz_ram_ops, &ram, 512, SECTORS, true, cache, sizeof(cache), 16) !=
        TERN_OK)
        abort();
    const char *why = NULL;
    tern_result r = tern_gpt_check_header(mem + 512, 512, 1, SECTORS, &why);
    if (r != TERN_OK && why == NULL)
        abort();
    static struct tern_gpt g;
    r = tern_gpt_read(&dev, &g);
    if (r == TERN_OK) {
        if (g.count > TERN_GPT_MAX_PARTS)
            abort();
        for (unsigned i = 0; i < g.count; i++)
            if (g.parts[i].last_lba >= SECTORS || g.parts[i].first_lba > g.parts[i].last_lba)
                abort();
        (void)tern_gpt_find_name(&g, "data");
        (void)tern_gpt_find_type(&g, &TERN_GPT_TYPE_ESP);
    } else if (g.reason == NULL) {
        abort();
    }
    return 0;
}
