/*
 * Interface: what the DHCP server's files share (not for use outside
 * core/net). dhcp_server.c handles the messages; dhcp_server_msg.c
 * parses a client's message and builds and sends replies;
 * dhcp_lease_table.c keeps the table (lookups, allocation, expiry);
 * dhcp_lease_file.c saves and loads it.
 *
 * Table invariant: a pool address's bit in s->taken is set exactly when
 * a slot that is not EMPTY holds it, or it is the server's own address or
 * the router's (never handed out). A declined slot has no client
 * (id_len 0), so no client lookup finds it.
 */
#ifndef TERN_DHCP_SERVER_INTERNAL_H
#define TERN_DHCP_SERVER_INTERNAL_H

#include "dhcp_wire.h"
#include "tern/dhcp_server.h"

#define DHCPS_FLAG_BROADCAST 0x8000u

/* A parsed client message (host order; absent options are 0). */
struct dhcps_msg {
    uint8_t type;                 /* option 53 */
    uint32_t xid;
    uint16_t flags;
    uint32_t ciaddr, giaddr;
    uint8_t chaddr[TERN_MAC_LEN];
    uint32_t requested;           /* 50 */
    uint32_t server_id;           /* 54 */
    uint8_t id[TERN_DHCP_CLIENT_ID_MAX]; /* 61, else 1 + chaddr */
    uint8_t id_len;
    bool sent_id;                 /* 61 was present: echoed in replies (RFC 6842) */
    char hostname[TERN_DHCP_HOSTNAME_MAX + 1]; /* 12 when valid, else "" */
};

/* ---- dhcp_server_msg.c ---- */

/* Parses a client's message (op 1, Ethernet). NULL, or why it is refused
 * (m is then partly written). */
const char *dhcps_parse(const uint8_t *b, size_t len, struct dhcps_msg *m);

/* Sends a reply of type (OFFER, ACK or NAK) to m: yiaddr, and the lease
 * time when with_lease; a NAK carries why as option 56. Chooses the
 * destination by RFC 2131 4.1. Counts the reply or the failure. */
void dhcps_reply(struct tern_dhcp_server *s, const struct dhcps_msg *m, uint8_t type,
                 uint32_t yiaddr, bool with_lease, const char *why);

/* Formats a MAC as aa:bb:cc:dd:ee:ff into out (18 bytes). */
void dhcps_mac_text(const uint8_t mac[TERN_MAC_LEN], char out[18]);

/* ---- dhcp_lease_table.c ---- */

uint64_t dhcps_now_ms(const struct tern_dhcp_server *s);
bool dhcps_in_pool(const struct tern_dhcp_server *s, uint32_t addr);
/* True for the server's own address and the router's (never handed out). */
bool dhcps_reserved(const struct tern_dhcp_server *s, uint32_t addr);
void dhcps_mark(struct tern_dhcp_server *s, uint32_t addr, bool taken);
bool dhcps_marked(const struct tern_dhcp_server *s, uint32_t addr);

/* The client's slot (any state but EMPTY and DECLINED), or NULL. */
struct tern_dhcp_lease *dhcps_by_client(struct tern_dhcp_server *s, const uint8_t *id,
                                        uint8_t id_len);
/* The slot holding addr (any state but EMPTY), or NULL. */
struct tern_dhcp_lease *dhcps_by_addr(const struct tern_dhcp_server *s, uint32_t addr);

/* A slot with an address for a client that holds none (RFC 2131 4.3.1):
 * requested when free, else the next never-used address, else the one
 * free the longest. The slot is left FREE with its address; the caller
 * fills in the client and the state. NULL when the pool or the table has
 * nothing (*why says which). */
struct tern_dhcp_lease *dhcps_allocate(struct tern_dhcp_server *s, uint32_t requested,
                                       const char **why);

/* Moves l to state with the expiry at_ms (OFFERED, BOUND, DECLINED) or
 * now (FREE), arming the timer when it is earlier than the one set. */
void dhcps_set_state(struct tern_dhcp_server *s, struct tern_dhcp_lease *l, uint8_t state,
                     uint64_t at_ms);

/* Empties every slot and marks only the reserved addresses taken. */
void dhcps_clear_table(struct tern_dhcp_server *s);

/* Notes a change save would write (s->changes, on_change). */
void dhcps_changed(struct tern_dhcp_server *s);

/* The timer's callback: every lease due lapses; re-arms for the next. */
void dhcps_on_timer(struct tern_timer *t, void *arg);

#endif
