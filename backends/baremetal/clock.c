/*
 * Interface: the monotonic clock and the idle wait (see metal.h).
 *
 * Time is the TSC, zeroed at the entry's first instruction (the UEFI
 * loader's, or pvh_start's: boot_ms counts from there) and scaled by its
 * frequency: from CPUID leaf 0x15 (crystal Hz * TSC/crystal ratio) when
 * the CPU states all three numbers, else measured against PIT channel 0
 * (1.193182 MHz) in two steps, so that boot does not wait for a precise
 * window. Channel 0 because its gate is always on: channel 2's gate and
 * output go through port 0x61, which QEMU's microvm has no device behind.
 * Its count and output pin are read together with the read-back command
 * (the output going high says the count wrapped). clock_init starts
 * channel 0 counting down from 0xffff (55 ms), reads it once (the
 * window's start), and spins only until the count has moved 1 ms: a
 * provisional frequency within 0.5 % (the window grows, up to 10 ms,
 * until the bound says so). clock_refine, called from the idle wait,
 * reads the same count again once >= 20 ms have passed: a window ten
 * times longer with the same read error, accepted within 0.05 % (else,
 * or when the count already wrapped, a new window starts). Every window
 * runs between two reads, each bracketed by TSC reads, which bounds its
 * error even when the vCPU is preempted (under TCG on a busy host a plain
 * 2 ms window came out 3 % long). The write that starts the count is not
 * a window's end: on channel 0 it moves the interrupt line, which under
 * TCG on a busy host took 20 us-0.75 ms (provisional rates 7-50 % off
 * with a 10 ms window, before the start became a read). Switching to the
 * refined frequency rebases the clock at the current instant, so it stays
 * continuous and never goes backwards. (Three 10 ms windows cost 30 ms of
 * every boot, then three 2 ms windows 8 ms, then one 2 ms window 4.3 ms;
 * now ~1 ms.) The `sleep` and `microvm_clock` QEMU tests refine first,
 * then measure 50 ms of PIT on the clock and fail beyond 0.5 %. CPUID
 * says whether the TSC is invariant; when it is not (QEMU TCG does not
 * claim it) the clock still works on one CPU at a fixed frequency, and a
 * warning is logged. (No KVM or pvclock leaf is read: under TCG there is
 * none, and the PIT path serves every machine Tern is tested on.)
 *
 * Sleeping uses the local APIC timer in one-shot mode (vector 0x40,
 * divide by 16). Its rate is measured against the TSC over the
 * provisional window (1 ms of TSC when CPUID gave the frequency), as
 * LAPIC ticks per TSC tick, so the refined TSC frequency refines it too;
 * it is armed for the remaining time
 * (at most 2^32 - 1 ticks; longer sleeps re-arm) and then sti;hlt, which
 * cannot miss an interrupt that fires between arming and halting.
 *
 * The same timer is the watchdog's busy tick (cpu.c): once started,
 * every wake-up from a sleep re-arms a one-shot of TERN_WATCHDOG_TICK_MS,
 * as the timer interrupt does when it fires while the core is busy, so
 * the timer is always counting either the sleep's deadline or the next
 * tick (a sleep with no deadline stops it). The time spent in hlt is
 * summed in idle_tsc: the watchdog counts busy time only, as tern-linux's
 * CPU-time itimer does. The PIT reads after boot (refine, the check) run
 * with interrupts off, so no tick lands inside a TSC bracket.
 */
#include "metal.h"
#include "x86.h"

#define PIT_HZ 1193182u
#define PIT_CH0 0x40
#define PIT_CMD 0x43
#define PIT_CH0_MODE0 0x30        /* channel 0, lo/hi byte, mode 0, binary */
#define PIT_READBACK_BOTH 0xc2    /* read-back: channel 0's status, then count */
#define PIT_OUT 0x80              /* status: the OUT pin */
#define PROV_MIN_TICKS (PIT_HZ / 1000u)       /* 1 ms: the provisional window */
#define PROV_MAX_TICKS (PIT_HZ / 100u)        /* 10 ms: accept whatever then */
#define REFINE_AFTER_NS 20000000ull            /* 20 ms */
#define PIT_FREE_COUNT 0xffffu                 /* 54.9 ms before the count wraps */

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

/* Starts channel 0 counting down from count (mode 0: the output is low
 * until the count reaches 0, then high; the count wraps and goes on).
 * The start is not timed: writing channel 0's count moves its interrupt
 * line, which under TCG on a busy host took from 20 us to 0.75 ms, so
 * windows run between two reads instead (pit_read). */
static void pit_start(uint16_t count)
{
    outb(PIT_CMD, PIT_CH0_MODE0);
    outb(PIT_CH0, (uint8_t)(count & 0xff));
    outb(PIT_CH0, (uint8_t)(count >> 8)); /* the count starts here */
}

/* One read of channel 0: its count and output pin latched at one instant
 * (the read-back command), at the midpoint of a TSC bracket. */
struct pit_sample {
    uint64_t at;      /* the bracket's midpoint */
    uint64_t half;    /* half its width: the most `at` can be off */
    uint16_t count;
    bool out;         /* high: the count reached 0 since pit_start */
    bool ours;        /* the status shows pit_start's programming (lo/hi, mode 0,
                         binary): all-ones from an absent PIT does not */
};

static void pit_read(struct pit_sample *r)
{
    uint64_t b0 = rdtsc();
    outb(PIT_CMD, PIT_READBACK_BOTH);
    uint8_t st = inb(PIT_CH0);
    uint8_t lo = inb(PIT_CH0);
    uint8_t hi = inb(PIT_CH0);
    uint64_t b1 = rdtsc();
    r->at = (b0 + b1) / 2u;
    r->half = (b1 - b0) / 2u;
    r->count = (uint16_t)(lo | hi << 8);
    r->out = (st & PIT_OUT) != 0;
    r->ours = (st & 0x3f) == (PIT_CH0_MODE0 & 0x3f);
}

/* TSC ticks during ms (at most 54) of PIT channel 0: the span between
 * two reads of a free count, the second the first that is ms past the
 * first, scaled to exactly ms. *err gets the two brackets' half widths
 * (scaled alike): the most the result can be off, however long the vCPU
 * was preempted in between. 0 when the PIT never answers. */
static uint64_t pit_window(uint32_t ms, uint64_t *err)
{
    uint32_t want = PIT_HZ * ms / 1000u;
    struct pit_sample r0, r;
    pit_start(PIT_FREE_COUNT);
    pit_read(&r0);
    if (!r0.ours) {
        *err = UINT64_MAX;
        return 0; /* no PIT */
    }
    for (uint64_t spins = 0;; spins++) {
        pit_read(&r);
        if (r.out || r.count > r0.count || spins > 100000000u) {
            *err = UINT64_MAX;
            return 0; /* wrapped (the vCPU was away > 54 ms) or no PIT answering */
        }
        if ((uint32_t)(r0.count - r.count) >= want)
            break;
    }
    uint32_t got = (uint32_t)(r0.count - r.count);
    *err = (r0.half + r.half) * want / got;
    return (r.at - r0.at) * want / got;
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

/* Starts the free-running window: channel 0 from PIT_FREE_COUNT, and
 * its first read (the window's start: count and TSC). False when no PIT
 * answers (its status is not what was just programmed). */
static bool pit_free_start(struct metal_clock *c)
{
    struct pit_sample r;
    pit_start(PIT_FREE_COUNT);
    pit_read(&r);
    c->cal_start = r.at;
    c->cal_start_err = r.half;
    c->cal_count = r.count;
    return r.ours;
}

/* PIT ticks since pit_free_start's read, read at the midpoint *at of a
 * TSC bracket (half its width in *err, plus the start's), or 0 when the
 * count has wrapped (the output went high) and the window is void. */
static uint32_t pit_free_elapsed(const struct metal_clock *c, uint64_t *at, uint64_t *err)
{
    struct pit_sample r;
    pit_read(&r);
    *at = r.at;
    *err = r.half + c->cal_start_err;
    if (r.out || r.count > c->cal_count)
        return 0;
    return (uint32_t)(c->cal_count - r.count);
}

/* Takes tsc_hz as the clock's frequency from now on: the clock is rebased
 * at this instant so it stays continuous, and the LAPIC rate follows. */
static void set_frequency(struct metal_clock *c, uint64_t tsc_hz)
{
    uint64_t now = rdtsc();
    if (c->mult != 0 && now > c->base_tsc) {
        c->base_ns += ticks_to_ns(c, now - c->base_tsc);
        c->base_tsc = now;
    }
    c->tsc_hz = tsc_hz;
    c->mult = (1000000000ull << 32) / tsc_hz;
    c->lapic_hz = (uint64_t)(((unsigned __int128)tsc_hz * c->lapic_per_tsc) >> 32);
    if (c->lapic_hz == 0)
        c->lapic_hz = 1;
    c->lapic_mult = (c->lapic_hz << 32) / 1000000000u;
}

void clock_init(struct metal *m)
{
    struct metal_clock *c = &m->clock;
    c->tsc0 = m->boot->tsc_at_entry;
    c->base_tsc = c->tsc0;

    /* The 8259 PICs masked first: every interrupt Tern takes is the
     * LAPIC's, and channel 0 (IRQ 0) is about to be reprogrammed. */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);

    uint32_t a, b, cx, d;
    cpuid(0x80000000u, 0, &a, &b, &cx, &d);
    if (a >= 0x80000007u) {
        cpuid(0x80000007u, 0, &a, &b, &cx, &d);
        c->invariant_tsc = (d >> 8) & 1;
    }

    uint64_t cpuid_hz = 0;
    cpuid(0, 0, &a, &b, &cx, &d);
    if (a >= 0x15u) {
        cpuid(0x15u, 0, &a, &b, &cx, &d); /* eax denominator, ebx numerator, ecx crystal Hz */
        if (a != 0 && b != 0 && cx != 0) {
            cpuid_hz = (uint64_t)cx * b / a;
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
    uint64_t hz;
    if (c->tsc_from_cpuid) {
        hz = cpuid_hz;
        uint64_t span = hz / 1000u; /* 1 ms for the LAPIC alone */
        while (rdtsc() - t0 < span)
            ;
        c->refined = true;
    } else {
        c->no_pit = !pit_free_start(c);
        uint64_t at = 0, err = 0, spins = 0;
        uint32_t ticks = 0;
        while (!c->no_pit) {
            ticks = pit_free_elapsed(c, &at, &err);
            if (ticks >= PROV_MIN_TICKS && (err * 200u <= at - c->cal_start ||
                                            ticks >= PROV_MAX_TICKS))
                break; /* within 0.5 %, or 10 ms spent */
            if (ticks == 0 && ++spins > 100000000u)
                break; /* no PIT answering */
        }
        hz = ticks ? (at - c->cal_start) * PIT_HZ / ticks /* < 2^50 for any real TSC */
                   : 1000000000u; /* no PIT: assume 1 GHz rather than divide by 0 */
        if (ticks == 0)
            c->refined = true;
    }
    uint32_t left = lapic_read(c, LAPIC_TMR_CUR);
    uint64_t t1 = rdtsc();
    lapic_write(c, LAPIC_TMR_INIT, 0);
    uint64_t counted = 0xffffffffu - left;
    /* counted < 2^31 (a LAPIC below 200 GHz over <= 10 ms): no overflow */
    c->lapic_per_tsc = t1 > t0 && counted < (1ull << 31) ? (counted << 32) / (t1 - t0) : 0;
    set_frequency(c, hz);
    c->provisional_hz = hz;
    lapic_write(c, LAPIC_LVT_TMR, TIMER_VECTOR); /* one-shot, unmasked */
}

/* clock_refine without the interrupt guard. */
static void refine(struct metal *m, bool now)
{
    struct metal_clock *c = &m->clock;
    uint64_t t = rdtsc();
    if (!now && ticks_to_ns(c, t - c->cal_start) < REFINE_AFTER_NS)
        return;
    uint64_t at, err;
    uint32_t ticks = pit_free_elapsed(c, &at, &err);
    if (ticks != 0 && err * 2000u <= at - c->cal_start) {
        set_frequency(c, (at - c->cal_start) * PIT_HZ / ticks);
        c->refine_ms = (uint32_t)(ticks / (PIT_HZ / 1000u));
        c->refined = true;
    } else if (now) {
        c->refined = true; /* asked to finish: the provisional rate stays */
    } else {
        (void)pit_free_start(c); /* wrapped or too loose: a new window */
    }
}

void clock_refine(struct metal *m, bool now)
{
    if (m->clock.refined)
        return;
    uint64_t flags = irq_save(); /* no interrupt inside a TSC bracket */
    refine(m, now);
    irq_restore(flags);
}

uint64_t clock_check_pit_us(struct metal *m, uint32_t ms)
{
    clock_refine(m, true); /* channel 0 is ours from here */
    uint64_t flags = irq_save();
    /* up to 16 windows until one's bound is within 0.01 %: on a host
     * that preempts the vCPU often (two shared cores) 4 were not enough */
    uint64_t ticks = pit_measure(ms, 16, 10000);
    irq_restore(flags);
    return ticks_to_ns(&m->clock, ticks) / 1000u;
}

uint64_t clock_now_ns(struct metal *m)
{
    struct metal_clock *c = &m->clock;
    uint64_t t = rdtsc();
    uint64_t ns = c->base_ns + (t > c->base_tsc ? ticks_to_ns(c, t - c->base_tsc) : 0);
    if (ns < c->last_ns)
        ns = c->last_ns;
    c->last_ns = ns;
    return ns;
}

uint64_t clock_tsc_ns(const struct metal *m, uint64_t ticks)
{
    return ticks_to_ns(&m->clock, ticks);
}

void clock_tick_start(struct metal *m, uint32_t ms)
{
    struct metal_clock *c = &m->clock;
    uint64_t ticks = c->lapic_hz * ms / 1000u;
    c->tick_lapic = ticks == 0 ? 1 : ticks > 0xffffffffu ? 0xffffffffu : (uint32_t)ticks;
    clock_tick_arm(m);
}

void clock_tick_arm(struct metal *m)
{
    struct metal_clock *c = &m->clock;
    if (c->tick_lapic != 0)
        lapic_write(c, LAPIC_TMR_INIT, c->tick_lapic);
}

void clock_sleep_until(struct metal *m, uint64_t deadline_ns)
{
    struct metal_clock *c = &m->clock;
    cli();
    if (deadline_ns == UINT64_MAX) {
        lapic_write(c, LAPIC_TMR_INIT, 0); /* no busy tick while idle */
    } else {
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
    uint64_t t0 = rdtsc();
    c->sleeping = true;
    sti_hlt();
    cli();
    c->sleeping = false;
    c->idle_tsc += rdtsc() - t0;
    c->wakeups++;
    clock_tick_arm(m);
}
