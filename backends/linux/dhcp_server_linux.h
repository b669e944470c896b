/*
 * Interface: tern-linux's DHCP server options (core's server,
 * include/tern/dhcp_server.h, on net0):
 *
 *   --dhcp-server FIRST-LAST[,router=A.B.C.D][,dns=A.B.C.D[+A.B.C.D...]]
 *                 [,domain=NAME][,lease=SECONDS][,leases=N]
 *   --dhcp-lease-file FILE
 *
 * net0 must have a static address (--ip, or the manifest's). The lease
 * file is loaded at start when it exists (a file the server refuses stops
 * tern-linux with the reason), and written again (FILE.tmp, then renamed
 * over FILE) a second after the table changed and at shutdown.
 *
 *   linux_dhcp_server_parse() for --dhcp-server; after the stack is up,
 *   linux_dhcp_server_start().
 */
#ifndef TERN_LINUX_DHCP_SERVER_H
#define TERN_LINUX_DHCP_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "tern/dhcp_server.h"
#include "tern/os.h"
#include "tern/timer.h"

struct linux_dhcp_server_opts {
    bool on;                         /* --dhcp-server was given */
    struct tern_dhcp_server_config cfg; /* the pool and options; cfg.domain -> domain */
    char domain[TERN_DHCP_HOSTNAME_MAX + 1];
    const char *lease_file;          /* --dhcp-lease-file, NULL: none */
};

struct linux_dhcp_server {
    struct tern_dhcp_server srv;
    struct tern_os *os;
    const char *file;
    char *buf;                       /* tern_dhcp_server_save_size bytes (malloc) */
    struct tern_timer save_timer;
    struct tern_shutdown_hook at_exit;
    bool dirty;
};

/* Parses --dhcp-server's argument into o. 0, or -1 with a message on
 * stderr. */
int linux_dhcp_server_parse(struct linux_dhcp_server_opts *o, const char *spec);

/* Starts the server on interface 0 of net (which must have its address)
 * and loads the lease file. 0, or -1 with the reason logged. */
int linux_dhcp_server_start(struct linux_dhcp_server *d, struct tern_os *os, struct tern_net *net,
                            const struct linux_dhcp_server_opts *o);

#endif
