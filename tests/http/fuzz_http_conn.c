/* libFuzzer harness: the whole HTTP engine and built-in service (parser,
 * dispatch, path decoding, static files with ranges and conditionals,
 * /echo streaming, deadlines) on the sim platform. The first byte sets the
 * piece size and how fast the peer reads; the rest is one connection's
 * input, fed in pieces with virtual time passing between them. Afterwards
 * every connection and file must be released. */
#include <stdint.h>
#include <stdlib.h>

#include "http_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct bench *B;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!B) {
        B = calloc(1, sizeof *B);
        struct tern_http_config cfg;
        tern_http_config_default(&cfg);
        cfg.access_log = false;
        bench_init(B, &cfg);
    }
    if (size < 1 || size > 60000)
        return 0;
    size_t piece = 1 + data[0] % 97;
    struct client *cl = client_open(B);
    cl->drain_max = (data[0] & 0x80) ? 1 + (data[0] & 0x3f) * 50 : 0;
    for (size_t off = 1; off < size && !cl->closed; off += piece) {
        size_t n = size - off < piece ? size - off : piece;
        client_send(cl, data + off, n);
        bench_advance(B, 1000000000ull);
        client_pump(cl);
    }
    if (!cl->closed) {
        tern_http_conn_input_closed(cl->c);
        client_pump(cl);
        bench_advance(B, 200ull * 1000000000ull);   /* every deadline passes */
        client_pump(cl);
    }
    client_free(cl);
    if (B->srv.counters.conns_active != 0 || B->fs.open_handles != 0)
        abort();
    return 0;
}
