/* Interface: see tool.h (fail, read_file, write_file, hex, parse_u64). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tern/pkg.h"

#include "tool.h"

int fail(int code, const char *fmt, ...)
{
    va_list ap;
    fputs("tern-pkg: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int read_file(const char *path, size_t cap, uint8_t **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(EXIT_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(EXIT_IO, "%s: not a regular file", path);
    }
    if ((unsigned long long)st.st_size > cap) {
        close(fd);
        return fail(EXIT_REFUSED, "%s: %lld bytes (at most %zu)", path, (long long)st.st_size, cap);
    }
    size_t n = (size_t)st.st_size, got = 0;
    uint8_t *buf = malloc(n > 0 ? n : 1);
    if (buf == NULL) {
        close(fd);
        return fail(EXIT_INTERNAL, "out of memory");
    }
    while (got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k <= 0) {
            int e = k < 0 ? errno : EIO;
            free(buf);
            close(fd);
            return fail(EXIT_IO, "%s: %s", path, k < 0 ? strerror(e) : "file shrank while read");
        }
        got += (size_t)k;
    }
    close(fd);
    *data = buf;
    *len = n;
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int write_file(const char *path, const void *data, size_t len, unsigned mode, int excl)
{
    if (excl && access(path, F_OK) == 0)
        return fail(EXIT_IO, "%s: already exists (not overwritten)", path);
    size_t tl = strlen(path) + 32;
    char *tmp = malloc(tl);
    if (tmp == NULL)
        return fail(EXIT_INTERNAL, "out of memory");
    snprintf(tmp, tl, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
    int rc = 0;
    if (fd < 0) {
        rc = fail(EXIT_IO, "%s: %s", tmp, strerror(errno));
    } else if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        rc = fail(EXIT_IO, "%s: %s", tmp, strerror(errno));
    }
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = fail(EXIT_IO, "%s: %s", tmp, strerror(errno));
    if (rc == 0 && excl && link(tmp, path) != 0)   /* link: fails if path appeared meanwhile */
        rc = fail(EXIT_IO, "%s: %s", path, strerror(errno));
    else if (rc == 0 && !excl && rename(tmp, path) != 0)
        rc = fail(EXIT_IO, "%s: %s", path, strerror(errno));
    if (fd >= 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

void hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int parse_u64(const char *opt, const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0)
        return fail(EXIT_USAGE, "%s: expected a decimal number from 0 to 2^64-1, not '%s'", opt,
                    text);
    *out = v;
    return 0;
}

int load_trust(char *const *paths, size_t n, struct tern_pkg_key *keys)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t *data;
        size_t len;
        int rc = read_file(paths[i], 64 * 1024, &data, &len);
        if (rc != 0)
            return rc;
        struct tern_pkg_error err;
        tern_result r = tern_pkg_key_parse(&keys[i], data, len, &err);
        free(data);
        if (r != TERN_OK)
            return fail(r == TERN_ENOMEM ? EXIT_INTERNAL : EXIT_REFUSED, "%s: %s: %s", paths[i],
                        tern_pkg_reason_name(err.reason), err.detail);
    }
    return 0;
}
