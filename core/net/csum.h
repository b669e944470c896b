/*
 * Interface: the Internet checksum (RFC 1071) over large buffers, for the
 * stack's hot paths (TCP segments out and in). Same contract and the same
 * final result as tern_csum_add in tern/inet.h, which stays the reference:
 * tern_csum_finish(tern_net_csum_add(s, p, n)) ==
 * tern_csum_finish(tern_csum_add(s, p, n)) for every s, p and n.
 */
#ifndef TERN_NET_CSUM_H
#define TERN_NET_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* Adds len bytes at data (any alignment; an odd tail byte is padded with
 * zero as RFC 1071 says) to the partial sum sum and returns the new
 * partial sum, ready for tern_csum_finish or another add. The bytes are
 * summed eight at a time in host order and the folded result is put back
 * in network order (RFC 1071 2(B), byte order independence). */
uint32_t tern_net_csum_add(uint32_t sum, const void *data, size_t len);

#endif
