/*
 * Interface: the monotonic clock and the idle wait (see metal.h).
 *
 * Time is the TSC, zeroed at the loader's first instruction (so boot_ms
 * counts from UEFI entry) and scaled by its frequency: from CPUID leaf
 * 0x15 (crystal Hz * TSC/crystal ratio) when the CPU states all three
 * numbers, else measured against PIT channel 2 (1.193182 MHz, gated
 * through port 0x61): one 2 ms window. Its start and end are bracketed
 * by TSC reads, which bounds its error even when the vCPU is preempted
 * (under TCG on a busy host a plain 2 ms window came out 3 % long); a
 * window whose bound exceeds 0.25 % is measured again (up to 8 tries,
 * else the tightest one is kept). The `sleep` QEMU test measures 50 ms
 * of PIT on the calibrated clock and fails beyond 1 %. (Three 10 ms
 * windows cost 30 ms of every boot, then three 2 ms windows and a
 * separate LAPIC count 8 ms, for a precision nothing needs.) The
 * result is clamped so it never goes backwards. CPUID
 * says whether the TSC is invariant; when it is not (QEMU TCG does not
 * claim it) the clock still works on one CPU at a fixed frequency, and a
 * warning is logged.
 *
 * Sleeping uses the local APIC timer in one-shot mode (vector 0x40,
 * divide by 16), counted during the same TSC window (1 ms of TSC when
 * CPUID gave the frequency), armed for the remaining time
 * (at most 2^32 - 1 ticks; longer sleeps re-arm) and then sti;hlt, which
 * cannot miss an interrupt that fires between arming and halting.
 */
#include "metal.h"
#include "x86.h"

#define PIT_HZ 1193182u
#define PIT_CH2 0x42
#define PIT_CMD 0x43
#define PIT_GATE 0x61
#define CAL_MS 2u

#define IA32_APIC_BASE 0x1b
#define LAPIC_SVR      0x0f0
#define LAPIC_EOI      0x0b0
#define LAPIC_LVT_TMR  0x320
#define LAPIC_TMR_INIT 0x380
#define LAPIC_TMR_CUR  0x390
#define LAPIC_TMR_DIV  0x3e0
#define LVT_MASKED     (1u << 16)
#define TIMER_VECTOR   0x40

extern uint64_t tern_lapic_eoi;

/* TSC ticks during one PIT channel 2 countdown of ms (at most 54), as
 * the span between the midpoints of two TSC brackets: one around the
 * write that starts the count, one around the port reads that saw the
 * output go high. *err gets half the two brackets' widths: the most the
 * result can be off, however long the vCPU was preempted in between.
 * 0 when the PIT never answers. */
static uint64_t pit_window(uint32_t ms, uint64_t *err)
{
    uint32_t latch = PIT_HZ * ms / 1000u;
    outb(PIT_GATE, (uint8_t)((inb(PIT_GATE) & ~0x02) | 0x01)); /* gate on, speaker off */
    outb(PIT_CMD, 0xb0);                                       /* ch2, lo/hi, mode 0 */
    outb(PIT_CH2, (uint8_t)(latch & 0xff));
    uint64_t s0 = rdtsc();
    outb(PIT_CH2, (uint8_t)(latch >> 8)); /* the count starts here */
    uint64_t s1 = rdtsc();
    uint64_t low = s1, before = s1, spins = 0;
    for (;;) {
        before = rdtsc();
        bool high = (inb(PIT_GATE) & 0x20) != 0;
        if (high)
            break;
        low = before; /* output still low at some time >= low */
        if (++spins > 100000000u) {
            *err = UINT64_MAX;
            return 0; /* no PIT answering */
        }
    }
    uint64_t e1 = rdtsc();
    *err = ((s1 - s0) + (e1 - low)) / 2u;
    return (low + e1) / 2u - (s0 + s1) / 2u;
}

/* The best window of ms out of up to tries: the first whose error bound
 * is at most 1/max_err_div of it, else the one with the smallest bound. */
static uint64_t pit_measure(uint32_t ms, unsigned tries, uint64_t max_err_div)
{
    uint64_t best = 0, best_err = UINT64_MAX;
    for (unsigned i = 0; i < tries; i++) {
        uint64_t err, t = pit_window(ms, &err);
        if (t == 0)
            continue;
        if (err <= t / max_err_div)
            return t;
        if (err < best_err) {
            best = t;
            best_err = err;
        }
    }
    return best;
}

static uint64_t ticks_to_ns(const struct metal_clock *c, uint64_t ticks)
{
    return (uint64_t)(((unsigned __int128)ticks * c->mult) >> 32);
}

static void lapic_write(const struct metal_clock *c, uint32_t reg, uint32_t v)
{
    mmio_write32(c->lapic_base + reg, v);
}

static uint32_t lapic_read(const struct metal_clock *c, uint32_t reg)
{
    return mmio_read32(c->lapic_base + reg);
}

void clock_init(struct metal *m)
{
    struct metal_clock *c = &m->clock;
    c->tsc0 = m->boot->tsc_at_entry;

    uint32_t a, b, cx, d;
    cpuid(0x80000000u, 0, &a, &b, &cx, &d);
    if (a >= 0x80000007u) {
        cpuid(0x80000007u, 0, &a, &b, &cx, &d);
        c->invariant_tsc = (d >> 8) & 1;
    }

    cpuid(0, 0, &a, &b, &cx, &d);
    if (a >= 0x15u) {
        cpuid(0x15u, 0, &a, &b, &cx, &d); /* eax denominator, ebx numerator, ecx crystal Hz */
        if (a != 0 && b != 0 && cx != 0) {
            c->tsc_hz = (uint64_t)cx * b / a;
            c->tsc_from_cpuid = true;
        }
    }
    /* Local APIC: enable (spurious vector 0xff), timer masked and counting
     * down from the top while the TSC is measured, so one window times
     * both. */
    c->lapic_base = rdmsr(IA32_APIC_BASE) & 0xffffff000ull;
    tern_lapic_eoi = c->lapic_base + LAPIC_EOI;
    lapic_write(c, LAPIC_SVR, 0x1ff);
    lapic_write(c, LAPIC_TMR_DIV, 0x3); /* divide by 16 */
    lapic_write(c, LAPIC_LVT_TMR, LVT_MASKED | TIMER_VECTOR);
    lapic_write(c, LAPIC_TMR_INIT, 0xffffffffu);
    uint64_t t0 = rdtsc();
    if (!c->tsc_from_cpuid) {
        /* One window within 0.25 % (5 us of 2 ms), up to 8 tries: the
         * bracketing bounds the error, so a median adds nothing. */
        uint64_t w = pit_measure(CAL_MS, 8, 400);
        if (w == 0)
            w = 1000000u * CAL_MS; /* no PIT: assume 1 GHz rather than divide by 0 */
        c->tsc_hz = w * (1000u / CAL_MS);
    } else {
        uint64_t span = c->tsc_hz / 1000u; /* 1 ms for the LAPIC alone */
        while (rdtsc() - t0 < span)
            ;
    }
    c->mult = (1000000000ull << 32) / c->tsc_hz;
    uint32_t left = lapic_read(c, LAPIC_TMR_CUR);
    uint64_t t1 = rdtsc();
    lapic_write(c, LAPIC_TMR_INIT, 0);
    uint64_t counted = 0xffffffffu - left;
    uint64_t elapsed_ns = ticks_to_ns(c, t1 - t0);
    c->lapic_hz = elapsed_ns ? counted * 1000000000u / elapsed_ns : 0;
    if (c->lapic_hz == 0)
        c->lapic_hz = 1;
    c->lapic_mult = (c->lapic_hz << 32) / 1000000000u;
    lapic_write(c, LAPIC_LVT_TMR, TIMER_VECTOR); /* one-shot, unmasked */

    /* The 8259 PICs stay masked: every interrupt Tern takes is the LAPIC's. */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}

uint64_t clock_check_pit_us(struct metal *m, uint32_t ms)
{
    uint64_t ticks = pit_measure(ms, 4, 10000);
    return ticks_to_ns(&m->clock, ticks) / 1000u;
}

uint64_t clock_now_ns(struct metal *m)
{
    struct metal_clock *c = &m->clock;
    uint64_t t = rdtsc();
    uint64_t ns = t > c->tsc0 ? ticks_to_ns(c, t - c->tsc0) : 0;
    if (ns < c->last_ns)
        ns = c->last_ns;
    c->last_ns = ns;
    return ns;
}

void clock_sleep_until(struct metal *m, uint64_t deadline_ns)
{
    struct metal_clock *c = &m->clock;
    cli();
    if (deadline_ns != UINT64_MAX) {
        uint64_t now = clock_now_ns(m);
        if (now >= deadline_ns)
            return;
        uint64_t ticks =
            (uint64_t)(((unsigned __int128)(deadline_ns - now) * c->lapic_mult) >> 32);
        if (ticks == 0)
            ticks = 1;
        if (ticks > 0xffffffffu)
            ticks = 0xffffffffu;
        lapic_write(c, LAPIC_TMR_INIT, (uint32_t)ticks);
    }
    sti_hlt();
    cli();
    c->wakeups++;
}
