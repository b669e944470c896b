/*
 * Interface: QEMU's fw_cfg over its legacy I/O ports (see metal.h).
 * Selector 0x510 (16-bit write), data 0x511 (byte reads). Selector 0 reads
 * the signature "QEMU"; selector 0x19 the file directory: a big-endian
 * 32-bit count, then 64-byte entries {be32 size, be16 select, u16 pad,
 * char name[56]}. Everything read from the device is bounded: at most
 * FW_CFG_MAX_FILES entries are scanned and at most cap - 1 bytes copied.
 */
#include <string.h>

#include "metal.h"
#include "x86.h"

#define FW_CFG_SEL  0x510
#define FW_CFG_DATA 0x511
#define FW_CFG_SIGNATURE 0x0000
#define FW_CFG_FILE_DIR  0x0019
#define FW_CFG_MAX_FILES 4096u

static void read_bytes(void *buf, size_t n)
{
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i++)
        p[i] = inb(FW_CFG_DATA);
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int fwcfg_read_file(const char *name, char *buf, size_t cap, bool *present)
{
    uint8_t sig[4];
    *present = false;
    if (cap == 0)
        return -1;
    buf[0] = '\0';
    outw(FW_CFG_SEL, FW_CFG_SIGNATURE);
    read_bytes(sig, sizeof(sig));
    if (memcmp(sig, "QEMU", 4) != 0)
        return -1;
    *present = true;

    uint8_t cnt[4];
    outw(FW_CFG_SEL, FW_CFG_FILE_DIR);
    read_bytes(cnt, sizeof(cnt));
    uint32_t count = be32(cnt);
    if (count > FW_CFG_MAX_FILES)
        count = FW_CFG_MAX_FILES;

    for (uint32_t i = 0; i < count; i++) {
        uint8_t e[64];
        read_bytes(e, sizeof(e));
        e[63] = '\0';
        if (strcmp((const char *)e + 8, name) != 0)
            continue;
        uint32_t size = be32(e);
        uint16_t sel = (uint16_t)((e[4] << 8) | e[5]);
        size_t n = size < cap - 1 ? size : cap - 1;
        outw(FW_CFG_SEL, sel);
        read_bytes(buf, n);
        buf[n] = '\0';
        return (int)n;
    }
    return -1;
}
