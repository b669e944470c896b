/*
 * Interface: see net_linux.h. TAP and wire devices are non-blocking fds
 * watched by uv_poll handles; slirp's own fds are gathered before every
 * wait into an epoll set that one uv_poll handle watches, so the loop's
 * single uv_run sleeps on all of them, and slirp's timers shorten the
 * deadline of that wait.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <slirp/libslirp.h>

#include "linux.h"
#include "net_linux.h"
#include "tern/inet.h"
#include "tern/net.h"

#define FRAME_MAX 1514
#define SLIRP_TIMERS 8
#define SLIRP_MAX_FDS 256

enum lnet_kind { LNET_TAP = 1, LNET_WIRE, LNET_SLIRP };

struct lnet_frame {
    uint16_t len;
    uint8_t data[FRAME_MAX];
};

struct lnet_timer {
    bool used, armed;
    int64_t expire_ms;
    SlirpTimerId id;
    SlirpTimerCb cb;
    void *cb_opaque;
};

struct lnet_dev {
    struct linux_net *owner;
    unsigned idx;
    enum lnet_kind kind;
    int fd;
    uv_poll_t poll;
    bool polling;
    uint8_t mac[TERN_MAC_LEN];
    uint16_t mtu;
    char name[16];
    bool vnet;              /* TAP with IFF_VNET_HDR: a virtio_net_hdr before every frame */
    uint32_t offloads;      /* TERN_NET_OFFLOAD_* announced */
    struct sockaddr_un remote;
    /* slirp */
    Slirp *slirp;
    uint32_t guest_ip;
    struct lnet_frame *q;
    unsigned q_head, q_count;
    uint64_t q_drops;
    /* frames for slirp, handed to slirp_input from the loop's stack
     * (linux_net_before_wait): never on the sender's, which may be an
     * app thread's 64 KiB stack, while libslirp's output path takes a
     * 64 KiB frame of its own */
    struct lnet_frame *txq;
    unsigned txq_head, txq_count;
    uint64_t txq_drops;
};

struct linux_net {
    struct linux_backend *b;
    struct lnet_dev devs[LINUX_NET_MAX_DEVS];
    unsigned count;
    int pcap_fd;
    uint8_t pcap_seg[TERN_NET_LARGE_FRAME]; /* wire image of an offloaded frame */
    uint8_t rx_bounce[TERN_NET_LARGE_FRAME + 4]; /* a frame larger than the caller's buffer */
    /* slirp's fds, rebuilt before every wait */
    int epfd;
    uv_poll_t ep_poll;
    bool ep_polling;
    struct pollfd pfds[SLIRP_MAX_FDS];
    int ep_fds[SLIRP_MAX_FDS];
    unsigned npfds, nep;
    struct lnet_timer timers[SLIRP_TIMERS];
};

static struct linux_net *get_net(struct linux_backend *b)
{
    if (b->net == NULL) {
        b->net = calloc(1, sizeof(*b->net));
        if (b->net == NULL)
            return NULL;
        b->net->b = b;
        b->net->pcap_fd = -1;
        b->net->epfd = -1;
    }
    return b->net;
}

/* ---- pcap ---- */

static void pcap_write(struct linux_net *n, const void *frame, size_t len);

static void pcap_emit(void *arg, const uint8_t *f, size_t n)
{
    pcap_write(arg, f, n);
}

/* Writes what the wire carries for frame + meta: checksums completed,
 * TSO/coalesced frames as their segments. Metadata that does not fit the
 * frame is written raw: the capture shows what the device got. */
static void pcap_write_meta(struct linux_net *n, const void *frame, size_t len,
                            const struct tern_net_meta *meta)
{
    if (n == NULL || n->pcap_fd < 0)
        return;
    if (meta == NULL || (meta->flags == 0 && meta->gso_type == TERN_NET_GSO_NONE) ||
        tern_net_gso_segment(frame, len, meta, n->pcap_seg, sizeof(n->pcap_seg), pcap_emit,
                             n) != TERN_OK)
        pcap_write(n, frame, len);
}

static void pcap_write(struct linux_net *n, const void *frame, size_t len)
{
    if (n == NULL || n->pcap_fd < 0)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint32_t rec[4] = { (uint32_t)ts.tv_sec, (uint32_t)(ts.tv_nsec / 1000), (uint32_t)len,
                        (uint32_t)len };
    uint8_t buf[16 + 65536];
    memcpy(buf, rec, 16);
    memcpy(buf + 16, frame, len);
    if (write(n->pcap_fd, buf, 16 + len) != (ssize_t)(16 + len)) {
        fprintf(stderr, "tern-linux: pcap write failed; no longer capturing\n");
        close(n->pcap_fd);
        n->pcap_fd = -1;
    }
}

int linux_net_pcap(struct linux_backend *b, const char *path)
{
    struct linux_net *n = get_net(b);
    if (n == NULL)
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "tern-linux: --pcap %s: %s\n", path, strerror(errno));
        return -1;
    }
    /* magic, version 2.4, GMT offset, accuracy, snaplen, LINKTYPE_ETHERNET */
    uint32_t hdr[6] = { 0xa1b2c3d4u, 2u | (4u << 16), 0, 0, 65535, 1 };
    if (write(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr)) {
        fprintf(stderr, "tern-linux: --pcap %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    n->pcap_fd = fd;
    return 0;
}

/* ---- fd devices ---- */

static void on_readable(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    struct lnet_dev *d = h->data;
    d->owner->b->ready |= TERN_READY_NET(d->idx);
}

static void random_mac(uint8_t mac[TERN_MAC_LEN])
{
    if (getrandom(mac, TERN_MAC_LEN, 0) != TERN_MAC_LEN)
        memset(mac, 0x5a, TERN_MAC_LEN);
    mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02); /* unicast, locally administered */
}

/* "NAME" or "NAME,offload=off|on": the interface name into name. */
static int tap_spec(const char *spec, char name[IFNAMSIZ], bool *offload)
{
    const char *comma = strchr(spec, ',');
    size_t nl = comma ? (size_t)(comma - spec) : strlen(spec);
    *offload = true;
    if (comma != NULL) {
        if (strcmp(comma + 1, "offload=off") == 0)
            *offload = false;
        else if (strcmp(comma + 1, "offload=on") != 0)
            return -1;
    }
    if (nl == 0 || nl >= IFNAMSIZ)
        return -1;
    memcpy(name, spec, nl);
    name[nl] = '\0';
    return 0;
}

static int open_tap(struct lnet_dev *d, const char *spec)
{
    char name[IFNAMSIZ];
    bool offload;
    if (tap_spec(spec, name, &offload) != 0) {
        fprintf(stderr, "tern-linux: tap wants NAME or NAME,offload=off|on, not '%s'\n", spec);
        return -1;
    }
    if (strlen(name) == 0 || strlen(name) >= IFNAMSIZ) {
        fprintf(stderr, "tern-linux: tap: bad interface name '%s'\n", name);
        return -1;
    }
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "tern-linux: tap: /dev/net/tun: %s\n", strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0);
    memcpy(ifr.ifr_name, name, strlen(name)); /* < IFNAMSIZ, checked */
    if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
        fprintf(stderr, "tern-linux: tap:%s: %s%s\n", name, strerror(errno),
                errno == EPERM ? " (creating a TAP needs root or CAP_NET_ADMIN)" : "");
        close(fd);
        return -1;
    }
    if (offload) {
        /* Our writes may carry partial checksums and 64 KiB TSO frames
         * (the kernel takes those from any vnet-header writer); what the
         * kernel may hand us is what TUNSETOFFLOAD allows. */
        int hsz = TERN_VNET_HDR_LEN, le = 1;
        if (ioctl(fd, TUNSETVNETHDRSZ, &hsz) != 0 || ioctl(fd, TUNSETVNETLE, &le) != 0) {
            fprintf(stderr, "tern-linux: tap:%s: vnet header: %s\n", name, strerror(errno));
            close(fd);
            return -1;
        }
        d->vnet = true;
        d->offloads = TERN_NET_OFFLOAD_TX_CSUM | TERN_NET_OFFLOAD_TX_TSO4;
        if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4)) == 0)
            d->offloads |= TERN_NET_OFFLOAD_RX_CSUM | TERN_NET_OFFLOAD_RX_LARGE;
        else
            fprintf(stderr, "tern-linux: tap:%s: TUNSETOFFLOAD: %s (receive offloads off)\n",
                    name, strerror(errno));
    }
    d->mtu = 1500;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s >= 0) {
        struct ifreq q;
        memset(&q, 0, sizeof(q));
        memcpy(q.ifr_name, ifr.ifr_name, IFNAMSIZ);
        if (ioctl(s, SIOCGIFMTU, &q) == 0 && q.ifr_mtu >= 576 && q.ifr_mtu <= 1500)
            d->mtu = (uint16_t)q.ifr_mtu;
        /* bring the link up on our side of it */
        if (ioctl(s, SIOCGIFFLAGS, &q) == 0 && !(q.ifr_flags & IFF_UP)) {
            q.ifr_flags |= IFF_UP;
            ioctl(s, SIOCSIFFLAGS, &q);
        }
        close(s);
    }
    d->fd = fd;
    snprintf(d->name, sizeof(d->name), "%s", ifr.ifr_name);
    return 0;
}

static int set_un(struct sockaddr_un *sa, const char *path)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) == 0 || strlen(path) >= sizeof(sa->sun_path))
        return -1;
    strcpy(sa->sun_path, path);
    return 0;
}

static int open_wire(struct lnet_dev *d, const char *spec)
{
    char local[sizeof(d->remote.sun_path) + 1];
    const char *comma = strchr(spec, ',');
    size_t llen = comma ? (size_t)(comma - spec) : 0;
    struct sockaddr_un la;
    if (comma == NULL || llen == 0 || llen >= sizeof(local)) {
        fprintf(stderr, "tern-linux: wire wants LOCAL,REMOTE socket paths, not '%s'\n", spec);
        return -1;
    }
    memcpy(local, spec, llen);
    local[llen] = '\0';
    if (set_un(&la, local) != 0 || set_un(&d->remote, comma + 1) != 0) {
        fprintf(stderr, "tern-linux: wire: socket path empty or too long\n");
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "tern-linux: wire: socket: %s\n", strerror(errno));
        return -1;
    }
    unlink(local); /* a stale socket from an earlier run */
    if (bind(fd, (struct sockaddr *)&la, sizeof(la)) != 0) {
        fprintf(stderr, "tern-linux: wire: bind %s: %s\n", local, strerror(errno));
        close(fd);
        return -1;
    }
    int sz = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    d->fd = fd;
    d->mtu = 1500;
    snprintf(d->name, sizeof(d->name), "wire");
    return 0;
}

/* ---- slirp ---- */

static ssize_t slirp_send_packet(const void *buf, size_t len, void *opaque)
{
    struct lnet_dev *d = opaque;
    if (len > FRAME_MAX || d->q_count == LINUX_NET_SLIRP_QUEUE) {
        d->q_drops++;
        return (ssize_t)len; /* dropped: slirp's TCP retransmits */
    }
    struct lnet_frame *f = &d->q[(d->q_head + d->q_count) % LINUX_NET_SLIRP_QUEUE];
    memcpy(f->data, buf, len);
    f->len = (uint16_t)len;
    d->q_count++;
    d->owner->b->ready |= TERN_READY_NET(d->idx);
    return (ssize_t)len;
}

static void slirp_guest_error(const char *msg, void *opaque)
{
    (void)opaque;
    fprintf(stderr, "tern-linux: slirp: guest error: %s\n", msg);
}

static int64_t slirp_clock_ns(void *opaque)
{
    (void)opaque;
    return (int64_t)uv_hrtime();
}

static struct lnet_timer *timer_slot(struct lnet_dev *d)
{
    for (unsigned i = 0; i < SLIRP_TIMERS; i++) {
        if (!d->owner->timers[i].used) {
            memset(&d->owner->timers[i], 0, sizeof(d->owner->timers[i]));
            d->owner->timers[i].used = true;
            return &d->owner->timers[i];
        }
    }
    fprintf(stderr, "tern-linux: slirp wants more than %d timers\n", SLIRP_TIMERS);
    abort();
}

static void *slirp_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    struct lnet_timer *t = timer_slot(opaque);
    t->cb = cb;
    t->cb_opaque = cb_opaque;
    return t;
}

static void *slirp_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
    struct lnet_timer *t = timer_slot(opaque);
    t->id = id;
    t->cb_opaque = cb_opaque;
    return t;
}

static void slirp_timer_free(void *timer, void *opaque)
{
    (void)opaque;
    ((struct lnet_timer *)timer)->used = false;
}

static void slirp_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    (void)opaque;
    struct lnet_timer *t = timer;
    t->expire_ms = expire_ms;
    t->armed = true;
}

static void slirp_register_fd(int fd, void *opaque)
{
    (void)fd;
    (void)opaque;
}

static void slirp_notify(void *opaque)
{
    (void)opaque;
}

static const SlirpCb slirp_callbacks = {
    .send_packet = slirp_send_packet,
    .guest_error = slirp_guest_error,
    .clock_get_ns = slirp_clock_ns,
    .timer_new = slirp_timer_new,
    .timer_free = slirp_timer_free,
    .timer_mod = slirp_timer_mod,
    .register_poll_fd = slirp_register_fd,
    .unregister_poll_fd = slirp_register_fd,
    .notify = slirp_notify,
    .timer_new_opaque = slirp_timer_new_opaque,
};

static void on_ep_readable(uv_poll_t *h, int status, int events)
{
    (void)h;
    (void)status;
    (void)events; /* waking uv_run is all it is for; after_wait does the work */
}

static int open_slirp(struct lnet_dev *d, uint32_t guest_ip)
{
    struct linux_net *n = d->owner;
    d->q = calloc(LINUX_NET_SLIRP_QUEUE, sizeof(*d->q));
    d->txq = calloc(LINUX_NET_SLIRP_QUEUE, sizeof(*d->txq));
    if (d->q == NULL || d->txq == NULL)
        return -1;
    SlirpConfig cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.version = 4;
    cfg.restricted = 1;           /* no outbound connections at all */
    cfg.in_enabled = true;
    cfg.vnetwork.s_addr = htonl(0xc0000200u);   /* 192.0.2.0 */
    cfg.vnetmask.s_addr = htonl(0xffffff00u);
    cfg.vhost.s_addr = htonl(0xc0000202u);      /* 192.0.2.2 */
    cfg.vdhcp_start.s_addr = htonl(guest_ip ? guest_ip : 0xc000020fu);
    cfg.vnameserver.s_addr = htonl(0xc0000203u);
    cfg.vhostname = "tern";
    cfg.if_mtu = 1500;
    cfg.if_mru = 1500;
    /* restricted already refuses every flow the guest starts; replies on
     * --hostfwd flows still need the host loopback address. */
    cfg.disable_host_loopback = false;
    cfg.disable_dns = true;           /* DNS would be forwarded outbound */
    d->slirp = slirp_new(&cfg, &slirp_callbacks, d);
    if (d->slirp == NULL) {
        fprintf(stderr, "tern-linux: slirp: cannot start\n");
        return -1;
    }
    d->guest_ip = guest_ip ? guest_ip : 0xc000020fu;
    d->fd = -1;
    d->mtu = 1500;
    snprintf(d->name, sizeof(d->name), "slirp");
    if (n->epfd < 0) {
        n->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (n->epfd < 0)
            return -1;
        uv_poll_init(&n->b->loop, &n->ep_poll, n->epfd);
        n->ep_poll.data = n;
        uv_poll_start(&n->ep_poll, UV_READABLE, on_ep_readable);
        n->ep_polling = true;
    }
    return 0;
}

static int slirp_add_poll(int fd, int events, void *opaque)
{
    struct linux_net *n = opaque;
    if (n->npfds == SLIRP_MAX_FDS)
        return -1;
    short ev = 0;
    if (events & SLIRP_POLL_IN)
        ev |= POLLIN;
    if (events & SLIRP_POLL_OUT)
        ev |= POLLOUT;
    if (events & SLIRP_POLL_PRI)
        ev |= POLLPRI;
    n->pfds[n->npfds].fd = fd;
    n->pfds[n->npfds].events = ev;
    n->pfds[n->npfds].revents = 0;
    return (int)n->npfds++;
}

static int slirp_get_revents(int idx, void *opaque)
{
    struct linux_net *n = opaque;
    if (idx < 0 || (unsigned)idx >= n->npfds)
        return 0;
    short r = n->pfds[idx].revents;
    int out = 0;
    if (r & POLLIN)
        out |= SLIRP_POLL_IN;
    if (r & POLLOUT)
        out |= SLIRP_POLL_OUT;
    if (r & POLLPRI)
        out |= SLIRP_POLL_PRI;
    if (r & POLLERR)
        out |= SLIRP_POLL_ERR;
    if (r & POLLHUP)
        out |= SLIRP_POLL_HUP;
    return out;
}

/* Hands the frames the core sent to slirp (on the loop's stack). */
static void slirp_flush_tx(struct linux_net *n)
{
    for (unsigned i = 0; i < n->count; i++) {
        struct lnet_dev *d = &n->devs[i];
        while (d->kind == LNET_SLIRP && d->txq_count > 0) {
            struct lnet_frame *f = &d->txq[d->txq_head];
            d->txq_head = (d->txq_head + 1) % LINUX_NET_SLIRP_QUEUE;
            d->txq_count--;
            slirp_input(d->slirp, f->data, f->len);
        }
    }
}

uint64_t linux_net_before_wait(struct linux_backend *b, uint64_t deadline_ns)
{
    struct linux_net *n = b->net;
    if (n == NULL)
        return deadline_ns;
    slirp_flush_tx(n);
    if (n->epfd < 0)
        return deadline_ns;
    for (unsigned i = 0; i < n->nep; i++)
        epoll_ctl(n->epfd, EPOLL_CTL_DEL, n->ep_fds[i], NULL);
    n->nep = 0;
    n->npfds = 0;
    uint64_t now = uv_hrtime();
    for (unsigned i = 0; i < n->count; i++) {
        struct lnet_dev *d = &n->devs[i];
        if (d->kind != LNET_SLIRP)
            continue;
        uint32_t timeout_ms = UINT32_MAX;
        slirp_pollfds_fill(d->slirp, &timeout_ms, slirp_add_poll, n);
        if (timeout_ms != UINT32_MAX) {
            uint64_t dl = now + (uint64_t)timeout_ms * 1000000u;
            if (dl < deadline_ns)
                deadline_ns = dl;
        }
    }
    for (unsigned i = 0; i < n->npfds; i++) {
        struct epoll_event ev = { .events = 0, .data.fd = n->pfds[i].fd };
        if (n->pfds[i].events & POLLIN)
            ev.events |= EPOLLIN;
        if (n->pfds[i].events & POLLOUT)
            ev.events |= EPOLLOUT;
        if (n->pfds[i].events & POLLPRI)
            ev.events |= EPOLLPRI;
        if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->pfds[i].fd, &ev) == 0)
            n->ep_fds[n->nep++] = n->pfds[i].fd;
        else if (errno == EEXIST) /* the same fd twice: widen its events */
            epoll_ctl(n->epfd, EPOLL_CTL_MOD, n->pfds[i].fd, &ev);
    }
    for (unsigned i = 0; i < SLIRP_TIMERS; i++) {
        struct lnet_timer *t = &n->timers[i];
        if (t->used && t->armed) {
            uint64_t dl = (uint64_t)(t->expire_ms < 0 ? 0 : t->expire_ms) * 1000000u;
            if (dl < deadline_ns)
                deadline_ns = dl;
        }
    }
    return deadline_ns;
}

void linux_net_after_wait(struct linux_backend *b)
{
    struct linux_net *n = b->net;
    if (n == NULL || n->epfd < 0)
        return;
    int r = n->npfds ? poll(n->pfds, n->npfds, 0) : 0;
    for (unsigned i = 0; i < n->count; i++) {
        struct lnet_dev *d = &n->devs[i];
        if (d->kind == LNET_SLIRP)
            slirp_pollfds_poll(d->slirp, r < 0, slirp_get_revents, n);
    }
    n->npfds = 0; /* the indices are stale until the next fill */
    int64_t now_ms = (int64_t)(uv_hrtime() / 1000000u);
    for (unsigned i = 0; i < SLIRP_TIMERS; i++) {
        struct lnet_timer *t = &n->timers[i];
        if (!t->used || !t->armed || t->expire_ms > now_ms)
            continue;
        t->armed = false;
        for (unsigned k = 0; k < n->count; k++) {
            if (n->devs[k].kind != LNET_SLIRP)
                continue;
            if (t->cb)
                t->cb(t->cb_opaque);
            else
                slirp_handle_timer(n->devs[k].slirp, t->id, t->cb_opaque);
            break;
        }
    }
}

static int parse_port(const char *s, const char *end, int *out)
{
    if (s == end)
        return -1;
    long v = 0;
    for (const char *p = s; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
        if (v > 65535)
            return -1;
    }
    if (v == 0)
        return -1;
    *out = (int)v;
    return 0;
}

int linux_net_hostfwd(struct linux_backend *b, const char *spec)
{
    struct linux_net *n = b->net;
    struct lnet_dev *d = NULL;
    for (unsigned i = 0; n && i < n->count; i++) {
        if (n->devs[i].kind == LNET_SLIRP)
            d = &n->devs[i];
    }
    if (d == NULL) {
        fprintf(stderr, "tern-linux: --hostfwd needs --net slirp\n");
        return -1;
    }
    /* TCP only: restricted slirp drops the guest's UDP replies. */
    const int is_udp = 0;
    const char *p;
    if (strncmp(spec, "tcp:", 4) != 0)
        goto bad;
    p = spec + 4;
    /* 127.0.0.1:HOSTPORT-:GUESTPORT */
    const char *colon = strchr(p, ':');
    const char *dash = colon ? strstr(colon, "-:") : NULL;
    if (colon == NULL || dash == NULL)
        goto bad;
    char host[32];
    size_t hl = (size_t)(colon - p);
    if (hl == 0 || hl >= sizeof(host))
        goto bad;
    memcpy(host, p, hl);
    host[hl] = '\0';
    struct in_addr ha, ga;
    if (inet_pton(AF_INET, host, &ha) != 1)
        goto bad;
    if ((ntohl(ha.s_addr) >> 24) != 127) {
        fprintf(stderr, "tern-linux: --hostfwd: only loopback host addresses are allowed\n");
        return -1;
    }
    int hport, gport;
    if (parse_port(colon + 1, dash, &hport) != 0 ||
        parse_port(dash + 2, dash + 2 + strlen(dash + 2), &gport) != 0)
        goto bad;
    ga.s_addr = htonl(d->guest_ip);
    if (slirp_add_hostfwd(d->slirp, is_udp, ha, hport, ga, gport) != 0) {
        fprintf(stderr, "tern-linux: --hostfwd %s: cannot listen (port in use?)\n", spec);
        return -1;
    }
    return 0;
bad:
    fprintf(stderr, "tern-linux: --hostfwd wants tcp:127.0.0.1:HOSTPORT-:GUESTPORT, not '%s'\n",
            spec);
    return -1;
}

/* ---- adding devices ---- */

int linux_net_add(struct linux_backend *b, const char *spec, uint32_t guest_ip)
{
    struct linux_net *n = get_net(b);
    if (n == NULL)
        return -1;
    if (n->count == LINUX_NET_MAX_DEVS) {
        fprintf(stderr, "tern-linux: at most %d network devices\n", LINUX_NET_MAX_DEVS);
        return -1;
    }
    struct lnet_dev *d = &n->devs[n->count];
    memset(d, 0, sizeof(*d));
    d->owner = n;
    d->idx = n->count;
    d->fd = -1;
    random_mac(d->mac);
    int r;
    if (strcmp(spec, "slirp") == 0) {
        d->kind = LNET_SLIRP;
        r = open_slirp(d, guest_ip);
    } else if (strncmp(spec, "tap:", 4) == 0) {
        d->kind = LNET_TAP;
        r = open_tap(d, spec + 4);
    } else if (strncmp(spec, "wire:", 5) == 0) {
        d->kind = LNET_WIRE;
        r = open_wire(d, spec + 5);
    } else {
        fprintf(stderr, "tern-linux: --net wants slirp, tap:NAME or wire:LOCAL,REMOTE, not '%s'\n",
                spec);
        return -1;
    }
    if (r != 0) {
        if (d->fd >= 0)
            close(d->fd);
        free(d->q);
        free(d->txq);
        d->q = NULL;
        d->txq = NULL;
        return -1;
    }
    if (d->fd >= 0) {
        uv_poll_init(&b->loop, &d->poll, d->fd);
        d->poll.data = d;
        uv_poll_start(&d->poll, UV_READABLE, on_readable);
        d->polling = true;
    }
    n->count++;
    return 0;
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void linux_net_close(struct linux_backend *b)
{
    struct linux_net *n = b->net;
    if (n == NULL)
        return;
    for (unsigned i = 0; i < n->count; i++) {
        struct lnet_dev *d = &n->devs[i];
        if (d->polling)
            close_handle((uv_handle_t *)&d->poll);
        if (d->slirp)
            slirp_cleanup(d->slirp);
        d->slirp = NULL;
    }
    if (n->ep_polling)
        close_handle((uv_handle_t *)&n->ep_poll);
    uv_run(&b->loop, UV_RUN_NOWAIT); /* let the closes finish before fds go */
    for (unsigned i = 0; i < n->count; i++) {
        struct lnet_dev *d = &n->devs[i];
        if (d->fd >= 0)
            close(d->fd);
        free(d->q);
        free(d->txq);
    }
    if (n->epfd >= 0)
        close(n->epfd);
    if (n->pcap_fd >= 0)
        close(n->pcap_fd);
    free(n);
    b->net = NULL;
}

/* ---- platform ops ---- */

unsigned linux_net_count(void *ctx)
{
    struct linux_backend *b = ctx;
    return b->net ? b->net->count : 0;
}

tern_result linux_net_info(void *ctx, unsigned idx, struct tern_net_info *out)
{
    struct linux_backend *b = ctx;
    if (b->net == NULL || idx >= b->net->count)
        return TERN_ENOENT;
    struct lnet_dev *d = &b->net->devs[idx];
    memset(out, 0, sizeof(*out));
    memcpy(out->mac, d->mac, TERN_MAC_LEN);
    out->mtu = d->mtu;
    out->offloads = d->offloads;
    snprintf(out->name, sizeof(out->name), "%s", d->name);
    return TERN_OK;
}

static tern_result dev_send(struct linux_backend *b, struct lnet_dev *d, const void *frame,
                            size_t len, const struct tern_net_meta *meta)
{
    bool gso = meta != NULL && meta->gso_type != TERN_NET_GSO_NONE;
    if (len < 14 || len > (gso ? TERN_NET_LARGE_FRAME : (size_t)d->mtu + 14))
        return TERN_EINVAL;
    pcap_write_meta(b->net, frame, len, meta);
    ssize_t r;
    switch (d->kind) {
    case LNET_SLIRP:
        if (len > FRAME_MAX || d->txq_count == LINUX_NET_SLIRP_QUEUE) {
            d->txq_drops++;
            return TERN_OK; /* lost, as on a congested link: TCP retransmits */
        }
        struct lnet_frame *f = &d->txq[(d->txq_head + d->txq_count) % LINUX_NET_SLIRP_QUEUE];
        memcpy(f->data, frame, len);
        f->len = (uint16_t)len;
        d->txq_count++;
        return TERN_OK;
    case LNET_TAP:
        if (d->vnet) {
            uint8_t h[TERN_VNET_HDR_LEN];
            tern_net_meta_to_vnet(h, meta);
            struct iovec iov[2] = { { h, sizeof(h) }, { (void *)frame, len } };
            r = writev(d->fd, iov, 2);
            if (r == (ssize_t)(sizeof(h) + len))
                r = (ssize_t)len;
        } else {
            r = write(d->fd, frame, len);
        }
        break;
    case LNET_WIRE:
        r = sendto(d->fd, frame, len, 0, (struct sockaddr *)&d->remote, sizeof(d->remote));
        if (r < 0 && (errno == ENOENT || errno == ECONNREFUSED))
            return TERN_EIO; /* no peer on the wire: the frame is lost */
        break;
    default:
        return TERN_EIO;
    }
    if (r == (ssize_t)len)
        return TERN_OK;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS))
        return TERN_AGAIN;
    return TERN_EIO;
}

tern_result linux_net_send(void *ctx, unsigned idx, const void *frame, size_t len)
{
    struct linux_backend *b = ctx;
    if (b->net == NULL || idx >= b->net->count)
        return TERN_ENOENT;
    return dev_send(b, &b->net->devs[idx], frame, len, NULL);
}

tern_result linux_net_send_meta(void *ctx, unsigned idx, const void *frame, size_t len,
                                const struct tern_net_meta *meta)
{
    struct linux_backend *b = ctx;
    if (b->net == NULL || idx >= b->net->count)
        return TERN_ENOENT;
    struct lnet_dev *d = &b->net->devs[idx];
    if (meta->flags & ~TERN_NET_META_NEEDS_CSUM)
        return TERN_EINVAL;
    if ((meta->flags & TERN_NET_META_NEEDS_CSUM) && !(d->offloads & TERN_NET_OFFLOAD_TX_CSUM))
        return TERN_EINVAL;
    if (meta->gso_type != TERN_NET_GSO_NONE &&
        (!(d->offloads & TERN_NET_OFFLOAD_TX_TSO4) || !(meta->flags & TERN_NET_META_NEEDS_CSUM)))
        return TERN_EINVAL;
    /* the same structural checks as on receive: the kernel would refuse
     * (or worse, trust) a header that disagrees with the frame */
    if (tern_net_meta_check(frame, len, meta,
                            TERN_NET_OFFLOAD_RX_CSUM | TERN_NET_OFFLOAD_RX_LARGE) != TERN_OK)
        return TERN_EINVAL;
    return dev_send(b, d, frame, len, meta);
}

static tern_result dev_recv(struct linux_backend *b, unsigned idx, void *buf, size_t cap,
                            size_t *out_len, struct tern_net_meta *out_meta)
{
    struct lnet_dev *d = &b->net->devs[idx];
    struct tern_net_meta m;
    memset(&m, 0, sizeof(m));
    if (d->kind == LNET_SLIRP) {
        if (d->q_count == 0) {
            b->ready &= ~TERN_READY_NET(idx);
            return TERN_AGAIN;
        }
        struct lnet_frame *f = &d->q[d->q_head];
        d->q_head = (d->q_head + 1) % LINUX_NET_SLIRP_QUEUE;
        d->q_count--;
        pcap_write(b->net, f->data, f->len);
        if (f->len > cap)
            return TERN_EINVAL;
        memcpy(buf, f->data, f->len);
        *out_len = f->len;
        if (out_meta)
            *out_meta = m;
        return TERN_OK;
    }
    /* Straight into the caller's buffer when any frame of the device fits
     * (the usual case); otherwise through a bounce buffer so an oversized
     * frame is seen whole and refused. */
    uint8_t *bounce = b->net->rx_bounce;
    bool large = (d->offloads & TERN_NET_OFFLOAD_RX_LARGE) != 0;
    size_t dev_max = large ? TERN_NET_LARGE_FRAME : (size_t)d->mtu + 14 + 4;
    bool direct = cap >= dev_max;
    uint8_t *frame = direct ? buf : bounce;
    size_t room = direct ? cap : sizeof(b->net->rx_bounce);
    for (;;) {
        uint8_t h[TERN_VNET_HDR_LEN];
        ssize_t r;
        if (d->vnet) {
            struct iovec iov[2] = { { h, sizeof(h) }, { frame, room } };
            r = readv(d->fd, iov, 2);
        } else {
            r = read(d->fd, frame, room);
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            b->ready &= ~TERN_READY_NET(idx);
            return TERN_AGAIN;
        }
        if (d->vnet) {
            if ((size_t)r < sizeof(h))
                return TERN_EINVAL;
            r -= (ssize_t)sizeof(h);
            tern_net_meta_from_vnet(&m, h);
        }
        size_t n = (size_t)r;
        pcap_write_meta(b->net, frame, n, &m);
        bool gso = m.gso_type != TERN_NET_GSO_NONE;
        if (n > cap || n > (gso ? TERN_NET_LARGE_FRAME : (size_t)d->mtu + 14))
            return TERN_EINVAL;
        if (out_meta == NULL) {
            /* plain net_recv: whole, checked frames only */
            if (gso)
                return TERN_EINVAL;
            if (m.flags & TERN_NET_META_NEEDS_CSUM)
                tern_net_finish_csum(frame, n, &m);
        }
        if (!direct)
            memcpy(buf, frame, n);
        *out_len = n;
        if (out_meta)
            *out_meta = m;
        return TERN_OK;
    }
}

tern_result linux_net_recv(void *ctx, unsigned idx, void *buf, size_t cap, size_t *out_len)
{
    struct linux_backend *b = ctx;
    if (b->net == NULL || idx >= b->net->count)
        return TERN_AGAIN;
    return dev_recv(b, idx, buf, cap, out_len, NULL);
}

tern_result linux_net_recv_meta(void *ctx, unsigned idx, void *buf, size_t cap, size_t *out_len,
                                struct tern_net_meta *meta)
{
    struct linux_backend *b = ctx;
    if (b->net == NULL || idx >= b->net->count)
        return TERN_AGAIN;
    return dev_recv(b, idx, buf, cap, out_len, meta);
}
