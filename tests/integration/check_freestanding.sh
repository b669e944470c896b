#!/usr/bin/env bash
# core/ and pal/ may include only the freestanding C headers plus
# <string.h>; everything else they need comes from tern headers. This
# catches a hosted include on the Linux build too (the bare-metal build of
# core catches it by failing to compile).
#
# One third-party header is allowed, in one place: <cJSON.h> in
# core/manifest/manifest_priv.h. Each CJSON_H argument (the system's and
# the metal build's copy) is checked to include only allowed headers.
#
# usage: check_freestanding.sh ROOT [CJSON_H...]
set -u
root=$1
shift
allowed='stddef.h|stdint.h|stdbool.h|stdarg.h|limits.h|stdalign.h|stdnoreturn.h|float.h|string.h'
for h in "$@"; do
    [ -f "$h" ] || { echo "check_freestanding: $h not found"; exit 1; }
    hbad=$(grep -nE '^[[:space:]]*#[[:space:]]*include' "$h" | grep -vE "<($allowed)>")
    if [ -n "$hbad" ]; then
        echo "$h includes more than the freestanding headers:"
        echo "$hbad"
        exit 1
    fi
done
bad=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<' "$root/core" "$root/pal" \
        --include='*.c' --include='*.h' --include='*.S' |
      grep -vE "<($allowed)>" |
      grep -vE "^$root/core/manifest/manifest_priv\.h:[0-9]+:#include <cJSON\.h>\$")
if [ -n "$bad" ]; then
    echo "hosted headers in core/ or pal/ (allowed: ${allowed//|/, }):"
    echo "$bad"
    exit 1
fi
# Nor may core call into the C library's hosted parts under another name.
calls=$(grep -rnwE 'malloc|calloc|realloc|free|printf|fprintf|sprintf|snprintf|vsnprintf|exit|abort|getenv|fopen|time|clock_gettime' \
        "$root/core" "$root/pal" --include='*.c' | grep -vE '^\S+:\s*(//|/?\*)' |
        grep -E '\b(malloc|calloc|realloc|free|printf|fprintf|sprintf|snprintf|vsnprintf|exit|abort|getenv|fopen|time|clock_gettime)\s*\(' |
        grep -vE 'tern_[a-z_]*(malloc|calloc|free|printf|snprintf|vsnprintf|exit|abort|time)\s*\(' )
if [ -n "$calls" ]; then
    echo "hosted C library calls in core/ or pal/:"
    echo "$calls"
    exit 1
fi
echo "check_freestanding: core/ and pal/ use only freestanding headers"
