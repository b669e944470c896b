/*
 * Interface: workload packages (.tpk, format version 1; the byte layout
 * is in docs/packages.md). One file holds manifest.json, the app it names
 * and the app's other files, a SHA-256 of each file, a security counter,
 * the SHA-256 of the signed bytes and an ECDSA P-256 signature over it.
 *
 *   struct tern_pkg pkg;
 *   struct tern_pkg_error err;
 *   if (tern_pkg_parse(&pkg, bytes, len, &err) != TERN_OK ||
 *       tern_pkg_verify(&pkg, &trust, &err) != TERN_OK)
 *       ... refused: tern_pkg_reason_name(err.reason), err.detail ...
 *   struct tern_pkg_file f;
 *   tern_pkg_find(&pkg, TERN_PKG_MANIFEST_NAME, &f);   ... then the manifest,
 *   tern_pkg_check_manifest(&pkg, &m, &err), tern_pkg_find(&pkg, m.app_path, &f).
 *
 * Parsing reads only the caller's bytes and the stack (no heap, no
 * globals); struct tern_pkg points into those bytes, which must stay
 * unchanged while it is used. Verifying uses mbedTLS, whose bignums come
 * from mbedTLS's allocator (libc hosted, the instance heap on metal) and
 * are freed before it returns. Everything refused is TERN_EINVAL with a
 * reason code and a one-line detail; nothing is partial.
 */
#ifndef TERN_PKG_H
#define TERN_PKG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/result.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

struct tern_manifest;

#define TERN_PKG_MAGIC "\x89TPK\r\n\x1a\n"     /* 8 bytes, no NUL */
#define TERN_PKG_MAGIC_LEN 8u
#define TERN_PKG_FORMAT_VERSION 1u
#define TERN_PKG_HEADER_SIZE 64u                /* what version 1 writes */
#define TERN_PKG_HEADER_MAX 1024u
#define TERN_PKG_ENTRY_SIZE 144u                /* one file table entry */
#define TERN_PKG_NAME_FIELD 128u
#define TERN_PKG_NAME_MAX 127u                  /* bytes of a name, without NUL */
#define TERN_PKG_MAX_FILES 256u
#define TERN_PKG_MAX_PAYLOAD (64u << 20)
#define TERN_PKG_MAX_PROTECTED (16u << 10)
#define TERN_PKG_MAX_UNPROTECTED 256u
#define TERN_PKG_UNPROT_MAGIC "TPKU"             /* 4 bytes, no NUL */
#define TERN_PKG_UNPROT_HEADER 8u               /* magic + u32 size */
#define TERN_PKG_TLV_HEADER 4u                  /* u16 type + u16 length */
#define TERN_PKG_SIG_MIN 8u
#define TERN_PKG_SIG_MAX 72u                    /* DER ECDSA-Sig-Value for P-256 */
#define TERN_PKG_MANIFEST_NAME "manifest.json"

/* Record types. Protected ones (0x00xx) are hashed and signed. */
#define TERN_PKG_TLV_FILE_SHA256 0x0001u        /* u32 index + 32-byte hash */
#define TERN_PKG_TLV_SECURITY_COUNTER 0x0002u   /* u64 */
#define TERN_PKG_TLV_IMAGE_SHA256 0x0101u       /* 32 bytes */
#define TERN_PKG_TLV_KEY_ID 0x0102u             /* 32 bytes */
#define TERN_PKG_TLV_SIGNATURE 0x0103u          /* DER, SIG_MIN..SIG_MAX bytes */
#define TERN_PKG_FILE_SHA256_LEN 36u

/* Header field offsets (docs/packages.md). */
#define TERN_PKG_OFF_HEADER_SIZE 8u
#define TERN_PKG_OFF_FORMAT_VERSION 10u
#define TERN_PKG_OFF_FILE_COUNT 12u
#define TERN_PKG_OFF_PAYLOAD_SIZE 16u
#define TERN_PKG_OFF_PROTECTED_SIZE 24u
#define TERN_PKG_OFF_FLAGS 28u
#define TERN_PKG_OFF_VERSION_MAJOR 32u
#define TERN_PKG_OFF_VERSION_MINOR 34u
#define TERN_PKG_OFF_VERSION_PATCH 36u
#define TERN_PKG_OFF_VERSION_BUILD 40u
#define TERN_PKG_OFF_PAL_MAJOR 44u
#define TERN_PKG_OFF_PAL_MINOR 46u

/* A P-256 public key as DER SubjectPublicKeyInfo is this 26-byte prefix
 * and the 65-byte uncompressed point; the key id is the SHA-256 of it. */
#define TERN_PKG_SPKI_PREFIX_LEN 26u
#define TERN_PKG_POINT_LEN 65u
#define TERN_PKG_SPKI_LEN (TERN_PKG_SPKI_PREFIX_LEN + TERN_PKG_POINT_LEN)

/* Why a package was refused. Stable names: tern_pkg_reason_name. */
enum tern_pkg_reason {
    TERN_PKG_R_OK = 0,
    TERN_PKG_R_BAD_MAGIC,             /* "bad-magic" */
    TERN_PKG_R_UNSUPPORTED_VERSION,   /* "unsupported-version" */
    TERN_PKG_R_TRUNCATED,             /* "truncated" */
    TERN_PKG_R_OVER_CAP,              /* "over-cap" */
    TERN_PKG_R_BAD_HEADER,            /* "bad-header" */
    TERN_PKG_R_BAD_PATH,              /* "bad-path" */
    TERN_PKG_R_DUPLICATE_PATH,        /* "duplicate-path" */
    TERN_PKG_R_UNSORTED,              /* "unsorted" */
    TERN_PKG_R_BAD_LAYOUT,            /* "bad-layout" */
    TERN_PKG_R_NO_MANIFEST,           /* "no-manifest" */
    TERN_PKG_R_BAD_TLV,               /* "bad-tlv" */
    TERN_PKG_R_UNKNOWN_PROTECTED_TLV, /* "unknown-protected-tlv" */
    TERN_PKG_R_UNKNOWN_UNPROTECTED_TLV, /* "unknown-unprotected-tlv" */
    TERN_PKG_R_FILE_HASH,             /* "file-hash" */
    TERN_PKG_R_IMAGE_HASH,            /* "image-hash" */
    TERN_PKG_R_UNSIGNED,              /* "unsigned" */
    TERN_PKG_R_UNKNOWN_KEY,           /* "unknown-key" */
    TERN_PKG_R_BAD_SIGNATURE,         /* "bad-signature" */
    TERN_PKG_R_COUNTER_TOO_OLD,       /* "counter-too-old" */
    TERN_PKG_R_PAL_TOO_NEW,           /* "pal-abi-too-new" */
    TERN_PKG_R_PAL_TOO_OLD,           /* "pal-abi-too-old" */
    TERN_PKG_R_BAD_KEY,               /* "bad-key" */
    TERN_PKG_R_NO_APP,                /* "no-app" */
    TERN_PKG_R_VERSION_MISMATCH,      /* "version-mismatch" */
    TERN_PKG_R_NO_MEMORY,             /* "no-memory" (with TERN_ENOMEM) */
    TERN_PKG_R_COUNT
};

struct tern_pkg_error {
    enum tern_pkg_reason reason;
    char detail[160];                 /* one line, e.g. "file 2 (www/a.css): sha-256 mismatch" */
};

struct tern_pkg_version {
    uint16_t major, minor, patch;
    uint32_t build;
};

/* A parsed package. Flat; data points at the caller's bytes. */
struct tern_pkg {
    const uint8_t *data;
    size_t len;
    uint32_t header_size;
    uint32_t format_version;
    uint32_t file_count;
    uint64_t table_off;               /* == header_size */
    uint64_t payload_off, payload_size;
    uint64_t protected_off;
    uint32_t protected_size;
    uint64_t signed_len;              /* [0, signed_len) is hashed and signed */
    struct tern_pkg_version version;
    uint16_t pal_major, pal_minor;
    uint64_t security_counter;
    uint8_t image_sha256[32];         /* checked against the signed bytes */
    bool is_signed;                   /* KEY_ID and SIGNATURE present */
    uint8_t key_id[32];               /* when is_signed */
    uint64_t sig_off;                 /* the DER signature in data, when is_signed */
    uint32_t sig_len;
};

/* One file of a package; name, data and sha256 point into the package's
 * bytes (name is NUL-terminated there). */
struct tern_pkg_file {
    const char *name;
    size_t name_len;
    const uint8_t *data;
    uint64_t size;
    const uint8_t *sha256;            /* 32 bytes, checked by tern_pkg_parse (not _image) */
    uint32_t index;
};

/* A trusted signer: the uncompressed point (0x04 || X || Y) and its key id. */
struct tern_pkg_key {
    uint8_t point[TERN_PKG_POINT_LEN];
    uint8_t id[32];
};

/* What an OS accepts. keys may be NULL when key_count is 0. */
struct tern_pkg_trust {
    const struct tern_pkg_key *keys;
    size_t key_count;
    uint64_t min_counter;             /* lowest security counter accepted */
    uint16_t pal_major, pal_minor;    /* the OS's PAL ABI (TERN_PAL_ABI_MAJOR/MINOR) */
    bool allow_unsigned;              /* development mode: an unsigned package passes */
};

/* Parses the package in data[0..len) and checks everything that needs no
 * key: header, caps, paths, layout, records, every file's SHA-256 and the
 * image SHA-256 (docs/packages.md, "Checks and reasons", gives the order).
 * TERN_OK with *pkg filled (pointing into data); TERN_EINVAL with
 * err->reason and err->detail, *pkg unspecified. No heap. Needs pkg, err;
 * data may be NULL only when len is 0. */
tern_result tern_pkg_parse(struct tern_pkg *pkg, const void *data, size_t len,
                           struct tern_pkg_error *err);

/* tern_pkg_parse with one SHA-256 pass instead of two: the image hash
 * only, not each file's (what a boot checks, with tern_pkg_verify after
 * it). The signed bytes hold the files, so a matching image hash covers
 * them; a FILE_SHA256 record can then be wrong only as its signer wrote
 * it, which tern_pkg_parse refuses (file-hash) and this accepts. Every
 * refusal is tern_pkg_parse's, with its reason and detail. Same contract
 * otherwise. */
tern_result tern_pkg_parse_image(struct tern_pkg *pkg, const void *data, size_t len,
                                 struct tern_pkg_error *err);

/* File index (0 .. file_count-1, in name order) of a parsed package:
 * TERN_OK with *out; TERN_ENOENT when index is out of range. */
tern_result tern_pkg_file_at(const struct tern_pkg *pkg, uint32_t index,
                             struct tern_pkg_file *out);

/* The file called name (NUL-terminated, exact bytes) in a parsed package,
 * by binary search: TERN_OK with *out; TERN_ENOENT when there is none. */
tern_result tern_pkg_find(const struct tern_pkg *pkg, const char *name,
                          struct tern_pkg_file *out);

/* Reads a P-256 public key, PEM ("-----BEGIN PUBLIC KEY-----", with or
 * without a NUL at the end, at most 1 KiB) or DER SubjectPublicKeyInfo,
 * into *key with its key id. TERN_OK; TERN_EINVAL with reason bad-key for
 * anything else (another curve, RSA, a private key, garbage);
 * TERN_ENOMEM (reason no-memory) when mbedTLS could not allocate. */
tern_result tern_pkg_key_parse(struct tern_pkg_key *key, const void *data, size_t len,
                               struct tern_pkg_error *err);

/* Checks a parsed package against what the OS trusts, in this order:
 * signed (unless trust->allow_unsigned and the package has no signature
 * at all: then this check passes) — unsigned; its KEY_ID among
 * trust->keys — unknown-key; the ECDSA signature of image_sha256 by that
 * key — bad-signature; security_counter >= trust->min_counter —
 * counter-too-old; the PAL ABI — pal-abi-too-new (major above the OS's,
 * or equal major and minor above), pal-abi-too-old (major below).
 * TERN_OK; TERN_EINVAL with err; TERN_ENOMEM (no-memory) when mbedTLS
 * could not allocate. pkg must have come from tern_pkg_parse. */
tern_result tern_pkg_verify(const struct tern_pkg *pkg, const struct tern_pkg_trust *trust,
                            struct tern_pkg_error *err);

/* Ties a package to its parsed manifest (the one in its manifest.json):
 * the app file m->app_path is in the package (no-app) and the header's
 * version is the manifest's, by tern_pkg_version_parse (version-mismatch).
 * TERN_OK or TERN_EINVAL with err. */
tern_result tern_pkg_check_manifest(const struct tern_pkg *pkg, const struct tern_manifest *m,
                                    struct tern_pkg_error *err);

/* The header version of a manifest version "x.y.z[-pre][+build]": x, y
 * and z (each 0..65535), and build when the build metadata is all digits
 * and fits 32 bits (else 0). TERN_OK or TERN_EINVAL (not x.y.z...). */
tern_result tern_pkg_version_parse(const char *text, struct tern_pkg_version *out);

/* The path rule for a file name of len bytes (not NUL-terminated):
 * 1..127 bytes of [A-Za-z0-9._+~-] and '/', relative, no empty, "." or
 * ".." component. The parser applies it to every entry; builders use it
 * to refuse a name before they write it. */
bool tern_pkg_path_ok(const char *name, size_t len);

/* The SHA-256 key id of the P-256 public key with uncompressed point
 * (0x04 || X || Y): the hash of its DER SubjectPublicKeyInfo. */
void tern_pkg_key_id(const uint8_t point[TERN_PKG_POINT_LEN], uint8_t id[32]);

/* A short stable name for r ("bad-magic", ...); never NULL. */
const char *tern_pkg_reason_name(enum tern_pkg_reason r);

TERN_END_DECLS

#endif
