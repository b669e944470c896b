/*
 * Interface: what forward.c, forward_tcp.c and forward_udp.c share
 * (tern/forward.h is the public side).
 */
#ifndef TERN_FORWARD_INTERNAL_H
#define TERN_FORWARD_INTERNAL_H

#include "tern/forward.h"
#include "tern/timer.h"

/* The rule at index rule when it is of proto, else NULL. */
const struct tern_fwd_rule *fwd_rule(const struct tern_fwd *fwd, unsigned rule, uint8_t proto);

/* Ends connection c: the guest side closed (why TERN_OK) or aborted,
 * the slot freed, then ops->close(host, why). */
void fwd_conn_end(struct tern_fwd_conn *c, tern_result why);

/* The idle timers (arg: the conn, the flow). */
void fwd_conn_idle(struct tern_timer *t, void *arg);
void fwd_flow_idle(struct tern_timer *t, void *arg);

/* Closes flow fl's socket and frees its slot. */
void fwd_flow_close(struct tern_fwd_flow *fl);

#endif
