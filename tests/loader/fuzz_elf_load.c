/*
 * libFuzzer harness: the app loader on arbitrary files. Each input goes
 * through tern_app_check() and tern_app_load() on the Linux backend's real
 * exec_alloc/exec_seal; a loaded image is unloaded again (never run). The
 * seed corpus (fixtures/fuzz/elf_load/) is a real built test app.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linux.h"
#include "tern/loader.h"
#include "tern/os.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct harness {
    struct linux_backend backend;
    struct tern_platform plat;
    struct tern_os os;
};

/* One instance for the whole run (libFuzzer calls in one process). */
static struct harness *instance(void)
{
    static struct harness *h;
    if (h != NULL)
        return h;
    h = calloc(1, sizeof *h);
    if (h == NULL || linux_backend_init(&h->backend, 4) != 0)
        abort();
    h->plat = linux_platform(&h->backend);
    struct tern_config cfg;
    tern_config_default(&cfg);
    cfg.console_level = TERN_LOG_OFF;
    if (tern_os_init(&h->os, &h->plat, &cfg) != TERN_OK)
        abort();
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct harness *h = instance();
    struct tern_load_error err;
    struct tern_note_abi abi;
    tern_result checked = tern_app_check(data, size, 1, 0, &abi, &err);
    if (checked != TERN_OK && (checked != TERN_EINVAL || err.reason[0] == '\0'))
        abort(); /* a refusal always says why */
    struct tern_app_image img;
    tern_result loaded = tern_app_load(&h->os, data, size, 1, 0, &img, &err);
    if ((loaded == TERN_OK) != (checked == TERN_OK) && loaded != TERN_ENOMEM)
        abort(); /* check and load agree */
    if (loaded == TERN_OK) {
        if (img.entry < img.text_lo || img.entry >= img.text_hi)
            abort();
        tern_app_unload(&h->os, &img);
    }
    return 0;
}
