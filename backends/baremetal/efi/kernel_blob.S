/*
 * The kernel ELF, embedded read-only in BOOTX64.EFI. TERN_KERNEL_PATH is
 * set by backends/baremetal/meson.build to the linked kernel.
 */
    .section .rdata, "dr"
    .balign 16
    .globl tern_kernel_elf
tern_kernel_elf:
    .incbin TERN_KERNEL_PATH
    .globl tern_kernel_elf_end
tern_kernel_elf_end:
