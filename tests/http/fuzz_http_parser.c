/* libFuzzer harness: the HTTP request parser (head, Content-Length and
 * chunked bodies, trailers, pipelining). The first input byte picks the
 * limits and a split point; the rest is fed whole, split in two and byte
 * by byte, and the three transcripts must be identical (any split gives
 * the same result), besides no crash, hang or sanitizer report. */
#include <stdint.h>
#include <stdlib.h>

#include "http_transcript.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct transcript whole, split, bytes;
    static struct tern_http_parser p;
    if (size < 1)
        return 0;
    uint8_t ctl = data[0];
    data++;
    size--;
    struct tern_http_limits lim = { 40 + (ctl & 7) * 40, 200 + (ctl & 0x18) * 64,
                                    1 + (ctl >> 5), 64u << (ctl & 3) };
    tr_run(&whole, &p, &lim, data, size, size ? size : 1, 0);
    if (size > 1)
        tr_run(&split, &p, &lim, data, size, 0, 1 + (size_t)ctl * 131 % (size - 1));
    else
        tr_run(&split, &p, &lim, data, size, 1, 0);
    tr_run(&bytes, &p, &lim, data, size, 1, 0);
    if (strcmp(whole.text, split.text) != 0 || strcmp(whole.text, bytes.text) != 0)
        abort();
    return 0;
}
