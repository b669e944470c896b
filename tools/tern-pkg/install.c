/*
 * tern-pkg install: writes a package into a Tern disk image's A/B slot,
 * offline, with core's GPT, FAT and update code (docs/updates.md,
 * "Installing"): the data partition (the first GPT partition that is not
 * the ESP and holds a FAT volume; the whole image without a GPT), the slot
 * the OS would install into, the package written, read back and verified,
 * then staged as pending (a trial at the next boot), or, on a volume with
 * no package yet, made the active, confirmed slot.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sector_io.h"
#include "tern/blockdev.h"
#include "tern/boot_pkg.h"
#include "tern/fat.h"
#include "tern/gpt.h"
#include "tern/manifest.h"
#include "tern/pal.h"
#include "tern/pkg.h"
#include "tern/update.h"

#include "tool.h"

static const char install_usage[] =
    "usage: tern-pkg install [--trust PUB.pem]... [--allow-unsigned] [--tries N]\n"
    "                        [--sector 512|4096] DISK.img PKG.tpk\n"
    "\n"
    "Writes PKG.tpk into the inactive A/B slot of the Tern disk image DISK.img\n"
    "(its data partition's /tern), reads it back and verifies it, then stages it:\n"
    "the next boot tries it (N trial boots, default 3) and keeps it once its\n"
    "health check passes. On a volume with no package yet it becomes the\n"
    "active, confirmed slot at once. The package must verify against the\n"
    "--trust keys (default: the keys built into this build's OS image) and the\n"
    "security counter the volume has accepted.\n";

#define CACHE_SLOTS 64u


struct install {
    const char *disk, *path;
    char *trust[MAX_TRUST];
    size_t ntrust;
    struct tern_pkg_key keys[MAX_TRUST + TERN_TRUST_MAX];
    size_t nkeys;
    int allow_unsigned;
    uint64_t tries;
    uint32_t sector;
    struct linux_image_file im;
    struct tern_bdev dev;
    void *cache;
    struct tern_fat fs;
    bool mounted;
    struct tern_update u;
    struct tern_manifest m;
};

static int parse_opts(struct install *in, int argc, char **argv)
{
    static const struct option lopts[] = {
        { "trust", required_argument, NULL, 't' },
        { "allow-unsigned", no_argument, NULL, 'u' },
        { "tries", required_argument, NULL, 'n' },
        { "sector", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c, rc = 0;
    uint64_t v;
    opterr = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
        if (c == 't' && in->ntrust == MAX_TRUST)
            rc = fail(EXIT_USAGE, "at most %d --trust keys", MAX_TRUST);
        else if (c == 't')
            in->trust[in->ntrust++] = optarg;
        else if (c == 'u')
            in->allow_unsigned = 1;
        else if (c == 'n' && (rc = parse_u64("--tries", optarg, &in->tries)) == 0 &&
                 (in->tries == 0 || in->tries > TERN_UPDATE_TRIES_MAX))
            rc = fail(EXIT_USAGE, "--tries wants 1-%u", TERN_UPDATE_TRIES_MAX);
        else if (c == 's' && (rc = parse_u64("--sector", optarg, &v)) == 0) {
            if (v != 512 && v != 4096)
                rc = fail(EXIT_USAGE, "--sector wants 512 or 4096");
            in->sector = (uint32_t)v;
        } else if (c == 'h')
            return fputs(install_usage, stdout), EXIT_DONE + 100;
        else if (c != 'n' && c != 's')
            rc = fail(EXIT_USAGE, "install: unknown option or missing argument: %s\n%s",
                      argv[optind - 1], install_usage);
    }
    if (rc == 0 && optind != argc - 2)
        rc = fail(EXIT_USAGE, "install: needs DISK.img and PKG.tpk\n%s", install_usage);
    if (rc == 0) {
        in->disk = argv[optind];
        in->path = argv[optind + 1];
    }
    return rc;
}

/* The --trust keys, or the build's built-in ones. 0 or an exit code. */
static int keys(struct install *in)
{
    if (in->ntrust) {
        in->nkeys = in->ntrust;
        return load_trust(in->trust, in->ntrust, in->keys);
    }
    for (const struct tern_trust_pem *k = tern_builtin_keys; k->pem; k++) {
        struct tern_pkg_error err;
        if (tern_pkg_key_parse(&in->keys[in->nkeys], k->pem, strlen(k->pem), &err) != TERN_OK)
            return fail(EXIT_INTERNAL, "a built-in key does not parse");
        if (k->test_only)
            fprintf(stderr, "tern-pkg: install: trusting the built-in TEST key "
                            "(pass --trust for real keys)\n");
        in->nkeys++;
    }
    return 0;
}

/* Everything the OS checks at boot, with the volume's accepted counter. */
static int verify(struct install *in, const uint8_t *data, size_t len, struct tern_pkg *pkg,
                  const char *what)
{
    struct tern_pkg_error err;
    struct tern_pkg_trust trust = { in->keys, in->nkeys, 0, TERN_PAL_ABI_MAJOR,
                                    TERN_PAL_ABI_MINOR, in->allow_unsigned != 0 };
    if (in->u.have_record)
        trust.min_counter = in->u.state.counter;
    tern_result r = tern_pkg_parse(pkg, data, len, &err);
    if (r == TERN_OK)
        r = tern_pkg_verify(pkg, &trust, &err);
    if (r != TERN_OK)
        return fail(r == TERN_ENOMEM ? EXIT_INTERNAL : EXIT_REFUSED, "%s: refused: %s: %s", what,
                    tern_pkg_reason_name(err.reason), err.detail);
    return check_contents(pkg, what, &in->m);
}

/* The image, its data partition, the volume and the record. */
static int open_volume(struct install *in)
{
    in->im.fd = open(in->disk, O_RDWR);
    struct stat st;
    if (in->im.fd < 0 || fstat(in->im.fd, &st) != 0)
        return fail(EXIT_IO, "%s: cannot open", in->disk);
    in->im.sector_size = in->sector;
    in->im.durable = true;
    uint64_t sectors = (uint64_t)st.st_size / in->sector;
    size_t cache_len = tern_bdev_cache_bytes(in->sector, CACHE_SLOTS);
    in->cache = malloc(cache_len);
    if (in->cache == NULL || tern_bdev_init(&in->dev, &linux_image_ops, &in->im, in->sector, sectors,
                                            false, in->cache, cache_len, CACHE_SLOTS) != TERN_OK)
        return fail(EXIT_INTERNAL, "out of memory");
    static struct tern_gpt g;
    if (tern_gpt_read(&in->dev, &g) != TERN_OK) {
        in->mounted = tern_fat_mount(&in->fs, &in->dev, 0, sectors, false) == TERN_OK;
    } else {
        for (unsigned i = 0; i < g.count && !in->mounted; i++) {
            const struct tern_gpt_part *p = &g.parts[i];
            if (memcmp(&p->type, &TERN_GPT_TYPE_ESP, sizeof p->type) == 0)
                continue;
            in->mounted = tern_fat_mount(&in->fs, &in->dev, p->first_lba,
                                         p->last_lba - p->first_lba + 1, false) == TERN_OK;
        }
    }
    if (!in->mounted)
        return fail(EXIT_REFUSED, "%s: no data partition with a FAT volume", in->disk);
    tern_result r = tern_update_open(&in->u, &in->fs);
    if (r != TERN_OK)
        return fail(EXIT_IO, "%s: the A/B record: %s%s%s", in->disk, tern_result_name(r),
                    in->u.reason ? ": " : "", in->u.reason ? in->u.reason : "");
    return 0;
}

/* Writes data into the slot, reads it back and verifies what is there. */
static int write_slot(struct install *in, unsigned slot, const uint8_t *data, size_t len)
{
    struct tern_fat_file f;
    tern_result r = tern_update_slot_create(&in->u, slot, &f);
    if (r == TERN_OK) {
        r = tern_fat_write(&f, data, len);
        tern_result c = tern_fat_close(&f);
        r = r == TERN_OK ? c : r;
    }
    if (r != TERN_OK)
        return fail(r == TERN_ENOSPC ? EXIT_REFUSED : EXIT_IO, "%s: writing slot %s: %s",
                    in->disk, tern_update_slot_name(slot), tern_result_name(r));
    uint8_t *back = malloc(len ? len : 1);
    size_t got = 0, n = 1;
    r = back ? tern_fat_open(&in->fs, &f, tern_update_slot_path(slot), TERN_FAT_READ) : TERN_ENOMEM;
    while (r == TERN_OK && got < len && n > 0)
        r = tern_fat_read(&f, back + got, len - got, &n), got += n;
    if (back && r != TERN_ENOMEM)
        (void)tern_fat_close(&f);
    struct tern_pkg pkg;
    int rc = r != TERN_OK || got != len ? fail(EXIT_IO, "%s: reading slot %s back", in->disk,
                                               tern_update_slot_name(slot))
                                        : verify(in, back, len, &pkg, "the slot's copy");
    free(back);
    return rc;
}

static int install(struct install *in, const uint8_t *data, size_t len)
{
    struct tern_pkg pkg;
    int rc = verify(in, data, len, &pkg, in->path);
    unsigned slot = TERN_SLOT_NONE;
    tern_result r = TERN_OK;
    if (rc == 0 && (r = tern_update_install_slot(&in->u, &slot)) != TERN_OK)
        rc = fail(EXIT_REFUSED, "%s: no slot to install into: %s", in->disk, tern_result_name(r));
    if (rc == 0)
        rc = write_slot(in, slot, data, len);
    if (rc != 0)
        return rc;
    char id[TERN_UPDATE_ID_MAX], key[TERN_KEY_HEX + 1] = "unsigned";
    if (pkg.is_signed)
        tern_boot_key_hex(pkg.key_id, key);
    int n = snprintf(id, sizeof id, "%s %s key=%s", in->m.name, in->m.version, key);
    size_t id_len = n < (int)sizeof id ? (size_t)n : sizeof id - 1;
    bool first = in->u.state.active == TERN_SLOT_NONE && in->u.state.pending == TERN_SLOT_NONE;
    r = first ? tern_update_adopt(&in->u, slot, pkg.security_counter, (uint8_t *)id, id_len)
              : tern_update_stage(&in->u, slot, (unsigned)in->tries, (uint8_t *)id, id_len);
    if (r != TERN_OK)
        return fail(EXIT_IO, "%s: the A/B record: %s", in->disk, tern_result_name(r));
    printf("installed %s %s (%s) into slot %s of %s: %s\n", in->m.name, in->m.version, key,
           tern_update_slot_name(slot), in->disk,
           first ? "active, confirmed" : "pending: tried at the next boot");
    return 0;
}

int cmd_install(int argc, char **argv)
{
    static struct install in;
    in.sector = 512;
    in.im.fd = -1;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = parse_opts(&in, argc, argv);
    if (rc == EXIT_DONE + 100)
        return EXIT_DONE;
    if (rc == 0)
        rc = keys(&in);
    if (rc == 0)
        rc = read_file(in.path, TERN_BOOT_PKG_MAX, &data, &len);
    if (rc == 0)
        rc = open_volume(&in);
    if (rc == 0)
        rc = install(&in, data, len);
    if (in.mounted && tern_fat_unmount(&in.fs) != TERN_OK && rc == 0)
        rc = fail(EXIT_IO, "%s: flushing the volume", in.disk);
    if (in.im.fd >= 0 && (fsync(in.im.fd) != 0 || close(in.im.fd) != 0) && rc == 0)
        rc = fail(EXIT_IO, "%s: sync", in.disk);
    free(in.cache);
    free(data);
    return rc;
}
