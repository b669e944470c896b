/*
 * Interface: the DHCP wire format shared by the client (dhcp.c) and the
 * server (dhcp_server*.c); not for use outside core/net. A message is a
 * 236-byte BOOTP header (RFC 2131 section 2), the magic cookie
 * 99.130.83.99, then options: code, length, data; 0 is padding, 255 ends
 * them. Option 52 (overload, RFC 2132 9.3) lets options continue in the
 * header's 'file' field, then its 'sname' field.
 */
#ifndef TERN_DHCP_WIRE_H
#define TERN_DHCP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DHCP_BOOTP_HLEN 236
#define DHCP_MIN_LEN (DHCP_BOOTP_HLEN + 4)
#define DHCP_MAGIC 0x63825363u
#define DHCP_OFF_SNAME 44              /* 64 bytes */
#define DHCP_OFF_FILE 108              /* 128 bytes */
#define DHCP_MSG_MAX 576               /* what every client must accept */
#define DHCP_OPT_PAD 0
#define DHCP_OPT_OVERLOAD 52
#define DHCP_OPT_END 255

/* Called with each option but pad, end and overload: its code and its
 * len bytes at v (inside the message). NULL to go on, or a short static
 * reason that refuses the whole message. */
typedef const char *(*dhcp_opt_fn)(void *arg, uint8_t code, const uint8_t *v, size_t len);

/* Walks the options of msg (len >= DHCP_MIN_LEN; the header and cookie
 * are the caller's to check): the options field, then, as option 52
 * says, 'file' and 'sname'. Each area must end with an end option, and
 * every option must lie inside its area. Refused, with the reason
 * returned: "truncated option", "no end option", "repeated option" (also
 * across areas: RFC 3396 concatenation is not supported), "bad overload"
 * (52 with a length but 1 or a value but 1-3, or in 'file'/'sname'),
 * or what fn returned. NULL when every option was taken. Every area is
 * walked once: no input can loop. */
const char *dhcp_walk_options(const uint8_t *msg, size_t len, dhcp_opt_fn fn, void *arg);

/* True for 1 to 63 characters of [A-Za-z0-9.-] (a host or domain name
 * we send or record). */
bool dhcp_name_ok(const uint8_t *p, size_t n);

/* Appends option code with len bytes of v at b + i; returns the new end. */
size_t dhcp_put_opt(uint8_t *b, size_t i, uint8_t code, const void *v, uint8_t len);

#endif
