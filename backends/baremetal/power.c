/*
 * Interface: power off, reboot and the power button through ACPI (see
 * metal.h). The facts come from acpi.c (FADT, DSDT _S5_).
 */
#include "metal.h"
#include "x86.h"

#define PM1_PWRBTN_STS 0x0100u
#define PM1_SLP_EN 0x2000u

__attribute__((noreturn)) void metal_power_off(struct metal *m, uint8_t code)
{
    outb(METAL_DEBUG_EXIT_PORT, code); /* QEMU with isa-debug-exit stops here */
    if (m->acpi.pm1a_cnt != 0 && m->acpi.have_s5) {
        serial_printf("acpi: entering S5 (PM1a_CNT 0x%x, SLP_TYP %u)\n",
                      (unsigned)m->acpi.pm1a_cnt, m->acpi.s5_typ);
        uint16_t v = inw((uint16_t)m->acpi.pm1a_cnt);
        v = (uint16_t)((v & ~(7u << 10)) | (uint16_t)m->acpi.s5_typ << 10 | PM1_SLP_EN);
        outw((uint16_t)m->acpi.pm1a_cnt, v);
    }
    halt_forever();
}

__attribute__((noreturn)) void metal_reboot(struct metal *m)
{
    if (m->acpi.have_reset) {
        serial_printf("acpi: reset (port 0x%x value 0x%x)\n", (unsigned)m->acpi.reset_port,
                      m->acpi.reset_value);
        outb(m->acpi.reset_port, m->acpi.reset_value);
    }
    serial_printf("reset: 8042 pulse\n");
    for (int i = 0; i < 100000 && (inb(0x64) & 2); i++)
        __asm__ volatile("pause");
    outb(0x64, 0xfe); /* 8042: pulse the reset line */
    /* last resort: an empty IDT and an exception = triple fault */
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } none = { 0, 0 };
    __asm__ volatile("lidt %0; int3" : : "m"(none));
    halt_forever();
}

void metal_power_button_enable(struct metal *m)
{
    if (m->acpi.pm1a_evt == 0)
        return;
    uint16_t en = (uint16_t)(m->acpi.pm1a_evt + m->acpi.pm1_evt_len / 2);
    outw((uint16_t)m->acpi.pm1a_evt, PM1_PWRBTN_STS); /* clear a stale press */
    outw(en, (uint16_t)(inw(en) | PM1_PWRBTN_STS));   /* PWRBTN_EN is the same bit */
}

bool metal_power_button(struct metal *m)
{
    if (m->acpi.pm1a_evt == 0)
        return false;
    uint16_t sts = inw((uint16_t)m->acpi.pm1a_evt);
    if (!(sts & PM1_PWRBTN_STS))
        return false;
    outw((uint16_t)m->acpi.pm1a_evt, PM1_PWRBTN_STS); /* write 1 to clear */
    return true;
}
