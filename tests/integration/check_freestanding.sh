#!/usr/bin/env bash
# core/ and pal/ may include only the freestanding C headers plus
# <string.h>; everything else they need comes from tern headers. This
# catches a hosted include on the Linux build too (the bare-metal build of
# core catches it by failing to compile).
set -u
root=$1
allowed='stddef.h|stdint.h|stdbool.h|stdarg.h|limits.h|stdalign.h|stdnoreturn.h|float.h|string.h'
bad=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<' "$root/core" "$root/pal" \
        --include='*.c' --include='*.h' --include='*.S' |
      grep -vE "<($allowed)>")
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
