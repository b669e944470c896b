/*
 * Interface: QEMU's fw_cfg over its legacy I/O ports (see metal.h).
 * Selector 0x510 (16-bit write), data 0x511 (byte reads). Selector 0 reads
 * the signature "QEMU"; selector 0x19 the file directory: a big-endian
 * 32-bit count, then 64-byte entries {be32 size, be16 select, u16 pad,
 * char name[56]}. Everything read from the device is bounded: at most
 * FW_CFG_MAX_FILES entries are scanned and at most cap - 1 bytes copied.
 *
 * When the device offers DMA (selector 1, bit 1) reads go through it:
 * one access descriptor {be32 control, be32 length, be64 address}, its
 * address written big-endian to 0x514 (high) and 0x518 (low, starts it);
 * QEMU completes it before the write returns and clears control (bit 0
 * set: error, then the byte port is used). Under TCG every port access
 * is a trip into QEMU: the ~2 KB directory byte by byte cost ~5 ms.
 */
#include <string.h>

#include "metal.h"
#include "x86.h"

#define FW_CFG_SEL  0x510
#define FW_CFG_DATA 0x511
#define FW_CFG_SIGNATURE 0x0000
#define FW_CFG_FILE_DIR  0x0019
#define FW_CFG_MAX_FILES 4096u

#define FW_CFG_ID      0x0001
#define FW_CFG_DMA_HI  0x514
#define FW_CFG_DMA_LO  0x518
#define FW_CFG_F_DMA   0x2u
#define DMA_CTL_ERROR  0x01u
#define DMA_CTL_READ   0x02u
#define DMA_SPINS      1000000u

struct fw_cfg_dma_access {
    uint32_t control, length; /* big-endian */
    uint64_t address;         /* big-endian */
};

/* Reads n bytes from the current selector's position: by DMA when
 * *dma, else (or once DMA failed, which clears *dma) through the port. */
static void read_bytes(void *buf, size_t n, bool *dma)
{
    uint8_t *p = buf;
    if (*dma && n > 0 && n <= UINT32_MAX) {
        volatile struct fw_cfg_dma_access a = {
            .control = __builtin_bswap32(DMA_CTL_READ),
            .length = __builtin_bswap32((uint32_t)n),
            .address = __builtin_bswap64((uint64_t)(uintptr_t)buf),
        };
        uint64_t pa = (uint64_t)(uintptr_t)&a; /* identity map */
        __asm__ volatile("" : : : "memory");
        outl(FW_CFG_DMA_HI, __builtin_bswap32((uint32_t)(pa >> 32)));
        outl(FW_CFG_DMA_LO, __builtin_bswap32((uint32_t)pa));
        uint32_t ctl = DMA_CTL_READ;
        for (unsigned i = 0; i < DMA_SPINS && (ctl & ~DMA_CTL_ERROR) != 0; i++)
            ctl = __builtin_bswap32(a.control);
        __asm__ volatile("" : : : "memory");
        if (ctl == 0)
            return;
        *dma = false; /* error or no answer: the byte port from here on */
        return;   /* the caller's bytes are unknown: it sees a mismatch */
    }
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
    bool dma = false;
    outw(FW_CFG_SEL, FW_CFG_SIGNATURE);
    read_bytes(sig, sizeof(sig), &dma);
    if (memcmp(sig, "QEMU", 4) != 0)
        return -1;
    *present = true;
    uint8_t id[4];
    outw(FW_CFG_SEL, FW_CFG_ID);
    read_bytes(id, sizeof(id), &dma);
    dma = (id[0] & FW_CFG_F_DMA) != 0; /* little-endian feature bits */

    uint8_t cnt[4];
    outw(FW_CFG_SEL, FW_CFG_FILE_DIR);
    read_bytes(cnt, sizeof(cnt), &dma);
    if (!dma) { /* DMA failed on the count: read it again by port */
        outw(FW_CFG_SEL, FW_CFG_FILE_DIR);
        read_bytes(cnt, sizeof(cnt), &dma);
    }
    uint32_t count = be32(cnt);
    if (count > FW_CFG_MAX_FILES)
        count = FW_CFG_MAX_FILES;

    /* The directory in chunks of 16 entries (1 KiB on the stack). */
    uint8_t dir[16][64];
    for (uint32_t i = 0; i < count;) {
        uint32_t k = count - i < 16 ? count - i : 16;
        bool was_dma = dma;
        read_bytes(dir, (size_t)k * 64u, &dma);
        if (was_dma && !dma)
            return -1; /* the directory's position is lost: treat as absent */
        for (uint32_t j = 0; j < k; j++) {
            uint8_t *e = dir[j];
            e[63] = '\0';
            if (strcmp((const char *)e + 8, name) != 0)
                continue;
            uint32_t size = be32(e);
            uint16_t sel = (uint16_t)((e[4] << 8) | e[5]);
            size_t n = size < cap - 1 ? size : cap - 1;
            outw(FW_CFG_SEL, sel);
            read_bytes(buf, n, &dma);
            if (was_dma && !dma) {
                outw(FW_CFG_SEL, sel);
                read_bytes(buf, n, &dma);
            }
            buf[n] = '\0';
            return (int)n;
        }
        i += k;
    }
    return -1;
}
