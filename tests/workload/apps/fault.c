/*
 * fault: a test app that misbehaves as its env FAULT says, after it
 * registered /healthz and said it is ready (so the OS is serving when it
 * goes wrong, and TERN_READY is out):
 *   null    writes through a NULL pointer        -> crash:page-fault
 *   ud      executes ud2                         -> crash:invalid-opcode
 *   div     divides by zero                      -> crash:divide-error
 *   wx      writes into its own (sealed) text    -> crash:protection-fault
 *   spin    loops without yielding               -> crash:watchdog
 *   stack   recurses until its stack runs out    -> crash:stack-overflow
 *   oom     allocates until the arena refuses, then exits 12
 *   exit3   calls exit(3)
 *   unhealthy  answers its health route with 503, forever
 * FAULT_AFTER_MS delays the fault (default 200) so the OS reaches READY.
 * FAULT_EARLY=1 misbehaves at once, before the health route and ready
 * (a bad update's trial: it must never be confirmed). FAULT_GREETING
 * answers GET /hello with its value (which version serves).
 */
#include "tern_app.h"

static int on_healthz(void *arg, const struct tern_pal_http_request *req,
                      struct tern_pal_http_response *resp)
{
    (void)arg, (void)req;
    resp->body = "ok";
    resp->body_len = 2;
    return TERN_PAL_OK;
}

static int on_sick(void *arg, const struct tern_pal_http_request *req,
                   struct tern_pal_http_response *resp)
{
    (void)arg, (void)req;
    resp->status = 503;
    resp->body = "sick";
    resp->body_len = 4;
    return TERN_PAL_OK;
}

static char greeting[64];
static size_t greeting_len;

static int on_hello(void *arg, const struct tern_pal_http_request *req,
                    struct tern_pal_http_response *resp)
{
    (void)arg, (void)req;
    resp->body = greeting;
    resp->body_len = greeting_len;
    return TERN_PAL_OK;
}

static volatile int zero;

/* 512 bytes a frame, never a tail call: reaches the guard page below the
 * thread's stack (the depth check is never true; it keeps the compiler
 * from calling the recursion infinite). */
static int recurse(volatile char *up, int depth)
{
    volatile char frame[512];
    frame[0] = (char)depth;
    frame[511] = up != NULL ? up[0] : 0;
    if (depth == -1)
        return 0;
    return recurse(frame, depth + 1) + frame[1];
}

static int misbehave(const struct tern_pal *pal, const char *how)
{
    if (strcmp(how, "null") == 0)
        *(volatile int *)(uintptr_t)zero = 1;
    else if (strcmp(how, "ud") == 0)
        __asm__ volatile("ud2");
    else if (strcmp(how, "div") == 0)
        return 100 / zero;
    else if (strcmp(how, "wx") == 0)
        *(volatile unsigned char *)(uintptr_t)&misbehave = 0xc3;
    else if (strcmp(how, "stack") == 0)
        return recurse(NULL, 0);
    else if (strcmp(how, "spin") == 0)
        for (;;)
            zero = zero + 0;
    else if (strcmp(how, "oom") == 0) {
        unsigned n = 0;
        while (pal->alloc(pal->ctx, 1 << 20) != NULL)
            n++;
        tapp_logf(pal, TERN_PAL_LOG_WARN, "arena refused after %u MiB", n);
        return 12;
    } else if (strcmp(how, "exit3") == 0) {
        pal->exit(pal->ctx, 3);
    } else if (strcmp(how, "unhealthy") == 0) {
        for (;;)
            pal->sleep_until(pal->ctx, pal->monotonic_ns(pal->ctx) + 1000000000ull);
    }
    tapp_logf(pal, TERN_PAL_LOG_ERROR, "unknown FAULT %s", how);
    return 2;
}

int tern_app_main(const struct tern_pal *pal, const struct tern_app_start *start)
{
    (void)start;
    char how[16], ms[16];
    size_t n;
    if (pal->getenv(pal->ctx, "FAULT", how, sizeof how, &n) != TERN_PAL_OK)
        return 2;
    uint64_t after = 200;
    if (pal->getenv(pal->ctx, "FAULT_AFTER_MS", ms, sizeof ms, &n) == TERN_PAL_OK)
        after = (uint64_t)tapp_parse_u64(ms, n);
    if (pal->getenv(pal->ctx, "FAULT_EARLY", ms, sizeof ms, &n) == TERN_PAL_OK && n == 1 &&
        ms[0] == '1')
        return misbehave(pal, how);
    if (pal->getenv(pal->ctx, "FAULT_GREETING", greeting, sizeof greeting, &greeting_len) ==
        TERN_PAL_OK)
        pal->http_route(pal->ctx, "/hello", 1, 0, on_hello, NULL);
    bool sick = strcmp(how, "unhealthy") == 0;
    pal->http_route(pal->ctx, "/healthz", 1, 0, sick ? on_sick : on_healthz, NULL);
    pal->ready(pal->ctx);
    pal->sleep_until(pal->ctx, pal->monotonic_ns(pal->ctx) + after * 1000000);
    tapp_logf(pal, TERN_PAL_LOG_WARN, "misbehaving now: %s", how);
    return misbehave(pal, how);
}
