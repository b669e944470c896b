/*
 * core/pkg's verifier and what surrounds it (docs/packages.md): trusted
 * keys, each verification refusal (unsigned, another key, a flipped
 * signature, a forged key id, the counter, the PAL ABI), development
 * mode, and the tie between a package and its manifest.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tern/manifest.h"
#include "tern/pkg.h"

#include "pkg_testlib.h"

static struct tern_pkg_trust trust_of(const struct tern_pkg_key *keys, size_t n)
{
    struct tern_pkg_trust t = { keys, n, 0, 1, 0, false };
    return t;
}

/* ---- keys ---- */

static void test_key_parse(void **state)
{
    (void)state;
    struct buf pem = fixture("pkg/keys/test-only-signing-key.pub.pem");
    struct buf der = fixture("pkg/keys/test-only-signing-key.pub.der");
    struct tern_pkg_key a, b, c;
    struct tern_pkg_error err;
    assert_int_equal(tern_pkg_key_parse(&a, pem.p, pem.n, &err), TERN_OK);   /* no NUL */
    uint8_t *nul = malloc(pem.n + 1);
    memcpy(nul, pem.p, pem.n);
    nul[pem.n] = '\0';
    assert_int_equal(tern_pkg_key_parse(&b, nul, pem.n + 1, &err), TERN_OK);
    assert_int_equal(tern_pkg_key_parse(&c, der.p, der.n, &err), TERN_OK);
    assert_memory_equal(&a, &b, sizeof(a));
    assert_memory_equal(&a, &c, sizeof(a));
    /* The key id is the SHA-256 of the DER openssl writes (README). */
    static const uint8_t id[32] = {
        0x80, 0x08, 0xd4, 0x89, 0x24, 0xe4, 0xf4, 0xbc, 0x80, 0x51, 0x9e, 0xd6, 0x2d, 0xac, 0x3f, 0xa6,
        0x9f, 0x8b, 0xa4, 0xd0, 0xa0, 0xbe, 0x01, 0x61, 0x59, 0xfb, 0x6e, 0x98, 0x08, 0x3b, 0x86, 0x51,
    };
    assert_memory_equal(a.id, id, 32);
    assert_memory_equal(a.point, der.p + TERN_PKG_SPKI_PREFIX_LEN, TERN_PKG_POINT_LEN);
    uint8_t again[32];
    tern_pkg_key_id(a.point, again);
    assert_memory_equal(again, id, 32);
    free(nul);
    free(pem.p);
    free(der.p);
}

static void test_key_refused(void **state)
{
    (void)state;
    static const char *const files[] = {
        "pkg/keys/test-only-p384.pub.pem", "pkg/keys/test-only-rsa.pub.pem",
        "pkg/keys/test-only-signing-key.pem", "tls/test-ec-cert.pem", "pkg/kat/manifest.json",
    };
    struct tern_pkg_key k;
    struct tern_pkg_error err;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct buf b = fixture(files[i]);
        if (tern_pkg_key_parse(&k, b.p, b.n, &err) != TERN_EINVAL ||
            err.reason != TERN_PKG_R_BAD_KEY)
            fail_msg("%s: not refused as bad-key", files[i]);
        free(b.p);
    }
    /* Cut DER, a flipped point (off the curve), empty, oversized. */
    struct buf der = fixture("pkg/keys/test-only-signing-key.pub.der");
    assert_int_equal(tern_pkg_key_parse(&k, der.p, der.n - 1, &err), TERN_EINVAL);
    der.p[der.n - 1] ^= 1;
    assert_int_equal(tern_pkg_key_parse(&k, der.p, der.n, &err), TERN_EINVAL);
    assert_int_equal(err.reason, TERN_PKG_R_BAD_KEY);
    assert_int_equal(tern_pkg_key_parse(&k, der.p, 0, &err), TERN_EINVAL);
    assert_int_equal(tern_pkg_key_parse(&k, NULL, 0, &err), TERN_EINVAL);
    uint8_t big[2048];
    memset(big, '-', sizeof(big));
    assert_int_equal(tern_pkg_key_parse(&k, big, sizeof(big), &err), TERN_EINVAL);
    free(der.p);
}

/* ---- verification ---- */

static void test_verify_kat(void **state)
{
    (void)state;
    struct buf b = fixture("pkg/kat/kat.tpk");
    struct tern_pkg_key keys[2] = { trusted("other"), trusted("signing") };
    struct tern_pkg_trust t = trust_of(keys, 2);
    assert_reason(verify_reason(b.p, b.n, &t), TERN_PKG_R_OK);
    t = trust_of(keys + 1, 1);
    assert_reason(verify_reason(b.p, b.n, &t), TERN_PKG_R_OK);
    t = trust_of(keys, 1);                      /* only the other key */
    assert_reason(verify_reason(b.p, b.n, &t), TERN_PKG_R_UNKNOWN_KEY);
    t = trust_of(NULL, 0);
    assert_reason(verify_reason(b.p, b.n, &t), TERN_PKG_R_UNKNOWN_KEY);
    free(b.p);
}

static void test_unsigned(void **state)
{
    (void)state;
    struct buf u = make_base();
    struct tern_pkg_key key = trusted("signing");
    struct tern_pkg_trust t = trust_of(&key, 1);
    assert_reason(verify_reason(u.p, u.n, &t), TERN_PKG_R_UNSIGNED);
    t.allow_unsigned = true;                    /* development mode */
    assert_reason(verify_reason(u.p, u.n, &t), TERN_PKG_R_OK);
    /* ... which still checks a signature that is there, and the rest. */
    struct buf s = sign_with(u, "other");
    assert_reason(verify_reason(s.p, s.n, &t), TERN_PKG_R_UNKNOWN_KEY);
    t.min_counter = 8;
    assert_reason(verify_reason(u.p, u.n, &t), TERN_PKG_R_COUNTER_TOO_OLD);
    free(s.p);
    free(u.p);
}

/* Signed by the other key: unknown unless trusted; trusted, fine. */
static void test_other_key(void **state)
{
    (void)state;
    struct buf u = make_base();
    struct buf s = sign_with(u, "other");
    struct tern_pkg_key keys[2] = { trusted("signing"), trusted("other") };
    struct tern_pkg_trust t = trust_of(keys, 1);
    assert_reason(verify_reason(s.p, s.n, &t), TERN_PKG_R_UNKNOWN_KEY);
    t = trust_of(keys, 2);
    assert_reason(verify_reason(s.p, s.n, &t), TERN_PKG_R_OK);
    free(s.p);
    free(u.p);
}

/* The other key's signature under the signing key's id: the key id only
 * picks the key, the signature must still verify with it. */
static void test_forged_key_id(void **state)
{
    (void)state;
    struct buf u = make_base();
    struct buf s = sign_with(u, "other");
    struct tern_pkg_key key = trusted("signing");
    struct tern_pkg pkg;
    struct tern_pkg_error err;
    assert_int_equal(tern_pkg_parse(&pkg, s.p, s.n, &err), TERN_OK);
    memcpy(s.p + pkg.signed_len + 8 + 36 + 4, key.id, 32);
    struct tern_pkg_trust t = trust_of(&key, 1);
    assert_reason(verify_reason(s.p, s.n, &t), TERN_PKG_R_BAD_SIGNATURE);
    free(s.p);
    free(u.p);
}

/* Every bit of the signature flipped, one at a time. */
static void test_signature_flipped(void **state)
{
    (void)state;
    struct buf u = make_base();
    struct buf s = sign_with(u, "signing");
    struct tern_pkg_key key = trusted("signing");
    struct tern_pkg_trust t = trust_of(&key, 1);
    struct tern_pkg pkg;
    struct tern_pkg_error err;
    assert_int_equal(tern_pkg_parse(&pkg, s.p, s.n, &err), TERN_OK);
    assert_reason(verify_reason(s.p, s.n, &t), TERN_PKG_R_OK);
    for (size_t i = 0; i < pkg.sig_len * 8; i++) {
        s.p[pkg.sig_off + i / 8] ^= (uint8_t)(1u << (i % 8));
        enum tern_pkg_reason r = verify_reason(s.p, s.n, &t);
        if (r != TERN_PKG_R_BAD_SIGNATURE)
            fail_msg("bit %zu of the signature: %s (%s)", i, tern_pkg_reason_name(r), last_detail);
        s.p[pkg.sig_off + i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    /* The signature of another package by the same key. */
    struct pkgw_params p = base_params;
    p.security_counter = 8;
    struct buf u2 = make_pkg(base_files, BASE_FILES, &p);
    struct buf s2 = sign_with(u2, "signing");
    struct tern_pkg pkg2;
    assert_int_equal(tern_pkg_parse(&pkg2, s2.p, s2.n, &err), TERN_OK);
    struct buf swapped = { NULL, 0 };
    assert_int_equal(pkgw_finish(s.p, pkg.signed_len, key.id, s2.p + pkg2.sig_off, pkg2.sig_len,
                                 &swapped.p, &swapped.n), 0);
    assert_reason(verify_reason(swapped.p, swapped.n, &t), TERN_PKG_R_BAD_SIGNATURE);
    free(swapped.p);
    free(s2.p);
    free(u2.p);
    free(s.p);
    free(u.p);
}

static void test_counter(void **state)
{
    (void)state;
    struct pkgw_params p = base_params;
    p.security_counter = 5;
    struct buf u = make_pkg(base_files, BASE_FILES, &p);
    struct buf s = sign_with(u, "signing");
    struct tern_pkg_key key = trusted("signing");
    struct tern_pkg_trust t = trust_of(&key, 1);
    static const struct {
        uint64_t min;
        enum tern_pkg_reason want;
    } cases[] = {
        { 0, TERN_PKG_R_OK }, { 4, TERN_PKG_R_OK }, { 5, TERN_PKG_R_OK },
        { 6, TERN_PKG_R_COUNTER_TOO_OLD }, { ~0ull, TERN_PKG_R_COUNTER_TOO_OLD },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        t.min_counter = cases[i].min;
        assert_reason(verify_reason(s.p, s.n, &t), cases[i].want);
    }
    free(s.p);
    free(u.p);
    p.security_counter = ~0ull;
    u = make_pkg(base_files, BASE_FILES, &p);
    s = sign_with(u, "signing");
    t.min_counter = ~0ull;
    assert_reason(verify_reason(s.p, s.n, &t), TERN_PKG_R_OK);
    free(s.p);
    free(u.p);
}

static void test_pal_abi(void **state)
{
    (void)state;
    static const struct {
        uint16_t major, minor;
        enum tern_pkg_reason want;      /* against an OS at 2.3 */
    } cases[] = {
        { 2, 3, TERN_PKG_R_OK },          { 2, 0, TERN_PKG_R_OK },
        { 2, 4, TERN_PKG_R_PAL_TOO_NEW }, { 3, 0, TERN_PKG_R_PAL_TOO_NEW },
        { 0xffff, 0, TERN_PKG_R_PAL_TOO_NEW }, { 1, 9, TERN_PKG_R_PAL_TOO_OLD },
        { 0, 0, TERN_PKG_R_PAL_TOO_OLD },
    };
    struct tern_pkg_key key = trusted("signing");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pkgw_params p = base_params;
        p.pal_major = cases[i].major;
        p.pal_minor = cases[i].minor;
        struct buf u = make_pkg(base_files, BASE_FILES, &p);
        struct buf s = sign_with(u, "signing");
        struct tern_pkg_trust t = { &key, 1, 0, 2, 3, false };
        assert_reason(verify_reason(s.p, s.n, &t), cases[i].want);
        free(s.p);
        free(u.p);
    }
}

/* Re-signing replaces the signature and keeps the signed bytes; signing
 * twice with one key gives the same bytes (RFC 6979). */
static void test_resign(void **state)
{
    (void)state;
    struct buf u = make_base();
    struct buf a = sign_with(u, "other");
    struct buf b = sign_with(a, "signing");
    struct buf c = sign_with(u, "signing");
    assert_int_equal(b.n, c.n);
    assert_memory_equal(b.p, c.p, b.n);
    assert_memory_equal(b.p, u.p, pkgw_signed_len(u.p, u.n));
    free(a.p);
    free(b.p);
    free(c.p);
    free(u.p);
}

/* ---- the manifest ---- */

static void test_check_manifest(void **state)
{
    (void)state;
    struct buf b = fixture("pkg/kat/kat.tpk");
    struct tern_pkg pkg;
    struct tern_pkg_error err;
    struct tern_pkg_file f;
    static struct tern_manifest m;
    struct tern_manifest_error merr;
    assert_int_equal(tern_pkg_parse(&pkg, b.p, b.n, &err), TERN_OK);
    assert_int_equal(tern_pkg_find(&pkg, TERN_PKG_MANIFEST_NAME, &f), TERN_OK);
    assert_int_equal(tern_manifest_parse((const char *)f.data, f.size, &m, &merr), TERN_OK);
    assert_int_equal(tern_pkg_check_manifest(&pkg, &m, &err), TERN_OK);
    struct tern_manifest other = m;
    strcpy(other.app_path, "bin/app.elf");
    assert_int_equal(tern_pkg_check_manifest(&pkg, &other, &err), TERN_EINVAL);
    assert_int_equal(err.reason, TERN_PKG_R_NO_APP);
    static const char *const versions[] = { "1.2.3", "1.2.3+5", "1.2.4+4", "2.2.3+4",
                                            "1.3.3+4", "1.2.3+build.4" };
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        other = m;
        strcpy(other.version, versions[i]);
        assert_int_equal(tern_pkg_check_manifest(&pkg, &other, &err), TERN_EINVAL);
        assert_int_equal(err.reason, TERN_PKG_R_VERSION_MISMATCH);
    }
    other = m;
    strcpy(other.version, "1.2.3-rc.1+4");          /* the pre-release is not in the header */
    assert_int_equal(tern_pkg_check_manifest(&pkg, &other, &err), TERN_OK);
    free(b.p);
}

static void test_version_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        tern_result r;
        struct tern_pkg_version v;
    } cases[] = {
        { "1.2.3", TERN_OK, { 1, 2, 3, 0 } },
        { "0.0.0", TERN_OK, { 0, 0, 0, 0 } },
        { "65535.65535.65535+4294967295", TERN_OK, { 65535, 65535, 65535, 4294967295u } },
        { "1.2.3-rc.1", TERN_OK, { 1, 2, 3, 0 } },
        { "1.2.3-rc.1+42", TERN_OK, { 1, 2, 3, 42 } },
        { "1.2.3+build.7", TERN_OK, { 1, 2, 3, 0 } },
        { "1.2.3+4294967296", TERN_OK, { 1, 2, 3, 0 } },
        { "65536.0.0", TERN_EINVAL, { 0, 0, 0, 0 } },
        { "1.2", TERN_EINVAL, { 0, 0, 0, 0 } },
        { "1.2.3.4", TERN_EINVAL, { 0, 0, 0, 0 } },
        { "v1.2.3", TERN_EINVAL, { 0, 0, 0, 0 } },
        { "", TERN_EINVAL, { 0, 0, 0, 0 } },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tern_pkg_version v = { 9, 9, 9, 9 };
        tern_result r = tern_pkg_version_parse(cases[i].text, &v);
        if (r != cases[i].r)
            fail_msg("%s: %s", cases[i].text, tern_result_name(r));
        if (r == TERN_OK && (v.major != cases[i].v.major || v.minor != cases[i].v.minor ||
                             v.patch != cases[i].v.patch || v.build != cases[i].v.build))
            fail_msg("%s: %u.%u.%u+%u", cases[i].text, v.major, v.minor, v.patch, v.build);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_parse),
        cmocka_unit_test(test_key_refused),
        cmocka_unit_test(test_verify_kat),
        cmocka_unit_test(test_unsigned),
        cmocka_unit_test(test_other_key),
        cmocka_unit_test(test_forged_key_id),
        cmocka_unit_test(test_signature_flipped),
        cmocka_unit_test(test_counter),
        cmocka_unit_test(test_pal_abi),
        cmocka_unit_test(test_resign),
        cmocka_unit_test(test_check_manifest),
        cmocka_unit_test(test_version_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
