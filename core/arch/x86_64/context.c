/* Interface: see core/arch/context.h. Builds the first frame of a stack. */
#include <stdint.h>

#include "../context.h"

void tern_ctx_start(void);

void *tern_ctx_prepare(void *stack, size_t size, void (*entry)(void *arg), void *arg)
{
    uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)top;
    /* The return address sits at top - 8: after the switch's ret, rsp is
     * 16-byte aligned, so tern_ctx_start's call gives entry the ABI's
     * alignment (rsp = 8 mod 16 on entry). */
    *--sp = (uint64_t)(uintptr_t)tern_ctx_start;
    *--sp = 0;                              /* rbp */
    *--sp = 0;                              /* rbx */
    *--sp = (uint64_t)(uintptr_t)entry;     /* r12 */
    *--sp = (uint64_t)(uintptr_t)arg;       /* r13 */
    *--sp = 0;                              /* r14 */
    *--sp = 0;                              /* r15 */
    *--sp = 0x1f80 | ((uint64_t)0x037f << 32); /* default MXCSR and x87 CW */
    return sp;
}
