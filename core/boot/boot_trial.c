/*
 * Interface: see include/tern/boot_pkg.h (tern_boot_pkg_healthy,
 * tern_boot_pkg_ended): a trial of a staged package confirmed by its
 * health check, or rolled back on the loop's halt path (docs/updates.md,
 * "The boot").
 */
#include <string.h>

#include "tern/boot_pkg.h"
#include "tern/fmt.h"
#include "tern/manifest.h"
#include "tern/os.h"
#include "tern/workload.h"

bool tern_boot_pkg_on_trial(const struct tern_boot_pkg *bp)
{
    return bp != NULL && bp->trial && !bp->confirmed;
}

void tern_boot_pkg_healthy(struct tern_boot_pkg *bp)
{
    if (!bp->is_pkg || !bp->have_update || bp->slot == TERN_SLOT_NONE || bp->confirmed)
        return;
    const struct tern_boot_state *s = &bp->update.state;
    uint64_t counter = bp->pkg.security_counter;
    if (!bp->trial && s->confirmed && counter <= s->counter)
        return;                                  /* nothing to store */
    tern_result r = tern_update_confirm(&bp->update, counter);
    if (r != TERN_OK) {
        tern_log(bp->os, TERN_LOG_ERROR, "update", "slot %s: the confirm was not stored (%s)",
                 tern_update_slot_name(bp->slot), tern_result_name(r));
        return;
    }
    bp->confirmed = true;
    tern_marker(bp->os, "TERN_UPDATE_CONFIRMED", "slot=%s name=%s version=%s counter=%llu%s",
                tern_update_slot_name(bp->slot), bp->m ? bp->m->name : "-",
                bp->m ? bp->m->version : "-", (unsigned long long)s->counter,
                bp->trial ? " trial=1" : "");
}

/* The record's reason for how the app ended. */
static unsigned why_of(int code, const char *reason)
{
    if (strcmp(reason, "crash:watchdog") == 0)
        return TERN_UPDATE_WHY_WATCHDOG;
    if (strncmp(reason, "crash", 5) == 0 || code == TERN_WORKLOAD_HALT_CRASH)
        return TERN_UPDATE_WHY_CRASH;
    if (strcmp(reason, "unhealthy") == 0 || code == TERN_WORKLOAD_HALT_UNHEALTHY)
        return TERN_UPDATE_WHY_UNHEALTHY;
    return TERN_UPDATE_WHY_EXIT;
}

int tern_boot_pkg_ended(struct tern_boot_pkg *bp, int code, const char *reason)
{
    if (!tern_boot_pkg_on_trial(bp) || !bp->have_update)
        return code;
    if (reason == NULL)
        reason = "-";
    unsigned why = why_of(code, reason);
    char text[TERN_UPDATE_TEXT_MAX];
    tern_snprintf(text, sizeof text, "%s %s: %s, code %d", bp->m ? bp->m->name : "-",
                  bp->m ? bp->m->version : "-", reason, code);
    tern_result r = tern_update_fail(&bp->update, why, text);
    if (r != TERN_OK) {
        /* not stored: the next boot counts this try and rolls back when they run out */
        tern_log(bp->os, TERN_LOG_ERROR, "update", "slot %s: the failed trial was not stored (%s)",
                 tern_update_slot_name(bp->slot), tern_result_name(r));
        return code;
    }
    bp->trial = false;
    tern_marker(bp->os, "TERN_UPDATE_FAILED", "slot=%s reason=%s code=%d",
                tern_update_slot_name(bp->slot), tern_update_why_name(why), code);
    tern_log(bp->os, TERN_LOG_WARN, "update",
             "the trial of slot %s failed (%s): rolled back; restarting into slot %s",
             tern_update_slot_name(bp->slot), tern_update_why_name(why),
             tern_update_slot_name(bp->update.state.active));
    return TERN_WORKLOAD_HALT_RESTART;
}
