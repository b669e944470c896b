/*
 * Interface: tern-linux's guard over the app: a crash in the app's code
 * (SIGSEGV, SIGBUS, SIGILL, SIGFPE: a bad pointer, an invalid opcode, a
 * divide error, a write to its own sealed text, a stack overflow onto a
 * guard) and an app thread that runs for longer than the watchdog limit
 * without yielding both end the process with a register dump, the
 * TERN_APP_EXIT marker (reason=crash:...) and exit status
 * TERN_WORKLOAD_HALT_CRASH, for a supervisor to act on. A fault outside
 * the app is the OS's own bug: the default action (a core dump) follows.
 *
 * Signals carry no context pointer, so the guard keeps the one pointer a
 * handler needs in a static: the single exception to "no mutable globals"
 * in this backend, set once by main before the loop runs.
 */
#ifndef TERN_GUARD_LINUX_H
#define TERN_GUARD_LINUX_H

#include <stdint.h>

#include "tern/workload.h"

struct tern_os;
struct tern_workload;

#define LINUX_WATCHDOG_MS_DEFAULT TERN_WATCHDOG_MS_DEFAULT

struct linux_guard {
    struct tern_os *os;
    struct tern_workload *w;
    struct tern_watchdog wd;         /* limit 0: no watchdog */
    void *altstack;
};

/* Installs the handlers (on an alternate stack) and, when watchdog_ms is
 * not 0, a 100 ms CPU-time ticker. 0, or -1 with a message on stderr. */
int linux_guard_start(struct linux_guard *g, struct tern_os *os, struct tern_workload *w,
                      uint32_t watchdog_ms);

void linux_guard_stop(struct linux_guard *g);

#endif
