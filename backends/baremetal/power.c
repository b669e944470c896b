/*
 * Interface: power off, reboot and the power button through ACPI (see
 * metal.h). The facts come from acpi.c (FADT, DSDT _S5_ and GED).
 *
 * Two ACPI shapes: the PC one (PM1a control and event blocks in I/O
 * space; pc, q35) and the hardware-reduced one (ACPI 5.0 4.1: QEMU's
 * microvm, Cloud Hypervisor), where S5 is the FADT's sleep control
 * register (SLP_TYP in bits 2-4, SLP_EN bit 5; in memory on microvm, an
 * I/O port on Cloud Hypervisor), the reset register may be in memory,
 * and the power button is an event of the Generic Event Device, whose
 * selector register reads (and clears) the pending events (bit 1: power
 * down, QEMU's ACPI_GED_PWR_DOWN_EVT). A PVH boot with neither S5 nor
 * isa-debug-exit (Firecracker has no ACPI S5) powers off with a reset
 * (the 8042's, else a triple fault: microvm has no 8042), which microVM
 * monitors take as the end of the VM.
 */
#include "metal.h"
#include "x86.h"

#define PM1_PWRBTN_STS 0x0100u
#define PM1_SLP_EN 0x2000u
#define SLEEP_CTL_EN 0x20u
#define GED_PWR_DOWN 0x2u

/* A memory-space ACPI register, when it lies in the boot map (MMIO
 * there is mapped uncached). */
static volatile uint8_t *acpi_reg(struct metal *m, uint64_t addr)
{
    return addr != 0 && addr + 4 <= m->mm.mapped_top ? (volatile uint8_t *)(uintptr_t)addr : NULL;
}

/* Resets the CPU: the 8042 keyboard controller's reset line, then (no
 * 8042: QEMU's microvm has none) a triple fault: an empty IDT and an
 * exception. */
static __attribute__((noreturn)) void reset_cpu(void)
{
    for (int i = 0; i < 100000 && (inb(0x64) & 2); i++)
        __asm__ volatile("pause");
    outb(0x64, 0xfe);
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } none = { 0, 0 };
    __asm__ volatile("lidt %0; int3" : : "m"(none));
    halt_forever();
}

__attribute__((noreturn)) void metal_power_off(struct metal *m, uint8_t code)
{
    outb(METAL_DEBUG_EXIT_PORT, code); /* QEMU with isa-debug-exit stops here */
    if (m->acpi.pm1a_cnt != 0 && m->acpi.have_s5) {
        serial_printf("acpi: entering S5 (PM1a_CNT 0x%x, SLP_TYP %u)\n",
                      (unsigned)m->acpi.pm1a_cnt, m->acpi.s5_typ);
        uint16_t v = inw((uint16_t)m->acpi.pm1a_cnt);
        v = (uint16_t)((v & ~(7u << 10)) | (uint16_t)m->acpi.s5_typ << 10 | PM1_SLP_EN);
        outw((uint16_t)m->acpi.pm1a_cnt, v);
    } else if (acpi_reg(m, m->acpi.sleep_ctl) != NULL && m->acpi.have_s5) {
        serial_printf("acpi: entering S5 (sleep control 0x%llx, SLP_TYP %u)\n",
                      (unsigned long long)m->acpi.sleep_ctl, m->acpi.s5_typ);
        *acpi_reg(m, m->acpi.sleep_ctl) = (uint8_t)((m->acpi.s5_typ & 7u) << 2 | SLEEP_CTL_EN);
    } else if (m->acpi.sleep_ctl_port != 0 && m->acpi.have_s5) {
        serial_printf("acpi: entering S5 (sleep control port 0x%x, SLP_TYP %u)\n",
                      (unsigned)m->acpi.sleep_ctl_port, m->acpi.s5_typ);
        outb(m->acpi.sleep_ctl_port, (uint8_t)((m->acpi.s5_typ & 7u) << 2 | SLEEP_CTL_EN));
    } else if (m->boot->entry == TERN_BOOT_ENTRY_PVH) {
        /* A microVM monitor without ACPI S5 (Firecracker) ends the VM on
         * a reset, QEMU with -no-reboot too; real hardware is never
         * entered through PVH. */
        serial_printf("power off: no ACPI S5: a reset (8042, else a triple fault), which "
                      "ends a microVM\n");
        reset_cpu();
    }
    halt_forever();
}

__attribute__((noreturn)) void metal_reboot(struct metal *m)
{
    if (m->acpi.have_reset && m->acpi.reset_port != 0) {
        serial_printf("acpi: reset (port 0x%x value 0x%x)\n", (unsigned)m->acpi.reset_port,
                      m->acpi.reset_value);
        outb(m->acpi.reset_port, m->acpi.reset_value);
    } else if (m->acpi.have_reset && acpi_reg(m, m->acpi.reset_mem) != NULL) {
        serial_printf("acpi: reset (memory 0x%llx value 0x%x)\n",
                      (unsigned long long)m->acpi.reset_mem, m->acpi.reset_value);
        *acpi_reg(m, m->acpi.reset_mem) = m->acpi.reset_value;
    }
    serial_printf("reset: 8042 pulse\n");
    reset_cpu();
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
    if (m->acpi.pm1a_evt == 0) {
        volatile uint8_t *ged = acpi_reg(m, m->acpi.ged_event);
        return ged != NULL && (*(volatile uint32_t *)ged & GED_PWR_DOWN) != 0;
    }
    uint16_t sts = inw((uint16_t)m->acpi.pm1a_evt);
    if (!(sts & PM1_PWRBTN_STS))
        return false;
    outw((uint16_t)m->acpi.pm1a_evt, PM1_PWRBTN_STS); /* write 1 to clear */
    return true;
}
