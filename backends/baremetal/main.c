/*
 * Interface: the bare-metal kernel's main and its platform ops.
 *
 * kmain(info) is called once by either entry, with the machine
 * description they filled (boot_info.h): _start (entry.S) after the UEFI
 * loader left boot services, or pvh_main (pvh_boot.c) after the PVH
 * entry. It brings the machine up (metal.h lists the order),
 * then runs the very same core as every other backend:
 * tern_config_default, tern_os_init (TERN_BOOT_OK), tern_os_run, and on
 * halt leaves QEMU through isa-debug-exit with the halt code (QEMU exit
 * status (code << 1) | 1), or stops the CPU when that device is absent.
 *
 * Platform contract on metal (include/tern/platform.h):
 *   monotonic_ns  TSC since the entry (clock.c)       wall_ns      not provided
 *   console_write COM1 (serial.c)                     entropy      RDRAND (else RDSEED) XOR virtio-rng
 *   net_*         virtio-net (virtio_net.c)           block_*      virtio-blk (virtio_blk.c)
 *   heap_region   largest conventional region >= 1 MiB from the UEFI map (mm.c)
 *   exec_alloc/seal/free  pages from mm.c's allocator, RW+NX, sealed to RX (W^X)
 *   exec_readonly         those pages made R+NX (an app's rodata and RELRO)
 *   stack_alloc/free      thread stacks from mm.c's allocator over a not-present guard page
 *   wait          LAPIC one-shot + sti;hlt, woken by MSI-X; ready bits from the rx rings
 *   panic         isa-debug-exit(METAL_PANIC_EXIT_VALUE), then cli;hlt
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libc/tern_libc_heap.h"
#include "metal.h"
#include "mbedtls/metal_tls.h"
#include "tern/fmt.h"
#include "tern/net.h"
#include "tern/os.h"
#include "tern/thread.h"
#include "x86.h"

#define RNG_RETRIES 16
#define ONE_MIB (1024u * 1024u)


/* ---- platform ops ---- */

static uint64_t metal_monotonic_ns(void *ctx)
{
    return clock_now_ns(ctx);
}

static void metal_console_write(void *ctx, const char *buf, size_t len)
{
    (void)ctx;
    serial_write(buf, len);
}

static bool rdrand64(uint64_t *v)
{
    unsigned char ok;
    __asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok) : : "cc");
    return ok;
}

static bool rdseed64(uint64_t *v)
{
    unsigned char ok;
    __asm__ volatile("rdseed %0; setc %1" : "=r"(*v), "=qm"(ok) : : "cc");
    return ok;
}

/* RDRAND, else RDSEED: only what CPUID reported (either instruction is
 * #UD on a CPU without it, e.g. QEMU's default qemu64 model). */
static tern_result cpu_entropy(struct metal *m, void *buf, size_t len)
{
    if (!m->have_rdrand && !m->have_rdseed)
        return TERN_EIO;
    uint8_t *p = buf;
    while (len > 0) {
        uint64_t v = 0;
        bool ok = false;
        for (int i = 0; i < RNG_RETRIES && !ok; i++) {
            ok = m->have_rdrand ? rdrand64(&v) : rdseed64(&v);
            if (!ok) {
                m->rng_retries++;
                __asm__ volatile("pause");
            }
        }
        if (!ok)
            return TERN_EIO;
        size_t n = len < sizeof(v) ? len : sizeof(v);
        memcpy(p, &v, n);
        p += n;
        len -= n;
    }
    return TERN_OK;
}

/* RDRAND (else RDSEED) and virtio-rng, XORed when both are there: the
 * result is at least as good as the better of the two. One failing source
 * is enough to fail the call (a broken source is not silently dropped). */
static tern_result metal_entropy(void *ctx, void *buf, size_t len)
{
    struct metal *m = ctx;
    bool cpu = m->have_rdrand || m->have_rdseed;
    if (!cpu && !m->rng.present)
        return TERN_EIO;
    if (cpu && cpu_entropy(m, buf, len) != TERN_OK)
        return TERN_EIO;
    if (!m->rng.present)
        return TERN_OK;
    /* The device's bytes come from a pool filled 256 at a time: a device
     * round trip costs ~0.3-1 ms under TCG, and the core asks for 8-32
     * bytes at a time (net, TCP and DHCP secrets at boot). */
    uint8_t *p = buf;
    while (len > 0) {
        if (m->rng_pool_left == 0) {
            if (virtio_rng_read(m, &m->rng, m->rng_pool, sizeof m->rng_pool) != TERN_OK)
                return TERN_EIO;
            m->rng_pool_left = sizeof m->rng_pool;
        }
        uint8_t *chunk = m->rng_pool + sizeof m->rng_pool - m->rng_pool_left;
        size_t n = m->rng_pool_left < len ? m->rng_pool_left : len;
        for (size_t i = 0; i < n; i++)
            p[i] = cpu ? (uint8_t)(p[i] ^ chunk[i]) : chunk[i];
        memset(chunk, 0, n);                 /* never handed out twice */
        m->rng_pool_left -= n;
        p += n;
        len -= n;
    }
    return TERN_OK;
}

static unsigned metal_net_count(void *ctx)
{
    return ((struct metal *)ctx)->nnet;
}

static tern_result metal_net_info(void *ctx, unsigned idx, struct tern_net_info *out)
{
    struct metal *m = ctx;
    if (idx >= m->nnet)
        return TERN_ENOENT;
    memset(out, 0, sizeof(*out));
    memcpy(out->mac, m->net[idx].mac, TERN_MAC_LEN);
    out->mtu = m->net[idx].mtu;
    out->offloads = m->net[idx].offloads;
    tern_snprintf(out->name, sizeof(out->name), "virtio%u", idx);
    return TERN_OK;
}

static tern_result metal_net_send(void *ctx, unsigned idx, const void *frame, size_t len)
{
    struct metal *m = ctx;
    if (idx >= m->nnet)
        return TERN_EINVAL;
    return virtio_net_send(&m->net[idx], frame, len, NULL);
}

static tern_result metal_net_send_meta(void *ctx, unsigned idx, const void *frame, size_t len,
                                       const struct tern_net_meta *meta)
{
    struct metal *m = ctx;
    if (idx >= m->nnet)
        return TERN_EINVAL;
    return virtio_net_send(&m->net[idx], frame, len, meta);
}

static tern_result metal_net_recv(void *ctx, unsigned idx, void *buf, size_t cap,
                                  size_t *out_len)
{
    struct metal *m = ctx;
    if (idx >= m->nnet)
        return TERN_EINVAL;
    return virtio_net_recv(&m->net[idx], buf, cap, out_len, NULL);
}

static tern_result metal_net_recv_meta(void *ctx, unsigned idx, void *buf, size_t cap,
                                       size_t *out_len, struct tern_net_meta *meta)
{
    struct metal *m = ctx;
    if (idx >= m->nnet)
        return TERN_EINVAL;
    return virtio_net_recv(&m->net[idx], buf, cap, out_len, meta);
}

static unsigned metal_block_count(void *ctx)
{
    return ((struct metal *)ctx)->nblk;
}

static tern_result metal_block_info(void *ctx, unsigned idx, struct tern_block_info *out)
{
    struct metal *m = ctx;
    if (idx >= m->nblk)
        return TERN_ENOENT;
    memset(out, 0, sizeof(*out));
    out->sector_size = 512;
    out->sector_count = m->blk[idx].sectors;
    out->read_only = m->blk[idx].read_only;
    tern_snprintf(out->name, sizeof(out->name), "vblk%u", idx);
    return TERN_OK;
}

static tern_result metal_block_read(void *ctx, unsigned idx, uint64_t lba, void *buf,
                                    uint32_t count)
{
    struct metal *m = ctx;
    if (idx >= m->nblk)
        return TERN_EINVAL;
    return virtio_blk_rw(m, &m->blk[idx], false, lba, buf, count);
}

static tern_result metal_block_write(void *ctx, unsigned idx, uint64_t lba, const void *buf,
                                     uint32_t count)
{
    struct metal *m = ctx;
    if (idx >= m->nblk)
        return TERN_EINVAL;
    return virtio_blk_rw(m, &m->blk[idx], true, lba, (void *)(uintptr_t)buf, count);
}

static tern_result metal_block_flush(void *ctx, unsigned idx)
{
    struct metal *m = ctx;
    if (idx >= m->nblk)
        return TERN_EINVAL;
    return virtio_blk_flush(m, &m->blk[idx]);
}

static tern_result metal_heap_region(void *ctx, void **out_base, size_t *out_size)
{
    struct metal *m = ctx;
    if (m->heap_base == NULL)
        return TERN_ENOMEM;
    *out_base = m->heap_base;
    *out_size = m->heap_size;
    return TERN_OK;
}

static tern_result metal_exec_alloc(void *ctx, size_t size, void **out)
{
    return mm_exec_alloc(ctx, size, out);
}

static tern_result metal_exec_seal(void *ctx, void *ptr, size_t size)
{
    return mm_exec_seal(ctx, ptr, size);
}

static tern_result metal_exec_readonly(void *ctx, void *ptr, size_t size)
{
    return mm_exec_readonly(ctx, ptr, size);
}

static tern_result metal_exec_free(void *ctx, void *ptr, size_t size)
{
    return mm_exec_free(ctx, ptr, size);
}

static tern_result metal_stack_alloc(void *ctx, size_t size, void **out)
{
    return mm_stack_alloc(ctx, size, out);
}

static void metal_stack_free(void *ctx, void *stack, size_t size)
{
    mm_stack_free(ctx, stack, size);
}

/* Acknowledges each NIC's interrupt before its ring is looked at: a
 * completion after that is a new interrupt (virtio_mmio.c). */
static uint64_t ready_bits(struct metal *m)
{
    uint64_t r = 0;
    for (unsigned i = 0; i < m->nnet; i++) {
        virtio_irq_ack(&m->net[i].v);
        if (virtio_net_ready(&m->net[i]))
            r |= TERN_READY_NET(i);
    }
    return r;
}

static void metal_wait(void *ctx, uint64_t deadline_ns, uint64_t *ready)
{
    struct metal *m = ctx;
    /* Interrupts are off here: a completion that arrives after the check
     * stays pending and wakes the sti;hlt at once (its shadow). The loop
     * and its threads run with them on (the watchdog's tick). */
    cli();
    for (;;) {
        *ready = ready_bits(m);
        if (metal_power_button(m))
            *ready |= TERN_READY_SHUTDOWN; /* reported once: the bit is cleared */
        if (*ready != 0 || deadline_ns == 0)
            break;
        uint64_t now = clock_now_ns(m);
        if (deadline_ns != UINT64_MAX && now >= deadline_ns)
            break;
        uint64_t until = deadline_ns;
        if (m->poll_devices && (until == UINT64_MAX || until - now > METAL_POLL_NS))
            until = now + METAL_POLL_NS;
        if ((m->acpi.pm1a_evt != 0 || m->acpi.ged_event != 0) &&
            (until == UINT64_MAX || until - now > METAL_PWRBTN_POLL_NS))
            until = now + METAL_PWRBTN_POLL_NS;
        clock_sleep_until(m, until);
    }
    sti();
}

static __attribute__((noreturn)) void metal_panic(void *ctx, const char *reason)
{
    (void)ctx;
    (void)reason; /* the core already printed TERN_PANIC reason=... */
    metal_exit(METAL_PANIC_EXIT_VALUE);
}

static const struct tern_platform_ops metal_ops = {
    TERN_PLATFORM_OPS_HEADER,
    .monotonic_ns = metal_monotonic_ns,
    .wall_ns = NULL,
    .console_write = metal_console_write,
    .entropy = metal_entropy,
    .net_count = metal_net_count,
    .net_info = metal_net_info,
    .net_send = metal_net_send,
    .net_recv = metal_net_recv,
    .net_send_meta = metal_net_send_meta,
    .net_recv_meta = metal_net_recv_meta,
    .block_count = metal_block_count,
    .block_info = metal_block_info,
    .block_read = metal_block_read,
    .block_write = metal_block_write,
    .block_flush = metal_block_flush,
    .heap_region = metal_heap_region,
    .exec_alloc = metal_exec_alloc,
    .exec_seal = metal_exec_seal,
    .exec_free = metal_exec_free,
    .exec_readonly = metal_exec_readonly,
    .stack_alloc = metal_stack_alloc,
    .stack_free = metal_stack_free,
    .wait = metal_wait,
    .panic = metal_panic,
    .name = "baremetal",
};

struct tern_platform metal_platform(struct metal *m)
{
    return (struct tern_platform){ .ops = &metal_ops, .ctx = m };
}

const char *metal_entry_name(const struct metal *m)
{
    return m->boot->entry == TERN_BOOT_ENTRY_PVH ? "PVH" : "UEFI";
}

/* ---- bring-up ---- */

/* ACPI tables are read through the identity map, inside the boot map only. */
static const void *acpi_map(void *ctx, uint64_t phys, size_t len)
{
    struct metal *m = ctx;
    if (phys == 0 || phys + len < phys || phys + len > m->mm.mapped_top)
        return NULL;
    return (const void *)(uintptr_t)phys;
}

/* Entropy is REQUIRED (platform.h): TCP's keys, DHCP and DNS ids, the
 * TLS DRBG draw from it. A machine with no source at all, or whose source
 * fails its first read, halts here with METAL_HALT_NO_ENTROPY (after
 * the virtio drivers, since virtio-rng may be the only source), before
 * anything could need a secret. */
static void check_entropy(struct metal *m, struct tern_os *os)
{
    const char *cpu = m->have_rdrand ? "rdrand" : m->have_rdseed ? "rdseed" : NULL;
    if (cpu == NULL && !m->rng.present) {
        tern_log(os, TERN_LOG_ERROR, "metal",
                 "no entropy source (the CPU has neither RDRAND nor RDSEED, and there is no "
                 "virtio-rng): halting with code %d",
                 METAL_HALT_NO_ENTROPY);
        metal_power_off(m, METAL_HALT_NO_ENTROPY);
    }
    char sources[32];
    tern_snprintf(sources, sizeof sources, "%s%s%s", cpu ? cpu : "",
                  cpu && m->rng.present ? "+" : "", m->rng.present ? "virtio-rng" : "");
    uint8_t probe[16];
    tern_result r = metal_entropy(m, probe, sizeof probe);
    memset(probe, 0, sizeof probe);
    tern_log(os, TERN_LOG_INFO, "metal", "rng %s (%s)", sources,
             r == TERN_OK ? "read ok" : "read failed");
    if (r != TERN_OK) {
        char retries[40] = "";
        if (cpu != NULL)
            tern_snprintf(retries, sizeof retries, " (%llu %s underflows retried)",
                          (unsigned long long)m->rng_retries, cpu);
        tern_log(os, TERN_LOG_ERROR, "metal",
                 "entropy source %s failed its first read%s: halting with code %d", sources,
                 retries, METAL_HALT_NO_ENTROPY);
        metal_power_off(m, METAL_HALT_NO_ENTROPY);
    }
}

/* W^X needs NX: mm.c maps everything but kernel text non-executable,
 * and on a CPU without NX (some early x86-64 parts; QEMU's `-cpu
 * qemu64,-nx`) EFER.NXE does not stick and every such page is a
 * reserved-bit #PF, the handler's stack included: a triple fault with
 * nothing said. So the CPU is asked first, and one without NX halts
 * with METAL_HALT_NO_NX (the core is not up yet: straight to COM1). */
static void require_nx(void)
{
    uint32_t a, b, c, d;
    cpuid(0x80000000u, 0, &a, &b, &c, &d);
    bool nx = false;
    if (a >= 0x80000001u) {
        cpuid(0x80000001u, 0, &a, &b, &c, &d);
        nx = (d >> 20) & 1;
    }
    if (nx)
        return;
    serial_printf("error metal: the CPU has no NX (execute-disable, CPUID 0x80000001 EDX "
                  "bit 20), which W^X needs: halting with code %d\n",
                  METAL_HALT_NO_NX);
    metal_exit(METAL_HALT_NO_NX);
}

static void detect_rng(struct metal *m)
{
    uint32_t a, b, c, d;
    cpuid(0, 0, &a, &b, &c, &d);
    uint32_t max_leaf = a;
    cpuid(1, 0, &a, &b, &c, &d);
    m->have_rdrand = (c >> 30) & 1;
    if (max_leaf >= 7) {
        cpuid(7, 0, &a, &b, &c, &d);
        m->have_rdseed = (b >> 18) & 1;
    }
}

static void *libc_heap_alloc(void *ctx, size_t size)
{
    return tern_alloc(ctx, size);
}

static void libc_heap_free(void *ctx, void *p)
{
    tern_free(ctx, p);
}

/* malloc (cJSON's allocator, for the manifest) takes from the core heap. */
static void use_core_heap_for_libc(struct tern_os *os)
{
    const struct tern_libc_heap heap = { libc_heap_alloc, libc_heap_free, os };
    tern_libc_set_heap(&heap);
}

/* Runs musl's formatting, number parsing and scanning once on this
 * machine (they are compiled freestanding, x87 long double included) and
 * the malloc family over the core heap, and compares with known answers.
 * Returns NULL or what differed. */
static const char *libc_selfcheck(void)
{
    char buf[96];
    snprintf(buf, sizeof(buf), "%d|%5s|%#x|%.3f|%Le|%llu", -42, "ab", 255, 2.5,
             (long double)1e10, 18446744073709551615ull);
    if (strcmp(buf, "-42|   ab|0xff|2.500|1.000000e+10|18446744073709551615") != 0)
        return "snprintf";
    char *end;
    if (strtol("  -0x7fz", &end, 0) != -127 || *end != 'z')
        return "strtol";
    if (strtoull("18446744073709551615", &end, 10) != 18446744073709551615ull || *end)
        return "strtoull";
    if (strtod("2.5e-3", &end) != 2.5e-3 || *end)
        return "strtod";
    double d;
    if (sscanf("1.5e3", "%lg", &d) != 1 || d != 1.5e3)
        return "sscanf";
    /* The malloc family over the core heap (cJSON's allocator). */
    char *p = malloc(5);
    if (p == NULL)
        return "malloc";
    memcpy(p, "tern", 5);
    char *q = realloc(p, 4096);
    if (q == NULL || strcmp(q, "tern") != 0) {
        free(q ? q : p);
        return "realloc";
    }
    free(q);
    return NULL;
}

struct test_actions {
    struct tern_timer timer;
    uint64_t spins;               /* fault=spin's thread counts here */
};

/* Finds a canonical address whose top-level page-table entry is not
 * present, so touching it is a #PF whatever the firmware mapped. */
static volatile uint64_t *unmapped_address(void)
{
    const uint64_t *pml4 = (const uint64_t *)(read_cr3() & 0x000ffffffffff000ull);
    for (unsigned i = 255; i > 0; i--)
        if ((pml4[i] & 1) == 0)
            return (volatile uint64_t *)((uint64_t)i << 39);
    return (volatile uint64_t *)0x00007ffffffff000ull;
}

/* 0, hidden from the optimiser (a literal NULL dereference is UB it may
 * drop). */
static uintptr_t null_address(void)
{
    uintptr_t p = 0;
    __asm__ volatile("" : "+r"(p));
    return p;
}

/* W^X through the platform ops: write `mov $0x2a, %eax; ret` into a fresh
 * exec_alloc page, seal it, run it (must return 42), then write to it,
 * which must fault (#PF with err bit 1, write to a present page). */
static void wx_test(struct tern_os *os)
{
    const struct tern_platform_ops *ops = os->plat.ops;
    void *ctx = os->plat.ctx;
    void *page = NULL;
    if (ops->exec_alloc(ctx, 4096, &page) != TERN_OK)
        tern_panic(os, "wx: exec_alloc failed");
    static const uint8_t code[] = { 0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3 };
    memcpy(page, code, sizeof(code));
    if (ops->exec_seal(ctx, page, 4096) != TERN_OK)
        tern_panic(os, "wx: exec_seal failed");
    int (*fn)(void) = (int (*)(void))page;
    int r = fn();
    tern_log(os, TERN_LOG_INFO, "metal", "wx: sealed page 0x%llx ran, returned %d",
             (unsigned long long)(uintptr_t)page, r);
    if (r != 42)
        tern_panic(os, "wx: sealed code returned %d", r);
    tern_log(os, TERN_LOG_WARN, "metal", "wx: writing to the sealed page");
    *(volatile uint8_t *)page = 0xc3;
    tern_panic(os, "wx: write to a sealed page did not fault");
}

/* Finishes the clock calibration once its PIT window is long enough (see
 * clock.c) and says what it found; tries again while it cannot. */
static void refine_clock(struct tern_timer *t, void *arg)
{
    struct tern_os *os = arg;
    struct metal *m = os->plat.ctx;
    clock_refine(m, false);
    if (!m->clock.refined) {
        (void)tern_timer_arm(os, t, tern_now_ns(os) + 21000000u);
        return;
    }
    uint64_t p = m->clock.provisional_hz, hz = m->clock.tsc_hz;
    uint64_t ppm = (p > hz ? p - hz : hz - p) * 1000000u / hz;
    tern_log(os, TERN_LOG_INFO, "metal",
             "clock refined over %u ms of PIT: tsc %llu kHz (the provisional rate was %llu ppm "
             "off), lapic timer %llu kHz",
             (unsigned)m->clock.refine_ms, (unsigned long long)(hz / 1000),
             (unsigned long long)ppm, (unsigned long long)(m->clock.lapic_hz / 1000));
}

/* fault=spin: a core thread (not the app's) that never yields; the
 * watchdog must stop the machine with a TERN_PANIC. */
static void *spin_forever(void *arg)
{
    volatile uint64_t *n = arg;
    for (;;)
        (*n)++;
    return NULL;
}

static void run_test_actions(struct tern_timer *t, void *arg)
{
    struct tern_os *os = arg;
    struct metal *m = os->plat.ctx;
    tern_log(os, TERN_LOG_INFO, "metal", "test action at %llu ms after %llu timer wake-ups",
             (unsigned long long)tern_now_ms(os), (unsigned long long)m->clock.wakeups);
    tern_log(os, TERN_LOG_INFO, "metal", "clock check: 50 ms of PIT = %llu us on the clock",
             (unsigned long long)clock_check_pit_us(m, 50));
    switch (m->cmdline.fault) {
    case TERN_METAL_FAULT_UD:
        tern_log(os, TERN_LOG_WARN, "metal", "fault=ud: raising #UD");
        __asm__ volatile("ud2");
        break;
    case TERN_METAL_FAULT_PF: {
        volatile uint64_t *p = unmapped_address();
        tern_log(os, TERN_LOG_WARN, "metal", "fault=pf: reading 0x%llx",
                 (unsigned long long)(uintptr_t)p);
        (void)*p;
        break;
    }
    case TERN_METAL_FAULT_DE:
        tern_log(os, TERN_LOG_WARN, "metal", "fault=de: dividing by zero");
        __asm__ volatile("xorl %%ecx, %%ecx; divl %%ecx" : : : "eax", "ecx", "edx", "cc");
        break;
    case TERN_METAL_FAULT_NULL:
        tern_log(os, TERN_LOG_WARN, "metal", "fault=null: reading address 0");
        (void)*(volatile uint64_t *)null_address();
        break;
    case TERN_METAL_FAULT_WX:
        wx_test(os);
        break;
    case TERN_METAL_FAULT_SPIN: {
        struct test_actions *a = TERN_CONTAINER_OF(t, struct test_actions, timer);
        struct tern_thread *spinner;
        if (tern_thread_create(os, "spin", spin_forever, &a->spins, 0, &spinner) != TERN_OK)
            tern_panic(os, "fault=spin: no thread");
        tern_log(os, TERN_LOG_WARN, "metal", "fault=spin: a core thread that never yields");
        return; /* no halt: only the watchdog ends this boot */
    }
    case TERN_METAL_FAULT_NONE:
        break;
    }
    if (m->cmdline.halt_set)
        tern_os_halt(os, m->cmdline.halt_code);
}

/* Everything the kernel owns lives here (it is the machine's one
 * instance; the core gets the machine only through the platform ctx). */
static struct kernel {
    struct metal machine;
    struct tern_os os;
    struct tern_timer clock_timer;       /* refine_clock */
    struct test_actions actions;         /* run_test_actions */
} kernel;

/* The command line into m->cmdline_text: the entry's (PVH: the kernel
 * command line from the start info), else fw_cfg's opt/tern/cmdline.
 * Its length, or -1 when there is none. */
static int read_cmdline(struct metal *m)
{
    const struct tern_boot_info *info = m->boot;
    if (info->entry != TERN_BOOT_ENTRY_PVH)
        return fwcfg_read_file("opt/tern/cmdline", m->cmdline_text, sizeof(m->cmdline_text),
                               &m->fw_cfg_present);
    if (info->cmdline == 0)
        return -1;
    size_t n = info->cmdline_len < sizeof(m->cmdline_text) - 1 ? (size_t)info->cmdline_len
                                                                : sizeof(m->cmdline_text) - 1;
    memcpy(m->cmdline_text, (const void *)(uintptr_t)info->cmdline, n);
    m->cmdline_text[n] = '\0';
    return (int)n;
}

/* Microseconds from the entry (UEFI or PVH) to TSC value tsc (once the clock runs). */
static uint64_t entry_us(const struct metal *m, uint64_t tsc)
{
    const struct metal_clock *c = &m->clock;
    uint64_t ticks = tsc > c->tsc0 ? tsc - c->tsc0 : 0;
    return (uint64_t)(((unsigned __int128)ticks * c->mult) >> 32) / 1000u;
}

void kmain(const struct tern_boot_info *info)
{
    serial_init();
    if (info == NULL || info->magic != TERN_BOOT_MAGIC || info->version != TERN_BOOT_VERSION) {
        serial_printf("TERN_PANIC reason=boot-info-mismatch\n");
        metal_exit(METAL_PANIC_EXIT_VALUE);
    }
    struct metal *m = &kernel.machine;
    m->boot = info;
    uint64_t tsc_kmain = rdtsc();
    cpu_init(m);
    require_nx();   /* before the page tables that depend on it */
    uint64_t tsc_cpu = rdtsc();
    mm_init(m);
    uint64_t tsc_mm = rdtsc();
    clock_init(m);
    uint64_t t_clock = clock_now_ns(m); /* stage times for the "boot stages" line */
    metal_acpi_parse(&m->acpi, info->rsdp, acpi_map, m);
    uint64_t t_acpi = clock_now_ns(m);
    pci_init(m);
    uint64_t t_pci = clock_now_ns(m);
    metal_power_button_enable(m);
    detect_rng(m);

    int n = read_cmdline(m);
    tern_metal_cmdline_parse(&m->cmdline, m->cmdline_text, n > 0 ? (size_t)n : 0);

    struct tern_platform plat = metal_platform(m);
    struct tern_config cfg;
    tern_config_default(&cfg);
    cfg.boot_start_ns = 0; /* the clock's zero is the TSC at the entry (UEFI or PVH) */
    if (m->cmdline.log_set)
        cfg.console_level = m->cmdline.console_level;

    struct tern_os *os = &kernel.os;
    uint64_t t_osinit = clock_now_ns(m);
    if (tern_os_init(os, &plat, &cfg) != TERN_OK) {
        serial_printf("TERN_PANIC reason=core-init-failed\n");
        metal_exit(METAL_PANIC_EXIT_VALUE);
    }
    uint64_t t_core = clock_now_ns(m);
    use_core_heap_for_libc(os);
    metal_devices_probe(m, os); /* first: virtio-rng may be the only entropy source */
    uint64_t t_dev = clock_now_ns(m);
    check_entropy(m, os);   /* no source: halts with METAL_HALT_NO_ENTROPY */
    if (metal_tls_boot(os, &m->svc.tls_selftest_passed) != TERN_OK) /* hooks + self-test */
        tern_panic(os, "tls-selftest-failed");
    uint64_t t_tls = clock_now_ns(m);
    /* Detail lines (page tables, ACPI, each PCI function, NIC and disk
     * geometry) go to the log ring at DEBUG: each byte on COM1 costs boot
     * time under TCG (docs/baremetal.md, boot time). The kernel address
     * stays on the console for gdb. */
    tern_log(os, TERN_LOG_INFO, "metal", "kernel at 0x%llx (%llu KiB), boot info at 0x%llx",
             (unsigned long long)info->kernel_base,
             (unsigned long long)(info->kernel_size / 1024),
             (unsigned long long)(uintptr_t)info);
    tern_log(os, TERN_LOG_INFO, "metal", "tsc %llu kHz (%s)%s, lapic timer %llu kHz",
             (unsigned long long)(m->clock.tsc_hz / 1000),
             m->clock.tsc_from_cpuid ? "cpuid 0x15"
             : m->clock.no_pit       ? "no PIT and no CPUID 0x15: a guess"
             : m->clock.refined      ? "pit"
                                     : "pit, provisional: refined after 20 ms",
             m->clock.invariant_tsc ? " invariant" : " (not invariant)",
             (unsigned long long)(m->clock.lapic_hz / 1000));
    if (!m->clock.invariant_tsc)
        tern_log(os, TERN_LOG_WARN, "metal",
                 "TSC not marked invariant: the clock assumes a fixed rate on one CPU");
    if (m->clock.no_pit)
        tern_log(os, TERN_LOG_WARN, "metal",
                 "no PIT answers and CPUID gives no TSC rate: time runs at a guessed 1 GHz");
    tern_log(os, TERN_LOG_INFO, "metal", "memory %llu MiB usable, heap 0x%llx + %llu MiB",
             (unsigned long long)(m->usable_bytes / ONE_MIB),
             (unsigned long long)(uintptr_t)m->heap_base,
             (unsigned long long)(m->heap_size / ONE_MIB));
    tern_log(os, TERN_LOG_DEBUG, "metal",
             "page tables: identity map 0..0x%llx, %llu table pages, NX on, NULL page unmapped, "
             "text 0x%llx-0x%llx RX, %llu pages free",
             (unsigned long long)m->mm.mapped_top, (unsigned long long)m->mm.table_pages,
             (unsigned long long)m->mm.text_start, (unsigned long long)m->mm.text_end,
             (unsigned long long)m->mm.free_pages);
    tern_log(os, TERN_LOG_INFO, "metal", "acpi rsdp 0x%llx (revision %u)",
             (unsigned long long)info->rsdp, info->acpi_revision);
    tern_log(os, TERN_LOG_DEBUG, "metal",
             "acpi: %u tables (%u bad), ecam %s0x%llx bus %u-%u, pm1a_cnt 0x%x, s5 %s%u, reset %s",
             (unsigned)m->acpi.tables, (unsigned)m->acpi.bad_tables,
             m->acpi.have_ecam ? "" : "none ", (unsigned long long)m->acpi.ecam_base,
             m->acpi.ecam_bus_start, m->acpi.ecam_bus_end, (unsigned)m->acpi.pm1a_cnt,
             m->acpi.have_s5 ? "" : "none ", m->acpi.s5_typ, m->acpi.have_reset ? "yes" : "no");
    tern_log(os, TERN_LOG_INFO, "metal", "pci: %u function(s) via %s%s", m->pci.ndevs,
             m->pci.ecam ? "ecam" : "ports 0xcf8/0xcfc", m->pci.dropped ? " (some dropped)" : "");
    for (unsigned i = 0; i < m->pci.ndevs; i++) {   /* BARs: of the functions a driver enabled */
        const struct metal_pci_dev *d = &m->pci.devs[i];
        tern_log(os, TERN_LOG_DEBUG, "metal",
                 "pci %02x:%02x.%u %04x:%04x class %02x.%02x%s bar0 0x%llx/%llu bar1 0x%llx/%llu "
                 "bar4 0x%llx/%llu%s",
                 d->bus, d->dev, d->fn, d->vendor, d->device, d->class_code, d->subclass,
                 d->enabled ? "" : " (not enabled)",
                 (unsigned long long)d->bar[0].addr, (unsigned long long)d->bar[0].size,
                 (unsigned long long)d->bar[1].addr, (unsigned long long)d->bar[1].size,
                 (unsigned long long)d->bar[4].addr, (unsigned long long)d->bar[4].size,
                 d->msix_cap ? " msi-x" : "");
    }
    uint64_t t_logs = clock_now_ns(m);
    char entry[144];
    /* The TSC's value at the entry, in us: under QEMU TCG the TSC starts
     * at 0 when the VM starts running, so this is the firmware's time
     * (OVMF, or the microvm BIOS and pvh.bin) before the kernel. */
    unsigned long long before =
        (unsigned long long)(((unsigned __int128)m->clock.tsc0 * m->clock.mult) >> 32) / 1000u;
    if (info->entry == TERN_BOOT_ENTRY_PVH)
        tern_snprintf(entry, sizeof entry, "tsc at entry %llu, pvh entry %llu", before,
                      (unsigned long long)entry_us(m, tsc_kmain));
    else
        tern_snprintf(entry, sizeof entry,
                      "tsc at entry %llu, loader %llu (allocate %llu, copy %llu, memory map %llu, "
                      "exit boot services %llu x%u)",
                      before, (unsigned long long)entry_us(m, tsc_kmain),
                      (unsigned long long)entry_us(m, info->tsc_allocated),
                      (unsigned long long)(entry_us(m, info->tsc_loaded) -
                                           entry_us(m, info->tsc_allocated)),
                      (unsigned long long)(entry_us(m, info->tsc_map) -
                                           entry_us(m, info->tsc_loaded)),
                      (unsigned long long)(entry_us(m, info->tsc_exit) -
                                           entry_us(m, info->tsc_map)),
                      (unsigned)info->exit_attempts);
    tern_log(os, TERN_LOG_INFO, "metal",
             "boot stages (us): %s, cpu+mm %llu (mm %llu), clock calibration %llu, "
             "acpi+pci+core %llu (acpi %llu, pci %llu, os init %llu), tls self-test %llu, logs %llu, "
             "virtio %llu",
             entry,
             (unsigned long long)(entry_us(m, tsc_mm) - entry_us(m, tsc_kmain)),
             (unsigned long long)(entry_us(m, tsc_mm) - entry_us(m, tsc_cpu)),
             (unsigned long long)(t_clock / 1000 - entry_us(m, tsc_mm)),
             (unsigned long long)((t_core - t_clock) / 1000),
             (unsigned long long)((t_acpi - t_clock) / 1000),
             (unsigned long long)((t_pci - t_acpi) / 1000),
             (unsigned long long)((t_core - t_osinit) / 1000),
             (unsigned long long)((t_tls - t_dev) / 1000),
             (unsigned long long)((t_logs - t_tls) / 1000),
             (unsigned long long)((t_dev - t_core) / 1000));
    if (info->entry != TERN_BOOT_ENTRY_PVH && !m->fw_cfg_present)
        tern_log(os, TERN_LOG_INFO, "metal", "no fw_cfg: normal run");
    else if (n >= 0)
        tern_log(os, TERN_LOG_INFO, "metal", "cmdline \"%s\"%s", m->cmdline_text,
                 m->cmdline.ignored ? " (some tokens ignored)" : "");
    if (m->cmdline.ignored)
        tern_log(os, TERN_LOG_WARN, "metal", "cmdline: %u token(s) not understood, ignored",
                 (unsigned)m->cmdline.ignored);

    if (!m->clock.refined) {
        tern_timer_init(&kernel.clock_timer, refine_clock, os);
        /* first try as the loop starts: boot takes the window past 20 ms */
        if (tern_timer_arm(os, &kernel.clock_timer, tern_now_ns(os)) != TERN_OK)
            tern_panic(os, "cannot arm the clock timer");
    }
    if (m->cmdline.halt_set || m->cmdline.fault != TERN_METAL_FAULT_NONE) {
        tern_timer_init(&kernel.actions.timer, run_test_actions, os);
        uint64_t at = tern_now_ns(os) + (uint64_t)m->cmdline.delay_ms * 1000000u;
        if (tern_timer_arm(os, &kernel.actions.timer, at) != TERN_OK)
            tern_panic(os, "cannot arm the test-action timer");
    } else {
        /* A normal boot serves; what is missing is said on serial and
         * ends the boot with its code (no hang). */
        int refused = metal_services_start(os, m);
        if (refused != 0) {
            metal_services_stop(m);
            metal_power_off(m, (uint8_t)refused);
        }
    }

    /* musl's formatting and strtod checked once, after TERN_READY: under
     * TCG the long double paths cost 7-17 ms, and nothing before here
     * uses them (the core formats with tern_fmt). A failure still stops
     * the machine before it serves a request. */
    const char *libc_bad = libc_selfcheck();
    if (libc_bad != NULL)
        tern_panic(os, "libc-selfcheck-failed:%s", libc_bad);
    tern_log(os, TERN_LOG_INFO, "metal", "libc self-check ok");
    cpu_watchdog_start(m, os, TERN_WATCHDOG_MS_DEFAULT);
    sti(); /* the loop and its threads run with interrupts on (the tick) */
    int code = tern_os_run(os);
    metal_services_stop(m);
    if (m->cmdline.reboot || code == TERN_WORKLOAD_HALT_RESTART)
        metal_reboot(m);   /* 75: a failed trial was rolled back, or an update staged */
    metal_power_off(m, (uint8_t)(code & 0x7f));
}
