/*
 * Interface: the CPU's own tables and the exception path (see metal.h).
 *
 * GDT: null, 64-bit kernel code (0x08), kernel data (0x10), a TSS (0x18)
 * whose IST1 stack takes #DF, NMI and #MC so those still print when the
 * kernel stack is gone, whose IST2 stack takes the LAPIC timer and
 * device interrupts (so none lands on an app thread's stack), and whose
 * IST3 stack takes #PF, so a thread that ran into the guard page below
 * its stack (mm_stack_alloc) still reports, as crash:stack-overflow when
 * it is the app's (tern_thread_guard_hit). IDT:
 * vectors 0..31 go to the stubs in entry.S and end in metal_trap(); the
 * LAPIC timer vector 0x40 goes to metal_tick() (the watchdog, below);
 * the device MSI-X vector 0x41 wakes hlt; every other vector is ignored.
 *
 * The watchdog: the loop and its threads run with interrupts enabled
 * (only metal_wait and the block device's wait disable them, to check
 * and sleep without a race), and the LAPIC timer ticks every
 * TERN_WATCHDOG_TICK_MS while the core is busy (clock.c). Each tick
 * outside the idle hlt feeds core's rule (tern_watchdog_tick) the busy
 * time since the last; when a thread has run for the limit without the
 * loop or a switch moving, it prints the register dump of the interrupted
 * code and, when that is the app's (tern_workload_app_fault), ends it
 * as tern-linux's guard does: TERN_APP_EXIT reason=crash:watchdog and
 * halt TERN_WORKLOAD_HALT_CRASH; a core thread is a TERN_PANIC.
 *
 * metal_trap() prints, straight to COM1 and without touching the core
 * (whose state may be what broke):
 *   TERN_PANIC reason=exception vector=N rip=0x... err=0x... [cr2=0x...] name=#XX
 * then a register dump and a frame-pointer backtrace, and leaves QEMU with
 * METAL_PANIC_EXIT_VALUE. A fault inside that path exits at once.
 */
#include "metal.h"
#include "tern/os.h"
#include "tern/thread.h"
#include "tern/workload.h"
#include "x86.h"

#define SEL_CODE 0x08
#define SEL_DATA 0x10
#define SEL_TSS  0x18
#define TIMER_VECTOR 0x40

struct __attribute__((packed)) tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};

struct __attribute__((packed)) idt_entry {
    uint16_t off_lo;
    uint16_t sel;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t off_mid;
    uint32_t off_hi;
    uint32_t zero;
};

struct __attribute__((packed)) table_ptr {
    uint16_t limit;
    uint64_t base;
};

/* What entry.S pushes, lowest address first. */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, err;
    uint64_t rip, cs, rflags, rsp, ss;
};

/* Tables the CPU reads: machine state, not core state (see metal.h). */
static uint64_t gdt[5] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
static struct idt_entry idt[256] __attribute__((aligned(16)));
static uint8_t ist1_stack[16384] __attribute__((aligned(16)));
static uint8_t ist2_stack[16384] __attribute__((aligned(16)));
static uint8_t ist3_stack[16384] __attribute__((aligned(16)));
static volatile int in_trap;
/* The machine, for the exception path and the timer interrupt (which
 * carry no context): set once by cpu_init. */
static struct metal *machine;

/* Read by tern_isr_timer and tern_isr_tick (entry.S). */
uint64_t tern_lapic_eoi = 0xfee000b0u;

extern const uint64_t tern_isr_stubs[32];
extern char tern_isr_timer[];
extern char tern_isr_tick[];
extern char tern_isr_ignore[];

void metal_trap(struct trap_frame *f) __attribute__((noreturn));
void metal_tick(struct trap_frame *f);

static const char *const names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
    "#NP", "#SS", "#GP", "#PF", "RSV", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
    "RSV", "RSV", "RSV", "RSV", "RSV", "RSV", "#HV", "#VC", "#SX", "RSV",
};

__attribute__((noreturn)) void metal_exit(uint8_t v)
{
    outb(METAL_DEBUG_EXIT_PORT, v);
    halt_forever(); /* no isa-debug-exit device: stop here */
}

/* The app crashed or the watchdog stopped it: the machine leaves with
 * TERN_WORKLOAD_HALT_CRASH (QEMU's isa-debug-exit). Without that device,
 * an unconfirmed trial of a staged package resets the machine instead of
 * halting: this path cannot write the disk, so the next boot counts the
 * try and rolls back when the tries run out (docs/updates.md). */
static __attribute__((noreturn)) void app_crash_exit(const struct tern_workload *w)
{
    outb(METAL_DEBUG_EXIT_PORT, TERN_WORKLOAD_HALT_CRASH);
    if (w != NULL && tern_boot_pkg_on_trial(w->o.pkg))
        metal_reboot(machine);
    halt_forever();
}

static void set_gate(unsigned v, uint64_t handler, uint8_t ist)
{
    idt[v] = (struct idt_entry){
        .off_lo = (uint16_t)handler,
        .sel = SEL_CODE,
        .ist = ist,
        .type_attr = 0x8e, /* present, DPL 0, 64-bit interrupt gate */
        .off_mid = (uint16_t)(handler >> 16),
        .off_hi = (uint32_t)(handler >> 32),
        .zero = 0,
    };
}

void cpu_init(struct metal *m)
{
    machine = m;
    uint64_t t = (uint64_t)&tss;
    tss.ist[0] = (uint64_t)(ist1_stack + sizeof(ist1_stack));
    tss.ist[1] = (uint64_t)(ist2_stack + sizeof(ist2_stack));
    tss.ist[2] = (uint64_t)(ist3_stack + sizeof(ist3_stack));
    tss.iomap_base = sizeof(tss);

    gdt[0] = 0;
    gdt[1] = 0x00af9a000000ffffull; /* code: present, DPL 0, L=1 */
    gdt[2] = 0x00cf92000000ffffull; /* data: present, writable */
    gdt[3] = (sizeof(tss) - 1) | ((t & 0xffffff) << 16) | (0x89ull << 40) |
             (((t >> 24) & 0xff) << 56);  /* available 64-bit TSS */
    gdt[4] = t >> 32;

    struct table_ptr gp = { .limit = sizeof(gdt) - 1, .base = (uint64_t)gdt };
    __asm__ volatile(
        "lgdt %0\n\t"
        "movw %1, %%ax\n\t"
        "movw %%ax, %%ds\n\t"
        "movw %%ax, %%es\n\t"
        "movw %%ax, %%ss\n\t"
        "xorl %%eax, %%eax\n\t"
        "movw %%ax, %%fs\n\t"
        "movw %%ax, %%gs\n\t"
        "pushq %2\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"
        "1:\n\t"
        "ltr %w3"
        :
        : "m"(gp), "i"(SEL_DATA), "i"(SEL_CODE), "r"((uint16_t)SEL_TSS)
        : "rax", "memory");

    for (unsigned v = 32; v < 256; v++)
        set_gate(v, (uint64_t)tern_isr_ignore, 0);
    for (unsigned v = 0; v < 32; v++)
        set_gate(v, tern_isr_stubs[v], (v == 2 || v == 8 || v == 18) ? 1 : v == 14 ? 3 : 0);
    set_gate(TIMER_VECTOR, (uint64_t)tern_isr_tick, 2);
    /* Device MSI-X (virtio.h): an acknowledge-and-return stub; the
     * wake-up from hlt is all it is for. */
    set_gate(0x41, (uint64_t)tern_isr_timer, 2);

    struct table_ptr ip = { .limit = sizeof(idt) - 1, .base = (uint64_t)idt };
    __asm__ volatile("lidt %0" : : "m"(ip) : "memory");
}

/* The words tern-linux's guard uses for the same faults. */
static const char *app_fault_name(unsigned v, uint64_t err, const struct tern_workload *w)
{
    switch (v) {
    case 0: return "divide-error";
    case 6: return "invalid-opcode";
    case 13: return "general-protection";
    case 14:
        if (tern_thread_guard_hit(w->os, read_cr2()))
            return "stack-overflow";
        return (err & 1) ? "protection-fault" : "page-fault";
    default: return names[v];
    }
}

/* The register dump, control registers and a frame-pointer backtrace of
 * the interrupted code (the tree builds with frame pointers): at most 16
 * frames, stopping at anything that does not look like a stack address
 * above the current one. */
static void dump_frame(const struct trap_frame *f)
{
    serial_printf("  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n",
                  (unsigned long long)f->rax, (unsigned long long)f->rbx,
                  (unsigned long long)f->rcx, (unsigned long long)f->rdx);
    serial_printf("  rsi=%016llx rdi=%016llx rbp=%016llx rsp=%016llx\n",
                  (unsigned long long)f->rsi, (unsigned long long)f->rdi,
                  (unsigned long long)f->rbp, (unsigned long long)f->rsp);
    serial_printf("  r8 =%016llx r9 =%016llx r10=%016llx r11=%016llx\n",
                  (unsigned long long)f->r8, (unsigned long long)f->r9,
                  (unsigned long long)f->r10, (unsigned long long)f->r11);
    serial_printf("  r12=%016llx r13=%016llx r14=%016llx r15=%016llx\n",
                  (unsigned long long)f->r12, (unsigned long long)f->r13,
                  (unsigned long long)f->r14, (unsigned long long)f->r15);
    serial_printf("  rip=%016llx cs=%04llx ss=%04llx rflags=%08llx\n",
                  (unsigned long long)f->rip, (unsigned long long)f->cs,
                  (unsigned long long)f->ss, (unsigned long long)f->rflags);
    serial_printf("  cr0=%016llx cr2=%016llx cr3=%016llx cr4=%016llx\n",
                  (unsigned long long)read_cr0(), (unsigned long long)read_cr2(),
                  (unsigned long long)read_cr3(), (unsigned long long)read_cr4());

    serial_printf("  backtrace: 0x%llx", (unsigned long long)f->rip);
    uint64_t fp = f->rbp;
    for (int i = 0; i < 16 && fp != 0 && (fp & 7) == 0 && fp >= f->rsp &&
                    fp - f->rsp < (1u << 20);
         i++) {
        uint64_t ret = ((const uint64_t *)fp)[1];
        serial_printf(" 0x%llx", (unsigned long long)ret);
        uint64_t next = ((const uint64_t *)fp)[0];
        if (next <= fp)
            break;
        fp = next;
    }
    serial_printf("\n");
}

void metal_trap(struct trap_frame *f)
{
    if (in_trap++)
        metal_exit(METAL_PANIC_EXIT_VALUE); /* faulted while reporting */
    unsigned v = (unsigned)f->vector & 31;
    struct tern_workload *w = metal_services_workload(machine);
    bool app = tern_workload_app_fault(w, f->rip);
    if (app)
        serial_printf("\nerror guard: the app crashed: %s (%s) at rip=0x%llx err=0x%llx cr2=0x%llx\n",
                      app_fault_name(v, f->err, w), names[v], (unsigned long long)f->rip,
                      (unsigned long long)f->err, (unsigned long long)read_cr2());
    else if (v == 14)
        serial_printf("\nTERN_PANIC reason=exception vector=%u rip=0x%llx err=0x%llx cr2=0x%llx "
                      "name=%s\n",
                      v, (unsigned long long)f->rip, (unsigned long long)f->err,
                      (unsigned long long)read_cr2(), names[v]);
    else
        serial_printf("\nTERN_PANIC reason=exception vector=%u rip=0x%llx err=0x%llx name=%s\n",
                      v, (unsigned long long)f->rip, (unsigned long long)f->err, names[v]);
    dump_frame(f);
    if (app) {
        tern_workload_report_crash(w, app_fault_name(v, f->err, w));
        app_crash_exit(w);
    }
    metal_exit(METAL_PANIC_EXIT_VALUE);
}

void cpu_watchdog_start(struct metal *m, struct tern_os *os, uint32_t limit_ms)
{
    struct metal_watchdog *g = &m->watchdog;
    tern_watchdog_init(&g->wd, limit_ms);
    g->os = os;
    g->last_busy_tsc = rdtsc() - m->clock.idle_tsc;
    clock_tick_start(m, TERN_WATCHDOG_TICK_MS);
}

/* A stuck thread: says so, dumps f and ends the app or panics. */
static __attribute__((noreturn)) void watchdog_fire(struct metal_watchdog *g,
                                                   const struct trap_frame *f)
{
    if (in_trap++)
        metal_exit(METAL_PANIC_EXIT_VALUE);
    struct tern_workload *w = metal_services_workload(machine);
    serial_printf("\nerror guard: an app thread ran %u ms without yielding (watchdog %u ms), "
                  "rip=0x%llx\n",
                  (unsigned)g->wd.still_ms, (unsigned)g->wd.limit_ms, (unsigned long long)f->rip);
    dump_frame(f);
    if (tern_workload_app_fault(w, f->rip)) {
        tern_workload_report_crash(w, "watchdog");
        app_crash_exit(w);
    }
    tern_panic(g->os, "a core thread ran %u ms without yielding", (unsigned)g->wd.still_ms);
}

/* The LAPIC timer (tern_isr_tick, interrupts off): the idle wait's own
 * wake-up, or the busy tick. */
void metal_tick(struct trap_frame *f)
{
    struct metal *m = machine;
    if (m == NULL || m->watchdog.os == NULL || m->clock.sleeping)
        return;              /* no watchdog yet; clock_sleep_until re-arms the tick on waking */
    clock_tick_arm(m);
    struct metal_watchdog *g = &m->watchdog;
    uint64_t busy = rdtsc() - m->clock.idle_tsc;
    g->carry_ns += clock_tsc_ns(m, busy - g->last_busy_tsc);
    g->last_busy_tsc = busy;
    g->ticks++;
    uint64_t ms = g->carry_ns / 1000000u;
    g->carry_ns %= 1000000u;
    if (tern_watchdog_tick(&g->wd, g->os, ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms))
        watchdog_fire(g, f);
}
