/*
 * Interface: the architecture's context switch, shared by every backend.
 * One implementation per architecture lives in core/arch/<arch>/.
 *
 * A context is just a saved stack pointer: the switch pushes the
 * callee-saved registers (and the FPU/SSE control words) on the current
 * stack, stores the stack pointer in *save_sp, loads new_sp and pops the
 * same frame from there.
 */
#ifndef TERN_ARCH_CONTEXT_H
#define TERN_ARCH_CONTEXT_H

#include <stddef.h>

/* Saves the current context into *save_sp and resumes the one at new_sp. */
void tern_ctx_switch(void **save_sp, void *new_sp);

/* Prepares a fresh stack [stack, stack+size) so that switching to the
 * returned stack pointer calls entry(arg). entry must never return. */
void *tern_ctx_prepare(void *stack, size_t size, void (*entry)(void *arg), void *arg);

#endif
