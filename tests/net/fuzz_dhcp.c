/* libFuzzer harness for the DHCP message parser: any input is refused
 * or parsed without reading outside it; a parsed message is consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tern/dhcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a heap copy of exactly size bytes, so ASan catches any overread */
    uint8_t *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    struct tern_dhcp_msg m;
    const char *why = NULL;
    tern_result r = tern_dhcp_parse(copy, size, &m, &why);
    if (r == TERN_OK) {
        if (m.dns_count > TERN_DHCP_MAX_DNS || m.route_count > TERN_DHCP_MAX_ROUTES ||
            strlen(m.domain) >= sizeof(m.domain) || m.type == 0)
            abort();
    } else if (r != TERN_EPROTO || why == NULL) {
        abort();
    }
    free(copy);
    return 0;
}
