/*
 * Interface: the monotonic clock and the idle wait (see metal.h).
 *
 * Time is the TSC, zeroed at the loader's first instruction (so boot_ms
 * counts from UEFI entry) and scaled by a frequency measured against PIT
 * channel 2 (1.193182 MHz, gated through port 0x61): three 10 ms windows,
 * median taken. The result is clamped so it never goes backwards. CPUID
 * says whether the TSC is invariant; when it is not (QEMU TCG does not
 * claim it) the clock still works on one CPU at a fixed frequency, and a
 * warning is logged.
 *
 * Sleeping uses the local APIC timer in one-shot mode (vector 0x40,
 * divide by 16), calibrated against the TSC, armed for the remaining time
 * (at most 2^32 - 1 ticks; longer sleeps re-arm) and then sti;hlt, which
 * cannot miss an interrupt that fires between arming and halting.
 */
#include "metal.h"
#include "x86.h"

#define PIT_HZ 1193182u
#define PIT_CH2 0x42
#define PIT_CMD 0x43
#define PIT_GATE 0x61
#define CAL_MS 10u

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

/* TSC ticks during one PIT channel 2 countdown of CAL_MS. */
static uint64_t pit_window(void)
{
    uint32_t latch = PIT_HZ * CAL_MS / 1000u;
    outb(PIT_GATE, (uint8_t)((inb(PIT_GATE) & ~0x02) | 0x01)); /* gate on, speaker off */
    outb(PIT_CMD, 0xb0);                                       /* ch2, lo/hi, mode 0 */
    outb(PIT_CH2, (uint8_t)(latch & 0xff));
    outb(PIT_CH2, (uint8_t)(latch >> 8));
    uint64_t t0 = rdtsc();
    uint64_t spins = 0;
    while ((inb(PIT_GATE) & 0x20) == 0)
        if (++spins > 100000000u)
            return 0; /* no PIT answering */
    return rdtsc() - t0;
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

    uint64_t w[3];
    for (int i = 0; i < 3; i++)
        w[i] = pit_window();
    /* median of three */
    uint64_t lo = w[0] < w[1] ? w[0] : w[1], hi = w[0] < w[1] ? w[1] : w[0];
    uint64_t med = w[2] < lo ? lo : (w[2] > hi ? hi : w[2]);
    if (med == 0)
        med = 10000000u; /* no PIT: assume 1 GHz rather than divide by 0 */
    c->tsc_hz = med * (1000u / CAL_MS);
    c->mult = (1000000000ull << 32) / c->tsc_hz;

    /* Local APIC: enable (spurious vector 0xff), timer masked while we
     * count how far it gets in 10 ms of TSC. */
    c->lapic_base = rdmsr(IA32_APIC_BASE) & 0xffffff000ull;
    tern_lapic_eoi = c->lapic_base + LAPIC_EOI;
    lapic_write(c, LAPIC_SVR, 0x1ff);
    lapic_write(c, LAPIC_TMR_DIV, 0x3); /* divide by 16 */
    lapic_write(c, LAPIC_LVT_TMR, LVT_MASKED | TIMER_VECTOR);
    uint64_t span = c->tsc_hz / 100u;
    lapic_write(c, LAPIC_TMR_INIT, 0xffffffffu);
    uint64_t t0 = rdtsc();
    while (rdtsc() - t0 < span)
        ;
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
