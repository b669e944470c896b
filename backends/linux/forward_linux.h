/*
 * Interface: tern-linux's port forwarding, the host side of core's
 * forwarder (include/tern/forward.h) on libuv:
 *
 *   --forward tcp:HOSTADDR:HOSTPORT-GUESTIP:GUESTPORT
 *   --forward udp:HOSTADDR:HOSTPORT-GUESTIP:GUESTPORT      (repeatable)
 *
 * A TCP rule listens on HOSTADDR:HOSTPORT (an IPv4 address of the host;
 * 127.0.0.1 keeps it local) and splices each connection to
 * GUESTIP:GUESTPORT through Tern's stack; a UDP rule relays datagrams
 * from host peers to GUESTIP:GUESTPORT and the replies back. Host reads
 * go straight into the forwarder (at most its room, one shared 64 KiB
 * buffer); host writes are tried at once and the rest queued in libuv,
 * at most LINUX_FWD_WRITE_QUEUE bytes a connection before the forwarder
 * is told to wait (ops->write takes less).
 *
 *   linux_fwd_parse() for each --forward (a bad rule: message, exit 2);
 *   once the stack is up, linux_fwd_start(); /status reports the
 *   counters through bn->forward.
 */
#ifndef TERN_LINUX_FORWARD_H
#define TERN_LINUX_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include <netinet/in.h>
#include <uv.h>

#include "tern/forward.h"
#include "tern/os.h"

#define LINUX_FWD_MAX TERN_FWD_MAX_RULES
#define LINUX_FWD_WRITE_QUEUE (64u * 1024)

struct tern_boot_net;

struct linux_fwd_rule_opt {
    enum tern_fwd_proto proto;
    struct sockaddr_in host;         /* where to listen */
    uint32_t guest_ip;               /* host order */
    uint16_t guest_port;
};

struct linux_fwd_opts {
    struct linux_fwd_rule_opt rules[LINUX_FWD_MAX];
    unsigned count;
};

struct linux_fwd;

/* One rule's host socket. */
struct linux_fwd_listener {
    union {
        uv_tcp_t tcp;
        uv_udp_t udp;
    } h;
    struct linux_fwd *lf;
    unsigned rule;
    bool open;
};

struct linux_fwd {
    struct tern_fwd fwd;
    struct tern_os *os;
    uv_loop_t *loop;
    struct linux_fwd_listener l[LINUX_FWD_MAX];
    unsigned count;
    struct tern_shutdown_hook at_exit;
    bool running;
    char rbuf[64 * 1024];            /* every host read lands here first */
};

/* Parses one --forward into o. 0, or -1 with a message on stderr. */
int linux_fwd_parse(struct linux_fwd_opts *o, const char *spec);

/* Starts the forwarder on bn's stack (TCP attached) and listens on
 * every rule's host address; sets bn->forward. Nothing when o has no
 * rule. 0, or -1 (logged: a host address that cannot be bound). */
int linux_fwd_start(struct linux_fwd *lf, struct tern_os *os, uv_loop_t *loop,
                    struct tern_boot_net *bn, const struct linux_fwd_opts *o);

#endif
