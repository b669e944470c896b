/*
 * Interface: the bare-metal backend's pieces and its one context struct.
 *
 * kmain() (main.c) owns a struct metal and passes it to every piece; the
 * platform ops (platform.h) get it back as ctx. The only state outside it
 * is what the CPU itself reads (GDT, IDT, TSS, the boot and IST stacks),
 * the LAPIC address the interrupt stubs use, and the one pointer to the
 * machine the timer interrupt needs (cpu.c: the watchdog), in cpu.c and
 * entry.S.
 *
 * Bring-up order (each step may use only those before it), the same
 * after either entry (boot_info.h: UEFI's loader or the PVH entry):
 *   serial_init -> cpu_init (GDT, TSS, IDT) -> NX check -> mm_init (page allocator,
 *   heap, own page tables) -> clock_init (TSC vs PIT,
 *   LAPIC timer) -> ACPI tables -> PCI enumeration -> RDRAND/RDSEED
 *   (CPUID) -> the command line (fw_cfg, or the PVH entry's) -> core ->
 *   virtio devices (devices.c: PCI, then MMIO from the command line and
 *   the DSDT) -> the entropy check (main.c: no source halts,
 *   METAL_HALT_NO_ENTROPY).
 */
#ifndef TERN_METAL_H
#define TERN_METAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acpi.h"
#include "boot_info.h"
#include "cmdline.h"
#include "pci.h"
#include "virtio.h"
#include "tern/boot_https.h"
#include "tern/boot_net.h"
#include "tern/disk.h"
#include "tern/manifest.h"
#include "tern/platform.h"
#include "tern/services.h"
#include "tern/boot_pkg.h"
#include "tern/workload.h"

/* QEMU's isa-debug-exit: writing v makes QEMU exit with (v << 1) | 1. */
#define METAL_DEBUG_EXIT_PORT   0xf4
#define METAL_PANIC_EXIT_VALUE  0x23   /* QEMU exit status 71 */

/* Halt codes of a normal boot that cannot serve (services.c); QEMU exit
 * status (code << 1) | 1. */
#define METAL_HALT_NO_DISK    3   /* status 7 */
#define METAL_HALT_BAD_DISK   4   /* status 9 */
#define METAL_HALT_BAD_IMAGE  5   /* status 11 */
#define METAL_HALT_NO_NIC     6   /* status 13 */
#define METAL_HALT_SERVICE    8   /* status 17 */
/* Before the core's services, on every boot (main.c): no entropy source
 * (no RDRAND/RDSEED in CPUID and no virtio-rng), or one failing its
 * first read. */
#define METAL_HALT_NO_ENTROPY 9   /* status 19 */
/* Before Tern's own page tables (main.c): a CPU without NX
 * (execute-disable, CPUID 0x80000001 EDX bit 20), on which every page
 * Tern maps non-executable would be a reserved-bit fault. */
#define METAL_HALT_NO_NX      10  /* status 21 */
#define METAL_HALT_WORKLOAD   12  /* status 25: manifest or app refused */

struct metal_clock {
    uint64_t tsc0;           /* TSC at UEFI entry: monotonic zero */
    uint64_t tsc_hz;
    bool tsc_from_cpuid;     /* CPUID 0x15, else measured against the PIT */
    bool no_pit;             /* neither: the rate is a guess (1 GHz) */
    uint64_t provisional_hz; /* the first estimate (1-10 ms of PIT) */
    bool refined;            /* the rate is final (refined, CPUID, or given up) */
    uint32_t refine_ms;      /* the window the refined rate came from */
    uint64_t cal_start;      /* TSC at the start of the PIT window */
    uint64_t cal_start_err;  /* half the bracket around that start */
    uint16_t cal_count;      /* the PIT count read at that start */
    uint64_t base_tsc, base_ns; /* ns = base_ns + ((tsc - base_tsc) * mult >> 32) */
    uint64_t mult;
    uint64_t last_ns;        /* never report less than this */
    bool invariant_tsc;
    uint64_t lapic_base;
    uint64_t lapic_hz;       /* LAPIC timer ticks per second (after divide) */
    uint64_t lapic_per_tsc;  /* LAPIC ticks per TSC tick, 32.32 fixed point */
    uint64_t lapic_mult;     /* ticks = (ns * lapic_mult) >> 32 */
    uint64_t wakeups;        /* hlt wake-ups (timer or other interrupt) */
    uint64_t idle_tsc;       /* TSC ticks spent in hlt: busy = TSC - idle_tsc */
    volatile bool sleeping;  /* in clock_sleep_until's hlt */
    uint32_t tick_lapic;     /* the busy tick's length in LAPIC ticks; 0: none */
};

/* The watchdog over app threads (cpu.c, docs/baremetal.md): the LAPIC
 * timer ticks every TERN_WATCHDOG_TICK_MS while the core is busy, and
 * each tick feeds core's rule (tern_watchdog_tick) the busy time since
 * the last one. */
struct metal_watchdog {
    struct tern_watchdog wd;
    struct tern_os *os;
    uint64_t last_busy_tsc;  /* busy TSC ticks at the previous tick */
    uint64_t carry_ns;       /* busy time not yet counted as whole ms */
    uint64_t ticks;          /* busy ticks taken */
};

/* Page-table entry bits (Intel SDM vol. 3, 4.5). */
#define PTE_P   (1ull << 0)
#define PTE_W   (1ull << 1)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_PS  (1ull << 7)
#define PTE_NX  (1ull << 63)

#define METAL_MM_RANGES 64
#define METAL_BLK_MAX 4
#define METAL_VIRTIO_MAX 16

/* The physical page allocator (free ranges, 4 KiB granules) and the page
 * tables (mm.c). */
#define METAL_MM_BOOT_TABLES 16

struct metal_mm {
    /* The first page-table pages (the boot map needs ~10): in the
     * kernel's BSS, which the loader has already written, so building
     * the map touches no fresh guest RAM (docs/baremetal.md, boot time). */
    uint8_t boot_tables[METAL_MM_BOOT_TABLES][4096] __attribute__((aligned(4096)));
    unsigned boot_tables_used;
    struct { uint64_t start, end; } free[METAL_MM_RANGES];
    unsigned nfree;
    uint64_t free_pages;
    uint64_t lost_pages;      /* ranges beyond METAL_MM_RANGES: never used */
    uint64_t *pml4;
    uint64_t table_pages;
    uint64_t mapped_top;      /* [0, mapped_top) identity-mapped at boot */
    uint64_t text_start, text_end;
    uint64_t exec_pages;
    uint64_t stack_pages;     /* thread stacks with their guard pages */
    bool active;              /* CR3 points at pml4 */
};

/* What a normal boot serves (services.c): the disk, the network (core's
 * bring-up), the HTTP service and the workload. The HTTP connection pool
 * and its socket slots (~2 MB for 64 connections: each has a 16 KiB
 * output buffer and a 4 KiB receive buffer) come from the heap, not BSS:
 * the loader zeroes BSS, and every first touch of a fresh guest page
 * costs a host page fault under QEMU (issue #6). The heap does not zero;
 * the core initialises only what it reads, so a boot touches a few pages
 * of the pool. */
struct metal_services {
    struct tern_disk disk;
    struct tern_disk_data data;
    struct tern_boot_net network;
    struct tern_services http;           /* pool and slots from the heap */
    struct tern_boot_https https;        /* core's HTTPS, its listeners from the heap */
    bool tls_selftest_passed;            /* metal_tls_boot's self-test ran and passed */
    struct tern_manifest manifest;       /* resolved */
    struct tern_workload_files files;    /* where its other files are (HTTPS's cert, key) */
    const void *app;                     /* its app file */
    size_t app_len;
    const char *source;
    struct tern_workload workload;
    struct tern_boot_pkg pkg;            /* trust, the A/B slots, what runs */
};

struct metal {
    const struct tern_boot_info *boot;
    struct metal_clock clock;
    struct metal_mm mm;
    struct metal_watchdog watchdog;
    struct metal_acpi acpi;
    struct metal_pci pci;
    struct metal_net net[METAL_NET_MAX];
    unsigned nnet;
    unsigned nnet_failed;    /* virtio-net devices found that did not start */
    struct metal_blk blk[METAL_BLK_MAX];
    unsigned nblk;
    struct metal_rng rng;
    /* Where the virtio devices are (devices.c); drivers point into it. */
    struct metal_virtio_loc vloc[METAL_VIRTIO_MAX];
    unsigned nvloc;
    /* virtio-rng bytes fetched ahead, each handed out once (then zeroed):
     * the last rng_pool_left bytes are unused (0, as zeroed: empty). */
    uint8_t rng_pool[256];
    size_t rng_pool_left;
    bool poll_devices;        /* a device without an interrupt: wait() polls */
    void *heap_base;
    size_t heap_size;
    uint64_t usable_bytes;    /* all conventional memory in the map */
    bool have_rdrand, have_rdseed;
    uint64_t rng_retries;     /* RDRAND/RDSEED underflows retried */
    struct tern_metal_cmdline cmdline;
    bool fw_cfg_present;
    char cmdline_text[TERN_METAL_CMDLINE_MAX];
    struct metal_services svc;
};

/* serial.c: COM1, 16550, 115200 8N1, polled. */
void serial_init(void);
void serial_write(const char *buf, size_t len);
/* Formats with tern_vsnprintf and writes the result (a line at most 256 B). */
void serial_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cpu.c: own GDT (with a TSS whose IST1 stack takes #DF, NMI, #MC and
 * IST2 the LAPIC timer and device interrupts) and an IDT whose 32
 * exception vectors print a register dump and the TERN_PANIC line (or,
 * for a fault in the app, TERN_APP_EXIT reason=crash:...), then leave
 * QEMU. Interrupts stay disabled. m is the machine the exception path
 * and the timer interrupt use (the one pointer cpu.c keeps). */
void cpu_init(struct metal *m);
/* Starts the watchdog over os's app threads (limit_ms of busy time
 * without progress, core's rule): arms the busy tick (the timer
 * interrupt finds m through cpu_init's pointer and does nothing before
 * this). The caller then runs the loop with interrupts enabled (metal_wait disables
 * them for its own check and sleep). */
void cpu_watchdog_start(struct metal *m, struct tern_os *os, uint32_t limit_ms);
/* Leaves QEMU through isa-debug-exit with value v; cli;hlt when absent. */
__attribute__((noreturn)) void metal_exit(uint8_t v);

/* clock.c. Calibrates the TSC against PIT channel 0 (a provisional rate
 * from ~1 ms) and the LAPIC timer against the TSC; arms the LAPIC timer
 * interrupt. */
void clock_init(struct metal *m);
/* Refines the TSC rate over the PIT window clock_init started, once it is
 * >= 20 ms long (now: at once, keeping the provisional rate when the
 * window is void); sets clock.refined when the rate is final. A timer
 * in main.c calls it after boot. */
void clock_refine(struct metal *m, bool now);
uint64_t clock_now_ns(struct metal *m);
/* Microseconds the calibrated clock counts during ms (<= 54) of PIT
 * channel 0: the calibration's accuracy check (tests only, it spins). */
uint64_t clock_check_pit_us(struct metal *m, uint32_t ms);
/* Sleeps (sti;hlt) until clock_now_ns() >= deadline_ns;
 * UINT64_MAX sleeps until any interrupt. Returns with interrupts
 * disabled (callers that came with them enabled use irq_save and
 * irq_restore around their check-and-sleep), the hlt's time counted in
 * idle_tsc and the busy tick re-armed. */
void clock_sleep_until(struct metal *m, uint64_t deadline_ns);
/* The busy tick: a one-shot of ms on the LAPIC timer, re-armed by
 * clock_tick_arm (the timer interrupt, and every sleep on waking). */
void clock_tick_start(struct metal *m, uint32_t ms);
void clock_tick_arm(struct metal *m);
/* TSC ticks in ns at the clock's rate. */
uint64_t clock_tsc_ns(const struct metal *m, uint64_t ticks);

/* mm.c (see its Interface comment). mm_init panics on failure. */
void mm_init(struct metal *m);
/* n zeroed, identity-mapped 4 KiB pages, or NULL. */
void *mm_alloc_pages(struct metal *m, size_t n);
void mm_free_pages(struct metal *m, void *p, size_t n);
/* Identity-maps [pa, pa+size) with flags (PTE_W, PTE_NX, PTE_PCD...).
 * TERN_OK, TERN_EINVAL, TERN_ENOMEM. */
tern_result mm_map(struct metal *m, uint64_t pa, uint64_t size, uint64_t flags);
/* Sets the flags of every 4 KiB page of [va, va+size) (splitting 2 MiB
 * pages); flags must include PTE_P to keep them present. */
tern_result mm_protect(struct metal *m, uint64_t va, uint64_t size, uint64_t flags);
/* The flags of the page mapping va; TERN_ENOENT when not present. */
tern_result mm_query(struct metal *m, uint64_t va, uint64_t *out_flags);
tern_result mm_exec_alloc(struct metal *m, size_t size, void **out);
tern_result mm_exec_seal(struct metal *m, void *ptr, size_t size);
tern_result mm_exec_readonly(struct metal *m, void *ptr, size_t size);
tern_result mm_exec_free(struct metal *m, void *ptr, size_t size);
/* A thread stack of size bytes (page multiple) with a not-present guard
 * page below it, and back. TERN_OK, TERN_ENOMEM. */
tern_result mm_stack_alloc(struct metal *m, size_t size, void **out);
void mm_stack_free(struct metal *m, void *stack, size_t size);

/* True when [base, base+size) overlaps RAM (any kind the memory map
 * calls memory) in the boot memory map. */
bool mm_overlaps_ram(struct metal *m, uint64_t base, uint64_t size);

/* devices.c: finds the virtio devices (PCI, virtio_mmio.device= on the
 * command line, the DSDT) and starts their drivers (see its Interface
 * comment); after the command line is parsed and the core is up. */
struct tern_os;
void metal_devices_probe(struct metal *m, struct tern_os *os);

/* ioapic.c: routes global system interrupt gsi to vector on this CPU
 * (edge, active high) through the MADT's I/O APIC that has it. TERN_OK,
 * TERN_ENOTSUP (no I/O APIC takes it). */
tern_result ioapic_route(struct metal *m, uint32_t gsi, uint8_t vector);

/* fwcfg.c: copies QEMU's fw_cfg file `name` into buf (NUL-terminated, cut
 * to cap - 1). Returns its length, or -1 when fw_cfg or the file is
 * absent. *present says whether fw_cfg itself answered. */
int fwcfg_read_file(const char *name, char *buf, size_t cap, bool *present);

/* power.c: leaving the machine. metal_power_off(m, code) writes code to
 * isa-debug-exit (QEMU exits with (code << 1) | 1 when the device is
 * there), then enters ACPI S5 (PM1a_CNT with the DSDT's SLP_TYPa, or on
 * a hardware-reduced machine the FADT's sleep control register), and
 * stops the CPU if all are absent. metal_reboot() uses the FADT reset
 * register (I/O or memory), then the 8042 pulse, then a triple fault.
 * metal_power_button() reports (and clears) a pressed ACPI power button
 * (PM1 status, or the Generic Event Device's power-down event); wait()
 * polls it every METAL_PWRBTN_POLL_NS (the SCI, or the GED's interrupt,
 * would need the interrupt's AML methods). */
#define METAL_PWRBTN_POLL_NS 50000000ull
__attribute__((noreturn)) void metal_power_off(struct metal *m, uint8_t code);
__attribute__((noreturn)) void metal_reboot(struct metal *m);
bool metal_power_button(struct metal *m);
/* Sets PWRBTN_EN, without which the status bit never latches. */
void metal_power_button_enable(struct metal *m);

/* services.c: disk, network, HTTP on a normal boot (see its Interface
 * comment), in m->svc. 0, or a METAL_HALT_* code after logging what is
 * missing. */
struct tern_os;
int metal_services_start(struct tern_os *os, struct metal *m);
void metal_services_stop(struct metal *m);
/* The running workload, or NULL before it started (for the trap path;
 * m may be NULL). */
struct tern_workload *metal_services_workload(struct metal *m);

/* The platform ops (main.c). */
struct tern_platform metal_platform(struct metal *m);
/* "UEFI" or "PVH": the entry that started this boot, for log lines. */
const char *metal_entry_name(const struct metal *m);
/* The one kernel main both entries call with the machine description
 * they filled (main.c; boot_info.h). */
void kmain(const struct tern_boot_info *info) __attribute__((noreturn));

#endif
