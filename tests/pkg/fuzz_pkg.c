/* libFuzzer harness for core/pkg: any bytes as a package. No crash, no
 * read past the input (libFuzzer's buffer is exact-size under ASan), and
 * invariants on what is accepted: every file lies inside the package, has
 * a valid name, and is found by its name. When the only fault is a hash,
 * the harness writes the right hashes and the package must then be
 * accepted; that reaches the verifier (the seeds carry the test key's
 * id, so signatures get parsed and checked) and the manifest check. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mbedtls/sha256.h"

#include "tern/manifest.h"
#include "tern/pkg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fixtures/pkg/keys/test-only-signing-key.pub.pem (a test-only key). */
static const char test_key[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEzOvgmJuR1GoPlGtb3uOUSL2HIfTD\n"
    "jiFIwyCAsliuXSVglM2QKfg+zE0JFeThj3jvDV82LiFfMm0g8+QEPuSpfw==\n"
    "-----END PUBLIC KEY-----\n";

static uint64_t rd(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void check_accepted(const struct tern_pkg *pkg, size_t size)
{
    if (pkg->signed_len > size || pkg->file_count == 0 || pkg->file_count > TERN_PKG_MAX_FILES)
        abort();
    for (uint32_t i = 0; i < pkg->file_count; i++) {
        struct tern_pkg_file f, g;
        if (tern_pkg_file_at(pkg, i, &f) != TERN_OK || !tern_pkg_path_ok(f.name, f.name_len) ||
            f.data < pkg->data + pkg->payload_off ||
            f.data + f.size > pkg->data + pkg->payload_off + pkg->payload_size ||
            tern_pkg_find(pkg, f.name, &g) != TERN_OK || g.index != i)
            abort();
    }
    struct tern_pkg_file m;
    if (tern_pkg_find(pkg, TERN_PKG_MANIFEST_NAME, &m) != TERN_OK)
        abort();
    if (pkg->is_signed && (pkg->sig_off + pkg->sig_len > size || pkg->sig_len > TERN_PKG_SIG_MAX))
        abort();
}

static void verify(const struct tern_pkg *pkg)
{
    static struct tern_pkg_key key;         /* read once: the same for every input */
    static bool have_key;
    struct tern_pkg_error err;
    if (!have_key && tern_pkg_key_parse(&key, test_key, sizeof(test_key) - 1, &err) != TERN_OK)
        abort();
    have_key = true;
    struct tern_pkg_trust t = { &key, 1, 3, 1, 0, true };
    tern_result r = tern_pkg_verify(pkg, &t, &err);
    if (r != TERN_OK && (r != TERN_EINVAL || err.reason == TERN_PKG_R_OK))
        abort();
    static struct tern_manifest m;
    tern_manifest_default(&m);
    (void)tern_pkg_check_manifest(pkg, &m, &err);
}

/* Writes every FILE_SHA256 and the IMAGE_SHA256 of a package whose
 * structure the parser accepted (it refused only a hash). */
static void fix_hashes(uint8_t *p)
{
    uint64_t hs = rd(p + 8, 2), n = rd(p + 12, 4), payload = rd(p + 16, 8), prot = rd(p + 24, 4);
    uint64_t payload_off = hs + n * TERN_PKG_ENTRY_SIZE, signed_len = payload_off + payload + prot;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *e = p + hs + i * TERN_PKG_ENTRY_SIZE;
        (void)mbedtls_sha256_ret(p + payload_off + rd(e, 8), rd(e + 8, 8),
                                 p + payload_off + payload + i * 40 + 8, 0);
    }
    (void)mbedtls_sha256_ret(p, signed_len, p + signed_len + 8 + 4, 0);
}

/* The boot's one-pass parse gives the full parse's answer (result,
 * reason, detail), except that it may accept a file-hash refusal (a
 * FILE_SHA256 record wrong under a matching image hash). */
static void same_as_image_parse(const uint8_t *data, size_t size, tern_result r,
                                const struct tern_pkg_error *err)
{
    struct tern_pkg pkg;
    struct tern_pkg_error e;
    tern_result ri = tern_pkg_parse_image(&pkg, data, size, &e);
    if (ri == TERN_OK && r != TERN_OK && err->reason == TERN_PKG_R_FILE_HASH)
        return;
    if (ri != r || (r != TERN_OK && (e.reason != err->reason || strcmp(e.detail, err->detail))))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tern_pkg pkg;
    struct tern_pkg_error err;
    tern_result r = tern_pkg_parse(&pkg, data, size, &err);
    same_as_image_parse(data, size, r, &err);
    if (r == TERN_OK) {
        check_accepted(&pkg, size);
        verify(&pkg);
        return 0;
    }
    if (r != TERN_EINVAL || err.reason == TERN_PKG_R_OK || err.detail[0] == '\0' ||
        memchr(err.detail, '\0', sizeof(err.detail)) == NULL)
        abort();
    if (err.reason != TERN_PKG_R_FILE_HASH && err.reason != TERN_PKG_R_IMAGE_HASH)
        return 0;
    uint8_t *copy = malloc(size);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    fix_hashes(copy);
    if (tern_pkg_parse(&pkg, copy, size, &err) != TERN_OK)
        abort();                             /* only the hashes were wrong */
    check_accepted(&pkg, size);
    verify(&pkg);
    free(copy);
    return 0;
}
