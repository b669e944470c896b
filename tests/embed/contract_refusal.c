/*
 * An outside program, built against the installed library with
 * pkg-config only: tern_os_init must refuse a platform table built for
 * another contract (no header, another major, too small) or lacking a
 * required call, with a result code and a message, and accept the same
 * table once it is right. Prints one line per case; exit 0 when every
 * case went as expected.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/os.h>
#include <tern/platform.h>
#include <tern/version.h>

#define HEAP_BYTES (1u << 20)

static uint64_t now_ns(void *ctx) { (void)ctx; return 1; }
static void console(void *ctx, const char *b, size_t n) { (void)ctx; (void)b; (void)n; }
static tern_result entropy(void *ctx, void *buf, size_t len)
{
    (void)ctx;
    memset(buf, 0x5a, len);
    return TERN_OK;
}
static unsigned none(void *ctx) { (void)ctx; return 0; }
static tern_result heap(void *ctx, void **base, size_t *size)
{
    *base = ctx;
    *size = HEAP_BYTES;
    return TERN_OK;
}
static void wait_(void *ctx, uint64_t d, uint64_t *ready) { (void)ctx; (void)d; *ready = 0; }
__attribute__((noreturn)) static void panic_(void *ctx, const char *r) { (void)ctx; fprintf(stderr, "panic %s\n", r); exit(3); }

#define GOOD_MEMBERS                                                             \
    .monotonic_ns = now_ns, .console_write = console, .entropy = entropy,       \
    .net_count = none, .block_count = none, .heap_region = heap, .wait = wait_, \
    .panic = panic_, .name = "refusal"

static const struct tern_platform_ops good = { TERN_PLATFORM_OPS_HEADER, GOOD_MEMBERS };
static const struct tern_platform_ops no_header = { GOOD_MEMBERS };
static const struct tern_platform_ops no_entropy = {
    TERN_PLATFORM_OPS_HEADER, .monotonic_ns = now_ns, .console_write = console,
    .net_count = none, .block_count = none, .heap_region = heap, .wait = wait_,
    .panic = panic_,
};

static int check(const char *name, struct tern_platform_ops *ops, tern_result want,
                 const char *want_text, void *mem)
{
    static struct tern_os os;
    struct tern_config cfg;
    tern_config_default(&cfg);
    struct tern_platform plat = { ops, mem };
    tern_result r = tern_os_init(&os, &plat, &cfg);
    const char *why = tern_os_init_error(&os);
    bool ok = r == want && (want_text == NULL || strstr(why, want_text) != NULL);
    printf("%s: %s result=%s error=\"%s\"\n", ok ? "PASS" : "FAIL", name, tern_result_name(r), why);
    return ok ? 0 : 1;
}

int main(void)
{
    void *mem = malloc(HEAP_BYTES);
    struct tern_platform_ops ops;
    int bad = 0;
    if (mem == NULL)
        return 2;
    printf("library %s, built against %s\n", tern_version(), TERN_VERSION);

    ops = no_header;
    bad += check("no-header", &ops, TERN_EVERSION, "no contract header", mem);
    ops = good;
    ops.header.abi_major = TERN_PLATFORM_ABI_MAJOR + 1;
    bad += check("wrong-major", &ops, TERN_EVERSION, "major", mem);
    ops = good;
    ops.header.size = 16;
    bad += check("too-small", &ops, TERN_EVERSION, "bytes", mem);
    ops = no_entropy;
    bad += check("missing-entropy", &ops, TERN_EINVAL, "entropy", mem);
    ops = good;
    ops.header.abi_minor = TERN_PLATFORM_ABI_MINOR + 7; /* a newer minor: accepted */
    bad += check("newer-minor", &ops, TERN_OK, NULL, mem);
    ops = good;
    bad += check("good", &ops, TERN_OK, NULL, mem);
    printf("%s\n", bad ? "contract_refusal: FAILED" : "contract_refusal: ok");
    return bad ? 1 : 0;
}
