/* The HTTP engine's own CPU cost per request, without sockets or a
 * kernel: keep-alive GET /healthz requests (the bytes wrk sends) offered
 * to one connection of the engine on the sim platform, each response
 * drained, access log on (into the ring, console at warn, as bench.sh
 * runs tern-linux). Prints ns per request, the best of several rounds
 * of CPU time (so a loaded machine inflates it less than wall time).
 *   usage: http_engine_bench [REQUESTS]   (default 200000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_harness.h"

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char req[] = "GET /healthz HTTP/1.1\r\nHost: 192.0.2.10\r\n\r\n";

/* One request in, its response out. Returns the response's length. */
static size_t one(struct tern_http_conn *c)
{
    size_t n = tern_http_conn_input(c, (const uint8_t *)req, sizeof req - 1);
    const uint8_t *out;
    size_t len;
    tern_http_conn_output(c, &out, &len);
    tern_http_conn_output_done(c, len);
    return n == sizeof req - 1 ? len : 0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    static struct bench b;
    bench_init(&b, NULL);
    b.wall_s = 1700000000;                   /* Date on every response */
    struct tern_http_conn *c = tern_http_conn_open(&b.srv, NULL, NULL);
    if (!c || one(c) == 0) {
        fprintf(stderr, "http_engine_bench: no response\n");
        return 1;
    }
    double best = 1e9;
    size_t resp = 0;
    for (int round = 0; round < 5; round++) {
        double t0 = cpu_s();
        for (long i = 0; i < n; i++)
            resp = one(c);
        double dt = cpu_s() - t0;
        if (dt < best)
            best = dt;
        b.sim.now_ns += 1000000000ull;       /* timers and Date move on */
        b.wall_s++;
        tern_os_step(&b.os, 0);
    }
    printf("keep-alive GET /healthz through the engine: %.0f ns/request "
           "(best of 5 x %ld; %zu-byte request, %zu-byte response)\n",
           best / (double)n * 1e9, n, sizeof req - 1, resp);
    tern_http_conn_close(c);
    bench_fini(&b);
    return 0;
}
