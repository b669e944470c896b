/*
 * tern-pkg: builds, signs, verifies and inspects Tern workload packages
 * (.tpk), with core's own parser and verifier (core/pkg). See
 * docs/packages.md for the format, the commands and the exit codes:
 *
 *   tern-pkg keygen|build|sign|verify|inspect [--help] ...
 */
#include <stdio.h>
#include <string.h>

#include "tool.h"

static const char usage[] =
    "usage: tern-pkg COMMAND [OPTIONS]\n"
    "\n"
    "Builds, signs, verifies and inspects Tern workload packages (.tpk).\n"
    "\n"
    "commands:\n"
    "  keygen   make a P-256 signing key pair (PEM files)\n"
    "  build    make an unsigned package from a manifest and files\n"
    "  sign     sign a package (with a key, or attach a signature made elsewhere)\n"
    "  verify   check a package as the OS would before running it\n"
    "  inspect  print a package's header, files, hashes and signer\n"
    "  install  write a package into a Tern disk image's A/B slot (offline)\n"
    "\n"
    "'tern-pkg COMMAND --help' describes each. Exit codes: 0 done, 1 internal\n"
    "failure, 2 usage error, 3 I/O error, 4 refused (package, manifest, app or key).\n";

int main(int argc, char **argv)
{
    if (argc < 2)
        return fputs(usage, stderr), EXIT_USAGE;
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0)
        return fputs(usage, stdout), EXIT_DONE;
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } cmds[] = {
        { "keygen", cmd_keygen }, { "build", cmd_build },     { "sign", cmd_sign },
        { "verify", cmd_verify }, { "inspect", cmd_inspect }, { "install", cmd_install },
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (strcmp(cmd, cmds[i].name) == 0)
            return cmds[i].run(argc - 1, argv + 1);
    fail(EXIT_USAGE, "unknown command '%s'", cmd);
    return fputs(usage, stderr), EXIT_USAGE;
}
