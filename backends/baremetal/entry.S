/*
 * Interface: the kernel's first instructions and its interrupt stubs.
 *
 * _start(info): entered from the UEFI loader with the System V convention
 * (info in %rdi), interrupts off, on the firmware's stack. Switches to the
 * kernel's boot stack and calls kmain(info), which never returns. (The
 * PVH image enters at pvh_start, pvh_entry.S, and reaches kmain too.)
 *
 * tern_isr_stubs[v] (v = 0..31): push a zero error code where the CPU
 * does not push one, push v, save every general register and call
 * metal_trap(frame) (cpu.c) with the frame layout of struct trap_frame.
 *
 * tern_isr_tick: the LAPIC timer vector (on IST2, cpu.c): saves every
 * general register as a struct trap_frame (vector 0x40) and the x87/SSE
 * state (fxsave64, the kernel and apps use SSE), calls metal_tick(frame)
 * (cpu.c: the watchdog), writes EOI and returns to whatever ran.
 *
 * tern_isr_timer: device MSI-X; writes EOI and returns (the wake-up from
 * hlt is the whole point). tern_isr_ignore: any other vector (a stray or
 * spurious interrupt); returns without EOI.
 */
    .text

    .globl _start
    .type _start, @function
_start:
    cli
    leaq tern_boot_stack_top(%rip), %rsp
    xorl %ebp, %ebp
    call kmain
1:  cli
    hlt
    jmp 1b

.macro ISR_NOERR v
    .balign 16
isr_\v:
    pushq $0
    pushq $\v
    jmp isr_common
.endm

.macro ISR_ERR v
    .balign 16
isr_\v:
    pushq $\v
    jmp isr_common
.endm

ISR_NOERR 0
ISR_NOERR 1
ISR_NOERR 2
ISR_NOERR 3
ISR_NOERR 4
ISR_NOERR 5
ISR_NOERR 6
ISR_NOERR 7
ISR_ERR   8
ISR_NOERR 9
ISR_ERR   10
ISR_ERR   11
ISR_ERR   12
ISR_ERR   13
ISR_ERR   14
ISR_NOERR 15
ISR_NOERR 16
ISR_ERR   17
ISR_NOERR 18
ISR_NOERR 19
ISR_NOERR 20
ISR_ERR   21
ISR_NOERR 22
ISR_NOERR 23
ISR_NOERR 24
ISR_NOERR 25
ISR_NOERR 26
ISR_NOERR 27
ISR_NOERR 28
ISR_ERR   29
ISR_ERR   30
ISR_NOERR 31

/* The general registers in struct trap_frame's order (metal.h), once
 * for the exception path and the timer tick. */
.macro PUSH_GPRS
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
.endm

isr_common:
    PUSH_GPRS
    movq %rsp, %rdi
    cld
    call metal_trap          /* does not return */
2:  cli
    hlt
    jmp 2b

    .globl tern_isr_tick
    .balign 16
tern_isr_tick:
    pushq $0
    pushq $0x40
    PUSH_GPRS
    movq %rsp, %rbx          /* the frame; rbx survives the call */
    subq $512, %rsp
    andq $-64, %rsp
    fxsave64 (%rsp)
    movq %rbx, %rdi
    cld
    call metal_tick
    fxrstor64 (%rsp)
    movq tern_lapic_eoi(%rip), %rax
    movl $0, (%rax)
    movq %rbx, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp
    iretq

    .globl tern_isr_timer
    .balign 16
tern_isr_timer:
    pushq %rax
    movq tern_lapic_eoi(%rip), %rax
    movl $0, (%rax)
    popq %rax
    iretq

    .globl tern_isr_ignore
    .balign 16
tern_isr_ignore:
    iretq

    .section .data.rel.ro, "aw"
    .balign 8
    .globl tern_isr_stubs
tern_isr_stubs:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad isr_\v
    .endr

    .bss
    .balign 16
boot_stack:
    .skip 65536
    .globl tern_boot_stack_top
tern_boot_stack_top:          /* also the PVH entry's (pvh_entry.S) */

    .section .note.GNU-stack, "", @progbits
