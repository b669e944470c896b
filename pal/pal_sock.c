/*
 * Interface: the PAL's sock group. Work in progress: the members are
 * filled by the next commit; until then they stay NULL.
 */
#include "pal_internal.h"

void pal_fill_sock(struct tern_pal *t)
{
    (void)t;
}

void pal_sock_finish(struct tern_pal_app *app)
{
    (void)app;
}
