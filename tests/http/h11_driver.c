/* Test driver for the h11 referee (h11_referee.py): runs the HTTP engine
 * and built-in service on the sim platform, offers stdin as the bytes of
 * one connection (reading its output drain_max bytes at a time when given
 * as argv[1]), and writes every byte the engine sent to stdout. The exit
 * code is 0 when the engine closed the connection, 3 when it kept it
 * open. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "http_harness.h"

int main(int argc, char **argv)
{
    static struct bench b;
    static uint8_t in[1 << 16];
    size_t n = fread(in, 1, sizeof in, stdin);
    bench_init(&b, NULL);
    struct client *cl = client_open(&b);
    if (argc > 1)
        cl->drain_max = (size_t)atoi(argv[1]);
    client_send(cl, in, n);
    fwrite(cl->got, 1, cl->got_len, stdout);
    fflush(stdout);
    int code = cl->closed ? 0 : 3;
    client_free(cl);
    bench_fini(&b);
    return code;
}
