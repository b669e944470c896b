/* Hosted test server: the HTTP engine (and the TLS engine) bridged to real
 * loopback sockets, so curl, wrk and openssl s_client can talk to them.
 * Test code only: core never sees a socket. It serves the in-memory file
 * table of http_harness.h (/, /small.txt, /big.bin, /echo, /healthz,
 * /status) on 127.0.0.1 ports chosen by the kernel and prints
 *   BRIDGE_READY http=PORT https=PORT
 * then runs for at most argv[3] seconds (default 60).
 * Usage: bridge_server CERT.pem KEY.pem [SECONDS] */
#define BENCH_POOL 32
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_harness.h"
#include "tern/tls.h"

#define MAXC BENCH_POOL

struct bconn {
    int fd;
    struct tern_http_conn *hc;
    bool tls;
    struct tern_tls_session ts;
    uint8_t rx[16384];
    size_t rx_off, rx_len;
    uint8_t plain[16384];
    size_t p_off, p_len;
    bool eof;
    uint64_t linger_until;           /* FIN sent; discarding input until then */
};

static struct bench b;
static struct tern_tls_server tls;
static struct bconn conns[MAXC];

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int listen_on(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0) {
        perror("bridge: bind/listen");
        exit(1);
    }
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    *port = ntohs(a.sin_port);
    return fd;
}

static void drop(struct bconn *c)
{
    if (c->hc)
        tern_http_conn_close(c->hc);
    if (c->tls)
        tern_tls_session_finish(&c->ts);
    close(c->fd);
    c->fd = -1;
    c->hc = NULL;
}

/* Moves bytes until nothing moves; false when the connection is gone. */
static bool service(struct bconn *c)
{
    if (c->linger_until) {
        /* Lingering close: read and drop until the peer's FIN or the end of
         * the linger, so unread input does not turn our close into a RST
         * that destroys the response in the peer's receive buffer. */
        uint8_t junk[4096];
        ssize_t r;
        while ((r = read(c->fd, junk, sizeof junk)) > 0)
            ;
        return !(r == 0 || (r < 0 && errno != EAGAIN) || mono_ns() > c->linger_until);
    }
    for (int round = 0; round < 10000; round++) {
        bool moved = false;
        const uint8_t *out;
        size_t len, n;
        /* engine output -> TLS or socket */
        tern_http_conn_output(c->hc, &out, &len);
        if (len && c->tls) {
            tern_result r = tern_tls_write(&c->ts, out, len, &n);
            if (r == TERN_OK && n) {
                tern_http_conn_output_done(c->hc, n);
                moved = true;
            } else if (r == TERN_EPROTO) {
                return false;
            }
        } else if (len) {
            ssize_t w = write(c->fd, out, len);
            if (w > 0) {
                tern_http_conn_output_done(c->hc, (size_t)w);
                moved = true;
            } else if (w < 0 && errno != EAGAIN) {
                return false;
            }
        }
        if (c->tls) {
            tern_tls_output(&c->ts, &out, &len);
            if (len) {
                ssize_t w = write(c->fd, out, len);
                if (w > 0) {
                    tern_tls_output_done(&c->ts, (size_t)w);
                    moved = true;
                } else if (w < 0 && errno != EAGAIN) {
                    return false;
                }
            }
        }
        /* plaintext -> engine */
        if (c->p_len > c->p_off) {
            n = tern_http_conn_input(c->hc, c->plain + c->p_off, c->p_len - c->p_off);
            c->p_off += n;
            moved |= n > 0;
        }
        if (c->p_off == c->p_len) {
            c->p_off = c->p_len = 0;
            if (c->tls) {
                tern_result r = tern_tls_read(&c->ts, c->plain, sizeof c->plain, &n);
                if (r == TERN_OK) {
                    c->p_len = n;
                    moved = true;
                } else if (r == TERN_ECLOSED && !c->eof) {
                    c->eof = true;
                    tern_http_conn_input_closed(c->hc);
                    moved = true;
                } else if (r == TERN_EPROTO) {
                    fprintf(stderr, "bridge: TLS failed (%d)\n", c->ts.last_error);
                    return false;
                }
            }
        }
        /* socket -> TLS or plaintext */
        if (c->tls && c->rx_len > c->rx_off) {
            n = tern_tls_input(&c->ts, c->rx + c->rx_off, c->rx_len - c->rx_off);
            c->rx_off += n;
            moved |= n > 0;
        }
        uint8_t *dst = c->tls ? c->rx : c->plain;
        size_t *doff = c->tls ? &c->rx_off : &c->p_off, *dlen = c->tls ? &c->rx_len : &c->p_len;
        if (*doff == *dlen && !c->eof) {
            *doff = *dlen = 0;
            ssize_t r = read(c->fd, dst, c->tls ? sizeof c->rx : sizeof c->plain);
            if (r > 0) {
                *dlen = (size_t)r;
                moved = true;
            } else if (r == 0) {
                c->eof = true;
                if (!c->tls)
                    tern_http_conn_input_closed(c->hc);
                moved = true;
            } else if (errno != EAGAIN) {
                return false;
            }
        }
        if (tern_http_conn_should_close(c->hc)) {
            if (c->tls) {
                tern_tls_close(&c->ts);
                tern_tls_output(&c->ts, &out, &len);
                if (len && write(c->fd, out, len) < 0) {
                    /* the peer is gone: nothing to do */
                }
            }
            shutdown(c->fd, SHUT_WR);
            c->linger_until = mono_ns() + 2000000000ull;
            return true;
        }
        if (!moved)
            return true;
    }
    return true;
}

static void wake(struct tern_http_conn *hc, void *arg)
{
    struct bconn *c = arg;
    /* The poll loop services every connection each turn; only an evicted
     * connection is closed from here, so its slot is free at once. */
    if (hc->aborted && c->fd >= 0)
        drop(c);
}

static void accept_on(int lfd, bool is_tls)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
        if (fd < 0)
            return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct bconn *c = NULL;
        for (int tries = 0; tries < 2 && !c; tries++) {
            for (int i = 0; i < MAXC && !c; i++)
                if (conns[i].fd < 0)
                    c = &conns[i];
            if (!c && !tern_http_server_evict(&b.srv))
                break;
        }
        struct tern_http_conn *hc = c ? tern_http_conn_open(&b.srv, wake, c) : NULL;
        if (!hc) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->hc = hc;
        c->tls = is_tls;
        c->rx_off = c->rx_len = c->p_off = c->p_len = 0;
        c->eof = false;
        c->linger_until = 0;
        if (is_tls && tern_tls_session_init(&c->ts, &tls) != TERN_OK) {
            tern_http_conn_close(hc);
            close(fd);
            c->fd = -1;
            c->hc = NULL;
        }
    }
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static uint8_t bufs[2][16384];
    static int k;
    uint8_t *buf = bufs[k++ & 1];
    *len = fread(buf, 1, sizeof bufs[0], f);
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bridge_server CERT KEY [SECONDS]\n");
        return 2;
    }
    int seconds = argc > 3 ? atoi(argv[3]) : 60;
    signal(SIGPIPE, SIG_IGN);
    struct tern_http_config cfg;
    tern_http_config_default(&cfg);
    cfg.access_log = false;
    cfg.header_timeout_ns = 3ull * 1000000000ull;   /* short, for slow-client tests */
    cfg.body_timeout_ns = 3ull * 1000000000ull;
    cfg.send_timeout_ns = 5ull * 1000000000ull;
    bench_init(&b, &cfg);
    b.sim.now_ns = mono_ns();
    size_t cl = 0, kl = 0;
    uint8_t *cert = slurp(argv[1], &cl), *key = slurp(argv[2], &kl);
    char err[200];
    if (tern_tls_server_init(&tls, &b.os, cert, cert ? cl : 0, key, key ? kl : 0, err,
                             sizeof err) != TERN_OK) {
        fprintf(stderr, "bridge: %s\n", err);
        return 1;
    }
    for (int i = 0; i < MAXC; i++)
        conns[i].fd = -1;
    uint16_t hp, sp;
    int hfd = listen_on(&hp), sfd = listen_on(&sp);
    printf("BRIDGE_READY http=%u https=%u\n", hp, sp);
    fflush(stdout);
    uint64_t end = mono_ns() + (uint64_t)seconds * 1000000000ull;
    while (mono_ns() < end) {
        struct pollfd pf[MAXC + 2];
        int map[MAXC + 2], n = 0;
        pf[n] = (struct pollfd){ hfd, POLLIN, 0 };
        map[n++] = -1;
        pf[n] = (struct pollfd){ sfd, POLLIN, 0 };
        map[n++] = -2;
        for (int i = 0; i < MAXC; i++) {
            if (conns[i].fd < 0)
                continue;
            const uint8_t *o;
            size_t ol, tl = 0;
            tern_http_conn_output(conns[i].hc, &o, &ol);
            if (conns[i].linger_until)
                ol = 0;
            if (conns[i].tls)
                tern_tls_output(&conns[i].ts, &o, &tl);
            pf[n] = (struct pollfd){ conns[i].fd, (short)(POLLIN | (ol || tl ? POLLOUT : 0)), 0 };
            map[n++] = i;
        }
        poll(pf, (nfds_t)n, 20);
        b.sim.now_ns = mono_ns();
        tern_os_step(&b.os, 0);
        for (int k = 0; k < n; k++) {
            if (map[k] == -1 && (pf[k].revents & POLLIN))
                accept_on(hfd, false);
            else if (map[k] == -2 && (pf[k].revents & POLLIN))
                accept_on(sfd, true);
        }
        for (int i = 0; i < MAXC; i++)
            if (conns[i].fd >= 0 && !service(&conns[i]))
                drop(&conns[i]);
    }
    for (int i = 0; i < MAXC; i++)
        if (conns[i].fd >= 0)
            drop(&conns[i]);
    tern_tls_server_finish(&tls);
    bench_fini(&b);
    return 0;
}
