/*
 * Interface: the client side of bench/workload/bench.sh's echo cases, a
 * TCP echo meter on the Linux stack (hosted tool, C so the client is not
 * what limits the figure).
 *
 *   echo_meter bulk HOST PORT BYTES
 *       Connects to HOST (dotted IPv4), writes BYTES bytes of a fixed
 *       pattern (byte[i] = (i * 31 + (i >> 8)) & 0xff) from one thread
 *       while the main thread reads the echo back and checks every byte,
 *       then closes. Prints "BYTES SECONDS MBIT/S pattern=ok" (time from
 *       the connect to the last byte echoed), or "... pattern=bad at
 *       OFFSET" and exits 1.
 *   echo_meter rr HOST PORT CONNS SECONDS SIZE
 *       CONNS connections (one thread each) each send SIZE bytes, read
 *       SIZE bytes back and check them, over and over for SECONDS.
 *       Prints "rr round_trips=N seconds=S per_sec=R p50_us=A p99_us=B"
 *       (latency of one round trip, over every connection's samples).
 *
 * Plain blocking sockets, TCP_NODELAY on (a round trip is one segment
 * each way), a 10 s send/receive timeout on every socket: a server that
 * stops answering fails the run instead of hanging it. Bounded: rr keeps
 * at most 2^20 samples per connection and stops after SECONDS.
 * Exit 0 on success, 1 on a socket error or a wrong byte, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define PATTERN_PERIOD 65536u   /* pattern(i) == pattern(i % 65536) */
#define CHUNK (64u << 10)       /* bytes per write() and read() */
#define TABLE_LEN (CHUNK + PATTERN_PERIOD)
#define MAX_CONNS 256
#define MAX_SIZE (64u << 10)
#define MAX_SAMPLES (1u << 20)

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

/* Returns a connected socket with the timeouts and TCP_NODELAY, or -1. */
static int connect_to(const char *host, uint16_t port)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &to.sin_addr) != 1) {
        fprintf(stderr, "echo_meter: bad address %s\n", host);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {.tv_sec = 10};
    int one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0) {
        perror("echo_meter: connect");
        close(fd);
        return -1;
    }
    return fd;
}

/* Writes all LEN bytes; 0, or -1 on an error. */
static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

struct bulk_writer {
    int fd;
    uint64_t bytes;
    const uint8_t *table;
    int failed;
};

static void *bulk_write(void *arg)
{
    struct bulk_writer *w = arg;
    for (uint64_t off = 0; off < w->bytes && !w->failed;) {
        size_t n = w->bytes - off < CHUNK ? (size_t)(w->bytes - off) : CHUNK;
        if (write_all(w->fd, w->table + off % PATTERN_PERIOD, n) != 0)
            w->failed = 1;
        off += n;
    }
    return NULL;
}

static int do_bulk(const uint8_t *table, const char *host, uint16_t port, uint64_t bytes)
{
    static uint8_t buf[CHUNK];
    double t0 = now_s();
    int fd = connect_to(host, port);
    if (fd < 0)
        return 1;
    struct bulk_writer w = {.fd = fd, .bytes = bytes, .table = table};
    pthread_t th;
    if (pthread_create(&th, NULL, bulk_write, &w) != 0) {
        close(fd);
        return 1;
    }
    uint64_t got = 0;
    int bad = 0;
    while (got < bytes) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "echo_meter: read after %llu of %llu bytes: %s\n",
                    (unsigned long long)got, (unsigned long long)bytes,
                    n == 0 ? "EOF" : strerror(errno));
            w.failed = 1;
            shutdown(fd, SHUT_RDWR);
            pthread_join(th, NULL);
            close(fd);
            return 1;
        }
        if (memcmp(buf, table + got % PATTERN_PERIOD, (size_t)n) != 0) {
            for (ssize_t i = 0; i < n; i++)
                if (buf[i] != pattern(got + (uint64_t)i)) {
                    got += (uint64_t)i;
                    break;
                }
            bad = 1;
            break;
        }
        got += (uint64_t)n;
    }
    double secs = now_s() - t0;
    if (bad)
        w.failed = 1;
    shutdown(fd, SHUT_RDWR);
    pthread_join(th, NULL);
    close(fd);
    if (bad) {
        printf("%llu %.3f 0 pattern=bad at %llu\n", (unsigned long long)bytes, secs,
               (unsigned long long)got);
        return 1;
    }
    printf("%llu %.3f %.1f pattern=ok\n", (unsigned long long)bytes, secs,
           secs > 0 ? (double)bytes * 8 / secs / 1e6 : 0.0);
    return 0;
}

struct rr_conn {
    const char *host;
    uint16_t port;
    size_t size;
    double until;
    const uint8_t *table;
    float *samples_us;
    unsigned long count;
    int failed;
};

/* Reads exactly LEN bytes; 0, or -1 on an error or EOF. */
static int read_all(int fd, uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void *rr_run(void *arg)
{
    struct rr_conn *c = arg;
    uint8_t buf[MAX_SIZE];
    int fd = connect_to(c->host, c->port);
    if (fd < 0) {
        c->failed = 1;
        return NULL;
    }
    for (uint64_t off = 0; now_s() < c->until && c->count < MAX_SAMPLES; off += c->size) {
        const uint8_t *want = c->table + off % PATTERN_PERIOD;
        double t0 = now_s();
        if (write_all(fd, want, c->size) != 0 || read_all(fd, buf, c->size) != 0 ||
            memcmp(buf, want, c->size) != 0) {
            fprintf(stderr, "echo_meter: round trip %lu failed\n", c->count);
            c->failed = 1;
            break;
        }
        c->samples_us[c->count++] = (float)((now_s() - t0) * 1e6);
    }
    close(fd);
    return NULL;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static int do_rr(const uint8_t *table, const char *host, uint16_t port, unsigned conns,
                 double secs, size_t size)
{
    static struct rr_conn c[MAX_CONNS];
    static pthread_t th[MAX_CONNS];
    double t0 = now_s();
    unsigned long total = 0;
    int failed = 0;
    for (unsigned i = 0; i < conns; i++) {
        c[i] = (struct rr_conn){.host = host, .port = port, .size = size, .until = t0 + secs,
                                .table = table};
        c[i].samples_us = malloc(MAX_SAMPLES * sizeof(float));
        if (c[i].samples_us == NULL || pthread_create(&th[i], NULL, rr_run, &c[i]) != 0)
            return 1;
    }
    for (unsigned i = 0; i < conns; i++) {
        pthread_join(th[i], NULL);
        total += c[i].count;
        failed |= c[i].failed;
    }
    double elapsed = now_s() - t0;
    float *all = malloc((total ? total : 1) * sizeof(float));
    if (all == NULL)
        return 1;
    unsigned long k = 0;
    for (unsigned i = 0; i < conns; i++) {
        memcpy(all + k, c[i].samples_us, c[i].count * sizeof(float));
        k += c[i].count;
        free(c[i].samples_us);
    }
    qsort(all, total, sizeof(float), cmp_float);
    printf("rr round_trips=%lu seconds=%.3f per_sec=%.0f p50_us=%.0f p99_us=%.0f\n", total,
           elapsed, elapsed > 0 ? (double)total / elapsed : 0.0,
           total ? all[total / 2] : 0.0, total ? all[total * 99 / 100] : 0.0);
    free(all);
    return failed || total == 0;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v > max || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    static uint8_t table[TABLE_LEN];
    uint64_t port = 0, bytes = 0, conns = 0, secs = 0, size = 0;
    int is_bulk = argc == 5 && strcmp(argv[1], "bulk") == 0;
    int is_rr = argc == 7 && strcmp(argv[1], "rr") == 0;
    if ((!is_bulk && !is_rr) || parse_u64(argv[3], 65535, &port) || port == 0 ||
        (is_bulk && parse_u64(argv[4], ~0ull, &bytes)) ||
        (is_rr && (parse_u64(argv[4], MAX_CONNS, &conns) || conns == 0 ||
                   parse_u64(argv[5], 3600, &secs) || secs == 0 ||
                   parse_u64(argv[6], MAX_SIZE, &size) || size == 0))) {
        fprintf(stderr, "usage: echo_meter bulk HOST PORT BYTES\n"
                        "       echo_meter rr HOST PORT CONNS SECONDS SIZE\n");
        return 2;
    }
    for (uint32_t i = 0; i < TABLE_LEN; i++)
        table[i] = pattern(i);
    if (is_bulk)
        return do_bulk(table, argv[2], (uint16_t)port, bytes);
    return do_rr(table, argv[2], (uint16_t)port, (unsigned)conns, (double)secs, (size_t)size);
}
