/* libFuzzer harness for the DNS response parser (question
 * www.example.test): any input is refused or parsed without reading
 * outside it, and a parsed answer is consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tern/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1); /* exact size: ASan sees overreads */
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    struct tern_dns_answer a;
    const char *why = NULL;
    tern_result r = tern_dns_parse(copy, size, "www.example.test", &a, &why);
    if (r == TERN_OK) {
        if (a.addr_count > TERN_DNS_MAX_ADDRS || strlen(a.final_name) >= TERN_DNS_NAME_MAX)
            abort();
    } else if (r != TERN_EPROTO || why == NULL) {
        abort();
    }
    free(copy);
    return 0;
}
