/* libFuzzer harness: the whole HTTP engine and built-in service (parser,
 * dispatch, path decoding, static files with ranges and conditionals,
 * /echo streaming, deadlines) on the sim platform. The first byte sets the
 * piece size and how fast the peer reads; the rest is one connection's
 * input, fed in pieces with virtual time passing between them. Afterwards
 * every connection and file must be released. The engine is set up once
 * and restored from a snapshot before each input (fuzz_snapshot.h). */
#include <stdint.h>
#include <stdlib.h>

/* Every input restores the whole heap: keep it small (the engine's peak
 * here is about 100 KiB). */
#define BENCH_HEAP (512u << 10)

#include "fuzz_snapshot.h"
#include "http_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The engine, set up on the first input and snapshotted; every input
 * starts from that snapshot, so nothing (time, counters, heap layout)
 * carries over from the inputs before it. */
static struct bench *instance(void)
{
    static struct bench *b;
    static struct fuzz_snapshot snap;
    if (b != NULL) {
        fuzz_snapshot_restore(&snap);
        return b;
    }
    b = calloc(1, sizeof *b);
    if (b == NULL)
        abort();
    struct tern_http_config cfg;
    tern_http_config_default(&cfg);
    cfg.access_log = false;
    bench_init(b, &cfg);
    fuzz_snapshot_take(&snap, b, sizeof *b, b->sim.heap, b->sim.heap_size);
    return b;
}

/* One client for the whole run (its 320 KiB of buffers are not cleared:
 * only the lengths are reset, the engine never sees them). */
static struct client *client_reset(struct bench *b)
{
    static struct client cl;
    cl.b = b;
    cl.got_len = cl.pending_len = 0;
    cl.got[0] = '\0';
    cl.drain_max = 0;
    cl.closed = false;
    cl.wakes = 0;
    cl.c = tern_http_conn_open(&b->srv, client_wake, &cl);
    if (cl.c == NULL)
        abort(); /* the restored engine has every connection free */
    return &cl;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 60000)
        return 0;
    struct bench *B = instance();
    size_t piece = 1 + data[0] % 97;
    struct client *cl = client_reset(B);
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
    if (!cl->closed)
        tern_http_conn_close(cl->c);
    if (B->srv.counters.conns_active != 0 || B->fs.open_handles != 0)
        abort();
    return 0;
}
