/*
 * tern-pkg verify and inspect, on core's parser and verifier. verify runs
 * everything an OS runs before it loads the app; inspect prints what a
 * package holds and can export the signed bytes and the signature for
 * other tools (openssl).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/loader.h"
#include "tern/manifest.h"
#include "tern/pal.h"
#include "tern/pkg.h"

#include "tool.h"

static const char verify_usage[] =
    "usage: tern-pkg verify [--trust PUB.pem]... [--min-counter N] [--allow-unsigned] PKG.tpk\n"
    "\n"
    "Checks PKG.tpk as the OS does before it runs the app: the package's\n"
    "structure and hashes, a signature by one of the --trust public keys, a\n"
    "security counter of at least N (default 0), the PAL ABI of this build,\n"
    "the manifest and the app it names. --allow-unsigned accepts a package\n"
    "with no signature (development mode; a signed one must still verify).\n"
    "Prints 'ok: ...' (exit 0) or 'refused: REASON: DETAIL' (exit 4).\n";

static const char inspect_usage[] =
    "usage: tern-pkg inspect [--trust PUB.pem]... [--export-signed FILE]\n"
    "                        [--export-signature FILE] PKG.tpk\n"
    "\n"
    "Prints the header, each file (SHA-256, size, name), the security counter,\n"
    "the image hash, the signer's key id and the signature's status (checked\n"
    "only with --trust). --export-signed writes the signed bytes and\n"
    "--export-signature the DER signature, so that\n"
    "  openssl dgst -sha256 -verify PUB.pem -signature SIG SIGNED\n"
    "checks the signature independently.\n";

#define PKG_READ_CAP (TERN_PKG_MAX_PAYLOAD + (1u << 20))

struct opts {
    char *trust[MAX_TRUST];
    size_t ntrust;
    uint64_t min_counter;
    int allow_unsigned;
    const char *export_signed, *export_sig;
    const char *path;
};

/* Options shared by verify and inspect. 0, EXIT_DONE + 100 for --help,
 * or an exit code. */
static int parse_opts(int argc, char **argv, const char *usage, struct opts *o)
{
    static const struct option lopts[] = {
        { "trust", required_argument, NULL, 't' },
        { "min-counter", required_argument, NULL, 'c' },
        { "allow-unsigned", no_argument, NULL, 'u' },
        { "export-signed", required_argument, NULL, 's' },
        { "export-signature", required_argument, NULL, 'g' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c, rc = 0;
    opterr = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        if (c == 't' && o->ntrust == MAX_TRUST)
            rc = fail(EXIT_USAGE, "at most %d --trust keys", MAX_TRUST);
        else if (c == 't')
            o->trust[o->ntrust++] = optarg;
        else if (c == 'c')
            rc = parse_u64("--min-counter", optarg, &o->min_counter);
        else if (c == 'u')
            o->allow_unsigned = 1;
        else if (c == 's')
            o->export_signed = optarg;
        else if (c == 'g')
            o->export_sig = optarg;
        else if (c == 'h')
            return fputs(usage, stdout), EXIT_DONE + 100;
        else
            rc = fail(EXIT_USAGE, "%s: unknown option or missing argument: %s\n%s", argv[0],
                      argv[optind - 1], usage);
    }
    if (rc == 0 && optind != argc - 1)
        rc = fail(EXIT_USAGE, "%s: needs one package\n%s", argv[0], usage);
    if (rc == 0)
        o->path = argv[optind];
    return rc;
}

/* Reads and parses o->path into *data and *pkg. 0 or an exit code. */
static int open_pkg(const struct opts *o, uint8_t **data, struct tern_pkg *pkg)
{
    size_t len;
    int rc = read_file(o->path, PKG_READ_CAP, data, &len);
    if (rc != 0)
        return rc;
    struct tern_pkg_error err;
    if (tern_pkg_parse(pkg, *data, len, &err) != TERN_OK)
        return fail(EXIT_REFUSED, "%s: refused: %s: %s", o->path,
                    tern_pkg_reason_name(err.reason), err.detail);
    return 0;
}

int check_contents(const struct tern_pkg *pkg, const char *path, struct tern_manifest *m)
{
    struct tern_pkg_file f;
    struct tern_manifest_error merr;
    struct tern_pkg_error err;
    struct tern_load_error lerr;
    (void)tern_pkg_find(pkg, TERN_PKG_MANIFEST_NAME, &f);    /* the parser saw it */
    if (tern_manifest_parse((const char *)f.data, (size_t)f.size, m, &merr) != TERN_OK)
        return fail(EXIT_REFUSED, "%s: refused: manifest: %s: %s", path, merr.path, merr.msg);
    if (tern_pkg_check_manifest(pkg, m, &err) != TERN_OK)
        return fail(EXIT_REFUSED, "%s: refused: %s: %s", path, tern_pkg_reason_name(err.reason),
                    err.detail);
    (void)tern_pkg_find(pkg, m->app_path, &f);
    if (tern_app_check(f.data, (size_t)f.size, TERN_PAL_ABI_MAJOR, TERN_PAL_ABI_MINOR, NULL,
                       &lerr) != TERN_OK)
        return fail(EXIT_REFUSED, "%s: refused: app %s: %s", path, m->app_path, lerr.reason);
    return 0;
}

int cmd_verify(int argc, char **argv)
{
    struct opts o = { 0 };
    struct tern_pkg_key keys[MAX_TRUST];
    static struct tern_manifest m;          /* about 15 KiB: not on the stack */
    uint8_t *data = NULL;
    struct tern_pkg pkg;
    int rc = parse_opts(argc, argv, verify_usage, &o);
    if (rc == EXIT_DONE + 100)
        return EXIT_DONE;
    if (rc == 0 && (o.export_signed != NULL || o.export_sig != NULL))
        rc = fail(EXIT_USAGE, "verify: --export-* belong to inspect\n%s", verify_usage);
    if (rc == 0)
        rc = load_trust(o.trust, o.ntrust, keys);
    if (rc == 0)
        rc = open_pkg(&o, &data, &pkg);
    if (rc == 0) {
        struct tern_pkg_trust trust = { keys, o.ntrust, o.min_counter, TERN_PAL_ABI_MAJOR,
                                        TERN_PAL_ABI_MINOR, o.allow_unsigned != 0 };
        struct tern_pkg_error err;
        tern_result r = tern_pkg_verify(&pkg, &trust, &err);
        if (r != TERN_OK)
            rc = fail(r == TERN_ENOMEM ? EXIT_INTERNAL : EXIT_REFUSED, "%s: refused: %s: %s",
                      o.path, tern_pkg_reason_name(err.reason), err.detail);
    }
    if (rc == 0)
        rc = check_contents(&pkg, o.path, &m);
    if (rc == 0) {
        char id[65];
        hex(pkg.key_id, 32, id);
        printf("ok: %s %s, security counter %llu, %s%s\n", m.name, m.version,
               (unsigned long long)pkg.security_counter,
               pkg.is_signed ? "signed by key " : "UNSIGNED (allowed by --allow-unsigned)",
               pkg.is_signed ? id : "");
    }
    free(data);
    return rc;
}

/* The signature's status line for inspect. */
static void print_signature(const struct tern_pkg *pkg, const struct opts *o,
                            const struct tern_pkg_key *keys)
{
    if (!pkg->is_signed) {
        printf("signature: unsigned\n");
        return;
    }
    if (o->ntrust == 0) {
        printf("signature: present (%u bytes), not checked (no --trust)\n",
               (unsigned)pkg->sig_len);
        return;
    }
    struct tern_pkg_trust trust = { keys, o->ntrust, 0, pkg->pal_major, pkg->pal_minor, false };
    struct tern_pkg_error err;
    if (tern_pkg_verify(pkg, &trust, &err) == TERN_OK)
        printf("signature: valid (%u bytes, a trusted key)\n", (unsigned)pkg->sig_len);
    else
        printf("signature: refused: %s: %s\n", tern_pkg_reason_name(err.reason), err.detail);
}

static void print_pkg(const struct tern_pkg *pkg, const struct opts *o,
                      const struct tern_pkg_key *keys)
{
    char h[65];
    printf("package: %s\n", o->path);
    printf("format_version: %u\nheader_size: %u\n", (unsigned)pkg->format_version,
           (unsigned)pkg->header_size);
    printf("version: %u.%u.%u+%u\n", (unsigned)pkg->version.major, (unsigned)pkg->version.minor,
           (unsigned)pkg->version.patch, (unsigned)pkg->version.build);
    printf("pal_abi: %u.%u\n", (unsigned)pkg->pal_major, (unsigned)pkg->pal_minor);
    printf("security_counter: %llu\n", (unsigned long long)pkg->security_counter);
    printf("files: %u (payload %llu bytes)\n", (unsigned)pkg->file_count,
           (unsigned long long)pkg->payload_size);
    for (uint32_t i = 0; i < pkg->file_count; i++) {
        struct tern_pkg_file f;
        (void)tern_pkg_file_at(pkg, i, &f);
        hex(f.sha256, 32, h);
        printf("  %s %10llu %s\n", h, (unsigned long long)f.size, f.name);
    }
    printf("signed_bytes: %llu\n", (unsigned long long)pkg->signed_len);
    hex(pkg->image_sha256, 32, h);
    printf("image_sha256: %s\n", h);
    hex(pkg->key_id, 32, h);
    printf("signer: %s\n", pkg->is_signed ? h : "none");
    print_signature(pkg, o, keys);
}

int cmd_inspect(int argc, char **argv)
{
    struct opts o = { 0 };
    struct tern_pkg_key keys[MAX_TRUST];
    uint8_t *data = NULL;
    struct tern_pkg pkg;
    int rc = parse_opts(argc, argv, inspect_usage, &o);
    if (rc == EXIT_DONE + 100)
        return EXIT_DONE;
    if (rc == 0 && (o.min_counter != 0 || o.allow_unsigned))
        rc = fail(EXIT_USAGE, "inspect: --min-counter and --allow-unsigned belong to verify\n%s",
                  inspect_usage);
    if (rc == 0)
        rc = load_trust(o.trust, o.ntrust, keys);
    if (rc == 0)
        rc = open_pkg(&o, &data, &pkg);
    if (rc == 0)
        print_pkg(&pkg, &o, keys);
    if (rc == 0 && o.export_signed != NULL)
        rc = write_file(o.export_signed, data, (size_t)pkg.signed_len, 0644, 0);
    if (rc == 0 && o.export_sig != NULL && !pkg.is_signed)
        rc = fail(EXIT_REFUSED, "%s: unsigned: no signature to export", o.path);
    else if (rc == 0 && o.export_sig != NULL)
        rc = write_file(o.export_sig, data + pkg.sig_off, pkg.sig_len, 0644, 0);
    free(data);
    return rc;
}
