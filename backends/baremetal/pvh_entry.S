/*
 * Interface: the PVH entry (Xen's x86 HVM direct boot ABI, as QEMU's
 * microvm and pc machines with -kernel, Firecracker and Cloud Hypervisor
 * use it). Only in tern-microvm.elf; the UEFI image enters at _start
 * (entry.S).
 *
 * The ELF note XEN_ELFNOTE_PHYS32_ENTRY (type 18, name "Xen", an 8-byte
 * descriptor as Linux writes it) gives pvh_start's physical address. The
 * monitor loads the PT_LOAD segments at their physical addresses (the
 * image is linked at METAL_PVH_BASE, 1 MiB) and jumps to pvh_start in
 * 32-bit protected mode: paging off, flat 4 GiB code and data segments,
 * interrupts off, %ebx the physical address of struct hvm_start_info (pvh.h);
 * there is no stack.
 *
 * pvh_start:
 *   1. notes the TSC (the zero of Tern's boot time) and %ebx in .data;
 *   2. zeroes BSS (a monitor need not: the ELF gives only its size);
 *   3. builds an identity map of [0, 4 GiB) with 2 MiB pages in BSS
 *      (mm_init replaces it with Tern's own tables, as it does the
 *      firmware's on the UEFI path);
 *   4. turns on PAE, long mode (EFER.LME), paging, and SSE (CR4.OSFXSR
 *      and OSXMMEXCPT, CR0.MP with EM off: the compiler uses SSE, and
 *      UEFI firmware leaves it on, a PVH monitor does not), caching
 *      (CR0.CD and NW off: a monitor may leave them as at reset), loads
 *      a small GDT and jumps to 64-bit code;
 *   5. takes the kernel's boot stack (entry.S) and calls
 *      pvh_main(start_info) (pvh_boot.c), which never returns.
 */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define CR0_PE (1 << 0)
#define CR0_MP (1 << 1)
#define CR0_EM (1 << 2)
#define CR0_NE (1 << 5)
#define CR0_NW (1 << 29)
#define CR0_CD (1 << 30)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define CR4_OSFXSR (1 << 9)
#define CR4_OSXMMEXCPT (1 << 10)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define PTE_PW 0x3
#define PDE_2M 0x83

    .section .note.Xen, "a", @note
    .balign 4
    .long 2f - 1f
    .long 4f - 3f
    .long XEN_ELFNOTE_PHYS32_ENTRY
1:  .asciz "Xen"
2:  .balign 4
3:  .quad pvh_start
4:  .balign 4

    .text
    .code32
    .globl pvh_start
    .type pvh_start, @function
pvh_start:
    cli
    cld
    movl %ebx, %esi
    rdtsc
    movl %eax, pvh_entry_tsc
    movl %edx, pvh_entry_tsc + 4
    movl %esi, pvh_start_info

    movl $__bss_start, %edi
    movl $_end + 3, %ecx
    subl %edi, %ecx
    shrl $2, %ecx
    xorl %eax, %eax
    rep stosl

    /* PML4[0] -> PDPT; PDPT[0..3] -> the four page directories */
    movl $pvh_pdpt + PTE_PW, pvh_pml4
    movl $pvh_pd + PTE_PW, %eax
    movl $pvh_pdpt, %edi
    movl $4, %ecx
1:  movl %eax, (%edi)
    addl $4096, %eax
    addl $8, %edi
    loop 1b
    /* 2048 directory entries of 2 MiB: [0, 4 GiB) */
    movl $PDE_2M, %eax
    movl $pvh_pd, %edi
    movl $2048, %ecx
2:  movl %eax, (%edi)
    addl $0x200000, %eax
    addl $8, %edi
    loop 2b

    movl $pvh_pml4, %eax
    movl %eax, %cr3
    movl %cr4, %eax
    orl $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
    movl %eax, %cr4
    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME, %eax
    wrmsr
    movl %cr0, %eax
    andl $~(CR0_EM | CR0_CD | CR0_NW), %eax
    orl $(CR0_PG | CR0_NE | CR0_MP | CR0_PE), %eax
    movl %eax, %cr0
    lgdt pvh_gdt_ptr
    ljmp $0x08, $pvh_long

    .code64
pvh_long:
    movl $0x10, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    xorl %eax, %eax
    movl %eax, %fs
    movl %eax, %gs
    leaq tern_boot_stack_top(%rip), %rsp
    xorl %ebp, %ebp
    fninit
    movl pvh_start_info(%rip), %edi
    call pvh_main
3:  cli
    hlt
    jmp 3b

    .section .rodata
    .balign 8
pvh_gdt:
    .quad 0
    .quad 0x00af9a000000ffff   /* 0x08: 64-bit code, DPL 0 */
    .quad 0x00cf92000000ffff   /* 0x10: data, writable */
pvh_gdt_ptr:
    .word pvh_gdt_ptr - pvh_gdt - 1
    .long pvh_gdt

    .data
    .balign 8
    .globl pvh_entry_tsc
pvh_entry_tsc:
    .quad 0
    .globl pvh_start_info
pvh_start_info:
    .long 0

    .bss
    .balign 4096
pvh_pml4:
    .skip 4096
pvh_pdpt:
    .skip 4096
pvh_pd:
    .skip 4 * 4096

    .section .note.GNU-stack, "", @progbits
