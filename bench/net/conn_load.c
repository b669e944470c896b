/*
 * Interface: a TCP connection load generator for bench/net (hosted tool).
 *
 *   conn_load cycle HOST PORT COUNT CONCURRENCY SECONDS
 *       Keeps CONCURRENCY non-blocking connections in flight until COUNT
 *       have completed or SECONDS have passed. Each connection: connect,
 *       send one byte, half-close (SHUT_WR), read until the server's
 *       close (EOF), close. A connection that is refused, reset or sees
 *       no EOF is counted as failed, never retried. Prints
 *         "cycle done=N failed=N unfinished=N seconds=S conns_per_sec=R
 *          cpu_us_per_conn=C" (C: this process's user + system CPU)
 *
 *   conn_load hold HOST PORT COUNT SECONDS
 *       Opens COUNT connections (at most 64 connecting at once), prints
 *       "held N failed=N" once all have connected or failed, then keeps
 *       them open, idle, until stdin reaches EOF or SECONDS pass, and
 *       closes them all. Exit 0 when all COUNT connected.
 *
 * Bounded: every mode stops after SECONDS; fds are capped by COUNT and
 * RLIMIT_NOFILE is raised to fit. Packets go only to HOST, which the
 * calling script chooses (a namespace it created).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum conn_state { CS_FREE = 0, CS_CONNECTING, CS_READING };

struct load {
    struct sockaddr_in to;
    int ep;
    unsigned long done, failed, started, limit;
    enum conn_state *state; /* by fd */
    int max_fd;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_ul(const char *s, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v == 0)
        return -1;
    *out = v;
    return 0;
}

static void raise_nofile(unsigned long want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < want + 64) {
        rl.rlim_cur = want + 64;
        if (rl.rlim_max < rl.rlim_cur)
            rl.rlim_max = rl.rlim_cur;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Starts one non-blocking connect registered for EPOLLOUT. fd or -1. */
static int start_one(struct load *L)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (fd >= L->max_fd) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int r = connect(fd, (struct sockaddr *)&L->to, sizeof L->to);
    if (r != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    struct epoll_event ev = { .events = EPOLLOUT, .data.fd = fd };
    if (epoll_ctl(L->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        return -1;
    }
    L->state[fd] = CS_CONNECTING;
    L->started++;
    return fd;
}

static void finish(struct load *L, int fd, bool ok)
{
    epoll_ctl(L->ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    L->state[fd] = CS_FREE;
    if (ok)
        L->done++;
    else
        L->failed++;
}

static bool connect_ok(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
}

static int cycle(struct load *L, unsigned long conc, double secs)
{
    double t0 = now_s(), end = t0 + secs;
    unsigned long inflight = 0;
    struct epoll_event evs[256];
    while (L->done + L->failed < L->limit && now_s() < end) {
        while (inflight < conc && L->started < L->limit) {
            if (start_one(L) < 0) {
                L->started++;
                L->failed++;
                continue;
            }
            inflight++;
        }
        int n = epoll_wait(L->ep, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (L->state[fd] == CS_CONNECTING) {
                if (!connect_ok(fd) || send(fd, "x", 1, MSG_NOSIGNAL) != 1) {
                    finish(L, fd, false);
                    inflight--;
                    continue;
                }
                shutdown(fd, SHUT_WR);
                struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.fd = fd };
                epoll_ctl(L->ep, EPOLL_CTL_MOD, fd, &ev);
                L->state[fd] = CS_READING;
            } else if (L->state[fd] == CS_READING) {
                char buf[64];
                ssize_t k = recv(fd, buf, sizeof buf, 0);
                if (k > 0)
                    continue; /* the echoed byte; EOF follows */
                if (k < 0 && (errno == EAGAIN || errno == EINTR))
                    continue;
                finish(L, fd, k == 0);
                inflight--;
            }
        }
    }
    double took = now_s() - t0;
    unsigned long unfinished = 0;
    for (int fd = 0; fd < L->max_fd; fd++)
        if (L->state[fd] != CS_FREE) {
            finish(L, fd, false);
            unfinished++;
        }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    printf("cycle done=%lu failed=%lu unfinished=%lu seconds=%.3f conns_per_sec=%.0f "
           "cpu_us_per_conn=%.1f\n",
           L->done, L->failed - unfinished, unfinished, took,
           took > 0 ? (double)L->done / took : 0.0, L->done ? cpu * 1e6 / (double)L->done : 0.0);
    return L->failed == 0 ? 0 : 1;
}

static int hold(struct load *L, double secs)
{
    double end = now_s() + secs;
    unsigned long inflight = 0, held = 0;
    struct epoll_event evs[256];
    while (held + L->failed < L->limit && now_s() < end) {
        while (inflight < 64 && L->started < L->limit) {
            if (start_one(L) < 0) {
                L->started++;
                L->failed++;
                continue;
            }
            inflight++;
        }
        int n = epoll_wait(L->ep, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (L->state[fd] != CS_CONNECTING)
                continue;
            inflight--;
            if (!connect_ok(fd)) {
                finish(L, fd, false);
                continue;
            }
            /* idle from now on: watch only for the peer closing */
            struct epoll_event ev = { .events = EPOLLRDHUP, .data.fd = fd };
            epoll_ctl(L->ep, EPOLL_CTL_MOD, fd, &ev);
            L->state[fd] = CS_READING;
            held++;
        }
    }
    printf("held %lu failed=%lu\n", held, L->failed);
    fflush(stdout);
    struct pollfd in = { .fd = 0, .events = POLLIN };
    unsigned long dropped = 0;
    while (now_s() < end) {
        int left = (int)((end - now_s()) * 1000) + 1;
        if (poll(&in, 1, left < 200 ? left : 200) > 0) {
            char c;
            if (read(0, &c, 1) <= 0)
                break;
        }
        int n = epoll_wait(L->ep, evs, 256, 0);
        for (int i = 0; i < n; i++)
            if (L->state[evs[i].data.fd] == CS_READING) {
                finish(L, evs[i].data.fd, false);
                dropped++;
            }
    }
    for (int fd = 0; fd < L->max_fd; fd++)
        if (L->state[fd] != CS_FREE)
            finish(L, fd, true);
    printf("released dropped_by_peer=%lu\n", dropped);
    return held == L->limit && dropped == 0 ? 0 : 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: conn_load cycle HOST PORT COUNT CONCURRENCY SECONDS\n"
                    "       conn_load hold HOST PORT COUNT SECONDS\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    bool is_cycle = strcmp(argv[1], "cycle") == 0;
    if (!(is_cycle && argc == 7) && !(strcmp(argv[1], "hold") == 0 && argc == 6))
        return usage();
    struct load L = { .to = { .sin_family = AF_INET } };
    unsigned long port, conc = 1, secs;
    if (inet_pton(AF_INET, argv[2], &L.to.sin_addr) != 1 || parse_ul(argv[3], &port) ||
        port > 65535 || parse_ul(argv[4], &L.limit) || L.limit > 1000000 ||
        (is_cycle && (parse_ul(argv[5], &conc) || conc > 4096)) ||
        parse_ul(argv[is_cycle ? 6 : 5], &secs) || secs > 3600)
        return usage();
    L.to.sin_port = htons((uint16_t)port);
    unsigned long fds = is_cycle ? conc : L.limit;
    raise_nofile(fds);
    L.max_fd = (int)fds + 64;
    L.state = calloc((size_t)L.max_fd, sizeof *L.state);
    L.ep = epoll_create1(EPOLL_CLOEXEC);
    if (!L.state || L.ep < 0) {
        perror("conn_load");
        return 1;
    }
    int rc = is_cycle ? cycle(&L, conc, (double)secs) : hold(&L, (double)secs);
    close(L.ep);
    free(L.state);
    return rc;
}
