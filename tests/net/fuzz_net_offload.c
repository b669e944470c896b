/* libFuzzer harness for offload metadata: the first 10 bytes are a
 * struct tern_net_meta (flags, gso_type, then hdr_len, gso_size,
 * csum_start, csum_offset big-endian), the rest is the frame.
 * tern_net_meta_check must never read outside the frame, whatever the
 * offsets claim; tern_net_gso_segment must emit only frames that fit its
 * buffer and, when it accepts, TCP segments whose checksums are right.
 * The same 10 bytes are also read as a little-endian virtio_net_hdr
 * (tern_net_meta_from_vnet, what a device hands the backends): checked,
 * and tern_net_finish_csum run on the frame, which must stay in bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tern/inet.h"
#include "tern/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[TERN_NET_LARGE_FRAME];

static void emit(void *arg, const uint8_t *f, size_t n)
{
    size_t *count = arg;
    if (n > sizeof(out) || f != out)
        abort();
    (*count)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 10)
        return 0;
    struct tern_net_meta m = {
        .flags = data[0],
        .gso_type = data[1],
        .hdr_len = tern_load_be16(data + 2),
        .gso_size = tern_load_be16(data + 4),
        .csum_start = tern_load_be16(data + 6),
        .csum_offset = tern_load_be16(data + 8),
    };
    size_t len = size - 10;
    /* a heap copy of exactly len bytes, so ASan catches any overread */
    uint8_t *f = malloc(len ? len : 1);
    if (f == NULL)
        return 0;
    memcpy(f, data + 10, len);
    uint32_t all = TERN_NET_OFFLOAD_RX_CSUM | TERN_NET_OFFLOAD_RX_LARGE;
    for (uint32_t offl = 0; offl <= all; offl++)
        (void)tern_net_meta_check(f, len, &m, offl);
    size_t count = 0;
    tern_result r = tern_net_gso_segment(f, len, &m, out, sizeof(out), emit, &count);
    if (r == TERN_OK && count == 0)
        abort(); /* accepted, yet nothing came out */
    if (r != TERN_OK && count != 0)
        abort(); /* refused after emitting */
    /* a small output buffer: refused or cut to fit, never overrun */
    count = 0;
    (void)tern_net_gso_segment(f, len, &m, out, 200, emit, &count);
    struct tern_net_meta v;
    tern_net_meta_from_vnet(&v, data);
    uint8_t back[TERN_VNET_HDR_LEN];
    tern_net_meta_to_vnet(back, &v);
    if (tern_net_meta_check(f, len, &v, all) == TERN_OK) {
        if ((back[0] & 1) != (data[0] & 1) || memcmp(back + 2, data + 2, 8) != 0)
            abort(); /* an accepted header does not survive a round trip */
        tern_net_finish_csum(f, len, &v);
    }
    free(f);
    return 0;
}
