/* Interface: see pkg_testlib.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pkg_sign.h"
#include "pkg_testlib.h"

char last_detail[160];

static const uint8_t app_bytes[] = "\x7f" "ELF not really: the parser never reads apps";
static const char manifest_text[] =
    "{\n  \"tern_manifest\": 1,\n  \"name\": \"kat\",\n  \"version\": \"1.2.3+4\",\n"
    "  \"app\": { \"path\": \"app.elf\" }\n}\n";
static const char index_text[] = "<p>hello</p>\n";

const struct pkgw_file base_files[BASE_FILES] = {
    { "app.elf", app_bytes, sizeof(app_bytes) - 1 },
    { "manifest.json", (const uint8_t *)manifest_text, sizeof(manifest_text) - 1 },
    { "www/index.html", (const uint8_t *)index_text, sizeof(index_text) - 1 },
};
const struct pkgw_params base_params = { { 1, 2, 3, 4 }, 1, 0, 7, NULL, 0 };

struct buf fixture(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", FIXTURES_DIR, rel);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    struct buf b = { NULL, 0 };
    size_t cap = 0;
    for (;;) {
        if (b.n == cap) {
            cap = cap ? cap * 2 : 4096;
            b.p = realloc(b.p, cap);
            assert_non_null(b.p);
        }
        size_t k = fread(b.p + b.n, 1, cap - b.n, f);
        if (k == 0)
            break;
        b.n += k;
    }
    fclose(f);
    return b;
}

struct buf make_pkg(const struct pkgw_file *files, size_t n, const struct pkgw_params *p)
{
    struct buf b;
    assert_int_equal(pkgw_build(files, n, p != NULL ? p : &base_params, &b.p, &b.n), 0);
    return b;
}

struct buf make_base(void)
{
    return make_pkg(base_files, BASE_FILES, NULL);
}

struct buf sign_with(struct buf pkg, const char *which)
{
    char rel[128];
    snprintf(rel, sizeof(rel), "pkg/keys/test-only-%s-key.pem", which);
    struct buf text = fixture(rel);
    mbedtls_pk_context pk;
    struct pkgs_rng rng;
    char why[200];
    struct buf out;
    assert_int_equal(pkgs_private_key(&pk, text.p, text.n, why, sizeof(why)), 0);
    assert_int_equal(pkgs_rng_init(&rng), 0);
    if (pkgs_sign_package(pkg.p, pkg.n, &pk, &rng, &out.p, &out.n, why, sizeof(why)) != 0)
        fail_msg("signing: %s", why);
    pkgs_rng_free(&rng);
    mbedtls_pk_free(&pk);
    free(text.p);
    return out;
}

struct tern_pkg_key trusted(const char *which)
{
    char rel[128];
    snprintf(rel, sizeof(rel), "pkg/keys/test-only-%s-key.pub.pem", which);
    struct buf text = fixture(rel);
    struct tern_pkg_key key;
    struct tern_pkg_error err;
    assert_int_equal(tern_pkg_key_parse(&key, text.p, text.n, &err), TERN_OK);
    free(text.p);
    return key;
}

struct buf with_unprotected(struct buf pkg, const uint8_t *records, size_t n)
{
    uint64_t signed_len = pkgw_signed_len(pkg.p, pkg.n);
    struct buf b = { malloc(signed_len + 8 + n), signed_len + 8 + n };
    assert_non_null(b.p);
    memcpy(b.p, pkg.p, signed_len);
    memcpy(b.p + signed_len, TERN_PKG_UNPROT_MAGIC, 4);
    put_le32(b.p + signed_len + 4, (uint32_t)n);
    memcpy(b.p + signed_len + 8, records, n);
    return b;
}

struct buf rehash(struct buf pkg)
{
    struct buf b;
    assert_int_equal(pkgw_finish(pkg.p, pkgw_signed_len(pkg.p, pkg.n), NULL, NULL, 0, &b.p, &b.n),
                     0);
    return b;
}

enum tern_pkg_reason parse_reason(const uint8_t *p, size_t n)
{
    struct tern_pkg pkg;
    struct tern_pkg_error err;
    tern_result r = tern_pkg_parse(&pkg, p, n, &err);
    snprintf(last_detail, sizeof(last_detail), "%s", err.detail);
    if (r == TERN_OK) {
        assert_int_equal(err.reason, TERN_PKG_R_OK);
        return TERN_PKG_R_OK;
    }
    assert_int_equal(r, TERN_EINVAL);
    assert_int_not_equal(err.reason, TERN_PKG_R_OK);
    assert_true(err.detail[0] != '\0');
    return err.reason;
}

enum tern_pkg_reason verify_reason(const uint8_t *p, size_t n, const struct tern_pkg_trust *trust)
{
    struct tern_pkg pkg;
    struct tern_pkg_error err;
    tern_result r = tern_pkg_parse(&pkg, p, n, &err);
    if (r == TERN_OK)
        r = tern_pkg_verify(&pkg, trust, &err);
    snprintf(last_detail, sizeof(last_detail), "%s", err.detail);
    if (r == TERN_OK)
        return TERN_PKG_R_OK;
    assert_int_equal(r, TERN_EINVAL);
    assert_int_not_equal(err.reason, TERN_PKG_R_OK);
    return err.reason;
}

void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
