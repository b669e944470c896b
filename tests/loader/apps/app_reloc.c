/*
 * Interface: a loader test app whose result needs every kind of pointer a
 * static PIE relocates: a function-pointer table and a string table in
 * .data.rel.ro, a global pointing at a global pointing at a global, and
 * BSS. tern_app_main returns APP_RELOC_RESULT when all were relocated
 * (an unrelocated pointer holds a link-time address and faults).
 *
 *   ops:   3 -> +1 -> *2 -> squared          = 64
 *   names: sum of the bytes of "alpha", "beta", "gamma" = 518 + 412 + 515 = 1445
 *   counter through counter_pp               = 7
 *   bss:   sum of 4096 zero bytes, plus bss[100] after it is set to 1 = 1
 *   total                                    = 1517
 */
#include <stddef.h>
#include <stdint.h>

#include "app_note.h"

static int add1(int x) { return x + 1; }
static int twice(int x) { return x * 2; }
static int square(int x) { return x * x; }

static int (*const ops[])(int) = { add1, twice, square };
static const char *const names[] = { "alpha", "beta", "gamma" };

int counter = 7;
int *counter_ptr = &counter;
int **counter_pp = &counter_ptr;
unsigned char bss[4096];

int tern_app_main(const void *pal, const void *start);

int tern_app_main(const void *pal, const void *start)
{
    (void)pal;
    (void)start;
    int v = 3;
    /* volatile indices keep the compiler from folding the tables away */
    for (volatile unsigned i = 0; i < sizeof ops / sizeof ops[0]; i++)
        v = ops[i](v);
    for (volatile unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        for (const char *p = names[i]; *p != '\0'; p++)
            v += *p;
    v += **counter_pp;
    for (volatile size_t i = 0; i < sizeof bss; i++)
        v += bss[i];
    bss[100] = 1;
    return v + ((volatile unsigned char *)bss)[100];
}
