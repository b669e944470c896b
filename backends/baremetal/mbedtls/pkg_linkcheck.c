/*
 * Interface: a link check for core/pkg on metal, built (never run) on
 * every cross build: it references the package API, so the parser, the
 * verifier and what they need from the metal mbedTLS (SHA-256, ECP,
 * ECDSA, PK and PEM parsing) and libc must resolve. Wiring packages into
 * the boot is another step; until then nothing in the kernel calls them.
 */
#include <stddef.h>
#include <stdint.h>

#include "tern/manifest.h"
#include "tern/pkg.h"

int tern_pkg_linkcheck(const uint8_t *data, size_t len);

int tern_pkg_linkcheck(const uint8_t *data, size_t len)
{
    struct tern_pkg pkg;
    struct tern_pkg_error err;
    struct tern_pkg_key key;
    struct tern_pkg_file f;
    struct tern_manifest m;
    tern_result r = tern_pkg_key_parse(&key, data, len, &err);
    if (r == TERN_OK)
        r = tern_pkg_parse(&pkg, data, len, &err);
    struct tern_pkg_trust trust = { &key, 1, 0, 1, 0, false };
    if (r == TERN_OK)
        r = tern_pkg_verify(&pkg, &trust, &err);
    if (r == TERN_OK)
        r = tern_pkg_find(&pkg, TERN_PKG_MANIFEST_NAME, &f);
    if (r == TERN_OK) {
        tern_manifest_default(&m);
        r = tern_pkg_check_manifest(&pkg, &m, &err);
    }
    return (int)r + (int)err.reason;
}
