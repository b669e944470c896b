/*
 * Interface: a small epoll TCP echo server on the Linux stack, the
 * reference for bench/net/conn_rate.sh (hosted tool).
 *
 *   epoll_echo PORT SECONDS
 *
 * Listens on 0.0.0.0:PORT (backlog 1024), prints "listening", and serves
 * like tern's echo service (core/net/tcp_services.c): echoes what it
 * reads and closes when the peer half-closes (EOF). One thread, level-
 * triggered epoll, non-blocking sockets, accept4 in a loop per wake-up.
 * Exits after SECONDS or on SIGTERM/SIGINT, printing
 * "accepted=N closed=N".
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: epoll_echo PORT SECONDS\n");
        return 2;
    }
    int port = atoi(argv[1]), secs = atoi(argv[2]);
    if (port <= 0 || port > 65535 || secs <= 0 || secs > 3600) {
        fprintf(stderr, "epoll_echo: bad PORT or SECONDS\n");
        return 2;
    }
    /* room for conn_mem.sh's 1,000 idle connections whatever ulimit -n is */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 8192) {
        rl.rlim_cur = 8192;
        if (rl.rlim_max < rl.rlim_cur)
            rl.rlim_max = rl.rlim_cur;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 1024) != 0) {
        perror("epoll_echo");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = ls };
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    printf("listening\n");
    fflush(stdout);

    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long accepted = 0, closed = 0;
    struct epoll_event evs[256];
    char buf[2048];
    while (!stop) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec >= secs)
            break;
        int n = epoll_wait(ep, evs, 256, 200);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                for (;;) {
                    int c = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0)
                        break;
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event ce = { .events = EPOLLIN, .data.fd = c };
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce) != 0) {
                        close(c);
                        continue;
                    }
                    accepted++;
                }
                continue;
            }
            ssize_t k = recv(fd, buf, sizeof buf, 0);
            if (k > 0) {
                /* the load is one byte per connection: a short send is an error */
                if (send(fd, buf, (size_t)k, MSG_NOSIGNAL) == k)
                    continue;
            } else if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
                continue;
            }
            epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
            close(fd);
            closed++;
        }
    }
    printf("accepted=%lu closed=%lu\n", accepted, closed);
    return 0;
}
