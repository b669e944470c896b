/*
 * Interface: the test-control command line of the metal image.
 *
 * QEMU passes it to the UEFI image as the fw_cfg file "opt/tern/cmdline"
 * (-fw_cfg name=opt/tern/cmdline,string=...); the PVH kernel gets it as
 * its kernel command line (-append, the start info's). It is external input: the
 * parser reads exactly len bytes (no NUL needed), never fails, and counts
 * what it does not understand instead of acting on it.
 *
 * Tokens are separated by spaces, tabs, CR or LF. Understood:
 *   halt=N        halt with code N (0..127) right after boot
 *   fault=ud|pf|de  raise #UD, #PF or #DE on purpose right after boot
 *   fault=null    read address 0 (the non-present NULL page: #PF)
 *   fault=wx      exec_alloc a page, write code, exec_seal it, run it, then
 *                 write to it (W^X: #PF)
 *   fault=spin    start a core thread that never yields (the watchdog's
 *                 TERN_PANIC: a stall in the OS's own code)
 *   delay_ms=N    do the above N ms (0..600000) after boot instead, so the
 *                 clock and the timer-interrupt wait are exercised first
 *   reboot=1      reboot (ACPI reset register) instead of powering off at the end
 *   ip=A.B.C.D/N  a static address (prefix 1..32) instead of DHCP
 *   gw=A.B.C.D    the default gateway with ip=
 *   tls_selftest=1  run the TLS crypto self-test at boot even without a
 *                 certificate (0: only when HTTPS will be served)
 *   log=LEVEL     console threshold: debug, info (the default), warn, error
 *                 or off, as tern-linux --log-level; the log ring keeps
 *                 everything either way and markers always print
 *   virtio_mmio.device=SIZE@BASE:IRQ[:ID]
 *                 a virtio-mmio device, in Linux's syntax (what QEMU's
 *                 microvm without ACPI and Firecracker append): SIZE and
 *                 BASE decimal or 0x-hex, SIZE with an optional K, M or G
 *                 suffix, IRQ (its GSI) and the ignored ID decimal. The
 *                 window must be 0x100 bytes .. 1 MiB, 4-byte aligned,
 *                 end within 64 TiB and not overlap an earlier one; IRQ at
 *                 most 255; at most TERN_METAL_MMIO_MAX devices
 *                 (the command line is the kernel's, from the PVH start
 *                 info; Linux tokens Tern does not know, such as
 *                 console=ttyS0, are counted as ignored)
 * A later token overrides an earlier one with the same key. Anything else
 * (unknown key, bad or out-of-range value, token longer than 64 bytes)
 * adds one to `ignored`.
 */
#ifndef TERN_METAL_CMDLINE_H
#define TERN_METAL_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/log.h"

#define TERN_METAL_CMDLINE_MAX 1024
#define TERN_METAL_MMIO_MAX 8
#define TERN_METAL_MMIO_MIN_SIZE 0x100u
#define TERN_METAL_MMIO_MAX_SIZE 0x100000u

enum tern_metal_fault {
    TERN_METAL_FAULT_NONE = 0,
    TERN_METAL_FAULT_UD,
    TERN_METAL_FAULT_PF,
    TERN_METAL_FAULT_DE,
    TERN_METAL_FAULT_NULL,
    TERN_METAL_FAULT_WX,
    TERN_METAL_FAULT_SPIN,
};

struct tern_metal_mmio_dev {
    uint64_t base;
    uint32_t size;
    uint32_t irq;
};

struct tern_metal_cmdline {
    bool halt_set;
    uint8_t halt_code;
    enum tern_metal_fault fault;
    uint32_t delay_ms;
    bool reboot;
    uint32_t ip, mask, gw; /* host byte order; ip 0: use DHCP */
    bool tls_selftest;     /* tls_selftest=1 */
    bool log_set;          /* log= given: console_level holds it */
    enum tern_log_level console_level;
    struct tern_metal_mmio_dev mmio[TERN_METAL_MMIO_MAX]; /* in command-line order */
    uint32_t nmmio;
    uint32_t ignored;      /* tokens counted and dropped */
};

/* Fills *out from text[0..len). Always succeeds; out is fully written. */
void tern_metal_cmdline_parse(struct tern_metal_cmdline *out, const char *text, size_t len);

#endif
