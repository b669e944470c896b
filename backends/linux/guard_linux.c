/* Interface: see guard_linux.h. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

#include "guard_linux.h"
#include "tern/os.h"
#include "tern/thread.h"
#include "tern/workload.h"

#define TICK_MS TERN_WATCHDOG_TICK_MS

static struct linux_guard *guard;   /* the handlers' way back (see the header) */

static void say(const char *s)
{
    ssize_t r = write(STDOUT_FILENO, s, strlen(s));
    (void)r;
}

static void dump_registers(const ucontext_t *uc)
{
    const greg_t *g = uc->uc_mcontext.gregs;
    char line[512];
    snprintf(line, sizeof line,
             "  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n"
             "  rsi=%016llx rdi=%016llx rbp=%016llx rsp=%016llx\n"
             "  r8 =%016llx r9 =%016llx r10=%016llx r11=%016llx\n"
             "  r12=%016llx r13=%016llx r14=%016llx r15=%016llx\n"
             "  rip=%016llx rflags=%08llx\n",
             (unsigned long long)g[REG_RAX], (unsigned long long)g[REG_RBX],
             (unsigned long long)g[REG_RCX], (unsigned long long)g[REG_RDX],
             (unsigned long long)g[REG_RSI], (unsigned long long)g[REG_RDI],
             (unsigned long long)g[REG_RBP], (unsigned long long)g[REG_RSP],
             (unsigned long long)g[REG_R8], (unsigned long long)g[REG_R9],
             (unsigned long long)g[REG_R10], (unsigned long long)g[REG_R11],
             (unsigned long long)g[REG_R12], (unsigned long long)g[REG_R13],
             (unsigned long long)g[REG_R14], (unsigned long long)g[REG_R15],
             (unsigned long long)g[REG_RIP], (unsigned long long)g[REG_EFL]);
    say(line);
}

static const char *fault_name(int sig, int code)
{
    switch (sig) {
    case SIGSEGV: return code == SEGV_ACCERR ? "protection-fault" : "page-fault";
    case SIGBUS: return "bus-error";
    case SIGILL: return "invalid-opcode";
    case SIGFPE: return "divide-error";
    default: return "signal";
    }
}

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
    const ucontext_t *uc = ctx;
    uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
    if (guard == NULL || !tern_workload_app_fault(guard->w, rip)) {
        signal(sig, SIG_DFL);                /* the OS's own bug: the default action */
        return;
    }
    const char *what = sig == SIGSEGV && tern_thread_guard_hit(guard->os, (uint64_t)(uintptr_t)si->si_addr)
                           ? "stack-overflow"
                           : fault_name(sig, si->si_code);
    char line[160];
    snprintf(line, sizeof line, "error guard: the app crashed: %s at rip=0x%llx addr=%p\n", what,
             (unsigned long long)rip, si->si_addr);
    say(line);
    dump_registers(uc);
    tern_workload_report_crash(guard->w, what);
    _exit(TERN_WORKLOAD_HALT_CRASH);
}

/* Every TICK_MS of CPU time: has the loop or any thread switch moved?
 * (core's rule, tern_watchdog_tick) */
static void on_tick(int sig, siginfo_t *si, void *ctx)
{
    (void)sig, (void)si;
    struct linux_guard *g = guard;
    if (g == NULL || g->os == NULL || !tern_watchdog_tick(&g->wd, g->os, TICK_MS))
        return;
    const ucontext_t *uc = ctx;
    uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
    char line[160];
    snprintf(line, sizeof line,
             "error guard: an app thread ran %u ms without yielding (watchdog %u ms), rip=0x%llx\n",
             g->wd.still_ms, g->wd.limit_ms, (unsigned long long)rip);
    say(line);
    dump_registers(uc);
    if (tern_workload_app_fault(g->w, rip)) {
        tern_workload_report_crash(g->w, "watchdog");
        _exit(TERN_WORKLOAD_HALT_CRASH);
    }
    tern_panic(g->os, "a core thread ran %u ms without yielding", g->wd.still_ms);
}

int linux_guard_start(struct linux_guard *g, struct tern_os *os, struct tern_workload *w,
                      uint32_t watchdog_ms)
{
    memset(g, 0, sizeof *g);
    g->os = os;
    g->w = w;
    tern_watchdog_init(&g->wd, watchdog_ms);
    stack_t ss = { .ss_size = 64 * 1024 };
    g->altstack = ss.ss_sp = malloc(ss.ss_size);
    if (ss.ss_sp == NULL || sigaltstack(&ss, NULL) != 0) {
        perror("tern-linux: sigaltstack");
        return -1;
    }
    guard = g;
    struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO | SA_ONSTACK };
    sigemptyset(&sa.sa_mask);
    const int faults[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE };
    for (unsigned i = 0; i < sizeof faults / sizeof faults[0]; i++)
        sigaction(faults[i], &sa, NULL);
    if (watchdog_ms == 0)
        return 0;
    sa.sa_sigaction = on_tick;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigaction(SIGVTALRM, &sa, NULL);
    struct itimerval it = { { 0, TICK_MS * 1000 }, { 0, TICK_MS * 1000 } };
    if (setitimer(ITIMER_VIRTUAL, &it, NULL) != 0) {
        perror("tern-linux: setitimer");
        return -1;
    }
    return 0;
}

void linux_guard_stop(struct linux_guard *g)
{
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_VIRTUAL, &off, NULL);
    guard = NULL;
    stack_t ss = { .ss_flags = SS_DISABLE };
    sigaltstack(&ss, NULL);
    free(g->altstack);
    g->altstack = NULL;
}
