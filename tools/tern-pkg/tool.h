/*
 * Interface: what the commands of tern-pkg share (docs/packages.md,
 * "tern-pkg"): exit codes, file I/O, messages.
 */
#ifndef TERN_PKG_TOOL_H
#define TERN_PKG_TOOL_H

#include <stddef.h>
#include <stdint.h>

#define EXIT_DONE 0
#define EXIT_INTERNAL 1       /* out of memory, the random generator */
#define EXIT_USAGE 2          /* unknown option, missing argument */
#define EXIT_IO 3             /* a file that cannot be read or written */
#define EXIT_REFUSED 4        /* the package, manifest, app or key is not valid */

/* Prints "tern-pkg: " and the message to stderr; returns code. */
int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads the whole regular file path (at most cap bytes) into a malloc'd
 * buffer. 0, or an exit code after saying why (EXIT_IO, or EXIT_REFUSED
 * when it is larger than cap). */
int read_file(const char *path, size_t cap, uint8_t **data, size_t *len);

/* Writes data to path through a temporary file in the same folder and a
 * rename, with mode (before umask). excl: refuse an existing path. 0 or
 * EXIT_IO after saying why. */
int write_file(const char *path, const void *data, size_t len, unsigned mode, int excl);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void hex(const uint8_t *p, size_t n, char *out);

/* A decimal uint64 argument: 0, or EXIT_USAGE after saying which option. */
int parse_u64(const char *opt, const char *text, uint64_t *out);

/* The commands: argc/argv from the command's name on; each returns an
 * exit code. */
int cmd_keygen(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_install(int argc, char **argv);

/* The manifest inside a verified package into *m, checked against the
 * package, and the app it names checked by the loader's rules. 0 or
 * EXIT_REFUSED after saying why (path names the package). */
struct tern_pkg;
struct tern_manifest;
int check_contents(const struct tern_pkg *pkg, const char *path, struct tern_manifest *m);

/* Reads each trusted public key file into keys[0..n). 0 or an exit code. */
struct tern_pkg_key;
int load_trust(char *const *paths, size_t n, struct tern_pkg_key *keys);

#define MAX_TRUST 16

#endif
