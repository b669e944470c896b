/*
 * libFuzzer harness for the metal command-line parser: any bytes, any
 * length; the parser must not crash, overread or hang, and its result
 * must stay within the documented ranges.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cmdline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tern_metal_cmdline c;
    tern_metal_cmdline_parse(&c, (const char *)data, size);
    if (c.halt_set && c.halt_code > 127)
        abort();
    if (c.ip != 0 && (c.mask == 0 || (uint32_t)(~c.mask & (~c.mask + 1)) != 0))
        abort();
    if (c.delay_ms > 600000 || c.fault > TERN_METAL_FAULT_SPIN || c.ignored > size)
        abort();
    return 0;
}
