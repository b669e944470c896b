/*
 * The app loader (core/loader) on the Linux backend's real exec_alloc /
 * exec_seal (mmap/mprotect): real apps built by the compiler are loaded and
 * CALLED; W^X is proven by faults in a child process; every refusal is made
 * by patching one field of a real app and asserts the reason text; a file
 * cut at every offset is refused.
 *
 * argv: app_reloc.elf app_wx.elf app_tls.elf app_reloc_packed.elf SEED LLD
 * (tests/loader/meson.build; SEED is the fuzz corpus's committed app, LLD
 * app_reloc linked by lld, or "" when clang/lld are missing).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "app_patch.h"
#include "linux.h"
#include "tern/loader.h"
#include "tern/os.h"

/* What app_reloc's tern_app_main returns when every pointer was relocated
 * (the sum is worked out in apps/app_reloc.c). */
#define APP_RELOC_RESULT 1517

#define APP_COUNT 6
static const char *app_paths[APP_COUNT];

/* The PT_LOADs of app_reloc as the linker lays them out (asserted by
 * test_layout_assumed): 0 R (headers, note, dynsym, rela), 1 R+X (text),
 * 2 R (rodata), 3 R+W (relro, dynamic, data, bss). */
#define LOAD(f, n) app_phdr_of((f), PT_LOAD, (n))

struct fixture {
    struct linux_backend backend;
    struct tern_platform plat;
    struct tern_os os;
    struct app_file reloc, wx, tls, packed, seed;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    if (fx == NULL || linux_backend_init(&fx->backend, 8) != 0)
        return -1;
    fx->plat = linux_platform(&fx->backend);
    struct tern_config cfg;
    tern_config_default(&cfg);
    cfg.console_level = TERN_LOG_ERROR; /* refusals are warnings: keep the output short */
    if (tern_os_init(&fx->os, &fx->plat, &cfg) != TERN_OK)
        return -1;
    fx->reloc = app_read(app_paths[0]);
    fx->wx = app_read(app_paths[1]);
    fx->tls = app_read(app_paths[2]);
    fx->packed = app_read(app_paths[3]);
    fx->seed = app_read(app_paths[4]);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    app_free(&fx->reloc);
    app_free(&fx->wx);
    app_free(&fx->tls);
    app_free(&fx->packed);
    app_free(&fx->seed);
    tern_os_finish(&fx->os);
    linux_backend_close(&fx->backend);
    free(fx);
    return 0;
}

typedef int (*app_main_fn)(const void *pal, const void *start);

static int call_entry(const struct tern_app_image *img, uintptr_t start)
{
    app_main_fn fn = (app_main_fn)(uintptr_t)img->entry;
    return fn(NULL, (const void *)start);
}

/* The permissions ("r-xp") of the /proc/self/maps mapping holding addr. */
static void mapping_perms(uint64_t addr, char perms[5])
{
    FILE *fp = fopen("/proc/self/maps", "r");
    assert_non_null(fp);
    char line[512];
    perms[0] = '\0';
    while (fgets(line, sizeof line, fp) != NULL) {
        unsigned long long lo, hi;
        char p[5];
        if (sscanf(line, "%llx-%llx %4s", &lo, &hi, p) == 3 && addr >= lo && addr < hi) {
            memcpy(perms, p, 5);
            break;
        }
    }
    fclose(fp);
}

/* ---- loading and running ---- */

static void test_load_runs_relocated_app(void **state)
{
    struct fixture *fx = *state;
    struct tern_app_image img;
    struct tern_load_error err;
    tern_result r = tern_app_load(&fx->os, fx->reloc.buf, fx->reloc.len, 1, 0, &img, &err);
    if (r != TERN_OK)
        fail_msg("refused: %s", err.reason);
    assert_int_equal(img.abi.pal_major, 1);
    assert_int_equal(img.abi.pal_minor, 0);
    assert_int_equal(img.text_lo % TERN_APP_PAGE, 0);
    assert_int_equal(img.text_hi % TERN_APP_PAGE, 0);
    assert_true(img.entry >= img.text_lo && img.entry < img.text_hi);
    assert_int_equal(img.entry, img.bias + app_ehdr(&fx->reloc)->e_entry);
    assert_true(img.bias + app_phdr_of(&fx->reloc, PT_LOAD, 0)->p_vaddr >= (uintptr_t)img.base);
    size_t nrela;
    app_rela(&fx->reloc, &nrela);
    assert_int_equal(img.relocs, nrela);

    /* a global pointing at a global, relocated before anything ran */
    uint32_t idx;
    Elf64_Sym *counter = app_dynsym(&fx->reloc, "counter", &idx);
    Elf64_Sym *counter_ptr = app_dynsym(&fx->reloc, "counter_ptr", &idx);
    uint64_t stored;
    memcpy(&stored, (void *)(uintptr_t)(img.bias + counter_ptr->st_value), 8);
    assert_int_equal(stored, img.bias + counter->st_value);

    /* the kernel's view: text r-x; data rw- (not executable); headers,
     * rodata and the relocated RELRO r-- */
    char perms[5];
    mapping_perms(img.text_lo, perms);
    assert_string_equal(perms, "r-xp");
    mapping_perms(img.bias + counter->st_value, perms);
    assert_string_equal(perms, "rw-p");
    mapping_perms(img.bias + LOAD(&fx->reloc, 0)->p_vaddr, perms);
    assert_string_equal(perms, "r--p");
    mapping_perms(img.bias + LOAD(&fx->reloc, 2)->p_vaddr, perms);
    assert_string_equal(perms, "r--p");
    mapping_perms(img.bias + app_phdr_of(&fx->reloc, PT_GNU_RELRO, 0)->p_vaddr, perms);
    assert_string_equal(perms, "r--p");

    assert_int_equal(call_entry(&img, 0), APP_RELOC_RESULT);
    tern_app_unload(&fx->os, &img);
    assert_null(img.base);
    tern_app_unload(&fx->os, &img); /* a second unload does nothing */
}

/* The same app in the packed layout (one R+X PT_LOAD holding headers,
 * note, text and rodata), as built now and as committed for the fuzzer. */
static void test_packed_layout_runs(void **state)
{
    struct fixture *fx = *state;
    const struct app_file *apps[2] = { &fx->packed, &fx->seed };
    for (int i = 0; i < 2; i++) {
        assert_int_equal(app_phdr_of(apps[i], PT_LOAD, 0)->p_flags, PF_R | PF_X);
        struct tern_app_image img;
        struct tern_load_error err;
        tern_result r = tern_app_load(&fx->os, apps[i]->buf, apps[i]->len, 1, 0, &img, &err);
        if (r != TERN_OK)
            fail_msg("%s refused: %s", app_paths[3 + i], err.reason);
        assert_int_equal(call_entry(&img, 0), APP_RELOC_RESULT);
        tern_app_unload(&fx->os, &img);
    }
}

/* The same app linked by lld (apps/'s recipe): RELRO in a PT_LOAD of its
 * own, made read-only after relocation. */
static void test_lld_layout_runs(void **state)
{
    struct fixture *fx = *state;
    if (app_paths[5][0] == '\0')
        skip();
    struct app_file f = app_read(app_paths[5]);
    struct tern_app_image img;
    struct tern_load_error err;
    tern_result r = tern_app_load(&fx->os, f.buf, f.len, 1, 0, &img, &err);
    if (r != TERN_OK)
        fail_msg("%s refused: %s", app_paths[5], err.reason);
    char perms[5];
    mapping_perms(img.bias + app_phdr_of(&f, PT_GNU_RELRO, 0)->p_vaddr, perms);
    assert_string_equal(perms, "r--p");
    assert_int_equal(call_entry(&img, 0), APP_RELOC_RESULT);
    tern_app_unload(&fx->os, &img);
    app_free(&f);
}

static void test_accepts_older_minor(void **state)
{
    struct fixture *fx = *state;
    struct tern_app_image img;
    struct tern_load_error err;
    assert_int_equal(tern_app_load(&fx->os, fx->reloc.buf, fx->reloc.len, 1, 3, &img, &err),
                     TERN_OK);
    assert_int_equal(call_entry(&img, 0), APP_RELOC_RESULT);
    tern_app_unload(&fx->os, &img);
}

/* R_X86_64_64 / GLOB_DAT / JUMP_SLOT against the app's own symbol: the
 * RELATIVE that stores &counter into counter_ptr is rewritten into each. */
static void test_symbolic_relocations(void **state)
{
    struct fixture *fx = *state;
    const uint32_t types[] = { R_X86_64_64, R_X86_64_GLOB_DAT, R_X86_64_JUMP_SLOT };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        struct app_file f = app_copy(&fx->reloc);
        uint32_t idx;
        Elf64_Sym *counter = app_dynsym(&f, "counter", &idx);
        Elf64_Rela *r = app_rela_to(&f, counter->st_value);
        r->r_info = ELF64_R_INFO(idx, types[i]);   /* symbol "counter", type */
        r->r_addend = 0;                           /* S + 0 */
        struct tern_app_image img;
        struct tern_load_error err;
        tern_result res = tern_app_load(&fx->os, f.buf, f.len, 1, 0, &img, &err);
        if (res != TERN_OK)
            fail_msg("type %u refused: %s", types[i], err.reason);
        assert_int_equal(call_entry(&img, 0), APP_RELOC_RESULT);
        tern_app_unload(&fx->os, &img);
        app_free(&f);
    }
}

/* Runs app_wx in a child with mode start; returns the wait status. */
static int run_wx_child(struct fixture *fx, uintptr_t mode)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct tern_app_image img;
        struct tern_load_error err;
        if (tern_app_load(&fx->os, fx->wx.buf, fx->wx.len, 1, 0, &img, &err) != TERN_OK)
            _exit(3);
        signal(SIGSEGV, SIG_DFL);
        _exit(call_entry(&img, mode));
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void test_wx_faults(void **state)
{
    struct fixture *fx = *state;
    int st = run_wx_child(fx, 0);               /* runs: the load works */
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 42);
    st = run_wx_child(fx, 1);                   /* writes its own text */
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGSEGV);
    st = run_wx_child(fx, 2);                   /* executes its writable data */
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGSEGV);
    st = run_wx_child(fx, 3);                   /* writes its .rodata */
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGSEGV);
    st = run_wx_child(fx, 4);                   /* writes its relocated RELRO */
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGSEGV);
}

/* ---- platform results ---- */

struct wrap {
    struct tern_platform inner;
    struct tern_platform_ops ops;
    tern_result alloc_result, seal_result, readonly_result;
    bool no_readonly;           /* the platform lacks exec_readonly */
    int frees;
    char rodata_perms[5];       /* /proc/self/maps of the loaded app's rodata */
};

static tern_result wrap_alloc(void *ctx, size_t size, void **out)
{
    struct wrap *w = ctx;
    if (w->alloc_result != TERN_OK)
        return w->alloc_result;
    return w->inner.ops->exec_alloc(w->inner.ctx, size, out);
}

static tern_result wrap_seal(void *ctx, void *ptr, size_t size)
{
    struct wrap *w = ctx;
    if (w->seal_result != TERN_OK)
        return w->seal_result;
    return w->inner.ops->exec_seal(w->inner.ctx, ptr, size);
}

static tern_result wrap_readonly(void *ctx, void *ptr, size_t size)
{
    struct wrap *w = ctx;
    if (w->readonly_result != TERN_OK)
        return w->readonly_result;
    return w->inner.ops->exec_readonly(w->inner.ctx, ptr, size);
}

static tern_result wrap_free(void *ctx, void *ptr, size_t size)
{
    struct wrap *w = ctx;
    w->frees++;
    return w->inner.ops->exec_free(w->inner.ctx, ptr, size);
}

static tern_result load_wrapped(struct fixture *fx, struct wrap *w, struct tern_load_error *err)
{
    w->inner = fx->os.plat;
    w->ops = *fx->os.plat.ops;
    w->ops.exec_alloc = w->ops.exec_alloc ? wrap_alloc : NULL;
    w->ops.exec_seal = w->ops.exec_seal ? wrap_seal : NULL;
    w->ops.exec_free = w->ops.exec_free ? wrap_free : NULL;
    w->ops.exec_readonly = w->no_readonly ? NULL : wrap_readonly;
    fx->os.plat = (struct tern_platform){ &w->ops, w };
    struct tern_app_image img;
    tern_result r = tern_app_load(&fx->os, fx->reloc.buf, fx->reloc.len, 1, 0, &img, err);
    if (r == TERN_OK) {
        mapping_perms(img.bias + LOAD(&fx->reloc, 2)->p_vaddr, w->rodata_perms);
        assert_int_equal(call_entry(&img, 0), APP_RELOC_RESULT);
        tern_app_unload(&fx->os, &img);
    }
    fx->os.plat = w->inner;
    return r;
}

static void test_platform_failures(void **state)
{
    struct fixture *fx = *state;
    struct tern_load_error err;
    struct wrap w = { .alloc_result = TERN_ENOMEM };
    assert_int_equal(load_wrapped(fx, &w, &err), TERN_ENOMEM);
    assert_non_null(strstr(err.reason, "exec_alloc of"));
    assert_int_equal(w.frees, 0);

    /* a seal that fails returns the memory */
    w = (struct wrap){ .seal_result = TERN_EINVAL };
    assert_int_equal(load_wrapped(fx, &w, &err), TERN_EINVAL);
    assert_string_equal(err.reason, "exec_seal failed: einval");
    assert_int_equal(w.frees, 1);

    /* an exec_readonly that fails returns the memory too */
    w = (struct wrap){ .readonly_result = TERN_EINVAL };
    assert_int_equal(load_wrapped(fx, &w, &err), TERN_EINVAL);
    assert_string_equal(err.reason, "exec_readonly failed: einval");
    assert_int_equal(w.frees, 1);

    /* without exec_readonly the app loads, its rodata stays rw- */
    w = (struct wrap){ .no_readonly = true };
    assert_int_equal(load_wrapped(fx, &w, &err), TERN_OK);
    assert_string_equal(w.rodata_perms, "rw-p");
    w = (struct wrap){ 0 };
    assert_int_equal(load_wrapped(fx, &w, &err), TERN_OK);
    assert_string_equal(w.rodata_perms, "r--p");
    assert_int_equal(w.frees, 1);

    /* no exec_* at all */
    struct tern_platform saved = fx->os.plat;
    struct tern_platform_ops ops = *saved.ops;
    ops.exec_seal = NULL;
    fx->os.plat.ops = &ops;
    struct tern_app_image img;
    assert_int_equal(tern_app_load(&fx->os, fx->reloc.buf, fx->reloc.len, 1, 0, &img, &err),
                     TERN_ENOTSUP);
    fx->os.plat = saved;
}

/* ---- refusals: one patched field each ---- */

/* True when both entry points refuse f with reason (printed otherwise). */
static bool refused_as(struct fixture *fx, const struct app_file *f, uint32_t major,
                       uint32_t minor, const char *reason)
{
    struct tern_app_image img;
    struct tern_load_error err, err2;
    tern_result r = tern_app_load(&fx->os, f->buf, f->len, major, minor, &img, &err);
    tern_result r2 = tern_app_check(f->buf, f->len, major, minor, NULL, &err2);
    if (r == TERN_OK)
        tern_app_unload(&fx->os, &img);
    if (r != TERN_EINVAL || strstr(err.reason, reason) == NULL || r2 != TERN_EINVAL ||
        strcmp(err.reason, err2.reason) != 0) {
        print_error("expected refusal \"%s\", got %s \"%s\" (check: %s \"%s\")\n", reason,
                    tern_result_name(r), err.reason, tern_result_name(r2), err2.reason);
        return false;
    }
    return true;
}

static void expect_refused(struct fixture *fx, const struct app_file *f, uint32_t major,
                           uint32_t minor, const char *reason)
{
    assert_true(refused_as(fx, f, major, minor, reason));
}

typedef void (*patch_fn)(struct app_file *f);


static void p_class32(struct app_file *f)   { f->buf[EI_CLASS] = ELFCLASS32; }
static void p_big_endian(struct app_file *f) { f->buf[EI_DATA] = ELFDATA2MSB; }
static void p_machine(struct app_file *f)   { app_ehdr(f)->e_machine = EM_386; }
static void p_et_exec(struct app_file *f)   { app_ehdr(f)->e_type = ET_EXEC; }
static void p_magic(struct app_file *f)     { f->buf[1] = 'e'; }
static void p_phentsize(struct app_file *f) { app_ehdr(f)->e_phentsize = 32; }
static void p_phnum(struct app_file *f)     { app_ehdr(f)->e_phnum = 0xffff; }
static void p_phoff(struct app_file *f)     { app_ehdr(f)->e_phoff = UINT64_MAX - 100; }
static void p_shoff(struct app_file *f)     { app_ehdr(f)->e_shoff = f->len - 64; }
static void p_interp(struct app_file *f)    { app_phdr_of(f, PT_GNU_STACK, 0)->p_type = PT_INTERP; }
static void p_tls(struct app_file *f)       { app_phdr_of(f, PT_GNU_STACK, 0)->p_type = PT_TLS; }
static void p_exec_stack(struct app_file *f) { app_phdr_of(f, PT_GNU_STACK, 0)->p_flags |= PF_X; }
static void p_needed(struct app_file *f)
{
    Elf64_Dyn *d = app_dyn(f, DT_RELACOUNT);    /* a tag the loader ignores ... */
    d->d_tag = DT_NEEDED;                       /* ... becomes DT_NEEDED */
    uint32_t idx;
    d->d_un.d_val = app_dynsym(f, "counter", &idx)->st_name; /* named "counter" */
}
static void p_textrel(struct app_file *f)   { app_dyn(f, DT_RELACOUNT)->d_tag = DT_TEXTREL; }
static void p_df_textrel(struct app_file *f)
{
    Elf64_Dyn *d = app_dyn(f, DT_RELACOUNT);
    d->d_tag = DT_FLAGS;
    d->d_un.d_val = DF_TEXTREL;
}
static void p_dt_rel(struct app_file *f)    { app_dyn(f, DT_RELACOUNT)->d_tag = DT_REL; }
static void p_relr(struct app_file *f)      { app_dyn(f, DT_RELACOUNT)->d_tag = DT_RELR; }
static void p_init(struct app_file *f)      { app_dyn(f, DT_RELACOUNT)->d_tag = DT_INIT; }
static void p_pltrel_rel(struct app_file *f)
{
    app_dyn(f, DT_RELACOUNT)->d_tag = DT_JMPREL;  /* a PLT table ... */
    Elf64_Dyn *d = app_dyn(f, DT_FLAGS_1);
    d->d_tag = DT_PLTREL;                         /* ... said to be DT_REL */
    d->d_un.d_val = DT_REL;
}
static void p_relaent(struct app_file *f)   { app_dyn(f, DT_RELAENT)->d_un.d_val = 16; }
static void p_relasz_odd(struct app_file *f) { app_dyn(f, DT_RELASZ)->d_un.d_val += 8; }
static void p_relasz_huge(struct app_file *f)
{
    app_dyn(f, DT_RELASZ)->d_un.d_val = UINT64_MAX / 24 * 24; /* multiple of 24, past the file */
}
static void p_rela_addr(struct app_file *f) { app_dyn(f, DT_RELA)->d_un.d_ptr = UINT64_MAX - 8; }
static void p_overlap(struct app_file *f)   { LOAD(f, 2)->p_vaddr = LOAD(f, 1)->p_vaddr; }
static void p_unsorted(struct app_file *f)  { LOAD(f, 2)->p_vaddr = 0; }
static void p_misaligned(struct app_file *f) { LOAD(f, 1)->p_vaddr += 0x10; }
static void p_align3(struct app_file *f)    { LOAD(f, 1)->p_align = 3; }
static void p_align_big(struct app_file *f) { LOAD(f, 1)->p_align = 1ull << 30; }
static void p_filesz(struct app_file *f)    { LOAD(f, 3)->p_memsz = LOAD(f, 3)->p_filesz - 1; }
static void p_offset_ovf(struct app_file *f) { LOAD(f, 3)->p_offset = UINT64_MAX - 0x10; }
static void p_filesz_ovf(struct app_file *f)
{
    LOAD(f, 3)->p_filesz = UINT64_MAX;          /* offset + filesz wraps */
    LOAD(f, 3)->p_memsz = UINT64_MAX;
}
static void p_memsz_ovf(struct app_file *f) { LOAD(f, 3)->p_memsz = UINT64_MAX - 0x1000; }
static void p_span(struct app_file *f)      { LOAD(f, 3)->p_memsz = 128u << 20; }
static void p_wx_segment(struct app_file *f) { LOAD(f, 1)->p_flags |= PF_W; }
static void p_two_text(struct app_file *f)  { LOAD(f, 2)->p_flags |= PF_X; }
static void p_no_text(struct app_file *f)   { LOAD(f, 1)->p_flags &= ~(uint32_t)PF_X; }
static void p_shared_page(struct app_file *f)
{
    LOAD(f, 2)->p_type = PT_NULL;               /* rodata's PT_LOAD gone, so ... */
    Elf64_Phdr *data = LOAD(f, 2);              /* ... data (was LOAD 3) moves onto text's
                                                 * page, still congruent to its offset */
    data->p_vaddr = LOAD(f, 1)->p_vaddr + data->p_offset % 0x1000;
}
static void p_entry(struct app_file *f)     { app_ehdr(f)->e_entry = 0; }
static void p_no_load(struct app_file *f)
{
    for (unsigned i = 0; i < app_ehdr(f)->e_phnum; i++)
        if (app_phdr(f, i)->p_type == PT_LOAD)
            app_phdr(f, i)->p_type = PT_NULL;
}
static void p_no_note(struct app_file *f)   { app_tern_note(f)[2] = 0x1234; /* type */ }
static void p_major2(struct app_file *f)    { app_tern_note(f)[5] = 2; /* desc.pal_major */ }
static void p_minor1(struct app_file *f)    { app_tern_note(f)[6] = 1; /* desc.pal_minor */ }
static void p_note_descsz(struct app_file *f) { app_tern_note(f)[1] = 4; /* descsz */ }
static void p_note_namesz(struct app_file *f) { app_tern_note(f)[0] = 0xffffffffu; }
static void p_reloc_text(struct app_file *f)
{
    size_t n;
    app_rela(f, &n)[0].r_offset = app_ehdr(f)->e_entry;   /* into .text */
}
static void p_reloc_rodata(struct app_file *f)
{
    size_t n;
    app_rela(f, &n)[0].r_offset = LOAD(f, 2)->p_vaddr;    /* into read-only data */
}
static void p_reloc_outside(struct app_file *f)
{
    size_t n;
    app_rela(f, &n)[0].r_offset = 0x10000000;             /* past every segment */
}
static void p_reloc_straddle(struct app_file *f)
{
    size_t n;
    app_rela(f, &n)[0].r_offset = LOAD(f, 3)->p_vaddr + LOAD(f, 3)->p_memsz - 4;
}
static void set_type(struct app_file *f, uint32_t type)
{
    size_t n;
    Elf64_Rela *r = app_rela(f, &n);
    r[0].r_info = ELF64_R_INFO(ELF64_R_SYM(r[0].r_info), type);
}
static void p_copy(struct app_file *f)      { set_type(f, R_X86_64_COPY); }
static void p_irelative(struct app_file *f) { set_type(f, R_X86_64_IRELATIVE); }
static void p_tpoff(struct app_file *f)     { set_type(f, R_X86_64_TPOFF64); }
static void p_dtpmod(struct app_file *f)    { set_type(f, R_X86_64_DTPMOD64); }
static void p_dtpoff(struct app_file *f)    { set_type(f, R_X86_64_DTPOFF64); }
static void p_tlsdesc(struct app_file *f)   { set_type(f, R_X86_64_TLSDESC); }
static void p_pc32(struct app_file *f)      { set_type(f, R_X86_64_PC32); }
static void p_undefined(struct app_file *f)
{
    uint32_t idx;
    Elf64_Sym *s = app_dynsym(f, "counter", &idx);
    s->st_shndx = SHN_UNDEF;                    /* "counter" undefined ... */
    Elf64_Rela *r = app_rela_to(f, s->st_value);
    r->r_info = ELF64_R_INFO(idx, R_X86_64_GLOB_DAT); /* ... and needed */
    r->r_addend = 0;
}
static void p_sym_index(struct app_file *f)
{
    size_t n;
    app_rela(f, &n)[0].r_info = ELF64_R_INFO(0xffffffffu, R_X86_64_64);
}
static void p_sym_outside(struct app_file *f)
{
    uint32_t idx;
    Elf64_Sym *s = app_dynsym(f, "counter", &idx);
    Elf64_Rela *r = app_rela_to(f, s->st_value);
    r->r_info = ELF64_R_INFO(idx, R_X86_64_64);
    s->st_value = 0x7000000000;                 /* far past the image */
}
static void p_sym_ifunc(struct app_file *f)
{
    uint32_t idx;
    Elf64_Sym *s = app_dynsym(f, "counter", &idx);
    Elf64_Rela *r = app_rela_to(f, s->st_value);
    r->r_info = ELF64_R_INFO(idx, R_X86_64_GLOB_DAT);
    s->st_info = ELF64_ST_INFO(STB_GLOBAL, STT_GNU_IFUNC);
}

static const struct refusal {
    patch_fn patch;
    uint32_t major, minor;      /* the OS's PAL ABI */
    const char *reason;
} refusals[] = {
    { p_magic, 1, 0, "not an ELF file (bad magic)" },
    { p_class32, 1, 0, "ELF class 1: apps are ELF64" },
    { p_big_endian, 1, 0, "ELF data encoding 2: apps are little-endian" },
    { p_machine, 1, 0, "machine 3: apps are x86-64 (EM_X86_64)" },
    { p_et_exec, 1, 0, "ET_EXEC: apps are position-independent executables (ET_DYN)" },
    { p_phentsize, 1, 0, "program header size 32 (expected 56)" },
    { p_phnum, 1, 0, "65535 program headers (at most 64)" },
    { p_phoff, 1, 0, "program headers outside the file" },
    { p_shoff, 1, 0, "section headers outside the file (truncated?)" },
    { p_interp, 1, 0, "PT_INTERP present: apps are static PIEs with no interpreter" },
    { p_tls, 1, 0, "PT_TLS present: apps may not use thread-local storage" },
    { p_exec_stack, 1, 0, "PT_GNU_STACK asks for an executable stack" },
    { p_needed, 1, 0, "DT_NEEDED counter: apps link no shared libraries" },
    { p_textrel, 1, 0, "DT_TEXTREL present: text relocations are refused" },
    { p_df_textrel, 1, 0, "DF_TEXTREL set: text relocations are refused" },
    { p_dt_rel, 1, 0, "DT_REL relocations (no addends) are not supported" },
    { p_relr, 1, 0, "DT_RELR (packed relative relocations) not supported" },
    { p_init, 1, 0, "DT_INIT present: the loader runs no initialisers" },
    { p_pltrel_rel, 1, 0, "DT_PLTREL is not DT_RELA" },
    { p_relaent, 1, 0, "DT_RELAENT 16 (expected 24)" },
    { p_relasz_odd, 1, 0, "DT_RELA size 200 is not a multiple of 24" },
    { p_relasz_huge, 1, 0, "DT_RELA table outside the file's loaded bytes" },
    { p_rela_addr, 1, 0, "DT_RELA table outside the file's loaded bytes" },
    { p_overlap, 1, 0, "PT_LOAD overlaps the previous one" },
    { p_unsorted, 1, 0, "PT_LOADs not sorted by p_vaddr" },
    { p_misaligned, 1, 0, "p_offset and p_vaddr not congruent modulo p_align" },
    { p_align3, 1, 0, "p_align 0x3 is not a power of two from 4 KiB to 2 MiB" },
    { p_align_big, 1, 0, "p_align 0x40000000 is not a power of two from 4 KiB to 2 MiB" },
    { p_filesz, 1, 0, "p_filesz > p_memsz" },
    { p_offset_ovf, 1, 0, "file range outside the file" },
    { p_filesz_ovf, 1, 0, "file range outside the file" },
    { p_memsz_ovf, 1, 0, "p_vaddr + p_memsz overflows" },
    { p_span, 1, 0, "image needs more than the 64 MiB limit" },
    { p_wx_segment, 1, 0, "PT_LOAD both writable and executable" },
    { p_two_text, 1, 0, "more than one executable PT_LOAD" },
    { p_no_text, 1, 0, "no executable PT_LOAD" },
    { p_no_load, 1, 0, "no PT_LOAD segment" },
    { p_shared_page, 1, 0, "the executable PT_LOAD shares a page with a writable one" },
    { p_entry, 1, 0, "entry point 0x0 outside the executable segment's bytes" },
    { p_no_note, 1, 0, "no Tern ABI note" },
    { p_major2, 1, 0, "built for PAL 2.x, this OS has 1.0" },
    { p_minor1, 1, 0, "built for PAL 1.1, newer than this OS's 1.0" },
    { p_minor1, 2, 5, "built for PAL 1.x, this OS has 2.5" },
    { p_note_descsz, 1, 0, "Tern ABI note has descsz 4 (expected 8)" },
    { p_note_namesz, 1, 0, "note runs past the PT_NOTE" },
    { p_reloc_text, 1, 0, "targets the executable segment (a text relocation)" },
    { p_reloc_rodata, 1, 0, "targets a read-only segment (a text relocation)" },
    { p_reloc_outside, 1, 0, "relocation at 0x10000000 outside the image's writable segments" },
    { p_reloc_straddle, 1, 0, "outside the image's writable segments" },
    { p_copy, 1, 0, "relocation R_X86_64_COPY at" },
    { p_irelative, 1, 0, "relocation R_X86_64_IRELATIVE at" },
    { p_tpoff, 1, 0, "relocation R_X86_64_TPOFF64 (TLS) at" },
    { p_dtpmod, 1, 0, "relocation R_X86_64_DTPMOD64 (TLS) at" },
    { p_dtpoff, 1, 0, "relocation R_X86_64_DTPOFF64 (TLS) at" },
    { p_tlsdesc, 1, 0, "relocation R_X86_64_TLSDESC (TLS) at" },
    { p_pc32, 1, 0, "relocation type 2 at" },
    { p_undefined, 1, 0, "undefined symbol 'counter'" },
    { p_sym_index, 1, 0, "symbol index 4294967295 outside the symbol table" },
    { p_sym_outside, 1, 0, "symbol 'counter' outside the image" },
    { p_sym_ifunc, 1, 0, "symbol 'counter' is an IFUNC" },
};

static void test_layout_assumed(void **state)
{
    struct fixture *fx = *state;
    const uint32_t flags[4] = { PF_R, PF_R | PF_X, PF_R, PF_R | PF_W };
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(LOAD(&fx->reloc, i)->p_flags, flags[i]);
    /* p_shared_page moves data onto text's page, after the text */
    assert_int_equal(LOAD(&fx->reloc, 1)->p_vaddr % 0x1000, 0);
    assert_true(LOAD(&fx->reloc, 1)->p_memsz < LOAD(&fx->reloc, 3)->p_offset % 0x1000);
    assert_int_equal(app_dyn(&fx->reloc, DT_RELASZ)->d_un.d_val, 192); /* 8 relocations */
}

static void test_refusals(void **state)
{
    struct fixture *fx = *state;
    unsigned failed = 0;
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        struct app_file f = app_copy(&fx->reloc);
        refusals[i].patch(&f);
        if (!refused_as(fx, &f, refusals[i].major, refusals[i].minor, refusals[i].reason))
            failed++;
        app_free(&f);
    }
    assert_int_equal(failed, 0);
}

/* An empty PT_LOAD (ld.bfd emits one for an empty .eh_frame) is skipped. */
static void test_empty_load_skipped(void **state)
{
    struct fixture *fx = *state;
    struct app_file f = app_copy(&fx->reloc);
    Elf64_Phdr *text = LOAD(&f, 1);
    Elf64_Phdr *extra = app_phdr_of(&f, PT_GNU_STACK, 0);
    extra->p_type = PT_LOAD;                    /* the stack header becomes a PT_LOAD ... */
    extra->p_flags = PF_R;
    extra->p_offset = text->p_offset;           /* ... inside text's range ... */
    extra->p_vaddr = text->p_vaddr;
    extra->p_filesz = extra->p_memsz = 0;       /* ... and empty */
    extra->p_align = 0x1000;
    struct tern_load_error err;
    tern_result r = tern_app_check(f.buf, f.len, 1, 0, NULL, &err);
    if (r != TERN_OK)
        fail_msg("refused: %s", err.reason);
    struct tern_app_image img;
    assert_int_equal(tern_app_load(&fx->os, f.buf, f.len, 1, 0, &img, &err), TERN_OK);
    assert_int_equal(call_entry(&img, 0), APP_RELOC_RESULT);
    tern_app_unload(&fx->os, &img);
    app_free(&f);
}

static void test_real_tls_app_refused(void **state)
{
    struct fixture *fx = *state;
    expect_refused(fx, &fx->tls, 1, 0, "PT_TLS present");
}

static void test_refusal_is_logged(void **state)
{
    struct fixture *fx = *state;
    struct app_file f = app_copy(&fx->reloc);
    p_interp(&f);
    expect_refused(fx, &f, 1, 0, "PT_INTERP");
    app_free(&f);
    uint64_t cursor = 0;
    char line[TERN_LOG_LINE_MAX];
    enum tern_log_level level;
    uint64_t missed;
    bool seen = false;
    while (tern_log_ring_read(&fx->os.log, &cursor, line, sizeof line, &level, &missed) == TERN_OK)
        if (strstr(line, "app refused (einval): PT_INTERP present") != NULL)
            seen = level == TERN_LOG_WARN;
    assert_true(seen);
}

/* Every prefix of a real app is refused (an exact-size copy each, so a
 * read past the end shows under ASan), by both entry points. */
static void refuse_every_prefix(struct fixture *fx, const struct app_file *app)
{
    for (size_t n = 0; n < app->len; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        assert_non_null(cut);
        memcpy(cut, app->buf, n);
        struct tern_load_error err;
        struct tern_app_image img;
        tern_result r = tern_app_load(&fx->os, cut, n, 1, 0, &img, &err);
        if (r != TERN_EINVAL || err.reason[0] == '\0')
            fail_msg("cut at %zu: %s \"%s\"", n, tern_result_name(r), err.reason);
        assert_int_equal(tern_app_check(cut, n, 1, 0, NULL, &err), TERN_EINVAL);
        free(cut);
    }
}

static void test_truncated_at_every_offset(void **state)
{
    struct fixture *fx = *state;
    refuse_every_prefix(fx, &fx->reloc);
    refuse_every_prefix(fx, &fx->packed);
    if (app_paths[5][0] != '\0') {
        struct app_file lld = app_read(app_paths[5]);
        refuse_every_prefix(fx, &lld);
        app_free(&lld);
    }
}

int main(int argc, char **argv)
{
    if (argc != APP_COUNT + 1) {
        fprintf(stderr, "usage: %s app_reloc.elf app_wx.elf app_tls.elf app_reloc_packed.elf "
                "SEED LLD\n", argv[0]);
        return 2;
    }
    for (int i = 0; i < APP_COUNT; i++)
        app_paths[i] = argv[i + 1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_runs_relocated_app),
        cmocka_unit_test(test_packed_layout_runs),
        cmocka_unit_test(test_lld_layout_runs),
        cmocka_unit_test(test_accepts_older_minor),
        cmocka_unit_test(test_symbolic_relocations),
        cmocka_unit_test(test_wx_faults),
        cmocka_unit_test(test_platform_failures),
        cmocka_unit_test(test_layout_assumed),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_empty_load_skipped),
        cmocka_unit_test(test_real_tls_app_refused),
        cmocka_unit_test(test_refusal_is_logged),
        cmocka_unit_test(test_truncated_at_every_offset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
