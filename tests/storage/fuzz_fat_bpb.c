/*
 * libFuzzer: the FAT boot sector. Any 512 bytes give OK with a geometry
 * that fits the partition, or TERN_EIO with a reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tern/fat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t sec[512];
    memset(sec, 0, sizeof(sec));
    memcpy(sec, data, size < sizeof(sec) ? size : sizeof(sec));
    uint64_t part = size >= 516 ? ((uint64_t)data[512] | (uint64_t)data[513] << 8 |
                                   (uint64_t)data[514] << 16 | (uint64_t)data[515] << 24)
                                : 1u << 20;
    struct tern_fat fs;
    memset(&fs, 0, sizeof(fs));
    tern_result r = tern_fat_parse_bpb(&fs, sec, sizeof(sec), part);
    if (r == TERN_OK) {
        if (fs.sectors > part || fs.clusters == 0 || fs.data_lba >= fs.sectors ||
            fs.data_lba + (uint64_t)fs.clusters * fs.spc > fs.sectors)
            abort();
    } else if (r != TERN_EIO || fs.reason == NULL) {
        abort();
    }
    return 0;
}
