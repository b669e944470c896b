/*
 * Interface: the backends' watchdog rule (see tern_watchdog_tick in
 * include/tern/workload.h), once for every backend: a thread is stuck
 * when it has been current for limit_ms of CPU time while neither the
 * loop (os->steps) nor any thread switch (os->sched.switches) moved.
 */
#include "tern/os.h"
#include "tern/workload.h"

void tern_watchdog_init(struct tern_watchdog *wd, uint32_t limit_ms)
{
    *wd = (struct tern_watchdog){ .limit_ms = limit_ms };
}

bool tern_watchdog_tick(struct tern_watchdog *wd, const struct tern_os *os, uint32_t elapsed_ms)
{
    if (wd->limit_ms == 0 || os == NULL)
        return false;
    uint64_t sw = os->sched.switches, steps = os->steps;
    if (sw != wd->last_switches || steps != wd->last_steps || os->sched.current == NULL) {
        wd->last_switches = sw;
        wd->last_steps = steps;
        wd->still_ms = 0;
        return false;
    }
    wd->still_ms = elapsed_ms >= UINT32_MAX - wd->still_ms ? UINT32_MAX
                                                           : wd->still_ms + elapsed_ms;
    return wd->still_ms >= wd->limit_ms;
}
