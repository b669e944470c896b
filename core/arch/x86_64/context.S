/*
 * x86_64 System V context switch (see core/arch/context.h).
 * Frame, from the saved stack pointer up:
 *   [mxcsr:4][x87 cw:2][pad:2] r15 r14 r13 r12 rbx rbp [return address]
 * A fresh stack returns into tern_ctx_start with r12 = entry, r13 = arg.
 */
    .text

    .globl tern_ctx_switch
    .type tern_ctx_switch, @function
tern_ctx_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size tern_ctx_switch, .-tern_ctx_switch

    .globl tern_ctx_start
    .type tern_ctx_start, @function
tern_ctx_start:
    movq %r13, %rdi
    callq *%r12
    ud2
    .size tern_ctx_start, .-tern_ctx_start

    .section .note.GNU-stack,"",@progbits
