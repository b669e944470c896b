/*
 * Interface: the Linux end of bench/net/tcp_tap.sh and tcp_tap_profile.sh,
 * a TCP bulk throughput meter on the Linux stack (hosted tool, C so the
 * veth baseline is not held back by an interpreter).
 *
 *   tcp_meter recv PORT
 *       Listens on 0.0.0.0:PORT (SO_REUSEADDR, backlog 1), prints
 *       "listening", accepts one connection, reads it to EOF with 256 KiB
 *       read()s and checks every byte against the pattern of tern-linux's
 *       --tcp-send (backends/linux/net_diag.c):
 *           byte[i] = (i * 31 + (i >> 8)) & 0xff
 *       Prints "BYTES SECONDS MBIT/S pattern=ok" (time from the first byte
 *       to EOF), or "... pattern=bad at OFFSET" and exits 1.
 *   tcp_meter send HOST PORT BYTES
 *       Connects to HOST (dotted IPv4) and writes BYTES bytes of the same
 *       pattern in 1 MiB write()s, half-closes, waits for the peer's close,
 *       prints "BYTES SECONDS MBIT/S" (time from the connect to the close).
 *
 * Plain blocking sockets; SO_RCVBUF/SO_SNDBUF are left to the kernel
 * (autotuning), as the Python meter it replaces did; the sender has a
 * 60 s send/receive timeout (the Python meter's create_connection timeout).
 * The check is a memcmp against a precomputed table (the pattern repeats
 * every 64 KiB), so the receiver costs little more than its read()s.
 * Exit 0 on success, 1 on a socket error or a bad pattern, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define PATTERN_PERIOD 65536u          /* pattern(i) == pattern(i % 65536) */
#define SEND_CHUNK (1u << 20)           /* bytes per write() */
#define RECV_CHUNK (256u << 10)         /* bytes per read() */

/* The table holds pattern(0 .. SEND_CHUNK + PERIOD - 1): any run of up to
 * SEND_CHUNK bytes starting at stream offset o is table + o % PERIOD. */
#define TABLE_LEN (SEND_CHUNK + PATTERN_PERIOD)

static uint8_t pattern(uint64_t i)
{
    return (uint8_t)((i * 31u + (i >> 8)) & 0xffu);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(unsigned long long n, double secs, const char *tail)
{
    printf("%llu %.3f %.1f%s\n", n, secs, secs > 0 ? (double)n * 8 / secs / 1e6 : 0.0, tail);
    fflush(stdout);
}

/* Compares buf[0..len) with the pattern at stream offset off. Returns
 * len if all match, else the index of the first differing byte. */
static size_t check(const uint8_t *table, const uint8_t *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        uint64_t o = off + done;
        size_t n = len - done;
        if (n > PATTERN_PERIOD)
            n = PATTERN_PERIOD;
        const uint8_t *want = table + (o % PATTERN_PERIOD);
        if (memcmp(buf + done, want, n) != 0) {
            for (size_t i = 0; i < n; i++)
                if (buf[done + i] != want[i])
                    return done + i;
        }
        done += n;
    }
    return len;
}

static int do_recv(const uint8_t *table, uint16_t port)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls < 0) {
        perror("tcp_meter: socket");
        return 1;
    }
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 1) < 0) {
        perror("tcp_meter: bind/listen");
        return 1;
    }
    printf("listening\n");
    fflush(stdout);
    int c;
    while ((c = accept(ls, NULL, NULL)) < 0 && errno == EINTR)
        ;
    if (c < 0) {
        perror("tcp_meter: accept");
        return 1;
    }
    close(ls);
    uint8_t *buf = malloc(RECV_CHUNK);
    if (!buf) {
        perror("tcp_meter: malloc");
        return 1;
    }
    unsigned long long total = 0, bad_at = 0;
    int bad = 0;
    double t0 = 0;
    for (;;) {
        ssize_t n = read(c, buf, RECV_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            perror("tcp_meter: read");
            return 1;
        }
        if (total == 0)
            t0 = now_s(); /* the clock starts at the first byte (or EOF) */
        if (n == 0)
            break;
        if (!bad) {
            size_t at = check(table, buf, (size_t)n, total);
            if (at < (size_t)n) {
                bad = 1;
                bad_at = total + at;
            }
        }
        total += (unsigned long long)n;
    }
    double secs = now_s() - t0;
    close(c);
    free(buf);
    char tail[64];
    if (bad)
        snprintf(tail, sizeof(tail), " pattern=bad at %llu", bad_at);
    else
        snprintf(tail, sizeof(tail), " pattern=ok");
    report(total, secs, tail);
    return bad ? 1 : 0;
}

static int do_send(const uint8_t *table, const char *host, uint16_t port,
                   unsigned long long nbytes)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        fprintf(stderr, "tcp_meter: HOST must be a dotted IPv4 address, not '%s'\n", host);
        return 2;
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) {
        perror("tcp_meter: socket");
        return 1;
    }
    struct timeval tmo = { .tv_sec = 60 };
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
        perror("tcp_meter: connect");
        return 1;
    }
    double t0 = now_s();
    unsigned long long sent = 0;
    while (sent < nbytes) {
        unsigned long long left = nbytes - sent;
        size_t n = left < SEND_CHUNK ? (size_t)left : SEND_CHUNK;
        ssize_t k = write(s, table + (sent % PATTERN_PERIOD), n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            perror("tcp_meter: write");
            return 1;
        }
        sent += (unsigned long long)k;
    }
    if (shutdown(s, SHUT_WR) < 0) {
        perror("tcp_meter: shutdown");
        return 1;
    }
    char drain[65536];
    for (;;) { /* until the peer closes: it has everything */
        ssize_t k = read(s, drain, sizeof(drain));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            perror("tcp_meter: read");
            return 1;
        }
        if (k == 0)
            break;
    }
    double secs = now_s() - t0;
    close(s);
    report(nbytes, secs, "");
    return 0;
}

static int parse_u64(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long long port, nbytes = 0;
    int is_recv = argc == 3 && strcmp(argv[1], "recv") == 0;
    int is_send = argc == 5 && strcmp(argv[1], "send") == 0;
    if ((!is_recv && !is_send) || parse_u64(argv[is_recv ? 2 : 3], 65535, &port) ||
        port == 0 || (is_send && parse_u64(argv[4], ~0ull, &nbytes))) {
        fprintf(stderr, "usage: tcp_meter recv PORT\n"
                        "       tcp_meter send HOST PORT BYTES\n");
        return 2;
    }
    uint8_t *table = malloc(TABLE_LEN);
    if (!table) {
        perror("tcp_meter: malloc");
        return 1;
    }
    for (size_t i = 0; i < TABLE_LEN; i++)
        table[i] = pattern(i);
    int rc = is_recv ? do_recv(table, (uint16_t)port)
                     : do_send(table, argv[2], (uint16_t)port, nbytes);
    free(table);
    return rc;
}
