/*
 * Interface: see include/tern/os.h. The instance, its loop, logging,
 * markers and panic.
 */
#include <string.h>

#include "tern/fmt.h"
#include "tern/os.h"
#include "sched/sched.h"

#define MIN_HEAP (256u * 1024u)

void tern_config_default(struct tern_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_timers = 4096;
    cfg->log_ring_bytes = 64 * 1024;
    cfg->console_level = TERN_LOG_INFO;
    cfg->default_stack_size = 64 * 1024;
}

/* Refuses a table built for another contract: nothing in it is called.
 * TERN_OK or TERN_EVERSION with os->init_error set. */
static tern_result platform_version(struct tern_os *os, const struct tern_platform_ops *ops)
{
    const struct tern_platform_ops_header *h = &ops->header;
    if (h->magic != TERN_PLATFORM_MAGIC)
        tern_snprintf(os->init_error, sizeof(os->init_error),
                      "platform table has no contract header (magic 0x%x, want 0x%x): "
                      "start it with TERN_PLATFORM_OPS_HEADER",
                      (unsigned)h->magic, TERN_PLATFORM_MAGIC);
    else if (h->abi_major != TERN_PLATFORM_ABI_MAJOR)
        tern_snprintf(os->init_error, sizeof(os->init_error),
                      "platform ABI major %u, this library speaks %u (minor %u)",
                      (unsigned)h->abi_major, TERN_PLATFORM_ABI_MAJOR, TERN_PLATFORM_ABI_MINOR);
    else if (h->size < TERN_PLATFORM_OPS_MIN_SIZE)
        tern_snprintf(os->init_error, sizeof(os->init_error),
                      "platform table of %u bytes, ABI %u needs at least %u",
                      (unsigned)h->size, TERN_PLATFORM_ABI_MAJOR,
                      (unsigned)TERN_PLATFORM_OPS_MIN_SIZE);
    else
        return TERN_OK;
    return TERN_EVERSION;
}

/* The first REQUIRED member missing from ops, or NULL. */
static const char *platform_missing(const struct tern_platform_ops *ops)
{
    if (!ops->monotonic_ns)
        return "monotonic_ns";
    if (!ops->console_write)
        return "console_write";
    if (!ops->entropy)
        return "entropy";
    if (!ops->net_count)
        return "net_count";
    if (!ops->block_count)
        return "block_count";
    if (!ops->heap_region)
        return "heap_region";
    if (!ops->wait)
        return "wait";
    if (!ops->panic)
        return "panic";
    return NULL;
}

static void console_line(struct tern_os *os, const char *text, size_t len)
{
    os->plat.ops->console_write(os->plat.ctx, text, len);
}

/* The platform is usable but nothing else is: say why and give up. */
static tern_result init_failed(struct tern_os *os, const char *why, tern_result r)
{
    char line[TERN_OS_INIT_ERROR_MAX + 32];
    tern_snprintf(os->init_error, sizeof(os->init_error), "%s", why);
    size_t n = tern_snprintf(line, sizeof(line), "tern: init failed: %s (%s)\n", why,
                             tern_result_name(r));
    console_line(os, line, n < sizeof(line) ? n : sizeof(line) - 1);
    return r;
}

/* Takes the backend's table: itself when it has every member this
 * library knows, else (an older minor) a copy in os of what it has, the
 * members it lacks NULL. TERN_OK, else TERN_EVERSION or TERN_EINVAL with
 * os->init_error set (nothing was called). */
static tern_result take_platform(struct tern_os *os, const struct tern_platform *plat)
{
    tern_result r = platform_version(os, plat->ops);
    if (r != TERN_OK)
        return r;
    os->plat = *plat;
    if (plat->ops->header.size < sizeof(os->ops)) {
        memcpy(&os->ops, plat->ops, plat->ops->header.size);
        os->plat.ops = &os->ops;
    }
    const char *missing = platform_missing(os->plat.ops);
    if (missing == NULL)
        return TERN_OK;
    tern_snprintf(os->init_error, sizeof(os->init_error), "platform lacks required call '%s'",
                  missing);
    if (os->plat.ops->console_write != NULL) {
        char line[TERN_OS_INIT_ERROR_MAX + 32];
        size_t n = tern_snprintf(line, sizeof(line), "tern: init failed: %s (einval)\n",
                                 os->init_error);
        console_line(os, line, n < sizeof(line) ? n : sizeof(line) - 1);
    }
    return TERN_EINVAL;
}

const char *tern_os_init_error(const struct tern_os *os)
{
    return os->init_error;
}

tern_result tern_os_init(struct tern_os *os, const struct tern_platform *plat,
                         const struct tern_config *cfg)
{
    if (os == NULL)
        return TERN_EINVAL;
    memset(os, 0, sizeof(*os));
    if (plat == NULL || plat->ops == NULL || cfg == NULL) {
        tern_snprintf(os->init_error, sizeof(os->init_error), "no platform or configuration");
        return TERN_EINVAL;
    }
    tern_result r = take_platform(os, plat);
    if (r != TERN_OK)
        return r;
    os->cfg = *cfg;
    if (cfg->max_timers == 0 || cfg->log_ring_bytes < 2 * TERN_LOG_LINE_MAX)
        return init_failed(os, "bad configuration", TERN_EINVAL);

    void *base = NULL;
    size_t size = 0;
    r = os->plat.ops->heap_region(os->plat.ctx, &base, &size);
    if (r != TERN_OK)
        return init_failed(os, "no heap region", r);
    if (size < MIN_HEAP)
        return init_failed(os, "heap region below 256 KiB", TERN_ENOMEM);
    r = tern_heap_init(&os->heap, base, size);
    if (r != TERN_OK)
        return init_failed(os, "heap region unusable", r);

    struct tern_timer **slots = tern_calloc(os, cfg->max_timers, sizeof(*slots));
    void *ring = tern_alloc(os, cfg->log_ring_bytes);
    if (slots == NULL || ring == NULL)
        return init_failed(os, "heap too small for timers and log", TERN_ENOMEM);
    tern_timer_heap_init(&os->timers, slots, cfg->max_timers);
    (void)tern_log_ring_init(&os->log, ring, cfg->log_ring_bytes);

    tern_sched_init(os);
    tern_list_init(&os->pollers);
    tern_list_init(&os->shutdown_hooks);
    tern_list_init(&os->deferred);
    os->state = TERN_OS_RUNNING;

    uint64_t now = tern_now_ns(os);
    uint64_t boot_ms = now > cfg->boot_start_ns ? (now - cfg->boot_start_ns) / 1000000u : 0;
    tern_marker(os, "TERN_BOOT_OK", "backend=%s version=%s boot_ms=%llu",
                os->plat.ops->name ? os->plat.ops->name : "unknown", TERN_VERSION,
                (unsigned long long)boot_ms);
    return TERN_OK;
}

static void run_pollers(struct tern_os *os, uint64_t ready)
{
    struct tern_list_node *n = os->pollers.head.next;
    while (n != &os->pollers.head) {
        struct tern_poller *p = TERN_CONTAINER_OF(n, struct tern_poller, link);
        n = n->next; /* a poller may remove itself */
        if (p->mask & ready)
            p->poll(os, p->arg, ready & p->mask);
    }
}

/* The calls deferred before this step; those they post wait for the next. */
static void run_deferred(struct tern_os *os)
{
    struct tern_list batch;
    tern_list_init(&batch);
    struct tern_list_node *n;
    while ((n = tern_list_pop_front(&os->deferred)) != NULL)
        tern_list_push_back(&batch, n);
    while ((n = tern_list_pop_front(&batch)) != NULL) {
        struct tern_deferred *d = TERN_CONTAINER_OF(n, struct tern_deferred, link);
        d->fn(os, d->arg);
    }
}

static void run_shutdown(struct tern_os *os)
{
    tern_log(os, TERN_LOG_INFO, "os", "shutdown requested");
    struct tern_list_node *n;
    while ((n = os->shutdown_hooks.head.prev) != &os->shutdown_hooks.head) {
        tern_list_remove(n);
        struct tern_shutdown_hook *h = TERN_CONTAINER_OF(n, struct tern_shutdown_hook, link);
        h->fn(os, h->arg);
    }
    tern_os_halt(os, 0);
}

uint64_t tern_os_step(struct tern_os *os, uint64_t ready)
{
    if (os->state != TERN_OS_RUNNING)
        return UINT64_MAX;
    os->steps++;
    ready |= os->pending_ready;
    os->pending_ready = 0;
    if (ready & TERN_READY_SHUTDOWN)
        os->shutdown_requested = true;
    if (ready & ~TERN_READY_SHUTDOWN)
        run_pollers(os, ready & ~TERN_READY_SHUTDOWN);
    run_deferred(os);
    tern_timer_run(&os->timers, tern_now_ns(os));
    tern_sched_run_ready(os);
    if (os->shutdown_requested && os->state == TERN_OS_RUNNING)
        run_shutdown(os);
    if (os->state != TERN_OS_RUNNING)
        return UINT64_MAX;
    if (tern_sched_has_ready(os) || !tern_list_empty(&os->deferred))
        return 0;
    return tern_timer_next_deadline(&os->timers);
}

int tern_os_run(struct tern_os *os)
{
    uint64_t ready = 0;
    while (os->state == TERN_OS_RUNNING) {
        uint64_t deadline = tern_os_step(os, ready);
        if (os->state != TERN_OS_RUNNING)
            break;
        ready = 0;
        os->plat.ops->wait(os->plat.ctx, deadline, &ready);
    }
    return os->halt_code;
}

void tern_os_halt(struct tern_os *os, int code)
{
    if (os->state != TERN_OS_RUNNING)
        return;
    os->state = TERN_OS_HALTED;
    os->halt_code = code;
    tern_marker(os, "TERN_HALT", "code=%d", code);
}

void tern_os_request_shutdown(struct tern_os *os)
{
    os->shutdown_requested = true;
}

void tern_os_finish(struct tern_os *os)
{
    os->state = TERN_OS_FINISHED;
}

void tern_os_add_poller(struct tern_os *os, struct tern_poller *p)
{
    tern_list_push_back(&os->pollers, &p->link);
}

void tern_os_remove_poller(struct tern_os *os, struct tern_poller *p)
{
    (void)os;
    tern_list_remove(&p->link);
}

void tern_os_add_shutdown_hook(struct tern_os *os, struct tern_shutdown_hook *h)
{
    tern_list_push_back(&os->shutdown_hooks, &h->link);
}

void tern_deferred_init(struct tern_deferred *d, void (*fn)(struct tern_os *os, void *arg),
                        void *arg)
{
    d->fn = fn;
    d->arg = arg;
    tern_list_node_init(&d->link);
}

void tern_os_defer(struct tern_os *os, struct tern_deferred *d)
{
    if (!tern_list_node_linked(&d->link))
        tern_list_push_back(&os->deferred, &d->link);
}

void tern_os_defer_cancel(struct tern_deferred *d)
{
    tern_list_remove(&d->link);
}

uint64_t tern_now_ns(const struct tern_os *os)
{
    return os->plat.ops->monotonic_ns(os->plat.ctx);
}

uint64_t tern_now_ms(const struct tern_os *os)
{
    return tern_now_ns(os) / 1000000u;
}

void *tern_alloc(struct tern_os *os, size_t size)
{
    return tern_heap_alloc(&os->heap, size);
}

void *tern_calloc(struct tern_os *os, size_t n, size_t size)
{
    return tern_heap_calloc(&os->heap, n, size);
}

void tern_free(struct tern_os *os, void *p)
{
    tern_heap_free(&os->heap, p);
}

tern_result tern_timer_arm(struct tern_os *os, struct tern_timer *t, uint64_t deadline_ns)
{
    return tern_timer_start(&os->timers, t, deadline_ns);
}

void tern_timer_disarm(struct tern_os *os, struct tern_timer *t)
{
    tern_timer_stop(&os->timers, t);
}

void tern_vlog(struct tern_os *os, enum tern_log_level level, const char *subsys,
               const char *fmt, va_list ap)
{
    char line[TERN_LOG_LINE_MAX + 2];
    /* Log times count from the backend's start, like boot_ms. */
    uint64_t now = tern_now_ns(os);
    uint64_t ms = now > os->cfg.boot_start_ns ? (now - os->cfg.boot_start_ns) / 1000000u : 0;
    size_t n = tern_snprintf(line, sizeof(line), "[%llu.%03llu] %s %s: ",
                             (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000),
                             tern_log_level_name(level), subsys);
    if (n < sizeof(line))
        n += tern_vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if (n > TERN_LOG_LINE_MAX)
        n = TERN_LOG_LINE_MAX;
    tern_log_ring_push(&os->log, level, line, n);
    if (level >= os->cfg.console_level) {
        line[n] = '\n';
        console_line(os, line, n + 1);
    }
}

void tern_entropy_failed(struct tern_os *os, const char *subsys, const char *what)
{
    os->entropy_failures++;
    tern_log(os, TERN_LOG_ERROR, subsys, "entropy source failed: %s refused", what);
}

tern_result tern_entropy(struct tern_os *os, void *buf, size_t len, const char *subsys,
                         const char *what)
{
    if (os->plat.ops->entropy(os->plat.ctx, buf, len) == TERN_OK)
        return TERN_OK;
    memset(buf, 0, len); /* whatever the source left there is not to be used */
    tern_entropy_failed(os, subsys, what);
    return TERN_EIO;
}

void tern_log(struct tern_os *os, enum tern_log_level level, const char *subsys,
              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tern_vlog(os, level, subsys, fmt, ap);
    va_end(ap);
}

void tern_marker(struct tern_os *os, const char *name, const char *fields, ...)
{
    char line[TERN_LOG_LINE_MAX + 2];
    size_t n = tern_snprintf(line, sizeof(line), "%s", name);
    if (fields != NULL && n + 1 < sizeof(line)) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fields);
        n += tern_vsnprintf(line + n, sizeof(line) - n, fields, ap);
        va_end(ap);
    }
    if (n > TERN_LOG_LINE_MAX)
        n = TERN_LOG_LINE_MAX;
    tern_log_ring_push(&os->log, TERN_LOG_INFO, line, n);
    line[n] = '\n';
    console_line(os, line, n + 1);
}

void tern_panic(struct tern_os *os, const char *fmt, ...)
{
    char reason[160];
    va_list ap;
    va_start(ap, fmt);
    tern_vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    /* Marker fields are single tokens: spaces in the reason become '_'. */
    for (char *c = reason; *c; c++)
        if (*c == ' ' || *c == '\n')
            *c = '_';
    tern_marker(os, "TERN_PANIC", "reason=%s", reason);
    os->plat.ops->panic(os->plat.ctx, reason);
}
