/*
 * Interface: see include/tern/boot_pkg.h (tern_boot_trust_*): the keys a
 * boot trusts and development mode.
 */
#include <string.h>

#include "tern/boot_pkg.h"
#include "tern/fat.h"
#include "tern/fmt.h"
#include "tern/os.h"

#define KEY_FILE_MAX 4096u
#define DEV_FILE_MAX 256u

void tern_boot_key_hex(const uint8_t id[32], char out[TERN_KEY_HEX + 1])
{
    for (unsigned i = 0; i < TERN_KEY_HEX / 2; i++)
        tern_snprintf(out + 2 * i, 3, "%02x", id[i]);
}

tern_result tern_boot_trust_add(struct tern_boot_trust *t, struct tern_os *os, const void *key,
                                size_t len, const char *origin)
{
    struct tern_pkg_key k;
    struct tern_pkg_error err;
    tern_result r = tern_pkg_key_parse(&k, key, len, &err);
    if (r != TERN_OK) {
        t->refused++;
        tern_log(os, TERN_LOG_ERROR, "pkg", "trust: %s refused: %s: %s", origin,
                 tern_pkg_reason_name(err.reason), err.detail);
        return r;
    }
    char hex[TERN_KEY_HEX + 1];
    tern_boot_key_hex(k.id, hex);
    for (unsigned i = 0; i < t->count; i++) {
        if (memcmp(t->keys[i].id, k.id, sizeof k.id) == 0) {
            tern_log(os, TERN_LOG_INFO, "pkg", "trust: key %s (%s) already trusted", hex, origin);
            return TERN_OK;
        }
    }
    if (t->count == TERN_TRUST_MAX) {
        t->refused++;
        tern_log(os, TERN_LOG_ERROR, "pkg", "trust: %s refused: more than %u keys", origin,
                 TERN_TRUST_MAX);
        return TERN_ENOSPC;
    }
    t->keys[t->count++] = k;
    tern_log(os, TERN_LOG_INFO, "pkg", "trust: key %s (%s)", hex, origin);
    return TERN_OK;
}

void tern_boot_trust_builtin(struct tern_boot_trust *t, struct tern_os *os,
                             const struct tern_trust_pem *list)
{
    for (; list && list->pem; list++) {
        if (tern_boot_trust_add(t, os, list->pem, strlen(list->pem), "built-in") != TERN_OK)
            tern_panic(os, "a built-in trusted key does not parse (meson -Dtrusted_keys)");
        if (list->test_only) {
            t->test_key = true;
            tern_log(os, TERN_LOG_WARN, "pkg",
                     "trusting the built-in TEST key: not for production "
                     "(build with -Dtrusted_keys=YOUR.pub.pem)");
        }
    }
}

void tern_boot_trust_dev(struct tern_boot_trust *t, struct tern_os *os, const char *source)
{
    t->allow_unsigned = true;
    t->dev_source = source;
    tern_log(os, TERN_LOG_WARN, "pkg",
             "DEVELOPMENT MODE (%s): unsigned packages and raw manifests run; not for production",
             source);
}

/* A whole small file of fs into buf (cap bytes, NUL added). Its length,
 * or -1 (missing, a directory, larger than cap - 1, unreadable). */
static long read_small(struct tern_fat *fs, const char *path, char *buf, size_t cap)
{
    struct tern_fat_stat st;
    if (tern_fat_stat(fs, path, &st) != TERN_OK || st.is_dir || st.size >= cap)
        return -1;
    struct tern_fat_file f;
    if (tern_fat_open(fs, &f, path, TERN_FAT_READ) != TERN_OK)
        return -1;
    size_t got = 0, n = 1;
    tern_result r = TERN_OK;
    while (r == TERN_OK && got < st.size && n > 0)
        r = tern_fat_read(&f, buf + got, st.size - got, &n), got += n;
    (void)tern_fat_close(&f);
    if (r != TERN_OK || got != st.size)
        return -1;
    buf[got] = '\0';
    return (long)got;
}

/* True when text is {"allow_unsigned": true} with any JSON whitespace
 * between the tokens (and nothing else). */
static bool dev_text_ok(const char *text)
{
    static const char *const tokens[] = { "{", "\"allow_unsigned\"", ":", "true", "}" };
    const char *p = text;
    for (unsigned i = 0; i <= sizeof tokens / sizeof tokens[0]; i++) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (i == sizeof tokens / sizeof tokens[0])
            return *p == '\0';
        size_t n = strlen(tokens[i]);
        if (strncmp(p, tokens[i], n) != 0)
            return false;
        p += n;
    }
    return false;
}

static bool has_pem_suffix(const char *name)
{
    size_t n = strlen(name);
    if (n < 5)
        return false;
    const char *s = name + n - 4;
    return s[0] == '.' && (s[1] | 0x20) == 'p' && (s[2] | 0x20) == 'e' && (s[3] | 0x20) == 'm';
}

static void trust_dir(struct tern_boot_trust *t, struct tern_os *os, struct tern_fat *fs,
                      char *buf)
{
    struct tern_fat_dir d;
    struct tern_fat_stat st;
    if (tern_fat_opendir(fs, &d, TERN_TRUST_DIR) != TERN_OK)
        return;
    for (unsigned i = 0; i < 64 && tern_fat_readdir(&d, &st) == TERN_OK; i++) {
        if (st.is_dir || !has_pem_suffix(st.name))
            continue;
        char path[sizeof TERN_TRUST_DIR + TERN_FAT_NAME_MAX + 1], origin[80];
        tern_snprintf(path, sizeof path, "%s/%s", TERN_TRUST_DIR, st.name);
        tern_snprintf(origin, sizeof origin, "boot:%s", path);
        long n = read_small(fs, path, buf, KEY_FILE_MAX);
        if (n < 0) {
            t->refused++;
            tern_log(os, TERN_LOG_ERROR, "pkg", "trust: %s refused: unreadable or over 4 KiB",
                     origin);
            continue;
        }
        (void)tern_boot_trust_add(t, os, buf, (size_t)n, origin);
    }
}

void tern_boot_trust_volume(struct tern_boot_trust *t, struct tern_os *os, struct tern_fat *fs)
{
    if (fs == NULL)
        return;
    char *buf = tern_alloc(os, KEY_FILE_MAX);
    if (buf == NULL) {
        tern_log(os, TERN_LOG_ERROR, "pkg", "trust: no memory to read %s", TERN_TRUST_DIR);
        return;
    }
    trust_dir(t, os, fs, buf);
    struct tern_fat_stat st;
    if (tern_fat_stat(fs, TERN_DEV_FILE, &st) == TERN_OK) {
        long n = read_small(fs, TERN_DEV_FILE, buf, DEV_FILE_MAX);
        if (n >= 0 && dev_text_ok(buf)) {
            tern_boot_trust_dev(t, os, "boot:" TERN_DEV_FILE);
        } else {
            t->refused++;
            tern_log(os, TERN_LOG_ERROR, "pkg",
                     "%s is not {\"allow_unsigned\": true}: ignored, development mode off",
                     TERN_DEV_FILE);
        }
    }
    tern_free(os, buf);
}
