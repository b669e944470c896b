/*
 * Interface: see linux.h. The backend contract on a libuv loop: the wait
 * is one turn of uv_run with a timer armed for the deadline; signal
 * watchers turn SIGINT/SIGTERM into TERN_READY_SHUTDOWN.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "linux.h"

#define PANIC_EXIT_STATUS 70 /* EX_SOFTWARE */

static uint64_t linux_monotonic_ns(void *ctx)
{
    (void)ctx;
    return uv_hrtime();
}

static tern_result linux_wall_ns(void *ctx, int64_t *out_ns)
{
    (void)ctx;
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return TERN_AGAIN;
    *out_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    return TERN_OK;
}

static void linux_console_write(void *ctx, const char *buf, size_t len)
{
    (void)ctx;
    while (len > 0) {
        ssize_t n = write(STDOUT_FILENO, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* stdout gone: nothing sensible left to do */
        buf += n;
        len -= (size_t)n;
    }
}

static tern_result linux_entropy(void *ctx, void *buf, size_t len)
{
    (void)ctx;
    for (size_t done = 0; done < len;) {
        ssize_t n = getrandom((char *)buf + done, len - done, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return TERN_EIO;
        done += (size_t)n;
    }
    return TERN_OK;
}

static tern_result linux_heap_region(void *ctx, void **out_base, size_t *out_size)
{
    struct linux_backend *b = ctx;
    if (b->heap == NULL)
        return TERN_ENOMEM;
    *out_base = b->heap;
    *out_size = b->heap_size;
    return TERN_OK;
}

static size_t page_round(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (size + page - 1) & ~(page - 1);
}

static tern_result linux_exec_alloc(void *ctx, size_t size, void **out)
{
    (void)ctx;
    if (size == 0)
        return TERN_EINVAL;
    void *p = mmap(NULL, page_round(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED)
        return TERN_ENOMEM;
    *out = p;
    return TERN_OK;
}

static tern_result linux_exec_seal(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    if (mprotect(ptr, page_round(size), PROT_READ | PROT_EXEC) != 0)
        return TERN_EINVAL;
    return TERN_OK;
}

static tern_result linux_exec_readonly(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    if (mprotect(ptr, page_round(size), PROT_READ) != 0)
        return TERN_EINVAL;
    return TERN_OK;
}

static tern_result linux_exec_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    return munmap(ptr, page_round(size)) == 0 ? TERN_OK : TERN_EINVAL;
}

/* Thread stacks with a PROT_NONE guard page below them. */
static tern_result linux_stack_alloc(void *ctx, size_t size, void **out)
{
    (void)ctx;
    size_t len = page_round(size) + TERN_STACK_GUARD;
    uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return TERN_ENOMEM;
    if (mprotect(p, TERN_STACK_GUARD, PROT_NONE) != 0) {
        munmap(p, len);
        return TERN_ENOMEM;
    }
    *out = p + TERN_STACK_GUARD;
    return TERN_OK;
}

static void linux_stack_free(void *ctx, void *stack, size_t size)
{
    (void)ctx;
    munmap((uint8_t *)stack - TERN_STACK_GUARD, page_round(size) + TERN_STACK_GUARD);
}

static void on_deadline(uv_timer_t *t)
{
    (void)t; /* waking uv_run is all it is for */
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    struct linux_backend *b = s->data;
    b->ready |= TERN_READY_SHUTDOWN;
}

static void linux_wait(void *ctx, uint64_t deadline_ns, uint64_t *ready)
{
    struct linux_backend *b = ctx;
    deadline_ns = linux_net_before_wait(b, deadline_ns); /* slirp's fds and timers */
    uint64_t now = uv_hrtime();
    if (b->ready == 0 && deadline_ns > now) {
        if (deadline_ns != UINT64_MAX) {
            /* libuv timers count whole ms; round up so we never wake early. */
            uint64_t ms = (deadline_ns - now + 999999u) / 1000000u;
            uv_update_time(&b->loop);
            uv_timer_start(&b->deadline, on_deadline, ms, 0);
        }
        uv_run(&b->loop, UV_RUN_ONCE);
        uv_timer_stop(&b->deadline);
    } else {
        uv_run(&b->loop, UV_RUN_NOWAIT); /* poll without sleeping */
    }
    linux_net_after_wait(b);
    *ready = b->ready;
    b->ready &= ~TERN_READY_SHUTDOWN; /* reported once */
}

__attribute__((noreturn)) static void linux_panic(void *ctx, const char *reason)
{
    (void)ctx;
    (void)reason; /* the core already printed TERN_PANIC with it */
    if (getenv("TERN_ABORT_ON_PANIC"))
        abort(); /* leave a core dump for gdb */
    _exit(PANIC_EXIT_STATUS);
}

static const struct tern_platform_ops linux_ops = {
    TERN_PLATFORM_OPS_HEADER,
    .monotonic_ns = linux_monotonic_ns,
    .wall_ns = linux_wall_ns,
    .console_write = linux_console_write,
    .entropy = linux_entropy,
    .net_count = linux_net_count,
    .net_info = linux_net_info,
    .net_send = linux_net_send,
    .net_recv = linux_net_recv,
    .net_send_meta = linux_net_send_meta,
    .net_recv_meta = linux_net_recv_meta,
    .block_count = linux_block_count,
    .block_info = linux_block_info,
    .block_read = linux_block_read,
    .block_write = linux_block_write,
    .block_flush = linux_block_flush,
    .heap_region = linux_heap_region,
    .exec_alloc = linux_exec_alloc,
    .exec_seal = linux_exec_seal,
    .exec_free = linux_exec_free,
    .exec_readonly = linux_exec_readonly,
    .stack_alloc = linux_stack_alloc,
    .stack_free = linux_stack_free,
    .wait = linux_wait,
    .panic = linux_panic,
    .name = "linux",
};

struct tern_platform linux_platform(struct linux_backend *b)
{
    return (struct tern_platform){ .ops = &linux_ops, .ctx = b };
}

int linux_backend_init(struct linux_backend *b, size_t heap_mib)
{
    memset(b, 0, sizeof(*b));
    if (uv_loop_init(&b->loop) != 0) {
        fprintf(stderr, "tern-linux: cannot create the event loop\n");
        return -1;
    }
    uv_timer_init(&b->loop, &b->deadline);
    uv_signal_init(&b->loop, &b->sigint);
    uv_signal_init(&b->loop, &b->sigterm);
    b->sigint.data = b->sigterm.data = b;
    uv_signal_start(&b->sigint, on_signal, SIGINT);
    uv_signal_start(&b->sigterm, on_signal, SIGTERM);

    b->heap_size = heap_mib << 20;
    void *heap = mmap(NULL, b->heap_size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (heap == MAP_FAILED) {
        fprintf(stderr, "tern-linux: cannot map a %zu MiB heap: %s\n", heap_mib,
                strerror(errno));
        b->heap_size = 0;
        return -1;
    }
    b->heap = heap;
    return 0;
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void linux_backend_close(struct linux_backend *b)
{
    linux_net_close(b);
    close_handle((uv_handle_t *)&b->deadline);
    close_handle((uv_handle_t *)&b->sigint);
    close_handle((uv_handle_t *)&b->sigterm);
    uv_run(&b->loop, UV_RUN_NOWAIT);
    uv_loop_close(&b->loop);
    for (unsigned i = 0; i < b->disk_count; i++)
        close(b->disks[i].fd);
    if (b->heap)
        munmap(b->heap, b->heap_size);
    b->heap = NULL;
}
