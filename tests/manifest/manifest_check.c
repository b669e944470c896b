/* manifest-check FILE...: parses each file with tern_manifest_parse and
 * prints "FILE: ok" or "FILE: refused PATH: MSG" (exit 0 when every file
 * was accepted, 1 when any was refused, 2 on a read error). The referee
 * script (json_referee.sh) compares it with python3 -m json.tool. */
#include <stdio.h>
#include <stdlib.h>

#include "tern/manifest.h"

int main(int argc, char **argv)
{
    static char buf[TERN_MANIFEST_MAX_BYTES + 2];
    int status = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (f == NULL) {
            perror(argv[i]);
            return 2;
        }
        size_t len = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        struct tern_manifest m;
        struct tern_manifest_error err;
        tern_result r = tern_manifest_parse(buf, len, &m, &err);
        if (r == TERN_OK) {
            printf("%s: ok\n", argv[i]);
        } else {
            printf("%s: refused %s: %s\n", argv[i], err.path, err.msg);
            status = 1;
        }
    }
    return status;
}
