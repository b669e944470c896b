#!/usr/bin/env bash
# Lays out musl's headers for the bare-metal target the way musl's own
# Makefile installs them, from an unpacked musl source tree:
#   OUT/include/          include/*, then arch/generic/bits and
#                         arch/x86_64/bits over it (arch wins), and the
#                         generated bits/alltypes.h and bits/syscall.h
#                         (made with musl's tools/mkalltypes.sed, exactly as
#                         its Makefile does).
# Idempotent: redoes the work only when the source stamp changed.
#
# usage: prepare-musl.sh MUSL_SRC OUT
set -euo pipefail
src=$1
out=$2
stamp="$out/.prepared"
if [ -f "$stamp" ] && cmp -s "$src/.tern-source" "$stamp"; then
    exit 0
fi
rm -rf "$out"
mkdir -p "$out/include/bits"
cp -R "$src/include/." "$out/include/"
rm -f "$out/include/alltypes.h.in"
cp "$src"/arch/generic/bits/*.h "$out/include/bits/"
cp "$src"/arch/x86_64/bits/*.h "$out/include/bits/"
sed -f "$src/tools/mkalltypes.sed" "$src/arch/x86_64/bits/alltypes.h.in" \
    "$src/include/alltypes.h.in" > "$out/include/bits/alltypes.h"
cp "$src/arch/x86_64/bits/syscall.h.in" "$out/include/bits/syscall.h"
sed -n -e 's/__NR_/SYS_/p' < "$src/arch/x86_64/bits/syscall.h.in" >> "$out/include/bits/syscall.h"
cp "$src/.tern-source" "$stamp"
