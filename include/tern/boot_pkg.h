/*
 * Interface: signed workload packages at boot (docs/packages.md, "At
 * boot"; docs/updates.md, "The boot"). One rule for every backend:
 *
 *   struct tern_boot_pkg bp;                           // caller-owned, lives with the OS
 *   tern_boot_pkg_init(&bp, os);
 *   tern_boot_trust_builtin(&bp.trust, os, tern_builtin_keys);  // the image's keys
 *   tern_boot_trust_volume(&bp.trust, os, boot_fs);    // /tern/trust/NAME.pem, /tern/dev.json
 *   tern_boot_trust_add(&bp.trust, os, pem, len, "--trust");    // a backend's own
 *   tern_boot_pkg_open_slots(&bp, data_fs);            // the A/B record, when a data volume
 *   ... tern_workload_resolve with src.pkg = &bp ...
 *
 * Trust: the keys built into the image (meson -Dtrusted_keys), the keys on
 * the boot volume and a backend's own (tern-linux --trust). Development
 * mode (allow_unsigned: tern-linux --allow-unsigned, or /tern/dev.json on
 * the boot volume of an image made with `make image DEV=1`) lets an
 * unsigned package and a raw manifest + ELF run; it is said at WARN and in
 * /status. The built-in TEST key is said at WARN too.
 *
 * Nothing here is global; the package bytes come from the instance heap
 * and stay while the OS runs (the app and /status point into them).
 */
#ifndef TERN_BOOT_PKG_H
#define TERN_BOOT_PKG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tern/manifest.h"
#include "tern/pkg.h"
#include "tern/result.h"
#include "tern/timer.h"
#include "tern/update.h"
#include "tern/decls.h"

TERN_BEGIN_DECLS

struct tern_os;
struct tern_fat;
struct tern_services;

#define TERN_TRUST_MAX 8u                   /* keys one OS trusts */
#define TERN_TRUST_DIR "/tern/trust"        /* on the boot volume: *.pem */
#define TERN_DEV_FILE "/tern/dev.json"      /* on the boot volume: {"allow_unsigned": true} */
#define TERN_BOOT_PKG_MAX (24u << 20)       /* a package file read at boot or by the endpoint */
#define TERN_KEY_HEX 16u                    /* key ids are shown as their first 8 bytes in hex */

/* A key built into the image (the generated trusted_keys.c). */
struct tern_trust_pem {
    const char *pem;                        /* NULL ends the list */
    bool test_only;                         /* the committed TEST key */
};

/* What the generated trusted_keys.c defines: the -Dtrusted_keys list. */
extern const struct tern_trust_pem tern_builtin_keys[];

struct tern_boot_trust {
    struct tern_pkg_key keys[TERN_TRUST_MAX];
    unsigned count;
    bool test_key;                          /* the built-in TEST key is trusted */
    bool allow_unsigned;                    /* development mode */
    const char *dev_source;                 /* what turned it on ("--allow-unsigned", ...) */
    unsigned refused;                       /* keys or dev files refused */
};

/* Adds one PEM or DER public key (tern_pkg_key_parse), logged at INFO
 * with its id and origin; a key already there is not added twice.
 * TERN_OK; TERN_EINVAL (not a P-256 public key: logged at ERROR, counted
 * in t->refused); TERN_ENOSPC (TERN_TRUST_MAX keys already); TERN_ENOMEM. */
tern_result tern_boot_trust_add(struct tern_boot_trust *t, struct tern_os *os, const void *key,
                                size_t len, const char *origin);

/* Adds each built-in key of list (ended by a NULL pem); a test_only one
 * also prints the WARN line "trusting the built-in TEST key: not for
 * production" and sets t->test_key. A built-in key that does not parse
 * is a build error: tern_panic. */
void tern_boot_trust_builtin(struct tern_boot_trust *t, struct tern_os *os,
                             const struct tern_trust_pem *list);

/* The boot volume's part (fs may be NULL): each regular file NAME.pem under
 * /tern/trust (at most 4 KiB each; one that does not parse is logged and
 * skipped), and /tern/dev.json, which turns development mode on only when
 * it is exactly the object {"allow_unsigned": true} (whitespace aside);
 * anything else there is logged at ERROR and changes nothing. */
void tern_boot_trust_volume(struct tern_boot_trust *t, struct tern_os *os, struct tern_fat *fs);

/* Turns development mode on, saying so at WARN with source. */
void tern_boot_trust_dev(struct tern_boot_trust *t, struct tern_os *os, const char *source);

/* The key id as TERN_KEY_HEX hex digits and a NUL. */
void tern_boot_key_hex(const uint8_t id[32], char out[TERN_KEY_HEX + 1]);

/* The OS's update endpoint (update_endpoint.c), on when the manifest's
 * "update" section is given. */
struct tern_update_endpoint {
    struct tern_boot_pkg *bp;
    struct tern_manifest_update cfg;     /* path, token hash, tries */
    bool on;
    const char *off;                     /* why it is off although asked for ("no-slots",
                                            "not-from-a-slot"), or NULL */
    bool busy;                           /* a PUT is being received */
    bool staged;                         /* staged: restarting */
    unsigned slot;                       /* where it was staged */
    uint8_t *buf;                        /* heap: the body so far */
    size_t len, cap;
    struct tern_pkg pkg;                 /* the body, parsed */
    struct tern_manifest *manifest;      /* heap: its manifest */
    struct tern_timer restart;
    struct {
        uint64_t accepted, unauthorized, refused;
    } stats;
};

/* A boot's package state: trust, the A/B record, and what runs. */
struct tern_boot_pkg {
    struct tern_os *os;
    struct tern_boot_trust trust;
    struct tern_fat *data;                  /* the data volume, or NULL */
    struct tern_update update;              /* its record, when have_update */
    bool have_update;
    /* what runs (is_pkg: from a package) */
    bool is_pkg;
    uint8_t *bytes;                         /* heap: the package file */
    size_t len;
    struct tern_pkg pkg;                    /* parsed from bytes */
    unsigned slot;                          /* TERN_SLOT_A/B, or TERN_SLOT_NONE */
    bool trial;                             /* a trial of the pending slot */
    bool confirmed;                         /* this boot confirmed it */
    uint8_t tries_left;
    char key[TERN_KEY_HEX + 1];             /* signer's key id, or "unsigned" */
    /* scratch of the verify callback */
    struct tern_manifest *m;                /* the caller's manifest, filled by verify */
    unsigned kept;                          /* the slot whose bytes are kept */
    unsigned present;                       /* slot files that hold something */
    struct tern_pkg_error err;              /* the last refusal */
    struct tern_update_endpoint endpoint;
};

/* Zeroes bp and sets its instance; slot NONE. */
void tern_boot_pkg_init(struct tern_boot_pkg *bp, struct tern_os *os);

/* Opens the A/B record on the data volume fs (tern_update_open; creates
 * /tern on a fresh volume). TERN_OK (bp->have_update); otherwise the
 * error, logged at WARN, and no slots are used. */
tern_result tern_boot_pkg_open_slots(struct tern_boot_pkg *bp, struct tern_fat *fs);

/* Parses and verifies the package bytes[0..len) (kept by reference) for
 * a boot from source ("file:PATH", "slot-a"): tern_pkg_parse,
 * tern_pkg_verify against bp->trust with min_counter, manifest.json
 * parsed into *m, tern_pkg_check_manifest. TERN_OK; TERN_EINVAL with
 * bp->err and a TERN_PKG_REFUSED line; TERN_ENOMEM. */
tern_result tern_boot_pkg_check(struct tern_boot_pkg *bp, const uint8_t *bytes, size_t len,
                                uint64_t min_counter, const char *source,
                                struct tern_manifest *m);

/* The accepted security counter of the record (0 without one). */
uint64_t tern_boot_pkg_min_counter(const struct tern_boot_pkg *bp);

/* Chooses and reads the slot to boot (tern_update_boot_select: a trial's
 * try is stored before this returns), into bp and *m, printing
 * TERN_UPDATE_ROLLBACK / TERN_UPDATE_TRY and TERN_PKG_OK. TERN_OK;
 * TERN_ENOENT (no slot holds anything: the next source); TERN_EINVAL
 * (slots hold packages but none may boot: refused, with a marker);
 * TERN_EIO (the record could not be stored). */
tern_result tern_boot_pkg_select(struct tern_boot_pkg *bp, struct tern_manifest *m);

/* Prints TERN_PKG_OK for what bp runs (source names it). */
void tern_boot_pkg_announce(struct tern_boot_pkg *bp, const struct tern_manifest *m,
                            const char *source);

/* True while this boot is an unconfirmed trial of a staged slot. Only
 * reads plain fields: safe from a fault path. bp may be NULL. */
bool tern_boot_pkg_on_trial(const struct tern_boot_pkg *bp);

/* The workload's first health check passed (within its deadline): a
 * trial is confirmed (tern_update_confirm: the slot becomes the active,
 * confirmed one and the accepted security counter rises to the
 * package's), and so is an active slot not confirmed yet;
 * TERN_UPDATE_CONFIRMED is printed. Nothing for a package from a file or
 * for the other sources. */
void tern_boot_pkg_healthy(struct tern_boot_pkg *bp);

/* The workload ended with code and reason (as TERN_APP_EXIT says) on the
 * loop's halt path. During an unconfirmed trial the failure is stored
 * (tern_update_fail: rolled back now; the next boot prints
 * TERN_UPDATE_ROLLBACK and runs the confirmed slot), TERN_UPDATE_FAILED is
 * printed and the result is TERN_WORKLOAD_HALT_RESTART: the backend
 * restarts (metal: reset; tern-linux: exit 75 for its supervisor).
 * Otherwise code. A CPU fault or the watchdog cannot come here (no disk
 * writes there): the next boot counts that try instead. */
int tern_boot_pkg_ended(struct tern_boot_pkg *bp, int code, const char *reason);

/* Turns on the update endpoint when m's "update" section is given: an
 * exact route for PUT m->update.path in s's route table (before the app's
 * are added), and the server's body limit raised to TERN_BOOT_PKG_MAX.
 * Needs the data volume's slots (bp->have_update) and s, and a workload
 * booted from a slot: one from source (a --package or --manifest on the
 * command line, the boot volume) would be replaced by nothing, since the
 * next start boots that source again, not the slot an update is staged
 * into. Otherwise off: a WARN line, bp->endpoint.off says why (/status),
 * TERN_OK. TERN_OK; TERN_ENOMEM; TERN_ENOSPC (route table full).
 * docs/updates.md, "The update endpoint". */
tern_result tern_update_endpoint_start(struct tern_boot_pkg *bp, struct tern_services *s,
                                       const struct tern_manifest *m, const char *source);

/* /status members (a tern_http_status_provider): "workload" (source,
 * package, signer, development mode, trusted keys) and "update" (the
 * record). arg is the struct tern_boot_pkg. */
size_t tern_boot_pkg_status(void *arg, char *buf, size_t cap);

TERN_END_DECLS

#endif
