/*
 * tern-pkg keygen and sign. keygen writes a new P-256 key pair; sign
 * signs with a private key (deterministic ECDSA) or attaches a signature
 * made elsewhere, and checks the result with core's verifier before it
 * writes anything.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/pkg.h"

#include "pkg_sign.h"
#include "pkg_write.h"
#include "tool.h"

static const char keygen_usage[] =
    "usage: tern-pkg keygen --private KEY.pem --public PUB.pem\n"
    "\n"
    "Makes a new ECDSA P-256 key pair: KEY.pem, the private key (SEC1 PEM,\n"
    "mode 0600), and PUB.pem, its public key (SubjectPublicKeyInfo PEM), to\n"
    "give to 'verify --trust' and to the OS. Existing files are not\n"
    "overwritten. openssl reads both ('openssl pkey -in KEY.pem').\n";

static const char sign_usage[] =
    "usage: tern-pkg sign --key KEY.pem [-o OUT.tpk] PKG.tpk\n"
    "       tern-pkg sign --signature SIG.der --public PUB.pem [-o OUT.tpk] PKG.tpk\n"
    "\n"
    "Signs PKG.tpk (in place without -o): its signed bytes are kept as they\n"
    "are, and KEY_ID and SIGNATURE are added (replacing a signature it had).\n"
    "With --key the ECDSA P-256 signature is made here, deterministically.\n"
    "With --signature, SIG.der is a DER ECDSA signature made elsewhere (an\n"
    "HSM, or 'openssl dgst -sha256 -sign KEY.pem') over the bytes that\n"
    "'tern-pkg inspect --export-signed' writes; it must verify with PUB.pem.\n";

int cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        { "private", required_argument, NULL, 'k' }, { "public", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
    };
    const char *priv = NULL, *pub = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'k')
            priv = optarg;
        else if (c == 'p')
            pub = optarg;
        else if (c == 'h')
            return fputs(keygen_usage, stdout), EXIT_DONE;
        else
            return fail(EXIT_USAGE, "keygen: unknown option or missing argument: %s\n%s",
                        argv[optind - 1], keygen_usage);
    }
    if (priv == NULL || pub == NULL || optind != argc)
        return fail(EXIT_USAGE, "keygen: needs --private and --public\n%s", keygen_usage);
    struct pkgs_rng rng;
    char priv_pem[1024], pub_pem[1024];
    int rc = 0;
    if (pkgs_rng_init(&rng) != 0 || pkgs_keygen(&rng, priv_pem, pub_pem, sizeof(priv_pem)) != 0)
        rc = fail(EXIT_INTERNAL, "keygen: the random generator or mbedTLS failed");
    pkgs_rng_free(&rng);
    if (rc == 0)
        rc = write_file(priv, priv_pem, strlen(priv_pem), 0600, 1);
    if (rc == 0)
        rc = write_file(pub, pub_pem, strlen(pub_pem), 0644, 1);
    memset(priv_pem, 0, sizeof(priv_pem));
    return rc;
}

/* The package with KEY_ID and SIGNATURE from outside, checked first. */
static int attach(const uint8_t *pkg, size_t len, const char *sig_path, const char *pub_path,
                  struct tern_pkg_key *key, uint8_t **out, size_t *out_len)
{
    uint8_t *sig;
    size_t sig_len;
    int rc = load_trust((char *const *)&pub_path, 1, key);
    if (rc != 0)
        return rc;
    rc = read_file(sig_path, TERN_PKG_SIG_MAX, &sig, &sig_len);
    if (rc != 0)
        return rc;
    uint64_t signed_len = pkgw_signed_len(pkg, len);
    if (pkgw_finish(pkg, (size_t)signed_len, key->id, sig, sig_len, out, out_len) != 0)
        rc = fail(EXIT_INTERNAL, "out of memory");
    free(sig);
    return rc;
}

static int sign_with_key(const uint8_t *pkg, size_t len, const char *key_path,
                         struct tern_pkg_key *key, uint8_t **out, size_t *out_len)
{
    uint8_t *text;
    size_t text_len;
    int rc = read_file(key_path, 64 * 1024, &text, &text_len);
    if (rc != 0)
        return rc;
    mbedtls_pk_context pk;
    struct pkgs_rng rng;
    char why[200] = "no public key";
    if (pkgs_private_key(&pk, text, text_len, why, sizeof(why)) != 0 ||
        pkgs_public_of(&pk, key) != 0)
        rc = fail(EXIT_REFUSED, "%s: %s", key_path, why);
    memset(text, 0, text_len);
    free(text);
    if (rc == 0 && pkgs_rng_init(&rng) != 0)
        rc = fail(EXIT_INTERNAL, "the random generator failed");
    else if (rc == 0) {
        if (pkgs_sign_package(pkg, len, &pk, &rng, out, out_len, why, sizeof(why)) != 0)
            rc = fail(EXIT_INTERNAL, "signing: %s", why);
        pkgs_rng_free(&rng);
    }
    mbedtls_pk_free(&pk);
    return rc;
}

/* The signed package as an OS would take it with key as its one
 * trusted key (counter and PAL ABI aside). */
static int check_signed(const uint8_t *pkg, size_t len, const struct tern_pkg_key *key)
{
    struct tern_pkg p;
    struct tern_pkg_error err;
    tern_result r = tern_pkg_parse(&p, pkg, len, &err);
    if (r == TERN_OK) {
        struct tern_pkg_trust trust = { .keys = key, .key_count = 1,
                                        .pal_major = p.pal_major, .pal_minor = p.pal_minor };
        r = tern_pkg_verify(&p, &trust, &err);
    }
    if (r != TERN_OK)
        return fail(r == TERN_ENOMEM ? EXIT_INTERNAL : EXIT_REFUSED,
                    "the signed package is refused (nothing written): %s: %s",
                    tern_pkg_reason_name(err.reason), err.detail);
    return 0;
}

int cmd_sign(int argc, char **argv)
{
    static const struct option opts[] = {
        { "key", required_argument, NULL, 'k' },       { "signature", required_argument, NULL, 's' },
        { "public", required_argument, NULL, 'p' },    { "output", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },            { NULL, 0, NULL, 0 },
    };
    const char *key = NULL, *sig = NULL, *pub = NULL, *out = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        if (c == 'k')
            key = optarg;
        else if (c == 's')
            sig = optarg;
        else if (c == 'p')
            pub = optarg;
        else if (c == 'o')
            out = optarg;
        else if (c == 'h')
            return fputs(sign_usage, stdout), EXIT_DONE;
        else
            return fail(EXIT_USAGE, "sign: unknown option or missing argument: %s\n%s",
                        argv[optind - 1], sign_usage);
    }
    if (optind != argc - 1 || (key == NULL) == (sig == NULL) || (sig != NULL) != (pub != NULL))
        return fail(EXIT_USAGE, "sign: needs one package and either --key, or --signature "
                    "with --public\n%s", sign_usage);
    const char *in_path = argv[optind];
    uint8_t *pkg, *signed_pkg = NULL;
    size_t len, signed_len = 0;
    int rc = read_file(in_path, TERN_PKG_MAX_PAYLOAD + (1u << 20), &pkg, &len);
    if (rc != 0)
        return rc;
    struct tern_pkg p;
    struct tern_pkg_error err;
    struct tern_pkg_key signer;
    if (tern_pkg_parse(&p, pkg, len, &err) != TERN_OK)
        rc = fail(EXIT_REFUSED, "%s: refused: %s: %s", in_path, tern_pkg_reason_name(err.reason),
                  err.detail);
    else if (key != NULL)
        rc = sign_with_key(pkg, len, key, &signer, &signed_pkg, &signed_len);
    else
        rc = attach(pkg, len, sig, pub, &signer, &signed_pkg, &signed_len);
    if (rc == 0)
        rc = check_signed(signed_pkg, signed_len, &signer);
    if (rc == 0)
        rc = write_file(out != NULL ? out : in_path, signed_pkg, signed_len, 0644, 0);
    free(pkg);
    free(signed_pkg);
    return rc;
}
