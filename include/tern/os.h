/*
 * Interface: the Tern instance and its loop.
 *
 * Everything the OS knows lives in one struct tern_os, which the caller
 * owns (static storage, the stack, or its own allocator); there are no
 * mutable globals, so several instances can run in one process.
 *
 *   struct tern_os os;
 *   struct tern_config cfg;
 *   tern_config_default(&cfg);
 *   if (tern_os_init(&os, &platform, &cfg) != TERN_OK) ...;
 *   int code = tern_os_run(&os);        // until tern_os_halt()
 *   tern_os_finish(&os);
 *
 * Embedders that own their loop call tern_os_step() instead of
 * tern_os_run(): it does all work that is due and returns the next
 * deadline, and the embedder waits as it likes before stepping again.
 *
 * One step: consume the ready set (pollers), fire due timers, run every
 * ready thread once. The core's only sleep is the backend's wait().
 */
#ifndef TERN_OS_H
#define TERN_OS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/heap.h"
#include "tern/list.h"
#include "tern/log.h"
#include "tern/platform.h"
#include "tern/result.h"
#include "tern/thread.h"
#include "tern/timer.h"
#include "tern/decls.h"
#include "tern/version.h"

TERN_BEGIN_DECLS

struct tern_config {
    uint64_t boot_start_ns;        /* monotonic time the backend started */
    uint32_t max_timers;           /* timer heap capacity */
    uint32_t log_ring_bytes;       /* size of the log ring */
    enum tern_log_level console_level;
    size_t default_stack_size;     /* for threads created with size 0 */
};

/* Fills cfg with the defaults: 4096 timers, a 64 KiB log ring, info to the
 * console, 64 KiB stacks, boot_start_ns 0. */
void tern_config_default(struct tern_config *cfg);

struct tern_os;

/* Something that consumes ready-set bits (a network stack consumes the
 * device bits). Registered pollers run at the start of every step that
 * has any of their mask bits set. The caller owns the struct. */
struct tern_poller {
    uint64_t mask;
    void (*poll)(struct tern_os *os, void *arg, uint64_t ready);
    void *arg;
    struct tern_list_node link;
};

/* Run when shutdown is requested (TERN_READY_SHUTDOWN or
 * tern_os_request_shutdown), newest first, before the halt. */
struct tern_shutdown_hook {
    void (*fn)(struct tern_os *os, void *arg);
    void *arg;
    struct tern_list_node link;
};

/* A call the loop makes once, at its next step: how code on a thread
 * hands work back to the loop (libuv's uv_async_send). Posted from
 * anywhere in the core, a thread included; posting one that is already
 * pending does nothing. The caller owns the struct (tern_deferred_init
 * once) and cancels it before freeing it. */
struct tern_deferred {
    void (*fn)(struct tern_os *os, void *arg);
    void *arg;
    struct tern_list_node link;    /* on os->deferred while pending */
};

enum tern_os_state {
    TERN_OS_RUNNING = 1,
    TERN_OS_HALTED,
    TERN_OS_FINISHED,
};

struct tern_sched {
    struct tern_list ready;        /* threads ready to run */
    struct tern_list all;          /* every live thread */
    struct tern_thread *current;   /* NULL while the loop itself runs */
    void *loop_sp;                 /* saved stack pointer of the loop */
    struct tern_thread *reap;      /* a detached thread that just ended */
    uint32_t live;                 /* threads not yet freed */
    uint64_t switches;
    /* Stack bounds of the loop and a fake-stack handle, for
     * AddressSanitizer's fiber annotations (unused otherwise). */
    const void *loop_stack_bottom;
    size_t loop_stack_size;
    void *asan_fake_stack;
};

#define TERN_OS_INIT_ERROR_MAX 128

struct tern_os {
    enum tern_os_state state;
    struct tern_platform plat;     /* the backend's; plat.ops is &ops for an older minor */
    struct tern_platform_ops ops;  /* an older minor's table, the rest NULL */
    char init_error[TERN_OS_INIT_ERROR_MAX]; /* why tern_os_init refused; "" */
    struct tern_config cfg;
    struct tern_heap heap;
    struct tern_timer_heap timers;
    struct tern_log_ring log;
    struct tern_sched sched;
    struct tern_list pollers;
    struct tern_list shutdown_hooks;
    struct tern_list deferred;     /* struct tern_deferred due at the next step */
    uint64_t pending_ready;        /* ready bits handed to the next step */
    int halt_code;
    bool shutdown_requested;
    uint64_t steps;
    uint64_t entropy_failures;     /* draws refused by tern_entropy */
};

/* Sets up os on plat: checks the ops table's header (platform.h) and
 * that every REQUIRED member is present (a table of an older minor is
 * copied into os as far as its size reaches, the rest NULL; a current
 * one is used in place), takes the heap region and prints TERN_BOOT_OK. TERN_OK;
 * TERN_EVERSION (no contract header, another ABI major, a table too
 * small: nothing of the table is called); TERN_EINVAL (a required member
 * missing, a bad config, NULL arguments); TERN_ENOMEM (the heap region is
 * too small for the configured tables). On failure os is unusable,
 * tern_os_init_error() says why, and the console got that line only when
 * the table's console_write could be trusted. */
tern_result tern_os_init(struct tern_os *os, const struct tern_platform *plat,
                         const struct tern_config *cfg);

/* Why the last tern_os_init on os failed ("platform ABI major 2, this
 * library speaks 1"); "" after a success. Never NULL (os non-NULL). */
const char *tern_os_init_error(const struct tern_os *os);

/* One turn of the loop at the current time with the given ready bits
 * (from the embedder's own wait): pollers, deferred calls, timers, then
 * the threads ready now. Returns the monotonic deadline by which it must
 * be called again: 0 for "at once" (a thread is ready or a call was
 * deferred), UINT64_MAX for "only when I/O is ready". After a halt it
 * returns UINT64_MAX and does nothing. */
uint64_t tern_os_step(struct tern_os *os, uint64_t ready);

/* Steps and waits (platform wait) until the instance halts; returns the
 * halt code. */
int tern_os_run(struct tern_os *os);

/* Asks the instance to stop: runs the shutdown hooks, prints
 * "TERN_HALT code=N" and makes the loop return code. Callable from
 * anywhere in the core, a thread included; the first call wins. */
void tern_os_halt(struct tern_os *os, int code);

/* Requests an orderly shutdown (as a SIGTERM would): the loop runs the
 * shutdown hooks and halts with code 0 at the next step. */
void tern_os_request_shutdown(struct tern_os *os);

/* Releases what the instance holds. Threads still alive are abandoned
 * with their stacks (their memory is the heap's, which the backend
 * reclaims). */
void tern_os_finish(struct tern_os *os);

void tern_os_add_poller(struct tern_os *os, struct tern_poller *p);
void tern_os_remove_poller(struct tern_os *os, struct tern_poller *p);
void tern_os_add_shutdown_hook(struct tern_os *os, struct tern_shutdown_hook *h);

/* Prepares d to call fn(os, arg); it is not pending. */
void tern_deferred_init(struct tern_deferred *d, void (*fn)(struct tern_os *os, void *arg),
                        void *arg);

/* Makes d due at the next step (once, however often it is posted before
 * that step runs it). A call posted while deferred calls run waits for
 * the step after, so a call that posts itself cannot spin the loop. */
void tern_os_defer(struct tern_os *os, struct tern_deferred *d);

/* Takes d back if pending; harmless otherwise. */
void tern_os_defer_cancel(struct tern_deferred *d);

/* Monotonic time now, in ns and in ms. */
uint64_t tern_now_ns(const struct tern_os *os);
uint64_t tern_now_ms(const struct tern_os *os);

/* Memory from the instance heap (NULL when exhausted) and back. */
void *tern_alloc(struct tern_os *os, size_t size);
void *tern_calloc(struct tern_os *os, size_t n, size_t size);
void tern_free(struct tern_os *os, void *p);

/* Arms a timer of this instance (see timer.h). */
tern_result tern_timer_arm(struct tern_os *os, struct tern_timer *t, uint64_t deadline_ns);
void tern_timer_disarm(struct tern_os *os, struct tern_timer *t);

/* Fills buf with len bytes from the platform's entropy source: the one
 * way core code draws anything that must not be predictable (keys,
 * transaction ids, DRBG seeds). TERN_OK; TERN_EIO when the source failed:
 * buf is then zeroed and must not be used, the failure is counted in
 * os->entropy_failures and logged at ERROR as "SUBSYS: entropy source
 * failed: WHAT refused" (what: the operation the caller now refuses).
 * The contract (platform.h) makes that fatal for anything needing a
 * secret: the caller refuses the operation, nothing goes out. */
tern_result tern_entropy(struct tern_os *os, void *buf, size_t len, const char *subsys,
                         const char *what);

/* Counts and logs a failed draw (as tern_entropy does) for a caller that
 * learned of it from a lower layer's TERN_EIO. */
void tern_entropy_failed(struct tern_os *os, const char *subsys, const char *what);

/* Logs one line: to the ring always, to the console when level is at or
 * above cfg.console_level. subsys is a short tag ("net", "disk"). */
void tern_log(struct tern_os *os, enum tern_log_level level, const char *subsys,
              const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void tern_vlog(struct tern_os *os, enum tern_log_level level, const char *subsys,
               const char *fmt, va_list ap);

/* Prints a marker line "NAME key=value ..." to the console, whatever the
 * log level, and records it in the ring. fields may be NULL. Markers are
 * the stable interface tests read: docs/markers.md lists them. */
void tern_marker(struct tern_os *os, const char *name, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints "TERN_PANIC reason=..." and stops through the platform's panic.
 * For broken invariants (programmer errors), never for bad input. */
void tern_panic(struct tern_os *os, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 2, 3)));

#define TERN_ASSERT(os, cond)                                                  \
    do {                                                                       \
        if (!(cond))                                                           \
            tern_panic((os), "assert %s at %s:%d", #cond, __FILE__, __LINE__); \
    } while (0)

TERN_END_DECLS

#endif
