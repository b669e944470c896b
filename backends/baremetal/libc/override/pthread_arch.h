/*
 * Interface: Tern's replacement for musl's arch/x86_64/pthread_arch.h,
 * found first on the include path when musl's sources are compiled for
 * metal.
 *
 * musl reaches its per-thread data (errno, the current locale) through the
 * thread pointer in %fs. Tern on metal has no TLS and one hardware thread,
 * so the "thread pointer" is the address of one static struct pthread that
 * glue.c defines (errno lives there; its locale is the C locale). Tern's
 * cooperative threads share it: nothing in Tern reads errno across a yield.
 */
#ifndef TERN_MUSL_PTHREAD_ARCH_H
#define TERN_MUSL_PTHREAD_ARCH_H

extern struct __pthread __tern_musl_self;

static inline uintptr_t __get_tp(void)
{
    return (uintptr_t)&__tern_musl_self;
}

#define MC_PC gregs[REG_RIP]

#endif
