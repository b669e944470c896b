/* Interface: see include/tern/pkg.h (tern_pkg_reason_name). */
#include <stddef.h>

#include "tern/pkg.h"

static const char *const reason_names[TERN_PKG_R_COUNT] = {
    [TERN_PKG_R_OK] = "ok",
    [TERN_PKG_R_BAD_MAGIC] = "bad-magic",
    [TERN_PKG_R_UNSUPPORTED_VERSION] = "unsupported-version",
    [TERN_PKG_R_TRUNCATED] = "truncated",
    [TERN_PKG_R_OVER_CAP] = "over-cap",
    [TERN_PKG_R_BAD_HEADER] = "bad-header",
    [TERN_PKG_R_BAD_PATH] = "bad-path",
    [TERN_PKG_R_DUPLICATE_PATH] = "duplicate-path",
    [TERN_PKG_R_UNSORTED] = "unsorted",
    [TERN_PKG_R_BAD_LAYOUT] = "bad-layout",
    [TERN_PKG_R_NO_MANIFEST] = "no-manifest",
    [TERN_PKG_R_BAD_TLV] = "bad-tlv",
    [TERN_PKG_R_UNKNOWN_PROTECTED_TLV] = "unknown-protected-tlv",
    [TERN_PKG_R_UNKNOWN_UNPROTECTED_TLV] = "unknown-unprotected-tlv",
    [TERN_PKG_R_FILE_HASH] = "file-hash",
    [TERN_PKG_R_IMAGE_HASH] = "image-hash",
    [TERN_PKG_R_UNSIGNED] = "unsigned",
    [TERN_PKG_R_UNKNOWN_KEY] = "unknown-key",
    [TERN_PKG_R_BAD_SIGNATURE] = "bad-signature",
    [TERN_PKG_R_COUNTER_TOO_OLD] = "counter-too-old",
    [TERN_PKG_R_PAL_TOO_NEW] = "pal-abi-too-new",
    [TERN_PKG_R_PAL_TOO_OLD] = "pal-abi-too-old",
    [TERN_PKG_R_BAD_KEY] = "bad-key",
    [TERN_PKG_R_NO_APP] = "no-app",
    [TERN_PKG_R_VERSION_MISMATCH] = "version-mismatch",
    [TERN_PKG_R_NO_MEMORY] = "no-memory",
};

const char *tern_pkg_reason_name(enum tern_pkg_reason r)
{
    if ((unsigned)r >= TERN_PKG_R_COUNT || reason_names[r] == NULL)
        return "unknown";
    return reason_names[r];
}
